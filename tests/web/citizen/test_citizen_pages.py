"""The citizen app's pages on SQLite and PostgreSQL: every page in English and German, the app's shell
(manifest, service worker, icons), air quality near a point, parking near a destination, the map's data,
and logging in, signing up and out.  The other citizen page tests import the fixtures and helpers here.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from report_builders import DISTRICT_NORTH, LAMP_ID, add_city

from conftest import make_settings
from urbis.app import create_app
from urbis.citizens.service import Submission
from urbis.context.history import us_to_iso
from urbis.core.clock import FixedClock
from urbis.ingestion.messages import DeviceReadings, Measure
from urbis.web.citizen import install_citizen_app

PASSWORD = "resident-password-1"
LINK = '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
#: A point in the south district, about 130 m south-east of the south station (see add_stations).
SOUTH_POINT = {"lat": "50.7191", "long": "7.1012"}


def citizen_app_for(db_url: str, tenant: str, **overrides: Any) -> FastAPI:
    """A full app with the citizen app installed and a small city (two districts, a street, a lamp)."""
    clock = overrides.pop("clock", None)
    app = create_app(make_settings(db_url, tenant, **overrides), clock=clock)
    install_citizen_app(app)
    add_city(app, tenant)
    return app


@pytest.fixture
def citizen_app(db_url: str, tenant: str) -> FastAPI:
    return citizen_app_for(db_url, tenant)


@pytest.fixture
def citizen(citizen_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(citizen_app) as client:
        yield client


def make_resident(app: FastAPI, tenant: str, name: str = "ann", email: str | None = None) -> str:
    """A resident's account (role citizen); its username (usernames are global: named after the tenant)."""
    username = f"{name}-{tenant}"
    app.state.accounts.create_user(username, PASSWORD, tenant=tenant, roles=["citizen"], email=email)
    return username


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    response = client.post("/app/login", data={"username": username, "password": password}, follow_redirects=False)
    assert response.status_code == 303, response.text


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def public_report(app: FastAPI, tenant: str, **fields: Any) -> str:
    """A public street-light report filed directly through the service (trusted: no confirmation)."""
    values: dict[str, Any] = {
        "service_code": "streetlight",
        "description": "The lamp is dark.",
        "lat": 50.7356,
        "long": 7.1010,
        "answers": {"fault": ["dark"]},
        "trusted": True,
    }
    values.update(fields)
    receipt = app.state.citizen_reports.submit(tenant, Submission(**values))
    return str(receipt.report.id)


def add_stations(app: FastAPI, tenant: str) -> None:
    """Two stations with 12 hours of PM2.5: 40 µg/m³ in the north (AQI 112), 5 µg/m³ in the south (AQI 28).

    NowCast of 39.9/40.1 taken in turn is 40.0: (150 - 101) / (55.4 - 35.5) * (40.0 - 35.5) + 101 = 112.1
    -> 112 (unhealthy for sensitive groups); of 4.9/5.1 it is 5.0: 50 / 9.0 * 5.0 = 27.8 -> 28 (good).
    """
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    readings = []
    stations = [
        ("north", "Station North", DISTRICT_NORTH, 40.0, (7.1000, 50.7400)),
        ("south", "Station South", "Südstadt", 5.0, (7.1000, 50.7200)),
    ]
    for local, name, district, pm25, (long, lat) in stations:
        measures = []
        for back in range(1, 13):
            at = int((end - timedelta(hours=back, minutes=-30)).timestamp() * 1_000_000)
            measures.append(Measure("pm25", pm25 + (0.1 if back % 2 else -0.1), us_to_iso(at), at))
        seed = {
            "name": {"type": "Property", "value": name},
            "areaServed": {"type": "Property", "value": district},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [long, lat]}},
        }
        entity_id = f"urn:ngsi-ld:AirQualityObserved:{local}"
        readings.append(DeviceReadings(tenant, f"aq-{local}", entity_id, "AirQualityObserved", measures, seed))
    app.state.context.record(readings, received_us=0)


