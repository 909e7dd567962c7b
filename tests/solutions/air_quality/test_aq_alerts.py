"""Threshold crossings with hysteresis: previous state + new value → raised / cleared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbis.solutions.air_quality.model import AlertChange, AlertState, ThresholdRule, evaluate_threshold

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
RULE = ThresholdRule(threshold=151, hysteresis=10)  # "Unhealthy" and above, cleared below 141


def run(values: list[float | None]) -> list[tuple[bool, AlertChange | None, float | None]]:
    state = AlertState()
    steps = []
    for hour, value in enumerate(values):
        decision = evaluate_threshold(state, value, RULE, T0 + timedelta(hours=hour))
        state = decision.state
        steps.append((state.active, decision.change, state.peak))
    return steps


def test_raise_hold_and_clear_with_hysteresis() -> None:
    assert run([100, 151, 145, 160, 141, None, 140.9, 150]) == [
        (False, None, None),
        (True, AlertChange.RAISED, 151),  # reaches the threshold
        (True, None, 151),  # below 151 but not below 141: still active
        (True, None, 160),  # the peak follows the worst value
        (True, None, 160),  # 141 is not below 141
        (True, None, 160),  # a missing value changes nothing
        (False, AlertChange.CLEARED, None),
        (False, None, None),  # 150 < 151: does not raise again
    ]


def test_the_raise_time_is_kept() -> None:
    raised = evaluate_threshold(AlertState(), 200, RULE, T0)
    assert raised.state.since == T0
    later = evaluate_threshold(raised.state, 210, RULE, T0 + timedelta(hours=2))
    assert later.state.since == T0


def test_without_hysteresis_it_clears_just_below_the_threshold() -> None:
    rule = ThresholdRule(threshold=100)
    active = evaluate_threshold(AlertState(), 100, rule, T0).state
    assert evaluate_threshold(active, 100, rule, T0).change is None
    assert evaluate_threshold(active, 99.9, rule, T0).change == AlertChange.CLEARED


def test_rule_validation_and_aware_time() -> None:
    with pytest.raises(ValueError, match="hysteresis"):
        ThresholdRule(threshold=100, hysteresis=-1)
    with pytest.raises(ValueError, match="threshold"):
        ThresholdRule(threshold=float("inf"))
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_threshold(AlertState(), 10, RULE, datetime(2026, 7, 1))  # noqa: DTZ001 - the point of the test
    assert RULE.clear_below == 141
