"""Device types and their default mappings, described as data (frozen dataclasses).

A :class:`MeasureMapping` says how one key of a device payload becomes one
NGSI-LD attribute: the attribute term, the UN/CEFACT unit, a linear scaling
(``value * scale + offset``), the physical range *after* scaling, the kind of
raw value the device sends and an optional enumeration that maps raw values
(written as strings) to attribute values.  A :class:`DeviceProfile` bundles the
mappings a device type gets when it is provisioned without its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

MeasureKind = Literal["number", "boolean", "text"]
KINDS: tuple[MeasureKind, ...] = ("number", "boolean", "text")


@dataclass(frozen=True, slots=True)
class MeasureMapping:
    """How one device measure becomes one attribute of the device's entity."""

    measure: str  # the key in the device payload
    attribute: str  # NGSI-LD attribute term (Urbis context) or full IRI
    kind: MeasureKind = "number"  # the type of the RAW value the device sends
    unit_code: str | None = None  # UN/CEFACT common code of the mapped value
    scale: float = 1.0
    offset: float = 0.0
    minimum: float | None = None  # physical range of the mapped value (after scaling)
    maximum: float | None = None
    # Raw value (as a string: "true", "3", "fault") -> attribute value; other raw values are refused.
    values: tuple[tuple[str, Any], ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The mapping in the API's JSON shape (``min``/``max``/``unitCode``/``values`` only when set)."""
        out: dict[str, Any] = {
            "measure": self.measure,
            "attribute": self.attribute,
            "kind": self.kind,
            "scale": self.scale,
            "offset": self.offset,
        }
        if self.unit_code is not None:
            out["unitCode"] = self.unit_code
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        if self.values is not None:
            out["values"] = dict(self.values)
        return out


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """A device type: the entity type it feeds and the mapping it gets by default."""

    device_type: str
    entity_type: str | None  # None for gateways, which feed no entity of their own
    mapping: tuple[MeasureMapping, ...]
    description: str

    @property
    def is_gateway(self) -> bool:
        """Whether devices of this type only relay the messages of other devices."""
        return self.entity_type is None


_ON_OFF = (("true", "on"), ("false", "off"))

STREETLIGHT = DeviceProfile(
    "streetlight-controller",
    "Streetlight",
    (
        MeasureMapping("on", "powerState", "boolean", values=_ON_OFF),
        MeasureMapping("dim", "illuminanceLevel", unit_code="P1", scale=0.01, minimum=0.0, maximum=1.0),
        MeasureMapping("power", "powerConsumption", unit_code="WTT", minimum=0.0, maximum=2000.0),
        MeasureMapping("energy", "energyConsumed", unit_code="KWH", minimum=0.0),
        MeasureMapping("status", "status", "text"),
        # A pole-mounted presence (PIR or radar) sensor wired to the controller: true on a detection.
        MeasureMapping("presence", "presenceDetected", "boolean"),
    ),
    "Street-light controller: switching state, dim level (%), power (W), cumulative energy (kWh), status text, "
    "presence detections.",
)
CABINET = DeviceProfile(
    "cabinet-meter",
    "StreetlightControlCabinet",
    (
        MeasureMapping("energy", "energyConsumed", unit_code="KWH", minimum=0.0),
        MeasureMapping("power", "totalActivePower", unit_code="WTT", minimum=0.0, maximum=200_000.0),
        MeasureMapping("voltage", "voltage", unit_code="VLT", minimum=0.0, maximum=500.0),
        MeasureMapping("current", "current", unit_code="AMP", minimum=0.0, maximum=1000.0),
        MeasureMapping("supply", "powerState", "boolean", values=_ON_OFF),
    ),
    "Meter of a street-light control cabinet: energy (kWh), power (W), voltage (V), current (A), supply on/off.",
)
AIR_QUALITY = DeviceProfile(
    "air-quality-station",
    "AirQualityObserved",
    (
        MeasureMapping("pm25", "pm25", unit_code="GQ", minimum=0.0, maximum=1000.0),
        MeasureMapping("pm10", "pm10", unit_code="GQ", minimum=0.0, maximum=2000.0),
        MeasureMapping("no2", "no2", unit_code="GQ", minimum=0.0, maximum=2000.0),
        MeasureMapping("o3", "o3", unit_code="GQ", minimum=0.0, maximum=1000.0),
        MeasureMapping("temperature", "temperature", unit_code="CEL", minimum=-50.0, maximum=60.0),
        MeasureMapping("humidity", "relativeHumidity", unit_code="P1", scale=0.01, minimum=0.0, maximum=1.0),
    ),
    "Air-quality station: PM2.5, PM10, NO2, O3 (µg/m³), temperature (°C), relative humidity (%).",
)
PARKING_BAY = DeviceProfile(
    "parking-bay-sensor",
    "ParkingSpot",
    (MeasureMapping("occupied", "status", "boolean", values=(("true", "occupied"), ("false", "free"))),),
    "On-street parking bay sensor: occupied or free.",
)
GARAGE = DeviceProfile(
    "garage-counter",
    "OffStreetParking",
    (
        MeasureMapping("occupied", "occupiedSpotNumber", unit_code="C62", minimum=0.0),
        MeasureMapping("free", "availableSpotNumber", unit_code="C62", minimum=0.0),
        MeasureMapping("entries", "vehicleEntranceCount", unit_code="C62", minimum=0.0),
        MeasureMapping("exits", "vehicleExitCount", unit_code="C62", minimum=0.0),
    ),
    "Car-park counter: occupied and free spaces, vehicle entries and exits.",
)
GATEWAY = DeviceProfile(
    "gateway",
    None,
    (),
    "Gateway: sends the measures of the devices whose gatewayId names it, in batches.",
)

#: Every device type, by its name.
PROFILES: dict[str, DeviceProfile] = {
    profile.device_type: profile for profile in (STREETLIGHT, CABINET, AIR_QUALITY, PARKING_BAY, GARAGE, GATEWAY)
}
DEVICE_TYPES: tuple[str, ...] = tuple(PROFILES)
