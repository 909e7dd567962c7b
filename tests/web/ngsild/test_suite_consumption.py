"""Where Urbis differed from the ETSI conformance suite's Consumption/Entity expectations.

Each test names the suite case it stands for (ngsild.md §2). The data is written here, in the
default @context; only the shape of the requests and the expected answers follow the suite.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

BASE = "/ngsi-ld/v1"
ENTITIES = f"{BASE}/entities"
QUERY = f"{BASE}/entityOperations/query"
BAD_REQUEST_DATA = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


def _create(client: TestClient, entity: dict[str, Any]) -> None:
    response = client.post(ENTITIES, json=entity)
    assert response.status_code == 201, response.text


def _chain(client: TestClient, n: str) -> None:
    """A Building located in a City that is in a Country, as the suite's join cases set up."""
    _create(
        client,
        {
            "id": f"urn:ngsi-ld:Building:{n}",
            "type": "Building",
            "name": {"type": "Property", "value": f"Tower {n}"},
            "locatedAt": {"type": "Relationship", "object": f"urn:ngsi-ld:City:{n}"},
        },
    )
    _create(
        client,
        {
            "id": f"urn:ngsi-ld:City:{n}",
            "type": "City",
            "name": {"type": "Property", "value": "Paris"},
            "description": {"type": "Property", "value": "capital"},
            "isInCountry": {"type": "Relationship", "object": f"urn:ngsi-ld:Country:{n}"},
        },
    )
    _create(
        client,
        {
            "id": f"urn:ngsi-ld:Country:{n}",
            "type": "Country",
            "name": {"type": "Property", "value": "France"},
            "description": {"type": "Property", "value": "a country"},
        },
    )


def _by_id(body: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    assert len({item["id"] for item in body}) == len(body), body
    return {item["id"]: item for item in body}


def _bad_request(response: Any) -> None:
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["type"] == BAD_REQUEST_DATA
    assert problem["title"] and problem["detail"] and problem["title"] != problem["detail"]


@pytest.mark.parametrize(
    "pick",
    [
        "id;name",  # ETSI 019_18_04: a character outside the grammar
        "id,locatedAt{name",  # ETSI 019_18_05: a brace left open
        "id,locatedAt{{name}",  # ETSI 019_18_06: a doubled brace
        "id,,name",  # ETSI 019_18_07: two separators in a row
        "id,locatedAt{,name}",  # ETSI 019_18_08: a group starting with a separator
        "id,locatedAt{}",  # ETSI 019_18_09: an empty group
        "id,name}",  # a brace closed that was never opened
    ],
)
def test_malformed_pick_is_rejected(client: TestClient, pick: str) -> None:
    _chain(client, "1")
    _bad_request(client.get(ENTITIES, params={"type": "Building", "pick": pick}))
    _bad_request(client.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params={"omit": pick}))


@pytest.mark.parametrize("projection", ["pick", "omit"])
def test_pick_or_omit_with_attrs_is_rejected(client: TestClient, projection: str) -> None:
    # ETSI 019_18_02 / 019_18_03: attrs does not combine with pick or omit.
    _chain(client, "1")
    _bad_request(client.get(ENTITIES, params={"type": "Building", projection: "name", "attrs": "name"}))


def test_spaces_around_pick_names_are_tolerated(client: TestClient) -> None:
    _chain(client, "1")
    response = client.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params={"pick": "id, name"})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": "urn:ngsi-ld:Building:1", "name": {"type": "Property", "value": "Tower 1"}}


@pytest.mark.parametrize("join", ["inline", "flat"])
def test_query_entities_honours_join(client: TestClient, join: str) -> None:
    # ETSI 019_13 / 019_16: GET /entities with join returns the linked entities too.
    _chain(client, "1")
    _chain(client, "2")
    response = client.get(ENTITIES, params={"type": "Building", "join": join, "joinLevel": "2"})
    assert response.status_code == 200, response.text
    body = response.json()
    if join == "inline":
        assert sorted(item["id"] for item in body) == ["urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:2"]
        for item in body:
            n = item["id"].rsplit(":", 1)[1]
            city = item["locatedAt"]["entity"]
            assert city["id"] == f"urn:ngsi-ld:City:{n}"
            assert city["isInCountry"]["entity"]["id"] == f"urn:ngsi-ld:Country:{n}"
    else:
        assert sorted(_by_id(body)) == sorted(
            f"urn:ngsi-ld:{kind}:{n}" for kind in ("Building", "City", "Country") for n in ("1", "2")
        )


