"""The marketplace's catalogue over HTTP: DCAT-AP 3 at a stable URL, and the datasets API for officers and users.

- ``GET /marketplace/catalog`` (Turtle or JSON-LD by ``Accept``), ``/marketplace/catalog.ttl`` and
  ``/marketplace/catalog.jsonld``: the published catalogue, for harvesters.
- ``GET /api/v1/marketplace/datasets`` and ``/{id}``: the published datasets (officers add
  ``?all=true`` to see drafts too); ``PUT /{id}``, ``POST /{id}/publish``, ``POST /{id}/withdraw`` and
  ``DELETE /{id}`` for officers (operators and admins of the city).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.auth.roles import can_manage_catalog, require
from urbis.core.auth.tokens import Actor
from urbis.core.errors import BadRequestData
from urbis.marketplace.catalog import (
    Dataset,
    Format,
    Publisher,
    Source,
    View,
    data_url,
    dataset_page,
    to_jsonld,
    to_turtle,
)
from urbis.marketplace.service import CatalogService
from urbis.marketplace.store import DatasetFilter, StoredDataset
from urbis.web.deps import current_actor
from urbis.web.ngsild.common import call, check_params, settings_of, tenant_of
from urbis.web.params import json_object, json_response, page_limit, page_offset, text_param

router = APIRouter(tags=["marketplace"])

TURTLE = "text/turtle"
JSON_LD = "application/ld+json"
_FIELDS = {
    "id",
    "title",
    "description",
    "view",
    "licence",
    "keywords",
    "themes",
    "frequency",
    "spatial",
    "contactEmail",
    "formats",
}


def _catalog(request: Request) -> CatalogService:
    service: CatalogService = request.app.state.catalog
    return service


def _officer(request: Request) -> tuple[str, Actor]:
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_manage_catalog(actor, tenant), actor, f"manage the data catalogue of tenant '{tenant}'")
    return tenant, actor


def _base_url(request: Request) -> str:
    return settings_of(request).effective_base_url


def dataset_json(stored: StoredDataset, base_url: str) -> dict[str, Any]:
    """A dataset as the API shows it."""
    dataset = stored.dataset
    view = dataset.view
    return {
        "id": dataset.id,
        "title": dataset.title,
        "description": dataset.description,
        "view": {
            "source": view.source.value,
            "entityTypes": list(view.entity_types),
            "attributes": list(view.attributes),
            "area": view.area,
            "since": view.since,
            "until": view.until,
        },
        "licence": dataset.licence,
        "open": dataset.open,
        "keywords": list(dataset.keywords),
        "themes": list(dataset.themes),
        "frequency": dataset.frequency,
        "spatial": dataset.spatial,
        "contactEmail": dataset.contact_email,
        "formats": [f.value for f in dataset.formats],
        "published": stored.published,
        "issued": dataset.issued,
        "modified": dataset.modified,
        "page": dataset_page(base_url, dataset.id),
        "data": {f.value: data_url(base_url, dataset.id, f) for f in dataset.formats},
    }


def _strings(body: dict[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequestData(f"'{name}' must be a list of strings")
    return tuple(value)


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequestData(f"'{name}' is required")
        return None
    if not isinstance(value, str):
        raise BadRequestData(f"'{name}' must be a string")
    return value


def _instant(body: dict[str, Any], name: str) -> datetime | None:
    raw = _text(body, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"'{name}' must be an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise BadRequestData(f"'{name}' must carry a time zone")
    return moment


def _enum(kind: type[Source] | type[Format], value: str, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(item.value for item in kind)
        raise BadRequestData(f"{name} {value!r:.60} is unknown; known: {known}") from None


def dataset_from_json(dataset_id: str, body: dict[str, Any]) -> Dataset:
    """A dataset from the API's JSON shape (its id from the URL)."""
    unknown = set(body) - _FIELDS
    if unknown:
        raise BadRequestData(f"unknown member {sorted(unknown)[0]!r:.60}; known: {', '.join(sorted(_FIELDS))}")
    if body.get("id", dataset_id) != dataset_id:
        raise BadRequestData("the body's 'id' differs from the URL's")
    raw_view = body.get("view")
    if not isinstance(raw_view, dict):
        raise BadRequestData("'view' is required: an object with 'source' (and, over the context, 'entityTypes')")
    view = View(
        source=_enum(Source, _text(raw_view, "source", required=True) or "", "source"),
        entity_types=_strings(raw_view, "entityTypes"),
        attributes=_strings(raw_view, "attributes"),
        area=_text(raw_view, "area"),
        since=_instant(raw_view, "since"),
        until=_instant(raw_view, "until"),
    )
    formats = tuple(_enum(Format, value, "format") for value in _strings(body, "formats")) or (Format.JSON, Format.CSV)
    return Dataset(
        id=dataset_id,
        title=_text(body, "title", required=True) or "",
        description=_text(body, "description", required=True) or "",
        view=view,
        licence=_text(body, "licence") or "restricted",
        keywords=_strings(body, "keywords"),
        themes=_strings(body, "themes"),
        frequency=_text(body, "frequency") or "hourly",
        spatial=_text(body, "spatial"),
        contact_email=_text(body, "contactEmail"),
        formats=formats,
    )


