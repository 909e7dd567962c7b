"""The MQTT bridge: device uplinks in, commands out, over a persistent QoS 1 session.

Urbis keeps one MQTT session per client id (clean start off, a long session
expiry), so the broker queues messages while Urbis is away.  Each message is
acknowledged only after the batch it belongs to is committed: a crash or a
database outage loses nothing the broker handed over, it is simply delivered
again (and stored once, history being keyed by observed time).

The network side is gmqtt on its own asyncio loop, reading the socket in
large chunks.  QoS 1 deliveries are taken straight from gmqtt's packet
handler with their packet id (no task per message) and handed to the writer
thread once per loop pass; the writer drains them in batches, so a burst
becomes a few large transactions, and the PUBACKs of a committed batch go
out in one socket write.  Several processes can share the device topics
through an MQTT 5 shared subscription, each with its own session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import gmqtt
import orjson
from gmqtt.mqtt.constants import UNLIMITED_RECONNECTS, MQTTCommands, MQTTv50
from gmqtt.mqtt.handler import MQTTConnectError
from gmqtt.mqtt.package import CommandWithMidPacket
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


#: Seconds between attempts to reach a broker that is down.
RECONNECT_SECONDS = 2


@dataclass(frozen=True, slots=True)
class _Received:
    tenant: str
    device_id: str
    kind: str
    payload: bytes
    received_us: int
    # Where the message came from and its packet id, for the PUBACK once it is safe (QoS 0: no id).
    connection: Any
    packet_id: int | None


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _acknowledge(batch: Sequence[_Received]) -> None:
    """Send the PUBACKs (reason 0: success) of committed messages, one write per connection.

    A message that came over a connection since lost is not acknowledged: the broker
    delivers it again on the resumed session, and storing it again changes nothing.
    """
    by_connection: dict[int, tuple[Any, list[bytes]]] = {}
    for item in batch:
        if item.packet_id is None:
            continue
        entry = by_connection.setdefault(id(item.connection), (item.connection, []))
        entry[1].append(CommandWithMidPacket.build_package(MQTTCommands.PUBACK, item.packet_id, False))
    for connection, packets in by_connection.values():
        if connection.is_closing():
            continue
        connection.send_package(b"".join(packets))


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
        share_group: str | None = None,
        publishes_commands: bool = True,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.ingest = ingest
        self.commands = commands
        self.prefix = prefix
        self.batch_max = batch_max
        self.clock_us = clock_us
        self.client_id = client_id
        self.share_group = share_group
        # With several sessions, one publishes commands (each must go out once); all record acknowledgements.
        self.publishes_commands = publishes_commands
        self._queue: queue.Queue[list[_Received] | None] = queue.Queue()
        self._arrived: list[_Received] = []  # on the network loop, until handed to the writer
        self._stopping = threading.Event()
        self._writer: threading.Thread | None = None
        self._network: threading.Thread | None = None
        self._connected = threading.Event()
        self.stored_batches = 0
        self.sweep_seconds = sweep_seconds
        self._published: dict[str, None] = {}  # command ids already handed to the broker (ordered)
        self._sweeper: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None
        self._client: gmqtt.Client | None = None

    def topic_filters(self) -> list[str]:
        """What the session subscribes to (inside a shared subscription when a group is set)."""
        filters = [f"{self.prefix}/+/+/{kind}" for kind in ("attrs", "gateway", "cmdexe")]
        if self.share_group:
            return [f"$share/{self.share_group}/{topic}" for topic in filters]
        return filters

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (retrying in the background while the broker is down) and start consuming."""
        self._stopping.clear()
        self._loop = _new_loop()
        self._closing = asyncio.Event()  # here, not in the loop: stop() may come before the loop runs
        self._network = threading.Thread(target=self._run_network, name="mqtt-network", daemon=True)
        self._network.start()
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
        loop, closing = self._loop, self._closing
        if loop is not None and closing is not None and not loop.is_closed():
            # Queued behind the PUBACKs the writer released last: those go out first.
            loop.call_soon_threadsafe(closing.set)
        if self._network is not None:
            self._network.join(timeout=15)

    def wait_connected(self, timeout: float) -> bool:
        """Block until the session is up (tests, start-up checks)."""
        return self._connected.wait(timeout)

    # -- network loop ----------------------------------------------------------------------

    def _run_network(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(self._loop_exception)
        try:
            loop.run_until_complete(self._session())
        finally:
            loop.close()

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # Tasks cancelled on purpose when we stop are no error.
        if isinstance(context.get("exception"), asyncio.CancelledError):
            return
        loop.default_exception_handler(context)

    async def _session(self) -> None:
        assert self._closing is not None
        client = gmqtt.Client(
            self.client_id,
            clean_session=False,
            optimistic_acknowledgement=False,  # we send the PUBACKs, after the commit
            session_expiry_interval=SESSION_EXPIRY_SECONDS,
            receive_maximum=RECEIVE_MAXIMUM,
        )
        client.set_config({"reconnect_retries": UNLIMITED_RECONNECTS, "reconnect_delay": RECONNECT_SECONDS})
        if self.address.username:
            client.set_auth_credentials(self.address.username, self.address.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message_qos0
        # gmqtt would run a task per QoS 1 message and write each PUBACK on its own; its
        # handler's QoS 1 hook (gmqtt pinned to 0.8.x) takes the message and packet id instead.
        handler = client._package_handler
        handler._handle_qos_1_publish_packet = partial(self._on_qos1_message, handler)
        self._client = client
        while not self._closing.is_set():
            try:
                await client.connect(self.address.host, self.address.port, keepalive=30, version=MQTTv50)
                break
            except (OSError, MQTTConnectError) as error:  # unreachable or refused: keep trying until stopped
                log.warning("MQTT broker %s:%s unavailable (%s); retrying", self.address.host, self.address.port, error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), RECONNECT_SECONDS)
        await self._closing.wait()
        self._connected.clear()
        try:
            await asyncio.wait_for(client.disconnect(), 5)
        except Exception:  # already gone: nothing to close politely
            log.debug("MQTT disconnect failed", exc_info=True)
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _on_connect(self, client: gmqtt.Client, _flags: Any, _rc: Any, _properties: Any) -> None:
        client.subscribe([gmqtt.Subscription(topic, qos=1) for topic in self.topic_filters()])
        self._connected.set()
        log.info("MQTT ingestion connected to %s:%s as %s", self.address.host, self.address.port, self.client_id)

    def _on_disconnect(self, _client: gmqtt.Client, _packet: Any, exc: Any = None) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("MQTT broker connection lost (%s); reconnecting", exc)

    def _on_qos1_message(self, handler: Any, packet_id: int, payload: bytes, topic: str, _properties: Any) -> None:
        self._arrive(topic, payload, handler.current_connection, packet_id)

    def _on_message_qos0(self, _client: gmqtt.Client, topic: str, payload: bytes, _qos: int, _properties: Any) -> None:
        self._arrive(topic, payload, None, None)

    def _arrive(self, topic: str, payload: bytes, connection: Any, packet_id: int | None) -> None:
        parts = topic.split("/")
        if len(parts) != 4 or parts[0] != self.prefix:
            # Not ours (a misconfigured ACL): nothing to keep, but the broker must not resend it.
            if packet_id is not None:
                connection.send_package(CommandWithMidPacket.build_package(MQTTCommands.PUBACK, packet_id, False))
            return
        _, tenant, device_id, kind = parts
        if not self._arrived:
            assert self._loop is not None
            self._loop.call_soon(self._hand_over)  # after the rest of this read's packets
        self._arrived.append(_Received(tenant, device_id, kind, bytes(payload), self.clock_us(), connection, packet_id))

    def _hand_over(self) -> None:
        arrived, self._arrived = self._arrived, []
        self._queue.put(arrived)

    # -- writer thread ---------------------------------------------------------------------

    def _take_batch(self) -> list[_Received] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = first
        while len(batch) < self.batch_max:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                self._queue.put(None)  # keep the stop marker for the next round
                break
            batch.extend(more)
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
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(_acknowledge, batch)
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
        loop, client = self._loop, self._client
        if not self.publishes_commands or not self._connected.is_set() or loop is None or client is None:
            return
        if command.command_id in self._published:
            return
        payload = orjson.dumps({"id": command.command_id, "command": command.command, "params": command.params})
        topic = self.command_topic(command.tenant, command.device_id)
        try:
            # gmqtt keeps QoS 1 messages until the broker acknowledges them, across reconnects.
            loop.call_soon_threadsafe(lambda: client.publish(topic, payload, qos=1))
        except RuntimeError:  # the loop closed: stopping
            return
        self._published[command.command_id] = None
        while len(self._published) > 100_000:  # remember recent ids only
            self._published.pop(next(iter(self._published)))

    def sweep(self) -> int:
        """Publish pending commands this process has not published yet (raised anywhere); how many."""
        if self.commands is None or not self.publishes_commands or not self._connected.is_set():
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
