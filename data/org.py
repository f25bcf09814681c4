"""The organisation file: queues, profiles, agents and predefined messages in TOML, applied at once."""

import json
import re
import tomllib

from data import queue_settings
from data.actions import check_options
from data.changes import RoutingError
from data.checks import has_control
from data.db import write
from data.models import Agent, AgentProfile, Profile, ProfileQueue, Queue
from data.ready_models import OptionSet, OptionSetQueue, Predefined, PredefinedQueue

KINDS = ("queue", "profile", "agent", "predefined", "option_set")
FIELDS = {
    "queue": {
        "name": str,
        "enabled": bool,
        # when nobody can answer (data/queue_settings.py)
        "timezone": str,
        "hours": dict,
        "closed": list,
        "email": str,
        "longest_wait": int,
        "idle_after": int,
    },
    "profile": {"name": str, "queues": list, "enabled": bool},
    "agent": {
        "username": str,
        "password": str,
        "name": str,
        "profiles": list,
        "supervisor": bool,
        "max_chats": int,
        "enabled": bool,
    },
    "predefined": {"title": str, "text": str, "queues": list},
    "option_set": {"title": str, "question": str, "options": list, "queues": list},
}
REQUIRED = {
    "queue": ("name",),
    "profile": ("name", "queues"),
    "agent": ("username", "name"),  # and "password" for an agent not stored yet
    "predefined": ("title", "text"),
    "option_set": ("title", "question", "options"),
}
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
UNSAFE_NAME = re.compile(r"[/?#%\\]")


class OrgError(Exception):
    """A bad organisation file; the text names the line or entry and the reason."""


def load_file(path):
    """Apply the organisation file at `path`; return counts of what it holds."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise OrgError(f"{path}: cannot read: {e.strerror}") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise OrgError(f"{path}, line {line}: the file must be UTF-8 text") from e
    return load_text(text, name=str(path))


def load_text(text, name="organisation file"):
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise OrgError(f"{name}: {e}") from e
    with write():  # checked against the stored names in the same transaction that applies it
        entries = _check(doc, text, name)
        _apply(entries)
    return {kind: len(entries[kind]) for kind in KINDS}


def _check(doc, text, name):
    """Validate every entry before anything is written; return them grouped by kind."""
    unknown = set(doc) - set(KINDS)
    if unknown:
        first = min(unknown, key=lambda key: _line_of(text, key) or 0)
        raise OrgError(
            f"{name}, {_line_name(text, first)}: unknown section [[{first}]]; expected one of {', '.join(KINDS)}"
        )
    entries = {}
    for kind in KINDS:
        items = doc.get(kind, [])
        if not isinstance(items, list):
            raise OrgError(f"{name}, {_line_name(text, kind)}: '{kind}' must be written as [[{kind}]] tables")
        for i, item in enumerate(items):
            _check_entry(kind, item, _where(name, text, kind, i))
            if kind == "queue":
                item["settings"] = _queue_settings(item, text, name, i)
        entries[kind] = items
    _check_references(entries, text, name)
    return entries


def _queue_settings(item, text, name, index):
    """The queue's settings for when nobody can answer; OrgError naming the line of the bad one."""
    try:
        return queue_settings.from_org(item)
    except queue_settings.HoursError as e:
        line = _line_in_entry(text, index, e.day or e.field) or _line_in_entry(text, index, e.field)
        where = f"{name}, line {line}, [[queue]] #{index + 1}" if line else _where(name, text, "queue", index)
        raise OrgError(f"{where}: '{e.field}': {e}") from e


def _line_in_entry(text, index, key):
    """The line of the index-th [[queue]] (its [queue.hours] included) where `key` is set, or None."""
    lines = text.splitlines()
    headers = [n for n, line in enumerate(lines) if line.strip().startswith("[[queue]]")]
    key = re.escape(key)
    setting = re.compile(rf"^\s*(\[\s*queue\.{key}\s*\]|{key}\s*=|.*[{{,]\s*{key}\s*=)")
    for n in range(headers[index] + 1 if index < len(headers) else len(lines), len(lines)):
        header = lines[n].strip().startswith("[")
        if header and not lines[n].strip().startswith("[queue."):
            return None  # the next entry or section
        if setting.match(lines[n]):
            return n + 1
    return None


