"""A chat as its two people see it: offer, accept, talk, end; and text that must stay text."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import accept, message_box, messages, panel, say, screenshot, tab


@pytest.mark.both_engines  # one whole chat in a browser through PostgreSQL too
def test_offer_accept_and_talk_both_ways(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    carl = chatter_page(server, "Carl Chatter", email="carl@example.com")
    expect(carl.get_by_text("in the queue")).to_contain_text("1")

    offer = tab(ann, "Carl Chatter")
    expect(offer).to_be_visible()
    expect(panel(ann, "Carl Chatter").get_by_role("button", name="Reject")).to_be_visible()
    chat = accept(ann, "Carl Chatter")
    expect(carl.get_by_text("chatting with Ann Agent")).to_be_visible()
    expect(chat.get_by_role("region", name="Chat details")).to_contain_text("carl@example.com")

    # the agent writes: Enter sends
    say(chat, "Hello Carl, how can I help?")
    expect(messages(carl)).to_contain_text("Hello Carl, how can I help?")

    # the chatter writes two lines: Shift+Enter breaks the line, Enter sends both as one message
    box = message_box(carl)
    box.type("My parcel has not arrived.")
    box.press("Shift+Enter")
    expect(box).to_have_value("My parcel has not arrived.\n")
    box.type("Order 1234, sent last Monday.")
    box.press("Enter")
    expect(box).to_have_value("")
    two_lines = messages(chat).get_by_role("article").filter(has_text="My parcel has not arrived.")
    expect(two_lines).to_have_count(1)
    expect(two_lines.locator(".text")).to_have_text(
        "My parcel has not arrived.\nOrder 1234, sent last Monday."
    )

    # and the agent's Shift+Enter too
    box = message_box(chat)
    box.type("Sorry to hear that.")
    box.press("Shift+Enter")
    box.type("Let me look it up for you.")
    box.press("Enter")
    reply = messages(carl).get_by_role("article").filter(has_text="Sorry to hear that.")
    expect(reply.locator(".text")).to_have_text("Sorry to hear that.\nLet me look it up for you.")
    # once the message is there, nobody is shown typing it any more (well before the 4 s fade)
    expect(carl.get_by_text("is typing")).to_have_count(0, timeout=1500)
    expect(ann.get_by_text("is typing")).to_have_count(0, timeout=1500)
    expect(messages(carl).get_by_role("article")).to_have_count(4)  # joined, hello, parcel, sorry

    expect(offer).to_be_visible()
    screenshot(ann, "console.png")
    screenshot(carl, "chat.png")


def test_offer_tab_shows_what_the_chatter_wrote_while_waiting(server, agent_page, chatter_page):
    dora = chatter_page(server, "Dora")
    say(dora, "Is anyone there?")
    expect(messages(dora)).to_contain_text("Is anyone there?")

    ann = agent_page(server, "ann")
    offered = panel(ann, "Dora")
    expect(offered.get_by_role("button", name="Accept")).to_be_visible()
    expect(messages(offered)).to_contain_text("Is anyone there?")

    # what the chatter writes while the offer is open arrives in the offer's tab too
    say(dora, "I need help with my invoice.")
    expect(messages(offered)).to_contain_text("I need help with my invoice.")


def test_end_from_agent_with_chatter_connected_asks_first(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    eve = chatter_page(server, "Eve")
    chat = accept(ann, "Eve")

    chat.get_by_role("button", name="End chat").click()
    dialog = ann.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    say(chat, "Still here.")
    expect(messages(eve)).to_contain_text("Still here.")
    expect(eve.get_by_text("chat has ended")).to_have_count(0)

    chat.get_by_role("button", name="End chat").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="End chat").click()
    expect(dialog).to_be_hidden()
    expect(eve.get_by_text("chat has ended").first).to_be_visible()
    expect(message_box(eve)).to_have_count(0)
    expect(chat.get_by_text("chat has ended").first).to_be_visible()
    expect(message_box(chat)).to_have_count(0)


def chatter_gone(start_server, agent_page, chatter_page, name):
    """Ann's console and the panel of an accepted chat whose chatter has left: (ann, chat)."""
    server = start_server(leave_grace=1)
    ann = agent_page(server, "ann")
    chatter = chatter_page(server, name)
    chat = accept(ann, name)
    expect(chatter.get_by_text("chatting with Ann Agent")).to_be_visible()
    chatter.context.close()
    expect(messages(chat)).to_contain_text("left the chat")
    expect(chat.get_by_role("region", name="Chat details")).to_contain_text("Has left")
    return ann, chat


