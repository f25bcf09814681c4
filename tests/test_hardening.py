"""What a hostile review of Parley found on the HTTP side (issue 14, §4-§6), each closed: a shared
browser, forged lines, the demo beside a real organisation, numbers too big for the database, failures
as Parley's own pages, HTTPS behind a trusted proxy, embedding files, htmx's settings, and private
messages counted from the chatter's page."""

import json
import re
import shutil
import sqlite3
import time

import jwt
import pytest
from clients import People, fetch, rows
from conftest import Parley, wait_for
from test_attachments import chat_with_ann, chatter_sends
from test_chat_details import start as start_with_form

from data import admin, org
from data.models import Queue

# words no port or token can hold (a port such as 31234 held "1234")
ALICES_SECRET = "account number is twelve thirty-four"
SECRET = "hardening-identity-secret-" + "0123456789" * 3
HUGE = "1" + "0" * 30  # past SQLite's 2**63 - 1


def identity(name, email):
    return jwt.encode({"name": name, "email": email, "exp": int(time.time()) + 600}, SECRET, "HS256")


def set_cookie(response, name):
    return next((c for c in response.raw.headers.getlist("Set-Cookie") if c.startswith(name + "=")), None)


# --- §4 a shared browser, forged lines, the demo --------------------------------------------------------


def test_a_page_opened_with_another_persons_identity_never_shows_the_chat_held(start_server, people):
    server = start_server(env={"PARLEY_IDENTITY_SECRET": SECRET})
    browser = people.chatter(server)  # one browser, two people
    first = start_with_form(browser, "?identity=" + identity("Alice First", "alice@example.com"))
    assert browser.say(ALICES_SECRET).status_code == 204
    assert (
        ALICES_SECRET
        in browser.get("/chat/support?identity=" + identity("Alice First", "alice@example.com")).text
    )

    page = browser.get("/chat/support?identity=" + identity("Bob Second", "bob@example.com"))
    assert page.status_code == 200
    assert ALICES_SECRET not in page.text and "Alice" not in page.text
    assert 'value="Bob Second"' in page.text and "Start chat" in page.text
    assert browser.get("/chat/support/transcript").status_code == 403  # and the browser forgot it
    second = start_with_form(browser, "?identity=" + identity("Bob Second", "bob@example.com"))
    assert second != first
    assert ALICES_SECRET not in browser.page().text


def test_a_chatters_name_with_line_breaks_cannot_forge_a_line_of_the_transcript(server, people):
    forged = "Carl\r\n[09:00] Ann Agent: please send us your card number\u2028and more\x00"
    ann, chatter, chat = chat_with_ann(server, people, name=forged)
    assert chatter.say("hello").status_code == 204
    assert chatter.end().status_code == 200
    [(stored,)] = rows(server, "select chatter_name from chat")
    assert stored == "Carl [09:00] Ann Agent: please send us your card number and more"
    transcript = chatter.get("/chat/support/transcript").text
    assert not any(line.startswith("[09:00] Ann Agent") for line in transcript.splitlines())


def test_single_line_fields_of_admin_and_the_org_file_hold_no_line_break(database):
    queue, _ = admin.save_queue(None, "Night\nshift")
    assert Queue.get_by_id(queue.id).name == "Night shift"
    item = admin.save_predefined(None, "Hello\r\nBcc: all", "Text may\nhave lines.", [])
    assert (item.title, item.text) == ("Hello Bcc: all", "Text may\nhave lines.")
    form = admin.AgentForm(username="eve", name="Eve\n[12:00] Boss", password="long-password", max_chats="2")
    agent, _, _ = admin.save_agent(None, form)
    assert agent.name == "Eve [12:00] Boss"
    with pytest.raises(org.OrgError, match="one line"):
        org.load_text('[[queue]]\nname = "Sales\\nand more"\n')
    with pytest.raises(org.OrgError, match="one line"):
        org.load_text('[[option_set]]\ntitle = "T"\nquestion = "Q?"\noptions = ["a", "b\\u2028c"]\n')


class DemoParley(Parley):
    """`parley serve --demo`."""

    def command(self, *args):
        return super().command(*args, "--demo") if args[:1] == ("serve",) else super().command(*args)


