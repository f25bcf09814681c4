"""The agent's chat actions as agent and chatter use them: predefined messages, option menus, private
mode, inviting colleagues, typing indicators; and what a chatter's browser receives in all of them."""

import pytest
from conftest import wait_for
from playwright.sync_api import expect

from .conftest import accept, message_box, messages, panel, say, tab

# predefined messages and option sets beside tests/org.toml's "Greeting" (every queue)
EXTRA_ORG = """
[[predefined]]
title = "Refund policy"
text = "Refunds take {agent_name} five days, {chatter_name}."
queues = ["Support"]

[[predefined]]
title = "Sales pitch"
text = "Buy two, get one free."
queues = ["Sales"]

[[predefined]]
title = "Goodbye"
text = "Goodbye {chatter_name}!"

[[option_set]]
title = "Satisfaction"
question = "How satisfied are you?"
options = ["Very", "Somewhat", "Not at all"]
queues = ["Support"]

[[option_set]]
title = "Sizes"
question = "Which size?"
options = ["Small", "Large"]
queues = ["Sales"]
"""


@pytest.fixture
def actions_server(server, tmp_path):
    """The test server, with the predefined messages and option sets above loaded into it."""
    org_file = tmp_path / "actions.toml"
    org_file.write_text(EXTRA_ORG)
    server.load(org_file)
    return server


def chatting(server, agent_page, chatter_page, name="Carl", agent="ann"):
    """An agent's console and a chatter's page in an accepted chat: (console, chatter, chat panel)."""
    console = agent_page(server, agent)
    chatter = chatter_page(server, name)
    chat = accept(console, name)
    expect(chatter.get_by_text("chatting with")).to_be_visible()
    return console, chatter, chat


def article(where, text):
    """The message in the log of `where` (page or panel) that holds `text`."""
    return messages(where).get_by_role("article").filter(has_text=text)


def private_toggle(chat):
    return chat.get_by_role("button", name="Private", exact=True)


def say_privately(chat, text):
    """Send `text` in private mode and switch private mode off again."""
    toggle = private_toggle(chat)
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    say(chat, text)
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")


def invite(chat, invitee, stay=True):
    """Send an invitation from the chat's Invite form."""
    chat.get_by_role("button", name="Invite").click()
    chat.get_by_role("combobox", name="Invitee").select_option(label=invitee)
    stay_box = chat.get_by_role("checkbox", name="Stay in the chat")
    expect(stay_box).to_be_checked()  # checked at first
    stay_box.set_checked(stay)
    chat.get_by_role("button", name="Send invitation").click()
    expect(chat.get_by_role("button", name="Send invitation")).to_have_count(0)


def keep_typing(box, until, message):
    """Type a letter at a time until `until()` holds: the typing notice is sent at most every 2 s."""

    def one_more():
        box.press("x")
        return until()

    wait_for(one_more, timeout=10, interval=0.25, message=message)


# --- predefined messages ----------------------------------------------------------------------------


def test_predefined_messages_by_keyboard_alone(actions_server, agent_page, chatter_page):
    ann, carl, chat = chatting(actions_server, agent_page, chatter_page)

    chat.get_by_role("button", name="Predefined messages").focus()
    ann.keyboard.press("Enter")
    choices = chat.get_by_role("list", name="Predefined messages").get_by_role("button")
    # the chat's queue is Support: the Sales message is not offered
    expect(choices).to_have_text(["Goodbye", "Greeting", "Refund policy"])
    search = chat.get_by_role("searchbox", name="Filter predefined messages")
    expect(search).to_be_focused()

    ann.keyboard.type("REF")  # the filter ignores case
    expect(choices.filter(visible=True)).to_have_text(["Refund policy"])
    ann.keyboard.press("ArrowDown")
    expect(choices.filter(has_text="Refund policy")).to_be_focused()
    ann.keyboard.press("Enter")

    box = message_box(chat)
    expect(box).to_have_value("Refunds take Ann Agent five days, Carl.")
    expect(box).to_be_focused()
    expect(chat.get_by_role("list", name="Predefined messages")).to_have_count(0)
    ann.keyboard.press("End")
    ann.keyboard.type(" Sorry for the wait!")  # editable before it goes
    ann.keyboard.press("Enter")
    expect(box).to_have_value("")
    expect(messages(carl)).to_contain_text("Refunds take Ann Agent five days, Carl. Sorry for the wait!")

    # Enter in the filter takes the first match; Escape goes back to the composer
    chat.get_by_role("button", name="Predefined messages").click()
    expect(search).to_be_focused()
    ann.keyboard.type("gr")
    expect(choices.filter(visible=True)).to_have_text(["Greeting"])
    ann.keyboard.press("Enter")
    expect(box).to_have_value("Hello Carl, I am Ann Agent.")
    box.fill("")
    chat.get_by_role("button", name="Predefined messages").click()
    expect(search).to_be_focused()
    ann.keyboard.press("Escape")
    expect(chat.get_by_role("list", name="Predefined messages")).to_have_count(0)
    expect(box).to_be_focused()


