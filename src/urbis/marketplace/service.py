"""The catalogue service: officers define, publish and withdraw datasets; anyone reads the published catalogue.

Every change an officer makes is appended to the city's hash-chained marketplace log in the same
transaction, so the record of who published what cannot be quietly rewritten.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from rdflib import Graph
from sqlalchemy import Connection

from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.core.errors import NotFound
from urbis.marketplace import ledger, store
from urbis.marketplace.catalog import Dataset, Publisher, catalog_graph, check_dataset
from urbis.marketplace.store import DatasetFilter, StoredDataset

#: The log's names of officers' catalogue actions (the target is ``dataset:<id>``).
DATASET_SAVE = "dataset.save"
DATASET_PUBLISH = "dataset.publish"
DATASET_WITHDRAW = "dataset.withdraw"
DATASET_DELETE = "dataset.delete"


def dataset_target(dataset_id: str) -> str:
    """How the log names a dataset."""
    return f"dataset:{dataset_id}"


class CatalogService:
    """The datasets of every city's catalogue."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        """Keep the catalogue in ``db``."""
        self.db = db
        self.clock = clock or SystemClock()

    def save(self, tenant: str, dataset: Dataset, *, by: str) -> tuple[StoredDataset, bool]:
        """Create or replace a dataset's definition (published state kept; new ones start unpublished)."""
        check_dataset(dataset)
        with self.db.write() as conn:
            now = self.clock.now()
            current = store.get(conn, tenant, dataset.id)
            published = current.published if current is not None else False
            issued = current.dataset.issued if current is not None else None
            saved = replace(dataset, issued=issued, modified=now)
            created = store.save(conn, tenant, saved, published=published, at=now)
            ledger.append(
                conn,
                tenant,
                actor=by,
                action=DATASET_SAVE,
                target=dataset_target(dataset.id),
                at=now,
                detail={"created": created, "licence": dataset.licence, "source": dataset.view.source.value},
            )
        return StoredDataset(saved, published), created

    def publish(self, tenant: str, dataset_id: str, *, by: str, published: bool = True) -> StoredDataset:
        """Put a dataset in the public catalogue (or take it out)."""
        with self.db.write() as conn:
            current = self._get(conn, tenant, dataset_id)
            if current.published is published:
                return current
            now = self.clock.now()
            dataset = replace(
                current.dataset, issued=current.dataset.issued or (now if published else None), modified=now
            )
            store.save(conn, tenant, dataset, published=published, at=now)
            ledger.append(
                conn,
                tenant,
                actor=by,
                action=DATASET_PUBLISH if published else DATASET_WITHDRAW,
                target=dataset_target(dataset_id),
                at=now,
            )
        return StoredDataset(dataset, published)

    def delete(self, tenant: str, dataset_id: str, *, by: str) -> None:
        """Remove a dataset from the catalogue for good."""
        with self.db.write() as conn:
            if not store.remove(conn, tenant, dataset_id):
                raise NotFound(f"there is no dataset {dataset_id!r:.80}")
            ledger.append(
                conn, tenant, actor=by, action=DATASET_DELETE, target=dataset_target(dataset_id), at=self.clock.now()
            )

    def get(self, tenant: str, dataset_id: str, *, officer: bool = False) -> StoredDataset:
        """One dataset; an unpublished one only for officers (NotFound for everyone else)."""
        with self.db.read() as conn:
            found = self._get(conn, tenant, dataset_id)
        if not found.published and not officer:
            raise NotFound(f"there is no dataset {dataset_id!r:.80}")
        return found

    def find(self, tenant: str, wanted: DatasetFilter) -> tuple[list[StoredDataset], int]:
        """Datasets matching ``wanted``, by title, with their total."""
        with self.db.read() as conn:
            return store.find(conn, tenant, wanted)

    def catalog(self, tenant: str, base_url: str, publisher: Publisher, *, title: str, description: str) -> Graph:
        """The city's published catalogue as DCAT-AP 3."""
        everything: list[StoredDataset] = []
        while True:
            page, total = self.find(tenant, DatasetFilter(limit=500, offset=len(everything)))
            everything.extend(page)
            if not page or len(everything) >= total:
                break
        datasets = [item.dataset for item in everything]
        modified: datetime | None = max((d.modified for d in datasets if d.modified), default=None)
        return catalog_graph(base_url, publisher, datasets, title=title, description=description, modified=modified)

    @staticmethod
    def _get(conn: Connection, tenant: str, dataset_id: str) -> StoredDataset:
        found = store.get(conn, tenant, dataset_id)
        if found is None:
            raise NotFound(f"there is no dataset {dataset_id!r:.80}")
        return found
