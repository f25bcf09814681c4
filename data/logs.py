"""The organisation's chat logs: full-text search (data/search.py), filters, pages and exports,
without Flask."""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time

from peewee import fn

from data import search
from data.checks import whole_number
from data.models import Agent, Chat, Message, Participant, Queue

PAGE_SIZE = 50
STATES = ("waiting", "offered", "active", "ended")
# cells a spreadsheet would run as a formula: prefixed with ' in CSV exports
FORMULA = ("=", "+", "-", "@", "\t", "\r")


# --- filters and pages ----------------------------------------------------------------------


@dataclass
class Filters:
    """What a supervisor narrowed the logs to; every field optional."""

    queue: int | None = None
    agent: int | None = None
    since: date | None = None  # chats started on or after this day (UTC)
    until: date | None = None  # chats started on or before this day (UTC)
    state: str | None = None
    text: str = ""
    errors: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, args):
        """Read filters from a mapping of strings (a query string); bad values are named in `errors`."""

        def arg(name):
            return str(args.get(name) or "").strip()

        filters = cls(text=arg("q")[:200])
        for name in ("queue", "agent"):
            raw = arg(name)
            if raw:
                number = whole_number(raw)
                if number is not None:
                    setattr(filters, name, number)
                else:
                    filters.errors[name] = f"Choose a {name} from the list."
        for name in ("since", "until"):
            raw = arg(name)
            if raw:
                try:
                    setattr(filters, name, date.fromisoformat(raw))
                except ValueError:
                    filters.errors[name] = "Give the date as YYYY-MM-DD."
        if filters.since and filters.until and filters.since > filters.until:
            filters.errors["until"] = "The end date is before the start date."
        state = arg("state")
        if state:
            if state in STATES:
                filters.state = state
            else:
                filters.errors["state"] = "Choose a status from the list."
        if filters.text and not search.words(filters.text):
            filters.errors["q"] = "Search for at least one word."
        return filters

    def as_args(self):
        """The filters as query-string arguments, for links to other pages and exports."""
        args = {
            "q": self.text,
            "queue": self.queue,
            "agent": self.agent,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "state": self.state,
        }
        return {k: v for k, v in args.items() if v not in (None, "")}


def find_chats(filters):
    """Chats matching `filters`, newest first."""
    chats = Chat.select(Chat, Queue).join(Queue).order_by(Chat.created_at.desc(), Chat.id.desc())
    if filters.queue is not None:
        chats = chats.where(Chat.queue == filters.queue)
    if filters.agent is not None:
        served = Participant.select(Participant.chat).where(Participant.agent == filters.agent)
        chats = chats.where(Chat.id.in_(served))
    if filters.since is not None:
        chats = chats.where(Chat.created_at >= datetime.combine(filters.since, time.min))
    if filters.until is not None:
        chats = chats.where(Chat.created_at <= datetime.combine(filters.until, time.max))  # 9999-12-31 too
    if filters.state is not None:
        chats = chats.where(Chat.state == filters.state)
    if search.words(filters.text):
        found = Message.select(Message.chat).where(search.matching(filters.text))
        chats = chats.where(Chat.id.in_(found))
    return chats


@dataclass
class Page:
    rows: list
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self):
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self):
        return self.number > 1

    @property
    def has_next(self):
        return self.number < self.pages


