"""Tests of geo-queries: GeoJSON validation, georels, distances in metres and search boxes."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from urbis.context.query.geo import (
    EARTH_RADIUS_M,
    GeoQuery,
    bbox_of,
    entity_shapes,
    geometry_from_geojson,
    parse_geoquery,
)
from urbis.core.errors import BadRequestData, InvalidRequest

EX = "https://example.org/"
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180  # 111 195.080 m along a meridian
ONE_KM_IN_DEGREES = 1000 / METRES_PER_DEGREE  # 0.0089932036 deg


def expand(term: str) -> str:
    """The test @context: everything lands under example.org."""
    return EX + term


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance on the same sphere, the reference the projection must reproduce."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def destination(lon: float, lat: float, bearing_deg: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` away from (lon, lat) along ``bearing_deg`` on the sphere."""
    delta = metres / EARTH_RADIUS_M
    theta = math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(delta) + math.cos(p1) * math.sin(delta) * math.cos(theta))
    l2 = l1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(p1), math.cos(delta) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(l2), math.degrees(p2)


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def square(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def geo(value: dict[str, Any], **members: Any) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": value, **members}


def make_entity(entity_id: str = "urn:ngsi-ld:Thing:1", **attrs: Any) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": [EX + "Thing"],
        "attrs": {expand(name): (value if isinstance(value, list) else [value]) for name, value in attrs.items()},
    }


def near(lon: float, lat: float, *, max_m: float | None = None, min_m: float | None = None) -> GeoQuery:
    terms = ["near"]
    if max_m is not None:
        terms.append(f"maxDistance=={max_m}")
    if min_m is not None:
        terms.append(f"minDistance=={min_m}")
    query = parse_geoquery(";".join(terms), "Point", f"[{lon},{lat}]")
    assert query is not None
    return query


def relation(georel: str, geojson: dict[str, Any]) -> GeoQuery:
    query = parse_geoquery(georel, geojson["type"], geojson["coordinates"])
    assert query is not None
    return query


# -- GeoJSON validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("geojson", "wkt"),
    [
        (point(13.4, 52.5), "POINT (13.4 52.5)"),
        ({"type": "Point", "coordinates": [13.4, 52.5, 34.0]}, "POINT (13.4 52.5)"),  # altitude ignored
        ({"type": "MultiPoint", "coordinates": [[0, 0], [1, 1]]}, "MULTIPOINT ((0 0), (1 1))"),
        ({"type": "LineString", "coordinates": [[0, 0], [1, 1, 5]]}, "LINESTRING (0 0, 1 1)"),
        ({"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3]]]}, None),
        (square(0, 0, 1, 1), "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]],
                    [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]],
                ],
            },
            None,
        ),
        ({"type": "MultiPolygon", "coordinates": [square(0, 0, 1, 1)["coordinates"]]}, None),
        (point(-180, -90), "POINT (-180 -90)"),
        (point(180, 90), "POINT (180 90)"),
    ],
)
def test_valid_geometries(geojson: dict[str, Any], wkt: str | None) -> None:
    shape = geometry_from_geojson(geojson)
    assert shape.geom_type == geojson["type"]
    assert not shape.has_z
    if wkt is not None:
        assert shape.wkt == wkt


