"""Time as a dependency: services ask a clock, tests hand them a fixed one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current UTC time."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved (for tests and simulations)."""

    def __init__(self, moment: datetime):
        self.moment = moment.astimezone(UTC)

    def now(self) -> datetime:
        """The fixed time."""
        return self.moment

    def advance(self, **delta: float) -> None:
        """Move the clock forward by a ``timedelta(**delta)``."""
        from datetime import timedelta

        self.moment += timedelta(**delta)
