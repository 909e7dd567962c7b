"""Energy: expected power from the dimming curve, metered and estimated kWh, the baseline and savings.

- :class:`DimmingCurve` — a lamp's draw at a level: the controller's standby power always,
  plus the rated power times the level, linear above the driver's minimum (TALQ
  ``minLightOutput``; a commanded level below it is driven at the minimum).  This is the
  simulator's lamp model too (domain reference §2.2).
- :func:`energy_from_counter` — kWh from a cumulative energy counter, across counter resets
  (a replaced or rebooted controller starts again from zero) and rollovers (a counter that
  wraps at a fixed maximum).
- :func:`estimate_energy_kwh` — the dimming curve integrated over the commanded levels.
- :func:`baseline_energy_kwh` — the lamp at full rated power from sunset to sunrise, without
  any control: what the savings are measured against.
- :class:`EnergyFigure` and :func:`roll_up_energy` — totals from lamps up to groups, cabinets,
  districts and the city, with the metered and estimated parts kept apart so that a total
  made of both says so (the DOE's caveat on metering, §2.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from urbis.solutions.lighting.const import DEFAULT_DAY_STARTS_AT, EnergyBasis
from urbis.solutions.lighting.schedule import (
    AstroClockPeriod,
    LevelSegment,
    Site,
    astro_period_interval,
    lighting_date,
)

_HOUR_S = 3600.0
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class DimmingCurve:
    """A lamp's electrical facts: rated power at 100 %, the driver's minimum level, standby draw."""

    rated_w: float
    driver_minimum: float = 0.0  # % — TALQ LampType.minLightOutput
    standby_w: float = 0.0

    def __post_init__(self) -> None:
        if self.rated_w < 0 or self.standby_w < 0:
            raise ValueError("rated and standby power must not be negative")
        if not 0.0 <= self.driver_minimum <= 100.0:
            raise ValueError("the driver minimum is a level between 0 and 100 %")


def expected_power_w(curve: DimmingCurve, level: float) -> float:
    """The power (W) a healthy lamp draws when commanded to ``level`` (%).

    Off (0 %) draws the standby power only; any other level draws standby plus the rated
    power times the level, a level under the driver minimum being driven at the minimum.
    """
    if not 0.0 <= level <= 100.0:
        raise ValueError(f"level must be between 0 and 100 %, got {level!r}")
    if level == 0.0:
        return curve.standby_w
    return curve.standby_w + curve.rated_w * max(level, curve.driver_minimum) / 100.0


# -- metered --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CounterReading:
    """One reading of a cumulative energy counter (kWh) at an instant."""

    at: datetime
    kwh: float


@dataclass(frozen=True, slots=True)
class CounterEnergy:
    """Energy counted between the first and the last reading, and the counter events on the way."""

    kwh: float
    start: datetime | None
    end: datetime | None
    resets: int = 0
    rollovers: int = 0


def energy_from_counter(
    readings: Iterable[CounterReading],
    *,
    rollover_kwh: float | None = None,
    max_power_w: float | None = None,
) -> CounterEnergy:
    """The kWh a counter recorded over its readings (sorted here by time), across resets and rollovers.

    When the counter goes down: with ``rollover_kwh`` (the value at which the counter wraps to
    zero) the wrapped difference ``rollover_kwh − previous + current`` is taken as a rollover,
    unless ``max_power_w`` says that much energy could not have flowed in the time between the
    readings; otherwise the counter was reset and ``current`` is what it counted since zero.
    """
    ordered = sorted(readings, key=lambda reading: reading.at)
    if not ordered:
        return CounterEnergy(0.0, None, None)
    total, resets, rollovers = 0.0, 0, 0
    for previous, current in pairwise(ordered):
        step = current.kwh - previous.kwh
        if step >= 0.0:
            total += step
            continue
        wrapped = None if rollover_kwh is None else rollover_kwh - previous.kwh + current.kwh
        plausible = wrapped is not None and wrapped >= 0.0
        if plausible and wrapped is not None and max_power_w is not None:
            hours = (current.at - previous.at).total_seconds() / _HOUR_S
            plausible = wrapped <= max_power_w * hours / 1000.0
        if plausible and wrapped is not None:
            total += wrapped
            rollovers += 1
        else:
            total += max(current.kwh, 0.0)
            resets += 1
    return CounterEnergy(total, ordered[0].at, ordered[-1].at, resets, rollovers)


# -- estimated ------------------------------------------------------------------------------


def clip_counter(readings: Iterable[CounterReading], start: datetime, end: datetime) -> list[CounterReading]:
    """Counter readings covering exactly ``[start, end]``, interpolated at the edges where the readings allow.

    Readings come every few minutes, never on the window's edge: the counter's value at
    ``start`` is interpolated linearly between the last reading before it and the first after
    it (the lamp's power is taken as constant between two readings), and likewise at ``end``.
    Without a reading on one side of an edge, or across a reset (the counter went down),
    the window starts (ends) at the first (last) reading inside it.
    """
    ordered = sorted(readings, key=lambda reading: reading.at)
    inside = [r for r in ordered if start <= r.at <= end]
    before = [r for r in ordered if r.at < start]
    after = [r for r in ordered if r.at > end]
    first_after_start = (inside + after)[0] if inside or after else None
    last_before_end = (before + inside)[-1] if before or inside else None
    head = _interpolated(before[-1], first_after_start, start) if before else None
    tail = _interpolated(last_before_end, after[0], end) if after else None
    return ([head] if head is not None else []) + inside + ([tail] if tail is not None else [])


def _interpolated(left: CounterReading | None, right: CounterReading | None, at: datetime) -> CounterReading | None:
    if left is None or right is None or right.kwh < left.kwh or not left.at < at < right.at:
        return None
    share = (at - left.at) / (right.at - left.at)
    return CounterReading(at, left.kwh + share * (right.kwh - left.kwh))


def estimate_energy_kwh(curve: DimmingCurve, segments: Iterable[LevelSegment]) -> float:
    """The kWh a healthy lamp draws over ``segments`` of commanded levels (standby included)."""
    joules = 0.0
    for segment in segments:
        joules += expected_power_w(curve, segment.level) * segment.duration.total_seconds()
    return joules / (_HOUR_S * 1000.0)


def baseline_energy_kwh(
    rated_w: float,
    site: Site,
    start: datetime,
    end: datetime,
    *,
    period: AstroClockPeriod | None = None,
) -> float:
    """The kWh of an uncontrolled lamp over ``[start, end)``: full ``rated_w`` from sunset to sunrise.

    ``period`` shifts the switching like a photocell set early or late (default: sunset to sunrise).
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    seconds = 0.0
    day = lighting_date(start, site.zone, DEFAULT_DAY_STARTS_AT) - timedelta(days=1)
    last = lighting_date(end, site.zone, DEFAULT_DAY_STARTS_AT)
    while day <= last:
        interval = astro_period_interval(site, day, period, DEFAULT_DAY_STARTS_AT)
        if interval is not None:
            on, off = max(interval[0], start), min(interval[1], end)
            seconds += max(0.0, (off - on).total_seconds())
        day += timedelta(days=1)
    return rated_w * seconds / (_HOUR_S * 1000.0)


# -- figures and their totals ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnergyFigure:
    """An amount of energy with its provenance: the metered and the estimated kWh, and how many sources each."""

    metered_kwh: float = 0.0
    estimated_kwh: float = 0.0
    metered_sources: int = 0
    estimated_sources: int = 0

    @classmethod
    def metered(cls, kwh: float) -> EnergyFigure:
        """One source's energy read from its meter."""
        return cls(metered_kwh=kwh, metered_sources=1)

    @classmethod
    def estimated(cls, kwh: float) -> EnergyFigure:
        """One source's energy estimated from the dimming curve and the schedule."""
        return cls(estimated_kwh=kwh, estimated_sources=1)

    @property
    def kwh(self) -> float:
        """The total, metered and estimated together."""
        return self.metered_kwh + self.estimated_kwh

    @property
    def basis(self) -> EnergyBasis:
        """Metered, estimated, mixed — or none when nothing contributed."""
        if self.metered_sources and self.estimated_sources:
            return EnergyBasis.MIXED
        if self.metered_sources:
            return EnergyBasis.METERED
        if self.estimated_sources:
            return EnergyBasis.ESTIMATED
        return EnergyBasis.NONE

    @property
    def metered_share(self) -> float:
        """The share of the kWh that was metered (0 when there are none)."""
        total = self.kwh
        return self.metered_kwh / total if total else 0.0

    def __add__(self, other: EnergyFigure) -> EnergyFigure:
        return EnergyFigure(
            self.metered_kwh + other.metered_kwh,
            self.estimated_kwh + other.estimated_kwh,
            self.metered_sources + other.metered_sources,
            self.estimated_sources + other.estimated_sources,
        )


def combine_energy(figures: Iterable[EnergyFigure]) -> EnergyFigure:
    """The sum of ``figures``, keeping metered and estimated apart."""
    total = EnergyFigure()
    for figure in figures:
        total = total + figure
    return total


def roll_up_energy(
    leaves: Mapping[str, EnergyFigure],
    parent_of: Mapping[str, str],
    *,
    own_meters: Mapping[str, EnergyFigure] | None = None,
) -> dict[str, EnergyFigure]:
    """Totals for every node of a hierarchy (lamp → group → cabinet → district → city).

    ``leaves`` holds each lamp's figure, ``parent_of`` each node's parent.  A node's total is
    its own leaf figure plus its children's totals — unless it has an entry in ``own_meters``
    (a cabinet meter measures everything behind it, cable losses and its own draw included),
    which then stands for the whole subtree.
    """
    meters = own_meters or {}
    children: dict[str, list[str]] = {}
    for child, parent in parent_of.items():
        children.setdefault(parent, []).append(child)
    nodes = set(leaves) | set(parent_of) | set(parent_of.values()) | set(meters)
    totals: dict[str, EnergyFigure] = {}
    visiting: set[str] = set()

    def total_of(node: str) -> EnergyFigure:
        # An explicit stack would avoid recursion, but hierarchies here are five levels deep.
        known = totals.get(node)
        if known is not None:
            return known
        if node in visiting:
            raise ValueError(f"the hierarchy has a cycle through {node!r}")
        visiting.add(node)
        if node in meters:
            figure = meters[node]
        else:
            figure = leaves.get(node, EnergyFigure()) + combine_energy(total_of(c) for c in children.get(node, ()))
        visiting.discard(node)
        totals[node] = figure
        return figure

    for node in sorted(nodes):
        total_of(node)
    return totals


@dataclass(frozen=True, slots=True)
class EnergySavings:
    """What control saved against the baseline, in kWh, money and CO2, and on what basis."""

    baseline_kwh: float
    actual_kwh: float
    basis: EnergyBasis
    saved_kwh: float  # negative when the lamps used more than the baseline (day-burners)
    saved_share: float  # of the baseline; 0 when the baseline is 0
    saved_money: Decimal
    currency: str
    saved_co2_kg: float


def energy_savings(
    actual: EnergyFigure,
    baseline_kwh: float,
    *,
    tariff_per_kwh: Decimal,
    grid_kg_co2_per_kwh: float,
    currency: str = "EUR",
) -> EnergySavings:
    """Savings of ``actual`` against ``baseline_kwh``: kWh, money at ``tariff_per_kwh``, CO2 at the grid factor.

    Money is rounded half-up to the cent; the basis is the actual figure's (a mix stays "mixed").
    """
    if baseline_kwh < 0:
        raise ValueError("the baseline must not be negative")
    saved = baseline_kwh - actual.kwh
    money = (Decimal(repr(saved)) * tariff_per_kwh).quantize(_CENT, rounding=ROUND_HALF_UP)
    return EnergySavings(
        baseline_kwh=baseline_kwh,
        actual_kwh=actual.kwh,
        basis=actual.basis,
        saved_kwh=saved,
        saved_share=saved / baseline_kwh if baseline_kwh else 0.0,
        saved_money=money,
        currency=currency,
        saved_co2_kg=saved * grid_kg_co2_per_kwh,
    )


def lamp_energy(
    curve: DimmingCurve,
    segments: Sequence[LevelSegment],
    readings: Sequence[CounterReading] = (),
    *,
    rollover_kwh: float | None = None,
) -> EnergyFigure:
    """A lamp's energy over a span: metered when it has at least two counter readings, else estimated.

    The readings should bracket the span of ``segments``; the service picks them.
    """
    if len(readings) >= 2:
        # Twice the lamp's full draw: room for meter error and a day-burner, yet a counter
        # falling from 500 to 0.2 kWh is never read as a wrap through 99 999 kWh.
        ceiling_w = 2.0 * (curve.rated_w + curve.standby_w)
        counted = energy_from_counter(readings, rollover_kwh=rollover_kwh, max_power_w=ceiling_w)
        return EnergyFigure.metered(counted.kwh)
    return EnergyFigure.estimated(estimate_energy_kwh(curve, segments))
