"""The back office in the operator console: residents' reports, moderation, categories, Open311 keys, participation.

City staff triage reports (oldest open first), route them to a department, answer them with
public notes, merge duplicates, open work orders and moderate what residents write; they keep
the categories (Open311 service definitions) and routing rules, issue Open311 keys, answer
proposals and run participatory budgets and polls.

Like the rest of the console: every list is a page with filters in the query string and a JSON
and CSV twin built from the same rows; every action is a form post carrying the CSRF token that
names the member of staff in the service call and redirects back (post/redirect/get).  A
service's refusal (bad input, a conflict) re-renders the page with the message and the refusal's
status, never a 500.  Anyone on the staff may look; only those who may manage citizens' matters
(operators, admins) act.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from urbis.citizens import store as report_store
from urbis.citizens.model import (
    NOTE_LENGTH,
    Category,
    Channel,
    Choice,
    Datatype,
    Question,
    Report,
    Stage,
    UpdateKind,
    check_category,
    plain_text,
)
from urbis.citizens.moderation import Moderation, parse_moderation
from urbis.citizens.participation.budgets import (
    BudgetPhase,
    RuleKind,
    check_budget,
    parse_phase,
)
from urbis.citizens.participation.polls import PollStatus, ResultsVisibility, parse_status, parse_visibility
from urbis.citizens.participation.proposals import (
    ProposalOrder,
    ProposalState,
    parse_answer_status,
    parse_order,
    parse_staff_decision,
    parse_state,
)
from urbis.citizens.participation.service import ParticipationService
from urbis.citizens.participation.store import COMMENT_KIND, PROPOSAL_KIND
from urbis.citizens.participation.views import Viewer as ParticipationViewer
from urbis.citizens.service import ReportService
from urbis.citizens.store import ApiKey, ReportFilter
from urbis.citizens.views import staff_report_view
from urbis.core.auth.roles import can_manage_citizens, require
from urbis.core.errors import (
    AlreadyExists,
    BadRequestData,
    Conflict,
    InvalidRequest,
    NotFound,
    OperationNotSupported,
    UrbisError,
)
from urbis.core.settings import Settings
from urbis.operations.model import Severity
from urbis.web.params import json_response
from urbis.web.ui.common import ViewerDep, csv_response, render, settings_of_app
from urbis.web.ui.session import CSRF_FIELD, check_csrf, safe_next
from urbis.web.ui.templating import Viewer

router = APIRouter(prefix="/dashboard/console", include_in_schema=False)

BASE = "/dashboard/console"
PAGE_SIZE = 50
#: Rows a CSV export holds at most.
EXPORT_LIMIT = 10_000
MAX_FORM_FIELDS = 64
#: Forms with rows (category questions, budget headings) carry more fields.
MAX_ROW_FORM_FIELDS = 600
#: Question rows a category form offers at most, and blank ones it adds for new questions.
MAX_QUESTION_ROWS = 40
BLANK_QUESTION_ROWS = 3
MAX_HEADING_ROWS = 40
BLANK_HEADING_ROWS = 3
#: Open reports of the same category this close are offered as merge candidates (wider than the
#: resident's own "is it already reported?" check: staff judge the match themselves).
CANDIDATE_RADIUS_M = 250.0
#: The refusals a page shows as a message (with their status); anything else is a real error.
SHOWN_ERRORS: tuple[type[UrbisError], ...] = (
    InvalidRequest,
    BadRequestData,
    NotFound,
    AlreadyExists,
    Conflict,
    OperationNotSupported,
)
#: A moderator's approval needs no words; the report service records one anyway.
APPROVED = "approved by a moderator"

# -- shared helpers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """One page of a back-office table and the filters that chose it."""

    items: Sequence[Any]
    total: int
    page: int
    pages: int
    filters: dict[str, str]


def _listing(items: Sequence[Any], total: int, page: int, chosen: dict[str, str]) -> Listing:
    return Listing(items, total, page, max(1, -(-total // PAGE_SIZE)), chosen)


def _reports(request: Request) -> ReportService:
    service: ReportService = request.app.state.citizen_reports
    return service


def _participation(request: Request) -> ParticipationService:
    service: ParticipationService | None = getattr(request.app.state, "participation", None)
    if service is None:
        raise OperationNotSupported("participation (proposals, budgets, polls) is not set up on this server")
    return service


def _reader(viewer: Viewer) -> ParticipationViewer:
    """Staff read everything of participation, hidden items included."""
    return ParticipationViewer(viewer.actor.subject, staff=True)


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(settings_of_app(request).city_timezone)


def may_manage(viewer: Viewer) -> bool:
    """Whether the viewer may act in the back office (operators and admins; the mayor only looks)."""
    return can_manage_citizens(viewer.actor, viewer.tenant)


def _page(
    request: Request,
    template: str,
    viewer: Viewer,
    context: Mapping[str, Any],
    *,
    error: UrbisError | None = None,
    here: str = BASE,
) -> Response:
    """Render a back-office page; a service's refusal shows as a message with its status.

    ``here`` is the page's own address, where its forms come back to: a refused post re-renders
    the page at the post's address, which is no page to return to.
    """
    if request.method == "GET":
        here = request.url.path + _query_without_notes(request)
    full = {
        "can_manage": may_manage(viewer),
        "done": request.query_params.get("done"),
        "error": None if error is None else error.detail,
        "here": here,
        **context,
    }
    return render(request, template, viewer, full, status=200 if error is None else error.status)


def _query_without_notes(request: Request) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in {"done", "error"}]
    return "?" + urlencode(kept) if kept else ""


def _page_number(params: Mapping[str, str]) -> int:
    page = params.get("page", "1")
    if not page.isascii() or not page.isdigit() or not 1 <= int(page) <= 100_000:
        raise BadRequestData("page must be a whole number from 1")
    return int(page)


async def _staff_form(request: Request, viewer: Viewer, *, max_fields: int = MAX_FORM_FIELDS) -> FormData:
    """The posted form of an action, after the CSRF and role checks."""
    form = await request.form(max_files=0, max_fields=max_fields)
    check_csrf(request, viewer, str(form.get(CSRF_FIELD) or ""))
    require(may_manage(viewer), viewer.actor, f"act in the back office of '{viewer.tenant}'")
    return form


def _field(form: FormData, name: str, *, limit: int = 500) -> str:
    """A trimmed text field ('' when missing)."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > limit:
        raise BadRequestData(f"'{name}' is longer than {limit} characters")
    return text


def _optional(form: FormData, name: str, *, limit: int = 500) -> str | None:
    return _field(form, name, limit=limit) or None


def _checked(form: FormData, name: str) -> bool:
    return form.get(name) in {"on", "true", "1", "yes"}


def _whole_number(text: str, what: str, *, minimum: int = 0, maximum: int = 1_000_000) -> int:
    if not text.isascii() or not text.lstrip("-").isdigit() or not minimum <= int(text) <= maximum:
        raise BadRequestData(f"{what} must be a whole number from {minimum} to {maximum}, got {text[:40]!r}")
    return int(text)


def local_instant(text: str, zone: ZoneInfo, what: str) -> datetime:
    """A date and time typed into a form: the city's local time unless it names its zone; UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"{what} must be a date and time such as 2026-12-01T18:00, got {text[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def local_input(moment: datetime | None, zone: ZoneInfo) -> str:
    """An instant as a ``datetime-local`` field shows it (the city's local time, to the minute)."""
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _back(form: FormData, default: str, done: str) -> RedirectResponse:
    """Return to the page the action came from, saying what was done."""
    target = safe_next(str(form.get("next") or ""), default)
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}{urlencode({'done': done})}", status_code=303)


def _reason(form: FormData, state: Moderation) -> str | None:
    """A moderator's reason; hiding needs one (the services say so), approving does not."""
    reason = _optional(form, "reason", limit=500)
    if reason is None and state is Moderation.HIDDEN:
        raise BadRequestData("give a reason to hide it")
    return reason


# -- the triage queue ----------------------------------------------------------------------------

