"""Getting the simulated devices' messages into Urbis: HTTP (gateway or per device) and MQTT.

Only the public ingestion interfaces are used (see ``docs/simulator.md``):

- HTTP gateway batches: ``POST /api/v1/ingest/{tenant}/gateways/{gateway}`` with
  ``{"<device>": [{"ts": ..., ...}, ...]}``, authenticated by the gateway's token, split into
  requests of at most ``batch_size`` measure objects, several requests in flight;
- HTTP per device: ``POST /api/v1/ingest/{tenant}/devices/{device}`` with an array;
- MQTT: QoS 1 publishes to ``<prefix>/<tenant>/<device>/attrs`` (or the gateway topic
  ``<prefix>/<tenant>/<gateway>/gateway``), waiting for the broker's acknowledgements so a
  backfill cannot outrun the broker.

Transient failures (connection refused, 429, 5xx) are retried with back-off; a request that
still fails is counted, never fatal, so a restarting server costs a few measures at worst.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit

import httpx
import orjson

from urbis.sim.engine import Message

log = logging.getLogger(__name__)

HttpMode = Literal["gateway", "device"]


@dataclass
class SendStats:
    """What a transport did so far."""

    messages: int = 0  # device messages handed to the transport
    requests: int = 0  # HTTP requests or MQTT publishes completed
    accepted: int = 0  # measure objects the server accepted (HTTP) or the broker acknowledged (MQTT)
    rejected: int = 0  # measure objects the server refused (they are in its dead-letter store)
    failed: int = 0  # measure objects lost after every retry
    retries: int = 0
    errors: list[str] = field(default_factory=list)  # the first few distinct error texts

    def note_error(self, text: str) -> None:
        """Keep a short, deduplicated list of what went wrong (for the final report)."""
        if text not in self.errors and len(self.errors) < 10:
            self.errors.append(text)
            log.warning("simulator transport: %s", text)


class Transport(Protocol):
    """Where the simulator's messages go."""

    stats: SendStats

    async def send(self, messages: Sequence[Message]) -> None:
        """Hand over messages; may return before they are delivered (see :meth:`flush`)."""
        ...

    async def flush(self) -> None:
        """Wait until everything handed over is delivered or given up."""
        ...

    async def close(self) -> None:
        """Flush and release connections."""
        ...


TokenRefresher = Callable[[str], Awaitable[str | None]]


