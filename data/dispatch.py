"""Offering chats to agents: the making of one offer, the dispatcher that offers each waiting chat to
the longest-idle agent who can take it, and the load (chats held and offered) of each agent.
"""

from collections import namedtuple
from datetime import timedelta

from peewee import fn

from data import timing
from data.db import plain_rows, prepared
from data.models import Agent, Chat, Offer, Participant, Profile, ProfileQueue, Queue, now


def make_offer(chat_id, agent_id, at, changes, invitation=None):
    """Offer the chat (or, with `invitation`, a place in it) to the agent until the offer timeout;
    the agent is now the most recently busy."""
    Offer.create(
        chat=chat_id,
        agent=agent_id,
        invitation=invitation,
        created_at=at,
        expires_at=at + timedelta(seconds=timing.settings.offer_timeout),
    )
    Agent.update(idle_since=at).where(Agent.id == agent_id).execute()
    changes.chats.add(chat_id)


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
        make_offer(chat_id, agent.id, at, changes)
        Chat.update(state="offered").where(Chat.id == chat_id).execute()
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
        # a chat whose chatter left (gone past the grace) does not count: it ends by itself (data/idle.py)
        .where(
            (Participant.agent == Agent.id)
            & Participant.left_at.is_null()
            & (Chat.state != "ended")
            & Chat.chatter_left_at.is_null()
        )
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
        .where((Agent.status == "available") & Agent.enabled & Profile.enabled & Agent.away_since.is_null())
        .order_by(Agent.idle_since.is_null(), Agent.idle_since, Agent.id)
    )


def anything_waiting():
    """Whether some chat waits for an offer: else a tick need not read every agent's load."""
    return Chat.select(Chat.id).where(Chat.state == "waiting").exists()


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
    cutoff = at - timedelta(seconds=timing.settings.offer_timeout)
    again = [a for a in free if declined[a.id] <= cutoff]
    return min(again, key=lambda a: (declined[a.id], a.id), default=None)


def load_of(agent_ids):
    """Chats each agent holds now, pending offers included."""
    rows = Agent.select(Agent.id).select_extend(*_held_and_offered()).where(Agent.id.in_(agent_ids)).tuples()
    return {agent_id: held + offered for agent_id, held, offered in rows}


def agent_load(agent):
    return load_of([agent.id])[agent.id]


def _profile_queues():
    """{profile id: {queue id, ...}} of every profile."""
    queues = {}
    for profile_id, queue_id in _profile_queue_pairs():
        queues.setdefault(profile_id, set()).add(queue_id)
    return queues


@prepared
def _profile_queue_pairs():
    return ProfileQueue.select(ProfileQueue.profile, ProfileQueue.queue).tuples()
