"""The operator console: alarms, work orders, lighting overrides and parking prices, every action audited.

Lists are plain pages with filters in the query string (bookmarkable), a JSON twin and a CSV
export.  Actions are ordinary form posts carrying the CSRF token that answer with a redirect back
to the list (post/redirect/get), so they work with and without JavaScript; only operators see and
may use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from urbis.core.audit import AuditFilter, AuditService
from urbis.core.auth.roles import require
from urbis.core.errors import BadRequestData
from urbis.operations.model import Severity, TicketState
from urbis.operations.service import OperationsService
from urbis.operations.store import SORT_KEYS, TicketFilter, parse_sort
from urbis.solutions.lighting.service import LightingService
from urbis.solutions.lighting.views import override_json
from urbis.solutions.parking.service import ParkingService
from urbis.web.operations import alarm_json, work_order_json
from urbis.web.params import json_response
from urbis.web.ui.common import ViewerDep, csv_response, render
from urbis.web.ui.session import CSRF_FIELD, check_csrf, safe_next
from urbis.web.ui.templating import Viewer

router = APIRouter(prefix="/dashboard/console", include_in_schema=False)

PAGE_SIZE = 50
MAX_FORM_FIELDS = 16
#: The list filters a console page keeps in its query string.
FILTERS = ("state", "severity", "solution", "assignee", "sort", "page")
#: "unresolved" is shorthand for every state but closed.
STATE_CHOICES = ("open", "acknowledged", "unresolved", "closed", "all")


@dataclass(frozen=True)
class Listing:
    """One page of a console table and the filters that chose it."""

    items: list[Any]
    total: int
    page: int
    pages: int
    filters: dict[str, str]


def _operations(request: Request) -> OperationsService:
    service: OperationsService = request.app.state.operations
    return service


def _lighting(request: Request) -> LightingService:
    service: LightingService = request.app.state.lighting
    return service


def _filters(request: Request, default_state: str) -> tuple[TicketFilter, dict[str, str]]:
    params = request.query_params
    chosen = {name: params[name] for name in FILTERS if params.get(name)}
    state = chosen.setdefault("state", default_state)
    if state not in STATE_CHOICES:
        raise BadRequestData(f"state must be one of {', '.join(STATE_CHOICES)}")
    states: tuple[TicketState, ...] | None
    if state == "unresolved":
        states = (TicketState.OPEN, TicketState.ACKNOWLEDGED)
    elif state == "all":
        states = None
    else:
        states = (TicketState(state),)
    severity = chosen.get("severity")
    if severity is not None and severity not in {s.value for s in Severity}:
        raise BadRequestData(f"unknown severity {severity!r:.40}")
    try:
        sort = parse_sort(chosen.get("sort", "-openedAt"))
    except ValueError as exc:
        raise BadRequestData(str(exc)) from None
    page = chosen.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 100_000:
        raise BadRequestData("page must be a whole number from 1")
    wanted = TicketFilter(
        states=states,
        severities=None if severity is None else (Severity(severity),),
        solution=chosen.get("solution"),
        assignee=chosen.get("assignee"),
        limit=PAGE_SIZE,
        offset=(int(page) - 1) * PAGE_SIZE,
        sort=sort,
    )
    return wanted, chosen


def _listing(items: list[Any], total: int, wanted: TicketFilter, chosen: dict[str, str]) -> Listing:
    return Listing(items, total, wanted.offset // PAGE_SIZE + 1, max(1, -(-total // PAGE_SIZE)), chosen)


async def _form(request: Request, viewer: Viewer) -> FormData:
    """The posted form of an action, after the CSRF and role checks."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    check_csrf(request, viewer, str(form.get(CSRF_FIELD) or ""))
    require(viewer.can_act, viewer.actor, f"act in the operator console of '{viewer.tenant}'")
    return form


def _text(form: FormData, name: str, *, limit: int = 500) -> str | None:
    value = str(form.get(name) or "").strip()
    if len(value) > limit:
        raise BadRequestData(f"'{name}' is longer than {limit} characters")
    return value or None


def _back(form: FormData, default: str, done: str) -> RedirectResponse:
    """Return to the list the action came from, saying what was done."""
    target = safe_next(str(form.get("next") or ""), default)
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}{urlencode({'done': done})}", status_code=303)


# -- alarms and work orders -------------------------------------------------------------------

