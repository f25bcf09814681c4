"""Whether a queue can take chats now, and what a waiting chatter may honestly be told.

A queue takes chats when it is open (data/hours.py) and staffed: some agent is logged on, not
paused, with an enabled profile that holds it. Otherwise its chat page offers to leave a message.
"""

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from data import hours as opening_hours
from data import queue_settings
from data.db import plain_rows, prepared
from data.left_models import LeftMessage
from data.models import Agent, Chat, Profile, ProfileQueue, Queue, now

WAIT_WINDOW = timedelta(hours=1)  # the waits an estimate is made from: chats answered in the last hour
MIN_WAITS = 3  # fewer than this, and no estimate is shown


@dataclass(frozen=True)
class Availability:
    open: bool  # within the opening hours
    staffed: bool  # someone can take a chat
    opens_at: datetime | None = None  # when closed: the next opening (UTC), None if never
    zone: str = ""  # the queue's time zone

    @property
    def takes_chats(self):
        return self.open and self.staffed


def of(queue, at=None):
    """Whether the queue is open and staffed at `at` (now)."""
    at = at or now()
    hours = queue_settings.of(queue).hours
    is_open = opening_hours.is_open(hours, at)
    opens_at = None if is_open else opening_hours.next_opening(hours, at)
    return Availability(is_open, is_staffed(queue.id), opens_at, hours.zone)


def is_open(queue, at=None):
    """Whether the queue is within its opening hours at `at` (now)."""
    return opening_hours.is_open(queue_settings.of(queue).hours, at or now())


def staffed_queue_ids():
    """Ids of the queues some agent is available for now (logged on, not paused, on an enabled profile)."""
    return {queue_id for (queue_id,) in plain_rows(_staffed_queues())}


# asked for every waiting chat's page and every change of an agent: compiled once (data.db.prepared)
@prepared
def _staffed_queues():
    return (
        ProfileQueue.select(ProfileQueue.queue)
        .join(Profile)
        .join(Agent, on=(Agent.profile == Profile.id))
        .where((Agent.status == "available") & Agent.enabled & Profile.enabled)
        .distinct()
    )


def is_staffed(queue_id):
    return queue_id in staffed_queue_ids()


_staffed_before = None  # the staffed queues when staffing_changed last looked (this process)


def staffing_changed():
    """Queues that became staffed or unstaffed since the last call (every queue on the first).

    In a queue someone can take chats from again, a chatter who chose to wait is offered to leave a
    message once more should they all go again.
    """
    global _staffed_before
    staffed = staffed_queue_ids()
    if _staffed_before is None:
        changed = {queue_id for (queue_id,) in Queue.select(Queue.id).tuples()}
    else:
        changed = staffed ^ _staffed_before
    _staffed_before = staffed
    if changed & staffed:
        Chat.update(chose_to_wait=False).where(
            Chat.queue.in_(list(changed & staffed))
            & Chat.chose_to_wait
            & Chat.state.in_(("waiting", "offered"))
        ).execute()
    return changed


def waiting_in(queue_ids):
    """Ids of the chats waiting in these queues."""
    if not queue_ids:
        return []
    return [
        chat_id
        for (chat_id,) in Chat.select(Chat.id)
        .where(Chat.queue.in_(list(queue_ids)) & Chat.state.in_(("waiting", "offered")))
        .tuples()
    ]


# --- what a waiting chatter is told ---------------------------------------------------------------


def estimated_wait(queue_id, at=None):
    """The median of the waits (start to an agent's accept) of the queue's chats answered in the last
    hour; None with fewer than MIN_WAITS of them: no figure is better than a made-up one."""
    since = str((at or now()) - WAIT_WINDOW)  # as SQLite holds times: ISO text, compared as text
    rows = plain_rows(_answered_since(queue_id, since))
    waits = [_time(accepted) - _time(created) for created, accepted in rows]
    if len(waits) < MIN_WAITS:
        return None
    return statistics.median(waits)


def _time(value):
    """A time of a plain row: ISO text from SQLite, already a datetime from PostgreSQL."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@prepared  # on every render of a waiting chatter's status
def _answered_since(queue_id, since):
    return Chat.select(Chat.created_at, Chat.accepted_at).where(
        (Chat.queue == queue_id) & (Chat.accepted_at > since)
    )


def say_wait(wait):
    """A wait as a chatter reads it: "less than a minute", "about 3 minutes", "about 2 hours"."""
    minutes = round(wait.total_seconds() / 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 90:
        return f"about {minutes} minute{'s' * (minutes != 1)}"
    return f"about {round(minutes / 60)} hours"


def offer_mode(chat, at=None):
    """Why a waiting chatter is offered to leave a message instead: "nobody" (no agent can take
    chats in the queue now) or "late" (waiting past the queue's longest wait); "sent" once they
    did; "" for no offer."""
    if chat.state == "ended":  # "sent": they left a message instead of waiting on
        return "sent" if LeftMessage.select().where(LeftMessage.chat == chat.id).exists() else ""
    if chat.state not in ("waiting", "offered") or chat.chose_to_wait:
        return ""
    if not is_staffed(chat.queue_id):
        return "nobody"
    longest = chat.queue.longest_wait
    if longest and (at or now()) - chat.created_at >= timedelta(seconds=longest):
        return "late"
    return ""


def keep_waiting(chat):
    """The chatter would rather wait on than leave a message (offer_mode offers it no more)."""
    Chat.update(chose_to_wait=True).where(Chat.id == chat.id).execute()


def past_longest_wait(since, until):
    """Ids of the waiting chats whose queue's longest wait ran out in (since, until]."""
    rows = (
        Chat.select(Chat.id, Chat.created_at, Queue.longest_wait)
        .join(Queue)
        .where(Chat.state.in_(("waiting", "offered")) & Queue.longest_wait.is_null(False))
        .tuples()
    )
    return [
        chat_id for chat_id, created, longest in rows if since < created + timedelta(seconds=longest) <= until
    ]
