"""Unit conversion: µg/m³ ↔ ppb ↔ ppm and mg/m³ ↔ ppm, at 25 °C (24.45 L/mol) or 293 K (24.04 L/mol)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbis.solutions.air_quality.const import Pollutant, Unit
from urbis.solutions.air_quality.units import (
    MOLAR_VOLUME_20C,
    MOLAR_VOLUME_25C,
    UnitConversionError,
    convert,
    mgm3_to_ppm,
    ppb_to_ugm3,
    ppm_to_mgm3,
    ugm3_to_ppb,
)


def test_molar_volumes_are_the_epa_and_eu_reference_values() -> None:
    assert MOLAR_VOLUME_25C == 24.45
    assert MOLAR_VOLUME_20C == 24.04


def test_no2_100_ugm3_is_53_1_ppb() -> None:
    # 100 · 24.45 / 46.01 = 53.1406 ppb
    assert convert(100.0, Pollutant.NO2, Unit.UG_M3, Unit.PPB) == pytest.approx(53.1406, abs=1e-4)


def test_no2_at_eu_reference_conditions() -> None:
    # 100 · 24.04 / 46.01 = 52.2495 ppb: the EU's 293 K gives less ppb for the same mass
    result = convert(100.0, Pollutant.NO2, Unit.UG_M3, Unit.PPB, molar_volume=MOLAR_VOLUME_20C)
    assert result == pytest.approx(52.2495, abs=1e-4)


def test_o3_0_070_ppm_is_137_4_ugm3() -> None:
    # 0.070 ppm = 70 ppb; 70 · 48.00 / 24.45 = 137.423 µg/m³
    assert convert(0.070, Pollutant.O3, Unit.PPM, Unit.UG_M3) == pytest.approx(137.423, abs=1e-3)


def test_so2_75_ppb_is_196_5_ugm3() -> None:
    # 75 · 64.07 / 24.45 = 196.534 µg/m³
    assert convert(75.0, Pollutant.SO2, Unit.PPB, Unit.UG_M3) == pytest.approx(196.534, abs=1e-3)


def test_co_mg_per_m3_and_ppm() -> None:
    # ppm = mg/m³ · 24.45 / 28.01: 1 mg/m³ → 0.87290 ppm, 1 ppm → 28.01/24.45 = 1.14560 mg/m³
    assert convert(1.0, Pollutant.CO, Unit.MG_M3, Unit.PPM) == pytest.approx(0.87290, abs=1e-5)
    assert convert(1.0, Pollutant.CO, Unit.PPM, Unit.MG_M3) == pytest.approx(1.14560, abs=1e-5)
    assert mgm3_to_ppm(10.0, 28.01) == pytest.approx(8.72903, abs=1e-5)
    assert ppm_to_mgm3(8.72903, 28.01) == pytest.approx(10.0, abs=1e-4)


def test_same_dimension_conversions_are_powers_of_ten() -> None:
    assert convert(0.070, Pollutant.O3, Unit.PPM, Unit.PPB) == pytest.approx(70.0)
    assert convert(53.0, Pollutant.NO2, Unit.PPB, Unit.PPM) == pytest.approx(0.053)
    assert convert(35.5, Pollutant.PM25, Unit.UG_M3, Unit.MG_M3) == pytest.approx(0.0355)
    assert convert(0.0355, Pollutant.PM25, Unit.MG_M3, Unit.UG_M3) == pytest.approx(35.5)


def test_same_unit_returns_the_value_unchanged() -> None:
    assert convert(12.3, Pollutant.PM25, Unit.UG_M3, Unit.UG_M3) == 12.3


def test_helpers_agree_with_convert() -> None:
    assert ugm3_to_ppb(100.0, 46.01) == convert(100.0, Pollutant.NO2, Unit.UG_M3, Unit.PPB)
    assert ppb_to_ugm3(53.0, 46.01) == convert(53.0, Pollutant.NO2, Unit.PPB, Unit.UG_M3)


@pytest.mark.parametrize(("source", "target"), [(Unit.UG_M3, Unit.PPB), (Unit.PPM, Unit.MG_M3), (Unit.PPB, Unit.UG_M3)])
def test_particulate_matter_has_no_mixing_ratio(source: Unit, target: Unit) -> None:
    with pytest.raises(UnitConversionError, match="particulate matter"):
        convert(10.0, Pollutant.PM25, source, target)


@pytest.mark.parametrize("molar_volume", [0.0, -24.45, float("nan")])
def test_molar_volume_must_be_positive(molar_volume: float) -> None:
    with pytest.raises(UnitConversionError, match="molar volume"):
        convert(10.0, Pollutant.NO2, Unit.UG_M3, Unit.PPB, molar_volume=molar_volume)


@given(
    value=st.floats(min_value=0.0, max_value=1e5, allow_nan=False),
    pollutant=st.sampled_from([Pollutant.O3, Pollutant.NO2, Pollutant.SO2, Pollutant.CO]),
    source=st.sampled_from(list(Unit)),
    target=st.sampled_from(list(Unit)),
)
def test_gas_conversions_round_trip(value: float, pollutant: Pollutant, source: Unit, target: Unit) -> None:
    there = convert(value, pollutant, source, target)
    back = convert(there, pollutant, target, source)
    assert back == pytest.approx(value, rel=1e-9, abs=1e-12)
