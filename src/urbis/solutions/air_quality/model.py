"""The pure rules of air quality: indices, NowCast, means, quality control, alerts, forecast.

No I/O, no clock reads (every instant is a parameter), no database.  The tables live in
:mod:`urbis.solutions.air_quality.scales` and are passed in, so that a stored index can be
recomputed with the scale version it was published under.

Conventions:

* Concentrations enter as floats and are read to 12 significant digits as ``Decimal`` before
  any band lookup, so that binary noise (``0.57 * 100 == 56.99999999999999``) never truncates a
  value one whole step down, and band edges compare exactly.
* A value that failed quality control is *kept*: it appears in the result with its flags, but
  no index, mean or forecast uses it.
* Hourly series for the NowCast are most recent first (as the EPA writes the formula); every
  other series is oldest first.

**Product decision — above AQI 500.**  The 2024 TAD ends its tables at 500 ("Beyond the
AQI").  Urbis extrapolates the 301–500 row linearly past 500 (as OpenAQ reads the TAD and as
the AirNow Fire and Smoke Map shows such values) rather than capping at 500, because a cap
hides how extreme a smoke episode is.  Such a sub-index carries ``beyond_scale=True``, and
the category stays "Hazardous", the top one.  Values above a pollutant's plausible range are
stopped earlier, by quality control.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from statistics import median

from urbis.solutions.air_quality.const import (
    DEFAULT_QUALITY_CONTROL,
    RELATIVE_HUMIDITY_RANGE,
    Averaging,
    Pollutant,
    PollutantSpec,
    QualityControlParams,
    StationType,
    Unit,
)
from urbis.solutions.air_quality.scales import (
    US_2024,
    WHO_2021,
    AboveTop,
    Breakpoint,
    EaqiBand,
    EaqiScale,
    GuidelineLevel,
    IndexScale,
    UsAqiScale,
    WhoGuidelineTable,
    index_scale,
)
from urbis.solutions.air_quality.units import convert

# == inputs and results ================================================================


class QcFlag(StrEnum):
    """Why a reading was set aside by quality control."""

    OUT_OF_RANGE = "out-of-range"  # negative, or beyond the plausible range / the top of a scale
    STUCK = "stuck"  # the same value for too many consecutive readings
    SPIKE = "spike"  # far from the median of its neighbours (Hampel filter)
    CHANNEL_DISAGREEMENT = "channel-disagreement"  # the two laser channels of a PM sensor disagree
    CHANNEL_MISSING = "channel-missing"  # one of the two channels did not report
    HUMIDITY_OUT_OF_RANGE = "humidity-out-of-range"  # the humidity used for a correction is impossible
    HUMIDITY_MISSING = "humidity-missing"  # a reading that needs a humidity correction has no humidity for its hour
    NEGATIVE_AFTER_CORRECTION = "negative-after-correction"


@dataclass(frozen=True, slots=True)
class Concentration:
    """A concentration of one pollutant over one averaging period, with its quality flags."""

    pollutant: Pollutant
    averaging: Averaging
    value: float
    unit: Unit
    flags: tuple[QcFlag, ...] = ()

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValueError(f"{self.pollutant.value}: a concentration must be a finite number, got {self.value!r}")


@dataclass(frozen=True, slots=True)
class SubIndex:
    """The index of one concentration on one scale.

    ``concentration`` is in the scale's ``unit`` (truncated for the US AQI).  ``index`` is the
    AQI value (US) or the band level 1–6 (EAQI); it is None when the value cannot define an
    index (``notes`` say why) or failed quality control (``flags`` say how).
    """

    pollutant: Pollutant
    averaging: Averaging
    concentration: Decimal
    unit: Unit
    index: int | None
    category: str | None = None
    colour: str | None = None
    beyond_scale: bool = False
    flags: tuple[QcFlag, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IndexResult:
    """An overall index: the worst sub-index, its pollutant, and every sub-index that led there."""

    scale_id: str
    index: int | None
    category: str | None
    colour: str | None
    responsible_pollutant: Pollutant | None
    sub_indices: tuple[SubIndex, ...]
    beyond_scale: bool = False
    notes: tuple[str, ...] = ()


def _decimal(value: float | Decimal) -> Decimal:
    """``value`` as a Decimal of at most 12 significant digits (see the module docstring)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(f"{value:.12g}")


def truncate(value: float | Decimal, decimals: int) -> Decimal:
    """``value`` cut (never rounded) to ``decimals`` places: ``truncate(9.09, 1) == Decimal("9.0")``."""
    try:
        return _decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)
    except InvalidOperation:  # more digits than the decimal context holds: no air is that polluted
        raise ValueError(f"concentration {value!r} is too large to be a measurement") from None


def _check_unique(concentrations: Sequence[Concentration]) -> None:
    seen: set[tuple[Pollutant, Averaging]] = set()
    for item in concentrations:
        key = (item.pollutant, item.averaging)
        if key in seen:
            raise ValueError(f"{item.pollutant.value} {item.averaging.value} is given twice")
        seen.add(key)


def _worst(sub_indices: Sequence[SubIndex]) -> SubIndex | None:
    """The sub-index that sets the overall index; on a tie, the one given first."""
    worst: SubIndex | None = None
    for sub in sub_indices:
        if sub.index is not None and (worst is None or worst.index is None or sub.index > worst.index):
            worst = sub
    return worst


# == US AQI ============================================================================


