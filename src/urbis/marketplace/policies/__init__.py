"""ODRL 2.2 policies for the data marketplace: the model, JSON-LD, the evaluator, licences, the city profile.

A dataset's offer is an ODRL :class:`~.model.Policy`; officers compose it with
:func:`~.profile.city_offer` (or a licence, :func:`~.licences.licence_offer`) or upload ODRL JSON-LD,
read by :func:`~.jsonld.parse_policy` and written back by :func:`~.jsonld.policy_to_jsonld`.  At every
request the enforcement layer builds a :class:`~.evaluate.RequestContext` and calls
:func:`~.evaluate.evaluate`; the :class:`~.evaluate.Decision` says yes or no, why (for a clear 403),
which duties are owed, and how the answer must be shaped (:class:`~.evaluate.AnswerObligations`).

Everything here is pure: no I/O, no clock, no database.
"""

from urbis.marketplace.policies.evaluate import (
    AnswerObligations,
    ConstraintReport,
    ConstraintState,
    Decision,
    DutyReport,
    DutyState,
    MatchState,
    Quota,
    RequestContext,
    RequiredDuty,
    RuleReport,
    evaluate,
)
from urbis.marketplace.policies.jsonld import parse_policies, parse_policy, policy_to_jsonld
from urbis.marketplace.policies.licences import CC0_1_0, CC_BY_4_0, LICENCES, ODBL_1_0, Licence, licence, licence_offer
from urbis.marketplace.policies.model import (
    Action,
    ActionType,
    Asset,
    ConflictStrategy,
    Constraint,
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
    PolicyType,
    Prohibition,
)
from urbis.marketplace.policies.profile import PROFILE_IRI, PartyType, SpatialResolution, city_offer, no_commercial_use

__all__ = [
    "CC0_1_0",
    "CC_BY_4_0",
    "LICENCES",
    "ODBL_1_0",
    "PROFILE_IRI",
    "Action",
    "ActionType",
    "AnswerObligations",
    "Asset",
    "ConflictStrategy",
    "Constraint",
    "ConstraintReport",
    "ConstraintState",
    "Decision",
    "Duty",
    "DutyReport",
    "DutyState",
    "Iri",
    "LeftOperand",
    "Licence",
    "LogicalConstraint",
    "LogicalOperator",
    "MatchState",
    "Operator",
    "Party",
    "PartyFunction",
    "PartyType",
    "Permission",
    "Policy",
    "PolicyType",
    "Prohibition",
    "Quota",
    "RequestContext",
    "RequiredDuty",
    "RuleReport",
    "SpatialResolution",
    "city_offer",
    "evaluate",
    "licence",
    "licence_offer",
    "no_commercial_use",
    "parse_policies",
    "parse_policy",
    "policy_to_jsonld",
]
