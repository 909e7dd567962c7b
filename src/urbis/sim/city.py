"""A deterministic, made-up city of static entities, for the broker benchmark (``urbis bench broker``).

The living demo city is the simulated Bonn (:mod:`urbis.sim.world` and :mod:`urbis.sim.runner`).
Entities come out as NGSI-LD (normalized) dicts in the terms of the Urbis
@context, so they can be sent to any NGSI-LD broker as they are.  The same
seed always gives the same city.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Centre of the demo city (a made-up "Urbisville" placed on open land near 48.14 N, 11.58 E).
CENTRE_LON = 11.5755
CENTRE_LAT = 48.1374
METRES_PER_DEGREE_LAT = 111_195.0


@dataclass(frozen=True)
class CityPlan:
    """The size of the generated city."""

    name: str = "Urbisville"
    districts_per_side: int = 3
    width_m: float = 8000.0
    height_m: float = 6000.0
    seed: int = 7


def _offset(east_m: float, north_m: float) -> tuple[float, float]:
    lat = CENTRE_LAT + north_m / METRES_PER_DEGREE_LAT
    lon = CENTRE_LON + east_m / (METRES_PER_DEGREE_LAT * math.cos(math.radians(CENTRE_LAT)))
    return round(lon, 7), round(lat, 7)


def _prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


def _rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def _point(east_m: float, north_m: float) -> dict[str, Any]:
    lon, lat = _offset(east_m, north_m)
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


class CityGenerator:
    """Generates the city's entities from a plan."""

    def __init__(self, plan: CityPlan | None = None):
        self.plan = plan or CityPlan()
        self.rng = random.Random(self.plan.seed)

    def district_of(self, east_m: float, north_m: float) -> str:
        """The district id containing a point given in metres from the centre."""
        n = self.plan.districts_per_side
        col = min(n - 1, max(0, int((east_m + self.plan.width_m / 2) / (self.plan.width_m / n))))
        row = min(n - 1, max(0, int((north_m + self.plan.height_m / 2) / (self.plan.height_m / n))))
        return f"urn:ngsi-ld:AdministrativeArea:district-{row * n + col + 1}"

    def districts(self) -> list[dict[str, Any]]:
        """The districts as a grid of polygons."""
        plan = self.plan
        n = plan.districts_per_side
        names = ["Altstadt", "Hafen", "Nordpark", "Westend", "Mitte", "Ostviertel", "Südhang", "Gartenstadt", "Auen"]
        out = []
        for row in range(n):
            for col in range(n):
                west = -plan.width_m / 2 + col * plan.width_m / n
                south = -plan.height_m / 2 + row * plan.height_m / n
                east, north = west + plan.width_m / n, south + plan.height_m / n
                ring = [_offset(west, south), _offset(east, south), _offset(east, north), _offset(west, north)]
                ring.append(ring[0])
                number = row * n + col + 1
                out.append(
                    {
                        "id": f"urn:ngsi-ld:AdministrativeArea:district-{number}",
                        "type": "AdministrativeArea",
                        "name": _prop(names[(number - 1) % len(names)]),
                        "location": {
                            "type": "GeoProperty",
                            "value": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
                        },
                    }
                )
        return out

    def _spot(self) -> tuple[float, float]:
        return (
            self.rng.uniform(-self.plan.width_m / 2, self.plan.width_m / 2),
            self.rng.uniform(-self.plan.height_m / 2, self.plan.height_m / 2),
        )

    def streetlights(self, count: int, *, start: int = 1) -> Iterator[dict[str, Any]]:
        """Street lights spread over the city, each in a group of ~25 and a cabinet per group."""
        for number in range(start, start + count):
            east, north = self._spot()
            group = f"urn:ngsi-ld:StreetlightGroup:group-{(number - 1) // 25 + 1}"
            yield {
                "id": f"urn:ngsi-ld:Streetlight:light-{number}",
                "type": "Streetlight",
                "location": _point(east, north),
                "status": _prop("ok"),
                "powerState": _prop(self.rng.choice(["on", "off", "low"])),
                "illuminanceLevel": _prop(round(self.rng.uniform(0, 1), 2)),
                "powerConsumption": _prop(round(self.rng.uniform(10, 80), 1), unitCode="WTT"),
                "lanternHeight": _prop(round(self.rng.uniform(4, 12), 1), unitCode="MTR"),
                "refStreetlightGroup": _rel(group),
                "areaServed": _prop(self.district_of(east, north)),
            }

    def air_quality(self, count: int, *, start: int = 1) -> Iterator[dict[str, Any]]:
        """Air-quality observations at stations spread over the city."""
        for number in range(start, start + count):
            east, north = self._spot()
            yield {
                "id": f"urn:ngsi-ld:AirQualityObserved:station-{number}",
                "type": "AirQualityObserved",
                "location": _point(east, north),
                "dateObserved": _prop("2026-11-24T07:00:00Z"),
                "pm25": _prop(round(self.rng.uniform(2, 60), 1), unitCode="GQ", observedAt="2026-11-24T07:00:00Z"),
                "pm10": _prop(round(self.rng.uniform(5, 90), 1), unitCode="GQ", observedAt="2026-11-24T07:00:00Z"),
                "no2": _prop(round(self.rng.uniform(5, 120), 1), unitCode="GQ", observedAt="2026-11-24T07:00:00Z"),
                "o3": _prop(round(self.rng.uniform(10, 150), 1), unitCode="GQ", observedAt="2026-11-24T07:00:00Z"),
                "temperature": _prop(round(self.rng.uniform(-5, 30), 1), unitCode="CEL"),
                "areaServed": _prop(self.district_of(east, north)),
            }

    def parking_spots(self, count: int, *, start: int = 1) -> Iterator[dict[str, Any]]:
        """On-street parking bays, in sites of ~50."""
        for number in range(start, start + count):
            east, north = self._spot()
            yield {
                "id": f"urn:ngsi-ld:ParkingSpot:bay-{number}",
                "type": "ParkingSpot",
                "location": _point(east, north),
                "status": _prop(self.rng.choice(["free", "occupied", "occupied", "unknown"])),
                "category": _prop(["onStreet"]),
                "refParkingSite": _rel(f"urn:ngsi-ld:OnStreetParking:zone-{(number - 1) // 50 + 1}"),
                "areaServed": _prop(self.district_of(east, north)),
            }

    def mixed(self, count: int) -> Iterator[dict[str, Any]]:
        """``count`` entities, a third of each solution's type (for benchmarks)."""
        third = count // 3
        yield from self.streetlights(third)
        yield from self.air_quality(third)
        yield from self.parking_spots(count - 2 * third)

    def demo(self) -> list[dict[str, Any]]:
        """The demo city: districts, 300 lights, 12 stations, 200 bays and 3 garages."""
        entities: list[dict[str, Any]] = self.districts()
        entities += list(self.streetlights(300))
        entities += list(self.air_quality(12))
        entities += list(self.parking_spots(200))
        for number in range(1, 4):
            east, north = self._spot()
            total = self.rng.choice([200, 350, 500])
            available = self.rng.randint(0, total)
            entities.append(
                {
                    "id": f"urn:ngsi-ld:OffStreetParking:garage-{number}",
                    "type": "OffStreetParking",
                    "name": _prop(f"Garage {number}"),
                    "location": _point(east, north),
                    "totalSpotNumber": _prop(total),
                    "availableSpotNumber": _prop(available),
                    "occupancy": _prop(round(1 - available / total, 3)),
                    "areaServed": _prop(self.district_of(east, north)),
                }
            )
        return entities
