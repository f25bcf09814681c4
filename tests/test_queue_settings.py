"""A queue's opening hours, address and longest wait: in the organisation file (refused with the line and
the reason, written back by the export) and in the supervisors' form (refused with a message, changing
nothing)."""

import re

import pytest

from data import admin, queue_settings
from data.models import Queue, now
from data.org import OrgError, load_text
from data.org_export import export_text

WITH_HOURS = """\
[[queue]]
name = "Support"
timezone = "Europe/Oslo"
closed = ["2026-12-24", "2026-12-25"]
email = "help@shop.example"
longest_wait = 300

[queue.hours]
mon = ["08:00-12:00", "13:00-16:00"]
fri = ["08:00-14:00"]

[[queue]]
name = "Sales"
"""


def stored(name="Support"):
    return queue_settings.of(Queue.get(Queue.name == name))


def test_the_organisation_file_sets_hours_address_and_longest_wait_and_the_export_writes_them_back(database):
    load_text(WITH_HOURS)
    settings = stored()
    assert settings.hours.zone == "Europe/Oslo"
    assert settings.hours.as_table() == {"mon": ["08:00-12:00", "13:00-16:00"], "fri": ["08:00-14:00"]}
    assert settings.hours.closed_list() == ["2026-12-24", "2026-12-25"]
    assert (settings.email, settings.longest_wait) == ("help@shop.example", 300)
    assert stored("Sales") == queue_settings.QueueSettings()  # absent: always open

    exported = export_text(now())
    assert 'hours = { mon = ["08:00-12:00", "13:00-16:00"], fri = ["08:00-14:00"] }' in exported
    load_text(exported.replace('name = "Sales"', 'name = "Sales"\ntimezone = "UTC"'))
    assert stored() == settings
    assert stored("Sales").hours.zone == "UTC"

    # a file without them makes the queue always open again, as its absence says
    load_text('[[queue]]\nname = "Support"\n')
    assert stored() == queue_settings.QueueSettings()


@pytest.mark.parametrize(
    "bad, good, line, reason",
    [
        (
            'timezone = "Mars/Olympus"',
            'timezone = "Europe/Oslo"',
            3,
            "'timezone': 'Mars/Olympus' is not a time zone",
        ),
        ('"2026-02-30"', '"2026-12-24"', 4, "'closed': '2026-02-30' is not a date"),
        ('email = "help at shop"', 'email = "help@shop.example"', 5, "'email'"),
        ("longest_wait = 3", "longest_wait = 300", 6, "'longest_wait'"),
        ('mon = ["08:00-12:00", "11:00-16:00"]', 'mon = ["08:00-12:00", "13:00-16:00"]', 9, "overlaps"),
        ('fri = ["14:00-08:00"]', 'fri = ["08:00-14:00"]', 10, "ends before it starts"),
        (
            'sat = ["10:00-12:00"]\nfryday = ["09:00-10:00"]',
            'fri = ["08:00-14:00"]',
            11,
            "'fryday' is not a day",
        ),
        ("longest_wait = true", "longest_wait = 300", 1, "'longest_wait' must be int"),
        ('hours = "9-5"', "[queue.hours]", 1, "'hours' must be a table"),
    ],
)
def test_bad_values_are_refused_naming_the_line_and_change_nothing(database, bad, good, line, reason):
    load_text(WITH_HOURS.replace("Europe/Oslo", "UTC"))
    before = stored()
    text = WITH_HOURS.replace(good, bad, 1)
    assert text != WITH_HOURS
    with pytest.raises(OrgError) as caught:
        load_text(text, name="org.toml")
    message = str(caught.value)
    assert re.search(rf"^org.toml, line {line}\b", message), message
    assert reason in message
    assert stored() == before


def test_the_organisation_file_sets_the_idle_time_and_the_export_writes_it_back(database):
    load_text('[[queue]]\nname = "Support"\nidle_after = 600\n')
    assert stored().idle_after == 600
    exported = export_text(now())
    assert "idle_after = 600" in exported
    load_text('[[queue]]\nname = "Support"\n')
    assert stored().idle_after is None  # absent: never
    load_text(exported)
    assert stored().idle_after == 600
    with pytest.raises(OrgError, match=r"line 3\b.*'idle_after'.*from 5 to"):
        load_text('[[queue]]\nname = "Support"\nidle_after = 2\n', name="org.toml")
    assert stored().idle_after == 600


def test_hours_without_a_time_zone_are_refused(database):
    with pytest.raises(OrgError, match="need the queue's time zone"):
        load_text('[[queue]]\nname = "Support"\n\n[queue.hours]\nmon = ["08:00-16:00"]\n')
    assert not Queue.select().exists()


# --- the supervisors' form ------------------------------------------------------------------------


def form(**fields):
    values = {key: "" for key in queue_settings.form_of(None)}
    values.update(fields)
    return values


def test_the_form_saves_hours_and_shows_them_again(database):
    queue, _ = admin.save_queue(
        None,
        "Support",
        settings_form=form(
            timezone="Europe/Oslo",
            hours_mon="08:00-12:00, 13:00-16:00",
            hours_sat="10:00-14:00",
            closed="2026-12-24\n\n2026-12-31 ",
            email="help@shop.example",
            longest_wait="120",
            idle_after="90",
        ),
    )
    shown = queue_settings.form_of(Queue.get_by_id(queue.id))
    assert shown["hours_mon"] == "08:00-12:00, 13:00-16:00" and shown["hours_sat"] == "10:00-14:00"
    assert shown["hours_tue"] == "" and shown["closed"] == "2026-12-24\n2026-12-31"
    assert (shown["timezone"], shown["email"], shown["longest_wait"]) == (
        "Europe/Oslo",
        "help@shop.example",
        "120",
    )
    assert shown["idle_after"] == "90"
    # every day empty again: always open
    admin.save_queue(Queue.get_by_id(queue.id), "Support", settings_form=form())
    assert stored() == queue_settings.QueueSettings()


@pytest.mark.parametrize(
    "fields, field, reason",
    [
        ({"timezone": "Nowhere/Special", "hours_mon": "08:00-16:00"}, "timezone", "not a time zone"),
        ({"hours_mon": "08:00-16:00"}, "timezone", "need the queue's time zone"),
        ({"timezone": "UTC", "hours_tue": "8 to 4"}, "hours_tue", "not a time range"),
        ({"timezone": "UTC", "closed": "tomorrow"}, "closed", "not a date"),
        ({"email": "help@"}, "email", "not one plain e-mail address"),
        ({"longest_wait": "soon"}, "longest_wait", "whole number of seconds"),
        ({"longest_wait": "5"}, "longest_wait", "from 10 to 86400"),
        ({"idle_after": "a while"}, "idle_after", "whole number of seconds"),
        ({"idle_after": "2"}, "idle_after", "from 5 to 604800"),
    ],
)
def test_bad_form_values_are_refused_with_a_message_and_change_nothing(database, fields, field, reason):
    queue, _ = admin.save_queue(None, "Support", settings_form=form(timezone="UTC", hours_mon="09:00-10:00"))
    before = stored()
    with pytest.raises(admin.Invalid) as caught:
        admin.save_queue(Queue.get_by_id(queue.id), "Renamed", settings_form=form(**fields))
    assert reason in caught.value.errors[field]
    assert Queue.get_by_id(queue.id).name == "Support" and stored() == before
