"""Small builders for history tests: entities without automatic history, and rows written directly.

Rows go through the public :class:`~urbis.context.history.HistoryWriter` (the same path the context
service uses), so series ids, partitions and duplicate handling are the real ones; only the
instants, values and ``recorded_at`` are chosen by the test.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from urbis.context.history import HistoryEntry, HistoryWriter, history_series, us_to_iso
from urbis.context.service import ContextService
from urbis.core.bus import EventBus
from urbis.core.db import Database

VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
VEHICLE = VOCAB + "Vehicle"
SPEED = VOCAB + "speed"
FUEL = VOCAB + "fuelLevel"
STATUS = VOCAB + "status"
OWNER = VOCAB + "owner"
MINUTE_US = 60_000_000
HOUR_US = 3_600_000_000
DAY_US = 86_400_000_000


def us(when: str) -> int:
    """µs since the epoch of an ISO date-time (``2026-01-05T10:00:00Z``)."""
    moment = datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(UTC)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def quiet_context(db: Database, tenant: str) -> ContextService:
    """A context service that keeps no history of its own writes (the tests write history rows)."""
    return ContextService(db, EventBus(), default_tenant=tenant, keep_history=False)


def make_entity(context: ContextService, tenant: str, entity_id: str, type_iri: str = VEHICLE, **attrs: Any) -> None:
    """Create an entity; ``attrs`` maps expanded attribute IRIs (keyword-safe names) to instances."""
    context.create_entity(tenant, {"id": entity_id, "type": [type_iri], "attrs": {k: [v] for k, v in attrs.items()}})


def write_history(
    db: Database,
    tenant: str,
    entity_id: str,
    attr_iri: str,
    points: Iterable[tuple[int, Any]],
    *,
    recorded_us: int,
    dataset_id: str | None = None,
    kind: str = "Property",
    writer: HistoryWriter | None = None,
) -> int:
    """Store ``(observed µs, value)`` points as instances of one attribute; returns the series id."""
    writer = writer or HistoryWriter(is_postgres=db.is_postgres)
    member = "object" if kind == "Relationship" else "value"
    entries = []
    for observed, value in points:
        stamp = us_to_iso(observed)
        instance: dict[str, Any] = {
            "type": kind,
            member: value,
            "observedAt": stamp,
            "createdAt": stamp,
            "modifiedAt": stamp,
        }
        if dataset_id is not None:
            instance["datasetId"] = dataset_id
        entries.append(HistoryEntry((tenant, entity_id, attr_iri, dataset_id or ""), observed, instance))
    with db.write() as conn:
        _, learned = writer.append(conn, entries, recorded_us=recorded_us)
    writer.remember(learned)
    return series_id(db, tenant, entity_id, attr_iri, dataset_id)


def write_bulk(
    db: Database,
    tenant: str,
    entity_id: str,
    attr_iri: str,
    points: Sequence[tuple[int, Any]],
    *,
    recorded_us: int,
    batch: int = 20_000,
) -> int:
    """Many points in batches (one writer, so partitions are created once)."""
    writer = HistoryWriter(is_postgres=db.is_postgres)
    sid = 0
    for start in range(0, len(points), batch):
        sid = write_history(
            db, tenant, entity_id, attr_iri, points[start : start + batch], recorded_us=recorded_us, writer=writer
        )
    return sid


def series_id(db: Database, tenant: str, entity_id: str, attr_iri: str, dataset_id: str | None = None) -> int:
    """The id of a series."""
    c = history_series.c
    with db.read() as conn:
        value = conn.execute(
            select(c.series_id).where(
                c.tenant == tenant, c.entity_id == entity_id, c.attr_iri == attr_iri, c.dataset_id == (dataset_id or "")
            )
        ).scalar_one()
    return int(value)
