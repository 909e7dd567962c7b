"""NGSI-LD entity queries through HTTP: ``GET /entities``, ``POST /entityOperations/query`` and purge.

Every test runs on SQLite and PostgreSQL (the ``client`` fixture), each in a fresh default tenant.
Expected answers are worked out by hand from the data each test creates.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from problem_details import assert_problem

BASE = "/ngsi-ld/v1"
ENTITIES = f"{BASE}/entities"
QUERY = f"{BASE}/entityOperations/query"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
SDM_PARKING = "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
SDM_LINK = f'<{SDM_PARKING}>; rel="{CONTEXT_REL}"; type="application/ld+json"'
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
EARTH_RADIUS_M = 6371008.8  # the IUGG mean radius: the sphere the broker measures on


# -- helpers ------------------------------------------------------------------------------------


def create_all(client: TestClient, entities: list[dict[str, Any]], headers: dict[str, str] | None = None) -> None:
    """Create entities one by one through ``POST /entities``."""
    for entity in entities:
        response = client.post(ENTITIES, json=entity, headers=headers or {})
        assert response.status_code == 201, response.text


def ids(response: Response) -> list[str]:
    """The sorted ids of a 200 query answer."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list)
    return sorted(item["id"] for item in body)


def run_cases(client: TestClient, cases: list[tuple[dict[str, str], list[str]]], **common: str) -> None:
    """Run ``GET /entities`` for each parameter set; report every mismatch at once."""
    failures = []
    for params, expected in cases:
        response = client.get(ENTITIES, params={**common, **params})
        if response.status_code != 200:
            failures.append((params, response.status_code, response.text))
            continue
        got = ids(response)
        if got != sorted(expected):
            failures.append((params, got, sorted(expected)))
    assert not failures, "\n".join(str(f) for f in failures)


def links(response: Response) -> dict[str, str]:
    """``rel`` -> URL of every entry of the response's ``Link`` header."""
    found: dict[str, str] = {}
    for match in re.finditer(r"<([^>]*)>([^,<]*)", response.headers.get("link", "")):
        rel = re.search(r'rel="([^"]+)"', match.group(2))
        if rel:
            found[rel.group(1)] = match.group(1)
    return found


def prop(value: Any, **members: Any) -> dict[str, Any]:
    """A Property."""
    return {"type": "Property", "value": value, **members}


def rel(target: str) -> dict[str, Any]:
    """A Relationship."""
    return {"type": "Relationship", "object": target}


def geo(kind: str, coordinates: Any) -> dict[str, Any]:
    """A GeoProperty."""
    return {"type": "GeoProperty", "value": {"type": kind, "coordinates": coordinates}}


def square(min_x: float, min_y: float, max_x: float, max_y: float) -> list[list[list[float]]]:
    """The coordinates of an axis-aligned square polygon."""
    return [[[min_x, min_y], [max_x, min_y], [max_x, max_y], [min_x, max_y], [min_x, min_y]]]


# -- Entity Type Selection Language -------------------------------------------------------------

T = "urn:ngsi-ld:Thing:"


def typed_entities() -> list[dict[str, Any]]:
    return [
        {"id": T + "bt", "type": ["Building", "TouristDestination"], "name": prop("Pisa Tower")},
        {"id": T + "b", "type": "Building", "name": prop("Town hall")},
        {"id": T + "t", "type": "TouristDestination", "name": prop("Beach")},
        {"id": T + "p", "type": "OffStreetParking", "name": prop("Garage")},
        {"id": T + "pb", "type": ["OffStreetParking", "Building"], "name": prop("Garage tower")},
        {"id": T + "o", "type": "Other"},
    ]


def test_type_selection_language(client: TestClient) -> None:
    create_all(client, typed_entities())
    run_cases(
        client,
        [
            ({"type": "Building"}, [T + "bt", T + "b", T + "pb"]),
            ({"type": "Building,OffStreetParking"}, [T + "bt", T + "b", T + "p", T + "pb"]),
            ({"type": "Building|TouristDestination"}, [T + "bt", T + "b", T + "t", T + "pb"]),
            ({"type": "Building;TouristDestination"}, [T + "bt"]),
            # The suite's 019_08 example.
            ({"type": "(Building;TouristDestination),OffStreetParking"}, [T + "bt", T + "p", T + "pb"]),
            ({"type": "Building;(TouristDestination|OffStreetParking)"}, [T + "bt", T + "pb"]),
            ({"type": "(OffStreetParking;Building)|(TouristDestination;Other)"}, [T + "pb"]),
            ({"type": "Nothing"}, []),
            ({"type": DEFAULT_VOCAB + "TouristDestination"}, [T + "bt", T + "t"]),
        ],
    )


def test_multi_typed_entities_render_every_type(client: TestClient) -> None:
    create_all(client, typed_entities())
    response = client.get(ENTITIES, params={"type": "Building;TouristDestination"})
    (entity,) = response.json()
    assert sorted(entity["type"]) == ["Building", "TouristDestination"]


@pytest.mark.parametrize("selection", ["(Building", "Building)", "Building;;Other", ",Building", 'Build"ing', "()"])
def test_bad_type_selection_is_400(client: TestClient, selection: str) -> None:
    assert_problem(client.get(ENTITIES, params={"type": selection}), 400)


# -- id, idPattern, attrs -----------------------------------------------------------------------

C = "urn:ngsi-ld:Car:"


def cars() -> list[dict[str, Any]]:
    return [
        {"id": C + "1", "type": "Car", "speed": prop(10), "color": prop("red")},
        {"id": C + "2", "type": "Car", "speed": prop(20)},
        {"id": C + "12", "type": "Car", "color": prop("blue")},
        {"id": C + "3", "type": "Truck", "load": prop(7)},
    ]


