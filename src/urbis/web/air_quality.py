"""The air-quality API: indices per station, district and city, for anyone who may read the tenant's context."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.solutions.air_quality.model import IndexResult
from urbis.solutions.air_quality.service import AirQualityService, AreaAirQuality, StationAirQuality
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
