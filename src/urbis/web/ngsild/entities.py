"""Entities and their attributes: ``/entities`` and ``/entities/{id}/attrs``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.context.jsonld import LdContext
from urbis.context.linking import MAX_JOIN_LEVEL, collect_linked, flat_links, inline_links
from urbis.context.model import (
    ENTITY_MEMBERS,
    Entity,
    InstanceBuilder,
    build_entity,
    check_entity_id,
    check_name,
    utc_now_iso,
)
from urbis.context.representation import Renderer
from urbis.context.service import ContextService, QueryParams, UpdateResult, parse_ids
from urbis.core.errors import BadRequestData, InvalidRequest, NotFound
from urbis.web.deps import require_read, require_write
from urbis.web.ngsild.common import (
    GEO_JSON,
    JSON,
    PREFIX,
    body_context,
    both_slashes,
    call,
    check_params,
    content_type,
    geo_context_in_body,
    negotiate,
    ngsild_response,
    no_content,
    page_links,
    paging,
    parse_options,
    read_json,
    render_options,
    resolver_of,
    strip_context,
    tenant_of,
)

router = APIRouter(prefix=PREFIX, tags=["NGSI-LD entities"])

#: Parameters of retrieving one entity; queries take these and their filters and paging.
RETRIEVE_PARAMS = {
    "attrs",
    "options",
    "format",
    "lang",
    "pick",
    "omit",
    "datasetId",
    "geometryProperty",
    "type",
    "local",
    "join",
    "joinLevel",
    "via",
}
#: Parameters that select entities and page through them (shared with the temporal API).
SELECTION_PARAMS = frozenset(
    {"id", "idPattern", "q", "scopeQ", "georel", "geometry", "coordinates", "geoproperty", "limit", "offset", "count"}
)
QUERY_PARAMS = RETRIEVE_PARAMS | SELECTION_PARAMS


def query_of(request: Request, attrs: tuple[str, ...] | None, limit: int, offset: int, count: bool) -> QueryParams:
    """The entity query the selection parameters of ``request`` describe (also used by the temporal API)."""
    params = request.query_params
    return QueryParams(
        ids=parse_ids(params.get("id")),
        id_pattern=params.get("idPattern"),
        type=params.get("type"),
        attrs=attrs,
        q=params.get("q"),
        scope_q=params.get("scopeQ"),
        georel=params.get("georel"),
        geometry=params.get("geometry"),
        coordinates=params.get("coordinates"),
        geoproperty=params.get("geoproperty"),
        # One entity beyond the page tells whether a next page exists without counting them all.
        limit=limit + 1 if limit else 0,
        offset=offset,
        count=count,
    )


REPRESENTATION_OPTIONS = {"keyValues", "simplified", "concise", "normalized", "sysAttrs"}


def service_of(request: Request) -> ContextService:
    """The app's context service."""
    service: ContextService = request.app.state.context
    return service


async def read_entity_body(request: Request, *, merge_patch: bool = False) -> tuple[Any, LdContext]:
    """The JSON body and its resolved @context, after the media type and no-mix checks."""
    media = content_type(request, merge_patch=merge_patch)
    body = await read_json(request)
    ctx = await call(resolver_of(request).resolve, body_context(request, media, body))
    return body, ctx


def get_context(request: Request) -> LdContext:
    """The @context of a GET or DELETE (Link header only)."""
    from urbis.web.ngsild.common import link_context_url

    return resolver_of(request).resolve(link_context_url(request))


def update_result_response(result: UpdateResult, ctx: LdContext) -> Response:
    """204 when everything was updated, 207 with an UpdateResult otherwise."""
    if not result.not_updated:
        return no_content()
    body = {
        "updated": [ctx.compact(name) for name in result.updated],
        "notUpdated": [{"attributeName": ctx.compact(name), "reason": reason} for name, reason in result.not_updated],
    }
    return Response(content=orjson.dumps(body), status_code=207, media_type=JSON)


