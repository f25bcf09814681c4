"""Messages left when nobody could answer: the chatter leaves one, agents read, reply and handle them.

The chat page offers the form (views/chat.py, partials/leave_message.html and leave_offer.html);
this module takes it, serves /messages to agents who hold the queue and to supervisors, the
messages' files, the organisation's log of them, and the queue's availability for the widget.
"""

import json
import threading
import time

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from data import availability, files, left_messages
from data.admin import Invalid
from data.changes import RoutingError
from data.checks import whole_number
from data.db import connection
from data.left_models import LeftFile, LeftMessage
from data.models import Queue, now
from live.announce import announce
from live.bus import hub
from live.events import ChatChanged, Inbox
from live.timers import mail_queued
from views.auth import supervisor_required
from views.chat import _queue_or_404, _show, _verified, chat_from_cookie
from views.chat_view import leave_offer_html
from views.console import messages_link_html
from views.files import serve, take_uploads
from views.fragments import fill, or_page, replace

bp = Blueprint("left", __name__)

PAGE_SIZE = 50


# --- the chatter ------------------------------------------------------------------------------------


@bp.post("/chat/<slug>/leave")
def leave(slug):
    """Leave a message for the queue's team, from the pre-chat page or instead of waiting on."""
    chat = chat_from_cookie(slug)
    queue = chat.queue if chat is not None else _queue_or_404(slug)
    form = {key: request.form.get(key, "") for key in ("name", "email", "text", "identity", "page")}
    who = _verified(form["identity"])
    if who:  # what the host site vouches for wins over anything typed
        form.update(name=who.name or form["name"], email=who.email or form["email"])
    try:
        name, email, text = left_messages.check(form["name"], form["email"], form["text"])
        saved = take_uploads(request, None)  # no chat: only the disk's floor
    except Invalid as e:
        return _refused(queue, chat, form, e.errors, who)
    except files.FileRefused as e:
        return _refused(queue, chat, form, {"files": f"Nothing was sent. {e}"}, who)
    try:
        message, changes = left_messages.leave(queue, name, email, text, saved, chat=chat)
    except RoutingError as e:  # an agent took the chat meanwhile: the composer comes back, and why
        files.delete(f["token"] for f in saved)
        gone = replace(leave_offer_html(chat, "")) + fill("chat-alert", f'<p class="error">{escape(e)}</p>')
        return gone, 409, {"HX-Reswap": "none"}
    announce(changes)
    notify(queue.id)
    if queue.email:
        mail_queued()
    if "HX-Request" not in request.headers:  # a plain form POST: the page says it arrived
        session[f"left_{slug}"] = message.email
        return redirect(url_for("chat.page", slug=slug), 303)
    if chat is not None:  # out of band: the page's socket may have put the confirmation in place first
        return replace(leave_offer_html(chat, "sent")), 200, {"HX-Reswap": "none"}
    return _show(queue, left=message.email)


def _refused(queue, chat, form, errors, who, status=400):
    """The form again with what was wrong: in the waiting chat, or as the pre-chat page."""
    if chat is not None and chat.state != "ended":
        return leave_offer_html(chat, availability.offer_mode(chat) or "nobody", form, errors), status
    return _show(queue, status=status, errors=errors, form=form, verified=who)


@bp.post("/chat/<slug>/keep-waiting")
def keep_waiting(slug):
    """Wait on in the queue rather than leave a message: the offer goes away."""
    chat = chat_from_cookie(slug) or abort(403, "This chat is not yours, or it has expired.")
    availability.keep_waiting(chat)
    return or_page(leave_offer_html(chat, ""), url_for("chat.page", slug=slug))