def _interpolate(row: Breakpoint, concentration: Decimal) -> int:
    """The AQI equation on one row, rounded half up to an integer."""
    slope = Decimal(row.index_high - row.index_low) / (row.concentration_high - row.concentration_low)
    index = slope * (concentration - row.concentration_low) + row.index_low
    return int(index.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def us_sub_index(concentration: Concentration, scale: UsAqiScale = US_2024) -> SubIndex:
    """The US AQI sub-index of one concentration.

    The concentration is converted to the table's unit (at the scale's molar volume), truncated
    (O3 to 0.001 ppm, PM2.5 and CO to 0.1, PM10, SO2 and NO2 to integers) and put through the
    AQI equation; the index is rounded to the nearest integer.  The special rules come from the
    tables: 8-h O3 above 0.200 ppm defines nothing (the 1-h value decides), 1-h O3 below 0.125
    ppm defines nothing, 1-h SO2 from 305 ppb reports 200 (the 24-h value decides above), and
    24-h SO2 below 305 ppb defines nothing.  Above the last row of a table that extends, the
    last row is extrapolated and ``beyond_scale`` is set (see the module docstring).

    Raises ``ValueError`` when the scale has no table for the pollutant and averaging period.
    """
    table = scale.table(concentration.pollutant, concentration.averaging)
    if table is None:
        known = ", ".join(averaging.value for averaging in scale.averagings(concentration.pollutant)) or "none"
        raise ValueError(
            f"{scale.id} has no {concentration.averaging.value} table for {concentration.pollutant.value}"
            f" (averaging periods it knows: {known})"
        )
    in_table_unit = convert(
        concentration.value, concentration.pollutant, concentration.unit, table.unit, molar_volume=scale.molar_volume
    )
    truncated = truncate(in_table_unit, table.decimals)

    def result(
        index: int | None, *, beyond: bool = False, flags: tuple[QcFlag, ...] = (), notes: Iterable[str] = ()
    ) -> SubIndex:
        category = scale.category(index) if index is not None else None
        return SubIndex(
            concentration.pollutant,
            concentration.averaging,
            truncated,
            table.unit,
            index,
            category.name if category else None,
            category.colour if category else None,
            beyond,
            flags,
            tuple(notes),
        )

    if concentration.flags:
        return result(None, flags=concentration.flags, notes=("excluded: failed quality control",))
    if in_table_unit < 0:
        return result(None, flags=(QcFlag.OUT_OF_RANGE,), notes=("excluded: a concentration cannot be negative",))
    first, last = table.breakpoints[0], table.breakpoints[-1]
    if truncated < first.concentration_low:
        return result(None, notes=(table.below_note,) if table.below_note else ())
    if truncated > last.concentration_high:
        above_notes = (table.above_note,) if table.above_note else ()
        if table.above_top == AboveTop.UNDEFINED:
            return result(None, notes=above_notes)
        if table.above_top == AboveTop.CAP:
            return result(last.index_high, notes=above_notes)
        return result(
            _interpolate(last, truncated),
            beyond=True,
            notes=(
                f"beyond the AQI: above {last.concentration_high} {table.unit.symbol}, extrapolated from the {last.index_low}–{last.index_high} row",
            ),
        )
    for row in table.breakpoints:
        if truncated <= row.concentration_high:
            # Truncation to the table's precision closes the gaps between rows (9.0 | 9.1), so
            # ``truncated`` lies within this row; ``max`` only guards a table with a wider gap.
            return result(_interpolate(row, max(truncated, row.concentration_low)))
    raise AssertionError("unreachable: the value lies within the table")  # pragma: no cover


def us_aqi(concentrations: Sequence[Concentration], scale: UsAqiScale = US_2024) -> IndexResult:
    """The overall US AQI: the highest sub-index, and the pollutant responsible for it.

    O3 may be given as 8-h and 1-h values and SO2 as 1-h and 24-h values: the higher sub-index
    of each pair counts, which is the TAD's rule.  Ties go to the concentration given first.
    Raises ``ValueError`` when a pollutant and averaging period is given twice.
    """
    _check_unique(concentrations)
    sub_indices = tuple(us_sub_index(item, scale) for item in concentrations)
    worst = _worst(sub_indices)
    if worst is None or worst.index is None:
        return IndexResult(scale.id, None, None, None, None, sub_indices, notes=("no concentration defines an index",))
    category = scale.category(worst.index)
    return IndexResult(
        scale.id,
        worst.index,
        category.name,
        category.colour,
        worst.pollutant,
        sub_indices,
        beyond_scale=worst.beyond_scale,
    )


# == European AQI ======================================================================


def eaqi_band(scale: EaqiScale, pollutant: Pollutant, concentration_ugm3: float | Decimal) -> EaqiBand | None:
    """The band of a concentration in µg/m³, or None when it is above the top (an erroneous value).

    Bands are continuous with inclusive upper bounds: on ``eaqi-2024`` PM2.5 5.0 is "Good" and
    5.01 "Fair".  Raises ``ValueError`` for a pollutant the scale does not use, or a negative value.
    """
    table = scale.table(pollutant)
    if table is None:
        raise ValueError(f"{scale.id} does not use {pollutant.value}")
    value = _decimal(concentration_ugm3)
    if value < 0:
        raise ValueError(f"a concentration cannot be negative, got {value}")
    for level, upper in enumerate(table.upper_bounds, start=1):
        if value <= upper:
            return scale.band(level)
    return None


def eaqi_sub_index(concentration: Concentration, scale: EaqiScale) -> SubIndex:
    """The European band of one concentration (the band level is the sub-index).

    The concentration must have the averaging period the scale reads the pollutant with (hourly
    for everything on ``eaqi-2024``; 24-h running means for PM on ``eaqi-2017``).  Gases given as
    mixing ratios are converted at 293 K, the EU reference conditions.  A value above the top of
    "extremely poor" is discarded as erroneous and flagged.
    """
    table = scale.table(concentration.pollutant)
    if table is None:
        used = ", ".join(item.pollutant.value for item in scale.tables)
        raise ValueError(f"{scale.id} does not use {concentration.pollutant.value} (it uses {used})")
    if concentration.averaging != table.averaging:
        raise ValueError(
            f"{scale.id} reads {concentration.pollutant.value} as {table.averaging.value} means,"
            f" not {concentration.averaging.value}"
        )
    in_ugm3 = _decimal(
        convert(
            concentration.value,
            concentration.pollutant,
            concentration.unit,
            Unit.UG_M3,
            molar_volume=scale.molar_volume,
        )
    )

    def result(level: int | None, flags: tuple[QcFlag, ...] = (), notes: tuple[str, ...] = ()) -> SubIndex:
        band = scale.band(level) if level is not None else None
        return SubIndex(
            concentration.pollutant,
            concentration.averaging,
            in_ugm3,
            Unit.UG_M3,
            level,
            band.name if band else None,
            band.colour if band else None,
            False,
            flags,
            notes,
        )

    if concentration.flags:
        return result(None, concentration.flags, ("excluded: failed quality control",))
    if in_ugm3 < 0:
        return result(None, (QcFlag.OUT_OF_RANGE,), ("excluded: a concentration cannot be negative",))
    band = eaqi_band(scale, concentration.pollutant, in_ugm3)
    if band is None:
        top = table.upper_bounds[-1]
        return result(
            None, (QcFlag.OUT_OF_RANGE,), (f"discarded as erroneous: above the top of the scale ({top} µg/m³)",)
        )
    return result(band.level)


def eaqi_required(station_type: StationType) -> str:
    """What a station of ``station_type`` must measure for the European index, in words."""
    if station_type == StationType.TRAFFIC:
        return "NO2 and PM (PM2.5 or PM10)"
    return "O3, NO2 and PM (PM2.5 or PM10)"


def _eaqi_missing(available: set[Pollutant], station_type: StationType) -> list[str]:
    missing = [] if Pollutant.NO2 in available else ["no2"]
    if station_type != StationType.TRAFFIC and Pollutant.O3 not in available:
        missing.append("o3")
    if not available & {Pollutant.PM25, Pollutant.PM10}:
        missing.append("pm25 or pm10")
    return missing


def eaqi_index(
    concentrations: Sequence[Concentration], scale: EaqiScale, station_type: StationType = StationType.BACKGROUND
) -> IndexResult:
    """The European index of a station: the worst band of its pollutants.

    The index exists only when the station has valid values for what its type needs: a traffic
    station NO2 and PM (PM2.5 or PM10); any other station O3, NO2 and PM.  Otherwise the index
    is None and a note names what is missing (the EEA fills such gaps from CAMS forecasts;
    Urbis does not invent values).
    """
    _check_unique(concentrations)
    sub_indices = tuple(eaqi_sub_index(item, scale) for item in concentrations)
    available = {sub.pollutant for sub in sub_indices if sub.index is not None}
    missing = _eaqi_missing(available, station_type)
    if missing:
        note = (
            f"a {station_type.value} station needs {eaqi_required(station_type)} for the index;"
            f" missing valid: {', '.join(missing)}"
        )
        return IndexResult(scale.id, None, None, None, None, sub_indices, notes=(note,))
    worst = _worst(sub_indices)
    if worst is None or worst.index is None:  # pragma: no cover - completeness guarantees a band
        return IndexResult(scale.id, None, None, None, None, sub_indices)
    band = scale.band(worst.index)
    return IndexResult(scale.id, band.level, band.name, band.colour, worst.pollutant, sub_indices)


def compute_index(
    scale: IndexScale | str,
    concentrations: Sequence[Concentration],
    *,
    station_type: StationType = StationType.BACKGROUND,
) -> IndexResult:
    """The index of ``concentrations`` on ``scale`` (an object or an id such as ``eaqi-2024``)."""
    chosen = index_scale(scale) if isinstance(scale, str) else scale
    if isinstance(chosen, UsAqiScale):
        return us_aqi(concentrations, chosen)
    return eaqi_index(concentrations, chosen, station_type)


# == NowCast ===========================================================================

NOWCAST_HOURS = 12
NOWCAST_MIN_WEIGHT = 0.5  # floors the weight so the NowCast never reacts faster than a ~3-h mean
O3_SURROGATE_SLOPE = 0.85
O3_SURROGATE_INTERCEPT_PPB = 4.5


@dataclass(frozen=True, slots=True)
class NowCast:
    """A NowCast estimate, or the reason there is none (``value`` None).

    ``value`` is truncated as the AQI needs it (PM2.5 to 0.1 µg/m³, PM10 to 1 µg/m³, O3 to
    1 ppb); ``unrounded`` keeps the arithmetic result.  ``approximate`` marks the O3 surrogate.
    """

    pollutant: Pollutant
    value: Decimal | None
    unit: Unit
    unrounded: float | None
    weight: float | None
    valid_hours: int
    method: str
    approximate: bool = False
    notes: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """True when there is an estimate."""
        return self.value is not None

    def as_concentration(self) -> Concentration:
        """The estimate as a concentration to put on an index scale (averaging ``nowcast``)."""
        if self.value is None:
            raise ValueError(f"the {self.pollutant.value} NowCast is not valid: {'; '.join(self.notes)}")
        return Concentration(self.pollutant, Averaging.NOWCAST, float(self.value), self.unit)


def _check_hourly(hourly: Sequence[float | None], name: str) -> None:
    if len(hourly) > NOWCAST_HOURS:
        raise ValueError(f"the {name} takes at most {NOWCAST_HOURS} hourly values, got {len(hourly)}")
    for value in hourly:
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"hourly values must be non-negative numbers (None for a missing hour), got {value!r}")


