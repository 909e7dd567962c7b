"""Batch operations: ``/entityOperations/{create,upsert,update,delete,merge,query}``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.context.jsonld import LdContext
from urbis.context.linking import MAX_JOIN_LEVEL
from urbis.context.model import Entity, build_entity, is_uri, utc_now_iso
from urbis.context.representation import Renderer
from urbis.context.service import BatchResult, EntitySelector, QueryParams
from urbis.core.errors import BadRequestData, InvalidRequest, UrbisError
from urbis.web.deps import require_read, require_write
from urbis.web.errors import problem_of
from urbis.web.ngsild.common import (
    GEO_JSON,
    JSON,
    JSON_LD,
    PREFIX,
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
    parse_options,
    read_json,
    render_options,
    resolver_of,
    settings_of,
    strip_context,
    tenant_of,
)
from urbis.web.ngsild.entities import REPRESENTATION_OPTIONS, joined_entities, service_of

router = APIRouter(prefix=PREFIX, tags=["NGSI-LD batch operations"])


async def _read_batch(request: Request) -> tuple[list[Any], str]:
    media = content_type(request)
    body = await read_json(request)
    if not isinstance(body, list):
        raise BadRequestData("a batch operation needs a JSON array in the body")
    if not body:
        raise BadRequestData("the batch is empty")
    limit = settings_of(request).batch_max
    if len(body) > limit:
        raise BadRequestData(f"a batch may hold at most {limit} entries, got {len(body)}")
    if media == JSON_LD and link_context_url(request) is not None:
        raise BadRequestData("a JSON-LD Link header is not allowed with Content-Type application/ld+json")
    return body, media


async def _build_items(
    request: Request, *, require_type: bool, allow_null: bool
) -> tuple[list[Entity], BatchResult, LdContext]:
    """Validate each entity on its own; the invalid ones become errors, the rest go on."""
    body, media = await _read_batch(request)
    resolver = resolver_of(request)
    link = link_context_url(request)
    # One trip to the thread pool for the whole batch: resolving and building are CPU work.
    return await call(_build_all, body, media, resolver, link, require_type, allow_null)


def _build_all(
    body: list[Any], media: str, resolver: Any, link: str | None, require_type: bool, allow_null: bool
) -> tuple[list[Entity], BatchResult, LdContext]:
    now = utc_now_iso()
    items: list[Entity] = []
    failed = BatchResult()
    first_ctx: LdContext | None = None
    for raw in body:
        entity_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
        try:
            if not isinstance(raw, dict):
                raise BadRequestData("each batch entry must be an entity (a JSON object)")
            if media == JSON_LD:
                if "@context" not in raw:
                    raise BadRequestData("with Content-Type application/ld+json every entity must carry an @context")
                ctx = resolver.resolve(raw["@context"])
            else:
                if "@context" in raw:
                    raise BadRequestData("an @context in the body needs Content-Type application/ld+json")
                ctx = resolver.resolve(link)
            first_ctx = first_ctx or ctx
            items.append(
                build_entity(strip_context(raw), ctx.expand, now, require_type=require_type, allow_null=allow_null)
            )
        except UrbisError as error:
            failed.errors.append((entity_id, error))
    return items, failed, first_ctx or resolver.core


def _batch_response(request: Request, result: BatchResult, *, created_status: bool) -> Response:
    if result.errors:
        body = {
            "success": result.success,
            "errors": [
                {"entityId": entity_id, "error": problem_of(error, request.url.path)}
                for entity_id, error in result.errors
            ],
        }
        return Response(content=orjson.dumps(body), status_code=207, media_type=JSON)
    if created_status:
        return Response(content=orjson.dumps(result.created), status_code=201, media_type=JSON)
    return no_content()


def _merge(validation: BatchResult, applied: BatchResult) -> BatchResult:
    applied.errors = validation.errors + applied.errors
    return applied


@both_slashes(router, "/entityOperations/create", ["POST"], summary="Batch create")
async def batch_create(request: Request) -> Response:
    """Create many entities: 201 with their ids, or 207 with what failed."""
    check_params(request, ("local",))
    tenant = tenant_of(request)
    await require_write(request, tenant)
    items, failed, _ = await _build_items(request, require_type=True, allow_null=False)
    result = _merge(failed, await call(service_of(request).batch, tenant, items, "create"))
    if result.errors:
        return _batch_response(request, result, created_status=False)
    return Response(content=orjson.dumps(result.success), status_code=201, media_type=JSON)


@both_slashes(router, "/entityOperations/upsert", ["POST"], summary="Batch upsert")
async def batch_upsert(request: Request) -> Response:
    """Create or change many entities; ``options=replace`` (default) or ``update``."""
    check_params(request, ("options", "local"))
    options = parse_options(request, {"replace", "update"})
    if len(options) > 1:
        raise BadRequestData("options replace and update exclude each other")
    tenant = tenant_of(request)
    await require_write(request, tenant)
    items, failed, _ = await _build_items(request, require_type=True, allow_null=False)
    operation = "upsert-update" if "update" in options else "upsert-replace"
    result = _merge(failed, await call(service_of(request).batch, tenant, items, operation))
    return _batch_response(request, result, created_status=bool(result.created))


@both_slashes(router, "/entityOperations/update", ["POST"], summary="Batch update")
async def batch_update(request: Request) -> Response:
    """Append attributes to many existing entities; ``options=noOverwrite`` keeps existing ones."""
    check_params(request, ("options", "local"))
    options = parse_options(request, {"noOverwrite"})
    tenant = tenant_of(request)
    await require_write(request, tenant)
    items, failed, _ = await _build_items(request, require_type=False, allow_null=True)
    operation = "update-noOverwrite" if "noOverwrite" in options else "update"
    result = _merge(failed, await call(service_of(request).batch, tenant, items, operation))
    return _batch_response(request, result, created_status=False)


@both_slashes(router, "/entityOperations/merge", ["POST"], summary="Batch merge")
async def batch_merge(request: Request) -> Response:
    """Merge fragments into many existing entities."""
    check_params(request, ("local",))
    tenant = tenant_of(request)
    await require_write(request, tenant)
    items, failed, _ = await _build_items(request, require_type=False, allow_null=True)
    result = _merge(failed, await call(service_of(request).batch, tenant, items, "merge"))
    return _batch_response(request, result, created_status=False)


@both_slashes(router, "/entityOperations/delete", ["POST"], summary="Batch delete")
async def batch_delete(request: Request) -> Response:
    """Delete many entities given as a JSON array of ids."""
    check_params(request, ("local",))
    tenant = tenant_of(request)
    await require_write(request, tenant)
    body, _ = await _read_batch(request)
    failed = BatchResult()
    ids: list[str] = []
    for entity_id in body:
        if is_uri(entity_id):
            ids.append(entity_id)
        else:
            failed.errors.append(
                (
                    entity_id if isinstance(entity_id, str) else None,
                    BadRequestData(f"not an entity id: {entity_id!r:.100}"),
                )
            )
    result = await call(service_of(request).batch_delete, tenant, ids) if ids else BatchResult()
    return _batch_response(request, _merge(failed, result), created_status=False)


def _selectors(raw: Any) -> tuple[EntitySelector, ...] | None:
    """The body's entity selectors (alternatives)."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(s, dict) for s in raw):
        raise BadRequestData("'entities' must be a non-empty list of entity selectors (JSON objects)")
    selectors = []
    for selector in raw:
        for key in ("type", "id", "idPattern"):
            if key in selector and not isinstance(selector[key], str):
                raise BadRequestData(f"an entity selector's '{key}' must be a string")
        if not any(key in selector for key in ("type", "id", "idPattern")):
            raise BadRequestData("an entity selector needs at least one of id, idPattern or type")
        selectors.append(EntitySelector(selector.get("id"), selector.get("idPattern"), selector.get("type")))
    return tuple(selectors)


