"""The map pages: the page for viewers and operators, its JSON twin, the detail panel, errors, acting from the map."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from urllib.parse import quote

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_mapdata import CENTRE, NOW, ROAD, STATION, build_city, lamp_id, map_service

from conftest import make_settings
from urbis.app import create_app
from urbis.core.clock import FixedClock
from urbis.operations.model import TicketState

PASSWORD = "map-password-1"


@pytest.fixture
def city_app(db_url: str, tenant: str) -> FastAPI:
    app = create_app(make_settings(db_url, tenant), clock=FixedClock(NOW))
    app.state.temporal.use_rollups = False  # the fixed clock lies in the past of other tests' roll-ups
    app.state.city_alarms = build_city(app, tenant)
    # Usernames are global: each test's users carry its tenant's name.
    app.state.accounts.create_user(f"olga-{tenant}", PASSWORD, tenant=tenant, roles=["operator"])
    app.state.accounts.create_user(f"mayor-{tenant}", PASSWORD, tenant=tenant, roles=["viewer"])
    return app


def client_of(app: FastAPI, user: str) -> Iterator[TestClient]:
    with TestClient(app) as client:
        if user:
            form = {"username": user, "password": PASSWORD, "next": "/dashboard/map"}
            response = client.post("/login", data=form, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == "/dashboard/map"
        yield client


@pytest.fixture
def viewer(city_app: FastAPI, tenant: str) -> Iterator[TestClient]:
    yield from client_of(city_app, f"mayor-{tenant}")


@pytest.fixture
def operator(city_app: FastAPI, tenant: str) -> Iterator[TestClient]:
    yield from client_of(city_app, f"olga-{tenant}")


def as_json(value: object) -> object:
    """What a value looks like after the JSON twin's serialisation."""
    return orjson.loads(orjson.dumps(value))


def test_the_page_renders_for_a_viewer_with_layers_kpis_and_its_scripts(viewer: TestClient) -> None:
    page = viewer.get("/dashboard/map")
    assert page.status_code == 200
    html = page.text
    assert 'id="city-map"' in html and 'data-src="/dashboard/map.json"' in html
    for layer in ("districts", "streets", "lights", "air", "parking", "alarms", "reports"):
        assert f'data-layer="{layer}"' in html
    assert '<option value="usAqi" selected>' in html
    assert "/static/vendor/leaflet/leaflet.js" in html and "/static/urbis/map.js" in html
    # No tile layer is configured: the page names none (and the CSP allows no other host).
    assert 'data-tile-url=""' in html
    assert "img-src 'self' data:;" in page.headers["content-security-policy"]
    assert "<script>" not in html and "style=" not in html
    assert 'aria-current="page">Map</a>' in html


