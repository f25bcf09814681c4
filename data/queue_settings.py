"""A queue's settings for when nobody can answer: opening hours, the team's address, the longest wait,
and how long an answered chat may stay idle.

Read from the organisation file, from the /admin form and from the queue's row, in one shape
(`QueueSettings`), checked in one place: a bad value raises `SettingsError` naming its field.
"""

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from data import hours as opening_hours
from data.checks import is_email
from data.hours import DAYS, HoursError

MIN_WAIT, MAX_WAIT = 10, 24 * 3600  # seconds
MIN_IDLE, MAX_IDLE = 5, 7 * 24 * 3600  # seconds
FORM_DAYS = {f"hours_{day}": day for day in DAYS}  # the /admin form's field of each day


class SettingsError(HoursError):
    """A bad setting; `field` names it ("timezone", "hours", "closed", "email", "longest_wait",
    "idle_after")."""


@dataclass(frozen=True)
class QueueSettings:
    hours: opening_hours.Hours = opening_hours.ALWAYS
    email: str = ""
    longest_wait: int | None = None  # seconds
    idle_after: int | None = None  # seconds without a message from the chatter (data/idle.py)


def of(queue):
    """The settings stored on a queue's row."""
    return QueueSettings(
        _stored_hours(queue.timezone, queue.hours, queue.closed_dates),
        queue.email,
        queue.longest_wait,
        queue.idle_after,
    )


@lru_cache(maxsize=256)
def _stored_hours(zone, table, closed):
    """Hours as stored (checked when they were saved): parsed once per text, since every chat page reads them."""
    return opening_hours.parse(zone, json.loads(table or "{}"), json.loads(closed or "[]"))


def apply(queue, settings):
    """Put `settings` on the queue's row (the caller saves it)."""
    hours = settings.hours
    queue.timezone = hours.zone
    queue.hours = json.dumps(hours.as_table()) if hours.week else ""
    queue.closed_dates = json.dumps(hours.closed_list()) if hours.closed else ""
    queue.email = settings.email
    queue.longest_wait = settings.longest_wait
    queue.idle_after = settings.idle_after


def from_org(item):
    """The settings of a [[queue]] table of the organisation file; absent keys mean none."""
    hours = opening_hours.parse(item.get("timezone", ""), item.get("hours"), item.get("closed", ()))
    if "hours" in item and not item["hours"]:
        raise SettingsError("hours", "the hours hold no opening time: the queue would never open")
    wait, idle = item.get("longest_wait"), item.get("idle_after")
    return QueueSettings(
        hours,
        check_email(item.get("email", "")),
        None if wait is None else check_wait(wait),
        None if idle is None else check_idle(idle),
    )


def export_fields(queue):
    """(key, value) pairs for the queue's [[queue]] table: only what is set."""
    settings = of(queue)
    hours = settings.hours
    return [
        ("timezone", hours.zone or None),
        ("hours", hours.as_table() or None),
        ("closed", hours.closed_list() or None),
        ("email", settings.email or None),
        ("longest_wait", settings.longest_wait),
        ("idle_after", settings.idle_after),
    ]


# --- the /admin form ------------------------------------------------------------------------------


def form_of(queue):
    """The form's fields for a queue (empty for a new one)."""
    settings = of(queue) if queue is not None else QueueSettings()
    table = settings.hours.as_table()
    form = {field: ", ".join(table.get(day, [])) for field, day in FORM_DAYS.items()}
    form.update(
        timezone=settings.hours.zone,
        closed="\n".join(settings.hours.closed_list()),
        email=settings.email,
        longest_wait="" if settings.longest_wait is None else str(settings.longest_wait),
        idle_after="" if settings.idle_after is None else str(settings.idle_after),
    )
    return form


def from_form(form):
    """Check what a supervisor typed; return (settings, {field: error}). All days empty: always open."""
    errors = {}
    table = {day: _split(form.get(field, "")) for field, day in FORM_DAYS.items()}
    table = {day: ranges for day, ranges in table.items() if ranges}
    closed = [line for line in _split(form.get("closed", ""), lines=True)]
    hours = opening_hours.ALWAYS
    try:
        hours = opening_hours.parse(form.get("timezone", ""), table, closed)
    except HoursError as e:
        errors[f"hours_{e.day}" if e.day else e.field] = _sentence(e)
    email = wait = None
    try:
        email = check_email(form.get("email", ""))
    except SettingsError as e:
        errors["email"] = _sentence(e)
    wait = _seconds(form, "longest_wait", check_wait, MIN_WAIT, MAX_WAIT, errors)
    idle = _seconds(form, "idle_after", check_idle, MIN_IDLE, MAX_IDLE, errors)
    return QueueSettings(hours, email or "", wait, idle), errors


def _seconds(form, field, check, low, high, errors):
    """A number of seconds typed in `field`, checked; None when empty or wrong (then in `errors`)."""
    typed = str(form.get(field, "")).strip()
    if typed and not typed.isdigit():
        errors[field] = f"Give a whole number of seconds from {low} to {high}, or leave it empty."
    elif typed:
        try:
            return check(int(typed))
        except SettingsError as e:
            errors[field] = _sentence(e)
    return None


def _split(text, lines=False):
    parts = str(text or "").splitlines() if lines else re.split(r"[,;\n]", str(text or ""))
    return [p.strip() for p in parts if p.strip()]


def _sentence(error):
    text = str(error)
    return text[0].upper() + text[1:] + "."


# --- single values --------------------------------------------------------------------------------


def check_email(address):
    address = (address or "").strip()
    if address and not (address.isascii() and is_email(address)):
        raise SettingsError("email", f"'{address}' is not one plain e-mail address like help@shop.example")
    return address


def check_wait(seconds):
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not MIN_WAIT <= seconds <= MAX_WAIT:
        raise SettingsError(
            "longest_wait", f"the longest wait is a number of seconds from {MIN_WAIT} to {MAX_WAIT}"
        )
    return seconds


def check_idle(seconds):
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not MIN_IDLE <= seconds <= MAX_IDLE:
        raise SettingsError(
            "idle_after", f"the idle time is a number of seconds from {MIN_IDLE} to {MAX_IDLE}"
        )
    return seconds
