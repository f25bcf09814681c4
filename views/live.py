"""The socket endpoints of the three kinds of page: each picks who may connect, the page's view, and
what the page may tell the server over its socket. live/sockets.py runs the socket itself."""

from flask import Blueprint
from flask_login import current_user
from flask_sock import Sock

from data import participants, presence, routing
from data.db import connection
from live import sockets
from live.announce import announce, publish_typing
from views.admin import SupervisorView
from views.chat import ChatView, chat_from_cookie
from views.chat import socket_send as chatter_sends
from views.compose import typing_of
from views.console import ConsoleView
from views.console import socket_send as agent_sends

bp = Blueprint("live", __name__)
bp.before_request(sockets.check_upgrade)
sock = Sock()


@sock.route("/ws/console", bp=bp)
def console_socket(ws):
    """Push the agent's offers, chats and status to their console."""
    if not current_user.is_authenticated:
        return
    agent_id = current_user.id
    session_id = current_user.get_id()
    announce(presence.seen([agent_id]))  # back at once, if it was away

    def on_notice(notice):
        if "send" in notice:
            return agent_sends(session_id, notice["send"])
        chat_id, private = typing_of(notice)
        if chat_id is not None and participants.is_participant(chat_id, agent_id):
            publish_typing(chat_id, f"agent:{agent_id}", private)

    sockets.serve(ws, ConsoleView(agent_id), on_notice=on_notice)


@sock.route("/ws/admin", bp=bp)
def supervisor_socket(ws):
    """Push the live view of queues, chats and agents to a supervisor."""
    if not current_user.is_authenticated or not current_user.supervisor:
        return
    sockets.serve(ws, SupervisorView())


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
        if typing_of(notice)[0] is not None:
            publish_typing(chat.id, "chatter", False)

    def on_last_close():
        with connection():
            changes = routing.chatter_away(chat)
        announce(changes)

    sockets.serve(ws, ChatView(chat), on_notice, on_last_close)
