"""Read models of street lighting: lamps, cabinets and groups as the service reads them, and what the API shows.

Everything here is a pure function of entities in the broker's internal (expanded) form and a
term expander; the service reads the entities, these functions shape them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from urbis.context.query.geo import representative_point
from urbis.solutions.lighting import const
from urbis.solutions.lighting.model import EnergyFigure, EnergySavings, LevelDecision, NightPlan
from urbis.solutions.lighting.store import LampCommand, StoredOverride

Entity = dict[str, Any]
Expand = Callable[[str], str]


class Terms:
    """The expanded names the lighting views read, resolved once per expander."""

    def __init__(self, expand: Expand) -> None:
        self.streetlight = expand(const.STREETLIGHT)
        self.group = expand(const.STREETLIGHT_GROUP)
        self.cabinet = expand(const.STREETLIGHT_CONTROL_CABINET)
        self.power_state = expand(const.POWER_STATE)
        self.level = expand(const.ILLUMINANCE_LEVEL)
        self.power = expand(const.POWER_CONSUMPTION)
        self.energy = expand(const.ENERGY_CONSUMED)
        self.status = expand(const.STATUS)
        self.presence = expand(const.PRESENCE_DETECTED)
        self.rating = expand(const.POWER_RATING)
        self.voltage = expand(const.VOLTAGE)
        self.ref_group = expand(const.REF_STREETLIGHT_GROUP)
        self.ref_cabinet = expand(const.REF_STREETLIGHT_CONTROL_CABINET)
        self.area = expand(const.AREA_SERVED)
        self.location = expand(const.LOCATION)
        #: The attributes a lamp controller reports: their observedAt is the report's time.
        self.lamp_reported = (self.power_state, self.level, self.power, self.energy, self.status)
        #: The attributes a cabinet meter reports.
        self.cabinet_reported = (self.power_state, self.energy, expand(const.TOTAL_ACTIVE_POWER), self.voltage)


def _instance(entity: Entity, iri: str) -> dict[str, Any] | None:
    instances = entity["attrs"].get(iri)
    if not instances:
        return None
    found: dict[str, Any] = next((i for i in instances if "datasetId" not in i), instances[0])
    return found


def value_of(entity: Entity, iri: str) -> Any:
    """The value (or relationship object) of an attribute's default instance, else None."""
    instance = _instance(entity, iri)
    if instance is None:
        return None
    return instance.get("object", instance.get("value"))


def parse_instant(raw: Any) -> datetime | None:
    """An NGSI-LD timestamp (``...Z``) as an aware datetime; None when absent or malformed."""
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def report_times(entity: Entity, attributes: tuple[str, ...]) -> tuple[datetime | None, datetime | None]:
    """When a device last spoke: its latest observation, and when its latest report arrived.

    The first is the latest ``observedAt`` among the attributes the device reports, the second
    their latest ``modifiedAt``, when the broker stored one of them (a gateway replaying its
    buffer reports old observations, but it talks).
    """
    observed: list[datetime] = []
    stored: list[datetime] = []
    for iri in attributes:
        instance = _instance(entity, iri)
        if instance is None:
            continue
        for stamp, into in (("observedAt", observed), ("modifiedAt", stored)):
            moment = parse_instant(instance.get(stamp))
            if moment is not None:
                into.append(moment)
    return max(observed, default=None), max(stored, default=None)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _point(entity: Entity, terms: Terms) -> tuple[float, float] | None:
    return representative_point(value_of(entity, terms.location))


def _switch(value: Any) -> bool | None:
    """``powerState`` as on/off: the profiles map the devices' booleans to "on"/"off"; "low" is lit."""
    if isinstance(value, bool):
        return value
    if value in ("on", "low"):
        return True
    if value == "off":
        return False
    return None


@dataclass(frozen=True)
class LampView:
    """A streetlight as its entity says it is now."""

    id: str
    group_id: str | None
    cabinet_id: str | None
    district: str | None
    position: tuple[float, float] | None  # (lon, lat)
    location: dict[str, object] | None  # the GeoJSON geometry, for alarms and maps
    rated_w: float | None
    reported_on: bool | None
    level_fraction: float | None
    power_w: float | None
    energy_kwh: float | None
    status: str | None
    reported_at: datetime | None
    created_at: datetime | None
    presence_at: datetime | None = None  # the latest presence detection at the lamp
    received_at: datetime | None = None  # when the latest report arrived

    @property
    def no_supply(self) -> bool:
        """Whether the controller says its mains are gone."""
        return self.status == const.STATUS_NO_SUPPLY


@dataclass(frozen=True)
class CabinetView:
    """A control cabinet and its meter's latest reading."""

    id: str
    district: str | None
    position: tuple[float, float] | None
    location: dict[str, object] | None
    supply_on: bool | None
    voltage_v: float | None
    energy_kwh: float | None
    reported_at: datetime | None
    created_at: datetime | None
    received_at: datetime | None = None  # when the latest meter reading arrived


