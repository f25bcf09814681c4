"""The live protocol over a real server: sockets, hello and resync, Origin, restarts, departures."""

import json
import re
import select
import time
from concurrent.futures import ThreadPoolExecutor

import gevent
import gevent.socket
import pytest
import requests
import websocket
from conftest import Parley, wait_for

from live.adapter import LockedSocket
from server import GRACEFUL_TIMEOUT

pytestmark = pytest.mark.both_engines  # each test on SQLite and on PostgreSQL


def active_chat(server, people, name="Vera Visitor"):
    """Ann on the Support desk with an accepted chat from a chatter: (ann, chatter, chat id)."""
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = chatter.start(name=name)
    ann.accept(chat)
    return ann, chatter, chat


def texts(html):
    return re.findall(r'<p class="text">([^<]*)</p>', html)


def tab_fragment(html, chat_id):
    found = re.search(rf'<button type="button" role="tab" id="tab-{chat_id}".*?</button>', html, re.DOTALL)
    assert found, f"no tab for chat {chat_id} in {html!r}"
    return found.group(0)


def deleted(chat_id):
    return f'<div id="tab-item-{chat_id}" hx-swap-oob="delete"></div>'


# --- messages ---------------------------------------------------------------------------------


def test_messages_arrive_exactly_once_and_in_order(server, people):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    page = chatter.connect()
    n = 30

    def chatter_writes():
        return [chatter.say(f"from chatter {i}").status_code for i in range(n)]

    def agent_writes():
        return [ann.say(chat, f"from agent {i}").status_code for i in range(n)]

    with ThreadPoolExecutor(2) as pool:
        sent = [pool.submit(chatter_writes), pool.submit(agent_writes)]
        assert [f.result() for f in sent] == [[204] * n, [204] * n]

    total = 1 + 2 * n  # "Ann Agent joined the chat." first
    for sock in (console, page):
        sock.wait_for_seq(chat, total)
        assert sock.seqs(chat) == list(range(1, total + 1))
        said = texts(sock.text())
        assert [t for t in said if t.startswith("from chatter")] == [f"from chatter {i}" for i in range(n)]
        assert [t for t in said if t.startswith("from agent")] == [f"from agent {i}" for i in range(n)]


def test_offer_arrives_on_agent_socket_with_chatter_name(server, people):
    ann = people.agent(server, "ann", "Support desk")
    console = ann.connect()
    console.wait_for_text('id="status"')
    chatter = people.chatter(server)
    chat = chatter.start(name="Olga Offer")
    html = console.wait_for_text(f'id="tab-{chat}"')
    assert "Olga Offer" in tab_fragment(html, chat)
    assert f"/offers/{ann.offer_id(chat)}/accept" in html


def test_offer_shows_what_the_chatter_wrote_while_waiting(server, people):
    chatter = people.chatter(server)
    chat = chatter.start(name="Early Bird")
    assert chatter.say("anyone there?").status_code == 204
    ann = people.agent(server, "ann")
    console = ann.connect()
    console.wait_for_text('id="status"')
    ann.log_on("Support desk")
    html = console.wait_for_text(f'id="tab-{chat}"')
    assert "anyone there?" in texts(html)
    assert console.seqs(chat) == [1]


# --- reconnect and resync ------------------------------------------------------------------------


def test_chatter_reconnect_gets_exactly_the_missed_messages(server, people):
    ann, chatter, chat = active_chat(server, people)
    page = chatter.connect()
    ann.say(chat, "before the break")
    page.wait_for_seq(chat, 2)
    held = max(page.seqs(chat))
    page.close()

    for text in ("missed one", "missed two", "missed three"):
        assert ann.say(chat, text).status_code == 204
    again = chatter.connect(seq=held)
    again.wait_for_seq(chat, held + 3)
    assert ann.say(chat, "after the break").status_code == 204
    again.wait_for_seq(chat, held + 4)
    assert again.seqs(chat) == [held + 1, held + 2, held + 3, held + 4]
    assert texts(again.text()) == ["missed one", "missed two", "missed three", "after the break"]


