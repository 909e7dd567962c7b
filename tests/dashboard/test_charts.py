"""The charts' series on a small city with a week of history, on SQLite and PostgreSQL (values worked by hand)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI

from conftest import make_settings
from urbis.app import create_app
from urbis.context.history import us_to_iso
from urbis.context.service import ContextService
from urbis.core.clock import FixedClock
from urbis.core.errors import BadRequestData, NotFound
from urbis.dashboard import charts
from urbis.dashboard.charts import (
    AlarmsDaily,
    AqiDaily,
    ChartService,
    EnergyDaily,
    EnergyVsPrograms,
    OccupancyProfile,
    Pm25VsParking,
    chart_window,
    day_index,
    parse_days,
    pearson,
)
from urbis.ingestion.messages import DeviceReadings, Measure
from urbis.operations.model import AlarmReport, Severity

# The air-quality tests' builders write hourly readings (their folder holds no package to import from).
sys.path[:0] = [str(Path(__file__).parents[1] / "solutions" / "air_quality")]
from test_aq_service_days import reading, record, station_id  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # Tuesday 24 November, 11:00 in Berlin
G1, G2 = "urn:ngsi-ld:OffStreetParking:g1", "urn:ngsi-ld:OffStreetParking:g2"
LAMP = "urn:ngsi-ld:Streetlight:l1"


def local(day: int, hour: int = 0) -> datetime:
    """An instant of November 2026 in Berlin (CET, UTC+1), in UTC."""
    return datetime(2026, 11, day, hour, tzinfo=BERLIN).astimezone(UTC)


def prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def history(context: ContextService, tenant: str, entity: str, kind: str, name: str, values: list[Any]) -> None:
    """Readings of one attribute at given instants, as a device would send them."""
    measures = [
        Measure(name, value, us_to_iso(int(at.timestamp() * 1e6)), int(at.timestamp() * 1e6)) for at, value in values
    ]
    context.record([DeviceReadings(tenant, entity, entity, kind, measures)], received_us=0)


def alternating(start: datetime, hours: int, low: float, high: float, attribute: str = "pm25") -> list[Measure]:
    """Hourly readings from ``start`` taking ``low`` and ``high`` in turn (a mean of their midpoint, never stuck)."""
    return [reading(attribute, start + timedelta(hours=n), low if n % 2 == 0 else high) for n in range(hours)]


def build_city(app: FastAPI, tenant: str, clock: FixedClock) -> None:
    context: ContextService = app.state.context
    # Air quality.  s1 (Centre): PM2.5 means 12.0, 8.0 and 20.0 µg/m³ on 21, 22 and 23 November.
    s1 = alternating(local(21), 24, 11.0, 13.0) + alternating(local(22), 24, 7.0, 9.0)
    record(context, tenant, "s1", s1 + alternating(local(23), 24, 19.0, 21.0), areaServed="Centre")
    # s2 (Centre): 23 November only, PM2.5 40.0 and PM10 100.
    s2 = alternating(local(23), 24, 39.0, 41.0) + alternating(local(23), 24, 99.0, 101.0, "pm10")
    record(context, tenant, "s2", s2, areaServed="Centre")
    # s3 (North): O3 over the O3 day of 22 November (07:00 to 07:00), every 8-hour mean 101 µg/m³;
    # PM2.5 for 17 hours of 23 November only: too few for a day (18 needed).
    s3 = alternating(local(22, 7), 24, 100.0, 102.0, "o3") + alternating(local(23), 17, 13.0, 15.0)
    record(context, tenant, "s3", s3, areaServed="North")

    # Parking: garage g1 (Centre, 100 spaces) and g2 (North, 50), their occupancy as written back.
    garages = [
        {"id": G1, "type": "OffStreetParking", "areaServed": prop("Centre"), "totalSpotNumber": prop(100)},
        {"id": G2, "type": "OffStreetParking", "areaServed": prop("North"), "totalSpotNumber": prop(50)},
    ]
    assert not context.upsert_documents(tenant, garages).errors
    occupancy = [(local(21), 0.2), (local(22), 0.1), (local(23), 0.4), (local(23, 12), 0.6), (local(24), 0.0)]
    history(context, tenant, G1, "OffStreetParking", "occupancy", occupancy)
    history(context, tenant, G2, "OffStreetParking", "occupancy", [(local(21), 0.4)])

    # Lighting: one metered 40 W lamp in Bonn; its counter read at every local midnight.
    lamp = {
        "id": LAMP,
        "type": "Streetlight",
        "areaServed": prop("Centre"),
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.10, 50.73]}},
        "powerRating": prop(40.0),
    }
    assert not context.upsert_documents(tenant, [lamp]).errors
    counter = [96.4, 97.3, 98.2, 99.1, 100.0, 101.5, 102.0, 103.2]  # 17 to 24 November
    history(
        context, tenant, LAMP, "Streetlight", "energyConsumed", [(local(17 + n), kwh) for n, kwh in enumerate(counter)]
    )

    # Alarms, by when they opened (local time): before the window, on its first day, ..., today.
    operations = app.state.operations
    for solution, severity, source, at in (
        ("lighting", Severity.MEDIUM, "a", local(16, 23) + timedelta(minutes=30)),  # 16 Nov: before
        ("parking", Severity.LOW, "b", local(17) + timedelta(minutes=30)),  # 17 Nov 00:30
        ("lighting", Severity.HIGH, "c", datetime(2026, 11, 22, 10, 0, tzinfo=UTC)),
        ("lighting", Severity.HIGH, "d", datetime(2026, 11, 22, 23, 30, tzinfo=UTC)),  # 23 Nov 00:30 in Berlin
        ("air_quality", Severity.CRITICAL, "e", datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),
        ("lighting", Severity.MEDIUM, "f", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),  # today: not complete
    ):
        operations.report(AlarmReport(tenant, solution, "kind", f"urn:ngsi-ld:Thing:{source}", severity, "x", at))

    # Lighting control changes (the audit trail): one override on 22 November, one set and withdrawn
    # on the 23rd, one today; an alarm acknowledged on the 22nd is no lighting change.
    lighting = app.state.lighting
    body = {"targets": [LAMP], "level": 50, "durationMinutes": 60}
    clock.moment = local(22, 9)
    lighting.create_override(tenant, body, "olga")
    (alarm,) = [a for a in operations.active_alarms(tenant, "lighting") if a.source.endswith(":c")]
    operations.acknowledge_alarm(tenant, alarm.id, "olga")
    clock.moment = local(23, 10)
    lighting.withdraw_override(tenant, lighting.create_override(tenant, body, "olga").override_id, "olga")
    clock.moment = local(24, 9)
    lighting.create_override(tenant, body, "olga")
    clock.moment = NOW


@pytest.fixture
def city(db_url: str, tenant: str) -> Iterator[tuple[FastAPI, ChartService]]:
    clock = FixedClock(NOW)
    app = create_app(make_settings(db_url, tenant), clock=clock)
    app.state.temporal.use_rollups = False  # the fixed clock lies in the past of other tests' roll-ups
    build_city(app, tenant, clock)
    yield app, service_of(app, keep_seconds=0)
    app.state.db.dispose()


def service_of(app: FastAPI, **options: Any) -> ChartService:
    state = app.state
    return ChartService(
        air_quality=state.air_quality,
        lighting=state.lighting,
        parking=state.parking,
        operations=state.operations,
        audit=state.audit,
        timezone="Europe/Berlin",
        clock=state.dashboard.clock,
        **options,
    )


NONE4: list[Any] = [None] * 4


# -- the window and the pure parts ------------------------------------------------------------------


def test_the_window_is_the_complete_local_days_before_today() -> None:
    week = chart_window(7, date(2026, 11, 24), "Europe/Berlin")
    assert (week.first, week.last) == (date(2026, 11, 17), date(2026, 11, 23))
    assert week.start == datetime(2026, 11, 16, 23, tzinfo=UTC) and week.end == datetime(2026, 11, 23, 23, tzinfo=UTC)
    assert week.day_of(datetime(2026, 11, 16, 22, 59, tzinfo=UTC)) is None
    assert week.day_of(datetime(2026, 11, 16, 23, 0, tzinfo=UTC)) == 0  # midnight in Berlin
    assert week.day_of(datetime(2026, 11, 23, 22, 59, tzinfo=UTC)) == 6 and week.day_of(week.end) is None
    # The month begins on 25 October, the day summer time ends: that local day lasts 25 hours.
    month = chart_window(30, date(2026, 11, 24), "Europe/Berlin")
    assert month.first == date(2026, 10, 25) and month.start == datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert month.edges[1] - month.edges[0] == timedelta(hours=25)
    assert month.edges[2] - month.edges[1] == timedelta(hours=24)
    assert month.to_json()["labels"][:2] == ["2026-10-25", "2026-10-26"] and len(month.to_json()["labels"]) == 30


@pytest.mark.parametrize(("raw", "days"), [(None, 7), ("", 7), ("7", 7), ("30", 30)])
def test_days_may_be_7_or_30(raw: str | None, days: int) -> None:
    assert parse_days(raw) == days


@pytest.mark.parametrize("raw", ["8", "07", "30.0", "x", "-7", "365"])
def test_other_days_are_refused(raw: str) -> None:
    with pytest.raises(BadRequestData):
        parse_days(raw)


def test_a_day_s_index_from_its_daily_means() -> None:
    # PM2.5 20.0 µg/m³: (100 − 51) / (35.4 − 9.1) · (20.0 − 9.1) + 51 = 71.31 → 71.
    assert day_index(20.0, None, None).index == 71
    # PM10 100: (100 − 51) / (154 − 55) · (100 − 55) + 51 = 73.27 → 73, below PM2.5 40.0 → 112.08 → 112.
    result = day_index(40.0, 100.0, None)
    assert result.index == 112 and result.responsible_pollutant is not None
    assert result.responsible_pollutant.value == "pm25"
    # O3 101 µg/m³ = 101 · 24.45 / 48.00 = 51.4 ppb → 0.051 ppm: 50 / 0.054 · 0.051 = 47.2 → 47.
    assert day_index(None, None, 101.0).index == 47
    assert day_index(None, None, None).index is None


def test_pearson_needs_three_days_and_a_spread() -> None:
    assert pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx(1.0)
    assert pearson([1.0, 2.0, 3.0], [6.0, 4.0, 2.0]) == pytest.approx(-1.0)
    assert pearson([1.0, 2.0, None], [2.0, 4.0, 6.0]) is None  # two pairs: always on a line
    assert pearson([5.0, 5.0, 5.0], [1.0, 2.0, 3.0]) is None  # no spread: undefined


# -- each series on the small city, both backends ------------------------------------------------


def test_aqi_per_station_and_district_per_day(city: tuple[FastAPI, ChartService], tenant: str) -> None:
    _, service = city
    aqi = service.series(tenant, "aqi_daily", 7)
    assert isinstance(aqi, AqiDaily)
    values = {s.id: s.values for s in aqi.stations}
    # s1: 12.0 → 49 / 26.3 · 2.9 + 51 = 56.40 → 56; 8.0 → 50 / 9.0 · 8.0 = 44.4 → 44; 20.0 → 71.
    assert values[station_id("s1")] == [*NONE4, 56, 44, 71]
    assert values[station_id("s2")] == [*NONE4, None, None, 112]  # PM2.5 40.0 (PM10 100 only 73)
    assert values[station_id("s3")] == [*NONE4, None, 47, None]  # the O3 day; 17 hours of PM2.5 make no day
    s2 = next(s for s in aqi.stations if s.id == station_id("s2"))
    assert s2.pollutants[6] == "pm25" and s2.district == "Centre"
    districts = {d.name: d for d in aqi.districts}
    assert districts["Centre"].values == [*NONE4, 56, 44, 112]
    assert districts["Centre"].worst_stations[4:] == [station_id("s1"), station_id("s1"), station_id("s2")]
    assert districts["North"].values == [*NONE4, None, 47, None]
    twin = aqi.to_json()
    assert twin["summary"] == {"highest": {"value": 112, "day": "2026-11-23", "district": "Centre"}, "stationsRated": 3}
    assert twin["districts"][0] == {
        "name": "Centre",
        "usAqi": [*NONE4, 56, 44, 112],
        "worstStation": [*NONE4, station_id("s1"), station_id("s1"), station_id("s2")],
    }
    header, rows = aqi.table()
    assert header == ["day", "level", "id", "name", "district", "usAqi", "pollutant"]
    assert len(rows) == 7 * (2 + 3)
    s2_row = [
        date(2026, 11, 23),
        "station",
        station_id("s2"),
        station_id("s2"),
        "Centre",
        112,
        "pm25",
    ]  # no name: the id
    assert s2_row in rows


def test_energy_per_day_against_the_baseline(city: tuple[FastAPI, ChartService], tenant: str) -> None:
    app, service = city
    energy = service.series(tenant, "energy_daily", 7)
    assert isinstance(energy, EnergyDaily)
    # The counter's steps from one local midnight to the next.
    assert [day.kwh for day in energy.days] == pytest.approx([0.9, 0.9, 0.9, 0.9, 1.5, 0.5, 1.2])
    assert {day.basis for day in energy.days} == {"metered"}
    # Each day's baseline is the lighting service's own (the lamp at 40 W from sunset to sunrise: a
    # long November night in Bonn, about 15.3 hours, so a little over 0.6 kWh), and the saving its difference.
    for day, start, end in zip(energy.days, energy.window.edges, energy.window.edges[1:], strict=False):
        city_node = app.state.lighting.energy(tenant, start, end).city
        assert day.baseline_kwh == pytest.approx(city_node.savings.baseline_kwh)
        assert 0.6 < day.baseline_kwh < 0.62
        assert day.saved_kwh == pytest.approx(day.baseline_kwh - day.kwh)
    baselines = [day.baseline_kwh for day in energy.days]
    assert baselines == sorted(baselines)  # the nights grow longer towards December
    summary = energy.summary()
    assert summary["kwh"] == pytest.approx(6.8)
    assert summary["highest"]["day"] == "2026-11-21" and summary["highest"]["value"] == pytest.approx(1.5)
    twin = energy.to_json()
    assert twin["kwh"] == [0.9, 0.9, 0.9, 0.9, 1.5, 0.5, 1.2] and twin["currency"] == "EUR"
    header, rows = energy.table()
    assert header[:3] == ["day", "kwh", "baselineKwh"] and rows[4][:2] == [date(2026, 11, 21), 1.5]


def test_occupancy_by_hour_and_weekday(city: tuple[FastAPI, ChartService], tenant: str) -> None:
    _, service = city
    profile = service.series(tenant, "occupancy_profile", 7)
    assert isinstance(profile, OccupancyProfile)
    # City share = (100 · g1 + 50 · g2) / 150, g2 at 0.4 from the 21st:
    # Sat 21st 40 / 150; Sun 22nd 30 / 150; Mon 23rd 60 / 150 until noon, 80 / 150 after.
    assert profile.places == 2
    assert profile.matrix[5][3] == pytest.approx(40 / 150) and profile.matrix[6][3] == pytest.approx(30 / 150)
    assert profile.matrix[0][0] == pytest.approx(60 / 150) and profile.matrix[0][12] == pytest.approx(80 / 150)
    assert profile.matrix[1] == [None] * 24 and profile.samples[1] == [0] * 24  # nothing known before the 21st
    # By hour, the mean of the three days: (40 + 30 + 60) / 450 before noon, (40 + 30 + 80) / 450 after.
    assert profile.by_hour[:12] == pytest.approx([130 / 450] * 12)
    assert profile.by_hour[12:] == pytest.approx([150 / 450] * 12)
    assert profile.by_weekday == pytest.approx([70 / 150, None, None, None, None, 40 / 150, 30 / 150])
    summary = profile.summary()
    assert summary["busiestHour"] == {"hour": 12, "value": pytest.approx(1 / 3)}
    assert summary["quietestHour"]["hour"] == 0
    assert summary["busiestWeekday"] == {"weekday": 0, "value": pytest.approx(70 / 150)}
    header, rows = profile.table()
    assert header == ["weekday", "hour", "occupancy", "samples"] and len(rows) == 7 * 24 + 24 + 7
    assert [1, 12, 0.5333, 1] in rows and ["all", 0, 0.2889, 3] in rows


def test_alarms_opened_per_day(
    city: tuple[FastAPI, ChartService], tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, service = city
    # Two alarms a page: the reading stops at the page that reaches back before the window.
    monkeypatch.setattr(charts, "PAGE", 2)
    alarms = service.series(tenant, "alarms_daily", 7)
    assert isinstance(alarms, AlarmsDaily)
    assert alarms.totals == [1, 0, 0, 0, 0, 1, 2]
    assert alarms.by_severity == {
        "critical": [0, 0, 0, 0, 0, 0, 1],
        "high": [0, 0, 0, 0, 0, 1, 1],
        "medium": [0] * 7,
        "low": [1, 0, 0, 0, 0, 0, 0],
        "informational": [0] * 7,
    }
    assert alarms.by_solution == {
        "air_quality": [0, 0, 0, 0, 0, 0, 1],
        "lighting": [0, 0, 0, 0, 0, 1, 1],
        "parking": [1, 0, 0, 0, 0, 0, 0],
    }
    assert alarms.to_json()["summary"] == {
        "total": 4,
        "bySeverity": {"critical": 1, "high": 2, "medium": 0, "low": 1, "informational": 0},
        "highest": {"value": 2, "day": "2026-11-23"},
    }
    header, rows = alarms.table()
    assert header == [
        "day",
        "total",
        "critical",
        "high",
        "medium",
        "low",
        "informational",
        "air_quality",
        "lighting",
        "parking",
    ]
    assert rows[6] == [date(2026, 11, 23), 2, 1, 1, 0, 0, 0, 1, 1, 0]


def test_pm25_against_parking_per_district(city: tuple[FastAPI, ChartService], tenant: str) -> None:
    _, service = city
    scatter = service.series(tenant, "pm25_vs_parking", 7)
    assert isinstance(scatter, Pm25VsParking)
    centre, north = scatter.districts
    assert centre.name == "Centre" and north.name == "North"
    # Centre: s1 alone on the 21st and 22nd, (20 + 40) / 2 on the 23rd; g1's day means 0.2, 0.1, 0.5.
    assert centre.pm25 == pytest.approx([*NONE4, 12.0, 8.0, 30.0])
    assert centre.occupancy == pytest.approx([*NONE4, 0.2, 0.1, 0.5])
    # x − x̄ = −14/3, −26/3, 40/3; y − ȳ = −1/15, −1/6, 7/30: Sxy = 438/90, Sxx = 2472/9, Syy = 78/900,
    # r = 4.86667 / √(274.667 · 0.086667) = 0.99748.
    assert centre.correlation == pytest.approx(0.99748, abs=1e-5) and centre.pairs == 3
    # North: the station has no complete PM2.5 day, so no pair and no correlation.
    assert north.pm25 == [None] * 7 and north.occupancy == pytest.approx([*NONE4, 0.4, 0.4, 0.4])
    assert north.correlation is None and north.pairs == 0
    assert scatter.to_json()["districts"][0]["correlation"] == 0.9975


def test_energy_beside_the_lighting_control_changes(city: tuple[FastAPI, ChartService], tenant: str) -> None:
    _, service = city
    chart = service.series(tenant, "energy_vs_programs", 7)
    assert isinstance(chart, EnergyVsPrograms)
    assert chart.counts() == [0, 0, 0, 0, 0, 1, 2] and chart.counts("override") == [0, 0, 0, 0, 0, 1, 2]
    assert [c.action for c in chart.changes[6]] == ["lighting.override.create", "lighting.override.withdraw"]
    summary = chart.summary()
    assert (summary["changes"], summary["daysWithChanges"]) == (3, 2)
    # Days with a change: (0.5 + 1.2) / 2; the others (4 · 0.9 + 1.5) / 5.
    assert summary["meanKwhChangeDays"] == pytest.approx(0.85)
    assert summary["meanKwhOtherDays"] == pytest.approx(1.02)
    twin = chart.to_json()
    assert twin["changes"] == [0, 0, 0, 0, 0, 1, 2] and twin["kwh"][5:] == [0.5, 1.2]
    assert twin["changeList"][0]["day"] == "2026-11-22" and twin["changeList"][0]["kind"] == "override"
    assert twin["summary"]["changeDays"] == [{"day": "2026-11-22", "changes": 1}, {"day": "2026-11-23", "changes": 2}]


def test_an_unknown_chart_is_not_found(city: tuple[FastAPI, ChartService], tenant: str) -> None:
    _, service = city
    with pytest.raises(NotFound):
        service.series(tenant, "weather", 7)
    with pytest.raises(BadRequestData):
        service.series(tenant, "alarms_daily", 14)


def test_answers_are_kept_and_a_month_reuses_the_week_s_energy(
    city: tuple[FastAPI, ChartService], tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = city
    kept = service_of(app)
    first = kept.series(tenant, "alarms_daily", 7)
    app.state.operations.report(
        AlarmReport(tenant, "parking", "kind", "urn:ngsi-ld:Thing:g", Severity.LOW, "x", local(20, 12))
    )
    assert kept.series(tenant, "alarms_daily", 7) is first  # kept: the new alarm shows later
    assert service_of(app, keep_seconds=0).series(tenant, "alarms_daily", 7).totals == [1, 0, 0, 1, 0, 1, 2]

    days: list[datetime] = []
    energy = app.state.lighting.energy

    def counted(tenant: str, start: datetime, end: datetime) -> Any:
        days.append(start)
        return energy(tenant, start, end)

    monkeypatch.setattr(app.state.lighting, "energy", counted)
    kept.series(tenant, "energy_daily", 7)
    kept.series(tenant, "energy_vs_programs", 7)  # the same week's energy: no new computation
    assert len(days) == 7
    month = kept.series(tenant, "energy_daily", 30)
    assert len(days) == 30  # only the 23 days the week did not cover
    assert isinstance(month, EnergyDaily) and len(month.days) == 30
