"""The dashboard service: gathers the solutions' answers into the overview, and keeps snapshots.

Every figure is read fresh except two that cost a long read and only grow by whole days: the
energy saved this month and the days above the WHO guideline this year.  For those the
completed days are kept per tenant (:class:`CompletedDays`) and only the day in progress is
read with each request; when the date moves on, the day just completed is read once and added.

Completed days are immutable once over, except for a late report (a gateway replaying its
buffer).  Hence: **yesterday** is read again every ``days_reuse_seconds`` (an hour by default),
and on every request until :data:`SETTLE` after midnight (the readings around midnight are
still arriving), so a late report for yesterday shows within the hour; **older days** are kept
for good once read: a report arriving more than a day late shows after a restart, at the next
month (year) or after :meth:`DashboardService.forget`.  Several browsers refreshing the same
fragment within ``share_seconds`` share one computation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from urbis.citizens.service import ReportService
from urbis.context.service import ContextService, EntityChanged
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.dashboard import store
from urbis.dashboard.overview import FRAGMENTS, CityOverview, OverviewInputs, WhoFigure, build_overview
from urbis.operations.service import OperationsService
from urbis.solutions.air_quality.const import Pollutant
from urbis.solutions.air_quality.service import AirQualityService, AreaAirQuality, WhoReport
from urbis.solutions.lighting.energy import EnergyFigure, energy_savings
from urbis.solutions.lighting.service import LightingService
from urbis.solutions.lighting.views import CITY_NODE, EnergyNode, LampState
from urbis.solutions.parking.service import ParkingService
from urbis.solutions.parking.views import ParkingOverview

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long browsers share one computation of a fragment.
SHARE_SECONDS = 1.0
#: How long yesterday's figures (energy, WHO days) are kept before they are read again: the longest
#: a late report for yesterday waits to show.  Older days are kept for good (see the module).
DAYS_REUSE_SECONDS = 3600.0
#: How long after midnight the day before still counts as in progress: the energy counters'
#: readings just after midnight and the last hour's air-quality means are still arriving.
SETTLE = timedelta(hours=1)
#: How long (by the city's clock) today's energy from the background refresh serves requests (the refresh runs
#: at least every minute).
FRESH_SECONDS = 120.0
#: How far from exactly a day (a month) before a snapshot may lie and still count as "yesterday" ("last month").
YESTERDAY_TOLERANCE = timedelta(hours=2)
LAST_MONTH_TOLERANCE = timedelta(days=1)
#: Snapshots older than this are forgotten.
SNAPSHOT_RETENTION = timedelta(days=400)
#: The window of the citizen reports' median resolution time.
REPORT_WINDOW_DAYS = 30


@dataclass(frozen=True)
class _Kept(Generic[T]):
    """A figure summed over the completed days ``first`` .. ``end`` (excluded)."""

    first: date
    end: date
    value: T
    since: float  # monotonic instant it was read
    settled: bool  # read after its last day had settled (a day still settling is read again)


class CompletedDays(Generic[T]):
    """A figure over the completed days of a period, kept per tenant: the days before yesterday for good, yesterday a while.

    ``read(tenant, first, end, at)`` reads the figure over the days ``first`` .. ``end``
    (excluded) at ``at``, in one call whatever the number of days; ``add`` sums two
    consecutive spans.  Only requests that move forward in time are kept: a figure asked for
    an earlier instant (a snapshot of the past) is read and not kept.
    """

    def __init__(
        self,
        read: Callable[[str, date, date, datetime], T],
        add: Callable[[T, T], T],
        midnight: Callable[[date], datetime],
        reuse_seconds: Callable[[], float],
    ) -> None:
        """``midnight(day)``: the day's start in the city; ``reuse_seconds()``: how long yesterday is kept."""
        self.read = read
        self.add = add
        self.midnight = midnight
        self.reuse_seconds = reuse_seconds
        self._lock = threading.Lock()
        self._older: dict[str, _Kept[T]] = {}
        self._yesterday: dict[str, _Kept[T]] = {}
        self._filling: dict[str, threading.Lock] = {}

    def forget(self) -> None:
        """Drop every kept figure."""
        with self._lock:
            self._older.clear()
            self._yesterday.clear()

    def total(self, tenant: str, first: date, today: date, at: datetime) -> T | None:
        """The figure over ``first`` .. ``today`` (excluded); None when no day of the period has been completed."""
        if today <= first:
            return None
        yesterday = today - timedelta(days=1)
        with self._lock:
            lock = self._filling.setdefault(tenant, threading.Lock())
        # One request reads a tenant's missing days while the others wait for its answer.
        with lock:
            older = self._older_days(tenant, first, yesterday, at) if yesterday > first else None
            last = self._last_day(tenant, yesterday, today, at)
        return last.value if older is None else self.add(older.value, last.value)

    def _current(self, kept: _Kept[T]) -> bool:
        """Whether a kept last day may still be used: read after it settled, and not too long ago."""
        return kept.settled and time.monotonic() - kept.since < self.reuse_seconds()

    def _older_days(self, tenant: str, first: date, end: date, at: datetime) -> _Kept[T]:
        with self._lock:
            kept = self._older.get(tenant)
            recent = self._yesterday.get(tenant)
        if kept is not None and (kept.first > first or (kept.first == first and kept.end > end)):
            return _Kept(first, end, self.read(tenant, first, end, at), time.monotonic(), True)  # the past: not kept
        if kept is not None and kept.first == first and kept.end == end:
            return kept
        if kept is not None and kept.first == first:
            start, base = kept.end, kept.value  # the date moved on: only the days since are read
        else:
            start, base = first, None
        if recent is not None and (recent.first, recent.end) == (start, end) and self._current(recent):
            added = recent.value  # yesterday became the day before: its figure is already read
        else:
            added = self.read(tenant, start, end, at)
        value = added if base is None else self.add(base, added)
        days = _Kept(first, end, value, time.monotonic(), True)
        with self._lock:
            self._older[tenant] = days
        return days

    def _last_day(self, tenant: str, day: date, today: date, at: datetime) -> _Kept[T]:
        with self._lock:
            kept = self._yesterday.get(tenant)
        if kept is not None and kept.first > day:
            return _Kept(day, today, self.read(tenant, day, today, at), time.monotonic(), True)  # the past: not kept
        if kept is not None and kept.first == day and self._current(kept):
            return kept
        began = time.monotonic()
        last = _Kept(day, today, self.read(tenant, day, today, at), began, at >= self.midnight(today) + SETTLE)
        with self._lock:
            self._yesterday[tenant] = last
        return last


