"""The MQTT bridge against a real Mosquitto: batches, acknowledgement after storage, persistent session."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.exc import OperationalError

from conftest import need_service
from mqtt_broker import broker_unavailable, private_broker, publisher, wait_until
from urbis.ingestion.messages import DeviceCommand, RawMessage
from urbis.ingestion.mqtt import BrokerAddress, MqttBridge


class Recorder:
    """Stands in for the ingestion service: records messages, can be told to fail."""

    def __init__(self) -> None:
        self.messages: list[RawMessage] = []
        self.quarantined: list[tuple[RawMessage, str]] = []
        self.fail = threading.Event()
        self.attempts = 0
        self.lock = threading.Lock()

    def ingest(self, messages: Sequence[RawMessage]) -> Sequence[Any]:
        with self.lock:
            self.attempts += 1
            if self.fail.is_set():
                raise OperationalError("INSERT ...", {}, ConnectionRefusedError("database down"))
            if any(m.payload == b"poison" for m in messages):
                raise ValueError("a bug this payload triggers")
            self.messages.extend(messages)
        return []

    def quarantine(self, message: RawMessage, detail: str) -> None:
        with self.lock:
            self.quarantined.append((message, detail))

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [orjson.loads(m.payload) for m in self.messages]


class Commands:
    """Stands in for the command service: a list of pending commands, the acknowledgements received."""

    def __init__(self) -> None:
        self.open: list[DeviceCommand] = []
        self.acks: list[tuple[str, str, bytes]] = []

    def pending(self, *, limit: int = 500) -> list[DeviceCommand]:
        return self.open[:limit]

    def record_ack(self, tenant: str, device_id: str, payload: bytes) -> None:
        self.acks.append((tenant, device_id, payload))


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own on the shared broker."""
    return f"urbistest{uuid.uuid4().hex[:8]}"


def test_broker_urls_are_parsed() -> None:
    assert BrokerAddress.parse("mqtt://svc:s%40cret@broker.example:8883") == BrokerAddress(
        "broker.example", 8883, "svc", "s@cret"
    )
    assert BrokerAddress.parse("tcp://localhost").port == 1883
    with pytest.raises(ValueError, match="not an MQTT broker URL"):
        BrokerAddress.parse("http://localhost")


def test_uplinks_reach_ingestion_with_tenant_device_and_kind(prefix: str) -> None:
    need_service(broker_unavailable())
    recorder = Recorder()
    bridge = MqttBridge("mqtt://127.0.0.1:1883", recorder, client_id=f"urbis-{prefix}", prefix=prefix)
    bridge.start()
    try:
        assert bridge.wait_connected(10)
        pub = publisher()
        pub.publish(f"{prefix}/city1/aq-1/attrs", b'{"pm25": 3}', qos=1).wait_for_publish(5)
        pub.publish(f"{prefix}/city1/gw-1/gateway", b'{"aq-2": [{"pm25": 4}]}', qos=1).wait_for_publish(5)
        pub.publish(f"{prefix}/city1/aq-1/other", b"{}", qos=1).wait_for_publish(5)
        assert wait_until(lambda: len(recorder.messages) == 2)
        first, second = sorted(recorder.messages, key=lambda m: m.kind)
        assert (first.tenant, first.device_id, first.kind, first.transport, first.token) == (
            "city1",
            "aq-1",
            "device",
            "mqtt",
            None,
        )
        assert (second.device_id, second.kind) == ("gw-1", "gateway")
        pub.disconnect()
    finally:
        bridge.stop()


def test_a_failing_store_is_retried_and_nothing_is_lost(prefix: str) -> None:
    need_service(broker_unavailable())
    recorder = Recorder()
    recorder.fail.set()
    bridge = MqttBridge("mqtt://127.0.0.1:1883", recorder, client_id=f"urbis-{prefix}", prefix=prefix)
    bridge.start()
    try:
        assert bridge.wait_connected(10)
        pub = publisher()
        for i in range(20):
            pub.publish(f"{prefix}/c/d{i}/attrs", orjson.dumps({"n": i}), qos=1)
        assert wait_until(lambda: recorder.attempts >= 2)
        assert recorder.messages == []
        recorder.fail.clear()
        assert wait_until(lambda: len(recorder.messages) == 20)
        assert sorted(p["n"] for p in recorder.payloads()) == list(range(20))
        pub.disconnect()
    finally:
        bridge.stop()


def test_a_message_that_breaks_storage_is_quarantined_and_the_rest_stored(prefix: str) -> None:
    need_service(broker_unavailable())
    recorder = Recorder()
    bridge = MqttBridge("mqtt://127.0.0.1:1883", recorder, client_id=f"urbis-{prefix}", prefix=prefix)
    bridge.start()
    try:
        assert bridge.wait_connected(10)
        pub = publisher()
        for i in range(30):
            pub.publish(f"{prefix}/c/d{i}/attrs", b"poison" if i == 7 else orjson.dumps({"n": i}), qos=1)
        assert wait_until(lambda: len(recorder.messages) == 29 and len(recorder.quarantined) == 1)
        message, detail = recorder.quarantined[0]
        assert (message.device_id, message.payload) == ("d7", b"poison")
        assert "a bug this payload triggers" in detail
        pub.disconnect()
    finally:
        bridge.stop()


