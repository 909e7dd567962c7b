"""The index tables as data: shape, versions, and the figures of domain reference §1.1–§1.3."""

from __future__ import annotations

from decimal import Decimal

import pytest

from urbis.solutions.air_quality.const import Averaging, Pollutant, Unit
from urbis.solutions.air_quality.scales import (
    EAQI_2017,
    EAQI_2024,
    INDEX_SCALES,
    US_2024,
    WHO_2021,
    AboveTop,
    Breakpoint,
    BreakpointTable,
    EaqiBandTable,
    index_scale,
)


def test_scale_ids() -> None:
    assert list(INDEX_SCALES) == ["us-2024", "eaqi-2024", "eaqi-2017"]
    assert index_scale(" EAQI-2017 ") is EAQI_2017
    with pytest.raises(ValueError, match="unknown scale 'us-2018'"):
        index_scale("us-2018")


def test_us_categories_and_colours() -> None:
    assert [(c.index_low, c.index_high, c.name, c.colour) for c in US_2024.categories] == [
        (0, 50, "Good", "#00E400"),
        (51, 100, "Moderate", "#FFFF00"),
        (101, 150, "Unhealthy for Sensitive Groups", "#FF7E00"),
        (151, 200, "Unhealthy", "#FF0000"),
        (201, 300, "Very Unhealthy", "#8F3F97"),
        (301, 500, "Hazardous", "#7E0023"),
    ]
    assert [c.colour_vision_assist for c in US_2024.categories] == [
        "#9DFF91",
        "#FFC907",
        "#FF8203",
        "#F12100",
        "#890997",
        "#640115",
    ]


@pytest.mark.parametrize(
    ("index", "name"),
    [
        (0, "Good"),
        (50, "Good"),
        (51, "Moderate"),
        (300, "Very Unhealthy"),
        (301, "Hazardous"),
        (500, "Hazardous"),
        (700, "Hazardous"),
    ],
)
def test_us_category_of_an_index(index: int, name: str) -> None:
    assert US_2024.category(index).name == name


def test_us_category_rejects_a_negative_index() -> None:
    with pytest.raises(ValueError, match="negative"):
        US_2024.category(-1)


@pytest.mark.parametrize(
    ("pollutant", "averaging", "unit", "decimals", "first_low", "last_high", "top_index"),
    [
        (Pollutant.O3, Averaging.HOUR_8, Unit.PPM, 3, "0.000", "0.200", 300),
        (Pollutant.O3, Averaging.HOUR_1, Unit.PPM, 3, "0.125", "0.604", 500),
        (Pollutant.PM25, Averaging.HOUR_24, Unit.UG_M3, 1, "0.0", "325.4", 500),
        (Pollutant.PM10, Averaging.HOUR_24, Unit.UG_M3, 0, "0", "604", 500),
        (Pollutant.CO, Averaging.HOUR_8, Unit.PPM, 1, "0.0", "50.4", 500),
        (Pollutant.SO2, Averaging.HOUR_1, Unit.PPB, 0, "0", "304", 200),
        (Pollutant.SO2, Averaging.HOUR_24, Unit.PPB, 0, "305", "1004", 500),
        (Pollutant.NO2, Averaging.HOUR_1, Unit.PPB, 0, "0", "2049", 500),
    ],
)
def test_us_tables(
    pollutant: Pollutant,
    averaging: Averaging,
    unit: Unit,
    decimals: int,
    first_low: str,
    last_high: str,
    top_index: int,
) -> None:
    table = US_2024.table(pollutant, averaging)
    assert table is not None
    assert (table.unit, table.decimals) == (unit, decimals)
    assert table.breakpoints[0].concentration_low == Decimal(first_low)
    assert table.breakpoints[-1].concentration_high == Decimal(last_high)
    assert table.breakpoints[-1].index_high == top_index
    step = Decimal(1).scaleb(-decimals)
    for lower, upper in zip(table.breakpoints, table.breakpoints[1:], strict=False):
        # Rows meet at the table's precision: 9.0 | 9.1, 0.054 | 0.055, 54 | 55.
        assert upper.concentration_low - lower.concentration_high == step
        assert upper.index_low == lower.index_high + 1


def test_the_2024_pm25_rows() -> None:
    table = US_2024.table(Pollutant.PM25, Averaging.HOUR_24)
    assert table is not None
    assert [(str(row.concentration_low), str(row.concentration_high)) for row in table.breakpoints] == [
        ("0.0", "9.0"),
        ("9.1", "35.4"),
        ("35.5", "55.4"),
        ("55.5", "125.4"),
        ("125.5", "225.4"),
        ("225.5", "325.4"),
    ]


def test_special_rules_are_carried_by_the_tables() -> None:
    o3_8h = US_2024.table(Pollutant.O3, Averaging.HOUR_8)
    so2_1h = US_2024.table(Pollutant.SO2, Averaging.HOUR_1)
    pm25 = US_2024.table(Pollutant.PM25, Averaging.HOUR_24)
    assert o3_8h is not None and so2_1h is not None and pm25 is not None
    assert o3_8h.above_top == AboveTop.UNDEFINED
    assert so2_1h.above_top == AboveTop.CAP
    assert pm25.above_top == AboveTop.EXTRAPOLATE


