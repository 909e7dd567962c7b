"""Photos of citizen reports: ``GET /media/reports/{photo_id}``.

Anyone may see the photos of a public report (confirmed, not held back by moderation); staff who
handle reports (``can_manage_citizens``) see any.  The tenant is the ``tenant`` query parameter
(Open311 ``media_url``s carry it for tenants other than the default), else ``NGSILD-Tenant``, else
the default tenant.  Photos were re-encoded without metadata on upload, so they are served as they
are, with the stored media type and headers that keep browsers from guessing another.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.citizens.service import PHOTO_PATH, ReportService
from urbis.citizens.store import StoredPhoto
from urbis.core.auth.roles import can_manage_citizens
from urbis.core.errors import BadRequestData, NotFound, UrbisError
from urbis.web.deps import current_actor
from urbis.web.ngsild.common import call, tenant_of

router = APIRouter(tags=["media"])

#: A day: a public photo never changes (a new photo gets a new id); a hidden report's stays private.
PUBLIC_CACHE = "public, max-age=86400"
PRIVATE_CACHE = "private, no-store"

_PHOTO_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TENANT = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def _tenant(request: Request) -> str:
    named = request.query_params.get("tenant")
    if not named:
        return tenant_of(request)
    if not _TENANT.fullmatch(named):
        raise BadRequestData(f"tenant names are 1-64 letters, digits, '-' or '_', got {named[:80]!r}")
    return named


def _is_staff(request: Request, tenant: str) -> bool:
    try:
        actor = current_actor(request)
    except UrbisError:  # a bad or expired token sees what anyone sees (an <img> cannot log in again)
        return False
    return can_manage_citizens(actor, tenant)


@router.get(PHOTO_PATH)
async def report_photo(request: Request, photo_id: str) -> Response:
    """A report's photo: public reports' for anyone, any for staff; 404 otherwise."""
    tenant = _tenant(request)
    if not _PHOTO_ID.fullmatch(photo_id):
        raise NotFound(f"there is no photo {photo_id[:80]!r}")
    reports: ReportService = request.app.state.citizen_reports
    public = True
    try:
        photo: StoredPhoto = await call(reports.photo, tenant, photo_id)
    except NotFound:
        if not _is_staff(request, tenant):
            raise
        photo = await call(reports.photo, tenant, photo_id, staff=True)
        public = False
    headers = {
        "Cache-Control": PUBLIC_CACHE if public else PRIVATE_CACHE,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline",
    }
    return Response(photo.content, media_type=photo.media_type, headers=headers)