def page_of(filters, number=1, size=PAGE_SIZE):
    """One page of matching chats, each with its agents, message count and (when searching) a snippet."""
    query = find_chats(filters)
    total = query.count()
    number = max(1, min(number, max(1, -(-total // size))))
    chats = list(query.paginate(number, size))
    ids = [c.id for c in chats]
    agents = agents_of(ids)
    counts = dict(
        Message.select(Message.chat, fn.COUNT(Message.id))
        .where(Message.chat.in_(ids))
        .group_by(Message.chat)
        .tuples()
    )
    snippets = search.snippets(ids, filters.text)
    rows = [
        {
            "chat": c,
            "agents": agents.get(c.id, []),
            "messages": counts.get(c.id, 0),
            "snippet": snippets.get(c.id),
        }
        for c in chats
    ]
    return Page(rows=rows, number=number, total=total, size=size)


def agents_of(chat_ids):
    """For each chat, the names of the agents who were ever in it, in the order they joined."""
    names = {}
    rows = (
        Participant.select(Participant.chat, Agent.name)
        .join(Agent)
        .where(Participant.chat.in_(list(chat_ids)))
        .order_by(Participant.joined_at, Participant.id)
        .tuples()
    )
    for chat_id, name in rows:
        if name not in names.setdefault(chat_id, []):
            names[chat_id].append(name)
    return names


# --- exports --------------------------------------------------------------------------------


def chat_record(chat, agents=None):
    """A chat with every message (private ones marked) as plain data for JSON."""
    if agents is None:
        agents = agents_of([chat.id]).get(chat.id, [])
    return {
        "id": chat.id,
        "queue": chat.queue.name,
        "state": chat.state,
        "chatter_name": chat.chatter_name,
        "chatter_email": chat.chatter_email,
        "name_verified": chat.name_verified,
        "email_verified": chat.email_verified,
        "verified_claims": {c.claim: c.text for c in chat.claims},  # in the order the host site signed them
        "created_at": _iso(chat.created_at),
        "accepted_at": _iso(chat.accepted_at),
        "ended_at": _iso(chat.ended_at),
        "agents": agents,
        "messages": [message_record(m) for m in Message.for_agents(chat)],
    }


def message_record(message):
    record = {
        "seq": message.seq,
        "at": _iso(message.created_at),
        "sender": message.sender,
        "name": speaker(message),
        "private": message.private,
        "kind": message.kind,
        "text": message.text,
    }
    if message.file_count:
        record["files"] = [
            {"name": f.name, "content_type": f.content_type, "size": f.size, "private": f.private}
            for f in message.files
        ]
    if message.kind == "options":
        record["options"] = message.option_list
        record["choice"] = message.choice
    elif message.kind == "answer":
        record["answer_to"] = message.answer_to
        record["choice"] = message.choice
    return record


def speaker(message):
    if message.sender == "chatter":
        return message.chat.display_name
    if message.sender == "agent":
        return message.agent.name if message.agent_id else "Agent"
    return ""


def records(chats):
    """Export records of many chats, the agents of all of them fetched at once."""
    chats = list(chats)
    agents = agents_of([c.id for c in chats])
    return [chat_record(c, agents.get(c.id, [])) for c in chats]


CSV_COLUMNS = [
    "chat_id",
    "queue",
    "chat_state",
    "chatter_name",
    "chatter_email",
    "verified",
    "chat_started",
    "chat_ended",
    "agents",
    "seq",
    "at",
    "sender",
    "name",
    "private",
    "text",
    "files",
]


def to_csv(chat_records):
    """One row per message, each row naming its chat, as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for chat in chat_records:
        head = [
            chat["id"],
            chat["queue"],
            chat["state"],
            chat["chatter_name"],
            chat["chatter_email"],
            _verified(chat),
            chat["created_at"],
            chat["ended_at"] or "",
            ", ".join(chat["agents"]),
        ]
        for m in chat["messages"]:
            row = head + [
                m["seq"],
                m["at"],
                m["sender"],
                m["name"],
                "yes" if m["private"] else "no",
                m["text"],
                "; ".join(f["name"] for f in m.get("files", [])),
            ]
            writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def _verified(chat):
    """What a host site vouched for, in one cell: "name; email; customer_number: 12345"."""
    flags = [field for field in ("name", "email") if chat[f"{field}_verified"]]
    return "; ".join(flags + [f"{claim}: {text}" for claim, text in chat["verified_claims"].items()])


def _cell(value):
    if isinstance(value, str) and value.startswith(FORMULA):
        return "'" + value
    return value


def _iso(moment):
    return moment.isoformat(timespec="seconds") + "Z" if moment else None
