"""Smart street lighting: entity types, attribute names, measurements, fault kinds and defaults, as data.

Names follow the FIWARE Smart Data Models (``Streetlight``, ``StreetlightGroup``,
``StreetlightControlCabinet``) for the entities the devices feed, with the attribute terms the
device profiles in :mod:`urbis.ingestion.profiles` map controller and cabinet-meter payloads to.
The control and fault vocabulary is the TALQ Smart City Protocol's (domain reference §2.1):
``ControlProgram``, ``Calendar``, ``OverrideCommand``, and the ``LampMonitorFunction`` /
``CabinetMonitorFunction`` event names.  Every default below is a parameter of the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from enum import StrEnum

# -- entity types (Smart Data Models, dataModel.Streetlighting) --------------------------

STREETLIGHT = "Streetlight"  # one lamp and its controller
STREETLIGHT_GROUP = "StreetlightGroup"  # lamps switched and dimmed together
STREETLIGHT_CONTROL_CABINET = "StreetlightControlCabinet"  # the feeder cabinet with its meter
LIGHTING_ENTITY_TYPES: tuple[str, ...] = (STREETLIGHT, STREETLIGHT_GROUP, STREETLIGHT_CONTROL_CABINET)

# -- attribute names -----------------------------------------------------------------------

POWER_STATE = "powerState"  # Streetlight: "on"/"off"/"low"; cabinet meter: supply "on"/"off"
ILLUMINANCE_LEVEL = "illuminanceLevel"  # Smart Data Models: a fraction 0..1 (the model works in %)
POWER_CONSUMPTION = "powerConsumption"  # Streetlight: active power (W)
ENERGY_CONSUMED = "energyConsumed"  # cumulative energy counter (kWh), lamp or cabinet
STATUS = "status"  # Streetlight controller status text: "ok", "noSupply", ...
PRESENCE_DETECTED = "presenceDetected"  # Streetlight / StreetlightGroup: true when a presence sensor fired
POWER_RATING = "powerRating"  # Streetlight: rated power of the luminaire at 100 % (W)
TOTAL_ACTIVE_POWER = "totalActivePower"  # StreetlightControlCabinet: power through the meter (W)
VOLTAGE = "voltage"  # StreetlightControlCabinet: supply voltage (V)
CURRENT = "current"  # StreetlightControlCabinet: current (A)
MAXIMUM_POWER_AVAILABLE = "maximumPowerAvailable"  # StreetlightControlCabinet (kW)
REF_STREETLIGHT = "refStreetlight"  # group → its lamps
REF_STREETLIGHT_GROUP = "refStreetlightGroup"  # lamp → its group; cabinet → its groups
REF_STREETLIGHT_CONTROL_CABINET = "refStreetlightControlCabinet"  # lamp / group → its cabinet
AREA_SERVED = "areaServed"  # the district name
LOCATION = "location"

#: The controller status that means "my supply is gone" (the simulator's battery-backed controllers send it).
STATUS_NO_SUPPLY = "noSupply"

# -- TALQ vocabulary the model mirrors ------------------------------------------------------

TALQ_LAMP_ACTUATOR = "LampActuatorFunction"
TALQ_LAMP_MONITOR = "LampMonitorFunction"
TALQ_CABINET_MONITOR = "CabinetMonitorFunction"
TALQ_ELECTRICAL_METER = "ElectricalMeterFunction"
TALQ_PRESENCE_SENSOR = "PresenceSensorFunction"
TALQ_TARGET_LIGHT_COMMAND = "targetLightCommand"  # the level the CMS commands
TALQ_FEEDBACK_LIGHT_COMMAND = "feedbackLightCommand"  # the command the controller says it executes
TALQ_ACTUAL_LIGHT_STATE = "actualLightState"  # the level the controller says the lamp is at
TALQ_LAMP_POWER_TOLERANCE = "lampPowerTolerance"  # LampType: allowed error against the dimming curve
TALQ_MIN_LIGHT_OUTPUT = "minLightOutput"  # LampType: the lowest level the driver dims to


class FaultKind(StrEnum):
    """What can be wrong, with the TALQ event names (``LampMonitorFunction`` and cabinet events)."""

    LAMP_FAILURE = "lampFailure"  # commanded on, but the lamp draws (almost) nothing
    LAMP_UNEXPECTED_ON = "lampUnexpectedOn"  # day-burning: lit by day or while commanded off
    LAMP_POWER_TOO_HIGH = "lampPowerTooHigh"  # lit, above the dimming curve + tolerance
    LAMP_POWER_TOO_LOW = "lampPowerTooLow"  # lit, below the dimming curve − tolerance
    COMMUNICATION_LOSS = "communicationLoss"  # no report for longer than the allowed silence
    SUPPLY_LOSS = "supplyLoss"  # the cabinet (or the circuit behind it) has no mains


#: The faults a lamp can have (everything its cabinet's supply loss explains).
LAMP_FAULT_KINDS: frozenset[FaultKind] = frozenset(
    {
        FaultKind.LAMP_FAILURE,
        FaultKind.LAMP_UNEXPECTED_ON,
        FaultKind.LAMP_POWER_TOO_HIGH,
        FaultKind.LAMP_POWER_TOO_LOW,
        FaultKind.COMMUNICATION_LOSS,
    }
)


class Severity(StrEnum):
    """How urgent a fault is (ITU-T X.733 perceived severity, as the alarms use it)."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


