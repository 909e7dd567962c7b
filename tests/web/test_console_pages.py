"""The operator console: alarm and work-order lists, actions with CSRF and roles, CSV, lighting overrides."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_dashboard_pages import csrf_token, login

from conftest import make_settings
from urbis.app import create_app
from urbis.core.audit import AuditFilter
from urbis.core.clock import FixedClock
from urbis.operations.model import AlarmReport, Severity

NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
LAMPS = [f"urn:ngsi-ld:Streetlight:l{n}" for n in range(3)]


@pytest.fixture
def console_app(db_url: str, tenant: str) -> FastAPI:
    app = create_app(make_settings(db_url, tenant, ngsild_open=False), clock=FixedClock(NOW))
    for role in ("operator", "viewer"):
        app.state.accounts.create_user(f"{role}-{tenant}", f"{role}-password-1", tenant=tenant, roles=[role])
    operations = app.state.operations
    for n, (source, severity) in enumerate(zip(LAMPS, (Severity.LOW, Severity.CRITICAL, Severity.HIGH), strict=True)):
        operations.report(
            AlarmReport(
                tenant,
                "lighting",
                "lampFailure",
                source,
                severity,
                f"lamp {n} dark",
                NOW - timedelta(hours=3 - n),
                work_order="Replace the lamp",
            )
        )
    return app


@pytest.fixture
def client(console_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(console_app) as test_client:
        yield test_client


def rows(html: str) -> list[str]:
    """The sources of the alarms a list shows, in order."""
    return re.findall(r'data-alarm="[0-9a-f]+" data-source="([^"]+)"', html)


def alarm_id(client: TestClient, source: str) -> str:
    (alarm,) = [a for a in client.get("/api/v1/alarms").json() if a["source"] == source]
    return str(alarm["id"])


def test_new_alarms_listed_newest_first_or_by_severity(client: TestClient, tenant: str) -> None:
    login(client, tenant, "viewer")
    page = client.get("/dashboard/console/alarms")
    assert page.status_code == 200
    assert rows(page.text) == [LAMPS[2], LAMPS[1], LAMPS[0]]  # opened 1, 2, 3 hours ago
    by_severity = client.get("/dashboard/console/alarms?sort=-severity").text
    assert rows(by_severity) == [LAMPS[1], LAMPS[2], LAMPS[0]]  # critical, high, low
    assert rows(client.get("/dashboard/console/alarms?severity=high").text) == [LAMPS[2]]
    # A viewer sees no action forms.
    assert 'data-action="acknowledge"' not in page.text
    assert client.get("/dashboard/console/alarms?sort=colour").status_code == 400


def test_an_operator_acknowledges_and_the_alarm_leaves_the_new_list(client: TestClient, tenant: str) -> None:
    login(client, tenant, "operator")
    page = client.get("/dashboard/console/alarms").text
    assert 'data-action="acknowledge"' in page
    token = csrf_token(page)
    target = alarm_id(client, LAMPS[1])
    done = client.post(
        f"/dashboard/console/alarms/{target}/acknowledge",
        data={"csrf_token": token, "next": "/dashboard/console/alarms"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/dashboard/console/alarms?done=")
    assert LAMPS[1] not in rows(client.get("/dashboard/console/alarms").text)
    assert rows(client.get("/dashboard/console/alarms?state=acknowledged").text) == [LAMPS[1]]
    alarm = client.get(f"/api/v1/alarms/{target}").json()
    assert alarm["state"] == "acknowledged" and alarm["acknowledgedBy"] == f"operator-{tenant}"
    # Assign and close with a note; each action is in the audit trail with its author.
    client.post(f"/dashboard/console/alarms/{target}/assign", data={"csrf_token": token, "assignee": "crew 7"})
    client.post(f"/dashboard/console/alarms/{target}/close", data={"csrf_token": token, "note": "lamp replaced"})
    alarm = client.get(f"/api/v1/alarms/{target}").json()
    assert (alarm["assignee"], alarm["state"], alarm["closeReason"]) == ("crew 7", "closed", "lamp replaced")
    entries, total = client.app.state.audit.entries(tenant, AuditFilter(target=target))  # type: ignore[attr-defined]
    assert total == 3
    assert {(e.action, e.actor) for e in entries} == {
        (action, f"operator-{tenant}") for action in ("alarm.acknowledge", "alarm.assign", "alarm.close")
    }


def test_actions_need_the_csrf_token_and_the_operator_role(client: TestClient, tenant: str) -> None:
    target = alarm_id_as_operator(client, tenant)
    forged = client.post(f"/dashboard/console/alarms/{target}/acknowledge", data={"csrf_token": "f" * 64})
    assert forged.status_code == 403
    client.cookies.clear()
    login(client, tenant, "viewer")
    token = csrf_token(client.get("/dashboard").text)
    refused = client.post(f"/dashboard/console/alarms/{target}/acknowledge", data={"csrf_token": token})
    assert refused.status_code == 403
    assert client.get(f"/api/v1/alarms/{target}").json()["state"] == "open"
    unknown = client.post(f"/dashboard/console/alarms/{target}/explode", data={"csrf_token": token})
    assert unknown.status_code in {400, 403}


def alarm_id_as_operator(client: TestClient, tenant: str) -> str:
    login(client, tenant, "operator")
    return alarm_id(client, LAMPS[0])


def test_the_alarm_list_exports_as_csv_and_json(client: TestClient, tenant: str) -> None:
    login(client, tenant, "viewer")
    exported = client.get("/dashboard/console/alarms.csv?state=all")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert sorted(row["source"] for row in table) == sorted(LAMPS)
    assert {row["severity"] for row in table} == {"low", "critical", "high"}
    twin = client.get("/dashboard/console/alarms.json")
    assert twin.headers["x-total-count"] == "3" and len(twin.json()) == 3


def test_work_orders_are_handled_like_alarms(client: TestClient, tenant: str) -> None:
    login(client, tenant, "operator")
    page = client.get("/dashboard/console/work-orders").text
    orders = re.findall(r'data-order="([0-9a-f]+)"', page)
    assert len(orders) == 3
    token = csrf_token(page)
    client.post(f"/dashboard/console/work-orders/{orders[0]}/close", data={"csrf_token": token, "note": "done"})
    assert len(re.findall(r'data-order="', client.get("/dashboard/console/work-orders").text)) == 2
    closed = client.get("/dashboard/console/work-orders.json?state=closed").json()
    assert [o["closeReason"] for o in closed] == ["done"]


def test_csv_cells_cannot_run_as_spreadsheet_formulas(client: TestClient, tenant: str) -> None:
    client.app.state.operations.report(  # type: ignore[attr-defined]
        AlarmReport(tenant, "parking", "x", "urn:ngsi-ld:ParkingSpot:p", Severity.LOW, "=HYPERLINK(1)", NOW)
    )
    login(client, tenant, "viewer")
    text = client.get("/dashboard/console/alarms.csv?solution=parking").text
    assert "'=HYPERLINK(1)" in text


def test_lighting_overrides_are_given_and_withdrawn_from_the_console(client: TestClient, tenant: str) -> None:
    login(client, tenant, "operator")
    page = client.get("/dashboard/console/lighting")
    assert page.status_code == 200
    token = csrf_token(page.text)
    given = client.post(
        "/dashboard/console/lighting/overrides",
        data={"csrf_token": token, "target": "district:Centre", "level": "30", "hours": "2", "note": "festival"},
        follow_redirects=False,
    )
    assert given.status_code == 303
    (override,) = client.get("/api/v1/lighting/overrides").json()
    assert override["targets"] == ["district:Centre"] and override["level"] == 30
    assert override["createdBy"] == f"operator-{tenant}" and override["note"] == "festival"
    assert "festival" in client.get("/dashboard/console/lighting").text
    exported = list(csv.DictReader(io.StringIO(client.get("/dashboard/console/lighting.csv").text.lstrip("\ufeff"))))
    assert [(row["targets"], row["level"], row["note"]) for row in exported] == [
        ("district:Centre", "30.0", "festival")
    ]
    bad = client.post(
        "/dashboard/console/lighting/overrides",
        data={"csrf_token": token, "target": "district:Centre", "level": "30", "hours": "lots"},
    )
    assert bad.status_code == 400
    client.post(f"/dashboard/console/lighting/overrides/{override['id']}/withdraw", data={"csrf_token": token})
    assert client.get("/api/v1/lighting/overrides").json() == []


def test_an_operator_approves_a_price_recommendation_in_the_console(db_url: str, tenant: str) -> None:
    from test_parking_proposals_api import priced_city

    with priced_city(db_url, tenant) as api:
        api.app.state.accounts.create_user(  # type: ignore[attr-defined]
            f"operator-{tenant}", "operator-password-1", tenant=tenant, roles=["operator"]
        )
        api.app.state.parking.review_prices(tenant, api.app.state.parking.clock.now())  # type: ignore[attr-defined]
        login(api, tenant, "operator")
        page = api.get("/dashboard/console/parking")
        assert page.status_code == 200
        proposals = re.findall(r'data-proposal="([0-9a-f]+)"', page.text)
        assert len(proposals) == 6  # one per time band of the zone
        token = csrf_token(page.text)
        done = api.post(
            f"/dashboard/console/parking/proposals/{proposals[0]}/approve",
            data={"csrf_token": token, "note": "agreed with the council"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        table = api.get("/dashboard/console/parking.csv?state=pending").text.lstrip("\ufeff")
        assert len(list(csv.DictReader(io.StringIO(table)))) == 5
        approved = api.get("/dashboard/console/parking.json?state=approved").json()
        assert [(p["id"], p["decidedBy"]) for p in approved] == [(proposals[0], f"operator-{tenant}")]
        assert len(re.findall(r'data-proposal="', api.get("/dashboard/console/parking").text)) == 5
        # The decision is on the activity page with its author.
        activity = api.get("/dashboard/console/activity?action=parking.").text
        assert "parking.price.approve" in activity and f"operator-{tenant}" in activity
        assert api.get("/dashboard/console/parking?state=maybe").status_code == 400


def test_the_activity_page_lists_console_actions_newest_first(client: TestClient, tenant: str) -> None:
    login(client, tenant, "operator")
    token = csrf_token(client.get("/dashboard").text)
    first, second = alarm_id(client, LAMPS[0]), alarm_id(client, LAMPS[1])
    client.post(f"/dashboard/console/alarms/{first}/acknowledge", data={"csrf_token": token})
    client.post(f"/dashboard/console/alarms/{second}/close", data={"csrf_token": token, "note": "false alarm"})
    page = client.get("/dashboard/console/activity").text
    assert page.index("alarm.close") < page.index("alarm.acknowledge")
    exported = client.get("/dashboard/console/activity.csv?action=alarm.").text
    assert "alarm.close" in exported and "false alarm" in exported
