"""The air-quality service on SQLite and PostgreSQL: A/B channels and humidity correction before the indices,
daily values of local days and WHO figures per station, district and city (values worked by hand)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from urbis.context.history import us_to_iso
from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver
from urbis.context.service import ContextService
from urbis.context.temporal import TemporalService
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.core.errors import BadRequestData, NotFound
from urbis.ingestion.messages import DeviceReadings, Measure
from urbis.solutions.air_quality.const import CHANNEL_A_DATASET, CHANNEL_B_DATASET, Pollutant
from urbis.solutions.air_quality.model import BARKJOHN_2021_US, DayStatus, QcFlag
from urbis.solutions.air_quality.service import AirQualityService

EXPAND = ContextResolver(base_url="http://localhost").resolve(URBIS_CONTEXT_URL).expand


def station_id(name: str) -> str:
    return f"urn:ngsi-ld:AirQualityObserved:{name}"


def make(database: Database, tenant: str, now: datetime) -> tuple[ContextService, AirQualityService]:
    clock = FixedClock(now)
    context = ContextService(database, EventBus(), default_tenant=tenant, clock=clock, reading_terms=EXPAND)
    # Raw history, not roll-ups: the fixed clock stamps rows as recorded in the past (see test_aq_service).
    temporal = TemporalService(database, context, instance_limit=1000, use_rollups=False)
    service = AirQualityService(context, EXPAND, temporal, None, clock=clock, timezone="Europe/Berlin")
    return context, service


def reading(attribute: str, hour: datetime, value: float, dataset_id: str | None = None) -> Measure:
    """A reading in the middle of the hour that starts at ``hour``."""
    at = int((hour + timedelta(minutes=30)).timestamp() * 1_000_000)
    return Measure(attribute, value, us_to_iso(at), at, dataset_id=dataset_id)


def record(context: ContextService, tenant: str, name: str, measures: Sequence[Measure], **seed: str) -> None:
    attrs = {key: {"type": "Property", "value": value} for key, value in seed.items()}
    context.record(
        [DeviceReadings(tenant, name, station_id(name), "AirQualityObserved", list(measures), attrs)], received_us=0
    )


# -- A/B channels and the humidity correction -----------------------------------------------------

NOW = datetime(2026, 11, 24, 12, 10, tzinfo=UTC)
LAST = datetime(2026, 11, 24, 11, tzinfo=UTC)  # the last complete hour: position 23 of 24


def test_low_cost_channels_are_combined_and_corrected_before_the_index(database: Database, tenant: str) -> None:
    context, service = make(database, tenant, NOW)
    two_hours = [LAST - timedelta(hours=1), LAST]
    low_cost = [
        # Two hours where the channels agree (45 and 47: mean 46) at 50 % humidity (0.5 as Smart Data Models
        # have it); the hour before, they disagree (|10 − 40| = 30 > 5 and 30 / 25 > 70 %).
        *(reading("pm25", hour, 45.0, CHANNEL_A_DATASET) for hour in two_hours),
        *(reading("pm25", hour, 47.0, CHANNEL_B_DATASET) for hour in two_hours),
        reading("pm25", LAST - timedelta(hours=2), 10.0, CHANNEL_A_DATASET),
        reading("pm25", LAST - timedelta(hours=2), 40.0, CHANNEL_B_DATASET),
        *(reading("relativeHumidity", LAST - timedelta(hours=n), 0.5) for n in range(3)),
    ]
    record(context, tenant, "lowcost", low_cost, sensorGrade="low-cost")
    # The same air seen by a reference monitor (humidity reported, never applied) and by a low-cost
    # node without a hygrometer: neither is corrected.
    plain = [*(reading("pm25", hour, 46.0) for hour in two_hours), reading("relativeHumidity", LAST, 0.5)]
    record(context, tenant, "reference", plain, sensorGrade="reference")
    record(context, tenant, "nohygro", [reading("pm25", hour, 46.0) for hour in two_hours], sensorGrade="low-cost")
    # A low-cost node whose hygrometer last spoke two days ago: its hours cannot be corrected, so none counts.
    silent = [
        *(reading("pm25", hour, 46.0) for hour in two_hours),
        reading("relativeHumidity", LAST - timedelta(days=2), 0.5),
    ]
    record(context, tenant, "silent", silent, sensorGrade="low-cost")

    stations = {station.id: station for station in service.stations(tenant)}
    corrected = stations[station_id("lowcost")]
    # 0.524 · 46 − 0.0862 · 50 + 5.75 = 25.544; NowCast of two equal hours (w = 1) 25.544 → 25.5;
    # AQI (100 − 51) / (35.4 − 9.1) · (25.5 − 9.1) + 51 = 81.56 → 82.
    assert corrected.us.index == 82 and corrected.sensor_grade == "low-cost"
    assert corrected.flagged == {Pollutant.PM25: {21: (QcFlag.CHANNEL_DISAGREEMENT,)}}
    inputs = corrected.inputs[Pollutant.PM25]
    assert inputs.channels and inputs.correction == BARKJOHN_2021_US
    last = inputs.hours[23]
    assert (last.channel_a, last.channel_b, last.raw, last.relative_humidity) == (45.0, 47.0, 46.0, 50.0)
    assert last.value == pytest.approx(25.544) and last.method == BARKJOHN_2021_US
    assert corrected.hourly[Pollutant.PM25][23] == pytest.approx(25.544)
    # Uncorrected 46.0: AQI (150 − 101) / (55.4 − 35.5) · (46.0 − 35.5) + 101 = 126.85 → 127.
    for name in ("reference", "nohygro"):
        assert stations[station_id(name)].us.index == 127 and stations[station_id(name)].inputs == {}
    quiet = stations[station_id("silent")]
    assert quiet.us.index is None
    assert quiet.flagged == {Pollutant.PM25: {22: (QcFlag.HUMIDITY_MISSING,), 23: (QcFlag.HUMIDITY_MISSING,)}}
    assert service.evaluate_tenant(tenant, NOW) == 3  # the silent node has no index to write
    entity = context.get_entity(tenant, station_id("lowcost"))["attrs"]
    assert entity[EXPAND("airQualityIndex")][0]["value"] == 82


# -- daily values and WHO figures -----------------------------------------------------------------

TODAY = datetime(2026, 1, 7, 9, 10, tzinfo=UTC)  # 10:10 in Berlin (UTC+1)
JAN5 = datetime(2026, 1, 4, 23, tzinfo=UTC)  # local midnight of 5 January
JAN6 = datetime(2026, 1, 5, 23, tzinfo=UTC)
O3_JAN5 = datetime(2026, 1, 5, 6, tzinfo=UTC)  # 07:00 CET


def city(context: ContextService, tenant: str) -> None:
    """Three stations: s1 and s2 in Centre with PM2.5 (s1 also O3), s3 in North measuring PM10 but without data."""
    s1 = [
        # 5 Jan, local hours 00–17: 18 hours (19 and 21 in turn, mean 20); a UTC day would see 17 of them.
        *(reading("pm25", JAN5 + timedelta(hours=n), 19.0 if n % 2 == 0 else 21.0) for n in range(18)),
        # 6 Jan: 17 hours only.
        *(reading("pm25", JAN6 + timedelta(hours=n), 29.0 if n % 2 == 0 else 31.0) for n in range(17)),
        # O3 day of 5 Jan (07:00 to 07:00 CET): 100 and 102 in turn, so every 8-h mean is 101.
        *(reading("o3", O3_JAN5 + timedelta(hours=n), 100.0 if n % 2 == 0 else 102.0) for n in range(24)),
    ]
    record(context, tenant, "s1", s1, areaServed="Centre")
    s2 = [reading("pm25", JAN5 + timedelta(hours=n), 9.0 if n % 2 == 0 else 11.0) for n in range(18)]
    record(context, tenant, "s2", s2, areaServed="Centre")
    context.upsert_documents(
        tenant,
        [
            {
                "id": station_id("s3"),
                "type": "AirQualityObserved",
                "areaServed": {"type": "Property", "value": "North"},
                "pm10": {"type": "Property", "value": 12.0},
            }
        ],
    )


def test_daily_values_are_local_days_and_count_only_when_complete(database: Database, tenant: str) -> None:
    context, service = make(database, tenant, TODAY)
    city(context, tenant)
    result = service.daily(tenant, station_id("s1"), date(2026, 1, 5), date(2026, 1, 31))
    assert (result.first, result.last, result.timezone) == (date(2026, 1, 5), date(2026, 1, 7), "Europe/Berlin")
    pm25 = result.days[Pollutant.PM25]
    assert [(d.day.day, d.status, d.value, d.hours, d.valid_hours) for d in pm25] == [
        (5, DayStatus.COMPLETE, 20.0, 24, 18),
        (6, DayStatus.INCOMPLETE, None, 24, 17),
        (7, DayStatus.IN_PROGRESS, None, 24, 0),
    ]
    o3 = result.days[Pollutant.O3]
    assert (o3[0].status, o3[0].value, o3[0].valid_averages, o3[0].peak_start_hour) == (
        DayStatus.COMPLETE,
        101.0,
        17,
        7,
    )
    assert [d.status for d in o3[1:]] == [DayStatus.INCOMPLETE, DayStatus.IN_PROGRESS]
    who = result.who[Pollutant.PM25].exceedances
    # One complete day at 20 > 15 (AQG): one exceedance, none allowed in a single valid day.
    assert (who.exceedance_days, who.valid_days, who.allowed_days, who.complies) == (1, 1, 0, False)
    assert (result.who[Pollutant.PM25].incomplete_days, result.who[Pollutant.PM25].in_progress_days) == (1, 1)
    # O3: 101 > 100 (8-h AQG).
    assert result.who[Pollutant.O3].exceedances.exceedance_days == 1
    with pytest.raises(NotFound):
        service.daily(tenant, station_id("nowhere"))


def test_who_figures_per_station_district_and_city(database: Database, tenant: str) -> None:
    context, service = make(database, tenant, TODAY)
    city(context, tenant)
    report = service.who(tenant)  # this year so far: 1 to 7 January
    assert (report.first, report.last) == (date(2026, 1, 1), date(2026, 1, 7))
    assert [s.id for s in report.stations] == [station_id(n) for n in ("s1", "s2", "s3")]
    s2 = report.stations[1].who[Pollutant.PM25]
    assert (s2.exceedances.exceedance_days, s2.exceedances.valid_days, s2.incomplete_days) == (0, 1, 5)
    # s3 measures PM10 but reported nothing in the window: shown with every day incomplete, not dropped.
    s3 = report.stations[2].who
    assert list(s3) == [Pollutant.PM10]
    assert (s3[Pollutant.PM10].exceedances.valid_days, s3[Pollutant.PM10].incomplete_days) == (0, 6)
    centre, north = report.districts
    assert (centre.name, centre.stations, north.name, north.stations) == ("Centre", 2, "North", 1)
    pm25 = centre.figures[Pollutant.PM25]
    assert (pm25.worst_station, pm25.exceedance_days, pm25.stations_with_data, pm25.not_complying) == (
        station_id("s1"),
        1,
        2,
        1,
    )
    assert list(north.figures) == [Pollutant.PM10]
    assert (north.figures[Pollutant.PM10].stations_with_data, north.figures[Pollutant.PM10].worst_station) == (0, None)
    assert report.city.stations == 3 and report.city.figures[Pollutant.O3].worst_station == station_id("s1")


def test_a_window_is_checked(database: Database, tenant: str) -> None:
    _, service = make(database, tenant, TODAY)
    assert service.window(None, None) == (date(2026, 1, 1), date(2026, 1, 7))
    assert service.window(date(2025, 1, 7), None) == (date(2025, 1, 7), date(2026, 1, 7))  # 366 days
    assert service.window(date(2025, 12, 1), date(2025, 12, 31)) == (date(2025, 12, 1), date(2025, 12, 31))
    with pytest.raises(BadRequestData, match="at most 366"):
        service.window(date(2025, 1, 6), None)
    with pytest.raises(BadRequestData, match="before"):
        service.window(date(2026, 1, 5), date(2026, 1, 4))
    with pytest.raises(BadRequestData, match="after today"):
        service.window(date(2026, 1, 8), date(2026, 1, 9))
