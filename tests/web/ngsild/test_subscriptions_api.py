"""The NGSI-LD subscription endpoints: statuses, bodies and errors as the ETSI suite checks them.

Notification delivery itself is tested in ``tests/context/subscriptions``; here the HTTP surface.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from problem_details import assert_problem
from urbis.core.auth.tokens import USER, Actor, issue_token

S = "/ngsi-ld/v1/subscriptions"
LD = "application/ld+json"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
SDM_LIGHTING = "https://raw.githubusercontent.com/smart-data-models/dataModel.Streetlighting/master/context.jsonld"


def subscription(number: int | None = 1, **members: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Streetlight"}],
        "notification": {
            "format": "keyValues",
            "endpoint": {"uri": "http://127.0.0.1:9/notify", "accept": "application/json"},
        },
    }
    if number is not None:
        body["id"] = f"urn:ngsi-ld:Subscription:{number}"
    body.update(members)
    return {k: v for k, v in body.items() if v is not None}


def test_create_answers_201_with_location_and_no_body(client: TestClient) -> None:
    response = client.post(S, json=subscription())
    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["Location"] == f"{S}/urn:ngsi-ld:Subscription:1"


def test_create_without_id_generates_one(client: TestClient) -> None:
    response = client.post(f"{S}/", json=subscription(None))
    assert response.status_code == 201
    location = response.headers["Location"]
    assert location.startswith(f"{S}/urn:ngsi-ld:Subscription:")
    assert client.get(location).json()["id"] == location.rsplit("/", 1)[1]


def test_retrieve_shows_members_status_and_counters(client: TestClient) -> None:
    client.post(S, json=subscription(q="power>10", throttling=5))
    response = client.get(f"{S}/urn:ngsi-ld:Subscription:1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert CORE in response.headers["Link"]
    body = response.json()
    assert body == {
        "id": "urn:ngsi-ld:Subscription:1",
        "type": "Subscription",
        "entities": [{"type": "Streetlight"}],
        "q": "power>10",
        "throttling": 5,
        "isActive": True,
        "status": "active",
        "notificationTrigger": ["attributeCreated", "attributeUpdated"],
        "notification": {
            "format": "keyValues",
            "endpoint": {"uri": "http://127.0.0.1:9/notify", "accept": "application/json"},
            "timesSent": 0,
            "timesFailed": 0,
        },
    }


def test_json_ld_create_and_retrieve(client: TestClient) -> None:
    body = {**subscription(), "@context": [SDM_LIGHTING]}
    assert client.post(S, json=body, headers={"Content-Type": LD}).status_code == 201
    shown = client.get(
        f"{S}/urn:ngsi-ld:Subscription:1",
        headers={
            "Accept": LD,
            "Link": f'<{SDM_LIGHTING}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"',
        },
    )
    assert shown.status_code == 200
    assert shown.headers["content-type"] == LD
    assert shown.json()["@context"] == SDM_LIGHTING
    assert shown.json()["jsonldContext"] == SDM_LIGHTING


def test_query_pages_with_count_and_links(client: TestClient) -> None:
    for number in range(1, 6):
        assert client.post(S, json=subscription(number)).status_code == 201
    response = client.get(S, params={"limit": 2, "offset": 1, "count": "true"})
    assert response.status_code == 200
    assert [s["id"] for s in response.json()] == ["urn:ngsi-ld:Subscription:2", "urn:ngsi-ld:Subscription:3"]
    assert response.headers["NGSILD-Results-Count"] == "5"
    assert 'rel="next"' in response.headers["Link"] and 'rel="prev"' in response.headers["Link"]
    last = client.get(f"{S}/", params={"limit": 2, "offset": 4})
    assert [s["id"] for s in last.json()] == ["urn:ngsi-ld:Subscription:5"]
    assert 'rel="next"' not in last.headers.get("Link", "")
    assert client.get(S, params={"limit": 0, "count": "true"}).headers["NGSILD-Results-Count"] == "5"


def test_subscriptions_belong_to_their_tenant(client: TestClient) -> None:
    assert client.post(S, json=subscription(), headers={"NGSILD-Tenant": "elsewhere"}).status_code == 201
    assert client.get(S).json() == []
    assert_problem(client.get(f"{S}/urn:ngsi-ld:Subscription:1"), 404, "ResourceNotFound")
    assert len(client.get(S, headers={"NGSILD-Tenant": "elsewhere"}).json()) == 1
    assert client.delete(f"{S}/urn:ngsi-ld:Subscription:1", headers={"NGSILD-Tenant": "elsewhere"}).status_code == 204


def test_duplicate_id_is_409(client: TestClient) -> None:
    client.post(S, json=subscription())
    assert_problem(client.post(S, json=subscription()), 409, "AlreadyExists")


def test_unknown_ids_are_404_and_bad_ids_400(client: TestClient) -> None:
    assert_problem(client.get(f"{S}/urn:ngsi-ld:Subscription:nope"), 404, "ResourceNotFound")
    assert_problem(
        client.patch(f"{S}/urn:ngsi-ld:Subscription:nope", json={"isActive": False}), 404, "ResourceNotFound"
    )
    assert_problem(client.delete(f"{S}/urn:ngsi-ld:Subscription:nope"), 404, "ResourceNotFound")
    assert_problem(client.get(f"{S}/not-a-uri"), 400, "BadRequestData")
    assert_problem(client.patch(f"{S}/InvalidUri", json={"isActive": False}), 400, "BadRequestData")
    assert client.patch(f"{S}/", json={"isActive": False}).status_code == 405


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "empty"),
        (subscription(notification=None), "notification"),
        (subscription(notification={"format": "keyValues"}), "endpoint"),
        (subscription(notification={"endpoint": {"uri": "nowhere"}}), "uri"),
        (subscription(throttling=5, timeInterval=10), "throttling"),
        (subscription(timeInterval=10, watchedAttributes=["power"]), "watchedAttributes"),
        (subscription(entities=[]), "entities"),
        (subscription(watchedAttributes=[]), "watchedAttributes"),
        (subscription(q="power=>"), "q"),
        (subscription(geoQ={"georel": "within", "geometry": "Polygon", "coordinates": "[[1,2]]"}), "geoQ"),
        (subscription(throttling=-3), "throttling"),
        (subscription(csf="a==1"), "csf"),
        (subscription(type="Entity"), "Subscription"),
    ],
)
def test_invalid_subscriptions_are_400_bad_request_data(client: TestClient, body: dict[str, Any], detail: str) -> None:
    problem = assert_problem(client.post(S, json=body), 400, "BadRequestData")
    assert detail in problem["detail"]


def test_malformed_json_is_invalid_request(client: TestClient) -> None:
    response = client.post(S, content=b"{not json", headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "InvalidRequest")
    assert_problem(client.post(S, content=b"[]", headers={"Content-Type": "application/json"}), 400, "BadRequestData")


def test_context_rules_apply(client: TestClient) -> None:
    # ld+json needs an @context in the body; plain json must not carry one.
    assert_problem(client.post(S, json=subscription(), headers={"Content-Type": LD}), 400, "BadRequestData")
    assert_problem(client.post(S, json={**subscription(), "@context": CORE}), 400, "BadRequestData")
    assert_problem(client.post(S, content=b"{}", headers={"Content-Type": "text/plain"}), 415)


def test_patch_changes_members_and_status(client: TestClient) -> None:
    client.post(S, json=subscription(q="power>10"))
    target = f"{S}/urn:ngsi-ld:Subscription:1"
    assert client.patch(target, json={"isActive": False, "q": None}).status_code == 204
    shown = client.get(target).json()
    assert shown["status"] == "paused" and shown["isActive"] is False and "q" not in shown
    assert client.patch(target, json={"isActive": True, "expiresAt": "2020-08-01T22:07:00Z"}).status_code == 204
    assert client.get(target).json()["status"] == "expired"
    assert client.patch(f"{target}/", json={"expiresAt": "2099-01-01T00:00:00Z"}).status_code == 204
    assert client.get(target).json()["status"] == "active"
    # A merged subscription is validated as a whole.
    assert_problem(client.patch(target, json={"timeInterval": 5, "throttling": 3}), 400, "BadRequestData")
    assert_problem(client.patch(target, json={"id": "urn:ngsi-ld:Subscription:2"}), 400, "BadRequestData")
    assert_problem(client.patch(target, json={"entities": None}), 400, "BadRequestData")
    assert client.patch(target, json={"type": "Subscription", "watchedAttributes": ["power"]}).status_code == 204
    assert client.get(target).json()["watchedAttributes"] == ["power"]


def test_delete_answers_204_then_404(client: TestClient) -> None:
    client.post(S, json=subscription())
    assert client.delete(f"{S}/urn:ngsi-ld:Subscription:1/").status_code == 204
    assert_problem(client.get(f"{S}/urn:ngsi-ld:Subscription:1"), 404, "ResourceNotFound")


def test_unknown_query_parameters_are_refused(client: TestClient) -> None:
    assert_problem(client.get(S, params={"colour": "blue"}), 400, "InvalidRequest")


def test_access_rules(secured_app: FastAPI, tenant: str) -> None:
    settings = secured_app.state.settings
    viewer, _ = issue_token(Actor("ada", tenant, frozenset({"viewer"}), USER), settings)
    operator, _ = issue_token(Actor("bob", tenant, frozenset({"operator"}), USER), settings)
    with TestClient(secured_app) as client:
        assert_problem(client.post(S, json=subscription()), 401)
        assert_problem(client.get(S), 401)
        assert_problem(client.post(S, json=subscription(), headers={"Authorization": f"Bearer {viewer}"}), 403)
        assert client.post(S, json=subscription(), headers={"Authorization": f"Bearer {operator}"}).status_code == 201
        assert client.get(S, headers={"Authorization": f"Bearer {viewer}"}).status_code == 200
        other = client.get(S, headers={"Authorization": f"Bearer {viewer}", "NGSILD-Tenant": "other"})
        assert_problem(other, 403)
