"""The parking API and the parking solution running in the app, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import login_headers, make_settings
from mqtt_broker import wait_until
from problem_details import assert_problem
from urbis.app import create_app

LINK = '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def seed(client: TestClient, tenant: str) -> None:
    entities: list[dict[str, Any]] = [
        {
            "id": "urn:ngsi-ld:OnStreetParking:z1",
            "type": "OnStreetParking",
            "areaServed": {"type": "Property", "value": "Centre"},
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


@pytest.fixture
def running(db_url: str, tenant: str) -> Iterator[TestClient]:
    """An app whose solutions run (a long interval: only changes wake them)."""
    app = create_app(
        make_settings(
            db_url, tenant, solutions_enabled=True, solutions_interval_seconds=3600, solutions_min_gap_seconds=0.2
        )
    )
    with TestClient(app) as client:
        yield client


def test_occupancy_and_guidance(client: TestClient, tenant: str) -> None:
    seed(client, tenant)
    overview = client.get("/api/v1/parking/occupancy", headers={"NGSILD-Tenant": tenant}).json()
    assert overview["city"]["occupancy"] == 0.25  # 1 of 4 bays taken
    assert [z["id"] for z in overview["zones"]] == ["urn:ngsi-ld:OnStreetParking:z1"]
    summary = client.get("/api/v1/parking/occupancy/summary", headers={"NGSILD-Tenant": tenant}).json()
    assert summary["districts"] == [{"name": "Centre", **overview["city"]}]
    answer = client.get("/api/v1/parking/guidance", params={"lon": 7.1002, "lat": 50.7301}).json()
    (option,) = answer["options"]
    assert (option["id"], option["free"], option["capacity"]) == ("urn:ngsi-ld:OnStreetParking:z1", 3, 4)
    assert option["walkingDistance"] == 18  # 0.0002° east and 0.0001° north at 50.73°: about 18 m


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"lon": "7.1"},
        {"lon": "east", "lat": "50"},
        {"lon": "200", "lat": "50"},
        {"lon": "7.1", "lat": "nan"},
        {"lon": "7.1", "lat": "50", "limit": "0"},
        {"lon": "7.1", "lat": "50", "maxWalk": "-3"},
        {"lon": "7.1", "lat": "50", "radius": "3"},
    ],
)
def test_bad_guidance_requests_are_400(client: TestClient, query: dict[str, str]) -> None:
    assert_problem(client.get("/api/v1/parking/guidance", params=query), 400)


def test_guidance_for_a_later_arrival_says_which_occupancy_it_used(client: TestClient, tenant: str) -> None:
    seed(client, tenant)
    now = client.get("/api/v1/parking/guidance", params={"lon": 7.1002, "lat": 50.7301}).json()
    (option,) = now["options"]
    assert (option["occupancyBasis"], option["occupancyOnArrival"], option["occupancySd"]) == ("live", 0.25, 0.05)
    assert now["arriveAt"] == now["at"]  # no arrival given: now
    later = client.get(
        "/api/v1/parking/guidance", params={"lon": 7.1002, "lat": 50.7301, "arrivalMinutes": "30"}
    ).json()
    # 30 minutes on, exactly: the zone has no history to forecast from, so its live share is used.
    assert datetime.fromisoformat(later["arriveAt"]) - datetime.fromisoformat(later["at"]) == timedelta(minutes=30)
    (option,) = later["options"]
    assert option["occupancyBasis"] == "live" and option["occupancyOnArrival"] == 0.25
    arrive_at = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    planned = client.get(
        "/api/v1/parking/guidance", params={"lon": 7.1002, "lat": 50.7301, "arriveAt": arrive_at, "kinds": "garage"}
    ).json()
    assert planned["options"] == []  # no garage in this city


@pytest.mark.parametrize(
    "extra",
    [
        {"arriveAt": "2030-01-01T08:00:00Z", "arrivalMinutes": "10"},  # one or the other
        {"arriveAt": "2026-11-24T08:00:00"},  # no time zone
        {"arriveAt": "tomorrow"},
        {"arriveAt": "2000-01-01T08:00:00Z"},  # in the past
        {"arriveAt": "2999-01-01T08:00:00Z"},  # beyond a week
        {"arrivalMinutes": "-5"},
        {"arrivalMinutes": "10081"},
        {"kinds": "car"},
        {"kinds": ""},
    ],
)
def test_bad_arrivals_and_kinds_are_400(client: TestClient, extra: dict[str, str]) -> None:
    assert_problem(client.get("/api/v1/parking/guidance", params={"lon": "7.1", "lat": "50", **extra}), 400)


def test_occupancy_history(client: TestClient, tenant: str) -> None:
    seed(client, tenant)
    zone = client.get("/api/v1/parking/occupancy/history", params={"id": "urn:ngsi-ld:OnStreetParking:z1"}).json()
    # The last day by the hour; the zone's occupancy was never written back here (no solution runs), so unknown.
    assert (zone["id"], zone["kind"], zone["period"], zone["current"], zone["places"]) == (
        "urn:ngsi-ld:OnStreetParking:z1",
        "zone",
        "PT1H",
        0.25,
        1,
    )
    assert len(zone["values"]) == 24 and {v["occupancy"] for v in zone["values"]} == {None}
    bay = client.get(
        "/api/v1/parking/occupancy/history", params={"id": "urn:ngsi-ld:ParkingSpot:b0", "period": "PT15M"}
    ).json()
    assert bay["kind"] == "bay" and bay["current"] == 1.0 and len(bay["values"]) == 96
    district = client.get("/api/v1/parking/occupancy/history", params={"district": "Centre", "period": "P1D"}).json()
    assert (district["district"], district["kind"], len(district["values"])) == ("Centre", "district", 1)
    city = client.get("/api/v1/parking/occupancy/history").json()
    assert city["kind"] == "city" and city["current"] == 0.25


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"period": "PT5M"}, 400),
        ({"from": "2026-11-01T00:00:00"}, 400),  # no time zone
        ({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, 400),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "period": "PT15M"}, 400),  # > 31 days
        ({"to": "0001-01-01T00:00:00Z"}, 400),  # a day before the calendar's first
        ({"id": "urn:ngsi-ld:OnStreetParking:z1", "district": "Centre"}, 400),
        ({"zoneId": "urn:ngsi-ld:OnStreetParking:z1"}, 400),
        ({"district": "Atlantis"}, 404),
        ({"id": "urn:ngsi-ld:OnStreetParking:nope"}, 404),
    ],
)
def test_bad_history_requests_are_4xx(client: TestClient, tenant: str, query: dict[str, str], status: int) -> None:
    seed(client, tenant)
    assert_problem(client.get("/api/v1/parking/occupancy/history", params=query), status)


def test_reading_follows_the_context_read_rules(db_url: str, tenant: str) -> None:
    app = create_app(make_settings(db_url, tenant, ngsild_open=False))
    with TestClient(app) as client:
        assert_problem(client.get("/api/v1/parking/occupancy"), 401)


def test_the_running_solution_writes_zone_occupancy_when_a_bay_changes(running: TestClient, tenant: str) -> None:
    seed(running, tenant)
    headers = {"Link": LINK, "NGSILD-Tenant": tenant}

    def zone_occupancy() -> Any:
        entity = running.get("/ngsi-ld/v1/entities/urn:ngsi-ld:OnStreetParking:z1", headers=headers).json()
        return entity.get("occupancy", {}).get("value")

    assert wait_until(lambda: zone_occupancy() == 0.25)
    running.patch(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:b1/attrs",
        json={"status": {"type": "Property", "value": "occupied"}},
        headers=headers,
    ).raise_for_status()
    assert wait_until(lambda: zone_occupancy() == 0.5)

    def status() -> dict[str, Any]:
        return {s["name"]: s for s in running.get("/api/v1/solutions/status").json()}

    assert set(status()) == {"lighting", "parking", "air-quality"}
    # The run that wrote 0.5 counts itself once it returns, a moment after its write.
    assert wait_until(lambda: status()["parking"]["runs"] >= 2)
    parking = status()["parking"]
    assert parking["leading"] and parking["failures"] == 0 and parking["wakeups"] >= 1


def test_rates_are_public_and_reviews_need_an_operator(client: TestClient, tenant: str) -> None:
    seed(client, tenant)
    rates = client.get("/api/v1/parking/rates").json()
    assert len(rates) == 6 and {r["price"] for r in rates} == {"2.00"} and {r["currency"] for r in rates} == {"EUR"}
    assert client.get("/api/v1/parking/rates/log").headers["x-total-count"] == "0"
    assert_problem(client.post("/api/v1/parking/rates/review"), 401)
    assert_problem(client.get("/api/v1/parking/rates/log", params={"limit": "x"}), 400)


def test_forecast_requests(client: TestClient, tenant: str) -> None:
    seed(client, tenant)
    assert_problem(client.get("/api/v1/parking/forecast"), 400)
    assert_problem(client.get("/api/v1/parking/forecast", params={"zoneId": "urn:ngsi-ld:OnStreetParking:nope"}), 404)
    assert_problem(client.get("/api/v1/parking/forecast", params={"zoneId": "urn:ngsi-ld:ParkingSpot:b0"}), 400)
    answer = client.get("/api/v1/parking/forecast", params={"zoneId": "urn:ngsi-ld:OnStreetParking:z1"}).json()
    assert (answer["zoneId"], answer["horizons"], answer["observations"]) == ("urn:ngsi-ld:OnStreetParking:z1", [], 0)


def test_sessions_for_drivers_and_compliance_for_staff(db_url: str, tenant: str) -> None:
    app = create_app(make_settings(db_url, tenant, ngsild_open=False))
    with TestClient(app) as client:
        admin = login_headers(client, tenant, "admin")
        entities = [
            {"id": "urn:ngsi-ld:OnStreetParking:z1", "type": "OnStreetParking"},
            {
                "id": "urn:ngsi-ld:ParkingSpot:b1",
                "type": "ParkingSpot",
                "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:OnStreetParking:z1"},
            },
        ]
        client.post(
            "/ngsi-ld/v1/entityOperations/upsert", json=entities, headers=admin | {"Link": LINK}
        ).raise_for_status()
        driver = login_headers(client, tenant, "citizen")
        body = {
            "zoneId": "urn:ngsi-ld:OnStreetParking:z1",
            "bayId": "urn:ngsi-ld:ParkingSpot:b1",
            "plate": "BN-X 1",
            "paidMinutes": 90,
        }
        assert_problem(client.post("/api/v1/parking/sessions", json=body, headers={"NGSILD-Tenant": tenant}), 401)
        made = client.post("/api/v1/parking/sessions", json=body, headers=driver)
        assert made.status_code == 201 and made.json()["plate"] == "BN-X 1"
        assert_problem(client.get("/api/v1/parking/sessions", headers=driver), 403)  # plates are for staff
        listed = client.get("/api/v1/parking/sessions", headers=login_headers(client, tenant, "operator")).json()
        assert [s["id"] for s in listed] == [made.json()["id"]]
        report = client.get("/api/v1/parking/compliance", headers=login_headers(client, tenant, "viewer")).json()
        assert report["overstays"] == [] and report["unpaid"] == []
        stop = client.post(f"/api/v1/parking/sessions/{made.json()['id']}/stop", headers=driver)
        assert stop.status_code == 200 and stop.json()["endedAt"] is not None
        assert_problem(client.post(f"/api/v1/parking/sessions/{made.json()['id']}/stop", headers=driver), 409)
        for bad in (
            {},
            {"zoneId": 3},
            {"zoneId": "urn:ngsi-ld:OnStreetParking:z1", "paidMinutes": "60"},
            {"zoneId": "urn:ngsi-ld:OnStreetParking:z1", "rights": "x"},
        ):
            assert_problem(client.post("/api/v1/parking/sessions", json=bad, headers=driver), 400)
