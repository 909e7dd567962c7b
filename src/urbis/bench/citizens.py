"""``urbis bench citizens``: Open311 writes and reads, and ballots, against their raw SQL baseline.

**What is measured.**  The application of ``urbis serve`` (``create_app``, background jobs off)
answers in this process over httpx's ASGI transport, so a request's time is the server's time
(routing, parsing, the rules, the database, the Open311 rendering) without a socket.

- *Open311 POST*: ``posts`` form-encoded ``POST /open311/v2/requests.json`` with an API key, each
  a street-light report with an answer and a position (placed in a district, routed, stored with
  its sender's details apart, mirrored into the context as a ``ServiceRequest``).  Baseline: one
  plain SQL ``INSERT`` of the same report row per transaction.
- *Open311 GET*: with ``reports`` public reports in the city, ``GET requests.json`` as clients
  ask it: the default (the last 90 days, up to 1,000), the first page of 50 with
  ``extensions=true``, a ``status=open&service_code=...`` filter, a 500 m radius, and one
  request by id; each ``requests`` times after one untimed priming request.  Baseline: the plain
  SQL ``SELECT`` of the rows the default answer holds (1,000 rows).
- *Ballots*: ``ballots`` residents each cast a valid ballot in a participatory budget through
  ``POST /api/v1/participation/budgets/{id}/ballot``.  Baseline: the plain SQL ``INSERT`` of a ballot
  row and its two chosen projects, one ballot per transaction.

The reports beyond the timed POSTs are written through the report service directly (the same
rules, without HTTP), so a large city loads in reasonable time.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from urbis.app import create_app
from urbis.bench.common import bench_database, percentiles
from urbis.citizens.service import Submission
from urbis.core.auth.tokens import Actor, issue_token
from urbis.core.db import Database, migrate
from urbis.core.settings import Settings

TENANT = "benchcity"
#: The bench city: a 10 km square around Bonn's centre, four districts in a grid.
WEST, SOUTH, EAST, NORTH = 7.05, 50.68, 7.19, 50.77


@dataclass(frozen=True)
class Row:
    """One measured operation on one backend."""

    backend: str
    what: str
    count: int
    p50_ms: float
    p95_ms: float
    rate: float  # operations per second
    baseline_rate: float | None  # the raw baseline's, when there is one

    @property
    def ratio(self) -> float | None:
        """How many times slower than the raw baseline (per operation)."""
        if not self.baseline_rate or not self.rate:
            return None
        return self.baseline_rate / self.rate


def _districts() -> list[dict[str, Any]]:
    documents = []
    mid_long, mid_lat = (WEST + EAST) / 2, (SOUTH + NORTH) / 2
    for number, (west, south, east, north) in enumerate(
        [
            (WEST, SOUTH, mid_long, mid_lat),
            (mid_long, SOUTH, EAST, mid_lat),
            (WEST, mid_lat, mid_long, NORTH),
            (mid_long, mid_lat, EAST, NORTH),
        ],
        start=1,
    ):
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        documents.append(
            {
                "id": f"urn:ngsi-ld:AdministrativeArea:bench-{number}",
                "type": "AdministrativeArea",
                "name": {"type": "Property", "value": f"District {number}"},
                "location": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [ring]}},
            }
        )
    return documents


def _point(rng: random.Random) -> tuple[float, float]:
    return rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST)


def _timed(samples: list[float], started: float) -> None:
    samples.append(time.perf_counter() - started)


def _row(backend: str, what: str, samples: list[float], baseline: float | None) -> Row:
    p50, p95 = percentiles(samples, 50, 95)
    total = sum(samples)
    return Row(backend, what, len(samples), p50 * 1000, p95 * 1000, len(samples) / total if total else 0.0, baseline)


def _raw_insert_rate(db: Database, count: int) -> float:
    """Plain SQL inserts of report rows, one per transaction: what a store of reports costs at least."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    for _ in range(count):
        with db.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO citizen_reports (tenant, report_id, service_code, service_name, description, stage, "
                    "status, answers, requested_at, updated_at, confirmed, moderation, channel, lat, long) "
                    "VALUES ('raw', :id, 'streetlight', 'Street light', 'dark', 'submitted', 'open', '{}', :now, :now, "
                    "true, 'public', 'open311', 50.7, 7.1)"
                ),
                {"id": uuid.uuid4().hex[:12], "now": now},
            )
    return count / (time.perf_counter() - started)