def test_id_list_and_id_pattern(client: TestClient) -> None:
    create_all(client, cars())
    run_cases(
        client,
        [
            ({"id": f"{C}1,{C}3"}, [C + "1", C + "3"]),
            ({"id": f"{C}1,{C}3", "type": "Car"}, [C + "1"]),
            ({"id": f"{C}404"}, []),
            ({"idPattern": r"^urn:ngsi-ld:Car:[12]$"}, [C + "1", C + "2"]),
            ({"idPattern": r"Car:1"}, [C + "1", C + "12"]),
            ({"idPattern": ".*", "type": "Truck"}, [C + "3"]),
            ({"idPattern": r"^urn:ngsi-ld:Car:1", "id": f"{C}12,{C}2"}, [C + "12"]),
        ],
    )


@pytest.mark.parametrize(
    "params",
    [{"idPattern": "(unclosed"}, {"idPattern": "[z-a]"}, {"id": "not a uri"}, {"id": ","}, {"id": "urn:ok,bad id"}],
)
def test_bad_id_or_pattern_is_400(client: TestClient, params: dict[str, str]) -> None:
    assert_problem(client.get(ENTITIES, params=params), 400)


def test_attrs_selects_and_projects(client: TestClient) -> None:
    create_all(client, cars())
    response = client.get(ENTITIES, params={"attrs": "color"})
    assert ids(response) == [C + "1", C + "12"]
    for entity in response.json():
        assert set(entity) == {"id", "type", "color"}, entity
    response = client.get(ENTITIES, params={"attrs": "color, load"})
    assert ids(response) == [C + "1", C + "12", C + "3"]
    by_id = {e["id"]: e for e in response.json()}
    assert set(by_id[C + "1"]) == {"id", "type", "color"}
    assert set(by_id[C + "3"]) == {"id", "type", "load"}
    assert ids(client.get(ENTITIES, params={"attrs": "speed", "type": "Car", "q": "speed>15"})) == [C + "2"]
    assert ids(client.get(ENTITIES, params={"attrs": "nothing"})) == []


# -- the q language -----------------------------------------------------------------------------

V = "urn:ngsi-ld:Vehicle:"


def vehicles() -> list[dict[str, Any]]:
    return [
        {
            "id": V + "A",
            "type": "Vehicle",
            "speed": prop(30, unitCode="KMH", observedAt="2026-01-10T08:00:00Z"),
            "brand": prop("Mercedes"),
            "isParked": prop(False),
            "locatedIn": rel("urn:ngsi-ld:City:Pisa"),
            "name": {"type": "LanguageProperty", "languageMap": {"en": "Red car", "fr": "Voiture rouge"}},
            "specs": prop({"engine": {"power": 150, "fuel": "diesel"}, "color": "red"}),
            "tags": prop(["city", "electric"]),
            "temperature": prop(21.5, accuracy=prop(0.5)),
            "lastService": prop({"@type": "DateTime", "@value": "2025-12-01T00:00:00Z"}),
            "serviceDate": prop("2025-12-01"),
        },
        {
            "id": V + "B",
            "type": "Vehicle",
            "speed": prop(80, unitCode="KMH", observedAt="2026-03-05T08:00:00Z"),
            "brand": prop("BMW"),
            "isParked": prop(True),
            "locatedIn": rel("urn:ngsi-ld:City:Paris"),
            "name": {"type": "LanguageProperty", "languageMap": {"en": "Blue car", "fr": "Voiture bleue"}},
            "specs": prop({"engine": {"power": 250, "fuel": "petrol"}, "color": "blue"}),
            "tags": prop(["sport"]),
            "temperature": prop(35.0, accuracy=prop(2.0)),
            "lastService": prop({"@type": "DateTime", "@value": "2026-02-01T12:00:00Z"}),
            "serviceDate": prop("2026-02-01"),
        },
        {
            "id": V + "C",
            "type": "Vehicle",
            "speed": prop(120),
            "brand": prop("mercedes-benz"),
            "locatedIn": rel("urn:ngsi-ld:City:Rome"),
            "specs": prop({"engine": {"power": 90}}),
        },
    ]


A, B, CC = V + "A", V + "B", V + "C"

Q_CASES: list[tuple[str, list[str]]] = [
    # comparisons
    ("speed>50", [B, CC]),
    ("speed>=80", [B, CC]),
    ("speed<80", [A]),
    ("speed<=80", [A, B]),
    ("speed==80", [B]),
    ("speed!=80", [A, CC]),
    ("speed==30.0", [A]),
    ("temperature>21.4", [A, B]),
    ("temperature<21.5", []),
    # ranges and lists
    ("speed==20..90", [A, B]),
    ("speed==30..80", [A, B]),
    ("speed!=20..90", [CC]),
    ("speed==30,120", [A, CC]),
    ("speed!=30,120", [B]),
    ('brand=="BMW","Mercedes"', [A, B]),
    ('brand=="BMW"', [B]),
    ('brand!="BMW"', [A, CC]),
    ('brand=="A".."C"', [B]),
    # regular expressions
    ("brand~=(?i)^mercedes", [A, CC]),
    ("brand!~=(?i)^mercedes", [B]),
    ('brand~="^Merc"', [A]),
    ("brand~=^(BMW|Merc)", [A, B]),
    # booleans, existence
    ("isParked==false", [A]),
    ("isParked==true", [B]),
    ("isParked", [A, B]),
    ("!isParked", [CC]),
    ("nothing", []),
    ("!nothing", [A, B, CC]),
    # logic: ';' binds tighter than '|'
    ("speed>50;isParked==true", [B]),
    ("speed<50|isParked==true", [A, B]),
    ("(speed<50|speed>100);brand~=(?i)merc", [A, CC]),
    ('speed<50|speed>100;brand=="BMW"', [A]),
    ('(speed<50|speed>100);brand=="mercedes-benz"', [CC]),
    ("((speed>10));(isParked|!isParked)", [A, B, CC]),
    # relationships
    ("locatedIn==urn:ngsi-ld:City:Pisa|locatedIn==urn:ngsi-ld:City:Paris", [A, B]),
    ('locatedIn=="urn:ngsi-ld:City:Rome"', [CC]),
    ("locatedIn!=urn:ngsi-ld:City:Rome", [A, B]),
    # members and sub-attributes
    ('speed.unitCode=="KMH"', [A, B]),
    ("speed.observedAt>=2026-02-01T00:00:00Z", [B]),
    ("speed.observedAt<2026-02-01T00:00:00Z", [A]),
    ("speed.observedAt==2026-01-10T09:00:00+01:00", [A]),
    ("speed.observedAt", [A, B]),
    ("!speed.observedAt", [CC]),
    ("temperature.accuracy<1", [A]),
    ("temperature.accuracy", [A, B]),
    ("!temperature.accuracy", [CC]),
    # compound values: [key] paths
    ('specs[color]=="red"', [A]),
    ("specs[engine][power]>200", [B]),
    ("specs[engine][power]==90..150", [A, CC]),
    ("specs[engine][fuel]", [A, B]),
    ("!specs[engine][fuel]", [CC]),
    ("specs[engine][fuel]~=^d", [A]),
    # arrays: any element
    ('tags=="electric"', [A]),
    ('tags=="sport","city"', [A, B]),
    # LanguageProperty: one language, or any
    ('name[fr]=="Voiture rouge"', [A]),
    ("name[en]~=(?i)blue", [B]),
    ('name[en]=="Voiture rouge"', []),
    ('name=="Blue car"', [B]),
    # dates and date-times
    ("lastService<2026-01-01T00:00:00Z", [A]),
    ("lastService==2026-02-01T00:00:00Z..2026-02-02T00:00:00Z", [B]),
    ("serviceDate>=2026-01-01", [B]),
]