# -- DCAT-AP ---------------------------------------------------------------------------------


def _graph_text(request: Request, media: str) -> Response:
    settings = settings_of(request)
    publisher = Publisher(
        settings.city_name,
        settings.city_website or settings.effective_base_url,
        settings.marketplace_contact_email or None,
    )
    graph = _catalog(request).catalog(
        tenant_of(request),
        settings.effective_base_url,
        publisher,
        title=f"{settings.city_name}: city data",
        description=f"The datasets {settings.city_name} shares, each with the policy it is shared under.",
    )
    text = to_turtle(graph) if media == TURTLE else to_jsonld(graph)
    return Response(text, media_type=f"{media}; charset=utf-8", headers={"Cache-Control": "public, max-age=300"})


@router.get("/marketplace/catalog", summary="The city's data catalogue as DCAT-AP 3 (Turtle or JSON-LD)")
async def catalog(request: Request) -> Response:
    """``Accept: application/ld+json`` for JSON-LD; Turtle otherwise."""
    accept = request.headers.get("accept", "")
    media = JSON_LD if ("ld+json" in accept or "application/json" in accept) and TURTLE not in accept else TURTLE
    return await call(_graph_text, request, media)


@router.get("/marketplace/catalog.ttl", summary="The city's data catalogue as DCAT-AP 3 in Turtle")
async def catalog_turtle(request: Request) -> Response:
    """The published datasets, their distributions and licences."""
    return await call(_graph_text, request, TURTLE)


@router.get("/marketplace/catalog.jsonld", summary="The city's data catalogue as DCAT-AP 3 in JSON-LD")
async def catalog_jsonld(request: Request) -> Response:
    """The published datasets, their distributions and licences."""
    return await call(_graph_text, request, JSON_LD)


# -- datasets --------------------------------------------------------------------------------


@router.get("/api/v1/marketplace/datasets", summary="The catalogue's datasets")
async def list_datasets(request: Request) -> Response:
    """Published datasets (``q``, ``theme``, ``licence``, paging); officers see drafts with ``all=true``."""
    check_params(request, {"q", "theme", "licence", "all", "limit", "offset"})
    tenant = tenant_of(request)
    every = text_param(request, "all") == "true"
    if every:
        _officer(request)
    wanted = DatasetFilter(
        published_only=not every,
        text=text_param(request, "q"),
        theme=text_param(request, "theme"),
        licence=text_param(request, "licence"),
        limit=page_limit(request),
        offset=page_offset(request),
    )
    found, total = await call(_catalog(request).find, tenant, wanted)
    base = _base_url(request)
    return json_response({"datasets": [dataset_json(item, base) for item in found], "total": total})


@router.get("/api/v1/marketplace/datasets/{dataset_id}", summary="One dataset")
async def get_dataset(request: Request, dataset_id: str) -> Response:
    """A published dataset (a draft only for officers)."""
    tenant = tenant_of(request)
    actor = current_actor(request)
    officer = can_manage_catalog(actor, tenant)
    found = await call(_catalog(request).get, tenant, dataset_id, officer=officer)
    return json_response(dataset_json(found, _base_url(request)))


@router.put("/api/v1/marketplace/datasets/{dataset_id}", summary="Define or redefine a dataset (officers)")
async def put_dataset(request: Request, dataset_id: str) -> Response:
    """Body: the dataset as GET shows it (``view``, ``title``, ``description``, ``licence`` ...); 201 when new."""
    tenant, actor = _officer(request)
    dataset = dataset_from_json(dataset_id, await json_object(request))
    stored, created = await call(_catalog(request).save, tenant, dataset, by=actor.subject)
    return json_response(dataset_json(stored, _base_url(request)), 201 if created else 200)


@router.post("/api/v1/marketplace/datasets/{dataset_id}/publish", summary="Publish a dataset (officers)")
async def publish_dataset(request: Request, dataset_id: str) -> Response:
    """The dataset enters the public catalogue (and DCAT-AP)."""
    tenant, actor = _officer(request)
    stored = await call(_catalog(request).publish, tenant, dataset_id, by=actor.subject)
    return json_response(dataset_json(stored, _base_url(request)))


@router.post("/api/v1/marketplace/datasets/{dataset_id}/withdraw", summary="Withdraw a dataset (officers)")
async def withdraw_dataset(request: Request, dataset_id: str) -> Response:
    """The dataset leaves the public catalogue; its definition stays."""
    tenant, actor = _officer(request)
    stored = await call(_catalog(request).publish, tenant, dataset_id, by=actor.subject, published=False)
    return json_response(dataset_json(stored, _base_url(request)))


@router.delete("/api/v1/marketplace/datasets/{dataset_id}", status_code=204, summary="Delete a dataset (officers)")
async def delete_dataset(request: Request, dataset_id: str) -> Response:
    """The definition goes for good (the log keeps that it existed)."""
    tenant, actor = _officer(request)
    await call(_catalog(request).delete, tenant, dataset_id, by=actor.subject)
    return Response(status_code=204)
