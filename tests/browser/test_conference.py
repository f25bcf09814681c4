"""Conferences as agents and chatter see them: Leave chat, Cancel invitation and the invitation's Note.
The rules behind them (races, the last agent, what a leaver no longer gets) are in tests/test_conference.py."""

from playwright.sync_api import expect

from .conftest import accept, messages, panel, say, tab
from .test_chat_actions import chatting


def send_invitation(chat, invitee, note=""):
    chat.get_by_role("button", name="Invite").click()
    chat.get_by_role("combobox", name="Invitee").select_option(label=invitee)
    chat.get_by_role("textbox", name="Note").fill(note)
    chat.get_by_role("button", name="Send invitation").click()


def test_leave_chat_closes_the_tab_and_the_chat_goes_on(server, agent_page, chatter_page):
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    expect(chat.get_by_role("button", name="Leave chat")).to_have_count(0)  # alone: only End chat
    ben = agent_page(server, "ben")
    send_invitation(chat, "Ben Agent")
    bens = accept(ben, "Carl")
    expect(bens.get_by_role("button", name="Leave chat")).to_be_visible()

    leave = chat.get_by_role("button", name="Leave chat")
    leave.focus()  # reachable and usable from the keyboard
    ann.keyboard.press("Enter")
    expect(tab(ann, "Carl")).to_have_count(0)
    expect(messages(carl)).to_contain_text("Ann Agent left the chat")
    expect(carl.get_by_text("You are chatting with Ben Agent.")).to_be_visible()
    expect(bens.get_by_role("button", name="Leave chat")).to_have_count(0)  # Ben is the last one now
    say(bens, "Ben carries on.")
    expect(messages(carl)).to_contain_text("Ben carries on.")


def test_cancel_invitation_takes_the_offer_away(server, agent_page, chatter_page):
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    ben = agent_page(server, "ben")
    send_invitation(chat, "Ben Agent")
    expect(tab(ben, "Carl")).to_be_visible()

    chat.get_by_role("button", name="Cancel invitation").click()
    expect(tab(ben, "Carl")).to_have_count(0)
    expect(chat.get_by_text("Invitation to Ben Agent pending")).to_have_count(0)
    expect(chat.get_by_role("button", name="Cancel invitation")).to_have_count(0)
    expect(messages(chat)).to_contain_text("Ann Agent cancelled the invitation to Ben Agent.")
    send_invitation(chat, "Ben Agent")  # a new one may be sent
    accept(ben, "Carl")
    expect(carl.get_by_text("You are chatting with Ann Agent, Ben Agent.")).to_be_visible()
    expect(messages(carl)).not_to_contain_text("cancelled")


def test_the_note_shows_in_the_invitees_offer_and_never_to_the_chatter(server, agent_page, chatter_page):
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    ben = agent_page(server, "ben")
    chat.get_by_role("button", name="Invite").click()
    expect(chat.get_by_role("textbox", name="Note")).to_have_attribute("maxlength", "200")
    chat.get_by_role("button", name="Cancel").click()
    send_invitation(chat, "Ben Agent", note="Customer wants a refund, <order> 1234")
    offer = panel(ben, "Carl")
    expect(offer).to_contain_text("Note from Ann Agent: Customer wants a refund, <order> 1234")
    expect(offer.get_by_role("button", name="Accept")).to_be_visible()
    expect(messages(chat)).to_contain_text("Note: Customer wants a refund")
    accept(ben, "Carl")
    expect(messages(carl)).to_contain_text("Ben Agent joined the chat")
    expect(messages(carl)).not_to_contain_text("1234")
