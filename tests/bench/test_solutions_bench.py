"""The solutions benchmark: its clock, its verdict and its station data by hand, and a small run end to end."""

from __future__ import annotations

import io
import itertools
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from conftest import POSTGRES_ADMIN_URL, _postgres_available, need_service
from urbis.bench.solutions import (
    POLLUTANTS,
    AcceleratedClock,
    CityPlan,
    default_start,
    keeps_up,
    run_solutions_bench,
    station_readings,
)
from urbis.core.settings import Settings
from urbis.sim.lighting import BurnCalendar
from urbis.sim.world import CityConfig

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_the_clock_stands_at_the_start_until_anchored_then_runs_at_the_speed() -> None:
    wall = [1000.0]
    clock = AcceleratedClock(START, 10.0, wall=lambda: wall[0])
    assert clock.now() == START
    clock.anchor(1000.5)
    assert clock.now() == START  # the anchor lies half a second ahead: time has not started yet
    wall[0] = 1003.5
    assert clock.now() == START + timedelta(seconds=30)  # 3 wall seconds × 10
    wall[0] = 1360.5
    assert clock.now() == START + timedelta(hours=1)  # 6 wall minutes: one simulated hour


def test_keeping_up_means_no_failure_no_run_over_budget_and_a_lag_within_two_intervals() -> None:
    # Budget 3 wall seconds (30 s at 10x), interval 30 simulated seconds: lag at most 60.
    assert keeps_up([0.5, 2.9, 3.0], [10.0, 60.0], 3.0, 30.0, 0)
    assert not keeps_up([0.5, 3.1], [10.0], 3.0, 30.0, 0)  # one run over its budget
    assert not keeps_up([0.5], [10.0, 60.5], 3.0, 30.0, 0)  # fell more than two intervals behind
    assert not keeps_up([0.5], [10.0], 3.0, 30.0, 1)  # a run failed
    assert not keeps_up([], [], 3.0, 30.0, 0)  # never ran
    assert not keeps_up([0.5], [], 3.0, 30.0, 0)  # no lag ever seen: nothing to judge


def test_the_live_run_starts_half_an_hour_before_dusk_and_ends_an_hour_before_now() -> None:
    calendar = BurnCalendar(CityConfig().dimming)
    now = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    start = default_start(now, 61)
    dusk = start + timedelta(minutes=30)
    # Dark from dusk on, not a second before: the lamps switch on half an hour into the run.
    assert calendar.level_at((dusk - timedelta(seconds=1)).timestamp()) == 0
    assert calendar.level_at((dusk + timedelta(seconds=1)).timestamp()) > 0
    assert start + timedelta(minutes=61) <= now - timedelta(hours=1)
    assert now - start < timedelta(days=1)  # today's dusk, the latest that fits
    # Just after today's dusk there is no room for the run: yesterday's dusk, a day earlier (± DST minutes).
    early = default_start(dusk + timedelta(minutes=5), 61)
    assert timedelta(hours=23, minutes=50) < start - early < timedelta(hours=24, minutes=10)


def test_station_readings_are_hourly_means_of_four_pollutants_at_the_middle_of_each_hour() -> None:
    end = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    readings = station_readings(16, 26, end)
    assert len({r.entity_id for r in readings}) == 16
    for reading in readings:
        assert len(reading.measures) == 26 * 4
        assert {m.attribute for m in reading.measures} == set(POLLUTANTS)
        instants = sorted({m.observed_us for m in reading.measures})
        # 26 half-hours: 10:30 two days ... 11:30 on the day, an hour apart.
        assert len(instants) == 26
        assert instants[0] == int(datetime(2026, 11, 23, 10, 30, tzinfo=UTC).timestamp() * 1_000_000)
        assert instants[-1] == int(datetime(2026, 11, 24, 11, 30, tzinfo=UTC).timestamp() * 1_000_000)
        assert all(b - a == 3_600_000_000 for a, b in itertools.pairwise(instants))
        assert all(0 < m.value < 500 for m in reading.measures)
    # Station 0 (one in fifteen) is the polluted one: PM2.5 well above the others'.
    pm25 = [statistics.mean(m.value for m in r.measures if m.attribute == "pm25") for r in readings]
    assert pm25[0] > max(pm25[1:15])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_small_run_measures_the_solutions_the_feed_and_the_stations(backend: str) -> None:
    if backend == "postgresql":
        need_service(_postgres_available())
    output = io.StringIO()
    plan = CityPlan(
        config=CityConfig(lights=100, stations=5, bays=100, garages=1),
        speed=10.0,
        minutes=1.5,
        backfill_hours=2.0,
    )
    solutions, feeds, stations = run_solutions_bench(
        backends=[backend],
        postgres_admin_url=POSTGRES_ADMIN_URL,
        plan=plan,
        stations=30,
        runs=2,
        console=Console(file=output, width=200),
    )
    budget = Settings().solutions_interval_seconds / 10.0
    assert [s.name for s in solutions] == ["lighting", "parking", "air-quality"]
    for s in solutions:
        assert s.backend == backend and s.runs >= 1 and s.failures == 0
        assert 0 < s.duration_p50 <= s.duration_p95 <= s.duration_max
        assert s.budget == pytest.approx(budget) and s.interval == pytest.approx(budget * 10.0)
        assert 0 <= s.lag_p50 <= s.lag_max and s.warmup > 0
        assert 0 <= s.over_budget <= s.runs
    (feed,) = feeds
    assert feed.backfill_measures > 0 and feed.backfill_per_s > 0
    # Every measure the city made in the live run was accepted, none refused or lost.
    assert feed.live_measures > 0 and feed.live_stored == feed.live_measures
    assert feed.rejected == 0 and feed.failed == 0 and feed.stored_per_s > 0
    (aq,) = stations
    assert (aq.stations, aq.rows, aq.indices, aq.runs) == (30, 30 * 26 * 4, 30, 2)
    assert aq.first_run > 0 and aq.evaluate > 0 and aq.evaluate_raw > 0 and aq.baseline > 0
    text = output.getvalue()
    for expected in ("lighting", "parking", "air-quality", "city needs", "AirQualityService.evaluate", backend):
        assert expected in text
