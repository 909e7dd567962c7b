"""Open311 GeoReport v2 at ``/open311/v2``: the routes.

Each resource is served as ``.json`` and ``.xml`` (any other suffix is a 404); every error, of
ours or of the framework, answers in the spec's shape (:mod:`urbis.web.open311.errors`).

Decisions worth knowing (the reference's gotchas and extensions, §1.10-1.11):

- ``jurisdiction_id`` is the tenant.  Absent, it is the default tenant.  A tenant is known when it
  is the default tenant or the context knows it (it holds or held data); an unknown one is a 404.
- An empty parameter counts as absent.  Lists (``service_request_id``, ``service_code``,
  ``status``) are comma-separated and may also be repeated.
- ``POST /requests`` takes ``application/x-www-form-urlencoded`` or ``multipart/form-data`` (photos
  as ``media`` files, the Helsinki/Bloomington extension).  The key comes as ``api_key`` (form or
  query) or ``Authorization: Bearer``.  A ``media_url`` is never fetched (no outbound network at run
  time): the notice says so.  ``account_id`` names an account in the *client's* system, not ours,
  so it does not make the sender trusted; the answer's ``account_id`` is always null.  The answer
  carries ``service_request_id`` when the report is public at once, else a ``token`` (the sender
  confirms by mail), never both; HTTP 200, as the spec says.
- ``GET /tokens/{token}`` answers ``[{service_request_id, token}]`` once the report is public;
  before, ``service_request_id`` is null (a pending request, what polling clients wait on).
- ``GET /requests`` lists public reports only, newest first.  Without ``start_date``/``end_date``
  it covers the last 90 days, unless ``updated_after``/``updated_before`` bound it instead; a span
  over 90 days is a 400.  Without ``page``/``page_size`` it returns up to 1,000 requests (the
  spec's default volume); ``page_size`` is 1-1,000 (50 when only ``page`` is given).  Headers
  ``X-Total-Count``/``X-Result-Count``, ``X-Page-Count`` and ``X-Next-Page-URL`` describe the pages.
  Extensions: ``lat``/``long``/``radius`` (metres, nearest first), ``bbox``, ``updated_after``/
  ``updated_before``, ``search`` (or ``q``), ``agency_responsible``, ``service_object_type`` with
  ``service_object_id``, and ``extensions=true`` for ``extended_attributes``.
- No answer ever holds who reported (name, e-mail, phone, device, account): those live in the
  personal-data store, which these routes never read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.types import Message

from urbis.citizens.model import MAX_PHOTOS, Category, Channel, Question, Report, Stage, Update
from urbis.citizens.service import ReportService, Submission, photo_link
from urbis.citizens.store import ReportFilter
from urbis.core.errors import BadRequestData, NotFound, PayloadTooLarge, PolicyDenied
from urbis.core.settings import Settings
from urbis.web.ngsild.common import call
from urbis.web.open311.errors import Open311Route, error_response, format_of_path
from urbis.web.open311.render import DISCOVERY_TYPES, FORMATS, render, w3c_datetime
from urbis.web.ratelimit import RateLimits

router = APIRouter(prefix="/open311", tags=["open311"], route_class=Open311Route)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: The version path of the endpoint discovery announces.
API_PATH = "/open311/v2"
#: The spec's longest ``start_date``..``end_date`` span, and its default window.
MAX_SPAN = timedelta(days=90)
#: The spec's default volume ("90 days or 1000 requests") is also the largest page.
MAX_PAGE_SIZE = 1000
PAGE_SIZE = 50
MAX_IDS = 1000
#: ``servicerequestupdates`` looks back a day by default (FixMyStreet polls often).
UPDATES_WINDOW = timedelta(hours=24)
#: When no category change time is known: a fixed moment in the past (the changeset must be one).
FALLBACK_CHANGESET = datetime(2026, 1, 1, tzinfo=UTC)
KEY_SERVICE = "Ask the city's operators for a key (Urbis console: Open311 keys)"
MEDIA_NOT_FETCHED = (
    " The media_url was not fetched (this server fetches nothing from elsewhere);"
    " send the photo as a multipart 'media' file instead."
)
INVALID_KEY = "Invalid api_key received -- can't proceed with create_request."

#: Longest query or form value (a description is 4,000 characters; this leaves room, and no more).
_VALUE_LENGTH = 8000
_FORM_FIELDS = 500
_ATTRIBUTE = re.compile(r"attribute\[([^\[\]]+)\](\[\])?")
# Ids and tokens Urbis hands out; anything else cannot exist and never reaches the database.
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
#: Latest end of a window that still leaves room for arithmetic.
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


# -- parameters ----------------------------------------------------------------------------


class Values:
    """Request parameters (query or form), each name possibly repeated; empty values count as absent."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Keep ``pairs`` in order; control characters (other than line breaks and tabs) are a 400."""
        self.pairs: list[tuple[str, str]] = []
        for name, value in pairs:
            if _CONTROL.search(name) or _CONTROL.search(value):
                raise BadRequestData(f"parameter {name[:60]!r} holds control characters")
            if len(value) > _VALUE_LENGTH:
                raise BadRequestData(f"parameter {name[:60]!r} is longer than {_VALUE_LENGTH} characters")
            self.pairs.append((name, value))

    def get(self, name: str) -> str | None:
        """The first non-empty value of ``name``, trimmed; None when absent or empty."""
        for key, value in self.pairs:
            if key == name and value.strip():
                return value.strip()
        return None

    def text(self, name: str) -> str | None:
        """The first non-empty value of ``name`` as sent (a description keeps its line breaks)."""
        for key, value in self.pairs:
            if key == name and value.strip():
                return value
        return None

    def items(self, name: str) -> tuple[str, ...] | None:
        """Every comma-separated value of ``name`` over all its occurrences; None when there are none."""
        found = [part.strip() for key, value in self.pairs if key == name for part in value.split(",") if part.strip()]
        return tuple(dict.fromkeys(found)) or None

    def attributes(self) -> dict[str, list[str]]:
        """``attribute[CODE]`` and ``attribute[CODE][]`` values by code (a multi-value list repeats the key)."""
        answers: dict[str, list[str]] = {}
        for key, value in self.pairs:
            match = _ATTRIBUTE.fullmatch(key)
            if match is not None:
                answers.setdefault(match.group(1), []).append(value)
        return answers


