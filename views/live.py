"""Real time: the hub that fans events out to browser sockets, the socket endpoints and the timer.

An event only says *what* changed ("log", chat 12). Each socket's own sender renders what its
browser lacks from the database, so a socket never misses, repeats or reorders a message, and an
event is small enough to cross a Redis pub/sub channel unchanged when Parley outgrows one process.
A "log" event may also carry the messages just stored (routing's Changes.fresh): a sender whose
browser holds everything before them renders them without reading them back; one that does not
(or an event from another process, without them) reads the database as ever.
Channels: "chat:12" (the chatter's pages), "agent:3" (an agent's consoles), "shown:12" (the consoles
showing chat 12: its messages and typing go there), "supervisors".
"""

import itertools
import json
import queue
import socket
import threading
import time
from collections import defaultdict
from urllib.parse import urlsplit

import gevent
from flask import Blueprint, abort, copy_current_request_context, current_app, has_request_context, request
from flask_login import current_user
from flask_sock import Sock
from markupsafe import escape
from wsproto.events import CloseConnection, Ping
from wsproto.utilities import LocalProtocolError

from data import retention, routing, search_index
from data.db import connection, db, prepared
from data.models import Chat
from views.frames import Frames, text_frame

bp = Blueprint("live", __name__)
sock = Sock()

OVERLOADED = 1013  # "try again later": htmx reconnects and resyncs
HELLO_TIMEOUT = 10
# how long a message sent at once (Viewer.deliver) may wait on a browser that reads nothing: the
# sender's own page waits meanwhile
SEND_NOW_LIMIT = 2
SEND_QUEUE = 1000


class Hub:
    """Channels ("agent:3", "chat:12", "shown:12") to the sockets listening on them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._channels = defaultdict(set)

    def subscribe(self, channel, viewer):
        with self._lock:
            self._channels[channel].add(viewer)

    def unsubscribe(self, channel, viewer):
        """Stop sending to `viewer`; return how many sockets still listen on the channel."""
        with self._lock:
            viewers = self._channels.get(channel, set())
            viewers.discard(viewer)
            if not viewers:
                self._channels.pop(channel, None)
            return len(viewers)

    def publish(self, channel, event):
        with self._lock:
            targets = list(self._channels.get(channel, ()))
        for viewer in targets:
            viewer.deliver(event)

    def listeners(self, channel):
        with self._lock:
            return len(self._channels.get(channel, ()))

    def ping(self, turn, turns):
        """Ping the sockets whose turn it is: each one in `turns` calls."""
        for viewer in self._everyone():
            if viewer.slot % turns == turn % turns:
                viewer.ping()

    def close_all(self, code):
        for viewer in self._everyone():
            viewer.close(code)

    def _everyone(self):
        """Every socket once, though a console listens on several channels (a second ping in one
        turn would drop it)."""
        with self._lock:
            return {v for viewers in self._channels.values() for v in viewers}


hub = Hub()


def announce(changes, by_chatter=False):
    """Tell every socket concerned what `changes` changed; a chatter's own message reaches the agents
    before it comes back to the chatter's page (each socket renders in turn)."""
    with connection():
        for chat_id in sorted(changes.logs):
            event = ("log", chat_id, changes.fresh.get(chat_id, ()))
            _publish_chat(chat_id, event, agents_first=by_chatter)
        for chat_id in sorted(changes.chats):
            _publish_chat(chat_id, ("chat", chat_id))
        for chat_id, seq in sorted(changes.updated):
            _publish_chat(chat_id, ("update", chat_id, seq))
        waiting = _moved_in_line(changes) if changes.queues else []
        for chat_id in waiting:
            if chat_id not in changes.chats:
                hub.publish(f"chat:{chat_id}", ("chat", chat_id))
    for agent_id in changes.agents:
        hub.publish(f"agent:{agent_id}", ("status", agent_id))
    if changes.chats or changes.agents or changes.queues:
        hub.publish("supervisors", ("live", None))  # the supervisors' live view renders itself again


