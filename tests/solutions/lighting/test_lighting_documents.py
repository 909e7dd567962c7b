"""Programs, calendars and overrides as JSON documents: strict parsing and exact round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from urbis.core.errors import BadRequestData
from urbis.solutions.lighting.const import SunEvent
from urbis.solutions.lighting.documents import (
    calendar_json,
    parse_calendar,
    parse_override,
    parse_program,
    program_json,
)
from urbis.solutions.lighting.schedule import AstroTimeStep, FixedTimeStep

NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)

PROGRAM: dict[str, Any] = {
    "id": "weeknight",
    "name": "Week nights",
    "level": 80,
    "activePeriod": {"sunsetOffsetMinutes": 15, "sunriseOffsetMinutes": -20},
    "steps": [{"at": "22:30", "level": 40}, {"event": "sunrise", "offsetMinutes": -60, "level": 80}],
    "presence": {"boostLevel": 100, "holdSeconds": 90, "backgroundLevel": 20},
}


def test_a_program_document_becomes_the_talq_program_and_back_unchanged() -> None:
    program, name = parse_program(PROGRAM, "weeknight")
    assert name == "Week nights"
    assert program.level == 80.0
    assert program.active_period.sunset_offset == timedelta(minutes=15)
    assert program.active_period.sunrise_offset == timedelta(minutes=-20)
    assert program.steps == (
        FixedTimeStep(time(22, 30), 40.0),
        AstroTimeStep(SunEvent.SUNRISE, timedelta(minutes=-60), 80.0),
    )
    assert program.presence is not None
    assert (program.presence.boost_level, program.presence.hold, program.presence.background_level) == (
        100.0,
        timedelta(seconds=90),
        20.0,
    )
    assert program_json(program, name) == PROGRAM


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"level": 101}, "level"),
        ({"steps": [{"at": "24:00", "level": 10}]}, "steps[0].at"),
        ({"steps": [{"at": "7:00", "level": 10}]}, "steps[0].at"),
        ({"steps": [{"event": "noon", "level": 10}]}, "steps[0].event"),
        ({"steps": [{"event": "sunset", "offsetMinutes": 721, "level": 10}]}, "offsetMinutes"),
        ({"activePeriod": {"sunsetOffset": 10}}, "sunsetOffset"),
        ({"colour": "warm"}, "colour"),
        ({"level": True}, "level"),
        ({"presence": {"holdSeconds": 0}}, "holdSeconds"),
    ],
)
def test_a_bad_program_is_refused_naming_the_member(change: dict[str, Any], names: str) -> None:
    with pytest.raises(BadRequestData) as caught:
        parse_program({**PROGRAM, **change}, "weeknight")
    assert names in caught.value.detail


def test_the_url_names_the_program_and_the_body_must_agree() -> None:
    assert parse_program({"level": 100}, "plain")[0].program_id == "plain"
    with pytest.raises(BadRequestData, match="differs"):
        parse_program(PROGRAM, "other")
    with pytest.raises(BadRequestData, match="program id"):
        parse_program({"level": 100}, "has space")


CALENDAR: dict[str, Any] = {
    "id": "bonn",
    "name": "Bonn 2026",
    "defaultProgram": "weeknight",
    "dayStartsAt": "12:00",
    "rules": [
        {"name": "New Year's Eve", "program": "festive", "dates": ["2026-12-31"]},
        {
            "name": "Christmas market weekends",
            "program": "event",
            "startDate": "2026-11-20",
            "endDate": "2026-12-23",
            "weekdays": [5, 6],
        },
    ],
}


def test_a_calendar_document_keeps_its_rules_in_order_and_picks_the_first_match() -> None:
    calendar, name = parse_calendar(CALENDAR, "bonn")
    assert name == "Bonn 2026"
    assert calendar_json(calendar, name) == CALENDAR
    # 2026-11-27 is a Friday inside the market season; 2026-11-26 a Thursday; 2026-12-31 a Thursday.
    assert calendar.select(date(2026, 11, 27))[0] == "event"
    assert calendar.select(date(2026, 11, 26))[0] == "weeknight"
    assert calendar.select(date(2026, 12, 31))[0] == "festive"


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"rules": [{"program": "x", "weekdays": [0]}]}, "weekdays[0]"),
        ({"rules": [{"program": "x", "startDate": "2026-12-02", "endDate": "2026-12-01"}]}, "endDate"),
        ({"rules": [{"program": "x", "dates": ["31.12.2026"]}]}, "dates[0]"),
        ({"rules": [{"weekdays": [1]}]}, "program"),
        ({"defaultProgram": None}, "defaultProgram"),
        ({"dayStartsAt": "noon"}, "dayStartsAt"),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_member(change: dict[str, Any], names: str) -> None:
    with pytest.raises(BadRequestData) as caught:
        parse_calendar({**CALENDAR, **change}, "bonn")
    assert names in caught.value.detail


def test_an_override_needs_exactly_one_end_and_a_future_one() -> None:
    body = {"targets": ["district:Centre"], "level": 100, "durationMinutes": 90, "note": "concert"}
    override, note = parse_override(body, override_id="o1", now=NOW)
    assert (override.start, override.expiry, override.received_at) == (NOW, NOW + timedelta(minutes=90), NOW)
    assert override.targets == frozenset({"district:Centre"}) and note == "concert"

    later = {"targets": ["g1"], "level": 0, "start": "2026-11-25T18:00:00+01:00", "expiry": "2026-11-25T20:00:00Z"}
    scheduled, _ = parse_override(later, override_id="o2", now=NOW)
    assert scheduled.start == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)

    for bad, words in (
        ({"targets": ["g1"], "level": 50}, "exactly one"),
        ({"targets": ["g1"], "level": 50, "durationMinutes": 10, "expiry": "2026-11-24T18:00:00Z"}, "exactly one"),
        ({"targets": ["g1"], "level": 50, "expiry": "2026-11-24T16:00:00Z"}, "expire after it starts"),
        (
            {"targets": ["g1"], "level": 50, "start": "2026-11-24T10:00:00Z", "expiry": "2026-11-24T16:00:00Z"},
            "already have expired",
        ),
        ({"targets": [], "level": 50, "durationMinutes": 10}, "at least one"),
        ({"targets": ["g1"], "level": 50, "durationMinutes": 60 * 24 * 367}, "durationMinutes"),
        ({"targets": ["g1"], "level": 50, "expiry": "2026-11-24T18:00:00"}, "time zone"),
    ):
        with pytest.raises(BadRequestData, match=words):
            parse_override(bad, override_id="o3", now=NOW)
