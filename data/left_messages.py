"""Messages left when nobody could answer: leaving one, who may read it, replying, handling, erasing.

Agents read the messages of the queues their profiles hold; supervisors read all. A reply goes out
by e-mail (data/left_mail.py); who replied, and who marked it handled, is kept.
"""

import re

from peewee import fn

from data import files, left_mail, mail, routing
from data.admin import Invalid
from data.changes import Changes, RoutingError
from data.db import plain_rows, prepared, write
from data.left_models import LeftFile, LeftMail, LeftMessage
from data.models import Agent, AgentProfile, Chat, Message, Profile, ProfileQueue, Queue, now
from data.posting import say

MAX_NAME = 80
MAX_TEXT = 5000
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check(name, email, text):
    """The name, address and text, cleaned; Invalid naming each field that is wrong."""
    name = CONTROL.sub(" ", name or "").strip()
    email, text = (email or "").strip(), (text or "").strip()
    errors = {}
    if len(name) > MAX_NAME:
        errors["name"] = f"Your name can be at most {MAX_NAME} characters."
    try:
        email = mail.check_address(email)
    except mail.MailRefused:
        errors["email"] = "Give your e-mail address, so we can answer you."
    if not text:
        errors["text"] = "Write your message."
    elif len(text) > MAX_TEXT:
        errors["text"] = f"A message can hold at most {MAX_TEXT} characters."
    if errors:
        raise Invalid(errors)
    return name, email, text


def leave(queue, name, email, text, saved_files=(), chat=None):
    """Store a message left in `queue` with its files (already saved, data/files.py); return it and the
    routing Changes. Left from a waiting `chat`, it ends that chat; RoutingError if an agent took it."""
    changes = Changes()
    with write():
        if chat is not None:
            chat = Chat.get_by_id(chat.id)
            if chat.state == "ended":
                raise RoutingError("This chat has ended.")
            if chat.state not in ("waiting", "offered"):
                raise RoutingError("An agent has just taken your chat: carry on writing there.")
        message = LeftMessage.create(
            queue=queue, chat=chat, name=name, email=email, text=text, file_count=len(saved_files)
        )
        for f in saved_files:
            LeftFile.create(left_message=message, **f)
        if queue.email:
            left_mail.queue_forward(message, queue.email)
        if chat is not None:
            say(chat, f"{chat.display_name} left a message, to be answered by e-mail.", changes)
            changes.merge(routing.end_chat(chat))
    return message, changes


def left_from(chat):
    """The message left from a waiting chat instead, or None."""
    return LeftMessage.select().where(LeftMessage.chat == chat.id).first()


def carried_text(chat):
    """What the chatter wrote while waiting, to carry into the message they may leave instead."""
    texts = [m.text for m in Message.for_chatter(chat) if m.sender == "chatter" and m.text]
    return "\n\n".join(texts)[:MAX_TEXT]


# --- who reads them ---------------------------------------------------------------------------------


def held_queue_ids(agent_id):
    """The queues of the agent's enabled profiles: the messages left there are theirs to answer."""
    return (
        ProfileQueue.select(ProfileQueue.queue)
        .join(Profile)
        .join(AgentProfile, on=(AgentProfile.profile == Profile.id))
        .where((AgentProfile.agent == agent_id) & Profile.enabled)
    )


def visible_to(agent):
    """The messages left that the agent may read, newest first."""
    messages = LeftMessage.select(LeftMessage, Queue).join(Queue)
    if not agent.supervisor:
        messages = messages.where(LeftMessage.queue.in_(held_queue_ids(agent.id)))
    return messages.order_by(LeftMessage.created_at.desc(), LeftMessage.id.desc())


def visible_or_none(agent, message_id):
    return visible_to(agent).where(LeftMessage.id == message_id).first()


def unhandled_count(agent):
    """How many of the messages left that the agent may read nobody has handled yet."""
    query = _unhandled_anywhere() if agent.supervisor else _unhandled_held(agent.id)
    return next(iter(plain_rows(query)))[0]