def _number(values: Values, name: str) -> float | None:
    raw = values.get(name)
    if raw is None:
        return None
    try:
        number = float(raw)
    except ValueError:
        raise BadRequestData(f"{name} must be a number, got {raw[:40]!r}") from None
    if not math.isfinite(number):
        raise BadRequestData(f"{name} must be a finite number")
    return number


def _whole(values: Values, name: str, default: int, *, maximum: int) -> int:
    raw = values.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise BadRequestData(f"{name} must be a whole number from 1 to {maximum}, got {raw[:40]!r}")
    return int(raw)


def _instant(values: Values, name: str) -> datetime | None:
    """A W3C date-time (or date); one without a zone is taken as UTC."""
    raw = values.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequestData(
            f"{name} must be an ISO 8601 date and time such as 2026-03-01T00:00:00Z, got {raw[:40]!r}"
        ) from None
    return moment


def _flag(values: Values, name: str) -> bool:
    raw = values.get(name)
    if raw is None or raw.lower() in _FALSE:
        return False
    if raw.lower() in _TRUE:
        return True
    raise BadRequestData(f"{name} is true or false, got {raw[:40]!r}")


def _span(start: datetime | None, end: datetime | None, now: datetime, default: timedelta) -> tuple[datetime, datetime]:
    """The window of ``start_date``/``end_date``: at most 90 days, ``default`` back from ``now`` when neither is given."""
    if start is None and end is None:
        return now - default, now
    try:
        if start is None:
            assert end is not None
            start = end - min(default, MAX_SPAN)
        if end is None:
            end = start + min(default, MAX_SPAN)
    except OverflowError:
        raise BadRequestData("start_date or end_date is too far in the past or future") from None
    if end < start:
        raise BadRequestData("end_date is before start_date")
    if end - start > MAX_SPAN:
        raise BadRequestData("start_date and end_date may span at most 90 days")
    return start, end


# -- what every route shares ---------------------------------------------------------------


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"format {fmt[:20]!r} is not offered: use .json or .xml")
    return fmt


def _reports(request: Request) -> ReportService:
    service: ReportService = request.app.state.citizen_reports
    return service


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _tenant(request: Request, values: Values) -> str:
    """The tenant ``jurisdiction_id`` names (the default one when absent); 404 for an unknown one."""
    settings = _settings(request)
    jurisdiction = values.get("jurisdiction_id")
    if jurisdiction is None or jurisdiction == settings.default_tenant:
        return settings.default_tenant
    known: list[str] = await call(request.app.state.context.tenants)
    if jurisdiction not in known:
        raise NotFound(f"there is no jurisdiction {jurisdiction[:80]!r}")
    return jurisdiction


