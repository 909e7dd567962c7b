"""Occupancy of bays, zones, garages and districts, now and averaged over time.

The rate is taken over the spaces whose state is known: bays reporting ``unknown`` and bays
``closed`` are counted and reported but left out of the rate, so a dead sensor neither fills
nor empties a street.  Garage counters can report more cars than spaces (cars in unofficial
spaces, counter drift); such counts are clamped to the capacity and flagged, and the excess
is kept for the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from urbis.solutions.parking.const import SpotStatus
from urbis.solutions.parking.timebands import require_aware


def parse_status(value: object) -> SpotStatus:
    """The status for a raw attribute value; anything unrecognised (or missing) is ``unknown``."""
    if isinstance(value, SpotStatus):
        return value
    if isinstance(value, str):
        try:
            return SpotStatus(value.strip().lower())
        except ValueError:
            return SpotStatus.UNKNOWN
    return SpotStatus.UNKNOWN


@dataclass(frozen=True, slots=True)
class Occupancy:
    """Space counts of a bay, zone, garage or district.

    ``capacity = occupied + free + closed + unknown``.  ``clamped`` counts the garages whose
    counts were out of range and ``excess`` the vehicles reported beyond capacity.
    """

    capacity: int
    occupied: int
    free: int
    closed: int = 0
    unknown: int = 0
    clamped: int = 0
    excess: int = 0

    def __post_init__(self) -> None:
        parts = (self.occupied, self.free, self.closed, self.unknown, self.clamped, self.excess)
        if min(parts) < 0:
            raise ValueError(f"occupancy counts must not be negative: {self}")
        if self.capacity != self.occupied + self.free + self.closed + self.unknown:
            raise ValueError(f"capacity must equal occupied + free + closed + unknown: {self}")

    @property
    def known(self) -> int:
        """Spaces whose state is known (occupied or free): the denominator of the rate."""
        return self.occupied + self.free

    @property
    def rate(self) -> float | None:
        """Occupied share of the known spaces, or None when no space is known."""
        return self.occupied / self.known if self.known else None

    @property
    def is_clamped(self) -> bool:
        """Whether any counts behind this figure were out of range and clamped."""
        return self.clamped > 0

    def __add__(self, other: Occupancy) -> Occupancy:
        return Occupancy(
            self.capacity + other.capacity,
            self.occupied + other.occupied,
            self.free + other.free,
            self.closed + other.closed,
            self.unknown + other.unknown,
            self.clamped + other.clamped,
            self.excess + other.excess,
        )


EMPTY = Occupancy(0, 0, 0)


def bay_occupancy(status: SpotStatus) -> Occupancy:
    """One bay as an occupancy of capacity 1."""
    return Occupancy(
        capacity=1,
        occupied=int(status is SpotStatus.OCCUPIED),
        free=int(status is SpotStatus.FREE),
        closed=int(status is SpotStatus.CLOSED),
        unknown=int(status is SpotStatus.UNKNOWN),
    )


def zone_occupancy(statuses: Iterable[SpotStatus]) -> Occupancy:
    """A zone's occupancy from its bays' statuses."""
    return aggregate_occupancy(bay_occupancy(status) for status in statuses)


def garage_occupancy(capacity: int, *, occupied: int | None = None, available: int | None = None) -> Occupancy:
    """A garage's occupancy from its counters.

    The occupied count is used when present (it counts cars); otherwise ``capacity −
    available``.  Counts above capacity or below zero are clamped into ``[0, capacity]`` and
    flagged.  Without either count the whole capacity is ``unknown``.
    """
    if capacity <= 0:
        raise ValueError(f"a garage needs a positive capacity, got {capacity}")
    if occupied is None and available is None:
        return Occupancy(capacity, 0, 0, unknown=capacity)
    reported = occupied if occupied is not None else capacity - (available or 0)
    taken = min(max(reported, 0), capacity)
    return Occupancy(
        capacity,
        taken,
        capacity - taken,
        clamped=int(taken != reported),
        excess=max(0, reported - capacity),
    )


def aggregate_occupancy(parts: Iterable[Occupancy]) -> Occupancy:
    """The sum of several occupancies: a zone of bays, a district of zones and garages.

    The rate of the sum weights every known space equally, so a 500-space garage counts for
    more than a 10-bay street — the share of spaces taken, not the mean of the shares.
    """
    total = EMPTY
    for part in parts:
        total = total + part
    return total


# -- time-weighted occupancy -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A bay's status from ``at`` on (a sensor event)."""

    at: datetime
    status: SpotStatus


