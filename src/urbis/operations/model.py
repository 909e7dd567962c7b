"""Alarms and maintenance work orders: the one model every solution shares, and its rules.

An alarm says something is wrong with a thing in the city (a lamp that burns by day, a
cabinet without supply, a station whose PM2.5 crossed a threshold); a work order asks a
crew to go and fix it.  Both are *tickets* with the same life: ``open`` → ``acknowledged``
(someone has seen it) → ``closed`` (by hand, or on its own when the source recovers), an
optional assignee, and the time of every step.

An alarm is keyed by ``(solution, kind, source)``: while one is active (open or
acknowledged), raising the same condition again counts a repeat instead of opening a
second alarm, so a fault that persists never floods the operators.

Pure: no I/O and no clock; time is a parameter.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from urbis.core.errors import BadRequestData, Conflict


class TicketState(enum.StrEnum):
    """Where an alarm or work order stands."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Severity(enum.StrEnum):
    """How bad it is, in the Smart Data Models ``Alert`` vocabulary (least to most severe)."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for informational up to 4 for critical."""
        return list(Severity).index(self)


#: Why a ticket closed on its own.
RECOVERED = "recovered"

#: Longest assignee name kept (a person, a crew, a contractor).
ASSIGNEE_LENGTH = 128
#: Longest closing note or description kept.
NOTE_LENGTH = 1000
#: Longest work-order title.
TITLE_LENGTH = 200


@dataclass(frozen=True)
class Alarm:
    """Something wrong with one source entity, as one solution sees it."""

    id: str
    tenant: str
    solution: str  # "lighting", "air_quality", "parking", ...
    kind: str  # the condition, e.g. TALQ "lampUnexpectedOn" or "thresholdExceeded"
    source: str  # the NGSI-LD id of the entity at fault
    severity: Severity
    description: str
    state: TicketState
    opened_at: datetime
    updated_at: datetime
    last_seen_at: datetime  # the latest time the condition was reported
    occurrences: int = 1
    assignee: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    location: dict[str, object] | None = None  # GeoJSON geometry of the source, for maps

    @property
    def key(self) -> str:
        """What makes two reports the same alarm."""
        return alarm_key(self.solution, self.kind, self.source)

    @property
    def active(self) -> bool:
        """Open or acknowledged: not closed yet."""
        return self.state is not TicketState.CLOSED


@dataclass(frozen=True)
class WorkOrder:
    """A maintenance task, usually opened with an alarm and closed with it."""

    id: str
    tenant: str
    alarm_id: str | None
    solution: str
    source: str
    severity: Severity
    title: str
    description: str
    state: TicketState
    opened_at: datetime
    updated_at: datetime
    assignee: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    location: dict[str, object] | None = None

    @property
    def active(self) -> bool:
        """Open or acknowledged: not closed yet."""
        return self.state is not TicketState.CLOSED


Ticket = TypeVar("Ticket", Alarm, WorkOrder)


@dataclass(frozen=True)
class AlarmReport:
    """What a solution says when it detects a condition."""

    tenant: str
    solution: str
    kind: str
    source: str
    severity: Severity
    description: str
    at: datetime
    location: dict[str, object] | None = None
    work_order: str | None = None  # a work order's title, when the condition needs a crew


def alarm_key(solution: str, kind: str, source: str) -> str:
    """The identity of a condition: one active alarm per key."""
    return f"{solution}|{kind}|{source}"


def new_id() -> str:
    """A fresh ticket id (random, URL-safe)."""
    return uuid.uuid4().hex


def open_alarm(report: AlarmReport, alarm_id: str) -> Alarm:
    """A new open alarm for ``report``."""
    return Alarm(
        id=alarm_id,
        tenant=report.tenant,
        solution=report.solution,
        kind=report.kind,
        source=report.source,
        severity=report.severity,
        description=report.description,
        state=TicketState.OPEN,
        opened_at=report.at,
        updated_at=report.at,
        last_seen_at=report.at,
        location=report.location,
    )


