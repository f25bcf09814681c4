"""The one seam to the database: every model binds to `db`, and `open_database` decides the engine."""

import functools
import os
from contextlib import nullcontext

from peewee import DatabaseProxy, Model, ModelSelect
from playhouse.migrate import SqliteMigrator, migrate
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
    from data import files, search_index
    from data.models import ALL_MODELS

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
        database.create_tables(ALL_MODELS, safe=True)
        _add_missing_columns(database, ALL_MODELS)
        search_index.create(database)
        # made here, not in Meta.indexes: an older database gets the column just above
        database.execute_sql(
            "CREATE UNIQUE INDEX IF NOT EXISTS message_client_key"
            " ON message (chat_id, client_key) WHERE client_key IS NOT NULL"
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


def write():
    """A write transaction that takes SQLite's write lock up front, so read-then-write cannot race."""
    database = db.obj
    if isinstance(database, PooledSqliteDatabase):
        return database.atomic(lock_type="IMMEDIATE")
    return database.atomic()


def within_write():
    """The write transaction already open, or a new one: for a step that never runs alone, without
    the savepoint (two more statements) a nested write() would make."""
    return nullcontext() if db.in_transaction() else write()


class connection:  # a class, not @contextmanager: ~1 us less, and a message passes four of them
    """`with connection():` gives the pool back, after a block of work, the connection the block's
    first query borrowed (peewee connects on first use), unless this greenlet held one before. A
    block that asks the database nothing, such as a socket sending a message it was handed, costs
    nothing."""

    __slots__ = ("held",)

    def __enter__(self):
        self.held = not db.is_closed()

    def __exit__(self, *error):
        if not self.held and not db.is_closed():
            db.close()


# --- selects compiled once --------------------------------------------------------------------------
# Peewee builds a query's SQL anew on every execution, and then works out again which column goes to
# which model and converter; on this stack that costs ~20-60 times what SQLite spends running it
# (~0.4 ms against ~15 us for a select with two joins). The hot selects of the message path are
# therefore compiled once per shape, their column mapping worked out once, and run with new parameters.

_SENTINEL = -(2**62)  # stand-in parameter values, never real ids or texts


class PreparedSelect(ModelSelect):
    """A select whose SQL was compiled once for its shape; any change to it (a clone) compiles anew."""

    _prepared = None  # (sql, params, limit, offset, columns): columns is the shape's, shared

    def clone(self):
        query = super().clone()
        query._prepared = None
        return query

    def _execute(self, database):
        prepared = self._prepared
        if (
            prepared is None
            or self._cursor_wrapper is not None
            or self._load_tree
            or (self._limit, self._offset) != prepared[2:4]
        ):
            return super()._execute(database)
        wrapper = self._get_cursor_wrapper(database.execute_sql(prepared[0], prepared[1]))
        self._cursor_wrapper = _with_columns(wrapper, prepared[4])
        return wrapper


def plain_rows(query):
    """The rows of a select as SQLite returns them, without peewee making (and converting) each one:
    for a select of ints and texts read often (its SQL compiled once if it is prepared)."""
    sql, params = query._prepared[:2] if getattr(query, "_prepared", None) else query.sql()
    return db.execute_sql(sql, params)


def _with_columns(wrapper, columns):
    """Give a result `wrapper` the column mapping its shape made the first time (peewee's initialize)."""
    if not columns:
        before = set(wrapper.__dict__)
        wrapper.initialize()
        columns.update({k: v for k, v in wrapper.__dict__.items() if k not in before})
    else:
        wrapper.__dict__.update(columns)
    wrapper.initialized = True
    return wrapper


def prepared(build):
    """Decorate `build(*args)`, which returns a model select, so its SQL is compiled once per shape.

    int and str arguments (and model instances, as their ids) become parameters of the SQL; any
    other argument (a model class, None, a bool) is part of the shape. `build` must use its
    parameter arguments only as values in the query, never to decide the query's structure.
    """
    shapes = {}

    @functools.wraps(build)
    def make(*args):
        args = [a._pk if isinstance(a, Model) else a for a in args]
        query = build(*args)
        if type(query) not in (ModelSelect, PreparedSelect):
            return query
        slots = [isinstance(a, (int, str)) and not isinstance(a, bool) for a in args]
        try:
            key = tuple(("param" if slot else a) for a, slot in zip(args, slots, strict=True))
            shape = shapes.get(key)
        except TypeError:  # an unhashable argument: compile as usual
            return query
        if shape is None:
            shape = shapes[key] = _compile_shape(build, args, slots)
        if shape is False:
            return query
        sql, template, columns = shape
        params = tuple(args[p[1]] if p[0] else p[1] for p in template)
        query.__class__ = PreparedSelect
        query._prepared = (sql, params, query._limit, query._offset, columns)
        return query

    return make


def _compile_shape(build, args, slots):
    """The SQL of `build` and where each argument goes in its parameters; False if unsure."""
    stand_ins = [
        (_SENTINEL - i if isinstance(a, int) else f"\0stand-in {i}\0") if slot else a
        for i, (a, slot) in enumerate(zip(args, slots, strict=True))
    ]
    sql, params = build(*stand_ins).sql()
    template = []
    for value in params:
        found = [i for i, s in enumerate(stand_ins) if slots[i] and type(s) is type(value) and s == value]
        template.append((True, found[0]) if found else (False, value))
    used = {p[1] for p in template if p[0]}
    if used != {i for i, slot in enumerate(slots) if slot}:
        return False  # an argument shaped the query instead of filling it: never cache
    return sql, template, {}
