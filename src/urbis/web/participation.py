"""The participation API: proposals, participatory budgets and polls of the tenant named by ``NGSILD-Tenant``.

Reading is public and needs no login: the public sees counts and progress, never who supported
or voted, and an author's username only when they chose to show it.  Residents (``citizen``
role, and admins) propose, support, comment, flag, cast ballots and vote; staff (operators,
admins) answer, moderate and run budgets and polls, each action going to the audit trail.
Lists carry their total in ``X-Total-Count``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from urbis.citizens.moderation import parse_flag_reason, parse_moderation
from urbis.citizens.participation.budgets import BudgetDraft, check_budget, parse_phase
from urbis.citizens.participation.model import Point
from urbis.citizens.participation.polls import ResultsVisibility, parse_status, parse_visibility
from urbis.citizens.participation.proposals import (
    check_draft,
    parse_answer_status,
    parse_order,
    parse_staff_decision,
    parse_state,
)
from urbis.citizens.participation.service import ParticipationService
from urbis.citizens.participation.views import PUBLIC, Viewer, project_json
from urbis.core.auth.roles import can_manage_citizens, can_participate, require
from urbis.core.auth.tokens import Actor
from urbis.core.errors import BadRequestData
from urbis.web.deps import current_actor
from urbis.web.ngsild.common import call, check_params, settings_of, tenant_of
from urbis.web.params import (
    json_object,
    json_response,
    optional_json_object,
    page_limit,
    page_offset,
    text_member,
    text_param,
)
from urbis.web.ratelimit import limit_read, limit_submission

router = APIRouter(prefix="/api/v1/participation", tags=["participation"])

_PAGING = {"limit", "offset"}
# Residents' submissions and public reads are rate-limited like the other citizen surfaces.
_SUBMISSION = [Depends(limit_submission)]
_READ = [Depends(limit_read)]


def _service(request: Request) -> ParticipationService:
    service: ParticipationService = request.app.state.participation
    return service


def _reader(request: Request) -> tuple[str, Viewer]:
    """Anyone may read; a signed-in caller also sees their own things, staff everything."""
    tenant = tenant_of(request)
    actor = current_actor(request)
    if not actor.is_authenticated:
        return tenant, PUBLIC
    return tenant, Viewer(actor.subject, staff=can_manage_citizens(actor, tenant))


def _resident(request: Request) -> tuple[str, Actor]:
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_participate(actor, tenant), actor, f"take part in the participation of tenant '{tenant}'")
    return tenant, actor


def _staff(request: Request) -> tuple[str, Actor]:
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_manage_citizens(actor, tenant), actor, f"run the participation of tenant '{tenant}'")
    return tenant, actor


def _known(body: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """Refuse members the endpoint does not know (a typo should not be silently ignored)."""
    unknown = set(body) - allowed
    if unknown:
        raise BadRequestData(f"unknown member {sorted(unknown)[0]!r:.60}; known: {', '.join(sorted(allowed))}")
    return body


def _instant(body: dict[str, Any], name: str) -> datetime | None:
    raw = text_member(body, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"'{name}' must be an ISO 8601 date-time, got {raw!r:.40}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadRequestData(f"'{name}' must carry a time zone (e.g. 'Z' or '+01:00')")
    return moment.astimezone(UTC)


def _flag(request: Request, name: str) -> bool:
    raw = text_param(request, name)
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise BadRequestData(f"'{name}' is 'true' or 'false'")


def _point(value: object) -> Point | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"lat", "lon"}:
        raise BadRequestData('\'location\' is an object {"lat": ..., "lon": ...}')
    return Point(value["lat"], value["lon"])


def _list(items: list[Any], total: int) -> Response:
    return json_response([item.to_json() for item in items], headers={"X-Total-Count": str(total)})


# -- proposals ---------------------------------------------------------------------------------


@router.get("/proposals", summary="List proposals", dependencies=_READ)
async def list_proposals(request: Request) -> Response:
    """Filters ``state``, ``district``, ``mine=true``, ``moderation`` (staff); ``order`` = ``newest`` or ``supports``."""
    tenant, viewer = _reader(request)
    check_params(request, _PAGING | {"state", "district", "order", "mine", "moderation"})
    state, order, moderation = (
        text_param(request, "state"),
        text_param(request, "order"),
        text_param(request, "moderation"),
    )
    found, total = await call(
        _service(request).list_proposals,
        tenant,
        viewer,
        state=None if state is None else parse_state(state),
        district=text_param(request, "district"),
        order=parse_order(order or "newest"),
        mine=_flag(request, "mine"),
        moderation=None if moderation is None else parse_moderation(moderation),
        limit=page_limit(request),
        offset=page_offset(request),
    )
    return _list(found, total)


@router.post("/proposals", status_code=201, summary="Make a proposal", dependencies=_SUBMISSION)
async def create_proposal(request: Request) -> Response:
    """Body ``{"title", "body", "district"?, "location"? {"lat","lon"}, "showName"? (default false)}``."""
    tenant, actor = _resident(request)
    body = _known(await json_object(request), {"title", "body", "district", "location", "showName"})
    draft = check_draft(
        body.get("title"),
        body.get("body"),
        district=body.get("district"),
        point=_point(body.get("location")),
        show_name=body.get("showName", False),
    )
    view = await call(_service(request).create_proposal, tenant, actor.subject, draft)
    location = f"{router.prefix}/proposals/{view.proposal.id}"
    return json_response(view.to_json(), 201, {"Location": location})


@router.get("/moderation", summary="The moderation queue (staff)")
async def moderation_queue(request: Request) -> Response:
    """Unmoderated and hidden proposals and comments, newest first, with how often each flag reason was given."""
    tenant, _ = _staff(request)
    check_params(request, _PAGING)
    items, total = await call(
        _service(request).moderation_queue, tenant, limit=page_limit(request), offset=page_offset(request)
    )
    return _list(items, total)


@router.post(
    "/proposals/comments/{comment_id}/flag", status_code=204, summary="Flag a comment", dependencies=_SUBMISSION
)
async def flag_comment(request: Request, comment_id: str) -> Response:
    """Body ``{"reason": "spam" | "offensive" | "does-not-belong" | "personal-data"}``."""
    tenant, actor = _resident(request)
    body = _known(await json_object(request), {"reason"})
    reason = parse_flag_reason(text_member(body, "reason", required=True) or "")
    await call(_service(request).flag_comment, tenant, comment_id, actor.subject, reason)
    return Response(status_code=204)


@router.post("/proposals/comments/{comment_id}/moderate", summary="Moderate a comment (staff)")
async def moderate_comment(request: Request, comment_id: str) -> Response:
    """Body ``{"state": "public" | "hidden", "reason"}`` (a reason is required to hide)."""
    tenant, actor = _staff(request)
    body = _known(await json_object(request), {"state", "reason"})
    state = parse_staff_decision(text_member(body, "state", required=True) or "")
    view = await call(
        _service(request).moderate_comment, tenant, comment_id, state, body.get("reason"), by=actor.subject
    )
    return json_response(view.to_json())


@router.get("/proposals/{proposal_id}", summary="Show a proposal", dependencies=_READ)
async def get_proposal(request: Request, proposal_id: str) -> Response:
    """One proposal with its progress and official answer."""
    tenant, viewer = _reader(request)
    check_params(request, set())
    return json_response((await call(_service(request).get_proposal, tenant, proposal_id, viewer)).to_json())


@router.post("/proposals/{proposal_id}/support", summary="Support a proposal", dependencies=_SUBMISSION)
async def support(request: Request, proposal_id: str) -> Response:
    """One support per person (409 the second time); only while it collects, before its deadline."""
    tenant, actor = _resident(request)
    return json_response((await call(_service(request).support, tenant, proposal_id, actor.subject)).to_json())


@router.delete("/proposals/{proposal_id}/support", summary="Take a support back", dependencies=_SUBMISSION)
async def unsupport(request: Request, proposal_id: str) -> Response:
    """Only while the proposal still collects."""
    tenant, actor = _resident(request)
    return json_response((await call(_service(request).unsupport, tenant, proposal_id, actor.subject)).to_json())


@router.post("/proposals/{proposal_id}/withdraw", summary="Withdraw one's own proposal", dependencies=_SUBMISSION)
async def withdraw(request: Request, proposal_id: str) -> Response:
    """Only its author, only while it collects."""
    tenant, actor = _resident(request)
    return json_response((await call(_service(request).withdraw, tenant, proposal_id, actor.subject)).to_json())


@router.post("/proposals/{proposal_id}/answer", summary="Answer a proposal (staff)")
async def answer(request: Request, proposal_id: str) -> Response:
    """Body ``{"status": "evaluating" | "accepted" | "rejected", "reason", "cost"?}``; published on the proposal."""
    tenant, actor = _staff(request)
    body = _known(await json_object(request), {"status", "reason", "cost"})
    status = parse_answer_status(text_member(body, "status", required=True) or "")
    view = await call(
        _service(request).answer,
        tenant,
        proposal_id,
        status,
        body.get("reason"),
        body.get("cost"),
        by=actor.subject,
    )
    return json_response(view.to_json())


@router.post("/proposals/{proposal_id}/flag", status_code=204, summary="Flag a proposal", dependencies=_SUBMISSION)
async def flag_proposal(request: Request, proposal_id: str) -> Response:
    """Body ``{"reason"}``; enough different people flagging hide it until staff look at it."""
    tenant, actor = _resident(request)
    body = _known(await json_object(request), {"reason"})
    reason = parse_flag_reason(text_member(body, "reason", required=True) or "")
    await call(_service(request).flag_proposal, tenant, proposal_id, actor.subject, reason)
    return Response(status_code=204)


@router.post("/proposals/{proposal_id}/moderate", summary="Moderate a proposal (staff)")
async def moderate_proposal(request: Request, proposal_id: str) -> Response:
    """Body ``{"state": "public" | "hidden", "reason"}`` (a reason is required to hide)."""
    tenant, actor = _staff(request)
    body = _known(await json_object(request), {"state", "reason"})
    state = parse_staff_decision(text_member(body, "state", required=True) or "")
    view = await call(
        _service(request).moderate_proposal, tenant, proposal_id, state, body.get("reason"), by=actor.subject
    )
    return json_response(view.to_json())


@router.get("/proposals/{proposal_id}/comments", summary="List a proposal's comments", dependencies=_READ)
async def list_comments(request: Request, proposal_id: str) -> Response:
    """Oldest first."""
    tenant, viewer = _reader(request)
    check_params(request, _PAGING)
    found, total = await call(
        _service(request).list_comments,
        tenant,
        proposal_id,
        viewer,
        limit=page_limit(request),
        offset=page_offset(request),
    )
    return _list(found, total)


@router.post(
    "/proposals/{proposal_id}/comments", status_code=201, summary="Comment on a proposal", dependencies=_SUBMISSION
)
async def add_comment(request: Request, proposal_id: str) -> Response:
    """Body ``{"body", "showName"? (default false)}``, at most 1000 characters."""
    tenant, actor = _resident(request)
    body = _known(await json_object(request), {"body", "showName"})
    view = await call(
        _service(request).add_comment, tenant, proposal_id, actor.subject, body.get("body"), body.get("showName", False)
    )
    return json_response(view.to_json(), 201)


# -- budgets -----------------------------------------------------------------------------------

_BUDGET_MEMBERS = {"title", "description", "currency", "headings"}
_PROJECT_MEMBERS = {"heading", "title", "description", "cost", "proposalId"}


def _budget_draft(request: Request, body: dict[str, Any]) -> BudgetDraft:
    _known(body, _BUDGET_MEMBERS)
    return check_budget(
        body.get("title"),
        body.get("description", ""),
        body.get("currency", settings_of(request).parking_currency),
        body.get("headings"),
    )


@router.get("/budgets", summary="List participatory budgets", dependencies=_READ)
async def list_budgets(request: Request) -> Response:
    """Newest first; filter ``phase``.  Processes in drafting are listed for staff only."""
    tenant, viewer = _reader(request)
    check_params(request, _PAGING | {"phase"})
    phase = text_param(request, "phase")
    found, total = await call(
        _service(request).list_budgets,
        tenant,
        viewer,
        phase=None if phase is None else parse_phase(phase),
        limit=page_limit(request),
        offset=page_offset(request),
    )
    return json_response([view.to_json(with_projects=False) for view in found], headers={"X-Total-Count": str(total)})


@router.post("/budgets", status_code=201, summary="Open a participatory budget (staff)")
async def create_budget(request: Request) -> Response:
    """Body ``{"title", "description"?, "currency"?, "headings": [{"id", "name", "amount", "rule"}]}``.

    A rule is one of ``{"kind": "minimum-percent", "minimumPercent"}``, ``{"kind": "minimum-projects",
    "minimumProjects"}``, ``{"kind": "project-range", "minimumProjects", "maximumProjects"}``.
    """
    tenant, actor = _staff(request)
    draft = _budget_draft(request, await json_object(request))
    view = await call(_service(request).create_budget, tenant, draft, by=actor.subject)
    return json_response(view.to_json(), 201, {"Location": f"{router.prefix}/budgets/{view.budget.id}"})


@router.get("/budgets/{budget_id}", summary="Show a participatory budget", dependencies=_READ)
async def get_budget(request: Request, budget_id: str) -> Response:
    """Headings, projects and phase; ballots per heading from voting on, votes per project once finished."""
    tenant, viewer = _reader(request)
    check_params(request, set())
    return json_response((await call(_service(request).get_budget, tenant, budget_id, viewer)).to_json())


@router.put("/budgets/{budget_id}", summary="Edit a participatory budget (staff)")
async def edit_budget(request: Request, budget_id: str) -> Response:
    """The same body as creating it; only before voting."""
    tenant, actor = _staff(request)
    draft = _budget_draft(request, await json_object(request))
    return json_response(
        (await call(_service(request).edit_budget, tenant, budget_id, draft, by=actor.subject)).to_json()
    )


@router.post("/budgets/{budget_id}/phase", summary="Move a budget to a later phase (staff)")
async def change_phase(request: Request, budget_id: str) -> Response:
    """Body ``{"phase": "informing" | "voting" | "finished"}``; never back."""
    tenant, actor = _staff(request)
    body = _known(await json_object(request), {"phase"})
    phase = parse_phase(text_member(body, "phase", required=True) or "")
    view = await call(_service(request).change_phase, tenant, budget_id, phase, by=actor.subject)
    return json_response(view.to_json())


@router.post("/budgets/{budget_id}/projects", status_code=201, summary="Add a project (staff)")
async def add_project(request: Request, budget_id: str) -> Response:
    """Body ``{"heading", "title", "description"?, "cost", "proposalId"?}``; only before voting."""
    tenant, actor = _staff(request)
    body = _known(await json_object(request), _PROJECT_MEMBERS)
    project = await call(
        _service(request).add_project,
        tenant,
        budget_id,
        heading_id=body.get("heading"),
        title=body.get("title"),
        description=body.get("description", ""),
        cost=body.get("cost"),
        proposal_id=body.get("proposalId"),
        by=actor.subject,
    )
    return json_response(project_json(project), 201)


@router.put("/budgets/{budget_id}/projects/{project_id}", summary="Edit a project (staff)")
async def edit_project(request: Request, budget_id: str, project_id: str) -> Response:
    """The same body as adding it; only before voting."""
    tenant, actor = _staff(request)
    body = _known(await json_object(request), _PROJECT_MEMBERS)
    project = await call(
        _service(request).edit_project,
        tenant,
        budget_id,
        project_id,
        heading_id=body.get("heading"),
        title=body.get("title"),
        description=body.get("description", ""),
        cost=body.get("cost"),
        proposal_id=body.get("proposalId"),
        by=actor.subject,
    )
    return json_response(project_json(project))


@router.post("/budgets/{budget_id}/ballot", status_code=201, summary="Cast one's ballot", dependencies=_SUBMISSION)
async def cast_ballot(request: Request, budget_id: str) -> Response:
    """Body ``{"heading", "projects": [ids]}``; checked against the heading's rules, final once cast (409 after)."""
    tenant, actor = _resident(request)
    body = _known(await json_object(request), {"heading", "projects"})
    heading = text_member(body, "heading", required=True) or ""
    chosen = body.get("projects")
    if not isinstance(chosen, list) or not all(isinstance(p, str) for p in chosen) or len(chosen) > 1000:
        raise BadRequestData("'projects' is a list of project ids")
    view = await call(_service(request).cast_ballot, tenant, budget_id, actor.subject, heading, chosen)
    return json_response(view.to_json(), 201)


