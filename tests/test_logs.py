"""The organisation's chat logs and retention: full-text search, filters and pages over a seeded set
of chats, each chat whole with private messages marked, exports that parse, retention that deletes
old ended chats (rows, index entries and files) and nothing younger, and one chatter's data."""

import csv
import html
import io
import json
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from clients import AgentClient
from conftest import ROOT, wait_for

from data import files, logs, posting, retention
from data.db import connection, db, write
from data.logs import Filters, find_chats, page_of
from data.models import Agent, Attachment, Chat, Message, Offer, Participant, Queue, now
from data.schema import open_database

pytestmark = pytest.mark.both_engines  # each test on SQLite and on PostgreSQL

DAY = timedelta(days=1)


# --- a seeded organisation and its chats ------------------------------------------------------


class Seed:
    """Queues, agents and chats written straight into the database, at the times a test needs."""

    def __init__(self):
        self.support = Queue.create(name="Support", slug="support")
        self.sales = Queue.create(name="Sales", slug="sales")
        self.ann = Agent.create(username="ann", name="Ann Agent", password_hash="-")
        self.ben = Agent.create(username="ben", name="Ben Agent", password_hash="-")

    def chat(self, name, started, queue=None, agent=None, state="ended", email="", lines=()):
        """A chat started at `started` (ended ten minutes later unless `state` says otherwise)."""
        chat = Chat.create(
            queue=queue or self.support,
            chatter_name=name,
            chatter_email=email,
            state=state,
            created_at=started,
            accepted_at=started + timedelta(minutes=1) if agent else None,
            ended_at=started + timedelta(minutes=10) if state == "ended" else None,
        )
        if agent is not None:
            Participant.create(chat=chat, agent=agent, joined_at=started)
        for line in lines:
            sender, text, *private = line
            posting.post(
                chat, sender, text, agent=agent if sender == "agent" else None, private=bool(private)
            )
        return chat


@pytest.fixture
def seed(database):
    return Seed()


def ids(query):
    return [c.id for c in query]


def search(text="", **filters):
    return ids(find_chats(Filters(text=text, **filters)))


def days_ago(n, hour=12):
    return (now() - n * DAY).replace(hour=hour, minute=0, second=0, microsecond=0)


# --- search -------------------------------------------------------------------------------------


def test_search_finds_chats_by_words_in_their_messages(seed):
    parcel = seed.chat("Pam", days_ago(3), agent=seed.ann, lines=[("chatter", "Where is my parcel?")])
    refund = seed.chat(
        "Rob", days_ago(2), agent=seed.ben, lines=[("chatter", "I would like a refund please")]
    )
    seed.chat("Quiet", days_ago(1))
    assert search("parcel") == [parcel.id]
    assert search("REFUND") == [refund.id]
    assert search("invoice") == []


def test_search_matches_word_forms_and_prefixes(seed):
    chat = seed.chat("Pam", days_ago(1), lines=[("chatter", "Two refunds were promised, none delivered")])
    assert search("refund") == [chat.id]  # the porter stemmer: refunds ~ refund
    assert search("deliver") == [chat.id]
    assert search("promi*") == [chat.id]
    assert search("prom") == []


def test_every_word_must_occur_somewhere_in_the_chat(seed):
    both = seed.chat("A", days_ago(2), lines=[("chatter", "broken screen"), ("agent", "send it for repair")])
    one = seed.chat("B", days_ago(1), lines=[("chatter", "broken hinge")])
    assert search("broken") == [one.id, both.id]
    assert search("broken screen") == [both.id]


def test_search_finds_private_messages_too(seed):
    chat = seed.chat("Pam", days_ago(1), agent=seed.ann, lines=[("agent", "customer seems upset", True)])
    assert search("upset") == [chat.id]


