"""Air quality: entity types, attribute names, units and the pollutants described as data.

Attribute names follow the FIWARE Smart Data Models ``AirQualityObserved`` entity
(``dataModel.Environment``); units are UN/CEFACT common codes, as everywhere in Urbis.
Molecular weights are those the US EPA uses to convert between mass concentration and
mixing ratio (domain reference §1.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

# -- entity types and attributes (Smart Data Models, dataModel.Environment) -------------

AIR_QUALITY_OBSERVED = "AirQualityObserved"
AIR_QUALITY_INDEX = "airQualityIndex"  # the number of the index (US AQI value or EAQI level)
AIR_QUALITY_LEVEL = "airQualityLevel"  # the category name of that index
RELIABILITY = "reliability"  # 0..1: share of the inputs that passed quality control
TEMPERATURE = "temperature"
RELATIVE_HUMIDITY = "relativeHumidity"  # Smart Data Models: a fraction 0..1, not a percentage
#: Urbis term (urbis-context.jsonld): ``"reference"`` or ``"low-cost"``.  A low-cost station's
#: PM2.5 is corrected for humidity (Barkjohn 2021) when it also reports ``relativeHumidity``.
SENSOR_GRADE = "sensorGrade"
#: The two laser channels of a PurpleAir-style PM sensor are two instances of ``pm25`` (and
#: ``pm10``) told apart by these NGSI-LD datasetIds: the attribute keeps its Smart Data Models
#: name, and a station reporting one value simply leaves the datasetId out.
CHANNEL_A_DATASET = "urn:ngsi-ld:Dataset:channelA"
CHANNEL_B_DATASET = "urn:ngsi-ld:Dataset:channelB"
#: The city's time zone when none is configured (local days of the daily means follow it).
DEFAULT_TIMEZONE = "Europe/Berlin"


class SensorGrade(StrEnum):
    """How good a station's instruments are (the ``sensorGrade`` property)."""

    REFERENCE = "reference"
    LOW_COST = "low-cost"


class Unit(StrEnum):
    """Concentration units, valued by their UN/CEFACT common code."""

    UG_M3 = "GQ"  # microgram per cubic metre
    MG_M3 = "GP"  # milligram per cubic metre
    PPM = "59"  # part per million (by volume)
    PPB = "61"  # part per billion (by volume)

    @property
    def symbol(self) -> str:
        """The ASCII symbol people type, e.g. ``ug/m3`` or ``ppb``."""
        return _UNIT_SYMBOLS[self]


_UNIT_SYMBOLS: dict[Unit, str] = {Unit.UG_M3: "ug/m3", Unit.MG_M3: "mg/m3", Unit.PPM: "ppm", Unit.PPB: "ppb"}

#: Every spelling a unit is accepted under (matched case-insensitively), for the CLI and payloads.
UNIT_ALIASES: dict[str, Unit] = {
    "gq": Unit.UG_M3,
    "ug/m3": Unit.UG_M3,
    "µg/m3": Unit.UG_M3,
    "µg/m³": Unit.UG_M3,
    "ug/m³": Unit.UG_M3,
    "μg/m3": Unit.UG_M3,  # Greek small mu, which some keyboards produce instead of the micro sign
    "μg/m³": Unit.UG_M3,
    "gp": Unit.MG_M3,
    "mg/m3": Unit.MG_M3,
    "mg/m³": Unit.MG_M3,
    "59": Unit.PPM,
    "ppm": Unit.PPM,
    "61": Unit.PPB,
    "ppb": Unit.PPB,
}


class Pollutant(StrEnum):
    """The pollutants the indices know, valued by their NGSI-LD attribute name."""

    PM25 = "pm25"
    PM10 = "pm10"
    O3 = "o3"
    NO2 = "no2"
    SO2 = "so2"
    CO = "co"


class Averaging(StrEnum):
    """The averaging period a concentration stands for."""

    HOUR_1 = "1h"
    HOUR_8 = "8h"
    HOUR_24 = "24h"
    ANNUAL = "annual"
    PEAK_SEASON = "peak-season"  # WHO: mean of the daily max 8-h O3 over the worst six months
    NOWCAST = "nowcast"  # the US NowCast: an estimate of the 24-h (PM) or 8-h (O3) mean from recent hours


class StationType(StrEnum):
    """The EEA station classification, which decides what the European index needs."""

    TRAFFIC = "traffic"
    BACKGROUND = "background"
    INDUSTRIAL = "industrial"


@dataclass(frozen=True, slots=True)
class PollutantSpec:
    """One pollutant as Urbis stores it: attribute, unit, plausible range and molecular weight.

    ``minimum``/``maximum`` bound physically plausible ambient values in ``unit``; a reading
    outside is an instrument fault, not air.  ``molecular_weight`` (g/mol) is ``None`` for
    particulate matter, which has no mixing ratio.
    """

    key: Pollutant
    attribute: str
    label: str
    unit: Unit
    minimum: float
    maximum: float
    molecular_weight: float | None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.minimum) and math.isfinite(self.maximum) and self.minimum < self.maximum):
            raise ValueError(f"{self.key}: the valid range must be finite with minimum < maximum")
        if self.molecular_weight is not None and self.molecular_weight <= 0:
            raise ValueError(f"{self.key}: molecular weight must be positive")

    @property
    def is_gas(self) -> bool:
        """True when the pollutant has a mixing ratio (ppb/ppm) as well as a mass concentration."""
        return self.molecular_weight is not None


