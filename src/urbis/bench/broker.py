"""``urbis bench broker``: the NGSI-LD broker over HTTP on loopback, on SQLite and PostgreSQL.

Measures batch upsert throughput (1,000 entities a batch) beside the rate of
inserting the same rows with raw SQL (executemany), GET of one entity, and a
type + q + georel=near query, and prints a table.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from urbis.bench.common import percentiles, server
from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver
from urbis.context.model import build_entity, stamp_new_entity, utc_now_iso
from urbis.context.store import EntityStore, entities, entity_geo, entity_types, table_rows
from urbis.core.db import Database, migrate, throwaway_postgres_database
from urbis.sim.city import CENTRE_LAT, CENTRE_LON, CityGenerator

BATCH = 1000
LINK = f'<{URBIS_CONTEXT_URL}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


@dataclass
class BackendFigures:
    """What one backend measured."""

    backend: str
    entities: int
    upsert_per_s: float
    raw_per_s: float
    get_p50_ms: float
    get_p95_ms: float
    query_p50_ms: float
    query_p95_ms: float
    query_mean_results: float


def _timed(requests: int, send: Callable[[int], int]) -> tuple[list[float], list[int]]:
    durations: list[float] = []
    sizes: list[int] = []
    for i in range(requests):
        start = time.perf_counter()
        sizes.append(send(i))
        durations.append(time.perf_counter() - start)
    return durations, sizes


def raw_insert_rate(database_url: str, payloads: list[dict[str, Any]]) -> float:
    """Entities/s for inserting the same rows with raw COPY (PostgreSQL) or executemany (SQLite)."""
    resolver = ContextResolver(base_url="http://127.0.0.1")
    ctx = resolver.resolve(URBIS_CONTEXT_URL)
    now = utc_now_iso()
    built = [stamp_new_entity(build_entity(p, ctx.expand, now), now) for p in payloads]
    batches = [table_rows("rawbaseline", built[i : i + BATCH]) for i in range(0, len(built), BATCH)]
    db = Database(database_url)
    store = EntityStore(is_postgres=db.is_postgres)  # its bulk_insert is plain COPY / executemany
    try:
        start = time.perf_counter()
        for rows in batches:
            with db.write() as conn:
                store.bulk_insert(conn, entities, rows.entities)
                store.bulk_insert(conn, entity_types, rows.types)
                store.bulk_insert(conn, entity_geo, rows.geo)
        elapsed = time.perf_counter() - start
    finally:
        db.dispose()
    return len(built) / elapsed


def _upsert_all(
    base: str, bodies: list[bytes], headers: dict[str, str], clients: int, advance: Callable[[], None]
) -> None:
    """Send every batch, ``clients`` connections at a time."""
    from concurrent.futures import ThreadPoolExecutor

    def send(share: list[bytes]) -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            for body in share:
                response = client.post("/ngsi-ld/v1/entityOperations/upsert", content=body, headers=headers)
                if response.status_code not in (201, 204):
                    raise RuntimeError(f"upsert failed: {response.status_code} {response.text[:300]}")
                advance()

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(send, bodies[i::clients]) for i in range(clients)]:
            future.result()


def bench_backend(
    backend: str, database_url: str, count: int, queries: int, console: Console, workers: int = 2
) -> BackendFigures:
    """Load ``count`` entities into a fresh database through HTTP and measure."""
    migrate(database_url)
    payloads = list(CityGenerator().mixed(count))
    headers = {"Content-Type": "application/json", "Link": LINK}
    rng = random.Random(1)
    with (
        server(database_url, workers, {"URBIS_NGSILD_OPEN": "1", "URBIS_PAGE_MAX": "1000"}) as base,
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        bodies = [orjson.dumps(payloads[i : i + BATCH]) for i in range(0, count, BATCH)]
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{backend}: upserting {count:,} entities", total=len(bodies))
            start = time.perf_counter()
            _upsert_all(base, bodies, headers, workers, lambda: progress.advance(task))
            upsert_rate = count / (time.perf_counter() - start)
        ids = [p["id"] for p in payloads]
        get_headers = {"Link": LINK}
        client.get(f"/ngsi-ld/v1/entities/{ids[0]}", headers=get_headers)  # warm the context cache
        get_times, _ = _timed(
            queries, lambda i: len(client.get(f"/ngsi-ld/v1/entities/{rng.choice(ids)}", headers=get_headers).content)
        )

        def query(_: int) -> int:
            lon = CENTRE_LON + rng.uniform(-0.04, 0.04)
            lat = CENTRE_LAT + rng.uniform(-0.02, 0.02)
            response = client.get(
                "/ngsi-ld/v1/entities",
                params={
                    "type": "Streetlight",
                    "q": 'powerState=="on";illuminanceLevel>=0.2',
                    "georel": "near;maxDistance==400",
                    "geometry": "Point",
                    "coordinates": f"[{lon:.6f},{lat:.6f}]",
                    "limit": "100",
                },
                headers=get_headers,
            )
            if response.status_code != 200:
                raise RuntimeError(f"query failed: {response.status_code} {response.text[:300]}")
            return len(response.json())

        query_times, sizes = _timed(queries, query)
    raw_rate = raw_insert_rate(database_url, payloads)
    get50, get95 = (1000 * v for v in (statistics.median(get_times), *percentiles(get_times, 95)))
    q50, q95 = (1000 * v for v in (statistics.median(query_times), *percentiles(query_times, 95)))
    return BackendFigures(backend, count, upsert_rate, raw_rate, get50, get95, q50, q95, statistics.mean(sizes))


def run_broker_bench(
    *,
    entities: int,
    backends: list[str],
    postgres_admin_url: str,
    queries: int,
    console: Console,
    workers: int = 2,
) -> list[BackendFigures]:
    """Run the broker benchmark on each backend and print one table."""
    figures: list[BackendFigures] = []
    for backend in backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{Path(folder) / 'bench.db'}"
                figures.append(bench_backend(backend, url, entities, queries, console, workers))
        elif backend == "postgresql":
            with throwaway_postgres_database(postgres_admin_url, "urbis_bench") as url:
                figures.append(bench_backend(backend, url, entities, queries, console, workers))
        else:
            raise ValueError(f"unknown backend {backend!r}; use sqlite, postgresql or both")
    table = Table(
        title=f"urbis bench broker: {entities:,} entities (Streetlight, AirQualityObserved, ParkingSpot), "
        f"{workers} server process(es), batches of {BATCH:,}"
    )
    for column in (
        "backend",
        "upsert/s",
        "raw SQL/s",
        "ratio",
        "GET p50",
        "GET p95",
        "query p50",
        "query p95",
        "results",
    ):
        table.add_column(column, justify="right")
    for f in figures:
        table.add_row(
            f.backend,
            f"{f.upsert_per_s:,.0f}",
            f"{f.raw_per_s:,.0f}",
            f"{f.upsert_per_s / f.raw_per_s:.2f}",
            f"{f.get_p50_ms:.2f}",
            f"{f.get_p95_ms:.2f}",
            f"{f.query_p50_ms:.2f}",
            f"{f.query_p95_ms:.2f}",
            f"{f.query_mean_results:.1f}",
        )
    table.caption = "latencies in ms over HTTP on loopback; ratio = upsert/s ÷ raw SQL/s (same rows, same process)"
    # Never squeeze the figures: print at full width even when the output is piped.
    Console(width=max(console.width, 120)).print(table)
    return figures
