"""The rules of the device registry: what a valid device is, and how it is compiled for ingestion.

Pure functions and dataclasses: no database, no web, no clock.  The web layer,
the CLI and the CSV import all hand their input to :func:`parse_device` (or
:func:`apply_patch`), so every path enforces the same rules.
:func:`compile_device` turns a stored :class:`Device` into the lookup-ready
:class:`CompiledDevice` the ingestion hot path uses.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson

from urbis.core.errors import BadRequestData
from urbis.ingestion.profiles import KINDS, PROFILES, DeviceProfile, MeasureKind, MeasureMapping

#: Device ids appear in MQTT topics and in the Mosquitto user name ``<tenant>/<device>``: no ``/``,
#: ``+``, ``#`` or spaces.
DEVICE_ID = re.compile(r"^[A-Za-z0-9_\-.:]{1,128}$")
TENANT = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_URN = re.compile(r"^urn:[A-Za-z0-9][A-Za-z0-9\-]{0,31}:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+$")
_TERM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+$")
_MEASURE_KEY = re.compile(r"^[A-Za-z0-9_\-.:]{1,64}$")
_UNIT_CODE = re.compile(r"^[A-Z0-9]{2,3}$")
_COMMAND = re.compile(r"^[A-Za-z0-9_\-.]{1,64}$")

MAX_ENTITY_ID = 512
MAX_MAPPINGS = 64
MAX_SEED_BYTES = 16 * 1024
#: The payload key carrying a measure's timestamp; it can never be a measure.
TIMESTAMP_KEY = "ts"
#: Attribute names a mapping or seed may not use: they are entity members, not attributes.
RESERVED_ATTRIBUTES = frozenset(
    {"id", "type", "@id", "@type", "@context", "scope", "createdAt", "modifiedAt", "deletedAt", "observedAt"}
)
ATTRIBUTE_TYPES = frozenset(
    {
        "Property",
        "Relationship",
        "GeoProperty",
        "LanguageProperty",
        "ListProperty",
        "JsonProperty",
        "VocabProperty",
        "ListRelationship",
    }
)
GEOMETRY_TYPES = frozenset({"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"})

DEVICE_FIELDS = frozenset(
    {"id", "deviceType", "entityId", "entityType", "mapping", "gatewayId", "location", "attributes"}
)
PATCH_FIELDS = frozenset({"deviceType", "entityId", "entityType", "mapping", "gatewayId", "location", "attributes"})
CSV_COLUMNS = ("id", "deviceType", "entityId", "entityType", "gatewayId", "longitude", "latitude", "name")


# -- validation of single values --------------------------------------------------------------


def is_device_id(value: str) -> bool:
    """Whether ``value`` could be a device id (cheap test before a lookup)."""
    return DEVICE_ID.match(value) is not None


def check_device_id(value: Any, what: str = "device id") -> str:
    """``value`` if it is a valid device id, else :class:`BadRequestData`."""
    if not isinstance(value, str) or not DEVICE_ID.match(value):
        raise BadRequestData(f"{what} must be 1-128 letters, digits, '-', '_', '.' or ':', got {value!r:.80}")
    return value


def check_tenant(value: str) -> str:
    """``value`` if it is a valid tenant name, else :class:`BadRequestData`."""
    if not TENANT.match(value):
        raise BadRequestData(f"tenant names are 1-64 letters, digits, '-' or '_', got {value!r:.80}")
    return value


def check_command_name(value: Any) -> str:
    """``value`` if it is a valid command name (letters, digits, ``-_.``), else :class:`BadRequestData`."""
    if not isinstance(value, str) or not _COMMAND.match(value):
        raise BadRequestData(f"'command' must be 1-64 letters, digits, '-', '_' or '.', got {value!r:.80}")
    return value


def _check_entity_id(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_ENTITY_ID or not _URN.match(value):
        raise BadRequestData(f"'entityId' must be a URN such as urn:ngsi-ld:Streetlight:lamp-1, got {value!r:.80}")
    return value


def _check_type_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_ENTITY_ID or not (_TERM.match(value) or _IRI.match(value)):
        raise BadRequestData(f"{what} must be a term (letters, digits, '_') or an IRI, got {value!r:.80}")
    return value


def _check_attribute_name(value: Any, what: str) -> str:
    name = _check_type_name(value, what)
    if name in RESERVED_ATTRIBUTES:
        raise BadRequestData(f"{what} {name!r} is reserved by NGSI-LD")
    return name


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequestData(f"{what} must be a finite number, got {value!r:.80}")
    return float(value)


def _check_location(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or value.get("type") not in GEOMETRY_TYPES:
        raise BadRequestData(
            "'location' must be a GeoJSON geometry such as {'type': 'Point', 'coordinates': [7.1, 50.7]}"
        )
    coordinates = value.get("coordinates")
    if set(value) != {"type", "coordinates"} or not isinstance(coordinates, list) or not coordinates:
        raise BadRequestData("'location' must have exactly 'type' and a non-empty 'coordinates' array")
    if value["type"] == "Point":
        if len(coordinates) not in (2, 3):
            raise BadRequestData("a Point has [longitude, latitude] coordinates")
        lon, lat = (_number(c, "a coordinate") for c in coordinates[:2])
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise BadRequestData(f"coordinates [{lon}, {lat}] are outside longitude -180..180 / latitude -90..90")
    return {"type": value["type"], "coordinates": coordinates}


def _check_seed(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestData("'attributes' must be an object of NGSI-LD attributes (name -> {'type': ..., ...})")
    for name, attribute in value.items():
        _check_attribute_name(name, "seed attribute")
        if name == "location":
            raise BadRequestData("give the device's position as 'location', not as a seed attribute")
        if not isinstance(attribute, dict) or attribute.get("type") not in ATTRIBUTE_TYPES:
            raise BadRequestData(f"seed attribute {name!r} must be an object with an NGSI-LD attribute 'type'")
        kind = attribute["type"]
        if kind in ("Relationship", "ListRelationship"):
            if "object" not in attribute:
                raise BadRequestData(f"seed relationship {name!r} needs an 'object'")
        elif "value" not in attribute and "languageMap" not in attribute and "json" not in attribute:
            raise BadRequestData(f"seed attribute {name!r} needs a 'value'")
    if len(orjson.dumps(value)) > MAX_SEED_BYTES:
        raise BadRequestData(f"'attributes' may hold at most {MAX_SEED_BYTES} bytes of JSON")
    return dict(value)


# -- mappings ---------------------------------------------------------------------------------

_MAPPING_KEYS = frozenset({"measure", "attribute", "unitCode", "scale", "offset", "min", "max", "kind", "values"})


def parse_mapping_entry(raw: Any, position: int) -> MeasureMapping:
    """One mapping entry from its JSON shape (see the device contract)."""
    where = f"mapping[{position}]"
    if not isinstance(raw, dict):
        raise BadRequestData(f"{where} must be an object")
    unknown = set(raw) - _MAPPING_KEYS
    if unknown:
        raise BadRequestData(f"{where} has unknown members: {', '.join(sorted(unknown))}")
    measure = raw.get("measure")
    if not isinstance(measure, str) or not _MEASURE_KEY.match(measure) or measure == TIMESTAMP_KEY:
        raise BadRequestData(f"{where}.measure must be a payload key of 1-64 safe characters (not 'ts')")
    attribute = _check_attribute_name(raw.get("attribute"), f"{where}.attribute")
    kind: MeasureKind = raw.get("kind", "number")
    if kind not in KINDS:
        raise BadRequestData(f"{where}.kind must be one of {', '.join(KINDS)}")
    unit = raw.get("unitCode")
    if unit is not None and (not isinstance(unit, str) or not _UNIT_CODE.match(unit)):
        raise BadRequestData(f"{where}.unitCode must be a UN/CEFACT common code such as 'CEL', got {unit!r:.40}")
    scale = _number(raw.get("scale", 1.0), f"{where}.scale")
    if scale == 0.0:
        raise BadRequestData(f"{where}.scale must not be 0")
    offset = _number(raw.get("offset", 0.0), f"{where}.offset")
    minimum = None if raw.get("min") is None else _number(raw["min"], f"{where}.min")
    maximum = None if raw.get("max") is None else _number(raw["max"], f"{where}.max")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise BadRequestData(f"{where}: min {minimum} is above max {maximum}")
    values: tuple[tuple[str, Any], ...] | None = None
    if raw.get("values") is not None:
        table = raw["values"]
        if not isinstance(table, dict) or not table:
            raise BadRequestData(f"{where}.values must be a non-empty object (raw value as string -> mapped value)")
        for mapped in table.values():
            if mapped is None or isinstance(mapped, dict | list):
                raise BadRequestData(f"{where}.values may map only to strings, numbers or booleans")
        values = tuple(table.items())
    return MeasureMapping(measure, attribute, kind, unit, scale, offset, minimum, maximum, values)


def parse_mapping(raw: Any) -> tuple[MeasureMapping, ...]:
    """A whole mapping (a JSON array of entries); measure keys must be unique."""
    if not isinstance(raw, list):
        raise BadRequestData("'mapping' must be an array of measure mappings")
    if len(raw) > MAX_MAPPINGS:
        raise BadRequestData(f"'mapping' may have at most {MAX_MAPPINGS} entries")
    entries = tuple(parse_mapping_entry(item, n) for n, item in enumerate(raw))
    seen: set[str] = set()
    for entry in entries:
        if entry.measure in seen:
            raise BadRequestData(f"measure {entry.measure!r} is mapped twice")
        seen.add(entry.measure)
    return entries


def mapping_to_json(mapping: tuple[MeasureMapping, ...]) -> list[dict[str, Any]]:
    """A mapping in its JSON shape."""
    return [entry.to_json() for entry in mapping]


# -- devices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceSpec:
    """What an operator says about a device when provisioning or changing it."""

    id: str
    device_type: str
    entity_id: str | None
    entity_type: str | None
    mapping: tuple[MeasureMapping, ...]
    gateway_id: str | None = None
    location: dict[str, Any] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def profile(self) -> DeviceProfile:
        """The profile of the device's type."""
        return PROFILES[self.device_type]

    @property
    def is_gateway(self) -> bool:
        """Whether this device is a gateway."""
        return self.profile.is_gateway


