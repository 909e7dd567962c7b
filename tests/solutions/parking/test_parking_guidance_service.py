"""Guidance on arrival, on SQLite and PostgreSQL: the forecast of each place for the arrival, fitted once an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
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
from urbis.solutions.parking.const import GuidanceParams
from urbis.solutions.parking.guidance import GuidanceOption
from urbis.solutions.parking.service import ParkingService, PricingSetup

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 24, 7, 45, tzinfo=UTC)  # Tuesday 08:45 in Berlin
EXPAND = ContextResolver(base_url="http://localhost").resolve(URBIS_CONTEXT_URL).expand
ZONE = "urn:ngsi-ld:OnStreetParking:z1"
GARAGE = "urn:ngsi-ld:OffStreetParking:g1"
DEST = (7.1000, 50.7300)
PARAMS = GuidanceParams(limit=10)


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def usual(moment: datetime) -> float:
    """The street: busy from 09:00 to 18:00 local, quiet otherwise."""
    return 0.8 if 9 <= moment.astimezone(BERLIN).hour < 18 else 0.3


class CountingTemporal(TemporalService):
    """The temporal service, counting the history reads (to show forecasters are fitted once, in a batch)."""

    reads = 0
    tenant = ""

    def history_of(self, tenant: str, *args: Any, **kwargs: Any) -> Any:
        # The evaluation visits every tenant of the shared test database: count this test's only.
        self.reads += tenant == self.tenant
        return super().history_of(tenant, *args, **kwargs)


@pytest.fixture
def parking(database: Database, tenant: str) -> ParkingService:
    clock = FixedClock(NOW)
    context = ContextService(database, EventBus(), default_tenant=tenant, clock=clock, reading_terms=EXPAND)
    zone_history, garage_history = [], []
    moment = NOW - timedelta(days=21)
    while moment < NOW:
        at_us = int(moment.timestamp() * 1_000_000)
        zone_history.append(Measure("occupancy", usual(moment), us_to_iso(at_us), at_us))
        garage_history.append(Measure("occupancy", 0.5, us_to_iso(at_us), at_us))  # always half full
        moment += timedelta(minutes=15)
    context.record(
        [
            DeviceReadings(tenant, "zone-counter", ZONE, "OnStreetParking", zone_history),
            DeviceReadings(tenant, "garage-counter", GARAGE, "OffStreetParking", garage_history),
        ],
        received_us=0,
    )
    documents: list[dict[str, Any]] = [
        {"id": ZONE, "type": "OnStreetParking", "location": point(7.1002, 50.7300)},
        {
            "id": GARAGE,
            "type": "OffStreetParking",
            "location": point(7.0995, 50.7302),
            "totalSpotNumber": {"type": "Property", "value": 10},
            "occupiedSpotNumber": {"type": "Property", "value": 2},
        },
    ]
    # One bay of four taken now: the street is at 0.25, below its usual 0.3 at this hour.
    for n, status in enumerate(["occupied", "free", "free", "free"]):
        documents.append(
            {
                "id": f"urn:ngsi-ld:ParkingSpot:b{n}",
                "type": "ParkingSpot",
                "status": {"type": "Property", "value": status},
                "location": point(7.1001 + n * 0.0001, 50.7301),
                "refParkingSite": {"type": "Relationship", "object": ZONE},
            }
        )
    assert not context.upsert_documents(tenant, documents).errors
    # Raw history, not roll-ups: this fixed clock stamps rows as recorded in the past.
    temporal = CountingTemporal(database, context, instance_limit=1000, use_rollups=False)
    temporal.tenant = tenant
    return ParkingService(context, EXPAND, clock=clock, temporal=temporal, pricing=PricingSetup(tz=BERLIN))


def by_id(options: list[GuidanceOption]) -> dict[str, GuidanceOption]:
    return {option.candidate.place_id: option for option in options}


def test_arriving_now_is_judged_by_the_live_state(parking: ParkingService, tenant: str) -> None:
    options = by_id(parking.guidance(tenant, *DEST, PARAMS))
    zone, garage = options[ZONE], options[GARAGE]
    assert zone.candidate.basis == garage.candidate.basis == "live"
    # Zone: 1 of 4 taken, σ 0.05:  κ = 0.1875 / 0.0025 − 1 = 74, a = 18.5, b = 55.5;
    # P(full) = 18.5/74 · 19.5/75 · 20.5/76 · 21.5/77 = 0.0048955  →  P(free) = 0.9951045.
    assert zone.occupancy_on_arrival == 0.25 and zone.probability_free == pytest.approx(0.9951045, abs=1e-6)
    assert garage.occupancy_on_arrival == pytest.approx(0.2)
    # The three free bays, each sure to be free on an arrival this soon (the live rule); the taken one is not offered.
    bays = [o for o in options.values() if o.candidate.kind == "bay"]
    assert sorted(o.candidate.place_id for o in bays) == [f"urn:ngsi-ld:ParkingSpot:b{n}" for n in (1, 2, 3)]
    assert all(o.probability_free == 1.0 and o.candidate.basis == "live" for o in bays)
    assert bays[0].candidate.site_id == ZONE
    assert parking.temporal is not None and parking.temporal.reads == 0  # nothing to forecast: no history read


def test_arriving_in_30_minutes_uses_the_forecast_and_fits_once(parking: ParkingService, tenant: str) -> None:
    temporal = parking.temporal
    assert isinstance(temporal, CountingTemporal)
    options = by_id(parking.guidance(tenant, *DEST, PARAMS, arrive_at=NOW + timedelta(minutes=30)))
    # 09:15 local: the street's usual 0.8.  The pattern repeats exactly, so the baseline's held-out error
    # is 0 and it is served (σ = 0): the independent 1 − 0.8⁴ = 1 − 0.4096 = 0.5904.
    zone = options[ZONE]
    assert zone.candidate.basis == "forecast" and zone.occupancy_sd == pytest.approx(0.0, abs=1e-12)
    assert zone.occupancy_on_arrival == pytest.approx(0.8)
    assert zone.probability_free == pytest.approx(0.5904)
    # The garage is always half full: 1 − 0.5¹⁰ = 0.9990234.
    garage = options[GARAGE]
    assert garage.candidate.basis == "forecast" and garage.occupancy_on_arrival == pytest.approx(0.5)
    assert garage.probability_free == pytest.approx(0.9990234, abs=1e-7)
    # A bay free now is taken on arrival as likely as any bay of its street: 1 − 0.8 = 0.2.
    assert options["urn:ngsi-ld:ParkingSpot:b1"].probability_free == pytest.approx(0.2)
    # Both places were fitted from one batch: the slot means and the values before the window.
    assert temporal.reads == 2
    # Later requests this hour (another arrival, the forecast API) read nothing.
    later = by_id(parking.guidance(tenant, *DEST, PARAMS, arrive_at=NOW + timedelta(minutes=90)))
    assert temporal.reads == 2
    # 10:15 local is past the last horizon (09:45): the weekday-and-slot mean, 0.8.
    assert later[ZONE].candidate.basis == "historical mean" and later[ZONE].occupancy_on_arrival == pytest.approx(0.8)
    assert parking.forecast(tenant, GARAGE).predictions[15] == pytest.approx(0.5)
    assert temporal.reads == 2
    # An hour on, they are refitted (again in one batch).
    an_hour_on = NOW + timedelta(hours=1)
    parking.guidance(tenant, *DEST, PARAMS, arrive_at=an_hour_on + timedelta(minutes=30), now=an_hour_on)
    assert temporal.reads == 4


def test_kinds_narrow_the_options(parking: ParkingService, tenant: str) -> None:
    options = parking.guidance(tenant, *DEST, PARAMS, kinds=frozenset({"garage"}))
    assert [o.candidate.place_id for o in options] == [GARAGE]


def test_the_background_evaluation_fits_the_forecasters_for_the_requests(parking: ParkingService, tenant: str) -> None:
    temporal = parking.temporal
    assert isinstance(temporal, CountingTemporal)
    parking.evaluate(NOW)
    assert temporal.reads == 2  # both places, one batch
    options = by_id(parking.guidance(tenant, *DEST, PARAMS, arrive_at=NOW + timedelta(minutes=30)))
    assert options[ZONE].candidate.basis == "forecast" and temporal.reads == 2
