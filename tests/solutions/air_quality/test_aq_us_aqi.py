"""US AQI (2024): truncation, the AQI equation, rounding, special rules and the overall index.

Every expected value is worked by hand from the table in domain reference §1.1 with
``I = (I_hi − I_lo)/(C_hi − C_lo) · (C − C_lo) + I_lo``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbis.solutions.air_quality.const import Averaging, Pollutant, Unit
from urbis.solutions.air_quality.model import Concentration, QcFlag, SubIndex, truncate, us_aqi, us_sub_index
from urbis.solutions.air_quality.scales import US_2024, AboveTop, Breakpoint, BreakpointTable, UsAqiScale

P, A, U = Pollutant, Averaging, Unit


def sub(pollutant: Pollutant, averaging: Averaging, value: float, unit: Unit) -> SubIndex:
    return us_sub_index(Concentration(pollutant, averaging, value, unit))


def index_of(pollutant: Pollutant, averaging: Averaging, value: float, unit: Unit) -> int | None:
    return sub(pollutant, averaging, value, unit).index


def test_truncate_cuts_and_never_rounds() -> None:
    assert truncate(9.09, 1) == Decimal("9.0")
    assert truncate(0.0549, 3) == Decimal("0.054")
    assert truncate(54.99, 0) == Decimal("54")
    assert truncate(56.99999999999999, 0) == Decimal("57")  # binary noise of 0.57 * 100, not a real 56.99…


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, 0),
        (9.0, 50),  # top of Good
        (9.1, 51),  # bottom of Moderate
        (9.09, 50),  # truncates to 9.0
        (12.0, 56),  # 49/26.3 · (12.0 − 9.1) + 51 = 56.40 → 56 (rounded down)
        (30.0, 90),  # 49/26.3 · (30.0 − 9.1) + 51 = 89.94 → 90 (rounded up, so not truncated)
        (35.4, 100),
        (35.49, 100),  # truncates to 35.4
        (35.5, 101),
        (55.4, 150),
        (55.5, 151),
        (125.4, 200),
        (125.5, 201),
        (225.4, 300),
        (225.5, 301),
        (325.4, 500),
    ],
)
def test_pm25_24h(value: float, expected: int) -> None:
    assert index_of(P.PM25, A.HOUR_24, value, U.UG_M3) == expected


def test_pm25_in_mg_per_m3_is_read_without_binary_noise() -> None:
    # 0.0059 mg/m³ · 1000 is 5.8999999… in binary; it must read as 5.9 → 50/9 · 5.9 = 32.78 → 33
    # (a naive truncation would give 5.8 → 32.2 → 32).
    result = sub(P.PM25, A.HOUR_24, 0.0059, U.MG_M3)
    assert result.concentration == Decimal("5.9")
    assert result.index == 33


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0549, 50),  # truncates to 0.054 → top of Good
        (0.055, 51),
        (0.065, 84),  # 49/0.015 · 0.010 + 51 = 83.67 → 84
        (0.070, 100),
        (0.071, 101),
        (0.080, 133),  # 49/0.014 · 0.009 + 101 = 31.5 + 101 = 132.5 → 133 (half up)
        (0.085, 150),
        (0.086, 151),
        (0.105, 200),
        (0.106, 201),
        (0.200, 300),
        (0.2009, 300),  # truncates to 0.200
    ],
)
def test_o3_8h(value: float, expected: int) -> None:
    assert index_of(P.O3, A.HOUR_8, value, U.PPM) == expected


def test_o3_8h_above_0_200_cannot_define_the_index() -> None:
    result = sub(P.O3, A.HOUR_8, 0.201, U.PPM)
    assert result.index is None
    assert "1-h O3" in result.notes[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.124, None),  # below the first 1-h row: the 8-h value decides
        (0.125, 101),
        (0.130, 107),  # 49/0.039 · 0.005 + 101 = 107.28 → 107
        (0.164, 150),
        (0.165, 151),
        (0.201, 196),  # 49/0.039 · 0.036 + 151 = 196.23 → 196
        (0.404, 300),
        (0.405, 301),
        (0.604, 500),
    ],
)
def test_o3_1h(value: float, expected: int | None) -> None:
    assert index_of(P.O3, A.HOUR_1, value, U.PPM) == expected


def test_o3_in_ppb_is_converted_to_ppm() -> None:
    assert index_of(P.O3, A.HOUR_8, 55.0, U.PPB) == 51  # 55 ppb = 0.055 ppm


def test_o3_higher_of_8h_and_1h_is_reported() -> None:
    result = us_aqi([Concentration(P.O3, A.HOUR_8, 0.080, U.PPM), Concentration(P.O3, A.HOUR_1, 0.130, U.PPM)])
    # 8-h 0.080 → 133, 1-h 0.130 → 107: the 8-h one is higher
    assert (result.index, result.responsible_pollutant) == (133, P.O3)
    assert result.sub_indices[0].averaging == A.HOUR_8


def test_o3_above_0_200_uses_the_1h_value() -> None:
    result = us_aqi([Concentration(P.O3, A.HOUR_8, 0.21, U.PPM), Concentration(P.O3, A.HOUR_1, 0.41, U.PPM)])
    # 1-h 0.410: 199/0.199 · (0.410 − 0.405) + 301 = 1000 · 0.005 + 301 = 306
    assert result.index == 306
    assert result.category == "Hazardous"
    assert [s.index for s in result.sub_indices] == [None, 306]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (35, 50),
        (36, 51),
        (50, 69),  # 49/39 · (50 − 36) + 51 = 68.59 → 69
        (75, 100),
        (76, 101),
        (304, 200),
    ],
)
def test_so2_1h(value: float, expected: int) -> None:
    assert index_of(P.SO2, A.HOUR_1, value, U.PPB) == expected


def test_so2_1h_from_305_reports_200_with_a_note() -> None:
    result = sub(P.SO2, A.HOUR_1, 400, U.PPB)
    assert result.index == 200
    assert "24-h" in result.notes[0]


def test_so2_24h_decides_above_200() -> None:
    result = us_aqi([Concentration(P.SO2, A.HOUR_1, 400, U.PPB), Concentration(P.SO2, A.HOUR_24, 400, U.PPB)])
    # 24-h 400: 99/299 · (400 − 305) + 201 = 31.45 + 201 = 232.45 → 232
    assert result.index == 232
    assert result.sub_indices[1].index == 232


def test_so2_24h_below_305_leaves_the_1h_cap_of_200() -> None:
    result = us_aqi([Concentration(P.SO2, A.HOUR_1, 400, U.PPB), Concentration(P.SO2, A.HOUR_24, 200, U.PPB)])
    assert result.index == 200
    assert result.sub_indices[1].index is None
    assert "305" in result.sub_indices[1].notes[0]


@pytest.mark.parametrize(("value", "expected"), [(305, 201), (604, 300), (605, 301), (1004, 500)])
def test_so2_24h_rows(value: float, expected: int) -> None:
    assert index_of(P.SO2, A.HOUR_24, value, U.PPB) == expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (53, U.PPB, 50),
        (54, U.PPB, 51),
        (53.9, U.PPB, 50),  # truncates to 53
        (100.0, U.UG_M3, 50),  # 100 · 24.45/46.01 = 53.14 ppb → 53 → 50
        (360, U.PPB, 150),
        (361, U.PPB, 151),
        (1249, U.PPB, 300),
        (1250, U.PPB, 301),
        (2049, U.PPB, 500),
    ],
)
def test_no2_1h(value: float, unit: Unit, expected: int) -> None:
    assert index_of(P.NO2, A.HOUR_1, value, unit) == expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (4.4, U.PPM, 50),
        (4.45, U.PPM, 50),  # truncates to 4.4
        (4.5, U.PPM, 51),
        (10.0, U.MG_M3, 93),  # 10 · 24.45/28.01 = 8.729 ppm → 8.7; 49/4.9 · (8.7 − 4.5) + 51 = 93
        (30.4, U.PPM, 300),
        (30.5, U.PPM, 301),
        (35.0, U.PPM, 346),  # 199/19.9 = 10 per ppm: 10 · 4.5 + 301 = 346
        (50.4, U.PPM, 500),
    ],
)
def test_co_8h(value: float, unit: Unit, expected: int) -> None:
    assert index_of(P.CO, A.HOUR_8, value, unit) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(54, 50), (54.9, 50), (55, 51), (154, 100), (155, 101), (424, 300), (425, 301), (604, 500)],
)
def test_pm10_24h(value: float, expected: int) -> None:
    assert index_of(P.PM10, A.HOUR_24, value, U.UG_M3) == expected


def test_above_500_is_extrapolated_and_marked() -> None:
    # 199/99.9 · (425.3 − 225.5) + 301 = 199/99.9 · 199.8 + 301 = 398 + 301 = 699
    result = sub(P.PM25, A.HOUR_24, 425.3, U.UG_M3)
    assert (result.index, result.beyond_scale, result.category) == (699, True, "Hazardous")
    assert "beyond the AQI" in result.notes[0]
    overall = us_aqi([Concentration(P.PM25, A.HOUR_24, 425.3, U.UG_M3)])
    assert (overall.index, overall.beyond_scale) == (699, True)


def test_co_beyond_500() -> None:
    assert index_of(P.CO, A.HOUR_8, 60.4, U.PPM) == 600  # 10 · (60.4 − 30.5) + 301


def test_categories_and_colours_come_with_the_index() -> None:
    result = sub(P.PM25, A.HOUR_24, 35.5, U.UG_M3)
    assert (result.category, result.colour) == ("Unhealthy for Sensitive Groups", "#FF7E00")
    assert result.unit == U.UG_M3
    assert result.concentration == Decimal("35.5")


def test_rounding_is_half_up_not_to_even() -> None:
    # A made-up table of slope 1/2: C = 1 → 0.5 → 1 and C = 5 → 2.5 → 3 (banker's rounding would give 0 and 2).
    table = BreakpointTable(
        P.PM25, A.HOUR_24, U.UG_M3, 0, (Breakpoint(Decimal(0), Decimal(10), 0, 5),), AboveTop.EXTRAPOLATE
    )
    scale = UsAqiScale("test", "test", "test", 24.45, US_2024.categories, (table,), ())
    assert us_sub_index(Concentration(P.PM25, A.HOUR_24, 1, U.UG_M3), scale).index == 1
    assert us_sub_index(Concentration(P.PM25, A.HOUR_24, 5, U.UG_M3), scale).index == 3


def test_overall_index_is_the_highest_and_names_its_pollutant() -> None:
    result = us_aqi(
        [
            Concentration(P.PM25, A.HOUR_24, 12.0, U.UG_M3),  # 56
            Concentration(P.O3, A.HOUR_8, 0.080, U.PPM),  # 133
            Concentration(P.NO2, A.HOUR_1, 54, U.PPB),  # 51
        ]
    )
    assert (result.scale_id, result.index, result.responsible_pollutant) == ("us-2024", 133, P.O3)
    assert (result.category, result.colour) == ("Unhealthy for Sensitive Groups", "#FF7E00")
    assert [s.index for s in result.sub_indices] == [56, 133, 51]


def test_a_tie_goes_to_the_pollutant_given_first() -> None:
    pm = Concentration(P.PM25, A.HOUR_24, 9.0, U.UG_M3)  # 50
    no2 = Concentration(P.NO2, A.HOUR_1, 53, U.PPB)  # 50
    assert us_aqi([pm, no2]).responsible_pollutant == P.PM25
    assert us_aqi([no2, pm]).responsible_pollutant == P.NO2


def test_flagged_values_are_kept_but_excluded() -> None:
    result = us_aqi(
        [
            Concentration(P.PM25, A.HOUR_24, 200.0, U.UG_M3, flags=(QcFlag.SPIKE,)),
            Concentration(P.NO2, A.HOUR_1, 54, U.PPB),
        ]
    )
    assert (result.index, result.responsible_pollutant) == (51, P.NO2)
    flagged = result.sub_indices[0]
    assert (flagged.index, flagged.flags, flagged.concentration) == (None, (QcFlag.SPIKE,), Decimal("200.0"))


def test_a_negative_concentration_is_excluded_as_out_of_range() -> None:
    result = sub(P.PM25, A.HOUR_24, -0.5, U.UG_M3)
    assert (result.index, result.flags) == (None, (QcFlag.OUT_OF_RANGE,))


def test_no_defining_value_gives_no_index() -> None:
    result = us_aqi([Concentration(P.O3, A.HOUR_1, 0.100, U.PPM)])
    assert (result.index, result.category, result.responsible_pollutant) == (None, None, None)
    assert result.notes == ("no concentration defines an index",)


def test_unknown_averaging_and_duplicates_are_errors() -> None:
    with pytest.raises(ValueError, match="no 1h table for pm25"):
        us_sub_index(Concentration(P.PM25, A.HOUR_1, 10, U.UG_M3))
    with pytest.raises(ValueError, match="given twice"):
        us_aqi([Concentration(P.PM25, A.HOUR_24, 10, U.UG_M3), Concentration(P.PM25, A.HOUR_24, 11, U.UG_M3)])


def test_a_concentration_must_be_finite() -> None:
    with pytest.raises(ValueError, match="finite"):
        Concentration(P.PM25, A.HOUR_24, float("nan"), U.UG_M3)
    with pytest.raises(ValueError, match="too large"):
        us_sub_index(Concentration(P.PM25, A.HOUR_24, 1e30, U.UG_M3))


MONOTONIC_CASES = [
    (P.PM25, A.HOUR_24, U.UG_M3, 600.0),
    (P.PM10, A.HOUR_24, U.UG_M3, 900.0),
    (P.CO, A.HOUR_8, U.PPM, 80.0),
    (P.NO2, A.HOUR_1, U.PPB, 3000.0),
    (P.O3, A.HOUR_8, U.PPM, 0.200),
    (P.O3, A.HOUR_1, U.PPM, 0.9),
    (P.SO2, A.HOUR_1, U.PPB, 1000.0),
]


@given(case=st.sampled_from(MONOTONIC_CASES), data=st.data())
def test_the_index_never_falls_as_the_concentration_rises(
    case: tuple[Pollutant, Averaging, Unit, float], data: st.DataObject
) -> None:
    pollutant, averaging, unit, top = case
    low = data.draw(st.floats(min_value=0.0, max_value=top))
    high = data.draw(st.floats(min_value=low, max_value=top))
    low_index = index_of(pollutant, averaging, low, unit)
    high_index = index_of(pollutant, averaging, high, unit)
    if low_index is not None:  # 1-h O3 below 0.125 ppm defines nothing
        assert high_index is not None and low_index <= high_index


@given(value=st.floats(min_value=0.0, max_value=325.4))
def test_pm25_within_the_table_stays_within_0_to_500_and_its_category(value: float) -> None:
    result = sub(P.PM25, A.HOUR_24, value, U.UG_M3)
    assert result.index is not None and 0 <= result.index <= 500
    assert not result.beyond_scale
    category = US_2024.category(result.index)
    assert category.index_low <= result.index <= category.index_high
    assert result.category == category.name
