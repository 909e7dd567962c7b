"""The pure rules of participation: proposals, budgets (ballot rules, receipts, results) and polls."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from urbis.citizens.moderation import Moderation
from urbis.citizens.participation.budgets import (
    BallotRule,
    Budget,
    BudgetPhase,
    Heading,
    Project,
    RuleKind,
    ballot_fingerprint,
    check_ballot,
    check_editable,
    check_phase_change,
    check_project,
    heading_results,
    is_fingerprint,
    parse_headings,
    parse_rule,
)
from urbis.citizens.participation.model import Point, check_text, format_money, parse_money, share
from urbis.citizens.participation.polls import (
    Poll,
    PollStatus,
    ResultsVisibility,
    check_close,
    check_poll,
    check_vote,
    tally,
)
from urbis.citizens.participation.proposals import (
    A_RESIDENT,
    AnswerStatus,
    Proposal,
    ProposalState,
    check_answer,
    check_collecting,
    check_draft,
    check_withdraw,
    moderated,
    new_proposal,
    parse_staff_decision,
    state_after_supports,
    visible_to,
)
from urbis.core.errors import BadRequestData, Conflict, PolicyDenied

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


# -- shared checks -----------------------------------------------------------------------------


def test_text_is_trimmed_and_bounded() -> None:
    assert check_text("  Benches in the park \r\n", "title", 150) == "Benches in the park"
    with pytest.raises(BadRequestData, match="at most 5 characters, got 6"):
        check_text("abcdef", "title", 5)
    with pytest.raises(BadRequestData, match="must not be empty"):
        check_text("   ", "title", 5)
    with pytest.raises(BadRequestData, match="control characters"):
        check_text("a\x00b", "title", 5)
    assert check_text("line one\nline two", "body", 100) == "line one\nline two"
    assert check_text("", "description", 10, required=False) == ""


def test_money_is_exact_with_at_most_two_decimals() -> None:
    assert parse_money("1250000", "cost") == Decimal("1250000")
    assert parse_money(99.5, "cost") == Decimal("99.50")
    assert parse_money("10.000", "cost") == Decimal(10)
    for bad in ("1.005", "abc", "NaN", "-3", "0", True, None, [1]):
        with pytest.raises(BadRequestData):
            parse_money(bad, "cost")
    assert parse_money("0", "cost", positive=False) == 0
    assert format_money(Decimal("1250000")) == "1,250,000"
    assert format_money(Decimal("1250000.5")) == "1,250,000.50"


def test_points_stay_on_the_globe() -> None:
    assert Point(48.2, 16.37).lat == 48.2
    with pytest.raises(BadRequestData, match="'lat' must lie between -90 and 90"):
        Point(91.0, 0.0)
    with pytest.raises(BadRequestData, match="'lon'"):
        Point(0.0, float("inf"))


def test_share_is_a_percentage_to_one_decimal() -> None:
    assert share(1, 3) == 33.3
    assert share(2, 3) == 66.7
    assert share(5, 0) == 0.0


# -- proposals ---------------------------------------------------------------------------------


def _proposal(threshold: int = 3, days: int = 90, moderation: Moderation = Moderation.PUBLIC) -> Proposal:
    draft = check_draft("More benches", "Along the river, please.", district="north")
    return new_proposal("p1", "alice", draft, created_at=NOW, threshold=threshold, days=days, moderation=moderation)


def test_a_new_proposal_collects_until_a_deadline_fixed_at_creation() -> None:
    proposal = _proposal(threshold=50, days=90)
    assert proposal.state is ProposalState.COLLECTING
    assert proposal.deadline == datetime(2027, 2, 23, 10, 0, tzinfo=UTC)  # 25 Nov + 90 days
    assert proposal.threshold == 50
    assert proposal.supports == 0


def test_reaching_the_threshold_qualifies_the_proposal() -> None:
    proposal = _proposal(threshold=3)
    assert state_after_supports(proposal, 2) is ProposalState.COLLECTING
    assert state_after_supports(proposal, 3) is ProposalState.QUALIFIED


def test_a_proposal_below_threshold_expires_at_its_deadline() -> None:
    proposal = _proposal(days=10)
    deadline = NOW + timedelta(days=10)
    assert proposal.state_at(deadline - timedelta(seconds=1)) is ProposalState.COLLECTING
    assert proposal.state_at(deadline) is ProposalState.EXPIRED
    assert proposal.decided_at_moment(deadline + timedelta(days=3)) == deadline
    # A qualified proposal does not expire.
    qualified = replace(proposal, state=ProposalState.QUALIFIED)
    assert qualified.state_at(deadline + timedelta(days=1)) is ProposalState.QUALIFIED


def test_supports_are_given_only_while_collecting_before_the_deadline() -> None:
    proposal = _proposal(days=10)
    check_collecting(proposal, NOW)
    with pytest.raises(Conflict, match="deadline has passed"):
        check_collecting(proposal, NOW + timedelta(days=10))
    qualified = replace(proposal, state=ProposalState.QUALIFIED)
    with pytest.raises(Conflict, match="already reached its threshold"):
        check_collecting(qualified, NOW)
    withdrawn = replace(proposal, state=ProposalState.WITHDRAWN)
    with pytest.raises(Conflict, match="withdrawn"):
        check_collecting(withdrawn, NOW)


def test_progress_shows_supports_against_the_threshold() -> None:
    proposal = replace(_proposal(threshold=40), supports=10)
    progress = proposal.progress()
    assert (progress.supports, progress.threshold, progress.percent, progress.missing) == (10, 40, 25.0, 30)
    over = replace(proposal, supports=55)
    assert over.progress().percent == 100.0
    assert over.progress().missing == 0


def test_only_the_author_withdraws_and_only_while_collecting() -> None:
    proposal = _proposal(days=10)
    check_withdraw(proposal, "alice", NOW)
    with pytest.raises(PolicyDenied):
        check_withdraw(proposal, "bob", NOW)
    with pytest.raises(Conflict, match="this proposal is expired; only a collecting one can be withdrawn"):
        check_withdraw(proposal, "alice", NOW + timedelta(days=11))


def test_names_are_private_unless_the_author_shows_them() -> None:
    assert _proposal().author_label() == A_RESIDENT
    assert _proposal().author_label(staff=True) == "alice"
    shown = check_draft("t", "b", show_name=True)
    assert (
        new_proposal(
            "p2", "alice", shown, created_at=NOW, threshold=1, days=1, moderation=Moderation.PUBLIC
        ).author_label()
        == "alice"
    )
    with pytest.raises(BadRequestData, match="showName"):
        check_draft("t", "b", show_name="yes")


def test_proposal_text_limits() -> None:
    check_draft("t" * 150, "b" * 4000)
    with pytest.raises(BadRequestData, match="'title' is at most 150"):
        check_draft("t" * 151, "b")
    with pytest.raises(BadRequestData, match="'body' is at most 4000"):
        check_draft("t", "b" * 4001)
    with pytest.raises(BadRequestData, match="district"):
        check_draft("t", "b", district="north side!")


def test_an_answer_needs_a_reason_and_a_cost_only_when_not_rejected() -> None:
    proposal = _proposal()
    assert check_answer(proposal, AnswerStatus.ACCEPTED, " Good idea ", "12000") == ("Good idea", Decimal(12000))
    assert check_answer(proposal, AnswerStatus.EVALUATING, "Looking", None) == ("Looking", None)
    with pytest.raises(BadRequestData, match="'reason' must not be empty"):
        check_answer(proposal, AnswerStatus.ACCEPTED, "", None)
    with pytest.raises(BadRequestData, match="rejected proposal has no cost"):
        check_answer(proposal, AnswerStatus.REJECTED, "No money", "10")
    withdrawn = replace(proposal, state=ProposalState.WITHDRAWN)
    with pytest.raises(Conflict):
        check_answer(withdrawn, AnswerStatus.ACCEPTED, "ok", None)


def test_moderators_hide_with_a_reason_and_only_decide_public_or_hidden() -> None:
    with pytest.raises(BadRequestData, match="reason is required"):
        moderated(Moderation.HIDDEN, "  ", by="olga", at=NOW)
    record = moderated(Moderation.HIDDEN, "insults", by="olga", at=NOW)
    assert (record.state, record.reason, record.by) == (Moderation.HIDDEN, "insults", "olga")
    assert moderated(Moderation.PUBLIC, None, by="olga", at=NOW).reason is None
    with pytest.raises(BadRequestData):
        parse_staff_decision("unmoderated")
    assert parse_staff_decision("hidden") is Moderation.HIDDEN


def test_hidden_items_are_seen_by_their_author_and_staff_only() -> None:
    assert visible_to(Moderation.PUBLIC, "alice", None, staff=False)
    assert not visible_to(Moderation.HIDDEN, "alice", None, staff=False)
    assert not visible_to(Moderation.UNMODERATED, "alice", "bob", staff=False)
    assert visible_to(Moderation.HIDDEN, "alice", "alice", staff=False)
    assert visible_to(Moderation.HIDDEN, "alice", "olga", staff=True)


# -- budgets -----------------------------------------------------------------------------------

MILLION = Decimal(1_000_000)


def _heading(rule: BallotRule, amount: Decimal = MILLION) -> Heading:
    return Heading("north", "North", amount, rule)


def _project(pid: str, cost: int, heading: str = "north", title: str | None = None) -> Project:
    return Project(pid, "b1", heading, title or pid, "", Decimal(cost))


ANY_COUNT = BallotRule(RuleKind.MINIMUM_PROJECTS, minimum_projects=1)


def test_a_ballot_never_costs_more_than_the_district_budget() -> None:
    chosen = [_project("a", 750_000), _project("b", 500_000)]
    with pytest.raises(BadRequestData) as refused:
        check_ballot(_heading(ANY_COUNT), chosen)
    assert refused.value.detail == "the projects cost 1,250,000 but this district's budget is 1,000,000"


def test_a_ballot_spends_at_least_the_minimum_share() -> None:
    rule = BallotRule(RuleKind.MINIMUM_PERCENT, minimum_percent=Decimal(50))
    with pytest.raises(BadRequestData) as refused:
        check_ballot(_heading(rule), [_project("a", 400_000)])
    assert refused.value.detail == (
        "the projects cost 400,000 but at least 50% of this district's budget (500,000) must be spent"
    )
    assert check_ballot(_heading(rule), [_project("a", 300_000), _project("b", 200_000)]) == Decimal(500_000)


def test_a_ballot_chooses_at_least_the_minimum_number_of_projects() -> None:
    rule = BallotRule(RuleKind.MINIMUM_PROJECTS, minimum_projects=3)
    with pytest.raises(BadRequestData) as refused:
        check_ballot(_heading(rule), [_project("a", 1), _project("b", 1)])
    assert refused.value.detail == "choose at least 3 projects; 2 chosen"
    assert check_ballot(_heading(rule), [_project("a", 1), _project("b", 1), _project("c", 1)]) == 3


def test_a_ballot_chooses_between_the_minimum_and_the_maximum_number_of_projects() -> None:
    rule = BallotRule(RuleKind.PROJECT_RANGE, minimum_projects=2, maximum_projects=3)
    few = [_project("a", 1)]
    many = [_project(p, 1) for p in "abcd"]
    for chosen, count in ((few, 1), (many, 4)):
        with pytest.raises(BadRequestData) as refused:
            check_ballot(_heading(rule), chosen)
        assert refused.value.detail == f"choose between 2 and 3 projects; {count} chosen"
    assert check_ballot(_heading(rule), many[:3]) == 3


def test_a_ballot_is_not_empty_has_no_repeats_and_stays_in_its_district() -> None:
    with pytest.raises(BadRequestData, match="choose at least one project"):
        check_ballot(_heading(ANY_COUNT), [])
    with pytest.raises(BadRequestData, match="at most once"):
        check_ballot(_heading(ANY_COUNT), [_project("a", 1), _project("a", 1)])
    with pytest.raises(BadRequestData, match="another district"):
        check_ballot(_heading(ANY_COUNT), [_project("a", 1, heading="south")])


def test_the_receipt_is_the_sha256_of_the_canonical_ballot() -> None:
    by_hand = '{"ballot":"k1","budget":"b1","heading":"north","projects":["a","c"]}'
    expected = hashlib.sha256(by_hand.encode()).hexdigest()
    assert ballot_fingerprint("b1", "north", ["c", "a"], "k1") == expected
    # Stable: the order of choosing does not matter; another ballot gets another receipt.
    assert ballot_fingerprint("b1", "north", ["a", "c"], "k1") == expected
    assert ballot_fingerprint("b1", "north", ["a", "c"], "k2") != expected
    assert ballot_fingerprint("b1", "north", ["a"], "k1") != expected
    assert is_fingerprint(expected)
    assert not is_fingerprint(expected.upper())
    assert not is_fingerprint("abc")


def test_results_fund_projects_by_votes_while_the_money_lasts() -> None:
    # Budget 1,000,000.  By votes: A 600k (40), B 500k (30), C 300k (20), D 100k (20), E 50k (0).
    # A is funded (400k left); B no longer fits, skipped; C and D tie at 20 votes: the cheaper D
    # ranks first and is funded (300k left), then C (0 left); E has no votes and is never funded.
    projects = [
        _project("A", 600_000),
        _project("B", 500_000),
        _project("C", 300_000),
        _project("D", 100_000),
        _project("E", 50_000),
        _project("S", 1, heading="south"),
    ]
    votes = {"A": 40, "B": 30, "C": 20, "D": 20, "S": 99}
    result = heading_results(_heading(ANY_COUNT), projects, votes, ballots=55)
    assert [(line.rank, line.project.id, line.votes, line.selected) for line in result.lines] == [
        (1, "A", 40, True),
        (2, "B", 30, False),
        (3, "D", 20, True),
        (4, "C", 20, True),
        (5, "E", 0, False),
    ]
    assert result.spent == Decimal(1_000_000)
    assert result.remaining == 0
    assert result.ballots == 55


def test_a_budget_only_moves_forward_and_votes_only_with_projects() -> None:
    check_phase_change(BudgetPhase.DRAFTING, BudgetPhase.INFORMING, projects=0)
    check_phase_change(BudgetPhase.INFORMING, BudgetPhase.VOTING, projects=2)
    check_phase_change(BudgetPhase.DRAFTING, BudgetPhase.FINISHED, projects=0)
    with pytest.raises(Conflict, match="only moves forward"):
        check_phase_change(BudgetPhase.VOTING, BudgetPhase.INFORMING, projects=2)
    with pytest.raises(Conflict, match="only moves forward"):
        check_phase_change(BudgetPhase.VOTING, BudgetPhase.VOTING, projects=2)
    with pytest.raises(Conflict, match="at least one project"):
        check_phase_change(BudgetPhase.INFORMING, BudgetPhase.VOTING, projects=0)
    check_editable(BudgetPhase.INFORMING)
    with pytest.raises(Conflict):
        check_editable(BudgetPhase.VOTING)


def test_rules_and_headings_are_parsed_strictly() -> None:
    assert parse_rule({"kind": "minimum-percent", "minimumPercent": "50.0"}).minimum_percent == Decimal(50)
    assert parse_rule({"kind": "minimum-percent", "minimumPercent": 50}).to_json() == {
        "kind": "minimum-percent",
        "minimumPercent": "50",
    }
    assert parse_rule({"kind": "project-range", "minimumProjects": 2, "maximumProjects": 4}).maximum_projects == 4
    for bad in (
        {"kind": "minimum-percent", "minimumPercent": 0},
        {"kind": "minimum-percent", "minimumPercent": 101},
        {"kind": "minimum-projects", "minimumProjects": 0},
        {"kind": "project-range", "minimumProjects": 3, "maximumProjects": 2},
        {"kind": "minimum-projects", "minimumProjects": 2, "maximumProjects": 4},  # exactly one rule
        {"kind": "most-votes"},
        "minimum-projects",
    ):
        with pytest.raises(BadRequestData):
            parse_rule(bad)
    rule = {"kind": "minimum-projects", "minimumProjects": 1}
    headings = parse_headings([{"id": "north", "name": "North", "amount": "1000000", "rule": rule}])
    assert headings[0].amount == MILLION
    with pytest.raises(BadRequestData, match="once"):
        parse_headings([{"id": "n", "name": "N", "amount": 1, "rule": rule}] * 2)
    with pytest.raises(BadRequestData):
        parse_headings([])


def test_a_project_belongs_to_a_heading_that_can_pay_for_it() -> None:
    budget = Budget("b1", "2027", "", "EUR", BudgetPhase.DRAFTING, (_heading(ANY_COUNT),), NOW, NOW)
    draft = check_project(budget, heading_id="north", title="Trees", description="", cost="20000", proposal_id=None)
    assert (draft.heading_id, draft.cost) == ("north", Decimal(20000))
    with pytest.raises(BadRequestData, match="no district 'south'"):
        check_project(budget, heading_id="south", title="T", description="", cost=1, proposal_id=None)
    with pytest.raises(BadRequestData, match="the project costs 1,000,001 but this district's budget is 1,000,000"):
        check_project(budget, heading_id="north", title="T", description="", cost=1_000_001, proposal_id=None)


# -- polls -------------------------------------------------------------------------------------


def _poll(max_choices: int = 1, visibility: ResultsVisibility = ResultsVisibility.LIVE) -> Poll:
    draft = check_poll(
        "Which park first?",
        ["North", "South", "East"],
        max_choices=max_choices,
        opens_at=NOW,
        closes_at=NOW + timedelta(days=7),
        visibility=visibility,
        now=NOW,
    )
    return Poll(
        "q1", draft.question, draft.options, draft.max_choices, NOW, draft.closes_at, draft.visibility, NOW, "olga"
    )


def test_a_poll_has_two_to_twenty_distinct_options() -> None:
    def make(options: object, max_choices: object = 1) -> None:
        check_poll(
            "Q?",
            options,
            max_choices=max_choices,
            opens_at=NOW,
            closes_at=NOW + timedelta(days=1),
            visibility=ResultsVisibility.LIVE,
            now=NOW,
        )

    make(["a", "b"])
    make([str(i) for i in range(20)])
    for options in (["a"], [str(i) for i in range(21)], ["a", "A"], "ab"):
        with pytest.raises(BadRequestData):
            make(options)
    with pytest.raises(BadRequestData, match="'maxChoices' must be a whole number from 1 to 2"):
        make(["a", "b"], 3)
    with pytest.raises(BadRequestData, match="after 'opensAt'"):
        check_poll(
            "Q?", ["a", "b"], max_choices=1, opens_at=NOW, closes_at=NOW, visibility=ResultsVisibility.LIVE, now=NOW
        )


def test_a_vote_chooses_at_most_max_choices_options() -> None:
    single = _poll(max_choices=1)
    assert check_vote(single, [2], NOW) == (2,)
    with pytest.raises(BadRequestData) as refused:
        check_vote(single, [0, 1], NOW)
    assert refused.value.detail == "choose one option; 2 chosen"
    double = _poll(max_choices=2)
    assert check_vote(double, [2, 0], NOW) == (0, 2)
    with pytest.raises(BadRequestData) as refused:
        check_vote(double, [0, 1, 2], NOW)
    assert refused.value.detail == "choose at most 2 options; 3 chosen"
    for bad in ([], [3], [-1], [True], ["0"], [1, 1], 1):
        with pytest.raises(BadRequestData):
            check_vote(double, bad, NOW)


def test_votes_count_only_while_the_poll_is_open() -> None:
    poll = _poll()
    with pytest.raises(Conflict, match="not opened yet"):
        check_vote(poll, [0], NOW - timedelta(seconds=1))
    with pytest.raises(Conflict, match="closed"):
        check_vote(poll, [0], NOW + timedelta(days=7))
    closed_early = replace(poll, closed_at=NOW + timedelta(hours=1))
    assert closed_early.status_at(NOW + timedelta(hours=1)) is PollStatus.CLOSED
    assert closed_early.status_at(NOW) is PollStatus.OPEN
    with pytest.raises(Conflict, match="already closed"):
        check_close(closed_early, NOW + timedelta(hours=2))


def test_results_follow_the_visibility() -> None:
    live, later = _poll(), _poll(visibility=ResultsVisibility.AFTER_CLOSE)
    assert live.results_visible(NOW)
    assert not later.results_visible(NOW)
    assert later.results_visible(NOW, staff=True)
    assert later.results_visible(NOW + timedelta(days=7))


def test_tally_counts_and_shares_of_voters() -> None:
    # 3 voters with up to 2 choices: North by 3, South by 1, East by 2 -> 100%, 33.3%, 66.7%.
    results = tally(_poll(max_choices=2), {0: 3, 1: 1, 2: 2}, voters=3)
    assert [(o.text, o.votes, o.percent) for o in results.options] == [
        ("North", 3, 100.0),
        ("South", 1, 33.3),
        ("East", 2, 66.7),
    ]
    assert tally(_poll(), {}, voters=0).options[0].percent == 0.0
