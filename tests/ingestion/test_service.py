"""The ingestion services on SQLite and PostgreSQL: registry, ingestion into an in-memory sink, dead letters, commands.

The sink stands in for the context service (pure logic: it records what it is given); everything
else runs against the real databases.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.core.errors import AlreadyExists, BadRequestData, Conflict, NotFound, PolicyDenied, Unauthenticated
from urbis.ingestion import store
from urbis.ingestion.credentials import mosquitto_hash_matches
from urbis.ingestion.devices import ImportRow, parse_csv
from urbis.ingestion.messages import DeviceCommand, DeviceReadings, RawMessage, RejectedReadings, SinkResult
from urbis.ingestion.service import (
    CommandService,
    DeadLetterService,
    DeviceDirectory,
    DeviceService,
    IngestionService,
    IngestMetrics,
    datetime_to_us,
)

NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
NOW_US = datetime_to_us(NOW)


class MemorySink:
    """Records batches; can be told to fail (database down) or to reject some readings."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[DeviceReadings], int]] = []
        self.fail = False
        self.reject_devices: set[str] = set()
        self.duplicates = 0

    def record(self, batch: Sequence[DeviceReadings], *, received_us: int) -> SinkResult:
        if self.fail:
            raise ConnectionError("database is down")
        self.calls.append((list(batch), received_us))
        rejected = [RejectedReadings(r, "entity type clash") for r in batch if r.device_id in self.reject_devices]
        stored = sum(len(r.measures) for r in batch if r.device_id not in self.reject_devices)
        return SinkResult(stored=stored - self.duplicates, duplicates=self.duplicates, rejected=rejected)

    @property
    def readings(self) -> list[DeviceReadings]:
        return [r for batch, _ in self.calls for r in batch]


@dataclass
class Services:
    tenant: str
    clock: FixedClock
    sink: MemorySink
    bus: EventBus
    metrics: IngestMetrics
    devices: DeviceService
    deadletters: DeadLetterService
    ingestion: IngestionService
    commands: CommandService

    def message(
        self, device_id: str, payload: Any, *, token: str | None = None, kind: str = "device", transport: str = "http"
    ) -> RawMessage:
        raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        return RawMessage(self.tenant, device_id, raw, NOW_US, transport, kind, token)  # type: ignore[arg-type]

    def dead(self, **filters: Any) -> list[Any]:
        return self.deadletters.list_deadletters(self.tenant, **filters)[0]


@pytest.fixture
def svc(database: Database, tenant: str) -> Services:
    clock = FixedClock(NOW)
    sink = MemorySink()
    bus = EventBus()
    metrics = IngestMetrics()
    directory = DeviceDirectory(database)
    devices = DeviceService(database, clock=clock, directory=directory)
    deadletters = DeadLetterService(database, clock=clock, retention_days=30, metrics=metrics)
    ingestion = IngestionService(
        directory, sink, deadletters, clock=clock, metrics=metrics, future_tolerance_seconds=300, max_measures=100
    )
    commands = CommandService(database, bus, clock=clock, deadletters=deadletters, ttl_seconds=600)
    return Services(tenant, clock, sink, bus, metrics, devices, deadletters, ingestion, commands)


