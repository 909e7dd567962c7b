"""Ingestion services: the device registry, the ingestion hot path, device commands and dead letters.

* :class:`DeviceService` provisions, changes, revokes and deletes devices and their tokens.
* :class:`IngestionService` turns raw messages into readings for the :class:`ReadingSink`,
  rejecting bad input into the dead-letter store; it never raises for bad input.
* :class:`CommandService` stores commands for devices, publishes them for the MQTT bridge,
  lets HTTP devices poll them and records acknowledgements.
* :class:`DeadLetterService` keeps what was rejected, for operators, until retention drops it.

Devices are looked up through a :class:`DeviceDirectory`: an in-memory cache with a short
lifetime that the device service invalidates on every change it makes.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
import uuid
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import Row

from urbis.core.bus import EventBus
from urbis.core.clock import Clock, SystemClock
from urbis.core.db import Database
from urbis.core.errors import (
    AlreadyExists,
    BadRequestData,
    Conflict,
    NotFound,
    PolicyDenied,
    Unauthenticated,
)
from urbis.ingestion import store
from urbis.ingestion.credentials import digest_matches, mosquitto_hash, new_token, token_digest
from urbis.ingestion.decoders import (
    BAD_TOKEN,
    MALFORMED,
    NOT_A_GATEWAY_MEMBER,
    REVOKED,
    STORAGE,
    UNKNOWN_DEVICE,
    PayloadError,
    Rejection,
    decode_json,
    device_entries,
    gateway_entries,
    map_entries,
    member_entries,
)
from urbis.ingestion.devices import (
    TENANT,
    TIMESTAMP_KEY,
    CompiledDevice,
    Device,
    DeviceSpec,
    ImportRow,
    apply_patch,
    check_command_name,
    compile_device,
    is_device_id,
    mapping_to_json,
    parse_device,
    respec,
    with_state,
)
from urbis.ingestion.messages import DeviceCommand, DeviceReadings, Measure, RawMessage, ReadingSink, Transport
from urbis.ingestion.mqtt_security import MqttCredential
from urbis.ingestion.profiles import PROFILES

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How much of a rejected payload the dead-letter store keeps.
DEADLETTER_PAYLOAD_MAX = 16 * 1024
#: How many individual rejections one dead letter lists.
DEADLETTER_REJECTIONS_MAX = 100
#: A device's last-seen time is written at most this often (µs): one UPDATE a minute, not one per message.
LAST_SEEN_INTERVAL_US = 60_000_000
#: Largest JSON size of a command's parameters.
COMMAND_PARAMS_MAX = 16 * 1024
#: Largest number of devices in one bulk import.
IMPORT_MAX = 100_000


def us_to_datetime(us: int) -> datetime:
    """µs since the epoch as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


def datetime_to_us(moment: datetime) -> int:
    """An aware datetime as µs since the epoch."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


# -- metrics ----------------------------------------------------------------------------------


class IngestMetrics:
    """Prometheus counters of ingestion, registered in the app's registry (exposed at ``/metrics``)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.measures = Counter(
            "urbis_ingest_measures",
            "Device measures by transport and outcome (accepted, rejected, duplicate)",
            ["transport", "outcome"],
            registry=self.registry,
        )
        self.messages = Counter(
            "urbis_ingest_messages", "Device messages received, by transport", ["transport"], registry=self.registry
        )
        self.deadletters = Counter(
            "urbis_deadletters", "Dead letters stored, by rejection reason", ["reason"], registry=self.registry
        )


# -- the device directory (cache) -------------------------------------------------------------

DeviceKey = tuple[str, str]


