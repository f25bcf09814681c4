"""Messages left when nobody can answer, and what a waiting chatter is told, as plain functions on a
real SQLite file: who reads them, replies and forwards as mail, handling, retention and erasure,
the wait estimate, and when a waiting chatter is offered to leave a message."""

import os
from datetime import timedelta

import orgs
import pytest
from orgs import fresh

from data import availability, files, left_mail, left_messages, posting, retention, routing
from data.admin import Invalid
from data.changes import RoutingError
from data.left_models import LeftFile, LeftMail, LeftMessage
from data.models import Agent, AgentProfile, Chat, Message, now
from data.schema import open_database

pytestmark = pytest.mark.both_engines  # each test on SQLite and on PostgreSQL


class Org(orgs.Org):
    """Support and Sales with their desks; ann holds Support, dan Sales, sue supervises."""

    def __init__(self):
        super().__init__()
        self.ann = self.agent("ann", self.support_desk)
        self.dan = self.agent("dan", self.sales_desk)
        self.sue = self.agent("sue", supervisor=True)

    @staticmethod
    def agent(username, *profiles, supervisor=False):
        agent = Agent.create(
            username=username, password_hash="-", name=username.title(), supervisor=supervisor
        )
        for profile in profiles:
            AgentProfile.create(agent=agent, profile=profile)
        return agent


@pytest.fixture
def org(database):
    return Org()


def saved_file(name="photo.png", content=b"\x89PNG\r\n\x1a\nnot really"):
    """A file as data/files.py saves it (its checks are tested in test_attachments.py)."""
    token = f"token-{name}"
    with open(files.path_of(token), "wb") as f:
        f.write(content)
    return {"token": token, "name": name, "content_type": "image/png", "size": len(content)}


def leave(queue, text="My parcel is lost.", email="carl@example.com", **more):
    message, _ = left_messages.leave(queue, "Carl", email, text, **more)
    return message


# --- leaving one ----------------------------------------------------------------------------------


def test_a_message_left_is_stored_with_its_files_and_forwarded_to_the_queues_address(org):
    org.support.email = "help@shop.example"
    org.support.save()
    message = leave(org.support, saved_files=[saved_file()])
    assert (message.name, message.email, message.text) == ("Carl", "carl@example.com", "My parcel is lost.")
    assert [f.name for f in message.files] == ["photo.png"]
    (forward,) = LeftMail.select()
    assert (forward.kind, forward.to_address, forward.reply_to) == (
        "forward",
        "help@shop.example",
        "carl@example.com",
    )
    mail = left_mail.build(forward)
    assert mail["To"] == "help@shop.example" and mail["Reply-To"] == "carl@example.com"
    assert "My parcel is lost." in mail.get_content() and "photo.png" in mail.get_content()
    # a queue without an address forwards nothing
    leave(org.sales)
    assert LeftMail.select().count() == 1


def test_leaving_one_instead_of_waiting_ends_the_chat_and_says_so(org):
    chat, _ = routing.start_chat(org.support, name="Carl", email="carl@example.com")
    posting.post_by_chatter(chat, "Is anyone there?")
    assert left_messages.carried_text(chat) == "Is anyone there?"
    message = leave(org.support, chat=chat)
    assert message.chat_id == chat.id
    assert fresh(chat).state == "ended"
    said = [m.text for m in Message.for_agents(chat)]
    assert "Carl left a message, to be answered by e-mail." in said and "Carl ended the chat." in said
    assert availability.offer_mode(fresh(chat)) == "sent"
    assert left_messages.left_from(chat) == message


def test_a_chat_an_agent_took_meanwhile_leaves_no_message(org):
    chat, _ = routing.start_chat(org.support, name="Carl")
    Chat.update(state="active").where(Chat.id == chat.id).execute()
    with pytest.raises(RoutingError, match="just taken your chat"):
        leave(org.support, chat=chat)
    assert LeftMessage.select().count() == 0


@pytest.mark.parametrize(
    "name, email, text, field",
    [
        ("Carl", "", "Hello", "email"),
        ("Carl", "not-an-address", "Hello", "email"),
        ("Carl", "carl@example.com\r\nBcc: x@evil.example", "Hello", "email"),
        ("Carl", "carl@example.com", "   ", "text"),
        ("Carl", "carl@example.com", "x" * 5001, "text"),
        ("C" * 81, "carl@example.com", "Hello", "name"),
    ],
)
def test_bad_input_is_refused_naming_the_field(name, email, text, field):
    with pytest.raises(Invalid) as caught:
        left_messages.check(name, email, text)
    assert field in caught.value.errors


