"""The agent's console: status, offers and chats in tabs, and what its socket pushes."""

import re

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from data import files, invitations, routing
from data.db import prepared
from data.models import Agent, Chat, Message, Offer, Participant, Profile
from views.files import take_uploads
from views.fragments import append_to, fill, or_page, remove, replace
from views.live import announce
from views.messages import message_html

bp = Blueprint("console", __name__)

MAX_MESSAGE = 5000
TOO_LONG = f"A message can hold at most {MAX_MESSAGE} characters."
EMPTY = "Write a message first."
UNREADABLE = "This message could not be read. Reload the page and try again."
CLIENT_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")  # a page's id for a message it sends over its socket


@bp.before_request
@login_required
def require_login():
    """Every console route needs a signed-in agent."""


@bp.get("/")
def console():
    """Show the console with the agent's status and every chat they hold or are offered."""
    agent = Agent.get_by_id(current_user.id)
    chats = [_chat_context(agent, chat, mode, offer) for chat, mode, offer in console_chats(agent)]
    return render_template("console.html", agent=agent, profiles=agent.allowed_profiles(), chats=chats)


# --- status ---------------------------------------------------------------------------------


@bp.post("/status/logon")
def log_on():
    """Log on with the chosen profile."""
    profile = Profile.get_or_none(Profile.id == request.form.get("profile", type=int))
    if profile is None:
        return _error("Choose one of your profiles.", "status-error")
    return _status_change(lambda agent: routing.log_on(agent, profile))


@bp.post("/status/pause")
def pause():
    """Take no new offers for now."""
    return _status_change(routing.pause)


@bp.post("/status/resume")
def resume():
    """Take offers again."""
    return _status_change(routing.resume)


@bp.post("/status/logoff")
def log_off():
    """Leave the queues; open chats stay."""
    return _status_change(routing.log_off)


def _status_change(change):
    agent = Agent.get_by_id(current_user.id)
    try:
        changes = change(agent)
    except routing.RoutingError as e:
        return _error(str(e), "status-error")
    announce(changes)
    return or_page(status_html(Agent.get_by_id(agent.id)), url_for("console.console"))


def status_html(agent):
    return render_template("partials/status.html", agent=agent, profiles=agent.allowed_profiles())


# --- offers and chats -------------------------------------------------------------------------


@bp.post("/offers/<int:offer_id>/accept")
def accept(offer_id):
    """Take the offered chat."""
    agent = Agent.get_by_id(current_user.id)
    offer = _offer_of(offer_id, agent).first() or abort(404)
    try:
        chat, changes = routing.accept(offer_id, agent)
    except routing.RoutingError as e:
        return _error(str(e), f"alert-{offer.chat_id}", 409)
    announce(changes)
    return controls_html(agent, Chat.get_by_id(chat.id), "active", None)


@prepared
def _offer_of(offer_id, agent):
    return Offer.select().where((Offer.id == offer_id) & (Offer.agent == agent)).limit(1)


@bp.post("/offers/<int:offer_id>/reject")
def reject(offer_id):
    """Give the offered chat back to its queue."""
    agent = Agent.get_by_id(current_user.id)
    offer = _offer_of(offer_id, agent).first() or abort(404)
    try:
        changes = routing.reject(offer_id, agent)
    except routing.RoutingError as e:
        return _error(str(e), f"alert-{offer.chat_id}", 409)
    announce(changes)
    return _out_of_band(remove_tab(offer.chat_id))


@bp.post("/chats/<int:chat_id>/messages")
def send(chat_id):
    """Send the agent's message to the chat."""
    agent, chat = _agent_and_chat(chat_id)
    private = request.form.get("private") == "yes"
    return post_message(
        f"alert-{chat_id}",
        lambda text, saved: routing.post_by_agent(chat, agent, text, private=private, files=saved),
    )


