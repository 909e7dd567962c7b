"""Rendering errors per web surface; the NGSI-LD surface speaks ProblemDetails (RFC 7807).

Any error, including ones Starlette raises itself (404 for an unknown path,
405, request validation), is turned into a ProblemDetails body with an ETSI
error type URI, a non-empty ``title`` and a different, non-empty ``detail``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from urbis.core.errors import UrbisError

log = logging.getLogger(__name__)

ETSI_ERROR_BASE = "https://uri.etsi.org/ngsi-ld/errors/"
PROBLEM_JSON = "application/json"

_STATUS_CODES = {
    400: ("InvalidRequest", "Invalid request"),
    401: ("Unauthenticated", "Authentication required"),
    403: ("Forbidden", "Forbidden"),
    404: ("ResourceNotFound", "Resource not found"),
    405: ("MethodNotAllowed", "Method not allowed"),
    406: ("NotAcceptable", "Not acceptable"),
    409: ("Conflict", "Conflict"),
    413: ("PayloadTooLarge", "Payload too large"),
    415: ("UnsupportedMediaType", "Unsupported media type"),
    422: ("OperationNotSupported", "Operation not supported"),
    429: ("TooManyRequests", "Too many requests"),
}


def problem(code: str, title: str, detail: str, status: int, instance: str | None = None) -> dict[str, Any]:
    """A ProblemDetails body; ``title`` and ``detail`` are kept distinct."""
    if not detail or detail == title:
        detail = f"{title}: {detail or 'no further detail'}"
    body: dict[str, Any] = {"type": ETSI_ERROR_BASE + code, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    return body


def problem_of(error: UrbisError, instance: str | None = None) -> dict[str, Any]:
    """The ProblemDetails body of a service error."""
    body = problem(error.code, error.title, error.detail, error.status, instance)
    body.update(error.extra)
    return body


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """A response carrying a ProblemDetails body."""
    return Response(
        content=orjson.dumps(body), status_code=int(body["status"]), media_type=PROBLEM_JSON, headers=headers
    )


def error_headers(error: UrbisError) -> dict[str, str] | None:
    """The headers an error carries: a challenge with 401, ``Retry-After`` with 429 (an error's own ``headers``)."""
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
    headers.update(getattr(error, "headers", None) or {})
    return headers or None


def install_error_handlers(app: FastAPI) -> None:
    """Make every error leave the app as a ProblemDetails body, never a bare 500 page."""

    def page(request: Request, status: int, title: str, detail: str) -> Response | None:
        # The web pages register an HTML renderer; APIs and JSON twins keep ProblemDetails.
        renderer = getattr(request.app.state, "page_errors", None)
        return None if renderer is None else renderer(request, status, title, detail)

    @app.exception_handler(UrbisError)
    async def _urbis_error(request: Request, error: UrbisError) -> Response:
        html = page(request, error.status, error.title, error.detail)
        if html is not None:
            html.headers.update(getattr(error, "headers", None) or {})  # a page also says when to retry
            return html
        return problem_response(problem_of(error, request.url.path), error_headers(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        code, title = _STATUS_CODES.get(error.status_code, ("InternalError", "Error"))
        detail = str(error.detail) if error.detail else title
        if error.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {request.url.path}"
        if error.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        html = page(request, error.status_code, title, detail)
        if html is not None:
            return html
        return problem_response(
            problem(code, title, detail, error.status_code, request.url.path), dict(error.headers or {}) or None
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> Response:
        parts = []
        for item in error.errors()[:5]:
            where = ".".join(str(p) for p in item.get("loc", ()))
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
        return problem_response(problem("BadRequestData", "Bad request data", "; ".join(parts), 400, request.url.path))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            problem("InternalError", "Internal error", "an unexpected error occurred; it has been logged", 500)
        )
