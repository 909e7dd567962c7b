"""The air-quality service on SQLite and PostgreSQL: indices from hourly history, written back, alerts raised and cleared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbis.context.history import us_to_iso
from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver
from urbis.context.service import ContextService
from urbis.context.temporal import TemporalService
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.ingestion.messages import DeviceReadings, Measure
from urbis.operations.model import Severity, TicketState
from urbis.operations.service import OperationsService
from urbis.operations.store import TicketFilter
from urbis.solutions.air_quality.const import Pollutant
from urbis.solutions.air_quality.service import ALERT_KIND, AirQualityService, station_indices

NOW = datetime(2026, 11, 24, 12, 10, tzinfo=UTC)
EXPAND = ContextResolver(base_url="http://localhost").resolve(URBIS_CONTEXT_URL).expand
STATION = "urn:ngsi-ld:AirQualityObserved:s1"


def hours(values: dict[int, float]) -> list[float | None]:
    """24 hourly slots (oldest first) with ``values`` at the given positions."""
    return [values.get(position) for position in range(24)]


def test_station_indices_by_hand() -> None:
    us, eaqi, flagged = station_indices(
        {
            # PM2.5 about 40 µg/m³ for the last 12 hours (39.9 and 40.1 in turn: a constant series
            # would be flagged as a stuck sensor): NowCast 40.0 or 40.1 (weight 39.9 / 40.1 = 0.995);
            # AQI (150 - 101) / (55.4 - 35.5) * (40.0 - 35.5) + 101 = 112.08, at 40.1 112.33: 112.
            Pollutant.PM25: hours({p: 40.1 if p % 2 else 39.9 for p in range(12, 24)}),
            # NO2 100 µg/m³ = 100 * 24.45 / 46.01 = 53.14 ppb -> 53 -> AQI 50.
            Pollutant.NO2: hours({23: 100.0}),
            # O3 60 µg/m³ on average over 8 hours (59.5 and 60.5 in turn) = 60 * 24.45 / 48.00 / 1000
            # = 0.0306 ppm -> truncated 0.030 -> AQI 50 / 0.054 * 0.030 = 27.8 -> 28.
            Pollutant.O3: hours({p: 60.5 if p % 2 else 59.5 for p in range(16, 24)}),
        }
    )
    assert (us.index, us.responsible_pollutant, us.category) == (112, Pollutant.PM25, "Unhealthy for Sensitive Groups")
    assert sorted((s.pollutant.value, s.index) for s in us.sub_indices) == [("no2", 50), ("o3", 28), ("pm25", 112)]
    # EAQI 2024: PM2.5 40 is band 3 (15-50], NO2 100 band 4 (60-100], O3 60 band 1 (0-60]: worst 4.
    assert (eaqi.index, eaqi.responsible_pollutant) == (4, Pollutant.NO2)
    assert flagged == {}


def test_a_stuck_sensor_is_flagged_and_left_out() -> None:
    # Twelve identical hourly means in a row trip the flatline check: no PM NowCast from them.
    us, _, flagged = station_indices({Pollutant.PM25: hours({p: 40.0 for p in range(0, 24)})})
    assert Pollutant.PM25 in flagged and us.index is None


def test_a_spike_is_flagged_kept_visible_and_left_out_of_the_index() -> None:
    series = {p: 10.5 if p % 2 else 9.5 for p in range(24)}
    series[20] = 80.0  # 70 µg/m³ above its neighbours for one hour
    us, _, flagged = station_indices({Pollutant.PM25: hours(series)})
    assert list(flagged[Pollutant.PM25]) == [20]
    # The flagged hour drops out (its place in the weights stays): w = 9.5 / 10.5 = 0.905, NowCast
    # 10.084 -> truncated 10.0 -> AQI (100 - 51) / (35.4 - 9.1) * (10.0 - 9.1) + 51 = 52.68 -> 53.
    # With the spike in, the NowCast would be far higher.
    assert us.index == 53


@pytest.fixture
def parts(database: Database, tenant: str) -> tuple[ContextService, OperationsService, AirQualityService, FixedClock]:
    clock = FixedClock(NOW)
    context = ContextService(database, EventBus(), default_tenant=tenant, clock=clock, reading_terms=EXPAND)
    operations = OperationsService(database, context, clock=clock)
    service = AirQualityService(
        # Raw history, not roll-ups: this fixed clock stamps rows as recorded in the past, while other tests'
        # roll-up jobs on the shared database run on the real clock and would already have passed those hours.
        context,
        EXPAND,
        TemporalService(database, context, instance_limit=1000, use_rollups=False),
        operations,
        clock=clock,
    )
    return context, operations, service, clock


def record(context: ContextService, tenant: str, day: datetime, pm25: float) -> None:
    """A day's readings ending at ``day`` (an hour boundary): PM2.5 over 12 hours, O3 over 8, NO2 in the last."""
    measures = []
    for back in range(1, 13):
        at = int((day - timedelta(hours=back) + timedelta(minutes=30)).timestamp() * 1_000_000)
        # A small wobble so the series is not a flat line (a stuck sensor), mean still pm25.
        measures.append(Measure("pm25", pm25 + (0.1 if back % 2 else -0.1), us_to_iso(at), at))
        if back <= 8:
            measures.append(Measure("o3", 60.5 if back % 2 else 59.5, us_to_iso(at), at))
        if back == 1:
            measures.append(Measure("no2", 100.0, us_to_iso(at), at))
    seed = {"name": {"type": "Property", "value": "Bonn Centre"}, "areaServed": {"type": "Property", "value": "Centre"}}
    context.record([DeviceReadings(tenant, "aq-1", STATION, "AirQualityObserved", measures, seed)], received_us=0)