def open_work_order(alarm: Alarm, title: str, order_id: str) -> WorkOrder:
    """The work order that goes with a new alarm."""
    return WorkOrder(
        id=order_id,
        tenant=alarm.tenant,
        alarm_id=alarm.id,
        solution=alarm.solution,
        source=alarm.source,
        severity=alarm.severity,
        title=title,
        description=alarm.description,
        state=TicketState.OPEN,
        opened_at=alarm.opened_at,
        updated_at=alarm.opened_at,
        location=alarm.location,
    )


def manual_work_order(
    tenant: str, title: str, description: str, source: str, severity: Severity, at: datetime, order_id: str
) -> WorkOrder:
    """A work order staff open by hand (a citizen's report, an inspection), with no alarm behind it."""
    title = title.strip()
    if not title or len(title) > TITLE_LENGTH:
        raise BadRequestData(f"a work order's title is 1 to {TITLE_LENGTH} characters")
    if len(description) > NOTE_LENGTH:
        raise BadRequestData(f"a work order's description is at most {NOTE_LENGTH} characters")
    return WorkOrder(
        id=order_id,
        tenant=tenant,
        alarm_id=None,
        solution="manual",
        source=source,
        severity=severity,
        title=title,
        description=description,
        state=TicketState.OPEN,
        opened_at=at,
        updated_at=at,
    )


def repeat(alarm: Alarm, report: AlarmReport) -> Alarm:
    """The condition reported again while its alarm is active: count it, never downgrade it.

    A worse severity raises the alarm's; the description follows the latest report, so
    operators read the current state of things.
    """
    if not alarm.active:
        raise Conflict(f"alarm {alarm.id} is closed; a new report opens a new alarm")
    severity = report.severity if report.severity.rank > alarm.severity.rank else alarm.severity
    at = max(report.at, alarm.last_seen_at)
    return replace(
        alarm,
        severity=severity,
        description=report.description,
        occurrences=alarm.occurrences + 1,
        last_seen_at=at,
        updated_at=max(report.at, alarm.updated_at),
    )


def acknowledge(ticket: Ticket, by: str, at: datetime) -> Ticket:
    """Someone has seen it.  Acknowledging twice is harmless; a closed ticket cannot be."""
    if ticket.state is TicketState.CLOSED:
        raise Conflict(f"{_name(ticket)} {ticket.id} is closed")
    if ticket.state is TicketState.ACKNOWLEDGED:
        return ticket
    return replace(ticket, state=TicketState.ACKNOWLEDGED, acknowledged_at=at, acknowledged_by=by, updated_at=at)


def assign(ticket: Ticket, assignee: str | None, at: datetime) -> Ticket:
    """Give it to someone (``None`` takes it back).  Closed tickets keep who had them."""
    if ticket.state is TicketState.CLOSED:
        raise Conflict(f"{_name(ticket)} {ticket.id} is closed")
    if assignee is not None:
        assignee = assignee.strip()
        if not assignee or len(assignee) > ASSIGNEE_LENGTH:
            raise BadRequestData(f"an assignee is 1 to {ASSIGNEE_LENGTH} characters")
    return replace(ticket, assignee=assignee, updated_at=at)


def close(ticket: Ticket, reason: str, at: datetime) -> Ticket:
    """Close it (by hand with a note, or :data:`RECOVERED`).  Closing a closed ticket changes nothing."""
    if ticket.state is TicketState.CLOSED:
        return ticket
    reason = reason.strip()[:NOTE_LENGTH] or "closed"
    return replace(ticket, state=TicketState.CLOSED, closed_at=at, close_reason=reason, updated_at=at)


def _name(ticket: Alarm | WorkOrder) -> str:
    return "alarm" if isinstance(ticket, Alarm) else "work order"


def parse_severity(value: str) -> Severity:
    """A severity from its name; a clear error for anything else."""
    try:
        return Severity(value)
    except ValueError:
        known = ", ".join(s.value for s in Severity)
        raise BadRequestData(f"unknown severity {value!r:.40}; known: {known}") from None


def parse_state(value: str) -> TicketState:
    """A ticket state from its name; a clear error for anything else."""
    try:
        return TicketState(value)
    except ValueError:
        known = ", ".join(s.value for s in TicketState)
        raise BadRequestData(f"unknown state {value!r:.40}; known: {known}") from None
