"""Who is offered which chat, and every state change of a chat, as plain functions without Flask.

Each change runs in one write transaction and returns `Changes`: what the web layer must push.
Races are settled by conditional updates whose row count says who won.
"""

from collections import namedtuple
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta

from peewee import fn

from data import invitations
from data.db import db, plain_rows, prepared, within_write, write
from data.models import (
    Agent,
    Attachment,
    Chat,
    Message,
    Offer,
    Participant,
    Profile,
    ProfileQueue,
    Queue,
    now,
)


@dataclass
class Settings:
    offer_timeout: float = 30.0  # seconds an offer waits for Accept or Reject
    leave_grace: float = 10.0  # seconds a chatter may be disconnected before counting as gone


settings = Settings()


class RoutingError(Exception):
    """A request that cannot be done; its text is shown to the person who asked."""


class NoSuchChat(RoutingError):
    """A message for a chat that is not (or no longer) there."""


class SignedOut(RoutingError):
    """A message from a console whose session ended (signed out elsewhere, the account disabled)."""


@dataclass
class Changes:
    chats: set = field(default_factory=set)  # chats whose state changed
    logs: set = field(default_factory=set)  # chats with new messages
    agents: set = field(default_factory=set)  # agents whose status changed
    queues: set = field(default_factory=set)  # queues whose waiting line moved
    updated: set = field(default_factory=set)  # (chat, seq) of messages changed after posting
    # chat -> messages just posted, complete as stored: pages can show them without reading them back
    fresh: dict = field(default_factory=dict)

    def merge(self, other):
        for name in ("chats", "logs", "agents", "queues", "updated", "fresh"):
            getattr(self, name).update(getattr(other, name))
        return self

    def chat(self, chat):
        self.chats.add(chat.id)
        self.queues.add(chat.queue_id)


# --- messages -------------------------------------------------------------------------------


def post(chat, sender, text, agent=None, private=False, changes=None, files=(), key=None):
    """Store a message with the chat's next sequence number, and the files (already saved) it carries.

    `key`: the sending page's id for it; a message whose key the chat already holds is not stored
    again, and None is returned.
    """
    message = _message(chat, sender, text, agent, private, files, key)
    return _store(message, files, changes, INSERT_MESSAGE, ())


def say(chat, text, changes):
    """Post a line from the system (joins, leaves, endings) that everyone in the chat sees."""
    return post(chat, "system", text, changes=changes)


def post_by_chatter(chat, text, files=(), key=None):
    """Post the chatter's message; refused once the chat has ended."""
    changes = Changes()
    message = _message(chat, "chatter", text, None, False, files, key)
    if _store(message, files, changes, INSERT_WHILE_OPEN, (chat.id,)) is not None:
        changes.fresh[chat.id] = (message,)
    else:
        _not_stored(chat, None, key)
    return changes


def post_by_agent(chat, agent, text, private=False, files=(), key=None):
    """Post an agent's message; only an agent in the chat may, and not after it ended. `chat` may
    be its id: the insert checks the chat itself, so a socket need not load it for every message."""
    changes = Changes()
    message = _message(chat, "agent", text, agent, private, files, key)
    if _store(message, files, changes, INSERT_WHILE_IN, (message.chat_id, agent.id)) is not None:
        changes.fresh[message.chat_id] = (message,)
    else:
        _not_stored(message.chat_id, agent, key)
    return changes


def post_in_session(chat_id, session_id, text, private=False, key=None):
    """post_by_agent for a console's socket: as the agent whose session id (Agent.get_id) the socket
    opened with, and only while that session lasts. The insert checks that too and reads the
    sender's name, so a socket loads nothing for each message."""
    agent_id, version = Agent.session_parts(session_id)
    changes = Changes()
    message = _message(chat_id, "agent", text, Agent(id=agent_id), private, (), key)
    if _store(message, (), changes, INSERT_IN_SESSION, (chat_id, agent_id, agent_id, version)) is not None:
        changes.fresh[chat_id] = (message,)
    elif Agent.for_session(session_id) is None:
        raise SignedOut("You are signed out. Sign in again to send.")
    else:
        _not_stored(chat_id, message.agent, key)
    return changes


def _message(chat, sender, text, agent, private, files, key):
    fields = dict(agent=agent, private=private, file_count=len(files), client_key=key)
    # every field with a default is given: no defaults to work out (as peewee makes the rows it reads)
    return Message(
        __no_default__=True, chat=chat, created_at=now(), sender=sender, text=text, kind="text", **fields
    )


