"""The mayor's pages: login, language, the city overview (and its JSON twin and live fragments)."""

from __future__ import annotations

from datetime import date, timedelta

from babel.dates import get_day_names
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from urbis.core.auth.service import AccountService
from urbis.core.errors import BadRequestData, NotFound, PolicyDenied, Unauthenticated
from urbis.dashboard.charts import parse_month
from urbis.dashboard.overview import FRAGMENTS
from urbis.dashboard.report import REPORT_CHARTS, ReportService
from urbis.dashboard.service import DashboardService
from urbis.web.params import json_response
from urbis.web.ui.common import ViewerDep, csv_response, render, settings_of_app
from urbis.web.ui.i18n import LANGUAGES
from urbis.web.ui.session import (
    CSRF_FIELD,
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    cookie_is_secure,
    page_language,
    safe_next,
)

router = APIRouter(include_in_schema=False)

#: A form post is a few short fields; anything bigger is not a login.
MAX_FORM_FIELDS = 8
ONE_YEAR = 365 * 24 * 3600


def dashboard_of(request: Request) -> DashboardService:
    """The app's dashboard service."""
    service: DashboardService = request.app.state.dashboard
    return service


@router.get("/")
async def home() -> Response:
    """The dashboard is the home page of the server."""
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/login")
async def login_form(request: Request) -> Response:
    """The login form."""
    return render(
        request,
        "login.html",
        None,
        {"next": safe_next(request.query_params.get("next")), "error": None},
        language=page_language(request),
    )


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the username and password; on success set the login cookie and go on."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    next_path = safe_next(str(form.get("next") or ""))
    accounts: AccountService = request.app.state.accounts
    settings = settings_of_app(request)
    language = page_language(request)
    try:
        if not username or not password:
            raise Unauthenticated("missing")
        actor = await run_in_threadpool(accounts.authenticate_password, username, password, None)
    except (Unauthenticated, PolicyDenied, BadRequestData) as exc:
        error = "several" if isinstance(exc, BadRequestData) else "bad"
        context = {"next": next_path, "error": error, "username": username}
        return render(request, "login.html", None, context, status=401, language=language)
    token, ttl = accounts.issue_token(actor)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ttl,
        httponly=True,
        secure=cookie_is_secure(settings, request),
        samesite="lax",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep) -> Response:
    """Forget the login cookie."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    check_csrf(request, viewer, str(form.get(CSRF_FIELD) or ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{language}")
async def choose_language(request: Request, language: str) -> Response:
    """Switch the pages' language and return to where the reader was."""
    if language not in LANGUAGES:
        raise NotFound(f"no pages in language {language!r:.20}; offered: {', '.join(LANGUAGES)}")
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=ONE_YEAR, samesite="lax", path="/")
    return response


@router.get("/dashboard")
async def overview_page(request: Request, viewer: ViewerDep) -> Response:
    """The city overview: a frame whose groups of headline figures load as fragments, each on its own."""
    return render(request, "overview.html", viewer, {"fragments": FRAGMENTS})


@router.get("/dashboard.json")
async def overview_json(request: Request, viewer: ViewerDep) -> Response:
    """The overview's JSON twin."""
    overview = await run_in_threadpool(dashboard_of(request).overview, viewer.tenant)
    return json_response(overview.to_json())


@router.get("/dashboard/fragments/{name}")
async def overview_fragment(request: Request, viewer: ViewerDep, name: str) -> Response:
    """One group of figures, for the page to refresh live."""
    if name not in FRAGMENTS:
        raise NotFound(f"no overview fragment {name!r:.40}")
    overview = await run_in_threadpool(dashboard_of(request).overview, viewer.tenant, name)
    return render(request, "_kpis.html", viewer, {"overview": overview, "name": name, "kpis": overview.fragment(name)})


def _report_month(request: Request, reports: ReportService) -> date:
    """The month asked for; by default the running month once it has a complete day, else the last one."""
    chosen = parse_month(request.query_params.get("month"))
    if chosen is not None:
        return chosen
    today = reports.charts.clock.now().astimezone(reports.charts.tz).date()
    return today.replace(day=1) if today.day > 1 else (today.replace(day=1) - timedelta(days=1)).replace(day=1)


@router.get("/dashboard/report")
async def report_page(request: Request, viewer: ViewerDep) -> Response:
    """The monthly city report (``?month=YYYY-MM``), ready to print or save as PDF."""
    reports: ReportService = request.app.state.reports
    month = _report_month(request, reports)
    report = await run_in_threadpool(reports.monthly, viewer.tenant, month)
    weekdays = get_day_names("abbreviated", locale=viewer.language)
    context = {"report": report, "charts": REPORT_CHARTS, "weekday_names": [weekdays[n] for n in range(7)]}
    return render(request, "report.html", viewer, context)


@router.get("/dashboard/report.json")
async def report_json(request: Request, viewer: ViewerDep) -> Response:
    """The monthly report's JSON twin."""
    reports: ReportService = request.app.state.reports
    report = await run_in_threadpool(reports.monthly, viewer.tenant, _report_month(request, reports))
    return json_response(report.to_json())


@router.get("/dashboard/report.csv")
async def report_csv(request: Request, viewer: ViewerDep) -> Response:
    """The monthly report's figures as CSV."""
    reports: ReportService = request.app.state.reports
    report = await run_in_threadpool(reports.monthly, viewer.tenant, _report_month(request, reports))
    header, rows = report.table()
    return csv_response(f"city-report-{report.month:%Y-%m}.csv", header, rows)
