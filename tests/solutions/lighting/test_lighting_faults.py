"""Faults: detection rules, persistence (open and clear), and cabinet correlation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urbis.solutions.lighting.const import FaultKind, Severity, SourceKind, SunEvent
from urbis.solutions.lighting.energy import DimmingCurve
from urbis.solutions.lighting.faults import (
    CabinetReport,
    CircuitTopology,
    FaultAction,
    FaultBook,
    FaultCheck,
    FaultEvent,
    FaultKey,
    FaultPhase,
    FaultRules,
    LampReport,
    LastReport,
    Persistence,
    apply_check,
    evaluate_faults,
)
from urbis.solutions.lighting.schedule import Site, sun_elevation, sun_event

SITE = Site(52.52, 13.405, "Europe/Berlin")
# 60 W rated, 20 % driver minimum, 1 W standby.  At 100 %: expected 1 + 60 = 61 W, tolerance
# max(10 % × 61, 2 W) = 6.1 W → band 54.9 … 67.1 W.  "Burning" above 1 + 10 % × 60 = 7 W.
CURVE = DimmingCurve(rated_w=60.0, driver_minimum=20.0, standby_w=1.0)
T0 = datetime(2026, 1, 15, 22, 0, tzinfo=UTC)  # 23:00 CET, the sun far below the horizon
MIN = timedelta(minutes=1)
CABINET = "cab-1"
CABINET_LAMPS = ("lamp-1", "lamp-2", "lamp-3", "lamp-4")
TOPOLOGY = CircuitTopology.from_lamps({**dict.fromkeys(CABINET_LAMPS, CABINET), "lamp-9": "cab-2"})


def lamp(
    lamp_id: str = "lamp-1",
    at: datetime = T0,
    *,
    power: float | None = 61.0,
    commanded: float = 100.0,
    no_supply: bool = False,
) -> LampReport:
    return LampReport(lamp_id, at, commanded, CURVE, SITE, power_w=power, no_supply=no_supply)


def meter(at: datetime, *, supply: bool, cabinet: str = CABINET) -> CabinetReport:
    return CabinetReport(cabinet, at, supply_on=supply, voltage_v=231.0 if supply else 0.0)


def silent_since(entity: str, at: datetime, source: SourceKind = SourceKind.LAMP) -> LastReport:
    return LastReport(entity, source, at)


@dataclass
class Timeline:
    """Feeds evaluations one after another and keeps every event."""

    book: FaultBook = field(default_factory=FaultBook)
    events: list[FaultEvent] = field(default_factory=list)
    rules: FaultRules = field(default_factory=FaultRules)

    def at(
        self,
        when: datetime,
        *,
        lamps: Sequence[LampReport] = (),
        meters: Sequence[CabinetReport] = (),
        last: Sequence[LastReport] = (),
    ) -> list[FaultEvent]:
        step = evaluate_faults(
            self.book,
            when,
            topology=TOPOLOGY,
            lamp_reports=lamps,
            cabinet_reports=meters,
            last_reports=last,
            rules=self.rules,
        )
        self.book = step.book
        self.events += step.events
        return list(step.events)


def summary(events: Sequence[FaultEvent]) -> list[tuple[str, str, str]]:
    return [(e.action.value, e.entity_id, e.kind.value) for e in events]


# -- persistence ------------------------------------------------------------------------------


def test_a_healthy_lamp_raises_nothing_and_leaves_no_state() -> None:
    timeline = Timeline()
    assert timeline.at(T0, lamps=[lamp()]) == []
    assert timeline.at(T0 + 15 * MIN, lamps=[lamp(at=T0 + 15 * MIN)]) == []
    assert dict(timeline.book.states) == {}


def test_one_bad_sample_opens_nothing_two_open_and_recovery_closes() -> None:
    timeline = Timeline()
    # 0.8 W while commanded to 100 %: not burning (≤ 7 W) → lamp failure evidence.
    assert timeline.at(T0, lamps=[lamp(power=0.8)]) == []
    pending = timeline.book.state("lamp-1", FaultKind.LAMP_FAILURE)
    assert pending is not None and pending.phase is FaultPhase.PENDING
    opened = timeline.at(T0 + 15 * MIN, lamps=[lamp(at=T0 + 15 * MIN, power=0.8)])
    assert summary(opened) == [("opened", "lamp-1", "lampFailure")]
    assert opened[0].key.stable_key == "lamp-1#lampFailure"
    assert opened[0].severity is Severity.MAJOR
    assert opened[0].at == T0 + 15 * MIN
    assert "commanded to 100 % but not burning" in opened[0].description
    # Recovery: absent for the default 10 minutes (first to latest good sample) before it clears.
    assert timeline.at(T0 + 30 * MIN, lamps=[lamp(at=T0 + 30 * MIN)]) == []
    assert timeline.at(T0 + 35 * MIN, lamps=[lamp(at=T0 + 35 * MIN)]) == []  # 5 minutes: not yet
    closed = timeline.at(T0 + 40 * MIN, lamps=[lamp(at=T0 + 40 * MIN)])
    assert summary(closed) == [("closed", "lamp-1", "lampFailure")]
    assert closed[0].key == opened[0].key  # the same stable key closes the alarm it opened
    assert dict(timeline.book.states) == {}


def test_an_interrupted_condition_or_a_burst_at_one_instant_opens_nothing() -> None:
    timeline = Timeline()
    for minute, power in ((0, 0.8), (15, 61.0), (30, 0.8), (45, 61.0)):
        timeline.at(T0 + minute * MIN, lamps=[lamp(at=T0 + minute * MIN, power=power)])
    # Two reports at the same instant are one sample.
    timeline.at(T0 + 60 * MIN, lamps=[lamp(at=T0 + 60 * MIN, power=0.8), lamp(at=T0 + 60 * MIN, power=0.5)])
    assert timeline.events == []


def test_an_open_fault_that_reappears_while_recovering_stays_open() -> None:
    timeline = Timeline()
    for minute, power in ((0, 0.8), (15, 0.8), (30, 61.0), (35, 0.8), (45, 61.0), (50, 61.0)):
        timeline.at(T0 + minute * MIN, lamps=[lamp(at=T0 + minute * MIN, power=power)])
    # Opened at 15; the bad sample at 35 resets the recovery, so 45 and 50 (5 min) do not clear it.
    assert summary(timeline.events) == [("opened", "lamp-1", "lampFailure")]
    timeline.at(T0 + 55 * MIN, lamps=[lamp(at=T0 + 55 * MIN)])
    assert summary(timeline.events)[-1] == ("closed", "lamp-1", "lampFailure")


def test_duration_and_sample_criteria_must_both_hold() -> None:
    # Three samples within two minutes do not make the ten minutes; the sample at +10 does.
    rules = FaultRules(persistence={FaultKind.LAMP_FAILURE: Persistence(open_samples=3, open_after=10 * MIN)})
    key = FaultKey("lamp-1", FaultKind.LAMP_FAILURE)
    state = None
    events = []
    for minute in (0, 1, 2, 10):
        state, event = apply_check(state, FaultCheck(key, SourceKind.LAMP, T0 + minute * MIN, True, "bad"), rules)
        events.append(event)
    assert [e is not None for e in events] == [False, False, False, True]
    assert state is not None and state.phase is FaultPhase.OPEN and state.opened_at == T0 + 10 * MIN


def test_evidence_older_than_the_state_is_ignored() -> None:
    key = FaultKey("lamp-1", FaultKind.LAMP_FAILURE)
    state, _ = apply_check(None, FaultCheck(key, SourceKind.LAMP, T0, True, "bad"))
    state, opened = apply_check(state, FaultCheck(key, SourceKind.LAMP, T0 + 15 * MIN, True, "bad"))
    assert opened is not None
    late, event = apply_check(state, FaultCheck(key, SourceKind.LAMP, T0 + 5 * MIN, False, "good, but delivered late"))
    assert (late, event) == (state, None)


def test_persistence_needs_an_opening_and_a_clearing_criterion() -> None:
    with pytest.raises(ValueError, match="opening criterion"):
        Persistence(open_samples=None, open_after=None)
    with pytest.raises(ValueError, match="clearing criterion"):
        Persistence(clear_samples=None, clear_after=None)
    with pytest.raises(ValueError, match="at least 1"):
        Persistence(open_samples=0)


@settings(max_examples=60, deadline=None)
@given(bad=st.lists(st.booleans(), min_size=1, max_size=16))
def test_faults_open_after_two_bad_samples_and_close_after_two_good_ones(bad: list[bool]) -> None:
    # Samples 15 minutes apart.  The default lamp rule opens on 2 consecutive bad samples and
    # clears after 10 minutes of absence — two consecutive good samples 15 minutes apart.
    expected: list[tuple[str, int]] = []
    is_open, bad_run, good_run = False, 0, 0
    for index, value in enumerate(bad):
        bad_run, good_run = (bad_run + 1, 0) if value else (0, good_run + 1)
        if not is_open and bad_run >= 2:
            is_open = True
            expected.append(("opened", index))
        elif is_open and good_run >= 2:
            is_open = False
            expected.append(("closed", index))
    timeline = Timeline()
    seen: list[tuple[str, int]] = []
    for index, value in enumerate(bad):
        at = T0 + index * 15 * MIN
        for event in timeline.at(at, lamps=[lamp(at=at, power=0.8 if value else 61.0)]):
            assert event.kind is FaultKind.LAMP_FAILURE
            seen.append((event.action.value, index))
    assert seen == expected


# -- the detection rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("commanded", "power", "opened"),
    [
        (100.0, 75.0, ["lampPowerTooHigh"]),  # > 61 + 6.1 = 67.1 W
        (100.0, 66.0, []),  # inside the band
        (100.0, 56.0, []),  # inside the band
        (100.0, 50.0, ["lampPowerTooLow"]),  # < 54.9 W, but burning (> 7 W): not a lamp failure
        (100.0, 5.0, ["lampFailure"]),  # not burning
        # At 10 % the driver runs at its 20 % minimum: 1 + 12 = 13 W, tolerance max(1.3, 2) = 2 W.
        (10.0, 16.0, ["lampPowerTooHigh"]),
        (10.0, 14.5, []),
        (10.0, 10.0, ["lampPowerTooLow"]),
    ],
)
def test_power_against_the_dimming_curve(commanded: float, power: float, opened: list[str]) -> None:
    timeline = Timeline()
    for minute in (0, 15):
        timeline.at(T0 + minute * MIN, lamps=[lamp(at=T0 + minute * MIN, power=power, commanded=commanded)])
    assert [e.kind.value for e in timeline.events if e.action is FaultAction.OPENED] == opened


def test_power_faults_are_not_judged_while_the_lamp_is_meant_to_be_off() -> None:
    timeline = Timeline()
    timeline.at(T0, lamps=[lamp(power=50.0)])
    timeline.at(T0 + 15 * MIN, lamps=[lamp(at=T0 + 15 * MIN, power=50.0)])
    assert summary(timeline.events) == [("opened", "lamp-1", "lampPowerTooLow")]
    # All next day the lamp is off as commanded and draws standby: no evidence about its power.
    noon = datetime(2026, 1, 16, 11, 0, tzinfo=UTC)
    for hour in range(4):
        timeline.at(
            noon + timedelta(hours=hour), lamps=[lamp(at=noon + timedelta(hours=hour), power=1.0, commanded=0.0)]
        )
    assert len(timeline.events) == 1
    assert timeline.book.state("lamp-1", FaultKind.LAMP_POWER_TOO_LOW) is not None


def test_day_burning_when_commanded_off() -> None:
    timeline = Timeline()
    for minute in (0, 15):
        timeline.at(T0 + minute * MIN, lamps=[lamp(at=T0 + minute * MIN, power=61.0, commanded=0.0)])
    assert summary(timeline.events) == [("opened", "lamp-1", "lampUnexpectedOn")]
    assert "commanded off" in timeline.events[0].description
    assert timeline.events[0].severity is Severity.MINOR


def test_day_burning_while_the_sun_is_up_even_if_a_schedule_commands_it() -> None:
    noon = datetime(2026, 6, 21, 11, 0, tzinfo=UTC)
    assert sun_elevation(SITE, noon) > 50.0  # Berlin at midsummer noon: about 61°
    timeline = Timeline()
    for minute in (0, 15):
        timeline.at(noon + minute * MIN, lamps=[lamp(at=noon + minute * MIN, commanded=100.0)])
    assert summary(timeline.events) == [("opened", "lamp-1", "lampUnexpectedOn")]
    assert "by day" in timeline.events[0].description


def test_a_day_burner_stays_open_through_the_night_and_closes_only_when_seen_off() -> None:
    # A stuck relay, seen burning at 14:00 and 14:15 CET (sun about 10° up in Berlin mid-January).
    afternoon = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)
    timeline = Timeline()
    for minute in (0, 15):
        timeline.at(afternoon + minute * MIN, lamps=[lamp(at=afternoon + minute * MIN, commanded=0.0)])
    assert summary(timeline.events) == [("opened", "lamp-1", "lampUnexpectedOn")]
    # At night it burns as commanded: that says nothing about the relay, so the fault stays open.
    for minute in (0, 15, 30, 45):
        timeline.at(T0 + minute * MIN, lamps=[lamp(at=T0 + minute * MIN, commanded=100.0)])
    assert summary(timeline.events) == [("opened", "lamp-1", "lampUnexpectedOn")]
    # Repaired: off when commanded off the next morning (two samples, ten minutes apart and more).
    morning = datetime(2026, 1, 16, 9, 0, tzinfo=UTC)
    for minute in (0, 15):
        timeline.at(morning + minute * MIN, lamps=[lamp(at=morning + minute * MIN, power=1.0, commanded=0.0)])
    assert summary(timeline.events)[-1] == ("closed", "lamp-1", "lampUnexpectedOn")


def test_a_lamp_still_on_just_after_sunrise_is_not_a_day_burner() -> None:
    sunrise = sun_event(SITE, date(2026, 1, 16), SunEvent.SUNRISE)
    assert sunrise is not None
    early = [sunrise + 5 * MIN, sunrise + 10 * MIN]
    assert all(sun_elevation(SITE, t) < 2.0 for t in early)  # below the 2° margin
    timeline = Timeline()
    for t in early:
        timeline.at(t, lamps=[lamp(at=t, commanded=100.0)])
    assert timeline.events == []
    # An hour later the sun is well above the margin: the same reports are day-burning.
    late = [sunrise + 60 * MIN, sunrise + 75 * MIN]
    assert all(sun_elevation(SITE, t) > 2.0 for t in late)
    for t in late:
        timeline.at(t, lamps=[lamp(at=t, commanded=100.0)])
    assert summary(timeline.events) == [("opened", "lamp-1", "lampUnexpectedOn")]


def test_communication_loss_after_the_allowed_silence_and_cleared_by_a_report() -> None:
    timeline = Timeline()
    # Default allowed silence: 2 × 15 min + 5 min = 35 min.
    assert timeline.at(T0 + 34 * MIN, last=[silent_since("lamp-9", T0)]) == []
    opened = timeline.at(T0 + 36 * MIN, last=[silent_since("lamp-9", T0)])
    assert summary(opened) == [("opened", "lamp-9", "communicationLoss")]
    assert "silent for 36 min" in opened[0].description
    assert opened[0].severity is Severity.MINOR
    closed = timeline.at(T0 + 40 * MIN, lamps=[lamp("lamp-9", T0 + 40 * MIN)])
    assert summary(closed) == [("closed", "lamp-9", "communicationLoss")]


def test_a_single_lamp_without_supply_is_its_own_fault() -> None:
    # One lamp of four on cab-1 says "no supply": under the 50 % share, so it is the pole's feed.
    timeline = Timeline()
    for minute in (0, 15):
        timeline.at(T0 + minute * MIN, lamps=[lamp(at=T0 + minute * MIN, power=0.0, no_supply=True)])
    assert summary(timeline.events) == [("opened", "lamp-1", "supplyLoss")]
    assert timeline.events[0].severity is Severity.MAJOR


# -- correlation ------------------------------------------------------------------------------


def lamp_states(book: FaultBook) -> list[FaultKey]:
    return [key for key in book.states if key.entity_id in CABINET_LAMPS]


def outage(timeline: Timeline) -> None:
    """cab-1 loses supply at T0: its meter reads 0 V; lamps 1 and 2 say "no supply", 3 and 4 go silent."""
    for minute in (0, 15):
        at = T0 + minute * MIN
        dark = [lamp(name, at, power=0.0, no_supply=True) for name in ("lamp-1", "lamp-2")]
        timeline.at(at, meters=[meter(at, supply=False)], lamps=dark)
        assert lamp_states(timeline.book) == []  # the lamps' evidence waits; nothing pends for them
    silence = [silent_since(name, T0 - 10 * MIN) for name in ("lamp-3", "lamp-4")]
    silence += [silent_since(name, T0 + 15 * MIN) for name in ("lamp-1", "lamp-2")]
    silence.append(silent_since(CABINET, T0 + 15 * MIN, SourceKind.CABINET))
    timeline.at(T0 + 40 * MIN, last=silence)  # lamps 3 and 4 silent for 50 min by now


def test_a_cabinet_outage_raises_one_alarm_not_one_per_lamp() -> None:
    timeline = Timeline()
    outage(timeline)
    assert summary(timeline.events) == [("opened", CABINET, "supplyLoss")]
    alarm = timeline.events[0]
    assert alarm.severity is Severity.CRITICAL
    assert alarm.source is SourceKind.CABINET
    assert alarm.affected == CABINET_LAMPS
    assert alarm.key.stable_key == "cab-1#supplyLoss"
    assert lamp_states(timeline.book) == []


def test_without_the_cabinets_evidence_the_same_lamps_raise_one_alarm_each() -> None:
    # The control for the test above: the meter shows supply and the lamps do not say why they are
    # dark, so each lamp is its own fault — four alarms.
    timeline = Timeline()
    for minute in (0, 15):
        at = T0 + minute * MIN
        dark = [lamp(name, at, power=0.0) for name in ("lamp-1", "lamp-2")]
        timeline.at(at, meters=[meter(at, supply=True)], lamps=dark)
    silence = [silent_since(name, T0 - 10 * MIN) for name in ("lamp-3", "lamp-4")]
    timeline.at(T0 + 40 * MIN, last=[*silence, silent_since(CABINET, T0 + 15 * MIN, SourceKind.CABINET)])
    assert sorted(summary(timeline.events)) == [
        ("opened", "lamp-1", "lampFailure"),
        ("opened", "lamp-2", "lampFailure"),
        ("opened", "lamp-3", "communicationLoss"),
        ("opened", "lamp-4", "communicationLoss"),
    ]


def test_supply_back_closes_the_cabinet_alarm_and_gives_lamps_time_to_report() -> None:
    timeline = Timeline()
    outage(timeline)
    # The meter shows supply at +60; lamps 1 and 2 report normally at +61; lamps 3 and 4 stay quiet.
    back = T0 + 60 * MIN
    timeline.at(back, meters=[meter(back, supply=True)])
    lit = [lamp(name, back + MIN) for name in ("lamp-1", "lamp-2")]
    assert timeline.at(back + MIN, lamps=lit) == []
    # Still two lamps of four flagged "no supply" at +60, so the outage held until +61; the
    # second sample without it (the meter at +75) clears it.
    closed = timeline.at(T0 + 75 * MIN, meters=[meter(T0 + 75 * MIN, supply=True)])
    assert summary(closed) == [("closed", CABINET, "supplyLoss")]
    assert closed[0].affected == CABINET_LAMPS
    # Lamps 3 and 4, silent since T0 − 10 min, get the allowed 35 minutes from the return (+61).
    quiet = [silent_since(name, T0 - 10 * MIN) for name in ("lamp-3", "lamp-4")]
    assert timeline.at(T0 + 90 * MIN, last=quiet) == []  # 29 min since the supply came back
    later = timeline.at(T0 + 100 * MIN, last=quiet)  # 39 min: now they are overdue
    assert sorted(summary(later)) == [
        ("opened", "lamp-3", "communicationLoss"),
        ("opened", "lamp-4", "communicationLoss"),
    ]


def test_lamp_faults_opened_just_before_an_outage_are_closed_as_explained_by_it() -> None:
    timeline = Timeline()
    # lamp-2 failed hours ago (a real broken lamp); lamp-1 "failed" 5 minutes before the outage.
    for at in (T0 - 180 * MIN, T0 - 165 * MIN):
        timeline.at(at, lamps=[lamp("lamp-2", at, power=0.5)])
    for at in (T0 - 20 * MIN, T0 - 5 * MIN):
        timeline.at(at, lamps=[lamp("lamp-1", at, power=0.5)])
    assert sorted(summary(timeline.events)) == [
        ("opened", "lamp-1", "lampFailure"),
        ("opened", "lamp-2", "lampFailure"),
    ]
    before = len(timeline.events)
    for at in (T0, T0 + 15 * MIN):
        timeline.at(at, meters=[meter(at, supply=False)])
    new = timeline.events[before:]
    assert summary(new) == [("opened", CABINET, "supplyLoss"), ("closed", "lamp-1", "lampFailure")]
    assert new[1].cause == FaultKey(CABINET, FaultKind.SUPPLY_LOSS)
    assert "explained by the supply loss of cabinet cab-1" in new[1].description
    still_open = timeline.book.state("lamp-2", FaultKind.LAMP_FAILURE)
    assert still_open is not None and still_open.phase is FaultPhase.OPEN


def test_a_cabinet_outage_is_inferred_when_most_of_its_lamps_lose_supply() -> None:
    # No meter report (the meter itself is dead or slow): three of the four lamps say "no supply".
    timeline = Timeline()
    for minute in (0, 15):
        at = T0 + minute * MIN
        timeline.at(at, lamps=[lamp(name, at, power=0.0, no_supply=True) for name in ("lamp-1", "lamp-2", "lamp-3")])
    assert summary(timeline.events) == [("opened", CABINET, "supplyLoss")]
    assert "3 of 4 lamps report no supply" in timeline.events[0].description


def test_a_silent_cabinet_and_its_silent_lamps_raise_one_alarm() -> None:
    quiet_lamps = [silent_since(name, T0) for name in CABINET_LAMPS]
    timeline = Timeline()
    timeline.at(T0 + 60 * MIN, last=[*quiet_lamps, silent_since(CABINET, T0, SourceKind.CABINET)])
    assert summary(timeline.events) == [("opened", CABINET, "communicationLoss")]
    assert timeline.events[0].severity is Severity.MAJOR
    # The control: a cabinet that still reports leaves its silent lamps to raise their own alarms.
    separate = Timeline()
    separate.at(T0 + 60 * MIN, last=[*quiet_lamps, silent_since(CABINET, T0 + 50 * MIN, SourceKind.CABINET)])
    assert sorted(summary(separate.events)) == [("opened", name, "communicationLoss") for name in CABINET_LAMPS]


def test_evaluation_leaves_the_previous_book_untouched() -> None:
    first = evaluate_faults(FaultBook(), T0, topology=TOPOLOGY, lamp_reports=[lamp(power=0.8)])
    snapshot = dict(first.book.states)
    evaluate_faults(first.book, T0 + 15 * MIN, topology=TOPOLOGY, lamp_reports=[lamp(at=T0 + 15 * MIN, power=0.8)])
    assert dict(first.book.states) == snapshot
    assert next(iter(snapshot.values())).phase is FaultPhase.PENDING


def test_naive_report_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        lamp(at=datetime(2026, 1, 15, 22))  # noqa: DTZ001 - the point of the test
