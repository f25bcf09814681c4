"""Keeping chats only as long as the organisation wants, and everything about one chatter on request.

`delete_chat` is the one place that deletes a chat's data: whatever else comes to belong to a chat
(attachments and their files) is deleted there too, so retention and erasure stay complete.
"""

import time
from datetime import timedelta

from peewee import fn

from data import files, logs
from data.checks import whole_number
from data.db import write
from data.models import (
    Attachment,
    Chat,
    Invitation,
    Message,
    Offer,
    Participant,
    Setting,
    TranscriptMail,
    now,
)

RETENTION_KEY = "retention_days"
MAX_RETENTION_DAYS = 36500
BATCH = 200  # chats deleted per write transaction: other writers wait at most one batch
CHECK_EVERY = 60.0  # seconds between the server's retention runs

_last_run = None  # time.monotonic() of the last run in this process; None: run at the next chance


# --- the setting ----------------------------------------------------------------------------


def retention_days():
    """Days ended chats are kept, or None to keep them forever."""
    row = Setting.get_or_none(Setting.key == RETENTION_KEY)
    if row is None or not row.value.strip():
        return None
    return int(row.value)


def parse_days(text):
    """Check what a supervisor typed; return (days or None, error or None)."""
    text = (text or "").strip()
    if not text:
        return None, None
    days = whole_number(text)
    if days is None or not 1 <= days <= MAX_RETENTION_DAYS:
        return None, f"Give a whole number of days from 1 to {MAX_RETENTION_DAYS}, or leave it empty."
    return days, None


def set_retention_days(days):
    """Store the setting (None keeps chats forever); the next retention run applies it."""
    global _last_run
    with write():
        Setting.put(RETENTION_KEY, "" if days is None else str(days))
    _last_run = None  # a new setting applies at once, not within the minute


# --- deleting -------------------------------------------------------------------------------


def delete_chat(chat_id):
    """Delete a chat and everything that belongs to it; call inside a write transaction."""
    tokens = [a.token for a in Attachment.select(Attachment.token).where(Attachment.chat == chat_id)]
    Attachment.delete().where(Attachment.chat == chat_id).execute()
    Offer.delete().where(Offer.chat == chat_id).execute()
    Invitation.delete().where(Invitation.chat == chat_id).execute()
    Message.delete().where(Message.chat == chat_id).execute()
    Participant.delete().where(Participant.chat == chat_id).execute()
    TranscriptMail.delete().where(TranscriptMail.chat == chat_id).execute()
    Chat.delete().where(Chat.id == chat_id).execute()
    return tokens  # the caller deletes these files once the transaction has committed


def expired_chats(at=None):
    """Ended chats older than the retention period (ended before its start), oldest first."""
    days = retention_days()
    if days is None:
        return Chat.select(Chat.id).where(Chat.id.is_null())
    cutoff = (at or now()) - timedelta(days=days)
    return Chat.select(Chat.id).where((Chat.state == "ended") & (Chat.ended_at < cutoff)).order_by(Chat.id)


def purge_expired(at=None):
    """Delete every ended chat older than the retention period; return how many were deleted."""
    deleted = 0
    while True:
        with write():
            ids = [c.id for c in expired_chats(at).limit(BATCH)]
            tokens = [t for chat_id in ids for t in delete_chat(chat_id)]
        files.delete(tokens)
        deleted += len(ids)
        if len(ids) < BATCH:
            return deleted


def run_if_due(clock=time.monotonic):
    """The server's periodic retention run: at most once every CHECK_EVERY seconds."""
    global _last_run
    at = clock()
    if _last_run is not None and at - _last_run < CHECK_EVERY:
        return 0
    _last_run = at
    return purge_expired()


# --- one chatter ----------------------------------------------------------------------------


def chats_of_chatter(email):
    """Every chat whose chatter gave this e-mail address (compared without regard to case)."""
    email = email.strip().lower()
    return Chat.select().where(fn.LOWER(Chat.chatter_email) == email).order_by(Chat.created_at, Chat.id)


def export_chatter(email):
    """Everything stored about the chatter with this e-mail, as plain data for JSON."""
    return {"email": email.strip(), "chats": logs.records(chats_of_chatter(email))}


def delete_chatter(email):
    """Delete the chatter's ended chats; return (deleted, still open) counts.

    A chat still open is kept (the chatter and an agent may be in it now): end it, then run again.
    """
    with write():
        chats = list(chats_of_chatter(email))
        ended = [c.id for c in chats if c.state == "ended"]
        tokens = [t for chat_id in ended for t in delete_chat(chat_id)]
    files.delete(tokens)
    return len(ended), len(chats) - len(ended)
