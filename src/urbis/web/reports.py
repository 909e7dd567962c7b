"""The reports JSON API at ``/api/v1/reports``: residents report and follow up, staff triage and answer.

Public (no login): the categories, the list of public reports, the duplicate suggestions near a
point, one report with its public history, filing a report (multipart with photos, or JSON),
confirming it, flagging a report or a comment.  Residents (``citizen`` role) comment.  Staff
(``citizens:manage``) see the triage queue and every report with its sender, move, route, merge,
moderate, open work orders, and keep the categories, routing rules and Open311 keys; each of
their actions goes to the audit trail under their subject (the report service records it).

Every report answer is built by :mod:`urbis.citizens.views`: the public view never carries who
sent a report, so no public answer can leak a name, an address, a phone number or a device.
Submissions, comments and flags count against the rate limits (429 with ``Retry-After``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response
from starlette.types import Message

from urbis.citizens.model import (
    MAX_PHOTOS,
    OPEN_STAGES,
    Category,
    Channel,
    Datatype,
    Report,
    Stage,
    Update,
    check_position,
)
from urbis.citizens.moderation import Moderation, parse_flag_reason, parse_moderation
from urbis.citizens.service import ReportService, Submission
from urbis.citizens.store import ApiKey, ReportFilter, question_json, question_of
from urbis.citizens.views import public_report_view, report_url, staff_report_view, update_view
from urbis.core.auth.roles import can_manage_citizens, can_participate, require
from urbis.core.auth.tokens import Actor
from urbis.core.errors import BadRequestData, NotFound, UnsupportedMediaType
from urbis.operations.model import Severity, parse_severity
from urbis.web.deps import current_actor
from urbis.web.errors import problem_of, problem_response
from urbis.web.ngsild.common import call, check_params, read_body, settings_of, tenant_of
from urbis.web.params import (
    json_object,
    json_response,
    optional_json_object,
    page_limit,
    page_offset,
    text_member,
    text_param,
)
from urbis.web.ratelimit import RateLimits, TooManyRequests


class RetryAfterRoute(APIRoute):
    """A route whose 429 carries ``Retry-After`` (the app's generic error handler drops error headers)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The endpoint's handler, answering TooManyRequests itself."""
        handler = super().get_route_handler()

        async def with_retry_after(request: Request) -> Response:
            try:
                return await handler(request)
            except TooManyRequests as error:
                return problem_response(problem_of(error, request.url.path), error.headers)

        return with_retry_after


router = APIRouter(prefix="/api/v1/reports", tags=["reports"], route_class=RetryAfterRoute)

#: Fields of a new report, in a form or a JSON object (answers come as ``attribute[CODE]``).
SUBMISSION_FIELDS = frozenset(
    {
        "service",
        "description",
        "lat",
        "long",
        "address",
        "addressId",
        "zipcode",
        "objectType",
        "objectId",
        "email",
        "firstName",
        "lastName",
        "phone",
        "deviceId",
        "deviceLat",
        "deviceLong",
        "showName",
    }
)
_ATTRIBUTE = re.compile(r"attribute\[([^\[\]]{1,64})\](\[\])?")
_TRUE, _FALSE = frozenset({"true", "1", "yes", "on"}), frozenset({"false", "0", "no", "off", ""})
#: Most form fields besides the photos (answers included): enough for any category, little to parse.
_MAX_FORM_FIELDS = 200
_LIST_FILTERS = {"status", "service", "stage", "district", "lat", "long", "radius", "limit", "offset"}
_TRIAGE_FILTERS = {"stage", "department", "district", "service", "moderation", "q", "limit", "offset", "sort"}
#: Most reports a radius search considers (the report service's own cap).
_AROUND_MAX = 10_000


# -- who is calling ----------------------------------------------------------------------------


def _reports(request: Request) -> ReportService:
    service: ReportService = request.app.state.citizen_reports
    return service


def _base_url(request: Request) -> str:
    return settings_of(request).effective_base_url


def _limits(request: Request) -> RateLimits | None:
    found = getattr(request.app.state, "rate_limits", None)
    return found if isinstance(found, RateLimits) else None


def _staff(request: Request) -> tuple[str, Actor]:
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_manage_citizens(actor, tenant), actor, f"handle the reports of tenant '{tenant}'")
    return tenant, actor


def _is_staff(actor: Actor, tenant: str) -> bool:
    return can_manage_citizens(actor, tenant)


def count_submission(request: Request, actor: Actor) -> None:
    """Count a resident's submission against the limits of their address and, when signed in, their account."""
    limits = _limits(request)
    if limits is not None:
        limits.check_submission(request, f"user:{actor.subject}" if actor.is_authenticated else None)


def count_read(request: Request) -> None:
    """Count a public read against the limit of the caller's address."""
    limits = _limits(request)
    if limits is not None:
        limits.check_read(request)


def flagger_of(request: Request, actor: Actor) -> str:
    """Who flags: ``user:<name>``, or a hash of the address (so one person counts once, and no address is kept)."""
    if actor.is_authenticated:
        return f"user:{actor.subject}"
    limits = _limits(request)
    if limits is not None:
        address = limits.client_address(request)
    else:
        address = request.client.host if request.client else "unknown"
    return "ip:" + hashlib.sha256(address.encode()).hexdigest()[:16]


# -- bodies and parameters ----------------------------------------------------------------------


def _text(body: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = text_member(dict(body), name, required=required)
    if required and value is not None and not value.strip():
        raise BadRequestData(f"'{name}' must not be empty")
    return value


def _float(value: Any, name: str) -> float | None:
    """A number from JSON or a form field; an empty field counts as absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRequestData(f"'{name}' must be a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise BadRequestData(f"'{name}' must be a number, got {value!r:.40}") from None
    if not math.isfinite(number):
        raise BadRequestData(f"'{name}' must be a finite number")
    return number


def _bool(value: Any, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadRequestData(f"'{name}' must be true or false")


def _float_param(request: Request, name: str) -> float | None:
    return _float(text_param(request, name), name)


def _list_param(request: Request, name: str) -> tuple[str, ...] | None:
    raw = text_param(request, name)
    if raw is None or not raw.strip():
        return None
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_stage(value: str) -> Stage:
    """A stage from its name; 400 naming the known ones otherwise."""
    try:
        return Stage(value)
    except ValueError:
        known = ", ".join(s.value for s in Stage)
        raise BadRequestData(f"unknown stage {value!r:.40}; known: {known}") from None


def _instant(body: Mapping[str, Any], name: str) -> datetime | None:
    raw = _text(body, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"'{name}' must be an ISO 8601 date-time, got {raw!r:.40}") from None
    if moment.utcoffset() is None:
        raise BadRequestData(f"'{name}' must carry a time zone (e.g. 'Z' or '+01:00')")
    return moment.astimezone(UTC)


# -- views --------------------------------------------------------------------------------------


def category_json(category: Category) -> dict[str, Any]:
    """A category with its questions in Open311's attribute shape."""
    return {
        "code": category.code,
        "name": category.name,
        "description": category.description,
        "group": category.group,
        "department": category.department,
        "keywords": list(category.keywords),
        "objectTypes": list(category.object_types),
        "metadata": category.has_metadata,
        "questions": [question_json(q) for q in sorted(category.questions, key=lambda q: q.order)],
        "active": category.active,
        "position": category.position,
    }


def _list_item(report: Report, base_url: str) -> dict[str, Any]:
    """A report in a public list: the public view without its history (one page, one query)."""
    view = public_report_view(report, base_url)
    del view["updates"]
    return view


def _staff_view(service: ReportService, tenant: str, report: Report, base_url: str, *, history: bool) -> dict[str, Any]:
    updates = service.history(tenant, report.id, public=False) if history else []
    view = staff_report_view(
        report, base_url, updates, service.contact(tenant, report.id), service.links(tenant, report.id)
    )
    if not history:
        del view["updates"]
    return view


def _staff_page(service: ReportService, tenant: str, found: Sequence[Report], base_url: str) -> list[dict[str, Any]]:
    return [_staff_view(service, tenant, report, base_url, history=False) for report in found]


def _full_staff_view(service: ReportService, tenant: str, report_id: str, base_url: str) -> dict[str, Any]:
    return _staff_view(service, tenant, service.get(tenant, report_id), base_url, history=True)


def _public_view(service: ReportService, tenant: str, report: Report, base_url: str) -> dict[str, Any]:
    return public_report_view(report, base_url, service.history(tenant, report.id))


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "createdBy": key.created_by,
        "createdAt": key.created_at,
        "revokedAt": key.revoked_at,
    }


# -- submissions --------------------------------------------------------------------------------


@dataclass
class _Sent:
    """A submission's fields as they arrived, before they are checked."""

    fields: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, list[str]] = field(default_factory=dict)
    photos: list[bytes] = field(default_factory=list)

    def add_field(self, name: str, value: Any) -> None:
        found = _ATTRIBUTE.fullmatch(name)
        if found is not None:
            self.add_answer(found.group(1), value)
            return
        if name not in SUBMISSION_FIELDS:
            known = ", ".join(sorted(SUBMISSION_FIELDS))
            raise BadRequestData(f"unknown field {name!r:.60}; known: {known}, attribute[CODE], photo")
        if name in self.fields:
            raise BadRequestData(f"'{name}' is given twice")
        self.fields[name] = value

    def add_answer(self, code: str, value: Any) -> None:
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise BadRequestData(f"attribute[{code}] takes text or numbers")
            self.answers.setdefault(code, []).append(str(item))


