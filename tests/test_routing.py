"""The routing state machine, driven as plain functions on a real SQLite file (no Flask, no browser).

Time is passed explicitly (`at=`) wherever routing accepts it, so nothing here sleeps.
"""

import threading
from datetime import timedelta

import orgs
import pytest
from orgs import fresh, later

from data import dispatch, participants, posting, routing, timing
from data.changes import Changes, RoutingError
from data.db import connection
from data.models import (
    Agent,
    AgentProfile,
    Chat,
    Message,
    Offer,
    Participant,
    Profile,
    now,
)
from data.schema import open_database

pytestmark = pytest.mark.both_engines  # each test on SQLite and on PostgreSQL

# --- the organisation every test starts from ------------------------------------------------


class Org(orgs.Org):
    """Two queues, three profiles, and a factory for agents."""

    def __init__(self):
        super().__init__()
        self.everything = self.profile("Everything", self.support, self.sales)

    def agent(self, username, profiles=None, max_chats=3):
        # a placeholder hash: hashing real passwords is slow and irrelevant to routing
        agent = Agent.create(username=username, password_hash="-", name=username.title(), max_chats=max_chats)
        for profile in profiles or [self.support_desk, self.sales_desk, self.everything]:
            AgentProfile.create(agent=agent, profile=profile)
        return agent

    def on(self, username, profile=None, max_chats=3, idle_since=None):
        """A new agent logged on (with `profile`, Support desk by default)."""
        agent = self.agent(username, max_chats=max_chats)
        routing.log_on(agent, profile or self.support_desk)
        if idle_since is not None:
            Agent.update(idle_since=idle_since).where(Agent.id == agent.id).execute()
        return fresh(agent)


@pytest.fixture
def org(database):
    return Org()


def pending(chat=None, agent=None):
    query = Offer.select().where(Offer.state == "pending")
    if chat is not None:
        query = query.where(Offer.chat == chat)
    if agent is not None:
        query = query.where(Offer.agent == agent)
    return list(query.order_by(Offer.id))


def offer_of(chat):
    """The one pending offer of `chat` (failing if there is not exactly one)."""
    offers = pending(chat)
    assert len(offers) == 1, f"expected one pending offer of chat {chat.id}, found {len(offers)}"
    return offers[0]


def holder(chat):
    """The agent the chat is offered to now, or None."""
    offers = pending(chat)
    assert len(offers) <= 1, f"chat {chat.id} is offered to {len(offers)} agents at once"
    return offers[0].agent_id if offers else None


def state(chat):
    return fresh(chat).state


def texts(chat):
    return [m.text for m in Message.for_agents(chat)]


def start(queue, name=""):
    chat, _ = routing.start_chat(queue, name=name)
    return chat


def connect(chat, agent):
    """Offer-and-accept shortcut: `agent` must hold the chat's pending offer."""
    offer = offer_of(chat)
    assert offer.agent_id == agent.id
    routing.accept(offer.id, agent)
    return offer


