"""The next-24-hours forecast (diurnal profile + fading anomaly), persistence, and their backtest."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from urbis.solutions.air_quality.model import (
    HourlyPoint,
    evaluate_forecast,
    fit_diurnal_model,
    forecast_next_hours,
    persistence_forecast,
)

T0 = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def two_days() -> list[HourlyPoint]:
    # Day 1: value = hour of day; day 2: hour of day + 2.
    return [(T0 + HOUR * n, float(n % 24 + (2 if n >= 24 else 0))) for n in range(48)]


def test_fit_by_hand() -> None:
    model = fit_diurnal_model(two_days())
    # Profile = mean of h and h + 2 = h + 1; anomalies −1 on day 1, +1 on day 2.
    assert model.profile == tuple(float(h + 1) for h in range(24))
    # Lag-1 pairs: 23 of (−1)(−1), one of (−1)(+1), 23 of (+1)(+1) → Σ = 45 over Σ a² = 47
    assert model.persistence == pytest.approx(45 / 47)
    assert (model.last_at, model.last_value) == (T0 + HOUR * 47, 25.0)


def test_forecast_by_hand() -> None:
    forecast = forecast_next_hours(two_days())
    assert len(forecast) == 24
    assert [point.start for point in forecast] == [T0 + HOUR * (48 + lead) for lead in range(24)]
    # Lead 1 (hour 0): profile 1 + anomaly 1 · (45/47)^1 = 1.9574
    assert forecast[0].value == pytest.approx(1 + 45 / 47)
    # Lead 24 (hour 23): 24 + (45/47)^24 = 24.3522
    assert forecast[-1].value == pytest.approx(24 + (45 / 47) ** 24)


def test_persistence_repeats_the_last_valid_value() -> None:
    history = [*two_days(), (T0 + HOUR * 48, None)]
    forecast = persistence_forecast(history, hours=3)
    assert [(p.start, p.value) for p in forecast] == [(T0 + HOUR * (49 + lead), 25.0) for lead in range(3)]


def test_the_anomaly_fades_from_the_last_valid_hour() -> None:
    history = [*two_days(), (T0 + HOUR * 48, None), (T0 + HOUR * 49, None)]
    forecast = forecast_next_hours(history, hours=1)
    # The last value is 3 hours before the target (hour 2 of day 3): 3 + (45/47)^3
    assert forecast[0].value == pytest.approx(3 + (45 / 47) ** 3)


def test_a_forecast_is_never_negative() -> None:
    history = [(T0 + HOUR * n, 0.0 if n % 24 else 100.0) for n in range(72)] + [(T0 + HOUR * 72, 0.0)]
    assert min(point.value for point in forecast_next_hours(history)) >= 0.0


def test_history_must_be_aware_hourly_and_in_order() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        fit_diurnal_model([(datetime(2026, 5, 4), 1.0)])  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="on the hour"):
        fit_diurnal_model([(T0 + timedelta(minutes=5), 1.0)])
    with pytest.raises(ValueError, match="increasing"):
        fit_diurnal_model([(T0 + HOUR, 1.0), (T0, 1.0)])
    with pytest.raises(ValueError, match="no valid"):
        fit_diurnal_model([(T0, None)])
    with pytest.raises(ValueError, match="no history"):
        fit_diurnal_model([])
    with pytest.raises(ValueError, match="no valid"):
        persistence_forecast([(T0, None)])


def test_backtest_by_hand() -> None:
    # Origin at T0+1h (history 10, 20); the target T0+2h is 30.
    # Persistence says 20 → error 10.  The model: hours 0 and 1 profile 10 and 20, hour 2 takes
    # the overall mean 15; the anomalies are 0, so it says 15 → error 15.
    series: list[HourlyPoint] = [(T0, 10.0), (T0 + HOUR, 20.0), (T0 + 2 * HOUR, 30.0)]
    result = evaluate_forecast(series, min_history_hours=2, horizon=1, step=1)
    assert (result.model_mae, result.persistence_mae, result.compared_hours, result.origins) == (15.0, 10.0, 1, 1)
    assert not result.beats_persistence
    assert result.skill == pytest.approx(-0.5)


def diurnal_city(days: int) -> list[HourlyPoint]:
    # A rush-hour shaped NO2 day plus a slow, deterministic day-to-day drift and wiggle.
    series: list[HourlyPoint] = []
    for n in range(days * 24):
        hour = n % 24
        shape = 20 + 15 * math.sin(2 * math.pi * (hour - 6) / 24) + 10 * math.exp(-((hour - 8) ** 2) / 4)
        drift = 5 * math.sin(2 * math.pi * n / (24 * 9))
        wiggle = 2 * math.sin(n * 1.7)
        series.append((T0 + HOUR * n, shape + drift + wiggle))
    return series


def test_the_model_beats_persistence_on_a_diurnal_city() -> None:
    result = evaluate_forecast(diurnal_city(28))
    # 672 hours: the first origin is hour 167 (168 hours of history), the last hour 647 (647 + 24 = 671,
    # the last hour): (647 − 167)/24 + 1 = 21 origins, each scored on 24 hours.
    assert result.origins == 21
    assert result.compared_hours == 21 * 24
    assert result.model_mae is not None and result.persistence_mae is not None
    assert result.beats_persistence
    assert result.model_mae < 0.5 * result.persistence_mae
    assert len(result.per_lead_model_mae) == 24


def test_on_a_steady_level_nothing_beats_persistence() -> None:
    steady: list[HourlyPoint] = [(T0 + HOUR * n, 12.0) for n in range(10 * 24)]
    result = evaluate_forecast(steady)
    assert (result.model_mae, result.persistence_mae) == (0.0, 0.0)
    assert not result.beats_persistence
    assert result.skill is None


def test_backtest_skips_missing_truth_and_validates() -> None:
    series = diurnal_city(9)
    gappy = [(moment, None if n % 2 else value) for n, (moment, value) in enumerate(series)]
    result = evaluate_forecast(gappy)
    assert result.compared_hours == result.origins * 12  # only every other hour has an observation
    assert evaluate_forecast([]).origins == 0
    with pytest.raises(ValueError, match="positive"):
        evaluate_forecast(series, step=0)