def test_the_page_for_an_operator_with_focus_offers_to_acknowledge(operator: TestClient, city_app: FastAPI) -> None:
    failure = city_app.state.city_alarms["failure"]
    page = operator.get("/dashboard/map", params={"focus": lamp_id(2)})
    assert page.status_code == 200
    html = page.text
    assert f'data-entity-id="{lamp_id(2)}"' in html and f'data-focus="{lamp_id(2)}"' in html
    assert f'action="/dashboard/console/alarms/{failure.id}/acknowledge"' in html
    back = f"/dashboard/map?focus={quote(lamp_id(2), safe='/')}"
    assert f'name="next" value="{back}"' in html
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert token is not None
    done = operator.post(
        f"/dashboard/console/alarms/{failure.id}/acknowledge",
        data={"csrf_token": token.group(1), "next": back},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"{back}&done=acknowledge%3A{failure.id}"
    assert city_app.state.operations.get_alarm(failure.tenant, failure.id).state is TicketState.ACKNOWLEDGED
    again = operator.get(done.headers["location"]).text
    assert "acknowledge:" in again and f"/alarms/{failure.id}/acknowledge" not in again  # no longer open


def test_the_page_and_a_detail_render_in_german(viewer: TestClient) -> None:
    viewer.cookies.set("urbis_lang", "de")
    page = viewer.get("/dashboard/map", params={"focus": CENTRE})
    assert page.status_code == 200 and '<html lang="de">' in page.text
    assert 'data-value="lightsWorking">75,0\u00a0%' in page.text  # German: a decimal comma, a space before %


def test_a_viewer_sees_the_alarm_but_no_action(viewer: TestClient, city_app: FastAPI) -> None:
    failure = city_app.state.city_alarms["failure"]
    html = viewer.get("/dashboard/map", params={"focus": lamp_id(2)}).text
    assert f'data-alarm="{failure.id}"' in html and "lamp l2 is dark" in html
    assert "/acknowledge" not in html


def test_a_focus_on_a_vanished_object_still_shows_the_map(viewer: TestClient) -> None:
    page = viewer.get("/dashboard/map", params={"focus": "urn:ngsi-ld:Streetlight:gone"})
    assert page.status_code == 200 and 'data-missing="urn:ngsi-ld:Streetlight:gone"' in page.text


def test_the_json_twin_equals_the_read_model(viewer: TestClient, city_app: FastAPI, tenant: str) -> None:
    response = viewer.get("/dashboard/map.json")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    twin = response.json()
    assert twin == as_json(map_service(city_app).city_map(tenant).to_json())
    assert twin["at"] == "2026-11-24T12:10:00+00:00" and len(twin["layers"]["lights"]["features"]) == 5
    # A live refresh asks for the layers that change (the streets are the background).
    some = viewer.get("/dashboard/map.json", params={"layers": "districts,alarms"}).json()
    assert some["layers"] == {"districts": twin["layers"]["districts"], "alarms": twin["layers"]["alarms"]}
    for bad in ("bogus", "lights,,nothing", ","):
        assert viewer.get("/dashboard/map.json", params={"layers": bad}).status_code == 400


def test_the_detail_fragment_and_its_twin(viewer: TestClient, city_app: FastAPI, tenant: str) -> None:
    fragment = viewer.get("/dashboard/map/detail", params={"id": STATION})
    assert fragment.status_code == 200
    html = fragment.text
    assert "<html" not in html  # a fragment for the side panel
    assert f'data-entity-id="{STATION}"' in html and 'data-kind="station"' in html
    assert 'class="aqi-badge aqi-3">112<' in html
    chart = re.search(r"data-chart='([^']*)'", html)
    assert chart is not None
    drawn = orjson.loads(html_lib.unescape(chart.group(1)))
    assert [s["key"] for s in drawn["series"]] == ["pm25", "aqi"]
    assert drawn["labels"][-1] == "12:00\u202fPM"  # 11:00 UTC is noon in Berlin
    assert drawn["series"][1]["values"][-1] == 112.0
    twin = viewer.get("/dashboard/map/detail.json", params={"id": STATION}).json()
    assert twin == as_json(map_service(city_app).object_detail(tenant, STATION).to_json())
    district = viewer.get("/dashboard/map/detail", params={"id": CENTRE}).text
    assert 'data-value="lightsWorking">75.0%' in district
    street = viewer.get("/dashboard/map/detail.json", params={"id": ROAD}).json()
    assert street["kind"] == "street" and street["values"]["roadClass"] == "primary"


@pytest.mark.parametrize("path", ["/dashboard/map/detail", "/dashboard/map/detail.json"])
def test_unknown_or_missing_ids(viewer: TestClient, path: str) -> None:
    unknown = viewer.get(path, params={"id": "urn:ngsi-ld:Streetlight:nowhere"})
    assert unknown.status_code == 404
    assert viewer.get(path).status_code == 400
    assert viewer.get(path, params={"id": "x" * 600}).status_code == 400


def test_the_json_404_is_problem_details(viewer: TestClient) -> None:
    response = viewer.get("/dashboard/map/detail.json", params={"id": "urn:ngsi-ld:Streetlight:nowhere"})
    assert response.headers["content-type"].startswith("application/") and response.json()["status"] == 404


@pytest.mark.parametrize("path", ["/dashboard/map", "/dashboard/map.json", "/dashboard/map/detail?id=x"])
def test_login_is_required(city_app: FastAPI, path: str) -> None:
    with TestClient(city_app) as anonymous:
        response = anonymous.get(path, follow_redirects=False)
    if path.endswith(".json"):
        assert response.status_code == 401
    else:
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/dashboard/map")
