"""A supervisor's pages in a real browser: the live view following a chat from waiting to assigned
to ended, a disabled agent's console leaving for the sign-in page, forms, and the chat logs."""

import re

from playwright.sync_api import expect

from .conftest import accept, messages, panel, say, screenshot


def open_admin(server, agent_page):
    sue = agent_page(server, "sue", profile=None)
    sue.get_by_role("link", name="Administration").click()
    expect(sue.get_by_role("heading", name="Live view")).to_be_visible()
    return sue


def row(table, name):
    return table.get_by_role("row", name=re.compile(re.escape(name)))


def test_live_view_follows_a_chat_from_waiting_to_assigned_to_ended(server, agent_page, chatter_page):
    sue = open_admin(server, agent_page)
    support = sue.get_by_role("table", name="Support")
    agents = sue.get_by_role("table", name="Agents now")
    in_progress = sue.get_by_role("table", name="Chats in progress")
    expect(support).to_contain_text("Nobody is waiting.")
    expect(row(agents, "Dan Sales")).to_contain_text("Logged off")

    dan = agent_page(server, "dan", profile="Sales desk")  # on Sales only: a Support chat waits
    expect(row(agents, "Dan Sales")).to_contain_text("Available")
    expect(row(agents, "Dan Sales")).to_contain_text("Sales desk")

    wanda = chatter_page(server, "Wanda Waiting")
    waiting = row(support, "Wanda Waiting")
    expect(waiting).to_contain_text("Waiting")
    waited = waiting.locator("time")
    expect(waited).to_have_text(re.compile(r"^\d+:\d\d$"))
    before = waited.text_content()
    expect(waited).not_to_have_text(before)  # the waiting time counts on
    screenshot(sue, "admin-live.png")

    waiting.get_by_role("combobox", name="Agent for Wanda Waiting").select_option(label="Dan Sales")
    waiting.get_by_role("button", name="Assign").click()
    expect(waiting).to_contain_text("Offered to Dan Sales")
    chat = accept(dan, "Wanda Waiting")  # it arrived as an offer in Dan's console

    expect(support).to_contain_text("Nobody is waiting.")
    expect(row(in_progress, "Wanda Waiting")).to_contain_text("Dan Sales")
    expect(row(agents, "Dan Sales")).to_contain_text("Wanda Waiting")
    expect(row(agents, "Dan Sales")).to_contain_text("1 of 3")

    sue.once("dialog", lambda dialog: dialog.accept())
    row(in_progress, "Wanda Waiting").get_by_role("button", name="End chat").click()
    expect(in_progress).to_contain_text("No chat is in progress.")
    expect(messages(wanda)).to_contain_text("Sue Supervisor ended the chat.")
    expect(wanda.get_by_text("chat has ended").first).to_be_visible()
    expect(messages(chat)).to_contain_text("Sue Supervisor ended the chat.")
    expect(row(agents, "Dan Sales")).to_contain_text("0 of 3")


def test_a_supervisor_ends_a_chat_that_is_still_waiting(server, agent_page, chatter_page):
    sue = open_admin(server, agent_page)
    carl = chatter_page(server, "Carl Chatter")
    support = sue.get_by_role("table", name="Support")
    waiting = row(support, "Carl Chatter")
    expect(waiting).to_be_visible()
    sue.once("dialog", lambda dialog: dialog.accept())
    waiting.get_by_role("button", name="End chat").click()
    expect(support).to_contain_text("Nobody is waiting.")
    expect(messages(carl)).to_contain_text("Sue Supervisor ended the chat.")


def test_disabling_an_agent_takes_their_console_to_the_login_page(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    chatter_page(server, "Olga Open")
    accept(ann, "Olga Open")
    sue = open_admin(server, agent_page)
    expect(row(sue.get_by_role("table", name="Agents now"), "Ann Agent")).to_contain_text("Olga Open")

    sue.get_by_role("link", name="Edit agent Ann Agent").click()
    sue.get_by_role("checkbox", name="Enabled").uncheck()
    sue.get_by_role("button", name="Save").click()
    expect(sue.get_by_text("The account is disabled and was signed out.")).to_be_visible()

    expect(ann).to_have_url(re.compile(r"/login"))
    expect(ann.get_by_role("button", name="Log in")).to_be_visible()
    # the chat went back to the queue, waiting for someone else
    expect(row(sue.get_by_role("table", name="Support"), "Olga Open")).to_contain_text("Waiting")


def test_a_refused_form_shows_why_and_keeps_what_was_typed(server, agent_page):
    sue = open_admin(server, agent_page)
    sue.get_by_role("link", name="New queue").click()
    name = sue.get_by_role("textbox", name="Name")
    name.fill("support")
    sue.get_by_role("button", name="Save").click()
    expect(sue.get_by_role("alert")).to_contain_text("There is already a queue named Support.")
    expect(name).to_have_value("support")
    expect(name).to_have_attribute("aria-invalid", "true")
    name.fill("Returns")
    sue.get_by_role("button", name="Save").click()
    expect(sue.get_by_text("Saved the queue Returns.")).to_be_visible()
    expect(sue.get_by_role("table", name="Returns")).to_contain_text("Nobody is waiting.")


def test_chat_logs_find_a_chat_and_show_it_whole(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    pam = chatter_page(server, "Pam Parcel")
    say(pam, "My parcel never arrived.")
    chat = accept(ann, "Pam Parcel")
    say(chat, "Let me look into the parcel for you.")
    expect(messages(panel(ann, "Pam Parcel"))).to_contain_text("Let me look")

    sue = agent_page(server, "sue", profile=None)
    sue.get_by_role("link", name="Chat logs").click()
    sue.get_by_role("searchbox", name="Search").fill("parcel")
    sue.get_by_role("combobox", name="Status").select_option(label="Active")
    sue.get_by_role("button", name="Filter").click()
    expect(sue.get_by_role("status")).to_contain_text("1 chat with “parcel”")
    expect(sue.locator("mark").first).to_have_text(re.compile("parcel", re.IGNORECASE))
    sue.get_by_role("link", name="Pam Parcel").click()
    log = messages(sue)
    expect(log.get_by_role("article")).to_have_count(3)
    expect(log).to_contain_text("My parcel never arrived.")
    expect(log).to_contain_text("Let me look into the parcel for you.")
    with sue.expect_download() as download:
        sue.get_by_role("link", name="Export JSON").click()
    assert download.value.suggested_filename.endswith(".json")
