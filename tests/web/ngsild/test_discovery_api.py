"""NGSI-LD discovery through HTTP: ``/types``, ``/types/{type}``, ``/attributes``, ``/attributes/{attr}``.

Runs on SQLite and PostgreSQL, each test in a fresh default tenant; names are compacted with the
request's @context (the bundled Smart Data Models Parking context when a Link header names it).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from problem_details import assert_problem

BASE = "/ngsi-ld/v1"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
SDM_PARKING = "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
SDM_LINK = {"Link": f'<{SDM_PARKING}>; rel="{CONTEXT_REL}"; type="application/ld+json"'}
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
SDM = "https://smartdatamodels.org/"
PARKING = SDM + "dataModel.Parking/"


def uncurie(name: str) -> str:
    """A name compacted as a compact IRI with the ``ngsi-ld`` prefix (which SDM's context defines), in full."""
    return "https://uri.etsi.org/ngsi-ld/" + name[len("ngsi-ld:") :] if name.startswith("ngsi-ld:") else name


def ok(response: Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def populate(client: TestClient, headers: dict[str, str] | None = None) -> None:
    """Two buildings (one also a tourist destination) with the core context, a car park with SDM's."""
    core = [
        {
            "id": "urn:ngsi-ld:Building:tower",
            "type": ["Building", "TouristDestination"],
            "name": {"type": "Property", "value": "Tower"},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.4, 43.7]}},
        },
        {
            "id": "urn:ngsi-ld:Building:hall",
            "type": "Building",
            "name": {"type": "Property", "value": "Hall"},
            "height": {"type": "Property", "value": 30, "unitCode": "MTR"},
            "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:mayor"},
        },
    ]
    for entity in core:
        assert client.post(f"{BASE}/entities", json=entity, headers=headers or {}).status_code == 201
    parking = {
        "id": "urn:ngsi-ld:OffStreetParking:central",
        "type": "OffStreetParking",
        "name": {"type": "Property", "value": "Central"},
        "availableSpotNumber": {"type": "Property", "value": 12},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.41, 43.71]}},
    }
    response = client.post(f"{BASE}/entities", json=parking, headers={**SDM_LINK, **(headers or {})})
    assert response.status_code == 201, response.text


# -- /types -------------------------------------------------------------------------------------


