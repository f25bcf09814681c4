"""Transcripts by e-mail: queued in the database, built safely, sent over SMTP or into the outbox, retried.

A request only queues a TranscriptMail row; the server's mail sender (views/transcripts.py) calls
`attempt` on each mail that is `due` and tells the chatter's page what became of it. A failed send stays in the table and is
tried again after each of `retry_delays`, so nothing is dropped silently; it ends "sent" or "failed".
"""

import logging
import os
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

from data import transcript
from data.checks import has_control, is_email
from data.db import write
from data.models import Chat, TranscriptMail, now

log = logging.getLogger("parley.mail")

SMTP_TIMEOUT = 20  # seconds for one connection to the mail server
RATE_WINDOW = timedelta(hours=1)
CLAIM = timedelta(seconds=3 * SMTP_TIMEOUT)  # a mail whose sender died is tried again after this


@dataclass
class MailSettings:
    smtp_url: str = ""  # smtp://[user:pass@]host:port or smtps://…; empty: write .eml files to `outbox`
    mail_from: str = "parley@localhost"
    outbox: str = "outbox"
    retry_delays: tuple = (30, 120, 600, 1800)  # seconds before each retry; then the mail has failed
    per_hour: int = 3  # transcripts one chat may send in any hour


settings = MailSettings()


class MailRefused(ValueError):
    """A transcript that will not be queued; the text says why, to the chatter."""


class RateLimited(MailRefused):
    """Too many transcripts from one chat within the hour."""


@dataclass(frozen=True)
class SmtpTarget:
    tls: bool
    host: str
    port: int
    user: str
    password: str


def parse_smtp_url(url):
    """smtp://[user:pass@]host[:port] (STARTTLS when offered) or smtps:// (TLS); ValueError if not."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"{url!r} is not smtp://[user:pass@]host:port or smtps://…")
    try:
        port = parts.port
    except ValueError as e:
        raise ValueError(f"{url!r} has a bad port") from e
    tls = parts.scheme == "smtps"
    return SmtpTarget(
        tls=tls,
        host=parts.hostname,
        port=port or (465 if tls else 25),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


# --- checking what goes into headers ----------------------------------------------------------------


def check_address(address):
    """The address, stripped, if it is one plain e-mail address; MailRefused otherwise.

    A line break would start a new header (Bcc: …): refused before anything is built.
    """
    address = (address or "").strip()
    if not address:
        raise MailRefused("Give the e-mail address to send the transcript to.")
    if has_control(address) or not address.isascii():
        raise MailRefused("An e-mail address cannot hold line breaks or other special characters.")
    if not is_email(address):
        raise MailRefused("This does not look like an e-mail address.")
    return address


def _header_text(value):
    """Text for a header, on one line: any run of whitespace (line breaks included) becomes one space."""
    return " ".join(str(value).split())


def build_message(to, subject, body, sender):
    """An EmailMessage; MailRefused if any header value could break out of its line."""
    for value in (to, subject, sender):
        if has_control(value):
            raise MailRefused("A header cannot hold line breaks.")
    message = EmailMessage()
    message["From"] = sender  # the operator's PARLEY_MAIL_FROM, e.g. "Parley <help@shop.example>"
    message["To"] = check_address(to)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def transcript_message(chat, to):
    """The e-mail of a chat's transcript (nothing private: data/transcript.py)."""
    subject = _header_text(f"Transcript of your chat with {chat.queue.name}")
    return build_message(to, subject, transcript.text(chat), settings.mail_from)


# --- queueing ---------------------------------------------------------------------------------------


def queue_transcript(chat, address, at=None):
    """Queue the chat's transcript for `address`; MailRefused (RateLimited) says why not."""
    address = check_address(address)
    at = at or now()
    with write():  # the count and the insert in one transaction: two quick clicks cannot both pass
        chat = Chat.get_by_id(chat.id)
        if chat.state != "ended":
            raise MailRefused("The transcript can be e-mailed once the chat has ended.")
        recent = (
            TranscriptMail.select()
            .where((TranscriptMail.chat == chat) & (TranscriptMail.created_at > at - RATE_WINDOW))
            .count()
        )
        if recent >= settings.per_hour:
            raise RateLimited(
                f"A chat's transcript can be e-mailed at most {settings.per_hour} times an hour. "
                "Please try again later, or download it."
            )
        if _another_address(chat, address):
            raise MailRefused(
                "The transcript can go to the address given in the chat and to one other address only. "
                "Please download it instead."
            )
        return TranscriptMail.create(chat=chat, to_address=address, created_at=at, next_try_at=at)


