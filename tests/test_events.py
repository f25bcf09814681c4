"""The bus's events: each crosses a process boundary as JSON unchanged, but for what only helps here."""

import pytest

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


def test_a_log_s_fresh_messages_stay_in_this_process():
    """Another process's sockets read the messages from the database, as after a reconnect."""
    assert to_json(Log(12, fresh=("a message stored here",))) == '["Log", 12]'


def test_events_of_two_kinds_are_two_events_though_their_ids_match():
    """A socket's sender renders each event of a batch once (dict.fromkeys): a chat's change and an
    agent's status with the same id must both be rendered."""
    assert len(dict.fromkeys([ChatChanged(3), Status(3), MailStatus(3), ChatChanged(3)])) == 3
