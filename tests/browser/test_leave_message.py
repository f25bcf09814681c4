"""When nobody can answer, in a real browser: a closed queue's page and when it opens next (in the
chatter's own time zone), leaving a message with a file that an agent answers by e-mail (through a
real SMTP server) and marks handled, the last agent logging off while a chatter waits, the longest
wait, and a wait estimate that appears only once there are real waits to make it from."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from samples import png_bytes
from test_transcripts import SmtpServer

from .conftest import accept, message_box, say, tab

OSLO, NEW_YORK = ZoneInfo("Europe/Oslo"), ZoneInfo("America/New_York")


def load(server, tmp_path, text):
    """Apply an organisation file to the running server's database (`parley load`)."""
    path = tmp_path / f"org-{abs(hash(text))}.toml"
    path.write_text(text)
    server.load(path)


def said(instant, zone):
    """How the page says an opening a few days ahead: "Thursday at 02:00" in `zone`."""
    local = instant.astimezone(zone)
    assert 1 < (local.date() - datetime.now(zone).date()).days < 7  # named by its weekday
    return f"{local:%A} at {local:%H:%M}"


def leave_a_message(page, name, email, text, files=()):
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("textbox", name="E-mail").fill(email)
    page.get_by_role("textbox", name="Message").fill(text)
    if files:
        page.get_by_label("Files").set_input_files(list(files))
    page.get_by_role("button", name="Send message").click()


def test_a_closed_queue_says_when_it_opens_in_the_chatters_own_time_zone(
    start_server, browser, agent_page, tmp_path
):
    server = start_server()
    # Sales opens only on one weekday, three days from today in Oslo, 08:00-09:00 Oslo time
    day = datetime.now(OSLO).date() + timedelta(days=3)
    opens = datetime.combine(day, time(8, 0), tzinfo=OSLO)
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
    load(
        server,
        tmp_path,
        f'[[queue]]\nname = "Sales"\ntimezone = "Europe/Oslo"\nhours = {{ {weekday} = ["08:00-09:00"] }}\n',
    )
    agent_page(server, "dan", profile="Sales desk")  # an agent is there: it is closed all the same

    in_new_york = browser.new_context(timezone_id="America/New_York")
    without_scripts = browser.new_context(java_script_enabled=False, timezone_id="Asia/Tokyo")
    try:
        page = in_new_york.new_page()
        page.goto(f"{server.url}/chat/sales")
        expect(page.get_by_text("We are closed now.")).to_contain_text(
            f"We open again {said(opens, NEW_YORK)}."
        )
        expect(page.get_by_text("leave a message")).to_be_visible()
        expect(page.get_by_role("button", name="Start chat")).to_have_count(0)

        plain = without_scripts.new_page()
        plain.goto(f"{server.url}/chat/sales")  # no script: said in the queue's own zone
        expect(plain.get_by_text("We are closed now.")).to_contain_text(f"We open again {said(opens, OSLO)}.")

        leave_a_message(page, "Pete", "pete@example.com", "Do you sell gift cards?")
        thanks = page.get_by_role("status").filter(has_text="We will answer you by e-mail")
        expect(thanks).to_contain_text("pete@example.com")
        expect(page.get_by_role("textbox", name="Message")).to_have_count(0)  # the confirmation replaced it
    finally:
        in_new_york.close()
        without_scripts.close()


