"""Invitations and the other chat actions of data/, driven as plain functions on a real SQLite file.

No Flask and no browser: the invitation state machine (named and queue invitations, accept, reject,
timeout, one pending at a time), predefined messages and option menus.
"""

import json
from datetime import timedelta

import orgs
import pytest
from orgs import fresh, later

from data import actions, dispatch, invitations, participants, posting, routing, timing
from data.changes import RoutingError
from data.models import Agent, AgentProfile, Chat, Invitation, Message, Offer, Participant, now
from data.ready_models import OptionSet, OptionSetQueue, Predefined, PredefinedQueue

pytestmark = pytest.mark.both_engines  # each test on SQLite and on PostgreSQL

# --- the organisation ---------------------------------------------------------------------------


class Org(orgs.Org):
    """Support and Sales; agents are created logged on to a profile, oldest idle first."""

    def __init__(self):
        super().__init__()
        self.clock = now() - timedelta(hours=1)

    def agent(self, username, profile=None, max_chats=3, on=True):
        """A new agent; logged on (to Support desk unless told) and idle since a moment later than the last."""
        profile = profile or self.support_desk
        agent = Agent.create(username=username, password_hash="-", name=f"{username.title()} Agent")
        Agent.update(max_chats=max_chats).where(Agent.id == agent.id).execute()
        AgentProfile.create(agent=agent, profile=profile)
        if on:
            routing.log_on(agent, profile)
            self.clock += timedelta(minutes=1)
            Agent.update(idle_since=self.clock).where(Agent.id == agent.id).execute()
        return fresh(agent)

    def chat_with(self, agent, name="Carl", queue=None):
        """A chat in `queue` (Support) accepted by `agent`, who must be the one it is offered to."""
        chat, _ = routing.start_chat(queue or self.support, name=name)
        offer = Offer.get((Offer.chat == chat) & (Offer.state == "pending"))
        assert offer.agent_id == agent.id, "the chat went to another agent"
        routing.accept(offer.id, agent)
        return fresh(chat)


@pytest.fixture
def org(database):
    return Org()


def invitation_offer(chat):
    """The one pending offer of the chat's invitation."""
    offers = list(Offer.select().where((Offer.chat == chat) & (Offer.state == "pending")))
    assert len(offers) == 1, f"expected one pending offer, found {len(offers)}"
    assert offers[0].invitation_id is not None
    return offers[0]


def offered_agents(invitation):
    return [o.agent_id for o in Offer.select().where(Offer.invitation == invitation).order_by(Offer.id)]


def in_chat(chat):
    return {a.id for a in fresh(chat).agents()}


def agent_lines(chat):
    return [(m.text, m.private) for m in Message.for_agents(chat)]


def chatter_texts(chat):
    return [m.text for m in Message.for_chatter(chat)]


def private_lines(chat):
    return [m.text for m in Message.for_agents(chat) if m.private]


# --- named invitations ----------------------------------------------------------------------------


