"""HTTP behaviour of a real server: sign-in, CSRF, cookies, who sees which chat, escaping, errors."""

import re
from datetime import datetime

import pytest
import requests
from clients import csrf_from, rows
from conftest import wait_for

from data.models import Agent, Chat, Message
from views.messages import message_html

NAUGHTY_NAME = "<script>alert(1)</script>"
NAUGHTY_TEXT = "<img src=x onerror=alert(1)>"


def set_cookies(response):
    return response.raw.headers.getlist("Set-Cookie")


def cookie_attributes(header):
    """`name=value; Path=/; HttpOnly` as ("name", "value", {"path": "/", "httponly": True})."""
    first, *rest = [part.strip() for part in header.split(";")]
    name, value = first.split("=", 1)
    attributes = {}
    for part in rest:
        key, _, val = part.partition("=")
        attributes[key.lower()] = val or True
    return name, value, attributes


# --- signing in ------------------------------------------------------------------------------------

PROTECTED = [
    ("GET", "/"),
    ("POST", "/status/logon"),
    ("POST", "/status/pause"),
    ("POST", "/status/resume"),
    ("POST", "/status/logoff"),
    ("POST", "/offers/{offer}/accept"),
    ("POST", "/offers/{offer}/reject"),
    ("POST", "/chats/{chat}/messages"),
    ("POST", "/chats/{chat}/end"),
    ("POST", "/chats/{chat}/close"),
    ("GET", "/chats/{chat}/predefined"),
    ("POST", "/chats/{chat}/options"),
    ("POST", "/chats/{chat}/invite"),
    ("POST", "/logout"),
    ("GET", "/admin"),
    ("GET", "/admin/export"),
    ("POST", "/admin/chats/{chat}/end"),
    ("GET", "/logs"),
    ("GET", "/logs/{chat}"),
    ("GET", "/logs/export.json"),
]
SUPERVISORS_ONLY = [
    "/admin",
    "/admin/export",
    "/logs",
    "/logs/{chat}",
    "/logs/{chat}.json",
    "/logs/export.csv",
]


def chat_with_a_secret(server, people):
    """Ann on the Support desk, offered a chat whose chatter told a secret: (ann, chat id, offer id)."""
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = chatter.start(name="Secret Sam")
    assert chatter.say("the launch code is 0000").status_code == 204
    offer = wait_for(lambda: ann.offer_id(chat), message="the offer")
    return ann, chat, offer


def assert_sent_to_login(server, response):
    if response.status_code in (301, 302, 303, 307):
        assert response.headers["Location"].split("?")[0] in ("/login", server.url + "/login")
    else:
        assert response.status_code in (401, 403), response.status_code


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_agent_page_needs_login(server, people, method, path):
    ann, chat, offer = chat_with_a_secret(server, people)
    path = path.format(chat=chat, offer=offer)

    stranger = people.browser(server)
    stranger.get("/login")  # a session with a valid CSRF token, but nobody signed in
    data = {"csrf_token": stranger.token, "text": "hello", "profile": "1", "confirmed": "yes"}
    if method == "GET":
        response = stranger.http.get(server.url + path, allow_redirects=False, timeout=10)
    else:
        response = stranger.http.post(server.url + path, data=data, allow_redirects=False, timeout=10)
    assert_sent_to_login(server, response)
    assert "Secret Sam" not in response.text
    assert "launch code" not in response.text
    # and nothing changed
    assert ann.offer_id(chat) == offer
    assert rows(server, "select count(*) from message where chat_id = ?", chat) == [(1,)]
    assert ann.status() == "available"


