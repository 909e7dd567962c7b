"""Pollutants described as data: attribute names, unit codes, ranges, molecular weights, parsers."""

from __future__ import annotations

import pytest

from urbis.solutions.air_quality.const import (
    MOLECULAR_WEIGHTS,
    POLLUTANTS,
    Averaging,
    Pollutant,
    PollutantSpec,
    QualityControlParams,
    Unit,
    parse_averaging,
    parse_pollutant,
    parse_unit,
    pollutant_spec,
)


def test_units_are_un_cefact_codes() -> None:
    assert (Unit.UG_M3.value, Unit.MG_M3.value, Unit.PPM.value, Unit.PPB.value) == ("GQ", "GP", "59", "61")
    assert Unit.UG_M3.symbol == "ug/m3"


def test_attribute_names_follow_air_quality_observed() -> None:
    assert [spec.attribute for spec in POLLUTANTS] == ["pm25", "pm10", "o3", "no2", "so2", "co"]


def test_molecular_weights() -> None:
    assert MOLECULAR_WEIGHTS == {Pollutant.O3: 48.00, Pollutant.NO2: 46.01, Pollutant.SO2: 64.07, Pollutant.CO: 28.01}
    assert pollutant_spec(Pollutant.PM25).molecular_weight is None
    assert not pollutant_spec(Pollutant.PM10).is_gas
    assert pollutant_spec(Pollutant.SO2).is_gas


def test_co_is_stored_in_mg_per_m3_and_the_rest_in_ug_per_m3() -> None:
    assert pollutant_spec(Pollutant.CO).unit == Unit.MG_M3
    assert {spec.unit for spec in POLLUTANTS if spec.key != Pollutant.CO} == {Unit.UG_M3}


def test_ranges_match_the_ingestion_profile_where_it_has_one() -> None:
    assert (pollutant_spec(Pollutant.PM25).minimum, pollutant_spec(Pollutant.PM25).maximum) == (0.0, 1000.0)
    assert pollutant_spec(Pollutant.PM10).maximum == 2000.0
    assert pollutant_spec(Pollutant.NO2).maximum == 2000.0


def test_a_spec_rejects_an_empty_range_and_a_bad_weight() -> None:
    with pytest.raises(ValueError, match="minimum < maximum"):
        PollutantSpec(Pollutant.PM25, "pm25", "PM2.5", Unit.UG_M3, 10.0, 10.0, None)
    with pytest.raises(ValueError, match="molecular weight"):
        PollutantSpec(Pollutant.NO2, "no2", "NO2", Unit.UG_M3, 0.0, 10.0, 0.0)


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("ug/m3", Unit.UG_M3),
        ("µg/m³", Unit.UG_M3),
        ("μg/m3", Unit.UG_M3),
        ("GQ", Unit.UG_M3),
        ("mg/m3", Unit.MG_M3),
        ("PPM", Unit.PPM),
        ("59", Unit.PPM),
        ("ppb", Unit.PPB),
        ("61", Unit.PPB),
    ],
)
def test_parse_unit(text: str, unit: Unit) -> None:
    assert parse_unit(text) == unit


def test_parse_unit_rejects_unknown_units() -> None:
    with pytest.raises(ValueError, match="unknown unit 'g/l'"):
        parse_unit("g/l")


@pytest.mark.parametrize(
    ("text", "pollutant"),
    [("pm25", Pollutant.PM25), ("PM2.5", Pollutant.PM25), ("pm_10", Pollutant.PM10), ("NO2", Pollutant.NO2)],
)
def test_parse_pollutant(text: str, pollutant: Pollutant) -> None:
    assert parse_pollutant(text) == pollutant


def test_parse_pollutant_and_averaging_reject_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown pollutant 'pm1'"):
        parse_pollutant("pm1")
    with pytest.raises(ValueError, match="unknown averaging period '3h'"):
        parse_averaging("3h")
    assert parse_averaging(" 8H ") == Averaging.HOUR_8


def test_quality_control_params_validate() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        QualityControlParams(flatline_run=1)
    with pytest.raises(ValueError, match="channel_relative_limit"):
        QualityControlParams(channel_relative_limit=-0.1)
