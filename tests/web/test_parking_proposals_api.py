"""The parking price proposals API: reviews propose, operators approve or reject, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import login_headers, make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.core import audit
from urbis.core.clock import FixedClock

LINK = '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # a Tuesday
ZONE = "urn:ngsi-ld:OnStreetParking:z1"
PROPOSALS = "/api/v1/parking/rates/proposals"
#: The SFpark decisions on the readings below, worked by hand in test_parking_pricing_service.py (base 2.00).
PROPOSED = {
    "weekday-morning": "2.25",
    "weekday-midday": "2.25",
    "weekday-afternoon": "2.25",
    "weekend-morning": "1.75",
    "weekend-midday": "1.75",
    "weekend-afternoon": "1.50",
}


def _upsert(client: TestClient, tenant: str, headers: dict[str, str], entities: list[dict[str, Any]]) -> None:
    response = client.post(
        "/ngsi-ld/v1/entityOperations/upsert",
        params={"options": "update"},
        json=entities,
        headers={**headers, "Link": LINK},
    )
    assert response.status_code in (201, 204), response.text


@contextmanager
def priced_city(db_url: str, tenant: str, **overrides: object) -> Iterator[TestClient]:
    """An app (tokens required, a fixed clock) with one paid zone and a few weeks of its occupancy."""
    clock = FixedClock(NOW)
    app = create_app(make_settings(db_url, tenant, ngsild_open=False, **overrides), clock=clock)
    # The fixed clock lies in the past of the roll-up job's real clock: read the raw history.
    app.state.temporal.use_rollups = False
    with TestClient(app) as client:
        operator = login_headers(client, tenant, "operator", subject="olga")
        zone = {"id": ZONE, "type": "OnStreetParking", "category": {"type": "Property", "value": ["feeCharged"]}}
        _upsert(client, tenant, operator, [zone])
        for observed, value in [
            ("2026-11-23T09:00:00Z", 0.95),
            ("2026-11-20T09:30:00Z", 0.85),
            ("2026-11-21T12:00:00Z", 0.2),
            ("2026-11-21T12:30:00Z", 0.2),
        ]:
            reading = {"type": "Property", "value": value, "observedAt": observed}
            _upsert(client, tenant, operator, [{"id": ZONE, "type": "OnStreetParking", "occupancy": reading}])
        yield client


@pytest.fixture
def client(db_url: str, tenant: str) -> Iterator[TestClient]:
    with priced_city(db_url, tenant) as api:
        yield api


def prices(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    response = client.get("/api/v1/parking/rates", headers=headers)
    assert response.status_code == 200, response.text
    return {rate["timeBand"]: rate["price"] for rate in response.json()}


def proposal_ids(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    """The pending proposals by time band."""
    response = client.get(PROPOSALS, params={"state": "pending"}, headers=headers)
    assert response.status_code == 200, response.text
    return {p["timeBand"]: p["id"] for p in response.json()}


def audit_trail(client: TestClient, tenant: str) -> list[audit.AuditEntry]:
    with client.app.state.db.read() as conn:  # type: ignore[attr-defined]
        entries, _ = audit.read(conn, tenant, audit.AuditFilter(action="parking.price."))
    return entries


def test_a_review_proposes_and_an_operator_approves_or_rejects(client: TestClient, tenant: str) -> None:
    operator = login_headers(client, tenant, "operator", subject="olga")
    viewer = login_headers(client, tenant, "viewer", subject="vera")
    review = client.post("/api/v1/parking/rates/review", headers=operator)
    assert review.status_code == 200, review.text
    records = {r["timeBand"]: r for r in review.json()}
    assert {band: r["newPrice"] for band, r in records.items()} == PROPOSED
    assert {r["changeState"] for r in records.values()} == {"pending"}
    assert set(prices(client, viewer).values()) == {"2.00"}  # nothing applied yet

    listed = client.get(PROPOSALS, headers=viewer)
    assert listed.status_code == 200 and listed.headers["x-total-count"] == "6"
    first = listed.json()[0]
    assert (first["zoneId"], first["currentPrice"], first["state"], first["decidedBy"]) == (
        ZONE,
        "2.00",
        "pending",
        None,
    )
    assert first["reason"] == first["decision"]["reason"] and "occupancy" in first["reason"]
    ids = proposal_ids(client, viewer)
    assert ids == {band: r["proposalId"] for band, r in records.items()}

    approved = client.post(f"{PROPOSALS}/{ids['weekday-morning']}/approve", json={"note": "ok"}, headers=operator)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["state"], approved.json()["decidedBy"], approved.json()["note"]) == (
        "approved",
        "olga",
        "ok",
    )
    assert approved.json()["decidedAt"] == "2026-11-24T18:00:00+00:00"
    rejected = client.post(f"{PROPOSALS}/{ids['weekend-afternoon']}/reject", headers=operator)
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["state"], rejected.json()["note"]) == ("rejected", None)

    now_in_force = prices(client, viewer)
    assert (now_in_force["weekday-morning"], now_in_force["weekend-afternoon"]) == ("2.25", "2.00")
    log = client.get("/api/v1/parking/rates/log", headers=viewer)
    assert log.headers["x-total-count"] == "1"
    assert (log.json()[0]["timeBand"], log.json()[0]["approvedBy"]) == ("weekday-morning", "olga")
    # Who decided is for staff: a citizen reads the change and its reason, not the name or the note.
    citizen = login_headers(client, tenant, "citizen", subject="carla")
    public = client.get("/api/v1/parking/rates/log", headers=citizen).json()[0]
    assert public["timeBand"] == "weekday-morning" and "approvedBy" not in public and "reason" in public
    decided = client.get(PROPOSALS, params={"state": "approved"}, headers=citizen).json()[0]
    assert "decidedBy" not in decided and "note" not in decided and decided["state"] == "approved"
    assert {(e.action, e.actor, e.target) for e in audit_trail(client, tenant)} == {
        ("parking.price.approve", "olga", ZONE),
        ("parking.price.reject", "olga", ZONE),
    }

    # Deciding again is a conflict, and changes nothing.
    assert_problem(client.post(f"{PROPOSALS}/{ids['weekday-morning']}/approve", headers=operator), 409)
    assert_problem(client.post(f"{PROPOSALS}/{ids['weekend-afternoon']}/approve", headers=operator), 409)
    assert len(audit_trail(client, tenant)) == 2
    by_state = client.get(PROPOSALS, params={"state": "approved"}, headers=viewer)
    assert by_state.headers["x-total-count"] == "1" and by_state.json()[0]["id"] == ids["weekday-morning"]
    page = client.get(PROPOSALS, params={"limit": "2", "offset": "5"}, headers=viewer)
    assert page.headers["x-total-count"] == "6" and len(page.json()) == 1


def test_a_second_review_supersedes_the_pending_proposals(client: TestClient, tenant: str) -> None:
    operator = login_headers(client, tenant, "operator", subject="olga")
    client.post("/api/v1/parking/rates/review", headers=operator)
    old = proposal_ids(client, operator)
    client.app.state.parking.clock.moment = NOW + timedelta(days=1)  # type: ignore[attr-defined]
    client.post("/api/v1/parking/rates/review", headers=operator)
    assert not set(proposal_ids(client, operator).values()) & set(old.values())
    superseded = client.get(PROPOSALS, params={"state": "superseded"}, headers=operator)
    assert {p["id"] for p in superseded.json()} == set(old.values())
    assert_problem(client.post(f"{PROPOSALS}/{old['weekday-morning']}/approve", headers=operator), 409)


def test_with_approval_off_a_review_applies_at_once(db_url: str, tenant: str) -> None:
    with priced_city(db_url, tenant, parking_price_approval=False) as client:
        operator = login_headers(client, tenant, "operator", subject="olga")
        review = client.post("/api/v1/parking/rates/review", headers=operator).json()
        assert {(r["changeState"], r["proposalId"]) for r in review} == {("applied", None)}
        assert prices(client, operator) == PROPOSED
        assert client.get(PROPOSALS, headers=operator).headers["x-total-count"] == "0"


def test_only_operators_decide_and_only_readers_list(client: TestClient, tenant: str) -> None:
    operator = login_headers(client, tenant, "operator", subject="olga")
    viewer = login_headers(client, tenant, "viewer", subject="vera")
    stranger = login_headers(client, "elsewhere", "operator", subject="eve") | {"NGSILD-Tenant": tenant}
    client.post("/api/v1/parking/rates/review", headers=operator)
    proposal = proposal_ids(client, operator)["weekday-morning"]
    for action in ("approve", "reject"):
        assert_problem(client.post(f"{PROPOSALS}/{proposal}/{action}", headers=viewer), 403)
        assert_problem(client.post(f"{PROPOSALS}/{proposal}/{action}", headers=stranger), 403)
        assert_problem(client.post(f"{PROPOSALS}/{proposal}/{action}", headers={"NGSILD-Tenant": tenant}), 401)
    assert_problem(client.post("/api/v1/parking/rates/review", headers=viewer), 403)
    assert_problem(client.get(PROPOSALS, headers={"NGSILD-Tenant": tenant}), 401)
    assert client.get(PROPOSALS, headers=viewer).status_code == 200
    assert proposal_ids(client, operator)["weekday-morning"] == proposal and audit_trail(client, tenant) == []


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("{id}/approve", b"not json", 400),
        ("{id}/approve", b"[]", 400),
        ("{id}/reject", b'{"note": 5}', 400),
        ("{id}/reject", b'{"note": "' + b"x" * 1001 + b'"}', 400),
        ("{id}/reject", b'{"note": "a\\u0000b"}', 400),
        ("0123456789abcdef0123456789abcdef/approve", b"", 404),
        ("no%20such%20proposal/reject", b"", 404),
        ("%00/approve", b"", 404),
    ],
)
def test_bad_decisions_are_4xx(client: TestClient, tenant: str, path: str, body: bytes, status: int) -> None:
    operator = login_headers(client, tenant, "operator", subject="olga")
    client.post("/api/v1/parking/rates/review", headers=operator)
    proposal = proposal_ids(client, operator)["weekday-morning"]
    response = client.post(
        f"{PROPOSALS}/{path.format(id=proposal)}",
        content=body,
        headers={**operator, "Content-Type": "application/json"},
    )
    assert_problem(response, status)
    assert proposal_ids(client, operator)["weekday-morning"] == proposal  # still pending


@pytest.mark.parametrize("query", [{"state": "open"}, {"limit": "x"}, {"offset": "-1"}, {"zoneId": ZONE}])
def test_bad_listings_are_400(client: TestClient, tenant: str, query: dict[str, str]) -> None:
    viewer = login_headers(client, tenant, "viewer", subject="vera")
    assert_problem(client.get(PROPOSALS, params=query, headers=viewer), 400)
