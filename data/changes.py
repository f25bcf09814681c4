"""What every rule of the data layer returns (Changes: what the web layer must push, after the commit)
and raises (RoutingError: why not, in words for the person who asked)."""

from dataclasses import dataclass, field


class RoutingError(Exception):
    """A request that cannot be done; its text is shown to the person who asked."""


class NoSuchChat(RoutingError):
    """A message for a chat that is not (or no longer) there."""


class SignedOut(RoutingError):
    """A message from a console whose session ended (signed out elsewhere, the account disabled)."""


@dataclass
class Changes:
    chats: set = field(default_factory=set)  # chats whose state changed
    logs: set = field(default_factory=set)  # chats with new messages
    agents: set = field(default_factory=set)  # agents whose status changed
    queues: set = field(default_factory=set)  # queues whose waiting line moved
    updated: set = field(default_factory=set)  # (chat, seq) of messages changed after posting
    # chat -> messages just posted, complete as stored: pages can show them without reading them back
    fresh: dict = field(default_factory=dict)

    def merge(self, other):
        for name in ("chats", "logs", "agents", "queues", "updated", "fresh"):
            getattr(self, name).update(getattr(other, name))
        return self

    def chat(self, chat):
        self.chats.add(chat.id)
        self.queues.add(chat.queue_id)