def test_stored_messages_are_acknowledged_and_not_delivered_again(prefix: str, tmp_path: Path) -> None:
    need_service(broker_unavailable())
    with private_broker(tmp_path) as broker:
        client_id = f"urbis-{prefix}"
        first = Recorder()
        bridge = MqttBridge(broker.url, first, client_id=client_id, prefix=prefix)
        bridge.start()
        assert bridge.wait_connected(10)
        pub = publisher(broker.port)
        for i in range(300):  # more than one read and one batch
            pub.publish(f"{prefix}/c/d{i % 9}/attrs", orjson.dumps({"n": i}), qos=1)
        assert wait_until(lambda: len(first.messages) == 300)
        bridge.stop()
        # The session resumes: anything stored but left unacknowledged would come back now.
        second = Recorder()
        again = MqttBridge(broker.url, second, client_id=client_id, prefix=prefix)
        again.start()
        try:
            assert again.wait_connected(10)
            pub.publish(f"{prefix}/c/d1/attrs", orjson.dumps({"n": 300}), qos=1).wait_for_publish(5)
            assert wait_until(lambda: len(second.messages) >= 1)
            assert not wait_until(lambda: len(second.messages) > 1, timeout=1.0)
            assert second.payloads() == [{"n": 300}]
        finally:
            again.stop()
            pub.disconnect()


def test_qos_0_messages_are_taken_in_too(prefix: str) -> None:
    need_service(broker_unavailable())
    recorder = Recorder()
    bridge = MqttBridge("mqtt://127.0.0.1:1883", recorder, client_id=f"urbis-{prefix}", prefix=prefix)
    bridge.start()
    try:
        assert bridge.wait_connected(10)
        pub = publisher()
        pub.publish(f"{prefix}/city1/aq-1/attrs", b'{"pm25": 1}', qos=0).wait_for_publish(5)
        pub.publish(f"{prefix}/city1/aq-1/attrs", b'{"pm25": 2}', qos=1).wait_for_publish(5)
        assert wait_until(lambda: len(recorder.messages) == 2)
        assert sorted(p["pm25"] for p in recorder.payloads()) == [1, 2]
        pub.disconnect()
    finally:
        bridge.stop()


def test_messages_sent_while_urbis_is_away_arrive_after_it_returns(prefix: str, tmp_path: Path) -> None:
    need_service(broker_unavailable())
    with private_broker(tmp_path) as broker:
        recorder = Recorder()
        client_id = f"urbis-{prefix}"
        bridge = MqttBridge(broker.url, recorder, client_id=client_id, prefix=prefix)
        bridge.start()
        assert bridge.wait_connected(10)
        bridge.stop()  # the session stays with the broker
        pub = publisher(broker.port)
        for i in range(50):
            pub.publish(f"{prefix}/c/d/attrs", orjson.dumps({"n": i}), qos=1).wait_for_publish(5)
        pub.disconnect()
        again = MqttBridge(broker.url, recorder, client_id=client_id, prefix=prefix)
        again.start()
        try:
            assert wait_until(lambda: len(recorder.messages) >= 50)
            assert sorted(p["n"] for p in recorder.payloads()) == list(range(50))
        finally:
            again.stop()


def test_unacknowledged_messages_are_delivered_again_after_a_crash(prefix: str, tmp_path: Path) -> None:
    need_service(broker_unavailable())
    with private_broker(tmp_path) as broker:
        failing = Recorder()
        failing.fail.set()
        client_id = f"urbis-{prefix}"
        bridge = MqttBridge(broker.url, failing, client_id=client_id, prefix=prefix)
        bridge.start()
        assert bridge.wait_connected(10)
        pub = publisher(broker.port)
        for i in range(10):
            pub.publish(f"{prefix}/c/d/attrs", orjson.dumps({"n": i}), qos=1).wait_for_publish(5)
        pub.disconnect()
        assert wait_until(lambda: failing.attempts >= 1)
        bridge.stop()  # gives up without acknowledging, like a process that died mid-write
        recorder = Recorder()
        again = MqttBridge(broker.url, recorder, client_id=client_id, prefix=prefix)
        again.start()
        try:
            assert wait_until(lambda: len({p["n"] for p in recorder.payloads()}) == 10)
        finally:
            again.stop()


