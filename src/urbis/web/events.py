"""The live event stream for web apps: ``GET /api/v1/events`` as server-sent events.

Each change of a matching entity arrives as ``event: entity`` whose data is JSON::

    {"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", "operation": "update",
     "attributes": ["powerState"], "entity": {... the entity, keyValues by default ...}}

(``entity`` is null for a deletion).  Filters: ``type`` (comma list), ``q``, ``attrs`` (only changes
touching these attributes, and only these attributes shown), an area as in NGSI-LD queries
(``georel``, ``geometry``, ``coordinates``, ``geoproperty``) or ``bbox=minLon,minLat,maxLon,maxLat``.
``format`` is ``keyValues`` (default), ``concise`` or ``normalized``.  Browsers' ``EventSource``
cannot send headers, so the tenant, the JSON-LD context and the access token may also be given as
``tenant``, ``context`` and ``access_token`` parameters.  A comment line (``: ping``) keeps idle
connections open every ``events_heartbeat_seconds``; a reader too slow for the rate of changes
loses the oldest ones and receives ``event: dropped`` with their number.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from urbis.context.jsonld import LdContext
from urbis.context.model import Entity
from urbis.context.query.geo import GeoQuery, entity_shapes, parse_geoquery
from urbis.context.query.qlang import compile_q, parse_q
from urbis.context.representation import Renderer, RenderOptions
from urbis.context.service import EntityChanged
from urbis.context.subscriptions.live import LiveEvents
from urbis.context.subscriptions.model import describe_change
from urbis.core.auth.tokens import actor_from_authorization
from urbis.core.errors import BadRequestData, InvalidRequest, UrbisError
from urbis.web.deps import require_read
from urbis.web.ngsild.common import call, check_params, link_context_url, resolver_of, tenant_of

router = APIRouter(prefix="/api/v1", tags=["live events"])

PARAMS = {
    "type",
    "q",
    "attrs",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "bbox",
    "format",
    "lang",
    "tenant",
    "context",
    "access_token",
}
_TENANT = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_FORMATS = {"keyValues": "keyValues", "simplified": "keyValues", "concise": "concise", "normalized": "normalized"}


class _Filter:
    """The per-connection filter and renderer (evaluated in the connection's task, not the writer's)."""

    def __init__(
        self,
        ctx: LdContext,
        *,
        q: Callable[[Entity], bool] | None,
        attrs: frozenset[str] | None,
        geo: tuple[GeoQuery, str] | None,
        renderer: Renderer,
    ) -> None:
        self.ctx = ctx
        self.q = q
        self.attrs = attrs
        self.geo = geo
        self.renderer = renderer

    def payload(self, event: EntityChanged) -> dict[str, Any] | None:
        """The event's data, or None when the filters reject it."""
        entity = event.current if event.current is not None else event.previous
        if entity is None:
            return None
        change = describe_change(event.entity_id, event.operation, event.current, event.previous, event.attributes)
        changed = change.changed
        if self.attrs is not None and self.attrs.isdisjoint(changed):
            return None
        if self.q is not None and not self.q(entity):
            return None
        if self.geo is not None:
            query, iri = self.geo
            if not any(query.matches(shape) for shape in entity_shapes(entity, iri)):
                return None
        compact = self.ctx.compact
        types = [compact(t) for t in entity.get("type", [])]
        shown = sorted(compact(name) for name in changed if self.attrs is None or name in self.attrs)
        return {
            "id": event.entity_id,
            "type": types[0] if len(types) == 1 else types,
            "operation": event.operation,
            "attributes": shown,
            "entity": self.renderer.entity(event.current) if event.current is not None else None,
        }


def _bbox(raw: str) -> GeoQuery:
    try:
        values = [float(part) for part in raw.split(",")]
    except ValueError:
        raise BadRequestData(f"bbox must be minLon,minLat,maxLon,maxLat in degrees, got {raw!r:.80}") from None
    if len(values) != 4:
        raise BadRequestData(f"bbox needs four numbers (minLon,minLat,maxLon,maxLat), got {len(values)}")
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise BadRequestData("bbox must have minLon < maxLon within [-180, 180] and minLat < maxLat within [-90, 90]")
    ring = [[min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat], [min_lon, max_lat], [min_lon, min_lat]]
    query = parse_geoquery("intersects", "Polygon", json.dumps([ring]))
    assert query is not None
    return query


