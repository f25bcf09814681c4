"""Whether the server can take work: the database can be written, and the disk has room."""

from data import postgres, quota
from data.db import UNAVAILABLE, db, on_postgres, unavailable, write
from data.models import Setting, now
from data.schema import PRAGMAS

CHECK_WAIT_MS = 500  # a health check waits this long for the write lock, not a request's 5 s


def problem():
    """Why the server cannot take work now, in a few words, or "" when it can."""
    if quota.disk_low():
        return f"less than {quota.settings.min_free // quota.MB} MB of disk is free"
    try:
        _try_a_write()
    except UNAVAILABLE as e:
        unavailable(e)  # on PostgreSQL its dead connections go too
        return f"the database cannot be written ({postgres.reason(e)})"
    return ""


def _try_a_write():
    """Write a row and take it back: the lock is had and the file writable, and nothing changes."""
    if on_postgres():  # the writers' lock (data/db.write) waited for as long
        wait, usual = f"SET lock_timeout = {CHECK_WAIT_MS}", "RESET lock_timeout"
    else:
        wait, usual = (
            f"PRAGMA busy_timeout = {CHECK_WAIT_MS}",
            f"PRAGMA busy_timeout = {PRAGMAS['busy_timeout']}",
        )
    db.execute_sql(wait)
    try:
        with write() as transaction:
            Setting.put("health_check", now().isoformat())
            transaction.rollback()
    finally:
        db.execute_sql(usual)
