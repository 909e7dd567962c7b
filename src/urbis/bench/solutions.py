"""``urbis bench solutions``: the city solutions against the simulated city at 10x, and 1,000 stations' indices.

**Keeping up.**  The whole demo city (5,000 lights, 50 air-quality stations, 3,000 bays,
10 garages) is simulated at ``speed`` times real time by a simulator in a process of its
own that speaks only HTTP to Urbis, exactly as ``urbis simulate`` does.  Urbis itself runs
in this process: the application of ``urbis serve`` (``create_app``) under uvicorn, in a
thread, with the solutions' runners wired as the server wires them.  It runs here rather
than as a ``urbis serve`` subprocess because its clock must run at the simulator's speed
(a :class:`AcceleratedClock`, handed to ``create_app``), and a server process has no such
setting; the runners' figures are read from the objects themselves.

Everything timed in the server is scaled to the speed, so one wall second is ``speed``
seconds of the city: the runners' interval (30 s → 3 s wall), their minimum gap and quiet
period, and the roll-up job's interval.  First the simulator provisions the city through
the NGSI-LD and device APIs and sends ``backfill_hours`` of history as fast as Urbis takes
it (the clock stands at the live start meanwhile); each solution then runs once (the warm-up,
reported apart: it seeds the lighting faults and reviews parking prices), roll-ups catch up,
and the live run starts: the simulator sends each second's window of the city and the
solutions evaluate on their own cadence.  Per solution the table gives the runs, their wall
durations against the budget (the interval in wall time), and the lag: how far the last
finished evaluation trails the simulated now (:meth:`SolutionRunner.lag_seconds`), sampled
four times a wall second.  A solution keeps up when no run failed, none took longer than
its budget, and the lag never exceeded two intervals (one wait plus one run).

**1,000 stations.**  A fresh database gets ``stations`` AirQualityObserved stations with
26 hours of hourly PM2.5, PM10, NO2 and O3 through the context service's bulk write (the
ingestion's sink), then the roll-up job runs.  ``AirQualityService.evaluate`` is timed as
the server wires it (roll-ups on) and over raw history; the raw baseline is one plain SQL
query reading the same hourly rows in this process.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import bindparam, text

from urbis.app import create_app
from urbis.bench.common import bench_database, free_port, median, percentiles, profile_call
from urbis.context.jsonld import URBIS_CONTEXT_URL
from urbis.context.rollup import SAFETY_LAG_US
from urbis.context.temporal import TemporalService
from urbis.core.auth.service import AccountService
from urbis.core.clock import FixedClock
from urbis.core.db import Database, migrate
from urbis.core.settings import Settings
from urbis.ingestion.messages import DeviceReadings, Measure
from urbis.sim.lighting import BurnCalendar
from urbis.sim.world import CityConfig
from urbis.solutions.air_quality.service import AirQualityService
from urbis.solutions.runtime import SolutionRunner

TENANT = "bench"
ADMIN = "bench-admin"
PASSWORD = "bench-password-123456"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
#: How often the lag is sampled, in wall seconds.
SAMPLE_EVERY = 0.25
#: Hours of hourly data per station in the 1,000-station part (the index needs the last 24).
STATION_HOURS = 26
#: The instant the 1,000-station part evaluates at (fixed, so every run reads the same data).
STATIONS_NOW = datetime(2026, 11, 24, 12, 10, tzinfo=UTC)
POLLUTANTS = ("pm25", "pm10", "no2", "o3")


# -- time ----------------------------------------------------------------------------------


class AcceleratedClock:
    """The simulated city's time: stands at ``start`` until anchored, then runs ``speed`` times the wall clock.

    After :meth:`anchor` at wall instant ``w0``, ``now() = start + speed · (wall − w0)``
    (and ``start`` before ``w0``), the mapping the simulator uses for its windows.
    """

    def __init__(self, start: datetime, speed: float, wall: Callable[[], float] = time.time) -> None:
        self.start = start.astimezone(UTC)
        self.speed = speed
        self.wall = wall
        self._anchor: float | None = None

    def anchor(self, wall_at: float) -> None:
        """Let simulated time run from ``start`` at wall instant ``wall_at`` (epoch seconds)."""
        self._anchor = wall_at

    def now(self) -> datetime:
        """The simulated present, timezone-aware UTC."""
        if self._anchor is None:
            return self.start
        return self.start + timedelta(seconds=self.speed * max(0.0, self.wall() - self._anchor))


def default_start(now: datetime, minutes: float, dimming: Any | None = None) -> datetime:
    """Half an hour before dusk on the latest day whose live run ends an hour before ``now``.

    Dusk is the busiest time of the lighting solution: every lamp switches on and reports.
    """
    calendar = BurnCalendar(dimming if dimming is not None else CityConfig().dimming)
    day: date = now.astimezone(calendar.timezone).date()
    while True:
        dusk = calendar.night(day)[0].start
        start = datetime.fromtimestamp(dusk - 1800, UTC)
        if start + timedelta(minutes=minutes) <= now - timedelta(hours=1):
            return start
        day -= timedelta(days=1)


def keeps_up(durations: list[float], lags: list[float], budget: float, interval: float, failures: int) -> bool:
    """Whether a solution kept up: no failure, no run over its wall ``budget``, the lag never over two intervals.

    A runner that waits at most one interval and finishes each run within one trails the
    present by at most two intervals; ``lags`` and ``interval`` are in simulated seconds.
    """
    return (
        failures == 0 and bool(durations) and max(durations) <= budget and max(lags, default=math.inf) <= 2 * interval
    )


# -- figures -------------------------------------------------------------------------------


@dataclass
class SolutionFigures:
    """One solution's live run on one backend."""

    backend: str
    name: str
    runs: int
    failures: int
    duration_p50: float  # wall seconds
    duration_p95: float
    duration_max: float
    budget: float  # the interval in wall seconds at this speed
    over_budget: int  # runs that took longer than the budget
    interval: float  # simulated seconds
    lag_p50: float  # simulated seconds
    lag_max: float
    warmup: float  # wall seconds of the first run, before the live run
    keeps_up: bool


