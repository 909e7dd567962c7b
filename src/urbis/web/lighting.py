"""The street-lighting API: energy and savings, active faults, a group's planned night."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.errors import BadRequestData
from urbis.solutions.lighting.service import LightingService
from urbis.web.deps import require_read
from urbis.web.ngsild.common import call, check_params, tenant_of
from urbis.web.operations import alarm_json
from urbis.web.params import json_response, text_param

router = APIRouter(prefix="/api/v1/lighting", tags=["lighting"])

#: The window ``/energy`` reports without ``start`` and ``end``.
DEFAULT_ENERGY_WINDOW = timedelta(hours=24)
#: Longest window in one request: the baseline walks every night of it for every lamp.
MAX_ENERGY_WINDOW = timedelta(days=366)
#: Nights a schedule can be planned for (the sun tables and the calendar's ends need a margin).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def _lighting(request: Request) -> LightingService:
    service: LightingService = request.app.state.lighting
    return service


def _instant_param(request: Request, name: str) -> datetime | None:
    raw = text_param(request, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise BadRequestData(f"'{name}' must carry a time zone (e.g. 'Z'), got {raw!r:.40}")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date-time, or one at the very edge of the calendar
        raise BadRequestData(f"'{name}' must be an ISO 8601 date-time, got {raw!r:.40}") from None


@router.get("/energy", summary="Energy, baseline and savings of the street lighting")
async def energy(request: Request) -> Response:
    """``start``/``end`` (ISO 8601, default the last 24 hours): kWh per lamp, group, cabinet, district and city."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, {"start", "end"})
    service = _lighting(request)
    end = _instant_param(request, "end") or service.clock.now()
    start = _instant_param(request, "start") or end - DEFAULT_ENERGY_WINDOW
    if end <= start:
        raise BadRequestData("'end' must come after 'start'")
    if end - start > MAX_ENERGY_WINDOW:
        raise BadRequestData(f"a window is at most {MAX_ENERGY_WINDOW.days} days; ask for several")
    report = await call(service.energy, tenant, start, end)
    return json_response(report.to_json())


@router.get("/faults", summary="Active street-lighting alarms")
async def faults(request: Request) -> Response:
    """The lighting alarms that are open or acknowledged."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, set())
    alarms = await call(_lighting(request).active_faults, tenant)
    return json_response([alarm_json(alarm) for alarm in alarms])


@router.get("/groups/{group_id}/schedule", summary="A group's planned night")
async def group_schedule(request: Request, group_id: str) -> Response:
    """``date`` (local lighting date, YYYY-MM-DD; default the current one): switching and every level change."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, {"date"})
    raw = text_param(request, "date")
    day: date | None = None
    if raw is not None:
        try:
            day = date.fromisoformat(raw)
            if not FIRST_DAY <= day <= LAST_DAY:
                raise ValueError("outside the planning range")
        except ValueError:
            raise BadRequestData(f"'date' must be a date (YYYY-MM-DD) from 1900 to 2999, got {raw!r:.40}") from None
    view = await call(_lighting(request).night_schedule, tenant, group_id, day)
    return json_response(view.to_json())