def add_parking(client: TestClient, tenant: str) -> None:
    """A paid zone of four bays at 7.1 E 50.73 N, one of them taken."""
    entities: list[dict[str, Any]] = [
        {
            "id": "urn:ngsi-ld:OnStreetParking:z1",
            "type": "OnStreetParking",
            "name": {"type": "Property", "value": "Marktplatz"},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.1, 50.73]}},
        }
    ]
    for n, status in enumerate(["occupied", "free", "free", "free"]):
        entities.append(
            {
                "id": f"urn:ngsi-ld:ParkingSpot:b{n}",
                "type": "ParkingSpot",
                "status": {"type": "Property", "value": status},
                "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:OnStreetParking:z1"},
            }
        )
    response = client.post(
        "/ngsi-ld/v1/entityOperations/upsert", json=entities, headers={"Link": LINK, "NGSILD-Tenant": tenant}
    )
    assert response.status_code in (201, 204), response.text


def assert_page(response: Any, language: str = "en") -> str:
    """An HTML page of the citizen app in ``language``, with the strict Content-Security-Policy."""
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "default-src 'self'" in response.headers["content-security-policy"]
    html: str = response.text
    assert f'<html lang="{language}">' in html
    assert ("Zum Inhalt springen" if language == "de" else "Skip to content") in html
    assert 'rel="manifest" href="/app/manifest.webmanifest"' in html
    assert " style=" not in html, "inline styles are refused by the CSP"
    assert "<script>" not in html, "inline scripts are refused by the CSP"
    return html


# -- every page, both languages -------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_page_answers_in_english_and_german(
    citizen_app: FastAPI, citizen: TestClient, tenant: str, language: str
) -> None:
    citizen.cookies.set("urbis_lang", language)
    report_id = public_report(citizen_app, tenant)
    pages = [
        "/app",
        "/app/air",
        "/app/parking",
        "/app/report",
        "/app/login",
        "/app/signup",
        f"/app/reports/{report_id}",
        f"/app/reports/{report_id}/confirm?code=x",
    ]
    for path in pages:
        html = assert_page(citizen.get(path), language)
        # Words the shared catalogue already has: the language really changed, not only the attribute.
        assert ("Anmelden" if language == "de" else "Log in") in html, path
    log_in(citizen, make_resident(citizen_app, tenant))
    html = assert_page(citizen.get("/app/me"), language)
    assert ("Abmelden" if language == "de" else "Log out") in html
    air = assert_page(citizen.get("/app/air"), language)
    assert ("Luftqualität" if language == "de" else "Air quality") in air
    parking = assert_page(citizen.get("/app/parking"), language)
    assert ("Parken" if language == "de" else "Parking") in parking


def test_the_navigation_offers_the_participation_pages(citizen: TestClient) -> None:
    html = citizen.get("/app").text
    assert '<a href="/app/participate">Take part</a>' in html
    assert '<a href="/app" aria-current="page">Home</a>' in html


