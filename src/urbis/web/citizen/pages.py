"""The citizen app under ``/app``: air quality, parking, reporting a problem, and a resident's own things.

Server-rendered pages (htmx where it helps) that work without JavaScript, except picking a point
on the map, which falls back to a place name or typed coordinates.  Every data page has a
``.json`` twin built from the same view (:mod:`urbis.web.citizen.views`).  The app is installable
(``/app/manifest.webmanifest``) and keeps the last-seen pages for offline reading through its
service worker (``/app/sw.js``).

Residents log in with the dashboard's cookie (:mod:`urbis.web.citizen.session`); reports can also
be sent without an account, confirmed by e-mail.  Submissions are rate-limited like every other
citizen channel; a resident who hits the limit sees the form again, with everything typed, and
when to try again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile
from starlette.requests import Request as StarletteRequest
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Message

import urbis
from urbis.citizens import nearby
from urbis.citizens.model import MAX_PHOTOS, Category, Channel, Report
from urbis.citizens.moderation import FlagReason, parse_flag_reason
from urbis.citizens.notify import (
    DEFAULT_RADIUS_M,
    FEED_PAGE_MAX,
    Follow,
    FollowKind,
    Notifier,
    parse_follow_kind,
)
from urbis.citizens.places import CityPlaces, Places
from urbis.citizens.service import ReportService, Submission, photo_link
from urbis.citizens.views import public_report_view, report_url
from urbis.context.jsonld import URBIS_CONTEXT_URL
from urbis.core.auth.passwords import MIN_PASSWORD_LENGTH
from urbis.core.auth.service import AccountService
from urbis.core.clock import Clock
from urbis.core.errors import (
    AlreadyExists,
    BadRequestData,
    Conflict,
    NotFound,
    PayloadTooLarge,
    PolicyDenied,
    Unauthenticated,
    UrbisError,
)
from urbis.core.settings import Settings
from urbis.web.citizen import views
from urbis.web.citizen.session import (
    CSRF_FIELD_NAME,
    Resident,
    Visit,
    csrf_ok,
    remember_sent,
    require_csrf,
    sent_reports,
    visit_of,
)
from urbis.web.errors import problem_of, problem_response
from urbis.web.ngsild.common import call, read_body
from urbis.web.params import json_response
from urbis.web.ratelimit import RateLimits, TooManyRequests
from urbis.web.ui.common import pages_of, security_headers, settings_of_app
from urbis.web.ui.i18n import translations
from urbis.web.ui.session import SESSION_COOKIE, cookie_is_secure, safe_next

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
SERVICE_WORKER = STATIC_DIR / "citizen-sw.js"
#: Files whose change must reach installed apps: their hash names the service worker's caches.
SHELL_FILES = ("citizen.css", "citizen.js", "citizen-map.js", "citizen-sw.js")
#: A login or signup form is a few short fields.
MAX_LOGIN_FIELDS = 8
#: Text fields of the report form (answers included); anything beyond is not our form.
MAX_REPORT_FIELDS = 200
#: A comment or flag form.
MAX_SMALL_FIELDS = 10
#: Room for the report form's text besides its photos.
FORM_TEXT_BYTES = 256 * 1024
HOME = "/app"


class CitizenRoute(APIRoute):
    """A citizen-app route whose rate-limit refusals come out friendly: a page saying when to try again.

    JSON twins and fragments get ProblemDetails with ``Retry-After`` instead.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The endpoint's handler, answering TooManyRequests itself."""
        handler = super().get_route_handler()

        async def friendly(request: Request) -> Response:
            try:
                return await handler(request)
            except TooManyRequests as error:
                if request.url.path.endswith(".json") or request.headers.get("hx-request"):
                    return problem_response(problem_of(error, request.url.path), error.headers)
                visit = visit_of(request, settings_of_app(request))
                context = {"retry_after": error.retry_after}
                return render_page(
                    request, "citizen/busy.html", context, visit=visit, status=429, headers=error.headers
                )

        return friendly


router = APIRouter(include_in_schema=False, route_class=CitizenRoute)


# -- shared helpers -----------------------------------------------------------------------------


def _reports(request: Request) -> ReportService:
    service: ReportService = request.app.state.citizen_reports
    return service


def _places(request: Request, tenant: str) -> CityPlaces | None:
    places: Places | None = getattr(request.app.state, "places", None)
    return None if places is None else places.of(tenant)


def _notifier(request: Request) -> Notifier | None:
    """The follows and feed (None while the app runs without them)."""
    found = getattr(request.app.state, "notifier", None)
    return found if isinstance(found, Notifier) else None


def _clock(request: Request) -> Clock:
    return _reports(request).clock


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(settings_of_app(request).city_timezone)


def _visit(request: Request) -> Visit:
    return visit_of(request, settings_of_app(request))


def _limits(request: Request) -> RateLimits | None:
    found = getattr(request.app.state, "rate_limits", None)
    return found if isinstance(found, RateLimits) else None


def _count_read(request: Request) -> None:
    limits = _limits(request)
    if limits is not None:
        limits.check_read(request)