def _where(name, text, kind, index):
    """Name an entry by its line, found as the index-th `[[kind]]` header."""
    headers = [n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(f"[[{kind}]]")]
    line = f"line {headers[index]}" if index < len(headers) else _line_name(text, kind, f"entry {index + 1}")
    return f"{name}, {line}, [[{kind}]] #{index + 1}"


def _line_of(text, key):
    """The first line that defines the top-level `key` (as a table header or `key = ...`), or None."""
    pattern = re.compile(
        rf"^\s*(\[\[?\s*[\"']?{re.escape(key)}[\"']?\s*[\].]|[\"']?{re.escape(key)}[\"']?\s*[=.])"
    )
    return next((n for n, line in enumerate(text.splitlines(), 1) if pattern.match(line)), None)


def _line_name(text, key, otherwise="the top level"):
    line = _line_of(text, key)
    return f"line {line}" if line else otherwise


def _check_entry(kind, item, where):
    if not isinstance(item, dict):
        raise OrgError(f"{where}: must be a table")
    for key, value in item.items():
        expected = FIELDS[kind].get(key)
        if expected is None:
            raise OrgError(f"{where}: unknown key '{key}'")
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            what = {"str": "a string", "dict": "a table"}.get(expected.__name__, expected.__name__)
            raise OrgError(f"{where}: '{key}' must be {what}")
        if expected is list and not all(isinstance(v, str) for v in value):
            raise OrgError(f"{where}: '{key}' must be a list of names")
        if expected is list and len(set(value)) < len(value):
            twice = next(v for v in value if value.count(v) > 1)
            raise OrgError(f"{where}: '{key}' lists '{twice}' twice")
        if expected is str and key != "password" and not value.strip():
            raise OrgError(f"{where}: '{key}' must not be empty")
        one_line = [value] if expected is str and key not in ("password", "text") else []
        if expected is list:
            one_line = value
        if any(has_control(v) for v in one_line):
            raise OrgError(f"{where}: '{key}' must be on one line, without control characters")
    for key in REQUIRED[kind]:
        if key not in item:
            raise OrgError(f"{where}: '{key}' is missing")
    if kind == "option_set":
        try:
            check_options(item["question"], item["options"])
        except RoutingError as e:
            raise OrgError(f"{where}: {e}") from e
    if kind == "queue" and UNSAFE_NAME.search(item["name"]):
        raise OrgError(f"{where}: a queue name may not hold / ? # % or \\, since it becomes a URL")
    if kind == "agent":
        if not USERNAME.match(item["username"]):
            raise OrgError(f"{where}: username may hold only letters, digits, '.', '_' and '-'")
        if "password" in item and len(item["password"]) < 8:
            raise OrgError(f"{where}: the password must be at least 8 characters")
        if not 1 <= item.get("max_chats", 3) <= 50:
            raise OrgError(f"{where}: max_chats must be between 1 and 50")


