"""The one check of an NGSI-LD error body that every API test shares."""

from __future__ import annotations

from typing import Any, Protocol

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


class _Response(Protocol):
    status_code: int
    text: str
    headers: Any

    def json(self) -> Any: ...


def assert_problem(response: _Response, status: int, code: str | None = None) -> dict[str, Any]:
    """A ProblemDetails error as the ETSI suite checks it (ngsild.md §1.7); returns the body.

    JSON, the expected status in the line and in the body, an ETSI error type URI (``code`` names
    the type when given), and a non-empty ``title`` and ``detail`` that differ.
    """
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("type"), str) and body["type"].startswith(ERRORS), body
    if code is not None:
        assert body["type"] == ERRORS + code, body
    assert isinstance(body.get("title"), str) and body["title"].strip(), body
    assert isinstance(body.get("detail"), str) and body["detail"].strip(), body
    assert body["title"] != body["detail"], body
    assert body.get("status") == status, body
    return body
