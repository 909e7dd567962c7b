"""Plug the web pages into the app: templates, static files, routes, and HTML error pages."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from urbis.core.settings import Settings
from urbis.web.errors import problem_of, problem_response
from urbis.web.ui import pages
from urbis.web.ui.charts import router as charts_router
from urbis.web.ui.citizens_console import router as citizens_console_router
from urbis.web.ui.common import render
from urbis.web.ui.console import router as console_router
from urbis.web.ui.map import router as map_router
from urbis.web.ui.session import LoginRequired, page_language
from urbis.web.ui.templating import Pages

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = WEB_DIR / "static"
#: Installed by `make install` (npm ci) from web/assets/package-lock.json.
NODE_MODULES = WEB_DIR / "assets" / "node_modules"
#: The front-end libraries served, each from its package's distribution folder.
VENDOR = {"htmx.org": "htmx.org/dist", "chart.js": "chart.js/dist", "leaflet": "leaflet/dist"}
#: Paths whose errors are shown as pages rather than ProblemDetails.
PAGE_PREFIXES = ("/dashboard", "/login", "/logout", "/lang/")


def is_page(request: Request) -> bool:
    """Whether a request asked for a page (not a JSON twin, CSV export or API)."""
    path = request.url.path
    if path.endswith((".json", ".csv")):
        return False
    return path == "/" or path.startswith(PAGE_PREFIXES)


def page_error(request: Request, status: int, title: str, detail: str) -> Response | None:
    """An error as an HTML page (``None`` for requests that are not pages)."""
    if not is_page(request):
        return None
    if request.headers.get("hx-request") and status == 401:
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    viewer = getattr(request.state, "viewer", None)
    context = {"title": title, "detail": detail}
    return render(request, "error.html", viewer, context, status=status, language=page_language(request))


def install_pages(app: FastAPI, settings: Settings) -> None:
    """Serve the dashboard and console pages, their static files and the front-end libraries."""
    app.state.pages = Pages(settings)
    app.state.page_errors = page_error
    app.mount("/static/urbis", StaticFiles(directory=STATIC_DIR), name="urbis-static")
    for name, folder in VENDOR.items():
        directory = NODE_MODULES / folder
        if not directory.is_dir():
            log.warning("front-end library %s is not installed at %s: run `make install`", name, directory)
        app.mount(f"/static/vendor/{name}", StaticFiles(directory=directory, check_dir=False), name=f"vendor-{name}")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, error: LoginRequired) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": f"/login?next={error.next_path}"})
        if not is_page(request):
            return problem_response(problem_of(error, request.url.path))
        return RedirectResponse(f"/login?next={error.next_path}", status_code=303)

    app.include_router(pages.router)
    app.include_router(console_router)
    app.include_router(citizens_console_router)
    app.include_router(charts_router)
    app.include_router(map_router)