def test_an_unknown_app_path_is_a_page_not_a_json_problem(citizen: TestClient) -> None:
    response = citizen.get("/app/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in response.headers
    assert "Not found" in response.text and 'href="/app/report"' in response.text
    # JSON twins keep ProblemDetails.
    assert citizen.get("/app/reports/nothing.json").json()["status"] == 404


def test_installing_twice_changes_nothing(citizen_app: FastAPI) -> None:
    before = len(citizen_app.routes)
    install_citizen_app(citizen_app)
    assert len(citizen_app.routes) == before


# -- the app's shell ------------------------------------------------------------------------------------


def test_the_manifest_makes_the_app_installable(citizen: TestClient) -> None:
    response = citizen.get("/app/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.text)
    assert manifest["start_url"] == "/app" and manifest["scope"] == "/app"
    assert manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"] == "Urbis"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"]) and manifest["background_color"] == "#ffffff"
    sizes = {}
    for icon in manifest["icons"]:
        image = citizen.get(icon["src"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(image.content)) as picture:
            assert picture.format == "PNG"
            sizes[icon["sizes"]] = picture.size
    assert sizes == {"192x192": (192, 192), "512x512": (512, 512)}


def test_the_service_worker_is_served_as_javascript_for_the_whole_app(citizen: TestClient) -> None:
    response = citizen.get("/app/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/app"
    script = response.text
    assert "__URBIS_CACHE_VERSION__" not in script
    assert re.search(r'var VERSION = "[0-9a-f]{12}";', script)
    # Personal pages and the resident API are never kept offline.
    assert r"/^\/api\/v1\/me(\/|$)/" in script and r"/^\/app\/me(\/|\.json$|$)/" in script
    assert 'if (request.method !== "GET") { return; }' in script
    # The page registers it for /app (not only /app/...), so the start page works offline too.
    assert 'register("/app/sw.js", { scope: "/app" })' in citizen.get("/static/urbis/citizen.js").text


# -- air quality ----------------------------------------------------------------------------------------


def test_air_near_a_point_shows_the_nearest_station_with_advice_and_forecast(
    citizen_app: FastAPI, citizen: TestClient, tenant: str
) -> None:
    add_stations(citizen_app, tenant)
    html = assert_page(citizen.get("/app/air", params=SOUTH_POINT))
    assert 'class="aqi-card aqi-1"' in html and '<span class="number">28</span>' in html
    assert '<p class="aqi-name">Good</p>' in html  # the category in words, not colour alone
    assert "Mostly caused by fine particles (PM2.5)." in html
    assert "Air quality is good. Enjoy your usual outdoor activities." in html
    assert "No special precautions are needed." in html
    # 12 hours of 4.9/5.1 forecast at about 5 for every hour: one run of "good".
    assert "Good for the next 24 hours" in html
    assert "Measured at Station South," in html
    twin = citizen.get("/app/air.json", params=SOUTH_POINT).json()
    assert twin["station"]["id"] == "urn:ngsi-ld:AirQualityObserved:south"
    assert (twin["station"]["usAqi"], twin["station"]["level"], twin["level"]) == (28, 1, 1)
    # 0.0012 deg of longitude at 50.72 N = 84.6 m and 0.0009 deg of latitude = 100 m: sqrt(84.6² + 100²) = 131 m.
    assert 120 <= twin["station"]["distance"] <= 140
    assert twin["district"] == {"name": "Südstadt", "usAqi": 28, "level": 1, "stations": 1}
    assert twin["city"] == {"name": "city", "usAqi": 112, "level": 3, "stations": 2}
    segments = twin["forecast"]["segments"]
    assert [s["level"] for s in segments] == [1]
    start, end = (datetime.fromisoformat(segments[0][key].replace("Z", "+00:00")) for key in ("start", "end"))
    assert end - start == timedelta(hours=24)


def test_air_at_a_place_found_by_name(citizen_app: FastAPI, citizen: TestClient, tenant: str) -> None:
    add_stations(citizen_app, tenant)
    twin = citizen.get("/app/air.json", params={"place": "nord"}).json()
    assert twin["point"]["place"] == {"name": DISTRICT_NORTH, "kind": "district"}
    assert (twin["station"]["name"], twin["station"]["usAqi"], twin["level"]) == ("Station North", 112, 3)
    html = assert_page(citizen.get("/app/air", params={"place": "nord"}))
    assert f"Near {DISTRICT_NORTH}" in html and "Unhealthy for sensitive groups" in html
    assert "Unhealthy for sensitive groups for the next 24 hours" in html
    assert "People with heart or lung disease, older adults, children and teenagers should reduce" in html
    unknown = assert_page(citizen.get("/app/air", params={"place": "Atlantis"}))
    assert "No street or district of the city has that name." in unknown
    # Without a point the city's figure is shown, measured at its worst station.
    city = citizen.get("/app/air.json").json()
    assert city["point"] is None and city["level"] == 3 and city["station"]["name"] == "Station North"


def test_air_without_stations_says_so(citizen: TestClient) -> None:
    html = assert_page(citizen.get("/app/air", params=SOUTH_POINT))
    assert "There are no air-quality measurements for this city yet." in html
    assert citizen.get("/app/air.json").json()["station"] is None


# -- parking --------------------------------------------------------------------------------------------


def test_parking_near_a_destination(citizen: TestClient, tenant: str) -> None:
    add_parking(citizen, tenant)
    point = {"lat": "50.7301", "long": "7.1002"}
    twin = citizen.get("/app/parking.json", params=point).json()
    (option,) = twin["options"]
    assert (option["id"], option["kind"], option["name"]) == ("urn:ngsi-ld:OnStreetParking:z1", "zone", "Marktplatz")
    # 3 of 4 bays free: 25 % taken, about 3 free on arrival now; 0.0002 deg east, 0.0001 north: about 18 m on foot.
    assert (option["capacity"], option["freeNow"], option["expectedFree"]) == (4, 3, 3)
    assert option["occupancyOnArrival"] == 0.25 and option["walkingDistance"] == 18
    html = assert_page(citizen.get("/app/parking", params=point))
    assert "Marktplatz" in html and "about 3 of 4" in html and "18 m, about 1 min on foot" in html
    assert "25%" in html
    nothing = assert_page(citizen.get("/app/parking", params={"lat": "50.80", "long": "7.30"}))
    assert "No parking with known spaces within walking distance." in nothing


@pytest.mark.parametrize(
    ("local_time", "shown"),
    [
        # Tuesday 10:00 in Berlin is in the weekday-morning band: the base price, 2 EUR an hour.
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "€2.00 per hour"),
        # 20:00 is outside every band: parking there is free then.
        (datetime(2026, 11, 24, 19, 0, tzinfo=UTC), "free at that time"),
    ],
)
def test_parking_shows_the_price_on_arrival(db_url: str, tenant: str, local_time: datetime, shown: str) -> None:
    app = citizen_app_for(db_url, tenant, clock=FixedClock(local_time))
    with TestClient(app) as client:
        add_parking(client, tenant)
        html = assert_page(client.get("/app/parking", params={"lat": "50.7301", "long": "7.1002"}))
        assert shown in html
        twin = client.get("/app/parking.json", params={"lat": "50.7301", "long": "7.1002"}).json()
        assert twin["options"][0]["pricePerHour"] == ("2.00" if "2.00" in shown else None)


# -- the map's data -------------------------------------------------------------------------------------


def test_the_map_data_is_public_geometry_only(citizen: TestClient) -> None:
    base = citizen.get("/app/map.json").json()["layers"]
    assert set(base) == {"districts", "streets"}
    assert {f["properties"]["name"] for f in base["districts"]["features"]} == {DISTRICT_NORTH, "Südstadt"}
    assert [f["properties"]["name"] for f in base["streets"]["features"]] == ["Hauptstraße"]
    lights = citizen.get("/app/map.json", params={"layers": "lights,nonsense"}).json()["layers"]
    assert set(lights) == {"lights"}
    (lamp,) = lights["lights"]["features"]
    assert lamp["id"] == LAMP_ID and lamp["geometry"] == {"type": "Point", "coordinates": [7.101, 50.7356]}
    assert (
        set(lamp["properties"]) == {"name", "kind", "objectType"} and lamp["properties"]["objectType"] == "Streetlight"
    )
    found = citizen.get("/app/places.json", params={"q": "haupt"}).json()
    assert [(p["name"], p["kind"]) for p in found] == [("Hauptstraße", "street")]


# -- logging in, signing up and out ---------------------------------------------------------------------


def test_a_resident_signs_up_logs_out_and_in_again(citizen_app: FastAPI, citizen: TestClient, tenant: str) -> None:
    username = f"bea-{tenant}"
    too_short = citizen.post(
        "/app/signup", data={"username": username, "email": "bea@example.org", "password": "short"}
    )
    assert too_short.status_code == 400
    assert 'id="error-password"' in too_short.text and f'value="{username}"' in too_short.text
    created = citizen.post(
        "/app/signup",
        data={"username": username, "email": "bea@example.org", "password": PASSWORD, "next": "/app/report"},
        follow_redirects=False,
    )
    assert created.status_code == 303 and created.headers["location"] == "/app/report"
    user = citizen_app.state.accounts.get_user(username, tenant=tenant)
    assert user.email == "bea@example.org" and {r.value for r in user.roles[tenant]} == {"citizen"}
    home = citizen.get("/app").text
    assert "My reports" in home and 'action="/app/logout"' in home
    taken = citizen.post("/app/signup", data={"username": username, "password": PASSWORD})
    assert taken.status_code == 409 and "This username is taken." in taken.text
    # Logging out needs the page's CSRF token.
    assert citizen.post("/app/logout", data={}).status_code == 403
    out = citizen.post("/app/logout", data={"csrf_token": csrf_of(home)}, follow_redirects=False)
    assert out.status_code == 303 and 'urbis_session=""' in out.headers["set-cookie"]
    citizen.cookies.delete("urbis_session")
    assert "My reports" not in citizen.get("/app").text
    wrong = citizen.post("/app/login", data={"username": username, "password": "not-the-password"})
    assert wrong.status_code == 401 and "The username or password is not right." in wrong.text
    assert f'value="{username}"' in wrong.text
    log_in(citizen, username)
    assert "My reports" in citizen.get("/app").text


def test_my_things_need_a_login(citizen: TestClient) -> None:
    response = citizen.get("/app/me", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/app/login?next=/app/me"
    assert citizen.get("/app/me.json").status_code == 401
    login = assert_page(citizen.get("/app/login", params={"next": "https://evil.example/"}))
    assert 'name="next" value="/app"' in login
