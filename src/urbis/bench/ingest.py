"""``urbis bench ingest``: device measures end to end, over MQTT and HTTP, into SQLite and PostgreSQL.

Each run starts a real ``urbis serve`` on a fresh database, provisions
air-quality stations behind gateways through the device API, then measures

* **HTTP gateway batches**: concurrent clients post batches of thousands of
  measures to ``/api/v1/ingest/{tenant}/gateways/{id}``; measures/s from the
  first request to the last answer (each answer comes after its commit);
* **MQTT, one measure per message**: publisher processes send QoS 1 messages
  of one measure each to the devices' topics on the real broker; measures/s
  from the first publish until the last measure is in history, and the
  device → entity latency (publish time in the payload → the moment the
  measure was written), p50 and p99;
* the **raw COPY** (PostgreSQL) or executemany (SQLite) rate of the same
  number of history-shaped rows, in this process, as the physical limit.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass

import httpx
import orjson
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text

from urbis.bench.common import bench_database, median, mosquitto, percentiles, server
from urbis.context.history import iso_to_us, us_to_iso
from urbis.core.auth.service import AccountService
from urbis.core.db import Database, migrate
from urbis.core.settings import Settings

TENANT = "bench"
ADMIN = "bench-admin"
PASSWORD = "bench-password-123456"
MEASURES = ("pm25", "pm10", "no2", "o3", "temperature", "humidity")
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


@dataclass
class IngestFigures:
    """What one backend measured."""

    backend: str
    http_measures: int
    http_per_s: float
    http_request_p50_ms: float
    http_request_p99_ms: float
    mqtt_measures: int
    mqtt_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    backlog_per_s: float
    raw_per_s: float


def _prepare(database_url: str) -> None:
    migrate(database_url)
    settings = Settings(database_url=database_url, environment="test", secret_key=SECRET)
    db = Database(database_url)
    try:
        AccountService(db, settings).create_user(ADMIN, PASSWORD, tenant=TENANT, roles=["admin"])
    finally:
        db.dispose()


def _token(client: httpx.Client) -> str:
    response = client.post("/auth/token", data={"grant_type": "password", "username": ADMIN, "password": PASSWORD})
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def _provision(client: httpx.Client, stations: int, gateways: int) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Create gateways and stations; returns the tokens and the stations of each gateway."""
    headers = {"Authorization": f"Bearer {_token(client)}", "NGSILD-Tenant": TENANT}
    gateway_ids = [f"gw-{g}" for g in range(gateways)]
    devices: list[dict[str, object]] = [{"id": gw, "deviceType": "gateway"} for gw in gateway_ids]
    members: dict[str, list[str]] = {gw: [] for gw in gateway_ids}
    for n in range(stations):
        gateway = gateway_ids[n % gateways]
        members[gateway].append(f"aq-{n}")
        devices.append(
            {
                "id": f"aq-{n}",
                "deviceType": "air-quality-station",
                "entityId": f"urn:ngsi-ld:AirQualityObserved:bench-{n}",
                "gatewayId": gateway,
                "location": {"type": "Point", "coordinates": [7.0 + n % 100 / 1000, 50.7 + n // 100 / 1000]},
            }
        )
    tokens: dict[str, str] = {}
    for start in range(0, len(devices), 2000):
        response = client.post("/api/v1/devices/import", json=devices[start : start + 2000], headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"provisioning failed: {response.status_code} {response.text[:500]}")
        for created in response.json()["created"]:
            tokens[created["id"]] = created["token"]
    return tokens, members


def _gateway_bodies(
    members: dict[str, list[str]], per_device: int, requests: int, start_us: int
) -> list[tuple[str, bytes]]:
    """``requests`` gateway batches, each ``per_device`` readings of every station of one gateway."""
    bodies = []
    gateways = list(members)
    for r in range(requests):
        gateway = gateways[r % len(gateways)]
        round_index = r // len(gateways)
        body = {}
        for d, device in enumerate(members[gateway]):
            readings = []
            for k in range(per_device):
                at = start_us + ((round_index * per_device + k) * 60 + d % 60) * 1_000_000
                value = float((d + k) % 50)
                readings.append(
                    {
                        "ts": us_to_iso(at),
                        "pm25": value,
                        "pm10": value * 1.6,
                        "no2": 20.0 + value,
                        "o3": 40.0,
                        "temperature": 12.5,
                        "humidity": 60.0,
                    }
                )
            body[device] = readings
        bodies.append((gateway, orjson.dumps(body)))
    return bodies


def _count_since(db: Database, since_us: int) -> int:
    with db.read() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM history WHERE recorded_at >= :s"), {"s": since_us}).scalar() or 0
        )


def _wait_for(db: Database, since_us: int, expected: int, timeout: float, advance: Callable[[int], None]) -> int:
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        count = _count_since(db, since_us)
        advance(count - seen)
        seen = count
        if count >= expected:
            break
        time.sleep(0.5)
    return seen


def _bench_http(
    base: str,
    db: Database,
    tokens: dict[str, str],
    members: dict[str, list[str]],
    total: int,
    clients: int,
    console: Console,
) -> tuple[int, float, float, float]:
    per_device = 4
    per_request = per_device * len(MEASURES) * len(next(iter(members.values())))
    requests = max(1, total // per_request)
    bodies = _gateway_bodies(members, per_device, requests, iso_to_us("2026-01-01T00:00:00Z"))
    durations: list[float] = []

    def send(share: list[tuple[str, bytes]], advance: Callable[[], None]) -> None:
        with httpx.Client(base_url=base, timeout=300) as client:
            for gateway, body in share:
                began = time.perf_counter()
                response = client.post(
                    f"/api/v1/ingest/{TENANT}/gateways/{gateway}",
                    content=body,
                    headers={"Authorization": f"Bearer {tokens[gateway]}", "Content-Type": "application/json"},
                )
                durations.append(time.perf_counter() - began)
                if response.status_code != 200 or response.json().get("rejected"):
                    raise RuntimeError(f"gateway batch failed: {response.status_code} {response.text[:500]}")
                advance()

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"HTTP: {requests * per_request:,} measures in gateway batches", total=requests)
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(send, bodies[i::clients], lambda: progress.advance(task)) for i in range(clients)]
            for future in futures:
                future.result()
        elapsed = time.perf_counter() - start
    p99 = percentiles(durations, 99)[0]
    return requests * per_request, requests * per_request / elapsed, median(durations) * 1000, p99 * 1000


