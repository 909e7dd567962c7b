"""What every NGSI-LD route shares: tenant, media types, @context, body, paging, responses."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from urbis.context.jsonld import ContextResolver, LdContext
from urbis.context.representation import Projection, RenderOptions, parse_projection, projection_options
from urbis.core.errors import (
    BadRequestData,
    InvalidRequest,
    NotAcceptable,
    PayloadTooLarge,
    TooManyResults,
    UnsupportedMediaType,
)
from urbis.core.settings import Settings

PREFIX = "/ngsi-ld/v1"
JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
MAX_OFFSET = 2**31 - 1
_TENANT = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")

T = TypeVar("T")


def both_slashes(router: APIRouter, path: str, methods: list[str], **kwargs: Any) -> Callable[[T], T]:
    """Register a route with and without a trailing slash (clients use both; no redirects on POST)."""

    def decorator(endpoint: T) -> T:
        router.add_api_route(path, endpoint, methods=methods, **kwargs)  # type: ignore[arg-type]
        router.add_api_route(path + "/", endpoint, methods=methods, include_in_schema=False, **kwargs)  # type: ignore[arg-type]
        return endpoint

    return decorator


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking service code in the thread pool, keeping the event loop free."""
    return await run_in_threadpool(function, *args, **kwargs)


def settings_of(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def resolver_of(request: Request) -> ContextResolver:
    """The app's JSON-LD context resolver."""
    resolver: ContextResolver = request.app.state.contexts
    return resolver


def tenant_of(request: Request) -> str:
    """The tenant named by ``NGSILD-Tenant`` (or NGSIv2's ``Fiware-Service``), else the default."""
    name = request.headers.get("ngsild-tenant") or request.headers.get("fiware-service")
    if name is None:
        return settings_of(request).default_tenant
    if not _TENANT.match(name):
        raise BadRequestData(f"tenant names are 1-64 letters, digits, '-' or '_', got {name!r:.80}")
    return name


def check_params(request: Request, allowed: Iterable[str]) -> None:
    """Unknown query parameters are an error (400 InvalidRequest), not silently ignored."""
    allowed_set = set(allowed)
    for name in request.query_params:
        if name not in allowed_set:
            raise InvalidRequest(f"unknown query parameter '{name}'")


def negotiate(request: Request, *, geo: bool = False) -> str:
    """The response media type from ``Accept``; 406 when none can be produced.

    Each offered type takes the weight of the most specific range that covers it; among the
    best-weighted ones, the order of clause 6.3.4 decides (json, ld+json, geo+json), not the
    order of the header (suite 045_02).
    """
    accept = request.headers.get("accept")
    if not accept:
        return JSON
    weights: dict[str, float] = {}
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        quality = 1.0
        for item in fields[1:]:
            if item.startswith("q="):
                try:
                    quality = float(item[2:])
                except ValueError:
                    quality = 0.0
        if media:
            weights[media] = max(weights.get(media, 0.0), quality)
    best: str | None = None
    best_quality = 0.0
    for offer in (JSON, JSON_LD, GEO_JSON) if geo else (JSON, JSON_LD):
        quality = next((weights[m] for m in (offer, "application/*", "*/*") if m in weights), 0.0)
        if quality > best_quality:
            best, best_quality = offer, quality
    if best is not None:
        return best
    raise NotAcceptable(f"cannot produce any of the accepted media types ({accept[:200]}); offered: {JSON}, {JSON_LD}")


def content_type(request: Request, *, merge_patch: bool = False) -> str:
    """The request body's media type, checked against what NGSI-LD accepts (else 415)."""
    raw = request.headers.get("content-type", "")
    media = raw.split(";")[0].strip().lower()
    allowed = {JSON, JSON_LD} | ({MERGE_PATCH} if merge_patch else set())
    if media not in allowed:
        raise UnsupportedMediaType(
            f"Content-Type {raw or '(none)'!r} is not supported here; use {' or '.join(sorted(allowed))}"
        )
    return JSON if media == MERGE_PATCH else media


async def read_body(request: Request, limit: int | None = None) -> bytes:
    """The raw request body, up to ``limit`` bytes (``max_body_bytes`` by default; 413 beyond, also chunked)."""
    limit = settings_of(request).max_body_bytes if limit is None else limit
    declared = request.headers.get("content-length")
    # isascii(): str.isdigit() also accepts digits such as "²" that int() refuses.
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request) -> Any:
    """The parsed JSON body; 413 when too large, 400 when empty or malformed."""
    body = await read_body(request)
    if not body.strip():
        raise InvalidRequest("the request body is empty; a JSON document is required")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from exc
    if _nested_deeper_than(document, MAX_JSON_DEPTH):
        raise BadRequestData(f"the request body is nested more than {MAX_JSON_DEPTH} levels deep")
    return document