def test_q_language_end_to_end(client: TestClient) -> None:
    create_all(client, vehicles())
    run_cases(client, [({"q": q}, expected) for q, expected in Q_CASES], type="Vehicle")


def test_q_alone_is_a_filter(client: TestClient) -> None:
    create_all(client, [*vehicles(), *cars()])
    assert ids(client.get(ENTITIES, params={"q": "speed<25"})) == [C + "1", C + "2"]
    assert ids(client.get(ENTITIES, params={"q": "speed<25", "type": "Vehicle"})) == []


def test_q_suite_examples(client: TestClient) -> None:
    # The data and queries of the conformance suite's 019_09.
    s = "urn:ngsi-ld:Building:"
    create_all(
        client,
        [
            {
                "id": s + "1",
                "type": "Building",
                "name": prop("Pisa Tower"),
                "almostFull": prop(False),
                "airQualityLevel": prop(5),
                "locatedIn": rel("urn:ngsi-ld:City:Pisa"),
            },
            {
                "id": s + "2",
                "type": "Building",
                "name": prop("Eiffel Tower"),
                "almostFull": prop(False),
                "airQualityLevel": prop(7),
                "locatedIn": rel("urn:ngsi-ld:City:Paris"),
            },
            {
                "id": s + "3",
                "type": "Building",
                "name": prop("Pisa Tower"),
                "almostFull": prop(True),
                "airQualityLevel": prop(3),
                "locatedIn": rel("urn:ngsi-ld:City:Rome"),
            },
        ],
    )
    run_cases(
        client,
        [
            ({"q": 'name=="Pisa Tower";almostFull==false'}, [s + "1"]),
            ({"q": "airQualityLevel>=4;airQualityLevel<7"}, [s + "1"]),
            ({"q": "locatedIn==urn:ngsi-ld:City:Pisa|locatedIn==urn:ngsi-ld:City:Paris"}, [s + "1", s + "2"]),
        ],
        type="Building",
    )
    # As the suite writes them: ';' and '|' unescaped in the query string.
    raw = client.get(ENTITIES + '?type=Building&q=name=="Pisa Tower";almostFull==false')
    assert ids(raw) == [s + "1"]
    raw = client.get(ENTITIES + "?type=Building&q=airQualityLevel>=4;airQualityLevel<7|airQualityLevel==3")
    assert ids(raw) == [s + "1", s + "3"]


BAD_Q = [
    "",
    " ",
    "speed>>1",
    "speed==",
    "speed=1",
    "(speed>1",
    "speed>1)",
    "speed==1..",
    "speed>1..5",
    "speed>true",
    ";speed>1",
    "speed>1;",
    "speed>1|",
    "!speed>1",
    "speed==(1)",
    "brand~=[",
    'brand=="unterminated',
    "brand==Mercedes",
    "specs[",
    "specs[]==1",
    "speed.observedAt.x==1",
    "=>5",
    "(" * 40 + "speed>1" + ")" * 40,
    "speed==1,2..3",
    'speed=="a"..5',
]


def test_bad_q_is_400_never_500(client: TestClient) -> None:
    create_all(client, vehicles())
    failures = []
    for q in BAD_Q:
        response = client.get(ENTITIES, params={"q": q, "type": "Vehicle"})
        if response.status_code != 400:
            failures.append((q, response.status_code, response.text))
            continue
        assert_problem(response, 400)
    assert not failures, failures


def test_q_terms_expand_with_the_link_context(client: TestClient) -> None:
    create_all(
        client,
        [
            {"id": "urn:ngsi-ld:OffStreetParking:1", "type": "OffStreetParking", "availableSpotNumber": prop(121)},
            {"id": "urn:ngsi-ld:OffStreetParking:2", "type": "OffStreetParking", "availableSpotNumber": prop(5)},
        ],
        headers={"Link": SDM_LINK},
    )
    found = client.get(
        ENTITIES, params={"type": "OffStreetParking", "q": "availableSpotNumber>100"}, headers={"Link": SDM_LINK}
    )
    assert ids(found) == ["urn:ngsi-ld:OffStreetParking:1"]
    assert found.json()[0]["type"] == "OffStreetParking"
    assert found.json()[0]["availableSpotNumber"]["value"] == 121
    # Without the Link header the same names expand to the default vocabulary: nothing matches.
    assert ids(client.get(ENTITIES, params={"type": "OffStreetParking"})) == []
    full = "https://smartdatamodels.org/dataModel.Parking/"
    response = client.get(ENTITIES, params={"type": full + "OffStreetParking", "q": f"{full}availableSpotNumber<10"})
    assert ids(response) == ["urn:ngsi-ld:OffStreetParking:2"]
    # Compacted with the core context only, the SDM names stay full IRIs.
    assert response.json()[0]["type"] == full + "OffStreetParking"
    assert full + "availableSpotNumber" in response.json()[0]


