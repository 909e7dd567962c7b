"""The air-quality API: indices per station, district and city, for anyone who may read the tenant's context."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.errors import BadRequestData
from urbis.solutions.air_quality.const import Pollutant
from urbis.solutions.air_quality.model import IndexResult
from urbis.solutions.air_quality.service import MEASURED, AirQualityService, AreaAirQuality, StationAirQuality
from urbis.web.deps import require_read
from urbis.web.ngsild.common import call, check_params, tenant_of
from urbis.web.params import json_response

router = APIRouter(prefix="/api/v1/air-quality", tags=["air quality"])


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


def _station_json(station: StationAirQuality) -> dict[str, Any]:
    return {
        "id": station.id,
        "name": station.name,
        "district": station.district,
        "location": station.location,
        "usAqi": _index_json(station.us),
        "eaqi": _index_json(station.eaqi),
        # Flagged hours stay visible (0 = the oldest of the 24 hours looked at).
        "flaggedHours": {
            pollutant.value: [
                {"hour": hour, "flags": [f.value for f in flags]} for hour, flags in sorted(by_hour.items())
            ]
            for pollutant, by_hour in station.flagged.items()
        },
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
