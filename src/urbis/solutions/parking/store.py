"""Tables of smart parking: the current price of each zone and time band, and the log of every change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Column, Connection, Index, String, Table, Text, func, insert, select, update

from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata

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
