"""The MQTT bridge: device uplinks in, commands out, over a persistent QoS 1 session.

Urbis keeps one MQTT session (a fixed client id, clean start off, a long
session expiry), so the broker queues messages while Urbis is away.  Each
message is acknowledged only after the batch it belongs to is committed:
a crash or a database outage loses nothing the broker handed over, it is
simply delivered again (and stored once, history being keyed by observed
time).  One paho network thread receives; one writer thread drains the queue
in batches so a burst becomes a few large transactions.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from urbis.ingestion.messages import DeviceCommand, RawMessage

log = logging.getLogger(__name__)

#: Session kept by the broker while Urbis is away: a week covers any maintenance window.
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
#: Unacknowledged messages the broker may have in flight to Urbis (MQTT 5 Receive Maximum).
RECEIVE_MAXIMUM = 65535


class Ingest(Protocol):
    """What the bridge needs from the ingestion service."""

    def ingest(self, messages: Sequence[RawMessage]) -> Sequence[Any]:
        """Authenticate, decode, store; raise only when nothing could be stored."""
        ...

    def quarantine(self, message: RawMessage, detail: str) -> None:
        """Dead-letter a message that makes storage fail on its own."""
        ...


def is_transient(error: BaseException) -> bool:
    """Whether a storage failure is the database being away (retry) rather than the data (isolate)."""
    return isinstance(error, OperationalError | InterfaceError | PoolTimeout | TimeoutError | ConnectionError)


class CommandLog(Protocol):
    """What the bridge needs from the command service."""

    def pending(self, *, limit: int = 500) -> list[DeviceCommand]:
        """Commands not yet handed to their device, oldest first."""
        ...

    def record_ack(self, tenant: str, device_id: str, payload: bytes) -> None:
        """Record a device's acknowledgement of a command (``cmdexe``)."""
        ...


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is and how to log in, from an ``mqtt://user:password@host:port`` URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse a broker URL (``mqtt://`` or ``tcp://``)."""
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "tcp") or not parsed.hostname:
            raise ValueError(f"not an MQTT broker URL: {url!r}")
        return cls(
            host=parsed.hostname,
            port=parsed.port or 1883,
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
        )


@dataclass(frozen=True, slots=True)
class _Received:
    mid: int
    qos: int
    tenant: str
    device_id: str
    kind: str
    payload: bytes
    received_us: int


def now_us() -> int:
    """The current time in µs since the epoch."""
    return time.time_ns() // 1000


