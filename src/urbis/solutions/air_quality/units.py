"""The one place where air-quality concentrations change unit: µg/m³ ↔ mg/m³ ↔ ppb ↔ ppm.

A mixing ratio and a mass concentration are tied by the molar volume of air ``Vm``::

    ppb = µg/m³ · Vm / MW        ppm = mg/m³ · Vm / MW

The US EPA uses 25 °C and 1 atm (``Vm`` = 24.45 L/mol); the EU air-quality directives
standardise gases at 293 K and 101.3 kPa (``Vm`` = 24.04 L/mol).  The molar volume is a
parameter so that each index converts under the conditions its tables were written for.
Particulate matter has no mixing ratio: only mass units convert.
"""

from __future__ import annotations

import math

from urbis.solutions.air_quality.const import POLLUTANT_SPECS, Pollutant, Unit

MOLAR_VOLUME_25C = 24.45  # L/mol at 298.15 K and 101.325 kPa: the US EPA reference conditions
MOLAR_VOLUME_20C = 24.04  # L/mol at 293.15 K and 101.3 kPa: the EU directives' reference conditions

_MASS_UNITS_IN_UG_M3 = {Unit.UG_M3: 1.0, Unit.MG_M3: 1000.0}
_MIXING_UNITS_IN_PPB = {Unit.PPB: 1.0, Unit.PPM: 1000.0}


class UnitConversionError(ValueError):
    """A conversion that has no meaning, such as PM2.5 in ppb."""


def _check_molar_volume(molar_volume: float) -> None:
    if not (math.isfinite(molar_volume) and molar_volume > 0):
        raise UnitConversionError(f"molar volume must be a positive number of L/mol, got {molar_volume!r}")


def ugm3_to_ppb(value: float, molecular_weight: float, *, molar_volume: float = MOLAR_VOLUME_25C) -> float:
    """A mass concentration in µg/m³ as a mixing ratio in ppb."""
    _check_molar_volume(molar_volume)
    return value * molar_volume / molecular_weight


def ppb_to_ugm3(value: float, molecular_weight: float, *, molar_volume: float = MOLAR_VOLUME_25C) -> float:
    """A mixing ratio in ppb as a mass concentration in µg/m³."""
    _check_molar_volume(molar_volume)
    return value * molecular_weight / molar_volume


def mgm3_to_ppm(value: float, molecular_weight: float, *, molar_volume: float = MOLAR_VOLUME_25C) -> float:
    """A mass concentration in mg/m³ as a mixing ratio in ppm (the usual pair for CO)."""
    return ugm3_to_ppb(value, molecular_weight, molar_volume=molar_volume)


def ppm_to_mgm3(value: float, molecular_weight: float, *, molar_volume: float = MOLAR_VOLUME_25C) -> float:
    """A mixing ratio in ppm as a mass concentration in mg/m³."""
    return ppb_to_ugm3(value, molecular_weight, molar_volume=molar_volume)


def convert(
    value: float, pollutant: Pollutant, from_unit: Unit, to_unit: Unit, *, molar_volume: float = MOLAR_VOLUME_25C
) -> float:
    """``value`` of ``pollutant`` in ``from_unit``, expressed in ``to_unit``.

    Raises :class:`UnitConversionError` when one side is a mixing ratio and the pollutant is
    particulate matter, or when the molar volume is not a positive number.
    """
    if from_unit == to_unit:
        return value
    molecular_weight = POLLUTANT_SPECS[pollutant].molecular_weight
    if from_unit in _MASS_UNITS_IN_UG_M3:
        micrograms = value * _MASS_UNITS_IN_UG_M3[from_unit]
        if to_unit in _MASS_UNITS_IN_UG_M3:
            return micrograms / _MASS_UNITS_IN_UG_M3[to_unit]
        if molecular_weight is None:
            raise UnitConversionError(
                f"{pollutant.value} is particulate matter: it has no mixing ratio ({to_unit.symbol})"
            )
        return ugm3_to_ppb(micrograms, molecular_weight, molar_volume=molar_volume) / _MIXING_UNITS_IN_PPB[to_unit]
    parts_per_billion = value * _MIXING_UNITS_IN_PPB[from_unit]
    if to_unit in _MIXING_UNITS_IN_PPB:
        return parts_per_billion / _MIXING_UNITS_IN_PPB[to_unit]
    if molecular_weight is None:
        raise UnitConversionError(
            f"{pollutant.value} is particulate matter: it has no mixing ratio ({from_unit.symbol})"
        )
    return ppb_to_ugm3(parts_per_billion, molecular_weight, molar_volume=molar_volume) / _MASS_UNITS_IN_UG_M3[to_unit]
