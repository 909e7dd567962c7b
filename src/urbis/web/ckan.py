"""A CKAN-compatible Action API (read subset) at ``/api/3/action/`` (and ``/api/action/``), for CKAN clients and harvesters.

Every answer has CKAN's envelope, ``{"help", "success", "result"}``; errors carry
``{"success": false, "error": {"__type", "message"}}`` with CKAN's statuses (404 not found, 409
validation, 400 unknown action), which ``ckanapi`` turns into its exceptions.  Parameters come from
the query string, a JSON body or a form, as CKAN accepts them.  Only published datasets are shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.errors import BadRequestData, NotFound, UrbisError
from urbis.marketplace.catalog import Format
from urbis.marketplace.ckan import (
    Organisation,
    organisation_json,
    organisation_of,
    package_json,
    package_search,
    resource_json,
)
from urbis.marketplace.service import CatalogService
from urbis.marketplace.store import DatasetFilter, StoredDataset
from urbis.web.ngsild.common import call, read_body, settings_of, tenant_of

router = APIRouter(tags=["ckan"])

ACTIONS = (
    "package_list",
    "package_show",
    "package_search",
    "organization_list",
    "organization_show",
    "resource_show",
    "status_show",
)


def _envelope(request: Request, action: str, result: Any, status: int = 200) -> Response:
    base = settings_of(request).effective_base_url
    body = {"help": f"{base}/api/3/action/help_show?name={action}", "success": True, "result": result}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(request: Request, action: str, status: int, kind: str, message: str) -> Response:
    base = settings_of(request).effective_base_url
    body = {
        "help": f"{base}/api/3/action/help_show?name={action}",
        "success": False,
        "error": {"__type": kind, "message": message},
    }
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        body = await read_body(request)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if body.strip():
            if media == "application/json" or body.lstrip().startswith(b"{"):
                try:
                    document = orjson.loads(body)
                except orjson.JSONDecodeError:
                    raise BadRequestData("the body is not valid JSON") from None
                if not isinstance(document, dict):
                    raise BadRequestData("the body must be a JSON object")
                params.update(document)
            else:
                from urllib.parse import parse_qsl

                params.update(parse_qsl(body.decode("utf-8", errors="replace")))
    return params


def _int(params: Mapping[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequestData(f"'{name}' must be a whole number") from None


def _facet_fields(params: Mapping[str, Any]) -> list[str]:
    raw = params.get("facet.field")
    if raw in (None, ""):
        return []
    if isinstance(raw, list):
        return [str(item) for item in raw]
    try:
        parsed = orjson.loads(str(raw))
    except orjson.JSONDecodeError:
        return [str(raw)]
    return [str(item) for item in parsed] if isinstance(parsed, list) else [str(parsed)]


def _published(service: CatalogService, tenant: str) -> list[StoredDataset]:
    found: list[StoredDataset] = []
    while True:
        page, total = service.find(tenant, DatasetFilter(limit=500, offset=len(found)))
        found.extend(page)
        if not page or len(found) >= total:
            return found


def _organisation(request: Request) -> Organisation:
    settings = settings_of(request)
    return organisation_of(settings.city_name, settings.city_website or settings.effective_base_url)


def _run(request: Request, tenant: str, action: str, params: Mapping[str, Any]) -> Any:
    service: CatalogService = request.app.state.catalog
    base = settings_of(request).effective_base_url
    organisation = _organisation(request)
    if action == "status_show":
        return {"ckan_version": "2.10.0", "site_title": organisation.title, "site_url": base, "extensions": ["urbis"]}
    if action == "package_show":
        wanted = str(params.get("id") or params.get("name") or "")
        return package_json(service.get(tenant, wanted), base, organisation)
    if action == "resource_show":
        wanted = str(params.get("id") or "")
        dataset_id, _, fmt = wanted.rpartition(".")
        try:
            dataset = service.get(tenant, dataset_id).dataset
        except NotFound:
            raise NotFound(f"there is no resource {wanted!r:.80}") from None
        for position, offered in enumerate(dataset.formats):
            if offered.value == fmt:
                return resource_json(dataset, Format(offered), base, position)
        raise NotFound(f"there is no resource {wanted!r:.80}")
    datasets = _published(service, tenant)
    packages = [package_json(item, base, organisation) for item in datasets]
    if action == "package_list":
        return sorted(p["name"] for p in packages)
    if action == "package_search":
        return package_search(
            packages,
            q=params.get("q"),
            fq=params.get("fq"),
            rows=_int(params, "rows", 10),
            start=_int(params, "start", 0),
            sort=params.get("sort"),
            facet_fields=_facet_fields(params),
            facet_limit=_int(params, "facet.limit", 50),
        )
    if action == "organization_list":
        if str(params.get("all_fields", "")).lower() == "true":
            return [organisation_json(organisation, len(packages))]
        return [organisation.name]
    if action == "organization_show":
        if str(params.get("id", "")) != organisation.name:
            raise NotFound(f"there is no organization {params.get('id')!r:.80}")
        return {**organisation_json(organisation, len(packages)), "packages": packages}
    raise AssertionError(action)


@router.api_route("/api/3/action/{action}", methods=["GET", "POST"], summary="CKAN Action API (read subset)")
@router.api_route("/api/action/{action}", methods=["GET", "POST"], include_in_schema=False)
async def ckan_action(request: Request, action: str) -> Response:
    """One of CKAN's read actions (see :data:`ACTIONS`), in CKAN's envelope."""
    if action not in ACTIONS:
        return _error(request, action, 400, "Bad Request", f"Action name not known: {action}")
    try:
        params = await _params(request)
        result = await call(_run, request, tenant_of(request), action, params)
    except NotFound as error:
        return _error(request, action, 404, "Not Found Error", error.detail)
    except UrbisError as error:
        kind = "Validation Error" if error.status == 400 else "Error"
        return _error(request, action, 409 if error.status == 400 else error.status, kind, error.detail)
    return _envelope(request, action, result)
