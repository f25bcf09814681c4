"""The full-text index of messages: SQLite's FTS5 over message.text, kept a moment behind, or on
PostgreSQL a GIN index of each message's words, which PostgreSQL keeps itself (data/search.py asks them).

On SQLite, indexing a message in its own transaction doubled what storing it cost (FTS5 writes a segment per
transaction), and a message is stored on the path between the sender and the other side. So the
index follows in batches: `catch_up()` indexes every message above a watermark, once per tick of
the routing timer and before every search, so a search never misses a message already stored.
Triggers keep what is indexed right when a message is deleted or its text changes.
"""

from peewee import PostgresqlDatabase

from data.db import db, on_postgres, write

# PostgreSQL's text search configuration: English word forms (Snowball's Porter stemmer, as FTS5's
# porter tokenizer) and, as in FTS5, no stop words, so "the" or "not" can be searched for
CONFIG = "parley"
TSVECTOR = f"to_tsvector('{CONFIG}', text)"  # the index's expression: a search must use this one
POSTGRES_SEARCH = (
    "CREATE TEXT SEARCH DICTIONARY parley_english (TEMPLATE = snowball, Language = english)",
    f"CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = english)",
    f"ALTER TEXT SEARCH CONFIGURATION {CONFIG} ALTER MAPPING FOR"
    " asciiword, word, asciihword, hword, hword_asciipart, hword_part WITH parley_english",
)

# the highest message id indexed; every message at or below it is in the index
WATERMARK = "message_fts_indexed"

# an index with external content must hear of every change to the text it holds, or it goes wrong
TRIGGERS = (
    # a message not yet indexed has nothing to remove; and once the highest ids are deleted, SQLite
    # gives them out again, so the watermark comes down to the highest id left
    "CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN"
    " INSERT INTO message_fts(message_fts, rowid, text) SELECT 'delete', old.id, old.text"
    f" WHERE old.id <= (SELECT up_to FROM {WATERMARK});"
    f" UPDATE {WATERMARK} SET up_to = (SELECT COALESCE(MAX(id), 0) FROM message)"
    " WHERE up_to > (SELECT COALESCE(MAX(id), 0) FROM message); END",
    "CREATE TRIGGER message_fts_update AFTER UPDATE OF text ON message"
    f" WHEN old.id <= (SELECT up_to FROM {WATERMARK}) BEGIN"
    " INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, old.text);"
    " INSERT INTO message_fts(rowid, text) VALUES (new.id, new.text); END",
)


def create(database):
    """Make the index, or bring one made by an older Parley (indexed by an insert trigger) up to date."""
    if isinstance(database, PostgresqlDatabase):
        _create_postgres(database)
        return
    exists = database.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'message_fts'").fetchone()
    with database.atomic():
        if not exists:
            database.execute_sql(
                "CREATE VIRTUAL TABLE message_fts USING fts5("
                "text, content='message', content_rowid='id', tokenize='porter unicode61')"
            )
            # a database from before the index: index the messages it already holds
            database.execute_sql("INSERT INTO message_fts(message_fts) VALUES ('rebuild')")
        if not database.table_exists(WATERMARK):
            # everything stored so far is indexed: just now, or by the triggers of an older Parley
            database.execute_sql(f"CREATE TABLE {WATERMARK} (up_to INTEGER NOT NULL)")
            database.execute_sql(f"INSERT INTO {WATERMARK} SELECT COALESCE(MAX(id), 0) FROM message")
        for name in ("insert", "delete", "update"):  # the definitions change between versions
            database.execute_sql(f"DROP TRIGGER IF EXISTS message_fts_{name}")
        for trigger in TRIGGERS:
            database.execute_sql(trigger)


def _create_postgres(database):
    """The configuration and the index: built from the messages already stored, then kept by PostgreSQL."""
    found = database.execute_sql(
        "SELECT 1 FROM pg_ts_config WHERE cfgname = %s AND cfgnamespace = current_schema()::regnamespace",
        (CONFIG,),
    ).fetchone()
    if not found:
        for statement in POSTGRES_SEARCH:
            database.execute_sql(statement)
    database.execute_sql(f"CREATE INDEX IF NOT EXISTS message_search ON message USING GIN ({TSVECTOR})")


def catch_up():
    """Index the messages stored since the last catch-up, in one transaction (SQLite's only)."""
    if on_postgres() or _pending() is None:  # the usual case: no write lock taken
        return
    with write():
        pending = _pending()  # again, now that no one else can write
        if pending is not None:
            up_to, last = pending
            db.execute_sql(
                "INSERT INTO message_fts(rowid, text) SELECT id, text FROM message WHERE id > ? AND id <= ?",
                (up_to, last),
            )
            db.execute_sql(f"UPDATE {WATERMARK} SET up_to = ?", (last,))


def _pending():
    """(watermark, highest message id) when some message is not indexed yet, else None."""
    up_to, last = db.execute_sql(
        f"SELECT up_to, (SELECT COALESCE(MAX(id), 0) FROM message) FROM {WATERMARK}"
    ).fetchone()
    return (up_to, last) if last > up_to else None