def lamp(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {"id": f"lamp-{n}", "deviceType": "streetlight-controller", **extra}


def metric(metrics: IngestMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


# -- the registry -----------------------------------------------------------------------------


def test_provision_and_read_back(svc: Services) -> None:
    device, token = svc.devices.create(
        svc.tenant,
        lamp(
            location={"type": "Point", "coordinates": [7.1, 50.7]},
            attributes={"name": {"type": "Property", "value": "L1"}},
        ),
    )
    assert device.created_at == NOW and device.enabled and device.mqtt_username == f"{svc.tenant}/lamp-1"
    again = svc.devices.get(svc.tenant, "lamp-1")
    assert again.to_json() == device.to_json()
    with svc.devices.db.read() as conn:
        row = store.get_device_row(conn, svc.tenant, "lamp-1")
    assert row is not None and token not in (row.token_sha256, row.mqtt_hash)  # only hashes are stored
    assert mosquitto_hash_matches(token, row.mqtt_hash)
    with pytest.raises(AlreadyExists):
        svc.devices.create(svc.tenant, lamp())
    with pytest.raises(NotFound):
        svc.devices.get(svc.tenant, "lamp-2")
    with pytest.raises(NotFound):
        svc.devices.get("other-tenant", "lamp-1")


def test_a_member_needs_a_registered_gateway(svc: Services) -> None:
    with pytest.raises(BadRequestData):
        svc.devices.create(svc.tenant, lamp(gatewayId="gw-1"))
    svc.devices.create(svc.tenant, lamp(2))
    with pytest.raises(BadRequestData):  # lamp-2 is no gateway
        svc.devices.create(svc.tenant, lamp(gatewayId="lamp-2"))
    svc.devices.create(svc.tenant, {"id": "gw-1", "deviceType": "gateway"})
    svc.devices.create(svc.tenant, lamp(gatewayId="gw-1"))
    with pytest.raises(Conflict):
        svc.devices.delete(svc.tenant, "gw-1")
    svc.devices.delete(svc.tenant, "lamp-1")
    svc.devices.delete(svc.tenant, "gw-1")
    assert svc.devices.list_devices(svc.tenant)[1] == 1


def test_list_filters_and_pages(svc: Services) -> None:
    svc.devices.create(svc.tenant, {"id": "gw-1", "deviceType": "gateway"})
    for n in range(5):
        svc.devices.create(svc.tenant, lamp(n, gatewayId="gw-1" if n % 2 else None))
    svc.devices.create(svc.tenant, {"id": "aq-1", "deviceType": "air-quality-station"})
    devices, total = svc.devices.list_devices(svc.tenant, device_type="streetlight-controller", limit=2, offset=1)
    assert [d.id for d in devices] == ["lamp-1", "lamp-2"] and total == 5
    assert [d.id for d in svc.devices.list_devices(svc.tenant, gateway_id="gw-1")[0]] == ["lamp-1", "lamp-3"]
    assert [d.id for d in svc.devices.find_by_entity(svc.tenant, "urn:ngsi-ld:Streetlight:lamp-4")] == ["lamp-4"]


def test_update_revoke_enable_delete(svc: Services) -> None:
    svc.devices.create(svc.tenant, lamp())
    svc.clock.advance(minutes=5)
    changed = svc.devices.update(
        svc.tenant,
        "lamp-1",
        {"entityId": "urn:ngsi-ld:Streetlight:x", "location": {"type": "Point", "coordinates": [1, 2]}},
    )
    assert changed.entity_id == "urn:ngsi-ld:Streetlight:x" and changed.modified_at == svc.clock.now()
    assert svc.devices.get(svc.tenant, "lamp-1").to_json() == changed.to_json()
    assert not svc.devices.revoke(svc.tenant, "lamp-1").enabled
    assert svc.devices.enable(svc.tenant, "lamp-1").enabled
    with pytest.raises(BadRequestData):
        svc.devices.update(svc.tenant, "lamp-1", {"mapping": "nope"})
    svc.devices.delete(svc.tenant, "lamp-1")
    with pytest.raises(NotFound):
        svc.devices.delete(svc.tenant, "lamp-1")


def test_bulk_import_keeps_valid_rows_and_reports_the_others(svc: Services) -> None:
    svc.devices.create(svc.tenant, lamp(0))
    lines = ["id,deviceType,entityId,entityType,gatewayId,longitude,latitude,name", "gw-9,gateway,,,,,,"]
    lines += [f"lamp-{n},streetlight-controller,,,gw-9,7.{n % 10},50.7,Lamp {n}" for n in range(1, 5001)]
    lines += [
        "lamp-0,streetlight-controller,,,,,,",  # exists already
        "lamp-7,streetlight-controller,,,,,,",  # twice in the file
        "bad/id,streetlight-controller,,,,,,",  # invalid id
        "lamp-x,streetlight-controller,,,gw-none,,,",  # unknown gateway
        "lamp-y,streetlight-controller,,,,200,50,",  # longitude out of range
        "lamp-z,toaster,,,,,,",
    ]
    result = svc.devices.import_devices(svc.tenant, parse_csv("\n".join(lines) + "\n"))
    assert len(result.created) == 5001
    assert [(e["row"], e["line"]) for e in result.errors] == [(n, n + 1) for n in range(5002, 5008)]
    assert "already exists" in result.errors[0]["detail"] and "more than once" in result.errors[1]["detail"]
    assert svc.devices.list_devices(svc.tenant, gateway_id="gw-9")[1] == 5000
    lamp_42 = svc.devices.get(svc.tenant, "lamp-42")
    assert lamp_42.location == {"type": "Point", "coordinates": [7.2, 50.7]}
    assert lamp_42.attributes == {"name": {"type": "Property", "value": "Lamp 42"}}
    # Every returned token is the device's token.
    tokens = dict(result.created)
    outcome = svc.ingestion.ingest([svc.message("lamp-42", {"dim": 10}, token=tokens["lamp-42"])])[0]
    assert outcome.error is None and outcome.accepted == 1


def test_import_of_unreadable_rows(svc: Services) -> None:
    result = svc.devices.import_devices(
        svc.tenant, [ImportRow(1, None, "a device must be a JSON object"), ImportRow(2, lamp())]
    )
    assert result.created[0][0] == "lamp-1"
    assert result.errors == [{"row": 1, "detail": "a device must be a JSON object"}]


# -- ingestion --------------------------------------------------------------------------------


def test_http_message_becomes_one_reading(svc: Services) -> None:
    _, token = svc.devices.create(
        svc.tenant,
        lamp(
            location={"type": "Point", "coordinates": [7.1, 50.7]},
            attributes={"name": {"type": "Property", "value": "L1"}},
        ),
    )
    outcome = svc.ingestion.ingest(
        [svc.message("lamp-1", [{"ts": "2026-11-24T06:59:00Z", "dim": 40, "on": True}, {"power": 20}], token=token)]
    )[0]
    assert outcome.error is None and outcome.accepted == 3 and outcome.rejected == []
    assert len(svc.sink.calls) == 1
    (reading,) = svc.sink.readings
    assert (reading.tenant, reading.device_id, reading.entity_id, reading.entity_type) == (
        svc.tenant,
        "lamp-1",
        "urn:ngsi-ld:Streetlight:lamp-1",
        "Streetlight",
    )
    assert [(m.attribute, m.value, m.observed_at) for m in reading.measures] == [
        ("illuminanceLevel", 0.4, "2026-11-24T06:59:00.000000Z"),
        ("powerState", "on", "2026-11-24T06:59:00.000000Z"),
        ("powerConsumption", 20, "2026-11-24T07:00:00.000000Z"),
    ]
    assert reading.seed == {
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.1, 50.7]}},
        "name": {"type": "Property", "value": "L1"},
    }
    assert svc.sink.calls[0][1] == NOW_US
    assert svc.dead() == []
    assert metric(svc.metrics, "urbis_ingest_measures_total", transport="http", outcome="accepted") == 3
    assert metric(svc.metrics, "urbis_ingest_messages_total", transport="http") == 1


