"""Chats that end by themselves (data/idle.py) and a departed chatter's place in the agent's load
(data/dispatch.py), driven as plain functions on a real database with explicit times."""

from datetime import timedelta

import pytest
from orgs import fresh, later
from test_routing import Org, connect, offer_of, pending, run_in_threads, start, state, texts

from data import dispatch, idle, posting, routing, timing
from data.models import Chat, Queue

pytestmark = pytest.mark.both_engines


@pytest.fixture
def org(database):
    return Org()


def idle_queue(org, seconds):
    Queue.update(idle_after=seconds).where(Queue.id == org.support.id).execute()


def answered(org, agent, name="Zoe"):
    chat = start(org.support, name=name)
    connect(chat, agent)
    return fresh(chat)


def since_accepted(chat, seconds):
    return fresh(chat).accepted_at + timedelta(seconds=seconds)


WARNING = "This chat will close in 2 minutes unless you reply."


def test_a_quiet_chatter_is_warned_once_then_the_chat_ends_with_the_reason(org):
    idle_queue(org, 600)
    ann = org.on("ann")
    chat = answered(org, ann)
    idle.tick(at=since_accepted(chat, 599))
    assert WARNING not in texts(chat)
    idle.tick(at=since_accepted(chat, 600))
    idle.tick(at=since_accepted(chat, 650))  # a second ticker, or the next tick: no second warning
    assert texts(chat).count(WARNING) == 1
    assert state(chat) == "active"
    changes = idle.tick(at=since_accepted(chat, 600 + 120))
    assert state(chat) == "ended"
    assert texts(chat)[-1] == "This chat was closed: Zoe did not reply."
    assert chat.id in changes.chats
    idle.tick(at=since_accepted(chat, 2000))
    assert texts(chat).count("This chat was closed: Zoe did not reply.") == 1


def test_a_reply_after_the_warning_keeps_the_chat_open_and_restarts_the_clock(org):
    idle_queue(org, 600)
    ann = org.on("ann")
    chat = answered(org, ann)
    Chat.update(accepted_at=later(-700)).where(Chat.id == chat.id).execute()
    idle.tick()
    assert texts(chat).count(WARNING) == 1
    posting.post_by_chatter(chat, "still here")
    idle.tick(at=later(121))
    assert state(chat) == "active"
    assert texts(chat).count(WARNING) == 1
    idle.tick(at=later(601))  # a fresh silence of the whole idle time: warned again
    assert texts(chat).count(WARNING) == 2


def test_agents_messages_do_not_keep_a_chat_open(org):
    idle_queue(org, 600)
    ann = org.on("ann")
    chat = answered(org, ann)
    posting.post_by_agent(chat, ann, "Are you there?")
    idle.tick(at=later(601))
    assert WARNING in texts(chat)


def test_a_queue_without_idle_time_never_closes_chats(org):
    ann = org.on("ann")
    chat = answered(org, ann)
    idle.tick(at=later(10**6))
    assert state(chat) == "active"
    assert WARNING not in texts(chat)


def test_the_warning_names_the_lead_time_of_the_setting(org, routing_settings):
    routing_settings.idle_warning = 30
    idle_queue(org, 60)
    chat = answered(org, org.on("ann"))
    idle.tick(at=later(61))
    assert "This chat will close in 30 seconds unless you reply." in texts(chat)
    idle.tick(at=later(92))
    assert state(chat) == "ended"


def gone(chat, at):
    routing.chatter_away(chat)
    return routing.check_away(at=at)


def test_a_chatter_who_left_does_not_count_against_the_agents_capacity(org):
    ann = org.on("ann", max_chats=1)
    chat = answered(org, ann)
    waiting = start(org.support, name="Yan")
    assert pending(agent=ann) == []  # full
    changes = gone(chat, later(timing.settings.leave_grace + 1))
    assert dispatch.agent_load(ann) == 1  # the new offer, not the chat whose chatter left
    assert offer_of(waiting).agent_id == ann.id
    assert texts(chat)[-1] == "This chat ends by itself in 5 minutes unless Zoe comes back."
    assert ann.id in changes.agents


def test_a_chatter_who_comes_back_counts_again(org):
    ann = org.on("ann", max_chats=2)
    chat = answered(org, ann)
    gone(chat, later(timing.settings.leave_grace + 1))
    assert dispatch.agent_load(ann) == 0
    routing.chatter_back(chat)
    assert dispatch.agent_load(ann) == 1
    idle.tick(at=later(timing.settings.left_chat_end + 60))
    assert state(chat) == "active"


def test_a_chat_whose_chatter_left_ends_by_itself_after_the_setting(org, routing_settings):
    routing_settings.left_chat_end = 60
    ann = org.on("ann")
    chat = answered(org, ann)
    gone(chat, later(timing.settings.leave_grace + 1))
    left = fresh(chat).chatter_left_at
    idle.tick(at=left + timedelta(seconds=59))
    assert state(chat) == "active"
    idle.tick(at=left + timedelta(seconds=60))
    idle.tick(at=left + timedelta(seconds=61))
    assert state(chat) == "ended"
    assert texts(chat).count("This chat was closed: Zoe left and did not come back.") == 1
    assert fresh(Chat.get_by_id(chat.id)).ended_at is not None


def test_tickers_of_several_processes_warn_and_end_an_idle_chat_once(org):
    idle_queue(org, 600)
    chat = answered(org, org.on("ann"))
    for at in (since_accepted(chat, 600), since_accepted(chat, 720)):
        results = run_in_threads(*[lambda at=at: idle.tick(at=at)] * 4)
        assert [kind for kind, _ in results] == ["ok"] * 4, results
    assert texts(chat).count(WARNING) == 1
    assert texts(chat).count("This chat was closed: Zoe did not reply.") == 1
    assert state(chat) == "ended"
