"""The participation service on SQLite and PostgreSQL: one person one vote, thresholds, flags, audit, budgets, polls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from conftest import make_settings
from urbis.citizens.moderation import FlagReason, Moderation
from urbis.citizens.participation.budgets import BudgetPhase, check_budget
from urbis.citizens.participation.model import BudgetPhaseChanged, ProposalAnswered, ProposalStateChanged
from urbis.citizens.participation.polls import ResultsVisibility
from urbis.citizens.participation.proposals import AnswerStatus, ProposalOrder, ProposalState, check_draft
from urbis.citizens.participation.service import ParticipationService
from urbis.citizens.participation.views import PUBLIC, Viewer
from urbis.core import audit
from urbis.core.bus import EventBus
from urbis.core.clock import FixedClock
from urbis.core.db import Database, metadata
from urbis.core.errors import BadRequestData, Conflict, NotFound, PolicyDenied

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class City:
    """A service on one backend with a fixed clock, the events it published, and named people."""

    def __init__(self, database: Database, db_url: str, tenant: str, **settings: object) -> None:
        self.tenant = tenant
        self.clock = FixedClock(NOW)
        self.bus = EventBus()
        self.events: list[Any] = []
        for kind in (ProposalStateChanged, ProposalAnswered, BudgetPhaseChanged):
            self.bus.subscribe(kind, self.events.append)
        values: dict[str, object] = {
            "participation_proposal_threshold": 3,
            "participation_proposal_days": 30,
            "citizen_flags_to_hide": 3,
        }
        values.update(settings)
        self.service = ParticipationService(
            database, make_settings(db_url, tenant, **values), clock=self.clock, bus=self.bus
        )
        self.db = database

    def person(self, name: str) -> str:
        """A username unique to this tenant (usernames are global)."""
        return f"{name}-{self.tenant}"

    def audit_actions(self) -> list[tuple[str, str, str]]:
        """(action, actor, target) of the tenant's audit trail, oldest first."""
        with self.db.read() as conn:
            entries, _ = audit.read(conn, self.tenant, audit.AuditFilter(limit=1000))
        return [(e.action, e.actor, e.target) for e in reversed(entries)]


@pytest.fixture
def city(database: Database, db_url: str, tenant: str) -> City:
    return City(database, db_url, tenant)


def _propose(city: City, author: str = "alice", **draft: Any) -> str:
    values: dict[str, Any] = {"title": "More benches", "body": "Along the river."} | draft
    view = city.service.create_proposal(
        city.tenant, city.person(author), check_draft(values.pop("title"), values.pop("body"), **values)
    )
    return view.proposal.id


def test_migrations_create_the_participation_tables_as_declared(db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_object": lambda obj, _name, kind, _reflected, _other: (
                        obj.name if kind == "table" else obj.table.name
                    ).startswith("participation_"),
                },
            )
            differences = list(compare_metadata(context, metadata))
    finally:
        db.dispose()
    assert differences == []
    assert "participation_ballots" in metadata.tables


# -- proposals ---------------------------------------------------------------------------------


def test_a_proposal_is_stored_with_its_threshold_and_deadline(city: City) -> None:
    proposal_id = _propose(city, district="north")
    view = city.service.get_proposal(city.tenant, proposal_id, PUBLIC)
    assert view.proposal.threshold == 3
    assert view.proposal.deadline == NOW + timedelta(days=30)
    assert view.proposal.district == "north"
    assert view.state is ProposalState.COLLECTING
    assert view.to_json()["author"] == "a resident"
    with pytest.raises(NotFound):
        city.service.get_proposal(f"{city.tenant}x", proposal_id, PUBLIC)


def test_one_person_supports_once(city: City) -> None:
    proposal_id = _propose(city)
    bob = city.person("bob")
    assert city.service.support(city.tenant, proposal_id, bob).proposal.supports == 1
    with pytest.raises(Conflict, match="already support"):
        city.service.support(city.tenant, proposal_id, bob)
    assert city.service.get_proposal(city.tenant, proposal_id, PUBLIC).proposal.supports == 1
    assert city.service.get_proposal(city.tenant, proposal_id, Viewer(bob)).supported
    assert not city.service.get_proposal(city.tenant, proposal_id, Viewer(city.person("carol"))).supported


