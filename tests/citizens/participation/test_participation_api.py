"""The participation API on SQLite and PostgreSQL: who may do what, and public answers that name no supporter or voter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import login_headers, make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.core.clock import FixedClock

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
API = "/api/v1/participation"


def with_participation(app: FastAPI, clock: FixedClock) -> FastAPI:
    """The app (create_app wires the participation API and service, on the app's clock)."""
    assert app.state.participation.clock is clock
    return app


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@contextmanager
def participation_api(db_url: str, tenant: str, clock: FixedClock, **overrides: object) -> Iterator[TestClient]:
    """An app with tokens required, threshold 2, and rate limits the tests do not reach unless told."""
    values: dict[str, object] = {
        "ngsild_open": False,
        "participation_proposal_threshold": 2,
        "citizen_rate_limit_ip": "1000/minute",
        "citizen_rate_limit_account": "1000/minute",
    }
    settings = make_settings(db_url, tenant, **(values | overrides))
    with TestClient(with_participation(create_app(settings, clock=clock), clock)) as client:
        yield client


@pytest.fixture
def api(db_url: str, tenant: str, clock: FixedClock) -> Iterator[TestClient]:
    with participation_api(db_url, tenant, clock) as client:
        yield client


class People:
    """Signed-in headers of named people of one tenant (usernames are global: named after the tenant)."""

    def __init__(self, client: TestClient, tenant: str) -> None:
        self.client = client
        self.tenant = tenant
        self.public = {"NGSILD-Tenant": tenant}

    def name(self, who: str) -> str:
        return f"{who}-{self.tenant}"

    def citizen(self, who: str) -> dict[str, str]:
        return login_headers(self.client, self.tenant, "citizen", subject=self.name(who))

    def staff(self, who: str = "olga") -> dict[str, str]:
        return login_headers(self.client, self.tenant, "operator", subject=self.name(who))


@pytest.fixture
def people(api: TestClient, tenant: str) -> People:
    return People(api, tenant)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def propose(api: TestClient, people: People, author: str = "alice", **extra: Any) -> dict[str, Any]:
    body = {"title": "More benches", "body": "Along the river, please."} | extra
    return ok(api.post(f"{API}/proposals", json=body, headers=people.citizen(author)), 201)  # type: ignore[no-any-return]


# -- who may do what ---------------------------------------------------------------------------


def test_writes_need_the_right_role(api: TestClient, people: People) -> None:
    proposal = propose(api, people)
    pid = proposal["id"]
    viewer = login_headers(api, people.tenant, "viewer", subject=people.name("vic"))
    citizen = people.citizen("bob")
    anonymous = people.public
    resident_writes = [
        ("post", f"{API}/proposals", {"title": "t", "body": "b"}),
        ("post", f"{API}/proposals/{pid}/support", None),
        ("post", f"{API}/proposals/{pid}/flag", {"reason": "spam"}),
        ("post", f"{API}/proposals/{pid}/comments", {"body": "hi"}),
        ("post", f"{API}/budgets/x/ballot", {"heading": "n", "projects": []}),
        ("post", f"{API}/polls/x/vote", {"choices": [0]}),
    ]
    staff_writes = [
        ("post", f"{API}/proposals/{pid}/answer", {"status": "accepted", "reason": "ok"}),
        ("post", f"{API}/proposals/{pid}/moderate", {"state": "hidden", "reason": "no"}),
        ("get", f"{API}/moderation", None),
        ("post", f"{API}/budgets", {"title": "b", "headings": []}),
        ("post", f"{API}/budgets/x/phase", {"phase": "voting"}),
        ("post", f"{API}/budgets/x/projects", {"title": "p"}),
        ("put", f"{API}/budgets/x/projects/y", {"title": "p"}),
        ("post", f"{API}/polls", {"question": "q"}),
        ("post", f"{API}/polls/x/close", None),
    ]
    for method, url, body in resident_writes + staff_writes:
        assert_problem(api.request(method, url, json=body, headers=anonymous), 401)
        assert_problem(api.request(method, url, json=body, headers=viewer), 403)
    for method, url, body in staff_writes:
        assert_problem(api.request(method, url, json=body, headers=citizen), 403)
    # Operators run participation but do not take part as residents.
    for method, url, body in resident_writes:
        assert_problem(api.request(method, url, json=body, headers=people.staff()), 403)
    # Nothing happened: still no supports, no answer.
    shown = ok(api.get(f"{API}/proposals/{pid}", headers=anonymous))
    assert (shown["progress"]["supports"], shown["answer"]) == (0, None)


def test_reading_needs_no_login_and_bad_input_is_a_400(api: TestClient, people: People) -> None:
    for path in ("/proposals", "/budgets", "/polls"):
        assert ok(api.get(f"{API}{path}", headers=people.public)) == []
    assert_problem(api.get(f"{API}/proposals", params={"colour": "red"}, headers=people.public), 400)
    assert_problem(api.get(f"{API}/proposals", params={"state": "dreaming"}, headers=people.public), 400)
    assert_problem(api.get(f"{API}/proposals/nope", headers=people.public), 404)
    bob = people.citizen("bob")
    assert_problem(api.post(f"{API}/proposals", json={"title": "t"}, headers=bob), 400)
    assert_problem(api.post(f"{API}/proposals", json={"title": "t", "body": "b", "colour": 1}, headers=bob), 400)
    assert_problem(api.post(f"{API}/proposals", json=["t"], headers=bob), 400)
    assert_problem(api.post(f"{API}/proposals", json={"title": "t" * 151, "body": "b"}, headers=bob), 400)
    bad_place = {"title": "t", "body": "b", "location": {"lat": 100, "lon": 0}}
    assert_problem(api.post(f"{API}/proposals", json=bad_place, headers=bob), 400)


def test_residents_submissions_are_rate_limited(db_url: str, tenant: str, clock: FixedClock) -> None:
    with participation_api(db_url, tenant, clock, citizen_rate_limit_account="3/minute") as api:
        people = People(api, tenant)
        pid = propose(api, people)["id"]  # alice's first
        bob = people.citizen("bob")
        ok(api.post(f"{API}/proposals/{pid}/support", headers=bob))
        ok(api.delete(f"{API}/proposals/{pid}/support", headers=bob))
        ok(api.post(f"{API}/proposals/{pid}/support", headers=bob))
        refused = api.post(f"{API}/proposals/{pid}/comments", json={"body": "one more"}, headers=bob)
        assert_problem(refused, 429)
        assert int(refused.headers["Retry-After"]) >= 1
        # Others are counted on their own; reading is not a submission.
        ok(api.post(f"{API}/proposals/{pid}/comments", json={"body": "hi"}, headers=people.citizen("carol")), 201)
        assert ok(api.get(f"{API}/proposals/{pid}/comments", headers=people.public))[0]["body"] == "hi"


# -- proposals ---------------------------------------------------------------------------------


def test_a_proposal_qualifies_and_public_views_never_name_supporters(api: TestClient, people: People) -> None:
    proposal = propose(api, people, district="north", location={"lat": 48.2, "lon": 16.37})
    pid = proposal["id"]
    assert proposal["author"] == "a resident"
    assert people.name("alice") not in str(proposal)
    assert proposal["progress"] == {
        "supports": 0,
        "threshold": 2,
        "deadline": "2027-02-23T10:00:00+00:00",  # 90 days after 25 November
        "percent": 0.0,
        "missing": 2,
    }
    bob, carol = people.citizen("bob"), people.citizen("carol")
    supported = ok(api.post(f"{API}/proposals/{pid}/support", headers=bob))
    assert (supported["supportedByMe"], supported["progress"]["percent"]) == (True, 50.0)
    assert_problem(api.post(f"{API}/proposals/{pid}/support", headers=bob), 409)
    qualified = ok(api.post(f"{API}/proposals/{pid}/support", headers=carol))
    assert (qualified["state"], qualified["decidedAt"]) == ("qualified", "2026-11-25T10:00:00+00:00")
    ok(api.post(f"{API}/proposals/{pid}/comments", json={"body": "Good idea"}, headers=bob), 201)

    public = [
        api.get(f"{API}/proposals", headers=people.public),
        api.get(f"{API}/proposals", params={"order": "supports", "state": "qualified"}, headers=people.public),
        api.get(f"{API}/proposals/{pid}", headers=people.public),
        api.get(f"{API}/proposals/{pid}/comments", headers=people.public),
    ]
    for response in public:
        assert response.status_code == 200, response.text
        for who in ("alice", "bob", "carol"):
            assert people.name(who) not in response.text
    assert public[1].json()[0]["id"] == pid
    assert public[0].headers["X-Total-Count"] == "1"
    # Bob sees only that he supports it, and his own comment marked as his.
    own = ok(api.get(f"{API}/proposals/{pid}", headers=bob))
    assert own["supportedByMe"] and not own["mine"]
    assert people.name("bob") not in str(own)


def test_the_author_name_shows_only_when_chosen(api: TestClient, people: People) -> None:
    shown = propose(api, people, showName=True)
    assert shown["author"] == people.name("alice")
    listed = api.get(f"{API}/proposals", headers=people.public)
    assert people.name("alice") in listed.text


def test_withdraw_by_the_author_only(api: TestClient, people: People) -> None:
    pid = propose(api, people)["id"]
    assert_problem(api.post(f"{API}/proposals/{pid}/withdraw", headers=people.citizen("bob")), 403)
    withdrawn = ok(api.post(f"{API}/proposals/{pid}/withdraw", headers=people.citizen("alice")))
    assert withdrawn["state"] == "withdrawn"
    assert_problem(api.post(f"{API}/proposals/{pid}/withdraw", headers=people.citizen("alice")), 409)


def test_answers_show_who_answered_to_staff_only(api: TestClient, people: People) -> None:
    pid = propose(api, people)["id"]
    staff = people.staff()
    answer = {"status": "accepted", "reason": "In next year's plan", "cost": "25000"}
    answered = ok(api.post(f"{API}/proposals/{pid}/answer", json=answer, headers=staff))
    assert answered["staff"]["answeredBy"] == people.name("olga")
    assert answered["staff"]["author"] == people.name("alice")
    public = api.get(f"{API}/proposals/{pid}", headers=people.public)
    assert public.json()["answer"] == {
        "status": "accepted",
        "reason": "In next year's plan",
        "cost": "25000",
        "answeredAt": "2026-11-25T10:00:00+00:00",
    }
    assert people.name("olga") not in public.text
    assert "staff" not in public.json()
    assert_problem(
        api.post(f"{API}/proposals/{pid}/answer", json={"status": "maybe", "reason": "x"}, headers=staff), 400
    )
    assert_problem(api.post(f"{API}/proposals/{pid}/answer", json={"status": "accepted"}, headers=staff), 400)


def test_flags_hide_and_staff_moderate_with_a_reason(api: TestClient, people: People) -> None:
    pid = propose(api, people)["id"]
    for who in ("bob", "carol", "dave"):
        response = api.post(f"{API}/proposals/{pid}/flag", json={"reason": "spam"}, headers=people.citizen(who))
        assert response.status_code == 204, response.text
    assert_problem(api.get(f"{API}/proposals/{pid}", headers=people.public), 404)
    assert ok(api.get(f"{API}/proposals/{pid}", headers=people.citizen("alice")))["moderation"]["state"] == "hidden"
    staff = people.staff()
    queue = api.get(f"{API}/moderation", headers=staff)
    assert [(item["id"], item["flags"]) for item in ok(queue)] == [(pid, {"spam": 3})]
    assert queue.headers["X-Total-Count"] == "1"
    assert_problem(api.post(f"{API}/proposals/{pid}/moderate", json={"state": "hidden"}, headers=staff), 400)
    assert_problem(
        api.post(f"{API}/proposals/{pid}/moderate", json={"state": "unmoderated", "reason": "x"}, headers=staff), 400
    )
    restored = ok(
        api.post(f"{API}/proposals/{pid}/moderate", json={"state": "public", "reason": "fine"}, headers=staff)
    )
    assert restored["moderation"]["moderatedBy"] == people.name("olga")
    shown = api.get(f"{API}/proposals/{pid}", headers=people.public)
    assert shown.status_code == 200 and people.name("olga") not in shown.text
    trail = ok(
        api.get(
            "/api/v1/audit", params={"action": "proposal.moderate"}, headers=login_headers(api, people.tenant, "admin")
        )
    )
    assert [(e["actor"], e["detail"]) for e in trail] == [(people.name("olga"), {"state": "public", "reason": "fine"})]


def test_comments_are_flagged_and_moderated(api: TestClient, people: People) -> None:
    pid = propose(api, people)["id"]
    comment = ok(
        api.post(f"{API}/proposals/{pid}/comments", json={"body": "Nonsense"}, headers=people.citizen("bob")), 201
    )
    cid = comment["id"]
    for who in ("carol", "dave", "erin"):
        flagged = api.post(
            f"{API}/proposals/comments/{cid}/flag", json={"reason": "offensive"}, headers=people.citizen(who)
        )
        assert flagged.status_code == 204, flagged.text
    assert ok(api.get(f"{API}/proposals/{pid}/comments", headers=people.public)) == []
    hidden = ok(
        api.post(
            f"{API}/proposals/comments/{cid}/moderate",
            json={"state": "hidden", "reason": "insults"},
            headers=people.staff(),
        )
    )
    assert hidden["moderation"]["reason"] == "insults"
    assert_problem(
        api.post(f"{API}/proposals/comments/{cid}/flag", json={"reason": "spam"}, headers=people.citizen("fay")), 404
    )


# -- budgets -----------------------------------------------------------------------------------


def open_budget(api: TestClient, people: People) -> tuple[str, dict[str, str]]:
    """A budget in voting: north 1,000,000 (2 to 3 projects) with a 600k, b 500k, c 300k, d 100k."""
    staff = people.staff()
    budget = {
        "title": "Budget 2027",
        "description": "What should the districts build?",
        "headings": [
            {
                "id": "north",
                "name": "North",
                "amount": "1000000",
                "rule": {"kind": "project-range", "minimumProjects": 2, "maximumProjects": 3},
            }
        ],
    }
    created = ok(api.post(f"{API}/budgets", json=budget, headers=staff), 201)
    assert (created["phase"], created["currency"]) == ("drafting", "EUR")
    bid = created["id"]
    projects = {}
    for title, cost in (("a", 600_000), ("b", 500_000), ("c", 300_000), ("d", 100_000)):
        body = {"heading": "north", "title": title, "cost": cost}
        projects[title] = ok(api.post(f"{API}/budgets/{bid}/projects", json=body, headers=staff), 201)["id"]
    assert_problem(api.get(f"{API}/budgets/{bid}", headers=people.public), 404)  # drafts are staff's
    ok(api.post(f"{API}/budgets/{bid}/phase", json={"phase": "voting"}, headers=staff))
    return bid, projects


def test_a_ballot_is_checked_final_and_verifiable(api: TestClient, people: People) -> None:
    bid, p = open_budget(api, people)
    bob = people.citizen("bob")
    too_dear = api.post(
        f"{API}/budgets/{bid}/ballot", json={"heading": "north", "projects": [p["a"], p["b"]]}, headers=bob
    )
    body = assert_problem(too_dear, 400)
    assert body["detail"] == "the projects cost 1,100,000 but this district's budget is 1,000,000"
    too_few = api.post(f"{API}/budgets/{bid}/ballot", json={"heading": "north", "projects": [p["a"]]}, headers=bob)
    assert assert_problem(too_few, 400)["detail"] == "choose between 2 and 3 projects; 1 chosen"
    assert_problem(
        api.post(f"{API}/budgets/{bid}/ballot", json={"heading": "north", "projects": "a"}, headers=bob), 400
    )

    cast = ok(
        api.post(f"{API}/budgets/{bid}/ballot", json={"heading": "north", "projects": [p["a"], p["c"]]}, headers=bob),
        201,
    )
    assert cast["total"] == "900000"
    assert len(cast["fingerprint"]) == 64
    again = api.post(
        f"{API}/budgets/{bid}/ballot", json={"heading": "north", "projects": [p["c"], p["d"]]}, headers=bob
    )
    assert_problem(again, 409)
    mine = ok(api.get(f"{API}/budgets/{bid}/ballot", headers=bob))
    assert mine["fingerprint"] == cast["fingerprint"]
    assert_problem(api.get(f"{API}/budgets/{bid}/ballot", headers=people.citizen("carol")), 404)
    assert_problem(api.get(f"{API}/budgets/{bid}/ballot", headers=people.public), 401)

    receipt = ok(api.get(f"{API}/budgets/{bid}/receipts/{cast['fingerprint']}", headers=people.public))
    assert receipt == {"budgetId": bid, "fingerprint": cast["fingerprint"], "counted": True}
    unknown = ok(api.get(f"{API}/budgets/{bid}/receipts/{'f' * 64}", headers=people.public))
    assert unknown["counted"] is False
    assert_problem(api.get(f"{API}/budgets/{bid}/receipts/xyz", headers=people.public), 400)


def test_budget_progress_and_results_name_no_voter(api: TestClient, people: People) -> None:
    bid, p = open_budget(api, people)
    for who, chosen in (("bob", ["a", "c"]), ("carol", ["a", "d"]), ("dave", ["b", "c", "d"])):
        body = {"heading": "north", "projects": [p[name] for name in chosen]}
        ok(api.post(f"{API}/budgets/{bid}/ballot", json=body, headers=people.citizen(who)), 201)
    during = ok(api.get(f"{API}/budgets/{bid}", headers=people.public))
    assert (during["ballots"], during["headings"][0]["ballots"]) == (3, 3)
    assert all("votes" not in project for project in during["headings"][0]["projects"])
    assert_problem(api.get(f"{API}/budgets/{bid}/results", headers=people.public), 409)
    assert_problem(api.post(f"{API}/budgets/{bid}/phase", json={"phase": "informing"}, headers=people.staff()), 409)
    ok(api.post(f"{API}/budgets/{bid}/phase", json={"phase": "finished"}, headers=people.staff()))

    results = api.get(f"{API}/budgets/{bid}/results", headers=people.public)
    # Votes: a 2, c 2, d 2, b 1.  Ties go to the cheaper: d 100k, c 300k, a 600k -> 1,000,000 spent; b skipped.
    north = ok(results)["headings"][0]
    assert [(x["title"], x["votes"], x["selected"]) for x in north["projects"]] == [
        ("d", 2, True),
        ("c", 2, True),
        ("a", 2, True),
        ("b", 1, False),
    ]
    assert (north["spent"], north["remaining"]) == ("1000000", "0")
    public = [
        results,
        api.get(f"{API}/budgets", headers=people.public),
        api.get(f"{API}/budgets/{bid}", headers=people.public),
    ]
    for response in public:
        assert response.status_code == 200, response.text
        for who in ("bob", "carol", "dave"):
            assert people.name(who) not in response.text


# -- polls -------------------------------------------------------------------------------------


def test_polls_one_vote_each_and_results_per_visibility(api: TestClient, people: People, clock: FixedClock) -> None:
    staff = people.staff()
    poll = {
        "question": "Which park first?",
        "options": ["North", "South", "East"],
        "maxChoices": 2,
        "closesAt": "2026-12-01T00:00:00Z",
        "resultsVisibility": "after_close",
    }
    created = ok(api.post(f"{API}/polls", json=poll, headers=staff), 201)
    qid = created["id"]
    assert created["status"] == "open"
    bob, carol = people.citizen("bob"), people.citizen("carol")
    voted = ok(api.post(f"{API}/polls/{qid}/vote", json={"choices": [0, 2]}, headers=bob))
    assert (voted["votedByMe"], voted["myChoices"], voted["results"]) == (True, [0, 2], None)
    assert_problem(api.post(f"{API}/polls/{qid}/vote", json={"choices": [1]}, headers=bob), 409)
    assert_problem(api.post(f"{API}/polls/{qid}/vote", json={"choices": [0, 1, 2]}, headers=carol), 400)
    ok(api.post(f"{API}/polls/{qid}/vote", json={"choices": [2]}, headers=carol))
    assert_problem(api.get(f"{API}/polls/{qid}/results", headers=people.public), 409)
    clock.advance(hours=1)
    ok(api.post(f"{API}/polls/{qid}/close", headers=staff))
    assert_problem(api.post(f"{API}/polls/{qid}/close", headers=staff), 409)

    results = api.get(f"{API}/polls/{qid}/results", headers=people.public)
    # 2 voters: North 1 (50%), South 0, East 2 (100%).
    assert ok(results)["options"] == [
        {"index": 0, "text": "North", "votes": 1, "percent": 50.0},
        {"index": 1, "text": "South", "votes": 0, "percent": 0.0},
        {"index": 2, "text": "East", "votes": 2, "percent": 100.0},
    ]
    public = [
        results,
        api.get(f"{API}/polls", headers=people.public),
        api.get(f"{API}/polls/{qid}", headers=people.public),
    ]
    for response in public:
        assert response.status_code == 200, response.text
        for who in ("bob", "carol", "olga"):
            assert people.name(who) not in response.text
    assert ok(api.get(f"{API}/polls", params={"status": "closed"}, headers=people.public))[0]["id"] == qid
    bad = dict(poll, closesAt="2026-11-01T00:00:00Z")
    assert_problem(api.post(f"{API}/polls", json=bad, headers=staff), 400)
    assert_problem(api.post(f"{API}/polls", json=dict(poll, closesAt="tomorrow"), headers=staff), 400)


def test_bad_input_never_causes_a_server_error(api: TestClient, people: People) -> None:
    pid = propose(api, people)["id"]
    bid, projects = open_budget(api, people)
    qid = ok(
        api.post(
            f"{API}/polls",
            json={"question": "Q?", "options": ["a", "b"], "closesAt": "2027-01-01T00:00:00Z"},
            headers=people.staff(),
        ),
        201,
    )["id"]
    nasty_ids = ["a%00b", "x" * 300, "%E2%80%AE", "..", pid]
    nasty_bodies: list[Any] = [
        {},
        [],
        "text",
        7,
        None,
        {"title": "a\x00b", "body": "b"},
        {"reason": "a\x00b", "state": "hidden", "status": "accepted"},
        {"heading": "north\x00", "projects": ["a\x00"], "choices": [10**40], "cost": 10**40},
        {"title": "t", "heading": "north", "cost": "1e-999999999", "proposalId": "p\x00"},
        {"question": "q", "options": [1, 2], "closesAt": "2027-01-01T00:00:00", "maxChoices": 1.5},
        {
            "headings": [
                {
                    "id": "n",
                    "name": "N",
                    "amount": "1e999999",
                    "rule": {"kind": "minimum-percent", "minimumPercent": "1e-999999999"},
                }
            ]
        },
        {"body": {"nested": [1, 2]}, "showName": "yes", "location": {"lat": "48", "lon": None}},
    ]
    resident, staff = people.citizen("bob"), people.staff()
    routes = [
        ("post", "/proposals", resident),
        ("post", "/proposals/{p}/support", resident),
        ("delete", "/proposals/{p}/support", resident),
        ("post", "/proposals/{p}/withdraw", resident),
        ("post", "/proposals/{p}/flag", resident),
        ("post", "/proposals/{p}/comments", resident),
        ("post", "/proposals/comments/{p}/flag", resident),
        ("post", "/proposals/{p}/answer", staff),
        ("post", "/proposals/{p}/moderate", staff),
        ("post", "/proposals/comments/{p}/moderate", staff),
        ("post", "/budgets", staff),
        ("put", "/budgets/{b}", staff),
        ("post", "/budgets/{b}/phase", staff),
        ("post", "/budgets/{b}/projects", staff),
        ("put", "/budgets/{b}/projects/{p}", staff),
        ("post", "/budgets/{b}/ballot", resident),
        ("post", "/polls", staff),
        ("post", "/polls/{q}/vote", resident),
        ("post", "/polls/{q}/close", staff),
    ]
    reads = [
        "/proposals/{p}",
        "/proposals/{p}/comments",
        "/budgets/{b}",
        "/budgets/{b}/receipts/{p}",
        "/budgets/{b}/results",
        "/polls/{q}",
        "/polls/{q}/results",
        "/budgets/{b}/ballot",
    ]
    for nasty in nasty_ids:
        ids = {"p": nasty, "b": nasty, "q": nasty}
        for path in reads:
            response = api.get(API + path.format(**ids), headers=resident)
            assert response.status_code < 500, (path, nasty, response.text)
        for method, path, headers in routes:
            for body in nasty_bodies:
                real = {"p": projects["a"] if "projects/" in path else pid, "b": bid, "q": qid}
                for chosen in (ids, real):
                    response = api.request(method, API + path.format(**chosen), json=body, headers=headers)
                    assert response.status_code < 500, (method, path, chosen, body, response.text)
                    if response.status_code >= 400:
                        assert_problem(response, response.status_code)
    for query in ({"state": "a\x00"}, {"district": "n\x00"}, {"limit": "-1"}, {"order": "x"}, {"mine": "maybe"}):
        response = api.get(f"{API}/proposals", params=query, headers=resident)
        assert response.status_code == 400, (query, response.text)
