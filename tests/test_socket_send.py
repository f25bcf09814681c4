"""Messages sent over the page's own socket: stored once per key, pushed like any other, refused
with the reason and the key (so the page gives the text back), never from a session that ended."""

import json
import re

import pytest
import websocket
from clients import rows, run_sql
from conftest import wait_for
from test_live import active_chat, texts

pytestmark = pytest.mark.both_engines  # each test on SQLite and on PostgreSQL


# for the tests that send a flood on purpose: far past the default rate of a page's messages
FLOOD = {"PARLEY_LIMIT_SOCKET_MESSAGES": "1000 per second"}


def sent(text, key, **more):
    return {"send": {"text": text, "key": key, **more}}


def stored(server, chat):
    return rows(server, "SELECT seq, sender, text, private FROM message WHERE chat_id = ? ORDER BY seq", chat)


def said(server, chat):
    return [text for _, _, text, _ in stored(server, chat)]


def test_chatter_message_over_the_socket_reaches_the_agent_and_comes_back_marked(server, people):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    page = chatter.connect()
    page.wait_for_seq(chat, 1)

    page.send(sent("Hello over the socket", "chatter-key-1"))

    console.wait_for_seq(chat, 2)
    page.wait_for_seq(chat, 2)
    assert "Hello over the socket" in texts(console.text())
    assert re.search(r'id="m-\d+-2"[^>]*data-key="chatter-key-1"', page.text())
    assert 'data-key="chatter-key-1"' not in console.text()  # only the sender's side learns its key
    assert stored(server, chat)[-1] == (2, "chatter", "Hello over the socket", 0)


def test_a_message_sent_again_after_a_reconnect_is_stored_once(server, people):
    ann, chatter, chat = active_chat(server, people)
    page = chatter.connect()
    page.send(sent("Did this arrive?", "resent-key-1"))
    page.wait_for_seq(chat, 2)
    page.close()

    # the page never saw its copy come back: it says it holds seq 1 and sends the message again
    again = chatter.connect(seq=1)
    again.send(sent("Did this arrive?", "resent-key-1"))
    again.send(sent("And this one?", "resent-key-2"))
    again.wait_for_seq(chat, 3)
    assert again.seqs(chat) == [2, 3]
    assert 'data-key="resent-key-1"' in again.text()
    assert said(server, chat).count("Did this arrive?") == 1
    console = ann.connect()
    console.wait_for_seq(chat, 3)
    assert console.seqs(chat) == [1, 2, 3]


def test_the_same_key_in_another_chat_is_another_message(server, people):
    _, first, chat1 = active_chat(server, people, "First")
    other = people.chatter(server)
    chat2 = other.start(name="Second")
    first.connect().send(sent("one", "shared-key-1"))
    other.connect().send(sent("two", "shared-key-1"))
    wait_for(lambda: "one" in said(server, chat1) and said(server, chat2) == ["two"])


def test_messages_over_one_socket_keep_their_order(start_server, people):
    server = start_server(env=FLOOD)
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    page = chatter.connect()
    for i in range(40):
        page.send(sent(f"line {i}", f"order-key-{i:03}"))
    console.wait_for_seq(chat, 41)
    assert console.seqs(chat) == list(range(1, 42))
    assert texts(console.text())[-40:] == [f"line {i}" for i in range(40)]


def test_a_message_sent_right_after_connecting_is_never_left_unread(start_server, people):
    """The page's first notice can arrive while its socket is still starting (or the server is
    between two reads): it must be handled then, not when the next one comes."""
    server = start_server(env=FLOOD)
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    for i in range(20):
        page = chatter.connect()
        page.send(sent(f"first words {i}", f"first-key-{i:03}"))
        console.wait_for_text(f"first words {i}", timeout=5)
        page.close()
    assert said(server, chat)[-20:] == [f"first words {i}" for i in range(20)]


