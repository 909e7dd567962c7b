"""``urbis bench dashboard``: server time of the city overview and its KPI fragments at city scale.

**The city.**  A fresh database gets the simulator's city (:func:`~urbis.sim.world.build_city`:
by default 5,000 street lights in groups of 50 behind their cabinets, 50 air-quality stations,
3,000 bays in zones of 50, 10 garages) and ``days`` of history written in big batches through
the context service's ``record`` (the ingestion sink, as ``urbis bench solutions`` loads its
stations): every lamp's energy counter and dim level each ``lamp_step`` minutes (the counter
integrates the simulator's burn calendar exactly), every cabinet's meter (the sum of its
lamps), every station's hourly PM2.5, PM10, NO2, O3 (and the humidity a low-cost node's
PM2.5 correction needs), every zone's occupancy and every garage's counts hourly, and the
current state of every bay.  Then what a running server would have done: the air-quality
solution evaluates once (indices written, alerts raised), lamp failures and a cabinet's
supply loss are reported as alarms (``OperationsService.report``), the roll-up job runs once
(``HistoryMaintenance``), and the dashboard records snapshots a month, a week and a day before
the measured instant, so every trend is computed.  The clock stands still at :data:`NOW`.

**The measurement.**  The application of ``urbis serve`` (``create_app``, solutions and
background jobs off) answers in this process over httpx's ASGI transport, so a request's
wall time is the server's time (routing, the login cookie, the figures, the template)
without a socket.  A viewer logs in once (``POST /login``) and the cookie is reused.  For
the page, its JSON twin and each fragment: one untimed priming request (imports and template
compilation are the process's cost, not the dashboard's), then ``cold_requests`` timed
requests each after :meth:`DashboardService.forget` (nothing the dashboard keeps survives:
the completed days of the month's energy and of the year's WHO figure are read again), then
``requests`` warm ones.  The dashboard under test is built with ``share_seconds=0``: the
one-second sharing between browsers is off, so every warm request computes its figures (only
what the service keeps on purpose, the completed days, is reused).  Before timing, the garbage
collector is settled as ``urbis serve`` settles it once started.  The raw baseline is measured
in the same process: the plain SQL reads the figures need (the count of lamps, every bay's
current document, the 24 hourly rows of every station).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import bindparam, text

from urbis.app import create_app
from urbis.bench.common import bench_database, median, percentiles, profile_call
from urbis.bench.solutions import POLLUTANTS, station_readings
from urbis.context.jsonld import URBIS_CONTEXT_URL
from urbis.context.rollup import SAFETY_LAG_US
from urbis.core.clock import FixedClock
from urbis.core.db import Database, migrate
from urbis.core.runtime import settle_garbage_collector
from urbis.core.settings import Settings
from urbis.dashboard.overview import FRAGMENTS
from urbis.dashboard.service import DashboardService
from urbis.ingestion.messages import DeviceReadings, Measure
from urbis.operations.model import AlarmReport, Severity
from urbis.sim.lighting import BurnCalendar, dim_percent, lamp_power
from urbis.sim.world import City, CityConfig, build_city

TENANT = "bench"
VIEWER = "bench-mayor"
PASSWORD = "bench-password-123456"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
#: The measured instant: 13:10 in Bonn on a Tuesday (lamps off, the month three weeks old).
NOW = datetime(2026, 11, 24, 12, 10, tzinfo=UTC)
#: The issue's target: p95 of the server time of the page and of each fragment.
TARGET_P95_S = 0.200
#: Readings written per ``record`` call (one transaction each).
BATCH_MEASURES = 150_000
#: One lamp in this many has an open lamp-failure alarm.
FAILED_LAMP_EVERY = 97


@dataclass(frozen=True)
class DashboardScale:
    """How big the benchmark's city is."""

    lights: int = 5000
    stations: int = 50
    bays: int = 3000
    days: int = 30
    lamp_step_minutes: int = 60  # minutes between a lamp's history rows (energy counter and level)
    garages: int = 10

    def config(self) -> CityConfig:
        """The simulator's city of this size."""
        return CityConfig(lights=self.lights, stations=self.stations, bays=self.bays, garages=self.garages)


