"""The alarms and work orders API on SQLite and PostgreSQL: who may, listing, the ticket life, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import login_headers as login
from conftest import make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.operations.model import AlarmReport, Severity
from urbis.operations.service import OperationsService

LAMP = "urn:ngsi-ld:Streetlight:l-9"


@pytest.fixture
def api(db_url: str, tenant: str) -> Iterator[TestClient]:
    app: FastAPI = create_app(make_settings(db_url, tenant, ngsild_open=False))
    with TestClient(app) as client:
        yield client


def raise_alarm(client: TestClient, tenant: str, source: str = LAMP, kind: str = "lampFailure") -> str:
    service: OperationsService = client.app.state.operations  # type: ignore[attr-defined]
    alarm = service.report(
        AlarmReport(
            tenant=tenant,
            solution="lighting",
            kind=kind,
            source=source,
            severity=Severity.HIGH,
            description="lamp l-9 does not light",
            at=datetime.now(UTC),
            work_order="Replace the lamp",
        )
    )
    return alarm.id


def test_viewers_read_operators_act_others_are_refused(api: TestClient, tenant: str) -> None:
    alarm_id = raise_alarm(api, tenant)
    assert_problem(api.get("/api/v1/alarms", headers={"NGSILD-Tenant": tenant}), 401)
    assert_problem(api.get("/api/v1/alarms", headers=login(api, "elsewhere", "admin") | {"NGSILD-Tenant": tenant}), 403)
    assert_problem(api.get("/api/v1/alarms", headers=login(api, tenant, "citizen")), 403)
    viewer = login(api, tenant, "viewer")
    assert api.get("/api/v1/alarms", headers=viewer).headers["x-total-count"] == "1"
    assert_problem(api.post(f"/api/v1/alarms/{alarm_id}/acknowledge", headers=viewer), 403)
    assert api.post(f"/api/v1/alarms/{alarm_id}/acknowledge", headers=login(api, tenant, "operator")).status_code == 200


def test_the_life_of_an_alarm_and_its_work_order(api: TestClient, tenant: str) -> None:
    alarm_id = raise_alarm(api, tenant)
    operator = login(api, tenant, "operator", subject="ops-anna")
    shown = api.get(f"/api/v1/alarms/{alarm_id}", headers=operator).json()
    assert (shown["state"], shown["kind"], shown["source"], shown["occurrences"]) == ("open", "lampFailure", LAMP, 1)
    assert shown["entityId"] == f"urn:ngsi-ld:Alert:{alarm_id}"
    seen = api.post(f"/api/v1/alarms/{alarm_id}/acknowledge", headers=operator).json()
    assert (seen["state"], seen["acknowledgedBy"]) == ("acknowledged", "ops-anna")
    given = api.post(f"/api/v1/alarms/{alarm_id}/assign", json={"assignee": "crew 3"}, headers=operator).json()
    assert given["assignee"] == "crew 3"
    (order,) = api.get("/api/v1/work-orders", params={"alarmId": alarm_id}, headers=operator).json()
    assert (order["title"], order["state"], order["alarmId"]) == ("Replace the lamp", "open", alarm_id)
    api.post(f"/api/v1/work-orders/{order['id']}/acknowledge", headers=operator).raise_for_status()
    done = api.post(f"/api/v1/work-orders/{order['id']}/close", json={"note": "lamp replaced"}, headers=operator)
    assert (done.json()["state"], done.json()["closeReason"]) == ("closed", "lamp replaced")
    closed = api.post(f"/api/v1/alarms/{alarm_id}/close", headers=operator).json()
    assert (closed["state"], closed["closeReason"]) == ("closed", "closed by ops-anna")
    assert_problem(api.post(f"/api/v1/alarms/{alarm_id}/acknowledge", headers=operator), 409)
    assert api.get("/api/v1/alarms", params={"state": "open,acknowledged"}, headers=operator).json() == []
    # The mirror entity follows: dashboards read the state through NGSI-LD too.
    entity = api.get(
        f"/ngsi-ld/v1/entities/urn:ngsi-ld:Alert:{alarm_id}",
        headers=operator
        | {"Link": '<https://urbis.city/contexts/urbis-context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'},
    )
    assert entity.status_code == 200 and entity.json()["status"]["value"] == "closed"


def test_summary_and_filters(api: TestClient, tenant: str) -> None:
    raise_alarm(api, tenant, "urn:ngsi-ld:Streetlight:a")
    raise_alarm(api, tenant, "urn:ngsi-ld:Streetlight:b", kind="lampUnexpectedOn")
    viewer = login(api, tenant, "viewer")
    assert api.get("/api/v1/alarms/summary", headers=viewer).json() == {"lighting": {"high": 2}}
    listed = api.get("/api/v1/alarms", params={"kind": "lampUnexpectedOn"}, headers=viewer).json()
    assert [a["source"] for a in listed] == ["urn:ngsi-ld:Streetlight:b"]
    page = api.get("/api/v1/alarms", params={"limit": 1, "offset": 1, "severity": "high"}, headers=viewer)
    assert len(page.json()) == 1 and page.headers["x-total-count"] == "2"


def test_work_orders_opened_by_hand(api: TestClient, tenant: str) -> None:
    operator = login(api, tenant, "operator")
    made = api.post(
        "/api/v1/work-orders",
        json={"title": "Repaint pole", "source": LAMP, "severity": "low", "description": "graffiti"},
        headers=operator,
    )
    assert made.status_code == 201 and made.headers["location"] == f"/api/v1/work-orders/{made.json()['id']}"
    assert (made.json()["solution"], made.json()["alarmId"], made.json()["severity"]) == ("manual", None, "low")


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/api/v1/alarms?state=done", None, 400),
        ("get", "/api/v1/alarms?severity=urgent", None, 400),
        ("get", "/api/v1/alarms?limit=0", None, 400),
        ("get", "/api/v1/alarms?colour=red", None, 400),
        ("get", "/api/v1/alarms/unknown-id", None, 404),
        ("post", "/api/v1/alarms/unknown-id/acknowledge", None, 404),
        ("post", "/api/v1/alarms/{alarm}/assign", {}, 400),
        ("post", "/api/v1/alarms/{alarm}/assign", {"assignee": 7}, 400),
        ("post", "/api/v1/alarms/{alarm}/assign", {"assignee": ""}, 400),
        ("post", "/api/v1/alarms/{alarm}/assign", [1], 400),
        ("post", "/api/v1/work-orders", {"title": "x"}, 400),
        ("post", "/api/v1/work-orders", {"title": "x", "source": "not a uri"}, 400),
        ("post", "/api/v1/work-orders", {"title": "", "source": LAMP}, 400),
        ("post", "/api/v1/work-orders", {"title": "x", "source": LAMP, "severity": "huge"}, 400),
        ("get", "/api/v1/work-orders/unknown-id", None, 404),
    ],
)
def test_bad_requests_get_problem_details(
    api: TestClient, tenant: str, method: str, path: str, body: object, status: int
) -> None:
    alarm_id = raise_alarm(api, tenant)
    headers = login(api, tenant, "operator")
    url = path.replace("{alarm}", alarm_id)
    response = api.get(url, headers=headers) if method == "get" else api.post(url, json=body, headers=headers)
    assert_problem(response, status)
