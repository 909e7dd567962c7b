"""The Urbis city profile of ODRL: what a city puts in its data-sharing policies.

Profile IRI :data:`PROFILE_IRI`; its terms live under ``https://urbis.city/odrl/`` (prefix ``urbis:``).

**Left operands.**  The standard ones keep their ODRL meaning, read from the request context (see
:class:`urbis.marketplace.policies.evaluate.RequestContext`): ``purpose``, ``recipient`` (the asking
party and its party type), ``dateTime`` (validity), ``elapsedTime`` (since the agreement started),
``delayPeriod`` (embargo: the age of the newest data asked for), ``spatial`` (a named area),
``resolution`` (spatial or temporal, by the type of its right operand), ``count`` per
``timeInterval`` (a quota).  The profile adds four about the *answer*:

- ``urbis:spatialResolution`` — how finely the answer may locate things, ordered from fine to coarse:
  ``point`` < ``h3:15`` < … < ``h3:0`` < ``district`` < ``city``.  ``gt``/``gteq`` mean *coarser*:
  ``spatialResolution gteq district`` allows district and city aggregates only.
- ``urbis:timeBucket`` — the temporal aggregation, an ``xsd:duration`` (``timeBucket gteq PT15M``).
- ``urbis:minGroupSize`` — k: answer cells with fewer than k contributors are suppressed.
- ``urbis:epsilonBudget`` — the differential-privacy budget of an agreement (``lteq 1.0``); each
  query spends some, the evaluator compares spent + asked with the budget.

**Party types** (:class:`PartyType`) for ``recipient isA/isAnyOf``: university, company, public body,
city (a kind of public body) and person; all but a person are organisations.

**Purposes** (:data:`PURPOSES`): short terms a request or a policy may use, each an IRI (DPV where DPV
has the concept), with a small broader-than hierarchy: ``academic-research`` is ``research``;
``commercial-research`` is both ``research`` and ``commercial``.

**Builders.**  :func:`city_offer` writes the offers an officer composes in the UI (conflict strategy
``prohibit``, as city policies should state it explicitly); :func:`no_commercial_use` the prohibition
of commercial use.  :func:`coerce_right_operand` types a right operand for its left operand and is
what the JSON-LD parser and the evaluator use to read values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import total_ordering
from typing import Final, TypeVar

from pydantic import TypeAdapter, ValidationError

from urbis.core.errors import BadRequestData
from urbis.marketplace.policies.model import (
    URBIS_ODRL,
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
    Operator,
    Party,
    PartyFunction,
    Permission,
    Policy,
    PolicyType,
    Prohibition,
    RightOperand,
    Rule,
    Scalar,
    validate_policy,
)

__all__ = [
    "DURATION_OPERANDS",
    "PROFILE_IRI",
    "PURPOSES",
    "PartyType",
    "SpatialResolution",
    "city_offer",
    "coerce_right_operand",
    "format_duration",
    "no_commercial_use",
    "normalise_policy",
    "parse_duration",
    "party_type_ancestors",
    "purpose_ancestors",
    "purpose_iri",
]

PROFILE_IRI: Final = URBIS_ODRL + "profile"
DPV: Final = "https://w3id.org/dpv#"


class PartyType(StrEnum):
    """Who asks: the party types a policy can name (values are IRIs)."""

    UNIVERSITY = URBIS_ODRL + "University"
    COMPANY = URBIS_ODRL + "Company"
    PUBLIC_BODY = URBIS_ODRL + "PublicBody"
    CITY = URBIS_ODRL + "City"  # a city administration is a public body
    PERSON = URBIS_ODRL + "Person"
    ORGANISATION = URBIS_ODRL + "Organisation"  # abstract: every party type but a person

    @property
    def term(self) -> str:
        """The short term (``public-body``)."""
        return _PARTY_TYPE_TERMS[self]

    @classmethod
    def parse(cls, name: str) -> PartyType:
        """The party type named by a term (``university``), a compact IRI or an IRI."""
        for member in cls:
            if name in (member.value, member.term, "urbis:" + member.value.removeprefix(URBIS_ODRL)):
                return member
        raise BadRequestData(f"unknown party type {name!r}; known: {', '.join(m.term for m in cls)}")


_PARTY_TYPE_TERMS: Final[dict[PartyType, str]] = {
    PartyType.UNIVERSITY: "university",
    PartyType.COMPANY: "company",
    PartyType.PUBLIC_BODY: "public-body",
    PartyType.CITY: "city",
    PartyType.PERSON: "person",
    PartyType.ORGANISATION: "organisation",
}

_PARTY_TYPE_BROADER: Final[dict[PartyType, tuple[PartyType, ...]]] = {
    PartyType.UNIVERSITY: (PartyType.ORGANISATION,),
    PartyType.COMPANY: (PartyType.ORGANISATION,),
    PartyType.PUBLIC_BODY: (PartyType.ORGANISATION,),
    PartyType.CITY: (PartyType.PUBLIC_BODY, PartyType.ORGANISATION),
    PartyType.PERSON: (),
    PartyType.ORGANISATION: (),
}


def party_type_ancestors(party_type: PartyType) -> frozenset[str]:
    """The IRIs a party of this type *is a*: its own type and every broader one."""
    return frozenset({party_type.value, *(broader.value for broader in _PARTY_TYPE_BROADER[party_type])})


@dataclass(frozen=True)
class _Purpose:
    iri: str
    broader: tuple[str, ...] = ()  # terms


#: The purposes of the profile by short term; IRIs from DPV where DPV names the concept.
PURPOSES: Final[dict[str, _Purpose]] = {
    "research": _Purpose(DPV + "ResearchAndDevelopment"),
    "academic-research": _Purpose(DPV + "AcademicResearch", ("research", "non-commercial-research")),
    "non-commercial-research": _Purpose(DPV + "NonCommercialResearch", ("research",)),
    "commercial-research": _Purpose(DPV + "CommercialResearch", ("research", "commercial")),
    "commercial": _Purpose(URBIS_ODRL + "purpose/commercial"),
    "public-interest": _Purpose(URBIS_ODRL + "purpose/public-interest"),
    "city-operations": _Purpose(URBIS_ODRL + "purpose/city-operations", ("public-interest",)),
    "education": _Purpose(URBIS_ODRL + "purpose/education"),
    "journalism": _Purpose(URBIS_ODRL + "purpose/journalism", ("public-interest",)),
}
_PURPOSE_BY_IRI: Final[dict[str, str]] = {purpose.iri: term for term, purpose in PURPOSES.items()}
_DPV_PREFIX: Final = "dpv:"


def purpose_iri(value: str | Iri) -> str:
    """The IRI of a purpose given as a profile term, a ``dpv:``/``urbis:`` compact IRI or an IRI."""
    text = str(value)
    if text in PURPOSES:
        return PURPOSES[text].iri
    if text.startswith(_DPV_PREFIX):
        return DPV + text.removeprefix(_DPV_PREFIX)
    if text.startswith("urbis:"):
        return URBIS_ODRL + text.removeprefix("urbis:")
    return text


def purpose_ancestors(value: str | Iri) -> frozenset[str]:
    """The IRIs of every purpose broader than this one (not itself)."""
    found: set[str] = set()
    pending = [_PURPOSE_BY_IRI.get(purpose_iri(value))]
    while pending:
        term = pending.pop()
        if term is None:
            continue
        for broader in PURPOSES[term].broader:
            if PURPOSES[broader].iri not in found:
                found.add(PURPOSES[broader].iri)
                pending.append(broader)
    return frozenset(found)


_H3_MAX: Final = 15
_H3_PATTERN: Final = re.compile(r"h3:(\d{1,2})")


@total_ordering
@dataclass(frozen=True)
class SpatialResolution:
    """How finely an answer may place things; ordered by coarseness (``point`` is the finest)."""

    rank: int  # 0 = point, 1 = h3:15 … 16 = h3:0, 17 = district, 18 = city

    POINT_RANK = 0
    DISTRICT_RANK = _H3_MAX + 2
    CITY_RANK = _H3_MAX + 3

    def __post_init__(self) -> None:
        if not self.POINT_RANK <= self.rank <= self.CITY_RANK:
            raise ValueError(f"no spatial resolution has rank {self.rank}")

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SpatialResolution):
            return NotImplemented
        return self.rank < other.rank

    @classmethod
    def parse(cls, text: object) -> SpatialResolution:
        """``point``, ``h3:0`` … ``h3:15``, ``district`` or ``city`` (also as ``urbis:`` IRIs)."""
        if isinstance(text, SpatialResolution):
            return text
        name = str(text).removeprefix(URBIS_ODRL).removeprefix("urbis:")
        if name == "point":
            return cls(cls.POINT_RANK)
        if name == "district":
            return cls(cls.DISTRICT_RANK)
        if name == "city":
            return cls(cls.CITY_RANK)
        match = _H3_PATTERN.fullmatch(name)
        if match and int(match.group(1)) <= _H3_MAX:
            return cls(_H3_MAX + 1 - int(match.group(1)))
        raise BadRequestData(f"{text!r} is not a spatial resolution (point, h3:0 … h3:15, district, city)")

    @classmethod
    def h3(cls, resolution: int) -> SpatialResolution:
        """The H3 grid at ``resolution`` (0 coarsest … 15 finest)."""
        return cls.parse(f"h3:{resolution}")

    @property
    def label(self) -> str:
        """The text form (``h3:7``)."""
        if self.rank == self.POINT_RANK:
            return "point"
        if self.rank == self.DISTRICT_RANK:
            return "district"
        if self.rank == self.CITY_RANK:
            return "city"
        return f"h3:{_H3_MAX + 1 - self.rank}"

    def coarser(self) -> SpatialResolution:
        """The next coarser level (city stays city)."""
        return SpatialResolution(min(self.rank + 1, self.CITY_RANK))

    def finer(self) -> SpatialResolution:
        """The next finer level (point stays point)."""
        return SpatialResolution(max(self.rank - 1, self.POINT_RANK))

    def __str__(self) -> str:
        return self.label


POINT: Final = SpatialResolution(SpatialResolution.POINT_RANK)
DISTRICT: Final = SpatialResolution(SpatialResolution.DISTRICT_RANK)
CITY: Final = SpatialResolution(SpatialResolution.CITY_RANK)

_DURATION_PATTERN: Final = re.compile(
    r"-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
)
_TIMEDELTA: Final = TypeAdapter(timedelta)

#: The left operands whose right operand is an xsd:duration.
DURATION_OPERANDS: Final = frozenset(
    {
        LeftOperand.DELAY_PERIOD,
        LeftOperand.ELAPSED_TIME,
        LeftOperand.METERED_TIME,
        LeftOperand.TIME_INTERVAL,
        LeftOperand.TIME_BUCKET,
    }
)


def parse_duration(text: object) -> timedelta:
    """An ISO 8601 / xsd:duration (``PT15M``, ``P1D``) as a timedelta; a month counts 30 days, a year 365."""
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str) or not _DURATION_PATTERN.fullmatch(text):
        raise BadRequestData(f"{text!r} is not an xsd:duration such as PT15M or P1D")
    try:
        return _TIMEDELTA.validate_python(text)
    except ValidationError as exc:
        raise BadRequestData(f"{text!r} is not an xsd:duration such as PT15M or P1D") from exc


def format_duration(value: timedelta) -> str:
    """A timedelta as an xsd:duration (``PT15M``, ``P1D``)."""
    return str(_TIMEDELTA.dump_python(value, mode="json"))


def parse_date_time(value: object) -> datetime | date:
    """An xsd:dateTime (naive ones are taken as UTC) or an xsd:date."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            if "T" in value:
                moment = datetime.fromisoformat(value)
                return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise BadRequestData(f"{value!r} is not an xsd:dateTime or xsd:date")


