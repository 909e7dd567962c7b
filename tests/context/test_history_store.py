"""History on both backends: device readings and API writes land in history once, partitions on PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import func, select

from urbis.context.history import history, history_series, iso_to_us, month_of, partition_name
from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver
from urbis.context.model import build_entity
from urbis.context.service import ContextService, EntityChanged
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.ingestion.messages import DeviceReadings, Measure

EXPAND = ContextResolver(base_url="http://localhost").resolve(URBIS_CONTEXT_URL).expand
PM25 = EXPAND("pm25")
NO2 = EXPAND("no2")
RECEIVED = iso_to_us("2026-11-24T10:00:00.000000Z")


@pytest.fixture
def service(database: Database) -> ContextService:
    clock = FixedClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    return ContextService(database, EventBus(), default_tenant="urbis", clock=clock, reading_terms=EXPAND)


def station(tenant: str, number: int, *measures: Measure) -> DeviceReadings:
    return DeviceReadings(
        tenant,
        f"aq-{number}",
        f"urn:ngsi-ld:AirQualityObserved:{number}",
        "AirQualityObserved",
        list(measures),
        seed={"location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.1, 50.7]}}},
    )


def m(name: str, value: float, at: str) -> Measure:
    return Measure(name, value, at, iso_to_us(at), unit_code="GQ")


def stored_values(service: ContextService, tenant: str, entity_id: str, attr_iri: str) -> list[tuple[int, float]]:
    c = history_series.c
    with service.db.read() as conn:
        series_id = conn.execute(
            select(c.series_id).where(c.tenant == tenant, c.entity_id == entity_id, c.attr_iri == attr_iri)
        ).scalar_one()
        rows = conn.execute(
            select(history.c.observed_at, history.c.value_num, history.c.instance)
            .where(history.c.series_id == series_id)
            .order_by(history.c.observed_at)
        ).all()
    for _, value, instance in rows:
        assert orjson.loads(instance)["value"] == value
    return [(at, value) for at, value, _ in rows]


def test_first_readings_create_the_entity_and_history(service: ContextService, tenant: str) -> None:
    result = service.record(
        [
            station(
                tenant,
                1,
                m("pm25", 10.0, "2026-11-24T09:00:00Z"),
                m("pm25", 11.0, "2026-11-24T09:01:00Z"),
                m("no2", 30.0, "2026-11-24T09:01:00Z"),
            )
        ],
        received_us=RECEIVED,
    )
    assert (result.stored, result.duplicates, list(result.rejected)) == (3, 0, [])
    entity = service.get_entity(tenant, "urn:ngsi-ld:AirQualityObserved:1")
    assert entity["attrs"][PM25][0]["value"] == 11.0
    assert entity["attrs"][EXPAND("location")][0]["value"]["coordinates"] == [7.1, 50.7]
    assert stored_values(service, tenant, entity["id"], PM25) == [
        (iso_to_us("2026-11-24T09:00:00Z"), 10.0),
        (iso_to_us("2026-11-24T09:01:00Z"), 11.0),
    ]


def test_a_retried_message_is_stored_once(service: ContextService, tenant: str) -> None:
    readings = station(tenant, 2, m("pm25", 10.0, "2026-11-24T09:00:00Z"))
    service.record([readings], received_us=RECEIVED)
    again = service.record(
        [readings, station(tenant, 2, m("pm25", 12.0, "2026-11-24T09:02:00Z"))], received_us=RECEIVED
    )
    assert (again.stored, again.duplicates) == (1, 1)
    assert [v for _, v in stored_values(service, tenant, "urn:ngsi-ld:AirQualityObserved:2", PM25)] == [10.0, 12.0]


def test_late_readings_keep_the_newer_current_value(service: ContextService, tenant: str) -> None:
    service.record([station(tenant, 3, m("pm25", 50.0, "2026-11-24T09:30:00Z"))], received_us=RECEIVED)
    service.record([station(tenant, 3, m("pm25", 5.0, "2026-11-24T09:00:00Z"))], received_us=RECEIVED)
    entity = service.get_entity(tenant, "urn:ngsi-ld:AirQualityObserved:3")
    assert entity["attrs"][PM25][0]["value"] == 50.0
    assert len(stored_values(service, tenant, entity["id"], PM25)) == 2


def test_a_bad_seed_rejects_that_device_only(service: ContextService, tenant: str) -> None:
    bad = DeviceReadings(
        tenant,
        "x",
        "urn:ngsi-ld:AirQualityObserved:4",
        "AirQualityObserved",
        [m("pm25", 1.0, "2026-11-24T09:00:00Z")],
        seed={"location": {"type": "GeoProperty", "value": "not a geometry"}},
    )
    good = station(tenant, 5, m("pm25", 2.0, "2026-11-24T09:00:00Z"))
    result = service.record([bad, good], received_us=RECEIVED)
    assert result.stored == 1
    assert [r.readings.device_id for r in result.rejected] == ["x"]
    assert "location" in result.rejected[0].reason
    service.get_entity(tenant, "urn:ngsi-ld:AirQualityObserved:5")


def test_readings_publish_one_change_per_entity(service: ContextService, tenant: str) -> None:
    seen: list[EntityChanged] = []
    service.bus.subscribe(EntityChanged, seen.append)
    service.record([station(tenant, 6, m("pm25", 1.0, "2026-11-24T09:00:00Z"))], received_us=RECEIVED)
    service.record(
        [station(tenant, 6, m("pm25", 2.0, "2026-11-24T09:01:00Z"), m("no2", 3.0, "2026-11-24T09:01:00Z"))],
        received_us=RECEIVED,
    )
    assert [(e.operation, sorted(e.attributes)) for e in seen][1] == ("update", sorted([PM25, NO2]))
    assert seen[0].operation == "create"
    assert seen[1].previous is not None and seen[1].previous["attrs"][PM25][0]["value"] == 1.0


def test_api_writes_are_kept_in_history(service: ContextService, tenant: str) -> None:
    entity = build_entity(
        {
            "id": "urn:ngsi-ld:AirQualityObserved:7",
            "type": "AirQualityObserved",
            "pm25": {"type": "Property", "value": 4},
        },
        EXPAND,
        "2026-11-24T10:00:00.000000Z",
    )
    service.create_entity(tenant, entity)
    fragment = build_entity(
        {"pm25": {"type": "Property", "value": 9, "observedAt": "2026-11-24T10:05:00Z"}},
        EXPAND,
        "",
        require_id=False,
        require_type=False,
    )
    service.update_attributes(tenant, entity["id"], fragment)
    values = stored_values(service, tenant, entity["id"], PM25)
    assert [v for _, v in values] == [4.0, 9.0]
    assert values[1][0] == iso_to_us("2026-11-24T10:05:00Z")


def test_history_can_be_switched_off(database: Database, tenant: str) -> None:
    service = ContextService(database, EventBus(), default_tenant="urbis", keep_history=False, reading_terms=EXPAND)
    result = service.record([station(tenant, 8, m("pm25", 1.0, "2026-11-24T09:00:00Z"))], received_us=RECEIVED)
    assert result.stored == 1
    with database.read() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(history_series).where(history_series.c.tenant == tenant)
            ).scalar()
            == 0
        )


def test_postgres_rows_land_in_month_partitions(postgres_url: str, tenant: str) -> None:
    from urbis.core.db import migrate

    migrate(postgres_url)
    database = Database(postgres_url)
    try:
        service = ContextService(database, EventBus(), default_tenant="urbis", reading_terms=EXPAND)
        at = "2019-02-14T12:00:00Z"  # an old month no other test writes
        service.record([station(tenant, 9, m("pm25", 1.0, at))], received_us=RECEIVED)
        name = partition_name(*month_of(iso_to_us(at)))
        with service.db.read() as conn:
            count = conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar()
            default = conn.exec_driver_sql("SELECT count(*) FROM history_pdefault").scalar()
    finally:
        database.dispose()
    assert count == 1
    assert default == 0


def test_concurrent_writers_create_series_and_partitions_once(database: Database, tenant: str) -> None:
    services = [ContextService(database, EventBus(), default_tenant="urbis", reading_terms=EXPAND) for _ in range(4)]
    errors: list[BaseException] = []

    def write(service: ContextService, offset: int) -> None:
        try:
            for i in range(5):
                at = f"2018-0{1 + i % 3}-01T00:00:0{offset}Z"
                service.record([station(tenant, 10, m("pm25", float(i), at))], received_us=RECEIVED)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(services)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database.read() as conn:
        series = conn.execute(
            select(func.count()).select_from(history_series).where(history_series.c.tenant == tenant)
        ).scalar()
    assert series == 1


def _blocked_on_a_lock(database: Database) -> bool:
    with database.read() as conn:
        waiting = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY entities %%'"
        )
        return bool(waiting.scalar())


@pytest.mark.parametrize("writer", ["record", "batch-upsert"])
def test_a_writer_that_loses_the_race_to_create_an_entity_redoes_its_work(
    postgres_url: str, tenant: str, writer: str
) -> None:
    """Another process creates the entity between our read and our insert: no error, nothing lost."""
    from urbis.core.db import migrate

    migrate(postgres_url)
    database = Database(postgres_url)
    service = ContextService(database, EventBus(), default_tenant="urbis", reading_terms=EXPAND)
    entity_id = "urn:ngsi-ld:AirQualityObserved:77"
    now = "2026-11-24T09:00:00.000000Z"
    rival = build_entity(
        {"id": entity_id, "type": "AirQualityObserved", "no2": {"type": "Property", "value": 1}}, EXPAND, now
    )
    rival["createdAt"] = rival["modifiedAt"] = now
    outcome: list[object] = []

    def write() -> None:
        try:
            if writer == "record":
                outcome.append(
                    service.record([station(tenant, 77, m("pm25", 9.0, "2026-11-24T09:05:00Z"))], received_us=RECEIVED)
                )
            else:
                pm25 = {"id": entity_id, "type": "AirQualityObserved", "pm25": {"type": "Property", "value": 9.0}}
                outcome.append(service.batch(tenant, [build_entity(pm25, EXPAND, now)], "upsert-update"))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            outcome.append(exc)

    try:
        with database.engine.connect() as other, other.begin():
            service.store.insert_many(other, tenant, [rival])
            thread = threading.Thread(target=write)
            thread.start()
            deadline = time.monotonic() + 20
            while not _blocked_on_a_lock(database):  # our insert waits on the rival's uncommitted key
                assert time.monotonic() < deadline, "the writer never reached the conflicting insert"
                time.sleep(0.02)
        thread.join(30)
        assert not isinstance(outcome[0], BaseException), outcome[0]
        entity = service.get_entity(tenant, entity_id)
    finally:
        database.dispose()
    assert entity["attrs"][PM25][0]["value"] == 9.0
    assert entity["attrs"][NO2][0]["value"] == 1
