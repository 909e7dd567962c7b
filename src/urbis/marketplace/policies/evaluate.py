"""Urbis's ODRL 2.2 evaluator: a policy and a request in, a decision with every reason out.

``evaluate(policy, request)`` is pure: the request (:class:`RequestContext`) carries everything the
evaluator may look at, the current time included.  The :class:`Decision` says whether the action is
permitted and why, rule by rule (:class:`RuleReport`) and constraint by constraint
(:class:`ConstraintReport`: left operand, operator, right operand, the actual value, the state), lists
the duties the requester must fulfil (:class:`RequiredDuty`: attribution text, licence, deadlines such
as delete-after) and the *obligations on the answer* the enforcement layer must apply
(:class:`AnswerObligations`: how coarse the answer must be, k, the embargo instant, the epsilon left,
the quota).

Semantics (ODRL 2.2 and its formal-semantics notes; choices Urbis makes are marked *Urbis*):

- **Matching.**  A rule applies to the request when its target, assignee and action match (a rule that
  names none of them matches everything).  A target matches the asset itself or a collection the
  asset is ``partOf``; an assignee matches the party itself, a party collection it belongs to, or its
  party type (*Urbis*: a collection named by a party-type IRI such as ``urbis:University``).  An action
  matches itself and every action ``includedIn`` it (``read`` is a ``use``).  *Urbis*: a prohibition
  also applies when the request asks for a broader action than it names (asking to ``use`` a dataset
  whose ``distribute`` is prohibited is not granted in full).
- **Constraints** are evaluated in three-valued logic.  Each atomic constraint is ``satisfied``,
  ``not-satisfied``, ``unknown`` (no value to compare, or values that do not compare) or
  ``deferred`` (*Urbis*: a constraint on the answer — resolution, k, epsilon, embargo, area, quota —
  that the request does not state; the enforcement layer applies it instead).  For permissions and
  duties ``deferred`` counts as satisfied where the constraint must hold anyway (at the top level and
  inside ``and``/``andSequence``) and as unknown inside ``or``/``xone``; ``unknown`` never satisfies a
  permission.  For prohibitions both ``deferred`` and ``unknown`` count as "may apply": an
  unevaluable prohibition denies (fail closed).
- **Left operands** are read from the request as the profile says (:mod:`.profile`); *Urbis*:
  ``count`` includes the use asked for (``count lteq 10``: the 11th use is refused), ``delayPeriod eq``
  means "at least" (as the ODRL vocabulary's note does), ``elapsedTime`` before any agreement counts
  from now, and other left operands come from ``RequestContext.facts``.
- **Duties** of a permission are pre-conditions: fulfilled, or pending (the permission holds and the
  duty is reported as owed), or violated (the permission does not hold, unless every consequence of
  the duty is fulfilled).  A pending duty whose deadline has passed is violated.  The ``dateTime``
  and ``elapsedTime`` constraints of a duty set its deadline; ``payAmount`` and ``unitOfCount`` are
  its parameters; other duty constraints say when the duty is owed.
- **Conflicts.**  The request is permitted when a permission is active and no prohibition applies.
  When both, the policy's strategy decides: ``perm`` permits, ``prohibit`` denies, ``invalid`` (the
  default) voids the policy, which denies.  No active permission denies.
- **Obligations** of the policy itself (``obligation``) are reported with the decision; they never
  deny a request by themselves.
- **Which permission grants.**  *Urbis*: when several permissions are active, the most specific one
  grants the request (its action closest to the requested action; then policy order), and its duties
  and answer obligations are the ones reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from urbis.core.errors import BadRequestData
from urbis.marketplace.policies.model import (
    Action,
    ActionType,
    Asset,
    ConflictStrategy,
    Constraint,
    ConstraintLike,
    Duty,
    Iri,
    LeftOperand,
    LogicalConstraint,
    LogicalOperator,
    Operator,
    Party,
    PartyFunction,
    Permission,
    Policy,
    Prohibition,
    RightOperand,
    Rule,
    RuleKind,
    action_distance,
    includes,
)
from urbis.marketplace.policies.profile import (
    PartyType,
    SpatialResolution,
    coerce_right_operand,
    format_duration,
    party_type_ancestors,
    purpose_ancestors,
    purpose_iri,
)

__all__ = [
    "AnswerObligations",
    "ConstraintReport",
    "ConstraintState",
    "Decision",
    "DutyReport",
    "DutyState",
    "MatchState",
    "Quota",
    "RequestContext",
    "RequiredDuty",
    "RuleReport",
    "evaluate",
    "format_value",
]


def _aware(name: str, moment: datetime | None) -> None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True, kw_only=True)
class RequestContext:
    """Everything the evaluator may know about one request (and the state of the world around it).

    Fields left at None are "not stated": constraints on them are deferred to the enforcement
    layer (answer properties) or unknown (the rest).
    """

    party: str  # who asks: a party IRI / URN
    action: ActionType  # what they ask to do
    target: str  # the dataset (asset) id
    now: datetime  # the current time (timezone-aware)
    party_type: PartyType | None = None
    party_collections: frozenset[str] = frozenset()  # party collections the party is partOf
    asset_collections: frozenset[str] = frozenset()  # asset collections the target is partOf
    purpose: str | None = None  # a profile term (``research``) or an IRI
    agreement_start: datetime | None = None  # for elapsedTime; None: the agreement would start now
    newest_data_at: datetime | None = None  # the newest timestamp asked for (for the embargo)
    area: str | None = None  # the named area asked for (spatial)
    area_within: frozenset[str] = frozenset()  # the areas that contain ``area``
    spatial_resolution: SpatialResolution | None = None
    temporal_resolution: timedelta | None = None  # the time bucket asked for, e.g. PT15M
    min_group_size: int | None = None  # the k the answer will use
    epsilon_requested: float | None = None  # the epsilon this query would spend
    epsilon_spent: float = 0.0  # the epsilon the agreement has spent so far
    uses_in_interval: int | None = None  # uses so far in the current quota window (this one excluded)
    fulfilled_duties: frozenset[str] = frozenset()  # duty uids or action names/IRIs fulfilled
    violated_duties: frozenset[str] = frozenset()  # duty uids or action names/IRIs violated
    facts: Mapping[str, RightOperand] = field(default_factory=dict)  # other left operands, by IRI or term

    def __post_init__(self) -> None:
        for name in ("now", "agreement_start", "newest_data_at"):
            _aware(name, getattr(self, name))
        # Friendly inputs: names instead of the enum or value objects.
        if isinstance(self.action, str) and not isinstance(self.action, ActionType):
            object.__setattr__(self, "action", ActionType.parse(self.action))
        if isinstance(self.party_type, str) and not isinstance(self.party_type, PartyType):
            object.__setattr__(self, "party_type", PartyType.parse(self.party_type))
        if isinstance(self.spatial_resolution, str):
            object.__setattr__(self, "spatial_resolution", SpatialResolution.parse(self.spatial_resolution))


class ConstraintState(StrEnum):
    """The state of a constraint after evaluation."""

    SATISFIED = "satisfied"
    NOT_SATISFIED = "not-satisfied"
    DEFERRED = "deferred"  # about the answer, not stated by the request: the enforcement applies it
    UNKNOWN = "unknown"  # no value to compare with, or values that do not compare


class MatchState(StrEnum):
    """Whether a rule's target, assignee or action matches the request."""

    MATCHED = "matched"
    NOT_MATCHED = "not-matched"
    UNSPECIFIED = "unspecified"  # the rule does not name one: it applies to all