# -- geo-queries --------------------------------------------------------------------------------

R0 = (13.388930, 52.534473)  # the suite's 019_10 reference point, in Berlin
G = "urn:ngsi-ld:Place:"


def meridian_m(delta_lat: float) -> float:
    """Metres along a meridian for ``delta_lat`` degrees: exact on the sphere."""
    return EARTH_RADIUS_M * math.radians(delta_lat)


def parallel_m(lat: float, delta_lon: float) -> float:
    """Great-circle metres between two points on one parallel ``delta_lon`` degrees apart (haversine)."""
    return 2 * EARTH_RADIUS_M * math.asin(math.cos(math.radians(lat)) * math.sin(math.radians(delta_lon) / 2))


def points() -> list[dict[str, Any]]:
    x, y = R0
    return [
        {"id": G + "0", "type": "Shop", "open": prop(True), "location": geo("Point", [x, y])},
        {"id": G + "1", "type": "Shop", "open": prop(False), "location": geo("Point", [x, y + 0.01])},
        {"id": G + "2", "type": "Cafe", "open": prop(True), "location": geo("Point", [x, y + 0.1])},
        {"id": G + "3", "type": "Shop", "open": prop(True), "location": geo("Point", [x, y + 0.2])},
        {"id": G + "4", "type": "Cafe", "open": prop(False), "location": geo("Point", [x + 0.01, y])},
    ]


def test_hand_worked_distances() -> None:
    # The distances the near cases below rely on, worked out on the sphere.
    assert meridian_m(0.01) == pytest.approx(1111.95, abs=0.01)
    assert meridian_m(0.1) == pytest.approx(11119.51, abs=0.01)
    assert meridian_m(0.2) == pytest.approx(22239.02, abs=0.01)
    assert parallel_m(R0[1], 0.01) == pytest.approx(676.38, abs=0.01)


def test_near_on_points(client: TestClient) -> None:
    create_all(client, points())
    at = {"geometry": "Point", "coordinates": f"[{R0[0]},{R0[1]}]"}
    g0, g1, g2, g3, g4 = (G + str(i) for i in range(5))
    run_cases(
        client,
        [
            # The suite's 019_10 example.
            ({"georel": "near;maxDistance==15000"}, [g0, g1, g2, g4]),
            ({"georel": "near;maxDistance==0"}, [g0]),
            # g1 is 1111.95 m north: just outside 1111 m, just inside 1113 m.
            ({"georel": "near;maxDistance==1111"}, [g0, g4]),
            ({"georel": "near;maxDistance==1113"}, [g0, g1, g4]),
            # g4 is 676.38 m east.
            ({"georel": "near;maxDistance==670"}, [g0]),
            ({"georel": "near;maxDistance==685"}, [g0, g4]),
            ({"georel": "near;minDistance==5000"}, [g2, g3]),
            ({"georel": "near;minDistance==1111;maxDistance==15000"}, [g1, g2]),
            ({"georel": "near;maxDistance==22300;minDistance==11100"}, [g2, g3]),
            ({"georel": "near;minDistance==0"}, [g0, g1, g2, g3, g4]),
        ],
        **at,
    )


def test_near_with_ellipsoid_tolerant_bounds_still_orders_lon_lat(client: TestClient) -> None:
    # Swapping longitude and latitude would put the query point in Somalia: nothing would be near.
    create_all(client, points())
    response = client.get(
        ENTITIES, params={"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": f"[{R0[1]},{R0[0]}]"}
    )
    assert ids(response) == []


Q = "urn:ngsi-ld:Area:"
QUERY_SQUARE = square(10, 50, 11, 51)


def areas() -> list[dict[str, Any]]:
    return [
        {"id": Q + "p-in", "type": "Area", "location": geo("Point", [10.5, 50.5])},
        {"id": Q + "p-out", "type": "Area", "location": geo("Point", [12, 52])},
        {"id": Q + "inner", "type": "Area", "location": geo("Polygon", square(10.2, 50.2, 10.4, 50.4))},
        {"id": Q + "big", "type": "Area", "location": geo("Polygon", square(9, 49, 12, 52))},
        {"id": Q + "overlap", "type": "Area", "location": geo("Polygon", square(10.8, 50.8, 11.5, 51.5))},
        {"id": Q + "far", "type": "Area", "location": geo("Polygon", square(20, 40, 21, 41))},
        {"id": Q + "equal", "type": "Area", "location": geo("Polygon", QUERY_SQUARE)},
        {"id": Q + "line", "type": "Area", "location": geo("LineString", [[9.5, 50.7], [11.5, 50.7]])},
    ]


