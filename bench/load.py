"""The clients: chat pages and agent consoles that behave like Parley's browser page, over aiohttp.

One asyncio loop holds every socket. A message's text carries a unique id and its send time;
the receiving side's socket finds the id in the pushed fragment.
"""

import asyncio
import itertools
import json
import random
import re
import time

import aiohttp

from bench.servers import PASSWORD, SLUG

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PROFILE = re.compile(r'<option value="(\d+)"')
CHAT_ID = re.compile(r'data-log="(\d+)"')
TOKEN = re.compile(r"bench ([ca]\d{7}) ")
OFFER = re.compile(r'/offers/(\d+)/accept"')
PANEL = re.compile(r'id="panel-(\d+)"')
MESSAGE_SEQ = re.compile(r'id="m-(\d+)-(\d+)"')
MODE = re.compile(r'data-controls="(\d+)" data-mode="([a-z]+)"')
SENT_BACK = re.compile(r'data-(key|refused)="([ca]\d{7})"')
RECONNECT = {1006, 1011, 1012, 1013}
HX = {"HX-Request": "true"}
ADDRESSES = itertools.count(1)  # each page a visitor of its own, as Parley's limits count them


def client_address():
    """The next address a page comes from (10.0.0.1, 10.0.0.2, …), as a trusted proxy would name it
    in X-Forwarded-For: the server under test trusts one proxy (bench/servers.py)."""
    n = next(ADDRESSES)
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def message_text(uid):
    return f"bench {uid} {time.time():.6f} hello from the load generator"


