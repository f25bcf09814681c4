"""Opening hours as pure functions of (hours, zone, closed dates, now): across time zones, the changes
to and from summer time, and holidays. Expected instants are written out in UTC by hand."""

from datetime import UTC, date, datetime

import pytest

from data.hours import ALWAYS, HoursError, is_open, next_opening, parse, spans, when

OFFICE = {day: ["08:00-12:00", "13:00-16:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def oslo(table=None, closed=()):
    return parse("Europe/Oslo", table or OFFICE, closed)


# --- always open ----------------------------------------------------------------------------------


def test_no_hours_and_no_closed_dates_is_always_open():
    for at in (utc(2026, 3, 29, 1, 30), utc(2026, 12, 24, 23, 59), datetime(2026, 1, 1)):
        assert is_open(ALWAYS, at)
        assert next_opening(ALWAYS, at) is None
    assert parse("", {}, []) == ALWAYS


# --- weekly hours in one zone ---------------------------------------------------------------------


def test_office_hours_in_oslo_winter_time_are_an_hour_behind_utc():
    hours = oslo()
    # Monday 12 January 2026, CET (UTC+1)
    assert not is_open(hours, utc(2026, 1, 12, 6, 59))  # 07:59 in Oslo
    assert is_open(hours, utc(2026, 1, 12, 7, 0))  # 08:00
    assert is_open(hours, utc(2026, 1, 12, 10, 59))  # 11:59
    assert not is_open(hours, utc(2026, 1, 12, 11, 30))  # 12:30: lunch
    assert next_opening(hours, utc(2026, 1, 12, 11, 30)) == utc(2026, 1, 12, 12, 0)  # 13:00
    assert is_open(hours, utc(2026, 1, 12, 14, 59))  # 15:59
    assert not is_open(hours, utc(2026, 1, 12, 15, 0))  # 16:00: closed


def test_the_next_opening_after_a_weekend_moves_with_summer_time():
    hours = oslo()
    # Saturday 28 March 2026; the clocks go forward on Sunday the 29th: Monday 08:00 is 06:00 UTC
    assert not is_open(hours, utc(2026, 3, 28, 12, 0))
    assert next_opening(hours, utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 30, 6, 0)
    # the week before, still winter time: Monday 08:00 is 07:00 UTC
    assert next_opening(hours, utc(2026, 3, 21, 12, 0)) == utc(2026, 3, 23, 7, 0)
    # Saturday 24 October 2026; back to winter time on Sunday the 25th: Monday 08:00 is 07:00 UTC
    assert next_opening(hours, utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 26, 7, 0)
    # Friday evening of the week before: still summer time until Sunday, so 06:00 UTC the Monday after
    assert next_opening(hours, utc(2026, 10, 16, 18, 0)) == utc(2026, 10, 19, 6, 0)


def test_the_same_hours_in_other_zones_open_at_other_instants():
    table = {"mon": ["09:00-17:00"]}
    at = utc(2026, 6, 15, 0, 30)  # Monday 15 June 2026, 00:30 UTC
    tokyo, new_york = parse("Asia/Tokyo", table), parse("America/New_York", table)
    assert is_open(tokyo, at)  # 09:30 in Tokyo (UTC+9)
    assert not is_open(new_york, at)  # Sunday 20:30 in New York (UTC-4)
    assert next_opening(new_york, at) == utc(2026, 6, 15, 13, 0)  # Monday 09:00 EDT
    # 17:00 on Monday in Tokyo: closed until next Monday 09:00 JST, midnight UTC
    assert next_opening(tokyo, utc(2026, 6, 15, 8, 0)) == utc(2026, 6, 22, 0, 0)
    # Sydney's summer is the northern winter: 09:00 AEDT (UTC+11) on Monday 12 January is Sunday 22:00 UTC
    assert next_opening(parse("Australia/Sydney", table), utc(2026, 1, 10)) == utc(2026, 1, 11, 22, 0)


# --- the changes of clock -------------------------------------------------------------------------


def test_a_range_in_the_skipped_hour_opens_when_the_clock_jumps():
    # Sunday 29 March 2026 in Oslo: 02:00 CET becomes 03:00 CEST at 01:00 UTC; 02:30 never shows
    hours = oslo({"sun": ["02:30-05:00"]})
    assert spans(hours, date(2026, 3, 29)) == [(utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 3, 0))]
    assert not is_open(hours, utc(2026, 3, 29, 0, 59))  # 01:59 CET
    assert is_open(hours, utc(2026, 3, 29, 1, 0))  # 03:00 CEST
    assert next_opening(hours, utc(2026, 3, 28, 20, 0)) == utc(2026, 3, 29, 1, 0)


def test_a_range_over_the_repeated_hour_stays_open_through_both():
    # Sunday 25 October 2026 in Oslo: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:00-03:00 shows twice
    hours = oslo({"sun": ["02:30-05:00"]})
    assert spans(hours, date(2026, 10, 25)) == [(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 4, 0))]
    assert is_open(hours, utc(2026, 10, 25, 0, 45))  # 02:45 CEST, the first time round
    assert is_open(hours, utc(2026, 10, 25, 1, 15))  # 02:15 CET, the second time round
    assert not is_open(hours, utc(2026, 10, 25, 4, 0))  # 05:00 CET


