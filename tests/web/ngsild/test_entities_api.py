"""NGSI-LD entities through HTTP: create, retrieve, replace, merge, delete, representations, @context, errors.

What the ETSI conformance suite checks for ``/entities`` (ngsild.md §1.1-1.3 and §2.4): statuses, empty
bodies, ``Location``, ProblemDetails, the @context no-mix rules, content negotiation, and round trips of
every attribute kind.  Every test runs on SQLite and on PostgreSQL (the ``client`` fixture).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.context.jsonld import CORE_CONTEXT_URL

E = "/ngsi-ld/v1/entities"
JSON = "application/json"
LD = "application/ld+json"
GEO = "application/geo+json"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
NULL = "urn:ngsi-ld:null"
SDM = "https://raw.githubusercontent.com/smart-data-models/dataModel.Streetlighting/master/context.jsonld"
SDM_NS = "https://smartdatamodels.org/dataModel.Streetlighting/"
DEFAULT_NS = "https://uri.etsi.org/ngsi-ld/default-context/"
T1 = "2024-05-01T10:00:00.000000Z"


def new_id(kind: str = "Thing") -> str:
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4().hex[:12]}"


def link(url: str) -> str:
    """A JSON-LD Link header exactly as the suite sends it."""
    return f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'


def create(client: TestClient, entity: dict[str, Any], headers: dict[str, str] | None = None) -> str:
    response = client.post(E, json=entity, headers=headers)
    assert response.status_code == 201, response.text
    return str(entity["id"])


def fetch(client: TestClient, entity_id: str, headers: dict[str, str] | None = None, **params: str) -> Any:
    response = client.get(f"{E}/{entity_id}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def assert_absent(client: TestClient, entity_id: str) -> None:
    assert_problem(client.get(f"{E}/{entity_id}"), 404, "ResourceNotFound")


def rich_entity(entity_id: str | None = None) -> dict[str, Any]:
    """One attribute of every kind, with metadata and sub-attributes, in normalized form."""
    return {
        "id": entity_id or new_id("Building"),
        "type": "Building",
        "temperature": {
            "type": "Property",
            "value": 21.5,
            "unitCode": "CEL",
            "observedAt": T1,
            "accuracy": {"type": "Property", "value": 0.5, "unitCode": "CEL"},
        },
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:alice", "objectType": "Person"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2.35, 48.85]}},
        "name": {"type": "LanguageProperty", "languageMap": {"en": "Town hall", "fr": "Hôtel de ville"}},
        "config": {"type": "JsonProperty", "json": {"modes": ["eco", "full"], "threshold": None}},
        "category": {"type": "VocabProperty", "vocab": "commercial"},
        "readings": {"type": "ListProperty", "valueList": [3, 1, 2]},
        "route": {
            "type": "ListRelationship",
            "objectList": [{"object": "urn:ngsi-ld:City:a"}, {"object": "urn:ngsi-ld:City:b"}],
        },
        "tags": {"type": "Property", "value": ["old", "listed"]},
        "address": {"type": "Property", "value": {"street": "Main", "number": 1}},
        "isParked": {
            "type": "Relationship",
            "object": "urn:ngsi-ld:Parking:p1",
            "observedAt": T1,
            "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:bob"},
        },
    }


def concise_of(entity: dict[str, Any]) -> dict[str, Any]:
    """What ``options=concise`` must give for :func:`rich_entity`."""
    return {
        "id": entity["id"],
        "type": "Building",
        "temperature": {
            "value": 21.5,
            "unitCode": "CEL",
            "observedAt": T1,
            "accuracy": {"value": 0.5, "unitCode": "CEL"},
        },
        "owner": {"object": "urn:ngsi-ld:Person:alice", "objectType": "Person"},
        "location": {"type": "Point", "coordinates": [2.35, 48.85]},
        "name": {"languageMap": {"en": "Town hall", "fr": "Hôtel de ville"}},
        "config": {"json": {"modes": ["eco", "full"], "threshold": None}},
        "category": {"vocab": "commercial"},
        "readings": {"valueList": [3, 1, 2]},
        "route": {"objectList": [{"object": "urn:ngsi-ld:City:a"}, {"object": "urn:ngsi-ld:City:b"}]},
        "tags": ["old", "listed"],
        "address": {"value": {"street": "Main", "number": 1}},
        "isParked": {
            "object": "urn:ngsi-ld:Parking:p1",
            "observedAt": T1,
            "providedBy": {"object": "urn:ngsi-ld:Person:bob"},
        },
    }


def key_values_of(entity: dict[str, Any]) -> dict[str, Any]:
    """What ``options=keyValues`` must give for :func:`rich_entity` (clause 4.5.4)."""
    return {
        "id": entity["id"],
        "type": "Building",
        "temperature": 21.5,
        "owner": "urn:ngsi-ld:Person:alice",
        "location": {"type": "Point", "coordinates": [2.35, 48.85]},
        "name": {"languageMap": {"en": "Town hall", "fr": "Hôtel de ville"}},
        "config": {"json": {"modes": ["eco", "full"], "threshold": None}},
        "category": {"vocab": "commercial"},
        "readings": {"valueList": [3, 1, 2]},
        "route": {"objectList": [{"object": "urn:ngsi-ld:City:a"}, {"object": "urn:ngsi-ld:City:b"}]},
        "tags": ["old", "listed"],
        "address": {"street": "Main", "number": 1},
        "isParked": "urn:ngsi-ld:Parking:p1",
    }


def streetlight(entity_id: str, context: Any = SDM) -> dict[str, Any]:
    """A Smart Data Models Streetlight in JSON-LD, terms from the (bundled) SDM context."""
    return {
        "id": entity_id,
        "type": "Streetlight",
        "powerState": {"type": "Property", "value": "on"},
        "illuminanceLevel": {"type": "Property", "value": 0.8},
        # A vocab value that is itself an SDM term, so that it expands and compacts with the context.
        "controllingMethod": {"type": "VocabProperty", "vocab": "StreetlightGroup"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.7, 40.4]}},
        "@context": context,
    }


@pytest.fixture
def small_client(db_url: str, tenant: str) -> Iterator[TestClient]:
    """A client of an app that accepts request bodies of at most 1024 bytes."""
    with TestClient(create_app(make_settings(db_url, tenant, max_body_bytes=1024))) as test_client:
        yield test_client


# ---------------------------------------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [E, E + "/"], ids=["no-slash", "trailing-slash"])
def test_create_answers_201_with_location_and_an_empty_body(client: TestClient, path: str) -> None:
    entity_id = new_id()
    response = client.post(path, json={"id": entity_id, "type": "Thing", "level": 3}, follow_redirects=False)
    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["location"] == f"/ngsi-ld/v1/entities/{entity_id}"
    assert fetch(client, entity_id) == {"id": entity_id, "type": "Thing", "level": {"type": "Property", "value": 3}}


def test_create_with_json_ld_body_context(client: TestClient) -> None:
    entity_id = new_id("Streetlight")
    response = client.post(E, json=streetlight(entity_id), headers={"Content-Type": LD})
    assert response.status_code == 201, response.text
    assert response.content == b""
    # Read with the same context: the same terms come back.
    assert fetch(client, entity_id, headers={"Link": link(SDM)}) == {
        k: v for k, v in streetlight(entity_id).items() if k != "@context"
    }
    # Read with the core context only: the SDM terms come back as their IRIs.
    plain = fetch(client, entity_id)
    assert plain["type"] == SDM_NS + "Streetlight"
    assert plain[SDM_NS + "powerState"] == {"type": "Property", "value": "on"}
    assert plain[SDM_NS + "controllingMethod"] == {"type": "VocabProperty", "vocab": SDM_NS + "StreetlightGroup"}
    assert "location" in plain  # a core term stays a term


def test_create_twice_is_409_already_exists(client: TestClient) -> None:
    entity_id = create(client, {"id": new_id(), "type": "Thing", "level": 1})
    assert_problem(client.post(E, json={"id": entity_id, "type": "Thing", "level": 2}), 409, "AlreadyExists")
    assert fetch(client, entity_id)["level"]["value"] == 1


INVALID_CREATES: dict[str, dict[str, Any]] = {
    "id-not-a-uri": {"id": "not a uri", "type": "Thing"},
    "id-without-scheme": {"id": "Thing-1", "type": "Thing"},
    "id-not-a-string": {"id": 42, "type": "Thing"},
    "no-type": {"id": "urn:ngsi-ld:Thing:no-type"},
    "no-id": {"type": "Thing", "level": 1},
    "empty-type-list": {"id": "urn:ngsi-ld:Thing:empty-types", "type": []},
    "bad-attribute-name": {"id": "urn:ngsi-ld:Thing:bad-name", "type": "Thing", "le vel": 1},
    "json-null-value": {"id": "urn:ngsi-ld:Thing:json-null", "type": "Thing", "level": None},
    "unknown-attribute-type": {"id": "urn:ngsi-ld:Thing:kind", "type": "Thing", "level": {"type": "Prop", "value": 1}},
    "property-without-value": {"id": "urn:ngsi-ld:Thing:novalue", "type": "Thing", "level": {"type": "Property"}},
    "relationship-object-not-uri": {
        "id": "urn:ngsi-ld:Thing:rel",
        "type": "Thing",
        "owner": {"type": "Relationship", "object": "alice"},
    },
    "location-not-geojson": {"id": "urn:ngsi-ld:Thing:geo", "type": "Thing", "location": "Paris"},
    "bad-observed-at": {
        "id": "urn:ngsi-ld:Thing:obs",
        "type": "Thing",
        "level": {"type": "Property", "value": 1, "observedAt": "yesterday"},
    },
    "duplicate-dataset-ids": {
        "id": "urn:ngsi-ld:Thing:dup",
        "type": "Thing",
        "speed": [{"type": "Property", "value": 1}, {"type": "Property", "value": 2}],
    },
    "null-as-value": {"id": "urn:ngsi-ld:Thing:n1", "type": "Thing", "level": NULL},
    "null-as-normalized-value": {
        "id": "urn:ngsi-ld:Thing:n2",
        "type": "Thing",
        "level": {"type": "Property", "value": NULL},
    },
    "null-in-a-list": {
        "id": "urn:ngsi-ld:Thing:n3",
        "type": "Thing",
        "tags": {"type": "Property", "value": ["a", NULL]},
    },
    "null-in-an-object": {"id": "urn:ngsi-ld:Thing:n4", "type": "Thing", "address": {"value": {"street": NULL}}},
    "null-as-object": {
        "id": "urn:ngsi-ld:Thing:n5",
        "type": "Thing",
        "owner": {"type": "Relationship", "object": NULL},
    },
    "null-sub-attribute": {"id": "urn:ngsi-ld:Thing:n6", "type": "Thing", "level": {"value": 1, "accuracy": NULL}},
    "null-unit-code": {"id": "urn:ngsi-ld:Thing:n7", "type": "Thing", "level": {"value": 1, "unitCode": NULL}},
    "null-observed-at": {"id": "urn:ngsi-ld:Thing:n8", "type": "Thing", "level": {"value": 1, "observedAt": NULL}},
    "null-dataset-id": {"id": "urn:ngsi-ld:Thing:n9", "type": "Thing", "level": {"value": 1, "datasetId": NULL}},
    "null-language-map": {
        "id": "urn:ngsi-ld:Thing:n10",
        "type": "Thing",
        "name": {"type": "LanguageProperty", "languageMap": {"@none": NULL}},
    },
    "null-vocab": {
        "id": "urn:ngsi-ld:Thing:n11",
        "type": "Thing",
        "category": {"type": "VocabProperty", "vocab": NULL},
    },
    "null-json": {"id": "urn:ngsi-ld:Thing:n12", "type": "Thing", "config": {"type": "JsonProperty", "json": NULL}},
    "null-object-type": {
        "id": "urn:ngsi-ld:Thing:n13",
        "type": "Thing",
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:a", "objectType": NULL},
    },
    "null-entity-type": {"id": "urn:ngsi-ld:Thing:n14", "type": NULL},
}


@pytest.mark.parametrize("body", list(INVALID_CREATES.values()), ids=list(INVALID_CREATES))
def test_create_rejects_invalid_entities_with_bad_request_data(client: TestClient, body: dict[str, Any]) -> None:
    assert_problem(client.post(E, json=body), 400, "BadRequestData")
    if isinstance(body.get("id"), str) and body["id"].startswith("urn:"):
        assert_absent(client, body["id"])


def test_create_accepts_the_null_string_inside_a_json_property(client: TestClient) -> None:
    # A JsonProperty's content is opaque JSON: only the whole value being Null is the NGSI-LD Null.
    entity_id = create(client, {"id": new_id(), "type": "Thing", "raw": {"type": "JsonProperty", "json": {"x": NULL}}})
    assert fetch(client, entity_id)["raw"] == {"type": "JsonProperty", "json": {"x": NULL}}


def test_create_rejects_a_body_that_is_not_an_object(client: TestClient) -> None:
    assert_problem(client.post(E, json=[{"id": new_id(), "type": "Thing"}]), 400, "BadRequestData")


@pytest.mark.parametrize(
    ("content_type", "body", "extra_headers"),
    [
        pytest.param(JSON, {"@context": SDM}, {}, id="json-with-context-in-body"),
        pytest.param(LD, {}, {}, id="ld-json-without-context"),
        pytest.param(LD, {"@context": SDM}, {"Link": link(SDM)}, id="ld-json-with-link-header"),
    ],
)
def test_context_mixes_are_400_bad_request_data(
    client: TestClient, content_type: str, body: dict[str, Any], extra_headers: dict[str, str]
) -> None:
    entity_id = new_id("Streetlight")
    payload = {"id": entity_id, "type": "Streetlight", "powerState": "on", **body}
    response = client.post(E, json=payload, headers={"Content-Type": content_type, **extra_headers})
    assert_problem(response, 400, "BadRequestData")
    assert_absent(client, entity_id)


def test_json_with_link_header_uses_that_context(client: TestClient) -> None:
    entity_id = new_id("Streetlight")
    response = client.post(
        E, json={"id": entity_id, "type": "Streetlight", "powerState": "on"}, headers={"Link": link(SDM)}
    )
    assert response.status_code == 201, response.text
    assert fetch(client, entity_id)[SDM_NS + "powerState"] == {"type": "Property", "value": "on"}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/geo+json", "application/merge-patch+json", "multipart/form-data"],
)
def test_create_with_a_wrong_content_type_is_415(client: TestClient, content_type: str) -> None:
    entity_id = new_id()
    response = client.post(
        E, content=f'{{"id": "{entity_id}", "type": "Thing"}}', headers={"Content-Type": content_type}
    )
    assert_problem(response, 415, "UnsupportedMediaType")
    assert_absent(client, entity_id)


def test_create_without_a_content_type_is_415(client: TestClient) -> None:
    response = client.post(E, content=b'{"id": "urn:ngsi-ld:Thing:x", "type": "Thing"}')
    assert "content-type" not in response.request.headers
    assert_problem(response, 415, "UnsupportedMediaType")


def test_content_type_parameters_are_accepted(client: TestClient) -> None:
    entity_id = new_id()
    body = f'{{"id": "{entity_id}", "type": "Thing"}}'.encode()
    response = client.post(E, content=body, headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "body", [b'{"id": "urn:ngsi-ld:Thing:1", ', b"not json", b"{'id': 1}"], ids=["cut", "text", "quotes"]
)
def test_malformed_json_is_400(client: TestClient, body: bytes) -> None:
    assert_problem(client.post(E, content=body, headers={"Content-Type": JSON}), 400, "InvalidRequest")


def test_an_empty_body_is_400(client: TestClient) -> None:
    assert_problem(client.post(E, content=b"", headers={"Content-Type": JSON}), 400, "InvalidRequest")


def test_a_body_over_the_limit_is_413(small_client: TestClient) -> None:
    entity_id = new_id()
    big = {"id": entity_id, "type": "Thing", "description": "x" * 2000}
    assert_problem(small_client.post(E, json=big), 413, "PayloadTooLarge")
    assert_problem(small_client.get(f"{E}/{entity_id}"), 404, "ResourceNotFound")
    # Just under the limit is fine.
    small = {"id": entity_id, "type": "Thing", "description": "x" * 500}
    assert small_client.post(E, json=small).status_code == 201


def test_a_chunked_body_over_the_limit_is_413(small_client: TestClient) -> None:
    entity_id = new_id()
    payload = f'{{"id": "{entity_id}", "type": "Thing", "description": "{"x" * 2000}"}}'.encode()
    chunks = iter([payload[:700], payload[700:1400], payload[1400:]])  # no Content-Length: chunked transfer
    assert_problem(small_client.post(E, content=chunks, headers={"Content-Type": JSON}), 413, "PayloadTooLarge")
    assert_problem(small_client.get(f"{E}/{entity_id}"), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("POST", ""), ("GET", "/{id}"), ("DELETE", "/{id}"), ("PATCH", "/{id}"), ("PUT", "/{id}")],
)
def test_an_unknown_query_parameter_is_400_invalid_request(client: TestClient, method: str, suffix: str) -> None:
    entity_id = create(client, {"id": new_id(), "type": "Thing", "level": 1})
    body = {"id": entity_id, "type": "Thing", "level": 2}
    kwargs: dict[str, Any] = {"json": body} if method in ("POST", "PATCH", "PUT") else {}
    response = client.request(method, E + suffix.format(id=entity_id) + "?bogus=1", **kwargs)
    assert_problem(response, 400, "InvalidRequest")
    assert "bogus" in response.json()["detail"]
    assert fetch(client, entity_id)["level"]["value"] == 1  # nothing was changed or deleted


# ---------------------------------------------------------------------------------------------------------
# Retrieve: errors and representations
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_retrieve_unknown_entity_is_404_resource_not_found(client: TestClient, slash: str) -> None:
    body = assert_problem(client.get(f"{E}/{new_id()}{slash}", follow_redirects=False), 404, "ResourceNotFound")
    assert body["instance"].startswith(E)


def test_retrieve_with_an_invalid_id_is_400(client: TestClient) -> None:
    assert_problem(client.get(f"{E}/not-a-uri"), 400, "BadRequestData")


def test_retrieve_with_a_type_the_entity_does_not_have_is_404(client: TestClient) -> None:
    entity_id = create(client, {"id": new_id(), "type": "Thing"})
    assert fetch(client, entity_id, type="Thing")["id"] == entity_id
    assert_problem(client.get(f"{E}/{entity_id}", params={"type": "Other"}), 404, "ResourceNotFound")


def test_normalized_round_trip_of_every_attribute_kind(client: TestClient) -> None:
    entity = rich_entity()
    create(client, entity)
    assert fetch(client, entity["id"]) == entity
    assert fetch(client, entity["id"], options="normalized") == entity
    assert fetch(client, entity["id"], format="normalized") == entity


@pytest.mark.parametrize("params", [{"options": "keyValues"}, {"options": "simplified"}, {"format": "keyValues"}])
def test_key_values_representation(client: TestClient, params: dict[str, str]) -> None:
    entity = rich_entity()
    create(client, entity)
    assert fetch(client, entity["id"], **params) == key_values_of(entity)


@pytest.mark.parametrize("params", [{"options": "concise"}, {"format": "concise"}])
def test_concise_representation(client: TestClient, params: dict[str, str]) -> None:
    entity = rich_entity()
    create(client, entity)
    assert fetch(client, entity["id"], **params) == concise_of(entity)


def test_format_wins_over_options(client: TestClient) -> None:
    entity = rich_entity()
    create(client, entity)
    assert fetch(client, entity["id"], options="keyValues", format="normalized") == entity


def test_conflicting_representations_are_400(client: TestClient) -> None:
    entity_id = create(client, {"id": new_id(), "type": "Thing"})
    assert_problem(client.get(f"{E}/{entity_id}", params={"options": "keyValues,concise"}), 400, "BadRequestData")
    # Unknown representations are InvalidRequest (ETSI 018_16).
    assert_problem(client.get(f"{E}/{entity_id}", params={"format": "fancy"}), 400, "InvalidRequest")
    assert_problem(client.get(f"{E}/{entity_id}", params={"options": "fancy"}), 400, "InvalidRequest")


def test_concise_input_is_accepted_and_normalized(client: TestClient) -> None:
    entity = rich_entity()
    concise = concise_of(entity)
    create(client, concise)
    assert fetch(client, entity["id"]) == entity


def test_key_values_output_reads_back_as_the_same_attribute_kinds(client: TestClient) -> None:
    # The keyValues form of the extended kinds is wrapped ({"languageMap": ...}) so it is valid concise input.
    entity = rich_entity()
    create(client, entity)
    copy_id = new_id("Building")
    simplified = {**fetch(client, entity["id"], options="keyValues"), "id": copy_id}
    create(client, simplified)
    again = fetch(client, copy_id)
    kinds = {name: again[name]["type"] for name in ("location", "name", "config", "category", "readings", "route")}
    assert kinds == {
        "location": "GeoProperty",
        "name": "LanguageProperty",
        "config": "JsonProperty",
        "category": "VocabProperty",
        "readings": "ListProperty",
        "route": "ListRelationship",
    }
    assert again["name"]["languageMap"] == entity["name"]["languageMap"]
    assert again["route"]["objectList"] == entity["route"]["objectList"]


def test_concise_bare_values_are_normalized(client: TestClient) -> None:
    entity_id = new_id()
    create(
        client,
        {
            "id": entity_id,
            "type": "Thing",
            "count": 7,
            "label": "seven",
            "on": False,
            "tags": ["a", "b"],
            "spot": {"value": 3, "unitCode": "MTR"},
            "location": {"type": "Point", "coordinates": [1.0, 2.0]},
            "area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            "near": {"object": "urn:ngsi-ld:Thing:other"},
        },
    )
    assert fetch(client, entity_id) == {
        "id": entity_id,
        "type": "Thing",
        "count": {"type": "Property", "value": 7},
        "label": {"type": "Property", "value": "seven"},
        "on": {"type": "Property", "value": False},
        "tags": {"type": "Property", "value": ["a", "b"]},
        "spot": {"type": "Property", "value": 3, "unitCode": "MTR"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1.0, 2.0]}},
        "area": {
            "type": "GeoProperty",
            "value": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
        },
        "near": {"type": "Relationship", "object": "urn:ngsi-ld:Thing:other"},
    }


def test_observed_at_is_kept_in_utc(client: TestClient) -> None:
    entity_id = new_id()
    create(client, {"id": entity_id, "type": "Thing", "level": {"value": 1, "observedAt": "2024-05-01T12:00:00+02:00"}})
    observed = fetch(client, entity_id)["level"]["observedAt"]
    assert observed.endswith("Z")
    assert datetime.fromisoformat(observed.replace("Z", "+00:00")) == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_entity_with_several_types_and_a_scope(client: TestClient) -> None:
    entity_id = new_id()
    create(client, {"id": entity_id, "type": ["Thing", "Device", "Thing"], "scope": "/Madrid/Centro"})
    got = fetch(client, entity_id)
    assert got == {"id": entity_id, "type": ["Thing", "Device"], "scope": "/Madrid/Centro"}


def test_sys_attrs_are_shown_only_when_asked(client: TestClient) -> None:
    entity = rich_entity()
    create(client, entity)
    plain = fetch(client, entity["id"])
    assert "createdAt" not in plain and "createdAt" not in plain["temperature"]
    full = fetch(client, entity["id"], options="sysAttrs")
    for holder in (full, full["temperature"], full["temperature"]["accuracy"], full["owner"]):
        created = datetime.fromisoformat(holder["createdAt"].replace("Z", "+00:00"))
        modified = datetime.fromisoformat(holder["modifiedAt"].replace("Z", "+00:00"))
        assert created.tzinfo is not None and modified >= created
    concise = fetch(client, entity["id"], options="concise,sysAttrs")
    assert "createdAt" in concise and "createdAt" in concise["temperature"]


def test_attrs_restricts_the_attributes(client: TestClient) -> None:
    entity = rich_entity()
    create(client, entity)
    got = fetch(client, entity["id"], attrs="temperature,owner")
    assert got == {
        "id": entity["id"],
        "type": "Building",
        "temperature": entity["temperature"],
        "owner": entity["owner"],
    }
    # None of the requested attributes: ResourceNotFound (clause 5.7.1; ETSI 018_03_02).
    assert client.get(f"{E}/{entity['id']}", params={"attrs": "nothingLikeThis"}).status_code == 404


def test_pick_and_omit(client: TestClient) -> None:
    entity = rich_entity()
    create(client, entity)
    assert fetch(client, entity["id"], pick="id,temperature") == {
        "id": entity["id"],
        "temperature": entity["temperature"],
    }
    assert fetch(client, entity["id"], pick="name", options="keyValues") == {"name": key_values_of(entity)["name"]}
    omitted = fetch(client, entity["id"], omit="type,temperature,owner")
    assert set(omitted) == set(entity) - {"type", "temperature", "owner"}
    assert_problem(client.get(f"{E}/{entity['id']}", params={"pick": "id", "omit": "type"}), 400, "BadRequestData")


def test_lang_picks_one_language_of_a_language_property(client: TestClient) -> None:
    entity = rich_entity()
    create(client, entity)
    assert fetch(client, entity["id"], lang="fr")["name"] == {
        "type": "Property",
        "value": "Hôtel de ville",
        "lang": "fr",
    }
    assert fetch(client, entity["id"], lang="fr", options="keyValues")["name"] == "Hôtel de ville"
    assert fetch(client, entity["id"], lang="fr", options="concise")["name"] == {
        "value": "Hôtel de ville",
        "lang": "fr",
    }
    # Preferences with weights: the best available one wins.
    assert fetch(client, entity["id"], lang="de,en;q=0.2,fr;q=0.9")["name"]["lang"] == "fr"
    # None of the wanted ones: still one of the texts, with its tag.
    fallback = fetch(client, entity["id"], lang="de")["name"]
    assert fallback["type"] == "Property"
    assert entity["name"]["languageMap"][fallback["lang"]] == fallback["value"]
    anything = fetch(client, entity["id"], lang="*")["name"]
    assert entity["name"]["languageMap"][anything["lang"]] == anything["value"]
    # Other attributes are untouched.
    assert fetch(client, entity["id"], lang="fr")["temperature"] == entity["temperature"]


# ---------------------------------------------------------------------------------------------------------
# Content negotiation and @context on output
# ---------------------------------------------------------------------------------------------------------


def test_accept_ld_json_puts_the_core_context_in_the_body(client: TestClient) -> None:
    entity_id = create(client, {"id": new_id(), "type": "Thing"})
    response = client.get(f"{E}/{entity_id}", headers={"Accept": LD})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(LD)
    assert "link" not in response.headers
    assert response.json() == {"@context": CORE_CONTEXT_URL, "id": entity_id, "type": "Thing"}


def test_accept_ld_json_echoes_the_link_context_as_a_string(client: TestClient) -> None:
    entity_id = new_id("Streetlight")
    client.post(E, json=streetlight(entity_id), headers={"Content-Type": LD})
    body = fetch(client, entity_id, headers={"Accept": LD, "Link": link(SDM)})
    assert body["@context"] == SDM
    assert body["powerState"] == {"type": "Property", "value": "on"}


def test_accept_json_puts_the_context_in_a_link_header(client: TestClient) -> None:
    entity_id = new_id("Streetlight")
    client.post(E, json=streetlight(entity_id, [SDM]), headers={"Content-Type": LD})
    response = client.get(f"{E}/{entity_id}", headers={"Accept": JSON, "Link": link(SDM)})
    assert response.headers["content-type"].startswith(JSON)
    assert response.headers["link"] == link(SDM)
    body = response.json()
    assert "@context" not in body
    assert body["type"] == "Streetlight" and "powerState" in body


def test_no_accept_header_is_json_with_a_link_header(client: TestClient) -> None:
    entity_id = create(client, {"id": new_id(), "type": "Thing"})
    request = client.build_request("GET", f"{E}/{entity_id}")
    del request.headers["accept"]
    response = client.send(request)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JSON)
    assert response.headers["link"] == link(CORE_CONTEXT_URL)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("*/*", JSON),
        ("application/*", JSON),
        ("text/html, application/ld+json;q=0.5", LD),
        ("application/json;q=0.4, application/ld+json", LD),
        ("application/ld+json;q=0.4, application/json", JSON),
    ],
)
def test_accept_negotiation(client: TestClient, accept: str, expected: str) -> None:
    entity_id = create(client, {"id": new_id(), "type": "Thing"})
    response = client.get(f"{E}/{entity_id}", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(expected)


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png", "application/json;q=0"])
def test_an_unacceptable_accept_is_406(client: TestClient, accept: str) -> None:
    entity_id = create(client, {"id": new_id(), "type": "Thing"})
    assert_problem(client.get(f"{E}/{entity_id}", headers={"Accept": accept}), 406, "NotAcceptable")


def test_geo_json_feature(client: TestClient) -> None:
    entity = rich_entity()
    entity["observationSpace"] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1.0, 1.0]}}
    create(client, entity)
    response = client.get(f"{E}/{entity['id']}", headers={"Accept": GEO})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GEO)
    feature = response.json()
    assert feature["type"] == "Feature"
    assert feature["id"] == entity["id"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [2.35, 48.85]}
    assert feature["@context"] == CORE_CONTEXT_URL
    assert feature["properties"] == {k: v for k, v in entity.items() if k != "id"}

    simplified = fetch(client, entity["id"], headers={"Accept": GEO}, options="keyValues")
    assert simplified["properties"]["temperature"] == 21.5
    assert simplified["properties"]["location"] == {"type": "Point", "coordinates": [2.35, 48.85]}

    other = fetch(client, entity["id"], headers={"Accept": GEO}, geometryProperty="observationSpace")
    assert other["geometry"] == {"type": "Point", "coordinates": [1.0, 1.0]}
    missing = fetch(client, entity["id"], headers={"Accept": GEO}, geometryProperty="operationSpace")
    assert missing["geometry"] is None


def test_geo_json_with_a_user_context(client: TestClient) -> None:
    entity_id = new_id("Streetlight")
    client.post(E, json=streetlight(entity_id), headers={"Content-Type": LD})
    feature = fetch(client, entity_id, headers={"Accept": GEO, "Link": link(SDM)})
    assert feature["@context"] == SDM
    assert feature["properties"]["type"] == "Streetlight"
    assert feature["properties"]["powerState"] == {"type": "Property", "value": "on"}


def test_user_context_terms_come_back_compacted_the_same_way(client: TestClient) -> None:
    entity_id = new_id("Streetlight")
    sent = streetlight(entity_id, [SDM])
    assert client.post(E, json=sent, headers={"Content-Type": LD}).status_code == 201
    for representation, check in (
        (
            "normalized",
            lambda body: body["controllingMethod"] == {"type": "VocabProperty", "vocab": "StreetlightGroup"},
        ),
        ("concise", lambda body: body["controllingMethod"] == {"vocab": "StreetlightGroup"}),
        ("keyValues", lambda body: body["illuminanceLevel"] == 0.8),
    ):
        body = fetch(client, entity_id, headers={"Link": link(SDM)}, options=representation)
        assert body["type"] == "Streetlight"
        assert set(body) == {"id", "type", "powerState", "illuminanceLevel", "controllingMethod", "location"}
        assert check(body), body
    # attrs, pick and omit take terms of the request's context too.
    assert set(fetch(client, entity_id, headers={"Link": link(SDM)}, attrs="powerState")) == {
        "id",
        "type",
        "powerState",
    }
    assert set(fetch(client, entity_id, headers={"Link": link(SDM)}, pick="powerState")) == {"powerState"}


def test_inline_context_terms_are_used_for_expansion(client: TestClient) -> None:
    inline = {"brightness": "https://example.org/lighting/brightness", "Lamp": "https://example.org/lighting/Lamp"}
    entity_id = new_id("Lamp")
    entity = {"id": entity_id, "type": "Lamp", "brightness": 70, "other": 1, "@context": inline}
    assert client.post(E, json=entity, headers={"Content-Type": LD}).status_code == 201
    got = fetch(client, entity_id)
    assert got["type"] == "https://example.org/lighting/Lamp"
    assert got["https://example.org/lighting/brightness"] == {"type": "Property", "value": 70}
    assert got["other"] == {"type": "Property", "value": 1}  # undefined terms use the default vocabulary
    # With noOverwrite the not-updated attribute is named with the inline context's term.
    again = {"brightness": 10, "@context": inline}
    response = client.post(f"{E}/{entity_id}/attrs?options=noOverwrite", json=again, headers={"Content-Type": LD})
    assert response.status_code == 207
    assert [item["attributeName"] for item in response.json()["notUpdated"]] == ["brightness"]


# ---------------------------------------------------------------------------------------------------------
# Replace (PUT), merge (PATCH) and delete
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_replace_keeps_created_at(client: TestClient, slash: str) -> None:
    entity_id = create(client, {"id": new_id(), "type": "Thing", "a": 1, "b": {"value": 2, "unitCode": "MTR"}})
    before = fetch(client, entity_id, options="sysAttrs")
    response = client.put(f"{E}/{entity_id}{slash}", json={"type": "Gadget", "c": 3}, follow_redirects=False)
    assert response.status_code == 204
    assert response.content == b""
    after = fetch(client, entity_id, options="sysAttrs")
    assert after["createdAt"] == before["createdAt"]
    assert after["modifiedAt"] >= before["modifiedAt"]
    assert after["type"] == "Gadget"
    assert set(after) == {"id", "type", "createdAt", "modifiedAt", "c"}
    assert fetch(client, entity_id) == {"id": entity_id, "type": "Gadget", "c": {"type": "Property", "value": 3}}


def test_replace_errors(client: TestClient) -> None:
    entity_id = create(client, {"id": new_id(), "type": "Thing", "a": 1})
    assert_problem(client.put(f"{E}/{new_id()}", json={"type": "Thing"}), 404, "ResourceNotFound")
    assert_problem(client.put(f"{E}/{entity_id}", json={"id": new_id(), "type": "Thing"}), 400, "BadRequestData")
    assert_problem(client.put(f"{E}/{entity_id}", json={"type": "Thing", "a": NULL}), 400, "BadRequestData")
    assert_problem(client.put(f"{E}/{entity_id}", json={"type": "Thing", "@context": SDM}), 400, "BadRequestData")
    assert_problem(
        client.put(f"{E}/{entity_id}", content=b"{}", headers={"Content-Type": "text/plain"}),
        415,
        "UnsupportedMediaType",
    )
    assert fetch(client, entity_id) == {"id": entity_id, "type": "Thing", "a": {"type": "Property", "value": 1}}


def merge_base(entity_id: str) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Thing",
        "temperature": {
            "type": "Property",
            "value": 20,
            "unitCode": "CEL",
            "observedAt": T1,
            "accuracy": {"type": "Property", "value": 0.5},
            "source": {"type": "Property", "value": "sensor"},
        },
        "status": {"type": "Property", "value": "ok"},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:alice"},
        "name": {"type": "LanguageProperty", "languageMap": {"en": "Thing"}},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}},
    }


@pytest.mark.parametrize("content_type", [JSON, "application/merge-patch+json"])
def test_merge_changes_what_is_given_and_keeps_the_rest(client: TestClient, content_type: str) -> None:
    entity_id = create(client, merge_base(new_id()))
    patch = {"temperature": {"type": "Property", "value": 25, "accuracy": {"value": 0.1}}, "humidity": 40}
    response = client.patch(f"{E}/{entity_id}", json=patch, headers={"Content-Type": content_type})
    assert response.status_code == 204, response.text
    assert response.content == b""
    expected = merge_base(entity_id)
    expected["temperature"]["value"] = 25
    expected["temperature"]["accuracy"]["value"] = 0.1
    expected["humidity"] = {"type": "Property", "value": 40}
    assert fetch(client, entity_id) == expected


def test_merge_with_a_trailing_slash(client: TestClient) -> None:
    entity_id = create(client, merge_base(new_id()))
    response = client.patch(f"{E}/{entity_id}/", json={"status": "broken"}, follow_redirects=False)
    assert response.status_code == 204
    assert fetch(client, entity_id)["status"] == {"type": "Property", "value": "broken"}


@pytest.mark.parametrize(
    ("patch", "gone"),
    [
        pytest.param({"status": NULL}, "status", id="concise-null"),
        pytest.param({"status": {"type": "Property", "value": NULL}}, "status", id="property"),
        pytest.param({"owner": {"type": "Relationship", "object": NULL}}, "owner", id="relationship"),
        pytest.param({"location": {"type": "GeoProperty", "value": NULL}}, "location", id="geoproperty"),
        pytest.param(
            {"name": {"type": "LanguageProperty", "languageMap": {"@none": NULL}}}, "name", id="languageproperty"
        ),
    ],
)
def test_merge_with_ngsi_ld_null_deletes_the_attribute(client: TestClient, patch: dict[str, Any], gone: str) -> None:
    entity_id = create(client, merge_base(new_id()))
    assert client.patch(f"{E}/{entity_id}", json=patch).status_code == 204
    expected = merge_base(entity_id)
    del expected[gone]
    assert fetch(client, entity_id) == expected


def test_merge_with_null_deletes_sub_attributes_and_metadata(client: TestClient) -> None:
    entity_id = create(client, merge_base(new_id()))
    patch = {"temperature": {"value": 21, "accuracy": NULL, "observedAt": NULL, "unitCode": NULL}}
    assert client.patch(f"{E}/{entity_id}", json=patch).status_code == 204
    assert fetch(client, entity_id)["temperature"] == {
        "type": "Property",
        "value": 21,
        "source": {"type": "Property", "value": "sensor"},
    }


def test_merge_with_null_deletes_one_instance(client: TestClient) -> None:
    entity_id = new_id()
    instances = [
        {"type": "Property", "value": 1},
        {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:Dataset:b"},
    ]
    create(client, {"id": entity_id, "type": "Thing", "speed": instances})
    patch = {"speed": {"type": "Property", "value": NULL, "datasetId": "urn:ngsi-ld:Dataset:b"}}
    assert client.patch(f"{E}/{entity_id}", json=patch).status_code == 204
    assert fetch(client, entity_id)["speed"] == {"type": "Property", "value": 1}


def test_merge_errors(client: TestClient) -> None:
    entity_id = create(client, merge_base(new_id()))
    assert_problem(client.patch(f"{E}/{new_id()}", json={"a": 1}), 404, "ResourceNotFound")
    assert_problem(client.patch(f"{E}/not-a-uri", json={"a": 1}), 400, "BadRequestData")
    assert_problem(client.patch(f"{E}/{entity_id}", json={"id": new_id(), "a": 1}), 400, "BadRequestData")
    merge_patch = {"Content-Type": "application/merge-patch+json"}
    assert_problem(
        client.patch(f"{E}/{entity_id}", json={"a": 1, "@context": SDM}, headers=merge_patch), 400, "BadRequestData"
    )
    assert_problem(client.patch(f"{E}/{entity_id}", json={"a": 1}, headers={"Content-Type": LD}), 400, "BadRequestData")
    response = client.patch(f"{E}/{entity_id}", content=b'{"a": 1}', headers={"Content-Type": "text/plain"})
    assert_problem(response, 415, "UnsupportedMediaType")
    assert fetch(client, entity_id) == merge_base(entity_id)


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_delete_entity(client: TestClient, slash: str) -> None:
    entity_id = create(client, {"id": new_id(), "type": "Thing"})
    other = create(client, {"id": new_id(), "type": "Thing"})
    response = client.delete(f"{E}/{entity_id}{slash}", follow_redirects=False)
    assert response.status_code == 204
    assert response.content == b""
    assert_absent(client, entity_id)
    assert_problem(client.delete(f"{E}/{entity_id}"), 404, "ResourceNotFound")
    assert_problem(client.delete(f"{E}/not-a-uri"), 400, "BadRequestData")
    assert fetch(client, other)["id"] == other
    # The id is free again.
    create(client, {"id": entity_id, "type": "Thing"})


# ---------------------------------------------------------------------------------------------------------
# Multi-instance attributes, tenants, and error shapes
# ---------------------------------------------------------------------------------------------------------


def test_multi_instance_attribute_in_every_representation(client: TestClient) -> None:
    entity_id = new_id()
    instances = [
        {"type": "Property", "value": 10, "datasetId": "urn:ngsi-ld:Dataset:gps"},
        {"type": "Property", "value": 11},
    ]
    create(client, {"id": entity_id, "type": "Thing", "speed": instances})
    assert fetch(client, entity_id)["speed"] == instances
    concise = fetch(client, entity_id, options="concise")["speed"]
    assert concise == [{"value": 10, "datasetId": "urn:ngsi-ld:Dataset:gps"}, {"value": 11}]
    # ... which reads back as the same two instances.
    copy_id = create(client, {"id": new_id(), "type": "Thing", "speed": concise})
    assert fetch(client, copy_id)["speed"] == instances
    assert fetch(client, entity_id, options="keyValues")["speed"] == {
        "dataset": {"urn:ngsi-ld:Dataset:gps": 10, "@none": 11}
    }
    assert fetch(client, entity_id, datasetId="urn:ngsi-ld:Dataset:gps")["speed"] == instances[0]


def test_tenants_are_isolated(client: TestClient) -> None:
    tenant_a = f"a{uuid.uuid4().hex[:10]}"
    tenant_b = f"b{uuid.uuid4().hex[:10]}"
    entity_id = new_id()
    response = client.post(E, json={"id": entity_id, "type": "Thing", "level": 1}, headers={"NGSILD-Tenant": tenant_a})
    assert response.status_code == 201
    assert fetch(client, entity_id, headers={"NGSILD-Tenant": tenant_a})["level"]["value"] == 1
    # The default tenant does not see it.
    assert_problem(client.get(f"{E}/{entity_id}"), 404, "ResourceNotFound")
    # A tenant nobody wrote to does not exist.
    assert_problem(client.get(f"{E}/{entity_id}", headers={"NGSILD-Tenant": tenant_b}), 404, "NonexistentTenant")
    assert_problem(client.delete(f"{E}/{entity_id}", headers={"NGSILD-Tenant": tenant_b}), 404, "NonexistentTenant")
    # Once it exists, it still does not see tenant a's entity, and the same id can live in both.
    client.post(E, json={"id": entity_id, "type": "Thing", "level": 2}, headers={"NGSILD-Tenant": tenant_b})
    assert fetch(client, entity_id, headers={"NGSILD-Tenant": tenant_b})["level"]["value"] == 2
    assert fetch(client, entity_id, headers={"NGSILD-Tenant": tenant_a})["level"]["value"] == 1
    # Deleting in b leaves a alone.
    assert client.delete(f"{E}/{entity_id}", headers={"NGSILD-Tenant": tenant_b}).status_code == 204
    assert fetch(client, entity_id, headers={"NGSILD-Tenant": tenant_a})["level"]["value"] == 1


def test_an_invalid_tenant_name_is_400(client: TestClient) -> None:
    response = client.post(E, json={"id": new_id(), "type": "Thing"}, headers={"NGSILD-Tenant": "no spaces/allowed"})
    assert_problem(response, 400, "BadRequestData")


def test_unknown_paths_and_methods_are_problem_details(client: TestClient) -> None:
    body = assert_problem(client.get("/ngsi-ld/v1/nothing-here"), 404, "ResourceNotFound")
    assert body["detail"] != body["title"]
    response = client.put(E, json={"id": new_id(), "type": "Thing"})
    assert response.status_code == 405
    problem = response.json()
    assert problem["type"].startswith(ERRORS)
    assert problem["title"] and problem["detail"] and problem["title"] != problem["detail"]


def test_documents_are_not_shared_between_responses(client: TestClient) -> None:
    # Rendering must not mutate what the service returned (the same request twice gives the same answer).
    entity = rich_entity()
    create(client, entity)
    first = fetch(client, entity["id"], options="keyValues", lang="fr")
    second = fetch(client, entity["id"], options="keyValues", lang="fr")
    assert first == second
    assert fetch(client, entity["id"]) == copy.deepcopy(entity)
