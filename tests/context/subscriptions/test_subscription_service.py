"""Subscriptions end to end inside one app: real HTTP receivers, the real Mosquitto, both databases.

Every test drives a full app (its background workers running) with a real receiver, and waits for
notifications with a deadline instead of sleeping.  Absence is shown with a sentinel: a later
notification on the same subscription (lanes keep order) or on another one is waited for, then
the earlier one is checked to be missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from notification_receivers import HttpReceiver, MqttListener, http_receiver, mosquitto_unavailable, wait_until

from conftest import make_settings, need_service
from urbis.app import create_app
from urbis.context.subscriptions.service import SubscriptionService

E = "/ngsi-ld/v1/entities"
S = "/ngsi-ld/v1/subscriptions"
CORE_LINK = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(db_url: str, tenant: str) -> Iterator[MakeClient]:
    """Apps with running workers on the test database; quick retries so failures show fast."""
    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {"notification_backoff": 0.05, "notification_timeout": 5.0}
        values.update(overrides)
        client = TestClient(create_app(make_settings(db_url, tenant, **values)))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as found:
        yield found


def subscribe(client: TestClient, uri: str, **members: Any) -> str:
    notification = members.pop("notification", {})
    body: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Streetlight"}],
        "notification": {**notification, "endpoint": {"uri": uri, **notification.pop("endpoint", {})}},
    }
    body.update(members)
    response = client.post(S, json=body)
    assert response.status_code == 201, response.text
    return response.headers["Location"].rsplit("/", 1)[1]


def light(number: int, **attrs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": f"urn:ngsi-ld:Streetlight:{number}", "type": "Streetlight"}
    for name, value in attrs.items():
        if name == "location":
            body[name] = {"type": "GeoProperty", "value": value}
        else:
            body[name] = {"type": "Property", "value": value}
    return body


def create(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post(E, json=body)
    assert response.status_code == 201, response.text


def update(client: TestClient, number: int, **attrs: Any) -> None:
    fragment = {name: {"type": "Property", "value": value} for name, value in attrs.items()}
    response = client.patch(f"{E}/urn:ngsi-ld:Streetlight:{number}/attrs", json=fragment)
    assert response.status_code == 204, response.text


def params_of(client: TestClient, subscription_id: str) -> dict[str, Any]:
    response = client.get(f"{S}/{subscription_id}")
    assert response.status_code == 200, response.text
    notification: dict[str, Any] = response.json()["notification"]
    return notification


def wait_params(client: TestClient, subscription_id: str, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The subscription's notification parameters once ``ready`` holds for them (polled with a deadline)."""
    found: dict[str, Any] = wait_until(lambda: p if ready(p := params_of(client, subscription_id)) else None)
    return found


# ---------------------------------------------------------------------------- payloads


def test_notification_shape_and_headers(client: TestClient, receiver: HttpReceiver, tenant: str) -> None:
    subscription_id = subscribe(client, receiver.url)
    create(client, light(1, power=30))
    [got] = receiver.wait_for(1)
    body = got.body
    assert set(body) == {"id", "type", "subscriptionId", "notifiedAt", "data", "triggerReason"}
    assert body["type"] == "Notification" and body["id"].startswith("urn:ngsi-ld:Notification:")
    assert body["subscriptionId"] == subscription_id
    assert body["notifiedAt"].endswith("Z")
    assert body["triggerReason"] == "attributeCreated"
    assert body["data"] == [
        {"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", "power": {"type": "Property", "value": 30}}
    ]
    assert got.header("NGSILD-Tenant") == tenant
    assert got.header("Content-Type") == "application/json"
    assert CORE_LINK in (got.header("Link") or "")


def test_json_ld_receivers_get_the_context_in_the_body(client: TestClient, receiver: HttpReceiver) -> None:
    subscribe(client, receiver.url, notification={"endpoint": {"accept": "application/ld+json"}})
    create(client, light(1, power=30))
    [got] = receiver.wait_for(1)
    assert got.header("Content-Type") == "application/ld+json"
    assert got.header("Link") is None
    assert got.body["@context"] == CORE_LINK