@dataclass(frozen=True)
class Device(DeviceSpec):
    """A device as the registry holds it (without its credentials)."""

    tenant: str = ""
    enabled: bool = True
    created_at: datetime | None = None
    modified_at: datetime | None = None
    last_seen_at: datetime | None = None

    @property
    def mqtt_username(self) -> str:
        """The device's user name at the MQTT broker."""
        return mqtt_username(self.tenant, self.id)

    def to_json(self) -> dict[str, Any]:
        """The device in the registry API's JSON shape."""
        out: dict[str, Any] = {"id": self.id, "deviceType": self.device_type}
        if self.entity_id is not None:
            out["entityId"] = self.entity_id
        if self.entity_type is not None:
            out["entityType"] = self.entity_type
        out["mapping"] = mapping_to_json(self.mapping)
        if self.gateway_id is not None:
            out["gatewayId"] = self.gateway_id
        if self.location is not None:
            out["location"] = self.location
        out["attributes"] = self.attributes
        out["enabled"] = self.enabled
        out["mqttUsername"] = self.mqtt_username
        for name, moment in (
            ("createdAt", self.created_at),
            ("modifiedAt", self.modified_at),
            ("lastSeenAt", self.last_seen_at),
        ):
            if moment is not None:
                out[name] = iso_z(moment)
        return out


