"""Helpers for tests against a real Mosquitto: the shared one, or a private one the test can restart."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

SHARED_BROKER = os.environ.get("URBIS_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def broker_unavailable(host: str = "127.0.0.1", port: int = 1883) -> str | None:
    """None when a broker answers at host:port, else why not."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return f"no MQTT broker at {host}:{port}: {exc}"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateBroker:
    """A Mosquitto of the test's own, with persistence in a temporary folder, that can be restarted."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    # Started as root, Mosquitto would switch to its own user and could not write
                    # its persistence file into the test's private folder: stay the current user.
                    f"user {getpass.getuser()}",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {folder}/",
                    "autosave_interval 1",
                    "max_queued_messages 1000000",
                    "max_inflight_messages 0",
                    f"log_dest file {folder}/mosquitto.log",
                    "",
                ]
            )
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while broker_unavailable("127.0.0.1", self.port) is not None:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(
                    f"private mosquitto did not start: {(self.folder / 'mosquitto.log').read_text(errors='replace')}"
                )
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=15)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def private_broker(folder: Path) -> Iterator[PrivateBroker]:
    """Start a private broker for the duration of a test."""
    broker = PrivateBroker(folder)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def publisher(port: int = 1883, *, client_id: str | None = None, inflight: int = 20) -> mqtt.Client:
    """A connected paho client (network loop running) for publishing test messages."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id or f"test-pub-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(inflight)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def wait_until(predicate: object, timeout: float = 15.0, interval: float = 0.02) -> bool:
    """Poll ``predicate()`` until it is true or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return bool(predicate())  # type: ignore[operator]
