"""live/adapter.py against the installed simple-websocket and wsproto: each thing it relies on inside
them, exercised on a real simple-websocket Server made with Parley's options, over a socket pair with
wsproto's client as the browser. An upgrade that changes any of it fails here, by name."""

import threading
import tomllib
from importlib.metadata import version
from pathlib import Path

import gevent.socket
import pytest
from flask import Flask
from packaging.requirements import Requirement
from simple_websocket import Server
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, Pong, Request, TextMessage
from wsproto.extensions import PerMessageDeflate

from live.adapter import SOCKET_OPTIONS, Connection, LockedSocket, prepare_upgrade, reader_thread
from live.frames import Frames

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@pytest.mark.parametrize("package", ["simple-websocket", "wsproto"])
def test_the_installed_package_is_one_the_adapter_was_checked_with(package):
    """pyproject.toml bounds both below their next minor release: past it, check this file again."""
    with PYPROJECT.open("rb") as f:
        wanted = [Requirement(r) for r in tomllib.load(f)["project"]["dependencies"]]
    [requirement] = [r for r in wanted if r.name == package]
    assert any(spec.operator == "<" for spec in requirement.specifier), f"{package} has no upper bound"
    assert version(package) in requirement.specifier


class Browser:
    """wsproto's client on one end of a socket pair (gevent's, as the server's are)."""

    def __init__(self, sock):
        self.sock = sock
        self.ws = WSConnection(ConnectionType.CLIENT)

    def send(self, *events):
        self.sock.sendall(b"".join(self.ws.send(event) for event in events))

    def read(self, count):
        """The next `count` events the server sent, a message's parts joined into one."""
        events, part = [], None
        while len(events) < count:
            self.ws.receive_data(self.sock.recv(65536))
            for event in self.ws.events():
                if isinstance(event, TextMessage) and not event.message_finished:
                    part = (part or "") + event.data
                elif isinstance(event, TextMessage) and part is not None:
                    events.append(TextMessage(data=part + event.data))
                    part = None
                else:
                    events.append(event)
        return events


class NotStarted:
    """Holds the adapter's reader thread, which the test then runs itself, in its own thread."""

    def __init__(self, target):
        self.thread = reader_thread(target)
        self.name = self.thread.name  # simple-websocket renames it

    def start(self):
        pass


@pytest.fixture
def opened():
    """A simple-websocket Server made as flask-sock makes it, with Parley's options, past the handshake
    (the browser offers compression): (server, browser, the reader's thread, not started)."""
    ours, theirs = gevent.socket.socketpair()
    browser = Browser(theirs)
    request = browser.ws.send(Request(host="localhost", target="/ws", extensions=[PerMessageDeflate()]))
    head = request.decode().split("\r\n")[1:]
    environ = {"gunicorn.socket": ours}
    for name, value in (line.split(": ", 1) for line in head if line):
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    app = Flask(__name__)
    with app.test_request_context(environ_base=environ):
        prepare_upgrade(environ)
        server = Server(environ, **dict(SOCKET_OPTIONS, thread_class=NotStarted))
        yield server, browser, server.thread.thread
    ours.close()
    theirs.close()


def test_the_socket_is_parley_s_and_the_connection_is_frames_once_the_handshake_is_done(opened):
    server, browser, _ = opened
    [accepted] = browser.read(1)
    assert isinstance(accepted, AcceptConnection)
    assert accepted.extensions == []  # prepare_upgrade hid the browser's offer of compression
    assert isinstance(server.sock, LockedSocket)
    assert isinstance(server.ws, Frames)
    assert server.connected and server.pong_received and server.input_buffer == []


def test_the_reader_rings_after_each_message_it_reads_and_when_it_ends(opened):
    """What Connection.read relies on: the texts read (by Frames, then by wsproto from a message in
    parts on) wait in input_buffer in order, the reader sets its event after each, and once more
    when it stops, by then no longer connected; a pong is noted."""
    server, browser, reader = opened
    browser.read(1)
    wire = Connection(server)
    assert wire.ping() is True
    assert wire.ping() is False  # not answered yet
    assert isinstance(browser.read(1)[0], Ping)
    rings = []

    class Ringing(threading.Event):
        def set(self):
            rings.append((list(server.input_buffer), server.connected))

    server.event = Ringing()
    browser.send(
        TextMessage(data="first"),
        Pong(),
        TextMessage(data="sec", message_finished=False),
        TextMessage(data="ond"),
        TextMessage(data="third"),
    )
    browser.sock.shutdown(gevent.socket.SHUT_WR)  # then the browser goes
    reader.run()  # here, until the socket ends
    assert rings[:3] == [(["first"], True), (["first", "second"], True), (["first", "second", "third"], True)]
    assert rings[3:] and not any(connected for _, connected in rings[3:])
    assert server.pong_received is True
    assert not wire.connected


def test_text_goes_out_as_one_frame_and_close_is_sent_once(opened):
    server, browser, _ = opened
    browser.read(1)
    wire = Connection(server)
    reading = gevent.spawn(browser.read, 1)
    wire.send_text("<p>é</p>" * 40_000)  # more than a socket's buffer takes at once
    [text] = reading.get(timeout=10)
    assert text.data == "<p>é</p>" * 40_000
    wire.close(1012)
    assert not wire.connected
    [close] = browser.read(1)
    assert isinstance(close, CloseConnection) and close.code == 1012
    wire.close(1012)  # closing already: wsproto refuses a second close frame, the adapter hangs up


def test_a_message_too_big_closes_with_1009_and_the_reader_says_so(opened):
    server, browser, reader = opened
    browser.read(1)
    browser.send(TextMessage(data="x" * (SOCKET_OPTIONS["max_message_size"] + 1)))
    reader.run()
    [close] = browser.read(1)
    assert isinstance(close, CloseConnection) and close.code == 1009
    assert not server.connected