def test_a_second_support_racing_the_first_still_counts_once(city: City) -> None:
    proposal_id = _propose(city)
    bob = city.person("bob")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def attempt() -> None:
        barrier.wait()
        try:
            city.service.support(city.tenant, proposal_id, bob)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert city.service.get_proposal(city.tenant, proposal_id, PUBLIC).proposal.supports == 1


def test_the_threshold_qualifies_the_proposal_at_that_moment(city: City) -> None:
    proposal_id = _propose(city)
    city.service.support(city.tenant, proposal_id, city.person("bob"))
    city.clock.advance(hours=1)
    city.service.support(city.tenant, proposal_id, city.person("carol"))
    assert city.events == []
    city.clock.advance(hours=1)
    view = city.service.support(city.tenant, proposal_id, city.person("dave"))
    assert view.state is ProposalState.QUALIFIED
    assert view.decided_at == NOW + timedelta(hours=2)
    assert city.events == [ProposalStateChanged(city.tenant, proposal_id, "qualified")]
    with pytest.raises(Conflict, match="already reached its threshold"):
        city.service.support(city.tenant, proposal_id, city.person("erin"))
    with pytest.raises(Conflict):
        city.service.unsupport(city.tenant, proposal_id, city.person("bob"))
    stored = city.service.get_proposal(city.tenant, proposal_id, PUBLIC)
    assert (stored.state, stored.proposal.supports, stored.decided_at) == (
        ProposalState.QUALIFIED,
        3,
        NOW + timedelta(hours=2),
    )


def test_a_support_can_be_taken_back_while_collecting(city: City) -> None:
    proposal_id = _propose(city)
    bob = city.person("bob")
    city.service.support(city.tenant, proposal_id, bob)
    assert city.service.unsupport(city.tenant, proposal_id, bob).proposal.supports == 0
    with pytest.raises(Conflict, match="do not support"):
        city.service.unsupport(city.tenant, proposal_id, bob)


def test_the_deadline_expires_a_proposal_on_read_and_by_the_periodic_job(city: City) -> None:
    proposal_id = _propose(city)
    other_id = _propose(city)
    city.service.support(city.tenant, proposal_id, city.person("bob"))
    city.clock.advance(days=30)
    view = city.service.get_proposal(city.tenant, proposal_id, PUBLIC)
    assert view.state is ProposalState.EXPIRED
    assert view.decided_at == NOW + timedelta(days=30)
    with pytest.raises(Conflict, match="deadline has passed"):
        city.service.support(city.tenant, proposal_id, city.person("carol"))
    expired, _ = city.service.list_proposals(city.tenant, PUBLIC, state=ProposalState.EXPIRED)
    assert {v.proposal.id for v in expired} == {proposal_id, other_id}
    collecting, total = city.service.list_proposals(city.tenant, PUBLIC, state=ProposalState.COLLECTING)
    assert (collecting, total) == ([], 0)

    assert city.service.close_expired(tenant=city.tenant) == 2
    assert city.service.close_expired(tenant=city.tenant) == 0
    assert sorted(city.events, key=lambda e: e.proposal_id) == sorted(
        [ProposalStateChanged(city.tenant, pid, "expired") for pid in (proposal_id, other_id)],
        key=lambda e: e.proposal_id,
    )
    stored = city.service.get_proposal(city.tenant, proposal_id, PUBLIC)
    assert stored.proposal.state is ProposalState.EXPIRED
    assert stored.proposal.decided_at == NOW + timedelta(days=30)