def test_filter_with_no_match_says_so(actions_server, agent_page, chatter_page):
    ann, carl, chat = chatting(actions_server, agent_page, chatter_page)
    chat.get_by_role("button", name="Predefined messages").click()
    chat.get_by_role("searchbox", name="Filter predefined messages").fill("nothing like this")
    expect(chat.get_by_text("No predefined message matches.")).to_be_visible()
    expect(
        chat.get_by_role("list", name="Predefined messages").get_by_role("button").filter(visible=True)
    ).to_have_count(0)


def test_slash_and_the_start_of_a_title_offers_the_matches(actions_server, agent_page, chatter_page):
    ann, carl, chat = chatting(actions_server, agent_page, chatter_page)
    box = message_box(chat)
    choices = chat.get_by_role("list", name="Predefined messages").get_by_role("button")

    box.press_sequentially("/go")
    expect(choices.filter(visible=True)).to_have_text(["Goodbye"])
    expect(box).to_be_focused()
    box.press("Enter")  # picks the match, sends nothing yet
    expect(box).to_have_value("Goodbye Carl!")
    expect(chat.get_by_role("list", name="Predefined messages")).to_have_count(0)
    box.press("Enter")
    expect(box).to_have_value("")
    expect(messages(carl)).to_contain_text("Goodbye Carl!")
    expect(messages(carl)).not_to_contain_text("/go")

    # only the start of a title counts: "Greeting" holds "re" but does not start with it
    box.press_sequentially("/re")
    expect(choices.filter(visible=True)).to_have_text(["Refund policy"])
    box.press("Enter")
    expect(box).to_have_value("Refunds take Ann Agent five days, Carl.")

    # two matches: the arrow keys go through them, Enter takes one
    box.fill("")
    box.press_sequentially("/G")
    expect(choices.filter(visible=True)).to_have_text(["Goodbye", "Greeting"])
    box.press("ArrowDown")
    expect(choices.filter(has_text="Goodbye")).to_be_focused()
    ann.keyboard.press("ArrowDown")
    expect(choices.filter(has_text="Greeting")).to_be_focused()
    ann.keyboard.press("Enter")
    expect(box).to_have_value("Hello Carl, I am Ann Agent.")

    # leaving the "/" closes the offer again
    box.fill("")
    box.press_sequentially("/g")
    expect(choices.filter(visible=True)).to_have_text(["Goodbye", "Greeting"])
    box.fill("no slash here")
    expect(chat.get_by_role("list", name="Predefined messages")).to_have_count(0)
    box.press("Enter")
    expect(messages(carl)).to_contain_text("no slash here")


# --- option menus -----------------------------------------------------------------------------------