@router.get("/budgets/{budget_id}/ballot", summary="One's own ballot and its receipt")
async def my_ballot(request: Request, budget_id: str) -> Response:
    """404 when the caller cast no ballot in this budget."""
    tenant, actor = _resident(request)
    check_params(request, set())
    return json_response((await call(_service(request).my_ballot, tenant, budget_id, actor.subject)).to_json())


@router.get("/budgets/{budget_id}/receipts/{fingerprint}", summary="Verify a ballot receipt", dependencies=_READ)
async def verify_receipt(request: Request, budget_id: str, fingerprint: str) -> Response:
    """Whether a ballot with this fingerprint was counted; nothing else about it."""
    tenant, _ = _reader(request)
    check_params(request, set())
    return json_response((await call(_service(request).verify_receipt, tenant, budget_id, fingerprint)).to_json())


@router.get("/budgets/{budget_id}/results", summary="Results of a finished budget", dependencies=_READ)
async def budget_results(request: Request, budget_id: str) -> Response:
    """Per heading: projects ranked by votes, funded while the money lasts (409 before it is finished)."""
    tenant, viewer = _reader(request)
    check_params(request, set())
    return json_response((await call(_service(request).results, tenant, budget_id, viewer)).to_json())


# -- polls -------------------------------------------------------------------------------------


