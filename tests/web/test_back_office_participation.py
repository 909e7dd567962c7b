"""The back office's participation side: one moderation queue, proposals answered, budgets run, polls made."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_back_office_pages import (
    BASE,
    NOW,
    audit_entries,
    login,
    make_office_app,
    post,
    reports_of,
    submit,
    token_of,
)

from urbis.citizens.moderation import FlagReason, Moderation
from urbis.citizens.participation.budgets import BudgetPhase
from urbis.citizens.participation.proposals import check_draft
from urbis.citizens.participation.service import ParticipationService
from urbis.citizens.participation.views import PUBLIC, Viewer
from urbis.core.clock import FixedClock
from urbis.core.errors import NotFound


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def office_app(db_url: str, tenant: str, clock: FixedClock) -> FastAPI:
    return make_office_app(db_url, tenant, clock)


@pytest.fixture
def client(office_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(office_app) as test_client:
        yield test_client


def participation_of(app: FastAPI) -> ParticipationService:
    service: ParticipationService = app.state.participation
    return service


def propose(app: FastAPI, tenant: str, title: str, author: str = "carla") -> str:
    draft = check_draft(title, f"{title}, please.")
    return participation_of(app).create_proposal(tenant, f"{author}-{tenant}", draft).proposal.id


def queue_rows(html: str) -> list[tuple[str, str]]:
    """(kind:id, flag count) of the moderation queue's rows."""
    rows = re.findall(r'data-item="([^"]+)" data-state="[a-z]+">.*?data-flags="(\d+)"', html, re.S)
    return [(item, count) for item, count in rows]


# -- the moderation queue ---------------------------------------------------------------------------


