"""Small helpers of the ``/api/v1`` JSON endpoints: answers, whole-number, text and instant query parameters, paging."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from urbis.core.errors import BadRequestData
from urbis.web.ngsild.common import read_json, settings_of

#: Items in a page when the client does not say.
LIST_DEFAULT = 100


async def json_object(request: Request) -> dict[str, Any]:
    """The JSON body, which must be an object (400 otherwise)."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    return body


async def optional_json_object(request: Request) -> dict[str, Any]:
    """A JSON object body that may be left out (acknowledge, close without a note): ``{}`` then."""
    if not (await request.body()).strip():
        return {}
    return await json_object(request)


def text_member(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """A string member of a JSON body (``None`` when absent; 400 when required and absent, or not a string)."""
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequestData(f"'{name}' is required")
        return None
    if not isinstance(value, str):
        raise BadRequestData(f"'{name}' must be a string")
    return value


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (orjson: datetimes as ISO 8601)."""
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def int_param(request: Request, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    """A whole-number query parameter within bounds; 400 with a clear message otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise BadRequestData(f"'{name}' must be a whole number, got {raw!r:.40}")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and {maximum}" if maximum is not None else ""
        raise BadRequestData(f"'{name}' must be between {minimum}{upper}, got {value}")
    return value


def text_param(request: Request, name: str) -> str | None:
    """A filter value: at most 512 characters, no control characters (PostgreSQL cannot compare NUL)."""
    raw = request.query_params.get(name)
    if raw is not None and (len(raw) > 512 or any(ord(c) < 32 or ord(c) == 127 for c in raw)):
        raise BadRequestData(f"'{name}' must be at most 512 characters without control characters")
    return raw


def page_limit(request: Request) -> int:
    """``limit``: 1 up to the server's page maximum."""
    return int_param(request, "limit", LIST_DEFAULT, minimum=1, maximum=settings_of(request).page_max)


def page_offset(request: Request) -> int:
    """``offset``: where the page starts."""
    return int_param(request, "offset", 0, maximum=2**31 - 1)


def instant_param(request: Request, name: str) -> datetime | None:
    """An ISO 8601 date-time with a zone (``Z`` or ``+01:00``) as UTC; None when absent."""
    raw = text_param(request, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"'{name}' must be an ISO 8601 date-time, got {raw!r:.40}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadRequestData(f"'{name}' must carry a time zone (e.g. 'Z' or '+01:00'), got {raw!r:.40}")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # a date at the very edge of the calendar
        raise BadRequestData(f"'{name}' lies outside the calendar Urbis can use, got {raw!r:.40}") from None