def test_accepted_invitation_with_stay_makes_a_conference(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")

    changes = invitations.invite(chat, ann, invitee=ben, stay=True)
    assert chat.id in changes.chats
    invitation = invitations.pending(chat)
    assert invitation.invitee_id == ben.id and invitation.stay
    offer = invitation_offer(chat)
    assert offer.agent_id == ben.id and offer.invitation_id == invitation.id
    assert fresh(chat).state == "active"  # the chat itself stays with ann meanwhile
    assert ("Ann Agent invited Ben Agent.", True) in agent_lines(chat)

    _, changes = routing.accept(offer.id, ben)
    assert in_chat(chat) == {ann.id, ben.id}
    assert fresh(invitation).state == "accepted"
    assert invitations.pending(chat) is None
    assert {ann.id, ben.id} <= changes.agents
    assert ("Ben Agent joined the chat.", False) in agent_lines(chat)
    assert "Ben Agent joined the chat." in chatter_texts(chat)
    assert "Ann Agent invited Ben Agent." not in chatter_texts(chat)

    # both may write now
    posting.post_by_agent(chat, ann, "From Ann")
    posting.post_by_agent(chat, ben, "From Ben")
    assert chatter_texts(chat)[-2:] == ["From Ann", "From Ben"]


def test_accepted_invitation_without_stay_hands_the_chat_over(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")

    invitations.invite(chat, ann, invitee=ben, stay=False)
    routing.accept(invitation_offer(chat).id, ben)

    assert in_chat(chat) == {ben.id}
    assert not participants.is_participant(chat, ann)
    texts = chatter_texts(chat)
    assert texts[-2:] == ["Ben Agent joined the chat.", "Ann Agent left the chat."]
    with pytest.raises(RoutingError):
        posting.post_by_agent(chat, ann, "Still here?")
    # she loses the chat, tab and all (no later message reaches her console)
    part = Participant.get((Participant.chat == chat) & (Participant.agent == ann))
    assert part.left_at is not None and part.closed_at is not None
    assert fresh(chat).state == "active"


def test_rejected_invitation_is_reported_to_the_inviter_privately(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    invitations.invite(chat, ann, invitee=ben)
    invitation = invitations.pending(chat)

    changes = routing.reject(invitation_offer(chat).id, ben)
    assert chat.id in changes.chats and chat.id in changes.logs
    assert fresh(invitation).state == "declined"
    assert invitations.pending(chat) is None
    assert in_chat(chat) == {ann.id}
    assert ("Ben Agent declined the invitation.", True) in agent_lines(chat)
    assert not [t for t in chatter_texts(chat) if "invit" in t]
    assert fresh(ben).status == "available"  # rejecting does not pause


def test_invitation_timeout_is_reported_to_the_inviter_and_pauses_the_invitee(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    invitations.invite(chat, ann, invitee=ben)
    invitation = invitations.pending(chat)

    routing.expire_offers(at=later(1))  # not yet
    assert invitations.pending(chat) is not None

    routing.expire_offers(at=later(timing.settings.offer_timeout + 1))
    assert fresh(invitation).state == "declined"
    assert ("Ben Agent did not answer the invitation.", True) in agent_lines(chat)
    assert not [t for t in chatter_texts(chat) if "invit" in t or "answer" in t]
    assert fresh(ben).status == "paused"
    assert in_chat(chat) == {ann.id}
    with pytest.raises(RoutingError, match="expired"):
        routing.accept(Offer.get(Offer.invitation == invitation).id, ben)


def test_invitee_logging_off_declines_the_invitation(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    invitations.invite(chat, ann, invitee=ben)
    invitation = invitations.pending(chat)

    routing.log_off(ben)
    assert fresh(invitation).state == "declined"
    assert ("Ben Agent could not take the invitation.", True) in agent_lines(chat)


# --- queue invitations ----------------------------------------------------------------------------


def test_queue_invitation_skips_the_inviter_and_agents_in_the_chat(org):
    ann = org.agent("ann")  # longest idle of all
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    invitations.invite(chat, ann, invitee=ben)
    routing.accept(invitation_offer(chat).id, ben)
    # ann and ben are in the chat and idle longer than cat: still, only cat may be asked
    Agent.update(idle_since=now() - timedelta(days=1)).where(Agent.id.in_([ann.id, ben.id])).execute()
    cat = org.agent("cat")
    Agent.update(idle_since=now()).where(Agent.id == cat.id).execute()

    invitations.invite(chat, ben, queue=org.support)
    invitation = invitations.pending(chat)
    assert invitation.invitee_id is None and invitation.queue_id == org.support.id
    assert invitation_offer(chat).agent_id == cat.id
    assert ("Ben Agent invited anyone in Support.", True) in agent_lines(chat)

    routing.accept(invitation_offer(chat).id, cat)
    assert in_chat(chat) == {ann.id, ben.id, cat.id}


def test_queue_invitation_goes_to_the_longest_idle_agent_of_that_queue_only(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    dan = org.agent("dan", profile=org.sales_desk)  # idle longest, but in Sales
    Agent.update(idle_since=now() - timedelta(days=1)).where(Agent.id == dan.id).execute()
    ben = org.agent("ben")
    cat = org.agent("cat")
    Agent.update(idle_since=now() - timedelta(hours=5)).where(Agent.id == cat.id).execute()
    routing.pause(ben)
    org.agent("eve")  # available too; ben (paused) and dan (another queue) are out

    invitations.invite(chat, ann, queue=org.support)
    assert invitation_offer(chat).agent_id == cat.id

    # a Sales invitation into a Support chat goes to Sales agents
    routing.reject(invitation_offer(chat).id, cat)
    routing.expire_offers(at=later(timing.settings.offer_timeout + 1))  # eve misses it: declined
    assert invitations.pending(chat) is None
    invitations.invite(chat, ann, queue=org.sales)
    assert invitation_offer(chat).agent_id == dan.id


def test_queue_invitation_tries_the_next_agent_and_never_asks_one_twice(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    cat = org.agent("cat")
    dan = org.agent("dan")

    invitations.invite(chat, ann, queue=org.support)
    invitation = invitations.pending(chat)
    assert invitation_offer(chat).agent_id == ben.id

    # ben rejects: cat is asked, and ann reads why (privately)
    routing.reject(invitation_offer(chat).id, ben)
    assert fresh(invitation).state == "pending"
    assert invitation_offer(chat).agent_id == cat.id
    assert ("Ben Agent declined the invitation; asking the next agent.", True) in agent_lines(chat)

    # cat lets it expire (and is paused): dan is next, not ben again although ben is idle longest now
    Agent.update(idle_since=now() - timedelta(days=1)).where(Agent.id == ben.id).execute()
    routing.expire_offers(at=later(timing.settings.offer_timeout + 1))
    assert invitation_offer(chat).agent_id == dan.id
    assert ("Cat Agent did not answer the invitation; asking the next agent.", True) in agent_lines(chat)

    # dan rejects: nobody is left who was not asked, so the invitation is declined
    routing.reject(invitation_offer(chat).id, dan)
    assert fresh(invitation).state == "declined"
    assert invitations.pending(chat) is None
    assert offered_agents(invitation) == [ben.id, cat.id, dan.id]
    assert agent_lines(chat)[-1] == ("Dan Agent declined the invitation.", True)
    assert not [t for t in chatter_texts(chat) if "invit" in t or "asking" in t]
    assert in_chat(chat) == {ann.id}

    # a new invitation of the queue may ask them all again
    invitations.invite(chat, ann, queue=org.support)
    assert invitation_offer(chat).agent_id == ben.id


def test_queue_invitation_with_nobody_to_ask_is_refused_and_leaves_nothing(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    org.agent("ben", on=False)
    with pytest.raises(RoutingError, match="Nobody in Support"):
        invitations.invite(chat, ann, queue=org.support)
    assert Invitation.select().count() == 0
    assert invitations.pending(chat) is None
    assert not [t for t, _ in agent_lines(chat) if "invit" in t]


def test_queue_invitation_respects_capacity(org):
    ann = org.agent("ann")
    cat = org.agent("cat", max_chats=1)
    ben = org.agent("ben")
    chat = org.chat_with(ann)
    # cat (idle longer than ben) fills her one place with a chat of her own
    Agent.update(idle_since=now() - timedelta(days=1)).where(Agent.id == cat.id).execute()
    org.chat_with(cat, name="Other")
    Agent.update(idle_since=now() - timedelta(days=1)).where(Agent.id == cat.id).execute()

    invitations.invite(chat, ann, queue=org.support)
    assert invitation_offer(chat).agent_id == ben.id
    routing.reject(invitation_offer(chat).id, ben)
    assert invitations.pending(chat) is None  # cat is full: nobody left


def test_named_invitation_respects_capacity_and_a_pending_invitation_counts(org):
    ann = org.agent("ann")
    cat = org.agent("cat", max_chats=1)
    Agent.update(idle_since=now() + timedelta(days=1)).where(Agent.id == cat.id).execute()
    first = org.chat_with(ann, name="First")
    second = org.chat_with(ann, name="Second")

    invitations.invite(first, ann, invitee=cat)  # her one place is now taken by the offer
    with pytest.raises(RoutingError, match="no room"):
        invitations.invite(second, ann, invitee=cat)
    routing.accept(invitation_offer(first).id, cat)
    with pytest.raises(RoutingError, match="no room"):
        invitations.invite(second, ann, invitee=cat)
    assert invitations.pending(second) is None


# --- who may invite whom --------------------------------------------------------------------------


def test_second_invitation_is_refused_while_one_is_pending_and_allowed_after(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    cat = org.agent("cat")

    invitations.invite(chat, ann, invitee=ben)
    with pytest.raises(RoutingError, match="already pending"):
        invitations.invite(chat, ann, invitee=cat)
    with pytest.raises(RoutingError, match="already pending"):
        invitations.invite(chat, ann, queue=org.support)
    assert Invitation.select().count() == 1

    routing.reject(invitation_offer(chat).id, ben)
    invitations.invite(chat, ann, invitee=cat)
    routing.accept(invitation_offer(chat).id, cat)

    # and after an accepted one, the next may follow: from either agent now in the chat
    invitations.invite(chat, cat, invitee=ben, stay=False)
    routing.accept(invitation_offer(chat).id, ben)
    assert in_chat(chat) == {ann.id, ben.id}
    states = [i.state for i in Invitation.select().order_by(Invitation.id)]
    assert states == ["declined", "accepted", "accepted"]


def test_ending_the_chat_cancels_a_pending_invitation(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    invitations.invite(chat, ann, invitee=ben)
    invitation = invitations.pending(chat)
    offer = invitation_offer(chat)

    changes = routing.end_chat(chat, ann)
    assert fresh(invitation).state == "cancelled"
    assert fresh(offer).state == "withdrawn"
    assert ben.id in changes.agents
    with pytest.raises(RoutingError, match="withdrawn"):
        routing.accept(offer.id, ben)
    assert in_chat(chat) == {ann.id}
    assert dispatch.agent_load(ben) == 0
    assert not [t for t, _ in agent_lines(chat) if "declined" in t or "could not" in t]


def test_the_chatter_ending_the_chat_cancels_a_queue_invitation_without_asking_others(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    org.agent("cat")
    invitations.invite(chat, ann, queue=org.support)
    assert invitation_offer(chat).agent_id == ben.id

    routing.end_chat(chat)  # by the chatter
    assert Offer.select().where(Offer.state == "pending").count() == 0
    assert Invitation.get().state == "cancelled"


def test_the_inviter_signing_out_alone_cancels_the_invitation_and_the_chat_is_routed_afresh(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    invitations.invite(chat, ann, invitee=ben)
    invitation = invitations.pending(chat)
    offer = invitation_offer(chat)

    routing.sign_out(fresh(ann))
    assert fresh(invitation).state == "cancelled"
    assert fresh(offer).state == "withdrawn"
    with pytest.raises(RoutingError, match="withdrawn"):
        routing.accept(offer.id, ben)
    # back in the queue and offered like a new chat: to ben, as an ordinary offer
    new_offer = Offer.get((Offer.chat == chat) & (Offer.state == "pending"))
    assert (new_offer.agent_id, new_offer.invitation_id) == (ben.id, None)
    assert fresh(chat).state == "offered"
    routing.accept(new_offer.id, ben)
    assert fresh(chat).state == "active" and in_chat(chat) == {ben.id}


def test_an_invitation_outlives_its_inviter_while_a_colleague_stays(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    invitations.invite(chat, ann, invitee=ben)
    routing.accept(invitation_offer(chat).id, ben)
    cat = org.agent("cat")
    invitations.invite(chat, ann, invitee=cat, stay=False)  # a hand-over; then ann signs out first

    routing.sign_out(fresh(ann))
    assert invitations.pending(chat) is not None
    routing.accept(invitation_offer(chat).id, cat)
    assert in_chat(chat) == {ben.id, cat.id}
    assert fresh(chat).state == "active"
    assert [t for t in chatter_texts(chat) if "Ann Agent left" in t] == ["Ann Agent left the chat."]


def test_named_invitee_must_be_logged_on_enabled_and_not_in_the_chat(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben", on=False)
    with pytest.raises(RoutingError, match="Ben Agent is not logged on"):
        invitations.invite(chat, ann, invitee=ben)

    routing.log_on(ben, org.support_desk)
    routing.log_off(fresh(ben))
    with pytest.raises(RoutingError, match="not logged on"):
        invitations.invite(chat, ann, invitee=fresh(ben))

    cat = org.agent("cat")
    Agent.update(enabled=False).where(Agent.id == cat.id).execute()
    with pytest.raises(RoutingError, match="not logged on"):
        invitations.invite(chat, ann, invitee=fresh(cat))

    with pytest.raises(RoutingError, match="already in this chat"):
        invitations.invite(chat, ann, invitee=ann)

    dan = org.agent("dan")
    invitations.invite(chat, ann, invitee=dan)
    routing.accept(invitation_offer(chat).id, dan)
    with pytest.raises(RoutingError, match="Dan Agent is already in this chat"):
        invitations.invite(chat, ann, invitee=dan)
    assert Invitation.select().count() == 1


def test_only_an_agent_in_an_active_chat_may_invite(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    cat = org.agent("cat")
    with pytest.raises(RoutingError, match="only into a chat you are in"):
        invitations.invite(chat, ben, invitee=cat)

    waiting, _ = routing.start_chat(org.sales, name="Waiting")
    with pytest.raises(RoutingError, match="only into a chat you are in"):
        invitations.invite(waiting, ann, invitee=cat)

    routing.end_chat(chat, ann)
    with pytest.raises(RoutingError, match="only into a chat you are in"):
        invitations.invite(chat, ann, invitee=cat)
    assert Invitation.select().count() == 0


def test_invitees_are_logged_on_colleagues_not_in_the_chat(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    org.agent("cat", on=False)
    dan = org.agent("dan", profile=org.sales_desk)
    routing.pause(dan)
    eve = org.agent("eve")
    Agent.update(enabled=False).where(Agent.id == eve.id).execute()

    assert [a.name for a in invitations.invitees(chat)] == ["Ben Agent", "Dan Agent"]
    invitations.invite(chat, ann, invitee=ben)
    routing.accept(invitation_offer(chat).id, ben)
    assert [a.name for a in invitations.invitees(chat)] == ["Dan Agent"]


def test_the_inviter_may_be_invited_back_after_a_hand_over(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    invitations.invite(chat, ann, invitee=ben, stay=False)
    routing.accept(invitation_offer(chat).id, ben)
    assert [a.name for a in invitations.invitees(chat)] == ["Ann Agent"]

    Participant.update(closed_at=now()).where(Participant.agent == ann).execute()  # she closed the tab
    invitations.invite(chat, ben, invitee=fresh(ann))
    routing.accept(invitation_offer(chat).id, fresh(ann))
    assert in_chat(chat) == {ann.id, ben.id}
    posting.post_by_agent(chat, ann, "I am back")
    # one row per agent and chat, open again: her console shows the chat as hers, not as one she left
    rows = list(Participant.select().where((Participant.chat == chat) & (Participant.agent == ann)))
    assert [(r.left_at, r.closed_at) for r in rows] == [(None, None)]


# --- predefined messages ----------------------------------------------------------------------------


def test_fill_puts_in_the_names():
    chat = Chat(chatter_name="Carl")
    agent = Agent(name="Ann Agent")
    text = "Hello {chatter_name}, I am {agent_name}. {chatter_name}?"
    assert actions.fill(text, chat, agent) == "Hello Carl, I am Ann Agent. Carl?"
    assert actions.fill("No placeholders here.", chat, agent) == "No placeholders here."


@pytest.mark.parametrize("chatter_name", ["", "   "])
@pytest.mark.parametrize("agent_name", ["", " "])
def test_fill_with_empty_names_falls_back_and_never_leaves_a_brace(chatter_name, agent_name):
    filled = actions.fill(
        "Hello {chatter_name}, I am {agent_name}.", Chat(chatter_name=chatter_name), Agent(name=agent_name)
    )
    assert "{" not in filled and "}" not in filled
    assert filled.startswith("Hello there, I am ")
    assert not filled.endswith("I am .")  # an empty agent name falls back to words too
    assert "  " not in filled


def test_fill_does_not_fill_placeholders_inside_the_names():
    chat = Chat(chatter_name="{agent_name}")
    filled = actions.fill("Hi {chatter_name}, I am {agent_name}.", chat, Agent(name="Ann Agent"))
    assert filled == "Hi {agent_name}, I am Ann Agent."


def test_predefined_messages_and_option_sets_honour_queue_restrictions(org):
    Predefined.create(title="Greeting", text="Hello")
    support_only = Predefined.create(title="Refund", text="Refund policy")
    PredefinedQueue.create(predefined=support_only, queue=org.support)
    sales_only = Predefined.create(title="Pricing", text="Our prices")
    PredefinedQueue.create(predefined=sales_only, queue=org.sales)
    both = Predefined.create(title="Address", text="Main Street")
    PredefinedQueue.create(predefined=both, queue=org.support)
    PredefinedQueue.create(predefined=both, queue=org.sales)

    OptionSet.create(title="Rating", question="How did we do?", options=json.dumps(["Good", "Bad"]))
    sizes = OptionSet.create(title="Sizes", question="Which size?", options=json.dumps(["S", "M"]))
    OptionSetQueue.create(option_set=sizes, queue=org.sales)

    support = Chat.create(queue=org.support)
    sales = Chat.create(queue=org.sales)
    assert [p.title for p in actions.predefined_for(support)] == ["Address", "Greeting", "Refund"]
    assert [p.title for p in actions.predefined_for(sales)] == ["Address", "Greeting", "Pricing"]
    assert [s.title for s in actions.option_sets_for(support)] == ["Rating"]
    assert [s.title for s in actions.option_sets_for(sales)] == ["Rating", "Sizes"]


# --- option menus -------------------------------------------------------------------------------------


def test_check_options_cleans_and_accepts_two_to_ten():
    assert actions.check_options("  Which? ", [" a ", "", "b", "  "]) == ("Which?", ["a", "b"])
    ten = [f"Option {i}" for i in range(10)]
    assert actions.check_options("Q", ten) == ("Q", ten)


@pytest.mark.parametrize(
    ("question", "options", "why"),
    [
        ("Which?", ["Only one"], "between 2 and 10"),
        ("Which?", ["Only one", "", "  "], "between 2 and 10"),
        ("Which?", [f"Option {i}" for i in range(11)], "between 2 and 10"),
        ("Which?", ["Yes", "yes"], "different"),
        ("Which?", ["Yes", " Yes "], "different"),
        ("", ["Yes", "No"], "question"),
        ("   ", ["Yes", "No"], "question"),
        ("Q" * 301, ["Yes", "No"], "300"),
        ("Which?", ["Yes", "N" * 101], "100"),
    ],
)
def test_check_options_refuses(question, options, why):
    with pytest.raises(RoutingError, match=why):
        actions.check_options(question, options)


def asked(org, options=("Red", "Green", "Blue")):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    actions.offer_options(chat, ann, "Which colour?", list(options))
    question = Message.get((Message.chat == chat) & (Message.kind == "options"))
    return ann, chat, question


def test_offer_options_stores_the_question_as_data(org):
    ann, chat, question = asked(org)
    assert question.text == "Which colour?" and question.option_list == ["Red", "Green", "Blue"]
    assert question.sender == "agent" and question.agent_id == ann.id and not question.private
    assert question.choice is None
    assert "Which colour?" in chatter_texts(chat)

    ben = org.agent("ben")
    with pytest.raises(RoutingError, match="not in this chat"):
        actions.offer_options(chat, ben, "Q", ["a", "b"])
    with pytest.raises(RoutingError, match="between 2"):
        actions.offer_options(chat, ann, "Q", ["a"])


def test_answer_is_stored_as_data_and_the_first_answer_wins(org):
    _, chat, question = asked(org)

    changes = actions.answer(chat, question.seq, 1)
    assert (chat.id, question.seq) in changes.updated and chat.id in changes.logs
    assert fresh(question).choice == 1
    reply = Message.get((Message.chat == chat) & (Message.kind == "answer"))
    assert (reply.sender, reply.answer_to, reply.choice, reply.text) == ("chatter", question.seq, 1, "Green")
    assert reply.question_text() == "Which colour?"
    assert not reply.private and "Green" in chatter_texts(chat)

    with pytest.raises(RoutingError, match="already been answered"):
        actions.answer(chat, question.seq, 2)
    with pytest.raises(RoutingError, match="already been answered"):
        actions.answer(chat, question.seq, 1)
    assert fresh(question).choice == 1
    assert Message.select().where(Message.kind == "answer").count() == 1


def test_answer_refuses_what_was_not_asked(org):
    ann, chat, question = asked(org)
    with pytest.raises(RoutingError, match="no such option"):
        actions.answer(chat, question.seq, 3)
    with pytest.raises(RoutingError, match="no such option"):
        actions.answer(chat, question.seq, -1)
    with pytest.raises(RoutingError, match="no such question"):
        actions.answer(chat, question.seq + 100, 0)
    joined = Message.get((Message.chat == chat) & (Message.sender == "system"))
    with pytest.raises(RoutingError, match="no such question"):
        actions.answer(chat, joined.seq, 0)

    # a question of another chat is not this chat's
    other = org.chat_with(ann, name="Other")
    with pytest.raises(RoutingError, match="no such question"):
        actions.answer(other, question.seq, 0)

    # a private message made to look like a question is never answerable by the chatter
    note = posting.post(chat, "agent", "Internal", agent=ann, private=True)
    Message.update(kind="options", options=json.dumps(["a", "b"])).where(Message.id == note.id).execute()
    with pytest.raises(RoutingError, match="no such question"):
        actions.answer(chat, note.seq, 0)

    routing.end_chat(chat, ann)
    with pytest.raises(RoutingError, match="ended"):
        actions.answer(chat, question.seq, 0)
    assert fresh(question).choice is None


# --- cancelling, leaving, the note ------------------------------------------------------------------


def invited(org):
    """Ann in a chat with Carl, Ben invited into it: (ann, ben, chat, Ben's offer)."""
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    invitations.invite(chat, ann, invitee=ben)
    return ann, ben, chat, invitation_offer(chat)


def conference_of(org):
    """Ann and Ben in a chat with Carl: (ann, ben, chat)."""
    ann, ben, chat, offer = invited(org)
    routing.accept(offer.id, ben)
    return ann, ben, chat


def test_leave_chat_goes_on_with_the_others_and_the_last_cannot_leave(org):
    ann, ben, chat = conference_of(org)
    changes = invitations.leave_chat(chat, ann)
    assert {ann.id} <= changes.agents and chat.id in changes.chats
    assert in_chat(chat) == {ben.id}
    assert chatter_texts(chat)[-1] == "Ann Agent left the chat."
    part = Participant.get((Participant.chat == chat) & (Participant.agent == ann))
    assert part.left_at is not None and part.closed_at is not None  # her tab goes too
    assert not invitations.others_in(chat, ben)
    with pytest.raises(RoutingError, match="You are the last agent in this chat: end it instead"):
        invitations.leave_chat(chat, ben)
    with pytest.raises(RoutingError, match="You are not in this chat."):
        invitations.leave_chat(chat, ann)
    assert in_chat(chat) == {ben.id} and fresh(chat).state == "active"


def test_cancel_then_accept_the_cancel_wins(org):
    ann, ben, chat, offer = invited(org)
    changes = invitations.cancel_pending(chat, ann)
    assert ben.id in changes.agents
    assert fresh(offer).state == "withdrawn"
    with pytest.raises(RoutingError, match="This invitation was cancelled."):
        routing.accept(offer.id, ben)
    assert in_chat(chat) == {ann.id}
    assert invitations.pending(chat) is None
    assert "Ann Agent cancelled the invitation to Ben Agent." in private_lines(chat)
    invitations.invite(chat, ann, invitee=ben)  # a new one may be sent
    assert invitations.pending(chat) is not None


def test_accept_then_cancel_the_accept_wins(org):
    ann, ben, chat = conference_of(org)
    with pytest.raises(RoutingError, match="it was answered already"):
        invitations.cancel_pending(chat, ann)
    assert in_chat(chat) == {ann.id, ben.id}


def test_an_accept_that_finds_the_invitation_cancelled_is_undone(org):
    """The invitation's row decides, even for an accept whose offer was still pending: nothing of it stays."""
    ann, ben, chat, offer = invited(org)
    Invitation.update(state="cancelled").where(Invitation.chat == chat).execute()  # cancelled, offer not yet
    with pytest.raises(RoutingError, match="This invitation was cancelled."):
        routing.accept(offer.id, ben)
    assert fresh(offer).state == "pending" and in_chat(chat) == {ann.id}


def test_a_note_goes_with_the_invitation_privately(org):
    ann = org.agent("ann")
    chat = org.chat_with(ann)
    ben = org.agent("ben")
    with pytest.raises(invitations.BadNote, match="at most 200 characters, this one has 201"):
        invitations.invite(chat, ann, invitee=ben, note="x" * 201)
    assert invitations.pending(chat) is None
    invitations.invite(chat, ann, invitee=ben, note="  refund,\n order 1234  ")
    assert invitations.pending(chat).note == "refund, order 1234"
    assert "Ann Agent invited Ben Agent. Note: refund, order 1234" in private_lines(chat)
    assert not any("1234" in text for text in chatter_texts(chat))


def test_files_are_theirs_only_from_while_they_were_in_the_chat(org):
    """Leave chat and signing out (a supervisor disabling the account signs it out) alike."""
    ann, ben, chat = conference_of(org)
    before = now()
    invitations.leave_chat(chat, ann)
    routing.sign_out(ben)
    after = now() + timedelta(seconds=1)
    for agent in (ann, ben):
        assert participants.saw(chat.id, agent.id, before)
        assert not participants.saw(chat.id, agent.id, after)
    cat = org.agent("cat")
    assert not participants.saw(chat.id, cat.id, before)
