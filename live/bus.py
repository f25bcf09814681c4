"""The bus: events published on channels reach every socket that listens on them.

Channels: "chat:12" (the chatter's pages of chat 12), "agent:3" (agent 3's consoles), "shown:12" (the
consoles showing chat 12: its messages and typing go there), "supervisors".

`Bus` is the interface; `Hub`, in this process, is the one implementation while Parley runs as one
process. A bus between processes (Redis pub/sub) implements the same three methods: it sends each
event on (live.events.to_json) and hands what comes back to the hub of its own process.
"""

import threading
from collections import defaultdict
from typing import Protocol

from live.events import Event


class Listener(Protocol):
    def deliver(self, event: Event) -> None:
        """Take `event` without waiting on anything slow (a browser, the database)."""


class Bus(Protocol):
    def subscribe(self, channel: str, listener: Listener) -> None: ...

    def unsubscribe(self, channel: str, listener: Listener) -> int:
        """Stop delivering to `listener`; return how many of this process's listeners are left."""

    def publish(self, channel: str, event: Event) -> None: ...


class Hub:
    """Channels to the sockets of this process that listen on them, behind a lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self._channels = defaultdict(set)

    def subscribe(self, channel, listener):
        with self._lock:
            self._channels[channel].add(listener)

    def unsubscribe(self, channel, listener):
        with self._lock:
            listeners = self._channels.get(channel, set())
            listeners.discard(listener)
            if not listeners:
                self._channels.pop(channel, None)
            return len(listeners)

    def publish(self, channel, event):
        with self._lock:
            targets = list(self._channels.get(channel, ()))
        for listener in targets:  # outside the lock: delivering may write to a browser, or subscribe
            listener.deliver(event)

    def everyone(self):
        """Every listener once, though a console listens on several channels (a second ping in one
        turn would drop it)."""
        with self._lock:
            return {listener for listeners in self._channels.values() for listener in listeners}


hub = Hub()