def test_receiver_info_travels_as_headers(client: TestClient, receiver: HttpReceiver) -> None:
    subscribe(
        client, receiver.url, notification={"endpoint": {"receiverInfo": [{"key": "X-City-Key", "value": "bonn-42"}]}}
    )
    create(client, light(1, power=30))
    [got] = receiver.wait_for(1)
    assert got.header("X-City-Key") == "bonn-42"


def test_formats_and_attribute_projection(client: TestClient) -> None:
    with http_receiver() as key_values, http_receiver() as concise:
        subscribe(client, key_values.url, notification={"format": "keyValues", "attributes": ["power"]})
        subscribe(client, concise.url, notification={"format": "concise"})
        create(client, light(1, power=30, dim=80))
        assert key_values.wait_for(1)[0].body["data"] == [
            {"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", "power": 30}
        ]
        assert concise.wait_for(1)[0].body["data"] == [
            {"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", "power": 30, "dim": 80}
        ]


def test_q_and_geo_q_select_the_entities(client: TestClient, receiver: HttpReceiver) -> None:
    subscribe(
        client,
        receiver.url,
        q="power>10",
        geoQ={"georel": "near;maxDistance==1000", "geometry": "Point", "coordinates": [7.1, 50.73]},
        notification={"format": "keyValues"},
    )
    bonn = {"type": "Point", "coordinates": [7.101, 50.731]}
    cologne = {"type": "Point", "coordinates": [6.96, 50.94]}
    create(client, light(1, power=5, location=bonn))  # q fails
    create(client, light(2, power=50, location=cologne))  # too far
    create(client, light(3, power=50, location=bonn))  # the sentinel: both hold
    got = receiver.wait_for(1)
    wait_until(
        lambda: client.get(E, params={"type": "Streetlight", "count": "true"}).headers["NGSILD-Results-Count"] == "3"
    )
    update(client, 3, power=60)  # a second notification: anything before it has arrived by then
    got = receiver.wait_for(2)
    assert [r.body["data"][0]["id"] for r in got] == ["urn:ngsi-ld:Streetlight:3"] * 2


def test_watched_attributes_fire_only_for_them(client: TestClient, receiver: HttpReceiver) -> None:
    subscribe(client, receiver.url, watchedAttributes=["power"], notification={"format": "keyValues"})
    create(client, light(1, power=1, dim=10))
    receiver.wait_for(1)
    update(client, 1, dim=20)
    update(client, 1, power=2)
    got = receiver.wait_for(2)
    assert [r.body["data"][0]["power"] for r in got] == [1, 2]
    assert len(receiver.received) == 2


def test_entity_created_and_deleted_triggers(client: TestClient, receiver: HttpReceiver) -> None:
    subscribe(client, receiver.url, notificationTrigger=["entityCreated", "entityDeleted"])
    create(client, light(1, power=1))
    update(client, 1, power=2)  # no trigger for this
    assert client.delete(f"{E}/urn:ngsi-ld:Streetlight:1").status_code == 204
    got = receiver.wait_for(2)
    assert [r.body["triggerReason"] for r in got] == ["entityCreated", "entityDeleted"]
    deleted = got[1].body["data"][0]
    assert deleted["id"] == "urn:ngsi-ld:Streetlight:1" and "deletedAt" in deleted
    assert deleted["power"] == {"type": "Property", "value": "urn:ngsi-ld:null"}


# ---------------------------------------------------------------------------- timing rules


def test_throttling_coalesces_changes_and_sends_the_latest(client: TestClient, receiver: HttpReceiver) -> None:
    subscribe(client, receiver.url, throttling=2, notification={"format": "keyValues"})
    create(client, light(1, power=1))
    for value in (2, 3, 4, 5):
        update(client, 1, power=value)
    got = receiver.wait_for(2)
    update(client, 1, power=6)
    got = receiver.wait_for(3)
    # The first at once, the four updates as one (the latest state), then the next change.
    assert [r.body["data"][0]["power"] for r in got] == [1, 5, 6]


