"""Closing a chat as the help page says: the × beside each tab asks first while the chatter is
connected and closes at once otherwise; closing the console asks the browser's own question while a
chatter is connected; and Chat details say "Reconnecting…" while a chatter's page is away."""

from playwright.sync_api import expect

from .conftest import accept, message_box, messages, panel, say, tab


def close_button(page, name):
    return page.get_by_role("button", name=f"Close chat with {name}", exact=True)


def details(page, name):
    return panel(page, name).get_by_role("region", name="Chat details", include_hidden=True)


def test_the_tabs_x_asks_first_while_the_chatter_is_connected(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    eve = chatter_page(server, "Eve")
    chat = accept(ann, "Eve")
    close = close_button(ann, "Eve")
    expect(close).to_be_visible()
    # beside the tab, not in it: the tab holds no other control
    expect(tab(ann, "Eve").locator("button, a, input, [role=button]")).to_have_count(0)
    expect(
        ann.get_by_role("tablist", name="Chats").get_by_role("button", name="Close chat with Eve")
    ).to_be_visible()

    close.click()
    dialog = ann.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="End chat")).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(tab(ann, "Eve")).to_be_visible()
    say(chat, "Still here.")
    expect(messages(eve)).to_contain_text("Still here.")

    close.click()
    dialog.get_by_role("button", name="End chat").click()
    expect(tab(ann, "Eve")).to_have_count(0)  # ended and closed in one go
    expect(close).to_have_count(0)
    expect(ann.get_by_role("dialog")).to_have_count(0)
    expect(eve.get_by_text("chat has ended").first).to_be_visible()
    ann.reload()
    expect(ann.get_by_role("button", name="Pause")).to_be_visible()
    expect(tab(ann, "Eve")).to_have_count(0)


def test_the_tabs_x_closes_at_once_when_the_chatter_has_left_or_the_chat_ended(
    start_server, agent_page, chatter_page
):
    server = start_server(leave_grace=1)
    ann = agent_page(server, "ann")
    fay = chatter_page(server, "Fay")
    accept(ann, "Fay")
    gus = chatter_page(server, "Gus")
    accept(ann, "Gus")

    fay.context.close()
    expect(details(ann, "Fay")).to_contain_text("Has left")
    close_button(ann, "Fay").click()
    expect(tab(ann, "Fay")).to_have_count(0)
    expect(ann.get_by_role("dialog")).to_have_count(0)

    gus.get_by_role("button", name="End chat").click()
    expect(messages(panel(ann, "Gus"))).to_contain_text("ended")
    close_button(ann, "Gus").click()
    expect(tab(ann, "Gus")).to_have_count(0)
    expect(ann.get_by_role("dialog")).to_have_count(0)
    expect(ann.get_by_role("tab")).to_have_count(0)


def test_an_offers_x_rejects_it(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    chatter_page(server, "Hana")
    expect(panel(ann, "Hana").get_by_role("button", name="Accept")).to_be_visible()
    close_button(ann, "Hana").click()
    expect(tab(ann, "Hana")).to_have_count(0)
    ben = agent_page(server, "ben")
    expect(panel(ben, "Hana").get_by_role("button", name="Accept")).to_be_visible()


def test_the_x_by_keyboard(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    chatter_page(server, "Ida")
    ida = accept(ann, "Ida")
    chatter_page(server, "Jon")
    accept(ann, "Jon")
    ida_tab, jon_tab = tab(ann, "Ida"), tab(ann, "Jon")

    # the tabs' arrows still go from tab to tab, past the × buttons
    jon_tab.focus()
    ann.keyboard.press("ArrowLeft")
    expect(ida_tab).to_be_focused()
    expect(ida).to_be_visible()
    # Tab: the selected tab's × is next, then the panel
    ann.keyboard.press("Tab")
    expect(close_button(ann, "Ida")).to_be_focused()
    ann.keyboard.press("Enter")
    dialog = ann.get_by_role("dialog")
    expect(dialog).to_be_visible()
    ann.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(close_button(ann, "Ida")).to_be_focused()
    ann.keyboard.press("Tab")
    expect(close_button(ann, "Jon")).not_to_be_focused()  # another chat's × is no tab stop
    ann.keyboard.press("Shift+Tab")
    ann.keyboard.press("Shift+Tab")
    expect(ida_tab).to_be_focused()

    # Delete on a tab is its ×; once the chat is gone, the focus goes to the tab shown now
    ann.keyboard.press("Delete")
    expect(dialog.get_by_role("button", name="End chat")).to_be_focused()
    ann.keyboard.press("Enter")
    expect(ida_tab).to_have_count(0)
    expect(jon_tab).to_have_attribute("aria-selected", "true")
    expect(jon_tab).to_be_focused()
    expect(message_box(panel(ann, "Jon"))).to_be_visible()


def test_closing_the_console_asks_only_while_a_chatter_is_connected(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    kim = chatter_page(server, "Kim")
    accept(ann, "Kim")
    expect(tab(ann, "Kim")).not_to_contain_text("offer")  # the console's socket has shown the accepted chat
    questions = []

    def stay(dialog):
        questions.append(dialog.type)
        dialog.dismiss()

    ann.on("dialog", stay)
    with ann.expect_event("dialog"):
        ann.close(run_before_unload=True)
    assert questions == ["beforeunload"]
    assert not ann.is_closed()
    say(panel(ann, "Kim"), "Still here")  # the console goes on
    expect(messages(kim)).to_contain_text("Still here")

    kim.get_by_role("button", name="End chat").click()
    expect(tab(ann, "Kim")).to_contain_text("ended")
    with ann.expect_event("close"):  # a question would be answered "stay", and this would wait in vain
        ann.close(run_before_unload=True)
    assert questions == ["beforeunload"]


def test_signing_out_is_not_held_by_the_question(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    chatter_page(server, "Lou")
    accept(ann, "Lou")
    questions = []
    ann.on("dialog", lambda dialog: questions.append(dialog.type) or dialog.dismiss())
    ann.get_by_role("button", name="Sign out").click()
    expect(ann.get_by_role("button", name="Log in")).to_be_visible()
    assert questions == []


def test_details_say_reconnecting_while_the_chatters_page_is_away(start_server, agent_page, chatter_page):
    server = start_server(leave_grace=5)
    ann = agent_page(server, "ann")
    mia = chatter_page(server, "Mia")
    accept(ann, "Mia")
    chatter = details(ann, "Mia").locator("dt", has_text="Chatter").locator("xpath=following-sibling::dd")
    expect(chatter).to_have_text("Connected")

    context, url = mia.context, mia.url
    mia.close()  # a reload or a lost network: the chat is this browser's, and it comes back
    expect(chatter).to_have_text("Reconnecting…")
    back = context.new_page()
    back.goto(url)
    expect(messages(back)).to_be_visible()
    expect(chatter).to_have_text("Connected")
    expect(messages(panel(ann, "Mia"))).not_to_contain_text("left the chat")

    back.close()  # for good this time: after the grace, gone
    expect(chatter).to_have_text("Reconnecting…")
    expect(chatter).to_have_text("Has left", timeout=15_000)
    expect(messages(panel(ann, "Mia"))).to_contain_text("left the chat")