async def _form(request: Request) -> FormData:
    """The multipart form, read within a limit that leaves room for the photos."""
    settings = settings_of(request)
    limit = settings.max_body_bytes + MAX_PHOTOS * settings.citizen_photo_max_bytes
    body = await read_body(request, limit)

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    # The bounded bytes are parsed by Starlette's own multipart parser (files beyond the limit fail there).
    return await Request(request.scope, replay).form(max_files=MAX_PHOTOS, max_fields=_MAX_FORM_FIELDS)


async def _sent_form(request: Request) -> _Sent:
    form = await _form(request)
    sent = _Sent()
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "photo":
                    raise BadRequestData(f"only 'photo' may be a file (got a file in {name!r:.60})")
                sent.photos.append(await value.read())
            elif name == "photo":
                raise BadRequestData("'photo' must be a file")
            else:
                sent.add_field(name, value)
    finally:
        await form.close()
    return sent


async def _sent_json(request: Request) -> _Sent:
    body = await json_object(request)
    sent = _Sent()
    for name, value in body.items():
        if name == "attribute":
            if not isinstance(value, dict):
                raise BadRequestData("'attribute' must be an object of answers by question code")
            for code, answer in value.items():
                sent.add_answer(str(code), answer)
        elif name == "photo":
            raise BadRequestData("photos come with a multipart/form-data submission")
        else:
            sent.add_field(name, value)
    return sent


