"""The residents' participation pages under ``/app/participate``: proposals, participatory budgets, polls.

Server-rendered forms that work without JavaScript (a small script only keeps a running total on
the ballot and fills in "my location").  Every page has a ``.json`` twin built from the same page
view.  Reading is public: anyone sees proposals with their progress, budgets with their turnout and
results, polls with their results when these are public; nobody's support or vote is ever named.
Taking part needs a login: visitors get a login link where the buttons would be.

Each change runs as one resident (one person, one support, one ballot, one vote: the service
enforces it), carries the login's CSRF token and counts against the submission rate limits.  A
refusal shows the page again with the service's message and whatever the resident typed or chose;
a success redirects (post/redirect/get) to the page with a notice.

A budget ballot takes two steps, so that nobody casts one by accident and nobody leaves one
unconfirmed without knowing: choosing projects (checked against the district's rule at once), then
"check your choices, then confirm", which casts it.  The receipt (ballot id and fingerprint) is shown
afterwards on the budget's page, with a form anyone can use to verify a receipt was counted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode

from babel import Locale
from babel.numbers import format_currency, format_decimal
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import RedirectResponse, Response

from urbis.citizens.moderation import FlagReason, parse_flag_reason
from urbis.citizens.participation.budgets import (
    PHASES,
    Budget,
    BudgetPhase,
    Heading,
    HeadingResult,
    Project,
    check_ballot,
)
from urbis.citizens.participation.model import Point, check_district, money_text
from urbis.citizens.participation.polls import PollStatus
from urbis.citizens.participation.proposals import (
    ProposalOrder,
    ProposalState,
    check_draft,
    parse_order,
    parse_state,
)
from urbis.citizens.participation.service import ParticipationService
from urbis.citizens.participation.views import (
    PUBLIC,
    BallotView,
    BudgetView,
    CommentView,
    PollView,
    ProposalView,
    ReceiptView,
    ResultsView,
    Viewer,
    project_json,
)
from urbis.citizens.places import Places
from urbis.core.auth.roles import can_participate
from urbis.core.errors import BadRequestData, Conflict, PolicyDenied
from urbis.web.citizen.pages import CitizenRoute, render_page
from urbis.web.citizen.session import CSRF_FIELD_NAME, Resident, Visit, csrf_ok, visit_of
from urbis.web.ngsild.common import call, read_body
from urbis.web.params import json_response
from urbis.web.ratelimit import RateLimits, TooManyRequests
from urbis.web.ui.common import settings_of_app

PREFIX = "/app/participate"
#: Proposals per page of the list; the overview shows a few of each kind.
PAGE_SIZE = 20
OVERVIEW_SIZE = 5
#: Comments shown under a proposal (oldest first).
COMMENTS_SHOWN = 100
#: A participation form is a few short fields (a ballot: one per project).
FORM_BYTES = 64 * 1024
FORM_FIELDS = 1100
#: Proposal form fields that carry a problem of their own.
PROPOSAL_FIELDS = ("title", "body", "district", "location")

router = APIRouter(include_in_schema=False, route_class=CitizenRoute)
T = TypeVar("T")


# -- what every page shares ---------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why an action was refused, as the page shows it: a ``code`` the template words, or the service's ``text``."""

    status: int
    text: str = ""
    code: str = ""
    retry_after: int | None = None


@dataclass(frozen=True)
class District:
    """A district residents may name on a proposal (from the city's places)."""

    id: str
    name: str


def _service(request: Request) -> ParticipationService:
    service: ParticipationService = request.app.state.participation
    return service


def _visit(request: Request) -> Visit:
    return visit_of(request, settings_of_app(request))


def _viewer(visit: Visit) -> Viewer:
    """The citizen app shows the public projection, plus the resident's own things (never staff details)."""
    return PUBLIC if visit.resident is None else Viewer(visit.resident.username)


def _may_take_part(visit: Visit) -> bool:
    return visit.resident is not None and can_participate(visit.resident.actor, visit.tenant)


def _limits(request: Request) -> RateLimits | None:
    found = getattr(request.app.state, "rate_limits", None)
    return found if isinstance(found, RateLimits) else None


def _count_read(request: Request) -> None:
    limits = _limits(request)
    if limits is not None:
        limits.check_read(request)


def money_formatter(language: str) -> Callable[[Decimal | int | float, str], str]:
    """Amounts as a reader of ``language`` writes them: whole amounts without cents (€1,000,000; 1.000.000 €)."""
    locale = Locale.parse(language)
    standard = locale.currency_formats["standard"].pattern

    def money(amount: Decimal | int | float, currency: str) -> str:
        value = Decimal(str(amount))
        if value == value.to_integral_value():
            whole = standard.replace(".00", "")
            return format_currency(value, currency, format=whole, locale=locale, currency_digits=False)
        return format_currency(value, currency, locale=locale)

    return money


