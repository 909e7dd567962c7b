"""Geo-queries (ETSI GS CIM 009, clause 4.10) over GeoJSON geometries, with shapely.

Topological relations (``equals``, ``disjoint``, ``intersects``, ``within``,
``contains``, ``overlaps``) are evaluated by shapely on longitude/latitude
coordinates, as PostGIS does for ``geometry`` columns.

Distances (``near;maxDistance`` / ``near;minDistance``) are in metres on a
spherical Earth (R = 6 371 008.8 m, the IUGG mean radius): both geometries are
projected onto an azimuthal equidistant plane centred on the query geometry's
centroid, and shapely computes the planar distance there.  Distances from the
centre are exact on the sphere at any range (so a point query is exact), and
distances between other points within a city stay well under 1 % off.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry import LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from urbis.context.model import GEO_PROPERTY, Entity
from urbis.core.errors import BadRequestData, UrbisError

EARTH_RADIUS_M = 6371008.8
GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
GEORELS = ("near", "equals", "disjoint", "intersects", "within", "contains", "overlaps")
DEFAULT_GEOPROPERTY = "location"

_GEOMETRY_BY_LOWER = {name.lower(): name for name in GEOMETRY_TYPES}
# The search box is grown a little more than the distance, so that an index
# prefilter never drops an entity the (approximate) planar distance accepts.
_BOX_MARGIN = 1.01
_BOX_SLACK_M = 1.0
# Longer coordinate texts are refused before parsing (no URL or body needs more).
_MAX_COORDINATE_TEXT = 1_000_000

Position = tuple[float, float]


# ---------------------------------------------------------------------------
# GeoJSON -> shapely, with validation
# ---------------------------------------------------------------------------


def geometry_from_geojson(geojson: Any) -> BaseGeometry:
    """The shapely geometry for a GeoJSON geometry object, validated.

    Accepts Point, MultiPoint, LineString, MultiLineString, Polygon and
    MultiPolygon with numeric positions (longitude in [-180, 180], latitude in
    [-90, 90], an optional altitude that is ignored), closed polygon rings of at
    least four positions and geometries that are valid in the OGC sense (no
    self-intersecting rings).  Raises :class:`BadRequestData` with a precise
    detail otherwise.
    """
    if not isinstance(geojson, dict):
        raise BadRequestData("a geometry must be a GeoJSON object with 'type' and 'coordinates'")
    kind = geojson.get("type")
    if kind not in GEOMETRY_TYPES:
        raise BadRequestData(f"unsupported geometry type {kind!r:.60}; expected one of {', '.join(GEOMETRY_TYPES)}")
    if "coordinates" not in geojson:
        raise BadRequestData(f"the {kind} has no 'coordinates'")
    coordinates = geojson["coordinates"]
    try:
        shape = _BUILDERS[kind](coordinates, "coordinates")
        # Points are valid once their positions are; only lines and rings can be degenerate.
        reason = "Valid Geometry" if kind in ("Point", "MultiPoint") else shapely.is_valid_reason(shape)
    except UrbisError:
        raise
    except Exception as exc:  # GEOS/numpy failures on odd input are still the client's bad data
        raise BadRequestData(f"invalid {kind} coordinates: {exc}") from exc
    if reason != "Valid Geometry":
        raise BadRequestData(f"invalid {kind}: {reason}")
    return shape


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _position(value: Any, where: str) -> Position:
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        raise BadRequestData(f"{where} must be a position [longitude, latitude] (optionally with altitude)")
    if not all(_is_number(item) for item in value):
        raise BadRequestData(f"{where} must contain only finite numbers, got {value!r:.80}")
    lon, lat = float(value[0]), float(value[1])
    if not -180.0 <= lon <= 180.0:
        raise BadRequestData(f"{where}: longitude {lon} is outside [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        raise BadRequestData(f"{where}: latitude {lat} is outside [-90, 90]")
    return lon, lat


def _list(value: Any, where: str, what: str, minimum: int) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise BadRequestData(f"{where} must be an array of {what}")
    if len(value) < minimum:
        raise BadRequestData(f"{where} must hold at least {minimum} {what}, got {len(value)}")
    return list(value)


def _positions(value: Any, where: str, minimum: int) -> list[Position]:
    if isinstance(value, list | tuple) and any(not isinstance(item, list | tuple) for item in value):
        # A lone position where an array of them belongs: one nesting level missing.
        raise BadRequestData(f"{where} must be an array of positions, got {value!r:.80}")
    items = _list(value, where, "positions", minimum)
    return [_position(item, f"{where}[{index}]") for index, item in enumerate(items)]


def _ring(value: Any, where: str) -> list[Position]:
    ring = _positions(value, where, 4)
    if ring[0] != ring[-1]:
        raise BadRequestData(f"{where}: a linear ring must be closed (its first and last positions equal)")
    return ring


def _point(value: Any, where: str) -> BaseGeometry:
    return Point(_position(value, where))


def _multipoint(value: Any, where: str) -> BaseGeometry:
    return MultiPoint(_positions(value, where, 1))


def _linestring(value: Any, where: str) -> BaseGeometry:
    return LineString(_positions(value, where, 2))


def _multilinestring(value: Any, where: str) -> BaseGeometry:
    lines = _list(value, where, "line strings", 1)
    return MultiLineString([_positions(line, f"{where}[{i}]", 2) for i, line in enumerate(lines)])


def _polygon_of(value: Any, where: str) -> Polygon:
    rings = _list(value, where, "linear rings", 1)
    checked = [_ring(ring, f"{where}[{i}]") for i, ring in enumerate(rings)]
    return Polygon(checked[0], checked[1:])


def _polygon(value: Any, where: str) -> BaseGeometry:
    return _polygon_of(value, where)


def _multipolygon(value: Any, where: str) -> BaseGeometry:
    polygons = _list(value, where, "polygons", 1)
    return MultiPolygon([_polygon_of(polygon, f"{where}[{i}]") for i, polygon in enumerate(polygons)])


_BUILDERS: dict[str, Callable[[Any, str], BaseGeometry]] = {
    "Point": _point,
    "MultiPoint": _multipoint,
    "LineString": _linestring,
    "MultiLineString": _multilinestring,
    "Polygon": _polygon,
    "MultiPolygon": _multipolygon,
}


def bbox_of(geojson: Any) -> tuple[float, float, float, float]:
    """(min longitude, min latitude, max longitude, max latitude) of a GeoJSON geometry.

    Raises :class:`BadRequestData` for an invalid geometry.
    """
    min_x, min_y, max_x, max_y = geometry_from_geojson(geojson).bounds
    return float(min_x), float(min_y), float(max_x), float(max_y)


def entity_shapes(entity: Entity, geoproperty_iri: str) -> list[BaseGeometry]:
    """The geometries of every instance of GeoProperty ``geoproperty_iri`` (invalid ones skipped)."""
    attrs = entity.get("attrs")
    instances = attrs.get(geoproperty_iri) if isinstance(attrs, dict) else None
    if not isinstance(instances, list):
        return []
    shapes: list[BaseGeometry] = []
    for instance in instances:
        if not isinstance(instance, dict) or instance.get("type") != GEO_PROPERTY:
            continue
        try:
            shapes.append(geometry_from_geojson(instance.get("value")))
        except BadRequestData:
            continue  # stored data predating a stricter check must not break queries
    return shapes


# ---------------------------------------------------------------------------
# Distances: azimuthal equidistant projection on a sphere
# ---------------------------------------------------------------------------


def _aeqd(lon0: float, lat0: float) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorised lon/lat (degrees) -> x/y (metres) azimuthal equidistant projection centred on (lon0, lat0)."""
    lam0 = math.radians(lon0)
    phi0 = math.radians(lat0)
    sin0, cos0 = math.sin(phi0), math.cos(phi0)

    def project(coords: np.ndarray) -> np.ndarray:
        lam = np.radians(coords[:, 0]) - lam0
        phi = np.radians(coords[:, 1])
        cos_phi = np.cos(phi)
        # Haversine for the angular distance: accurate for small distances, where acos is not.
        hav = np.sin((phi - phi0) / 2.0) ** 2 + cos0 * cos_phi * np.sin(lam / 2.0) ** 2
        c = 2.0 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))
        azimuth = np.arctan2(np.sin(lam) * cos_phi, cos0 * np.sin(phi) - sin0 * cos_phi * np.cos(lam))
        rho = EARTH_RADIUS_M * c
        return np.column_stack((rho * np.sin(azimuth), rho * np.cos(azimuth)))

    return project


