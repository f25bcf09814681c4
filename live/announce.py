"""Who hears of a change: the events a data change (routing's Changes) makes, on their channels.

A chatter's own message reaches the agents before it comes back to the chatter's page, and what
only a console showing a chat renders (its messages, typing) goes to "shown:<chat>", with no need
to ask the database which agents those are.
"""

from data import availability, participants
from data.db import connection, prepared
from data.models import Chat
from live.bus import hub
from live.events import ChatChanged, Live, Log, Status, Typing, Updated


def announce(changes, by_chatter=False):
    """Tell every socket concerned what `changes` changed; a chatter's own message reaches the agents
    before it comes back to the chatter's page (each socket renders in turn)."""
    with connection():
        for chat_id in sorted(changes.logs):
            _to_shown(chat_id, Log(chat_id, changes.fresh.get(chat_id, ())), agents_first=by_chatter)
        for chat_id in sorted(changes.chats):
            _to_related(chat_id, ChatChanged(chat_id))
        for chat_id, seq in sorted(changes.updated):
            _to_shown(chat_id, Updated(chat_id, seq))
        waiting = _moved_in_line(changes) if changes.queues else []
        # a queue nobody can take chats from now (or someone can again): its waiting chatters are
        # offered to leave a message (or no longer)
        if changes.agents:
            waiting += availability.waiting_in(availability.staffing_changed())
        for chat_id in dict.fromkeys(waiting):
            if chat_id not in changes.chats:
                hub.publish(f"chat:{chat_id}", ChatChanged(chat_id))
    for agent_id in changes.agents:
        hub.publish(f"agent:{agent_id}", Status(agent_id))
    if changes.chats or changes.agents or changes.queues:
        hub.publish("supervisors", Live())  # the supervisors' live view renders itself again


def _to_shown(chat_id, event, agents_first=False):
    """To the chat's pages and the consoles that show it."""
    channels = [f"chat:{chat_id}", f"shown:{chat_id}"]
    for channel in reversed(channels) if agents_first else channels:
        hub.publish(channel, event)


def _to_related(chat_id, event):
    """To the chat's pages and every agent whose console shows, or showed, the chat."""
    hub.publish(f"chat:{chat_id}", event)
    for agent_id in participants.related_agents(chat_id):
        hub.publish(f"agent:{agent_id}", event)


def _moved_in_line(changes):
    """Chats in the changed queues whose place in line may have moved: those behind the earliest
    changed chat of their queue. A chat joining at the end moves nobody, so starting chats costs
    one push, not one per waiting chatter; a queue changed without a chat tells all its line."""
    earliest = {}  # queue -> (created, id) of its earliest changed chat
    for chat_id in changes.chats:
        for queue_id, created in _place(chat_id):
            earliest[queue_id] = min(earliest.get(queue_id, (created, chat_id)), (created, chat_id))
    moved = set()
    for queue_id in changes.queues:
        line = _behind(earliest[queue_id][1]) if queue_id in earliest else _line(queue_id)
        moved.update(chat_id for (chat_id,) in line)
    return sorted(moved)


# on every chat start, answer and end: compiled once (data.db.prepared)
@prepared
def _place(chat_id):
    return Chat.select(Chat.queue, Chat.created_at).where(Chat.id == chat_id).tuples()


@prepared
def _line(queue_id):
    return (
        Chat.select(Chat.id).where((Chat.queue == queue_id) & Chat.state.in_(("waiting", "offered"))).tuples()
    )


@prepared
def _behind(chat_id):
    """The chats waiting in the chat's queue after it."""
    mine = Chat.alias()
    after = (Chat.created_at > mine.created_at) | ((Chat.created_at == mine.created_at) & (Chat.id > mine.id))
    return (
        Chat.select(Chat.id)
        .join(mine, on=(mine.id == chat_id))
        .where((Chat.queue == mine.queue) & Chat.state.in_(("waiting", "offered")) & after)
        .tuples()
    )


def publish_typing(chat_id, who, private):
    """Tell the others in the chat that someone types; a private draft never reaches the chatter."""
    event = Typing(chat_id, who, private)
    if not private and who != "chatter":
        hub.publish(f"chat:{chat_id}", event)
    hub.publish(f"shown:{chat_id}", event)
