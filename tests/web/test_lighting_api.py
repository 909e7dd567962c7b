"""The lighting API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.context.jsonld import URBIS_CONTEXT_URL
from urbis.core.clock import FixedClock
from urbis.solutions.lighting.service import LightingService
from urbis.web import lighting

LINK = '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
NOON = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
GROUP = "urn:ngsi-ld:StreetlightGroup:g1"


def build(db_url: str, tenant: str, **overrides: object) -> FastAPI:
    app = create_app(make_settings(db_url, tenant, **overrides))
    expand = app.state.contexts.resolve(URBIS_CONTEXT_URL).expand
    app.state.lighting = LightingService(
        app.state.context, expand, app.state.operations, clock=FixedClock(NOON), temporal=app.state.temporal
    )
    app.include_router(lighting.router)
    return app


@pytest.fixture
def lit(db_url: str, tenant: str) -> Iterator[TestClient]:
    with TestClient(build(db_url, tenant)) as client:
        yield client


def prop(value: Any, at: datetime | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"type": "Property", "value": value}
    if at is not None:
        document["observedAt"] = at.isoformat().replace("+00:00", "Z")
    return document


def seed(client: TestClient, tenant: str) -> None:
    entities = [
        {
            "id": GROUP,
            "type": "StreetlightGroup",
            "areaServed": prop("Centre"),
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.1, 50.73]}},
        },
        {
            "id": "urn:ngsi-ld:Streetlight:l1",
            "type": "Streetlight",
            "areaServed": prop("Centre"),
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.1, 50.73]}},
            "refStreetlightGroup": {"type": "Relationship", "object": GROUP},
            "powerRating": prop(40.0),
        },
    ]
    response = client.post(
        "/ngsi-ld/v1/entityOperations/upsert", json=entities, headers={"Link": LINK, "NGSILD-Tenant": tenant}
    )
    assert response.status_code in (201, 204), response.text


def burn_by_day(client: TestClient, tenant: str, at: datetime) -> None:
    fragment = {"powerState": prop("on", at), "powerConsumption": prop(41.0, at), "status": prop("ok", at)}
    client.post(  # append: the attributes may not exist yet
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:l1/attrs",
        json=fragment,
        headers={"Link": LINK, "NGSILD-Tenant": tenant},
    ).raise_for_status()


def test_faults_lists_the_active_lighting_alarms(lit: TestClient, tenant: str) -> None:
    seed(lit, tenant)
    service: LightingService = lit.app.state.lighting  # type: ignore[attr-defined]
    assert lit.get("/api/v1/lighting/faults").json() == []
    for k in range(2):
        at = NOON + timedelta(minutes=15 * k)
        burn_by_day(lit, tenant, at)
        service.evaluate_tenant(tenant, at)
    (alarm,) = lit.get("/api/v1/lighting/faults").json()
    assert (alarm["kind"], alarm["source"], alarm["solution"]) == (
        "lampUnexpectedOn",
        "urn:ngsi-ld:Streetlight:l1",
        "lighting",
    )


def test_energy_defaults_to_the_last_day_and_rejects_bad_windows(lit: TestClient, tenant: str) -> None:
    seed(lit, tenant)
    answer = lit.get("/api/v1/lighting/energy").json()
    assert answer["end"].startswith("2026-06-15T10:00:00") and answer["start"].startswith("2026-06-14T10:00:00")
    lamp = next(n for n in answer["nodes"] if n["id"] == "urn:ngsi-ld:Streetlight:l1")
    assert lamp["basis"] == "estimated" and lamp["parent"] == GROUP
    assert answer["city"]["kwh"] == lamp["kwh"] > 0 and answer["city"]["baselineKwh"] > answer["city"]["kwh"]
    window = {"start": "2026-06-14T00:00:00Z", "end": "2026-06-15T00:00:00Z"}
    assert lit.get("/api/v1/lighting/energy", params=window).status_code == 200
    for bad in (
        {"start": "yesterday"},
        {"start": "2026-06-14T00:00:00"},  # no time zone
        {"start": "2026-06-15T00:00:00Z", "end": "2026-06-14T00:00:00Z"},
        {"from": "2026-06-14T00:00:00Z"},
        {"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},  # years of nights per lamp: too long
        {"start": "0001-01-01T00:00:00+01:00"},  # before the calendar begins in UTC
    ):
        assert_problem(lit.get("/api/v1/lighting/energy", params=bad), 400)


def test_a_groups_planned_night(lit: TestClient, tenant: str) -> None:
    seed(lit, tenant)
    night = lit.get(f"/api/v1/lighting/groups/{GROUP}/schedule", params={"date": "2026-01-15"}).json()
    assert night["date"] == "2026-01-15" and [c["level"] for c in night["changes"]] == [100.0, 50.0, 100.0, 0.0]
    assert night["changes"][1]["at"].startswith("2026-01-15T22:00:00")
    assert night["changes"][1]["reason"] == "fixedTimeStep"
    assert lit.get(f"/api/v1/lighting/groups/{GROUP}/schedule").json()["date"] == "2026-06-15"  # 12:00 CEST
    for bad in ("15.01.2026", "9999-12-31", "0001-01-01"):  # the calendar's ends have no night after or before
        assert_problem(lit.get(f"/api/v1/lighting/groups/{GROUP}/schedule", params={"date": bad}), 400)
    assert_problem(lit.get("/api/v1/lighting/groups/urn:ngsi-ld:StreetlightGroup:nope/schedule"), 404)


def test_reading_follows_the_context_read_rules(db_url: str, tenant: str) -> None:
    with TestClient(build(db_url, tenant, ngsild_open=False)) as client:
        for path in ("/api/v1/lighting/faults", "/api/v1/lighting/energy", f"/api/v1/lighting/groups/{GROUP}/schedule"):
            assert_problem(client.get(path), 401)
