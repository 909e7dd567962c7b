"""``urbis aqi``: compute an air-quality index from concentrations given on the command line.

Examples::

    urbis aqi --value pm25:24h:35.5:ug/m3 --value o3:8h:0.071:ppm
    urbis aqi --scale eaqi-2024 --station-type traffic --value no2:1h:30 --value pm10:1h:50
    urbis aqi --nowcast 12,11.5,-,10,9,9,8,8,7,7,6,6

The answer is JSON: the index, its category and colour, the responsible pollutant, every
sub-index, and the scale id it was computed on.  Bad input exits with status 2 and a message.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer

from urbis.solutions.air_quality.const import (
    Averaging,
    Pollutant,
    StationType,
    Unit,
    parse_averaging,
    parse_pollutant,
    parse_unit,
)
from urbis.solutions.air_quality.model import (
    NOWCAST_HOURS,
    Concentration,
    IndexResult,
    NowCast,
    SubIndex,
    compute_index,
    nowcast_o3_surrogate,
    nowcast_pm,
)
from urbis.solutions.air_quality.scales import INDEX_SCALES, IndexScale, UsAqiScale, index_scale
from urbis.solutions.air_quality.units import convert

VALUE_SYNTAX = "POLLUTANT:AVERAGING:VALUE[:UNIT]"
MISSING_HOUR = "-"


def _default_unit(scale: IndexScale, pollutant: Pollutant, averaging: Averaging) -> Unit:
    """The unit of the scale's own table, used when a value is given without one."""
    if isinstance(scale, UsAqiScale):
        table = scale.table(pollutant, averaging)
        if table is not None:
            return table.unit
    return Unit.UG_M3


def parse_value(text: str, scale: IndexScale) -> Concentration:
    """A ``--value`` such as ``pm25:24h:35.5:ug/m3`` as a concentration (the unit defaults to the scale's)."""
    parts = [part.strip() for part in text.split(":")]
    if len(parts) not in (3, 4) or not all(parts):
        raise ValueError(f"expected {VALUE_SYNTAX}, e.g. pm25:24h:35.5:ug/m3, got {text!r}")
    pollutant = parse_pollutant(parts[0])
    averaging = parse_averaging(parts[1])
    try:
        number = float(parts[2])
    except ValueError:
        raise ValueError(f"{parts[2]!r} is not a number (in {text!r})") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"a concentration must be a non-negative number, got {parts[2]!r} (in {text!r})")
    unit = parse_unit(parts[3]) if len(parts) == 4 else _default_unit(scale, pollutant, averaging)
    return Concentration(pollutant, averaging, number, unit)


def parse_hours(text: str) -> list[float | None]:
    """Comma-separated hourly values, most recent first, ``-`` (or nothing) for a missing hour."""
    hours: list[float | None] = []
    for item in (part.strip() for part in text.split(",")):
        if item in ("", MISSING_HOUR):
            hours.append(None)
            continue
        try:
            number = float(item)
        except ValueError:
            raise ValueError(f"{item!r} is not a number (use {MISSING_HOUR!r} for a missing hour)") from None
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"hourly values must be non-negative numbers, got {item!r}")
        hours.append(number)
    if len(hours) != NOWCAST_HOURS:
        raise ValueError(
            f"give exactly {NOWCAST_HOURS} hourly values, most recent first ({MISSING_HOUR!r} for a missing hour);"
            f" got {len(hours)}"
        )
    return hours


def compute_nowcast(hours: list[float | None], pollutant: Pollutant, unit: Unit | None) -> NowCast:
    """The NowCast of ``hours`` given in ``unit`` (PM in µg/m³ by default, O3 in ppb)."""
    if pollutant in (Pollutant.PM25, Pollutant.PM10):
        given = unit or Unit.UG_M3
        in_ugm3 = [None if hour is None else convert(hour, pollutant, given, Unit.UG_M3) for hour in hours]
        return nowcast_pm(in_ugm3, pollutant)
    if pollutant == Pollutant.O3:
        given = unit or Unit.PPB
        in_ppb = [None if hour is None else convert(hour, pollutant, given, Unit.PPB) for hour in hours]
        return nowcast_o3_surrogate(in_ppb)
    raise ValueError(f"the NowCast is for pm25, pm10 and o3, not {pollutant.value}")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _sub_index_json(sub: SubIndex) -> dict[str, Any]:
    return {
        "pollutant": sub.pollutant.value,
        "averaging": sub.averaging.value,
        "concentration": _number(sub.concentration),
        "unit": sub.unit.symbol,
        "unit_code": sub.unit.value,
        "index": sub.index,
        "category": sub.category,
        "colour": sub.colour,
        "beyond_scale": sub.beyond_scale,
        "flags": [flag.value for flag in sub.flags],
        "notes": list(sub.notes),
    }


