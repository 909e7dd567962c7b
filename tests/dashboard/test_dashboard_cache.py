"""The dashboard's kept completed days: energy this month and WHO days this year, late reports, new days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from test_lighting_service import make_installation

from conftest import make_settings
from urbis.app import create_app
from urbis.core.clock import FixedClock
from urbis.dashboard.service import DashboardService
from urbis.ingestion.messages import DeviceReadings, Measure
from urbis.solutions.air_quality.const import Pollutant

NOW = datetime(2026, 11, 10, 12, 10, tzinfo=UTC)  # 13:10 in Bonn on 10 November
MONTH_START = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 1 November, 00:00 in Bonn
HOUR = timedelta(hours=1)
ENERGY = {"energy_saved_today", "energy_saved_month"}
STATION = "urn:ngsi-ld:AirQualityObserved:s1"


def local_midnight(day: int) -> datetime:
    """Midnight in Bonn (UTC+1 in November) starting ``day`` November."""
    return datetime(2026, 11, day, tzinfo=UTC) - HOUR


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def every_hour(first: datetime, last: datetime) -> Iterator[datetime]:
    at = first
    while at <= last:
        yield at
        at += HOUR


def counter(app: FastAPI, tenant: str, lamp: int, kwh_per_day: float, first: datetime, last: datetime) -> None:
    """Hourly readings of a lamp's energy counter, on the hour: 100 kWh at MONTH_START, growing evenly."""
    measures = [
        Measure("energyConsumed", 100.0 + (at - MONTH_START) / timedelta(days=1) * kwh_per_day, iso(at), us(at))
        for at in every_hour(first, last)
    ]
    entity = f"urn:ngsi-ld:Streetlight:l{lamp}"
    app.state.context.record([DeviceReadings(tenant, f"lamp-{lamp}", entity, "Streetlight", measures)], received_us=0)


def pm25(app: FastAPI, tenant: str, value: float, first: datetime, last: datetime) -> None:
    """Hourly PM2.5 at the station, stamped mid-hour, with a small wobble (a flat line would be a stuck sensor)."""
    measures = [
        Measure("pm25", value + (0.1 if n % 2 else -0.1), iso(at + HOUR / 2), us(at + HOUR / 2))
        for n, at in enumerate(every_hour(first, last))
    ]
    app.state.context.record([DeviceReadings(tenant, "aq-1", STATION, "AirQualityObserved", measures)], received_us=0)