@dataclass(frozen=True, slots=True)
class TimeWeightedOccupancy:
    """Seconds spent in each state over an interval, for one bay or summed over several."""

    occupied_seconds: float
    free_seconds: float
    closed_seconds: float = 0.0
    unknown_seconds: float = 0.0

    @property
    def total_seconds(self) -> float:
        """The length of the interval times the number of bays."""
        return self.occupied_seconds + self.free_seconds + self.closed_seconds + self.unknown_seconds

    @property
    def rate(self) -> float | None:
        """Occupied share of the known (occupied or free) time, or None with no known time."""
        known = self.occupied_seconds + self.free_seconds
        return self.occupied_seconds / known if known > 0 else None

    @property
    def coverage(self) -> float | None:
        """Share of the time whose state was known (occupied or free)."""
        total = self.total_seconds
        return (self.occupied_seconds + self.free_seconds) / total if total > 0 else None

    def __add__(self, other: TimeWeightedOccupancy) -> TimeWeightedOccupancy:
        return TimeWeightedOccupancy(
            self.occupied_seconds + other.occupied_seconds,
            self.free_seconds + other.free_seconds,
            self.closed_seconds + other.closed_seconds,
            self.unknown_seconds + other.unknown_seconds,
        )


def time_weighted_occupancy(
    changes: Iterable[StatusChange],
    start: datetime,
    end: datetime,
    *,
    status_at_start: SpotStatus = SpotStatus.UNKNOWN,
    max_silence: timedelta | None = None,
) -> TimeWeightedOccupancy:
    """How long one bay spent in each state during ``[start, end)``.

    ``changes`` may be unsorted and may begin before ``start``: the last change at or before
    ``start`` sets the state at the start, else ``status_at_start`` does.  With
    ``max_silence``, a state older than that without a new event counts as ``unknown`` (a
    sensor that stopped reporting), which keeps dead sensors out of the rate.
    """
    require_aware(start, "start")
    require_aware(end, "end")
    if end < start:
        raise ValueError("end must not be before start")
    ordered = sorted(changes, key=lambda change: change.at)
    for change in ordered:
        require_aware(change.at, "status change")
    seconds = dict.fromkeys(SpotStatus, 0.0)
    status, since = status_at_start, None  # since: when the current state was last reported
    cursor = start
    for change in ordered:
        if change.at <= start:
            status, since = change.status, change.at
            continue
        if change.at >= end:
            break
        _credit(seconds, status, since, cursor, change.at, max_silence)
        status, since, cursor = change.status, change.at, change.at
    _credit(seconds, status, since, cursor, end, max_silence)
    return TimeWeightedOccupancy(
        seconds[SpotStatus.OCCUPIED], seconds[SpotStatus.FREE], seconds[SpotStatus.CLOSED], seconds[SpotStatus.UNKNOWN]
    )


def _credit(
    seconds: dict[SpotStatus, float],
    status: SpotStatus,
    since: datetime | None,
    begin: datetime,
    end: datetime,
    max_silence: timedelta | None,
) -> None:
    """Add ``[begin, end)`` to ``status``, or to unknown past ``since + max_silence``."""
    if max_silence is not None and since is not None:
        stale_from = max(begin, min(end, since + max_silence))
        seconds[status] += (stale_from - begin).total_seconds()
        seconds[SpotStatus.UNKNOWN] += (end - stale_from).total_seconds()
    else:
        seconds[status] += (end - begin).total_seconds()


def zone_time_weighted_occupancy(
    bays: Sequence[Iterable[StatusChange]],
    start: datetime,
    end: datetime,
    *,
    max_silence: timedelta | None = None,
) -> TimeWeightedOccupancy:
    """The time-weighted occupancy of several bays (each bay's changes), summed."""
    total = TimeWeightedOccupancy(0.0, 0.0)
    for changes in bays:
        total = total + time_weighted_occupancy(changes, start, end, max_silence=max_silence)
    return total


def step_means(steps: Iterable[tuple[datetime, float | None]], edges: Sequence[datetime]) -> list[float | None]:
    """The time-weighted mean of a step function over each period ``[edges[i], edges[i + 1])``.

    Each step holds its value from its instant until the next step (the last one to the end);
    ``None`` is unknown time (a closed or silent bay, the time before the first value), left
    out of the mean.  A period without known time is ``None``.  One pass over the steps and
    the periods, so a month of 15-minute periods over thousands of changes stays cheap.
    """
    for edge in edges:
        require_aware(edge, "period edge")
    if any(later <= earlier for earlier, later in pairwise(edges)):
        raise ValueError("period edges must increase")
    ordered = sorted(steps, key=lambda step: step[0])
    out: list[float | None] = []
    if len(edges) < 2:
        return out
    index, count = 0, len(ordered)
    value: float | None = None
    while index < count and ordered[index][0] <= edges[0]:
        value = ordered[index][1]
        index += 1
    for start, end in pairwise(edges):
        weighted = known = 0.0
        cursor = start
        while index < count and ordered[index][0] < end:
            at, following = ordered[index]
            if value is not None:
                span = (at - cursor).total_seconds()
                weighted += value * span
                known += span
            value, cursor = following, at
            index += 1
        if value is not None:
            span = (end - cursor).total_seconds()
            weighted += value * span
            known += span
        out.append(weighted / known if known > 0 else None)
    return out