def _nowcast_json(estimate: NowCast) -> dict[str, Any]:
    return {
        "pollutant": estimate.pollutant.value,
        "valid": estimate.valid,
        "value": _number(estimate.value),
        "unit": estimate.unit.symbol,
        "unrounded": estimate.unrounded,
        "weight": estimate.weight,
        "valid_hours": estimate.valid_hours,
        "method": estimate.method,
        "approximate": estimate.approximate,
        "notes": list(estimate.notes),
    }


def result_json(result: IndexResult, scale: IndexScale, estimate: NowCast | None = None) -> dict[str, Any]:
    """The JSON document ``urbis aqi`` prints for ``result``."""
    document: dict[str, Any] = {
        "scale": result.scale_id,
        "scale_title": scale.title,
        "index": result.index,
        "category": result.category,
        "colour": result.colour,
        "responsible_pollutant": result.responsible_pollutant.value if result.responsible_pollutant else None,
        "beyond_scale": result.beyond_scale,
        "sub_indices": [_sub_index_json(sub) for sub in result.sub_indices],
        "notes": list(result.notes),
    }
    if estimate is not None:
        document["nowcast"] = _nowcast_json(estimate)
    return document


def aqi_command(
    value: Annotated[
        list[str] | None,
        typer.Option(
            "--value",
            "-v",
            metavar=VALUE_SYNTAX,
            help=(
                "A concentration, repeatable: pollutant (pm25 pm10 o3 no2 so2 co), averaging (1h 8h 24h),"
                " value and unit (ug/m3 mg/m3 ppm ppb; default: the scale's own unit), e.g. pm25:24h:35.5:ug/m3."
            ),
        ),
    ] = None,
    scale: Annotated[str, typer.Option(help=f"Index scale: {', '.join(INDEX_SCALES)}.")] = "us-2024",
    nowcast: Annotated[
        str | None,
        typer.Option(
            metavar="H1,H2,...,H12",
            help="12 hourly values, most recent first, '-' for a missing hour: adds their NowCast (US AQI only).",
        ),
    ] = None,
    nowcast_pollutant: Annotated[
        str, typer.Option(help="Pollutant of --nowcast: pm25, pm10, or o3 (the approximate EPA surrogate).")
    ] = "pm25",
    nowcast_unit: Annotated[
        str | None, typer.Option(help="Unit of --nowcast (default: ug/m3 for PM, ppb for O3).")
    ] = None,
    station_type: Annotated[
        str,
        typer.Option(help="EAQI station type, which decides the pollutants needed: traffic, background, industrial."),
    ] = "background",
) -> None:
    """Compute an air-quality index (US AQI or European AQI) from concentrations and print it as JSON."""
    try:
        chosen = index_scale(scale)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--scale'") from None
    try:
        station = StationType(station_type.strip().lower())
    except ValueError:
        known = ", ".join(item.value for item in StationType)
        raise typer.BadParameter(
            f"unknown station type {station_type!r}; use one of {known}", param_hint="'--station-type'"
        ) from None
    if not value and nowcast is None:
        raise typer.BadParameter("give at least one --value or a --nowcast", param_hint="'--value'")
    concentrations: list[Concentration] = []
    for item in value or []:
        try:
            concentrations.append(parse_value(item, chosen))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--value'") from None
    estimate: NowCast | None = None
    if nowcast is not None:
        if not isinstance(chosen, UsAqiScale):
            raise typer.BadParameter(
                f"the NowCast belongs to the US AQI; use --scale us-2024, not {chosen.id}", param_hint="'--nowcast'"
            )
        try:
            pollutant = parse_pollutant(nowcast_pollutant)
            unit = parse_unit(nowcast_unit) if nowcast_unit is not None else None
            estimate = compute_nowcast(parse_hours(nowcast), pollutant, unit)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--nowcast'") from None
        if estimate.valid:
            concentrations.append(estimate.as_concentration())
    try:
        result = compute_index(chosen, concentrations, station_type=station)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--value'") from None
    typer.echo(json.dumps(result_json(result, chosen, estimate), indent=2, ensure_ascii=False))