def run_in_threads(*jobs):
    """Run each job in its own thread (each with its own pooled connection), all released at once."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(i, job):
        with connection():
            barrier.wait()
            try:
                results[i] = ("ok", job())
            except Exception as e:  # noqa: BLE001 - the outcome is what the test checks
                results[i] = ("error", e)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a thread hung"
    return results


# --- who gets a new chat ------------------------------------------------------------------


def test_new_chat_is_offered_to_exactly_one_available_agent(org):
    agents = [org.on(name) for name in ("ann", "ben", "cat")]
    chat = start(org.support)
    offers = pending(chat)
    assert len(offers) == 1
    assert offers[0].agent_id in {a.id for a in agents}
    assert state(chat) == "offered"
    assert offers[0].expires_at == offers[0].created_at + timedelta(seconds=timing.settings.offer_timeout)


def test_new_chat_goes_to_the_longest_idle_agent(org):
    t = now()
    ann = org.on("ann", idle_since=t - timedelta(minutes=10))
    ben = org.on("ben", idle_since=t - timedelta(minutes=30))
    cat = org.on("cat", idle_since=t - timedelta(minutes=20))
    # each offer makes its agent the most recently busy, so the next chat goes to the next-longest idle
    assert [holder(start(org.support)) for _ in range(3)] == [ben.id, cat.id, ann.id]


def test_log_on_sets_idle_since(org):
    before = now()
    ann = org.on("ann")
    assert before <= ann.idle_since <= now()
    assert ann.status == "available"
    assert ann.profile_id == org.support_desk.id


def test_being_offered_a_chat_sets_idle_since(org):
    ann = org.on("ann", idle_since=now() - timedelta(hours=1))
    start(org.support)
    assert fresh(ann).idle_since > now() - timedelta(minutes=1)


def test_pending_offers_count_toward_max_chats(org):
    ann = org.on("ann", max_chats=2)
    chats = [start(org.support) for _ in range(3)]
    assert [holder(c) for c in chats] == [ann.id, ann.id, None]
    assert state(chats[2]) == "waiting"
    assert dispatch.agent_load(ann) == 2


def test_accepted_chats_count_toward_max_chats(org):
    ann = org.on("ann", max_chats=1)
    first = start(org.support)
    connect(first, ann)
    second = start(org.support)
    assert holder(second) is None
    assert dispatch.agent_load(ann) == 1


def test_paused_agent_gets_no_offers(org):
    ann = org.on("ann")
    routing.pause(ann, reason="coffee")
    assert fresh(ann).status == "paused"
    assert fresh(ann).paused_reason == "coffee"
    chat = start(org.support)
    assert holder(chat) is None
    assert state(chat) == "waiting"


def test_logged_off_agent_gets_no_offers(org):
    ann = org.on("ann")
    routing.log_off(ann)
    assert fresh(ann).status == "off"
    assert holder(start(org.support)) is None
    # never logged on at all
    org.agent("ben")
    assert holder(start(org.support)) is None


def test_agent_at_capacity_gets_no_offers(org):
    ann = org.on("ann", max_chats=1)
    ben = org.on("ben", max_chats=1, idle_since=now())
    first = start(org.support)
    second = start(org.support)
    third = start(org.support)
    assert {holder(first), holder(second)} == {ann.id, ben.id}
    assert holder(third) is None


def test_agent_whose_profile_lacks_the_queue_gets_no_offers(org):
    org.on("ann", profile=org.sales_desk)
    chat = start(org.support)
    assert holder(chat) is None
    ben = org.on("ben", profile=org.support_desk)
    assert holder(chat) == ben.id


def test_agent_offers_follow_the_profile_logged_on_with(org):
    ann = org.on("ann", profile=org.everything)
    assert holder(start(org.sales)) == ann.id
    assert holder(start(org.support)) == ann.id


def test_logging_on_again_with_another_profile_withdraws_offers_outside_it(org):
    ann = org.on("ann", profile=org.everything)
    ben = org.on("ben", profile=org.sales_desk, idle_since=now() + timedelta(hours=1))
    sales_chat = start(org.sales)
    support_chat = start(org.support)
    assert holder(sales_chat) == ann.id and holder(support_chat) == ann.id
    routing.log_on(ann, org.support_desk)
    assert holder(support_chat) == ann.id
    assert holder(sales_chat) == ben.id


def test_disabled_agent_gets_no_offers(org):
    ann = org.on("ann")
    Agent.update(enabled=False).where(Agent.id == ann.id).execute()
    chat = start(org.support)
    assert holder(chat) is None
    assert state(chat) == "waiting"


def test_log_on_with_a_profile_the_agent_may_not_use_is_refused(org):
    ann = org.agent("ann", profiles=[org.sales_desk])
    with pytest.raises(RoutingError, match="may not log on"):
        routing.log_on(ann, org.support_desk)
    assert fresh(ann).status == "off"


def test_log_on_with_a_disabled_profile_is_refused(org):
    ann = org.agent("ann", profiles=[org.support_desk])
    Profile.update(enabled=False).where(Profile.id == org.support_desk.id).execute()
    with pytest.raises(RoutingError):
        routing.log_on(ann, org.support_desk)


# --- accept -------------------------------------------------------------------------------


def test_accept_connects_the_agent_to_the_chat(org):
    ann = org.on("ann")
    chat = start(org.support, name="Zoe")
    offer = offer_of(chat)
    accepted, changes = routing.accept(offer.id, ann)
    assert accepted.id == chat.id
    chat = fresh(chat)
    assert chat.state == "active"
    assert chat.accepted_at is not None
    assert fresh(offer).state == "accepted"
    assert [p.agent_id for p in Participant.select().where(Participant.chat == chat)] == [ann.id]
    assert [a.id for a in chat.agents()] == [ann.id]
    assert texts(chat)[-1] == "Ann joined the chat."
    assert Message.for_agents(chat)[-1].sender == "system"
    assert participants.is_participant(chat, ann)


def test_accept_after_expiry_is_refused_with_a_clear_message(org):
    ann = org.on("ann")
    chat = start(org.support)
    offer = offer_of(chat)
    routing.expire_offers(at=later(timing.settings.offer_timeout + 1))
    with pytest.raises(RoutingError, match="expired"):
        routing.accept(offer.id, ann)
    assert state(chat) == "waiting"
    assert not Participant.select().exists()


def test_accept_past_the_deadline_is_refused_even_before_the_tick(org):
    ann = org.on("ann")
    chat = start(org.support)
    offer = offer_of(chat)
    Offer.update(expires_at=now() - timedelta(seconds=1)).where(Offer.id == offer.id).execute()
    with pytest.raises(RoutingError, match="expired"):
        routing.accept(offer.id, ann)
    assert state(chat) == "offered"
    assert not Participant.select().exists()


def test_accepting_someone_elses_offer_is_refused(org):
    ann = org.on("ann")
    ben = org.on("ben", idle_since=now() + timedelta(hours=1))
    chat = start(org.support)
    offer = offer_of(chat)
    assert offer.agent_id == ann.id
    with pytest.raises(RoutingError, match="no such offer"):
        routing.accept(offer.id, ben)
    assert fresh(offer).state == "pending"
    assert state(chat) == "offered"
    assert not Participant.select().exists()


def test_accepting_an_unknown_offer_is_refused(org):
    ann = org.on("ann")
    with pytest.raises(RoutingError, match="no such offer"):
        routing.accept(12345, ann)


def test_accepting_twice_is_refused(org):
    ann = org.on("ann")
    chat = start(org.support)
    offer = connect(chat, ann)
    with pytest.raises(RoutingError, match="already accepted"):
        routing.accept(offer.id, ann)
    assert Participant.select().count() == 1


def test_accepting_a_withdrawn_offer_is_refused(org):
    ann = org.on("ann")
    chat = start(org.support)
    offer = offer_of(chat)
    routing.end_chat(chat)
    with pytest.raises(RoutingError, match="withdrawn"):
        routing.accept(offer.id, ann)


def test_two_agents_never_hold_the_same_chat(org):
    agents = [org.on(name) for name in ("ann", "ben", "cat")]
    chats = [start(org.support) for _ in range(5)]
    # whatever happens next, no chat ever has two pending offers or two agents in it
    for agent in agents:
        for offer in pending(agent=agent):
            for other in agents:
                if other.id != agent.id:
                    with pytest.raises(RoutingError):
                        routing.accept(offer.id, other)
            routing.accept(offer.id, agent)
    routing.tick(at=later(timing.settings.offer_timeout * 3))
    for chat in chats:
        assert len(pending(chat)) <= 1
        assert Participant.select().where(Participant.chat == chat).count() <= 1


def test_two_threads_racing_to_accept_the_same_offer_one_wins(org):
    ann = org.on("ann", max_chats=10)
    for _ in range(5):
        chat = start(org.support)
        offer = offer_of(chat)

        def take(offer_id=offer.id):
            return routing.accept(offer_id, ann)

        results = run_in_threads(take, take)
        outcomes = sorted(kind for kind, _ in results)
        assert outcomes == ["error", "ok"], results
        error = next(value for kind, value in results if kind == "error")
        assert isinstance(error, RoutingError)
        assert "already accepted" in str(error)
        assert Participant.select().where(Participant.chat == chat).count() == 1
        assert texts(chat).count("Ann joined the chat.") == 1
        assert state(chat) == "active"


def test_chats_started_at_once_never_overbook_an_agent_or_double_offer_a_chat(org):
    agents = [org.on(name, max_chats=2) for name in ("ann", "ben", "cat")]
    results = run_in_threads(*[lambda: start(org.support)] * 10)
    assert all(kind == "ok" for kind, _ in results), results
    chats = [value for _, value in results]
    for chat in chats:
        assert len(pending(chat)) <= 1
    assert sum(1 for chat in chats if holder(chat)) == 6
    for agent in agents:
        assert len(pending(agent=agent)) == 2
    # the four left are the newest four, waiting in order
    waiting = sorted((c for c in chats if state(c) == "waiting"), key=lambda c: (c.created_at, c.id))
    assert [fresh(c).position() for c in waiting] == [7, 8, 9, 10]


def test_accept_racing_the_chatter_leaving_has_one_consistent_outcome(org):
    ann = org.on("ann")
    chat = start(org.support)
    offer = offer_of(chat)
    results = run_in_threads(lambda: routing.accept(offer.id, ann), lambda: routing.end_chat(chat))
    assert results[1][0] == "ok"
    assert state(chat) == "ended"
    if results[0][0] == "ok":
        assert fresh(offer).state == "accepted"
    else:
        assert "withdrawn" in str(results[0][1])
        assert fresh(offer).state == "withdrawn"
        assert not Participant.select().exists()
    assert dispatch.agent_load(ann) == 0


def test_two_tickers_at_once_expire_an_offer_once_and_offer_its_chat_once(org):
    """As when two server processes tick at the same moment: the database lets one act."""
    ann = org.on("ann")
    ben = org.on("ben", idle_since=now() + timedelta(hours=1))
    chat = start(org.support)
    offer = offer_of(chat)
    at = later(timing.settings.offer_timeout + 1)
    results = run_in_threads(*[lambda: routing.tick(at=at)] * 4)
    assert [kind for kind, _ in results] == ["ok"] * 4, results
    assert [ann.id in changes.agents for _, changes in results].count(True) == 1
    assert fresh(offer).state == "expired" and fresh(ann).status == "paused"
    assert holder(chat) == ben.id
    assert Offer.select().where(Offer.chat == chat).count() == 2


def test_two_tickers_at_once_see_a_departed_chatter_leave_once(org):
    ann = org.on("ann")
    chat = start(org.support)
    connect(chat, ann)
    routing.chatter_away(chat)
    at = later(timing.settings.leave_grace + 1)
    results = run_in_threads(*[lambda: routing.tick(at=at)] * 4)
    assert [kind for kind, _ in results] == ["ok"] * 4, results
    assert texts(chat).count(f"Visitor {chat.id} left the chat.") == 1


def test_accept_racing_the_deadline_has_one_consistent_outcome(org):
    ann = org.on("ann")
    ben = org.on("ben", idle_since=now() + timedelta(hours=1))
    chat = start(org.support)
    offer = offer_of(chat)
    results = run_in_threads(
        lambda: routing.accept(offer.id, ann),
        lambda: routing.expire_offers(at=later(timing.settings.offer_timeout + 1)),
    )
    accepted = results[0][0] == "ok"
    assert results[1][0] == "ok"
    if accepted:
        assert state(chat) == "active"
        assert fresh(ann).status == "available"
        assert holder(chat) is None
    else:
        assert isinstance(results[0][1], RoutingError)
        assert fresh(ann).status == "paused"
        assert holder(chat) == ben.id
        assert not Participant.select().exists()


# --- reject -------------------------------------------------------------------------------


def test_rejected_chat_goes_to_another_agent(org):
    ann = org.on("ann")
    ben = org.on("ben", idle_since=now() + timedelta(hours=1))
    chat = start(org.support)
    offer = offer_of(chat)
    assert offer.agent_id == ann.id
    routing.reject(offer.id, ann)
    assert fresh(offer).state == "rejected"
    assert holder(chat) == ben.id
    assert state(chat) == "offered"
    # rejecting is not missing an offer: the rejecter stays available
    assert fresh(ann).status == "available"


def test_rejected_chat_never_goes_back_to_the_rejecter_while_another_can_take_it(org):
    ann = org.on("ann")
    ben = org.on("ben", max_chats=1, idle_since=now() + timedelta(hours=1))
    busy = start(org.support)  # goes to ann (longest idle)
    routing.reject(offer_of(busy).id, ann)  # ...who rejects it: ben takes it and is full
    connect(busy, ben)
    chat = start(org.support)  # ann again
    routing.reject(offer_of(chat).id, ann)
    # only ann could take it, and she just declined it: it waits
    assert holder(chat) is None
    # ben frees up: ben gets it, not ann, although ann has been idle far longer
    routing.end_chat(busy, ben)
    assert holder(chat) == ben.id
    routing.reject(offer_of(chat).id, ben)
    # both declined; a newcomer who never declined it gets it before either, at any time
    cat = org.on("cat", idle_since=now() + timedelta(days=1))
    assert holder(chat) == cat.id
    routing.reject(offer_of(chat).id, cat)
    # all three declined: after the timeout it goes back to whoever declined first (ann)
    routing.tick(at=later(timing.settings.offer_timeout + 1))
    assert holder(chat) == ann.id


def test_lone_rejecter_is_offered_the_chat_again_only_after_the_offer_timeout(org, routing_settings):
    routing_settings.offer_timeout = 20
    ann = org.on("ann")
    chat = start(org.support)
    rejected_at = now()
    routing.reject(offer_of(chat).id, ann)
    assert holder(chat) is None
    assert state(chat) == "waiting"
    routing.tick(at=rejected_at + timedelta(seconds=10))
    assert holder(chat) is None
    routing.tick(at=now() + timedelta(seconds=21))
    offer = offer_of(chat)
    assert offer.agent_id == ann.id
    assert state(chat) == "offered"


def test_rejecting_twice_or_someone_elses_offer_is_refused(org):
    ann = org.on("ann")
    ben = org.agent("ben")
    chat = start(org.support)
    offer = offer_of(chat)
    with pytest.raises(RoutingError, match="no such offer"):
        routing.reject(offer.id, ben)
    routing.reject(offer.id, ann)
    with pytest.raises(RoutingError, match="already rejected"):
        routing.reject(offer.id, ann)
    with pytest.raises(RoutingError, match="already rejected"):
        routing.accept(offer.id, ann)


# --- offers that time out -----------------------------------------------------------------


def test_unanswered_offer_counts_as_a_reject_and_pauses_the_agent(org):
    ann = org.on("ann")
    ben = org.on("ben", idle_since=now() + timedelta(hours=1))
    chat = start(org.support)
    offer = offer_of(chat)
    assert offer.agent_id == ann.id
    changes = routing.expire_offers(at=later(timing.settings.offer_timeout + 1))
    assert fresh(offer).state == "expired"
    ann = fresh(ann)
    assert ann.status == "paused"
    assert ann.paused_reason
    assert holder(chat) == ben.id
    assert ann.id in changes.agents
    assert chat.id in changes.chats


def test_tick_expires_offers_and_reoffers_the_chat(org):
    ann = org.on("ann")
    ben = org.on("ben", idle_since=now() + timedelta(hours=1))
    chat = start(org.support)
    routing.tick(at=later(timing.settings.offer_timeout + 1))
    assert fresh(ann).status == "paused"
    assert holder(chat) == ben.id


def test_offer_is_not_expired_before_its_deadline(org, routing_settings):
    routing_settings.offer_timeout = 45
    ann = org.on("ann")
    chat = start(org.support)
    offer = offer_of(chat)
    assert offer.expires_at == offer.created_at + timedelta(seconds=45)
    routing.tick(at=offer.expires_at - timedelta(seconds=1))
    assert fresh(offer).state == "pending"
    assert fresh(ann).status == "available"
    routing.tick(at=offer.expires_at)
    assert fresh(offer).state == "expired"


def test_expired_offer_with_only_that_agent_waits_for_them_to_resume(org):
    ann = org.on("ann")
    chat = start(org.support)
    routing.tick(at=later(timing.settings.offer_timeout + 1))
    assert fresh(ann).status == "paused"
    assert holder(chat) is None
    routing.tick(at=later(timing.settings.offer_timeout * 10))
    assert holder(chat) is None
    routing.resume(ann)
    # ann let it expire long ago and nobody else can take it: it comes back to her
    routing.tick(at=later(timing.settings.offer_timeout * 3))
    assert holder(chat) == ann.id


def test_offer_deadline_survives_a_restart(org, database, database_url, tmp_path):
    ann = org.on("ann")
    ben = org.on("ben", idle_since=now() + timedelta(hours=1))
    chat = start(org.support)
    offer = offer_of(chat)
    assert offer.agent_id == ann.id
    # the process dies: every connection goes, nothing in memory survives but the file
    database.close_all()
    reopened = open_database(str(tmp_path / "data"), database_url)
    try:
        with connection():
            assert fresh(offer).state == "pending"
            routing.tick(at=later(timing.settings.offer_timeout + 1))
            assert fresh(offer).state == "expired"
            assert fresh(ann).status == "paused"
            assert holder(chat) == ben.id
    finally:
        reopened.close_all()


# --- the waiting line ---------------------------------------------------------------------


def test_waiting_chats_are_offered_in_fifo_order_when_an_agent_logs_on(org):
    t = now()
    chats = [Chat.create(queue=org.support, created_at=t - timedelta(seconds=s)) for s in (10, 30, 20)]
    ann = org.on("ann", max_chats=1)
    assert [holder(c) for c in chats] == [None, ann.id, None]
    routing.reject(offer_of(chats[1]).id, ann)
    # the next oldest, not the one she just declined
    assert holder(chats[2]) == ann.id


def test_waiting_chats_with_the_same_time_are_served_by_id(org):
    t = now()
    chats = [Chat.create(queue=org.support, created_at=t) for _ in range(3)]
    ann = org.on("ann", max_chats=1)
    assert [holder(c) for c in chats] == [ann.id, None, None]
    assert [fresh(c).position() for c in chats] == [1, 2, 3]


def test_waiting_chat_is_offered_when_an_agent_resumes(org):
    ann = org.on("ann")
    routing.pause(ann)
    chat = start(org.support)
    assert holder(chat) is None
    changes = routing.resume(ann)
    assert holder(chat) == ann.id
    assert chat.id in changes.chats


def test_waiting_chat_is_offered_when_a_chat_ends_and_frees_capacity(org):
    ann = org.on("ann", max_chats=1)
    first = start(org.support)
    connect(first, ann)
    second = start(org.support)
    assert holder(second) is None
    changes = routing.end_chat(first, ann)
    assert holder(second) == ann.id
    assert second.id in changes.chats


def test_waiting_chat_is_offered_when_an_offer_is_rejected(org):
    ann = org.on("ann", max_chats=1)
    first = start(org.support)
    second = start(org.support)
    assert holder(second) is None
    routing.reject(offer_of(first).id, ann)
    assert holder(second) == ann.id
    assert holder(first) is None


def test_waiting_chat_is_offered_when_the_chatter_of_an_offered_chat_leaves(org):
    ann = org.on("ann", max_chats=1)
    first = start(org.support)
    second = start(org.support)
    routing.end_chat(first)
    assert holder(second) == ann.id


def test_chats_of_another_queue_do_not_hold_up_the_line(org):
    sales_chat = start(org.sales)
    ann = org.on("ann", profile=org.support_desk, max_chats=1)
    support_chat = start(org.support)
    assert holder(sales_chat) is None
    assert holder(support_chat) == ann.id


# --- log off, sign out --------------------------------------------------------------------


def test_log_off_withdraws_pending_offers_to_another_agent(org):
    ann = org.on("ann")
    ben = org.on("ben", idle_since=now() + timedelta(hours=1))
    chat = start(org.support)
    offer = offer_of(chat)
    assert offer.agent_id == ann.id
    changes = routing.log_off(ann)
    assert fresh(offer).state == "withdrawn"
    assert fresh(ann).status == "off"
    assert fresh(ann).profile_id is None
    assert holder(chat) == ben.id
    assert {ann.id} <= changes.agents
    assert chat.id in changes.chats


def test_log_off_keeps_accepted_chats(org):
    ann = org.on("ann")
    chat = start(org.support)
    connect(chat, ann)
    routing.log_off(ann)
    assert state(chat) == "active"
    assert participants.is_participant(chat, ann)
    posting.post_by_agent(chat, ann, "still here")
    assert texts(chat)[-1] == "still here"


def test_log_off_withdrawn_chat_waits_when_nobody_else_can_take_it(org):
    ann = org.on("ann")
    chat = start(org.support)
    routing.log_off(ann)
    assert holder(chat) is None
    assert state(chat) == "waiting"
    # a withdrawal is not a decline: she gets it again as soon as she is back
    routing.log_on(ann, org.support_desk)
    assert holder(chat) == ann.id


def test_sign_out_leaves_chats_and_an_unattended_chat_returns_to_the_front_of_the_queue(org):
    ann = org.on("ann", max_chats=1)
    served = start(org.support, name="Zoe")
    connect(served, ann)
    newer = start(org.support)
    assert holder(newer) is None
    routing.sign_out(ann)
    assert fresh(ann).status == "off"
    assert not participants.is_participant(served, ann)
    part = Participant.get(Participant.chat == served)
    assert part.left_at is not None and part.closed_at is not None
    assert state(served) == "waiting"
    assert "Ann left the chat." in texts(served)
    assert fresh(served).position() == 1
    assert fresh(newer).position() == 2
    ben = org.on("ben", max_chats=1)
    assert holder(served) == ben.id
    assert holder(newer) is None


def test_sign_out_keeps_a_chat_active_when_another_agent_is_in_it(org):
    ann = org.on("ann")
    ben = org.on("ben", idle_since=now() + timedelta(hours=1))
    chat = start(org.support)
    connect(chat, ann)
    Participant.create(chat=chat, agent=ben)  # as if ben had been invited in
    routing.sign_out(ann)
    assert state(chat) == "active"
    assert [a.id for a in fresh(chat).agents()] == [ben.id]
    assert holder(chat) is None


def test_sign_out_ends_a_chat_whose_chatter_has_already_left(org):
    ann = org.on("ann")
    ben = org.on("ben", idle_since=now() + timedelta(hours=1))
    chat = start(org.support)
    connect(chat, ann)
    routing.chatter_away(chat)
    routing.check_away(at=later(timing.settings.leave_grace + 1))
    routing.sign_out(ann)
    # nobody is left on either side: offering it to ben would hand him an empty chat
    assert state(chat) == "ended"
    assert holder(chat) is None
    assert pending(agent=ben) == []


def test_sign_out_withdraws_pending_offers(org):
    ann = org.on("ann")
    chat = start(org.support)
    offer = offer_of(chat)
    routing.sign_out(ann)
    assert fresh(offer).state == "withdrawn"
    assert state(chat) == "waiting"


# --- ending -------------------------------------------------------------------------------


def test_agent_ends_the_chat(org):
    ann = org.on("ann")
    chat = start(org.support)
    connect(chat, ann)
    changes = routing.end_chat(chat, ann)
    chat = fresh(chat)
    assert chat.state == "ended"
    assert chat.ended_at is not None
    assert texts(chat)[-1] == "Ann ended the chat."
    assert dispatch.agent_load(ann) == 0
    assert chat.id in changes.chats and chat.id in changes.logs


def test_chatter_ends_the_chat(org):
    ann = org.on("ann")
    chat = start(org.support, name="Zoe")
    connect(chat, ann)
    routing.end_chat(chat)
    chat = fresh(chat)
    assert chat.state == "ended"
    assert chat.chatter_left_at is not None
    assert texts(chat)[-1] == "Zoe ended the chat."
    assert dispatch.agent_load(ann) == 0


def test_chatter_without_a_name_is_called_visitor(org):
    chat = start(org.support)
    routing.end_chat(chat)
    assert texts(chat)[-1] == f"Visitor {chat.id} ended the chat."


def test_ending_a_chat_withdraws_its_pending_offer(org):
    ann = org.on("ann", max_chats=1)
    chat = start(org.support)
    offer = offer_of(chat)
    changes = routing.end_chat(chat)
    assert fresh(offer).state == "withdrawn"
    assert state(chat) == "ended"
    assert dispatch.agent_load(ann) == 0
    assert ann.id in changes.agents


def test_ending_twice_is_harmless(org):
    ann = org.on("ann")
    chat = start(org.support)
    connect(chat, ann)
    routing.end_chat(chat, ann)
    log = texts(chat)
    ended_at = fresh(chat).ended_at
    again = routing.end_chat(chat, ann)
    routing.end_chat(chat)
    assert again == Changes()
    assert texts(chat) == log
    assert fresh(chat).ended_at == ended_at


def test_posting_to_an_ended_chat_is_refused(org):
    ann = org.on("ann")
    chat = start(org.support)
    connect(chat, ann)
    routing.end_chat(chat)
    count = Message.select().count()
    with pytest.raises(RoutingError, match="ended"):
        posting.post_by_chatter(chat, "hello?")
    with pytest.raises(RoutingError, match="ended"):
        posting.post_by_agent(chat, ann, "hello?")
    assert Message.select().count() == count


def test_agent_not_in_the_chat_cannot_post_to_or_end_it(org):
    ann = org.on("ann")
    ben = org.agent("ben")
    chat = start(org.support)
    with pytest.raises(RoutingError, match="not in this chat"):
        posting.post_by_agent(chat, ann, "offered is not joined")
    connect(chat, ann)
    with pytest.raises(RoutingError, match="not in this chat"):
        posting.post_by_agent(chat, ben, "hi")
    with pytest.raises(RoutingError, match="not in this chat"):
        routing.end_chat(chat, ben)
    assert state(chat) == "active"


# --- the chatter going away ---------------------------------------------------------------


def test_waiting_chatter_away_past_the_grace_period_ends_the_chat(org, routing_settings):
    routing_settings.leave_grace = 10
    chat = start(org.support, name="Zoe")
    routing.chatter_away(chat)
    routing.check_away(at=later(5))
    assert state(chat) == "waiting"
    routing.tick(at=later(11))
    chat = fresh(chat)
    assert chat.state == "ended"
    assert chat.chatter_left_at is not None
    assert "left before an agent answered" in texts(chat)[-1]
    org.on("ann")
    assert not Offer.select().exists()


def test_offered_chatter_away_past_the_grace_period_withdraws_the_offer(org):
    ann = org.on("ann")
    chat = start(org.support)
    offer = offer_of(chat)
    routing.chatter_away(chat)
    routing.check_away(at=later(timing.settings.leave_grace + 1))
    assert state(chat) == "ended"
    assert fresh(offer).state == "withdrawn"
    assert dispatch.agent_load(ann) == 0


def test_active_chatter_away_past_the_grace_period_left_but_chat_stays_active(org):
    ann = org.on("ann")
    chat = start(org.support, name="Zoe")
    connect(chat, ann)
    routing.chatter_away(chat)
    changes = routing.tick(at=later(timing.settings.leave_grace + 1))
    chat = fresh(chat)
    assert chat.state == "active"
    assert not chat.chatter_present
    assert texts(chat)[-2:] == [
        "Zoe left the chat.",
        "This chat ends by itself in 5 minutes unless Zoe comes back.",
    ]
    assert chat.id in changes.logs
    # only once
    routing.tick(at=later(timing.settings.leave_grace * 5))
    assert texts(chat).count("Zoe left the chat.") == 1


def test_chatter_back_after_leaving_says_is_back(org):
    ann = org.on("ann")
    chat = start(org.support, name="Zoe")
    connect(chat, ann)
    routing.chatter_away(chat)
    routing.check_away(at=later(timing.settings.leave_grace + 1))
    changes = routing.chatter_back(chat)
    chat = fresh(chat)
    assert texts(chat)[-1] == "Zoe is back."
    assert chat.chatter_present
    assert chat.chatter_away_since is None
    assert chat.id in changes.logs


def test_chatter_back_within_the_grace_period_says_nothing(org):
    ann = org.on("ann")
    chat = start(org.support, name="Zoe")
    connect(chat, ann)
    log = texts(chat)
    routing.chatter_away(chat)
    routing.chatter_back(chat)
    routing.check_away(at=later(timing.settings.leave_grace * 5))
    assert texts(chat) == log
    assert fresh(chat).chatter_away_since is None


# --- messages -----------------------------------------------------------------------------


def test_message_sequence_numbers_are_per_chat_without_gaps(org):
    ann = org.on("ann")
    one = start(org.support)
    two = start(org.support)
    connect(one, ann)
    posting.post_by_chatter(two, "first in two")
    posting.post_by_agent(one, ann, "hello", private=True)
    posting.post_by_chatter(one, "hi")
    posting.post_by_chatter(two, "second in two")
    for chat in (one, two):
        seqs = [m.seq for m in Message.for_agents(chat)]  # every row, private ones included
        assert seqs == list(range(1, len(seqs) + 1))
    assert texts(two) == ["first in two", "second in two"]


def test_concurrently_posted_messages_get_gapless_sequence_numbers(org):
    one = start(org.support)
    two = start(org.support)

    def poster(chat, label):
        def job():
            for i in range(20):
                posting.post_by_chatter(chat, f"{label}-{i}")

        return job

    run_in_threads(*(poster(chat, f"t{n}") for n in range(3) for chat in (one, two)))
    for chat in (one, two):
        messages = list(Message.for_agents(chat))
        assert [m.seq for m in messages] == list(range(1, 61))
        for n in range(3):  # each thread's messages in the order it posted them
            own = [m.text for m in messages if m.text.startswith(f"t{n}-")]
            assert own == [f"t{n}-{i}" for i in range(20)]


def test_chatter_never_sees_private_messages(org):
    ann = org.on("ann")
    chat = start(org.support)
    connect(chat, ann)
    posting.post_by_agent(chat, ann, "secret note", private=True)
    posting.post_by_agent(chat, ann, "public reply")
    posting.post_by_agent(chat, ann, "another secret", private=True)
    seen = [m.text for m in Message.for_chatter(chat)]
    assert "secret note" not in seen and "another secret" not in seen
    assert seen == ["Ann joined the chat.", "public reply"]
    assert [m.text for m in Message.for_chatter(chat, after=2)] == ["public reply"]
    assert len(list(Message.for_agents(chat))) == 4
    assert [m.seq for m in Message.for_agents(chat, after=2)] == [3, 4]


# --- queue positions ----------------------------------------------------------------------


def test_position_counts_only_waiting_chats_of_the_same_queue(org):
    support = [start(org.support) for _ in range(3)]
    sales = start(org.sales)
    assert [fresh(c).position() for c in support] == [1, 2, 3]
    assert fresh(sales).position() == 1
    ann = org.on("ann", max_chats=1)
    # an offered chat still holds its place in the line
    assert holder(support[0]) == ann.id
    assert [fresh(c).position() for c in support] == [1, 2, 3]
    connect(support[0], ann)
    assert fresh(support[0]).position() is None
    assert [fresh(c).position() for c in support[1:]] == [1, 2]
    routing.end_chat(support[1])
    assert fresh(support[1]).position() is None
    assert fresh(support[2]).position() == 1


# --- what changed -------------------------------------------------------------------------


def test_changes_name_the_affected_chats_agents_and_queues(org):
    ann = org.on("ann")
    chat, changes = routing.start_chat(org.support)
    assert changes.chats == {chat.id}
    assert changes.queues == {org.support.id}

    offer = offer_of(chat)
    _, changes = routing.accept(offer.id, ann)
    assert chat.id in changes.chats and chat.id in changes.logs
    assert ann.id in changes.agents

    changes = posting.post_by_chatter(chat, "hi")
    assert changes.logs == {chat.id}

    waiting = start(org.sales)
    ben = org.agent("ben")
    changes = routing.log_on(ben, org.sales_desk)
    assert ben.id in changes.agents
    assert waiting.id in changes.chats and org.sales.id in changes.queues

    changes = routing.pause(ben)
    assert changes.agents == {ben.id}
    assert routing.pause(org.agent("cat")) == Changes()  # not logged on: nothing changed

    changes = routing.log_off(ben)
    assert ben.id in changes.agents
    assert waiting.id in changes.chats

    changes = routing.end_chat(chat, ann)
    assert chat.id in changes.chats and chat.id in changes.logs
    assert participants.related_agents(chat.id) == {ann.id}
    assert participants.related_agents(waiting.id) == {ben.id}


def test_an_agent_offered_a_chat_again_after_signing_out_rejoins_on_one_row(org):
    ann = org.on("ann")
    chat = start(org.support)
    routing.accept(offer_of(chat).id, ann)
    routing.sign_out(ann)
    routing.log_on(ann, org.support_desk)
    routing.accept(offer_of(chat).id, ann)
    rows = Participant.select().where((Participant.chat == chat) & (Participant.agent == ann))
    assert [(p.left_at, p.closed_at) for p in rows] == [(None, None)]
