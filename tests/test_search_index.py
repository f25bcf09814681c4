"""The full-text index follows the stored messages a moment behind: a search never misses one, and
deleting or changing messages, indexed or not yet, leaves the index exactly right."""

import pytest
from clients import rows
from conftest import wait_for
from test_live import active_chat

from data import posting, search_index
from data.db import db, write
from data.logs import Filters, find_chats
from data.models import Chat, Message, Queue
from data.schema import open_database


@pytest.fixture
def chat(database):
    return Chat.create(queue=Queue.create(name="Support", slug="support"))


def found(text):
    return [c.id for c in find_chats(Filters(text=text))]


def indexed(word):
    """The messages the index holds `word` for, as it stands (no catch-up first)."""
    sql = "SELECT rowid FROM message_fts WHERE message_fts MATCH ? ORDER BY rowid"
    return [rowid for (rowid,) in db.execute_sql(sql, (word,))]


def check_index():
    """FTS5 raises here when its tokens and the stored messages disagree."""
    search_index.catch_up()
    db.execute_sql("INSERT INTO message_fts(message_fts, rank) VALUES ('integrity-check', 1)")


def test_storing_a_message_does_not_index_it_but_a_search_finds_it_at_once(chat):
    message = posting.post_by_chatter(chat, "where is my parcel").fresh[chat.id][0]
    assert indexed("parcel") == []  # the insert alone stays cheap
    assert found("parcel") == [chat.id]
    assert indexed("parcel") == [message.id]


def test_catch_up_indexes_every_message_in_one_go_and_then_has_nothing_to_do(chat):
    for n in range(5):
        posting.post_by_chatter(chat, f"message number {n}")
    search_index.catch_up()
    assert len(indexed("number")) == 5
    search_index.catch_up()
    assert len(indexed("number")) == 5
    check_index()


def test_deleting_messages_indexed_or_not_leaves_the_index_right(chat):
    old = posting.post_by_chatter(chat, "an indexed message").fresh[chat.id][0]
    search_index.catch_up()
    new = posting.post_by_chatter(chat, "not indexed yet").fresh[chat.id][0]
    with write():
        Message.delete().where(Message.id.in_([old.id, new.id])).execute()
    check_index()
    assert found("indexed") == [] and indexed("indexed") == []


def test_an_id_given_out_again_after_a_delete_is_indexed_with_its_new_text(chat):
    first = posting.post_by_chatter(chat, "first words").fresh[chat.id][0]
    last = posting.post_by_chatter(chat, "gone soon").fresh[chat.id][0]
    search_index.catch_up()
    Message.delete().where(Message.id == last.id).execute()
    again = posting.post_by_chatter(chat, "second thoughts").fresh[chat.id][0]
    assert again.id == last.id  # SQLite hands out the highest id again
    assert found("thoughts") == [chat.id]
    assert found("gone") == []
    assert found("first") == [chat.id] and indexed("first") == [first.id]
    check_index()


def test_changing_an_indexed_text_changes_what_is_found(chat):
    message = posting.post_by_chatter(chat, "a typo here").fresh[chat.id][0]
    search_index.catch_up()
    Message.update(text="corrected now").where(Message.id == message.id).execute()
    assert found("typo") == []
    assert found("corrected") == [chat.id]
    check_index()


def test_the_server_indexes_what_is_sent_without_anyone_searching(server, people):
    _, chatter, _ = active_chat(server, people)
    assert chatter.say("Indexed by the timer").status_code == 204
    (message_id,) = rows(server, "SELECT id FROM message WHERE text = ?", "Indexed by the timer")[0]
    match = "SELECT rowid FROM message_fts WHERE message_fts MATCH 'timer'"
    wait_for(lambda: rows(server, match) == [(message_id,)], message="the timer to index the message")


def test_a_database_indexed_by_an_older_parley_keeps_its_index_and_nothing_is_indexed_twice(tmp_path):
    folder = str(tmp_path / "data")
    database = open_database(folder)
    with database.connection_context():
        database.execute_sql(f"DROP TABLE {search_index.WATERMARK}")
        database.execute_sql(  # how Parley kept its index before
            "CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN"
            " INSERT INTO message_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        chat = Chat.create(queue=Queue.create(name="Support", slug="support"))
        posting.post_by_chatter(chat, "indexed the old way")
    database.close_all()

    database = open_database(folder)
    with database.connection_context():
        posting.post_by_chatter(chat, "and the new way")
        assert found("way") == [chat.id]
        assert len(indexed("way")) == 2
        check_index()  # a message indexed twice would fail it too
    database.close_all()