def _limits(request: Request) -> RateLimits | None:
    found = getattr(request.app.state, "rate_limits", None)
    return found if isinstance(found, RateLimits) else None


async def _count_read(request: Request) -> None:
    limits = _limits(request)
    if limits is not None:
        await call(limits.check_read, request)


def _media_url(request: Request, tenant: str, photo_id: str) -> str:
    """Where a photo is served (the photo's city rides along)."""
    return photo_link(_settings(request).effective_base_url, tenant, photo_id)


def _query(request: Request) -> Values:
    return Values(request.query_params.multi_items())


# -- discovery -----------------------------------------------------------------------------


def _changeset(service: ReportService, tenant: str) -> datetime:
    """When the tenant's categories last changed (clients refresh their service lists after it)."""
    return service.categories_changed_at(tenant) or FALLBACK_CHANGESET


async def discovery(request: Request, fmt: str) -> Response:
    """Service discovery: the endpoint, its formats, whom to contact and how to get a key."""
    fmt = _format(fmt)
    values = _query(request)
    tenant = await _tenant(request, values)
    await _count_read(request)
    settings = _settings(request)
    changeset = await call(_changeset, _reports(request), tenant)
    base = settings.effective_base_url
    document = {
        "changeset": changeset,
        "contact": settings.open311_contact or f"The city's Urbis operators ({base})",
        "key_service": settings.open311_key_service or KEY_SERVICE,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base + API_PATH,
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(document, fmt, "discovery", content_type=DISCOVERY_TYPES[fmt])


router.add_api_route("/discovery.{fmt}", discovery, methods=["GET"])
router.add_api_route("/v2/discovery.{fmt}", discovery, methods=["GET"])


# -- services ------------------------------------------------------------------------------


def service_json(category: Category) -> dict[str, Any]:
    """A category as an Open311 service."""
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": category.has_metadata,
        "type": "realtime",
        "keywords": ",".join(category.keywords),
        "group": category.group,
    }


def attribute_json(question: Question) -> dict[str, Any]:
    """A category's question as an Open311 attribute; ``values`` only for the two list types."""
    attribute: dict[str, Any] = {
        "variable": question.variable,
        "code": question.code,
        "datatype": question.datatype.value,
        "required": question.required,
        "datatype_description": question.datatype_description or None,
        "order": question.order,
        "description": question.description,
    }
    if question.values:
        attribute["values"] = [{"key": choice.key, "name": choice.name} for choice in question.values]
    return attribute


@router.get("/v2/services.{fmt}")
async def services(request: Request, fmt: str) -> Response:
    """The service list: the tenant's active categories."""
    fmt = _format(fmt)
    tenant = await _tenant(request, _query(request))
    await _count_read(request)
    categories: list[Category] = await call(_reports(request).categories, tenant)
    return render([service_json(c) for c in categories], fmt, "services")


@router.get("/v2/services/{code}.{fmt}")
async def service_definition(request: Request, code: str, fmt: str) -> Response:
    """A service definition: the category's attributes in display order."""
    fmt = _format(fmt)
    tenant = await _tenant(request, _query(request))
    await _count_read(request)
    if not _CODE.fullmatch(code):
        raise NotFound(f"there is no service {code[:80]!r}")
    category: Category = await call(_reports(request).category, tenant, code)
    questions = sorted(category.questions, key=lambda q: q.order)
    definition = {"service_code": category.code, "attributes": [attribute_json(q) for q in questions]}
    return render(definition, fmt, "service_definition")


# -- creating requests ---------------------------------------------------------------------


@dataclass
class _Form:
    """The posted fields, and the ``media`` uploads (spooled to disk by the parser, read once the key is good)."""

    values: Values
    uploads: list[UploadFile] = field(default_factory=list)
    parsed: FormData | None = None

    async def photos(self) -> list[bytes]:
        """The uploaded photos' bytes."""
        return [await upload.read() for upload in self.uploads]

    async def close(self) -> None:
        """Remove the spooled uploads."""
        if self.parsed is not None:
            await self.parsed.close()


def _check_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is {declared} bytes; the limit is {limit}")


