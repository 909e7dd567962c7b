"""European AQI: every band edge of the 2024 and 2017 tables, and the station index rules.

Bands are continuous with inclusive upper bounds (domain reference §1.2): the upper bound
itself is in the band, anything above it in the next; above the top of "extremely poor" a
value is discarded as erroneous.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbis.solutions.air_quality.const import Averaging, Pollutant, StationType, Unit
from urbis.solutions.air_quality.model import (
    Concentration,
    QcFlag,
    compute_index,
    eaqi_band,
    eaqi_index,
    eaqi_sub_index,
)
from urbis.solutions.air_quality.scales import EAQI_2017, EAQI_2024, EaqiScale

P, A, U = Pollutant, Averaging, Unit

# Upper bounds of bands 1–6, copied from domain reference §1.2 (2024: Table 5.2; the top is the
# erroneous-value ceiling kept from 2017, since 2024 publishes "extremely poor" as open-ended).
EDGES_2024: dict[Pollutant, tuple[str, ...]] = {
    P.PM25: ("5", "15", "50", "90", "140", "800"),
    P.PM10: ("15", "45", "120", "195", "270", "1200"),
    P.NO2: ("10", "25", "60", "100", "150", "1000"),
    P.O3: ("60", "100", "120", "160", "180", "800"),
    P.SO2: ("20", "40", "125", "190", "275", "1250"),
}
EDGES_2017: dict[Pollutant, tuple[str, ...]] = {
    P.PM25: ("10", "20", "25", "50", "75", "800"),
    P.PM10: ("20", "40", "50", "100", "150", "1200"),
    P.NO2: ("40", "90", "120", "230", "340", "1000"),
    P.O3: ("50", "100", "130", "240", "380", "800"),
    P.SO2: ("100", "200", "350", "500", "750", "1250"),
}
JUST_ABOVE = Decimal("0.01")


def edge_cases(
    scale: EaqiScale, edges: dict[Pollutant, tuple[str, ...]]
) -> list[tuple[EaqiScale, Pollutant, Decimal, int | None]]:
    cases: list[tuple[EaqiScale, Pollutant, Decimal, int | None]] = []
    for pollutant, uppers in edges.items():
        cases.append((scale, pollutant, Decimal(0), 1))
        for level, upper in enumerate(uppers, start=1):
            cases.append((scale, pollutant, Decimal(upper), level))
            cases.append((scale, pollutant, Decimal(upper) + JUST_ABOVE, level + 1 if level < 6 else None))
    return cases


@pytest.mark.parametrize(
    ("scale", "pollutant", "value", "level"),
    edge_cases(EAQI_2024, EDGES_2024) + edge_cases(EAQI_2017, EDGES_2017),
    ids=lambda item: getattr(item, "id", str(item)),
)
def test_every_band_edge(scale: EaqiScale, pollutant: Pollutant, value: Decimal, level: int | None) -> None:
    band = eaqi_band(scale, pollutant, value)
    assert (band.level if band else None) == level


def test_band_names_and_colours() -> None:
    band = eaqi_band(EAQI_2024, P.PM25, 60)
    assert band is not None and (band.level, band.name, band.colour) == (4, "Poor", "#FF5050")


def test_float_input_is_read_exactly_at_the_edge() -> None:
    assert eaqi_band(EAQI_2024, P.PM25, 5.0) == EAQI_2024.band(1)
    assert eaqi_band(EAQI_2024, P.PM25, 5.0000001) == EAQI_2024.band(2)


def test_eaqi_band_rejects_unused_pollutants_and_negative_values() -> None:
    with pytest.raises(ValueError, match="does not use co"):
        eaqi_band(EAQI_2024, P.CO, 1.0)
    with pytest.raises(ValueError, match="negative"):
        eaqi_band(EAQI_2024, P.PM25, -1.0)


def test_a_value_above_the_top_is_discarded_and_flagged() -> None:
    sub = eaqi_sub_index(Concentration(P.PM25, A.HOUR_1, 900.0, U.UG_M3), EAQI_2024)
    assert (sub.index, sub.flags) == (None, (QcFlag.OUT_OF_RANGE,))
    assert "erroneous" in sub.notes[0]


def test_gases_in_ppb_are_converted_at_293_k() -> None:
    # 50.5 ppb O3 · 48.00/24.04 = 100.83 µg/m³ → band 3 (above 100); at 25 °C it would be 99.14 → band 2.
    sub = eaqi_sub_index(Concentration(P.O3, A.HOUR_1, 50.5, U.PPB), EAQI_2024)
    assert sub.index == 3
    assert sub.unit == U.UG_M3
    assert float(sub.concentration) == pytest.approx(100.832, abs=1e-3)


def test_the_averaging_period_must_match_the_version() -> None:
    with pytest.raises(ValueError, match="reads pm25 as 24h means"):
        eaqi_sub_index(Concentration(P.PM25, A.HOUR_1, 10, U.UG_M3), EAQI_2017)
    with pytest.raises(ValueError, match="reads pm25 as 1h means"):
        eaqi_sub_index(Concentration(P.PM25, A.HOUR_24, 10, U.UG_M3), EAQI_2024)
    with pytest.raises(ValueError, match="does not use co"):
        eaqi_sub_index(Concentration(P.CO, A.HOUR_1, 1, U.MG_M3), EAQI_2024)


def background(pm25: float = 12.0, no2: float = 30.0, o3: float = 70.0) -> list[Concentration]:
    return [
        Concentration(P.PM25, A.HOUR_1, pm25, U.UG_M3),
        Concentration(P.NO2, A.HOUR_1, no2, U.UG_M3),
        Concentration(P.O3, A.HOUR_1, o3, U.UG_M3),
    ]


def test_station_index_is_the_worst_band() -> None:
    # PM2.5 12 → 2 (5–15), NO2 30 → 3 (25–60), O3 70 → 2 (60–100): the station is 3, set by NO2
    result = eaqi_index(background(), EAQI_2024)
    assert (result.scale_id, result.index, result.category, result.colour) == ("eaqi-2024", 3, "Moderate", "#F0E641")
    assert result.responsible_pollutant == P.NO2
    assert [sub.index for sub in result.sub_indices] == [2, 3, 2]


def test_same_values_on_the_2017_bands() -> None:
    # 2017: NO2 30 → 1 (≤ 40), O3 70 → 2 (50–100), PM2.5 as a 24-h mean 12 → 2 (10–20): the station is 2
    values = [
        Concentration(P.PM25, A.HOUR_24, 12.0, U.UG_M3),
        Concentration(P.NO2, A.HOUR_1, 30.0, U.UG_M3),
        Concentration(P.O3, A.HOUR_1, 70.0, U.UG_M3),
    ]
    result = eaqi_index(values, EAQI_2017)
    assert (result.index, result.category, result.responsible_pollutant) == (2, "Fair", P.PM25)


def test_background_station_needs_o3_no2_and_pm() -> None:
    without_o3 = background()[:2]
    result = eaqi_index(without_o3, EAQI_2024, StationType.BACKGROUND)
    assert result.index is None
    assert "missing valid: o3" in result.notes[0]
    assert [sub.index for sub in result.sub_indices] == [2, 3]  # the bands are still shown


def test_traffic_station_needs_only_no2_and_pm() -> None:
    values = [Concentration(P.NO2, A.HOUR_1, 30.0, U.UG_M3), Concentration(P.PM10, A.HOUR_1, 50.0, U.UG_M3)]
    result = eaqi_index(values, EAQI_2024, StationType.TRAFFIC)
    # NO2 30 → 3, PM10 50 → 3 (45–120): a tie, NO2 was given first
    assert (result.index, result.responsible_pollutant) == (3, P.NO2)


def test_traffic_station_without_pm_has_no_index() -> None:
    values = [Concentration(P.NO2, A.HOUR_1, 30.0, U.UG_M3), Concentration(P.O3, A.HOUR_1, 30.0, U.UG_M3)]
    result = eaqi_index(values, EAQI_2024, StationType.TRAFFIC)
    assert result.index is None
    assert "pm25 or pm10" in result.notes[0]


def test_a_discarded_value_does_not_count_towards_completeness() -> None:
    result = eaqi_index(background(pm25=900.0), EAQI_2024)
    assert result.index is None
    assert result.sub_indices[0].flags == (QcFlag.OUT_OF_RANGE,)


def test_a_flagged_value_is_kept_but_excluded() -> None:
    values = background()
    values[1] = Concentration(P.NO2, A.HOUR_1, 300.0, U.UG_M3, flags=(QcFlag.STUCK,))
    result = eaqi_index(values, EAQI_2024)
    assert result.index is None  # NO2 is required and its only value is flagged
    assert result.sub_indices[1].flags == (QcFlag.STUCK,)


def test_compute_index_dispatches_on_the_scale_id() -> None:
    assert compute_index("eaqi-2024", background()).index == 3
    us = compute_index("us-2024", [Concentration(P.PM25, A.HOUR_24, 35.5, U.UG_M3)])
    assert (us.scale_id, us.index) == ("us-2024", 101)
    with pytest.raises(ValueError, match="unknown scale"):
        compute_index("caqi", background())


@given(low=st.floats(min_value=0, max_value=800), delta=st.floats(min_value=0, max_value=800))
def test_the_band_never_falls_as_the_concentration_rises(low: float, delta: float) -> None:
    high = min(low + delta, 800.0)
    for scale in (EAQI_2024, EAQI_2017):
        low_band, high_band = eaqi_band(scale, P.PM25, low), eaqi_band(scale, P.PM25, high)
        assert low_band is not None and high_band is not None
        assert low_band.level <= high_band.level
