"""The bus between processes: Redis pub/sub (PARLEY_BUS_URL=redis://…), the relay of this process's hub.

Each channel is a Redis channel named after it and the bus URL's database number ("parley:0:chat:12"):
pub/sub knows no databases, so installations sharing one Redis keep apart by the number, as their
limits' keys do. A process hears a channel while one of its sockets listens on it, and skips what it
sent itself: its own sockets had it at once, with the messages just stored.

When Redis goes away, the process tries again until it is back, hears its channels again and closes
every socket with 1012: the pages reconnect and resync from the database as after any reconnect, so
an event missed meanwhile leaves no page stale.
"""

import queue
import secrets
import threading
import time

import redis

from data import bus_url
from live.bus import hub
from live.events import from_json, to_json

CONFIRM_TIMEOUT = 5  # a socket waits this long for Redis to confirm it hears the page's channel
RETRY_EVERY = 0.5
OUTBOX = 100_000  # events waiting to go out; past it (Redis far behind) they are dropped
BATCH = 500  # events sent in one round trip


class RedisRelay:
    """This process's end of the Redis bus: one connection that hears, one that sends."""

    def __init__(self, url, logger):
        self.url = url
        self.logger = logger
        self.prefix = f"parley:{bus_url.database(url)}:"
        self.origin = secrets.token_hex(8)  # this process, in what it sends
        self.redis = bus_url.client(url)
        self.lock = threading.Lock()  # one subscriber connection, one command at a time
        self.heard = set()  # channels Redis confirmed
        self.confirming = {}  # channel -> set when Redis confirms it
        self.leaving = {}  # channel -> set when Redis confirms this process no longer hears it
        self.pubsub = None  # while connected: the connection that hears
        self.outbox = queue.Queue(OUTBOX)

    def start(self):
        """Hear and send for ever. `parley serve` checked that Redis answers; a worker started later,
        while it is away, waits for it as after an outage."""
        missed = False  # pages may have missed events: Redis was away
        try:
            self._connect()  # before the worker serves: every page's channels are heard from the first
        except redis.RedisError as e:
            self.logger.warning("cannot reach the bus at %s (%s): trying again", bus_url.shown(self.url), e)
            missed = True
        threading.Thread(target=self._hear_all, args=(missed,), name="parley-bus-hear", daemon=True).start()
        threading.Thread(target=self._send_all, name="parley-bus-send", daemon=True).start()

    def hear(self, channel):
        with self.lock:
            if channel in self.heard or self.pubsub is None:
                return  # heard; or Redis is away, and every page resyncs once it is back
            confirmed = self.confirming.get(channel)
            if confirmed is None:
                confirmed = self.confirming[channel] = threading.Event()
                try:
                    self.pubsub.subscribe(self.prefix + channel)
                except redis.RedisError:
                    self.confirming.pop(channel).set()  # the hearer notices too, and reconnects
                    return
        confirmed.wait(CONFIRM_TIMEOUT)

    def forget(self, channel):
        with self.lock:
            if hub.listened(channel) or channel not in self.heard or self.pubsub is None:
                return  # heard again meanwhile, or never
            self.heard.discard(channel)
            self.leaving[channel] = threading.Event()
            try:
                self.pubsub.unsubscribe(self.prefix + channel)
            except redis.RedisError:
                self.leaving.pop(channel).set()  # the hearer reconnects, and hears only what is listened to

    def elsewhere(self, channel):
        """Whether another process hears `channel`, asked once Redis confirms this one no longer does."""
        left = self.leaving.get(channel)
        if left is not None:
            left.wait(CONFIRM_TIMEOUT)
        try:
            [(_, count)] = self.redis.pubsub_numsub(self.prefix + channel)
        except redis.RedisError:
            return False  # as if alone, as one process is
        return count > 0

    def unheard(self, channels):
        unheard = set()
        try:
            for start in range(0, len(channels), BATCH):
                part = channels[start : start + BATCH]
                counts = self.redis.pubsub_numsub(*(self.prefix + c for c in part))
                unheard.update(c for c, (_, count) in zip(part, counts, strict=True) if not count)
        except redis.RedisError:
            return set()  # cannot tell: nobody is taken for gone while Redis is away
        return unheard

    def send(self, channel, event):
        try:
            text = to_json(event, agents_only=channel.startswith("shown:"))
            self.outbox.put_nowait((self.prefix + channel, f"{self.origin} {text}"))
        except queue.Full:
            pass  # Redis is far behind or away: the pages resync when it is back

    def _connect(self):
        """Hear every channel this process listens on, on a new connection (redis.RedisError if none)."""
        pubsub = self.redis.pubsub()
        with self.lock:
            channels = hub.channels()
            try:
                pubsub.subscribe(self.prefix + "bus", *(self.prefix + c for c in channels))
            except redis.RedisError:
                pubsub.close()
                raise
            self.pubsub = pubsub
            for channel in channels:  # a socket hearing one of them meanwhile waits for the same word
                self.confirming.setdefault(channel, threading.Event())

    def _hear_all(self, missed):
        shown = bus_url.shown(self.url)
        while True:
            if self.pubsub is None:
                try:
                    self._connect()
                except redis.RedisError:
                    time.sleep(RETRY_EVERY)
                    continue
            if missed:
                self.logger.warning("the bus at %s is back: every page resyncs", shown)
                from live import sockets  # here: sockets need not load with the relay

                sockets.close_all(1012)  # the pages reconnect, and resync from the database
            try:
                self._hear(self.pubsub)
            except Exception as e:  # noqa: BLE001 - Redis went away (or said something odd): reconnect
                self.logger.warning("lost the bus at %s (%s): trying again", shown, e)
            self._lost()
            missed = True

    def _hear(self, pubsub):
        for message in pubsub.listen():
            channel = message["channel"].decode().removeprefix(self.prefix)
            if message["type"] in ("subscribe", "unsubscribe"):
                with self.lock:
                    if message["type"] == "subscribe":
                        self.heard.add(channel)
                    waiting = self.confirming if message["type"] == "subscribe" else self.leaving
                    confirmed = waiting.pop(channel, None)
                if confirmed is not None:
                    confirmed.set()
            elif message["type"] == "message":
                origin, _, text = message["data"].decode().partition(" ")
                if origin != self.origin:
                    hub.deliver(channel, from_json(text))

    def _lost(self):
        with self.lock:
            self.heard.clear()
            waiting = [*self.confirming.values(), *self.leaving.values()]
            self.confirming, self.leaving = {}, {}
            self.pubsub.close()
            self.pubsub = None
        for confirmed in waiting:
            confirmed.set()  # nobody waits for what will not come

    def _send_all(self):
        while True:
            batch = [self.outbox.get()]
            while len(batch) < BATCH and not self.outbox.empty():
                batch.append(self.outbox.get_nowait())
            try:
                with self.redis.pipeline(transaction=False) as pipe:
                    for channel, text in batch:
                        pipe.publish(channel, text)
                    pipe.execute()
            except redis.RedisError:
                pass  # the hearer notices the outage too: every page resyncs once Redis is back


def start(app, url):
    """Carry this process's events to the others through the Redis at `url`."""
    relay = RedisRelay(url, app.logger)
    relay.start()
    hub.relay = relay