def _integer(value: object) -> int:
    if isinstance(value, bool):
        raise BadRequestData(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal | float) and value == int(value):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    raise BadRequestData(f"{value!r} is not an integer")


def _number(value: object) -> int | float | Decimal:
    if isinstance(value, bool):
        raise BadRequestData(f"{value!r} is not a number")
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            pass
    raise BadRequestData(f"{value!r} is not a number")


def _name(value: object) -> str | Iri:
    if isinstance(value, str | Iri):
        return value
    raise BadRequestData(f"{value!r} is neither a term nor an IRI")


def _resolution(value: object) -> Scalar:
    """odrl:resolution: a duration (temporal), a spatial resolution label, or a number (e.g. dpi)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str) and value.startswith(("P", "-P")):
        return parse_duration(value)
    if isinstance(value, str | Iri):
        SpatialResolution.parse(str(value))
        return value
    return _number(value)


def _spatial_resolution(value: object) -> str:
    return SpatialResolution.parse(value).label


_COERCERS: Final = {
    LeftOperand.DATE_TIME: parse_date_time,
    LeftOperand.COUNT: _integer,
    LeftOperand.MIN_GROUP_SIZE: _integer,
    LeftOperand.EPSILON_BUDGET: _number,
    LeftOperand.PAY_AMOUNT: _number,
    LeftOperand.PERCENTAGE: _number,
    LeftOperand.SPATIAL_RESOLUTION: _spatial_resolution,
    LeftOperand.RESOLUTION: _resolution,
    LeftOperand.PURPOSE: _name,
    LeftOperand.RECIPIENT: _name,
    LeftOperand.SPATIAL: _name,
    **dict.fromkeys(DURATION_OPERANDS, parse_duration),
}

#: Which operators make sense for the profile's left operands (others: any operator).
_OPERATORS: Final[dict[LeftOperand, frozenset[Operator]]] = {
    LeftOperand.TIME_INTERVAL: frozenset({Operator.EQ}),
    LeftOperand.PURPOSE: frozenset(
        {Operator.EQ, Operator.NEQ, Operator.IS_A, Operator.IS_ANY_OF, Operator.IS_NONE_OF, Operator.IS_PART_OF}
    ),
    LeftOperand.RECIPIENT: frozenset(
        {Operator.EQ, Operator.NEQ, Operator.IS_A, Operator.IS_ANY_OF, Operator.IS_NONE_OF, Operator.IS_PART_OF}
    ),
    LeftOperand.SPATIAL: frozenset(
        {Operator.EQ, Operator.NEQ, Operator.IS_PART_OF, Operator.IS_ANY_OF, Operator.IS_NONE_OF}
    ),
}


def coerce_right_operand(left: LeftOperand, operator: Operator, value: RightOperand) -> RightOperand:
    """The right operand typed for its left operand (e.g. a string ``PT15M`` becomes a timedelta).

    Raises BadRequestData, naming the left operand, when the value cannot be one, or when the
    operator does not fit the left operand (``timeInterval`` takes ``eq`` only).
    """
    allowed = _OPERATORS.get(left)
    if allowed is not None and operator not in allowed:
        raise BadRequestData(f"{left.term} does not take the operator {operator.term}")
    coerce = _COERCERS.get(left)
    if coerce is None:
        return value
    try:
        if isinstance(value, tuple):
            return tuple(coerce(item) for item in value)  # type: ignore[operator]
        if operator.is_set_operator:
            return (coerce(value),)  # type: ignore[operator]
        return coerce(value)  # type: ignore[operator,no-any-return]
    except BadRequestData as exc:
        raise BadRequestData(f"{left.term} {operator.term}: {exc.detail}") from exc


def _normalise_constraint(constraint: ConstraintLike) -> ConstraintLike:
    if isinstance(constraint, LogicalConstraint):
        return replace(constraint, constraints=tuple(_normalise_constraint(c) for c in constraint.constraints))
    right = coerce_right_operand(constraint.left_operand, constraint.operator, constraint.right_operand)
    if constraint.operator.is_ordering and isinstance(right, tuple):
        raise BadRequestData(f"{constraint.left_operand.term} {constraint.operator.term} compares with one value")
    return replace(constraint, right_operand=right)


def _normalise_constraints(constraints: Iterable[ConstraintLike]) -> tuple[ConstraintLike, ...]:
    return tuple(_normalise_constraint(c) for c in constraints)


def _normalise_party(party: Party | None) -> Party | None:
    if party is None or not party.refinements:
        return party
    return replace(party, refinements=_normalise_constraints(party.refinements))


_R = TypeVar("_R", bound=Rule)


def _normalise_rule(rule: _R) -> _R:
    changes: dict[str, object] = {
        "constraints": _normalise_constraints(rule.constraints),
        "assignee": _normalise_party(rule.assignee),
    }
    if rule.action is not None and rule.action.refinements:
        changes["action"] = replace(rule.action, refinements=_normalise_constraints(rule.action.refinements))
    if rule.target is not None and rule.target.refinements:
        changes["target"] = replace(rule.target, refinements=_normalise_constraints(rule.target.refinements))
    if isinstance(rule, Permission):
        changes["duties"] = tuple(_normalise_rule(duty) for duty in rule.duties)
    elif isinstance(rule, Prohibition):
        changes["remedies"] = tuple(_normalise_rule(duty) for duty in rule.remedies)
    elif isinstance(rule, Duty):
        changes["consequences"] = tuple(_normalise_rule(duty) for duty in rule.consequences)
    return replace(rule, **changes)  # type: ignore[arg-type]


def normalise_policy(policy: Policy) -> Policy:
    """Every right operand typed for its left operand, then the per-type checks; BadRequestData if wrong."""
    return validate_policy(
        replace(
            policy,
            permissions=tuple(_normalise_rule(rule) for rule in policy.permissions),
            prohibitions=tuple(_normalise_rule(rule) for rule in policy.prohibitions),
            obligations=tuple(_normalise_rule(rule) for rule in policy.obligations),
        )
    )


def no_commercial_use(*, assigner: Party | None = None, target: Asset | None = None) -> tuple[Prohibition, ...]:
    """The prohibition of commercial use: the action ``commercialize``, and any use for a commercial purpose."""
    return (
        Prohibition(
            action=Action(ActionType.COMMERCIALIZE),
            target=target,
            assigner=assigner,
            description="No commercial use.",
        ),
        Prohibition(
            action=Action(ActionType.USE),
            target=target,
            assigner=assigner,
            constraints=(Constraint(LeftOperand.PURPOSE, Operator.IS_A, "commercial"),),
            description="No use for a commercial purpose.",
        ),
    )


def city_offer(
    uid: str,
    *,
    target: str,
    assigner: str,
    actions: Iterable[ActionType] = (ActionType.READ, ActionType.AGGREGATE),
    party_types: Iterable[PartyType] = (),
    purposes: Iterable[str] = (),
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    agreement_lasts: timedelta | None = None,
    embargo: timedelta | None = None,
    spatial_resolution: SpatialResolution | str | None = None,
    time_bucket: timedelta | None = None,
    min_group_size: int | None = None,
    epsilon_budget: float | Decimal | None = None,
    quota: tuple[int, timedelta] | None = None,
    attribution: str | None = None,
    delete_after: timedelta | None = None,
    commercial_use: bool = False,
    licence: str | None = None,
    title: str | None = None,
) -> Policy:
    """An Offer as an officer composes it: one permission per action, all sharing the same conditions.

    Each argument adds a constraint (``party_types``: recipient isAnyOf; ``purposes``: purpose
    isAnyOf; ``valid_from``/``valid_until``: dateTime; ``agreement_lasts``: elapsedTime lteq;
    ``embargo``: delayPeriod gteq; ``spatial_resolution``: at least this coarse; ``time_bucket``: at
    least this long; ``min_group_size``: k; ``epsilon_budget``: lteq; ``quota``: count lteq n per
    timeInterval) or a duty (``attribution``: attribute; ``delete_after``: delete once the time since
    the agreement's start has elapsed).  Unless ``commercial_use``, commercial use is prohibited.
    Conflicts resolve with ``prohibit``.
    """
    city = Party(uid=assigner)
    asset = Asset(uid=target)
    constraints: list[Constraint] = []
    if party_types:
        constraints.append(
            Constraint(LeftOperand.RECIPIENT, Operator.IS_ANY_OF, tuple(Iri(t.value) for t in party_types))
        )
    if purposes:
        constraints.append(Constraint(LeftOperand.PURPOSE, Operator.IS_ANY_OF, tuple(purposes)))
    if valid_from is not None:
        constraints.append(Constraint(LeftOperand.DATE_TIME, Operator.GTEQ, valid_from))
    if valid_until is not None:
        constraints.append(Constraint(LeftOperand.DATE_TIME, Operator.LT, valid_until))
    if agreement_lasts is not None:
        constraints.append(Constraint(LeftOperand.ELAPSED_TIME, Operator.LTEQ, agreement_lasts))
    if embargo is not None:
        constraints.append(Constraint(LeftOperand.DELAY_PERIOD, Operator.GTEQ, embargo))
    if spatial_resolution is not None:
        level = SpatialResolution.parse(spatial_resolution).label
        constraints.append(Constraint(LeftOperand.SPATIAL_RESOLUTION, Operator.GTEQ, level))
    if time_bucket is not None:
        constraints.append(Constraint(LeftOperand.TIME_BUCKET, Operator.GTEQ, time_bucket))
    if min_group_size is not None:
        constraints.append(Constraint(LeftOperand.MIN_GROUP_SIZE, Operator.GTEQ, min_group_size))
    if epsilon_budget is not None:
        constraints.append(Constraint(LeftOperand.EPSILON_BUDGET, Operator.LTEQ, epsilon_budget))
    if quota is not None:
        limit, interval = quota
        constraints.append(Constraint(LeftOperand.COUNT, Operator.LTEQ, limit))
        constraints.append(Constraint(LeftOperand.TIME_INTERVAL, Operator.EQ, interval))
    duties: list[Duty] = []
    if attribution is not None:
        duties.append(
            Duty(
                action=Action(ActionType.ATTRIBUTE),
                description=attribution,
                functions=((PartyFunction.ATTRIBUTED_PARTY, city),),
            )
        )
    if delete_after is not None:
        duties.append(
            Duty(
                action=Action(ActionType.DELETE),
                constraints=(Constraint(LeftOperand.ELAPSED_TIME, Operator.LTEQ, delete_after),),
                description="Delete the data once the agreement's time has elapsed.",
            )
        )
    permissions = tuple(
        Permission(
            action=Action(action),
            target=asset,
            assigner=city,
            constraints=tuple(constraints),
            duties=tuple(duties),
        )
        for action in actions
    )
    prohibitions = () if commercial_use else no_commercial_use(assigner=city, target=asset)
    return normalise_policy(
        Policy(
            uid=uid,
            type=PolicyType.OFFER,
            permissions=permissions,
            prohibitions=prohibitions,
            conflict=ConflictStrategy.PROHIBIT,
            profiles=(PROFILE_IRI,),
            licence=licence,
            title=title,
        )
    )