def test_all_georels_on_points_and_polygons(client: TestClient) -> None:
    create_all(client, areas())
    polygon = {"geometry": "Polygon", "coordinates": str(QUERY_SQUARE)}

    def n(*names: str) -> list[str]:
        return [Q + name for name in names]

    run_cases(
        client,
        [
            ({"georel": "within", **polygon}, n("p-in", "inner", "equal")),
            ({"georel": "contains", **polygon}, n("big", "equal")),
            ({"georel": "intersects", **polygon}, n("p-in", "inner", "big", "overlap", "equal", "line")),
            ({"georel": "disjoint", **polygon}, n("p-out", "far")),
            ({"georel": "overlaps", **polygon}, n("overlap")),
            ({"georel": "equals", **polygon}, n("equal")),
            ({"georel": "equals", "geometry": "Point", "coordinates": "[10.5,50.5]"}, n("p-in")),
            ({"georel": "intersects", "geometry": "Point", "coordinates": "[10.3,50.3]"}, n("inner", "big", "equal")),
            ({"georel": "contains", "geometry": "Point", "coordinates": "[10.3,50.3]"}, n("inner", "big", "equal")),
            # Inside a polygon the distance is zero.
            (
                {"georel": "near;maxDistance==1", "geometry": "Point", "coordinates": "[10.5,50.5]"},
                n("p-in", "big", "equal"),
            ),
            # The far square is 9 degrees of latitude (about 1000 km) south of the query point.
            (
                {"georel": "near;minDistance==900000", "geometry": "Point", "coordinates": "[10.5,50.5]"},
                n("far"),
            ),
            (
                {"georel": "within", "geometry": "MultiPolygon", "coordinates": str([square(10.1, 50.1, 10.6, 50.6)])},
                n("p-in", "inner"),
            ),
        ],
        type="Area",
    )


def test_geoproperty_selects_another_geoproperty(client: TestClient) -> None:
    create_all(
        client,
        [
            {
                "id": Q + "1",
                "type": "Sensor",
                "location": geo("Point", [12, 52]),
                "observationSpace": geo("Polygon", square(10.1, 50.1, 10.2, 50.2)),
                "deliveryArea": geo("Point", [10.5, 50.5]),
            },
            {"id": Q + "2", "type": "Sensor", "location": geo("Point", [10.5, 50.5])},
        ],
    )
    polygon = {"georel": "within", "geometry": "Polygon", "coordinates": str(QUERY_SQUARE)}
    run_cases(
        client,
        [
            (polygon, [Q + "2"]),
            ({**polygon, "geoproperty": "location"}, [Q + "2"]),
            ({**polygon, "geoproperty": "observationSpace"}, [Q + "1"]),
            ({**polygon, "geoproperty": "deliveryArea"}, [Q + "1"]),
            ({**polygon, "geoproperty": "operationSpace"}, []),
        ],
        type="Sensor",
    )


def test_q_type_and_geo_combined(client: TestClient) -> None:
    create_all(client, points())
    near = {"georel": "near;maxDistance==15000", "geometry": "Point", "coordinates": f"[{R0[0]},{R0[1]}]"}
    run_cases(
        client,
        [
            ({"type": "Shop", "q": "open==true", **near}, [G + "0"]),
            ({"type": "Shop,Cafe", "q": "open==true", **near}, [G + "0", G + "2"]),
            ({"type": "Shop", "q": "open==true"}, [G + "0", G + "3"]),
            ({"q": "open==false", **near}, [G + "1", G + "4"]),
        ],
    )


@pytest.mark.parametrize(
    "params",
    [
        {"georel": "near;maxDistance==10"},
        {"georel": "within", "geometry": "Polygon"},
        {"georel": "near", "geometry": "Point", "coordinates": "[1,2]"},
        {"georel": "near;maxDistance==-1", "geometry": "Point", "coordinates": "[1,2]"},
        {"georel": "near;maxDistance==far", "geometry": "Point", "coordinates": "[1,2]"},
        {"georel": "around", "geometry": "Point", "coordinates": "[1,2]"},
        {"georel": "within", "geometry": "Circle", "coordinates": "[1,2]"},
        {"georel": "within", "geometry": "Point", "coordinates": "[1,"},
        {"georel": "within", "geometry": "Point", "coordinates": "[200,2]"},
        {"georel": "within", "geometry": "Polygon", "coordinates": "[[[0,0],[1,0],[1,1],[0,1]]]"},
        {"georel": "within", "geometry": "Polygon", "coordinates": "[[[0,0],[1,1],[1,0],[0,1],[0,0]]]"},
        {"georel": "within", "geometry": "Point", "coordinates": "[1,2]", "geoproperty": "bad name"},
    ],
)
def test_bad_geo_query_is_400(client: TestClient, params: dict[str, str]) -> None:
    assert_problem(client.get(ENTITIES, params={"type": "Area", **params}), 400)