@pytest.mark.parametrize(
    "typed",
    [
        '"',
        "AND",
        "OR OR",
        "NEAR(a b",
        "*",
        "text:secret",
        "'; DROP TABLE message; --",
        "(((",
        "-x",
        "^a",
        "a + b",
    ],
)
def test_what_people_type_is_never_parsed_as_fts_syntax(seed, typed):
    seed.chat("Pam", days_ago(1), lines=[("chatter", "text secret drop table x a b")])
    filters = Filters.parse({"q": typed})
    if filters.errors:
        assert filters.errors == {"q": "Search for at least one word."}
    else:
        find_chats(filters).count()  # runs without an FTS5 syntax error
    assert Message.select().count() == 1


def test_search_snippet_marks_the_matching_words(seed):
    text = "Hello, my parcel <b>never</b> arrived at the door"
    chat = seed.chat("Pam", days_ago(1), lines=[("chatter", "nothing here"), ("chatter", text)])
    page = page_of(Filters(text="parcel"))
    assert page.rows[0]["chat"].id == chat.id
    pieces = page.rows[0]["snippet"]
    assert ("parcel", True) in pieces
    assert "".join(p for p, _ in pieces) == text


def test_a_long_message_is_cut_to_a_few_words_around_the_match(seed):
    before, after = (" ".join(f"{word}{n}" for n in range(40)) for word in ("early", "late"))
    seed.chat("Pam", days_ago(1), lines=[("chatter", f"{before} parcels {after}")])
    pieces = page_of(Filters(text="parcel")).rows[0]["snippet"]
    assert ("parcels", True) in pieces
    shown = "".join(p for p, _ in pieces)
    assert shown.startswith("…") and shown.endswith("…")
    assert len(shown.split()) <= 12


def test_messages_stored_before_the_index_existed_are_indexed(tmp_path):
    folder = str(tmp_path / "data")
    database = open_database(folder)
    with database.connection_context():
        s = Seed()
        chat = s.chat("Old", days_ago(1), lines=[("chatter", "ancient history")])
        database.execute_sql("DROP TABLE message_fts")
    database.close_all()
    database = open_database(folder)  # finds no index: creates it from the stored messages
    with database.connection_context():
        assert search("ancient") == [chat.id]
    database.close_all()


# --- filters and pages --------------------------------------------------------------------------


def test_filters_by_queue_agent_dates_and_status(seed):
    a = seed.chat("A", days_ago(10), queue=seed.support, agent=seed.ann, lines=[("chatter", "hello")])
    b = seed.chat("B", days_ago(5), queue=seed.sales, agent=seed.ben, lines=[("chatter", "hello")])
    c = seed.chat(
        "C", days_ago(2), queue=seed.support, agent=seed.ben, state="active", lines=[("chatter", "hi")]
    )
    d = seed.chat("D", days_ago(0), queue=seed.support, state="waiting")
    Participant.create(chat=b, agent=seed.ann)  # an invited colleague counts as an agent of the chat

    assert search() == [d.id, c.id, b.id, a.id]  # newest first
    assert search(queue=seed.support.id) == [d.id, c.id, a.id]
    assert search(queue=seed.sales.id) == [b.id]
    assert search(agent=seed.ann.id) == [b.id, a.id]
    assert search(agent=seed.ben.id) == [c.id, b.id]
    assert search(state="ended") == [b.id, a.id]
    assert search(state="active") == [c.id]
    assert search(state="waiting") == [d.id]
    # the date range holds whole days, both ends included
    assert search(since=days_ago(5).date(), until=days_ago(2).date()) == [c.id, b.id]
    assert search(since=days_ago(10).date(), until=days_ago(10).date()) == [a.id]
    assert search(until=days_ago(6).date()) == [a.id]
    # and they combine with the search
    assert search("hello", agent=seed.ann.id, queue=seed.sales.id) == [b.id]
    assert search("hello", state="active") == []


def test_bad_filters_are_named(seed):
    filters = Filters.parse({"queue": "x", "agent": "1;", "since": "yesterday", "state": "lost"})
    assert set(filters.errors) == {"queue", "agent", "since", "state"}
    filters = Filters.parse({"since": "2026-03-02", "until": "2026-03-01"})
    assert filters.errors == {"until": "The end date is before the start date."}
    assert Filters.parse({"q": "  ", "queue": "", "state": ""}).errors == {}