async def _body(request: Request, limit: int) -> bytes:
    _check_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_form(request: Request) -> _Form:
    """The posted fields (and ``media`` photos), within the body limits; 400 for any other body."""
    settings = _settings(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in ("", _FORM):
        body = await _body(request, settings.max_body_bytes)
        try:
            text = body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=_FORM_FIELDS)
        except UnicodeDecodeError:
            raise BadRequestData("the form is not UTF-8") from None
        except ValueError:
            raise BadRequestData(f"the form has more than {_FORM_FIELDS} fields") from None
        return _Form(Values(pairs))
    if media != _MULTIPART:
        raise BadRequestData(f"send the request as {_FORM} (or {_MULTIPART} with photos), not {media[:60]!r}")
    limit = settings.max_body_bytes + MAX_PHOTOS * settings.citizen_photo_max_bytes
    _check_length(request, limit)
    size = 0

    async def bounded() -> Message:
        # Counts a chunked body too: the parser streams, so nothing beyond the limit is ever held.
        nonlocal size
        message = await request.receive()
        size += len(message.get("body", b""))
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        return message

    parsed = await StarletteRequest(request.scope, bounded).form(max_files=MAX_PHOTOS + 2, max_fields=_FORM_FIELDS)
    form = _Form(Values([]), parsed=parsed)
    try:
        fields: list[tuple[str, str]] = []
        for name, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                if name in ("media", "media[]"):
                    form.uploads.append(value)
            else:
                fields.append((name, value))
        form.values = Values(fields)
    except BaseException:
        await form.close()
        raise
    return form


def _api_key(request: Request, values: Values) -> str | None:
    key = values.get("api_key")
    if key is not None:
        return key
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


@router.post("/v2/requests.{fmt}")
async def create_request(request: Request, fmt: str) -> Response:
    """File a service request (form-encoded, with an API key); its id, or a token while it awaits confirmation."""
    fmt = _format(fmt)
    form = await _read_form(request)
    try:
        return await _create(request, fmt, form)
    finally:
        await form.close()


async def _create(request: Request, fmt: str, form: _Form) -> Response:
    # Some clients put jurisdiction_id or api_key in the query string: the form comes first.
    values = Values([*form.values.pairs, *_query(request).pairs])
    tenant = await _tenant(request, values)
    service = _reports(request)
    key = await call(service.check_api_key, tenant, _api_key(request, values))
    if key is None:
        raise PolicyDenied(INVALID_KEY)
    limits = _limits(request)
    if limits is not None:
        await call(limits.check_submission, request, f"key:{key.id}")
    service_code = values.get("service_code")
    if service_code is None:
        raise BadRequestData("service_code is required")
    if not _CODE.fullmatch(service_code):
        raise NotFound(f"there is no service {service_code[:80]!r}")
    submission = Submission(
        service_code=service_code,
        description=values.text("description") or "",
        lat=_number(values, "lat"),
        long=_number(values, "long"),
        address=values.get("address_string"),
        address_id=values.get("address_id"),
        zipcode=values.get("zipcode"),
        answers=values.attributes(),
        object_type=values.get("service_object_type"),
        object_id=values.get("service_object_id"),
        channel=Channel.OPEN311,
        photos=await form.photos(),
        email=values.get("email"),
        first_name=values.get("first_name"),
        last_name=values.get("last_name"),
        phone=values.get("phone"),
        device_id=values.get("device_id"),
        trusted=False,
    )
    receipt = await call(service.submit, tenant, submission)
    notice = receipt.notice + (MEDIA_NOT_FETCHED if values.get("media_url") else "")
    item: dict[str, Any] = (
        {"token": receipt.report.token} if receipt.awaiting_confirmation else {"service_request_id": receipt.report.id}
    )
    item.update(service_notice=notice, account_id=None)
    return render([item], fmt, "service_requests")


# -- reading requests ----------------------------------------------------------------------


def _note_json(note: Update) -> dict[str, Any]:
    return {
        "datetime": note.at,
        "description": note.description,
        "type": note.kind.value,
        "status": None if note.stage is None else note.stage.status.value,
    }


