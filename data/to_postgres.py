"""Copying an organisation with its whole history from its SQLite file into an empty PostgreSQL database
(`parley migrate-data`): every table, row for row, in one transaction; nothing is copied unless all is.

Attachments' files and the outbox stay in the data folder, which every process shares."""

from data import postgres
from data.db import db
from data.schema import TABLES, open_database

BATCH = 1000  # rows read and inserted at a time: a long history never sits in memory whole


class NotEmpty(Exception):
    """The target already holds data; the text says what."""


def copy(folder, url, report=print):
    """Copy the SQLite database in `folder` into the PostgreSQL database at `url`; return
    {table: rows}. NotEmpty if the target holds any row, postgres.Unreachable if it cannot be reached."""
    source = open_database(folder)  # brought up to date with this Parley's tables first
    source.close_all()
    target = open_database(folder, url)  # binds every model to the target; its tables made
    counts = {}
    with target.connection_context(), target.atomic():
        postgres.lock(target, postgres.SCHEMA)
        held = {m._meta.table_name: n for m in TABLES if (n := m.select().count())}
        if held:
            listed = ", ".join(f"{n} in {table}" for table, n in held.items())
            raise NotEmpty(f"the database at {postgres.shown(url)} already holds rows ({listed})")
        with source.connection_context():
            for model in TABLES:
                counts[model._meta.table_name] = _copy_table(model, source)
        for model in TABLES:
            table = model._meta.table_name
            copied = model.select().count()
            report(f"{table}: {counts[table]} rows in SQLite, {copied} in PostgreSQL")
            if copied != counts[table]:
                raise RuntimeError(f"{table}: {copied} rows copied of {counts[table]}; nothing was kept")
    target.close_all()
    return counts


def _copy_table(model, source):
    """Copy every row of `model`'s table from `source` to the bound database; how many there were."""
    fields = model._meta.sorted_fields
    rows = model.select(*fields).order_by(model._meta.primary_key).bind(source).tuples().iterator()
    total = 0
    while batch := [row for _, row in zip(range(BATCH), rows, strict=False)]:
        model.insert_many(batch, fields=fields).as_rowcount().execute()
        total += len(batch)
    # the ids came along: the next one made must follow the highest
    table = model._meta.table_name
    db.execute_sql(
        f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), COALESCE(MAX(id), 0) + 1, false)"
        f' FROM "{table}"'
    )
    return total