def test_console_reconnect_gets_exactly_the_missed_messages(server, people):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    console.wait_for_seq(chat, 1)
    console.close()

    for text in ("while you were away", "still here?"):
        assert chatter.say(text).status_code == 204
    again = ann.connect(seqs={chat: 1}, modes={chat: "active"})
    again.wait_for_seq(chat, 3)
    assert chatter.say("good, you are back").status_code == 204
    again.wait_for_seq(chat, 4)
    assert again.seqs(chat) == [2, 3, 4]
    assert f'role="tab" id="tab-{chat}"' not in again.text()  # the tab it holds is updated, not added again


def test_hello_with_seq_zero_gets_the_whole_log(server, people):
    ann, chatter, chat = active_chat(server, people)
    for i in range(5):
        assert chatter.say(f"line {i}").status_code == 204
    page = chatter.connect(seq=0)
    page.wait_for_seq(chat, 6)
    assert page.seqs(chat) == [1, 2, 3, 4, 5, 6]
    console = ann.connect(seqs={chat: 0}, modes={chat: "active"})
    console.wait_for_seq(chat, 6)
    assert console.seqs(chat) == [1, 2, 3, 4, 5, 6]


def test_a_frame_larger_than_the_socket_takes_at_once_is_written_whole_or_gives_up_in_time():
    frame = bytes(range(256)) * 12_000  # 3 MB: far more than a socket's buffer
    ours, browser = gevent.socket.socketpair()  # the server's sockets are gevent's
    with ours, browser:
        received = bytearray()

        def read():
            while len(received) < len(frame) and (chunk := browser.recv(65536)):
                received.extend(chunk)

        reading = gevent.spawn(read)
        with gevent.Timeout(10):
            assert LockedSocket(ours).send(frame, within=5) == len(frame)
            reading.join()
        assert received == frame
        # a browser that reads nothing: the write gives up once its time is up
        with gevent.Timeout(10), pytest.raises(TimeoutError):
            LockedSocket(ours).send(frame, within=0.2)