def test_options_answered_once_on_every_copy_of_the_chatter_page(actions_server, agent_page, chatter_page):
    ann, carl, chat = chatting(actions_server, agent_page, chatter_page)
    carl_again = carl.context.new_page()  # the same browser: the same chat, a second copy of the page
    carl_again.goto(carl.url)
    expect(messages(carl_again)).to_contain_text("Ann Agent joined the chat")

    chat.get_by_role("button", name="Offer options").click()
    chat.get_by_role("textbox", name="Question").fill("Which colour?")
    chat.get_by_role("textbox", name="Option 1").fill("Red")
    chat.get_by_role("textbox", name="Option 2").fill("Green")
    expect(chat.get_by_role("textbox", name="Option 3")).to_have_count(0)
    chat.get_by_role("button", name="Add option").click()
    expect(chat.get_by_role("textbox", name="Option 3")).to_be_focused()
    chat.get_by_role("textbox", name="Option 3").fill("Blue")
    chat.get_by_role("button", name="Send options").click()
    expect(chat.get_by_role("textbox", name="Question")).to_have_count(0)

    for page in (carl, carl_again):
        buttons = page.get_by_role("group", name="Which colour?").get_by_role("button")
        expect(buttons).to_have_text(["Red", "Green", "Blue"])
        for i in range(3):
            expect(buttons.nth(i)).to_be_enabled()

    carl.get_by_role("group", name="Which colour?").get_by_role("button", name="Green").click()
    for page in (carl, carl_again):
        buttons = page.get_by_role("group", name="Which colour?").get_by_role("button")
        for i in range(3):
            expect(buttons.nth(i)).to_be_disabled()
        expect(
            page.get_by_role("group", name="Which colour?").get_by_role("button", pressed=True)
        ).to_have_text("Green")
    answer = article(chat, "in reply to")
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text("Chose Green (option 2) in reply to “Which colour?”")
    expect(chat.get_by_role("group", name="Which colour?")).to_contain_text("Green (chosen)")

    # a click that raced in from another copy changes nothing
    response = carl_again.request.post(
        carl.url + "/answer",
        form={
            "seq": carl.locator("article.kind-options").get_attribute("data-seq"),
            "choice": "0",
        },
        headers={"X-CSRF-Token": carl.locator('meta[name="csrf-token"]').get_attribute("content")},
    )
    assert response.status == 409
    expect(article(chat, "in reply to")).to_have_count(1)


def test_an_option_set_fills_the_form(actions_server, agent_page, chatter_page):
    ann, carl, chat = chatting(actions_server, agent_page, chatter_page)
    chat.get_by_role("button", name="Offer options").click()
    sets = chat.get_by_role("combobox", name="Option set")
    expect(sets.locator("option")).to_have_text(["Write my own", "Satisfaction"])  # not Sales' "Sizes"
    sets.select_option(label="Satisfaction")
    expect(chat.get_by_role("textbox", name="Question")).to_have_value("How satisfied are you?")
    expect(chat.get_by_role("textbox", name="Option 1")).to_have_value("Very")
    expect(chat.get_by_role("textbox", name="Option 2")).to_have_value("Somewhat")
    expect(chat.get_by_role("textbox", name="Option 3")).to_have_value("Not at all")
    chat.get_by_role("button", name="Send options").click()

    group = carl.get_by_role("group", name="How satisfied are you?")
    expect(group.get_by_role("button")).to_have_text(["Very", "Somewhat", "Not at all"])
    group.get_by_role("button", name="Not at all").click()
    expect(article(chat, "in reply to")).to_contain_text("Chose Not at all (option 3)")


def test_options_form_refuses_a_single_option(actions_server, agent_page, chatter_page):
    ann, carl, chat = chatting(actions_server, agent_page, chatter_page)
    chat.get_by_role("button", name="Offer options").click()
    chat.get_by_role("textbox", name="Question").fill("Only one?")
    chat.get_by_role("textbox", name="Option 1").fill("Yes")
    chat.get_by_role("button", name="Send options").click()
    expect(chat.get_by_role("alert").filter(has_text="between 2 and 10")).to_be_visible()
    expect(chat.get_by_role("textbox", name="Question")).to_have_value("Only one?")
    expect(messages(carl)).not_to_contain_text("Only one?")


# --- private mode -----------------------------------------------------------------------------------