@dataclass(frozen=True)
class GroupView:
    """A group of lamps switched and dimmed together."""

    id: str
    cabinet_id: str | None
    district: str | None
    position: tuple[float, float] | None
    presence_at: datetime | None = None  # the latest detection of a sensor attached to the group


def detected_at(entity: Entity, iri: str) -> datetime | None:
    """When a presence attribute last said "detected": its ``observedAt`` while its value is true (or > 0)."""
    instance = _instance(entity, iri)
    if instance is None:
        return None
    value = instance.get("value")
    if value is True or (isinstance(value, int | float) and not isinstance(value, bool) and value > 0):
        return parse_instant(instance.get("observedAt"))
    return None


def _geometry(entity: Entity, terms: Terms) -> dict[str, object] | None:
    geometry = value_of(entity, terms.location)
    return geometry if isinstance(geometry, dict) else None


def _reference(entity: Entity, iri: str) -> str | None:
    target = value_of(entity, iri)
    if isinstance(target, list):  # a lamp names one group; a list is kept to its first
        target = target[0] if target else None
    return target if isinstance(target, str) else None


def lamp_view(entity: Entity, terms: Terms) -> LampView:
    """A lamp's read model from its entity."""
    observed, received = report_times(entity, terms.lamp_reported)
    return LampView(
        id=entity["id"],
        group_id=_reference(entity, terms.ref_group),
        cabinet_id=_reference(entity, terms.ref_cabinet),
        district=_text(value_of(entity, terms.area)),
        position=_point(entity, terms),
        location=_geometry(entity, terms),
        rated_w=_number(value_of(entity, terms.rating)),
        reported_on=_switch(value_of(entity, terms.power_state)),
        level_fraction=_number(value_of(entity, terms.level)),
        power_w=_number(value_of(entity, terms.power)),
        energy_kwh=_number(value_of(entity, terms.energy)),
        status=_text(value_of(entity, terms.status)),
        reported_at=observed,
        created_at=parse_instant(entity.get("createdAt")),
        presence_at=detected_at(entity, terms.presence),
        received_at=received,
    )


def cabinet_view(entity: Entity, terms: Terms) -> CabinetView:
    """A cabinet's read model from its entity."""
    observed, received = report_times(entity, terms.cabinet_reported)
    return CabinetView(
        id=entity["id"],
        district=_text(value_of(entity, terms.area)),
        position=_point(entity, terms),
        location=_geometry(entity, terms),
        supply_on=_switch(value_of(entity, terms.power_state)),
        voltage_v=_number(value_of(entity, terms.voltage)),
        energy_kwh=_number(value_of(entity, terms.energy)),
        reported_at=observed,
        created_at=parse_instant(entity.get("createdAt")),
        received_at=received,
    )


def group_view(entity: Entity, terms: Terms) -> GroupView:
    """A group's read model from its entity."""
    return GroupView(
        id=entity["id"],
        cabinet_id=_reference(entity, terms.ref_cabinet),
        district=_text(value_of(entity, terms.area)),
        position=_point(entity, terms),
        presence_at=detected_at(entity, terms.presence),
    )


# -- energy -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnergyNode:
    """One node of the energy hierarchy (a lamp, group, cabinet, district or the city) over a window."""

    id: str
    level: str  # "lamp", "group", "cabinet", "district", "city"
    parent: str | None
    figure: EnergyFigure
    savings: EnergySavings

    def to_json(self) -> dict[str, Any]:
        """The API's shape."""
        return {
            "id": self.id,
            "level": self.level,
            "parent": self.parent,
            "kwh": round(self.figure.kwh, 4),
            "meteredKwh": round(self.figure.metered_kwh, 4),
            "estimatedKwh": round(self.figure.estimated_kwh, 4),
            "basis": self.figure.basis.value,
            "meteredSources": self.figure.metered_sources,
            "estimatedSources": self.figure.estimated_sources,
            "baselineKwh": round(self.savings.baseline_kwh, 4),
            "savedKwh": round(self.savings.saved_kwh, 4),
            "savedShare": round(self.savings.saved_share, 4),
            "savedMoney": str(self.savings.saved_money),
            "currency": self.savings.currency,
            "savedCo2Kg": round(self.savings.saved_co2_kg, 4),
        }


@dataclass(frozen=True)
class EnergyReport:
    """Energy, baseline and savings of every node of a tenant's lighting over ``[start, end)``."""

    start: datetime
    end: datetime
    tariff_per_kwh: Decimal
    grid_kg_co2_per_kwh: float
    nodes: list[EnergyNode]

    def node(self, node_id: str) -> EnergyNode:
        """One node by id (KeyError when absent)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    @property
    def city(self) -> EnergyNode:
        """The city's total."""
        return self.node(CITY_NODE)

    def to_json(self) -> dict[str, Any]:
        """The API's shape: the city first, then districts, cabinets, groups and lamps."""
        order = {"city": 0, "district": 1, "cabinet": 2, "group": 3, "lamp": 4}
        ordered = sorted(self.nodes, key=lambda n: (order.get(n.level, 5), n.id))
        return {
            "start": self.start,
            "end": self.end,
            "tariffPerKwh": str(self.tariff_per_kwh),
            "gridKgCo2PerKwh": self.grid_kg_co2_per_kwh,
            "city": self.city.to_json(),
            "nodes": [n.to_json() for n in ordered],
        }


