"""The organisation file: valid files apply at once and idempotently; a bad one names the line and
reason and changes nothing."""

import os
import re

import pytest

from data import org
from data.models import Agent, AgentProfile, Profile, ProfileQueue, Queue
from data.org import OrgError, load_file, load_text
from data.ready_models import Predefined, PredefinedQueue
from data.schema import TABLES

DEMO = os.path.join(os.path.dirname(org.__file__), "demo.toml")

GOOD = """\
# a small organisation
[[queue]]
name = "Support"

[[queue]]
name = "Sales Team"

[[profile]]
name = "Support desk"
queues = ["Support"]

[[profile]]
name = "Everything"
queues = ["Support", "Sales Team"]

[[agent]]
username = "alice"
password = "alice-password"
name = "Alice Example"
profiles = ["Support desk"]

[[agent]]
username = "bob"
password = "bob-password"
name = "Bob Example"
profiles = ["Support desk", "Everything"]
supervisor = true
max_chats = 5

[[predefined]]
title = "Greeting"
text = "Hello!"

[[predefined]]
title = "Prices"
text = "See our price list."
queues = ["Sales Team"]
"""

# GOOD with changes to what is stored: a renamed agent, changed profiles, a new queue and agent
CHANGED = (
    GOOD.replace('name = "Alice Example"', 'name = "Alice Renamed"')
    .replace('profiles = ["Support desk"]\n', 'profiles = ["Everything"]\nmax_chats = 2\n')
    .replace('text = "Hello!"', 'text = "Hello there!"')
    + """
[[queue]]
name = "Billing"

[[agent]]
username = "dave"
password = "dave-password"
name = "Dave New"
profiles = ["Everything"]
"""
)


def snapshot():
    """Every stored row of every table, ids included."""
    return {model.__name__: list(model.select().order_by(model.id).dicts()) for model in TABLES}


def names(model, field="name"):
    return sorted(getattr(row, field) for row in model.select())


def links(agent_or_profile):
    if isinstance(agent_or_profile, Agent):
        return sorted(
            p.name for p in Profile.select().join(AgentProfile).where(AgentProfile.agent == agent_or_profile)
        )
    return sorted(
        q.name for q in Queue.select().join(ProfileQueue).where(ProfileQueue.profile == agent_or_profile)
    )


def predefined_queues(title):
    item = Predefined.get(Predefined.title == title)
    return sorted(
        q.name for q in Queue.select().join(PredefinedQueue).where(PredefinedQueue.predefined == item)
    )


def last_header_line(text, kind):
    """The line number of the last `[[kind]]` header: each bad entry below is the last of its kind."""
    return max(n for n, line in enumerate(text.splitlines(), 1) if line.strip() == f"[[{kind}]]")


# --- good files ---------------------------------------------------------------------------


def test_valid_file_creates_everything(database):
    counts = load_text(GOOD)
    assert counts == {"queue": 2, "profile": 2, "agent": 2, "predefined": 2, "option_set": 0}
    assert {q.name: q.slug for q in Queue.select()} == {"Support": "support", "Sales Team": "sales-team"}
    assert all(q.enabled for q in Queue.select())
    assert links(Profile.get(name="Support desk")) == ["Support"]
    assert links(Profile.get(name="Everything")) == ["Sales Team", "Support"]

    alice = Agent.get(username="alice")
    assert alice.name == "Alice Example"
    assert alice.check_password("alice-password")
    assert not alice.check_password("bob-password")
    assert alice.password_hash != "alice-password"
    assert alice.supervisor is False
    assert alice.max_chats == 3
    assert alice.status == "off"
    assert links(alice) == ["Support desk"]

    bob = Agent.get(username="bob")
    assert bob.supervisor is True
    assert bob.max_chats == 5
    assert links(bob) == ["Everything", "Support desk"]
    assert [p.name for p in bob.allowed_profiles()] == ["Everything", "Support desk"]

    assert Predefined.get(title="Greeting").text == "Hello!"
    assert predefined_queues("Greeting") == []  # absent: every queue
    assert predefined_queues("Prices") == ["Sales Team"]


def test_loading_twice_changes_nothing(database):
    load_text(GOOD)
    before = snapshot()
    hash_before = Agent.get(username="alice").password_hash
    assert load_text(GOOD) == {"queue": 2, "profile": 2, "agent": 2, "predefined": 2, "option_set": 0}
    assert snapshot() == before
    assert Agent.get(username="alice").password_hash == hash_before


def test_update_changes_names_profiles_and_settings(database):
    load_text(GOOD)
    alice_id = Agent.get(username="alice").id
    hash_before = Agent.get(username="alice").password_hash
    load_text(CHANGED)
    alice = Agent.get(username="alice")
    assert alice.id == alice_id
    assert alice.name == "Alice Renamed"
    assert alice.max_chats == 2
    assert links(alice) == ["Everything"]
    assert alice.password_hash == hash_before
    assert Predefined.get(title="Greeting").text == "Hello there!"
    assert names(Queue) == ["Billing", "Sales Team", "Support"]
    assert Queue.get(name="Billing").slug == "billing"
    assert Agent.get(username="dave").check_password("dave-password")
    assert Agent.select().count() == 3