def test_lists_filter_sort_and_page(city: City) -> None:
    a = _propose(city, district="north")
    city.clock.advance(minutes=1)
    b = _propose(city, district="south")
    city.clock.advance(minutes=1)
    c = _propose(city, district="north")
    city.service.support(city.tenant, a, city.person("bob"))
    city.service.support(city.tenant, a, city.person("carol"))
    city.service.support(city.tenant, b, city.person("bob"))
    newest, total = city.service.list_proposals(city.tenant, PUBLIC)
    assert ([v.proposal.id for v in newest], total) == ([c, b, a], 3)
    by_supports, _ = city.service.list_proposals(city.tenant, PUBLIC, order=ProposalOrder.SUPPORTS)
    assert [v.proposal.id for v in by_supports] == [a, b, c]
    north, total = city.service.list_proposals(city.tenant, PUBLIC, district="north")
    assert ([v.proposal.id for v in north], total) == ([c, a], 2)
    page, total = city.service.list_proposals(city.tenant, PUBLIC, limit=1, offset=1)
    assert ([v.proposal.id for v in page], total) == ([b], 3)
    mine, _ = city.service.list_proposals(city.tenant, Viewer(city.person("bob")), order=ProposalOrder.SUPPORTS)
    assert [v.supported for v in mine] == [True, True, False]


def test_only_the_author_withdraws(city: City) -> None:
    proposal_id = _propose(city)
    with pytest.raises(PolicyDenied):
        city.service.withdraw(city.tenant, proposal_id, city.person("bob"))
    view = city.service.withdraw(city.tenant, proposal_id, city.person("alice"))
    assert view.state is ProposalState.WITHDRAWN
    assert city.events == [ProposalStateChanged(city.tenant, proposal_id, "withdrawn")]
    with pytest.raises(Conflict):
        city.service.support(city.tenant, proposal_id, city.person("bob"))


def test_an_official_answer_is_published_and_audited(city: City) -> None:
    proposal_id = _propose(city)
    olga = city.person("olga")
    city.service.answer(city.tenant, proposal_id, AnswerStatus.ACCEPTED, "In next year's plan", "12000.50", by=olga)
    public = city.service.get_proposal(city.tenant, proposal_id, PUBLIC).to_json()
    assert public["answer"]["status"] == "accepted"
    assert public["answer"]["reason"] == "In next year's plan"
    assert public["answer"]["cost"] == "12000.50"
    assert "staff" not in public
    assert olga not in str(public)
    staff = city.service.get_proposal(city.tenant, proposal_id, Viewer(olga, staff=True)).to_json()
    assert staff["staff"]["answeredBy"] == olga
    assert city.events == [ProposalAnswered(city.tenant, proposal_id, "accepted")]
    assert city.audit_actions() == [("proposal.answer", olga, f"proposal:{proposal_id}")]
    with pytest.raises(BadRequestData, match="reason"):
        city.service.answer(city.tenant, proposal_id, AnswerStatus.REJECTED, " ", None, by=olga)


def test_three_different_flaggers_hide_a_proposal(city: City) -> None:
    proposal_id = _propose(city)
    bob, carol, dave = (city.person(n) for n in ("bob", "carol", "dave"))
    city.service.flag_proposal(city.tenant, proposal_id, bob, FlagReason.SPAM)
    city.service.flag_proposal(city.tenant, proposal_id, bob, FlagReason.SPAM)  # counts once
    city.service.flag_proposal(city.tenant, proposal_id, carol, FlagReason.SPAM)
    assert city.service.list_proposals(city.tenant, PUBLIC)[1] == 1
    city.service.flag_proposal(city.tenant, proposal_id, dave, FlagReason.OFFENSIVE)

    assert city.service.list_proposals(city.tenant, PUBLIC) == ([], 0)
    with pytest.raises(NotFound):
        city.service.get_proposal(city.tenant, proposal_id, Viewer(bob))
    own = city.service.get_proposal(city.tenant, proposal_id, Viewer(city.person("alice"))).to_json()
    assert own["moderation"] == {"state": "hidden", "reason": "hidden automatically after 3 flags"}
    assert city.service.list_proposals(city.tenant, Viewer(city.person("alice")))[1] == 1

    queue, total = city.service.moderation_queue(city.tenant)
    assert total == 1
    assert queue[0].to_json()["flags"] == {"spam": 2, "offensive": 1}

    olga = city.person("olga")
    city.service.moderate_proposal(city.tenant, proposal_id, Moderation.PUBLIC, "not spam", by=olga)
    assert city.service.list_proposals(city.tenant, PUBLIC)[1] == 1
    assert city.service.moderation_queue(city.tenant)[1] == 0
    assert city.audit_actions() == [("proposal.moderate", olga, f"proposal:{proposal_id}")]
    # The judged flags are forgotten: one new flag does not hide it again.
    city.service.flag_proposal(city.tenant, proposal_id, bob, FlagReason.SPAM)
    assert city.service.list_proposals(city.tenant, PUBLIC)[1] == 1


