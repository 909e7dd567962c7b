"""The air-quality API: indices per station, district and city, for anyone who may read the tenant's context."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.errors import BadRequestData
from urbis.solutions.air_quality.const import Averaging, Pollutant
from urbis.solutions.air_quality.model import (
    DailyValue,
    IndexResult,
    PreparedHour,
    WhoAreaFigure,
    WhoSummary,
    who_short_term_averaging,
)
from urbis.solutions.air_quality.service import (
    MEASURED,
    AirQualityService,
    AreaAirQuality,
    AreaWho,
    PmInputs,
    StationAirQuality,
)
from urbis.web.deps import require_read
from urbis.web.ngsild.common import call, check_params, tenant_of
from urbis.web.params import json_response, text_param

router = APIRouter(prefix="/api/v1/air-quality", tags=["air quality"])

#: Dates a window may name (the calendar's ends would overflow the time-zone arithmetic).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def _service(request: Request) -> AirQualityService:
    service: AirQualityService = request.app.state.air_quality
    return service


def _index_json(result: IndexResult) -> dict[str, Any]:
    return {
        "scale": result.scale_id,
        "index": result.index,
        "category": result.category,
        "colour": result.colour,
        "responsiblePollutant": None if result.responsible_pollutant is None else result.responsible_pollutant.value,
        "subIndices": [
            {
                "pollutant": s.pollutant.value,
                "averaging": s.averaging.value,
                "concentration": float(s.concentration),
                "unit": s.unit.symbol,
                "index": s.index,
                "category": s.category,
                "flags": [f.value for f in s.flags],
                "notes": list(s.notes),
            }
            for s in result.sub_indices
        ],
        "notes": list(result.notes),
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _hour_json(position: int, hour: PreparedHour) -> dict[str, Any]:
    return {
        "hour": position,
        "channelA": _round(hour.channel_a),
        "channelB": _round(hour.channel_b),
        "raw": _round(hour.raw),
        "relativeHumidity": _round(hour.relative_humidity, 1),
        "value": _round(hour.value),
        "corrected": hour.method is not None,
        "flags": [f.value for f in hour.flags],
    }


def _inputs_json(inputs: PmInputs) -> dict[str, Any]:
    return {
        "source": "channels" if inputs.channels else "single",
        "correction": inputs.correction,
        "hours": [_hour_json(n, hour) for n, hour in enumerate(inputs.hours) if hour.raw is not None],
    }


def _station_json(station: StationAirQuality) -> dict[str, Any]:
    return {
        "id": station.id,
        "name": station.name,
        "district": station.district,
        "location": station.location,
        "sensorGrade": station.sensor_grade,
        "usAqi": _index_json(station.us),
        "eaqi": _index_json(station.eaqi),
        # Flagged hours stay visible (0 = the oldest of the 24 hours looked at).
        "flaggedHours": {
            pollutant.value: [
                {"hour": hour, "flags": [f.value for f in flags]} for hour, flags in sorted(by_hour.items())
            ]
            for pollutant, by_hour in station.flagged.items()
        },
        # PM made from A/B channels or corrected for humidity: each hour's inputs and result.
        "inputs": {pollutant.value: _inputs_json(inputs) for pollutant, inputs in station.inputs.items()},
    }


def _area_json(area: AreaAirQuality) -> dict[str, Any]:
    return {
        "name": area.name,
        "stations": area.stations,
        "usAqi": area.us_index,
        "category": area.us_category,
        "worstStation": area.worst_station,
        "eaqiLevel": area.eaqi_level,
    }


@router.get("/stations", summary="Air-quality indices of every station")
async def stations(request: Request) -> Response:
    """US AQI 2024 (NowCast for PM) and European AQI 2024 per station, with quality-control flags."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, set())
    found = await call(_service(request).stations, tenant)
    return json_response([_station_json(s) for s in found])


@router.get("/summary", summary="Air quality of the city and its districts")
async def summary(request: Request) -> Response:
    """Each area's index is its worst station's."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, set())
    service = _service(request)
    found = await call(service.stations, tenant)
    city, districts = service.areas(found)
    return json_response({"city": _area_json(city), "districts": [_area_json(d) for d in districts]})


@router.get("/stations/{station_id}/forecast", summary="A station's next 24 hours")
async def forecast(request: Request, station_id: str) -> Response:
    """``pollutant`` (default pm25): hourly forecast, the persistence baseline, and both errors in a recent backtest."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, {"pollutant"})
    raw = request.query_params.get("pollutant", Pollutant.PM25.value)
    if raw not in {p.value for p in MEASURED}:
        raise BadRequestData(f"'pollutant' must be one of {', '.join(p.value for p in MEASURED)}, got {raw!r:.40}")
    result = await call(_service(request).forecast, tenant, station_id, Pollutant(raw))
    backtest = result.backtest
    return json_response(
        {
            "stationId": result.station_id,
            "pollutant": result.pollutant.value,
            "unit": "ug/m3",
            "from": result.origin,
            "hours": [
                {"start": m.start, "value": round(m.value, 2), "persistence": round(p.value, 2)}
                for m, p in zip(result.model, result.persistence, strict=True)
            ],
            "backtest": {
                "modelMae": None if backtest.model_mae is None else round(backtest.model_mae, 3),
                "persistenceMae": None if backtest.persistence_mae is None else round(backtest.persistence_mae, 3),
                "comparedHours": backtest.compared_hours,
                "beatsPersistence": backtest.beats_persistence,
            },
        }
    )