@pytest.mark.parametrize("join", ["inline", "flat"])
def test_query_via_post_honours_join_in_the_body(client: TestClient, join: str) -> None:
    # ETSI 019_24: the Query body carries join (and joinLevel, default 1).
    _chain(client, "1")
    query = {"type": "Query", "entities": [{"type": "Building"}], "join": join}
    response = client.post(QUERY, json=query)
    assert response.status_code == 200, response.text
    body = response.json()
    if join == "inline":
        assert len(body) == 1
        city = body[0]["locatedAt"]["entity"]
        assert city["id"] == "urn:ngsi-ld:City:1"
        assert "entity" not in city["isInCountry"]  # one level only
    else:
        assert sorted(_by_id(body)) == ["urn:ngsi-ld:Building:1", "urn:ngsi-ld:City:1"]
    _bad_request(client.post(QUERY, json={**query, "joinLevel": -1}))


def test_query_with_sys_attrs_shows_them_on_inlined_entities(client: TestClient) -> None:
    # ETSI 019_14: options=sysAttrs reaches the entity embedded in the Relationship.
    _chain(client, "1")
    response = client.get(ENTITIES, params={"type": "Building", "join": "inline", "options": "sysAttrs"})
    assert response.status_code == 200, response.text
    assert "createdAt" in response.json()[0]["locatedAt"]["entity"]


def test_nested_pick_projects_inlined_entities(client: TestClient) -> None:
    # ETSI 019_20_03 / 019_22_03 (query) and 018_20 (retrieve).
    _chain(client, "1")
    pick = "id,locatedAt{id,name,isInCountry{id,description}}"
    expected = {
        "id": "urn:ngsi-ld:Building:1",
        "locatedAt": {
            "type": "Relationship",
            "object": "urn:ngsi-ld:City:1",
            "entity": {
                "id": "urn:ngsi-ld:City:1",
                "name": {"type": "Property", "value": "Paris"},
                "isInCountry": {
                    "type": "Relationship",
                    "object": "urn:ngsi-ld:Country:1",
                    "entity": {
                        "id": "urn:ngsi-ld:Country:1",
                        "description": {"type": "Property", "value": "a country"},
                    },
                },
            },
        },
    }
    params = {"join": "inline", "joinLevel": "2", "pick": pick}
    queried = client.get(ENTITIES, params={"type": "Building", **params})
    assert queried.status_code == 200, queried.text
    assert queried.json() == [expected]
    retrieved = client.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params=params)
    assert retrieved.status_code == 200, retrieved.text
    assert retrieved.json() == expected


def test_flat_join_follows_only_picked_relationships(client: TestClient) -> None:
    # ETSI 019_22_02: isInCountry is not picked inside locatedAt{...}, so no Country comes back.
    _chain(client, "1")
    params = {"type": "Building", "join": "flat", "joinLevel": "2", "pick": "id,locatedAt{id,name}"}
    response = client.get(ENTITIES, params=params)
    assert response.status_code == 200, response.text
    assert _by_id(response.json()) == {
        "urn:ngsi-ld:Building:1": {
            "id": "urn:ngsi-ld:Building:1",
            "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:1"},
        },
        "urn:ngsi-ld:City:1": {"id": "urn:ngsi-ld:City:1", "name": {"type": "Property", "value": "Paris"}},
    }


def test_nested_omit_keeps_the_relationship_and_projects_linked_entities(client: TestClient) -> None:
    # ETSI 019_23_04: omit=type,locatedAt{name,isInCountry{description}} with a flat join.
    _chain(client, "1")
    params = {
        "type": "Building",
        "join": "flat",
        "joinLevel": "2",
        "omit": "type,locatedAt{name,isInCountry{description}}",
    }
    response = client.get(ENTITIES, params=params)
    assert response.status_code == 200, response.text
    assert _by_id(response.json()) == {
        "urn:ngsi-ld:Building:1": {
            "id": "urn:ngsi-ld:Building:1",
            "name": {"type": "Property", "value": "Tower 1"},
            "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:1"},
        },
        "urn:ngsi-ld:City:1": {
            "id": "urn:ngsi-ld:City:1",
            "type": "City",
            "description": {"type": "Property", "value": "capital"},
            "isInCountry": {"type": "Relationship", "object": "urn:ngsi-ld:Country:1"},
        },
        "urn:ngsi-ld:Country:1": {
            "id": "urn:ngsi-ld:Country:1",
            "type": "Country",
            "name": {"type": "Property", "value": "France"},
        },
    }


