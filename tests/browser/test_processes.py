"""One whole chat in a browser with its chatter and its agent on two Parley processes (PostgreSQL, Redis),
each reached through nginx configured as docs/SCALING.md says."""

import pytest
from playwright.sync_api import expect
from services import Nginx
from test_processes import Cluster

from .conftest import accept, message_box, messages, say


@pytest.fixture
def fronts(tmp_path, postgres_database, redis_server):
    """Two nginx, each in front of one of two processes: the pages of each stay on their process."""
    folder = tmp_path / "data"
    folder.mkdir()
    cluster = Cluster(folder, postgres_database("parley_org"), redis_server.new_url()).start()
    proxies = [Nginx([server.port]).start() for server in cluster.servers]
    yield proxies
    for proxy in proxies:
        proxy.remove()
    cluster.stop()
    for server in cluster.servers:
        assert not server.errors(), server.log.read_text()


def test_a_whole_chat_with_chatter_and_agent_on_different_processes(fronts, agent_page, chatter_page):
    one, other = fronts
    ann = agent_page(other, "ann")
    carl = chatter_page(one, "Carl Chatter")
    chat = accept(ann, "Carl Chatter")
    expect(carl.get_by_text("chatting with Ann Agent")).to_be_visible()

    say(chat, "Hello Carl, how can I help?")
    expect(messages(carl)).to_contain_text("Hello Carl, how can I help?")
    message_box(carl).type("My parcel has not arrived.")
    expect(ann.get_by_text("Carl Chatter is typing")).to_be_visible()
    message_box(carl).press("Enter")
    expect(messages(chat)).to_contain_text("My parcel has not arrived.")
    expect(messages(carl).get_by_role("article")).to_have_count(3)  # joined, hello, parcel

    chat.get_by_role("button", name="End chat").click()
    dialog = ann.get_by_role("dialog")
    dialog.get_by_role("button", name="End chat").click()
    expect(carl.get_by_text("chat has ended").first).to_be_visible()
    expect(message_box(carl)).to_have_count(0)
    expect(chat.get_by_text("chat has ended").first).to_be_visible()
