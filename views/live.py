"""The socket endpoints of the three kinds of page: each picks who may connect, the page's view, and
what the page may tell the server over its socket. live/sockets.py runs the socket itself."""

from flask import Blueprint
from flask_login import current_user
from flask_sock import Sock

from data import participants, presence, routing
from data.db import connection
from live import sockets
from live.announce import announce, publish_typing
from live.bus import hub
from live.sessions import NOT_SUPERVISOR, SIGNED_OUT, Session
from views.admin import SupervisorView
from views.auth import session_deadlines
from views.chat import chat_from_cookie
from views.chat import socket_send as chatter_sends
from views.chat_view import ChatView
from views.compose import typing_of
from views.console import ConsoleView
from views.console import socket_send as agent_sends
from views.socket_limits import may_type

bp = Blueprint("live", __name__)
bp.before_request(sockets.check_upgrade)
sock = Sock()
MAX_PRIVATE = 100  # chats whose private composer one console's socket keeps in mind


@sock.route("/ws/console", bp=bp)
def console_socket(ws):
    """Push the agent's offers, chats and status to their console."""
    if not current_user.is_authenticated:
        return sockets.refuse(ws, SIGNED_OUT)
    agent_id = current_user.id
    session_id = current_user.get_id()
    private = set()  # the chats whose composer is private, as this page last said or sent
    announce(presence.seen([agent_id]))  # back at once, if it was away

    def on_notice(notice):
        if "send" in notice:
            _note_private(private, notice["send"])
            return agent_sends(session_id, notice["send"])
        if "composer" in notice:
            return _note_private(private, notice)
        chat_id, said_private = _typing(notice)
        if may_type(f"agent:{agent_id}", chat_id) and participants.is_participant(chat_id, agent_id):
            # the server's own knowledge of the composer decides; the notice may only add privacy
            publish_typing(chat_id, f"agent:{agent_id}", said_private or chat_id in private)

    sockets.serve(
        ws, ConsoleView(agent_id), on_notice=on_notice, session=_session(), tab_of=f"console:{session_id}"
    )


@sock.route("/ws/admin", bp=bp)
def supervisor_socket(ws):
    """Push the live view of queues, chats and agents to a supervisor."""
    if not current_user.is_authenticated:
        return sockets.refuse(ws, SIGNED_OUT)
    if not current_user.supervisor:
        return sockets.refuse(ws, NOT_SUPERVISOR)
    tab = f"admin:{current_user.get_id()}"
    sockets.serve(ws, SupervisorView(), session=_session(supervisor=True), tab_of=tab)


@sock.route("/chat/<slug>/ws", bp=bp)
def chat_socket(ws, slug):
    """Push the chatter's messages and the chat's state to their page."""
    chat = chat_from_cookie(slug)
    if chat is None:
        return
    announce(routing.chatter_back(chat))

    def on_notice(notice):
        if "send" in notice:
            return chatter_sends(chat, notice["send"])
        chat_id, _ = _typing(notice)
        if chat_id is not None and may_type(f"chat:{chat.id}", chat.id):
            publish_typing(chat.id, "chatter", False)

    def on_last_close():
        if hub.heard_elsewhere(f"chat:{chat.id}"):
            return  # the chatter still has a page open, on another process
        with connection():
            changes = routing.chatter_away(chat)
        announce(changes)

    sockets.serve(ws, ChatView(chat), on_notice, on_last_close, tab_of=f"chat:{chat.id}")


def _session(supervisor=False):
    """The signed-in agent's session, for the socket that lives by it."""
    ends, idle_from = session_deadlines()
    agent_id, version = current_user.session_parts(current_user.get_id())
    return Session(agent_id, version, ends, idle_from, supervisor)


def _typing(notice):
    """The chat of a typing notice and whether it says it is private; any other notice is unreadable."""
    chat_id, private = typing_of(notice)
    if chat_id is None:
        raise sockets.Unreadable
    return chat_id, private


def _note_private(private, notice):
    """Keep whether the composer of a chat is private: {"composer": 12, "private": true}, or a message
    sent ({"chat": 12, "private": true, ...})."""
    chat_id = notice.get("composer", notice.get("chat")) if isinstance(notice, dict) else None
    if type(chat_id) is int and (chat_id in private or len(private) < MAX_PRIVATE):
        (private.add if notice.get("private") is True else private.discard)(chat_id)