def iso_z(moment: datetime) -> str:
    """A UTC instant as ISO 8601 with a ``Z`` (microseconds only when non-zero)."""
    text = moment.isoformat()
    return text.removesuffix("+00:00") + "Z"


def mqtt_username(tenant: str, device_id: str) -> str:
    """The MQTT user name of a device: ``<tenant>/<device id>``."""
    return f"{tenant}/{device_id}"


def _finish(
    device_id: str,
    device_type: str,
    entity_id: Any,
    entity_type: Any,
    mapping: Any,
    gateway_id: Any,
    location: Any,
    attributes: Any,
) -> DeviceSpec:
    profile = PROFILES[device_type]
    if profile.is_gateway:
        if entity_id is not None or entity_type is not None:
            raise BadRequestData("a gateway feeds no entity: leave 'entityId' and 'entityType' out")
        if mapping not in (None, []):
            raise BadRequestData("a gateway has no mapping of its own (its members have)")
        if gateway_id is not None:
            raise BadRequestData("a gateway cannot itself belong to a gateway")
        if attributes not in (None, {}):
            raise BadRequestData("a gateway has no entity, so no seed 'attributes'")
        return DeviceSpec(device_id, device_type, None, None, (), None, None, {})
    # Non-gateway profiles always name an entity type.
    entity_type = (profile.entity_type or "") if entity_type is None else _check_type_name(entity_type, "'entityType'")
    if entity_id is None:
        # A stable default: the entity is named after the device.
        entity_id = f"urn:ngsi-ld:{entity_type.rsplit('/', 1)[-1].rsplit('#', 1)[-1]}:{device_id}"
    entity_id = _check_entity_id(entity_id)
    parsed_mapping = profile.mapping if mapping is None else parse_mapping(mapping)
    if gateway_id is not None:
        gateway_id = check_device_id(gateway_id, "'gatewayId'")
        if gateway_id == device_id:
            raise BadRequestData("a device cannot be its own gateway")
    return DeviceSpec(
        device_id,
        device_type,
        entity_id,
        entity_type,
        parsed_mapping,
        gateway_id,
        None if location is None else _check_location(location),
        {} if attributes is None else _check_seed(attributes),
    )


