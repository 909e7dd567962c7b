"""The catalogue service on both databases: officers define, publish and withdraw; the log records it all."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from test_catalog_dcat import DATASETS

from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.core.errors import BadRequestData, NotFound
from urbis.marketplace.catalog import Publisher
from urbis.marketplace.ledger import LedgerService
from urbis.marketplace.service import CatalogService
from urbis.marketplace.store import DatasetFilter

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_officers_define_publish_and_withdraw_datasets(database: Database, tenant: str) -> None:
    clock = FixedClock(T0)
    catalog = CatalogService(database, clock=clock)
    for dataset in DATASETS:
        stored, created = catalog.save(tenant, dataset, by="officer")
        assert created and not stored.published and stored.dataset.modified == T0
    # Unpublished datasets are the officers' business only.
    assert catalog.find(tenant, DatasetFilter())[1] == 0
    with pytest.raises(NotFound):
        catalog.get(tenant, "air-quality-hourly")
    assert catalog.get(tenant, "air-quality-hourly", officer=True).dataset.title == DATASETS[0].title
    clock.advance(hours=1)
    published = catalog.publish(tenant, "air-quality-hourly", by="officer")
    assert published.published and published.dataset.issued == T0 + timedelta(hours=1)
    catalog.publish(tenant, "parking-bays", by="officer")
    found, total = catalog.find(tenant, DatasetFilter())
    assert total == 2 and [s.dataset.id for s in found] == ["air-quality-hourly", "parking-bays"]
    assert [s.dataset.id for s in catalog.find(tenant, DatasetFilter(theme="TRAN"))[0]] == ["parking-bays"]
    assert [s.dataset.id for s in catalog.find(tenant, DatasetFilter(text="pm2.5"))[0]] == ["air-quality-hourly"]
    assert [s.dataset.id for s in catalog.find(tenant, DatasetFilter(licence="CC-BY-4.0"))[0]] == ["air-quality-hourly"]
    # A redefinition keeps the published state and the first publication time.
    clock.advance(hours=1)
    changed, created = catalog.save(tenant, replace(DATASETS[0], title="Air quality by district"), by="officer")
    assert not created and changed.published and changed.dataset.issued == T0 + timedelta(hours=1)
    assert changed.dataset.modified == T0 + timedelta(hours=2)
    catalog.publish(tenant, "parking-bays", by="officer", published=False)
    assert catalog.find(tenant, DatasetFilter())[1] == 1
    catalog.delete(tenant, "street-lighting-energy", by="officer")
    with pytest.raises(NotFound):
        catalog.delete(tenant, "street-lighting-energy", by="officer")
    with pytest.raises(BadRequestData):
        catalog.save(tenant, replace(DATASETS[0], id="Not An Id"), by="officer")
    # Everything the officers did is in the city's chain, which verifies.
    log = LedgerService(database)
    actions = [(e.action, e.target) for e in log.entries(tenant)]
    assert actions == [
        ("dataset.save", "dataset:air-quality-hourly"),
        ("dataset.save", "dataset:parking-bays"),
        ("dataset.save", "dataset:street-lighting-energy"),
        ("dataset.publish", "dataset:air-quality-hourly"),
        ("dataset.publish", "dataset:parking-bays"),
        ("dataset.save", "dataset:air-quality-hourly"),
        ("dataset.withdraw", "dataset:parking-bays"),
        ("dataset.delete", "dataset:street-lighting-energy"),
    ]
    assert log.verify(tenant)[0].intact


def test_the_published_catalogue_as_dcat(database: Database, tenant: str) -> None:
    from rdflib.namespace import DCAT, RDF

    catalog = CatalogService(database, clock=FixedClock(T0))
    for dataset in DATASETS:
        catalog.save(tenant, dataset, by="officer")
    catalog.publish(tenant, "parking-bays", by="officer")
    graph = catalog.catalog(
        tenant, "https://data.example", Publisher("City", "https://city.example"), title="Data", description="All"
    )
    assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == 1