def test_agent_private_message_over_the_socket_never_reaches_the_chatter(server, people):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    page = chatter.connect()
    console.send(sent("Only for agents", "private-key-1", chat=chat, private=True))
    console.send(sent("For everyone", "public-key-1", chat=chat))
    page.wait_for_text("For everyone")
    console.wait_for_seq(chat, 3)
    assert 'data-key="private-key-1"' in console.text()
    assert "Only for agents" not in page.text()
    assert [(seq, text, private) for seq, _, text, private in stored(server, chat)[1:]] == [
        (2, "Only for agents", 1),
        (3, "For everyone", 0),
    ]


def test_text_sent_over_the_socket_stays_text(server, people):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    chatter.connect().send(sent('<img src=x onerror="alert(1)"> & <b>bold</b>', "escape-key-1"))
    html = console.wait_for_text("bold")
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<img src=x" not in html


def refusal(sock, key, reason, alert):
    html = sock.wait_for_text(f'data-refused="{key}"')
    assert re.search(
        rf'<div id="{alert}" hx-swap-oob="innerHTML"><p class="error" data-refused="{key}">', html
    )
    assert reason in html


def test_refusals_name_the_reason_and_the_key_and_store_nothing(server, people):
    ann, chatter, chat = active_chat(server, people)
    page = chatter.connect()
    console = ann.connect()
    page.send(sent("   ", "empty-key-1"))
    refusal(page, "empty-key-1", "Write a message first.", "chat-alert")
    page.send(sent("x" * 5001, "long-key-1"))
    refusal(page, "long-key-1", "at most 5000 characters", "chat-alert")
    page.send({"send": {"text": "no key"}})
    page.wait_for_text("could not be read")
    console.send(sent("where to?", "nochat-key-1", chat=999999))
    html = console.wait_for_text("There is no such chat.")
    assert '<div id="status-error" hx-swap-oob="innerHTML"><p class="error">There is no such chat.' in html
    console.send(sent("x" * 5001, "long-key-2", chat=chat))
    refusal(console, "long-key-2", "at most 5000 characters", f"alert-{chat}")
    assert len(stored(server, chat)) == 1  # "Ann Agent joined the chat." only

    assert chatter.end().status_code == 200
    page.send(sent("Are you still there?", "ended-key-1"))
    refusal(page, "ended-key-1", "This chat has ended.", "chat-alert")
    console.send(sent("Goodbye", "ended-key-2", chat=chat))
    refusal(console, "ended-key-2", "This chat has ended.", f"alert-{chat}")
    assert "Are you still there?" not in said(server, chat)


def test_an_agent_not_in_the_chat_cannot_send_into_it(server, people):
    _, _, chat = active_chat(server, people)
    ben = people.agent(server, "ben")
    console = ben.connect()
    console.send(sent("Let me in", "intruder-key-1", chat=chat))
    refusal(console, "intruder-key-1", "You are not in this chat.", f"alert-{chat}")
    assert "Let me in" not in said(server, chat)


def test_a_chat_page_socket_sends_only_into_its_own_chat(server, people):
    _, first, chat1 = active_chat(server, people, "First")
    other = people.chatter(server)
    chat2 = other.start(name="Second")
    first.connect().send(sent("mine", "own-chat-key-1", chat=chat2))
    wait_for(lambda: "mine" in said(server, chat1))
    assert "mine" not in said(server, chat2)


def test_a_console_whose_session_ended_cannot_send(server, people):
    ann, _, chat = active_chat(server, people)
    console = ann.connect()
    console.wait_for_seq(chat, 1)
    ann_again = people.agent(server, "ann")  # another browser of Ann's ...
    assert ann_again.post("/logout").status_code == 200  # ... signs out: every session of hers ends
    assert console.wait_closed(timeout=1) == 4001  # its console goes to the sign-in page
    again = ann.connect()  # a socket with the ended session's cookie never opens
    assert again.wait_closed() == 4001 and again.frames == []


