"""Citizen reports on the mayor's map and in the monthly report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from report_builders import add_city

from urbis.citizens.model import Stage
from urbis.citizens.service import Submission, report_entity_id


def submit(app: FastAPI, tenant: str, **changes: object) -> str:
    values: dict[str, object] = {
        "service_code": "pothole",
        "description": "deep hole",
        "lat": 50.7355,
        "long": 7.1010,
        "answers": {"where": ["road"]},
        "trusted": True,
    }
    values.update(changes)
    return str(app.state.citizen_reports.submit(tenant, Submission(**values)).report.id)  # type: ignore[arg-type]


def test_the_map_shows_open_public_reports_and_their_details(app: FastAPI, tenant: str) -> None:
    add_city(app, tenant)
    open_id = submit(app, tenant)
    closed_id = submit(app, tenant)
    app.state.citizen_reports.set_stage(tenant, closed_id, Stage.FIXED, "filled", by="op")
    submit(app, tenant, trusted=False, email="x@example.org")  # waits for its confirmation: not on the map
    layer = app.state.city_map.city_map(tenant, streets=False).reports
    (feature,) = layer["features"]
    assert feature["id"] == report_entity_id(open_id)
    assert feature["geometry"] == {"type": "Point", "coordinates": [7.1010, 50.7355]}
    assert feature["properties"]["stage"] == "submitted"
    assert feature["properties"]["district"] == "Nordstadt"
    detail = app.state.city_map.object_detail(tenant, report_entity_id(open_id))
    assert detail.kind == "report"
    assert detail.values["reportId"] == open_id
    assert detail.values["department"] == "Roads and highways"


def test_the_monthly_report_counts_reports_received_and_resolved(app: FastAPI, tenant: str) -> None:
    first = submit(app, tenant)
    submit(app, tenant)
    app.state.citizen_reports.set_stage(tenant, first, Stage.FIXED, "filled", by="op")
    now = datetime.now(UTC)
    report = app.state.reports.monthly(tenant, now.date().replace(day=1), now + timedelta(days=1))
    figures = report.citizen_reports
    assert (figures.received, figures.resolved) == (2, 1)
    assert figures.median_resolution_hours is not None and figures.median_resolution_hours < 1
    _header, rows = report.table()
    assert ["citizenReportsReceived", 2, "reports"] in rows
    assert report.to_json()["citizenReports"]["resolved"] == 1
