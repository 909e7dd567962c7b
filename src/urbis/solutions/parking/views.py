"""Read models of smart parking: what the API and the dashboards show, built from context entities.

Everything here is a pure function of entities in the broker's internal (expanded) form
and a term expander; the service reads the entities, these functions shape them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shapely.geometry import shape

from urbis.context.model import default_value as value_of
from urbis.solutions.parking import const
from urbis.solutions.parking.guidance import ParkingCandidate
from urbis.solutions.parking.occupancy import (
    EMPTY,
    Occupancy,
    aggregate_occupancy,
    garage_occupancy,
    parse_status,
    zone_occupancy,
)

Entity = dict[str, Any]
Expand = Callable[[str], str]


@dataclass(frozen=True)
class PlaceView:
    """A zone of bays or a garage, with its live occupancy."""

    id: str
    kind: str  # "zone", "garage" or "group"
    name: str
    district: str | None
    lon: float | None
    lat: float | None
    occupancy: Occupancy

    def to_json(self) -> dict[str, Any]:
        """The API's shape."""
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "district": self.district,
            "location": None if self.lon is None else {"type": "Point", "coordinates": [self.lon, self.lat]},
            **occupancy_json(self.occupancy),
        }


@dataclass(frozen=True)
class ParkingOverview:
    """Occupancy of the whole city: per zone, garage and district, and in total.

    ``groups`` (``ParkingGroup``: a level or a row inside a site) are shown on their own and
    left out of the districts and the city, whose sites already count their spaces.
    """

    at: datetime
    zones: list[PlaceView]
    garages: list[PlaceView]
    districts: dict[str, Occupancy]
    city: Occupancy
    groups: list[PlaceView] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The API's shape."""
        return {
            "at": self.at,
            "city": occupancy_json(self.city),
            "districts": [{"name": name, **occupancy_json(o)} for name, o in sorted(self.districts.items())],
            "zones": [z.to_json() for z in self.zones],
            "garages": [g.to_json() for g in self.garages],
            "groups": [g.to_json() for g in self.groups],
        }

    def candidates(self) -> list[ParkingCandidate]:
        """Zones and garages as guidance candidates (places without a position are left out)."""
        out = []
        for place in (*self.zones, *self.garages):
            if place.lon is None or place.lat is None:
                continue
            usable = place.occupancy.capacity - place.occupancy.closed
            known = place.occupancy.known
            out.append(
                ParkingCandidate(
                    place_id=place.id,
                    kind="garage" if place.kind == "garage" else "zone",
                    lon=place.lon,
                    lat=place.lat,
                    capacity=usable,
                    # Unknown bays are assumed to be like the known ones of the same place.
                    free=None if known == 0 else round(place.occupancy.free * usable / known),
                    name=place.name,
                )
            )
        return out


def free_bays(spots: Iterable[Entity], terms: Terms) -> list[ParkingCandidate]:
    """The bays that are free now and have a position, as guidance candidates (``site_id``: their zone).

    Only free bays are offered: pointing a driver at a bay taken now helps no one, however its
    street may change by the time they arrive.
    """
    out = []
    for spot in spots:
        if parse_status(value_of(spot, terms.status)) is not const.SpotStatus.FREE:
            continue
        lon, lat = _point(spot, terms)
        if lon is None or lat is None:
            continue
        name = value_of(spot, terms.name)
        site = value_of(spot, terms.site)
        out.append(
            ParkingCandidate(
                place_id=spot["id"],
                kind="bay",
                lon=lon,
                lat=lat,
                capacity=1,
                free=1,
                name=name if isinstance(name, str) else spot["id"],
                site_id=site if isinstance(site, str) else None,
            )
        )
    return out


@dataclass(frozen=True)
class OccupancyHistory:
    """The occupancy of a bay, zone, garage, group, district or the city over time, and now.

    ``values`` hold ``(start, end, share)`` per period, the share None where nothing is known.
    ``places`` counts the zones and garages behind a district or the city (1 for a place).
    """

    target: str
    kind: str  # bay, zone, garage, group, district or city
    period: str
    start: datetime
    end: datetime
    current: float | None
    places: int
    values: list[tuple[datetime, datetime, float | None]]

    def to_json(self) -> dict[str, Any]:
        """The API's shape."""
        head: dict[str, Any] = {}
        if self.kind in ("bay", "zone", "garage", "group"):
            head["id"] = self.target
        elif self.kind == "district":
            head["district"] = self.target
        return {
            **head,
            "kind": self.kind,
            "period": self.period,
            "from": self.start,
            "to": self.end,
            "current": None if self.current is None else round(self.current, 4),
            "places": self.places,
            "values": [
                {"from": start, "to": end, "occupancy": None if share is None else round(share, 4)}
                for start, end, share in self.values
            ],
        }