def test_chats_come_newest_first_a_page_at_a_time(seed):
    start = days_ago(30)
    chats = [seed.chat(f"Visitor {i}", start + timedelta(minutes=i)) for i in range(120)]
    newest_first = [c.id for c in reversed(chats)]
    first = page_of(Filters(), 1)
    assert (first.total, first.pages, first.has_previous, first.has_next) == (120, 3, False, True)
    assert [r["chat"].id for r in first.rows] == newest_first[:50]
    second = page_of(Filters(), 2)
    assert [r["chat"].id for r in second.rows] == newest_first[50:100]
    last = page_of(Filters(), 3)
    assert [r["chat"].id for r in last.rows] == newest_first[100:]
    assert (last.has_previous, last.has_next) == (True, False)
    assert [r["chat"].id for r in page_of(Filters(), 99).rows] == newest_first[100:]  # past the end: the last


def test_filters_survive_as_query_arguments(seed):
    filters = Filters.parse({"q": "parcel", "queue": "2", "since": "2026-01-01", "state": "ended"})
    assert Filters.parse(filters.as_args()) == filters


# --- records and exports ------------------------------------------------------------------------


def test_a_chat_record_holds_every_message_in_order_private_ones_marked(seed):
    chat = seed.chat(
        "Pam",
        days_ago(1),
        agent=seed.ann,
        email="pam@example.com",
        lines=[("chatter", "hello"), ("agent", "note to self", True), ("agent", "hi Pam")],
    )
    record = logs.chat_record(chat)
    assert record["chatter_email"] == "pam@example.com"
    assert record["agents"] == ["Ann Agent"]
    assert [(m["seq"], m["name"], m["private"], m["text"]) for m in record["messages"]] == [
        (1, "Pam", False, "hello"),
        (2, "Ann Agent", True, "note to self"),
        (3, "Ann Agent", False, "hi Pam"),
    ]
    assert json.loads(json.dumps(record)) == record


def test_records_list_the_files_of_each_message_private_ones_marked(seed):
    chat = seed.chat("Pam", days_ago(1), agent=seed.ann)
    sent = {"token": "t" * 32, "name": "invoice.pdf", "content_type": "application/pdf", "size": 1234}
    posting.post(chat, "agent", "for you", agent=seed.ann, private=True, files=[sent])
    record = logs.chat_record(chat)
    assert record["messages"][0]["files"] == [
        {"name": "invoice.pdf", "content_type": "application/pdf", "size": 1234, "private": True}
    ]
    assert "token" not in json.dumps(record)  # a file's token is its address: never exported
    row = next(csv.DictReader(io.StringIO(logs.to_csv([record]))))
    assert row["files"] == "invoice.pdf"


def test_csv_export_parses_with_one_row_per_message(seed):
    a = seed.chat(
        'Pam, "the" Chatter', days_ago(2), agent=seed.ann, lines=[("chatter", "line one\nline two")]
    )
    b = seed.chat("Rob", days_ago(1), lines=[("chatter", '=HYPERLINK("http://evil")'), ("agent", "ok", True)])
    rows = list(csv.DictReader(io.StringIO(logs.to_csv(logs.records([b, a])))))
    assert [(int(r["chat_id"]), int(r["seq"])) for r in rows] == [(b.id, 1), (b.id, 2), (a.id, 1)]
    assert rows[2]["chatter_name"] == 'Pam, "the" Chatter'
    assert rows[2]["text"] == "line one\nline two"
    assert rows[0]["text"] == '\'=HYPERLINK("http://evil")'  # a spreadsheet shows it, never runs it
    assert [r["private"] for r in rows] == ["no", "yes", "no"]


# --- retention ----------------------------------------------------------------------------------


