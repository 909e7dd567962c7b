"""The ticket rules: opening, repeats, acknowledge, assign, close, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbis.core.errors import BadRequestData, Conflict
from urbis.operations import model
from urbis.operations.model import AlarmReport, Severity, TicketState

T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
LAMP = "urn:ngsi-ld:Streetlight:bonn-17"


def report(at: datetime = T0, severity: Severity = Severity.MEDIUM, **overrides: object) -> AlarmReport:
    values: dict[str, object] = {
        "tenant": "bonn",
        "solution": "lighting",
        "kind": "lampUnexpectedOn",
        "source": LAMP,
        "severity": severity,
        "description": "burning by day",
        "at": at,
        "work_order": "Check the controller",
    }
    values.update(overrides)
    return AlarmReport(**values)  # type: ignore[arg-type]


def test_a_new_alarm_is_open_with_its_work_order() -> None:
    alarm = model.open_alarm(report(), "a1")
    assert (alarm.state, alarm.opened_at, alarm.last_seen_at, alarm.occurrences) == (TicketState.OPEN, T0, T0, 1)
    assert alarm.key == "lighting|lampUnexpectedOn|" + LAMP and alarm.active
    order = model.open_work_order(alarm, "Check the controller", "w1")
    assert (order.alarm_id, order.source, order.severity, order.state) == (
        "a1",
        LAMP,
        Severity.MEDIUM,
        TicketState.OPEN,
    )


def test_a_repeat_counts_escalates_and_never_downgrades() -> None:
    alarm = model.open_alarm(report(), "a1")
    worse = model.repeat(alarm, report(T0 + timedelta(minutes=5), Severity.HIGH, description="still on"))
    assert (worse.occurrences, worse.severity, worse.description) == (2, Severity.HIGH, "still on")
    assert worse.last_seen_at == T0 + timedelta(minutes=5) and worse.opened_at == T0
    milder = model.repeat(worse, report(T0 + timedelta(minutes=10), Severity.LOW))
    assert (milder.occurrences, milder.severity) == (3, Severity.HIGH)
    # A late report (older than what was seen) does not move time backwards.
    late = model.repeat(milder, report(T0 + timedelta(minutes=1)))
    assert late.last_seen_at == T0 + timedelta(minutes=10)


def test_acknowledge_assign_close() -> None:
    alarm = model.open_alarm(report(), "a1")
    seen = model.acknowledge(alarm, "ops-anna", T0 + timedelta(minutes=2))
    assert (seen.state, seen.acknowledged_by, seen.acknowledged_at) == (
        TicketState.ACKNOWLEDGED,
        "ops-anna",
        T0 + timedelta(minutes=2),
    )
    assert model.acknowledge(seen, "ops-bob", T0 + timedelta(minutes=3)) == seen  # the first one counts
    given = model.assign(seen, "  crew 3 ", T0 + timedelta(minutes=4))
    assert given.assignee == "crew 3" and given.updated_at == T0 + timedelta(minutes=4)
    assert model.assign(given, None, T0 + timedelta(minutes=5)).assignee is None
    closed = model.close(given, model.RECOVERED, T0 + timedelta(hours=1))
    assert (closed.state, closed.close_reason, closed.closed_at, closed.active) == (
        TicketState.CLOSED,
        "recovered",
        T0 + timedelta(hours=1),
        False,
    )
    assert model.close(closed, "again", T0 + timedelta(hours=2)) == closed


def test_closed_tickets_refuse_changes() -> None:
    closed = model.close(model.open_alarm(report(), "a1"), "fixed", T0)
    with pytest.raises(Conflict):
        model.acknowledge(closed, "x", T0)
    with pytest.raises(Conflict):
        model.assign(closed, "crew", T0)
    with pytest.raises(Conflict):
        model.repeat(closed, report())


@pytest.mark.parametrize("assignee", ["", "   ", "x" * 129])
def test_assignee_names_are_checked(assignee: str) -> None:
    with pytest.raises(BadRequestData):
        model.assign(model.open_alarm(report(), "a1"), assignee, T0)


def test_severities_rank_and_parse() -> None:
    assert [s.rank for s in Severity] == [0, 1, 2, 3, 4]
    assert model.parse_severity("critical") is Severity.CRITICAL
    with pytest.raises(BadRequestData, match="known: informational, low, medium, high, critical"):
        model.parse_severity("urgent")
    with pytest.raises(BadRequestData):
        model.parse_state("done")


def test_manual_work_orders_need_a_title() -> None:
    order = model.manual_work_order("bonn", " Replace pole ", "", LAMP, Severity.LOW, T0, "w9")
    assert (order.title, order.alarm_id, order.solution) == ("Replace pole", None, "manual")
    with pytest.raises(BadRequestData):
        model.manual_work_order("bonn", " ", "", LAMP, Severity.LOW, T0, "w9")
