"""Discovery of what the broker holds: ``/types`` and ``/attributes`` (clause 6.25-6.28)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.errors import BadRequestData, NotFound
from urbis.web.deps import require_read
from urbis.web.ngsild.common import PREFIX, both_slashes, call, check_params, negotiate, ngsild_response, tenant_of
from urbis.web.ngsild.entities import get_context, service_of

router = APIRouter(prefix=PREFIX, tags=["NGSI-LD discovery"])


def _details(request: Request) -> bool:
    raw = request.query_params.get("details", "false")
    if raw not in ("true", "false"):
        raise BadRequestData("details must be true or false")
    return raw == "true"


def _list_id(kind: str, names: list[str]) -> str:
    import hashlib

    digest = hashlib.sha1("\n".join(names).encode(), usedforsecurity=False).hexdigest()[:16]
    return f"urn:ngsi-ld:{kind}:{digest}"


@both_slashes(router, "/types", ["GET"], summary="List entity types")
async def list_types(request: Request) -> Response:
    """The entity types present, as an EntityTypeList or (``details=true``) EntityType objects."""
    check_params(request, ("details", "local", "via"))
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request)
    ctx = await call(get_context, request)
    details = _details(request)
    service = service_of(request)
    counts = await call(service.type_counts, tenant)
    if not details:
        names = sorted(ctx.compact(iri) for iri in counts)
        return ngsild_response(
            {"id": _list_id("EntityTypeList", names), "type": "EntityTypeList", "typeList": names}, ctx, media
        )
    survey = await call(service.attribute_survey, tenant)
    out: list[dict[str, Any]] = []
    for type_iri in sorted(counts):
        attrs = sorted(ctx.compact(a) for a, info in survey.items() if type_iri in info["type_names"])
        out.append({"id": type_iri, "type": "EntityType", "typeName": ctx.compact(type_iri), "attributeNames": attrs})
    return ngsild_response(out, ctx, media)


@both_slashes(router, "/types/{type_name:path}", ["GET"], summary="Describe an entity type")
async def type_info(request: Request, type_name: str) -> Response:
    """EntityTypeInfo: how many entities of a type, and their attributes."""
    check_params(request, ("local", "via"))
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request)
    ctx = await call(get_context, request)
    type_iri = ctx.expand(type_name)
    service = service_of(request)
    counts = await call(service.type_counts, tenant)
    if type_iri not in counts:
        raise NotFound(f"no entity of type {type_name} exists")
    survey = await call(service.attribute_survey, tenant, type_iri)
    body = {
        "id": type_iri,
        "type": "EntityTypeInfo",
        "typeName": ctx.compact(type_iri),
        "entityCount": counts[type_iri],
        "attributeDetails": [
            {
                "id": attr_iri,
                "type": "Attribute",
                "attributeName": ctx.compact(attr_iri),
                "attributeTypes": sorted(info["attribute_types"]),
            }
            for attr_iri, info in sorted(survey.items())
        ],
    }
    return ngsild_response(body, ctx, media)


@both_slashes(router, "/attributes", ["GET"], summary="List attributes")
async def list_attributes(request: Request) -> Response:
    """The attribute names in use, as an AttributeList or (``details=true``) Attribute objects."""
    check_params(request, ("details", "local", "via"))
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request)
    ctx = await call(get_context, request)
    details = _details(request)
    survey = await call(service_of(request).attribute_survey, tenant)
    if not details:
        names = sorted(ctx.compact(iri) for iri in survey)
        body: Any = {"id": _list_id("AttributeList", names), "type": "AttributeList", "attributeList": names}
        return ngsild_response(body, ctx, media)
    out = [
        {
            "id": attr_iri,
            "type": "Attribute",
            "attributeName": ctx.compact(attr_iri),
            "attributeCount": info["count"],
            "attributeTypes": sorted(info["attribute_types"]),
            "typeNames": sorted(ctx.compact(t) for t in info["type_names"]),
        }
        for attr_iri, info in sorted(survey.items())
    ]
    return ngsild_response(out, ctx, media)


@both_slashes(router, "/attributes/{attr_name:path}", ["GET"], summary="Describe an attribute")
async def attribute_info(request: Request, attr_name: str) -> Response:
    """One attribute: how many entities carry it, its kinds and the entity types using it."""
    check_params(request, ("local", "via"))
    tenant = tenant_of(request)
    await require_read(request, tenant)
    media = negotiate(request)
    ctx = await call(get_context, request)
    attr_iri = ctx.expand(attr_name)
    survey = await call(service_of(request).attribute_survey, tenant)
    info = survey.get(attr_iri)
    if info is None:
        raise NotFound(f"no entity has an attribute {attr_name}")
    body = {
        "id": attr_iri,
        "type": "Attribute",
        "attributeName": ctx.compact(attr_iri),
        "attributeCount": info["count"],
        "attributeTypes": sorted(info["attribute_types"]),
        "typeNames": sorted(ctx.compact(t) for t in info["type_names"]),
    }
    return ngsild_response(body, ctx, media)
