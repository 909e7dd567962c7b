"""Demand-based prices on SQLite and PostgreSQL: occupancy history per time band → SFpark decisions → rates and log."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver
from urbis.context.service import ContextService
from urbis.context.temporal import TemporalService
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.solutions.parking.const import DEFAULT_TIME_BANDS
from urbis.solutions.parking.service import ParkingService, PricingSetup, band_occupancy

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # a Tuesday
EXPAND = ContextResolver(base_url="http://localhost").resolve(URBIS_CONTEXT_URL).expand
BANDS = {band.name: band for band in DEFAULT_TIME_BANDS}
ZONE = "urn:ngsi-ld:OnStreetParking:z1"


def us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def test_band_occupancy_averages_the_hours_that_start_inside_the_band_in_local_time() -> None:
    hour = 3_600_000_000
    hourly = [
        # Monday 23 Nov 2026, 09:00 UTC = 10:00 in Berlin (UTC+1): weekday morning.
        (0.9, us(datetime(2026, 11, 23, 9, tzinfo=UTC)), us(datetime(2026, 11, 23, 10, tzinfo=UTC))),
        # 11:00 UTC = 12:00 local: the midday band, not the morning one.
        (0.1, us(datetime(2026, 11, 23, 11, tzinfo=UTC)), us(datetime(2026, 11, 23, 11, tzinfo=UTC)) + hour),
        # 07:00 UTC = 08:00 local: before every band.
        (0.5, us(datetime(2026, 11, 23, 7, tzinfo=UTC)), us(datetime(2026, 11, 23, 8, tzinfo=UTC))),
        # Friday 20 Nov, 10:00 UTC = 11:00 local: weekday morning.
        (0.7, us(datetime(2026, 11, 20, 10, tzinfo=UTC)), us(datetime(2026, 11, 20, 11, tzinfo=UTC))),
    ]
    # (0.9 + 0.7) / 2 = 0.8
    assert band_occupancy(hourly, BANDS["weekday-morning"], BERLIN) == pytest.approx(0.8)
    assert band_occupancy(hourly, BANDS["weekday-midday"], BERLIN) == pytest.approx(0.1)
    assert band_occupancy(hourly, BANDS["weekend-morning"], BERLIN) is None


@pytest.fixture
def parking(database: Database, tenant: str) -> ParkingService:
    clock = FixedClock(NOW)
    context = ContextService(database, EventBus(), default_tenant=tenant, clock=clock, reading_terms=EXPAND)
    # Raw history, not roll-ups: this fixed clock stamps rows as recorded in the past, while other tests'
    # roll-up jobs on the shared database run on the real clock and would already have passed those hours.
    temporal = TemporalService(database, context, instance_limit=1000, use_rollups=False)
    zone = {"id": ZONE, "type": "OnStreetParking", "category": {"type": "Property", "value": ["public", "feeCharged"]}}
    residents = {
        "id": "urn:ngsi-ld:OnStreetParking:r1",
        "type": "OnStreetParking",
        "category": {"type": "Property", "value": ["public", "forResidents"]},
    }
    assert not context.upsert_documents(tenant, [zone, residents]).errors
    readings = [
        ("2026-11-23T09:00:00Z", 0.95),  # Monday 10:00 local
        ("2026-11-20T09:30:00Z", 0.85),  # Friday 10:30 local
        ("2026-11-21T12:00:00Z", 0.2),  # Saturday 13:00 local
        ("2026-11-21T12:30:00Z", 0.2),
    ]
    for observed, value in readings:
        document = {
            "id": ZONE,
            "type": "OnStreetParking",
            "occupancy": {"type": "Property", "value": value, "observedAt": observed},
        }
        assert not context.update_documents(tenant, [document]).errors
    return ParkingService(
        context,
        EXPAND,
        clock=clock,
        db=database,
        temporal=temporal,
        pricing=PricingSetup(tz=BERLIN, base_price=Decimal("2.00")),
    )


def test_a_review_moves_prices_by_the_band_occupancy_and_logs_why(parking: ParkingService, tenant: str) -> None:
    decisions = {d.time_band: d for d in parking.review_prices(tenant, NOW)}
    assert {d.zone_id for d in decisions.values()} == {ZONE}  # the residents' zone is not priced
    # Hourly values (UTC hours; Berlin is UTC+1, so the bands 09-12, 12-15, 15-18 local start at
    # 08, 11 and 14 UTC).  A zone's occupancy is written only when it changes: an hour without a
    # row holds the value before it.  Nothing before Friday 09:30 UTC (those hours are unknown).
    # Weekday morning: Fri 09h 0.85, Fri 10h 0.85 (carried); Mon 08h 0.2 (carried from Saturday),
    # Mon 09h 0.95, Mon 10h 0.95; Tue 08-10h 0.95 x 3:  (1.7 + 0.2 + 4.75) / 8 = 0.83125 >= 80 % -> +0.25.
    assert decisions["weekday-morning"].new_price == Decimal("2.25")
    # Weekday midday and afternoon, no row at all but carried: Fri 0.85 x 3, Mon and Tue 0.95 x 6:
    # (2.55 + 5.7) / 9 = 0.91667 -> +0.25 (a street full all afternoon counts although it never changed).
    assert decisions["weekday-midday"].new_price == decisions["weekday-afternoon"].new_price == Decimal("2.25")
    # Weekend morning: Sat 08-10h 0.85 (carried from Friday), Sun 08-10h 0.2:  3.15 / 6 = 0.525 -> -0.25.
    assert decisions["weekend-morning"].new_price == Decimal("1.75")
    # Weekend midday: Sat 11h 0.85, Sat 12h (0.2 + 0.2) / 2, Sat 13h 0.2, Sun 11-13h 0.2:
    # (0.85 + 5 x 0.2) / 6 = 0.30833, in 30-60 % -> -0.25.
    assert decisions["weekend-midday"].new_price == Decimal("1.75")
    # Weekend afternoon: 0.2 throughout < 30 % -> -0.50.
    assert decisions["weekend-afternoon"].new_price == Decimal("1.50")
    rates = {r.time_band: r for r in parking.current_rates(tenant)}
    assert rates["weekday-morning"].price == Decimal("2.25") and rates["weekday-morning"].last_change_at == NOW
    assert rates["weekend-afternoon"].price == Decimal("1.50")
    log, total = parking.price_log(tenant)
    assert total == 6 and {entry["timeBand"] for entry in log} == set(BANDS)
    assert all("occupancy" in entry["reason"] for entry in log)
    # Straight away again: inside the adjustment period, changed prices are held; nothing new is logged.
    again = {d.time_band: d for d in parking.review_prices(tenant, NOW)}
    assert again["weekday-morning"].outcome.value == "held" and again["weekday-morning"].new_price == Decimal("2.25")
    assert parking.price_log(tenant)[1] == 6
    assert parking.price_log(tenant, zone_id="urn:ngsi-ld:OnStreetParking:other")[1] == 0
