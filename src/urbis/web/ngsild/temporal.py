"""The NGSI-LD temporal API (read side): ``/temporal/entities`` and ``/temporal/entityOperations/query``.

Entity selection, @context handling, tenants, paging and errors work as in
``/entities``; the temporal parameters (``timerel``, ``timeAt``, ``endTimeAt``,
``timeproperty``, ``lastN``, ``aggrMethods``, ``aggrPeriodDuration``) choose
which part of the history is returned and how.  A truncated answer is a 206
with ``Content-Range: date-time <start>-<end>/<size>`` (clause 6.3.10).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams as StarletteParams
from starlette.responses import Response

from urbis.context.jsonld import LdContext
from urbis.context.model import check_entity_id
from urbis.context.representation import parse_projection
from urbis.context.service import QueryParams
from urbis.context.temporal import (
    Aggregation,
    TemporalAnswer,
    TemporalRequest,
    TemporalService,
    parse_aggregation,
    parse_temporal_query,
)
from urbis.context.temporal_representation import TemporalFormat, TemporalRenderer, TemporalRenderOptions
from urbis.core.errors import BadRequestData, InvalidRequest, NotFound
from urbis.web.deps import require_read
from urbis.web.ngsild.batch import query_from_body
from urbis.web.ngsild.common import (
    PREFIX,
    body_context,
    both_slashes,
    call,
    check_params,
    content_type,
    negotiate,
    ngsild_response,
    page_links,
    paging,
    read_json,
    resolver_of,
    strip_context,
    tenant_of,
)
from urbis.web.ngsild.entities import SELECTION_PARAMS, get_context, query_of

router = APIRouter(prefix=PREFIX, tags=["NGSI-LD temporal API"])

TEMPORAL_PARAMS = {"timerel", "timeAt", "endTimeAt", "timeproperty", "lastN", "aggrMethods", "aggrPeriodDuration"}
#: Parameters of retrieving one entity's temporal evolution.
RETRIEVE_PARAMS = TEMPORAL_PARAMS | {
    "attrs",
    "options",
    "format",
    "lang",
    "pick",
    "omit",
    "datasetId",
    "type",
    "local",
    "via",
}
#: Parameters of querying the temporal evolution of entities.
QUERY_PARAMS = RETRIEVE_PARAMS | SELECTION_PARAMS
#: Parameters of ``POST /temporal/entityOperations/query`` (the query itself is in the body).
BODY_QUERY_PARAMS = {
    "limit",
    "offset",
    "count",
    "options",
    "format",
    "lang",
    "pick",
    "omit",
    "attrs",
    "datasetId",
    "local",
}
OPTIONS = {"temporalValues", "aggregatedValues", "sysAttrs", "normalized", "concise", "keyValues", "simplified"}
_FORMATS: dict[str, TemporalFormat] = {
    "normalized": "normalized",
    "concise": "concise",
    "temporalValues": "temporalValues",
    "simplified": "temporalValues",  # the simplified temporal representation is temporalValues
    "keyValues": "temporalValues",
    "aggregatedValues": "aggregatedValues",
}


def temporal_of(request: Request) -> TemporalService:
    """The app's temporal service."""
    service: TemporalService = request.app.state.temporal
    return service


