"""The one seam to the database: every model binds to `db` (data/schema.py opens it), and the helpers
that run work on it: write transactions, connections, selects compiled once, SQL written by hand."""

import functools
from contextlib import contextmanager, nullcontext

from peewee import (
    DatabaseProxy,
    ForeignKeyAccessor,
    ForeignKeyField,
    InterfaceError,
    Model,
    ModelSelect,
    OperationalError,
    PostgresqlDatabase,
)
from playhouse.pool import MaxConnectionsExceeded, PooledSqliteDatabase

from data import postgres

db = DatabaseProxy()
_shapes = []  # the compiled SQL of every @prepared select, forgotten when another database is bound


def bind(database):
    """Bind every model to `database` (SQLite or PostgreSQL)."""
    if db.obj is not None and type(db.obj) is not type(database):
        for shapes in _shapes:
            shapes.clear()
    db.initialize(database)


def on_postgres():
    return isinstance(db.obj, PostgresqlDatabase)


UNAVAILABLE = (OperationalError, InterfaceError, MaxConnectionsExceeded)


def unavailable(error):
    """Whether `error` says PostgreSQL cannot be reached, or is too busy, now: that passes (a 503, not
    a bug). If so, the pool's idle connections are dropped too: once PostgreSQL has restarted, every
    one of them is dead, and each would fail once more. (SQLite's file is always there: its errors
    are failures like any other.)"""
    if not (isinstance(error, UNAVAILABLE) and on_postgres()):
        return False
    db.close_idle()
    return True


def log_failure(logger, what, error):
    """Log that `what` failed with `error`: one line when the database is unavailable (a traceback
    would tell nothing more), the traceback otherwise."""
    if unavailable(error):
        logger.warning("%s: the database is unavailable (%s)", what, postgres.reason(error))
    else:
        logger.error(what, exc_info=error)


def write():
    """A write transaction during which no one else writes, so read-then-write cannot race: SQLite's
    write lock taken up front; on PostgreSQL an advisory lock that every write() takes first (a
    message's insert takes neither: it decides its own race, data/posting.py)."""
    database = db.obj
    if isinstance(database, PooledSqliteDatabase):
        return database.atomic(lock_type="IMMEDIATE")
    return _locked(database)


@contextmanager
def _locked(database):
    outermost = not database.in_transaction()
    with database.atomic() as transaction:
        if outermost:
            postgres.lock(database, postgres.WRITERS)
        yield transaction


def sql(text):
    """SQL written by hand with SQLite's ? placeholders, in the bound database's own style."""
    return text if db.obj.param == "?" else _converted(text)


@functools.cache
def _converted(text):
    return text.replace("%", "%%").replace("?", "%s")


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
    _shapes.append(shapes)

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


# --- the model every table derives from ---------------------------------------------------------


class BaseModel(Model):
    class Meta:
        database = db

    @classmethod
    def get_by_id(cls, pk):
        """The row with this primary key, its SQL compiled once per model (see data.db.prepared)."""
        row = _by_id(cls, pk).first()
        if row is None:
            raise cls.DoesNotExist(f"{cls.__name__} {pk} does not exist")
        return row


@prepared
def _by_id(model, pk):
    return model.select().where(model._meta.primary_key == pk).limit(1)


class _ByIdAccessor(ForeignKeyAccessor):
    """`message.chat` and the like, loaded on first use by get_by_id: peewee builds that select
    anew every time, and templates follow these links on every render."""

    def get_rel_instance(self, instance):
        value = instance.__data__.get(self.name)
        if value is not None and self.name not in instance.__rel__ and self.field.lazy_load:
            instance.__rel__[self.name] = self.rel_model.get_by_id(value)
        return super().get_rel_instance(instance)


class ForeignKey(ForeignKeyField):
    """A foreign key to a primary key, loaded through _ByIdAccessor."""

    accessor_class = _ByIdAccessor