def test_staff_hide_only_with_a_reason(city: City) -> None:
    proposal_id = _propose(city)
    olga = city.person("olga")
    with pytest.raises(BadRequestData, match="reason is required"):
        city.service.moderate_proposal(city.tenant, proposal_id, Moderation.HIDDEN, None, by=olga)
    view = city.service.moderate_proposal(city.tenant, proposal_id, Moderation.HIDDEN, "personal data", by=olga)
    assert view.to_json()["moderation"] == {
        "state": "hidden",
        "reason": "personal data",
        "moderatedBy": olga,
        "moderatedAt": NOW,
    }
    assert city.service.list_proposals(city.tenant, PUBLIC)[1] == 0


def test_unmoderated_proposals_wait_for_staff(database: Database, db_url: str, tenant: str) -> None:
    city = City(database, db_url, tenant, citizen_moderation_default="unmoderated")
    proposal_id = _propose(city)
    assert city.service.list_proposals(city.tenant, PUBLIC)[1] == 0
    assert city.service.list_proposals(city.tenant, Viewer(city.person("olga"), staff=True))[1] == 1
    queue, _ = city.service.moderation_queue(city.tenant)
    assert [item.item.id for item in queue] == [proposal_id]
    city.service.moderate_proposal(city.tenant, proposal_id, Moderation.PUBLIC, None, by=city.person("olga"))
    assert city.service.list_proposals(city.tenant, PUBLIC)[1] == 1


def test_comments_are_moderated_like_proposals(city: City) -> None:
    proposal_id = _propose(city)
    comment = city.service.add_comment(city.tenant, proposal_id, city.person("bob"), "Yes please", False)
    assert comment.to_json()["author"] == "a resident"
    shown, total = city.service.list_comments(city.tenant, proposal_id, PUBLIC)
    assert ([c.comment.body for c in shown], total) == (["Yes please"], 1)
    with pytest.raises(BadRequestData, match="at most 1000"):
        city.service.add_comment(city.tenant, proposal_id, city.person("bob"), "x" * 1001, False)
    for name in ("carol", "dave", "erin"):
        city.service.flag_comment(city.tenant, comment.comment.id, city.person(name), FlagReason.OFFENSIVE)
    assert city.service.list_comments(city.tenant, proposal_id, PUBLIC) == ([], 0)
    assert city.service.list_comments(city.tenant, proposal_id, Viewer(city.person("bob")))[1] == 1
    queue, _ = city.service.moderation_queue(city.tenant)
    assert [(q.to_json()["kind"], q.to_json()["flags"]) for q in queue] == [("proposal-comment", {"offensive": 3})]
    olga = city.person("olga")
    city.service.moderate_comment(city.tenant, comment.comment.id, Moderation.PUBLIC, "fair criticism", by=olga)
    assert city.service.list_comments(city.tenant, proposal_id, PUBLIC)[1] == 1
    assert city.audit_actions() == [("proposal-comment.moderate", olga, f"proposal-comment:{comment.comment.id}")]


# -- budgets -----------------------------------------------------------------------------------


def _budget(city: City, rule: dict[str, Any] | None = None) -> str:
    draft = check_budget(
        "Budget 2027",
        "Choose what the districts build.",
        "EUR",
        [
            {
                "id": "north",
                "name": "North",
                "amount": "1000000",
                "rule": rule or {"kind": "minimum-projects", "minimumProjects": 1},
            },
            {
                "id": "south",
                "name": "South",
                "amount": "500000",
                "rule": {"kind": "minimum-projects", "minimumProjects": 1},
            },
        ],
    )
    return city.service.create_budget(city.tenant, draft, by=city.person("olga")).budget.id


