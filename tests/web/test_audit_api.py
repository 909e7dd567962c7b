"""The audit-trail API on SQLite and PostgreSQL: staff read it, an action shows up under its actor, filters and pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from test_operations_audit import LAMP, T0, lamp_failure

from conftest import login_headers as login
from conftest import make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.core.clock import FixedClock
from urbis.operations.service import OperationsService

AUDIT = "/api/v1/audit"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def api(db_url: str, tenant: str, clock: FixedClock) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(db_url, tenant, ngsild_open=False), clock=clock)) as client:
        yield client


def raise_alarm(client: TestClient, tenant: str) -> str:
    service: OperationsService = client.app.state.operations  # type: ignore[attr-defined]
    report = lamp_failure(tenant)
    return service.report(report).id


def test_staff_read_the_trail_citizens_and_strangers_do_not(api: TestClient, tenant: str) -> None:
    assert_problem(api.get(AUDIT, headers={"NGSILD-Tenant": tenant}), 401)
    assert_problem(api.get(AUDIT, headers=login(api, tenant, "citizen")), 403)
    assert_problem(api.get(AUDIT, headers=login(api, tenant, "data-consumer")), 403)
    assert_problem(api.get(AUDIT, headers=login(api, "elsewhere", "admin") | {"NGSILD-Tenant": tenant}), 403)
    for role in ("viewer", "operator", "admin"):
        answer = api.get(AUDIT, headers=login(api, tenant, role))
        assert answer.status_code == 200, answer.text
        assert answer.json() == [] and answer.headers["x-total-count"] == "0"


def test_an_acknowledge_through_the_api_shows_up_with_the_actors_subject(
    api: TestClient, tenant: str, clock: FixedClock
) -> None:
    alarm_id = raise_alarm(api, tenant)
    operator = login(api, tenant, "operator", subject="ops-anna")
    clock.moment = T0 + timedelta(minutes=1)
    api.post(f"/api/v1/alarms/{alarm_id}/acknowledge", headers=operator).raise_for_status()
    api.post(f"/api/v1/alarms/{alarm_id}/acknowledge", headers=operator).raise_for_status()  # no change
    clock.moment = T0 + timedelta(minutes=2)
    api.post(f"/api/v1/alarms/{alarm_id}/assign", json={"assignee": "crew 3"}, headers=operator).raise_for_status()
    clock.moment = T0 + timedelta(minutes=3)
    api.post(f"/api/v1/alarms/{alarm_id}/close", headers=operator).raise_for_status()

    viewer = login(api, tenant, "viewer", subject="vera")
    answer = api.get(AUDIT, headers=viewer)
    assert answer.headers["x-total-count"] == "3"
    entries = answer.json()
    assert [(e["at"], e["actor"], e["action"], e["target"], e["detail"]) for e in entries] == [
        ("2026-11-24T18:03:00+00:00", "ops-anna", "alarm.close", alarm_id, {"note": "closed by ops-anna"}),
        ("2026-11-24T18:02:00+00:00", "ops-anna", "alarm.assign", alarm_id, {"before": None, "after": "crew 3"}),
        ("2026-11-24T18:01:00+00:00", "ops-anna", "alarm.acknowledge", alarm_id, {}),
    ]
    assert all(isinstance(e["id"], str) and e["id"] for e in entries)


def test_filters_and_pages(api: TestClient, tenant: str, clock: FixedClock) -> None:
    alarm_id = raise_alarm(api, tenant)
    anna = login(api, tenant, "operator", subject="ops-anna")
    olga = login(api, tenant, "operator", subject="olga")
    clock.moment = T0 + timedelta(minutes=1)
    api.post(f"/api/v1/alarms/{alarm_id}/acknowledge", headers=anna).raise_for_status()
    clock.moment = T0 + timedelta(minutes=2)
    program = {"level": 100, "steps": [{"at": "22:00", "level": 30}]}
    assert api.put("/api/v1/lighting/programs/late", json=program, headers=olga).status_code == 201
    clock.moment = T0 + timedelta(minutes=3)
    work_order = {"title": "Prune the tree", "source": LAMP}
    assert api.post("/api/v1/work-orders", json=work_order, headers=anna).status_code == 201

    viewer = login(api, tenant, "viewer")

    def actions(**params: str) -> tuple[list[str], str]:
        answer = api.get(AUDIT, params=params, headers=viewer)
        assert answer.status_code == 200, answer.text
        return [e["action"] for e in answer.json()], answer.headers["x-total-count"]

    assert actions() == (["workorder.create", "lighting.program.put", "alarm.acknowledge"], "3")
    assert actions(actor="olga") == (["lighting.program.put"], "1")
    assert actions(action="lighting.") == (["lighting.program.put"], "1")
    assert actions(action="alarm.acknowledge", target=alarm_id) == (["alarm.acknowledge"], "1")
    assert actions(target="late") == (["lighting.program.put"], "1")
    # since from 18:02 on, until before 18:03 (+01:00 is the same instants in Bonn's winter time).
    assert actions(since="2026-11-24T18:02:00Z", until="2026-11-24T19:03:00+01:00") == (["lighting.program.put"], "1")
    assert actions(limit="1", offset="1") == (["lighting.program.put"], "3")


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-11-24T18:00:00"},  # no zone
        {"until": "yesterday"},
        {"since": "2026-11-24T18:00:00Z", "until": "2026-11-24T18:00:00Z"},  # an empty window
        {"limit": "0"},
        {"offset": "-1"},
        {"actor": "a\x00b"},
        {"who": "anna"},  # not a filter
    ],
)
def test_bad_queries_are_400(api: TestClient, tenant: str, params: dict[str, str]) -> None:
    assert_problem(api.get(AUDIT, params=params, headers=login(api, tenant, "viewer")), 400)