def _count_submission(request: Request, resident: Resident | None) -> None:
    limits = _limits(request)
    if limits is not None:
        limits.check_submission(request, None if resident is None else f"user:{resident.username}")


def render_page(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    visit: Visit,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A citizen-app page in the visitor's language, with the security headers.

    Templates extending ``citizen/base.html`` get ``resident`` (or None), ``tenant`` and
    ``generated_at`` (shown when the page is read offline); the participation pages use this too.
    """
    settings = settings_of_app(request)
    full = {
        "resident": visit.resident,
        "tenant": visit.tenant,
        "generated_at": _clock(request).now(),
        "csrf_field": CSRF_FIELD_NAME,
        **(context or {}),
    }
    return pages_of(request).render(
        request,
        template,
        None,
        full,
        language=visit.language,
        status=status,
        headers={**security_headers(settings), **(headers or {})},
    )


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    """An error under ``/app`` as a page of the citizen app (the API keeps ProblemDetails)."""
    visit = _visit(request)
    return render_page(
        request, "citizen/error.html", {"status": status, "title": title, "detail": detail}, visit=visit, status=status
    )


def is_app_page(request: Request) -> bool:
    """Whether a request asked for a citizen-app page (not a JSON twin or the app's files)."""
    path = request.url.path
    if path != HOME and not path.startswith(HOME + "/"):
        return False
    return not path.endswith((".json", ".js", ".webmanifest")) and "/media/" not in path


async def _read_form(
    request: Request, *, limit: int, max_fields: int, max_files: int = 0
) -> tuple[list[tuple[str, str]], list[bytes]]:
    """A posted form's text fields and uploaded files (empty file fields left out), within ``limit`` bytes."""
    body = await read_body(request, limit)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    # The body is read (and bounded) first; the form parser then reads it from memory.
    form = await StarletteRequest(request.scope, replay).form(max_files=max_files, max_fields=max_fields)
    try:
        fields: list[tuple[str, str]] = []
        files: list[bytes] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                if data:  # a file field left empty arrives as an empty part
                    files.append(data)
            else:
                fields.append((name, value))
        return fields, files
    finally:
        await form.close()


def _field(fields: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in fields if key == name), "")


def _url(path: str, **params: Any) -> str:
    kept = {key: value for key, value in params.items() if value not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/app/login?next={quote(target, safe='/?=&')}", status_code=303)


# -- the app's shell: manifest and service worker -------------------------------------------------


@cache
def _shell_version() -> str:
    digest = hashlib.sha256(urbis.__version__.encode())
    for name in SHELL_FILES:
        path = STATIC_DIR / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:12]


@router.get("/app/sw.js")
async def service_worker() -> Response:
    """The service worker (its file under /static cannot control /app, so it is served from here)."""
    script = SERVICE_WORKER.read_text(encoding="utf-8").replace("__URBIS_CACHE_VERSION__", _shell_version())
    return Response(
        script,
        media_type="text/javascript",
        headers={
            # Registered with scope /app so that /app itself (not only /app/...) works offline.
            "Service-Worker-Allowed": "/app",
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/app/manifest.webmanifest")
async def manifest(request: Request) -> Response:
    """The web app manifest: installable from the browser, opening on /app."""
    gettext = translations(_visit(request).language).gettext
    document = {
        "name": gettext("Urbis city app"),
        "short_name": "Urbis",
        "description": gettext("Air quality, parking and problem reports for your city"),
        "start_url": HOME,
        "scope": HOME,
        "display": "standalone",
        "theme_color": "#0b5cad",
        "background_color": "#ffffff",
        "lang": _visit(request).language,
        "icons": [
            {"src": "/static/urbis/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": "/static/urbis/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
        ],
    }
    return json_response(document, headers={"Content-Type": "application/manifest+json", "Cache-Control": "no-cache"})


# -- home ---------------------------------------------------------------------------------------


@router.get("/app")
async def home(request: Request) -> Response:
    """The three tasks (air, parking, report) and, for a resident, their latest reports."""
    visit = _visit(request)
    mine: list[Report] = []
    if visit.resident is not None:
        mine = (await call(_reports(request).reports_of, visit.tenant, visit.resident.username))[:3]
    return render_page(request, "citizen/home.html", {"my_reports": mine}, visit=visit)


# -- air quality --------------------------------------------------------------------------------


def _air(request: Request, visit: Visit) -> nearby.AirView:
    params = request.query_params
    spot, others = nearby.find_spot(
        _places(request, visit.tenant), params.get("lat"), params.get("long"), params.get("place")
    )
    return nearby.air_view(
        request.app.state.air_quality,
        visit.tenant,
        spot,
        _clock(request).now(),
        other_places=others,
        searched=params.get("place") or None,
    )


@router.get("/app/air")
async def air_page(request: Request) -> Response:
    """Air quality near a point or place (or the city's): index, colour, advice and today's forecast."""
    visit = _visit(request)
    _count_read(request)
    view = await call(_air, request, visit)
    return render_page(request, "citizen/air.html", {"air": view}, visit=visit)


@router.get("/app/air.json")
async def air_json(request: Request) -> Response:
    """The air page's JSON twin."""
    visit = _visit(request)
    _count_read(request)
    view = await call(_air, request, visit)
    return json_response(view.to_json())


# -- parking ------------------------------------------------------------------------------------


def _arrival_minutes(raw: str | None) -> int:
    if raw is None or not raw.isdigit() or int(raw) not in nearby.ARRIVALS:
        return 0
    return int(raw)


def _parking(request: Request, visit: Visit) -> nearby.ParkingView:
    params = request.query_params
    spot, others = nearby.find_spot(
        _places(request, visit.tenant), params.get("lat"), params.get("long"), params.get("place")
    )
    return nearby.parking_view(
        request.app.state.parking,
        visit.tenant,
        spot,
        _clock(request).now(),
        _arrival_minutes(params.get("in")),
        other_places=others,
        searched=params.get("place") or None,
    )


@router.get("/app/parking")
async def parking_page(request: Request) -> Response:
    """Where to park near a destination found by name or by "my location"."""
    visit = _visit(request)
    _count_read(request)
    view = await call(_parking, request, visit)
    return render_page(request, "citizen/parking.html", {"parking": view, "arrivals": nearby.ARRIVALS}, visit=visit)


@router.get("/app/parking.json")
async def parking_json(request: Request) -> Response:
    """The parking page's JSON twin."""
    visit = _visit(request)
    _count_read(request)
    view = await call(_parking, request, visit)
    return json_response(view.to_json())


# -- places and the map -------------------------------------------------------------------------


@router.get("/app/places.json")
async def places_json(request: Request) -> Response:
    """Districts and streets whose name contains ``q`` (the map's place search)."""
    visit = _visit(request)
    _count_read(request)
    text = (request.query_params.get("q") or "").strip()[:100]
    places = await call(_places, request, visit.tenant)
    found = [] if places is None or not text else places.search(text)
    return json_response([{"name": p.name, "kind": p.kind, "lat": p.lat, "long": p.long} for p in found])


def _map_layers(request: Request, tenant: str, wanted: set[str]) -> dict[str, Any]:
    layers: dict[str, Any] = {}
    places = _places(request, tenant)
    if places is not None:
        layers.update({name: value for name, value in views.place_features(places).items() if name in wanted})
    expand = request.app.state.contexts.resolve(URBIS_CONTEXT_URL).expand
    for object_type, layer in views.ASSET_LAYERS.items():
        if layer in wanted:
            entities = request.app.state.context.entities_of_type(tenant, expand(object_type))
            layers[layer] = views.asset_features(object_type, entities, expand("location"), expand("name"))
    return layers


@router.get("/app/map.json")
async def map_json(request: Request) -> Response:
    """The report map's GeoJSON: districts and streets, and on request the assets a report may name.

    ``layers`` is a comma list of ``districts``, ``streets``, ``lights``, ``bays`` and ``zones``
    (default: districts and streets).  Only public facts: names, shapes and positions.
    """
    visit = _visit(request)
    _count_read(request)
    raw = request.query_params.get("layers")
    known = {*views.BASE_LAYERS, *views.ASSET_LAYERS.values()}
    wanted = set(views.BASE_LAYERS) if not raw else {name.strip() for name in raw.split(",")} & known
    layers = await call(_map_layers, request, visit.tenant, wanted)
    return json_response({"layers": layers}, headers={"Cache-Control": "no-cache"})


# -- reporting a problem ------------------------------------------------------------------------


def _categories(request: Request, tenant: str) -> list[Category]:
    return _reports(request).categories(tenant)


def _category(categories: list[Category], code: str) -> Category | None:
    return next((c for c in categories if c.code == code), None)


def _nearby(request: Request, tenant: str, code: str, lat: str, long: str) -> list[views.NearbyReport]:
    latitude = nearby.parse_coordinate(lat, -90, 90)
    longitude = nearby.parse_coordinate(long, -180, 180)
    if not code or latitude is None or longitude is None:
        return []
    try:
        found = _reports(request).nearby(tenant, code, latitude, longitude)
    except BadRequestData:
        return []
    return views.nearby_reports(found, latitude, longitude)


def _follows_report(request: Request, visit: Visit) -> set[str]:
    """The reports the resident follows (to show "following" instead of a follow button)."""
    notifier = _notifier(request)
    if notifier is None or visit.resident is None:
        return set()
    return {
        f.target
        for f in notifier.follows_of(visit.tenant, visit.resident.username)
        if f.kind is FollowKind.REPORT and f.target
    }


def _form_context(
    request: Request,
    visit: Visit,
    draft: views.ReportDraft,
    *,
    errors: Mapping[str, views.FieldError] | None = None,
    problem: views.FieldError | None = None,
    notice: str | None = None,
    retry_after: int | None = None,
    found: list[Any] | None = None,
) -> dict[str, Any]:
    """Everything the report form needs (built in the thread pool: it reads the database)."""
    categories = _categories(request, visit.tenant)
    category = _category(categories, draft.service)
    settings = settings_of_app(request)
    return {
        "draft": draft,
        "groups": views.category_groups(categories),
        "layers_of": {c.code: views.layers_of(c) for c in categories},
        "category": category,
        "questions": views.questions_of(category),
        "errors": dict(errors or {}),
        "problem": problem,
        "notice": notice,
        "retry_after": retry_after,
        "found": found or [],
        "nearby": _nearby(request, visit.tenant, draft.service, draft.lat, draft.long),
        "following": _follows_report(request, visit),
        "can_follow": _notifier(request) is not None,
        "email_needed": visit.resident is None and _reports(request).rules.confirm_anonymous,
        "max_photos": MAX_PHOTOS,
        "photo_max_mb": max(1, settings.citizen_photo_max_bytes // (1024 * 1024)),
        "radius": round(_reports(request).rules.nearby_radius_m),
    }


@router.get("/app/report")
async def report_form(request: Request) -> Response:
    """The report form: where, what (category and its questions), description, photos, who."""
    visit = _visit(request)
    params = request.query_params
    draft = views.ReportDraft(service=params.get("service", ""), lat=params.get("lat", ""), long=params.get("long", ""))
    context = await call(_form_context, request, visit, draft)
    return render_page(request, "citizen/report.html", context, visit=visit)


@router.get("/app/report.json")
async def report_form_json(request: Request) -> Response:
    """The form's JSON twin: the categories with their questions, and the limits."""
    visit = _visit(request)
    categories = await call(_categories, request, visit.tenant)
    return json_response(
        {
            "categories": [views.category_json(c) for c in sorted(categories, key=lambda c: (c.position, c.name))],
            "maxPhotos": MAX_PHOTOS,
            "photoMaxBytes": settings_of_app(request).citizen_photo_max_bytes,
            "emailNeeded": visit.resident is None and _reports(request).rules.confirm_anonymous,
        }
    )


@router.get("/app/report/questions")
async def report_questions(request: Request) -> Response:
    """The chosen category's questions and department (an htmx fragment of the form)."""
    visit = _visit(request)
    draft = views.ReportDraft(service=request.query_params.get("service", ""))
    context = await call(_form_context, request, visit, draft)
    return render_page(request, "citizen/_questions.html", context, visit=visit)


@router.get("/app/report/nearby")
async def report_nearby(request: Request) -> Response:
    """Open public reports of the same category near the point (an htmx fragment: report or follow one)."""
    visit = _visit(request)
    _count_read(request)
    params = request.query_params
    found = await call(
        _nearby, request, visit.tenant, params.get("service", ""), params.get("lat", ""), params.get("long", "")
    )
    context = {
        "nearby": found,
        "following": await call(_follows_report, request, visit),
        "can_follow": _notifier(request) is not None,
        "radius": round(_reports(request).rules.nearby_radius_m),
    }
    return render_page(request, "citizen/_nearby.html", context, visit=visit)


@router.get("/app/report/nearby.json")
async def report_nearby_json(request: Request) -> Response:
    """The duplicate suggestions' JSON twin."""
    visit = _visit(request)
    _count_read(request)
    params = request.query_params
    found = await call(
        _nearby, request, visit.tenant, params.get("service", ""), params.get("lat", ""), params.get("long", "")
    )
    return json_response([n.to_json() for n in found])


def _submission(
    draft: views.ReportDraft, category: Category, photos: list[bytes], resident: Resident | None, zone: ZoneInfo
) -> Submission:
    lat = nearby.parse_coordinate(draft.lat, -90, 90)
    long = nearby.parse_coordinate(draft.long, -180, 180)
    object_type = draft.object_type.strip() or None
    object_id = draft.object_id.strip() or None
    if object_type not in category.object_types or object_id is None:
        # An asset picked for another category (the resident changed their mind) is not this report's.
        object_type = object_id = None
    return Submission(
        service_code=category.code,
        description=draft.description,
        lat=lat,
        long=long,
        address=draft.address.strip() or None,
        answers=views.prepared_answers(category, draft, zone),
        object_type=object_type,
        object_id=object_id,
        channel=Channel.APP,
        photos=photos,
        account=None if resident is None else resident.username,
        email=(draft.email.strip() or None) if resident is None else None,
        first_name=draft.name.strip() or None,
        show_name=draft.show_name,
        trusted=resident is not None,
    )


async def _form_again(request: Request, visit: Visit, draft: views.ReportDraft, status: int, **extra: Any) -> Response:
    context = await call(_form_context, request, visit, draft, **extra)
    headers = None
    if extra.get("retry_after"):
        headers = {"Retry-After": str(extra["retry_after"])}
    return render_page(request, "citizen/report.html", context, visit=visit, status=status, headers=headers)


@router.post("/app/report")
async def submit_report(request: Request) -> Response:
    """Send the report; on any problem the form comes back with what was typed and the problem beside its field."""
    visit = _visit(request)
    settings = settings_of_app(request)
    limit = FORM_TEXT_BYTES + (MAX_PHOTOS + 1) * settings.citizen_photo_max_bytes
    fields, photos = await _read_form(request, limit=limit, max_fields=MAX_REPORT_FIELDS, max_files=MAX_PHOTOS + 5)
    draft = views.parse_draft(fields)
    if not csrf_ok(request, visit.resident, _field(fields, CSRF_FIELD_NAME)):
        return await _form_again(request, visit, draft, 403, problem=views.FieldError("csrf"))
    if _field(fields, "refresh"):
        # Without JavaScript, choosing a category shows its questions on a fresh render of the form.
        return await _form_again(request, visit, draft, 200)
    if _field(fields, "find"):
        return await _find_place(request, visit, draft)
    zone = _zone(request)
    categories = await call(_categories, request, visit.tenant)
    category = _category(categories, draft.service)
    errors = views.check_draft(
        draft,
        category,
        anonymous=visit.resident is None,
        email_needed=_reports(request).rules.confirm_anonymous,
        photos=photos,
        photo_max_bytes=settings.citizen_photo_max_bytes,
        zone=zone,
    )
    if errors or category is None:
        return await _form_again(request, visit, draft, 400, errors=errors)
    try:
        _count_submission(request, visit.resident)
    except TooManyRequests as error:
        return await _form_again(request, visit, draft, 429, retry_after=error.retry_after)
    try:
        receipt = await call(
            _reports(request).submit, visit.tenant, _submission(draft, category, photos, visit.resident, zone)
        )
    except (BadRequestData, PayloadTooLarge, NotFound) as problem:
        return await _form_again(
            request, visit, draft, problem.status, problem=views.FieldError("service", problem.detail)
        )
    response = RedirectResponse(f"/app/reports/{receipt.report.id}?new=1", status_code=303)
    if visit.resident is None:
        remember_sent(response, request, settings, receipt.report.id)
    return response


async def _find_place(request: Request, visit: Visit, draft: views.ReportDraft) -> Response:
    """The no-JavaScript place search: the first match becomes the report's point."""
    places = await call(_places, request, visit.tenant)
    found = [] if places is None or not draft.address.strip() else places.search(draft.address.strip())
    if not found:
        return await _form_again(request, visit, draft, 200, errors={"location": views.FieldError("not-found")})
    draft.lat, draft.long = f"{found[0].lat:.6f}", f"{found[0].long:.6f}"
    return await _form_again(request, visit, draft, 200, found=found)


# -- one report ---------------------------------------------------------------------------------


def _visible(request: Request, visit: Visit, report_id: str) -> tuple[Report, bool]:
    """The report if this visitor may see it, and whether they sent it; NotFound otherwise."""
    service = _reports(request)
    report = service.get(visit.tenant, report_id)
    sender = report.id in sent_reports(request, settings_of_app(request))
    if not sender and visit.resident is not None:
        sender = service.sender_is(visit.tenant, report_id, visit.resident.username)
    if not report.public and not sender:
        raise NotFound(f"there is no public report {report_id!r:.80}")
    return report, sender


def _report_context(request: Request, visit: Visit, report_id: str) -> dict[str, Any]:
    report, sender = _visible(request, visit, report_id)
    service = _reports(request)
    try:
        category: Category | None = service.category(visit.tenant, report.service_code)
    except NotFound:
        category = None
    settings = settings_of_app(request)
    follow_id = None
    notifier = _notifier(request)
    if notifier is not None and visit.resident is not None:
        follow_id = next(
            (
                f.id
                for f in notifier.follows_of(visit.tenant, visit.resident.username)
                if f.kind is FollowKind.REPORT and f.target == report.id
            ),
            None,
        )
    return {
        "report": report,
        "category": category,
        "answers": views.answer_lines(category, report),
        "updates": views.public_updates(service.history(visit.tenant, report.id)),
        "photos": [photo_link("", report.tenant, photo_id) for photo_id in report.photos] if report.public else [],
        "hidden_photos": 0 if report.public else len(report.photos),
        "tracking_url": report_url(settings.effective_base_url, report.id),
        "sender": sender,
        "can_follow": notifier is not None,
        "follow_id": follow_id,
        "flag_reasons": [reason.value for reason in FlagReason],
    }


def _report_notice(request: Request) -> str | None:
    for name in ("new", "confirmed", "commented", "flagged", "followed", "unfollowed"):
        if request.query_params.get(name):
            return name
    return None


@router.get("/app/reports/{report_id}.json")
async def report_json(request: Request, report_id: str) -> Response:
    """A report's JSON twin: its public view (never who sent it) and whether it is confirmed."""
    visit = _visit(request)
    _count_read(request)
    report, _ = await call(_visible, request, visit, report_id)
    updates = await call(_reports(request).history, visit.tenant, report.id)
    view = public_report_view(report, settings_of_app(request).effective_base_url, updates)
    if not report.public:
        view["photos"] = []
    return json_response({**view, "confirmed": report.confirmed})


@router.get("/app/reports/{report_id}")
async def report_page(request: Request, report_id: str) -> Response:
    """A report's public page: its stage, history, photos, place and department (and, new, the confirmation)."""
    visit = _visit(request)
    _count_read(request)
    context = await call(_report_context, request, visit, report_id)
    context.update({"notice": _report_notice(request), "comment_error": None, "comment_text": ""})
    return render_page(request, "citizen/report_page.html", context, visit=visit)


@router.get("/app/reports/{report_id}/confirm")
async def confirm_form(request: Request, report_id: str) -> Response:
    """The confirmation link of the e-mail: a button (a mail scanner's prefetch must not confirm)."""
    visit = _visit(request)
    report = await call(_reports(request).get, visit.tenant, report_id)
    context = {"report": report, "code": request.query_params.get("code", "")}
    return render_page(request, "citizen/confirm.html", context, visit=visit)


@router.post("/app/reports/{report_id}/confirm")
async def confirm(request: Request, report_id: str) -> Response:
    """Confirm the report with the mailed code; it goes public and the page shows it."""
    visit = _visit(request)
    fields, _ = await _read_form(request, limit=FORM_TEXT_BYTES, max_fields=MAX_SMALL_FIELDS)
    try:
        await call(_reports(request).confirm, visit.tenant, report_id, _field(fields, "code"))
    except PolicyDenied:
        report = await call(_reports(request).get, visit.tenant, report_id)
        context = {"report": report, "code": "", "invalid": True}
        return render_page(request, "citizen/confirm.html", context, visit=visit, status=403)
    return RedirectResponse(f"/app/reports/{report_id}?confirmed=1", status_code=303)


@router.post("/app/reports/{report_id}/comment")
async def comment(request: Request, report_id: str) -> Response:
    """A logged-in resident comments on a public report; a problem shows the page again with the text kept."""
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(request)
    fields, _ = await _read_form(request, limit=FORM_TEXT_BYTES, max_fields=MAX_SMALL_FIELDS)
    text = _field(fields, "text")
    problem: views.FieldError | None = None
    status = 400
    if not csrf_ok(request, visit.resident, _field(fields, CSRF_FIELD_NAME)):
        problem, status = views.FieldError("csrf"), 403
    else:
        try:
            _count_submission(request, visit.resident)
            await call(_reports(request).comment, visit.tenant, report_id, text, by=visit.resident.username)
        except TooManyRequests as error:
            problem, status = views.FieldError("busy", str(error.retry_after)), 429
        except (BadRequestData, Conflict) as error:
            problem, status = views.FieldError("invalid", error.detail), error.status
        else:
            return RedirectResponse(f"/app/reports/{report_id}?commented=1#updates", status_code=303)
    context = await call(_report_context, request, visit, report_id)
    context.update({"notice": None, "comment_error": problem, "comment_text": text})
    return render_page(request, "citizen/report_page.html", context, visit=visit, status=status)


def _flagger(request: Request, visit: Visit) -> str:
    if visit.resident is not None:
        return f"user:{visit.resident.username}"
    # Without an account the flag is counted per address, never storing the address itself.
    limits = _limits(request)
    address = limits.client_key(request) if limits is not None else (request.client.host if request.client else "")
    return "ip:" + hashlib.sha256(address.encode()).hexdigest()[:16]


@router.post("/app/reports/{report_id}/flag")
async def flag(request: Request, report_id: str) -> Response:
    """Anyone tells the moderators that a public report does not belong (spam, offensive, personal data)."""
    visit = _visit(request)
    fields, _ = await _read_form(request, limit=FORM_TEXT_BYTES, max_fields=MAX_SMALL_FIELDS)
    require_csrf(request, visit.resident, _field(fields, CSRF_FIELD_NAME))
    reason = parse_flag_reason(_field(fields, "reason"))
    _count_submission(request, visit.resident)
    await call(_reports(request).flag, visit.tenant, "report", report_id, reason, flagger=_flagger(request, visit))
    return RedirectResponse(f"/app/reports/{report_id}?flagged=1", status_code=303)


# -- follows ------------------------------------------------------------------------------------


def _number(raw: str) -> float | None:
    try:
        return float(raw) if raw.strip() else None
    except ValueError:
        raise BadRequestData(f"{raw[:40]!r} is not a number") from None


@router.post("/app/follow")
async def follow(request: Request) -> Response:
    """Follow a report, a category or an area (a circle around a point) and get its news in the feed."""
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(request)
    notifier = _notifier(request)
    if notifier is None:
        raise NotFound("following is not available on this server")
    fields, _ = await _read_form(request, limit=FORM_TEXT_BYTES, max_fields=MAX_SMALL_FIELDS)
    require_csrf(request, visit.resident, _field(fields, CSRF_FIELD_NAME))
    kind = parse_follow_kind(_field(fields, "kind"))
    if kind not in (FollowKind.REPORT, FollowKind.CATEGORY, FollowKind.AREA):
        raise BadRequestData("follow a report, a category or an area here")
    by_mail = _field(fields, "by_mail") not in ("", "0")
    if kind is FollowKind.AREA:
        radius = _number(_field(fields, "radius")) or DEFAULT_RADIUS_M
        await call(
            notifier.follow,
            visit.tenant,
            visit.resident.username,
            kind,
            target=_field(fields, "label") or None,
            lat=_number(_field(fields, "lat")),
            long=_number(_field(fields, "long")),
            radius_m=radius,
            by_mail=by_mail,
        )
    else:
        await call(
            notifier.follow,
            visit.tenant,
            visit.resident.username,
            kind,
            target=_field(fields, "target"),
            by_mail=by_mail,
        )
    back = safe_next(_field(fields, "next"), "/app/me")
    return RedirectResponse(back + ("&" if "?" in back else "?") + "followed=1", status_code=303)


@router.post("/app/unfollow")
async def unfollow(request: Request) -> Response:
    """Stop following something."""
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(request)
    notifier = _notifier(request)
    if notifier is None:
        raise NotFound("following is not available on this server")
    fields, _ = await _read_form(request, limit=FORM_TEXT_BYTES, max_fields=MAX_SMALL_FIELDS)
    require_csrf(request, visit.resident, _field(fields, CSRF_FIELD_NAME))
    await call(notifier.unfollow, visit.tenant, visit.resident.username, _field(fields, "follow_id"))
    back = safe_next(_field(fields, "next"), "/app/me")
    return RedirectResponse(back + ("&" if "?" in back else "?") + "unfollowed=1", status_code=303)


# -- my things ----------------------------------------------------------------------------------


def _me(request: Request, visit: Visit, resident: Resident) -> dict[str, Any]:
    reports = _reports(request).reports_of(visit.tenant, resident.username)
    notifier = _notifier(request)
    follows: list[Follow] = []
    feed = None
    if notifier is not None:
        follows = notifier.follows_of(visit.tenant, resident.username)
        feed = notifier.feed_of(visit.tenant, resident.username, limit=FEED_PAGE_MAX)
    entries = [] if feed is None else sorted(feed.entries, key=lambda e: (e.read, -e.at.timestamp()))
    categories = {c.code: c for c in _reports(request).categories(visit.tenant, include_inactive=True)}
    return {
        "my_reports": reports,
        "follows": follows,
        "feed": entries,
        "unread": 0 if feed is None else feed.unread,
        "can_follow": notifier is not None,
        "categories": categories,
    }


@router.get("/app/me")
async def me_page(request: Request) -> Response:
    """A resident's reports with their stage, what they follow, their feed (unread first), and their data."""
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(request)
    context = await call(_me, request, visit, visit.resident)
    context["notice"] = _report_notice(request) or request.query_params.get("done")
    return render_page(request, "citizen/me.html", context, visit=visit)


@router.get("/app/me.json")
async def me_json(request: Request) -> Response:
    """The resident page's JSON twin."""
    visit = _visit(request)
    if visit.resident is None:
        raise Unauthenticated("log in to see your things")
    context = await call(_me, request, visit, visit.resident)
    base_url = settings_of_app(request).effective_base_url
    return json_response(
        {
            "username": visit.resident.username,
            "reports": [
                {**public_report_view(r, base_url), "confirmed": r.confirmed, "updates": None}
                for r in context["my_reports"]
            ],
            "follows": [
                {
                    "id": f.id,
                    "kind": f.kind.value,
                    "target": f.target,
                    "lat": f.lat,
                    "long": f.long,
                    "radius": f.radius_m,
                }
                for f in context["follows"]
            ],
            "feed": [
                {"id": e.id, "at": e.at, "title": e.title, "body": e.body, "link": e.link, "read": e.read}
                for e in context["feed"]
            ],
            "unread": context["unread"],
        }
    )


@router.post("/app/me/feed/read")
async def feed_read(request: Request) -> Response:
    """Mark the whole feed read."""
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(request)
    fields, _ = await _read_form(request, limit=FORM_TEXT_BYTES, max_fields=MAX_SMALL_FIELDS)
    require_csrf(request, visit.resident, _field(fields, CSRF_FIELD_NAME))
    notifier = _notifier(request)
    if notifier is not None:
        await call(notifier.mark_read, visit.tenant, visit.resident.username)
    return RedirectResponse("/app/me#feed", status_code=303)


@router.get("/app/me/data")
async def download_my_data(request: Request) -> Response:
    """Everything Urbis keeps about the resident, as a JSON file to save."""
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(request)
    data = await call(request.app.state.resident_data.export, visit.tenant, visit.resident.username)
    headers = {"Content-Disposition": 'attachment; filename="urbis-my-data.json"', "Cache-Control": "no-store"}
    return json_response(data, headers=headers)


@router.post("/app/me/data/delete")
async def delete_my_data(request: Request) -> Response:
    """Forget who sent the resident's reports (they stay, anonymous), who supported and voted, follows and feed.

    The login stays.
    """
    visit = _visit(request)
    if visit.resident is None:
        return _login_redirect(request)
    fields, _ = await _read_form(request, limit=FORM_TEXT_BYTES, max_fields=MAX_SMALL_FIELDS)
    require_csrf(request, visit.resident, _field(fields, CSRF_FIELD_NAME))
    if not _field(fields, "sure"):
        context = await call(_me, request, visit, visit.resident)
        context.update({"notice": None, "delete_error": True})
        return render_page(request, "citizen/me.html", context, visit=visit, status=400)
    await call(request.app.state.resident_data.erase, visit.tenant, visit.resident.username)
    return RedirectResponse("/app/me?done=deleted", status_code=303)


# -- login, signup, logout ----------------------------------------------------------------------


def _set_session(response: Response, request: Request, settings: Settings, token: str, ttl: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ttl,
        httponly=True,
        secure=cookie_is_secure(settings, request),
        samesite="lax",
        path="/",
    )


def _authenticate(accounts: AccountService, settings: Settings, username: str, password: str) -> Any:
    try:
        return accounts.authenticate_password(username, password, None)
    except BadRequestData:
        # An account of several cities logs into the one this app shows.
        return accounts.authenticate_password(username, password, settings.default_tenant)


@router.get("/app/login")
async def login_form(request: Request) -> Response:
    """The residents' login form."""
    visit = _visit(request)
    context = {"next": safe_next(request.query_params.get("next"), HOME), "error": None, "username": ""}
    return render_page(request, "citizen/login.html", context, visit=visit)


@router.post("/app/login")
async def login(request: Request) -> Response:
    """Check the username and password; on success set the login cookie and go on."""
    visit = _visit(request)
    settings = settings_of_app(request)
    fields, _ = await _read_form(request, limit=FORM_TEXT_BYTES, max_fields=MAX_LOGIN_FIELDS)
    username, password = _field(fields, "username").strip(), _field(fields, "password")
    next_path = safe_next(_field(fields, "next"), HOME)
    accounts: AccountService = request.app.state.accounts
    try:
        if not username or not password:
            raise Unauthenticated("missing")
        actor = await call(_authenticate, accounts, settings, username, password)
    except (Unauthenticated, PolicyDenied, BadRequestData):
        context = {"next": next_path, "error": "bad", "username": username}
        return render_page(request, "citizen/login.html", context, visit=visit, status=401)
    token, ttl = accounts.issue_token(actor)
    response = RedirectResponse(next_path, status_code=303)
    _set_session(response, request, settings, token, ttl)
    return response


@router.get("/app/signup")
async def signup_form(request: Request) -> Response:
    """Create a resident's account."""
    visit = _visit(request)
    context = {
        "next": safe_next(request.query_params.get("next"), HOME),
        "errors": {},
        "values": {},
        "min_password": MIN_PASSWORD_LENGTH,
    }
    return render_page(request, "citizen/signup.html", context, visit=visit)


def _signup_field(error: UrbisError) -> str:
    """Which field a refusal of the account service is about."""
    if isinstance(error, AlreadyExists):
        return "username"
    detail = error.detail.lower()
    if "password" in detail:
        return "password"
    if "e-mail" in detail or "email" in detail:
        return "email"
    return "username"


@router.post("/app/signup")
async def signup(request: Request) -> Response:
    """Create the account (role ``citizen`` in the city shown), log in and go on."""
    visit = _visit(request)
    settings = settings_of_app(request)
    fields, _ = await _read_form(request, limit=FORM_TEXT_BYTES, max_fields=MAX_LOGIN_FIELDS)
    values = {name: _field(fields, name).strip() for name in ("username", "email")}
    password = _field(fields, "password")
    next_path = safe_next(_field(fields, "next"), HOME)
    accounts: AccountService = request.app.state.accounts
    errors: dict[str, views.FieldError] = {}
    if not values["username"]:
        errors["username"] = views.FieldError("missing")
    if not password:
        errors["password"] = views.FieldError("missing")
    status = 400
    if not errors:
        try:
            _count_submission(request, None)
            await call(
                accounts.create_user,
                values["username"],
                password,
                tenant=settings.default_tenant,
                roles=["citizen"],
                email=values["email"] or None,
            )
        except TooManyRequests as error:
            errors["form"] = views.FieldError("busy", str(error.retry_after))
            status = 429
        except (AlreadyExists, BadRequestData, NotFound) as error:
            code = "taken" if isinstance(error, AlreadyExists) else "invalid"
            errors[_signup_field(error)] = views.FieldError(code, error.detail)
            status = error.status
    if errors:
        context = {"next": next_path, "errors": errors, "values": values, "min_password": MIN_PASSWORD_LENGTH}
        return render_page(request, "citizen/signup.html", context, visit=visit, status=status)
    actor = await call(accounts.authenticate_password, values["username"], password, settings.default_tenant)
    token, ttl = accounts.issue_token(actor)
    response = RedirectResponse(next_path, status_code=303)
    _set_session(response, request, settings, token, ttl)
    return response


@router.post("/app/logout")
async def logout(request: Request) -> Response:
    """Forget the login cookie and go home."""
    visit = _visit(request)
    fields, _ = await _read_form(request, limit=FORM_TEXT_BYTES, max_fields=MAX_SMALL_FIELDS)
    require_csrf(request, visit.resident, _field(fields, CSRF_FIELD_NAME))
    response = RedirectResponse(HOME, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
