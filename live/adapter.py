"""Everything Parley relies on inside simple-websocket and wsproto, in one place: `Connection`.

flask-sock hands each socket endpoint simple-websocket's `Server`, made with SOCKET_OPTIONS. Its
public API (send, receive, close) is not enough for the measured hot path (docs/PERFORMANCE.md):
- the raw socket is a LockedSocket (through the WSGI environ, before the handshake): whole writes,
  one writer at a time, writes that give up in time;
- once the handshake is done, the wsproto connection (`server.ws`) is swapped for live.frames.Frames,
  which reads and writes the everyday frames itself;
- the page's messages are read from `input_buffer` when the reader sets `event`, and pings are
  Parley's own (the pinger), read back from `pong_received`.
pyproject.toml bounds both packages below their next minor release, and tests/test_adapter.py
checks, against the installed ones, each thing named here.
"""

import socket
import threading

import gevent
from flask import copy_current_request_context
from wsproto.events import CloseConnection, Ping
from wsproto.utilities import LocalProtocolError

from live.frames import Frames, text_frame

MAX_MESSAGE = 64 * 1024


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


def prepare_upgrade(environ):
    """Make a socket upgrade's connection safe to write from two places, without compression."""
    # permessage-deflate costs memory and CPU per socket for small HTML fragments; simple-websocket
    # accepts it whenever the browser offers it
    environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    for key in ("gunicorn.socket", "werkzeug.socket"):  # where simple-websocket finds the socket
        if key in environ and not isinstance(environ[key], LockedSocket):
            environ[key] = LockedSocket(environ[key])


def reader_thread(target):
    """simple-websocket's reader of one socket, in the context of the request that opened it. Made
    once the handshake is done: from here on the socket's frames go through Frames."""
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
            # while still connected), the socket's handler must hear of it, or it is never let go
            server.connected = False
            server.event.set()

    return threading.Thread(target=copy_current_request_context(read), daemon=True)


SOCKET_OPTIONS = {
    # no pings of simple-websocket's own: its reader then waits on a selector and a timer for every
    # frame (8 % of the server's CPU at 1,000 chats); the pinger (live/timers.py) pings instead
    "ping_interval": None,
    "max_message_size": MAX_MESSAGE,
    "thread_class": reader_thread,
}


class Connection:
    """One browser's websocket, as Parley uses it: read its messages, write frames, ping, close."""

    def __init__(self, server):
        self._server = server  # simple-websocket's Server, made with SOCKET_OPTIONS
        self._sock = server.sock  # the LockedSocket of prepare_upgrade
        self._done = False  # closed or hung up here: nothing more is read or written

    @property
    def connected(self):
        return not self._done and self._server.connected

    def receive(self, timeout):
        """The page's next message, or None when none came within `timeout` seconds."""
        return self._server.receive(timeout=timeout)

    def read(self, handle):
        """Call `handle(text)` for each later message of the page, in order, until the socket closes.
        `handle` must not raise."""
        server = self._server
        while self.connected:
            # what the reader read, in order: taken only when there (receive(timeout=0) would yield,
            # and a message read meanwhile be missed)
            while server.input_buffer and self.connected:
                handle(server.input_buffer.pop(0))
            # no timeout (a gevent timer per message): the reader wakes it after each message and when
            # the browser goes, and close() and hang_up() when the server lets the socket go
            server.event.wait()
            server.event.clear()

    def send_text(self, text, within=None):
        """Write `text` as one text frame; TimeoutError after `within` seconds of waiting on a browser
        that reads nothing (part of the frame may have gone: only hang_up() is safe then)."""
        self._sock.send(text_frame(text), within)

    def ping(self):
        """Ping the browser, unless another writer is busy or its buffer is full (no waiting on one
        socket); False when it has not answered the last ping."""
        if not self._server.pong_received:
            return False
        self._server.pong_received = False
        self._sock.send_if_free(self._server.ws.send(Ping()))
        return True

    def close(self, code):
        """Send the close frame now or never: a browser that reads nothing (or a writer stuck on it)
        would hold the closer for ever; such a connection is dropped instead."""
        try:
            frame = self._server.ws.send(CloseConnection(code))
        except LocalProtocolError:  # closing already
            frame = b""
        self._server.connected = False
        if not (frame and self._sock.send_if_free(frame)):
            self._sock.hang_up()
        self._let_go()

    def refuse(self, code, within=1):
        """Close a socket just opened with `code`, and wait (`within` seconds at most) for the page's
        reply: a connection let go with the page's hello unread would be reset, and the reset can
        take the close frame, and its code, from the page before it reads it."""
        self.close(code)
        self._server.thread.join(within)

    def hang_up(self):
        """Drop the connection without a close frame; a page that is still there reconnects."""
        self._sock.hang_up()
        self._let_go()

    def _let_go(self):
        self._done = True
        self._server.event.set()  # wakes read(), which waits without a timeout
