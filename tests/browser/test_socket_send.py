"""Sending in the browser: a message goes over the page's socket (no request per message), one
whose reply was lost is sent again after the reconnect and shows once, and a refused one comes back
into the composer with the reason."""

import re

from clients import rows
from conftest import wait_for
from playwright.sync_api import expect

from .conftest import accept, message_box, messages, say


def test_messages_go_over_the_socket_not_as_requests(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    carl = chatter_page(server, "Carl")
    chat = accept(ann, "Carl")
    expect(carl.get_by_text("chatting with Ann Agent")).to_be_visible()
    posts = []
    for page in (ann, carl):
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    say(carl, "Hello over the socket")
    expect(messages(chat)).to_contain_text("Hello over the socket")
    say(chat, "And back the same way")
    expect(messages(carl)).to_contain_text("And back the same way")
    assert posts == []


def test_a_message_whose_reply_was_lost_is_sent_again_and_shows_once(server, agent_page, new_page):
    ann = agent_page(server, "ann")
    from_page = []  # what the chat page sent on each of its sockets

    def route(ws):
        # the first socket passes the message to the server, then breaks before anything comes back
        # (as a server restart would); the page reconnects on the second, which works
        connection = len(from_page)
        from_page.append([])
        upstream = ws.connect_to_server()
        broken = []

        def page_sent(message):
            from_page[connection].append(message)
            upstream.send(message)
            if connection == 0 and '"send"' in message:
                broken.append(True)
                ws.close(code=1012)

        def server_sent(message):
            if not broken:
                ws.send(message)

        ws.on_message(page_sent)
        upstream.on_message(server_sent)

    carl = new_page()
    carl.route_web_socket(re.compile(r"/chat/support/ws$"), route)
    carl.goto(server.url + "/chat/support")
    carl.get_by_role("textbox", name="Name").fill("Carl")
    carl.get_by_role("button", name="Start chat").click()
    expect(messages(carl)).to_be_visible()
    carl.wait_for_load_state()
    chat = accept(ann, "Carl")
    expect(carl.get_by_text("chatting with Ann Agent")).to_be_visible()

    say(carl, "Did this get through?")
    expect(messages(carl).get_by_text("Did this get through?")).to_have_count(1)
    expect(messages(chat).get_by_text("Did this get through?")).to_have_count(1)
    wait_for(lambda: len(from_page) == 2 and any("Did this get through?" in m for m in from_page[1]))
    assert rows(server, "SELECT count(*) FROM message WHERE text = 'Did this get through?'") == [(1,)]
    # once its copy came back, the page does not send it again
    say(carl, "And this one?")
    expect(messages(chat)).to_contain_text("And this one?")
    assert sum("Did this get through?" in m for m in from_page[1]) == 1


def test_a_refused_message_comes_back_into_the_composer(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    chatter_page(server, "Carl")
    chat = accept(ann, "Carl")
    box = message_box(chat)
    box.evaluate("box => box.removeAttribute('maxlength')")  # as a page older than the limit might
    long_text = "x" * 5001
    box.fill(long_text)
    box.press("Enter")
    expect(chat.get_by_role("alert")).to_contain_text("A message can hold at most 5000 characters.")
    expect(box).to_have_value(long_text)
    expect(messages(chat).get_by_role("article")).to_have_count(1)  # "Ann Agent joined the chat."
