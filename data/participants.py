"""Who is in which chat: joining one, the one check of being in it, and who hears of its changes."""

from data.db import db, prepared, sql
from data.models import Participant


def join(chat, agent, at):
    """Put the agent in the chat; one who was in it before (a hand-over, a sign-out) rejoins on their row."""
    rejoined = (
        Participant.update(joined_at=at, left_at=None, closed_at=None)
        .where((Participant.chat == chat) & (Participant.agent == agent))
        .execute()
    )
    if not rejoined:
        Participant.create(chat=chat, agent=agent, joined_at=at)


def leave(chat, agent_id, at):
    """Take the agent out of the chat, tab and all: whoever left sees nothing of it after (a hand-over,
    Leave chat). False if they were not in it."""
    return bool(
        Participant.update(left_at=at, closed_at=at)
        .where((Participant.chat == chat) & (Participant.agent == agent_id) & Participant.left_at.is_null())
        .execute()
    )


def saw(chat_id, agent_id, at):
    """The agent is in the chat, or was still in it at `at` (a file posted then is theirs to open)."""
    where = (Participant.chat == chat_id) & (Participant.agent == agent_id)
    return (
        Participant.select()
        .where(where & (Participant.left_at.is_null() | (Participant.left_at > at)))
        .exists()
    )


def is_participant(chat, agent, ever=False):
    """The agent is in the chat now (`ever`: or was in it before)."""
    return _participation(chat, agent, ever).first() is not None


@prepared  # asked for every message an agent posts from a page: compiled once (data.db.prepared)
def _participation(chat, agent, ever):
    where = (Participant.chat == chat) & (Participant.agent == agent)
    if not ever:
        where &= Participant.left_at.is_null()
    return Participant.select(Participant.id).where(where).limit(1)


def related_agents(chat_id):
    """Agents whose console shows, or showed, the chat: they hear of every change to the chat itself
    (its messages go to the consoles that show it, views.live)."""
    return {agent_id for (agent_id,) in db.execute_sql(sql(RELATED_AGENTS), (chat_id, chat_id))}


# asked on every message: one statement, written once
RELATED_AGENTS = (
    'SELECT "agent_id" FROM "participant" WHERE "chat_id" = ?'
    ' UNION SELECT "agent_id" FROM "offer" WHERE "chat_id" = ?'
)