def _publish(prefix: str, devices: list[str], messages: int, port: int, rate: float = 0.0) -> None:
    """One publisher process: ``messages`` QoS 1 messages of one measure, round-robin over ``devices``.

    ``rate`` > 0 paces the messages (per second); 0 sends as fast as the broker takes them.
    """
    asyncio.run(_publish_messages(prefix, devices, messages, port, rate))


async def _publish_messages(prefix: str, devices: list[str], messages: int, port: int, rate: float) -> None:
    # The publishers share the machine's cores with the broker and Urbis, so their CPU per
    # message counts: gmqtt with its writes in bulk takes about 11 µs, 27 µs writing each alone.
    import gmqtt
    from gmqtt.mqtt.constants import MQTTv311
    from gmqtt.storage import PersistentStorage

    class Unacknowledged(PersistentStorage):  # type: ignore[misc]
        """gmqtt's store of QoS 1 messages awaiting their PUBACK, counted."""

        count = 0

        def push_message(self, mid: int, raw_package: bytes) -> None:
            self.count += 1
            super().push_message(mid, raw_package)

        def remove_message_by_mid(self, mid: int) -> None:
            self.count -= 1
            super().remove_message_by_mid(mid)

    waiting = Unacknowledged()
    client = gmqtt.Client(f"bench-pub-{uuid.uuid4().hex[:8]}", clean_session=True, persistent_storage=waiting)
    await client.connect("127.0.0.1", port, version=MQTTv311)
    # gmqtt writes each publish to the socket at once: one system call per message. Between
    # flushes the packets wait in a list and go out in one write (gmqtt pinned to 0.8.x).
    protocol = client._connection._protocol
    unsent: list[bytes] = []
    protocol.write_data = unsent.append

    def flush() -> None:
        if unsent:
            protocol._transport.write(b"".join(unsent))
            unsent.clear()

    topics = [f"{prefix}/{TENANT}/{device}/attrs" for device in devices]
    last = [0] * len(devices)
    began = time.perf_counter()
    for n in range(messages):
        if rate > 0:
            ahead = n / rate - (time.perf_counter() - began)
            if ahead > 0:
                flush()
                await asyncio.sleep(ahead)
        if n % 500 == 499:
            flush()
            await asyncio.sleep(0)  # let the loop flush and read acknowledgements
            while waiting.count > 30_000:  # packet ids are 16 bits: keep well inside them
                await asyncio.sleep(0.005)
        i = n % len(devices)
        # Strictly increasing per device, so no two measures of a station share an instant.
        at = max(time.time_ns() // 1000, last[i] + 1)
        last[i] = at
        payload = b'{"pm25":%d.5,"ts":"%s"}' % (n % 80, us_to_iso(at).encode())
        client.publish(topics[i], payload, qos=1)
    flush()
    del protocol.write_data  # back to gmqtt's own, for the DISCONNECT
    await waiting.wait_empty()
    await client.disconnect()


def _mqtt_phase(
    db: Database,
    prefix: str,
    stations: list[str],
    total: int,
    publishers: int,
    port: int,
    rate: float,
    progress: Progress,
    label: str,
) -> list[tuple[int, int]]:
    """Publish ``total`` one-measure messages; the (observed, recorded) µs of each once all are stored."""
    since = time.time_ns() // 1000
    share = total // publishers
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_publish, args=(prefix, stations[p::publishers], share, port, rate / publishers))
        for p in range(publishers)
    ]
    task = progress.add_task(label, total=share * publishers)
    for process in processes:
        process.start()
    stored = _wait_for(db, since, share * publishers, 600, lambda n: progress.advance(task, n))
    for process in processes:
        process.join(timeout=60)
    if stored < share * publishers:
        raise RuntimeError(f"only {stored:,} of {share * publishers:,} MQTT measures arrived: check the broker's logs")
    with db.read() as conn:
        rows = conn.execute(
            text("SELECT observed_at, recorded_at FROM history WHERE recorded_at >= :s"), {"s": since}
        ).all()
    return [(observed, recorded) for observed, recorded in rows]


