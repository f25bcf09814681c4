"""What supervisors change and watch: the organisation's forms and the live view, without Flask.

Each `save_*` checks everything first and raises `Invalid` (field -> message) before writing
anything; on success it returns the row and the routing `Changes` its effects caused (an agent
disabled is signed out, agents on a disabled profile are logged off), for the web layer to push.
Nothing here deletes history: queues, profiles and agents are disabled, never deleted.
"""

import json
import re
from dataclasses import dataclass

from peewee import fn

from data import queue_settings, routing
from data.actions import check_options
from data.changes import Changes, RoutingError
from data.checks import single_line, whole_number
from data.db import write
from data.dispatch import load_of
from data.models import Agent, AgentProfile, Chat, Offer, Participant, Profile, ProfileQueue, Queue, now
from data.org import USERNAME
from data.ready_models import OptionSet, OptionSetQueue, Predefined, PredefinedQueue

MAX_NAME = 80
MAX_TITLE = 120
MAX_TEXT = 5000
MIN_PASSWORD = 8
MAX_PASSWORD = 200
MAX_CHATS = 50
UNSAFE_QUEUE_NAME = re.compile(r"[/?#%\\]")


class Invalid(Exception):
    """A form that cannot be saved; `errors` maps each field to what is wrong with it."""

    def __init__(self, errors):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _name(errors, key, value, what, limit=MAX_NAME):
    value = single_line(value)  # names and titles go into transcripts and mails: one line each
    if not value:
        errors[key] = f"Give the {what} a name." if key == "name" else f"Write the {what}."
    elif len(value) > limit:
        errors[key] = f"At most {limit} characters."
    return value


def _rows(model, ids, errors, key, what):
    """The rows of `model` with these ids; a missing one is an error (it was deleted meanwhile)."""
    ids = {int(i) for i in ids}
    rows = list(model.select().where(model.id.in_(list(ids))))
    if len(rows) < len(ids):
        errors[key] = f"One of the chosen {what} no longer exists; reload the page."
    return rows


def _link(table, owner_field, owner, target_field, targets):
    """Make the link rows of `owner` exactly `targets`."""
    table.delete().where(getattr(table, owner_field) == owner).execute()
    for target in targets:
        table.create(**{owner_field: owner, target_field: target})


# --- queues ---------------------------------------------------------------------------------


def save_queue(queue, name, enabled=True, settings_form=None):
    """Create (queue None) or change a queue; its web address follows its name.

    `settings_form`: the form's fields of its hours, address and longest wait (data/queue_settings.py);
    None leaves them as they are.
    """
    errors = {}
    settings = None
    if settings_form is not None:
        settings, errors = queue_settings.from_form(settings_form)
    name = _name(errors, "name", name, "queue")
    if "name" not in errors and UNSAFE_QUEUE_NAME.search(name):
        errors["name"] = "A queue name may not hold / ? # % or \\, since it becomes its web address."
    with write():
        if "name" not in errors:
            slug = Queue.slug_for(name)
            clash = Queue.select().where((Queue.slug == slug) | (fn.LOWER(Queue.name) == name.lower()))
            if queue is not None:
                clash = clash.where(Queue.id != queue.id)
            other = clash.first()
            if other is not None:
                errors["name"] = f"There is already a queue named {other.name}."
        if errors:
            raise Invalid(errors)
        queue = queue or Queue()
        queue.name, queue.slug, queue.enabled = name, Queue.slug_for(name), bool(enabled)
        if settings is not None:
            queue_settings.apply(queue, settings)
        queue.save()
    changes = Changes()
    changes.queues.add(queue.id)
    return queue, changes


# --- profiles -------------------------------------------------------------------------------


def save_profile(profile, name, queue_ids, enabled=True):
    """Create or change a profile; disabling it logs off the agents logged on with it."""
    errors = {}
    name = _name(errors, "name", name, "profile")
    changes = Changes()
    with write():
        if "name" not in errors:
            clash = Profile.select().where(fn.LOWER(Profile.name) == name.lower())
            if profile is not None:
                clash = clash.where(Profile.id != profile.id)
            if clash.exists():
                errors["name"] = f"There is already a profile named {name}."
        queues = _rows(Queue, queue_ids, errors, "queues", "queues")
        if not queue_ids:
            errors["queues"] = "Choose at least one queue: agents on this profile take chats from them."
        if errors:
            raise Invalid(errors)
        profile = profile or Profile()
        profile.name, profile.enabled = name, bool(enabled)
        profile.save()
        _link(ProfileQueue, "profile", profile, "queue", queues)
        on_it = [] if enabled else list(Agent.select().where(Agent.profile == profile))
    for agent in on_it:
        changes.merge(routing.log_off(agent))
    return profile, changes