# every console's top bar shows it: compiled once (data.db.prepared)
@prepared
def _unhandled_anywhere():
    return LeftMessage.select(fn.COUNT(LeftMessage.id)).where(LeftMessage.handled_at.is_null())


@prepared
def _unhandled_held(agent_id):
    return _unhandled_anywhere().where(LeftMessage.queue.in_(held_queue_ids(agent_id)))


def concerned_agents(queue_id):
    """Ids of the enabled agents who read the queue's messages left: those holding it, and supervisors."""
    holding = (
        AgentProfile.select(AgentProfile.agent)
        .join(Profile)
        .join(ProfileQueue, on=(ProfileQueue.profile == Profile.id))
        .where((ProfileQueue.queue == queue_id) & Profile.enabled)
    )
    return [
        agent_id
        for (agent_id,) in Agent.select(Agent.id)
        .where(Agent.enabled & (Agent.supervisor | Agent.id.in_(holding)))
        .tuples()
    ]


# --- answering them ---------------------------------------------------------------------------------


def reply(message, agent, text):
    """Queue the agent's reply to the chatter by e-mail; Invalid if there is nothing to send."""
    text = (text or "").strip()
    if not text:
        raise Invalid({"reply": "Write your reply first."})
    if len(text) > MAX_TEXT:
        raise Invalid({"reply": f"A reply can hold at most {MAX_TEXT} characters."})
    with write():
        return left_mail.queue_reply(LeftMessage.get_by_id(message.id), agent, text)


def mark_handled(message, agent):
    """Mark the message handled by the agent; False if someone already had."""
    return bool(
        LeftMessage.update(handled_at=now(), handled_by=agent.id)
        .where((LeftMessage.id == message.id) & LeftMessage.handled_at.is_null())
        .execute()
    )


# --- records and erasure (retention, the chatter's export and deletion) -------------------------------


def record(message):
    """A message left as plain data for JSON: the chatter's words, files, replies and who handled it."""
    return {
        "id": message.id,
        "queue": message.queue.name,
        "name": message.name,
        "email": message.email,
        "text": message.text,
        "left_at": message.created_at.isoformat(),
        "chat_id": message.chat_id,
        "files": [{"name": f.name, "type": f.content_type, "size": f.size} for f in message.files],
        "replies": [
            {"by": r.agent.name if r.agent_id else None, "at": r.created_at.isoformat(), "text": r.text}
            for r in message.replies
        ],
        "handled_at": message.handled_at.isoformat() if message.handled_at else None,
        "handled_by": message.handled_by.name if message.handled_by_id else None,
    }


def left_by(email):
    """Every message left with this e-mail address (compared without regard to case), oldest first."""
    email = (email or "").strip().lower()
    return LeftMessage.select().where(fn.LOWER(LeftMessage.email) == email).order_by(LeftMessage.id)


def delete_left_by(email):
    """Delete every message left with this address, with its files and mail; return how many."""
    with write():
        ids = [m.id for m in left_by(email)]
        tokens = _delete(ids)
    files.delete(tokens)
    return len(ids)


def purge_handled_before(cutoff):
    """Delete the messages handled before `cutoff` (the retention period's start); return how many."""
    with write():
        ids = [m.id for m in LeftMessage.select(LeftMessage.id).where(LeftMessage.handled_at < cutoff)]
        tokens = _delete(ids)
    files.delete(tokens)
    return len(ids)


def _delete(ids):
    """Delete these messages left and all that belongs to them; return their files' tokens to delete
    once the transaction has committed. Call inside a write transaction."""
    if not ids:
        return []
    tokens = [f.token for f in LeftFile.select(LeftFile.token).where(LeftFile.left_message.in_(ids))]
    LeftFile.delete().where(LeftFile.left_message.in_(ids)).execute()
    LeftMail.delete().where(LeftMail.left_message.in_(ids)).execute()
    LeftMessage.delete().where(LeftMessage.id.in_(ids)).execute()
    return tokens
