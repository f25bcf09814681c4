"""Every state change of a chat, its offers and its agents, as plain functions without Flask: a chat
starts, is offered (data/dispatch.py), accepted or rejected, and ends; a chatter goes away, comes back
or leaves; an agent logs on, pauses, logs off or signs out.

Each change runs in one write transaction and returns `Changes`: what the web layer must push.
Races are settled by conditional updates whose row count says who won.
"""

from datetime import timedelta

from data import invitations, timing
from data.changes import Changes, RoutingError
from data.db import write
from data.dispatch import agent_load, anything_waiting, dispatch, make_offer
from data.models import Agent, Chat, Offer, Participant, Profile, ProfileQueue, now
from data.participants import is_participant, join
from data.posting import say

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
    invitations.cancel(chat, at)
    _withdraw_offers(Offer.chat == chat, at, changes)
    changes.chat(chat)


def _withdraw_offers(condition, at, changes):
    """Withdraw pending offers matching `condition`; their chats go back to the queue unless ended."""
    for offer in Offer.select().where(condition & (Offer.state == "pending")):
        Offer.update(state="withdrawn", answered_at=at).where(Offer.id == offer.id).execute()
        _unanswered(offer, at, changes, "could not take")
        changes.agents.add(offer.agent_id)


def withdraw_offers_of(agent_id, at, changes):
    """The agent's pending offers move on to someone else (its console is gone)."""
    _withdraw_offers(Offer.agent == agent_id, at, changes)


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


def chats_with_chatter_here():
    """Ids of the chats going on whose chatter has a page open, as far as the database knows."""
    here = Chat.chatter_away_since.is_null() & Chat.chatter_left_at.is_null() & (Chat.state != "ended")
    return [chat_id for (chat_id,) in Chat.select(Chat.id).where(here).tuples()]


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
            # no longer counts against the agents' maximum of chats (data/dispatch.py): they may get more
            wait = timing.span(timing.settings.left_chat_end)
            say(chat, f"{chat.display_name} left the chat.", changes)
            say(chat, f"This chat ends by itself in {wait} unless {chat.display_name} comes back.", changes)
            changes.chat(chat)
            changes.agents.update(a.id for a in chat.agents())
            dispatch(changes, at)
    return changes


def end_by_itself(chat, at, text, still):
    """End an answered chat on a timer, saying why (`text`), if the condition `still` (on Chat) holds:
    the conditional update decides, so of several processes' timers exactly one ends it."""
    changes = Changes()
    with write():
        won = (
            Chat.update(state="ended", ended_at=at)
            .where((Chat.id == chat.id) & (Chat.state == "active") & still)
            .execute()
        )
        if won:
            _end(chat, at, changes)
            say(chat, text, changes)
            dispatch(changes, at)
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
        at = now()  # logging on is the console's own click: it is there
        fields = dict(status="available", profile=profile, paused_reason="", idle_since=at)
        Agent.update(console_seen_at=at, away_since=None, **fields).where(Agent.id == agent.id).execute()
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
                    invitations.cancel(chat, at)
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
        if not agent.enabled or agent.status != "available" or agent.away_since is not None:
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
        make_offer(chat.id, agent.id, at, changes)
        changes.chat(chat)
        changes.agents.add(agent.id)
        dispatch(changes, at)  # an agent whose offer was withdrawn may take another waiting chat
    return changes


def _why_not(offer_id, agent):
    offer = Offer.get_or_none(Offer.id == offer_id)
    if offer is None or offer.agent_id != agent.id:
        return "There is no such offer for you."
    if offer.state == "withdrawn" and offer.invitation_id and offer.chat.state == "active":
        return "This invitation was cancelled."  # by an agent in the chat, which goes on
    reasons = {
        "accepted": "You have already accepted this chat.",
        "rejected": "You have already rejected this chat.",
        "expired": "This offer expired and went to someone else.",
        "withdrawn": "This offer was withdrawn: the chatter left or the chat ended.",
    }
    return reasons.get(offer.state, "This offer expired and went to someone else.")


def expire_offers(at=None):
    """Treat every offer past its deadline as rejected and pause its agent, unless the chatter's page
    was gone (or never connected) for the whole offer: nobody was there to answer, so no one missed it."""
    changes = Changes()
    at = at or now()
    if not _past_deadline(at).exists():  # the usual tick: no write lock taken, nobody's load read
        return changes
    with write():
        for offer in _past_deadline(at):
            Offer.update(state="expired", answered_at=at).where(Offer.id == offer.id).execute()
            if not _nobody_to_answer(offer):
                pause(offer.agent, reason="You missed an offer, so you were paused.")
            _unanswered(offer, at, changes, "did not answer")
            changes.agents.add(offer.agent_id)
        dispatch(changes, at)
    return changes


def _past_deadline(at):
    return Offer.select().where((Offer.state == "pending") & (Offer.expires_at <= at))


def _nobody_to_answer(offer):
    chat = Chat.get_by_id(offer.chat_id)
    away = chat.chatter_away_since
    return chat.chatter_left_at is not None or (away is not None and away <= offer.created_at)


def check_away(at=None):
    """Chatters disconnected for longer than the grace period have left."""
    changes = Changes()
    at = at or now()
    cutoff = at - timedelta(seconds=timing.settings.leave_grace)
    for chat in Chat.select().where(
        (Chat.chatter_away_since <= cutoff) & Chat.chatter_left_at.is_null() & (Chat.state != "ended")
    ):
        changes.merge(chatter_left(chat, at))
    return changes


def tick(at=None):
    """The periodic work: expire offers, notice departed chatters, offer what is waiting."""
    at = at or now()
    changes = expire_offers(at).merge(check_away(at))
    if anything_waiting():  # the usual tick: all taken; a chat starting meanwhile is offered as it starts
        with write():
            dispatch(changes, at)
    return changes