def _submission(sent: _Sent, actor: Actor, tenant: str) -> Submission:
    fields = sent.fields

    def text(name: str) -> str | None:
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise BadRequestData(f"'{name}' must be a string")
        return value

    device_lat, device_long = (
        _float(fields.get("deviceLat"), "deviceLat"),
        _float(fields.get("deviceLong"), "deviceLong"),
    )
    if (device_lat is None) != (device_long is None):
        raise BadRequestData("give both deviceLat and deviceLong, or neither")
    if device_lat is not None and device_long is not None:
        check_position(device_lat, device_long)
    service = text("service")
    if not service:
        raise BadRequestData("'service' is required: the code of the category (GET /api/v1/reports/categories)")
    if can_participate(actor, tenant):
        account, trusted, channel = actor.subject, True, Channel.APP
    elif _is_staff(actor, tenant):
        # Staff filing a report for a resident (on the phone, at the counter): no confirmation needed.
        account, trusted, channel = None, True, Channel.STAFF
    else:
        account, trusted, channel = None, False, Channel.APP
    return Submission(
        service_code=service,
        description=text("description") or "",
        lat=_float(fields.get("lat"), "lat"),
        long=_float(fields.get("long"), "long"),
        address=text("address"),
        address_id=text("addressId"),
        zipcode=text("zipcode"),
        answers=sent.answers,
        object_type=text("objectType") or None,
        object_id=text("objectId") or None,
        channel=channel,
        photos=tuple(sent.photos),
        account=account,
        email=text("email"),
        first_name=text("firstName"),
        last_name=text("lastName"),
        phone=text("phone"),
        device_id=text("deviceId"),
        device_lat=device_lat,
        device_long=device_long,
        show_name=_bool(fields.get("showName"), "showName"),
        trusted=trusted,
    )


