"""NGSI-LD batch operations through HTTP: ``/entityOperations/{create,upsert,update,delete,merge}``.

Statuses and bodies the ETSI suite checks (ngsild.md §1.1, §2.4; suite groups BatchEntities 003-006, 057):
201 with the created ids, 204, 207 BatchOperationResult with ``errors[].entityId`` and a ProblemDetails,
duplicate ids inside one batch (003_10, 004_07), invalid entities next to valid ones, and the @context
rules per entity.  Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from conftest import make_settings
from urbis.app import create_app

E = "/ngsi-ld/v1/entities"
OPS = "/ngsi-ld/v1/entityOperations"
JSON = "application/json"
LD = "application/ld+json"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
NULL = "urn:ngsi-ld:null"
SDM = "https://raw.githubusercontent.com/smart-data-models/dataModel.Streetlighting/master/context.jsonld"
SDM_NS = "https://smartdatamodels.org/dataModel.Streetlighting/"


def new_id(kind: str = "Building") -> str:
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4().hex[:12]}"


def link(url: str) -> str:
    return f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'


def check_problem(body: dict[str, Any], error_type: str) -> None:
    """The ProblemDetails shape the suite asserts: type URI, non-empty distinct title and detail."""
    assert body["type"] == ERRORS + error_type, body
    assert isinstance(body["title"], str) and body["title"].strip()
    assert isinstance(body["detail"], str) and body["detail"].strip()
    assert body["title"] != body["detail"]


def assert_problem(response: Response, status: int, error_type: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(JSON)
    check_problem(response.json(), error_type)


def batch_result(response: Response) -> tuple[list[str], dict[str | None, str]]:
    """A 207 BatchOperationResult as (success ids, {entityId: error type name}); checks every ProblemDetails."""
    assert response.status_code == 207, response.text
    body = response.json()
    assert set(body) == {"success", "errors"}
    errors: dict[str | None, str] = {}
    for item in body["errors"]:
        assert set(item) >= {"entityId", "error"}
        error_type = item["error"]["type"].removeprefix(ERRORS)
        check_problem(item["error"], error_type)
        errors[item["entityId"]] = error_type
    return body["success"], errors


def building(entity_id: str, **attrs: Any) -> dict[str, Any]:
    return {"id": entity_id, "type": "Building", **attrs}


def fetch(client: TestClient, entity_id: str, **params: str) -> Any:
    response = client.get(f"{E}/{entity_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def absent(client: TestClient, entity_id: str) -> bool:
    response = client.get(f"{E}/{entity_id}")
    return response.status_code == 404


def prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


@pytest.fixture
def small_client(db_url: str, tenant: str) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(db_url, tenant, max_body_bytes=1024))) as test_client:
        yield test_client


# ---------------------------------------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_batch_create_answers_201_with_the_ids(client: TestClient, slash: str) -> None:
    ids = [new_id(), new_id(), new_id()]
    entities = [building(i, name=f"b{n}") for n, i in enumerate(ids)]
    response = client.post(f"{OPS}/create{slash}", json=entities, follow_redirects=False)
    assert response.status_code == 201, response.text
    assert sorted(response.json()) == sorted(ids)
    for n, entity_id in enumerate(ids):
        assert fetch(client, entity_id) == {"id": entity_id, "type": "Building", "name": prop(f"b{n}")}


def test_batch_create_of_an_existing_entity_is_207_already_exists(client: TestClient) -> None:
    existing = new_id()
    assert client.post(E, json=building(existing, name="old")).status_code == 201
    first, second = new_id(), new_id()
    response = client.post(f"{OPS}/create", json=[building(first), building(second), building(existing, name="new")])
    success, errors = batch_result(response)
    assert sorted(success) == sorted([first, second])
    assert errors == {existing: "AlreadyExists"}
    assert fetch(client, existing)["name"] == prop("old")
    assert not absent(client, first) and not absent(client, second)


def test_batch_create_with_a_duplicate_id_creates_the_first_and_reports_the_second(client: TestClient) -> None:
    # Suite 003_10: [first, second, first] -> 207, success [first, second], errors [first].
    first, second = new_id(), new_id()
    entities = [building(first, name="one"), building(second), building(first, name="two")]
    success, errors = batch_result(client.post(f"{OPS}/create", json=entities))
    assert sorted(success) == sorted([first, second])
    assert errors == {first: "AlreadyExists"}
    assert fetch(client, first)["name"] == prop("one")


def test_batch_create_stores_the_valid_entities_next_to_invalid_ones(client: TestClient) -> None:
    good_1, good_2 = new_id(), new_id()
    entities = [
        building(good_1, height=10),
        {"id": "not a uri", "type": "Building"},
        {"id": (no_type := new_id()), "name": "no type"},
        {"type": "Building", "name": "no id"},
        "just a string",
        building((null_id := new_id()), name=NULL),
        building((bad_attr := new_id()), location="nowhere"),
        building(good_2, height=20),
    ]
    success, errors = batch_result(client.post(f"{OPS}/create", json=entities))
    assert sorted(success) == sorted([good_1, good_2])
    assert errors == {
        "not a uri": "BadRequestData",
        no_type: "BadRequestData",
        None: "BadRequestData",  # the entries without a usable id
        null_id: "BadRequestData",
        bad_attr: "BadRequestData",
    }
    assert len(client.post(f"{OPS}/create", json=entities[1:7]).json()["errors"]) == 6
    assert fetch(client, good_1)["height"] == prop(10)
    assert fetch(client, good_2)["height"] == prop(20)
    for entity_id in (no_type, null_id, bad_attr):
        assert absent(client, entity_id)


@pytest.mark.parametrize("operation", ["create", "upsert", "update", "delete", "merge"])
@pytest.mark.parametrize(
    ("content", "error_type"),
    [
        pytest.param(b'{"id": "urn:ngsi-ld:Building:x", "type": "Building"}', "BadRequestData", id="object"),
        pytest.param(b'"urn:ngsi-ld:Building:x"', "BadRequestData", id="string"),
        pytest.param(b"[]", "BadRequestData", id="empty-array"),
        pytest.param(b"[{", "InvalidRequest", id="malformed"),
        pytest.param(b"", "InvalidRequest", id="empty-body"),
    ],
)
def test_a_batch_must_be_a_non_empty_json_array(
    client: TestClient, operation: str, content: bytes, error_type: str
) -> None:
    assert_problem(client.post(f"{OPS}/{operation}", content=content, headers={"Content-Type": JSON}), 400, error_type)


@pytest.mark.parametrize("operation", ["create", "upsert", "update", "delete", "merge"])
def test_batch_wrong_content_type_is_415_and_unknown_parameter_400(client: TestClient, operation: str) -> None:
    entity_id = new_id()
    body = f'[{{"id": "{entity_id}", "type": "Building"}}]'.encode()
    response = client.post(f"{OPS}/{operation}", content=body, headers={"Content-Type": "text/plain"})
    assert_problem(response, 415, "UnsupportedMediaType")
    response = client.post(f"{OPS}/{operation}?bogus=1", content=body, headers={"Content-Type": JSON})
    assert_problem(response, 400, "InvalidRequest")
    assert absent(client, entity_id)


def test_batch_body_over_the_limit_is_413(small_client: TestClient) -> None:
    ids = [new_id() for _ in range(30)]
    response = small_client.post(f"{OPS}/create", json=[building(i, name="x" * 20) for i in ids])
    assert_problem(response, 413, "PayloadTooLarge")
    assert small_client.get(f"{E}/{ids[0]}").status_code == 404


def test_batch_context_rules_are_checked_per_entity(client: TestClient) -> None:
    # Suite 003_06/003_08: a wrong entity is reported in a 207, the others are created.
    with_context, without_context = new_id("Streetlight"), new_id("Streetlight")
    entities = [
        {"id": with_context, "type": "Streetlight", "powerState": "on", "@context": SDM},
        {"id": without_context, "type": "Streetlight", "powerState": "on"},
    ]
    success, errors = batch_result(client.post(f"{OPS}/create", json=entities, headers={"Content-Type": LD}))
    assert success == [with_context]
    assert errors == {without_context: "BadRequestData"}
    assert fetch(client, with_context)["type"] == SDM_NS + "Streetlight"
    # JSON with an @context in an entity: that entity is refused.
    other = new_id("Streetlight")
    success, errors = batch_result(
        client.post(f"{OPS}/create", json=[{**entities[0], "id": other}, building(new_id())])
    )
    assert errors == {other: "BadRequestData"}
    assert len(success) == 1
    assert absent(client, other)


def test_batch_ld_json_with_a_link_header_is_400(client: TestClient) -> None:
    # Suite 003_09: the whole request is refused.
    entity_id = new_id("Streetlight")
    entities = [{"id": entity_id, "type": "Streetlight", "@context": SDM}]
    response = client.post(f"{OPS}/create", json=entities, headers={"Content-Type": LD, "Link": link(SDM)})
    assert_problem(response, 400, "BadRequestData")
    assert absent(client, entity_id)


def test_batch_json_with_a_link_header_uses_that_context(client: TestClient) -> None:
    entity_id = new_id("Streetlight")
    response = client.post(
        f"{OPS}/create",
        json=[{"id": entity_id, "type": "Streetlight", "powerState": "on"}],
        headers={"Link": link(SDM)},
    )
    assert response.status_code == 201
    assert fetch(client, entity_id)[SDM_NS + "powerState"] == prop("on")


def test_batch_entities_may_each_carry_their_own_context(client: TestClient) -> None:
    inline_id, sdm_id = new_id("Lamp"), new_id("Streetlight")
    entities = [
        {"id": inline_id, "type": "Lamp", "powerState": "off", "@context": {"powerState": "https://example.org/power"}},
        {"id": sdm_id, "type": "Streetlight", "powerState": "on", "@context": [SDM]},
    ]
    response = client.post(f"{OPS}/create", json=entities, headers={"Content-Type": LD})
    assert response.status_code == 201, response.text
    assert fetch(client, inline_id)["https://example.org/power"] == prop("off")
    assert fetch(client, sdm_id)[SDM_NS + "powerState"] == prop("on")


# ---------------------------------------------------------------------------------------------------------
# Upsert
# ---------------------------------------------------------------------------------------------------------


def test_upsert_answers_201_with_the_created_ids_only(client: TestClient) -> None:
    existing = new_id()
    assert client.post(E, json=building(existing, old=1)).status_code == 201
    created = new_id()
    response = client.post(f"{OPS}/upsert", json=[building(created, name="new"), building(existing, name="replaced")])
    assert response.status_code == 201, response.text
    assert response.json() == [created]
    assert fetch(client, created) == building(created, name=prop("new"))
    # Default is replace: the old attribute is gone.
    assert fetch(client, existing) == building(existing, name=prop("replaced"))


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_upsert_of_existing_entities_only_is_204(client: TestClient, slash: str) -> None:
    ids = [new_id(), new_id()]
    for entity_id in ids:
        assert client.post(E, json=building(entity_id, old=1)).status_code == 201
    response = client.post(f"{OPS}/upsert{slash}", json=[building(i, name="n") for i in ids], follow_redirects=False)
    assert response.status_code == 204
    assert response.content == b""
    for entity_id in ids:
        assert fetch(client, entity_id) == building(entity_id, name=prop("n"))


def test_upsert_replace_keeps_created_at(client: TestClient) -> None:
    entity_id = new_id()
    assert client.post(E, json=building(entity_id, old=1)).status_code == 201
    before = fetch(client, entity_id, options="sysAttrs")
    assert client.post(f"{OPS}/upsert?options=replace", json=[building(entity_id, name="n")]).status_code == 204
    after = fetch(client, entity_id, options="sysAttrs")
    assert after["createdAt"] == before["createdAt"]
    assert "old" not in after


def test_upsert_update_keeps_attributes_not_named(client: TestClient) -> None:
    entity_id = new_id()
    assert client.post(E, json=building(entity_id, old=1, name="before")).status_code == 201
    response = client.post(
        f"{OPS}/upsert", params={"options": "update"}, json=[building(entity_id, name="after", extra=2)]
    )
    assert response.status_code == 204, response.text
    assert fetch(client, entity_id) == building(entity_id, old=prop(1), name=prop("after"), extra=prop(2))


def test_upsert_options_are_checked(client: TestClient) -> None:
    entity_id = new_id()
    for options in ("replace,update", "noOverwrite", "bogus"):
        response = client.post(f"{OPS}/upsert", params={"options": options}, json=[building(entity_id)])
        assert_problem(response, 400, "BadRequestData")
    assert absent(client, entity_id)


@pytest.mark.parametrize("options", ["replace", "update"])
def test_upsert_with_a_duplicate_id_applies_the_later_on_top_of_the_earlier(client: TestClient, options: str) -> None:
    # Suite 004_07: [first, second, first] -> 201 with [first, second].
    first, second = new_id(), new_id()
    entities = [building(first, a=1), building(second), building(first, b=2)]
    response = client.post(f"{OPS}/upsert?options={options}", json=entities)
    assert response.status_code == 201, response.text
    assert sorted(response.json()) == sorted([first, second])
    expected = building(first, b=prop(2)) if options == "replace" else building(first, a=prop(1), b=prop(2))
    assert fetch(client, first) == expected


def test_upsert_with_a_duplicate_id_of_an_existing_entity_is_204(client: TestClient) -> None:
    entity_id = new_id()
    assert client.post(E, json=building(entity_id, old=1)).status_code == 201
    response = client.post(
        f"{OPS}/upsert?options=update", json=[building(entity_id, a=1), building(entity_id, a=2, b=3)]
    )
    assert response.status_code == 204
    assert fetch(client, entity_id) == building(entity_id, old=prop(1), a=prop(2), b=prop(3))


def test_upsert_reports_invalid_entities_and_applies_the_rest(client: TestClient) -> None:
    good = new_id()
    bad = new_id()
    response = client.post(f"{OPS}/upsert", json=[building(good, a=1), {"id": bad, "a": 1}, building(new_id(), a=NULL)])
    success, errors = batch_result(response)
    assert success == [good]
    assert errors[bad] == "BadRequestData"
    assert len(errors) == 2
    assert fetch(client, good)["a"] == prop(1)
    assert absent(client, bad)


# ---------------------------------------------------------------------------------------------------------
# Update
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_batch_update_appends_and_overwrites(client: TestClient, slash: str) -> None:
    ids = [new_id(), new_id()]
    for entity_id in ids:
        assert client.post(E, json=building(entity_id, name="n", height=1)).status_code == 201
    fragments = [{"id": i, "height": 2, "color": "red"} for i in ids]
    response = client.post(f"{OPS}/update{slash}", json=fragments, follow_redirects=False)
    assert response.status_code == 204, response.text
    assert response.content == b""
    for entity_id in ids:
        assert fetch(client, entity_id) == building(entity_id, name=prop("n"), height=prop(2), color=prop("red"))


def test_batch_update_with_no_overwrite_adds_new_attributes_only(client: TestClient) -> None:
    entity_id = new_id()
    assert client.post(E, json=building(entity_id, height=1)).status_code == 201
    response = client.post(f"{OPS}/update?options=noOverwrite", json=[{"id": entity_id, "color": "red"}])
    assert response.status_code == 204  # suite 005_02_02: only new attributes
    assert fetch(client, entity_id) == building(entity_id, height=prop(1), color=prop("red"))


def test_batch_update_with_no_overwrite_of_existing_attributes_is_207(client: TestClient) -> None:
    entity_id = new_id()
    assert client.post(E, json=building(entity_id, height=1)).status_code == 201
    response = client.post(f"{OPS}/update?options=noOverwrite", json=[{"id": entity_id, "height": 2, "color": "red"}])
    assert fetch(client, entity_id) == building(entity_id, height=prop(1), color=prop("red"))
    assert response.status_code == 207


def test_batch_update_with_no_overwrite_keeps_existing_values(client: TestClient) -> None:
    entity_id = new_id()
    assert client.post(E, json=building(entity_id, height=1)).status_code == 201
    client.post(f"{OPS}/update?options=noOverwrite", json=[{"id": entity_id, "height": 2, "color": "red"}])
    assert fetch(client, entity_id) == building(entity_id, height=prop(1), color=prop("red"))


def test_batch_update_of_missing_entities_is_207_resource_not_found(client: TestClient) -> None:
    existing, missing = new_id(), new_id()
    assert client.post(E, json=building(existing, height=1)).status_code == 201
    success, errors = batch_result(
        client.post(f"{OPS}/update", json=[{"id": existing, "height": 2}, {"id": missing, "height": 2}])
    )
    assert success == [existing]
    assert errors == {missing: "ResourceNotFound"}
    assert fetch(client, existing)["height"] == prop(2)
    assert absent(client, missing)  # update never creates


def test_batch_update_with_null_deletes_the_attribute(client: TestClient) -> None:
    entity_id = new_id()
    assert client.post(E, json=building(entity_id, height=1, name="n")).status_code == 201
    response = client.post(f"{OPS}/update", json=[{"id": entity_id, "height": NULL, "color": "red"}])
    assert response.status_code == 204, response.text
    assert fetch(client, entity_id) == building(entity_id, name=prop("n"), color=prop("red"))


def test_batch_update_with_a_duplicate_id_applies_both_in_order(client: TestClient) -> None:
    entity_id = new_id()
    assert client.post(E, json=building(entity_id, height=1)).status_code == 201
    response = client.post(
        f"{OPS}/update", json=[{"id": entity_id, "height": 2, "a": 1}, {"id": entity_id, "height": 3}]
    )
    assert response.status_code == 204
    assert fetch(client, entity_id) == building(entity_id, height=prop(3), a=prop(1))


# ---------------------------------------------------------------------------------------------------------
# Merge
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_batch_merge(client: TestClient, slash: str) -> None:
    ids = [new_id(), new_id()]
    for entity_id in ids:
        base = building(entity_id, height={"value": 1, "unitCode": "MTR"}, name="n", color="blue")
        assert client.post(E, json=base).status_code == 201
    fragments = [{"id": i, "height": {"value": 2}, "color": NULL, "floors": 3} for i in ids]
    response = client.post(f"{OPS}/merge{slash}", json=fragments, follow_redirects=False)
    assert response.status_code == 204, response.text
    for entity_id in ids:
        assert fetch(client, entity_id) == building(
            entity_id,
            height={"type": "Property", "value": 2, "unitCode": "MTR"},  # merged: the unit stays
            name=prop("n"),
            floors=prop(3),
        )


def test_batch_merge_of_a_missing_entity_is_207(client: TestClient) -> None:
    existing, missing = new_id(), new_id()
    assert client.post(E, json=building(existing, height=1)).status_code == 201
    success, errors = batch_result(
        client.post(f"{OPS}/merge", json=[{"id": existing, "a": 1}, {"id": missing, "a": 1}])
    )
    assert success == [existing]
    assert errors == {missing: "ResourceNotFound"}
    assert fetch(client, existing)["a"] == prop(1)
    assert absent(client, missing)


# ---------------------------------------------------------------------------------------------------------
# Delete
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_batch_delete_answers_204(client: TestClient, slash: str) -> None:
    ids = [new_id(), new_id()]
    keep = new_id()
    for entity_id in [*ids, keep]:
        assert client.post(E, json=building(entity_id)).status_code == 201
    response = client.post(f"{OPS}/delete{slash}", json=ids, follow_redirects=False)
    assert response.status_code == 204
    assert response.content == b""
    assert all(absent(client, i) for i in ids)
    assert not absent(client, keep)


def test_batch_delete_reports_missing_and_invalid_ids(client: TestClient) -> None:
    existing, missing = new_id(), new_id()
    assert client.post(E, json=building(existing)).status_code == 201
    success, errors = batch_result(client.post(f"{OPS}/delete", json=[existing, missing, "not a uri", 42]))
    assert success == [existing]
    assert errors == {missing: "ResourceNotFound", "not a uri": "BadRequestData", None: "BadRequestData"}
    assert absent(client, existing)


def test_batch_delete_with_a_duplicate_id_deletes_it_once(client: TestClient) -> None:
    entity_id = new_id()
    assert client.post(E, json=building(entity_id)).status_code == 201
    response = client.post(f"{OPS}/delete", json=[entity_id, entity_id])
    assert response.status_code in (204, 207)
    if response.status_code == 207:
        success, _ = batch_result(response)
        assert success == [entity_id]
    assert absent(client, entity_id)


# ---------------------------------------------------------------------------------------------------------
# Tenants, and @context echo through the query-by-body operation
# ---------------------------------------------------------------------------------------------------------


def test_batch_operations_respect_tenants(client: TestClient) -> None:
    tenant_a = f"a{uuid.uuid4().hex[:10]}"
    entity_id = new_id()
    headers = {"NGSILD-Tenant": tenant_a}
    assert client.post(f"{OPS}/create", json=[building(entity_id)], headers=headers).status_code == 201
    assert fetch_in(client, entity_id, headers)["id"] == entity_id
    assert absent(client, entity_id)
    # The default tenant has no such entity to delete.
    _, errors = batch_result(client.post(f"{OPS}/delete", json=[entity_id]))
    assert errors == {entity_id: "ResourceNotFound"}
    # Deleting in an unknown tenant: 404 NonexistentTenant.
    unknown = {"NGSILD-Tenant": f"b{uuid.uuid4().hex[:10]}"}
    assert_problem(client.post(f"{OPS}/delete", json=[entity_id], headers=unknown), 404, "NonexistentTenant")
    assert client.post(f"{OPS}/delete", json=[entity_id], headers=headers).status_code == 204


def fetch_in(client: TestClient, entity_id: str, headers: dict[str, str]) -> Any:
    response = client.get(f"{E}/{entity_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "context",
    [SDM, [SDM], {"powerState": SDM_NS + "powerState", "Streetlight": SDM_NS + "Streetlight"}],
    ids=["string", "list", "inline-object"],
)
def test_query_by_body_echoes_the_context_exactly_as_sent(client: TestClient, context: Any) -> None:
    entity_id = new_id("Streetlight")
    light = {"id": entity_id, "type": "Streetlight", "powerState": "on", "@context": SDM}
    assert client.post(E, json=light, headers={"Content-Type": LD}).status_code == 201
    query = {"type": "Query", "entities": [{"type": "Streetlight"}], "@context": context}
    response = client.post(f"{OPS}/query", json=query, headers={"Content-Type": LD, "Accept": LD})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(LD)
    [found] = response.json()
    assert found["@context"] == context  # a string stays a string, a list a list, an object an object
    assert found["type"] == "Streetlight"
    assert found["powerState"] == prop("on")
    # As JSON, the context travels in a Link header that can be used to read the entity back the same way.
    response = client.post(f"{OPS}/query", json=query, headers={"Content-Type": LD, "Accept": JSON})
    [plain] = response.json()
    assert "@context" not in plain
    context_link = response.headers["link"]
    assert CONTEXT_REL in context_link
    url = context_link[context_link.index("<") + 1 : context_link.index(">")]
    assert fetch_in(client, entity_id, {"Link": link(url)})["powerState"] == prop("on")