def join_options(request: Request) -> tuple[str | None, int]:
    """``join`` (flat or inline) and ``joinLevel`` (default 1) of linked entity retrieval."""
    join = request.query_params.get("join")
    if join in (None, "@none"):
        return None, 0
    if join not in ("flat", "inline"):
        raise BadRequestData(f"join must be flat, inline or @none, got {join!r:.40}")
    raw_level = request.query_params.get("joinLevel", "1")
    if not raw_level.isdigit():
        raise BadRequestData(f"joinLevel must be a non-negative integer, got {raw_level!r:.40}")
    return join, min(int(raw_level), MAX_JOIN_LEVEL)


def joined_entities(
    service: ContextService,
    tenant: str,
    entities: list[Entity],
    renderer: Renderer,
    ctx: LdContext,
    join: str,
    level: int,
) -> list[dict[str, Any]]:
    """Rendered entities with the entities their Relationships name: appended (flat) or embedded (inline)."""
    linked = collect_linked(entities, lambda ids: service.get_entities(tenant, ids), level)
    if join == "flat":
        reached = flat_links(entities, linked, renderer, ctx.compact, level)
        return [renderer.entity(e) for e in entities] + [shown_by.entity(e) for e, shown_by in reached]
    return [inline_links(renderer.entity(e), e, linked, renderer, ctx.compact, level) for e in entities]


def geometry_property(request: Request, ctx: LdContext) -> str:
    """The GeoProperty used as the geometry of GeoJSON output."""
    return ctx.expand(request.query_params.get("geometryProperty") or "location")


@both_slashes(router, "/entities", ["POST"], status_code=201, summary="Create an entity")
async def create_entity(request: Request) -> Response:
    """Create an entity (clause 6.4.3.1): 201 with Location, empty body."""
    check_params(request, ())
    tenant = tenant_of(request)
    await require_write(request, tenant)
    body, ctx = await read_entity_body(request)
    entity = build_entity(strip_context(body), ctx.expand, utc_now_iso())
    await call(service_of(request).create_entity, tenant, entity)
    # Headers are ASCII: ids with other characters are percent-encoded (RFC 3986).
    location = f"{PREFIX}/entities/{quote(entity['id'], safe=':/#?=&;,+@!$*()~-._')}"
    return Response(status_code=201, headers={"Location": location})


@both_slashes(router, "/entities", ["GET"], summary="Query entities")
async def query_entities(request: Request) -> Response:
    """Query entities (clause 6.4.3.2)."""
    check_params(request, QUERY_PARAMS)
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request, geo=True)
    ctx = await call(get_context, request)
    params = request.query_params
    limit, offset, count = paging(request)
    attrs = tuple(a.strip() for a in params["attrs"].split(",") if a.strip()) if params.get("attrs") else None
    query = query_of(request, attrs, limit, offset, count)
    options = parse_options(request, REPRESENTATION_OPTIONS, invalid=InvalidRequest)
    renderer = Renderer(ctx.compact, render_options(request, ctx, options))
    found, total = await call(
        service_of(request).query, tenant, query, ctx.expand, allow_unfiltered=params.get("local") == "true"
    )
    more = len(found) > limit
    found = found[:limit]
    headers: dict[str, str] = {}
    if total is not None:
        headers["NGSILD-Results-Count"] = str(total)
    links = page_links(request, limit, offset, len(found), total if total is not None or more else offset + len(found))
    if links:
        headers["Link"] = links
    data: Any
    join, level = join_options(request)
    if media == GEO_JSON:
        data = renderer.geojson_collection(found, geometry_property(request, ctx))
    elif join is not None:
        data = await call(joined_entities, service_of(request), tenant, found, renderer, ctx, join, level)
    else:
        data = [renderer.entity(entity) for entity in found]
    return ngsild_response(data, ctx, media, headers=headers, geo_context_in_body=geo_context_in_body(request))