def distance_m(a: BaseGeometry, b: BaseGeometry) -> float:
    """The distance in metres between two lon/lat geometries (projection centred on ``b``)."""
    centre = b.centroid
    project = _aeqd(centre.x, centre.y)
    return float(shapely.transform(a, project).distance(shapely.transform(b, project)))


# ---------------------------------------------------------------------------
# The geo-query
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GeoQuery:
    """A parsed geo-query: entity geometry E matches when ``E georel Q`` holds.

    ``geoproperty`` is a term (expand it with the request's @context).
    """

    georel: str
    geometry: BaseGeometry
    max_distance: float | None = None
    min_distance: float | None = None
    geoproperty: str = DEFAULT_GEOPROPERTY
    geojson: dict[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)
    _project: Callable[[np.ndarray], np.ndarray] = field(init=False, compare=False, hash=False, repr=False)
    _projected: BaseGeometry = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        centre = self.geometry.centroid
        project = _aeqd(centre.x, centre.y)
        # Precomputed once per query: each entity then costs one projection and one distance.
        object.__setattr__(self, "_project", project)
        object.__setattr__(self, "_projected", shapely.transform(self.geometry, project))
        shapely.prepare(self.geometry)
        shapely.prepare(self._projected)

    @property
    def georel_text(self) -> str:
        """The georel as the API spells it, e.g. ``near;maxDistance==1000``."""
        parts = [self.georel]
        if self.max_distance is not None:
            parts.append(f"maxDistance=={_number_text(self.max_distance)}")
        if self.min_distance is not None:
            parts.append(f"minDistance=={_number_text(self.min_distance)}")
        return ";".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The NGSI-LD ``geoQ`` object (for subscriptions and forwarded queries)."""
        geojson = self.geojson or json.loads(shapely.to_geojson(self.geometry))
        return {
            "georel": self.georel_text,
            "geometry": geojson["type"],
            "coordinates": geojson["coordinates"],
            "geoproperty": self.geoproperty,
        }

    def distance_to(self, shape: BaseGeometry) -> float:
        """Metres between ``shape`` and the query geometry (see the module docstring)."""
        return float(self._projected.distance(shapely.transform(shape, self._project)))

    def matches(self, shape: BaseGeometry) -> bool:
        """Whether entity geometry ``shape`` satisfies the georel against the query geometry."""
        query = self.geometry
        try:
            if self.georel == "near":
                distance = self.distance_to(shape)
                if self.max_distance is not None and distance > self.max_distance:
                    return False
                return self.min_distance is None or distance >= self.min_distance
            if self.georel == "intersects":
                return bool(query.intersects(shape))
            if self.georel == "disjoint":
                return not query.intersects(shape)
            if self.georel == "within":
                return bool(query.contains(shape))  # E within Q <=> Q contains E (prepared Q)
            if self.georel == "contains":
                return bool(query.within(shape))  # E contains Q <=> Q within E
            if self.georel == "overlaps":
                return bool(query.overlaps(shape))
            return bool(shape.equals(query))
        except (GEOSException, ValueError):
            return False  # a geometry GEOS cannot relate matches nothing rather than failing the request

    def compile(self, expand: Callable[[str], str]) -> Callable[[Entity], bool]:
        """A predicate over internal entities: any instance of the GeoProperty matches."""
        iri = expand(self.geoproperty)
        return lambda entity: any(self.matches(shape) for shape in entity_shapes(entity, iri))

    def search_box(self) -> tuple[float, float, float, float] | None:
        """A lon/lat window (min_x, min_y, max_x, max_y) every matching entity's bbox intersects.

        None when no window is valid: ``disjoint`` and ``near;minDistance`` alone
        match entities anywhere.
        """
        if self.georel == "disjoint" or (self.georel == "near" and self.max_distance is None):
            return None
        min_x, min_y, max_x, max_y = (float(v) for v in self.geometry.bounds)
        if self.georel != "near" or self.max_distance is None:
            return min_x, min_y, max_x, max_y
        delta = (self.max_distance * _BOX_MARGIN + _BOX_SLACK_M) / EARTH_RADIUS_M  # radians
        grow_lat = math.degrees(delta)
        low_lat, high_lat = min_y - grow_lat, max_y + grow_lat
        if low_lat <= -90.0 or high_lat >= 90.0:
            return -180.0, max(low_lat, -90.0), 180.0, min(high_lat, 90.0)
        # Widest longitude span of a spherical cap of radius delta: asin(sin delta / cos lat),
        # taken at the box latitude nearest a pole.
        cos_lat = math.cos(math.radians(max(abs(min_y), abs(max_y))))
        ratio = math.sin(delta) / cos_lat if cos_lat > 0 else 2.0
        if ratio >= 1.0:
            return -180.0, low_lat, 180.0, high_lat
        grow_lon = math.degrees(math.asin(ratio))
        low_lon, high_lon = min_x - grow_lon, max_x + grow_lon
        if low_lon < -180.0 or high_lon > 180.0:
            # Across the antimeridian a single window cannot describe both sides: take all longitudes.
            return -180.0, low_lat, 180.0, high_lat
        return low_lon, low_lat, high_lon, high_lat


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# ---------------------------------------------------------------------------
# Parsing the query parameters
# ---------------------------------------------------------------------------


def parse_geoquery(
    georel: str | None,
    geometry: str | None,
    coordinates: str | list[Any] | None,
    geoproperty: str | None = None,
) -> GeoQuery | None:
    """The geo-query of a request, or None when it has none.

    ``coordinates`` is the JSON array text of a URL parameter or an already
    parsed list (``geoQ`` in a POST body).  Georel grammar:
    ``near;maxDistance==<m>``, ``near;minDistance==<m>`` (both may be given),
    ``equals``, ``disjoint``, ``intersects``, ``within``, ``contains``,
    ``overlaps``.  Any problem, including a partial geo-query, raises
    :class:`BadRequestData`.
    """
    given = {"georel": georel, "geometry": geometry, "coordinates": coordinates}
    if all(value is None for value in given.values()):
        return None
    missing = [name for name, value in given.items() if value is None]
    if missing:
        raise BadRequestData(
            f"a geo-query needs georel, geometry and coordinates together; missing: {', '.join(missing)}"
        )
    try:
        relation, max_distance, min_distance = _parse_georel(georel)
        kind = _geometry_type(geometry)
        parsed = _coordinates(coordinates)
        geojson = {"type": kind, "coordinates": parsed}
        shape = geometry_from_geojson(geojson)
        return GeoQuery(relation, shape, max_distance, min_distance, _geoproperty(geoproperty), geojson)
    except UrbisError:
        raise
    except Exception as exc:  # a malformed parameter is a 400, never a 500
        raise BadRequestData(f"invalid geo-query: {exc.__class__.__name__}") from exc


def _parse_georel(text: Any) -> tuple[str, float | None, float | None]:
    if not isinstance(text, str) or not text.strip():
        raise BadRequestData(
            "georel must be one of: near;maxDistance==<m>, near;minDistance==<m>, " + ", ".join(GEORELS[1:])
        )
    parts = [part.strip() for part in text.strip().split(";")]
    relation = parts[0]
    if relation not in GEORELS:
        raise BadRequestData(
            f"unknown georel {relation[:60]!r}; expected near;maxDistance==<m>, near;minDistance==<m>, "
            + ", ".join(GEORELS[1:])
        )
    if relation != "near":
        if len(parts) > 1:
            raise BadRequestData(f"georel '{relation}' takes no further terms, got {text[:80]!r}")
        return relation, None, None
    distances: dict[str, float] = {}
    for part in parts[1:]:
        name, sep, raw = part.partition("==")
        if not sep or name not in ("maxDistance", "minDistance"):
            raise BadRequestData(f"invalid near term {part[:60]!r}; expected maxDistance==<m> or minDistance==<m>")
        if name in distances:
            raise BadRequestData(f"georel gives {name} twice")
        distances[name] = _distance(raw, name)
    if not distances:
        raise BadRequestData("georel 'near' needs maxDistance==<m> or minDistance==<m>")
    return relation, distances.get("maxDistance"), distances.get("minDistance")


def _distance(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise BadRequestData(f"{name} must be a number of metres, got {raw[:40]!r}") from None
    if not math.isfinite(value):
        raise BadRequestData(f"{name} must be a finite number of metres, got {raw[:40]!r}")
    if value < 0:
        raise BadRequestData(f"{name} must not be negative, got {raw[:40]!r}")
    return value


def _geometry_type(text: Any) -> str:
    kind = _GEOMETRY_BY_LOWER.get(text.strip().lower()) if isinstance(text, str) else None
    if kind is None:
        raise BadRequestData(f"unsupported geometry {text!r:.60}; expected one of {', '.join(GEOMETRY_TYPES)}")
    return kind


def _coordinates(value: Any) -> list[Any]:
    if isinstance(value, str):
        if len(value) > _MAX_COORDINATE_TEXT:
            raise BadRequestData("coordinates are too long")
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise BadRequestData(
                f"coordinates must be a JSON array such as [13.3889,52.5344], got {value[:60]!r}"
            ) from None
    if not isinstance(value, list | tuple):
        raise BadRequestData(f"coordinates must be a JSON array, got {value!r:.60}")
    return list(value)


def _geoproperty(value: Any) -> str:
    if value is None:
        return DEFAULT_GEOPROPERTY
    if not isinstance(value, str) or not value.strip() or any(char in value for char in " \t\"'<>=;()[]\\"):
        raise BadRequestData(f"invalid geoproperty {value!r:.60}")
    return value.strip()


def representative_point(geometry: Any) -> tuple[float, float] | None:
    """A (lon, lat) standing for a GeoJSON geometry: the point itself, else a point inside it; None if malformed.

    Points, the common case (a city's thousands of lamps), are read directly without shapely.
    """
    if not isinstance(geometry, dict):
        return None
    coordinates = geometry.get("coordinates")
    if geometry.get("type") == "Point" and isinstance(coordinates, list) and len(coordinates) >= 2:
        lon, lat = coordinates[0], coordinates[1]
        if all(isinstance(c, int | float) and not isinstance(c, bool) for c in (lon, lat)):
            return float(lon), float(lat)
        return None
    try:
        found = shapely.geometry.shape(geometry).representative_point()
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, GEOSException):  # malformed: no position
        return None
    return float(found.x), float(found.y)
