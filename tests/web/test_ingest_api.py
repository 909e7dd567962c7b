"""HTTP ingestion end to end on SQLite and PostgreSQL: device tokens, measures into the NGSI-LD entity, rejections.

Devices are provisioned through the registry API; what they send is checked through the
NGSI-LD API (current values) and the dead-letter API.  Property tests throw arbitrary
payloads at the endpoints: never a 5xx, bad input dead-lettered, valid measures kept.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

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

LINK = '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


@pytest.fixture
def api(db_url: str, tenant: str) -> Iterator[TestClient]:
    """An app with access control on and a small measure limit; the NGSI-LD API reads with an operator token."""
    app: FastAPI = create_app(make_settings(db_url, tenant, ngsild_open=False, ingest_max_measures=200))
    with TestClient(app) as client:
        yield client


def operator(client: TestClient, tenant: str) -> dict[str, str]:
    actor = Actor(subject="op", tenant=tenant, roles=frozenset({"operator"}), kind="user")
    token, _ = issue_token(actor, client.app.state.settings)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}", "NGSILD-Tenant": tenant}


def provision(client: TestClient, tenant: str, body: dict[str, Any]) -> str:
    response = client.post("/api/v1/devices", json=body, headers=operator(client, tenant))
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def entity(client: TestClient, tenant: str, entity_id: str) -> dict[str, Any]:
    response = client.get(f"/ngsi-ld/v1/entities/{entity_id}", headers={**operator(client, tenant), "Link": LINK})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def deadletters(client: TestClient, tenant: str, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/deadletters", params={"limit": "1000", **params}, headers=operator(client, tenant))
    assert response.status_code == 200, response.text
    letters: list[dict[str, Any]] = response.json()
    return letters


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- single devices ---------------------------------------------------------------------------


def test_measures_reach_the_entity(api: TestClient, tenant: str) -> None:
    token = provision(
        api,
        tenant,
        {
            "id": "lamp-0001",
            "deviceType": "streetlight-controller",
            "location": {"type": "Point", "coordinates": [7.1, 50.73]},
            "attributes": {"name": {"type": "Property", "value": "Lamp 1"}},
        },
    )
    observed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    response = api.post(
        f"/api/v1/ingest/{tenant}/devices/lamp-0001",
        json={"ts": iso(observed), "dim": 57, "on": True, "power": 31.5},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 3, "rejected": []}
    body = entity(api, tenant, "urn:ngsi-ld:Streetlight:lamp-0001")
    assert body["type"] == "Streetlight"
    assert body["illuminanceLevel"]["value"] == 0.57
    assert body["illuminanceLevel"]["unitCode"] == "P1"
    assert body["illuminanceLevel"]["observedAt"].startswith(observed.strftime("%Y-%m-%dT%H:%M:%S"))
    assert body["powerState"]["value"] == "on"
    assert body["powerConsumption"]["value"] == 31.5 and body["powerConsumption"]["unitCode"] == "WTT"
    assert body["location"]["value"] == {"type": "Point", "coordinates": [7.1, 50.73]}
    assert body["name"]["value"] == "Lamp 1"


def test_an_array_of_measures_and_rejections_beside_them(api: TestClient, tenant: str) -> None:
    token = provision(api, tenant, {"id": "aq-1", "deviceType": "air-quality-station"})
    earlier = datetime.now(UTC) - timedelta(minutes=10)
    response = api.post(
        f"/api/v1/ingest/{tenant}/devices/aq-1",
        json=[
            {"ts": iso(earlier), "pm25": 10, "no2": 30},
            {"ts": int((earlier + timedelta(minutes=5)).timestamp() * 1000), "pm25": 12.5, "humidity": 55},
            {"pm25": -3, "o3": "high", "radon": 1},
            {"ts": iso(datetime.now(UTC) + timedelta(hours=1)), "pm25": 1},
        ],
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 4
    assert [(r["index"], r["measure"], r["reason"]) for r in result["rejected"]] == [
        (2, "pm25", "out-of-range"),
        (2, "o3", "wrong-type"),
        (2, "radon", "unknown-measure"),
        (3, "ts", "future-timestamp"),
    ]
    body = entity(api, tenant, "urn:ngsi-ld:AirQualityObserved:aq-1")
    assert body["pm25"]["value"] == 12.5  # the newest valid value, not the refused -3
    assert body["no2"]["value"] == 30 and body["relativeHumidity"]["value"] == 0.55
    reasons = sorted(d["reason"] for d in deadletters(api, tenant, deviceId="aq-1"))
    assert reasons == ["future-timestamp", "out-of-range", "unknown-measure", "wrong-type"]


def test_refused_requests(api: TestClient, tenant: str) -> None:
    token = provision(api, tenant, {"id": "lamp-1", "deviceType": "streetlight-controller"})
    url = f"/api/v1/ingest/{tenant}/devices/lamp-1"
    bad = api.post(url, json={"dim": 1}, headers=bearer("not-the-token"))
    assert_problem(bad, 401, "Unauthenticated")
    assert bad.headers["www-authenticate"].startswith("Bearer")
    assert_problem(api.post(url, json={"dim": 1}), 401)
    # A user token is no device token, whatever its roles.
    assert_problem(
        api.post(url, json={"dim": 1}, headers={"Authorization": operator(api, tenant)["Authorization"]}), 401
    )
    assert_problem(api.post(f"/api/v1/ingest/{tenant}/devices/lamp-2", json={"dim": 1}, headers=bearer(token)), 404)
    assert_problem(api.post(url, content=b"{oops", headers=bearer(token)), 400, "InvalidRequest")
    assert_problem(api.post(url, content=b'"text"', headers=bearer(token)), 400)
    assert_problem(api.post(url, json=[{"dim": 1, "power": 1}] * 101, headers=bearer(token)), 413)
    assert_problem(api.post("/api/v1/ingest/bad tenant!/devices/lamp-1", json={}, headers=bearer(token)), 400)
    # Another tenant's device of the same id does not exist.
    assert_problem(api.post(f"/api/v1/ingest/{tenant}x/devices/lamp-1", json={"dim": 1}, headers=bearer(token)), 404)
    api.post("/api/v1/devices/lamp-1/revoke", headers=operator(api, tenant))
    assert_problem(api.post(url, json={"dim": 1}, headers=bearer(token)), 403)
    reasons = sorted(d["reason"] for d in deadletters(api, tenant))
    assert reasons == ["bad-token"] * 3 + ["malformed"] * 3 + ["revoked", "unknown-device"]
    assert [d["reason"] for d in deadletters(api, tenant + "x")] == ["unknown-device"]  # under the tenant it named


def test_body_size_limit(db_url: str, tenant: str) -> None:
    app = create_app(make_settings(db_url, tenant, max_body_bytes=1024))
    with TestClient(app) as client:
        token = provision(client, tenant, {"id": "lamp-1", "deviceType": "streetlight-controller"})
        response = client.post(
            f"/api/v1/ingest/{tenant}/devices/lamp-1", content=b"[" + b"{}," * 600 + b"{}]", headers=bearer(token)
        )
        assert_problem(response, 413)


# -- gateways ---------------------------------------------------------------------------------


def test_gateway_batch(api: TestClient, tenant: str) -> None:
    gateway = provision(api, tenant, {"id": "gw-north", "deviceType": "gateway"})
    for n in range(3):
        provision(api, tenant, {"id": f"lamp-{n}", "deviceType": "streetlight-controller", "gatewayId": "gw-north"})
    provision(api, tenant, {"id": "bay-1", "deviceType": "parking-bay-sensor", "gatewayId": "gw-north"})
    other = provision(api, tenant, {"id": "lamp-x", "deviceType": "streetlight-controller"})
    response = api.post(
        f"/api/v1/ingest/{tenant}/gateways/gw-north",
        json={
            "lamp-0": [{"dim": 40, "power": 31.5}],
            "lamp-1": [{"dim": 100}, {"dim": 101}],
            "bay-1": {"occupied": True},
            "lamp-x": [{"dim": 1}],
        },
        headers=bearer(gateway),
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 4
    assert [(r["device"], r["index"], r["reason"]) for r in result["rejected"]] == [
        ("lamp-1", 1, "out-of-range"),
        ("lamp-x", None, "not-a-gateway-member"),
    ]
    assert entity(api, tenant, "urn:ngsi-ld:Streetlight:lamp-0")["illuminanceLevel"]["value"] == 0.4
    assert entity(api, tenant, "urn:ngsi-ld:Streetlight:lamp-1")["illuminanceLevel"]["value"] == 1.0
    assert entity(api, tenant, "urn:ngsi-ld:ParkingSpot:bay-1")["status"]["value"] == "occupied"
    # The gateway's token is not a device's token, and a device cannot post as a gateway.
    assert_problem(api.post(f"/api/v1/ingest/{tenant}/devices/lamp-0", json={"dim": 1}, headers=bearer(gateway)), 401)
    assert_problem(api.post(f"/api/v1/ingest/{tenant}/gateways/lamp-x", json={}, headers=bearer(other)), 404)
    assert_problem(api.post(f"/api/v1/ingest/{tenant}/gateways/gw-north", json=[1], headers=bearer(gateway)), 400)


# -- commands for HTTP devices ----------------------------------------------------------------


def test_http_devices_poll_and_acknowledge_commands(api: TestClient, tenant: str) -> None:
    token = provision(api, tenant, {"id": "lamp-1", "deviceType": "streetlight-controller"})
    manager = operator(api, tenant)
    sent = api.post(
        "/api/v1/devices/lamp-1/commands", json={"command": "setDimLevel", "params": {"level": 40}}, headers=manager
    )
    assert sent.status_code == 202 and sent.json()["status"] == "pending"
    command_id = sent.json()["id"]
    polled = api.get(f"/api/v1/ingest/{tenant}/devices/lamp-1/commands", headers=bearer(token))
    assert polled.status_code == 200
    assert polled.json() == [{"id": command_id, "command": "setDimLevel", "params": {"level": 40}}]
    assert api.get(f"/api/v1/ingest/{tenant}/devices/lamp-1/commands", headers=bearer(token)).json() == []
    assert_problem(api.get(f"/api/v1/ingest/{tenant}/devices/lamp-1/commands", headers=bearer("nope")), 401)
    ack_url = f"/api/v1/ingest/{tenant}/devices/lamp-1/commands/{command_id}"
    acked = api.post(ack_url, json={"status": "OK", "result": {"level": 40}}, headers=bearer(token))
    assert acked.status_code == 200 and acked.json()["status"] == "ok"
    assert_problem(api.post(ack_url, json={"status": "ERROR"}, headers=bearer(token)), 409)
    assert_problem(api.post(ack_url, json={"status": "PERHAPS"}, headers=bearer(token)), 400)
    assert_problem(api.post(ack_url + "x", json={"status": "OK"}, headers=bearer(token)), 404)
    listed = api.get("/api/v1/devices/lamp-1/commands", headers=manager).json()
    assert [(c["id"], c["status"], c["result"]) for c in listed] == [(command_id, "ok", {"level": 40})]


# -- metrics ----------------------------------------------------------------------------------


def test_ingestion_counters_appear_at_metrics(api: TestClient, tenant: str) -> None:
    token = provision(api, tenant, {"id": "lamp-1", "deviceType": "streetlight-controller"})
    api.post(f"/api/v1/ingest/{tenant}/devices/lamp-1", json={"dim": 1, "power": 3000}, headers=bearer(token))
    text = api.get("/metrics").text
    assert 'urbis_ingest_measures_total{outcome="accepted",transport="http"} 1.0' in text
    assert 'urbis_ingest_measures_total{outcome="rejected",transport="http"} 1.0' in text
    assert 'urbis_ingest_messages_total{transport="http"} 1.0' in text
    assert 'urbis_deadletters_total{reason="out-of-range"} 1.0' in text


# -- properties -------------------------------------------------------------------------------

_VALID_DIM = st.integers(0, 100)
_VALID_POWER = st.floats(0, 2000, allow_nan=False)
_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)


def _expected_valid(entry: dict[str, Any]) -> int:
    """An independent oracle: how many of the entry's measures are valid (dim/power only; ts absent)."""
    valid = 0
    for key, value in entry.items():
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if (key == "dim" and is_number and 0 <= value / 100 <= 1) or (
            key == "power" and is_number and 0 <= value <= 2000
        ):
            valid += 1
    return valid