def test_retention_deletes_old_ended_chats_and_nothing_younger(seed):
    old = seed.chat("Old", days_ago(40), agent=seed.ann, lines=[("chatter", "obsolete question")])
    Offer.create(chat=old, agent=seed.ann, state="accepted", expires_at=days_ago(40))
    edge = seed.chat("Edge", days_ago(29), lines=[("chatter", "recent question")])
    open_old = seed.chat("Still open", days_ago(60), state="active", lines=[("chatter", "obsolete too")])
    waiting_old = seed.chat("Waiting long", days_ago(60), state="waiting")
    retention.set_retention_days(30)

    assert retention.purge_expired() == 1
    assert Chat.get_or_none(Chat.id == old.id) is None
    assert Message.select().where(Message.chat == old.id).count() == 0
    assert Participant.select().where(Participant.chat == old.id).count() == 0
    assert Offer.select().where(Offer.chat == old.id).count() == 0
    assert search("obsolete") == [open_old.id]  # gone from the index too
    assert {c.id for c in Chat.select()} == {edge.id, open_old.id, waiting_old.id}
    assert retention.purge_expired() == 0


def test_without_a_retention_setting_everything_is_kept(seed):
    seed.chat("Ancient", days_ago(3000))
    assert retention.retention_days() is None
    assert retention.purge_expired() == 0
    retention.set_retention_days(None)
    assert retention.purge_expired() == 0
    assert Chat.select().count() == 1


def test_retention_deletes_the_files_of_the_chats_it_deletes(seed, tmp_path):
    old = seed.chat("Old", days_ago(40), lines=[("chatter", "see attached")])
    young = seed.chat("Young", days_ago(1), lines=[("chatter", "see attached")])
    paths = {}
    for chat in (old, young):
        message = Message.get(Message.chat == chat)
        attachment = Attachment.create(
            chat=chat, message=message, name="a.txt", content_type="text/plain", size=2
        )
        with open(files.path_of(attachment.token), "w") as f:
            f.write("hi")
        paths[chat.id] = files.path_of(attachment.token)
    retention.set_retention_days(30)
    assert retention.purge_expired() == 1
    assert not os.path.exists(paths[old.id])
    assert os.path.exists(paths[young.id])
    assert Attachment.select().count() == 1


def test_the_server_runs_retention_at_most_once_a_minute(seed):
    seed.chat("Old", days_ago(40))
    retention.set_retention_days(30)  # a new setting: the next run comes at once
    clock = iter([1000.0, 1030.0, 1061.0])
    assert retention.run_if_due(lambda: next(clock)) == 1
    seed.chat("Old too", days_ago(50))
    assert retention.run_if_due(lambda: next(clock)) == 0  # 30 s later: not yet
    assert retention.run_if_due(lambda: next(clock)) == 1  # 61 s later


def test_export_chatter_finds_all_their_chats_whatever_the_case(seed):
    a = seed.chat("Pam", days_ago(3), email="Pam@Example.com", lines=[("chatter", "first")])
    b = seed.chat("Pam", days_ago(1), email="pam@example.com", state="active", lines=[("chatter", "second")])
    seed.chat("Other", days_ago(1), email="other@example.com", lines=[("chatter", "not hers")])
    found = retention.export_chatter(" PAM@example.com ")
    assert [c["id"] for c in found["chats"]] == [a.id, b.id]
    assert [m["text"] for c in found["chats"] for m in c["messages"]] == ["first", "second"]


def test_delete_chatter_deletes_their_ended_chats_and_keeps_open_ones(seed):
    seed.chat("Pam", days_ago(3), email="pam@example.com", lines=[("chatter", "forget me")])
    still_open = seed.chat("Pam", days_ago(0), email="PAM@example.com", state="active")
    other = seed.chat("Other", days_ago(3), email="other@example.com")
    assert retention.delete_chatter("pam@example.com") == (1, 1)
    assert {c.id for c in Chat.select()} == {still_open.id, other.id}
    assert search("forget") == []


# --- over a real server ---------------------------------------------------------------------------


@pytest.fixture
def seeded(server):
    """The server's database, opened from this process to seed chats; closed again afterwards."""
    database = open_database(str(server.folder), server.database_url)
    with connection():
        support = Queue.get(Queue.name == "Support")
        sales = Queue.get(Queue.name == "Sales")
        ann = Agent.get(Agent.username == "ann")
        ben = Agent.get(Agent.username == "ben")
    yield {"support": support, "sales": sales, "ann": ann, "ben": ben}
    if not db.is_closed():
        db.close()
    database.close_all()


