"""Hourly and daily means with completeness rules, O3 daily maximum 8-h mean, WHO 2021 exceedances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from urbis.solutions.air_quality.const import Averaging, Pollutant, Unit
from urbis.solutions.air_quality.model import (
    QcFlag,
    Sample,
    daily_mean,
    hourly_means,
    mean_if_complete,
    o3_daily_max_8h,
    require_utc,
    running_means,
    who_attained_level,
    who_exceedances,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def minutes(count: int, value: float = 10.0, start: datetime = T0) -> list[Sample]:
    return [Sample(start + timedelta(minutes=m), value) for m in range(count)]


def test_an_hour_needs_three_quarters_of_its_readings() -> None:
    # 60 expected → 45 needed
    complete = hourly_means(minutes(45), expected_per_hour=60)
    assert [(h.start, h.value, h.valid_samples) for h in complete] == [(T0, 10.0, 45)]
    incomplete = hourly_means(minutes(44), expected_per_hour=60)
    assert (incomplete[0].value, incomplete[0].valid_samples) == (None, 44)


def test_flagged_readings_are_counted_but_not_averaged() -> None:
    samples = [*minutes(45, 10.0), Sample(T0 + timedelta(minutes=50), 900.0, (QcFlag.SPIKE,))]
    [hour] = hourly_means(samples, expected_per_hour=60)
    assert (hour.value, hour.valid_samples, hour.flagged_samples) == (10.0, 45, 1)


def test_an_hour_with_only_flagged_readings_still_appears() -> None:
    [hour] = hourly_means([Sample(T0, 5.0, (QcFlag.STUCK,))], expected_per_hour=1)
    assert (hour.start, hour.value, hour.flagged_samples) == (T0, None, 1)


def test_readings_are_grouped_by_utc_hour() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    samples = [
        Sample(datetime(2026, 3, 2, 11, 30, tzinfo=berlin_winter), 4.0),  # 10:30 UTC
        Sample(datetime(2026, 3, 2, 10, 45, tzinfo=UTC), 6.0),
        Sample(datetime(2026, 3, 2, 11, 5, tzinfo=UTC), 1.0),
    ]
    means = hourly_means(samples, expected_per_hour=2)
    assert [(h.start, h.value) for h in means] == [(T0, 5.0), (T0 + timedelta(hours=1), None)]
    assert means[0].start.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Sample(datetime(2026, 3, 2, 10, 0), 1.0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        require_utc(datetime(2026, 3, 2))  # noqa: DTZ001


def test_hourly_means_arguments() -> None:
    with pytest.raises(ValueError, match="expected_per_hour"):
        hourly_means([], expected_per_hour=0)
    with pytest.raises(ValueError, match="min_fraction"):
        hourly_means([], expected_per_hour=4, min_fraction=0)


def test_a_day_needs_18_of_24_hours() -> None:
    eighteen = [10.0] * 9 + [20.0] * 9 + [None] * 6  # mean (9·10 + 9·20)/18 = 15
    assert daily_mean(eighteen) == 15.0
    seventeen = [10.0] * 17 + [None] * 7
    assert daily_mean(seventeen) is None
    with pytest.raises(ValueError, match="24 hourly values"):
        daily_mean([1.0] * 23)


def test_mean_if_complete() -> None:
    assert mean_if_complete([1.0, None, 3.0], 2) == 2.0
    assert mean_if_complete([1.0, None, None], 2) is None
    assert mean_if_complete([], 0) is None


def test_running_means() -> None:
    # window 3, 2 valid needed: [1,2,3] → 2, [2,3,–] → 2.5, [3,–,–] → none, [–,–,9] → none
    assert running_means([1.0, 2.0, 3.0, None, None, 9.0], window=3, min_valid=2) == [2.0, 2.5, None, None]
    with pytest.raises(ValueError, match="min_valid"):
        running_means([1.0], window=3, min_valid=4)


def o3_day() -> list[float | None]:
    hours: list[float | None] = [30.0] * 24
    hours[8:16] = [80.0] * 8  # 15:00–22:00 LST (index 0 is 07:00)
    return hours


def test_o3_daily_max_is_the_highest_8h_mean() -> None:
    result = o3_daily_max_8h(o3_day())
    # The window starting at index 8 (15:00) averages eight 80s.
    assert (result.value, result.valid_averages, result.peak_start_hour) == (80.0, 17, 15)


def test_o3_8h_means_need_6_of_8_hours() -> None:
    hours: list[float | None] = [30.0] * 24
    hours[9:17] = [90.0] * 8  # the window starting at index 9 (16:00 LST)
    hours[13] = hours[16] = None
    # 6 of 8 hours left in the 16:00 window: its mean is 90
    assert o3_daily_max_8h(hours).value == 90.0
    hours[9] = None
    # Now 5 of 8: the 16:00 window drops out (it would still say 90). Best left are the 15:00
    # window (index 8: 30 + five 90s over 6 hours = 480/6 = 80) and the 17:00 one (also 80).
    result = o3_daily_max_8h(hours)
    assert (result.value, result.valid_averages, result.peak_start_hour) == (80.0, 16, 15)


def test_o3_daily_max_needs_13_of_17_means() -> None:
    hours = o3_day()
    hours[0:6] = [None] * 6  # windows 0–3 miss 6, 5, 4, 3 hours → 4 invalid, 13 valid
    assert o3_daily_max_8h(hours).valid_averages == 13
    assert o3_daily_max_8h(hours).value == 80.0
    hours[6] = None  # windows 0–4 miss 7, 6, 5, 4, 3 → 5 invalid, 12 valid
    result = o3_daily_max_8h(hours)
    assert (result.value, result.valid_averages, result.peak_start_hour) == (None, 12, None)


def test_o3_daily_max_needs_24_hours() -> None:
    with pytest.raises(ValueError, match="24 hourly values"):
        o3_daily_max_8h([1.0] * 17)


def year_of(value: float, high_days: int, high: float) -> list[float | None]:
    days: list[float | None] = [high] * high_days
    return days + [value] * (365 - high_days)


def test_who_exceedances_allow_three_days_in_a_year() -> None:
    # PM2.5 24-h AQG is 15 µg/m³, a 99th percentile: floor(1 % · 365) = 3 days allowed
    three = who_exceedances(year_of(10.0, 3, 15.1), Pollutant.PM25)
    assert (three.exceedance_days, three.valid_days, three.allowed_days, three.complies) == (3, 365, 3, True)
    four = who_exceedances(year_of(10.0, 4, 15.1), Pollutant.PM25)
    assert (four.exceedance_days, four.complies) == (4, False)
    assert four.level.name == "AQG"
    assert four.unit == Unit.UG_M3


def test_a_value_at_the_guideline_is_not_an_exceedance() -> None:
    assert who_exceedances(year_of(10.0, 10, 15.0), Pollutant.PM25).exceedance_days == 0


def test_missing_days_are_not_counted() -> None:
    days: list[float | None] = [20.0, None, 10.0, None]
    result = who_exceedances(days, Pollutant.PM25)
    assert (result.exceedance_days, result.valid_days, result.allowed_days) == (1, 2, 0)


def test_exceedances_of_an_interim_target_and_of_o3_8h() -> None:
    # PM2.5 IT-4 is 25: 30 exceeds, 20 does not
    assert who_exceedances([30.0, 20.0], Pollutant.PM25, level="IT-4").exceedance_days == 1
    # O3 8-h AQG 100 µg/m³, on daily maximum 8-h means
    assert who_exceedances([101.0, 99.0], Pollutant.O3, averaging=Averaging.HOUR_8).exceedance_days == 1
    # SO2 24-h AQG is 40 (not 50): 45 exceeds
    assert who_exceedances([45.0], Pollutant.SO2).exceedance_days == 1


def test_exceedances_need_a_short_term_guideline() -> None:
    with pytest.raises(ValueError, match="long-term"):
        who_exceedances([10.0], Pollutant.PM25, averaging=Averaging.ANNUAL)
    with pytest.raises(ValueError, match="no 1h guideline"):
        who_exceedances([10.0], Pollutant.PM25, averaging=Averaging.HOUR_1)


@pytest.mark.parametrize(
    ("value", "level"), [(4.0, "AQG"), (5.0, "AQG"), (5.1, "IT-4"), (12.0, "IT-3"), (35.0, "IT-1"), (36.0, None)]
)
def test_who_attained_level_for_annual_pm25(value: float, level: str | None) -> None:
    attained = who_attained_level(Pollutant.PM25, Averaging.ANNUAL, value)
    assert (attained.name if attained else None) == level