def nowcast_pm(hourly: Sequence[float | None], pollutant: Pollutant = Pollutant.PM25) -> NowCast:
    """The EPA NowCast of PM2.5 or PM10 from the last 12 hourly means in µg/m³, most recent first.

    ``w* = min/max`` over the valid hours, ``w = max(w*, 0.5)``, and
    ``NowCast = Σ w^(i−1)·c_i / Σ w^(i−1)`` over the valid hours ``i`` (a missing hour keeps its
    place in the exponents).  Valid only when 2 of the 3 most recent hours are valid.  The raw
    hourly values go in; the result is truncated (PM2.5 to 0.1, PM10 to 1).  Fewer than 12 values
    means the older hours are missing; flagged hours should be passed as None.
    """
    if pollutant not in (Pollutant.PM25, Pollutant.PM10):
        raise ValueError(f"the PM NowCast is for pm25 and pm10, not {pollutant.value} (use the O3 surrogate)")
    _check_hourly(hourly, "NowCast")
    method = "epa-nowcast-pm"
    valid = [(age, value) for age, value in enumerate(hourly) if value is not None]
    recent_valid = sum(1 for value in hourly[:3] if value is not None)
    if recent_valid < 2:
        note = f"invalid: {recent_valid} of the 3 most recent hours valid, 2 needed"
        return NowCast(pollutant, None, Unit.UG_M3, None, None, len(valid), method, notes=(note,))
    highest = max(value for _, value in valid)
    lowest = min(value for _, value in valid)
    # All-zero hours make min/max undefined; any weight gives 0, so take 1 (a plain mean).
    weight = 1.0 if highest == 0 else max(lowest / highest, NOWCAST_MIN_WEIGHT)
    numerator = sum(weight**age * value for age, value in valid)
    denominator = sum(weight**age for age, _ in valid)
    estimate = numerator / denominator
    decimals = 1 if pollutant == Pollutant.PM25 else 0
    return NowCast(pollutant, truncate(estimate, decimals), Unit.UG_M3, estimate, weight, len(valid), method)


def nowcast_o3_surrogate(hourly_ppb: Sequence[float | None]) -> NowCast:
    """An approximate O3 NowCast in ppb from hourly O3 (ppb), most recent first.

    The EPA's 2019 method fits a site-specific regression on two weeks of data; Urbis uses its
    documented fallback ``y = 0.85·x + 4.5 ppb`` on the most recent valid hour of the last three
    (none valid → no estimate).  The result is flagged ``approximate``; truncated to 1 ppb
    (0.001 ppm, the AQI's O3 precision).
    """
    _check_hourly(hourly_ppb, "O3 NowCast")
    method = "epa-o3-nowcast-surrogate-2019"
    valid_hours = sum(1 for value in hourly_ppb if value is not None)
    approximation = "approximate: the EPA surrogate 0.85·x + 4.5 ppb, not the site-specific regression"
    latest = next((value for value in hourly_ppb[:3] if value is not None), None)
    if latest is None:
        notes = ("invalid: none of the 3 most recent hours is valid", approximation)
        return NowCast(Pollutant.O3, None, Unit.PPB, None, None, valid_hours, method, True, notes)
    estimate = O3_SURROGATE_SLOPE * latest + O3_SURROGATE_INTERCEPT_PPB
    return NowCast(
        Pollutant.O3, truncate(estimate, 0), Unit.PPB, estimate, None, valid_hours, method, True, (approximation,)
    )


# == means with completeness rules =====================================================

HOURLY_MIN_FRACTION = 0.75  # an hourly mean needs 45 of 60 minutes of data
DAILY_MIN_HOURS = 18  # 18 of 24 hours (75 %)
O3_8H_MIN_HOURS = 6  # 6 of 8 hours
O3_DAILY_MIN_AVERAGES = 13  # 13 of the 17 running 8-h means that start 07:00–23:00


