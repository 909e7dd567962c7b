"""The audit-trail API: who did what to which thing, and when, in the tenant named by ``NGSILD-Tenant``.

Staff who may read the operations (viewer, operator, admin) read it; entries name people, so
nobody else does.  The trail is written by the services themselves, never through this API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.audit import AuditFilter, AuditService
from urbis.core.auth.roles import can_read_operations, require
from urbis.web.deps import current_actor
from urbis.web.ngsild.common import call, check_params, tenant_of
from urbis.web.params import instant_param, json_response, page_limit, page_offset, text_param

router = APIRouter(prefix="/api/v1", tags=["audit"])

_PARAMS = {"actor", "action", "target", "since", "until", "limit", "offset"}


def _audit(request: Request) -> AuditService:
    service: AuditService = request.app.state.audit
    return service


@router.get("/audit", summary="The audit trail: who did what, when")
async def audit_trail(request: Request) -> Response:
    """Newest first, the total in ``X-Total-Count``.

    Filters: ``actor`` (a subject), ``action`` (exact, or a prefix ending in ``.`` such as
    ``alarm.``), ``target`` (an id), ``since`` (from this instant on) and ``until`` (before
    it), both ISO 8601 with a zone; ``limit`` and ``offset`` page.
    """
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_read_operations(actor, tenant), actor, f"read the audit trail of tenant '{tenant}'")
    check_params(request, _PARAMS)
    wanted = AuditFilter(
        actor=text_param(request, "actor"),
        action=text_param(request, "action"),
        target=text_param(request, "target"),
        since=instant_param(request, "since"),
        until=instant_param(request, "until"),
        limit=page_limit(request),
        offset=page_offset(request),
    )
    entries, total = await call(_audit(request).entries, tenant, wanted)
    return json_response([entry.to_json() for entry in entries], headers={"X-Total-Count": str(total)})