def occupancy_json(occupancy: Occupancy) -> dict[str, Any]:
    """The counts and rate of an occupancy, as the API shows them."""
    rate = occupancy.rate
    return {
        "capacity": occupancy.capacity,
        "occupied": occupancy.occupied,
        "free": occupancy.free,
        "closed": occupancy.closed,
        "unknown": occupancy.unknown,
        "occupancy": None if rate is None else round(rate, 4),
        "clamped": occupancy.is_clamped,
    }


class Terms:
    """The expanded names a parking view reads, resolved once per expander."""

    def __init__(self, expand: Expand) -> None:
        self.spot = expand(const.PARKING_SPOT)
        self.on_street = expand(const.ON_STREET_PARKING)
        self.off_street = expand(const.OFF_STREET_PARKING)
        self.group = expand(const.PARKING_GROUP)
        self.ref_group = expand(const.REF_PARKING_GROUP)
        self.status = expand(const.STATUS)
        self.name = expand("name")
        self.area = expand(const.AREA_SERVED)
        self.site = expand(const.REF_PARKING_SITE)
        self.total = expand(const.TOTAL_SPOT_NUMBER)
        self.available = expand(const.AVAILABLE_SPOT_NUMBER)
        self.occupied = expand(const.OCCUPIED_SPOT_NUMBER)
        self.occupancy = expand(const.OCCUPANCY)
        self.location = expand(const.LOCATION)
        self.maximum_duration = expand(const.MAXIMUM_PARKING_DURATION)


def _point(entity: Entity, terms: Terms) -> tuple[float | None, float | None]:
    geometry = value_of(entity, terms.location)
    if not isinstance(geometry, dict):
        return None, None
    try:
        point = shape(geometry).representative_point()
    except (ValueError, TypeError, AttributeError):  # a malformed geometry: no position, still counted
        return None, None
    return float(point.x), float(point.y)


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _counted(entity: Entity, terms: Terms) -> Occupancy | None:
    """A garage's or group's occupancy from its counters; None without a positive capacity."""
    capacity = _count(value_of(entity, terms.total))
    if capacity is None or capacity <= 0:
        return None
    return garage_occupancy(
        capacity,
        occupied=_count(value_of(entity, terms.occupied)),
        available=_count(value_of(entity, terms.available)),
    )


def build_overview(
    at: datetime,
    spots: Iterable[Entity],
    zones: Sequence[Entity],
    garages: Sequence[Entity],
    terms: Terms,
    groups: Sequence[Entity] = (),
) -> ParkingOverview:
    """Occupancy per zone (from its bays' statuses), garage (from its counters), district and city.

    A group is counted from the bays that name it (``refParkingGroup``), else from its own
    counters like a garage; a group with neither is left out.
    """
    statuses_by_zone: dict[str, list[const.SpotStatus]] = {}
    statuses_by_group: dict[str, list[const.SpotStatus]] = {}
    for spot in spots:
        status = parse_status(value_of(spot, terms.status))
        site = value_of(spot, terms.site)
        if isinstance(site, str):
            statuses_by_zone.setdefault(site, []).append(status)
        group = value_of(spot, terms.ref_group)
        if isinstance(group, str):
            statuses_by_group.setdefault(group, []).append(status)
    zone_views = []
    for zone in zones:
        occupancy = zone_occupancy(statuses_by_zone.get(zone["id"], ()))
        zone_views.append(_place(zone, "zone", occupancy, terms))
    garage_views = []
    for garage in garages:
        counted = _counted(garage, terms)
        if counted is not None:  # a garage without a capacity cannot be counted
            garage_views.append(_place(garage, "garage", counted, terms))
    group_views = []
    for group in groups:
        bays = statuses_by_group.get(group["id"])
        counted = zone_occupancy(bays) if bays else _counted(group, terms)
        if counted is not None:
            group_views.append(_place(group, "group", counted, terms))
    districts: dict[str, Occupancy] = {}
    for place in (*zone_views, *garage_views):
        key = place.district or "(none)"
        districts[key] = districts.get(key, EMPTY) + place.occupancy
    city = aggregate_occupancy(districts.values())
    zone_views.sort(key=lambda p: p.id)
    garage_views.sort(key=lambda p: p.id)
    group_views.sort(key=lambda p: p.id)
    return ParkingOverview(at, zone_views, garage_views, districts, city, group_views)


def _place(entity: Entity, kind: str, occupancy: Occupancy, terms: Terms) -> PlaceView:
    lon, lat = _point(entity, terms)
    name = value_of(entity, terms.name)
    district = value_of(entity, terms.area)
    return PlaceView(
        id=entity["id"],
        kind=kind,
        name=name if isinstance(name, str) else entity["id"],
        district=district if isinstance(district, str) else None,
        lon=lon,
        lat=lat,
        occupancy=occupancy,
    )
