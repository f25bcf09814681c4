"""Storing a message in a chat: by the chatter, by an agent (from a page or a console's socket), or by
the system. Each insert checks, in the same statement, that its sender may still post there.
"""

from contextlib import nullcontext

from peewee import IntegrityError

from data.changes import Changes, NoSuchChat, RoutingError, SignedOut
from data.db import db, on_postgres, sql, within_write
from data.models import Agent, Attachment, Chat, Message, now


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
        _not_stored(chat, key)
    return changes


def post_by_agent(chat, agent, text, private=False, files=(), key=None):
    """Post an agent's message; only an agent in the chat may, and not after it ended. `chat` may
    be its id: the insert checks the chat itself, so a socket need not load it for every message."""
    changes = Changes()
    message = _message(chat, "agent", text, agent, private, files, key)
    if _store(message, files, changes, INSERT_WHILE_IN, (message.chat_id, agent.id)) is not None:
        changes.fresh[message.chat_id] = (message,)
    else:
        _not_stored(message.chat_id, key)
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
        _not_stored(chat_id, key)
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
    follows by trigger (data/search_index.py): only a message with files needs a transaction of its own."""
    with within_write() if files else nullcontext():
        params = (*_insert_params(message), *condition)
        if on_postgres():
            stored = _insert_on_postgres(sql(insert), params)
        else:
            stored = db.execute_sql(insert, params).fetchone()
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


def _insert_on_postgres(insert, params):
    """Run `insert` where, unlike SQLite, two messages of one chat can be stored at once: both may read
    the same MAX(seq), and the later fails on the unique (chat, seq) and is tried again (reading the
    earlier now). Within a transaction a savepoint keeps that failure from ending the transaction."""
    while True:
        try:
            with db.savepoint() if db.in_transaction() else nullcontext():
                return db.execute_sql(insert, params).fetchone()
        except IntegrityError as e:
            diag = getattr(e.__context__, "diag", None)  # peewee raises its own over the driver's
            if diag is None or diag.constraint_name != SEQ_INDEX:
                raise


def _not_stored(chat, key):
    """Say why a message was not stored, unless it was already (a page sending it again)."""
    if key and Message.select().where((Message.chat == chat) & (Message.client_key == key)).exists():
        return
    stored = Chat.get_or_none(Chat.id == chat)
    if stored is None:
        raise NoSuchChat("There is no such chat.")
    if stored.state == "ended":
        raise RoutingError("This chat has ended.")
    raise RoutingError("You are not in this chat.")


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
INSERT_MESSAGE = _INSERT.format(condition="TRUE", more="")
INSERT_WHILE_OPEN = _INSERT.format(condition=_OPEN, more="")  # the chatter's: not after the chat ended
INSERT_WHILE_IN = _INSERT.format(condition=_IN, more="")  # an agent's: only while in the chat, and it is open
# an agent's from a console's socket: also only while its session lasts, and returning the sender's name
INSERT_IN_SESSION = _INSERT.format(
    condition=f"{_IN} AND {_SESSION}", more=', (SELECT "name" FROM "agent" WHERE "id" = "message"."agent_id")'
)


SEQ_INDEX = "message_chat_id_seq"  # the unique (chat, seq) of Message.Meta.indexes, as peewee names it


def _insert_params(m):
    created = Message.created_at.db_value(m.created_at)
    fields = (m.sender, m.agent_id, m.text, m.private, m.kind, m.file_count, m.client_key)
    return (m.chat_id, m.chat_id, created, *fields)