def _date_param(request: Request, name: str) -> date | None:
    raw = text_param(request, name)
    if raw is None:
        return None
    try:
        day = date.fromisoformat(raw)
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError("outside the calendar Urbis reports on")
    except ValueError:
        raise BadRequestData(f"'{name}' must be a date (YYYY-MM-DD) from 1900 to 2999, got {raw!r:.40}") from None
    return day


def _day_json(day: DailyValue) -> dict[str, Any]:
    out: dict[str, Any] = {
        "date": day.day.isoformat(),
        "status": day.status.value,
        "value": _round(day.value),
        "hours": day.hours,
        "validHours": day.valid_hours,
        "flaggedHours": day.flagged_hours,
    }
    if day.valid_averages is not None:
        out["validAverages"] = day.valid_averages
        out["peakStartHour"] = day.peak_start_hour
    return out


def _who_json(summary: WhoSummary) -> dict[str, Any]:
    exceedances = summary.exceedances
    annual = summary.annual
    return {
        "averaging": exceedances.averaging.value,
        "unit": exceedances.unit.symbol,
        "guideline": float(exceedances.level.value),
        "exceedanceDays": exceedances.exceedance_days,
        "allowedDays": exceedances.allowed_days,
        "complies": exceedances.complies,
        "validDays": exceedances.valid_days,
        "incompleteDays": summary.incomplete_days,
        "inProgressDays": summary.in_progress_days,
        "exceedanceDaysByLevel": dict(summary.by_level),
        "annual": None
        if annual is None
        else {
            "mean": _round(annual.value),
            "guideline": float(annual.guideline.value),
            "validDays": annual.valid_days,
            "endedDays": annual.ended_days,
            "assessed": annual.assessed,
            "exceeds": annual.exceeds,
            "attainedLevel": None if annual.attained is None else annual.attained.name,
        },
    }


def _statistic(pollutant: Pollutant) -> str:
    return "daily-max-8h-mean" if who_short_term_averaging(pollutant) is Averaging.HOUR_8 else "24h-mean"


def _area_who_json(area: AreaWho) -> dict[str, Any]:
    def figure(item: WhoAreaFigure) -> dict[str, Any]:
        return {
            "worstStation": item.worst_station,
            "exceedanceDays": item.exceedance_days,
            "stationsWithData": item.stations_with_data,
            "stationsNotComplying": item.not_complying,
            "annual": {
                "worstStation": item.annual_worst_station,
                "mean": _round(item.annual_mean),
                "stationsExceeding": item.annual_exceeding,
            },
        }

    return {
        "name": area.name,
        "stations": area.stations,
        "pollutants": {pollutant.value: figure(item) for pollutant, item in area.figures.items()},
    }


@router.get("/stations/{station_id}/daily", summary="A station's daily values and WHO figures")
async def daily(request: Request, station_id: str) -> Response:
    """``from``/``to`` (local dates, default this year so far, at most 366 days): each day's value per pollutant."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, {"from", "to"})
    first, last = _date_param(request, "from"), _date_param(request, "to")
    result = await call(_service(request).daily, tenant, station_id, first, last)
    return json_response(
        {
            "stationId": result.station_id,
            "from": result.first.isoformat(),
            "to": result.last.isoformat(),
            "timezone": result.timezone,
            "pollutants": {
                pollutant.value: {
                    "statistic": _statistic(pollutant),
                    "unit": "ug/m3",
                    "who": _who_json(result.who[pollutant]),
                    "days": [_day_json(day) for day in days],
                }
                for pollutant, days in result.days.items()
            },
        }
    )


@router.get("/who", summary="WHO 2021 guideline figures of every station, district and the city")
async def who(request: Request) -> Response:
    """``from``/``to`` as for a station's days: exceedance days and annual means; an area's figure is its worst station's."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, {"from", "to"})
    first, last = _date_param(request, "from"), _date_param(request, "to")
    report = await call(_service(request).who, tenant, first, last)
    return json_response(
        {
            "guidelines": "who-2021",
            "from": report.first.isoformat(),
            "to": report.last.isoformat(),
            "timezone": report.timezone,
            "city": _area_who_json(report.city),
            "districts": [_area_who_json(area) for area in report.districts],
            "stations": [
                {
                    "id": station.id,
                    "name": station.name,
                    "district": station.district,
                    "pollutants": {pollutant.value: _who_json(summary) for pollutant, summary in station.who.items()},
                }
                for station in report.stations
            ],
        }
    )
