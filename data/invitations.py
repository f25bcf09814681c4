"""Inviting a colleague, or anyone in a queue, into a chat: one pending invitation per chat at a time,
which its chat's agents may cancel; and an agent leaving a chat that others go on with.

An invitation travels as an Offer (with `invitation` set), so accepting, rejecting, expiry and the
console's offer tab work as for new chats; data/routing.py calls `joined`, `declined` and `cancel`.
"""

from data.changes import Changes, RoutingError
from data.db import prepared, write
from data.dispatch import agent_load, dispatch, load_of, make_offer
from data.models import Agent, Chat, Invitation, Offer, Participant, ProfileQueue, Queue, now
from data.participants import is_participant, join, leave
from data.posting import post, say

NOTE_MAX = 200  # characters: a line for the invitee to read at a glance, not a briefing


class BadNote(RoutingError):
    """An invitation's note past NOTE_MAX."""


def invite(chat, inviter, invitee=None, queue=None, stay=True, note=""):
    """Invite `invitee` (an Agent) or anyone in `queue` into the chat, with an optional one-line `note`
    for whoever is asked; return Changes."""
    changes = Changes()
    at = now()
    note = one_line(note)
    if len(note) > NOTE_MAX:
        raise BadNote(f"The note is too long: at most {NOTE_MAX} characters, this one has {len(note)}.")
    with write():
        chat = Chat.get_by_id(chat.id)
        if chat.state != "active" or not is_participant(chat, inviter):
            raise RoutingError("You can invite colleagues only into a chat you are in.")
        if pending(chat) is not None:
            raise RoutingError("An invitation is already pending in this chat; wait for its answer.")
        if invitee is not None:
            _check_invitee(chat, inviter, invitee)
        invitation = Invitation.create(
            chat=chat, inviter=inviter, invitee=invitee, queue=queue, stay=stay, note=note
        )
        if not _offer(invitation, at, changes):
            invitation.delete_instance()
            raise RoutingError(f"Nobody in {queue.name} can take an invitation now.")
        line = f"{inviter.name} invited {invitation.target_name}." + (f" Note: {note}" if note else "")
        post(chat, "system", line, private=True, changes=changes)
        changes.chat(chat)
    return changes


def one_line(text):
    """The text with its runs of spaces and line breaks made single spaces."""
    return " ".join((text or "").split())


def cancel_pending(chat, agent):
    """An agent in the chat takes back its pending invitation: the invitee's offer goes at once.
    The invitation's own row decides a race with the invitee accepting (see `joined`)."""
    changes = Changes()
    at = now()
    with write():
        if not is_participant(chat, agent):
            raise RoutingError("You can cancel invitations only in a chat you are in.")
        invitation = pending(chat)
        won = invitation is not None and (
            Invitation.update(state="cancelled", answered_at=at)
            .where((Invitation.id == invitation.id) & (Invitation.state == "pending"))
            .execute()
        )
        if not won:
            raise RoutingError("There is no pending invitation to cancel: it was answered already.")
        for offer in Offer.select().where((Offer.invitation == invitation) & (Offer.state == "pending")):
            Offer.update(state="withdrawn", answered_at=at).where(Offer.id == offer.id).execute()
            changes.agents.add(offer.agent_id)
        line = f"{agent.name} cancelled the invitation to {invitation.target_name}."
        post(chat, "system", line, private=True, changes=changes)
        changes.chat(chat)
    return changes


def leave_chat(chat, agent):
    """The agent leaves a chat that goes on with its other agents; the last one can only end it."""
    changes = Changes()
    at = now()
    with write():
        chat = Chat.get_by_id(chat.id)
        if chat.state != "active" or not is_participant(chat, agent):
            raise RoutingError("You are not in this chat.")
        if not others_in(chat, agent):
            raise RoutingError("You are the last agent in this chat: end it instead of leaving it.")
        leave(chat, agent.id, at)
        say(chat, f"{agent.name} left the chat.", changes)
        changes.chat(chat)
        changes.agents.add(agent.id)
        dispatch(changes)  # the agent has room for a waiting chat now
    return changes


def pending(chat):
    return _pending(chat).first()


@prepared  # read on every update of a chat in a console: compiled once (data.db.prepared)
def _pending(chat):
    return Invitation.select().where((Invitation.chat == chat) & (Invitation.state == "pending")).limit(1)


