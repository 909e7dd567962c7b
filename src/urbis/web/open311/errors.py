"""Open311's error shape, for every error of the surface: ``[{"code": 400, "description": "..."}]``.

GeoReport v2 makes the HTTP status mandatory: 404 for what does not exist, 403 for a missing or
bad ``api_key``, 400 for everything else; Urbis adds 429 with ``Retry-After`` (Boston's rate-limit
extension).  The body's ``code`` may be more specific than the status (the spec allows it): a wrong
method answers HTTP 400 with code 405, an oversized body 400 with code 413.  Unexpected failures
are logged and answer 500, still in the error shape.

:class:`Open311Route` applies this to every route of the router, including FastAPI's own
validation errors, so nothing under ``/open311`` ever answers a ProblemDetails body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from urbis.core.errors import UrbisError
from urbis.web.open311.render import JSON, XML, render

log = logging.getLogger(__name__)

#: The statuses Open311 clients may see; any other error status answers 400.
_KEPT_STATUSES = {400, 403, 404, 429}


def format_of_path(path: str) -> str:
    """The format an error is written in: XML for a path ending in ``.xml``, else JSON."""
    return XML if path.lower().endswith(".xml") else JSON


def http_status(code: int) -> int:
    """The HTTP status Open311 requires for an error of ``code``: 401 becomes 403, 5xx stays, others 400."""
    if code == 401:
        return 403
    if code in _KEPT_STATUSES or code >= 500:
        return code
    return 400


def error_response(fmt: str, code: int, description: str, *, headers: Mapping[str, str] | None = None) -> Response:
    """One error in Open311's shape (``errors > error`` in XML)."""
    body = [{"code": code, "description": description or "error"}]
    return render(body, fmt, "errors", status=http_status(code), headers=headers)


def response_for(error: Exception, fmt: str, request: Request) -> Response:
    """The Open311 answer to an exception raised while handling ``request``."""
    if isinstance(error, UrbisError):
        extra_headers: Mapping[str, str] | None = getattr(error, "headers", None)
        return error_response(fmt, error.status, error.detail, headers=extra_headers)
    if isinstance(error, RequestValidationError):
        parts = []
        for item in error.errors()[:5]:
            where = ".".join(str(p) for p in item.get("loc", ()))
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
        return error_response(fmt, 400, "; ".join(parts) or "invalid request")
    if isinstance(error, StarletteHTTPException):
        detail = str(error.detail) if error.detail else "error"
        if error.status_code == 404 and detail == "Not Found":
            detail = f"there is nothing at {request.url.path}"
        if error.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return error_response(fmt, error.status_code, detail, headers=error.headers)
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(fmt, 500, "an unexpected error occurred; it has been logged")


class Open311Route(APIRoute):
    """A route whose every error, FastAPI's validation included, leaves in Open311's error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The endpoint's handler, wrapped so that any exception becomes an Open311 error response."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as error:  # noqa: BLE001 - every error of the surface has the spec's shape
                return response_for(error, format_of_path(request.url.path), request)

        return guarded