#: The columns both tickets share, as the CSV names them, and the attribute behind each.
_TICKET_COLUMNS = (
    ("id", "id"),
    ("openedAt", "opened_at"),
    ("severity", "severity"),
    ("state", "state"),
    ("solution", "solution"),
)
_TICKET_TAIL = (
    ("source", "source"),
    ("description", "description"),
    ("assignee", "assignee"),
    ("acknowledgedBy", "acknowledged_by"),
    ("acknowledgedAt", "acknowledged_at"),
    ("closedAt", "closed_at"),
    ("closeNote", "close_reason"),
)


@dataclass(frozen=True)
class TicketList:
    """One console list of tickets (alarms or work orders): where it lives and how it reads and shows them."""

    path: str  # "alarms", "work-orders"
    default_state: str
    columns: tuple[tuple[str, str], ...]  # (CSV column, ticket attribute)
    read: Callable[[OperationsService], Callable[[str, TicketFilter], tuple[list[Any], int]]]
    to_json: Callable[[Any], dict[str, Any]]
    acknowledge: Callable[[OperationsService], Callable[[str, str, str], Any]]
    assign: Callable[[OperationsService], Callable[..., Any]]
    close: Callable[[OperationsService], Callable[..., Any]]

    def rows(self, tickets: list[Any]) -> list[list[Any]]:
        """The CSV rows (enumerations as their values)."""
        return [[_cell(getattr(ticket, attribute)) for _, attribute in self.columns] for ticket in tickets]


def _cell(value: Any) -> Any:
    return value.value if isinstance(value, Severity | TicketState) else value


ALARMS = TicketList(
    "alarms",
    "open",
    (*_TICKET_COLUMNS, ("kind", "kind"), *_TICKET_TAIL, ("occurrences", "occurrences")),
    lambda operations: operations.list_alarms,
    alarm_json,
    lambda operations: operations.acknowledge_alarm,
    lambda operations: operations.assign_alarm,
    lambda operations: operations.close_alarm,
)
WORK_ORDERS = TicketList(
    "work-orders",
    "unresolved",
    (*_TICKET_COLUMNS, ("title", "title"), *_TICKET_TAIL, ("alarmId", "alarm_id")),
    lambda operations: operations.list_work_orders,
    work_order_json,
    lambda operations: operations.acknowledge_work_order,
    lambda operations: operations.assign_work_order,
    lambda operations: operations.close_work_order,
)


def _all_pages(
    read: Callable[[str, TicketFilter], tuple[list[Any], int]], tenant: str, wanted: TicketFilter
) -> list[Any]:
    out: list[Any] = []
    offset = 0
    while True:
        items, total = read(tenant, replace(wanted, limit=1000, offset=offset))
        out.extend(items)
        offset += 1000
        if offset >= total or not items:
            return out


def _ticket_routes(kind: TicketList) -> None:
    """The list page (with its htmx table fragment), its JSON and CSV twins, and the actions of one ticket list."""
    base = f"/dashboard/console/{kind.path}"
    template = f"console/{kind.path.replace('-', '_')}.html"
    fragment = f"console/_{kind.path.replace('-', '_')}_table.html"

    async def listing(request: Request, viewer: Viewer) -> Listing:
        wanted, chosen = _filters(request, kind.default_state)
        items, total = await run_in_threadpool(kind.read(_operations(request)), viewer.tenant, wanted)
        return _listing(items, total, wanted, chosen)

    async def page(request: Request, viewer: ViewerDep) -> Response:
        chosen = await listing(request, viewer)
        context = {"listing": chosen, "sort_keys": SORT_KEYS, "done": request.query_params.get("done")}
        return render(request, fragment if request.headers.get("hx-request") else template, viewer, context)

    async def as_json(request: Request, viewer: ViewerDep) -> Response:
        chosen = await listing(request, viewer)
        return json_response([kind.to_json(t) for t in chosen.items], headers={"X-Total-Count": str(chosen.total)})

    async def as_csv(request: Request, viewer: ViewerDep) -> Response:
        wanted, _ = _filters(request, kind.default_state)
        tickets = await run_in_threadpool(_all_pages, kind.read(_operations(request)), viewer.tenant, wanted)
        return csv_response(f"{kind.path}.csv", [name for name, _ in kind.columns], kind.rows(tickets))

    async def act(request: Request, viewer: ViewerDep, ticket_id: str, action: str) -> Response:
        form = await _form(request, viewer)
        operations = _operations(request)
        by = viewer.actor.subject
        if action == "acknowledge":
            await run_in_threadpool(kind.acknowledge(operations), viewer.tenant, ticket_id, by)
        elif action == "assign":
            assignee = _text(form, "assignee", limit=128)
            await run_in_threadpool(partial(kind.assign(operations), by=by), viewer.tenant, ticket_id, assignee)
        elif action == "close":
            note = _text(form, "note") or f"closed by {by}"
            await run_in_threadpool(partial(kind.close(operations), by=by), viewer.tenant, ticket_id, note)
        else:
            raise BadRequestData(f"unknown action {action!r:.40}; use acknowledge, assign or close")
        return _back(form, base, f"{action}:{ticket_id}")

    page.__doc__ = f"The {kind.path} list, filtered and sorted, with acknowledge, assign and close for operators."
    router.add_api_route(f"/{kind.path}", page, methods=["GET"])
    router.add_api_route(f"/{kind.path}.json", as_json, methods=["GET"])
    router.add_api_route(f"/{kind.path}.csv", as_csv, methods=["GET"])
    router.add_api_route(f"/{kind.path}/{{ticket_id}}/{{action}}", act, methods=["POST"])


