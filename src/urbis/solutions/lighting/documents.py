"""Control programs, calendars and overrides as JSON documents: what the API takes and gives.

The shapes mirror TALQ's objects with JSON names (camelCase, minutes for offsets):

``ControlProgram``::

    {"id": "weeknight", "name": "Week nights", "level": 100,
     "activePeriod": {"sunsetOffsetMinutes": 40, "sunriseOffsetMinutes": -40},
     "steps": [{"at": "23:00", "level": 50},
               {"event": "sunrise", "offsetMinutes": -60, "level": 100}],
     "presence": {"boostLevel": 100, "holdSeconds": 60, "backgroundLevel": 30}}

``Calendar`` (rules in order; the first that matches a lighting day wins)::

    {"id": "bonn", "defaultProgram": "weeknight", "dayStartsAt": "12:00",
     "rules": [{"name": "New Year's Eve", "program": "festive", "dates": ["2026-12-31"]},
               {"name": "Christmas market", "program": "event",
                "startDate": "2026-11-20", "endDate": "2026-12-23", "weekdays": [5, 6]}]}

``OverrideCommand`` (targets: lamp ids, group ids, or ``district:<name>``)::

    {"targets": ["urn:ngsi-ld:StreetlightGroup:g1"], "level": 100,
     "start": "2026-11-24T18:00:00Z", "expiry": "2026-11-24T22:00:00Z", "note": "Concert"}

Parsing is strict: an unknown member, a wrong type or an impossible value raises
:class:`~urbis.core.errors.BadRequestData` naming the member, so an operator's typo never
silently becomes a dark street.  Pure functions: no storage, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from urbis.core.errors import BadRequestData
from urbis.solutions.lighting.const import DEFAULT_DAY_STARTS_AT, SunEvent
from urbis.solutions.lighting.schedule import (
    AstroClockPeriod,
    AstroTimeStep,
    Calendar,
    CalendarRule,
    ControlProgram,
    FixedTimeStep,
    OverrideCommand,
    PresenceBoost,
    Step,
)

#: Program and calendar ids: short, URL-safe, readable in a log.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_WALL = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
#: Offsets of a sun event beyond half a day would move a step into another lighting day.
MAX_OFFSET_MINUTES = 12 * 60
MAX_STEPS = 48
MAX_RULES = 200
MAX_DATES_PER_RULE = 366
MAX_TARGETS = 1000
MAX_TEXT = 500
#: An override longer than this is a program change, not an override.
MAX_OVERRIDE = timedelta(days=366)
DISTRICT_PREFIX = "district:"

T = TypeVar("T")


def check_id(value: Any, what: str) -> str:
    """``value`` if it is a valid program or calendar id, else :class:`BadRequestData`."""
    if not isinstance(value, str) or not _ID.match(value):
        raise BadRequestData(f"{what} must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit)")
    return value


def _object(value: Any, what: str, allowed: set[str], required: Collection[str] = ()) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestData(f"{what} must be a JSON object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise BadRequestData(f"{what}: unknown member(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    missing = sorted(set(required) - set(value))
    if missing:
        raise BadRequestData(f"{what}: missing member(s) {', '.join(missing)}")
    return value


def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequestData(f"{what} must be a number")
    if not low <= float(value) <= high:
        raise BadRequestData(f"{what} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _level(value: Any, what: str) -> float:
    return _number(value, what, 0.0, 100.0)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadRequestData(f"{what} must be a string of at most {MAX_TEXT} characters")
    return value


def _list(value: Any, what: str, most: int) -> list[Any]:
    if not isinstance(value, list):
        raise BadRequestData(f"{what} must be a JSON array")
    if len(value) > most:
        raise BadRequestData(f"{what} may hold at most {most} items")
    return value


def _wall_time(value: Any, what: str) -> time:
    match = _WALL.match(value) if isinstance(value, str) else None
    if match is None:
        raise BadRequestData(f"{what} must be a local time 'HH:MM' (00:00-23:59), got {value!r:.40}")
    return time(int(match.group(1)), int(match.group(2)))


def _date(value: Any, what: str) -> date:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequestData(f"{what} must be a date 'YYYY-MM-DD', got {value!r:.40}") from None


def parse_instant(value: Any, what: str) -> datetime:
    """An ISO 8601 date-time with a zone as an aware UTC datetime, else :class:`BadRequestData`."""
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise BadRequestData(f"{what} must be an ISO 8601 date-time, got {value!r:.40}") from None
    if moment.tzinfo is None:
        raise BadRequestData(f"{what} must carry a time zone (e.g. 'Z'), got {value!r:.40}")
    return moment.astimezone(UTC)


def _minutes(value: Any, what: str) -> timedelta:
    return timedelta(minutes=_number(value, what, -MAX_OFFSET_MINUTES, MAX_OFFSET_MINUTES))


def _each(items: list[Any], what: str, parse: Callable[[Any, str], T]) -> list[T]:
    return [parse(item, f"{what}[{index}]") for index, item in enumerate(items)]


# -- programs ---------------------------------------------------------------------------------


def _step(raw: Any, what: str) -> Step:
    if isinstance(raw, dict) and "at" in raw:
        body = _object(raw, what, {"at", "level"}, {"at", "level"})
        return FixedTimeStep(_wall_time(body["at"], f"{what}.at"), _level(body["level"], f"{what}.level"))
    body = _object(raw, what, {"event", "offsetMinutes", "level"}, {"event", "level"})
    event = body["event"]
    if event not in {e.value for e in SunEvent}:
        raise BadRequestData(f"{what}.event must be 'sunset' or 'sunrise' (or give 'at': 'HH:MM')")
    offset = _minutes(body.get("offsetMinutes", 0), f"{what}.offsetMinutes")
    return AstroTimeStep(SunEvent(event), offset, _level(body["level"], f"{what}.level"))


def _presence(raw: Any, what: str) -> PresenceBoost:
    body = _object(raw, what, {"boostLevel", "holdSeconds", "backgroundLevel"})
    background = body.get("backgroundLevel")
    return PresenceBoost(
        boost_level=_level(body.get("boostLevel", 100), f"{what}.boostLevel"),
        hold=timedelta(seconds=_number(body.get("holdSeconds", 60), f"{what}.holdSeconds", 1, 3600)),
        background_level=None if background is None else _level(background, f"{what}.backgroundLevel"),
    )


def parse_program(raw: Any, program_id: str | None = None) -> tuple[ControlProgram, str]:
    """A program document as a :class:`ControlProgram` and its display name.

    ``program_id`` (from the URL) wins over, and must agree with, an ``id`` in the body.
    """
    body = _object(raw, "the program", {"id", "name", "level", "activePeriod", "steps", "presence"})
    given = body.get("id")
    if program_id is not None and given is not None and given != program_id:
        raise BadRequestData(f"the body's id {given!r:.70} differs from the URL's {program_id!r:.70}")
    identifier = check_id(program_id if program_id is not None else given, "the program id")
    period = _object(body.get("activePeriod", {}), "activePeriod", {"sunsetOffsetMinutes", "sunriseOffsetMinutes"})
    steps = _each(_list(body.get("steps", []), "steps", MAX_STEPS), "steps", _step)
    presence = body.get("presence")
    program = ControlProgram(
        identifier,
        active_period=AstroClockPeriod(
            sunset_offset=_minutes(period.get("sunsetOffsetMinutes", 0), "activePeriod.sunsetOffsetMinutes"),
            sunrise_offset=_minutes(period.get("sunriseOffsetMinutes", 0), "activePeriod.sunriseOffsetMinutes"),
        ),
        level=_level(body.get("level", 100), "level"),
        steps=tuple(steps),
        presence=None if presence is None else _presence(presence, "presence"),
    )
    return program, _text(body.get("name", ""), "name")


def _whole(value: float) -> float | int:
    """Whole numbers as JSON integers: ``100`` reads better than ``100.0`` in a document."""
    return int(value) if float(value).is_integer() else value


def _offset_minutes(offset: timedelta) -> float | int:
    return _whole(offset.total_seconds() / 60.0)


def _level_json(level: float) -> float | int:
    return _whole(level)


def program_json(program: ControlProgram, name: str = "") -> dict[str, Any]:
    """A :class:`ControlProgram` as its document (the inverse of :func:`parse_program`)."""
    steps: list[dict[str, Any]] = []
    for step in program.steps:
        if isinstance(step, FixedTimeStep):
            steps.append({"at": f"{step.start:%H:%M}", "level": _level_json(step.level)})
        else:
            steps.append(
                {
                    "event": step.event.value,
                    "offsetMinutes": _offset_minutes(step.offset),
                    "level": _level_json(step.level),
                }
            )
    out: dict[str, Any] = {
        "id": program.program_id,
        "name": name,
        "level": _level_json(program.level),
        "activePeriod": {
            "sunsetOffsetMinutes": _offset_minutes(program.active_period.sunset_offset),
            "sunriseOffsetMinutes": _offset_minutes(program.active_period.sunrise_offset),
        },
        "steps": steps,
    }
    if program.presence is not None:
        boost = program.presence
        presence: dict[str, Any] = {
            "boostLevel": _level_json(boost.boost_level),
            "holdSeconds": _whole(boost.hold.total_seconds()),
        }
        if boost.background_level is not None:
            presence["backgroundLevel"] = _level_json(boost.background_level)
        out["presence"] = presence
    return out


# -- calendars --------------------------------------------------------------------------------


def _rule(raw: Any, what: str) -> CalendarRule:
    body = _object(raw, what, {"name", "program", "startDate", "endDate", "weekdays", "dates"}, {"program"})
    weekdays = _list(body.get("weekdays", []), f"{what}.weekdays", 7)
    for index, day in enumerate(weekdays):
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7:
            raise BadRequestData(f"{what}.weekdays[{index}] must be an ISO weekday 1 (Monday) … 7 (Sunday)")
    dates = _each(_list(body.get("dates", []), f"{what}.dates", MAX_DATES_PER_RULE), f"{what}.dates", _date)
    start = body.get("startDate")
    end = body.get("endDate")
    start_date = None if start is None else _date(start, f"{what}.startDate")
    end_date = None if end is None else _date(end, f"{what}.endDate")
    if start_date is not None and end_date is not None and end_date < start_date:
        raise BadRequestData(f"{what}: endDate must not precede startDate")
    return CalendarRule(
        check_id(body["program"], f"{what}.program"),
        name=_text(body.get("name", ""), f"{what}.name"),
        start_date=start_date,
        end_date=end_date,
        weekdays=frozenset(weekdays),
        dates=frozenset(dates),
    )


def parse_calendar(raw: Any, calendar_id: str | None = None) -> tuple[Calendar, str]:
    """A calendar document as a :class:`Calendar` and its display name (``calendar_id`` as for programs)."""
    body = _object(raw, "the calendar", {"id", "name", "defaultProgram", "rules", "dayStartsAt"}, {"defaultProgram"})
    given = body.get("id")
    if calendar_id is not None and given is not None and given != calendar_id:
        raise BadRequestData(f"the body's id {given!r:.70} differs from the URL's {calendar_id!r:.70}")
    identifier = check_id(calendar_id if calendar_id is not None else given, "the calendar id")
    starts = body.get("dayStartsAt")
    calendar = Calendar(
        identifier,
        check_id(body["defaultProgram"], "defaultProgram"),
        rules=tuple(_each(_list(body.get("rules", []), "rules", MAX_RULES), "rules", _rule)),
        day_starts_at=DEFAULT_DAY_STARTS_AT if starts is None else _wall_time(starts, "dayStartsAt"),
    )
    return calendar, _text(body.get("name", ""), "name")


def calendar_json(calendar: Calendar, name: str = "") -> dict[str, Any]:
    """A :class:`Calendar` as its document (the inverse of :func:`parse_calendar`)."""
    rules: list[dict[str, Any]] = []
    for rule in calendar.rules:
        item: dict[str, Any] = {"name": rule.name, "program": rule.program_id}
        if rule.start_date is not None:
            item["startDate"] = rule.start_date.isoformat()
        if rule.end_date is not None:
            item["endDate"] = rule.end_date.isoformat()
        if rule.weekdays:
            item["weekdays"] = sorted(rule.weekdays)
        if rule.dates:
            item["dates"] = [day.isoformat() for day in sorted(rule.dates)]
        rules.append(item)
    return {
        "id": calendar.calendar_id,
        "name": name,
        "defaultProgram": calendar.default_program,
        "dayStartsAt": f"{calendar.day_starts_at:%H:%M}",
        "rules": rules,
    }


def programs_named(calendar: Calendar) -> set[str]:
    """Every program a calendar can run."""
    return {calendar.default_program, *(rule.program_id for rule in calendar.rules)}


# -- overrides --------------------------------------------------------------------------------


def district_target(name: str) -> str:
    """The override target that stands for every lamp of district ``name``."""
    return f"{DISTRICT_PREFIX}{name}"


def parse_override(raw: Any, *, override_id: str, now: datetime) -> tuple[OverrideCommand, str]:
    """An override request as an :class:`OverrideCommand` received at ``now``, and its note.

    ``start`` defaults to ``now``; the expiry is ``expiry`` or ``start + durationMinutes``
    (exactly one of them, at most :data:`MAX_OVERRIDE` after the start, and in the future):
    an override without an end is how a street stays dark for months by mistake.
    """
    body = _object(raw, "the override", {"targets", "level", "start", "expiry", "durationMinutes", "note"})
    if "level" not in body or "targets" not in body:
        raise BadRequestData("the override needs 'targets' and 'level'")
    targets = _list(body["targets"], "targets", MAX_TARGETS)
    if not targets:
        raise BadRequestData("'targets' must name at least one lamp, group or 'district:<name>'")
    for index, target in enumerate(targets):
        if not isinstance(target, str) or not target or len(target) > 512:
            raise BadRequestData(f"targets[{index}] must be a lamp or group id, or 'district:<name>'")
    start = now if body.get("start") is None else parse_instant(body["start"], "start")
    has_expiry, has_duration = body.get("expiry") is not None, body.get("durationMinutes") is not None
    if has_expiry == has_duration:
        raise BadRequestData("give exactly one of 'expiry' and 'durationMinutes'")
    if has_expiry:
        expiry = parse_instant(body["expiry"], "expiry")
    else:
        minutes = _number(body["durationMinutes"], "durationMinutes", 1, MAX_OVERRIDE.total_seconds() / 60)
        expiry = start + timedelta(minutes=minutes)
    if expiry <= start:
        raise BadRequestData("the override must expire after it starts")
    if expiry <= now:
        raise BadRequestData("the override would already have expired")
    if expiry - start > MAX_OVERRIDE:
        raise BadRequestData(f"an override lasts at most {MAX_OVERRIDE.days} days; change the program instead")
    command = OverrideCommand(
        override_id,
        frozenset(targets),
        _level(body["level"], "level"),
        start,
        now,
        expiry,
    )
    return command, _text(body.get("note", ""), "note")
