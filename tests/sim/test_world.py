"""The city's inventory: sizes, groups and cabinets, gateways, devices and valid NGSI-LD entities."""

from __future__ import annotations

from collections import Counter

import pytest
from shapely.geometry import Point, shape

from urbis.context.jsonld import DEFAULT_VOCAB, URBIS_CONTEXT_URL, ContextResolver, LdContext
from urbis.context.model import build_entity
from urbis.sim.geography import to_xy
from urbis.sim.world import City, CityConfig, build_city, gateway_id

NOW = "2026-11-24T07:00:00.000000Z"
#: Terms the simulator uses that the Urbis @context does not define (they expand with the default vocabulary).


@pytest.fixture(scope="module")
def city() -> City:
    return build_city()


@pytest.fixture(scope="module")
def small() -> City:
    return build_city(CityConfig(seed=3, lights=50, stations=5, bays=60, garages=1))


@pytest.fixture(scope="module")
def urbis_context() -> LdContext:
    return ContextResolver(base_url="http://127.0.0.1:8000").resolve(URBIS_CONTEXT_URL)


def test_default_city_has_the_sizes_of_the_issue(city: City) -> None:
    assert len(city.lights) == 5000
    assert len(city.stations) == 50
    assert len(city.bays) == 3000
    assert len(city.garages) == 10
    assert Counter(s.spec.grade for s in city.stations) == {"reference": 5, "low-cost": 45}
    assert len(city.zones) == 60 and all(len(zone.bay_ids) == 50 for zone in city.zones)
    assert {zone.kind for zone in city.zones} == {"short-stay", "medium-stay", "residents"}


def test_lights_come_in_groups_of_about_fifty_fed_by_cabinets_of_two_or_three(city: City) -> None:
    sizes = [len(group.light_indices) for group in city.groups]
    assert sum(sizes) == 5000
    # Lights are grouped per district, so a district with few lights has a small group.
    assert all(1 <= size < 75 for size in sizes)
    assert sum(size >= 25 for size in sizes) > 0.9 * len(sizes)
    assert 40 <= statistics_mean(sizes) <= 55
    per_cabinet = [len(cabinet.group_ids) for cabinet in city.cabinets]
    assert all(1 <= n <= 3 for n in per_cabinet) and statistics_mean(per_cabinet) > 1.6
    group_of = {i: g.id for g in city.groups for i in g.light_indices}
    for cabinet in city.cabinets:
        for index in cabinet.light_indices:
            assert city.lights[index].cabinet_index == cabinet.index
            assert group_of[index] in cabinet.group_ids
    # A group never spans two districts.
    for group in city.groups:
        assert len({city.lights[i].district for i in group.light_indices}) == 1


def statistics_mean(values: list[int]) -> float:
    return sum(values) / len(values)


def test_lamps_along_main_roads_are_brighter_and_taller(city: City) -> None:
    primary = {s.name for s in city.geography.streets if s.road_class == "primary"}
    main = {s.name for s in city.geography.streets if s.road_class != "residential"}
    on_main = [light for light in city.lights if light.street_name in main]
    local = [light for light in city.lights if light.street_name not in main]
    assert on_main and local
    assert min(light.spec.nominal_w for light in on_main if light.street_name in primary) >= 90
    assert max(light.spec.nominal_w for light in local) <= 60
    assert all(25 <= light.spec.nominal_w <= 120 for light in city.lights)
    assert min(light.lantern_height for light in on_main) > max(light.lantern_height for light in local)


def test_every_device_sits_in_its_district_and_reports_through_its_boroughs_gateway(city: City) -> None:
    domain = {
        "streetlight-controller": "lighting",
        "cabinet-meter": "lighting",
        "air-quality-station": "air",
        "parking-bay-sensor": "parking",
        "garage-counter": "parking",
    }
    by_name = {district.name: district for district in city.geography.districts}
    used = set()
    for item in [*city.lights, *city.cabinets, *city.stations, *city.bays, *city.garages]:
        device = item.device
        district = by_name[item.district]
        x, y = to_xy(device.lon, device.lat)
        assert district.shape.buffer(30.0).covers(Point(x, y)), device.id
        assert device.gateway_id == gateway_id(district.borough, domain[device.device_type]), device.id
        used.add(device.gateway_id)
    assert used == {device.id for device in city.gateways}
    assert {"gw-bonn-lighting", "gw-beuel-air", "gw-bad-godesberg-lighting", "gw-hardtberg-lighting"} <= used


