"""Transcripts after a chat: e-mailed through a real SMTP server (aiosmtpd on 127.0.0.1) or into the
outbox, retried when sending fails and reported to the chatter, rate-limited, safe from header
injection, and never holding a private message or file."""

import re
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from clients import rows
from conftest import free_port, wait_for

from data import mail

pytestmark = pytest.mark.both_engines  # each test on SQLite and on PostgreSQL

FROM = "help@shop.example"
PUBLIC = ("Hello Carl, how can I help?", "My parcel has not arrived.", "Which do you prefer?")
SECRETS = ("SECRET-NOTE-ON-CARL", "secret-plan.txt", "SECRET FILE CONTENT")


# --- a real SMTP server ---------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every message it accepts; refuses the addresses in `refuse` with 550."""

    def __init__(self):
        self.received = []  # (envelope sender, recipients, parsed message)
        self.refuse = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = message_from_bytes(envelope.original_content, policy=default_policy)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class SmtpServer:
    """An SMTP server on 127.0.0.1 on a port chosen first (aiosmtpd cannot be given port 0)."""

    def __init__(self, port=None, login=None):
        self.inbox = Inbox()
        self.port = port or free_port()
        self.login = login
        self.controller = None

    def start(self):
        options = {}
        if self.login:
            # AUTH offered without TLS (loopback only); aiosmtpd warns only when it is also required
            options = {"authenticator": self._check, "auth_require_tls": False}
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        return self

    def _check(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and (
                auth_data.login.decode(),
                auth_data.password.decode(),
            )
            == self.login
        )
        return AuthResult(success=ok)

    def stop(self):
        if self.controller:
            self.controller.stop()

    def wait_for_messages(self, count, timeout=15):
        wait_for(lambda: len(self.inbox.received) >= count, timeout, message=f"{count} message(s) by SMTP")
        return self.inbox.received