@both_slashes(router, "/entities", ["DELETE"], summary="Purge entities")
async def purge_entities(request: Request) -> Response:
    """Delete every entity matching a query, or some of their attributes (``keep``/``drop``)."""
    check_params(
        request,
        {
            "type",
            "id",
            "idPattern",
            "q",
            "scopeQ",
            "keep",
            "drop",
            "georel",
            "geometry",
            "coordinates",
            "geoproperty",
            "local",
        },
    )
    tenant = tenant_of(request)
    await require_write(request, tenant)
    params = request.query_params
    # local=true alone is enough: the purge is then limited to this broker (5.6.21.3; suite 060_03_03).
    local = params.get("local") == "true"
    if not local and not any(name in params for name in ("type", "id", "idPattern", "q", "scopeQ", "georel")):
        raise BadRequestData(
            "purging needs local=true or at least one of type, id, idPattern, q, scopeQ or a geo-query"
        )
    ctx = await call(get_context, request)
    query = QueryParams(
        ids=parse_ids(params.get("id")),
        id_pattern=params.get("idPattern"),
        type=params.get("type"),
        q=params.get("q"),
        scope_q=params.get("scopeQ"),
        georel=params.get("georel"),
        geometry=params.get("geometry"),
        coordinates=params.get("coordinates"),
        geoproperty=params.get("geoproperty"),
    )
    keep = tuple(params["keep"].split(",")) if "keep" in params else None
    drop = tuple(params["drop"].split(",")) if "drop" in params else None
    await call(service_of(request).purge, tenant, query, ctx.expand, keep=keep, drop=drop)
    return no_content()


@both_slashes(router, "/entities/{entity_id}", ["GET"], summary="Retrieve an entity")
async def retrieve_entity(request: Request, entity_id: str) -> Response:
    """Retrieve one entity (clause 6.5.3.1)."""
    check_params(request, RETRIEVE_PARAMS)
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request, geo=True)
    check_entity_id(entity_id)
    ctx = await call(get_context, request)
    options = parse_options(request, REPRESENTATION_OPTIONS, invalid=InvalidRequest)
    renderer = Renderer(ctx.compact, render_options(request, ctx, options))
    entity = await call(service_of(request).get_entity, tenant, entity_id)
    wanted_type = request.query_params.get("type")
    if wanted_type is not None and ctx.expand(wanted_type) not in entity["type"]:
        raise NotFound(f"entity {entity_id} is not of type {wanted_type}")
    projection = renderer.options.projection_kind
    if projection is not None and not renderer.entity(entity):
        # Nothing of the entity is left after pick/omit (suite 018_19).
        raise NotFound(f"{projection} leaves no member of entity {entity_id}")
    wanted_attrs = renderer.options.attrs
    if wanted_attrs is not None and not wanted_attrs & entity["attrs"].keys():
        # The entity has none of the requested attributes (clause 5.7.1; suite 018_03_02).
        raise NotFound(f"entity {entity_id} has none of the requested attributes")
    if media == GEO_JSON:
        feature = renderer.geojson_feature(entity, geometry_property(request, ctx))
        return ngsild_response(feature, ctx, media, geo_context_in_body=geo_context_in_body(request))
    join, level = join_options(request)
    if join is None:
        return ngsild_response(renderer.entity(entity), ctx, media)
    joined = await call(joined_entities, service_of(request), tenant, [entity], renderer, ctx, join, level)
    # A flat join that found no linked entity answers with the entity alone (suite 018_14_02).
    return ngsild_response(joined if join == "flat" and len(joined) > 1 else joined[0], ctx, media)


async def check_type_selector(request: Request, tenant: str, entity_id: str, ctx: LdContext | None = None) -> None:
    """The ``type`` selector of a single-entity operation (4.17, 5.6.6.4).

    An entity of none of the given types (``,`` separated) is not found, and nothing is changed
    (suite 565_01, 566_01).
    """
    wanted = request.query_params.get("type")
    if wanted is None:
        return
    if ctx is None:
        ctx = await call(get_context, request)
    entity = await call(service_of(request).get_entity, tenant, entity_id)
    if not any(ctx.expand(t.strip()) in entity["type"] for t in wanted.split(",") if t.strip()):
        raise NotFound(f"entity {entity_id} is not of type {wanted:.100}")


@both_slashes(router, "/entities/{entity_id}", ["DELETE"], summary="Delete an entity")
async def delete_entity(request: Request, entity_id: str) -> Response:
    """Delete one entity (clause 6.5.3.2)."""
    check_params(request, {"type", "local", "via"})
    tenant = tenant_of(request)
    await require_write(request, tenant)
    await check_type_selector(request, tenant, entity_id)
    await call(service_of(request).delete_entity, tenant, entity_id)
    return no_content()