REPORT_FILTERS = ("stage", "department", "district", "category", "moderation", "q", "channel", "sort", "page")
#: "open" and "closed" are shorthands for every open or closed stage.
STAGE_CHOICES = ("open", "closed", "all", *(stage.value for stage in Stage))
#: Sort keys: oldest first is the triage default (the longest waiting come first).
REPORT_SORTS = {  # key: (newest first, by last change)
    "requestedAt": (False, False),
    "-requestedAt": (True, False),
    "updatedAt": (False, True),
    "-updatedAt": (True, True),
}


@dataclass(frozen=True)
class TriageRow:
    """A report in the triage queue: how long it waits, how often it was flagged, whether a fault is linked."""

    report: Report
    age_hours: float
    flags: int
    linked: bool

    @property
    def is_new(self) -> bool:
        """Waiting for triage (nobody looked at it yet)."""
        return self.report.stage is Stage.SUBMITTED

    def to_json(self) -> dict[str, Any]:
        """The row as the JSON twin shows it."""
        r = self.report
        return {
            "id": r.id,
            "requestedAt": r.requested_at,
            "updatedAt": r.updated_at,
            "ageHours": round(self.age_hours, 1),
            "stage": r.stage.value,
            "status": r.status.value,
            "new": self.is_new,
            "serviceCode": r.service_code,
            "serviceName": r.service_name,
            "district": r.district,
            "department": r.department,
            "address": r.address,
            "description": r.description,
            "moderation": r.moderation.value,
            "confirmed": r.confirmed,
            "channel": r.channel.value,
            "flags": self.flags,
            "linkedToFault": self.linked,
            "duplicateOf": r.parent_id,
        }


TRIAGE_COLUMNS = (
    "id",
    "requestedAt",
    "updatedAt",
    "ageHours",
    "stage",
    "status",
    "new",
    "serviceCode",
    "serviceName",
    "district",
    "department",
    "address",
    "description",
    "moderation",
    "confirmed",
    "channel",
    "flags",
    "linkedToFault",
    "duplicateOf",
)


def _report_filter(params: Mapping[str, str]) -> tuple[ReportFilter, Channel | None, dict[str, str]]:
    """The filter the triage queue's query string asks for (open reports, oldest first, by default)."""
    chosen = {name: params[name].strip() for name in REPORT_FILTERS if params.get(name, "").strip()}
    stage = chosen.get("stage", "open")
    if stage not in STAGE_CHOICES:
        raise BadRequestData(f"stage must be one of {', '.join(STAGE_CHOICES)}")
    statuses = (stage,) if stage in {"open", "closed"} else None
    stages = (Stage(stage),) if stage not in {"open", "closed", "all"} else None
    sort = chosen.get("sort", "requestedAt")
    if sort not in REPORT_SORTS:
        raise BadRequestData(f"sort must be one of {', '.join(REPORT_SORTS)}")
    moderation = chosen.get("moderation")
    channel = chosen.get("channel")
    if channel is not None and channel not in {c.value for c in Channel}:
        raise BadRequestData(f"channel must be one of {', '.join(c.value for c in Channel)}")
    for name, limit in (("department", 150), ("district", 200), ("category", 64), ("q", 200)):
        if len(chosen.get(name, "")) > limit:
            raise BadRequestData(f"'{name}' is at most {limit} characters")
    page = _page_number(chosen)
    wanted = ReportFilter(
        statuses=statuses,
        stages=stages,
        department=chosen.get("department"),
        district=chosen.get("district"),
        service_codes=(chosen["category"],) if "category" in chosen else None,
        moderation=None if moderation is None else (parse_moderation(moderation),),
        search=chosen.get("q"),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
        newest_first=REPORT_SORTS[sort][0],
        order_by_updated=REPORT_SORTS[sort][1],
    )
    return wanted, None if channel is None else Channel(channel), chosen


def triage_rows(service: ReportService, tenant: str, reports: Sequence[Report], now: datetime) -> list[TriageRow]:
    """The queue's rows of ``reports``."""
    flags, linked = service.triage_marks(tenant, [r.id for r in reports])
    return [
        TriageRow(r, max(0.0, (now - r.requested_at).total_seconds() / 3600), flags.get(r.id, 0), r.id in linked)
        for r in reports
    ]


def find_reports(
    service: ReportService, tenant: str, wanted: ReportFilter, channel: Channel | None
) -> tuple[list[Report], int]:
    """One page of reports matching ``wanted`` and, when given, ``channel``, with their total."""
    return service.find(tenant, wanted if channel is None else replace(wanted, channels=(channel,)))


