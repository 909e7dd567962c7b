"""NGSI-LD attributes through HTTP: append, update, partial update, replace and delete (``/entities/{id}/attrs``).

Statuses and bodies as the ETSI suite checks them (ngsild.md §1.1, §1.3, §2.4): 204 on success, 207
UpdateResult when some attributes were not updated, 404 for a missing entity, attribute or instance,
multi-instance attributes addressed by ``datasetId``.  Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from problem_details import assert_problem

E = "/ngsi-ld/v1/entities"
JSON = "application/json"
LD = "application/ld+json"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
NULL = "urn:ngsi-ld:null"
SDM = "https://raw.githubusercontent.com/smart-data-models/dataModel.Streetlighting/master/context.jsonld"
SDM_NS = "https://smartdatamodels.org/dataModel.Streetlighting/"
T1 = "2024-05-01T10:00:00.000000Z"
T2 = "2024-06-01T08:30:00.000000Z"
GPS = "urn:ngsi-ld:Dataset:gps"
RADAR = "urn:ngsi-ld:Dataset:radar"


def new_id(kind: str = "Vehicle") -> str:
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4().hex[:12]}"


def link(url: str) -> str:
    return f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'


def assert_no_content(response: Response) -> None:
    assert response.status_code == 204, response.text
    assert response.content == b""


def vehicle(entity_id: str) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Vehicle",
        "speed": {
            "type": "Property",
            "value": 50,
            "unitCode": "KMH",
            "observedAt": T1,
            "accuracy": {"type": "Property", "value": 2},
        },
        "brand": {"type": "Property", "value": "Mercedes"},
        "isParked": {"type": "Relationship", "object": "urn:ngsi-ld:Parking:p1"},
        "name": {"type": "LanguageProperty", "languageMap": {"en": "Bus", "de": "Bus"}},
    }


def multi_vehicle(entity_id: str) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Vehicle",
        "speed": [
            {"type": "Property", "value": 50},
            {"type": "Property", "value": 52, "datasetId": GPS},
            {"type": "Property", "value": 49, "datasetId": RADAR},
        ],
    }


def make(client: TestClient, entity: dict[str, Any]) -> str:
    response = client.post(E, json=entity)
    assert response.status_code == 201, response.text
    return str(entity["id"])


def fetch(client: TestClient, entity_id: str, **params: str) -> Any:
    response = client.get(f"{E}/{entity_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def without(entity: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in entity.items() if k not in names}


# ---------------------------------------------------------------------------------------------------------
# Append: POST /entities/{id}/attrs
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_append_adds_and_overwrites(client: TestClient, slash: str) -> None:
    entity_id = make(client, vehicle(new_id()))
    fragment = {"brand": {"type": "Property", "value": "Volvo"}, "color": "red"}
    assert_no_content(client.post(f"{E}/{entity_id}/attrs{slash}", json=fragment, follow_redirects=False))
    expected = vehicle(entity_id)
    expected["brand"] = {"type": "Property", "value": "Volvo"}
    expected["color"] = {"type": "Property", "value": "red"}
    assert fetch(client, entity_id) == expected


def test_append_with_no_overwrite_reports_207(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    fragment = {"brand": "Volvo", "color": "red", "seats": 40}
    response = client.post(f"{E}/{entity_id}/attrs", params={"options": "noOverwrite"}, json=fragment)
    assert response.status_code == 207, response.text
    result = response.json()
    assert sorted(result["updated"]) == ["color", "seats"]
    assert [item["attributeName"] for item in result["notUpdated"]] == ["brand"]
    assert result["notUpdated"][0]["reason"]
    got = fetch(client, entity_id)
    assert got["brand"] == {"type": "Property", "value": "Mercedes"}
    assert got["color"] == {"type": "Property", "value": "red"}


def test_append_with_no_overwrite_of_new_attributes_only_is_204(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    response = client.post(f"{E}/{entity_id}/attrs?options=noOverwrite", json={"color": "red"})
    assert_no_content(response)
    assert fetch(client, entity_id)["color"] == {"type": "Property", "value": "red"}


def test_append_a_new_instance_keeps_the_default_one(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    fragment = {"speed": {"type": "Property", "value": 51, "datasetId": GPS}}
    assert_no_content(client.post(f"{E}/{entity_id}/attrs?options=noOverwrite", json=fragment))
    assert fetch(client, entity_id)["speed"] == [
        vehicle(entity_id)["speed"],
        {"type": "Property", "value": 51, "datasetId": GPS},
    ]


def test_append_keeps_created_at_of_an_overwritten_attribute(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    before = fetch(client, entity_id, options="sysAttrs")
    assert_no_content(client.post(f"{E}/{entity_id}/attrs", json={"brand": "Volvo"}))
    after = fetch(client, entity_id, options="sysAttrs")
    assert after["brand"]["createdAt"] == before["brand"]["createdAt"]
    assert after["brand"]["modifiedAt"] >= before["brand"]["modifiedAt"]
    assert after["createdAt"] == before["createdAt"]


def test_append_errors(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    assert_problem(client.post(f"{E}/{new_id()}/attrs", json={"color": "red"}), 404, "ResourceNotFound")
    assert_problem(client.post(f"{E}/not-a-uri/attrs", json={"color": "red"}), 400, "BadRequestData")
    assert_problem(client.post(f"{E}/{entity_id}/attrs", json={"co lor": "red"}), 400, "BadRequestData")
    assert_problem(client.post(f"{E}/{entity_id}/attrs", json={"id": new_id(), "a": 1}), 400, "BadRequestData")
    assert_problem(client.post(f"{E}/{entity_id}/attrs?options=bogus", json={"a": 1}), 400, "BadRequestData")
    assert_problem(client.post(f"{E}/{entity_id}/attrs?bogus=1", json={"a": 1}), 400, "InvalidRequest")
    assert fetch(client, entity_id) == vehicle(entity_id)


# ---------------------------------------------------------------------------------------------------------
# Update: PATCH /entities/{id}/attrs
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_update_replaces_existing_attributes(client: TestClient, slash: str) -> None:
    entity_id = make(client, vehicle(new_id()))
    fragment = {"speed": {"type": "Property", "value": 80, "observedAt": T2}, "brand": "Volvo"}
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs{slash}", json=fragment, follow_redirects=False))
    expected = vehicle(entity_id)
    expected["speed"] = {"type": "Property", "value": 80, "observedAt": T2}  # the whole attribute is replaced
    expected["brand"] = {"type": "Property", "value": "Volvo"}
    assert fetch(client, entity_id) == expected


def test_update_reports_missing_attributes_with_207(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    response = client.patch(f"{E}/{entity_id}/attrs", json={"brand": "Volvo", "color": "red", "seats": 4})
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["updated"] == ["brand"]
    assert sorted(item["attributeName"] for item in result["notUpdated"]) == ["color", "seats"]
    assert all(item["reason"] for item in result["notUpdated"])
    got = fetch(client, entity_id)
    assert got["brand"]["value"] == "Volvo"
    assert "color" not in got and "seats" not in got  # update never adds


def test_update_of_missing_attributes_only_is_207_and_changes_nothing(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    response = client.patch(f"{E}/{entity_id}/attrs", json={"color": "red"})
    assert response.status_code == 207
    assert response.json()["updated"] == []
    assert fetch(client, entity_id) == vehicle(entity_id)


def test_update_of_a_missing_instance_is_reported(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    response = client.patch(f"{E}/{entity_id}/attrs", json={"speed": {"value": 3, "datasetId": GPS}})
    assert response.status_code == 207
    assert [item["attributeName"] for item in response.json()["notUpdated"]] == ["speed"]
    assert fetch(client, entity_id) == vehicle(entity_id)


@pytest.mark.parametrize(
    ("fragment", "gone"),
    [
        pytest.param({"brand": NULL}, "brand", id="concise"),
        pytest.param({"brand": {"type": "Property", "value": NULL}}, "brand", id="property"),
        pytest.param({"isParked": {"type": "Relationship", "object": NULL}}, "isParked", id="relationship"),
        pytest.param({"name": {"type": "LanguageProperty", "languageMap": {"@none": NULL}}}, "name", id="language"),
    ],
)
def test_update_with_null_deletes_the_attribute(client: TestClient, fragment: dict[str, Any], gone: str) -> None:
    entity_id = make(client, vehicle(new_id()))
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs", json=fragment))
    assert fetch(client, entity_id) == without(vehicle(entity_id), gone)


def test_update_with_null_deletes_one_instance(client: TestClient) -> None:
    entity_id = make(client, multi_vehicle(new_id()))
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs", json={"speed": {"value": NULL, "datasetId": GPS}}))
    assert fetch(client, entity_id)["speed"] == [
        {"type": "Property", "value": 50},
        {"type": "Property", "value": 49, "datasetId": RADAR},
    ]


def test_update_errors(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    assert_problem(client.patch(f"{E}/{new_id()}/attrs", json={"brand": "x"}), 404, "ResourceNotFound")
    assert_problem(client.patch(f"{E}/{entity_id}/attrs", json={"brand": None}), 400, "BadRequestData")
    assert_problem(client.patch(f"{E}/{entity_id}/attrs", json={"brand": "x", "@context": SDM}), 400, "BadRequestData")
    response = client.patch(f"{E}/{entity_id}/attrs", content=b'{"brand": "x"}', headers={"Content-Type": "text/plain"})
    assert_problem(response, 415, "UnsupportedMediaType")
    assert_problem(
        client.patch(f"{E}/{entity_id}/attrs?options=noOverwrite", json={"brand": "x"}), 400, "InvalidRequest"
    )
    assert fetch(client, entity_id) == vehicle(entity_id)


# ---------------------------------------------------------------------------------------------------------
# Partial attribute update: PATCH /entities/{id}/attrs/{attrId}
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_partial_update_of_the_value_keeps_the_other_members(client: TestClient, slash: str) -> None:
    entity_id = make(client, vehicle(new_id()))
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs/speed{slash}", json={"value": 60}, follow_redirects=False))
    expected = vehicle(entity_id)
    expected["speed"]["value"] = 60
    assert fetch(client, entity_id) == expected


def test_partial_update_of_metadata_only(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs/speed", json={"observedAt": T2}))
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs/speed", json={"unitCode": "MPH"}))
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs/isParked", json={"observedAt": T2}))
    expected = vehicle(entity_id)
    expected["speed"]["observedAt"] = T2
    expected["speed"]["unitCode"] = "MPH"
    expected["isParked"]["observedAt"] = T2
    assert fetch(client, entity_id) == expected


def test_partial_update_of_sub_attributes(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    patch = {
        "accuracy": {"type": "Property", "value": 1},
        "source": {"type": "Relationship", "object": "urn:ngsi-ld:Device:d"},
    }
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs/speed", json=patch))
    speed = fetch(client, entity_id)["speed"]
    assert speed["value"] == 50
    assert speed["accuracy"] == {"type": "Property", "value": 1}
    assert speed["source"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:d"}


def test_partial_update_with_a_full_attribute(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    assert_no_content(
        client.patch(
            f"{E}/{entity_id}/attrs/isParked", json={"type": "Relationship", "object": "urn:ngsi-ld:Parking:p2"}
        )
    )
    assert fetch(client, entity_id)["isParked"] == {"type": "Relationship", "object": "urn:ngsi-ld:Parking:p2"}
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs/name", json={"languageMap": {"fr": "Autobus"}}))
    assert fetch(client, entity_id)["name"] == {"type": "LanguageProperty", "languageMap": {"fr": "Autobus"}}


@pytest.mark.parametrize("where", ["body", "query"])
def test_partial_update_of_one_instance(client: TestClient, where: str) -> None:
    entity_id = make(client, multi_vehicle(new_id()))
    if where == "body":
        response = client.patch(f"{E}/{entity_id}/attrs/speed", json={"value": 70, "datasetId": GPS})
    else:
        response = client.patch(f"{E}/{entity_id}/attrs/speed", params={"datasetId": GPS}, json={"value": 70})
    assert_no_content(response)
    expected = multi_vehicle(entity_id)["speed"]
    expected[1]["value"] = 70
    assert fetch(client, entity_id)["speed"] == expected


def test_partial_update_with_null_deletes_the_instance(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs/brand", json={"value": NULL}))
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs/isParked", json={"type": "Relationship", "object": NULL}))
    assert fetch(client, entity_id) == without(vehicle(entity_id), "brand", "isParked")


def test_partial_update_with_null_deletes_a_language_property(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    patch = {"type": "LanguageProperty", "languageMap": {"@none": NULL}}
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs/name", json=patch))
    assert fetch(client, entity_id) == without(vehicle(entity_id), "name")


def test_partial_update_with_a_user_context(client: TestClient) -> None:
    entity_id = new_id("Streetlight")
    light = {"id": entity_id, "type": "Streetlight", "powerState": "on", "@context": SDM}
    assert client.post(E, json=light, headers={"Content-Type": LD}).status_code == 201
    response = client.patch(f"{E}/{entity_id}/attrs/powerState", json={"value": "off"}, headers={"Link": link(SDM)})
    assert_no_content(response)
    assert fetch(client, entity_id)[SDM_NS + "powerState"] == {"type": "Property", "value": "off"}
    # Without the context, "powerState" names another attribute, which does not exist.
    assert_problem(client.patch(f"{E}/{entity_id}/attrs/powerState", json={"value": "on"}), 404, "ResourceNotFound")


def test_partial_update_errors(client: TestClient) -> None:
    entity_id = make(client, multi_vehicle(new_id()))
    url = f"{E}/{entity_id}/attrs/speed"
    assert_problem(client.patch(f"{E}/{entity_id}/attrs/color", json={"value": 1}), 404, "ResourceNotFound")
    assert_problem(client.patch(f"{E}/{new_id()}/attrs/speed", json={"value": 1}), 404, "ResourceNotFound")
    response = client.patch(url, json={"value": 1, "datasetId": "urn:ngsi-ld:Dataset:none"})
    assert_problem(response, 404, "ResourceNotFound")
    assert_problem(client.patch(url, json=[{"value": 1}]), 400, "BadRequestData")
    assert_problem(client.patch(url, json={"type": "Prop", "value": 1}), 400, "BadRequestData")
    assert_problem(client.patch(url, json={"value": 1, "@context": SDM}), 400, "BadRequestData")
    assert_problem(client.patch(url, content=b"{}", headers={"Content-Type": "text/html"}), 415, "UnsupportedMediaType")
    assert_problem(client.patch(url + "?bogus=1", json={"value": 1}), 400, "InvalidRequest")
    assert fetch(client, entity_id) == multi_vehicle(entity_id)


# ---------------------------------------------------------------------------------------------------------
# Replace: PUT /entities/{id}/attrs/{attrId}
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_replace_attribute(client: TestClient, slash: str) -> None:
    entity_id = make(client, vehicle(new_id()))
    before = fetch(client, entity_id, options="sysAttrs")
    new_speed = {"type": "Property", "value": 10, "observedAt": T2}
    assert_no_content(client.put(f"{E}/{entity_id}/attrs/speed{slash}", json=new_speed, follow_redirects=False))
    after = fetch(client, entity_id, options="sysAttrs")
    assert {k: v for k, v in after["speed"].items() if k not in ("createdAt", "modifiedAt")} == new_speed
    assert after["speed"]["createdAt"] == before["speed"]["createdAt"]
    assert after["speed"]["modifiedAt"] >= before["speed"]["modifiedAt"]
    expected = vehicle(entity_id)
    expected["speed"] = new_speed
    assert fetch(client, entity_id) == expected


def test_replace_one_instance(client: TestClient) -> None:
    entity_id = make(client, multi_vehicle(new_id()))
    assert_no_content(
        client.put(f"{E}/{entity_id}/attrs/speed", json={"type": "Property", "value": 1, "datasetId": RADAR})
    )
    expected = multi_vehicle(entity_id)["speed"]
    expected[2] = {"type": "Property", "value": 1, "datasetId": RADAR}
    assert fetch(client, entity_id)["speed"] == expected


def test_replace_attribute_errors(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    good = {"type": "Property", "value": 1}
    assert_problem(client.put(f"{E}/{entity_id}/attrs/color", json=good), 404, "ResourceNotFound")
    assert_problem(client.put(f"{E}/{new_id()}/attrs/speed", json=good), 404, "ResourceNotFound")
    assert_problem(client.put(f"{E}/{entity_id}/attrs/speed", json={**good, "datasetId": GPS}), 404, "ResourceNotFound")
    assert_problem(
        client.put(f"{E}/{entity_id}/attrs/speed", json={"type": "Property", "value": NULL}), 400, "BadRequestData"
    )
    assert_problem(client.put(f"{E}/{entity_id}/attrs/speed", json={"type": "Property"}), 400, "BadRequestData")
    assert_problem(
        client.put(f"{E}/{entity_id}/attrs/speed", json=good, headers={"Content-Type": LD}), 400, "BadRequestData"
    )
    assert fetch(client, entity_id) == vehicle(entity_id)


# ---------------------------------------------------------------------------------------------------------
# Delete: DELETE /entities/{id}/attrs/{attrId}
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "trailing-slash"])
def test_delete_attribute(client: TestClient, slash: str) -> None:
    entity_id = make(client, vehicle(new_id()))
    assert_no_content(client.delete(f"{E}/{entity_id}/attrs/brand{slash}", follow_redirects=False))
    assert fetch(client, entity_id) == without(vehicle(entity_id), "brand")
    assert_problem(client.delete(f"{E}/{entity_id}/attrs/brand"), 404, "ResourceNotFound")


def test_delete_instances_by_dataset_id_and_delete_all(client: TestClient) -> None:
    entity_id = make(client, multi_vehicle(new_id()))
    speeds = multi_vehicle(entity_id)["speed"]
    assert_no_content(client.delete(f"{E}/{entity_id}/attrs/speed", params={"datasetId": GPS}))
    assert fetch(client, entity_id)["speed"] == [speeds[0], speeds[2]]
    assert_problem(client.delete(f"{E}/{entity_id}/attrs/speed", params={"datasetId": GPS}), 404, "ResourceNotFound")
    # Without datasetId: the default instance only.
    assert_no_content(client.delete(f"{E}/{entity_id}/attrs/speed"))
    assert fetch(client, entity_id)["speed"] == speeds[2]
    assert_problem(client.delete(f"{E}/{entity_id}/attrs/speed"), 404, "ResourceNotFound")
    # deleteAll removes what is left.
    make(client, {**multi_vehicle(new_id()), "id": (other := new_id())})
    assert_no_content(client.delete(f"{E}/{other}/attrs/speed", params={"deleteAll": "true"}))
    assert "speed" not in fetch(client, other)
    assert_no_content(client.delete(f"{E}/{entity_id}/attrs/speed", params={"deleteAll": "true"}))
    assert "speed" not in fetch(client, entity_id)


def test_delete_attribute_errors(client: TestClient) -> None:
    entity_id = make(client, vehicle(new_id()))
    url = f"{E}/{entity_id}/attrs/speed"
    assert_problem(client.delete(f"{E}/{new_id()}/attrs/speed"), 404, "ResourceNotFound")
    assert_problem(client.delete(f"{E}/{entity_id}/attrs/color"), 404, "ResourceNotFound")
    assert_problem(client.delete(url, params={"deleteAll": "maybe"}), 400, "BadRequestData")
    assert_problem(client.delete(url, params={"datasetId": "not a uri"}), 400, "BadRequestData")
    assert_problem(client.delete(url, params={"bogus": "1"}), 400, "InvalidRequest")
    assert fetch(client, entity_id) == vehicle(entity_id)


def test_delete_attribute_with_a_link_context(client: TestClient) -> None:
    entity_id = new_id("Streetlight")
    light = {"id": entity_id, "type": "Streetlight", "powerState": "on", "@context": SDM}
    assert client.post(E, json=light, headers={"Content-Type": LD}).status_code == 201
    assert_problem(client.delete(f"{E}/{entity_id}/attrs/powerState"), 404, "ResourceNotFound")
    assert_no_content(client.delete(f"{E}/{entity_id}/attrs/powerState", headers={"Link": link(SDM)}))
    assert fetch(client, entity_id) == {"id": entity_id, "type": SDM_NS + "Streetlight"}


# ---------------------------------------------------------------------------------------------------------
# Multi-instance attributes end to end, and body checks shared by every attribute route
# ---------------------------------------------------------------------------------------------------------


def test_multi_instance_attribute_end_to_end(client: TestClient) -> None:
    entity_id = make(client, {"id": new_id(), "type": "Vehicle", "speed": {"type": "Property", "value": 50}})
    # Append two more instances; appending one of them again with noOverwrite is refused.
    fragment = {"speed": [{"value": 52, "datasetId": GPS}, {"value": 49, "datasetId": RADAR}]}
    assert_no_content(client.post(f"{E}/{entity_id}/attrs", json=fragment))
    response = client.post(f"{E}/{entity_id}/attrs?options=noOverwrite", json={"speed": {"value": 0, "datasetId": GPS}})
    assert response.status_code == 207
    # Update one, partially update another, read them back one by one.
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs", json={"speed": {"value": 53, "datasetId": GPS}}))
    assert_no_content(client.patch(f"{E}/{entity_id}/attrs/speed", json={"unitCode": "KMH", "datasetId": RADAR}))
    assert fetch(client, entity_id, datasetId=GPS)["speed"] == {"type": "Property", "value": 53, "datasetId": GPS}
    assert fetch(client, entity_id, datasetId=RADAR)["speed"] == {
        "type": "Property",
        "value": 49,
        "datasetId": RADAR,
        "unitCode": "KMH",
    }
    assert fetch(client, entity_id, options="keyValues")["speed"] == {"dataset": {"@none": 50, GPS: 53, RADAR: 49}}
    # Delete one instance, then everything.
    assert_no_content(client.delete(f"{E}/{entity_id}/attrs/speed?datasetId={RADAR}"))
    assert [i.get("datasetId") for i in fetch(client, entity_id)["speed"]] == [None, GPS]
    assert_no_content(client.delete(f"{E}/{entity_id}/attrs/speed?deleteAll=true"))
    assert fetch(client, entity_id) == {"id": entity_id, "type": "Vehicle"}


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", "/attrs", {"color": "red"}),
        ("PATCH", "/attrs", {"brand": "Volvo"}),
        ("PATCH", "/attrs/brand", {"value": "Volvo"}),
        ("PUT", "/attrs/brand", {"type": "Property", "value": "Volvo"}),
    ],
)
def test_attribute_routes_enforce_the_context_rules(
    client: TestClient, method: str, suffix: str, body: dict[str, Any]
) -> None:
    entity_id = make(client, vehicle(new_id()))
    url = E + "/" + entity_id + suffix
    # JSON with @context in the body, ld+json without one, ld+json with a Link header: 400.
    assert_problem(client.request(method, url, json={**body, "@context": SDM}), 400, "BadRequestData")
    assert_problem(client.request(method, url, json=body, headers={"Content-Type": LD}), 400, "BadRequestData")
    response = client.request(
        method, url, json={**body, "@context": SDM}, headers={"Content-Type": LD, "Link": link(SDM)}
    )
    assert_problem(response, 400, "BadRequestData")
    assert_problem(
        client.request(method, url, content=b"{}", headers={"Content-Type": "text/plain"}), 415, "UnsupportedMediaType"
    )
    assert_problem(client.request(method, url, content=b"{oops", headers={"Content-Type": JSON}), 400, "InvalidRequest")
    assert fetch(client, entity_id) == vehicle(entity_id)
    # ld+json with its @context in the body is fine.
    response = client.request(method, url, json={**body, "@context": SDM}, headers={"Content-Type": LD})
    assert response.status_code == 204, response.text