@pytest.mark.parametrize(
    ("geojson", "fragment"),
    [
        ("POINT (1 2)", "GeoJSON object"),
        ({"type": "Circle", "coordinates": [0, 0]}, "unsupported geometry type 'Circle'"),
        ({"type": "GeometryCollection", "geometries": []}, "unsupported geometry type"),
        ({"type": "Point"}, "has no 'coordinates'"),
        (point(181, 0), "longitude 181.0 is outside [-180, 180]"),
        (point(0, -90.5), "latitude -90.5 is outside [-90, 90]"),
        ({"type": "Point", "coordinates": [1]}, "must be a position"),
        ({"type": "Point", "coordinates": [1, 2, 3, 4]}, "must be a position"),
        ({"type": "Point", "coordinates": ["1", "2"]}, "only finite numbers"),
        ({"type": "Point", "coordinates": [True, 2]}, "only finite numbers"),
        ({"type": "Point", "coordinates": [float("nan"), 2]}, "only finite numbers"),
        ({"type": "Point", "coordinates": [[1, 2]]}, "must be a position"),
        ({"type": "MultiPoint", "coordinates": []}, "at least 1 positions"),
        ({"type": "LineString", "coordinates": [[0, 0]]}, "at least 2 positions"),
        ({"type": "LineString", "coordinates": [[0, 0], [0, 0]]}, "invalid LineString"),
        ({"type": "LineString", "coordinates": [0, 0]}, "coordinates must be an array of positions"),
        ({"type": "MultiLineString", "coordinates": [[[0, 0]]]}, "coordinates[0] must hold at least 2"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "must be closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "at least 4 positions"),
        (
            {"type": "Polygon", "coordinates": [[0, 0], [1, 0], [1, 1], [0, 0]]},
            "coordinates[0] must be an array of positions",
        ),
        ({"type": "Polygon", "coordinates": []}, "at least 1 linear rings"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 95], [0, 0]]]}, "coordinates[0][2]: latitude"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}, "Self-intersection"),
        ({"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]], [[0, 0]]]}, "coordinates[1]"),
        ({"type": "Point", "coordinates": None}, "must be a position"),
    ],
)
def test_invalid_geometries_name_the_problem(geojson: Any, fragment: str) -> None:
    with pytest.raises(BadRequestData) as caught:
        geometry_from_geojson(geojson)
    assert fragment in caught.value.detail


def test_bbox_of() -> None:
    assert bbox_of(point(13.4, 52.5)) == (13.4, 52.5, 13.4, 52.5)
    assert bbox_of({"type": "LineString", "coordinates": [[3, -1], [-2, 4]]}) == (-2.0, -1.0, 3.0, 4.0)
    assert bbox_of(square(0, 0, 1, 2)) == (0.0, 0.0, 1.0, 2.0)
    with pytest.raises(BadRequestData):
        bbox_of({"type": "Point", "coordinates": "nope"})


def test_entity_shapes_returns_every_valid_instance() -> None:
    entity = make_entity(
        location=[
            geo(point(1, 2)),
            geo(point(3, 4), datasetId="urn:ngsi-ld:Dataset:gps"),
            geo({"type": "Point", "coordinates": [500, 0]}, datasetId="urn:ngsi-ld:Dataset:broken"),
            {"type": "Property", "value": point(5, 6), "datasetId": "urn:ngsi-ld:Dataset:plain"},
        ]
    )
    shapes = entity_shapes(entity, expand("location"))
    assert [shape.wkt for shape in shapes] == ["POINT (1 2)", "POINT (3 4)"]
    assert entity_shapes(entity, expand("observationSpace")) == []
    assert entity_shapes({"id": "urn:x:1"}, expand("location")) == []


# -- parsing the parameters -------------------------------------------------------------------


def test_no_geo_query() -> None:
    assert parse_geoquery(None, None, None) is None
    assert parse_geoquery(None, None, None, "location") is None


def test_suite_near_example() -> None:
    query = parse_geoquery("near;maxDistance==15000", "Point", "[13.388930,52.534473]")
    assert query is not None
    assert (query.georel, query.max_distance, query.min_distance, query.geoproperty) == (
        "near",
        15000.0,
        None,
        "location",
    )
    brandenburg_gate = Point(13.377704, 52.516275)
    potsdam = Point(13.0645, 52.3906)
    assert haversine_m(13.388930, 52.534473, 13.377704, 52.516275) == pytest.approx(2160, abs=10)
    assert haversine_m(13.388930, 52.534473, 13.0645, 52.3906) == pytest.approx(27185, abs=10)
    assert query.matches(brandenburg_gate)
    assert not query.matches(potsdam)


def test_suite_within_example() -> None:
    coordinates = "[[[13.16,52.54],[13.50,52.54],[13.50,52.40],[13.16,52.40],[13.16,52.54]]]"
    query = parse_geoquery("within", "Polygon", coordinates, "location")
    assert query is not None
    assert query.matches(Point(13.3, 52.5))
    assert not query.matches(Point(13.6, 52.5))


def test_coordinates_may_be_a_parsed_list_and_geometry_any_case() -> None:
    query = parse_geoquery("intersects", "polygon", [[[0, 0], [1, 0], [1, 1], [0, 0]]], "observationSpace")
    assert query is not None
    assert query.geometry.geom_type == "Polygon"
    assert query.geoproperty == "observationSpace"


