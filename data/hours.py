"""Opening hours of a queue: weekly ranges of wall-clock time in the queue's time zone, and closed dates.

Pure functions of (hours, moment): no database, no clock. A range opens at the first instant the
queue's wall clock shows its start and closes at the first instant it shows its end, so a range in
an hour that a change to summer time skips opens when the clock jumps, and one over the hour that
the change back repeats stays open through both. Ranges end by midnight ("24:00" at the latest).
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
MAX_CLOSED = 1000  # closed dates a queue may list: years of holidays
SEARCH_DAYS = 7 + MAX_CLOSED  # how far ahead the next opening is looked for


class HoursError(ValueError):
    """Hours that cannot be used; `field` is "timezone", "hours" or "closed", `day` the day if any."""

    def __init__(self, field, message, day=None):
        super().__init__(message)
        self.field = field
        self.day = day


@dataclass(frozen=True)
class Hours:
    """A queue's opening hours. No weekly ranges and no closed dates: always open."""

    zone: str = ""
    week: tuple = ()  # 7 tuples (Monday first) of (start, end) minutes after midnight; () = every day, all day
    closed: frozenset = frozenset()  # dates (in the zone) it is closed all day

    @property
    def always_open(self):
        return not self.week and not self.closed

    def as_table(self):
        """The weekly ranges as the organisation file writes them: {"mon": ["08:00-12:00"], ...}."""
        return {
            day: [f"{_clock(start)}-{_clock(end)}" for start, end in ranges]
            for day, ranges in zip(DAYS, self.week, strict=False)
            if ranges
        }

    def closed_list(self):
        return [d.isoformat() for d in sorted(self.closed)]


ALWAYS = Hours()


# --- reading them -----------------------------------------------------------------------------------


def parse(zone="", table=None, closed=()):
    """Hours from a time zone name, {day: ["08:00-12:00", ...]} and ["2026-12-24", ...]; HoursError if bad.

    An empty table and no closed dates mean always open; a day missing from a table is closed.
    """
    zone = (zone or "").strip()
    if zone:
        check_zone(zone)
    week = _week(table) if table else ()
    days = frozenset(_date(text) for text in closed or ())
    if len(days) > MAX_CLOSED:
        raise HoursError("closed", f"at most {MAX_CLOSED} closed dates, please (past ones can go)")
    if (week or days) and not zone:
        raise HoursError(
            "timezone", "opening hours and closed dates need the queue's time zone, e.g. Europe/Oslo"
        )
    return Hours(zone, week, days)


def check_zone(zone):
    if zone != zone.strip() or not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", zone):
        raise HoursError("timezone", f"'{zone}' is not a time zone name like Europe/Oslo")
    try:
        _zone(zone)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise HoursError("timezone", f"'{zone}' is not a time zone name like Europe/Oslo") from e


def _week(table):
    unknown = [key for key in table if key not in DAYS]
    if unknown:
        raise HoursError("hours", f"'{unknown[0]}' is not a day: use {', '.join(DAYS)}", unknown[0])
    week = tuple(_day(day, table.get(day, [])) for day in DAYS)
    if not any(week):
        raise HoursError("hours", "the hours hold no opening time: the queue would never open")
    return week


def _day(day, texts):
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list | tuple) or not all(isinstance(t, str) for t in texts):
        raise HoursError("hours", f"'{day}' must be a list of time ranges like [\"08:00-12:00\"]", day)
    ranges = sorted((_range(day, text), text.strip()) for text in texts)
    for (earlier, first), (later, second) in zip(ranges, ranges[1:], strict=False):
        if later[0] < earlier[1]:
            raise HoursError("hours", f"'{second}' overlaps '{first}' on '{day}'", day)
    return tuple(r for r, _ in ranges)


def _range(day, text):
    found = RANGE.match(text)
    if not found:
        raise HoursError("hours", f"'{text}' on '{day}' is not a time range like 08:00-12:00", day)
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise HoursError("hours", f"'{text}' on '{day}' is not a time of day (00:00 to 24:00)", day)
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise HoursError(
            "hours", f"'{text}' on '{day}' ends before it starts (a range ends by 24:00: split it there)", day
        )
    return start, end


def _date(text):
    try:
        if not isinstance(text, str):
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError as e:
        raise HoursError("closed", f"'{text}' is not a date like 2026-12-24") from e


def _clock(minutes):
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=256)
def _zone(name):
    return ZoneInfo(name)


@lru_cache(maxsize=1)
def zone_names():
    """Every IANA time zone name known here, sorted (read from disk once)."""
    return sorted(available_timezones())


# --- the arithmetic -----------------------------------------------------------------------------------


def is_open(hours, at):
    """Whether the queue is open at `at` (an aware datetime, or a naive one in UTC)."""
    if hours.always_open:
        return True
    at = _aware(at)
    today = at.astimezone(_zone(hours.zone)).date()
    # a range is checked against its own date's instants: the day before and after cover any change of clock
    days = (today - timedelta(days=1), today, today + timedelta(days=1))
    return any(start <= at < end for day in days for start, end in spans(hours, day))


def next_opening(hours, at):
    """The first instant after `at` at which a closed queue opens (UTC); None if open now or never."""
    if is_open(hours, at):
        return None
    at = _aware(at)
    today = at.astimezone(_zone(hours.zone)).date()
    for offset in range(-1, SEARCH_DAYS):
        for start, _ in spans(hours, today + timedelta(days=offset)):
            if start > at:
                return start
    return None


def spans(hours, day):
    """The (opening, closing) instants of a date, in UTC."""
    if day in hours.closed:
        return []
    ranges = hours.week[day.weekday()] if hours.week else ((0, 24 * 60),)
    zone = _zone(hours.zone or "UTC")
    return [(_instant(day, start, zone), _instant(day, end, zone)) for start, end in ranges]


def _instant(day, minutes, zone):
    """The first instant at which the wall clock in `zone` shows `minutes` after midnight of `day` or later."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minutes)  # 24:00 is the next midnight
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # the time exists (the first of two, in the hour the clock repeats)
    # skipped by a change to summer time: fold=1 reads it with the later offset, an instant before the jump
    low, high = wall.replace(tzinfo=zone, fold=1).astimezone(UTC), first
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _aware(at):
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# --- saying it ------------------------------------------------------------------------------------------


def when(instant, zone, at):
    """`instant` as a person in `zone` would say it at `at`: "today at 13:00", "Monday at 08:00"."""
    zone = _zone(zone or "UTC")
    local, now_local = _aware(instant).astimezone(zone), _aware(at).astimezone(zone)
    days = (local.date() - now_local.date()).days
    clock = local.strftime("%H:%M")
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    weekday = DAY_NAMES[local.weekday()]
    if days < 7:
        return f"{weekday} at {clock}"
    return f"{weekday} {local.day} {local:%B} at {clock}"
