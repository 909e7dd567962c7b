"""Open311 answers in JSON and XML, from the same plain data.

GeoReport v2 defines XML and derives JSON from it mechanically: a list answer is a top-level JSON
array whose XML twin is a root element holding one element per item (``services > service``), and
a nested list is a plural element holding singular ones (``attributes > attribute``).  This module
is the one place that knows those names and the spec's spelling of values: booleans as
``true``/``false``, date-times as W3C ISO 8601 with a zone, ``null`` as an empty element, UTF-8
with an explicit declaration.
"""

from __future__ import annotations

import enum
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import Response

JSON = "json"
XML = "xml"
FORMATS = (JSON, XML)
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
#: Discovery's types carry no parameter: the SeeClickFix validator compares them for exact equality.
DISCOVERY_TYPES = {JSON: "application/json", XML: "text/xml"}
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

#: The element of each item of a list, by the list's element name.
ITEM_NAMES: Mapping[str, str] = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "media_urls": "media_url",
    "notes": "note",
}

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def w3c_datetime(moment: datetime) -> str:
    """A date-time as Open311 writes it: UTC, whole seconds, ``Z`` (``2026-03-01T08:15:30Z``)."""
    if moment.tzinfo is None:
        raise ValueError("Open311 date-times carry a timezone; got a naive datetime")
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """``value`` with date-times as W3C strings, enums as their values, tuples as lists (what JSON shows)."""
    if isinstance(value, datetime):
        return w3c_datetime(value)
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def to_json(data: Any) -> bytes:
    """The JSON body of an answer."""
    body: bytes = orjson.dumps(plain(data))
    return body


def to_xml(root: str, data: Any) -> bytes:
    """The XML document of an answer: ``data`` (a list or a mapping) under the element ``root``."""
    element = _element(root, plain(data))
    document: bytes = ET.tostring(element, encoding="utf-8")  # no declaration for utf-8: ours goes first
    return XML_DECLARATION + document


def _element(name: str, value: Any) -> ET.Element:
    if not _XML_NAME.fullmatch(name) or name.lower().startswith("xml"):
        raise ValueError(f"{name!r} is not a usable XML element name")
    element = ET.Element(name)
    if isinstance(value, Mapping):
        for key, item in value.items():
            element.append(_element(key, item))
    elif isinstance(value, Sequence) and not isinstance(value, str):
        item_name = ITEM_NAMES.get(name)
        if item_name is None:
            raise ValueError(f"no item element is known for the list {name!r}; add it to ITEM_NAMES")
        for item in value:
            element.append(_element(item_name, item))
    elif value is not None:
        element.text = _text(value)
    return element


def _text(value: Any) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return _NOT_XML.sub("\ufffd", str(value))


def render(
    data: Any,
    fmt: str,
    root: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    content_type: str | None = None,
) -> Response:
    """An Open311 response in ``fmt`` (``json`` or ``xml``); ``root`` names the XML root element."""
    if fmt == XML:
        body = to_xml(root, data)
        media = content_type or XML_TYPE
    else:
        body = to_json(data)
        media = content_type or JSON_TYPE
    # Setting the header ourselves keeps Starlette from adding "; charset=utf-8" to an exact text/xml.
    return Response(body, status_code=status, headers={**(headers or {}), "content-type": media})
