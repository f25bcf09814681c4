"""Two Parley processes on one PostgreSQL and one Redis, behind nginx configured as docs/SCALING.md says:
a chat with its chatter on one process and its agent on the other, races decided once, a process
killed under a stream of messages, and Redis restarted."""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from clients import rows
from conftest import PASSWORDS, Parley, children, wait_for
from services import Nginx
from test_limits import sign_in, too_many
from test_live import active_chat, texts


class Cluster:
    """Parley processes sharing one database, one bus and one data folder, and nginx in front."""

    def __init__(self, folder, database_url, bus_url, **settings):
        self.settings = settings  # Parley's: leave_grace, offer_timeout
        self.folder = folder
        self.database_url = database_url
        self.bus_url = bus_url
        self.servers = []
        self.proxy = None

    def start(self, count=2):
        for _ in range(count):
            env = {"PARLEY_BUS_URL": self.bus_url, "PARLEY_TRUSTED_PROXIES": "1"}
            server = Parley(self.folder, database_url=self.database_url, env=env, **self.settings)
            self.servers.append(server.start())
        self.proxy = Nginx([s.port for s in self.servers]).start()
        return self

    @property
    def url(self):
        return self.proxy.url

    def stop(self):
        if self.proxy:
            self.proxy.remove()
        for server in self.servers:
            server.stop()


@pytest.fixture
def cluster(tmp_path, postgres_database, redis_server):
    yield from _cluster(tmp_path, postgres_database, redis_server)


@pytest.fixture
def quick_cluster(tmp_path, postgres_database, redis_server):
    """A cluster whose chatters count as gone 1 s after their last page closed."""
    yield from _cluster(tmp_path, postgres_database, redis_server, leave_grace=1)


def _cluster(tmp_path, postgres_database, redis_server, **settings):
    folder = tmp_path / "data"
    folder.mkdir()
    cluster = Cluster(folder, postgres_database("parley_org"), redis_server.new_url(), **settings)
    yield cluster.start()
    cluster.stop()
    for server in cluster.servers:
        assert not server.errors(), server.log.read_text()


def kill_hard(server):
    """kill -9 the process and its worker, as when the machine dies."""
    pid = server.process.pid
    for each in (pid, *children(pid)):
        os.kill(each, signal.SIGKILL)
    server.process.wait()


def test_a_chatter_on_one_process_and_its_agent_on_the_other_chat_as_on_one(cluster, people):
    one, other = cluster.servers
    ann = people.agent(other, "ann", "Support desk")
    console = ann.connect()
    console.wait_for_text('id="status"')
    chatter = people.chatter(one)
    chat = chatter.start(name="Vera Visitor")
    page = chatter.connect()
    console.wait_for_text(f'id="tab-{chat}"')  # the offer, made on one process, shown by the other
    ann.accept(chat)
    page.wait_for_text("Ann Agent joined the chat.")

    page.send({"send": {"text": "hello from one", "key": "k1234567"}})
    console.wait_for_text("hello from one")
    assert ann.say(chat, "hello from the other").status_code == 204
    page.wait_for_text("hello from the other")

    page.send({"typing": chat})
    console.wait_for_text("Vera Visitor is typing…")
    console.send({"typing": chat, "private": False})
    page.wait_for_text("Ann Agent is typing…")

    private = ann.post(f"/chats/{chat}/messages", {"text": "psst, colleagues only", "private": "yes"})
    assert private.status_code == 204
    assert ann.say(chat, "after the note").status_code == 204
    page.wait_for_text("after the note")
    console.wait_for_text("after the note")
    assert "psst, colleagues only" in console.text()
    assert "psst" not in page.text()

    assert chatter.end().status_code in (200, 204)
    console.wait_for_text("ended the chat")
    assert page.seqs(chat) == sorted(set(page.seqs(chat)))
    assert console.seqs(chat) == sorted(set(console.seqs(chat)))