class Page:
    """What a browser page keeps: cookies, the CSRF token, and its socket with the hello protocol."""

    def __init__(self, run, name):
        self.run = run
        self.name = name
        self.session = aiohttp.ClientSession(
            connector=run.connector,
            connector_owner=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=60),
            headers={"X-Forwarded-For": client_address()},
        )
        self.csrf = ""
        self.ws = None
        self.seqs = {}  # chat id -> last message seq on the page
        self.modes = {}  # chat id -> the controls' mode on the page
        self.reader = None
        self.closing = False
        self.open_sockets = 0
        self.outbox = {}  # key -> message sent over the socket, until it comes back with that key

    async def get(self, path):
        async with self.session.get(self.run.url + path) as r:
            text = await r.text()
            if r.status != 200:
                raise RuntimeError(f"GET {path}: {r.status}")
        m = CSRF.search(text)
        if m:
            self.csrf = m.group(1)
        return text

    async def post(self, path, data, expect=(200, 204), htmx=True):
        headers = dict(HX, **{"X-CSRF-Token": self.csrf}) if htmx else {}
        async with self.session.post(self.run.url + path, data=data, headers=headers) as r:
            text = await r.text()
            if r.status not in expect:
                raise RuntimeError(f"POST {path}: {r.status} {text[:200]}")
            return text

    async def connect(self, path):
        self.path = path
        self.ws = await self.session.ws_connect(
            self.run.ws_url + path, headers={"Origin": self.run.url}, autoping=True, max_msg_size=0
        )
        hello = {
            "seqs": {str(k): v for k, v in self.seqs.items()},
            "modes": {str(k): v for k, v in self.modes.items()},
        }
        await self.ws.send_str(json.dumps(hello))
        for message in list(self.outbox.values()):  # as parley.js does after a reconnect
            await self.ws.send_str(json.dumps({"send": message}))
        self.run.sockets += 1
        if self.reader is None:
            self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        while True:
            msg = await self.ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                now = time.monotonic()
                self.track(msg.data)
                self.on_fragment(msg.data, now)
                continue
            if msg.type == aiohttp.WSMsgType.ERROR:
                self.run.rec.error("socket error", f"{self.name}: {self.ws.exception()}")
                continue
            # closed
            self.run.sockets -= 1
            if self.closing:
                return
            code = self.ws.close_code
            self.run.rec.error(f"socket closed {code}", self.name)
            if code not in RECONNECT and code is not None:
                return
            await asyncio.sleep(random.random())  # as htmx does: back after a random delay
            try:
                self.ws = None
                await self.connect(self.path)
                self.run.reconnects += 1
            except Exception as e:  # noqa: BLE001
                self.run.rec.error("reconnect failed", f"{self.name}: {e!r}")
                return

    async def send_message(self, uid, fallback, **message):
        """Send as parley.js does: over the socket while it is open, else by POST to `fallback`."""
        self.run.rec.sending(uid)
        text = message_text(uid)
        try:
            if self.ws is not None and not self.ws.closed:
                self.outbox[uid] = dict(message, text=text, key=uid)
                await self.ws.send_str(json.dumps({"send": self.outbox[uid]}))
            else:
                await self.post(fallback, {"text": text}, expect=(204,))
        except Exception as e:  # noqa: BLE001
            self.run.rec.unsent(uid)
            self.run.rec.error(f"{self.name[:5]} send", repr(e))

    def track(self, html):
        """Remember the last message seq per chat and the controls' mode, for the hello on reconnect."""
        for what, key in SENT_BACK.findall(html):
            self.outbox.pop(key, None)
            if what == "refused":
                self.run.rec.error("message refused", f"{self.name}: {html[:200]}")
        for chat_id, seq in MESSAGE_SEQ.findall(html):
            self.seqs[int(chat_id)] = max(self.seqs.get(int(chat_id), 0), int(seq))
        for chat_id, mode in MODE.findall(html):
            self.modes[int(chat_id)] = mode

    def on_fragment(self, html, now):
        raise NotImplementedError

    def arrivals(self, html, now, direction):
        for uid in TOKEN.findall(html):
            if uid[0] == direction:
                self.run.rec.arrive(uid, now)

    async def close(self):
        self.closing = True
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self.reader is not None:
            try:
                await asyncio.wait_for(self.reader, 5)
            except (TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001
                self.reader.cancel()
        await self.session.close()


class Chatter(Page):
    """A visitor on the chat page of the bench queue."""

    def __init__(self, run, index):
        super().__init__(run, f"chatter{index}")
        self.index = index
        self.chat_id = None

    async def open_page(self):
        await self.get(f"/chat/{SLUG}")

    async def start(self):
        started = time.monotonic()
        self.run.rec.offer_started[self.index] = started
        form = {"name": self.name, "csrf_token": self.csrf}
        # as htmx sends the pre-chat form: the chat comes back at once, without a redirect
        page = await self.post(f"/chat/{SLUG}", form, expect=(200,))
        self.chat_id = int(CHAT_ID.search(page).group(1))
        m = CSRF.search(page)
        if m:
            self.csrf = m.group(1)
        self.run.chat_of_key[self.chat_id] = self.index
        self.run.chatters_by_chat[self.chat_id] = self
        await self.connect(f"/chat/{SLUG}/ws")

    def on_fragment(self, html, now):
        self.arrivals(html, now, "a")

    async def send(self):
        await self.send_message(self.run.rec.new_id("c"), f"/chat/{SLUG}/messages")


class Agent(Page):
    """An agent's console: logs in, logs on, accepts every offer and replies in its chats."""

    def __init__(self, run, index):
        super().__init__(run, f"agent{index}")
        self.index = index
        self.chats = []
        self.offers_seen = set()

    async def log_in(self):
        page = await self.get("/login")
        token = FORM_CSRF.search(page).group(1)
        data = {"username": self.name, "password": PASSWORD, "csrf_token": token}
        async with self.session.post(self.run.url + "/login", data=data) as r:
            console = await r.text()
            if r.status != 200:
                raise RuntimeError(f"login {self.name}: {r.status}")
        self.csrf = CSRF.search(console).group(1)
        self.profile = PROFILE.search(console).group(1)
        await self.connect("/ws/console")

    async def log_on(self):
        await self.post("/status/logon", {"profile": self.profile})

    def on_fragment(self, html, now):
        self.arrivals(html, now, "c")
        if "/offers/" not in html:
            return
        # each offered chat's panel holds its Accept button
        starts = [(m.start(), int(m.group(1))) for m in PANEL.finditer(html)]
        for i, (pos, chat_id) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(html)
            offer = OFFER.search(html, pos, end)
            if offer and chat_id not in self.offers_seen:
                self.offers_seen.add(chat_id)
                self.run.offered(chat_id, now)
                self.run.spawn(self.accept(int(offer.group(1)), chat_id))

    async def accept(self, offer_id, chat_id):
        try:
            await self.post(f"/offers/{offer_id}/accept", {})
        except Exception as e:  # noqa: BLE001
            self.run.rec.error("accept", repr(e))
            return
        self.chats.append(chat_id)
        self.run.accepted += 1

    async def send(self, chat_id):
        await self.send_message(self.run.rec.new_id("a"), f"/chats/{chat_id}/messages", chat=chat_id)


class Run:
    """What every driven run shares: `tasks` in flight and a recorder `rec` of sent and arrived."""

    async def drain(self, timeout, quiet=10.0):
        """Wait for in-flight sends and for every sent message to arrive: until none is missing, or
        nothing has arrived for `quiet` seconds, or `timeout`. What is still missing then is lost."""
        deadline = time.monotonic() + timeout
        seen, since = -1, time.monotonic()
        while (self.tasks or self.rec.pending()) and time.monotonic() < deadline:
            arrived = len(self.rec.arrived)
            if arrived != seen:
                seen, since = arrived, time.monotonic()
            elif time.monotonic() - since > quiet:
                break
            await asyncio.sleep(0.05)


class ParleyRun(Run):
    """Chatters and agents against one Parley server."""

    def __init__(self, url, rec, concurrency=16):
        self.url = url
        self.ws_url = url.replace("http://", "ws://")
        self.rec = rec
        self.connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=1, force_close=False)
        self.gate = asyncio.Semaphore(concurrency)
        self.sockets = 0
        self.reconnects = 0
        self.accepted = 0
        self.chatters = []
        self.agents = []
        self.chat_of_key = {}
        self.chatters_by_chat = {}
        self.early_offers = {}
        self.tasks = set()

    def spawn(self, coro):
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def offered(self, chat_id, now):
        key = self.chat_of_key.get(chat_id)
        if key is None:  # the offer beat the chatter's page: match it up later
            self.early_offers[chat_id] = now
        elif key not in self.rec.offered:
            self.rec.offered[key] = now

    def match_offers(self):
        for chat_id, now in self.early_offers.items():
            key = self.chat_of_key.get(chat_id)
            if key is not None:
                self.rec.offered.setdefault(key, now)

    async def gated(self, coro, what):
        async with self.gate:
            try:
                return await coro
            except Exception as e:  # noqa: BLE001
                self.rec.error(what, repr(e))

    async def start_agents(self, count):
        self.agents = [Agent(self, i) for i in range(count)]
        await asyncio.gather(*(self.gated(a.log_in(), "agent login") for a in self.agents))
        await asyncio.gather(*(self.gated(a.log_on(), "agent logon") for a in self.agents))

    async def open_chatters(self, count):
        first = len(self.chatters)
        new = [Chatter(self, first + i) for i in range(count)]
        self.chatters += new
        await asyncio.gather(*(self.gated(c.open_page(), "chat page") for c in new))
        return new

    async def start_chats(self, chatters, within=None):
        """Start the chats, as fast as the gate allows or spread evenly over `within` seconds."""
        if within is None:
            await asyncio.gather(*(self.gated(c.start(), "start chat") for c in chatters))
        else:
            t0 = time.monotonic()

            async def at(i, c):
                await asyncio.sleep(max(0.0, t0 + within * i / len(chatters) - time.monotonic()))
                try:
                    await c.start()
                except Exception as e:  # noqa: BLE001
                    self.rec.error("start chat", repr(e))

            await asyncio.gather(*(at(i, c) for i, c in enumerate(chatters)))
        self.match_offers()

    async def wait_accepted(self, count, timeout):
        deadline = time.monotonic() + timeout
        while self.accepted < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.match_offers()
        return self.accepted

    async def converse(self, seconds, every=5.0):
        """Each side of each chat sends a message about every `every` seconds for `seconds`."""
        end = time.monotonic() + seconds

        async def loop(send):
            await asyncio.sleep(random.uniform(0, every))
            while time.monotonic() < end:
                self.spawn(send())
                await asyncio.sleep(random.uniform(0.8 * every, 1.2 * every))

        loops = [loop(c.send) for c in self.chatters if c.chat_id is not None]
        for agent in self.agents:
            loops += [loop(lambda a=agent, cid=chat_id: a.send(cid)) for chat_id in agent.chats]
        await asyncio.gather(*loops)

    def sockets_open(self):
        return sum(1 for p in self.chatters + self.agents if p.ws is not None and not p.ws.closed)

    async def close(self):
        await asyncio.gather(*(p.close() for p in self.chatters + self.agents), return_exceptions=True)
        await self.connector.close()