# -- categories (public read, staff write) ------------------------------------------------------


@router.get("/categories", summary="The categories a report can be filed under")
async def list_categories(request: Request) -> Response:
    """Each with its questions (Open311 attributes), group, department and asset types; staff also see inactive ones."""
    tenant = tenant_of(request)
    check_params(request, set())
    actor = current_actor(request)
    staff = _is_staff(actor, tenant)
    if not staff:
        count_read(request)
    found = await call(_reports(request).categories, tenant, include_inactive=staff)
    return json_response({"categories": [category_json(c) for c in found]})


def _question(data: Any, position: int) -> Any:
    if not isinstance(data, dict):
        raise BadRequestData(f"questions[{position}] must be an object")
    datatype = data.get("datatype")
    if datatype not in {d.value for d in Datatype}:
        known = ", ".join(d.value for d in Datatype)
        raise BadRequestData(f"questions[{position}]: unknown datatype {datatype!r:.40}; known: {known}")
    try:
        return question_of(data)
    except (KeyError, TypeError, ValueError) as error:
        raise BadRequestData(f"questions[{position}] is not an Open311 attribute: {error!s:.200}") from None


def _strings(body: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequestData(f"'{name}' must be a list of strings")
    return tuple(value)


def category_of(code: str, body: Mapping[str, Any]) -> Category:
    """A category from its JSON (the shape :func:`category_json` writes); ``code`` comes from the path."""
    if body.get("code", code) != code:
        raise BadRequestData("the body's 'code' differs from the one in the path")
    questions = body.get("questions", [])
    if not isinstance(questions, list):
        raise BadRequestData("'questions' must be a list of Open311 attributes")
    position = body.get("position", 0)
    if isinstance(position, bool) or not isinstance(position, int):
        raise BadRequestData("'position' must be a whole number")
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise BadRequestData("'active' must be true or false")
    return Category(
        code=code,
        name=_text(body, "name", required=True) or "",
        description=_text(body, "description") or "",
        group=_text(body, "group") or "",
        department=_text(body, "department", required=True) or "",
        keywords=_strings(body, "keywords"),
        object_types=_strings(body, "objectTypes"),
        questions=tuple(_question(q, n) for n, q in enumerate(questions)),
        active=active,
        position=position,
    )


@router.put("/categories/{code}", summary="Create or replace a category")
async def save_category(request: Request, code: str) -> Response:
    """Body: the category as GET shows it (questions in Open311's attribute shape); 201 when new."""
    tenant, actor = _staff(request)
    category = category_of(code, await json_object(request))
    service = _reports(request)
    created = await call(service.save_category, tenant, category, by=actor.subject)
    saved = await call(service.category, tenant, code)
    return json_response(category_json(saved), 201 if created else 200)


# -- routing rules and Open311 keys (staff) -----------------------------------------------------


@router.get("/routes", summary="Routing rules")
async def list_routes(request: Request) -> Response:
    """Which department gets the reports of a category and/or district."""
    tenant, _ = _staff(request)
    found = await call(_reports(request).routes, tenant)
    rules = [
        {"id": r.id, "department": r.department, "serviceCode": r.service_code, "district": r.district} for r in found
    ]
    return json_response({"routes": rules})


@router.post("/routes", status_code=201, summary="Add a routing rule")
async def add_route(request: Request) -> Response:
    """Body ``{"department", "serviceCode"?, "district"?}`` (at least one of the last two)."""
    tenant, actor = _staff(request)
    body = await json_object(request)
    rule = await call(
        _reports(request).add_route,
        tenant,
        _text(body, "department", required=True) or "",
        service_code=_text(body, "serviceCode") or None,
        district=_text(body, "district") or None,
        by=actor.subject,
    )
    view = {"id": rule.id, "department": rule.department, "serviceCode": rule.service_code, "district": rule.district}
    return json_response(view, 201, {"Location": f"/api/v1/reports/routes/{rule.id}"})


@router.delete("/routes/{route_id}", status_code=204, summary="Delete a routing rule")
async def delete_route(request: Request, route_id: str) -> Response:
    """Reports are routed without it from now on."""
    tenant, actor = _staff(request)
    await call(_reports(request).delete_route, tenant, route_id, by=actor.subject)
    return Response(status_code=204)


@router.get("/open311-keys", summary="Open311 API keys")
async def list_keys(request: Request) -> Response:
    """The keys handed to Open311 clients (never the keys themselves)."""
    tenant, _ = _staff(request)
    keys = await call(_reports(request).api_keys, tenant)
    return json_response({"keys": [_key_json(k) for k in keys]})


@router.post("/open311-keys", status_code=201, summary="Create an Open311 API key")
async def create_key(request: Request) -> Response:
    """Body ``{"name"}`` (the client it is for); the answer shows the key, once."""
    tenant, actor = _staff(request)
    body = await json_object(request)
    key, secret = await call(
        _reports(request).create_api_key, tenant, _text(body, "name", required=True) or "", by=actor.subject
    )
    headers = {"Cache-Control": "no-store", "Location": f"/api/v1/reports/open311-keys/{key.id}"}
    return json_response({**_key_json(key), "key": secret}, 201, headers)


@router.delete("/open311-keys/{key_id}", status_code=204, summary="Revoke an Open311 API key")
async def revoke_key(request: Request, key_id: str) -> Response:
    """The key stops working at once."""
    tenant, actor = _staff(request)
    await call(_reports(request).revoke_api_key, tenant, key_id, by=actor.subject)
    return Response(status_code=204)


# -- staff lists --------------------------------------------------------------------------------


@router.get("/triage", summary="The triage queue")
async def triage(request: Request) -> Response:
    """The reports staff work on, each as the staff view without its history.

    Filters ``stage`` (comma list, default the open stages), ``department``, ``district``, ``service``,
    ``moderation`` (comma lists), ``q`` (words or an id); ``sort`` oldest (default) or newest.
    """
    tenant, _ = _staff(request)
    check_params(request, _TRIAGE_FILTERS)
    stages = _list_param(request, "stage")
    moderation = _list_param(request, "moderation")
    sort = text_param(request, "sort") or "oldest"
    if sort not in ("oldest", "newest"):
        raise BadRequestData(f"'sort' is oldest or newest, got {sort!r:.40}")
    wanted = ReportFilter(
        stages=tuple(sorted(OPEN_STAGES, key=list(Stage).index))
        if stages is None
        else tuple(parse_stage(s) for s in stages),
        department=text_param(request, "department") or None,
        district=text_param(request, "district") or None,
        service_codes=_list_param(request, "service"),
        moderation=None if moderation is None else tuple(parse_moderation(m) for m in moderation),
        search=(text_param(request, "q") or "").strip() or None,
        newest_first=sort == "newest",
        limit=page_limit(request),
        offset=page_offset(request),
    )
    service = _reports(request)
    found, total = await call(service.find, tenant, wanted)
    items = await call(_staff_page, service, tenant, found, _base_url(request))
    return json_response({"reports": items, "total": total, "limit": wanted.limit, "offset": wanted.offset})


def _moderation_page(service: ReportService, tenant: str, limit: int, offset: int, base_url: str) -> dict[str, Any]:
    queue = service.moderation_queue(tenant, limit=limit, offset=offset)
    reports = [
        {**_staff_view(service, tenant, r, base_url, history=False), "flags": queue["reportFlags"].get(r.id, {})}
        for r in queue["reports"]
    ]
    comments = [
        {**update_view(c, staff=True), "reportId": c.report_id, "flags": queue["commentFlags"].get(c.id, {})}
        for c in queue["comments"]
    ]
    return {
        "reports": reports,
        "reportTotal": queue["reportTotal"],
        "comments": comments,
        "commentTotal": queue["commentTotal"],
    }


@router.get("/moderation", summary="The moderation queue")
async def moderation_queue(request: Request) -> Response:
    """Reports and comments waiting for a moderator or hidden, with their flags by reason."""
    tenant, _ = _staff(request)
    check_params(request, {"limit", "offset"})
    page = await call(
        _moderation_page, _reports(request), tenant, page_limit(request), page_offset(request), _base_url(request)
    )
    return json_response(page)


# -- public reading -----------------------------------------------------------------------------


@router.get("", summary="Public reports")
async def list_reports(request: Request) -> Response:
    """Public reports, newest first; ``total`` counts every match.

    Filters ``status`` (open/closed), ``service`` and ``stage`` (comma lists), ``district``,
    ``lat``+``long``+``radius`` (metres).
    """
    tenant = tenant_of(request)
    check_params(request, _LIST_FILTERS)
    count_read(request)
    statuses = _list_param(request, "status")
    for status in statuses or ():
        if status not in ("open", "closed"):
            raise BadRequestData(f"unknown status {status!r:.40}; known: open, closed")
    stages = _list_param(request, "stage")
    wanted = ReportFilter(
        statuses=statuses,
        service_codes=_list_param(request, "service"),
        stages=None if stages is None else tuple(parse_stage(s) for s in stages),
        district=text_param(request, "district") or None,
        public_only=True,
        limit=page_limit(request),
        offset=page_offset(request),
    )
    lat, long, radius = _float_param(request, "lat"), _float_param(request, "long"), _float_param(request, "radius")
    service = _reports(request)
    if lat is None and long is None and radius is None:
        found, total = await call(service.find, tenant, wanted)
    elif lat is None or long is None or radius is None:
        raise BadRequestData("a radius search needs lat, long and radius (metres) together")
    else:
        # The service pages by distance; every match is fetched and paged newest first, like the plain list.
        near, total = await call(
            service.around, tenant, replace(wanted, limit=_AROUND_MAX, offset=0), lat, long, radius
        )
        near.sort(key=lambda r: (r.requested_at, r.id), reverse=True)
        found = near[wanted.offset : wanted.offset + wanted.limit]
    base_url = _base_url(request)
    return json_response(
        {
            "reports": [_list_item(r, base_url) for r in found],
            "total": total,
            "limit": wanted.limit,
            "offset": wanted.offset,
        }
    )


@router.get("/nearby", summary="Open reports of a category near a point (before filing a duplicate)")
async def nearby(request: Request) -> Response:
    """``service``, ``lat`` and ``long``: open public reports of that category within the city's radius, nearest first."""
    tenant = tenant_of(request)
    check_params(request, {"service", "lat", "long"})
    count_read(request)
    service_code = text_param(request, "service")
    lat, long = _float_param(request, "lat"), _float_param(request, "long")
    if not service_code or lat is None or long is None:
        raise BadRequestData("'service', 'lat' and 'long' are required")
    found = await call(_reports(request).nearby, tenant, service_code, lat, long)
    base_url = _base_url(request)
    return json_response({"reports": [_list_item(r, base_url) for r in found]})


@router.get("/{report_id}", summary="One report")
async def get_report(request: Request, report_id: str) -> Response:
    """The public view with its public history; staff get the staff view.

    A report that is not public is seen only by staff and by its own (signed-in) sender, who gets the
    public view with ``confirmed``; anyone else gets 404.
    """
    tenant = tenant_of(request)
    check_params(request, set())
    actor = current_actor(request)
    service = _reports(request)
    base_url = _base_url(request)
    if _is_staff(actor, tenant):
        return json_response(await call(_full_staff_view, service, tenant, report_id, base_url))
    count_read(request)
    report = await call(service.get, tenant, report_id)
    if report.public:
        return json_response(await call(_public_view, service, tenant, report, base_url))
    if actor.is_authenticated and await call(service.sender_is, tenant, report_id, actor.subject):
        view = await call(_public_view, service, tenant, report, base_url)
        return json_response({**view, "confirmed": report.confirmed})
    raise NotFound(f"there is no public report {report_id!r:.80}")


# -- residents ----------------------------------------------------------------------------------


@router.post("", status_code=201, summary="File a report")
async def submit(request: Request) -> Response:
    """A new report, as multipart/form-data (with up to 3 ``photo`` files) or JSON.

    Fields: ``service``, ``description``, ``lat``+``long`` or ``address``, ``objectType``+``objectId``,
    ``attribute[CODE]`` (``attribute[CODE][]`` for several values; JSON may give ``"attribute": {code: value}``),
    ``email``, ``firstName``, ``lastName``, ``phone``, ``deviceId``, ``showName``.  Without an account an e-mail
    address is required and the report waits for its confirmation.
    """
    tenant = tenant_of(request)
    check_params(request, set())
    actor = current_actor(request)
    count_submission(request, actor)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        sent = await _sent_form(request)
    elif media == "application/json" or media.endswith("+json"):
        sent = await _sent_json(request)
    else:
        raise UnsupportedMediaType(
            f"send the report as multipart/form-data or application/json, not {media or 'nothing'!r}"
        )
    service = _reports(request)
    receipt = await call(service.submit, tenant, _submission(sent, actor, tenant))
    report = receipt.report
    base_url = _base_url(request)
    body = {
        "id": report.id,
        "awaitingConfirmation": receipt.awaiting_confirmation,
        "notice": receipt.notice,
        "url": report_url(base_url, report.id),
        "report": public_report_view(report, base_url),
    }
    return json_response(body, 201, {"Location": f"/api/v1/reports/{report.id}"})


@router.post("/{report_id}/confirm", summary="Confirm a report with the code from the mail")
async def confirm(request: Request, report_id: str) -> Response:
    """Body ``{"code"}``: the report goes public (403 for a wrong or used code)."""
    tenant = tenant_of(request)
    count_submission(request, current_actor(request))
    code = _text(await json_object(request), "code", required=True) or ""
    service = _reports(request)
    report = await call(service.confirm, tenant, report_id, code)
    view = await call(_public_view, service, tenant, report, _base_url(request))
    return json_response({**view, "confirmed": report.confirmed})


@router.post("/{report_id}/comments", status_code=201, summary="Comment on a report")
async def comment(request: Request, report_id: str) -> Response:
    """Body ``{"text"}`` (residents only): the comment, as the public sees it."""
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_participate(actor, tenant), actor, f"comment on the reports of tenant '{tenant}'")
    count_submission(request, actor)
    text = _text(await json_object(request), "text", required=True) or ""
    entry: Update = await call(_reports(request).comment, tenant, report_id, text, by=actor.subject)
    return json_response(update_view(entry), 201)


