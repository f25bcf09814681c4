"""The bus: events published on channels reach every socket that listens on them.

Channels: "chat:12" (the chatter's pages of chat 12), "agent:3" (agent 3's consoles), "shown:12" (the
consoles showing chat 12: its messages and typing go there), "supervisors".

`Bus` is the interface; `Hub`, in this process, implements it. With several processes the hub has a
relay (live/redis_bus.py, Redis pub/sub): what the hub publishes reaches its own listeners at once and
goes on to the other processes as JSON (live.events.to_json), whose relays hand it to their hub's
`deliver`. The relay hears a channel while this process has a listener on it.
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


class Relay(Protocol):
    """The bus between processes that a hub hands its events to (live/redis_bus.py)."""

    def hear(self, channel: str) -> None:
        """Hear the other processes' events on `channel`; back once Redis confirms, so that what the
        caller reads next of the channel's subject misses nothing said meanwhile."""

    def forget(self, channel: str) -> None:
        """Stop hearing `channel` if this process has no listener on it any more."""

    def send(self, channel: str, event: Event) -> None:
        """Hand `event` to the other processes, without waiting on them."""

    def elsewhere(self, channel: str) -> bool:
        """Whether another process has a listener on `channel` (this one has none left)."""

    def unheard(self, channels: list[str]) -> set[str]:
        """Those of `channels` that no process hears (none, when Redis cannot tell)."""


class Hub:
    """Channels to the sockets of this process that listen on them, behind a lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self._channels = defaultdict(set)
        self.relay = None  # a Relay when PARLEY_BUS_URL names one

    def subscribe(self, channel, listener):
        with self._lock:
            self._channels[channel].add(listener)
        if self.relay is not None:
            self.relay.hear(channel)

    def unsubscribe(self, channel, listener):
        with self._lock:
            listeners = self._channels.get(channel, set())
            listeners.discard(listener)
            if not listeners:
                self._channels.pop(channel, None)
            left = len(listeners)
        if not left and self.relay is not None:
            self.relay.forget(channel)
        return left

    def heard_elsewhere(self, channel):
        """Whether a listener of another process listens on `channel` (never, without a relay)."""
        return self.relay is not None and self.relay.elsewhere(channel)

    def unheard_anywhere(self, channels):
        """Those of `channels` no process hears; without a relay none: this process's sockets say
        themselves when they close."""
        return self.relay.unheard(channels) if self.relay is not None else set()

    def listened(self, channel):
        """Whether a listener of this process listens on `channel`."""
        with self._lock:
            return channel in self._channels

    def channels(self):
        """The channels this process's listeners listen on."""
        with self._lock:
            return list(self._channels)

    def publish(self, channel, event):
        if self.relay is not None:  # first: the other processes' sockets need not wait for ours
            self.relay.send(channel, event)
        self.deliver(channel, event)

    def deliver(self, channel, event):
        """Hand `event` to this process's listeners on `channel` alone."""
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
