"""Tables of the marketplace's catalogue, and their queries (SQLAlchemy Core).

Functions take an open connection; the service decides the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Index,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row

from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata
from urbis.marketplace.catalog import Dataset, Format, Source, View

datasets = Table(
    "marketplace_datasets",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("dataset_id", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("view", Text, nullable=False),  # JSON
    Column("licence", String(32), nullable=False),
    Column("keywords", Text, nullable=False),  # JSON list
    Column("themes", Text, nullable=False),  # JSON list
    Column("frequency", String(16), nullable=False),
    Column("spatial", String(200), nullable=True),
    Column("contact_email", String(320), nullable=True),
    Column("formats", Text, nullable=False),  # JSON list
    Column("published", Boolean, nullable=False),
    Column("issued", UTCDateTime(), nullable=True),
    Column("modified", UTCDateTime(), nullable=False),
    Index("ix_marketplace_datasets_published", "tenant", "published"),
)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _view_json(view: View) -> str:
    return orjson.dumps(
        {
            "source": view.source.value,
            "entityTypes": list(view.entity_types),
            "attributes": list(view.attributes),
            "area": view.area,
            "since": _iso(view.since),
            "until": _iso(view.until),
        }
    ).decode()


def _view(text: str) -> View:
    data = orjson.loads(text)
    return View(
        source=Source(data["source"]),
        entity_types=tuple(data.get("entityTypes") or ()),
        attributes=tuple(data.get("attributes") or ()),
        area=data.get("area"),
        since=None if data.get("since") is None else datetime.fromisoformat(data["since"]),
        until=None if data.get("until") is None else datetime.fromisoformat(data["until"]),
    )


@dataclass(frozen=True)
class StoredDataset:
    """A dataset with its catalogue state."""

    dataset: Dataset
    published: bool


def _values(tenant: str, dataset: Dataset, published: bool, modified: datetime) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "dataset_id": dataset.id,
        "title": dataset.title,
        "description": dataset.description,
        "view": _view_json(dataset.view),
        "licence": dataset.licence,
        "keywords": orjson.dumps(list(dataset.keywords)).decode(),
        "themes": orjson.dumps(list(dataset.themes)).decode(),
        "frequency": dataset.frequency,
        "spatial": dataset.spatial,
        "contact_email": dataset.contact_email,
        "formats": orjson.dumps([f.value for f in dataset.formats]).decode(),
        "published": published,
        "issued": dataset.issued,
        "modified": modified,
    }


def _stored(row: Row[Any]) -> StoredDataset:
    dataset = Dataset(
        id=row.dataset_id,
        title=row.title,
        description=row.description,
        view=_view(row.view),
        licence=row.licence,
        keywords=tuple(orjson.loads(row.keywords)),
        themes=tuple(orjson.loads(row.themes)),
        frequency=row.frequency,
        spatial=row.spatial,
        contact_email=row.contact_email,
        issued=row.issued,
        modified=row.modified,
        formats=tuple(Format(f) for f in orjson.loads(row.formats)),
    )
    return StoredDataset(dataset, bool(row.published))


def save(conn: Connection, tenant: str, dataset: Dataset, *, published: bool, at: datetime) -> bool:
    """Insert or replace a dataset; True if it was new."""
    values = _values(tenant, dataset, published, at)
    found = conn.execute(
        update(datasets).where(datasets.c.tenant == tenant, datasets.c.dataset_id == dataset.id).values(**values)
    )
    if found.rowcount:
        return False
    conn.execute(insert(datasets).values(**values))
    return True


def get(conn: Connection, tenant: str, dataset_id: str) -> StoredDataset | None:
    """One dataset."""
    row = conn.execute(select(datasets).where(datasets.c.tenant == tenant, datasets.c.dataset_id == dataset_id)).first()
    return None if row is None else _stored(row)


def remove(conn: Connection, tenant: str, dataset_id: str) -> bool:
    """Delete a dataset; False if there was none."""
    result = conn.execute(delete(datasets).where(datasets.c.tenant == tenant, datasets.c.dataset_id == dataset_id))
    return bool(result.rowcount)


@dataclass(frozen=True)
class DatasetFilter:
    """Which datasets to list; ``None`` fields do not filter."""

    published_only: bool = True
    text: str | None = None  # in title, description or keywords
    theme: str | None = None
    licence: str | None = None
    limit: int = 100
    offset: int = 0


def find(conn: Connection, tenant: str, wanted: DatasetFilter) -> tuple[list[StoredDataset], int]:
    """Datasets matching ``wanted``, by title, with their total count."""
    c = datasets.c
    conditions: list[Any] = [c.tenant == tenant]
    if wanted.published_only:
        conditions.append(c.published.is_(True))
    if wanted.text:
        pattern = f"%{wanted.text.lower()}%"
        conditions.append(
            or_(
                func.lower(c.title).like(pattern),
                func.lower(c.description).like(pattern),
                func.lower(c.keywords).like(pattern),
            )
        )
    if wanted.theme:
        conditions.append(c.themes.like(f'%"{wanted.theme}"%'))
    if wanted.licence:
        conditions.append(c.licence == wanted.licence)
    where = and_(*conditions)
    total = int(conn.execute(select(func.count()).select_from(datasets).where(where)).scalar_one())
    rows = conn.execute(
        select(datasets).where(where).order_by(c.title, c.dataset_id).limit(wanted.limit).offset(wanted.offset)
    ).all()
    return [_stored(row) for row in rows], total