@router.get("/polls", summary="List polls", dependencies=_READ)
async def list_polls(request: Request) -> Response:
    """Latest opening first; filter ``status`` = ``upcoming``, ``open`` or ``closed``."""
    tenant, viewer = _reader(request)
    check_params(request, _PAGING | {"status"})
    status = text_param(request, "status")
    found, total = await call(
        _service(request).list_polls,
        tenant,
        viewer,
        status=None if status is None else parse_status(status),
        limit=page_limit(request),
        offset=page_offset(request),
    )
    return _list(found, total)


@router.post("/polls", status_code=201, summary="Make a poll (staff)")
async def create_poll(request: Request) -> Response:
    """Body ``{"question", "options": [2-20 texts], "maxChoices"? (1), "opensAt"? (now), "closesAt", "resultsVisibility"? ("live" or "after_close")}``."""
    tenant, actor = _staff(request)
    body = _known(
        await json_object(request), {"question", "options", "maxChoices", "opensAt", "closesAt", "resultsVisibility"}
    )
    closes_at = _instant(body, "closesAt")
    if closes_at is None:
        raise BadRequestData("'closesAt' is required")
    visibility = text_member(body, "resultsVisibility")
    view = await call(
        _service(request).create_poll,
        tenant,
        body.get("question"),
        body.get("options"),
        max_choices=body.get("maxChoices", 1),
        opens_at=_instant(body, "opensAt"),
        closes_at=closes_at,
        visibility=ResultsVisibility.LIVE if visibility is None else parse_visibility(visibility),
        by=actor.subject,
    )
    return json_response(view.to_json(), 201, {"Location": f"{router.prefix}/polls/{view.poll.id}"})