def post_message(alert, post, by_chatter=False):
    """Check the composer's text and files, then `post(text, saved_files)`; errors go to `alert`."""
    text = request.form.get("text", "").strip()
    if len(text) > MAX_MESSAGE:
        return _error(TOO_LONG, alert, 400)
    try:
        saved = take_uploads(request)
    except files.FileRefused as e:
        return _error(f"Nothing was sent. {e}", alert, 400)
    if not text and not saved:
        return _error(EMPTY, alert, 400)
    try:
        changes = post(text, saved)
    except routing.RoutingError as e:
        files.delete(f["token"] for f in saved)
        return _error(str(e), alert, 409)
    announce(changes, by_chatter)
    return "", 204


def socket_message(sent, alert, post, by_chatter=False):
    """Store a message a page sent over its socket, {"text": ..., "key": ...}, with `post(text, key)`.

    Returns what to tell that page: nothing once stored (its own copy comes back as a push, marked
    with the key), else why not, for `alert`, naming the key so the page gives the text back.
    """
    key = sent.get("key") if isinstance(sent, dict) else None
    if not isinstance(key, str) or not CLIENT_KEY.fullmatch(key):
        return _refused(alert, UNREADABLE, None)
    text = sent.get("text")
    text = text.strip() if isinstance(text, str) else ""
    if not text or len(text) > MAX_MESSAGE:
        return _refused(alert, TOO_LONG if text else EMPTY, key)
    try:
        changes = post(text, key)
    except routing.NoSuchChat as e:  # no chat, so no place of its own to say so
        return _refused("status-error", str(e), None)
    except routing.RoutingError as e:
        return _refused(alert, str(e), key)
    announce(changes, by_chatter)
    return ""


def socket_send(session_id, sent):
    """Store a message a console sent over its socket: {"chat": 12, "text": ..., "key": ...,
    "private": false}, as the agent whose session `session_id` is, while that session lasts."""
    chat_id = sent.get("chat") if isinstance(sent, dict) else None
    if type(chat_id) is not int:
        return _refused("status-error", UNREADABLE, None)
    private = sent.get("private") is True
    return socket_message(
        sent,
        f"alert-{chat_id}",
        lambda text, key: routing.post_in_session(chat_id, session_id, text, private=private, key=key),
    )


def _refused(alert, message, key):
    return fill(alert, render_template("partials/error.html", message=message, key=key))


@bp.post("/chats/<int:chat_id>/end")
def end(chat_id):
    """End the chat; while the chatter is still there, ask first."""
    agent, chat = _agent_and_chat(chat_id)
    if chat.chatter_present and request.form.get("confirmed") != "yes":
        return render_template("partials/end_dialog.html", chat=chat)
    try:
        changes = routing.end_chat(chat, agent)
    except routing.RoutingError as e:
        return _error(str(e), f"alert-{chat_id}", 409)
    announce(changes)
    controls = replace(controls_html(agent, Chat.get_by_id(chat_id), "ended", None))
    closed_dialog = replace(f'<div id="dialog-{chat_id}"></div>')
    return _out_of_band(controls + closed_dialog)


@bp.post("/chats/<int:chat_id>/close")
def close(chat_id):
    """Close the chat's tab (its × or Close tab): an offer is rejected, a chat still going ends
    first, and while its chatter is connected, ask first."""
    offer = _pending_offer(current_user.id, chat_id).first()
    if offer is not None:
        return reject(offer.id)
    agent, chat = _agent_and_chat(chat_id, joined=False)
    if chat.state == "active" and _participation(chat_id, agent.id).first() is not None:
        if chat.chatter_present and request.form.get("confirmed") != "yes":
            return render_template("partials/end_dialog.html", chat=chat, then_close=True)
        try:
            announce(routing.end_chat(chat, agent))
        except routing.RoutingError as e:
            return _error(str(e), f"alert-{chat_id}", 409)
    announce(routing.close_tab(chat, agent))
    return _out_of_band(remove_tab(chat_id))


def remove_tab(chat_id):
    """Take the chat's tab (with its ×) and panel out of a console."""
    return remove(f"tab-item-{chat_id}", f"panel-{chat_id}")