def test_private_mode_stays_on_until_toggled_off(server, agent_page, chatter_page):
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    toggle = private_toggle(chat)
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(chat.get_by_text("Private: only agents see this")).to_be_hidden()

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(chat.get_by_text("Private: only agents see this")).to_be_visible()
    say(chat, "First internal note")
    expect(article(chat, "First internal note")).to_contain_text("Private")
    expect(toggle).to_have_attribute("aria-pressed", "true")  # sending keeps private mode on
    say(chat, "Second internal note")
    expect(article(chat, "Second internal note")).to_contain_text("Private")

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(chat.get_by_text("Private: only agents see this")).to_be_hidden()
    say(chat, "Back in public")
    expect(messages(carl)).to_contain_text("Back in public")
    expect(article(chat, "Back in public")).not_to_contain_text("Private")
    expect(messages(carl)).not_to_contain_text("internal note")
    expect(messages(carl)).not_to_contain_text("Private")

    # a reload shows the chatter no more than the socket did
    carl.reload()
    expect(messages(carl)).to_contain_text("Back in public")
    expect(messages(carl)).not_to_contain_text("internal note")


def test_a_private_message_has_its_own_colour_and_an_eye_marked_private(server, agent_page, chatter_page):
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    say(chat, "Public words")
    say_privately(chat, "Private words")
    public, private = article(chat, "Public words"), article(chat, "Private words")

    def looks(message):
        return message.evaluate(
            "m => { const s = getComputedStyle(m); return [s.backgroundColor, s.borderStyle]; }"
        )

    (public_background, public_border), (private_background, private_border) = looks(public), looks(private)
    assert private_background != public_background
    assert private_border != public_border  # dashed: told apart without colour too
    # the eye, drawn where a person sees it, beside the word "Private"
    tag = private.get_by_text("Private", exact=True)
    expect(tag).to_be_visible()
    eye = tag.locator("svg")
    expect(eye).to_be_visible()
    box = eye.bounding_box()
    assert box["width"] >= 8 and box["height"] >= 8, box
    expect(public.get_by_text("Private")).to_have_count(0)
    expect(public.locator("svg")).to_have_count(0)


# --- invitations ------------------------------------------------------------------------------------


def test_invite_a_colleague_by_name_into_a_conference(server, agent_page, chatter_page):
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    say(chat, "Let me ask a colleague.")
    say_privately(chat, "Ben knows about refunds")
    ben = agent_page(server, "ben")

    chat.get_by_role("button", name="Invite").click()
    invitee = chat.get_by_role("combobox", name="Invitee")
    # logged-on colleagues not in the chat (ann is in it; cat, dan and sue are logged off), then the queues
    expect(invitee.locator("option")).to_have_text(["Ben Agent", "Anyone in Sales", "Anyone in Support"])
    chat.get_by_role("button", name="Cancel").click()
    invite(chat, "Ben Agent")
    expect(chat.get_by_text("Invitation to Ben Agent pending")).to_be_visible()
    expect(article(chat, "Ann Agent invited Ben Agent")).to_contain_text("Private")

    offer = panel(ben, "Carl")
    expect(offer).to_contain_text("Ann Agent invites you to join the chat with Carl")
    expect(messages(offer)).to_contain_text("Let me ask a colleague.")
    expect(article(offer, "Ben knows about refunds")).to_contain_text("Private")
    expect(offer.get_by_role("button", name="Reject")).to_be_visible()
    offered = accept(ben, "Carl")

    expect(messages(carl)).to_contain_text("Ben Agent joined the chat")
    expect(carl.get_by_text("chatting with Ann Agent, Ben Agent")).to_be_visible()
    expect(messages(chat)).to_contain_text("Ben Agent joined the chat")
    expect(chat.get_by_text("Invitation to Ben Agent pending")).to_have_count(0)

    # a conference: both agents write to the chatter, and privately to each other
    say(offered, "Ben here, hello Carl.")
    expect(messages(carl)).to_contain_text("Ben here, hello Carl.")
    expect(messages(chat)).to_contain_text("Ben here, hello Carl.")
    say_privately(offered, "Between us: approve it")
    expect(article(chat, "Between us: approve it")).to_contain_text("Private")
    say(chat, "Approved!")
    expect(messages(offered)).to_contain_text("Approved!")
    expect(messages(carl)).to_contain_text("Approved!")
    expect(messages(carl)).not_to_contain_text("Between us")
    expect(messages(carl)).not_to_contain_text("refunds")
    expect(messages(carl)).not_to_contain_text("invited")