_ticket_routes(ALARMS)
_ticket_routes(WORK_ORDERS)


# -- lighting overrides -----------------------------------------------------------------------


@router.get("/lighting")
async def lighting_page(request: Request, viewer: ViewerDep) -> Response:
    """Overrides in force and a form to hold a group or district at a level until an expiry."""
    lighting = _lighting(request)
    overrides = await run_in_threadpool(lighting.list_overrides, viewer.tenant, active=True, limit=200, offset=0)
    lamps = await run_in_threadpool(lighting.lamp_states, viewer.tenant)
    now = lighting.clock.now()
    context = {
        "overrides": [override_json(o, now) for o in overrides],
        "groups": sorted({lamp.group_id for lamp in lamps if lamp.group_id}),
        "districts": sorted({lamp.district for lamp in lamps if lamp.district}),
        "done": request.query_params.get("done"),
    }
    return render(request, "console/lighting.html", viewer, context)


@router.get("/lighting.csv")
async def lighting_csv(request: Request, viewer: ViewerDep) -> Response:
    """The overrides in force and scheduled, as CSV."""
    lighting = _lighting(request)
    overrides = await run_in_threadpool(lighting.list_overrides, viewer.tenant, active=True, limit=1000, offset=0)
    now = lighting.clock.now()
    rows = [
        [o["id"], " ".join(o["targets"]), o["level"], o["start"], o["expiry"], o["createdBy"], o["note"], o["state"]]
        for o in (override_json(stored, now) for stored in overrides)
    ]
    header = ["id", "targets", "level", "start", "expiry", "createdBy", "note", "state"]
    return csv_response("lighting-overrides.csv", header, rows)


@router.post("/lighting/overrides")
async def create_override(request: Request, viewer: ViewerDep) -> Response:
    """Hold a group or district at a level for a number of hours."""
    form = await _form(request, viewer)
    target = _text(form, "target", limit=512)
    if target is None:
        raise BadRequestData("choose a group or a district")
    try:
        level = float(str(form.get("level") or ""))
        hours = float(str(form.get("hours") or ""))
    except ValueError:
        raise BadRequestData("level (0-100 %) and duration (hours) must be numbers") from None
    body = {"targets": [target], "level": level, "durationMinutes": hours * 60, "note": _text(form, "note") or ""}
    stored = await run_in_threadpool(_lighting(request).create_override, viewer.tenant, body, viewer.actor.subject)
    return _back(form, "/dashboard/console/lighting", f"override:{stored.override_id}")


@router.post("/lighting/overrides/{override_id}/withdraw")
async def withdraw_override(request: Request, viewer: ViewerDep, override_id: str) -> Response:
    """End an override before its expiry."""
    form = await _form(request, viewer)
    await run_in_threadpool(_lighting(request).withdraw_override, viewer.tenant, override_id, viewer.actor.subject)
    return _back(form, "/dashboard/console/lighting", f"withdraw:{override_id}")


# -- parking prices ---------------------------------------------------------------------------

PROPOSAL_STATES = ("pending", "approved", "rejected", "superseded")


def _parking(request: Request) -> ParkingService:
    service: ParkingService = request.app.state.parking
    return service


