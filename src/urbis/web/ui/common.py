"""What every page route shares: the viewer dependency, HTML answers with security headers, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.responses import HTMLResponse, Response

from urbis.core.settings import Settings
from urbis.web.ui.session import viewer_of
from urbis.web.ui.templating import Pages, Viewer


def pages_of(request: Request) -> Pages:
    """The app's template renderer."""
    pages: Pages = request.app.state.pages
    return pages


def settings_of_app(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def page_viewer(request: Request) -> Viewer:
    """The logged-in member of staff (login page for anyone else)."""
    viewer = viewer_of(request, settings_of_app(request))
    request.state.viewer = viewer
    return viewer


ViewerDep = Annotated[Viewer, Depends(page_viewer)]


def security_headers(settings: Settings) -> dict[str, str]:
    """Headers of every page: a strict Content-Security-Policy (no inline script, nothing from elsewhere)."""
    images = "'self' data:"
    tile_origin = _tile_origin(settings.dashboard_tile_url)
    if tile_origin:
        # The optional tile background is the only thing a page may load from another host.
        images += f" {tile_origin}"
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _tile_origin(url: str) -> str | None:
    """The origin of a tile URL template for the CSP (``{s}`` subdomains become a wildcard)."""
    parts = urlsplit(url.replace("{s}", "subdomain"))
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.replace('subdomain', '*')}"


def render(
    request: Request,
    template: str,
    viewer: Viewer | None,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    language: str | None = None,
) -> HTMLResponse:
    """A page or fragment in the viewer's language, with the security headers."""
    settings = settings_of_app(request)
    return pages_of(request).render(
        request, template, viewer, context, status=status, language=language, headers=security_headers(settings)
    )


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV download (UTF-8 with a byte-order mark, so spreadsheet programs read umlauts right)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else _cell(value) for value in row])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _cell(value: Any) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    # A cell starting with = + - @ would run as a formula in a spreadsheet (CSV injection).
    if text[:1] in {"=", "+", "-", "@"} and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