@dataclass
class Volumes:
    """What the benchmark wrote into one database, and how long it took."""

    entities: int = 0
    lamp_rows: int = 0  # lamps and cabinets
    station_rows: int = 0
    parking_rows: int = 0  # zones, garages, bays
    alarms: int = 0
    snapshots: int = 0
    rolled_rows: int = 0
    generation_s: float = 0.0  # the whole load: entities, history, roll-up, alarms, indices, snapshots
    rollup_s: float = 0.0

    @property
    def history_rows(self) -> int:
        """Every history row written."""
        return self.lamp_rows + self.station_rows + self.parking_rows


@dataclass
class TargetFigures:
    """Server times of one URL on one backend (seconds)."""

    backend: str
    name: str
    path: str
    cold: list[float]
    warm: list[float]

    def stats(self, samples: list[float]) -> tuple[float, float, float]:
        """p50, p95 and max of ``samples``."""
        p50, p95 = percentiles(samples, 50, 95)
        return p50, p95, max(samples, default=math.nan)

    @property
    def meets_target(self) -> bool:
        """Whether the warm p95 is within the issue's target."""
        return bool(self.warm) and self.stats(self.warm)[1] <= TARGET_P95_S


@dataclass
class BackendFigures:
    """One backend's run."""

    backend: str
    scale: DashboardScale
    volumes: Volumes
    targets: list[TargetFigures]
    baseline: float  # median of the plain SQL reads, seconds
    baseline_parts: dict[str, float] = field(default_factory=dict)
    figures: dict[str, float | None] = field(default_factory=dict)  # the page's figures (sanity)
    gc_settled: bool = True


def targets() -> list[tuple[str, str]]:
    """The measured URLs: the page, its JSON twin and each fragment, as ``(name, path)``."""
    return [
        ("page", "/dashboard"),
        ("json", "/dashboard.json"),
        *((f"fragment {name}", f"/dashboard/fragments/{name}") for name in FRAGMENTS),
    ]


# -- the city's data ---------------------------------------------------------------------------


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _slots(end: datetime, days: int, step_minutes: int) -> list[tuple[datetime, str, int]]:
    """The instants from ``end - days`` to ``end`` (both included) every ``step_minutes``, as (at, ISO, µs)."""
    step = timedelta(minutes=step_minutes)
    count = days * 24 * 60 // step_minutes
    out = []
    for n in range(count, -1, -1):
        at = end - n * step
        out.append((at, _iso(at), int(at.timestamp()) * 1_000_000))
    return out


def _record(app: Any, batch: list[DeviceReadings]) -> int:
    if not batch:
        return 0
    result = app.state.context.record(batch, received_us=int(NOW.timestamp()) * 1_000_000)
    if result.rejected:
        raise RuntimeError(f"the context service rejected readings: {result.rejected[0].reason}")
    stored: int = result.stored
    return stored


def _batches(app: Any, readings: Iterable[DeviceReadings]) -> int:
    """Record ``readings`` in batches of about :data:`BATCH_MEASURES` measures; how many rows were stored."""
    stored, batch, size = 0, [], 0
    for item in readings:
        batch.append(item)
        size += len(item.measures)
        if size >= BATCH_MEASURES:
            stored += _record(app, batch)
            batch, size = [], 0
    return stored + _record(app, batch)


def lamp_history(
    city: City, slots: list[tuple[datetime, str, int]], cabinet_kwh: list[list[float]]
) -> Iterator[DeviceReadings]:
    """Each lamp's energy counter (kWh) and dim level at every slot; adds each lamp's counter to its cabinet's.

    The counter integrates the simulator's burn calendar over each step, as the simulated
    controllers do; the last slot also carries the lamp's power state, power and status.
    ``cabinet_kwh`` (one list of len(slots) per cabinet) receives the sum of its lamps' counters.
    Lamps are yielded one at a time: the whole city's history does not fit in memory at once.
    """
    calendar = BurnCalendar(city.config.dimming)
    instants = [at.timestamp() for at, _, _ in slots]
    rng = random.Random(11)
    for light in city.lights:
        spec = light.spec
        shift = spec.switch_offset
        kwh = rng.uniform(500.0, 3000.0)  # a counter that has run for years
        integral = [calendar.burn_integral(t - shift) for t in instants]
        cabinet = cabinet_kwh[light.cabinet_index]
        measures: list[Measure] = []
        for n, (_, iso, us) in enumerate(slots):
            if n:
                burn = spec.nominal_w * (integral[n] - integral[n - 1])
                kwh += (spec.standby_w * (instants[n] - instants[n - 1]) + burn) * spec.meter_factor / 3.6e6
            level = calendar.level_at(instants[n] - shift)
            measures.append(Measure("energyConsumed", round(kwh, 3), iso, us, "KWH"))
            measures.append(Measure("illuminanceLevel", dim_percent(level) / 100, iso, us, "C62"))
            cabinet[n] += kwh
        _, iso, us = slots[-1]
        level = calendar.level_at(instants[-1] - shift)
        measures += [
            Measure("powerState", "on" if level > 0 else "off", iso, us),
            Measure("powerConsumption", round(lamp_power(spec, level), 1), iso, us, "WTT"),
            Measure("status", "ok", iso, us),
        ]
        yield DeviceReadings(TENANT, light.device.id, light.device.entity_id or "", "Streetlight", measures)