def _device_type(value: Any) -> str:
    if not isinstance(value, str) or value not in PROFILES:
        raise BadRequestData(f"'deviceType' must be one of {', '.join(PROFILES)}, got {value!r:.60}")
    return value


def parse_device(body: Any) -> DeviceSpec:
    """A device to provision, from the registry API's JSON shape; :class:`BadRequestData` if invalid."""
    if not isinstance(body, dict):
        raise BadRequestData("a device must be a JSON object")
    unknown = set(body) - DEVICE_FIELDS
    if unknown:
        raise BadRequestData(f"unknown device members: {', '.join(sorted(unknown))}")
    return _finish(
        check_device_id(body.get("id")),
        _device_type(body.get("deviceType")),
        body.get("entityId"),
        body.get("entityType"),
        body.get("mapping"),
        body.get("gatewayId"),
        body.get("location"),
        body.get("attributes"),
    )


def apply_patch(current: DeviceSpec, patch: Any) -> DeviceSpec:
    """``current`` changed by a PATCH body: members present replace, ``null`` clears optional ones.

    A new ``deviceType`` without a ``mapping`` brings the new type's default mapping.
    """
    if not isinstance(patch, dict) or not patch:
        raise BadRequestData("a device patch must be a non-empty JSON object")
    unknown = set(patch) - PATCH_FIELDS
    if unknown:
        raise BadRequestData(f"these device members cannot be patched: {', '.join(sorted(unknown))}")
    device_type = _device_type(patch["deviceType"]) if "deviceType" in patch else current.device_type
    type_changed = device_type != current.device_type

    def pick(name: str, now: Any) -> Any:
        return patch.get(name, now)

    mapping_now = None if type_changed else mapping_to_json(current.mapping)
    entity_type_now = None if type_changed else current.entity_type
    entity_id_now = None if type_changed and PROFILES[device_type].is_gateway else current.entity_id
    return _finish(
        current.id,
        device_type,
        pick("entityId", entity_id_now),
        pick("entityType", entity_type_now),
        pick("mapping", mapping_now),
        pick("gatewayId", current.gateway_id),
        pick("location", current.location),
        pick("attributes", current.attributes or None),
    )


def seed_of(spec: DeviceSpec) -> dict[str, Any]:
    """The attributes written when the device's entity is first created: location and seed attributes."""
    seed: dict[str, Any] = dict(spec.attributes)
    if spec.location is not None:
        seed["location"] = {"type": "GeoProperty", "value": spec.location}
    return seed


def with_state(spec: DeviceSpec, tenant: str, **state: Any) -> Device:
    """A :class:`Device` record from a spec and its stored state (enabled, times)."""
    values = {name: getattr(spec, name) for name in DeviceSpec.__dataclass_fields__}
    return Device(**values, tenant=tenant, **state)


def respec(device: Device, spec: DeviceSpec) -> Device:
    """``device`` with the operator-given fields of ``spec``."""
    values = {name: getattr(spec, name) for name in DeviceSpec.__dataclass_fields__}
    return replace(device, **values)


# -- bulk import ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRow:
    """One device of a bulk import: its position, and its body or why it could not be read."""

    row: int  # 1-based position of the device in the import
    body: dict[str, Any] | None
    error: str | None = None
    line: int | None = None  # CSV: the line of the file (the header is line 1)


def _cell_value(text: str) -> Any:
    # Cells that are JSON numbers become numbers; everything else (also "007", "true") stays text.
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return value if isinstance(value, int | float) and not isinstance(value, bool) else text


