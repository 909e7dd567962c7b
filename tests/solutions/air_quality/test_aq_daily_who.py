"""Daily values on the city's calendar (local days, DST, O3 days) and WHO figures over a window, worked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from urbis.solutions.air_quality.const import Averaging, Pollutant
from urbis.solutions.air_quality.model import (
    CheckedValue,
    DailyValue,
    DayStatus,
    QcFlag,
    civil_day_mean,
    daily_values,
    local_day_start,
    o3_day_start,
    who_area,
    who_summary,
)

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")


def test_local_days_follow_the_city_clock_and_its_dst_changes() -> None:
    # Winter: Berlin is UTC+1, so 5 January begins at 23:00 UTC on the 4th.
    assert local_day_start(date(2026, 1, 5), BERLIN) == datetime(2026, 1, 4, 23, tzinfo=UTC)
    # 29 March 2026 springs forward at 02:00: the day runs 23:00Z (28th) to 22:00Z, 23 hours.
    spring = local_day_start(date(2026, 3, 29), BERLIN)
    assert spring == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert local_day_start(date(2026, 3, 30), BERLIN) - spring == timedelta(hours=23)
    # 25 October 2026 falls back at 03:00: 22:00Z (24th) to 23:00Z, 25 hours.
    autumn = local_day_start(date(2026, 10, 25), BERLIN)
    assert autumn == datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert local_day_start(date(2026, 10, 26), BERLIN) - autumn == timedelta(hours=24 + 1)
    # A half-hour zone: Kolkata is UTC+5:30 all year.
    assert local_day_start(date(2026, 1, 5), KOLKATA) == datetime(2026, 1, 4, 18, 30, tzinfo=UTC)


def test_an_o3_day_starts_at_seven_local_standard_time_all_year() -> None:
    # 07:00 CET (UTC+1) is 06:00Z in winter, and still 06:00Z in summer (08:00 CEST on the wall).
    assert o3_day_start(date(2026, 1, 15), BERLIN) == datetime(2026, 1, 15, 6, tzinfo=UTC)
    assert o3_day_start(date(2026, 7, 1), BERLIN) == datetime(2026, 7, 1, 6, tzinfo=UTC)
    assert o3_day_start(date(2026, 7, 1), KOLKATA) == datetime(2026, 7, 1, 1, 30, tzinfo=UTC)


def test_a_local_day_needs_three_quarters_of_its_hours() -> None:
    # 24 hours: 18 needed. 9 × 10 and 9 × 20 → 15.
    assert civil_day_mean([10.0] * 9 + [20.0] * 9 + [None] * 6) == 15.0
    assert civil_day_mean([10.0] * 17 + [None] * 7) is None
    # 23 hours (spring): ceil(0.75 · 23) = ceil(17.25) = 18.
    assert civil_day_mean([12.0] * 18 + [None] * 5) == 12.0
    assert civil_day_mean([12.0] * 17 + [None] * 6) is None
    # 25 hours (autumn): ceil(0.75 · 25) = ceil(18.75) = 19, so 18 is not enough.
    assert civil_day_mean([12.0] * 18 + [None] * 7) is None
    assert civil_day_mean([12.0] * 19 + [None] * 6) == 12.0
    with pytest.raises(ValueError, match="23 to 25"):
        civil_day_mean([1.0] * 22)


def grid(length: int, values: dict[int, CheckedValue]) -> list[CheckedValue]:
    return [values.get(position, CheckedValue(None)) for position in range(length)]


def test_daily_values_of_local_days_count_flagged_and_unfinished_days_apart() -> None:
    # Grid from local midnight of 29 March (23:00Z on the 28th): the day has 23 hours (0-22),
    # 30 March the next 24 (23-46), 31 March from 47.
    origin = local_day_start(date(2026, 3, 29), BERLIN)
    values = {n: CheckedValue(10.0 if n % 2 else 20.0) for n in range(18)}  # 9 × 10, 9 × 20 → 15
    values[18] = CheckedValue(90.0, (QcFlag.SPIKE,))  # kept visible, never averaged
    values.update({n: CheckedValue(30.0) for n in range(23, 23 + 17)})  # 17 of 24: incomplete
    values.update({n: CheckedValue(40.0) for n in range(47, 47 + 20)})  # 31 March, not over yet
    until = origin + timedelta(hours=70)  # 31 March ends at 47 + 24 = 71 hours from the origin
    days = [date(2026, 3, 29), date(2026, 3, 30), date(2026, 3, 31)]
    found = daily_values(Pollutant.PM25, origin, grid(70, values), days, BERLIN, until=until)
    assert found == [
        DailyValue(date(2026, 3, 29), DayStatus.COMPLETE, 15.0, 23, 18, 1),
        DailyValue(date(2026, 3, 30), DayStatus.INCOMPLETE, None, 24, 17, 0),
        DailyValue(date(2026, 3, 31), DayStatus.IN_PROGRESS, None, 24, 20, 0),
    ]
    assert found[0].complete and not found[1].complete


def test_a_day_before_the_grid_has_no_hours() -> None:
    origin = local_day_start(date(2026, 1, 5), BERLIN)
    (day,) = daily_values(
        Pollutant.NO2, origin, grid(24, {}), [date(2026, 1, 4)], BERLIN, until=origin + timedelta(days=3)
    )
    assert (day.status, day.hours, day.valid_hours) == (DayStatus.INCOMPLETE, 24, 0)


def test_the_o3_day_is_the_highest_8h_mean_from_seven_to_seven_standard_time() -> None:
    # Local midnight of 1 July is 22:00Z on 30 June; its O3 day starts 06:00Z = 8 hours later.
    origin = local_day_start(date(2026, 7, 1), BERLIN)
    values = {8 + n: CheckedValue(30.0 + n % 2) for n in range(24)}  # 30/31 in turn: 8-h means 30.5
    for n in range(9, 17):  # eight hours from 16:00 LST (index 9 of the O3 day): 90
        values[8 + n] = CheckedValue(90.0)
    (day,) = daily_values(
        Pollutant.O3, origin, grid(40, values), [date(2026, 7, 1)], BERLIN, until=origin + timedelta(hours=40)
    )
    assert (day.status, day.value, day.valid_averages, day.peak_start_hour, day.hours) == (
        DayStatus.COMPLETE,
        90.0,
        17,
        16,
        24,
    )
    # Until 06:00Z on 2 July (32 hours from the origin) has passed, the O3 day is not over.
    (early,) = daily_values(
        Pollutant.O3, origin, grid(40, values), [date(2026, 7, 1)], BERLIN, until=origin + timedelta(hours=31)
    )
    assert early.status is DayStatus.IN_PROGRESS and early.value is None


def day(n: int, value: float | None, status: DayStatus = DayStatus.COMPLETE) -> DailyValue:
    return DailyValue(date(2026, 1, 1) + timedelta(days=n), status, value, 24, 24 if value is not None else 0, 0)


def test_who_summary_counts_complete_days_above_each_level() -> None:
    daily = [
        day(0, 16.0),
        day(1, 15.0),  # at the guideline: complies
        day(2, 30.0),
        day(3, None, DayStatus.INCOMPLETE),
        day(4, None, DayStatus.IN_PROGRESS),
    ]
    summary = who_summary(Pollutant.PM25, daily)
    exceedances = summary.exceedances
    # AQG 15: 16 and 30 exceed; floor(1 % of 3 valid days) = 0 allowed.
    assert (exceedances.exceedance_days, exceedances.valid_days, exceedances.allowed_days) == (2, 3, 0)
    assert not exceedances.complies and exceedances.averaging is Averaging.HOUR_24
    # IT-1 75, IT-2 50, IT-3 37.5, IT-4 25 (30 exceeds it), AQG 15.
    assert summary.by_level == (("IT-1", 0), ("IT-2", 0), ("IT-3", 0), ("IT-4", 1), ("AQG", 2))
    assert (summary.incomplete_days, summary.in_progress_days) == (1, 1)
    # Mean (16 + 15 + 30) / 3 = 20.33, below IT-2 (25) but above IT-3 (15); 4 ended days are no year.
    annual = summary.annual
    assert annual is not None
    assert annual.value == pytest.approx(61 / 3) and (annual.valid_days, annual.ended_days) == (3, 4)
    assert annual.attained is not None and annual.attained.name == "IT-2"
    assert not annual.assessed and annual.exceeds is None


def test_the_annual_mean_is_assessed_over_a_year_with_90_percent_of_days() -> None:
    # 365 ended days, 330 valid at 10 µg/m³: 330 ≥ 0.9 · 365 = 328.5. PM2.5 annual AQG 5: exceeded; IT-4 (10) met.
    year = [day(n, 10.0) for n in range(330)] + [day(n, None, DayStatus.INCOMPLETE) for n in range(330, 365)]
    annual = who_summary(Pollutant.PM25, year).annual
    assert annual is not None and annual.assessed and annual.exceeds is True
    assert annual.attained is not None and annual.attained.name == "IT-4"
    assert float(annual.guideline.value) == 5.0
    # 328 valid days: below 90 %, shown but not assessed.
    short = [day(n, 10.0) for n in range(328)] + [day(n, None, DayStatus.INCOMPLETE) for n in range(328, 365)]
    annual = who_summary(Pollutant.PM25, short).annual
    assert annual is not None and not annual.assessed and annual.exceeds is None
    # NO2 annual AQG 10: a mean of exactly 10 meets it.
    annual = who_summary(Pollutant.NO2, [day(n, 10.0) for n in range(365)]).annual
    assert annual is not None and annual.assessed and annual.exceeds is False


def test_o3_is_judged_on_its_daily_maximum_8h_means_without_an_annual_guideline() -> None:
    summary = who_summary(Pollutant.O3, [day(0, 101.0), day(1, 100.0)])  # AQG 100 µg/m³ (8-h)
    assert summary.exceedances.averaging is Averaging.HOUR_8
    assert summary.exceedances.exceedance_days == 1 and summary.annual is None


def test_an_area_is_as_bad_as_its_worst_station() -> None:
    five = who_summary(Pollutant.PM25, [day(n, 20.0) for n in range(5)])
    two = who_summary(Pollutant.PM25, [day(n, 20.0 if n < 2 else 10.0) for n in range(5)])
    empty = who_summary(Pollutant.PM25, [day(n, None, DayStatus.INCOMPLETE) for n in range(5)])
    area = who_area(Pollutant.PM25, [("s3", empty), ("s2", five), ("s1", two), ("s0", five)])
    # s0 and s2 tie on 5 days: the first id wins; s3 has no valid day.
    assert (area.worst_station, area.exceedance_days) == ("s0", 5)
    assert (area.stations_with_data, area.not_complying) == (3, 3)
    assert area.annual_worst_station is None and area.annual_exceeding == 0  # five days are no year
    nobody = who_area(Pollutant.PM25, [("s3", empty)])
    assert (nobody.worst_station, nobody.exceedance_days, nobody.stations_with_data) == (None, None, 0)