def test_many_messages_one_sink_call_outcomes_in_order(svc: Services) -> None:
    tokens = [svc.devices.create(svc.tenant, lamp(n))[1] for n in range(3)]
    messages = [
        svc.message("lamp-0", {"dim": 10}, token=tokens[0]),
        svc.message("lamp-1", {"dim": 10}, token="wrong"),
        svc.message("lamp-2", {"dim": 10, "power": 5}, transport="mqtt"),  # the broker authenticated it
        svc.message("lamp-9", {"dim": 10}, token="x"),
        svc.message("lamp-0", b"{not json", token=tokens[0]),
    ]
    outcomes = svc.ingestion.ingest(messages)
    assert [(o.accepted, o.error.reason if o.error else None) for o in outcomes] == [
        (1, None),
        (0, "bad-token"),
        (2, None),
        (0, "unknown-device"),
        (0, "malformed"),
    ]
    assert len(svc.sink.calls) == 1 and [r.device_id for r in svc.sink.readings] == ["lamp-0", "lamp-2"]
    letters = svc.dead()
    assert sorted((d.device_id, d.reason) for d in letters) == [
        ("lamp-0", "malformed"),
        ("lamp-1", "bad-token"),
        ("lamp-9", "unknown-device"),
    ]
    malformed = next(d for d in letters if d.reason == "malformed")
    assert malformed.payload == b"{not json" and malformed.transport == "http" and malformed.received_at == NOW
    assert metric(svc.metrics, "urbis_deadletters_total", reason="bad-token") == 1
    assert metric(svc.metrics, "urbis_ingest_measures_total", transport="mqtt", outcome="accepted") == 2