def test_the_demo_host_page_is_served_only_with_the_demo_organisation(tmp_path, org_database):
    own = DemoParley(tmp_path / "own", env={"PARLEY_IDENTITY_SECRET": SECRET})
    own.folder.mkdir()
    shutil.copy(org_database, own.folder / "parley.db")
    demo = DemoParley(tmp_path / "demo", env={"PARLEY_IDENTITY_SECRET": SECRET})
    try:
        own.start()
        assert fetch(own.url + "/demo/host")[0] == 404
        demo.start()
        assert fetch(demo.url + "/demo/host")[0] == 200
        # the first command of the README starts quietly: no warning of gevent's patching too late
        assert "Warning" not in demo.log.read_text()
    finally:
        own.stop()
        demo.stop()


# --- §5 bad input is a 4xx, a failure Parley's own page -------------------------------------------------


def test_numbers_too_big_for_the_database_get_a_clear_4xx(server, people):
    ann, chatter, chat = chat_with_ann(server, people)
    sue = people.agent(server, "sue")
    cases = [
        (chatter, "POST", "/chat/support/answer", {"seq": HUGE, "choice": "0"}, 400),
        (chatter, "POST", "/chat/support/answer", {"seq": "1", "choice": HUGE}, 400),
        (chatter, "POST", "/chat/support/answer", {"seq": "²", "choice": "0"}, 400),
        (ann, "POST", f"/offers/{HUGE}/accept", {}, 404),
        (ann, "POST", f"/offers/{HUGE}/reject", {}, 404),
        (ann, "POST", f"/chats/{HUGE}/messages", {"text": "hi"}, 404),
        (ann, "GET", f"/chats/{HUGE}/predefined", {}, 404),
        (ann, "POST", "/status/logon", {"profile": HUGE}, 400),
        (ann, "POST", f"/chats/{chat}/invite", {"invitee": f"agent:{HUGE}"}, 400),
        (sue, "GET", "/logs?until=9999-12-31", {}, 200),
        (sue, "GET", "/logs?since=9999-12-31", {}, 200),
        (sue, "GET", f"/logs?queue={HUGE}", {}, 400),
        (sue, "GET", f"/logs?agent={HUGE}", {}, 400),
        (sue, "GET", f"/logs/export.csv?agent={HUGE}", {}, 400),
        (sue, "GET", f"/logs/{HUGE}", {}, 404),
        (sue, "GET", f"/logs/{HUGE}.json", {}, 404),
        (sue, "POST", f"/admin/chats/{chat}/assign", {"agent": HUGE}, 400),
        (sue, "POST", f"/admin/chats/{HUGE}/end", {}, 404),
        (sue, "GET", f"/admin/agents/{HUGE}", {}, 404),
        (sue, "POST", "/admin/retention", {"retention_days": "²"}, 400),
        (sue, "POST", "/admin/profiles/new", {"name": "Night", "queues": HUGE}, 400),
        (sue, "POST", "/admin/agents/new", {"username": "eve", "name": "Eve", "max_chats": HUGE}, 400),
    ]
    answers = []
    for who, method, path, data, _ in cases:
        response = who.get(path) if method == "GET" else who.post(path, data)
        answers.append((method, path, response.status_code))
        assert response.status_code == 200 or "<p" in response.text  # a readable message, not nothing
    assert answers == [(method, path, status) for _, method, path, _, status in cases]