@both_slashes(router, "/entities/{entity_id}", ["PUT"], summary="Replace an entity")
async def replace_entity(request: Request, entity_id: str) -> Response:
    """Replace an entity, keeping its creation time (clause 6.5.3.3)."""
    check_params(request, {"type", "local"})
    tenant = tenant_of(request)
    await require_write(request, tenant)
    check_entity_id(entity_id)
    body, ctx = await read_entity_body(request)
    entity = build_entity(strip_context(body), ctx.expand, utc_now_iso(), entity_id=entity_id)
    await check_type_selector(request, tenant, entity_id, ctx)
    await call(service_of(request).replace_entity, tenant, entity_id, entity)
    return no_content()


@both_slashes(router, "/entities/{entity_id}", ["PATCH"], summary="Merge an entity")
async def merge_entity(request: Request, entity_id: str) -> Response:
    """Merge a fragment into an entity (clause 6.5.3.4); NGSI-LD Null deletes."""
    check_params(request, {"options", "format", "type", "local", "observedAt", "lang"})
    parse_options(request, {"noOverwrite", "keyValues", "concise", "normalized", "simplified"})
    tenant = tenant_of(request)
    await require_write(request, tenant)
    check_entity_id(entity_id)
    body, ctx = await read_entity_body(request, merge_patch=True)
    fragment = build_entity(
        strip_context(body), ctx.expand, utc_now_iso(), entity_id=entity_id, require_type=False, allow_null=True
    )
    await check_type_selector(request, tenant, entity_id, ctx)
    await call(service_of(request).merge_entity, tenant, entity_id, fragment)
    return no_content()


@both_slashes(router, "/entities/{entity_id}/attrs", ["POST"], summary="Append attributes")
async def append_attributes(request: Request, entity_id: str) -> Response:
    """Append attributes (clause 6.6.3.1); ``options=noOverwrite`` keeps existing ones."""
    check_params(request, {"options", "type", "local"})
    options = parse_options(request, {"noOverwrite"})
    tenant = tenant_of(request)
    await require_write(request, tenant)
    check_entity_id(entity_id)
    body, ctx = await read_entity_body(request)
    fragment = build_entity(strip_context(body), ctx.expand, utc_now_iso(), entity_id=entity_id, require_type=False)
    await check_type_selector(request, tenant, entity_id, ctx)
    result = await call(
        service_of(request).append_attributes, tenant, entity_id, fragment, no_overwrite="noOverwrite" in options
    )
    return update_result_response(result, ctx)


@both_slashes(router, "/entities/{entity_id}/attrs", ["PATCH"], summary="Update attributes")
async def update_attributes(request: Request, entity_id: str) -> Response:
    """Update existing attributes (clause 6.6.3.2); missing ones are reported (207)."""
    check_params(request, {"type", "local"})
    tenant = tenant_of(request)
    await require_write(request, tenant)
    check_entity_id(entity_id)
    # Every PATCH also accepts application/merge-patch+json (clause 6.3.4).
    body, ctx = await read_entity_body(request, merge_patch=True)
    fragment = build_entity(
        strip_context(body), ctx.expand, utc_now_iso(), entity_id=entity_id, require_type=False, allow_null=True
    )
    await check_type_selector(request, tenant, entity_id, ctx)
    result = await call(service_of(request).update_attributes, tenant, entity_id, fragment)
    return update_result_response(result, ctx)


def _attribute_body(body: Any) -> Any:
    if not isinstance(body, dict):
        raise BadRequestData("an attribute must be a JSON object")
    fragment = strip_context(body)
    if not fragment:
        raise BadRequestData("the attribute fragment is empty")
    return fragment


def _check_attribute_path(attr_id: str) -> None:
    """An attribute name in the path: entity members and JSON-LD keywords name no attribute (400, not 404)."""
    if attr_id in ENTITY_MEMBERS or attr_id.startswith("@"):
        raise BadRequestData(f"{attr_id!r:.100} is not an attribute name")
    check_name(attr_id)