def test_a_ping_never_waits_on_a_socket_that_is_busy_or_full():
    """The pinger goes round every socket: one whose writer is busy, or whose browser reads nothing
    (its buffer full), must not hold it, and a ping is written whole or not at all."""
    ping = b"\x89\x00"  # a ping frame, two bytes
    ours, browser = gevent.socket.socketpair()  # the server's sockets are gevent's
    with ours, browser:
        locked = LockedSocket(ours)
        with locked._lock:  # another writer at work
            assert locked.send_if_free(ping) is False
        written = 0
        with gevent.Timeout(10):  # a ping that waited for the buffer would wait here forever
            while locked.send_if_free(ping):  # the browser reads nothing: the buffer fills
                written += len(ping)
        assert written > 0
        browser.setblocking(False)
        received = bytearray()
        while True:
            try:
                received.extend(browser.recv(65536))
            except BlockingIOError:
                break
        assert received == ping * (written // len(ping))


def test_console_hello_naming_a_withdrawn_offer_deletes_its_tab(server, people):
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = chatter.start(name="Gone Soon")
    console = ann.connect()
    console.wait_for_text(f'id="tab-{chat}"')
    console.close()

    assert chatter.end().status_code == 200  # the chatter gives up: the offer is withdrawn
    again = ann.connect(seqs={chat: 0}, modes={chat: "offer"})
    html = again.wait_for_text(deleted(chat))
    assert f'<div id="panel-{chat}" hx-swap-oob="delete"></div>' in html


def test_withdrawn_offer_disappears_from_a_connected_console(server, people):
    ann = people.agent(server, "ann", "Support desk")
    console = ann.connect()
    chatter = people.chatter(server)
    chat = chatter.start()
    console.wait_for_text(f'id="tab-{chat}"')
    assert chatter.end().status_code == 200
    console.wait_for_text(deleted(chat))


# --- who may connect -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "chatter"])
def test_socket_from_another_origin_is_refused(server, people, who):
    if who == "agent":
        client, path = people.agent(server, "ann"), "/ws/console"
    else:
        client = people.chatter(server)
        client.start()
        path = "/chat/support/ws"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        client.socket(path, hello={}, origin="http://evil.example")
    assert refused.value.status_code == 403
    same = client.socket(path, hello={}, origin="same")
    same.wait_for_text("hx-swap-oob")


def test_console_socket_without_login_gets_nothing(server, people):
    stranger = people.browser(server)
    stranger.get("/login")
    sock = stranger.socket("/ws/console", hello={})
    sock.wait_closed()
    assert sock.frames == []


def test_chat_socket_with_a_wrong_token_gets_nothing(server, people):
    chatter = people.chatter(server)
    chat = chatter.start(name="Private Person")
    assert chatter.say("my account number is 1234").status_code == 204
    for forged in ("not-the-token", str(chat)):
        stranger = people.browser(server)
        stranger.http.cookies.set("parley_chat_support", forged, path="/chat/support")
        sock = stranger.socket("/chat/support/ws", hello={"seqs": {str(chat): 0}})
        sock.wait_closed()
        assert sock.frames == []


# --- the server's life -------------------------------------------------------------------------


def test_healthz_says_ok(server):
    response = requests.get(server.url + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.text == "ok"


def test_sigterm_closes_sockets_with_1012_and_exits_cleanly(server, people):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    page = chatter.connect()
    console.wait_for_seq(chat, 1)
    page.wait_for_seq(chat, 1)

    started = time.monotonic()
    server.stop()
    took = time.monotonic() - started
    assert console.wait_closed(timeout=1) == 1012
    assert page.wait_closed(timeout=1) == 1012
    assert server.process.returncode == 0
    # not a speed target: a socket left open holds the stop for the whole graceful timeout
    assert took < GRACEFUL_TIMEOUT, f"the stop waited {took:.1f}s: a socket held it"


def test_a_page_that_never_answers_the_close_does_not_hold_the_stop(server, people):
    _, chatter, chat = active_chat(server, people)
    path = f"/chat/{chatter.slug}/ws"
    silent = websocket.create_connection(
        "ws" + server.url[len("http") :] + path, cookie=chatter.cookie_header(path), origin=server.url
    )
    silent.send(json.dumps({"seqs": {str(chat): 0}, "modes": {}}))
    assert f'id="m-{chat}-1"' in silent.recv()  # then it reads nothing more, and answers nothing

    started = time.monotonic()
    server.stop()
    took = time.monotonic() - started
    silent.close(timeout=0)
    assert server.process.returncode == 0
    assert took < GRACEFUL_TIMEOUT, f"the stop waited {took:.1f}s for a socket"


def test_a_page_whose_buffers_are_full_does_not_hold_the_stop(start_server, people):
    """A page that reads nothing while its socket's writer is stuck in the middle of a frame too big
    for the buffers: on SIGTERM its close frame cannot be written, and must not hold the others'."""
    # 1,000 messages at once: far past the default rate of a page's messages
    server = start_server(
        env={"PARLEY_PING_INTERVAL": "600", "PARLEY_LIMIT_SOCKET_MESSAGES": "1000 per second"}
    )
    ann, chatter, chat = active_chat(server, people)
    page = chatter.connect()
    long = "All of this, again and again. " * 160  # ~5 KB: 1,000 of them overflow any socket buffer
    for i in range(1000):
        page.send({"send": {"text": f"{i} {long}", "key": f"full-key-{i:04}"}})
    page.wait_for_seq(chat, 1001, timeout=30)
    path = f"/chat/{chatter.slug}/ws"
    deaf = websocket.create_connection(
        "ws" + server.url[len("http") :] + path, cookie=chatter.cookie_header(path), origin=server.url
    )
    deaf.send(json.dumps({"seqs": {str(chat): 0}, "modes": {}}))  # the whole log, ~5 MB in one frame
    wait_for(lambda: select.select([deaf.sock], [], [], 0)[0], message="the log to start arriving")
    console = ann.connect(seqs={chat: 1001}, modes={chat: "active"})
    console.wait_for_text('id="status"')  # synced

    started = time.monotonic()
    server.stop()
    took = time.monotonic() - started
    deaf.close(timeout=0)
    assert console.wait_closed(timeout=1) == 1012
    assert page.wait_closed(timeout=1) == 1012
    assert took < GRACEFUL_TIMEOUT, f"the stop waited {took:.1f}s for a socket"


def restart(server, **settings):
    """Stop `server` and start a new Parley on the same data folder (and a new port)."""
    server.stop()
    assert server.process.returncode == 0
    again = Parley(server.folder, database_url=server.database_url, **settings)
    return again.start()


def test_offer_still_expires_and_moves_on_after_a_restart(start_server, people):
    server = start_server(offer_timeout=2)
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = chatter.start(name="Patient Pat")
    chatter.connect()  # Pat's page is there (and away only while the server restarts)
    wait_for(lambda: ann.offer_id(chat), message="the offer to Ann")

    again = restart(server, offer_timeout=2)
    try:
        ben = people.agent(again, "ben", "Support desk")
        console = ben.connect()
        html = console.wait_for_text(f'id="tab-{chat}"', timeout=10)
        assert "Patient Pat" in tab_fragment(html, chat)
        assert ben.offer_id(chat) is not None
        ann.url = again.url  # the same browser: its session survives the restart
        assert ann.status() == "paused"
        assert "You missed an offer" in ann.console()
        assert ann.offer_id(chat) is None
    finally:
        again.stop()
    assert again.process.returncode == 0
    assert not again.errors(), again.log.read_text()


def test_chatter_leaving_shows_in_the_agent_log(start_server, people):
    server = start_server(leave_grace=1)
    ann, chatter, chat = active_chat(server, people, name="Lea Leaver")
    console = ann.connect(seqs={chat: 1}, modes={chat: "active"})
    page = chatter.connect()
    page.wait_for_seq(chat, 1)
    page.close()

    console.wait_for_text("Lea Leaver left the chat.", timeout=10)
    wait_for(lambda: "Has left" in console.text(), message="the details to say the chatter has left")
    assert "Has left" in ann.console()
    assert [t for t in texts(console.text()) if "left the chat" in t] == ["Lea Leaver left the chat."]


def test_a_page_that_answers_no_ping_counts_as_gone(start_server, people):
    """A page gone without a word (a laptop shut) answers no ping: its socket closes, and the chatter
    counts as gone. A page that reads its socket answers every ping and keeps it."""
    server = start_server(leave_grace=1, env={"PARLEY_PING_INTERVAL": "0.5"})
    ann, chatter, chat = active_chat(server, people, name="Sid Silent")
    console = ann.connect(seqs={chat: 1}, modes={chat: "active"})
    path = f"/chat/{chatter.slug}/ws"
    silent = websocket.create_connection(
        "ws" + server.url[len("http") :] + path, cookie=chatter.cookie_header(path), origin=server.url
    )
    silent.send(json.dumps({"seqs": {str(chat): 0}, "modes": {}}))
    assert f'id="m-{chat}-1"' in silent.recv()  # then it reads nothing more, so it answers no ping

    console.wait_for_text("Sid Silent left the chat.", timeout=10)
    silent.close(timeout=0)
    # by now the console was pinged several times: it answered, and its socket still works
    assert not console.closed.is_set()
    ann.say(chat, "Still listening.")
    console.wait_for_text("Still listening.")


def test_chatter_never_receives_private_messages(server, people):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect(seqs={chat: 1}, modes={chat: "active"})
    page = chatter.connect(seq=1)
    private = ann.post(f"/chats/{chat}/messages", {"text": "psst, colleagues only", "private": "yes"})
    assert private.status_code == 204
    assert ann.say(chat, "hello, everyone").status_code == 204

    console.wait_for_seq(chat, 3)
    assert console.seqs(chat) == [2, 3]
    assert "psst, colleagues only" in console.text() and "Private" in console.text()
    page.wait_for_seq(chat, 2)  # the chatter's own count: no gap tells of the private one
    assert page.seqs(chat) == [2]
    for html in (page.text(), chatter.page().text, chatter.get("/chat/support/transcript").text):
        assert "psst" not in html
    again = chatter.connect(seq=0)
    again.wait_for_seq(chat, 2)
    assert again.seqs(chat) == [1, 2]
    assert "psst" not in again.text()


def test_supervisor_socket_is_for_supervisors_only(server, people):
    stranger = people.browser(server)
    stranger.get("/login")
    ann = people.agent(server, "ann")
    for who in (stranger, ann):
        sock = who.socket("/ws/admin", hello={})
        sock.wait_closed()
        assert sock.frames == []
    sue = people.agent(server, "sue")
    sue.socket("/ws/admin", hello={}).wait_for_text("hx-swap-oob")