def request_json(
    request: Request, report: Report, *, extensions: bool = False, notes: Sequence[Update] = ()
) -> dict[str, Any]:
    """A public report as an Open311 service request: public fields only, never who sent it."""
    media_urls = [_media_url(request, report.tenant, photo_id) for photo_id in report.photos]
    item: dict[str, Any] = {
        "service_request_id": report.id,
        "status": report.status.value,
        "status_notes": report.status_notes,
        "service_name": report.service_name,
        "service_code": report.service_code,
        "description": report.description or None,
        "agency_responsible": report.department,
        "service_notice": None,
        "requested_datetime": report.requested_at,
        "updated_datetime": report.updated_at,
        "expected_datetime": report.expected_at,
        "address": report.address,
        "address_id": report.address_id,
        "zipcode": report.zipcode,
        "lat": report.lat,
        "long": report.long,
        "media_url": media_urls[0] if media_urls else None,
    }
    if extensions:
        item["extended_attributes"] = {
            "detailed_status": report.stage.value,
            "service_object_type": report.object_type,
            "service_object_id": report.object_id,
            "media_urls": media_urls,
            "duplicate": report.stage is Stage.DUPLICATE,
            "parent_service_request_id": report.parent_id,
            "district": report.district,
            "channel": report.channel.value,
            "attributes": [
                {"code": code, "values": list(answer) if isinstance(answer, list) else [answer]}
                for code, answer in report.answers.items()
            ],
            "notes": [_note_json(note) for note in notes],
        }
    return item


@dataclass(frozen=True)
class _Page:
    number: int
    size: int
    paged: bool  # the client asked for pages (else the spec's default volume)


def _page(values: Values) -> _Page:
    paged = values.get("page") is not None or values.get("page_size") is not None
    size = _whole(values, "page_size", PAGE_SIZE if paged else MAX_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    number = _whole(values, "page", 1, maximum=1_000_000)
    return _Page(number, size, paged)


def _filter(values: Values, now: datetime, page: _Page) -> ReportFilter:
    """The ``GET /requests`` filters other than the ids, the place and the asset's type."""
    statuses = values.items("status")
    for status in statuses or ():
        if status not in ("open", "closed"):
            raise BadRequestData(f"status is open or closed (comma-separated), got {status[:40]!r}")
    updated_after, updated_before = _instant(values, "updated_after"), _instant(values, "updated_before")
    start, end = _instant(values, "start_date"), _instant(values, "end_date")
    requested: tuple[datetime | None, datetime | None] = (None, None)
    if start is not None or end is not None or (updated_after is None and updated_before is None):
        requested = _span(start, end, now, MAX_SPAN)
    bbox = values.items("bbox")
    box: tuple[float, float, float, float] | None = None
    if bbox is not None:
        try:
            west, south, east, north = (float(part) for part in bbox)
        except ValueError:
            raise BadRequestData("bbox is west,south,east,north in degrees") from None
        box = (west, south, east, north)
        if not all(math.isfinite(edge) for edge in box):
            raise BadRequestData("bbox is west,south,east,north in degrees")
    return ReportFilter(
        service_codes=values.items("service_code"),
        statuses=statuses,
        requested_from=requested[0],
        requested_until=requested[1],
        updated_after=updated_after,
        updated_before=updated_before,
        department=values.get("agency_responsible"),
        object_id=values.get("service_object_id"),
        object_type=values.get("service_object_type"),
        public_only=True,
        bbox=box,
        search=values.get("search") or values.get("q"),
        limit=page.size,
        offset=(page.number - 1) * page.size,
    )


def _paging_headers(request: Request, page: _Page, total: int) -> dict[str, str]:
    pages = max(1, math.ceil(total / page.size))
    headers = {"X-Total-Count": str(total), "X-Result-Count": str(total), "X-Page-Count": str(pages)}
    if page.number < pages:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "page_size")]
        query = urlencode([*kept, ("page", str(page.number + 1)), ("page_size", str(page.size))])
        headers["X-Next-Page-URL"] = f"{_settings(request).effective_base_url}{request.url.path}?{query}"
    return headers