def test_hand_over_leaves_the_chat_to_the_invitee(server, agent_page, chatter_page):
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    ben = agent_page(server, "ben")
    invite(chat, "Ben Agent", stay=False)
    expect(panel(ben, "Carl")).to_contain_text("Ann Agent invites you to take over the chat with Carl")
    offered = accept(ben, "Carl")

    # Ann loses the chat: her tab closes at once, and stays closed on a reload
    expect(tab(ann, "Carl")).to_have_count(0)
    expect(messages(carl)).to_contain_text("Ann Agent left the chat")
    expect(carl.get_by_text("You are chatting with Ben Agent.")).to_be_visible()
    say(offered, "I take it from here.")
    expect(messages(carl)).to_contain_text("I take it from here.")
    say(carl, "Thanks Ben")
    expect(messages(offered)).to_contain_text("Thanks Ben")
    ann.reload()
    expect(ann.get_by_role("button", name="Pause")).to_be_visible()
    expect(tab(ann, "Carl")).to_have_count(0)


def test_rejected_invitation_is_reported_to_the_inviter(server, agent_page, chatter_page):
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    ben = agent_page(server, "ben")
    invite(chat, "Ben Agent")
    panel(ben, "Carl").get_by_role("button", name="Reject").click()
    expect(tab(ben, "Carl")).to_have_count(0)

    expect(article(chat, "Ben Agent declined the invitation")).to_contain_text("Private")
    expect(chat.get_by_text("Invitation to Ben Agent pending")).to_have_count(0)
    # another invitation may follow
    chat.get_by_role("button", name="Invite").click()
    expect(chat.get_by_role("button", name="Send invitation")).to_be_visible()
    expect(messages(carl)).to_contain_text("Ann Agent joined the chat")
    expect(messages(carl)).not_to_contain_text("declined")


def test_invitation_timeout_is_reported_to_the_inviter(start_server, agent_page, chatter_page):
    # room enough for Ann to accept her chat in time on a busy machine (the timeout applies to every offer)
    server = start_server(offer_timeout=6)
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    ben = agent_page(server, "ben")
    invite(chat, "Ben Agent")
    expect(tab(ben, "Carl")).to_be_visible()
    missed = article(chat, "Ben Agent did not answer the invitation")
    expect(missed).to_contain_text("Private", timeout=20_000)
    expect(tab(ben, "Carl")).to_have_count(0)
    expect(ben.get_by_role("button", name="Resume")).to_be_visible()


def test_anyone_in_support_goes_to_another_agent_and_on_after_a_reject(server, agent_page, chatter_page):
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    ben = agent_page(server, "ben")
    cat = agent_page(server, "cat")
    invite(chat, "Anyone in Support")
    expect(chat.get_by_text("Invitation to anyone in Support pending")).to_be_visible()

    # while it is pending, no second invitation can be sent
    chat.get_by_role("button", name="Invite").click()
    expect(chat.get_by_text("An invitation to anyone in Support is pending")).to_be_visible()
    expect(chat.get_by_role("button", name="Send invitation")).to_have_count(0)
    chat.get_by_role("button", name="Close").click()

    def offered():
        holders = [page for page in (ben, cat) if tab(page, "Carl").count()]
        return holders[0] if len(holders) == 1 else None

    first = wait_for(offered, message="the invitation to reach Ben or Cat")
    second = cat if first is ben else ben
    expect(ann.get_by_role("tab")).to_have_count(1)  # never the inviter
    panel(first, "Carl").get_by_role("button", name="Reject").click()

    expect(tab(first, "Carl")).to_have_count(0)
    expect(panel(second, "Carl").get_by_role("button", name="Accept")).to_be_visible()
    expect(article(chat, "declined the invitation; asking the next agent")).to_contain_text("Private")
    joined = accept(second, "Carl")
    expect(messages(carl)).to_contain_text("joined the chat")
    expect(tab(first, "Carl")).to_have_count(0)  # the one who declined is not asked again
    say(joined, "Two of us now.")
    expect(messages(chat)).to_contain_text("Two of us now.")


