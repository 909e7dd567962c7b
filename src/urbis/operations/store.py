"""Tables of alarms and work orders, and their queries (SQLAlchemy Core).

Functions take an open connection, so the service decides the transaction.  A partial
unique index allows one *active* alarm per condition (tenant, solution, kind, source): two
processes detecting the same fault at once cannot open it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    case,
    func,
    insert,
    select,
    text,
    update,
)

from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata
from urbis.operations.model import Alarm, Severity, TicketState, WorkOrder

TENANT_LENGTH = 64
ID_LENGTH = 32
SOURCE_LENGTH = 512

alarms = Table(
    "alarms",
    metadata,
    Column("tenant", String(TENANT_LENGTH), primary_key=True),
    Column("alarm_id", String(ID_LENGTH), primary_key=True),
    Column("solution", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("source", String(SOURCE_LENGTH), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("description", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("occurrences", Integer, nullable=False),
    Column("assignee", String(128), nullable=True),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("acknowledged_by", String(128), nullable=True),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("close_reason", Text, nullable=True),
    Column("location", Text, nullable=True),  # GeoJSON geometry
    Index("ix_alarms_tenant_state_opened", "tenant", "state", "opened_at"),
    Index("ix_alarms_tenant_source", "tenant", "source"),
    Index(
        "uq_alarms_active_condition",
        "tenant",
        "solution",
        "kind",
        "source",
        unique=True,
        sqlite_where=text("state <> 'closed'"),
        postgresql_where=text("state <> 'closed'"),
    ),
)

work_orders = Table(
    "work_orders",
    metadata,
    Column("tenant", String(TENANT_LENGTH), primary_key=True),
    Column("order_id", String(ID_LENGTH), primary_key=True),
    Column("alarm_id", String(ID_LENGTH), nullable=True),
    Column("solution", String(32), nullable=False),
    Column("source", String(SOURCE_LENGTH), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("assignee", String(128), nullable=True),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("acknowledged_by", String(128), nullable=True),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("close_reason", Text, nullable=True),
    Column("location", Text, nullable=True),
    Index("ix_work_orders_tenant_state_opened", "tenant", "state", "opened_at"),
    Index("ix_work_orders_tenant_alarm", "tenant", "alarm_id"),
)


@dataclass(frozen=True)
class TicketFilter:
    """What a listing asks for; ``None`` means any."""

    states: tuple[TicketState, ...] | None = None
    severities: tuple[Severity, ...] | None = None
    solution: str | None = None
    kind: str | None = None  # alarms only
    source: str | None = None
    assignee: str | None = None
    alarm_id: str | None = None  # work orders only
    limit: int = 100
    offset: int = 0
    sort: str = "-openedAt"  # one of SORT_KEYS, "-" first for descending
    opened_from: datetime | None = None  # opened at or after
    opened_until: datetime | None = None  # opened before


#: What a listing may be sorted by: the API's name and the column behind it.
SORT_KEYS = {
    "openedAt": "opened_at",
    "updatedAt": "updated_at",
    "severity": "severity",
    "state": "state",
    "assignee": "assignee",
    "source": "source",
}


def parse_sort(raw: str) -> str:
    """A sort key as :class:`TicketFilter` takes it; ValueError for an unknown one."""
    if raw.removeprefix("-") not in SORT_KEYS:
        raise ValueError(f"cannot sort by {raw!r:.40}; use one of {', '.join(SORT_KEYS)} (prefix '-' for descending)")
    return raw


def _order(table: Table, sort: str, id_column: str) -> list[Any]:
    descending = sort.startswith("-")
    column = table.c[SORT_KEYS.get(sort.removeprefix("-"), "opened_at")]
    key: Any = column
    if column.name == "severity":
        # Severity sorts by rank, not alphabetically.
        key = case({s.value: s.rank for s in Severity}, value=column, else_=-1)
    return [key.desc() if descending else key.asc(), table.c.opened_at.desc(), table.c[id_column]]


def _to_row(ticket: Alarm | WorkOrder) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: getattr(ticket, f.name) for f in fields(ticket)}
    row["alarm_id" if isinstance(ticket, Alarm) else "order_id"] = row.pop("id")
    row["severity"] = ticket.severity.value
    row["state"] = ticket.state.value
    row["location"] = None if ticket.location is None else orjson.dumps(ticket.location).decode()
    return row


def _common(row: Any) -> dict[str, Any]:
    return {
        "tenant": row.tenant,
        "solution": row.solution,
        "source": row.source,
        "severity": Severity(row.severity),
        "description": row.description,
        "state": TicketState(row.state),
        "opened_at": row.opened_at,
        "updated_at": row.updated_at,
        "assignee": row.assignee,
        "acknowledged_at": row.acknowledged_at,
        "acknowledged_by": row.acknowledged_by,
        "closed_at": row.closed_at,
        "close_reason": row.close_reason,
        "location": None if row.location is None else orjson.loads(row.location),
    }


def _alarm(row: Any) -> Alarm:
    return Alarm(
        id=row.alarm_id,
        kind=row.kind,
        last_seen_at=row.last_seen_at,
        occurrences=row.occurrences,
        **_common(row),
    )


def _work_order(row: Any) -> WorkOrder:
    return WorkOrder(id=row.order_id, alarm_id=row.alarm_id, title=row.title, **_common(row))


# -- alarms ---------------------------------------------------------------------------------


def insert_alarm(conn: Connection, alarm: Alarm) -> None:
    """Store a new alarm (IntegrityError if its condition already has an active alarm)."""
    conn.execute(insert(alarms), [_to_row(alarm)])


def save_alarm(conn: Connection, alarm: Alarm) -> None:
    """Write an alarm's changed state."""
    row = _to_row(alarm)
    key = {"tenant": row.pop("tenant"), "alarm_id": row.pop("alarm_id")}
    conn.execute(update(alarms).where(alarms.c.tenant == key["tenant"], alarms.c.alarm_id == key["alarm_id"]), row)