def _build_filter(request: Request, ctx: LdContext) -> tuple[frozenset[str] | None, _Filter]:
    params = request.query_params
    types = None
    if params.get("type") is not None:
        names = [t.strip() for t in params["type"].split(",") if t.strip()]
        if not names:
            raise BadRequestData("type must name at least one entity type")
        types = frozenset(ctx.expand(name) for name in names)
    q = compile_q(parse_q(params["q"]), ctx.expand) if params.get("q") is not None else None
    attrs = None
    if params.get("attrs") is not None:
        names = [a.strip() for a in params["attrs"].split(",") if a.strip()]
        if not names:
            raise BadRequestData("attrs must name at least one attribute")
        attrs = frozenset(ctx.expand(name) for name in names)
    geo_query = parse_geoquery(
        params.get("georel"), params.get("geometry"), params.get("coordinates"), params.get("geoproperty")
    )
    if params.get("bbox") is not None:
        if geo_query is not None:
            raise BadRequestData("give either bbox or georel/geometry/coordinates, not both")
        geo_query = _bbox(params["bbox"])
        if params.get("geoproperty") is not None:
            geo_query = GeoQuery(
                geo_query.georel, geo_query.geometry, geoproperty=params["geoproperty"], geojson=geo_query.geojson
            )
    geo = (geo_query, ctx.expand(geo_query.geoproperty)) if geo_query is not None else None
    fmt = params.get("format", "keyValues")
    if fmt not in _FORMATS:
        raise InvalidRequest(f"unknown format {fmt!r:.40}; use keyValues, concise or normalized")
    lang = params.get("lang")
    options = RenderOptions(
        format=_FORMATS[fmt],  # type: ignore[arg-type]
        attrs=attrs,
        lang=tuple(part.strip() for part in lang.split(",")) if lang else None,
    )
    return types, _Filter(ctx, q=q, attrs=attrs, geo=geo, renderer=Renderer(ctx.compact, options))


@router.get("/events", summary="Live entity changes (server-sent events)", response_class=EventSourceResponse)
async def events(request: Request) -> EventSourceResponse:
    """Stream the tenant's entity changes as they happen."""
    check_params(request, PARAMS)
    params = request.query_params
    tenant = params.get("tenant")
    if tenant is None:
        tenant = tenant_of(request)
    elif not _TENANT.match(tenant):
        raise BadRequestData(f"tenant names are 1-64 letters, digits, '-' or '_', got {tenant!r:.80}")
    token = params.get("access_token")
    if token is not None:
        # EventSource cannot send an Authorization header; the token names the caller instead.
        request.state.actor = actor_from_authorization(f"Bearer {token}", request.app.state.settings)
    await require_read(request, tenant)
    context = params.get("context") or link_context_url(request)
    ctx = await call(resolver_of(request).resolve, context)
    try:
        types, event_filter = _build_filter(request, ctx)
    except UrbisError as exc:
        if exc.status == 400 and not isinstance(exc, BadRequestData | InvalidRequest):
            raise BadRequestData(exc.detail) from None
        raise
    hub: LiveEvents = request.app.state.live_events
    listener = hub.listen(tenant, types)
    heartbeat = float(request.app.state.settings.events_heartbeat_seconds)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        sequence = 0
        try:
            while True:
                batch, dropped = await listener.next_batch()
                if dropped:
                    yield ServerSentEvent(data=orjson.dumps({"dropped": dropped}).decode(), event="dropped")
                for change in batch:
                    try:
                        data = event_filter.payload(change)
                    except Exception:  # noqa: BLE001 - one odd entity must not end the stream
                        continue
                    if data is None:
                        continue
                    sequence += 1
                    yield ServerSentEvent(data=orjson.dumps(data).decode(), event="entity", id=str(sequence))
        finally:
            hub.close(listener)

    return EventSourceResponse(
        stream(),
        ping=heartbeat,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