def test_one_queue_holds_reports_comments_proposals_and_their_flags(
    client: TestClient, office_app: FastAPI, tenant: str
) -> None:
    reports, participation = reports_of(office_app), participation_of(office_app)
    report_id = submit(office_app, tenant)
    untouched = submit(office_app, tenant)
    comment = reports.comment(tenant, untouched, "Call my neighbour on 0171 555", by=f"bob-{tenant}")
    proposal_id = propose(office_app, tenant, "More benches")
    proposal_comment = participation.add_comment(
        tenant, proposal_id, f"dan-{tenant}", "Rubbish idea, idiots", False
    ).comment
    # Three different people flag each: it is hidden until a moderator looks (flags_to_hide is 3).
    for n, reason in enumerate((FlagReason.SPAM, FlagReason.SPAM, FlagReason.OFFENSIVE)):
        reports.flag(tenant, "report", report_id, reason, flagger=f"ip:{n}")
        reports.flag(tenant, "report-comment", comment.id, FlagReason.PERSONAL_DATA, flagger=f"ip:{n}")
        participation.flag_proposal(tenant, proposal_id, f"flagger{n}-{tenant}", reason)
        participation.flag_comment(tenant, proposal_comment.id, f"flagger{n}-{tenant}", FlagReason.OFFENSIVE)
    login(client, tenant, "viewer")
    page = client.get(f"{BASE}/moderation")
    assert page.status_code == 200
    rows = dict(queue_rows(page.text))
    assert rows == {
        f"report:{report_id}": "3",
        f"report-comment:{comment.id}": "3",
        f"proposal:{proposal_id}": "3",
        f"proposal-comment:{proposal_comment.id}": "3",
    }
    assert 'data-action="hide"' not in page.text  # the viewer only looks
    twin = client.get(f"{BASE}/moderation.json")
    assert twin.headers["X-Total-Count"] == "4"
    by_item = {(e["kind"], e["id"]): e for e in twin.json()}
    assert by_item[("report", report_id)]["flags"] == {"spam": 2, "offensive": 1}
    assert by_item[("proposal", proposal_id)]["reason"] == "hidden automatically after 3 flags"
    export = list(csv.DictReader(io.StringIO(client.get(f"{BASE}/moderation.csv").text.lstrip("\ufeff"))))
    assert sorted(row["kind"] for row in export) == ["proposal", "proposal-comment", "report", "report-comment"]

    login(client, tenant, "operator")
    token = token_of(client, f"{BASE}/moderation")
    assert (
        post(client, f"{BASE}/moderation/proposal/{proposal_id}", {"state": "public"}, token=token).status_code == 303
    )
    assert participation.get_proposal(tenant, proposal_id, PUBLIC).proposal.id == proposal_id  # listed again
    (approved,) = audit_entries(office_app, tenant, "proposal.moderate")
    assert approved.actor == f"operator-{tenant}" and approved.detail == {"state": "public", "reason": None}

    response = post(client, f"{BASE}/moderation/report/{report_id}", {"state": "public"}, token=token)
    assert response.status_code == 303 and response.headers["location"] == f"{BASE}/moderation?done=moderated"
    assert reports.get(tenant, report_id).moderation is Moderation.PUBLIC
    hide = {"state": "hidden", "reason": "Names a private person"}
    assert post(client, f"{BASE}/moderation/report-comment/{comment.id}", hide, token=token).status_code == 303
    (hidden,) = audit_entries(office_app, tenant, "report-comment.moderate")
    assert hidden.detail["reason"] == "Names a private person"

    # Hiding needs a reason: the page says so and nothing changes.
    refused = post(
        client, f"{BASE}/moderation/proposal-comment/{proposal_comment.id}", {"state": "hidden"}, token=token
    )
    assert refused.status_code == 400 and "give a reason to hide it" in refused.text
    # The page shown at the refused post's address still sends its forms back to the queue.
    assert set(re.findall(r'name="next" value="([^"]+)"', refused.text)) == {f"{BASE}/moderation"}
    assert audit_entries(office_app, tenant, "proposal-comment.moderate") == []
    assert post(client, f"{BASE}/moderation/poll/{proposal_id}", {"state": "public"}, token=token).status_code == 404
    assert post(client, f"{BASE}/moderation/report/{report_id}", {"state": "maybe"}, token=token).status_code == 400
    assert (
        post(
            client, f"{BASE}/moderation/report/{report_id}", {"state": "hidden", "reason": "x"}, token=None
        ).status_code
        == 403
    )
    # What was approved leaves the queue; what is hidden stays.
    remaining = dict(queue_rows(client.get(f"{BASE}/moderation").text))
    assert set(remaining) == {f"report-comment:{comment.id}", f"proposal-comment:{proposal_comment.id}"}

    login(client, tenant, "viewer")
    viewer_token = token_of(client, f"{BASE}/moderation")
    assert (
        post(
            client, f"{BASE}/moderation/report/{report_id}", {"state": "hidden", "reason": "x"}, token=viewer_token
        ).status_code
        == 403
    )
    assert reports.get(tenant, report_id).moderation is Moderation.PUBLIC


# -- proposals ----------------------------------------------------------------------------------


