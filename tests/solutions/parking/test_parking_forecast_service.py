"""Zone occupancy forecasts from history, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from urbis.context.history import us_to_iso
from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver
from urbis.context.service import ContextService
from urbis.context.temporal import TemporalService
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.ingestion.messages import DeviceReadings, Measure
from urbis.solutions.parking.service import ParkingService, PricingSetup, on_grid

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 24, 7, 45, tzinfo=UTC)  # Tuesday 08:45 in Berlin
EXPAND = ContextResolver(base_url="http://localhost").resolve(URBIS_CONTEXT_URL).expand
ZONE = "urn:ngsi-ld:OnStreetParking:z1"


def test_on_grid_carries_the_last_value_over_slots_without_a_change() -> None:
    start = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    slot = 15 * 60 * 1_000_000
    first = int(start.timestamp() * 1e6) + slot  # nothing in the first slot
    periods = [(0.5, first, first + slot), (0.7, first + 2 * slot, first + 3 * slot)]
    grid = on_grid(periods, start, start + timedelta(hours=1), 15)
    # 00:00 has no value yet (left out); 00:15 0.5; 00:30 carried 0.5; 00:45 0.7.
    assert [(o.at.minute, o.occupancy) for o in grid] == [(15, 0.5), (30, 0.5), (45, 0.7)]


def usual(moment: datetime) -> float:
    """Busy from 09:00 to 18:00 local, quiet otherwise."""
    return 0.8 if 9 <= moment.astimezone(BERLIN).hour < 18 else 0.3


@pytest.fixture
def parking(database: Database, tenant: str) -> ParkingService:
    clock = FixedClock(NOW)
    context = ContextService(database, EventBus(), default_tenant=tenant, clock=clock, reading_terms=EXPAND)
    measures = []
    moment = NOW - timedelta(days=21)
    while moment < NOW:
        at_us = int(moment.timestamp() * 1_000_000)
        measures.append(Measure("occupancy", usual(moment), us_to_iso(at_us), at_us))
        moment += timedelta(minutes=15)
    context.record([DeviceReadings(tenant, "zone-counter", ZONE, "OnStreetParking", measures)], received_us=0)
    context.upsert_documents(tenant, [{"id": "urn:ngsi-ld:OnStreetParking:new", "type": "OnStreetParking"}])
    return ParkingService(
        context,
        EXPAND,
        clock=clock,
        # Raw history, not roll-ups: this fixed clock stamps rows as recorded in the past, while other tests'
        # roll-up jobs on the shared database run on the real clock and would already have passed those hours.
        temporal=TemporalService(database, context, instance_limit=1000, use_rollups=False),
        pricing=PricingSetup(tz=BERLIN),
    )


def test_a_regular_zone_is_forecast_by_its_weekday_and_slot_mean(parking: ParkingService, tenant: str) -> None:
    result = parking.forecast(tenant, ZONE)
    assert result.at == NOW and result.current == 0.3 and result.observations == 21 * 96
    # From 08:45 local: +15 min is 09:00 (busy, 0.8), +30 is 09:15, +60 is 09:45.
    assert result.predictions == {15: pytest.approx(0.8), 30: pytest.approx(0.8), 60: pytest.approx(0.8)}
    # A pattern without deviations: the baseline is exact on the held-out days, so no model beats it.
    for score in result.scores:
        assert score.baseline_mae == pytest.approx(0.0, abs=1e-9) and not score.model_served


def test_a_zone_without_history_gets_no_forecast(parking: ParkingService, tenant: str) -> None:
    result = parking.forecast(tenant, "urn:ngsi-ld:OnStreetParking:new")
    assert result.predictions == {} and result.observations == 0