def cabinet_history(
    city: City, slots: list[tuple[datetime, str, int]], counters: list[list[float]]
) -> list[DeviceReadings]:
    """Each cabinet's meter: the sum of its lamps' counters, and its supply on."""
    out = []
    for cabinet, kwh in zip(city.cabinets, counters, strict=True):
        measures = [
            Measure("energyConsumed", round(value, 3), iso, us, "KWH")
            for value, (_, iso, us) in zip(kwh, slots, strict=True)
        ]
        _, iso, us = slots[-1]
        measures.append(Measure("powerState", "on", iso, us))
        device = cabinet.device
        out.append(DeviceReadings(TENANT, device.id, device.entity_id or "", "StreetlightControlCabinet", measures))
    return out


def air_history(city: City, hours: int, end: datetime) -> list[DeviceReadings]:
    """Hourly PM2.5, PM10, NO2, O3 of every station (as ``urbis bench solutions`` writes them), humidity too."""
    out = []
    rng = random.Random(5)
    for station, readings in zip(city.stations, station_readings(len(city.stations), hours, end), strict=True):
        measures = list(readings.measures)
        if station.spec.grade != "reference":
            instants = sorted({(m.observed_at, m.observed_us) for m in readings.measures}, key=lambda pair: pair[1])
            measures += [
                Measure("relativeHumidity", round(rng.uniform(0.45, 0.85), 2), iso, us) for iso, us in instants
            ]
        device = station.device
        out.append(replace(readings, device_id=device.id, entity_id=device.entity_id or "", measures=measures, seed={}))
    return out


def _occupancy_at(at: datetime, phase: float) -> float:
    """A zone's share of taken bays at ``at``: busy by day (peaks at 11:00 and 17:00 local), quiet at night."""
    hour = (at.hour + 1 + at.minute / 60) % 24  # local (CET) hour of day
    day = math.exp(-(((hour - 11) / 3.0) ** 2)) + 0.8 * math.exp(-(((hour - 17) / 2.5) ** 2))
    return max(0.02, min(0.98, 0.15 + 0.6 * day + 0.15 * math.sin(phase)))


def parking_history(city: City, slots: list[tuple[datetime, str, int]]) -> list[DeviceReadings]:
    """Every zone's occupancy and every garage's counts hourly; every bay's current status."""
    rng = random.Random(3)
    out = []
    now_share: dict[str, float] = {}
    for n, zone in enumerate(city.zones):
        size = len(zone.bay_ids)
        measures = []
        for at, iso, us in slots:
            share = _occupancy_at(at, n)
            taken = round(share * size)
            measures += [
                Measure("occupancy", round(taken / size, 4) if size else 0.0, iso, us, "C62"),
                Measure("occupiedSpotNumber", taken, iso, us, "C62"),
            ]
        now_share[zone.id] = _occupancy_at(NOW, n)
        out.append(DeviceReadings(TENANT, zone.id, zone.id, "OnStreetParking", measures))
    for n, garage in enumerate(city.garages):
        measures = []
        for at, iso, us in slots:
            taken = round(_occupancy_at(at, 10 + n) * garage.capacity)
            measures += [
                Measure("occupiedSpotNumber", taken, iso, us, "C62"),
                Measure("availableSpotNumber", garage.capacity - taken, iso, us, "C62"),
            ]
        device = garage.device
        out.append(DeviceReadings(TENANT, device.id, device.entity_id or "", "OffStreetParking", measures))
    for bay in city.bays:
        seen = NOW - timedelta(minutes=rng.uniform(1, 55))
        status = "occupied" if rng.random() < now_share.get(bay.zone_id, 0.5) else "free"
        measure = Measure("status", status, _iso(seen), int(seen.timestamp() * 1_000_000))
        device = bay.device
        out.append(DeviceReadings(TENANT, device.id, device.entity_id or "", "ParkingSpot", [measure]))
    return out


