"""Browser fixtures: one Chromium per test session, and pages of agents and chatters on a real server."""

import os
from pathlib import Path

import pytest
from conftest import PASSWORDS, ROOT
from playwright.sync_api import expect, sync_playwright

from data import posting
from data.models import Chat
from data.schema import open_database

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"

# a server per test and two of them per pytest -n 2: give each step some room
expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, shared by every test of this process."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install -y chromium`", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh browser context (its own cookies: one person each).

    A script error in any page fails the test: the page may look right and still be broken.
    """
    contexts = []
    errors = []

    def open_page(url=None):
        context = browser.new_context(viewport={"width": 1200, "height": 760})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        if url:
            page.goto(url)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, "script errors in the page:\n" + "\n".join(errors)


@pytest.fixture
def agent_page(new_page):
    """agent_page(server, "ann", profile="Support desk"): a console signed in and logged on."""

    def open_console(server, username, profile="Support desk"):
        page = new_page(server.url + "/login")
        page.get_by_role("textbox", name="Username").fill(username)
        page.get_by_label("Password").fill(PASSWORDS[username])
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        page.wait_for_load_state()  # htmx has run: Pause, Accept and the rest answer clicks
        if profile is not None:
            log_on(page, profile)
        return page

    return open_console


def log_on(page, profile="Support desk"):
    page.get_by_role("combobox", name="Profile").select_option(label=profile)
    page.get_by_role("button", name="Log on").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()


@pytest.fixture
def chatter_page(new_page):
    """chatter_page(server, "Carl", slug="support"): a chat page with a chat started under that name."""

    def open_chat(server, name, slug="support", email=""):
        page = new_page(f"{server.url}/chat/{slug}")
        page.get_by_role("textbox", name="Name").fill(name)
        if email:
            page.get_by_role("textbox", name="E-mail").fill(email)
        page.get_by_role("button", name="Start chat").click()
        expect(page.get_by_role("log", name="Messages")).to_be_visible()
        page.wait_for_load_state()  # the deferred parley.js (Enter sends) has run by "load"
        return page

    return open_chat


@pytest.fixture
def dialogs():
    """watch(page): record (and dismiss) every alert, confirm or prompt the page opens."""
    seen = []

    def watch(page):
        def record(dialog):
            seen.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", record)

    watch.seen = seen
    return watch


def restart(server):
    """Stop the server process and start a new one on the same data folder and the same port."""
    server.stop()
    server.process = None
    server.start()  # Parley keeps folder, port, url and env; its log gains the new process's output
    return server


def post_while_down(server, chatter_name, text):
    """Store a chatter's message straight into a stopped server's database: it arrived while no page
    was connected, so only the pages' resync after reconnecting can show it."""
    assert server.process.poll() is not None, "stop the server first"
    database = open_database(str(server.folder))
    try:
        with database.connection_context():
            chat = Chat.get(Chat.chatter_name == chatter_name)
            posting.post_by_chatter(chat, text)
    finally:
        database.close_all()


# --- finding things the way a person does -----------------------------------------------------


def tab(page, name):
    """The console tab of the chat with the chatter `name`."""
    return page.get_by_role("tab", name=name)  # the name contains `name`


def panel(page, name):
    """The tab panel of the chat with the chatter `name`, shown or not."""
    the_tab = tab(page, name)
    expect(the_tab).to_be_visible()
    return page.locator(f"[role=tabpanel]#{the_tab.get_attribute('aria-controls')}")


def messages(where):
    """The "Messages" log in a page or a tab panel, even a panel that is not shown."""
    return where.get_by_role("log", name="Messages", include_hidden=True)


def message_box(where):
    return where.get_by_role("textbox", name="Message")


def accept(page, name):
    """Accept the offer of the chat with `name` in the console `page`; return its panel."""
    tab(page, name).click()
    the_panel = panel(page, name)
    the_panel.get_by_role("button", name="Accept").click()
    expect(message_box(the_panel)).to_be_visible()
    return the_panel


def say(where, text):
    """Type `text` into the composer of a page or panel and send it with Enter."""
    box = message_box(where)
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def screenshot(page, name):
    """Save a README screenshot, only when PARLEY_SCREENSHOTS=1 (so ordinary runs change no files)."""
    if os.environ.get("PARLEY_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name))
