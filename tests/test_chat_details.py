"""What the agent learns about a chatter (Chat details), and the settings and headers that let host
sites embed the chat page: frame-ancestors, the chat pages' own cookies, the widget's script."""

import csv
import io
import json
import re
import subprocess
import time
from urllib.parse import quote

import jwt
import pytest
import requests
from clients import csrf_from, rows
from conftest import ROOT, Parley

from data.useragent import describe

SECRET = "details-identity-secret-" + "0123456789" * 3
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0"


def identity(name="Vera Verified", email="vera@example.com", **claims):
    claims = {"name": name, "email": email, "exp": int(time.time()) + 600, **claims}
    return jwt.encode(claims, SECRET, "HS256")


def start(chatter, query="", headers=None, **form):
    """Open the chat page (with `query`), then send its pre-chat form with `form` added."""
    chatter.http.headers.update(headers or {})  # as a browser sends them on every request
    page = chatter.get(f"/chat/{chatter.slug}{query}")
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
    response = chatter.post(f"/chat/{chatter.slug}", {**fields, **form}, False)
    assert response.status_code == 200, response.text
    chatter.token = csrf_from(response.text)
    chatter.chat_id = int(re.search(r'id="log-(\d+)"', response.text).group(1))
    return chatter.chat_id


def details(agent, chat_id):
    """The Chat details region of the chat's panel in the agent's console."""
    html = agent.console()
    found = re.search(rf'<section id="details-{chat_id}".*?</section>', html, re.DOTALL)
    assert found, f"no details of chat {chat_id}"
    return found.group(0)


@pytest.fixture
def verifying_server(start_server):
    return start_server(env={"PARLEY_IDENTITY_SECRET": SECRET})


def test_details_show_queue_waiting_start_page_and_browser(server, people):
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = start(
        chatter,
        headers={"User-Agent": FIREFOX_WINDOWS, "Referer": "https://shop.example/help?q=boots"},
        name="Carl",
        email="carl@example.com",
    )
    waiting = details(ann, chat)
    assert "Still waiting" in waiting
    ann.accept(chat)
    shown = details(ann, chat)
    for text in (
        "Carl",
        "carl@example.com",
        "Support",
        "Firefox 132 on Windows",
        "https://shop.example/help?q=boots",
    ):
        assert text in shown, text
    assert re.search(r"<dt>Waited</dt><dd>\d+ s</dd>", shown), shown
    assert 'aria-label="Verified"' not in shown  # typed, not vouched for
    assert "Earlier chats" not in shown  # counted only for a verified e-mail


def test_a_start_page_that_is_not_http_is_not_shown(server, people):
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = start(chatter, "?from=" + quote("javascript:alert(1)"), name="Jay")
    shown = details(ann, chat)
    assert "javascript:" not in shown and "Not known" in shown


def test_the_widget_page_address_wins_over_the_referer(server, people):
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    query = "?from=" + quote("https://shop.example/boots/44")
    chat = start(chatter, query, headers={"Referer": "https://shop.example/"}, name="Wes")
    assert rows(server, "select started_from from chat where id = ?", chat) == [
        ("https://shop.example/boots/44",)
    ]
    assert "https://shop.example/boots/44" in details(ann, chat)


def test_verified_values_win_over_typed_ones(verifying_server, people):
    server = verifying_server
    chatter = people.chatter(server)
    chat = start(chatter, "?identity=" + identity(), name="Mallory Typed", email="mallory@example.com")
    assert rows(server, "select chatter_name, chatter_email, name_verified, email_verified from chat") == [
        ("Vera Verified", "vera@example.com", 1, 1)
    ]
    ann = people.agent(server, "ann", "Support desk")
    shown = details(ann, chat)
    assert shown.count('role="img" aria-label="Verified"') == 2
    assert "Mallory" not in shown