def test_time_interval_sends_periodically(client: TestClient, receiver: HttpReceiver) -> None:
    create(client, light(1, power=1))
    create(client, light(2, power=2))
    subscription_id = subscribe(client, receiver.url, timeInterval=1, q="power>1", notification={"format": "keyValues"})
    got = receiver.wait_for(2)
    for item in got:
        assert item.body["subscriptionId"] == subscription_id
        assert item.body["data"] == [{"id": "urn:ngsi-ld:Streetlight:2", "type": "Streetlight", "power": 2}]
        assert "triggerReason" not in item.body
    # Periodic subscriptions left behind would tick in every later app on this database.
    assert client.delete(f"{S}/{subscription_id}").status_code == 204


def test_expired_and_paused_subscriptions_send_nothing(client: TestClient, receiver: HttpReceiver) -> None:
    with http_receiver() as expired, http_receiver() as paused:
        expired_id = subscribe(client, expired.url, expiresAt="2020-01-01T00:00:00Z")
        paused_id = subscribe(client, paused.url, isActive=False)
        subscribe(client, receiver.url)
        create(client, light(1, power=1))
        receiver.wait_for(1)
        # Both lanes are idle: whatever they would have sent was queued before the sentinel's.
        wait_until(lambda: client.app.state.subscriptions.pending_notifications() == 0)  # type: ignore[attr-defined]
        assert expired.received == [] and paused.received == []
        assert client.get(f"{S}/{expired_id}").json()["status"] == "expired"
        assert client.get(f"{S}/{paused_id}").json()["status"] == "paused"
        # Reactivated, it notifies again.
        assert client.patch(f"{S}/{paused_id}", json={"isActive": True}).status_code == 204
        update(client, 1, power=2)
        assert paused.wait_for(1)[0].body["data"][0]["power"]["value"] == 2


# ---------------------------------------------------------------------------- failures


def test_a_failed_notification_is_retried_and_counted(client: TestClient) -> None:
    with http_receiver(statuses=[500]) as flaky:
        subscription_id = subscribe(client, flaky.url)
        create(client, light(1, power=1))
        got = flaky.wait_for(2)
        assert got[0].body == got[1].body  # the same notification, sent again
        params = wait_params(client, subscription_id, lambda p: bool(p.get("lastSuccess") and p.get("lastFailure")))
        assert (params["timesSent"], params["timesFailed"], params["status"]) == (2, 1, "ok")
        assert params["lastFailure"] <= params["lastSuccess"] == params["lastNotification"]


def test_a_receiver_failing_every_retry_is_marked_failed(make_client: MakeClient) -> None:
    client = make_client(notification_retries=1)
    with http_receiver(statuses=[500, 503, 200]) as broken:
        subscription_id = subscribe(client, broken.url)
        create(client, light(1, power=1))
        broken.wait_for(2)
        params = wait_params(client, subscription_id, lambda p: p["timesFailed"] == 2)
        assert params["status"] == "failed" and params["timesSent"] == 2 and "lastSuccess" not in params


def test_an_unreachable_receiver_counts_failures(client: TestClient) -> None:
    subscription_id = subscribe(client, "http://127.0.0.1:9/notify")  # nothing listens on the discard port
    create(client, light(1, power=1))
    params = wait_params(client, subscription_id, lambda p: p["timesFailed"] >= 1)
    assert params["status"] == "failed" and "lastFailure" in params


def test_a_hanging_receiver_neither_slows_writers_nor_starves_others(make_client: MakeClient) -> None:
    client = make_client(notification_workers=2)
    with http_receiver(hang=True) as hanging, http_receiver() as healthy:
        subscribe(client, hanging.url, notification={"endpoint": {"timeout": 60_000}})
        subscribe(client, healthy.url, notification={"format": "keyValues"})
        create(client, light(1, power=0))
        for value in range(1, 20):
            update(client, 1, power=value)
        # Every write returned while the hanging receiver still holds its first notification,
        # and the healthy one got all twenty, in order.
        got = healthy.wait_for(20)
        assert [r.body["data"][0]["power"] for r in got] == list(range(20))
        assert hanging.received == []
        hanging.release.set()
        assert len(hanging.wait_for(20, timeout=30)) == 20