def test_to_dict_round_trips() -> None:
    query = parse_geoquery("near;minDistance==10.5;maxDistance==2000", "Point", [1.5, 2.5], "loc")
    assert query is not None
    assert query.to_dict() == {
        "georel": "near;maxDistance==2000;minDistance==10.5",
        "geometry": "Point",
        "coordinates": [1.5, 2.5],
        "geoproperty": "loc",
    }
    assert parse_geoquery(**query.to_dict()) == query


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates", "fragment"),
    [
        ("near;maxDistance==10", None, None, "missing: geometry, coordinates"),
        (None, "Point", "[0,0]", "missing: georel"),
        ("within", "Point", None, "missing: coordinates"),
        ("invalid", "Point", "[-8.503,41.202]", "unknown georel 'invalid'"),
        ("", "Point", "[0,0]", "georel must be one of"),
        ("near", "Point", "[0,0]", "needs maxDistance"),
        ("near;maxDistance==-5", "Point", "[0,0]", "must not be negative"),
        ("near;maxDistance==abc", "Point", "[0,0]", "must be a number"),
        ("near;maxDistance==nan", "Point", "[0,0]", "finite"),
        ("near;maxDistance==inf", "Point", "[0,0]", "finite"),
        ("near;maxDistance=5", "Point", "[0,0]", "invalid near term"),
        ("near;maxDistance:5", "Point", "[0,0]", "invalid near term"),
        ("near;distance==5", "Point", "[0,0]", "invalid near term"),
        ("near;maxDistance==1;maxDistance==2", "Point", "[0,0]", "twice"),
        ("within;maxDistance==5", "Point", "[0,0]", "takes no further terms"),
        ("Within", "Point", "[0,0]", "unknown georel"),
        ("within", "Circle", "[0,0]", "unsupported geometry 'Circle'"),
        ("within", "Point", "0,0", "must be a JSON array"),
        ("within", "Point", "[0,", "must be a JSON array"),
        ("within", "Point", '{"a": 1}', "must be a JSON array"),
        ("within", "Point", "[" * 100_000, "must be a JSON array"),
        ("within", "Point", "[200,0]", "longitude 200.0 is outside"),
        ("within", "Polygon", "[[[0,0],[1,0],[1,1]]]", "at least 4 positions"),
    ],
)
def test_bad_geo_queries(georel: str | None, geometry: str | None, coordinates: str | None, fragment: str) -> None:
    with pytest.raises(BadRequestData) as caught:
        parse_geoquery(georel, geometry, coordinates)
    assert fragment in caught.value.detail


def test_bad_geoproperty() -> None:
    with pytest.raises(BadRequestData):
        parse_geoquery("within", "Point", "[0,0]", "loc ation")


# -- distances --------------------------------------------------------------------------------


def test_one_kilometre_along_a_meridian() -> None:
    # 1000 m / (6371008.8 m * pi / 180) = 0.0089932036 deg of latitude.
    assert pytest.approx(0.0089932036, abs=1e-10) == ONE_KM_IN_DEGREES
    target = Point(10.0, 45.0 + 0.0089932)  # 999.9996 m north of the query point
    assert near(10.0, 45.0, max_m=1000).distance_to(target) == pytest.approx(999.9996, abs=1e-3)
    assert near(10.0, 45.0, max_m=1000).matches(target)
    assert not near(10.0, 45.0, max_m=990).matches(target)
    assert near(10.0, 45.0, min_m=990).matches(target)
    assert not near(10.0, 45.0, min_m=1001).matches(target)
    assert near(10.0, 45.0, min_m=990, max_m=1000).matches(target)
    # 0.008993216 deg is one kilometre for R = 6371 km; on this sphere it is 1000.0014 m.
    beyond = Point(10.0, 45.0 + 0.008993216)
    assert near(10.0, 45.0, max_m=1000).distance_to(beyond) == pytest.approx(1000.0014, abs=1e-3)
    assert not near(10.0, 45.0, max_m=1000).matches(beyond)
    assert near(10.0, 45.0, max_m=1001).matches(beyond)


