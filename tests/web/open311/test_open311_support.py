"""Builders the Open311 tests share: an app serving /open311, an API key, a raw form post, a live server.

No tests here; the other ``test_open311_*`` modules import these by name.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import uvicorn
import xmltodict
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from conftest import make_settings
from urbis.app import create_app
from urbis.core.clock import Clock

API = "/open311/v2"
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'

#: A streetlight report at the Bonn test city's Hauptstraße, anonymous but with an e-mail address.
LAMP_FORM = {
    "service_code": "streetlight",
    "lat": "50.7355",
    "long": "7.1010",
    "attribute[fault]": "dark",
    "description": "The lamp outside number 12 is dark every night.",
    "email": "someone@example.org",
}


def serve_open311(app: FastAPI) -> FastAPI:
    """``app`` as create_app builds it (it serves Open311 and the photos)."""
    return app


def open311_app(db_url: str, tenant: str, *, clock: Clock | None = None, **settings: Any) -> FastAPI:
    """A fresh app (``tenant`` its default) serving Open311, with settings overrides."""
    return serve_open311(create_app(make_settings(db_url, tenant, **settings), clock=clock))


def api_key(app: FastAPI, tenant: str) -> str:
    """A new Open311 key of ``tenant`` (the secret)."""
    _, secret = app.state.citizen_reports.create_api_key(tenant, "test client", by="tester")
    return str(secret)


def post_report(client: TestClient, key: str, fmt: str = "json", **fields: str | None) -> Response:
    """A raw form-encoded POST of the lamp report, ``fields`` changed (None-valued ones dropped)."""
    form = {**LAMP_FORM, "api_key": key, **fields}
    return client.post(f"{API}/requests.{fmt}", data={k: v for k, v in form.items() if v is not None})


def created_id(response: Response) -> str:
    """The ``service_request_id`` of a successful JSON POST."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, body
    return str(body[0]["service_request_id"])


def parse_xml(response: Response) -> ET.Element:
    """The XML body, after checking the content type and the UTF-8 declaration."""
    assert response.headers["content-type"] == XML_TYPE, response.headers
    assert response.text.startswith(DECLARATION), response.text[:80]
    return ET.fromstring(response.content)


def assert_errors(response: Response, status: int, fmt: str = "json", code: int | None = None) -> str:
    """An Open311 error answer (status, shape, content type); the description."""
    assert response.status_code == status, response.text
    expected_code = status if code is None else code
    if fmt == "xml":
        root = parse_xml(response)
        assert root.tag == "errors"
        errors = root.findall("error")
        assert len(errors) == 1, response.text
        assert [child.tag for child in errors[0]] == ["code", "description"]
        assert errors[0].findtext("code") == str(expected_code)
        parsed = xmltodict.parse(response.content)["errors"]["error"]
        assert parsed["code"] == str(expected_code)
        description = errors[0].findtext("description") or ""
    else:
        assert response.headers["content-type"] == JSON_TYPE, response.headers
        body = response.json()
        assert isinstance(body, list) and len(body) == 1, body
        assert set(body[0]) == {"code", "description"}, body
        assert body[0]["code"] == expected_code, body
        description = body[0]["description"]
    assert isinstance(description, str) and description.strip()
    return description


def is_w3c_datetime(text: str | None) -> bool:
    """Whether ``text`` is an ISO 8601 date-time with a timezone."""
    if not text:
        return False
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.tzinfo is not None and moment.utcoffset() is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free local port in a thread; yields its root URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def whole_second_now() -> datetime:
    """Now, to the second (a fixed clock's start)."""
    return datetime.now(UTC).replace(microsecond=0)