def require_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; raises ``ValueError`` for a naive datetime (its zone is unknown)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is needed, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of a sensor at an instant, with its quality flags."""

    at: datetime
    value: float
    flags: tuple[QcFlag, ...] = ()

    def __post_init__(self) -> None:
        require_utc(self.at)


@dataclass(frozen=True, slots=True)
class HourlyMean:
    """The mean of one UTC hour, or None when too few usable readings fell in it."""

    start: datetime
    value: float | None
    valid_samples: int
    flagged_samples: int


def mean_if_complete(values: Sequence[float | None], min_valid: int) -> float | None:
    """The mean of the non-missing ``values``, or None when fewer than ``min_valid`` are present."""
    present = [value for value in values if value is not None]
    if len(present) < max(min_valid, 1):
        return None
    return sum(present) / len(present)


def hourly_means(
    samples: Iterable[Sample], *, expected_per_hour: int, min_fraction: float = HOURLY_MIN_FRACTION
) -> list[HourlyMean]:
    """Hourly means of timestamped readings, by UTC hour, oldest first.

    Flagged readings are counted but not averaged.  An hour needs at least ``min_fraction`` of
    the ``expected_per_hour`` readings (75 % by default, the 45-minute rule) to have a mean.
    Only hours with at least one reading appear.
    """
    if expected_per_hour < 1:
        raise ValueError("expected_per_hour must be at least 1")
    if not 0 < min_fraction <= 1:
        raise ValueError("min_fraction must be in (0, 1]")
    needed = math.ceil(expected_per_hour * min_fraction)
    usable: dict[datetime, list[float]] = {}
    flagged: dict[datetime, int] = defaultdict(int)
    for sample in samples:
        hour = require_utc(sample.at).replace(minute=0, second=0, microsecond=0)
        values = usable.setdefault(hour, [])  # an hour whose readings are all flagged still appears
        if sample.flags:
            flagged[hour] += 1
        else:
            values.append(sample.value)
    return [
        HourlyMean(hour, sum(values) / len(values) if len(values) >= needed else None, len(values), flagged[hour])
        for hour, values in sorted(usable.items())
    ]


def daily_mean(hourly: Sequence[float | None], *, min_valid_hours: int = DAILY_MIN_HOURS) -> float | None:
    """The 24-h mean of one day's 24 hourly means (None = missing), needing 18 valid hours."""
    if len(hourly) != 24:
        raise ValueError(f"a day has 24 hourly values, got {len(hourly)}")
    return mean_if_complete(hourly, min_valid_hours)


def running_means(hourly: Sequence[float | None], *, window: int, min_valid: int) -> list[float | None]:
    """Running means over ``window`` hours, oldest first: element ``j`` averages ``hourly[j:j+window]``.

    A window with fewer than ``min_valid`` values has no mean.  This gives the 8-h O3 means
    (window 8, 6 valid) and the 24-h PM running means of ``eaqi-2017`` (window 24, 18 valid).
    """
    if not 1 <= min_valid <= window:
        raise ValueError("need 1 ≤ min_valid ≤ window")
    return [mean_if_complete(hourly[start : start + window], min_valid) for start in range(len(hourly) - window + 1)]


@dataclass(frozen=True, slots=True)
class DailyMax8h:
    """The daily maximum 8-h O3 mean, the number of valid 8-h means, and when the peak began."""

    value: float | None
    valid_averages: int
    peak_start_hour: int | None  # local standard time, 7–23


def o3_daily_max_8h(hours: Sequence[float | None]) -> DailyMax8h:
    """The daily O3 value: the highest of the 17 running 8-h means starting 07:00–23:00 LST.

    ``hours`` are the 24 hourly means from 07:00 LST of the day to 06:00 LST of the next day
    (the last window runs 23:00–06:59).  Each 8-h mean needs 6 of its 8 hours; the day needs
    13 of its 17 means.
    """
    if len(hours) != 24:
        raise ValueError(f"give the 24 hourly values from 07:00 to 06:00 next day, got {len(hours)}")
    means = running_means(hours, window=8, min_valid=O3_8H_MIN_HOURS)
    valid = [(start, mean) for start, mean in enumerate(means) if mean is not None]
    if len(valid) < O3_DAILY_MIN_AVERAGES:
        return DailyMax8h(None, len(valid), None)
    start, peak = max(valid, key=lambda item: item[1])
    return DailyMax8h(peak, len(valid), 7 + start)


# == WHO 2021 ==========================================================================

WHO_ALLOWED_EXCEEDANCE_FRACTION = 0.01  # short-term guidelines are 99th percentiles of daily values


@dataclass(frozen=True, slots=True)
class WhoExceedances:
    """How many daily values exceeded a WHO level, against how many a 99th percentile allows."""

    pollutant: Pollutant
    averaging: Averaging
    level: GuidelineLevel
    unit: Unit
    exceedance_days: int
    valid_days: int
    allowed_days: int

    @property
    def complies(self) -> bool:
        """True when the exceedances fit within the 99th-percentile allowance."""
        return self.exceedance_days <= self.allowed_days


def who_exceedances(
    daily_values: Sequence[float | None],
    pollutant: Pollutant,
    *,
    averaging: Averaging = Averaging.HOUR_24,
    level: str = "AQG",
    table: WhoGuidelineTable = WHO_2021,
) -> WhoExceedances:
    """Count the days whose value is above a WHO 2021 level (strictly above: at the level complies).

    ``daily_values`` are daily means (24-h guidelines) or daily maximum 8-h means (O3 8-h), in
    the guideline's unit (µg/m³; mg/m³ for CO); None marks a day without a valid value.  The
    guidelines are 99th percentiles, which WHO describes as 3–4 exceedance days a year; Urbis
    allows ``floor(1 % of the valid days)`` — 3 in a full year — the stricter reading.
    """
    guideline = table.guideline(pollutant, averaging)
    if guideline is None:
        raise ValueError(f"{table.id} has no {averaging.value} guideline for {pollutant.value}")
    if not guideline.short_term:
        raise ValueError(f"exceedance days apply to short-term guidelines; {averaging.value} is a long-term mean")
    chosen = guideline.level(level)
    present = [_decimal(value) for value in daily_values if value is not None]
    exceeded = sum(1 for value in present if value > chosen.value)
    allowed = math.floor(len(present) * WHO_ALLOWED_EXCEEDANCE_FRACTION)
    return WhoExceedances(pollutant, averaging, chosen, guideline.unit, exceeded, len(present), allowed)


def who_attained_level(
    pollutant: Pollutant, averaging: Averaging, value: float, table: WhoGuidelineTable = WHO_2021
) -> GuidelineLevel | None:
    """The strictest WHO level that ``value`` meets (at or below it), or None when above IT-1."""
    guideline = table.guideline(pollutant, averaging)
    if guideline is None:
        raise ValueError(f"{table.id} has no {averaging.value} guideline for {pollutant.value}")
    met = [level for level in guideline.levels if _decimal(value) <= level.value]
    return met[-1] if met else None


# == daily values on the city's calendar =================================================

DAILY_MIN_FRACTION = 0.75  # a day needs three quarters of its hours: 18 of 24 (18 of 23, 19 of 25)
O3_DAY_START_HOUR = 7  # the daily 8-h O3 windows start 07:00–23:00 local standard time


def local_day_start(day: date, tz: tzinfo) -> datetime:
    """The UTC instant local day ``day`` begins in zone ``tz`` (its midnight, or the first instant after a gap)."""
    # A midnight skipped by a DST change resolves to the pre-change offset, i.e. the change itself.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def o3_day_start(day: date, tz: tzinfo) -> datetime:
    """The UTC instant of 07:00 local *standard* time on ``day``: where its daily 8-h O3 windows begin.

    Standard time all year (as the EPA rule has it), so an O3 day is always 24 hours.
    """
    noon = datetime.combine(day, time(12), tzinfo=tz)
    standard = (noon.utcoffset() or timedelta(0)) - (noon.dst() or timedelta(0))
    return datetime.combine(day, time(O3_DAY_START_HOUR), tzinfo=UTC) - standard


