"""Clocks: the system clock tells aware UTC, the fixed clock stands still until moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from urbis.core.clock import Clock, FixedClock, SystemClock

MOMENT = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


def test_system_clock_is_aware_utc_and_current() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_fixed_clock_stands_still() -> None:
    clock = FixedClock(MOMENT)
    assert clock.now() == MOMENT
    assert clock.now() == MOMENT


def test_fixed_clock_converts_to_utc() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    clock = FixedClock(datetime(2026, 11, 24, 8, 0, tzinfo=berlin_winter))
    assert clock.now() == MOMENT
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.now().hour == 7


def test_fixed_clock_advances() -> None:
    clock = FixedClock(MOMENT)
    clock.advance(minutes=90)
    assert clock.now() == MOMENT + timedelta(minutes=90)
    clock.advance(days=1, seconds=30)
    assert clock.now() == MOMENT + timedelta(days=1, minutes=90, seconds=30)
    assert clock.now().tzinfo is not None


def test_clocks_satisfy_the_protocol() -> None:
    def read(clock: Clock) -> datetime:
        return clock.now()

    assert read(FixedClock(MOMENT)) == MOMENT
    assert read(SystemClock()).tzinfo is not None
