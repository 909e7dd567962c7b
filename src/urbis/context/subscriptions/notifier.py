"""Delivering notifications: HTTP (httpx), MQTT (paho-mqtt) and in-process callbacks.

Writers never wait for a receiver.  The matching code hands each notification to
:meth:`Dispatcher.submit`, which only appends it to a queue; a pool of worker threads delivers.

The queue is organised in *lanes*, one per subscription, and a lane is served by at most one
worker at a time.  So a receiver that hangs holds one worker for at most its timeout while the
other workers keep serving every other subscription, and notifications of one subscription
leave in order (retries aside).  The queue is bounded: when it is full, the oldest notification
of the longest lane (the subscription that is falling behind) is dropped and counted as failed.

A failed delivery is retried after ``backoff``, ``2 × backoff``, ``4 × backoff``, ... seconds; the
retry waits on a timer, not in a worker.  An endpoint ``cooldown`` holds its lane for that long
after a failure (the notifications wait; they are not dropped).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import httpx
import orjson

from urbis.context.subscriptions.model import JSON, JSON_LD, Endpoint

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (tenant, subscription id)


class DeliveryFailed(Exception):
    """A notification did not reach its receiver (the message says why)."""


@dataclass(frozen=True)
class Rendered:
    """A notification ready to send: its body and the @context Link (for application/json)."""

    notification: dict[str, Any]
    content_type: str = JSON
    link: str | None = None


@dataclass
class Delivery:
    """One notification on its way to one endpoint."""

    key: Key
    endpoint: Endpoint
    #: Builds the notification in a worker (rendering never runs in the writer's thread);
    #: None means there is nothing to send after all.
    render: Callable[[], Rendered | None]
    #: For in-process endpoints: the callback that receives the Notification.
    callback: Callable[[dict[str, Any]], None] | None = None
    attempt: int = 0
    rendered: Rendered | None = None

    @property
    def tenant(self) -> str:
        """The tenant the notification belongs to."""
        return self.key[0]


class Outcome(Protocol):
    """Receives the result of every delivery attempt (the service turns them into counters)."""

    def __call__(self, key: Key, ok: bool, when: datetime, detail: str, *, sent: bool) -> None:
        """``sent`` is False when nothing reached the wire (the notification was dropped)."""
        ...


class Timer:
    """One thread running short callbacks at given monotonic times (retries, throttling, periodic runs)."""

    def __init__(self, name: str = "urbis-subscription-timer") -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._name = name

    def start(self) -> None:
        """Start the thread (idempotent)."""
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread; callbacks not yet due are forgotten."""
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` at monotonic time ``when`` (in the timer thread: keep it quick)."""
        with self._cond:
            if self._stopping:
                return
            heapq.heappush(self._heap, (when, next(self._seq), callback))
            self._cond.notify()

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` after ``delay`` seconds."""
        self.call_at(time.monotonic() + max(delay, 0.0), callback)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopping:
                    return
                _, _, callback = heapq.heappop(self._heap)
            try:
                callback()
            except Exception:  # one failing callback must not stop the others
                log.exception("subscription timer callback failed")


# ---------------------------------------------------------------------------
# Transports
# ---------------------------------------------------------------------------


class HttpTransport:
    """POSTs notifications with one shared, pooled httpx client."""

    def __init__(self, user_agent: str = "urbis-notifier") -> None:
        self._client = httpx.Client(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            headers={"User-Agent": user_agent},
        )

    def send(self, delivery: Delivery, rendered: Rendered, timeout: float) -> None:
        """POST one notification; DeliveryFailed unless the receiver answers 2xx."""
        headers = {"Content-Type": rendered.content_type, "NGSILD-Tenant": delivery.tenant}
        if rendered.link is not None:
            headers["Link"] = rendered.link
        for key, value in delivery.endpoint.receiver_info:
            headers[key] = value
        try:
            response = self._client.post(
                delivery.endpoint.uri, content=orjson.dumps(rendered.notification), headers=headers, timeout=timeout
            )
        except httpx.TimeoutException as exc:
            raise DeliveryFailed(f"no answer within {timeout:g} s ({exc.__class__.__name__})") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{exc.__class__.__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"the receiver answered HTTP {response.status_code}")

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()


@dataclass(frozen=True)
class _BrokerKey:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    version: str


@dataclass
class _Connection:
    client: Any
    connected: threading.Event = field(default_factory=threading.Event)


class MqttTransport:
    """Publishes notifications to ``mqtt://`` and ``mqtts://`` endpoints, one connection per broker and user.

    The message is the MQTT binding's envelope: ``{"metadata": {"Content-Type", "Link", ...},
    "body": <Notification>}``; ``receiverInfo`` entries go into ``metadata``.  QoS comes from
    ``notifierInfo`` ``MQTT-QoS`` (default 0, as in the specification), the protocol from
    ``MQTT-Version`` (``mqtt3.1.1`` by default, or ``mqtt5.0``).
    """

    def __init__(self) -> None:
        self._connections: dict[_BrokerKey, _Connection] = {}
        self._lock = threading.Lock()

    def send(self, delivery: Delivery, rendered: Rendered, timeout: float) -> None:
        """Publish one notification; DeliveryFailed when the broker does not take it in time."""
        import paho.mqtt.client as mqtt

        endpoint = delivery.endpoint
        parts = urlsplit(endpoint.uri)
        topic = unquote(parts.path[1:]) if parts.path else ""
        if not topic or parts.hostname is None:
            raise DeliveryFailed(f"invalid MQTT endpoint {endpoint.uri}")
        tls = parts.scheme.lower() == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise DeliveryFailed(f"invalid MQTT port in {endpoint.uri}") from exc
        key = _BrokerKey(
            host=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            version=endpoint.notifier_value("MQTT-Version") or "mqtt3.1.1",
        )
        qos = int(endpoint.notifier_value("MQTT-QoS") or 0)
        metadata: dict[str, str] = {"Content-Type": rendered.content_type, "NGSILD-Tenant": delivery.tenant}
        if rendered.link is not None:
            metadata["Link"] = rendered.link
        for name, value in endpoint.receiver_info:
            metadata[name] = value
        payload = orjson.dumps({"metadata": metadata, "body": rendered.notification})
        connection = self._connection(key, timeout)
        try:
            info = connection.client.publish(topic, payload, qos=qos)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise DeliveryFailed(f"MQTT publish failed: {mqtt.error_string(info.rc)}")
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise DeliveryFailed(f"the MQTT broker did not take the message within {timeout:g} s")
        except (DeliveryFailed, RuntimeError, ValueError, OSError) as exc:
            self._drop(key, connection)
            if isinstance(exc, DeliveryFailed):
                raise
            raise DeliveryFailed(f"MQTT publish failed: {exc}") from exc

    def _connection(self, key: _BrokerKey, timeout: float) -> _Connection:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        with self._lock:
            existing = self._connections.get(key)
        if existing is not None and existing.connected.is_set():
            return existing
        if existing is not None:
            self._drop(key, existing)
        protocol = mqtt.MQTTv5 if key.version == "mqtt5.0" else mqtt.MQTTv311
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=protocol)
        connection = _Connection(client)

        def on_connect(_client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any) -> None:
            if not reason_code.is_failure:
                connection.connected.set()

        def on_disconnect(*_args: Any) -> None:
            connection.connected.clear()

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        if key.username is not None:
            client.username_pw_set(key.username, key.password)
        if key.tls:
            client.tls_set()
        client.connect_timeout = max(timeout, 0.1)
        try:
            client.connect(key.host, key.port, keepalive=60)
        except (OSError, ValueError) as exc:
            raise DeliveryFailed(f"cannot connect to the MQTT broker {key.host}:{key.port}: {exc}") from exc
        client.loop_start()
        if not connection.connected.wait(timeout):
            with contextlib.suppress(Exception):
                client.loop_stop()
                client.disconnect()
            raise DeliveryFailed(f"the MQTT broker {key.host}:{key.port} did not accept the connection")
        with self._lock:
            other = self._connections.get(key)
            if other is not None and other.connected.is_set():
                keep, spare = other, connection  # another worker connected meanwhile: keep one
            else:
                self._connections[key] = keep = connection
                spare = None
        if spare is not None:
            self._close(spare)
        return keep

    def _drop(self, key: _BrokerKey, connection: _Connection) -> None:
        with self._lock:
            if self._connections.get(key) is connection:
                del self._connections[key]
        self._close(connection)

    @staticmethod
    def _close(connection: _Connection) -> None:
        with contextlib.suppress(Exception):
            connection.client.disconnect()
            connection.client.loop_stop()

    def close(self) -> None:
        """Disconnect from every broker."""
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for connection in connections:
            self._close(connection)


# ---------------------------------------------------------------------------
# The dispatcher
# ---------------------------------------------------------------------------


class Dispatcher:
    """Bounded, per-subscription-lane queue served by a pool of delivery threads."""

    def __init__(
        self,
        *,
        workers: int,
        queue_max: int,
        retries: int,
        backoff: float,
        timeout: float,
        on_outcome: Outcome,
        now: Callable[[], datetime],
        timer: Timer,
    ) -> None:
        self.workers = max(1, workers)
        self.queue_max = max(1, queue_max)
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self.timeout = timeout
        self._on_outcome = on_outcome
        self._now = now
        self._timer = timer
        self._cond = threading.Condition()
        self._lanes: dict[Key, deque[Delivery]] = {}
        self._ready: deque[Key] = deque()
        self._queued: set[Key] = set()  # keys in _ready
        self._busy: set[Key] = set()
        self._blocked: dict[Key, float] = {}  # cooldown: lane held until this monotonic time
        self._total = 0
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.dropped = 0
        self.http = HttpTransport()
        self.mqtt = MqttTransport()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the delivery threads (idempotent)."""
        with self._cond:
            if self._threads:
                return
            self._stopping = False
            # Fresh transports: a stopped dispatcher closed its connections.
            self.http = HttpTransport()
            self.mqtt = MqttTransport()
            for number in range(self.workers):
                thread = threading.Thread(target=self._work, name=f"urbis-notifier-{number}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads (a delivery in progress may finish); undelivered notifications are lost."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.http.close()
        self.mqtt.close()

    def pending(self) -> int:
        """Notifications waiting (not counting ones being delivered or waiting to be retried)."""
        with self._cond:
            return self._total

    # -- queueing --------------------------------------------------------------------------

    def submit(self, delivery: Delivery) -> None:
        """Queue a notification; never blocks (beyond a short lock)."""
        dropped: Delivery | None = None
        with self._cond:
            if self._stopping:
                return
            if self._total >= self.queue_max:
                dropped = self._drop_oldest_locked()
            lane = self._lanes.get(delivery.key)
            if lane is None:
                lane = self._lanes[delivery.key] = deque()
            lane.append(delivery)
            self._total += 1
            self._make_ready_locked(delivery.key)
        if dropped is not None:
            self.dropped += 1
            self._on_outcome(dropped.key, False, self._now(), "dropped: the notification queue is full", sent=False)

    def _drop_oldest_locked(self) -> Delivery | None:
        if not self._lanes:
            return None
        key = max(self._lanes, key=lambda k: len(self._lanes[k]))
        lane = self._lanes[key]
        if not lane:
            return None
        self._total -= 1
        dropped = lane.popleft()
        if not lane and key not in self._busy:
            self._forget_lane_locked(key)
        return dropped

    def _forget_lane_locked(self, key: Key) -> None:
        self._lanes.pop(key, None)
        if key in self._queued:
            self._queued.discard(key)
            with contextlib.suppress(ValueError):
                self._ready.remove(key)

    def _make_ready_locked(self, key: Key) -> None:
        if key in self._busy or key in self._queued or not self._lanes.get(key):
            return
        until = self._blocked.get(key)
        if until is not None:
            if until > time.monotonic():
                return
            del self._blocked[key]
        self._ready.append(key)
        self._queued.add(key)
        self._cond.notify()

    def _unblock(self, key: Key) -> None:
        with self._cond:
            until = self._blocked.get(key)
            if until is not None and until <= time.monotonic():
                del self._blocked[key]
            self._make_ready_locked(key)

    # -- delivering ------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._ready:
                    self._cond.wait()
                if self._stopping:
                    return
                key = self._ready.popleft()
                self._queued.discard(key)
                lane = self._lanes[key]
                delivery = lane.popleft()
                self._total -= 1
                self._busy.add(key)
            try:
                self._deliver(delivery)
            except Exception:  # a bug in rendering or a transport must never kill the worker
                log.exception("delivering a notification of %s failed unexpectedly", key[1])
            finally:
                with self._cond:
                    self._busy.discard(key)
                    if self._lanes.get(key):
                        self._make_ready_locked(key)
                    elif key in self._lanes:
                        self._forget_lane_locked(key)

    def _deliver(self, delivery: Delivery) -> None:
        if delivery.rendered is None:
            delivery.rendered = delivery.render()
            if delivery.rendered is None:
                return
        endpoint = delivery.endpoint
        timeout = endpoint.timeout or self.timeout
        try:
            self._send(delivery, delivery.rendered, timeout)
        except Exception as exc:  # noqa: BLE001 - DeliveryFailed, or anything a local callback raises
            detail = str(exc) if isinstance(exc, DeliveryFailed) else f"{exc.__class__.__name__}: {exc}"
            log.info("notification of subscription %s to %s failed: %s", delivery.key[1], endpoint.uri, detail)
            self._on_outcome(delivery.key, False, self._now(), detail, sent=True)
            self._after_failure(delivery)
            return
        self._on_outcome(delivery.key, True, self._now(), "", sent=True)

    def _send(self, delivery: Delivery, rendered: Rendered, timeout: float) -> None:
        if delivery.callback is not None:
            delivery.callback(rendered.notification)
            return
        scheme = delivery.endpoint.scheme
        if scheme in ("http", "https"):
            self.http.send(delivery, rendered, timeout)
        elif scheme in ("mqtt", "mqtts"):
            self.mqtt.send(delivery, rendered, timeout)
        else:
            raise DeliveryFailed(f"no transport for endpoint scheme {scheme!r}")

    def _after_failure(self, delivery: Delivery) -> None:
        cooldown = delivery.endpoint.cooldown
        if cooldown > 0:
            with self._cond:
                self._blocked[delivery.key] = time.monotonic() + cooldown
            self._timer.call_later(cooldown, lambda: self._unblock(delivery.key))
        # In-process callbacks are not retried: a bug in a solution does not fix itself.
        if delivery.callback is None and delivery.attempt < self.retries:
            delay = self.backoff * (2**delivery.attempt)
            delivery.attempt += 1
            self._timer.call_later(delay, lambda: self.submit(delivery))


def link_header(url: str) -> str:
    """The JSON-LD ``Link`` header naming an @context."""
    return f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="{JSON_LD}"'