def _agent_and_chat(chat_id, joined=True):
    """The signed-in agent and a chat they are in (or were in), else 404."""
    agent = current_user._get_current_object()  # loaded for this request already
    try:
        chat = Chat.get_by_id(chat_id)
    except Chat.DoesNotExist:
        abort(404)
    if (_participation if joined else _participation_ever)(chat_id, agent.id).first() is None:
        abort(404)
    return agent, chat


# on every message an agent sends: compiled once (data.db.prepared)
@prepared
def _participation(chat_id, agent_id):
    where = (Participant.chat == chat_id) & (Participant.agent == agent_id) & Participant.left_at.is_null()
    return Participant.select(Participant.id).where(where).limit(1)


@prepared
def _participation_ever(chat_id, agent_id):
    where = (Participant.chat == chat_id) & (Participant.agent == agent_id)
    return Participant.select(Participant.id).where(where).limit(1)


def _error(message, target, status=400):
    """Show `message` in the element `target` of the page, with a 4xx status."""
    return _out_of_band(fill(target, render_template("partials/error.html", message=message)), status)


def _out_of_band(html, status=200):
    """An answer that only swaps out of band. The socket may have replaced the element that asked
    (an End or Accept button) before the answer arrives; htmx then looks for a target named in the
    answer from that detached element and throws, but skips an out-of-band swap it cannot place."""
    return html, status, {"HX-Reswap": "none"}


# --- what a console shows ---------------------------------------------------------------------


def console_chats(agent):
    """The chats in the agent's console, as (chat, mode, offer): offered, active or ended."""
    items = {}
    for offer in Offer.select().where((Offer.agent == agent) & (Offer.state == "pending")):
        items[offer.chat_id] = (offer.chat, "offer", offer)
    for part in Participant.select().where((Participant.agent == agent) & Participant.closed_at.is_null()):
        items[part.chat_id] = (part.chat, _mode(part), None)
    return [items[k] for k in sorted(items)]


def relation(agent_id, chat_id):
    """How the chat shows in the agent's console now: (mode, offer), mode None for not at all."""
    offer = _pending_offer(agent_id, chat_id).first()
    if offer is not None:
        return "offer", offer
    part = _open_tab(agent_id, chat_id).first()
    return (_mode(part), None) if part is not None else (None, None)


# asked for every change of a chat, by each console that shows it: compiled once (data.db.prepared)
@prepared
def _pending_offer(agent_id, chat_id):
    where = (Offer.agent == agent_id) & (Offer.chat == chat_id) & (Offer.state == "pending")
    return Offer.select().where(where).limit(1)


@prepared
def _open_tab(agent_id, chat_id):
    where = (Participant.agent == agent_id) & (Participant.chat == chat_id) & Participant.closed_at.is_null()
    return Participant.select().where(where).limit(1)


def _mode(part):
    return "active" if part.left_at is None and part.chat.state == "active" else "ended"


def _chat_context(agent, chat, mode, offer):
    return {"chat": chat, "mode": mode, "offer": offer, "messages": Message.for_agents(chat), "agent": agent}


def controls_html(agent, chat, mode, offer):
    return render_template("partials/chat_controls.html", chat=chat, mode=mode, offer=offer, agent=agent)


def invite_status_html(chat):
    return render_template("partials/invite_status.html", chat=chat, pending=invitations.pending(chat))


def typing_html(chat_id, who, private=False):
    """The line under a chat's log that says who is typing; `who` is "chatter" or "agent:<id>"."""
    if who == "chatter":
        name = Chat.get_by_id(chat_id).display_name
    else:
        name = Agent.get_by_id(int(who.split(":")[1])).name
    return render_template("partials/typing.html", chat_id=chat_id, name=name, private=private)