@bp.get("/chat/<slug>/availability")
def queue_availability(slug):
    """Say whether the queue takes chats now, for the widget on host sites (any origin may ask)."""
    queue = _queue_or_404(slug)
    state = availability.of(queue)
    opens_at = state.opens_at.strftime("%Y-%m-%dT%H:%M:%SZ") if state.opens_at else None
    body = {
        "open": state.open,
        "staffed": state.staffed,
        "takes_chats": state.takes_chats,
        "opens_at": opens_at,
    }
    response = Response(json.dumps(body), mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-store"
    return response


# --- agents: the Messages page ----------------------------------------------------------------------


@bp.get("/messages")
@login_required
def index():
    """List the messages left in the agent's queues (all of them for supervisors), newest first."""
    agent = current_user._get_current_object()
    only_open = request.args.get("show") == "unhandled"
    messages = left_messages.visible_to(agent)
    if only_open:
        messages = messages.where(LeftMessage.handled_at.is_null())
    page = max(1, whole_number(request.args.get("page")) or 1)
    total = messages.count()
    shown = list(messages.paginate(page, PAGE_SIZE))
    return render_template(
        "messages.html",
        agent=agent,
        messages=shown,
        only_open=only_open,
        page=page,
        total=total,
        size=PAGE_SIZE,
        errors={},
        draft="",
    )


def _message_or_404(message_id):
    """A message left that the signed-in agent may read; anything else is not there for them."""
    return left_messages.visible_or_none(current_user, message_id) or abort(404)


@bp.post("/messages/<int:message_id>/reply")
@login_required
def reply(message_id):
    """Send the agent's reply to the chatter by e-mail."""
    message = _message_or_404(message_id)
    try:
        left_messages.reply(message, current_user, request.form.get("reply", ""))
    except Invalid as e:
        return _answer(message, e.errors, request.form.get("reply", "")), 400
    mail_queued()
    return _answer(message)


@bp.post("/messages/<int:message_id>/handled")
@login_required
def handled(message_id):
    """Mark the message handled by the agent."""
    message = _message_or_404(message_id)
    left_messages.mark_handled(message, current_user)
    notify(message.queue_id)
    return _answer(message)


@bp.get("/messages/<int:message_id>/replies")
@login_required
def replies(message_id):
    """The message's replies with what became of each mail (the page asks again while one is on its way)."""
    return render_template("partials/left_replies.html", message=_message_or_404(message_id))


def _answer(message, errors=None, draft=""):
    """The message again, as it is now; for a plain form POST the page."""
    fresh = LeftMessage.get_by_id(message.id)
    html = Markup(render_template("partials/left_message.html", m=fresh, errors=errors or {}, draft=draft))
    if errors:
        return html
    return or_page(
        html + replace(messages_link_html(current_user)), url_for("left.index") + f"#left-{message.id}"
    )


@bp.get("/messages/files/<token>")
@login_required
def download(token):
    """Serve a file of a message left to an agent who may read the message."""
    left_file = LeftFile.get_or_none(LeftFile.token == token) or abort(404)
    _message_or_404(left_file.left_message_id)
    return serve(left_file)


def notify(queue_id):
    """The unhandled count changed for those who read the queue's messages: their consoles show it again."""
    for agent_id in left_messages.concerned_agents(queue_id):
        hub.publish(f"agent:{agent_id}", Inbox(agent_id))


# --- supervisors: the organisation's log of them ----------------------------------------------------


@bp.get("/logs/messages")
@supervisor_required
def log():
    """Every message left, newest first, with its replies and who handled it (supervisors)."""
    queue_id, messages = _logged()
    total = messages.count()
    last = max(1, -(-total // PAGE_SIZE))  # a page past the last (or too big a number): the last
    page = max(1, min(whole_number(request.args.get("page")) or 1, last))
    return render_template(
        "messages.html",
        agent=current_user,
        messages=list(messages.paginate(page, PAGE_SIZE)),
        total=total,
        page=page,
        size=PAGE_SIZE,
        readonly=True,
        queues=Queue.select().order_by(Queue.name),
        queue_id=queue_id,
        errors={},
    )


@bp.get("/logs/messages.json")
@supervisor_required
def log_export():
    """Download every message left (of one queue, if chosen) as JSON."""
    _, messages = _logged()
    body = json.dumps([left_messages.record(m) for m in messages], ensure_ascii=False, indent=2)
    headers = {"Content-Disposition": f'attachment; filename="messages-left-{now():%Y%m%d-%H%M}.json"'}
    return Response(body, mimetype="application/json", headers=headers)


def _logged():
    """For a supervisor: the queue chosen (or None) and the messages left there (or anywhere)."""
    queue_id = whole_number(request.args.get("queue"))
    messages = left_messages.visible_to(current_user)
    if queue_id:
        messages = messages.where(LeftMessage.queue == queue_id)
    return queue_id, messages


# --- the longest wait -------------------------------------------------------------------------------


def start_wait_watch(app, every=1.0):
    """Tell each waiting chat's page when its queue's longest wait runs out, so it offers the form."""

    def loop():
        since = now()
        while True:
            time.sleep(every)
            until = now()
            try:
                with connection():
                    for chat_id in availability.past_longest_wait(since, until):
                        hub.publish(f"chat:{chat_id}", ChatChanged(chat_id))
                since = until
            except Exception:  # noqa: BLE001 - the watch must outlive any one failure
                app.logger.exception("watching the longest waits failed")

    threading.Thread(target=loop, name="parley-longest-wait", daemon=True).start()
