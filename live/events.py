"""What the bus carries: one small type per kind of change, saying *what* changed, never how it shows.

Each socket's view renders what its page lacks from the database, so an event needs no more than ids.
Every event turns into JSON and back (`to_json`, `from_json`), so a bus between processes can carry
it unchanged. A Log also carries the plain messages just stored, so that another process's views
need not read back what this one already has (a round trip per socket on PostgreSQL).
"""

import json
from dataclasses import dataclass, fields
from datetime import datetime

from data.models import Agent, Chat, Message


@dataclass(frozen=True, slots=True)
class Log:
    """New messages in a chat. `fresh`: those just stored, whole, when they were stored by a page: a
    view whose page holds everything before them shows them without reading them back."""

    chat_id: int
    fresh: tuple = ()


@dataclass(frozen=True, slots=True)
class ChatChanged:
    """A chat's state changed (offered, joined, ended, its place in line)."""

    chat_id: int


@dataclass(frozen=True, slots=True)
class Updated:
    """A message already shown changed (a question once answered)."""

    chat_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class Status:
    """An agent's status changed (logged on, paused, an offer missed)."""

    agent_id: int


@dataclass(frozen=True, slots=True)
class Live:
    """Queues, chats or agents changed: the supervisors' live view is stale."""


@dataclass(frozen=True, slots=True)
class MailStatus:
    """A transcript mail of the chat was sent, or failed, or waits for a retry."""

    chat_id: int


@dataclass(frozen=True, slots=True)
class Inbox:
    """How many messages left for an agent nobody has handled changed (the console's Messages link)."""

    agent_id: int


@dataclass(frozen=True, slots=True)
class Typing:
    """Someone types in a chat: `who` is "chatter" or "agent:<id>"; a private draft is for agents only."""

    chat_id: int
    who: str
    private: bool


@dataclass(frozen=True, slots=True)
class Goto:
    """The pages that hear it go to `path` (an agent whose account was disabled: the sign-in page)."""

    path: str


@dataclass(frozen=True, slots=True)
class SessionsEnded:
    """Every session of the agent before `version` ended (signed out, a new password, disabled): the
    pages opened with one close and go to the sign-in page."""

    agent_id: int
    version: int


@dataclass(frozen=True, slots=True)
class Rights:
    """The agent is a supervisor now, or no longer: the supervisor pages they opened close."""

    agent_id: int
    supervisor: bool


Event = (
    Log | ChatChanged | Updated | Status | Live | MailStatus | Inbox | Typing | Goto | SessionsEnded | Rights
)
KINDS = {kind.__name__: kind for kind in Event.__args__}


def to_json(event, agents_only=False):
    """The event as JSON, e.g. '["Updated", 12, 5]'. A Log's fresh messages go along if each is
    plain text (files and options are read where they are shown), and a private one only on a
    channel that is for agents alone (`agents_only`): else the Log goes without them."""
    if type(event) is Log:
        fresh = event.fresh
        if any(m.kind != "text" or m.file_count or (m.private and not agents_only) for m in fresh):
            fresh = ()
        return json.dumps(["Log", event.chat_id, [_row(m) for m in fresh]])
    return json.dumps([type(event).__name__, *(getattr(event, f.name) for f in fields(event))])


def from_json(text):
    """The event `to_json` wrote."""
    name, *values = json.loads(text)
    if name == "Log":
        chat_id, rows = values
        return Log(chat_id, tuple(_message(chat_id, *row) for row in rows))
    return KINDS[name](*values)


def _row(m):
    """What a view shows of a plain message, and the name of whoever sent it."""
    name = m.chat.chatter_name if m.sender == "chatter" else m.agent.name if m.agent_id else None
    at = m.created_at.isoformat()
    return [m.id, m.seq, at, m.sender, m.agent_id, name, m.text, m.private, m.client_key]


def _message(chat_id, id, seq, at, sender, agent_id, name, text, private, key):  # noqa: A002 - a column
    chatter = Chat(id=chat_id, chatter_name=name if sender == "chatter" else None)
    agent = Agent(id=agent_id, name=name) if agent_id else None
    return Message(
        id=id, chat=chatter, seq=seq, created_at=datetime.fromisoformat(at), sender=sender, agent=agent,
        text=text, private=private, kind="text", file_count=0, client_key=key,
    )  # fmt: skip