class DeviceDirectory:
    """Compiled devices by (tenant, device id), cached in memory for a short time.

    The cache spares the hot path a query per message.  Changes made through
    :class:`DeviceService` invalidate their entries at once; changes made by other
    processes are seen after at most ``ttl`` seconds (unknown ids: ``negative_ttl``).
    """

    def __init__(
        self,
        db: Database,
        *,
        ttl: float = 30.0,
        negative_ttl: float = 5.0,
        max_entries: int = 500_000,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.db = db
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[DeviceKey, tuple[float, CompiledDevice | None]] = {}

    def resolve(self, keys: Iterable[DeviceKey]) -> dict[DeviceKey, CompiledDevice | None]:
        """The compiled device (or None when unknown) for every key; misses cost one query per tenant."""
        now = self._monotonic()
        found: dict[DeviceKey, CompiledDevice | None] = {}
        missing: dict[str, list[str]] = {}
        entries = self._entries
        for key in keys:
            if key in found:
                continue
            entry = entries.get(key)
            if entry is not None and entry[0] > now:
                found[key] = entry[1]
            else:
                missing.setdefault(key[0], []).append(key[1])
        if missing:
            loaded = self._load(missing)
            if len(entries) + len(loaded) > self.max_entries:
                entries.clear()  # a flood of made-up ids must not grow memory without bound
            positive, negative = now + self.ttl, now + self.negative_ttl
            for key, device in loaded.items():
                entries[key] = (positive if device is not None else negative, device)
                found[key] = device
        return found

    def get(self, tenant: str, device_id: str) -> CompiledDevice | None:
        """One compiled device, or None."""
        return self.resolve([(tenant, device_id)])[(tenant, device_id)]

    def _load(self, missing: dict[str, list[str]]) -> dict[DeviceKey, CompiledDevice | None]:
        loaded: dict[DeviceKey, CompiledDevice | None] = {}
        with self.db.read() as conn:
            for tenant, ids in missing.items():
                for device_id in ids:
                    loaded[(tenant, device_id)] = None
                # Strings that cannot be device ids (too long, NUL, '/') are unknown without a query.
                query_ids = [i for i in ids if is_device_id(i)]
                if not TENANT.match(tenant) or not query_ids:
                    continue
                for row in store.get_device_rows(conn, tenant, query_ids):
                    loaded[(tenant, row.device_id)] = compile_device(store.device_of(row), row.token_sha256)
        return loaded

    def invalidate(self, tenant: str, device_id: str) -> None:
        """Forget one device (it changed)."""
        self._entries.pop((tenant, device_id), None)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()


# -- dead letters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    """A rejected message (or the rejected part of one), kept for inspection."""

    id: str
    tenant: str
    device_id: str
    transport: str
    reason: str
    detail: str
    count: int
    rejections: list[dict[str, Any]]
    payload: bytes
    payload_size: int
    received_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The dead letter as the API shows it (the payload as text, or base64 when it is not UTF-8)."""
        try:
            payload, encoding = self.payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            import base64

            payload, encoding = base64.b64encode(self.payload).decode(), "base64"
        return {
            "id": self.id,
            "deviceId": self.device_id,
            "transport": self.transport,
            "reason": self.reason,
            "detail": self.detail,
            "count": self.count,
            "rejections": self.rejections,
            "payload": payload,
            "payloadEncoding": encoding,
            "payloadSize": self.payload_size,
            "payloadTruncated": self.payload_size > len(self.payload),
            "receivedAt": _iso(self.received_at),
        }


def _deadletter_of(row: Row[Any]) -> DeadLetter:
    return DeadLetter(
        id=row.deadletter_id,
        tenant=row.tenant,
        device_id=row.device_id,
        transport=row.transport,
        reason=row.reason,
        detail=row.detail,
        count=row._mapping["count"],
        rejections=orjson.loads(row.rejections),
        payload=bytes(row.payload),
        payload_size=row.payload_size,
        received_at=row.received_at,
    )


def _printable(text: str) -> str:
    # PostgreSQL text cannot hold NUL; whatever a device claims is kept, visibly escaped.
    return text.replace("\x00", "\\x00") if "\x00" in text else text


_DEADLETTER_ID = re.compile(r"^[0-9a-f]{26}$")
_COMMAND_ID = re.compile(r"^[A-Za-z0-9_\-.:]{1,64}$")


def deadletter_row(
    *,
    tenant: str,
    device_id: str,
    transport: str,
    reason: str,
    detail: str,
    payload: bytes,
    received_us: int,
    rejections: Sequence[Rejection] = (),
    count: int = 1,
) -> dict[str, Any]:
    """A ``device_deadletters`` row (values bounded to the columns, NUL characters escaped for PostgreSQL)."""
    return {
        "tenant": _printable(tenant)[: store.TENANT_LENGTH],
        # Time-ordered ids: newest-first listing and retention follow the key.
        "deadletter_id": f"{max(received_us, 0):014x}{secrets.token_hex(6)}",
        "device_id": _printable(device_id)[: store.DEVICE_ID_LENGTH],
        "transport": transport[:16],
        "reason": reason[:32],
        "detail": _printable(detail)[:2000],
        "count": count,
        "rejections": orjson.dumps([r.to_json() for r in rejections[:DEADLETTER_REJECTIONS_MAX]]).decode(),
        "payload": payload[:DEADLETTER_PAYLOAD_MAX],
        "payload_size": len(payload),
        "received_at": us_to_datetime(max(received_us, 0)),
    }


class DeadLetterService:
    """The dead-letter store: rejected device input, readable by operators, dropped after retention."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock | None = None,
        retention_days: int = 30,
        metrics: IngestMetrics | None = None,
    ):
        self.db = db
        self.clock = clock or SystemClock()
        self.retention_days = retention_days
        self.metrics = metrics or IngestMetrics()

    def write(self, conn: Any, rows: Sequence[dict[str, Any]]) -> None:
        """Store dead-letter rows in the caller's transaction and count them."""
        if not rows:
            return
        store.insert_deadletters(conn, rows)
        for reason, count in Tally(row["reason"] for row in rows).items():
            self.metrics.deadletters.labels(reason).inc(count)

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store dead-letter rows in a transaction of their own."""
        if rows:
            with self.db.write() as conn:
                self.write(conn, rows)

    def list_deadletters(
        self,
        tenant: str,
        *,
        device_id: str | None = None,
        reason: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[DeadLetter], int]:
        """A page of the tenant's dead letters (newest first) and the total matching."""
        with self.db.read() as conn:
            rows, total = store.list_deadletter_rows(
                conn, tenant, device_id=device_id, reason=reason, since=since, limit=limit, offset=offset
            )
        return [_deadletter_of(row) for row in rows], total

    def get(self, tenant: str, deadletter_id: str) -> DeadLetter:
        """One dead letter; :class:`NotFound` when absent."""
        row = None
        if _DEADLETTER_ID.match(deadletter_id):
            with self.db.read() as conn:
                row = store.get_deadletter_row(conn, tenant, deadletter_id)
        if row is None:
            raise NotFound(f"no dead letter {deadletter_id!r:.60} in tenant '{tenant}'")
        return _deadletter_of(row)

    def delete(self, tenant: str, deadletter_id: str) -> None:
        """Discard one dead letter; :class:`NotFound` when absent."""
        if not _DEADLETTER_ID.match(deadletter_id):
            raise NotFound(f"no dead letter {deadletter_id!r:.60} in tenant '{tenant}'")
        with self.db.write() as conn:
            if not store.delete_deadletter(conn, tenant, deadletter_id):
                raise NotFound(f"no dead letter {deadletter_id!r:.60} in tenant '{tenant}'")

    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete dead letters older than the retention (all tenants); returns how many."""
        moment = now or self.clock.now()
        with self.db.write() as conn:
            return store.purge_deadletters(conn, moment - timedelta(days=self.retention_days))


# -- the device registry ----------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What a bulk import created (ids and their tokens, shown once) and which rows failed."""

    created: list[tuple[str, str]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The import result as the API answers it."""
        return {"created": [{"id": i, "token": t} for i, t in self.created], "errors": self.errors}


class DeviceService:
    """Provisioning, changes, tokens, revocation and deletion of devices."""

    def __init__(self, db: Database, *, clock: Clock | None = None, directory: DeviceDirectory | None = None):
        self.db = db
        self.clock = clock or SystemClock()
        self.directory = directory or DeviceDirectory(db)

    # -- reading ----------------------------------------------------------------------------

    def get(self, tenant: str, device_id: str) -> Device:
        """One device; :class:`NotFound` when absent."""
        with self.db.read() as conn:
            row = self._row(conn, tenant, device_id)
        return store.device_of(row)

    def list_devices(
        self,
        tenant: str,
        *,
        device_type: str | None = None,
        gateway_id: str | None = None,
        entity_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[Device], int]:
        """A page of the tenant's devices (by id) and the total matching."""
        with self.db.read() as conn:
            rows, total = store.list_device_rows(
                conn,
                tenant,
                device_type=device_type,
                gateway_id=gateway_id,
                entity_id=entity_id,
                limit=limit,
                offset=offset,
            )
        return [store.device_of(row) for row in rows], total

    def find_by_entity(self, tenant: str, entity_id: str) -> list[Device]:
        """The devices that feed ``entity_id`` (solutions use this to address commands)."""
        return self.list_devices(tenant, entity_id=entity_id)[0]

    def mqtt_credentials(self, tenant: str | None = None) -> list[MqttCredential]:
        """The broker accounts of every enabled device (of one tenant, or all)."""
        with self.db.read() as conn:
            rows = store.credential_rows(conn, tenant)
        return [MqttCredential(r.tenant, r.device_id, r.device_type, r.mqtt_hash) for r in rows]

    # -- provisioning -----------------------------------------------------------------------

    def create(self, tenant: str, body: Any) -> tuple[Device, str]:
        """Provision one device from its API body; returns it and its token (shown only now)."""
        spec = parse_device(body)
        now = self.clock.now()
        token = new_token()
        device = with_state(spec, tenant, enabled=True, created_at=now, modified_at=now)
        with self.db.write() as conn:
            if store.get_device_row(conn, tenant, spec.id) is not None:
                raise AlreadyExists(f"device {spec.id!r} already exists in tenant '{tenant}'")
            if spec.gateway_id is not None:
                self._check_gateway(conn, tenant, spec.gateway_id)
            store.insert_devices(conn, [store.device_values(device, token_digest(token), mosquitto_hash(token))])
        self.directory.invalidate(tenant, spec.id)
        return device, token

    def import_devices(self, tenant: str, rows: Sequence[ImportRow]) -> ImportResult:
        """Provision many devices in one transaction; rows that fail are reported, the others kept."""
        if len(rows) > IMPORT_MAX:
            raise BadRequestData(f"an import may hold at most {IMPORT_MAX} devices, got {len(rows)}")
        result = ImportResult()

        def fail(row: ImportRow, detail: str) -> None:
            error: dict[str, Any] = {"row": row.row, "detail": detail}
            if row.line is not None:
                error["line"] = row.line
            if row.body is not None and isinstance(row.body.get("id"), str):
                error["id"] = row.body["id"][:128]
            result.errors.append(error)

        specs: list[tuple[ImportRow, DeviceSpec]] = []
        seen: set[str] = set()
        for row in rows:
            if row.error is not None or row.body is None:
                fail(row, row.error or "no device")
                continue
            try:
                spec = parse_device(row.body)
            except BadRequestData as exc:
                fail(row, exc.detail)
                continue
            if spec.id in seen:
                fail(row, f"device {spec.id!r} appears more than once in the import")
                continue
            seen.add(spec.id)
            specs.append((row, spec))
        now = self.clock.now()
        with self.db.write() as conn:
            existing = store.existing_device_ids(conn, tenant, [spec.id for _, spec in specs])
            wanted_gateways = {spec.gateway_id for _, spec in specs if spec.gateway_id is not None}
            importing_gateways = {spec.id for _, spec in specs if spec.is_gateway and spec.id not in existing}
            known_gateways = {
                row.device_id
                for row in store.get_device_rows(conn, tenant, wanted_gateways - importing_gateways)
                if PROFILES[row.device_type].is_gateway
            } | importing_gateways
            values: list[dict[str, Any]] = []
            for row, spec in specs:
                if spec.id in existing:
                    fail(row, f"device {spec.id!r} already exists in tenant '{tenant}'")
                    continue
                if spec.gateway_id is not None and spec.gateway_id not in known_gateways:
                    fail(row, f"gateway {spec.gateway_id!r} is not a registered gateway of tenant '{tenant}'")
                    continue
                token = new_token()
                device = with_state(spec, tenant, enabled=True, created_at=now, modified_at=now)
                values.append(store.device_values(device, token_digest(token), mosquitto_hash(token)))
                result.created.append((spec.id, token))
            store.insert_devices(conn, values)
        for device_id, _ in result.created:
            self.directory.invalidate(tenant, device_id)
        result.errors.sort(key=lambda e: int(e["row"]))
        return result

    def update(self, tenant: str, device_id: str, patch: Any) -> Device:
        """Change a device (PATCH semantics, see :func:`~urbis.ingestion.devices.apply_patch`)."""
        with self.db.write() as conn:
            current = store.device_of(self._row(conn, tenant, device_id))
            spec = apply_patch(current, patch)
            if spec.gateway_id is not None and spec.gateway_id != current.gateway_id:
                self._check_gateway(conn, tenant, spec.gateway_id)
            if current.is_gateway and not spec.is_gateway:
                self._check_no_members(conn, tenant, device_id, "change the type of")
            device = respec(current, spec)
            modified_at = self.clock.now()
            values = {
                "device_type": spec.device_type,
                "entity_id": spec.entity_id,
                "entity_type": spec.entity_type,
                "mapping": orjson.dumps(mapping_to_json(spec.mapping)).decode(),
                "gateway_id": spec.gateway_id,
                "location": None if spec.location is None else orjson.dumps(spec.location).decode(),
                "attributes": orjson.dumps(spec.attributes).decode(),
                "modified_at": modified_at,
            }
            store.update_device(conn, tenant, device_id, values)
        self.directory.invalidate(tenant, device_id)
        return replace(device, modified_at=modified_at)

    def rotate_token(self, tenant: str, device_id: str) -> tuple[Device, str]:
        """Give a device a new token; the old one stops working at once (in this process)."""
        token = new_token()
        with self.db.write() as conn:
            self._row(conn, tenant, device_id)
            store.update_device(
                conn,
                tenant,
                device_id,
                {
                    "token_sha256": token_digest(token),
                    "mqtt_hash": mosquitto_hash(token),
                    "modified_at": self.clock.now(),
                },
            )
            device = store.device_of(self._row(conn, tenant, device_id))
        self.directory.invalidate(tenant, device_id)
        return device, token

    def set_enabled(self, tenant: str, device_id: str, enabled: bool) -> Device:
        """Revoke (``enabled=False``: all its messages are rejected) or re-enable a device."""
        with self.db.write() as conn:
            self._row(conn, tenant, device_id)
            store.update_device(conn, tenant, device_id, {"enabled": enabled, "modified_at": self.clock.now()})
            device = store.device_of(self._row(conn, tenant, device_id))
        self.directory.invalidate(tenant, device_id)
        return device

    def revoke(self, tenant: str, device_id: str) -> Device:
        """Disable a device: every message it sends is rejected (``revoked``) until it is enabled."""
        return self.set_enabled(tenant, device_id, False)

    def enable(self, tenant: str, device_id: str) -> Device:
        """Re-enable a revoked device."""
        return self.set_enabled(tenant, device_id, True)

    def delete(self, tenant: str, device_id: str) -> None:
        """Delete a device and its commands (its entity and history stay in the context)."""
        with self.db.write() as conn:
            device = store.device_of(self._row(conn, tenant, device_id))
            if device.is_gateway:
                self._check_no_members(conn, tenant, device_id, "delete")
            store.delete_device(conn, tenant, device_id)
        self.directory.invalidate(tenant, device_id)

    def touch(self, conn: Any, seen: Sequence[tuple[str, str, datetime]]) -> None:
        """Record last-seen times (in the caller's transaction)."""
        store.touch_devices(conn, seen)

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _row(conn: Any, tenant: str, device_id: str) -> Row[Any]:
        row = store.get_device_row(conn, tenant, device_id) if is_device_id(device_id) else None
        if row is None:
            raise NotFound(f"no device {device_id!r:.140} in tenant '{tenant}'")
        return row

    @staticmethod
    def _check_gateway(conn: Any, tenant: str, gateway_id: str) -> None:
        row = store.get_device_row(conn, tenant, gateway_id)
        if row is None or not PROFILES[row.device_type].is_gateway:
            raise BadRequestData(f"'gatewayId' {gateway_id!r} is not a registered gateway of tenant '{tenant}'")

    @staticmethod
    def _check_no_members(conn: Any, tenant: str, gateway_id: str, action: str) -> None:
        members, total = store.list_device_rows(conn, tenant, gateway_id=gateway_id, limit=3)
        if total:
            names = ", ".join(repr(m.device_id) for m in members)
            raise Conflict(f"cannot {action} gateway {gateway_id!r}: {total} devices still use it (e.g. {names})")


# -- ingestion --------------------------------------------------------------------------------


@dataclass(slots=True)
class IngestOutcome:
    """What became of one message: measures accepted, rejections, or why it was refused as a whole."""

    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    error: Rejection | None = None  # the whole message was refused (reason: malformed, bad-token, ...)
    oversized: bool = False  # refused because it carried more measures than allowed

    def to_json(self) -> dict[str, Any]:
        """The outcome as the ingestion API answers it."""
        return {"accepted": self.accepted, "rejected": [r.to_json() for r in self.rejected]}


def _count_measures(entries: Iterable[Any]) -> int:
    count = 0
    for entry in entries:
        if type(entry) is dict:
            count += len(entry) - (TIMESTAMP_KEY in entry)
        else:
            count += 1
    return count


class IngestionService:
    """The hot path: authenticate, decode, map and validate device messages, record readings, dead-letter the rest."""

    def __init__(
        self,
        directory: DeviceDirectory,
        sink: ReadingSink | None,
        deadletters: DeadLetterService,
        *,
        clock: Clock | None = None,
        metrics: IngestMetrics | None = None,
        future_tolerance_seconds: int = 300,
        max_measures: int = 50_000,
    ):
        self.directory = directory
        self.sink = sink
        self.deadletters = deadletters
        self.clock = clock or SystemClock()
        self.metrics = metrics or deadletters.metrics
        self.future_tolerance_us = future_tolerance_seconds * 1_000_000
        self.max_measures = max_measures
        self._last_seen: dict[DeviceKey, int] = {}
        self._seen_lock = threading.Lock()

    # -- authentication (also used by the command endpoints) --------------------------------

    def authenticate(self, tenant: str, device_id: str, token: str | None, *, gateway: bool = False) -> CompiledDevice:
        """The device ``token`` belongs to; raises :class:`NotFound`, :class:`Unauthenticated` or :class:`PolicyDenied`."""
        device = self.directory.get(tenant, device_id)
        rejection = self._check(device, device_id, token, gateway=gateway)
        if rejection is not None:
            raise _error_of(rejection)
        assert device is not None  # _check refuses unknown devices
        return device

    @staticmethod
    def _check(device: CompiledDevice | None, device_id: str, token: str | None, *, gateway: bool) -> Rejection | None:
        # Order matters: existence, then the token, and only then the device's state (revocation
        # is not revealed to a caller who cannot prove to be the device).
        if device is None or device.is_gateway != gateway:
            what = "gateway" if gateway else "device"
            return Rejection(None, None, UNKNOWN_DEVICE, f"no {what} {device_id!r:.140} is registered")
        if token is not None and not digest_matches(token, device.token_digest):
            return Rejection(None, None, BAD_TOKEN, "the token does not belong to this device")
        if not device.enabled:
            return Rejection(None, None, REVOKED, "the device is revoked")
        return None

    # -- ingestion --------------------------------------------------------------------------

    def ingest(self, messages: Sequence[RawMessage]) -> list[IngestOutcome]:
        """Ingest ``messages``; one outcome per message, in order.

        Never raises for bad input (it is dead-lettered).  Raises only when the sink
        fails (the database is down): then nothing was stored or dead-lettered, and
        the caller must not acknowledge the messages.
        """
        now_us = datetime_to_us(self.clock.now())
        latest_us = now_us + self.future_tolerance_us
        outcomes = [IngestOutcome() for _ in messages]
        dead: list[dict[str, Any]] = []
        batch: list[DeviceReadings] = []
        origins: list[tuple[int, RawMessage]] = []  # per reading in ``batch``: its message
        seen: list[DeviceKey] = []
        per_transport: dict[str, list[int]] = {}  # transport -> [valid measures, refused measures]

        # Devices the messages claim to come from, in one lookup; gateway members in a second.
        senders = self.directory.resolve((m.tenant, m.device_id) for m in messages)
        documents: list[Any] = [None] * len(messages)
        members: dict[DeviceKey, None] = {}
        for n, message in enumerate(messages):
            tally = per_transport.setdefault(message.transport, [0, 0])
            device = senders[(message.tenant, message.device_id)]
            rejection = self._check(device, message.device_id, message.token, gateway=message.kind == "gateway")
            if rejection is not None:
                self._refuse(outcomes[n], message, rejection, dead)
                continue
            seen.append((message.tenant, message.device_id))
            try:
                document = decode_json(message.payload)
                if message.kind == "gateway":
                    document = gateway_entries(document)
                    count = sum(_count_measures(member_entries(v) or ()) for v in document.values())
                else:
                    document = device_entries(document)
                    count = _count_measures(document)
            except PayloadError as exc:
                self._refuse(outcomes[n], message, Rejection(None, None, MALFORMED, str(exc)), dead)
                continue
            if count > self.max_measures:
                outcomes[n].oversized = True
                detail = f"{count} measures in one message; the limit is {self.max_measures}"
                self._refuse(outcomes[n], message, Rejection(None, None, MALFORMED, detail), dead)
                tally[1] += count
                continue
            documents[n] = document
            if message.kind == "gateway":
                for member_id in document:
                    members[(message.tenant, member_id)] = None
        found = self.directory.resolve(members) if members else {}

        for n, message in enumerate(messages):
            document = documents[n]
            if document is None:
                continue
            outcome = outcomes[n]
            tally = per_transport[message.transport]
            default_us = message.received_us
            if message.kind == "device":
                device = senders[(message.tenant, message.device_id)]
                assert device is not None  # checked in the first pass
                measures: list[Measure] = []
                refused = map_entries(
                    device,
                    document,
                    default_us=default_us,
                    latest_us=latest_us,
                    measures=measures,
                    rejections=outcome.rejected,
                )
                tally[1] += refused
                if measures:
                    batch.append(
                        DeviceReadings(
                            message.tenant, device.id, device.entity_id, device.entity_type, measures, device.seed
                        )
                    )
                    origins.append((n, message))
                    outcome.accepted += len(measures)
                    tally[0] += len(measures)
            else:
                gateway_id = message.device_id
                for member_id, value in document.items():
                    entries = member_entries(value)
                    if entries is None:
                        outcome.rejected.append(
                            Rejection(
                                None, None, MALFORMED, "a member's measures must be an object or an array", member_id
                            )
                        )
                        tally[1] += 1
                        continue
                    member = found.get((message.tenant, member_id))
                    problem: Rejection | None = None
                    if member is None or member.is_gateway:
                        problem = Rejection(
                            None, None, UNKNOWN_DEVICE, f"no device {member_id!r:.140} is registered", member_id
                        )
                    elif member.gateway_id != gateway_id:
                        problem = Rejection(
                            None,
                            None,
                            NOT_A_GATEWAY_MEMBER,
                            f"device {member_id!r} does not belong to gateway {gateway_id!r}",
                            member_id,
                        )
                    elif not member.enabled:
                        problem = Rejection(None, None, REVOKED, f"device {member_id!r} is revoked", member_id)
                    if problem is not None:
                        outcome.rejected.append(problem)
                        tally[1] += _count_measures(entries)
                        continue
                    assert member is not None  # checked above
                    measures = []
                    refused = map_entries(
                        member,
                        entries,
                        default_us=default_us,
                        latest_us=latest_us,
                        measures=measures,
                        rejections=outcome.rejected,
                        label=member_id,
                    )
                    tally[1] += refused
                    seen.append((message.tenant, member_id))
                    if measures:
                        batch.append(
                            DeviceReadings(
                                message.tenant, member.id, member.entity_id, member.entity_type, measures, member.seed
                            )
                        )
                        origins.append((n, message))
                        outcome.accepted += len(measures)
                        tally[0] += len(measures)

        duplicates = 0
        if batch:
            if self.sink is None:
                raise RuntimeError("no reading sink is wired: ingestion cannot store readings")
            received_us = max(m.received_us for m in messages)
            # A sink failure propagates: nothing was stored, so nothing is acknowledged or dead-lettered.
            result = self.sink.record(batch, received_us=received_us)
            duplicates = result.duplicates
            if result.rejected:
                self._storage_rejections(result.rejected, batch, origins, outcomes, per_transport, dead)

        # Rejections inside accepted messages: one dead letter per (message, device, reason).
        for n, message in enumerate(messages):
            outcome = outcomes[n]
            if outcome.rejected:
                self._deadletter_rejections(message, outcome.rejected, dead)
        touched = self._due_last_seen(seen, now_us)
        if dead or touched:
            with self.deadletters.db.write() as conn:
                self.deadletters.write(conn, dead)
                if touched:
                    store.touch_devices(conn, [(t, d, us_to_datetime(now_us)) for t, d in touched])
            with self._seen_lock:
                for key in touched:
                    self._last_seen[key] = now_us
        self._count(messages, per_transport, duplicates)
        return outcomes

    # -- helpers ----------------------------------------------------------------------------

    def _refuse(
        self, outcome: IngestOutcome, message: RawMessage, rejection: Rejection, dead: list[dict[str, Any]]
    ) -> None:
        outcome.error = rejection
        dead.append(
            deadletter_row(
                tenant=message.tenant,
                device_id=message.device_id,
                transport=message.transport,
                reason=rejection.reason,
                detail=rejection.detail,
                payload=message.payload,
                received_us=message.received_us,
                rejections=[rejection],
            )
        )

    @staticmethod
    def _deadletter_rejections(
        message: RawMessage, rejections: Sequence[Rejection], dead: list[dict[str, Any]]
    ) -> None:
        groups: dict[tuple[str, str], list[Rejection]] = {}
        for rejection in rejections:
            groups.setdefault((rejection.device or message.device_id, rejection.reason), []).append(rejection)
        for (device_id, reason), group in groups.items():
            detail = group[0].detail if len(group) == 1 else f"{len(group)} rejections, first: {group[0].detail}"
            dead.append(
                deadletter_row(
                    tenant=message.tenant,
                    device_id=device_id,
                    transport=message.transport,
                    reason=reason,
                    detail=detail,
                    payload=message.payload,
                    received_us=message.received_us,
                    rejections=group,
                    count=len(group),
                )
            )

    @staticmethod
    def _storage_rejections(
        rejected: Sequence[Any],
        batch: list[DeviceReadings],
        origins: list[tuple[int, RawMessage]],
        outcomes: list[IngestOutcome],
        per_transport: dict[str, list[int]],
        dead: list[dict[str, Any]],
    ) -> None:
        position = {id(readings): k for k, readings in enumerate(batch)}
        for item in rejected:
            k = position.get(id(item.readings))
            if k is None:
                log.warning("the reading sink rejected readings it was not given: %r", item.reason)
                continue
            n, message = origins[k]
            readings = batch[k]
            outcomes[n].accepted -= len(readings.measures)
            tally = per_transport[message.transport]
            tally[0] -= len(readings.measures)
            tally[1] += len(readings.measures)
            label = readings.device_id if message.kind == "gateway" else None
            outcomes[n].rejected.append(Rejection(None, None, STORAGE, str(item.reason), label))

    def _due_last_seen(self, seen: Sequence[DeviceKey], now_us: int) -> list[DeviceKey]:
        due: dict[DeviceKey, None] = {}
        last = self._last_seen
        for key in seen:
            if now_us - last.get(key, 0) >= LAST_SEEN_INTERVAL_US:
                due[key] = None
        if len(last) > 1_000_000:
            with self._seen_lock:
                last.clear()
        return sorted(due)  # one order for every writer: concurrent batches never deadlock on PostgreSQL

    def _count(self, messages: Sequence[RawMessage], per_transport: dict[str, list[int]], duplicates: int) -> None:
        metrics = self.metrics
        for name, count in Tally(m.transport for m in messages).items():
            metrics.messages.labels(name).inc(count)
        if duplicates and per_transport:
            # The sink reports duplicates for the whole batch: book them on the busiest transport.
            busiest = max(per_transport, key=lambda t: per_transport[t][0])
            per_transport[busiest][0] -= duplicates
            metrics.measures.labels(busiest, "duplicate").inc(duplicates)
        for transport, (accepted, refused) in per_transport.items():
            if accepted > 0:
                metrics.measures.labels(transport, "accepted").inc(accepted)
            if refused > 0:
                metrics.measures.labels(transport, "rejected").inc(refused)

    def quarantine(self, message: RawMessage, detail: str) -> None:
        """Dead-letter a message that made storage fail on its own (so it cannot block the others)."""
        row = deadletter_row(
            tenant=message.tenant,
            device_id=message.device_id,
            transport=message.transport,
            reason=STORAGE,
            detail=detail,
            payload=message.payload,
            received_us=message.received_us,
        )
        self.deadletters.add([row])

    def ingest_one(self, message: RawMessage) -> IngestOutcome:
        """Ingest a single message."""
        return self.ingest([message])[0]


def _error_of(rejection: Rejection) -> Exception:
    if rejection.reason == UNKNOWN_DEVICE:
        return NotFound(rejection.detail, extra={"reason": rejection.reason})
    if rejection.reason == BAD_TOKEN:
        return Unauthenticated(rejection.detail, extra={"reason": rejection.reason})
    return PolicyDenied(rejection.detail, extra={"reason": rejection.reason})


def error_of_outcome(outcome: IngestOutcome) -> Exception | None:
    """The service error that answers an ingestion request refused as a whole (None if it was not)."""
    rejection = outcome.error
    if rejection is None:
        return None
    if outcome.oversized:
        from urbis.core.errors import PayloadTooLarge

        return PayloadTooLarge(rejection.detail, extra={"reason": rejection.reason})
    if rejection.reason == MALFORMED:
        from urbis.core.errors import InvalidRequest

        return InvalidRequest(rejection.detail, extra={"reason": rejection.reason})
    return _error_of(rejection)


# -- commands ---------------------------------------------------------------------------------

PENDING, SENT, OK, ERROR, EXPIRED = "pending", "sent", "ok", "error", "expired"
COMMAND_STATUSES = (PENDING, SENT, OK, ERROR, EXPIRED)


@dataclass(frozen=True)
class CommandRecord:
    """A command for a device and what became of it."""

    id: str
    tenant: str
    device_id: str
    command: str
    params: dict[str, Any]
    status: str
    result: Any
    created_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """The command as the API shows it."""
        out: dict[str, Any] = {
            "id": self.id,
            "deviceId": self.device_id,
            "command": self.command,
            "params": self.params,
            "status": self.status,
            "createdAt": _iso(self.created_at),
        }
        if self.sent_at is not None:
            out["sentAt"] = _iso(self.sent_at)
        if self.acknowledged_at is not None:
            out["acknowledgedAt"] = _iso(self.acknowledged_at)
        if self.result is not None:
            out["result"] = self.result
        return out

    def downlink(self) -> dict[str, Any]:
        """What the device receives (MQTT ``cmd`` payload, HTTP polling): id, command, params."""
        return {"id": self.id, "command": self.command, "params": self.params}


def _command_of(row: Row[Any]) -> CommandRecord:
    return CommandRecord(
        id=row.command_id,
        tenant=row.tenant,
        device_id=row.device_id,
        command=row.command,
        params=orjson.loads(row.params),
        status=row.status,
        result=None if row.result is None else orjson.loads(row.result),
        created_at=row.created_at,
        sent_at=row.sent_at,
        acknowledged_at=row.acknowledged_at,
    )


def _command_row(record: CommandRecord, encoded_params: bytes) -> dict[str, Any]:
    """A new (pending) command as its table row."""
    return {
        "tenant": record.tenant,
        "command_id": record.id,
        "device_id": record.device_id,
        "command": record.command,
        "params": encoded_params.decode(),
        "status": PENDING,
        "result": None,
        "created_at": record.created_at,
        "sent_at": None,
        "acknowledged_at": None,
    }


#: How long a command stays readable after it was sent (its acknowledgement included).
COMMAND_RETENTION = timedelta(days=30)


class CommandService:
    """Commands for devices: stored, published for the MQTT bridge, polled by HTTP devices, acknowledged."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        clock: Clock | None = None,
        deadletters: DeadLetterService | None = None,
        ttl_seconds: float = 3600.0,
        retention: timedelta = COMMAND_RETENTION,
    ):
        self.db = db
        self.bus = bus
        self.clock = clock or SystemClock()
        self.deadletters = deadletters
        self.ttl = timedelta(seconds=ttl_seconds)
        self.retention = retention

    def send(self, tenant: str, device_id: str, command: Any, params: Any = None) -> CommandRecord:
        """Store a command (pending) and publish :class:`DeviceCommand` for delivery."""
        name = check_command_name(command)
        params = {} if params is None else params
        if not isinstance(params, dict):
            raise BadRequestData("'params' must be a JSON object")
        encoded = orjson.dumps(params)
        if len(encoded) > COMMAND_PARAMS_MAX:
            raise BadRequestData(f"'params' may hold at most {COMMAND_PARAMS_MAX} bytes of JSON")
        now = self.clock.now()
        record = CommandRecord(uuid.uuid4().hex, tenant, device_id, name, params, PENDING, None, now, None, None)
        with self.db.write() as conn:
            row = store.get_device_row(conn, tenant, device_id) if is_device_id(device_id) else None
            if row is None:
                raise NotFound(f"no device {device_id!r:.140} in tenant '{tenant}'")
            if not row.enabled:
                raise Conflict(f"device {device_id!r} is revoked; enable it before sending commands")
            store.insert_command(conn, _command_row(record, encoded))
        self.bus.publish(DeviceCommand(tenant, device_id, name, params, record.id))
        return record

    def send_many(self, tenant: str, commands: Sequence[tuple[str, str, dict[str, Any]]]) -> list[CommandRecord]:
        """Store ``(device id, command, params)`` commands in one transaction and publish each.

        For solutions that command hundreds of devices at once (a lighting step at 23:00): devices
        that are missing or revoked are skipped (logged), not raised, so one bad device does not
        keep the rest of a street dark.  Returns the commands stored, in the order given.
        """
        now = self.clock.now()
        prepared: list[tuple[CommandRecord, bytes]] = []
        for device_id, command, params in commands:
            name = check_command_name(command)
            encoded = orjson.dumps(params)
            if len(encoded) > COMMAND_PARAMS_MAX:
                raise BadRequestData(f"'params' may hold at most {COMMAND_PARAMS_MAX} bytes of JSON")
            record = CommandRecord(uuid.uuid4().hex, tenant, device_id, name, params, PENDING, None, now, None, None)
            prepared.append((record, encoded))
        if not prepared:
            return []
        with self.db.write() as conn:
            ids = [record.device_id for record, _ in prepared if is_device_id(record.device_id)]
            enabled = {row.device_id for row in store.get_device_rows(conn, tenant, ids) if row.enabled}
            kept = [(record, encoded) for record, encoded in prepared if record.device_id in enabled]
            if len(kept) < len(prepared):
                log.warning(
                    "commands: %d of %d devices missing or revoked in tenant %s",
                    len(prepared) - len(kept),
                    len(prepared),
                    tenant,
                )
            if kept:
                conn.execute(store.commands.insert(), [_command_row(record, encoded) for record, encoded in kept])
        for record, _ in kept:
            self.bus.publish(DeviceCommand(tenant, record.device_id, record.command, record.params, record.id))
        return [record for record, _ in kept]

    def statuses(self, tenant: str, command_ids: Iterable[str]) -> dict[str, str]:
        """The status of each of ``command_ids`` that exists (``pending``, ``sent``, ``ok``, ``error``, ``expired``)."""
        ids = [command_id for command_id in dict.fromkeys(command_ids) if _COMMAND_ID.match(command_id)]
        with self.db.read() as conn:
            return store.command_statuses(conn, tenant, ids)

    def get(self, tenant: str, command_id: str) -> CommandRecord:
        """One command; :class:`NotFound` when absent."""
        row = None
        if _COMMAND_ID.match(command_id):
            with self.db.read() as conn:
                row = store.get_command_row(conn, tenant, command_id)
        if row is None:
            raise NotFound(f"no command {command_id!r:.80} in tenant '{tenant}'")
        return _command_of(row)

    def list_commands(self, tenant: str, device_id: str, *, limit: int = 100, offset: int = 0) -> list[CommandRecord]:
        """The device's commands, newest first (stale open ones shown as expired)."""
        self.expire(tenant=tenant)
        with self.db.read() as conn:
            if not is_device_id(device_id) or store.get_device_row(conn, tenant, device_id) is None:
                raise NotFound(f"no device {device_id!r:.140} in tenant '{tenant}'")
            rows = store.list_command_rows(conn, tenant, device_id, limit=limit, offset=offset)
        return [_command_of(row) for row in rows]

    def poll(self, tenant: str, device_id: str, *, limit: int = 100) -> list[CommandRecord]:
        """Pending commands of an HTTP device, oldest first; they are marked sent."""
        now = self.clock.now()
        with self.db.write() as conn:
            store.expire_commands(conn, now - self.ttl, tenant=tenant)
            rows = store.list_command_rows(conn, tenant, device_id, statuses=[PENDING], limit=limit, oldest_first=True)
            store.mark_commands(conn, tenant, [row.command_id for row in rows], {"status": SENT, "sent_at": now})
        return [replace(_command_of(row), status=SENT, sent_at=now) for row in rows]

    def pending(self, *, limit: int = 500) -> list[DeviceCommand]:
        """Commands not yet handed to their device and not expired, in every tenant, oldest first."""
        with self.db.read() as conn:
            rows = store.list_open_commands(conn, self.clock.now() - self.ttl, limit=limit)
        return [DeviceCommand(r.tenant, r.device_id, r.command, orjson.loads(r.params), r.command_id) for r in rows]

    def mark_sent(self, tenant: str, device_id: str, command_id: str) -> None:
        """The MQTT bridge delivered a command to the broker: pending -> sent (other states stay)."""
        if not _COMMAND_ID.match(command_id):
            return
        with self.db.write() as conn:
            row = store.get_command_row(conn, tenant, command_id)
            if row is None or row.device_id != device_id:
                return  # e.g. a command published on the bus without going through send()
            store.update_command(
                conn, tenant, command_id, {"status": SENT, "sent_at": self.clock.now()}, only_statuses=[PENDING]
            )

    def acknowledge(
        self, tenant: str, device_id: str, command_id: str, status: Any, result: Any = None
    ) -> CommandRecord:
        """Record a device's acknowledgement (``status`` ``OK`` or ``ERROR``); raises for bad input."""
        if not isinstance(status, str) or status.upper() not in ("OK", "ERROR"):
            raise BadRequestData(f"'status' must be 'OK' or 'ERROR', got {status!r:.40}")
        final = OK if status.upper() == "OK" else ERROR
        encoded = None if result is None else orjson.dumps(result)
        if encoded is not None and len(encoded) > COMMAND_PARAMS_MAX:
            raise BadRequestData(f"'result' may hold at most {COMMAND_PARAMS_MAX} bytes of JSON")
        if not _COMMAND_ID.match(command_id):
            raise NotFound(f"no command {command_id!r:.80} for device {device_id!r:.140}")
        with self.db.write() as conn:
            row = store.get_command_row(conn, tenant, command_id)
            if row is None or row.device_id != device_id:
                raise NotFound(f"no command {command_id!r:.80} for device {device_id!r:.140}")
            if row.status in (OK, ERROR):
                if row.status == final:
                    return _command_of(row)  # a repeated acknowledgement (QoS 1 redelivery)
                raise Conflict(f"command {command_id!r} was already acknowledged as {row.status.upper()}")
            store.update_command(
                conn,
                tenant,
                command_id,
                {
                    "status": final,
                    "result": None if encoded is None else encoded.decode(),
                    "acknowledged_at": self.clock.now(),
                },
            )
            updated = store.get_command_row(conn, tenant, command_id)
        assert updated is not None  # updated in this transaction
        return _command_of(updated)

    def record_ack(self, tenant: str, device_id: str, payload: bytes) -> None:
        """An acknowledgement as it arrived on MQTT ``.../cmdexe``; bad ones are dead-lettered, never raised."""
        self.acknowledge_payload(tenant, device_id, payload, transport="mqtt")

    def acknowledge_payload(
        self, tenant: str, device_id: str, payload: bytes, *, transport: Transport
    ) -> CommandRecord | None:
        """Record a raw acknowledgement ``{"id", "status", "result"}``; the command, or None if refused (dead-lettered)."""
        try:
            document = orjson.loads(payload)
            if not isinstance(document, dict) or not isinstance(document.get("id"), str):
                raise BadRequestData("an acknowledgement must be an object with the command's 'id'")
            return self.acknowledge(tenant, device_id, document["id"], document.get("status"), document.get("result"))
        except (orjson.JSONDecodeError, BadRequestData, NotFound, Conflict) as exc:
            detail = exc.detail if isinstance(exc, BadRequestData | NotFound | Conflict) else f"not valid JSON: {exc}"
            log.info("refused command acknowledgement of %s/%s: %s", tenant, device_id, detail)
            if self.deadletters is not None:
                received = datetime_to_us(self.clock.now())
                self.deadletters.add(
                    [
                        deadletter_row(
                            tenant=tenant,
                            device_id=device_id,
                            transport=transport,
                            reason=MALFORMED,
                            detail=f"command acknowledgement: {detail}",
                            payload=payload,
                            received_us=received,
                        )
                    ]
                )
            return None

    def expire(self, now: datetime | None = None, *, tenant: str | None = None) -> int:
        """Mark commands never acknowledged within the TTL as expired; returns how many."""
        moment = now or self.clock.now()
        with self.db.write() as conn:
            return store.expire_commands(conn, moment - self.ttl, tenant=tenant)

    def purge(self, now: datetime | None = None) -> int:
        """Delete commands older than the retention (solutions send thousands a day); how many."""
        moment = now or self.clock.now()
        with self.db.write() as conn:
            return store.purge_commands(conn, moment - self.retention)