def triage_listing(service: ReportService, tenant: str, params: Mapping[str, str]) -> Listing:
    """The triage queue page the query string asks for."""
    wanted, channel, chosen = _report_filter(params)
    reports, total = find_reports(service, tenant, wanted, channel)
    rows = triage_rows(service, tenant, reports, service.clock.now())
    return _listing(rows, total, wanted.offset // PAGE_SIZE + 1, chosen)


def triage_export(service: ReportService, tenant: str, params: Mapping[str, str]) -> list[TriageRow]:
    """Every row of the queue's filter (all pages, up to the export limit)."""
    wanted, channel, _ = _report_filter(params)
    everything, _ = find_reports(service, tenant, replace(wanted, limit=EXPORT_LIMIT, offset=0), channel)
    return triage_rows(service, tenant, everything, service.clock.now())


def known_departments(service: ReportService, tenant: str) -> list[str]:
    """Departments named by the categories and routing rules, for the routing choice."""
    names = {c.department for c in service.categories(tenant, include_inactive=True)}
    names |= {r.department for r in service.routes(tenant)}
    return sorted(names, key=str.casefold)


def _triage_context(service: ReportService, tenant: str, listing: Listing) -> dict[str, Any]:
    categories = service.categories(tenant, include_inactive=True)
    return {
        "listing": listing,
        "categories": categories,
        "departments": known_departments(service, tenant),
        "stages": [stage.value for stage in Stage],
    }


@router.get("/reports")
async def reports_page(request: Request, viewer: ViewerDep) -> Response:
    """The triage queue: open reports, the longest waiting first, filtered, sorted and paged."""
    service = _reports(request)
    params = dict(request.query_params)
    listing = await run_in_threadpool(triage_listing, service, viewer.tenant, params)
    context = await run_in_threadpool(_triage_context, service, viewer.tenant, listing)
    if request.headers.get("hx-request"):
        return _page(request, "console/_c_reports_table.html", viewer, context)
    return _page(request, "console/reports.html", viewer, context)


@router.get("/reports.json")
async def reports_json(request: Request, viewer: ViewerDep) -> Response:
    """The triage queue's JSON twin (``X-Total-Count`` holds the total)."""
    listing = await run_in_threadpool(triage_listing, _reports(request), viewer.tenant, dict(request.query_params))
    return json_response([row.to_json() for row in listing.items], headers={"X-Total-Count": str(listing.total)})


@router.get("/reports.csv")
async def reports_csv(request: Request, viewer: ViewerDep) -> Response:
    """The triage queue's filter as CSV (every page, up to 10,000 rows)."""
    rows = await run_in_threadpool(triage_export, _reports(request), viewer.tenant, dict(request.query_params))
    return csv_response(
        "reports.csv", TRIAGE_COLUMNS, ([row.to_json()[name] for name in TRIAGE_COLUMNS] for row in rows)
    )


# -- one report ----------------------------------------------------------------------------------

#: A report's actions (POST /reports/{id}/{action}).
REPORT_ACTIONS = ("stage", "route", "merge", "moderate", "work-order")


def report_detail(
    service: ReportService, tenant: str, report_id: str, base_url: str
) -> tuple[Report, dict[str, Any], list[Report], int]:
    """A report as staff see it (sender and history with who did what), merge candidates, flag count."""
    report = service.get(tenant, report_id)
    view = staff_report_view(
        report,
        base_url,
        service.history(tenant, report_id, public=False),
        service.contact(tenant, report_id),
        service.links(tenant, report_id),
    )
    candidates: list[Report] = []
    if report.lat is not None and report.long is not None and report.stage is not Stage.DUPLICATE:
        wanted = ReportFilter(service_codes=(report.service_code,), statuses=("open",), limit=11)
        nearby, _ = service.around(tenant, wanted, report.lat, report.long, CANDIDATE_RADIUS_M)
        candidates = [other for other in nearby if other.id != report.id][:10]
    flags, _ = service.triage_marks(tenant, [report.id])
    return report, view, candidates, flags.get(report.id, 0)


def _report_context(service: ReportService, tenant: str, report_id: str) -> dict[str, Any]:
    # Photo links stay relative on the page (the JSON twin gives absolute ones).
    report, view, candidates, flags = report_detail(service, tenant, report_id, "")
    return {
        "report": report,
        "view": view,
        "candidates": candidates,
        "flags": flags,
        "departments": known_departments(service, tenant),
        "stages": [stage.value for stage in Stage if stage is not Stage.DUPLICATE],
        "has_work_order": any(link["kind"] == "work_order" for link in view["links"]),
        "comments": [u for u in view["updates"] if u["kind"] == UpdateKind.COMMENT.value],
    }


async def _report_page(request: Request, viewer: Viewer, report_id: str, error: UrbisError | None = None) -> Response:
    context = await run_in_threadpool(_report_context, _reports(request), viewer.tenant, report_id)
    return _page(request, "console/report.html", viewer, context, error=error, here=f"{BASE}/reports/{report_id}")


@router.get("/reports/{report_id}.json")
async def report_json(request: Request, viewer: ViewerDep, report_id: str) -> Response:
    """One report's JSON twin: the staff view with the sender, history, links, flags and merge candidates."""
    base_url = settings_of_app(request).effective_base_url
    _, view, candidates, flags = await run_in_threadpool(
        report_detail, _reports(request), viewer.tenant, report_id, base_url
    )
    return json_response(view | {"flags": flags, "mergeCandidates": [c.id for c in candidates]})


@router.get("/reports/{report_id}")
async def report_page(request: Request, viewer: ViewerDep, report_id: str) -> Response:
    """One report for staff: its sender (personal data), photos, history, links and the actions on it."""
    return await _report_page(request, viewer, report_id)


def _report_action(
    service: ReportService, viewer: Viewer, report_id: str, action: str, form: FormData, zone: ZoneInfo
) -> str:
    tenant, by = viewer.tenant, viewer.actor.subject
    if action == "stage":
        stage = _stage(_field(form, "stage", limit=40))
        expected = _optional(form, "expected", limit=40)
        service.set_stage(
            tenant,
            report_id,
            stage,
            _field(form, "note", limit=NOTE_LENGTH),
            by=by,
            expected_at=None if expected is None else local_instant(expected, zone, "the expected date"),
        )
    elif action == "route":
        department = _field(form, "department_other", limit=150) or _field(form, "department", limit=150)
        service.reroute(tenant, report_id, department, by=by)
    elif action == "merge":
        original = _field(form, "original", limit=64) or _field(form, "candidate", limit=64)
        if not original:
            raise BadRequestData("name the report this one duplicates")
        service.merge(tenant, report_id, original, by=by)
    elif action == "moderate":
        state = parse_moderation(_field(form, "state", limit=20))
        service.moderate(tenant, report_id, state, _reason(form, state) or APPROVED, by=by)
    elif action == "work-order":
        if any(kind == "work_order" for kind, _ in service.links(tenant, report_id)):
            raise Conflict(f"report {report_id} has a work order already; closing it closes the report")
        severity = _field(form, "severity", limit=20) or Severity.MEDIUM.value
        if severity not in {s.value for s in Severity}:
            raise BadRequestData(f"unknown severity {severity!r:.40}")
        service.open_work_order(tenant, report_id, by=by, severity=Severity(severity))
    else:
        raise BadRequestData(f"unknown action {action!r:.40}; use one of {', '.join(REPORT_ACTIONS)}")
    return action


def _stage(value: str) -> Stage:
    try:
        return Stage(value)
    except ValueError:
        raise BadRequestData(f"unknown stage {value!r:.40}; known: {', '.join(s.value for s in Stage)}") from None


@router.post("/reports/{report_id}/comments/{update_id}/moderate")
async def moderate_report_comment(request: Request, viewer: ViewerDep, report_id: str, update_id: str) -> Response:
    """Show or hide one comment on a report, with the reason recorded."""
    form = await _staff_form(request, viewer)
    service = _reports(request)

    def act() -> None:
        entry = next((u for u in service.history(viewer.tenant, report_id, public=False) if u.id == update_id), None)
        if entry is None or entry.kind is not UpdateKind.COMMENT:
            raise NotFound(f"report {report_id} has no comment {update_id!r:.60}")
        state = parse_moderation(_field(form, "state", limit=20))
        service.moderate_comment(
            viewer.tenant, update_id, state, _reason(form, state) or APPROVED, by=viewer.actor.subject
        )

    try:
        await run_in_threadpool(act)
    except SHOWN_ERRORS as error:
        return await _report_page(request, viewer, report_id, error)
    return _back(form, f"{BASE}/reports/{report_id}", "comment")


@router.post("/reports/{report_id}/{action}")
async def report_action(request: Request, viewer: ViewerDep, report_id: str, action: str) -> Response:
    """Set the stage with a public note, route, merge, moderate, or open a work order."""
    form = await _staff_form(request, viewer)
    try:
        done = await run_in_threadpool(
            _report_action, _reports(request), viewer, report_id, action, form, _zone(request)
        )
    except SHOWN_ERRORS as error:
        return await _report_page(request, viewer, report_id, error)
    return _back(form, f"{BASE}/reports/{report_id}", done)


# -- the moderation queue ------------------------------------------------------------------------

#: What can be moderated, by the kind names of the shared flags table.
MODERATION_KINDS = ("report", "report-comment", PROPOSAL_KIND, COMMENT_KIND)


@dataclass(frozen=True)
class QueueEntry:
    """Something residents wrote that waits for a moderator or was hidden, with its flags."""

    kind: str
    id: str
    title: str | None
    text: str
    at: datetime
    state: str
    flags: Mapping[str, int] = field(default_factory=dict)
    reason: str | None = None
    link: str | None = None

    @property
    def flag_count(self) -> int:
        """How many people flagged it."""
        return sum(self.flags.values())

    def to_json(self) -> dict[str, Any]:
        """The entry as the JSON twin shows it."""
        return {
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "text": self.text,
            "at": self.at,
            "moderation": self.state,
            "reason": self.reason,
            "flags": dict(self.flags),
            "flagCount": self.flag_count,
            "link": self.link,
        }


QUEUE_COLUMNS = ("kind", "id", "title", "text", "at", "moderation", "reason", "flagCount", "link")


def moderation_entries(
    reports: ReportService, participation: ParticipationService, tenant: str, page: int
) -> tuple[list[QueueEntry], int]:
    """One page of the whole queue (each source paged alike), newest first, and the total waiting."""
    offset = (page - 1) * PAGE_SIZE
    found = reports.moderation_queue(tenant, limit=PAGE_SIZE, offset=offset)
    entries = [
        QueueEntry(
            "report",
            r.id,
            r.service_name,
            r.description,
            r.requested_at,
            r.moderation.value,
            found["reportFlags"].get(r.id, {}),
            link=f"{BASE}/reports/{r.id}",
        )
        for r in found["reports"]
    ]
    entries += [
        QueueEntry(
            "report-comment",
            u.id,
            None,
            u.description,
            u.at,
            u.moderation.value,
            found["commentFlags"].get(u.id, {}),
            link=f"{BASE}/reports/{u.report_id}#update-{u.id}",
        )
        for u in found["comments"]
    ]
    items, participation_total = participation.moderation_queue(tenant, limit=PAGE_SIZE, offset=offset)
    for queued in items:
        shown = queued.to_json()
        is_proposal = shown["kind"] == PROPOSAL_KIND
        proposal_id = shown["id"] if is_proposal else shown["proposalId"]
        entries.append(
            QueueEntry(
                shown["kind"],
                shown["id"],
                shown.get("title"),
                shown["text"],
                shown["createdAt"],
                shown["moderation"]["state"],
                queued.flags,
                shown["moderation"]["reason"],
                f"{BASE}/proposals?moderation={shown['moderation']['state']}#proposal-{proposal_id}",
            )
        )
    entries.sort(key=lambda entry: (entry.at, entry.id), reverse=True)
    return entries, found["reportTotal"] + found["commentTotal"] + participation_total


def _moderation_listing(request: Request, viewer: Viewer) -> Listing:
    params = request.query_params
    chosen = {"page": params["page"]} if params.get("page") else {}
    page = _page_number(chosen)
    entries, total = moderation_entries(_reports(request), _participation(request), viewer.tenant, page)
    return _listing(entries, total, page, chosen)


async def _moderation_page(request: Request, viewer: Viewer, error: UrbisError | None = None) -> Response:
    listing = await run_in_threadpool(_moderation_listing, request, viewer)
    return _page(
        request, "console/moderation.html", viewer, {"listing": listing}, error=error, here=f"{BASE}/moderation"
    )


@router.get("/moderation")
async def moderation_page(request: Request, viewer: ViewerDep) -> Response:
    """Reports, comments and proposals waiting for a moderator or hidden, with their flags."""
    return await _moderation_page(request, viewer)


@router.get("/moderation.json")
async def moderation_json(request: Request, viewer: ViewerDep) -> Response:
    """The moderation queue's JSON twin."""
    listing = await run_in_threadpool(_moderation_listing, request, viewer)
    return json_response([e.to_json() for e in listing.items], headers={"X-Total-Count": str(listing.total)})


@router.get("/moderation.csv")
async def moderation_csv(request: Request, viewer: ViewerDep) -> Response:
    """The moderation queue's page as CSV."""
    listing = await run_in_threadpool(_moderation_listing, request, viewer)
    rows = ([entry.to_json()[name] for name in QUEUE_COLUMNS] for entry in listing.items)
    return csv_response("moderation.csv", QUEUE_COLUMNS, rows)


def moderate_item(
    reports: ReportService, participation: ParticipationService, viewer: Viewer, kind: str, item_id: str, form: FormData
) -> None:
    """Approve (public) or hide one item of the queue, with the reason recorded."""
    tenant, by = viewer.tenant, viewer.actor.subject
    if kind not in MODERATION_KINDS:
        raise NotFound(f"nothing of kind {kind!r:.40} is moderated; known: {', '.join(MODERATION_KINDS)}")
    state = parse_staff_decision(_field(form, "state", limit=20))
    reason = _reason(form, state)
    if kind == "report":
        reports.moderate(tenant, item_id, state, reason or APPROVED, by=by)
    elif kind == "report-comment":
        reports.moderate_comment(tenant, item_id, state, reason or APPROVED, by=by)
    elif kind == PROPOSAL_KIND:
        participation.moderate_proposal(tenant, item_id, state, reason, by=by)
    else:
        participation.moderate_comment(tenant, item_id, state, reason, by=by)


@router.post("/moderation/{kind}/{item_id}")
async def moderate(request: Request, viewer: ViewerDep, kind: str, item_id: str) -> Response:
    """Approve or hide one item (``state`` public or hidden, ``reason`` required to hide)."""
    form = await _staff_form(request, viewer)
    try:
        await run_in_threadpool(moderate_item, _reports(request), _participation(request), viewer, kind, item_id, form)
    except SHOWN_ERRORS as error:
        return await _moderation_page(request, viewer, error)
    return _back(form, f"{BASE}/moderation", "moderated")


# -- categories and routing rules -------------------------------------------------------------


@dataclass
class QuestionRow:
    """One question row of the category form, as typed (strings, so a refused form shows again as it was)."""

    code: str = ""
    datatype: str = Datatype.STRING.value
    description: str = ""
    hint: str = ""
    required: bool = False
    variable: bool = True
    order: str = ""
    values: str = ""  # one "key = name" per line

    @classmethod
    def of(cls, question: Question) -> QuestionRow:
        """The row showing a stored question."""
        return cls(
            question.code,
            question.datatype.value,
            question.description,
            question.datatype_description,
            question.required,
            question.variable,
            str(question.order),
            "\n".join(f"{c.key} = {c.name}" for c in question.values),
        )


@dataclass
class CategoryForm:
    """The category form's fields as typed."""

    code: str = ""
    name: str = ""
    description: str = ""
    group: str = ""
    department: str = ""
    keywords: str = ""
    object_types: str = ""
    active: bool = True
    position: str = "0"
    questions: list[QuestionRow] = field(default_factory=list)

    @classmethod
    def of(cls, category: Category) -> CategoryForm:
        """The form showing a stored category, with blank rows for new questions."""
        rows = [QuestionRow.of(q) for q in sorted(category.questions, key=lambda q: q.order)]
        return cls(
            category.code,
            category.name,
            category.description,
            category.group,
            category.department,
            ", ".join(category.keywords),
            ", ".join(category.object_types),
            category.active,
            str(category.position),
            rows + [QuestionRow() for _ in range(BLANK_QUESTION_ROWS)],
        )


def _words(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(word.strip() for word in text.split(",") if word.strip()))


def _choices(text: str, code: str) -> tuple[Choice, ...]:
    choices = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, _, name = line.partition("=")
        key, name = key.strip(), name.strip() or key.strip()
        if not key:
            raise BadRequestData(f"attribute {code!r}: each value is a line 'key = name'")
        choices.append(Choice(plain_text(key, 100, "value key"), plain_text(name, 200, "value name")))
    return tuple(choices)


def category_form(form: FormData, code: str | None) -> CategoryForm:
    """The category form as posted (``code`` fixed when editing)."""
    rows = _whole_number(_field(form, "rows", limit=3) or "0", "rows", maximum=MAX_QUESTION_ROWS)
    questions = []
    for n in range(rows):
        prefix = f"q-{n}-"
        if _checked(form, prefix + "remove"):
            continue
        questions.append(
            QuestionRow(
                code=_field(form, prefix + "code", limit=64),
                datatype=_field(form, prefix + "datatype", limit=20) or Datatype.STRING.value,
                description=_field(form, prefix + "description", limit=NOTE_LENGTH),
                hint=_field(form, prefix + "hint", limit=500),
                required=_checked(form, prefix + "required"),
                variable=not _checked(form, prefix + "info"),
                order=_field(form, prefix + "order", limit=4),
                values=_field(form, prefix + "values", limit=4000),
            )
        )
    return CategoryForm(
        code=code if code is not None else _field(form, "code", limit=64),
        name=_field(form, "name", limit=150),
        description=_field(form, "description", limit=2000),
        group=_field(form, "group", limit=64),
        department=_field(form, "department", limit=150),
        keywords=_field(form, "keywords", limit=1000),
        object_types=_field(form, "object_types", limit=1000),
        active=_checked(form, "active"),
        position=_field(form, "position", limit=6) or "0",
        questions=questions,
    )


def category_of(typed: CategoryForm) -> Category:
    """The category the form describes, checked (every problem of the questions named at once)."""
    questions = []
    kept = [row for row in typed.questions if row.code or row.description or row.values]
    for place, row in enumerate(kept, start=1):
        if row.datatype not in {d.value for d in Datatype}:
            raise BadRequestData(f"unknown datatype {row.datatype!r:.40}")
        order = _whole_number(row.order, f"the order of {row.code!r}", minimum=1, maximum=999) if row.order else place
        questions.append(
            Question(
                code=row.code,
                datatype=Datatype(row.datatype),
                description=plain_text(row.description, NOTE_LENGTH, "question"),
                required=row.required,
                variable=row.variable,
                order=order,
                datatype_description=plain_text(row.hint, 500, "hint"),
                values=_choices(row.values, row.code),
            )
        )
    category = Category(
        code=typed.code,
        name=plain_text(typed.name, 150, "name"),
        description=plain_text(typed.description, 2000, "description"),
        group=plain_text(typed.group, 64, "group"),
        department=plain_text(typed.department, 150, "department"),
        keywords=_words(plain_text(typed.keywords, 1000, "keywords")),
        object_types=_words(plain_text(typed.object_types, 1000, "asset types")),
        questions=tuple(sorted(questions, key=lambda q: q.order)),
        active=typed.active,
        position=_whole_number(typed.position, "position", maximum=10_000),
    )
    return check_category(category)


def _route_view(service: ReportService, tenant: str) -> dict[str, Any]:
    categories = service.categories(tenant, include_inactive=True)
    return {
        "categories": categories,
        "routes": service.routes(tenant),
        "names": {c.code: c.name for c in categories},
        "departments": known_departments(service, tenant),
    }


def category_json(category: Category) -> dict[str, Any]:
    """A category as the JSON twin shows it (questions in their stored shape)."""
    return {
        "code": category.code,
        "name": category.name,
        "description": category.description,
        "group": category.group,
        "department": category.department,
        "keywords": list(category.keywords),
        "objectTypes": list(category.object_types),
        "active": category.active,
        "position": category.position,
        "questions": [report_store.question_json(q) for q in category.questions],
    }


async def _categories_page(request: Request, viewer: Viewer, error: UrbisError | None = None) -> Response:
    context = await run_in_threadpool(_route_view, _reports(request), viewer.tenant)
    return _page(request, "console/categories.html", viewer, context, error=error)


@router.get("/categories")
async def categories_page(request: Request, viewer: ViewerDep) -> Response:
    """The categories (Open311 services), active and retired, and the routing rules."""
    return await _categories_page(request, viewer)


@router.get("/categories.json")
async def categories_json(request: Request, viewer: ViewerDep) -> Response:
    """The categories and routing rules as JSON."""
    context = await run_in_threadpool(_route_view, _reports(request), viewer.tenant)
    routes = [
        {"id": r.id, "serviceCode": r.service_code, "district": r.district, "department": r.department}
        for r in context["routes"]
    ]
    return json_response({"categories": [category_json(c) for c in context["categories"]], "routes": routes})


@router.get("/categories.csv")
async def categories_csv(request: Request, viewer: ViewerDep) -> Response:
    """The categories as CSV (one row each; questions by code)."""
    categories = await run_in_threadpool(_reports(request).categories, viewer.tenant, include_inactive=True)
    header = ["code", "name", "group", "department", "active", "keywords", "objectTypes", "questions"]
    rows = [
        [
            c.code,
            c.name,
            c.group,
            c.department,
            c.active,
            " ".join(c.keywords),
            " ".join(c.object_types),
            " ".join(q.code for q in c.questions),
        ]
        for c in categories
    ]
    return csv_response("categories.csv", header, rows)


def _category_page(
    request: Request, viewer: Viewer, typed: CategoryForm, *, new: bool, error: UrbisError | None = None
) -> Response:
    context = {"form": typed, "new": new, "datatypes": [d.value for d in Datatype]}
    return _page(request, "console/categories_edit.html", viewer, context, error=error)


@router.get("/categories/new")
async def new_category_page(request: Request, viewer: ViewerDep) -> Response:
    """An empty category form."""
    typed = CategoryForm(questions=[QuestionRow() for _ in range(BLANK_QUESTION_ROWS)])
    return _category_page(request, viewer, typed, new=True)


@router.get("/categories/edit/{code}")
async def edit_category_page(request: Request, viewer: ViewerDep, code: str) -> Response:
    """A category's form, its questions in order, with blank rows for new ones."""
    category = await run_in_threadpool(_reports(request).category, viewer.tenant, code)
    return _category_page(request, viewer, CategoryForm.of(category), new=False)


async def _save_category(request: Request, viewer: Viewer, code: str | None) -> Response:
    form = await _staff_form(request, viewer, max_fields=MAX_ROW_FORM_FIELDS)
    service = _reports(request)
    typed = CategoryForm()
    try:
        typed = category_form(form, code)

        def save() -> None:
            category = category_of(typed)
            if code is None and any(
                c.code == category.code for c in service.categories(viewer.tenant, include_inactive=True)
            ):
                raise Conflict(f"there is a category {category.code!r} already; edit it instead")
            if code is not None:
                service.category(viewer.tenant, code)  # only an existing category is edited
            service.save_category(viewer.tenant, category, by=viewer.actor.subject)

        await run_in_threadpool(save)
    except SHOWN_ERRORS as error:
        # The form comes back as typed, with room for another question.
        if len(typed.questions) < MAX_QUESTION_ROWS:
            typed.questions.append(QuestionRow())
        return _category_page(request, viewer, typed, new=code is None, error=error)
    return RedirectResponse(f"{BASE}/categories?done=category", status_code=303)


@router.post("/categories/new")
async def create_category(request: Request, viewer: ViewerDep) -> Response:
    """Create a category with its questions."""
    return await _save_category(request, viewer, None)


@router.post("/categories/edit/{code}")
async def save_category(request: Request, viewer: ViewerDep, code: str) -> Response:
    """Replace a category's text, department, asset types and questions."""
    return await _save_category(request, viewer, code)


@router.post("/categories/routes")
async def add_route(request: Request, viewer: ViewerDep) -> Response:
    """Send reports of a category and/or district to a department."""
    form = await _staff_form(request, viewer)
    service = _reports(request)

    def add() -> None:
        department = _field(form, "department_other", limit=150) or _field(form, "department", limit=150)
        service.add_route(
            viewer.tenant,
            department,
            service_code=_optional(form, "service_code", limit=64),
            district=_optional(form, "district", limit=200),
            by=viewer.actor.subject,
        )

    try:
        await run_in_threadpool(add)
    except SHOWN_ERRORS as error:
        return await _categories_page(request, viewer, error)
    return RedirectResponse(f"{BASE}/categories?done=route-added#routes", status_code=303)


@router.post("/categories/routes/{route_id}/delete")
async def delete_route(request: Request, viewer: ViewerDep, route_id: str) -> Response:
    """Remove a routing rule."""
    await _staff_form(request, viewer)
    try:
        await run_in_threadpool(
            lambda: _reports(request).delete_route(viewer.tenant, route_id, by=viewer.actor.subject)
        )
    except SHOWN_ERRORS as error:
        return await _categories_page(request, viewer, error)
    return RedirectResponse(f"{BASE}/categories?done=route-deleted#routes", status_code=303)


# -- Open311 keys --------------------------------------------------------------------------------


def key_json(key: ApiKey) -> dict[str, Any]:
    """An Open311 key as staff see it (never the key itself)."""
    return {
        "id": key.id,
        "name": key.name,
        "createdBy": key.created_by,
        "createdAt": key.created_at,
        "revokedAt": key.revoked_at,
        "active": key.revoked_at is None,
    }


async def _keys_page(
    request: Request,
    viewer: Viewer,
    *,
    created: tuple[ApiKey, str] | None = None,
    error: UrbisError | None = None,
) -> Response:
    keys = await run_in_threadpool(_reports(request).api_keys, viewer.tenant)
    return _page(request, "console/open311_keys.html", viewer, {"keys": keys, "created": created}, error=error)


@router.get("/open311-keys")
async def keys_page(request: Request, viewer: ViewerDep) -> Response:
    """The Open311 keys of the city's client apps, with create and revoke."""
    return await _keys_page(request, viewer)


@router.get("/open311-keys.json")
async def keys_json(request: Request, viewer: ViewerDep) -> Response:
    """The keys' JSON twin (names and dates, never the keys)."""
    keys = await run_in_threadpool(_reports(request).api_keys, viewer.tenant)
    return json_response([key_json(k) for k in keys], headers={"X-Total-Count": str(len(keys))})


@router.get("/open311-keys.csv")
async def keys_csv(request: Request, viewer: ViewerDep) -> Response:
    """The keys as CSV."""
    keys = await run_in_threadpool(_reports(request).api_keys, viewer.tenant)
    header = ["id", "name", "createdBy", "createdAt", "revokedAt", "active"]
    return csv_response("open311-keys.csv", header, ([key_json(k)[name] for name in header] for k in keys))


@router.post("/open311-keys")
async def create_key(request: Request, viewer: ViewerDep) -> Response:
    """Issue a key; the page shows it this once (it is kept only hashed)."""
    form = await _staff_form(request, viewer)
    try:
        created = await run_in_threadpool(
            lambda: _reports(request).create_api_key(
                viewer.tenant, _field(form, "name", limit=150), by=viewer.actor.subject
            )
        )
    except SHOWN_ERRORS as error:
        return await _keys_page(request, viewer, error=error)
    # Answered directly, not redirected: the key must not travel in a URL or be shown twice.
    return await _keys_page(request, viewer, created=created)


@router.post("/open311-keys/{key_id}/revoke")
async def revoke_key(request: Request, viewer: ViewerDep, key_id: str) -> Response:
    """Revoke a key: its client is refused from now on."""
    await _staff_form(request, viewer)
    try:
        await run_in_threadpool(
            lambda: _reports(request).revoke_api_key(viewer.tenant, key_id, by=viewer.actor.subject)
        )
    except SHOWN_ERRORS as error:
        return await _keys_page(request, viewer, error=error)
    return RedirectResponse(f"{BASE}/open311-keys?done=key-revoked", status_code=303)


# -- proposals -----------------------------------------------------------------------------------

PROPOSAL_FILTERS = ("state", "moderation", "order", "page")
PROPOSAL_COLUMNS = (
    "id",
    "title",
    "state",
    "supports",
    "threshold",
    "deadline",
    "district",
    "createdAt",
    "moderation",
    "answerStatus",
    "answerReason",
    "answerCost",
    "answeredAt",
)


def proposal_row(shown: Mapping[str, Any]) -> dict[str, Any]:
    """A proposal's CSV row from its staff JSON."""
    answer = shown.get("answer") or {}
    return {
        "id": shown["id"],
        "title": shown["title"],
        "state": shown["state"],
        "supports": shown["progress"]["supports"],
        "threshold": shown["progress"]["threshold"],
        "deadline": shown["progress"]["deadline"],
        "district": shown["district"],
        "createdAt": shown["createdAt"],
        "moderation": shown["moderation"]["state"],
        "answerStatus": answer.get("status"),
        "answerReason": answer.get("reason"),
        "answerCost": answer.get("cost"),
        "answeredAt": answer.get("answeredAt"),
    }


def proposal_listing(participation: ParticipationService, viewer: Viewer, params: Mapping[str, str]) -> Listing:
    """The proposals page the query string asks for (staff see hidden ones too)."""
    chosen = {name: params[name].strip() for name in PROPOSAL_FILTERS if params.get(name, "").strip()}
    page = _page_number(chosen)
    state, moderation = chosen.get("state"), chosen.get("moderation")
    found, total = participation.list_proposals(
        viewer.tenant,
        _reader(viewer),
        state=None if state is None else parse_state(state),
        moderation=None if moderation is None else parse_moderation(moderation),
        order=parse_order(chosen.get("order", ProposalOrder.NEWEST.value)),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return _listing([view.to_json() for view in found], total, page, chosen)


async def _proposals_page(request: Request, viewer: Viewer, error: UrbisError | None = None) -> Response:
    listing = await run_in_threadpool(proposal_listing, _participation(request), viewer, dict(request.query_params))
    context = {"listing": listing, "states": [s.value for s in ProposalState]}
    return _page(request, "console/proposals.html", viewer, context, error=error, here=f"{BASE}/proposals")


@router.get("/proposals")
async def proposals_page(request: Request, viewer: ViewerDep) -> Response:
    """Proposals with their supports against the threshold, deadline, answer and moderation."""
    return await _proposals_page(request, viewer)


@router.get("/proposals.json")
async def proposals_json(request: Request, viewer: ViewerDep) -> Response:
    """The proposals' JSON twin (the staff view of each)."""
    listing = await run_in_threadpool(proposal_listing, _participation(request), viewer, dict(request.query_params))
    return json_response(list(listing.items), headers={"X-Total-Count": str(listing.total)})


@router.get("/proposals.csv")
async def proposals_csv(request: Request, viewer: ViewerDep) -> Response:
    """The proposals' page as CSV."""
    listing = await run_in_threadpool(proposal_listing, _participation(request), viewer, dict(request.query_params))
    rows = ([proposal_row(p)[name] for name in PROPOSAL_COLUMNS] for p in listing.items)
    return csv_response("proposals.csv", PROPOSAL_COLUMNS, rows)


@router.post("/proposals/{proposal_id}/answer")
async def answer_proposal(request: Request, viewer: ViewerDep, proposal_id: str) -> Response:
    """Publish the city's answer: evaluating, accepted or rejected, with a reason and an optional cost."""
    form = await _staff_form(request, viewer)
    participation = _participation(request)

    def answer() -> None:
        status = parse_answer_status(_field(form, "status", limit=20))
        reason = _field(form, "reason", limit=2000)
        cost = _optional(form, "cost", limit=20)
        participation.answer(viewer.tenant, proposal_id, status, reason, cost, by=viewer.actor.subject)

    try:
        await run_in_threadpool(answer)
    except SHOWN_ERRORS as error:
        return await _proposals_page(request, viewer, error)
    return _back(form, f"{BASE}/proposals", "answered")


@router.post("/proposals/{proposal_id}/moderate")
async def moderate_proposal(request: Request, viewer: ViewerDep, proposal_id: str) -> Response:
    """Make a proposal public or hide it, with the reason recorded."""
    form = await _staff_form(request, viewer)
    try:
        await run_in_threadpool(
            moderate_item, _reports(request), _participation(request), viewer, PROPOSAL_KIND, proposal_id, form
        )
    except SHOWN_ERRORS as error:
        return await _proposals_page(request, viewer, error)
    return _back(form, f"{BASE}/proposals", "moderated")


# -- participatory budgets -----------------------------------------------------------------------


@dataclass
class HeadingRow:
    """One heading (district) row of the budget form, as typed."""

    id: str = ""
    name: str = ""
    amount: str = ""
    rule: str = RuleKind.MINIMUM_PROJECTS.value
    minimum_percent: str = ""
    minimum_projects: str = ""
    maximum_projects: str = ""

    @classmethod
    def of(cls, heading: Mapping[str, Any]) -> HeadingRow:
        """The row showing a stored heading (its JSON form)."""
        rule = heading["rule"]
        return cls(
            heading["id"],
            heading["name"],
            heading["amount"],
            rule["kind"],
            str(rule.get("minimumPercent") or ""),
            str(rule.get("minimumProjects") or ""),
            str(rule.get("maximumProjects") or ""),
        )

    def to_document(self) -> dict[str, Any]:
        """The heading in the JSON form the budget rules check."""
        rule: dict[str, Any] = {"kind": self.rule}
        if self.rule == RuleKind.MINIMUM_PERCENT.value:
            rule["minimumPercent"] = self.minimum_percent
        elif self.rule == RuleKind.MINIMUM_PROJECTS.value:
            rule["minimumProjects"] = _count(self.minimum_projects, self.id, "the least number of projects")
        else:
            rule["minimumProjects"] = _count(self.minimum_projects, self.id, "the least number of projects")
            rule["maximumProjects"] = _count(self.maximum_projects, self.id, "the most projects")
        return {"id": self.id, "name": self.name, "amount": self.amount, "rule": rule}


def _count(text: str, heading: str, what: str) -> int:
    return _whole_number(text, f"district {heading!r}: {what}", minimum=1, maximum=1000)


@dataclass
class BudgetForm:
    """The budget form's fields as typed."""

    title: str = ""
    description: str = ""
    currency: str = "EUR"
    headings: list[HeadingRow] = field(default_factory=list)


def budget_form(form: FormData) -> BudgetForm:
    """The budget form as posted (empty heading rows left out)."""
    rows = _whole_number(_field(form, "rows", limit=3) or "0", "rows", maximum=MAX_HEADING_ROWS)
    headings = []
    for n in range(rows):
        prefix = f"h-{n}-"
        row = HeadingRow(
            _field(form, prefix + "id", limit=64),
            _field(form, prefix + "name", limit=150),
            _field(form, prefix + "amount", limit=20),
            _field(form, prefix + "rule", limit=20) or RuleKind.MINIMUM_PROJECTS.value,
            _field(form, prefix + "percent", limit=10),
            _field(form, prefix + "min", limit=5),
            _field(form, prefix + "max", limit=5),
        )
        if row.id or row.name or row.amount:
            headings.append(row)
    return BudgetForm(
        _field(form, "title", limit=150),
        _field(form, "description", limit=4000),
        _field(form, "currency", limit=3).upper(),
        headings,
    )


def _budget_draft(typed: BudgetForm) -> Any:
    return check_budget(typed.title, typed.description, typed.currency, [h.to_document() for h in typed.headings])


BUDGET_COLUMNS = ("id", "title", "phase", "currency", "headings", "ballots", "createdAt", "updatedAt")


def budget_listing(participation: ParticipationService, viewer: Viewer, params: Mapping[str, str]) -> Listing:
    """The budgets page (drafts included: staff see them)."""
    chosen = {name: params[name].strip() for name in ("phase", "page") if params.get(name, "").strip()}
    page = _page_number(chosen)
    phase = chosen.get("phase")
    found, total = participation.list_budgets(
        viewer.tenant,
        _reader(viewer),
        phase=None if phase is None else parse_phase(phase),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return _listing([view.to_json(with_projects=False) for view in found], total, page, chosen)


def _blank_budget(settings: Settings) -> BudgetForm:
    return BudgetForm(currency=settings.parking_currency, headings=[HeadingRow() for _ in range(BLANK_HEADING_ROWS)])


async def _budgets_page(
    request: Request, viewer: Viewer, typed: BudgetForm | None = None, error: UrbisError | None = None
) -> Response:
    listing = await run_in_threadpool(budget_listing, _participation(request), viewer, dict(request.query_params))
    context = {
        "listing": listing,
        "form": typed or _blank_budget(settings_of_app(request)),
        "phases": [p.value for p in BudgetPhase],
        "rules": [r.value for r in RuleKind],
    }
    return _page(request, "console/budgets.html", viewer, context, error=error)


@router.get("/budgets")
async def budgets_page(request: Request, viewer: ViewerDep) -> Response:
    """Participatory budget processes, and a form to open one with its districts."""
    return await _budgets_page(request, viewer)


@router.get("/budgets.json")
async def budgets_json(request: Request, viewer: ViewerDep) -> Response:
    """The budgets' JSON twin."""
    listing = await run_in_threadpool(budget_listing, _participation(request), viewer, dict(request.query_params))
    return json_response(list(listing.items), headers={"X-Total-Count": str(listing.total)})


@router.get("/budgets.csv")
async def budgets_csv(request: Request, viewer: ViewerDep) -> Response:
    """The budgets as CSV."""
    listing = await run_in_threadpool(budget_listing, _participation(request), viewer, dict(request.query_params))
    rows = [
        [
            b["id"],
            b["title"],
            b["phase"],
            b["currency"],
            len(b["headings"]),
            b.get("ballots"),
            b["createdAt"],
            b["updatedAt"],
        ]
        for b in listing.items
    ]
    return csv_response("budgets.csv", BUDGET_COLUMNS, rows)


@router.post("/budgets")
async def create_budget(request: Request, viewer: ViewerDep) -> Response:
    """Open a budget process (in drafting) with its districts, their money and ballot rules."""
    form = await _staff_form(request, viewer, max_fields=MAX_ROW_FORM_FIELDS)
    participation = _participation(request)
    typed = _blank_budget(settings_of_app(request))
    try:
        typed = budget_form(form)
        view = await run_in_threadpool(
            lambda: participation.create_budget(viewer.tenant, _budget_draft(typed), by=viewer.actor.subject)
        )
    except SHOWN_ERRORS as error:
        if len(typed.headings) < MAX_HEADING_ROWS:
            typed.headings.append(HeadingRow())
        return await _budgets_page(request, viewer, typed, error)
    return RedirectResponse(f"{BASE}/budgets/{view.budget.id}?done=budget-created", status_code=303)


def budget_detail(participation: ParticipationService, viewer: Viewer, budget_id: str) -> dict[str, Any]:
    """A process as staff see it: headings, projects, turnout; the results once finished."""
    reader = _reader(viewer)
    view = participation.get_budget(viewer.tenant, budget_id, reader)
    results = None
    if view.budget.phase is BudgetPhase.FINISHED:
        results = participation.results(viewer.tenant, budget_id, reader).to_json()
    return {"budget": view.to_json(), "results": results}


def _next_phases(phase: str) -> list[str]:
    order = [p.value for p in BudgetPhase]
    return order[order.index(phase) + 1 :]


async def _budget_page(
    request: Request, viewer: Viewer, budget_id: str, typed: BudgetForm | None = None, error: UrbisError | None = None
) -> Response:
    detail = await run_in_threadpool(budget_detail, _participation(request), viewer, budget_id)
    budget = detail["budget"]
    if typed is None:
        headings = [HeadingRow.of(h) for h in budget["headings"]] + [HeadingRow()]
        typed = BudgetForm(budget["title"], budget["description"], budget["currency"], headings)
    context = {
        **detail,
        "form": typed,
        "editable": budget["phase"] in {p.value for p in (BudgetPhase.DRAFTING, BudgetPhase.INFORMING)},
        "next_phases": _next_phases(budget["phase"]),
        "rules": [r.value for r in RuleKind],
    }
    return _page(request, "console/budgets_detail.html", viewer, context, error=error)


@router.get("/budgets/{budget_id}.json")
async def budget_json(request: Request, viewer: ViewerDep, budget_id: str) -> Response:
    """One process's JSON twin (with its results once finished)."""
    return json_response(await run_in_threadpool(budget_detail, _participation(request), viewer, budget_id))


@router.get("/budgets/{budget_id}")
async def budget_page(request: Request, viewer: ViewerDep, budget_id: str) -> Response:
    """One process: districts, projects, phase, turnout and results."""
    return await _budget_page(request, viewer, budget_id)


@router.post("/budgets/{budget_id}")
async def edit_budget(request: Request, viewer: ViewerDep, budget_id: str) -> Response:
    """Change a process's text and districts before voting."""
    form = await _staff_form(request, viewer, max_fields=MAX_ROW_FORM_FIELDS)
    participation = _participation(request)
    typed: BudgetForm | None = None
    try:
        typed = budget_form(form)
        await run_in_threadpool(
            lambda: participation.edit_budget(viewer.tenant, budget_id, _budget_draft(typed), by=viewer.actor.subject)
        )
    except SHOWN_ERRORS as error:
        if typed is not None and len(typed.headings) < MAX_HEADING_ROWS:
            typed.headings.append(HeadingRow())
        return await _budget_page(request, viewer, budget_id, typed, error)
    return RedirectResponse(f"{BASE}/budgets/{budget_id}?done=budget-saved", status_code=303)


@router.get("/budgets/{budget_id}/phase")
async def confirm_phase_page(request: Request, viewer: ViewerDep, budget_id: str) -> Response:
    """Ask before moving a process on: a phase never goes back."""
    wanted = parse_phase(request.query_params.get("to", ""))
    detail = await run_in_threadpool(budget_detail, _participation(request), viewer, budget_id)
    context = {**detail, "to": wanted.value}
    return _page(request, "console/budgets_phase.html", viewer, context)


@router.post("/budgets/{budget_id}/phase")
async def change_phase(request: Request, viewer: ViewerDep, budget_id: str) -> Response:
    """Move a process to a later phase, once confirmed."""
    form = await _staff_form(request, viewer)
    participation = _participation(request)

    def move() -> None:
        phase = parse_phase(_field(form, "phase", limit=20))
        if form.get("confirm") != "yes":
            raise BadRequestData("confirm the change of phase: it cannot be undone")
        participation.change_phase(viewer.tenant, budget_id, phase, by=viewer.actor.subject)

    try:
        await run_in_threadpool(move)
    except SHOWN_ERRORS as error:
        return await _budget_page(request, viewer, budget_id, error=error)
    return RedirectResponse(f"{BASE}/budgets/{budget_id}?done=phase", status_code=303)


def _project_fields(form: FormData) -> dict[str, Any]:
    return {
        "heading_id": _field(form, "heading", limit=64),
        "title": _field(form, "title", limit=150),
        "description": _field(form, "description", limit=4000),
        "cost": _field(form, "cost", limit=20),
        "proposal_id": _optional(form, "proposal", limit=64),
    }


@router.post("/budgets/{budget_id}/projects")
async def add_project(request: Request, viewer: ViewerDep, budget_id: str) -> Response:
    """Add a project to a district of the process (before voting)."""
    form = await _staff_form(request, viewer)
    participation = _participation(request)
    try:
        await run_in_threadpool(
            lambda: participation.add_project(
                viewer.tenant, budget_id, **_project_fields(form), by=viewer.actor.subject
            )
        )
    except SHOWN_ERRORS as error:
        return await _budget_page(request, viewer, budget_id, error=error)
    return RedirectResponse(f"{BASE}/budgets/{budget_id}?done=project-added#projects", status_code=303)


@router.post("/budgets/{budget_id}/projects/{project_id}")
async def edit_project(request: Request, viewer: ViewerDep, budget_id: str, project_id: str) -> Response:
    """Change a project (before voting)."""
    form = await _staff_form(request, viewer)
    participation = _participation(request)
    try:
        await run_in_threadpool(
            lambda: participation.edit_project(
                viewer.tenant, budget_id, project_id, **_project_fields(form), by=viewer.actor.subject
            )
        )
    except SHOWN_ERRORS as error:
        return await _budget_page(request, viewer, budget_id, error=error)
    return RedirectResponse(f"{BASE}/budgets/{budget_id}?done=project-saved#projects", status_code=303)


# -- polls ---------------------------------------------------------------------------------------

#: How long a new poll runs unless staff say otherwise (the form's suggestion).
POLL_DAYS = timedelta(days=14)
POLL_COLUMNS = ("id", "question", "status", "options", "maxChoices", "opensAt", "closesAt", "closedAt", "voters")


@dataclass
class PollForm:
    """The poll form's fields as typed."""

    question: str = ""
    options: str = ""  # one per line
    max_choices: str = "1"
    opens_at: str = ""
    closes_at: str = ""
    visibility: str = ResultsVisibility.AFTER_CLOSE.value


def poll_listing(participation: ParticipationService, viewer: Viewer, params: Mapping[str, str]) -> Listing:
    """The polls page (latest opening first)."""
    chosen = {name: params[name].strip() for name in ("status", "page") if params.get(name, "").strip()}
    page = _page_number(chosen)
    status = chosen.get("status")
    found, total = participation.list_polls(
        viewer.tenant,
        _reader(viewer),
        status=None if status is None else parse_status(status),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return _listing([view.to_json() for view in found], total, page, chosen)


async def _polls_page(
    request: Request, viewer: Viewer, typed: PollForm | None = None, error: UrbisError | None = None
) -> Response:
    listing = await run_in_threadpool(poll_listing, _participation(request), viewer, dict(request.query_params))
    context = {
        "listing": listing,
        "form": typed
        or PollForm(closes_at=local_input(_participation(request).clock.now() + POLL_DAYS, _zone(request))),
        "statuses": [s.value for s in PollStatus],
        "visibilities": [v.value for v in ResultsVisibility],
    }
    return _page(request, "console/polls.html", viewer, context, error=error)


@router.get("/polls")
async def polls_page(request: Request, viewer: ViewerDep) -> Response:
    """Polls with their status and turnout, and a form to make one."""
    return await _polls_page(request, viewer)


@router.get("/polls.json")
async def polls_json(request: Request, viewer: ViewerDep) -> Response:
    """The polls' JSON twin."""
    listing = await run_in_threadpool(poll_listing, _participation(request), viewer, dict(request.query_params))
    return json_response(list(listing.items), headers={"X-Total-Count": str(listing.total)})


@router.get("/polls.csv")
async def polls_csv(request: Request, viewer: ViewerDep) -> Response:
    """The polls as CSV."""
    listing = await run_in_threadpool(poll_listing, _participation(request), viewer, dict(request.query_params))
    rows = [
        [
            p["id"],
            p["question"],
            p["status"],
            " | ".join(o["text"] for o in p["options"]),
            p["maxChoices"],
            p["opensAt"],
            p["closesAt"],
            p["closedAt"],
            p["voters"],
        ]
        for p in listing.items
    ]
    return csv_response("polls.csv", POLL_COLUMNS, rows)


def poll_form(form: FormData) -> PollForm:
    """The poll form as posted."""
    return PollForm(
        _field(form, "question", limit=300),
        _field(form, "options", limit=5000),
        _field(form, "max_choices", limit=3) or "1",
        _field(form, "opens_at", limit=40),
        _field(form, "closes_at", limit=40),
        _field(form, "visibility", limit=20) or ResultsVisibility.AFTER_CLOSE.value,
    )


def create_poll(participation: ParticipationService, viewer: Viewer, typed: PollForm, zone: ZoneInfo) -> str:
    """Make the poll the form describes; its id."""
    if not typed.closes_at:
        raise BadRequestData("say when the poll closes")
    options = [line.strip() for line in typed.options.splitlines() if line.strip()]
    view = participation.create_poll(
        viewer.tenant,
        typed.question,
        options,
        max_choices=_whole_number(typed.max_choices, "the number of choices", minimum=1, maximum=20),
        opens_at=local_instant(typed.opens_at, zone, "the opening") if typed.opens_at else None,
        closes_at=local_instant(typed.closes_at, zone, "the closing"),
        visibility=parse_visibility(typed.visibility),
        by=viewer.actor.subject,
    )
    return view.poll.id


@router.post("/polls")
async def create_poll_action(request: Request, viewer: ViewerDep) -> Response:
    """Make a poll: question, options, how many to choose, when it opens and closes, when results show."""
    form = await _staff_form(request, viewer)
    typed = PollForm()
    try:
        typed = poll_form(form)
        poll_id = await run_in_threadpool(create_poll, _participation(request), viewer, typed, _zone(request))
    except SHOWN_ERRORS as error:
        return await _polls_page(request, viewer, typed, error)
    return RedirectResponse(f"{BASE}/polls/{poll_id}?done=poll-created", status_code=303)


def _poll_detail(participation: ParticipationService, viewer: Viewer, poll_id: str) -> dict[str, Any]:
    return participation.get_poll(viewer.tenant, poll_id, _reader(viewer)).to_json()


async def _poll_page(request: Request, viewer: Viewer, poll_id: str, error: UrbisError | None = None) -> Response:
    poll = await run_in_threadpool(_poll_detail, _participation(request), viewer, poll_id)
    return _page(request, "console/polls_detail.html", viewer, {"poll": poll}, error=error)


@router.get("/polls/{poll_id}.json")
async def poll_json(request: Request, viewer: ViewerDep, poll_id: str) -> Response:
    """One poll's JSON twin, with its results (staff always see them)."""
    return json_response(await run_in_threadpool(_poll_detail, _participation(request), viewer, poll_id))


@router.get("/polls/{poll_id}")
async def poll_page(request: Request, viewer: ViewerDep, poll_id: str) -> Response:
    """One poll with its results."""
    return await _poll_page(request, viewer, poll_id)


@router.post("/polls/{poll_id}/close")
async def close_poll(request: Request, viewer: ViewerDep, poll_id: str) -> Response:
    """Close a poll before its planned end."""
    await _staff_form(request, viewer)
    participation = _participation(request)
    try:
        await run_in_threadpool(lambda: participation.close_poll(viewer.tenant, poll_id, by=viewer.actor.subject))
    except SHOWN_ERRORS as error:
        return await _poll_page(request, viewer, poll_id, error)
    return RedirectResponse(f"{BASE}/polls/{poll_id}?done=poll-closed", status_code=303)