def test_update_changes_a_password_profile_queues_and_flags(database):
    load_text(GOOD)
    hash_before = Agent.get(username="bob").password_hash
    text = (
        GOOD.replace('"bob-password"', '"a-new-bob-password"')
        .replace("supervisor = true\n", "")
        .replace('queues = ["Support", "Sales Team"]', "queues = []")
        .replace('queues = ["Sales Team"]\n', "")
    )
    load_text(text)
    bob = Agent.get(username="bob")
    assert bob.password_hash != hash_before
    assert bob.check_password("a-new-bob-password")
    assert bob.supervisor is False  # absent means the default
    assert links(Profile.get(name="Everything")) == []
    assert predefined_queues("Prices") == []  # absent: every queue


def test_file_may_refer_to_queues_and_profiles_already_stored(database):
    load_text(GOOD)
    load_text(
        """
[[profile]]
name = "Sales only"
queues = ["Sales Team"]

[[agent]]
username = "erin"
password = "erin-password"
name = "Erin"
profiles = ["Everything", "Sales only"]
"""
    )
    assert links(Agent.get(username="erin")) == ["Everything", "Sales only"]
    assert links(Profile.get(name="Sales only")) == ["Sales Team"]
    # what the second file does not mention stays as it was
    assert links(Agent.get(username="alice")) == ["Support desk"]


def test_empty_file_changes_nothing(database):
    load_text(GOOD)
    before = snapshot()
    assert load_text("# nothing yet\n") == {
        "queue": 0,
        "profile": 0,
        "agent": 0,
        "predefined": 0,
        "option_set": 0,
    }
    assert snapshot() == before


def test_demo_file_loads(database):
    counts = load_file(DEMO)
    assert counts == {"queue": 2, "profile": 3, "agent": 4, "predefined": 5, "option_set": 2}
    assert names(Queue) == ["Sales", "Support"]
    assert Agent.get(username="alice").check_password("alice-demo-pass")
    assert Agent.get(username="sam").supervisor
    assert Agent.get(username="carol").max_chats == 5
    before = snapshot()
    load_file(DEMO)
    assert snapshot() == before


def test_load_file_reads_the_file(database, tmp_path):
    path = tmp_path / "org.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_file(path)["agent"] == 2
    assert load_file(str(path))["agent"] == 2


def test_missing_file_is_refused(database, tmp_path):
    with pytest.raises(OrgError, match="cannot read"):
        load_file(tmp_path / "nope.toml")


# --- bad files ----------------------------------------------------------------------------


def broken(entry):
    """CHANGED (which would modify what GOOD stored) with a bad entry at the end."""
    return CHANGED + "\n" + entry


