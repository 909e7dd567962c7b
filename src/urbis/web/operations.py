"""The operations API: alarms and work orders of the tenant named by ``NGSILD-Tenant``.

Reading needs a staff role in the tenant (viewer, operator, admin); changing
a ticket (acknowledge, assign, close, open a work order by hand) needs operator or admin,
and each change goes to the audit trail under the caller's subject (``GET /api/v1/audit``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.auth.roles import can_manage_operations, can_read_operations, require
from urbis.core.auth.tokens import Actor
from urbis.core.errors import BadRequestData
from urbis.operations.model import Alarm, WorkOrder, parse_severity, parse_state
from urbis.operations.service import OperationsService, alarm_entity_id, work_order_entity_id
from urbis.operations.store import TicketFilter
from urbis.web.deps import current_actor
from urbis.web.ngsild.common import call, check_params, tenant_of
from urbis.web.params import (
    json_object,
    json_response,
    optional_json_object,
    page_limit,
    page_offset,
    text_member,
    text_param,
)

router = APIRouter(prefix="/api/v1", tags=["operations"])

_FILTERS = {"state", "severity", "solution", "source", "assignee", "limit", "offset"}


def _operations(request: Request) -> OperationsService:
    service: OperationsService = request.app.state.operations
    return service


def _reader_tenant(request: Request) -> str:
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_read_operations(actor, tenant), actor, f"read the alarms of tenant '{tenant}'")
    return tenant


def _operator(request: Request) -> tuple[str, Actor]:
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_manage_operations(actor, tenant), actor, f"handle the alarms and work orders of tenant '{tenant}'")
    return tenant, actor


def _ticket_json(ticket: Alarm | WorkOrder) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "solution": ticket.solution,
        "source": ticket.source,
        "severity": ticket.severity.value,
        "description": ticket.description,
        "state": ticket.state.value,
        "assignee": ticket.assignee,
        "openedAt": ticket.opened_at,
        "updatedAt": ticket.updated_at,
        "acknowledgedAt": ticket.acknowledged_at,
        "acknowledgedBy": ticket.acknowledged_by,
        "closedAt": ticket.closed_at,
        "closeReason": ticket.close_reason,
        "location": ticket.location,
    }


def alarm_json(alarm: Alarm) -> dict[str, Any]:
    """An alarm as the API shows it."""
    return {
        **_ticket_json(alarm),
        "kind": alarm.kind,
        "occurrences": alarm.occurrences,
        "lastSeenAt": alarm.last_seen_at,
        "entityId": alarm_entity_id(alarm.id),
    }


def work_order_json(order: WorkOrder) -> dict[str, Any]:
    """A work order as the API shows it."""
    return {
        **_ticket_json(order),
        "title": order.title,
        "alarmId": order.alarm_id,
        "entityId": work_order_entity_id(order.id),
    }


def _filter(request: Request, *, extra: str) -> TicketFilter:
    check_params(request, _FILTERS | {extra})
    states = text_param(request, "state")
    severities = text_param(request, "severity")
    return TicketFilter(
        states=None if states is None else tuple(parse_state(s.strip()) for s in states.split(",")),
        severities=None if severities is None else tuple(parse_severity(s.strip()) for s in severities.split(",")),
        solution=text_param(request, "solution"),
        source=text_param(request, "source"),
        assignee=text_param(request, "assignee"),
        kind=text_param(request, "kind") if extra == "kind" else None,
        alarm_id=text_param(request, "alarmId") if extra == "alarmId" else None,
        limit=page_limit(request),
        offset=page_offset(request),
    )


# -- alarms -----------------------------------------------------------------------------------


@router.get("/alarms", summary="List alarms")
async def list_alarms(request: Request) -> Response:
    """Newest first; filters ``state`` and ``severity`` (comma-separated), ``solution``, ``kind``, ``source``, ``assignee``."""
    tenant = _reader_tenant(request)
    wanted = _filter(request, extra="kind")
    alarms, total = await call(_operations(request).list_alarms, tenant, wanted)
    return json_response([alarm_json(a) for a in alarms], headers={"X-Total-Count": str(total)})


@router.get("/alarms/summary", summary="Active alarms per solution and severity")
async def alarm_summary(request: Request) -> Response:
    """``{solution: {severity: count}}`` of the alarms not closed yet."""
    tenant = _reader_tenant(request)
    check_params(request, set())
    return json_response(await call(_operations(request).summary, tenant))


@router.get("/alarms/{alarm_id}", summary="Show an alarm")
async def get_alarm(request: Request, alarm_id: str) -> Response:
    """One alarm."""
    tenant = _reader_tenant(request)
    return json_response(alarm_json(await call(_operations(request).get_alarm, tenant, alarm_id)))


@router.post("/alarms/{alarm_id}/acknowledge", summary="Acknowledge an alarm")
async def acknowledge_alarm(request: Request, alarm_id: str) -> Response:
    """Mark the alarm seen by the caller (409 if it is closed)."""
    tenant, actor = _operator(request)
    alarm = await call(_operations(request).acknowledge_alarm, tenant, alarm_id, actor.subject)
    return json_response(alarm_json(alarm))


@router.post("/alarms/{alarm_id}/assign", summary="Assign an alarm")
async def assign_alarm(request: Request, alarm_id: str) -> Response:
    """Body ``{"assignee": "<name>"}``; ``null`` takes it back."""
    tenant, actor = _operator(request)
    body = await json_object(request)
    if "assignee" not in body:
        raise BadRequestData("'assignee' is required (null to unassign)")
    assignee = text_member(body, "assignee")
    alarm = await call(_operations(request).assign_alarm, tenant, alarm_id, assignee, by=actor.subject)
    return json_response(alarm_json(alarm))


@router.post("/alarms/{alarm_id}/close", summary="Close an alarm")
async def close_alarm(request: Request, alarm_id: str) -> Response:
    """Optional body ``{"note": "..."}``; its work orders stay open."""
    tenant, actor = _operator(request)
    note = text_member(await optional_json_object(request), "note") or f"closed by {actor.subject}"
    alarm = await call(_operations(request).close_alarm, tenant, alarm_id, note, by=actor.subject)
    return json_response(alarm_json(alarm))


# -- work orders ------------------------------------------------------------------------------


@router.get("/work-orders", summary="List work orders")
async def list_work_orders(request: Request) -> Response:
    """Newest first; filters ``state`` and ``severity`` (comma-separated), ``solution``, ``source``, ``assignee``, ``alarmId``."""
    tenant = _reader_tenant(request)
    wanted = _filter(request, extra="alarmId")
    orders, total = await call(_operations(request).list_work_orders, tenant, wanted)
    return json_response([work_order_json(o) for o in orders], headers={"X-Total-Count": str(total)})


@router.post("/work-orders", status_code=201, summary="Open a work order by hand")
async def create_work_order(request: Request) -> Response:
    """Body ``{"title", "source" (an entity id), "description"?, "severity"? (default medium)}``."""
    tenant, actor = _operator(request)
    body = await json_object(request)
    order = await call(
        _operations(request).create_work_order,
        tenant,
        title=text_member(body, "title", required=True) or "",
        description=text_member(body, "description") or "",
        source=text_member(body, "source", required=True) or "",
        severity=parse_severity(text_member(body, "severity") or "medium"),
        by=actor.subject,
    )
    return json_response(work_order_json(order), 201, {"Location": f"/api/v1/work-orders/{order.id}"})


@router.get("/work-orders/{order_id}", summary="Show a work order")
async def get_work_order(request: Request, order_id: str) -> Response:
    """One work order."""
    tenant = _reader_tenant(request)
    return json_response(work_order_json(await call(_operations(request).get_work_order, tenant, order_id)))


@router.post("/work-orders/{order_id}/acknowledge", summary="Acknowledge a work order")
async def acknowledge_work_order(request: Request, order_id: str) -> Response:
    """Mark the work order taken up by the caller (409 if it is closed)."""
    tenant, actor = _operator(request)
    order = await call(_operations(request).acknowledge_work_order, tenant, order_id, actor.subject)
    return json_response(work_order_json(order))


@router.post("/work-orders/{order_id}/assign", summary="Assign a work order")
async def assign_work_order(request: Request, order_id: str) -> Response:
    """Body ``{"assignee": "<person or crew>"}``; ``null`` takes it back."""
    tenant, actor = _operator(request)
    body = await json_object(request)
    if "assignee" not in body:
        raise BadRequestData("'assignee' is required (null to unassign)")
    assignee = text_member(body, "assignee")
    order = await call(_operations(request).assign_work_order, tenant, order_id, assignee, by=actor.subject)
    return json_response(work_order_json(order))


@router.post("/work-orders/{order_id}/close", summary="Close a work order")
async def close_work_order(request: Request, order_id: str) -> Response:
    """Optional body ``{"note": "..."}``."""
    tenant, actor = _operator(request)
    note = text_member(await optional_json_object(request), "note") or f"closed by {actor.subject}"
    order = await call(_operations(request).close_work_order, tenant, order_id, note, by=actor.subject)
    return json_response(work_order_json(order))
