"""Tables of smart parking: prices per zone and time band with the log of their changes, and parking sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Column, Connection, Index, String, Table, Text, delete, func, insert, select, update

from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata
from urbis.solutions.parking.sessions import ParkingSession

parking_rates = Table(
    "parking_rates",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("zone_id", String(512), primary_key=True),
    Column("time_band", String(64), primary_key=True),
    Column("price", String(16), nullable=False),  # a Decimal, exactly
    Column("currency", String(3), nullable=False),
    Column("last_change_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

parking_rate_log = Table(
    "parking_rate_log",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("change_id", String(32), primary_key=True),
    Column("zone_id", String(512), nullable=False),
    Column("time_band", String(64), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("record", Text, nullable=False),  # the decision with its reason, as JSON
    Index("ix_parking_rate_log_tenant_decided", "tenant", "decided_at"),
    Index("ix_parking_rate_log_tenant_zone", "tenant", "zone_id"),
)


@dataclass(frozen=True)
class StoredRate:
    """The price in force for one zone and time band."""

    zone_id: str
    time_band: str
    price: Decimal
    currency: str
    last_change_at: datetime | None


def rates(conn: Connection, tenant: str) -> dict[tuple[str, str], StoredRate]:
    """Every stored rate of a tenant by (zone, time band)."""
    rows = conn.execute(select(parking_rates).where(parking_rates.c.tenant == tenant)).all()
    return {
        (row.zone_id, row.time_band): StoredRate(
            row.zone_id, row.time_band, Decimal(row.price), row.currency, row.last_change_at
        )
        for row in rows
    }


def save_rates(
    conn: Connection, tenant: str, changed: Sequence[StoredRate], known: set[tuple[str, str]], at: datetime
) -> None:
    """Insert or update rates (``known``: the keys already stored)."""
    for rate in changed:
        values = {
            "price": str(rate.price),
            "currency": rate.currency,
            "last_change_at": rate.last_change_at,
            "updated_at": at,
        }
        if (rate.zone_id, rate.time_band) in known:
            conn.execute(
                update(parking_rates).where(
                    parking_rates.c.tenant == tenant,
                    parking_rates.c.zone_id == rate.zone_id,
                    parking_rates.c.time_band == rate.time_band,
                ),
                values,
            )
        else:
            conn.execute(
                insert(parking_rates),
                [{"tenant": tenant, "zone_id": rate.zone_id, "time_band": rate.time_band, **values}],
            )


def log_changes(conn: Connection, tenant: str, entries: Sequence[tuple[str, dict[str, Any], datetime]]) -> None:
    """Append ``(change id, record, decided at)`` entries to the log."""
    if not entries:
        return
    conn.execute(
        insert(parking_rate_log),
        [
            {
                "tenant": tenant,
                "change_id": change_id,
                "zone_id": record["zoneId"],
                "time_band": record["timeBand"],
                "decided_at": decided_at,
                "record": orjson.dumps(record).decode(),
            }
            for change_id, record, decided_at in entries
        ],
    )


def read_log(
    conn: Connection, tenant: str, *, zone_id: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Logged changes, newest first, and how many there are."""
    where = [parking_rate_log.c.tenant == tenant]
    if zone_id is not None:
        where.append(parking_rate_log.c.zone_id == zone_id)
    total = conn.execute(select(func.count()).select_from(parking_rate_log).where(*where)).scalar_one()
    rows = conn.execute(
        select(parking_rate_log.c.record)
        .where(*where)
        .order_by(parking_rate_log.c.decided_at.desc(), parking_rate_log.c.change_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [orjson.loads(row.record) for row in rows], int(total)


parking_sessions = Table(
    "parking_sessions",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("session_id", String(32), primary_key=True),
    Column("zone_id", String(512), nullable=False),
    Column("bay_id", String(512), nullable=True),
    Column("plate", String(16), nullable=True),  # personal data: dropped with the session after retention
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("paid_until", UTCDateTime(), nullable=True),
    Column("rights", Text, nullable=False),  # JSON array
    Index("ix_parking_sessions_tenant_ended", "tenant", "ended_at"),
)


def _session(row: Any) -> ParkingSession:
    return ParkingSession(
        row.session_id,
        row.zone_id,
        row.started_at,
        bay_id=row.bay_id,
        plate=row.plate,
        ended_at=row.ended_at,
        paid_until=row.paid_until,
        rights=frozenset(orjson.loads(row.rights)),
    )


def insert_session(conn: Connection, tenant: str, session: ParkingSession) -> None:
    """Store a new session."""
    conn.execute(
        insert(parking_sessions),
        [
            {
                "tenant": tenant,
                "session_id": session.session_id,
                "zone_id": session.zone_id,
                "bay_id": session.bay_id,
                "plate": session.plate,
                "started_at": session.started_at,
                "ended_at": session.ended_at,
                "paid_until": session.paid_until,
                "rights": orjson.dumps(sorted(session.rights)).decode(),
            }
        ],
    )


def get_session(conn: Connection, tenant: str, session_id: str) -> ParkingSession | None:
    """One session."""
    row = conn.execute(
        select(parking_sessions).where(parking_sessions.c.tenant == tenant, parking_sessions.c.session_id == session_id)
    ).first()
    return None if row is None else _session(row)


def end_session(conn: Connection, tenant: str, session_id: str, at: datetime) -> None:
    """Record a session's end."""
    conn.execute(
        update(parking_sessions)
        .where(parking_sessions.c.tenant == tenant, parking_sessions.c.session_id == session_id)
        .values(ended_at=at)
    )


def open_sessions(conn: Connection, tenant: str) -> list[ParkingSession]:
    """Sessions not stopped (prepaid ones may have lapsed: the model judges)."""
    rows = conn.execute(
        select(parking_sessions)
        .where(parking_sessions.c.tenant == tenant, parking_sessions.c.ended_at.is_(None))
        .order_by(parking_sessions.c.started_at, parking_sessions.c.session_id)
    ).all()
    return [_session(row) for row in rows]


def purge_sessions(conn: Connection, before: datetime) -> int:
    """Delete sessions that ended (or lapsed unpaid-for) before ``before``, in every tenant."""
    ended = parking_sessions.c.ended_at.is_not(None) & (parking_sessions.c.ended_at < before)
    lapsed = parking_sessions.c.ended_at.is_(None) & (parking_sessions.c.paid_until < before)
    result = conn.execute(delete(parking_sessions).where(ended | lapsed))
    return int(result.rowcount or 0)