# --- agents ---------------------------------------------------------------------------------


@dataclass
class AgentForm:
    username: str = ""
    name: str = ""
    password: str = ""
    max_chats: str = "3"
    supervisor: bool = False
    enabled: bool = True
    profile_ids: tuple = ()


def save_agent(agent, form, acting=None):
    """Create or change an agent; return (agent, changes, signed_out).

    A new agent needs a password; for an existing one a password given replaces theirs. Disabling
    an agent signs them out at once (their chats go back to the queues). `acting`, the supervisor
    saving, cannot disable themselves or drop their own supervisor flag.
    """
    errors = {}
    username = (form.username or "").strip()
    if not USERNAME.match(username):
        errors["username"] = "Use 1 to 64 letters, digits, '.', '_' or '-'."
    name = _name(errors, "name", form.name, "agent")
    password = form.password or ""
    if agent is None and not password:
        errors["password"] = "Give the new agent a password."
    elif password and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        errors["password"] = f"A password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters."
    max_chats = whole_number(form.max_chats)
    if max_chats is None or not 1 <= max_chats <= MAX_CHATS:
        errors["max_chats"] = f"Give a whole number from 1 to {MAX_CHATS}."
    if acting is not None and agent is not None and agent.id == acting.id:
        if not form.enabled:
            errors["enabled"] = "You cannot disable your own account."
        if not form.supervisor:
            errors["supervisor"] = "You cannot take away your own supervisor rights."
    with write():
        if "username" not in errors:
            clash = Agent.select().where(fn.LOWER(Agent.username) == username.lower())
            if agent is not None:
                clash = clash.where(Agent.id != agent.id)
            if clash.exists():
                errors["username"] = f"The username {username} is taken."
        profiles = _rows(Profile, form.profile_ids, errors, "profiles", "profiles")
        if errors:
            raise Invalid(errors)
        was_enabled = agent is not None and agent.enabled
        agent = agent or Agent(status="off")
        agent.username, agent.name = username, name
        agent.max_chats, agent.supervisor, agent.enabled = max_chats, form.supervisor, form.enabled
        if password:
            agent.set_password(password)
        if was_enabled and not form.enabled:  # its sessions end, and stay ended if enabled again
            agent.session_version = (agent.session_version or 0) + 1
        agent.save()
        _link(AgentProfile, "agent", agent, "profile", profiles)
        allowed = {p.id for p in profiles if p.enabled}
        current = Agent.get_by_id(agent.id)
    changes = Changes()
    changes.agents.add(agent.id)
    signed_out = was_enabled and not form.enabled
    if signed_out:
        changes.merge(routing.sign_out(current))
    elif current.profile_id is not None and current.profile_id not in allowed:
        changes.merge(routing.log_off(current))  # the profile they are on was taken from them
    return Agent.get_by_id(agent.id), changes, signed_out


# --- predefined messages and option sets ----------------------------------------------------


def save_predefined(item, title, text, queue_ids):
    """Create or change a predefined message; no queues means every queue."""
    errors = {}
    title = _name(errors, "title", title, "title", MAX_TITLE)
    text = (text or "").strip()
    if not text:
        errors["text"] = "Write the message."
    elif len(text) > MAX_TEXT:
        errors["text"] = f"At most {MAX_TEXT} characters."
    with write():
        if "title" not in errors:
            clash = Predefined.select().where(fn.LOWER(Predefined.title) == title.lower())
            if item is not None:
                clash = clash.where(Predefined.id != item.id)
            if clash.exists():
                errors["title"] = f"There is already a predefined message titled {title}."
        queues = _rows(Queue, queue_ids, errors, "queues", "queues")
        if errors:
            raise Invalid(errors)
        item = item or Predefined()
        item.title, item.text = title, text
        item.save()
        _link(PredefinedQueue, "predefined", item, "queue", queues)
    return item


