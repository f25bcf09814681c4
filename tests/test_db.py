"""The database seam: opening an older database keeps its rows and adds what is new."""

from data import logs, posting, retention
from data.models import Chat, Message, Queue
from data.schema import open_database


def found(text):
    return [c.id for c in logs.find_chats(logs.Filters(text=text))]


def indexes(database, table):
    return [row[1] for row in database.execute_sql(f"PRAGMA index_list({table})")]


def test_a_database_from_an_older_parley_gets_new_columns_and_keeps_its_rows(tmp_path):
    folder = str(tmp_path / "data")
    database = open_database(folder)
    with database.connection_context():
        chat = Chat.create(queue=Queue.create(name="Support", slug="support"))
        Message.create(chat=chat, seq=1, sender="chatter", text="kept")
        database.execute_sql("ALTER TABLE message DROP COLUMN file_count")
        database.execute_sql("ALTER TABLE chat DROP COLUMN chatter_away_since")
        database.execute_sql("ALTER TABLE chat DROP COLUMN name_verified")  # NOT NULL: the table is rebuilt
        database.execute_sql("ALTER TABLE chat DROP COLUMN verified_claims")
        database.execute_sql("DROP INDEX message_client_key")
        database.execute_sql('CREATE INDEX "message_chat_id" ON "message" ("chat_id")')  # once kept
        for trigger in ("insert", "delete", "update"):  # before the index kept itself
            database.execute_sql(f"DROP TRIGGER IF EXISTS message_fts_{trigger}")
        database.execute_sql("ALTER TABLE message DROP COLUMN client_key")
    database.close_all()

    database = open_database(folder)
    with database.connection_context():
        message = Message.get(Message.seq == 1)
        assert message.text == "kept"
        assert message.file_count == 0
        assert Chat.get_by_id(chat.id).chatter_away_since is None
        assert Chat.get_by_id(chat.id).name_verified is False
        assert database.execute_sql("PRAGMA foreign_keys").fetchone() == (1,)  # on again after
        assert Chat.get_by_id(chat.id).claims == []
        # a page's key is stored once there too
        assert posting.post_by_chatter(chat, "sent twice", key="key-12345").logs == {chat.id}
        assert posting.post_by_chatter(chat, "sent twice", key="key-12345").logs == set()
        assert Message.select().where(Message.text == "sent twice").count() == 1
        # reads by chat go through the (chat, seq) index, not one of their own any more
        assert "message_chat_id" not in indexes(database, "message")
        plan = database.execute_sql("EXPLAIN QUERY PLAN SELECT * FROM message WHERE chat_id = 1").fetchall()
        assert "USING INDEX message_chat_id_seq" in str(plan)
        # and the search index follows what is stored and deleted
        assert found("twice") == [chat.id]
        with database.atomic():
            retention.delete_chat(chat.id)
        assert found("twice") == []
        # FTS5 raises here when its tokens and the stored messages disagree
        database.execute_sql("INSERT INTO message_fts(message_fts, rank) VALUES ('integrity-check', 1)")
    database.close_all()