def _moved_in_line(changes):
    """Chats in the changed queues whose place in line may have moved: those behind the earliest
    changed chat of their queue. A chat joining at the end moves nobody, so starting chats costs
    one push, not one per waiting chatter; a queue changed without a chat tells all its line."""
    earliest = {}  # queue -> (created, id) of its earliest changed chat
    for chat_id in changes.chats:
        for queue_id, created in _place(chat_id):
            earliest[queue_id] = min(earliest.get(queue_id, (created, chat_id)), (created, chat_id))
    moved = set()
    for queue_id in changes.queues:
        line = _behind(earliest[queue_id][1]) if queue_id in earliest else _line(queue_id)
        moved.update(chat_id for (chat_id,) in line)
    return sorted(moved)


# on every chat start, answer and end: compiled once (data.db.prepared)
@prepared
def _place(chat_id):
    return Chat.select(Chat.queue, Chat.created_at).where(Chat.id == chat_id).tuples()


@prepared
def _line(queue_id):
    return (
        Chat.select(Chat.id).where((Chat.queue == queue_id) & Chat.state.in_(("waiting", "offered"))).tuples()
    )


@prepared
def _behind(chat_id):
    """The chats waiting in the chat's queue after it."""
    mine = Chat.alias()
    after = (Chat.created_at > mine.created_at) | ((Chat.created_at == mine.created_at) & (Chat.id > mine.id))
    return (
        Chat.select(Chat.id)
        .join(mine, on=(mine.id == chat_id))
        .where((Chat.queue == mine.queue) & Chat.state.in_(("waiting", "offered")) & after)
        .tuples()
    )


def send_to_login(agent_id):
    """Take the agent's open consoles to the sign-in page (their account was disabled)."""
    hub.publish(f"agent:{agent_id}", ("goto", "/login"))


def _goto_html(path):
    """An element parley.js follows at once; added to <body>, so it needs no target in the page."""
    return f'<div hx-swap-oob="beforeend:body"><div hidden data-goto="{escape(path)}"></div></div>'


# what only a console that shows the chat renders goes to the consoles that show it ("shown:12",
# ConsoleView.follow), with no need to ask the database which agents those are
SHOWN_ONLY = ("log", "update")


def _publish_chat(chat_id, event, agents_first=False):
    if event[0] in SHOWN_ONLY:
        channels = [f"shown:{chat_id}"]
    else:
        channels = [f"agent:{agent_id}" for agent_id in routing.related_agents(chat_id)]
    channels.insert(len(channels) if agents_first else 0, f"chat:{chat_id}")
    for channel in channels:
        hub.publish(channel, event)


