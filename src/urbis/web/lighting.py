"""The street-lighting API: energy and savings, faults, schedules, and control.

Control: programs and calendars (read by anyone who may read the city, edited by operators),
which calendar a group runs, operator overrides with an expiry, and the level last commanded
to each lamp with its controller's feedback (staff only: they name who gave an override).
Every change of the control goes to the audit trail under the caller's subject (``GET /api/v1/audit``).
"""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.auth.roles import can_manage_devices, can_read_operations, require
from urbis.core.auth.tokens import Actor
from urbis.core.errors import BadRequestData
from urbis.solutions.lighting.const import FeedbackStatus
from urbis.solutions.lighting.service import LightingService
from urbis.solutions.lighting.views import command_json, override_json
from urbis.web.deps import current_actor, require_read
from urbis.web.ngsild.common import call, check_params, read_json, tenant_of
from urbis.web.operations import alarm_json
from urbis.web.params import instant_param, json_response, page_limit, page_offset, text_param

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


@router.get("/energy", summary="Energy, baseline and savings of the street lighting")
async def energy(request: Request) -> Response:
    """``start``/``end`` (ISO 8601, default the last 24 hours): kWh per lamp, group, cabinet, district and city."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, {"start", "end"})
    service = _lighting(request)
    end = instant_param(request, "end") or service.clock.now()
    start = instant_param(request, "start") or end - DEFAULT_ENERGY_WINDOW
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


# -- control: who may -------------------------------------------------------------------------


def _controller(request: Request) -> tuple[str, Actor]:
    """The tenant and an actor allowed to command its lamps (operators, admins)."""
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_manage_devices(actor, tenant), actor, f"control the street lights of tenant '{tenant}'")
    return tenant, actor


def _staff(request: Request) -> str:
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_read_operations(actor, tenant), actor, f"read the lighting control log of tenant '{tenant}'")
    return tenant


# -- programs and calendars -------------------------------------------------------------------


@router.get("/programs", summary="Control programs")
async def list_programs(request: Request) -> Response:
    """Every program the calendars can run, the built-in one included."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, set())
    return json_response(await call(_lighting(request).list_programs, tenant))


@router.get("/programs/{program_id}", summary="One control program")
async def get_program(request: Request, program_id: str) -> Response:
    """The program's document."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, set())
    return json_response(await call(_lighting(request).get_program, tenant, program_id))


@router.put("/programs/{program_id}", summary="Create or replace a control program")
async def put_program(request: Request, program_id: str) -> Response:
    """Body: the program document (``level``, ``activePeriod``, ``steps``, ``presence``); 201 when new."""
    tenant, actor = _controller(request)
    body = await read_json(request)
    document, created = await call(_lighting(request).put_program, tenant, program_id, body, actor.subject)
    return json_response(document, status=201 if created else 200)


@router.delete("/programs/{program_id}", status_code=204, summary="Delete a control program")
async def delete_program(request: Request, program_id: str) -> Response:
    """409 while a calendar runs it."""
    tenant, actor = _controller(request)
    await call(_lighting(request).delete_program, tenant, program_id, by=actor.subject)
    return Response(status_code=204)


@router.get("/calendars", summary="Calendars")
async def list_calendars(request: Request) -> Response:
    """Every calendar with the groups that run it; groups not listed run ``default``."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, set())
    return json_response(await call(_lighting(request).list_calendars, tenant))


@router.get("/calendars/{calendar_id}", summary="One calendar")
async def get_calendar(request: Request, calendar_id: str) -> Response:
    """The calendar's document and its groups."""
    tenant = tenant_of(request)
    await require_read(request, tenant)
    check_params(request, set())
    return json_response(await call(_lighting(request).get_calendar, tenant, calendar_id))


