"""Posting a message, from the console and the chat page alike: over HTTP (the composer's form, files)
or the page's socket; refusals and errors shown in the page's alert; who is typing."""

import re

from flask import render_template, request

from data import files
from data.changes import NoSuchChat, RoutingError
from data.checks import MAX_INTEGER
from data.models import Agent, Chat
from live.announce import announce
from views.files import take_uploads
from views.fragments import fill
from views.socket_limits import too_many_messages

MAX_MESSAGE = 5000
TOO_LONG = f"A message can hold at most {MAX_MESSAGE} characters."
EMPTY = "Write a message first."
UNREADABLE = "This message could not be read. Reload the page and try again."
CLIENT_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")  # a page's id for a message it sends over its socket


def post_message(alert, chat_id, post, by_chatter=False):
    """Check the composer's text, files and key, then `post(text, saved_files, key)`; errors go to
    `alert`. The key, as on the socket, stores a message sent twice (a double POST) once."""
    text = request.form.get("text", "").strip()
    key = request.form.get("key") or None
    if key is not None and not CLIENT_KEY.fullmatch(key):
        return error(UNREADABLE, alert, 400)
    if len(text) > MAX_MESSAGE:
        return error(TOO_LONG, alert, 400)
    try:
        saved = take_uploads(request, chat_id)
    except files.FileRefused as e:
        return error(f"Nothing was sent. {e}", alert, 400)
    if not text and not saved:
        return error(EMPTY, alert, 400)
    try:
        changes = post(text, saved, key)
    except RoutingError as e:
        files.delete(f["token"] for f in saved)
        return error(str(e), alert, 409)
    if not changes.fresh:  # its key was stored already: the files of this copy are not needed
        files.delete(f["token"] for f in saved)
    announce(changes, by_chatter)
    return "", 204


def socket_message(sent, alert, post, by_chatter=False, *, sender):
    """Store a message a page sent over its socket, {"text": ..., "key": ...}, with `post(text, key)`.

    Returns what to tell that page: nothing once stored (its own copy comes back as a push, marked
    with the key), else why not, for `alert`, naming the key so the page gives the text back.
    `sender` ("chat:12", "agent:3"): whose messages count against PARLEY_LIMIT_SOCKET_MESSAGES.
    """
    key = sent.get("key") if isinstance(sent, dict) else None
    if not isinstance(key, str) or not CLIENT_KEY.fullmatch(key):
        return refused(alert, UNREADABLE, None)
    too_many = too_many_messages(sender)
    if too_many:
        return refused(alert, too_many, key)
    text = sent.get("text")
    text = text.strip() if isinstance(text, str) else ""
    if not text or len(text) > MAX_MESSAGE:
        return refused(alert, TOO_LONG if text else EMPTY, key)
    try:
        changes = post(text, key)
    except NoSuchChat as e:  # no chat, so no place of its own to say so
        return refused("status-error", str(e), None)
    except RoutingError as e:
        return refused(alert, str(e), key)
    announce(changes, by_chatter)
    return ""


def refused(alert, message, key):
    """Say in `alert` why a message sent over the socket was not stored; `key` names it to the page."""
    return fill(alert, render_template("partials/error.html", message=message, key=key))


def error(message, target, status=400):
    """Show `message` in the element `target` of the page, with a 4xx status."""
    return out_of_band(fill(target, render_template("partials/error.html", message=message)), status)


def out_of_band(html, status=200):
    """An answer that only swaps out of band. The socket may have replaced the element that asked
    (an End or Accept button) before the answer arrives; htmx then looks for a target named in the
    answer from that detached element and throws, but skips an out-of-band swap it cannot place."""
    return html, status, {"HX-Reswap": "none"}


def typing_of(notice):
    """A typing notice, {"typing": chat id, "private": bool} -> (chat id, private); (None, False) for
    anything else (1e309, a number no chat has, a string)."""
    chat_id = notice.get("typing")
    if type(chat_id) is not int or not 0 < chat_id <= MAX_INTEGER:
        return None, False
    return chat_id, notice.get("private") is True


def typing_html(chat_id, who, private=False):
    """The line under a chat's log that says who is typing; `who` is "chatter" or "agent:<id>"."""
    if who == "chatter":
        name = Chat.get_by_id(chat_id).display_name
    else:
        name = Agent.get_by_id(int(who.split(":")[1])).name
    return render_template("partials/typing.html", chat_id=chat_id, name=name, private=private)