def _names(raw: str | None, what: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not names:
        raise BadRequestData(f"{what} names nothing")
    return names


def _representation(params: StarletteParams, options: set[str]) -> TemporalFormat | None:
    """The representation asked for by ``options`` and ``format`` (None: not chosen)."""
    chosen = {_FORMATS[o] for o in options if o in _FORMATS}
    fmt = params.get("format")
    if fmt is not None:
        if fmt not in _FORMATS:
            raise InvalidRequest(
                f"unknown format {fmt!r:.40}; use normalized, concise, temporalValues or aggregatedValues"
            )
        chosen = {_FORMATS[fmt]}
    if len(chosen) > 1:
        raise BadRequestData(f"conflicting representations requested: {', '.join(sorted(chosen))}")
    return next(iter(chosen), None)


def _render_options(
    params: StarletteParams, options: set[str], fmt: TemporalFormat, lang: str | None
) -> TemporalRenderOptions:
    pick = _projection(params.get("pick"), "pick")
    omit = _projection(params.get("omit"), "omit")
    if pick is not None and omit is not None:
        raise BadRequestData("pick and omit cannot be used together")
    if params.get("attrs") is not None and (pick is not None or omit is not None):
        raise BadRequestData("attrs cannot be used together with pick or omit")
    return TemporalRenderOptions(
        format=fmt,
        sys_attrs="sysAttrs" in options,
        lang=tuple(part.strip() for part in lang.split(",")) if lang else None,
        pick=pick,
        omit=omit,
    )


def _projection(raw: str | None, name: str) -> frozenset[str] | None:
    """Top-level names of ``pick``/``omit`` (temporal representations have no joins)."""
    if raw is None:
        return None
    try:
        tree = parse_projection(raw)
    except ValueError as exc:
        raise BadRequestData(f"invalid {name} {raw!r:.80}: {exc}") from None
    if any(sub is not None for sub in tree.values()):
        raise BadRequestData(f"{name} cannot project linked entities in a temporal representation")
    return frozenset(tree)


def _aggregation(fmt: TemporalFormat | None, methods: Any, duration: Any) -> tuple[TemporalFormat, Aggregation | None]:
    """The representation and aggregation: aggrMethods alone also asks for aggregated values."""
    if fmt == "aggregatedValues" or (fmt is None and methods is not None):
        return "aggregatedValues", parse_aggregation(methods, duration)
    if duration is not None and methods is None and fmt is None:
        raise BadRequestData("aggrPeriodDuration needs aggrMethods and options=aggregatedValues")
    return fmt or "normalized", None


def _request(
    ctx: LdContext,
    params: StarletteParams,
    temporal_members: dict[str, Any],
    aggr_methods: Any,
    aggr_duration: Any,
    body_attrs: tuple[str, ...] | None = None,
    lang: str | None = None,
) -> tuple[TemporalRequest, TemporalRenderOptions]:
    """The service request and the rendering options of one temporal request."""
    options = parse_options_from(params)
    fmt, aggregation = _aggregation(_representation(params, options), aggr_methods, aggr_duration)
    temporal = parse_temporal_query(**temporal_members)
    attrs = _names(params.get("attrs"), "attrs") or body_attrs
    dataset_ids = _names(params.get("datasetId"), "datasetId")
    request = TemporalRequest(
        temporal=temporal,
        attrs=frozenset(ctx.expand(a) for a in attrs) if attrs else None,
        dataset_ids=frozenset(dataset_ids) if dataset_ids else None,
        aggregation=aggregation,
    )
    return request, _render_options(params, options, fmt, lang if lang is not None else params.get("lang"))


def parse_options_from(params: StarletteParams) -> set[str]:
    """``options`` as a set; unknown options are an invalid request."""
    raw = params.get("options")
    if raw is None:
        return set()
    options = {o.strip() for o in raw.split(",") if o.strip()}
    unknown = options - OPTIONS
    if unknown:
        raise InvalidRequest(f"unknown option(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(OPTIONS))}")
    return options


def _query_members(params: StarletteParams) -> dict[str, Any]:
    return {
        "timerel": params.get("timerel"),
        "time_at": params.get("timeAt"),
        "end_time_at": params.get("endTimeAt"),
        "timeproperty": params.get("timeproperty"),
        "last_n": params.get("lastN"),
    }


def _response(
    answer: TemporalAnswer,
    renderer: TemporalRenderer,
    ctx: LdContext,
    media: str,
    *,
    single: bool,
    headers: dict[str, str] | None = None,
) -> Response:
    out_headers = dict(headers or {})
    status = 200
    if answer.content_range is not None:
        status = 206
        out_headers["Content-Range"] = answer.content_range.header()
    data: Any = renderer.entity(answer.entities[0]) if single else [renderer.entity(item) for item in answer.entities]
    return ngsild_response(data, ctx, media, status=status, headers=out_headers)


@both_slashes(router, "/temporal/entities/{entity_id}", ["GET"], summary="Retrieve the temporal evolution of an entity")
async def retrieve_temporal(request: Request, entity_id: str) -> Response:
    """The temporal evolution of one entity (clause 6.19.3.1)."""
    check_params(request, RETRIEVE_PARAMS)
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request)
    check_entity_id(entity_id)
    ctx = await call(get_context, request)
    params = request.query_params
    temporal_request, render = _request(
        ctx, params, _query_members(params), params.get("aggrMethods"), params.get("aggrPeriodDuration")
    )
    answer = await call(temporal_of(request).retrieve, tenant, entity_id, temporal_request)
    wanted_type = params.get("type")
    if wanted_type is not None and not any(
        ctx.expand(t.strip()) in answer.entities[0].entity["type"] for t in wanted_type.split(",") if t.strip()
    ):
        raise NotFound(f"entity {entity_id} is not of type {wanted_type:.100}")
    return _response(answer, TemporalRenderer(ctx.compact, render), ctx, media, single=True)


