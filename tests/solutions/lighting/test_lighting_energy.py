"""Energy: the dimming curve, counters, estimates, the baseline, savings and roll-ups, worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urbis.solutions.lighting.const import EnergyBasis
from urbis.solutions.lighting.energy import (
    CounterReading,
    DimmingCurve,
    EnergyFigure,
    baseline_energy_kwh,
    clip_counter,
    energy_from_counter,
    energy_savings,
    estimate_energy_kwh,
    expected_power_w,
    lamp_energy,
    roll_up_energy,
)
from urbis.solutions.lighting.schedule import (
    Calendar,
    ControlProgram,
    ControlSetup,
    FixedTimeStep,
    LevelSegment,
    Site,
    level_segments,
)

WARSAW = ZoneInfo("Europe/Warsaw")
WARSAW_SITE = Site(52.2297, 21.0122, "Europe/Warsaw")
T0 = datetime(2026, 1, 15, 12, tzinfo=UTC)

# A 60 W LED luminaire whose driver dims no lower than 20 %, with a controller drawing 0.5 W.
CURVE = DimmingCurve(rated_w=60.0, driver_minimum=20.0, standby_w=0.5)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


@pytest.mark.parametrize(
    ("level", "watts"),
    [
        (100.0, 60.5),  # 0.5 + 60 × 1.00
        (50.0, 30.5),  # 0.5 + 60 × 0.50
        (20.0, 12.5),  # 0.5 + 60 × 0.20, at the driver minimum
        (10.0, 12.5),  # below the minimum: driven at 20 % → same as above
        (0.0, 0.5),  # off: the controller's standby only
    ],
)
def test_expected_power_follows_the_dimming_curve(level: float, watts: float) -> None:
    assert expected_power_w(CURVE, level) == pytest.approx(watts)


def test_a_60_w_lamp_at_50_percent_for_10_hours() -> None:
    # (0.5 W standby + 60 W × 0.5) × 10 h = 30.5 W × 10 h = 305 Wh = 0.305 kWh
    segment = LevelSegment(T0, T0 + hours(10), 50.0)
    assert estimate_energy_kwh(CURVE, [segment]) == pytest.approx(0.305)


def test_a_dimmed_night_and_its_savings_against_the_baseline() -> None:
    # A 24-hour day: 2 h at 100 %, 4 h at 50 %, 4 h at 10 % (driven at 20 %), 14 h off.
    #   2 × 60.5 + 4 × 30.5 + 4 × 12.5 + 14 × 0.5 = 121 + 122 + 50 + 7 = 300 Wh = 0.300 kWh
    # Baseline: the same 10 h lit at full rated power, no controller: 10 × 60 = 600 Wh = 0.600 kWh.
    # Saved 0.300 kWh = 50 %; at 0.30 EUR/kWh → 0.09 EUR; at 0.4 kg CO2/kWh → 0.12 kg.
    cuts = [T0, T0 + hours(2), T0 + hours(6), T0 + hours(10), T0 + hours(24)]
    levels = [100.0, 50.0, 10.0, 0.0]
    segments = [LevelSegment(a, b, level) for a, b, level in zip(cuts, cuts[1:], levels, strict=False)]
    actual = EnergyFigure.estimated(estimate_energy_kwh(CURVE, segments))
    assert actual.kwh == pytest.approx(0.300)
    savings = energy_savings(actual, 0.600, tariff_per_kwh=Decimal("0.30"), grid_kg_co2_per_kwh=0.4)
    assert savings.saved_kwh == pytest.approx(0.300)
    assert savings.saved_share == pytest.approx(0.5)
    assert savings.saved_money == Decimal("0.09")
    assert savings.saved_co2_kg == pytest.approx(0.12)
    assert savings.basis is EnergyBasis.ESTIMATED
    assert savings.currency == "EUR"


def test_money_rounds_half_up_to_the_cent_and_losses_show_as_negative_savings() -> None:
    # 0.125 kWh × 0.30 = 0.0375 → 0.04
    assert energy_savings(
        EnergyFigure.metered(0.375), 0.5, tariff_per_kwh=Decimal("0.30"), grid_kg_co2_per_kwh=0.4
    ).saved_money == Decimal("0.04")
    # A day-burner used 0.8 kWh against a 0.6 kWh baseline: −0.2 kWh, −0.06 EUR, −0.08 kg.
    worse = energy_savings(EnergyFigure.metered(0.8), 0.6, tariff_per_kwh=Decimal("0.30"), grid_kg_co2_per_kwh=0.4)
    assert worse.saved_kwh == pytest.approx(-0.2)
    assert worse.saved_money == Decimal("-0.06")
    assert worse.saved_co2_kg == pytest.approx(-0.08)
    assert worse.basis is EnergyBasis.METERED


def test_baseline_runs_at_full_rated_power_from_sunset_to_sunrise() -> None:
    # Warsaw, night of 2013-06-21 (published table, bokeh sample data from sunrisesunset.com):
    # sunset 21:01 CEST, next sunrise 04:15 CEST → 7 h 14 min = 7.2333 h; 100 W → 0.7233 kWh.
    # Two minutes of slack at each end: ± 4 min × 100 W = ± 0.0067 kWh.
    start = datetime(2013, 6, 21, 12, tzinfo=WARSAW)
    baseline = baseline_energy_kwh(100.0, WARSAW_SITE, start, start + timedelta(days=1))
    assert baseline == pytest.approx(7.2333 * 0.1, abs=0.0067)
    # Winter, 2013-12-21: sunset 15:25 CET, next sunrise 07:43 CET → 16 h 18 min = 16.3 h → 1.63 kWh.
    winter = datetime(2013, 12, 21, 12, tzinfo=WARSAW)
    assert baseline_energy_kwh(100.0, WARSAW_SITE, winter, winter + timedelta(days=1)) == pytest.approx(
        1.63, abs=0.0067
    )
    # Only the part of the night inside the window counts: 22:00 to 23:00 CET is one dark hour.
    one_hour = datetime(2013, 12, 21, 22, tzinfo=WARSAW)
    assert baseline_energy_kwh(100.0, WARSAW_SITE, one_hour, one_hour + timedelta(hours=1)) == pytest.approx(0.1)


def test_estimate_over_a_real_schedule() -> None:
    # Warsaw, night of 2013-12-21, a program at a constant 50 %: 16.3 h × (60 W × 0.5) = 0.489 kWh,
    # plus 0.5 W standby over the whole 24 h = 0.012 kWh → 0.501 kWh (± 4 min × 30 W = ± 0.002 kWh).
    setup = ControlSetup(WARSAW_SITE, Calendar("c", "half"), (ControlProgram("half", level=50.0),))
    start = datetime(2013, 12, 21, 12, tzinfo=WARSAW)
    segments = level_segments(setup, start, start + timedelta(days=1))
    assert [s.level for s in segments] == [0.0, 50.0, 0.0]
    assert estimate_energy_kwh(CURVE, segments) == pytest.approx(0.501, abs=0.002)


def test_counter_rollover_is_bridged() -> None:
    # A counter that wraps at 100 000 kWh, read hourly:
    #   99 998.0 → 99 999.5: +1.5;  99 999.5 → 0.7 (wrapped): 100 000 − 99 999.5 + 0.7 = +1.2;  0.7 → 2.0: +1.3
    #   total 4.0 kWh, one rollover.
    values = [99_998.0, 99_999.5, 0.7, 2.0]
    readings = [CounterReading(T0 + hours(i), v) for i, v in enumerate(values)]
    counted = energy_from_counter(reversed(readings), rollover_kwh=100_000.0, max_power_w=2000.0)
    assert counted.kwh == pytest.approx(4.0)
    assert (counted.rollovers, counted.resets) == (1, 0)
    assert (counted.start, counted.end) == (T0, T0 + hours(3))


def test_counter_reset_is_not_mistaken_for_a_rollover() -> None:
    # 500.0 → 501.0: +1.0; 501.0 → 0.3: a new controller started from zero, +0.3; 0.3 → 0.8: +0.5 → 1.8 kWh.
    # Read as a wrap it would be 100 000 − 501 + 0.3 = 99 499.3 kWh in one hour: impossible for 200 W.
    readings = [CounterReading(T0 + hours(i), v) for i, v in enumerate([500.0, 501.0, 0.3, 0.8])]
    counted = energy_from_counter(readings, rollover_kwh=100_000.0, max_power_w=200.0)
    assert counted.kwh == pytest.approx(1.8)
    assert (counted.rollovers, counted.resets) == (0, 1)
    # Without a known rollover value every fall is a reset.
    assert energy_from_counter(readings).kwh == pytest.approx(1.8)
    assert energy_from_counter([]).kwh == 0.0


def test_lamp_energy_is_metered_with_readings_and_estimated_without() -> None:
    segment = LevelSegment(T0, T0 + hours(10), 50.0)
    metered = lamp_energy(CURVE, [segment], [CounterReading(T0, 10.0), CounterReading(T0 + hours(10), 10.31)])
    assert (metered.kwh, metered.basis) == (pytest.approx(0.31), EnergyBasis.METERED)
    estimated = lamp_energy(CURVE, [segment])
    assert (estimated.kwh, estimated.basis) == (pytest.approx(0.305), EnergyBasis.ESTIMATED)


def test_roll_up_keeps_metered_and_estimated_apart_up_to_the_city() -> None:
    # lamp-1 (metered 1.0) and lamp-2 (estimated 2.0) in group-1; lamp-3 (metered 0.5) in group-2;
    # both groups on cabinet-1.  lamp-4 (estimated 1.0) in group-3 on cabinet-2, whose own meter
    # reads 1.2 kWh and stands for everything behind it.  Both cabinets in district-1, in the city.
    leaves = {
        "lamp-1": EnergyFigure.metered(1.0),
        "lamp-2": EnergyFigure.estimated(2.0),
        "lamp-3": EnergyFigure.metered(0.5),
        "lamp-4": EnergyFigure.estimated(1.0),
    }
    parent_of = {
        "lamp-1": "group-1",
        "lamp-2": "group-1",
        "lamp-3": "group-2",
        "lamp-4": "group-3",
        "group-1": "cabinet-1",
        "group-2": "cabinet-1",
        "group-3": "cabinet-2",
        "cabinet-1": "district-1",
        "cabinet-2": "district-1",
        "district-1": "city",
    }
    totals = roll_up_energy(leaves, parent_of, own_meters={"cabinet-2": EnergyFigure.metered(1.2)})
    expected = {
        "group-1": (3.0, EnergyBasis.MIXED),  # 1.0 metered + 2.0 estimated
        "group-2": (0.5, EnergyBasis.METERED),
        "group-3": (1.0, EnergyBasis.ESTIMATED),
        "cabinet-1": (3.5, EnergyBasis.MIXED),
        "cabinet-2": (1.2, EnergyBasis.METERED),  # its meter, not lamp-4's estimate
        "district-1": (4.7, EnergyBasis.MIXED),  # 3.5 + 1.2
        "city": (4.7, EnergyBasis.MIXED),
    }
    for node, (kwh, basis) in expected.items():
        assert totals[node].kwh == pytest.approx(kwh), node
        assert totals[node].basis is basis, node
    # Of the city's 4.7 kWh, 1.0 + 0.5 + 1.2 = 2.7 kWh were metered.
    assert totals["city"].metered_kwh == pytest.approx(2.7)
    assert totals["city"].metered_share == pytest.approx(2.7 / 4.7)
    assert EnergyFigure().basis is EnergyBasis.NONE


def test_roll_up_refuses_a_cycle() -> None:
    with pytest.raises(ValueError, match="cycle"):
        roll_up_energy({"a": EnergyFigure.metered(1.0)}, {"a": "b", "b": "a"})


@settings(max_examples=40, deadline=None)
@given(
    levels=st.lists(st.sampled_from([0.0, 10.0, 20.0, 35.0, 50.0, 100.0]), min_size=1, max_size=6),
    minutes=st.lists(st.integers(min_value=1, max_value=600), min_size=6, max_size=6),
)
def test_estimated_energy_is_additive_and_never_below_standby(levels: list[float], minutes: list[int]) -> None:
    cursor = T0
    segments = []
    for level, length in zip(levels, minutes, strict=False):
        segments.append(LevelSegment(cursor, cursor + timedelta(minutes=length), level))
        cursor += timedelta(minutes=length)
    total = estimate_energy_kwh(CURVE, segments)
    assert total == pytest.approx(sum(estimate_energy_kwh(CURVE, [s]) for s in segments))
    span_h = (cursor - T0).total_seconds() / 3600
    assert CURVE.standby_w * span_h / 1000 - 1e-12 <= total <= (CURVE.standby_w + CURVE.rated_w) * span_h / 1000 + 1e-12


def test_dimming_saves_against_the_baseline_over_a_real_night() -> None:
    # Midnight dimming (50 % from 22:00 to 05:00 local) must use less than the undimmed baseline.
    program = ControlProgram("dim", steps=(FixedTimeStep(time(22), 50.0), FixedTimeStep(time(5), 100.0)))
    setup = ControlSetup(WARSAW_SITE, Calendar("c", "dim"), (program,))
    start = datetime(2013, 12, 21, 12, tzinfo=WARSAW)
    end = start + timedelta(days=1)
    no_standby = DimmingCurve(rated_w=60.0)
    actual = estimate_energy_kwh(no_standby, level_segments(setup, start, end))
    baseline = baseline_energy_kwh(60.0, WARSAW_SITE, start, end)
    # 7 h at half power saves 7 × 30 W = 0.21 kWh exactly (the switching instants are the same).
    assert baseline - actual == pytest.approx(0.21)


def test_a_counter_is_interpolated_at_the_window_edges_from_the_readings_either_side() -> None:
    # Readings at 19:50 (100.0), 20:10 (100.2), 20:50 (100.6), 21:10 (100.8) around 20:00-21:00:
    # at 20:00, halfway from 100.0 to 100.2 → 100.1; at 21:00, halfway from 100.6 to 100.8 → 100.7.
    def at(hour: int, minute: int) -> datetime:
        return datetime(2026, 1, 15, hour, minute, tzinfo=UTC)

    readings = [
        CounterReading(at(21, 10), 100.8),
        CounterReading(at(19, 50), 100.0),
        CounterReading(at(20, 10), 100.2),
        CounterReading(at(20, 50), 100.6),
    ]
    clipped = clip_counter(readings, at(20, 0), at(21, 0))
    assert [r.at for r in clipped] == [at(20, 0), at(20, 10), at(20, 50), at(21, 0)]
    assert [r.kwh for r in clipped] == pytest.approx([100.1, 100.2, 100.6, 100.7])
    assert energy_from_counter(clipped).kwh == pytest.approx(0.6)

    # Nothing before the window: it starts at the first reading inside; a reset across an edge
    # is not interpolated through.
    later = [r for r in readings if r.at > at(20, 0)]
    assert [r.at for r in clip_counter(later, at(20, 0), at(21, 0))] == [at(20, 10), at(20, 50), at(21, 0)]
    reset = [CounterReading(at(19, 50), 500.0), CounterReading(at(20, 10), 0.1), CounterReading(at(20, 50), 0.5)]
    assert [r.kwh for r in clip_counter(reset, at(20, 0), at(21, 0))] == [0.1, 0.5]
    # No reading inside: both edges come from the two readings around the window
    # (0.4 kWh over 19:50-20:30 → 10.1 at 20:00, 10.3 at 20:20: 0.2 kWh).
    around = [CounterReading(at(19, 50), 10.0), CounterReading(at(20, 30), 10.4)]
    clipped = clip_counter(around, at(20, 0), at(20, 20))
    assert [r.kwh for r in clipped] == pytest.approx([10.1, 10.3])
    assert energy_from_counter(clipped).kwh == pytest.approx(0.2)
