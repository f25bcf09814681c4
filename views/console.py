"""The agent's console: status, offers and chats in tabs, and what its socket pushes."""

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from data import invitations, left_messages, participants, posting, routing
from data.changes import RoutingError
from data.checks import MAX_INTEGER, whole_number
from data.db import prepared
from data.models import Agent, Chat, Message, Offer, Participant, Profile
from live.announce import announce
from live.events import ChatChanged, Goto, Log, Status, Typing, Updated
from views.compose import UNREADABLE, error, out_of_band, post_message, refused, socket_message, typing_html
from views.fragments import append_to, goto, or_page, remove, replace
from views.messages import message_html

bp = Blueprint("console", __name__)


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
    profile = Profile.get_or_none(Profile.id == whole_number(request.form.get("profile")))
    if profile is None:
        return error("Choose one of your profiles.", "status-error")
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


@bp.post("/status/mute")
def mute():
    """Turn the offers' sound off ("muted" given) or on, for this agent in every browser."""
    muted = bool(request.form.get("muted"))
    Agent.update(sound_muted=muted).where(Agent.id == current_user.id).execute()
    return render_template("partials/mute.html", agent=Agent.get_by_id(current_user.id))


def _status_change(change):
    agent = Agent.get_by_id(current_user.id)
    try:
        changes = change(agent)
    except RoutingError as e:
        return error(str(e), "status-error")
    announce(changes)
    return or_page(status_html(Agent.get_by_id(agent.id)), url_for("console.console"))


def status_html(agent):
    return render_template("partials/status.html", agent=agent, profiles=agent.allowed_profiles())


def messages_link_html(agent):
    """The top bar's link to the messages left (views/left_messages.py), with how many are unhandled."""
    count = left_messages.unhandled_count(agent)
    return Markup(render_template("partials/messages_link.html", count=count))


# --- offers and chats -------------------------------------------------------------------------


@bp.post("/offers/<int:offer_id>/accept")
def accept(offer_id):
    """Take the offered chat."""
    agent = Agent.get_by_id(current_user.id)
    offer = _offer_of(offer_id, agent).first() or abort(404)
    try:
        chat, changes = routing.accept(offer_id, agent)
    except RoutingError as e:
        return error(str(e), f"alert-{offer.chat_id}", 409)
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
    except RoutingError as e:
        return error(str(e), f"alert-{offer.chat_id}", 409)
    announce(changes)
    return out_of_band(remove_tab(offer.chat_id))


@bp.post("/chats/<int:chat_id>/messages")
def send(chat_id):
    """Send the agent's message to the chat."""
    agent, chat = agent_and_chat(chat_id)
    private = request.form.get("private") == "yes"
    return post_message(
        f"alert-{chat_id}",
        chat_id,
        lambda text, saved, key: posting.post_by_agent(
            chat, agent, text, private=private, files=saved, key=key
        ),
    )


def socket_send(session_id, sent):
    """Store a message a console sent over its socket: {"chat": 12, "text": ..., "key": ...,
    "private": false}, as the agent whose session `session_id` is, while that session lasts."""
    chat_id = sent.get("chat") if isinstance(sent, dict) else None
    if type(chat_id) is not int or not 0 < chat_id <= MAX_INTEGER:
        return refused("status-error", UNREADABLE, None)
    private = sent.get("private") is True
    return socket_message(
        sent,
        f"alert-{chat_id}",
        lambda text, key: posting.post_in_session(chat_id, session_id, text, private=private, key=key),
        sender=f"agent:{session_id.partition('.')[0]}:{chat_id}",  # an agent's rate is per chat
    )


@bp.post("/chats/<int:chat_id>/end")
def end(chat_id):
    """End the chat; while the chatter is still there, ask first."""
    agent, chat = agent_and_chat(chat_id)
    if chat.chatter_present and request.form.get("confirmed") != "yes":
        return render_template("partials/end_dialog.html", chat=chat)
    try:
        changes = routing.end_chat(chat, agent)
    except RoutingError as e:
        return error(str(e), f"alert-{chat_id}", 409)
    announce(changes)
    controls = replace(controls_html(agent, Chat.get_by_id(chat_id), "ended", None))
    closed_dialog = replace(f'<div id="dialog-{chat_id}"></div>')
    return out_of_band(controls + closed_dialog)