#: The id of the city's node in the energy hierarchy.
CITY_NODE = "city"


def district_node(name: str) -> str:
    """The id of a district's node in the energy hierarchy (distinct from any entity id)."""
    return f"district:{name}"


# -- schedule ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NightScheduleView:
    """A group's planned night: when it switches on and off, and every level change."""

    group_id: str
    lighting_date: date
    plan: NightPlan
    changes: list[LevelDecision]
    calendar_id: str = "default"

    def to_json(self) -> dict[str, Any]:
        """The API's shape."""
        rule = self.plan.calendar_rule
        return {
            "groupId": self.group_id,
            "date": self.lighting_date.isoformat(),
            "calendar": self.calendar_id,
            "calendarRule": None if rule is None else (rule.name or rule.program_id),
            "program": self.plan.program.program_id,
            "on": self.plan.on,
            "off": self.plan.off,
            "changes": [
                {"at": c.at, "level": c.level, "reason": c.reason.value, "detail": c.detail, "override": c.override_id}
                for c in self.changes
            ],
        }


def override_json(override: StoredOverride, now: datetime) -> dict[str, Any]:
    """An override as the API shows it, with whether it holds now."""
    ended = override.withdrawn_at is not None or override.expires_at <= now
    return {
        "id": override.override_id,
        "targets": list(override.targets),
        "level": override.level,
        "start": override.starts_at,
        "expiry": override.expires_at,
        "receivedAt": override.received_at,
        "createdBy": override.created_by,
        "note": override.note,
        "withdrawnAt": override.withdrawn_at,
        "withdrawnBy": override.withdrawn_by,
        "state": "ended" if ended else ("active" if override.starts_at <= now else "scheduled"),
    }


def command_json(command: LampCommand) -> dict[str, Any]:
    """A lamp's last command and its feedback as the API shows them."""
    return {
        "lampId": command.lamp_id,
        "deviceId": command.device_id,
        "commandId": command.command_id,
        "level": command.level,
        "reason": command.reason,
        "detail": command.detail,
        "commandedAt": command.commanded_at,
        "feedback": command.feedback,
        "feedbackDetail": command.feedback_detail,
        "mismatchSince": command.mismatch_since,
    }


# -- lamp states for maps and headline figures ---------------------------------------------------

#: A lamp's state as a map shows it.
LAMP_STATES = ("on", "dimmed", "off", "fault", "unknown")
#: A level at or above this share of full output counts as fully on rather than dimmed.
FULL_LEVEL = 0.95


@dataclass(frozen=True)
class LampState:
    """A lamp's state now: on, dimmed, off, fault (an active alarm concerns it) or unknown."""

    id: str
    state: str
    level: float | None
    district: str | None
    group_id: str | None
    position: tuple[float, float] | None
    faults: tuple[str, ...]  # the ids of the active alarms that concern the lamp


@dataclass(frozen=True, slots=True)
class LampBrief:
    """What a lamp's state needs of its entity: read for every lamp of the city on each overview."""

    id: str
    group_id: str | None
    cabinet_id: str | None
    district: str | None
    position: tuple[float, float] | None
    reported_on: bool | None
    level_fraction: float | None


def lamp_brief(entity: Entity, terms: Terms) -> LampBrief:
    """A lamp's state-relevant attributes, read without the report times, ratings and meters of :func:`lamp_view`."""
    return LampBrief(
        id=entity["id"],
        group_id=_reference(entity, terms.ref_group),
        cabinet_id=_reference(entity, terms.ref_cabinet),
        district=_text(value_of(entity, terms.area)),
        position=_point(entity, terms),
        reported_on=_switch(value_of(entity, terms.power_state)),
        level_fraction=_number(value_of(entity, terms.level)),
    )


def lamp_state(lamp: LampView | LampBrief, faults: tuple[str, ...]) -> LampState:
    """Classify a lamp from its latest report and the active alarms that concern it."""
    if faults:
        state = "fault"
    elif lamp.reported_on is False or (lamp.level_fraction is not None and lamp.level_fraction <= 0):
        state = "off"
    elif lamp.level_fraction is not None:
        state = "on" if lamp.level_fraction >= FULL_LEVEL else "dimmed"
    elif lamp.reported_on:
        state = "on"
    else:
        state = "unknown"
    return LampState(lamp.id, state, lamp.level_fraction, lamp.district, lamp.group_id, lamp.position, faults)