def test_a_console_message_carries_the_agent_s_name_now_and_not_once_disabled(server, people):
    """The insert itself checks the console's session and reads the sender's name (no agent is
    loaded per message): a renamed agent's next message shows the new name; a disabled one's none."""
    ann, chatter, chat = active_chat(server, people)
    console, page = ann.connect(), chatter.connect()
    page.wait_for_seq(chat, 1)
    change(server, "UPDATE agent SET name = 'Ann <b>Renamed</b>' WHERE username = 'ann'")
    console.send(sent("New name", "renamed-key-1", chat=chat))
    page.wait_for_seq(chat, 2)
    assert '<span class="who">Ann &lt;b&gt;Renamed&lt;/b&gt;</span>' in page.text()

    change(server, "UPDATE agent SET enabled = false WHERE username = 'ann'")
    console.send(sent("Disabled now", "disabled-key-1", chat=chat))
    refusal(console, "disabled-key-1", "You are signed out.", f"alert-{chat}")
    assert "Disabled now" not in said(server, chat)


def change(server, sql):
    run_sql(server, sql)


def test_a_browser_that_reads_nothing_does_not_hold_up_the_other_side(start_server, people):
    """A message is written to the other side's socket by the handler that stored it. When that
    browser reads nothing and its buffers are full, the writer must not wait on it for long (the
    sender's own page would wait too): the silent browser's connection is dropped instead."""
    server = start_server(env={"PARLEY_PING_INTERVAL": "600", **FLOOD})  # no ping finds the silent one first
    ann, chatter, chat = active_chat(server, people)
    path = "/ws/console"
    deaf = websocket.create_connection(
        "ws" + server.url[len("http") :] + path, cookie=ann.cookie_header(path), origin=server.url
    )
    deaf.send(json.dumps({"seqs": {}, "modes": {}}))  # the hello; then it reads nothing more
    page = chatter.connect()
    page.wait_for_seq(chat, 1)
    long = "All of this, again and again. " * 160  # ~5 KB: 1,000 of them overflow any socket buffer
    for i in range(1000):
        page.send(sent(f"{i} {long}", f"deaf-key-{i:04}"))
    page.wait_for_seq(chat, 1001, timeout=30)
    assert len(said(server, chat)) == 1001
    deaf.close(timeout=0)


def test_a_socket_message_in_parts_is_stored_whole_and_one_too_big_closes_only_that_socket(server, people):
    """Frames read without wsproto (live.frames) and those left to it: a message a client sends in
    parts, and one beyond the 64 KB a socket takes (1009, "too big")."""
    ann, chatter, chat = active_chat(server, people)
    page = chatter.connect()
    page.wait_for_seq(chat, 1)
    data = json.dumps(sent("Sent in three parts", "parts-key-1"))
    thirds = [data[: len(data) // 3], data[len(data) // 3 : 2 * len(data) // 3], data[2 * len(data) // 3 :]]
    page.ws.send_frame(websocket.ABNF.create_frame(thirds[0], websocket.ABNF.OPCODE_TEXT, fin=0))
    page.ws.send_frame(websocket.ABNF.create_frame(thirds[1], websocket.ABNF.OPCODE_CONT, fin=0))
    page.ws.send_frame(websocket.ABNF.create_frame(thirds[2], websocket.ABNF.OPCODE_CONT, fin=1))
    page.send(sent("And one whole", "parts-key-2"))
    page.wait_for_seq(chat, 3)
    assert said(server, chat)[1:] == ["Sent in three parts", "And one whole"]

    # just over: read whole before the close, so the close frame is not lost to a reset connection
    page.send(sent("x" * 66_000, "too-big-key"))
    page.wait_closed()
    assert page.close_code == 1009
    assert len(stored(server, chat)) == 3
    # and the server let go of it: with no page left, the chatter counts as away
    wait_for(lambda: rows(server, "SELECT chatter_away_since FROM chat WHERE id = ?", chat)[0][0] is not None)