def _bench_mqtt(
    db: Database,
    prefix: str,
    members: dict[str, list[str]],
    total: int,
    publishers: int,
    console: Console,
    port: int,
) -> tuple[int, float, float, float]:
    """Throughput with publishers at full speed, then latency at a steady 1,000 messages/s."""
    stations = [device for group in members.values() for device in group]
    with Progress(console=console, transient=True) as progress:
        flood = _mqtt_phase(
            db, prefix, stations, total, publishers, port, 0.0, progress, f"MQTT: {total:,} one-measure messages"
        )
        steady = _mqtt_phase(
            db, prefix, stations, min(total, 5000), 1, port, 1000.0, progress, "MQTT latency at 1,000 messages/s"
        )
    first_sent = min(observed for observed, _ in flood)
    last_stored = max(recorded for _, recorded in flood)
    # Under a flood, latency is only the queue's length; at a steady rate it is the path's.
    p50, p99 = percentiles([(recorded - observed) / 1000 for observed, recorded in steady], 50, 99)
    return len(flood), len(flood) / ((last_stored - first_sent) / 1e6), p50, p99


def _bench_backlog(
    db: Database,
    prefix: str,
    members: dict[str, list[str]],
    total: int,
    publishers: int,
    port: int,
    restart: Callable[[], AbstractContextManager[str]],
    console: Console,
) -> float:
    """Measures/s of draining a backlog: messages queued by the broker while Urbis was down.

    The publishers finish before Urbis comes back, so this is Urbis's own pace with the broker,
    without load generators on the same cores.
    """
    stations = [device for group in members.values() for device in group]
    since = time.time_ns() // 1000
    share = total // publishers
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_publish, args=(prefix, stations[p::publishers], share, port, 0.0))
        for p in range(publishers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=600)
    with restart(), Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"MQTT: draining {share * publishers:,} queued messages", total=share * publishers)
        stored = _wait_for(db, since, share * publishers, 600, lambda n: progress.advance(task, n))
    if stored < share * publishers:
        raise RuntimeError(f"only {stored:,} of {share * publishers:,} queued MQTT measures arrived")
    with db.read() as conn:
        first, last = conn.execute(
            text("SELECT min(recorded_at), max(recorded_at) FROM history WHERE recorded_at >= :s"), {"s": since}
        ).one()
    return stored / max((int(last) - int(first)) / 1e6, 1e-6)