def test_geojson_representation(client: TestClient) -> None:
    create_all(client, points()[:2])
    response = client.get(ENTITIES, params={"type": "Shop"}, headers={"Accept": "application/geo+json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    features = sorted(body["features"], key=lambda f: f["id"])
    assert [f["id"] for f in features] == [G + "0", G + "1"]
    assert features[1]["type"] == "Feature"
    assert features[1]["geometry"] == {"type": "Point", "coordinates": [R0[0], R0[1] + 0.01]}
    assert features[1]["properties"]["type"] == "Shop"
    assert features[1]["properties"]["open"] == {"type": "Property", "value": False}
    assert body["@context"]
    keyed = client.get(
        ENTITIES, params={"type": "Shop", "options": "keyValues"}, headers={"Accept": "application/geo+json"}
    )
    assert keyed.json()["features"][0]["properties"]["open"] is True


# -- representations ----------------------------------------------------------------------------


def test_geojson_geometry_property(client: TestClient) -> None:
    entity = {
        "id": Q + "s",
        "type": "Sensor",
        "location": geo("Point", [1, 2]),
        "observationSpace": geo("Polygon", square(0, 0, 1, 1)),
    }
    create_all(client, [entity])
    response = client.get(
        ENTITIES,
        params={"type": "Sensor", "geometryProperty": "observationSpace"},
        headers={"Accept": "application/geo+json"},
    )
    (feature,) = response.json()["features"]
    assert feature["geometry"] == {"type": "Polygon", "coordinates": square(0, 0, 1, 1)}


def test_key_values(client: TestClient) -> None:
    create_all(client, vehicles())
    for params in ({"options": "keyValues"}, {"format": "keyValues"}, {"options": "simplified"}):
        response = client.get(ENTITIES, params={"type": "Vehicle", "q": "speed==80", **params})
        (entity,) = response.json()
        assert entity["speed"] == 80
        assert entity["brand"] == "BMW"
        assert entity["isParked"] is True
        assert entity["locatedIn"] == "urn:ngsi-ld:City:Paris"
        assert entity["type"] == "Vehicle"


def test_ld_json_answer_carries_the_context(client: TestClient) -> None:
    create_all(client, cars())
    response = client.get(ENTITIES, params={"type": "Truck"}, headers={"Accept": "application/ld+json"})
    assert response.status_code == 200
    (entity,) = response.json()
    assert "@context" in entity
    plain = client.get(ENTITIES, params={"type": "Truck"})
    assert CONTEXT_REL in plain.headers["link"]


# -- paging -------------------------------------------------------------------------------------

PAGE = "urn:ngsi-ld:Page:"


def pages(n: int) -> list[dict[str, Any]]:
    return [{"id": f"{PAGE}{i:02d}", "type": "Page", "n": prop(i)} for i in range(1, n + 1)]


def test_limit_offset_and_count(client: TestClient) -> None:
    create_all(client, pages(7))
    response = client.get(ENTITIES, params={"type": "Page", "limit": 3, "count": "true"})
    assert [e["id"] for e in response.json()] == [f"{PAGE}0{i}" for i in (1, 2, 3)]
    assert response.headers["NGSILD-Results-Count"] == "7"
    response = client.get(ENTITIES, params={"type": "Page", "limit": 3, "offset": 5})
    assert [e["id"] for e in response.json()] == [f"{PAGE}06", f"{PAGE}07"]
    assert "NGSILD-Results-Count" not in response.headers
    response = client.get(ENTITIES, params={"type": "Page", "q": "n>2", "limit": 2, "offset": 1, "count": "true"})
    assert [e["id"] for e in response.json()] == [f"{PAGE}04", f"{PAGE}05"]
    assert response.headers["NGSILD-Results-Count"] == "5"
    response = client.get(ENTITIES, params={"type": "Page", "offset": 50, "count": "true"})
    assert response.json() == []
    assert response.headers["NGSILD-Results-Count"] == "7"
    response = client.get(ENTITIES, params={"type": "Nothing", "count": "true"})
    assert response.headers["NGSILD-Results-Count"] == "0"


def test_default_page_size(client: TestClient) -> None:
    create_all(client, pages(22))
    response = client.get(ENTITIES, params={"type": "Page"})
    assert len(response.json()) == 20  # settings.page_default


def test_next_and_prev_links_work_when_followed(client: TestClient) -> None:
    create_all(client, pages(7))
    seen: list[str] = []
    response = client.get(ENTITIES, params={"type": "Page", "q": "n>0", "limit": 3, "count": "true"})
    assert "prev" not in links(response)
    visited = 0
    while True:
        visited += 1
        assert response.status_code == 200, response.text
        assert response.headers["NGSILD-Results-Count"] == "7"
        seen.extend(e["id"] for e in response.json())
        found = links(response)
        if visited > 1:
            back = client.get(found["prev"])
            assert back.status_code == 200
            assert len(back.json()) == 3
            assert back.json()[-1]["id"] < response.json()[0]["id"]
        if "next" not in found:
            break
        assert found["next"].startswith(ENTITIES + "?")
        response = client.get(found["next"])
        assert visited < 5
    assert seen == [e["id"] for e in pages(7)]
    assert visited == 3


def test_last_full_page_has_no_next_link(client: TestClient) -> None:
    create_all(client, pages(6))
    for extra in ({}, {"q": "n>0"}):
        first = client.get(ENTITIES, params={"type": "Page", "limit": 3, **extra})
        assert "next" in links(first)
        last = client.get(links(first)["next"])
        assert [e["id"] for e in last.json()] == [f"{PAGE}0{i}" for i in (4, 5, 6)]
        assert "next" not in links(last), extra
        assert "prev" in links(last)
    body = {"type": "Query", "entities": [{"type": "Page"}]}
    first = client.post(QUERY, params={"limit": 3}, json=body)
    assert [e["id"] for e in first.json()] == [f"{PAGE}0{i}" for i in (1, 2, 3)]
    assert "next" in links(first)
    last = client.post(QUERY, params={"limit": 3, "offset": 3}, json=body)
    assert len(last.json()) == 3
    assert "next" not in links(last)
    union = {"type": "Query", "entities": [{"type": "Page"}, {"id": f"{PAGE}01", "type": "Other"}]}
    assert "next" in links(client.post(QUERY, params={"limit": 5}, json=union))
    assert "next" not in links(client.post(QUERY, params={"limit": 6}, json=union))


def test_limit_zero_with_count_is_the_client_probe(client: TestClient) -> None:
    create_all(client, pages(3))
    response = client.get(ENTITIES, params={"type": "Page", "limit": 0, "count": "true"})
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["NGSILD-Results-Count"] == "3"
    # ngsildclient's literal probe: type=None.
    probe = client.get(f"{ENTITIES}?type=None&limit=0&count=true")
    assert probe.status_code == 200
    assert probe.json() == []
    assert probe.headers["NGSILD-Results-Count"] == "0"


def test_limit_over_the_maximum_is_too_many_results(client: TestClient) -> None:
    assert_problem(client.get(ENTITIES, params={"type": "Page", "limit": 1001}), 403, "TooManyResults")
    assert client.get(ENTITIES, params={"type": "Page", "limit": 1000}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [{"limit": "-1"}, {"limit": "abc"}, {"limit": "1.5"}, {"limit": ""}, {"offset": "-3"}, {"count": "yes"}],
)
def test_bad_paging_is_400(client: TestClient, params: dict[str, str]) -> None:
    assert_problem(client.get(ENTITIES, params={"type": "Page", **params}), 400)


# -- filters required, local, unknown parameters ------------------------------------------------


def test_query_without_any_filter_is_400(client: TestClient) -> None:
    create_all(client, cars())
    assert_problem(client.get(ENTITIES), 400)
    assert_problem(client.get(ENTITIES, params={"limit": 5}), 400)


def test_local_true_alone_lists_entities(client: TestClient) -> None:
    create_all(client, cars())
    assert ids(client.get(ENTITIES, params={"local": "true"})) == sorted(e["id"] for e in cars())
    response = client.get(ENTITIES, params={"local": "true", "limit": 2, "count": "true"})
    assert len(response.json()) == 2
    assert response.headers["NGSILD-Results-Count"] == "4"


@pytest.mark.parametrize("name", ["bogus", "Type", "geo", "limits"])
def test_unknown_query_parameter_is_invalid_request(client: TestClient, name: str) -> None:
    assert_problem(client.get(ENTITIES, params={"type": "Car", name: "1"}), 400, "InvalidRequest")


def test_unknown_tenant_is_404(client: TestClient) -> None:
    response = client.get(ENTITIES, params={"type": "Car"}, headers={"NGSILD-Tenant": "nosuchtenant1"})
    assert_problem(response, 404, "NonexistentTenant")


def test_bad_tenant_name_is_400(client: TestClient) -> None:
    assert_problem(client.get(ENTITIES, params={"type": "Car"}, headers={"NGSILD-Tenant": "no such/tenant"}), 400)


def test_queries_are_scoped_by_tenant(client: TestClient) -> None:
    create_all(client, cars())
    other = {"NGSILD-Tenant": f"other{uuid.uuid4().hex[:10]}"}
    response = client.post(ENTITIES, json={"id": C + "9", "type": "Car"}, headers=other)
    assert response.status_code == 201
    assert ids(client.get(ENTITIES, params={"type": "Car"}, headers=other)) == [C + "9"]
    assert C + "9" not in ids(client.get(ENTITIES, params={"type": "Car"}))


# -- POST /entityOperations/query ---------------------------------------------------------------


def post_query(client: TestClient, body: dict[str, Any], **kwargs: Any) -> Response:
    return client.post(QUERY, json=body, **kwargs)


def test_post_query_with_selectors_q_and_geo(client: TestClient) -> None:
    create_all(client, points())
    geo_q = {"georel": "near;maxDistance==15000", "geometry": "Point", "coordinates": [R0[0], R0[1]]}
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"type": "Query", "entities": [{"type": "Shop"}]}, [G + "0", G + "1", G + "3"]),
        ({"type": "Query", "entities": [{"type": "Shop"}], "q": "open==true"}, [G + "0", G + "3"]),
        ({"type": "Query", "entities": [{"type": "Shop"}], "q": "open==true", "geoQ": geo_q}, [G + "0"]),
        ({"type": "Query", "geoQ": geo_q}, [G + "0", G + "1", G + "2", G + "4"]),
        ({"type": "Query", "entities": [{"type": "Shop"}, {"type": "Cafe"}], "q": "open==false"}, [G + "1", G + "4"]),
        ({"type": "Query", "entities": [{"id": G + "2", "type": "Cafe"}]}, [G + "2"]),
        ({"type": "Query", "entities": [{"id": G + "2", "type": "Shop"}]}, []),
        ({"type": "Query", "entities": [{"idPattern": "Place:[34]$", "type": "Shop"}]}, [G + "3"]),
        ({"type": "Query", "entities": [{"type": "Shop;Cafe"}]}, []),
        ({"type": "Query", "q": "open==true"}, [G + "0", G + "2", G + "3"]),
    ]
    failures = []
    for body, expected in cases:
        got = ids(post_query(client, body))
        if got != sorted(expected):
            failures.append((body, got, expected))
    assert not failures, failures


