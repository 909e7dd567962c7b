"""The monthly city report: a month's figures, its charts over the month's complete days, print-ready."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_dashboard_overview import NOW, city_app, login  # noqa: F401 - city_app is a fixture

from urbis.core.errors import BadRequestData
from urbis.dashboard.charts import month_window, parse_month
from urbis.dashboard.report import ticket_figures
from urbis.operations.model import AlarmReport, Severity
from urbis.operations.store import TicketFilter


def test_a_month_window_holds_its_complete_days_in_city_time() -> None:
    running = month_window(date(2026, 11, 1), date(2026, 11, 24), "Europe/Berlin")
    assert (running.days, running.first, running.last) == (23, date(2026, 11, 1), date(2026, 11, 23))
    assert running.start == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # midnight in Berlin (CET)
    october = month_window(date(2026, 10, 1), date(2026, 11, 24), "Europe/Berlin")
    assert october.days == 31 and october.start == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)  # CEST
    # 25 October has 25 hours: the window's last edge is midnight CET.
    assert october.end == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    with pytest.raises(BadRequestData):
        month_window(date(2026, 11, 1), date(2026, 11, 1), "Europe/Berlin")  # no complete day yet
    with pytest.raises(BadRequestData):
        month_window(date(2026, 12, 1), date(2026, 11, 24), "Europe/Berlin")
    assert parse_month("2026-02") == date(2026, 2, 1) and parse_month(None) is None
    for bad in ("2026-13", "November", "2026-1-1"):
        with pytest.raises(BadRequestData):
            parse_month(bad)


def test_ticket_figures_count_and_time_the_closed_ones() -> None:
    from urbis.operations.model import close, new_id, open_alarm

    opened = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    tickets = []
    for hours, severity in ((2, Severity.HIGH), (5, Severity.HIGH), (9, Severity.LOW), (None, Severity.CRITICAL)):
        alarm = open_alarm(AlarmReport("t", "lighting", "k", f"urn:x:{hours}", severity, "d", opened), new_id())
        tickets.append(alarm if hours is None else close(alarm, "done", opened + timedelta(hours=hours)))
    figures = ticket_figures(tickets)
    assert figures.opened == 4 and figures.closed == 3
    assert figures.median_hours_to_close == 5.0  # of 2, 5 and 9 hours
    assert figures.by_severity == {"critical": 1, "high": 2, "medium": 0, "low": 1, "informational": 0}


def test_the_report_of_the_running_month(city_app: FastAPI, tenant: str) -> None:  # noqa: F811
    operations = city_app.state.operations
    tenth = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    for n, severity in enumerate((Severity.HIGH, Severity.LOW)):
        operations.report(AlarmReport(tenant, "parking", "k", f"urn:ngsi-ld:X:{n}", severity, "d", tenth))
    (first, *_), _ = operations.list_alarms(tenant, TicketFilter(solution="parking"))
    operations.clock.moment = tenth + timedelta(hours=6)
    operations.close_alarm(tenant, first.id, "fixed", by="olga")
    operations.clock.moment = NOW
    report = city_app.state.reports.monthly(tenant, date(2026, 11, 1))
    assert (report.window.days, report.complete) == (23, False)
    # The two parking alarms of the 10th; the lamp's alarm of today (the 24th) is not in a complete day.
    assert report.alarms.opened == 2 and report.alarms.by_solution == {"parking": 2}
    assert report.alarms.closed == 1 and report.alarms.median_hours_to_close == 6.0
    # The energy is the lighting's own figure over the same days.
    energy = city_app.state.lighting.energy(tenant, report.window.start, report.window.end).city
    assert report.energy is not None and report.energy.figure.kwh == pytest.approx(energy.figure.kwh)
    assert report.energy.savings.baseline_kwh > 0


def test_the_report_page_prints_in_both_languages(city_app: FastAPI, tenant: str) -> None:  # noqa: F811
    with TestClient(city_app) as client:
        login(client, f"mayor-{tenant}", "mayor-password-1")
        page = client.get("/dashboard/report?month=2026-11")
        assert page.status_code == 200
        assert "City report: November 2026" in page.text and "data-print" in page.text
        assert 'data-src="/dashboard/charts/alarms_daily.json?month=2026-11"' in page.text
        twin = client.get("/dashboard/report.json?month=2026-11").json()
        assert twin["month"] == "2026-11" and twin["window"]["days"] == 23
        series = client.get("/dashboard/charts/alarms_daily.json?month=2026-11").json()
        assert len(series["window"]["labels"]) == 23
        exported = client.get("/dashboard/report.csv?month=2026-11")
        assert exported.headers["content-disposition"] == 'attachment; filename="city-report-2026-11.csv"'
        figures = {row[0]: row[1] for row in csv.reader(io.StringIO(exported.text.lstrip("\ufeff")))}
        assert figures["alarmsOpened"] == "0" and float(figures["baselineKwh"]) == twin["energy"]["baselineKwh"]
        assert client.get("/dashboard/report?month=2026-12").status_code == 400
        assert client.get("/dashboard/report.json?month=nonsense").status_code == 400
        client.get("/lang/de")
        german = client.get("/dashboard/report?month=2026-11").text
        assert "Stadtbericht: November 2026" in german
