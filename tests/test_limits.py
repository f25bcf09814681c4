"""Limits on every HTTP door (issue 14, §3): each answers 429 with Retry-After and "Too many…, try again
in N seconds", counts per client address (the one a trusted proxy names) or per username, and loses
nothing already stored. Also what keeps one visitor from piling up chats, ghosts, mails and files.

Driven over a real server, with the limits lowered by their settings where the defaults would take
many requests to reach.
"""

import re
import socket
import statistics
import threading
import time

from clients import fetch, rows
from conftest import PASSWORDS, Parley, wait_for
from test_attachments import agent_sends, chat_with_ann, chatter_sends, text_file

from views.limits import too_many as refusal

MB = 1024 * 1024
TOO_MANY = re.compile(r"Too many ([^.<]+)\. Please try again in (\d+) seconds?\.")


def sign_in(browser, username, password, address=None):
    """Send the sign-in form as a browser does, from `address` as a trusted proxy would say."""
    browser.get("/login")
    headers = {"X-Forwarded-For": address} if address else {}
    data = {"username": username, "password": password, "csrf_token": browser.token}
    return browser.http.post(browser.url + "/login", data=data, headers=headers, timeout=30)


def too_many(response, what):
    """A 429 whose page says what was too many and how long to wait, as Retry-After does."""
    assert response.status_code == 429, (response.status_code, response.text[:500])
    found = TOO_MANY.search(response.text)
    assert found, response.text
    assert what in found.group(1), found.group(1)
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 3600 and abs(int(found.group(2)) - wait) <= 1
    return wait


# --- signing in ------------------------------------------------------------------------------------


def test_failed_sign_ins_are_slowed_per_username(server, people):
    browser = people.browser(server)
    for _ in range(5):
        assert sign_in(browser, "ann", "not-her-password").status_code == 401
    # the right password too: past the limit nothing is tried
    blocked = sign_in(browser, "ann", PASSWORDS["ann"])
    too_many(blocked, "failed sign-ins as this user")
    assert 'name="password"' in blocked.text  # the sign-in form, to try again later
    # another username from the same address is not slowed by Ann's failures
    ben = sign_in(people.browser(server), "ben", PASSWORDS["ben"])
    assert ben.status_code == 200 and ben.url == server.url + "/"


def test_failed_sign_ins_are_slowed_per_client_address(start_server, people):
    server = start_server(env={"PARLEY_LIMIT_SIGNIN_ADDRESS": "3 per minute", "PARLEY_TRUSTED_PROXIES": "1"})
    browser = people.browser(server)
    for username in ("ann", "ben", "cat"):
        assert sign_in(browser, username, "wrong-password", "203.0.113.7").status_code == 401
    too_many(sign_in(browser, "dan", PASSWORDS["dan"], "203.0.113.7"), "failed sign-ins from your address")
    elsewhere = sign_in(people.browser(server), "dan", PASSWORDS["dan"], "203.0.113.8")
    assert elsewhere.status_code == 200 and elsewhere.url == server.url + "/"


def test_an_address_a_client_names_itself_counts_for_nothing_without_a_trusted_proxy(start_server, people):
    server = start_server(env={"PARLEY_LIMIT_SIGNIN_ADDRESS": "2 per minute"})
    browser = people.browser(server)
    assert sign_in(browser, "ann", "wrong-password", "192.0.2.1").status_code == 401
    assert sign_in(browser, "ben", "wrong-password", "192.0.2.2").status_code == 401
    too_many(sign_in(browser, "cat", PASSWORDS["cat"], "192.0.2.3"), "from your address")


def test_an_unknown_username_takes_as_long_as_a_known_one(server, people):
    """Both check a password (an unknown username against a stand-in hash), so the time of the answer
    does not tell which usernames exist; before, a known one took ~35 times as long."""
    browser = people.browser(server)
    known, unknown = [], []
    for _ in range(5):  # alternated, so a busy moment of the machine falls on both
        for username, times in (("ann", known), ("nobody-by-this-name", unknown)):
            browser.get("/login")
            data = {"username": username, "password": "wrong-password", "csrf_token": browser.token}
            started = time.perf_counter()
            assert browser.http.post(server.url + "/login", data=data, timeout=30).status_code == 401
            times.append(time.perf_counter() - started)
    assert statistics.median(unknown) >= 0.4 * statistics.median(known), (known, unknown)


# --- starting chats --------------------------------------------------------------------------------