def test_a_message_left_with_a_file_is_answered_by_e_mail_and_marked_handled(
    start_server, new_page, agent_page, tmp_path
):
    smtp = SmtpServer().start()
    try:
        server = start_server(
            env={"PARLEY_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "PARLEY_MAIL_FROM": "desk@shop.example"}
        )
        load(server, tmp_path, '[[queue]]\nname = "Support"\nemail = "help@shop.example"\n')
        carl = new_page(f"{server.url}/chat/support")  # nobody logged on
        expect(carl.get_by_text("Nobody can take a chat right now.")).to_be_visible()
        photo = {"name": "parcel.png", "mimeType": "image/png", "buffer": png_bytes()}
        leave_a_message(carl, "Carl", "carl@example.com", "My parcel never came.\nOrder 1234.", [photo])
        expect(carl.get_by_role("status").filter(has_text="We will answer you by e-mail")).to_be_visible()

        # forwarded to the queue's address, answerable straight to Carl
        ((_, to, forward),) = smtp.wait_for_messages(1)
        assert to == ["help@shop.example"] and forward["Reply-To"] == "carl@example.com"
        assert "My parcel never came." in forward.get_content() and "parcel.png" in forward.get_content()

        ann = agent_page(server, "ann", profile=None)
        link = ann.get_by_role("link", name="Messages")
        expect(link).to_contain_text("1")
        link.click()
        message = ann.get_by_role("article").filter(has_text="My parcel never came.")
        expect(message).to_contain_text("carl@example.com")
        expect(message.get_by_role("link", name="parcel.png")).to_be_visible()
        href = message.get_by_role("link", name="parcel.png").get_attribute("href")
        served = ann.request.get(server.url + href)
        assert served.ok and served.body() == png_bytes()

        message.get_by_role("textbox", name="Reply").fill("We found it: it comes tomorrow.")
        message.get_by_role("button", name="Send reply").click()
        expect(message).to_contain_text("Replied by Ann Agent")
        expect(message.locator(".mail-sent")).to_have_text("sent")  # the page asks until the mail has gone
        ((_, to, reply),) = [m for m in smtp.wait_for_messages(2) if m[1] == ["carl@example.com"]]
        assert reply["From"] == "desk@shop.example" and reply["Reply-To"] == "help@shop.example"
        assert reply.get_content().startswith("We found it: it comes tomorrow.")
        assert "> My parcel never came." in reply.get_content()

        message.get_by_role("button", name="Mark as handled").click()
        expect(message).to_contain_text("Handled by Ann Agent")
        expect(message.get_by_role("button", name="Mark as handled")).to_have_count(0)
        expect(ann.get_by_role("link", name="Messages")).not_to_contain_text("1")
        ann.reload()
        expect(ann.get_by_role("article")).to_contain_text("Replied by Ann Agent")  # kept
    finally:
        smtp.stop()


def test_a_chatter_waiting_when_the_last_agent_logs_off_is_offered_the_form_with_what_they_wrote(
    server, agent_page, chatter_page
):
    ann = agent_page(server, "ann")
    carl = chatter_page(server, "Carl", email="carl@example.com")
    expect(carl.get_by_text("in the queue")).to_be_visible()
    expect(carl.get_by_text("leave a message")).to_have_count(0)
    say(carl, "Where is my parcel?")
    message_box(carl).fill("Order 1234")  # still typing when it happens
    expect(tab(ann, "Carl")).to_be_visible()

    ann.get_by_role("button", name="Log off").click()
    expect(carl.get_by_text("Nobody can take your chat right now.")).to_contain_text("leave a message")
    form_text = carl.get_by_role("textbox", name="Message")  # the form's: the composer hides meanwhile
    expect(form_text).to_have_value("Where is my parcel?\n\nOrder 1234")
    expect(carl.get_by_role("textbox", name="E-mail")).to_have_value("carl@example.com")
    expect(carl.get_by_text("in the queue")).to_be_visible()  # still waiting until they choose

    carl.get_by_role("button", name="Send message").click()
    thanks = carl.get_by_role("status").filter(has_text="We will answer you by e-mail")
    expect(thanks).to_contain_text("carl@example.com")
    expect(carl.get_by_text("chat has ended").first).to_be_visible()

    ann.goto(f"{server.url}/messages")
    expect(ann.get_by_role("article")).to_contain_text("Where is my parcel?")


def test_past_the_longest_wait_the_chatter_may_leave_a_message_or_keep_waiting(
    start_server, agent_page, chatter_page, tmp_path
):
    server = start_server(offer_timeout=120)
    load(server, tmp_path, '[[queue]]\nname = "Support"\nlongest_wait = 10\n')
    agent_page(server, "ann")  # offered the chat, and never answers
    carl = chatter_page(server, "Carl")
    expect(carl.get_by_text("waited this long")).to_have_count(0)
    offer = carl.get_by_text("We are sorry you have waited this long.")
    expect(offer).to_contain_text("leave a message", timeout=20_000)
    expect(carl.get_by_role("button", name="Send message")).to_be_visible()

    carl.get_by_role("button", name="Keep waiting").click()
    expect(carl.get_by_role("button", name="Send message")).to_be_hidden()
    say(carl, "I will wait.")  # the composer is back, and the chat still in the queue
    expect(carl.get_by_text("in the queue")).to_be_visible()
    carl.reload()  # kept: not offered again
    expect(message_box(carl)).to_be_visible()
    expect(carl.get_by_role("button", name="Send message")).to_be_hidden()


def test_the_wait_estimate_appears_only_once_real_waits_make_it(server, agent_page, chatter_page):
    ann = agent_page(server, "ann")  # at most 3 chats: the fourth chatter waits
    for name in ("Amy", "Bob", "Cid"):
        chatter_page(server, name)
        expect(tab(ann, name)).to_be_visible()
    dora = chatter_page(server, "Dora")
    status = dora.get_by_text("in the queue")
    expect(status).to_be_visible()
    for name, place in (("Amy", 3), ("Bob", 2)):
        accept(ann, name)
        expect(status).to_contain_text(f"You are number {place} in the queue.")
        expect(status).not_to_contain_text("Estimated wait")  # one, then two waits: too few
    accept(ann, "Cid")
    expect(status).to_contain_text("Estimated wait: less than a minute")