def test_commands_go_out_once_and_acknowledgements_come_back(prefix: str) -> None:
    need_service(broker_unavailable())
    commands = Commands()
    bridge = MqttBridge(
        "mqtt://127.0.0.1:1883",
        Recorder(),
        client_id=f"urbis-{prefix}",
        prefix=prefix,
        commands=commands,
        sweep_seconds=0.05,
    )
    received: list[tuple[str, bytes]] = []
    device = publisher()
    device.on_message = lambda _c, _u, message: received.append((message.topic, message.payload))
    device.subscribe(f"{prefix}/city1/#", qos=1)
    first = DeviceCommand("city1", "lamp-1", "setDimLevel", {"level": 40}, "cmd-1")
    bridge.send_command(first)  # not connected yet: left to the sweep
    assert received == []
    bridge.start()
    try:
        assert bridge.wait_connected(10)
        bridge.send_command(first)
        assert wait_until(lambda: received)
        topic, payload = received[0]
        assert topic == f"{prefix}/city1/lamp-1/cmd"
        assert orjson.loads(payload) == {"id": "cmd-1", "command": "setDimLevel", "params": {"level": 40}}
        # A command raised in another process reaches the broker through the sweep; none twice.
        commands.open = [first, DeviceCommand("city1", "lamp-2", "switch", {"on": True}, "cmd-2")]
        assert wait_until(lambda: len(received) == 2)
        assert received[1][0] == f"{prefix}/city1/lamp-2/cmd"
        assert not wait_until(lambda: len(received) > 2, timeout=0.3)
        device.publish(f"{prefix}/city1/lamp-1/cmdexe", b'{"id": "cmd-1", "status": "OK"}', qos=1)
        assert wait_until(lambda: commands.acks)
        assert commands.acks[0][:2] == ("city1", "lamp-1")
    finally:
        bridge.stop()
        device.disconnect()


def test_sessions_in_a_shared_subscription_split_the_messages_and_one_publishes_commands(prefix: str) -> None:
    need_service(broker_unavailable())
    recorders = [Recorder(), Recorder()]
    command_logs = [Commands(), Commands()]
    bridges = [
        MqttBridge(
            "mqtt://127.0.0.1:1883",
            recorders[n],
            client_id=f"urbis-{prefix}-{n}",
            prefix=prefix,
            commands=command_logs[n],
            share_group=f"urbis-{prefix}",
            publishes_commands=n == 0,
            sweep_seconds=0.2,
        )
        for n in range(2)
    ]
    for bridge in bridges:
        bridge.start()
    pub = publisher()
    try:
        assert all(bridge.wait_connected(10) for bridge in bridges)
        pub.subscribe(f"{prefix}/+/+/cmd", qos=1)
        commands: list[bytes] = []
        pub.on_message = lambda _c, _u, message: commands.append(message.payload)
        for i in range(200):
            pub.publish(f"{prefix}/c/d{i % 7}/attrs", orjson.dumps({"n": i}), qos=1)
        received = lambda: sorted(p["n"] for r in recorders for p in r.payloads())  # noqa: E731
        assert wait_until(lambda: len(received()) >= 200)
        assert received() == list(range(200))  # each message to exactly one session
        assert all(r.messages for r in recorders)  # and both sessions took a share
        command = DeviceCommand("c", "d1", "dim", {"level": 40}, "cmd-1")
        for n, log in enumerate(command_logs):
            log.open.append(command)
            bridges[n].send_command(command)
        assert wait_until(lambda: len(commands) >= 1)
        pub.publish(f"{prefix}/c/d1/cmdexe", b'{"id": "cmd-1", "status": "ok"}', qos=1)
        assert wait_until(lambda: sum(len(log.acks) for log in command_logs) == 1)
        threading.Event().wait(1.0)  # a second publish would have arrived by now (sweeps run every 0.2 s)
        assert len(commands) == 1
    finally:
        pub.disconnect()
        for bridge in bridges:
            bridge.stop()


def test_a_shared_session_whose_process_died_is_drained_by_the_one_that_takes_it_over(
    prefix: str, tmp_path: Path
) -> None:
    need_service(broker_unavailable())
    with private_broker(tmp_path) as broker:

        def session(slot: int, recorder: Recorder) -> MqttBridge:
            return MqttBridge(
                broker.url, recorder, client_id=f"urbis-{prefix}-{slot}", prefix=prefix, share_group=prefix
            )

        dying, survivor = Recorder(), Recorder()
        bridges = [session(0, dying), session(1, survivor)]
        for bridge in bridges:
            bridge.start()
        assert all(bridge.wait_connected(10) for bridge in bridges)
        bridges[0].stop()  # its process dies; the broker keeps its session and queues its share
        pub = publisher(broker.port)
        for i in range(100):
            pub.publish(f"{prefix}/c/d{i % 5}/attrs", orjson.dumps({"n": i}), qos=1).wait_for_publish(5)
        pub.disconnect()
        taken_over = Recorder()
        replacement = session(0, taken_over)  # the survivor's process takes slot 0 over
        replacement.start()
        try:
            everything = lambda: sorted(p["n"] for r in (survivor, taken_over) for p in r.payloads())  # noqa: E731
            assert wait_until(lambda: len(everything()) >= 100)
            assert everything() == list(range(100))
            assert taken_over.messages, "the dead session's queue was drained by its new holder"
        finally:
            replacement.stop()
            bridges[1].stop()


def test_a_bridge_whose_broker_is_unreachable_stops_cleanly(prefix: str) -> None:
    bridge = MqttBridge("mqtt://127.0.0.1:9", Recorder(), client_id=f"urbis-{prefix}", prefix=prefix)  # nobody there
    bridge.start()
    bridge.stop()
    assert bridge._network is not None
    bridge._network.join(5)
    assert not bridge._network.is_alive()
