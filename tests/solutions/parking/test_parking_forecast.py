"""Occupancy forecasts: the historical-mean baseline, the decaying-deviation model, and selection."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from urbis.solutions.parking.const import ForecastParams
from urbis.solutions.parking.forecast import (
    DeviationForecaster,
    HistoricalBaseline,
    HorizonScore,
    OccupancyObservation,
    beats_baseline,
    evaluate_forecaster,
    fit_baseline,
    fit_deviation_weights,
    fit_forecaster,
    select_forecaster,
    split_chronologically,
)

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, 01:00 in Berlin


def obs(moment: datetime, share: float) -> OccupancyObservation:
    return OccupancyObservation(moment, share)


def flat(value: float) -> HistoricalBaseline:
    """A baseline that predicts ``value`` everywhere (no slot has history)."""
    return HistoricalBaseline(UTC, 15, {}, {}, value)


def test_baseline_is_the_mean_by_weekday_and_local_slot() -> None:
    # Berlin is UTC+1 in March: 09:00 UTC is 10:00 local.
    # Mondays 10:00 local: 0.4 and 0.6 → 0.5.  Tuesday 10:00: 0.8.  Monday 11:00: 0.2.
    observations = [
        obs(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), 0.4),
        obs(datetime(2026, 3, 9, 9, 0, tzinfo=UTC), 0.6),
        obs(datetime(2026, 3, 3, 9, 0, tzinfo=UTC), 0.8),
        obs(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), 0.2),
    ]
    baseline = fit_baseline(observations, tz=BERLIN, slot_minutes=15)
    assert baseline.predict(datetime(2026, 3, 16, 9, 0, tzinfo=UTC)) == pytest.approx(0.5)  # a later Monday
    assert baseline.predict(datetime(2026, 3, 16, 9, 14, tzinfo=UTC)) == pytest.approx(0.5)  # same 15-min slot
    assert baseline.predict(datetime(2026, 3, 10, 9, 0, tzinfo=UTC)) == pytest.approx(0.8)  # Tuesday
    # Wednesday 10:00 has no history: the 10:00 slot on any day, (0.4 + 0.6 + 0.8) / 3 = 0.6.
    assert baseline.predict(datetime(2026, 3, 4, 9, 0, tzinfo=UTC)) == pytest.approx(0.6)
    # 03:00 has no history at all: the overall mean (0.4 + 0.6 + 0.8 + 0.2) / 4 = 0.5.
    assert baseline.predict(datetime(2026, 3, 4, 2, 0, tzinfo=UTC)) == pytest.approx(0.5)
    # In summer (UTC+2) Monday 10:00 local is 08:00 UTC: the same slot.
    assert baseline.predict(datetime(2026, 7, 6, 8, 0, tzinfo=UTC)) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        fit_baseline([], tz=BERLIN)


def test_deviation_weights_by_hand() -> None:
    # Baseline 0.5 everywhere; deviations every 15 min: 0.2, 0.1, 0.05, 0.0.
    #   h = 15: pairs (0.2, 0.1), (0.1, 0.05), (0.05, 0)  →  Σxy = 0.025, Σx² = 0.0525  →  0.47619
    #   h = 30: pairs (0.2, 0.05), (0.1, 0)                →  Σxy = 0.01,  Σx² = 0.05    →  0.2
    #   h = 60: no pairs → 0
    series = [obs(MONDAY + timedelta(minutes=15 * k), 0.5 + d) for k, d in enumerate((0.2, 0.1, 0.05, 0.0))]
    weights = fit_deviation_weights(series, flat(0.5), (15, 30, 60))
    assert weights[15] == pytest.approx(0.025 / 0.0525)
    assert weights[30] == pytest.approx(0.2)
    assert weights[60] == 0.0
    # Deviations that flip sign have a negative slope, which is clipped to 0 (the baseline).
    alternating = [obs(MONDAY + timedelta(minutes=15 * k), 0.5 + 0.1 * (-1) ** k) for k in range(8)]
    assert fit_deviation_weights(alternating, flat(0.5), (15,))[15] == 0.0


def test_prediction_adds_the_weighted_deviation_and_clips() -> None:
    model = DeviationForecaster(flat(0.5), {15: 0.5})
    # 0.5 + 0.5 × (0.7 − 0.5) = 0.6
    assert model.predict(MONDAY, 0.7, 15) == pytest.approx(0.6)
    assert model.predict(MONDAY, None, 15) == 0.5  # nothing observed: the baseline
    assert model.predict(MONDAY, 0.7, 60) == 0.5  # no weight for 60 min: the baseline
    assert DeviationForecaster(flat(0.9), {15: 1.0}).predict(MONDAY, 1.0, 15) == 1.0  # 0.9 + 0.1, at the bound
    assert DeviationForecaster(flat(0.1), {15: 1.0}).predict(MONDAY, 0.0, 15) == 0.0
    assert model.as_baseline().weights == {15: 0.0}


def test_evaluation_mae_by_hand() -> None:
    # Persistence (weight 1 on a flat 0.5 baseline) on held-out 0.5, 0.7, 0.6, 0.6 every 15 min.
    #   h = 15, three pairs:  model predicts 0.5, 0.7, 0.6 for 0.7, 0.6, 0.6 → errors 0.2, 0.1, 0.0 → MAE 0.1
    #                         baseline predicts 0.5 → errors 0.2, 0.1, 0.1 → MAE 0.13333
    #   h = 30, two pairs:    model 0.5, 0.7 for 0.6, 0.6 → 0.1, 0.1 → 0.1;  baseline 0.1, 0.1 → 0.1
    held_out = [obs(MONDAY + timedelta(minutes=15 * k), v) for k, v in enumerate((0.5, 0.7, 0.6, 0.6))]
    scores = evaluate_forecaster(DeviationForecaster(flat(0.5), {15: 1.0, 30: 1.0}), held_out, (15, 30, 60))
    by_horizon = {s.horizon_minutes: s for s in scores}
    assert by_horizon[15].pairs == 3
    assert by_horizon[15].model_mae == pytest.approx(0.1)
    assert by_horizon[15].baseline_mae == pytest.approx(0.4 / 3)
    assert by_horizon[15].skill == pytest.approx(0.25)  # 1 − 0.1 / 0.1333
    assert by_horizon[30].pairs == 2
    assert by_horizon[30].model_mae == pytest.approx(0.1)
    assert by_horizon[30].baseline_mae == pytest.approx(0.1)
    assert by_horizon[60].pairs == 0
    assert by_horizon[60].model_mae is None
    assert by_horizon[60].skill is None


def test_the_selection_bar() -> None:
    params = ForecastParams(min_skill=0.01, min_evaluation_pairs=100)
    # Must cut the MAE to below 0.05 × 0.99 = 0.0495.
    assert not beats_baseline(HorizonScore(15, 500, 0.0495, 0.05, 0.8), params)
    assert beats_baseline(HorizonScore(15, 500, 0.0494, 0.05, 0.8), params)
    assert not beats_baseline(HorizonScore(15, 99, 0.01, 0.05, 0.8), params)  # too few pairs
    assert not beats_baseline(HorizonScore(15, 0, None, None, 0.8), params)
    strict = ForecastParams(min_skill=0.0, min_evaluation_pairs=1)
    assert not beats_baseline(HorizonScore(15, 5, 0.05, 0.05, 0.8), strict)  # a tie keeps the baseline


# -- synthetic data -------------------------------------------------------------------------------


def usual_occupancy(moment: datetime) -> float:
    """A weekly pattern: a midday peak, weekends quieter."""
    local = moment.astimezone(BERLIN)
    hour = local.hour + local.minute / 60
    peak = 0.15 + 0.6 * math.exp(-(((hour - 12.0) / 3.5) ** 2))
    return peak * (1.0 if local.weekday() < 5 else 0.6)


def synthetic(persistence: float, *, seed: int, weeks: int = 10, noise_sd: float = 0.04) -> list[OccupancyObservation]:
    """The weekly pattern plus deviations d(t) = persistence · d(t − 15 min) + ε, ε ~ N(0, noise_sd).

    persistence 0.9: deviations that last (an event, a closure) — the model should win.
    persistence 0:   memoryless noise around the pattern — nothing to exploit, the model must not win.
    """
    rng = random.Random(seed)
    deviation = 0.0
    out = []
    for k in range(weeks * 7 * 96):
        moment = MONDAY + timedelta(minutes=15 * k)
        deviation = persistence * deviation + rng.gauss(0.0, noise_sd)
        out.append(obs(moment, min(1.0, max(0.0, usual_occupancy(moment) + deviation))))
    return out


def test_model_wins_on_persistent_deviations_and_is_served() -> None:
    training, held_out = split_chronologically(synthetic(0.9, seed=7), 0.2)  # 8 weeks, then 2
    selection = select_forecaster(training, held_out, tz=BERLIN)
    assert selection.model_served
    # For AR(1) deviations the fitted weights are φ^(h/15 min): 0.9, 0.9² = 0.81, 0.9⁴ = 0.6561.
    weights = {s.horizon_minutes: s.weight for s in selection.scores}
    assert weights[15] == pytest.approx(0.9, abs=0.03)
    assert weights[30] == pytest.approx(0.81, abs=0.04)
    assert weights[60] == pytest.approx(0.6561, abs=0.05)
    for score in selection.scores:
        assert score.model_served
        assert score.pairs >= 1300  # two weeks of 15-minute origins
        assert score.model_mae is not None and score.baseline_mae is not None
        assert score.model_mae < score.baseline_mae
    # The skill shrinks with the horizon as the deviation decays.
    skills = [s.skill for s in selection.scores]
    assert skills[0] > skills[1] > skills[2] > 0.1  # type: ignore[operator]
    assert selection.served.weights == weights


def test_model_does_not_win_on_memoryless_noise_and_the_baseline_is_served() -> None:
    training, held_out = split_chronologically(synthetic(0.0, seed=11), 0.2)
    selection = select_forecaster(training, held_out, tz=BERLIN)
    assert not selection.model_served
    assert all(weight == 0.0 for weight in selection.served.weights.values())
    for score in selection.scores:
        assert score.weight < 0.05  # nothing to fit: the weights come out near zero
        # With a weight of a few thousandths the two differ by chance only (here, at 60 min, the
        # model is 0.013 % better): far below the 1 % bar, so the baseline is served.
        assert score.skill is not None
        assert abs(score.skill) < 0.002
        assert not beats_baseline(score)
    # What is served is the baseline itself.
    origin = held_out[100]
    for horizon in (15, 30, 60):
        target = origin.at + timedelta(minutes=horizon)
        assert selection.served.predict(origin.at, origin.occupancy, horizon) == selection.served.baseline.predict(
            target
        )


def test_a_persistence_model_loses_on_memoryless_noise() -> None:
    # Force weight 0.9 on noise: the forecast error becomes ε(t+h) − 0.9·ε(t), whose sd is
    # √(1 + 0.81) = 1.345 times the baseline's, and so (normal errors) is the MAE.
    training, held_out = split_chronologically(synthetic(0.0, seed=11), 0.2)
    baseline = fit_forecaster(training, tz=BERLIN).baseline
    forced = DeviationForecaster(baseline, {15: 0.9, 30: 0.9, 60: 0.9})
    for score in evaluate_forecaster(forced, held_out, (15, 30, 60)):
        assert score.model_mae is not None and score.baseline_mae is not None
        assert 1.25 < score.model_mae / score.baseline_mae < 1.45
        assert not beats_baseline(score)


def test_held_out_data_must_come_after_training() -> None:
    data = synthetic(0.9, seed=3, weeks=1)
    with pytest.raises(ValueError, match="after"):
        select_forecaster(data[300:], data[:300], tz=BERLIN)


def test_chronological_split() -> None:
    data = synthetic(0.0, seed=1, weeks=1)  # 672 observations
    training, held_out = split_chronologically(reversed(data), 0.25)
    assert (len(training), len(held_out)) == (504, 168)
    assert max(o.at for o in training) < min(o.at for o in held_out)
    with pytest.raises(ValueError):
        split_chronologically(data, 1.0)


def test_params_are_validated() -> None:
    with pytest.raises(ValueError):
        ForecastParams(slot_minutes=7)  # does not divide a day
    with pytest.raises(ValueError):
        ForecastParams(horizons_minutes=(20,))  # not a multiple of the slot
    with pytest.raises(ValueError):
        ForecastParams(min_skill=1.0)