def percent_text(language: str, percent: Decimal) -> str:
    """A percentage such as a rule's 70 (→ "70%", "70 %"), with its decimals only when it has any."""
    locale = Locale.parse(language)
    number = format_decimal(percent, format="#,##0.##", locale=locale)
    return f"{number}%" if locale.language == "en" else f"{number}\xa0%"


def days_left(deadline: datetime, now: datetime) -> int:
    """Whole days until ``deadline`` (a part of a day counts as one), never below 0."""
    seconds = (deadline - now).total_seconds()
    return max(0, math.ceil(seconds / 86400))


def _page_tools(request: Request, visit: Visit) -> dict[str, Any]:
    """What every participation template uses besides its view: the clock, money and percentages in the language."""
    language = visit.language
    return {
        "now": _service(request).clock.now(),
        "money": money_formatter(language),
        "percent_text": lambda percent: percent_text(language, percent),
        "days_left": days_left,
        "nav": PREFIX,
        "may_take_part": _may_take_part(visit),
        "flag_reasons": [reason.value for reason in FlagReason],
    }


def _render(
    request: Request,
    visit: Visit,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    full = {**_page_tools(request, visit), **context}
    return render_page(request, f"citizen/participate/{template}", full, visit=visit, status=status, headers=headers)


def _problem_headers(problem: Problem | None) -> dict[str, str] | None:
    if problem is not None and problem.retry_after is not None:
        return {"Retry-After": str(problem.retry_after)}
    return None


def _login_redirect(target: str) -> RedirectResponse:
    return RedirectResponse(f"/app/login?next={quote(target, safe='/?=&')}", status_code=303)


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


@dataclass(frozen=True)
class Form:
    """A posted form's fields (URL-encoded: the participation forms carry no files)."""

    fields: Sequence[tuple[str, str]]

    def get(self, name: str) -> str:
        """The first value of ``name`` ("" when absent)."""
        return next((value for key, value in self.fields if key == name), "")

    def all(self, name: str) -> list[str]:
        """Every value of ``name`` (a group of checkboxes)."""
        return [value for key, value in self.fields if key == name]


async def _read_form(request: Request) -> Form:
    body = await read_body(request, FORM_BYTES)
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=FORM_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadRequestData("the form could not be read; send it again from the page") from None
    return Form(fields)


async def _act(
    request: Request, visit: Visit, form: Form, work: Callable[[Resident], T]
) -> tuple[T | None, Problem | None]:
    """Run one resident's change: CSRF token, permission, rate limit, then ``work`` in the thread pool.

    A refusal comes back as a :class:`Problem` for the page to show; a missing item stays a 404.
    """
    resident = visit.resident
    assert resident is not None  # the routes send visitors to the login first
    if not csrf_ok(request, resident, form.get(CSRF_FIELD_NAME)):
        return None, Problem(403, code="csrf")
    if not can_participate(resident.actor, visit.tenant):
        return None, Problem(403, code="not-allowed")
    try:
        limits = _limits(request)
        if limits is not None:
            limits.check_submission(request, f"user:{resident.username}")
        return await call(work, resident), None
    except TooManyRequests as error:
        return None, Problem(429, error.detail, "busy", error.retry_after)
    except (BadRequestData, Conflict, PolicyDenied) as error:
        return None, Problem(error.status, error.detail)


def _done(path: str, notice: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'done': notice})}{anchor}", status_code=303)


def _notice(request: Request) -> str | None:
    notice = request.query_params.get("done")
    return notice[:40] if notice else None


def _places(request: Request, tenant: str) -> list[District]:
    """The city's districts (none when the city has no places)."""
    places: Places | None = getattr(request.app.state, "places", None)
    if places is None:
        return []
    found = [District(area.place.id, area.place.name) for area in places.of(tenant).districts]
    # Only ids a proposal can carry (the model's district id: at most 64 URL-safe characters).
    usable = [d for d in found if len(d.id) <= 64 and all(c.isalnum() or c in "_.:-" for c in d.id)]
    return sorted(usable, key=lambda d: d.name.casefold())


def _district_names(districts: Sequence[District]) -> dict[str, str]:
    return {d.id: d.name for d in districts}


# -- overview -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewPage:
    """Open proposals (most supported and newest), budgets in their phase, polls, and the rules."""

    threshold: int
    days: int
    currency: str
    most_supported: Sequence[ProposalView]
    newest: Sequence[ProposalView]
    collecting: int
    budgets: Sequence[BudgetView]
    open_polls: Sequence[PollView]
    closed_polls: Sequence[PollView]

    def to_json(self) -> dict[str, Any]:
        """The overview's JSON twin."""
        return {
            "rules": {"proposalThreshold": self.threshold, "proposalDays": self.days},
            "proposals": {
                "collecting": self.collecting,
                "mostSupported": [view.to_json() for view in self.most_supported],
                "newest": [view.to_json() for view in self.newest],
            },
            "budgets": [view.to_json(with_projects=False) for view in self.budgets],
            "polls": {
                "open": [view.to_json() for view in self.open_polls],
                "closed": [view.to_json() for view in self.closed_polls],
            },
        }