@bp.post("/chats/<int:chat_id>/close")
def close(chat_id):
    """Close the chat's tab (its × or Close tab): an offer is rejected, a chat still going ends
    first, and while its chatter is connected, ask first."""
    offer = _pending_offer(current_user.id, chat_id).first()
    if offer is not None:
        return reject(offer.id)
    agent, chat = agent_and_chat(chat_id, joined=False)
    if chat.state == "active" and participants.is_participant(chat_id, agent.id):
        if chat.chatter_present and request.form.get("confirmed") != "yes":
            return render_template("partials/end_dialog.html", chat=chat, then_close=True)
        try:
            announce(routing.end_chat(chat, agent))
        except RoutingError as e:
            return error(str(e), f"alert-{chat_id}", 409)
    announce(routing.close_tab(chat, agent))
    return out_of_band(remove_tab(chat_id))


def remove_tab(chat_id):
    """Take the chat's tab (with its ×) and panel out of a console."""
    return remove(f"tab-item-{chat_id}", f"panel-{chat_id}")


def agent_and_chat(chat_id, joined=True):
    """The signed-in agent and a chat they are in (or were in), else 404."""
    agent = current_user._get_current_object()  # loaded for this request already
    try:
        chat = Chat.get_by_id(chat_id)
    except Chat.DoesNotExist:
        abort(404)
    if not participants.is_participant(chat_id, agent.id, ever=not joined):
        abort(404)
    return agent, chat


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
    context = {
        "chat": chat,
        "mode": mode,
        "offer": offer,
        "messages": Message.for_agents(chat),
        "agent": agent,
    }
    return context | _conference(agent, chat, mode)


def controls_html(agent, chat, mode, offer):
    return render_template("partials/chat_controls.html", chat=chat, mode=mode, offer=offer, agent=agent)


def invite_status_html(agent, chat, mode="active"):
    """The chat's pending invitation, with Cancel invitation and Leave chat for an agent in it."""
    return render_template(
        "partials/invite_status.html", chat=chat, mode=mode, **_conference(agent, chat, mode)
    )


def _conference(agent, chat, mode):
    """What the invite status shows: the pending invitation, whether the agent may leave."""
    if mode != "active":
        return {"pending": None, "may_leave": False}
    return {"pending": invitations.pending(chat), "may_leave": invitations.others_in(chat, agent)}


class ConsoleView:
    """What one console's socket sends: tabs that appear and go, messages, status changes
    (live.page.View)."""

    def __init__(self, agent_id):
        self.agent_id = agent_id
        self.shown = {}  # chat id -> {"seq": last message sent, "mode": controls shown}
        self._follow = None

    def channels(self):
        return [f"agent:{self.agent_id}"]

    def listen(self, follow):
        """The console hears "shown:<chat>" while it shows the chat's tab: its messages and typing."""
        self._follow = follow

    def sync(self, seqs, modes):
        """Bring a (re)connected console up to date from what it holds: last messages, controls."""
        agent = Agent.get_by_id(self.agent_id)
        current = {chat.id: (chat, mode, offer) for chat, mode, offer in console_chats(agent)}
        parts = [replace(status_html(agent)), replace(messages_link_html(agent))]
        parts += [remove_tab(cid) for cid in seqs if cid not in current]
        for chat_id, (chat, mode, offer) in current.items():
            if chat_id in seqs:
                self._show(chat_id, seqs[chat_id], modes.get(chat_id))
                parts.append(self._update(agent, chat, mode, offer))
            else:
                parts.append(self._add(agent, chat, mode, offer))
        return Markup("").join(parts)

    def render(self, event):
        match event:
            case Log(chat_id, fresh):
                return self._messages(chat_id, fresh) if chat_id in self.shown else ""
            case Typing(chat_id, who, private):
                return self._typing(chat_id, who, private)
            case Updated(chat_id, seq):
                return self._updated(chat_id, seq)
            case ChatChanged(chat_id):
                return self._changed(chat_id)
            case Status():
                return replace(status_html(Agent.get_by_id(self.agent_id)))
            case Goto(path):
                return goto(path)
        return ""

    def _show(self, chat_id, seq, mode):
        """Start showing the chat, hearing of it before anything of it is read."""
        self._follow(f"shown:{chat_id}", True)
        self.shown[chat_id] = {"seq": seq, "mode": mode}

    def _changed(self, chat_id):
        mode, offer = relation(self.agent_id, chat_id)
        if mode is None:
            if self.shown.pop(chat_id, None) is None:
                return ""
            self._follow(f"shown:{chat_id}", False)
            return remove_tab(chat_id)
        agent = Agent.get_by_id(self.agent_id)
        chat = Chat.get_by_id(chat_id)
        if chat_id not in self.shown:
            return self._add(agent, chat, mode, offer)
        return self._update(agent, chat, mode, offer)

    def _add(self, agent, chat, mode, offer):
        self._follow(f"shown:{chat.id}", True)
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
            replace(invite_status_html(agent, chat, mode)),
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