def test_a_full_queue_drops_the_oldest_and_counts_them(make_client: MakeClient) -> None:
    client = make_client(notification_workers=1, notification_queue_max=3)
    with http_receiver(hang=True) as hanging:
        subscription_id = subscribe(client, hanging.url, notification={"endpoint": {"timeout": 60_000}})
        create(client, light(1, power=0))
        for value in range(1, 10):
            update(client, 1, power=value)
        params = wait_params(client, subscription_id, lambda p: p["timesFailed"] >= 6)
        dropped = params["timesFailed"]
        hanging.release.set()
        delivered = hanging.wait_for(10 - dropped, timeout=30)
        # Dropped ones never went out; the newest always survive.
        final = wait_params(client, subscription_id, lambda p: p["timesSent"] == len(delivered))
        assert final["timesSent"] + final["timesFailed"] == 10
        assert delivered[-1].body["data"][0]["power"]["value"] == 9


# ---------------------------------------------------------------------------- MQTT


def test_mqtt_endpoint_on_the_real_broker(client: TestClient) -> None:
    need_service(mosquitto_unavailable())
    topic = f"urbis-test/{uuid.uuid4().hex}/notifications"
    listener = MqttListener(topic)
    try:
        subscription_id = subscribe(
            client,
            f"mqtt://127.0.0.1:1883/{topic}",
            notification={
                "format": "keyValues",
                "endpoint": {
                    "receiverInfo": [{"key": "test-receiver-key", "value": "test-receiver-info"}],
                    "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}],
                },
            },
        )
        create(client, light(1, power=7))
        [message] = listener.wait_for(1)
        assert message["metadata"]["Content-Type"] == "application/json"
        assert CORE_LINK in message["metadata"]["Link"]
        assert message["metadata"]["test-receiver-key"] == "test-receiver-info"
        body = message["body"]
        assert body["type"] == "Notification" and body["subscriptionId"] == subscription_id
        assert body["data"] == [{"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", "power": 7}]
        params = wait_params(client, subscription_id, lambda p: p["timesSent"] == 1)
        assert params["status"] == "ok"
    finally:
        listener.close()


def test_mqtt_version_5(client: TestClient) -> None:
    need_service(mosquitto_unavailable())
    topic = f"urbis-test/{uuid.uuid4().hex}/v5"
    listener = MqttListener(topic)
    try:
        subscribe(
            client,
            f"mqtt://127.0.0.1:1883/{topic}",
            notification={"endpoint": {"notifierInfo": [{"key": "MQTT-Version", "value": "mqtt5.0"}]}},
        )
        create(client, light(1, power=7))
        assert listener.wait_for(1)[0]["body"]["data"][0]["id"] == "urn:ngsi-ld:Streetlight:1"
    finally:
        listener.close()


# ---------------------------------------------------------------------------- in-process and across processes


def test_local_subscriptions_get_the_same_notifications(client: TestClient, tenant: str) -> None:
    service: SubscriptionService = client.app.state.subscriptions  # type: ignore[attr-defined]
    received: list[dict[str, Any]] = []
    handle = service.subscribe_local(
        tenant,
        {"entities": [{"type": "Streetlight"}], "q": "power>10", "notification": {"format": "keyValues"}},
        received.append,
    )
    create(client, light(1, power=5))
    create(client, light(2, power=50))
    wait_until(lambda: received)
    assert received[0]["type"] == "Notification" and received[0]["subscriptionId"] == handle.id
    assert received[0]["data"] == [{"id": "urn:ngsi-ld:Streetlight:2", "type": "Streetlight", "power": 50}]
    wait_until(lambda: handle.counters.times_sent == 1)
    handle.cancel()
    with http_receiver() as sentinel:
        subscribe(client, sentinel.url)
        update(client, 2, power=60)
        sentinel.wait_for(1)
    wait_until(lambda: client.app.state.subscriptions.pending_notifications() == 0)  # type: ignore[attr-defined]
    assert len(received) == 1
    # Not stored: the NGSI-LD API does not list it.
    assert client.get(S).json()[0]["id"] != handle.id