@both_slashes(router, "/temporal/entities", ["GET"], summary="Query the temporal evolution of entities")
async def query_temporal(request: Request) -> Response:
    """The temporal evolution of the entities a query selects (clause 6.18.3.2)."""
    check_params(request, QUERY_PARAMS)
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request)
    ctx = await call(get_context, request)
    params = request.query_params
    limit, offset, count = paging(request)
    temporal_request, render = _request(
        ctx, params, _query_members(params), params.get("aggrMethods"), params.get("aggrPeriodDuration")
    )
    query = query_of(request, _names(params.get("attrs"), "attrs"), limit, offset, count)
    return await _answer_query(request, tenant, query, temporal_request, render, ctx, media, limit, offset)


async def _answer_query(
    request: Request,
    tenant: str,
    query: QueryParams,
    temporal_request: TemporalRequest,
    render: TemporalRenderOptions,
    ctx: LdContext,
    media: str,
    limit: int,
    offset: int,
) -> Response:
    service = temporal_of(request)
    local = request.query_params.get("local") == "true"
    found, total = await call(service.context.query, tenant, query, ctx.expand, allow_unfiltered=local)
    more = len(found) > limit
    found = found[:limit]
    answer = await call(service.history_of, tenant, found, temporal_request)
    headers: dict[str, str] = {}
    if total is not None:
        headers["NGSILD-Results-Count"] = str(total)
    links = page_links(request, limit, offset, len(found), total if total is not None or more else offset + len(found))
    if links:
        headers["Link"] = links
    return _response(answer, TemporalRenderer(ctx.compact, render), ctx, media, single=False, headers=headers)


@both_slashes(
    router, "/temporal/entityOperations/query", ["POST"], summary="Query the temporal evolution of entities (body)"
)
async def query_temporal_body(request: Request) -> Response:
    """The temporal evolution of entities with the query in a JSON body (clause 6.24.3.1)."""
    check_params(request, BODY_QUERY_PARAMS)
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request)
    body_media = content_type(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequestData("the query must be a JSON object")
    ctx = await call(resolver_of(request).resolve, body_context(request, body_media, body))
    limit, offset, count = paging(request)
    document = strip_context(body)
    query = query_from_body(document, limit + 1 if limit else 0, offset, count)
    temporal_q = document.get("temporalQ", {})
    if not isinstance(temporal_q, dict):
        raise BadRequestData("'temporalQ' must be an object")
    aggr_params = document.get("aggrParams", {})
    if not isinstance(aggr_params, dict):
        raise BadRequestData("'aggrParams' must be an object")
    lang = document.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise BadRequestData("'lang' must be a string")
    members = {
        "timerel": temporal_q.get("timerel"),
        "time_at": temporal_q.get("timeAt"),
        "end_time_at": temporal_q.get("endTimeAt"),
        "timeproperty": temporal_q.get("timeproperty"),
        "last_n": temporal_q.get("lastN"),
    }
    methods = aggr_params.get("aggrMethods", temporal_q.get("aggrMethods"))
    duration = aggr_params.get("aggrPeriodDuration", temporal_q.get("aggrPeriodDuration"))
    temporal_request, render = _request(
        ctx, request.query_params, members, methods, duration, body_attrs=query.attrs, lang=lang
    )
    return await _answer_query(request, tenant, query, temporal_request, render, ctx, media, limit, offset)
