"""The mail about messages left: the team's replies to chatters, and forwards to a queue's address.

Queued as LeftMail rows and sent by the server's mail sender through data/mail.py (SMTP or the
outbox, retried the same way as transcripts). A reply comes from PARLEY_MAIL_FROM with Reply-To the
queue's address when it has one; a forward has Reply-To the chatter, so the team can answer from
its own mailbox.
"""

from data import mail
from data.left_models import LeftMail, LeftMessage
from data.mail import check_address
from data.models import now


def queue_forward(message, address):
    """Queue the forward of a new message left to the queue's address; call inside a write transaction."""
    return LeftMail.create(left_message=message, kind="forward", to_address=address, reply_to=message.email)


def queue_reply(message, agent, text):
    """Queue an agent's reply to the chatter; call inside a write transaction."""
    return LeftMail.create(
        left_message=message,
        kind="reply",
        agent=agent.id,
        to_address=message.email,
        reply_to=message.queue.email,
        text=text,
    )


def due(at=None):
    """Mails to try now, oldest first."""
    return list(
        LeftMail.select()
        .where(LeftMail.state.in_(("pending", "retrying")) & (LeftMail.next_try_at <= (at or now())))
        .order_by(LeftMail.next_try_at, LeftMail.id)
        .limit(50)
    )


def attempt(row):
    """Send one queued mail once and record the outcome (data/mail.py)."""
    mail.send_and_record(row, lambda: build(row))


def build(row):
    """The e-mail of a queued reply or forward; MailRefused if a header could break out of its line."""
    message = LeftMessage.get_by_id(row.left_message_id)
    queue = message.queue.name
    if row.kind == "reply":
        subject = f"Re: your message to {queue}"
        body = f"{row.text}\n\n-- \nYou wrote to {queue} on {message.created_at:%Y-%m-%d %H:%M} UTC:\n\n"
        body += "".join(f"> {line}\n" for line in message.text.splitlines())
    else:
        subject = f"Message left in {queue} by {message.display_name}"
        body = _forward_body(message)
    email = mail.build_message(row.to_address, " ".join(subject.split()), body, mail.settings.mail_from)
    if row.reply_to:
        email["Reply-To"] = check_address(row.reply_to)
    if row.kind == "reply":
        del email["Auto-Submitted"]  # a person wrote it: auto-responders may answer it
    return email


def _forward_body(message):
    lines = [
        f"{message.display_name} left a message in {message.queue.name} on"
        f" {message.created_at:%Y-%m-%d %H:%M} UTC, when nobody could take a chat.",
        f"Name: {message.name or '(not given)'}",
        f"E-mail: {message.email} (answer this mail to reach them)",
        "",
        message.text,
        "",
    ]
    lines += [f"Attached on Parley's Messages page: {f.name} ({f.kind})" for f in message.files]
    lines.append("Reply and mark it handled on Parley's Messages page (/messages).")
    return "\n".join(lines) + "\n"
