"""Reliability end to end: a real ``urbis serve``, a real Mosquitto of the test's own, real kills.

* The broker restarts while devices publish: every measure the broker acknowledged to a device is
  stored, once.
* Urbis is killed (SIGKILL) in the middle of ingesting MQTT messages and HTTP gateway batches and
  started again: every MQTT measure the broker acknowledged and every HTTP batch answered 200 is
  stored, once.

Devices publish with QoS 1 on a persistent session and stamp each measure (``ts``), so a message
delivered twice is the same observation and history keeps it once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import text
from test_server_e2e import run_cli, running_server, server_env

from conftest import POSTGRES_ADMIN_URL, need_service
from mqtt_broker import MOSQUITTO, PrivateBroker, wait_until
from urbis.context.history import iso_to_us, us_to_iso
from urbis.core.db import Database, throwaway_postgres_database

STATIONS = 10
PASSWORD = "reliability-password-1234"


class Device:
    """A fleet of stations behind one MQTT session: QoS 1, persistent, remembers what was acknowledged."""

    def __init__(self, port: int, prefix: str, tenant: str) -> None:
        self.prefix = prefix
        self.tenant = tenant
        self.sent: dict[int, tuple[str, int]] = {}  # mid -> (device, observed µs)
        self.acknowledged: set[int] = set()
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"fleet-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.2, 2)
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()

    def _on_publish(self, _client: Any, _userdata: Any, mid: int, _reason: Any, _props: Any) -> None:
        with self.lock:
            self.acknowledged.add(mid)

    def publish(self, number: int, base_us: int) -> None:
        device = f"aq-{number % STATIONS}"
        at = base_us + number * 1000
        payload = orjson.dumps({"pm25": float(number % 500), "ts": us_to_iso(at)})
        # Never hold our lock while paho works: its network thread takes it in on_publish.
        info = self.client.publish(f"{self.prefix}/{self.tenant}/{device}/attrs", payload, qos=1)
        with self.lock:
            self.sent[info.mid] = (device, at)

    def acknowledged_measures(self) -> set[tuple[str, int]]:
        with self.lock:
            return {self.sent[mid] for mid in self.acknowledged if mid in self.sent}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _database_url(env: dict[str, str], data_dir: Path) -> str:
    return env.get("URBIS_DATABASE_URL") or f"sqlite:///{data_dir / 'urbis.db'}"


def _stored(url: str, tenant: str) -> list[tuple[str, int]]:
    """(device's entity id, observed µs) of every pm25 instance in history for the tenant."""
    db = Database(url)
    try:
        with db.read() as conn:
            rows = conn.execute(
                text(
                    "SELECT s.entity_id, h.observed_at FROM history h JOIN history_series s ON s.series_id = h.series_id "
                    "WHERE s.tenant = :tenant AND s.attr_iri LIKE '%pm25'"
                ),
                {"tenant": tenant},
            ).all()
    finally:
        db.dispose()
    return [(entity_id.rsplit(":", 1)[1], observed) for entity_id, observed in rows]


def _provision(base_url: str, tenant: str) -> dict[str, str]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        token = http.post(
            "/auth/token", data={"grant_type": "password", "username": f"admin-{tenant}", "password": PASSWORD}
        ).json()["access_token"]
        devices: list[dict[str, Any]] = [{"id": "gw-1", "deviceType": "gateway"}]
        devices += [
            {
                "id": f"aq-{n}",
                "deviceType": "air-quality-station",
                "entityId": f"urn:ngsi-ld:AirQualityObserved:aq-{n}",
                "gatewayId": "gw-1",
            }
            for n in range(STATIONS)
        ]
        response = http.post(
            "/api/v1/devices/import",
            json=devices,
            headers={"Authorization": f"Bearer {token}", "NGSILD-Tenant": tenant},
        )
        assert response.status_code == 201, response.text
        return {created["id"]: created["token"] for created in response.json()["created"]}


@pytest.fixture
def own_backend(backend: dict[str, str]) -> Iterator[dict[str, str]]:
    """The backend's settings with a database of this test's own.

    Killing servers mid-write is only meaningful against data the test controls; the run's shared
    PostgreSQL database also holds every other test's history, which the server's roll-up job
    would chew through meanwhile.
    """
    if "URBIS_DATABASE_URL" not in backend:
        yield backend
        return
    with throwaway_postgres_database(POSTGRES_ADMIN_URL, "urbis_reliability") as url:
        yield {**backend, "URBIS_DATABASE_URL": url}


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    need_service(None if Path(MOSQUITTO).exists() else f"no mosquitto binary at {MOSQUITTO}")
    private = PrivateBroker(tmp_path / "broker-data")
    private.start()
    yield private
    private.stop()


def _setup(tmp_path: Path, backend: dict[str, str], broker: PrivateBroker) -> tuple[dict[str, str], str, str]:
    tenant = backend["URBIS_DEFAULT_TENANT"]
    prefix = "urbis"
    env = server_env(
        URBIS_MQTT_URL=broker.url,
        URBIS_MQTT_CLIENT_ID=f"urbis-{uuid.uuid4().hex[:8]}",
        URBIS_MQTT_TOPIC_PREFIX=prefix,
        **backend,
    )
    data_dir = tmp_path / "data"
    env["URBIS_DATA_DIR"] = str(data_dir)
    assert run_cli(["migrate"], env=env, cwd=tmp_path).returncode == 0
    created = run_cli(
        # Usernames are unique on the platform, and the PostgreSQL test database is shared.
        ["user", "create", f"admin-{tenant}", "--tenant", tenant, "--role", "admin", "--password", PASSWORD],
        env=env,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    return env, tenant, prefix


def test_restarting_mosquitto_loses_no_acknowledged_measure(
    tmp_path: Path, own_backend: dict[str, str], broker: PrivateBroker
) -> None:
    env, tenant, prefix = _setup(tmp_path, own_backend, broker)
    base_us = iso_to_us("2026-11-24T08:00:00Z")
    with running_server(tmp_path, env, data_dir=tmp_path / "data") as server:
        _provision(server.url, tenant)
        fleet = Device(broker.port, prefix, tenant)
        try:
            for n in range(600):
                fleet.publish(n, base_us)
            assert wait_until(lambda: len(fleet.acknowledged) >= 300, timeout=30)
            broker.restart()  # SIGTERM: Mosquitto saves its sessions and queues, then starts again
            for n in range(600, 1200):
                fleet.publish(n, base_us)
            assert wait_until(lambda: len(fleet.acknowledged) == 1200, timeout=60), len(fleet.acknowledged)
            expected = fleet.acknowledged_measures()
            url = _database_url(env, tmp_path / "data")
            stored_now: set[tuple[str, int]] = set()

            def all_stored() -> bool:
                stored_now.clear()
                stored_now.update(_stored(url, tenant))
                return stored_now >= expected

            assert wait_until(all_stored, timeout=60), (
                f"{len(expected - stored_now)} of {len(expected)} acknowledged measures missing, "
                f"e.g. {sorted(expected - stored_now)[:5]}; {server.describe()}"
            )
            stored = _stored(url, tenant)
            assert len(stored) == len(set(stored)) == 1200
        finally:
            fleet.close()


def test_killing_urbis_mid_ingest_loses_nothing_acknowledged(
    tmp_path: Path, own_backend: dict[str, str], broker: PrivateBroker
) -> None:
    env, tenant, prefix = _setup(tmp_path, own_backend, broker)
    base_us = iso_to_us("2026-11-24T08:00:00Z")
    url = _database_url(env, tmp_path / "data")
    answered: list[tuple[str, int]] = []  # measures of HTTP batches answered 200
    statuses: list[int] = []
    with running_server(tmp_path / "first", env, data_dir=tmp_path / "data") as server:
        tokens = _provision(server.url, tenant)
        fleet = Device(broker.port, prefix, tenant)

        def post_batches() -> None:
            with httpx.Client(base_url=server.url, timeout=10) as http:
                for b in range(1000):
                    readings = {
                        f"aq-{d}": [{"ts": us_to_iso(base_us - (b * STATIONS + d + 1) * 1000), "pm25": 1.0}]
                        for d in range(STATIONS)
                    }
                    try:
                        response = http.post(
                            f"/api/v1/ingest/{tenant}/gateways/gw-1",
                            content=orjson.dumps(readings),
                            headers={"Authorization": f"Bearer {tokens['gw-1']}", "Content-Type": "application/json"},
                        )
                    except httpx.TransportError:
                        return  # the server died
                    statuses.append(response.status_code)
                    if response.status_code == 200:
                        answered.extend((d, iso_to_us(r[0]["ts"])) for d, r in readings.items())

        poster = threading.Thread(target=post_batches)
        poster.start()
        try:
            for n in range(1500):
                fleet.publish(n, base_us)
            # Kill while both paths are busy: some HTTP batches answered, MQTT messages in flight.
            busy = wait_until(lambda: len(answered) > 0 and len(_stored(url, tenant)) > 300, timeout=120)
            assert busy, (
                f"HTTP answers {sorted(set(statuses))} ({len(statuses)} requests), "
                f"{len(_stored(url, tenant))} measures stored; {server.describe()}"
            )
            server.process.kill()  # SIGKILL: no shutdown, no flush
            server.process.wait(10)
            poster.join(30)
            for n in range(1500, 3000):  # the broker keeps these for Urbis's session meanwhile
                fleet.publish(n, base_us)
            with running_server(tmp_path / "second", env, data_dir=tmp_path / "data"):
                assert wait_until(lambda: len(fleet.acknowledged) == 3000, timeout=90), len(fleet.acknowledged)
                expected = fleet.acknowledged_measures() | set(answered)
                assert wait_until(lambda: set(_stored(url, tenant)) >= expected, timeout=90)
                stored = _stored(url, tenant)
                assert len(stored) == len(set(stored))
                assert len(answered) > 0
        finally:
            fleet.close()