@router.get("/polls/{poll_id}", summary="Show a poll", dependencies=_READ)
async def get_poll(request: Request, poll_id: str) -> Response:
    """The poll, with its results when its visibility allows."""
    tenant, viewer = _reader(request)
    check_params(request, set())
    return json_response((await call(_service(request).get_poll, tenant, poll_id, viewer)).to_json())


@router.post("/polls/{poll_id}/vote", summary="Vote in a poll", dependencies=_SUBMISSION)
async def vote(request: Request, poll_id: str) -> Response:
    """Body ``{"choices": [option numbers, 0 first]}``; one vote per person (409 the second time)."""
    tenant, actor = _resident(request)
    body = _known(await json_object(request), {"choices"})
    view = await call(_service(request).vote, tenant, poll_id, actor.subject, body.get("choices"))
    return json_response(view.to_json())


@router.post("/polls/{poll_id}/close", summary="Close a poll now (staff)")
async def close_poll(request: Request, poll_id: str) -> Response:
    """Voting ends at once."""
    tenant, actor = _staff(request)
    await optional_json_object(request)
    return json_response((await call(_service(request).close_poll, tenant, poll_id, by=actor.subject)).to_json())


@router.get("/polls/{poll_id}/results", summary="A poll's results", dependencies=_READ)
async def poll_results(request: Request, poll_id: str) -> Response:
    """Counts and shares of voters; 409 while results are kept until the poll closes."""
    tenant, viewer = _reader(request)
    check_params(request, set())
    view = await call(_service(request).poll_results, tenant, poll_id, viewer)
    shown = view.to_json()
    return json_response(
        {"pollId": shown["id"], "question": shown["question"], "status": shown["status"], **shown["results"]}
    )