def overview_page(service: ParticipationService, tenant: str, viewer: Viewer) -> OverviewPage:
    """Build the overview for ``viewer``."""
    collecting = ProposalState.COLLECTING
    most, total = service.list_proposals(
        tenant, viewer, state=collecting, order=ProposalOrder.SUPPORTS, limit=OVERVIEW_SIZE
    )
    newest, _ = service.list_proposals(
        tenant, viewer, state=collecting, order=ProposalOrder.NEWEST, limit=OVERVIEW_SIZE
    )
    budgets, _ = service.list_budgets(tenant, viewer, limit=20)
    open_polls, _ = service.list_polls(tenant, viewer, status=PollStatus.OPEN, limit=20)
    closed_polls, _ = service.list_polls(tenant, viewer, status=PollStatus.CLOSED, limit=OVERVIEW_SIZE)
    return OverviewPage(
        threshold=service.proposal_threshold,
        days=service.proposal_days,
        currency=service.default_currency,
        most_supported=most,
        newest=newest,
        collecting=total,
        budgets=budgets,
        open_polls=open_polls,
        closed_polls=closed_polls,
    )


@router.get(PREFIX + ".json")
async def overview_json(request: Request) -> Response:
    """The overview's JSON twin."""
    visit = _visit(request)
    _count_read(request)
    page = await call(overview_page, _service(request), visit.tenant, _viewer(visit))
    return json_response(page.to_json())


@router.get(PREFIX)
async def overview(request: Request) -> Response:
    """Open proposals, budgets and polls, each with what happens next."""
    visit = _visit(request)
    _count_read(request)
    page = await call(overview_page, _service(request), visit.tenant, _viewer(visit))
    return _render(request, visit, "overview.html", {"page": page})


# -- proposals ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalListPage:
    """A page of proposals, filtered and sorted."""

    proposals: Sequence[ProposalView]
    total: int
    order: ProposalOrder
    state: ProposalState | None
    district: str | None
    page: int
    pages: int
    districts: Sequence[District]
    threshold: int

    def to_json(self) -> dict[str, Any]:
        """The list's JSON twin."""
        return {
            "proposals": [view.to_json() for view in self.proposals],
            "total": self.total,
            "order": self.order.value,
            "state": None if self.state is None else self.state.value,
            "district": self.district,
            "page": self.page,
            "pages": self.pages,
        }


def _page_number(raw: str | None) -> int:
    if raw is None or not raw.isascii() or not raw.isdigit():
        return 1
    return max(1, min(int(raw), 10_000))