def test_proposals_show_their_progress_and_get_a_public_answer(
    client: TestClient, office_app: FastAPI, tenant: str, clock: FixedClock
) -> None:
    participation = participation_of(office_app)
    benches = propose(office_app, tenant, "More benches")
    clock.advance(minutes=5)
    trees = propose(office_app, tenant, "Trees on the square")
    participation.support(tenant, trees, f"eve-{tenant}")
    participation.support(tenant, trees, f"fay-{tenant}")  # the threshold is 2: it qualifies
    login(client, tenant, "operator")
    page = client.get(f"{BASE}/proposals").text
    assert re.findall(r'data-proposal="([0-9a-f]+)" data-state="([a-z]+)"', page) == [
        (trees, "qualified"),  # newest first
        (benches, "collecting"),
    ]
    assert re.search(rf'id="proposal-{trees}".*?data-supports="2">2 of 2', page, re.S)
    qualified = client.get(f"{BASE}/proposals.json?state=qualified").json()
    assert [p["id"] for p in qualified] == [trees]
    assert qualified[0]["staff"]["author"] == f"carla-{tenant}"
    supported = client.get(f"{BASE}/proposals.json?order=supports").json()
    assert [p["id"] for p in supported] == [trees, benches]
    rows = list(csv.DictReader(io.StringIO(client.get(f"{BASE}/proposals.csv?state=qualified").text.lstrip("\ufeff"))))
    assert [(r["id"], r["supports"], r["threshold"]) for r in rows] == [(trees, "2", "2")]

    token = token_of(client, f"{BASE}/proposals")
    answer = {"status": "accepted", "reason": "Planted next spring.", "cost": "12500.50"}
    response = post(
        client, f"{BASE}/proposals/{trees}/answer", answer | {"next": f"{BASE}/proposals?state=qualified"}, token=token
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}/proposals?state=qualified&done=answered"
    public = participation.get_proposal(tenant, trees, PUBLIC).to_json()
    assert public["answer"] == {
        "status": "accepted",
        "reason": "Planted next spring.",
        "cost": "12500.50",
        "answeredAt": NOW + timedelta(minutes=5),  # the clock moved on after the first proposal
    }
    (entry,) = audit_entries(office_app, tenant, "proposal.answer")
    assert entry.actor == f"operator-{tenant}" and entry.detail["cost"] == "12500.50"
    assert 'data-answer="accepted"' in client.get(f"{BASE}/proposals").text

    refused = post(
        client,
        f"{BASE}/proposals/{benches}/answer",
        {"status": "rejected", "reason": "No room.", "cost": "10"},
        token=token,
    )
    assert refused.status_code == 400 and "a rejected proposal has no cost" in refused.text
    assert participation.get_proposal(tenant, benches, PUBLIC).to_json()["answer"] is None
    assert (
        post(client, f"{BASE}/proposals/{benches}/answer", {"status": "maybe", "reason": "x"}, token=token).status_code
        == 400
    )

    hide = {"state": "hidden", "reason": "Duplicate of another proposal"}
    assert post(client, f"{BASE}/proposals/{benches}/moderate", hide, token=token).status_code == 303
    staff = Viewer(f"operator-{tenant}", staff=True)
    assert participation.get_proposal(tenant, benches, staff).proposal.moderation.state is Moderation.HIDDEN
    with pytest.raises(NotFound):
        participation.get_proposal(tenant, benches, PUBLIC)

    login(client, tenant, "viewer")
    viewer_token = token_of(client, f"{BASE}/proposals")
    assert post(client, f"{BASE}/proposals/{benches}/answer", answer, token=viewer_token).status_code == 403
    assert (
        post(client, f"{BASE}/proposals/{benches}/moderate", {"state": "public"}, token=viewer_token).status_code == 403
    )


# -- participatory budgets ---------------------------------------------------------------------------

BUDGET_FORM = {
    "title": "Budget 2027",
    "description": "Residents choose what their district gets.",
    "currency": "EUR",
    "rows": "3",
    "h-0-id": "north",
    "h-0-name": "Nordstadt",
    "h-0-amount": "100000",
    "h-0-rule": "project-range",
    "h-0-min": "1",
    "h-0-max": "2",
    "h-1-id": "south",
    "h-1-name": "Südstadt",
    "h-1-amount": "50000",
    "h-1-rule": "minimum-percent",
    "h-1-percent": "50",
    # The third row stays empty and is left out.
}


