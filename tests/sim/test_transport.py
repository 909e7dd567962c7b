"""Transports: HTTP request building, batching, retries and token refresh; MQTT against the real broker.

The HTTP tests answer with an in-process fake (``httpx.MockTransport``): they check the
transport's own logic only.  The end-to-end tests run against a real Urbis server.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from typing import Any

import httpx
import orjson
import pytest

from conftest import need_service
from urbis.sim.engine import Message
from urbis.sim.transport import HttpTransport, MqttTransport

T = 1_795_000_000.0


def messages(devices: int, each: int, gateway: str | None = "gw-a") -> list[Message]:
    return [
        Message(f"dev-{d}", gateway, T + k, {"pm25": float(k), "on": bool(k % 2)})
        for k in range(each)
        for d in range(devices)
    ]


class Recorder:
    """A fake ingestion endpoint: records requests and answers with a script of status codes."""

    def __init__(self, script: list[int] | None = None, rejected_per_request: int = 0):
        self.requests: list[httpx.Request] = []
        self.script = list(script or [])
        self.rejected = rejected_per_request

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.script.pop(0) if self.script else 200
        if status != 200:
            return httpx.Response(status, json={"title": "nope"})
        body = orjson.loads(request.content)
        count = (
            sum(len(v) for v in body.values())
            if isinstance(body, dict)
            else (len(body) if isinstance(body, list) else 1)
        )
        rejected = [{"index": 0, "reason": "out-of-range", "detail": "too big"}] * self.rejected
        return httpx.Response(200, json={"accepted": count * 2 - len(rejected), "rejected": rejected})


def transport(recorder: Recorder, **options: Any) -> HttpTransport:
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder), base_url="http://urbis.test")
    options.setdefault("backoff", 0.001)
    return HttpTransport(
        "http://urbis.test", "bonn", {"gw-a": "tok-a", "gw-b": "tok-b", "dev-0": "tok-0"}, client=client, **options
    )


def test_gateway_batches_are_split_by_size_and_grouped_by_gateway() -> None:
    recorder = Recorder()
    sender = transport(recorder, batch_size=7)
    batch = [*messages(3, 5), Message("dev-9", "gw-b", T, {"pm25": 1.0})]

    async def go() -> None:
        await sender.send(batch)
        await sender.close()

    asyncio.run(go())
    paths = [request.url.path for request in recorder.requests]
    assert paths.count("/api/v1/ingest/bonn/gateways/gw-a") == 3  # 15 measure objects in 7 + 7 + 1
    assert paths.count("/api/v1/ingest/bonn/gateways/gw-b") == 1
    bodies = [orjson.loads(r.content) for r in recorder.requests if r.url.path.endswith("gw-a")]
    assert sorted(sum(len(v) for v in body.values()) for body in bodies) == [1, 7, 7]
    merged: dict[str, list[Any]] = {}
    for body in bodies:
        for device, items in body.items():
            merged.setdefault(device, []).extend(items)
    assert merged["dev-0"] == [{"ts": int((T + k) * 1000), "pm25": float(k), "on": bool(k % 2)} for k in range(5)]
    auth = {r.url.path.rsplit("/", 1)[1]: r.headers["authorization"] for r in recorder.requests}
    assert auth == {"gw-a": "Bearer tok-a", "gw-b": "Bearer tok-b"}
    assert sender.stats.messages == 16 and sender.stats.requests == 4
    assert sender.stats.accepted == 32 and sender.stats.failed == 0  # the server's own count (measures) is kept


def test_device_mode_sends_one_request_per_device() -> None:
    recorder = Recorder()
    sender = transport(recorder, mode="device")

    async def go() -> None:
        await sender.send([Message("dev-0", None, T, {"occupied": True})])
        await sender.send(
            [Message("dev-0", None, T + 1, {"occupied": False}), Message("dev-0", None, T + 2, {"occupied": True})]
        )
        await sender.close()

    asyncio.run(go())
    assert [r.url.path for r in recorder.requests] == ["/api/v1/ingest/bonn/devices/dev-0"] * 2
    assert orjson.loads(recorder.requests[0].content) == {"ts": int(T * 1000), "occupied": True}  # one object
    assert len(orjson.loads(recorder.requests[1].content)) == 2  # an array


def test_transient_failures_are_retried() -> None:
    recorder = Recorder(script=[503, 502, 200])
    sender = transport(recorder)

    async def go() -> None:
        await sender.send(messages(1, 2))
        await sender.close()

    asyncio.run(go())
    assert len(recorder.requests) == 3
    assert sender.stats.retries == 2 and sender.stats.failed == 0 and sender.stats.requests == 1


def test_a_request_that_keeps_failing_is_counted_not_fatal() -> None:
    recorder = Recorder(script=[503] * 10)
    sender = transport(recorder, max_retries=2)

    async def go() -> None:
        await sender.send(messages(2, 3))
        await sender.close()

    asyncio.run(go())
    assert len(recorder.requests) == 3
    assert sender.stats.failed == 6 and sender.stats.accepted == 0
    assert any("giving up" in error for error in sender.stats.errors)


def test_client_errors_are_not_retried_and_rejections_are_counted() -> None:
    refused = Recorder(script=[400])
    sender = transport(refused)
    asyncio.run(_send_and_close(sender, messages(1, 4)))
    assert len(refused.requests) == 1 and sender.stats.failed == 4
    partial = Recorder(rejected_per_request=1)
    sender = transport(partial)
    asyncio.run(_send_and_close(sender, messages(1, 4)))
    assert sender.stats.rejected == 1 and sender.stats.accepted == 7
    assert any("out-of-range" in error for error in sender.stats.errors)


async def _send_and_close(sender: HttpTransport, batch: list[Message]) -> None:
    await sender.send(batch)
    await sender.close()


def test_a_stale_token_is_refreshed_once() -> None:
    recorder = Recorder(script=[401, 200])
    asked: list[str] = []

    async def refresh(sender_id: str) -> str | None:
        asked.append(sender_id)
        return "tok-new"

    sender = transport(recorder, refresh_token=refresh)
    asyncio.run(_send_and_close(sender, messages(1, 1)))
    assert asked == ["gw-a"]
    assert [r.headers["authorization"] for r in recorder.requests] == ["Bearer tok-a", "Bearer tok-new"]
    assert sender.stats.failed == 0 and sender.tokens["gw-a"] == "tok-new"
    # Without a refresher (or when it gives nothing) a 401 costs the batch.
    failing = Recorder(script=[401, 401])
    sender = transport(failing)
    asyncio.run(_send_and_close(sender, messages(1, 1)))
    assert sender.stats.failed == 1 and len(failing.requests) == 1


def test_concurrent_401s_rotate_the_token_once() -> None:
    calls: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        if request.headers["authorization"] != "Bearer tok-new":
            return httpx.Response(401, json={"title": "bad token"})
        return httpx.Response(200, json={"accepted": 1, "rejected": []})

    async def refresh(sender_id: str) -> str | None:
        calls.append(sender_id)
        await asyncio.sleep(0.01)
        return "tok-new"

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    sender = HttpTransport(
        "http://urbis.test",
        "bonn",
        {"gw-a": "tok-old"},
        batch_size=1,
        concurrency=4,
        client=client,
        refresh_token=refresh,
    )
    asyncio.run(_send_and_close(sender, messages(1, 8)))
    assert calls == ["gw-a"]
    assert sender.stats.failed == 0 and sender.stats.requests == 8


def test_a_too_large_request_is_split_in_halves() -> None:
    recorder = Recorder(script=[413])
    sender = transport(recorder, batch_size=100)
    asyncio.run(_send_and_close(sender, messages(2, 5)))
    sizes = [sum(len(v) for v in orjson.loads(r.content).values()) for r in recorder.requests]
    assert sizes == [10, 5, 5]
    assert sender.stats.failed == 0


def test_concurrency_is_bounded() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json={"accepted": 1, "rejected": []})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    sender = HttpTransport("http://urbis.test", "bonn", {"gw-a": "t"}, batch_size=1, concurrency=3, client=client)
    asyncio.run(_send_and_close(sender, messages(1, 12)))
    assert peak == 3 and sender.stats.requests == 12


def test_missing_tokens_and_gateways_are_reported() -> None:
    sender = transport(Recorder())
    asyncio.run(_send_and_close(sender, [Message("dev-1", "gw-unknown", T, {"pm25": 1.0})]))
    assert sender.stats.failed == 1 and "no token" in sender.stats.errors[0]
    with pytest.raises(ValueError, match="no gateway"):
        sender.requests([Message("dev-1", None, T, {"pm25": 1.0})])


# -- MQTT against the real broker ------------------------------------------------------------------

BROKER = ("127.0.0.1", 1883)


def _broker_missing() -> str | None:
    try:
        with socket.create_connection(BROKER, timeout=1.0):
            return None
    except OSError:
        return "no MQTT broker on 127.0.0.1:1883"


@pytest.mark.parametrize("gateway_mode", [False, True])
def test_mqtt_publishes_with_qos1_to_the_device_topics(gateway_mode: bool) -> None:
    need_service(_broker_missing())
    import paho.mqtt.client as mqtt

    tenant = f"simtest{uuid.uuid4().hex[:8]}"
    received: list[tuple[str, bytes, int]] = []
    subscribed = threading.Event()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"listener-{tenant}")
    listener.on_connect = lambda client, *_: client.subscribe(f"urbis/{tenant}/#", qos=1)
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.on_message = lambda _c, _u, msg: received.append((msg.topic, msg.payload, msg.qos))
    listener.connect(*BROKER)
    listener.loop_start()
    try:
        assert subscribed.wait(10), "the listener could not subscribe"
        batch = [*messages(3, 2, gateway="gw-a"), Message("dev-7", "gw-b", T, {"occupied": True})]
        sender = MqttTransport("mqtt://127.0.0.1:1883", tenant, gateway_mode=gateway_mode, client_id=f"sim-{tenant}")

        async def go() -> None:
            await sender.send(batch)
            await sender.close()

        asyncio.run(go())
        expected = 2 if gateway_mode else 4
        deadline = time.monotonic() + 10
        while len(received) < expected and time.monotonic() < deadline:
            time.sleep(0.02)
        topics = sorted(topic for topic, _, _ in received)
        if gateway_mode:
            assert topics == [f"urbis/{tenant}/gw-a/gateway", f"urbis/{tenant}/gw-b/gateway"]
            body = orjson.loads(next(p for t, p, _ in received if t.endswith("gw-a/gateway")))
            assert sorted(body) == ["dev-0", "dev-1", "dev-2"] and len(body["dev-0"]) == 2
        else:
            assert topics == sorted(f"urbis/{tenant}/dev-{d}/attrs" for d in (0, 1, 2, 7))
            single = orjson.loads(next(p for t, p, _ in received if t.endswith("dev-7/attrs")))
            assert single == {"ts": int(T * 1000), "occupied": True}
        assert all(qos == 1 for _, _, qos in received)
        assert sender.stats.accepted == 7 and sender.stats.failed == 0 and sender.stats.requests == expected
    finally:
        listener.loop_stop()
        listener.disconnect()
