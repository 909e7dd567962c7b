"""The citizen app: a mobile-first, installable web app for residents under ``/app``.

:func:`install_citizen_app` adds its routes to an app built by ``create_app`` (after the dashboard's
pages, whose templates and static files it shares) and shows errors under ``/app`` as its own pages.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from urbis.web.ui.templating import Pages


def install_citizen_app(app: FastAPI) -> None:
    """Serve the citizen app's pages; calling it again changes nothing.

    Call it after the dashboard's ``install_pages`` (which registers the page renderer and the static
    files): errors under ``/app`` then render as citizen-app pages, every other path as before.
    """
    from urbis.web.citizen.pages import error_page, is_app_page, router

    if getattr(app.state, "citizen_app_installed", False):
        return
    app.state.citizen_app_installed = True
    if getattr(app.state, "pages", None) is None:
        app.state.pages = Pages(app.state.settings)
    previous = getattr(app.state, "page_errors", None)

    def page_errors(request: Request, status: int, title: str, detail: str) -> Response | None:
        if is_app_page(request):
            return error_page(request, status, title, detail)
        return None if previous is None else previous(request, status, title, detail)

    app.state.page_errors = page_errors
    app.include_router(router)
