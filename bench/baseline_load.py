"""The same load shape against the baselines: N chat sockets and M agent sockets, one message every ~5 s
per side of each chat, driven by the same aiohttp client as Parley's run."""

import asyncio
import json
import random
import time

import aiohttp

from bench.load import TOKEN, Run, message_text


class BaselineRun(Run):
    """`echo`: every message comes back on its own socket (round trip). `socketio`: chatter and agent
    share a room per chat; a message is stored in SQLite and relayed to the other side."""

    def __init__(self, kind, url, rec):
        self.kind = kind
        self.url = url
        self.ws_url = url.replace("http://", "ws://")
        self.rec = rec
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.chatters = []  # sockets
        self.agents = []
        self.assignments = {}  # chat index -> agent index
        self.tasks = set()
        self.gate = asyncio.Semaphore(16)

    async def _open(self, rooms, direction):
        async with self.gate:
            if self.kind == "echo":
                ws = await self.session.ws_connect(self.ws_url + "/ws", max_msg_size=0)
            else:
                ws = await self.session.ws_connect(
                    self.ws_url + "/socket.io/?EIO=4&transport=websocket", max_msg_size=0
                )
                opened = await ws.receive_str()
                assert opened.startswith("0"), opened
                await ws.send_str("40")
                connected = await ws.receive_str()
                assert connected.startswith("40"), connected
                for room in rooms:
                    await ws.send_str("42" + json.dumps(["join", room]))
        asyncio.ensure_future(self._read(ws, direction))
        return ws

    async def _read(self, ws, direction):
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = msg.data
            if data == "2":  # Engine.IO ping
                await ws.send_str("3")
                continue
            now = time.monotonic()
            for uid in TOKEN.findall(data):
                if self.kind == "echo" or uid[0] != direction:
                    self.rec.arrive(uid, now)

    async def start(self, chats, agents):
        for i in range(chats):
            self.assignments[i] = i % max(1, agents)
        self.agents = await asyncio.gather(
            *(
                self._open([f"chat{c}" for c, a in self.assignments.items() if a == j], "a")
                for j in range(agents)
            )
        )
        self.chatters = await asyncio.gather(*(self._open([f"chat{i}"], "c") for i in range(chats)))

    async def _send(self, ws, direction, room):
        uid = self.rec.new_id(direction)
        self.rec.sending(uid)
        text = message_text(uid)
        try:
            if self.kind == "echo":
                await ws.send_str(text)
            else:
                await ws.send_str("42" + json.dumps(["msg", {"r": room, "t": text}]))
        except Exception as e:  # noqa: BLE001
            self.rec.unsent(uid)
            self.rec.error("send", repr(e))

    def spawn(self, coro):
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def converse(self, seconds, every=5.0):
        end = time.monotonic() + seconds

        async def loop(ws, direction, room):
            await asyncio.sleep(random.uniform(0, every))
            while time.monotonic() < end:
                self.spawn(self._send(ws, direction, room))
                await asyncio.sleep(random.uniform(0.8 * every, 1.2 * every))

        loops = [loop(ws, "c", f"chat{i}") for i, ws in enumerate(self.chatters)]
        if self.agents:
            loops += [loop(self.agents[a], "a", f"chat{c}") for c, a in self.assignments.items()]
        await asyncio.gather(*loops)

    def sockets_open(self):
        return sum(1 for ws in self.chatters + self.agents if not ws.closed)

    async def close(self):
        await asyncio.gather(*(ws.close() for ws in self.chatters + self.agents), return_exceptions=True)
        await self.session.close()
