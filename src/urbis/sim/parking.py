"""Parking: on-street bays as alternating renewal processes, and garage entry/exit counters.

Time is a parameter (epoch seconds UTC); local hours and weekdays are Europe/Berlin.

Bays (domain reference §3.1, §5.2 — Melbourne-style per-bay events): a bay alternates
between free and occupied.  Arrivals come as a Poisson process whose rate depends on the
zone, the hour and the weekday (drawn by thinning); a stay is log-normal, truncated at the
zone's maximum stay, with a small tail of overstays.  At peak the centre's arrival rate is
high enough that its bays are almost always taken.

Garages (§5.2 — Birmingham/Bath-style counts): each garage follows a target occupancy
curve for its kind (shopping peaks around 13:00 and on Saturdays, commuter car parks are
flat-topped on weekdays), reached through entries and exits drawn every five minutes.
Counters of entries and exits only grow.  The occasional "more cars than spaces" quirk of
real counts is off by default.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from urbis.sim.lighting import BERLIN
from urbis.sim.noise import rng_for, smooth

ZoneKind = Literal["short-stay", "medium-stay", "residents"]
GarageKind = Literal["shopping", "commuter", "office", "mixed"]
HOUR = 3600.0


@dataclass(frozen=True)
class ZoneRules:
    """How a zone is used: peak arrival rate per bay, stay lengths and the time limit."""

    peak_arrivals_per_hour: float
    median_stay_minutes: float
    stay_sigma: float
    max_stay_minutes: float | None  # None: no limit (residents)
    overstay_probability: float = 0.08


ZONE_RULES: dict[ZoneKind, ZoneRules] = {
    # Central short-stay zones: ~75 min stays, a car every few minutes at peak → saturated.
    "short-stay": ZoneRules(
        peak_arrivals_per_hour=14.0, median_stay_minutes=60.0, stay_sigma=0.6, max_stay_minutes=120.0
    ),
    "medium-stay": ZoneRules(
        peak_arrivals_per_hour=3.0, median_stay_minutes=90.0, stay_sigma=0.7, max_stay_minutes=180.0
    ),
    # Residents: long overnight stays, arrivals in the evening.
    "residents": ZoneRules(
        peak_arrivals_per_hour=0.6, median_stay_minutes=600.0, stay_sigma=0.8, max_stay_minutes=None
    ),
}


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


def arrival_shape(kind: ZoneKind, hour: float, weekday: int) -> float:
    """Arrival rate relative to the zone's peak (0–1) at a local hour and weekday (Monday 0)."""
    if kind == "residents":
        evening = _bump(hour, 18.5, 2.2)
        daytime = 0.25 * _bump(hour, 12.0, 4.0)
        return min(1.0, 0.05 + evening + daytime)
    # Paid zones: shops and offices open; Sundays quiet (shops shut in Germany).
    day_factor = 1.0 if weekday < 5 else (1.05 if weekday == 5 else 0.15)
    daytime = _bump(hour, 11.0, 2.5) + 0.9 * _bump(hour, 15.0, 2.5)
    evening = 0.35 * _bump(hour, 19.5, 1.5)
    shape = 0.03 + day_factor * min(1.0, daytime + evening)
    return min(1.0, shape)


def local_hour_weekday(t: float) -> tuple[float, int]:
    """Local (Europe/Berlin) hour as a float and weekday (Monday 0)."""
    moment = datetime.fromtimestamp(t, BERLIN)
    return moment.hour + moment.minute / 60 + moment.second / 3600, moment.weekday()


