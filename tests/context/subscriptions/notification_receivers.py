"""Real notification receivers for tests: a small HTTP server and an MQTT listener.

The HTTP receiver is a stdlib ``ThreadingHTTPServer`` on a free port in a thread; it records every
request (path, headers, JSON body) and answers with scripted status codes, optionally after a
delay or only once a test releases it (a hanging receiver).  The MQTT listener is a paho client
subscribed to a topic on the real Mosquitto.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

MOSQUITTO = ("127.0.0.1", 1883)


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class HttpReceiver:
    """Records notifications POSTed to it; ``statuses`` scripts the answers (then 204 forever)."""

    def __init__(self, *, statuses: list[int] | None = None, delay: float = 0.0, hang: bool = False) -> None:
        self.received: list[Received] = []
        self.statuses = list(statuses or [])
        self.delay = delay
        self.release = threading.Event()
        if not hang:
            self.release.set()
        self._cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                item = Received(self.path, dict(self.headers.items()), body)
                if receiver.delay:
                    time.sleep(receiver.delay)
                receiver.release.wait(30)
                with receiver._cond:
                    receiver.received.append(item)
                    status = receiver.statuses.pop(0) if receiver.statuses else 204
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/notify"

    def wait_for(
        self, count: int, timeout: float = 15.0, where: Callable[[Received], bool] | None = None
    ) -> list[Received]:
        """At least ``count`` recorded requests (matching ``where``), waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [r for r in self.received if where is None or where(r)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} notifications within {timeout} s, got {len(found)}: {found!r:.2000}"
                    )
                self._cond.wait(remaining)

    def bodies(self) -> list[Any]:
        with self._cond:
            return [r.body for r in self.received]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def http_receiver(**options: Any) -> Iterator[HttpReceiver]:
    """An :class:`HttpReceiver` for the duration of a block."""
    receiver = HttpReceiver(**options)
    try:
        yield receiver
    finally:
        receiver.close()


def mosquitto_unavailable() -> str | None:
    """None when Mosquitto answers on 127.0.0.1:1883, else why not."""
    import socket

    try:
        with socket.create_connection(MOSQUITTO, timeout=2):
            return None
    except OSError as exc:
        return f"Mosquitto at {MOSQUITTO[0]}:{MOSQUITTO[1]} is not reachable: {exc}"


class MqttListener:
    """A paho client subscribed to one topic, recording the messages."""

    def __init__(self, topic: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.topic = topic
        self.messages: list[Any] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}"
        )

        def on_connect(client: Any, *_args: Any) -> None:
            client.subscribe(topic, qos=1)

        def on_subscribe(*_args: Any) -> None:
            self._subscribed.set()

        def on_message(_client: Any, _userdata: Any, message: Any) -> None:
            with self._cond:
                self.messages.append(json.loads(message.payload))
                self._cond.notify_all()

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect(*MOSQUITTO)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("could not subscribe to Mosquitto")

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} MQTT messages, got {len(self.messages)}")
                self._cond.wait(remaining)
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05, message: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy (returned), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or "condition not met in time")
        time.sleep(interval)