_ENTRIES = st.lists(
    st.dictionaries(
        st.sampled_from(["dim", "power", "volume", "on", "status"])
        | st.text(min_size=1, max_size=5).filter(lambda k: k != "ts"),
        st.one_of(_VALID_DIM, _VALID_POWER, _ANY_VALUE),
        max_size=5,
    ),
    min_size=1,
    max_size=8,
)


@pytest.fixture
def fuzz_target(api: TestClient, tenant: str) -> tuple[TestClient, str, str]:
    token = provision(api, tenant, {"id": f"lamp-{uuid.uuid4().hex[:6]}", "deviceType": "streetlight-controller"})
    device_id = api.get("/api/v1/devices", headers=operator(api, tenant)).json()[0]["id"]
    return api, device_id, token


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=_ENTRIES)
def test_valid_measures_are_kept_and_bad_ones_dead_lettered(
    fuzz_target: tuple[TestClient, str, str], tenant: str, entries: list[dict[str, Any]]
) -> None:
    api, device_id, token = fuzz_target
    # Keep only the measure types the oracle knows for dim/power; other keys are refused by the mapping
    # (unknown, or a wrong type for on/status), which the oracle counts as not valid.
    before = len(deadletters(api, tenant, deviceId=device_id))
    response = api.post(f"/api/v1/ingest/{tenant}/devices/{device_id}", json=entries, headers=bearer(token))
    assert response.status_code == 200, response.text
    result = response.json()
    on_status_valid = sum(
        1
        for entry in entries
        for key, value in entry.items()
        if (key == "on" and isinstance(value, bool)) or (key == "status" and isinstance(value, str))
    )
    expected = sum(_expected_valid(e) for e in entries) + on_status_valid
    assert result["accepted"] == expected
    total = sum(len(e) for e in entries)
    assert len(result["rejected"]) == total - expected
    after = len(deadletters(api, tenant, deviceId=device_id))
    assert (after > before) == bool(result["rejected"])


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            _ANY_VALUE,
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
            max_leaves=12,
        ).map(orjson.dumps),
    ),
    gateway=st.booleans(),
)
def test_arbitrary_payloads_never_cause_server_errors(
    fuzz_target: tuple[TestClient, str, str], tenant: str, payload: bytes, gateway: bool
) -> None:
    api, device_id, token = fuzz_target
    before = len(deadletters(api, tenant))
    kind = "gateways" if gateway else "devices"
    response = api.post(f"/api/v1/ingest/{tenant}/{kind}/{device_id}", content=payload, headers=bearer(token))
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        result = response.json()
        assert result["accepted"] >= 0
        assert (len(deadletters(api, tenant)) > before) == bool(result["rejected"])
    else:
        assert_problem(response, response.status_code)
        assert response.status_code in (400, 404)
        assert len(deadletters(api, tenant)) == before + 1  # the refused message is kept for inspection