def test_bad_measures_are_dead_lettered_beside_kept_ones(svc: Services) -> None:
    _, token = svc.devices.create(svc.tenant, lamp())
    outcome = svc.ingestion.ingest(
        [
            svc.message(
                "lamp-1",
                [{"dim": 140, "power": 5}, {"dim": "x", "bogus": 1}, {"ts": "2030-01-01T00:00:00Z", "power": 1}],
                token=token,
            )
        ]
    )[0]
    assert outcome.accepted == 1
    assert [(r.index, r.measure, r.reason) for r in outcome.rejected] == [
        (0, "dim", "out-of-range"),
        (1, "dim", "wrong-type"),
        (1, "bogus", "unknown-measure"),
        (2, "ts", "future-timestamp"),
    ]
    letters = svc.dead()
    assert sorted(d.reason for d in letters) == ["future-timestamp", "out-of-range", "unknown-measure", "wrong-type"]
    assert all(d.device_id == "lamp-1" and d.count == 1 for d in letters)
    assert svc.dead(reason="wrong-type")[0].rejections == [
        {"index": 1, "measure": "dim", "reason": "wrong-type", "detail": outcome.rejected[1].detail}
    ]
    assert metric(svc.metrics, "urbis_ingest_measures_total", transport="http", outcome="rejected") == 4


def test_revoked_devices_and_rotated_tokens(svc: Services) -> None:
    _, old = svc.devices.create(svc.tenant, lamp())
    assert svc.ingestion.ingest_one(svc.message("lamp-1", {"dim": 1}, token=old)).accepted == 1  # now cached
    svc.devices.revoke(svc.tenant, "lamp-1")
    assert svc.ingestion.ingest_one(svc.message("lamp-1", {"dim": 1}, token=old)).error.reason == "revoked"  # type: ignore[union-attr]
    assert svc.ingestion.ingest_one(svc.message("lamp-1", {"dim": 1}, transport="mqtt")).error.reason == "revoked"  # type: ignore[union-attr]
    svc.devices.enable(svc.tenant, "lamp-1")
    _, new = svc.devices.rotate_token(svc.tenant, "lamp-1")
    assert svc.ingestion.ingest_one(svc.message("lamp-1", {"dim": 1}, token=old)).error.reason == "bad-token"  # type: ignore[union-attr]
    assert svc.ingestion.ingest_one(svc.message("lamp-1", {"dim": 1}, token=new)).accepted == 1
    with pytest.raises(Unauthenticated):
        svc.ingestion.authenticate(svc.tenant, "lamp-1", old)
    svc.devices.revoke(svc.tenant, "lamp-1")
    with pytest.raises(PolicyDenied):
        svc.ingestion.authenticate(svc.tenant, "lamp-1", new)
    with pytest.raises(NotFound):
        svc.ingestion.authenticate(svc.tenant, "nobody", new)


def test_gateway_batches(svc: Services) -> None:
    _, gw_token = svc.devices.create(svc.tenant, {"id": "gw-1", "deviceType": "gateway"})
    svc.devices.create(svc.tenant, {"id": "gw-2", "deviceType": "gateway"})
    for n in range(3):
        svc.devices.create(svc.tenant, lamp(n, gatewayId="gw-1"))
    svc.devices.create(svc.tenant, lamp(7, gatewayId="gw-2"))
    svc.devices.create(svc.tenant, {"id": "aq-1", "deviceType": "air-quality-station", "gatewayId": "gw-1"})
    svc.devices.revoke(svc.tenant, "lamp-2")
    payload = {
        "lamp-0": [{"ts": "2026-11-24T06:58:00Z", "dim": 40, "power": 31.5}, {"dim": 50}],
        "lamp-1": {"dim": 200, "on": False},
        "lamp-2": [{"dim": 1}],
        "lamp-7": [{"dim": 1}],
        "lamp-404": [{"dim": 1}],
        "aq-1": [{"pm25": 12.1, "humidity": 55}],
        "weird": 3,
    }
    outcome = svc.ingestion.ingest_one(svc.message("gw-1", payload, token=gw_token, kind="gateway"))
    assert outcome.error is None and outcome.accepted == 6
    assert {(r.device, r.reason) for r in outcome.rejected} == {
        ("lamp-1", "out-of-range"),
        ("lamp-2", "revoked"),
        ("lamp-7", "not-a-gateway-member"),
        ("lamp-404", "unknown-device"),
        ("weird", "malformed"),
    }
    by_device = {r.device_id: r for r in svc.sink.readings}
    assert set(by_device) == {"lamp-0", "lamp-1", "aq-1"}
    assert [(m.attribute, m.value) for m in by_device["aq-1"].measures] == [("pm25", 12.1), ("relativeHumidity", 0.55)]
    assert by_device["aq-1"].entity_type == "AirQualityObserved"
    assert {d.device_id for d in svc.dead()} == {"lamp-1", "lamp-2", "lamp-7", "lamp-404", "weird"}
    # A gateway cannot post as a device, nor a device as a gateway.
    assert svc.ingestion.ingest_one(svc.message("gw-1", {"dim": 1}, token=gw_token)).error.reason == "unknown-device"  # type: ignore[union-attr]
    assert (
        svc.ingestion.ingest_one(svc.message("lamp-0", {}, kind="gateway", transport="mqtt")).error.reason
        == "unknown-device"
    )  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        svc.ingestion.authenticate(svc.tenant, "gw-1", gw_token)
    assert svc.ingestion.authenticate(svc.tenant, "gw-1", gw_token, gateway=True).is_gateway