def civil_day_mean(hourly: Sequence[float | None]) -> float | None:
    """The mean of a local day's hourly means (None = missing), when 75 % of its hours have one.

    A local day has 23, 24 or 25 hours (DST), so it needs 18, 18 or 19 valid hours.
    """
    if not 23 <= len(hourly) <= 25:
        raise ValueError(f"a local day has 23 to 25 hourly values, got {len(hourly)}")
    return mean_if_complete(hourly, math.ceil(len(hourly) * DAILY_MIN_FRACTION))


class DayStatus(StrEnum):
    """Whether a day's value counts."""

    COMPLETE = "complete"
    INCOMPLETE = "incomplete"  # too few valid hours (or 8-h means): reported, never counted
    IN_PROGRESS = "in-progress"  # the day (or its O3 windows) has not ended yet


@dataclass(frozen=True, slots=True)
class DailyValue:
    """One day's value of one pollutant: the 24-h mean, or for O3 the daily maximum 8-h mean.

    ``value`` is set only when the day is complete.  ``hours`` is how many hours the day has
    (23–25 for a local day, 24 for an O3 day), ``valid_hours`` how many had a usable mean and
    ``flagged_hours`` how many had a mean that quality control set aside.  For O3,
    ``valid_averages`` counts the valid 8-h means (13 of 17 needed) and ``peak_start_hour`` is
    the local standard hour the highest began.
    """

    day: date
    status: DayStatus
    value: float | None
    hours: int
    valid_hours: int
    flagged_hours: int
    valid_averages: int | None = None
    peak_start_hour: int | None = None

    @property
    def complete(self) -> bool:
        """True when the value counts."""
        return self.status is DayStatus.COMPLETE