def us(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000


def kwh(overview: Any, key: str) -> float:
    value: float = overview.kpis[key].detail["kwh"]
    return value


def near(value: float) -> Any:
    """Equal to ``value`` as the page shows it: rounded to the Wh (twice, where two figures are summed)."""
    return pytest.approx(value, abs=1.2e-3)


@pytest.fixture
def city(db_url: str, tenant: str) -> FastAPI:
    app = create_app(make_settings(db_url, tenant), clock=FixedClock(NOW))
    app.state.temporal.use_rollups = False  # the fixed clock lies in the past of other tests' roll-ups
    assert not app.state.context.upsert_documents(tenant, make_installation(2)).errors
    return app


@pytest.fixture
def reads(city: FastAPI, monkeypatch: pytest.MonkeyPatch) -> list[tuple[datetime, datetime]]:
    """The windows the dashboard asks the lighting service for, in order."""
    lighting = city.state.lighting
    real = lighting.energy
    windows: list[tuple[datetime, datetime]] = []

    def energy(tenant: str, start: datetime, end: datetime) -> Any:
        windows.append((start.astimezone(UTC), end.astimezone(UTC)))
        return real(tenant, start, end)

    monkeypatch.setattr(lighting, "energy", energy)
    return windows


def test_the_month_is_the_kept_days_plus_today_as_one_read_gives_it(
    city: FastAPI, tenant: str, reads: list[tuple[datetime, datetime]]
) -> None:
    # Lamp 1 counts 0.5 kWh a day, evenly, up to 12:00 UTC; lamp 2 1.0 kWh a day.
    counter(city, tenant, 1, 0.5, MONTH_START - 3 * HOUR, NOW.replace(minute=0))
    counter(city, tenant, 2, 1.0, MONTH_START - 3 * HOUR, NOW.replace(minute=0))
    dashboard: DashboardService = city.state.dashboard
    overview = dashboard.compute(tenant, NOW, ENERGY)
    # Today: 23:00 UTC to the last reading at 12:00 = 13 h; the month: 9 days and 13 h; 1.5 kWh a day.
    assert kwh(overview, "energy_saved_today") == near(1.5 * 13 / 24)
    assert kwh(overview, "energy_saved_month") == near(1.5 * (9 + 13 / 24))
    # Today once for both figures, 1..8 November in one read, 9 November (yesterday) alone.
    assert reads == [
        (local_midnight(10), NOW),
        (MONTH_START, local_midnight(9)),
        (local_midnight(9), local_midnight(10)),
    ]
    # The baseline and savings are those of one read over the month.
    whole = city.state.lighting.energy(tenant, MONTH_START, NOW).city
    assert overview.kpis["energy_saved_month"].value == pytest.approx(round(whole.savings.saved_kwh, 3), abs=0.002)
    assert overview.kpis["energy_saved_month"].detail["baselineKwh"] == near(whole.savings.baseline_kwh)
    reads.clear()
    dashboard.compute(tenant, NOW + timedelta(minutes=1), ENERGY)
    assert reads == []  # the completed days are kept, and today's figure is recent
    dashboard.compute(tenant, NOW + timedelta(minutes=5), ENERGY)  # older than fresh_seconds: read again
    assert reads == [(local_midnight(10), NOW + timedelta(minutes=5))]  # only today


def test_the_background_refresh_keeps_todays_energy_for_requests(
    city: FastAPI, tenant: str, reads: list[tuple[datetime, datetime]]
) -> None:
    counter(city, tenant, 1, 0.5, MONTH_START - 3 * HOUR, NOW.replace(minute=0))
    counter(city, tenant, 2, 1.0, MONTH_START - 3 * HOUR, NOW.replace(minute=0))
    dashboard: DashboardService = city.state.dashboard
    assert dashboard.refresh(NOW) >= 1
    assert (local_midnight(10), NOW) in reads
    reads.clear()
    # A request a little later serves the refreshed figure: no read of the lamps' counters for today.
    served = dashboard.compute(tenant, NOW + timedelta(seconds=30), {"energy_saved_today"})
    assert reads == [] and kwh(served, "energy_saved_today") == near(1.5 * 13 / 24)
    # An instant before the refresh is not served from it, nor is the next day.
    dashboard.compute(tenant, NOW - timedelta(minutes=1), {"energy_saved_today"})
    assert reads == [(local_midnight(10), NOW - timedelta(minutes=1))]
    reads.clear()
    tomorrow = NOW + timedelta(days=1)
    dashboard.compute(tenant, tomorrow, {"energy_saved_today"})
    assert reads == [(local_midnight(11), tomorrow)]


def test_a_late_report_for_yesterday_shows_once_yesterday_is_read_again(city: FastAPI, tenant: str) -> None:
    # Both gateways went quiet after 00:00 UTC on 9 November (01:00 in Bonn).
    for lamp, rate in ((1, 0.5), (2, 1.0)):
        counter(city, tenant, lamp, rate, MONTH_START - 3 * HOUR, datetime(2026, 11, 9, tzinfo=UTC))
    dashboard: DashboardService = city.state.dashboard
    before = dashboard.compute(tenant, NOW, ENERGY)
    # 1..8 November metered (12 kWh), of yesterday only its first hour (1.5/24 kWh), today estimated.
    assert kwh(before, "energy_saved_month") == near(12 + 1.5 / 24 + kwh(before, "energy_saved_today"))
    # At 13:00 the gateways replay their buffers: yesterday and today arrive late.
    for lamp, rate in ((1, 0.5), (2, 1.0)):
        counter(city, tenant, lamp, rate, datetime(2026, 11, 9, 1, tzinfo=UTC), NOW.replace(hour=13, minute=0))
    later = NOW + HOUR
    kept = dashboard.compute(tenant, later, ENERGY)
    # Today is read fresh (14 h metered), yesterday is still the day as read before.
    assert kwh(kept, "energy_saved_today") == near(1.5 * 14 / 24)
    assert kwh(kept, "energy_saved_month") == near(12 + 1.5 / 24 + 1.5 * 14 / 24)
    dashboard.days_reuse_seconds = 0.0  # an hour has passed: yesterday is read again
    again = dashboard.compute(tenant, later, ENERGY)
    assert kwh(again, "energy_saved_month") == near(1.5 * (9 + 14 / 24))


def test_a_late_report_for_an_older_day_shows_after_forget(
    city: FastAPI, tenant: str, reads: list[tuple[datetime, datetime]]
) -> None:
    counter(city, tenant, 1, 0.5, MONTH_START - 3 * HOUR, NOW.replace(minute=0))
    dashboard: DashboardService = city.state.dashboard
    dashboard.days_reuse_seconds = 0.0  # yesterday is read with every request: only the older days are kept
    before = dashboard.compute(tenant, NOW, ENERGY)
    # Lamp 2 never reported: estimated from its program; lamp 1 metered, 0.5 kWh a day.
    estimated = kwh(before, "energy_saved_month") - 0.5 * (9 + 13 / 24)
    assert estimated > 0.1
    # Lamp 2's gateway replays the whole month, 1.0 kWh a day.
    counter(city, tenant, 2, 1.0, MONTH_START - 3 * HOUR, NOW.replace(minute=0))
    reads.clear()
    kept = dashboard.compute(tenant, NOW, ENERGY)
    assert (MONTH_START, local_midnight(9)) not in reads  # 1..8 November are not read again
    # Yesterday and today are metered now; 1..8 November still hold lamp 2's estimate.
    older_estimate = kwh(kept, "energy_saved_month") - 0.5 * (9 + 13 / 24) - 1.0 * (1 + 13 / 24)
    assert 0.0 < older_estimate < estimated and older_estimate != pytest.approx(8.0)
    dashboard.forget()
    assert kwh(dashboard.compute(tenant, NOW, ENERGY), "energy_saved_month") == near(1.5 * (9 + 13 / 24))


def test_a_new_day_reads_only_the_day_just_completed(
    city: FastAPI, tenant: str, reads: list[tuple[datetime, datetime]]
) -> None:
    counter(city, tenant, 1, 0.5, MONTH_START - 3 * HOUR, datetime(2026, 11, 11, 1, tzinfo=UTC))
    dashboard: DashboardService = city.state.dashboard
    dashboard.compute(tenant, NOW, ENERGY)
    reads.clear()
    tomorrow = datetime(2026, 11, 11, 1, 10, tzinfo=UTC)  # 02:10 in Bonn: yesterday has settled
    overview = dashboard.compute(tenant, tomorrow, ENERGY)
    # Today and the 10th are read; the 9th, read yesterday as "yesterday", joins the kept days unread.
    assert reads == [(local_midnight(11), tomorrow), (local_midnight(10), local_midnight(11))]
    # Lamp 1 metered over 10 days and 2 hours (23:00 to the reading at 01:00); lamp 2 estimated.
    lamp2 = city.state.lighting.energy(tenant, MONTH_START, tomorrow).node("urn:ngsi-ld:Streetlight:l2")
    assert kwh(overview, "energy_saved_month") == near(0.5 * (10 + 2 / 24) + lamp2.figure.kwh)


def test_yesterday_is_read_with_every_request_until_it_settles(
    city: FastAPI, tenant: str, reads: list[tuple[datetime, datetime]]
) -> None:
    counter(city, tenant, 1, 0.5, MONTH_START - 3 * HOUR, datetime(2026, 11, 11, 1, tzinfo=UTC))
    dashboard: DashboardService = city.state.dashboard
    yesterday = (local_midnight(10), local_midnight(11))
    just_after_midnight = datetime(2026, 11, 10, 23, 10, tzinfo=UTC)  # 00:10 in Bonn
    dashboard.compute(tenant, just_after_midnight, ENERGY)
    dashboard.compute(tenant, just_after_midnight + timedelta(minutes=1), ENERGY)
    assert reads.count(yesterday) == 2
    settled = datetime(2026, 11, 11, 0, 10, tzinfo=UTC)  # 01:10 in Bonn
    dashboard.compute(tenant, settled, ENERGY)
    dashboard.compute(tenant, settled + timedelta(minutes=1), ENERGY)
    assert reads.count(yesterday) == 3


def test_an_overview_of_the_past_leaves_the_kept_days_alone(
    city: FastAPI, tenant: str, reads: list[tuple[datetime, datetime]]
) -> None:
    counter(city, tenant, 1, 0.5, MONTH_START - 3 * HOUR, NOW.replace(minute=0))
    dashboard: DashboardService = city.state.dashboard
    now = dashboard.compute(tenant, NOW, ENERGY)
    past = dashboard.compute(tenant, NOW - timedelta(days=1), ENERGY)  # a snapshot a day ago, say
    assert kwh(past, "energy_saved_month") < kwh(now, "energy_saved_month")
    reads.clear()
    again = dashboard.compute(tenant, NOW, ENERGY)
    assert reads == []  # the kept days, and today's figure of NOW, kept too
    assert kwh(again, "energy_saved_month") == near(kwh(now, "energy_saved_month"))


def test_who_days_are_the_kept_days_and_a_late_day_counts_once_read_again(city: FastAPI, tenant: str) -> None:
    # PM2.5 around 20 µg/m³ (above the 24-h guideline of 15) from 5 to 8 November, local days.
    pm25(city, tenant, 20.0, local_midnight(5), local_midnight(9) - HOUR)
    dashboard: DashboardService = city.state.dashboard
    figure = dashboard.compute(tenant, NOW, {"who_days"}).kpis["who_days"]
    assert figure.value == 4 and figure.detail["worstStation"] == STATION and figure.detail["stationsWithData"] == 1
    report = city.state.air_quality.who(tenant, None, None, NOW).city.figures[Pollutant.PM25]
    assert (report.exceedance_days, report.worst_station, report.stations_with_data) == (4, STATION, 1)
    # 9 November (yesterday) arrives late, above the guideline too.
    pm25(city, tenant, 25.0, local_midnight(9), local_midnight(10) - HOUR)
    assert dashboard.compute(tenant, NOW, {"who_days"}).kpis["who_days"].value == 4  # yesterday as read before
    dashboard.days_reuse_seconds = 0.0
    assert dashboard.compute(tenant, NOW, {"who_days"}).kpis["who_days"].value == 5
    # A late day further back is kept out until the kept days are forgotten.
    pm25(city, tenant, 30.0, local_midnight(2), local_midnight(3) - HOUR)
    assert dashboard.compute(tenant, NOW, {"who_days"}).kpis["who_days"].value == 5
    dashboard.forget()
    assert dashboard.compute(tenant, NOW, {"who_days"}).kpis["who_days"].value == 6