def test_one_kilometre_along_a_parallel_at_60_degrees() -> None:
    # cos(60 deg) = 0.5, so 1 km east is twice as many degrees of longitude as of latitude.
    east = Point(2 * ONE_KM_IN_DEGREES, 60.0)
    distance = near(0.0, 60.0, max_m=1000).distance_to(east)
    # The great circle is a hair shorter than the parallel: 999.99999 m.
    assert distance == pytest.approx(haversine_m(0, 60, 2 * ONE_KM_IN_DEGREES, 60), abs=1e-6)
    assert distance == pytest.approx(1000.0, abs=0.01)


def test_distance_from_a_point_is_the_great_circle_distance_at_any_range() -> None:
    for lon, lat in [(13.4, 52.5), (-70.0, -33.4), (151.2, -33.9), (2.35, 48.85)]:
        query = near(2.35, 48.85, max_m=1e7)
        assert query.distance_to(Point(lon, lat)) == pytest.approx(haversine_m(2.35, 48.85, lon, lat), rel=1e-9)


def test_distance_to_a_polygon_and_a_line() -> None:
    block = square(0.0, 0.0, 0.01, 0.01)
    query = relation("near;maxDistance==600", block)
    north = Point(0.005, 0.01 + 500 / METRES_PER_DEGREE)  # 500 m north of the top edge
    assert query.distance_to(north) == pytest.approx(500.0, rel=1e-3)
    assert query.matches(north)
    assert not relation("near;maxDistance==400", block).matches(north)
    assert relation("near;minDistance==400", block).matches(north)
    assert relation("near;maxDistance==1", block).matches(Point(0.005, 0.005))  # inside: distance 0
    road = {"type": "LineString", "coordinates": [[0.0, 0.0], [0.02, 0.0]]}
    assert relation("near;maxDistance==300", road).matches(Point(0.01, 250 / METRES_PER_DEGREE))
    assert not relation("near;maxDistance==200", road).matches(Point(0.01, 250 / METRES_PER_DEGREE))


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(-170, 170),
    lat=st.floats(-80, 80),
    bearing=st.floats(0, 360),
    metres=st.floats(1, 50_000),
    fraction=st.floats(0, 0.999),
)
def test_points_within_max_distance_match_and_lie_in_the_search_box(
    lon: float, lat: float, bearing: float, metres: float, fraction: float
) -> None:
    target_lon, target_lat = destination(lon, lat, bearing, metres * fraction)
    assume(-180 <= target_lon <= 180)
    query = near(lon, lat, max_m=metres)
    assert query.distance_to(Point(target_lon, target_lat)) == pytest.approx(metres * fraction, abs=1e-3)
    assert query.matches(Point(target_lon, target_lat))
    box = query.search_box()
    assert box is not None
    assert box[0] <= target_lon <= box[2]
    assert box[1] <= target_lat <= box[3]


# -- topological georels ----------------------------------------------------------------------

Q = square(0, 0, 2, 2)


@pytest.mark.parametrize(
    ("georel", "entity", "expected"),
    [
        ("within", Point(1, 1), True),
        ("within", Point(3, 3), False),
        ("within", Point(0, 1), False),  # on the boundary is not within
        ("within", Polygon([(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 0.5)]), True),
        ("within", Polygon([(1, 1), (3, 1), (3, 3), (1, 1)]), False),
        ("contains", Polygon([(-1, -1), (3, -1), (3, 3), (-1, 3)]), True),
        ("contains", Polygon([(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 0.5)]), False),
        ("contains", Point(1, 1), False),
        ("intersects", LineString([(-1, 1), (3, 1)]), True),
        ("intersects", Point(2, 2), True),  # touching counts
        ("intersects", Point(5, 5), False),
        ("disjoint", Point(5, 5), True),
        ("disjoint", Point(1, 1), False),
        ("disjoint", Point(2, 2), False),
        ("overlaps", Polygon([(1, 1), (3, 1), (3, 3), (1, 3)]), True),
        ("overlaps", Polygon([(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 0.5)]), False),  # inside is not overlap
        ("overlaps", Point(1, 1), False),  # different dimensions never overlap
        ("equals", Polygon([(2, 2), (0, 2), (0, 0), (2, 0)]), True),  # same shape, other start and order
        ("equals", Polygon([(0, 0), (2, 0), (2, 3), (0, 3)]), False),
    ],
)
def test_georels(georel: str, entity: Any, expected: bool) -> None:
    assert relation(georel, Q).matches(entity) is expected