@both_slashes(router, "/entities/{entity_id}/attrs/{attr_id}", ["PATCH"], summary="Partial attribute update")
async def partial_attribute_update(request: Request, entity_id: str, attr_id: str) -> Response:
    """Update members of one attribute (clause 6.7.3.1)."""
    check_params(request, {"type", "local", "datasetId"})
    tenant = tenant_of(request)
    await require_write(request, tenant)
    check_entity_id(entity_id)
    _check_attribute_path(attr_id)
    body, ctx = await read_entity_body(request, merge_patch=True)  # suite 044_01_01
    patch_body = _attribute_body(body)
    builder = InstanceBuilder(ctx.expand, utc_now_iso(), allow_null=True, partial=True)
    patch = builder.instance(attr_id, patch_body)
    if patch_body.get("type") is None:
        patch.pop("type", None)
    dataset_id = patch.pop("datasetId", None) or request.query_params.get("datasetId")
    await check_type_selector(request, tenant, entity_id, ctx)
    await call(
        service_of(request).partial_update_attribute,
        tenant,
        entity_id,
        ctx.expand(attr_id),
        patch,
        dataset_id=dataset_id,
    )
    return no_content()


@both_slashes(router, "/entities/{entity_id}/attrs/{attr_id}", ["PUT"], summary="Replace an attribute")
async def replace_attribute(request: Request, entity_id: str, attr_id: str) -> Response:
    """Replace one attribute instance (clause 6.7.3.3)."""
    check_params(request, {"type", "local"})
    tenant = tenant_of(request)
    await require_write(request, tenant)
    check_entity_id(entity_id)
    _check_attribute_path(attr_id)
    body, ctx = await read_entity_body(request)
    instance = InstanceBuilder(ctx.expand, utc_now_iso()).instance(attr_id, _attribute_body(body))
    await check_type_selector(request, tenant, entity_id, ctx)
    await call(service_of(request).replace_attribute, tenant, entity_id, ctx.expand(attr_id), instance)
    return no_content()


@both_slashes(router, "/entities/{entity_id}/attrs/{attr_id}", ["DELETE"], summary="Delete an attribute")
async def delete_attribute(request: Request, entity_id: str, attr_id: str) -> Response:
    """Delete an attribute, one instance (``datasetId``) or all instances (``deleteAll``)."""
    check_params(request, {"datasetId", "deleteAll", "type", "local"})
    tenant = tenant_of(request)
    await require_write(request, tenant)
    check_entity_id(entity_id)
    ctx = await call(get_context, request)
    delete_all_raw = request.query_params.get("deleteAll", "false")
    if delete_all_raw not in ("true", "false"):
        raise BadRequestData("deleteAll must be true or false")
    dataset_id = request.query_params.get("datasetId")
    if dataset_id is not None:
        check_entity_id(dataset_id)
    await check_type_selector(request, tenant, entity_id, ctx)
    await call(
        service_of(request).delete_attribute,
        tenant,
        entity_id,
        ctx.expand(attr_id),
        dataset_id=dataset_id,
        delete_all=delete_all_raw == "true",
    )
    return no_content()


async def missing_entity_id(request: Request) -> Response:
    """An entity operation whose path has no entity id (``/entities//attrs``, PATCH ``/entities/``): 400."""
    raise BadRequestData("the entity id is missing from the path")


# The suite (011_02_01, 012_02_01, 054_02_02, 056_02_02, ...) and clause 5.6 expect BadRequestData, not 404/405.
# PUT and PATCH on the collection itself (``/entities``, no slash) stay 405.
for _path, _methods in (
    ("/entities/", ["PUT", "PATCH"]),
    ("/entities//attrs", ["POST", "PATCH"]),
    ("/entities//attrs/", ["POST", "PATCH"]),
    ("/entities//attrs/{attr_id}", ["PATCH", "PUT", "DELETE"]),
    ("/entities//attrs/{attr_id}/", ["PATCH", "PUT", "DELETE"]),
):
    router.add_api_route(_path, missing_entity_id, methods=_methods, include_in_schema=False)
