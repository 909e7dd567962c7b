"""The lighting control API on SQLite and PostgreSQL: programs, calendars, group calendars, overrides, commands."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_lighting_api import GROUP, LINK, prop

from conftest import login_headers, make_settings
from problem_details import assert_problem
from urbis.app import create_app

P = "/api/v1/lighting"
LAMP = "urn:ngsi-ld:Streetlight:l1"


@pytest.fixture
def api(db_url: str, tenant: str) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(db_url, tenant, ngsild_open=False))) as client:
        yield client


def seed(client: TestClient, tenant: str) -> None:
    point = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.1, 50.73]}}
    entities = [
        {"id": GROUP, "type": "StreetlightGroup", "areaServed": prop("Centre"), "location": point},
        {
            "id": LAMP,
            "type": "Streetlight",
            "areaServed": prop("Centre"),
            "location": point,
            "refStreetlightGroup": {"type": "Relationship", "object": GROUP},
            "powerRating": prop(40.0),
        },
    ]
    headers = {**login_headers(client, tenant, "admin"), "Link": LINK}
    response = client.post("/ngsi-ld/v1/entityOperations/upsert", json=entities, headers=headers)
    assert response.status_code in (201, 204), response.text


PROGRAM: dict[str, Any] = {"name": "Late dimming", "level": 100, "steps": [{"at": "22:00", "level": 30}]}


def test_operators_edit_programs_and_calendars_viewers_read_them(api: TestClient, tenant: str) -> None:
    seed(api, tenant)
    operator = login_headers(api, tenant, "operator", subject="olga")
    viewer = login_headers(api, tenant, "viewer", subject="vera")

    assert_problem(api.put(f"{P}/programs/late", json=PROGRAM, headers=viewer), 403)
    created = api.put(f"{P}/programs/late", json=PROGRAM, headers=operator)
    assert created.status_code == 201, created.text
    assert created.json()["updatedBy"] == "olga" and created.json()["steps"] == [{"at": "22:00", "level": 30}]
    assert api.put(f"{P}/programs/late", json={**PROGRAM, "level": 90}, headers=operator).status_code == 200
    programs = api.get(f"{P}/programs", headers=viewer).json()
    assert [(p["id"], p["builtIn"]) for p in programs] == [("urbis-default", True), ("late", False)]
    assert api.get(f"{P}/programs/late", headers=viewer).json()["level"] == 90

    bad = api.put(f"{P}/programs/late", json={**PROGRAM, "steps": [{"at": "25:00", "level": 1}]}, headers=operator)
    assert "steps[0].at" in assert_problem(bad, 400)["detail"]
    assert_problem(api.put(f"{P}/programs/late", content=b"{", headers=operator), 400)
    assert_problem(api.get(f"{P}/programs/nope", headers=viewer), 404)

    calendar = {
        "defaultProgram": "urbis-default",
        "rules": [{"name": "Weekend", "program": "late", "weekdays": [6, 7]}],
    }
    assert api.put(f"{P}/calendars/weekend", json=calendar, headers=operator).status_code == 201
    unknown = api.put(f"{P}/calendars/odd", json={"defaultProgram": "ghost"}, headers=operator)
    assert "ghost" in assert_problem(unknown, 400)["detail"]

    assigned = api.put(f"{P}/groups/{GROUP}/calendar", json={"calendarId": "weekend"}, headers=operator)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["calendar"] == "weekend"
    calendars = {c["id"]: c for c in api.get(f"{P}/calendars", headers=viewer).json()}
    assert calendars["weekend"]["groups"] == [GROUP] and calendars["default"]["builtIn"] is True
    # 2026-11-28 is a Saturday: the weekend rule runs "late", dimming to 30 % at 22:00 CET (21:00 UTC).
    night = api.get(f"{P}/groups/{GROUP}/schedule", params={"date": "2026-11-28"}, headers=viewer).json()
    assert night["program"] == "late" and night["calendarRule"] == "Weekend"
    assert {"at": "2026-11-28T21:00:00+00:00", "level": 30.0} in [
        {"at": c["at"], "level": c["level"]} for c in night["changes"]
    ]

    assert_problem(api.delete(f"{P}/programs/late", headers=operator), 409)
    assert_problem(api.delete(f"{P}/calendars/weekend", headers=operator), 409)
    assert_problem(api.put(f"{P}/groups/{GROUP}/calendar", json={"calendar": "x"}, headers=operator), 400)
    missing_group = api.put(
        f"{P}/groups/urn:ngsi-ld:StreetlightGroup:x/calendar", json={"calendarId": "weekend"}, headers=operator
    )
    assert_problem(missing_group, 404)
    assert api.put(f"{P}/groups/{GROUP}/calendar", json={"calendarId": "default"}, headers=operator).status_code == 200
    assert api.delete(f"{P}/calendars/weekend", headers=operator).status_code == 204
    assert api.delete(f"{P}/programs/late", headers=operator).status_code == 204
    assert_problem(api.delete(f"{P}/programs/late", headers=operator), 404)
    assert_problem(api.delete(f"{P}/programs/urbis-default", headers=operator), 409)


def test_overrides_are_given_listed_and_withdrawn_by_operators_with_an_audit_trail(
    api: TestClient, tenant: str
) -> None:
    seed(api, tenant)
    operator = login_headers(api, tenant, "operator", subject="olga")
    viewer = login_headers(api, tenant, "viewer", subject="vera")
    citizen = login_headers(api, tenant, "citizen")
    # 10 %: no program commands it, so the override's start is a change whenever the test runs.
    body = {"targets": ["district:Centre"], "level": 10, "durationMinutes": 120, "note": "Street festival"}

    assert_problem(api.post(f"{P}/overrides", json=body, headers=viewer), 403)
    created = api.post(f"{P}/overrides", json=body, headers=operator)
    assert created.status_code == 201, created.text
    override = created.json()
    assert (override["state"], override["createdBy"], override["note"]) == ("active", "olga", "Street festival")
    # The group's night now carries the override from its start on.
    night = api.get(f"{P}/groups/{GROUP}/schedule", headers=viewer).json()
    assert override["id"] in {c["override"] for c in night["changes"]}

    assert [o["id"] for o in api.get(f"{P}/overrides", headers=viewer).json()] == [override["id"]]
    assert_problem(api.get(f"{P}/overrides", headers=citizen), 403)
    assert_problem(api.get(f"{P}/overrides", params={"state": "old"}, headers=viewer), 400)
    assert api.get(f"{P}/overrides/{override['id']}", headers=viewer).json()["targets"] == ["district:Centre"]
    assert_problem(api.get(f"{P}/overrides/{'f' * 32}", headers=viewer), 404)
    assert_problem(api.get(f"{P}/overrides/{'f' * 300}", headers=viewer), 404)

    for bad in ({**body, "level": 120}, {**body, "expiry": "2030-01-01T00:00:00Z"}, {"level": 10}, [body]):
        assert_problem(api.post(f"{P}/overrides", json=bad, headers=operator), 400)

    withdrawn = api.delete(f"{P}/overrides/{override['id']}", headers=operator)
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawnBy"] == "olga"
    assert withdrawn.json()["state"] == "ended"
    assert_problem(api.delete(f"{P}/overrides/{override['id']}", headers=operator), 409)
    assert api.get(f"{P}/overrides", headers=viewer).json() == []
    assert len(api.get(f"{P}/overrides", params={"state": "all"}, headers=viewer).json()) == 1


def test_the_last_commands_are_staff_only_and_filtered_by_feedback(api: TestClient, tenant: str) -> None:
    seed(api, tenant)
    admin = login_headers(api, tenant, "admin")
    device = {"id": "lamp-1", "deviceType": "streetlight-controller", "entityId": LAMP}
    assert api.post("/api/v1/devices", json=device, headers=admin).status_code == 201
    api.app.state.lighting.evaluate_tenant(tenant, api.app.state.lighting.clock.now())  # type: ignore[attr-defined]

    viewer = login_headers(api, tenant, "viewer")
    (command,) = api.get(f"{P}/commands", headers=viewer).json()
    assert (command["lampId"], command["deviceId"], command["feedback"]) == (LAMP, "lamp-1", "pending")
    sent = api.get("/api/v1/devices/lamp-1/commands", headers=admin).json()
    assert [(c["id"], c["command"]) for c in sent] == [(command["commandId"], "setLightLevel")]
    assert api.get(f"{P}/commands", params={"feedback": "ok"}, headers=viewer).json() == []
    assert_problem(api.get(f"{P}/commands", params={"feedback": "great"}, headers=viewer), 400)
    assert_problem(api.get(f"{P}/commands", headers=login_headers(api, tenant, "citizen")), 403)


def test_the_tariff_currency_and_grid_factor_come_from_the_settings(db_url: str, tenant: str) -> None:
    settings = make_settings(
        db_url, tenant, lighting_tariff_per_kwh=0.21, lighting_currency="CHF", lighting_grid_kg_co2_per_kwh=0.05
    )
    with TestClient(create_app(settings)) as client:
        seed(client, tenant)
        report = client.get(f"{P}/energy", headers=login_headers(client, tenant, "viewer")).json()
    assert (report["tariffPerKwh"], report["gridKgCo2PerKwh"]) == ("0.21", 0.05)
    city = next(node for node in report["nodes"] if node["level"] == "city")
    assert city["currency"] == "CHF"