def _store(message, files, changes, insert, condition):
    """Insert `message` with `insert`, whose condition (its parameters `condition`) is checked in the
    same statement, so nothing can change in between; None if it stored nothing. The full-text index
    follows by trigger (data/db.py): only a message with files needs a transaction of its own."""
    with within_write() if files else nullcontext():
        stored = db.execute_sql(insert, (*_insert_params(message), *condition)).fetchone()
        if stored is None:
            return None
        message.id, message.seq, *sender = stored
        if sender:  # the insert read the sender's name (INSERT_IN_SESSION)
            message.agent.name = sender[0]
        for f in files:
            Attachment.create(chat=message.chat_id, message=message, private=message.private, **f)
    if changes is not None:
        changes.logs.add(message.chat_id)
    return message


def _not_stored(chat, agent, key):
    """Say why a message was not stored, unless it was already (a page sending it again)."""
    if key and Message.select().where((Message.chat == chat) & (Message.client_key == key)).exists():
        return
    stored = Chat.get_or_none(Chat.id == chat)
    if stored is None:
        raise NoSuchChat("There is no such chat.")
    if stored.state == "ended":
        raise RoutingError("This chat has ended.")
    raise RoutingError("You are not in this chat.")


def is_participant(chat, agent):
    return _participation(chat, agent).first() is not None


# the insert of every message, written once (peewee would build it anew each time, ~0.3 ms): the next
# sequence number is taken in the same statement, a key the chat already holds inserts nothing, and a
# condition (on the chat, the sender) is checked in it too
_INSERT = (
    'INSERT INTO "message" ("chat_id", "seq", "created_at", "sender", "agent_id", "text", "private",'
    ' "kind", "file_count", "client_key") SELECT ?, (SELECT COALESCE(MAX("seq"), 0) + 1 FROM "message"'
    ' WHERE "chat_id" = ?), ?, ?, ?, ?, ?, ?, ?, ? WHERE {condition}'
    ' ON CONFLICT ("chat_id", "client_key") WHERE "client_key" IS NOT NULL DO NOTHING RETURNING "id", "seq"{more}'
)
_OPEN = 'EXISTS (SELECT 1 FROM "chat" WHERE "id" = ? AND "state" != \'ended\')'
_IN = (
    'EXISTS (SELECT 1 FROM "participant" AS p JOIN "chat" AS c ON c."id" = p."chat_id" WHERE'
    ' p."chat_id" = ? AND p."agent_id" = ? AND p."left_at" IS NULL AND c."state" != \'ended\')'
)
_SESSION = 'EXISTS (SELECT 1 FROM "agent" WHERE "id" = ? AND "enabled" AND "session_version" = ?)'
INSERT_MESSAGE = _INSERT.format(condition="1", more="")
INSERT_WHILE_OPEN = _INSERT.format(condition=_OPEN, more="")  # the chatter's: not after the chat ended
INSERT_WHILE_IN = _INSERT.format(condition=_IN, more="")  # an agent's: only while in the chat, and it is open
# an agent's from a console's socket: also only while its session lasts, and returning the sender's name
INSERT_IN_SESSION = _INSERT.format(
    condition=f"{_IN} AND {_SESSION}", more=', (SELECT "name" FROM "agent" WHERE "id" = "message"."agent_id")'
)


def _insert_params(m):
    created = Message.created_at.db_value(m.created_at)
    fields = (m.sender, m.agent_id, m.text, m.private, m.kind, m.file_count, m.client_key)
    return (m.chat_id, m.chat_id, created, *fields)


@prepared
def _participation(chat, agent):
    return (
        Participant.select(Participant.id)
        .where((Participant.chat == chat) & (Participant.agent == agent) & Participant.left_at.is_null())
        .limit(1)
    )


# --- chats ----------------------------------------------------------------------------------


def start_chat(queue, name="", email="", **details):
    """Put a new chat at the end of its queue and offer it if someone can take it.

    `details`: more Chat fields (name_verified, email_verified, started_from, user_agent).
    """
    changes = Changes()
    with write():
        chat = Chat.create(queue=queue, chatter_name=name, chatter_email=email, **details)
        changes.chat(chat)
        dispatch(changes)
    return chat, changes