def test_end_from_agent_after_chatter_left_closes_at_once(start_server, agent_page, chatter_page):
    ann, chat = chatter_gone(start_server, agent_page, chatter_page, "Fay")
    chat.get_by_role("button", name="End chat").click()
    expect(chat.get_by_text("chat has ended").first).to_be_visible()
    expect(message_box(chat)).to_have_count(0)
    expect(ann.get_by_role("dialog")).to_have_count(0)


def test_end_answered_after_the_socket_already_showed_it(start_server, agent_page, chatter_page):
    """The socket's push may replace the controls (and the End button that asked) before the answer
    to End arrives: the answer must still apply cleanly, not look for its target from a detached button."""
    ann, chat = chatter_gone(start_server, agent_page, chatter_page, "Hal")
    held = []  # the server ends the chat at once; its answer reaches the page only when let go
    ann.route("**/chats/*/end", lambda route: held.append((route, route.fetch())))
    end = chat.get_by_role("button", name="End chat")
    # htmx tells the button how its request went, even once the button has left the page
    end.evaluate(
        """button => ['htmx:afterRequest', 'htmx:onLoadError'].forEach(name =>
            button.addEventListener(name, () => (window.endEvents ||= []).push(name)))"""
    )
    end.click()
    expect(message_box(chat)).to_have_count(0)  # the socket's push: the controls of an ended chat
    expect(end).to_have_count(0)
    assert len(held) == 1
    route, response = held[0]
    route.fulfill(response=response)
    ann.wait_for_function("() => window.endEvents")
    # before, htmx threw "Invalid re-target": it looked for the answer's target from the detached button
    assert ann.evaluate("() => window.endEvents") == ["htmx:afterRequest"]
    expect(chat.get_by_role("button", name="Close tab")).to_be_visible()
    expect(chat.get_by_text("chat has ended").first).to_be_visible()
    expect(ann.get_by_role("dialog")).to_have_count(0)


def test_end_from_chatter(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    gus = chatter_page(server, "Gus")
    chat = accept(ann, "Gus")
    expect(gus.get_by_text("chatting with Ann Agent")).to_be_visible()

    gus.get_by_role("button", name="End chat").click()
    expect(gus.get_by_text("chat has ended").first).to_be_visible()
    expect(messages(chat).get_by_role("article").filter(has_text=re.compile("ended"))).to_have_count(1)
    expect(message_box(chat)).to_have_count(0)


def test_escaping_names_and_messages(server, agent_page, chatter_page, dialogs):
    ann = agent_page(server, "ann")
    dialogs(ann)
    bold = chatter_page(server, "<b>Bold</b>")
    dialogs(bold)
    evil = "<img src=x onerror=alert(1)>"
    say(bold, evil)

    chat = accept(ann, "<b>Bold</b>")
    expect(tab(ann, "<b>Bold</b>")).to_contain_text("<b>Bold</b>")
    expect(messages(chat)).to_contain_text(evil)
    expect(messages(chat)).to_contain_text("<b>Bold</b>")  # the message's sender
    say(chat, "<script>alert(2)</script>")

    expect(messages(bold)).to_contain_text("<script>alert(2)</script>")
    expect(messages(bold)).to_contain_text(evil)
    expect(messages(bold)).to_contain_text("<b>Bold</b>")
    for page in (ann, bold):
        expect(page.locator("img, script:not([src]), b")).to_have_count(0)
    assert dialogs.seen == []