def daily_values(
    pollutant: Pollutant,
    origin: datetime,
    hourly: Sequence[CheckedValue],
    days: Sequence[date],
    tz: tzinfo,
    *,
    until: datetime,
) -> list[DailyValue]:
    """Each day's value from hourly means on a grid of whole hours from ``origin`` (oldest first).

    ``hourly[k]`` is the screened mean of the hour starting ``origin + k h``; an hour off the
    grid is missing.  Days are local days of ``tz`` (23–25 hours, 75 % needed); O3 days run
    from 07:00 to 07:00 local standard time and take :func:`o3_daily_max_8h`.  Hours from
    ``until`` on have not ended: a day that reaches them is in progress (its value is left out
    even if enough hours are in, as more may come).
    """
    start = require_utc(origin)
    end = require_utc(until)
    out: list[DailyValue] = []
    for day in days:
        if pollutant == Pollutant.O3:
            first = o3_day_start(day, tz)
            last = first + timedelta(hours=24)
        else:
            first, last = local_day_start(day, tz), local_day_start(day + timedelta(days=1), tz)
        offset = (first - start) // HOUR
        checked = [
            hourly[position] if 0 <= position < len(hourly) else CheckedValue(None)
            for position in range(offset, offset + (last - first) // HOUR)
        ]
        values = [item.value if item.usable else None for item in checked]
        valid = sum(1 for value in values if value is not None)
        flagged = sum(1 for item in checked if item.value is not None and item.flags)
        if pollutant == Pollutant.O3:
            peak = o3_daily_max_8h(values)
            value, averages, peak_hour = peak.value, peak.valid_averages, peak.peak_start_hour
        else:
            value, averages, peak_hour = civil_day_mean(values), None, None
        if last > end:
            status, value, peak_hour = DayStatus.IN_PROGRESS, None, None
        elif value is None:
            status = DayStatus.INCOMPLETE
        else:
            status = DayStatus.COMPLETE
        out.append(DailyValue(day, status, value, len(values), valid, flagged, averages, peak_hour))
    return out


# == WHO figures over a window of days ==================================================

ANNUAL_MIN_DAYS = 365  # an annual mean needs a year of days in the window
ANNUAL_MIN_CAPTURE = 0.90  # and 90 % of them valid (the EU's data-capture objective for annual means)


@dataclass(frozen=True, slots=True)
class WhoAnnualMean:
    """The mean of a window's valid daily values against the WHO annual guideline.

    ``assessed`` only when the window holds a whole year of ended days and 90 % of them are
    valid; otherwise the mean is shown for information and ``exceeds`` is None.
    """

    value: float | None
    valid_days: int
    ended_days: int
    guideline: GuidelineLevel
    attained: GuidelineLevel | None  # the strictest level the mean meets (None: above IT-1)
    assessed: bool

    @property
    def exceeds(self) -> bool | None:
        """Whether the annual mean is above the guideline (None when not assessed)."""
        if not self.assessed or self.value is None:
            return None
        return _decimal(self.value) > self.guideline.value


@dataclass(frozen=True, slots=True)
class WhoSummary:
    """One pollutant at one station over a window: exceedance days and, where possible, the annual mean."""

    pollutant: Pollutant
    exceedances: WhoExceedances  # days above the short-term AQG (24-h; daily max 8-h for O3)
    by_level: tuple[tuple[str, int], ...]  # days above each level, least strict first
    incomplete_days: int
    in_progress_days: int
    annual: WhoAnnualMean | None  # None where WHO has no annual guideline (O3: peak season)


def who_short_term_averaging(pollutant: Pollutant) -> Averaging:
    """The averaging of the daily values WHO's short-term guideline reads: 8-h for O3, else 24-h."""
    return Averaging.HOUR_8 if pollutant == Pollutant.O3 else Averaging.HOUR_24


def who_summary(pollutant: Pollutant, daily: Sequence[DailyValue], table: WhoGuidelineTable = WHO_2021) -> WhoSummary:
    """Exceedance days of the WHO short-term levels and the annual mean, from a window's daily values.

    Only complete days count; incomplete and unfinished ones are counted apart.
    """
    averaging = who_short_term_averaging(pollutant)
    values = [item.value if item.complete else None for item in daily]
    short = table.guideline(pollutant, averaging)
    if short is None:
        raise ValueError(f"{table.id} has no {averaging.value} guideline for {pollutant.value}")
    by_level = tuple(
        (
            level.name,
            who_exceedances(values, pollutant, averaging=averaging, level=level.name, table=table).exceedance_days,
        )
        for level in short.levels
    )
    annual: WhoAnnualMean | None = None
    long_term = table.guideline(pollutant, Averaging.ANNUAL)
    if long_term is not None:
        present = [value for value in values if value is not None]
        ended = sum(1 for item in daily if item.status is not DayStatus.IN_PROGRESS)
        mean = sum(present) / len(present) if present else None
        annual = WhoAnnualMean(
            mean,
            len(present),
            ended,
            long_term.guideline,
            None if mean is None else who_attained_level(pollutant, Averaging.ANNUAL, mean, table),
            ended >= ANNUAL_MIN_DAYS and len(present) >= ANNUAL_MIN_CAPTURE * ended,
        )
    return WhoSummary(
        pollutant,
        who_exceedances(values, pollutant, averaging=averaging, table=table),
        by_level,
        sum(1 for item in daily if item.status is DayStatus.INCOMPLETE),
        sum(1 for item in daily if item.status is DayStatus.IN_PROGRESS),
        annual,
    )


@dataclass(frozen=True, slots=True)
class WhoAreaFigure:
    """One pollutant over an area's stations: its worst station, and how many stations comply.

    As in EU zone assessment, an area is as bad as its worst station: ``worst_station`` has the
    most exceedance days (ties: the first id), ``not_complying`` counts stations beyond the
    99th-percentile allowance, of the ``stations_with_data`` that had a valid day.  The annual
    figure is likewise the highest assessed annual mean.
    """

    pollutant: Pollutant
    stations_with_data: int
    not_complying: int
    worst_station: str | None
    exceedance_days: int | None
    annual_worst_station: str | None = None
    annual_mean: float | None = None
    annual_exceeding: int = 0


def who_area(pollutant: Pollutant, stations: Sequence[tuple[str, WhoSummary]]) -> WhoAreaFigure:
    """The area figure of ``pollutant`` from each station's summary (id, summary)."""
    rated = sorted(
        (
            (summary.exceedances.exceedance_days, station)
            for station, summary in stations
            if summary.exceedances.valid_days
        ),
        key=lambda item: (-item[0], item[1]),
    )
    annual = sorted(
        (
            (summary.annual.value, station)
            for station, summary in stations
            if summary.annual is not None and summary.annual.assessed and summary.annual.value is not None
        ),
        key=lambda item: (-item[0], item[1]),
    )
    return WhoAreaFigure(
        pollutant,
        len(rated),
        sum(1 for station, summary in stations if summary.exceedances.valid_days and not summary.exceedances.complies),
        rated[0][1] if rated else None,
        rated[0][0] if rated else None,
        annual[0][1] if annual else None,
        annual[0][0] if annual else None,
        sum(1 for _, summary in stations if summary.annual is not None and summary.annual.exceeds),
    )


# == quality control ===================================================================

BARKJOHN_2021_US = "epa-barkjohn-2021-us-wide"  # the correction's id, stored with every corrected value


@dataclass(frozen=True, slots=True)
class CheckedValue:
    """A reading after quality control: kept with its flags, usable only when it has none."""

    value: float | None
    flags: tuple[QcFlag, ...] = ()

    @property
    def usable(self) -> bool:
        """True when the reading exists and passed every check."""
        return self.value is not None and not self.flags


def check_range(value: float, spec: PollutantSpec) -> tuple[QcFlag, ...]:
    """``(OUT_OF_RANGE,)`` when ``value`` (in the spec's unit) is outside its plausible range, else ``()``."""
    if not math.isfinite(value) or not spec.minimum <= value <= spec.maximum:
        return (QcFlag.OUT_OF_RANGE,)
    return ()


def flag_flatline(values: Sequence[float | None], *, min_run: int, tolerance: float = 0.0) -> list[bool]:
    """Mark every reading in a run of at least ``min_run`` consecutive equal readings (a stuck sensor).

    Readings within ``tolerance`` of the run's first reading count as equal; a missing reading
    ends a run.  Stuck at zero or at the rail is caught the same way.
    """
    if min_run < 2:
        raise ValueError("a flatline needs min_run ≥ 2")
    flags = [False] * len(values)
    run_start = 0
    for position in range(1, len(values) + 1):
        first = values[run_start]
        current = values[position] if position < len(values) else None
        if first is not None and current is not None and abs(current - first) <= tolerance:
            continue
        if first is not None and position - run_start >= min_run:
            flags[run_start:position] = [True] * (position - run_start)
        run_start = position
    return flags


MAD_TO_SIGMA = 1.4826  # scales the median absolute deviation to a standard deviation for normal data


def flag_spikes(
    values: Sequence[float | None],
    *,
    half_window: int = DEFAULT_QUALITY_CONTROL.spike_half_window,
    threshold: float = DEFAULT_QUALITY_CONTROL.spike_threshold,
    min_deviation: float = DEFAULT_QUALITY_CONTROL.spike_min_deviation,
    trailing: bool = False,
) -> list[bool]:
    """Mark spikes with a Hampel filter: readings far from the median of their window.

    The window holds the ``half_window`` readings on each side (or, with ``trailing``, the
    ``2·half_window`` readings before, for live data where the future is unknown).  A reading is
    a spike when ``|x − median| > max(threshold · 1.4826 · MAD, min_deviation)``.  With a MAD of
    zero (a flat window) any departure beyond ``min_deviation`` is a spike, so give
    ``min_deviation`` the sensor's resolution.  Windows with fewer than 3 readings judge nothing.
    """
    if half_window < 1:
        raise ValueError("half_window must be at least 1")
    flags = [False] * len(values)
    before, after = (2 * half_window, 0) if trailing else (half_window, half_window)
    for position, value in enumerate(values):
        if value is None:
            continue
        present = [item for item in values[max(0, position - before) : position + after + 1] if item is not None]
        if len(present) < 3:
            continue
        centre = median(present)
        departure = abs(value - centre)
        # The limit is never below min_deviation, so a reading within it needs no MAD: this
        # spares most of the work on every hour of a year of hourly means (the WHO figures).
        if departure <= min_deviation:
            continue
        spread = MAD_TO_SIGMA * median([abs(item - centre) for item in present])
        flags[position] = departure > max(threshold * spread, min_deviation)
    return flags


def combine_channels(
    channel_a: float | None,
    channel_b: float | None,
    *,
    absolute_limit: float = DEFAULT_QUALITY_CONTROL.channel_absolute_limit,
    relative_limit: float = DEFAULT_QUALITY_CONTROL.channel_relative_limit,
) -> CheckedValue:
    """The mean of a PM sensor's A and B channels, flagged when they disagree or one is missing.

    They disagree when ``|A − B| > 5 µg/m³`` *and* ``|A − B| / mean > 70 %`` (Barkjohn 2021):
    the absolute test spares clean air, the relative test spares smoke.
    """
    if channel_a is None or channel_b is None:
        return CheckedValue(channel_a if channel_b is None else channel_b, (QcFlag.CHANNEL_MISSING,))
    mean = (channel_a + channel_b) / 2
    difference = abs(channel_a - channel_b)
    disagree = difference > absolute_limit and mean > 0 and difference / mean > relative_limit
    return CheckedValue(mean, (QcFlag.CHANNEL_DISAGREEMENT,) if disagree else ())


@dataclass(frozen=True, slots=True)
class CorrectedPm:
    """A corrected PM2.5 value, the id of the correction used, and any flags it raised."""

    value: float
    method: str
    flags: tuple[QcFlag, ...] = ()


def correct_pm25_barkjohn_2021(pa_cf1: float, relative_humidity: float) -> CorrectedPm:
    """The EPA US-wide correction of a PurpleAir (PMS5003) PM2.5 reading (Barkjohn et al., 2021).

    ``PM2.5 = 0.524 · PA_cf1 − 0.0862 · RH + 5.75`` with ``PA_cf1`` the A/B mean of the ``cf_1``
    channel (µg/m³) and ``RH`` the sensor's relative humidity (%).  The result is kept even when
    flagged: an impossible humidity or a negative result marks it unusable.  ``method`` records
    the version (:data:`BARKJOHN_2021_US`).
    """
    flags: list[QcFlag] = []
    low, high = RELATIVE_HUMIDITY_RANGE
    if not (math.isfinite(relative_humidity) and low <= relative_humidity <= high):
        flags.append(QcFlag.HUMIDITY_OUT_OF_RANGE)
    corrected = 0.524 * pa_cf1 - 0.0862 * relative_humidity + 5.75
    if corrected < 0:
        flags.append(QcFlag.NEGATIVE_AFTER_CORRECTION)
    return CorrectedPm(corrected, BARKJOHN_2021_US, tuple(flags))


@dataclass(frozen=True, slots=True)
class PreparedHour:
    """One hourly mean of a PM series on its way to the indices: the inputs and what became of them.

    ``raw`` is the A/B mean (or the single reported value) and ``value`` what the indices get:
    ``raw`` corrected for humidity when ``method`` names a correction, else ``raw`` itself.
    ``flags`` are those of the channel test and the correction; screening adds its own.
    """

    value: float | None
    flags: tuple[QcFlag, ...] = ()
    raw: float | None = None
    channel_a: float | None = None
    channel_b: float | None = None
    relative_humidity: float | None = None  # %, as the correction used it
    method: str | None = None  # the correction applied (None: the value is as reported)


def prepare_pm_hours(
    *,
    single: Sequence[float | None] | None = None,
    channel_a: Sequence[float | None] | None = None,
    channel_b: Sequence[float | None] | None = None,
    humidity_percent: Sequence[float | None] | None = None,
    params: QualityControlParams = DEFAULT_QUALITY_CONTROL,
) -> list[PreparedHour]:
    """Hourly PM means (µg/m³, oldest first) from A/B channels or a single value, corrected when asked.

    When either channel series is given the channels decide (``single`` is ignored): each hour
    is their mean by :func:`combine_channels`, flagged when they disagree or one is missing; an
    hour neither reported stays missing.  When ``humidity_percent`` is given (a low-cost PM2.5
    sensor), each hour is corrected by :func:`correct_pm25_barkjohn_2021` with that hour's
    humidity in %; an hour without humidity keeps its raw value but is flagged
    ``humidity-missing`` (a raw low-cost value runs about 40 % high, so it must not reach an
    index uncorrected).  All series have one entry per hour.
    """
    given = [series for series in (single, channel_a, channel_b, humidity_percent) if series is not None]
    hours = len(given[0]) if given else 0
    if any(len(series) != hours for series in given):
        raise ValueError("every series needs one value per hour")
    channels = channel_a is not None or channel_b is not None
    out: list[PreparedHour] = []
    for hour in range(hours):
        a = channel_a[hour] if channel_a is not None else None
        b = channel_b[hour] if channel_b is not None else None
        flags: tuple[QcFlag, ...] = ()
        if channels:
            if a is None and b is None:
                raw = None
            else:
                combined = combine_channels(
                    a, b, absolute_limit=params.channel_absolute_limit, relative_limit=params.channel_relative_limit
                )
                raw, flags = combined.value, combined.flags
        else:
            raw = single[hour] if single is not None else None
        if raw is None or humidity_percent is None:
            out.append(PreparedHour(raw, flags, raw, a, b))
            continue
        humidity = humidity_percent[hour]
        if humidity is None:
            out.append(PreparedHour(raw, (*flags, QcFlag.HUMIDITY_MISSING), raw, a, b))
            continue
        corrected = correct_pm25_barkjohn_2021(raw, humidity)
        out.append(PreparedHour(corrected.value, (*flags, *corrected.flags), raw, a, b, humidity, corrected.method))
    return out


def screen_series(
    values: Sequence[float | None],
    spec: PollutantSpec,
    params: QualityControlParams = DEFAULT_QUALITY_CONTROL,
    *,
    prior_flags: Sequence[tuple[QcFlag, ...]] | None = None,
) -> list[CheckedValue]:
    """Range, flatline and spike checks over a series (oldest first), one result per reading.

    Out-of-range readings do not take part in the spike check, so one absurd value cannot hide
    its neighbours' spikes; nor do readings that earlier steps flagged (``prior_flags``, one
    tuple per reading, e.g. from :func:`prepare_pm_hours`), whose flags come first in the result.
    Missing readings stay missing, without flags.
    """
    if prior_flags is not None and len(prior_flags) != len(values):
        raise ValueError("prior_flags needs one entry per reading")
    earlier = prior_flags or [()] * len(values)
    ranges = [() if value is None else check_range(value, spec) for value in values]
    in_range = [
        value if value is not None and not ranges[position] and not earlier[position] else None
        for position, value in enumerate(values)
    ]
    stuck = flag_flatline(values, min_run=params.flatline_run, tolerance=params.flatline_tolerance)
    spikes = flag_spikes(
        in_range,
        half_window=params.spike_half_window,
        threshold=params.spike_threshold,
        min_deviation=params.spike_min_deviation,
    )
    checked: list[CheckedValue] = []
    for position, value in enumerate(values):
        if value is None:
            checked.append(CheckedValue(None))
            continue
        flags = [*earlier[position], *ranges[position]]
        if stuck[position]:
            flags.append(QcFlag.STUCK)
        if spikes[position]:
            flags.append(QcFlag.SPIKE)
        checked.append(CheckedValue(value, tuple(flags)))
    return checked


# == alerts ============================================================================


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """Raise at ``value ≥ threshold``; clear only once ``value < threshold − hysteresis``.

    The gap keeps a value that hovers around the threshold from raising and clearing on every
    reading.
    """

    threshold: float
    hysteresis: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.threshold):
            raise ValueError("the threshold must be a finite number")
        if not (math.isfinite(self.hysteresis) and self.hysteresis >= 0):
            raise ValueError("the hysteresis must be a non-negative number")

    @property
    def clear_below(self) -> float:
        """The value under which an active alert clears."""
        return self.threshold - self.hysteresis


