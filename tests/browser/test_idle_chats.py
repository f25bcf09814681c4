"""A chat whose chatter sends nothing closes by itself (short settings): the chatter is warned in the
chat, then it ends with the reason on both sides."""

from playwright.sync_api import expect

from .conftest import accept, messages

IDLE_ORG = """
[[queue]]
name = "Support"
idle_after = 5
"""


def test_a_quiet_chatter_is_warned_then_the_chat_ends_on_both_sides(
    start_server, tmp_path, agent_page, chatter_page
):
    server = start_server(env={"PARLEY_IDLE_WARNING": "3"})
    org_file = tmp_path / "idle.toml"
    org_file.write_text(IDLE_ORG)
    server.load(org_file)
    ann = agent_page(server, "ann")
    eve = chatter_page(server, "Eve")
    chat = accept(ann, "Eve")
    warning = "This chat will close in 3 seconds unless you reply."
    expect(messages(eve)).to_contain_text(warning, timeout=15_000)
    expect(messages(chat)).to_contain_text(warning)
    closed = "This chat was closed: Eve did not reply."
    expect(messages(eve)).to_contain_text(closed, timeout=15_000)
    expect(messages(chat)).to_contain_text(closed)
    expect(eve.get_by_text("chat has ended").first).to_be_visible()
    expect(eve.get_by_role("textbox", name="Message")).to_have_count(0)