@dataclass
class BayProcess:
    """One bay's occupancy over time: a sequence of (instant, occupied) changes, drawn lazily.

    The stream of random numbers belongs to the bay (seeded by ``(seed, bay)``) and the
    process is drawn forward from ``start``, so the same seed and start give the same events
    whichever windows they are asked in.
    """

    seed: int
    bay_id: str
    kind: ZoneKind
    start: float
    occupied: bool = field(init=False)
    _rng: random.Random = field(init=False, repr=False)
    _next_change: float = field(init=False)

    def __post_init__(self) -> None:
        self._rng = rng_for(self.seed, "bay", self.bay_id)
        rules = ZONE_RULES[self.kind]
        hour, weekday = local_hour_weekday(self.start)
        rate = rules.peak_arrivals_per_hour * arrival_shape(self.kind, hour, weekday)
        mean_stay = rules.median_stay_minutes / 60 * math.exp(rules.stay_sigma**2 / 2)
        # Start near the steady state of the moment: occupied with probability λS / (1 + λS).
        busy = rate * mean_stay / (1.0 + rate * mean_stay)
        if self.kind == "residents":
            busy = max(busy, 0.55 if hour < 7 or hour > 20 else 0.35)
        self.occupied = self._rng.random() < busy
        if self.occupied:
            self._next_change = self.start + self._rng.uniform(0.0, 1.0) * self._stay()
        else:
            self._next_change = self._arrival(self.start)

    @property
    def next_change(self) -> float:
        """The instant of the bay's next change."""
        return self._next_change

    def advance(self, until: float) -> list[tuple[float, bool]]:
        """The changes up to (excluding) ``until``, as ``(instant, occupied after)``, in order."""
        out: list[tuple[float, bool]] = []
        while self._next_change < until:
            t = self._next_change
            self.occupied = not self.occupied
            out.append((t, self.occupied))
            self._next_change = t + self._stay() if self.occupied else self._arrival(t)
        return out

    def _stay(self) -> float:
        rules = ZONE_RULES[self.kind]
        minutes = rules.median_stay_minutes * math.exp(rules.stay_sigma * self._rng.gauss(0.0, 1.0))
        limit = rules.max_stay_minutes
        if limit is not None and minutes > limit:
            if self._rng.random() < rules.overstay_probability:
                minutes = limit + self._rng.expovariate(1.0 / 20.0)  # overstays, ~20 min over
            else:
                minutes = limit * self._rng.uniform(0.8, 1.0)  # leaving before the ticket runs out
        return max(60.0, minutes * 60.0)

    def _arrival(self, after: float) -> float:
        """The next arrival after ``after``, by thinning a Poisson process at the peak rate."""
        rules = ZONE_RULES[self.kind]
        peak = rules.peak_arrivals_per_hour / HOUR
        t = after
        while True:
            t += self._rng.expovariate(peak)
            hour, weekday = local_hour_weekday(t)
            if self._rng.random() < arrival_shape(self.kind, hour, weekday):
                return t


# -- garages ----------------------------------------------------------------------------

#: Target occupancy (share of capacity) at each local hour 0..23: weekday, Saturday, Sunday.
_GARAGE_CURVES: dict[GarageKind, tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]] = {
    "shopping": (
        (0.04, 0.03, 0.03, 0.03, 0.03, 0.03, 0.04, 0.08, 0.2, 0.38, 0.55, 0.68, 0.78, 0.82, 0.8, 0.74, 0.66, 0.56, 0.44, 0.3, 0.18, 0.1, 0.07, 0.05),
        (0.04, 0.03, 0.03, 0.03, 0.03, 0.03, 0.04, 0.06, 0.18, 0.42, 0.68, 0.86, 0.95, 0.97, 0.95, 0.9, 0.8, 0.65, 0.45, 0.28, 0.15, 0.09, 0.06, 0.05),
        (0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.04, 0.05, 0.07, 0.1, 0.14, 0.18, 0.2, 0.2, 0.19, 0.17, 0.15, 0.12, 0.09, 0.07, 0.05, 0.04, 0.03),
    ),
    "commuter": (
        (0.05, 0.05, 0.05, 0.05, 0.05, 0.07, 0.2, 0.55, 0.85, 0.92, 0.93, 0.93, 0.92, 0.92, 0.92, 0.9, 0.82, 0.6, 0.35, 0.2, 0.12, 0.08, 0.06, 0.05),
        (0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.07, 0.12, 0.2, 0.26, 0.3, 0.32, 0.32, 0.3, 0.28, 0.25, 0.22, 0.18, 0.14, 0.1, 0.08, 0.06, 0.05, 0.05),
        (0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.07, 0.1, 0.13, 0.15, 0.16, 0.16, 0.16, 0.15, 0.14, 0.13, 0.12, 0.1, 0.08, 0.07, 0.06, 0.05, 0.05),
    ),
    "office": (
        (0.03, 0.03, 0.03, 0.03, 0.03, 0.04, 0.1, 0.35, 0.7, 0.85, 0.88, 0.86, 0.8, 0.84, 0.85, 0.8, 0.65, 0.42, 0.22, 0.12, 0.07, 0.05, 0.04, 0.03),
        (0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.04, 0.06, 0.1, 0.14, 0.16, 0.17, 0.17, 0.16, 0.15, 0.13, 0.11, 0.09, 0.07, 0.05, 0.04, 0.04, 0.03, 0.03),
        (0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.08, 0.08, 0.07, 0.07, 0.06, 0.05, 0.05, 0.04, 0.04, 0.03, 0.03, 0.03),
    ),
    "mixed": (
        (0.12, 0.1, 0.08, 0.08, 0.08, 0.1, 0.2, 0.4, 0.6, 0.7, 0.72, 0.72, 0.7, 0.7, 0.7, 0.68, 0.62, 0.58, 0.6, 0.62, 0.55, 0.4, 0.25, 0.16),
        (0.14, 0.12, 0.1, 0.1, 0.1, 0.1, 0.12, 0.18, 0.3, 0.45, 0.55, 0.6, 0.62, 0.62, 0.6, 0.58, 0.56, 0.58, 0.65, 0.7, 0.66, 0.5, 0.32, 0.2),
        (0.14, 0.12, 0.1, 0.1, 0.1, 0.1, 0.1, 0.12, 0.18, 0.26, 0.34, 0.4, 0.44, 0.45, 0.44, 0.42, 0.4, 0.42, 0.48, 0.52, 0.46, 0.34, 0.22, 0.16),
    ),
}  # fmt: skip