def get_alarm(conn: Connection, tenant: str, alarm_id: str) -> Alarm | None:
    """One alarm by id."""
    row = conn.execute(select(alarms).where(alarms.c.tenant == tenant, alarms.c.alarm_id == alarm_id)).first()
    return None if row is None else _alarm(row)


def active_alarm(conn: Connection, tenant: str, solution: str, kind: str, source: str) -> Alarm | None:
    """The open or acknowledged alarm of a condition, if any."""
    row = conn.execute(
        select(alarms).where(
            alarms.c.tenant == tenant,
            alarms.c.solution == solution,
            alarms.c.kind == kind,
            alarms.c.source == source,
            alarms.c.state != TicketState.CLOSED.value,
        )
    ).first()
    return None if row is None else _alarm(row)


def _conditions(table: Table, wanted: TicketFilter, tenant: str) -> list[Any]:
    clauses: list[Any] = [table.c.tenant == tenant]
    if wanted.states is not None:
        clauses.append(table.c.state.in_([s.value for s in wanted.states]))
    if wanted.severities is not None:
        clauses.append(table.c.severity.in_([s.value for s in wanted.severities]))
    for name in ("solution", "source", "assignee"):
        value = getattr(wanted, name)
        if value is not None:
            clauses.append(table.c[name] == value)
    if wanted.kind is not None and "kind" in table.c:
        clauses.append(table.c.kind == wanted.kind)
    if wanted.alarm_id is not None and table is work_orders:
        clauses.append(table.c.alarm_id == wanted.alarm_id)
    if wanted.opened_from is not None:
        clauses.append(table.c.opened_at >= wanted.opened_from)
    if wanted.opened_until is not None:
        clauses.append(table.c.opened_at < wanted.opened_until)
    return clauses


def list_alarms(conn: Connection, tenant: str, wanted: TicketFilter) -> tuple[list[Alarm], int]:
    """Alarms matching ``wanted``, newest first, and how many match in all."""
    where = and_(*_conditions(alarms, wanted, tenant))
    total = conn.execute(select(func.count()).select_from(alarms).where(where)).scalar_one()
    rows = conn.execute(
        select(alarms)
        .where(where)
        .order_by(*_order(alarms, wanted.sort, "alarm_id"))
        .limit(wanted.limit)
        .offset(wanted.offset)
    ).all()
    return [_alarm(row) for row in rows], int(total)


def count_active_alarms(conn: Connection, tenant: str) -> dict[tuple[str, str], int]:
    """Active alarms per (solution, severity): the figures a dashboard shows."""
    rows = conn.execute(
        select(alarms.c.solution, alarms.c.severity, func.count())
        .where(alarms.c.tenant == tenant, alarms.c.state != TicketState.CLOSED.value)
        .group_by(alarms.c.solution, alarms.c.severity)
    ).all()
    return {(solution, severity): int(count) for solution, severity, count in rows}


# -- work orders ----------------------------------------------------------------------------


def insert_work_order(conn: Connection, order: WorkOrder) -> None:
    """Store a new work order."""
    conn.execute(insert(work_orders), [_to_row(order)])


def save_work_order(conn: Connection, order: WorkOrder) -> None:
    """Write a work order's changed state."""
    row = _to_row(order)
    key = {"tenant": row.pop("tenant"), "order_id": row.pop("order_id")}
    conn.execute(
        update(work_orders).where(work_orders.c.tenant == key["tenant"], work_orders.c.order_id == key["order_id"]),
        row,
    )


def get_work_order(conn: Connection, tenant: str, order_id: str) -> WorkOrder | None:
    """One work order by id."""
    row = conn.execute(
        select(work_orders).where(work_orders.c.tenant == tenant, work_orders.c.order_id == order_id)
    ).first()
    return None if row is None else _work_order(row)


def active_work_orders_of(conn: Connection, tenant: str, alarm_id: str) -> list[WorkOrder]:
    """The work orders of an alarm that are not closed yet."""
    rows = conn.execute(
        select(work_orders).where(
            work_orders.c.tenant == tenant,
            work_orders.c.alarm_id == alarm_id,
            work_orders.c.state != TicketState.CLOSED.value,
        )
    ).all()
    return [_work_order(row) for row in rows]


def list_work_orders(conn: Connection, tenant: str, wanted: TicketFilter) -> tuple[list[WorkOrder], int]:
    """Work orders matching ``wanted``, newest first, and how many match in all."""
    where = and_(*_conditions(work_orders, wanted, tenant))
    total = conn.execute(select(func.count()).select_from(work_orders).where(where)).scalar_one()
    rows = conn.execute(
        select(work_orders)
        .where(where)
        .order_by(*_order(work_orders, wanted.sort, "order_id"))
        .limit(wanted.limit)
        .offset(wanted.offset)
    ).all()
    return [_work_order(row) for row in rows], int(total)


def all_active_alarms(conn: Connection, tenant: str, solution: str, kinds: Sequence[str] | None = None) -> list[Alarm]:
    """Every active alarm a solution holds (to reconcile with what it sees now)."""
    clauses = [alarms.c.tenant == tenant, alarms.c.solution == solution, alarms.c.state != TicketState.CLOSED.value]
    if kinds is not None:
        clauses.append(alarms.c.kind.in_(list(kinds)))
    return [_alarm(row) for row in conn.execute(select(alarms).where(*clauses)).all()]
