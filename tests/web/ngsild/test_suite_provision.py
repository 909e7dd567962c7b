"""Provision behaviours the ETSI NGSI-LD conformance suite checks and the other API tests did not.

Each test names the suite case it stands for (``# ETSI <id>``); the tests are written from the
behaviour the suite expects (and the specification clause it cites), not copied from the suite.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

E = "/ngsi-ld/v1/entities"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
LD = "application/ld+json"
CTX = {"Bus": "https://example.org/transport#Bus", "speed": "https://example.org/transport#speed"}


def new_id(kind: str = "Bus") -> str:
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4().hex[:12]}"


def problem(response: Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == ERRORS + error_type
    assert body["title"] and body["detail"] and body["title"] != body["detail"]
    return body


def make(client: TestClient, **extra: Any) -> str:
    entity_id = new_id()
    entity = {
        "id": entity_id,
        "type": "Bus",
        "speed": [
            {"type": "Property", "value": 40},
            {"type": "Property", "value": 41, "datasetId": "urn:ngsi-ld:Dataset:gps"},
        ],
        "@context": CTX,
        **extra,
    }
    response = client.post(E, json=entity, headers={"Content-Type": LD})
    assert response.status_code == 201, response.text
    return entity_id


def fetch(client: TestClient, entity_id: str) -> dict[str, Any]:
    response = client.get(f"{E}/{entity_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


FRAGMENT = {"speed": {"type": "Property", "value": 1}}


# ETSI 010_*, 011_02_01, 012_02_01, 013_02_01: the entity id is missing from the path (".../entities//attrs").
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "//attrs"),
        ("POST", "//attrs/"),
        ("PATCH", "//attrs"),
        ("PATCH", "//attrs/speed"),
        ("PUT", "//attrs/speed"),
        ("DELETE", "//attrs/speed"),
        ("DELETE", "//attrs/speed/"),
    ],
)
def test_a_missing_entity_id_in_an_attribute_path_is_400(client: TestClient, method: str, path: str) -> None:
    body = None if method == "DELETE" else FRAGMENT
    problem(client.request(method, E + path, json=body), 400, "BadRequestData")


# ETSI 054_02_02 (replace) and 056_02_02 (merge): PUT / PATCH on ".../entities/" with an empty id.
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_replace_or_merge_with_an_empty_entity_id_is_400(client: TestClient, method: str) -> None:
    problem(client.request(method, E + "/", json={"type": "Bus"}), 400, "BadRequestData")


# ETSI 012_02_03: a partial attribute update cannot turn a Property into a Relationship.
def test_partial_update_with_another_attribute_type_is_400(client: TestClient) -> None:
    entity_id = make(client)
    before = fetch(client, entity_id)
    patch = {"type": "Relationship", "object": "urn:ngsi-ld:Entity:01", "@context": CTX}
    response = client.patch(f"{E}/{entity_id}/attrs/speed", json=patch, headers={"Content-Type": LD})
    problem(response, 400, "BadRequestData")
    assert fetch(client, entity_id) == before
    # The same type is fine: only the value changes.
    patch = {"type": "Property", "value": 50, "@context": CTX}
    response = client.patch(f"{E}/{entity_id}/attrs/speed", json=patch, headers={"Content-Type": LD})
    assert response.status_code == 204, response.text
    assert fetch(client, entity_id)["https://example.org/transport#speed"][0]["value"] == 50


# ETSI 012_02_04: an empty fragment (nothing but the @context) updates nothing and is an error.
@pytest.mark.parametrize("content_type", ["application/json", LD])
def test_partial_update_with_an_empty_fragment_is_400(client: TestClient, content_type: str) -> None:
    entity_id = make(client)
    body: dict[str, Any] = {"@context": CTX} if content_type == LD else {}
    response = client.patch(f"{E}/{entity_id}/attrs/speed", json=body, headers={"Content-Type": content_type})
    problem(response, 400, "BadRequestData")


# ETSI 055_03_03 and 055_03_05: "@invalid" and "scope" name no attribute that could be replaced.
@pytest.mark.parametrize("name", ["@invalid", "scope", "id", "type"])
def test_replace_attribute_with_a_name_that_is_no_attribute_is_400(client: TestClient, name: str) -> None:
    entity_id = make(client, scope="/Company/UnitA")
    response = client.put(f"{E}/{entity_id}/attrs/{name}", json={"type": "Property", "value": 1})
    problem(response, 400, "BadRequestData")
    response = client.put(f"{E}/{entity_id}/attrs/{name}", json={"scope": "/Company/UnitB"})
    problem(response, 400, "BadRequestData")
    assert fetch(client, entity_id)["scope"] == "/Company/UnitA"


# ETSI 013_04: the Delete Attribute operation removes the scope of an entity.
def test_delete_attribute_scope_removes_the_scope(client: TestClient) -> None:
    entity_id = make(client, scope=["/Company/UnitA", "/Company/UnitB"])
    response = client.delete(f"{E}/{entity_id}/attrs/scope")
    assert response.status_code == 204, response.text
    assert response.content == b""
    entity = fetch(client, entity_id)
    assert "scope" not in entity
    assert len(entity["https://example.org/transport#speed"]) == 2
    found = client.get(E, params={"scopeQ": "/Company/UnitA", "type": CTX["Bus"]})
    assert found.status_code == 200 and found.json() == []
    # Nothing left to delete: 404 like any other missing attribute.
    problem(client.delete(f"{E}/{entity_id}/attrs/scope"), 404, "ResourceNotFound")


# ETSI 060_03_03: local=true alone is a sufficient restriction for Purge Entities (clause 5.6.21.3).
def test_purge_with_local_true_alone_deletes_every_entity(client: TestClient) -> None:
    first, second = make(client), make(client)
    response = client.delete(E, params={"local": "true"})
    assert response.status_code == 204, response.text
    assert response.content == b""
    for entity_id in (first, second):
        problem(client.get(f"{E}/{entity_id}"), 404, "ResourceNotFound")


# ETSI 060_01 stays true with local=false: nothing qualifies the purge, so it is refused.
def test_purge_with_local_false_alone_is_still_400(client: TestClient) -> None:
    entity_id = make(client)
    problem(client.delete(E, params={"local": "false"}), 400, "BadRequestData")
    fetch(client, entity_id)


# ETSI 010_07_01: Append Attributes replaces the scope, or with noOverwrite adds to it.
@pytest.mark.parametrize(
    ("options", "expected"),
    [(None, "/CompanyA/UnitC"), ("noOverwrite", ["/Company/UnitA", "/CompanyA/UnitC"])],
)
def test_append_attributes_sets_the_scope(client: TestClient, options: str | None, expected: Any) -> None:
    entity_id = make(client, scope="/Company/UnitA")
    params = {"options": options} if options else {}
    response = client.post(f"{E}/{entity_id}/attrs", params=params, json={"scope": "/CompanyA/UnitC"})
    assert response.status_code == 204, response.text
    assert fetch(client, entity_id)["scope"] == expected
    found = client.get(E, params={"scopeQ": "/CompanyA/UnitC", "type": CTX["Bus"]})
    assert [e["id"] for e in found.json()] == [entity_id]


# ETSI 010_07 (no scope yet): the appended scope becomes the entity's scope.
def test_append_attributes_adds_a_scope_to_an_entity_without_one(client: TestClient) -> None:
    entity_id = make(client)
    response = client.post(f"{E}/{entity_id}/attrs", json={"scope": ["/A", "/B"]})
    assert response.status_code == 204, response.text
    assert fetch(client, entity_id)["scope"] == ["/A", "/B"]


# ETSI 011_05_01 and 011_05_02: Update Attributes replaces an existing scope, but adds none (207).
def test_update_attributes_replaces_an_existing_scope_only(client: TestClient) -> None:
    scoped = make(client, scope="/Company/UnitA")
    response = client.patch(f"{E}/{scoped}/attrs", json={"scope": "/CompanyA/UnitC"})
    assert response.status_code == 204, response.text
    assert fetch(client, scoped)["scope"] == "/CompanyA/UnitC"

    unscoped = make(client)
    response = client.patch(f"{E}/{unscoped}/attrs", json={"scope": "/CompanyA/UnitC"})
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["updated"] == []
    assert [item["attributeName"] for item in result["notUpdated"]] == ["scope"]
    assert "scope" not in fetch(client, unscoped)


# ETSI 011_06_01..04: Update Attributes adds the fragment's entity types that the entity lacks.
@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ("Car", ["Bus", "Car"]),
        (["Car", "Tram"], ["Bus", "Car", "Tram"]),
        ("Bus", "Bus"),
        (["Car", "Bus"], ["Bus", "Car"]),
    ],
)
def test_update_attributes_adds_entity_types(client: TestClient, types: Any, expected: Any) -> None:
    entity_id = new_id()
    assert client.post(E, json={"id": entity_id, "type": "Bus"}).status_code == 201
    response = client.patch(f"{E}/{entity_id}/attrs", json={"type": types})
    assert response.status_code == 204, response.text
    assert fetch(client, entity_id)["type"] == expected
    found = client.get(E, params={"type": "Car"})
    assert (entity_id in [e["id"] for e in found.json()]) == ("Car" in expected)


# ETSI 044_01_01: PATCH requests also accept Content-Type application/merge-patch+json (clause 6.3.4).
@pytest.mark.parametrize("suffix", ["/attrs", "/attrs/speed"])
def test_attribute_patches_accept_merge_patch_json(client: TestClient, suffix: str) -> None:
    entity_id = new_id()
    assert (
        client.post(E, json={"id": entity_id, "type": "Bus", "speed": {"type": "Property", "value": 1}}).status_code
        == 201
    )
    body = {"speed": {"type": "Property", "value": 2}} if suffix == "/attrs" else {"value": 2}
    response = client.patch(
        f"{E}/{entity_id}{suffix}", json=body, headers={"Content-Type": "application/merge-patch+json"}
    )
    assert response.status_code == 204, response.text
    assert fetch(client, entity_id)["speed"] == {"type": "Property", "value": 2}


# ETSI 045_02_01..04: with equal weights, the clause 6.3.4 order (json, ld+json, geo+json) picks the
# representation, not the order of the Accept header; q values still win.
@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/ld+json, application/json", "application/json"),
        ("application/geo+json, application/json", "application/json"),
        ("application/json;q=0.1, application/ld+json;q=0.9", LD),
        ("application/ld+json", LD),
        ("application/ld+json, application/geo+json", LD),
        ("application/json;q=0, */*", LD),
    ],
)
def test_accept_ties_follow_the_specification_order(client: TestClient, accept: str, expected: str) -> None:
    entity_id = make(client)
    response = client.get(f"{E}/{entity_id}", headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(expected)


# ETSI 636_01_01/02: a GeoJSON body carries its @context unless "Prefer: body=json" asks for the
# Link header only (clause 6.3.6).
@pytest.mark.parametrize("prefer", [None, "body=json", "body=ld+json"])
@pytest.mark.parametrize("single", [True, False])
def test_geo_json_context_placement_follows_prefer(client: TestClient, prefer: str | None, single: bool) -> None:
    entity_id = new_id()
    point = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [8.5, 41.2]}}
    assert client.post(E, json={"id": entity_id, "type": "Bus", "location": point}).status_code == 201
    headers = {"Accept": "application/geo+json"} | ({"Prefer": prefer} if prefer else {})
    url = f"{E}/{entity_id}" if single else E
    response = client.get(url, params=None if single else {"type": "Bus"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    assert ("@context" in response.json()) == (prefer != "body=json")
    assert "json-ld#context" in response.headers["link"]


# ETSI 566_01_01 and 565_01_01: the ``type`` selector of a single-entity write names the entity's type;
# an entity of another type is not found (404) and stays unchanged (clauses 4.17, 5.6.5.4, 5.6.6.4).
@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("DELETE", "", None),
        ("PUT", "", {"type": "Bus"}),
        ("PATCH", "", {"name": {"type": "Property", "value": "y"}}),
        ("POST", "/attrs", {"colour": {"type": "Property", "value": "red"}}),
        ("PATCH", "/attrs", {"name": {"type": "Property", "value": "y"}}),
        ("PATCH", "/attrs/name", {"value": "y"}),
        ("PUT", "/attrs/name", {"type": "Property", "value": "y"}),
        ("DELETE", "/attrs/name", None),
        ("DELETE", "/attrs/scope", None),
    ],
)
def test_type_selector_gates_single_entity_writes(
    client: TestClient, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    entity_id = new_id()
    entity = {"id": entity_id, "type": "Bus", "scope": "/Madrid", "name": {"type": "Property", "value": "x"}}
    assert client.post(E, json=entity).status_code == 201
    url = f"{E}/{entity_id}{suffix}"
    problem(client.request(method, url, params={"type": "Tram"}, json=body), 404, "ResourceNotFound")
    assert fetch(client, entity_id) == entity
    response = client.request(method, url, params={"type": "Tram,Bus"}, json=body)
    assert response.status_code == 204, response.text
    assert client.get(f"{E}/{entity_id}").json() != entity


# ETSI 451_01_01..03: core terms of non-reified properties are no attribute names (clause 4.5.1).
@pytest.mark.parametrize("name", ["datasetId", "instanceId", "observedAt", "unitCode"])
def test_core_member_names_cannot_be_attributes(client: TestClient, name: str) -> None:
    entity_id = new_id()
    entity = {"id": entity_id, "type": "Bus", name: {"type": "Property", "value": "2026-01-01T00:00:00Z"}}
    problem(client.post(E, json=entity), 400, "BadRequestData")
    problem(client.get(f"{E}/{entity_id}"), 404, "ResourceNotFound")


# ETSI 554_01_01: the NGSI-LD Null is no entity id.
def test_the_ngsi_ld_null_is_no_entity_id(client: TestClient) -> None:
    problem(client.post(E, json={"id": "urn:ngsi-ld:null", "type": "Bus"}), 400, "BadRequestData")


# ETSI 452_01_04/05 and 453_01_01/04: output-only members (previousValue, ...) and a unitCode on a
# Relationship are invalid input (clauses 4.5.2.2 and 4.5.3.2); objectType stays legal.
@pytest.mark.parametrize(
    ("attribute", "status"),
    [
        ({"type": "Property", "value": 1, "previousValue": 0}, 400),
        ({"type": "Property", "value": 1, "entityIdSealed": True}, 400),
        ({"type": "Relationship", "object": "urn:ngsi-ld:Parking:1", "previousObject": "urn:ngsi-ld:Parking:0"}, 400),
        ({"type": "Relationship", "object": "urn:ngsi-ld:Parking:1", "unitCode": "MTR"}, 400),
        ({"type": "Relationship", "object": "urn:ngsi-ld:Parking:1", "objectType": "Parking"}, 201),
        ({"type": "Property", "value": 1, "unitCode": "MTR"}, 201),
    ],
)
def test_members_a_client_may_not_send(client: TestClient, attribute: dict[str, Any], status: int) -> None:
    entity_id = new_id()
    response = client.post(E, json={"id": entity_id, "type": "Bus", "probe": attribute})
    if status == 400:
        problem(response, 400, "BadRequestData")
        problem(client.get(f"{E}/{entity_id}"), 404, "ResourceNotFound")
    else:
        assert response.status_code == 201, response.text
        assert fetch(client, entity_id)["probe"] == attribute
