"""Whether the server can take work: the database can be written, and the disk has room."""

from peewee import OperationalError

from data import quota
from data.db import db, write
from data.models import Setting, now
from data.schema import PRAGMAS

CHECK_WAIT_MS = 500  # a health check waits this long for the write lock, not a request's 5 s


def problem():
    """Why the server cannot take work now, in a few words, or "" when it can."""
    if quota.disk_low():
        return f"less than {quota.settings.min_free // quota.MB} MB of disk is free"
    try:
        _try_a_write()
    except OperationalError as e:
        return f"the database cannot be written ({e})"
    return ""


def _try_a_write():
    """Write a row and take it back: the lock is had and the file writable, and nothing changes."""
    db.execute_sql(f"PRAGMA busy_timeout = {CHECK_WAIT_MS}")
    try:
        with write() as transaction:
            Setting.put("health_check", now().isoformat())
            transaction.rollback()
    finally:
        db.execute_sql(f"PRAGMA busy_timeout = {PRAGMAS['busy_timeout']}")
