"""The PM NowCast and the O3 NowCast surrogate, with hand-worked examples (domain reference §1.1)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbis.solutions.air_quality.const import Averaging, Pollutant, Unit
from urbis.solutions.air_quality.model import nowcast_o3_surrogate, nowcast_pm, us_sub_index

MISSING = [None] * 9


def test_weight_above_one_half() -> None:
    # c = 10, 8, 12 (most recent first): w* = 8/12 = 2/3 > 0.5, so w = 2/3.
    # NowCast = (10 + 8·2/3 + 12·4/9) / (1 + 2/3 + 4/9) = (186/9) / (19/9) = 186/19 = 9.789… → 9.7
    estimate = nowcast_pm([10, 8, 12, *MISSING])
    assert estimate.weight == pytest.approx(2 / 3)
    assert estimate.unrounded == pytest.approx(186 / 19)
    assert estimate.value == Decimal("9.7")
    assert (estimate.valid, estimate.valid_hours, estimate.approximate) == (True, 3, False)
    # AQI of 9.7: 49/26.3 · (9.7 − 9.1) + 51 = 52.12 → 52
    assert us_sub_index(estimate.as_concentration()).index == 52


def test_weight_floored_at_one_half() -> None:
    # c = 40, 10, 20: w* = 10/40 = 0.25 < 0.5, so w = 0.5.
    # NowCast = (40 + 10·0.5 + 20·0.25) / (1 + 0.5 + 0.25) = 50/1.75 = 28.571… → 28.5
    estimate = nowcast_pm([40, 10, 20])
    assert estimate.weight == 0.5
    assert estimate.value == Decimal("28.5")
    # AQI of 28.5: 49/26.3 · (28.5 − 9.1) + 51 = 87.14 → 87
    assert us_sub_index(estimate.as_concentration()).index == 87


def test_twelve_hours() -> None:
    # c = 20, 18, 16, 14, 12, 12, 10 ×6: w* = 10/20 = 0.5.
    # Σ w^(i−1)·c_i = 20 + 9 + 4 + 1.75 + 0.75 + 0.375 + 10·(1/64 + … + 1/2048) = 36.1826171875
    # Σ w^(i−1) = 2 − 0.5^11 = 1.99951171875 → NowCast = 18.0957… → 18.0
    estimate = nowcast_pm([20, 18, 16, 14, 12, 12, 10, 10, 10, 10, 10, 10])
    assert estimate.unrounded == pytest.approx(36.1826171875 / 1.99951171875)
    assert estimate.value == Decimal("18.0")
    assert estimate.valid_hours == 12
    # AQI: 49/26.3 · 8.9 + 51 = 67.58 → 68
    assert us_sub_index(estimate.as_concentration()).index == 68


def test_a_missing_hour_keeps_its_place_in_the_exponents() -> None:
    # c = 10, –, 20: w* = 10/20 = 0.5; NowCast = (10 + 20·0.5²) / (1 + 0.5²) = 15/1.25 = 12.0
    # (closing the gap would give (10 + 20·0.5)/1.5 = 13.3)
    estimate = nowcast_pm([10, None, 20])
    assert estimate.value == Decimal("12.0")
    assert estimate.valid_hours == 2


def test_pm10_truncates_to_whole_micrograms() -> None:
    # c = 60, 50, 40: w = 40/60 = 2/3; (60 + 50·2/3 + 40·4/9)/(19/9) = (1000/9)/(19/9) = 52.63 → 52
    estimate = nowcast_pm([60, 50, 40], Pollutant.PM10)
    assert estimate.value == Decimal("52")
    # PM10 AQI: 50/54 · 52 = 48.1 → 48
    assert us_sub_index(estimate.as_concentration()).index == 48


def test_invalid_without_two_of_the_three_most_recent_hours() -> None:
    estimate = nowcast_pm([None, None, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20])
    assert not estimate.valid
    assert estimate.value is None
    assert "2 needed" in estimate.notes[0]
    with pytest.raises(ValueError, match="not valid"):
        estimate.as_concentration()


def test_valid_with_exactly_two_of_the_three_most_recent_hours() -> None:
    assert nowcast_pm([None, 5, 5]).value == Decimal("5.0")
    assert nowcast_pm([5, 5, None]).valid


def test_all_zero_hours_give_zero() -> None:
    assert nowcast_pm([0.0] * 12).value == Decimal("0.0")


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="at most 12"):
        nowcast_pm([1.0] * 13)
    with pytest.raises(ValueError, match="non-negative"):
        nowcast_pm([1.0, -2.0, 3.0])
    with pytest.raises(ValueError, match="pm25 and pm10"):
        nowcast_pm([1.0, 2.0, 3.0], Pollutant.O3)


def test_the_nowcast_reads_the_24h_table() -> None:
    concentration = nowcast_pm([40, 10, 20]).as_concentration()
    assert (concentration.averaging, concentration.unit) == (Averaging.NOWCAST, Unit.UG_M3)


@given(hours=st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=1000)), min_size=3, max_size=12))
def test_the_nowcast_lies_between_the_lowest_and_highest_hour(hours: list[float | None]) -> None:
    estimate = nowcast_pm(hours)
    present = [hour for hour in hours if hour is not None]
    if estimate.unrounded is None:
        assert sum(hour is not None for hour in hours[:3]) < 2
        return
    assert min(present) - 1e-9 <= estimate.unrounded <= max(present) + 1e-9


@given(level=st.floats(min_value=0, max_value=500))
def test_a_steady_level_is_its_own_nowcast(level: float) -> None:
    estimate = nowcast_pm([level] * 12)
    assert estimate.unrounded == pytest.approx(level)


def test_o3_surrogate() -> None:
    # y = 0.85 · 60 + 4.5 = 55.5 ppb → 55 ppb = 0.055 ppm → AQI 51
    estimate = nowcast_o3_surrogate([60.0, 58.0, 50.0])
    assert estimate.unrounded == pytest.approx(55.5)
    assert (estimate.value, estimate.unit, estimate.approximate) == (Decimal("55"), Unit.PPB, True)
    assert "approximate" in estimate.notes[0]
    assert us_sub_index(estimate.as_concentration()).index == 51


def test_o3_surrogate_uses_the_latest_valid_of_the_last_three_hours() -> None:
    # y = 0.85 · 40 + 4.5 = 38.5 → 38
    assert nowcast_o3_surrogate([None, None, 40.0, 90.0]).value == Decimal("38")


def test_o3_surrogate_needs_one_of_the_last_three_hours() -> None:
    estimate = nowcast_o3_surrogate([None, None, None, 50.0])
    assert not estimate.valid
    assert estimate.approximate
    assert "none of the 3 most recent hours" in estimate.notes[0]
