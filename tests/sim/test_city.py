"""The city generator: deterministic, valid NGSI-LD in the Urbis terms, inside its districts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from shapely.geometry import Point, shape
from shapely.ops import unary_union

from urbis.context.jsonld import DEFAULT_VOCAB, URBIS_CONTEXT_URL, ContextResolver, LdContext
from urbis.context.model import ENTITY_MEMBERS, GEO_PROPERTY, build_entity
from urbis.sim.city import CityGenerator, CityPlan

NOW = "2026-11-24T07:00:00.000000Z"
SOLUTION_TYPES = {"Streetlight", "AirQualityObserved", "ParkingSpot", "OffStreetParking"}
#: Terms the generator uses that the Urbis @context does not define yet (they fall back to the default vocabulary).
KNOWN_UNDEFINED_TERMS: set[str] = set()


@pytest.fixture(scope="module")
def urbis_context() -> LdContext:
    return ContextResolver(base_url="http://127.0.0.1:8000").resolve(URBIS_CONTEXT_URL)


def demo() -> list[dict[str, Any]]:
    return CityGenerator().demo()


def _points(entity: dict[str, Any]) -> list[Point]:
    return [
        Point(value["value"]["coordinates"])
        for value in entity.values()
        if isinstance(value, dict) and value.get("type") == GEO_PROPERTY and value["value"]["type"] == "Point"
    ]


def test_same_seed_same_city() -> None:
    assert demo() == demo()
    assert list(CityGenerator(CityPlan(seed=3)).mixed(90)) == list(CityGenerator(CityPlan(seed=3)).mixed(90))


def test_different_seed_different_city() -> None:
    assert CityGenerator(CityPlan(seed=1)).demo() != CityGenerator(CityPlan(seed=2)).demo()


def test_demo_city_contents() -> None:
    types = Counter(entity["type"] for entity in demo())
    assert types == {
        "AdministrativeArea": 9,
        "Streetlight": 300,
        "AirQualityObserved": 12,
        "ParkingSpot": 200,
        "OffStreetParking": 3,
    }


def test_ids_are_unique_urns_of_their_type() -> None:
    entities = demo()
    ids = [entity["id"] for entity in entities]
    assert len(ids) == len(set(ids))
    for entity in entities:
        assert entity["id"].startswith(f"urn:ngsi-ld:{entity['type']}:")


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 10, 100, 3001])
def test_mixed_yields_exactly_n_unique_entities(count: int) -> None:
    entities = list(CityGenerator().mixed(count))
    assert len(entities) == count
    assert len({entity["id"] for entity in entities}) == count
    assert {entity["type"] for entity in entities} <= {"Streetlight", "AirQualityObserved", "ParkingSpot"}


def test_mixed_is_split_in_thirds() -> None:
    types = Counter(entity["type"] for entity in CityGenerator().mixed(300))
    assert types == {"Streetlight": 100, "AirQualityObserved": 100, "ParkingSpot": 100}


def test_entities_are_valid_ngsi_ld(urbis_context: LdContext) -> None:
    for raw in demo():
        entity = build_entity(raw, urbis_context.expand, NOW)  # raises BadRequestData when invalid
        assert entity["id"] == raw["id"]
        assert len(entity["type"]) == 1
        assert len(entity["attrs"]) == len(set(raw) - ENTITY_MEMBERS)


def test_solution_types_are_smart_data_models(urbis_context: LdContext) -> None:
    for name in SOLUTION_TYPES:
        assert urbis_context.expand(name).startswith("https://smartdatamodels.org/dataModel."), name


def test_every_term_is_defined_by_the_urbis_context(urbis_context: LdContext) -> None:
    terms = set()
    for raw in demo():
        terms.add(raw["type"])
        terms.update(set(raw) - ENTITY_MEMBERS)
    undefined = {term for term in terms if urbis_context.expand(term).startswith(DEFAULT_VOCAB)}
    assert undefined == KNOWN_UNDEFINED_TERMS


def test_every_point_lies_inside_the_districts() -> None:
    entities = demo()
    districts = [entity for entity in entities if entity["type"] == "AdministrativeArea"]
    city = unary_union([shape(district["location"]["value"]) for district in districts])
    assert city.is_valid and city.area > 0
    points = [(entity["id"], point) for entity in entities for point in _points(entity)]
    assert len(points) == len(entities) - len(districts)
    outside = [entity_id for entity_id, point in points if not city.covers(point)]
    assert outside == []


def test_points_of_a_big_city_lie_inside_its_districts() -> None:
    generator = CityGenerator(CityPlan(districts_per_side=4, width_m=20_000, height_m=3_000, seed=11))
    city = unary_union([shape(district["location"]["value"]) for district in generator.districts()])
    points = [point for entity in generator.mixed(1500) for point in _points(entity)]
    assert len(points) == 1500
    assert all(city.covers(point) for point in points)


def test_districts_tile_the_city_without_overlap() -> None:
    polygons = [shape(district["location"]["value"]) for district in CityGenerator().districts()]
    assert len(polygons) == 9
    total = sum(polygon.area for polygon in polygons)
    assert unary_union(polygons).area == pytest.approx(total, rel=1e-9)


def test_area_served_is_the_district_holding_the_point() -> None:
    entities = demo()
    districts = {
        entity["id"]: shape(entity["location"]["value"])
        for entity in entities
        if entity["type"] == "AdministrativeArea"
    }
    checked = 0
    for entity in entities:
        if "areaServed" not in entity or entity["type"] == "AdministrativeArea":
            continue
        (point,) = _points(entity)
        assert districts[entity["areaServed"]["value"]].covers(point), entity["id"]
        checked += 1
    assert checked == 300 + 12 + 200 + 3