def _project(city: City, budget_id: str, title: str, cost: int, heading: str = "north") -> str:
    project = city.service.add_project(
        city.tenant, budget_id, heading_id=heading, title=title, description="", cost=cost, by=city.person("olga")
    )
    return project.id


def test_a_budget_process_runs_from_drafting_to_results(city: City) -> None:
    olga = city.person("olga")
    budget_id = _budget(city)
    with pytest.raises(NotFound):
        city.service.get_budget(city.tenant, budget_id, PUBLIC)  # drafts are staff's
    park = _project(city, budget_id, "Park", 600_000)
    pool = _project(city, budget_id, "Pool", 500_000)
    trees = _project(city, budget_id, "Trees", 300_000)
    library = _project(city, budget_id, "Library", 200_000, heading="south")
    city.service.change_phase(city.tenant, budget_id, BudgetPhase.INFORMING, by=olga)
    city.service.change_phase(city.tenant, budget_id, BudgetPhase.VOTING, by=olga)
    with pytest.raises(Conflict):
        city.service.add_project(
            city.tenant, budget_id, heading_id="north", title="Late", description="", cost=1, by=olga
        )

    # Ballots: park+trees (bob), park (carol), pool+trees (dave), library (erin).
    for voter, heading, chosen in (
        ("bob", "north", [park, trees]),
        ("carol", "north", [park]),
        ("dave", "north", [pool, trees]),
        ("erin", "south", [library]),
    ):
        city.service.cast_ballot(city.tenant, budget_id, city.person(voter), heading, chosen)
    during = city.service.get_budget(city.tenant, budget_id, PUBLIC).to_json()
    assert [(h["id"], h["ballots"]) for h in during["headings"]] == [("north", 3), ("south", 1)]
    assert all("votes" not in p for h in during["headings"] for p in h["projects"])
    with pytest.raises(Conflict, match="once voting has finished"):
        city.service.results(city.tenant, budget_id, PUBLIC)

    city.service.change_phase(city.tenant, budget_id, BudgetPhase.FINISHED, by=olga)
    results = city.service.results(city.tenant, budget_id, PUBLIC).to_json()
    # North (1,000,000): Park 2 votes, Trees 2 votes, Pool 1.  Tie: the cheaper Trees ranks first.
    # Trees 300k (700k left), Park 600k (100k left), Pool 500k no longer fits.
    north, south = results["headings"]
    assert [(p["title"], p["votes"], p["selected"]) for p in north["projects"]] == [
        ("Trees", 2, True),
        ("Park", 2, True),
        ("Pool", 1, False),
    ]
    assert (north["spent"], north["remaining"], north["ballots"]) == ("900000", "100000", 3)
    assert [(p["title"], p["selected"]) for p in south["projects"]] == [("Library", True)]
    after = city.service.get_budget(city.tenant, budget_id, PUBLIC).to_json()
    assert {p["title"]: p["votes"] for p in after["headings"][0]["projects"]} == {"Park": 2, "Pool": 1, "Trees": 2}

    actions = [action for action, _, _ in city.audit_actions()]
    assert actions == ["budget.create"] + ["budget.project.create"] * 4 + ["budget.phase"] * 3
    assert [e.phase for e in city.events] == ["informing", "voting", "finished"]
    assert all(isinstance(e, BudgetPhaseChanged) for e in city.events)
    with pytest.raises(Conflict, match="only moves forward"):
        city.service.change_phase(city.tenant, budget_id, BudgetPhase.VOTING, by=olga)


@pytest.fixture
def voting(city: City) -> Iterator[tuple[City, str, dict[str, str]]]:
    """A budget in voting: north (1,000,000; at least 50% spent) has projects a 750k, b 500k, c 400k."""
    budget_id = _budget(city, {"kind": "minimum-percent", "minimumPercent": 50})
    projects = {
        name: _project(city, budget_id, name, cost) for name, cost in (("a", 750_000), ("b", 500_000), ("c", 400_000))
    }
    city.service.change_phase(city.tenant, budget_id, BudgetPhase.VOTING, by=city.person("olga"))
    yield city, budget_id, projects


