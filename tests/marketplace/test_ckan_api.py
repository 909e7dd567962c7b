"""The CKAN-compatible Action API, driven by the real ``ckanapi`` client against a live server, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ckanapi
import httpx
import pytest
from fastapi import FastAPI
from test_marketplace_api import AIR, BAYS
from test_open311_support import live_server

from conftest import login_headers, make_settings
from urbis.app import create_app
from urbis.core.errors import BadRequestData
from urbis.marketplace.ckan import package_search, parse_fq

LIGHTS = {
    "title": "Street-lighting energy per group, daily",
    "description": "The energy each lighting group used each day.",
    "view": {"source": "lighting-energy-daily-by-group"},
    "licence": "ODbL-1.0",
    "keywords": ["energy", "street lighting"],
    "themes": ["ENER"],
    "frequency": "daily",
}


@pytest.fixture
def city(db_url: str, tenant: str) -> Iterator[tuple[FastAPI, str]]:
    app = create_app(make_settings(db_url, tenant, ngsild_open=False, city_name="City of Bonn"))
    with live_server(app) as url:
        headers = login_headers(_Client(app), tenant, "operator", subject=f"officer-{tenant}")
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            for name, body in (("air-quality-hourly", AIR), ("parking-bays", BAYS), ("street-lighting-energy", LIGHTS)):
                assert client.put(f"/api/v1/marketplace/datasets/{name}", json=body).status_code == 201
            for name in ("air-quality-hourly", "street-lighting-energy"):
                assert client.post(f"/api/v1/marketplace/datasets/{name}/publish").status_code == 200
        yield app, url


class _Client:
    """Just enough of a TestClient for ``login_headers``: the app."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app


def remote(url: str) -> ckanapi.RemoteCKAN:
    return ckanapi.RemoteCKAN(url, user_agent="urbis-tests/1.0")


def test_the_ckanapi_client_reads_the_published_catalogue(city: tuple[FastAPI, str]) -> None:
    _, url = city
    ckan = remote(url)
    assert ckan.action.package_list() == ["air-quality-hourly", "street-lighting-energy"]  # drafts stay hidden
    package = ckan.action.package_show(id="air-quality-hourly")
    assert package["title"] == AIR["title"]
    assert package["license_id"] == "CC-BY-4.0" and package["isopen"] is True
    assert [tag["name"] for tag in package["tags"]] == ["air quality", "AQI"]
    assert [r["format"] for r in package["resources"]] == ["JSON", "CSV", "GEOJSON"]
    assert package["organization"]["name"] == "city-of-bonn"
    resource = ckan.action.resource_show(id="air-quality-hourly.csv")
    assert resource["url"].endswith("/api/v1/marketplace/datasets/air-quality-hourly/data.csv")
    assert ckan.action.organization_list() == ["city-of-bonn"]
    organisation = ckan.action.organization_show(id="city-of-bonn")
    assert organisation["package_count"] == 2
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="parking-bays")
    with pytest.raises(ckanapi.NotFound):
        ckan.action.resource_show(id="nothing.csv")


def test_package_search_with_q_fq_paging_and_facets(city: tuple[FastAPI, str]) -> None:
    _, url = city
    ckan = remote(url)
    everything = ckan.call_action(
        "package_search", {"q": "*:*", "rows": 10, "facet.field": ["tags", "license_id", "res_format"]}
    )
    assert everything["count"] == 2
    assert everything["facets"]["license_id"] == {"CC-BY-4.0": 1, "ODbL-1.0": 1}
    assert everything["facets"]["res_format"] == {"JSON": 2, "CSV": 2, "GEOJSON": 1}
    assert [r["name"] for r in ckan.action.package_search(q="energy")["results"]] == ["street-lighting-energy"]
    filtered = ckan.action.package_search(fq='license_id:CC-BY-4.0 AND tags:"air quality"')
    assert [r["name"] for r in filtered["results"]] == ["air-quality-hourly"]
    excluded = ckan.action.package_search(fq="-license_id:CC-BY-4.0")
    assert [r["name"] for r in excluded["results"]] == ["street-lighting-energy"]
    page = ckan.action.package_search(rows=1, start=1, sort="name asc")
    assert page["count"] == 2 and [r["name"] for r in page["results"]] == ["street-lighting-energy"]
    with pytest.raises(ckanapi.ValidationError):
        ckan.action.package_search(rows=5000)


def test_plain_http_gets_ckan_s_envelope_and_errors(city: tuple[FastAPI, str]) -> None:
    _, url = city
    ok = httpx.get(f"{url}/api/3/action/package_show?id=air-quality-hourly").json()
    assert ok["success"] is True and ok["help"].endswith("help_show?name=package_show")
    missing = httpx.get(f"{url}/api/3/action/package_show?id=nope")
    assert missing.status_code == 404 and missing.json()["error"]["__type"] == "Not Found Error"
    unknown = httpx.get(f"{url}/api/3/action/package_delete")
    assert unknown.status_code == 400 and unknown.json()["success"] is False


PACKAGES: list[dict[str, Any]] = [
    {
        "name": n,
        "title": t,
        "notes": "",
        "tags": [{"name": g} for g in tags],
        "resources": [],
        "groups": [],
        "owner_org": "city",
        "license_id": lic,
        "metadata_modified": m,
    }
    for n, t, tags, lic, m in (
        ("a", "Alpha", ["x"], "CC0-1.0", "2026-01-02"),
        ("b", "beta", ["x", "y"], "CC-BY-4.0", "2026-01-03"),
        ("c", "Gamma", ["y"], "CC-BY-4.0", "2026-01-01"),
    )
]


def test_search_rules_by_hand() -> None:
    assert [p["name"] for p in package_search(PACKAGES)["results"]] == ["b", "a", "c"]  # newest first
    assert [p["name"] for p in package_search(PACKAGES, sort="title_string asc")["results"]] == ["a", "b", "c"]
    assert package_search(PACKAGES, fq="tags:x tags:y")["count"] == 1
    assert package_search(PACKAGES, facet_fields=["tags"])["facets"]["tags"] == {"x": 2, "y": 2}
    assert parse_fq('organization:city AND -tags:"two words"') == [
        ("organization", "city", True),
        ("tags", "two words", False),
    ]
    with pytest.raises(BadRequestData):
        parse_fq("justaword")
    with pytest.raises(BadRequestData):
        package_search(PACKAGES, facet_fields=["colour"])
