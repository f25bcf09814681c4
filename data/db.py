"""The one seam to the database: every model binds to `db`, and `open_database` decides the engine."""

import os
from contextlib import contextmanager

from peewee import DatabaseProxy
from playhouse.pool import PooledSqliteDatabase

db = DatabaseProxy()

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",  # survives a crashed process; see STACK-NOTES.md
    "foreign_keys": 1,
    "busy_timeout": 5000,
}


def open_database(folder):
    """Open (creating if needed) the SQLite database in `folder` and bind every model to it."""
    from data.models import ALL_MODELS

    os.makedirs(folder, exist_ok=True)
    database = PooledSqliteDatabase(
        os.path.join(folder, "parley.db"),
        pragmas=PRAGMAS,
        max_connections=64,
        timeout=10,  # wait for a free connection instead of failing at once
        stale_timeout=300,
        check_same_thread=False,
    )
    db.initialize(database)
    with database.connection_context():
        database.create_tables(ALL_MODELS, safe=True)
        _create_search_index(database)
    return database


def _create_search_index(database):
    """The full-text index of messages (FTS5 over message.text); data/routing.post keeps it current."""
    exists = database.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'message_fts'").fetchone()
    if exists:
        return
    with database.atomic():
        database.execute_sql(
            "CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5("
            "text, content='message', content_rowid='id', tokenize='porter unicode61')"
        )
        # a database from before the index: index the messages it already holds
        database.execute_sql("INSERT INTO message_fts(message_fts) VALUES ('rebuild')")


def write():
    """A write transaction that takes SQLite's write lock up front, so read-then-write cannot race."""
    database = db.obj
    if isinstance(database, PooledSqliteDatabase):
        return database.atomic(lock_type="IMMEDIATE")
    return database.atomic()


@contextmanager
def connection():
    """Borrow a pooled connection for a block of work, unless this greenlet already holds one."""
    borrowed = db.is_closed()
    if borrowed:
        db.connect()
    try:
        yield
    finally:
        if borrowed:
            db.close()
