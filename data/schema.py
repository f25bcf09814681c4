"""Opening the database: the engine and its settings, the tables, and what an older database lacks."""

import os
from contextlib import contextmanager

from peewee import SqliteDatabase
from playhouse.migrate import SchemaMigrator, migrate
from playhouse.pool import PooledSqliteDatabase

from data import files, postgres, search_index
from data.db import bind
from data.left_models import LEFT_MODELS
from data.models import ALL_MODELS
from data.ready_models import READY_MODELS

TABLES = ALL_MODELS + READY_MODELS + LEFT_MODELS  # every table, in the order their foreign keys need

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",  # survives a crashed process; see STACK-NOTES.md
    "foreign_keys": 1,
    "busy_timeout": 5000,
}


def open_database(folder, url=""):
    """Open (creating if needed) the database and bind every model to it: the SQLite file in `folder`,
    or the PostgreSQL database at `url` (postgresql://…); `folder` keeps the files either way.

    postgres.Unreachable when PostgreSQL cannot be reached."""
    os.makedirs(folder, exist_ok=True)
    files.configure(folder)
    if url:
        database = postgres.connect(url)
        postgres.reach(database, url)
    else:
        database = PooledSqliteDatabase(
            os.path.join(folder, "parley.db"),
            pragmas=PRAGMAS,
            max_connections=64,
            timeout=10,  # wait for a free connection instead of failing at once
            stale_timeout=300,
            check_same_thread=False,
        )
    bind(database)
    with database.connection_context():
        if url:
            with database.atomic():  # DDL is transactional there: processes starting at once make it once
                postgres.lock(database, postgres.SCHEMA)
                _make_tables(database)
        else:
            _make_tables(database)
    return database


def _make_tables(database):
    database.create_tables(TABLES, safe=True)
    _add_missing_columns(database, TABLES)
    search_index.create(database)
    # made here, not in Meta.indexes: an older database gets the column just above
    database.execute_sql(
        "CREATE UNIQUE INDEX IF NOT EXISTS message_client_key"
        " ON message (chat_id, client_key) WHERE client_key IS NOT NULL"
    )
    database.execute_sql(
        "CREATE UNIQUE INDEX IF NOT EXISTS chat_start_key ON chat (start_key) WHERE start_key IS NOT NULL"
    )
    for dropped in ("message_chat_id", "message_agent_id"):  # see Message.chat in data/models.py
        database.execute_sql(f"DROP INDEX IF EXISTS {dropped}")


def _add_missing_columns(database, models):
    """Give a database made by an older Parley the columns added since, keeping every row."""
    migrator = SchemaMigrator.from_database(database)
    with _foreign_keys_off(database):
        for model in models:
            table = model._meta.table_name
            have = {column.name for column in database.get_columns(table)}
            missing = [f for f in model._meta.sorted_fields if f.column_name not in have]
            if missing:
                migrate(*(migrator.add_column(table, f.column_name, f) for f in missing))


@contextmanager
def _foreign_keys_off(database):
    """SQLite adds a NOT NULL column by rebuilding its table, and dropping the old table would delete
    (ON DELETE CASCADE) every row that refers to it: a chat's messages, say. PostgreSQL adds it in place."""
    if not isinstance(database, SqliteDatabase):
        yield
        return
    database.pragma("foreign_keys", 0)
    try:
        yield
    finally:
        database.pragma("foreign_keys", 1)