def end_chat(chat, agent=None, supervising=False):
    """End the chat, by `agent` or (None) by the chatter; ending twice changes nothing.

    `supervising`: `agent` is a supervisor ending a chat they need not be in (from the live view).
    """
    changes = Changes()
    at = now()
    with write():
        chat = Chat.get_by_id(chat.id)
        if chat.state == "ended":
            return changes
        if supervising and not agent.supervisor:
            raise RoutingError("Only supervisors may end other agents' chats.")
        if agent is not None and not supervising and not is_participant(chat, agent):
            raise RoutingError("You are not in this chat.")
        _end(chat, at, changes)
        if agent is None:
            Chat.update(chatter_left_at=at).where(Chat.id == chat.id).execute()
            say(chat, f"{chat.display_name} ended the chat.", changes)
        else:
            say(chat, f"{agent.name} ended the chat.", changes)
        dispatch(changes)
    return changes


def _end(chat, at, changes):
    Chat.update(state="ended", ended_at=at).where(Chat.id == chat.id).execute()
    invitations.cancel(chat, at, changes)
    _withdraw_offers(Offer.chat == chat, at, changes)
    changes.chat(chat)


def _withdraw_offers(condition, at, changes):
    """Withdraw pending offers matching `condition`; their chats go back to the queue unless ended."""
    for offer in Offer.select().where(condition & (Offer.state == "pending")):
        Offer.update(state="withdrawn", answered_at=at).where(Offer.id == offer.id).execute()
        _unanswered(offer, at, changes, "could not take")
        changes.agents.add(offer.agent_id)


def _unanswered(offer, at, changes, why):
    """An offer came to nothing: its chat goes back to the queue, or its invitation moves on."""
    if offer.invitation_id:
        invitations.declined(offer, at, changes, why)
    else:
        Chat.update(state="waiting").where((Chat.id == offer.chat_id) & (Chat.state == "offered")).execute()
    changes.chat(offer.chat)


def chatter_away(chat):
    """Note that the chatter's last page closed; they count as gone after the grace period, and
    the agents read "Reconnecting…" meanwhile."""
    changes = Changes()
    still_here = (Chat.id == chat.id) & Chat.chatter_away_since.is_null() & (Chat.state != "ended")
    if Chat.update(chatter_away_since=now()).where(still_here).execute():
        changes.chats.add(chat.id)
    return changes


def chatter_back(chat):
    """The chatter has a page open again; if they had been taken for gone, say they are back."""
    changes = Changes()
    now_read = Chat.get_by_id(chat.id)
    if now_read.chatter_away_since is None and now_read.chatter_left_at is None:
        return changes  # nothing to undo, as for every page that opens a chat: no write
    with write():
        chat = Chat.get_by_id(chat.id)
        Chat.update(chatter_away_since=None).where(Chat.id == chat.id).execute()
        changes.chats.add(chat.id)  # no longer "Reconnecting…"
        if chat.chatter_left_at is not None and chat.state != "ended":
            Chat.update(chatter_left_at=None).where(Chat.id == chat.id).execute()
            say(chat, f"{chat.display_name} is back.", changes)
            changes.chat(chat)
    return changes


def chatter_left(chat, at=None):
    """The chatter closed the page: a chat nobody answered yet ends, an answered one shows them gone."""
    changes = Changes()
    at = at or now()
    with write():
        chat = Chat.get_by_id(chat.id)
        if chat.state == "ended" or chat.chatter_left_at is not None:
            return changes
        Chat.update(chatter_left_at=at).where(Chat.id == chat.id).execute()
        if chat.state in ("waiting", "offered"):
            _end(chat, at, changes)
            say(chat, f"{chat.display_name} left before an agent answered.", changes)
            dispatch(changes)
        else:
            say(chat, f"{chat.display_name} left the chat.", changes)
            changes.chat(chat)
    return changes


def close_tab(chat, agent):
    """The agent is done with an ended chat (or one they left): its tab goes away."""
    Participant.update(closed_at=now()).where(
        (Participant.chat == chat) & (Participant.agent == agent)
    ).execute()
    changes = Changes()
    changes.chats.add(chat.id)
    return changes


# --- agents ---------------------------------------------------------------------------------


