"""Local-time bands: the rate periods of pricing and the hours a parking restriction is in force.

A band is a span of local wall-clock time on a set of weekdays (Monday 0).  Instants come in
as timezone-aware UTC and are converted to the city's zone only to find the band; nothing
here reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo

WEEKDAYS: frozenset[int] = frozenset({0, 1, 2, 3, 4})
WEEKEND: frozenset[int] = frozenset({5, 6})


def require_aware(moment: datetime, name: str = "instant") -> None:
    """Refuse a naive datetime: every instant in the parking model carries its zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")


@dataclass(frozen=True)
class TimeBand:
    """A span of local time ``[start, end)`` on some weekdays, e.g. weekdays 09:00–12:00."""

    name: str
    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        # Bands that wrap past midnight would need two local dates; none of the rules need them.
        if not self.start < self.end:
            raise ValueError(f"time band {self.name!r}: start {self.start} must be before end {self.end}")
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError(f"time band {self.name!r}: days must be a non-empty subset of 0..6 (Monday 0)")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError(f"time band {self.name!r}: start and end are local wall-clock times without a zone")

    def contains(self, moment: datetime, tz: tzinfo) -> bool:
        """Whether ``moment`` falls inside the band in the local zone ``tz``."""
        require_aware(moment)
        local = moment.astimezone(tz)
        return local.weekday() in self.days and self.start <= local.time().replace(tzinfo=None) < self.end

    def window_start(self, moment: datetime, tz: tzinfo) -> datetime:
        """The UTC instant the band opened on ``moment``'s local date (whether or not it contains it)."""
        require_aware(moment)
        local = moment.astimezone(tz)
        return datetime.combine(local.date(), self.start, tzinfo=tz).astimezone(UTC)


def band_at(moment: datetime, bands: Iterable[TimeBand], tz: tzinfo) -> TimeBand | None:
    """The first band containing ``moment`` in zone ``tz``, or None outside every band."""
    for band in bands:
        if band.contains(moment, tz):
            return band
    return None