class LockedSocket:
    """The raw socket, written whole (sendall) and by one writer at a time.

    simple-websocket writes with send(), which under gevent truncates large frames, and its ping
    thread writes beside ours; both corrupt frames without this.
    """

    def __init__(self, raw):
        self._raw = raw
        self._lock = threading.Lock()
        self.recv = raw.recv  # read for every frame: not through __getattr__ each time

    def send(self, data, within=None):
        """Write all of `data`, after any other writer. `within`: the seconds it may wait on a browser
        that reads nothing (then TimeoutError, and part of it may have gone), None for as long as it
        takes. No timer unless it must wait: the socket's buffer nearly always takes it at once."""
        if not self._lock.acquire(timeout=-1 if within is None else within):
            raise TimeoutError
        try:
            try:
                sent = self._raw.send(data, 0, timeout=0.0)  # gevent's socket: raise rather than wait
            except BlockingIOError:
                sent = 0
            if sent < len(data):
                with gevent.Timeout(within, TimeoutError):  # Timeout(None) never fires
                    self._raw.sendall(memoryview(data)[sent:])
        finally:
            self._lock.release()
        return len(data)

    def send_if_free(self, data):
        """Write `data` now or not at all: only when no one else is writing and the socket's buffer
        takes it whole. For the pinger, which must never wait on one socket; a frame it could only
        half write would corrupt the stream, so that connection is dropped."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            sent = self._raw.send(data, 0, timeout=0.0)  # gevent's socket: raise rather than wait
        except OSError:
            return False
        finally:
            self._lock.release()
        if sent < len(data):
            self.hang_up()
        return sent == len(data)

    def hang_up(self):
        """Drop the connection without a close frame: whoever waits on the socket wakes with an error."""
        try:
            self._raw.shutdown(socket.SHUT_RDWR)
        except OSError:  # already gone
            pass

    def __getattr__(self, name):
        return getattr(self._raw, name)


class Viewer:
    """One browser socket: a bounded queue of events and one sender that renders and writes them."""

    slots = itertools.count()  # spreads the sockets over the pinger's turns

    def __init__(self, ws, view):
        self.ws = ws
        self.view = view
        self.events = queue.Queue(maxsize=SEND_QUEUE)
        self.closed = False
        self.slot = next(Viewer.slots)
        self.sending = threading.Lock()  # held while a sender renders and writes: one at a time
        self.synced = False  # the browser got what it lacked at connect time (run's first send)
        self.following = set()  # the "shown:" channels of the chats a console shows
        if hasattr(view, "follow"):
            view.follow = self.follow

    def follow(self, chat_id, shown):
        """Hear, or stop hearing, what happens in a chat the console shows (ConsoleView.follow)."""
        channel = f"shown:{chat_id}"
        if shown:
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
        if (
            event[0] == "log"
            and self.synced
            and has_request_context()
            and self.events.empty()
            and self.sending.acquire(blocking=False)
        ):
            try:
                self._send_now(event)
            finally:
                self.sending.release()
            return
        try:
            self.events.put_nowait(event)
        except queue.Full:
            self.close(OVERLOADED)

    def _send_now(self, event):
        """Render and write `event` here, waiting at most SEND_NOW_LIMIT seconds on the browser."""
        self._send_rendered(self.view.render, event, within=SEND_NOW_LIMIT)

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
                self._send_rendered(self._render_events, dict.fromkeys(batch))

    def _send_rendered(self, produce, *args, within=None):
        try:
            with connection():
                html = produce(*args)
            self._send(html, within)
        except Exception:  # noqa: BLE001 - the browser reconnects and resyncs from the database
            current_app.logger.exception("socket sender failed")
            self.close(1011)

    def _render_events(self, events):
        return "".join(self._render_event(event) for event in events)

    def _render_event(self, event):
        if event[0] == "goto":
            return _goto_html(event[1])
        if event[0] == "reply":  # for this socket alone, already rendered
            return event[1]
        return self.view.render(event)

    def _send(self, html, within=None):
        """Write `html` as one text frame (views.frames: simple-websocket's send adds only layers)."""
        if html and not self.closed and self.ws.connected:
            try:
                self.ws.sock.send(text_frame(html), within)
            except TimeoutError:
                self.hang_up()  # part of the frame may have gone: only dropping the connection is safe
            except Exception:  # noqa: BLE001 - any failure means this socket is gone
                self.close()

    def ping(self):
        """Ping the browser. One that has not answered the last ping is gone without a word (a laptop
        shut, a network lost): its connection is dropped, so a chat learns that its chatter left. A
        socket busy writing, or whose buffer is full, gets no ping this turn, and must answer the
        last one by the next all the same."""
        if self.closed or not self.ws.connected:  # closing: a ping may no longer be sent
            return
        if not self.ws.pong_received:
            self.hang_up()
            return
        self.ws.pong_received = False
        self.ws.sock.send_if_free(self.ws.ws.send(Ping()))

    def hang_up(self):
        """Drop the connection without a close frame, which a browser that reads nothing would never
        read, and whose writing could wait for ever; a page that is still there reconnects."""
        self.stop()
        self.ws.sock.hang_up()
        self.ws.event.set()

    def stop(self):
        self.closed = True
        try:
            self.events.put_nowait(None)
        except queue.Full:
            pass

    def close(self, code=1000):
        """Close the socket with `code`. Like a ping, the close frame is written now or never: a
        browser that reads nothing (or a writer stuck on it) would hold the closer for ever, and on
        SIGTERM every socket after it; such a connection is dropped instead, and a page that is still
        there reconnects as it would after the close."""
        if self.closed:
            return
        self.stop()
        try:
            frame = self.ws.ws.send(CloseConnection(code))
        except LocalProtocolError:  # closing already
            frame = b""
        self.ws.connected = False
        if not (frame and self.ws.sock.send_if_free(frame)):
            self.ws.sock.hang_up()
        self.ws.event.set()  # wakes serve_socket's receive(), which waits without a timeout


def prepare_upgrade():
    """Check a socket upgrade's Origin and make its connection safe to write from two places."""
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        abort(403, "This page may not connect here.")
    environ = request.environ
    # permessage-deflate costs memory and CPU per socket for small HTML fragments
    environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    for key in ("gunicorn.socket", "werkzeug.socket"):
        if key in environ and not isinstance(environ[key], LockedSocket):
            environ[key] = LockedSocket(environ[key])


def serve_socket(ws, channel, view, on_close=None, on_notice=None):
    """Run one browser socket: subscribe, read the hello, send until the browser goes.

    `on_notice(notice)` handles each later JSON object from the page; what it returns is sent back.
    """
    if not db.is_closed():
        db.close()  # a socket lives for hours: never hold a pooled connection while idle
    viewer = Viewer(ws, view)
    hub.subscribe(channel, viewer)
    try:
        hello = _parse_hello(ws.receive(timeout=HELLO_TIMEOUT))
        # the sender renders with this request's context: url_for, the session's CSRF token
        run = copy_current_request_context(viewer.run)
        threading.Thread(target=run, args=(hello,), daemon=True).start()
        ws.event.answer = _answering(ws, viewer, on_notice)
        ws.event.answer()  # what came after the hello, before the reader could answer it
        while ws.connected and not viewer.closed:
            # no timeout (a gevent timer per message): the reader wakes it when the browser goes,
            # and Viewer.close when the server closes the socket
            ws.event.wait()
            ws.event.clear()
    finally:
        left = hub.unsubscribe(channel, viewer)
        for shown in viewer.following:
            hub.unsubscribe(shown, viewer)
        viewer.stop()
        if on_close is not None:
            on_close(left)


class Doorbell(threading.Event):
    """The event simple-websocket's reader sets after each message it reads. Once serve_socket has
    installed `answer`, the reader calls that instead, so a page's notice is handled in the greenlet
    that read it: no hand-over to serve_socket's own, which would wait its turn behind every socket
    with work. `answer` returns False when the socket is closing: the event is set after all."""

    answer = None

    def set(self):
        if self.answer is None or not self.answer():
            super().set()


def reader_thread(target):
    """simple-websocket's reader of one socket, in the context of the request that opened it: it
    handles the page's notices (Doorbell). Made once the handshake is done: from here on the
    socket's frames go through Frames."""
    server = target.__self__

    def on_text(text):  # what simple-websocket's reader does with a message: buffer it, then ring
        server.input_buffer.append(text)
        server.event.set()

    server.ws = Frames(server.ws, on_text)

    def read():
        try:
            target()
        finally:
            # however reading ended (a message too big, a protocol error: simple-websocket rings
            # while still connected), serve_socket must hear of it, or the socket is never let go
            server.connected = False
            server.event.set()

    return threading.Thread(target=copy_current_request_context(read), daemon=True)


SOCKET_OPTIONS = {
    # no pings of simple-websocket's own: its reader then waits on a selector and a timer for every
    # frame (8 % of the server's CPU at 1,000 chats); start_pinger pings instead
    "ping_interval": None,
    "max_message_size": 64 * 1024,
    "thread_class": reader_thread,
    "event_class": Doorbell,
}


def _answering(ws, viewer, on_notice):
    """Doorbell.answer for one socket: handle every notice read so far, one at a time and in order."""
    busy = False

    def answer():
        nonlocal busy
        if busy:  # the call under way (waiting on a write or the database) takes this one too
            return ws.connected and not viewer.closed
        busy = True
        try:
            # simple-websocket's input_buffer holds what its reader read, in order: taken only when
            # there (receive(timeout=0) would yield, and a notice read meanwhile be missed)
            while ws.input_buffer and ws.connected and not viewer.closed:
                _answer(viewer, _parse_notice(ws.input_buffer.pop(0)), on_notice)
            return ws.connected and not viewer.closed
        except Exception:  # noqa: BLE001 - never into simple-websocket's reader; the page reconnects
            current_app.logger.exception("socket notice failed")
            viewer.close(1011)
            return False
        finally:
            busy = False

    return answer


def _answer(viewer, notice, on_notice):
    if notice and on_notice is not None:
        with connection():
            reply = on_notice(notice)
        # the sockets send what the notice changed before this one reads on: the other side
        # waits for it. (Not in announce(): an HTTP response must reach its page before the
        # pushes it causes, or htmx finds the element that sent the request already replaced.)
        time.sleep(0)
        if reply:
            viewer.deliver(("reply", reply))


def _parse_hello(text):
    """The browser's hello: per chat, the last message it holds and the controls it shows.

    {"seqs": {"12": 5}, "modes": {"12": "active"}} becomes ({12: 5}, {12: "active"}).
    """
    try:
        hello = json.loads(text or "{}")
        seqs = {int(k): int(v) for k, v in hello.get("seqs", {}).items()}
        modes = {int(k): str(v) for k, v in hello.get("modes", {}).items()}
        return seqs, modes
    except (ValueError, TypeError, AttributeError):
        return {}, {}


def start_ticker(app, every=0.5):
    """Expire offers, notice departed chatters and offer waiting chats, from the database, forever."""

    def loop():
        while True:
            try:
                with connection():
                    changes = routing.tick()
                announce(changes)
                with connection():
                    search_index.catch_up()  # indexes the messages stored since the last tick
                    retention.run_if_due()  # deletes ended chats past the retention period, once a minute
            except Exception:  # noqa: BLE001 - the timer must outlive any one failure
                app.logger.exception("routing tick failed")
            time.sleep(every)

    threading.Thread(target=loop, name="parley-ticker", daemon=True).start()


def start_pinger(app, every):
    """Ping every socket once in `every` seconds, a slice of them at a time (25 slices for 25 s), so
    thousands of pings never go out at once. Pings find dead connections and keep proxies from
    closing quiet ones; simple-websocket's own cost a selector and a timer on every frame read."""
    turns = max(1, round(every))

    def loop():
        for turn in itertools.count():
            time.sleep(every / turns)
            try:
                hub.ping(turn, turns)
            except Exception:  # noqa: BLE001 - the pinger must outlive any one failure
                app.logger.exception("pinging sockets failed")

    threading.Thread(target=loop, name="parley-pinger", daemon=True).start()


@bp.before_request
def check_upgrade():
    prepare_upgrade()


@sock.route("/ws/console", bp=bp)
def console_socket(ws):
    """Push the agent's offers, chats and status to their console."""
    from views import console

    if not current_user.is_authenticated:
        return
    agent_id = current_user.id

    session_id = current_user.get_id()

    def on_notice(notice):
        if "send" in notice:
            return console.socket_send(session_id, notice["send"])
        chat_id, private = _typing_of(notice)
        if chat_id is not None and routing.is_participant(chat_id, agent_id):
            publish_typing(chat_id, f"agent:{agent_id}", private)

    serve_socket(ws, f"agent:{agent_id}", console.ConsoleView(agent_id), on_notice=on_notice)


@sock.route("/ws/admin", bp=bp)
def supervisor_socket(ws):
    """Push the live view of queues, chats and agents to a supervisor."""
    from views.admin import SupervisorView

    if not current_user.is_authenticated or not current_user.supervisor:
        return
    serve_socket(ws, "supervisors", SupervisorView())


@sock.route("/chat/<slug>/ws", bp=bp)
def chat_socket(ws, slug):
    """Push the chatter's messages and the chat's state to their page."""
    from views.chat import ChatView, chat_from_cookie, socket_send

    chat = chat_from_cookie(slug)
    if chat is None:
        return
    channel = f"chat:{chat.id}"
    announce(routing.chatter_back(chat))

    def on_close(left):
        if not left:
            with connection():
                announce(routing.chatter_away(chat))

    def on_notice(notice):
        if "send" in notice:
            return socket_send(chat, notice["send"])
        if _typing_of(notice)[0] is not None:
            publish_typing(chat.id, "chatter", False)

    serve_socket(ws, channel, ChatView(chat), on_close, on_notice)


def _parse_notice(data):
    """A page's notice: a JSON object ({"send": ...} or {"typing": ...}); None for anything else."""
    try:
        notice = json.loads(data) if data else None
    except ValueError:
        return None
    return notice if isinstance(notice, dict) else None


def _typing_of(notice):
    """A typing notice, {"typing": chat id, "private": bool} -> (chat id, private)."""
    try:
        return int(notice["typing"]), bool(notice.get("private"))
    except (ValueError, TypeError, KeyError):
        return None, False


def publish_typing(chat_id, who, private):
    """Tell the others in the chat that someone types; a private draft never reaches the chatter."""
    event = ("typing", chat_id, who, private)
    if not private and who != "chatter":
        hub.publish(f"chat:{chat_id}", event)
    hub.publish(f"shown:{chat_id}", event)
