"""Staff actions on alarms and work orders leave an audit entry in their own transaction (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from urbis.core.audit import AuditFilter, read
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.core.errors import Conflict
from urbis.operations import service as operations_service
from urbis.operations.model import AlarmReport, Severity, TicketState
from urbis.operations.service import OperationsService
from urbis.operations.store import TicketFilter

T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
LAMP = "urn:ngsi-ld:Streetlight:l-9"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def ops(database: Database, clock: FixedClock) -> OperationsService:
    return OperationsService(database, None, clock=clock)


def lamp_failure(tenant: str) -> AlarmReport:
    return AlarmReport(
        tenant=tenant,
        solution="lighting",
        kind="lampFailure",
        source=LAMP,
        severity=Severity.HIGH,
        description="lamp l-9 does not light",
        at=T0,
        work_order="Replace the lamp",
    )


def trail(database: Database, tenant: str) -> list[tuple[datetime, str, str, str, dict[str, Any]]]:
    """The tenant's entries, oldest first: (at, actor, action, target, detail)."""
    with database.read() as conn:
        entries, _ = read(conn, tenant, AuditFilter(limit=1000))
    return [(e.at, e.actor, e.action, e.target, e.detail) for e in reversed(entries)]


def test_every_staff_action_on_an_alarm_is_recorded_once(
    ops: OperationsService, database: Database, tenant: str, clock: FixedClock
) -> None:
    alarm = ops.report(lamp_failure(tenant))
    ops.report(lamp_failure(tenant))  # a repeat: the solution's doing, not staff's
    assert trail(database, tenant) == []

    clock.advance(minutes=1)
    ops.acknowledge_alarm(tenant, alarm.id, "ops-anna")
    ops.acknowledge_alarm(tenant, alarm.id, "ops-bob")  # already acknowledged: no change, no entry
    clock.advance(minutes=1)
    ops.assign_alarm(tenant, alarm.id, "night crew", by="ops-anna")
    clock.advance(minutes=1)
    unchanged = ops.assign_alarm(tenant, alarm.id, " night crew ", by="ops-bob")  # the same person, once trimmed
    assert unchanged.updated_at == T0 + timedelta(minutes=2)  # not even touched
    ops.assign_alarm(tenant, alarm.id, None, by="ops-bob")
    clock.advance(minutes=1)
    closed = ops.close_alarm(tenant, alarm.id, "  false alarm  ", by="ops-anna")
    ops.close_alarm(tenant, alarm.id, "again", by="ops-bob")  # closed already
    with pytest.raises(Conflict):
        ops.acknowledge_alarm(tenant, alarm.id, "ops-bob")

    assert closed.state is TicketState.CLOSED
    assert trail(database, tenant) == [
        (T0 + timedelta(minutes=1), "ops-anna", "alarm.acknowledge", alarm.id, {}),
        (T0 + timedelta(minutes=2), "ops-anna", "alarm.assign", alarm.id, {"before": None, "after": "night crew"}),
        (T0 + timedelta(minutes=3), "ops-bob", "alarm.assign", alarm.id, {"before": "night crew", "after": None}),
        (T0 + timedelta(minutes=4), "ops-anna", "alarm.close", alarm.id, {"note": "false alarm"}),
    ]


def test_every_staff_action_on_a_work_order_is_recorded_and_recovery_is_not(
    ops: OperationsService, database: Database, tenant: str, clock: FixedClock
) -> None:
    alarm = ops.report(lamp_failure(tenant))
    (opened,) = ops.list_work_orders(tenant, TicketFilter())[0]
    clock.advance(minutes=1)
    ops.acknowledge_work_order(tenant, opened.id, "crew-lead")
    clock.advance(minutes=1)  # entries of one instant read back in no particular order
    ops.assign_work_order(tenant, opened.id, "crew 3", by="ops-anna")
    clock.advance(minutes=1)
    ops.close_work_order(tenant, opened.id, "lamp replaced", by="crew-lead")
    clock.advance(minutes=1)
    ops.recover(tenant, "lighting", "lampFailure", LAMP)  # closes the alarm on its own
    assert ops.get_alarm(tenant, alarm.id).state is TicketState.CLOSED

    manual = ops.create_work_order(
        tenant,
        title=" Prune the tree ",
        description="it hides lamp l-9",
        source=LAMP,
        severity=Severity.LOW,
        by="ops-bob",
    )

    assert trail(database, tenant) == [
        (T0 + timedelta(minutes=1), "crew-lead", "workorder.acknowledge", opened.id, {}),
        (T0 + timedelta(minutes=2), "ops-anna", "workorder.assign", opened.id, {"before": None, "after": "crew 3"}),
        (T0 + timedelta(minutes=3), "crew-lead", "workorder.close", opened.id, {"note": "lamp replaced"}),
        (
            T0 + timedelta(minutes=4),
            "ops-bob",
            "workorder.create",
            manual.id,
            {"title": "Prune the tree", "source": LAMP, "severity": "low"},
        ),
    ]


def test_a_change_whose_entry_cannot_be_written_does_not_happen(
    ops: OperationsService, database: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    alarm = ops.report(lamp_failure(tenant))

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(operations_service.audit, "record", broken)
    with pytest.raises(RuntimeError):
        ops.acknowledge_alarm(tenant, alarm.id, "ops-anna")
    with pytest.raises(RuntimeError):
        ops.create_work_order(tenant, title="Paint", description="", source=LAMP, severity=Severity.LOW, by="ops-anna")
    assert ops.get_alarm(tenant, alarm.id).state is TicketState.OPEN
    assert ops.list_work_orders(tenant, TicketFilter(solution="manual"))[1] == 0