def test_indices_are_written_back_and_an_alert_opens_and_closes(
    parts: tuple[ContextService, OperationsService, AirQualityService, FixedClock], tenant: str
) -> None:
    context, operations, service, clock = parts
    record(context, tenant, NOW.replace(minute=0), 40.0)
    assert service.evaluate_tenant(tenant, NOW) == 1
    entity = context.get_entity(tenant, STATION)["attrs"]
    assert entity[EXPAND("airQualityIndex")][0]["value"] == 112
    assert entity[EXPAND("airQualityLevel")][0]["value"] == "Unhealthy for Sensitive Groups"
    (alarm,) = operations.list_alarms(tenant, TicketFilter())[0]
    assert (alarm.kind, alarm.source, alarm.severity, alarm.state) == (
        ALERT_KIND,
        STATION,
        Severity.MEDIUM,
        TicketState.OPEN,
    )
    assert "US AQI 112" in alarm.description and "pm25" in alarm.description
    # Still high: no second alarm, and the unchanged index is not written again.
    assert service.evaluate_tenant(tenant, NOW + timedelta(minutes=5)) == 0
    observed = context.get_entity(tenant, STATION)["attrs"][EXPAND("airQualityIndex")][0]["observedAt"]
    assert observed == "2026-11-24T12:10:00.000000Z"
    assert operations.list_alarms(tenant, TicketFilter())[1] == 1
    city, districts = service.areas(service.stations(tenant, NOW))
    assert (city.us_index, city.worst_station) == (112, STATION) and [d.name for d in districts] == ["Centre"]
    # The next day the air is clean: PM2.5 5 -> AQI 28, overall 50 (NO2) < 91: the alert clears.
    tomorrow = NOW + timedelta(days=1)
    record(context, tenant, tomorrow.replace(minute=0), 5.0)
    clock.moment = tomorrow
    service.evaluate_tenant(tenant, tomorrow)
    (closed,) = operations.list_alarms(tenant, TicketFilter())[0]
    assert closed.state is TicketState.CLOSED and closed.close_reason == "recovered"
    assert context.get_entity(tenant, STATION)["attrs"][EXPAND("airQualityIndex")][0]["value"] == 50


def test_a_forecast_that_knows_the_daily_rhythm_beats_persistence(
    parts: tuple[ContextService, OperationsService, AirQualityService, FixedClock], tenant: str
) -> None:
    context, _, service, _ = parts
    origin = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)

    def usual(hour: int) -> float:
        return 30.0 if 7 <= hour < 10 else 10.0  # a morning rush every day, UTC

    measures = []
    for back in range(1, 21 * 24 + 1):
        start = origin - timedelta(hours=back)
        at = int((start + timedelta(minutes=30)).timestamp() * 1_000_000)
        measures.append(Measure("pm25", usual(start.hour), us_to_iso(at), at))
    context.record([DeviceReadings(tenant, "aq-9", STATION, "AirQualityObserved", measures)], received_us=0)
    result = service.forecast(tenant, STATION, at=origin + timedelta(minutes=10))
    assert result.origin == origin - timedelta(hours=1)  # 23:00, the last complete hour
    by_hour = {point.start.hour: point.value for point in result.model}
    # The rhythm repeats exactly, so the model's profile is the rhythm: 30 from 07:00 to 09:00, else 10.
    assert by_hour[8] == pytest.approx(30.0) and by_hour[12] == pytest.approx(10.0)
    assert {point.value for point in result.persistence} == {10.0}  # 23:00's value, repeated
    backtest = result.backtest
    assert backtest.model_mae == pytest.approx(0.0, abs=1e-9) and backtest.persistence_mae is not None
    assert backtest.persistence_mae > 0 and backtest.beats_persistence


def test_a_station_without_history_gets_no_forecast(
    parts: tuple[ContextService, OperationsService, AirQualityService, FixedClock], tenant: str
) -> None:
    context, _, service, _ = parts
    context.upsert_documents(tenant, [{"id": STATION, "type": "AirQualityObserved"}])
    result = service.forecast(tenant, STATION)
    assert result.model == [] and result.origin is None and not result.backtest.beats_persistence
