"""Chats that end by themselves: an answered chat whose chatter sends nothing for the queue's
`idle_after` seconds is warned, then ends `timing.settings.idle_warning` seconds later unless they
reply; a chat whose chatter left ends `timing.settings.left_chat_end` seconds after they did, unless
they come back. The routing ticker calls `tick`; every step is a conditional update, so of several
processes' tickers exactly one warns or ends a chat.
"""

from datetime import timedelta

from peewee import fn

from data import routing, timing
from data.changes import Changes
from data.db import write
from data.models import Chat, Message, Queue, now
from data.posting import say


def tick(at=None):
    """Warn and end the idle chats, and end the chats whose chatter left long enough ago."""
    at = at or now()
    changes = Changes()
    for chat, idle_after, last in _idle_candidates():
        quiet_since = max(filter(None, (chat.accepted_at, last)))
        if chat.idle_warned_at is None or chat.idle_warned_at < quiet_since:
            if at - quiet_since >= timedelta(seconds=idle_after):
                changes.merge(_warn(chat, quiet_since, at))
        elif at - chat.idle_warned_at >= timedelta(seconds=timing.settings.idle_warning):
            text = f"This chat was closed: {chat.display_name} did not reply."
            changes.merge(
                routing.end_by_itself(chat, at, text, ~fn.EXISTS(_chatter_said(chat.idle_warned_at)))
            )
    cutoff = at - timedelta(seconds=timing.settings.left_chat_end)
    for chat in Chat.select().where((Chat.state == "active") & (Chat.chatter_left_at <= cutoff)):
        text = f"This chat was closed: {chat.display_name} left and did not come back."
        changes.merge(routing.end_by_itself(chat, at, text, Chat.chatter_left_at <= cutoff))
    return changes


def _idle_candidates():
    """(chat, its queue's idle_after, when its chatter last wrote or None) of the answered chats,
    chatter still there, in queues that close idle chats."""
    chats = list(
        Chat.select(Chat, Queue.idle_after)
        .join(Queue)
        .where((Chat.state == "active") & Chat.chatter_left_at.is_null() & Queue.idle_after.is_null(False))
        .objects()
    )
    if not chats:
        return []
    last = dict(
        Message.select(Message.chat, fn.MAX(Message.created_at))
        .where(Message.chat.in_([c.id for c in chats]) & (Message.sender == "chatter"))
        .group_by(Message.chat)
        .tuples()
    )
    return [(chat, chat.idle_after, last.get(chat.id)) for chat in chats]


def _chatter_said(since):
    return Message.select(Message.id).where(
        (Message.chat == Chat.id) & (Message.sender == "chatter") & (Message.created_at > since)
    )


def _warn(chat, quiet_since, at):
    """Tell the chatter (and the agents) that the chat will close unless they reply; once per silence."""
    changes = Changes()
    not_yet = Chat.idle_warned_at.is_null() | (Chat.idle_warned_at < quiet_since)
    with write():
        won = (
            Chat.update(idle_warned_at=at)
            .where((Chat.id == chat.id) & (Chat.state == "active") & not_yet)
            .execute()
        )
        if won:
            wait = timing.span(timing.settings.idle_warning)
            say(chat, f"This chat will close in {wait} unless you reply.", changes)
    return changes
