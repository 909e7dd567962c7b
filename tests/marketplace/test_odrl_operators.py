"""Each operator against each kind of left operand, with typed values; expected states worked out by hand.

The request is fixed (``ask()``); each case is one constraint on a bare permission.  NOW is
2025-03-10 12:00 UTC.  The party is a university, ``urn:party:uni``, in the collection
``urn:group:eu-universities``; it asks for academic research, at h3:7 and 15-minute buckets, k = 10,
data at most a day old, after 9 earlier uses, having spent 0.5 of epsilon and asking 0.25, in the
area ``urn:area:d3`` of ``urn:area:city``; the agreement started ten days ago.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from urbis.marketplace.policies import (
    Action,
    ActionType,
    Constraint,
    ConstraintState,
    Iri,
    LeftOperand,
    Operator,
    Permission,
    Policy,
    RequestContext,
    evaluate,
)
from urbis.marketplace.policies.profile import DPV, SpatialResolution

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
S, NS, U, D = (
    ConstraintState.SATISFIED,
    ConstraintState.NOT_SATISFIED,
    ConstraintState.UNKNOWN,
    ConstraintState.DEFERRED,
)
L, Op = LeftOperand, Operator
SECOND = timedelta(seconds=1)


def ask(**overrides: object) -> RequestContext:
    values: dict[str, object] = {
        "party": "urn:party:uni",
        "party_type": "university",
        "party_collections": frozenset({"urn:group:eu-universities"}),
        "action": ActionType.READ,
        "target": "urn:ds:parking",
        "now": NOW,
        "purpose": "academic-research",
        "agreement_start": NOW - timedelta(days=10),
        "newest_data_at": NOW - timedelta(days=1),
        "area": "urn:area:d3",
        "area_within": frozenset({"urn:area:city"}),
        "spatial_resolution": SpatialResolution.h3(7),
        "temporal_resolution": timedelta(minutes=15),
        "min_group_size": 10,
        "epsilon_requested": 0.25,
        "epsilon_spent": 0.5,
        "uses_in_interval": 9,
        "facts": {
            "language": ("en", "de"),
            LeftOperand.DELIVERY_CHANNEL.value: Iri("urn:channel:api"),
            "version": "2.0",
        },
    }
    values.update(overrides)
    return RequestContext(**values)  # type: ignore[arg-type]


def state_of(constraint: Constraint, request: RequestContext | None = None) -> ConstraintState:
    policy = Policy(uid="urn:p", permissions=(Permission(action=Action(ActionType.READ), constraints=(constraint,)),))
    decision = evaluate(policy, request or ask())
    (report,) = decision.rules[0].constraints
    # The permission holds exactly when its only constraint does.
    assert decision.permitted is (report.state in (S, D))
    return report.state


CASES = [
    # dateTime, against NOW (boundaries included)
    (L.DATE_TIME, Op.EQ, NOW, S),
    (L.DATE_TIME, Op.EQ, NOW + SECOND, NS),
    (L.DATE_TIME, Op.NEQ, NOW, NS),
    (L.DATE_TIME, Op.NEQ, NOW - SECOND, S),
    (L.DATE_TIME, Op.LT, NOW, NS),
    (L.DATE_TIME, Op.LT, NOW + SECOND, S),
    (L.DATE_TIME, Op.LTEQ, NOW, S),
    (L.DATE_TIME, Op.LTEQ, NOW - SECOND, NS),
    (L.DATE_TIME, Op.GT, NOW, NS),
    (L.DATE_TIME, Op.GT, NOW - SECOND, S),
    (L.DATE_TIME, Op.GTEQ, NOW, S),
    (L.DATE_TIME, Op.GTEQ, NOW + SECOND, NS),
    # dateTime against an xsd:date: today's date
    (L.DATE_TIME, Op.EQ, date(2025, 3, 10), S),
    (L.DATE_TIME, Op.LT, date(2025, 3, 10), NS),
    (L.DATE_TIME, Op.LTEQ, date(2025, 3, 10), S),
    (L.DATE_TIME, Op.GT, date(2025, 3, 9), S),
    (L.DATE_TIME, Op.LT, "2025-03-10T12:00:01Z", S),  # a plain string is read as xsd:dateTime
    # elapsedTime: ten days since the agreement started
    (L.ELAPSED_TIME, Op.LTEQ, timedelta(days=10), S),
    (L.ELAPSED_TIME, Op.LT, timedelta(days=10), NS),
    (L.ELAPSED_TIME, Op.EQ, "P10D", S),
    (L.ELAPSED_TIME, Op.GT, timedelta(days=9), S),
    (L.ELAPSED_TIME, Op.GTEQ, timedelta(days=11), NS),
    # delayPeriod: the newest data asked for is one day old (eq means "at least", as the vocabulary says)
    (L.DELAY_PERIOD, Op.GTEQ, timedelta(days=1), S),
    (L.DELAY_PERIOD, Op.GT, timedelta(days=1), NS),
    (L.DELAY_PERIOD, Op.EQ, timedelta(days=1), S),
    (L.DELAY_PERIOD, Op.EQ, timedelta(hours=12), S),
    (L.DELAY_PERIOD, Op.GTEQ, timedelta(days=2), NS),
    (L.DELAY_PERIOD, Op.LT, timedelta(days=2), S),
    # count: 9 earlier uses, so this is the 10th
    (L.COUNT, Op.LTEQ, 10, S),
    (L.COUNT, Op.LT, 10, NS),
    (L.COUNT, Op.EQ, 10, S),
    (L.COUNT, Op.GT, 10, NS),
    (L.COUNT, Op.GTEQ, 10, S),
    (L.TIME_INTERVAL, Op.EQ, timedelta(days=1), S),
    # minGroupSize: k = 10
    (L.MIN_GROUP_SIZE, Op.GTEQ, 10, S),
    (L.MIN_GROUP_SIZE, Op.GT, 10, NS),
    (L.MIN_GROUP_SIZE, Op.EQ, 10, S),
    (L.MIN_GROUP_SIZE, Op.LT, 11, S),
    (L.MIN_GROUP_SIZE, Op.NEQ, 10, NS),
    # epsilonBudget: 0.5 spent + 0.25 asked = 0.75
    (L.EPSILON_BUDGET, Op.LTEQ, Decimal("0.75"), S),
    (L.EPSILON_BUDGET, Op.LT, 0.75, NS),
    (L.EPSILON_BUDGET, Op.LTEQ, 1, S),
    (L.EPSILON_BUDGET, Op.LTEQ, 0.5, NS),
    # spatialResolution: h3:7 (gt/gteq mean coarser)
    (L.SPATIAL_RESOLUTION, Op.GTEQ, "h3:8", S),
    (L.SPATIAL_RESOLUTION, Op.GTEQ, "h3:7", S),
    (L.SPATIAL_RESOLUTION, Op.GT, "h3:7", NS),
    (L.SPATIAL_RESOLUTION, Op.GTEQ, "district", NS),
    (L.SPATIAL_RESOLUTION, Op.LTEQ, "district", S),
    (L.SPATIAL_RESOLUTION, Op.LT, "point", NS),
    (L.SPATIAL_RESOLUTION, Op.EQ, "h3:7", S),
    (L.SPATIAL_RESOLUTION, Op.NEQ, "h3:7", NS),
    (L.SPATIAL_RESOLUTION, Op.IS_ANY_OF, ("h3:7", "district"), S),
    (L.SPATIAL_RESOLUTION, Op.IS_NONE_OF, ("h3:7",), NS),
    # timeBucket: PT15M
    (L.TIME_BUCKET, Op.GTEQ, timedelta(minutes=15), S),
    (L.TIME_BUCKET, Op.GT, timedelta(minutes=15), NS),
    (L.TIME_BUCKET, Op.GTEQ, "PT1H", NS),
    (L.TIME_BUCKET, Op.LTEQ, "P1D", S),
    (L.TIME_BUCKET, Op.EQ, "PT15M", S),
    (L.TIME_BUCKET, Op.IS_ANY_OF, ("PT15M", "PT1H"), S),
    # odrl:resolution, read by the type of its right operand
    (L.RESOLUTION, Op.GTEQ, timedelta(minutes=15), S),
    (L.RESOLUTION, Op.GTEQ, timedelta(minutes=30), NS),
    (L.RESOLUTION, Op.GTEQ, "h3:9", S),
    (L.RESOLUTION, Op.GTEQ, "city", NS),
    # purpose: academic research, which is research and non-commercial research
    (L.PURPOSE, Op.EQ, "academic-research", S),
    (L.PURPOSE, Op.EQ, "research", NS),
    (L.PURPOSE, Op.EQ, Iri(DPV + "AcademicResearch"), S),
    (L.PURPOSE, Op.NEQ, "commercial", S),
    (L.PURPOSE, Op.IS_A, "research", S),
    (L.PURPOSE, Op.IS_A, "commercial", NS),
    (L.PURPOSE, Op.IS_ANY_OF, ("education", "research"), S),
    (L.PURPOSE, Op.IS_ANY_OF, ("education", "journalism"), NS),
    (L.PURPOSE, Op.IS_NONE_OF, ("commercial",), S),
    (L.PURPOSE, Op.IS_NONE_OF, ("research",), NS),
    (L.PURPOSE, Op.IS_PART_OF, "research", S),
    (L.PURPOSE, Op.IS_A, "dpv:ResearchAndDevelopment", S),
    # recipient: urn:party:uni, a university, in urn:group:eu-universities
    (L.RECIPIENT, Op.EQ, Iri("urn:party:uni"), S),
    (L.RECIPIENT, Op.NEQ, "urn:party:uni", NS),
    (L.RECIPIENT, Op.IS_A, "university", S),
    (L.RECIPIENT, Op.IS_A, "organisation", S),
    (L.RECIPIENT, Op.IS_A, "company", NS),
    (L.RECIPIENT, Op.IS_ANY_OF, ("company", "public-body"), NS),
    (L.RECIPIENT, Op.IS_ANY_OF, (Iri("https://urbis.city/odrl/University"),), S),
    (L.RECIPIENT, Op.IS_NONE_OF, ("company",), S),
    (L.RECIPIENT, Op.IS_PART_OF, Iri("urn:group:eu-universities"), S),
    (L.RECIPIENT, Op.IS_PART_OF, Iri("urn:group:companies"), NS),
    # spatial: urn:area:d3, within urn:area:city
    (L.SPATIAL, Op.EQ, Iri("urn:area:d3"), S),
    (L.SPATIAL, Op.NEQ, Iri("urn:area:d3"), NS),
    (L.SPATIAL, Op.IS_PART_OF, Iri("urn:area:city"), S),
    (L.SPATIAL, Op.IS_PART_OF, Iri("urn:area:elsewhere"), NS),
    (L.SPATIAL, Op.IS_ANY_OF, (Iri("urn:area:d2"), Iri("urn:area:d3")), S),
    (L.SPATIAL, Op.IS_NONE_OF, (Iri("urn:area:d3"),), NS),
    # other left operands, from the request's facts: language is {en, de}
    (L.LANGUAGE, Op.HAS_PART, "en", S),
    (L.LANGUAGE, Op.HAS_PART, "fr", NS),
    (L.LANGUAGE, Op.IS_ALL_OF, ("en", "de"), S),
    (L.LANGUAGE, Op.IS_ALL_OF, ("en", "fr"), NS),
    (L.LANGUAGE, Op.IS_ANY_OF, ("fr", "de"), S),
    (L.LANGUAGE, Op.IS_NONE_OF, ("fr", "it"), S),
    (L.LANGUAGE, Op.EQ, ("de", "en"), S),
    (L.DELIVERY_CHANNEL, Op.EQ, Iri("urn:channel:api"), S),
    (L.DELIVERY_CHANNEL, Op.EQ, Iri("urn:channel:ftp"), NS),
    (L.VERSION, Op.EQ, "2.0", S),
    (L.VERSION, Op.LT, 3, U),  # a string and a number do not compare
    (L.MEDIA, Op.EQ, "print", U),  # no value for media
]


@pytest.mark.parametrize(
    ("left", "operator", "right", "expected"),
    CASES,
    ids=[f"{c[0].term}-{c[1].term}-{i}" for i, c in enumerate(CASES)],
)
def test_operator_on_left_operand(
    left: LeftOperand, operator: Operator, right: object, expected: ConstraintState
) -> None:
    assert state_of(Constraint(left, operator, right)) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("left", "right", "missing"),
    [
        (L.PURPOSE, "research", {"purpose": None}),
        (L.RECIPIENT, "company", {}),
    ],
)
def test_a_permission_without_the_value_it_needs_does_not_hold(
    left: LeftOperand, right: str, missing: dict[str, object]
) -> None:
    request = ask(**missing, party_type=None) if left is L.RECIPIENT else ask(**missing)
    assert state_of(Constraint(left, Op.IS_A, right), request) in (U, NS)


@pytest.mark.parametrize(
    ("left", "right", "unstated"),
    [
        (L.MIN_GROUP_SIZE, 10, "min_group_size"),
        (L.SPATIAL_RESOLUTION, "district", "spatial_resolution"),
        (L.TIME_BUCKET, timedelta(hours=1), "temporal_resolution"),
        (L.DELAY_PERIOD, timedelta(days=1), "newest_data_at"),
        (L.COUNT, 100, "uses_in_interval"),
        (L.EPSILON_BUDGET, 1.0, "epsilon_requested"),
    ],
)
def test_answer_constraints_the_request_does_not_state_are_deferred(
    left: LeftOperand, right: object, unstated: str
) -> None:
    operator = Op.LTEQ if left in (L.COUNT, L.EPSILON_BUDGET) else Op.GTEQ
    assert state_of(Constraint(left, operator, right), ask(**{unstated: None})) is D  # type: ignore[arg-type]


def test_a_spent_budget_is_not_deferred_but_refused() -> None:
    request = ask(epsilon_requested=None, epsilon_spent=1.2)
    assert state_of(Constraint(L.EPSILON_BUDGET, Op.LTEQ, 1.0), request) is NS


def test_the_report_carries_operands_and_the_actual_value() -> None:
    constraint = Constraint(L.MIN_GROUP_SIZE, Op.GTEQ, 20, uid="urn:c:k")
    policy = Policy(uid="urn:p", permissions=(Permission(action=Action(ActionType.READ), constraints=(constraint,)),))
    (report,) = evaluate(policy, ask()).rules[0].constraints
    assert (report.uid, report.left_operand, report.operator, report.right_operand, report.actual) == (
        "urn:c:k",
        L.MIN_GROUP_SIZE,
        Op.GTEQ,
        20,
        10,
    )
    assert report.explain() == "urbis:minGroupSize gteq 20: not-satisfied (actual value 10)"


def test_a_right_operand_of_the_wrong_type_is_unknown_not_an_error() -> None:
    assert state_of(Constraint(L.DATE_TIME, Op.LT, "PT1H")) is U
    assert state_of(Constraint(L.SPATIAL_RESOLUTION, Op.GTEQ, "h3:16")) is U


def test_a_city_is_a_public_body() -> None:
    request = ask(party="urn:city:other", party_type="city", party_collections=frozenset())
    assert state_of(Constraint(L.RECIPIENT, Op.IS_A, "public-body"), request) is S
    assert state_of(Constraint(L.RECIPIENT, Op.IS_A, "university"), request) is NS


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(ask(), now=datetime(2025, 3, 10, 12, 0))  # noqa: DTZ001 - the point of the test
