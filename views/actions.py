"""The agent's chat actions: predefined messages, option menus and invitations."""

from flask import Blueprint, render_template, request
from flask_login import login_required

from data import actions, invitations
from data.changes import RoutingError
from data.checks import whole_number
from data.models import Agent, Queue
from live.announce import announce
from views.compose import error, out_of_band
from views.console import agent_and_chat, invite_status_html, remove_tab
from views.fragments import replace

bp = Blueprint("actions", __name__)


@bp.before_request
@login_required
def require_login():
    """Every chat action needs a signed-in agent."""


@bp.get("/chats/<int:chat_id>/predefined")
def predefined(chat_id):
    """List the predefined messages of the chat's queue, placeholders filled in."""
    agent, chat = agent_and_chat(chat_id)
    items = [(p.title, actions.fill(p.text, chat, agent)) for p in actions.predefined_for(chat)]
    return render_template("partials/predefined_list.html", chat=chat, items=items)


@bp.get("/chats/<int:chat_id>/options")
def options_form(chat_id):
    """Show the form to ask the chatter a question with options."""
    agent, chat = agent_and_chat(chat_id)
    sets = list(actions.option_sets_for(chat))
    return render_template("partials/options_form.html", chat=chat, sets=sets, question="", options=["", ""])


@bp.post("/chats/<int:chat_id>/options")
def offer_options(chat_id):
    """Send the question with its options to the chatter."""
    agent, chat = agent_and_chat(chat_id)
    question = request.form.get("question", "")
    options = request.form.getlist("option")
    try:
        changes = actions.offer_options(chat, agent, question, options)
    except RoutingError as e:
        sets = list(actions.option_sets_for(chat))
        context = {"chat": chat, "sets": sets, "question": question, "options": options or ["", ""]}
        return render_template("partials/options_form.html", error=str(e), **context), 400
    announce(changes)
    return ""


@bp.get("/chats/<int:chat_id>/invite")
def invite_form(chat_id):
    """Show the form to invite a colleague, or anyone in a queue, into the chat."""
    agent, chat = agent_and_chat(chat_id)
    return _invite_form(chat)


def _invite_form(chat, problem=None, status=200, note=""):
    context = {
        "chat": chat,
        "pending": invitations.pending(chat),
        "invitees": list(invitations.invitees(chat)),
        "queues": list(invitations.queue_choices()),
        "error": problem,
        "note": note,
        "note_max": invitations.NOTE_MAX,
    }
    return render_template("partials/invite_form.html", **context), status


@bp.post("/chats/<int:chat_id>/invite")
def invite(chat_id):
    """Send the invitation; only one may be pending in a chat at a time."""
    agent, chat = agent_and_chat(chat_id)
    kind, _, ident = request.form.get("invitee", "").partition(":")
    ident = whole_number(ident)
    invitee = Agent.get_or_none(Agent.id == ident) if kind == "agent" and ident is not None else None
    queue = Queue.get_or_none(Queue.id == ident) if kind == "queue" and ident is not None else None
    if invitee is None and queue is None:
        return _invite_form(chat, "Choose whom to invite.", 400)
    stay = request.form.get("stay") == "yes"
    note = request.form.get("note", "")
    try:
        changes = invitations.invite(chat, agent, invitee=invitee, queue=queue, stay=stay, note=note)
    except RoutingError as e:
        return _invite_form(chat, str(e), 400 if isinstance(e, invitations.BadNote) else 409, note)
    announce(changes)
    return replace(invite_status_html(agent, chat))


@bp.post("/chats/<int:chat_id>/invitation/cancel")
def cancel_invitation(chat_id):
    """Take back the chat's pending invitation: its offer disappears from the invitee's console."""
    return _conference_change(
        chat_id, invitations.cancel_pending, lambda agent, chat: replace(invite_status_html(agent, chat))
    )


@bp.post("/chats/<int:chat_id>/leave")
def leave(chat_id):
    """Leave a chat the other agents in it go on with; its tab closes on every console of the agent."""
    return _conference_change(chat_id, invitations.leave_chat, lambda agent, chat: remove_tab(chat_id))


def _conference_change(chat_id, change, answer):
    """Make `change(chat, agent)` and answer with the out-of-band swaps `answer(agent, chat)`, or 409."""
    agent, chat = agent_and_chat(chat_id)
    try:
        changes = change(chat, agent)
    except RoutingError as e:
        return error(str(e), f"alert-{chat_id}", 409)
    announce(changes)
    return out_of_band(answer(agent, chat))
