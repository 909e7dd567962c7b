"""The messages ingestion exchanges with the rest of Urbis.

Ingestion cannot import the context layer (data flows one way), so it declares
what it needs: a :class:`ReadingSink` that durably records readings.  The
context service implements it and ``app.py`` wires the two together.  A sink
call returns only after the readings are committed, which is what lets the
MQTT path acknowledge a message only once it is safe (an event on the bus
could not carry that guarantee back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

Transport = Literal["http", "mqtt", "internal"]


class Measure(NamedTuple):
    """One mapped, validated measure of one attribute at one instant (a tuple: made once per measure, cheaply)."""

    attribute: str  # NGSI-LD attribute name (a term of the Urbis context) or a full IRI
    value: Any
    observed_at: str  # ISO 8601 UTC with microseconds and a Z, e.g. 2026-11-24T07:00:00.000000Z
    observed_us: int  # the same instant in microseconds since the Unix epoch
    unit_code: str | None = None  # UN/CEFACT common code
    dataset_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceReadings:
    """The measures one message brought for one device's entity."""

    tenant: str
    device_id: str
    entity_id: str
    entity_type: str  # a term of the Urbis context (e.g. "Streetlight") or a full IRI
    measures: Sequence[Measure]
    # Attributes written only when the entity does not exist yet (name -> NGSI-LD attribute
    # in normalized form, e.g. {"location": {"type": "GeoProperty", "value": {...}}}).
    seed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RejectedReadings:
    """Readings the sink could not store, and why (they go to the dead-letter store)."""

    readings: DeviceReadings
    reason: str


@dataclass(frozen=True, slots=True)
class SinkResult:
    """What a sink stored: measures written to history and rejected device readings."""

    stored: int
    duplicates: int = 0  # measures already in history (a retried message): not stored twice
    rejected: Sequence[RejectedReadings] = ()


class ReadingSink(Protocol):
    """Durably records readings: current values and history, in one transaction."""

    def record(self, batch: Sequence[DeviceReadings], *, received_us: int) -> SinkResult:
        """Store ``batch``; returns only after commit.  Raises only when nothing was stored."""
        ...


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A payload as it arrived, before authentication and decoding."""

    tenant: str
    device_id: str  # the device (or gateway) the message claims to come from
    payload: bytes
    received_us: int
    transport: Transport
    kind: Literal["device", "gateway"] = "device"
    # The device's secret token (HTTP); None when the transport authenticated the device
    # already (MQTT: the broker's per-device credentials and ACLs).
    token: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceCommand:
    """A command for a device (published by solutions and operators; ingestion delivers it)."""

    tenant: str
    device_id: str
    command: str
    params: dict[str, Any]
    command_id: str
