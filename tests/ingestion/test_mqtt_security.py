"""The generated Mosquitto password file and ACL: their text, and a real second Mosquitto that enforces them.

The broker test starts its own ``mosquitto`` with ``allow_anonymous false``, the generated
``password_file`` and ``acl_file``, and checks what devices may and may not do, observed
through the Urbis service account.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from conftest import need_service
from mqtt_broker import MOSQUITTO, broker_unavailable, free_port, wait_until
from urbis.core.db import Database
from urbis.ingestion.credentials import mosquitto_hash
from urbis.ingestion.mqtt_security import (
    MqttCredential,
    build_config,
    mosquitto_conf,
    parse_service_topics,
    write_atomically,
)
from urbis.ingestion.service import DeviceService

PREFIX = "urbis"
SERVICE_USER, SERVICE_PASSWORD = "urbis-service", "service-secret-1"


# -- the generated text -----------------------------------------------------------------------


def test_config_text() -> None:
    credentials = [
        MqttCredential("bonn", "lamp-1", "streetlight-controller", "$7$101$c2FsdA==$aGFzaA=="),
        MqttCredential("bonn", "gw-1", "gateway", "$7$101$c2FsdA==$aGFzaDI="),
        MqttCredential("bonn", "odd:id", "streetlight-controller", "$7$101$x$y"),
    ]
    config = build_config(
        credentials,
        prefix="city",
        service_user="svc",
        service_password_hash="$7$101$s$h",
        service_topics=parse_service_topics(["write notifications/#"]),
    )
    assert config.password_file == (
        "svc:$7$101$s$h\nbonn/lamp-1:$7$101$c2FsdA==$aGFzaA==\nbonn/gw-1:$7$101$c2FsdA==$aGFzaDI=\n"
    )
    acl = config.acl_file
    assert (
        "user svc\ntopic read city/+/+/attrs\ntopic read city/+/+/gateway\ntopic read city/+/+/cmdexe\n"
        "topic write city/+/+/cmd\ntopic write notifications/#\n"
    ) in acl
    assert (
        "user bonn/lamp-1\ntopic write city/bonn/lamp-1/attrs\ntopic write city/bonn/lamp-1/cmdexe\n"
        "topic read city/bonn/lamp-1/cmd\n"
    ) in acl
    assert "user bonn/gw-1\ntopic write city/bonn/gw-1/gateway\n" in acl
    assert "odd:id" not in acl and config.accounts == 2
    assert config.skipped == [("bonn/odd:id", config.skipped[0][1])] and "':'" in config.skipped[0][1]
    conf = mosquitto_conf("/etc/mosquitto/urbis.passwd", "/etc/mosquitto/urbis.acl")
    assert "allow_anonymous false\n" in conf and "password_file /etc/mosquitto/urbis.passwd\n" in conf
    assert "set_tcp_nodelay true\n" in conf and "max_queued_messages 1000000\n" in conf


@pytest.mark.parametrize("value", ["write", "publish a/b", "read a b", "readwrite "])
def test_bad_service_topics(value: str) -> None:
    with pytest.raises(ValueError):
        parse_service_topics([value])


def test_write_atomically(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.acl"
    write_atomically(target, "one\n")
    write_atomically(target, "two\n", mode=0o600)
    assert target.read_text() == "two\n" and (target.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["file.acl"]


# -- a real broker ----------------------------------------------------------------------------


class Client:
    """A paho client that records the CONNACK reason and the messages it receives."""

    def __init__(self, port: int, username: str | None, password: str | None):
        self.connected = threading.Event()
        self.refused: Any = None
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"t-{uuid.uuid4().hex[:10]}",
            protocol=mqtt.MQTTv311,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.refused = reason
        else:
            self.connected.set()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def wait(self) -> bool:
        """True once connected, False once refused."""
        assert wait_until(lambda: self.connected.is_set() or self.refused is not None, timeout=10)
        return self.connected.is_set()

    def subscribe(self, *topics: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_args: done.set()
        self.client.subscribe([(t, 1) for t in topics])
        assert done.wait(10)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def payloads(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


@pytest.fixture
def secured_broker(tmp_path: Path, database: Database, tenant: str) -> Iterator[tuple[int, dict[str, str], str]]:
    """A private Mosquitto secured with the config generated from a registry; (port, tokens, tenant)."""
    need_service(None if Path(MOSQUITTO).exists() else f"no mosquitto binary at {MOSQUITTO}")
    devices = DeviceService(database)
    tokens: dict[str, str] = {}
    for body in (
        {"id": "gw-1", "deviceType": "gateway"},
        {"id": "lamp-1", "deviceType": "streetlight-controller"},
        {"id": "lamp-2", "deviceType": "streetlight-controller", "gatewayId": "gw-1"},
        {"id": "lamp-3", "deviceType": "streetlight-controller"},
    ):
        tokens[body["id"]] = devices.create(tenant, body)[1]
    devices.revoke(tenant, "lamp-3")
    config = build_config(
        devices.mqtt_credentials(tenant),
        prefix=PREFIX,
        service_user=SERVICE_USER,
        service_password_hash=mosquitto_hash(SERVICE_PASSWORD),
    )
    assert config.accounts == 3  # the revoked lamp-3 has no account
    password_file, acl_file = tmp_path / "urbis.passwd", tmp_path / "urbis.acl"
    write_atomically(password_file, config.password_file)
    write_atomically(acl_file, config.acl_file)
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        mosquitto_conf(password_file, acl_file, port=port).replace(f"listener {port}", f"listener {port} 127.0.0.1")
        + f"log_dest file {tmp_path}/mosquitto.log\npersistence false\n"
        # Started as root, mosquitto drops to the 'mosquitto' user, who cannot read a private tmp folder.
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while broker_unavailable("127.0.0.1", port) is not None:
            log = tmp_path / "mosquitto.log"
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"mosquitto did not start: {log.read_text() if log.exists() else ''}")
            time.sleep(0.05)
        yield port, tokens, tenant
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_broker_enforces_the_generated_config(
    secured_broker: tuple[int, dict[str, str], str], clients: list[Client]
) -> None:
    port, tokens, tenant = secured_broker

    def connect(username: str | None, password: str | None) -> Client:
        client = Client(port, username, password)
        clients.append(client)
        return client

    def topic(device: str, kind: str) -> str:
        return f"{PREFIX}/{tenant}/{device}/{kind}"

    service = connect(SERVICE_USER, SERVICE_PASSWORD)
    assert service.wait()
    service.subscribe(f"{PREFIX}/+/+/attrs", f"{PREFIX}/+/+/gateway", f"{PREFIX}/+/+/cmdexe")

    lamp = connect(f"{tenant}/lamp-1", tokens["lamp-1"])
    assert lamp.wait()
    lamp.subscribe(topic("lamp-1", "cmd"))
    lamp.publish(topic("lamp-2", "attrs"), b"forged")  # another device's topic: dropped
    lamp.publish(topic("lamp-1", "gateway"), b"not a gateway")  # dropped
    lamp.publish(topic("lamp-1", "cmd"), b"self-command")  # devices cannot command: dropped
    lamp.publish(topic("lamp-1", "attrs"), b'{"dim": 40}')
    lamp.publish(topic("lamp-1", "cmdexe"), b'{"id": "c1", "status": "OK"}')

    gateway = connect(f"{tenant}/gw-1", tokens["gw-1"])
    assert gateway.wait()
    gateway.publish(topic("gw-1", "attrs"), b"wrong kind")  # dropped
    gateway.publish(topic("gw-1", "gateway"), b'{"lamp-2": [{"dim": 1}]}')

    # Messages of one publisher arrive in order, so once the last allowed one is in, the
    # forbidden ones sent before it would have arrived too.
    expected = [
        (topic("lamp-1", "attrs"), b'{"dim": 40}'),
        (topic("lamp-1", "cmdexe"), b'{"id": "c1", "status": "OK"}'),
        (topic("gw-1", "gateway"), b'{"lamp-2": [{"dim": 1}]}'),
    ]
    assert wait_until(lambda: len(service.payloads()) >= 3)
    assert sorted(service.payloads()) == sorted(expected)
    assert lamp.payloads() == []  # its own forbidden cmd publish was dropped too

    # Downlink: the service may command devices; a device reads only its own cmd topic.
    spy = connect(f"{tenant}/lamp-2", tokens["lamp-2"])
    assert spy.wait()
    spy.client.subscribe(topic("lamp-1", "cmd"), qos=1)
    spy.subscribe(topic("lamp-2", "cmd"))
    service.publish(topic("lamp-1", "cmd"), b'{"id": "c2", "command": "switchOff"}')
    service.publish(topic("lamp-2", "cmd"), b'{"id": "c3", "command": "switchOn"}')
    assert wait_until(lambda: len(lamp.payloads()) == 1 and len(spy.payloads()) == 1)
    assert lamp.payloads() == [(topic("lamp-1", "cmd"), b'{"id": "c2", "command": "switchOff"}')]
    assert spy.payloads() == [(topic("lamp-2", "cmd"), b'{"id": "c3", "command": "switchOn"}')]

    # Wrong password, a revoked device, another tenant's name, and no credentials at all: refused.
    assert not connect(f"{tenant}/lamp-1", tokens["lamp-2"]).wait()
    assert not connect(f"{tenant}/lamp-3", tokens["lamp-3"]).wait()
    assert not connect("other/lamp-1", tokens["lamp-1"]).wait()
    assert not connect(None, None).wait()