class DutyState(StrEnum):
    """Where a duty stands."""

    FULFILLED = "fulfilled"
    PENDING = "pending"  # owed, not yet fulfilled: the permission holds, the duty is reported
    VIOLATED = "violated"
    REMEDIED = "remedied"  # violated, but every consequence is fulfilled
    NOT_REQUIRED = "not-required"  # its conditions do not hold for this request


def format_value(value: object) -> str:
    """A right operand or an actual value as people read it (durations as PT15M, lists in brackets)."""
    if isinstance(value, tuple | list | frozenset | set):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date | SpatialResolution | Iri):
        return str(value)
    if isinstance(value, StrEnum):
        return value.value
    return str(value)


@dataclass(frozen=True)
class ConstraintReport:
    """How one constraint fared: its operands, the actual value and the state, with a reason."""

    constraint: ConstraintLike
    state: ConstraintState
    reason: str
    right_operand: RightOperand | None = None  # typed for the left operand (atomic constraints)
    actual: object = None
    members: tuple[ConstraintReport, ...] = ()  # of a logical constraint

    @property
    def uid(self) -> str | None:
        """The constraint's uid, if it has one."""
        return self.constraint.uid

    @property
    def left_operand(self) -> LeftOperand | None:
        """The left operand (None for a logical constraint)."""
        return self.constraint.left_operand if isinstance(self.constraint, Constraint) else None

    @property
    def operator(self) -> Operator | LogicalOperator:
        """The operator."""
        return self.constraint.operator

    @property
    def holds(self) -> bool:
        """Satisfied or deferred."""
        return self.state in (ConstraintState.SATISFIED, ConstraintState.DEFERRED)

    def explain(self) -> str:
        """One line: ``purpose isAnyOf [research]: not-satisfied (the request states commercial)``."""
        if isinstance(self.constraint, LogicalConstraint):
            inner = "; ".join(member.explain() for member in self.members)
            return f"{self.operator.term}({inner}): {self.state.value}"
        head = f"{self.constraint.left_operand.term} {self.operator.term} {format_value(self.right_operand)}"
        return f"{head}: {self.state.value} ({self.reason})"

    def atomic(self) -> Iterable[ConstraintReport]:
        """The atomic reports within: this one if atomic, else those of its members, recursively."""
        if not self.members:
            yield self
        for member in self.members:
            yield from member.atomic()


@dataclass(frozen=True)
class DutyReport:
    """How one duty stands."""

    duty: Duty
    state: DutyState
    reason: str
    constraints: tuple[ConstraintReport, ...] = ()
    consequences: tuple[DutyReport, ...] = ()
    deadline: datetime | None = None


@dataclass(frozen=True)
class Quota:
    """A count per time interval (``count lteq 10000`` with ``timeInterval eq P1D``)."""

    limit: int
    interval: timedelta | None  # None: over the agreement's whole life
    used: int | None
    remaining: int | None