def test_nowcast_reads_the_table_it_estimates() -> None:
    assert US_2024.table(Pollutant.PM25, Averaging.NOWCAST) is US_2024.table(Pollutant.PM25, Averaging.HOUR_24)
    assert US_2024.table(Pollutant.O3, Averaging.NOWCAST) is US_2024.table(Pollutant.O3, Averaging.HOUR_8)
    assert US_2024.table(Pollutant.NO2, Averaging.NOWCAST) is None
    assert US_2024.averagings(Pollutant.PM25) == (Averaging.HOUR_24, Averaging.NOWCAST)


def test_a_breakpoint_table_must_be_contiguous() -> None:
    with pytest.raises(ValueError, match="contiguous"):
        BreakpointTable(
            Pollutant.PM25,
            Averaging.HOUR_24,
            Unit.UG_M3,
            1,
            (Breakpoint(Decimal(0), Decimal(9), 0, 50), Breakpoint(Decimal(9), Decimal(20), 51, 100)),
            AboveTop.EXTRAPOLATE,
        )


def test_eaqi_versions_differ_in_averaging_of_pm() -> None:
    assert {table.averaging for table in EAQI_2024.tables} == {Averaging.HOUR_1}
    pm25_2017 = EAQI_2017.table(Pollutant.PM25)
    assert pm25_2017 is not None and pm25_2017.averaging == Averaging.HOUR_24
    assert EAQI_2024.table(Pollutant.CO) is None
    assert EAQI_2024.molar_volume == 24.04


def test_eaqi_bands() -> None:
    assert [(band.level, band.name, band.colour) for band in EAQI_2024.bands] == [
        (1, "Good", "#50F0E6"),
        (2, "Fair", "#50CCAA"),
        (3, "Moderate", "#F0E641"),
        (4, "Poor", "#FF5050"),
        (5, "Very poor", "#960032"),
        (6, "Extremely poor", "#7D2181"),
    ]


def test_an_eaqi_table_needs_six_increasing_bounds() -> None:
    with pytest.raises(ValueError, match="six"):
        EaqiBandTable(Pollutant.PM25, Averaging.HOUR_1, (Decimal(1), Decimal(2)))
    with pytest.raises(ValueError, match="six"):
        EaqiBandTable(Pollutant.PM25, Averaging.HOUR_1, tuple(Decimal(v) for v in (5, 15, 15, 90, 140, 800)))


@pytest.mark.parametrize(
    ("pollutant", "averaging", "levels"),
    [
        (Pollutant.PM25, Averaging.ANNUAL, {"IT-1": "35", "IT-2": "25", "IT-3": "15", "IT-4": "10", "AQG": "5"}),
        (Pollutant.PM25, Averaging.HOUR_24, {"IT-1": "75", "IT-2": "50", "IT-3": "37.5", "IT-4": "25", "AQG": "15"}),
        (Pollutant.PM10, Averaging.ANNUAL, {"IT-1": "70", "IT-2": "50", "IT-3": "30", "IT-4": "20", "AQG": "15"}),
        (Pollutant.PM10, Averaging.HOUR_24, {"IT-1": "150", "IT-2": "100", "IT-3": "75", "IT-4": "50", "AQG": "45"}),
        (Pollutant.O3, Averaging.PEAK_SEASON, {"IT-1": "100", "IT-2": "70", "AQG": "60"}),
        (Pollutant.O3, Averaging.HOUR_8, {"IT-1": "160", "IT-2": "120", "AQG": "100"}),
        (Pollutant.NO2, Averaging.ANNUAL, {"IT-1": "40", "IT-2": "30", "IT-3": "20", "AQG": "10"}),
        (Pollutant.NO2, Averaging.HOUR_24, {"IT-1": "120", "IT-2": "50", "AQG": "25"}),
        (Pollutant.SO2, Averaging.HOUR_24, {"IT-1": "125", "IT-2": "50", "AQG": "40"}),
        (Pollutant.CO, Averaging.HOUR_24, {"IT-1": "7", "AQG": "4"}),
    ],
)
def test_who_2021_table(pollutant: Pollutant, averaging: Averaging, levels: dict[str, str]) -> None:
    guideline = WHO_2021.guideline(pollutant, averaging)
    assert guideline is not None
    assert {level.name: level.value for level in guideline.levels} == {k: Decimal(v) for k, v in levels.items()}
    assert guideline.guideline.name == "AQG"
    assert guideline.unit == (Unit.MG_M3 if pollutant == Pollutant.CO else Unit.UG_M3)


def test_who_short_term_guidelines_are_the_daily_ones() -> None:
    short = {(g.pollutant, g.averaging) for g in WHO_2021.guidelines if g.short_term}
    assert (Pollutant.PM25, Averaging.HOUR_24) in short
    assert (Pollutant.O3, Averaging.HOUR_8) in short
    assert (Pollutant.PM25, Averaging.ANNUAL) not in short
    assert WHO_2021.guideline(Pollutant.SO2, Averaging.ANNUAL) is None


def test_who_level_lookup() -> None:
    guideline = WHO_2021.guideline(Pollutant.PM25, Averaging.HOUR_24)
    assert guideline is not None
    assert guideline.level("it-3").value == Decimal("37.5")
    with pytest.raises(ValueError, match="no level 'IT-9'"):
        guideline.level("IT-9")
