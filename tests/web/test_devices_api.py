"""The device registry API on SQLite and PostgreSQL: roles, provisioning, import, changes, commands, dead letters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from conftest import make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.core.auth.tokens import Actor, issue_token
from urbis.ingestion.messages import DeviceCommand

DEVICES = "/api/v1/devices"


@pytest.fixture
def api(db_url: str, tenant: str) -> Iterator[TestClient]:
    app: FastAPI = create_app(make_settings(db_url, tenant, ngsild_open=False))
    with TestClient(app) as client:
        yield client


def login(client: TestClient, tenant: str, *roles: str, header_tenant: str | None = None) -> dict[str, str]:
    actor = Actor(subject="someone", tenant=tenant, roles=frozenset(roles), kind="user")
    token, _ = issue_token(actor, client.app.state.settings)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}", "NGSILD-Tenant": header_tenant or tenant}


def lamp(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {"id": f"lamp-{n}", "deviceType": "streetlight-controller", **extra}


# -- who may ----------------------------------------------------------------------------------


def test_only_admins_and_operators_of_the_tenant_manage_devices(api: TestClient, tenant: str) -> None:
    assert_problem(api.post(DEVICES, json=lamp(), headers={"NGSILD-Tenant": tenant}), 401)
    assert_problem(api.get(DEVICES, headers={"NGSILD-Tenant": tenant}), 401)
    assert_problem(api.post(DEVICES, json=lamp(), headers=login(api, tenant, "viewer")), 403)
    assert_problem(api.post(DEVICES, json=lamp(), headers=login(api, tenant, "device")), 403)
    assert_problem(api.get("/api/v1/deadletters", headers=login(api, tenant, "viewer")), 403)
    assert_problem(api.post(DEVICES, json=lamp(), headers=login(api, "elsewhere", "admin", header_tenant=tenant)), 403)
    assert api.post(DEVICES, json=lamp(1), headers=login(api, tenant, "operator")).status_code == 201
    assert api.post(DEVICES, json=lamp(2), headers=login(api, tenant, "admin")).status_code == 201
    assert api.post(DEVICES, json=lamp(3), headers=login(api, "*", "admin", header_tenant=tenant)).status_code == 201
    assert api.get(DEVICES, headers=login(api, tenant, "operator")).headers["x-total-count"] == "3"


def test_the_default_tenant_applies_without_a_header(api: TestClient, tenant: str) -> None:
    headers = login(api, tenant, "operator")
    del headers["NGSILD-Tenant"]
    assert api.post(DEVICES, json=lamp(), headers=headers).status_code == 201
    assert api.get(f"{DEVICES}/lamp-1", headers=login(api, tenant, "operator")).status_code == 200


# -- provisioning -----------------------------------------------------------------------------


def test_provision_read_change_and_delete(api: TestClient, tenant: str) -> None:
    headers = login(api, tenant, "operator")
    created = api.post(
        DEVICES,
        json=lamp(
            location={"type": "Point", "coordinates": [7.1, 50.7]},
            attributes={"name": {"type": "Property", "value": "L"}},
        ),
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == "lamp-1" and len(body["token"]) >= 43
    assert body["entityId"] == "urn:ngsi-ld:Streetlight:lamp-1" and body["entityType"] == "Streetlight"
    assert body["mqttUsername"] == f"{tenant}/lamp-1" and body["enabled"] is True
    assert [m["measure"] for m in body["mapping"]] == ["on", "dim", "power", "energy", "status", "presence"]
    assert created.headers["location"] == "/api/v1/devices/lamp-1"
    shown = api.get(f"{DEVICES}/lamp-1", headers=headers).json()
    assert "token" not in shown and shown == {k: v for k, v in body.items() if k != "token"}

    patched = api.patch(f"{DEVICES}/lamp-1", json={"location": None, "entityType": "Streetlight"}, headers=headers)
    assert patched.status_code == 200 and "location" not in patched.json()
    assert_problem(api.patch(f"{DEVICES}/lamp-1", json={"id": "x"}, headers=headers), 400)
    assert_problem(api.patch(f"{DEVICES}/lamp-1", content=b"{", headers=headers), 400)

    assert api.delete(f"{DEVICES}/lamp-1", headers=headers).status_code == 204
    assert_problem(api.get(f"{DEVICES}/lamp-1", headers=headers), 404)
    assert_problem(api.delete(f"{DEVICES}/lamp-1", headers=headers), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"id": "a/b", "deviceType": "streetlight-controller"},
        {"id": "x", "deviceType": "toaster"},
        {"id": "x", "deviceType": "gateway", "entityId": "urn:ngsi-ld:X:1"},
        {"id": "x", "deviceType": "streetlight-controller", "mapping": [{"measure": "a"}]},
        {"id": "x", "deviceType": "streetlight-controller", "gatewayId": "no-such-gateway"},
        ["not", "an", "object"],
    ],
)
def test_invalid_devices_are_400(api: TestClient, tenant: str, body: Any) -> None:
    assert_problem(api.post(DEVICES, json=body, headers=login(api, tenant, "operator")), 400)


def test_duplicates_are_409(api: TestClient, tenant: str) -> None:
    headers = login(api, tenant, "operator")
    api.post(DEVICES, json=lamp(), headers=headers)
    assert_problem(api.post(DEVICES, json=lamp(), headers=headers), 409, "AlreadyExists")


def test_listing_filters_and_paging(api: TestClient, tenant: str) -> None:
    headers = login(api, tenant, "operator")
    api.post(DEVICES, json={"id": "gw-1", "deviceType": "gateway"}, headers=headers)
    for n in range(4):
        api.post(DEVICES, json=lamp(n, gatewayId="gw-1"), headers=headers)
    page = api.get(
        DEVICES, params={"deviceType": "streetlight-controller", "limit": "2", "offset": "1"}, headers=headers
    )
    assert [d["id"] for d in page.json()] == ["lamp-1", "lamp-2"] and page.headers["x-total-count"] == "4"
    assert len(api.get(DEVICES, params={"gatewayId": "gw-1"}, headers=headers).json()) == 4
    assert_problem(api.get(DEVICES, params={"color": "red"}, headers=headers), 400)
    assert_problem(api.get(DEVICES, params={"limit": "0"}, headers=headers), 400)
    assert_problem(api.get(DEVICES, params={"limit": "many"}, headers=headers), 400)
    assert_problem(api.get(DEVICES, params={"deviceType": "toaster"}, headers=headers), 400)
    assert_problem(api.delete(f"{DEVICES}/gw-1", headers=headers), 409)


def test_tokens_rotate_and_devices_revoke(api: TestClient, tenant: str) -> None:
    headers = login(api, tenant, "operator")
    old = api.post(DEVICES, json=lamp(), headers=headers).json()["token"]
    url = f"/api/v1/ingest/{tenant}/devices/lamp-1"
    assert api.post(url, json={"dim": 1}, headers={"Authorization": f"Bearer {old}"}).status_code == 200
    rotated = api.post(f"{DEVICES}/lamp-1/token", headers=headers)
    new = rotated.json()["token"]
    assert rotated.status_code == 200 and new != old
    assert_problem(api.post(url, json={"dim": 1}, headers={"Authorization": f"Bearer {old}"}), 401)
    assert api.post(url, json={"dim": 1}, headers={"Authorization": f"Bearer {new}"}).status_code == 200
    assert api.post(f"{DEVICES}/lamp-1/revoke", headers=headers).json()["enabled"] is False
    assert_problem(api.post(url, json={"dim": 1}, headers={"Authorization": f"Bearer {new}"}), 403)
    assert api.post(f"{DEVICES}/lamp-1/enable", headers=headers).json()["enabled"] is True
    assert api.post(url, json={"dim": 1}, headers={"Authorization": f"Bearer {new}"}).status_code == 200
    assert_problem(api.post(f"{DEVICES}/lamp-9/token", headers=headers), 404)


# -- bulk import ------------------------------------------------------------------------------


def test_csv_import_of_thousands_of_devices(api: TestClient, tenant: str) -> None:
    headers = login(api, tenant, "operator")
    rows = ["id,deviceType,entityId,entityType,gatewayId,longitude,latitude,name,district"]
    rows.append("gw-1,gateway,,,,,,,")
    rows += [f"lamp-{n},streetlight-controller,,,gw-1,7.{n},50.7,Lamp {n},Nord" for n in range(6000)]
    rows += ["lamp-5,streetlight-controller,,,,,,,", "bad id,gateway,,,,,,,"]
    started = time.perf_counter()
    response = api.post(
        f"{DEVICES}/import",
        content="\n".join(rows).encode(),
        headers={**headers, "Content-Type": "text/csv; charset=utf-8"},
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text
    result = response.json()
    assert len(result["created"]) == 6001
    assert [(e["row"], e["line"]) for e in result["errors"]] == [(6002, 6003), (6003, 6004)]
    assert (
        api.get(DEVICES, params={"gatewayId": "gw-1", "limit": "1"}, headers=headers).headers["x-total-count"] == "6000"
    )
    lamp_7 = api.get(f"{DEVICES}/lamp-7", headers=headers).json()
    assert lamp_7["attributes"] == {
        "name": {"type": "Property", "value": "Lamp 7"},
        "district": {"type": "Property", "value": "Nord"},
    }
    tokens = {c["id"]: c["token"] for c in result["created"]}
    measured = api.post(
        f"/api/v1/ingest/{tenant}/gateways/gw-1",
        json={"lamp-7": [{"dim": 20}]},
        headers={"Authorization": f"Bearer {tokens['gw-1']}"},
    )
    assert measured.json() == {"accepted": 1, "rejected": []}
    print(f"imported 6001 devices in {elapsed:.2f} s")


def test_json_import_and_media_types(api: TestClient, tenant: str) -> None:
    headers = login(api, tenant, "operator")
    response = api.post(f"{DEVICES}/import", json=[lamp(1), lamp(2, deviceType="nope"), "x"], headers=headers)
    assert response.status_code == 201
    assert [c["id"] for c in response.json()["created"]] == ["lamp-1"]
    assert [e["row"] for e in response.json()["errors"]] == [2, 3]
    assert_problem(
        api.post(f"{DEVICES}/import", content=b"id\n", headers={**headers, "Content-Type": "text/plain"}), 415
    )
    assert_problem(api.post(f"{DEVICES}/import", json={"id": "x"}, headers=headers), 400)
    assert_problem(
        api.post(f"{DEVICES}/import", content=b"\xff\xfe", headers={**headers, "Content-Type": "text/csv"}), 400
    )
    assert_problem(
        api.post(f"{DEVICES}/import", content=b"name\nx\n", headers={**headers, "Content-Type": "text/csv"}), 400
    )


# -- commands ---------------------------------------------------------------------------------


def test_commands_through_the_registry(api: TestClient, tenant: str) -> None:
    headers = login(api, tenant, "operator")
    api.post(DEVICES, json=lamp(), headers=headers)
    published: list[DeviceCommand] = []
    api.app.state.bus.subscribe(DeviceCommand, published.append)  # type: ignore[attr-defined]
    sent = api.post(
        f"{DEVICES}/lamp-1/commands", json={"command": "setDimLevel", "params": {"level": 40}}, headers=headers
    )
    assert sent.status_code == 202
    assert sent.json()["status"] == "pending" and sent.json()["command"] == "setDimLevel"
    assert published == [DeviceCommand(tenant, "lamp-1", "setDimLevel", {"level": 40}, sent.json()["id"])]
    listed = api.get(f"{DEVICES}/lamp-1/commands", headers=headers).json()
    assert [c["id"] for c in listed] == [sent.json()["id"]]
    assert_problem(api.post(f"{DEVICES}/lamp-1/commands", json={"command": "x y"}, headers=headers), 400)
    assert_problem(api.post(f"{DEVICES}/lamp-1/commands", json={"cmd": "x"}, headers=headers), 400)
    assert_problem(api.post(f"{DEVICES}/lamp-2/commands", json={"command": "x"}, headers=headers), 404)
    assert_problem(
        api.post(f"{DEVICES}/lamp-1/commands", json={"command": "x"}, headers=login(api, tenant, "viewer")), 403
    )


# -- dead letters -----------------------------------------------------------------------------


def test_dead_letters_can_be_listed_read_and_discarded(api: TestClient, tenant: str) -> None:
    headers = login(api, tenant, "operator")
    token = api.post(DEVICES, json=lamp(), headers=headers).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    api.post(f"/api/v1/ingest/{tenant}/devices/lamp-1", content=b"{broken", headers=auth)
    api.post(f"/api/v1/ingest/{tenant}/devices/lamp-1", json={"dim": 500}, headers=auth)
    api.post(f"/api/v1/ingest/{tenant}/devices/ghost", json={"dim": 5}, headers=auth)
    listed = api.get("/api/v1/deadletters", headers=headers)
    assert listed.status_code == 200 and listed.headers["x-total-count"] == "3"
    assert [
        d["reason"] for d in api.get("/api/v1/deadletters", params={"deviceId": "lamp-1"}, headers=headers).json()
    ] in (
        ["out-of-range", "malformed"],
        ["malformed", "out-of-range"],
    )
    (malformed,) = api.get("/api/v1/deadletters", params={"reason": "malformed"}, headers=headers).json()
    assert malformed["payload"] == "{broken" and malformed["transport"] == "http" and malformed["deviceId"] == "lamp-1"
    one = api.get(f"/api/v1/deadletters/{malformed['id']}", headers=headers)
    assert one.status_code == 200 and one.json() == malformed
    assert len(api.get("/api/v1/deadletters", params={"since": "2000-01-01T00:00:00Z"}, headers=headers).json()) == 3
    assert api.get("/api/v1/deadletters", params={"since": "2999-01-01T00:00:00+01:00"}, headers=headers).json() == []
    assert_problem(api.get("/api/v1/deadletters", params={"since": "yesterday"}, headers=headers), 400)
    assert_problem(api.get("/api/v1/deadletters", params={"since": "2026-01-01T00:00:00"}, headers=headers), 400)
    assert_problem(api.get("/api/v1/deadletters", params={"reason": "boredom"}, headers=headers), 400)
    assert api.delete(f"/api/v1/deadletters/{malformed['id']}", headers=headers).status_code == 204
    assert_problem(api.get(f"/api/v1/deadletters/{malformed['id']}", headers=headers), 404)
    assert_problem(api.delete(f"/api/v1/deadletters/{malformed['id']}", headers=headers), 404)
    other = login(api, tenant + "o", "operator")
    assert api.get("/api/v1/deadletters", headers=other).json() == []


# -- properties -------------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
_PLAUSIBLE = {
    "id": st.text(max_size=12) | st.sampled_from(["lamp-1", "gw-1"]),
    "deviceType": st.sampled_from(["streetlight-controller", "gateway", "air-quality-station", "x"]),
    "entityId": st.text(max_size=20).map(lambda s: f"urn:ngsi-ld:Streetlight:{s}") | _SCALARS,
    "entityType": st.text(max_size=12),
    "gatewayId": st.sampled_from(["gw-1", "lamp-1"]) | _SCALARS,
    "location": st.fixed_dictionaries({"type": st.sampled_from(["Point", "Polygon"]), "coordinates": _JSON}) | _JSON,
    "attributes": st.dictionaries(
        st.text(max_size=8), st.fixed_dictionaries({"type": st.text(max_size=10), "value": _JSON}) | _JSON, max_size=3
    ),
    "mapping": st.lists(
        st.dictionaries(st.sampled_from(["measure", "attribute", "scale", "min", "max", "kind", "values"]), _JSON),
        max_size=3,
    ),
}
_DEVICE_BODIES = st.fixed_dictionaries({}, optional={**_PLAUSIBLE, "enabled": _JSON}) | _JSON


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=_DEVICE_BODIES,
    path_id=st.text(max_size=16),
    query=st.dictionaries(
        st.sampled_from(["deviceType", "gatewayId", "entityId", "deviceId", "reason", "since", "limit", "offset", "x"]),
        st.text(max_size=10),
        max_size=3,
    ),
    csv_text=st.text(max_size=120),
)
def test_the_registry_answers_bad_input_with_4xx(
    api: TestClient, tenant: str, body: Any, path_id: str, query: dict[str, str], csv_text: str
) -> None:
    headers = login(api, tenant, "operator")
    json_headers = {**headers, "Content-Type": "application/json"}
    device = quote(path_id, safe="")
    responses = [
        api.post(DEVICES, content=orjson.dumps(body), headers=json_headers),
        api.patch(f"{DEVICES}/lamp-1", content=orjson.dumps(body), headers=json_headers),
        api.patch(f"{DEVICES}/{device}", content=orjson.dumps(body), headers=json_headers),
        api.get(f"{DEVICES}/{device}", headers=headers),
        api.post(f"{DEVICES}/{device}/commands", content=orjson.dumps(body), headers=json_headers),
        api.get(DEVICES, params=query, headers=headers),
        api.get("/api/v1/deadletters", params=query, headers=headers),
        api.get(f"/api/v1/deadletters/{device}", headers=headers),
        api.post(f"{DEVICES}/import", content=csv_text.encode(), headers={**headers, "Content-Type": "text/csv"}),
        api.post(f"{DEVICES}/import", content=orjson.dumps([body]), headers=json_headers),
        api.post(
            f"/api/v1/ingest/{tenant}/devices/{device}",
            content=orjson.dumps(body),
            headers={"Authorization": "Bearer x"},
        ),
        api.get(f"/api/v1/ingest/{tenant}/devices/{device}/commands", headers={"Authorization": "Bearer x"}),
    ]
    for response in responses:
        assert response.status_code < 500, (response.request.method, response.request.url, response.text)
        if response.status_code >= 400:
            assert_problem(response, response.status_code)