def test_type_list(client: TestClient) -> None:
    populate(client)
    body = ok(client.get(f"{BASE}/types"))
    assert body["type"] == "EntityTypeList"
    assert body["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    assert sorted(body["typeList"]) == sorted(["Building", "TouristDestination", PARKING + "OffStreetParking"])
    with_sdm = ok(client.get(f"{BASE}/types", headers=SDM_LINK))
    assert sorted(with_sdm["typeList"]) == ["Building", "OffStreetParking", "TouristDestination"]


def test_type_list_of_an_empty_tenant(client: TestClient) -> None:
    body = ok(client.get(f"{BASE}/types"))
    assert body["typeList"] == []
    assert ok(client.get(f"{BASE}/attributes"))["attributeList"] == []


def test_type_details(client: TestClient) -> None:
    populate(client)
    body = ok(client.get(f"{BASE}/types", params={"details": "true"}, headers=SDM_LINK))
    by_name = {item["typeName"]: item for item in body}
    assert set(by_name) == {"Building", "TouristDestination", "OffStreetParking"}
    for item in body:
        assert item["type"] == "EntityType"
    assert by_name["Building"]["id"] == VOCAB + "Building"
    assert by_name["OffStreetParking"]["id"] == PARKING + "OffStreetParking"
    # SDM's context defines "name" and "owner" its own way: the buildings' ones cannot compact to them.
    assert sorted(map(uncurie, by_name["Building"]["attributeNames"])) == sorted(
        ["height", "location", VOCAB + "name", VOCAB + "owner"]
    )
    assert sorted(map(uncurie, by_name["TouristDestination"]["attributeNames"])) == sorted(["location", VOCAB + "name"])
    assert sorted(by_name["OffStreetParking"]["attributeNames"]) == ["availableSpotNumber", "location", "name"]


def test_type_info(client: TestClient) -> None:
    populate(client)
    body = ok(client.get(f"{BASE}/types/Building"))
    assert body["type"] == "EntityTypeInfo"
    assert body["id"] == VOCAB + "Building"
    assert body["typeName"] == "Building"
    assert body["entityCount"] == 2
    details = {item["attributeName"]: item for item in body["attributeDetails"]}
    assert set(details) == {"height", "location", "name", "owner"}
    assert details["owner"]["attributeTypes"] == ["Relationship"]
    assert details["location"]["attributeTypes"] == ["GeoProperty"]
    assert details["height"]["attributeTypes"] == ["Property"]
    assert details["height"]["id"] == VOCAB + "height"
    assert all(item["type"] == "Attribute" for item in body["attributeDetails"])
    tourist = ok(client.get(f"{BASE}/types/TouristDestination"))
    assert tourist["entityCount"] == 1
    assert {item["attributeName"] for item in tourist["attributeDetails"]} == {"location", "name"}


def test_type_info_follows_the_link_context(client: TestClient) -> None:
    populate(client)
    assert_problem(client.get(f"{BASE}/types/OffStreetParking"), 404, "ResourceNotFound")
    body = ok(client.get(f"{BASE}/types/OffStreetParking", headers=SDM_LINK))
    assert body["typeName"] == "OffStreetParking"
    assert body["entityCount"] == 1
    assert {item["attributeName"] for item in body["attributeDetails"]} == {"availableSpotNumber", "location", "name"}


def test_type_info_by_full_iri(client: TestClient) -> None:
    populate(client)
    body = ok(client.get(f"{BASE}/types/{quote(PARKING + 'OffStreetParking', safe='')}"))
    assert body["entityCount"] == 1
    assert body["typeName"] == PARKING + "OffStreetParking"


def test_unknown_type_is_404(client: TestClient) -> None:
    populate(client)
    assert_problem(client.get(f"{BASE}/types/Castle"), 404, "ResourceNotFound")


# -- /attributes --------------------------------------------------------------------------------


def test_attribute_list(client: TestClient) -> None:
    populate(client)
    body = ok(client.get(f"{BASE}/attributes"))
    assert body["type"] == "AttributeList"
    assert body["id"].startswith("urn:ngsi-ld:AttributeList:")
    assert sorted(body["attributeList"]) == sorted(
        ["height", "location", "name", "owner", PARKING + "availableSpotNumber", SDM + "name"]
    )
    with_sdm = ok(client.get(f"{BASE}/attributes", headers=SDM_LINK))
    assert sorted(map(uncurie, with_sdm["attributeList"])) == sorted(
        ["height", "location", VOCAB + "name", VOCAB + "owner", "availableSpotNumber", "name"]
    )


def test_attribute_details(client: TestClient) -> None:
    populate(client)
    body = ok(client.get(f"{BASE}/attributes", params={"details": "true"}))
    by_name = {item["attributeName"]: item for item in body}
    assert by_name["name"] == {
        "id": VOCAB + "name",
        "type": "Attribute",
        "attributeName": "name",
        "attributeCount": 2,
        "attributeTypes": ["Property"],
        "typeNames": ["Building", "TouristDestination"],
    }
    assert by_name["location"]["attributeCount"] == 2
    assert sorted(by_name["location"]["typeNames"]) == sorted(
        ["Building", "TouristDestination", PARKING + "OffStreetParking"]
    )
    assert by_name["owner"]["attributeTypes"] == ["Relationship"]


def test_attribute_info(client: TestClient) -> None:
    populate(client)
    body = ok(client.get(f"{BASE}/attributes/location"))
    assert body["type"] == "Attribute"
    assert body["id"] == "https://uri.etsi.org/ngsi-ld/location"
    assert body["attributeCount"] == 2
    assert body["attributeTypes"] == ["GeoProperty"]
    spots = ok(client.get(f"{BASE}/attributes/availableSpotNumber", headers=SDM_LINK))
    assert spots["attributeCount"] == 1
    assert spots["typeNames"] == ["OffStreetParking"]
    assert_problem(client.get(f"{BASE}/attributes/availableSpotNumber"), 404, "ResourceNotFound")
    by_iri = ok(client.get(f"{BASE}/attributes/{quote(PARKING + 'availableSpotNumber', safe='')}"))
    assert by_iri["attributeCount"] == 1
    # A name as discovery compacted it with SDM's context leads back to the attribute.
    names = ok(client.get(f"{BASE}/attributes", headers=SDM_LINK))["attributeList"]
    (buildings_name,) = [n for n in names if uncurie(n) == VOCAB + "name"]
    found = ok(client.get(f"{BASE}/attributes/{quote(buildings_name, safe='')}", headers=SDM_LINK))
    assert found["id"] == VOCAB + "name"
    assert found["attributeCount"] == 2


def test_unknown_attribute_is_404(client: TestClient) -> None:
    populate(client)
    assert_problem(client.get(f"{BASE}/attributes/colour"), 404, "ResourceNotFound")


# -- shared behaviour ---------------------------------------------------------------------------


def test_discovery_counts_follow_changes(client: TestClient) -> None:
    populate(client)
    assert client.delete(f"{BASE}/entities/urn:ngsi-ld:Building:hall").status_code == 204
    body = ok(client.get(f"{BASE}/types/Building"))
    assert body["entityCount"] == 1
    assert {item["attributeName"] for item in body["attributeDetails"]} == {"location", "name"}
    assert_problem(client.get(f"{BASE}/attributes/owner"), 404)


def test_discovery_is_scoped_by_tenant(client: TestClient) -> None:
    populate(client)
    other = {"NGSILD-Tenant": f"d{uuid.uuid4().hex[:10]}"}
    entity = {"id": "urn:ngsi-ld:Castle:1", "type": "Castle", "moat": {"type": "Property", "value": True}}
    assert client.post(f"{BASE}/entities", json=entity, headers=other).status_code == 201
    assert ok(client.get(f"{BASE}/types", headers=other))["typeList"] == ["Castle"]
    assert ok(client.get(f"{BASE}/attributes", headers=other))["attributeList"] == ["moat"]
    assert "Castle" not in ok(client.get(f"{BASE}/types"))["typeList"]
    assert_problem(client.get(f"{BASE}/types/Castle"), 404)
    assert_problem(client.get(f"{BASE}/types", headers={"NGSILD-Tenant": "nosuchtenant42"}), 404, "NonexistentTenant")


@pytest.mark.parametrize("path", ["/types", "/types/Building", "/attributes", "/attributes/name"])
def test_ld_json_carries_the_context(client: TestClient, path: str) -> None:
    populate(client)
    response = client.get(BASE + path, headers={"Accept": "application/ld+json", **SDM_LINK})
    body = ok(response)
    assert body["@context"] == SDM_PARKING
    plain = client.get(BASE + path, headers=SDM_LINK)
    assert SDM_PARKING in plain.headers["link"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/types", {"details": "yes"}),
        ("/attributes", {"details": "1"}),
        ("/types", {"bogus": "1"}),
        ("/types/Building", {"details": "true"}),
        ("/attributes/name", {"limit": "1"}),
    ],
)
def test_bad_parameters_are_400(client: TestClient, path: str, params: dict[str, str]) -> None:
    assert_problem(client.get(BASE + path, params=params), 400)


def test_not_acceptable(client: TestClient) -> None:
    assert_problem(client.get(f"{BASE}/types", headers={"Accept": "text/csv"}), 406, "NotAcceptable")