BAD = {
    "syntax error": (broken('[[agent]]\nusername = "eve"\nname = Eve\n'), "agent", ["Invalid value"]),
    "unknown key": (
        broken('[[queue]]\nname = "Returns"\ncolour = "red"\n'),
        "queue",
        ["unknown key 'colour'"],
    ),
    "missing required key": (
        broken('[[agent]]\nusername = "eve"\nname = "Eve"\n'),
        "agent",
        ["'password' is missing"],
    ),
    "missing profile queues": (broken('[[profile]]\nname = "Empty"\n'), "profile", ["'queues' is missing"]),
    "wrong type int": (
        broken('[[agent]]\nusername = "eve"\npassword = "eve-password"\nname = "Eve"\nmax_chats = "5"\n'),
        "agent",
        ["'max_chats' must be"],
    ),
    "wrong type bool for int": (
        broken('[[agent]]\nusername = "eve"\npassword = "eve-password"\nname = "Eve"\nmax_chats = true\n'),
        "agent",
        ["'max_chats' must be"],
    ),
    "wrong type bool": (
        broken('[[agent]]\nusername = "eve"\npassword = "eve-password"\nname = "Eve"\nsupervisor = "yes"\n'),
        "agent",
        ["'supervisor' must be"],
    ),
    "wrong type string": (broken("[[queue]]\nname = 7\n"), "queue", ["'name' must be a string"]),
    "wrong type list": (
        broken('[[profile]]\nname = "Solo"\nqueues = "Support"\n'),
        "profile",
        ["'queues' must be"],
    ),
    "list of non-names": (
        broken('[[profile]]\nname = "Solo"\nqueues = ["Support", 3]\n'),
        "profile",
        ["list of names"],
    ),
    "empty name": (broken('[[queue]]\nname = "  "\n'), "queue", ["'name' must not be empty"]),
    "unknown queue in profile": (
        broken('[[profile]]\nname = "Solo"\nqueues = ["Support", "Nowhere"]\n'),
        "profile",
        ["no queue named 'Nowhere'"],
    ),
    "unknown queue in predefined": (
        broken('[[predefined]]\ntitle = "Bye"\ntext = "Bye"\nqueues = ["Nowhere"]\n'),
        "predefined",
        ["no queue named 'Nowhere'"],
    ),
    "unknown profile in agent": (
        broken(
            '[[agent]]\nusername = "eve"\npassword = "eve-password"\nname = "Eve"\nprofiles = ["Ghosts"]\n'
        ),
        "agent",
        ["no profile named 'Ghosts'"],
    ),
    "duplicate queue": (broken('[[queue]]\nname = "Billing"\n'), "queue", ["'Billing' appears twice"]),
    "duplicate agent": (
        broken('[[agent]]\nusername = "dave"\npassword = "dave-password"\nname = "Dave Again"\n'),
        "agent",
        ["'dave' appears twice"],
    ),
    "duplicate profile": (
        broken('[[profile]]\nname = "Everything"\nqueues = []\n'),
        "profile",
        ["'Everything' appears twice"],
    ),
    "duplicate predefined": (
        broken('[[predefined]]\ntitle = "Greeting"\ntext = "Hi again"\n'),
        "predefined",
        ["'Greeting' appears twice"],
    ),
    "queue URL clash in file": (broken('[[queue]]\nname = "billing"\n'), "queue", ["clash", "Billing"]),
    "queue URL clash with stored queue": (
        # Support is stored already; this file does not mention it but adds a queue with its URL
        CHANGED.replace('[[queue]]\nname = "Support"\n\n', "", 1) + '\n[[queue]]\nname = "SUPPORT"\n',
        "queue",
        ["clash", "'Support'"],
    ),
    "name listed twice": (
        broken('[[profile]]\nname = "Solo"\nqueues = ["Support", "Support"]\n'),
        "profile",
        ["'Support'", "twice"],
    ),
    "short password": (
        broken('[[agent]]\nusername = "eve"\npassword = "short"\nname = "Eve"\n'),
        "agent",
        ["at least 8 characters"],
    ),
    "max_chats zero": (
        broken('[[agent]]\nusername = "eve"\npassword = "eve-password"\nname = "Eve"\nmax_chats = 0\n'),
        "agent",
        ["max_chats must be between 1 and 50"],
    ),
    "max_chats too high": (
        broken('[[agent]]\nusername = "eve"\npassword = "eve-password"\nname = "Eve"\nmax_chats = 51\n'),
        "agent",
        ["max_chats must be between 1 and 50"],
    ),
    "bad username": (
        broken('[[agent]]\nusername = "eve smith"\npassword = "eve-password"\nname = "Eve"\n'),
        "agent",
        ["username may hold only"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_refused_naming_the_line_and_changes_nothing(database, case):
    text, kind, reasons = BAD[case]
    load_text(GOOD)
    before = snapshot()
    with pytest.raises(OrgError) as caught:
        load_text(text, name="org.toml")
    message = str(caught.value)
    assert message.startswith("org.toml")
    line = last_header_line(text, kind)
    if case == "syntax error":
        line += 2  # tomllib names the line of the bad value itself
    assert re.search(rf"\bline {line}\b", message), message
    for reason in reasons:
        assert reason in message
    assert snapshot() == before


@pytest.mark.parametrize(
    "text, reason",
    [
        ('[[queues]]\nname = "Support"\n', "unknown section"),
        ('[[queue]]\nname = "Support"\n\n[team]\nname = "x"\n', "unknown section"),
        ('[[queue]]\nname = "Support"\n\n[queue_extra]\nname = "x"\n', "unknown section [[queue_extra]]"),
        ('title = "My org"\n', "unknown section"),
        ('queue = "Support"\n', "[[queue]]"),
        ('queue = ["Support"]\n', "must be a table"),
    ],
)
def test_badly_shaped_file_is_refused_naming_the_line_and_changes_nothing(database, text, reason):
    load_text(GOOD)
    before = snapshot()
    with pytest.raises(OrgError) as caught:
        load_text(text)
    message = str(caught.value)
    assert reason in message
    assert re.search(r"\bline \d+\b", message), message
    assert snapshot() == before


def test_bad_file_on_disk_names_the_file_and_changes_nothing(database, tmp_path):
    load_text(GOOD)
    before = snapshot()
    path = tmp_path / "org.toml"
    path.write_text(
        broken('[[agent]]\nusername = "eve"\npassword = "short"\nname = "Eve"\n'), encoding="utf-8"
    )
    with pytest.raises(OrgError, match=re.escape(str(path))):
        load_file(path)
    assert snapshot() == before


def test_file_that_is_not_utf8_is_refused(database, tmp_path):
    load_text(GOOD)
    before = snapshot()
    path = tmp_path / "org.toml"
    path.write_bytes(CHANGED.replace("Alice Renamed", "Alice Ren\xe9e").encode("latin-1"))
    with pytest.raises(OrgError) as caught:
        load_file(path)
    line = next(n for n, text in enumerate(CHANGED.splitlines(), 1) if "Alice Renamed" in text)
    assert f"line {line}" in str(caught.value)
    assert "UTF-8" in str(caught.value)
    assert snapshot() == before