def test_other_signed_claims_show_with_their_locks_in_details_logs_and_exports(verifying_server, people):
    server = verifying_server
    chatter = people.chatter(server)
    signed = identity(name="", customer_number="K-1234", plan="<b>Gold</b>", accountId=98765, tags=["a"])
    chat = start(chatter, "?identity=" + signed, name="Tina Typed")
    ann = people.agent(server, "ann", "Support desk")
    shown = details(ann, chat)
    lock = re.escape('<svg class="icon lock" role="img" aria-label="Verified"')
    in_order = [
        ("Customer number", "K-1234"),
        ("Plan", "&lt;b&gt;Gold&lt;/b&gt;"),
        ("Account id", "98765"),
    ]
    pattern = r"\s*".join(
        rf"<div><dt>{label}</dt><dd>{re.escape(text)} {lock}[^\n]*</dd></div>" for label, text in in_order
    )
    assert re.search(pattern, shown), shown
    assert "<b>Gold" not in shown and "Tags" not in shown
    assert shown.count('aria-label="Verified"') == 4  # the e-mail and the three claims
    assert re.search(r"<dt>Name</dt><dd>Tina Typed</dd>", shown)  # typed: no lock

    chatter.say("hello")
    sue = people.agent(server, "sue")
    log = sue.get(f"/logs/{chat}").text
    assert re.search(pattern, log), log
    claims = {"customer_number": "K-1234", "plan": "<b>Gold</b>", "accountId": "98765"}
    record = sue.get(f"/logs/{chat}.json").json()
    assert (record["name_verified"], record["email_verified"]) == (False, True)
    assert list(record["verified_claims"].items()) == list(claims.items())
    row = next(csv.DictReader(io.StringIO(sue.get(f"/logs/{chat}.csv").text)))
    assert row["verified"] == "email; customer_number: K-1234; plan: <b>Gold</b>; accountId: 98765"
    exported = subprocess.run(
        server.command("export-chatter", "vera@example.com"), cwd=ROOT, env=server.env, capture_output=True
    )
    assert json.loads(exported.stdout)["chats"][0]["verified_claims"] == claims


def test_start_a_new_chat_keeps_the_host_sites_page_and_never_its_identity(verifying_server, people):
    """On a shared browser the next person must not chat as the last one (issue 14, §4)."""
    server = verifying_server
    chatter = people.chatter(server)  # in a widget's frame, whose URL the host page set only once
    start(chatter, "?identity=" + identity() + "&from=" + quote("https://shop.example/boots"))
    assert chatter.end().status_code == 200
    page = chatter.post("/chat/support/new", {"csrf_token": chatter.token}, False)
    assert "?identity=" not in page.url and "from=" in page.url
    assert "Vera Verified" not in page.text and "readonly" not in page.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
    assert "identity" not in fields
    assert chatter.post("/chat/support", {**fields, "name": "Next Person"}, False).status_code == 200
    assert rows(server, "select chatter_name, name_verified, email_verified, started_from from chat") == [
        ("Vera Verified", 1, 1, "https://shop.example/boots"),
        ("Next Person", 0, 0, "https://shop.example/boots"),
    ]


def test_a_token_for_the_email_alone_verifies_only_the_email(verifying_server, people):
    server = verifying_server
    chatter = people.chatter(server)
    start(chatter, "?identity=" + identity(name=""), name="Vera Typed")
    assert rows(server, "select chatter_name, chatter_email, name_verified, email_verified from chat") == [
        ("Vera Typed", "vera@example.com", 0, 1)
    ]


def test_a_bad_token_is_ignored_entirely_and_the_chat_starts(verifying_server, people):
    server = verifying_server
    chatter = people.chatter(server)
    forged = jwt.encode(
        {"name": "Vera", "email": "v@example.com", "exp": int(time.time()) + 60}, "x" * 40, "HS256"
    )
    start(chatter, "?identity=" + forged, name="Carl", email="carl@example.com")
    assert rows(server, "select chatter_name, chatter_email, name_verified, email_verified from chat") == [
        ("Carl", "carl@example.com", 0, 0)
    ]
    assert chatter.say("still here").status_code == 204
    assert "identity token refused: bad signature" in server.log.read_text()


def test_earlier_chats_of_a_verified_email_are_counted_and_linked_for_supervisors(verifying_server, people):
    server = verifying_server
    sue = people.agent(server, "sue", "Support desk")
    first = people.chatter(server)
    first_chat = start(first, "?identity=" + identity())
    sue.accept(first_chat)
    first.end()
    typed = people.chatter(server)  # the same address typed, not vouched for: not counted
    typed_chat = start(typed, name="Someone", email="VERA@example.com")
    sue.accept(typed_chat)
    typed.end()

    second = people.chatter(server)
    second_chat = start(second, "?identity=" + identity(email="Vera@Example.com"))
    shown = details(sue, second_chat)
    assert "1 with this verified e-mail" in shown
    assert f'href="/logs/{first_chat}"' in shown
    assert f'href="/logs/{typed_chat}"' not in shown
    assert sue.get(f"/logs/{first_chat}").status_code == 200

    # an agent who is not a supervisor sees the count, without links into the logs
    assert sue.post("/status/pause").status_code == 200
    ann = people.agent(server, "ann", "Support desk")
    third = people.chatter(server)
    third_chat = start(third, "?identity=" + identity())
    shown = details(ann, third_chat)
    assert "2 with this verified e-mail" in shown
    assert "/logs/" not in shown