@dataclass(frozen=True, slots=True)
class AlertState:
    """Whether an alert is active, since when, and the highest value seen while it was."""

    active: bool = False
    since: datetime | None = None
    peak: float | None = None


class AlertChange(StrEnum):
    """What a new value did to an alert."""

    RAISED = "raised"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """The state after a new value, and the change it caused (None when nothing changed)."""

    state: AlertState
    change: AlertChange | None


def evaluate_threshold(previous: AlertState, value: float | None, rule: ThresholdRule, at: datetime) -> AlertDecision:
    """The alert state after ``value`` arrives at ``at``; a missing value changes nothing."""
    moment = require_utc(at)
    if value is None or not math.isfinite(value):
        return AlertDecision(previous, None)
    if not previous.active:
        if value >= rule.threshold:
            return AlertDecision(AlertState(True, moment, value), AlertChange.RAISED)
        return AlertDecision(previous, None)
    if value < rule.clear_below:
        return AlertDecision(AlertState(), AlertChange.CLEARED)
    peak = value if previous.peak is None else max(previous.peak, value)
    return AlertDecision(AlertState(True, previous.since, peak), None)


# == forecast ==========================================================================

HOUR = timedelta(hours=1)
FORECAST_HOURS = 24
PROFILE_DAYS = 14  # the diurnal profile follows the last two weeks: recent enough for the season
MAX_PERSISTENCE = 0.98  # keeps the anomaly from never fading when the fit is near 1

HourlyPoint = tuple[datetime, float | None]


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    """The forecast value for the hour that starts at ``start``."""

    start: datetime
    value: float


