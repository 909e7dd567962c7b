"""The charts page, its charts' JSON twins and CSV files, their errors and the login they need (both backends)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import make_settings
from urbis.app import create_app
from urbis.core.clock import FixedClock
from urbis.dashboard.charts import CHART_NAMES
from urbis.operations.model import AlarmReport, Severity

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # 11:00 in Berlin: the week is 17 to 23 November
PASSWORD = "chart-password-1"


@pytest.fixture
def app(db_url: str, tenant: str) -> FastAPI:
    app = create_app(make_settings(db_url, tenant), clock=FixedClock(NOW))
    app.state.temporal.use_rollups = False  # the fixed clock lies in the past of other tests' roll-ups
    for solution, severity, source, at in (
        ("lighting", Severity.HIGH, "a", datetime(2026, 11, 20, 11, 0, tzinfo=UTC)),
        ("air_quality", Severity.CRITICAL, "b", datetime(2026, 11, 22, 23, 30, tzinfo=UTC)),  # 23 Nov in Berlin
        ("parking", Severity.LOW, "c", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),  # today: not a complete day
    ):
        app.state.operations.report(
            AlarmReport(tenant, solution, "kind", f"urn:ngsi-ld:Thing:{source}", severity, "x", at)
        )
    for role in ("viewer", "citizen"):
        app.state.accounts.create_user(f"{role}-{tenant}", PASSWORD, tenant=tenant, roles=[role])
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def login(client: TestClient, user: str) -> None:
    response = client.post(
        "/login", data={"username": user, "password": PASSWORD, "next": "/dashboard"}, follow_redirects=False
    )
    assert response.status_code == 303


def test_the_page_names_each_chart_s_json_twin_and_csv(client: TestClient, tenant: str) -> None:
    login(client, f"viewer-{tenant}")
    page = client.get("/dashboard/charts")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert "Nov 17, 2026 to Nov 23, 2026" in html
    for name in CHART_NAMES:
        assert f'<h2 id="{name}-title">' in html
        assert f'data-src="/dashboard/charts/{name}.json?days=7"' in html
        assert f'href="/dashboard/charts/{name}.csv?days=7"' in html
        assert f'<p class="chart-summary" id="{name}-summary"' in html
    assert '<a href="/dashboard/charts?days=7" aria-current="page">' in html
    assert '<a href="/dashboard/charts?days=30">' in html
    assert '<script src="/static/urbis/charts.js" defer></script>' in html
    assert "<script>" not in html and "style=" not in html  # the CSP forbids both
    month = client.get("/dashboard/charts?days=30").text
    assert 'data-src="/dashboard/charts/alarms_daily.json?days=30"' in month
    assert '<a href="/dashboard/charts?days=30" aria-current="page">' in month
    assert "Oct 25, 2026 to Nov 23, 2026" in month
    for asset in ("/static/urbis/charts.js", "/static/urbis/charts.css"):
        assert client.get(asset).status_code == 200


def test_the_page_speaks_german_with_german_weekdays(client: TestClient, tenant: str) -> None:
    login(client, f"viewer-{tenant}")
    html = client.get("/dashboard/charts", headers={"Accept-Language": "de"}).text
    assert '<html lang="de">' in html
    assert '<th scope="row">Mo.</th>' in html and '<th scope="row">So.</th>' in html
    assert "17.11.2026" in html


def test_a_chart_s_json_twin_and_csv(client: TestClient, tenant: str) -> None:
    login(client, f"viewer-{tenant}")
    twin = client.get("/dashboard/charts/alarms_daily.json?days=7")
    assert twin.status_code == 200 and twin.headers["content-type"] == "application/json"
    data = twin.json()
    assert data["window"]["labels"] == [f"2026-11-{day}" for day in range(17, 24)]
    # 20 Nov: the lighting alarm; 23 Nov (00:30 in Berlin): the air-quality one; today's is left out.
    assert data["total"] == [0, 0, 0, 1, 0, 0, 1]
    assert data["bySeverity"]["critical"] == [0, 0, 0, 0, 0, 0, 1] and data["bySeverity"]["high"][3] == 1
    assert data["bySolution"] == {"air_quality": [0, 0, 0, 0, 0, 0, 1], "lighting": [0, 0, 0, 1, 0, 0, 0]}
    assert data["summary"]["total"] == 2
    month = client.get("/dashboard/charts/alarms_daily.json?days=30").json()
    assert month["window"]["days"] == 30 and sum(month["total"]) == 2

    table = client.get("/dashboard/charts/alarms_daily.csv")  # 7 days by default
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    assert 'filename="alarms_daily-2026-11-17-2026-11-23.csv"' in table.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(table.text.lstrip("\ufeff"))))
    assert rows[0] == ["day", "total", "critical", "high", "medium", "low", "informational", "air_quality", "lighting"]
    assert rows[4] == ["2026-11-20", "1", "0", "1", "0", "0", "0", "0", "1"] and len(rows) == 8

    # Every chart answers both, even for a city without stations, lamps or parking.
    for name in CHART_NAMES:
        answer = client.get(f"/dashboard/charts/{name}.json?days=7")
        assert answer.status_code == 200 and answer.json()["chart"] == name
        assert client.get(f"/dashboard/charts/{name}.csv?days=30").status_code == 200


@pytest.mark.parametrize("days", ["8", "x", "07", "-7"])
def test_bad_days_are_400(client: TestClient, tenant: str, days: str) -> None:
    login(client, f"viewer-{tenant}")
    page = client.get(f"/dashboard/charts?days={days}")
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    for suffix in ("json", "csv"):
        answer = client.get(f"/dashboard/charts/energy_daily.{suffix}?days={days}")
        assert answer.status_code == 400 and answer.json()["status"] == 400
        assert "7 or 30" in answer.json()["detail"]


@pytest.mark.parametrize("path", ["/dashboard/charts/weather.json", "/dashboard/charts/weather.csv?days=30"])
def test_an_unknown_chart_is_404(client: TestClient, tenant: str, path: str) -> None:
    login(client, f"viewer-{tenant}")
    answer = client.get(path)
    assert answer.status_code == 404 and answer.json()["status"] == 404


def test_charts_need_a_member_of_staff(client: TestClient, tenant: str) -> None:
    page = client.get("/dashboard/charts?days=30", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/dashboard/charts?days=30"
    for path in ("/dashboard/charts/alarms_daily.json", "/dashboard/charts/alarms_daily.csv"):
        answer = client.get(path)
        assert answer.status_code == 401 and answer.json()["status"] == 401
    login(client, f"citizen-{tenant}")
    assert client.get("/dashboard/charts").status_code == 403
    assert client.get("/dashboard/charts/alarms_daily.json").status_code == 403