def seed_chat(name, started, queue, agent=None, state="ended", email="", lines=()):
    with connection():
        with write():
            chat = Chat.create(
                queue=queue,
                chatter_name=name,
                chatter_email=email,
                state=state,
                created_at=started,
                ended_at=started + timedelta(minutes=10) if state == "ended" else None,
            )
            if agent is not None:
                Participant.create(chat=chat, agent=agent, joined_at=started)
        for sender, text, *private in lines:
            posting.post(
                chat, sender, text, agent=agent if sender == "agent" else None, private=bool(private)
            )
    return chat.id


def page_text(response):
    return html.unescape(re.sub(r"<[^>]+>", " ", response.text))


def listed(response):
    """Chat ids in the order the logs page lists them."""
    return [int(i) for i in re.findall(r'<tr id="log-row-(\d+)"', response.text)]


def test_logs_page_searches_filters_and_pages(server, seeded):
    s = seeded
    parcel = seed_chat(
        "Pam Parcel", days_ago(3), s["support"], s["ann"], lines=[("chatter", "my parcel is lost")]
    )
    sale = seed_chat(
        "Sam Sale", days_ago(2), s["sales"], s["ben"], lines=[("chatter", "a discount on parcels?")]
    )
    naughty = seed_chat(
        "<b>Bold</b>", days_ago(1), s["support"], lines=[("chatter", "<script>x</script> parcel")]
    )
    sue = AgentClient(server.url, "sue").login()

    everything = sue.get("/logs")
    assert listed(everything) == [naughty, sale, parcel]
    assert "<b>Bold</b>" not in everything.text and "&lt;b&gt;Bold&lt;/b&gt;" in everything.text

    found = sue.get("/logs", params={"q": "parcel"})
    assert listed(found) == [naughty, sale, parcel]
    assert "<mark>parcel</mark>" in found.text
    assert "<script>x</script>" not in found.text
    assert listed(sue.get("/logs", params={"q": "parcel", "queue": s["sales"].id})) == [sale]
    assert listed(sue.get("/logs", params={"agent": s["ann"].id})) == [parcel]
    day = days_ago(2).date().isoformat()
    assert listed(sue.get("/logs", params={"since": day, "until": day})) == [sale]
    assert listed(sue.get("/logs", params={"q": "lost", "state": "ended"})) == [parcel]

    bad = sue.get("/logs", params={"since": "02/03/2026"})
    assert bad.status_code == 400
    assert "Give the date as YYYY-MM-DD." in page_text(bad)
    sue.close()


def test_logs_page_links_the_next_page_with_the_same_filters(server, seeded):
    for i in range(55):
        seed_chat(
            f"Visitor {i}", days_ago(5) + timedelta(minutes=i), seeded["support"], lines=[("chatter", "same")]
        )
    sue = AgentClient(server.url, "sue").login()
    first = sue.get("/logs", params={"q": "same"})
    assert "Page 1 of 2" in first.text
    next_link = html.unescape(re.search(r'<a href="([^"]+)" rel="next">Next page</a>', first.text).group(1))
    assert "q=same" in next_link and "page=2" in next_link
    second = sue.get(next_link)
    assert len(listed(second)) == 5
    assert "Previous page" in second.text
    sue.close()


def test_a_chat_is_shown_whole_in_order_with_private_messages_marked(server, seeded):
    s = seeded
    chat = seed_chat(
        "Pam",
        days_ago(1),
        s["support"],
        s["ann"],
        email="pam@example.com",
        lines=[("chatter", "first words"), ("agent", "a private note", True), ("agent", "last words")],
    )
    sue = AgentClient(server.url, "sue").login()
    page = sue.get(f"/logs/{chat}")
    assert page.status_code == 200
    articles = re.findall(r'<article id="m-\d+-(\d+)" class="([^"]*)".*?</article>', page.text, re.DOTALL)
    assert [int(seq) for seq, _ in articles] == [1, 2, 3]
    private = re.search(r'<article id="m-\d+-2".*?</article>', page.text, re.DOTALL).group(0)
    assert "private" in articles[1][1]
    assert re.search(r'class="private-tag">.*(👁|<svg).*Private</span>', private, re.DOTALL)
    assert "Private" not in re.search(r'<article id="m-\d+-3".*?</article>', page.text, re.DOTALL).group(0)
    assert "pam@example.com" in page.text and "Ann Agent" in page.text
    sue.close()