def _alarms(app: Any, city: City) -> None:
    """Lamp failures on one lamp in :data:`FAILED_LAMP_EVERY` and one cabinet without supply, as the rules raise them."""
    operations = app.state.operations
    for light in city.lights[::FAILED_LAMP_EVERY]:
        at = NOW - timedelta(hours=2 + light.index % 48)
        operations.report(
            AlarmReport(TENANT, "lighting", "lampFailure", light.device.entity_id or "", Severity.HIGH, "Lamp dark", at)
        )
    if city.cabinets:
        operations.report(
            AlarmReport(
                TENANT,
                "lighting",
                "supplyLoss",
                city.cabinets[-1].device.entity_id or "",
                Severity.CRITICAL,
                "No mains at the cabinet",
                NOW - timedelta(hours=5),
            )
        )


def load_city(app: Any, scale: DashboardScale, console: Console, backend: str) -> Volumes:
    """Write the benchmark's city into the app's (migrated, empty) database; what was written."""
    volumes = Volumes()
    began = time.perf_counter()
    city = build_city(scale.config())
    context = app.state.context
    with console.status(
        f"{backend}: the city's {scale.lights:,} lights, {scale.stations} stations, {scale.bays:,} bays"
    ):
        documents = city.entities()
        for offset in range(0, len(documents), 1000):
            result = context.upsert_documents(TENANT, documents[offset : offset + 1000])
            if result.errors:
                raise RuntimeError(f"the city's entities were refused: {result.errors[:3]}")
        volumes.entities = len(documents)
    end = NOW.replace(minute=0, second=0, microsecond=0)
    with console.status(
        f"{backend}: {scale.days} days of lamp and cabinet history every {scale.lamp_step_minutes} min"
    ):
        lamp_slots = _slots(end, scale.days, scale.lamp_step_minutes)
        counters = [[0.0] * len(lamp_slots) for _ in city.cabinets]
        volumes.lamp_rows = _batches(app, lamp_history(city, lamp_slots, counters))
        volumes.lamp_rows += _batches(app, cabinet_history(city, lamp_slots, counters))
    with console.status(f"{backend}: {scale.days} days of station, zone and garage history hourly"):
        volumes.station_rows = _batches(app, air_history(city, scale.days * 24, end))
        volumes.parking_rows = _batches(app, parking_history(city, _slots(end, scale.days, 60)))
    with console.status(f"{backend}: roll-ups, alarms, indices and snapshots"):
        rolling = time.perf_counter()
        rolled, _ = app.state.history_maintenance.run_once(int(NOW.timestamp()) * 1_000_000 + SAFETY_LAG_US)
        volumes.rollup_s = time.perf_counter() - rolling
        volumes.rolled_rows = rolled.rows
        _alarms(app, city)
        app.state.air_quality.evaluate(NOW)  # indices written, alerts raised, as the runner would
        volumes.alarms = sum(sum(by.values()) for by in app.state.operations.summary(TENANT).values())
        dashboard: DashboardService = app.state.dashboard
        for back in (timedelta(days=30), timedelta(days=7), timedelta(days=1)):
            if dashboard.record_snapshot(TENANT, NOW - back) is not None:
                volumes.snapshots += 1
    volumes.generation_s = time.perf_counter() - began
    return volumes


# -- the raw baseline ------------------------------------------------------------------------