def _another_address(chat, address):
    """Whether `address` would be a second address besides the chat's own: the organisation's sender
    must not become a way to mail anyone, so a chat may mail one address of its choice at most."""
    own = {chat.chatter_email.lower()} if chat.chatter_email else set()
    others = {m.to_address.lower() for m in TranscriptMail.select().where(TranscriptMail.chat == chat)} - own
    return address.lower() not in own | others and len(others) >= 1


def due(at=None):
    """Mails to try now, oldest first, each claimed for this caller: a mail sender in another process
    does not try the same mail (it would go twice), nor until CLAIM has passed, should this one die."""
    at = at or now()
    found = list(  # read whole before claiming: SQLite refuses a write on a connection still reading
        TranscriptMail.select()
        .where(TranscriptMail.state.in_(("pending", "retrying")) & (TranscriptMail.next_try_at <= at))
        .order_by(TranscriptMail.next_try_at, TranscriptMail.id)
        .limit(50)
    )
    return [mail for mail in found if _claim(mail, at)]


def _claim(mail, at):
    """Move the mail's next try past the claim, if no one else did since it was read."""
    return (
        TranscriptMail.update(next_try_at=at + CLAIM)
        .where(
            (TranscriptMail.id == mail.id)
            & (TranscriptMail.next_try_at == mail.next_try_at)
            & TranscriptMail.state.in_(("pending", "retrying"))
        )
        .execute()
        == 1
    )


# --- sending ----------------------------------------------------------------------------------------


def attempt(mail):
    """Send one transcript mail once and record the outcome: sent, retrying later, or failed for good."""
    send_and_record(mail, lambda: transcript_message(Chat.get_by_id(mail.chat_id), mail.to_address))


def send_and_record(mail, build):
    """Send the message `build()` makes once, and record on `mail`, a queued mail's row (TranscriptMail,
    data/left_mail.py's LeftMail: state, attempts, ...), whether it was sent or when to retry."""
    table = type(mail)
    try:
        deliver(build(), mail.id)
    except Exception as e:  # noqa: BLE001 - any failure is recorded, retried or reported, never lost
        _failed(mail, e)
        return
    with write():
        table.update(state="sent", attempts=mail.attempts + 1, sent_at=now(), last_error="").where(
            table.id == mail.id
        ).execute()


def _failed(mail, error):
    attempts = mail.attempts + 1
    permanent = isinstance(error, MailRefused) or _refused_for_good(error)
    retry = not permanent and attempts <= len(settings.retry_delays)
    reason = f"{type(error).__name__}: {error}"[:1000]
    if retry:
        log.warning(
            "%s %s to %s failed (try %d), retrying: %s",
            type(mail).__name__,
            mail.id,
            mail.to_address,
            attempts,
            reason,
        )
        changes = {
            "state": "retrying",
            "next_try_at": now() + timedelta(seconds=settings.retry_delays[attempts - 1]),
        }
    else:
        log.error(
            "%s %s to %s failed for good after %d tries: %s",
            type(mail).__name__,
            mail.id,
            mail.to_address,
            attempts,
            reason,
        )
        changes = {"state": "failed"}
    table = type(mail)
    with write():
        table.update(attempts=attempts, last_error=reason, **changes).where(table.id == mail.id).execute()


def _refused_for_good(error):
    """A 5xx answer from the mail server: the same message will be refused again."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return False


def deliver(message, mail_id=0):
    """Hand the message to the SMTP server of PARLEY_SMTP_URL, or write it into the outbox."""
    if settings.smtp_url:
        _send_smtp(message, parse_smtp_url(settings.smtp_url))
    else:
        _write_outbox(message, mail_id)


def _send_smtp(message, target):
    context = ssl.create_default_context()
    if target.tls:
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
    with client:
        client.ehlo()
        if not target.tls and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if target.user:
            client.login(target.user, target.password)
        client.send_message(message)


def _write_outbox(message, mail_id):
    """Write DATA/outbox/<time>-<id>-<random>.eml whole: a reader never sees half a file."""
    os.makedirs(settings.outbox, exist_ok=True)
    name = f"{now():%Y%m%d-%H%M%S}-{mail_id}-{secrets.token_hex(4)}.eml"
    path = os.path.join(settings.outbox, name)
    partial = path + ".part"
    with open(partial, "wb") as f:
        f.write(bytes(message))
    os.replace(partial, path)