def _raw_select_rate(db: Database, tenant: str, runs: int) -> float:
    """Plain SQL reads of the rows Open311's default answer holds (the newest 1,000 public reports)."""
    started = time.perf_counter()
    for _ in range(runs):
        with db.read() as conn:
            conn.execute(
                text(
                    "SELECT * FROM citizen_reports WHERE tenant = :t AND confirmed AND moderation = 'public' "
                    "AND requested_at >= :since ORDER BY requested_at DESC LIMIT 1000"
                ),
                {"t": tenant, "since": datetime.now(UTC) - timedelta(days=90)},
            ).all()
    return runs / (time.perf_counter() - started)


def _raw_ballot_rate(db: Database, count: int) -> float:
    """Plain SQL inserts of a ballot row and its two chosen projects, one ballot per transaction."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    for number in range(count):
        ballot = uuid.uuid4().hex
        with db.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO participation_ballots (tenant, ballot_id, budget_id, voter, heading_id, fingerprint, "
                    "cast_at) VALUES ('raw', :id, 'b', :who, 'd1', :id, :now)"
                ),
                {"id": ballot, "who": f"voter-{number}", "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO participation_ballot_projects (tenant, ballot_id, project_id, budget_id) VALUES ('raw', :id, :p, 'b')"
                ),
                [{"id": ballot, "p": "p1"}, {"id": ballot, "p": "p2"}],
            )
    return count / (time.perf_counter() - started)


async def _measure(app: Any, backend: str, posts: int, reads: int, ballots: int) -> list[Row]:
    reports = app.state.citizen_reports
    _, key = reports.create_api_key(TENANT, "bench", by="bench")
    rng = random.Random(7)
    rows: list[Row] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench.local") as client:
        samples: list[float] = []
        for number in range(posts + 1):
            lat, long = _point(rng)
            form = {
                "api_key": key,
                "jurisdiction_id": TENANT,
                "service_code": "streetlight",
                "attribute[fault]": "dark",
                "lat": f"{lat:.6f}",
                "long": f"{long:.6f}",
                "description": f"Lamp {number} is dark",
                "email": f"resident{number}@example.org",
                "first_name": "Bench",
            }
            started = time.perf_counter()
            response = await client.post("/open311/v2/requests.json", data=form)
            if number:  # the first request primes imports and caches
                _timed(samples, started)
            if response.status_code != 200:
                raise RuntimeError(f"Open311 POST answered {response.status_code}: {response.text[:300]}")
        rows.append(_row(backend, "Open311 POST requests", samples, _raw_insert_rate(app.state.db, posts)))

        centre_lat, centre_long = (SOUTH + NORTH) / 2, (WEST + EAST) / 2
        some_id = (
            await client.get("/open311/v2/requests.json", params={"jurisdiction_id": TENANT, "page_size": 1})
        ).json()
        single = some_id[0]["service_request_id"] if some_id else "none"
        queries: list[tuple[str, str, dict[str, Any]]] = [
            ("GET requests (default: 90 days, ≤1,000)", "/open311/v2/requests.json", {}),
            (
                "GET requests page 1 of 50, extensions",
                "/open311/v2/requests.json",
                {"page": 1, "page_size": 50, "extensions": "true"},
            ),
            (
                "GET requests status+service filter",
                "/open311/v2/requests.json",
                {"status": "open", "service_code": "pothole"},
            ),
            (
                "GET requests within 500 m",
                "/open311/v2/requests.json",
                {"lat": centre_lat, "long": centre_long, "radius": 500},
            ),
            ("GET requests/{id}", f"/open311/v2/requests/{single}.json", {}),
            ("GET requests (default) as XML", "/open311/v2/requests.xml", {}),
        ]
        baseline = _raw_select_rate(app.state.db, TENANT, max(10, reads))
        for label, path, extra in queries:
            params = {"jurisdiction_id": TENANT, **extra}
            await client.get(path, params=params)
            samples = []
            for _ in range(reads):
                started = time.perf_counter()
                response = await client.get(path, params=params)
                _timed(samples, started)
                if response.status_code != 200:
                    raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:300]}")
            rows.append(_row(backend, label, samples, baseline if "default" in label else None))

        samples = await _ballots(app, client, ballots)
        rows.append(_row(backend, "POST budget ballot", samples, _raw_ballot_rate(app.state.db, ballots)))
    return rows


async def _ballots(app: Any, client: httpx.AsyncClient, count: int) -> list[float]:
    from urbis.citizens.participation.budgets import BudgetPhase, check_budget

    participation = app.state.participation
    draft = check_budget(
        "Bench budget",
        "",
        "EUR",
        [
            {
                "id": "d1",
                "name": "District 1",
                "amount": "100000",
                "rule": {"kind": "minimum-projects", "minimumProjects": 1},
            }
        ],
    )
    budget = participation.create_budget(TENANT, draft, by="bench")
    budget_id = budget.budget.id
    projects = [
        participation.add_project(
            TENANT, budget_id, heading_id="d1", title=f"Project {n}", description="", cost="20000", by="bench"
        ).id
        for n in range(5)
    ]
    participation.change_phase(TENANT, budget_id, BudgetPhase.VOTING, by="bench")
    settings = app.state.settings
    samples: list[float] = []
    rng = random.Random(3)
    for number in range(count + 1):
        actor = Actor(subject=f"voter-{number}", tenant=TENANT, roles=frozenset({"citizen"}), kind="user")
        token, _ = issue_token(actor, settings)
        body = {"heading": "d1", "projects": rng.sample(projects, 2)}
        headers = {"Authorization": f"Bearer {token}", "NGSILD-Tenant": TENANT}
        started = time.perf_counter()
        response = await client.post(f"/api/v1/participation/budgets/{budget_id}/ballot", json=body, headers=headers)
        if number:
            _timed(samples, started)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"ballot answered {response.status_code}: {response.text[:300]}")
    return samples


def _load(app: Any, reports: int) -> None:
    """Fill the city with public reports through the report service (no HTTP)."""
    result = app.state.context.upsert_documents(TENANT, _districts())
    if result.errors:
        raise RuntimeError(f"districts not created: {result.errors[:2]}")
    rng = random.Random(11)
    service = app.state.citizen_reports
    codes = [("streetlight", {"fault": ["dark"]}), ("pothole", {"where": ["road"]}), ("litter", {})]
    for number in range(reports):
        code, answers = codes[number % len(codes)]
        lat, long = _point(rng)
        service.submit(
            TENANT,
            Submission(
                service_code=code, description=f"report {number}", lat=lat, long=long, answers=answers, trusted=True
            ),
        )


def bench_backend(backend: str, url: str, *, reports: int, posts: int, reads: int, ballots: int) -> list[Row]:
    """Load a city into a fresh database and measure it."""
    migrate(url)
    settings = Settings(
        database_url=url,
        default_tenant=TENANT,
        environment="test",
        solutions_enabled=False,
        history_enabled=False,
        citizen_rate_limit_ip="1000000/second",
        citizen_rate_limit_account="1000000/second",
        citizen_rate_limit_reads="1000000/second",
        secret_key="bench-secret-key-that-is-long-enough-0123456789",
    )
    app = create_app(settings)
    try:
        _load(app, max(0, reports - posts))
        return asyncio.run(_measure(app, backend, posts, reads, ballots))
    finally:
        app.state.db.dispose()


def run_citizens_bench(
    *,
    backends: list[str],
    postgres_admin_url: str,
    reports: int,
    posts: int,
    reads: int,
    ballots: int,
    console: Console,
) -> list[Row]:
    """Run on each backend (a fresh database each) and print the table."""
    rows: list[Row] = []
    for backend in backends:
        console.print(f"[bold]{backend}[/]: loading {reports:,} reports …")
        with bench_database(backend, postgres_admin_url) as url:
            rows.extend(bench_backend(backend, url, reports=reports, posts=posts, reads=reads, ballots=ballots))
    table = Table(title=f"urbis bench citizens: {reports:,} public reports in the city")
    for column in ("backend", "operation", "n", "p50 ms", "p95 ms", "per second", "raw baseline / s", "× baseline"):
        table.add_column(column, justify="left" if column in ("backend", "operation") else "right")
    for row in rows:
        table.add_row(
            row.backend,
            row.what,
            str(row.count),
            f"{row.p50_ms:.1f}",
            f"{row.p95_ms:.1f}",
            f"{row.rate:,.0f}",
            "–" if row.baseline_rate is None else f"{row.baseline_rate:,.0f}",
            "–" if row.ratio is None else f"{row.ratio:.1f}",
        )
    wide = console if console.width >= 150 else Console(width=150, file=console.file, quiet=console.quiet)
    wide.print(table)
    return rows