def test_invite_back_after_a_hand_over(server, agent_page, chatter_page):
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    ben = agent_page(server, "ben")
    invite(chat, "Ben Agent", stay=False)
    bens = accept(ben, "Carl")
    expect(tab(ann, "Carl")).to_have_count(0)

    invite(bens, "Ann Agent")
    expect(panel(ann, "Carl")).to_contain_text("Ben Agent invites you to join")
    back = accept(ann, "Carl")
    say(back, "Ann again.")
    expect(messages(carl)).to_contain_text("Ann again.")
    expect(messages(bens)).to_contain_text("Ann again.")
    ann.reload()  # and the console, loaded afresh, shows the chat as hers again
    expect(message_box(panel(ann, "Carl"))).to_be_visible()


# --- typing -----------------------------------------------------------------------------------------


def test_typing_both_ways_and_never_a_private_draft(server, agent_page, chatter_page):
    ann, carl, chat = chatting(server, agent_page, chatter_page)
    carl_frames, ann_sent = [], []
    carl.on("websocket", lambda ws: ws.on("framereceived", lambda f: carl_frames.append(f)))
    ann.on("websocket", lambda ws: ws.on("framesent", lambda f: ann_sent.append(f)))
    carl.reload()  # the spy sees the page's socket from its start
    ann.reload()
    expect(carl.get_by_text("chatting with Ann Agent")).to_be_visible()
    chat = panel(ann, "Carl")

    # the chatter types: the agent sees it
    message_box(carl).press_sequentially("Hel")
    expect(chat.get_by_text("Carl is typing")).to_be_visible()

    # a private draft: the console sends the notice, marked private, and the chatter never sees it
    private_toggle(chat).click()
    box = message_box(chat)
    box.press_sequentially("Carl seems upset")
    wait_for(
        lambda: any('"private":true' in str(f) for f in ann_sent),
        message="the private typing notice to be sent",
    )
    say(carl, "Are you there?")  # after the notice on the chatter's socket, had it been sent there
    expect(messages(carl)).to_contain_text("Are you there?")
    assert not [f for f in carl_frames if "is typing" in str(f)]
    expect(carl.get_by_text("is typing")).to_have_count(0)

    # a public draft shows
    box.fill("")
    private_toggle(chat).click()
    expect(private_toggle(chat)).to_have_attribute("aria-pressed", "false")
    keep_typing(
        box, lambda: carl.get_by_text("Ann Agent is typing").count() > 0, "the chatter to see Ann typing"
    )
    expect(carl.get_by_text("Ann Agent is typing")).to_be_visible()
    assert not [f for f in carl_frames if "private note" in str(f)]


# --- what the chatter's browser receives --------------------------------------------------------------


class Spy:
    """Every socket frame and response body a chatter's pages receive (but the same static files
    for everyone: the style sheet names the class of private messages)."""

    def __init__(self):
        self.frames = []
        self.responses = []

    def watch(self, page):
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: self.frames.append(f)))
        page.on("response", lambda r: "/static/" in r.url or self.responses.append(r))
        return page

    def everything(self):
        texts = [f if isinstance(f, str) else f.decode("utf-8", "replace") for f in self.frames]
        for response in self.responses:
            try:
                texts.append(response.text())
            except Exception:  # noqa: BLE001 - a redirect or a page navigated away has no body left
                continue
        return "\n".join(texts)