def test_too_many_measures(svc: Services) -> None:
    _, token = svc.devices.create(svc.tenant, lamp())
    outcome = svc.ingestion.ingest_one(svc.message("lamp-1", [{"dim": 1, "power": 2}] * 51, token=token))
    assert outcome.oversized and outcome.error is not None and outcome.error.reason == "malformed"
    assert svc.sink.calls == []
    assert svc.ingestion.ingest_one(svc.message("lamp-1", [{"dim": 1, "power": 2}] * 50, token=token)).accepted == 100


def test_a_failing_sink_raises_and_dead_letters_nothing(svc: Services) -> None:
    _, token = svc.devices.create(svc.tenant, lamp())
    svc.sink.fail = True
    with pytest.raises(ConnectionError):
        svc.ingestion.ingest([svc.message("lamp-1", {"dim": 1, "bogus": 2}, token=token)])
    assert svc.dead() == []
    svc.sink.fail = False
    assert svc.ingestion.ingest([svc.message("lamp-1", {"dim": 1, "bogus": 2}, token=token)])[0].accepted == 1


def test_readings_the_sink_rejects_are_dead_lettered(svc: Services) -> None:
    _, gw = svc.devices.create(svc.tenant, {"id": "gw-1", "deviceType": "gateway"})
    svc.devices.create(svc.tenant, lamp(1, gatewayId="gw-1"))
    svc.devices.create(svc.tenant, lamp(2, gatewayId="gw-1"))
    svc.sink.reject_devices = {"lamp-2"}
    outcome = svc.ingestion.ingest_one(
        svc.message("gw-1", {"lamp-1": [{"dim": 1}], "lamp-2": [{"dim": 1, "power": 3}]}, token=gw, kind="gateway")
    )
    assert outcome.accepted == 1
    assert [(r.device, r.reason, r.detail) for r in outcome.rejected] == [("lamp-2", "storage", "entity type clash")]
    (letter,) = svc.dead()
    assert (letter.device_id, letter.reason) == ("lamp-2", "storage")
    assert metric(svc.metrics, "urbis_ingest_measures_total", transport="http", outcome="rejected") == 2


def test_duplicates_are_counted(svc: Services) -> None:
    svc.devices.create(svc.tenant, lamp())
    svc.sink.duplicates = 1
    svc.ingestion.ingest([svc.message("lamp-1", {"dim": 1, "power": 3}, transport="mqtt")])
    assert metric(svc.metrics, "urbis_ingest_measures_total", transport="mqtt", outcome="duplicate") == 1
    assert metric(svc.metrics, "urbis_ingest_measures_total", transport="mqtt", outcome="accepted") == 1


def test_last_seen_is_written_at_most_once_a_minute(svc: Services) -> None:
    svc.devices.create(svc.tenant, lamp())
    assert svc.devices.get(svc.tenant, "lamp-1").last_seen_at is None
    svc.ingestion.ingest([svc.message("lamp-1", {"dim": 1}, transport="mqtt")])
    assert svc.devices.get(svc.tenant, "lamp-1").last_seen_at == NOW
    svc.clock.advance(seconds=30)
    svc.ingestion.ingest([svc.message("lamp-1", {"dim": 1}, transport="mqtt")])
    assert svc.devices.get(svc.tenant, "lamp-1").last_seen_at == NOW
    svc.clock.advance(seconds=31)
    svc.ingestion.ingest([svc.message("lamp-1", {"dim": 1}, transport="mqtt")])
    assert svc.devices.get(svc.tenant, "lamp-1").last_seen_at == NOW + timedelta(seconds=61)