@dataclass(frozen=True)
class AnswerObligations:
    """What the enforcement layer must do to an answer given under the granting permission.

    ``spatial_resolution_at_least``: aggregate at least this coarsely (``district``: districts or the
    whole city); ``time_bucket_at_least``: buckets at least this long; ``min_group_size``: suppress
    cells with fewer contributors; ``embargo_until``: serve only data stamped at or before it;
    ``epsilon_available``: the differential-privacy budget left; ``quota``: the use limit;
    ``valid_until``: when the permission ends; ``within_areas``: each entry is a set of areas the
    answer must lie in one of.
    """

    spatial_resolution_at_least: SpatialResolution | None = None
    spatial_resolution_at_most: SpatialResolution | None = None
    time_bucket_at_least: timedelta | None = None
    time_bucket_at_most: timedelta | None = None
    min_group_size: int | None = None
    embargo_until: datetime | None = None
    epsilon_available: float | None = None
    quota: Quota | None = None
    valid_until: datetime | None = None
    within_areas: tuple[frozenset[str], ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the answer needs no treatment."""
        return self == AnswerObligations()


@dataclass(frozen=True)
class RuleReport:
    """How one rule fared against the request."""

    rule: Rule
    target: MatchState
    party: MatchState
    action: MatchState
    constraints: tuple[ConstraintReport, ...]  # the rule's constraints, then action/target/party refinements
    duties: tuple[DutyReport, ...]  # a permission's duties, a prohibition's remedies
    active: bool  # a permission that holds; a prohibition that applies
    reason: str

    @property
    def kind(self) -> RuleKind:
        """Permission or prohibition."""
        return self.rule.kind

    @property
    def matches(self) -> bool:
        """True when target, assignee and action match (whatever the constraints say)."""
        return MatchState.NOT_MATCHED not in (self.target, self.party, self.action)

    def describe(self) -> str:
        """``permission urn:x`` or ``permission to read`` (when the rule has no uid)."""
        if self.rule.uid:
            return f"{self.kind.value} {self.rule.uid}"
        action = self.rule.action.type.term if self.rule.action else "do anything"
        return f"{self.kind.value} to {action}"


@dataclass(frozen=True)
class RequiredDuty:
    """A duty the requester owes under the decision (e.g. attribute the city; delete by a date)."""

    action: ActionType
    state: DutyState
    uid: str | None
    text: str | None  # the attribution text, or the duty's description
    deadline: datetime | None  # for delete duties: the delete-after date
    attributed_party: str | None
    rule_uid: str | None  # the permission the duty belongs to; None for the policy's obligations


@dataclass(frozen=True)
class Decision:
    """The outcome: permitted or not, and why."""

    permitted: bool
    policy_uid: str
    request: RequestContext
    conflict: ConflictStrategy
    conflict_detected: bool
    rules: tuple[RuleReport, ...]
    reasons: tuple[str, ...]
    granted_by: RuleReport | None = None
    duties: tuple[RequiredDuty, ...] = ()
    obligations: AnswerObligations = AnswerObligations()
    licence: str | None = None
    obligation_reports: tuple[DutyReport, ...] = ()  # the policy's own obligations

    @property
    def delete_by(self) -> datetime | None:
        """The delete-after date: the earliest deadline of a delete duty owed, if any."""
        deadlines = [d.deadline for d in self.duties if d.action == ActionType.DELETE and d.deadline]
        return min(deadlines, default=None)

    def failed_constraints(self) -> tuple[ConstraintReport, ...]:
        """The constraints to name in a 403: those that failed permissions, those that made prohibitions apply.

        Only rules whose target, assignee and action matched the request count.
        """
        failed: list[ConstraintReport] = []
        for report in self.rules:
            if not report.matches:
                continue
            for atomic in (a for c in report.constraints for a in c.atomic()):
                if (report.kind is RuleKind.PERMISSION and not report.active and not atomic.holds) or (
                    report.kind is RuleKind.PROHIBITION
                    and report.active
                    and atomic.state != ConstraintState.NOT_SATISFIED
                ):
                    failed.append(atomic)
        return tuple(failed)


# --- constraints -------------------------------------------------------------------------------

#: Truth in three-valued logic: True, False or None (unknown).
_Truth = bool | None


@dataclass(frozen=True)
class _Actual:
    """The value a left operand has for the request; ``broader``: what it is a kind or a part of."""

    values: tuple[Any, ...]
    broader: frozenset[Any] = frozenset()
    shown: object = None


@dataclass(frozen=True)
class _Fixed:
    """A constraint whose state is known without comparing (unknown value, deferred, structural)."""

    state: ConstraintState
    reason: str
    actual: object = None


def _map_right(right: RightOperand, convert: Any) -> Any:
    if isinstance(right, tuple):
        return tuple(convert(item) for item in right)
    return convert(right)


def _party_name(value: object) -> str:
    text = str(value)
    try:
        return PartyType.parse(text).value
    except BadRequestData:
        return text


def _time_bucket(request: RequestContext) -> _Actual | _Fixed:
    if request.temporal_resolution is None:
        return _Fixed(ConstraintState.DEFERRED, "the request states no time bucket; the answer is bucketed instead")
    return _Actual((request.temporal_resolution,))


def _spatial_resolution(request: RequestContext) -> _Actual | _Fixed:
    if request.spatial_resolution is None:
        return _Fixed(
            ConstraintState.DEFERRED, "the request states no spatial resolution; the answer is aggregated instead"
        )
    return _Actual((request.spatial_resolution,))


def _fact(request: RequestContext, left: LeftOperand) -> _Actual | _Fixed:
    for key in (left.value, left.term):
        if key in request.facts:
            value = request.facts[key]
            values = value if isinstance(value, tuple) else (value,)
            return _Actual(tuple(str(v) if isinstance(v, Iri) else v for v in values), shown=value)
    return _Fixed(ConstraintState.UNKNOWN, f"the request gives no value for {left.term}")


def _observe(
    constraint: Constraint, right: RightOperand, request: RequestContext
) -> tuple[_Actual | _Fixed, RightOperand]:
    """The actual value for the constraint's left operand, and the right operand in comparable form."""
    left = constraint.left_operand
    now = request.now
    if left is LeftOperand.DATE_TIME:
        if isinstance(right, date) and not isinstance(right, datetime):
            return _Actual((now.astimezone(UTC).date(),)), right
        return _Actual((now,)), right
    if left is LeftOperand.ELAPSED_TIME:
        start = request.agreement_start or now
        return _Actual((now - start,)), right
    if left is LeftOperand.DELAY_PERIOD:
        if request.newest_data_at is None:
            return _Fixed(
                ConstraintState.DEFERRED, "the request names no newest data; the answer is embargoed instead"
            ), right
        return _Actual((now - request.newest_data_at,)), right
    if left is LeftOperand.COUNT:
        if request.uses_in_interval is None:
            return _Fixed(ConstraintState.DEFERRED, "uses are counted by the enforcement layer"), right
        # The count includes the use being asked for: with count lteq 10, the 11th use is refused.
        return _Actual((request.uses_in_interval + 1,)), right
    if left is LeftOperand.TIME_INTERVAL:
        return _Fixed(ConstraintState.SATISFIED, "defines the window the count is kept in", right), right
    if left is LeftOperand.PURPOSE:
        if request.purpose is None:
            return _Fixed(ConstraintState.UNKNOWN, "the request states no purpose"), right
        return (
            _Actual((purpose_iri(request.purpose),), purpose_ancestors(request.purpose), request.purpose),
            _map_right(right, purpose_iri),
        )
    if left is LeftOperand.RECIPIENT:
        broader = set(request.party_collections)
        if request.party_type is not None:
            broader |= party_type_ancestors(request.party_type)
        shown = f"{request.party} ({request.party_type.term})" if request.party_type else request.party
        return _Actual((request.party,), frozenset(broader), shown), _map_right(right, _party_name)
    if left is LeftOperand.SPATIAL:
        if request.area is None:
            return _Fixed(
                ConstraintState.DEFERRED, "the request names no area; the answer is restricted instead"
            ), right
        return _Actual((request.area,), request.area_within), _map_right(right, str)
    if left is LeftOperand.SPATIAL_RESOLUTION:
        return _spatial_resolution(request), _map_right(right, SpatialResolution.parse)
    if left is LeftOperand.TIME_BUCKET:
        return _time_bucket(request), right
    if left is LeftOperand.RESOLUTION:
        first = right[0] if isinstance(right, tuple) else right
        if isinstance(first, timedelta):
            return _time_bucket(request), right
        if isinstance(first, str | Iri):
            return _spatial_resolution(request), _map_right(right, SpatialResolution.parse)
        return _fact(request, left), right
    if left is LeftOperand.MIN_GROUP_SIZE:
        if request.min_group_size is None:
            return _Fixed(
                ConstraintState.DEFERRED, "the request states no group size; small cells are suppressed instead"
            ), right
        return _Actual((request.min_group_size,)), right
    if left is LeftOperand.EPSILON_BUDGET:
        budget = _map_right(right, float)
        if request.epsilon_requested is None:
            return _Actual((request.epsilon_spent,), shown=f"{request.epsilon_spent} spent"), budget
        total = request.epsilon_spent + request.epsilon_requested
        return _Actual(
            (total,), shown=f"{total} ({request.epsilon_spent} spent + {request.epsilon_requested} asked)"
        ), budget
    return _fact(request, left), _map_right(right, lambda v: str(v) if isinstance(v, Iri) else v)


def _compare(operator: Operator, actual: _Actual, right: RightOperand) -> _Truth:
    """Apply the operator; None when the values do not compare."""
    rights = right if isinstance(right, tuple) else (right,)
    pool = set(actual.values) | actual.broader
    try:
        if operator in (Operator.EQ, Operator.NEQ):
            if isinstance(right, tuple):
                equal = set(actual.values) == set(right)
            else:
                equal = len(actual.values) == 1 and actual.values[0] == right
            return equal if operator is Operator.EQ else not equal
        if operator.is_ordering:
            if isinstance(right, tuple) or len(actual.values) != 1:
                return None
            value = actual.values[0]
            if operator is Operator.LT:
                return bool(value < right)
            if operator is Operator.LTEQ:
                return bool(value <= right)
            if operator is Operator.GT:
                return bool(value > right)
            return bool(value >= right)
        if operator in (Operator.IS_A, Operator.IS_ANY_OF):
            return any(item in pool for item in rights)
        if operator is Operator.IS_NONE_OF:
            return not any(item in pool for item in rights)
        if operator is Operator.IS_ALL_OF:
            return all(item in pool for item in rights)
        if operator is Operator.HAS_PART:
            return all(item in actual.values for item in rights)
        # isPartOf: each value is one of the right operands, or lies within one.
        targets = set(rights)
        return all(value in targets or bool(actual.broader & targets) for value in actual.values)
    except TypeError:
        return None


def _evaluate_atomic(constraint: Constraint, request: RequestContext) -> ConstraintReport:
    try:
        right = coerce_right_operand(constraint.left_operand, constraint.operator, constraint.right_operand)
    except BadRequestData as exc:
        return ConstraintReport(constraint, ConstraintState.UNKNOWN, exc.detail, constraint.right_operand)
    observed, comparable = _observe(constraint, right, request)
    if isinstance(observed, _Fixed):
        return ConstraintReport(constraint, observed.state, observed.reason, right, observed.actual)
    operator = constraint.operator
    if constraint.left_operand is LeftOperand.DELAY_PERIOD and operator is Operator.EQ:
        # "delayPeriod eq P1D" means: only after a delay of one day (ODRL vocabulary note).
        operator = Operator.GTEQ
    outcome = _compare(operator, observed, comparable)
    shown = (
        observed.shown
        if observed.shown is not None
        else (observed.values[0] if len(observed.values) == 1 else observed.values)
    )
    if outcome is None:
        reason = f"{format_value(shown)} does not compare with {format_value(right)}"
        return ConstraintReport(constraint, ConstraintState.UNKNOWN, reason, right, shown)
    if constraint.left_operand is LeftOperand.EPSILON_BUDGET and request.epsilon_requested is None and outcome:
        return ConstraintReport(
            constraint, ConstraintState.DEFERRED, "each query's epsilon is checked against what is left", right, shown
        )
    state = ConstraintState.SATISFIED if outcome else ConstraintState.NOT_SATISFIED
    return ConstraintReport(constraint, state, f"actual value {format_value(shown)}", right, shown)


def _truth(report: ConstraintReport, *, optimistic: bool, conjunctive: bool) -> _Truth:
    """Three-valued truth: deferred is true only for permissions/duties, where it must hold anyway."""
    if report.state is ConstraintState.SATISFIED:
        return True
    if report.state is ConstraintState.NOT_SATISFIED:
        return False
    if report.state is ConstraintState.DEFERRED and optimistic and conjunctive:
        return True
    return None


def _and(truths: Iterable[_Truth]) -> _Truth:
    values = list(truths)
    if False in values:
        return False
    return None if None in values else True


def _evaluate(
    constraint: ConstraintLike, request: RequestContext, *, optimistic: bool, conjunctive: bool
) -> tuple[ConstraintReport, _Truth]:
    if isinstance(constraint, Constraint):
        report = _evaluate_atomic(constraint, request)
        return report, _truth(report, optimistic=optimistic, conjunctive=conjunctive)
    operator = constraint.operator
    inner_conjunctive = conjunctive and operator in (LogicalOperator.AND, LogicalOperator.AND_SEQUENCE)
    members: list[ConstraintReport] = []
    truths: list[_Truth] = []
    for index, member in enumerate(constraint.constraints):
        report, truth = _evaluate(member, request, optimistic=optimistic, conjunctive=inner_conjunctive)
        members.append(report)
        truths.append(truth)
        if operator is LogicalOperator.AND_SEQUENCE and truth is not True:
            members.extend(
                ConstraintReport(
                    rest, ConstraintState.UNKNOWN, "not evaluated: an earlier constraint of the sequence does not hold"
                )
                for rest in constraint.constraints[index + 1 :]
            )
            break
    result: _Truth
    if operator in (LogicalOperator.AND, LogicalOperator.AND_SEQUENCE):
        result = _and(truths)
    elif operator is LogicalOperator.OR:
        result = True if True in truths else (None if None in truths else False)
    else:  # xone: exactly one
        satisfied = truths.count(True)
        result = False if satisfied > 1 else (None if None in truths else satisfied == 1)
    if result is True:
        # Deferred only when a deferred member is what made it hold.
        deferred = any(m.state is ConstraintState.DEFERRED and t is True for m, t in zip(members, truths, strict=False))
        state = ConstraintState.DEFERRED if deferred else ConstraintState.SATISFIED
    else:
        state = ConstraintState.NOT_SATISFIED if result is False else ConstraintState.UNKNOWN
    held = truths.count(True)
    reason = f"{held} of {len(constraint.constraints)} member constraints hold"
    return ConstraintReport(constraint, state, reason, members=tuple(members)), result


def _evaluate_all(
    constraints: Iterable[ConstraintLike], request: RequestContext, *, optimistic: bool
) -> tuple[tuple[ConstraintReport, ...], _Truth]:
    reports: list[ConstraintReport] = []
    truths: list[_Truth] = []
    for constraint in constraints:
        report, truth = _evaluate(constraint, request, optimistic=optimistic, conjunctive=True)
        reports.append(report)
        truths.append(truth)
    return tuple(reports), _and(truths)


# --- rules -------------------------------------------------------------------------------------


def _match_target(target: Asset | None, request: RequestContext) -> MatchState:
    if target is None:
        return MatchState.UNSPECIFIED
    known = {request.target, *request.asset_collections}
    if target.uid in known or (target.source is not None and target.source in known):
        return MatchState.MATCHED
    return MatchState.NOT_MATCHED


def _match_party(party: Party | None, request: RequestContext) -> MatchState:
    if party is None:
        return MatchState.UNSPECIFIED
    known = {request.party, *request.party_collections}
    if request.party_type is not None:
        known |= party_type_ancestors(request.party_type)
    if party.uid in known or (party.source is not None and party.source in known):
        return MatchState.MATCHED
    return MatchState.NOT_MATCHED


def _match_action(action: Action | None, request: RequestContext, kind: RuleKind) -> MatchState:
    if action is None:
        return MatchState.UNSPECIFIED
    if includes(action.type, request.action):
        return MatchState.MATCHED
    if kind is RuleKind.PROHIBITION and includes(request.action, action.type):
        return MatchState.MATCHED
    return MatchState.NOT_MATCHED


def _refinements(rule: Rule) -> tuple[ConstraintLike, ...]:
    found: list[ConstraintLike] = []
    if rule.action is not None:
        found.extend(rule.action.refinements)
    if rule.target is not None:
        found.extend(rule.target.refinements)
    if rule.assignee is not None:
        found.extend(rule.assignee.refinements)
    return tuple(found)


_DEADLINE_OPERANDS: Final = frozenset({LeftOperand.DATE_TIME, LeftOperand.ELAPSED_TIME})
_DEADLINE_OPERATORS: Final = frozenset({Operator.LT, Operator.LTEQ, Operator.EQ})
_DUTY_PARAMETERS: Final = frozenset({LeftOperand.PAY_AMOUNT, LeftOperand.UNIT_OF_COUNT})


def _instant(value: date, *, inclusive: bool) -> datetime:
    """A date as the instant it starts (or, inclusive, the instant the next day starts), in UTC."""
    if isinstance(value, datetime):
        return value
    day = value + timedelta(days=1) if inclusive else value
    return datetime.combine(day, time(), tzinfo=UTC)


def _deadline(constraint: Constraint, request: RequestContext) -> datetime | None:
    right = coerce_right_operand(constraint.left_operand, constraint.operator, constraint.right_operand)
    if constraint.left_operand is LeftOperand.DATE_TIME and isinstance(right, date):
        return _instant(right, inclusive=constraint.operator is not Operator.LT)
    if constraint.left_operand is LeftOperand.ELAPSED_TIME and isinstance(right, timedelta):
        return (request.agreement_start or request.now) + right
    return None


def _duty_keys(duty: Duty) -> set[str]:
    keys = {duty.uid} if duty.uid else set()
    if duty.action is not None:
        keys |= {duty.action.type.value, duty.action.type.term}
    return keys


def _evaluate_duty(duty: Duty, request: RequestContext) -> DutyReport:
    reports: list[ConstraintReport] = []
    conditions: list[ConstraintLike] = []
    deadline: datetime | None = None
    for constraint in duty.constraints:
        if isinstance(constraint, Constraint) and constraint.left_operand in _DUTY_PARAMETERS:
            reports.append(
                ConstraintReport(
                    constraint, ConstraintState.SATISFIED, "a parameter of the duty", constraint.right_operand
                )
            )
        elif (
            isinstance(constraint, Constraint)
            and constraint.left_operand in _DEADLINE_OPERANDS
            and constraint.operator in _DEADLINE_OPERATORS
        ):
            try:
                due = _deadline(constraint, request)
            except BadRequestData as exc:
                reports.append(
                    ConstraintReport(constraint, ConstraintState.UNKNOWN, exc.detail, constraint.right_operand)
                )
                continue
            if due is not None:
                deadline = due if deadline is None else min(deadline, due)
            reports.append(
                ConstraintReport(
                    constraint,
                    ConstraintState.SATISFIED,
                    f"sets the deadline {format_value(due)}",
                    constraint.right_operand,
                    due,
                )
            )
        else:
            conditions.append(constraint)
    condition_reports, owed = _evaluate_all(conditions, request, optimistic=False)
    reports.extend(condition_reports)
    keys = _duty_keys(duty)
    name = duty.action.type.term if duty.action else "duty"
    if owed is False:
        return DutyReport(
            duty, DutyState.NOT_REQUIRED, f"{name}: its conditions do not hold", tuple(reports), deadline=deadline
        )
    if keys & request.violated_duties or (
        deadline is not None and deadline <= request.now and not keys & request.fulfilled_duties
    ):
        consequences = tuple(_evaluate_duty(consequence, request) for consequence in duty.consequences)
        if consequences and all(c.state is DutyState.FULFILLED for c in consequences):
            return DutyReport(
                duty,
                DutyState.REMEDIED,
                f"{name} was violated; its consequences are fulfilled",
                tuple(reports),
                consequences,
                deadline,
            )
        overdue = "" if keys & request.violated_duties else f" (overdue since {format_value(deadline)})"
        return DutyReport(
            duty, DutyState.VIOLATED, f"{name} is violated{overdue}", tuple(reports), consequences, deadline
        )
    if keys & request.fulfilled_duties:
        return DutyReport(duty, DutyState.FULFILLED, f"{name} is fulfilled", tuple(reports), deadline=deadline)
    return DutyReport(duty, DutyState.PENDING, f"{name} is owed", tuple(reports), deadline=deadline)


def _evaluate_rule(rule: Rule, request: RequestContext) -> RuleReport:
    kind = rule.kind
    target = _match_target(rule.target, request)
    party = _match_party(rule.assignee, request)
    action = _match_action(rule.action, request, kind)
    optimistic = kind is not RuleKind.PROHIBITION
    reports, truth = _evaluate_all((*rule.constraints, *_refinements(rule)), request, optimistic=optimistic)
    matches = MatchState.NOT_MATCHED not in (target, party, action)
    duties: tuple[DutyReport, ...] = ()
    if isinstance(rule, Permission):
        duties = tuple(_evaluate_duty(duty, request) for duty in rule.duties)
    elif isinstance(rule, Prohibition):
        duties = tuple(_evaluate_duty(remedy, request) for remedy in rule.remedies)
    if not matches:
        mismatched = [
            name
            for name, state in (("target", target), ("assignee", party), ("action", action))
            if state is MatchState.NOT_MATCHED
        ]
        return RuleReport(
            rule,
            target,
            party,
            action,
            reports,
            duties,
            False,
            f"its {', '.join(mismatched)} does not match the request",
        )
    if kind is RuleKind.PROHIBITION:
        applies = truth is not False
        reason = (
            "it applies"
            if truth
            else ("it may apply: a constraint cannot be evaluated" if applies else "a constraint does not hold")
        )
        return RuleReport(rule, target, party, action, reports, duties, applies, reason)
    if truth is not True:
        failing = [a.explain() for c in reports for a in c.atomic() if not a.holds]
        return RuleReport(
            rule, target, party, action, reports, duties, False, "; ".join(failing) or "a constraint does not hold"
        )
    violated = [d for d in duties if d.state is DutyState.VIOLATED]
    if violated:
        return RuleReport(rule, target, party, action, reports, duties, False, "; ".join(d.reason for d in violated))
    return RuleReport(rule, target, party, action, reports, duties, True, "it holds")


# --- answer obligations ------------------------------------------------------------------------


def _conjunctive(reports: Iterable[ConstraintReport]) -> Iterable[ConstraintReport]:
    """The atomic reports that must hold together (top level and inside and/andSequence)."""
    for report in reports:
        if isinstance(report.constraint, LogicalConstraint):
            if report.constraint.operator in (LogicalOperator.AND, LogicalOperator.AND_SEQUENCE):
                yield from _conjunctive(report.members)
        elif report.holds:
            yield report


def _tightest(current: Any, candidate: Any, *, larger: bool) -> Any:
    if current is None:
        return candidate
    return max(current, candidate) if larger else min(current, candidate)


def _obligations(report: RuleReport, request: RequestContext) -> AnswerObligations:
    bounds: dict[str, Any] = {}
    within: list[frozenset[str]] = []
    count: tuple[int, Operator] | None = None
    interval: timedelta | None = None

    def tighten(name: str, value: Any, *, larger: bool) -> None:
        bounds[name] = _tightest(bounds.get(name), value, larger=larger)

    for atomic in _conjunctive(report.constraints):
        constraint = atomic.constraint
        assert isinstance(constraint, Constraint)
        left, operator, right = constraint.left_operand, constraint.operator, atomic.right_operand
        if isinstance(right, tuple) and left is not LeftOperand.SPATIAL:
            continue  # a list bounds nothing (isAnyOf a few resolutions); the constraint itself was checked
        lower = operator in (Operator.GT, Operator.GTEQ, Operator.EQ)
        upper = operator in (Operator.LT, Operator.LTEQ, Operator.EQ)
        if left is LeftOperand.RESOLUTION:
            left = LeftOperand.TIME_BUCKET if isinstance(right, timedelta) else LeftOperand.SPATIAL_RESOLUTION
        if left is LeftOperand.SPATIAL_RESOLUTION and right is not None:
            level = SpatialResolution.parse(right)
            if lower:
                tighten(
                    "spatial_resolution_at_least", level.coarser() if operator is Operator.GT else level, larger=True
                )
            if upper:
                tighten("spatial_resolution_at_most", level.finer() if operator is Operator.LT else level, larger=False)
        elif left is LeftOperand.TIME_BUCKET and isinstance(right, timedelta):
            if lower:
                tighten("time_bucket_at_least", right, larger=True)
            if upper:
                tighten("time_bucket_at_most", right, larger=False)
        elif left is LeftOperand.MIN_GROUP_SIZE and isinstance(right, int) and lower:
            tighten("min_group_size", right + 1 if operator is Operator.GT else right, larger=True)
        elif left is LeftOperand.DELAY_PERIOD and isinstance(right, timedelta) and lower:
            tighten("embargo_until", request.now - right, larger=False)
        elif left is LeftOperand.EPSILON_BUDGET and isinstance(right, int | float | Decimal) and upper:
            tighten("epsilon_available", max(float(right) - request.epsilon_spent, 0.0), larger=False)
        elif left is LeftOperand.COUNT and isinstance(right, int) and upper:
            limit = right - 1 if operator is Operator.LT else right
            count = (limit, operator) if count is None else (min(count[0], limit), operator)
        elif left is LeftOperand.TIME_INTERVAL and isinstance(right, timedelta):
            interval = right
        elif left is LeftOperand.DATE_TIME and isinstance(right, date) and operator in (Operator.LT, Operator.LTEQ):
            tighten("valid_until", _instant(right, inclusive=operator is Operator.LTEQ), larger=False)
        elif left is LeftOperand.ELAPSED_TIME and isinstance(right, timedelta) and upper:
            tighten("valid_until", (request.agreement_start or request.now) + right, larger=False)
        elif left is LeftOperand.SPATIAL and operator in (
            Operator.EQ,
            Operator.IS_PART_OF,
            Operator.IS_ANY_OF,
            Operator.IS_A,
        ):
            within.append(frozenset(str(item) for item in (right if isinstance(right, tuple) else (right,))))
    quota = None
    if count is not None:
        used = request.uses_in_interval
        quota = Quota(count[0], interval, used, None if used is None else max(count[0] - used, 0))
    return AnswerObligations(**bounds, quota=quota, within_areas=tuple(within))


# --- the decision ------------------------------------------------------------------------------


def _specificity(report: RuleReport, request: RequestContext) -> int:
    if report.rule.action is None:
        return 1_000
    return action_distance(report.rule.action.type, request.action) or 0


def _required(report: DutyReport, rule_uid: str | None) -> RequiredDuty:
    duty = report.duty
    attributed = duty.party(PartyFunction.ATTRIBUTED_PARTY)
    text = duty.description
    if text is None and attributed is not None:
        text = f"Attribute {attributed.name or attributed.uid}"
    return RequiredDuty(
        action=duty.action.type if duty.action else ActionType.USE,
        state=report.state,
        uid=duty.uid,
        text=text,
        deadline=report.deadline,
        attributed_party=attributed.uid if attributed else None,
        rule_uid=rule_uid,
    )


def _applicable_obligations(policy: Policy, request: RequestContext) -> tuple[DutyReport, ...]:
    reports: list[DutyReport] = []
    for duty in policy.obligations:
        if _match_party(duty.assignee, request) is MatchState.NOT_MATCHED:
            continue
        if _match_target(duty.target, request) is MatchState.NOT_MATCHED:
            continue
        reports.append(_evaluate_duty(duty, request))
    return tuple(reports)


def _denial_reasons(
    request: RequestContext, permissions: Sequence[RuleReport], prohibitions: Sequence[RuleReport]
) -> list[str]:
    reasons = [f"prohibited by {p.describe()}: {p.reason}" for p in prohibitions]
    if not any(p.active for p in permissions):
        reasons.append(f"no permission allows {request.action.term} on {request.target} for {request.party}")
        reasons.extend(f"{p.describe()}: {p.reason}" for p in permissions if p.matches)
    return reasons


def evaluate(policy: Policy, request: RequestContext) -> Decision:
    """Decide whether ``request`` is permitted under ``policy``, with every rule's and constraint's state."""
    permissions = tuple(_evaluate_rule(rule, request) for rule in policy.permissions)
    prohibitions = tuple(_evaluate_rule(rule, request) for rule in policy.prohibitions)
    obligations = _applicable_obligations(policy, request)
    rules = (*permissions, *prohibitions)
    active = [report for report in permissions if report.active]
    applying = [report for report in prohibitions if report.active]
    strategy = policy.effective_conflict
    conflict = bool(active and applying)
    if conflict:
        permitted = strategy is ConflictStrategy.PERM
    else:
        permitted = bool(active)
    if not permitted:
        if conflict and strategy is ConflictStrategy.INVALID:
            pairs = ", ".join(p.describe() for p in (*active, *applying))
            reasons = [
                f"{pairs} apply to {request.action.term} at once, and the policy's conflict strategy "
                "(invalid, the default when none is stated) voids the policy"
            ]
        else:
            reasons = _denial_reasons(request, permissions, applying)
        return Decision(
            permitted=False,
            policy_uid=policy.uid,
            request=request,
            conflict=strategy,
            conflict_detected=conflict,
            rules=rules,
            reasons=tuple(reasons),
            obligation_reports=obligations,
        )
    granted_by = min(active, key=lambda report: _specificity(report, request))
    reasons = [f"permitted by {granted_by.describe()}"]
    if conflict:
        reasons.append("conflict strategy perm: " + ", ".join(p.describe() for p in applying) + " yields")
    duties = [_required(d, granted_by.rule.uid) for d in granted_by.duties if d.state is not DutyState.NOT_REQUIRED]
    duties.extend(_required(d, None) for d in obligations if d.state is not DutyState.NOT_REQUIRED)
    return Decision(
        permitted=True,
        policy_uid=policy.uid,
        request=request,
        conflict=strategy,
        conflict_detected=conflict,
        rules=rules,
        reasons=tuple(reasons),
        granted_by=granted_by,
        duties=tuple(duties),
        obligations=_obligations(granted_by, request),
        licence=policy.licence,
        obligation_reports=obligations,
    )