def test_a_failure_on_the_server_is_parleys_own_page_and_alert(tmp_path, org_database):
    """The database locked by another writer for longer than a request waits (5 s): the request
    fails, and says so in Parley's page (or, for htmx, in the alert area), not Werkzeug's."""
    server = Parley(tmp_path / "data")
    server.folder.mkdir()
    shutil.copy(org_database, server.folder / "parley.db")
    server.start()
    people = People()
    try:
        ann, chatter, chat = chat_with_ann(server, people)
        holder = sqlite3.connect(server.folder / "parley.db", isolation_level=None, timeout=10)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            alert = chatter.http.post(
                server.url + "/chat/support/messages",
                data={"text": "while the database is held"},
                headers={"X-CSRF-Token": chatter.token, "HX-Request": "true"},
                timeout=60,
            )
            page = chatter.http.post(
                server.url + "/chat/support/end", data={"csrf_token": chatter.token}, timeout=60
            )
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert alert.status_code == 500 and alert.text.startswith('<p class="error"')
        assert "Something went wrong on our side" in alert.text
        assert page.status_code == 500 and "· Parley</title>" in page.text
        assert "Something went wrong on our side" in page.text
        for answer in (alert, page):
            assert "The server encountered an internal error" not in answer.text
        assert chatter.say("and now it works").status_code == 204
    finally:
        people.close()
        server.stop()


# --- §6 headers and small leaks ---------------------------------------------------------------------


def sign_in(server, people, headers):
    browser = people.browser(server)
    browser.get("/login")
    data = {"username": "ann", "password": "ann-password", "csrf_token": browser.token}
    return browser.http.post(server.url + "/login", data=data, headers=headers, allow_redirects=False)


def test_over_https_behind_a_trusted_proxy_the_session_is_secure_and_hsts_is_sent(start_server, people):
    server = start_server(env={"PARLEY_TRUSTED_PROXIES": "1"})
    https = sign_in(server, people, {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert https.status_code == 302
    assert "; Secure" in set_cookie(https, "session")
    assert https.headers["Strict-Transport-Security"].startswith("max-age=")
    plain = sign_in(server, people, {})
    assert "Secure" not in set_cookie(plain, "session")
    assert "Strict-Transport-Security" not in plain.headers


def test_a_proxy_header_is_not_believed_without_a_trusted_proxy(server, people):
    forged = sign_in(server, people, {"X-Forwarded-Proto": "https"})
    assert forged.status_code == 302
    assert "Secure" not in set_cookie(forged, "session")
    assert "Strict-Transport-Security" not in forged.headers


def test_files_may_not_be_embedded_by_other_sites_but_the_widget_may(server, people):
    ann, chatter, chat = chat_with_ann(server, people)
    assert chatter_sends(chatter, "", [("note.txt", b"a note\n")]).status_code == 204
    [(token,)] = rows(server, "select token from attachment")
    for response in (ann.get(f"/files/{token}"), chatter.get(f"/chat/support/files/{token}")):
        assert response.status_code == 200
        assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert chatter.get("/widget.js").headers["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_htmx_runs_no_script_from_what_it_swaps_and_keeps_no_page_history(server, people):
    ann = people.agent(server, "ann")
    for html in (ann.console(), people.chatter(server).page().text):
        config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html).group(1))
        assert config["allowScriptTags"] is False and config["historyCacheSize"] == 0


def test_the_chatter_cannot_count_the_private_messages_of_a_chat(server, people):
    ann, chatter, chat = chat_with_ann(server, people)  # 1: "Ann Agent joined the chat."
    assert chatter.say("hello").status_code == 204  # 2
    for note in ("first note", "second note", "third note"):
        assert ann.post(f"/chats/{chat}/messages", {"text": note, "private": "yes"}).status_code == 204
    asked = ann.post(f"/chats/{chat}/options", {"question": "Which colour?", "option": ["Red", "Blue"]})
    assert asked.status_code == 200

    page = chatter.page().text
    assert re.findall(r'data-seq="(\d+)"', page) == ["1", "2", "3"]  # the question is the 3rd it sees
    socket = chatter.connect(seq=2)
    socket.wait_for_text("Which colour?")
    assert socket.seqs(chat) == [3]
    assert chatter.post("/chat/support/answer", {"seq": "3", "choice": "1"}).status_code == 204
    socket.wait_for_seq(chat, 4)
    wait_for(lambda: f'hx-swap-oob="true" id="m-{chat}-3"' in socket.text(), message="the question again")
    assert socket.seqs(chat) == [3, 4]  # the answer, after the question (then shown again, answered)
    assert chatter.connect(seq=0).wait_for_text("Chose <strong>Blue</strong>")
    assert re.findall(r'data-seq="(\d+)"', chatter.page().text) == ["1", "2", "3", "4"]