def log_on(agent, profile):
    """Start taking chats from the queues of one of the agent's profiles."""
    if not agent.allowed_profiles().where(Profile.id == profile.id).exists():
        raise RoutingError("You may not log on with that profile.")
    changes = Changes()
    with write():
        Agent.update(status="available", profile=profile, paused_reason="", idle_since=now()).where(
            Agent.id == agent.id
        ).execute()
        changes.agents.add(agent.id)
        # logging on again with another profile: offers from queues outside it go to someone else
        served = ProfileQueue.select(ProfileQueue.queue).where(ProfileQueue.profile == profile)
        outside = Chat.select(Chat.id).where(Chat.queue.not_in(served))
        _withdraw_offers((Offer.agent == agent) & Offer.chat.in_(outside), now(), changes)
        dispatch(changes)
    return changes


def pause(agent, reason=""):
    """Take no new offers; chats and pending offers stay."""
    changes = Changes()
    n = (
        Agent.update(status="paused", paused_reason=reason)
        .where((Agent.id == agent.id) & (Agent.status != "off"))
        .execute()
    )
    if n:
        changes.agents.add(agent.id)
    return changes


def resume(agent):
    """Take offers again."""
    changes = Changes()
    with write():
        n = (
            Agent.update(status="available", paused_reason="")
            .where((Agent.id == agent.id) & (Agent.status == "paused"))
            .execute()
        )
        if n:
            changes.agents.add(agent.id)
            dispatch(changes)
    return changes


def log_off(agent):
    """Leave the queues: pending offers go to someone else; accepted chats stay with the agent."""
    changes = Changes()
    at = now()
    with write():
        Agent.update(status="off", profile=None, paused_reason="").where(Agent.id == agent.id).execute()
        changes.agents.add(agent.id)
        _withdraw_offers(Offer.agent == agent, at, changes)
        dispatch(changes)
    return changes


def sign_out(agent):
    """Log off and leave every open chat; a chat left without an agent goes back to its queue."""
    changes = log_off(agent)
    at = now()
    with write():
        for part in Participant.select().where((Participant.agent == agent) & Participant.left_at.is_null()):
            Participant.update(left_at=at, closed_at=at).where(Participant.id == part.id).execute()
            chat = part.chat
            if chat.state != "active":
                continue
            say(chat, f"{agent.name} left the chat.", changes)
            if not chat.agents().exists():
                if chat.chatter_left_at is not None:
                    _end(chat, at, changes)  # nobody on either side: requeueing would offer an empty chat
                else:
                    # its pending invitation goes too: the chat is routed afresh, like a new one
                    invitations.cancel(chat, at, changes)
                    _withdraw_offers((Offer.chat == chat) & Offer.invitation.is_null(False), at, changes)
                    Chat.update(state="waiting").where(Chat.id == chat.id).execute()
            changes.chat(chat)
        dispatch(changes)
    return changes


# --- offers ---------------------------------------------------------------------------------


def accept(offer_id, agent):
    """Take the offered chat; exactly one accept of an offer can win, and only before it expires."""
    changes = Changes()
    at = now()
    with write():
        won = (
            Offer.update(state="accepted", answered_at=at)
            .where(
                (Offer.id == offer_id)
                & (Offer.agent == agent)
                & (Offer.state == "pending")
                & (Offer.expires_at > at)
            )
            .execute()
        )
        if not won:
            raise RoutingError(_why_not(offer_id, agent))
        offer = Offer.get_by_id(offer_id)
        chat = offer.chat
        if offer.invitation_id:
            invitations.joined(offer, agent, at, changes)
            return chat, changes
        Chat.update(state="active", accepted_at=at).where(Chat.id == chat.id).execute()
        join(chat, agent, at)
        say(chat, f"{agent.name} joined the chat.", changes)
        changes.chat(chat)
        changes.agents.add(agent.id)
    return chat, changes


def reject(offer_id, agent):
    """Give the chat back to its queue; it goes to another agent if one can take it."""
    changes = Changes()
    at = now()
    with write():
        won = (
            Offer.update(state="rejected", answered_at=at)
            .where((Offer.id == offer_id) & (Offer.agent == agent) & (Offer.state == "pending"))
            .execute()
        )
        if not won:
            raise RoutingError(_why_not(offer_id, agent))
        _unanswered(Offer.get_by_id(offer_id), at, changes, "declined")
        dispatch(changes)
    return changes