def test_supervisor_pages_are_forbidden_to_agents(server, people):
    ann, chat, offer = chat_with_a_secret(server, people)
    for path in SUPERVISORS_ONLY:
        response = ann.get(path.format(chat=chat), allow_redirects=False)
        assert response.status_code == 403, path
        assert "launch code" not in response.text, path
    sue = people.agent(server, "sue")
    assert sue.get("/admin").status_code == 200
    assert "launch code" in sue.get(f"/logs/{chat}").text


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/status/pause"), ("GET", "/chats/{chat}/predefined"), ("GET", "/admin"), ("GET", "/logs")],
)
def test_a_page_whose_session_ended_is_told_to_sign_in_not_given_the_sign_in_page(
    server, people, method, path
):
    """htmx would swap the sign-in page into the part of the page that asked (an alert, the status);
    it is told to take the whole page there instead (HX-Redirect), with nothing to swap."""
    ann, chat, offer = chat_with_a_secret(server, people)
    sue = people.agent(server, "sue")
    sue.get("/admin")  # the page that stays open, with its CSRF token
    assert people.agent(server, "sue").post("/logout").status_code == 200  # signed out elsewhere
    headers = {"HX-Request": "true", "X-CSRF-Token": sue.token, "HX-Current-URL": server.url + "/admin"}
    response = sue.http.request(
        method, server.url + path.format(chat=chat), headers=headers, allow_redirects=False, timeout=10
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/admin"
    assert response.text == ""
    assert "HX-Request" in response.headers["Vary"]


def test_answers_that_depend_on_htmx_say_so(server, people):
    """A page and a fragment at one URL: Vary: HX-Request, so no cache gives one for the other."""
    browser = people.browser(server)
    for headers in ({}, {"HX-Request": "true"}):
        for path in ("/chat/support", "/chat/nowhere", "/admin"):
            response = browser.http.get(server.url + path, headers=headers, allow_redirects=False, timeout=10)
            assert "HX-Request" in response.headers.get("Vary", ""), (path, headers)


def test_wrong_credentials_get_one_generic_error(server, people):
    answers = []
    for username, password in [("nobody", "whatever-password"), ("ann", "not-anns-password")]:
        browser = people.browser(server)
        browser.get("/login")
        response = browser.post(
            "/login", {"username": username, "password": password, "csrf_token": browser.token}, False
        )
        assert response.status_code == 401
        assert "Wrong username or password." in response.text
        answers.append(re.search(r'<p class="error"[^>]*>([^<]*)</p>', response.text).group(1))
        assert browser.get("/").url.startswith(server.url + "/login")
    assert answers[0] == answers[1]


def test_login_form_without_csrf_token_is_refused(server, people):
    browser = people.browser(server)
    browser.get("/login")
    response = browser.post("/login", {"username": "ann", "password": "ann-password"}, False)
    assert response.status_code == 400
    assert browser.get("/").url.startswith(server.url + "/login")


def test_sign_out_logs_off_and_ends_the_session(server, people):
    ann = people.agent(server, "ann", "Support desk")
    assert ann.status() == "available"
    response = ann.post("/logout", allow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["Location"].split("?")[0] in ("/login", server.url + "/login")
    assert ann.get("/").url.startswith(server.url + "/login")

    again = people.agent(server, "ann")
    assert again.status() == "off"
    assert "Logged off" in again.console()


def test_a_session_cookie_copied_before_sign_out_no_longer_opens_the_console(server, people):
    ann = people.agent(server, "ann")
    copied = requests.Session()
    copied.cookies.update(ann.http.cookies)
    assert copied.get(server.url + "/").url == server.url + "/"
    ann.post("/logout")
    assert copied.get(server.url + "/").url.startswith(server.url + "/login")
    copied.close()


def test_sign_out_sends_pending_offers_elsewhere(server, people):
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = chatter.start(name="Handed Over")
    wait_for(lambda: ann.offer_id(chat), message="the offer to Ann")
    ben = people.agent(server, "ben", "Support desk")
    assert ben.offer_id(chat) is None
    ann.post("/logout")
    wait_for(lambda: ben.offer_id(chat), message="the offer to go to Ben")


# --- CSRF ----------------------------------------------------------------------------------------


def test_chatter_message_without_csrf_token_is_refused_and_not_stored(server, people):
    chatter = people.chatter(server)
    chat = chatter.start()
    assert chatter.post("/chat/support/messages", {"text": "no token"}, csrf=False).status_code == 400
    forged = {"text": "forged token", "csrf_token": "x" * 43}
    assert chatter.post("/chat/support/messages", forged, csrf=False).status_code == 400
    assert rows(server, "select text from message where chat_id = ?", chat) == []
    assert "no token" not in chatter.page().text
    assert chatter.say("with the token").status_code == 204
    assert rows(server, "select text from message where chat_id = ?", chat) == [("with the token",)]


def test_log_on_without_csrf_token_leaves_the_agent_off(server, people):
    ann = people.agent(server, "ann")
    profile = ann.profile_id("Support desk")
    response = ann.post("/status/logon", {"profile": profile}, csrf=False)
    assert response.status_code == 400
    assert ann.status() == "off"


def test_log_on_clicked_before_htmx_ran_posts_the_plain_form_and_reloads(server, people):
    ann = people.agent(server, "ann")
    form = {"profile": ann.profile_id("Support desk"), "csrf_token": ann.token}
    response = ann.post("/status/logon", form, csrf=False, allow_redirects=False)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert ann.status() == "available"


def test_a_token_from_another_session_is_refused(server, people):
    ann = people.agent(server, "ann")
    other = people.browser(server)
    other.get("/login")
    response = ann.http.post(
        server.url + "/status/logon",
        data={"profile": ann.profile_id("Support desk")},
        headers={"X-CSRF-Token": other.token},
        timeout=10,
    )
    assert response.status_code == 400
    assert ann.status() == "off"


# --- cookies ---------------------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_lax(server, people):
    browser = people.browser(server)
    browser.get("/login")
    response = browser.post(
        "/login",
        {"username": "ann", "password": "ann-password", "csrf_token": browser.token},
        False,
        allow_redirects=False,
    )
    assert response.status_code in (302, 303)
    cookies = [cookie_attributes(c) for c in set_cookies(response)]
    session = [attrs for name, _, attrs in cookies if name == "session"]
    assert session, cookies
    assert session[0].get("httponly") is True
    assert session[0].get("samesite", "").lower() == "lax"


def test_chat_cookie_is_a_secret_token_for_this_queue_only(server, people):
    chatter = people.chatter(server)
    chatter.get("/chat/support")
    response = chatter.post("/chat/support", {"csrf_token": chatter.token}, False, allow_redirects=False)
    assert response.status_code in (302, 303)
    cookies = {name: (value, attrs) for name, value, attrs in map(cookie_attributes, set_cookies(response))}
    token, attrs = cookies["parley_chat_support"]
    assert attrs.get("httponly") is True
    assert attrs.get("samesite", "").lower() == "lax"
    assert attrs.get("path") == "/chat/support"
    assert len(token) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    ((chat_id,),) = rows(server, "select id from chat")
    assert token != str(chat_id)

    second = people.chatter(server)
    second.start()
    tokens = {c.value for c in second.http.cookies if c.name == "parley_chat_support"}
    assert token not in tokens


def test_the_pre_chat_form_sent_by_htmx_gets_the_chat_at_once(server, people):
    chatter = people.chatter(server)
    chatter.get("/chat/support?identity=&from=https://shop.example/boots")
    response = chatter.post(
        "/chat/support", {"name": "Hanna", "csrf_token": chatter.token}, allow_redirects=False
    )
    assert response.status_code == 200
    ((chat_id,),) = rows(server, "select id from chat")
    assert f'id="log-{chat_id}"' in response.text and "in the queue" in response.text
    assert response.text.lstrip().startswith("<main")  # what htmx puts in place of the form's <main>
    assert response.headers["HX-Replace-Url"] == "/chat/support"
    assert any(c.name == "parley_chat_support" for c in chatter.http.cookies)
    assert chatter.get("/chat/support").text.count(f'id="log-{chat_id}"') == 1  # and a reload shows it

    bad = people.chatter(server)
    bad.get("/chat/support")
    response = bad.post("/chat/support", {"email": "not-an-address", "csrf_token": bad.token})
    assert response.status_code == 400 and response.text.lstrip().startswith("<main")
    assert "This does not look like an e-mail address." in response.text


# --- who sees a chat ---------------------------------------------------------------------------------


def test_another_browser_never_sees_the_chat(server, people):
    owner = people.chatter(server)
    chat = owner.start(name="Owner Olive", email="olive@example.com")
    assert owner.say("my secret question").status_code == 204
    assert "my secret question" in owner.page().text

    stranger = people.chatter(server)
    page = stranger.page()
    assert page.status_code == 200
    assert "Start chat" in page.text
    assert "my secret question" not in page.text and "Owner Olive" not in page.text
    refused = stranger.say("let me in")
    assert refused.status_code == 403
    assert stranger.get("/chat/support/transcript").status_code == 403
    assert stranger.end().status_code == 403

    for forged in ("not-the-token", str(chat), ""):
        stranger.http.cookies.set("parley_chat_support", forged, path="/chat/support")
        page = stranger.page()
        assert "Start chat" in page.text and "my secret question" not in page.text
        assert stranger.say("let me in").status_code == 403

    assert rows(server, "select text from message where chat_id = ?", chat) == [("my secret question",)]
    assert rows(server, "select state from chat where id = ?", chat) == [("waiting",)]


def test_a_chat_cookie_does_not_open_another_queue(server, people):
    owner = people.chatter(server)
    owner.start(name="Owner Olive")
    assert owner.say("support question").status_code == 204
    token = owner.http.cookies.get("parley_chat_support", path="/chat/support")
    owner.http.cookies.set("parley_chat_sales", token, path="/chat/sales")
    page = owner.get("/chat/sales")
    assert "Start chat" in page.text and "support question" not in page.text
    assert owner.post("/chat/sales/messages", {"text": "cross"}).status_code == 403


def test_unknown_queue_is_a_404_page(server, people):
    browser = people.browser(server)
    response = browser.get("/chat/nope")
    assert response.status_code == 404
    assert "<html" in response.text.lower()
    assert "no such chat" in response.text


def test_bad_email_on_the_pre_chat_form_is_shown_and_nothing_stored(server, people):
    chatter = people.chatter(server)
    chatter.get("/chat/support")
    # the second is one the transcript mail would refuse (data/checks.py): the form takes no more
    for address in ("not-an-address", "eve(home)@example.com"):
        form = {"name": "Eve", "email": address, "csrf_token": chatter.token}
        response = chatter.post("/chat/support", form, False)
        assert response.status_code == 400
        assert "This does not look like an e-mail address." in response.text
        assert f'value="{address}"' in response.text  # what they typed stays in the form
    assert rows(server, "select count(*) from chat") == [(0,)]
    assert not any(c.name.startswith("parley_chat") for c in chatter.http.cookies)


def test_too_long_name_on_the_pre_chat_form_is_refused(server, people):
    chatter = people.chatter(server)
    chatter.get("/chat/support")
    response = chatter.post("/chat/support", {"name": "N" * 81, "csrf_token": chatter.token}, False)
    assert response.status_code == 400
    assert "at most 80 characters" in response.text
    assert rows(server, "select count(*) from chat") == [(0,)]


# --- escaping -----------------------------------------------------------------------------------------


def test_everything_typed_is_escaped(server, people):
    ann = people.agent(server, "ann", "Support desk")
    console = ann.connect()
    chatter = people.chatter(server)
    chat = chatter.start(name=NAUGHTY_NAME)
    assert chatter.say(NAUGHTY_TEXT).status_code == 204
    console.wait_for_seq(chat, 1)
    ann.accept(chat)
    assert ann.say(chat, NAUGHTY_TEXT + " back").status_code == 204
    page = chatter.connect()
    page.wait_for_seq(chat, 3)
    console.wait_for_seq(chat, 3)

    seen = {
        "console page": ann.console(),
        "console socket": console.text(),
        "chat page": chatter.page().text,
        "chat socket": page.text(),
    }
    for where, html in seen.items():
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, where
        assert "<img src=x" not in html, where
        assert "<script>alert" not in html, where
    for where in ("console page", "console socket"):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in seen[where], where


# --- offers ------------------------------------------------------------------------------------------


def test_accept_after_expiry_and_someone_elses_accept_is_409(start_server, people):
    server = start_server(offer_timeout=2)
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = chatter.start(name="Slow Sid")
    chatter.connect()  # Sid's page is there: an offer that nobody could answer pauses no one
    offer = wait_for(lambda: ann.offer_id(chat), message="the offer to Ann")
    wait_for(lambda: ann.status() == "paused", message="Ann's offer to expire")

    late = ann.post(f"/offers/{offer}/accept")
    assert late.status_code == 409
    assert "expired" in late.text

    ben = people.agent(server, "ben", "Support desk")
    ben.accept(chat)
    late = ann.post(f"/offers/{offer}/accept")
    assert late.status_code == 409
    assert "expired" in late.text
    assert rows(server, "select agent_id from participant where chat_id = ?", chat) == [
        rows(server, "select id from agent where username = 'ben'")[0]
    ]


def test_accept_twice_from_two_tabs_is_409(server, people):
    ann = people.agent(server, "ann", "Support desk")
    other_tab = people.agent(server, "ann")
    chatter = people.chatter(server)
    chat = chatter.start()
    offer = ann.accept(chat)
    again = other_tab.post(f"/offers/{offer}/accept")
    assert again.status_code == 409
    assert "already accepted" in again.text
    assert rows(server, "select count(*) from participant where chat_id = ?", chat) == [(1,)]


def test_reject_sends_the_chat_to_another_agent(server, people):
    ann = people.agent(server, "ann", "Support desk")
    ben = people.agent(server, "ben", "Support desk")
    sockets = {ann: ann.connect(), ben: ben.connect()}
    chatter = people.chatter(server)
    chat = chatter.start(name="Ronnie Rejected")
    first = wait_for(
        lambda: next((a for a in (ann, ben) if a.offer_id(chat)), None), message="the first offer"
    )
    second = ben if first is ann else ann
    assert second.offer_id(chat) is None
    offer = first.offer_id(chat)

    response = first.post(f"/offers/{offer}/reject")
    assert response.status_code == 200
    sockets[second].wait_for_text(f'id="tab-{chat}"')
    assert "Ronnie Rejected" in sockets[second].text()
    sockets[first].wait_for_text(f'<div id="tab-item-{chat}" hx-swap-oob="delete"></div>')
    assert first.post(f"/offers/{offer}/reject").status_code == 409


def test_someone_elses_offer_is_not_found(server, people):
    ann = people.agent(server, "ann", "Support desk")
    ben = people.agent(server, "ben")
    chatter = people.chatter(server)
    chat = chatter.start()
    offer = wait_for(lambda: ann.offer_id(chat), message="the offer to Ann")
    assert ben.post(f"/offers/{offer}/accept").status_code == 404
    assert ben.post(f"/chats/{chat}/messages", {"text": "hijack"}).status_code == 404
    assert ann.offer_id(chat) == offer


# --- messages -----------------------------------------------------------------------------------------


def test_empty_message_is_refused(server, people):
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = chatter.start()
    ann.accept(chat)
    for response in (chatter.say("   "), ann.say(chat, ""), ann.say(chat, " \n ")):
        assert response.status_code == 400
        assert "Write a message first." in response.text
    assert rows(server, "select sender from message where chat_id = ?", chat) == [("system",)]


def test_message_to_an_ended_chat_is_refused(server, people):
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = chatter.start()
    ann.accept(chat)
    assert chatter.end().status_code == 200
    for response in (chatter.say("wait, one more thing"), ann.say(chat, "are you still there?")):
        assert response.status_code == 409
        assert "This chat has ended." in response.text
    texts = [t for (t,) in rows(server, "select text from message where chat_id = ?", chat)]
    assert "wait, one more thing" not in texts and "are you still there?" not in texts


def test_healthz_needs_no_login(server):
    response = requests.get(server.url + "/healthz", timeout=5, allow_redirects=False)
    assert (response.status_code, response.text) == (200, "ok")


def test_login_page_gives_a_csrf_token(server, people):
    browser = people.browser(server)
    response = browser.get("/login")
    assert response.status_code == 200
    assert csrf_from(response.text) == browser.token


def test_a_message_shows_the_hour_and_minute_it_was_sent():
    sent_at = datetime(2026, 12, 2, 9, 5, 7)
    m = Message(chat=Chat(id=3), seq=4, created_at=sent_at, sender="agent", agent=Agent(id=1, name="Ann"))
    m.text, m.kind = "Hi", "text"
    assert '<time datetime="2026-12-02T09:05:07Z">09:05</time>' in message_html(m, "chatter")