@dataclass
class FeedFigures:
    """The city's measures into Urbis on one backend."""

    backend: str
    devices: int
    backfill_hours: float
    backfill_measures: int
    backfill_per_s: float
    live_seconds: float  # wall
    live_measures: int  # what the city produced in the live run
    needed_per_s: float
    live_stored: int  # measures Urbis accepted from the live start on
    stored_per_s: float  # accepted by Urbis, from the live start until the last was stored
    behind_s: float  # wall seconds after the live run's end until the last measure was stored
    rejected: int
    failed: int


@dataclass
class StationFigures:
    """The air-quality indices of many stations on one backend."""

    backend: str
    stations: int
    rows: int
    indices: int  # stations whose US AQI the first run wrote
    first_run: float
    evaluate: float  # median, roll-ups as the server reads them
    evaluate_raw: float  # median, raw history
    baseline: float  # median of the plain SQL read
    runs: int

    @property
    def ratio(self) -> float:
        """The evaluation's time over the plain read's."""
        return self.evaluate / self.baseline if self.baseline > 0 else math.inf


@dataclass
class CityPlan:
    """What the keeping-up part runs."""

    config: CityConfig = field(default_factory=CityConfig)
    speed: float = 10.0
    minutes: float = 60.0  # simulated minutes of the live run
    backfill_hours: float = 24.0
    start: datetime | None = None  # simulated start of the live run (default: see default_start)
    tick: float = 1.0  # wall seconds between the simulator's live windows


# -- the database ----------------------------------------------------------------------------


def _prepare(database_url: str) -> None:
    migrate(database_url)
    settings = Settings(database_url=database_url, environment="test", secret_key=SECRET)
    db = Database(database_url)
    try:
        AccountService(db, settings).create_user(ADMIN, PASSWORD, tenant=TENANT, roles=["admin"])
    finally:
        db.dispose()