def assign(chat, agent, at=None):
    """Offer a waiting chat to the agent a supervisor chose; an offer of it to someone else is withdrawn.

    The chat arrives as an ordinary offer (Accept/Reject, the offer timeout), whatever the
    agent's profile; the agent must be available and below their maximum of chats.
    """
    changes = Changes()
    at = at or now()
    with write():
        chat = Chat.get_by_id(chat.id)
        agent = Agent.get_by_id(agent.id)
        if chat.state not in ("waiting", "offered"):
            raise RoutingError("This chat is no longer waiting.")
        if not agent.enabled or agent.status != "available":
            raise RoutingError(f"{agent.name} is not available.")
        mine = (Offer.chat == chat) & (Offer.agent == agent) & (Offer.state == "pending")
        if Offer.select().where(mine).exists():
            raise RoutingError(f"This chat is already offered to {agent.name}.")
        if agent_load(agent) >= agent.max_chats:
            raise RoutingError(f"{agent.name} already has {agent.max_chats} chats, their maximum.")
        _withdraw_offers((Offer.chat == chat) & Offer.invitation.is_null(), at, changes)
        won = Chat.update(state="offered").where((Chat.id == chat.id) & (Chat.state == "waiting")).execute()
        if not won:
            raise RoutingError("This chat is no longer waiting.")
        Offer.create(
            chat=chat,
            agent=agent,
            created_at=at,
            expires_at=at + timedelta(seconds=settings.offer_timeout),
        )
        Agent.update(idle_since=at).where(Agent.id == agent.id).execute()
        changes.chat(chat)
        changes.agents.add(agent.id)
        dispatch(changes, at)  # an agent whose offer was withdrawn may take another waiting chat
    return changes


def join(chat, agent, at):
    """Put the agent in the chat; one who was in it before (a hand-over, a sign-out) rejoins on their row."""
    rejoined = (
        Participant.update(joined_at=at, left_at=None, closed_at=None)
        .where((Participant.chat == chat) & (Participant.agent == agent))
        .execute()
    )
    if not rejoined:
        Participant.create(chat=chat, agent=agent, joined_at=at)


def _why_not(offer_id, agent):
    offer = Offer.get_or_none(Offer.id == offer_id)
    if offer is None or offer.agent_id != agent.id:
        return "There is no such offer for you."
    reasons = {
        "accepted": "You have already accepted this chat.",
        "rejected": "You have already rejected this chat.",
        "expired": "This offer expired and went to someone else.",
        "withdrawn": "This offer was withdrawn: the chatter left or the chat ended.",
    }
    return reasons.get(offer.state, "This offer expired and went to someone else.")


def expire_offers(at=None):
    """Treat every offer past its deadline as rejected and pause its agent."""
    changes = Changes()
    at = at or now()
    with write():
        for offer in Offer.select().where((Offer.state == "pending") & (Offer.expires_at <= at)):
            Offer.update(state="expired", answered_at=at).where(Offer.id == offer.id).execute()
            pause(offer.agent, reason="You missed an offer, so you were paused.")
            _unanswered(offer, at, changes, "did not answer")
            changes.agents.add(offer.agent_id)
        dispatch(changes, at)
    return changes


def check_away(at=None):
    """Chatters disconnected for longer than the grace period have left."""
    changes = Changes()
    at = at or now()
    cutoff = at - timedelta(seconds=settings.leave_grace)
    for chat in Chat.select().where(
        (Chat.chatter_away_since <= cutoff) & Chat.chatter_left_at.is_null() & (Chat.state != "ended")
    ):
        changes.merge(chatter_left(chat, at))
    return changes


def tick(at=None):
    """The periodic work: expire offers, notice departed chatters, offer what is waiting."""
    at = at or now()
    changes = expire_offers(at).merge(check_away(at))
    with write():
        dispatch(changes, at)
    return changes


# --- the dispatcher -------------------------------------------------------------------------


def dispatch(changes, at=None):
    """Offer waiting chats, oldest first, each to the longest-idle agent who can take it.

    Call inside a write transaction. An agent who declined a chat (rejected or let it expire) is
    offered it again only when no one else can take it and the decline is older than the offer
    timeout, so a lone agent is not nagged at once.
    """
    at = at or now()
    # agents with room first: with nobody free, a long line is not read on every start and every tick
    agents = [a for a in map(Free._make, plain_rows(_available_agents())) if a.held + a.offered < a.max_chats]
    if not agents:
        return
    load = {a.id: a.held + a.offered for a in agents}
    queues = _profile_queues()
    waiting = list(_waiting(tuple(sorted(set().union(*(queues.get(a.profile, ()) for a in agents))))))
    for chat_id, queue_id in waiting:
        agent = _choose(chat_id, [a for a in agents if queue_id in queues.get(a.profile, ())], at)
        if agent is None:
            continue
        Offer.create(
            chat=chat_id,
            agent=agent.id,
            created_at=at,
            expires_at=at + timedelta(seconds=settings.offer_timeout),
        )
        Chat.update(state="offered").where(Chat.id == chat_id).execute()
        Agent.update(idle_since=at).where(Agent.id == agent.id).execute()
        changes.chats.add(chat_id)
        changes.queues.add(queue_id)
        load[agent.id] += 1
        agents.remove(agent)  # now the most recently busy: last in line, if still free at all
        if load[agent.id] < agent.max_chats:
            agents.append(agent)
        elif not agents:
            return


