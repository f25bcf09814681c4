"""Away agents (data/presence.py): a console gone past the grace stops offers and moves its pending
offers on; its chats go back to the queue after a further grace unless the agent returns. Driven
as plain functions on a real database with explicit times."""

import pytest
from orgs import fresh, later
from test_routing import Org, connect, holder, offer_of, pending, run_in_threads, start, state

from data import admin, presence, routing, timing
from data.changes import RoutingError
from data.models import Agent, now

pytestmark = pytest.mark.both_engines


@pytest.fixture
def org(database):
    return Org()


def away_at():
    return later(timing.settings.away_grace + 1)


def test_an_agent_whose_console_is_gone_is_away_and_its_offer_moves_on_at_once(org):
    ann = org.on("ann")
    chat = start(org.support)
    offer = offer_of(chat)
    ben = org.on("ben")
    presence.seen([ben.id], at=away_at())  # ben's console is open; ann's is not
    changes = presence.tick(at=away_at())
    assert fresh(ann).away_since is not None and ann.id in changes.agents
    assert fresh(offer).state == "withdrawn"
    assert holder(chat) == ben.id
    start(org.support)
    assert pending(agent=ann) == []  # an away agent is offered nothing
    live = admin.live_snapshot()
    assert [line["agent"].away_since is not None for line in live["agents"]] == [True, False]
    assert [a.id for a in live["assignable"]] == [ben.id]
    with pytest.raises(RoutingError, match="Ann is not available"):
        routing.assign(start(org.support), ann)


def test_a_console_seen_within_the_grace_keeps_the_agent_available(org):
    ann = org.on("ann")
    presence.seen([ann.id], at=later(timing.settings.away_grace - 1))
    presence.tick(at=away_at())
    assert fresh(ann).away_since is None
    chat = start(org.support)
    assert holder(chat) == ann.id


def test_an_away_agents_chats_are_unattended_then_go_back_to_the_queue(org):
    ann = org.on("ann")
    chat = start(org.support, name="Zoe")
    connect(chat, ann)
    presence.tick(at=away_at())
    assert state(chat) == "active"
    assert [line["unattended"] for line in admin.live_snapshot()["active"]] == [True]
    later_still = later(timing.settings.away_grace + timing.settings.unattended_grace + 2)
    ben = org.on("ben")
    presence.seen([ben.id], at=later_still)
    presence.tick(at=later_still)
    assert fresh(ann).status == "off"
    assert holder(chat) == ben.id  # back in the queue, offered to ben


def test_an_agent_who_returns_in_time_keeps_the_chats_and_gets_offers_again(org):
    ann = org.on("ann")
    chat = start(org.support, name="Zoe")
    connect(chat, ann)
    presence.tick(at=away_at())
    changes = presence.seen([ann.id], at=now())
    assert fresh(ann).away_since is None and ann.id in changes.agents
    back_at = later(timing.settings.unattended_grace + 1)
    presence.seen([ann.id], at=back_at)  # the console stays open
    presence.tick(at=back_at)
    assert fresh(ann).status == "available"
    assert state(chat) == "active"
    assert holder(start(org.support)) == ann.id


def test_tickers_of_several_processes_mark_an_agent_away_once(org):
    ann = org.on("ann")
    chat = start(org.support)
    offer_of(chat)
    at = away_at()
    results = run_in_threads(*[lambda: presence.tick(at=at)] * 4)
    assert [kind for kind, _ in results] == ["ok"] * 4, results
    assert [ann.id in changes.agents for _, changes in results].count(True) == 1
    assert Agent.get_by_id(ann.id).away_since == at
