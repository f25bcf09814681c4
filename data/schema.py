"""Opening the database: the engine and its settings, the tables, and what an older database lacks."""

import os

from playhouse.migrate import SqliteMigrator, migrate
from playhouse.pool import PooledSqliteDatabase

from data import files, search_index
from data.db import db
from data.left_models import LEFT_MODELS
from data.models import ALL_MODELS

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",  # survives a crashed process; see STACK-NOTES.md
    "foreign_keys": 1,
    "busy_timeout": 5000,
}


def open_database(folder):
    """Open (creating if needed) the SQLite database in `folder` and bind every model to it."""
    os.makedirs(folder, exist_ok=True)
    files.configure(folder)
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
        database.create_tables(ALL_MODELS + LEFT_MODELS, safe=True)
        _add_missing_columns(database, ALL_MODELS + LEFT_MODELS)
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
    return database


def _add_missing_columns(database, models):
    """Give a database made by an older Parley the columns added since, keeping every row."""
    migrator = SqliteMigrator(database)
    # a NOT NULL column is added by rebuilding its table, and dropping the old table would delete
    # (ON DELETE CASCADE) every row that refers to it: a chat's messages, say
    database.pragma("foreign_keys", 0)
    try:
        for model in models:
            table = model._meta.table_name
            have = {column.name for column in database.get_columns(table)}
            missing = [f for f in model._meta.sorted_fields if f.column_name not in have]
            if missing:
                migrate(*(migrator.add_column(table, f.column_name, f) for f in missing))
    finally:
        database.pragma("foreign_keys", 1)
