"""The console's side of routing and live updates: offers moving on, tabs, the queue, reconnecting."""

import re

from playwright.sync_api import expect

from .conftest import accept, log_on, message_box, messages, panel, post_while_down, restart, say, tab


def test_reject_gives_the_offer_to_another_agent(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    chatter_page(server, "Hana")
    expect(panel(ann, "Hana").get_by_role("button", name="Accept")).to_be_visible()
    ben = agent_page(server, "ben")
    expect(ben.get_by_role("tab")).to_have_count(0)  # the offer is Ann's while she holds it

    panel(ann, "Hana").get_by_role("button", name="Reject").click()
    expect(tab(ann, "Hana")).to_have_count(0)
    expect(panel(ben, "Hana").get_by_role("button", name="Accept")).to_be_visible()
    accept(ben, "Hana")
    expect(messages(panel(ben, "Hana"))).to_contain_text("Ben Agent joined the chat")
    expect(ann.get_by_role("tab")).to_have_count(0)
    expect(ann.get_by_role("button", name="Pause")).to_be_visible()  # rejecting does not pause


def test_offer_timeout_moves_the_offer_and_pauses_the_agent(start_server, agent_page, chatter_page):
    server = start_server(offer_timeout=2)
    ann = agent_page(server, "ann")
    ivan = chatter_page(server, "Ivan")
    expect(tab(ann, "Ivan")).to_be_visible()
    ben = agent_page(server, "ben")

    expect(panel(ben, "Ivan").get_by_role("button", name="Accept")).to_be_visible()
    expect(tab(ann, "Ivan")).to_have_count(0)
    expect(ann.get_by_role("button", name="Resume")).to_be_visible()
    expect(ann.get_by_role("button", name="Pause")).to_have_count(0)

    accept(ben, "Ivan")
    expect(ivan.get_by_text("chatting with Ben Agent")).to_be_visible()
    ann.get_by_role("button", name="Resume").click()
    expect(ann.get_by_role("button", name="Pause")).to_be_visible()


def test_two_chats_in_two_tabs(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    jo = chatter_page(server, "Jo Smith")
    accept(ann, "Jo Smith")
    kim = chatter_page(server, "Kim Lee")
    accept(ann, "Kim Lee")  # clicks Kim's tab first: a new offer does not steal the selection
    jo_tab, kim_tab = tab(ann, "Jo Smith"), tab(ann, "Kim Lee")
    jo_panel, kim_panel = panel(ann, "Jo Smith"), panel(ann, "Kim Lee")

    jo_tab.click()
    expect(jo_tab).to_have_attribute("aria-selected", "true")
    expect(jo_panel).to_be_visible()
    expect(kim_panel).to_be_hidden()

    say(jo, "Message from Jo")
    say(kim, "Message from Kim")
    expect(messages(jo_panel)).to_contain_text("Message from Jo")
    expect(messages(kim_panel)).to_contain_text("Message from Kim")
    expect(messages(jo_panel)).not_to_contain_text("Message from Kim")
    expect(messages(kim_panel)).not_to_contain_text("Message from Jo")

    # Kim wrote in the background tab: it is marked unread until selected
    expect(kim_tab).to_have_accessible_name(re.compile("unread", re.I))
    expect(jo_tab).not_to_have_accessible_name(re.compile("unread", re.I))
    kim_tab.click()
    expect(kim_panel).to_be_visible()
    expect(kim_tab).not_to_have_accessible_name(re.compile("unread", re.I))

    # the answers go to the chat whose tab is open
    say(kim_panel, "Hello Kim")
    expect(messages(kim)).to_contain_text("Hello Kim")

    # keyboard only: arrows move between the tabs, the selected tab shows its panel
    kim_tab.focus()
    ann.keyboard.press("ArrowLeft")
    expect(jo_tab).to_be_focused()
    expect(jo_tab).to_have_attribute("aria-selected", "true")
    expect(kim_tab).to_have_attribute("aria-selected", "false")
    expect(jo_panel).to_be_visible()
    expect(kim_panel).to_be_hidden()
    ann.keyboard.press("ArrowRight")
    expect(kim_tab).to_be_focused()
    expect(kim_panel).to_be_visible()
    ann.keyboard.press("ArrowRight")  # wraps around
    expect(jo_tab).to_be_focused()
    expect(jo_panel).to_be_visible()
    ann.keyboard.press("Tab")  # into the panel: only the selected tab is a tab stop
    expect(kim_tab).not_to_be_focused()
    ann.keyboard.press("Shift+Tab")
    expect(jo_tab).to_be_focused()


def test_waiting_chatters_see_their_place_in_the_queue(server, agent_page, chatter_page):
    first = chatter_page(server, "Lena")
    second = chatter_page(server, "Max")
    expect(first.get_by_text("in the queue")).to_have_text(re.compile(r"\b1\b.*in the queue"))
    expect(second.get_by_text("in the queue")).to_have_text(re.compile(r"\b2\b.*in the queue"))

    cat = agent_page(server, "cat")  # Cat takes one chat at a time: only the first is offered
    expect(tab(cat, "Lena")).to_be_visible()
    expect(cat.get_by_role("tab")).to_have_count(1)
    accept(cat, "Lena")
    expect(first.get_by_text("chatting with Cat Agent")).to_be_visible()
    expect(second.get_by_text("in the queue")).to_have_text(re.compile(r"\b1\b.*in the queue"))


def test_reconnect_after_server_restart(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")
    nora = chatter_page(server, "Nora")
    chat = accept(ann, "Nora")
    say(nora, "Before the restart")
    expect(messages(chat)).to_contain_text("Before the restart")
    lost = ann.get_by_text("Connection lost")
    expect(lost).to_be_hidden()

    server.stop()
    expect(lost).to_be_visible()
    expect(nora.get_by_text("Connection lost")).to_be_visible()
    post_while_down(server, "Nora", "Written while the server was down")
    restart_at_same_place = restart(server)
    assert restart_at_same_place.url == server.url
    # the chatter writes at once, likely before the console's socket is back
    say(nora, "While you were away")
    # htmx's socket backs off between tries (up to 2^n s), so coming back may take a while
    expect(lost).to_be_hidden(timeout=45_000)
    expect(nora.get_by_text("Connection lost")).to_be_hidden(timeout=45_000)

    expect(messages(chat)).to_contain_text("While you were away")
    say(chat, "Back again")
    expect(messages(nora)).to_contain_text("Back again")
    say(nora, "Good")
    expect(messages(chat)).to_contain_text("Good")
    expect(messages(chat)).to_contain_text("Written while the server was down")
    expect(messages(nora)).to_contain_text("Written while the server was down")
    for text in (
        "Before the restart",
        "Written while the server was down",
        "While you were away",
        "Back again",
    ):
        expect(messages(chat).get_by_text(text)).to_have_count(1)
        expect(messages(nora).get_by_text(text)).to_have_count(1)

    # the console after the restart is the same console: a reload shows the same chat
    ann.reload()
    expect(message_box(panel(ann, "Nora"))).to_be_visible()
    expect(messages(panel(ann, "Nora")).get_by_text("While you were away")).to_have_count(1)


def test_log_on_with_another_profile_gets_only_its_queues(server, agent_page, chatter_page):
    ann = agent_page(server, "ann", profile=None)
    log_on(ann, "Sales desk")
    chatter_page(server, "Olga")  # writes to Support
    sales = chatter_page(server, "Pete", slug="sales")
    expect(tab(ann, "Pete")).to_be_visible()
    expect(tab(ann, "Olga")).to_have_count(0)
    accept(ann, "Pete")
    expect(sales.get_by_text("chatting with Ann Agent")).to_be_visible()


def test_log_on_clicked_before_the_scripts_arrive_still_logs_on(server, agent_page):
    ann = agent_page(server, "ann", profile=None)
    held = []  # hold htmx back as a slow network would, until the form has gone
    ann.route("**/htmx-*.js", lambda route: held.append(route))
    ann.reload(wait_until="commit")
    ann.get_by_role("combobox", name="Profile").select_option(label="Support desk")
    ann.get_by_role("button", name="Log on").click()
    expect(ann.get_by_text("Available · Support desk")).to_be_visible()
    for route in held:
        route.continue_()


OFFER_SPY = """
window.beeps = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.beeps += 1; return start.apply(this, args); };
window.notes = [];
window.Notification = class {
  static permission = "granted";
  constructor(title, options) { window.notes.push([title, options.body]); }
  close() {}
};
Object.defineProperty(document, "hidden", { get: () => true });  // the agent is in another window
"""


def test_an_offer_beeps_and_shows_a_desktop_notification_while_the_console_is_hidden(
    server, agent_page, chatter_page
):
    ann = agent_page(server, "ann")
    ann.add_init_script(OFFER_SPY)
    ann.reload()
    chatter_page(server, "Hana")
    expect(tab(ann, "Hana")).to_be_visible()
    ann.wait_for_function("() => window.notes.length > 0 && window.beeps >= 2")  # it keeps ringing
    assert ann.evaluate("window.notes") == [["New chat offered", "Hana"]]  # one notification per offer


def test_a_console_whose_session_ended_elsewhere_goes_to_sign_in_by_itself(server, agent_page, people):
    ann = agent_page(server, "ann")
    assert people.agent(server, "ann").post("/logout").status_code == 200  # signed out elsewhere
    expect(ann).to_have_url(re.compile(r"/login$"), timeout=3_000)  # its socket closed with 4001
    expect(ann.get_by_role("button", name="Log in")).to_be_visible()
