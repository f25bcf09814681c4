"""live.frames against wsproto: a browser's frames (made by wsproto's client) read as wsproto reads
them, and Parley's frames read back by wsproto's client, whatever the kind and however they arrive."""

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import LocalProtocolError

from live.frames import Frames, text_frame

TEXTS = ["", "hi", "é" * 62, "x" * 125, "x" * 126, "Grüße 👋" * 40, "y" * 65_535]


class Parley(Frames):
    """Parley's side, keeping what it reads in one list: the events, and the texts it reads itself
    as wsproto's TextMessage (as simple-websocket keeps both in its input buffer)."""

    def __init__(self, connection):
        self.read = []
        super().__init__(connection, lambda text: self.read.append(TextMessage(data=text)))

    def events(self):
        self.read.extend(super().events())
        read, self.read = self.read, []
        return read


def connected(wrap=Parley):
    """A browser (wsproto's client) and Parley's side of one socket, past the handshake."""
    browser, server = WSConnection(ConnectionType.CLIENT), WSConnection(ConnectionType.SERVER)
    server.receive_data(browser.send(Request(host="localhost", target="/ws")))
    assert isinstance(next(server.events()), Request)
    browser.receive_data(server.send(AcceptConnection()))
    assert isinstance(next(browser.events()), AcceptConnection)
    return browser, wrap(server)


def read(frames, data, piece=None):
    """What `frames` makes of `data`, fed whole or `piece` bytes at a time."""
    events = []
    for start in range(0, len(data), piece or max(1, len(data))):
        frames.receive_data(data[start : start + (piece or len(data))])
        events.extend(frames.events())
    return events


def joined(events):
    """The messages in `events`, parts joined, as simple-websocket joins them."""
    messages, part = [], None
    for event in events:
        if isinstance(event, (TextMessage, BytesMessage)):
            part = event.data if part is None else part + event.data
            if event.message_finished:
                messages.append(part)
                part = None
    return messages


@pytest.mark.parametrize("text", TEXTS, ids=len)
@pytest.mark.parametrize("piece", [None, 1, 7])
def test_a_text_message_reads_the_same_however_it_arrives(text, piece):
    browser, frames = connected()
    events = read(
        frames, browser.send(TextMessage(data=text)) + browser.send(TextMessage(data="next")), piece
    )
    assert joined(events) == [text, "next"]
    assert all(type(e) is TextMessage for e in events)


@pytest.mark.parametrize("text", [*TEXTS, "z" * 65_536, "z" * 300_000], ids=len)
def test_parley_s_text_frames_read_back_as_sent(text):
    browser, frames = connected()
    browser.receive_data(frames.send(TextMessage(data=text)))
    assert joined(browser.events()) == [text]
    assert text_frame(text) == connected(wrap=lambda server: server)[1].send(TextMessage(data=text))


def test_a_pong_is_read_and_frames_after_it_too():
    browser, frames = connected()
    events = read(frames, browser.send(Pong(payload=b"beat")) + browser.send(TextMessage(data="after")))
    assert [e.payload for e in events if isinstance(e, Pong)] == [b"beat"]
    assert joined(events) == ["after"]


@pytest.mark.parametrize("piece", [None, 1])
def test_a_message_in_parts_goes_to_wsproto_and_so_does_all_after_it(piece):
    browser, frames = connected()
    data = (
        browser.send(TextMessage(data="before"))
        + browser.send(TextMessage(data="ab", message_finished=False))
        + browser.send(TextMessage(data="cd"))
        + browser.send(TextMessage(data="x" * 200))
        + browser.send(Ping(payload=b"p"))
        + browser.send(BytesMessage(data=b"\x00\x01"))
    )
    events = read(frames, data, piece)
    assert joined(events) == ["before", "abcd", "x" * 200, b"\x00\x01"]
    assert [e.payload for e in events if isinstance(e, Ping)] == [b"p"]


def test_a_close_is_answered_as_wsproto_answers_it():
    browser, frames = connected()
    events = read(frames, browser.send(TextMessage(data="bye")) + browser.send(CloseConnection(code=1001)))
    assert joined(events) == ["bye"]
    close = events[-1]
    assert isinstance(close, CloseConnection) and close.code == 1001
    browser.receive_data(frames.send(close.response()))
    assert [e.code for e in browser.events()] == [1001]
    with pytest.raises(LocalProtocolError):  # the socket is closed: no more messages, as ever
        frames.send(TextMessage(data="too late"))


@pytest.mark.parametrize(
    "frame, code",
    [
        (
            bytes((0x81, 0x82, 1, 2, 3, 4)) + bytes(b ^ m for b, m in zip(b"\xc3\x28", (1, 2), strict=True)),
            1007,
        ),  # bad UTF-8
        (bytes((0x81, 0x02)) + b"hi", 1002),  # unmasked: only a server may send that
        (bytes((0xC1, 0x80, 1, 2, 3, 4)), 1002),  # compressed, with no compression agreed
    ],
    ids=["invalid utf-8", "unmasked", "rsv1"],
)
def test_a_bad_frame_gets_wsproto_s_error(frame, code):
    browser, frames = connected()
    events = read(frames, browser.send(TextMessage(data="fine")) + frame)
    assert joined(events) == ["fine"]
    assert isinstance(events[-1], CloseConnection) and events[-1].code == code
    assert code in (CloseReason.INVALID_FRAME_PAYLOAD_DATA, CloseReason.PROTOCOL_ERROR)