# --- embedding: headers, cookies, settings ----------------------------------------------------------


def test_only_chat_pages_may_be_framed_by_the_allowed_origins(start_server):
    origins = "https://shop.example https://*.shop.example http://127.0.0.1:8001"
    server = start_server(env={"PARLEY_FRAME_ORIGINS": origins})
    chat_page = requests.get(server.url + "/chat/support", timeout=10)
    assert f"frame-ancestors 'self' {origins};" in chat_page.headers["Content-Security-Policy"]
    login = requests.get(server.url + "/login", timeout=10)
    assert "frame-ancestors 'self';" in login.headers["Content-Security-Policy"]


def test_chat_pages_keep_their_own_session_cookie_fit_for_frames_over_https(server):
    plain = requests.get(server.url + "/chat/support", timeout=10)
    cookie = plain.headers["Set-Cookie"]
    assert cookie.startswith("parley_session=") and "Path=/chat/" in cookie and "SameSite=Lax" in cookie

    # behind a proxy that terminated TLS (requests itself would keep a Secure cookie off plain http)
    forwarded = {"X-Forwarded-Proto": "https"}
    page = requests.get(server.url + "/chat/support", headers=forwarded, timeout=10)
    session = page.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/chat/"):
        assert attribute in session, session
    started = requests.post(
        server.url + "/chat/support",
        {"csrf_token": csrf_from(page.text)},
        headers={**forwarded, "Cookie": session.split(";")[0]},
        allow_redirects=False,
        timeout=10,
    )
    assert started.status_code == 303, started.text
    (chat_cookie,) = [
        c for c in started.raw.headers.getlist("Set-Cookie") if c.startswith("parley_chat_support=")
    ]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/chat/support"):
        assert attribute in chat_cookie, chat_cookie


def test_the_widget_script_is_served_to_other_sites(server):
    response = requests.get(server.url + "/widget.js", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert "Chat with us" in response.text


def test_the_demo_host_page_is_served_only_in_demo_mode(start_server):
    assert requests.get(start_server().url + "/demo/host", timeout=10).status_code == 404
    demo = start_server(env={"PARLEY_DEMO": "1", "PARLEY_IDENTITY_SECRET": SECRET})
    page = requests.get(demo.url + "/demo/host", timeout=10)
    assert page.status_code == 200
    token = re.search(r'src="/widget.js" data-queue="support" data-identity="([^"]+)"', page.text).group(1)
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["name"] == "Dana Demo"


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("PARLEY_FRAME_ORIGINS", "https://shop.example; script-src *", "PARLEY_FRAME_ORIGINS"),
        ("PARLEY_FRAME_ORIGINS", "*", "PARLEY_FRAME_ORIGINS"),
        ("PARLEY_SMTP_URL", "http://mail.example", "PARLEY_SMTP_URL"),
        ("PARLEY_MAIL_RETRY_DELAYS", "soon", "PARLEY_MAIL_RETRY_DELAYS"),
        ("PARLEY_OFFER_TIMEOUT", "half a minute", "PARLEY_OFFER_TIMEOUT"),
        ("PARLEY_LEAVE_GRACE", "-1", "PARLEY_LEAVE_GRACE"),
        ("PARLEY_PING_INTERVAL", "0", "PARLEY_PING_INTERVAL"),
        ("PARLEY_PING_INTERVAL", "inf", "PARLEY_PING_INTERVAL"),
    ],
)
def test_a_bad_setting_stops_serve_with_its_name(tmp_path, name, value, says):
    server = Parley(tmp_path, env={name: value})
    result = subprocess.run(
        server.command("serve", "--port", str(server.port)),
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert says in result.stderr


# --- browsers, told apart simply ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "agent, described",
    [
        (FIREFOX_WINDOWS, "Firefox 132 on Windows"),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.6723.58 Mobile Safari/537.36",
            "Chrome 130 on Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari 17 on iOS",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68",
            "Edge 130 on macOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
            "Opera 115 on Linux",
        ),
        ("python-requests/2.32", "Unknown browser"),
        ("", "Unknown browser"),
    ],
)
def test_user_agents_are_described_simply(agent, described):
    assert describe(agent) == described