def test_the_chatter_receives_nothing_private(actions_server, agent_page, new_page):
    server = actions_server
    spy = Spy()
    ann = agent_page(server, "ann")
    carl = spy.watch(new_page())
    carl.goto(server.url + "/chat/support")
    carl.get_by_role("textbox", name="Name").fill("Carl")
    carl.get_by_role("button", name="Start chat").click()
    chat = accept(ann, "Carl")
    expect(carl.get_by_text("chatting with Ann Agent")).to_be_visible()
    carl_again = spy.watch(carl.context.new_page())
    carl_again.goto(carl.url)

    secrets = ["SECRET-NOTE-ALONE", "SECRET-NOTE-BEN", "SECRET-NOTE-CAT", "SECRET-AFTER-ANSWER"]
    private_lines = ["invited", "declined the invitation", "asking the next agent", "Invitation to"]

    # an internal note while Ann is alone, and a private draft
    say_privately(chat, "SECRET-NOTE-ALONE")
    private_toggle(chat).click()
    message_box(chat).press_sequentially("SECRET-DRAFT")
    message_box(chat).fill("")
    private_toggle(chat).click()

    # a named invitation rejected, then a queue invitation accepted
    ben = agent_page(server, "ben")
    invite(chat, "Ben Agent")
    panel(ben, "Carl").get_by_role("button", name="Reject").click()
    expect(article(chat, "Ben Agent declined")).to_be_visible()
    cat = agent_page(server, "cat")
    invite(chat, "Anyone in Support")  # to Ben or Cat: whoever gets it rejects, the other accepts

    def offered():
        holders = [page for page in (ben, cat) if tab(page, "Carl").count()]
        return holders[0] if len(holders) == 1 else None

    first = wait_for(offered, message="the queue invitation")
    panel(first, "Carl").get_by_role("button", name="Reject").click()
    second = cat if first is ben else ben
    other = accept(second, "Carl")
    expect(messages(carl)).to_contain_text("joined the chat")
    name = "BEN" if second is ben else "CAT"
    say_privately(other, f"SECRET-NOTE-{name}")
    secrets = [s for s in secrets if s.endswith(("ALONE", "ANSWER", name))]
    private_toggle(other).click()
    message_box(other).press_sequentially("SECRET-DRAFT-TOO")

    # an options menu answered: the question is rendered again on both of the chatter's pages
    chat.get_by_role("button", name="Offer options").click()
    chat.get_by_role("combobox", name="Option set").select_option(label="Satisfaction")
    chat.get_by_role("button", name="Send options").click()
    carl.get_by_role("group", name="How satisfied are you?").get_by_role("button", name="Very").click()
    for page in (carl, carl_again):
        expect(
            page.get_by_role("group", name="How satisfied are you?").get_by_role("button").first
        ).to_be_disabled()
    expect(article(chat, "Chose Very")).to_be_visible()
    say_privately(chat, "SECRET-AFTER-ANSWER")

    # the page loaded afresh, then the chat ended and its transcript downloaded
    carl_again.reload()
    expect(messages(carl_again)).to_contain_text("How satisfied are you?")
    say(chat, "PUBLIC-LAST")
    for page in (carl, carl_again):
        expect(messages(page)).to_contain_text("PUBLIC-LAST")
    carl.get_by_role("button", name="End chat").click()
    expect(carl.get_by_text("chat has ended").first).to_be_visible()
    with carl.expect_download() as download:
        carl.get_by_role("link", name="Download transcript").click()
    transcript = download.value.path().read_text(encoding="utf-8")
    fetched = carl.request.get(carl.url + "/transcript").text()
    expect(messages(chat)).to_contain_text("Carl ended the chat")

    received = spy.everything()
    # the spy saw it all: public messages, the menu, the answer, the transcript
    for public in ("PUBLIC-LAST", "How satisfied are you?", "joined the chat", "Carl ended the chat"):
        assert public in received
    assert "PUBLIC-LAST" in transcript and "Very" in transcript and transcript == fetched
    for where, text in (("socket or page", received), ("transcript", transcript)):
        for secret in [*secrets, *private_lines, "SECRET", "private note", "private-tag"]:
            assert secret not in text, f"{secret!r} reached the chatter in the {where}"
