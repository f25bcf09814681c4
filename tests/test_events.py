"""The bus's events: each crosses a process boundary as JSON unchanged, a Log with the plain messages
it carries, and never a private one on a channel a chatter's page hears."""

from datetime import datetime

import pytest

from data.models import Agent, Chat, Message
from live.events import (
    KINDS,
    ChatChanged,
    Goto,
    Inbox,
    Live,
    Log,
    MailStatus,
    Rights,
    SessionsEnded,
    Status,
    Typing,
    Updated,
    from_json,
    to_json,
)
from views.messages import message_html

EVERY_KIND = [
    Log(12),
    ChatChanged(12),
    Updated(12, 5),
    Status(3),
    Live(),
    MailStatus(12),
    Inbox(3),
    Typing(12, "agent:3", True),
    Goto("/login"),
    SessionsEnded(3, 7),
    Rights(3, False),
]


def test_every_kind_is_tried_here():
    assert {type(event) for event in EVERY_KIND} == set(KINDS.values())


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda event: type(event).__name__)
def test_an_event_reads_back_from_json_as_it_was(event):
    assert from_json(to_json(event)) == event


def message(**fields):
    values = dict(
        id=40, chat=Chat(id=12, chatter_name="Ann <b>"), seq=3, created_at=datetime(2026, 12, 4, 9, 5, 7, 123),
        sender="chatter", agent=None, text="my <i>card</i>", private=False, kind="text", file_count=0,
        client_key="k-1",
    )  # fmt: skip
    return Message(**{**values, **fields})


def by_agent(**fields):
    return message(sender="agent", agent=Agent(id=3, name="Bob & co"), client_key=None, **fields)


@pytest.mark.parametrize("viewer", ["agent", "chatter"])
@pytest.mark.parametrize("sent", [message, by_agent], ids=["chatter's", "agent's"])
def test_a_log_carries_its_plain_messages_and_they_show_as_where_they_were_stored(sent, viewer):
    """Another process's views show them without reading them back, exactly as this one's do."""
    original = sent()
    event = from_json(to_json(Log(12, fresh=(original, sent(seq=4, text="more"))), agents_only=True))
    assert [m.seq for m in event.fresh] == [3, 4]
    assert message_html(event.fresh[0], viewer) == message_html(original, viewer)


@pytest.mark.parametrize(
    "fresh",
    [
        (by_agent(private=True),),
        (message(), by_agent(seq=4, private=True)),
    ],
)
def test_a_private_message_never_travels_on_a_channel_for_chatters(fresh):
    text = to_json(Log(12, fresh=fresh))
    assert "card" not in text and from_json(text) == Log(12)
    assert from_json(to_json(Log(12, fresh=fresh), agents_only=True)).fresh[-1].private


@pytest.mark.parametrize("fresh", [(message(file_count=1),), (message(kind="options"),)])
def test_messages_with_files_or_options_are_read_where_they_are_shown(fresh):
    assert from_json(to_json(Log(12, fresh=fresh), agents_only=True)) == Log(12)


def test_events_of_two_kinds_are_two_events_though_their_ids_match():
    """A socket's sender renders each event of a batch once (dict.fromkeys): a chat's change and an
    agent's status with the same id must both be rendered."""
    assert len(dict.fromkeys([ChatChanged(3), Status(3), MailStatus(3), ChatChanged(3)])) == 3