def _settings(database_url: str, speed: float) -> Settings:
    """The server's settings with every interval scaled to the city's speed; the runners are started by hand."""
    base = Settings(
        database_url=database_url,
        environment="test",
        secret_key=SECRET,
        default_tenant=TENANT,
        log_level="warning",
        solutions_enabled=False,
    )
    return base.model_copy(
        update={
            "solutions_interval_seconds": base.solutions_interval_seconds / speed,
            "solutions_min_gap_seconds": base.solutions_min_gap_seconds / speed,
            "rollup_interval_seconds": base.rollup_interval_seconds / speed,
        }
    )


# -- the server in this process ----------------------------------------------------------


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread (its lifespan starts the background jobs); yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="bench-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


# -- the simulator process ---------------------------------------------------------------


def _simulator_process(conn: Connection, options: dict[str, Any]) -> None:
    """Entry point of the simulator's process: report ``("ready", ...)``, wait for the anchor, ``("done", ...)``."""
    try:
        asyncio.run(_drive_city(conn, **options))
    except BaseException:  # the parent must hear why, not wait for ever
        conn.send(("error", traceback.format_exc()))
        raise


async def _drive_city(
    conn: Connection,
    *,
    base: str,
    config: CityConfig,
    start: float,
    backfill_s: float,
    live_s: float,
    speed: float,
    tick: float,
) -> None:
    from urbis.sim.engine import CityEngine
    from urbis.sim.provision import TokenStore, UrbisClient, provision
    from urbis.sim.transport import HttpTransport
    from urbis.sim.world import build_city

    city = build_city(config)
    client = UrbisClient(base, TENANT)
    try:
        await client.wait_ready()
        await client.login(ADMIN, PASSWORD)
        store = TokenStore(None, base, TENANT)
        gateways = [device.id for device in city.gateways]
        await provision(client, city.entities(), city.device_bodies(), store, gateways)
    finally:
        await client.close()
    transport = HttpTransport(base, TENANT, store.tokens, mode="gateway", batch_size=5000, concurrency=4)
    engine = CityEngine(city, start - backfill_s)
    began = time.perf_counter()
    messages = engine.boot()
    backfill_measures = sum(len(m.measures) for m in messages)
    await transport.send(messages)
    while engine.time < start:
        messages = engine.step(min(start, engine.time + 900.0))
        backfill_measures += sum(len(m.measures) for m in messages)
        await transport.send(messages)
    await transport.flush()
    conn.send(
        (
            "ready",
            {
                "devices": sum(1 for _ in city.devices()),
                "backfill_measures": backfill_measures,
                "backfill_seconds": time.perf_counter() - began,
                "failed": transport.stats.failed,
            },
        )
    )
    anchor: float = await asyncio.to_thread(conn.recv)
    # The same mapping as the server's clock: simulated = start + speed · (wall − anchor).
    end = start + live_s
    live_measures = 0
    while True:
        target = min(end, start + speed * max(0.0, time.time() - anchor))
        if target > engine.time:
            messages = engine.step(target)
            live_measures += sum(len(m.measures) for m in messages)
            await transport.send(messages)
        if engine.time >= end:
            break
        await asyncio.sleep(tick)
    await transport.close()
    stats = transport.stats
    conn.send(
        (
            "done",
            {
                "live_measures": live_measures,
                "stored_at": time.time(),
                "rejected": stats.rejected,
                "failed": stats.failed,
                "errors": stats.errors,
            },
        )
    )


