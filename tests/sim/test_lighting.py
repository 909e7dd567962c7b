"""Street lighting: dusk/dawn for Bonn, the dimming window in local time, power and energy."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from urbis.sim.lighting import (
    BERLIN,
    BurnCalendar,
    DimmingProfile,
    LampEnergy,
    LampSpec,
    dim_percent,
    lamp_joules,
    lamp_power,
    level_for,
    yearly_burn_hours,
)

H = 3600.0


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).timestamp()


def clock(t: float) -> time:
    return datetime.fromtimestamp(t, BERLIN).time()


@pytest.fixture(scope="module")
def calendar() -> BurnCalendar:
    return BurnCalendar()


def test_winter_night_in_bonn(calendar: BurnCalendar) -> None:
    # Bonn, 24 November: sunset about 16:33, civil dusk about 17:12; civil dawn next day about 07:23.
    night = calendar.night(date(2026, 11, 24))
    assert [segment.level for segment in night] == [1.0, 0.5, 1.0]
    assert time(17, 5) <= clock(night[0].start) <= time(17, 20)
    assert clock(night[0].end) == time(23, 0) and clock(night[1].end) == time(5, 0)
    assert time(7, 15) <= clock(night[2].end) <= time(7, 30)
    assert calendar.level_at(local(2026, 11, 24, 12)) == 0.0
    assert calendar.level_at(local(2026, 11, 24, 20)) == 1.0
    assert calendar.level_at(local(2026, 11, 25, 2)) == 0.5
    assert calendar.level_at(local(2026, 11, 25, 6)) == 1.0
    assert calendar.level_at(local(2026, 11, 25, 9)) == 0.0


def test_midsummer_night_ends_before_the_dim_window_does(calendar: BurnCalendar) -> None:
    # 21 June: civil dusk about 22:35, civil dawn about 04:30 — before 05:00, so no second full stretch.
    night = calendar.night(date(2026, 6, 21))
    assert [segment.level for segment in night] == [1.0, 0.5]
    assert time(22, 25) <= clock(night[0].start) <= time(22, 45)
    assert time(4, 20) <= clock(night[-1].end) <= time(4, 45)


def test_dimming_follows_local_time_across_daylight_saving(calendar: BurnCalendar) -> None:
    # 29 March 2026 clocks go forward: 23:00 is 22:00 UTC the night before and 21:00 UTC after.
    before = calendar.night(date(2026, 3, 28))
    after = calendar.night(date(2026, 3, 29))
    assert datetime.fromtimestamp(before[0].end, BERLIN).utcoffset() == timedelta(hours=1)
    assert datetime.fromtimestamp(after[0].end, BERLIN).utcoffset() == timedelta(hours=2)
    assert clock(before[0].end) == clock(after[0].end) == time(23, 0)
    assert after[0].end - before[0].end == pytest.approx(23 * H)


def test_changes_are_the_segment_boundaries(calendar: BurnCalendar) -> None:
    start, end = local(2026, 11, 24, 12), local(2026, 11, 25, 12)
    changes = calendar.changes(start, end)
    night = calendar.night(date(2026, 11, 24))
    assert changes == [night[0].start, night[1].start, night[2].start, night[2].end]


def test_burn_integral_adds_up_the_night(calendar: BurnCalendar) -> None:
    night = calendar.night(date(2026, 11, 24))
    by_hand = sum((s.end - s.start) * s.level for s in night)
    noon, next_noon = local(2026, 11, 24, 12), local(2026, 11, 25, 12)
    assert calendar.burn_between(noon, next_noon) == pytest.approx(by_hand)
    # Six dimmed hours (23:00–05:00) count half.
    assert calendar.burn_between(local(2026, 11, 24, 23), local(2026, 11, 25, 5)) == pytest.approx(3 * H)
    # Over several days the integral is the sum of the nights, whatever the order of the questions.
    later = BurnCalendar()
    assert later.burn_between(local(2026, 11, 30), local(2026, 12, 1)) > 0
    week = later.burn_between(local(2026, 11, 20, 12), local(2026, 11, 27, 12))
    nights = sum((s.end - s.start) * s.level for d in range(20, 27) for s in later.night(date(2026, 11, d)))
    assert week == pytest.approx(nights)


def test_a_year_burns_about_four_thousand_hours(calendar: BurnCalendar) -> None:
    # Domain reference §5.3: about 4,100 h a year at mid-latitudes from sunset to sunrise; civil
    # dusk to dawn is a little shorter.
    assert 3_600 < yearly_burn_hours(calendar, 2026) < 4_300


def test_custom_profile_changes_levels_and_window() -> None:
    profile = DimmingProfile(dim_level=0.3, dim_from=time(22, 0), dim_to=time(6, 0))
    night = BurnCalendar(profile).night(date(2026, 11, 24))
    assert [s.level for s in night] == [1.0, 0.3, 1.0]
    assert clock(night[1].start) == time(22, 0) and clock(night[1].end) == time(6, 0)


def test_lamp_power_by_level_and_mode() -> None:
    spec = LampSpec(nominal_w=60.0, standby_w=1.0)
    assert lamp_power(spec, 1.0) == 61.0
    assert lamp_power(spec, 0.5) == 31.0
    assert lamp_power(spec, 0.0) == 1.0  # the controller's standby draw
    assert lamp_power(spec, 0.5, "lamp-failure") == 1.0
    assert lamp_power(spec, 0.0, "day-burner") == 61.0
    assert lamp_power(spec, 1.0, "no-supply") == 0.0
    # A reading spreads by the tolerance (2 %) around the truth.
    assert lamp_power(spec, 1.0, noise=1.0) == pytest.approx(61.0 * 1.02)
    assert lamp_power(LampSpec(60.0, 1.0, meter_factor=1.01), 1.0) == pytest.approx(61.61)


def test_controller_switch_offset_shifts_the_lamp(calendar: BurnCalendar) -> None:
    dusk = calendar.night(date(2026, 11, 24))[0].start
    late = LampSpec(60.0, 1.0, switch_offset=60.0)
    assert level_for(calendar, late, dusk + 30) == 0.0
    assert level_for(calendar, late, dusk + 61) == 1.0
    assert dim_percent(0.5) == 50 and dim_percent(1.0) == 100


def test_energy_counter_over_a_day_worked_out_by_hand(calendar: BurnCalendar) -> None:
    spec = LampSpec(nominal_w=100.0, standby_w=1.0)
    noon = local(2026, 11, 24, 12)
    counter = LampEnergy(spec, calendar, noon, initial_kwh=500.0)
    night = calendar.night(date(2026, 11, 24))
    full = sum(s.end - s.start for s in night if s.level == 1.0)
    dimmed = sum(s.end - s.start for s in night if s.level == 0.5)
    expected = 500.0 + (1.0 * 24 * H + 100.0 * (full + 0.5 * dimmed)) / 3.6e6
    assert counter.energy_at(noon + 24 * H) == pytest.approx(expected)
    # The six dimmed hours use 100 W x 0.5 x 6 h = 0.3 kWh, plus 6 Wh of standby.
    assert counter.energy_at(local(2026, 11, 25, 5)) - counter.energy_at(local(2026, 11, 24, 23)) == pytest.approx(
        0.306
    )


def test_energy_under_faults(calendar: BurnCalendar) -> None:
    spec = LampSpec(nominal_w=100.0, standby_w=1.0)
    evening = local(2026, 11, 24, 19)  # lit at full power from dusk to 23:00
    # A failed lamp for two hours of full light: 2 h x 100 W = 0.2 kWh less, standby stays.
    healthy = lamp_joules(spec, calendar, evening, evening + 2 * H)
    failed = lamp_joules(spec, calendar, evening, evening + 2 * H, [(evening, evening + 2 * H, "lamp-failure")])
    assert (healthy - failed) / 3.6e6 == pytest.approx(0.2)
    # A day-burner for three daylight hours: 3 h x 100 W = 0.3 kWh more.
    noon = local(2026, 11, 24, 11)
    burning = lamp_joules(spec, calendar, noon, noon + 3 * H, [(noon, noon + 3 * H, "day-burner")])
    assert (burning - lamp_joules(spec, calendar, noon, noon + 3 * H)) / 3.6e6 == pytest.approx(0.3)
    # No supply: nothing at all, not even standby; and it beats a failed lamp when both hold.
    both = [(evening, evening + H, "no-supply"), (evening, evening + 2 * H, "lamp-failure")]
    assert lamp_joules(spec, calendar, evening, evening + 2 * H, both) == pytest.approx(1.0 * H)
    # The counter with a checkpoint gives the same as without.
    counter = LampEnergy(spec, calendar, evening)
    faults = [(evening + H, evening + 3 * H, "lamp-failure")]
    direct = counter.energy_at(evening + 4 * H, faults)
    counter.checkpoint(evening + 2 * H, faults)
    assert counter.energy_at(evening + 4 * H, faults) == pytest.approx(direct)
    assert counter.energy_at(evening, faults) == pytest.approx(counter.energy_at(evening + 2 * H, faults))