def test_the_directory_caches_and_expires(database: Database, svc: Services) -> None:
    ticks = [0.0]
    directory = DeviceDirectory(database, ttl=30, negative_ttl=5, monotonic=lambda: ticks[0])
    assert directory.get(svc.tenant, "lamp-1") is None
    svc.devices.create(svc.tenant, lamp())  # through another directory: this one is not told
    assert directory.get(svc.tenant, "lamp-1") is None
    ticks[0] = 6.0  # unknown ids are remembered only briefly
    cached = directory.get(svc.tenant, "lamp-1")
    assert cached is not None and cached.enabled
    svc.devices.revoke(svc.tenant, "lamp-1")
    ticks[0] = 20.0
    assert directory.get(svc.tenant, "lamp-1") is cached
    ticks[0] = 37.0
    refreshed = directory.get(svc.tenant, "lamp-1")
    assert refreshed is not None and not refreshed.enabled
    assert directory.get(svc.tenant, "x" * 500) is None and directory.get("t" * 100, "lamp-1") is None


def test_concurrent_ingestion(svc: Services) -> None:
    tokens = {f"lamp-{n}": svc.devices.create(svc.tenant, lamp(n))[1] for n in range(8)}
    errors: list[BaseException] = []

    def work(device_id: str) -> None:
        try:
            for _ in range(20):
                svc.ingestion.ingest([svc.message(device_id, {"dim": 1, "bogus": 1}, token=tokens[device_id])])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(d,)) for d in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(len(r.measures) for r in svc.sink.readings) == 160
    assert svc.deadletters.list_deadletters(svc.tenant, limit=1000)[1] == 160


# -- dead letters -----------------------------------------------------------------------------


def test_dead_letter_listing_reading_discarding_and_retention(svc: Services) -> None:
    svc.devices.create(svc.tenant, lamp())
    old = RawMessage(svc.tenant, "lamp-1", b"\xff\xfe garbage", NOW_US - 40 * 86_400_000_000, "mqtt")
    svc.ingestion.ingest([old, svc.message("lamp-1", b"[1, 2]", transport="mqtt"), svc.message("ghost", {})])
    letters, total = svc.deadletters.list_deadletters(svc.tenant)
    assert total == 3
    assert [d.device_id for d in letters][-1] == "lamp-1" and letters[-1].received_at == NOW - timedelta(days=40)
    binary = svc.deadletters.get(svc.tenant, letters[-1].id).to_json()
    assert binary["payloadEncoding"] == "base64" and binary["payloadSize"] == 10
    assert [d.device_id for d in svc.dead(device_id="ghost")] == ["ghost"]
    assert [d.reason for d in svc.dead(reason="malformed")] == ["malformed", "malformed"]
    assert len(svc.dead(since=NOW - timedelta(days=1))) == 2
    assert len(svc.dead(limit=1, offset=1)) == 1
    assert svc.deadletters.purge_expired(NOW) >= 1  # older than 30 days (other tests may add more)
    assert svc.deadletters.list_deadletters(svc.tenant)[1] == 2
    ghost = svc.dead(device_id="ghost")[0]
    svc.deadletters.delete(svc.tenant, ghost.id)
    with pytest.raises(NotFound):
        svc.deadletters.get(svc.tenant, ghost.id)
    with pytest.raises(NotFound):
        svc.deadletters.delete(svc.tenant, ghost.id)
    with pytest.raises(NotFound):
        svc.deadletters.get("someone-else", letters[0].id)


def test_payloads_are_truncated(svc: Services) -> None:
    svc.ingestion.ingest([svc.message("ghost", b"x" * 100_000)])
    (letter,) = svc.dead()
    assert len(letter.payload) == 16 * 1024 and letter.payload_size == 100_000
    assert letter.to_json()["payloadTruncated"] is True


# -- commands ---------------------------------------------------------------------------------