def save_option_set(item, title, question, options_text, queue_ids):
    """Create or change an option set: a question and its options (one per line)."""
    errors = {}
    title = _name(errors, "title", title, "title", MAX_TITLE)
    options = [line.strip() for line in (options_text or "").splitlines() if line.strip()]
    try:
        question, options = check_options(question or "", options)
    except RoutingError as e:
        errors["question" if "question" in str(e).lower() else "options"] = str(e)
    with write():
        if "title" not in errors:
            clash = OptionSet.select().where(fn.LOWER(OptionSet.title) == title.lower())
            if item is not None:
                clash = clash.where(OptionSet.id != item.id)
            if clash.exists():
                errors["title"] = f"There is already an option set titled {title}."
        queues = _rows(Queue, queue_ids, errors, "queues", "queues")
        if errors:
            raise Invalid(errors)
        item = item or OptionSet()
        item.title, item.question, item.options = title, question, json.dumps(options)
        item.save()
        _link(OptionSetQueue, "option_set", item, "queue", queues)
    return item


def delete_canned(item):
    """Delete a predefined message or option set: chats keep the text that was sent from it."""
    with write():
        item.delete_instance()


# --- the live view --------------------------------------------------------------------------


def _away(agent):
    return agent is not None and agent.status != "off" and agent.away_since is not None


def live_snapshot(at=None):
    """Queues with their waiting chats, chats in progress, and agents with their status and chats."""
    at = at or now()
    waiting = list(
        Chat.select(Chat, Queue)
        .join(Queue)
        .where(Chat.state.in_(("waiting", "offered")))
        .order_by(Chat.created_at, Chat.id)
    )
    active = list(
        Chat.select(Chat, Queue).join(Queue).where(Chat.state == "active").order_by(Chat.created_at, Chat.id)
    )
    offered_to = {
        chat_id: name
        for chat_id, name in Offer.select(Offer.chat, Agent.name)
        .join(Agent)
        .where(
            (Offer.state == "pending") & Offer.invitation.is_null() & Offer.chat.in_([c.id for c in waiting])
        )
        .tuples()
    }
    in_chat = {}
    for chat_id, agent_id in (
        Participant.select(Participant.chat, Participant.agent)
        .where(Participant.left_at.is_null() & Participant.chat.in_([c.id for c in active]))
        .order_by(Participant.joined_at)
        .tuples()
    ):
        in_chat.setdefault(chat_id, []).append(agent_id)
    agents = list(Agent.select().where(Agent.enabled).order_by(Agent.name, Agent.id))
    profiles = {p.id: p.name for p in Profile.select()}
    by_id = {a.id: a for a in agents}
    load = load_of([a.id for a in agents]) if agents else {}
    chats_of = {a.id: [] for a in agents}
    for chat in active:
        for agent_id in in_chat.get(chat.id, []):
            if agent_id in chats_of:
                chats_of[agent_id].append(chat)
    pending = dict(
        Offer.select(Offer.agent, fn.COUNT(Offer.id))
        .where(Offer.state == "pending")
        .group_by(Offer.agent)
        .tuples()
    )
    queues = []
    for queue in Queue.select().order_by(Queue.name):
        lines = [
            {
                "chat": c,
                "waited": max(0, int((at - c.created_at).total_seconds())),
                "offered_to": offered_to.get(c.id),
            }
            for c in waiting
            if c.queue_id == queue.id
        ]
        if queue.enabled or lines:
            queues.append({"queue": queue, "chats": lines})
    return {
        "at": at,
        "queues": queues,
        "active": [
            {
                "chat": c,
                "agents": [by_id[i].name for i in in_chat.get(c.id, []) if i in by_id],
                # every agent in it is away (data/presence.py): it goes back to the queue unless one returns
                "unattended": bool(in_chat.get(c.id)) and all(_away(by_id.get(i)) for i in in_chat[c.id]),
            }
            for c in active
        ],
        "agents": [
            {
                "agent": a,
                "profile": profiles.get(a.profile_id),
                "chats": chats_of[a.id],
                "offers": pending.get(a.id, 0),
                "load": load.get(a.id, 0),
            }
            for a in agents
        ],
        "assignable": [
            a for a in agents if a.status == "available" and not _away(a) and load.get(a.id, 0) < a.max_chats
        ],
    }