def test_a_ballot_breaking_the_rules_is_refused_with_the_rule(voting: tuple[City, str, dict[str, str]]) -> None:
    city, budget_id, p = voting
    bob = city.person("bob")
    with pytest.raises(BadRequestData) as refused:
        city.service.cast_ballot(city.tenant, budget_id, bob, "north", [p["a"], p["b"]])
    assert refused.value.detail == "the projects cost 1,250,000 but this district's budget is 1,000,000"
    with pytest.raises(BadRequestData) as refused:
        city.service.cast_ballot(city.tenant, budget_id, bob, "north", [p["c"]])
    assert refused.value.detail == (
        "the projects cost 400,000 but at least 50% of this district's budget (500,000) must be spent"
    )
    with pytest.raises(BadRequestData, match="no project 'nope'"):
        city.service.cast_ballot(city.tenant, budget_id, bob, "north", ["nope"])
    with pytest.raises(BadRequestData, match="no district 'east'"):
        city.service.cast_ballot(city.tenant, budget_id, bob, "east", [p["a"]])
    with pytest.raises(BadRequestData, match="another district"):
        city.service.cast_ballot(city.tenant, budget_id, bob, "south", [p["c"]])
    # Refused ballots are not counted: bob may still vote.
    city.service.cast_ballot(city.tenant, budget_id, bob, "north", [p["b"]])


def test_a_confirmed_ballot_is_final_and_has_a_receipt(voting: tuple[City, str, dict[str, str]]) -> None:
    city, budget_id, p = voting
    bob, carol = city.person("bob"), city.person("carol")
    ballot = city.service.cast_ballot(city.tenant, budget_id, bob, "north", [p["c"], p["b"]]).to_json()
    assert ballot["total"] == "900000"
    with pytest.raises(Conflict, match="already cast a ballot"):
        city.service.cast_ballot(city.tenant, budget_id, bob, "north", [p["a"]])
    mine = city.service.my_ballot(city.tenant, budget_id, bob).to_json()
    assert (mine["ballotId"], mine["fingerprint"]) == (ballot["ballotId"], ballot["fingerprint"])
    assert sorted(project["id"] for project in mine["projects"]) == sorted([p["b"], p["c"]])
    with pytest.raises(NotFound):
        city.service.my_ballot(city.tenant, budget_id, carol)
    assert city.service.verify_receipt(city.tenant, budget_id, ballot["fingerprint"]).counted
    assert not city.service.verify_receipt(city.tenant, budget_id, "0" * 64).counted
    with pytest.raises(BadRequestData):
        city.service.verify_receipt(city.tenant, budget_id, "not-a-receipt")
    other = city.service.cast_ballot(city.tenant, budget_id, carol, "north", [p["b"], p["c"]]).to_json()
    assert other["fingerprint"] != ballot["fingerprint"]  # same choice, another ballot


def test_ballots_only_while_voting(city: City) -> None:
    budget_id = _budget(city)
    project = _project(city, budget_id, "Park", 10)
    city.service.change_phase(city.tenant, budget_id, BudgetPhase.INFORMING, by=city.person("olga"))
    with pytest.raises(Conflict, match="not voting"):
        city.service.cast_ballot(city.tenant, budget_id, city.person("bob"), "north", [project])