#: Deepest JSON nesting a request body may have.  orjson parses up to 1024 levels but serialises only
#: about 250, and recursive code (model checks, rendering, JSON-LD) has Python's recursion limit: a deeper
#: document would be accepted, then fail with a 500 when stored or rendered.  Real NGSI-LD data (GeoJSON
#: MultiPolygons, sub-attributes, JsonProperty values) stays far below this.
MAX_JSON_DEPTH = 64


def _nested_deeper_than(document: Any, limit: int) -> bool:
    """Whether ``document`` has more than ``limit`` levels of arrays and objects (breadth-first, no recursion)."""
    level = [document]
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            if type(item) is dict:
                below.extend(child for child in item.values() if type(child) is dict or type(child) is list)
            elif type(item) is list:
                below.extend(child for child in item if type(child) is dict or type(child) is list)
        level = below
    return False


def link_context_url(request: Request) -> str | None:
    """The @context URL of a JSON-LD ``Link`` header, if any."""
    header = request.headers.get("link")
    if not header:
        return None
    for match in _LINK.finditer(header):
        url, params = match.group(1), match.group(2)
        if CONTEXT_REL in params:
            if not url:
                raise BadRequestData("the JSON-LD Link header names no URL")
            return url.strip()
    return None


def body_context(request: Request, media: str, body: Any) -> Any:
    """The @context of a request with a body, following the no-mix rules of clause 6.3.5.

    ``application/ld+json``: in the body, and no Link header.  ``application/json``:
    from the Link header only, never in the body.
    """
    link = link_context_url(request)
    items = body if isinstance(body, list) else [body]
    if media == JSON_LD:
        if link is not None:
            raise BadRequestData("a JSON-LD Link header is not allowed with Content-Type application/ld+json")
        contexts = [item.get("@context") if isinstance(item, dict) else None for item in items]
        if not items or any(c is None for c in contexts):
            raise BadRequestData("with Content-Type application/ld+json the body must carry an @context")
        return contexts[0]
    for item in items:
        if isinstance(item, dict) and "@context" in item:
            raise BadRequestData("an @context in the body needs Content-Type application/ld+json")
    return link


def strip_context(item: Any) -> Any:
    """The item without its ``@context`` member."""
    if isinstance(item, dict) and "@context" in item:
        return {k: v for k, v in item.items() if k != "@context"}
    return item


def ngsild_response(
    data: Any,
    ctx: LdContext,
    media: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    geo_context_in_body: bool = True,
) -> Response:
    """A JSON, JSON-LD or GeoJSON response with the @context where NGSI-LD puts it.

    ``geo_context_in_body=False`` (``Prefer: body=json``, clause 6.3.6) leaves the @context out of
    a GeoJSON body; the Link header carries it.
    """
    out_headers = dict(headers or {})
    if media == JSON_LD:
        if isinstance(data, list):
            data = [{"@context": ctx.source, **item} if isinstance(item, dict) else item for item in data]
        elif isinstance(data, dict):
            data = {"@context": ctx.source, **data}
    else:
        if media == GEO_JSON and isinstance(data, dict) and geo_context_in_body:
            # A GeoJSON Feature or FeatureCollection carries its @context as a top-level member
            # (clause 6.3.15; the suite's 018_05/019_05 expectations); the Link header stays as well.
            data = {**data, "@context": ctx.source}
        context_link = f'<{ctx.link_url}>; rel="{CONTEXT_REL}"; type="{JSON_LD}"'
        out_headers["Link"] = f"{out_headers['Link']}, {context_link}" if "Link" in out_headers else context_link
    return Response(content=orjson.dumps(data), status_code=status, media_type=media, headers=out_headers)


def geo_context_in_body(request: Request) -> bool:
    """False when ``Prefer: body=json`` asks for a GeoJSON body without @context (clause 6.3.6)."""
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    return "body=json" not in prefer.split(",")


def no_content(headers: dict[str, str] | None = None) -> Response:
    """204 with no body."""
    return Response(status_code=204, headers=headers)