@router.get("/v2/requests.{fmt}")
async def list_requests(request: Request, fmt: str) -> Response:
    """Public service requests matching the filters (``service_request_id`` overrides all others)."""
    fmt = _format(fmt)
    values = _query(request)
    tenant = await _tenant(request, values)
    await _count_read(request)
    service = _reports(request)
    extensions = _flag(values, "extensions")
    ids = values.items("service_request_id")
    headers: dict[str, str] = {}
    if ids is not None:
        if len(ids) > MAX_IDS:
            raise BadRequestData(f"ask for at most {MAX_IDS} service_request_id at once")
        wanted = ReportFilter(ids=tuple(i for i in ids if _ID.fullmatch(i)), public_only=True, limit=MAX_IDS)
        found, total = await call(service.find, tenant, wanted)
        headers = {"X-Total-Count": str(total), "X-Result-Count": str(total), "X-Page-Count": "1"}
    else:
        object_type, object_id = values.get("service_object_type"), values.get("service_object_id")
        if (object_type is None) != (object_id is None):
            raise BadRequestData("service_object_type and service_object_id go together")
        page = _page(values)
        wanted = _filter(values, service.clock.now(), page)
        lat, long, radius = _number(values, "lat"), _number(values, "long"), _number(values, "radius")
        if lat is None and long is None and radius is None:
            found, total = await call(service.find, tenant, wanted)
        elif lat is None or long is None or radius is None:
            raise BadRequestData("lat, long and radius (metres) go together")
        else:
            found, total = await call(service.around, tenant, wanted, lat, long, radius)
        headers = _paging_headers(request, page, total)
    notes = await call(service.public_notes, tenant, [r.id for r in found]) if extensions and found else {}
    items = [request_json(request, r, extensions=extensions, notes=notes.get(r.id, ())) for r in found]
    return render(items, fmt, "service_requests", headers=headers)


@router.get("/v2/requests/{request_id}.{fmt}")
async def get_request(request: Request, request_id: str, fmt: str) -> Response:
    """One public service request, as a list of one."""
    fmt = _format(fmt)
    values = _query(request)
    tenant = await _tenant(request, values)
    await _count_read(request)
    if not _ID.fullmatch(request_id):
        raise NotFound(f"there is no service request {request_id[:80]!r}")
    service = _reports(request)
    report: Report = await call(service.public_report, tenant, request_id)
    extensions = _flag(values, "extensions")
    notes = await call(service.public_notes, tenant, [report.id]) if extensions else {}
    return render(
        [request_json(request, report, extensions=extensions, notes=notes.get(report.id, ()))],
        fmt,
        "service_requests",
    )


@router.get("/v2/tokens/{token}.{fmt}")
async def token(request: Request, token: str, fmt: str) -> Response:
    """The id a token stands for, once the report is public; null while it waits (confirmation, moderation)."""
    fmt = _format(fmt)
    tenant = await _tenant(request, _query(request))
    await _count_read(request)
    if not _ID.fullmatch(token):
        raise NotFound(f"there is no token {token[:80]!r}")
    report: Report = await call(_reports(request).by_token, token)
    if report.tenant != tenant:
        raise NotFound(f"there is no token {token[:80]!r}")
    item = {"service_request_id": report.id if report.public else None, "token": token}
    return render([item], fmt, "service_requests")


@router.get("/v2/servicerequestupdates.{fmt}")
async def service_request_updates(request: Request, fmt: str) -> Response:
    """Public status changes of public requests in a window (FixMyStreet's extension; the last 24 h by default)."""
    fmt = _format(fmt)
    values = _query(request)
    tenant = await _tenant(request, values)
    await _count_read(request)
    service = _reports(request)
    start, end = _span(
        _instant(values, "start_date"), _instant(values, "end_date"), service.clock.now(), UPDATES_WINDOW
    )
    # updates_between's window is [start, end); an end named by the client is meant inclusively.
    found = await call(service.updates_between, tenant, start, min(end, _LATEST) + timedelta(microseconds=1))
    items = [
        {
            "update_id": update.id,
            "service_request_id": update.report_id,
            "status": None if update.stage is None else update.stage.status.value,
            "updated_datetime": w3c_datetime(update.at),
            "description": update.description,
            "media_url": None,
            "external_status_code": None if update.stage is None else update.stage.value,
        }
        for update in found
    ]
    return render(items, fmt, "service_request_updates")


# -- everything else under /open311 ---------------------------------------------------------

_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def elsewhere(request: Request) -> Response:
    """Unknown paths (404) and wrong methods (HTTP 400, code 405) in the error shape."""
    fmt = format_of_path(request.url.path)
    allowed: set[str] = set()
    for route in router.routes:
        if isinstance(route, APIRoute) and route.endpoint is not elsewhere and route.path_regex.match(request.url.path):
            allowed |= route.methods or set()
    if allowed:
        methods = ", ".join(sorted(allowed))
        return error_response(
            fmt,
            405,
            f"{request.method} is not allowed on {request.url.path}; use {methods}",
            headers={"Allow": methods},
        )
    return error_response(fmt, 404, f"there is nothing at {request.url.path}; see {API_PATH}/discovery.json")


router.add_api_route("", elsewhere, methods=_ANY_METHOD, include_in_schema=False)
router.add_api_route("/{rest:path}", elsewhere, methods=_ANY_METHOD, include_in_schema=False)
