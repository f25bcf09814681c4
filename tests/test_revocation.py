"""Ending a session reaches every socket opened with it, at once: sign out, a new password, a disabled
account, a demotion, and the session's own expiry. The socket closes with the code its page follows
(4001: to the sign-in page; 4003: a supervisor page to the console) and nothing comes after."""

import time

import pytest
from conftest import wait_for
from test_admin import agent_form, agent_id, parley, save
from test_live import active_chat


def still_shows_nothing_new(sock, before, server, chat, people):
    """After its close, a socket gets nothing, even of the agent's next session's chats."""
    assert sock.frames == before
    ann = people.agent(server, "ann", "Support desk")
    new = people.chatter(server)
    new.start(name="Nora New")
    new.say("my address is 1 Secret Lane")
    ann.connect().wait_for_text("Nora New")
    assert sock.frames == before and "Nora New" not in sock.text()


def test_sign_out_closes_the_console_before_it_shows_anything_of_it(server, people):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    console.wait_for_text('class="state available"')
    started = time.monotonic()
    assert ann.post("/logout").status_code == 200
    assert console.wait_closed(timeout=1) == 4001
    assert time.monotonic() - started < 1
    # what signing out changed (the status, the chat left) was told after the socket closed
    assert 'class="state off"' not in console.text()
    still_shows_nothing_new(console, list(console.frames), server, chat, people)


def test_a_new_password_closes_every_console_of_the_agent(server, people):
    ann, chatter, chat = active_chat(server, people)
    consoles = [ann.connect(), ann.connect()]
    for console in consoles:
        console.wait_for_seq(chat, 1)
    sue = people.agent(server, "sue")
    path = f"/admin/agents/{agent_id(server, 'ann')}"
    assert save(sue, path, agent_form(server, "ann", password="a-new-secret-1")).status_code == 200
    for console in consoles:
        assert console.wait_closed(timeout=1) == 4001
    before = list(consoles[0].frames)
    chatter.say("are you still there?")  # the chat's next message reaches no closed console
    wait_for(lambda: ann.get("/").url.endswith("/login?next=%2F"), message="ann's cookie to be worthless")
    assert consoles[0].frames == before


def test_disabling_an_agent_closes_their_console_and_keeps_it_closed_once_enabled_again(server, people):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    console.wait_for_seq(chat, 1)
    sue = people.agent(server, "sue")
    path = f"/admin/agents/{agent_id(server, 'ann')}"
    assert save(sue, path, agent_form(server, "ann", enabled=None)).status_code == 200
    assert console.wait_closed(timeout=1) == 4001
    assert "<div data-goto" not in console.text()  # closed, not told to go: nothing after the end
    assert save(sue, path, agent_form(server, "ann", enabled="on")).status_code == 200
    again = ann.connect()  # the old cookie does not come back to life with the account
    assert again.wait_closed() == 4001 and again.frames == []


def with_agent(text, username, old, new):
    """The organisation file `text` with `old` replaced by `new` in the agent `username`'s entry."""
    entries = text.split("[[agent]]")
    mine = next(i for i, e in enumerate(entries) if f'username = "{username}"' in e)
    assert old in entries[mine]
    entries[mine] = entries[mine].replace(old, new)
    return "[[agent]]".join(entries)


@pytest.mark.parametrize("change", ["enabled = false", 'password = "a-new-secret-1"\nenabled = true'])
def test_an_account_changed_by_parley_load_closes_its_console(server, people, tmp_path, change):
    """`parley load` runs in another process, which no socket hears: the server finds it by itself."""
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    console.wait_for_seq(chat, 1)
    path = tmp_path / "org.toml"
    assert parley(server, "export", str(path)).returncode == 0
    path.write_text(with_agent(path.read_text(), "ann", "enabled = true", change))
    result = parley(server, "load", str(path))
    assert result.returncode == 0, result.stderr
    assert console.wait_closed(timeout=10) == 4001
    before = list(console.frames)
    chatter.say("are you still there?")
    wait_for(lambda: ann.get("/").url.endswith("/login?next=%2F"), message="ann's cookie to be worthless")
    assert console.frames == before


def test_a_supervisor_demoted_by_parley_load_loses_the_live_view(server, people, tmp_path):
    sue = people.agent(server, "sue")
    live = sue.socket("/ws/admin", hello={})
    live.wait_for_text("hx-swap-oob")
    path = tmp_path / "org.toml"
    assert parley(server, "export", str(path)).returncode == 0
    path.write_text(with_agent(path.read_text(), "sue", "supervisor = true", "supervisor = false"))
    assert parley(server, "load", str(path)).returncode == 0
    assert live.wait_closed(timeout=10) == 4003


def test_a_demoted_supervisor_loses_the_live_view_and_keeps_the_console(server, people):
    sue = people.agent(server, "sue")
    ben_path = f"/admin/agents/{agent_id(server, 'ben')}"
    assert save(sue, ben_path, agent_form(server, "ben", supervisor="on")).status_code == 200
    ben = people.agent(server, "ben")
    live = ben.socket("/ws/admin", hello={})
    live.wait_for_text("hx-swap-oob")
    console = ben.connect()
    console.wait_for_text('id="status"')
    assert save(sue, ben_path, agent_form(server, "ben", supervisor=None)).status_code == 200
    assert live.wait_closed(timeout=1) == 4003
    before = list(live.frames)
    people.chatter(server).start(name="Watched Walter")  # the live view would show this chat
    ben.log_on()
    console.wait_for_text('class="state available"')  # the console lives on
    assert live.frames == before
    refused = ben.socket("/ws/admin", hello={})
    assert refused.wait_closed() == 4003 and refused.frames == []


def test_a_session_past_its_longest_life_is_signed_out_and_its_console_closed(start_server, people):
    server = start_server(env={"PARLEY_SESSION_MAX": "3", "PARLEY_PING_INTERVAL": "1"})
    ann = people.agent(server, "ann")
    console = ann.connect()
    console.wait_for_text('id="status"')
    assert ann.get("/").url == server.url + "/"  # used meanwhile: only the longest life ends it
    assert console.wait_closed(timeout=6) == 4001
    assert ann.get("/").url.startswith(server.url + "/login")


def test_an_idle_session_is_signed_out_and_its_reconnecting_console_closed(start_server, people):
    server = start_server(env={"PARLEY_SESSION_IDLE": "2", "PARLEY_PING_INTERVAL": "1"})
    ann = people.agent(server, "ann")
    console = ann.connect()
    console.wait_for_text('id="status"')
    # unused past the idle time: the socket asks the page to reconnect, whose request is refused
    assert console.wait_closed(timeout=5) == 1012
    again = ann.connect()
    assert again.wait_closed() == 4001 and again.frames == []
    assert ann.get("/").url.startswith(server.url + "/login")


def test_a_session_in_use_is_not_idle(start_server, people):
    server = start_server(env={"PARLEY_SESSION_IDLE": "3"})
    ann = people.agent(server, "ann")
    for _ in range(4):  # 6 s in all, longer than the idle time, with a request every 1.5 s
        time.sleep(1.5)  # the time that passes is what is tested: nothing to wait for
        assert ann.get("/").url == server.url + "/"
