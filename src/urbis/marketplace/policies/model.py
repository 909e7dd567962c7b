"""The ODRL 2.2 information model as plain frozen dataclasses (https://www.w3.org/TR/odrl-model/).

A :class:`Policy` (Set, Offer, Agreement or Request) holds permissions, prohibitions and obligations.
Every rule names an :class:`Action` (the ODRL action vocabulary is the :class:`ActionType` enum, with
its ``includedIn`` hierarchy in :data:`INCLUDED_IN`), an optional target :class:`Asset`, assigner and
assignee :class:`Party`, and constraints: atomic :class:`Constraint` (``leftOperand operator
rightOperand``) or :class:`LogicalConstraint` (``or``, ``xone``, ``and``, ``andSequence``).
Permissions carry duties (pre-conditions), prohibitions carry remedies, duties carry consequences.

Terms are IRIs (the enums are ``StrEnum`` whose values are the full IRIs); right operands are typed
Python values: ``str`` (a literal), :class:`Iri`, ``int``, ``float``, ``Decimal``, ``bool``,
``datetime`` (aware), ``date`` and ``timedelta`` (an ``xsd:duration``), or a tuple of them.

Rules here are *atomic*: a rule with several actions, targets or assignees in JSON-LD is split into
one rule per combination when parsed (ODRL 2.2 §2.7.1), and the policy-level ``target``,
``assigner``, ``assignee`` and ``action`` are copied into every rule.  The model is pure data: no
I/O, no clock; :mod:`urbis.marketplace.policies.evaluate` gives it meaning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final, Self

from urbis.core.errors import BadRequestData

__all__ = [
    "CC",
    "INCLUDED_IN",
    "ODRL",
    "URBIS_ODRL",
    "XSD",
    "Action",
    "ActionType",
    "Asset",
    "ConflictStrategy",
    "Constraint",
    "ConstraintLike",
    "Duty",
    "Iri",
    "LeftOperand",
    "LogicalConstraint",
    "LogicalOperator",
    "Operator",
    "Party",
    "PartyFunction",
    "Permission",
    "Policy",
    "PolicyType",
    "Prohibition",
    "RightOperand",
    "Rule",
    "RuleKind",
    "Scalar",
    "action_distance",
    "compact_term",
    "includes",
    "validate_policy",
]

ODRL: Final = "http://www.w3.org/ns/odrl/2/"
#: The namespace of the Urbis city profile's own terms (left operands, party types, purposes).
URBIS_ODRL: Final = "https://urbis.city/odrl/"
CC: Final = "http://creativecommons.org/ns#"
XSD: Final = "http://www.w3.org/2001/XMLSchema#"

_PREFIXES: Final = ((ODRL, ""), (URBIS_ODRL, "urbis:"), (CC, "cc:"))


def compact_term(iri: str) -> str:
    """A short, readable name for an IRI: ``read`` for odrl:read, ``urbis:minGroupSize``, ``cc:Notice``."""
    for namespace, prefix in _PREFIXES:
        if iri.startswith(namespace):
            return prefix + iri[len(namespace) :]
    return iri


class _Term(StrEnum):
    """A vocabulary term whose value is its IRI."""

    @property
    def term(self) -> str:
        """The compact name (``eq``, ``urbis:spatialResolution``)."""
        return compact_term(self.value)

    @classmethod
    def parse(cls, name: str) -> Self:
        """The member named by an IRI or a compact name; BadRequestData for anything else."""
        for member in cls:
            if name in (member.value, member.term, f"odrl:{member.term}"):
                return member
        raise BadRequestData(f"unknown {cls.__name__} {name!r}")


class PolicyType(_Term):
    """The ODRL policy subclasses Urbis handles."""

    SET = ODRL + "Set"
    OFFER = ODRL + "Offer"
    AGREEMENT = ODRL + "Agreement"
    REQUEST = ODRL + "Request"


class ConflictStrategy(_Term):
    """What a policy does when a permission and a prohibition apply to the same action."""

    PERM = ODRL + "perm"  # the permission wins
    PROHIBIT = ODRL + "prohibit"  # the prohibition wins
    INVALID = ODRL + "invalid"  # the whole policy is void (the spec's default)


class Operator(_Term):
    """The twelve ODRL 2.2 constraint operators."""

    EQ = ODRL + "eq"
    NEQ = ODRL + "neq"
    LT = ODRL + "lt"
    LTEQ = ODRL + "lteq"
    GT = ODRL + "gt"
    GTEQ = ODRL + "gteq"
    IS_A = ODRL + "isA"
    HAS_PART = ODRL + "hasPart"
    IS_PART_OF = ODRL + "isPartOf"
    IS_ALL_OF = ODRL + "isAllOf"
    IS_ANY_OF = ODRL + "isAnyOf"
    IS_NONE_OF = ODRL + "isNoneOf"

    @property
    def is_set_operator(self) -> bool:
        """True for the operators whose right operand is a list of values."""
        return self in (Operator.IS_ALL_OF, Operator.IS_ANY_OF, Operator.IS_NONE_OF)

    @property
    def is_ordering(self) -> bool:
        """True for lt, lteq, gt, gteq."""
        return self in (Operator.LT, Operator.LTEQ, Operator.GT, Operator.GTEQ)


class LogicalOperator(_Term):
    """The operators of a logical constraint."""

    OR = ODRL + "or"  # at least one member is satisfied
    XONE = ODRL + "xone"  # exactly one member is satisfied
    AND = ODRL + "and"  # every member is satisfied
    AND_SEQUENCE = ODRL + "andSequence"  # every member, in order; evaluation stops at the first failure


class LeftOperand(_Term):
    """The 34 ODRL 2.2 left operands and the four of the Urbis city profile."""

    ABSOLUTE_POSITION = ODRL + "absolutePosition"
    ABSOLUTE_SPATIAL_POSITION = ODRL + "absoluteSpatialPosition"
    ABSOLUTE_TEMPORAL_POSITION = ODRL + "absoluteTemporalPosition"
    ABSOLUTE_SIZE = ODRL + "absoluteSize"
    COUNT = ODRL + "count"
    DATE_TIME = ODRL + "dateTime"
    DELAY_PERIOD = ODRL + "delayPeriod"
    DELIVERY_CHANNEL = ODRL + "deliveryChannel"
    DEVICE = ODRL + "device"
    ELAPSED_TIME = ODRL + "elapsedTime"
    EVENT = ODRL + "event"
    FILE_FORMAT = ODRL + "fileFormat"
    INDUSTRY = ODRL + "industry"
    LANGUAGE = ODRL + "language"
    MEDIA = ODRL + "media"
    METERED_TIME = ODRL + "meteredTime"
    PAY_AMOUNT = ODRL + "payAmount"
    PERCENTAGE = ODRL + "percentage"
    PRODUCT = ODRL + "product"
    PURPOSE = ODRL + "purpose"
    RECIPIENT = ODRL + "recipient"
    RELATIVE_POSITION = ODRL + "relativePosition"
    RELATIVE_SPATIAL_POSITION = ODRL + "relativeSpatialPosition"
    RELATIVE_TEMPORAL_POSITION = ODRL + "relativeTemporalPosition"
    RELATIVE_SIZE = ODRL + "relativeSize"
    RESOLUTION = ODRL + "resolution"
    SPATIAL = ODRL + "spatial"
    SPATIAL_COORDINATES = ODRL + "spatialCoordinates"
    SYSTEM = ODRL + "system"
    SYSTEM_DEVICE = ODRL + "systemDevice"
    TIME_INTERVAL = ODRL + "timeInterval"
    UNIT_OF_COUNT = ODRL + "unitOfCount"
    VERSION = ODRL + "version"
    VIRTUAL_LOCATION = ODRL + "virtualLocation"
    # The city profile (urbis.marketplace.policies.profile): properties of the *answer*.
    SPATIAL_RESOLUTION = URBIS_ODRL + "spatialResolution"  # point < h3:15 < … < h3:0 < district < city
    TIME_BUCKET = URBIS_ODRL + "timeBucket"  # temporal aggregation, an xsd:duration
    MIN_GROUP_SIZE = URBIS_ODRL + "minGroupSize"  # k: cells with fewer contributors are suppressed
    EPSILON_BUDGET = URBIS_ODRL + "epsilonBudget"  # differential-privacy budget per agreement


class ActionType(_Term):
    """The ODRL 2.2 actions (common vocabulary, the deprecated ones still met in the wild, and cc:)."""

    USE = ODRL + "use"
    TRANSFER = ODRL + "transfer"
    ACCEPT_TRACKING = ODRL + "acceptTracking"
    AGGREGATE = ODRL + "aggregate"
    ANNOTATE = ODRL + "annotate"
    ANONYMIZE = ODRL + "anonymize"
    ARCHIVE = ODRL + "archive"
    ATTRIBUTE = ODRL + "attribute"
    COMMERCIALIZE = ODRL + "commercialize"  # deprecated in 2.2 (= cc:CommercialUse); kept for city policies
    COMPENSATE = ODRL + "compensate"
    CONCURRENT_USE = ODRL + "concurrentUse"
    DELETE = ODRL + "delete"
    DERIVE = ODRL + "derive"
    DIGITIZE = ODRL + "digitize"
    DISPLAY = ODRL + "display"
    DISTRIBUTE = ODRL + "distribute"
    ENSURE_EXCLUSIVITY = ODRL + "ensureExclusivity"
    EXECUTE = ODRL + "execute"
    EXTRACT = ODRL + "extract"
    GIVE = ODRL + "give"
    GRANT_USE = ODRL + "grantUse"
    INCLUDE = ODRL + "include"
    INDEX = ODRL + "index"
    INFORM = ODRL + "inform"
    INSTALL = ODRL + "install"
    MODIFY = ODRL + "modify"
    MOVE = ODRL + "move"
    NEXT_POLICY = ODRL + "nextPolicy"
    OBTAIN_CONSENT = ODRL + "obtainConsent"
    PLAY = ODRL + "play"
    PRESENT = ODRL + "present"
    PRINT = ODRL + "print"
    READ = ODRL + "read"
    REPRODUCE = ODRL + "reproduce"
    REVIEW_POLICY = ODRL + "reviewPolicy"
    SELL = ODRL + "sell"
    STREAM = ODRL + "stream"
    SYNCHRONIZE = ODRL + "synchronize"
    TEXT_TO_SPEECH = ODRL + "textToSpeech"
    TRANSFORM = ODRL + "transform"
    TRANSLATE = ODRL + "translate"
    UNINSTALL = ODRL + "uninstall"
    WATERMARK = ODRL + "watermark"
    WRITE = ODRL + "write"  # deprecated in 2.2 (= modify); the SolidLab test suite still uses it
    CC_ATTRIBUTION = CC + "Attribution"
    CC_COMMERCIAL_USE = CC + "CommercialUse"
    CC_DERIVATIVE_WORKS = CC + "DerivativeWorks"
    CC_DISTRIBUTION = CC + "Distribution"
    CC_NOTICE = CC + "Notice"
    CC_REPRODUCTION = CC + "Reproduction"
    CC_SHARE_ALIKE = CC + "ShareAlike"
    CC_SHARING = CC + "Sharing"
    CC_SOURCE_CODE = CC + "SourceCode"


def _included_in() -> dict[ActionType, ActionType]:
    """``odrl:includedIn`` from the ODRL 2.2 vocabulary (each action's one broader action)."""
    broader: dict[ActionType, ActionType] = {}
    for action in ActionType:
        if action not in (ActionType.USE, ActionType.TRANSFER):
            broader[action] = ActionType.USE
    broader[ActionType.GIVE] = ActionType.TRANSFER
    broader[ActionType.SELL] = ActionType.TRANSFER
    broader[ActionType.EXTRACT] = ActionType.REPRODUCE
    broader[ActionType.WRITE] = ActionType.MODIFY  # skos:exactMatch modify; modify is included in use
    broader[ActionType.COMMERCIALIZE] = ActionType.CC_COMMERCIAL_USE  # skos:exactMatch; that one is in use
    return broader


#: Each action's directly broader action (``includedIn``); ``use`` and ``transfer`` are the roots.
INCLUDED_IN: Final[dict[ActionType, ActionType]] = _included_in()


def action_distance(broader: ActionType, narrower: ActionType) -> int | None:
    """How many ``includedIn`` steps lead from ``narrower`` up to ``broader`` (0 if equal), None if none do."""
    steps = 0
    current: ActionType | None = narrower
    while current is not None:
        if current == broader:
            return steps
        current = INCLUDED_IN.get(current)
        steps += 1
    return None


def includes(broader: ActionType, narrower: ActionType) -> bool:
    """True when exercising ``narrower`` is exercising ``broader`` (equal, or included in it transitively)."""
    return action_distance(broader, narrower) is not None


class RuleKind(StrEnum):
    """The three kinds of rule."""

    PERMISSION = "permission"
    PROHIBITION = "prohibition"
    DUTY = "duty"


class PartyFunction(_Term):
    """The party roles a rule may name besides assigner and assignee."""

    ATTRIBUTED_PARTY = ODRL + "attributedParty"
    ATTRIBUTING_PARTY = ODRL + "attributingParty"
    COMPENSATED_PARTY = ODRL + "compensatedParty"
    COMPENSATING_PARTY = ODRL + "compensatingParty"
    CONSENTING_PARTY = ODRL + "consentingParty"
    CONSENTED_PARTY = ODRL + "consentedParty"
    INFORMED_PARTY = ODRL + "informedParty"
    INFORMING_PARTY = ODRL + "informingParty"
    TRACKING_PARTY = ODRL + "trackingParty"
    TRACKED_PARTY = ODRL + "trackedParty"
    CONTRACTING_PARTY = ODRL + "contractingParty"
    CONTRACTED_PARTY = ODRL + "contractedParty"


@dataclass(frozen=True, order=True)
class Iri:
    """An IRI used as a right operand (as opposed to a string literal)."""

    value: str

    def __str__(self) -> str:
        return self.value


#: One right-operand value.
Scalar = str | Iri | bool | int | float | Decimal | datetime | date | timedelta
#: A right operand: one value, or several (a list, for isAnyOf, isAllOf, isNoneOf).
RightOperand = Scalar | tuple[Scalar, ...]


@dataclass(frozen=True)
class Constraint:
    """An atomic constraint: ``left_operand operator right_operand``."""

    left_operand: LeftOperand
    operator: Operator
    right_operand: RightOperand
    uid: str | None = None
    unit: str | None = None  # an IRI (e.g. a currency or a unit of measure)

    def __post_init__(self) -> None:
        # A list operator always gets a tuple and the others a lone value, so that a value and a
        # list of one compare equal (and survive a round trip through JSON-LD).
        if self.operator.is_set_operator and not isinstance(self.right_operand, tuple):
            object.__setattr__(self, "right_operand", (self.right_operand,))
        elif (
            not self.operator.is_set_operator and isinstance(self.right_operand, tuple) and len(self.right_operand) == 1
        ):
            object.__setattr__(self, "right_operand", self.right_operand[0])
        if isinstance(self.right_operand, tuple) and not self.right_operand:
            raise BadRequestData(f"constraint on {self.left_operand.term} has an empty right operand")
        if isinstance(self.right_operand, datetime) and self.right_operand.tzinfo is None:
            raise BadRequestData(f"constraint on {self.left_operand.term}: a dateTime needs a timezone")


@dataclass(frozen=True)
class LogicalConstraint:
    """Constraints combined with or, xone, and or andSequence."""

    operator: LogicalOperator
    constraints: tuple[ConstraintLike, ...]
    uid: str | None = None

    def __post_init__(self) -> None:
        # An empty group would be vacuously satisfied: a permission without its condition.
        if not self.constraints:
            raise BadRequestData(f"a logical constraint ({self.operator.term}) needs at least one constraint")


ConstraintLike = Constraint | LogicalConstraint


@dataclass(frozen=True)
class Party:
    """A party (a person, an organisation) or a party collection (a group; ``source`` + refinements)."""

    uid: str | None = None
    collection: bool = False
    source: str | None = None
    refinements: tuple[ConstraintLike, ...] = ()
    name: str | None = None  # vcard:fn, for people reading the policy (e.g. the attributed party)


@dataclass(frozen=True)
class Asset:
    """An asset (a dataset) or an asset collection."""

    uid: str | None = None
    collection: bool = False
    source: str | None = None
    refinements: tuple[ConstraintLike, ...] = ()


@dataclass(frozen=True)
class Action:
    """An action, possibly refined (e.g. ``print`` at most 1200 dpi)."""

    type: ActionType
    refinements: tuple[ConstraintLike, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Rule:
    """What permissions, prohibitions and duties share.

    A rule without an action, target or assignee applies to every action, asset or party (the
    SolidLab test suite's "everybody may do everything" policy is a bare permission).
    """

    action: Action | None = None
    uid: str | None = None
    target: Asset | None = None
    assigner: Party | None = None
    assignee: Party | None = None
    constraints: tuple[ConstraintLike, ...] = ()
    functions: tuple[tuple[PartyFunction, Party], ...] = ()  # other party roles, e.g. the attributed party
    description: str | None = None  # dct:description; for duties, e.g. the attribution text

    @property
    def kind(self) -> RuleKind:
        """Which kind of rule this is."""
        raise NotImplementedError

    def party(self, function: PartyFunction) -> Party | None:
        """The first party named in ``function``, if any."""
        return next((party for role, party in self.functions if role == function), None)


@dataclass(frozen=True, kw_only=True)
class Duty(Rule):
    """An obligation to perform an action; ``consequences`` are owed when it is not fulfilled."""

    consequences: tuple[Duty, ...] = ()

    @property
    def kind(self) -> RuleKind:
        """Always a duty."""
        return RuleKind.DUTY


@dataclass(frozen=True, kw_only=True)
class Permission(Rule):
    """The ability to perform an action; ``duties`` are its pre-conditions."""

    duties: tuple[Duty, ...] = ()

    @property
    def kind(self) -> RuleKind:
        """Always a permission."""
        return RuleKind.PERMISSION


@dataclass(frozen=True, kw_only=True)
class Prohibition(Rule):
    """The inability to perform an action; ``remedies`` are owed when it is infringed."""

    remedies: tuple[Duty, ...] = ()

    @property
    def kind(self) -> RuleKind:
        """Always a prohibition."""
        return RuleKind.PROHIBITION


@dataclass(frozen=True, kw_only=True)
class Policy:
    """An ODRL policy: a Set, an Offer (from the city), an Agreement (city and assignee) or a Request."""

    uid: str
    type: PolicyType = PolicyType.SET
    permissions: tuple[Permission, ...] = ()
    prohibitions: tuple[Prohibition, ...] = ()
    obligations: tuple[Duty, ...] = ()
    conflict: ConflictStrategy | None = None  # None: not stated, which means invalid
    profiles: tuple[str, ...] = ()
    inherit_from: tuple[str, ...] = ()  # parent policies (not merged by the evaluator)
    licence: str | None = None  # dct:license: the licence this policy encodes or carries
    title: str | None = None
    description: str | None = None

    @property
    def effective_conflict(self) -> ConflictStrategy:
        """The conflict strategy in force (``invalid`` when none is stated, as the spec says)."""
        return self.conflict or ConflictStrategy.INVALID

    def rules(self) -> Iterator[Rule]:
        """Every top-level rule: permissions, prohibitions, then obligations."""
        yield from self.permissions
        yield from self.prohibitions
        yield from self.obligations


def validate_policy(policy: Policy) -> Policy:
    """Check the ODRL requirements per policy type; return the policy or raise BadRequestData.

    An Offer's rules need an assigner; an Agreement's need an assigner and an assignee; a Request's
    need an assignee (ODRL 2.2 vocabulary, the notes on each policy subclass).  A policy needs at
    least one rule.
    """
    rules = list(policy.rules())
    if not rules:
        raise BadRequestData(f"policy {policy.uid} has no permission, prohibition or obligation")
    missing: list[str] = []
    for rule in rules:
        name = rule.uid or f"a {rule.kind.value}"
        if policy.type in (PolicyType.OFFER, PolicyType.AGREEMENT) and rule.assigner is None:
            missing.append(f"{name} has no assigner")
        if policy.type in (PolicyType.AGREEMENT, PolicyType.REQUEST) and rule.assignee is None:
            missing.append(f"{name} has no assignee")
    if missing:
        raise BadRequestData(f"{policy.type.term} {policy.uid}: " + "; ".join(missing))
    return policy