#: Minutes between a garage's counts.
GARAGE_STEP = 300.0


def garage_target(kind: GarageKind, hour: float, weekday: int) -> float:
    """Target occupancy share at a local hour (linear between the hourly values) and weekday."""
    curves = _GARAGE_CURVES[kind]
    curve = curves[0] if weekday < 5 else curves[1] if weekday == 5 else curves[2]
    low = int(hour) % 24
    frac = hour - int(hour)
    return curve[low] * (1 - frac) + curve[(low + 1) % 24] * frac


@dataclass(frozen=True)
class GarageCount:
    """One garage report: the counter values a ``garage-counter`` sends."""

    occupied: int
    free: int
    entries: int
    exits: int

    def as_measures(self) -> dict[str, int]:
        """The device keys of a ``garage-counter``."""
        return {"occupied": self.occupied, "free": self.free, "entries": self.entries, "exits": self.exits}


@dataclass
class GarageProcess:
    """A garage's counts, stepped every five minutes from ``start`` (steps aligned to the clock)."""

    seed: int
    garage_id: str
    kind: GarageKind
    capacity: int
    start: float
    allow_over_capacity: bool = False
    occupied: int = field(init=False)
    entries: int = field(init=False, default=0)
    exits: int = field(init=False, default=0)
    _rng: random.Random = field(init=False, repr=False)
    _next_step: float = field(init=False)

    def __post_init__(self) -> None:
        self._rng = rng_for(self.seed, "garage", self.garage_id)
        self._next_step = math.ceil(self.start / GARAGE_STEP) * GARAGE_STEP
        self.occupied = round(self.capacity * self._target(self.start))
        self.entries = self._rng.randint(10_000, 500_000)  # counters installed long ago
        self.exits = self.entries - self.occupied

    @property
    def next_step(self) -> float:
        """The instant of the next count."""
        return self._next_step

    def _target(self, t: float) -> float:
        hour, weekday = local_hour_weekday(t)
        # Busy and quiet days: the same for the whole day, different from garage to garage.
        day_factor = 1.0 + 0.08 * smooth(self.seed, f"garage-day-{self.garage_id}", t, 86_400.0)
        return min(1.0, garage_target(self.kind, hour, weekday) * day_factor)

    def count(self) -> GarageCount:
        """The counters now."""
        return GarageCount(max(0, self.occupied), max(0, self.capacity - self.occupied), self.entries, self.exits)

    def advance(self, until: float) -> list[tuple[float, GarageCount]]:
        """The counts at every step before ``until``, as ``(instant, count)``."""
        out: list[tuple[float, GarageCount]] = []
        while self._next_step < until:
            t = self._next_step
            target = self.capacity * self._target(t)
            turnover = self.capacity * 0.012 * min(1.0, 0.2 + self._target(t))
            gap = target - self.occupied
            arriving = _poisson(self._rng, max(0.0, 0.3 * gap) + turnover)
            leaving = _poisson(self._rng, max(0.0, -0.3 * gap) + turnover * self.occupied / max(1, self.capacity))
            leaving = min(leaving, self.occupied + arriving)
            room = self.capacity - self.occupied + leaving
            if self.allow_over_capacity:
                room += int(self.capacity * 0.04)  # cars squeezed into unofficial spaces
            arriving = max(0, min(arriving, room))
            self.entries += arriving
            self.exits += leaving
            self.occupied += arriving - leaving
            out.append((t, self.count()))
            self._next_step = t + GARAGE_STEP
        return out


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
