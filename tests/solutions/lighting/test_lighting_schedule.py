"""Control programs: astro clock against a published almanac, DST steps, calendars, overrides, presence."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urbis.solutions.lighting.const import DecisionReason, SunEvent
from urbis.solutions.lighting.schedule import (
    AstroClockPeriod,
    AstroTimeStep,
    Calendar,
    CalendarRule,
    ControlProgram,
    ControlSetup,
    FixedTimeStep,
    OverrideCommand,
    PresenceBoost,
    Site,
    astro_period_interval,
    decide_level,
    illuminance_from_level,
    level_changes,
    level_from_illuminance,
    level_segments,
    lighting_date,
    local_instant,
    plan_night,
    sun_event,
)

BERLIN = ZoneInfo("Europe/Berlin")
WARSAW = ZoneInfo("Europe/Warsaw")
BERLIN_SITE = Site(52.52, 13.405, "Europe/Berlin")
WARSAW_SITE = Site(52.2297, 21.0122, "Europe/Warsaw")
TROMSO_SITE = Site(69.6492, 18.9553, "Europe/Oslo")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def single(program: ControlProgram, site: Site = BERLIN_SITE) -> ControlSetup:
    return ControlSetup(site, Calendar("cal", program.program_id), (program,))


MIDNIGHT_DIMMING = ControlProgram(
    "midnight-dimming",
    steps=(FixedTimeStep(time(22, 0), 70.0), FixedTimeStep(time(0, 0), 50.0), FixedTimeStep(time(5, 0), 100.0)),
)

# -- the sun against a published table --------------------------------------------------------

# Sunrise and sunset for Warsaw in 2013, local clock time, from the table Bokeh ships as sample
# data (bokeh.sampledata.daylight.daylight_warsaw_2013, "sourced from http://www.sunrisesunset.com";
# package bokeh-sampledata, BSD-3).  Rows picked: new year, solstices, and both sides of each DST
# change (2013-03-31 and 2013-10-27), so the local-time conversion is checked as well.
WARSAW_2013 = [
    (date(2013, 1, 1), time(7, 45), time(15, 34)),
    (date(2013, 3, 30), time(5, 16), time(18, 5)),  # last day of CET
    (date(2013, 3, 31), time(6, 13), time(19, 7)),  # first day of CEST
    (date(2013, 6, 21), time(4, 14), time(21, 1)),
    (date(2013, 10, 26), time(7, 20), time(17, 20)),  # last day of CEST
    (date(2013, 10, 27), time(6, 22), time(16, 18)),  # first day of CET again
    (date(2013, 12, 21), time(7, 43), time(15, 25)),
]


@pytest.mark.parametrize(("day", "rise", "set_"), WARSAW_2013)
def test_sunrise_and_sunset_match_the_published_warsaw_table_within_two_minutes(
    day: date, rise: time, set_: time
) -> None:
    published_rise = local_instant(day, rise, WARSAW)
    published_set = local_instant(day, set_, WARSAW)
    computed_rise = sun_event(WARSAW_SITE, day, SunEvent.SUNRISE)
    computed_set = sun_event(WARSAW_SITE, day, SunEvent.SUNSET)
    assert computed_rise is not None and computed_set is not None
    assert abs(computed_rise - published_rise) <= timedelta(minutes=2)
    assert abs(computed_set - published_set) <= timedelta(minutes=2)


def test_astro_clock_switches_at_sunset_plus_offset_and_sunrise_plus_offset() -> None:
    # Warsaw, night of 2013-12-21: published sunset 15:25 CET, next sunrise (2013-12-22) 07:43 CET.
    # On 10 min after sunset → 15:35 CET = 14:35 UTC; off 5 min before sunrise → 07:38 CET = 06:38 UTC.
    program = ControlProgram(
        "astro", AstroClockPeriod(sunset_offset=timedelta(minutes=10), sunrise_offset=timedelta(minutes=-5))
    )
    night = plan_night(single(program, WARSAW_SITE), date(2013, 12, 21))
    assert night.on is not None and night.off is not None
    assert abs(night.on - utc(2013, 12, 21, 14, 35)) <= timedelta(minutes=2)
    assert abs(night.off - utc(2013, 12, 22, 6, 38)) <= timedelta(minutes=2)
    # And exactly the offsets from what astral computes.
    assert night.on == sun_event(WARSAW_SITE, date(2013, 12, 21), SunEvent.SUNSET) + timedelta(minutes=10)  # type: ignore[operator]
    assert night.off == sun_event(WARSAW_SITE, date(2013, 12, 22), SunEvent.SUNRISE) - timedelta(minutes=5)  # type: ignore[operator]
    setup = single(program, WARSAW_SITE)
    assert decide_level(setup, night.on - timedelta(seconds=1)).reason is DecisionReason.DAYLIGHT
    assert decide_level(setup, night.on).level == 100.0
    assert decide_level(setup, night.off - timedelta(seconds=1)).level == 100.0
    assert decide_level(setup, night.off).level == 0.0


def test_polar_day_keeps_the_lamps_off_and_polar_night_keeps_them_on() -> None:
    # Tromsø (69.6° N): the sun does not set around the June solstice and does not rise in late December.
    assert sun_event(TROMSO_SITE, date(2026, 6, 21), SunEvent.SUNSET) is None
    assert astro_period_interval(TROMSO_SITE, date(2026, 6, 21)) is None
    setup = single(ControlProgram("p"), TROMSO_SITE)
    assert decide_level(setup, datetime(2026, 6, 22, 0, 30, tzinfo=ZoneInfo("Europe/Oslo"))).level == 0.0
    # Polar night: lit the whole lighting day, noon to noon.
    oslo = ZoneInfo("Europe/Oslo")
    assert astro_period_interval(TROMSO_SITE, date(2026, 12, 21)) == (
        datetime(2026, 12, 21, 12, tzinfo=oslo).astimezone(UTC),
        datetime(2026, 12, 22, 12, tzinfo=oslo).astimezone(UTC),
    )
    assert decide_level(setup, datetime(2026, 12, 21, 12, 30, tzinfo=oslo)).level == 100.0


# -- wall-clock time across DST ---------------------------------------------------------------


def test_the_dst_dates_of_2026_are_the_last_sundays_of_march_and_october() -> None:
    for day in (date(2026, 3, 29), date(2026, 10, 25)):
        assert day.isoweekday() == 7
        assert (day + timedelta(days=7)).month != day.month


def test_local_instant_resolves_gap_and_repeated_hour_by_the_documented_rule() -> None:
    # Spring forward 2026-03-29: 02:00 CET → 03:00 CEST at 01:00 UTC.  02:30 does not exist: it
    # lands at the first instant after the gap, 03:00 CEST = 01:00 UTC.
    assert local_instant(date(2026, 3, 29), time(2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert local_instant(date(2026, 3, 29), time(2, 0), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert local_instant(date(2026, 3, 29), time(1, 59), BERLIN) == utc(2026, 3, 29, 0, 59)  # CET, +1
    assert local_instant(date(2026, 3, 29), time(3, 0), BERLIN) == utc(2026, 3, 29, 1, 0)  # CEST, +2
    # Fall back 2026-10-25: 03:00 CEST → 02:00 CET at 01:00 UTC; 02:30 happens twice (00:30 and
    # 01:30 UTC).  The first occurrence (CEST) is taken.
    assert local_instant(date(2026, 10, 25), time(2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)
    assert local_instant(date(2026, 10, 25), time(3, 0), BERLIN) == utc(2026, 10, 25, 2, 0)  # CET, +1


# Steps 22:00 → 70 %, 00:00 → 50 %, 05:00 → 100 % local, on both sides of each change:
#   night of Sat 2026-03-28 (CET, +1):  22:00 → 21:00Z, 00:00 (Mar 29) → 23:00Z, 05:00 (CEST, +2) → 03:00Z
#   night of Sun 2026-03-29 (CEST, +2): 22:00 → 20:00Z, 00:00 (Mar 30) → 22:00Z, 05:00 → 03:00Z
#   night of Sat 2026-10-24 (CEST, +2): 22:00 → 20:00Z, 00:00 (Oct 25) → 22:00Z, 05:00 (CET, +1) → 04:00Z
#   night of Sun 2026-10-25 (CET, +1):  22:00 → 21:00Z, 00:00 (Oct 26) → 23:00Z, 05:00 → 04:00Z
# Berlin sunrise is after 05:00 local on all four mornings, so every step falls in the lit period.
@pytest.mark.parametrize(
    ("night", "expected"),
    [
        (date(2026, 3, 28), [utc(2026, 3, 28, 21), utc(2026, 3, 28, 23), utc(2026, 3, 29, 3)]),
        (date(2026, 3, 29), [utc(2026, 3, 29, 20), utc(2026, 3, 29, 22), utc(2026, 3, 30, 3)]),
        (date(2026, 10, 24), [utc(2026, 10, 24, 20), utc(2026, 10, 24, 22), utc(2026, 10, 25, 4)]),
        (date(2026, 10, 25), [utc(2026, 10, 25, 21), utc(2026, 10, 25, 23), utc(2026, 10, 26, 4)]),
    ],
)
def test_dimming_steps_land_at_the_right_utc_instants_across_dst(night: date, expected: list[datetime]) -> None:
    setup = single(MIDNIGHT_DIMMING)
    start = local_instant(night, time(12), BERLIN)
    changes = level_changes(setup, start, start + timedelta(days=1))
    # switch on at sunset (100 %), then the three steps, then off at sunrise.
    assert [c.level for c in changes] == [100.0, 70.0, 50.0, 100.0, 0.0]
    assert [c.at for c in changes[1:4]] == expected
    assert [c.reason for c in changes] == [
        DecisionReason.PROGRAM_LEVEL,
        DecisionReason.FIXED_TIME_STEP,
        DecisionReason.FIXED_TIME_STEP,
        DecisionReason.FIXED_TIME_STEP,
        DecisionReason.DAYLIGHT,
    ]
    # One second before each step the previous level still holds.
    assert decide_level(setup, expected[0] - timedelta(seconds=1)).level == 100.0
    assert decide_level(setup, expected[1] - timedelta(seconds=1)).level == 70.0
    assert decide_level(setup, expected[2] - timedelta(seconds=1)).level == 50.0


def test_steps_inside_the_spring_gap_fire_at_its_end_in_program_order() -> None:
    # 02:15 → 40 % and 02:45 → 30 % do not exist on 2026-03-29: both land at 03:00 CEST (01:00 UTC)
    # and the later one in the program wins; 01:30 CET (00:30 UTC) before the gap is unaffected.
    program = ControlProgram(
        "gap",
        steps=(FixedTimeStep(time(1, 30), 60.0), FixedTimeStep(time(2, 15), 40.0), FixedTimeStep(time(2, 45), 30.0)),
    )
    setup = single(program)
    changes = level_changes(setup, utc(2026, 3, 28, 22), utc(2026, 3, 29, 2))
    assert [(c.at, c.level) for c in changes] == [(utc(2026, 3, 29, 0, 30), 60.0), (utc(2026, 3, 29, 1, 0), 30.0)]


def test_a_step_in_the_repeated_autumn_hour_fires_once_at_its_first_occurrence() -> None:
    # 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET) on 2026-10-25; with a step
    # at 02:00 → 60 % and 02:30 → 40 %, firing each occurrence would go 60, 40, 60, 40.
    program = ControlProgram("autumn", steps=(FixedTimeStep(time(2, 0), 60.0), FixedTimeStep(time(2, 30), 40.0)))
    setup = single(program)
    changes = level_changes(setup, utc(2026, 10, 24, 23), utc(2026, 10, 25, 3))
    assert [(c.at, c.level) for c in changes] == [(utc(2026, 10, 25, 0, 0), 60.0), (utc(2026, 10, 25, 0, 30), 40.0)]
    assert decide_level(setup, utc(2026, 10, 25, 1, 45)).level == 40.0  # 02:45 CET, the second pass


def test_astro_step_is_tied_to_sunrise() -> None:
    program = ControlProgram(
        "dawn",
        steps=(FixedTimeStep(time(23), 50.0), AstroTimeStep(SunEvent.SUNRISE, timedelta(minutes=-60), 100.0)),
    )
    setup = single(program)
    sunrise = sun_event(BERLIN_SITE, date(2026, 1, 16), SunEvent.SUNRISE)
    assert sunrise is not None
    night = plan_night(setup, date(2026, 1, 15))
    assert [s.at for s in night.steps] == [utc(2026, 1, 15, 22), sunrise - timedelta(minutes=60)]
    decision = decide_level(setup, sunrise - timedelta(minutes=30))
    assert (decision.level, decision.reason) == (100.0, DecisionReason.ASTRO_TIME_STEP)
    assert decide_level(setup, sunrise - timedelta(minutes=61)).level == 50.0


def test_a_step_before_switch_on_sets_the_level_the_lamps_come_on_at() -> None:
    # In June, Berlin's sunset is after 21:00 CEST; a 17:00 step to 80 % has already fired.
    program = ControlProgram("early", steps=(FixedTimeStep(time(17), 80.0),))
    setup = single(program)
    night = plan_night(setup, date(2026, 6, 21))
    assert night.on is not None
    assert decide_level(setup, night.on).level == 80.0
    assert decide_level(setup, night.on - timedelta(seconds=1)).level == 0.0


# -- calendars --------------------------------------------------------------------------------

STANDARD = ControlProgram("standard", steps=(FixedTimeStep(time(22), 50.0),))
FESTIVE = ControlProgram("festive", level=90.0)
WEEKEND = ControlProgram("weekend", steps=(FixedTimeStep(time(23), 60.0),))
WINTER = ControlProgram("winter", level=80.0)

HOLIDAY = CalendarRule("festive", "christmas eve", dates=frozenset({date(2026, 12, 24)}))
FRI_SAT = CalendarRule("weekend", "friday and saturday nights", weekdays=frozenset({5, 6}))


def calendar_setup(*rules: CalendarRule) -> ControlSetup:
    return ControlSetup(BERLIN_SITE, Calendar("city", "standard", rules), (STANDARD, FESTIVE, WEEKEND, WINTER))


def test_calendar_rules_choose_programs_and_a_night_belongs_to_the_date_it_started() -> None:
    setup = calendar_setup(HOLIDAY, FRI_SAT)
    # Wed 2026-12-23: no rule → the default program, dimmed to 50 % from 22:00.
    wednesday = decide_level(setup, berlin(2026, 12, 23, 22, 30))
    assert (wednesday.level, wednesday.program_id, wednesday.calendar_rule) == (50.0, "standard", None)
    # Thu 2026-12-24: the holiday rule → festive, 90 % all night.
    eve = decide_level(setup, berlin(2026, 12, 24, 22, 30))
    assert (eve.level, eve.program_id, eve.calendar_rule) == (90.0, "festive", "christmas eve")
    # 03:00 on Fri 2026-12-25 is still the night that started on the 24th (dayOffset, noon to noon).
    small_hours = decide_level(setup, berlin(2026, 12, 25, 3, 0))
    assert (small_hours.level, small_hours.program_id, small_hours.lighting_date) == (
        90.0,
        "festive",
        date(2026, 12, 24),
    )
    # Fri 2026-12-25 evening: the weekday rule → weekend program, 100 % until 23:00, then 60 %.
    assert decide_level(setup, berlin(2026, 12, 25, 22, 30)).level == 100.0
    friday = decide_level(setup, berlin(2026, 12, 25, 23, 30))
    assert (friday.level, friday.program_id, friday.calendar_rule) == (60.0, "weekend", "friday and saturday nights")


def test_the_first_matching_rule_wins() -> None:
    december = CalendarRule("winter", "december", start_date=date(2026, 12, 1), end_date=date(2026, 12, 31))
    # The December rule listed first shadows the holiday; listed after it, the holiday wins.
    assert decide_level(calendar_setup(december, HOLIDAY), berlin(2026, 12, 24, 22, 30)).program_id == "winter"
    assert decide_level(calendar_setup(HOLIDAY, december), berlin(2026, 12, 24, 22, 30)).program_id == "festive"
    # Outside its date range the December rule does not match.
    assert decide_level(calendar_setup(december), berlin(2027, 1, 5, 22, 30)).program_id == "standard"


def test_lighting_date_boundary_is_local_noon() -> None:
    assert lighting_date(berlin(2026, 12, 25, 11, 59), BERLIN) == date(2026, 12, 24)
    assert lighting_date(berlin(2026, 12, 25, 12, 0), BERLIN) == date(2026, 12, 25)


def test_a_setup_must_hold_every_program_its_calendar_names() -> None:
    with pytest.raises(ValueError, match="festive"):
        ControlSetup(BERLIN_SITE, Calendar("c", "standard", (HOLIDAY,)), (STANDARD,))


# -- overrides --------------------------------------------------------------------------------

GROUP = "urn:ngsi-ld:StreetlightGroup:group-001"
LevelDecisionTuple = tuple[float, DecisionReason, str | None]
LAMP = "urn:ngsi-ld:Streetlight:lamp-00001"


def test_the_last_received_override_in_force_wins_and_expired_ones_are_ignored() -> None:
    setup = single(MIDNIGHT_DIMMING)
    # Times in UTC; Berlin is UTC+1 in January.  ov-1 arrives first, ov-2 later and shorter.
    first = OverrideCommand(
        "ov-1",
        frozenset({GROUP}),
        30.0,
        utc(2026, 1, 15, 19),
        received_at=utc(2026, 1, 15, 10),
        expiry=utc(2026, 1, 16, 1),
    )
    second = OverrideCommand(
        "ov-2",
        frozenset({GROUP}),
        80.0,
        utc(2026, 1, 15, 20),
        received_at=utc(2026, 1, 15, 11),
        expiry=utc(2026, 1, 15, 21),
    )
    # ov-0 arrives last of all but started before ov-1: from 19:00 to 19:30 both hold, ov-0 wins.
    last = OverrideCommand(
        "ov-0",
        frozenset({GROUP}),
        10.0,
        utc(2026, 1, 15, 18, 30),
        received_at=utc(2026, 1, 15, 12),
        expiry=utc(2026, 1, 15, 19, 30),
    )
    overrides = [second, last, first]  # the order given does not matter, the receipt time does

    def at(hour: int, minute: int = 0, day: int = 15) -> LevelDecisionTuple:
        decision = decide_level(setup, utc(2026, 1, day, hour, minute), targets={GROUP}, overrides=overrides)
        return decision.level, decision.reason, decision.override_id

    assert at(19, 15) == (10.0, DecisionReason.OVERRIDE, "ov-0")  # received after ov-1, though it started first
    assert at(19, 30) == (30.0, DecisionReason.OVERRIDE, "ov-1")  # ov-0 expired
    assert at(20, 30) == (80.0, DecisionReason.OVERRIDE, "ov-2")  # received later, in force
    assert at(21, 30) == (30.0, DecisionReason.OVERRIDE, "ov-1")  # ov-2 expired at 21:00 (exclusive)
    # ov-1 expired at 01:00 UTC = 02:00 CET: back to the program, 50 % since 00:00 local.
    assert at(1, 0, day=16) == (50.0, DecisionReason.FIXED_TIME_STEP, None)
    changes = level_changes(setup, utc(2026, 1, 15, 18), utc(2026, 1, 16, 2), targets={GROUP}, overrides=overrides)
    assert [(c.at, c.level) for c in changes] == [
        (utc(2026, 1, 15, 18, 30), 10.0),
        (utc(2026, 1, 15, 19, 30), 30.0),
        (utc(2026, 1, 15, 20), 80.0),
        (utc(2026, 1, 15, 21), 30.0),
        (utc(2026, 1, 16, 1), 50.0),
    ]


def test_an_override_applies_only_to_its_targets_and_also_by_day() -> None:
    setup = single(MIDNIGHT_DIMMING)
    test_burn = OverrideCommand(
        "ov-3", frozenset({LAMP}), 100.0, start=utc(2026, 6, 1, 9), received_at=utc(2026, 6, 1, 9)
    )
    noon = utc(2026, 6, 1, 10)
    assert decide_level(setup, noon, targets={GROUP}, overrides=[test_burn]).level == 0.0
    lamp = decide_level(setup, noon, targets={LAMP, GROUP}, overrides=[test_burn])
    assert (lamp.level, lamp.reason) == (100.0, DecisionReason.OVERRIDE)
    with pytest.raises(ValueError, match="expire after"):
        OverrideCommand("bad", frozenset({LAMP}), 10.0, start=noon, received_at=noon, expiry=noon)


# -- presence ---------------------------------------------------------------------------------


def test_presence_boost_holds_for_its_time_after_the_last_detection_then_returns() -> None:
    program = ControlProgram(
        "adaptive", presence=PresenceBoost(boost_level=100.0, hold=timedelta(seconds=90), background_level=20.0)
    )
    setup = single(program)
    first, second = utc(2026, 1, 15, 22, 0, 0), utc(2026, 1, 15, 22, 1, 0)
    detections = [first, second]

    def level(t: datetime) -> float:
        return decide_level(setup, t, detections=detections).level

    assert level(first - timedelta(seconds=1)) == 20.0
    assert (
        decide_level(setup, first - timedelta(seconds=1), detections=detections).reason
        is DecisionReason.PRESENCE_BACKGROUND
    )
    assert level(first) == 100.0
    # The second detection extends the boost to 22:01:00 + 90 s = 22:02:30.
    assert level(utc(2026, 1, 15, 22, 2, 29)) == 100.0
    assert level(utc(2026, 1, 15, 22, 2, 30)) == 20.0
    changes = level_changes(setup, utc(2026, 1, 15, 21, 50), utc(2026, 1, 15, 22, 10), detections=detections)
    assert [(c.at, c.level, c.reason) for c in changes] == [
        (first, 100.0, DecisionReason.PRESENCE_BOOST),
        (utc(2026, 1, 15, 22, 2, 30), 20.0, DecisionReason.PRESENCE_BACKGROUND),
    ]
    # By day a detection lights nothing.
    assert decide_level(setup, utc(2026, 6, 1, 10), detections=[utc(2026, 6, 1, 10)]).level == 0.0


def test_presence_boost_over_fixed_steps_never_lowers_the_level() -> None:
    program = ControlProgram(
        "adaptive-steps",
        steps=(FixedTimeStep(time(22), 50.0),),
        presence=PresenceBoost(boost_level=40.0, hold=timedelta(seconds=60)),
    )
    setup = single(program)
    detection = utc(2026, 1, 15, 21, 30)  # 22:30 CET: the step has set 50 %
    decision = decide_level(setup, detection, detections=[detection])
    assert (decision.level, decision.reason) == (50.0, DecisionReason.FIXED_TIME_STEP)
    louder = single(
        ControlProgram("adaptive-steps", steps=program.steps, presence=PresenceBoost(80.0, timedelta(seconds=60)))
    )
    assert decide_level(louder, detection, detections=[detection]).level == 80.0


# -- consistency ------------------------------------------------------------------------------

WINDOW_START = utc(2026, 3, 27, 12)
WINDOW_END = utc(2026, 3, 31, 12)


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(min_value=1, max_value=int((WINDOW_END - WINDOW_START).total_seconds()) - 1))
def test_changes_over_a_window_are_the_changes_over_its_two_halves(cut: int) -> None:
    setup = single(MIDNIGHT_DIMMING)
    middle = WINDOW_START + timedelta(seconds=cut)
    whole = level_changes(setup, WINDOW_START, WINDOW_END)
    halves = level_changes(setup, WINDOW_START, middle) + level_changes(setup, middle, WINDOW_END)
    assert [(c.at, c.level) for c in whole] == [(c.at, c.level) for c in halves]
    segments = level_segments(setup, WINDOW_START, WINDOW_END)
    assert segments[0].start == WINDOW_START and segments[-1].end == WINDOW_END
    assert all(a.end == b.start and a.level != b.level for a, b in pairwise(segments))
    inside = next(s for s in segments if s.start <= middle < s.end)
    assert decide_level(setup, middle).level == inside.level


def test_levels_convert_to_and_from_smart_data_models_illuminance() -> None:
    assert level_from_illuminance(0.35) == 35.0
    assert illuminance_from_level(70.0) == 0.7


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_level(single(MIDNIGHT_DIMMING), datetime(2026, 1, 15, 22))  # noqa: DTZ001 - the point of the test