def test_a_name_loses_its_control_characters():
    assert left_messages.check("Carl\r\nBcc: x", "carl@example.com", "Hi")[0] == "Carl  Bcc: x"


# --- who reads them -------------------------------------------------------------------------------


def test_agents_read_the_messages_of_the_queues_they_hold_and_supervisors_all(org):
    first, second, sales = leave(org.support), leave(org.support, "Second"), leave(org.sales, "Sales one")
    assert list(left_messages.visible_to(org.ann)) == [second, first]  # newest first
    assert list(left_messages.visible_to(org.dan)) == [sales]
    assert list(left_messages.visible_to(org.sue)) == [sales, second, first]
    assert left_messages.visible_or_none(org.dan, first.id) is None
    assert left_messages.unhandled_count(org.ann) == 2
    assert set(left_messages.concerned_agents(org.support.id)) == {org.ann.id, org.sue.id}
    # a disabled profile holds nothing
    org.support_desk.enabled = False
    org.support_desk.save()
    assert list(left_messages.visible_to(org.ann)) == []
    assert left_messages.concerned_agents(org.support.id) == [org.sue.id]


def test_a_reply_goes_to_the_chatter_with_reply_to_the_queues_address_and_keeps_who_wrote_it(org):
    org.support.email = "help@shop.example"
    org.support.save()
    message = leave(org.support)
    with pytest.raises(Invalid):
        left_messages.reply(message, org.ann, "  ")
    left_messages.reply(message, org.ann, "We found it.")
    (reply,) = message.replies
    assert (reply.agent.name, reply.to_address, reply.text) == ("Ann", "carl@example.com", "We found it.")
    mail = left_mail.build(reply)
    assert mail["To"] == "carl@example.com" and mail["Reply-To"] == "help@shop.example"
    assert "Auto-Submitted" not in mail  # a person wrote it
    assert mail.get_content().startswith("We found it.") and "> My parcel is lost." in mail.get_content()
    assert [m.id for m in left_mail.due()] == [m.id for m in LeftMail.select().order_by(LeftMail.id)]


def test_marking_handled_keeps_who_and_when_and_counts_once(org):
    message = leave(org.support)
    assert left_messages.mark_handled(message, org.ann)
    assert not left_messages.mark_handled(message, org.sue)
    message = fresh(message)
    assert message.handled_by_id == org.ann.id and message.handled_at is not None
    assert left_messages.unhandled_count(org.ann) == 0


# --- retention and the chatter's export and erasure ----------------------------------------------


def test_retention_deletes_messages_handled_before_the_period_with_their_files(org):
    old = leave(org.support, saved_files=[saved_file("old.png")])
    left_messages.reply(old, org.ann, "Done.")
    unhandled = leave(org.support, "Still open")
    recent = leave(org.support, "Recent")
    LeftMessage.update(handled_at=now() - timedelta(days=40), handled_by=org.ann.id).where(
        LeftMessage.id == old.id
    ).execute()
    LeftMessage.update(handled_at=now() - timedelta(days=2)).where(LeftMessage.id == recent.id).execute()
    LeftMessage.update(created_at=now() - timedelta(days=90)).where(LeftMessage.id == unhandled.id).execute()
    retention.set_retention_days(30)
    retention.purge_expired()
    assert {m.id for m in LeftMessage.select()} == {unhandled.id, recent.id}
    assert LeftFile.select().count() == 0 and LeftMail.select().count() == 0
    assert not os.path.exists(files.path_of("token-old.png"))


def test_the_chatters_export_and_erasure_cover_the_messages_they_left(org):
    theirs = leave(org.support, email="Carl@Example.com", saved_files=[saved_file("carl.png")])
    left_messages.reply(theirs, org.ann, "Hello Carl")
    other = leave(org.support, email="dora@example.com")
    found = retention.export_chatter("carl@example.com")
    (record,) = found["messages_left"]
    assert record["text"] == "My parcel is lost." and record["files"][0]["name"] == "carl.png"
    assert record["replies"][0]["by"] == "Ann" and record["replies"][0]["text"] == "Hello Carl"
    assert left_messages.delete_left_by(" CARL@example.com ") == 1
    assert [m.id for m in LeftMessage.select()] == [other.id]
    assert LeftFile.select().count() == 0 and not os.path.exists(files.path_of("token-carl.png"))


