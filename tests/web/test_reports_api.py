"""The reports JSON API on SQLite and PostgreSQL: filing and confirming, staff actions, privacy, limits, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from report_builders import jpeg_with_gps
from sqlalchemy import select
from test_notify import wire_notifier

from conftest import login_headers as login
from conftest import make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.citizens.mail import outbox
from urbis.citizens.service import ReportService, report_entity_id
from urbis.core.audit import AuditFilter

URL = "/api/v1/reports"
LAMP = {
    "service": "streetlight",
    "description": "The lamp outside number 12 is dark every night.",
    "lat": 50.7355,
    "long": 7.1010,
    "attribute": {"fault": "dark"},
}
PERSONAL = {
    "email": "erika.mustermann@example.org",
    "firstName": "Erika",
    "lastName": "Mustermann",
    "phone": "+49 228 555 0199",
    "deviceId": "phone-4711-secret",
    "deviceLat": 50.7355123,
    "deviceLong": 7.1010456,
}


def citizen_app(db_url: str, tenant: str, **overrides: object) -> FastAPI:
    """A whole app: the reports and residents APIs and the notifier are wired by create_app."""
    app = create_app(make_settings(db_url, tenant, **overrides))
    wire_notifier(app)
    return app


@pytest.fixture
def api(db_url: str, tenant: str) -> Iterator[TestClient]:
    with TestClient(citizen_app(db_url, tenant)) as client:
        yield client


def service_of(client: TestClient) -> ReportService:
    service: ReportService = client.app.state.citizen_reports  # type: ignore[attr-defined]
    return service


def staff(client: TestClient, tenant: str) -> dict[str, str]:
    return login(client, tenant, "operator", subject=f"sam-{tenant}")


def citizen(client: TestClient, tenant: str, name: str = "ann") -> dict[str, str]:
    return login(client, tenant, "citizen", subject=f"{name}-{tenant}")


def file_report(client: TestClient, headers: dict[str, str], **changes: Any) -> str:
    sent = client.post(URL, json=LAMP | changes, headers=headers)
    assert sent.status_code == 201, sent.text
    report_id: str = sent.json()["id"]
    return report_id


def confirmation_code(client: TestClient, tenant: str, address: str) -> str:
    with client.app.state.db.read() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(outbox.c.body).where(outbox.c.tenant == tenant, outbox.c.recipient == address)).all()
    (body,) = [row.body for row in rows]
    return next(line.rsplit("code=", 1)[1] for line in body.splitlines() if "/confirm?code=" in line)


def audited(client: TestClient, tenant: str, action: str) -> list[tuple[str, str]]:
    entries, _ = client.app.state.audit.entries(tenant, AuditFilter(action=action))  # type: ignore[attr-defined]
    return [(e.actor, e.target) for e in entries]


def test_an_anonymous_report_needs_an_e_mail_and_is_listed_once_confirmed(api: TestClient, tenant: str) -> None:
    litter = {"service": "litter", "description": "Bags of rubbish by the bench", "lat": 50.72, "long": 7.10}
    refused = assert_problem(api.post(URL, json=litter), 400)
    assert "e-mail" in refused["detail"]

    sent = api.post(URL, json=litter | {"email": "resident@example.org"})
    assert sent.status_code == 201, sent.text
    receipt = sent.json()
    report_id = receipt["id"]
    assert receipt["awaitingConfirmation"] is True
    assert "confirm" in receipt["notice"]
    assert receipt["url"] == f"http://127.0.0.1:8000/app/reports/{report_id}"
    assert receipt["report"]["id"] == report_id
    assert sent.headers["location"] == f"{URL}/{report_id}"
    assert api.get(URL).json()["total"] == 0
    assert_problem(api.get(f"{URL}/{report_id}"), 404)

    code = confirmation_code(api, tenant, "resident@example.org")
    assert_problem(api.post(f"{URL}/{report_id}/confirm", json={"code": code + "x"}), 403)
    confirmed = api.post(f"{URL}/{report_id}/confirm", json={"code": code})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed"] is True

    listed = api.get(URL).json()
    assert (listed["total"], [r["id"] for r in listed["reports"]]) == (1, [report_id])
    shown = api.get(f"{URL}/{report_id}").json()
    assert [u["description"] for u in shown["updates"]] == ["The sender confirmed the report."]


def test_a_signed_in_resident_reports_with_a_photo_and_the_report_is_public_at_once(
    api: TestClient, tenant: str
) -> None:
    form = {
        "service": "streetlight",
        "description": "Dark again",
        "lat": "50.7355",
        "long": "7.1010",
        "attribute[fault]": "dark",
        "attribute[pole_number]": "L-12",
    }
    photo = [("photo", ("lamp.jpg", jpeg_with_gps(), "image/jpeg"))]
    sent = api.post(URL, data=form, files=photo, headers=citizen(api, tenant))
    assert sent.status_code == 201, sent.text
    receipt = sent.json()
    assert receipt["awaitingConfirmation"] is False
    assert "Street lighting" in receipt["notice"]
    report_id = receipt["id"]

    shown = api.get(f"{URL}/{report_id}").json()
    assert shown["answers"] == {"fault": "dark", "pole_number": "L-12"}
    (photo_url,) = shown["photos"]
    assert photo_url.startswith("http://127.0.0.1:8000/media/reports/")
    assert api.get(URL).json()["total"] == 1
    contact = service_of(api).contact(tenant, report_id)
    assert contact is not None and contact.account == f"ann-{tenant}"

    # A multi-value answer, the Open311 way (attribute[CODE][] repeated).
    smoke = {"service": "air-quality", "address": "Marktplatz", "attribute[kind][]": ["smoke", "smell"]}
    sent = api.post(
        URL, data=smoke, files=[("photo", ("a.jpg", jpeg_with_gps(), "image/jpeg"))], headers=citizen(api, tenant)
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["report"]["answers"] == {"kind": ["smoke", "smell"]}


def test_staff_actions_change_the_report_and_are_audited_and_residents_may_not_take_them(
    api: TestClient, tenant: str
) -> None:
    ann = citizen(api, tenant)
    sam = staff(api, tenant)
    report_id = file_report(api, ann)
    duplicate_id = file_report(api, ann, description="Lamp 12 is out")
    comment = api.post(f"{URL}/{report_id}/comments", json={"text": "Still dark."}, headers=ann)
    assert comment.status_code == 201, comment.text
    comment_id = comment.json()["id"]
    bench = {
        "name": "Broken bench",
        "department": "Parks",
        "group": "parks",
        "questions": [
            {"code": "seats", "datatype": "number", "description": "How many seats are broken?", "order": 1},
        ],
    }
    actions: list[tuple[str, str, dict[str, Any], str, str | None]] = [
        (
            "POST",
            f"{URL}/{report_id}/stage",
            {"stage": "in-progress", "note": "Crew booked", "expectedAt": "2030-01-02T08:00:00Z"},
            "report.status",
            report_id,
        ),
        ("POST", f"{URL}/{report_id}/route", {"department": "North lighting crew"}, "report.route", report_id),
        ("POST", f"{URL}/{report_id}/work-order", {"severity": "high"}, "report.workorder", report_id),
        (
            "POST",
            f"{URL}/comments/{comment_id}/moderate",
            {"state": "hidden", "reason": "rude"},
            "report-comment.moderate",
            comment_id,
        ),
        ("POST", f"{URL}/{duplicate_id}/merge", {"into": report_id}, "report.merge", duplicate_id),
        (
            "POST",
            f"{URL}/{report_id}/moderate",
            {"state": "hidden", "reason": "names a neighbour"},
            "report.moderate",
            report_id,
        ),
        ("PUT", f"{URL}/categories/bench", bench, "category.save", "bench"),
        ("POST", f"{URL}/routes", {"department": "Parks north", "serviceCode": "bench"}, "route.add", None),
        ("POST", f"{URL}/open311-keys", {"name": "Test app"}, "open311key.create", None),
    ]
    answers: dict[str, Any] = {}
    for method, path, body, action, target in actions:
        assert_problem(api.request(method, path, json=body), 401)
        assert_problem(api.request(method, path, json=body, headers=ann), 403)
        assert audited(api, tenant, action) == []
        done = api.request(method, path, json=body, headers=sam)
        assert done.status_code in (200, 201), (path, done.text)
        answers[action] = done.json()
        (entry,) = audited(api, tenant, action)
        assert entry[0] == f"sam-{tenant}"
        if target is not None:
            assert entry[1] == target

    moved = answers["report.status"]
    assert (moved["stage"], moved["statusNotes"], moved["expectedAt"]) == (
        "in-progress",
        "Crew booked",
        "2030-01-02T08:00:00+00:00",
    )
    assert moved["updates"][-1]["by"] == f"sam-{tenant}"
    assert answers["report.route"]["department"] == "North lighting crew"
    order_id = answers["report.workorder"]["workOrderId"]
    assert answers["report-comment.moderate"]["moderation"] == "hidden"
    merged = answers["report.merge"]
    assert (merged["stage"], merged["duplicateOf"]) == ("duplicate", report_id)
    assert answers["report.moderate"]["moderation"] == "hidden"
    assert answers["category.save"]["questions"][0]["code"] == "seats"
    assert answers["open311key.create"]["key"]

    full = api.get(f"{URL}/{report_id}", headers=sam).json()
    assert {"kind": "work_order", "id": order_id} in full["links"]
    assert_problem(api.get(f"{URL}/{report_id}"), 404)  # hidden now
    assert "bench" in [c["code"] for c in api.get(f"{URL}/categories").json()["categories"]]
    (rule,) = api.get(f"{URL}/routes", headers=sam).json()["routes"]
    assert rule == {"id": rule["id"], "department": "Parks north", "serviceCode": "bench", "district": None}
    assert_problem(api.delete(f"{URL}/routes/{rule['id']}", headers=ann), 403)
    assert api.delete(f"{URL}/routes/{rule['id']}", headers=sam).status_code == 204
    assert [t for _, t in audited(api, tenant, "route.delete")] == [rule["id"]]

    key = answers["open311key.create"]
    (listed,) = api.get(f"{URL}/open311-keys", headers=sam).json()["keys"]
    assert listed["id"] == key["id"] and "key" not in listed
    assert service_of(api).check_api_key(tenant, key["key"]) is not None
    assert api.delete(f"{URL}/open311-keys/{key['id']}", headers=sam).status_code == 204
    assert service_of(api).check_api_key(tenant, key["key"]) is None

    for path in (f"{URL}/triage", f"{URL}/moderation", f"{URL}/routes", f"{URL}/open311-keys"):
        assert_problem(api.get(path), 401)
        assert_problem(api.get(path, headers=ann), 403)
        assert api.get(path, headers=sam).status_code == 200


def test_no_public_answer_carries_the_sender_s_personal_data(api: TestClient, tenant: str) -> None:
    ann = citizen(api, tenant)
    sent = api.post(URL, json=LAMP | PERSONAL | {"showName": False}, headers=ann)
    assert sent.status_code == 201, sent.text
    report_id = sent.json()["id"]
    assert api.post(f"{URL}/{report_id}/comments", json={"text": "Still dark."}, headers=ann).status_code == 201
    secrets = [str(v) for v in PERSONAL.values()] + [f"ann-{tenant}"]

    bob = citizen(api, tenant, "bob")
    entity = report_entity_id(report_id)
    public = {
        "submit answer": sent,
        "list": api.get(URL),
        "one": api.get(f"{URL}/{report_id}"),
        "nearby": api.get(f"{URL}/nearby", params={"service": "streetlight", "lat": 50.7355, "long": 7.1010}),
        "categories": api.get(f"{URL}/categories"),
        "entity": api.get(f"/ngsi-ld/v1/entities/{entity}", headers={"NGSILD-Tenant": tenant}),
        "another resident's view": api.get(f"{URL}/{report_id}", headers=bob),
        "another resident's list": api.get(URL, headers=bob),
        "another resident's reports": api.get("/api/v1/me/reports", headers=bob),
    }
    for name, response in public.items():
        assert response.status_code in (200, 201), (name, response.text)
        for secret in secrets:
            assert secret not in response.text, (name, secret)
    assert report_id in public["list"].text and report_id in public["nearby"].text
    assert public["entity"].json()["id"] == entity

    shown = api.get(f"{URL}/{report_id}", headers=staff(api, tenant)).json()
    assert shown["contact"] == {
        "account": f"ann-{tenant}",
        "email": PERSONAL["email"],
        "firstName": "Erika",
        "lastName": "Mustermann",
        "phone": PERSONAL["phone"],
        "deviceId": PERSONAL["deviceId"],
        "devicePosition": [PERSONAL["deviceLong"], PERSONAL["deviceLat"]],
    }
    assert shown["updates"][-1]["by"] == f"ann-{tenant}"


def test_a_name_is_shown_only_when_the_sender_asks(api: TestClient, tenant: str) -> None:
    shown_id = file_report(api, citizen(api, tenant), firstName="Erika", lastName="Mustermann", showName=True)
    hidden_id = file_report(api, citizen(api, tenant), firstName="Erika", lastName="Mustermann")
    assert api.get(f"{URL}/{shown_id}").json()["reportedBy"] == "Erika Mustermann"
    assert api.get(f"{URL}/{hidden_id}").json()["reportedBy"] is None


def test_submissions_beyond_the_limit_per_address_get_429_with_retry_after(db_url: str, tenant: str) -> None:
    with TestClient(citizen_app(db_url, tenant, citizen_rate_limit_ip="2/minute")) as client:
        body = LAMP | {"email": "resident@example.org"}
        statuses = [client.post(URL, json=body).status_code for _ in range(2)]
        refused = client.post(URL, json=body)
        assert statuses == [201, 201]
        assert_problem(refused, 429)
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # Flags count against the same limit.
        assert_problem(client.post(f"{URL}/nope/flag", json={"reason": "spam"}), 429)


def test_submissions_beyond_the_limit_per_account_get_429(db_url: str, tenant: str) -> None:
    with TestClient(citizen_app(db_url, tenant, citizen_rate_limit_account="1/minute")) as client:
        ann, bob = citizen(client, tenant), citizen(client, tenant, "bob")
        assert client.post(URL, json=LAMP, headers=ann).status_code == 201
        assert_problem(client.post(URL, json=LAMP, headers=ann), 429)
        assert client.post(URL, json=LAMP, headers=bob).status_code == 201


def test_a_report_that_is_not_public_is_seen_only_by_staff_and_its_sender(api: TestClient, tenant: str) -> None:
    ann, bob, sam = citizen(api, tenant), citizen(api, tenant, "bob"), staff(api, tenant)
    report_id = file_report(api, ann)
    hidden = api.post(
        f"{URL}/{report_id}/moderate", json={"state": "hidden", "reason": "a face in the photo"}, headers=sam
    )
    assert hidden.status_code == 200, hidden.text

    own = api.get(f"{URL}/{report_id}", headers=ann)
    assert own.status_code == 200
    assert own.json()["confirmed"] is True
    assert "moderation" not in own.json() and "contact" not in own.json()
    assert_problem(api.get(f"{URL}/{report_id}", headers=bob), 404)
    assert_problem(api.get(f"{URL}/{report_id}"), 404)
    assert api.get(f"{URL}/{report_id}", headers=sam).json()["moderation"] == "hidden"
    assert_problem(api.get(f"{URL}/nope", headers=sam), 404)


def test_lists_filter_and_page(api: TestClient, tenant: str) -> None:
    ann, sam = citizen(api, tenant), staff(api, tenant)
    first = file_report(api, ann)
    fixed = file_report(api, ann, description="Flickers", attribute={"fault": "flickering"})
    far = file_report(api, ann, lat=50.7400, attribute={"fault": "damaged"})  # about 500 m north
    litter = file_report(api, ann, service="litter", description="Rubbish", attribute={})
    api.post(f"{URL}/{fixed}/stage", json={"stage": "fixed", "note": "Repaired"}, headers=sam)
    api.post(f"{URL}/{far}/route", json={"department": "North crew"}, headers=sam)

    def ids(response: Any) -> list[str]:
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["reports"]]

    assert ids(api.get(URL)) == [litter, far, fixed, first]
    assert ids(api.get(URL, params={"limit": 2, "offset": 1})) == [far, fixed]
    assert api.get(URL, params={"limit": 2}).json()["total"] == 4
    assert ids(api.get(URL, params={"status": "closed"})) == [fixed]
    assert ids(api.get(URL, params={"stage": "submitted", "service": "streetlight"})) == [far, first]
    assert ids(api.get(URL, params={"service": "litter,pothole"})) == [litter]
    near = api.get(URL, params={"lat": 50.7355, "long": 7.1010, "radius": 100})
    assert ids(near) == [litter, fixed, first] and near.json()["total"] == 3  # all but the one 500 m away
    assert ids(api.get(f"{URL}/nearby", params={"service": "streetlight", "lat": 50.7356, "long": 7.1010})) == [first]

    triage = f"{URL}/triage"
    assert ids(api.get(triage, headers=sam)) == [first, far, litter]  # open ones, oldest first
    assert ids(api.get(triage, params={"sort": "newest"}, headers=sam)) == [litter, far, first]
    assert ids(api.get(triage, params={"stage": "fixed"}, headers=sam)) == [fixed]
    assert ids(api.get(triage, params={"department": "North crew"}, headers=sam)) == [far]
    assert ids(api.get(triage, params={"q": "rubbish"}, headers=sam)) == [litter]
    item = api.get(triage, params={"q": "rubbish"}, headers=sam).json()["reports"][0]
    assert item["contact"]["account"] == f"ann-{tenant}" and "updates" not in item


@pytest.fixture
def roomy_api(db_url: str, tenant: str) -> Iterator[TestClient]:
    """A client whose rate limits leave room for many refused submissions."""
    app = citizen_app(db_url, tenant, citizen_rate_limit_ip="1000/minute", citizen_rate_limit_account="1000/minute")
    with TestClient(app) as client:
        yield client


def test_bad_input_is_a_4xx_problem_naming_what_is_allowed(roomy_api: TestClient, tenant: str) -> None:
    api = roomy_api
    ann, sam = citizen(api, tenant), staff(api, tenant)
    report_id = file_report(api, ann)
    stage = assert_problem(api.post(f"{URL}/{report_id}/stage", json={"stage": "done"}, headers=sam), 400)
    assert "submitted" in stage["detail"] and "in-progress" in stage["detail"]
    state = assert_problem(
        api.post(f"{URL}/{report_id}/moderate", json={"state": "gone", "reason": "x"}, headers=sam), 400
    )
    assert "unmoderated, public, hidden" in state["detail"]
    assert_problem(api.post(f"{URL}/{report_id}/stage", json={"stage": "duplicate"}, headers=sam), 400)
    assert_problem(
        api.post(f"{URL}/{report_id}/stage", json={"stage": "fixed", "expectedAt": "soon"}, headers=sam), 400
    )
    assert_problem(api.post(f"{URL}/{report_id}/merge", json={"into": report_id}, headers=sam), 400)
    assert_problem(api.post(f"{URL}/{report_id}/work-order", json={"severity": "dire"}, headers=sam), 400)
    assert_problem(api.get(f"{URL}/triage", params={"stage": "open"}, headers=sam), 400)
    assert_problem(api.get(f"{URL}/triage", params={"sort": "random"}, headers=sam), 400)
    assert_problem(api.get(URL, params={"status": "pending"}), 400)
    assert_problem(api.get(URL, params={"lat": 50.7}), 400)
    assert_problem(api.get(URL, params={"lat": "north", "long": 7, "radius": 10}), 400)
    assert_problem(api.get(URL, params={"colour": "red"}), 400)
    assert_problem(api.get(f"{URL}/nearby", params={"service": "streetlight"}), 400)
    assert_problem(api.post(URL, json=LAMP | {"lat": "north"}, headers=ann), 400)
    assert_problem(api.post(URL, json=LAMP | {"lat": "nan"}, headers=ann), 400)
    assert_problem(api.post(URL, json=LAMP | {"deviceLat": 50.7}, headers=ann), 400)
    assert_problem(api.post(URL, json=LAMP | {"deviceLat": 95, "deviceLong": 7.1}, headers=ann), 400)
    assert_problem(api.get(URL, params={"lat": "inf", "long": 7, "radius": 10}), 400)
    assert_problem(api.post(URL, json=LAMP | {"colour": "red"}, headers=ann), 400)
    assert_problem(api.post(URL, json=LAMP | {"service": "unicorns"}, headers=ann), 404)
    assert_problem(api.post(URL, json=LAMP | {"attribute": {"fault": "melted"}}, headers=ann), 400)
    assert_problem(api.post(URL, json=[LAMP], headers=ann), 400)
    assert_problem(api.post(URL, content=b"service=streetlight", headers=ann | {"Content-Type": "text/plain"}), 415)
    assert_problem(
        api.post(URL, data={"service": "streetlight", "photo": "not a file"}, files=[("x", ("a", b"a"))], headers=ann),
        400,
    )
    too_many = [("photo", (f"{n}.jpg", jpeg_with_gps(), "image/jpeg")) for n in range(4)]
    assert_problem(api.post(URL, data={"service": "streetlight"}, files=too_many, headers=ann), 400)
    assert_problem(api.post(f"{URL}/{report_id}/flag", json={"reason": "ugly"}), 400)
    assert_problem(api.post(f"{URL}/{report_id}/comments", json={"text": "<b>hi</b>"}, headers=ann), 400)
    assert_problem(
        api.put(
            f"{URL}/categories/bench",
            json={"name": "Bench", "department": "Parks", "questions": [{"code": "x", "datatype": "colour"}]},
            headers=sam,
        ),
        400,
    )
    assert_problem(
        api.put(f"{URL}/categories/bench", json={"code": "other", "name": "Bench", "department": "Parks"}, headers=sam),
        400,
    )
    assert_problem(api.post(f"{URL}/routes", json={"department": "Nobody"}, headers=sam), 400)
    assert_problem(api.delete(f"{URL}/routes/nope", headers=sam), 404)


def test_comments_and_flags(api: TestClient, tenant: str) -> None:
    ann = citizen(api, tenant)
    report_id = file_report(api, ann)
    assert_problem(api.post(f"{URL}/{report_id}/comments", json={"text": "Me too"}), 401)
    comment = api.post(f"{URL}/{report_id}/comments", json={"text": "Me too"}, headers=citizen(api, tenant, "bob"))
    assert comment.status_code == 201
    assert comment.json()["description"] == "Me too" and "by" not in comment.json()

    # One person flagging again counts once; three people hide the comment, then the report.
    for _ in range(3):
        assert api.post(f"{URL}/comments/{comment.json()['id']}/flag", json={"reason": "spam"}).status_code == 204
    assert [u["description"] for u in api.get(f"{URL}/{report_id}").json()["updates"]] == ["Me too"]
    for name in ("carl", "dora"):
        headers = citizen(api, tenant, name)
        assert (
            api.post(
                f"{URL}/comments/{comment.json()['id']}/flag", json={"reason": "spam"}, headers=headers
            ).status_code
            == 204
        )
    assert api.get(f"{URL}/{report_id}").json()["updates"] == []

    for name in ("carl", "dora", "emil"):
        flagged = api.post(f"{URL}/{report_id}/flag", json={"reason": "offensive"}, headers=citizen(api, tenant, name))
        assert flagged.status_code == 204
    assert api.get(URL).json()["total"] == 0
    queue = api.get(f"{URL}/moderation", headers=staff(api, tenant)).json()
    assert [r["id"] for r in queue["reports"]] == [report_id]
    assert queue["reports"][0]["flags"] == {"offensive": 3}
    assert [c["id"] for c in queue["comments"]] == [comment.json()["id"]]
    assert queue["comments"][0]["flags"] == {"spam": 3}


def test_staff_keep_the_categories(api: TestClient, tenant: str) -> None:
    sam = staff(api, tenant)
    bench = {
        "name": "Broken bench",
        "description": "A bench that is broken or missing.",
        "department": "Parks",
        "group": "parks",
        "keywords": ["bench", "seat"],
        "questions": [
            {"code": "seats", "datatype": "number", "description": "Broken seats", "required": True, "order": 1},
            {
                "code": "material",
                "datatype": "singlevaluelist",
                "description": "Made of",
                "order": 2,
                "values": [{"key": "wood", "name": "Wood"}, {"key": "metal", "name": "Metal"}],
            },
        ],
    }
    created = api.put(f"{URL}/categories/bench", json=bench, headers=sam)
    assert created.status_code == 201, created.text
    again = api.put(f"{URL}/categories/bench", json=bench | {"name": "Bench"}, headers=sam)
    assert (again.status_code, again.json()["name"]) == (200, "Bench")

    (shown,) = [c for c in api.get(f"{URL}/categories").json()["categories"] if c["code"] == "bench"]
    assert (shown["group"], shown["department"], shown["metadata"]) == ("parks", "Parks", True)
    material = shown["questions"][1]
    assert material["values"] == [{"key": "wood", "name": "Wood"}, {"key": "metal", "name": "Metal"}]
    streetlight = next(c for c in api.get(f"{URL}/categories").json()["categories"] if c["code"] == "streetlight")
    assert streetlight["objectTypes"] == ["Streetlight"]

    ann = citizen(api, tenant)
    answer = {"service": "bench", "address": "Park", "attribute[seats]": "2", "attribute[material]": "wood"}
    sent = api.post(URL, data=answer, files=[("photo", ("b.jpg", jpeg_with_gps(), "image/jpeg"))], headers=ann)
    assert sent.status_code == 201, sent.text
    assert sent.json()["report"]["answers"] == {"seats": 2, "material": "wood"}
    missing = assert_problem(api.post(URL, json={"service": "bench", "address": "Park"}, headers=ann), 400)
    assert "attribute[seats] is required" in missing["detail"]

    retired = api.put(f"{URL}/categories/bench", json=bench | {"active": False}, headers=sam)
    assert retired.status_code == 200
    assert "bench" not in [c["code"] for c in api.get(f"{URL}/categories").json()["categories"]]
    assert "bench" in [c["code"] for c in api.get(f"{URL}/categories", headers=sam).json()["categories"]]


def test_the_answers_are_json(api: TestClient, tenant: str) -> None:
    report_id = file_report(api, citizen(api, tenant))
    response = api.get(f"{URL}/{report_id}")
    assert response.headers["content-type"] == "application/json"
    assert orjson.loads(response.content)["id"] == report_id
