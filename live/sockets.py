"""One browser socket's life: the upgrade's checks, the hello and resync, the page's notices, the sender
that renders and writes what the bus tells it, pings and the close.

An event only says *what* changed; the socket's view (live/page.py) renders what its browser lacks
from the database, so a socket never misses, repeats or reorders a message. The wire (simple-websocket
and wsproto) is live/adapter.py's.
"""

import itertools
import json
import queue
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import abort, copy_current_request_context, current_app, has_request_context, request

from data.checks import MAX_INTEGER
from data.db import connection, db, log_failure
from live.adapter import Connection, prepare_upgrade
from live.bus import hub
from live.events import Log, Rights, SessionsEnded
from live.tabs import tabs

OVERLOADED = 1013  # "try again later": htmx reconnects and resyncs
UNREADABLE = 1007  # a frame that is not a notice the page can send: a bug or a forgery
HELLO_TIMEOUT = 10
# how long a message sent at once (PageSocket.deliver) may wait on a browser that reads nothing: the
# sender's own page waits meanwhile
SEND_NOW_LIMIT = 2
SEND_QUEUE = 1000


def check_upgrade():
    """Refuse a socket upgrade from another site's page (websockets know no CORS); prepare the rest."""
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        abort(403, "This page may not connect here.")
    prepare_upgrade(request.environ)


def serve(ws, view, on_notice=None, on_last_close=None, session=None, tab_of=None):
    """Run one browser socket: subscribe, read the hello, send until the browser goes.

    `ws` is what flask-sock hands the endpoint; `view` renders (live/page.py). `on_notice(notice)`
    handles each later JSON object from the page, and what it returns (HTML) is sent back.
    `on_last_close()` runs when no other socket of this process listens on the view's channels.
    `session` (live.sessions.Session): the agent's session the socket lives by; `tab_of`: what the
    page is (a chat, a session), whose oldest sockets close past the cap of sockets per page.
    """
    if not db.is_closed():
        db.close()  # a socket lives for hours: never hold a pooled connection while idle
    wire = Connection(ws)
    page = PageSocket(wire, view, session)
    channels = list(view.channels())
    if session is not None:
        channels.append(session.channel)
    for channel in channels:
        hub.subscribe(channel, page)
    if tab_of is not None:
        tabs.opened(tab_of, page, current_app.config["SOCKETS_PER_PAGE"])
    try:
        # heard from now on: a session that ended before is seen in the database
        ended = session.confirm() if session is not None else None
        if ended is not None:
            wire.refuse(ended)
            return
        hello = parse_hello(wire.receive(timeout=HELLO_TIMEOUT))
        # the sender renders with this request's context: url_for, the session's CSRF token
        run = copy_current_request_context(page.run)
        threading.Thread(target=run, args=(hello,), daemon=True).start()
        wire.read(page.answering(on_notice))
    except Unreadable:
        page.close(UNREADABLE)
    finally:
        if tab_of is not None:
            tabs.gone(tab_of, page)
        left = sum(hub.unsubscribe(channel, page) for channel in channels)
        for shown in page.following:
            hub.unsubscribe(shown, page)
        page.stop()
        if not left and on_last_close is not None:
            on_last_close()


def refuse(ws, code):
    """Close a socket the endpoint will not serve with `code`, which tells its page why."""
    Connection(ws).refuse(code)


def close_all(code):
    """Close every socket of this process with `code` (1012 on SIGTERM: pages reconnect at once)."""
    for page in hub.everyone():
        page.close(code)


@dataclass(frozen=True, slots=True)
class Reply:
    """What a socket answers its own page's notice with (a refusal), already rendered: queued in order
    with the bus's events, never on the bus itself."""

    html: str


