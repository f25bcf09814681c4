"""A session that ends elsewhere takes its open pages with it: the console to the sign-in page."""

import re

from playwright.sync_api import expect


def test_signing_out_in_another_tab_takes_the_console_to_the_sign_in_page(server, agent_page):
    console = agent_page(server, "ann")
    other = console.context.new_page()  # the same browser: the same session
    other.goto(server.url + "/")
    other.get_by_role("button", name="Sign out").click()
    expect(other.get_by_role("button", name="Log in")).to_be_visible()
    # the console's socket was closed with the code of an ended session: the page follows it
    expect(console).to_have_url(re.compile(r"/login$"), timeout=3_000)
    expect(console.get_by_role("button", name="Log in")).to_be_visible()


def test_a_chat_page_open_in_too_many_tabs_says_so_in_the_oldest(start_server, chatter_page):
    server = start_server(env={"PARLEY_SOCKETS_PER_PAGE": "1"})
    first = chatter_page(server, "Tess Tabs")
    second = first.context.new_page()
    second.goto(server.url + "/chat/support")
    expect(second.get_by_role("log", name="Messages")).to_be_visible()
    expect(first.get_by_text("This page is open in too many tabs")).to_be_visible()
