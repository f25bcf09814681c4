"""WebSocket frames of the everyday kind, read and written here; every other kind by wsproto.

wsproto takes ~40 us to read a short text message on this stack (generators and objects per frame)
and ~8 us to write one, on the path between a sender and the other side. Nearly every frame a page
sends is one whole, masked text message or a pong, and nearly every frame Parley sends is a text
message: `Frames` handles those itself. At the first frame of another kind (a fragment, a close, a
ping, binary or compressed data, anything malformed) it hands the stream to wsproto for good, at
that frame's first byte, so wsproto reads on from a frame boundary as if it had read all before and
answers whatever follows as ever (close replies, protocol errors).
"""

from wsproto.connection import ConnectionState
from wsproto.events import Pong, TextMessage

TEXT, PONG = 0x81, 0x8A  # FIN set, no extension bits, the opcode
LONGEST = 0xFFFF  # longer payloads (a 64-bit length) go to wsproto, which reads them in parts


class Frames:
    """A stand-in for simple-websocket's wsproto connection (`ws.ws`), once the handshake is done.

    A whole text message read here goes straight to `on_text(text)`, in order; only what else is
    read comes out of `events()` (simple-websocket's loop over events costs more than reading).
    """

    def __init__(self, connection, on_text):
        self._connection = connection
        self._on_text = on_text
        self._unread = bytearray()
        self._handed_over = False

    @property
    def state(self):
        return self._connection.state

    def receive_data(self, data):
        if self._handed_over:
            self._connection.receive_data(data)
        else:
            self._unread += data

    def events(self):
        """The frames read so far, but for the text messages read here (a list: all are read first,
        which keeps `_unread` right)."""
        read = [] if self._handed_over else self._read()
        if self._handed_over:
            read.extend(self._connection.events())
        return read

    def send(self, event):
        if type(event) is TextMessage and self._connection.state is ConnectionState.OPEN:
            return text_frame(event.data)
        return self._connection.send(event)

    def _read(self):
        read, start, unread = [], 0, self._unread
        while True:
            frame = _frame_at(unread, start)
            if frame is None:  # not all there yet
                break
            if frame is False:  # not of the everyday kind: wsproto reads on from here
                self._handed_over = True
                self._connection.receive_data(bytes(unread[start:]))
                start = len(unread)
                break
            start, got = frame
            if type(got) is str:
                self._on_text(got)
            else:
                read.append(got)
        del unread[:start]
        return read


def _frame_at(data, start):
    """The frame at `start`: (where the next begins, its text or Pong), None if not all read, False if
    it is not a whole masked text message or pong of at most LONGEST bytes in valid UTF-8."""
    if len(data) - start < 2:
        return None
    kind, length = data[start], data[start + 1]
    if kind not in (TEXT, PONG) or not length & 0x80:  # unmasked: wsproto says it's an error
        return False
    length &= 0x7F
    head = start + 6  # two bytes, the mask's four
    if length == 126:
        head += 2
        if len(data) < start + 4:
            return None
        length = int.from_bytes(data[start + 2 : start + 4], "big")
    elif length == 127:
        return False
    end = head + length
    if len(data) < end:
        return None
    payload = _unmask(data[head:end], data[head - 4 : head])
    if kind == PONG:
        return end, Pong(payload=payload)
    try:
        return end, payload.decode()
    except UnicodeDecodeError:
        return False


def _unmask(payload, mask):
    n = len(payload)
    key = (bytes(mask) * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def text_frame(text):
    """A whole, unmasked (the server's) text frame."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        head = bytes((TEXT, n))
    elif n <= LONGEST:
        head = bytes((TEXT, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((TEXT, 127)) + n.to_bytes(8, "big")
    return head + payload