class MqttBridge:
    """Consumes device topics into ingestion and publishes device commands."""

    def __init__(
        self,
        url: str,
        ingest: Ingest,
        *,
        client_id: str,
        prefix: str = "urbis",
        commands: CommandLog | None = None,
        batch_max: int = 2000,
        clock_us: Callable[[], int] = now_us,
        sweep_seconds: float = 2.0,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.ingest = ingest
        self.commands = commands
        self.prefix = prefix
        self.batch_max = batch_max
        self.clock_us = clock_us
        self.client_id = client_id
        self._queue: queue.Queue[_Received | None] = queue.Queue()
        self._stopping = threading.Event()
        self._writer: threading.Thread | None = None
        self._connected = threading.Event()
        self.stored_batches = 0
        self.sweep_seconds = sweep_seconds
        self._published: dict[str, None] = {}  # command ids already handed to the broker (ordered)
        self._sweeper: threading.Thread | None = None
        self._client = self._make_client()

    # -- lifecycle -------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=15)
        client.max_queued_messages_set(0)
        return client

    def start(self) -> None:
        """Connect (retrying in the background while the broker is down) and start consuming."""
        self._stopping.clear()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self._client.connect_async(
            self.address.host, self.address.port, keepalive=30, clean_start=False, properties=properties
        )
        self._client.loop_start()
        self._writer = threading.Thread(target=self._write_loop, name="mqtt-ingest-writer", daemon=True)
        self._writer.start()
        self._sweeper = threading.Thread(target=self._sweep_loop, name="mqtt-command-sweep", daemon=True)
        self._sweeper.start()

    def stop(self) -> None:
        """Finish the batch in hand, then disconnect; unacknowledged messages stay with the broker."""
        self._stopping.set()
        self._queue.put(None)
        if self._writer is not None:
            self._writer.join(timeout=30)
        if self._sweeper is not None:
            self._sweeper.join(timeout=10)
        self._client.disconnect()
        self._client.loop_stop()

    def wait_connected(self, timeout: float) -> bool:
        """Block until the session is up (tests, start-up checks)."""
        return self._connected.wait(timeout)

    # -- network thread --------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s:%s refused the connection: %s", self.address.host, self.address.port, reason)
            return
        topics = [(f"{self.prefix}/+/+/{kind}", 1) for kind in ("attrs", "gateway", "cmdexe")]
        client.subscribe(topics)
        self._connected.set()
        log.info("MQTT ingestion connected to %s:%s", self.address.host, self.address.port)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("MQTT broker connection lost (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")
        if len(parts) != 4 or parts[0] != self.prefix:
            self._client.ack(message.mid, message.qos)  # not ours (a misconfigured ACL): nothing to keep
            return
        _, tenant, device_id, kind = parts
        self._queue.put(
            _Received(message.mid, message.qos, tenant, device_id, kind, bytes(message.payload), self.clock_us())
        )

    # -- writer thread ---------------------------------------------------------------------

    def _take_batch(self) -> list[_Received] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < self.batch_max:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # keep the stop marker for the next round
                break
            batch.append(item)
        return batch

    def _write_loop(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            delay = 0.2
            while True:
                try:
                    self._store(batch)
                    break
                except Exception as error:
                    if self._stopping.is_set():
                        return  # unacknowledged: the broker delivers these again next time
                    if not is_transient(error):
                        # The data, not the database: find the message(s) at fault so they
                        # cannot block everything behind them.
                        self._isolate(batch)
                        break
                    log.exception("storing %d MQTT messages failed; retrying in %.1f s", len(batch), delay)
                    self._stopping.wait(delay)
                    delay = min(delay * 2, 10.0)
            for item in batch:
                self._client.ack(item.mid, item.qos)
            self.stored_batches += 1

    def _isolate(self, batch: Sequence[_Received]) -> None:
        """Store the messages of a failed batch one by one; quarantine those that fail alone.

        A transient failure here propagates, so the batch stays unacknowledged and is retried.
        """
        for item in batch:
            try:
                self._store([item])
            except Exception as error:
                if is_transient(error):
                    raise
                log.exception(
                    "an MQTT message from %s/%s made storage fail; dead-lettered", item.tenant, item.device_id
                )
                self.ingest.quarantine(self._raw(item), f"storage failed on this message: {error!r:.500}")

    @staticmethod
    def _raw(item: _Received) -> RawMessage:
        return RawMessage(
            tenant=item.tenant,
            device_id=item.device_id,
            payload=item.payload,
            received_us=item.received_us,
            transport="mqtt",
            kind="gateway" if item.kind == "gateway" else "device",
        )

    def _store(self, batch: Sequence[_Received]) -> None:
        uplinks: list[RawMessage] = []
        for item in batch:
            if item.kind == "cmdexe":
                if self.commands is not None:
                    self.commands.record_ack(item.tenant, item.device_id, item.payload)
                continue
            uplinks.append(self._raw(item))
        if uplinks:
            self.ingest.ingest(uplinks)

    # -- commands --------------------------------------------------------------------------

    def command_topic(self, tenant: str, device_id: str) -> str:
        """The downlink topic of a device."""
        return f"{self.prefix}/{tenant}/{device_id}/cmd"

    def send_command(self, command: DeviceCommand) -> None:
        """Publish a command to its device (QoS 1), if this process holds the MQTT session.

        The command stays ``pending`` until the device acknowledges it on ``cmdexe``: a
        device polling over HTTP still finds it, and the publish only proves the broker
        has it.  Commands raised in other processes reach the broker through :meth:`sweep`.
        """
        if not self._connected.is_set() or command.command_id in self._published:
            return
        payload = orjson.dumps({"id": command.command_id, "command": command.command, "params": command.params})
        info = self._client.publish(self.command_topic(command.tenant, command.device_id), payload, qos=1)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self._published[command.command_id] = None
            while len(self._published) > 100_000:  # remember recent ids only
                self._published.pop(next(iter(self._published)))

    def sweep(self) -> int:
        """Publish pending commands this process has not published yet (raised anywhere); how many."""
        if self.commands is None or not self._connected.is_set():
            return 0
        sent = 0
        for command in self.commands.pending():
            if command.command_id not in self._published:
                self.send_command(command)
                sent += 1
        return sent

    def _sweep_loop(self) -> None:
        while not self._stopping.wait(self.sweep_seconds):
            try:
                self.sweep()
            except Exception:  # the database may be away; the next sweep retries
                log.exception("publishing pending commands failed")


def new_client_id(base: str) -> str:
    """A unique client id derived from ``base`` (tests and tools that must not take Urbis's session)."""
    return f"{base}-{uuid.uuid4().hex[:8]}"
