"""A resident's own things in the citizen app, on SQLite and PostgreSQL: their reports, follows and feed,
and downloading and deleting their data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from report_builders import jpeg_with_gps
from test_citizen_pages import (
    assert_page,
    citizen_app_for,
    csrf_of,
    log_in,
    make_resident,
    public_report,
)

from urbis.citizens.model import Stage


@pytest.fixture
def citizen_app(db_url: str, tenant: str) -> FastAPI:
    return citizen_app_for(db_url, tenant)


@pytest.fixture
def citizen(citizen_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(citizen_app) as client:
        yield client


def test_my_reports_follows_and_feed(citizen_app: FastAPI, citizen: TestClient, tenant: str) -> None:
    username = make_resident(citizen_app, tenant, email="ann@example.org")
    log_in(citizen, username)
    page = citizen.get("/app/report").text
    response = citizen.post(
        "/app/report",
        data={
            "csrf_token": csrf_of(page),
            "service": "litter",
            "description": "Bags by the bench",
            "lat": "50.7356",
            "long": "7.1011",
        },
        files=[("photo", ("bench.jpg", jpeg_with_gps(), "image/jpeg"))],
        follow_redirects=False,
    )
    assert response.status_code == 303
    report_id = response.headers["location"].split("/")[3].split("?")[0]
    # The sender follows their own report; staff moving it on tells them in the feed.
    citizen_app.state.citizen_reports.set_stage(
        tenant, report_id, Stage.IN_PROGRESS, "A crew is on its way.", by="staff"
    )
    html = assert_page(citizen.get("/app/me"))
    assert f'<a href="/app/reports/{report_id}">Litter or fly-tipping</a>' in html
    assert "Work in progress" in html
    assert f'<a href="/app/reports/{report_id}">Report {report_id}</a>' in html  # followed
    assert "1 new" in html and "A crew is on its way." in html
    twin = citizen.get("/app/me.json").json()
    assert twin["username"] == username and [r["id"] for r in twin["reports"]] == [report_id]
    assert twin["unread"] == 1 and twin["feed"][0]["link"] == f"/app/reports/{report_id}"
    assert [(f["kind"], f["target"]) for f in twin["follows"]] == [("report", report_id)]
    read = citizen.post("/app/me/feed/read", data={"csrf_token": csrf_of(html)}, follow_redirects=False)
    assert read.status_code == 303
    assert citizen.get("/app/me.json").json()["unread"] == 0
    # The home page lists the latest reports too.
    assert f'href="/app/reports/{report_id}"' in citizen.get("/app").text


def test_following_a_report_a_category_and_an_area(citizen_app: FastAPI, citizen: TestClient, tenant: str) -> None:
    report_id = public_report(citizen_app, tenant)
    assert "Log in to follow this report" in citizen.get(f"/app/reports/{report_id}").text
    anonymous = citizen.post("/app/follow", data={"kind": "report", "target": report_id}, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/app/login?next=")
    log_in(citizen, make_resident(citizen_app, tenant))
    page = citizen.get(f"/app/reports/{report_id}").text
    token = csrf_of(page)
    assert citizen.post("/app/follow", data={"kind": "report", "target": report_id}).status_code == 403
    followed = citizen.post(
        "/app/follow",
        data={"csrf_token": token, "kind": "report", "target": report_id, "next": f"/app/reports/{report_id}"},
        follow_redirects=False,
    )
    assert followed.headers["location"] == f"/app/reports/{report_id}?followed=1"
    page = citizen.get(followed.headers["location"]).text
    assert "You follow this report now" in page and "Stop following" in page
    citizen.post("/app/follow", data={"csrf_token": token, "kind": "category", "target": "graffiti"})
    area = {"csrf_token": token, "kind": "area", "lat": "50.7356", "long": "7.1011", "radius": "200", "label": "Home"}
    assert citizen.post("/app/follow", data=area, follow_redirects=False).status_code == 303
    me = citizen.get("/app/me").text
    assert re.search(r'<span class="kind">Category:</span>\s*Graffiti', me)
    assert "Home (200 m)" in me
    follows = citizen.get("/app/me.json").json()["follows"]
    assert sorted(f["kind"] for f in follows) == ["area", "category", "report"]
    # A new public report in the followed area reaches the feed.
    public_report(citizen_app, tenant, service_code="graffiti", answers={}, lat=50.7357, long=7.1012)
    feed = citizen.get("/app/me.json").json()["feed"]
    assert len(feed) == 1  # one notice, although the report matches both the area and the category
    bad = citizen.post("/app/follow", data={**area, "radius": "90000"})
    assert bad.status_code == 400
    report_follow = next(f for f in follows if f["kind"] == "report")
    gone = citizen.post(
        "/app/unfollow",
        data={"csrf_token": token, "follow_id": report_follow["id"], "next": "/app/me"},
        follow_redirects=False,
    )
    assert gone.headers["location"] == "/app/me?unfollowed=1"
    assert sorted(f["kind"] for f in citizen.get("/app/me.json").json()["follows"]) == ["area", "category"]


def test_a_resident_downloads_and_deletes_their_data(citizen_app: FastAPI, citizen: TestClient, tenant: str) -> None:
    username = make_resident(citizen_app, tenant, email="ann@example.org")
    report_id = public_report(citizen_app, tenant, account=username, phone="+49 228 555 0100")
    log_in(citizen, username)
    download = citizen.get("/app/me/data")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="urbis-my-data.json"'
    data = json.loads(download.text)
    assert data["account"] == {"username": username, "email": "ann@example.org", "fullName": None}
    (mine,) = data["reports"]
    assert mine["report"] == report_id and mine["contact"]["phone"] == "+49 228 555 0100"
    assert [f["target"] for f in data["follows"]] == [report_id]  # their own report, followed at once
    me = citizen.get("/app/me").text
    unsure = citizen.post("/app/me/data/delete", data={"csrf_token": csrf_of(me)})
    assert unsure.status_code == 400 and "Tick the box to confirm" in unsure.text
    assert citizen.post("/app/me/data/delete", data={"sure": "1"}).status_code == 403
    deleted = citizen.post("/app/me/data/delete", data={"csrf_token": csrf_of(me), "sure": "1"}, follow_redirects=False)
    assert deleted.headers["location"] == "/app/me?done=deleted"
    assert "Your data has been deleted" in citizen.get(deleted.headers["location"]).text
    after = json.loads(citizen.get("/app/me/data").text)
    assert after["reports"] == [] and after["follows"] == [] and after["feed"] == []
    # The report stays, without anyone's name on it.
    assert citizen_app.state.citizen_reports.public_report(tenant, report_id).id == report_id
    assert citizen_app.state.citizen_reports.contact(tenant, report_id) is None
