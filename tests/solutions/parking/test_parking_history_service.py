"""Historical occupancy of bays, zones, garages, districts and the city, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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
from urbis.solutions.parking.service import ParkingService

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
EXPAND = ContextResolver(base_url="http://localhost").resolve(URBIS_CONTEXT_URL).expand
Z1, Z2 = "urn:ngsi-ld:OnStreetParking:z1", "urn:ngsi-ld:OnStreetParking:z2"
G1 = "urn:ngsi-ld:OffStreetParking:g1"
B1 = "urn:ngsi-ld:ParkingSpot:z1-b1"
L1 = "urn:ngsi-ld:ParkingGroup:g1-level1"  # a level of the garage


def at(hh_mm: str) -> datetime:
    hours, minutes = hh_mm.split(":")
    return NOW.replace(hour=int(hours), minute=int(minutes))


def prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


@pytest.fixture
def parking(database: Database, tenant: str) -> ParkingService:
    clock = FixedClock(NOW)
    context = ContextService(database, EventBus(), default_tenant=tenant, clock=clock, reading_terms=EXPAND)
    documents: list[dict[str, Any]] = [
        {"id": Z1, "type": "OnStreetParking", "areaServed": prop("Centre")},
        {"id": Z2, "type": "OnStreetParking", "areaServed": prop("North")},
        {
            "id": G1,
            "type": "OffStreetParking",
            "areaServed": prop("Centre"),
            "totalSpotNumber": prop(100),
            "occupiedSpotNumber": prop(20),
        },
        {"id": "urn:ngsi-ld:Streetlight:l1", "type": "Streetlight"},
        {"id": L1, "type": "ParkingGroup", "areaServed": prop("Centre"), "totalSpotNumber": prop(50)},
    ]
    # Zone 1: b1 (its history below), b2 free, b3 taken, b4 closed: 4 bays, 3 usable.  Zone 2: two free bays.
    for n, status in ((1, None), (2, "free"), (3, "occupied"), (4, "closed")):
        bay = {"id": f"urn:ngsi-ld:ParkingSpot:z1-b{n}", "type": "ParkingSpot", "refParkingSite": rel(Z1)}
        documents.append(bay if status is None else {**bay, "status": prop(status)})
    documents += [
        {
            "id": f"urn:ngsi-ld:ParkingSpot:z2-b{n}",
            "type": "ParkingSpot",
            "status": prop("free"),
            "refParkingSite": rel(Z2),
        }
        for n in (1, 2)
    ]
    assert not context.upsert_documents(tenant, documents).errors

    def readings(entity: str, entity_type: str, name: str, values: list[tuple[str, Any]]) -> DeviceReadings:
        measures = []
        for hh_mm, value in values:
            moment = int(at(hh_mm).timestamp() * 1_000_000)
            measures.append(Measure(name, value, us_to_iso(moment), moment))
        return DeviceReadings(tenant, entity, entity, entity_type, measures)

    context.record(
        [
            readings(
                Z1, "OnStreetParking", "occupancy", [("09:50", 0.5), ("10:15", 1.0), ("10:20", 0.8), ("10:45", 0.0)]
            ),
            readings(Z2, "OnStreetParking", "occupancy", [("10:30", 0.4)]),
            readings(G1, "OffStreetParking", "occupancy", [("10:00", 0.2)]),
            readings(L1, "ParkingGroup", "occupancy", [("10:00", 0.9)]),
            readings(
                B1,
                "ParkingSpot",
                "status",
                [
                    ("09:00", "occupied"),
                    ("10:20", "free"),
                    ("10:35", "unknown"),
                    ("10:40", "free"),
                    ("10:50", "occupied"),
                ],
            ),
        ],
        received_us=0,
    )
    return ParkingService(
        context,
        EXPAND,
        clock=clock,
        # Raw history, not roll-ups: this fixed clock stamps rows as recorded in the past.
        temporal=TemporalService(database, context, instance_limit=1000, use_rollups=False),
    )


def rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def shares(history: Any) -> list[float | None]:
    return [share for _, _, share in history.values]


def test_a_zone_s_history_carries_values_over_slots_without_a_change(parking: ParkingService, tenant: str) -> None:
    quarter = parking.occupancy_history(tenant, place_id=Z1, start=at("10:00"), end=at("11:00"), period="PT15M")
    # 10:00 holds 0.5 (written at 09:50, before the window); 10:15 the mean of its rows (1.0 + 0.8) / 2;
    # 10:30 no row, 0.9 carried; 10:45 the 0.0 written then.
    assert shares(quarter) == pytest.approx([0.5, 0.9, 0.9, 0.0])
    assert quarter.kind == "zone" and quarter.places == 1
    assert quarter.current == pytest.approx(2 / 3)  # now: b1 and b3 taken of b1-b3 known
    assert [(start.minute, end.minute) for start, end, _ in quarter.values] == [(0, 15), (15, 30), (30, 45), (45, 0)]
    # Hours from 10:00 over 90 minutes: (0.5 + 0.9 + 0.9 + 0.0) / 4 = 0.575, then the half hour from 11:00 at 0.0.
    hourly = parking.occupancy_history(tenant, place_id=Z1, start=at("10:00"), end=at("11:30"), period="PT1H")
    assert shares(hourly) == pytest.approx([0.575, 0.0]) and hourly.values[-1][1] == at("11:30")


def test_a_day_is_cut_at_now_and_counts_the_known_hours(parking: ParkingService, tenant: str) -> None:
    # From midnight, asked until tomorrow: the window ends now (12:00).  Hours: nothing known before 09:00;
    # 09h 0.5; 10h (1.0 + 0.8 + 0.0) / 3 = 0.6; 11h 0.6 carried:  (0.5 + 0.6 + 0.6) / 3 = 0.566667.
    day = parking.occupancy_history(tenant, place_id=Z1, start=at("00:00"), end=NOW + timedelta(days=1), period="P1D")
    assert day.end == NOW and day.values == [(at("00:00"), NOW, pytest.approx(0.566667, abs=1e-6))]


def test_a_group_has_its_own_history_but_stays_out_of_its_district(parking: ParkingService, tenant: str) -> None:
    level = parking.occupancy_history(tenant, place_id=L1, start=at("10:00"), end=at("11:00"), period="PT1H")
    assert level.kind == "group" and shares(level) == pytest.approx([0.9])
    # Its garage counts its spaces already: the district is zone 1 and the garage only (see below).
    centre = parking.occupancy_history(tenant, district="Centre", start=at("10:00"), end=at("11:00"), period="PT1H")
    assert centre.places == 2


def test_a_bay_s_history_is_its_taken_time_over_its_known_time(parking: ParkingService, tenant: str) -> None:
    quarter = parking.occupancy_history(tenant, place_id=B1, start=at("10:00"), end=at("11:00"), period="PT15M")
    # Taken since 09:00.  10:00-10:15 taken; 10:15-10:30 taken 5 of 15 minutes; 10:30-10:45 free but for
    # 5 unknown minutes (0 of 10); 10:45-11:00 free 5, taken 10 (10 of 15).
    assert shares(quarter) == pytest.approx([1.0, 1 / 3, 0.0, 2 / 3])
    assert quarter.kind == "bay" and quarter.current == 1.0
    # The hour: 15 + 5 + 0 + 10 = 30 taken minutes of 55 known.
    hourly = parking.occupancy_history(tenant, place_id=B1, start=at("10:00"), end=at("11:00"), period="PT1H")
    assert shares(hourly) == pytest.approx([30 / 55])


def test_a_bay_s_changes_are_read_page_by_page(database: Database, parking: ParkingService, tenant: str) -> None:
    # Two changes a page: the four changes of the window come in two pages, and the answer is the same.
    parking.temporal = TemporalService(database, parking.context, instance_limit=2, use_rollups=False)
    quarter = parking.occupancy_history(tenant, place_id=B1, start=at("10:00"), end=at("11:00"), period="PT15M")
    assert shares(quarter) == pytest.approx([1.0, 1 / 3, 0.0, 2 / 3])


def test_districts_and_the_city_weigh_places_by_their_usable_spaces(parking: ParkingService, tenant: str) -> None:
    centre = parking.occupancy_history(tenant, district="Centre", start=at("10:00"), end=at("11:00"), period="PT1H")
    # Zone 1 (3 usable bays) at 0.575 and the garage (100 spaces) at 0.2:  (1.725 + 20) / 103 = 0.2109223.
    assert shares(centre) == pytest.approx([21.725 / 103]) and centre.places == 2 and centre.kind == "district"
    # Now: (2 + 20) taken of (3 + 100) known.
    assert centre.current == pytest.approx(22 / 103)
    city = parking.occupancy_history(tenant, start=at("10:00"), end=at("11:00"), period="PT1H")
    # Zone 2 (2 bays) is known from 10:30 at 0.4:  (1.725 + 20 + 0.8) / 105 = 0.2145238.
    assert shares(city) == pytest.approx([22.525 / 105]) and city.places == 3 and city.kind == "city"
    assert city.to_json()["values"][0]["occupancy"] == 0.2145
    # Before anything was recorded nothing is known.
    early = parking.occupancy_history(tenant, start=at("08:00"), end=at("09:00"), period="PT1H")
    assert shares(early) == [None]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"place_id": Z1, "period": "PT5M"}, BadRequestData),
        ({"place_id": Z1, "start": NOW - timedelta(days=31, minutes=1), "period": "PT15M"}, BadRequestData),
        ({"place_id": Z1, "start": NOW - timedelta(days=367), "period": "P1D"}, BadRequestData),
        ({"place_id": Z1, "district": "Centre"}, BadRequestData),
        ({"place_id": Z1, "start": NOW + timedelta(hours=1)}, BadRequestData),  # the window lies after now
        ({"place_id": "urn:ngsi-ld:Streetlight:l1"}, BadRequestData),
        ({"place_id": "urn:ngsi-ld:OnStreetParking:nope"}, NotFound),
        ({"district": "Atlantis"}, NotFound),
    ],
)
def test_bad_history_requests(parking: ParkingService, tenant: str, query: dict[str, Any], error: type) -> None:
    arguments = {"start": at("10:00"), "end": NOW, "period": "PT1H", **query}
    with pytest.raises(error):
        parking.occupancy_history(tenant, **arguments)
