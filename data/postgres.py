"""PostgreSQL, when PARLEY_DATABASE_URL names one: its URL, the pool of connections, and the locks that
do what SQLite's one write lock does for Parley."""

import importlib.util
import time
import weakref
from urllib.parse import urlsplit

from playhouse.db_url import parseresult_to_dict
from playhouse.postgres_ext import PooledPsycopg3Database

SCHEMES = ("postgresql", "postgres")
# each a default the URL's query may change, e.g. ?max_connections=40&sslmode=require
POOL = {
    # per process: PostgreSQL allows 100 connections unless told otherwise, and a greenlet holds
    # one only while it asks something; others wait their turn (cooperatively) for `timeout` seconds
    "max_connections": 20,
    "timeout": 10,
    "stale_timeout": 300,
    "connect_timeout": 5,  # libpq's: an unreachable host fails a request in seconds, not minutes
}
# keys of the advisory locks Parley takes (pg_advisory_xact_lock(LOCKS, what)); 0x50726c79 is "Prly"
LOCKS = 0x50726C79
WRITERS = 1  # one write transaction at a time, as SQLite's write lock makes it (data/db.write)
SCHEMA = 2  # one process at a time creates or changes the tables
TRUSTED_FOR = 0.5  # seconds after its last use in which a connection is lent again unasked


class Unreachable(Exception):
    """The database cannot be reached; the text names it (without its password) and what to check."""


def check_url(text):
    """ValueError, saying why, unless `text` is a postgresql://[user[:password]@]host[:port]/database URL."""
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES:
        raise ValueError(
            f"{shown(text)!r} is not a postgresql://user:password@host:port/database URL"
            " (unset, Parley keeps its data in SQLite in PARLEY_DATA)"
        )
    try:
        parseresult_to_dict(parts)  # reads the port
    except ValueError:
        raise ValueError(f"{shown(text)!r} has a bad port") from None
    if not parts.path.strip("/"):
        raise ValueError(f"{shown(text)!r} names no database: add /name after the host")
    if importlib.util.find_spec("psycopg") is None:
        raise ValueError("PostgreSQL needs psycopg: pip install 'parley[postgresql]'")


def shown(url):
    """The URL as it may be printed: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def connect(url):
    """A pool of psycopg 3 connections (psycopg 3 waits cooperatively under gevent) to `url`."""
    params = {**POOL, **parseresult_to_dict(urlsplit(url), unquote_password=True, unquote_user=True)}
    return Pool(**params)


class Pool(PooledPsycopg3Database):
    """peewee's pool, which asks PostgreSQL "SELECT 1" before it lends a connection: a round trip
    for every block of work, as many as the work's own. This one asks only of a connection unused
    for more than TRUSTED_FOR (as HikariCP does): one that worked a moment ago is lent as it is, and
    should the server have gone meanwhile, its query fails (a 503) and the pool drops it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last_used = weakref.WeakKeyDictionary()  # connection -> time.monotonic() it came back

    def _is_closed(self, conn):
        last = self._last_used.get(conn)
        if last is not None and time.monotonic() - last < TRUSTED_FOR and not conn.closed:
            return False
        return super()._is_closed(conn)

    def _close(self, conn, close_conn=False):
        super()._close(conn, close_conn)
        self._last_used[conn] = time.monotonic()


def reach(database, url):
    """Connect once, or raise Unreachable saying what to check."""
    try:
        with database.connection_context():
            database.execute_sql("SELECT 1")
    except Exception as e:  # noqa: BLE001 - whatever the driver says, the operator reads it
        raise Unreachable(
            f"cannot reach the database at {shown(url)}: {reason(e)}. Check that PostgreSQL is running"
            " there, that the host, port, user, password and database name are right, and that it"
            " accepts connections from this machine (pg_hba.conf)."
        ) from None


def reason(error):
    """The first line of what the driver said (libpq adds hints on further lines)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def lock(database, what):
    """Take one of Parley's advisory locks until the transaction ends (waiting for it cooperatively)."""
    database.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (LOCKS, what))