def query_from_body(body: dict[str, Any], limit: int, offset: int, count: bool) -> QueryParams:
    """The query a Query body describes."""
    if body.get("type") not in (None, "Query"):
        raise BadRequestData("the query body's type must be 'Query'")
    selectors = _selectors(body.get("entities"))
    attrs = body.get("attrs")
    if attrs is not None and (not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs)):
        raise BadRequestData("'attrs' must be a list of attribute names")
    geo = body.get("geoQ")
    if geo is not None and not isinstance(geo, dict):
        raise BadRequestData("'geoQ' must be an object")
    for key in ("q", "scopeQ"):
        if key in body and not isinstance(body[key], str):
            raise BadRequestData(f"'{key}' must be a string")
    return QueryParams(
        selectors=selectors,
        attrs=tuple(attrs) if attrs else None,
        q=body.get("q"),
        scope_q=body.get("scopeQ"),
        georel=geo.get("georel") if geo else None,
        geometry=geo.get("geometry") if geo else None,
        coordinates=geo.get("coordinates") if geo else None,
        geoproperty=geo.get("geoproperty") if geo else None,
        limit=limit,
        offset=offset,
        count=count,
    )


@both_slashes(router, "/entityOperations/query", ["POST"], summary="Query entities with a body")
async def batch_query(request: Request) -> Response:
    """Query entities with the query in a JSON body (clause 6.23)."""
    check_params(
        request,
        ("limit", "offset", "count", "options", "format", "local", "lang", "pick", "omit", "attrs", "datasetId"),
    )
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request, geo=True)  # GeoJSON too, as GET /entities (suite 019_02_05)
    body_media = content_type(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequestData("the query must be a JSON object")
    from urbis.web.ngsild.common import body_context

    ctx = await call(resolver_of(request).resolve, body_context(request, body_media, body))
    limit, offset, count = paging(request)
    # One entity beyond the page tells whether a next page exists without counting them all.
    query = query_from_body(strip_context(body), limit + 1 if limit else 0, offset, count)
    options = parse_options(request, REPRESENTATION_OPTIONS, invalid=InvalidRequest)
    render = render_options(request, ctx, options)
    if render.attrs is None and query.attrs:
        # The body's attrs project the result as the attrs parameter does (clause 5.7.2).
        render = replace(render, attrs=frozenset(ctx.expand(a) for a in query.attrs))
    renderer = Renderer(ctx.compact, render)
    local = request.query_params.get("local") == "true"
    found, total = await call(service_of(request).query, tenant, query, ctx.expand, allow_unfiltered=local)
    more = len(found) > limit
    found = found[:limit]
    headers: dict[str, str] = {}
    if total is not None:
        headers["NGSILD-Results-Count"] = str(total)
    links = page_links(request, limit, offset, len(found), total if total is not None or more else offset + len(found))
    if links:
        headers["Link"] = links
    if media == GEO_JSON:
        geometry = body.get("geometryProperty") or "location"
        if not isinstance(geometry, str):
            raise BadRequestData("'geometryProperty' must be an attribute name")
        collection = renderer.geojson_collection(found, ctx.expand(geometry))
        return ngsild_response(collection, ctx, media, headers=headers)
    join, level = _body_join(strip_context(body))
    if join is not None:
        # Suite 019_24: linked entity retrieval with join/joinLevel in the Query body.
        joined = await call(joined_entities, service_of(request), tenant, found, renderer, ctx, join, level)
        return ngsild_response(joined, ctx, media, headers=headers)
    return ngsild_response([renderer.entity(e) for e in found], ctx, media, headers=headers)


def _body_join(body: dict[str, Any]) -> tuple[str | None, int]:
    """``join`` (flat or inline) and ``joinLevel`` (default 1) of a Query body."""
    join = body.get("join")
    if join in (None, "@none"):
        return None, 0
    if join not in ("flat", "inline"):
        raise BadRequestData(f"join must be flat, inline or @none, got {join!r:.40}")
    level = body.get("joinLevel", 1)
    if isinstance(level, str) and level.isascii() and level.isdigit():
        level = int(level)
    if not isinstance(level, int) or isinstance(level, bool) or level < 0:
        raise BadRequestData(f"joinLevel must be a non-negative integer, got {level!r:.40}")
    return join, min(level, MAX_JOIN_LEVEL)
