"""What the bus carries: one small type per kind of change, saying *what* changed, never how it shows.

Each socket's view renders what its page lacks from the database, so an event needs no more than ids.
Every event turns into JSON and back (`to_json`, `from_json`), so a bus between processes can carry
it unchanged; what only helps inside this process (a Log's `fresh`) stays behind.
"""

import json
from dataclasses import dataclass, field, fields


@dataclass(frozen=True, slots=True)
class Log:
    """New messages in a chat. `fresh`: those just stored, whole, when this process stored them: a
    view whose page holds everything before them shows them without reading them back."""

    chat_id: int
    fresh: tuple = field(default=(), metadata={"local": True})


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


def to_json(event):
    """The event as JSON, e.g. '["Updated", 12, 5]'."""
    values = [getattr(event, f.name) for f in fields(event) if not f.metadata.get("local")]
    return json.dumps([type(event).__name__, *values])


def from_json(text):
    """The event `to_json` wrote."""
    name, *values = json.loads(text)
    return KINDS[name](*values)
