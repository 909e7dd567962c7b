"""Snapshots of the dashboard's headline figures, kept so that each figure can show its trend.

One row per tenant and instant holds every figure as JSON; the overview compares today's figures
with the snapshot taken a day and a month before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Column, Connection, String, Table, Text, delete, insert, select

from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata

dashboard_snapshots = Table(
    "dashboard_snapshots",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("taken_at", UTCDateTime(), primary_key=True),
    Column("figures", Text, nullable=False),  # {kpi key: value}
)


def save_snapshot(conn: Connection, tenant: str, taken_at: datetime, figures: dict[str, float | None]) -> None:
    """Store the figures of one moment (a second snapshot of the same instant replaces the first)."""
    conn.execute(
        delete(dashboard_snapshots).where(
            dashboard_snapshots.c.tenant == tenant, dashboard_snapshots.c.taken_at == taken_at
        )
    )
    conn.execute(
        insert(dashboard_snapshots).values(tenant=tenant, taken_at=taken_at, figures=orjson.dumps(figures).decode())
    )


def snapshot_near(
    conn: Connection, tenant: str, before: datetime, not_before: datetime
) -> tuple[datetime, dict[str, Any]] | None:
    """The latest snapshot taken in ``[not_before, before]``, if any."""
    row = conn.execute(
        select(dashboard_snapshots.c.taken_at, dashboard_snapshots.c.figures)
        .where(
            dashboard_snapshots.c.tenant == tenant,
            dashboard_snapshots.c.taken_at <= before,
            dashboard_snapshots.c.taken_at >= not_before,
        )
        .order_by(dashboard_snapshots.c.taken_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return row.taken_at, orjson.loads(row.figures)


def purge_snapshots(conn: Connection, older_than: datetime) -> int:
    """Forget snapshots taken before ``older_than`` (every tenant); how many went."""
    return conn.execute(delete(dashboard_snapshots).where(dashboard_snapshots.c.taken_at < older_than)).rowcount or 0
