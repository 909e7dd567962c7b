"""Decisions: logical constraints, conflicts under each strategy, validity, embargo, quota, epsilon, k,
resolutions, party types, purposes, commercial use, duties and the obligations on the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbis.marketplace.policies import (
    Action,
    ActionType,
    Asset,
    ConflictStrategy,
    Constraint,
    ConstraintState,
    Duty,
    DutyState,
    LeftOperand,
    LogicalConstraint,
    LogicalOperator,
    MatchState,
    Operator,
    Party,
    PartyType,
    Permission,
    Policy,
    PolicyType,
    Prohibition,
    RequestContext,
    SpatialResolution,
    city_offer,
    evaluate,
)

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
L, Op = LeftOperand, Operator
CITY = "urn:party:city"
DATASET = "urn:ds:parking"


def ask(**overrides: object) -> RequestContext:
    values: dict[str, object] = {
        "party": "urn:party:uni",
        "party_type": PartyType.UNIVERSITY,
        "action": ActionType.READ,
        "target": DATASET,
        "now": NOW,
        "purpose": "research",
    }
    values.update(overrides)
    return RequestContext(**values)  # type: ignore[arg-type]


def permit(*constraints: Constraint | LogicalConstraint, **rule: object) -> Policy:
    permission = Permission(action=Action(ActionType.READ), constraints=constraints, **rule)  # type: ignore[arg-type]
    return Policy(uid="urn:policy", permissions=(permission,))


PURPOSE_OK = Constraint(L.PURPOSE, Op.EQ, "research")
PURPOSE_BAD = Constraint(L.PURPOSE, Op.EQ, "commercial")
K_UNSTATED = Constraint(L.MIN_GROUP_SIZE, Op.GTEQ, 10)  # deferred: the request states no k
UNKNOWN = Constraint(L.MEDIA, Op.EQ, "print")  # no value: unknown


# --- logical constraints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "members", "state"),
    [
        (LogicalOperator.OR, (PURPOSE_BAD, PURPOSE_OK), ConstraintState.SATISFIED),
        (LogicalOperator.OR, (PURPOSE_BAD, PURPOSE_BAD), ConstraintState.NOT_SATISFIED),
        (LogicalOperator.OR, (PURPOSE_BAD, UNKNOWN), ConstraintState.UNKNOWN),
        (LogicalOperator.OR, (UNKNOWN, PURPOSE_OK), ConstraintState.SATISFIED),
        (LogicalOperator.XONE, (PURPOSE_OK, PURPOSE_OK), ConstraintState.NOT_SATISFIED),
        (LogicalOperator.XONE, (PURPOSE_OK, PURPOSE_BAD), ConstraintState.SATISFIED),
        (LogicalOperator.XONE, (PURPOSE_BAD, PURPOSE_BAD), ConstraintState.NOT_SATISFIED),
        (LogicalOperator.XONE, (PURPOSE_OK, UNKNOWN), ConstraintState.UNKNOWN),
        (LogicalOperator.AND, (PURPOSE_OK, PURPOSE_BAD), ConstraintState.NOT_SATISFIED),
        (LogicalOperator.AND, (PURPOSE_OK, PURPOSE_OK), ConstraintState.SATISFIED),
        (LogicalOperator.AND, (PURPOSE_OK, UNKNOWN), ConstraintState.UNKNOWN),
        (LogicalOperator.AND, (PURPOSE_OK, K_UNSTATED), ConstraintState.DEFERRED),
        (LogicalOperator.AND_SEQUENCE, (PURPOSE_OK, PURPOSE_OK), ConstraintState.SATISFIED),
        (LogicalOperator.AND_SEQUENCE, (PURPOSE_BAD, PURPOSE_OK), ConstraintState.NOT_SATISFIED),
        # A deferred constraint cannot choose a branch of an or: which one would the enforcement apply?
        (LogicalOperator.OR, (K_UNSTATED, PURPOSE_BAD), ConstraintState.UNKNOWN),
        (LogicalOperator.OR, (K_UNSTATED, PURPOSE_OK), ConstraintState.SATISFIED),
    ],
)
def test_logical_constraint(operator: LogicalOperator, members: tuple[Constraint, ...], state: ConstraintState) -> None:
    decision = evaluate(permit(LogicalConstraint(operator, members)), ask())
    (report,) = decision.rules[0].constraints
    assert report.state is state
    assert decision.permitted is (state in (ConstraintState.SATISFIED, ConstraintState.DEFERRED))


def test_and_sequence_stops_at_the_first_constraint_that_does_not_hold() -> None:
    decision = evaluate(permit(LogicalConstraint(LogicalOperator.AND_SEQUENCE, (PURPOSE_BAD, PURPOSE_OK))), ask())
    (report,) = decision.rules[0].constraints
    assert [m.state for m in report.members] == [ConstraintState.NOT_SATISFIED, ConstraintState.UNKNOWN]
    assert "not evaluated" in report.members[1].reason


def test_nested_logical_constraints() -> None:
    weekday = LogicalConstraint(
        LogicalOperator.AND,
        (
            Constraint(L.DATE_TIME, Op.GTEQ, NOW - timedelta(hours=3)),
            Constraint(L.DATE_TIME, Op.LT, NOW + timedelta(hours=5)),
        ),
    )
    weekend = LogicalConstraint(
        LogicalOperator.AND,
        (
            Constraint(L.DATE_TIME, Op.GTEQ, NOW + timedelta(days=4)),
            Constraint(L.DATE_TIME, Op.LT, NOW + timedelta(days=5)),
        ),
    )
    assert evaluate(permit(LogicalConstraint(LogicalOperator.OR, (weekend, weekday))), ask()).permitted
    assert not evaluate(permit(LogicalConstraint(LogicalOperator.OR, (weekend,))), ask()).permitted


def test_a_prohibition_that_cannot_be_evaluated_applies() -> None:
    policy = Policy(
        uid="urn:policy",
        permissions=(Permission(action=Action(ActionType.READ)),),
        prohibitions=(
            Prohibition(action=Action(ActionType.READ), constraints=(Constraint(L.PURPOSE, Op.IS_A, "commercial"),)),
        ),
        conflict=ConflictStrategy.PROHIBIT,
    )
    assert not evaluate(policy, ask(purpose=None)).permitted
    assert evaluate(policy, ask(purpose="research")).permitted
    assert not evaluate(policy, ask(purpose="commercial-research")).permitted


# --- conflicts -----------------------------------------------------------------------------------


def conflicting(strategy: ConflictStrategy | None) -> Policy:
    return Policy(
        uid="urn:policy",
        permissions=(Permission(uid="urn:perm", action=Action(ActionType.USE)),),
        prohibitions=(Prohibition(uid="urn:proh", action=Action(ActionType.READ)),),
        conflict=strategy,
    )


@pytest.mark.parametrize(
    ("strategy", "permitted"),
    [
        (ConflictStrategy.PERM, True),
        (ConflictStrategy.PROHIBIT, False),
        (ConflictStrategy.INVALID, False),
        (None, False),
    ],
)
def test_conflict_strategy(strategy: ConflictStrategy | None, permitted: bool) -> None:
    decision = evaluate(conflicting(strategy), ask())
    assert decision.conflict_detected
    assert decision.permitted is permitted
    assert decision.conflict is (strategy or ConflictStrategy.INVALID)


def test_invalid_voids_the_policy_and_says_so() -> None:
    decision = evaluate(conflicting(None), ask())
    assert "voids the policy" in decision.reasons[0]
    assert "permission urn:perm" in decision.reasons[0] and "prohibition urn:proh" in decision.reasons[0]


def test_perm_says_which_prohibition_yields() -> None:
    decision = evaluate(conflicting(ConflictStrategy.PERM), ask())
    assert decision.granted_by is not None and decision.granted_by.rule.uid == "urn:perm"
    assert decision.reasons == (
        "permitted by permission urn:perm",
        "conflict strategy perm: prohibition urn:proh yields",
    )


def test_no_conflict_when_the_prohibition_is_about_another_action() -> None:
    decision = evaluate(conflicting(None), ask(action=ActionType.AGGREGATE))
    assert decision.permitted and not decision.conflict_detected
    assert decision.rules[1].action is MatchState.NOT_MATCHED


def test_a_prohibition_of_part_of_what_is_asked_applies() -> None:
    # Asking to "use" includes reading, which is prohibited.
    decision = evaluate(conflicting(ConflictStrategy.PROHIBIT), ask(action=ActionType.USE))
    assert not decision.permitted and decision.conflict_detected


def test_nothing_permitted_without_a_permission() -> None:
    decision = evaluate(Policy(uid="urn:p", prohibitions=(Prohibition(action=Action(ActionType.SELL)),)), ask())
    assert not decision.permitted
    assert decision.reasons == (f"no permission allows read on {DATASET} for urn:party:uni",)


# --- validity, embargo, elapsed time, quota -----------------------------------------------------

WINDOW = (
    Constraint(L.DATE_TIME, Op.GTEQ, datetime(2025, 1, 1, tzinfo=UTC)),
    Constraint(L.DATE_TIME, Op.LT, datetime(2026, 1, 1, tzinfo=UTC)),
)


@pytest.mark.parametrize(
    ("now", "permitted"),
    [
        (datetime(2024, 12, 31, 23, 59, tzinfo=UTC), False),  # not yet valid
        (datetime(2025, 1, 1, tzinfo=UTC), True),
        (datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 1, 1, tzinfo=UTC), False),  # expired
    ],
)
def test_validity_window(now: datetime, permitted: bool) -> None:
    decision = evaluate(permit(*WINDOW), ask(now=now))
    assert decision.permitted is permitted
    if permitted:
        assert decision.obligations.valid_until == datetime(2026, 1, 1, tzinfo=UTC)
    else:
        (failed,) = decision.failed_constraints()
        assert failed.left_operand is L.DATE_TIME


def test_embargo() -> None:
    policy = permit(Constraint(L.DELAY_PERIOD, Op.GTEQ, timedelta(days=1)))
    recent = evaluate(policy, ask(newest_data_at=NOW - timedelta(hours=2)))
    assert not recent.permitted
    assert recent.failed_constraints()[0].actual == timedelta(hours=2)
    assert evaluate(policy, ask(newest_data_at=NOW - timedelta(hours=25))).permitted
    unstated = evaluate(policy, ask())
    assert unstated.permitted
    assert unstated.obligations.embargo_until == NOW - timedelta(days=1)


def test_elapsed_time_since_the_agreement_started() -> None:
    policy = permit(Constraint(L.ELAPSED_TIME, Op.LTEQ, timedelta(days=30)))
    start = NOW - timedelta(days=29)
    assert not evaluate(policy, ask(agreement_start=NOW - timedelta(days=31))).permitted
    decision = evaluate(policy, ask(agreement_start=start))
    assert decision.permitted
    assert decision.obligations.valid_until == start + timedelta(days=30)
    # Before an agreement exists, it would start now.
    assert evaluate(policy, ask()).obligations.valid_until == NOW + timedelta(days=30)


def test_quota_count_per_time_interval() -> None:
    policy = permit(Constraint(L.COUNT, Op.LTEQ, 3), Constraint(L.TIME_INTERVAL, Op.EQ, timedelta(days=1)))
    third = evaluate(policy, ask(uses_in_interval=2))
    assert third.permitted
    assert third.obligations.quota is not None
    assert (third.obligations.quota.limit, third.obligations.quota.interval, third.obligations.quota.remaining) == (
        3,
        timedelta(days=1),
        1,
    )
    assert not evaluate(policy, ask(uses_in_interval=3)).permitted
    unstated = evaluate(policy, ask())
    assert unstated.permitted
    assert unstated.obligations.quota is not None and unstated.obligations.quota.used is None


# --- privacy: epsilon, k, resolutions ------------------------------------------------------------


def test_epsilon_budget() -> None:
    policy = permit(Constraint(L.EPSILON_BUDGET, Op.LTEQ, 1.0))
    assert not evaluate(policy, ask(epsilon_spent=0.8, epsilon_requested=0.3)).permitted
    at_the_limit = evaluate(policy, ask(epsilon_spent=0.75, epsilon_requested=0.25))
    assert at_the_limit.permitted
    assert at_the_limit.obligations.epsilon_available == pytest.approx(0.25)
    assert not evaluate(policy, ask(epsilon_spent=1.2)).permitted
    before_query = evaluate(policy, ask(epsilon_spent=0.4))
    assert before_query.permitted
    assert before_query.obligations.epsilon_available == pytest.approx(0.6)


def test_minimum_group_size() -> None:
    policy = permit(Constraint(L.MIN_GROUP_SIZE, Op.GTEQ, 10))
    assert not evaluate(policy, ask(min_group_size=5)).permitted
    assert evaluate(policy, ask()).obligations.min_group_size == 10
    assert evaluate(policy, ask(min_group_size=12)).obligations.min_group_size == 10
    assert evaluate(permit(Constraint(L.MIN_GROUP_SIZE, Op.GT, 10)), ask()).obligations.min_group_size == 11


def test_resolutions() -> None:
    policy = permit(
        Constraint(L.SPATIAL_RESOLUTION, Op.GTEQ, "district"),
        Constraint(L.TIME_BUCKET, Op.GTEQ, timedelta(minutes=15)),
    )
    assert not evaluate(policy, ask(spatial_resolution="h3:9")).permitted
    assert not evaluate(policy, ask(spatial_resolution="district", temporal_resolution=timedelta(minutes=5))).permitted
    assert evaluate(policy, ask(spatial_resolution="city", temporal_resolution=timedelta(hours=1))).permitted
    obligations = evaluate(policy, ask()).obligations
    assert obligations.spatial_resolution_at_least == SpatialResolution.parse("district")
    assert obligations.time_bucket_at_least == timedelta(minutes=15)


def test_strictly_coarser_than_h3_8_is_h3_7() -> None:
    obligations = evaluate(permit(Constraint(L.SPATIAL_RESOLUTION, Op.GT, "h3:8")), ask()).obligations
    assert obligations.spatial_resolution_at_least == SpatialResolution.h3(7)


def test_the_tightest_bound_wins() -> None:
    policy = permit(Constraint(L.MIN_GROUP_SIZE, Op.GTEQ, 5), Constraint(L.MIN_GROUP_SIZE, Op.GTEQ, 20))
    assert evaluate(policy, ask()).obligations.min_group_size == 20


def test_areas() -> None:
    policy = permit(Constraint(L.SPATIAL, Op.IS_PART_OF, "urn:area:north"))
    assert evaluate(policy, ask()).obligations.within_areas == (frozenset({"urn:area:north"}),)
    assert not evaluate(policy, ask(area="urn:area:south")).permitted


# --- parties, purposes, commercial use (a city offer) ------------------------------------------


def offer(**options: object) -> Policy:
    settings: dict[str, object] = {
        "party_types": (PartyType.UNIVERSITY, PartyType.PUBLIC_BODY),
        "purposes": ("research", "public-interest"),
    }
    settings.update(options)
    return city_offer("urn:offer:parking", target=DATASET, assigner=CITY, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("party_type", "permitted"),
    [
        (PartyType.UNIVERSITY, True),
        (PartyType.PUBLIC_BODY, True),
        (PartyType.CITY, True),  # a city is a public body
        (PartyType.COMPANY, False),
        (None, False),
    ],
)
def test_party_types(party_type: PartyType | None, permitted: bool) -> None:
    assert evaluate(offer(), ask(party_type=party_type)).permitted is permitted


@pytest.mark.parametrize(
    ("purpose", "permitted"),
    [("research", True), ("academic-research", True), ("city-operations", True), ("education", False), (None, False)],
)
def test_purposes(purpose: str | None, permitted: bool) -> None:
    assert evaluate(offer(), ask(purpose=purpose)).permitted is permitted


def test_a_denied_purpose_is_explained() -> None:
    decision = evaluate(offer(), ask(purpose="education"))
    (failed,) = decision.failed_constraints()
    assert failed.left_operand is L.PURPOSE
    assert "purpose isAnyOf [research, public-interest]: not-satisfied" in decision.reasons[1]


def test_commercial_use_is_prohibited() -> None:
    # Commercial research is research, so the permission holds, but it is commercial: the prohibition wins.
    decision = evaluate(offer(), ask(purpose="commercial-research"))
    assert not decision.permitted and decision.conflict_detected
    assert any("No use for a commercial purpose" in (r.rule.description or "") for r in decision.rules if r.active)
    commercialize = evaluate(offer(actions=(ActionType.USE,)), ask(action=ActionType.COMMERCIALIZE))
    assert not commercialize.permitted and commercialize.conflict_detected
    allowed = offer(commercial_use=True, purposes=("research", "commercial"))
    assert evaluate(allowed, ask(purpose="commercial-research", party_type=PartyType.UNIVERSITY)).permitted


def test_target_and_assignee_must_match() -> None:
    policy = permit(target=Asset(uid=DATASET), assignee=Party(uid="urn:party:uni"))
    assert evaluate(policy, ask()).permitted
    other = evaluate(policy, ask(target="urn:ds:air"))
    assert not other.permitted and other.rules[0].target is MatchState.NOT_MATCHED
    assert not evaluate(policy, ask(party="urn:party:someone")).permitted


def test_an_assignee_collection_by_party_type_or_membership() -> None:
    by_type = permit(assignee=Party(uid=PartyType.UNIVERSITY.value, collection=True))
    assert evaluate(by_type, ask()).permitted
    assert not evaluate(by_type, ask(party_type=PartyType.COMPANY)).permitted
    by_group = permit(assignee=Party(uid="urn:group:partners", collection=True))
    assert evaluate(by_group, ask(party_collections=frozenset({"urn:group:partners"}))).permitted
    assert not evaluate(by_group, ask()).permitted


def test_action_refinement() -> None:
    policy = Policy(
        uid="urn:p",
        permissions=(Permission(action=Action(ActionType.READ, (Constraint(L.MIN_GROUP_SIZE, Op.GTEQ, 10),))),),
    )
    assert not evaluate(policy, ask(min_group_size=3)).permitted
    assert evaluate(policy, ask()).obligations.min_group_size == 10


def test_the_most_specific_permission_grants() -> None:
    generic = Permission(uid="urn:generic", action=Action(ActionType.USE))
    specific = Permission(
        uid="urn:specific",
        action=Action(ActionType.DISTRIBUTE),
        duties=(Duty(action=Action(ActionType.ATTRIBUTE), description="Credit the city"),),
    )
    decision = evaluate(Policy(uid="urn:p", permissions=(generic, specific)), ask(action=ActionType.DISTRIBUTE))
    assert decision.granted_by is not None and decision.granted_by.rule.uid == "urn:specific"
    assert [d.text for d in decision.duties] == ["Credit the city"]


# --- duties --------------------------------------------------------------------------------------

ATTRIBUTION = Duty(
    uid="urn:duty:attribution",
    action=Action(ActionType.ATTRIBUTE),
    description="Source: City of Urbis, CC BY 4.0",
)


def test_a_pending_duty_is_reported_as_owed() -> None:
    decision = evaluate(permit(duties=(ATTRIBUTION,)), ask())
    assert decision.permitted
    (duty,) = decision.duties
    assert (duty.action, duty.state, duty.text, duty.uid) == (
        ActionType.ATTRIBUTE,
        DutyState.PENDING,
        "Source: City of Urbis, CC BY 4.0",
        "urn:duty:attribution",
    )


@pytest.mark.parametrize("key", ["attribute", ActionType.ATTRIBUTE.value, "urn:duty:attribution"])
def test_a_fulfilled_duty(key: str) -> None:
    decision = evaluate(permit(duties=(ATTRIBUTION,)), ask(fulfilled_duties=frozenset({key})))
    assert decision.permitted
    assert decision.duties[0].state is DutyState.FULFILLED


def test_a_violated_duty_voids_the_permission_unless_remedied() -> None:
    pay = Duty(uid="urn:duty:pay", action=Action(ActionType.COMPENSATE))
    duty = Duty(uid="urn:duty:attribution", action=Action(ActionType.ATTRIBUTE), consequences=(pay,))
    violated = evaluate(permit(duties=(duty,)), ask(violated_duties=frozenset({"urn:duty:attribution"})))
    assert not violated.permitted
    assert "attribute is violated" in violated.reasons[1]
    remedied = evaluate(
        permit(duties=(duty,)),
        ask(violated_duties=frozenset({"urn:duty:attribution"}), fulfilled_duties=frozenset({"urn:duty:pay"})),
    )
    assert remedied.permitted
    assert remedied.duties[0].state is DutyState.REMEDIED


def test_delete_after() -> None:
    delete = Duty(
        action=Action(ActionType.DELETE), constraints=(Constraint(L.ELAPSED_TIME, Op.LTEQ, timedelta(days=90)),)
    )
    start = NOW - timedelta(days=60)
    decision = evaluate(permit(duties=(delete,)), ask(agreement_start=start))
    assert decision.permitted
    assert decision.delete_by == start + timedelta(days=90)
    overdue = evaluate(permit(duties=(delete,)), ask(agreement_start=NOW - timedelta(days=100)))
    assert not overdue.permitted
    deleted = evaluate(
        permit(duties=(delete,)), ask(agreement_start=NOW - timedelta(days=100), fulfilled_duties=frozenset({"delete"}))
    )
    assert deleted.permitted


def test_a_duty_whose_condition_does_not_hold_is_not_owed() -> None:
    pay_if_commercial = Duty(
        action=Action(ActionType.COMPENSATE), constraints=(Constraint(L.PURPOSE, Op.IS_A, "commercial"),)
    )
    assert evaluate(permit(duties=(pay_if_commercial,)), ask()).duties == ()
    owed = evaluate(permit(duties=(pay_if_commercial,)), ask(purpose="commercial-research")).duties
    assert [d.action for d in owed] == [ActionType.COMPENSATE]


def test_policy_obligations_are_reported() -> None:
    inform = Duty(uid="urn:duty:inform", action=Action(ActionType.INFORM), assignee=Party(uid="urn:party:uni"))
    policy = Policy(
        uid="urn:p",
        type=PolicyType.SET,
        permissions=(Permission(action=Action(ActionType.READ)),),
        obligations=(inform,),
    )
    (duty,) = evaluate(policy, ask()).duties
    assert (duty.uid, duty.rule_uid) == ("urn:duty:inform", None)
    assert evaluate(policy, ask(party="urn:party:else")).duties == ()


def test_an_offer_reports_everything_the_enforcement_needs() -> None:
    policy = offer(
        embargo=timedelta(days=1),
        spatial_resolution="district",
        time_bucket=timedelta(minutes=15),
        min_group_size=10,
        epsilon_budget=1.0,
        quota=(1000, timedelta(days=1)),
        attribution="Source: City of Urbis",
        delete_after=timedelta(days=90),
        licence="https://creativecommons.org/licenses/by/4.0/",
    )
    decision = evaluate(policy, ask(agreement_start=NOW, uses_in_interval=10, epsilon_spent=0.25))
    assert decision.permitted
    obligations = decision.obligations
    assert obligations.spatial_resolution_at_least == SpatialResolution.parse("district")
    assert obligations.time_bucket_at_least == timedelta(minutes=15)
    assert obligations.min_group_size == 10
    assert obligations.embargo_until == NOW - timedelta(days=1)
    assert obligations.epsilon_available == pytest.approx(0.75)
    assert obligations.quota is not None and obligations.quota.remaining == 990
    assert [(d.action, d.text) for d in decision.duties] == [
        (ActionType.ATTRIBUTE, "Source: City of Urbis"),
        (ActionType.DELETE, "Delete the data once the agreement's time has elapsed."),
    ]
    assert decision.duties[0].attributed_party == CITY
    assert decision.delete_by == NOW + timedelta(days=90)
    assert decision.licence == "https://creativecommons.org/licenses/by/4.0/"


def test_a_denial_carries_no_obligations() -> None:
    decision = evaluate(offer(min_group_size=10, attribution="x"), ask(party_type=PartyType.COMPANY))
    assert not decision.permitted
    assert decision.obligations.is_empty and decision.duties == ()
