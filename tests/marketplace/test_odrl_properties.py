"""Properties of the evaluator over generated policies and requests (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from urbis.marketplace.policies import (
    Action,
    ActionType,
    ConflictStrategy,
    Constraint,
    ConstraintState,
    LeftOperand,
    LogicalConstraint,
    LogicalOperator,
    Operator,
    Permission,
    Policy,
    Prohibition,
    RequestContext,
    evaluate,
    parse_policy,
    policy_to_jsonld,
)
from urbis.marketplace.policies.model import ConstraintLike
from urbis.marketplace.policies.profile import PartyType, SpatialResolution

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
ACTIONS = [ActionType.USE, ActionType.READ, ActionType.AGGREGATE, ActionType.DISTRIBUTE, ActionType.COMMERCIALIZE]
Op = Operator

atomic = st.one_of(
    st.builds(
        Constraint,
        st.just(LeftOperand.PURPOSE),
        st.sampled_from([Op.EQ, Op.NEQ, Op.IS_A]),
        st.sampled_from(["research", "academic-research", "commercial", "public-interest"]),
    ),
    st.builds(
        Constraint,
        st.just(LeftOperand.PURPOSE),
        st.sampled_from([Op.IS_ANY_OF, Op.IS_NONE_OF]),
        st.lists(st.sampled_from(["research", "commercial", "education"]), min_size=1, max_size=2, unique=True).map(
            tuple
        ),
    ),
    st.builds(
        Constraint,
        st.just(LeftOperand.RECIPIENT),
        st.sampled_from([Op.IS_A, Op.NEQ]),
        st.sampled_from(["university", "company", "public-body"]),
    ),
    st.builds(
        Constraint,
        st.just(LeftOperand.DATE_TIME),
        st.sampled_from([Op.LT, Op.LTEQ, Op.GT, Op.GTEQ]),
        st.integers(-3, 3).map(lambda days: NOW + timedelta(days=days)),
    ),
    st.builds(
        Constraint,
        st.just(LeftOperand.MIN_GROUP_SIZE),
        st.sampled_from([Op.GTEQ, Op.GT, Op.EQ]),
        st.sampled_from([5, 10, 20]),
    ),
    st.builds(
        Constraint,
        st.just(LeftOperand.SPATIAL_RESOLUTION),
        st.sampled_from([Op.GTEQ, Op.LTEQ]),
        st.sampled_from(["h3:9", "h3:7", "district", "city"]),
    ),
    st.builds(
        Constraint,
        st.just(LeftOperand.COUNT),
        st.sampled_from([Op.LTEQ, Op.LT]),
        st.sampled_from([1, 5, 10]),
    ),
)
constraints: st.SearchStrategy[ConstraintLike] = st.recursive(
    atomic,
    lambda inner: st.builds(
        LogicalConstraint,
        st.sampled_from(list(LogicalOperator)),
        st.lists(inner, min_size=1, max_size=3).map(tuple),
    ),
    max_leaves=5,
)
actions = st.sampled_from(ACTIONS).map(Action)
permissions = st.builds(Permission, action=actions, constraints=st.lists(constraints, max_size=2).map(tuple))
prohibitions = st.builds(Prohibition, action=actions, constraints=st.lists(constraints, max_size=2).map(tuple))
policies = st.builds(
    Policy,
    uid=st.just("urn:policy"),
    permissions=st.lists(permissions, min_size=1, max_size=3).map(tuple),
    prohibitions=st.lists(prohibitions, max_size=2).map(tuple),
    conflict=st.sampled_from([None, *ConflictStrategy]),
)
requests = st.builds(
    RequestContext,
    party=st.just("urn:party:1"),
    action=st.sampled_from(ACTIONS),
    target=st.just("urn:ds:1"),
    now=st.just(NOW),
    party_type=st.sampled_from([None, PartyType.UNIVERSITY, PartyType.COMPANY, PartyType.CITY]),
    purpose=st.sampled_from([None, "research", "academic-research", "commercial-research", "education"]),
    min_group_size=st.sampled_from([None, 5, 10, 20]),
    spatial_resolution=st.sampled_from([None, SpatialResolution.h3(9), SpatialResolution.parse("district")]),
    uses_in_interval=st.sampled_from([None, 0, 4, 9]),
)


def _state(constraint: ConstraintLike, request: RequestContext) -> ConstraintState:
    decision = evaluate(Policy(uid="urn:probe", permissions=(Permission(constraints=(constraint,)),)), request)
    return decision.rules[0].constraints[0].state


@given(policies, requests, st.data())
def test_adding_a_satisfied_constraint_never_turns_a_denial_into_a_permit(
    policy: Policy, request: RequestContext, data: st.DataObject
) -> None:
    extra = data.draw(constraints)
    assume(_state(extra, request) is ConstraintState.SATISFIED)
    rules = [*policy.permissions, *policy.prohibitions]
    index = data.draw(st.integers(0, len(rules) - 1))
    rule = rules[index]
    changed = replace(rule, constraints=(*rule.constraints, extra))
    if index < len(policy.permissions):
        permissions = list(policy.permissions)
        permissions[index] = changed  # type: ignore[call-overload]
        after = replace(policy, permissions=tuple(permissions))
    else:
        prohibitions = list(policy.prohibitions)
        prohibitions[index - len(policy.permissions)] = changed  # type: ignore[call-overload]
        after = replace(policy, prohibitions=tuple(prohibitions))
    before_permitted = evaluate(policy, request).permitted
    after_permitted = evaluate(after, request).permitted
    assert not (not before_permitted and after_permitted)
    # A satisfied conjunct changes nothing at all.
    assert after_permitted == before_permitted


@given(policies, requests, constraints)
def test_constraining_a_permission_never_widens_what_is_permitted(
    policy: Policy, request: RequestContext, extra: ConstraintLike
) -> None:
    first, *rest = policy.permissions
    narrowed = replace(policy, permissions=(replace(first, constraints=(*first.constraints, extra)), *rest))
    if evaluate(narrowed, request).permitted:
        assert evaluate(policy, request).permitted


@given(policies, requests)
def test_prohibit_never_permits_when_a_prohibition_applies(policy: Policy, request: RequestContext) -> None:
    decision = evaluate(replace(policy, conflict=ConflictStrategy.PROHIBIT), request)
    if any(report.active for report in decision.rules if report.kind.value == "prohibition"):
        assert not decision.permitted


@given(policies, requests)
def test_a_permit_names_an_active_permission(policy: Policy, request: RequestContext) -> None:
    decision = evaluate(policy, request)
    if decision.permitted:
        assert decision.granted_by is not None and decision.granted_by.active
    else:
        assert decision.granted_by is None and decision.obligations.is_empty


@given(policies, requests)
def test_perm_permits_whenever_a_permission_holds(policy: Policy, request: RequestContext) -> None:
    decision = evaluate(replace(policy, conflict=ConflictStrategy.PERM), request)
    holds = any(report.active for report in decision.rules if report.kind.value == "permission")
    assert decision.permitted is holds


@settings(max_examples=30, deadline=None)
@given(policies)
def test_json_ld_round_trip(policy: Policy) -> None:
    assert parse_policy(policy_to_jsonld(policy)) == policy
