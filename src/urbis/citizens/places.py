"""Where a report is: its district, a street address near it, and places found by name.

All from the city's own context (``AdministrativeArea`` districts and ``Road`` streets), so it
works without any outside geocoder.  Districts are the areas that contain no other area
(boroughs made of districts would otherwise claim every report twice).  The city's places are
read once and kept for ``ttl`` seconds: they change rarely, reports arrive often.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from urbis.context.model import Entity, default_value
from urbis.context.query.geo import distance_m, representative_point
from urbis.context.service import ContextService

#: A street is "near" a report within this distance.
NEAR_STREET_M = 150.0


@dataclass(frozen=True)
class Place:
    """A named place of the city: a district or a street, with a point standing for it."""

    id: str
    name: str
    kind: str  # "district" | "street"
    long: float
    lat: float


@dataclass(frozen=True)
class _Area:
    place: Place
    shape: BaseGeometry


class CityPlaces:
    """One tenant's districts and streets, indexed for point look-ups."""

    def __init__(self, districts: Sequence[_Area], streets: Sequence[_Area]):
        self.districts = list(districts)
        self.streets = list(streets)
        self._district_tree = shapely.STRtree([d.shape for d in self.districts]) if self.districts else None
        self._street_tree = shapely.STRtree([s.shape for s in self.streets]) if self.streets else None

    def district_at(self, long: float, lat: float) -> Place | None:
        """The district covering a position (the first one on a shared border)."""
        if self._district_tree is None:
            return None
        hits = self._district_tree.query(Point(long, lat), predicate="intersects")
        return self.districts[int(min(hits))].place if len(hits) else None

    def street_near(self, long: float, lat: float) -> Place | None:
        """The nearest street within :data:`NEAR_STREET_M`."""
        if self._street_tree is None:
            return None
        point = Point(long, lat)
        nearest = self._street_tree.nearest(point)
        if nearest is None:
            return None
        street = self.streets[int(nearest)]
        return street.place if distance_m(street.shape, point) <= NEAR_STREET_M else None

    def search(self, text: str, limit: int = 8) -> list[Place]:
        """Districts and streets whose name contains ``text`` (accents and case ignored), best first."""
        wanted = _fold(text)
        if not wanted:
            return []
        found = [a.place for a in (*self.districts, *self.streets) if wanted in _fold(a.place.name)]
        found.sort(key=lambda p: (not _fold(p.name).startswith(wanted), len(p.name), p.name))
        unique: dict[tuple[str, str], Place] = {}
        for place in found:
            unique.setdefault((place.kind, place.name), place)  # a street drawn in pieces is one place
        return list(unique.values())[:limit]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ß", "ss").strip()


def _shape(geometry: Any) -> BaseGeometry | None:
    try:
        found = shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        return None
    return found if found.is_valid and not found.is_empty else None


def leaf_areas(areas: Sequence[Entity], contained_in: str) -> list[Entity]:
    """The areas no other area is contained in: the districts, not the boroughs made of them.

    ``contained_in`` is the expanded IRI of ``containedInPlace``.
    """
    containers: set[str] = set()
    for area in areas:
        parent = default_value(area, contained_in)
        for target in parent if isinstance(parent, list) else [parent]:
            if isinstance(target, str):
                containers.add(target)
    return [area for area in areas if area["id"] not in containers]


class Places:
    """The districts and streets of every tenant, from the context, cached for ``ttl`` seconds."""

    def __init__(
        self,
        context: ContextService,
        expand: Callable[[str], str],
        *,
        ttl: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``expand`` turns the Urbis @context's terms into the broker's IRIs."""
        self.context = context
        self.ttl = ttl
        self.monotonic = monotonic
        self.area_type = expand("AdministrativeArea")
        self.road_type = expand("Road")
        self.name = expand("name")
        self.location = expand("location")
        self.contained_in = expand("containedInPlace")
        self._cache: dict[str, tuple[float, CityPlaces]] = {}
        self._lock = threading.Lock()

    def of(self, tenant: str) -> CityPlaces:
        """The tenant's places (read again once the cached copy is older than ``ttl``)."""
        with self._lock:
            cached = self._cache.get(tenant)
            if cached is not None and self.monotonic() - cached[0] < self.ttl:
                return cached[1]
        places = self._read(tenant)
        with self._lock:
            self._cache[tenant] = (self.monotonic(), places)
        return places

    def forget(self, tenant: str | None = None) -> None:
        """Drop the cached places (of one tenant, or all)."""
        with self._lock:
            if tenant is None:
                self._cache.clear()
            else:
                self._cache.pop(tenant, None)

    def _read(self, tenant: str) -> CityPlaces:
        areas = leaf_areas(self.context.entities_of_type(tenant, self.area_type), self.contained_in)
        districts = [a for a in (self._area(e, "district") for e in areas) if a]
        streets = [
            a for a in (self._area(e, "street") for e in self.context.entities_of_type(tenant, self.road_type)) if a
        ]
        return CityPlaces(districts, streets)

    def _area(self, entity: Entity, kind: str) -> _Area | None:
        geometry = default_value(entity, self.location)
        found = _shape(geometry)
        point = representative_point(geometry)
        if found is None or point is None:
            return None
        name = default_value(entity, self.name)
        label = name if isinstance(name, str) and name.strip() else str(entity["id"]).rsplit(":", 1)[-1]
        return _Area(Place(str(entity["id"]), label, kind, point[0], point[1]), found)