class HttpTransport:
    """Sends messages over the HTTP ingestion endpoints."""

    def __init__(
        self,
        base_url: str,
        tenant: str,
        tokens: Mapping[str, str],
        *,
        mode: HttpMode = "gateway",
        batch_size: int = 5000,
        concurrency: int = 4,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff: float = 0.5,
        refresh_token: TokenRefresher | None = None,
        client: httpx.AsyncClient | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.tenant = tenant
        self.tokens = dict(tokens)
        self.mode = mode
        self.batch_size = max(1, batch_size)
        self.max_retries = max_retries
        self.backoff = backoff
        self.refresh_token = refresh_token
        self.stats = SendStats()
        self._client = client or httpx.AsyncClient(
            timeout=timeout, limits=httpx.Limits(max_connections=concurrency * 2)
        )
        self._own_client = client is None
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._pending: set[asyncio.Task[None]] = set()
        self._refreshing = asyncio.Lock()

    # -- building requests ------------------------------------------------------------

    def requests(self, messages: Sequence[Message]) -> list[tuple[str, str, Any, int]]:
        """``(sender id, path, body, measure objects)`` for the messages, split by ``batch_size``."""
        tenant = quote(self.tenant, safe="")
        out: list[tuple[str, str, Any, int]] = []
        if self.mode == "device":
            per_device: dict[str, list[dict[str, Any]]] = {}
            for message in messages:
                per_device.setdefault(message.device_id, []).append(message.payload())
            for device_id, payloads in per_device.items():
                path = f"/api/v1/ingest/{tenant}/devices/{quote(device_id, safe='')}"
                for start in range(0, len(payloads), self.batch_size):
                    chunk = payloads[start : start + self.batch_size]
                    out.append((device_id, path, chunk if len(chunk) > 1 else chunk[0], len(chunk)))
            return out
        per_gateway: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for message in messages:
            if message.gateway_id is None:
                raise ValueError(f"device {message.device_id!r} has no gateway: use the per-device mode")
            per_gateway.setdefault(message.gateway_id, {}).setdefault(message.device_id, []).append(message.payload())
        for gateway_id, devices in per_gateway.items():
            path = f"/api/v1/ingest/{tenant}/gateways/{quote(gateway_id, safe='')}"
            body: dict[str, list[dict[str, Any]]] = {}
            count = 0
            for device_id, payloads in devices.items():
                for payload in payloads:
                    body.setdefault(device_id, []).append(payload)
                    count += 1
                    if count >= self.batch_size:
                        out.append((gateway_id, path, body, count))
                        body, count = {}, 0
            if count:
                out.append((gateway_id, path, body, count))
        return out

    # -- sending ------------------------------------------------------------------------

    async def send(self, messages: Sequence[Message]) -> None:
        """Start the requests for ``messages``; returns once all are under way (at most ``concurrency`` at once)."""
        self.stats.messages += len(messages)
        for sender, path, body, count in self.requests(messages):
            await self._slots.acquire()
            task = asyncio.create_task(self._post(sender, path, body, count))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Wait for every request under way."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        """Flush, then close the HTTP client (if this transport made it)."""
        await self.flush()
        if self._own_client:
            await self._client.aclose()

    async def _post(self, sender: str, path: str, body: Any, count: int) -> None:
        try:
            await self._deliver(sender, path, orjson.dumps(body), count)
        except Exception as exc:  # noqa: BLE001 - a request must never kill the simulation
            self.stats.failed += count
            self.stats.note_error(f"{path}: {type(exc).__name__}: {exc}")
        finally:
            self._slots.release()

    async def _deliver(self, sender: str, path: str, content: bytes, count: int) -> None:
        refreshed = False
        attempt = 0
        while True:
            token = self.tokens.get(sender)
            if token is None:
                self.stats.failed += count
                self.stats.note_error(f"no token for {sender!r}: provision it first")
                return
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            try:
                response = await self._client.post(self.base_url + path, content=content, headers=headers)
            except httpx.TransportError as exc:
                if await self._retry(attempt, f"{path}: {type(exc).__name__}: {exc}"):
                    attempt += 1
                    continue
                self.stats.failed += count
                return
            status = response.status_code
            if status == 200:
                self.stats.requests += 1
                self._count(response, count)
                return
            if status == 401 and not refreshed and self.refresh_token is not None:
                # A token from an old run (rotated or re-provisioned since): get a fresh one once.
                # Requests in flight for the same sender all fail together; only the first rotates,
                # the others retry with the token it got (a second rotation would void the first).
                refreshed = True
                async with self._refreshing:
                    if self.tokens.get(sender) != token:
                        continue
                    new_token = await self.refresh_token(sender)
                if new_token is not None:
                    self.tokens[sender] = new_token
                    continue
            if status == 413 and count > 1:
                await self._split(sender, path, content)
                return
            transient = status == 429 or status >= 500
            if transient and await self._retry(attempt, f"{path}: HTTP {status}"):
                attempt += 1
                continue
            self.stats.failed += count
            self.stats.note_error(f"{path}: HTTP {status}: {response.text[:300]}")
            return

    async def _retry(self, attempt: int, text: str) -> bool:
        if attempt >= self.max_retries:
            self.stats.note_error(f"giving up after {attempt + 1} attempts: {text}")
            return False
        self.stats.retries += 1
        await asyncio.sleep(min(30.0, self.backoff * 2**attempt))
        return True

    async def _split(self, sender: str, path: str, content: bytes) -> None:
        """The server found the request too large: send it in two halves."""
        body = orjson.loads(content)
        if isinstance(body, list):
            halves: list[Any] = [body[: len(body) // 2], body[len(body) // 2 :]]
            counts = [len(h) for h in halves]
        else:
            items = [(device, payload) for device, payloads in body.items() for payload in payloads]
            middle = len(items) // 2
            halves, counts = [], []
            for part in (items[:middle], items[middle:]):
                half: dict[str, list[Any]] = {}
                for device, payload in part:
                    half.setdefault(device, []).append(payload)
                halves.append(half)
                counts.append(len(part))
        for half, count in zip(halves, counts, strict=True):
            if count:
                await self._deliver(sender, path, orjson.dumps(half), count)

    def _count(self, response: httpx.Response, count: int) -> None:
        try:
            answer = response.json()
        except ValueError:
            self.stats.accepted += count
            return
        rejected = answer.get("rejected") if isinstance(answer, dict) else None
        accepted = answer.get("accepted") if isinstance(answer, dict) else None
        if isinstance(rejected, list) and rejected:
            self.stats.rejected += len(rejected)
            first = rejected[0]
            if isinstance(first, dict):
                self.stats.note_error(f"rejected: {first.get('reason')}: {str(first.get('detail'))[:200]}")
        self.stats.accepted += accepted if isinstance(accepted, int) else count


class MqttTransport:
    """Publishes messages to the broker with QoS 1 and waits for the acknowledgements."""

    def __init__(
        self,
        url: str,
        tenant: str,
        *,
        prefix: str = "urbis",
        gateway_mode: bool = False,
        client_id: str | None = None,
        max_inflight: int = 1000,
        ack_timeout: float = 120.0,
    ):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "tcp", ""):
            raise ValueError(f"only mqtt:// URLs are supported, got {url!r}")
        self.tenant = tenant
        self.prefix = prefix
        self.gateway_mode = gateway_mode
        self.ack_timeout = ack_timeout
        self.stats = SendStats()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"urbis-sim-{os.getpid()}",
            clean_session=True,
        )
        if parts.username:
            self._client.username_pw_set(parts.username, parts.password)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._connected = threading.Event()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_args: self._connected.clear()
        self._client.connect_async(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=30)
        self._client.loop_start()
        self._waiting: list[tuple[Any, int]] = []

    def _on_connect(self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _properties: Any = None) -> None:
        if not getattr(reason, "is_failure", False):
            self._connected.set()
        else:
            self.stats.note_error(f"MQTT connection refused: {reason}")

    def topic(self, sender: str) -> str:
        """The uplink topic of a device (or a gateway in gateway mode)."""
        kind = "gateway" if self.gateway_mode else "attrs"
        return f"{self.prefix}/{self.tenant}/{sender}/{kind}"

    def payloads(self, messages: Sequence[Message]) -> list[tuple[str, bytes, int]]:
        """``(topic, payload, measure objects)`` for the messages: one publish per device (or gateway)."""
        if self.gateway_mode:
            per_gateway: dict[str, dict[str, list[dict[str, Any]]]] = {}
            for message in messages:
                if message.gateway_id is None:
                    raise ValueError(f"device {message.device_id!r} has no gateway")
                per_gateway.setdefault(message.gateway_id, {}).setdefault(message.device_id, []).append(
                    message.payload()
                )
            return [
                (self.topic(gateway), orjson.dumps(body), sum(len(v) for v in body.values()))
                for gateway, body in per_gateway.items()
            ]
        per_device: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            per_device.setdefault(message.device_id, []).append(message.payload())
        return [
            (self.topic(device), orjson.dumps(items if len(items) > 1 else items[0]), len(items))
            for device, items in per_device.items()
        ]

    async def send(self, messages: Sequence[Message]) -> None:
        """Publish; first waits for the previous call's acknowledgements (one batch in flight)."""
        await self.flush()
        if not self._connected.is_set():
            # Publishes made while disconnected are queued by the client and sent on connect;
            # waiting here only keeps the queue from growing without bound.
            await asyncio.to_thread(self._connected.wait, self.ack_timeout)
        self.stats.messages += len(messages)
        for topic, payload, count in self.payloads(messages):
            info = self._client.publish(topic, payload, qos=1)
            self._waiting.append((info, count))

    async def flush(self) -> None:
        """Wait until the broker acknowledged every publish so far."""
        waiting, self._waiting = self._waiting, []
        if not waiting:
            return
        await asyncio.to_thread(self._wait, waiting)

    def _wait(self, waiting: list[tuple[Any, int]]) -> None:
        deadline = time.monotonic() + self.ack_timeout
        for info, count in waiting:
            # A QoS 1 message published while the connection was down stays queued in the client
            # and goes out after the reconnect: keep waiting for its acknowledgement until the deadline.
            while not info.is_published() and time.monotonic() < deadline:
                try:
                    info.wait_for_publish(min(1.0, max(0.0, deadline - time.monotonic())))
                except (RuntimeError, ValueError):
                    time.sleep(0.05)
            if info.is_published():
                self.stats.requests += 1
                self.stats.accepted += count
            else:
                self.stats.failed += count
                self.stats.note_error("MQTT publish not acknowledged in time")

    async def close(self) -> None:
        """Flush, then disconnect."""
        await self.flush()
        self._client.disconnect()
        self._client.loop_stop()
