"""Inviting a colleague, or anyone in a queue, into a chat: one pending invitation per chat at a time.

An invitation travels as an Offer (with `invitation` set), so accepting, rejecting, expiry and the
console's offer tab work as for new chats; data/routing.py calls `joined`, `declined` and `cancel`.
"""

from data.changes import Changes, RoutingError
from data.db import prepared, write
from data.dispatch import agent_load, load_of, make_offer
from data.models import Agent, Chat, Invitation, Offer, Participant, ProfileQueue, Queue, now
from data.participants import is_participant, join
from data.posting import post, say


def invite(chat, inviter, invitee=None, queue=None, stay=True):
    """Invite `invitee` (an Agent) or anyone in `queue` into the chat; return Changes."""
    changes = Changes()
    at = now()
    with write():
        chat = Chat.get_by_id(chat.id)
        if chat.state != "active" or not is_participant(chat, inviter):
            raise RoutingError("You can invite colleagues only into a chat you are in.")
        if pending(chat) is not None:
            raise RoutingError("An invitation is already pending in this chat; wait for its answer.")
        if invitee is not None:
            _check_invitee(chat, inviter, invitee)
        invitation = Invitation.create(chat=chat, inviter=inviter, invitee=invitee, queue=queue, stay=stay)
        if not _offer(invitation, at, changes):
            invitation.delete_instance()
            raise RoutingError(f"Nobody in {queue.name} can take an invitation now.")
        post(
            chat, "system", f"{inviter.name} invited {invitation.target_name}.", private=True, changes=changes
        )
        changes.chat(chat)
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
    Invitation.update(state="accepted", answered_at=at).where(Invitation.id == invitation.id).execute()
    chat = offer.chat
    join(chat, agent, at)
    say(chat, f"{agent.name} joined the chat.", changes)
    if not invitation.stay:
        left = (
            Participant.update(left_at=at)
            .where(
                (Participant.chat == chat)
                & (Participant.agent == invitation.inviter_id)
                & Participant.left_at.is_null()
            )
            .execute()
        )
        if left:  # not when the inviter has left already (signed out, in a conference)
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
