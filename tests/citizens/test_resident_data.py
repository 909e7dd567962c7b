"""A resident's own data across every store: downloaded whole, and erased so that nothing names them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from urbis.citizens.participation import store as participation_store
from urbis.citizens.participation.budgets import BudgetPhase, check_budget
from urbis.citizens.participation.polls import ResultsVisibility
from urbis.citizens.participation.proposals import check_draft
from urbis.citizens.participation.views import PUBLIC
from urbis.citizens.service import Submission
from urbis.core.errors import Conflict


def everything_of(app: FastAPI, tenant: str, person: str) -> dict[str, object]:
    """A resident who reported, followed, proposed, commented, supported, cast a ballot and voted."""
    reports = app.state.citizen_reports
    participation = app.state.participation
    report = reports.submit(
        tenant,
        Submission(service_code="litter", description="bags", lat=50.73, long=7.1, account=person, trusted=True),
    ).report
    app.state.notifier.follow(tenant, person, "category", target="litter")
    own = participation.create_proposal(tenant, person, check_draft("Shade trees", "Plant trees."))
    other = participation.create_proposal(tenant, f"other-{tenant}", check_draft("Benches", "More benches."))
    participation.add_comment(tenant, other.proposal.id, person, "Yes, near the school", False)
    participation.support(tenant, other.proposal.id, person)
    budget = participation.create_budget(
        tenant,
        check_budget(
            "Budget",
            "",
            "EUR",
            [{"id": "n", "name": "North", "amount": "100", "rule": {"kind": "minimum-projects", "minimumProjects": 1}}],
        ),
        by="staff",
    )
    project = participation.add_project(
        tenant, budget.budget.id, heading_id="n", title="Bench", description="", cost="50", by="staff"
    )
    participation.change_phase(tenant, budget.budget.id, BudgetPhase.VOTING, by="staff")
    ballot = participation.cast_ballot(tenant, budget.budget.id, person, "n", [project.id])
    poll = participation.create_poll(
        tenant,
        "Lights?",
        ["Yes", "No"],
        max_choices=1,
        opens_at=None,
        closes_at=datetime.now(UTC) + timedelta(days=1),
        visibility=ResultsVisibility.LIVE,
        by="staff",
    )
    participation.vote(tenant, poll.poll.id, person, [1])
    return {
        "report": report.id,
        "own": own.proposal.id,
        "other": other.proposal.id,
        "budget": budget.budget.id,
        "project": project.id,
        "receipt": ballot.ballot.fingerprint,
        "poll": poll.poll.id,
    }


def test_the_download_holds_everything_and_the_erasure_leaves_no_trace(app: FastAPI, tenant: str) -> None:
    person = f"dana-{tenant}"
    app.state.accounts.create_user(
        person, "a-long-enough-password-1", tenant=tenant, roles=["citizen"], email="d@example.org"
    )
    ids = everything_of(app, tenant, person)
    data = app.state.resident_data.export(tenant, person)
    assert data["account"]["email"] == "d@example.org"
    assert [r["report"] for r in data["reports"]] == [ids["report"]]
    mine = data["participation"]
    assert [p["id"] for p in mine["proposals"]] == [ids["own"]]
    assert [c["proposal"] for c in mine["comments"]] == [ids["other"]]
    assert [s["proposal"] for s in mine["supports"]] == [ids["other"]]
    assert [b["receipt"] for b in mine["ballots"]] == [ids["receipt"]]
    assert [v["poll"] for v in mine["pollVotes"]] == [ids["poll"]]
    # The category they chose to follow, and their own report (followed for them).
    assert sorted(f["target"] for f in data["follows"]) == sorted(["litter", ids["report"]])
    orjson.dumps(data)  # JSON-ready

    app.state.resident_data.erase(tenant, person)
    after = app.state.resident_data.export(tenant, person)
    assert after["reports"] == [] and after["follows"] == []
    assert all(rows == [] for rows in after["participation"].values())
    # No participation table names them any more ...
    with app.state.db.read() as conn:
        for table in (
            participation_store.proposals,
            participation_store.comments,
            participation_store.supports,
            participation_store.ballots,
            participation_store.poll_votes,
            participation_store.poll_choices,
        ):
            text = " ".join(str(tuple(row)) for row in conn.execute(select(table)))
            assert person not in text, table.name
    # ... but what they did still counts, and they still count once.
    participation = app.state.participation
    assert participation.get_proposal(tenant, ids["other"], PUBLIC).proposal.supports == 1
    with pytest.raises(Conflict):
        participation.support(tenant, ids["other"], person)
    with pytest.raises(Conflict):
        participation.cast_ballot(tenant, ids["budget"], person, "n", [ids["project"]])
    with pytest.raises(Conflict):
        participation.vote(tenant, ids["poll"], person, [0])
    assert participation.verify_receipt(tenant, ids["budget"], ids["receipt"]).to_json()["counted"] is True
    # The report stays, about the city, without its sender.
    assert app.state.citizen_reports.get(tenant, ids["report"]).public
    assert app.state.citizen_reports.contact(tenant, ids["report"]) is None
