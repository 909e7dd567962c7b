"""The resident's own things at ``/api/v1/me``: their reports, their data, what they follow, their feed.

Every route needs a signed-in resident of the tenant (the ``citizen`` role or any role that may take
part): 401 without a login, 403 for an account that may not take part here.  The account is the
caller's subject; nobody reaches another resident's data through these routes.

Downloading the data gathers the account, what the reports hold about the resident (contact details,
comments), their follows and their feed.  Erasing it forgets who sent their reports (the reports stay,
anonymous) and deletes their follows and feed; the login itself is deleted elsewhere.

Only the account's own reports count, never reports that merely carry the same e-mail address: an
account's address is not proven to belong to its holder, and matching on it would hand anyone who
typed a stranger's address that stranger's phone number and name.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.citizens.notify import FEED_PAGE_MAX, Notifier, entry_json, follow_json
from urbis.citizens.service import ReportService
from urbis.citizens.views import public_report_view
from urbis.core.auth.roles import can_participate, require
from urbis.core.errors import BadRequestData
from urbis.web.deps import current_actor
from urbis.web.ngsild.common import call, check_params, settings_of, tenant_of
from urbis.web.params import int_param, json_object, json_response, page_offset
from urbis.web.reports import RetryAfterRoute

router = APIRouter(prefix="/api/v1/me", tags=["residents"], route_class=RetryAfterRoute)

#: The name a browser saves the data download under.
DOWNLOAD_NAME = "urbis-my-data.json"
#: Feed entries a page shows when the client does not say.
FEED_PAGE_DEFAULT = 50


def _resident(request: Request) -> tuple[str, str]:
    """The tenant and the caller's account; 401 without a login, 403 for someone who may not take part."""
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_participate(actor, tenant), actor, f"use a resident's account in tenant '{tenant}'")
    return tenant, actor.subject


def _reports(request: Request) -> ReportService:
    service: ReportService = request.app.state.citizen_reports
    return service


def _notifier(request: Request) -> Notifier:
    notifier: Notifier = request.app.state.notifier
    return notifier


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequestData(f"'{name}' must be a number")
    return float(value)


# -- reports ------------------------------------------------------------------------------------


def _my_reports(service: ReportService, tenant: str, account: str, base_url: str) -> list[dict[str, Any]]:
    out = []
    for report in service.reports_of(tenant, account):
        view = public_report_view(report, base_url)
        del view["updates"]  # one page, one query: the history is on the report's own page
        out.append({**view, "confirmed": report.confirmed})
    return out


@router.get("/reports", summary="My reports")
async def my_reports(request: Request) -> Response:
    """The reports the resident sent while signed in, newest first (public views, with ``confirmed``)."""
    tenant, account = _resident(request)
    check_params(request, set())
    base_url = settings_of(request).effective_base_url
    return json_response({"reports": await call(_my_reports, _reports(request), tenant, account, base_url)})


# -- my data ------------------------------------------------------------------------------------


@router.get("/data", summary="Download my data")
async def download(request: Request) -> Response:
    """Everything Urbis keeps about the resident, as a JSON file to save."""
    tenant, account = _resident(request)
    check_params(request, set())
    data = await call(request.app.state.resident_data.export, tenant, account)
    headers = {"Content-Disposition": f'attachment; filename="{DOWNLOAD_NAME}"', "Cache-Control": "no-store"}
    return json_response(data, headers=headers)


@router.delete("/data", status_code=204, summary="Delete my data")
async def erase(request: Request) -> Response:
    """Forget who sent the resident's reports (they stay, anonymous), who supported and voted, follows and feed."""
    tenant, account = _resident(request)
    check_params(request, set())
    await call(request.app.state.resident_data.erase, tenant, account)
    return Response(status_code=204)


# -- follows ------------------------------------------------------------------------------------


@router.get("/follows", summary="What I follow")
async def list_follows(request: Request) -> Response:
    """Newest first."""
    tenant, account = _resident(request)
    check_params(request, set())
    found = await call(_notifier(request).follows_of, tenant, account)
    return json_response({"follows": [follow_json(f) for f in found]})


@router.post("/follows", status_code=201, summary="Follow a report, an area, a category, a proposal or a budget")
async def add_follow(request: Request) -> Response:
    """Body ``{"kind", "target"?, "lat"?, "long"?, "radius"? (metres, 10..5000), "byMail"? (default false)}``.

    201 for a new follow; following the same thing again answers 200 (and sets ``byMail``).
    """
    tenant, account = _resident(request)
    body = await json_object(request)
    kind = body.get("kind")
    target = body.get("target")
    by_mail = body.get("byMail", False)
    if not isinstance(kind, str):
        raise BadRequestData("'kind' is required: report, area, category, proposal or budget")
    if target is not None and not isinstance(target, str):
        raise BadRequestData("'target' must be a string")
    if not isinstance(by_mail, bool):
        raise BadRequestData("'byMail' must be true or false")
    unknown = set(body) - {"kind", "target", "lat", "long", "radius", "byMail"}
    if unknown:
        raise BadRequestData(f"unknown member {sorted(unknown)[0]!r:.60}")
    follow, created = await call(
        _notifier(request).follow,
        tenant,
        account,
        kind,
        target=target,
        lat=_number(body, "lat"),
        long=_number(body, "long"),
        radius_m=_number(body, "radius"),
        by_mail=by_mail,
    )
    headers = {"Location": f"/api/v1/me/follows/{follow.id}"}
    return json_response(follow_json(follow), 201 if created else 200, headers)


@router.delete("/follows/{follow_id}", status_code=204, summary="Stop following")
async def delete_follow(request: Request, follow_id: str) -> Response:
    """404 unless the follow is the caller's own."""
    tenant, account = _resident(request)
    await call(_notifier(request).unfollow, tenant, account, follow_id)
    return Response(status_code=204)


# -- the feed -----------------------------------------------------------------------------------


@router.get("/feed", summary="My notifications")
async def my_feed(request: Request) -> Response:
    """Newest first, ``limit`` (default 50, at most 200) and ``offset``; ``total`` and ``unread`` count them all."""
    tenant, account = _resident(request)
    check_params(request, {"limit", "offset"})
    limit = int_param(request, "limit", FEED_PAGE_DEFAULT, minimum=1, maximum=FEED_PAGE_MAX)
    page = await call(_notifier(request).feed_of, tenant, account, limit=limit, offset=page_offset(request))
    return json_response({"entries": [entry_json(e) for e in page.entries], "total": page.total, "unread": page.unread})


@router.post("/feed/read", summary="Mark notifications read")
async def mark_read(request: Request) -> Response:
    """Body ``{"ids"?: [...]}``; without ``ids`` (or without a body) every entry is marked read."""
    tenant, account = _resident(request)
    body = await json_object(request) if (await request.body()).strip() else {}
    ids = body.get("ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise BadRequestData("'ids' must be a list of feed entry ids")
    if ids is not None and len(ids) > FEED_PAGE_MAX:
        raise BadRequestData(f"mark at most {FEED_PAGE_MAX} entries at once (or leave out 'ids' for all)")
    notifier = _notifier(request)
    marked = await call(notifier.mark_read, tenant, account, ids)
    page = await call(notifier.feed_of, tenant, account, limit=1)
    return json_response({"marked": marked, "unread": page.unread})