@dataclass(frozen=True, slots=True)
class DiurnalModel:
    """A diurnal profile by UTC hour of day, and how fast today's departure from it fades.

    ``forecast(t) = profile[hour(t)] + anomaly_now · persistence^(hours ahead)``: the typical
    day, shifted by how unusual the last observation is, with that shift decaying as an AR(1)
    process.  ``persistence`` is the least-squares lag-1 coefficient of the anomalies.
    """

    profile: tuple[float, ...]
    persistence: float
    last_at: datetime
    last_value: float

    def predict(self, start: datetime) -> float:
        """The forecast for the hour starting at ``start`` (never negative)."""
        moment = require_utc(start)
        lead = (moment - self.last_at) / HOUR
        anomaly = self.last_value - self.profile[self.last_at.hour]
        return max(0.0, self.profile[moment.hour] + anomaly * math.pow(self.persistence, max(lead, 0.0)))


def _hourly_series(history: Sequence[HourlyPoint]) -> list[tuple[datetime, float | None]]:
    series: list[tuple[datetime, float | None]] = []
    for start, value in history:
        moment = require_utc(start)
        if moment != moment.replace(minute=0, second=0, microsecond=0):
            raise ValueError(f"hourly values start on the hour, got {moment.isoformat()}")
        if series and moment <= series[-1][0]:
            raise ValueError("hourly values must be in strictly increasing time order")
        if value is not None and not math.isfinite(value):
            raise ValueError(f"hourly values must be finite numbers, got {value!r}")
        series.append((moment, value))
    return series


def fit_diurnal_model(history: Sequence[HourlyPoint], *, profile_days: int = PROFILE_DAYS) -> DiurnalModel:
    """Fit the diurnal model on hourly means (oldest first) ending at the forecast origin.

    The profile averages each UTC hour of day over the last ``profile_days`` days (an hour with
    no data takes the overall mean); DST shifts blur it by an hour twice a year.  Raises
    ``ValueError`` when the window holds no valid value.
    """
    series = _hourly_series(history)
    if not series:
        raise ValueError("no history to fit a forecast on")
    window_start = series[-1][0] - timedelta(days=profile_days)
    recent = [(moment, value) for moment, value in series if moment > window_start and value is not None]
    if not recent:
        raise ValueError("no valid hourly value in the history window")
    by_hour: dict[int, list[float]] = defaultdict(list)
    for moment, value in recent:
        by_hour[moment.hour].append(value)
    overall = sum(value for _, value in recent) / len(recent)
    profile = tuple(sum(by_hour[hour]) / len(by_hour[hour]) if by_hour[hour] else overall for hour in range(24))
    anomalies = {moment: value - profile[moment.hour] for moment, value in recent}
    products = squares = 0.0
    for moment, anomaly in anomalies.items():
        following = anomalies.get(moment + HOUR)
        if following is not None:
            products += anomaly * following
            squares += anomaly * anomaly
    persistence = min(max(products / squares, 0.0), MAX_PERSISTENCE) if squares > 0 else 0.0
    last_at, last_value = recent[-1]
    return DiurnalModel(profile, persistence, last_at, last_value)


def _horizon(history: Sequence[HourlyPoint], hours: int) -> list[datetime]:
    if hours < 1:
        raise ValueError("forecast at least one hour")
    if not history:
        raise ValueError("no history to forecast from")
    origin = require_utc(history[-1][0])
    return [origin + HOUR * lead for lead in range(1, hours + 1)]


def forecast_next_hours(
    history: Sequence[HourlyPoint], *, hours: int = FORECAST_HOURS, profile_days: int = PROFILE_DAYS
) -> list[ForecastPoint]:
    """The diurnal-model forecast of the ``hours`` after the last hour of ``history``."""
    model = fit_diurnal_model(history, profile_days=profile_days)
    return [ForecastPoint(start, model.predict(start)) for start in _horizon(history, hours)]


def persistence_forecast(history: Sequence[HourlyPoint], *, hours: int = FORECAST_HOURS) -> list[ForecastPoint]:
    """The baseline a forecast must beat: the last valid value, repeated for every hour ahead."""
    series = _hourly_series(history)
    last = next((value for _, value in reversed(series) if value is not None), None)
    if last is None:
        raise ValueError("no valid hourly value to persist")
    return [ForecastPoint(start, last) for start in _horizon(history, hours)]


@dataclass(frozen=True, slots=True)
class ForecastEvaluation:
    """Mean absolute errors of the model and of persistence on the same held-out hours."""

    model_mae: float | None
    persistence_mae: float | None
    compared_hours: int
    origins: int
    per_lead_model_mae: tuple[float | None, ...] = ()
    per_lead_persistence_mae: tuple[float | None, ...] = ()

    @property
    def beats_persistence(self) -> bool:
        """True when the model's error is strictly lower than persistence's."""
        if self.model_mae is None or self.persistence_mae is None:
            return False
        return self.model_mae < self.persistence_mae

    @property
    def skill(self) -> float | None:
        """``1 − MAE_model / MAE_persistence``: above 0 means better than persistence."""
        if self.model_mae is None or not self.persistence_mae:
            return None
        return 1.0 - self.model_mae / self.persistence_mae


def evaluate_forecast(
    series: Sequence[HourlyPoint],
    *,
    min_history_hours: int = 7 * 24,
    horizon: int = FORECAST_HOURS,
    step: int = FORECAST_HOURS,
    profile_days: int = PROFILE_DAYS,
) -> ForecastEvaluation:
    """Backtest the model against persistence on held-out data, rolling the origin forward.

    From ``min_history_hours`` after the first hour, every ``step`` hours, both forecasts are
    made from the data up to the origin only and scored on the following ``horizon`` hours that
    have an observation.  The caller sees both errors and whether the model earns its keep.
    """
    if min(min_history_hours, horizon, step) < 1:
        raise ValueError("min_history_hours, horizon and step must be positive")
    points = _hourly_series(series)
    if not points:
        return ForecastEvaluation(None, None, 0, 0)
    observed = dict(points)
    model_errors: list[list[float]] = [[] for _ in range(horizon)]
    persistence_errors: list[list[float]] = [[] for _ in range(horizon)]
    origins = 0
    origin = points[0][0] + HOUR * (min_history_hours - 1)
    while origin + HOUR * horizon <= points[-1][0]:
        history = [(moment, value) for moment, value in points if moment <= origin]
        if any(value is not None for _, value in history):
            origins += 1
            model = forecast_next_hours(history, hours=horizon, profile_days=profile_days)
            baseline = persistence_forecast(history, hours=horizon)
            for lead, (predicted, persisted) in enumerate(zip(model, baseline, strict=True)):
                actual = observed.get(predicted.start)
                if actual is not None:
                    model_errors[lead].append(abs(predicted.value - actual))
                    persistence_errors[lead].append(abs(persisted.value - actual))
        origin += HOUR * step

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    every_model = [error for errors in model_errors for error in errors]
    every_persistence = [error for errors in persistence_errors for error in errors]
    return ForecastEvaluation(
        mean(every_model),
        mean(every_persistence),
        len(every_model),
        origins,
        tuple(mean(errors) for errors in model_errors),
        tuple(mean(errors) for errors in persistence_errors),
    )