def _check_references(entries, text, name):
    queues = {q["name"] for q in entries["queue"]} | {q.name for q in Queue.select()}
    profiles = {p["name"] for p in entries["profile"]} | {p.name for p in Profile.select()}
    keys = {
        "queue": "name",
        "profile": "name",
        "agent": "username",
        "predefined": "title",
        "option_set": "title",
    }
    for kind, key in keys.items():
        seen = set()
        for i, item in enumerate(entries[kind]):
            if item[key] in seen:
                raise OrgError(f"{_where(name, text, kind, i)}: '{item[key]}' appears twice")
            seen.add(item[key])
    slugs = {q.slug: q.name for q in Queue.select()}
    for i, q in enumerate(entries["queue"]):
        slug = Queue.slug_for(q["name"])
        if slug in slugs and slugs[slug] != q["name"]:
            raise OrgError(f"{_where(name, text, 'queue', i)}: its URL would clash with '{slugs[slug]}'")
        slugs[slug] = q["name"]
    # an exported file has no passwords: agents stored already keep theirs, new ones need one
    stored = {a.username for a in Agent.select(Agent.username)}
    for i, a in enumerate(entries["agent"]):
        if "password" not in a and a["username"] not in stored:
            raise OrgError(f"{_where(name, text, 'agent', i)}: 'password' is missing (a new agent needs one)")
    refs = [("profile", "queues", queues, "queue"), ("predefined", "queues", queues, "queue")]
    refs.append(("option_set", "queues", queues, "queue"))
    refs.append(("agent", "profiles", profiles, "profile"))
    for kind, key, known, what in refs:
        for i, item in enumerate(entries[kind]):
            for ref in item.get(key, []):
                if ref not in known:
                    raise OrgError(f"{_where(name, text, kind, i)}: there is no {what} named '{ref}'")


def _apply(entries):
    for q in entries["queue"]:
        queue = Queue.get_or_none(Queue.name == q["name"]) or Queue(name=q["name"])
        queue.slug = Queue.slug_for(q["name"])
        queue.enabled = q.get("enabled", queue.enabled)  # absent: as it is (new ones enabled)
        queue_settings.apply(queue, q["settings"])  # absent: always open, no address, no longest wait
        queue.save()
    queues = {q.name: q for q in Queue.select()}
    for p in entries["profile"]:
        profile = Profile.get_or_none(Profile.name == p["name"]) or Profile.create(name=p["name"])
        if profile.enabled != p.get("enabled", profile.enabled):
            Profile.update(enabled=p["enabled"]).where(Profile.id == profile.id).execute()
        _link(ProfileQueue, "profile", profile, "queue", [queues[n] for n in p["queues"]])
    profiles = {p.name: p for p in Profile.select()}
    for a in entries["agent"]:
        _apply_agent(a, profiles)
    for d in entries["predefined"]:
        item = Predefined.get_or_none(Predefined.title == d["title"]) or Predefined(title=d["title"])
        item.text = d["text"]
        item.save()
        _link(PredefinedQueue, "predefined", item, "queue", [queues[n] for n in d.get("queues", [])])
    for o in entries["option_set"]:
        item = OptionSet.get_or_none(OptionSet.title == o["title"]) or OptionSet(title=o["title"])
        item.question = o["question"]
        item.options = json.dumps(o["options"])
        item.save()
        _link(OptionSetQueue, "option_set", item, "queue", [queues[n] for n in o.get("queues", [])])


def _apply_agent(a, profiles):
    agent = Agent.get_or_none(Agent.username == a["username"]) or Agent(username=a["username"])
    if "password" in a and (not agent.password_hash or not agent.check_password(a["password"])):
        agent.set_password(a["password"])
    agent.enabled = a.get("enabled", agent.enabled)
    agent.name = a["name"]
    agent.supervisor = a.get("supervisor", False)
    agent.max_chats = a.get("max_chats", 3)
    agent.save()
    _link(AgentProfile, "agent", agent, "profile", [profiles[n] for n in a.get("profiles", [])])


def _link(table, owner_field, owner, target_field, targets):
    """Make the link rows of `owner` exactly `targets`, leaving rows that stay untouched."""
    owner_column, target_column = getattr(table, owner_field), getattr(table, target_field)
    wanted = {target.id for target in targets}
    have = {row[0] for row in table.select(target_column).where(owner_column == owner).tuples()}
    if have - wanted:
        table.delete().where((owner_column == owner) & target_column.in_(list(have - wanted))).execute()
    for target in targets:
        if target.id not in have:
            table.create(**{owner_field: owner, target_field: target})
