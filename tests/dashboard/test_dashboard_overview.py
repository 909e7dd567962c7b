"""The city overview: headline figures from every solution, their trends, and the pages that show them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_aq_service import record
from test_lighting_service import lamp_report, make_installation
from test_parking_service import bay, zone

from conftest import make_settings
from urbis.app import create_app
from urbis.citizens.service import ReportFigures
from urbis.core.clock import FixedClock
from urbis.dashboard.overview import CityOverview, Kpi, OverviewInputs, build_overview
from urbis.operations.model import AlarmReport, Severity
from urbis.solutions.lighting.views import LampState
from urbis.solutions.parking.occupancy import Occupancy
from urbis.solutions.parking.views import ParkingOverview, PlaceView

NOW = datetime(2026, 11, 24, 12, 10, tzinfo=UTC)  # 13:10 in Berlin


def lamp(n: int, state: str) -> LampState:
    return LampState(f"l{n}", state, None, "Centre", None, None, ("a",) if state == "fault" else ())


def place(n: int, occupied: int, free: int) -> PlaceView:
    return PlaceView(f"z{n}", "zone", f"Zone {n}", "Centre", None, None, Occupancy(occupied + free, occupied, free))


def inputs(**changes: Any) -> OverviewInputs:
    values: dict[str, Any] = {
        "tenant": "city",
        "at": NOW,
        "air_city": None,
        "air_districts": [],
        "who": None,
        "lamps": [],
        "lighting_alarms": 0,
        "energy_today": None,
        "energy_month": None,
        "parking": None,
        "alarms": {},
    }
    values.update(changes)
    return OverviewInputs(**values)


def test_lamp_shares_and_fault_counts_by_hand() -> None:
    lamps = [lamp(1, "on"), lamp(2, "dimmed"), lamp(3, "off"), lamp(4, "fault"), lamp(5, "fault"), lamp(6, "unknown")]
    overview = build_overview(inputs(lamps=lamps, lighting_alarms=1))
    working = overview.kpis["lights_working"]
    # 6 lamps, 2 of them concerned by an alarm: 4 / 6 work.
    assert working.value == pytest.approx(4 / 6)
    assert working.detail["states"] == {"on": 1, "dimmed": 1, "off": 1, "fault": 2, "unknown": 1}
    assert overview.kpis["lighting_faults"].value == 1 and overview.kpis["lighting_faults"].detail["lampsAffected"] == 2


def test_parking_target_band_counts_zones_from_60_up_to_80_percent() -> None:
    # 3/5 = 60 % (in), 4/5 = 80 % (above: the band ends below 80 %), 1/4 = 25 % (below), 7/10 (in), 0/0 (unknown).
    zones = [place(1, 3, 2), place(2, 4, 1), place(3, 1, 3), place(4, 7, 3), place(5, 0, 0)]
    city = Occupancy(24, 15, 9)
    parking = ParkingOverview(NOW, zones, [], {}, city)
    overview = build_overview(inputs(parking=parking))
    band = overview.kpis["parking_in_target"]
    assert band.value == pytest.approx(2 / 4)
    assert (band.detail["inTarget"], band.detail["zones"], band.detail["above"], band.detail["below"]) == (2, 4, 1, 1)
    assert overview.kpis["parking_occupancy"].value == pytest.approx(15 / 24)


def test_alarms_are_summed_over_solutions_per_severity() -> None:
    alarms = {"lighting": {"high": 2, "low": 1}, "parking": {"high": 1, "critical": 1}}
    kpi = build_overview(inputs(alarms=alarms)).kpis["alarms_active"]
    assert kpi.value == 5
    assert kpi.detail["bySeverity"] == {"critical": 1, "high": 3, "medium": 0, "low": 1, "informational": 0}
    assert kpi.detail["bySolution"] == {"lighting": 3, "parking": 2}


def test_citizen_reports_count_what_is_open_and_how_fast_reports_are_resolved() -> None:
    figures = ReportFigures(
        open_total=7,
        open_by_stage={"submitted": 3, "in-progress": 4},
        received=12,
        resolved=5,
        median_resolution_hours=26.5,
        start=NOW - timedelta(days=30),
        end=NOW,
    )
    kpis = build_overview(inputs(reports=figures)).kpis
    assert kpis["citizen_reports_open"].value == 7
    assert kpis["citizen_reports_open"].detail == {"byStage": {"submitted": 3, "in-progress": 4}}
    assert kpis["citizen_resolution_hours"].value == 26.5
    assert kpis["citizen_resolution_hours"].detail == {"resolved": 5, "received": 12, "days": 30}
    unknown = build_overview(inputs()).kpis
    assert unknown["citizen_reports_open"].value is None
    assert "citizen_reports_open" in build_overview(inputs()).figures()


def test_the_overview_counts_the_city_s_reports(db_url: str, tenant: str) -> None:
    from urbis.citizens.model import Stage
    from urbis.citizens.service import Submission

    clock = FixedClock(NOW - timedelta(hours=31))
    app = create_app(make_settings(db_url, tenant), clock=clock)
    reports = app.state.citizen_reports
    submit = Submission(service_code="litter", description="bags", lat=50.73, long=7.1, trusted=True)
    first = reports.submit(tenant, submit).report
    second = reports.submit(tenant, submit).report
    reports.submit(tenant, submit)
    clock.moment = NOW - timedelta(hours=21)
    reports.set_stage(tenant, first.id, Stage.FIXED, "cleared", by="op")  # after 10 h
    clock.moment = NOW - timedelta(hours=1)
    reports.set_stage(tenant, second.id, Stage.NO_FURTHER_ACTION, "private land", by="op")  # after 30 h
    clock.moment = NOW
    kpis = app.state.dashboard.overview(tenant, "reports").kpis
    assert kpis["citizen_reports_open"].value == 1
    assert kpis["citizen_resolution_hours"].value == pytest.approx(20.0)  # the median of 10 h and 30 h


def test_trends_compare_with_earlier_snapshots() -> None:
    overview = CityOverview(
        "city", NOW, {"city_aqi": Kpi("city_aqi", 80.0), "alarms_active": Kpi("alarms_active", None)}
    )
    trended = overview.with_trends({"city_aqi": 95, "alarms_active": 3}, {"city_aqi": True})
    aqi = trended.kpis["city_aqi"]
    assert (aqi.yesterday, aqi.change(aqi.yesterday)) == (95.0, -15.0)
    assert aqi.last_month is None  # a bool is not a figure
    assert trended.kpis["alarms_active"].change(3.0) is None  # no value now


# -- the service and the pages on a small city, both backends --------------------------------------


@pytest.fixture
def city_app(db_url: str, tenant: str) -> FastAPI:
    clock = FixedClock(NOW)
    app = create_app(make_settings(db_url, tenant), clock=clock)
    app.state.temporal.use_rollups = False  # the fixed clock lies in the past of other tests' roll-ups
    context = app.state.context
    # Street lighting: 4 lamps reporting on, one of them with an open failure alarm.
    assert not context.upsert_documents(tenant, make_installation(4)).errors
    reports = [lamp_report(n, NOW - timedelta(minutes=5), on=True, power_w=40.0) for n in range(1, 5)]
    assert not context.update_documents(tenant, reports).errors
    app.state.operations.report(
        AlarmReport(tenant, "lighting", "lampFailure", "urn:ngsi-ld:Streetlight:l2", Severity.HIGH, "dark", NOW)
    )
    # Parking: zone 1 with 3 of 5 bays taken (60 %: in the band), zone 2 with 2 of 2 (100 %: above).
    documents = [zone(1, "Centre", 7.10, 50.73), zone(2, "North", 7.10, 50.76)]
    documents += [bay(i, 1, "occupied" if i < 3 else "free") for i in range(5)]
    documents += [bay(i, 2, "occupied") for i in range(2)]
    assert not context.upsert_documents(tenant, documents).errors
    # Air quality: PM2.5 about 40 µg/m³ for the last 12 hours: US AQI 112 (worked in test_aq_service).
    record(context, tenant, NOW.replace(minute=0), 40.0)
    # Usernames are global: each test's tenant has its own.
    app.state.accounts.create_user(f"olga-{tenant}", "olga-password-1", tenant=tenant, roles=["operator"])
    app.state.accounts.create_user(f"mayor-{tenant}", "mayor-password-1", tenant=tenant, roles=["viewer"])
    return app


def test_the_overview_of_a_small_city_worked_by_hand(city_app: FastAPI, tenant: str) -> None:
    overview = city_app.state.dashboard.compute(tenant, NOW)
    kpis = overview.kpis
    assert kpis["city_aqi"].value == 112 and kpis["city_aqi"].detail["worstDistrict"] == "Centre"
    assert kpis["city_aqi"].detail["band"] == 3  # unhealthy for sensitive groups
    assert kpis["lights_working"].value == pytest.approx(3 / 4)
    assert kpis["lighting_faults"].value == 1
    assert kpis["parking_occupancy"].value == pytest.approx(5 / 7)
    assert kpis["parking_in_target"].value == pytest.approx(1 / 2)
    assert kpis["alarms_active"].value >= 1 and kpis["alarms_active"].detail["bySeverity"]["high"] >= 1
    # Energy: the lamps burn at 40 W; the figures exist for today and the month.
    assert kpis["energy_saved_today"].detail["currency"] == "EUR"
    assert kpis["energy_saved_month"].detail["baselineKwh"] >= kpis["energy_saved_today"].detail["baselineKwh"]


def login(client: TestClient, user: str, password: str) -> None:
    response = client.post(
        "/login", data={"username": user, "password": password, "next": "/dashboard"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"


def test_the_overview_page_shows_what_the_apis_return(city_app: FastAPI, tenant: str) -> None:
    with TestClient(city_app) as client:
        login(client, f"mayor-{tenant}", "mayor-password-1")
        twin = {k["key"]: k for k in client.get("/dashboard.json").json()["kpis"]}
        air = client.get("/api/v1/air-quality/summary").json()
        parking = client.get("/api/v1/parking/occupancy/summary").json()
        alarms = client.get("/api/v1/alarms/summary").json()
        assert twin["city_aqi"]["value"] == air["city"]["usAqi"] == 112
        assert round(twin["parking_occupancy"]["value"], 4) == parking["city"]["occupancy"]
        assert twin["alarms_active"]["value"] == sum(sum(v.values()) for v in alarms.values())
        page = client.get("/dashboard")
        assert page.status_code == 200
        # The page is a frame: each group of figures is a fragment it fetches as it loads.
        for name in ("air", "lighting", "energy", "parking", "reports", "alarms"):
            assert f'hx-get="/dashboard/fragments/{name}" hx-trigger="load, urbis:changed"' in page.text
        air = client.get("/dashboard/fragments/air").text
        assert 'data-kpi="city_aqi" data-value="112.0"' in air
        lights = client.get("/dashboard/fragments/lighting").text
        assert 'data-kpi="lights_working" data-value="0.75"' in lights
        assert "75.0%" in lights  # English percent format
        fragment = client.get("/dashboard/fragments/parking")
        assert fragment.status_code == 200 and 'data-kpi="parking_in_target" data-value="0.5"' in fragment.text
        assert client.get("/dashboard/fragments/nothing").status_code == 404


def test_snapshots_give_each_figure_its_trend(city_app: FastAPI, tenant: str) -> None:
    dashboard = city_app.state.dashboard
    assert dashboard.record_snapshot(tenant, NOW - timedelta(days=1)) is not None
    # A day later one more lamp fails: the share working drops by 25 percentage points.
    city_app.state.operations.report(
        AlarmReport(tenant, "lighting", "lampFailure", "urn:ngsi-ld:Streetlight:l3", Severity.HIGH, "dark", NOW)
    )
    now = dashboard.compute(tenant, NOW).kpis["lights_working"]
    assert now.value == pytest.approx(0.5) and now.yesterday == pytest.approx(0.75)
    assert now.change(now.yesterday) == pytest.approx(-0.25) and now.last_month is None
    # Snapshots further than two hours from "a day ago" do not count as yesterday.
    later = dashboard.compute(tenant, NOW + timedelta(hours=3)).kpis["lights_working"]
    assert later.yesterday is None


def test_browsers_share_a_fresh_computation_but_never_one_older_than_a_change(city_app: FastAPI, tenant: str) -> None:
    from urbis.context.service import EntityChanged

    dashboard = city_app.state.dashboard
    first = dashboard.overview(tenant, "alarms")
    assert dashboard.overview(tenant, "alarms") is first  # within the sharing second
    dashboard.on_entity_changed(EntityChanged(tenant, "urn:ngsi-ld:Alert:x", "update", None, None))
    assert dashboard.overview(tenant, "alarms") is not first  # the city changed since: computed again
    other = dashboard.overview(tenant, "air")
    dashboard.on_entity_changed(EntityChanged(f"{tenant}x", "urn:ngsi-ld:Alert:x", "update", None, None))
    assert dashboard.overview(tenant, "air") is other  # another city's change does not matter
