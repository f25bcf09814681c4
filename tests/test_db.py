"""The database seam: opening an older database keeps its rows and adds what is new."""

from data import routing
from data.db import open_database
from data.models import Chat, Message, Queue


def test_a_database_from_an_older_parley_gets_new_columns_and_keeps_its_rows(tmp_path):
    folder = str(tmp_path / "data")
    database = open_database(folder)
    with database.connection_context():
        chat = Chat.create(queue=Queue.create(name="Support", slug="support"))
        Message.create(chat=chat, seq=1, sender="chatter", text="kept")
        database.execute_sql("ALTER TABLE message DROP COLUMN file_count")
        database.execute_sql("ALTER TABLE chat DROP COLUMN chatter_away_since")
        database.execute_sql("DROP INDEX message_client_key")
        database.execute_sql("ALTER TABLE message DROP COLUMN client_key")
    database.close_all()

    database = open_database(folder)
    with database.connection_context():
        message = Message.get(Message.seq == 1)
        assert message.text == "kept"
        assert message.file_count == 0
        assert Chat.get_by_id(chat.id).chatter_away_since is None
        # a page's key is stored once there too
        assert routing.post_by_chatter(chat, "sent twice", key="key-12345").logs == {chat.id}
        assert routing.post_by_chatter(chat, "sent twice", key="key-12345").logs == set()
        assert Message.select().where(Message.text == "sent twice").count() == 1
    database.close_all()
