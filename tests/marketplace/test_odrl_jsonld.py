"""ODRL JSON-LD in (compact, prefixed, expanded) and out; unknown terms refused by name."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from urbis.core.errors import BadRequestData
from urbis.marketplace.policies import (
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
    PartyType,
    Permission,
    Policy,
    PolicyType,
    Prohibition,
    city_offer,
    parse_policies,
    parse_policy,
    policy_to_jsonld,
)

ODRL = "http://www.w3.org/ns/odrl/2/"
CONTEXT = "http://www.w3.org/ns/odrl.jsonld"


def compact(**body: Any) -> dict[str, Any]:
    return {"@context": CONTEXT, "@type": "Set", "uid": "http://example.com/policy:1", **body}


def test_compact_with_the_odrl_context() -> None:
    # Shaped like the ODRL 2.2 model's offer examples.
    policy = parse_policy(
        {
            "@context": CONTEXT,
            "@type": "Offer",
            "uid": "http://example.com/policy:6163",
            "profile": "http://example.com/odrl:profile:10",
            "conflict": "prohibit",
            "permission": [
                {
                    "target": "http://example.com/document:1234",
                    "assigner": "http://example.com/org:616",
                    "action": "distribute",
                    "constraint": [
                        {
                            "leftOperand": "dateTime",
                            "operator": "lt",
                            "rightOperand": {"@value": "2026-01-01", "@type": "xsd:date"},
                        }
                    ],
                }
            ],
            "prohibition": [
                {
                    "target": "http://example.com/document:1234",
                    "assigner": "http://example.com/org:616",
                    "action": "index",
                }
            ],
        }
    )
    assert policy == Policy(
        uid="http://example.com/policy:6163",
        type=PolicyType.OFFER,
        profiles=("http://example.com/odrl:profile:10",),
        conflict=ConflictStrategy.PROHIBIT,
        permissions=(
            Permission(
                action=Action(ActionType.DISTRIBUTE),
                target=Asset(uid="http://example.com/document:1234"),
                assigner=Party(uid="http://example.com/org:616"),
                constraints=(Constraint(LeftOperand.DATE_TIME, Operator.LT, date(2026, 1, 1)),),
            ),
        ),
        prohibitions=(
            Prohibition(
                action=Action(ActionType.INDEX),
                target=Asset(uid="http://example.com/document:1234"),
                assigner=Party(uid="http://example.com/org:616"),
            ),
        ),
    )


def test_prefixed_as_the_dataspace_protocol_writes_it() -> None:
    policy = parse_policy(
        {
            "@context": {"odrl": ODRL},
            "@id": "urn:offer:1",
            "@type": "odrl:Offer",
            "odrl:permission": [
                {
                    "odrl:action": {"@id": "odrl:use"},
                    "odrl:assigner": {"@id": "urn:city"},
                    "odrl:constraint": [
                        {
                            "odrl:leftOperand": {"@id": "odrl:purpose"},
                            "odrl:operator": {"@id": "odrl:isAnyOf"},
                            "odrl:rightOperand": ["research", "education"],
                        }
                    ],
                }
            ],
        }
    )
    (permission,) = policy.permissions
    assert permission.action == Action(ActionType.USE)
    assert permission.constraints == (Constraint(LeftOperand.PURPOSE, Operator.IS_ANY_OF, ("research", "education")),)


def test_expanded() -> None:
    policy = parse_policy(
        [
            {
                "@id": "urn:policy:2",
                "@type": [ODRL + "Agreement"],
                ODRL + "permission": [
                    {
                        ODRL + "action": [{"@id": ODRL + "read"}],
                        ODRL + "assigner": [{"@id": "urn:city"}],
                        ODRL + "assignee": [{"@id": "urn:uni"}],
                        ODRL + "constraint": [
                            {
                                ODRL + "leftOperand": [{"@id": "https://urbis.city/odrl/minGroupSize"}],
                                ODRL + "operator": [{"@id": ODRL + "gteq"}],
                                ODRL + "rightOperand": [{"@value": 10}],
                            }
                        ],
                    }
                ],
            }
        ]
    )
    assert policy.type is PolicyType.AGREEMENT
    assert policy.permissions[0].constraints == (Constraint(LeftOperand.MIN_GROUP_SIZE, Operator.GTEQ, 10),)


def test_typed_literals() -> None:
    policy = parse_policy(
        compact(
            permission=[
                {
                    "action": "read",
                    "constraint": [
                        {
                            "leftOperand": "dateTime",
                            "operator": "gteq",
                            "rightOperand": {"@value": "2025-01-01T00:00:00Z", "@type": "xsd:dateTime"},
                        },
                        {"leftOperand": "dateTime", "operator": "lt", "rightOperand": "2026-01-01T00:00:00+01:00"},
                        {
                            "leftOperand": "elapsedTime",
                            "operator": "lteq",
                            "rightOperand": {"@value": "P30D", "@type": "xsd:duration"},
                        },
                        {
                            "leftOperand": "payAmount",
                            "operator": "eq",
                            "rightOperand": {"@value": "10.50", "@type": "xsd:decimal"},
                            "unit": "http://dbpedia.org/resource/Euro",
                        },
                        {
                            "leftOperand": "count",
                            "operator": "lteq",
                            "rightOperand": {"@value": "100", "@type": "xsd:integer"},
                        },
                    ],
                }
            ]
        )
    )
    rights = [c.right_operand for c in policy.permissions[0].constraints if isinstance(c, Constraint)]
    assert rights == [
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 0, tzinfo=UTC),
        timedelta(days=30),
        Decimal("10.50"),
        100,
    ]
    payment = policy.permissions[0].constraints[3]
    assert isinstance(payment, Constraint) and payment.unit == "http://dbpedia.org/resource/Euro"


def test_policy_level_properties_go_into_every_rule() -> None:
    policy = parse_policy(
        compact(
            **{"@type": "Offer"},
            target="urn:ds:1",
            assigner="urn:city",
            permission=[{"action": "read"}, {"action": "aggregate"}],
            prohibition=[{"action": "distribute"}],
        )
    )
    assert all(
        rule.target == Asset(uid="urn:ds:1") and rule.assigner == Party(uid="urn:city") for rule in policy.rules()
    )


def test_a_rule_with_several_actions_becomes_atomic_rules_and_goes_back_as_one() -> None:
    document = compact(permission=[{"uid": "urn:rule:1", "action": ["read", "aggregate"], "target": "urn:ds:1"}])
    policy = parse_policy(document)
    assert [p.action for p in policy.permissions] == [Action(ActionType.READ), Action(ActionType.AGGREGATE)]
    assert {p.uid for p in policy.permissions} == {"urn:rule:1"}
    written = policy_to_jsonld(policy)
    assert written["permission"] == [{"uid": "urn:rule:1", "action": ["read", "aggregate"], "target": "urn:ds:1"}]
    assert parse_policy(written) == policy


def test_logical_constraints_and_their_order() -> None:
    policy = parse_policy(
        compact(
            permission=[
                {
                    "action": "read",
                    "constraint": [
                        {
                            "@type": "LogicalConstraint",
                            "andSequence": {
                                "@list": [
                                    {"leftOperand": "purpose", "operator": "eq", "rightOperand": "research"},
                                    {"leftOperand": "purpose", "operator": "neq", "rightOperand": "commercial"},
                                ]
                            },
                        },
                        {
                            "xone": [
                                {"leftOperand": "recipient", "operator": "isA", "rightOperand": "university"},
                                {"leftOperand": "recipient", "operator": "isA", "rightOperand": "company"},
                            ]
                        },
                    ],
                }
            ]
        )
    )
    sequence, exclusive = policy.permissions[0].constraints
    assert isinstance(sequence, LogicalConstraint) and sequence.operator is LogicalOperator.AND_SEQUENCE
    assert [c.operator for c in sequence.constraints] == [Operator.EQ, Operator.NEQ]
    assert isinstance(exclusive, LogicalConstraint) and exclusive.operator is LogicalOperator.XONE


def test_refinements_and_collections() -> None:
    policy = parse_policy(
        compact(
            permission=[
                {
                    "action": [
                        {
                            "rdf:value": {"@id": "odrl:print"},
                            "refinement": [{"leftOperand": "resolution", "operator": "lteq", "rightOperand": 1200}],
                        }
                    ],
                    "target": {"@type": "AssetCollection", "uid": "urn:collection:parking", "source": "urn:catalogue"},
                    "assignee": {"@type": "PartyCollection", "uid": "urn:group:unis", "vcard:fn": "Universities"},
                    "duty": [
                        {"action": "attribute", "attributedParty": {"uid": "urn:city", "vcard:fn": "City of Urbis"}}
                    ],
                }
            ]
        )
    )
    (permission,) = policy.permissions
    assert permission.action == Action(ActionType.PRINT, (Constraint(LeftOperand.RESOLUTION, Operator.LTEQ, 1200),))
    assert permission.target == Asset(uid="urn:collection:parking", collection=True, source="urn:catalogue")
    assert permission.assignee == Party(uid="urn:group:unis", collection=True, name="Universities")
    assert permission.duties[0].party(PartyFunction.ATTRIBUTED_PARTY) == Party(uid="urn:city", name="City of Urbis")
    assert parse_policy(policy_to_jsonld(policy)) == policy


def test_the_w3c_context_slip_neg_is_read_as_neq() -> None:
    policy = parse_policy(
        {
            "@context": {"odrl": ODRL},
            "@id": "urn:p",
            "@type": "odrl:Set",
            "odrl:permission": {
                "odrl:action": {"@id": "odrl:read"},
                "odrl:constraint": {
                    "odrl:leftOperand": {"@id": "odrl:purpose"},
                    "odrl:operator": {"@id": "odrl:neg"},
                    "odrl:rightOperand": "commercial",
                },
            },
        }
    )
    assert policy.permissions[0].constraints == (Constraint(LeftOperand.PURPOSE, Operator.NEQ, "commercial"),)


def test_an_inline_or_handed_in_context() -> None:
    context = {
        "@context": {
            "o": ODRL,
            "may": {"@id": "o:permission", "@type": "@id"},
            "do": {"@id": "o:action", "@type": "@vocab"},
            "read": "o:read",
        }
    }
    document = {
        "@context": "https://example.org/my-context.jsonld",
        "@id": "urn:p",
        "@type": "o:Set",
        "may": {"do": "read"},
    }
    with pytest.raises(BadRequestData, match=r"unknown remote @context https://example\.org/my-context\.jsonld"):
        parse_policy(document)
    policy = parse_policy(document, contexts={"https://example.org/my-context.jsonld": context})
    assert policy.permissions[0].action == Action(ActionType.READ)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (compact(permision=[{"action": "read"}]), "unknown ODRL terms: permision"),
        (compact(permission=[{"action": "reed"}]), "unknown ODRL terms: reed"),
        (
            compact(
                permission=[
                    {
                        "action": "read",
                        "constraint": [{"leftOperand": "colour", "operator": "eq", "rightOperand": "red"}],
                    }
                ]
            ),
            "unknown ODRL terms: colour",
        ),
        (
            compact(
                permission=[
                    {
                        "action": "read",
                        "constraint": [{"leftOperand": "purpose", "operator": "like", "rightOperand": "r"}],
                    }
                ]
            ),
            "unknown ODRL terms: like",
        ),
        (compact(**{"@type": "Sett"}, permission=[{"action": "read"}]), "unknown ODRL terms: Sett"),
        (
            compact(
                permission=[
                    {
                        "action": "read",
                        "constraint": [{"leftOperand": "urbis:minGroupSize", "operator": "gteq", "rightOperand": 5}],
                    }
                ]
            ),
            'need the prefix "urbis"',
        ),
        (
            compact(prohibition=[{"action": "read", "duty": [{"action": "attribute"}]}]),
            "duty is not allowed on a prohibition",
        ),
        (compact(permission=[{"@type": "Prohibition", "action": "read"}]), "a permission is typed Prohibition"),
        (
            compact(
                permission=[
                    {
                        "action": "read",
                        "constraint": [
                            {"leftOperand": "dateTime", "operator": "lt", "rightOperandReference": "http://x"}
                        ],
                    }
                ]
            ),
            "rightOperandReference is not supported",
        ),
        (
            compact(permission=[{"action": "read", "constraint": [{"leftOperand": "dateTime", "operator": "lt"}]}]),
            "needs one leftOperand, one operator and a rightOperand",
        ),
        (
            compact(permission=[{"action": "read", "constraint": [{"@type": "LogicalConstraint", "and": []}]}]),
            "needs at least one constraint",
        ),
        (
            compact(
                permission=[
                    {
                        "action": "read",
                        "constraint": [{"leftOperand": "count", "operator": "lteq", "rightOperand": "ten"}],
                    }
                ]
            ),
            "count lteq: 'ten' is not an integer",
        ),
        (
            compact(
                permission=[
                    {
                        "action": "read",
                        "constraint": [{"leftOperand": "timeInterval", "operator": "gteq", "rightOperand": "P1D"}],
                    }
                ]
            ),
            "timeInterval does not take the operator gteq",
        ),
        (
            compact(
                permission=[
                    {
                        "action": "read",
                        "constraint": [
                            {
                                "leftOperand": "dateTime",
                                "operator": "lt",
                                "rightOperand": {"@value": "soon", "@type": "xsd:dateTime"},
                            }
                        ],
                    }
                ]
            ),
            "'soon' is not an xsd:dateTime",
        ),
        ({"@context": CONTEXT, "@type": "Set", "permission": [{"action": "read"}]}, "a policy needs a uid"),
        (
            compact(**{"@type": "Offer"}, permission=[{"action": "read"}]),
            "Offer http://example.com/policy:1: a permission has no assigner",
        ),
        (compact(**{"@type": "Agreement"}, permission=[{"action": "read", "assigner": "urn:city"}]), "has no assignee"),
        (compact(**{"@type": "Ticket"}, permission=[{"action": "read"}]), "Ticket policies are not supported"),
        (compact(), "has no permission, prohibition or obligation"),
        ({"@context": CONTEXT, "@type": "Permission", "action": "read"}, "holds no ODRL policy"),
        ({"@context": {"@vocab": 5}}, "not a valid JSON-LD document"),
        ("a string", "an ODRL policy is a JSON-LD object"),
    ],
)
def test_bad_documents_are_refused_clearly(document: Any, message: str) -> None:
    with pytest.raises(BadRequestData, match=None) as caught:
        parse_policy(document)
    assert message in caught.value.detail


def test_every_unknown_term_is_named_at_once() -> None:
    with pytest.raises(BadRequestData) as caught:
        parse_policy(
            compact(
                permision=[],
                permission=[
                    {"action": "reed", "constraint": [{"leftOperand": "colour", "operator": "eq", "rightOperand": "x"}]}
                ],
            )
        )
    assert caught.value.extra == {"unknownTerms": ["permision", "reed", "colour"]}


def test_one_policy_or_several() -> None:
    document = [
        compact(permission=[{"action": "read"}]),
        {**compact(permission=[{"action": "use"}]), "uid": "urn:second"},
    ]
    assert [p.uid for p in parse_policies(document)] == ["http://example.com/policy:1", "urn:second"]
    with pytest.raises(BadRequestData, match="expected one ODRL policy, found 2"):
        parse_policy(document)


# A party's name is a property of its node, so every mention of the party carries it.
CITY = Party(uid="urn:city", name="City of Urbis")


def every_feature() -> Policy:
    return Policy(
        uid="urn:policy:all",
        type=PolicyType.AGREEMENT,
        conflict=ConflictStrategy.PERM,
        profiles=("https://urbis.city/odrl/profile",),
        inherit_from=("urn:policy:parent",),
        licence="https://creativecommons.org/licenses/by/4.0/",
        title="Everything",
        description="A policy with every feature",
        permissions=(
            Permission(
                uid="urn:rule:1",
                action=Action(ActionType.AGGREGATE),
                target=Asset(uid="urn:ds:1"),
                assigner=CITY,
                assignee=Party(uid="urn:uni"),
                constraints=(
                    Constraint(LeftOperand.DATE_TIME, Operator.LT, datetime(2026, 1, 1, tzinfo=UTC), uid="urn:c:1"),
                    Constraint(LeftOperand.DATE_TIME, Operator.GTEQ, date(2025, 1, 1)),
                    Constraint(
                        LeftOperand.PURPOSE,
                        Operator.IS_NONE_OF,
                        ("commercial", Iri("https://w3id.org/dpv#CommercialResearch")),
                    ),
                    Constraint(LeftOperand.RECIPIENT, Operator.IS_A, Iri(PartyType.UNIVERSITY.value)),
                    Constraint(LeftOperand.EPSILON_BUDGET, Operator.LTEQ, 0.5),
                    Constraint(LeftOperand.PAY_AMOUNT, Operator.LTEQ, Decimal("12.30"), unit="urn:currency:EUR"),
                    Constraint(LeftOperand.TIME_BUCKET, Operator.GTEQ, timedelta(minutes=15)),
                    Constraint(LeftOperand.SPATIAL_RESOLUTION, Operator.GTEQ, "h3:7"),
                    Constraint(LeftOperand.INDUSTRY, Operator.NEQ, "mining"),
                    Constraint(LeftOperand.DELIVERY_CHANNEL, Operator.EQ, True),
                    LogicalConstraint(
                        LogicalOperator.AND_SEQUENCE,
                        (
                            Constraint(LeftOperand.COUNT, Operator.LTEQ, 5),
                            LogicalConstraint(
                                LogicalOperator.XONE, (Constraint(LeftOperand.MIN_GROUP_SIZE, Operator.GTEQ, 10),)
                            ),
                        ),
                        uid="urn:c:seq",
                    ),
                ),
                duties=(
                    Duty(
                        action=Action(ActionType.ATTRIBUTE),
                        description="Source: City of Urbis",
                        functions=((PartyFunction.ATTRIBUTED_PARTY, CITY),),
                        consequences=(Duty(action=Action(ActionType.COMPENSATE)),),
                    ),
                ),
            ),
        ),
        prohibitions=(
            Prohibition(
                action=Action(ActionType.DISTRIBUTE),
                assigner=CITY,
                assignee=Party(uid="urn:uni"),
                remedies=(Duty(action=Action(ActionType.DELETE)),),
            ),
        ),
        obligations=(Duty(action=Action(ActionType.INFORM), assigner=CITY, assignee=Party(uid="urn:uni")),),
    )


def test_round_trip_of_every_feature() -> None:
    policy = every_feature()
    assert parse_policy(policy_to_jsonld(policy)) == policy


def test_the_writer_uses_safe_terms() -> None:
    written = policy_to_jsonld(every_feature())
    assert written["@context"][0] == CONTEXT
    constraints = written["permission"][0]["constraint"]
    assert constraints[8] == {"leftOperand": "odrl:industry", "operator": "odrl:neq", "rightOperand": "mining"}
    assert constraints[0] == {
        "uid": "urn:c:1",
        "leftOperand": "dateTime",
        "operator": "lt",
        "rightOperand": {"@value": "2026-01-01T00:00:00Z", "@type": "xsd:dateTime"},
    }
    assert constraints[7]["leftOperand"] == "urbis:spatialResolution"
    assert "@list" in constraints[10]["andSequence"]


def test_a_city_offer_round_trips() -> None:
    offer = city_offer(
        "urn:offer:1",
        target="urn:ds:parking",
        assigner="urn:city",
        party_types=(PartyType.UNIVERSITY,),
        purposes=("research",),
        valid_until=datetime(2026, 1, 1, tzinfo=UTC),
        embargo=timedelta(days=1),
        spatial_resolution="district",
        min_group_size=10,
        epsilon_budget=1.0,
        quota=(1000, timedelta(days=1)),
        attribution="Source: City of Urbis",
        delete_after=timedelta(days=90),
    )
    assert parse_policy(policy_to_jsonld(offer)) == offer