def raw_copy_rate(db: Database, rows: int) -> float:
    """Rows/s of writing ``rows`` history-shaped rows with COPY (PostgreSQL) or executemany (SQLite)."""
    base = iso_to_us("2026-06-01T00:00:00Z")
    now = time.time_ns() // 1000
    data = []
    for n in range(rows):
        at = base + n * 1_000_000
        instance = {
            "type": "Property",
            "value": float(n % 50),
            "observedAt": us_to_iso(at),
            "unitCode": "GQ",
            "createdAt": us_to_iso(now),
            "modifiedAt": us_to_iso(now),
        }
        data.append((10_000_000 + n % 5000, at, now, float(n % 50), orjson.dumps(instance).decode()))
    batch = 5000
    start = time.perf_counter()
    for offset in range(0, rows, batch):
        chunk = data[offset : offset + batch]
        with db.write() as conn:
            if db.is_postgres:
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                with cursor.copy(
                    "COPY history (series_id, observed_at, recorded_at, value_num, instance) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["int4", "int8", "int8", "float8", "text"])  # the fastest COPY psycopg has
                    for row in chunk:
                        copy.write_row(row)
            else:
                conn.exec_driver_sql(
                    "INSERT INTO history (series_id, observed_at, recorded_at, value_num, instance) VALUES (?, ?, ?, ?, ?)",
                    chunk,
                )
    return rows / (time.perf_counter() - start)


def bench_backend(
    backend: str,
    database_url: str,
    *,
    http_measures: int,
    mqtt_messages: int,
    stations: int,
    workers: int,
    publishers: int,
    console: Console,
) -> IngestFigures:
    """Run both ingestion paths on one fresh database."""
    _prepare(database_url)
    prefix = f"urbisbench{uuid.uuid4().hex[:6]}"
    environment = {
        "URBIS_ENVIRONMENT": "test",
        "URBIS_SECRET_KEY": SECRET,
        "URBIS_MQTT_CLIENT_ID": f"urbis-{prefix}",
        "URBIS_MQTT_TOPIC_PREFIX": prefix,
        "URBIS_INGEST_FUTURE_TOLERANCE_SECONDS": "3600",
    }
    db = Database(database_url)
    try:
        with mosquitto() as port:
            settings = {**environment, "URBIS_MQTT_URL": f"mqtt://127.0.0.1:{port}"}
            with server(database_url, workers, settings) as base, httpx.Client(base_url=base, timeout=300) as client:
                gateways = max(1, stations // 250)
                tokens, members = _provision(client, stations, gateways)
                http = _bench_http(base, db, tokens, members, http_measures, workers, console)
                mqtt = _bench_mqtt(db, prefix, members, mqtt_messages, publishers, console, port)
            # Urbis is down now; its sessions stay with the broker, which queues for them.
            backlog = _bench_backlog(
                db,
                prefix,
                members,
                mqtt_messages,
                publishers,
                port,
                lambda: server(database_url, workers, settings),
                console,
            )
        raw = raw_copy_rate(db, max(http[0], 100_000))
    finally:
        db.dispose()
    return IngestFigures(backend, http[0], http[1], http[2], http[3], mqtt[0], mqtt[1], mqtt[2], mqtt[3], backlog, raw)


def run_ingest_bench(
    *,
    backends: list[str],
    postgres_admin_url: str,
    http_measures: int,
    mqtt_messages: int,
    stations: int,
    workers: int,
    publishers: int,
    console: Console,
) -> list[IngestFigures]:
    """Run the ingestion benchmark on each backend and print one table."""
    figures = []
    for backend in backends:
        with bench_database(backend, postgres_admin_url) as url:
            figures.append(
                bench_backend(
                    backend,
                    url,
                    http_measures=http_measures,
                    mqtt_messages=mqtt_messages,
                    stations=stations,
                    workers=workers,
                    publishers=publishers,
                    console=console,
                )
            )
    table = Table(
        title=f"urbis bench ingest: {stations:,} air-quality stations, history on, {workers} server process(es)"
    )
    for column in (
        "backend",
        "HTTP batches measures/s",
        "request p50/p99 ms",
        "MQTT 1-measure msgs/s",
        "MQTT backlog drain msgs/s",
        "device→entity p50/p99 ms at 1,000 msg/s",
        "raw COPY rows/s",
        "HTTP ÷ raw",
        "MQTT ÷ raw",
    ):
        table.add_column(column, justify="right")
    for f in figures:
        table.add_row(
            f.backend,
            f"{f.http_per_s:,.0f}",
            f"{f.http_request_p50_ms:,.0f} / {f.http_request_p99_ms:,.0f}",
            f"{f.mqtt_per_s:,.0f}",
            f"{f.backlog_per_s:,.0f}",
            f"{f.latency_p50_ms:,.1f} / {f.latency_p99_ms:,.1f}",
            f"{f.raw_per_s:,.0f}",
            f"{f.http_per_s / f.raw_per_s:.2f}",
            f"{f.mqtt_per_s / f.raw_per_s:.2f}",
        )
    table.caption = (
        "HTTP: gateway batches of 4 readings × 6 measures × 250 stations; MQTT: QoS 1, one measure per message, "
        "publishers on the same machine; backlog: the same number queued by the broker while Urbis was down, then "
        "drained; raw = the same number of history rows written directly in this process"
    )
    Console(width=max(console.width, 140)).print(table)
    return figures