# --- what a waiting chatter is told ---------------------------------------------------------------


def answered(queue, waited_seconds, accepted_ago=60):
    accepted = now() - timedelta(seconds=accepted_ago)
    return Chat.create(
        queue=queue,
        state="ended",
        created_at=accepted - timedelta(seconds=waited_seconds),
        accepted_at=accepted,
    )


def test_the_wait_estimate_is_the_median_of_the_last_hours_waits_and_none_without_enough(org):
    assert availability.estimated_wait(org.support.id) is None
    answered(org.support, 120)
    answered(org.support, 240)
    answered(org.sales, 60)  # another queue's
    answered(org.support, 30, accepted_ago=2 * 3600)  # answered two hours ago
    assert availability.estimated_wait(org.support.id) is None  # two waits are too few
    answered(org.support, 180)
    assert availability.estimated_wait(org.support.id) == timedelta(minutes=3)
    answered(org.support, 600)
    assert availability.estimated_wait(org.support.id) == timedelta(seconds=210)


@pytest.mark.parametrize(
    "seconds, said",
    [(20, "less than a minute"), (60, "about 1 minute"), (170, "about 3 minutes"), (7200, "about 2 hours")],
)
def test_a_wait_is_said_roughly(seconds, said):
    assert availability.say_wait(timedelta(seconds=seconds)) == said


def test_a_waiting_chatter_is_offered_to_leave_a_message_when_nobody_can_answer_or_past_the_longest_wait(org):
    chat, _ = routing.start_chat(org.support, name="Carl")
    assert availability.offer_mode(chat) == "nobody"  # nobody logged on
    routing.log_on(org.ann, org.support_desk)
    assert availability.offer_mode(fresh(chat)) == ""
    routing.pause(org.ann)
    assert availability.offer_mode(fresh(chat)) == "nobody"  # all of them paused
    routing.resume(org.ann)
    org.support.longest_wait = 60
    org.support.save()
    assert availability.offer_mode(fresh(chat)) == ""
    assert availability.offer_mode(fresh(chat), at=now() + timedelta(seconds=61)) == "late"
    availability.keep_waiting(chat)  # "Keep waiting": not offered again
    assert availability.offer_mode(fresh(chat), at=now() + timedelta(seconds=61)) == ""
    start = fresh(chat).created_at
    assert availability.past_longest_wait(start, start + timedelta(seconds=59)) == []
    assert availability.past_longest_wait(start + timedelta(seconds=59), start + timedelta(seconds=61)) == [
        chat.id
    ]
    assert availability.past_longest_wait(start + timedelta(seconds=61), start + timedelta(seconds=62)) == []


def test_staffing_changes_name_the_queues_that_gained_or_lost_their_last_agent(org, monkeypatch):
    monkeypatch.setattr(availability, "_staffed_before", None)
    assert availability.staffing_changed() == {org.support.id, org.sales.id}  # the first look: all
    assert availability.staffing_changed() == set()
    chat, _ = routing.start_chat(org.support, name="Carl", chose_to_wait=True)  # nobody there
    assert availability.offer_mode(chat) == ""
    routing.log_on(org.ann, org.support_desk)
    assert availability.staffing_changed() == {org.support.id}
    assert not fresh(chat).chose_to_wait  # someone came: should they all go, the offer comes back
    routing.log_on(org.dan, org.sales_desk)
    routing.log_off(org.ann)
    assert availability.staffing_changed() == {org.support.id, org.sales.id}
    assert availability.offer_mode(fresh(chat)) == "nobody"


def test_an_older_database_gains_the_tables_columns_and_index(tmp_path):
    folder = str(tmp_path / "data")
    database = open_database(folder)
    with database.connection_context():
        for table in ("leftmail", "leftfile", "leftmessage"):
            database.execute_sql(f"DROP TABLE {table}")
        database.execute_sql("DROP INDEX chat_queue_id_accepted_at")
        for column in ("timezone", "hours", "closed_dates", "email", "longest_wait"):
            database.execute_sql(f"ALTER TABLE queue DROP COLUMN {column}")
    database.close_all()
    database = open_database(folder)
    with database.connection_context():
        org = Org()
        assert org.support.longest_wait is None and fresh(org.support).timezone == ""
        assert leave(org.support).id
        indexes = [row[1] for row in database.execute_sql("PRAGMA index_list(chat)")]
        assert "chat_queue_id_accepted_at" in indexes
    database.close_all()