def test_accepts_racing_on_two_processes_have_exactly_one_winner(cluster, people):
    one, other = cluster.servers
    tabs = [people.agent(one, "ann", "Support desk"), people.agent(other, "ann")]
    for round in range(4):
        chatter = people.chatter(one if round % 2 else other)
        chat = chatter.start()
        offer = wait_for(lambda chat=chat: tabs[0].offer_id(chat), message=f"an offer of chat {chat}")
        start = threading.Barrier(2)

        def accept(tab, offer=offer, start=start):
            start.wait()
            return tab.post(f"/offers/{offer}/accept").status_code

        with ThreadPoolExecutor(2) as pool:
            answers = sorted(pool.map(accept, tabs))
        assert answers == [200, 409]
        assert rows(one, "select count(*) from participant where chat_id = ?", chat) == [(1,)]
        assert chatter.end().status_code in (200, 204)


def test_a_process_killed_under_a_stream_of_messages_loses_none(cluster, people):
    """Pages reconnect through nginx to the survivor and resync: every acknowledged message is there
    once, in order."""
    proxied = cluster.proxy
    ann, chatter, chat = active_chat(proxied, people)
    console = ann.connect(seqs={chat: 1}, modes={chat: "active"})
    page = chatter.connect(seq=1)
    said = []
    stop = threading.Event()

    def keep_saying():
        n = 0
        while not stop.is_set() and n < 400:
            try:
                response = chatter.say(f"line {n}")
            except OSError:
                response = None
            if response is not None and response.status_code == 204:
                said.append(f"line {n}")  # acknowledged: it must be there
            n += 1

    wait_for(lambda: holders(cluster), message="the sockets to be held")
    victim = max(cluster.servers, key=lambda s: holders(cluster).count(s))
    survivor = next(s for s in cluster.servers if s is not victim)
    with ThreadPoolExecutor(1) as pool:
        saying = pool.submit(keep_saying)
        wait_for(lambda: len(said) >= 20, timeout=30, message="20 messages acknowledged")
        kill_hard(victim)
        wait_for(lambda: len(said) >= 60, timeout=30, message="messages acknowledged after the kill")
        stop.set()
        saying.result()

    # a page whose socket was on the dead process reconnects, as parley.js does, with what it holds:
    # what it shows is what the first socket brought, then the second
    def shown(sock, reconnect):
        if not sock.closed.is_set():
            return [sock]
        return [sock, reconnect(max(sock.seqs(chat), default=1))]

    pages = [
        shown(console, lambda held: ann.connect(seqs={chat: held}, modes={chat: "active"})),
        shown(page, lambda held: chatter.connect(seq=held)),
    ]
    assert len(pages[0]) + len(pages[1]) > 2, "no page was on the killed process"
    stored = rows(survivor, "select text from message where chat_id = ? order by seq", chat)
    stored = [text for (text,) in stored if text.startswith("line ")]
    assert set(said) <= set(stored)
    assert stored == sorted(set(stored), key=lambda t: int(t.split()[1]))  # once each, in order

    def lines(socks):
        return [t for sock in socks for t in texts(sock.text()) if t.startswith("line ")]

    for socks in pages:
        wait_for(lambda socks=socks: lines(socks) == stored, timeout=20, message="every line, once, in order")