@router.put("/calendars/{calendar_id}", summary="Create or replace a calendar")
async def put_calendar(request: Request, calendar_id: str) -> Response:
    """Body: ``defaultProgram``, ordered ``rules`` (dates, date ranges, weekdays → program), ``dayStartsAt``."""
    tenant, actor = _controller(request)
    body = await read_json(request)
    document, created = await call(_lighting(request).put_calendar, tenant, calendar_id, body, actor.subject)
    return json_response(document, status=201 if created else 200)


@router.delete("/calendars/{calendar_id}", status_code=204, summary="Delete a calendar")
async def delete_calendar(request: Request, calendar_id: str) -> Response:
    """409 while groups run it."""
    tenant, actor = _controller(request)
    await call(_lighting(request).delete_calendar, tenant, calendar_id, by=actor.subject)
    return Response(status_code=204)


@router.put("/groups/{group_id}/calendar", summary="Choose the calendar a group runs")
async def assign_calendar(request: Request, group_id: str) -> Response:
    """Body ``{"calendarId": "<id>"}`` (``default`` puts the group back on the tenant's default)."""
    tenant, actor = _controller(request)
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) != {"calendarId"} or not isinstance(body["calendarId"], str):
        raise BadRequestData('the body must be {"calendarId": "<calendar id>"}')
    service = _lighting(request)
    await call(service.assign_calendar, tenant, group_id, body["calendarId"], actor.subject)
    view = await call(service.night_schedule, tenant, group_id, None)
    return json_response(view.to_json())


# -- overrides --------------------------------------------------------------------------------


@router.get("/overrides", summary="Operator overrides")
async def list_overrides(request: Request) -> Response:
    """Newest first; ``state=active`` (default) or ``all``; ``limit``, ``offset``."""
    tenant = _staff(request)
    check_params(request, {"state", "limit", "offset"})
    state = text_param(request, "state") or "active"
    if state not in ("active", "all"):
        raise BadRequestData("'state' must be 'active' or 'all'")
    service = _lighting(request)
    found = await call(
        service.list_overrides,
        tenant,
        active=state == "active",
        limit=page_limit(request),
        offset=page_offset(request),
    )
    now = service.clock.now()
    return json_response([override_json(o, now) for o in found])


@router.post("/overrides", status_code=201, summary="Override lamps, groups or districts")
async def create_override(request: Request) -> Response:
    """Body ``{"targets": [lamp, group or "district:<name>"], "level", "start"?, "expiry" | "durationMinutes", "note"?}``."""
    tenant, actor = _controller(request)
    body = await read_json(request)
    service = _lighting(request)
    override = await call(service.create_override, tenant, body, actor.subject)
    return json_response(override_json(override, service.clock.now()), status=201)


@router.get("/overrides/{override_id}", summary="One override")
async def get_override(request: Request, override_id: str) -> Response:
    """The override and whether it holds now."""
    tenant = _staff(request)
    check_params(request, set())
    service = _lighting(request)
    override = await call(service.get_override, tenant, override_id)
    return json_response(override_json(override, service.clock.now()))


@router.delete("/overrides/{override_id}", summary="Withdraw an override")
async def withdraw_override(request: Request, override_id: str) -> Response:
    """Ends the override now (kept as withdrawn); 409 when it has already ended."""
    tenant, actor = _controller(request)
    service = _lighting(request)
    override = await call(service.withdraw_override, tenant, override_id, actor.subject)
    return json_response(override_json(override, service.clock.now()))


# -- commands and feedback --------------------------------------------------------------------


@router.get("/commands", summary="The level last commanded to each lamp, and its feedback")
async def list_commands(request: Request) -> Response:
    """``feedback`` filters by status (``ok``, ``pending``, ``mismatch``, ``noFeedback``)."""
    tenant = _staff(request)
    check_params(request, {"feedback"})
    wanted = text_param(request, "feedback")
    if wanted is not None and wanted not in {status.value for status in FeedbackStatus}:
        raise BadRequestData(f"'feedback' must be one of {', '.join(s.value for s in FeedbackStatus)}")
    found = await call(_lighting(request).lamp_commands, tenant, feedback=wanted)
    return json_response([command_json(c) for c in found])