def test_nul_characters_never_reach_the_database(api: TestClient, tenant: str) -> None:
    """PostgreSQL text cannot hold NUL: such ids are unknown, and the dead letter shows them escaped."""
    token = provision(api, tenant, {"id": "lamp-1", "deviceType": "streetlight-controller"})
    assert_problem(api.post(f"/api/v1/ingest/{tenant}/devices/lamp%00x", json={"dim": 1}, headers=bearer(token)), 404)
    assert [d["deviceId"] for d in deadletters(api, tenant)] == ["lamp\\x00x"]
    assert_problem(api.get("/api/v1/deadletters", params={"deviceId": "a\x00"}, headers=operator(api, tenant)), 400)
    assert_problem(
        api.post(f"/api/v1/ingest/{tenant}/devices/lamp-1/commands/c%00", json={"status": "OK"}, headers=bearer(token)),
        404,
    )


# -- MQTT, through the real broker and the app's bridge ----------------------------------------


def test_mqtt_uplinks_commands_and_acknowledgements(db_url: str, tenant: str) -> None:
    from conftest import need_service
    from mqtt_broker import broker_unavailable, publisher, wait_until

    need_service(broker_unavailable())
    prefix = f"t{uuid.uuid4().hex[:8]}"
    settings = make_settings(
        db_url,
        tenant,
        ngsild_open=False,
        mqtt_url="mqtt://127.0.0.1:1883",
        mqtt_topic_prefix=prefix,
        mqtt_client_id=f"urbis-{prefix}",
    )
    with TestClient(create_app(settings)) as api:
        manager = operator(api, tenant)
        provision(api, tenant, {"id": "lamp-1", "deviceType": "streetlight-controller"})
        assert api.app.state.mqtt[0].wait_connected(10)  # type: ignore[attr-defined]
        device = publisher()
        try:
            device.publish(f"{prefix}/{tenant}/lamp-1/attrs", b'[{"dim": 30}, {"dim": 300}]', qos=1).wait_for_publish(5)
            device.publish(f"{prefix}/{tenant}/ghost/attrs", b'{"dim": 30}', qos=1).wait_for_publish(5)

            def stored() -> bool:
                response = api.get(
                    "/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:lamp-1", headers={**manager, "Link": LINK}
                )
                return response.status_code == 200

            assert wait_until(stored)
            assert entity(api, tenant, "urn:ngsi-ld:Streetlight:lamp-1")["illuminanceLevel"]["value"] == 0.3
            assert wait_until(lambda: len(deadletters(api, tenant)) == 2)
            assert sorted((d["deviceId"], d["reason"], d["transport"]) for d in deadletters(api, tenant)) == [
                ("ghost", "unknown-device", "mqtt"),
                ("lamp-1", "out-of-range", "mqtt"),
            ]
            received: list[bytes] = []
            device.on_message = lambda _c, _u, message: received.append(bytes(message.payload))
            subscribed = threading.Event()
            device.on_subscribe = lambda *_args: subscribed.set()
            device.subscribe(f"{prefix}/{tenant}/lamp-1/cmd", qos=1)
            assert subscribed.wait(10)
            command = api.post("/api/v1/devices/lamp-1/commands", json={"command": "switchOff"}, headers=manager).json()
            assert wait_until(lambda: received != [])
            assert orjson.loads(received[0]) == {"id": command["id"], "command": "switchOff", "params": {}}

            def status() -> str:
                listed: list[dict[str, Any]] = api.get("/api/v1/devices/lamp-1/commands", headers=manager).json()
                return str(listed[0]["status"])

            # Handed to the broker is not yet received by the device: pending until the device answers.
            assert status() == "pending"
            ack = orjson.dumps({"id": command["id"], "status": "OK", "result": "off"})
            device.publish(f"{prefix}/{tenant}/lamp-1/cmdexe", ack, qos=1).wait_for_publish(5)
            assert wait_until(lambda: status() == "ok")
        finally:
            device.disconnect()
            device.loop_stop()