def plain_reads(db: Database, expand: Callable[[str], str]) -> dict[str, Callable[[], int]]:
    """The plain SQL reads the figures need, each returning how many rows it read."""
    end_us = int(NOW.replace(minute=0, second=0, microsecond=0).timestamp()) * 1_000_000
    start_us = end_us - 24 * 3600 * 1_000_000
    lamps = text("SELECT count(*) FROM entity_types WHERE tenant = :tenant AND type_iri = :type")
    bays = text(
        "SELECT e.doc FROM entities AS e JOIN entity_types AS t ON t.tenant = e.tenant AND t.entity_id = e.entity_id "
        "WHERE t.tenant = :tenant AND t.type_iri = :type"
    )
    hours = text(
        "SELECT s.entity_id, s.attr_iri, h.observed_at, h.value_num FROM history AS h "
        "JOIN history_series AS s ON s.series_id = h.series_id "
        "WHERE s.tenant = :tenant AND s.attr_iri IN :attrs AND h.observed_at >= :start AND h.observed_at < :end"
    ).bindparams(bindparam("attrs", expanding=True))

    def count_lamps() -> int:
        with db.read() as conn:
            return int(conn.execute(lamps, {"tenant": TENANT, "type": expand("Streetlight")}).scalar_one())

    def bay_states() -> int:
        with db.read() as conn:
            return len(conn.execute(bays, {"tenant": TENANT, "type": expand("ParkingSpot")}).all())

    def station_hours() -> int:
        attrs = [expand(name) for name in POLLUTANTS]
        with db.read() as conn:
            found = conn.execute(hours, {"tenant": TENANT, "attrs": attrs, "start": start_us, "end": end_us})
            return len(found.all())

    return {"lamps counted": count_lamps, "bay documents": bay_states, "24 h of station hours": station_hours}


# -- the measurement -------------------------------------------------------------------------


def bench_settings(database_url: str) -> Settings:
    """The server's settings for the benchmark: the bench city as the default tenant, no background work."""
    return Settings(
        database_url=database_url,
        environment="test",
        secret_key=SECRET,
        default_tenant=TENANT,
        log_level="warning",
        solutions_enabled=False,
    )


def _dashboard_without_sharing(app: Any) -> DashboardService:
    """The app's dashboard rebuilt with the one-second sharing off (the same services and clock)."""
    current: DashboardService = app.state.dashboard
    return DashboardService(
        current.db,
        current.context,
        air_quality=current.air_quality,
        lighting=current.lighting,
        parking=current.parking,
        operations=current.operations,
        timezone=str(current.tz),
        clock=current.clock,
        share_seconds=0.0,
    )


async def _measure(app: Any, requests: int, cold_requests: int, backend: str) -> list[TargetFigures]:
    dashboard: DashboardService = app.state.dashboard
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench.local") as client:
        login = await client.post("/login", data={"username": VIEWER, "password": PASSWORD, "next": "/dashboard"})
        if login.status_code != 303:
            raise RuntimeError(f"the viewer could not log in: {login.status_code}")

        async def timed(path: str) -> float:
            began = time.perf_counter()
            response = await client.get(path)
            taken = time.perf_counter() - began
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
            return taken

        out = []
        for name, path in targets():
            await timed(path)  # priming: the process's first render of this template, untimed
            cold = []
            for _ in range(cold_requests):
                dashboard.forget()
                cold.append(await timed(path))
            warm = [await timed(path) for _ in range(requests)]
            out.append(TargetFigures(backend, name, path, cold, warm))
        return out


def bench_backend(
    backend: str,
    database_url: str,
    scale: DashboardScale,
    requests: int,
    cold_requests: int,
    console: Console,
    *,
    profile: bool = False,
    settle_gc: bool = True,
) -> BackendFigures:
    """Load the city into one fresh database and time the overview's URLs.

    ``settle_gc``: settle the garbage collector before timing, as ``urbis serve`` does once
    started (off in tests: frozen objects stay for the whole process).
    """
    migrate(database_url)
    settings = bench_settings(database_url)
    app = create_app(settings, clock=FixedClock(NOW))  # the server's wiring; its background jobs are not started
    try:
        app.state.accounts.create_user(VIEWER, PASSWORD, tenant=TENANT, roles=["viewer"])
        volumes = load_city(app, scale, console, backend)
        dashboard = _dashboard_without_sharing(app)
        app.state.dashboard = dashboard
        if settle_gc:
            settle_garbage_collector()  # what a server does once started: the loaded city is out of its way
        with console.status(f"{backend}: timing the overview ({requests} warm requests per URL)"):
            measured = asyncio.run(_measure(app, requests, cold_requests, backend))
            expand = app.state.contexts.resolve(URBIS_CONTEXT_URL).expand
            parts: dict[str, float] = {}
            for label, read in plain_reads(app.state.db, expand).items():
                read()  # priming, as for the pages
                samples = []
                for _ in range(max(requests, 5)):
                    began = time.perf_counter()
                    read()
                    samples.append(time.perf_counter() - began)
                parts[label] = median(samples)
        figures = dashboard.compute(TENANT, NOW).figures()
        if profile:
            for label, keys in (("page", None), *((name, set(keys)) for name, keys in FRAGMENTS.items())):
                dashboard.forget()
                figures_of = partial(dashboard.compute, TENANT, NOW, keys)
                profile_call(f"{backend}: cold {label}", figures_of, console, entries=25)
                profile_call(f"{backend}: warm {label}", figures_of, console, entries=25)
    finally:
        app.state.db.dispose()
    return BackendFigures(backend, scale, volumes, measured, sum(parts.values()), parts, figures, settle_gc)