def parse_csv(text: str) -> list[ImportRow]:
    """Devices from CSV with a header row (see :data:`CSV_COLUMNS`); extra columns become seed Properties."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise BadRequestData("the CSV has no header row") from None
    except csv.Error as exc:
        raise BadRequestData(f"the CSV header cannot be read: {exc}") from None
    if "id" not in header or "deviceType" not in header:
        raise BadRequestData("the CSV header must name at least the columns 'id' and 'deviceType'")
    if len(set(header)) != len(header) or "" in header:
        raise BadRequestData("the CSV header has empty or repeated column names")
    for name in header:
        if name not in CSV_COLUMNS:
            try:
                _check_attribute_name(name, "CSV column")
            except BadRequestData as exc:
                raise BadRequestData(f"{exc.detail} (extra columns become seed attributes)") from None
    rows: list[ImportRow] = []
    position = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            position += 1
            rows.append(ImportRow(position, None, f"unreadable CSV: {exc}", reader.line_num))
            continue
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not devices
        position += 1
        if len(cells) != len(header):
            rows.append(
                ImportRow(position, None, f"{len(cells)} cells, but the header has {len(header)}", reader.line_num)
            )
            continue
        rows.append(ImportRow(position, _csv_body(dict(zip(header, cells, strict=True))), None, reader.line_num))
    return rows


def _csv_body(cells: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    longitude = latitude = None
    for name, raw in cells.items():
        value = raw.strip()
        if not value:
            continue
        if name in ("id", "deviceType", "entityId", "entityType", "gatewayId"):
            body[name] = value
        elif name == "longitude":
            longitude = _cell_value(value)
        elif name == "latitude":
            latitude = _cell_value(value)
        else:
            attributes[name] = {"type": "Property", "value": _cell_value(value)}
    if longitude is not None or latitude is not None:
        # Validation (both present, numeric, in range) happens in parse_device like for JSON bodies.
        body["location"] = {"type": "Point", "coordinates": [longitude, latitude]}
    if attributes:
        body["attributes"] = attributes
    return body


def parse_json_import(document: Any) -> list[ImportRow]:
    """Devices from a JSON array of device objects."""
    if not isinstance(document, list):
        raise BadRequestData("a JSON import must be an array of device objects")
    return [
        ImportRow(n, item) if isinstance(item, dict) else ImportRow(n, None, "a device must be a JSON object")
        for n, item in enumerate(document, start=1)
    ]


# -- the compiled form used by ingestion ------------------------------------------------------

NUMBER, BOOLEAN, TEXT = 0, 1, 2
_KIND_CODES: Mapping[str, int] = {"number": NUMBER, "boolean": BOOLEAN, "text": TEXT}


class MeasureRule:
    """A mapping entry prepared for the hot path: plain attributes, scaling pre-decided."""

    __slots__ = (
        "attribute",
        "divisor",
        "hi",
        "identity",
        "kind",
        "lo",
        "measure",
        "offset",
        "scale",
        "unit_code",
        "values",
    )

    def __init__(self, mapping: MeasureMapping):
        self.measure = mapping.measure
        self.attribute = mapping.attribute
        self.unit_code = mapping.unit_code
        self.kind = _KIND_CODES[mapping.kind]
        self.scale = mapping.scale
        self.offset = mapping.offset
        self.lo = mapping.minimum
        self.hi = mapping.maximum
        self.values: dict[str, Any] | None = None if mapping.values is None else dict(mapping.values)
        self.identity = mapping.scale == 1.0 and mapping.offset == 0.0
        # Scaling by 0.01 multiplies in a rounding error (57 * 0.01 = 0.5700000000000001); dividing by
        # the exact integer 100 gives the nearest float to the true quotient.  Used when 1/scale is whole.
        inverse = 1.0 / mapping.scale
        self.divisor: float | None = None
        if abs(inverse) >= 1.0 and inverse == round(inverse) and abs(inverse) < 2**53:
            self.divisor = inverse
        elif abs(inverse) >= 1.0 and abs(inverse - round(inverse)) < 1e-9 * abs(inverse):
            self.divisor = float(round(inverse))


class CompiledDevice:
    """A device as ingestion needs it: credentials, state and a measure-key -> rule lookup."""

    __slots__ = (
        "device_type",
        "enabled",
        "entity_id",
        "entity_type",
        "gateway_id",
        "id",
        "is_gateway",
        "rules",
        "seed",
        "tenant",
        "token_digest",
    )

    def __init__(self, device: Device, token_digest: str):
        self.tenant = device.tenant
        self.id = device.id
        self.device_type = device.device_type
        self.is_gateway = device.is_gateway
        self.gateway_id = device.gateway_id
        self.entity_id = device.entity_id or ""
        self.entity_type = device.entity_type or ""
        self.enabled = device.enabled
        self.token_digest = token_digest
        self.rules: dict[str, MeasureRule] = {m.measure: MeasureRule(m) for m in device.mapping}
        # Shared by every reading of the device: the sink must treat it as read-only.
        self.seed: dict[str, Any] = seed_of(device)


def compile_device(device: Device, token_digest: str) -> CompiledDevice:
    """The lookup-ready form of ``device``."""
    return CompiledDevice(device, token_digest)
