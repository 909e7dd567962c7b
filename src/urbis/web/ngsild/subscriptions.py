"""NGSI-LD subscriptions: ``/subscriptions`` and ``/subscriptions/{id}`` (clauses 5.8 and 6.10-6.11)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.context.model import NGSILD_NULL, is_uri
from urbis.context.subscriptions.service import SubscriptionService
from urbis.core.errors import BadRequestData
from urbis.web.deps import require_read, require_write
from urbis.web.ngsild.common import (
    PREFIX,
    body_context,
    both_slashes,
    call,
    check_params,
    content_type,
    link_context_url,
    negotiate,
    ngsild_response,
    no_content,
    page_links,
    paging,
    read_json,
    resolver_of,
    strip_context,
    tenant_of,
)

router = APIRouter(prefix=PREFIX, tags=["NGSI-LD subscriptions"])


def service_of(request: Request) -> SubscriptionService:
    """The app's subscription service."""
    service: SubscriptionService = request.app.state.subscriptions
    return service


def _check_id(subscription_id: str) -> None:
    if not is_uri(subscription_id) or subscription_id == NGSILD_NULL:
        raise BadRequestData(f"a subscription id must be a URI, got {subscription_id!r:.100}")


async def _read_body(request: Request, *, merge_patch: bool = False) -> tuple[Any, Any]:
    media = content_type(request, merge_patch=merge_patch)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequestData("a subscription must be a JSON object")
    ctx = await call(resolver_of(request).resolve, body_context(request, media, body))
    return strip_context(body), ctx


@both_slashes(router, "/subscriptions", ["POST"], status_code=201, summary="Create a subscription")
async def create_subscription(request: Request) -> Response:
    """Create a subscription (clause 6.10.3.1): 201 with Location, empty body."""
    check_params(request, ())
    tenant = tenant_of(request)
    await require_write(request, tenant)
    body, ctx = await _read_body(request)
    subscription_id = await call(service_of(request).create, tenant, body, ctx)
    location = f"{PREFIX}/subscriptions/{quote(subscription_id, safe=':/#?=&;,+@!$*()~-._')}"
    return Response(status_code=201, headers={"Location": location})


@both_slashes(router, "/subscriptions", ["GET"], summary="Query subscriptions")
async def query_subscriptions(request: Request) -> Response:
    """The tenant's subscriptions, paged with ``limit``/``offset``; ``count=true`` adds the total."""
    check_params(request, {"limit", "offset", "count"})
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request)
    ctx = await call(resolver_of(request).resolve, link_context_url(request))
    limit, offset, count = paging(request)
    # One beyond the page tells whether a next page exists without counting them all.
    found, total = await call(
        service_of(request).page, tenant, limit=limit + 1 if limit else 0, offset=offset, count=count
    )
    more = len(found) > limit
    found = found[:limit]
    headers: dict[str, str] = {}
    if total is not None:
        headers["NGSILD-Results-Count"] = str(total)
    links = page_links(request, limit, offset, len(found), total if total is not None or more else offset + len(found))
    if links:
        headers["Link"] = links
    return ngsild_response(found, ctx, media, headers=headers)


@both_slashes(router, "/subscriptions/{subscription_id}", ["GET"], summary="Retrieve a subscription")
async def retrieve_subscription(request: Request, subscription_id: str) -> Response:
    """One subscription with its status and delivery counters (clause 6.11.3.1)."""
    check_params(request, set())
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request)
    _check_id(subscription_id)
    ctx = await call(resolver_of(request).resolve, link_context_url(request))
    found = await call(service_of(request).get, tenant, subscription_id)
    return ngsild_response(found, ctx, media)


@both_slashes(router, "/subscriptions/{subscription_id}", ["PATCH"], summary="Update a subscription")
async def update_subscription(request: Request, subscription_id: str) -> Response:
    """Change members of a subscription (clause 6.11.3.2); ``null`` removes a member."""
    check_params(request, set())
    tenant = tenant_of(request)
    await require_write(request, tenant)
    _check_id(subscription_id)
    fragment, _ctx = await _read_body(request, merge_patch=True)
    await call(service_of(request).update, tenant, subscription_id, fragment)
    return no_content()


@both_slashes(router, "/subscriptions/{subscription_id}", ["DELETE"], summary="Delete a subscription")
async def delete_subscription(request: Request, subscription_id: str) -> Response:
    """Delete a subscription (clause 6.11.3.3)."""
    check_params(request, set())
    tenant = tenant_of(request)
    await require_write(request, tenant)
    _check_id(subscription_id)
    await call(service_of(request).delete, tenant, subscription_id)
    return no_content()