def invitees(chat):
    """Colleagues who could be invited by name: logged on, enabled and not in the chat."""
    return (
        Agent.select()
        .where((Agent.status != "off") & Agent.enabled & Agent.id.not_in(_inside(chat)))
        .order_by(Agent.name)
    )


def others_in(chat, agent):
    """Whether agents other than `agent` are in the chat now."""
    return _inside(chat).where(Participant.agent != agent.id).exists()


def _inside(chat):
    """The ids of the agents in the chat now, as a subquery."""
    return Participant.select(Participant.agent).where(
        (Participant.chat == chat) & Participant.left_at.is_null()
    )


def _check_invitee(chat, inviter, invitee):
    if invitee.id == inviter.id:
        raise RoutingError("You are already in this chat.")
    if not invitee.enabled or invitee.status == "off":
        raise RoutingError(f"{invitee.name} is not logged on.")
    if is_participant(chat, invitee):
        raise RoutingError(f"{invitee.name} is already in this chat.")
    if agent_load(invitee) >= invitee.max_chats:
        raise RoutingError(f"{invitee.name} has no room for another chat now.")


def _offer(invitation, at, changes):
    """Offer the invitation to its invitee, or to the next agent of its queue; False if nobody can take it."""
    agent = invitation.invitee if invitation.invitee_id else _next_in_queue(invitation)
    if agent is None:
        return False
    make_offer(invitation.chat_id, agent.id, at, changes, invitation)
    return True


def _next_in_queue(invitation):
    """Routed like a new chat: available, with room, longest idle; never the inviter or one who declined."""
    asked = Offer.select(Offer.agent).where(Offer.invitation == invitation)
    in_queue = ProfileQueue.select(ProfileQueue.profile).where(ProfileQueue.queue == invitation.queue_id)
    candidates = list(
        Agent.select().where(
            (Agent.status == "available")
            & Agent.enabled
            & Agent.profile.in_(in_queue)
            & (Agent.id != invitation.inviter_id)
            & Agent.id.not_in(asked)
            & Agent.id.not_in(_inside(invitation.chat_id))
        )
    )
    load = load_of([a.id for a in candidates]) if candidates else {}
    free = [a for a in candidates if load[a.id] < a.max_chats]
    return min(free, key=lambda a: (a.idle_since or now(), a.id), default=None)


def joined(offer, agent, at, changes):
    """The invitee accepted: they join; on a hand-over the inviter leaves."""
    invitation = offer.invitation
    won = (
        Invitation.update(state="accepted", answered_at=at)
        .where((Invitation.id == invitation.id) & (Invitation.state == "pending"))
        .execute()
    )
    if not won:  # cancelled meanwhile: raising undoes the offer's acceptance too
        raise RoutingError("This invitation was cancelled.")
    chat = offer.chat
    join(chat, agent, at)
    say(chat, f"{agent.name} joined the chat.", changes)
    if not invitation.stay:
        # not when the inviter has left already (signed out, in a conference)
        if leave(chat, invitation.inviter_id, at):
            say(chat, f"{invitation.inviter.name} left the chat.", changes)
    changes.chat(chat)
    changes.agents.update({agent.id, invitation.inviter_id})


def declined(offer, at, changes, why="declined"):
    """The invitee rejected, missed or lost the offer: try the queue's next agent, else tell the inviter."""
    invitation = Invitation.get_by_id(offer.invitation_id)
    if invitation.state != "pending":
        return
    name = offer.agent.name
    chat = invitation.chat
    if chat.state == "active" and invitation.queue_id and _offer(invitation, at, changes):
        post(
            chat,
            "system",
            f"{name} {why} the invitation; asking the next agent.",
            private=True,
            changes=changes,
        )
        return
    Invitation.update(state="declined", answered_at=at).where(Invitation.id == invitation.id).execute()
    if chat.state == "active":
        post(chat, "system", f"{name} {why} the invitation.", private=True, changes=changes)
    changes.chats.add(chat.id)


def cancel(chat, at):
    """The chat ended: its pending invitation goes with it."""
    Invitation.update(state="cancelled", answered_at=at).where(
        (Invitation.chat == chat) & (Invitation.state == "pending")
    ).execute()


def queue_choices():
    return Queue.select().where(Queue.enabled).order_by(Queue.name)
