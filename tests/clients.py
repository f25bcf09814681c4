"""Clients that drive a real Parley server the way a browser does: HTTP with cookies, and sockets."""

import json
import re
import sqlite3
import struct
import threading
import urllib.error
import urllib.request
from contextlib import closing

import requests
import websocket
from conftest import PASSWORDS, wait_for
from requests.cookies import get_cookie_header

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"|name="csrf_token" value="([^"]+)"')
ARTICLE = re.compile(r'<article id="m-(\d+)-(\d+)"')


def csrf_from(html):
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1) or found.group(2)


class Socket:
    """One websocket, read by a background thread that keeps every text frame and the close code."""

    def __init__(self, url, cookie="", origin=None, hello=None):
        options = {"cookie": cookie, "timeout": 10}
        if origin is None:
            options["suppress_origin"] = True
        else:
            options["origin"] = origin
        self.ws = websocket.create_connection(url, enable_multithread=True, **options)
        self.ws.settimeout(None)
        self.frames = []
        self.close_code = None
        self.closed = threading.Event()
        self._lock = threading.Lock()
        if hello is not None:
            self.ws.send(json.dumps(hello))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        try:
            while True:
                opcode, frame = self.ws.recv_data_frame(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    if len(frame.data) >= 2:
                        self.close_code = struct.unpack("!H", frame.data[:2])[0]
                    return
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    with self._lock:
                        self.frames.append(frame.data.decode())
        except Exception:  # noqa: BLE001 - the connection went away: so does the reader
            return
        finally:
            self.closed.set()

    def send(self, notice):
        """Send a page's notice, e.g. {"send": {"text": "hi", "key": "k1234567"}}."""
        self.ws.send(json.dumps(notice))

    def text(self):
        """Everything received so far, joined."""
        with self._lock:
            return "".join(self.frames)

    def wait_for_text(self, needle, timeout=10):
        wait_for(lambda: needle in self.text(), timeout, message=f"{needle!r} on the socket")
        return self.text()

    def seqs(self, chat_id):
        """Sequence numbers of the chat's messages, in the order they arrived (repeats kept)."""
        return [int(seq) for chat, seq in ARTICLE.findall(self.text()) if int(chat) == chat_id]

    def wait_for_seq(self, chat_id, seq, timeout=10):
        wait_for(lambda: seq in self.seqs(chat_id), timeout, message=f"message {seq} of chat {chat_id}")

    def wait_closed(self, timeout=10):
        wait_for(self.closed.is_set, timeout, message="the socket to close")
        return self.close_code

    def close(self):
        """Close as a browser does: send a close frame, wait for the reply, drop the connection."""
        if not self.closed.is_set():
            try:
                self.ws.send_close()
            except Exception:  # noqa: BLE001 - already gone
                pass
            self.closed.wait(5)
        self.ws.shutdown()
        self._reader.join(5)


class Browser:
    """A requests session with the page's CSRF token, and the sockets it opened."""

    def __init__(self, url):
        self.url = url
        self.http = requests.Session()
        # a fresh connection per request: reusing one the server's 2 s keep-alive is just closing
        # fails now and then with "connection reset", which is the test's race, not the product's
        self.http.headers["Connection"] = "close"
        self.token = None
        self.sockets = []

    def get(self, path, **kwargs):
        response = self.http.get(self.url + path, timeout=10, **kwargs)
        if "csrf-token" in response.text:
            self.token = csrf_from(response.text)
        return response

    def post(self, path, data=None, csrf=True, **kwargs):
        """POST as htmx does (its header and the token in a header), or as a plain form."""
        headers = {"X-CSRF-Token": self.token, "HX-Request": "true"} if csrf and self.token else {}
        return self.http.post(self.url + path, data=data or {}, headers=headers, timeout=10, **kwargs)

    def cookie_header(self, path):
        request = requests.Request("GET", self.url + path).prepare()
        return get_cookie_header(self.http.cookies, request) or ""

    def socket(self, path, hello=None, origin="same"):
        """Open a socket on `path` with this browser's cookies; `origin` "same" is the server's URL."""
        ws_url = "ws" + self.url[len("http") :] + path
        origin = self.url if origin == "same" else origin
        sock = Socket(ws_url, self.cookie_header(path), origin, hello)
        self.sockets.append(sock)
        return sock

    def close(self):
        for sock in self.sockets:
            sock.close()
        self.http.close()


class AgentClient(Browser):
    """An agent signed in on the console."""

    def __init__(self, url, username, password=None):
        super().__init__(url)
        self.username = username
        self.password = password or PASSWORDS[username]

    def login(self):
        self.get("/login")
        response = self.post(
            "/login", {"username": self.username, "password": self.password, "csrf_token": self.token}, False
        )
        assert response.status_code == 200 and response.url == self.url + "/", response.text
        self.token = csrf_from(response.text)
        return self

    def console(self):
        response = self.get("/")
        assert response.status_code == 200 and response.url == self.url + "/", response.url
        return response.text

    def profile_id(self, name):
        found = re.search(r'<option value="(\d+)">' + re.escape(name) + "</option>", self.console())
        assert found, f"no profile {name!r} to log on with"
        return found.group(1)

    def log_on(self, profile="Support desk"):
        response = self.post("/status/logon", {"profile": self.profile_id(profile)})
        assert response.status_code == 200, response.text
        return response

    def status(self):
        """The status line of the console: "Logged off", "Available", "Paused"."""
        html = self.console()
        return re.search(r'<span class="state (\w+)">', html).group(1)

    def connect(self, seqs=None, modes=None):
        hello = {"seqs": {str(k): v for k, v in (seqs or {}).items()}}
        hello["modes"] = {str(k): v for k, v in (modes or {}).items()}
        return self.socket("/ws/console", hello)

    def offer_id(self, chat_id):
        """The pending offer of the chat in this agent's console, or None."""
        found = re.search(
            rf'id="controls-{chat_id}".*?/offers/(\d+)/accept', self.console(), re.DOTALL | re.ASCII
        )
        return int(found.group(1)) if found else None

    def accept(self, chat_id):
        offer = wait_for(lambda: self.offer_id(chat_id), message=f"an offer of chat {chat_id}")
        response = self.post(f"/offers/{offer}/accept")
        assert response.status_code == 200, response.text
        return offer

    def say(self, chat_id, text):
        return self.post(f"/chats/{chat_id}/messages", {"text": text})


class ChatterClient(Browser):
    """A visitor on the chat page of one queue."""

    def __init__(self, url, slug="support"):
        super().__init__(url)
        self.slug = slug
        self.chat_id = None

    @property
    def cookie_name(self):
        return f"parley_chat_{self.slug}"

    def start(self, name="", email=""):
        self.get(f"/chat/{self.slug}")
        response = self.post(
            f"/chat/{self.slug}", {"name": name, "email": email, "csrf_token": self.token}, False
        )
        assert response.status_code == 200, response.text
        self.token = csrf_from(response.text)
        self.chat_id = int(re.search(r'id="log-(\d+)"', response.text).group(1))
        return self.chat_id

    def page(self):
        return self.get(f"/chat/{self.slug}")

    def say(self, text):
        return self.post(f"/chat/{self.slug}/messages", {"text": text})

    def end(self):
        return self.post(f"/chat/{self.slug}/end")

    def connect(self, seq=0, mode="open"):
        hello = {"seqs": {str(self.chat_id): seq}, "modes": {str(self.chat_id): mode}}
        return self.socket(f"/chat/{self.slug}/ws", hello)


class People:
    """Everyone a test brings to a server; closes their sockets and sessions at the end."""

    def __init__(self):
        self.everyone = []

    def agent(self, server, username, profile=None):
        """An agent signed in on `server`, logged on with `profile` if given."""
        agent = AgentClient(server.url, username)
        self.everyone.append(agent)
        agent.login()
        if profile:
            agent.log_on(profile)
        return agent

    def chatter(self, server, slug="support"):
        chatter = ChatterClient(server.url, slug)
        self.everyone.append(chatter)
        return chatter

    def browser(self, server):
        """A browser with no session and no chat."""
        browser = Browser(server.url)
        self.everyone.append(browser)
        return browser

    def close(self):
        for person in self.everyone:
            person.close()


def fetch(url):
    """(status, body) of a plain GET, an error status included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()


def rows(server, sql, *args):
    """Read the server's database directly: what was stored, whatever the pages say."""
    return run_sql(server, sql, *args)


def run_sql(server, sql, *args):
    """Run `sql` (with ? placeholders) on the server's database, SQLite or PostgreSQL; the rows."""
    if server.database_url:
        import psycopg

        with psycopg.connect(server.database_url, autocommit=True) as db:
            cursor = db.execute(sql.replace("?", "%s"), args)
            return cursor.fetchall() if cursor.description else []
    with closing(sqlite3.connect(server.folder / "parley.db", timeout=10)) as db, db:
        return db.execute(sql, args).fetchall()
