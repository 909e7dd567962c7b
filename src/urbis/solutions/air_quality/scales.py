"""Index scales as versioned data: the US AQI (2024), the European AQI (2017, 2024), WHO 2021.

A scale's id (``us-2024``, ``eaqi-2024``, ``eaqi-2017``, ``who-2021``) is stored with every
index Urbis publishes, so a figure can be reproduced after the tables change.  The figures
come from domain reference §1.1–§1.3; concentrations are ``Decimal`` so that the band edges
compare exactly (0.1 is not a binary fraction).

Nothing here computes: :mod:`urbis.solutions.air_quality.model` reads these tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from urbis.solutions.air_quality.const import Averaging, Pollutant, Unit
from urbis.solutions.air_quality.units import MOLAR_VOLUME_20C, MOLAR_VOLUME_25C

# -- US AQI ----------------------------------------------------------------------------


class AboveTop(StrEnum):
    """What a breakpoint table says about a concentration above its last row."""

    EXTRAPOLATE = "extrapolate"  # "Beyond the AQI": continue the slope of the last row past 500
    CAP = "cap"  # the table reports its top index and another table decides above (SO2 1-h → 200)
    UNDEFINED = "undefined"  # the table cannot define the index there (O3 8-h above 0.200 ppm → use 1-h)


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """One row of a US AQI table: the concentrations ``[low, high]`` map onto ``[index_low, index_high]``."""

    concentration_low: Decimal
    concentration_high: Decimal
    index_low: int
    index_high: int


@dataclass(frozen=True, slots=True)
class AqiCategory:
    """A US AQI category with its official colour and the 2024 "ColorVision Assist" colour."""

    index_low: int
    index_high: int
    name: str
    colour: str
    colour_vision_assist: str


@dataclass(frozen=True, slots=True)
class BreakpointTable:
    """The breakpoints of one pollutant and averaging period, in ``unit``.

    ``decimals`` is how far a concentration is truncated (never rounded) before the lookup:
    3 for O3 in ppm, 1 for PM2.5 and CO, 0 for PM10, SO2 and NO2.  Below the first row the
    table defines no index (``below_note`` says why); above the last row ``above_top`` decides.
    """

    pollutant: Pollutant
    averaging: Averaging
    unit: Unit
    decimals: int
    breakpoints: tuple[Breakpoint, ...]
    above_top: AboveTop
    below_note: str | None = None
    above_note: str | None = None

    def __post_init__(self) -> None:
        for lower, upper in zip(self.breakpoints, self.breakpoints[1:], strict=False):
            if upper.concentration_low <= lower.concentration_high or upper.index_low != lower.index_high + 1:
                raise ValueError(f"{self.pollutant} {self.averaging}: rows must be increasing and contiguous")


@dataclass(frozen=True, slots=True)
class UsAqiScale:
    """A version of the US AQI: categories and one breakpoint table per pollutant and averaging."""

    id: str
    title: str
    source: str
    molar_volume: float  # L/mol used to turn µg/m³ of a gas into the ppm/ppb of the tables
    categories: tuple[AqiCategory, ...]
    tables: tuple[BreakpointTable, ...]
    #: The NowCast estimates a longer mean from recent hours, so it is read on that mean's table.
    nowcast_reads_as: tuple[tuple[Pollutant, Averaging], ...]

    def table(self, pollutant: Pollutant, averaging: Averaging) -> BreakpointTable | None:
        """The table for ``pollutant`` over ``averaging`` (a NowCast reads the table it estimates)."""
        if averaging == Averaging.NOWCAST:
            averaging = dict(self.nowcast_reads_as).get(pollutant, averaging)
        for table in self.tables:
            if table.pollutant == pollutant and table.averaging == averaging:
                return table
        return None

    def averagings(self, pollutant: Pollutant) -> tuple[Averaging, ...]:
        """The averaging periods the scale has a table for, for ``pollutant`` (NowCast included)."""
        found = [table.averaging for table in self.tables if table.pollutant == pollutant]
        if pollutant in dict(self.nowcast_reads_as):
            found.append(Averaging.NOWCAST)
        return tuple(found)

    def category(self, index: int) -> AqiCategory:
        """The category of an index value; values beyond the top belong to the top category."""
        if index < 0:
            raise ValueError(f"an AQI cannot be negative, got {index}")
        for category in self.categories:
            if index <= category.index_high:
                return category
        return self.categories[-1]


_US_INDEX_ROWS: tuple[tuple[int, int], ...] = ((0, 50), (51, 100), (101, 150), (151, 200), (201, 300), (301, 500))


def _us_rows(index_rows: tuple[tuple[int, int], ...], *concentrations: tuple[str, str]) -> tuple[Breakpoint, ...]:
    if len(index_rows) != len(concentrations):
        raise ValueError("every concentration row needs an index row")
    return tuple(
        Breakpoint(Decimal(low), Decimal(high), index_low, index_high)
        for (index_low, index_high), (low, high) in zip(index_rows, concentrations, strict=True)
    )


US_2024 = UsAqiScale(
    id="us-2024",
    title="US EPA Air Quality Index, PM2.5 revision of 2024 (in force since 6 May 2024)",
    source="EPA-454/B-24-002 (May 2024), Table 6; 89 FR 16202",
    molar_volume=MOLAR_VOLUME_25C,
    categories=(
        AqiCategory(0, 50, "Good", "#00E400", "#9DFF91"),
        AqiCategory(51, 100, "Moderate", "#FFFF00", "#FFC907"),
        AqiCategory(101, 150, "Unhealthy for Sensitive Groups", "#FF7E00", "#FF8203"),
        AqiCategory(151, 200, "Unhealthy", "#FF0000", "#F12100"),
        AqiCategory(201, 300, "Very Unhealthy", "#8F3F97", "#890997"),
        AqiCategory(301, 500, "Hazardous", "#7E0023", "#640115"),
    ),
    tables=(
        BreakpointTable(
            Pollutant.O3,
            Averaging.HOUR_8,
            Unit.PPM,
            3,
            _us_rows(
                _US_INDEX_ROWS[:5],
                ("0.000", "0.054"),
                ("0.055", "0.070"),
                ("0.071", "0.085"),
                ("0.086", "0.105"),
                ("0.106", "0.200"),
            ),
            AboveTop.UNDEFINED,
            above_note="8-h O3 above 0.200 ppm cannot define the AQI; the 1-h O3 value decides",
        ),
        BreakpointTable(
            Pollutant.O3,
            Averaging.HOUR_1,
            Unit.PPM,
            3,
            _us_rows(
                _US_INDEX_ROWS[2:],
                ("0.125", "0.164"),
                ("0.165", "0.204"),
                ("0.205", "0.404"),
                ("0.405", "0.604"),
            ),
            AboveTop.EXTRAPOLATE,
            below_note="1-h O3 below 0.125 ppm defines no AQI; the 8-h O3 value decides",
        ),
        BreakpointTable(
            Pollutant.PM25,
            Averaging.HOUR_24,
            Unit.UG_M3,
            1,
            _us_rows(
                _US_INDEX_ROWS,
                ("0.0", "9.0"),
                ("9.1", "35.4"),
                ("35.5", "55.4"),
                ("55.5", "125.4"),
                ("125.5", "225.4"),
                ("225.5", "325.4"),
            ),
            AboveTop.EXTRAPOLATE,
        ),
        BreakpointTable(
            Pollutant.PM10,
            Averaging.HOUR_24,
            Unit.UG_M3,
            0,
            _us_rows(
                _US_INDEX_ROWS,
                ("0", "54"),
                ("55", "154"),
                ("155", "254"),
                ("255", "354"),
                ("355", "424"),
                ("425", "604"),
            ),
            AboveTop.EXTRAPOLATE,
        ),
        BreakpointTable(
            Pollutant.CO,
            Averaging.HOUR_8,
            Unit.PPM,
            1,
            _us_rows(
                _US_INDEX_ROWS,
                ("0.0", "4.4"),
                ("4.5", "9.4"),
                ("9.5", "12.4"),
                ("12.5", "15.4"),
                ("15.5", "30.4"),
                ("30.5", "50.4"),
            ),
            AboveTop.EXTRAPOLATE,
        ),
        BreakpointTable(
            Pollutant.SO2,
            Averaging.HOUR_1,
            Unit.PPB,
            0,
            _us_rows(_US_INDEX_ROWS[:4], ("0", "35"), ("36", "75"), ("76", "185"), ("186", "304")),
            AboveTop.CAP,
            above_note="1-h SO2 cannot define an AQI above 200; from 305 ppb the 24-h SO2 mean decides",
        ),
        BreakpointTable(
            Pollutant.SO2,
            Averaging.HOUR_24,
            Unit.PPB,
            0,
            _us_rows(_US_INDEX_ROWS[4:], ("305", "604"), ("605", "1004")),
            AboveTop.EXTRAPOLATE,
            below_note="24-h SO2 defines the AQI only from 305 ppb (AQI 201); below, the 1-h value decides",
        ),
        BreakpointTable(
            Pollutant.NO2,
            Averaging.HOUR_1,
            Unit.PPB,
            0,
            _us_rows(
                _US_INDEX_ROWS,
                ("0", "53"),
                ("54", "100"),
                ("101", "360"),
                ("361", "649"),
                ("650", "1249"),
                ("1250", "2049"),
            ),
            AboveTop.EXTRAPOLATE,
        ),
    ),
    nowcast_reads_as=(
        (Pollutant.PM25, Averaging.HOUR_24),
        (Pollutant.PM10, Averaging.HOUR_24),
        (Pollutant.O3, Averaging.HOUR_8),
    ),
)

# -- European AQI ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EaqiBand:
    """One of the six European index bands (1 = good … 6 = extremely poor)."""

    level: int
    name: str
    colour: str


@dataclass(frozen=True, slots=True)
class EaqiBandTable:
    """The upper bounds (µg/m³, inclusive) of the six bands of one pollutant.

    Bands are read as continuous: a value ``c`` is in band ``k`` when
    ``upper[k-1] < c ≤ upper[k]``.  The sixth bound is the plausibility ceiling: values above it
    are discarded as erroneous.
    """

    pollutant: Pollutant
    averaging: Averaging
    upper_bounds: tuple[Decimal, ...]

    def __post_init__(self) -> None:
        if len(self.upper_bounds) != 6 or list(self.upper_bounds) != sorted(set(self.upper_bounds)):
            raise ValueError(f"{self.pollutant}: six strictly increasing upper bounds expected")


@dataclass(frozen=True, slots=True)
class EaqiScale:
    """A version of the European Air Quality Index."""

    id: str
    title: str
    source: str
    molar_volume: float  # EU directives standardise gases at 293 K
    bands: tuple[EaqiBand, ...]
    tables: tuple[EaqiBandTable, ...]

    def table(self, pollutant: Pollutant) -> EaqiBandTable | None:
        """The band table of ``pollutant``, or None when the index does not use it (CO)."""
        for table in self.tables:
            if table.pollutant == pollutant:
                return table
        return None

    def band(self, level: int) -> EaqiBand:
        """The band with number ``level`` (1–6)."""
        return self.bands[level - 1]


_EAQI_BANDS = (
    EaqiBand(1, "Good", "#50F0E6"),
    EaqiBand(2, "Fair", "#50CCAA"),
    EaqiBand(3, "Moderate", "#F0E641"),
    EaqiBand(4, "Poor", "#FF5050"),
    EaqiBand(5, "Very poor", "#960032"),
    EaqiBand(6, "Extremely poor", "#7D2181"),
)


def _bounds(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(value) for value in values)


# The 2017 tables end at a published ceiling (PM2.5 800, PM10 1200, NO2 1000, O3 800, SO2 1250).
# The 2024 revision publishes "extremely poor" as open-ended; we keep the 2017 ceilings as the
# point above which a value is discarded as erroneous, so both versions reject the same faults.
_CEILING = {
    Pollutant.PM25: "800",
    Pollutant.PM10: "1200",
    Pollutant.NO2: "1000",
    Pollutant.O3: "800",
    Pollutant.SO2: "1250",
}

EAQI_2024 = EaqiScale(
    id="eaqi-2024",
    title="European Air Quality Index, bands revised in 2024 (hourly concentrations)",
    source="ETC HE Report 2024/17, Table 5.2",
    molar_volume=MOLAR_VOLUME_20C,
    bands=_EAQI_BANDS,
    tables=(
        EaqiBandTable(
            Pollutant.PM25, Averaging.HOUR_1, _bounds("5", "15", "50", "90", "140", _CEILING[Pollutant.PM25])
        ),
        EaqiBandTable(
            Pollutant.PM10, Averaging.HOUR_1, _bounds("15", "45", "120", "195", "270", _CEILING[Pollutant.PM10])
        ),
        EaqiBandTable(
            Pollutant.NO2, Averaging.HOUR_1, _bounds("10", "25", "60", "100", "150", _CEILING[Pollutant.NO2])
        ),
        EaqiBandTable(
            Pollutant.O3, Averaging.HOUR_1, _bounds("60", "100", "120", "160", "180", _CEILING[Pollutant.O3])
        ),
        EaqiBandTable(
            Pollutant.SO2, Averaging.HOUR_1, _bounds("20", "40", "125", "190", "275", _CEILING[Pollutant.SO2])
        ),
    ),
)

EAQI_2017 = EaqiScale(
    id="eaqi-2017",
    title="European Air Quality Index, bands of 2017–2024 (PM as 24-h running means)",
    source="EEA European Air Quality Index (2017); tables as kept by OpenAQ AQI Hub eu.csv",
    molar_volume=MOLAR_VOLUME_20C,
    bands=_EAQI_BANDS,
    tables=(
        EaqiBandTable(Pollutant.PM25, Averaging.HOUR_24, _bounds("10", "20", "25", "50", "75", "800")),
        EaqiBandTable(Pollutant.PM10, Averaging.HOUR_24, _bounds("20", "40", "50", "100", "150", "1200")),
        EaqiBandTable(Pollutant.NO2, Averaging.HOUR_1, _bounds("40", "90", "120", "230", "340", "1000")),
        EaqiBandTable(Pollutant.O3, Averaging.HOUR_1, _bounds("50", "100", "130", "240", "380", "800")),
        EaqiBandTable(Pollutant.SO2, Averaging.HOUR_1, _bounds("100", "200", "350", "500", "750", "1250")),
    ),
)

# -- WHO 2021 guidelines ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GuidelineLevel:
    """A named level of a WHO guideline: an interim target (``IT-1`` …) or the guideline (``AQG``)."""

    name: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class WhoGuideline:
    """The WHO 2021 levels of one pollutant and averaging period, least strict first.

    ``short_term`` guidelines are 99th percentiles of daily values: about 3–4 exceedance days
    a year are compatible with them.
    """

    pollutant: Pollutant
    averaging: Averaging
    unit: Unit
    levels: tuple[GuidelineLevel, ...]
    short_term: bool

    @property
    def guideline(self) -> GuidelineLevel:
        """The air quality guideline level itself (the last, strictest level)."""
        return self.levels[-1]

    def level(self, name: str) -> GuidelineLevel:
        """The level called ``name`` (``AQG``, ``IT-1`` … ``IT-4``)."""
        for level in self.levels:
            if level.name == name.upper():
                return level
        known = ", ".join(level.name for level in self.levels)
        raise ValueError(f"{self.pollutant.value} {self.averaging.value} has no level {name!r}; use one of {known}")


@dataclass(frozen=True, slots=True)
class WhoGuidelineTable:
    """A version of the WHO global air quality guidelines."""

    id: str
    title: str
    source: str
    guidelines: tuple[WhoGuideline, ...]

    def guideline(self, pollutant: Pollutant, averaging: Averaging) -> WhoGuideline | None:
        """The guideline for ``pollutant`` over ``averaging``, if there is one."""
        for guideline in self.guidelines:
            if guideline.pollutant == pollutant and guideline.averaging == averaging:
                return guideline
        return None


def _who(
    pollutant: Pollutant, averaging: Averaging, interim: tuple[str, ...], aqg: str, *, unit: Unit = Unit.UG_M3
) -> WhoGuideline:
    levels = tuple(GuidelineLevel(f"IT-{number}", Decimal(value)) for number, value in enumerate(interim, start=1))
    short_term = averaging in (Averaging.HOUR_24, Averaging.HOUR_8)
    return WhoGuideline(pollutant, averaging, unit, (*levels, GuidelineLevel("AQG", Decimal(aqg))), short_term)


WHO_2021 = WhoGuidelineTable(
    id="who-2021",
    title="WHO global air quality guidelines (2021)",
    source="WHO, ISBN 9789240034228",
    guidelines=(
        _who(Pollutant.PM25, Averaging.ANNUAL, ("35", "25", "15", "10"), "5"),
        _who(Pollutant.PM25, Averaging.HOUR_24, ("75", "50", "37.5", "25"), "15"),
        _who(Pollutant.PM10, Averaging.ANNUAL, ("70", "50", "30", "20"), "15"),
        _who(Pollutant.PM10, Averaging.HOUR_24, ("150", "100", "75", "50"), "45"),
        _who(Pollutant.O3, Averaging.PEAK_SEASON, ("100", "70"), "60"),
        _who(Pollutant.O3, Averaging.HOUR_8, ("160", "120"), "100"),
        _who(Pollutant.NO2, Averaging.ANNUAL, ("40", "30", "20"), "10"),
        _who(Pollutant.NO2, Averaging.HOUR_24, ("120", "50"), "25"),
        # The WHO value is 40 (some reproductions of the table print 50).
        _who(Pollutant.SO2, Averaging.HOUR_24, ("125", "50"), "40"),
        _who(Pollutant.CO, Averaging.HOUR_24, ("7",), "4", unit=Unit.MG_M3),
    ),
)

# -- registry --------------------------------------------------------------------------

IndexScale = UsAqiScale | EaqiScale

#: The index scales by id: the id is what Urbis stores next to every published index.
INDEX_SCALES: dict[str, IndexScale] = {scale.id: scale for scale in (US_2024, EAQI_2024, EAQI_2017)}
DEFAULT_SCALE_ID = US_2024.id


def index_scale(scale_id: str) -> IndexScale:
    """The index scale with id ``scale_id`` (``us-2024``, ``eaqi-2024``, ``eaqi-2017``)."""
    try:
        return INDEX_SCALES[scale_id.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown scale {scale_id!r}; use one of {', '.join(INDEX_SCALES)}") from None
