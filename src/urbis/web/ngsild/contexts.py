"""The JSON-LD context store: ``/jsonldContexts`` (clause 6.30)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.errors import BadRequestData
from urbis.web.deps import require_read, require_write
from urbis.web.ngsild.common import (
    JSON,
    PREFIX,
    both_slashes,
    call,
    check_params,
    content_type,
    negotiate,
    no_content,
    read_json,
    resolver_of,
    tenant_of,
)

router = APIRouter(prefix=PREFIX, tags=["NGSI-LD JSON-LD contexts"])


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false")
    if raw not in ("true", "false"):
        raise BadRequestData(f"{name} must be true or false")
    return raw == "true"


@both_slashes(router, "/jsonldContexts", ["POST"], status_code=201, summary="Host a @context")
async def add_context(request: Request) -> Response:
    """Store a client's @context and serve it under a URL of this broker."""
    check_params(request, ())
    await require_write(request, tenant_of(request))
    content_type(request)
    body = await read_json(request)
    resolver = resolver_of(request)
    local_id = await call(resolver.add_hosted, body)
    return Response(status_code=201, headers={"Location": resolver.context_url(local_id)})


@both_slashes(router, "/jsonldContexts", ["GET"], summary="List @contexts")
async def list_contexts(request: Request) -> Response:
    """The @contexts this broker knows: URLs, or details."""
    check_params(request, ("details", "kind"))
    await require_read(request, tenant_of(request))
    negotiate(request)
    contexts = resolver_of(request).list_contexts(
        details=_flag(request, "details"), kind=request.query_params.get("kind")
    )
    return Response(content=orjson.dumps(contexts), media_type=JSON)


@both_slashes(router, "/jsonldContexts/{context_id:path}", ["GET"], summary="Serve a @context")
async def get_context_document(request: Request, context_id: str) -> Response:
    """One @context document, or its details with ``details=true``."""
    check_params(request, ("details",))
    negotiate(request)
    resolver = resolver_of(request)
    if _flag(request, "details"):
        return Response(content=orjson.dumps(resolver.get_details(context_id)), media_type=JSON)
    return Response(content=orjson.dumps(resolver.get_document(context_id)), media_type="application/ld+json")


@both_slashes(router, "/jsonldContexts/{context_id:path}", ["DELETE"], summary="Delete or reload a @context")
async def delete_context(request: Request, context_id: str) -> Response:
    """Delete a hosted @context, or drop (``reload=true``: re-fetch) a cached one."""
    check_params(request, ("reload",))
    await require_write(request, tenant_of(request))
    await call(resolver_of(request).delete, context_id, reload=_flag(request, "reload"))
    return no_content()
