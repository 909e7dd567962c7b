"""Street lighting: the burn schedule, power draw by dim level, and energy counters.

Pure rules, time as a parameter (UTC epoch seconds), no clock reads:

- :class:`BurnCalendar` — on at dusk, off at dawn (astral, for Bonn), dimmed to a lower
  level over a local-time window (23:00–05:00 Europe/Berlin by default, DST aware).  It also
  integrates the level over time (``burn_integral``), so a lamp's energy counter is a closed
  form instead of a sum over every simulated minute.
- :func:`lamp_power` — metered power for a lamp at a level: standby draw of the controller
  plus the LED's nominal power times the level (linear above the driver's minimum,
  domain reference §2.2), with a per-reading tolerance.
- :class:`LampEnergy` — a lamp's cumulative energy under its fault intervals (failed lamp:
  standby only; day-burner: full power around the clock; cabinet without supply: nothing).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from astral import Depression, LocationInfo
from astral.sun import dawn, dusk, sunrise, sunset

from urbis.sim.geography import CENTRE_LAT, CENTRE_LON

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0
DAY = 86_400.0

LampMode = Literal["normal", "lamp-failure", "day-burner", "no-supply"]
#: When two faults overlap, the stronger one decides what the lamp draws.
MODE_PRECEDENCE: dict[str, int] = {"normal": 0, "day-burner": 1, "lamp-failure": 2, "no-supply": 3}


@dataclass(frozen=True)
class DimmingProfile:
    """When lamps burn and how bright (levels are fractions of full output, 0–1)."""

    depression: float = 6.0  # sun this far below the horizon: 6° is civil dusk/dawn
    full_level: float = 1.0
    dim_level: float = 0.5
    dim_from: time = time(23, 0)  # local time
    dim_to: time = time(5, 0)  # local time, next morning
    timezone: str = "Europe/Berlin"
    latitude: float = CENTRE_LAT
    longitude: float = CENTRE_LON


@dataclass(frozen=True)
class Segment:
    """A stretch of the night at one level (epoch seconds, start inclusive, end exclusive)."""

    start: float
    end: float
    level: float


class BurnCalendar:
    """The city's lighting schedule and its running integral, computed night by night.

    Night ``D`` (a local date) runs from dusk on ``D`` to dawn on ``D + 1``.  Nights are
    computed on demand for a contiguous run of dates and kept as flat, sorted segment arrays
    with prefix sums, so the level at an instant and the integral up to it are one binary
    search each.  The integral's origin is arbitrary (only differences are used).
    """

    def __init__(self, profile: DimmingProfile | None = None):
        self.profile = profile or DimmingProfile()
        self._tz = ZoneInfo(self.profile.timezone)
        self._observer = LocationInfo(
            "Bonn", "Germany", self.profile.timezone, self.profile.latitude, self.profile.longitude
        ).observer
        self._nights: dict[date, list[Segment]] = {}
        self._first: date | None = None
        self._last: date | None = None
        self._cover = (math.inf, -math.inf)  # instants whose neighbouring nights are all known
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._levels: list[float] = []
        self._before: list[float] = []  # integral up to each segment's start

    # -- the schedule ---------------------------------------------------------------------

    def night(self, day: date) -> list[Segment]:
        """The lit segments of the night that starts on local date ``day``."""
        cached = self._nights.get(day)
        if cached is not None:
            return cached
        profile = self.profile
        depression = Depression(profile.depression) if profile.depression in (6, 12, 18) else profile.depression
        try:
            on = dusk(self._observer, day, tzinfo=self._tz, depression=depression).timestamp()
            off = dawn(self._observer, day + timedelta(days=1), tzinfo=self._tz, depression=depression).timestamp()
        except ValueError:  # the sun never gets that low (a deep depression near midsummer)
            on = sunset(self._observer, day, tzinfo=self._tz).timestamp()
            off = sunrise(self._observer, day + timedelta(days=1), tzinfo=self._tz).timestamp()
        dim_start = datetime.combine(day, profile.dim_from, self._tz).timestamp()
        dim_day = day + timedelta(days=1) if profile.dim_to <= profile.dim_from else day
        dim_end = datetime.combine(dim_day, profile.dim_to, self._tz).timestamp()
        segments: list[Segment] = []
        cuts = sorted({on, off, *(t for t in (dim_start, dim_end) if on < t < off)})
        for start, end in itertools.pairwise(cuts):
            dimmed = dim_start <= start < dim_end
            level = profile.dim_level if dimmed else profile.full_level
            if segments and segments[-1].level == level:
                segments[-1] = Segment(segments[-1].start, end, level)
            else:
                segments.append(Segment(start, end, level))
        self._nights[day] = segments
        return segments

    @property
    def timezone(self) -> ZoneInfo:
        """The local time zone of the schedule."""
        return self._tz

    def local_date(self, t: float) -> date:
        """The local (Europe/Berlin) calendar date at ``t``."""
        return datetime.fromtimestamp(t, self._tz).date()

    def _ensure(self, t: float) -> None:
        """Make sure the nights around ``t`` (the one before and the one of its date) are known."""
        if self._cover[0] <= t < self._cover[1]:
            return
        today = self.local_date(t)
        first = today - timedelta(days=1)
        last = today
        if self._first is not None and self._last is not None:
            first = min(first, self._first)
            last = max(last, self._last)
        self._first, self._last = first, last
        starts: list[float] = []
        ends: list[float] = []
        levels: list[float] = []
        day = first
        while day <= last:
            for segment in self.night(day):
                starts.append(segment.start)
                ends.append(segment.end)
                levels.append(segment.level)
            day += timedelta(days=1)
        before: list[float] = []
        total = 0.0
        for start, end, level in zip(starts, ends, levels, strict=True):
            before.append(total)
            total += (end - start) * level
        # Keep the origin where it was so integrals taken earlier stay comparable.
        shift = 0.0
        if self._starts and starts:
            old_first = self._starts[0]
            j = bisect.bisect_left(starts, old_first)
            shift = self._before[0] - before[j] if j < len(before) else 0.0
        self._starts, self._ends, self._levels = starts, ends, levels
        self._before = [value + shift for value in before]
        # An instant on local date D needs nights D-1 and D: covered for dates first+1 .. last.
        self._cover = (
            datetime.combine(first + timedelta(days=1), time(0), self._tz).timestamp(),
            datetime.combine(last + timedelta(days=1), time(0), self._tz).timestamp(),
        )

    def level_at(self, t: float) -> float:
        """The commanded level at ``t``: 0 by day, the full or dimmed level by night."""
        self._ensure(t)
        j = bisect.bisect_right(self._starts, t) - 1
        if j >= 0 and t < self._ends[j]:
            return self._levels[j]
        return 0.0

    def changes(self, start: float, end: float) -> list[float]:
        """Instants in ``[start, end)`` at which the level changes (switch on, dim, undim, off)."""
        first, last = self.local_date(start) - timedelta(days=1), self.local_date(end)
        out: set[float] = set()
        day = first
        while day <= last:
            for segment in self.night(day):
                out.update(t for t in (segment.start, segment.end) if start <= t < end)
            day += timedelta(days=1)
        return sorted(out)

    # -- the integral -------------------------------------------------------------------

    def burn_integral(self, t: float) -> float:
        """∫ level dt from a fixed (arbitrary) origin to ``t``, in level-seconds."""
        self._ensure(t)
        j = bisect.bisect_right(self._starts, t) - 1
        if j < 0:
            return self._before[0] if self._before else 0.0
        return self._before[j] + (min(t, self._ends[j]) - self._starts[j]) * self._levels[j]

    def burn_between(self, start: float, end: float) -> float:
        """∫ level dt over ``[start, end]`` in level-seconds (full-output-equivalent seconds)."""
        return self.burn_integral(end) - self.burn_integral(start)


# -- one lamp ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LampSpec:
    """The electrical facts of one lamp and its controller."""

    nominal_w: float  # LED luminaire at 100 %
    standby_w: float  # controller and driver with the lamp off
    meter_factor: float = 1.0  # the controller's metering error (calibration), e.g. 1.01
    switch_offset: float = 0.0  # seconds this controller switches after (or before, < 0) the schedule
    tolerance: float = 0.02  # relative spread of one power reading around the true value


def lamp_power(spec: LampSpec, level: float, mode: LampMode = "normal", noise: float = 0.0) -> float:
    """Metered power (W) at a commanded ``level``; ``noise`` is a standard normal draw.

    The load part is linear in the level (the driver's curve above its minimum), the
    standby draw is always there while the controller has supply.
    """
    if mode == "no-supply":
        return 0.0
    if mode == "day-burner":
        load = spec.nominal_w
    elif mode == "lamp-failure":
        load = 0.0
    else:
        load = spec.nominal_w * level
    true_w = (spec.standby_w + load) * spec.meter_factor
    return max(0.0, true_w * (1.0 + spec.tolerance * noise))


@dataclass
class LampEnergy:
    """A lamp's cumulative energy counter (kWh), exact under the schedule and its fault intervals.

    ``faults`` is a list of ``(start, end, mode)`` intervals (epoch seconds).  The counter keeps
    a checkpoint so each reading integrates only from the checkpoint onwards; ``checkpoint``
    may only move forward, and readings must not be asked for before it.
    """

    spec: LampSpec
    calendar: BurnCalendar
    start: float
    initial_kwh: float = 0.0
    _checkpoint: float = field(init=False)
    _checkpoint_kwh: float = field(init=False)

    def __post_init__(self) -> None:
        self._checkpoint = self.start
        self._checkpoint_kwh = self.initial_kwh

    def energy_at(self, t: float, faults: Sequence[tuple[float, float, str]] = ()) -> float:
        """The counter (kWh) at ``t`` (not before the checkpoint)."""
        return self._checkpoint_kwh + self._joules(self._checkpoint, max(t, self._checkpoint), faults) / 3.6e6

    def checkpoint(self, t: float, faults: Sequence[tuple[float, float, str]] = ()) -> None:
        """Move the checkpoint forward to ``t`` (older fault intervals are then never needed)."""
        if t > self._checkpoint:
            self._checkpoint_kwh = self.energy_at(t, faults)
            self._checkpoint = t

    def _joules(self, a: float, b: float, faults: Sequence[tuple[float, float, str]]) -> float:
        return lamp_joules(self.spec, self.calendar, a, b, faults) * self.spec.meter_factor


def lamp_joules(
    spec: LampSpec, calendar: BurnCalendar, a: float, b: float, faults: Sequence[tuple[float, float, str]] = ()
) -> float:
    """True energy (J) a lamp draws over ``[a, b]`` under its fault intervals ``(start, end, mode)``.

    The span is cut at every fault boundary; on each piece the strongest fault in force
    decides the draw (no supply > failed lamp > day-burner > normal).
    """
    if b <= a:
        return 0.0
    relevant = [(s, e, m) for s, e, m in faults if s < b and e > a]
    if not relevant:
        return _segment_joules(spec, calendar, a, b, "normal")
    cuts = {a, b}
    for s, e, _mode in relevant:
        cuts.update(x for x in (s, e) if a < x < b)
    points = sorted(cuts)
    total = 0.0
    for lo, hi in itertools.pairwise(points):
        mode = "normal"
        for s, e, m in relevant:
            if s <= lo < e and MODE_PRECEDENCE[m] > MODE_PRECEDENCE[mode]:
                mode = m
        total += _segment_joules(spec, calendar, lo, hi, mode)
    return total


def _segment_joules(spec: LampSpec, calendar: BurnCalendar, a: float, b: float, mode: str) -> float:
    span = b - a
    if mode == "no-supply":
        return 0.0
    if mode == "day-burner":
        return (spec.standby_w + spec.nominal_w) * span
    if mode == "lamp-failure":
        return spec.standby_w * span
    shift = spec.switch_offset
    return spec.standby_w * span + spec.nominal_w * calendar.burn_between(a - shift, b - shift)


def level_for(calendar: BurnCalendar, spec: LampSpec, t: float) -> float:
    """The level one lamp is at, its controller switching ``spec.switch_offset`` late."""
    return calendar.level_at(t - spec.switch_offset)


def dim_percent(level: float) -> int:
    """A level as the controller reports it: an integer percentage."""
    return round(level * 100)


def yearly_burn_hours(calendar: BurnCalendar, year: int) -> float:
    """Hours the lamps are on (any level) over a calendar year: about 4,100 at mid-latitudes."""
    first = date(year, 1, 1)
    total = 0.0
    day = first - timedelta(days=1)
    start = datetime(year, 1, 1, tzinfo=calendar.timezone).timestamp()
    end = datetime(year + 1, 1, 1, tzinfo=calendar.timezone).timestamp()
    while day < date(year + 1, 1, 1):
        for segment in calendar.night(day):
            total += max(0.0, min(segment.end, end) - max(segment.start, start))
        day += timedelta(days=1)
    return total / HOUR
