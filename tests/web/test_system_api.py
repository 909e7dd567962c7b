"""Operational endpoints: ``/healthz``, ``/metrics``, ``/openapi.json`` and ``/version``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import urbis

BASE = "/ngsi-ld/v1"


def counter(metrics: str, method: str, route: str, status: int) -> float:
    """The value of ``urbis_http_requests_total`` for one label set (0 when absent)."""
    for line in metrics.splitlines():
        if not line.startswith("urbis_http_requests_total{"):
            continue
        label_text, value = line.rsplit("} ", 1)
        labels = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if labels == {"method": method, "route": route, "status": str(status)}:
            return float(value)
    return 0.0


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == "ok"


def test_healthz_reports_a_broken_database(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    @contextmanager
    def broken() -> Iterator[None]:
        raise ConnectionError("database is gone")
        yield  # pragma: no cover

    monkeypatch.setattr(client.app.state.db, "read", broken)  # type: ignore[attr-defined]
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert "database is gone" not in response.text  # no internals leak


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    for n in (1, 2, 3):
        assert client.get(f"{BASE}/entities/urn:ngsi-ld:Nope:{n}").status_code == 404
    entity = {"id": "urn:ngsi-ld:Lamp:1", "type": "Lamp"}
    assert client.post(f"{BASE}/entities", json=entity).status_code == 201
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Lamp:1").status_code == 200
    assert client.get("/no/such/path/42").status_code == 404
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE urbis_http_requests_total counter" in text
    assert counter(text, "GET", f"{BASE}/entities/{{entity_id}}", 404) == 3
    assert counter(text, "GET", f"{BASE}/entities/{{entity_id}}", 200) == 1
    assert counter(text, "POST", f"{BASE}/entities", 201) == 1
    # Raw paths never become labels (one series per template, not per entity).
    assert "urn:ngsi-ld:Nope" not in text
    assert "/no/such/path" not in text
    assert "urbis_http_request_seconds_bucket" in text
    again = client.get("/metrics").text
    assert counter(again, "GET", "/metrics", 200) >= 1


def test_metrics_count_server_errors(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.state.context, "type_counts", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(f"{BASE}/types")
        assert response.status_code == 500
        assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/InternalError"
        assert "boom" not in response.text
        text = client.get("/metrics").text
    assert counter(text, "GET", f"{BASE}/types", 500) == 1
    assert 'urbis_http_request_seconds_count{method="GET",route="/ngsi-ld/v1/types"} 1.0' in text


def test_metrics_are_per_app(client: TestClient) -> None:
    from urbis.app import create_app

    other = create_app(client.app.state.settings)  # type: ignore[attr-defined]
    client.get("/healthz")
    with TestClient(other) as fresh:
        assert counter(fresh.get("/metrics").text, "GET", "/healthz", 200) == 0


def test_openapi_lists_the_ngsi_ld_paths(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["version"] == urbis.__version__
    paths = document["paths"]
    for path, method in [
        (f"{BASE}/entities", "get"),
        (f"{BASE}/entities", "post"),
        (f"{BASE}/entities", "delete"),
        (f"{BASE}/entities/{{entity_id}}", "get"),
        (f"{BASE}/entities/{{entity_id}}/attrs", "post"),
        (f"{BASE}/entities/{{entity_id}}/attrs/{{attr_id}}", "patch"),
        (f"{BASE}/entityOperations/create", "post"),
        (f"{BASE}/entityOperations/query", "post"),
        (f"{BASE}/types", "get"),
        (f"{BASE}/attributes", "get"),
        (f"{BASE}/jsonldContexts", "post"),
        ("/auth/token", "post"),
        ("/healthz", "get"),
    ]:
        assert method in paths.get(path, {}), (path, method)
    # The trailing-slash twins are served but not documented twice.
    assert f"{BASE}/entities/" not in paths


def test_version(client: TestClient) -> None:
    response = client.get("/version")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == urbis.__version__
    assert body["broker"] == "urbis"


def test_unknown_path_is_problem_details(client: TestClient) -> None:
    response = client.get(f"{BASE}/nothing")
    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    assert body["title"] and body["detail"] and body["title"] != body["detail"]
    wrong = client.put(f"{BASE}/entities")
    assert wrong.status_code == 405
    assert wrong.json()["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")