def parse_options(
    request: Request, allowed: Iterable[str], *, invalid: type[BadRequestData | InvalidRequest] = BadRequestData
) -> set[str]:
    """The ``options`` parameter as a set, checked against ``allowed`` (else an ``invalid`` error)."""
    raw = request.query_params.get("options")
    if raw is None:
        return set()
    options = {o.strip() for o in raw.split(",") if o.strip()}
    allowed_set = set(allowed)
    unknown = options - allowed_set
    if unknown:
        raise invalid(f"unknown option(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed_set))}")
    return options


def _names(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not names:
        raise BadRequestData("an empty list of names was given")
    return names


def render_options(request: Request, ctx: LdContext, options: set[str]) -> RenderOptions:
    """Representation options from ``options``, ``format``, ``attrs``, ``pick``, ``omit``, ``lang``."""
    params = request.query_params
    fmt = params.get("format")
    chosen = {"keyValues", "simplified", "concise", "normalized"} & options
    if fmt is not None:
        if fmt not in ("keyValues", "simplified", "concise", "normalized"):
            # An unknown representation is an invalid request (suite 018_16), as unknown options are.
            raise InvalidRequest(f"unknown format {fmt!r}; use normalized, concise or keyValues")
        chosen = {fmt}
    if len(chosen) > 1:
        raise BadRequestData(f"conflicting representations requested: {', '.join(sorted(chosen))}")
    representation = next(iter(chosen), "normalized")
    if representation == "simplified":
        representation = "keyValues"
    attrs = _names(params.get("attrs"))
    pick = _projection(params.get("pick"), "pick")
    omit = _projection(params.get("omit"), "omit")
    if pick is not None and omit is not None:
        raise BadRequestData("pick and omit cannot be used together")
    if attrs is not None and (pick is not None or omit is not None):
        # Suite 019_18_02/03: attrs is the older projection; it does not combine with pick or omit.
        raise BadRequestData("attrs cannot be used together with pick or omit")
    lang = params.get("lang")
    dataset = _names(params.get("datasetId"))
    rendered = RenderOptions(
        format=representation,  # type: ignore[arg-type]
        sys_attrs="sysAttrs" in options,
        attrs=frozenset(ctx.expand(a) for a in attrs) if attrs else None,
        lang=tuple(part.strip() for part in lang.split(",")) if lang else None,
        dataset_ids=frozenset(dataset) if dataset else None,
    )
    if pick is not None:
        return projection_options(rendered, pick, "pick")
    if omit is not None:
        return projection_options(rendered, omit, "omit")
    return rendered


def _projection(raw: str | None, name: str) -> Projection | None:
    """``pick`` or ``omit`` parsed (clause 4.21); a malformed one is a 400 (suite 019_18)."""
    if raw is None:
        return None
    try:
        return parse_projection(raw)
    except ValueError as exc:
        raise BadRequestData(f"invalid {name} {raw!r:.80}: {exc}") from None


def paging(request: Request) -> tuple[int, int, bool]:
    """``limit``, ``offset`` and ``count`` checked against the configured bounds."""
    settings = settings_of(request)
    params = request.query_params

    def integer(name: str, default: int) -> int:
        raw = params.get(name)
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit()):  # "²".isdigit() is true, but int("²") fails
            raise BadRequestData(f"{name} must be a non-negative integer, got {raw!r:.40}")
        return int(raw)

    limit = integer("limit", settings.page_default)
    offset = integer("offset", 0)
    if offset > MAX_OFFSET:  # beyond what a database integer holds: refuse rather than overflow
        raise BadRequestData(f"offset may be at most {MAX_OFFSET}, got {offset}")
    if limit > settings.page_max:
        raise TooManyResults(f"limit {limit} exceeds the maximum page size of {settings.page_max}")
    count_raw = params.get("count", "false")
    if count_raw not in ("true", "false"):
        raise BadRequestData(f"count must be true or false, got {count_raw!r:.40}")
    return limit, offset, count_raw == "true"


def page_links(request: Request, limit: int, offset: int, returned: int, total: int | None) -> str | None:
    """``Link`` header with next/prev pages (clause 6.3.10)."""
    links = []
    params = dict(request.query_params)

    def url(new_offset: int) -> str:
        params["offset"] = str(new_offset)
        params["limit"] = str(limit)
        return f"{request.url.path}?{urlencode(params)}"

    if offset > 0 and limit > 0:
        links.append(f'<{url(max(offset - limit, 0))}>; rel="prev"; type="{JSON_LD}"')
    more = returned == limit and limit > 0 and (total is None or offset + limit < total)
    if more:
        links.append(f'<{url(offset + limit)}>; rel="next"; type="{JSON_LD}"')
    return ", ".join(links) or None