@pytest.fixture
def smtp_servers():
    started = []

    def start(**kwargs):
        server = SmtpServer(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- a chat with everything a transcript may or may not hold ---------------------------------------


def ended_chat(server, people, name="Carl Chatter", email="carl@example.com"):
    """A chat with public and private messages and files and an answered question, ended by the chatter."""
    ann = people.agent(server, "ann", "Support desk")
    chatter = people.chatter(server)
    chat = chatter.start(name, email)
    ann.accept(chat)
    assert ann.say(chat, PUBLIC[0]).status_code == 204
    receipt = [("files", ("receipt.txt", b"a receipt from the shop", "application/octet-stream"))]
    assert chatter.post("/chat/support/messages", {"text": PUBLIC[1]}, files=receipt).status_code == 204
    secret_file = [("files", ("secret-plan.txt", b"SECRET FILE CONTENT", "application/octet-stream"))]
    private = {"text": SECRETS[0], "private": "yes"}
    assert ann.post(f"/chats/{chat}/messages", private, files=secret_file).status_code == 204
    asked = ann.post(f"/chats/{chat}/options", {"question": PUBLIC[2], "option": ["By post", "Pick it up"]})
    assert asked.status_code == 200, asked.text
    # the question as the chatter's page numbers it (its own count, which has no private messages)
    seq = re.search(r'hx-vals=\'\{"seq": (\d+),', chatter.page().text).group(1)
    assert chatter.post("/chat/support/answer", {"seq": seq, "choice": 1}).status_code == 204
    assert chatter.end().status_code == 200
    return ann, chatter, chat


def email_transcript(chatter, address):
    return chatter.post("/chat/support/transcript/email", {"email": address})


def mails(server):
    return rows(server, "select to_address, state, attempts from transcriptmail order by id")


def outbox(server):
    folder = server.folder / "outbox"
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [message_from_bytes(f.read_bytes(), policy=default_policy) for f in files]


def assert_whole_and_public(text):
    for line in PUBLIC:
        assert line in text, text
    assert "Carl Chatter" in text and "Ann Agent" in text
    assert "receipt.txt" in text  # the name of the public file
    assert "Pick it up" in text and "(option 2)" in text  # the answer to the question
    assert re.search(r"\[\d\d:\d\d\]", text)  # times
    for secret in SECRETS:
        assert secret not in text, text
    assert "Private" not in text


# --- sending -----------------------------------------------------------------------------------------


def test_transcript_goes_through_a_real_smtp_server(start_server, people, smtp_servers):
    smtp = smtp_servers(login=("parley", "p@ss word"))
    server = start_server(
        env={
            "PARLEY_SMTP_URL": f"smtp://parley:p%40ss%20word@127.0.0.1:{smtp.port}",
            "PARLEY_MAIL_FROM": FROM,
        }
    )
    _, chatter, _ = ended_chat(server, people)
    page = chatter.page().text
    assert re.search(r'id="transcript-email"[^>]*value="carl@example.com"', page), "pre-filled e-mail"

    response = email_transcript(chatter, "carl@example.com")
    assert response.status_code == 200
    ((sender, recipients, message),) = smtp.wait_for_messages(1)
    assert sender == FROM and recipients == ["carl@example.com"]
    assert message["To"] == "carl@example.com" and message["From"] == FROM
    assert message["Subject"] == "Transcript of your chat with Support"
    assert_whole_and_public(message.get_content())
    wait_for(lambda: mails(server) == [("carl@example.com", "sent", 1)], message="the mail marked sent")
    assert "The transcript was sent to carl@example.com." in chatter.page().text


def test_transcript_without_smtp_goes_to_the_outbox_and_the_page_hears_it(server, people):
    _, chatter, chat = ended_chat(server, people)
    socket = chatter.connect(seq=99, mode="ended")  # an open page, holding everything already

    assert email_transcript(chatter, "  other@example.org ").status_code == 200
    (message,) = wait_for(lambda: outbox(server), message="an .eml file in DATA/outbox")
    assert message["To"] == "other@example.org" and message["From"] == "parley@localhost"
    assert_whole_and_public(message.get_content())
    socket.wait_for_text("The transcript was sent to other@example.org.")
    assert not list((server.folder / "outbox").glob("*.part"))


def test_a_plain_form_post_sends_it_and_reloads_the_chat_page(server, people):
    _, chatter, _ = ended_chat(server, people)  # as when Email is clicked before htmx has loaded
    form = {"email": "carl@example.org", "csrf_token": chatter.token}
    response = chatter.post("/chat/support/transcript/email", form, csrf=False, allow_redirects=False)
    assert response.status_code == 303 and response.headers["Location"] == "/chat/support"
    wait_for(lambda: outbox(server), message="an .eml file in DATA/outbox")


def test_the_download_holds_the_same_public_transcript(server, people):
    _, chatter, _ = ended_chat(server, people)
    response = chatter.get("/chat/support/transcript")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert_whole_and_public(response.text)


def test_a_failed_send_is_retried_and_reported_until_it_goes(start_server, people, smtp_servers):
    port = free_port()  # nothing listens here yet: every try fails until the server starts
    env = {"PARLEY_SMTP_URL": f"smtp://127.0.0.1:{port}", "PARLEY_MAIL_RETRY_DELAYS": " ".join(["0.5"] * 40)}
    server = start_server(env=env)
    _, chatter, _ = ended_chat(server, people)
    assert email_transcript(chatter, "carl@example.com").status_code == 200

    wait_for(lambda: "could not be sent to carl@example.com yet, we will retry" in chatter.page().text)
    assert mails(server)[0][1] == "retrying"
    smtp = smtp_servers(port=port)
    ((_, recipients, message),) = smtp.wait_for_messages(1, timeout=30)
    assert recipients == ["carl@example.com"]
    assert_whole_and_public(message.get_content())
    wait_for(lambda: "The transcript was sent to carl@example.com." in chatter.page().text)
    ((_, state, attempts),) = mails(server)
    assert state == "sent" and attempts >= 2


def test_an_address_the_server_refuses_is_reported_as_failed(start_server, people, smtp_servers):
    smtp = smtp_servers()
    smtp.inbox.refuse.add("nobody@example.com")
    server = start_server(env={"PARLEY_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}"})
    _, chatter, _ = ended_chat(server, people)
    assert email_transcript(chatter, "nobody@example.com").status_code == 200

    wait_for(lambda: mails(server) == [("nobody@example.com", "failed", 1)], message="a failed mail")
    assert "could not be sent to nobody@example.com. Please download it instead." in chatter.page().text
    assert smtp.inbox.received == []


def test_retries_end_in_a_reported_failure(start_server, people):
    env = {"PARLEY_SMTP_URL": f"smtp://127.0.0.1:{free_port()}", "PARLEY_MAIL_RETRY_DELAYS": "0.2 0.2"}
    server = start_server(env=env)
    _, chatter, _ = ended_chat(server, people)
    assert email_transcript(chatter, "carl@example.com").status_code == 200

    wait_for(lambda: mails(server) == [("carl@example.com", "failed", 3)], message="three failed tries")
    assert "could not be sent to carl@example.com. Please download it instead." in chatter.page().text
    assert "ConnectionRefusedError" in server.log.read_text()  # logged, not dropped silently


# --- refusals --------------------------------------------------------------------------------------


BAD_ADDRESSES = [
    "carl@example.com\r\nBcc: everyone@example.com",
    "carl@example.com\nBcc: everyone@example.com",
    "carl@example.com\rBcc: everyone@example.com",
    "carl@example.com%0d%0aBcc: everyone@example.com",
    "Carl <carl@example.com>",
    "carl@example.com, everyone@example.com",
    "carl@example.com\x00",
    "not an address",
    "",
    "x" * 250 + "@example.com",
]


def test_header_injection_and_bad_addresses_are_refused(server, people):
    _, chatter, _ = ended_chat(server, people)
    for address in BAD_ADDRESSES:
        response = email_transcript(chatter, address)
        assert response.status_code == 400, address
        assert "e-mail address" in response.text, address
    assert mails(server) == []
    assert email_transcript(chatter, "carl@example.com").status_code == 200  # and the form still works


def test_a_name_with_line_breaks_stays_in_the_body(server, people):
    name = "Eve\r\nBcc: everyone@example.com"
    _, chatter, _ = ended_chat(server, people, name=name)
    assert email_transcript(chatter, "eve@example.com").status_code == 200
    (message,) = wait_for(lambda: outbox(server), message="an .eml file")
    assert message["Bcc"] is None
    assert message.get_all("To") == ["eve@example.com"]
    assert sorted(message.keys()) == sorted(
        ["From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "Content-Type"]
        + ["Content-Transfer-Encoding", "MIME-Version"]
    )


def test_sending_is_limited_to_three_an_hour_per_chat(server, people):
    _, chatter, _ = ended_chat(server, people)
    for _ in range(3):
        assert email_transcript(chatter, "carl@example.com").status_code == 200
    refused = email_transcript(chatter, "carl@example.com")
    assert refused.status_code == 429
    assert "at most 3 times an hour" in refused.text
    assert len(mails(server)) == 3
    wait_for(lambda: len(outbox(server)) == 3, message="three mails in the outbox")

    other = people.chatter(server)  # the limit is per chat: another chat sends at once
    other.start("Dora")
    other.end()
    assert email_transcript(other, "dora@example.com").status_code == 200


def test_a_transcript_waits_for_the_end_and_belongs_to_its_chatter(server, people):
    chatter = people.chatter(server)
    chatter.start("Carl", "carl@example.com")
    early = email_transcript(chatter, "carl@example.com")
    assert early.status_code == 409 and "once the chat has ended" in early.text

    chatter.end()
    stranger = people.chatter(server)
    stranger.get("/chat/support")
    assert email_transcript(stranger, "stranger@example.com").status_code == 403
    assert (
        chatter.post("/chat/support/transcript/email", {"email": "x@example.com"}, csrf=False).status_code
        == 400
    )
    assert mails(server) == []


# --- the mail module on its own --------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("to", "a@example.com\r\nBcc: b@example.com"),
        ("subject", "Hi\nBcc: b@example.com"),
        ("sender", "p@x.org\r\n"),
    ],
)
def test_build_message_refuses_line_breaks_in_any_header(field, value):
    values = {"to": "a@example.com", "subject": "Transcript", "sender": "parley@localhost", **{field: value}}
    with pytest.raises(mail.MailRefused):
        mail.build_message(values["to"], values["subject"], "body", values["sender"])