class PageSocket:
    """One browser page's socket: a bounded queue of events and one sender that renders and writes them."""

    slots = itertools.count()  # spreads the sockets over the pinger's turns

    def __init__(self, wire, view, session=None):
        self.wire = wire
        self.view = view
        self.session = session  # checked before anything is written: never a frame once it ended
        self.events = queue.Queue(maxsize=SEND_QUEUE)
        self.closed = False
        self.slot = next(PageSocket.slots)
        self.sending = threading.Lock()  # held while a sender renders and writes: one at a time
        self.synced = False  # the browser got what it lacked at connect time (run's first send)
        self.following = set()  # the channels the view follows as it goes ("shown:12")
        view.listen(self.follow)

    def follow(self, channel, heard):
        """Hear, or stop hearing, a channel the view follows (live.page.View.listen)."""
        if heard:
            hub.subscribe(channel, self)
            self.following.add(channel)
        elif channel in self.following:
            hub.unsubscribe(channel, self)
            self.following.discard(channel)

    def deliver(self, event):
        """Hand `event` to this socket's sender, or send it at once when the event is a new message
        and the sender is idle. A message then goes out from the greenlet that stored it, without
        waiting for the sender to be scheduled behind every other socket that has work. A message
        fragment depends on nothing of the request that renders it, but it needs one (url_for), so
        the routing timer, which has none, always hands over."""
        if type(event) in (SessionsEnded, Rights):
            ended = self.session and self.session.ended_by(event)
            if ended:
                self.close(ended)  # now, from the greenlet that ended it: nothing is sent after
            return
        if (
            type(event) is Log
            and self.synced
            and has_request_context()
            and self.events.empty()
            and self.sending.acquire(blocking=False)
        ):
            try:
                self._send_rendered(self.view.render, event, within=SEND_NOW_LIMIT)
            finally:
                self.sending.release()
            return
        self._queue(event)

    def reply(self, html):
        """Send `html` to this page alone, after what is queued for it."""
        self._queue(Reply(html))

    def _queue(self, item):
        try:
            self.events.put_nowait(item)
        except queue.Full:
            self.close(OVERLOADED)

    def run(self, hello):
        """Send the browser what it lacks, then every change as it comes, until the socket closes."""
        with self.sending:
            self._send_rendered(self.view.sync, *hello)
            self.synced = True
        while not self.closed:
            batch = [self.events.get()]
            while not self.events.empty() and len(batch) < 100:
                batch.append(self.events.get_nowait())
            if None in batch:
                break
            with self.sending:
                self._send_rendered(self._render_all, dict.fromkeys(batch))

    def _render_all(self, items):
        return "".join(item.html if type(item) is Reply else self.view.render(item) or "" for item in items)

    def _send_rendered(self, produce, *args, within=None):
        try:
            with connection():
                html = produce(*args)
            self._send(html, within)
        except Exception as e:  # noqa: BLE001 - the browser reconnects and resyncs from the database
            log_failure(current_app.logger, "socket sender failed", e)
            self.close(1011)

    def _send(self, html, within=None):
        if self.session is not None and self._expired():
            return
        if html and not self.closed and self.wire.connected:
            try:
                self.wire.send_text(html, within)
            except TimeoutError:
                self.hang_up()  # part of the frame may have gone: only dropping the connection is safe
            except Exception:  # noqa: BLE001 - any failure means this socket is gone
                self.close()

    def answering(self, on_notice):
        """The handler of the page's notices (Connection.read): each parsed and given to `on_notice`."""

        def handle(text):
            try:
                notice = parse_notice(text)
                # a hello that came after HELLO_TIMEOUT (a slow start): the page was synced without it
                if on_notice is not None and "seqs" not in notice:
                    with connection():
                        answer = on_notice(notice)
                    # the sockets send what the notice changed before this one reads on: the other
                    # side waits for it. (Not in announce(): an HTTP response must reach its page
                    # before the pushes it causes, or htmx finds the element that sent it replaced.)
                    time.sleep(0)
                    if answer:
                        self.reply(answer)
            except Unreadable:
                self.close(UNREADABLE)
            except Exception as e:  # noqa: BLE001 - never into the socket's reader; the page reconnects
                log_failure(current_app.logger, "socket notice failed", e)
                self.close(1011)

        return handle

    def ping(self):
        """Ping the browser. One that has not answered the last ping is gone without a word (a laptop
        shut, a network lost): its connection is dropped, so a chat learns that its chatter left. A
        socket busy writing, or whose buffer is full, gets no ping this turn, and must answer the
        last one by the next all the same."""
        if self.closed or not self.wire.connected:  # closing: a ping may no longer be sent
            return
        if self.session is not None and self._expired():
            return
        if not self.wire.ping():
            self.hang_up()

    def _expired(self):
        """Close the socket if its session has expired (or must be checked again); True if it did."""
        code = self.session.expired()
        if code is not None:
            self.close(code)
        return code is not None

    def hang_up(self):
        """Drop the connection without a close frame, which a browser that reads nothing would never
        read, and whose writing could wait for ever; a page that is still there reconnects."""
        self.stop()
        self.wire.hang_up()

    def stop(self):
        self.closed = True
        try:
            self.events.put_nowait(None)
        except queue.Full:
            pass

    def close(self, code=1000):
        """Close the socket with `code`. Like a ping, the close frame is written now or never; a page
        that is still there reconnects as it would after the close."""
        if self.closed:
            return
        self.stop()
        self.wire.close(code)


class Unreadable(ValueError):
    """A frame no page of Parley sends: the socket closes with UNREADABLE (1007), nothing logged."""


def parse_hello(text):
    """The browser's hello: per chat, the last message it holds and the controls it shows.

    {"seqs": {"12": 5}, "modes": {"12": "active"}} becomes ({12: 5}, {12: "active"}); no hello
    (none within HELLO_TIMEOUT) is an empty one.
    """
    try:
        hello = json.loads(text or "{}")
        seqs = {int(k): int(v) for k, v in hello.get("seqs", {}).items()}
        modes = {int(k): str(v) for k, v in hello.get("modes", {}).items()}
    except (ValueError, TypeError, AttributeError, OverflowError):  # 1e400 is a float: inf
        raise Unreadable from None
    if not all(0 <= n <= MAX_INTEGER for n in (*seqs, *seqs.values(), *modes)):
        raise Unreadable  # no chat or message has such a number (the database could not hold it)
    return seqs, modes


def parse_notice(data):
    """A page's notice: a JSON object ({"send": ...}, {"typing": ...}); Unreadable for anything else."""
    try:
        notice = json.loads(data)
    except (ValueError, TypeError):
        raise Unreadable from None
    if not isinstance(notice, dict):
        raise Unreadable
    return notice
