"""The city map: a Leaflet page with switchable layers, its JSON twin, and the detail of a clicked object."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from urbis.core.errors import BadRequestData, NotFound
from urbis.dashboard.mapdata import CHOROPLETH_KPIS, LAYERS, MapService, ObjectDetail
from urbis.web.params import json_response
from urbis.web.ui.common import ViewerDep, render
from urbis.web.ui.templating import Viewer

router = APIRouter(include_in_schema=False)

#: The longest object id the detail accepts (NGSI-LD ids are URIs; this is ample).
MAX_ID_LENGTH = 512


def map_service(request: Request) -> MapService:
    """The app's map read model."""
    service: MapService = request.app.state.city_map
    return service


def _object_id(request: Request, name: str = "id") -> str:
    value = (request.query_params.get(name) or "").strip()
    if not value:
        raise BadRequestData(f"name the object with '{name}' (its entity id)")
    if len(value) > MAX_ID_LENGTH:
        raise BadRequestData(f"'{name}' is longer than {MAX_ID_LENGTH} characters")
    return value


async def _detail(request: Request, viewer: Viewer, entity_id: str) -> ObjectDetail:
    return await run_in_threadpool(map_service(request).object_detail, viewer.tenant, entity_id)


@router.get("/dashboard/map")
async def map_page(request: Request, viewer: ViewerDep) -> Response:
    """The map; ``?focus=<entity id>`` opens that object's detail beside it."""
    focus = (request.query_params.get("focus") or "").strip()[:MAX_ID_LENGTH] or None
    detail = missing = None
    if focus is not None:
        try:
            detail = await _detail(request, viewer, focus)
        except NotFound:
            # A link to an object removed since (an old alarm's source) still shows the map.
            missing = focus
    context = {
        "layers": LAYERS,
        "kpis": CHOROPLETH_KPIS,
        "focus": focus,
        "detail": detail,
        "missing": missing,
        "done": request.query_params.get("done"),
    }
    return render(request, "map.html", viewer, context)


def _layers(request: Request) -> list[str]:
    raw = request.query_params.get("layers")
    if raw is None:
        return list(LAYERS)
    chosen = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in LAYERS]
    if unknown or not chosen:
        raise BadRequestData(f"'layers' lists some of {', '.join(LAYERS)}, separated by commas")
    return chosen


@router.get("/dashboard/map.json")
async def map_json(request: Request, viewer: ViewerDep) -> Response:
    """The map's layers as GeoJSON (the page's data and its JSON twin); ``?layers=a,b`` for some of them."""
    layers = _layers(request)
    city_map = await run_in_threadpool(
        partial(map_service(request).city_map, streets="streets" in layers), viewer.tenant
    )
    return json_response(city_map.to_json(layers))


@router.get("/dashboard/map/detail")
async def detail_fragment(request: Request, viewer: ViewerDep) -> Response:
    """The side panel of one object: what it is, its values now, its alarms and its last 24 hours."""
    detail = await _detail(request, viewer, _object_id(request))
    return render(request, "_map_detail.html", viewer, {"detail": detail})


@router.get("/dashboard/map/detail.json")
async def detail_json(request: Request, viewer: ViewerDep) -> Response:
    """The detail's JSON twin."""
    detail = await _detail(request, viewer, _object_id(request))
    return json_response(detail.to_json())
