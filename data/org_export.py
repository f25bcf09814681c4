"""Write the stored organisation as an organisation file that `parley load` applies unchanged.

Passwords are stored only as hashes, so they are never exported: an agent without `password` in
the file keeps the password they have when it is loaded (a new agent needs one added by hand).
"""

import json

from data import queue_settings
from data.models import Agent, AgentProfile, Profile, ProfileQueue, Queue
from data.ready_models import OptionSet, Predefined

HEADER = """\
# Parley organisation, exported {at} UTC.
# Apply it with `parley load FILE`. Passwords are not exported: an agent without a password keeps
# the one they have; to create an agent from this file in an empty database, add a password line.
"""


def export_text(at):
    """The organisation as TOML: queues, profiles, agents, predefined messages and option sets."""
    out = [HEADER.format(at=at.strftime("%Y-%m-%d %H:%M"))]
    for queue in Queue.select().order_by(Queue.id):
        fields = [("name", queue.name), ("enabled", queue.enabled), *queue_settings.export_fields(queue)]
        out.append(_table("queue", fields))
    for profile in Profile.select().order_by(Profile.id):
        names = [
            pq.queue.name
            for pq in ProfileQueue.select(ProfileQueue, Queue)
            .join(Queue)
            .where(ProfileQueue.profile == profile)
            .order_by(Queue.name)
        ]
        fields = [("name", profile.name), ("queues", names), ("enabled", profile.enabled)]
        out.append(_table("profile", fields))
    for agent in Agent.select().order_by(Agent.id):
        names = [
            ap.profile.name
            for ap in AgentProfile.select(AgentProfile, Profile)
            .join(Profile)
            .where(AgentProfile.agent == agent)
            .order_by(Profile.name)
        ]
        fields = [
            ("username", agent.username),
            ("name", agent.name),
            ("profiles", names),
            ("supervisor", agent.supervisor),
            ("max_chats", agent.max_chats),
            ("enabled", agent.enabled),
        ]
        out.append(_table("agent", fields))
    for item in Predefined.select().order_by(Predefined.id):
        queues = sorted(link.queue.name for link in item.queue_links)
        out.append(
            _table("predefined", [("title", item.title), ("text", item.text), ("queues", queues or None)])
        )
    for item in OptionSet.select().order_by(OptionSet.id):
        queues = sorted(link.queue.name for link in item.queue_links)
        fields = [
            ("title", item.title),
            ("question", item.question),
            ("options", item.option_list),
            ("queues", queues or None),
        ]
        out.append(_table("option_set", fields))
    return "\n".join(out)


def _table(kind, fields):
    lines = [f"[[{kind}]]"]
    for key, value in fields:
        if value is not None:
            lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


def _value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_string(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table of bare keys (a queue's hours: mon, tue, ...)
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    return _string(value)


def _string(text):
    """A TOML basic string: JSON's escapes are TOML's, except that TOML also escapes DEL."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
