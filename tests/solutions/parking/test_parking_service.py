"""The parking service on SQLite and PostgreSQL: occupancy from the city's entities, written back, guidance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver
from urbis.context.service import ContextService
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database
from urbis.solutions.parking.service import ParkingService

T0 = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
EXPAND = ContextResolver(base_url="http://localhost").resolve(URBIS_CONTEXT_URL).expand


def prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def zone(n: int, district: str, lon: float, lat: float) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:OnStreetParking:z{n}",
        "type": "OnStreetParking",
        "name": prop(f"Zone {n}"),
        "areaServed": prop(district),
        "location": {
            "type": "GeoProperty",
            "value": {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.001, lat]]},
        },
    }


def bay(n: int, z: int, status: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": f"urn:ngsi-ld:ParkingSpot:z{z}-b{n}",
        "type": "ParkingSpot",
        "refParkingSite": {"type": "Relationship", "object": f"urn:ngsi-ld:OnStreetParking:z{z}"},
    }
    if status is not None:
        document["status"] = prop(status)
    return document


def garage(capacity: int, occupied: int, lon: float, lat: float) -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:OffStreetParking:g1",
        "type": "OffStreetParking",
        "name": prop("Garage 1"),
        "areaServed": prop("Centre"),
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
        "totalSpotNumber": prop(capacity),
        "occupiedSpotNumber": prop(occupied),
    }


@pytest.fixture
def city(database: Database, tenant: str) -> tuple[ContextService, ParkingService]:
    context = ContextService(database, EventBus(), default_tenant=tenant, clock=FixedClock(T0), reading_terms=EXPAND)
    # Zone 1 (Centre): 3 occupied, 1 free, 1 closed, 1 without a reading. Zone 2 (North): 2 free.
    statuses = ["occupied", "occupied", "occupied", "free", "closed", None]
    documents = [zone(1, "Centre", 7.10, 50.73), zone(2, "North", 7.10, 50.76)]
    documents += [bay(i, 1, s) for i, s in enumerate(statuses)] + [bay(i, 2, "free") for i in range(2)]
    documents.append(garage(100, 104, 7.101, 50.731))  # counts more cars than spaces: clamped
    assert not context.upsert_documents(tenant, documents).errors
    return context, ParkingService(context, EXPAND, clock=FixedClock(T0))


def test_occupancy_per_zone_garage_district_and_city(city: tuple[ContextService, ParkingService], tenant: str) -> None:
    _, parking = city
    overview = parking.overview(tenant).to_json()
    z1, z2 = overview["zones"]
    # Zone 1: rate over the known bays only, 3 / (3 + 1) = 0.75.
    assert (z1["capacity"], z1["occupied"], z1["free"], z1["closed"], z1["unknown"], z1["occupancy"]) == (
        6,
        3,
        1,
        1,
        1,
        0.75,
    )
    assert (z2["occupied"], z2["free"], z2["occupancy"]) == (0, 2, 0.0)
    (g1,) = overview["garages"]
    assert (g1["occupied"], g1["free"], g1["clamped"]) == (100, 0, True)
    districts = {d["name"]: d for d in overview["districts"]}
    # Centre: zone 1 and the garage, (3 + 100) / (4 + 100) = 0.990385 -> 0.9904.
    assert districts["Centre"]["occupancy"] == 0.9904 and districts["North"]["occupancy"] == 0.0
    # City: (3 + 0 + 100) / (4 + 2 + 100) = 103 / 106 = 0.971698 -> 0.9717.
    assert overview["city"]["occupancy"] == 0.9717


def test_evaluation_writes_changed_zone_counts_and_garage_shares_back(
    city: tuple[ContextService, ParkingService], tenant: str
) -> None:
    context, parking = city
    assert parking.evaluate_tenant(tenant, T0) == 3  # two zones and the garage
    # The garage's counters stay its devices'; its share (104 cars on 100 spaces, clamped: 1.0) is added.
    g1 = context.get_entity(tenant, "urn:ngsi-ld:OffStreetParking:g1")["attrs"]
    assert g1[EXPAND("occupancy")][0]["value"] == 1.0 and g1[EXPAND("occupiedSpotNumber")][0]["value"] == 104
    stored = context.get_entity(tenant, "urn:ngsi-ld:OnStreetParking:z1")["attrs"]
    assert stored[EXPAND("occupiedSpotNumber")][0]["value"] == 3
    assert stored[EXPAND("availableSpotNumber")][0]["value"] == 1
    assert stored[EXPAND("occupancy")][0]["value"] == 0.75
    assert stored[EXPAND("occupancy")][0]["observedAt"] == "2026-11-24T08:30:00.000000Z"
    assert stored[EXPAND("name")][0]["value"] == "Zone 1"  # what the zone had stays
    assert parking.evaluate_tenant(tenant, T0) == 0  # nothing changed: nothing written
    context.update_documents(
        tenant, [{"id": "urn:ngsi-ld:ParkingSpot:z2-b0", "type": "ParkingSpot", "status": prop("occupied")}]
    )
    assert parking.evaluate_tenant(tenant, T0) == 1
    z2 = context.get_entity(tenant, "urn:ngsi-ld:OnStreetParking:z2")["attrs"]
    assert z2[EXPAND("occupancy")][0]["value"] == 0.5


def test_guidance_prefers_the_near_place_with_space(city: tuple[ContextService, ParkingService], tenant: str) -> None:
    _, parking = city
    # Next to zone 1 and the (full) garage; zone 2 is about 3.3 km north, beyond the walk.
    options = parking.guidance(tenant, 7.1005, 50.7302)
    ids = [o.candidate.place_id for o in options]
    assert ids == ["urn:ngsi-ld:OnStreetParking:z1", "urn:ngsi-ld:OffStreetParking:g1"]
    best, full = options
    # Zone 1 offers its 5 usable bays; 1 of 4 known is free, so 5 * 1 / 4 = 1.25 -> 1 free expected.
    assert best.candidate.capacity == 5 and best.candidate.free == 1
    assert 0.0 < best.probability_free < 1.0 and best.walking_m < 100
    assert full.probability_free == 0.0 and full.walking_m > best.walking_m


def test_groups_are_counted_from_their_bays_or_their_counters(
    city: tuple[ContextService, ParkingService], tenant: str
) -> None:
    context, parking = city
    row = "urn:ngsi-ld:ParkingGroup:z1-row"
    level = "urn:ngsi-ld:ParkingGroup:g1-level1"
    documents = [
        {
            "id": row,
            "type": "ParkingGroup",
            "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:OnStreetParking:z1"},
        },
        {"id": level, "type": "ParkingGroup", "totalSpotNumber": prop(40), "availableSpotNumber": prop(10)},
    ]
    assert not context.upsert_documents(tenant, documents).errors
    # Bays 0 (occupied) and 3 (free) of zone 1 form the row.
    bays = [
        {
            "id": f"urn:ngsi-ld:ParkingSpot:z1-b{n}",
            "type": "ParkingSpot",
            "refParkingGroup": {"type": "Relationship", "object": row},
        }
        for n in (0, 3)
    ]
    assert not context.update_documents(tenant, bays).errors
    overview = parking.overview(tenant).to_json()
    groups = {g["id"]: g for g in overview["groups"]}
    # The row from its bays: 1 of 2 taken.  The level from its counters: 40 − 10 = 30 of 40 taken.
    assert (groups[row]["capacity"], groups[row]["occupancy"]) == (2, 0.5)
    assert (groups[level]["capacity"], groups[level]["occupied"], groups[level]["occupancy"]) == (40, 30, 0.75)
    # Groups lie inside sites that count their spaces already: the city is as before, 103 / 106.
    assert overview["city"]["occupancy"] == 0.9717
    assert parking.evaluate_tenant(tenant, T0) == 5  # two zones, the garage and both groups
    stored = context.get_entity(tenant, level)["attrs"]
    assert stored[EXPAND("occupancy")][0]["value"] == 0.75
