"""The widget on a host site served from another port: the button opens the chat page in an iframe,
the chat works inside it, identity and start page reach the agent, the transcript can be e-mailed;
an origin the organisation did not allow cannot frame the chat; the chat page fits a phone."""

import html
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from conftest import free_port, wait_for
from playwright.sync_api import expect

from .conftest import accept, messages, say, screenshot

SECRET = "browser-widget-secret-" + "0123456789" * 3
PHONE = {"width": 375, "height": 667}


class HostSite:
    """A shop's page on 127.0.0.1:<its own port> with Parley's widget snippet on it."""

    def __init__(self, snippet, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/shop/boots"
        page = f"<!doctype html><title>Shop</title><h1>Trail boots</h1>{snippet}".encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def host_sites():
    sites = []

    def start(snippet, port=None):
        site = HostSite(snippet, port)
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.stop()


def snippet(server, token=""):
    identity = f' data-identity="{html.escape(token)}"' if token else ""
    return f'<script src="{server.url}/widget.js" data-queue="support"{identity} async></script>'


def test_the_widget_on_another_port_chats_inside_its_iframe(start_server, host_sites, agent_page, new_page):
    allowed_port = free_port()
    server = start_server(
        env={"PARLEY_FRAME_ORIGINS": f"http://127.0.0.1:{allowed_port}", "PARLEY_IDENTITY_SECRET": SECRET}
    )
    token = jwt.encode(
        {"name": "Wanda Widget", "email": "wanda@example.com", "exp": int(time.time()) + 600}, SECRET, "HS256"
    )
    site = host_sites(snippet(server, token), port=allowed_port)
    ann = agent_page(server, "ann")

    shop = new_page(site.url)
    button = shop.get_by_role("button", name="Chat with us")
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    chat_frame = shop.frame_locator('iframe[title="Chat"]')
    expect(chat_frame.get_by_role("textbox", name="Name")).to_have_value("Wanda Widget")
    chat_frame.get_by_role("button", name="Start chat").click()
    expect(chat_frame.get_by_text("in the queue")).to_contain_text("1")
    # deferred parley.js (Enter sends) has run by "load"
    shop.frame(url=re.compile(r"/chat/support$")).wait_for_load_state()
    say(chat_frame, "Do these boots come in size 44?")

    panel = accept(ann, "Wanda Widget")
    expect(messages(panel)).to_contain_text("Do these boots come in size 44?")
    region = panel.get_by_role("region", name="Chat details")
    expect(region.get_by_role("img", name="Verified")).to_have_count(2)
    expect(region).to_contain_text(site.url)  # the page the chat started from
    expect(region).to_contain_text("Chrome")
    expect(region).to_contain_text("Linux")
    say(panel, "Yes, they do.")
    expect(messages(chat_frame)).to_contain_text("Yes, they do.")
    expect(chat_frame.get_by_text("chatting with Ann Agent")).to_be_visible()

    # closing the panel keeps the chat; opening it again shows it whole
    shop.get_by_role("button", name="Close chat").click()
    expect(button).to_have_attribute("aria-expanded", "false")
    say(panel, "Anything else?")
    button.click()
    expect(messages(chat_frame)).to_contain_text("Anything else?")
    screenshot(shop, "widget.png")

    # the chat ends inside the frame, and its transcript goes out (into the outbox: no SMTP here)
    chat_frame.get_by_role("button", name="End chat").click()
    expect(chat_frame.get_by_text("chat has ended").first).to_be_visible()
    expect(chat_frame.get_by_role("textbox", name="E-mail")).to_have_value("wanda@example.com")
    chat_frame.get_by_role("button", name="Email transcript").click()
    expect(
        chat_frame.get_by_role("status").filter(has_text="The transcript was sent to wanda@example.com.")
    ).to_be_visible()
    expect(chat_frame.get_by_role("link", name="Download transcript")).to_be_visible()
    wait_for(lambda: list((server.folder / "outbox").glob("*.eml")), message="the transcript in the outbox")


def test_an_origin_not_allowed_cannot_frame_the_chat(start_server, host_sites, new_page):
    server = start_server(env={"PARLEY_FRAME_ORIGINS": f"http://127.0.0.1:{free_port()}"})
    site = host_sites(snippet(server))  # another port: not in PARLEY_FRAME_ORIGINS
    shop = new_page(site.url)
    with shop.expect_console_message(lambda m: "frame-ancestors" in m.text):
        shop.get_by_role("button", name="Chat with us").click()
    expect(shop.frame_locator('iframe[title="Chat"]').get_by_role("button", name="Start chat")).to_have_count(
        0
    )


def test_the_chat_page_fits_a_phone(server, agent_page, browser):
    ann = agent_page(server, "ann")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        phone.goto(f"{server.url}/chat/support")
        no_sideways_scroll(phone)
        phone.get_by_role("textbox", name="Name").fill("Pia Phone")
        phone.get_by_role("button", name="Start chat").click()
        expect(phone.get_by_text("in the queue")).to_be_visible()
        phone.wait_for_load_state()  # Enter sends once parley.js has run
        say(phone, "Hello from my phone, with a rather long first message that has to wrap nicely.")
        chat = accept(ann, "Pia Phone")
        say(chat, "Hello Pia, " + "a long answer that wraps over several lines on a small screen. " * 3)
        expect(messages(phone)).to_contain_text("Hello Pia")
        no_sideways_scroll(phone)
        for control in (
            phone.get_by_role("textbox", name="Message"),
            phone.get_by_role("button", name="Send"),
            phone.get_by_role("button", name="End chat"),
        ):
            inside_the_screen(control)
        screenshot(phone, "chat-phone.png")

        phone.get_by_role("button", name="End chat").click()
        expect(phone.get_by_text("chat has ended").first).to_be_visible()
        no_sideways_scroll(phone)
        inside_the_screen(phone.get_by_role("button", name="Email transcript"))
    finally:
        context.close()


def no_sideways_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px screen"


def inside_the_screen(locator):
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