class ConsoleView:
    """What one console's socket sends: tabs that appear and go, messages, status changes."""

    # set by the socket (views.live.Viewer): follow(chat_id, True) as a chat's tab appears, before
    # anything of the chat is read, and follow(chat_id, False) as it goes; from then on the socket
    # hears what only a console showing the chat renders (its messages, typing)
    follow = staticmethod(lambda chat_id, shown: None)

    def __init__(self, agent_id):
        self.agent_id = agent_id
        self.shown = {}  # chat id -> {"seq": last message sent, "mode": controls shown}

    def sync(self, seqs, modes):
        """Bring a (re)connected console up to date from what it holds: last messages, controls."""
        agent = Agent.get_by_id(self.agent_id)
        current = {chat.id: (chat, mode, offer) for chat, mode, offer in console_chats(agent)}
        parts = [replace(status_html(agent))]
        parts += [remove_tab(cid) for cid in seqs if cid not in current]
        for chat_id, (chat, mode, offer) in current.items():
            if chat_id in seqs:
                self.follow(chat_id, True)
                self.shown[chat_id] = {"seq": seqs[chat_id], "mode": modes.get(chat_id)}
                parts.append(self._update(agent, chat, mode, offer))
            else:
                parts.append(self._add(agent, chat, mode, offer))
        return Markup("").join(parts)

    def render(self, event):
        kind, chat_id, *more = event
        if kind == "status":
            return replace(status_html(Agent.get_by_id(self.agent_id)))
        if kind == "log":
            return self._messages(chat_id, *more) if chat_id in self.shown else ""
        if kind == "update":
            return self._updated(chat_id, more[0])
        if kind == "typing":
            return self._typing(chat_id, *more)
        mode, offer = relation(self.agent_id, chat_id)
        if mode is None:
            if self.shown.pop(chat_id, None) is None:
                return ""
            self.follow(chat_id, False)
            return remove_tab(chat_id)
        agent = Agent.get_by_id(self.agent_id)
        chat = Chat.get_by_id(chat_id)
        if chat_id not in self.shown:
            return self._add(agent, chat, mode, offer)
        return self._update(agent, chat, mode, offer)

    def _add(self, agent, chat, mode, offer):
        self.follow(chat.id, True)
        context = _chat_context(agent, chat, mode, offer)
        context["messages"] = list(context["messages"])
        last = context["messages"][-1].seq if context["messages"] else 0
        self.shown[chat.id] = {"seq": last, "mode": mode}
        tab = render_template("partials/chat_tab.html", **context)
        panel = render_template("partials/chat_panel.html", **context)
        return append_to("tabs", tab) + append_to("panels", panel)

    def _update(self, agent, chat, mode, offer):
        shown = self.shown[chat.id]
        parts = [
            replace(render_template("partials/tab_label.html", chat=chat, mode=mode)),
            replace(render_template("partials/details.html", chat=chat)),
            replace(invite_status_html(chat)),
        ]
        if shown["mode"] != mode:
            shown["mode"] = mode
            parts.append(replace(controls_html(agent, chat, mode, offer)))
        parts.append(self._messages(chat.id))
        return Markup("").join(parts)

    def _messages(self, chat_id, fresh=()):
        shown = self.shown[chat_id]
        if fresh and fresh[0].seq == shown["seq"] + 1:  # just stored, next in line: no need to read
            messages = fresh
        else:
            messages = list(Message.for_agents(chat_id, after=shown["seq"]))
        if not messages:
            return ""
        shown["seq"] = messages[-1].seq
        return append_to(f"log-{chat_id}", "".join(message_html(m, "agent") for m in messages))

    def _updated(self, chat_id, seq):
        """Re-render a message this console already shows (a question once answered)."""
        if chat_id not in self.shown or seq > self.shown[chat_id]["seq"]:
            return ""
        message = Message.for_agents(chat_id).where(Message.seq == seq).first()
        return replace(message_html(message, "agent")) if message else ""

    def _typing(self, chat_id, who, private):
        if chat_id not in self.shown or who == f"agent:{self.agent_id}":
            return ""
        return replace(typing_html(chat_id, who, private))
