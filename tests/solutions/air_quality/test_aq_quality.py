"""Quality control: range, flatline, Hampel spikes, A/B channels, the Barkjohn 2021 correction."""

from __future__ import annotations

import pytest

from urbis.solutions.air_quality.const import Pollutant, QualityControlParams, pollutant_spec
from urbis.solutions.air_quality.model import (
    BARKJOHN_2021_US,
    CheckedValue,
    QcFlag,
    check_range,
    combine_channels,
    correct_pm25_barkjohn_2021,
    flag_flatline,
    flag_spikes,
    screen_series,
)

PM25 = pollutant_spec(Pollutant.PM25)


@pytest.mark.parametrize(
    ("value", "flags"),
    [
        (0.0, ()),
        (1000.0, ()),
        (-0.1, (QcFlag.OUT_OF_RANGE,)),
        (1000.1, (QcFlag.OUT_OF_RANGE,)),
        (float("nan"), (QcFlag.OUT_OF_RANGE,)),
    ],
)
def test_range_check(value: float, flags: tuple[QcFlag, ...]) -> None:
    assert check_range(value, PM25) == flags


def test_flatline_marks_the_whole_run() -> None:
    values: list[float | None] = [1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 4.0]
    assert flag_flatline(values, min_run=4) == [False, False, True, True, True, True, False]
    assert flag_flatline(values, min_run=5) == [False] * 7


def test_flatline_at_the_end_and_stuck_at_zero() -> None:
    assert flag_flatline([5.0, 0.0, 0.0, 0.0], min_run=3) == [False, True, True, True]


def test_a_missing_reading_breaks_a_run() -> None:
    assert flag_flatline([3.0, 3.0, None, 3.0, 3.0], min_run=3) == [False] * 5


def test_flatline_tolerance() -> None:
    # all within 0.1 of the first reading (5.0) of the run
    assert flag_flatline([5.0, 5.05, 4.98, 5.02], min_run=4, tolerance=0.1) == [True] * 4
    assert flag_flatline([5.0, 5.05, 4.98, 5.02], min_run=4) == [False] * 4


def test_flatline_needs_a_run_of_two() -> None:
    with pytest.raises(ValueError, match="min_run"):
        flag_flatline([1.0], min_run=1)
    assert flag_flatline([], min_run=2) == []


def test_hampel_flags_the_spike_only() -> None:
    values: list[float | None] = [10.0, 12.0, 9.0, 11.0, 60.0, 10.0, 12.0, 11.0, 9.0]
    # Window of 60 (indices 1–7): 12 9 11 60 10 12 11 → median 11; |x − 11| = 1 2 0 49 1 1 0 → MAD 1;
    # 3 · 1.4826 · 1 = 4.45 < 49, so 60 is a spike.  Every other reading stays within its window's band.
    assert flag_spikes(values) == [False, False, False, False, True, False, False, False, False]


def test_hampel_with_a_flat_window_uses_the_minimum_deviation() -> None:
    values: list[float | None] = [10.0, 11.0, 10.0, 50.0, 10.0, 11.0, 10.0]
    # Most windows have MAD 0: with no minimum, the 1-unit wiggles count as spikes too.
    assert flag_spikes(values) == [False, True, False, True, False, True, False]
    assert flag_spikes(values, min_deviation=2.0) == [False, False, False, True, False, False, False]


def test_hampel_trailing_window_judges_the_newest_reading() -> None:
    values: list[float | None] = [10.0, 11.0, 10.0, 11.0, 10.0, 11.0, 60.0]
    # Trailing window of 60 = all seven: median 11, MAD 1 → 49 > 4.45
    assert flag_spikes(values, trailing=True)[-1] is True
    assert flag_spikes([*values[:-1], 12.0], trailing=True)[-1] is False


def test_hampel_ignores_missing_readings_and_tiny_windows() -> None:
    assert flag_spikes([None, 10.0, None, 90.0]) == [False, False, False, False]
    with pytest.raises(ValueError, match="half_window"):
        flag_spikes([1.0], half_window=0)


@pytest.mark.parametrize(
    ("a", "b", "mean", "flags"),
    [
        (10.0, 16.0, 13.0, ()),  # differ by 6 > 5, but 6/13 = 46 % ≤ 70 %
        (2.0, 9.0, 5.5, (QcFlag.CHANNEL_DISAGREEMENT,)),  # 7 > 5 and 7/5.5 = 127 % > 70 %
        (1.0, 5.0, 3.0, ()),  # 4/3 = 133 %, but only 4 apart
        (100.0, 110.0, 105.0, ()),  # 10 apart, 9.5 %
        (0.0, 0.0, 0.0, ()),
    ],
)
def test_ab_channels(a: float, b: float, mean: float, flags: tuple[QcFlag, ...]) -> None:
    assert combine_channels(a, b) == CheckedValue(mean, flags)


def test_a_missing_channel_is_flagged() -> None:
    assert combine_channels(None, 7.0) == CheckedValue(7.0, (QcFlag.CHANNEL_MISSING,))
    assert combine_channels(7.0, None) == CheckedValue(7.0, (QcFlag.CHANNEL_MISSING,))
    assert not combine_channels(None, 7.0).usable
    assert combine_channels(7.0, 7.5).usable


def test_barkjohn_2021() -> None:
    # 0.524 · 20 − 0.0862 · 50 + 5.75 = 10.48 − 4.31 + 5.75 = 11.92
    corrected = correct_pm25_barkjohn_2021(20.0, 50.0)
    assert corrected.value == pytest.approx(11.92)
    assert (corrected.method, corrected.flags) == (BARKJOHN_2021_US, ())
    assert BARKJOHN_2021_US == "epa-barkjohn-2021-us-wide"


def test_barkjohn_flags_a_negative_result_and_an_impossible_humidity() -> None:
    # 0 − 0.0862 · 80 + 5.75 = −1.146
    negative = correct_pm25_barkjohn_2021(0.0, 80.0)
    assert negative.value == pytest.approx(-1.146)
    assert negative.flags == (QcFlag.NEGATIVE_AFTER_CORRECTION,)
    # 0.524 · 100 − 0.0862 · 105 + 5.75 = 49.099, kept but flagged
    humid = correct_pm25_barkjohn_2021(100.0, 105.0)
    assert humid.value == pytest.approx(49.099)
    assert humid.flags == (QcFlag.HUMIDITY_OUT_OF_RANGE,)


def test_screen_series_keeps_values_and_shows_flags() -> None:
    params = QualityControlParams(flatline_run=4, spike_min_deviation=3.0)
    values: list[float | None] = [10.0, 12.0, 11.0, 2000.0, 10.0, None, 7.0, 7.0, 7.0, 7.0, 9.0, 80.0, 10.0, 11.0]
    checked = screen_series(values, PM25, params)
    assert [c.value for c in checked] == values
    flags = {position: c.flags for position, c in enumerate(checked) if c.flags}
    assert flags == {
        3: (QcFlag.OUT_OF_RANGE,),  # above 1000 µg/m³, and left out of the spike windows
        6: (QcFlag.STUCK,),
        7: (QcFlag.STUCK,),
        8: (QcFlag.STUCK,),
        9: (QcFlag.STUCK,),
        11: (QcFlag.SPIKE,),
    }
    assert checked[5] == CheckedValue(None)
    assert [c.usable for c in checked].count(True) == len(values) - 1 - len(flags)