class SourceKind(StrEnum):
    """What kind of thing a fault or a report is about."""

    LAMP = "lamp"
    CABINET = "cabinet"


class DecisionReason(StrEnum):
    """Which rule decided a commanded level (the "why" of a level decision)."""

    OVERRIDE = "override"  # an operator's OverrideCommand in force
    PRESENCE_BOOST = "presenceBoost"  # a detection within the boost hold time
    PRESENCE_BACKGROUND = "presenceBackground"  # the adaptive program's background level
    FIXED_TIME_STEP = "fixedTimeStep"  # a TALQ fixedTimeControl (local wall-clock time)
    ASTRO_TIME_STEP = "astroTimeStep"  # a TALQ astroClockTimeControl (sunset/sunrise ± offset)
    PROGRAM_LEVEL = "programLevel"  # lit, and no step has fired yet this lighting day
    DAYLIGHT = "daylight"  # outside the astro-clock active period: off


class SunEvent(StrEnum):
    """The astronomical events an astro-clock step is tied to."""

    SUNSET = "sunset"
    SUNRISE = "sunrise"


class EnergyBasis(StrEnum):
    """Where an energy figure comes from: the dashboard shows it, as the DOE advises (§2.3)."""

    METERED = "metered"  # differences of energy counters
    ESTIMATED = "estimated"  # the dimming curve integrated over the burn schedule
    MIXED = "mixed"  # an aggregate of metered and estimated parts
    NONE = "none"  # nothing contributed


class FeedbackStatus(StrEnum):
    """The outcome of comparing a commanded level with what the controller reports."""

    OK = "ok"
    PENDING = "pending"  # not (yet) matching, but still within the grace period
    MISMATCH = "mismatch"  # still not matching after the grace period
    NO_FEEDBACK = "noFeedback"  # no report since the command, and the grace period is over


@dataclass(frozen=True, slots=True)
class LightingMeasure:
    """A number the lighting entities carry: key, NGSI-LD attribute, UN/CEFACT unit and valid range."""

    key: str
    attribute: str
    entity_type: str
    unit_code: str
    minimum: float | None = 0.0
    maximum: float | None = None


MEASURES: tuple[LightingMeasure, ...] = (
    LightingMeasure("level", ILLUMINANCE_LEVEL, STREETLIGHT, "P1", 0.0, 1.0),  # fraction, shown as %
    LightingMeasure("power", POWER_CONSUMPTION, STREETLIGHT, "WTT", 0.0, 2000.0),
    LightingMeasure("energy", ENERGY_CONSUMED, STREETLIGHT, "KWH"),
    LightingMeasure("rating", POWER_RATING, STREETLIGHT, "WTT", 0.0, 2000.0),
    LightingMeasure("cabinetPower", TOTAL_ACTIVE_POWER, STREETLIGHT_CONTROL_CABINET, "WTT", 0.0, 200_000.0),
    LightingMeasure("cabinetEnergy", ENERGY_CONSUMED, STREETLIGHT_CONTROL_CABINET, "KWH"),
    LightingMeasure("voltage", VOLTAGE, STREETLIGHT_CONTROL_CABINET, "VLT", 0.0, 500.0),
    LightingMeasure("current", CURRENT, STREETLIGHT_CONTROL_CABINET, "AMP", 0.0, 1000.0),
)

# -- default parameters ----------------------------------------------------------------------

DEFAULT_TIMEZONE = "Europe/Berlin"
#: TALQ ``dayOffset``: a lighting day runs from local noon to the next local noon, so a night
#: that spans two dates belongs to the date on which it started.
DEFAULT_DAY_STARTS_AT = time(12, 0)
#: A lamp controller (and a cabinet meter) reports every 15 minutes in the simulator.
DEFAULT_REPORT_INTERVAL = timedelta(minutes=15)
#: Silence longer than two missed reports plus a margin is a communication loss.
DEFAULT_MAX_SILENCE = 2 * DEFAULT_REPORT_INTERVAL + timedelta(minutes=5)
#: How long a controller may take to follow a command before a mismatch counts.
DEFAULT_FEEDBACK_GRACE = timedelta(minutes=2)
#: Allowed difference between the commanded and the reported level (percentage points).
DEFAULT_FEEDBACK_TOLERANCE = 1.0
