"""PostgreSQL's own: a server that cannot reach it refuses to start, a request waiting on it holds up no
other (gevent), an outage answers 503 and passes, the pool asks only of connections unused for a
while, and `parley migrate-data` copies a SQLite organisation. (The routing, socket, privacy,
transcript and logs tests run on PostgreSQL too, timers and races included.)"""

import subprocess
import threading
import time

import peewee
import psycopg
import pytest
import requests
from clients import AgentClient, run_sql
from conftest import ROOT, Parley, free_port, wait_for
from test_live import active_chat, texts
from test_socket_send import sent

from data import invitations, left_messages, mail, postgres, posting, retention, routing
from data.db import connection
from data.logs import Filters, find_chats
from data.models import Agent, Chat, Offer, Profile, Queue
from data.schema import open_database
from data.to_postgres import TABLES


@pytest.fixture
def engine():
    """Every test here runs on PostgreSQL."""
    return "postgresql"


def parley(server, *args, env=None):
    return subprocess.run(
        server.command(*args), cwd=ROOT, env={**server.env, **(env or {})}, capture_output=True, text=True
    )


# --- starting ---------------------------------------------------------------------------------


def test_a_database_that_cannot_be_reached_is_refused_at_start_with_what_to_check(tmp_path):
    port = free_port()  # nothing listens there
    server = Parley(tmp_path / "data", database_url=f"postgresql://parley:s3cret@127.0.0.1:{port}/parley")
    refused = parley(server, "serve", "--port", str(server.port))
    assert refused.returncode == 1
    said = refused.stdout + refused.stderr
    assert f"cannot reach the database at postgresql://parley:***@127.0.0.1:{port}/parley" in said
    assert "Check that PostgreSQL is running" in said
    assert "s3cret" not in said and "Traceback" not in said

    wrong = parley(server, "serve", env={"PARLEY_DATABASE_URL": "mysql://parley:s3cret@127.0.0.1/parley"})
    assert wrong.returncode == 2
    assert "PARLEY_DATABASE_URL: 'mysql://parley:***@127.0.0.1/parley' is not a postgresql://" in wrong.stderr


# --- gevent -----------------------------------------------------------------------------------


def test_a_request_waiting_on_postgresql_holds_up_no_other_request_or_socket_message(server, people):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    page = chatter.connect()
    page.wait_for_seq(chat, 1)

    # the test holds the writers' lock for a second, as a slow query would: starting a chat waits on it
    with psycopg.connect(server.database_url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s, %s)", (postgres.LOCKS, postgres.WRITERS))
        waiting = {}

        def start_a_chat():
            began = time.monotonic()
            waiting["chat"] = people.chatter(server).start(name="Patient")
            waiting["took"] = time.monotonic() - began

        starter = threading.Thread(target=start_a_chat)
        starter.start()
        wait_for(lambda: _waits_for_lock(server), message="the chat start to wait on the lock")

        began = time.monotonic()
        assert chatter.say("over HTTP meanwhile").status_code == 204
        page.send(sent("over the socket meanwhile", "meanwhile-key-1"))
        console.wait_for_seq(chat, 3, timeout=0.9)
        assert time.monotonic() - began < 0.9
        time.sleep(max(0, 1 - (time.monotonic() - began)))
        assert "chat" not in waiting  # still held up
    starter.join(10)
    assert waiting["took"] >= 1
    assert texts(console.text())[-2:] == ["over HTTP meanwhile", "over the socket meanwhile"]