def test_a_budget_runs_from_drafting_to_its_results(client: TestClient, office_app: FastAPI, tenant: str) -> None:
    participation = participation_of(office_app)
    login(client, tenant, "operator")
    token = token_of(client, f"{BASE}/budgets")
    response = post(client, f"{BASE}/budgets", BUDGET_FORM, token=token)
    assert response.status_code == 303, response.text
    match = re.fullmatch(rf"{BASE}/budgets/([0-9a-f]+)\?done=budget-created", response.headers["location"])
    assert match is not None
    budget_id = match.group(1)
    staff = Viewer(f"operator-{tenant}", staff=True)
    budget = participation.get_budget(tenant, budget_id, staff).budget
    assert budget.phase is BudgetPhase.DRAFTING and budget.title == "Budget 2027"
    assert [(h.id, h.name, h.amount, h.rule.to_json()) for h in budget.headings] == [
        ("north", "Nordstadt", Decimal(100000), {"kind": "project-range", "minimumProjects": 1, "maximumProjects": 2}),
        ("south", "Südstadt", Decimal(50000), {"kind": "minimum-percent", "minimumPercent": "50"}),
    ]
    page = f"{BASE}/budgets/{budget_id}"
    assert budget_id in client.get(f"{BASE}/budgets").text

    projects = {}
    for heading, title, cost in (
        ("north", "Playground", "60000"),
        ("north", "Bike racks", "30000"),
        ("north", "Trees", "50000"),
        ("south", "Benches", "30000"),
    ):
        added = post(client, f"{page}/projects", {"heading": heading, "title": title, "cost": cost}, token=token)
        assert added.status_code == 303, added.text
    for project in participation.get_budget(tenant, budget_id, staff).projects:
        projects[project.title] = project.id
    edit = {"heading": "north", "title": "Trees", "cost": "45000", "description": "Ten lindens"}
    assert post(client, f"{page}/projects/{projects['Trees']}", edit, token=token).status_code == 303
    too_dear = post(client, f"{page}/projects", {"heading": "south", "title": "Pool", "cost": "200000"}, token=token)
    assert too_dear.status_code == 400 and "this district&#39;s budget is 50,000" in too_dear.text
    assert len(participation.get_budget(tenant, budget_id, staff).projects) == 4

    # Moving on asks first; without the confirmation nothing moves.
    confirm = client.get(f"{page}/phase?to=voting")
    assert confirm.status_code == 200 and 'name="confirm" value="yes"' in confirm.text
    unconfirmed = post(client, f"{page}/phase", {"phase": "voting"}, token=token)
    assert unconfirmed.status_code == 400
    assert participation.get_budget(tenant, budget_id, staff).budget.phase is BudgetPhase.DRAFTING
    assert post(client, f"{page}/phase", {"phase": "voting", "confirm": "yes"}, token=token).status_code == 303
    assert participation.get_budget(tenant, budget_id, staff).budget.phase is BudgetPhase.VOTING
    late = post(client, f"{page}/projects", {"heading": "north", "title": "Late", "cost": "10"}, token=token)
    assert late.status_code == 409
    backwards = post(client, f"{page}/phase", {"phase": "informing", "confirm": "yes"}, token=token)
    assert backwards.status_code == 409 and "only moves forward" in backwards.text

    ballots = [
        ("v1", "north", ["Playground", "Bike racks"]),
        ("v2", "north", ["Playground"]),
        ("v3", "north", ["Trees", "Bike racks"]),
        ("v4", "south", ["Benches"]),
    ]
    for voter, heading, titles in ballots:
        participation.cast_ballot(tenant, budget_id, f"{voter}-{tenant}", heading, [projects[t] for t in titles])
    assert 'data-turnout="4"' in client.get(page).text
    assert post(client, f"{page}/phase", {"phase": "finished", "confirm": "yes"}, token=token).status_code == 303

    # North: Playground and Bike racks have 2 votes each; the cheaper ranks first. 100,000 funds
    # Bike racks (30,000) and Playground (60,000); Trees (45,000) no longer fits.
    finished = client.get(page).text
    north = re.search(r'<table data-results="north">.*?</table>', finished, re.S)
    assert north is not None
    lines = re.findall(
        r'data-result="([0-9a-f]+)" data-rank="(\d)" data-votes="(\d)" data-selected="(true|false)"', north.group(0)
    )
    assert lines == [
        (projects["Bike racks"], "1", "2", "true"),
        (projects["Playground"], "2", "2", "true"),
        (projects["Trees"], "3", "1", "false"),
    ]
    south = re.search(r'<table data-results="south">.*?</table>', finished, re.S)
    assert (
        south is not None
        and f'data-result="{projects["Benches"]}" data-rank="1" data-votes="1" data-selected="true"' in south.group(0)
    )
    results = client.get(f"{page}.json").json()["results"]
    assert [(h["id"], h["ballots"], h["spent"], h["remaining"]) for h in results["headings"]] == [
        ("north", 3, "90000", "10000"),
        ("south", 1, "30000", "20000"),
    ]
    assert [e.detail for e in reversed(audit_entries(office_app, tenant, "budget.phase"))] == [
        {"from": "drafting", "to": "voting"},
        {"from": "voting", "to": "finished"},
    ]