async def _flag(request: Request, kind: str, item_id: str) -> Response:
    tenant = tenant_of(request)
    actor = current_actor(request)
    count_submission(request, actor)
    reason = parse_flag_reason(_text(await json_object(request), "reason", required=True) or "")
    await call(_reports(request).flag, tenant, kind, item_id, reason, flagger=flagger_of(request, actor))
    return Response(status_code=204)


@router.post("/{report_id}/flag", status_code=204, summary="Flag a report for the moderators")
async def flag_report(request: Request, report_id: str) -> Response:
    """Body ``{"reason"}``: spam, offensive, does-not-belong or personal-data; one flag per person counts."""
    return await _flag(request, "report", report_id)


@router.post("/comments/{comment_id}/flag", status_code=204, summary="Flag a comment for the moderators")
async def flag_comment(request: Request, comment_id: str) -> Response:
    """Body ``{"reason"}``, as for a report."""
    return await _flag(request, "report-comment", comment_id)


# -- staff actions ------------------------------------------------------------------------------


@router.post("/{report_id}/stage", summary="Move a report to another stage, with a public note")
async def set_stage(request: Request, report_id: str) -> Response:
    """Body ``{"stage", "note"?, "expectedAt"?}``; the sender and the followers are told."""
    tenant, actor = _staff(request)
    body = await json_object(request)
    stage = parse_stage(_text(body, "stage", required=True) or "")
    service = _reports(request)
    await call(
        service.set_stage,
        tenant,
        report_id,
        stage,
        _text(body, "note") or "",
        by=actor.subject,
        expected_at=_instant(body, "expectedAt"),
    )
    return json_response(await call(_full_staff_view, service, tenant, report_id, _base_url(request)))