def _waits_for_lock(server):
    found = run_sql(server, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    return found[0][0] == 1


# --- an outage ----------------------------------------------------------------------------------


def test_while_postgresql_is_down_requests_get_a_clear_503_and_then_all_works_again(
    server, people, postgres_server
):
    ann, chatter, chat = active_chat(server, people)
    console = ann.connect()
    assert chatter.say("before the outage").status_code == 204
    console.wait_for_seq(chat, 2)

    postgres_server.stop()
    try:
        refused = chatter.say("during the outage")
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "5"
        assert "cannot reach its database" in refused.text
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 503
        assert ann.get("/").status_code == 503
    finally:
        postgres_server.start()

    wait_for(lambda: requests.get(server.url + "/healthz", timeout=10).status_code == 200, timeout=20)
    assert chatter.say("after the outage").status_code == 204
    console.wait_for_seq(chat, 3)
    said = run_sql(server, "SELECT seq, text FROM message WHERE chat_id = ? ORDER BY seq", chat)
    assert said == [(1, "Ann Agent joined the chat."), (2, "before the outage"), (3, "after the outage")]
    assert "the database is unavailable" in server.log.read_text()  # one line each, no traceback


# --- the pool ----------------------------------------------------------------------------------


def test_the_pool_asks_only_of_a_connection_unused_for_a_while_and_drops_one_that_died(
    postgres_database, monkeypatch
):
    url = postgres_database()
    database = postgres.connect(url)

    def backend():
        with database.connection_context():
            return database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]

    def terminate(pid):
        with psycopg.connect(url, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_for(
                lambda: not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
            )

    # used a moment ago: lent as it is, no round trip; had it died meanwhile, its query fails once
    monkeypatch.setattr(postgres, "TRUSTED_FOR", 60)
    first = backend()
    assert backend() == first
    terminate(first)
    with pytest.raises((peewee.OperationalError, peewee.InterfaceError)):
        backend()
    second = backend()  # the dead one was dropped
    assert second != first

    # unused for longer: asked first, and a dead one is replaced unseen
    monkeypatch.setattr(postgres, "TRUSTED_FOR", 0)
    terminate(second)
    assert backend() not in (first, second)
    database.close_all()


# --- parley migrate-data ----------------------------------------------------------------------


def test_migrate_data_copies_a_sqlite_organisation_with_its_history(tmp_path, postgres_database):
    sqlite = Parley(tmp_path / "data")
    sqlite.load()
    database = open_database(str(sqlite.folder))
    with connection():
        history = _a_history()
        before = {m._meta.table_name: _table(m) for m in TABLES}
    database.close_all()
    url = postgres_database()

    copied = parley(sqlite, "migrate-data", "--to", url)
    assert copied.returncode == 0, copied.stderr
    assert "message: 6 rows in SQLite, 6 in PostgreSQL" in copied.stdout

    database = open_database(str(sqlite.folder), url)
    try:
        with connection():
            assert {m._meta.table_name: _table(m) for m in TABLES} == before
            assert [c.id for c in find_chats(Filters(text="parcels"))] == [history["ended"].id]
            chat, _ = routing.start_chat(Queue.get(Queue.slug == "support"))
            assert chat.id == max(c.id for c in Chat.select()) > history["ended"].id
    finally:
        database.close_all()

    again = parley(sqlite, "migrate-data", "--to", url)
    assert again.returncode == 1
    assert "already holds rows" in again.stderr and "Nothing was copied" in again.stderr
    assert run_sql(Parley(tmp_path / "data", database_url=url), "SELECT count(*) FROM chat") == [(3,)]

    server = Parley(sqlite.folder, database_url=url).start()
    try:
        sue = AgentClient(server.url, "sue").login()
        assert f'id="log-row-{history["ended"].id}"' in sue.get("/logs", params={"q": "parcel"}).text
        sue.close()
    finally:
        server.stop()
    assert not server.errors()


def _a_history():
    """Two chats, one ended with messages, a private note, a file's record, an invitation, a transcript
    mail and a setting, and a message left with its file and reply: a row in every table the
    organisation file does not fill."""
    ann = Agent.get(Agent.username == "ann")
    support = Queue.get(Queue.slug == "support")
    routing.log_on(ann, Profile.get(Profile.name == "Support desk"))
    ended, _ = routing.start_chat(support, name="Pam", email="pam@example.com")
    routing.accept(Offer.get(Offer.chat == ended).id, ann)
    posting.post_by_chatter(ended, "Where are my parcels?")
    posting.post_by_agent(ended, ann, "Looking into it", private=True)
    files = [{"name": "label.txt", "content_type": "text/plain", "size": 5, "token": "t0ken"}]
    posting.post_by_agent(ended, ann, "Your label", files=files)
    ben = Agent.get(Agent.username == "ben")
    routing.log_on(ben, Profile.get(Profile.name == "Support desk"))
    invitations.invite(ended, ann, invitee=Agent.get_by_id(ben.id))
    routing.end_chat(ended, ann)
    mail.queue_transcript(ended, "pam@example.com")
    retention.set_retention_days(30)
    waiting, _ = routing.start_chat(support, name="Walt")
    note = {"name": "order.txt", "content_type": "text/plain", "size": 4, "token": "l3ft"}
    left, _ = left_messages.leave(support, "Lou", "lou@example.com", "Call me back", saved_files=[note])
    left_messages.reply(left, ann, "We will, tomorrow")
    return {"ended": ended, "waiting": waiting}


def _table(model):
    return list(model.select().order_by(model._meta.primary_key).tuples())
