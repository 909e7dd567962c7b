"""Parking: bays as alternating renewal processes, garages following daily curves."""

from __future__ import annotations

import itertools
import statistics
from datetime import datetime

import pytest

from urbis.sim.lighting import BERLIN
from urbis.sim.parking import (
    GARAGE_STEP,
    ZONE_RULES,
    BayProcess,
    GarageProcess,
    arrival_shape,
    garage_target,
)

MONDAY = datetime(2026, 11, 23, tzinfo=BERLIN).timestamp()
H = 3600.0


def occupancy_by_hour(kind: str, bays: int = 150, days: int = 7) -> list[list[float]]:
    """Share of occupied bays at the half hour, per day and hour."""
    processes = [BayProcess(11, f"bay-{i}", kind, MONDAY) for i in range(bays)]  # type: ignore[arg-type]
    table = []
    for day in range(days):
        row = []
        for hour in range(24):
            t = MONDAY + day * 86_400 + hour * H + 1800
            for process in processes:
                process.advance(t)
            row.append(sum(p.occupied for p in processes) / bays)
        table.append(row)
    return table


def test_centre_zones_saturate_at_weekday_peak_and_empty_at_night() -> None:
    table = occupancy_by_hour("short-stay")
    weekday_peak = statistics.mean(table[d][h] for d in range(5) for h in range(11, 17))
    night = statistics.mean(table[d][h] for d in range(5) for h in (2, 3, 4))
    sunday = statistics.mean(table[6][h] for h in range(11, 17))
    assert weekday_peak > 0.85
    assert night < 0.5
    assert sunday < weekday_peak


def test_residents_park_at_night() -> None:
    table = occupancy_by_hour("residents")
    night = statistics.mean(table[d][h] for d in range(7) for h in (22, 23, 0, 1))
    midday = statistics.mean(table[d][h] for d in range(5) for h in (9, 10, 11))
    assert night > midday + 0.15


def test_a_bay_alternates_and_respects_the_time_limit_with_a_small_overstay_tail() -> None:
    limit = ZONE_RULES["short-stay"].max_stay_minutes
    assert limit == 120
    stays, overstays = [], 0
    for i in range(60):
        process = BayProcess(3, f"bay-{i}", "short-stay", MONDAY)
        events = process.advance(MONDAY + 7 * 86_400)
        states = [occupied for _, occupied in events]
        assert all(a != b for a, b in itertools.pairwise(states))  # strictly alternating
        times = [t for t, _ in events]
        assert times == sorted(times) and all(MONDAY <= t < MONDAY + 7 * 86_400 for t in times)
        for (arrive, occupied), (leave, _) in itertools.pairwise(events):
            if occupied:
                minutes = (leave - arrive) / 60
                stays.append(minutes)
                overstays += minutes > limit
    assert len(stays) > 1000
    assert min(stays) >= 1.0
    assert 0 < overstays / len(stays) < 0.1  # the tail exists and stays small
    assert statistics.median(stays) < limit


def test_bays_do_not_depend_on_how_time_is_cut() -> None:
    whole = BayProcess(5, "bay-x", "medium-stay", MONDAY)
    events = whole.advance(MONDAY + 2 * 86_400)
    pieces = BayProcess(5, "bay-x", "medium-stay", MONDAY)
    stepped = []
    for k in range(1, 2 * 24 * 60 + 1):
        stepped += pieces.advance(MONDAY + k * 60)
    assert stepped == events
    assert BayProcess(6, "bay-x", "medium-stay", MONDAY).advance(MONDAY + 2 * 86_400) != events


def test_arrival_shapes_are_shares_of_the_peak() -> None:
    for kind in ("short-stay", "medium-stay", "residents"):
        for weekday in range(7):
            for hour in range(24):
                assert 0 < arrival_shape(kind, hour + 0.5, weekday) <= 1  # type: ignore[arg-type]


def test_garage_counters_add_up_and_grow() -> None:
    garage = GarageProcess(7, "garage-1", "shopping", 500, MONDAY)
    counts = garage.advance(MONDAY + 7 * 86_400)
    assert len(counts) == 7 * 86_400 / GARAGE_STEP
    assert [t for t, _ in counts] == [MONDAY + k * GARAGE_STEP for k in range(len(counts))]
    for (_, before), (_, after) in itertools.pairwise(counts):
        assert after.entries >= before.entries and after.exits >= before.exits
        assert after.occupied - before.occupied == (after.entries - before.entries) - (after.exits - before.exits)
    for _, count in counts:
        assert count.occupied + count.free == 500 and 0 <= count.occupied <= 500


def test_shopping_garages_peak_after_midday_and_on_saturdays() -> None:
    garage = GarageProcess(7, "garage-2", "shopping", 600, MONDAY)
    counts = garage.advance(MONDAY + 7 * 86_400)
    by_day_hour: dict[tuple[int, int], list[int]] = {}
    for t, count in counts:
        moment = datetime.fromtimestamp(t, BERLIN)
        by_day_hour.setdefault((moment.weekday(), moment.hour), []).append(count.occupied)
    peak_hour = max(range(24), key=lambda h: statistics.mean(by_day_hour[(2, h)]))
    assert 11 <= peak_hour <= 15
    saturday = max(statistics.mean(by_day_hour[(5, h)]) for h in range(24))
    sunday = max(statistics.mean(by_day_hour[(6, h)]) for h in range(24))
    wednesday = max(statistics.mean(by_day_hour[(2, h)]) for h in range(24))
    assert saturday > wednesday > sunday
    assert saturday > 0.85 * 600


def test_commuter_garages_are_flat_topped_on_weekdays() -> None:
    assert garage_target("commuter", 10.0, 1) == pytest.approx(garage_target("commuter", 14.0, 1), abs=0.02)
    assert garage_target("commuter", 10.0, 6) < 0.3
    assert garage_target("shopping", 13.5, 5) == pytest.approx((0.97 + 0.95) / 2)


def test_over_capacity_quirk_is_off_by_default_and_can_be_switched_on() -> None:
    tight = [GarageProcess(1, f"g-{i}", "commuter", 60, MONDAY) for i in range(10)]
    loose = [GarageProcess(1, f"g-{i}", "commuter", 60, MONDAY, allow_over_capacity=True) for i in range(10)]
    worst_tight = max(c.occupied for g in tight for _, c in g.advance(MONDAY + 5 * 86_400))
    worst_loose = max(c.occupied for g in loose for _, c in g.advance(MONDAY + 5 * 86_400))
    assert worst_tight <= 60
    assert worst_loose > 60