@dataclass(frozen=True)
class _Today:
    """Today's energy as last computed: from ``midnight`` to ``at``."""

    midnight: datetime
    at: datetime
    node: EnergyNode


def _energy_sum(a: tuple[EnergyFigure, float], b: tuple[EnergyFigure, float]) -> tuple[EnergyFigure, float]:
    """Two consecutive spans' energy and baseline as one: kWh add up, the same lamps count once as sources."""
    (one, one_baseline), (two, two_baseline) = a, b
    figure = EnergyFigure(
        one.metered_kwh + two.metered_kwh,
        one.estimated_kwh + two.estimated_kwh,
        max(one.metered_sources, two.metered_sources),
        max(one.estimated_sources, two.estimated_sources),
    )
    return figure, one_baseline + two_baseline


def _station_days(report: WhoReport) -> dict[str, tuple[int, int]]:
    """Each station's PM2.5 days above the WHO 24-h guideline and valid days in ``report``."""
    out = {}
    for station in report.stations:
        summary = station.who.get(Pollutant.PM25)
        if summary is not None:
            out[station.id] = (summary.exceedances.exceedance_days, summary.exceedances.valid_days)
    return out


def _station_days_sum(a: dict[str, tuple[int, int]], b: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Two consecutive spans' station days as one."""
    out = dict(a)
    for station, (days, valid) in b.items():
        before = out.get(station, (0, 0))
        out[station] = (before[0] + days, before[1] + valid)
    return out


class DashboardService:
    """The overview's figures for a city, from the solutions' services."""

    def __init__(
        self,
        db: Database,
        context: ContextService,
        *,
        air_quality: AirQualityService,
        lighting: LightingService,
        parking: ParkingService,
        operations: OperationsService,
        timezone: str,
        reports: ReportService | None = None,
        clock: Clock | None = None,
        share_seconds: float = SHARE_SECONDS,
        days_reuse_seconds: float = DAYS_REUSE_SECONDS,
        fresh_seconds: float = FRESH_SECONDS,
    ) -> None:
        """``share_seconds``: how long requests share one computation (0: never, as a benchmark wants).

        ``days_reuse_seconds``: how long yesterday's figures are kept before they are read again (see the module).
        ``fresh_seconds``: how long today's energy from the background refresh serves requests.
        """
        self.db = db
        self.context = context
        self.air_quality = air_quality
        self.lighting = lighting
        self.parking = parking
        self.operations = operations
        self.reports = reports
        self.tz = ZoneInfo(timezone)
        self.clock = clock or SystemClock()
        self.share_seconds = share_seconds
        self.days_reuse_seconds = days_reuse_seconds
        self.fresh_seconds = fresh_seconds
        self._lock = threading.Lock()
        self._today: dict[str, _Today] = {}
        self._changed: dict[str, float] = {}
        # The page's parts are read side by side: each waits mostly on the database.  The idle
        # threads end with the service (the executor is collected with the app).
        self._parts = ThreadPoolExecutor(max_workers=4, thread_name_prefix="urbis-dashboard")
        self._energy_days = CompletedDays(
            self._read_energy, _energy_sum, self._midnight, lambda: self.days_reuse_seconds
        )
        self._who_days = CompletedDays(
            self._read_who, _station_days_sum, self._midnight, lambda: self.days_reuse_seconds
        )
        self._shared: dict[tuple[str, str], tuple[float, CityOverview]] = {}

    # -- the overview ----------------------------------------------------------------------

    def overview(self, tenant: str, fragment: str | None = None, *, at: datetime | None = None) -> CityOverview:
        """The headline figures with their trends (only those of ``fragment`` when one is named)."""
        if fragment is not None and fragment not in FRAGMENTS:
            raise KeyError(fragment)
        key = (tenant, fragment or "*")
        started = time.monotonic()
        if at is None:
            with self._lock:
                shared = self._shared.get(key)
                changed = self._changed.get(tenant, 0.0)
            # Shared only while recent and computed after the city last changed: a browser refreshing
            # because of a change never receives figures computed before it.
            if shared is not None and started - shared[0] < self.share_seconds and shared[0] > changed:
                return shared[1]
        moment = at or self.clock.now()
        result = self.compute(tenant, moment, None if fragment is None else set(FRAGMENTS[fragment]))
        if at is None and self.share_seconds > 0:
            with self._lock:
                self._shared[key] = (started, result)
        return result

    def on_entity_changed(self, event: EntityChanged) -> None:
        """Note when a city changed, so that no figure computed before is shared after (bus handler)."""
        now = time.monotonic()
        with self._lock:
            self._changed[event.tenant] = now

    def forget(self) -> None:
        """Drop every figure kept between requests: the next overview computes everything afresh."""
        self._energy_days.forget()
        self._who_days.forget()
        with self._lock:
            self._shared.clear()
            self._today.clear()

    def compute(self, tenant: str, at: datetime, keys: set[str] | None = None) -> CityOverview:
        """The figures at ``at``, with only the completed days kept (``keys``: only the parts those figures need)."""

        def wanted(*names: str) -> bool:
            return keys is None or not keys.isdisjoint(names)

        def air() -> tuple[AreaAirQuality | None, list[AreaAirQuality]]:
            stations = self.air_quality.stations(tenant, at) if wanted("city_aqi") else []
            return self.air_quality.areas(stations) if stations else (None, [])

        def lighting() -> tuple[list[LampState], int]:
            lamps = self.lighting.lamp_states(tenant) if wanted("lights_working", "lighting_faults") else []
            return lamps, len(self.lighting.active_faults(tenant)) if wanted("lighting_faults") else 0

        def energy() -> tuple[EnergyNode | None, EnergyNode | None]:
            return self._energy_figures(
                tenant, at, today=wanted("energy_saved_today"), month=wanted("energy_saved_month")
            )

        def parked() -> ParkingOverview | None:
            return self.parking.overview(tenant, at) if wanted("parking_occupancy", "parking_in_target") else None

        def who() -> WhoFigure | None:
            return self._who_figure(tenant, at) if wanted("who_days") else None

        air_part, who_part = self._parts.submit(air), self._parts.submit(who)
        lighting_part, energy_part = self._parts.submit(lighting), self._parts.submit(energy)
        parking_part = self._parts.submit(parked)
        alarms = self.operations.summary(tenant) if wanted("alarms_active") else {}
        reports = None
        if self.reports is not None and wanted("citizen_reports_open", "citizen_resolution_hours"):
            reports = self.reports.figures(tenant, at - timedelta(days=REPORT_WINDOW_DAYS), at)
        earlier = self._earlier(tenant, at)
        air_city, air_districts = air_part.result()
        lamps, lighting_alarms = lighting_part.result()
        energy_today, energy_month = energy_part.result()
        overview = build_overview(
            OverviewInputs(
                tenant=tenant,
                at=at,
                air_city=air_city,
                air_districts=air_districts,
                who=who_part.result(),
                lamps=lamps,
                lighting_alarms=lighting_alarms,
                energy_today=energy_today,
                energy_month=energy_month,
                parking=parking_part.result(),
                alarms=alarms,
                reports=reports,
            )
        )
        return overview.with_trends(*earlier)

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, day_time(), self.tz)

    # -- energy ----------------------------------------------------------------------------

    def _energy_figures(
        self, tenant: str, at: datetime, *, today: bool, month: bool
    ) -> tuple[EnergyNode | None, EnergyNode | None]:
        """The city's energy today and this month so far (``None`` where not wanted or not begun)."""
        local_day = at.astimezone(self.tz).date()
        midnight = self._midnight(local_day)
        first = local_day.replace(day=1)
        today_node = None
        if (today or month) and at > midnight:
            today_node = self._today_energy(tenant, at, midnight)  # read once for both figures
        if not month or at <= self._midnight(first):
            return (today_node if today else None), None
        days = self._energy_days.total(tenant, first, local_day, at)
        return (today_node if today else None), self._month_node(days, today_node)

    def _today_energy(self, tenant: str, at: datetime, midnight: datetime, *, fresh: bool = False) -> EnergyNode:
        """Today's energy so far: kept from the background refresh (:meth:`refresh`) while it is recent.

        Reading every lamp's counters for the day costs most of a second with 5,000 lamps: the
        leading process refreshes the figure whenever lamps report (at most every ``min_gap``
        seconds) and requests serve it; a request computes it itself only when no recent figure
        exists (another process, a cold start, an instant in the past).
        """
        with self._lock:
            kept = self._today.get(tenant)
        if (
            not fresh
            and kept is not None
            and kept.midnight == midnight
            and timedelta(0) <= at - kept.at < timedelta(seconds=self.fresh_seconds)
        ):
            return kept.node
        node = self.lighting.energy(tenant, midnight, at).city
        if kept is None or kept.at <= at:
            with self._lock:
                self._today[tenant] = _Today(midnight, at, node)
        return node

    def refresh(self, now: datetime) -> int:
        """Compute the figures that cost a long read (today's energy) for every city, so requests serve them."""
        refreshed = 0
        midnight = self._midnight(now.astimezone(self.tz).date())
        for tenant in self.context.tenants():
            try:
                self._today_energy(tenant, now, midnight, fresh=True)
                refreshed += 1
            except Exception:  # one city's failure must not stop the others
                log.exception("dashboard refresh of tenant %s failed", tenant)
        return refreshed

    def _read_energy(self, tenant: str, first: date, end: date, _at: datetime) -> tuple[EnergyFigure, float]:
        node = self.lighting.energy(tenant, self._midnight(first), self._midnight(end)).city
        return node.figure, node.savings.baseline_kwh

    def _month_node(self, days: tuple[EnergyFigure, float] | None, today: EnergyNode | None) -> EnergyNode | None:
        """The month so far: the completed days plus today, the savings worked out on the sums."""
        if days is None:
            return today
        figure, baseline = days
        if today is not None:
            figure, baseline = _energy_sum((figure, baseline), (today.figure, today.savings.baseline_kwh))
        savings = energy_savings(
            figure,
            baseline,
            tariff_per_kwh=self.lighting.tariff_per_kwh,
            grid_kg_co2_per_kwh=self.lighting.grid_kg_co2_per_kwh,
            currency=self.lighting.currency,
        )
        return EnergyNode(CITY_NODE, "city", None, figure, savings)

    # -- days above the WHO guideline --------------------------------------------------------

    def _who_figure(self, tenant: str, at: datetime) -> WhoFigure:
        """Days above the WHO 24-h PM2.5 guideline this year (the day in progress adds none: only complete days count)."""
        today = at.astimezone(self.tz).date()
        first = date(today.year, 1, 1)
        stations = self._who_days.total(tenant, first, today, at) or {}
        rated = sorted(
            ((days, station) for station, (days, valid) in stations.items() if valid), key=lambda r: (-r[0], r[1])
        )
        return WhoFigure(
            first=first,
            last=today,
            days=rated[0][0] if rated else None,
            worst_station=rated[0][1] if rated else None,
            stations_with_data=len(rated),
        )

    def _read_who(self, tenant: str, first: date, end: date, at: datetime) -> dict[str, tuple[int, int]]:
        return _station_days(self.air_quality.who(tenant, first, end - timedelta(days=1), at))

    # -- trends ----------------------------------------------------------------------------

    def _earlier(self, tenant: str, at: datetime) -> tuple[dict[str, object] | None, dict[str, object] | None]:
        day_before, month_before = at - timedelta(days=1), at - timedelta(days=30)
        with self.db.read() as conn:
            yesterday = store.snapshot_near(conn, tenant, day_before, day_before - YESTERDAY_TOLERANCE)
            last_month = store.snapshot_near(conn, tenant, month_before, month_before - LAST_MONTH_TOLERANCE)
        return (None if yesterday is None else yesterday[1], None if last_month is None else last_month[1])

    # -- snapshots -------------------------------------------------------------------------

    def record_snapshot(self, tenant: str, at: datetime | None = None) -> dict[str, float | None] | None:
        """Store the tenant's figures now; ``None`` (nothing stored) for a city with no data at all."""
        moment = (at or self.clock.now()).astimezone(UTC).replace(microsecond=0)
        figures = self.compute(tenant, moment).figures()
        if all(value is None or value == 0 for value in figures.values()):
            return None
        with self.db.write() as conn:
            store.save_snapshot(conn, tenant, moment, figures)
        return figures

    def record_snapshots(self, tenants: Iterable[str] | None = None) -> int:
        """A snapshot of every city that has data (the periodic job); how many were stored."""
        now = self.clock.now()
        stored = 0
        for tenant in tenants if tenants is not None else self.context.tenants():
            try:
                if self.record_snapshot(tenant, now) is not None:
                    stored += 1
            except Exception:  # one city's failure must not stop the others' snapshots
                log.exception("dashboard snapshot of tenant %s failed", tenant)
        with self.db.write() as conn:
            store.purge_snapshots(conn, now - SNAPSHOT_RETENTION)
        return stored