def test_commands_are_stored_published_polled_and_acknowledged(svc: Services) -> None:
    svc.devices.create(svc.tenant, lamp())
    published: list[DeviceCommand] = []
    svc.bus.subscribe(DeviceCommand, published.append)
    record = svc.commands.send(svc.tenant, "lamp-1", "setDimLevel", {"level": 40})
    assert record.status == "pending"
    assert published == [DeviceCommand(svc.tenant, "lamp-1", "setDimLevel", {"level": 40}, record.id)]
    svc.clock.advance(seconds=1)
    second = svc.commands.send(svc.tenant, "lamp-1", "reboot")
    polled = svc.commands.poll(svc.tenant, "lamp-1")
    assert [(c.id, c.status) for c in polled] == [(record.id, "sent"), (second.id, "sent")]
    assert polled[0].downlink() == {"id": record.id, "command": "setDimLevel", "params": {"level": 40}}
    assert svc.commands.poll(svc.tenant, "lamp-1") == []
    done = svc.commands.acknowledge(svc.tenant, "lamp-1", record.id, "OK", {"level": 40})
    assert done.status == "ok" and done.result == {"level": 40} and done.acknowledged_at == svc.clock.now()
    assert svc.commands.acknowledge(svc.tenant, "lamp-1", record.id, "ok").status == "ok"  # repeated: fine
    with pytest.raises(Conflict):
        svc.commands.acknowledge(svc.tenant, "lamp-1", record.id, "ERROR")
    with pytest.raises(NotFound):
        svc.commands.acknowledge(svc.tenant, "lamp-2", record.id, "OK")
    with pytest.raises(BadRequestData):
        svc.commands.acknowledge(svc.tenant, "lamp-1", second.id, "MAYBE")
    listed = svc.commands.list_commands(svc.tenant, "lamp-1")
    assert [(c.id, c.status) for c in listed] == [(second.id, "sent"), (record.id, "ok")]


def test_mqtt_acknowledgements_and_delivery(svc: Services) -> None:
    svc.devices.create(svc.tenant, lamp())
    record = svc.commands.send(svc.tenant, "lamp-1", "switchOff")
    svc.commands.mark_sent(svc.tenant, "lamp-1", record.id)
    svc.commands.mark_sent(svc.tenant, "lamp-1", "no-such-command")  # ignored
    assert svc.commands.get(svc.tenant, record.id).status == "sent"
    svc.commands.record_ack(
        svc.tenant, "lamp-1", orjson.dumps({"id": record.id, "status": "ERROR", "result": "relay stuck"})
    )
    acked = svc.commands.get(svc.tenant, record.id)
    assert (acked.status, acked.result) == ("error", "relay stuck")
    svc.commands.record_ack(svc.tenant, "lamp-1", b"not json")
    svc.commands.record_ack(svc.tenant, "lamp-1", orjson.dumps({"id": "unknown", "status": "OK"}))
    letters = svc.dead()
    assert len(letters) == 2 and all(d.reason == "malformed" and d.transport == "mqtt" for d in letters)


def test_commands_expire(svc: Services) -> None:
    svc.devices.create(svc.tenant, lamp())
    stale = svc.commands.send(svc.tenant, "lamp-1", "a")
    svc.clock.advance(minutes=11)
    fresh = svc.commands.send(svc.tenant, "lamp-1", "b")
    assert [c.id for c in svc.commands.poll(svc.tenant, "lamp-1")] == [fresh.id]
    assert svc.commands.get(svc.tenant, stale.id).status == "expired"
    # A late acknowledgement of an expired command still tells what happened.
    assert svc.commands.acknowledge(svc.tenant, "lamp-1", stale.id, "OK").status == "ok"
    svc.clock.advance(minutes=11)
    assert svc.commands.expire(tenant=svc.tenant) == 1
    svc.commands.expire()  # every tenant (what a scheduler calls)
    assert svc.commands.get(svc.tenant, fresh.id).status == "expired"


def test_command_input_is_checked(svc: Services) -> None:
    svc.devices.create(svc.tenant, lamp())
    with pytest.raises(NotFound):
        svc.commands.send(svc.tenant, "ghost", "x")
    with pytest.raises(BadRequestData):
        svc.commands.send(svc.tenant, "lamp-1", "bad name!")
    with pytest.raises(BadRequestData):
        svc.commands.send(svc.tenant, "lamp-1", "x", [1])
    with pytest.raises(BadRequestData):
        svc.commands.send(svc.tenant, "lamp-1", "x", {"blob": "y" * 20_000})
    svc.devices.revoke(svc.tenant, "lamp-1")
    with pytest.raises(Conflict):
        svc.commands.send(svc.tenant, "lamp-1", "x")
    with pytest.raises(NotFound):
        svc.commands.list_commands(svc.tenant, "ghost")
