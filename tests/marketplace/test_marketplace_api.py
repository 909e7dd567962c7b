"""The catalogue over HTTP on both databases: officers define and publish, anyone reads, harvesters get valid DCAT-AP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph
from rdflib.namespace import DCAT, RDF
from test_catalog_dcat import validate

from conftest import login_headers, make_settings
from urbis.app import create_app

AIR = {
    "title": "Air quality per district, hourly",
    "description": "The US AQI of each district, hour by hour.",
    "view": {"source": "air-quality-hourly-by-district", "since": "2026-11-01T00:00:00Z"},
    "licence": "CC-BY-4.0",
    "keywords": ["air quality", "AQI"],
    "themes": ["ENVI"],
    "frequency": "hourly",
    "spatial": "Bonn",
    "formats": ["json", "csv", "geojson"],
}
BAYS = {
    "title": "Parking bays, live",
    "description": "Every bay and whether it is free.",
    "view": {"source": "context", "entityTypes": ["ParkingSpot"], "attributes": ["status"]},
    "themes": ["TRAN"],
    "frequency": "continuous",
}


@pytest.fixture
def api(db_url: str, tenant: str) -> Iterator[TestClient]:
    settings = make_settings(
        db_url, tenant, ngsild_open=False, city_name="City of Bonn", base_url="https://data.bonn.example"
    )
    with TestClient(create_app(settings)) as client:
        yield client


def officer(api: TestClient, tenant: str) -> dict[str, str]:
    return login_headers(api, tenant, "operator", subject=f"officer-{tenant}")


def test_officers_publish_and_anyone_reads(api: TestClient, tenant: str) -> None:
    headers = officer(api, tenant)
    created = api.put("/api/v1/marketplace/datasets/air-quality-hourly", json=AIR, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["published"], body["open"], body["licence"]) == (False, True, "CC-BY-4.0")
    assert body["data"]["csv"] == "https://data.bonn.example/api/v1/marketplace/datasets/air-quality-hourly/data.csv"
    assert api.put("/api/v1/marketplace/datasets/parking-bays", json=BAYS, headers=headers).status_code == 201
    visitor = {"NGSILD-Tenant": tenant}
    assert api.get("/api/v1/marketplace/datasets", headers=visitor).json() == {"datasets": [], "total": 0}
    assert api.get("/api/v1/marketplace/datasets/air-quality-hourly", headers=visitor).status_code == 404
    assert api.get("/api/v1/marketplace/datasets?all=true", headers=headers).json()["total"] == 2
    published = api.post("/api/v1/marketplace/datasets/air-quality-hourly/publish", headers=headers)
    assert published.status_code == 200 and published.json()["published"] is True
    listed = api.get("/api/v1/marketplace/datasets?q=aqi", headers=visitor).json()
    assert [d["id"] for d in listed["datasets"]] == ["air-quality-hourly"]
    assert api.get("/api/v1/marketplace/datasets/parking-bays", headers=headers).json()["published"] is False
    assert (
        api.post("/api/v1/marketplace/datasets/air-quality-hourly/withdraw", headers=headers).json()["published"]
        is False
    )
    assert api.delete("/api/v1/marketplace/datasets/parking-bays", headers=headers).status_code == 204
    assert api.delete("/api/v1/marketplace/datasets/parking-bays", headers=headers).status_code == 404
    # The officers' actions are in the city's chain, which verifies.
    assert api.app.state.marketplace_ledger.verify(tenant)[0].intact  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("roles", "status"), [((), 401), (("citizen",), 403), (("viewer",), 403), (("data-consumer",), 403)]
)
def test_only_officers_change_the_catalogue(api: TestClient, tenant: str, roles: tuple[str, ...], status: int) -> None:
    headers = login_headers(api, tenant, *roles, subject=f"someone-{tenant}") if roles else {"NGSILD-Tenant": tenant}
    assert api.put("/api/v1/marketplace/datasets/air", json=AIR, headers=headers).status_code == status
    assert api.post("/api/v1/marketplace/datasets/air/publish", headers=headers).status_code == status
    assert api.delete("/api/v1/marketplace/datasets/air", headers=headers).status_code == status
    assert api.get("/api/v1/marketplace/datasets?all=true", headers=headers).status_code == status


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"view": None}, "'view' is required"),
        ({"view": {"source": "weather"}}, "source 'weather' is unknown"),
        ({"formats": ["xlsx"]}, "format 'xlsx' is unknown"),
        ({"licence": "GPL"}, "licence must be one of"),
        ({"colour": "red"}, "unknown member 'colour'"),
        ({"id": "other"}, "differs from the URL"),
        ({"view": {"source": "context"}}, "names at least one entity type"),
        ({"view": {"source": "context", "entityTypes": ["X"], "since": "yesterday"}}, "ISO 8601"),
    ],
)
def test_bad_definitions_get_a_clear_400(api: TestClient, tenant: str, change: dict[str, Any], message: str) -> None:
    body = {**AIR, **change}
    body = {key: value for key, value in body.items() if value is not None}
    response = api.put("/api/v1/marketplace/datasets/air", json=body, headers=officer(api, tenant))
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]


def test_harvesters_get_valid_dcat_ap_in_turtle_and_json_ld(api: TestClient, tenant: str) -> None:
    headers = officer(api, tenant)
    for name, body in (("air-quality-hourly", AIR), ("parking-bays", BAYS)):
        api.put(f"/api/v1/marketplace/datasets/{name}", json=body, headers=headers)
        api.post(f"/api/v1/marketplace/datasets/{name}/publish", headers=headers)
    visitor = {"NGSILD-Tenant": tenant}
    turtle = api.get("/marketplace/catalog.ttl", headers=visitor)
    assert turtle.headers["content-type"].startswith("text/turtle")
    jsonld = api.get("/marketplace/catalog", headers={**visitor, "Accept": "application/ld+json"})
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    assert api.get("/marketplace/catalog", headers=visitor).headers["content-type"].startswith("text/turtle")
    for text, kind in ((turtle.text, "turtle"), (jsonld.text, "json-ld")):
        graph = Graph().parse(data=text, format=kind)
        assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == 2
        conforms, report = validate(graph)
        assert conforms, report
    assert "City of Bonn" in turtle.text
