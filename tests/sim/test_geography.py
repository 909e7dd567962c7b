"""The map of Bonn: real names, plausible synthetic shapes, reproducible, valid GeoJSON and NGSI-LD."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from shapely.geometry import LineString, Point, shape
from shapely.ops import unary_union

from urbis.context.jsonld import URBIS_CONTEXT_URL, ContextResolver, LdContext
from urbis.context.model import build_entity
from urbis.sim.geography import (
    BOROUGHS,
    CENTRE_LAT,
    CENTRE_LON,
    DISTRICTS,
    RHINE,
    Geography,
    generate,
    geojson_geometry,
    slug,
    to_lonlat,
    to_xy,
)

NOW = "2026-11-24T07:00:00.000000Z"


@pytest.fixture(scope="module")
def bonn() -> Geography:
    return generate(7)


@pytest.fixture(scope="module")
def urbis_context() -> LdContext:
    return ContextResolver(base_url="http://127.0.0.1:8000").resolve(URBIS_CONTEXT_URL)


def test_projection_round_trips_and_is_metric() -> None:
    assert to_lonlat(0, 0) == (CENTRE_LON, CENTRE_LAT)
    lon, lat = to_lonlat(1000.0, 2000.0)
    x, y = to_xy(lon, lat)
    assert x == pytest.approx(1000.0, abs=0.01) and y == pytest.approx(2000.0, abs=0.01)
    # One degree of latitude is about 111.2 km; at 50.74 N one degree of longitude is about 70.4 km.
    assert to_xy(CENTRE_LON, CENTRE_LAT + 1)[1] == pytest.approx(111_195, rel=1e-6)
    assert to_xy(CENTRE_LON + 1, CENTRE_LAT)[0] == pytest.approx(70_370, rel=2e-3)


def test_every_real_district_is_there_once_in_its_borough(bonn: Geography) -> None:
    names = [d.name for d in bonn.districts]
    assert sorted(names) == sorted(d.name for d in DISTRICTS)
    assert len(set(names)) == len(names) == 52
    boroughs = Counter(d.borough for d in bonn.districts)
    assert set(boroughs) == set(BOROUGHS) == {"Bonn", "Bad Godesberg", "Beuel", "Hardtberg"}
    assert boroughs["Beuel"] == 14 and boroughs["Hardtberg"] == 5
    for wanted in ("Zentrum", "Poppelsdorf", "Endenich", "Kessenich", "Duisdorf", "Beuel-Mitte"):
        assert wanted in names


def test_districts_tile_the_city_without_gaps_or_overlaps(bonn: Geography) -> None:
    shapes = [d.shape for d in bonn.districts]
    assert all(s.geom_type == "Polygon" and s.is_valid and s.area > 100_000 for s in shapes)
    union = unary_union(shapes)
    assert union.area == pytest.approx(sum(s.area for s in shapes), rel=1e-6)  # no overlaps
    assert union.area == pytest.approx(bonn.outline.area, rel=1e-6)  # no gaps
    # Bonn covers about 141 km²: the synthetic city is of that order.
    assert 100e6 < union.area < 200e6


def test_each_district_holds_its_centre_and_beuel_lies_east_of_the_rhine(bonn: Geography) -> None:
    river = LineString([to_xy(lon, lat) for lon, lat in RHINE])
    for district in bonn.districts:
        assert district.shape.covers(district.site), district.name
        # East = to the right of the river's nearest stretch, looking downstream (the Rhine flows north).
        point = district.shape.representative_point()
        along = river.project(point)
        (x1, y1), (x2, y2) = river.interpolate(along - 50).coords[0], river.interpolate(along + 50).coords[0]
        cross = (x2 - x1) * (point.y - y1) - (y2 - y1) * (point.x - x1)
        assert (cross < 0) == district.east_bank, district.name
    assert bonn.district("beuel-mitte").east_bank and not bonn.district("zentrum").east_bank


def test_district_at_finds_the_covering_district(bonn: Geography) -> None:
    for district in bonn.districts:
        found = bonn.district_at(district.site.x, district.site.y)
        assert found is not None and found.key == district.key
    assert bonn.district_at(60_000.0, 0.0) is None


def test_streets_lie_in_the_city_with_main_roads_named(bonn: Geography) -> None:
    city = bonn.outline.buffer(1.0)
    assert all(city.covers(street.line) for street in bonn.streets if street.road_class == "residential")
    main = {street.name for street in bonn.streets if street.road_class != "residential"}
    assert {"Kölnstraße", "Adenauerallee", "Kennedybrücke", "Königswinterer Straße"} <= main
    residential = [street for street in bonn.streets if street.road_class == "residential"]
    assert len(residential) > 300
    assert all(street.line.length >= 80.0 for street in residential)
    # Each local street lies inside the district that holds it (no street crosses two districts).
    for street in residential[:200]:
        assert bonn.district(street.district).shape.buffer(1.0).covers(street.line)
    names = [street.name for street in residential]
    assert len(set(names)) == len(names)  # a city has each street name once


def test_same_seed_same_map_other_seed_other_boundaries() -> None:
    first, again, other = generate(3), generate(3), generate(4)
    assert first.feature_collection() == again.feature_collection()
    assert [d.shape.wkt for d in first.districts] != [d.shape.wkt for d in other.districts]
    assert [d.name for d in first.districts] == [d.name for d in other.districts]


def test_feature_collection_is_rfc7946_geojson_in_bonn(bonn: Geography) -> None:
    collection = bonn.feature_collection()
    assert collection["type"] == "FeatureCollection"
    kinds = Counter(feature["properties"]["kind"] for feature in collection["features"])
    assert kinds == {"borough": 4, "district": 52, "street": len(bonn.streets), "river": 1}
    for feature in collection["features"]:
        geometry = feature["geometry"]
        geom = shape(geometry)
        assert geom.is_valid, feature["id"]
        minx, miny, maxx, maxy = geom.bounds
        assert minx > 6.9 and maxx < 7.3 and miny > 50.6 and maxy < 50.85, feature["id"]
        if geometry["type"] == "Polygon":
            ring = geometry["coordinates"][0]
            assert ring[0] == ring[-1]
            # Exterior rings run counter-clockwise (RFC 7946 §3.1.6): positive shoelace area.
            area = sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring))
            assert area > 0, feature["id"]


def test_geojson_geometry_handles_every_shape() -> None:
    assert geojson_geometry(Point(0, 0)) == {"type": "Point", "coordinates": [CENTRE_LON, CENTRE_LAT]}
    line = geojson_geometry(LineString([(0, 0), (100, 0)]))
    assert line["type"] == "LineString" and len(line["coordinates"]) == 2
    multi = geojson_geometry(Point(0, 0).buffer(10).union(Point(100, 0).buffer(10)))
    assert multi["type"] == "MultiPolygon" and len(multi["coordinates"]) == 2


def test_entities_are_valid_ngsi_ld(bonn: Geography, urbis_context: LdContext) -> None:
    entities = bonn.entities()
    assert Counter(e["type"] for e in entities) == {"AdministrativeArea": 56, "Road": len(bonn.streets)}
    ids = [e["id"] for e in entities]
    assert len(ids) == len(set(ids))
    for raw in entities:
        built = build_entity(raw, urbis_context.expand, NOW)
        assert built["id"] == raw["id"]
    zentrum = next(e for e in entities if e["id"] == "urn:ngsi-ld:AdministrativeArea:bonn-zentrum")
    assert zentrum["containedInPlace"]["object"] == "urn:ngsi-ld:AdministrativeArea:bonn-bonn"


def test_slug_is_ascii_and_urn_safe() -> None:
    assert slug("Röttgen") == "roettgen"
    assert slug("Lessenich/Meßdorf") == "lessenich-messdorf"
    assert slug("Bad Godesberg") == "bad-godesberg"
    assert slug("Schwarzrheindorf/Vilich-Rheindorf") == "schwarzrheindorf-vilich-rheindorf"