def test_a_budget_form_with_problems_comes_back_as_typed(client: TestClient, office_app: FastAPI, tenant: str) -> None:
    login(client, tenant, "operator")
    token = token_of(client, f"{BASE}/budgets")
    bad = BUDGET_FORM | {"h-0-max": "", "h-1-amount": "lots"}
    response = post(client, f"{BASE}/budgets", bad, token=token)
    assert response.status_code == 400
    assert "district &#39;north&#39;: the most projects must be a whole number" in response.text
    assert 'value="Budget 2027"' in response.text and 'value="Südstadt"' in response.text
    assert participation_of(office_app).list_budgets(tenant, Viewer("x", staff=True))[1] == 0
    login(client, tenant, "viewer")
    assert post(client, f"{BASE}/budgets", BUDGET_FORM, token=token_of(client, f"{BASE}/budgets")).status_code == 403
    assert participation_of(office_app).list_budgets(tenant, Viewer("x", staff=True))[1] == 0


# -- polls ---------------------------------------------------------------------------------------


def test_a_poll_is_made_counted_and_closed(client: TestClient, office_app: FastAPI, tenant: str) -> None:
    participation = participation_of(office_app)
    login(client, tenant, "operator")
    token = token_of(client, f"{BASE}/polls")
    form: dict[str, Any] = {
        "question": "Which day for the market?",
        "options": "Saturday\nSunday\n\nWednesday\n",
        "max_choices": "2",
        "opens_at": "",
        "closes_at": "2026-12-01T18:00",
        "visibility": "after_close",
    }
    response = post(client, f"{BASE}/polls", form, token=token)
    assert response.status_code == 303, response.text
    match = re.fullmatch(rf"{BASE}/polls/([0-9a-f]+)\?done=poll-created", response.headers["location"])
    assert match is not None
    poll_id = match.group(1)
    staff = Viewer(f"operator-{tenant}", staff=True)
    poll = participation.get_poll(tenant, poll_id, staff).poll
    assert poll.options == ("Saturday", "Sunday", "Wednesday") and poll.max_choices == 2
    assert poll.opens_at == NOW and poll.closes_at == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 18:00 in Berlin
    assert poll.created_by == f"operator-{tenant}"

    for voter, choices in (("v1", [0, 1]), ("v2", [0]), ("v3", [2])):
        participation.vote(tenant, poll_id, f"{voter}-{tenant}", choices)
    page = client.get(f"{BASE}/polls/{poll_id}").text
    assert re.findall(r'data-option="(\d)" data-votes="(\d)"', page) == [("0", "2"), ("1", "1"), ("2", "1")]
    assert "66.7%" in page  # 2 of 3 voters chose Saturday
    (listed,) = client.get(f"{BASE}/polls.json").json()
    assert listed["id"] == poll_id and listed["status"] == "open" and listed["voters"] == 3

    assert post(client, f"{BASE}/polls/{poll_id}/close", {}, token=token).status_code == 303
    assert participation.get_poll(tenant, poll_id, PUBLIC).to_json()["status"] == "closed"
    again = post(client, f"{BASE}/polls/{poll_id}/close", {}, token=token)
    assert again.status_code == 409 and "already closed" in again.text
    rows = list(csv.DictReader(io.StringIO(client.get(f"{BASE}/polls.csv").text.lstrip("\ufeff"))))
    assert [(r["id"], r["status"], r["voters"]) for r in rows] == [(poll_id, "closed", "3")]

    one_option = post(client, f"{BASE}/polls", form | {"options": "Saturday"}, token=token)
    assert one_option.status_code == 400 and "&#39;options&#39; is a list of 2 to 20 texts" in one_option.text
    assert 'value="Which day for the market?"' in one_option.text
    past = post(client, f"{BASE}/polls", form | {"closes_at": "2026-11-01T10:00"}, token=token)
    assert past.status_code == 400
    assert participation.list_polls(tenant, staff)[1] == 1

    login(client, tenant, "viewer")
    viewer_token = token_of(client, f"{BASE}/polls")
    assert post(client, f"{BASE}/polls", form, token=viewer_token).status_code == 403
    assert participation.list_polls(tenant, staff)[1] == 1
