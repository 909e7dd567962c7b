"""What residents see near them, by hand: AQI levels, the forecast in runs of hours, when a station measured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbis.citizens.nearby import ForecastSegment, aqi_level, forecast_segments, measured_at, pm25_level
from urbis.solutions.air_quality.model import ForecastPoint, IndexResult
from urbis.solutions.air_quality.service import StationAirQuality

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("index", "level"),
    [(None, None), (0, 1), (50, 1), (51, 2), (100, 2), (101, 3), (150, 3), (151, 4), (201, 5), (301, 6), (612, 6)],
)
def test_aqi_levels_follow_the_epa_categories(index: int | None, level: int | None) -> None:
    assert aqi_level(index) == level


@pytest.mark.parametrize(
    ("concentration", "level"),
    # PM2.5 rows of 2024: 0-9.0 good, 9.1-35.4 moderate, 35.5-55.4 sensitive, 55.5-125.4 unhealthy (values truncated).
    [(0.0, 1), (9.09, 1), (9.1, 2), (35.49, 2), (35.5, 3), (55.5, 4), (125.5, 5), (300.0, 6), (-1.0, None)],
)
def test_hourly_pm25_is_read_on_the_24_hour_table(concentration: float, level: int | None) -> None:
    assert pm25_level(concentration) == level


def test_the_forecast_is_told_in_runs_of_equal_level() -> None:
    values = [5.0, 6.0, 12.0, 20.0, 40.0, 8.0]  # good, good, moderate, moderate, sensitive, good
    points = [ForecastPoint(T0 + timedelta(hours=n), value) for n, value in enumerate(values)]
    assert forecast_segments(points) == [
        ForecastSegment(1, T0, T0 + timedelta(hours=2)),
        ForecastSegment(2, T0 + timedelta(hours=2), T0 + timedelta(hours=4)),
        ForecastSegment(3, T0 + timedelta(hours=4), T0 + timedelta(hours=5)),
        ForecastSegment(1, T0 + timedelta(hours=5), T0 + timedelta(hours=6)),
    ]
    # A missing hour starts a new run even at the same level.
    gap = [ForecastPoint(T0, 5.0), ForecastPoint(T0 + timedelta(hours=2), 5.0)]
    assert [(s.start, s.end) for s in forecast_segments(gap)] == [
        (T0, T0 + timedelta(hours=1)),
        (T0 + timedelta(hours=2), T0 + timedelta(hours=3)),
    ]
    assert forecast_segments([]) == []


def test_a_station_measured_at_the_end_of_its_last_hour_with_a_value() -> None:
    empty = IndexResult("us-2024", None, None, None, None, ())
    hourly = {"pm25": [None] * 24, "no2": [None] * 24}
    hourly["pm25"][20] = 7.0  # the hour from end-4h to end-3h
    hourly["no2"][18] = 30.0
    station = StationAirQuality("s", "S", None, None, empty, empty, hourly)
    end = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert measured_at(station, end) == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    silent = StationAirQuality("s", "S", None, None, empty, empty, {"pm25": [None] * 24})
    assert measured_at(silent, end) is None
