"""What a page may send over its socket: messages at a rate with a burst (refused past it, and given
back to the page), typing coalesced, a few sockets per page, every bad frame a clean close, and the
privacy of a typing notice decided by the server."""

import json
import re

import websocket
from clients import rows
from test_live import active_chat


def sent(text, key):
    return {"send": {"text": text, "key": key}}


def stored_texts(server, chat):
    return [t for (t,) in rows(server, "SELECT text FROM message WHERE chat_id = ? ORDER BY seq", chat)]


def test_a_flood_of_messages_is_refused_past_the_burst_and_given_back(start_server, people):
    server = start_server(env={"PARLEY_LIMIT_SOCKET_MESSAGES": "5 per minute"})
    ann, chatter, chat = active_chat(server, people)
    page = chatter.connect()
    for i in range(50):
        page.send(sent(f"flood {i}", f"flood-key-{i:03}"))
    page.wait_for_text('data-refused="flood-key-049"')  # the last one's refusal names it
    assert stored_texts(server, chat)[1:] == [f"flood {i}" for i in range(5)]
    refusals = re.findall(r"Too many messages\. Please try again in \d+ seconds?\.", page.text())
    assert len(refusals) == 45
    # nothing stored before is lost, and the chat goes on over HTTP, which this limit does not count
    assert chatter.say("over HTTP").status_code == 204
    assert stored_texts(server, chat)[-1] == "over HTTP"


def test_an_agent_s_rate_is_per_chat(start_server, people):
    server = start_server(env={"PARLEY_LIMIT_SOCKET_MESSAGES": "2 per minute"})
    ann, _, chat = active_chat(server, people)
    console = ann.connect()
    for i in range(3):
        console.send({"send": {"chat": chat, "text": f"answer {i}", "key": f"answer-key-{i}"}})
    console.wait_for_text("Too many messages")
    assert stored_texts(server, chat)[1:] == ["answer 0", "answer 1"]


def test_5000_typing_notices_reach_the_agent_as_a_handful(server, people):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    console.wait_for_seq(chat, 1)
    page = chatter.connect()
    for _ in range(5000):
        page.send({"typing": chat})
    page.send(sent("done typing", "typing-done-1"))
    console.wait_for_text("done typing")
    assert 1 <= console.text().count("is typing…") <= 6


def test_a_sixth_socket_of_one_chat_closes_the_oldest_which_says_why(server, people):
    ann, chatter, chat = active_chat(server, people)
    pages = [chatter.connect()]
    pages[0].wait_for_seq(chat, 1)
    pages += [chatter.connect() for _ in range(5)]
    assert pages[0].wait_closed(timeout=2) == 4008
    for page in pages[1:]:
        page.wait_for_seq(chat, 1)
        assert not page.closed.is_set()


def test_a_console_open_in_too_many_tabs_closes_the_oldest(server, people):
    ann = people.agent(server, "ann")
    consoles = [ann.connect() for _ in range(6)]
    assert consoles[0].wait_closed(timeout=2) == 4008
    consoles[5].wait_for_text('id="status"')


def raw_socket(server, browser, path):
    return websocket.create_connection(
        "ws" + server.url[len("http") :] + path,
        cookie=browser.cookie_header(path),
        origin=server.url,
        timeout=5,
    )


def close_code(ws):
    """The code of the server's close frame (None if it dropped the connection instead)."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big") if len(data) >= 2 else None


BAD_NOTICES = [
    '{"typing": 1e309}',
    '{"typing": 1e400, "private": true}',
    '{"typing": "9999999999999999999999999999"}',
    '{"typing": null}',
    '{"typing": [1]}',
    "not json at all",
    "[1, 2, 3]",
    '"a string"',
    "1e400",
    '{"what": "is this"}',
]


def test_every_bad_frame_closes_cleanly_and_logs_nothing(server, people):
    """A forged or broken frame gets a clean close (1007: unreadable), never a crash (1011) or a
    traceback in the log (the server fixture fails the test on one)."""
    ann, chatter, chat = active_chat(server, people)
    for browser, path in ((chatter, "/chat/support/ws"), (ann, "/ws/console")):
        for notice in BAD_NOTICES:
            ws = raw_socket(server, browser, path)
            ws.send(json.dumps({"seqs": {}, "modes": {}}))
            try:
                ws.send(notice)
                assert close_code(ws) == 1007, (path, notice)
            finally:
                ws.shutdown()


def test_a_message_to_a_chat_no_database_could_hold_is_refused(server, people):
    ann, _, chat = active_chat(server, people)
    console = ann.connect()
    console.send({"send": {"chat": 10**30, "text": "to nowhere", "key": "nowhere-key-1"}})
    console.wait_for_text("This message could not be read.")
    console.send({"send": {"chat": chat, "text": "still here", "key": "here-key-1"}})
    console.wait_for_seq(chat, 2)  # and the socket lives on


def test_a_bad_hello_closes_cleanly(server, people):
    ann, chatter, chat = active_chat(server, people)
    for browser, path in ((chatter, "/chat/support/ws"), (ann, "/ws/console")):
        for hello in (
            '{"seqs": {"1": 1e400}}',
            '{"seqs": {"1": 99999999999999999999}}',
            '{"seqs": {"1e400": 1}}',
            '{"seqs": [1]}',
            "[]",
            "nonsense",
        ):
            ws = raw_socket(server, browser, path)
            try:
                ws.send(hello)
                assert close_code(ws) == 1007, (path, hello)
            finally:
                ws.shutdown()
    chatter.connect(seq=0).wait_for_seq(chat, 1)  # a good hello still works


def test_a_chatter_never_sees_typing_of_a_private_draft_whatever_the_page_says(start_server, people):
    server = start_server(env={"PARLEY_LIMIT_SOCKET_TYPING": "100 per second"})
    ann, chatter, chat = active_chat(server, people)
    page = chatter.connect()
    page.wait_for_seq(chat, 1)
    console = ann.connect()
    console.wait_for_seq(chat, 1)
    console.send({"composer": chat, "private": True})  # the Private toggle pressed
    console.send({"typing": chat, "private": False})  # ... and a page that says otherwise
    console.send({"typing": chat})
    # a message sent privately also says the composer is private
    console.send({"send": {"chat": chat, "text": "note to self", "key": "private-key-1", "private": True}})
    console.send({"typing": chat, "private": False})
    console.wait_for_seq(chat, 2)
    console.send({"composer": chat, "private": False})  # toggled off: now the chatter may see it
    console.send({"typing": chat, "private": False})
    page.wait_for_text("is typing…")
    assert page.text().count("is typing…") == 1
    assert "note to self" not in page.text()
