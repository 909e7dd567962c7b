"""The back office of the operator console: report triage and actions, categories, routing rules, Open311 keys.

Participation (moderation queue, proposals, budgets, polls) is in test_back_office_participation.py; both
share the app, login and report builders defined here.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_dashboard_pages import csrf_token

from conftest import make_settings
from urbis.app import create_app
from urbis.citizens import store as report_store
from urbis.citizens.model import Channel, Datatype, Stage
from urbis.citizens.moderation import Moderation
from urbis.citizens.service import ReportService, Submission
from urbis.core.audit import AuditFilter
from urbis.core.clock import FixedClock
from urbis.web.ui import citizens_console

#: 10:00 in Berlin (winter time: UTC+1).
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
BASE = "/dashboard/console"
PAGES = [
    f"{BASE}/reports",
    f"{BASE}/moderation",
    f"{BASE}/categories",
    f"{BASE}/categories/new",
    f"{BASE}/categories/edit/litter",
    f"{BASE}/open311-keys",
    f"{BASE}/proposals",
    f"{BASE}/budgets",
    f"{BASE}/polls",
]
TWINS = [
    f"{BASE}/{name}.{kind}"
    for name in ("reports", "moderation", "categories", "open311-keys")
    for kind in ("json", "csv")
]
TWINS += [f"{BASE}/{name}.{kind}" for name in ("proposals", "budgets", "polls") for kind in ("json", "csv")]
#: Two districts side by side: north of 50.73 is Nordstadt.
NORTH, SOUTH = (50.74, 7.10), (50.72, 7.10)


def with_back_office(app: FastAPI, clock: FixedClock) -> FastAPI:
    """The app (create_app wires the back office and participation, on the app's clock)."""
    assert app.state.participation.clock is clock
    return app


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def make_office_app(db_url: str, tenant: str, clock: FixedClock) -> FastAPI:
    """An app with access control on, a proposal threshold of 2, staff and a resident, two districts."""
    settings = make_settings(db_url, tenant, ngsild_open=False, participation_proposal_threshold=2)
    app = with_back_office(create_app(settings, clock=clock), clock)
    for role in ("operator", "viewer", "citizen"):
        app.state.accounts.create_user(f"{role}-{tenant}", f"{role}-password-1", tenant=tenant, roles=[role])
    add_districts(app, tenant)
    return app


@pytest.fixture
def office_app(db_url: str, tenant: str, clock: FixedClock) -> FastAPI:
    return make_office_app(db_url, tenant, clock)


@pytest.fixture
def client(office_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(office_app) as test_client:
        yield test_client


def login(client: TestClient, tenant: str, role: str) -> None:
    response = client.post(
        "/login",
        data={"username": f"{role}-{tenant}", "password": f"{role}-password-1", "next": "/dashboard"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def add_districts(app: FastAPI, tenant: str) -> None:
    """Nordstadt (north of 50.73) and Südstadt, so reports are placed in a district."""

    def square(south: float, north: float) -> dict[str, Any]:
        ring = [[7.09, south], [7.12, south], [7.12, north], [7.09, north], [7.09, south]]
        return {"type": "Polygon", "coordinates": [ring]}

    documents = [
        {
            "id": f"urn:ngsi-ld:AdministrativeArea:{name.lower()}",
            "type": "AdministrativeArea",
            "name": {"type": "Property", "value": name},
            "location": {"type": "GeoProperty", "value": square(south, north)},
        }
        for name, south, north in (("Nordstadt", 50.73, 50.75), ("Südstadt", 50.71, 50.73))
    ]
    assert not app.state.context.upsert_documents(tenant, documents).errors
    app.state.places.forget(tenant)


def reports_of(app: FastAPI) -> ReportService:
    service: ReportService = app.state.citizen_reports
    return service


def submit(app: FastAPI, tenant: str, *, at: tuple[float, float] = NORTH, **values: Any) -> str:
    """A trusted resident's litter report (no questions to answer); its id."""
    fields: dict[str, Any] = {
        "service_code": "litter",
        "description": "Bags of rubbish by the bench.",
        "lat": at[0],
        "long": at[1],
        "account": f"alice-{tenant}",
        "email": "alice@example.org",
        "first_name": "Alice",
        "last_name": "Example",
        "phone": "+49 228 555 0100",
    }
    fields.update(values)
    return str(reports_of(app).submit(tenant, Submission(**fields)).report.id)


def post(client: TestClient, path: str, data: dict[str, Any], *, token: str | None) -> Any:
    """An action's form post (``token`` None: without the CSRF field)."""
    body = dict(data) | ({} if token is None else {"csrf_token": token})
    return client.post(path, data=body, follow_redirects=False)


def token_of(client: TestClient, page: str = f"{BASE}/reports") -> str:
    return csrf_token(client.get(page).text)


def audit_entries(app: FastAPI, tenant: str, action: str) -> list[Any]:
    entries, _ = app.state.audit.entries(tenant, AuditFilter(action=action))
    return list(entries)


def listed_reports(html: str) -> list[str]:
    return re.findall(r'<tr id="report-([0-9a-f]+)" data-report=', html)


# -- who may see and do what -----------------------------------------------------------------


def test_every_page_is_for_staff_only(client: TestClient, tenant: str) -> None:
    for page in PAGES:
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303, page
        assert response.headers["location"].startswith("/login?next=/dashboard/console/"), page
    for twin in TWINS:
        assert client.get(twin).status_code == 401, twin
    login(client, tenant, "citizen")
    for page in PAGES + TWINS:
        assert client.get(page).status_code == 403, page


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_every_page_and_twin_answers_staff(client: TestClient, tenant: str, role: str) -> None:
    login(client, tenant, role)
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, (page, response.text[:500])
        assert "text/html" in response.headers["content-type"]
        assert "script-src 'self'" in response.headers["content-security-policy"]
    for twin in TWINS:
        response = client.get(twin)
        assert response.status_code == 200, (twin, response.text[:300])
    # Only those who may act see the action forms.
    submit(client.app, tenant)  # type: ignore[arg-type]
    report_id = listed_reports(client.get(f"{BASE}/reports").text)[0]
    detail = client.get(f"{BASE}/reports/{report_id}").text
    assert ('id="set-stage"' in detail) is (role == "operator")
    assert ('id="create-key"' in client.get(f"{BASE}/open311-keys").text) is (role == "operator")


def test_pages_render_in_german(client: TestClient, tenant: str) -> None:
    login(client, tenant, "viewer")
    submit(client.app, tenant)  # type: ignore[arg-type]
    client.cookies.set("urbis_lang", "de")
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, page
        assert '<html lang="de">' in response.text
        assert "Übersicht" in response.text  # the navigation, in German
    report_id = listed_reports(client.get(f"{BASE}/reports").text)[0]
    assert '<html lang="de">' in client.get(f"{BASE}/reports/{report_id}").text


# -- the triage queue -----------------------------------------------------------------------------


def test_the_queue_lists_open_reports_oldest_first_and_filters(
    client: TestClient, office_app: FastAPI, tenant: str, clock: FixedClock
) -> None:
    oldest = submit(office_app, tenant, description="Broken glass on the path")
    clock.advance(hours=1)
    middle = submit(office_app, tenant, service_code="graffiti", answers={"offensive": ["no"]}, at=SOUTH)
    clock.advance(hours=1)
    newest = submit(office_app, tenant, channel=Channel.OPEN311, account=None, trusted=True)
    clock.advance(hours=1)
    closed = submit(office_app, tenant)
    reports_of(office_app).set_stage(tenant, closed, Stage.FIXED, "Cleared.", by="crew")
    clock.advance(hours=2)
    login(client, tenant, "viewer")

    page = client.get(f"{BASE}/reports").text
    assert listed_reports(page) == [oldest, middle, newest]
    # 5 hours waiting, new (not triaged), in the north, for the litter category's department.
    row = re.search(rf'<tr id="report-{oldest}".*?</tr>', page, re.S)
    assert row is not None and 'data-new="true"' in row.group(0) and "5 h" in row.group(0)
    assert "Nordstadt" in row.group(0) and "Waste services" in row.group(0)
    assert listed_reports(client.get(f"{BASE}/reports?sort=-requestedAt").text) == [newest, middle, oldest]
    assert listed_reports(client.get(f"{BASE}/reports?stage=closed").text) == [closed]
    assert listed_reports(client.get(f"{BASE}/reports?stage=fixed").text) == [closed]
    assert listed_reports(client.get(f"{BASE}/reports?stage=all").text) == [oldest, middle, newest, closed]
    assert listed_reports(client.get(f"{BASE}/reports?category=graffiti").text) == [middle]
    assert listed_reports(client.get(f"{BASE}/reports?district=S%C3%BCdstadt").text) == [middle]
    assert listed_reports(client.get(f"{BASE}/reports?channel=open311").text) == [newest]
    assert listed_reports(client.get(f"{BASE}/reports?q=broken+glass").text) == [oldest]
    assert listed_reports(client.get(f"{BASE}/reports?department=Nobody").text) == []
    for bad in ("stage=sleeping", "sort=colour", "channel=fax", "page=0", "moderation=maybe"):
        assert client.get(f"{BASE}/reports?{bad}").status_code == 400, bad


def test_the_queue_pages_and_its_twins_hold_the_same_rows(
    client: TestClient, office_app: FastAPI, tenant: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(citizens_console, "PAGE_SIZE", 2)
    ids = []
    for _ in range(5):
        ids.append(submit(office_app, tenant))
        clock.advance(minutes=10)
    login(client, tenant, "operator")
    assert listed_reports(client.get(f"{BASE}/reports").text) == ids[:2]
    second = client.get(f"{BASE}/reports?page=2").text
    assert listed_reports(second) == ids[2:4]
    assert "Page 2 of 3" in second
    assert listed_reports(client.get(f"{BASE}/reports?page=3").text) == ids[4:]
    # htmx refreshes the table alone.
    fragment = client.get(f"{BASE}/reports?page=3", headers={"HX-Request": "true"}).text
    assert listed_reports(fragment) == ids[4:] and "<html" not in fragment

    twin = client.get(f"{BASE}/reports.json?page=2")
    assert [row["id"] for row in twin.json()] == ids[2:4]
    assert twin.headers["X-Total-Count"] == "5"
    first = twin.json()[0]
    assert first["stage"] == "submitted" and first["new"] is True and first["flags"] == 0
    assert first["linkedToFault"] is False and first["district"] == "Nordstadt"
    # The CSV holds every page, oldest first, without the sender.
    export = client.get(f"{BASE}/reports.csv")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [row["id"] for row in rows] == ids
    assert "alice@example.org" not in export.text


def test_flags_and_linked_faults_show_in_the_queue(
    client: TestClient, office_app: FastAPI, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_store, "ID_CHUNK", 1)  # each report read on its own still counts
    flagged = submit(office_app, tenant)
    linked = submit(office_app, tenant)
    reports = reports_of(office_app)
    from urbis.citizens.moderation import FlagReason

    reports.flag(tenant, "report", flagged, FlagReason.SPAM, flagger="ip:a")
    reports.flag(tenant, "report", flagged, FlagReason.OFFENSIVE, flagger="ip:b")
    reports.open_work_order(tenant, linked, by="olga")
    login(client, tenant, "viewer")
    rows = {row["id"]: row for row in client.get(f"{BASE}/reports.json").json()}
    assert rows[flagged]["flags"] == 2 and rows[flagged]["linkedToFault"] is False
    assert rows[linked]["flags"] == 0 and rows[linked]["linkedToFault"] is True


# -- one report --------------------------------------------------------------------------------


def test_staff_see_the_sender_in_a_marked_box_and_the_history(
    client: TestClient, office_app: FastAPI, tenant: str
) -> None:
    report_id = submit(office_app, tenant)
    reports_of(office_app).reroute(tenant, report_id, "Parks department", by=f"olga-{tenant}")
    login(client, tenant, "viewer")
    page = client.get(f"{BASE}/reports/{report_id}").text
    sender = re.search(r'<section id="sender".*?</section>', page, re.S)
    assert sender is not None
    assert "personal data, for staff only" in sender.group(0)
    for shown in ("alice@example.org", "Alice", "Example", "+49 228 555 0100", f"alice-{tenant}"):
        assert shown in sender.group(0)
    # The history names who did what.
    history = re.search(r'<table id="report-history">.*?</table>', page, re.S)
    assert (
        history is not None
        and f"olga-{tenant}" in history.group(0)
        and "Passed to Parks department." in history.group(0)
    )
    twin = client.get(f"{BASE}/reports/{report_id}.json").json()
    assert twin["contact"]["email"] == "alice@example.org"
    assert twin["updates"][-1]["by"] == f"olga-{tenant}"
    assert client.get(f"{BASE}/reports/nosuchreport").status_code == 404
    assert client.get(f"{BASE}/reports/nosuchreport.json").status_code == 404


def test_an_operator_sets_the_stage_with_a_public_note(client: TestClient, office_app: FastAPI, tenant: str) -> None:
    report_id = submit(office_app, tenant)
    login(client, tenant, "operator")
    token = token_of(client, f"{BASE}/reports/{report_id}")
    data = {"stage": "action-scheduled", "note": "A crew comes on Tuesday.", "expected": "2026-12-01T10:00"}
    response = post(client, f"{BASE}/reports/{report_id}/stage", data, token=token)
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}/reports/{report_id}?done=stage"
    reports = reports_of(office_app)
    report = reports.get(tenant, report_id)
    assert report.stage is Stage.ACTION_SCHEDULED and report.status_notes == "A crew comes on Tuesday."
    assert report.expected_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
    public = reports.history(tenant, report_id, public=True)
    assert [(u.stage, u.description) for u in public if u.stage] == [
        (Stage.ACTION_SCHEDULED, "A crew comes on Tuesday.")
    ]
    (entry,) = audit_entries(office_app, tenant, "report.status")
    assert entry.actor == f"operator-{tenant}" and entry.target == report_id
    assert entry.detail == {"before": "submitted", "after": "action-scheduled", "note": "A crew comes on Tuesday."}
    assert "The stage is changed and the sender is told." in client.get(response.headers["location"]).text


def test_refusals_show_on_the_page_and_change_nothing(client: TestClient, office_app: FastAPI, tenant: str) -> None:
    report_id = submit(office_app, tenant)
    login(client, tenant, "operator")
    token = token_of(client, f"{BASE}/reports/{report_id}")
    # A duplicate is made by merging, never by setting the stage.
    response = post(client, f"{BASE}/reports/{report_id}/stage", {"stage": "duplicate", "note": ""}, token=token)
    assert response.status_code == 400
    assert "merging it into the original" in response.text and 'data-role="error"' in response.text
    assert post(client, f"{BASE}/reports/{report_id}/merge", {"original": report_id}, token=token).status_code == 400
    assert post(client, f"{BASE}/reports/{report_id}/merge", {"original": "nosuch"}, token=token).status_code == 404
    bad_date = {"stage": "investigating", "expected": "next week"}
    assert post(client, f"{BASE}/reports/{report_id}/stage", bad_date, token=token).status_code == 400
    hide = {"state": "hidden", "reason": ""}
    assert post(client, f"{BASE}/reports/{report_id}/moderate", hide, token=token).status_code == 400
    assert post(client, f"{BASE}/reports/{report_id}/fly", {}, token=token).status_code == 400
    report = reports_of(office_app).get(tenant, report_id)
    assert report.stage is Stage.SUBMITTED and report.moderation is Moderation.PUBLIC
    assert audit_entries(office_app, tenant, "report.") == []


def test_an_operator_routes_merges_moderates_and_opens_a_work_order(
    client: TestClient, office_app: FastAPI, tenant: str
) -> None:
    original = submit(office_app, tenant, description="Rubbish all over the square")
    duplicate = submit(office_app, tenant, at=(50.7401, 7.1001))  # about 13 m away
    far = submit(office_app, tenant, at=SOUTH)
    login(client, tenant, "operator")
    page = client.get(f"{BASE}/reports/{duplicate}").text
    # The nearby open report of the same category is offered for the merge; the far one is not.
    candidates = re.findall(r'name="candidate" value="([0-9a-f]+)"', page)
    assert candidates == [original]
    assert far not in candidates
    token = csrf_token(page)
    reports = reports_of(office_app)

    assert (
        post(
            client,
            f"{BASE}/reports/{far}/route",
            {"department": "Waste services", "department_other": "Parks"},
            token=token,
        ).status_code
        == 303
    )
    assert reports.get(tenant, far).department == "Parks"
    (routed,) = audit_entries(office_app, tenant, "report.route")
    assert routed.detail == {"before": "Waste services", "after": "Parks"}

    assert post(client, f"{BASE}/reports/{duplicate}/merge", {"candidate": original}, token=token).status_code == 303
    merged = reports.get(tenant, duplicate)
    assert merged.stage is Stage.DUPLICATE and merged.parent_id == original
    assert audit_entries(office_app, tenant, "report.merge")[0].detail == {"original": original}

    hide = {"state": "hidden", "reason": "Shows a neighbour's car plate"}
    assert post(client, f"{BASE}/reports/{far}/moderate", hide, token=token).status_code == 303
    assert reports.get(tenant, far).moderation is Moderation.HIDDEN
    (moderated,) = audit_entries(office_app, tenant, "report.moderate")
    assert moderated.actor == f"operator-{tenant}"
    assert moderated.detail == {"before": "public", "after": "hidden", "reason": "Shows a neighbour's car plate"}

    assert 'id="work-order"' in client.get(f"{BASE}/reports/{original}").text
    assert post(client, f"{BASE}/reports/{original}/work-order", {"severity": "high"}, token=token).status_code == 303
    ((kind, order_id),) = reports.links(tenant, original)
    assert kind == "work_order"
    order = office_app.state.operations.get_work_order(tenant, order_id)
    assert order.severity.value == "high" and order.source == f"urn:ngsi-ld:ServiceRequest:{original}"
    detail = client.get(f"{BASE}/reports/{original}").text
    assert 'id="work-order"' not in detail  # one is linked now
    assert f"#order-{order_id}" in detail
    second = post(client, f"{BASE}/reports/{original}/work-order", {}, token=token)
    assert second.status_code == 409 and "has a work order already" in second.text
    assert len(reports.links(tenant, original)) == 1


def test_comments_are_moderated_from_the_report(client: TestClient, office_app: FastAPI, tenant: str) -> None:
    report_id = submit(office_app, tenant)
    reports = reports_of(office_app)
    comment = reports.comment(tenant, report_id, "The bins are full again, call Mr X on 0171 555", by=f"bob-{tenant}")
    login(client, tenant, "operator")
    page = client.get(f"{BASE}/reports/{report_id}").text
    assert f"/reports/{report_id}/comments/{comment.id}/moderate" in page
    action = f"{BASE}/reports/{report_id}/comments/{comment.id}/moderate"
    response = post(client, action, {"state": "hidden", "reason": "Personal data"}, token=csrf_token(page))
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}/reports/{report_id}?done=comment"
    assert [u.id for u in reports.history(tenant, report_id, public=True) if u.kind.value == "comment"] == []
    (entry,) = audit_entries(office_app, tenant, "report-comment.moderate")
    assert entry.detail["reason"] == "Personal data" and entry.detail["after"] == "hidden"
    # A comment of another report is not this report's.
    other = submit(office_app, tenant)
    wrong = f"{BASE}/reports/{other}/comments/{comment.id}/moderate"
    assert post(client, wrong, {"state": "public"}, token=csrf_token(page)).status_code == 404


def test_report_actions_need_an_operator_and_the_csrf_token(
    client: TestClient, office_app: FastAPI, tenant: str
) -> None:
    report_id = submit(office_app, tenant)
    comment = reports_of(office_app).comment(tenant, report_id, "Still there.", by=f"bob-{tenant}")
    actions: list[tuple[str, dict[str, Any]]] = [
        (f"{BASE}/reports/{report_id}/stage", {"stage": "investigating", "note": "Looking"}),
        (f"{BASE}/reports/{report_id}/route", {"department": "Parks"}),
        (f"{BASE}/reports/{report_id}/merge", {"original": submit(office_app, tenant)}),
        (f"{BASE}/reports/{report_id}/moderate", {"state": "hidden", "reason": "no"}),
        (f"{BASE}/reports/{report_id}/work-order", {}),
        (f"{BASE}/reports/{report_id}/comments/{comment.id}/moderate", {"state": "hidden", "reason": "no"}),
    ]
    login(client, tenant, "viewer")
    viewer_token = token_of(client)
    for path, data in actions:
        assert post(client, path, data, token=viewer_token).status_code == 403, path
    login(client, tenant, "operator")
    for path, data in actions:
        assert post(client, path, data, token=None).status_code == 403, path
        assert post(client, path, data, token=viewer_token).status_code == 403, path  # another session's token
    report = reports_of(office_app).get(tenant, report_id)
    assert report.stage is Stage.SUBMITTED and report.department == "Waste services"
    assert reports_of(office_app).links(tenant, report_id) == []
    assert audit_entries(office_app, tenant, "report.") == []
    assert audit_entries(office_app, tenant, "report-comment.") == []


# -- categories, routing rules, Open311 keys ----------------------------------------------------------

SIX_QUESTIONS = {
    "rows": "7",
    "q-0-code": "kind",
    "q-0-datatype": "singlevaluelist",
    "q-0-description": "What is broken?",
    "q-0-values": "slide = Slide\nswing = Swing",
    "q-0-required": "on",
    "q-0-order": "1",
    "q-1-code": "parts",
    "q-1-datatype": "multivaluelist",
    "q-1-description": "Which parts?",
    "q-1-values": "seat\nchain = Chain",
    "q-1-order": "2",
    "q-2-code": "count",
    "q-2-datatype": "number",
    "q-2-description": "How many?",
    "q-2-order": "3",
    "q-3-code": "seen",
    "q-3-datatype": "datetime",
    "q-3-description": "Since when?",
    "q-3-order": "4",
    "q-4-code": "details",
    "q-4-datatype": "text",
    "q-4-description": "Anything else?",
    "q-4-order": "6",
    "q-5-code": "note",
    "q-5-datatype": "string",
    "q-5-description": "Call 110 in an emergency.",
    "q-5-info": "on",
    "q-5-order": "5",
    # A blank row is left out.
    "q-6-code": "",
}


def category_post(**changes: str) -> dict[str, str]:
    values = {
        "code": "playground",
        "name": "Playground damaged",
        "description": "Broken play equipment",
        "group": "Parks",
        "department": "Parks department",
        "keywords": "swing, slide, swing",
        "object_types": "PlaygroundEquipment",
        "active": "on",
        "position": "7",
    }
    return values | SIX_QUESTIONS | changes


def test_a_category_with_all_six_kinds_of_question_is_made_through_the_form(
    client: TestClient, office_app: FastAPI, tenant: str
) -> None:
    login(client, tenant, "operator")
    token = token_of(client, f"{BASE}/categories/new")
    response = post(client, f"{BASE}/categories/new", category_post(), token=token)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{BASE}/categories?done=category"
    category = reports_of(office_app).category(tenant, "playground")
    assert (category.name, category.group, category.department) == ("Playground damaged", "Parks", "Parks department")
    assert category.keywords == ("swing", "slide") and category.object_types == ("PlaygroundEquipment",)
    assert category.active and category.position == 7
    shape = [(q.code, q.datatype, q.order, q.required, q.variable) for q in category.questions]
    assert shape == [
        ("kind", Datatype.SINGLEVALUELIST, 1, True, True),
        ("parts", Datatype.MULTIVALUELIST, 2, False, True),
        ("count", Datatype.NUMBER, 3, False, True),
        ("seen", Datatype.DATETIME, 4, False, True),
        ("note", Datatype.STRING, 5, False, False),
        ("details", Datatype.TEXT, 6, False, True),
    ]
    kind, parts = category.questions[0], category.questions[1]
    assert [(c.key, c.name) for c in kind.values] == [("slide", "Slide"), ("swing", "Swing")]
    assert [(c.key, c.name) for c in parts.values] == [("seat", "seat"), ("chain", "Chain")]
    (entry,) = audit_entries(office_app, tenant, "category.save")
    assert entry.actor == f"operator-{tenant}" and entry.detail["created"] is True
    # The edit form shows it back, in order; removing a question and reordering saves.
    form = client.get(f"{BASE}/categories/edit/playground").text
    assert re.findall(r'name="q-\d+-code" value="([a-z]+)"', form) == [
        "kind",
        "parts",
        "count",
        "seen",
        "note",
        "details",
    ]
    edited = category_post(**{"q-1-remove": "on", "q-2-order": "9", "name": "Playground broken"})
    edited.pop("code")
    assert post(client, f"{BASE}/categories/edit/playground", edited, token=token).status_code == 303
    category = reports_of(office_app).category(tenant, "playground")
    assert category.name == "Playground broken"
    assert [q.code for q in category.questions] == ["kind", "seen", "note", "details", "count"]
    # A second category with the same code is refused.
    again = post(client, f"{BASE}/categories/new", category_post(), token=token)
    assert again.status_code == 409 and "edit it instead" in again.text


def test_an_invalid_category_shows_its_problems_and_saves_nothing(
    client: TestClient, office_app: FastAPI, tenant: str
) -> None:
    login(client, tenant, "operator")
    token = token_of(client, f"{BASE}/categories/new")
    bad = category_post(**{"q-0-values": "", "q-2-order": "1"})
    response = post(client, f"{BASE}/categories/new", bad, token=token)
    assert response.status_code == 400
    assert "attribute &#39;kind&#39; is a list without values" in response.text
    assert "&#39;order&#39; must be a positive integer unique in the category" in response.text
    # The form comes back as typed.
    assert 'value="Playground damaged"' in response.text and 'value="details"' in response.text
    assert "playground" not in [c.code for c in reports_of(office_app).categories(tenant, include_inactive=True)]
    assert audit_entries(office_app, tenant, "category.save") == []
    assert post(client, f"{BASE}/categories/new", category_post(code="no spaces"), token=token).status_code == 400
    viewer_refused = post(client, f"{BASE}/categories/new", category_post(), token=None)
    assert viewer_refused.status_code == 403


def test_routing_rules_are_added_and_deleted(client: TestClient, office_app: FastAPI, tenant: str) -> None:
    login(client, tenant, "operator")
    token = token_of(client, f"{BASE}/categories")
    rule = {
        "service_code": "litter",
        "district": "Nordstadt",
        "department": "Waste services",
        "department_other": "North crew",
    }
    response = post(client, f"{BASE}/categories/routes", rule, token=token)
    assert response.status_code == 303
    reports = reports_of(office_app)
    (added,) = reports.routes(tenant)
    assert (added.service_code, added.district, added.department) == ("litter", "Nordstadt", "North crew")
    # A new litter report in the north goes to the crew; the triage page offers the crew as a department.
    report_id = submit(office_app, tenant)
    assert reports.get(tenant, report_id).department == "North crew"
    assert '<option value="North crew" selected>' in client.get(f"{BASE}/reports/{report_id}").text
    assert f'data-route="{added.id}"' in client.get(f"{BASE}/categories").text
    assert post(client, f"{BASE}/categories/routes", {"department": "Anyone"}, token=token).status_code == 400
    delete = f"{BASE}/categories/routes/{added.id}/delete"
    assert post(client, delete, {}, token=token).status_code == 303
    assert reports.routes(tenant) == []
    assert post(client, delete, {}, token=token).status_code == 404
    assert [e.action for e in audit_entries(office_app, tenant, "route.")] == ["route.delete", "route.add"]


def test_an_open311_key_is_shown_once_and_can_be_revoked(client: TestClient, office_app: FastAPI, tenant: str) -> None:
    login(client, tenant, "operator")
    token = token_of(client, f"{BASE}/open311-keys")
    response = post(client, f"{BASE}/open311-keys", {"name": "Mängelmelder app"}, token=token)
    assert response.status_code == 200
    match = re.search(r'<code data-key="([0-9a-f]+)">([^<]+)</code>', response.text)
    assert match is not None
    key_id, secret = match.groups()
    reports = reports_of(office_app)
    checked = reports.check_api_key(tenant, secret)
    assert checked is not None and checked.id == key_id and checked.created_by == f"operator-{tenant}"
    listing = client.get(f"{BASE}/open311-keys")
    assert secret not in listing.text and "Mängelmelder app" in listing.text
    (row,) = client.get(f"{BASE}/open311-keys.json").json()
    assert row == row | {"id": key_id, "name": "Mängelmelder app", "active": True}
    assert secret not in client.get(f"{BASE}/open311-keys.csv").text
    assert post(client, f"{BASE}/open311-keys", {"name": ""}, token=token).status_code == 400

    revoke = f"{BASE}/open311-keys/{key_id}/revoke"
    login(client, tenant, "viewer")
    assert post(client, revoke, {}, token=token_of(client, f"{BASE}/open311-keys")).status_code == 403
    login(client, tenant, "operator")
    assert post(client, revoke, {}, token=None).status_code == 403
    assert reports.check_api_key(tenant, secret) is not None
    response = post(client, revoke, {}, token=token_of(client, f"{BASE}/open311-keys"))
    assert response.status_code == 303 and response.headers["location"] == f"{BASE}/open311-keys?done=key-revoked"
    assert reports.check_api_key(tenant, secret) is None
    assert client.get(f"{BASE}/open311-keys.json").json()[0]["active"] is False
    assert post(client, revoke, {}, token=token_of(client, f"{BASE}/open311-keys")).status_code == 404


def test_local_times_of_forms_are_the_city_s() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    assert citizens_console.local_instant("2026-07-01T12:00", berlin, "x") == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert citizens_console.local_instant("2026-12-01", berlin, "x") == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert citizens_console.local_instant("2026-12-01T10:00Z", berlin, "x") == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert citizens_console.local_input(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), berlin) == "2026-12-01T10:00"
    assert citizens_console.local_input(None, berlin) == ""
    with pytest.raises(Exception, match="date and time"):
        citizens_console.local_instant("tomorrow", berlin, "x")