def proposal_list_page(request: Request, visit: Visit) -> ProposalListPage:
    """Build the list the query asks for (``order``, ``state``, ``district``, ``page``)."""
    params = request.query_params
    order = parse_order(params.get("order") or ProposalOrder.SUPPORTS.value)
    state = parse_state(params["state"]) if params.get("state") else None
    district = check_district(params["district"]) if params.get("district") else None
    page = _page_number(params.get("page"))
    service = _service(request)
    found, total = service.list_proposals(
        visit.tenant,
        _viewer(visit),
        state=state,
        district=district,
        order=order,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return ProposalListPage(
        proposals=found,
        total=total,
        order=order,
        state=state,
        district=district,
        page=page,
        pages=max(1, math.ceil(total / PAGE_SIZE)),
        districts=_places(request, visit.tenant),
        threshold=service.proposal_threshold,
    )


@router.get(PREFIX + "/proposals.json")
async def proposals_json(request: Request) -> Response:
    """The proposal list's JSON twin."""
    visit = _visit(request)
    _count_read(request)
    page = await call(proposal_list_page, request, visit)
    return json_response(page.to_json())


@router.get(PREFIX + "/proposals")
async def proposals(request: Request) -> Response:
    """All proposals residents may see, most supported or newest first, by state and district."""
    visit = _visit(request)
    _count_read(request)
    page = await call(proposal_list_page, request, visit)
    return _render(
        request,
        visit,
        "proposals.html",
        {"page": page, "district_names": _district_names(page.districts), "states": list(ProposalState)},
    )


@dataclass
class ProposalDraftForm:
    """What a resident typed into the proposal form (kept when it comes back with a problem)."""

    title: str = ""
    body: str = ""
    district: str = ""
    lat: str = ""
    long: str = ""
    show_name: bool = False

    def to_json(self) -> dict[str, Any]:
        """The typed values as the form's JSON twin shows them."""
        return {
            "title": self.title,
            "body": self.body,
            "district": self.district,
            "lat": self.lat,
            "long": self.long,
            "showName": self.show_name,
        }


def _number(raw: str, name: str) -> float:
    try:
        value = float(raw.strip().replace(",", "."))
    except ValueError:
        raise BadRequestData(f"'{name}' must be a number") from None
    if not math.isfinite(value):
        raise BadRequestData(f"'{name}' must be a number")
    return value


def _point(draft: ProposalDraftForm) -> Point | None:
    lat, long = draft.lat.strip(), draft.long.strip()
    if not lat and not long:
        return None
    if not lat or not long:
        raise BadRequestData("'location' needs both a latitude and a longitude (or neither)")
    try:
        return Point(_number(lat, "lat"), _number(long, "lon"))
    except BadRequestData as error:
        raise BadRequestData(f"'location': {error.detail}") from None


def _field_of(detail: str) -> str:
    """Which form field a refusal of the model names (its messages start with the field's name)."""
    for name in PROPOSAL_FIELDS:
        if detail.startswith(f"'{name}'"):
            return name
    if detail.startswith(("'lat'", "'lon'")):
        return "location"
    return "form"


@dataclass(frozen=True)
class NewProposalPage:
    """The proposal form: what was typed, its problems, and the districts and rules to show."""

    draft: ProposalDraftForm
    errors: dict[str, Problem]
    districts: Sequence[District]
    threshold: int
    days: int

    def to_json(self) -> dict[str, Any]:
        """The form's JSON twin: the choices it offers and the rules a proposal follows."""
        return {
            "districts": [{"id": d.id, "name": d.name} for d in self.districts],
            "rules": {"proposalThreshold": self.threshold, "proposalDays": self.days},
            "draft": self.draft.to_json(),
            "errors": {name: problem.text or problem.code for name, problem in self.errors.items()},
        }


def _new_proposal_page(
    request: Request, visit: Visit, draft: ProposalDraftForm, errors: dict[str, Problem] | None = None
) -> NewProposalPage:
    service = _service(request)
    return NewProposalPage(
        draft, dict(errors or {}), _places(request, visit.tenant), service.proposal_threshold, service.proposal_days
    )


@router.get(PREFIX + "/proposals/new.json")
async def new_proposal_json(request: Request) -> Response:
    """The proposal form's JSON twin."""
    visit = _visit(request)
    page = await call(_new_proposal_page, request, visit, ProposalDraftForm())
    return json_response(page.to_json())


@router.get(PREFIX + "/proposals/new")
async def new_proposal_form(request: Request) -> Response:
    """The form for a new proposal (residents with a login)."""
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(_here(request))
    page = await call(_new_proposal_page, request, visit, ProposalDraftForm())
    return _render(request, visit, "new_proposal.html", {"page": page})


@router.post(PREFIX + "/proposals/new")
async def create_proposal(request: Request) -> Response:
    """Make the proposal; a problem shows the form again with everything typed and the problem by its field."""
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(PREFIX + "/proposals/new")
    form = await _read_form(request)
    draft = ProposalDraftForm(
        title=form.get("title"),
        body=form.get("body"),
        district=form.get("district"),
        lat=form.get("lat"),
        long=form.get("long"),
        show_name=form.get("show_name") not in ("", "0"),
    )
    districts = await call(_places, request, visit.tenant)

    def create(resident: Resident) -> ProposalView:
        if draft.district and draft.district not in _district_names(districts):
            raise BadRequestData("'district' must be one of the city's districts")
        checked = check_draft(
            draft.title,
            draft.body,
            district=draft.district or None,
            point=_point(draft),
            show_name=draft.show_name,
        )
        return _service(request).create_proposal(visit.tenant, resident.username, checked)

    view, problem = await _act(request, visit, form, create)
    if problem is not None or view is None:
        assert problem is not None
        errors = {_field_of(problem.text) if problem.text else "form": problem}
        page = await call(_new_proposal_page, request, visit, draft, errors)
        return _render(
            request,
            visit,
            "new_proposal.html",
            {"page": page},
            status=problem.status,
            headers=_problem_headers(problem),
        )
    return _done(f"{PREFIX}/proposals/{view.proposal.id}", "created")


@dataclass(frozen=True)
class ProposalPage:
    """One proposal: its progress, state, official answer and comments, as one reader sees them."""

    view: ProposalView
    comments: Sequence[CommentView]
    comments_total: int
    district_name: str | None
    days_left: int | None
    currency: str

    def to_json(self) -> dict[str, Any]:
        """The proposal page's JSON twin."""
        return {
            "proposal": self.view.to_json(),
            "districtName": self.district_name,
            "daysLeft": self.days_left,
            "currency": self.currency,
            "comments": [comment.to_json() for comment in self.comments],
            "commentsTotal": self.comments_total,
        }


def proposal_page(request: Request, visit: Visit, proposal_id: str) -> ProposalPage:
    """Build one proposal's page for the visitor (404 when they may not see it)."""
    service = _service(request)
    viewer = _viewer(visit)
    view = service.get_proposal(visit.tenant, proposal_id, viewer)
    comments, total = service.list_comments(visit.tenant, proposal_id, viewer, limit=COMMENTS_SHOWN)
    district = view.proposal.district
    name = _district_names(_places(request, visit.tenant)).get(district) if district else None
    left = days_left(view.proposal.deadline, service.clock.now()) if view.state is ProposalState.COLLECTING else None
    return ProposalPage(view, comments, total, name or district, left, service.default_currency)


@router.get(PREFIX + "/proposals/{proposal_id}.json")
async def proposal_json(request: Request, proposal_id: str) -> Response:
    """A proposal page's JSON twin."""
    visit = _visit(request)
    _count_read(request)
    page = await call(proposal_page, request, visit, proposal_id)
    return json_response(page.to_json())


async def _show_proposal(
    request: Request,
    visit: Visit,
    proposal_id: str,
    *,
    problem: Problem | None = None,
    comment_text: str = "",
    comment_show_name: bool = False,
) -> Response:
    page = await call(proposal_page, request, visit, proposal_id)
    context = {
        "page": page,
        "notice": None if problem else _notice(request),
        "problem": problem,
        "comment_text": comment_text,
        "comment_show_name": comment_show_name,
    }
    status = 200 if problem is None else problem.status
    return _render(request, visit, "proposal.html", context, status=status, headers=_problem_headers(problem))


@router.get(PREFIX + "/proposals/{proposal_id}")
async def proposal(request: Request, proposal_id: str) -> Response:
    """A proposal with its progress (supports of the threshold, days left), state in words, answer and comments."""
    visit = _visit(request)
    _count_read(request)
    return await _show_proposal(request, visit, proposal_id)


async def _proposal_action(
    request: Request, proposal_id: str, notice: str, work: Callable[[ParticipationService, str, Resident, Form], object]
) -> Response:
    """One resident's action on a proposal: back to its page with a notice, or with the refusal."""
    visit = _visit(request)
    page_path = f"{PREFIX}/proposals/{proposal_id}"
    if visit.resident is None:
        return _login_redirect(page_path)
    form = await _read_form(request)
    service = _service(request)
    _, problem = await _act(request, visit, form, lambda resident: work(service, visit.tenant, resident, form))
    if problem is not None:
        return await _show_proposal(
            request,
            visit,
            proposal_id,
            problem=problem,
            comment_text=form.get("body") if notice == "commented" else "",
            comment_show_name=form.get("show_name") not in ("", "0"),
        )
    anchor = {"commented": "#comments", "flagged": "", "comment-flagged": "#comments"}.get(notice, "#support")
    return _done(page_path, notice, anchor)


@router.post(PREFIX + "/proposals/{proposal_id}/support")
async def support(request: Request, proposal_id: str) -> Response:
    """Support the proposal (one person, one support); it qualifies the moment it reaches its threshold."""
    return await _proposal_action(
        request, proposal_id, "supported", lambda s, tenant, r, _: s.support(tenant, proposal_id, r.username)
    )


@router.post(PREFIX + "/proposals/{proposal_id}/unsupport")
async def unsupport(request: Request, proposal_id: str) -> Response:
    """Take one's support back while the proposal still collects."""
    return await _proposal_action(
        request, proposal_id, "unsupported", lambda s, tenant, r, _: s.unsupport(tenant, proposal_id, r.username)
    )


@router.post(PREFIX + "/proposals/{proposal_id}/withdraw")
async def withdraw(request: Request, proposal_id: str) -> Response:
    """The author withdraws their proposal while it collects."""
    return await _proposal_action(
        request, proposal_id, "withdrawn", lambda s, tenant, r, _: s.withdraw(tenant, proposal_id, r.username)
    )


@router.post(PREFIX + "/proposals/{proposal_id}/comments")
async def add_comment(request: Request, proposal_id: str) -> Response:
    """Comment on the proposal (the name shown only when the resident chooses so)."""
    return await _proposal_action(
        request,
        proposal_id,
        "commented",
        lambda s, tenant, r, form: s.add_comment(
            tenant, proposal_id, r.username, form.get("body"), form.get("show_name") not in ("", "0")
        ),
    )


@router.post(PREFIX + "/proposals/{proposal_id}/flag")
async def flag_proposal(request: Request, proposal_id: str) -> Response:
    """Tell the moderators that the proposal does not belong here."""
    return await _proposal_action(
        request,
        proposal_id,
        "flagged",
        lambda s, tenant, r, form: s.flag_proposal(
            tenant, proposal_id, r.username, parse_flag_reason(form.get("reason"))
        ),
    )


@router.post(PREFIX + "/proposals/{proposal_id}/comments/{comment_id}/flag")
async def flag_comment(request: Request, proposal_id: str, comment_id: str) -> Response:
    """Tell the moderators that a comment does not belong here."""
    return await _proposal_action(
        request,
        proposal_id,
        "comment-flagged",
        lambda s, tenant, r, form: s.flag_comment(
            tenant, comment_id, r.username, parse_flag_reason(form.get("reason"))
        ),
    )


# -- budgets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetPage:
    """A budget: phase timeline, headings with money and rules, turnout, the reader's ballot, results."""

    view: BudgetView
    my_ballot: BallotView | None
    results: ResultsView | None
    phases: Sequence[BudgetPhase] = field(default_factory=lambda: PHASES[1:])

    @property
    def budget(self) -> Budget:
        """The budget process."""
        return self.view.budget

    def projects_of(self, heading: Heading) -> list[Project]:
        """The heading's projects, cheapest first."""
        return sorted(
            (p for p in self.view.projects if p.heading_id == heading.id), key=lambda p: (p.cost, p.title, p.id)
        )

    def result_of(self, heading: Heading) -> HeadingResult | None:
        """The heading's results, once the budget is finished."""
        if self.results is None:
            return None
        return next((result for result in self.results.headings if result.heading.id == heading.id), None)

    def to_json(self) -> dict[str, Any]:
        """The budget page's JSON twin."""
        return {
            "budget": self.view.to_json(),
            "phases": [{"phase": phase.value, "current": phase is self.budget.phase} for phase in self.phases],
            "myBallot": None if self.my_ballot is None else self.my_ballot.to_json(),
            "results": None if self.results is None else self.results.to_json(),
        }


def budget_page(request: Request, visit: Visit, budget_id: str) -> BudgetPage:
    """Build a budget's page for the visitor (404 for one still in drafting)."""
    service = _service(request)
    viewer = _viewer(visit)
    view = service.get_budget(visit.tenant, budget_id, viewer)
    mine = None
    if view.voted and visit.resident is not None:
        mine = service.my_ballot(visit.tenant, budget_id, visit.resident.username)
    results = service.results(visit.tenant, budget_id, viewer) if view.budget.phase is BudgetPhase.FINISHED else None
    return BudgetPage(view, mine, results)


@router.get(PREFIX + "/budgets/{budget_id}.json")
async def budget_json(request: Request, budget_id: str) -> Response:
    """A budget page's JSON twin."""
    visit = _visit(request)
    _count_read(request)
    page = await call(budget_page, request, visit, budget_id)
    return json_response(page.to_json())


@router.get(PREFIX + "/budgets/{budget_id}")
async def budget(request: Request, budget_id: str) -> Response:
    """A participatory budget: where it stands, what each district may spend and how, and what was chosen."""
    visit = _visit(request)
    _count_read(request)
    page = await call(budget_page, request, visit, budget_id)
    return _render(request, visit, "budget.html", {"page": page, "notice": _notice(request)})


@dataclass(frozen=True)
class BallotPage:
    """The ballot of one heading: its projects, what is chosen, and the step (choose, or check and confirm)."""

    budget: Budget
    heading: Heading | None  # None: the budget has several districts and none is chosen yet
    projects: Sequence[Project]
    chosen: Sequence[str]
    step: str  # "choose" | "confirm"
    voted: bool

    @property
    def total(self) -> Decimal:
        """What the chosen projects cost."""
        wanted = set(self.chosen)
        return sum((p.cost for p in self.projects if p.id in wanted), Decimal(0))

    @property
    def chosen_projects(self) -> list[Project]:
        """The chosen projects, in the order the ballot lists them."""
        wanted = set(self.chosen)
        return [p for p in self.projects if p.id in wanted]

    def change_link(self) -> str:
        """The ballot's address with the current choices ticked (the "change my choices" link)."""
        params = [("heading", self.heading.id if self.heading else "")] + [("project", p) for p in self.chosen]
        return f"{PREFIX}/budgets/{self.budget.id}/ballot?{urlencode(params)}"

    def to_json(self) -> dict[str, Any]:
        """The ballot page's JSON twin (no ballot is cast by reading it)."""
        return {
            "budgetId": self.budget.id,
            "phase": self.budget.phase.value,
            "currency": self.budget.currency,
            "headings": [h.to_json() for h in self.budget.headings],
            "heading": None if self.heading is None else self.heading.to_json(),
            "projects": [project_json(p) for p in self.projects],
            "chosen": list(self.chosen),
            "total": money_text(self.total),
            "step": self.step,
            "votedByMe": self.voted,
        }


def ballot_page(
    request: Request, visit: Visit, budget_id: str, heading_id: str | None, chosen: Sequence[str], step: str = "choose"
) -> BallotPage:
    """Build the ballot of ``heading_id`` (the only heading when the budget has one) with ``chosen`` ticked."""
    service = _service(request)
    view = service.get_budget(visit.tenant, budget_id, _viewer(visit))
    budget = view.budget
    heading = None
    if heading_id:
        heading = budget.heading(heading_id)
    elif len(budget.headings) == 1:
        heading = budget.headings[0]
    projects = [] if heading is None else [p for p in view.projects if p.heading_id == heading.id]
    projects.sort(key=lambda p: (p.cost, p.title, p.id))
    known = {p.id for p in projects}
    kept = list(dict.fromkeys(p for p in chosen if p in known))
    return BallotPage(budget, heading, projects, kept, step, bool(view.voted))


def check_choices(page: BallotPage, chosen: Sequence[str]) -> None:
    """Refuse choices that break the heading's rule, with the same words the service uses when casting."""
    if page.budget.phase is not BudgetPhase.VOTING:
        raise Conflict(f"this budget is not voting (it is in '{page.budget.phase.value}')")
    if page.heading is None:
        raise BadRequestData("choose the district you vote in")
    by_id = {p.id: p for p in page.projects}
    for project_id in chosen:
        if project_id not in by_id:
            raise BadRequestData(f"this budget has no project {project_id!r:.70} in this district")
    check_ballot(page.heading, [by_id[p] for p in chosen])


async def _show_ballot(request: Request, visit: Visit, page: BallotPage, *, problem: Problem | None = None) -> Response:
    template = "ballot_confirm.html" if page.step == "confirm" and problem is None else "ballot.html"
    context = {"page": page, "problem": problem}
    status = 200 if problem is None else problem.status
    return _render(request, visit, template, context, status=status, headers=_problem_headers(problem))


def _ballot_query(request: Request) -> tuple[str | None, list[str]]:
    params = request.query_params
    return params.get("heading") or None, params.getlist("project")


@router.get(PREFIX + "/budgets/{budget_id}/ballot.json")
async def ballot_json(request: Request, budget_id: str) -> Response:
    """The ballot page's JSON twin: the heading's projects and rule, and the choices in the query."""
    visit = _visit(request)
    _count_read(request)
    heading_id, chosen = _ballot_query(request)
    page = await call(ballot_page, request, visit, budget_id, heading_id, chosen)
    return json_response(page.to_json())


@router.get(PREFIX + "/budgets/{budget_id}/ballot")
async def ballot(request: Request, budget_id: str) -> Response:
    """Choose projects in one district (``heading``); ``project`` values come ticked ("change my choices")."""
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(_here(request))
    heading_id, chosen = _ballot_query(request)
    page = await call(ballot_page, request, visit, budget_id, heading_id, chosen)
    return await _show_ballot(request, visit, page)


@router.post(PREFIX + "/budgets/{budget_id}/ballot/review")
async def review_ballot(request: Request, budget_id: str) -> Response:
    """Step 1: check the choices against the district's rule; they come back with the rule's message, or to confirm."""
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(f"{PREFIX}/budgets/{budget_id}")
    form = await _read_form(request)
    chosen = form.all("project")
    # The page keeps the choices the district has; the check sees all of them (an unknown one is named).
    page = await call(ballot_page, request, visit, budget_id, form.get("heading") or None, chosen)
    problem = None
    if not csrf_ok(request, visit.resident, form.get(CSRF_FIELD_NAME)):
        problem = Problem(403, code="csrf")
    elif not _may_take_part(visit):
        problem = Problem(403, code="not-allowed")
    else:
        try:
            check_choices(page, chosen)
        except (BadRequestData, Conflict) as error:
            problem = Problem(error.status, error.detail)
    if problem is not None:
        return await _show_ballot(request, visit, page, problem=problem)
    return await _show_ballot(request, visit, dataclasses.replace(page, step="confirm"))


@router.post(PREFIX + "/budgets/{budget_id}/ballot/confirm")
async def confirm_ballot(request: Request, budget_id: str) -> Response:
    """Step 2: cast the checked ballot (final); then the budget's page shows its receipt."""
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(f"{PREFIX}/budgets/{budget_id}")
    form = await _read_form(request)
    chosen = form.all("project")
    heading_id = form.get("heading")
    service = _service(request)
    cast, problem = await _act(
        request,
        visit,
        form,
        lambda resident: service.cast_ballot(visit.tenant, budget_id, resident.username, heading_id, chosen),
    )
    if problem is not None or cast is None:
        page = await call(ballot_page, request, visit, budget_id, heading_id or None, chosen)
        return await _show_ballot(request, visit, page, problem=problem)
    return _done(f"{PREFIX}/budgets/{budget_id}", "voted", "#my-ballot")


@dataclass(frozen=True)
class ReceiptPage:
    """The answer to "was this receipt counted?" (or why it could not be checked)."""

    budget: Budget
    fingerprint: str
    receipt: ReceiptView | None
    problem: Problem | None

    def to_json(self) -> dict[str, Any]:
        """The check's JSON twin."""
        if self.receipt is None:
            return {"budgetId": self.budget.id, "fingerprint": self.fingerprint, "counted": None}
        return self.receipt.to_json()


def receipt_page(request: Request, visit: Visit, budget_id: str, fingerprint: str) -> ReceiptPage:
    """Check a receipt of a budget; a malformed one comes back as the problem to show."""
    service = _service(request)
    budget = service.get_budget(visit.tenant, budget_id, _viewer(visit)).budget
    try:
        receipt = service.verify_receipt(visit.tenant, budget_id, fingerprint)
    except BadRequestData as error:
        return ReceiptPage(budget, fingerprint, None, Problem(error.status, error.detail))
    return ReceiptPage(budget, fingerprint, receipt, None)


def _fingerprint(request: Request) -> str:
    return (request.query_params.get("fingerprint") or "").strip().lower()[:200]


@router.get(PREFIX + "/budgets/{budget_id}/receipt.json")
async def receipt_json(request: Request, budget_id: str) -> Response:
    """The receipt check's JSON twin (``counted`` is null for a malformed receipt, with a 400)."""
    visit = _visit(request)
    _count_read(request)
    page = await call(receipt_page, request, visit, budget_id, _fingerprint(request))
    status = 200 if page.problem is None else page.problem.status
    return json_response(page.to_json(), status)


@router.get(PREFIX + "/budgets/{budget_id}/receipt")
async def receipt(request: Request, budget_id: str) -> Response:
    """Verify a receipt: was a ballot with this fingerprint counted?  Nothing else about it is told."""
    visit = _visit(request)
    _count_read(request)
    page = await call(receipt_page, request, visit, budget_id, _fingerprint(request))
    status = 200 if page.problem is None else page.problem.status
    return _render(request, visit, "receipt.html", {"page": page}, status=status)


# -- polls --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollPage:
    """A poll: the question, the reader's vote, and the results when they are public."""

    view: PollView

    def to_json(self) -> dict[str, Any]:
        """The poll page's JSON twin."""
        return self.view.to_json()


def poll_page(request: Request, visit: Visit, poll_id: str) -> PollPage:
    """Build a poll's page for the visitor."""
    return PollPage(_service(request).get_poll(visit.tenant, poll_id, _viewer(visit)))


@router.get(PREFIX + "/polls/{poll_id}.json")
async def poll_json(request: Request, poll_id: str) -> Response:
    """A poll page's JSON twin."""
    visit = _visit(request)
    _count_read(request)
    page = await call(poll_page, request, visit, poll_id)
    return json_response(page.to_json())


async def _show_poll(
    request: Request, visit: Visit, poll_id: str, *, problem: Problem | None = None, chosen: Sequence[int] = ()
) -> Response:
    page = await call(poll_page, request, visit, poll_id)
    context = {
        "page": page,
        "problem": problem,
        "chosen": list(chosen),
        "notice": None if problem else _notice(request),
    }
    status = 200 if problem is None else problem.status
    return _render(request, visit, "poll.html", context, status=status, headers=_problem_headers(problem))


@router.get(PREFIX + "/polls/{poll_id}")
async def poll(request: Request, poll_id: str) -> Response:
    """A poll: vote (one option, or up to its maximum) and see the results when they are public."""
    visit = _visit(request)
    _count_read(request)
    return await _show_poll(request, visit, poll_id)


def _choices(form: Form) -> list[int]:
    chosen: list[int] = []
    for raw in form.all("choice"):
        if not raw.isascii() or not raw.isdigit() or len(raw) > 3:
            raise BadRequestData("choose among the poll's options")
        chosen.append(int(raw))
    if not chosen:
        raise BadRequestData("choose at least one option")
    return chosen


@router.post(PREFIX + "/polls/{poll_id}/vote")
async def vote(request: Request, poll_id: str) -> Response:
    """Vote in an open poll (one person, one vote)."""
    visit = _visit(request)
    page_path = f"{PREFIX}/polls/{poll_id}"
    if visit.resident is None:
        return _login_redirect(page_path)
    form = await _read_form(request)
    service = _service(request)
    _, problem = await _act(
        request, visit, form, lambda resident: service.vote(visit.tenant, poll_id, resident.username, _choices(form))
    )
    if problem is not None:
        kept = [int(raw) for raw in form.all("choice") if raw.isascii() and raw.isdigit() and len(raw) <= 3]
        return await _show_poll(request, visit, poll_id, problem=problem, chosen=kept)
    return _done(page_path, "voted", "#results")


def install_participation_pages(app: FastAPI) -> None:
    """Serve the participation pages (once; the citizen app must be installed for their frame and errors)."""
    if getattr(app.state, "participation_pages_installed", False):
        return
    app.state.participation_pages_installed = True
    app.include_router(router)


__all__ = ["PREFIX", "install_participation_pages", "router"]