def test_chats_started_from_one_address_are_limited_per_minute(start_server, people):
    server = start_server(env={"PARLEY_LIMIT_CHAT_STARTS": "2 per minute", "PARLEY_TRUSTED_PROXIES": "1"})
    for name in ("First", "Second"):
        chatter = people.chatter(server)
        chatter.http.headers["X-Forwarded-For"] = "198.51.100.1"
        chatter.start(name=name)
    third = people.chatter(server)
    third.http.headers["X-Forwarded-For"] = "198.51.100.1"
    third.get("/chat/support")
    refused = third.post("/chat/support", {"name": "Third"})
    too_many(refused, "chats started from your address")
    assert "Start chat" in refused.text and 'value="Third"' in refused.text  # the form, as it was sent
    other = people.chatter(server)
    other.http.headers["X-Forwarded-For"] = "198.51.100.2"
    other.start(name="Elsewhere")
    names = {name for (name,) in rows(server, "select chatter_name from chat")}
    assert names == {"First", "Second", "Elsewhere"}


def test_a_browser_with_an_open_chat_gets_it_back_instead_of_a_second_one(server, people):
    chatter = people.chatter(server)
    chat = chatter.start(name="Once")
    again = chatter.post("/chat/support", {"name": "Twice"})  # e.g. a second tab's pre-chat form
    assert again.status_code == 200
    assert f'id="log-{chat}"' in again.text
    assert rows(server, "select id, chatter_name from chat") == [(chat, "Once")]


def test_a_double_click_on_start_chat_makes_one_chat(server, people):
    chatter = people.chatter(server)
    form = chatter.get("/chat/support").text
    data = {"name": "Quick Clicker", "csrf_token": chatter.token}
    data["start"] = re.search(r'name="start" value="([^"]+)"', form).group(1)
    both = threading.Barrier(2)
    answers = []

    def click():
        both.wait()
        answers.append(chatter.post("/chat/support", data))

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for c in clicks:
        c.start()
    for c in clicks:
        c.join(30)
    assert [a.status_code for a in answers] == [200, 200]
    shown = {re.search(r'id="log-(\d+)"', a.text).group(1) for a in answers}
    assert len(shown) == 1
    assert rows(server, "select count(*) from chat") == [(1,)]


def test_a_chat_whose_page_never_connects_leaves_the_queue_and_pauses_nobody(start_server, people):
    server = start_server(offer_timeout=1, leave_grace=2)
    ann = people.agent(server, "ann", "Support desk")
    ghost = people.chatter(server)
    chat = ghost.start(name="Ghost")  # over HTTP alone: no page of it ever connects
    present = people.chatter(server, "sales")  # nobody takes Sales: this one waits, connected
    waiting = present.start(name="Present")
    present.connect().wait_for_text("in the queue")

    wait_for(lambda: ann.offer_id(chat), message="the ghost's offer to Ann")
    wait_for(lambda: rows(server, "select state from chat where id = ?", chat) == [("ended",)], timeout=15)
    assert ann.status() == "available"  # its offer expired unanswered, and Ann was not paused for it
    said = [text for (text,) in rows(server, "select text from message where chat_id = ?", chat)]
    assert said == ["Ghost left before an agent answered."]
    assert rows(server, "select state from chat where id = ?", waiting) == [("waiting",)]


# --- transcripts by mail ---------------------------------------------------------------------------


def email_transcript(chatter, address):
    return chatter.post("/chat/support/transcript/email", {"email": address})


def test_a_transcript_goes_to_the_chats_own_address_and_one_other_only(server, people):
    ann, chatter, chat = chat_with_ann(server, people, email="carl@example.com")
    assert chatter.end().status_code == 200
    assert email_transcript(chatter, "carl@example.com").status_code == 200
    assert email_transcript(chatter, "friend@example.com").status_code == 200
    third = email_transcript(chatter, "stranger@example.org")
    assert third.status_code == 400 and "one other address" in third.text
    assert email_transcript(chatter, "Friend@Example.com").status_code == 200  # the same other one
    sent = [a for (a,) in rows(server, "select to_address from transcriptmail order by id")]
    assert sent == ["carl@example.com", "friend@example.com", "Friend@Example.com"]


def test_transcript_mails_from_one_address_are_limited_per_hour(start_server, people):
    server = start_server(env={"PARLEY_LIMIT_TRANSCRIPT_MAILS": "2 per hour"})
    ann, chatter, chat = chat_with_ann(server, people, email="carl@example.com")
    assert chatter.end().status_code == 200
    for _ in range(2):
        assert email_transcript(chatter, "carl@example.com").status_code == 200
    refused = email_transcript(chatter, "carl@example.com")
    too_many(refused, "transcripts e-mailed from your address")
    assert f'id="mail-status-{chat}"' in refused.text  # in place of the mail status, as htmx swaps it
    assert rows(server, "select count(*) from transcriptmail") == [(2,)]


# --- attachments, the disk and /healthz -------------------------------------------------------------