# The dispatcher's queries run on every chat start, end and tick: compiled once, and read as plain
# rows (making a model of each of 100 agents cost more than the query).


def _held_and_offered():
    """An agent's load, as columns of a select of agents: chats held now and offers pending."""
    held = (
        Participant.select(fn.COUNT(Participant.id))
        .join(Chat)
        .where((Participant.agent == Agent.id) & Participant.left_at.is_null() & (Chat.state != "ended"))
    )
    offered = Offer.select(fn.COUNT(Offer.id)).where((Offer.agent == Agent.id) & (Offer.state == "pending"))
    return held.alias("held"), offered.alias("offered")


Free = namedtuple("Free", "id max_chats profile held offered")  # a row of _available_agents


@prepared
def _available_agents():
    """Available agents of enabled profiles, longest idle first, with their load."""
    return (
        Agent.select(Agent.id, Agent.max_chats, Agent.profile)
        .select_extend(*_held_and_offered())
        .join(Profile, on=(Agent.profile == Profile.id))
        .where((Agent.status == "available") & Agent.enabled & Profile.enabled)
        .order_by(Agent.idle_since.is_null(), Agent.idle_since, Agent.id)
    )


@prepared  # one shape per set of queues: a team has few
def _waiting(queue_ids):
    """(chat id, queue id) of the chats waiting in these queues (if enabled), oldest first."""
    return (
        Chat.select(Chat.id, Chat.queue)
        .join(Queue)
        .where((Chat.state == "waiting") & Queue.enabled & Chat.queue.in_(queue_ids))
        .order_by(Chat.created_at, Chat.id)
        .tuples()
    )


@prepared
def _declined(chat_id):
    """(agent id, when) of each agent who rejected the chat or let its offer expire, the last time."""
    return (
        Offer.select(Offer.agent, fn.MAX(Offer.answered_at))
        .where((Offer.chat == chat_id) & Offer.state.in_(("rejected", "expired")))
        .group_by(Offer.agent)
        .tuples()
    )


def _choose(chat_id, free, at):
    """Of the agents `free` for the chat (longest idle first), the one to offer it to."""
    if not free:
        return None
    declined = dict(_declined(chat_id))
    fresh = [a for a in free if a.id not in declined]
    if fresh:
        return fresh[0]
    cutoff = at - timedelta(seconds=settings.offer_timeout)
    again = [a for a in free if declined[a.id] <= cutoff]
    return min(again, key=lambda a: (declined[a.id], a.id), default=None)


def _load(agent_ids):
    """Chats each agent holds now, pending offers included."""
    rows = Agent.select(Agent.id).select_extend(*_held_and_offered()).where(Agent.id.in_(agent_ids)).tuples()
    return {agent_id: held + offered for agent_id, held, offered in rows}


def _profile_queues():
    """{profile id: {queue id, ...}} of every profile."""
    queues = {}
    for profile_id, queue_id in _profile_queue_pairs():
        queues.setdefault(profile_id, set()).add(queue_id)
    return queues


@prepared
def _profile_queue_pairs():
    return ProfileQueue.select(ProfileQueue.profile, ProfileQueue.queue).tuples()


def related_agents(chat_id):
    """Agents whose console shows, or showed, the chat: they hear of every change to the chat itself
    (its messages go to the consoles that show it, views.live)."""
    return {agent_id for (agent_id,) in db.execute_sql(RELATED_AGENTS, (chat_id, chat_id))}


# asked on every message: one statement, written once
RELATED_AGENTS = (
    'SELECT "agent_id" FROM "participant" WHERE "chat_id" = ?'
    ' UNION SELECT "agent_id" FROM "offer" WHERE "chat_id" = ?'
)


def agent_load(agent):
    return _load([agent.id])[agent.id]
