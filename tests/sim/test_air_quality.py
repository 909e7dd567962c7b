"""Air quality: diurnal and traffic patterns, weather-driven episodes, low-cost sensor bias, faults."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import datetime

import pytest

from urbis.sim.air_quality import (
    AirModel,
    StationSpec,
    barkjohn_corrected,
    barkjohn_raw,
    local_hour,
    traffic_profile,
)
from urbis.sim.faults import Fault
from urbis.sim.lighting import BERLIN

KERB = StationSpec("aq-kerb", "reference", traffic_exposure=0.95, urban=0.9)
PARK = StationSpec("aq-park", "reference", traffic_exposure=0.02, urban=0.3)
CHEAP = StationSpec("aq-cheap", "low-cost", traffic_exposure=0.02, urban=0.3)
MONDAY = datetime(2026, 11, 2, tzinfo=BERLIN).timestamp()  # four whole weeks from here


@pytest.fixture(scope="module")
def model() -> AirModel:
    return AirModel(7)


@pytest.fixture(scope="module")
def month(model: AirModel) -> list[float]:
    return [MONDAY + k * 1800 for k in range(28 * 48)]


def hourly_means(values: list[tuple[float, float]], weekdays_only: bool = True) -> dict[int, float]:
    by_hour: dict[int, list[float]] = defaultdict(list)
    for t, value in values:
        hour, weekday, _ = local_hour(t)
        if not weekdays_only or weekday < 5:
            by_hour[int(hour)].append(value)
    return {hour: statistics.mean(items) for hour, items in by_hour.items()}


def test_traffic_has_two_rush_hours_on_weekdays() -> None:
    weekday = [traffic_profile(h, 1) for h in range(24)]
    assert weekday.index(max(weekday)) in (7, 8)
    assert weekday[17] > weekday[13] and weekday[17] > weekday[21]
    assert weekday[3] < 0.2 * max(weekday)
    assert max(traffic_profile(h, 6) for h in range(24)) < 0.6 * max(weekday)  # Sundays are quiet


def test_no2_has_a_double_peak_at_the_kerb(model: AirModel, month: list[float]) -> None:
    means = hourly_means([(t, model.truth(KERB, t).no2) for t in month])
    assert means[8] > 1.5 * means[3] and means[17] > 1.5 * means[3]
    assert means[8] > means[12] and means[17] > means[13]


def test_the_kerb_sees_more_no2_than_the_park(model: AirModel, month: list[float]) -> None:
    kerb = statistics.mean(model.truth(KERB, t).no2 for t in month)
    park = statistics.mean(model.truth(PARK, t).no2 for t in month)
    assert kerb > 1.8 * park
    assert 8 < park < 40 and 25 < kerb < 80  # µg/m³, of the order of German urban stations


def test_ozone_peaks_in_the_afternoon(model: AirModel, month: list[float]) -> None:
    means = hourly_means([(t, model.truth(PARK, t).o3) for t in month], weekdays_only=False)
    peak = max(means, key=lambda hour: means[hour])
    assert 13 <= peak <= 17
    assert means[peak] > 1.2 * means[6]


def test_pm_is_log_normal_with_wind_driven_episodes(model: AirModel, month: list[float]) -> None:
    weather = [model.weather(t) for t in month]
    logs = [math.log(w.pm25_regional) for w in weather]
    winds = [math.log(w.wind) for w in weather]
    # Calm air, dirty air: a clearly negative correlation between log wind and log PM.
    assert statistics.correlation(winds, logs) < -0.4
    # Episodes last days: daily means differ much more than noise would make them.
    daily = [statistics.mean(logs[d * 48 : (d + 1) * 48]) for d in range(28)]
    assert max(daily) - min(daily) > 1.0
    # Log-normal: the mean is above the median.
    values = [w.pm25_regional for w in weather]
    assert statistics.mean(values) > statistics.median(values)
    assert all(25.0 <= w.humidity <= 100.0 and 0 < w.wind < 40 for w in weather)
    assert -10 < min(w.temperature for w in weather) < max(w.temperature for w in weather) < 25  # November


def test_pm10_exceeds_pm25(model: AirModel, month: list[float]) -> None:
    for t in month[::7]:
        sample = model.truth(KERB, t)
        assert sample.pm10 > sample.pm25 > 0


def test_low_cost_pm_reads_high_and_the_epa_correction_recovers_it(model: AirModel, month: list[float]) -> None:
    ratios, errors = [], []
    for t in month[::3]:
        truth = model.truth(CHEAP, t)
        read = model.reading(CHEAP, t)
        ratios.append(read.pm25 / truth.pm25)
        errors.append(barkjohn_corrected(read.pm25, truth.humidity) - truth.pm25)
    # Barkjohn 2021: raw PurpleAir readings run about 40 % high, more in humid air (November in Bonn).
    assert statistics.median(ratios) > 1.3
    # The US-EPA correction brings them back (noise of the sensor stays).
    assert abs(statistics.median(errors)) < 2.0


def test_barkjohn_inverse_by_hand() -> None:
    # PM 9 µg/m³ at 40 % RH: raw = (9 + 0.0862 x 40 - 5.75) / 0.524 = 12.78, i.e. 42 % high.
    assert barkjohn_raw(9.0, 40.0) == pytest.approx(12.78, abs=0.01)
    assert barkjohn_corrected(barkjohn_raw(9.0, 40.0), 40.0) == pytest.approx(9.0)
    assert barkjohn_raw(1.0, 20.0) == pytest.approx(1.1)  # very clean air: never below the truth


def test_reference_readings_stay_close_to_the_truth(model: AirModel, month: list[float]) -> None:
    for t in month[::11]:
        truth, read = model.truth(KERB, t), model.reading(KERB, t)
        assert read.no2 == pytest.approx(truth.no2, rel=0.1)
        assert read.pm25 == pytest.approx(truth.pm25, rel=0.1)


def test_a_stuck_sensor_flatlines(model: AirModel) -> None:
    stuck = Fault(CHEAP.device_id, "stuck", MONDAY, MONDAY + 86_400)
    readings = {model.reading(CHEAP, MONDAY + k * 300, [stuck]).as_measures().__repr__() for k in range(1, 100)}
    assert len(readings) == 1
    assert model.reading(CHEAP, MONDAY + 90_000, [stuck]) != model.reading(CHEAP, MONDAY, [stuck])


def test_a_drifting_sensor_reads_ever_higher(model: AirModel) -> None:
    drift = Fault(CHEAP.device_id, "drift", MONDAY, MONDAY + 30 * 86_400)
    ratios = []
    for day in (1, 5, 10):
        t = MONDAY + day * 86_400
        ratios.append(model.reading(CHEAP, t, [drift]).o3 / max(1e-6, model.reading(CHEAP, t).o3))
    assert 1.0 < ratios[0] < ratios[1] < ratios[2] <= 1.81


def test_readings_are_a_pure_function_of_time(model: AirModel) -> None:
    t = MONDAY + 12_345
    assert AirModel(7).reading(CHEAP, t) == model.reading(CHEAP, t)
    assert AirModel(8).reading(CHEAP, t) != model.reading(CHEAP, t)
    assert set(model.reading(CHEAP, t).as_measures()) == {"pm25", "pm10", "no2", "o3", "temperature", "humidity"}
