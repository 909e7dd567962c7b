"""The resident's own API (/api/v1/me) on SQLite and PostgreSQL: reports, data download and erasure, follows, feed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from test_notify import PASSWORD
from test_reports_api import LAMP, URL, citizen, citizen_app, file_report, service_of, staff

from conftest import login_headers as login
from problem_details import assert_problem

ME = "/api/v1/me"


@pytest.fixture
def api(db_url: str, tenant: str) -> Iterator[TestClient]:
    with TestClient(citizen_app(db_url, tenant)) as client:
        yield client


def test_every_route_needs_a_signed_in_resident(api: TestClient, tenant: str) -> None:
    routes = [
        ("GET", f"{ME}/reports"),
        ("GET", f"{ME}/data"),
        ("DELETE", f"{ME}/data"),
        ("GET", f"{ME}/follows"),
        ("POST", f"{ME}/follows"),
        ("DELETE", f"{ME}/follows/some-id"),
        ("GET", f"{ME}/feed"),
        ("POST", f"{ME}/feed/read"),
    ]
    viewer = login(api, tenant, "viewer")
    for method, path in routes:
        assert_problem(api.request(method, path), 401)
        assert api.request(method, path).headers["www-authenticate"] == "Bearer"
        assert_problem(api.request(method, path, headers=viewer), 403)  # staff who may not take part


def test_my_reports_are_mine_only(api: TestClient, tenant: str) -> None:
    ann, bob = citizen(api, tenant), citizen(api, tenant, "bob")
    first = file_report(api, ann)
    second = file_report(api, ann, description="Still dark")
    file_report(api, bob)
    api.post(f"{URL}/{first}/moderate", json={"state": "hidden", "reason": "a face"}, headers=staff(api, tenant))

    mine = api.get(f"{ME}/reports", headers=ann).json()["reports"]
    assert [(r["id"], r["confirmed"]) for r in mine] == [(second, True), (first, True)]
    assert all("contact" not in r and "updates" not in r for r in mine)
    assert len(api.get(f"{ME}/reports", headers=bob).json()["reports"]) == 1


def test_a_resident_downloads_then_erases_their_data(api: TestClient, tenant: str) -> None:
    username = f"ann-{tenant}"
    api.app.state.accounts.create_user(  # type: ignore[attr-defined]
        username, PASSWORD, tenant=tenant, roles=["citizen"], email="ann@example.org", full_name="Ann Example"
    )
    ann = citizen(api, tenant)
    report_id = file_report(api, ann, email="ann.contact@example.org", phone="+49 228 555 0100")
    assert api.post(f"{URL}/{report_id}/comments", json={"text": "Still dark."}, headers=ann).status_code == 201
    followed = api.post(f"{ME}/follows", json={"kind": "category", "target": "litter"}, headers=ann)
    assert followed.status_code == 201
    api.post(f"{URL}/{report_id}/stage", json={"stage": "fixed", "note": "New lamp."}, headers=staff(api, tenant))
    bob = citizen(api, tenant, "bob")
    file_report(api, bob, phone="+49 228 555 0999")

    download = api.get(f"{ME}/data", headers=ann)
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="urbis-my-data.json"'
    data = download.json()
    assert data["account"] == {"username": username, "email": "ann@example.org", "fullName": "Ann Example"}
    (report,) = data["reports"]
    assert report["report"] == report_id
    assert report["contact"]["email"] == "ann.contact@example.org"
    assert report["contact"]["phone"] == "+49 228 555 0100"
    assert [c["text"] for c in report["comments"]] == ["Still dark."]
    kinds = sorted((f["kind"], f["target"]) for f in data["follows"])
    assert kinds == [("category", "litter"), ("report", report_id)]  # her own report, followed for her
    assert [e["title"] for e in data["feed"]] == [f"Report {report_id}: fixed"]
    assert "+49 228 555 0999" not in download.text  # nothing of bob's

    assert api.delete(f"{ME}/data", headers=ann).status_code == 204

    assert service_of(api).contact(tenant, report_id) is None
    assert api.get(f"{URL}/{report_id}").status_code == 200  # the report stays, anonymous
    assert api.get(f"{ME}/reports", headers=ann).json()["reports"] == []
    after = api.get(f"{ME}/data", headers=ann).json()
    assert (after["reports"], after["follows"], after["feed"]) == ([], [], [])
    assert "Ann Example" in after["account"]["fullName"]  # the login itself is deleted elsewhere
    staff_view = api.get(f"{URL}/{report_id}", headers=staff(api, tenant)).json()
    assert staff_view["contact"] is None
    assert [u["by"] for u in staff_view["updates"] if u["kind"] == "comment"] == [None]
    assert len(api.get(f"{ME}/reports", headers=bob).json()["reports"]) == 1


def test_follows_are_made_listed_and_removed(api: TestClient, tenant: str) -> None:
    ann, bob = citizen(api, tenant), citizen(api, tenant, "bob")
    area = {"kind": "area", "lat": 50.7355, "long": 7.1010, "radius": 250, "byMail": True}
    made = api.post(f"{ME}/follows", json=area, headers=ann)
    assert made.status_code == 201, made.text
    follow = made.json()
    assert (follow["kind"], follow["radius"], follow["byMail"]) == ("area", 250.0, True)
    assert made.headers["location"] == f"{ME}/follows/{follow['id']}"
    again = api.post(f"{ME}/follows", json=area | {"byMail": False}, headers=ann)
    assert (again.status_code, again.json()["id"], again.json()["byMail"]) == (200, follow["id"], False)
    assert [f["id"] for f in api.get(f"{ME}/follows", headers=ann).json()["follows"]] == [follow["id"]]
    assert api.get(f"{ME}/follows", headers=bob).json()["follows"] == []

    assert_problem(api.post(f"{ME}/follows", json=area | {"radius": 9}, headers=ann), 400)
    assert_problem(api.post(f"{ME}/follows", json=area | {"radius": 5001}, headers=ann), 400)
    assert_problem(api.post(f"{ME}/follows", json={"kind": "street", "target": "x"}, headers=ann), 400)
    assert_problem(api.post(f"{ME}/follows", json={"kind": "category", "target": "unicorns"}, headers=ann), 404)
    assert_problem(api.post(f"{ME}/follows", json={"kind": "report", "target": "nope"}, headers=ann), 404)
    assert_problem(api.post(f"{ME}/follows", json=area | {"byMail": "yes"}, headers=ann), 400)
    assert_problem(api.post(f"{ME}/follows", json=area | {"colour": "red"}, headers=ann), 400)
    assert_problem(api.post(f"{ME}/follows", json=area | {"lat": "north"}, headers=ann), 400)

    assert_problem(api.delete(f"{ME}/follows/{follow['id']}", headers=bob), 404)  # not bob's
    assert api.delete(f"{ME}/follows/{follow['id']}", headers=ann).status_code == 204
    assert api.get(f"{ME}/follows", headers=ann).json()["follows"] == []


def test_the_feed_tells_of_followed_reports_and_is_marked_read(api: TestClient, tenant: str) -> None:
    ann, bob, sam = citizen(api, tenant), citizen(api, tenant, "bob"), staff(api, tenant)
    report_id = file_report(api, ann)
    assert api.post(f"{ME}/follows", json={"kind": "report", "target": report_id}, headers=bob).status_code == 201
    near = {"kind": "area", "lat": 50.7356, "long": 7.1010, "radius": 100}
    assert api.post(f"{ME}/follows", json=near, headers=bob).status_code == 201

    api.post(f"{URL}/{report_id}/stage", json={"stage": "investigating", "note": "We look at it."}, headers=sam)
    api.post(f"{URL}/{report_id}/stage", json={"stage": "fixed", "note": "New lamp."}, headers=sam)
    newer_id = file_report(api, ann, **{"lat": LAMP["lat"]})

    feed = api.get(f"{ME}/feed", headers=bob).json()
    assert (feed["total"], feed["unread"]) == (3, 3)
    titles = [e["title"] for e in feed["entries"]]
    assert titles[1:] == [f"Report {report_id}: fixed", f"Report {report_id}: investigating"]
    assert titles[0].startswith(f"New report {newer_id}")
    assert feed["entries"][1]["body"] == "New lamp."
    assert feed["entries"][1]["link"] == f"/app/reports/{report_id}"
    assert (
        api.get(f"{ME}/feed", params={"limit": 1, "offset": 1}, headers=bob).json()["entries"][0]["title"] == titles[1]
    )

    marked = api.post(f"{ME}/feed/read", json={"ids": [feed["entries"][0]["id"]]}, headers=bob).json()
    assert marked == {"marked": 1, "unread": 2}
    assert api.post(f"{ME}/feed/read", headers=bob).json() == {"marked": 2, "unread": 0}
    assert all(e["read"] for e in api.get(f"{ME}/feed", headers=bob).json()["entries"])
    assert_problem(api.post(f"{ME}/feed/read", json={"ids": "all"}, headers=bob), 400)
    assert_problem(api.get(f"{ME}/feed", params={"limit": 201}, headers=bob), 400)
    # Ann's own report's changes reach her feed too (she follows it automatically).
    assert api.get(f"{ME}/feed", headers=ann).json()["total"] == 2
