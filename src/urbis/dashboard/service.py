"""The dashboard service: gathers the solutions' answers into the overview, and keeps snapshots.

Figures that change slowly and cost a long read (days above the WHO guideline this year) are kept
for a few minutes; every other figure is read fresh.  Several browsers refreshing the same
fragment within a second share one computation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from zoneinfo import ZoneInfo

from urbis.context.service import ContextService
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.dashboard import store
from urbis.dashboard.overview import FRAGMENTS, CityOverview, OverviewInputs, WhoFigure, build_overview
from urbis.operations.service import OperationsService
from urbis.solutions.air_quality.const import Pollutant
from urbis.solutions.air_quality.service import AirQualityService, AreaAirQuality
from urbis.solutions.lighting.service import LightingService
from urbis.solutions.parking.service import ParkingService

log = logging.getLogger(__name__)

#: How long the year's WHO figure is reused: it moves at most once a day.
WHO_REUSE_SECONDS = 300.0
#: How long browsers share one computation of a fragment.
SHARE_SECONDS = 1.0
#: How far from exactly a day (a month) before a snapshot may lie and still count as "yesterday" ("last month").
YESTERDAY_TOLERANCE = timedelta(hours=2)
LAST_MONTH_TOLERANCE = timedelta(days=1)
#: Snapshots older than this are forgotten.
SNAPSHOT_RETENTION = timedelta(days=400)


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
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.context = context
        self.air_quality = air_quality
        self.lighting = lighting
        self.parking = parking
        self.operations = operations
        self.tz = ZoneInfo(timezone)
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._who: dict[str, tuple[float, date, WhoFigure]] = {}
        self._shared: dict[tuple[str, str], tuple[float, CityOverview]] = {}

    # -- the overview ----------------------------------------------------------------------

    def overview(self, tenant: str, fragment: str | None = None, *, at: datetime | None = None) -> CityOverview:
        """The headline figures with their trends (only those of ``fragment`` when one is named)."""
        if fragment is not None and fragment not in FRAGMENTS:
            raise KeyError(fragment)
        key = (tenant, fragment or "*")
        if at is None:
            with self._lock:
                shared = self._shared.get(key)
            if shared is not None and time.monotonic() - shared[0] < SHARE_SECONDS:
                return shared[1]
        moment = at or self.clock.now()
        result = self.compute(tenant, moment, None if fragment is None else set(FRAGMENTS[fragment]))
        if at is None:
            with self._lock:
                self._shared[key] = (time.monotonic(), result)
        return result

    def compute(self, tenant: str, at: datetime, keys: set[str] | None = None) -> CityOverview:
        """The figures at ``at``, read fresh (``keys``: only the parts those figures need)."""

        def wanted(*names: str) -> bool:
            return keys is None or not keys.isdisjoint(names)

        air_city: AreaAirQuality | None = None
        air_districts: list[AreaAirQuality] = []
        if wanted("city_aqi"):
            stations = self.air_quality.stations(tenant, at)
            if stations:
                air_city, air_districts = self.air_quality.areas(stations)
        who = self._who_figure(tenant, at) if wanted("who_days") else None
        lamps = self.lighting.lamp_states(tenant) if wanted("lights_working", "lighting_faults") else []
        lighting_alarms = len(self.lighting.active_faults(tenant)) if wanted("lighting_faults") else 0
        energy_today = energy_month = None
        if wanted("energy_saved_today", "energy_saved_month"):
            local = at.astimezone(self.tz)
            midnight = datetime.combine(local.date(), day_time(), self.tz)
            month_start = datetime.combine(local.date().replace(day=1), day_time(), self.tz)
            if wanted("energy_saved_today") and at > midnight:
                energy_today = self.lighting.energy(tenant, midnight, at).city
            if wanted("energy_saved_month") and at > month_start:
                energy_month = self.lighting.energy(tenant, month_start, at).city
        parking = self.parking.overview(tenant, at) if wanted("parking_occupancy", "parking_in_target") else None
        alarms = self.operations.summary(tenant) if wanted("alarms_active") else {}
        overview = build_overview(
            OverviewInputs(
                tenant=tenant,
                at=at,
                air_city=air_city,
                air_districts=air_districts,
                who=who,
                lamps=lamps,
                lighting_alarms=lighting_alarms,
                energy_today=energy_today,
                energy_month=energy_month,
                parking=parking,
                alarms=alarms,
            )
        )
        yesterday, last_month = self._earlier(tenant, at)
        return overview.with_trends(yesterday, last_month)

    def _who_figure(self, tenant: str, at: datetime) -> WhoFigure:
        today = at.astimezone(self.tz).date()
        with self._lock:
            kept = self._who.get(tenant)
        if kept is not None and kept[1] == today and time.monotonic() - kept[0] < WHO_REUSE_SECONDS:
            return kept[2]
        report = self.air_quality.who(tenant, date(today.year, 1, 1), today, at)
        figure = report.city.figures.get(Pollutant.PM25)
        who = WhoFigure(
            first=report.first,
            last=report.last,
            days=None if figure is None else figure.exceedance_days,
            worst_station=None if figure is None else figure.worst_station,
            stations_with_data=0 if figure is None else figure.stations_with_data,
        )
        with self._lock:
            self._who[tenant] = (time.monotonic(), today, who)
        return who

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