def _proposal_state(request: Request) -> str:
    state = request.query_params.get("state", "pending")
    if state not in PROPOSAL_STATES:
        raise BadRequestData(f"state must be one of {', '.join(PROPOSAL_STATES)}")
    return state


@router.get("/parking")
async def parking_page(request: Request, viewer: ViewerDep) -> Response:
    """Price recommendations of the last review, to approve or reject, and the prices in force."""
    state = _proposal_state(request)
    parking = _parking(request)
    proposals, total = await run_in_threadpool(partial(parking.proposals, limit=200), viewer.tenant, state)
    context = {"proposals": proposals, "total": total, "state": state, "done": request.query_params.get("done")}
    return render(request, "console/parking.html", viewer, context)


@router.get("/parking.json")
async def parking_json(request: Request, viewer: ViewerDep) -> Response:
    """The proposals' JSON twin."""
    state = _proposal_state(request)
    proposals, total = await run_in_threadpool(partial(_parking(request).proposals, limit=200), viewer.tenant, state)
    return json_response([p.to_json() for p in proposals], headers={"X-Total-Count": str(total)})


@router.get("/parking.csv")
async def parking_csv(request: Request, viewer: ViewerDep) -> Response:
    """The price recommendations in one state, as CSV."""
    state = _proposal_state(request)
    proposals, _total = await run_in_threadpool(partial(_parking(request).proposals, limit=1000), viewer.tenant, state)
    header = ["id", "zoneId", "timeBand", "currentPrice", "proposedPrice", "currency", "reason", "proposedAt"]
    header += ["state", "decidedAt", "decidedBy", "note"]
    rows = [
        [
            p.proposal_id,
            p.zone_id,
            p.time_band,
            p.current_price,
            p.proposed_price,
            p.currency,
            p.record.get("reason"),
            p.proposed_at,
            p.state.value,
            p.decided_at,
            p.decided_by,
            p.note,
        ]
        for p in proposals
    ]
    return csv_response(f"parking-prices-{state}.csv", header, rows)


@router.post("/parking/proposals/{proposal_id}/{decision}")
async def decide_proposal(request: Request, viewer: ViewerDep, proposal_id: str, decision: str) -> Response:
    """Approve or reject one price recommendation."""
    form = await _form(request, viewer)
    parking = _parking(request)
    note = _text(form, "note", limit=1000)
    if decision == "approve":
        await run_in_threadpool(parking.approve_proposal, viewer.tenant, proposal_id, viewer.actor.subject, note)
    elif decision == "reject":
        await run_in_threadpool(parking.reject_proposal, viewer.tenant, proposal_id, viewer.actor.subject, note)
    else:
        raise BadRequestData(f"unknown decision {decision!r:.40}; use approve or reject")
    return _back(form, "/dashboard/console/parking", f"{decision}:{proposal_id}")


# -- the activity log -------------------------------------------------------------------------


def _activity_filter(request: Request) -> tuple[AuditFilter, dict[str, str]]:
    params = request.query_params
    chosen = {name: params[name] for name in ("actor", "action", "page") if params.get(name)}
    page = chosen.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 100_000:
        raise BadRequestData("page must be a whole number from 1")
    wanted = AuditFilter(
        actor=chosen.get("actor"),
        action=chosen.get("action"),
        limit=PAGE_SIZE,
        offset=(int(page) - 1) * PAGE_SIZE,
    )
    return wanted, chosen


@router.get("/activity")
async def activity_page(request: Request, viewer: ViewerDep) -> Response:
    """Who did what, when: every staff action, newest first."""
    wanted, chosen = _activity_filter(request)
    audit: AuditService = request.app.state.audit
    entries, total = await run_in_threadpool(audit.entries, viewer.tenant, wanted)
    listing = Listing(entries, total, wanted.offset // PAGE_SIZE + 1, max(1, -(-total // PAGE_SIZE)), chosen)
    return render(request, "console/activity.html", viewer, {"listing": listing})


@router.get("/activity.csv")
async def activity_csv(request: Request, viewer: ViewerDep) -> Response:
    """The activity log as CSV (same filters, up to 10,000 entries)."""
    wanted, _ = _activity_filter(request)
    audit: AuditService = request.app.state.audit
    entries, _total = await run_in_threadpool(audit.entries, viewer.tenant, replace(wanted, limit=10_000, offset=0))
    rows = [[e.at, e.actor, e.action, e.target, e.detail] for e in entries]
    return csv_response("activity.csv", ["at", "actor", "action", "target", "detail"], rows)
