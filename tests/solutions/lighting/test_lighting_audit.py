"""Operators' changes of the lighting control leave an audit entry in their own transaction (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from test_lighting_control import Control, make_control
from test_lighting_service import GROUP, WINTER_EVENING

from urbis.core.audit import AuditFilter, read
from urbis.core.db import Database
from urbis.core.errors import Conflict, NotFound
from urbis.solutions.lighting import service as lighting_service

L1 = "urn:ngsi-ld:Streetlight:l1"
LATE: dict[str, Any] = {"name": "Late dimming", "level": 100, "steps": [{"at": "22:00", "level": 30}]}
WEEK: dict[str, Any] = {"name": "Week", "defaultProgram": "late"}


def trail(database: Database, tenant: str) -> list[tuple[datetime, str, str, str, dict[str, Any]]]:
    """The tenant's entries, oldest first: (at, actor, action, target, detail)."""
    with database.read() as conn:
        entries, _ = read(conn, tenant, AuditFilter(limit=1000))
    return [(e.at, e.actor, e.action, e.target, e.detail) for e in reversed(entries)]


def minute(control: Control, n: int) -> datetime:
    """Move the clock to ``n`` minutes after the test's start (entries of one instant have no order)."""
    return control.at(WINTER_EVENING + timedelta(minutes=n))


def test_programs_calendars_and_group_calendars_are_recorded_when_they_change(database: Database, tenant: str) -> None:
    control = make_control(database, tenant)
    lighting = control.lighting
    t1 = minute(control, 1)
    assert lighting.put_program(tenant, "late", LATE, "olga")[1] is True
    minute(control, 2)
    assert lighting.put_program(tenant, "late", LATE, "oscar")[1] is False  # the same document: nothing changes
    assert lighting.get_program(tenant, "late")["updatedBy"] == "olga"
    t3 = minute(control, 3)
    assert lighting.put_program(tenant, "late", {**LATE, "level": 90}, "oscar")[1] is False
    t4 = minute(control, 4)
    lighting.put_calendar(tenant, "week", WEEK, "olga")
    lighting.put_calendar(tenant, "week", WEEK, "oscar")  # the same again
    t5 = minute(control, 5)
    lighting.assign_calendar(tenant, GROUP, "week", "olga")
    minute(control, 6)
    lighting.assign_calendar(tenant, GROUP, "week", "oscar")  # it runs it already
    t7 = minute(control, 7)
    lighting.assign_calendar(tenant, GROUP, "default", "oscar")
    minute(control, 8)
    lighting.assign_calendar(tenant, GROUP, "default", "olga")  # back on the default already
    t9 = minute(control, 9)
    lighting.delete_calendar(tenant, "week", by="olga")
    t10 = minute(control, 10)
    lighting.delete_program(tenant, "late", by="oscar")
    # Refused or impossible actions change nothing, and leave nothing.
    with pytest.raises(NotFound):
        lighting.delete_program(tenant, "late", by="oscar")
    with pytest.raises(Conflict):
        lighting.delete_program(tenant, "urbis-default", by="oscar")

    assert trail(database, tenant) == [
        (t1, "olga", "lighting.program.put", "late", {"created": True, "name": "Late dimming"}),
        (t3, "oscar", "lighting.program.put", "late", {"created": False, "name": "Late dimming"}),
        (t4, "olga", "lighting.calendar.put", "week", {"created": True, "name": "Week", "defaultProgram": "late"}),
        (t5, "olga", "lighting.calendar.assign", GROUP, {"before": "default", "after": "week"}),
        (t7, "oscar", "lighting.calendar.assign", GROUP, {"before": "week", "after": "default"}),
        (t9, "olga", "lighting.calendar.delete", "week", {}),
        (t10, "oscar", "lighting.program.delete", "late", {}),
    ]


def test_overrides_are_recorded_when_given_and_withdrawn_and_the_lamps_own_commands_are_not(
    database: Database, tenant: str
) -> None:
    control = make_control(database, tenant)
    lighting = control.lighting
    t1 = minute(control, 1)
    body = {"targets": [L1, "district:Centre"], "level": 30, "durationMinutes": 60, "note": "festival"}
    override = lighting.create_override(tenant, body, "olga")
    lighting.evaluate_tenant(tenant, minute(control, 2))  # commands the lamps: the service's doing
    t3 = minute(control, 3)
    lighting.withdraw_override(tenant, override.override_id, "oscar")
    with pytest.raises(Conflict):
        lighting.withdraw_override(tenant, override.override_id, "olga")

    # 20:01 UTC plus 60 minutes; the targets sorted.
    held = {
        "level": 30.0,
        "targets": ["district:Centre", L1],
        "start": "2026-01-15T20:01:00Z",
        "expiry": "2026-01-15T21:01:00Z",
    }
    assert trail(database, tenant) == [
        (t1, "olga", "lighting.override.create", override.override_id, held),
        (t3, "oscar", "lighting.override.withdraw", override.override_id, held),
    ]


def test_an_override_that_has_expired_cannot_be_withdrawn_and_leaves_no_entry(database: Database, tenant: str) -> None:
    control = make_control(database, tenant)
    override = control.lighting.create_override(tenant, {"targets": [L1], "level": 0, "durationMinutes": 5}, "olga")
    minute(control, 5)  # the expiry itself: it holds no longer
    with pytest.raises(Conflict, match="already ended"):
        control.lighting.withdraw_override(tenant, override.override_id, "oscar")
    assert [action for _, _, action, _, _ in trail(database, tenant)] == ["lighting.override.create"]
    assert control.lighting.get_override(tenant, override.override_id).withdrawn_at is None


def test_a_change_whose_entry_cannot_be_written_does_not_happen(
    database: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = make_control(database, tenant)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(lighting_service.audit, "record", broken)
    with pytest.raises(RuntimeError):
        control.lighting.put_program(tenant, "late", LATE, "olga")
    with pytest.raises(RuntimeError):
        control.lighting.create_override(tenant, {"targets": [L1], "level": 0, "durationMinutes": 5}, "olga")
    with pytest.raises(NotFound):
        control.lighting.get_program(tenant, "late")
    assert control.lighting.list_overrides(tenant, active=False, limit=10, offset=0) == []