def test_post_query_selectors_are_alternatives(client: TestClient) -> None:
    # Each EntitySelector stands on its own: an entity matching any of them is returned.
    create_all(client, points())
    body = {"type": "Query", "entities": [{"id": G + "2", "type": "Cafe"}, {"type": "Shop"}]}
    assert ids(post_query(client, body)) == [G + "0", G + "1", G + "2", G + "3"]
    body = {"type": "Query", "entities": [{"idPattern": "Place:4$", "type": "Cafe"}, {"id": G + "0", "type": "Shop"}]}
    assert ids(post_query(client, body)) == [G + "0", G + "4"]
    response = client.post(QUERY + "?limit=2&count=true", json={"type": "Query", "entities": body["entities"]})
    assert response.headers["NGSILD-Results-Count"] == "2"


def test_post_query_selector_union_pages_and_counts(client: TestClient) -> None:
    create_all(client, points())
    g = [G + str(i) for i in range(5)]
    cases: list[tuple[list[dict[str, str]], dict[str, Any], list[str], int]] = [
        # Overlapping selectors: Shops {0, 1, 3} and ids ending in 0 or 1.
        ([{"type": "Shop"}, {"idPattern": "Place:[01]$"}], {}, [g[0], g[1], g[3]], 3),
        ([{"type": "Shop"}, {"type": "Cafe", "idPattern": "[24]$"}, {"id": g[4]}], {}, g, 5),
        # Two patterns: their overlap (Place:1) is counted once.
        ([{"idPattern": "^urn:ngsi-ld:Place:[0-2]$"}, {"idPattern": "[1-3]$", "type": "Shop"}], {}, g[:4], 4),
        ([{"type": "Shop"}, {"id": g[2], "type": "Cafe"}], {"limit": 2, "offset": 1}, [g[1], g[2]], 4),
        ([{"type": "Shop"}, {"id": g[2], "type": "Cafe"}], {"limit": 2, "offset": 3}, [g[3]], 4),
        ([{"type": "Shop"}, {"id": g[2], "type": "Cafe"}], {"limit": 0}, [], 4),
    ]
    failures = []
    for selectors, paging, expected, total in cases:
        response = client.post(QUERY, params={**paging, "count": "true"}, json={"type": "Query", "entities": selectors})
        got = [e["id"] for e in response.json()]
        if got != expected or response.headers.get("NGSILD-Results-Count") != str(total):
            failures.append((selectors, paging, got, response.headers.get("NGSILD-Results-Count")))
    assert not failures, failures
    # The q filter applies to every selector.
    body = {"type": "Query", "entities": [{"type": "Shop"}, {"id": g[2], "type": "Cafe"}], "q": "open==true"}
    response = client.post(QUERY, params={"count": "true"}, json=body)
    assert [e["id"] for e in response.json()] == [g[0], g[2], g[3]]
    assert response.headers["NGSILD-Results-Count"] == "3"