def test_equals_on_points() -> None:
    assert relation("equals", point(13.3986, 52.5547)).matches(Point(13.3986, 52.5547))
    assert not relation("equals", point(13.3986, 52.5547)).matches(Point(13.3986, 52.5548))


def test_compile_over_entities_uses_the_geoproperty_and_every_instance() -> None:
    query = parse_geoquery("within", "Polygon", Q["coordinates"], "observationSpace")
    assert query is not None
    predicate = query.compile(expand)
    inside = make_entity(observationSpace=[geo(point(5, 5)), geo(point(1, 1), datasetId="urn:ngsi-ld:D:2")])
    outside = make_entity(observationSpace=geo(point(5, 5)), location=geo(point(1, 1)))
    assert predicate(inside)
    assert not predicate(outside)
    assert not predicate(make_entity())


# -- search boxes -----------------------------------------------------------------------------


def test_search_box_of_topological_georels_is_the_query_bbox() -> None:
    for georel in ("within", "contains", "intersects", "overlaps", "equals"):
        assert relation(georel, Q).search_box() == (0.0, 0.0, 2.0, 2.0)
    assert relation("disjoint", Q).search_box() is None
    assert near(0, 0, min_m=100).search_box() is None


def test_search_box_grows_by_the_distance_in_degrees() -> None:
    grow = (1000 * 1.01 + 1) / METRES_PER_DEGREE  # 0.0090921 deg: 1 km plus the safety margin
    min_x, min_y, max_x, max_y = near(0, 0, max_m=1000).search_box() or (0, 0, 0, 0)
    assert (min_y, max_y) == pytest.approx((-grow, grow), rel=1e-9)
    assert (min_x, max_x) == pytest.approx((-grow, grow), rel=1e-6)
    # At 60 degrees a degree of longitude is half as long: the box is twice as wide.
    min_x, min_y, max_x, max_y = near(0, 60, max_m=1000).search_box() or (0, 0, 0, 0)
    assert max_y - 60 == pytest.approx(grow, rel=1e-9)
    assert max_x == pytest.approx(2 * grow, rel=1e-3)
    assert max_x >= 2 * ONE_KM_IN_DEGREES
    # A polygon's box grows on every side, scaled by the latitude nearest the pole.
    box = relation("near;maxDistance==1000", square(10, 59, 11, 60)).search_box() or (0, 0, 0, 0)
    assert box[1] == pytest.approx(59 - grow)
    assert box[3] == pytest.approx(60 + grow)
    assert box[0] == pytest.approx(10 - 2 * grow, rel=1e-3)


def test_search_box_near_the_poles_and_the_antimeridian() -> None:
    assert near(45, 89.995, max_m=1000).search_box() == (
        -180.0,
        pytest.approx(89.995 - 0.0090921, abs=1e-6),
        180.0,
        90.0,
    )
    assert near(0, -89.999, max_m=1000).search_box()[1] == -90.0  # type: ignore[index]
    box = near(179.999, 0, max_m=1000).search_box()
    assert box is not None
    assert (box[0], box[2]) == (-180.0, 180.0)
    assert near(0, 0, max_m=3e7).search_box() == (-180.0, -90.0, 180.0, 90.0)


# -- property tests ---------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(
    georel=st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["near;maxDistance==10", "within", "near"])),
    geometry=st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["Point", "Polygon", "LineString"])),
    coordinates=st.one_of(
        st.none(),
        st.text(max_size=40),
        st.text(alphabet="[]0123456789.,-e ", max_size=40),
        st.recursive(
            st.one_of(st.floats(allow_nan=True), st.integers(), st.booleans(), st.text(max_size=3)),
            lambda inner: st.lists(inner, max_size=5),
            max_leaves=20,
        ),
    ),
)
def test_parse_geoquery_returns_a_query_or_raises_a_400(georel: Any, geometry: Any, coordinates: Any) -> None:
    try:
        query = parse_geoquery(georel, geometry, coordinates)
    except (BadRequestData, InvalidRequest):
        return
    if query is not None:
        assert query.matches(Point(0, 0)) in (True, False)
        query.search_box()
