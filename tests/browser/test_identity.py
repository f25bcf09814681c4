"""Verified chatters in the browser: a host site's valid token shows the "Verified" lock beside name and
e-mail in the agent's Chat details; a forged one verifies nothing and the chat goes on as usual."""

import time
from urllib.parse import quote

import jwt
import pytest
from playwright.sync_api import expect

from .conftest import accept, messages, say

SECRET = "browser-identity-secret-" + "0123456789" * 3


def identity(name, email, secret=SECRET, ttl=600, **claims):
    claims = {"name": name, "email": email, "exp": int(time.time()) + ttl, **claims}
    return jwt.encode(claims, secret, "HS256")


@pytest.fixture
def server(start_server):
    return start_server(env={"PARLEY_IDENTITY_SECRET": SECRET})


def details(panel):
    return panel.get_by_role("region", name="Chat details")


def test_a_valid_token_shows_the_verified_lock(server, agent_page, new_page):
    ann = agent_page(server, "ann")
    vera = new_page(
        f"{server.url}/chat/support?identity={quote(identity('Vera Verified', 'vera@example.com'))}"
    )
    name, email = vera.get_by_role("textbox", name="Name"), vera.get_by_role("textbox", name="E-mail")
    expect(name).to_have_value("Vera Verified")
    expect(email).to_have_value("vera@example.com")
    expect(name).not_to_be_editable()
    vera.get_by_role("button", name="Start chat").click()
    expect(messages(vera)).to_be_visible()

    chat = accept(ann, "Vera Verified")
    region = details(chat)
    expect(region.get_by_role("img", name="Verified")).to_have_count(2)
    expect(
        region.locator("dd").filter(has_text="Vera Verified").get_by_role("img", name="Verified")
    ).to_be_visible()
    expect(
        region.locator("dd").filter(has_text="vera@example.com").get_by_role("img", name="Verified")
    ).to_be_visible()
    expect(region).to_contain_text("0 with this verified e-mail")

    say(chat, "Hello Vera")
    expect(messages(vera)).to_contain_text("Hello Vera")


def test_every_other_signed_claim_has_its_own_lock_in_the_order_signed(server, agent_page, new_page):
    ann = agent_page(server, "ann")
    signed = identity(
        "Vera Verified",
        "",
        customer_number="K-1234",
        phone="+47 22 00 00 00",
        plan="<i>Gold</i>",
        iat=int(time.time()),  # reserved: says nothing about the chatter
    )
    vera = new_page(f"{server.url}/chat/support?identity={quote(signed)}")
    vera.get_by_role("textbox", name="E-mail").fill("typed@example.com")
    vera.get_by_role("button", name="Start chat").click()
    expect(messages(vera)).to_be_visible()

    region = details(accept(ann, "Vera Verified"))
    rows = region.locator("dl > div")
    expect(rows.filter(has_text="Customer number").locator("dd")).to_be_visible()
    shown = [(row.locator("dt").inner_text(), row.locator("dd").inner_text().strip()) for row in rows.all()]
    labels = [label for label, _ in shown]
    assert labels[:5] == ["Name", "E-mail", "Customer number", "Phone", "Plan"], shown
    assert [value for _, value in shown[2:5]] == ["K-1234", "+47 22 00 00 00", "<i>Gold</i>"]
    for label in ("Name", "Customer number", "Phone", "Plan"):
        row = rows.filter(has=region.page.get_by_text(label, exact=True))
        expect(row.get_by_role("img", name="Verified")).to_be_visible()
    # what the chatter typed carries no lock
    email = rows.filter(has_text="typed@example.com")
    expect(email).to_be_visible()
    expect(email.get_by_role("img", name="Verified")).to_have_count(0)
    expect(region.get_by_role("img", name="Verified")).to_have_count(4)
    expect(region.locator("i")).to_have_count(0)  # the value is text, not markup
    expect(region).not_to_contain_text("Iat")


def test_a_forged_token_shows_no_lock_and_the_chat_goes_on(server, agent_page, new_page):
    ann = agent_page(server, "ann")
    forged = identity("Mallory Forged", "mallory@example.com", secret="not-the-secret-" + "x" * 32)
    carl = new_page(f"{server.url}/chat/support?identity={quote(forged)}")
    name = carl.get_by_role("textbox", name="Name")
    expect(name).to_have_value("")  # nothing of the forged token is shown, or believed
    name.fill("Carl Typed")
    carl.get_by_role("textbox", name="E-mail").fill("carl@example.com")
    carl.get_by_role("button", name="Start chat").click()
    expect(messages(carl)).to_be_visible()

    chat = accept(ann, "Carl Typed")
    region = details(chat)
    expect(region).to_contain_text("Carl Typed")
    expect(region).to_contain_text("carl@example.com")
    expect(region).not_to_contain_text("Mallory")
    expect(region.get_by_role("img", name="Verified")).to_have_count(0)

    say(chat, "Hello Carl")
    expect(messages(carl)).to_contain_text("Hello Carl")
    say(carl, "Hi, thanks")
    expect(messages(chat)).to_contain_text("Hi, thanks")
    assert "identity token refused: bad signature" in server.log.read_text()


def test_an_expired_token_leaves_the_typed_values_unverified(server, agent_page, new_page):
    ann = agent_page(server, "ann")
    expired = identity("Old Token", "old@example.com", ttl=-3600)
    page = new_page(f"{server.url}/chat/support?identity={quote(expired)}")
    page.get_by_role("textbox", name="Name").fill("Olga")
    page.get_by_role("button", name="Start chat").click()
    chat = accept(ann, "Olga")
    expect(details(chat)).to_contain_text("Olga")
    expect(details(chat).get_by_role("img", name="Verified")).to_have_count(0)