def test_device_ids_are_unique_and_bodies_fit_the_registry(city: City) -> None:
    devices = list(city.devices())
    ids = [device.id for device in devices]
    assert len(ids) == len(set(ids)) == 12 + 5000 + len(city.cabinets) + 50 + 3000 + 10 - (12 - len(city.gateways))
    assert devices[: len(city.gateways)] == city.gateways  # gateways first: members name them
    bodies = city.device_bodies()
    types = Counter(body["deviceType"] for body in bodies)
    assert types == {
        "gateway": len(city.gateways),
        "streetlight-controller": 5000,
        "cabinet-meter": len(city.cabinets),
        "air-quality-station": 50,
        "parking-bay-sensor": 3000,
        "garage-counter": 10,
    }
    gateway = bodies[0]
    assert set(gateway) == {"id", "deviceType", "location"}
    lamp = next(body for body in bodies if body["deviceType"] == "streetlight-controller")
    assert lamp["entityId"] == f"urn:ngsi-ld:Streetlight:{lamp['id']}" and lamp["entityType"] == "Streetlight"
    assert lamp["gatewayId"].endswith("-lighting") and lamp["location"]["type"] == "Point"


def test_entities_are_valid_ngsi_ld_in_urbis_terms(small: City, urbis_context: LdContext) -> None:
    entities = small.entities()
    ids = [entity["id"] for entity in entities]
    assert len(ids) == len(set(ids))
    types = Counter(entity["type"] for entity in entities)
    assert types["Streetlight"] == 50 and types["AirQualityObserved"] == 5 and types["ParkingSpot"] == 60
    assert types["OffStreetParking"] == 1 and types["OnStreetParking"] == 2
    # 50 lights along the first main road cross a few districts: a group (and a cabinet) each.
    assert types["StreetlightGroup"] == len(small.groups) >= 1
    assert types["StreetlightControlCabinet"] == len(small.cabinets) >= 1
    terms = set()
    for raw in entities:
        build_entity(raw, urbis_context.expand, NOW)  # raises when invalid
        terms.add(raw["type"])
        terms.update(name for name in raw if name not in ("id", "type"))
    undefined = {term for term in terms if urbis_context.expand(term).startswith(DEFAULT_VOCAB)}
    assert undefined == set(), "every term the simulator writes is defined in the Urbis @context"
    # Device-fed entities carry only static attributes: an upsert never erases live values.
    light = next(entity for entity in entities if entity["type"] == "Streetlight")
    assert not {"powerState", "illuminanceLevel", "powerConsumption", "energyConsumed"} & set(light)
    zone = next(entity for entity in entities if entity["type"] == "OnStreetParking")
    assert shape(zone["location"]["value"]).geom_type == "Polygon"
    assert len(zone["refParkingSpot"]["object"]) == zone["totalSpotNumber"]["value"]


def test_small_city_is_exact_and_reproducible(small: City) -> None:
    again = build_city(CityConfig(seed=3, lights=50, stations=5, bays=60, garages=1))
    assert again.entities() == small.entities()
    assert again.device_bodies() == small.device_bodies()
    other = build_city(CityConfig(seed=4, lights=50, stations=5, bays=60, garages=1))
    assert other.entities() != small.entities()
    assert len(small.lights) == 50 and len(small.bays) == 60 and len(small.zones) == 2
    assert small.garages[0].device.name == "Marktgarage"


def test_empty_city_is_allowed() -> None:
    empty = build_city(CityConfig(lights=0, stations=0, bays=0, garages=0))
    assert list(empty.devices()) == []
    assert {entity["type"] for entity in empty.entities()} == {"AdministrativeArea", "Road"}


def test_feature_collection_adds_the_devices(small: City) -> None:
    collection = small.feature_collection()
    kinds = Counter(feature["properties"]["kind"] for feature in collection["features"])
    assert kinds["light"] == 50 and kinds["bay"] == 60 and kinds["station"] == 5 and kinds["garage"] == 1
    assert kinds["cabinet"] == len(small.cabinets) and kinds["district"] == 52