@router.post("/{report_id}/route", summary="Pass a report to another department")
async def reroute(request: Request, report_id: str) -> Response:
    """Body ``{"department"}``."""
    tenant, actor = _staff(request)
    department = _text(await json_object(request), "department", required=True) or ""
    service = _reports(request)
    await call(service.reroute, tenant, report_id, department, by=actor.subject)
    return json_response(await call(_full_staff_view, service, tenant, report_id, _base_url(request)))


@router.post("/{report_id}/merge", summary="Close a report as a duplicate of another")
async def merge(request: Request, report_id: str) -> Response:
    """Body ``{"into"}``: the original's id."""
    tenant, actor = _staff(request)
    original = _text(await json_object(request), "into", required=True) or ""
    service = _reports(request)
    await call(service.merge, tenant, report_id, original, by=actor.subject)
    return json_response(await call(_full_staff_view, service, tenant, report_id, _base_url(request)))


@router.post("/{report_id}/moderate", summary="Show, hold or hide a report")
async def moderate(request: Request, report_id: str) -> Response:
    """Body ``{"state": "public"|"unmoderated"|"hidden", "reason"}``."""
    tenant, actor = _staff(request)
    body = await json_object(request)
    state: Moderation = parse_moderation(_text(body, "state", required=True) or "")
    service = _reports(request)
    await call(service.moderate, tenant, report_id, state, _text(body, "reason") or "", by=actor.subject)
    return json_response(await call(_full_staff_view, service, tenant, report_id, _base_url(request)))


@router.post("/{report_id}/work-order", status_code=201, summary="Open a work order for a report")
async def work_order(request: Request, report_id: str) -> Response:
    """Optional body ``{"severity"}`` (default medium); closing the order closes the report."""
    tenant, actor = _staff(request)
    severity = _text(await optional_json_object(request), "severity")
    order_id = await call(
        _reports(request).open_work_order,
        tenant,
        report_id,
        by=actor.subject,
        severity=Severity.MEDIUM if severity is None else parse_severity(severity),
    )
    return json_response({"workOrderId": order_id}, 201, {"Location": f"/api/v1/work-orders/{order_id}"})


@router.post("/comments/{comment_id}/moderate", summary="Show or hide a comment")
async def moderate_comment(request: Request, comment_id: str) -> Response:
    """Body ``{"state", "reason"}``: the comment as staff see it."""
    tenant, actor = _staff(request)
    body = await json_object(request)
    state = parse_moderation(_text(body, "state", required=True) or "")
    entry = await call(
        _reports(request).moderate_comment, tenant, comment_id, state, _text(body, "reason") or "", by=actor.subject
    )
    return json_response({**update_view(entry, staff=True), "reportId": entry.report_id})