# -- the command -------------------------------------------------------------------------------


def run_dashboard_bench(
    *,
    backends: list[str],
    postgres_admin_url: str,
    scale: DashboardScale,
    requests: int,
    cold_requests: int,
    console: Console,
    profile: bool = False,
    settle_gc: bool = True,
) -> list[BackendFigures]:
    """Run the benchmark on each backend (each on a fresh database) and print the tables."""
    results = []
    for backend in backends:
        with bench_database(backend, postgres_admin_url) as url:
            results.append(
                bench_backend(
                    backend, url, scale, requests, cold_requests, console, profile=profile, settle_gc=settle_gc
                )
            )
    print_tables(results, console)
    return results


def print_tables(results: list[BackendFigures], console: Console) -> None:
    """The server times per URL and backend, and the data each backend held."""
    if not results:
        return
    wide = console if console.width >= 150 else Console(width=150, file=console.file, quiet=console.quiet)
    scale = results[0].scale
    table = Table(
        title=(
            f"urbis bench dashboard: server time of the overview ({scale.lights:,} lights, {scale.stations} stations, "
            f"{scale.bays:,} bays, {scale.days} days of history), target p95 ≤ {TARGET_P95_S * 1000:.0f} ms"
        )
    )
    for column in (
        "backend",
        "URL",
        "cold p50 / p95 / max ms",
        "warm p50 / p95 / max ms",
        "warm p50 ÷ plain reads",
        "meets target",
    ):
        table.add_column(column, justify="right")
    for result in results:
        for t in result.targets:
            cold, warm = t.stats(t.cold), t.stats(t.warm)
            table.add_row(
                result.backend,
                f"{t.name} ({t.path})",
                " / ".join(f"{value * 1000:.0f}" for value in cold),
                " / ".join(f"{value * 1000:.0f}" for value in warm),
                f"{warm[0] / result.baseline:.1f}" if result.baseline > 0 else "-",
                "yes" if t.meets_target else "NO",
            )
        parts = ", ".join(f"{label} {value * 1000:.1f}" for label, value in result.baseline_parts.items())
        table.add_row(
            result.backend, "plain SQL reads (baseline)", "", f"{result.baseline * 1000:.1f} ({parts})", "1.0", ""
        )
    cold_n = len(results[0].targets[0].cold) if results[0].targets else 0
    warm_n = len(results[0].targets[0].warm) if results[0].targets else 0
    table.caption = (
        "in-process over httpx's ASGI transport, logged in as a viewer"
        + (", garbage collector settled as by urbis serve" if results[0].gc_settled else "")
        + f"; cold: {cold_n} requests each after the dashboard forgot everything it keeps (the completed days of the "
        "month's energy and of the year's WHO days); warm: "
        f"{warm_n} requests with the one-second sharing between browsers OFF (share_seconds=0), so every request "
        "computes its figures; plain reads: count of lamps + every bay's document + 24 h of station hours, in SQL"
    )
    wide.print(table)
    data = Table(title="urbis bench dashboard: the data behind the figures")
    for column in (
        "backend",
        "entities",
        "history rows: lamps+cabinets / stations / parking",
        "rolled up",
        "active alarms",
        "snapshots",
        "generation s (roll-up s)",
    ):
        data.add_column(column, justify="right")
    for result in results:
        v = result.volumes
        data.add_row(
            result.backend,
            f"{v.entities:,}",
            f"{v.lamp_rows:,} / {v.station_rows:,} / {v.parking_rows:,}",
            f"{v.rolled_rows:,}",
            f"{v.alarms:,}",
            f"{v.snapshots}",
            f"{v.generation_s:.1f} ({v.rollup_s:.1f})",
        )
    data.caption = (
        f"lamps and cabinets every {scale.lamp_step_minutes} min (energy counter, dim level), stations hourly "
        "(PM2.5, PM10, NO2, O3; humidity on low-cost nodes), zones and garages hourly, every bay's current state"
    )
    wide.print(data)