def test_a_failing_local_callback_is_counted(client: TestClient, tenant: str) -> None:
    service: SubscriptionService = client.app.state.subscriptions  # type: ignore[attr-defined]

    def broken(_notification: dict[str, Any]) -> None:
        raise RuntimeError("bug in a solution")

    handle = service.subscribe_local(tenant, {"entities": [{"type": "Streetlight"}]}, broken)
    create(client, light(1, power=5))
    wait_until(lambda: handle.counters.times_failed == 1)


def test_another_process_picks_up_new_subscriptions(make_client: MakeClient, receiver: HttpReceiver) -> None:
    first = make_client()
    second = make_client()
    create(second, light(1, power=1))  # the second process has cached the tenant's (empty) subscriptions
    subscribe(first, receiver.url, notification={"format": "keyValues"})

    def notified() -> bool:
        update(second, 1, power=2)
        return bool(receiver.received)

    wait_until(notified, timeout=15, interval=0.3)
    assert receiver.received[0].body["data"][0]["id"] == "urn:ngsi-ld:Streetlight:1"


def test_counters_are_written_to_the_database(client: TestClient, receiver: HttpReceiver, tenant: str) -> None:
    subscription_id = subscribe(client, receiver.url)
    create(client, light(1, power=1))
    update(client, 1, power=2)
    receiver.wait_for(2)
    service: SubscriptionService = client.app.state.subscriptions  # type: ignore[attr-defined]

    def stored_sent() -> int:
        with service.db.read() as conn:
            stored = service.store.get(conn, tenant, subscription_id)
        return stored.counters.times_sent if stored is not None else 0

    wait_until(lambda: stored_sent() == 2)


def test_subscriptions_naming_entities_see_only_those(client: TestClient, receiver: HttpReceiver) -> None:
    subscribe(
        client,
        receiver.url,
        entities=[
            {"type": "Streetlight", "id": "urn:ngsi-ld:Streetlight:2"},
            {"type": "Streetlight", "id": "urn:ngsi-ld:Streetlight:3"},
        ],
        notification={"format": "keyValues"},
    )
    for number in (1, 2, 3, 4):
        create(client, light(number, power=number))
    got = receiver.wait_for(2)
    update(client, 3, power=30)  # the sentinel
    got = receiver.wait_for(3)
    assert [r.body["data"][0]["id"][-1] for r in got] == ["2", "3", "3"]


def test_delivery_totals_are_in_metrics(client: TestClient, receiver: HttpReceiver) -> None:
    subscribe(client, receiver.url)
    create(client, light(1, power=1))
    receiver.wait_for(1)

    def sent_line() -> str | None:
        text = client.get("/metrics").text
        return next((line for line in text.splitlines() if line.startswith("urbis_notifications_sent_total")), None)

    assert (
        wait_until(lambda: (line := sent_line()) and line.endswith(" 1.0") and line)
        == "urbis_notifications_sent_total 1.0"
    )
    text = client.get("/metrics").text
    assert "urbis_notifications_failed_total 0.0" in text and "urbis_notifications_queued 0.0" in text


def test_a_local_subscription_does_not_hide_stored_ones(
    make_client: MakeClient, receiver: HttpReceiver, tenant: str
) -> None:
    other = make_client()
    subscribe(other, receiver.url)  # stored by another process: this one has not loaded the tenant yet
    client = make_client()
    received: list[dict[str, Any]] = []
    client.app.state.subscriptions.subscribe_local(tenant, {"entities": [{"type": "Streetlight"}]}, received.append)  # type: ignore[attr-defined]
    create(client, light(1, power=1))
    receiver.wait_for(1)
    wait_until(lambda: received)


def test_a_hanging_receiver_times_out_as_a_failure(make_client: MakeClient) -> None:
    client = make_client(notification_retries=0)
    with http_receiver(hang=True) as hanging:
        subscription_id = subscribe(client, hanging.url, notification={"endpoint": {"timeout": 300}})
        create(client, light(1, power=1))
        params = wait_params(client, subscription_id, lambda p: p["timesFailed"] == 1)
        assert params["status"] == "failed" and params["timesSent"] == 1