def test_post_query_attrs_select_and_project(client: TestClient) -> None:
    create_all(client, cars())
    response = post_query(client, {"type": "Query", "attrs": ["color"]})
    assert ids(response) == [C + "1", C + "12"]
    for entity in response.json():
        assert set(entity) == {"id", "type", "color"}, entity


def test_post_query_paging_representation_and_context(client: TestClient) -> None:
    create_all(
        client,
        [
            {"id": f"urn:ngsi-ld:OffStreetParking:{i}", "type": "OffStreetParking", "availableSpotNumber": prop(i)}
            for i in range(1, 6)
        ],
        headers={"Link": SDM_LINK},
    )
    body = {"type": "Query", "entities": [{"type": "OffStreetParking"}], "q": "availableSpotNumber>=2"}
    response = client.post(
        QUERY,
        params={"limit": 2, "offset": 1, "count": "true", "options": "keyValues"},
        json=body,
        headers={"Link": SDM_LINK},
    )
    assert response.status_code == 200, response.text
    assert response.headers["NGSILD-Results-Count"] == "4"
    assert response.json() == [
        {"id": "urn:ngsi-ld:OffStreetParking:3", "type": "OffStreetParking", "availableSpotNumber": 3},
        {"id": "urn:ngsi-ld:OffStreetParking:4", "type": "OffStreetParking", "availableSpotNumber": 4},
    ]
    ld_body = {**body, "@context": [SDM_PARKING, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"]}
    response = client.post(QUERY, json=ld_body, headers={"Content-Type": "application/ld+json"})
    assert ids(response) == [f"urn:ngsi-ld:OffStreetParking:{i}" for i in (2, 3, 4, 5)]
    # Without a context the SDM names expand elsewhere.
    assert ids(post_query(client, body)) == []


@pytest.mark.parametrize(
    "body",
    [
        {"type": "NotAQuery", "entities": [{"type": "Shop"}]},
        {"type": "Query", "entities": {"type": "Shop"}},
        {"type": "Query", "entities": ["Shop"]},
        {"type": "Query", "attrs": "open"},
        {"type": "Query", "q": 5},
        {"type": "Query", "q": "open=="},
        {"type": "Query", "geoQ": "near"},
        {"type": "Query", "geoQ": {"georel": "near;maxDistance==10", "geometry": "Point"}},
        {"type": "Query", "geoQ": {"georel": "within", "geometry": "Point", "coordinates": "nope"}},
        {"type": "Query"},
    ],
)
def test_bad_post_query_is_400(client: TestClient, body: dict[str, Any]) -> None:
    assert_problem(post_query(client, body), 400)


def test_post_query_needs_an_object(client: TestClient) -> None:
    assert_problem(client.post(QUERY, json=[{"type": "Query"}]), 400)
    assert_problem(client.post(QUERY, content=b"{", headers={"Content-Type": "application/json"}), 400)


# -- purge --------------------------------------------------------------------------------------


def test_purge_by_type(client: TestClient) -> None:
    create_all(client, cars())
    response = client.delete(ENTITIES, params={"type": "Car"})
    assert response.status_code == 204, response.text
    assert ids(client.get(ENTITIES, params={"local": "true"})) == [C + "3"]


def test_purge_with_q(client: TestClient) -> None:
    create_all(client, cars())
    assert client.delete(ENTITIES, params={"type": "Car", "q": "speed>=10"}).status_code == 204
    assert ids(client.get(ENTITIES, params={"local": "true"})) == [C + "12", C + "3"]
    assert client.delete(ENTITIES, params={"q": "load==7"}).status_code == 204
    assert ids(client.get(ENTITIES, params={"local": "true"})) == [C + "12"]


def test_purge_keep_and_drop(client: TestClient) -> None:
    create_all(client, cars())
    assert client.delete(ENTITIES, params={"type": "Car", "keep": "color"}).status_code == 204
    response = client.get(ENTITIES, params={"type": "Car", "options": "keyValues"})
    assert {e["id"]: {k: v for k, v in e.items() if k not in ("id", "type")} for e in response.json()} == {
        C + "1": {"color": "red"},
        C + "2": {},
        C + "12": {"color": "blue"},
    }
    assert client.delete(ENTITIES, params={"id": f"{C}1,{C}3", "drop": "color,load"}).status_code == 204
    response = client.get(ENTITIES, params={"id": f"{C}1,{C}3"})
    assert {e["id"]: set(e) for e in response.json()} == {C + "1": {"id", "type"}, C + "3": {"id", "type"}}


def test_purge_with_link_context(client: TestClient) -> None:
    create_all(
        client, [{"id": "urn:ngsi-ld:OffStreetParking:9", "type": "OffStreetParking"}], headers={"Link": SDM_LINK}
    )
    assert client.delete(ENTITIES, params={"type": "OffStreetParking"}).status_code == 204
    assert ids(client.get(ENTITIES, params={"local": "true"})) == ["urn:ngsi-ld:OffStreetParking:9"]
    assert client.delete(ENTITIES, params={"type": "OffStreetParking"}, headers={"Link": SDM_LINK}).status_code == 204
    assert ids(client.get(ENTITIES, params={"local": "true"})) == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"keep": "color"},
        {"drop": "color"},
        {"type": "Car", "keep": "color", "drop": "speed"},
        {"type": "Car", "q": "speed>"},
        {"type": "Car", "bogus": "1"},
    ],
)
def test_bad_purge_is_400(client: TestClient, params: dict[str, str]) -> None:
    create_all(client, cars())
    assert_problem(client.delete(ENTITIES, params=params), 400)
    assert len(ids(client.get(ENTITIES, params={"local": "true"}))) == 4