#: Molecular weights in g/mol (EPA conversion factors).
MOLECULAR_WEIGHTS: dict[Pollutant, float] = {
    Pollutant.O3: 48.00,
    Pollutant.NO2: 46.01,
    Pollutant.SO2: 64.07,
    Pollutant.CO: 28.01,
}

# The ranges match the ingestion profile of an air-quality station where it has one; SO2 and CO
# reach past the concentrations at US AQI 500 (1004 ppb ≈ 2630 µg/m³; 50.4 ppm ≈ 57.7 mg/m³).
POLLUTANTS: tuple[PollutantSpec, ...] = (
    PollutantSpec(Pollutant.PM25, "pm25", "PM2.5", Unit.UG_M3, 0.0, 1000.0, None),
    PollutantSpec(Pollutant.PM10, "pm10", "PM10", Unit.UG_M3, 0.0, 2000.0, None),
    PollutantSpec(Pollutant.O3, "o3", "O3", Unit.UG_M3, 0.0, 1000.0, MOLECULAR_WEIGHTS[Pollutant.O3]),
    PollutantSpec(Pollutant.NO2, "no2", "NO2", Unit.UG_M3, 0.0, 2000.0, MOLECULAR_WEIGHTS[Pollutant.NO2]),
    PollutantSpec(Pollutant.SO2, "so2", "SO2", Unit.UG_M3, 0.0, 3000.0, MOLECULAR_WEIGHTS[Pollutant.SO2]),
    PollutantSpec(Pollutant.CO, "co", "CO", Unit.MG_M3, 0.0, 100.0, MOLECULAR_WEIGHTS[Pollutant.CO]),
)

POLLUTANT_SPECS: dict[Pollutant, PollutantSpec] = {spec.key: spec for spec in POLLUTANTS}

#: Relative humidity is a percentage; above 100 % the hygrometer is faulty.
RELATIVE_HUMIDITY_RANGE: tuple[float, float] = (0.0, 100.0)


def pollutant_spec(pollutant: Pollutant) -> PollutantSpec:
    """The stored description of ``pollutant``."""
    return POLLUTANT_SPECS[pollutant]


def parse_unit(text: str) -> Unit:
    """The unit named by ``text`` (a symbol such as ``ug/m3`` or a UN/CEFACT code such as ``GQ``)."""
    try:
        return UNIT_ALIASES[text.strip().lower()]
    except KeyError:
        known = ", ".join(sorted({unit.symbol for unit in Unit}))
        raise ValueError(f"unknown unit {text!r}; use one of {known} (or a UN/CEFACT code GQ, GP, 59, 61)") from None


def parse_pollutant(text: str) -> Pollutant:
    """The pollutant named by ``text`` (``pm25``, ``PM2.5``, ``no2``, …)."""
    normalised = text.strip().lower().replace(".", "").replace("_", "")
    try:
        return Pollutant(normalised)
    except ValueError:
        known = ", ".join(pollutant.value for pollutant in Pollutant)
        raise ValueError(f"unknown pollutant {text!r}; use one of {known}") from None


def parse_averaging(text: str) -> Averaging:
    """The averaging period named by ``text`` (``1h``, ``8h``, ``24h``, ``nowcast``, …)."""
    normalised = text.strip().lower()
    try:
        return Averaging(normalised)
    except ValueError:
        known = ", ".join(averaging.value for averaging in Averaging)
        raise ValueError(f"unknown averaging period {text!r}; use one of {known}") from None


@dataclass(frozen=True, slots=True)
class QualityControlParams:
    """Default quality-control settings for a series of readings (domain reference §1.5).

    ``flatline_run`` identical consecutive readings mark a stuck sensor; a reading further than
    ``spike_threshold`` scaled MADs (and more than ``spike_min_deviation`` in the reading's unit)
    from the median of the ``2·spike_half_window + 1`` readings around it is a spike; A/B
    channels disagree when they differ by more than ``channel_absolute_limit`` µg/m³ *and* by
    more than ``channel_relative_limit`` of their mean.
    """

    flatline_run: int = 8
    flatline_tolerance: float = 0.0
    spike_half_window: int = 3
    spike_threshold: float = 3.0
    spike_min_deviation: float = 0.0
    channel_absolute_limit: float = 5.0
    channel_relative_limit: float = 0.70

    def __post_init__(self) -> None:
        if self.flatline_run < 2:
            raise ValueError("a flatline needs at least 2 readings")
        if self.spike_half_window < 1:
            raise ValueError("the spike window needs at least one neighbour on each side")
        for name in (
            "flatline_tolerance",
            "spike_threshold",
            "spike_min_deviation",
            "channel_absolute_limit",
            "channel_relative_limit",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number")


DEFAULT_QUALITY_CONTROL = QualityControlParams()