def test_staff_edit_a_budget_and_its_projects_before_voting(city: City) -> None:
    olga = city.person("olga")
    budget_id = _budget(city)
    project = _project(city, budget_id, "Park", 600_000)
    edited = city.service.edit_project(
        city.tenant, budget_id, project, heading_id="south", title="Small park", description="", cost=400_000, by=olga
    )
    assert (edited.heading_id, edited.cost) == ("south", Decimal(400_000))
    shrink = check_budget(
        "Budget 2027",
        "",
        "EUR",
        [
            {"id": "north", "name": "North", "amount": 1, "rule": {"kind": "minimum-projects", "minimumProjects": 1}},
            {
                "id": "south",
                "name": "South",
                "amount": 300_000,
                "rule": {"kind": "minimum-projects", "minimumProjects": 1},
            },
        ],
    )
    with pytest.raises(BadRequestData, match="more than the new budget"):
        city.service.edit_budget(city.tenant, budget_id, shrink, by=olga)
    only_north = check_budget(
        "Budget 2027",
        "",
        "EUR",
        [{"id": "north", "name": "N", "amount": 5, "rule": {"kind": "minimum-projects", "minimumProjects": 1}}],
    )
    with pytest.raises(Conflict, match="still has projects"):
        city.service.edit_budget(city.tenant, budget_id, only_north, by=olga)
    with pytest.raises(NotFound):
        city.service.edit_project(
            city.tenant, budget_id, "nope", heading_id="south", title="x", description="", cost=1, by=olga
        )
    with pytest.raises(BadRequestData, match="no proposal"):
        city.service.add_project(
            city.tenant, budget_id, heading_id="north", title="x", description="", cost=1, proposal_id="nope", by=olga
        )
    proposal_id = _propose(city)
    linked = city.service.add_project(
        city.tenant, budget_id, heading_id="north", title="x", description="", cost=1, proposal_id=proposal_id, by=olga
    )
    assert linked.proposal_id == proposal_id
    assert [a for a, _, _ in city.audit_actions()].count("budget.project.edit") == 1


# -- polls -------------------------------------------------------------------------------------


def _poll(city: City, visibility: ResultsVisibility = ResultsVisibility.LIVE, max_choices: int = 1) -> str:
    view = city.service.create_poll(
        city.tenant,
        "Which park first?",
        ["North", "South", "East"],
        max_choices=max_choices,
        opens_at=None,
        closes_at=NOW + timedelta(days=7),
        visibility=visibility,
        by=city.person("olga"),
    )
    return view.poll.id


def test_one_person_votes_once_in_a_poll(city: City) -> None:
    poll_id = _poll(city, max_choices=2)
    bob = city.person("bob")
    view = city.service.vote(city.tenant, poll_id, bob, [0, 2])
    assert (view.voted, view.my_choices) == (True, (0, 2))
    with pytest.raises(Conflict, match="already voted"):
        city.service.vote(city.tenant, poll_id, bob, [1])
    city.service.vote(city.tenant, poll_id, city.person("carol"), [0])
    results = city.service.poll_results(city.tenant, poll_id, PUBLIC)
    assert results.results is not None
    # 2 voters: North 2 (100%), South 0 (0%), East 1 (50%).
    assert [(o.votes, o.percent) for o in results.results.options] == [(2, 100.0), (0, 0.0), (1, 50.0)]
    assert city.audit_actions() == [("poll.create", city.person("olga"), f"poll:{poll_id}")]


def test_results_after_close_are_kept_until_the_poll_closes(city: City) -> None:
    poll_id = _poll(city, ResultsVisibility.AFTER_CLOSE)
    city.service.vote(city.tenant, poll_id, city.person("bob"), [1])
    with pytest.raises(Conflict, match="published when it closes"):
        city.service.poll_results(city.tenant, poll_id, PUBLIC)
    assert city.service.get_poll(city.tenant, poll_id, PUBLIC).results is None
    assert city.service.poll_results(city.tenant, poll_id, Viewer(city.person("olga"), staff=True)).results
    city.clock.advance(hours=1)
    city.service.close_poll(city.tenant, poll_id, by=city.person("olga"))
    with pytest.raises(Conflict, match="closed"):
        city.service.vote(city.tenant, poll_id, city.person("carol"), [0])
    results = city.service.poll_results(city.tenant, poll_id, PUBLIC).results
    assert results is not None and results.voters == 1
    assert [a for a, _, _ in city.audit_actions()] == ["poll.create", "poll.close"]
    listed, total = city.service.list_polls(city.tenant, Viewer(city.person("bob")))
    assert total == 1 and listed[0].voted and listed[0].voters == 1
