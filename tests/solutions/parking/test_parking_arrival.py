"""Occupancy on arrival: live, the forecast interpolated between horizons, the historical mean; and its spread."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from urbis.solutions.parking.const import GuidanceParams
from urbis.solutions.parking.forecast import (
    ArrivalEstimate,
    DeviationForecaster,
    ForecastSelection,
    HistoricalBaseline,
    HorizonScore,
    estimate_on_arrival,
)
from urbis.solutions.parking.guidance import Destination, ParkingCandidate, rank_options
from urbis.solutions.parking.occupancy import step_means

ORIGIN = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # a Tuesday (weekday 1); slot 32 of the day
LIVE = timedelta(minutes=5)
# σ = MAE·√(π/2) for normal errors: √(π/2) = 1.2533141.
SQRT_HALF_PI = 1.2533141


def selection() -> ForecastSelection:
    """A hand-made forecaster: the usual Tuesday morning rises from 0.5 at 08:00 to 0.9 at 09:30.

    The model won at 15 and 30 minutes (weights 0.8 and 0.6 served), lost at 60 (weight 0: the
    baseline is served there, and its MAE is the one that counts).
    """
    usual = {32: 0.5, 33: 0.6, 34: 0.7, 35: 0.75, 36: 0.8, 37: 0.85, 38: 0.9}
    baseline = HistoricalBaseline(UTC, 15, {(1, slot): share for slot, share in usual.items()}, {}, 0.5)
    scores = (
        HorizonScore(15, 200, model_mae=0.04, baseline_mae=0.05, weight=0.8, model_served=True),
        HorizonScore(30, 200, model_mae=0.06, baseline_mae=0.07, weight=0.6, model_served=True),
        HorizonScore(60, 200, model_mae=0.10, baseline_mae=0.08, weight=0.3, model_served=False),
    )
    return ForecastSelection(DeviationForecaster(baseline, {15: 0.8, 30: 0.6, 60: 0.0}), scores)


def estimate(
    arrival: datetime, *, current: float | None = 0.6, now: datetime = ORIGIN, chosen: bool = True
) -> ArrivalEstimate | None:
    return estimate_on_arrival(
        selection() if chosen else None,
        origin=ORIGIN,
        now=now,
        arrival=arrival,
        current=current,
        live_sd=0.05,
        live_within=LIVE,
    )


# Live 0.6 at 08:00, 0.1 above the usual 0.5.  Served forecasts from 08:00:
#   +15 (08:15): 0.6 + 0.8 × 0.1 = 0.68, σ = 0.04 × 1.2533141 = 0.0501326
#   +30 (08:30): 0.7 + 0.6 × 0.1 = 0.76, σ = 0.06 × 1.2533141 = 0.0751988
#   +60 (09:00): 0.8 + 0   × 0.1 = 0.80, σ = 0.08 × 1.2533141 = 0.1002651 (the baseline's MAE: it is served)


def test_between_the_30_and_60_minute_horizons_the_forecast_is_interpolated() -> None:
    # 08:45 lies halfway from 08:30 to 09:00:  (0.76 + 0.80) / 2 = 0.78;  σ = (0.0751988 + 0.1002651) / 2 = 0.0877320.
    found = estimate(ORIGIN + timedelta(minutes=45))
    assert found is not None and found.basis == "forecast"
    assert found.occupancy == pytest.approx(0.78) and found.sd == pytest.approx(0.0877320, abs=1e-6)
    # Exactly on a horizon: its forecast.
    at_30 = estimate(ORIGIN + timedelta(minutes=30))
    assert at_30 is not None and at_30.occupancy == pytest.approx(0.76)
    assert at_30.sd == pytest.approx(0.06 * SQRT_HALF_PI, abs=1e-6)


def test_before_the_first_horizon_it_runs_from_the_live_share() -> None:
    # 08:10 is 10/15 of the way from now (0.6, σ 0.05) to 08:15 (0.68, σ 0.0501326):
    # 0.6 + ⅔ × 0.08 = 0.653333;  σ = 0.05 + ⅔ × 0.0001326 = 0.0500884.
    found = estimate(ORIGIN + timedelta(minutes=10))
    assert found is not None and found.basis == "forecast"
    assert found.occupancy == pytest.approx(0.653333, abs=1e-6) and found.sd == pytest.approx(0.0500884, abs=1e-6)
    # Now at 08:05 (the forecaster still starts from the 08:00 slot): 08:12 is 7/10 of the way to 08:15,
    # 0.6 + 0.7 × 0.08 = 0.656.
    later = estimate(ORIGIN + timedelta(minutes=12), now=ORIGIN + timedelta(minutes=5))
    assert later is not None and later.occupancy == pytest.approx(0.656)


def test_within_a_few_minutes_the_live_share_stands() -> None:
    for minutes in (0, 3, 5):
        found = estimate(ORIGIN + timedelta(minutes=minutes))
        assert found is not None and (found.occupancy, found.sd, found.basis) == (0.6, 0.05, "live")
    # An arrival "before now" is now.
    past = estimate(ORIGIN - timedelta(minutes=30))
    assert past is not None and past.basis == "live"


def test_beyond_the_last_horizon_the_historical_mean_of_the_arrival_slot() -> None:
    # 09:30 on a Tuesday: slot 38, usual 0.9, whatever the deviation now; σ from the baseline's MAE (0.08).
    found = estimate(ORIGIN + timedelta(minutes=90))
    assert found is not None and found.basis == "historical mean"
    assert found.occupancy == pytest.approx(0.9) and found.sd == pytest.approx(0.08 * SQRT_HALF_PI, abs=1e-6)


def test_without_a_live_share_the_historical_mean_and_without_a_forecaster_the_live_share() -> None:
    no_live = estimate(ORIGIN + timedelta(minutes=45), current=None)
    assert no_live is not None and (no_live.occupancy, no_live.basis) == (0.75, "historical mean")  # slot 35
    no_forecaster = estimate(ORIGIN + timedelta(minutes=45), chosen=False)
    assert no_forecaster is not None and (no_forecaster.occupancy, no_forecaster.basis) == (0.6, "live")
    assert estimate(ORIGIN + timedelta(minutes=45), current=None, chosen=False) is None


def test_guidance_uses_each_place_s_own_spread() -> None:
    # Three spaces at a forecast share of 0.5 with σ² = 1/12: κ = 0.25 / (1/12) − 1 = 2, a = b = 1 (uniform share):
    # P(full) = E[P³] = ½ · ⅔ · ¾ = ¼  →  P(free) = 0.75, cost = walk + 0.25 × 600 = walk + 150.
    # With the default σ 0.05 it would be κ = 99, a = b = 49.5:  1 − 0.5 · 0.505 · 0.509901 = 1 − 0.128750 = 0.871250.
    here = Destination(13.4, 52.52)
    spread = ParkingCandidate(
        "z", "zone", 13.4, 52.52, capacity=3, forecast_occupancy=0.5, occupancy_sd=math.sqrt(1 / 12), basis="forecast"
    )
    default = ParkingCandidate("d", "zone", 13.4, 52.52, capacity=3, forecast_occupancy=0.5)
    options = {o.candidate.place_id: o for o in rank_options(here, [spread, default], GuidanceParams())}
    assert options["z"].probability_free == pytest.approx(0.75) and options["z"].expected_cost_m == pytest.approx(150)
    assert options["d"].probability_free == pytest.approx(0.871250, abs=1e-6)
    assert options["z"].occupancy_sd == pytest.approx(math.sqrt(1 / 12)) and options["d"].occupancy_sd == 0.05


def test_step_means_weigh_time_and_leave_unknown_time_out() -> None:
    t = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def at(minutes: int) -> datetime:
        return t + timedelta(minutes=minutes)

    steps = [(at(-60), 1.0), (at(20), 0.0), (at(35), None), (at(40), 0.0), (at(50), 1.0)]
    edges = [at(0), at(15), at(30), at(45), at(60)]
    # [0,15) taken; [15,30) 5 taken of 15; [30,45) free except 5 unknown minutes: 0 of 10; [45,60) 10 taken of 15.
    assert step_means(steps, edges) == pytest.approx([1.0, 1 / 3, 0.0, 2 / 3])
    # One hour: 30 taken minutes of 55 known.
    assert step_means(steps, [at(0), at(60)]) == pytest.approx([30 / 55])
    # Nothing known before the first step; edges must increase.
    assert step_means([(at(50), 1.0)], [at(0), at(30), at(60)]) == [None, 1.0]
    with pytest.raises(ValueError):
        step_means(steps, [at(10), at(10)])
