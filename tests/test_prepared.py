"""data.db.prepared: selects compiled once per shape give exactly what the plain select gives."""

import pytest

from data.db import PreparedSelect, prepared
from data.models import Chat, Message, Queue


@pytest.fixture
def chats(database):
    queue = Queue.create(name="Support", slug="support")
    first, second = Chat.create(queue=queue, chatter_name="Ada"), Chat.create(queue=queue)
    for seq in range(1, 6):
        Message.create(chat=first, seq=seq, sender="chatter", text=f"first {seq}", private=seq == 4)
    for seq in range(1, 4):
        Message.create(chat=second, seq=seq, sender="chatter", text=f"second {seq}")
    return first, second


def seqs(query):
    return [m.seq for m in query]


def test_same_rows_as_the_plain_select_for_every_argument(chats):
    first, second = chats
    for chat in (first, second, first.id):
        for after in (0, 2, 5):
            assert seqs(Message.for_agents(chat, after)) == [
                m.seq for m in Message.select().where((Message.chat == chat) & (Message.seq > after))
            ]
    assert seqs(Message.for_chatter(first, 0)) == [1, 2, 3, 5]
    assert isinstance(Message.for_agents(first, 0), PreparedSelect)


def test_joined_models_come_with_the_rows(chats):
    first, _ = chats
    message = Message.for_agents(first, 4)[0]
    assert message.chat.chatter_name == "Ada"
    assert message.agent is None


def test_column_mapping_made_once_serves_every_later_run(chats):
    first, second = chats
    assert list(Message.for_agents(first, 99)) == []  # the first run of the shape finds no row
    for chat, name in ((second, ""), (first, "Ada"), (second, "")):
        messages = list(Message.for_agents(chat, 0))
        assert [m.chat.chatter_name for m in messages] == [name] * len(messages)
        assert all(m.chat_id == chat.id and m.agent is None for m in messages)
    assert [m.text for m in Message.for_chatter(second, 1)] == ["second 2", "second 3"]


def test_a_changed_query_compiles_anew(chats):
    first, _ = chats
    assert seqs(Message.for_agents(first, 0).where(Message.seq > 3)) == [4, 5]
    assert Message.for_agents(first, 0).count() == 5
    assert Message.for_agents(first, 1).first().seq == 2
    assert len(Message.for_agents(first, 0)) == 5


def test_text_parameters_and_structural_arguments(chats):
    first, second = chats

    @prepared
    def by_token(model, token):
        return model.select().where(model.token == token).limit(1)

    assert by_token(Chat, first.token).first().id == first.id
    assert by_token(Chat, second.token).first().id == second.id
    assert by_token(Chat, "no such token").first() is None

    @prepared
    def named(name):
        return Chat.select().where(Chat.chatter_name == name)

    assert [c.id for c in named("Ada")] == [first.id]
    assert [c.id for c in named(None)] == []  # None shapes the query (IS NULL), never a parameter


def test_get_by_id_and_its_error(chats):
    first, _ = chats
    assert Chat.get_by_id(first.id).chatter_name == "Ada"
    assert Chat.get_by_id(str(first.id)).id == first.id
    with pytest.raises(Chat.DoesNotExist):
        Chat.get_by_id(999)


def test_an_argument_that_shapes_the_query_is_never_cached(chats):
    first, _ = chats

    @prepared
    def maybe_private(chat, private_too):
        query = Message.select().where(Message.chat == chat)
        return query if private_too == 1 else query.where(~Message.private)

    assert len(list(maybe_private(first, 1))) == 5
    assert len(list(maybe_private(first, 0))) == 4