def test_a_chat_holds_files_up_to_its_quota(start_server, people):
    server = start_server(env={"PARLEY_FILES_PER_CHAT_MB": "1"})
    ann, chatter, chat = chat_with_ann(server, people)
    assert chatter_sends(chatter, "", [("first.txt", text_file(600 * 1024))]).status_code == 204
    refused = agent_sends(ann, chat, "and mine", [("second.txt", text_file(600 * 1024))])
    assert refused.status_code == 400 and "at most 1 MB of files" in refused.text, refused.text
    assert rows(server, "select name from attachment") == [("first.txt",)]
    assert agent_sends(ann, chat, "words still go").status_code == 204


class UpButUnhealthy(Parley):
    """A server that counts as started once /healthz answers at all, 503 included."""

    def _healthy(self):
        try:
            return fetch(self.url + "/healthz")[0] in (200, 503)
        except OSError:
            return False


def test_below_the_free_disk_floor_uploads_are_refused_and_healthz_says_unhealthy(tmp_path, org_database):
    import shutil

    server = UpButUnhealthy(tmp_path / "data", env={"PARLEY_MIN_FREE_DISK_MB": str(2**40)})
    server.folder.mkdir()
    shutil.copy(org_database, server.folder / "parley.db")
    server.start()
    from clients import People

    people = People()
    try:
        status, said = fetch(server.url + "/healthz")
        assert status == 503 and "disk" in said
        ann, chatter, chat = chat_with_ann(server, people)
        refused = chatter_sends(chatter, "a photo", [("photo.txt", b"pretend photo\n")])
        assert refused.status_code == 400 and "running out of disk space" in refused.text
        assert chatter_sends(chatter, "words still go").status_code == 204
        assert rows(server, "select count(*) from attachment") == [(0,)]
    finally:
        people.close()
        server.stop()


def test_healthz_says_unhealthy_while_the_database_cannot_be_written(server):
    import sqlite3

    holder = sqlite3.connect(server.folder / "parley.db", isolation_level=None, timeout=10)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        status, said = fetch(server.url + "/healthz")
        assert status == 503 and "database cannot be written" in said
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert fetch(server.url + "/healthz") == (200, "ok")


def test_a_file_over_20_mb_is_refused_while_it_streams_in(server, people):
    """The answer comes once a file passed 20 MB, while most of the body is still unsent: nothing
    waits for (or spools) the rest of what Content-Length announced."""
    ann, chatter, chat = chat_with_ann(server, people)
    boundary = "parleyboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\nhuge\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="huge.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    announced = len(head) + 90 * MB  # what the body would be; only 21 MB of the file is ever sent
    request = (
        "POST /chat/support/messages HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Cookie: {chatter.cookie_header('/chat/support/messages')}\r\n"
        f"X-CSRF-Token: {chatter.token}\r\nHX-Request: true\r\nConnection: close\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {announced}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
        raw.sendall(request + head)
        chunk = b"a" * MB
        try:
            for _ in range(21):
                raw.sendall(chunk)
        except OSError:  # the server may close as soon as it has answered
            pass
        answer = b""
        try:
            while data := raw.recv(65536):
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"huge.txt: the file is larger than 20 MB" in answer
    assert rows(server, "select count(*) from attachment") == [(0,)]


# --- the HTTP send path ----------------------------------------------------------------------------


def test_a_message_posted_twice_with_its_key_is_stored_once(server, people):
    ann, chatter, chat = chat_with_ann(server, people)
    for _ in range(2):
        assert (
            chatter.post("/chat/support/messages", {"text": "only once", "key": "k-chatter-1"}).status_code
            == 204
        )
        assert ann.post(f"/chats/{chat}/messages", {"text": "me too", "key": "k-agent-01"}).status_code == 204
    stored = rows(server, "select sender, text from message where sender != 'system' order by seq")
    assert stored == [("chatter", "only once"), ("agent", "me too")]
    bad = chatter.post("/chat/support/messages", {"text": "odd key", "key": "no good!"})
    assert bad.status_code == 400


def test_the_limits_are_settings_checked_at_start():
    import subprocess
    import sys

    from conftest import ROOT

    for name, value in (("PARLEY_LIMIT_CHAT_STARTS", "lots"), ("PARLEY_TRUSTED_PROXIES", "-1")):
        done = subprocess.run(
            [sys.executable, "-m", "cli", "serve", "--port", "1"],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", name: value, "PARLEY_DATA": "/nonexistent-parley"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and name in done.stderr, done.stderr


def test_a_refusal_says_one_second_or_several_seconds():
    assert refusal("messages", 1) == "Too many messages. Please try again in 1 second."
    assert refusal("sign-ins", 30) == "Too many sign-ins. Please try again in 30 seconds."