def holders(cluster):
    """The server of each established connection (the proxy's sockets to the processes)."""
    ports = {server.port: server for server in cluster.servers}
    rows = (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
    local = (int(r[1].split(":")[1], 16) for r in rows if r[3] == "01")
    return [ports[port] for port in local if port in ports]


def test_after_redis_restarts_every_page_resyncs(cluster, redis_server, people):
    one, other = cluster.servers
    ann = people.agent(other, "ann", "Support desk")
    chatter = people.chatter(one)
    chat = chatter.start(name="Ray Restart")
    ann.accept(chat)
    console = ann.connect(seqs={chat: 1}, modes={chat: "active"})
    page = chatter.connect(seq=1)
    assert ann.say(chat, "before the restart").status_code == 204
    page.wait_for_text("before the restart")

    redis_server.stop()
    assert ann.say(chat, "while Redis is away").status_code == 204  # stored, but heard by nobody else
    redis_server.start()
    # each process hears again and closes its pages, which reconnect with what they hold and resync
    for sock in (console, page):
        assert sock.wait_closed(timeout=20) == 1012
    console = ann.connect(seqs={chat: max(console.seqs(chat))}, modes={chat: "active"})
    page = chatter.connect(seq=max(page.seqs(chat)))
    page.wait_for_text("while Redis is away")
    assert ann.say(chat, "after the restart").status_code == 204
    page.wait_for_text("after the restart")
    page.send({"send": {"text": "heard you", "key": "k7654321"}})
    console.wait_for_text("heard you")
    assert page.seqs(chat) == sorted(set(page.seqs(chat)))


def test_limits_count_across_processes(cluster, people):
    """Failed sign-ins as one user on either process count together (the limits live in Redis)."""
    one, other = cluster.servers
    for server in (one, other, one, other, one):  # the default limit: 5 per minute
        assert sign_in(people.browser(server), "ben", "not-his-password").status_code == 401
    too_many(sign_in(people.browser(other), "ben", PASSWORDS["ben"]), "failed sign-ins as this user")


def test_a_chatter_with_a_page_left_on_another_process_is_not_taken_for_gone(quick_cluster, people):
    """Their page on one process closes while another stays open on the other process: the chat goes
    on as "Connected"; once that one closes too, they count as gone."""
    bus = quick_cluster.bus_url
    one, other = quick_cluster.servers
    ann = people.agent(other, "ann", "Support desk")
    chatter = people.chatter(one)
    chat = chatter.start(name="Tess Tabs")
    ann.accept(chat)
    here = chatter.connect(seq=1)
    twin = people.chatter(other)  # the same browser's second tab, on the other process
    twin.http.cookies.update(chatter.http.cookies)
    twin.chat_id = chat
    there = twin.connect(seq=1)
    listeners = redis.Redis.from_url(bus)
    channel = f"parley:{bus.rsplit('/', 1)[1]}:chat:{chat}"
    wait_for(lambda: listeners.pubsub_numsub(channel) == [(channel.encode(), 2)], message="both pages")

    here.close()
    wait_for(lambda: listeners.pubsub_numsub(channel) == [(channel.encode(), 1)], message="one page")
    away = "select chatter_away_since, chatter_left_at from chat where id = ?"
    # a negative: nothing may take them for away over twice the grace and the routing ticks
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert rows(one, away, chat) == [(None, None)]
        time.sleep(0.1)

    there.close()
    wait_for(lambda: rows(one, away, chat)[0][1] is not None, message="the chatter taken for gone")
    listeners.close()


def test_a_chatter_whose_page_was_on_a_killed_process_is_taken_for_gone(quick_cluster, people):
    """A process that dies says nothing of its pages: the survivor finds the chatter whose only page
    was there (no process hears their chat any more) and takes them for gone after the grace."""
    doomed, survivor = quick_cluster.servers
    ann = people.agent(survivor, "ann", "Support desk")
    chatter = people.chatter(doomed)
    chat = chatter.start(name="Kim Killed")
    ann.accept(chat)
    chatter.connect(seq=1)
    state = "select chatter_away_since is not null, chatter_left_at is not null from chat where id = ?"
    wait_for(
        lambda: rows(survivor, state, chat) == [(False, False)], timeout=20, message="the page connected"
    )

    kill_hard(doomed)
    wait_for(lambda: rows(survivor, state, chat) == [(True, True)], timeout=30, message="taken for gone")
    said = "select text from message where chat_id = ? order by seq"
    assert ("Kim Killed left the chat.",) in rows(survivor, said, chat)
