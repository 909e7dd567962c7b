"""Occupancy forecasts 15, 30 and 60 minutes ahead, and the rule that decides which one to serve.

**Baseline** (domain reference §3.3): the historical mean occupancy of the place by
(weekday, local time-of-day slot).  Slots with no history fall back to the same slot on any
weekday, then to the overall mean.

**Model: decaying deviation.**  Occupancy today is rarely exactly the usual: a market, rain
or roadworks push it up or down for a while.  The model keeps the baseline's shape and adds
the deviation observed now, shrunk by a weight per horizon::

    forecast(t + h) = baseline(t + h) + w_h · (observed(t) − baseline(t))

``w_h`` is the least-squares slope (through the origin) of the deviation ``h`` ahead on the
deviation now, fitted on training data and kept in [0, 1].  If deviations follow an AR(1)
process with factor φ per slot, ``w_h = φ^(h/slot)``: exponential decay over the horizon.
If deviations carry no memory, ``w_h ≈ 0`` and the model is the baseline.

**Selection.**  Both are scored by MAE (occupancy fraction) on held-out data that comes
after the training data.  Per horizon, the model is served only if it beats the baseline by
at least ``min_skill`` (relative) on enough pairs; otherwise its weight is set to zero,
which *is* the baseline.  The figures are returned either way.

Observations are expected on the slot grid (the service resamples); a forecast origin is
scored only where the observation ``h`` later exists.

**Occupancy on arrival** (:func:`estimate_on_arrival`).  Guidance needs the share taken at
the driver's arrival, with its uncertainty:

- within ``live_within`` of now, or for a place without a served forecaster: the live share
  (``live``), with the caller's default spread;
- up to the last horizon: linear interpolation in time between the live share now and the
  served forecasts at ``origin + h`` (``forecast``);
- beyond the last horizon, or when the live share is unknown: the historical mean of the
  arrival's weekday and slot (``historical mean``).

The spread is the standard deviation of normal errors with the held-out MAE of what is
served: ``sd = MAE·√(π/2)`` (the model's MAE where it is served, the baseline's otherwise;
the baseline's at the last horizon for the historical mean), interpolated like the share.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Literal

from urbis.solutions.parking.const import DEFAULT_FORECAST, ForecastParams
from urbis.solutions.parking.timebands import require_aware

SlotKey = tuple[int, int]  # (weekday Monday 0, slot of the local day)


@dataclass(frozen=True, slots=True)
class OccupancyObservation:
    """The occupancy share of one place at one instant."""

    at: datetime
    occupancy: float


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


@dataclass(frozen=True)
class HistoricalBaseline:
    """Mean occupancy by (weekday, local time-of-day slot), with fallbacks for empty slots."""

    tz: tzinfo
    slot_minutes: int
    by_slot: Mapping[SlotKey, float]
    by_time_of_day: Mapping[int, float]
    overall: float

    def slot_of(self, moment: datetime) -> SlotKey:
        """The (weekday, slot) of an instant in the local zone."""
        require_aware(moment)
        local = moment.astimezone(self.tz)
        return local.weekday(), (local.hour * 60 + local.minute) // self.slot_minutes

    def predict(self, moment: datetime) -> float:
        """The historical mean for the slot of ``moment``."""
        weekday, slot = self.slot_of(moment)
        if (weekday, slot) in self.by_slot:
            return self.by_slot[weekday, slot]
        return self.by_time_of_day.get(slot, self.overall)


def fit_baseline(
    observations: Iterable[OccupancyObservation], *, tz: tzinfo, slot_minutes: int = DEFAULT_FORECAST.slot_minutes
) -> HistoricalBaseline:
    """The historical mean by (weekday, slot) of ``observations``, in local zone ``tz``."""
    if slot_minutes <= 0 or 24 * 60 % slot_minutes:
        raise ValueError("slot_minutes must divide a day")
    sums: dict[SlotKey, float] = defaultdict(float)
    counts: dict[SlotKey, int] = defaultdict(int)
    probe = HistoricalBaseline(tz, slot_minutes, {}, {}, 0.0)
    for observation in observations:
        key = probe.slot_of(observation.at)
        sums[key] += observation.occupancy
        counts[key] += 1
    if not counts:
        raise ValueError("a baseline needs at least one observation")
    by_slot = {key: sums[key] / counts[key] for key in sums}
    day_sums: dict[int, float] = defaultdict(float)
    day_counts: dict[int, int] = defaultdict(int)
    for key, total in sums.items():
        slot = key[1]
        day_sums[slot] += total
        day_counts[slot] += counts[key]
    by_time_of_day = {slot: day_sums[slot] / day_counts[slot] for slot in day_sums}
    overall = sum(sums.values()) / sum(counts.values())
    return HistoricalBaseline(tz, slot_minutes, by_slot, by_time_of_day, overall)


@dataclass(frozen=True)
class DeviationForecaster:
    """Baseline plus the current deviation, weighted per horizon (minutes → weight).

    A horizon with weight 0 (or none fitted) forecasts the baseline.
    """

    baseline: HistoricalBaseline
    weights: Mapping[int, float]

    def predict(self, origin: datetime, current: float | None, horizon_minutes: int) -> float:
        """Occupancy ``horizon_minutes`` after ``origin``, given the share ``current`` observed at ``origin``."""
        target = origin + timedelta(minutes=horizon_minutes)
        expected = self.baseline.predict(target)
        weight = self.weights.get(horizon_minutes, 0.0)
        if current is None or weight == 0.0:
            return expected
        return _clip(expected + weight * (current - self.baseline.predict(origin)))

    def as_baseline(self) -> DeviationForecaster:
        """The same forecaster with every weight zero: the historical-mean baseline."""
        return replace(self, weights={horizon: 0.0 for horizon in self.weights})


def _by_instant(observations: Iterable[OccupancyObservation]) -> dict[datetime, float]:
    series: dict[datetime, float] = {}
    for observation in observations:
        require_aware(observation.at, "observation")
        series[observation.at] = observation.occupancy
    return series


def fit_deviation_weights(
    observations: Iterable[OccupancyObservation], baseline: HistoricalBaseline, horizons_minutes: Sequence[int]
) -> dict[int, float]:
    """Per horizon, the least-squares weight of the deviation now for the deviation ``h`` ahead, in [0, 1]."""
    series = _by_instant(observations)
    deviation = {at: value - baseline.predict(at) for at, value in series.items()}
    weights: dict[int, float] = {}
    for horizon in horizons_minutes:
        step = timedelta(minutes=horizon)
        cross = square = 0.0
        for at, now in deviation.items():
            later = deviation.get(at + step)
            if later is not None:
                cross += now * later
                square += now * now
        weights[horizon] = _clip(cross / square) if square > 0 else 0.0
    return weights


def fit_forecaster(
    training: Sequence[OccupancyObservation], *, tz: tzinfo, params: ForecastParams = DEFAULT_FORECAST
) -> DeviationForecaster:
    """Fit the baseline and the deviation weights on ``training``."""
    baseline = fit_baseline(training, tz=tz, slot_minutes=params.slot_minutes)
    return DeviationForecaster(baseline, fit_deviation_weights(training, baseline, params.horizons_minutes))


@dataclass(frozen=True, slots=True)
class HorizonScore:
    """Held-out MAE of the model and of the baseline at one horizon."""

    horizon_minutes: int
    pairs: int
    model_mae: float | None
    baseline_mae: float | None
    weight: float
    model_served: bool = False

    @property
    def skill(self) -> float | None:
        """1 − model MAE / baseline MAE: positive when the model is better."""
        if self.model_mae is None or not self.baseline_mae:
            return None
        return 1.0 - self.model_mae / self.baseline_mae


def evaluate_forecaster(
    forecaster: DeviationForecaster, held_out: Iterable[OccupancyObservation], horizons_minutes: Sequence[int]
) -> list[HorizonScore]:
    """MAE (occupancy fraction) of ``forecaster`` and of its baseline on ``held_out``, per horizon.

    Every held-out observation is a forecast origin; it is scored where the observation
    ``h`` minutes later is also held out.
    """
    series = _by_instant(held_out)
    scores: list[HorizonScore] = []
    for horizon in horizons_minutes:
        step = timedelta(minutes=horizon)
        model_error = baseline_error = 0.0
        pairs = 0
        for at, now in series.items():
            actual = series.get(at + step)
            if actual is None:
                continue
            pairs += 1
            model_error += abs(forecaster.predict(at, now, horizon) - actual)
            baseline_error += abs(forecaster.baseline.predict(at + step) - actual)
        scores.append(
            HorizonScore(
                horizon,
                pairs,
                model_error / pairs if pairs else None,
                baseline_error / pairs if pairs else None,
                forecaster.weights.get(horizon, 0.0),
            )
        )
    return scores


@dataclass(frozen=True)
class ForecastSelection:
    """What is served (the model's weights kept only where it won) and the figures behind it."""

    served: DeviationForecaster
    scores: tuple[HorizonScore, ...]

    @property
    def model_served(self) -> bool:
        """Whether the model is served at any horizon (else it is the baseline throughout)."""
        return any(score.model_served for score in self.scores)


def beats_baseline(score: HorizonScore, params: ForecastParams = DEFAULT_FORECAST) -> bool:
    """Whether the model's held-out MAE beats the baseline's by ``min_skill`` on enough pairs."""
    if score.pairs < params.min_evaluation_pairs or score.model_mae is None or score.baseline_mae is None:
        return False
    return score.model_mae < score.baseline_mae * (1.0 - params.min_skill)


def select_forecaster(
    training: Sequence[OccupancyObservation],
    held_out: Sequence[OccupancyObservation],
    *,
    tz: tzinfo,
    params: ForecastParams = DEFAULT_FORECAST,
) -> ForecastSelection:
    """Fit on ``training``, score on ``held_out``, and serve the model only where it beats the baseline.

    ``held_out`` must come after ``training`` (scoring on the past the model was fitted on
    would flatter it).
    """
    if training and held_out and min(o.at for o in held_out) <= max(o.at for o in training):
        raise ValueError("held-out observations must all come after the training observations")
    fitted = fit_forecaster(training, tz=tz, params=params)
    scores = evaluate_forecaster(fitted, held_out, params.horizons_minutes)
    judged = tuple(replace(score, model_served=beats_baseline(score, params)) for score in scores)
    served_weights = {score.horizon_minutes: score.weight if score.model_served else 0.0 for score in judged}
    return ForecastSelection(DeviationForecaster(fitted.baseline, served_weights), judged)


def split_chronologically(
    observations: Iterable[OccupancyObservation], held_out_share: float = 0.2
) -> tuple[list[OccupancyObservation], list[OccupancyObservation]]:
    """Training (earlier) and held-out (the last ``held_out_share``) observations."""
    if not 0.0 < held_out_share < 1.0:
        raise ValueError("held_out_share must lie strictly between 0 and 1")
    ordered = sorted(observations, key=lambda observation: observation.at)
    cut = len(ordered) - round(len(ordered) * held_out_share)
    return ordered[:cut], ordered[cut:]


# -- occupancy on arrival ------------------------------------------------------------------

OccupancyBasis = Literal["live", "forecast", "historical mean"]

#: For normal errors E|e| = σ·√(2/π), so σ = MAE·√(π/2) ≈ 1.2533 × MAE.
SD_PER_MAE = math.sqrt(math.pi / 2)


@dataclass(frozen=True, slots=True)
class ArrivalEstimate:
    """The share of a place expected to be taken on arrival, its spread, and what it rests on."""

    occupancy: float
    sd: float
    basis: OccupancyBasis


def served_mae(score: HorizonScore) -> float | None:
    """The held-out MAE of what is served at this horizon: the model's where it won, else the baseline's."""
    return score.model_mae if score.model_served else score.baseline_mae


def _spread(mae: float | None, default: float) -> float:
    return default if mae is None else min(0.5, max(0.0, mae * SD_PER_MAE))


def estimate_on_arrival(
    selection: ForecastSelection | None,
    *,
    origin: datetime,
    now: datetime,
    arrival: datetime,
    current: float | None,
    live_sd: float,
    live_within: timedelta,
) -> ArrivalEstimate | None:
    """The occupancy at ``arrival`` by the rules in the module docstring; None without any figure.

    ``origin`` is the slot the served forecaster starts from (``now`` floored to the slot);
    ``current`` the live share now; ``live_sd`` the spread given to a live share.
    """
    for name, moment in (("origin", origin), ("now", now), ("arrival", arrival)):
        require_aware(moment, name)
    lead = arrival - now
    if current is not None and (selection is None or lead <= live_within):
        return ArrivalEstimate(_clip(current), live_sd, "live")
    if selection is None:
        return None
    by_horizon = {score.horizon_minutes: score for score in selection.scores}
    horizons = sorted(selection.served.weights)
    last = origin + timedelta(minutes=horizons[-1]) if horizons else origin
    if current is None or arrival > last:
        baseline_maes = [s.baseline_mae for h, s in sorted(by_horizon.items()) if s.baseline_mae is not None]
        sd = _spread(baseline_maes[-1] if baseline_maes else None, live_sd)
        return ArrivalEstimate(_clip(selection.served.baseline.predict(arrival)), sd, "historical mean")
    points: list[tuple[datetime, float, float]] = [(now, _clip(current), live_sd)]
    for horizon in horizons:
        at = origin + timedelta(minutes=horizon)
        if at <= now:
            continue  # a horizon already past (a caller's origin far behind now): the live share knows better
        score = by_horizon.get(horizon)
        sd = _spread(None if score is None else served_mae(score), live_sd)
        points.append((at, selection.served.predict(origin, current, horizon), sd))
    for (t0, p0, s0), (t1, p1, s1) in pairwise(points):
        if arrival <= t1:
            share = (arrival - t0) / (t1 - t0)
            return ArrivalEstimate(_clip(p0 + share * (p1 - p0)), s0 + share * (s1 - s0), "forecast")
    _, share_at, sd_at = points[-1]
    return ArrivalEstimate(share_at, sd_at, "forecast")