def test_top_level_omit_does_not_apply_to_linked_entities(client: TestClient) -> None:
    # ETSI 019_21: omit=name removes the Building's name but not the City's.
    _chain(client, "1")
    response = client.get(ENTITIES, params={"type": "Building", "join": "inline", "omit": "name"})
    assert response.status_code == 200, response.text
    [building] = response.json()
    assert "name" not in building
    assert building["locatedAt"]["entity"]["name"] == {"type": "Property", "value": "Paris"}


@pytest.mark.parametrize(
    "params",
    [
        {"pick": "unknown"},  # ETSI 018_19_01: pick matches no member
        {"omit": "id,type,name,locatedAt"},  # ETSI 018_19_02: omit removes every member
    ],
)
def test_retrieve_with_nothing_left_after_projection_is_not_found(client: TestClient, params: dict[str, str]) -> None:
    _chain(client, "1")
    response = client.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params=params)
    assert response.status_code == 404, response.text
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    # Leaving one member is enough for a 200.
    assert client.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params={"omit": "id,type,name"}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"format": "invalidFormat"},  # ETSI 018_16_01
        {"options": "invalidOptions"},  # ETSI 018_16_02
        {"options": "keyValues,invalid"},  # ETSI 018_16_03
        {"format": "keyValues", "options": "invalid"},  # ETSI 018_16_04
    ],
)
def test_unknown_representation_is_an_invalid_request(client: TestClient, params: dict[str, str]) -> None:
    # Checked before the entity is looked up: the suite asks for an entity that does not exist.
    for response in (
        client.get(f"{ENTITIES}/urn:ngsi-ld:Building:nowhere", params=params),
        client.get(ENTITIES, params={"type": "Building", **params}),
        client.post(QUERY, params=params, json={"type": "Query", "entities": [{"type": "Building"}]}),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"


def test_query_via_post_can_answer_in_geojson(client: TestClient) -> None:
    # ETSI 019_02_05: POST /entityOperations/query with Accept: application/geo+json.
    for n, point in (("1", [1.0, 2.0]), ("2", [3.0, 4.0])):
        _create(
            client,
            {
                "id": f"urn:ngsi-ld:Vehicle:{n}",
                "type": "Vehicle",
                "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": point}},
                "spot": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [0.0, 0.0]}},
            },
        )
    query = {"type": "Query", "entities": [{"type": "Vehicle"}]}
    response = client.post(QUERY, json=query, headers={"Accept": "application/geo+json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    geometries = {f["id"]: f["geometry"]["coordinates"] for f in body["features"]}
    assert geometries == {"urn:ngsi-ld:Vehicle:1": [1.0, 2.0], "urn:ngsi-ld:Vehicle:2": [3.0, 4.0]}
    # The body's geometryProperty picks another GeoProperty as the geometry.
    response = client.post(
        QUERY, json={**query, "geometryProperty": "spot"}, headers={"Accept": "application/geo+json"}
    )
    assert response.status_code == 200, response.text
    assert {f["geometry"]["coordinates"][0] for f in response.json()["features"]} == {0.0}


def test_retrieve_with_none_of_the_requested_attrs_is_not_found(client: TestClient) -> None:
    # ETSI 018_03_02: attrs naming only attributes the entity lacks.
    _chain(client, "1")
    response = client.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params={"attrs": "propertyNotFound"})
    assert response.status_code == 404, response.text
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    # One existing attribute among them is enough.
    response = client.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params={"attrs": "propertyNotFound,name"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": "urn:ngsi-ld:Building:1",
        "type": "Building",
        "name": {"type": "Property", "value": "Tower 1"},
    }


def test_flat_retrieve_with_no_linked_entity_found_is_the_entity_alone(client: TestClient) -> None:
    # ETSI 018_14: the Relationship names an entity that does not exist; inline and flat answer alike.
    building = {
        "id": "urn:ngsi-ld:Building:alone",
        "type": "Building",
        "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:nowhere"},
    }
    _create(client, building)
    for join in ("inline", "flat"):
        response = client.get(f"{ENTITIES}/{building['id']}", params={"join": join, "joinLevel": "1"})
        assert response.status_code == 200, response.text
        assert response.json() == building