def test_exports_of_one_chat_and_of_the_filtered_set_parse(server, seeded):
    s = seeded
    a = seed_chat(
        "Pam", days_ago(2), s["support"], s["ann"], lines=[("chatter", "parcel"), ("agent", "note", True)]
    )
    b = seed_chat("Rob", days_ago(1), s["sales"], lines=[("chatter", "parcel again")])
    seed_chat("Quiet", days_ago(1), s["support"], lines=[("chatter", "nothing")])
    sue = AgentClient(server.url, "sue").login()

    one = sue.get(f"/logs/{a}.json")
    assert one.headers["Content-Disposition"] == f'attachment; filename="chat-{a}.json"'
    record = json.loads(one.text)
    assert record["id"] == a and [m["private"] for m in record["messages"]] == [False, True]
    one_csv = sue.get(f"/logs/{a}.csv")
    assert one_csv.headers["Content-Disposition"].startswith("attachment;")
    assert [r["text"] for r in csv.DictReader(io.StringIO(one_csv.text))] == ["parcel", "note"]

    many = sue.get("/logs/export.json", params={"q": "parcel"})
    assert many.headers["Content-Disposition"].startswith("attachment;")
    assert [c["id"] for c in json.loads(many.text)] == [b, a]
    many_csv = sue.get("/logs/export.csv", params={"q": "parcel", "queue": s["sales"].id})
    assert {int(r["chat_id"]) for r in csv.DictReader(io.StringIO(many_csv.text))} == {b}
    assert sue.get("/logs/export.json", params={"state": "nonsense"}).status_code == 400
    assert sue.get("/logs/999999.json").status_code == 404
    sue.close()


def test_the_server_deletes_expired_chats_itself(server, seeded):
    s = seeded
    old = seed_chat("Old", days_ago(40), s["support"], s["ann"], lines=[("chatter", "old news")])
    young = seed_chat("Young", days_ago(10), s["support"], lines=[("chatter", "fresh news")])
    open_old = seed_chat("Open", days_ago(40), s["support"], state="active")
    sue = AgentClient(server.url, "sue").login()
    sue.get("/admin")
    assert sue.post("/admin/retention", {"retention_days": "30"}).status_code == 200

    def ids_left():
        with connection():
            return {c.id for c in Chat.select(Chat.id)}

    wait_for(lambda: old not in ids_left(), message="the server to delete the expired chat")
    assert {young, open_old} <= ids_left()
    assert sue.get(f"/logs/{old}").status_code == 404
    sue.close()


def test_chatter_commands_export_and_delete_one_email(server, seeded):
    s = seeded
    mine = seed_chat("Pam", days_ago(3), s["support"], email="pam@example.com", lines=[("chatter", "mine")])
    other = seed_chat("Rob", days_ago(3), s["support"], email="rob@example.com", lines=[("chatter", "his")])

    def parley(*args):
        return subprocess.run(server.command(*args), cwd=ROOT, env=server.env, capture_output=True, text=True)

    exported = parley("export-chatter", "PAM@example.com")
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert [c["id"] for c in data["chats"]] == [mine]
    assert data["chats"][0]["messages"][0]["text"] == "mine"

    deleted = parley("delete-chatter", "pam@example.com")
    assert deleted.returncode == 0, deleted.stderr
    assert "Deleted 1 chat of pam@example.com." in deleted.stdout
    with connection():
        assert {c.id for c in Chat.select(Chat.id)} == {other}
    assert json.loads(parley("export-chatter", "pam@example.com").stdout)["chats"] == []


def test_parley_help_lists_the_supervisor_commands():
    result = subprocess.run([sys.executable, "-m", "cli", "--help"], cwd=ROOT, capture_output=True, text=True)
    for command in ("export", "export-chatter", "delete-chatter"):
        assert command in result.stdout