def _receive(conn: Connection, process: Any, timeout: float, expected: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not conn.poll(0.5):
        if not process.is_alive():
            raise RuntimeError(f"the simulator process ended (exit code {process.exitcode}) before {expected!r}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the simulator did not report {expected!r} within {timeout:.0f} s")
    kind, payload = conn.recv()
    if kind != expected:
        raise RuntimeError(f"the simulator failed:\n{payload}")
    result: dict[str, Any] = payload
    return result


# -- keeping up --------------------------------------------------------------------------


def _accepted(app: Any) -> float:
    value = app.state.metrics.registry.get_sample_value(
        "urbis_ingest_measures_total", {"transport": "http", "outcome": "accepted"}
    )
    return float(value or 0.0)


def bench_city(
    backend: str, database_url: str, plan: CityPlan, console: Console, *, profile: bool = False
) -> tuple[list[SolutionFigures], FeedFigures]:
    """The keeping-up part on one fresh, empty database."""
    _prepare(database_url)
    speed = plan.speed
    live_s = plan.minutes * 60.0
    start = plan.start or default_start(datetime.now(UTC), plan.minutes + 1)
    clock = AcceleratedClock(start, speed)
    settings = _settings(database_url, speed)
    app = create_app(settings, clock=clock)
    runners: list[SolutionRunner] = app.state.solution_runners
    durations: dict[str, list[float]] = {r.name: [] for r in runners}
    lags: dict[str, list[float]] = {r.name: [] for r in runners}
    warmup: dict[str, float] = {}
    context = multiprocessing.get_context("spawn")
    with _serve(app) as base:
        parent, child = context.Pipe()
        options = {
            "base": base,
            "config": plan.config,
            "start": start.timestamp(),
            "backfill_s": plan.backfill_hours * 3600.0,
            "live_s": live_s,
            "speed": speed,
            "tick": plan.tick,
        }
        process = context.Process(target=_simulator_process, args=(child, options), name="bench-city")
        process.start()
        try:
            with console.status(f"{backend}: provisioning the city and sending {plan.backfill_hours:g} h of history"):
                ready = _receive(parent, process, 3600, "ready")
            with console.status(f"{backend}: warm-up runs and roll-ups"):
                for runner in runners:
                    began = time.perf_counter()
                    runner.evaluate(clock.now())
                    warmup[runner.name] = time.perf_counter() - began
                # What a running server would have: roll-ups up to the present (the backfill's rows
                # and the warm-up's were recorded at the live start, where the clock stands).
                app.state.history_maintenance.run_once(int(start.timestamp() * 1_000_000) + SAFETY_LAG_US)
            originals = {runner.name: runner.evaluate for runner in runners}
            for runner in runners:
                runner.quiet /= speed  # the gathering of a burst of changes, in the city's time too
                runner.evaluate = _timed(runner.evaluate, durations[runner.name])
            accepted_before = _accepted(app)
            anchor = time.time() + 0.5
            clock.anchor(anchor)
            parent.send(anchor)
            for runner in runners:
                runner.start()
            end_wall = anchor + live_s / speed
            with console.status(f"{backend}: the city live at {speed:g}x for {plan.minutes:g} simulated minutes"):
                while time.time() < end_wall:
                    time.sleep(SAMPLE_EVERY)
                    for runner in runners:
                        lag = runner.lag_seconds()
                        if lag is not None:
                            lags[runner.name].append(lag)
                for runner in runners:
                    runner.stop()
                done = _receive(parent, process, 600, "done")
            accepted = _accepted(app) - accepted_before
            if profile:
                for runner in runners:
                    evaluate = originals[runner.name]
                    profile_call(
                        f"{backend}: {runner.name}.evaluate at the end of the live run",
                        lambda evaluate=evaluate: evaluate(clock.now()),  # type: ignore[misc]
                        console,
                        entries=15,
                    )
        finally:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
    solutions = []
    for runner in runners:
        taken = durations[runner.name]
        p50, p95 = percentiles(taken, 50, 95)
        lag_p50 = percentiles(lags[runner.name], 50)[0]
        solutions.append(
            SolutionFigures(
                backend=backend,
                name=runner.name,
                runs=len(taken),
                failures=runner.status.failures,
                duration_p50=p50,
                duration_p95=p95,
                duration_max=max(taken, default=math.nan),
                budget=runner.interval,
                over_budget=sum(1 for taken_s in taken if taken_s > runner.interval),
                interval=runner.interval * speed,
                lag_p50=lag_p50,
                lag_max=max(lags[runner.name], default=math.nan),
                warmup=warmup[runner.name],
                keeps_up=keeps_up(
                    taken, lags[runner.name], runner.interval, runner.interval * speed, runner.status.failures
                ),
            )
        )
    live_wall = live_s / speed
    feed = FeedFigures(
        backend=backend,
        devices=ready["devices"],
        backfill_hours=plan.backfill_hours,
        backfill_measures=ready["backfill_measures"],
        backfill_per_s=ready["backfill_measures"] / max(ready["backfill_seconds"], 1e-9),
        live_seconds=live_wall,
        live_measures=done["live_measures"],
        needed_per_s=done["live_measures"] / live_wall,
        live_stored=round(accepted),
        stored_per_s=accepted / max(done["stored_at"] - anchor, 1e-9),
        behind_s=max(0.0, done["stored_at"] - end_wall),
        rejected=done["rejected"],
        failed=done["failed"] + ready["failed"],
    )
    return solutions, feed


def _timed(evaluate: Callable[[datetime], object], into: list[float]) -> Callable[[datetime], object]:
    """``evaluate`` that appends each successful run's wall duration to ``into``."""

    def timed(now: datetime) -> object:
        began = time.perf_counter()
        result = evaluate(now)
        into.append(time.perf_counter() - began)
        return result

    return timed


# -- 1,000 stations ----------------------------------------------------------------------


def station_readings(stations: int, hours: int, end: datetime, seed: int = 7) -> list[DeviceReadings]:
    """``hours`` hourly means of each pollutant before ``end`` (an hour boundary) for ``stations`` stations.

    Traffic-like NO2 with rush hours, ozone falling where NO2 is high, PM with a daily swing;
    one station in fifteen is polluted enough (PM2.5 around 45 µg/m³) to raise an alert.
    Each value is stamped at the middle of its hour.
    """
    rng = random.Random(seed)
    out = []
    for n in range(stations):
        level = rng.uniform(0.5, 1.5) * (3.5 if n % 15 == 0 else 1.0)
        traffic = rng.uniform(0.6, 1.6)
        measures = []
        for back in range(hours, 0, -1):
            at = end - timedelta(hours=back) + timedelta(minutes=30)
            hour = (at.hour + 1) % 24  # local (CET) hour of day
            swing = 1 + 0.3 * math.sin(2 * math.pi * (hour - 14) / 24)
            rush = 1 + 0.6 * (math.exp(-(((hour - 8) / 1.5) ** 2)) + math.exp(-(((hour - 18) / 1.5) ** 2)))
            pm25 = max(0.5, 13.0 * level * swing + rng.gauss(0, 1.5))
            no2 = max(1.0, 22.0 * traffic * rush + rng.gauss(0, 3.0))
            values = {
                "pm25": pm25,
                "pm10": pm25 * 1.5 + 4.0 + rng.gauss(0, 2.0),
                "no2": no2,
                "o3": max(2.0, 75.0 - 0.6 * no2 + 12.0 * math.sin(2 * math.pi * (hour - 9) / 24) + rng.gauss(0, 4.0)),
            }
            us = int(at.timestamp() * 1_000_000)
            iso = at.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
            measures += [Measure(name, round(values[name], 1), iso, us, "GQ") for name in POLLUTANTS]
        seed_attrs = {
            "name": {"type": "Property", "value": f"Bench station {n}"},
            "areaServed": {"type": "Property", "value": f"District {n % 12 + 1}"},
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [7.0 + (n % 40) * 0.004, 50.65 + (n // 40) * 0.003]},
            },
        }
        out.append(
            DeviceReadings(
                TENANT,
                f"aq-{n}",
                f"urn:ngsi-ld:AirQualityObserved:bench-{n}",
                "AirQualityObserved",
                measures,
                seed_attrs,
            )
        )
    return out


def _plain_read(db: Database, attrs: list[str], start_us: int, end_us: int) -> int:
    """The raw baseline: every station's hourly rows of the window in one SQL query; how many."""
    sql = text(
        "SELECT s.entity_id, s.attr_iri, h.observed_at, h.value_num FROM history AS h "
        "JOIN history_series AS s ON s.series_id = h.series_id "
        "WHERE s.tenant = :tenant AND s.attr_iri IN :attrs AND h.observed_at >= :start AND h.observed_at < :end"
    ).bindparams(bindparam("attrs", expanding=True))
    with db.read() as conn:
        return len(conn.execute(sql, {"tenant": TENANT, "attrs": attrs, "start": start_us, "end": end_us}).all())


def bench_stations(
    backend: str, database_url: str, stations: int, runs: int, console: Console, *, profile: bool = False
) -> StationFigures:
    """The 1,000-station part on one fresh, empty database."""
    migrate(database_url)
    clock = FixedClock(STATIONS_NOW)
    settings = Settings(database_url=database_url, environment="test", secret_key=SECRET, default_tenant=TENANT)
    app = create_app(settings, clock=clock)  # the server's wiring; its background jobs are not started
    try:
        context = app.state.context
        end = STATIONS_NOW.replace(minute=0, second=0, microsecond=0)
        with console.status(f"{backend}: loading {stations:,} stations × {STATION_HOURS} h"):
            readings = station_readings(stations, STATION_HOURS, end)
            received = int(STATIONS_NOW.timestamp() * 1_000_000)
            rows = 0
            for offset in range(0, len(readings), 50):
                rows += context.record(readings[offset : offset + 50], received_us=received).stored
            # Roll-ups up to the present, as the server's job keeps them (the rows were recorded "now").
            rolled, _ = app.state.history_maintenance.run_once(received + SAFETY_LAG_US)
            if rolled.rows < rows:
                raise RuntimeError(f"the roll-up took {rolled.rows:,} of the {rows:,} rows written")
        service: AirQualityService = app.state.air_quality
        expand = app.state.contexts.resolve(URBIS_CONTEXT_URL).expand
        raw = AirQualityService(
            context,
            expand,
            TemporalService(app.state.db, context, instance_limit=settings.temporal_instance_limit, use_rollups=False),
            app.state.operations,
            clock=clock,
        )
        with console.status(f"{backend}: evaluating {stations:,} stations"):
            began = time.perf_counter()
            written = service.evaluate(STATIONS_NOW)  # the first run writes every index and raises the alerts
            first = time.perf_counter() - began
            timings, raw_timings, plain = [], [], []
            for _ in range(runs):
                began = time.perf_counter()
                service.evaluate(STATIONS_NOW)
                timings.append(time.perf_counter() - began)
            for _ in range(runs):
                began = time.perf_counter()
                raw.evaluate(STATIONS_NOW)
                raw_timings.append(time.perf_counter() - began)
            attrs = [expand(name) for name in POLLUTANTS]
            start_us = int((end - timedelta(hours=24)).timestamp() * 1_000_000)
            end_us = int(end.timestamp() * 1_000_000)
            for _ in range(runs):
                began = time.perf_counter()
                read = _plain_read(app.state.db, attrs, start_us, end_us)
                plain.append(time.perf_counter() - began)
            if read != stations * 24 * len(POLLUTANTS):
                raise RuntimeError(f"the plain read found {read:,} hourly rows, not {stations * 24 * 4:,}")
        if profile:
            profile_call(
                f"{backend}: AirQualityService.evaluate, {stations:,} stations",
                lambda: service.evaluate(STATIONS_NOW),
                console,
                entries=15,
            )
    finally:
        app.state.db.dispose()
    return StationFigures(
        backend=backend,
        stations=stations,
        rows=rows,
        indices=written,
        first_run=first,
        evaluate=median(timings),
        evaluate_raw=median(raw_timings),
        baseline=median(plain),
        runs=runs,
    )


# -- the command -------------------------------------------------------------------------


def run_solutions_bench(
    *,
    backends: list[str],
    postgres_admin_url: str,
    plan: CityPlan,
    stations: int,
    runs: int,
    console: Console,
    profile: bool = False,
) -> tuple[list[SolutionFigures], list[FeedFigures], list[StationFigures]]:
    """Run both parts on each backend (each on a fresh database) and print the tables."""
    solutions: list[SolutionFigures] = []
    feeds: list[FeedFigures] = []
    station_figures: list[StationFigures] = []
    for backend in backends:
        with bench_database(backend, postgres_admin_url) as url:
            found, feed = bench_city(backend, url, plan, console, profile=profile)
            solutions += found
            feeds.append(feed)
        if stations > 0:
            with bench_database(backend, postgres_admin_url) as url:
                station_figures.append(bench_stations(backend, url, stations, runs, console, profile=profile))
    _print_tables(plan, solutions, feeds, station_figures, console)
    return solutions, feeds, station_figures


def _print_tables(
    plan: CityPlan,
    solutions: list[SolutionFigures],
    feeds: list[FeedFigures],
    stations: list[StationFigures],
    console: Console,
) -> None:
    # The tables are wide: on a narrow terminal (or a pipe) print them at 150 columns anyway.
    wide = console if console.width >= 150 else Console(width=150, file=console.file, quiet=console.quiet)
    config = plan.config
    table = Table(
        title=(
            f"urbis bench solutions: the simulated city ({config.lights:,} lights, {config.stations:,} stations, "
            f"{config.bays:,} bays, {config.garages:,} garages) at {plan.speed:g}x for {plan.minutes:g} simulated min"
        )
    )
    for column in (
        "backend",
        "solution",
        "runs",
        "run p50 / p95 / max s (wall)",
        "budget s (wall)",
        "p95 ÷ budget",
        "runs over budget",
        "lag p50 / max s (simulated)",
        "warm-up run s",
        "keeps up",
    ):
        table.add_column(column, justify="right")
    for s in solutions:
        table.add_row(
            s.backend,
            s.name,
            f"{s.runs}" + (f" ({s.failures} failed)" if s.failures else ""),
            f"{s.duration_p50:.3f} / {s.duration_p95:.3f} / {s.duration_max:.3f}",
            f"{s.budget:g}",
            f"{s.duration_p95 / s.budget:.2f}",
            f"{s.over_budget}",
            f"{s.lag_p50:.1f} / {s.lag_max:.1f}",
            f"{s.warmup:.2f}",
            "yes" if s.keeps_up else "NO",
        )
    table.caption = (
        "budget: the runners' interval in wall time at this speed; keeps up: no failure, no run over the budget, "
        "lag never over two intervals; warm-up: each solution's first run after the backfill, not in the live figures"
    )
    wide.print(table)
    feed_table = Table(title="the city's measures into Urbis (HTTP gateway batches, simulator in its own process)")
    for column in (
        "backend",
        "devices",
        "backfill measures/s (as fast as taken)",
        f"live: city needs measures/s at {plan.speed:g}x",
        "live: stored measures/s",
        "stored ÷ needed",
        "backfill ÷ needed",
        "last stored after the end s",
        "rejected / failed",
    ):
        feed_table.add_column(column, justify="right")
    for f in feeds:
        feed_table.add_row(
            f.backend,
            f"{f.devices:,}",
            f"{f.backfill_per_s:,.0f} ({f.backfill_measures:,} in {f.backfill_hours:g} h)",
            f"{f.needed_per_s:,.0f}",
            f"{f.stored_per_s:,.0f}",
            f"{f.stored_per_s / f.needed_per_s:.2f}" if f.needed_per_s else "-",
            f"{f.backfill_per_s / f.needed_per_s:.0f}" if f.needed_per_s else "-",
            f"{f.behind_s:.1f}",
            f"{f.rejected:,} / {f.failed:,}",
        )
    wide.print(feed_table)
    if not stations:
        return
    aq_table = Table(title=f"urbis bench solutions: AirQualityService.evaluate over {stations[0].stations:,} stations")
    for column in (
        "backend",
        "stations",
        "hourly rows",
        "indices written (first run)",
        "first run s",
        "evaluate s (median)",
        "evaluate, raw history s",
        "plain SQL read s",
        "evaluate ÷ plain read",
        "under 1 s",
    ):
        aq_table.add_column(column, justify="right")
    for a in stations:
        aq_table.add_row(
            a.backend,
            f"{a.stations:,}",
            f"{a.rows:,}",
            f"{a.indices:,}",
            f"{a.first_run:.3f}",
            f"{a.evaluate:.3f}",
            f"{a.evaluate_raw:.3f}",
            f"{a.baseline:.3f}",
            f"{a.ratio:.1f}",
            "yes" if a.evaluate < 1.0 else "NO",
        )
    aq_table.caption = (
        f"{STATION_HOURS} h of hourly PM2.5, PM10, NO2, O3 per station; evaluate: US AQI (NowCast) and EAQI per "
        f"station, changed indices written back, alerts; median of {stations[0].runs} runs after the first (which "
        "writes every index and raises the alerts); plain read: the same 24 hourly rows of every station in one "
        "SQL query"
    )
    wide.print(aq_table)