def test_a_whole_day_lasts_23_hours_in_spring_and_25_in_autumn():
    hours = oslo({"sun": ["00:00-24:00"]})
    ((start, end),) = spans(hours, date(2026, 3, 29))
    assert (start, end) == (utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0))
    ((start, end),) = spans(hours, date(2026, 10, 25))
    assert (end - start).total_seconds() == 25 * 3600


# --- holidays -------------------------------------------------------------------------------------


def test_a_closed_date_closes_the_whole_day_and_the_next_opening_skips_it():
    hours = oslo(closed=["2026-12-24", "2026-12-25"])  # Thursday and Friday
    assert not is_open(hours, utc(2026, 12, 24, 9, 0))  # 10:00 on a weekday
    # Saturday and Sunday have no hours: Monday 28 December 08:00 CET
    assert next_opening(hours, utc(2026, 12, 23, 16, 0)) == utc(2026, 12, 28, 7, 0)
    assert is_open(hours, utc(2026, 12, 23, 9, 0))  # the day before is an ordinary Wednesday


def test_closed_dates_without_weekly_hours_close_only_those_days():
    hours = parse("America/New_York", None, ["2026-07-04"])
    assert is_open(hours, utc(2026, 7, 4, 3, 59))  # 23:59 on 3 July in New York
    assert not is_open(hours, utc(2026, 7, 4, 4, 0))  # midnight of the 4th (EDT, UTC-4)
    assert next_opening(hours, utc(2026, 7, 4, 12, 0)) == utc(2026, 7, 5, 4, 0)


def test_a_queue_closed_on_every_date_it_would_open_never_opens():
    closed = [f"2026-01-{d:02d}" for d in range(1, 32)]
    hours = parse("UTC", {"mon": ["09:00-10:00"]}, closed)
    assert next_opening(hours, utc(2026, 1, 1)) == utc(2026, 2, 2, 9, 0)  # the first Monday of February


# --- saying when ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "instant, said",
    [
        (utc(2026, 3, 25, 12, 0), "today at 13:00"),
        (utc(2026, 3, 26, 7, 0), "tomorrow at 08:00"),
        (utc(2026, 3, 30, 6, 0), "Monday at 08:00"),  # summer time by then
        (utc(2026, 4, 6, 6, 0), "Monday 6 April at 08:00"),
    ],
)
def test_the_next_opening_is_said_in_the_queues_zone(instant, said):
    assert when(instant, "Europe/Oslo", utc(2026, 3, 25, 9, 0)) == said  # Wednesday 10:00 CET


# --- bad hours are refused with the reason --------------------------------------------------------


@pytest.mark.parametrize(
    "zone, table, closed, field, reason",
    [
        ("Mars/Olympus", OFFICE, (), "timezone", "not a time zone"),
        ("../etc/passwd", OFFICE, (), "timezone", "not a time zone"),
        ("", OFFICE, (), "timezone", "need the queue's time zone"),
        ("", None, ["2026-12-24"], "timezone", "need the queue's time zone"),
        ("UTC", {"monday": ["08:00-12:00"]}, (), "hours", "'monday' is not a day"),
        ("UTC", {"mon": ["8-12"]}, (), "hours", "not a time range"),
        ("UTC", {"mon": ["12:00-08:00"]}, (), "hours", "ends before it starts"),
        ("UTC", {"mon": ["22:00-02:00"]}, (), "hours", "ends before it starts"),
        ("UTC", {"mon": ["08:00-24:30"]}, (), "hours", "not a time of day"),
        ("UTC", {"mon": ["08:60-09:00"]}, (), "hours", "not a time of day"),
        ("UTC", {"mon": ["08:00-12:00", "11:00-13:00"]}, (), "hours", "'11:00-13:00' overlaps '08:00-12:00'"),
        ("UTC", {"mon": "08:00-12:00x"}, (), "hours", "not a time range"),
        ("UTC", {"mon": [8]}, (), "hours", "must be a list of time ranges"),
        ("UTC", {"mon": []}, (), "hours", "never open"),
        ("UTC", None, ["2026-02-30"], "closed", "not a date"),
        ("UTC", None, ["24.12.2026"], "closed", "not a date"),
    ],
)
def test_bad_hours_are_refused_naming_the_field_and_the_reason(zone, table, closed, field, reason):
    with pytest.raises(HoursError) as caught:
        parse(zone, table, closed)
    assert caught.value.field == field
    assert reason in str(caught.value)


def test_hours_read_back_as_the_organisation_file_writes_them():
    hours = oslo(closed=["2026-12-25", "2026-12-24"])
    assert hours.as_table()["mon"] == ["08:00-12:00", "13:00-16:00"]
    assert "sat" not in hours.as_table()
    assert hours.closed_list() == ["2026-12-24", "2026-12-25"]
    assert parse(hours.zone, hours.as_table(), hours.closed_list()) == hours