def test_mail_senders_in_two_processes_at_once_take_each_mail_once(database):
    from test_routing import run_in_threads

    from data.models import Chat, Queue

    chats = [Chat.create(queue=Queue.create(name=f"Q{n}", slug=f"q{n}"), state="ended") for n in range(3)]
    queued = {mail.queue_transcript(chat, "carl@example.com").id for chat in chats for _ in range(2)}
    results = run_in_threads(*[mail.due] * 3)
    taken = [m.id for kind, found in results for m in found]
    assert sorted(taken) == sorted(queued)  # every mail once
    assert mail.due() == []  # and claimed: not again until the claim has passed
    later = mail.now() + mail.CLAIM + timedelta(seconds=1)
    assert {m.id for m in mail.due(at=later)} == queued  # a sender that died leaves them to another


def test_smtp_urls():
    assert mail.parse_smtp_url("smtp://mail.example:2525") == mail.SmtpTarget(
        False, "mail.example", 2525, "", ""
    )
    assert mail.parse_smtp_url("smtps://u%40x:p%3Aw@mail.example") == mail.SmtpTarget(
        True, "mail.example", 465, "u@x", "p:w"
    )
    assert mail.parse_smtp_url("smtp://mail.example").port == 25
    for bad in ("http://mail.example", "smtp://", "mail.example:25", "smtp://mail.example:port"):
        with pytest.raises(ValueError):
            mail.parse_smtp_url(bad)
