"""The SolidLab ODRL test suite (Turtle): policy + request + state of the world → expected compliance report.

Each test case's policy goes Turtle → rdflib → JSON-LD (expanded, flattened) → ``parse_policy``, so the
JSON-LD reader is exercised too.  The request (assignee, action, target) and the state of the world
(current time, ``partOf`` memberships, duty reports) become a ``RequestContext``.  The evaluator's
rule activation, target/party/action matching and constraint satisfaction are compared with the
expected report.  Test cases the profile cannot express are skipped with the reason; the suite lives
in the repository's sibling folder ``shared/`` and the whole module skips when it is absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.term import Node

from urbis.core.errors import BadRequestData
from urbis.marketplace.policies import (
    ActionType,
    ConstraintState,
    MatchState,
    RequestContext,
    RuleReport,
    evaluate,
    parse_policies,
)

SUITE = Path(__file__).resolve().parents[2] / "../shared/conformance/odrl-test-suite/data"

ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
EX = Namespace("http://example.org/")
DCT = Namespace("http://purl.org/dc/terms/")
REPORT = Namespace("https://w3id.org/force/compliance-report#")
TEMP = Namespace("http://example.com/request/")


@dataclass
class Case:
    name: str
    uri: URIRef
    policy_file: Path
    request_file: Path
    sotw_file: Path
    case_file: Path


def _local(url: Node | None, folder: str) -> Path:
    assert url is not None
    return SUITE / folder / str(url).rsplit("/", 1)[-1]


def _cases() -> list[object]:
    if not SUITE.is_dir():
        return [
            pytest.param(None, marks=pytest.mark.skip(reason=f"the ODRL test suite is not at {SUITE}"), id="absent")
        ]
    index = Graph().parse(SUITE / "index.ttl")
    cases = []
    for uri in sorted(set(index.subjects(EX.policySource, None)), key=str):
        case_file = _local(index.value(uri, EX.expectedReportSource), "test_cases")
        case = Case(
            name=case_file.stem,
            uri=URIRef(uri),
            policy_file=_local(index.value(uri, EX.policySource), "policies"),
            request_file=_local(index.value(uri, EX.requestSource), "requests"),
            sotw_file=_local(index.value(uri, EX.sotwSource), "sotw"),
            case_file=case_file,
        )
        cases.append(pytest.param(case, id=case.name))
    return sorted(cases, key=lambda param: param.id)  # type: ignore[attr-defined,no-any-return]


@dataclass
class World:
    now: datetime
    memberships: dict[str, set[str]] = field(default_factory=dict)
    fulfilled: set[str] = field(default_factory=set)
    violated: set[str] = field(default_factory=set)


def _world(path: Path) -> World:
    graph = Graph().parse(path)
    issued = graph.value(TEMP.currentTime, DCT.issued)
    assert issued is not None, f"{path.name} states no current time"
    world = World(now=issued.toPython())
    for member, collection in graph.subject_objects(ODRL.partOf):
        world.memberships.setdefault(str(member), set()).add(str(collection))
    for duty_report in graph.subjects(RDF.type, REPORT.DutyReport):
        rule = str(graph.value(duty_report, REPORT.rule))
        state = graph.value(duty_report, REPORT.deonticState)
        if state == REPORT.Fulfilled:
            world.fulfilled.add(rule)
        elif state == REPORT.Violated:
            world.violated.add(rule)
    return world


def _request(path: Path, world: World) -> RequestContext:
    graph = Graph().parse(path)
    (rule,) = list(graph.objects(None, ODRL.permission))
    party, action, target = (str(graph.value(rule, prop)) for prop in (ODRL.assignee, ODRL.action, ODRL.target))
    return RequestContext(
        party=party,
        action=ActionType(action),
        target=target,
        now=world.now,
        party_collections=frozenset(world.memberships.get(party, ())),
        asset_collections=frozenset(world.memberships.get(target, ())),
        fulfilled_duties=frozenset(world.fulfilled),
        violated_duties=frozenset(world.violated),
    )


@dataclass
class Expected:
    rule: str
    kind: str
    active: bool
    premises: dict[str, bool]  # TargetReport/PartyReport/ActionReport → satisfied?
    constraints: dict[str, bool]  # constraint uid → satisfied?


def _constraint_states(graph: Graph, report: Node, found: dict[str, bool]) -> None:
    for premise in graph.objects(report, REPORT.premiseReport):
        if (premise, RDF.type, REPORT.ConstraintReport) in graph:
            constraint = graph.value(premise, REPORT.constraint)
            state = graph.value(premise, REPORT.satisfactionState)
            found[str(constraint)] = state == REPORT.Satisfied
            _constraint_states(graph, premise, found)


def _expected(case: Case) -> list[Expected]:
    graph = Graph().parse(case.case_file)
    policy_report = graph.value(case.uri, EX.expectedReport)
    expected = []
    for rule_report in graph.objects(policy_report, REPORT.ruleReport):
        kind = "permission" if (rule_report, RDF.type, REPORT.PermissionReport) in graph else "prohibition"
        premises = {}
        for premise in graph.objects(rule_report, REPORT.premiseReport):
            for name in ("TargetReport", "PartyReport", "ActionReport"):
                if (premise, RDF.type, REPORT[name]) in graph:
                    premises[name] = graph.value(premise, REPORT.satisfactionState) == REPORT.Satisfied
        constraints: dict[str, bool] = {}
        _constraint_states(graph, rule_report, constraints)
        expected.append(
            Expected(
                rule=str(graph.value(rule_report, REPORT.rule)),
                kind=kind,
                active=graph.value(rule_report, REPORT.activationState) == REPORT.Active,
                premises=premises,
                constraints=constraints,
            )
        )
    return expected


def _policy(case: Case) -> object:
    graph = Graph().parse(case.policy_file)
    document = json.loads(graph.serialize(format="json-ld"))
    policy_uri = str(Graph().parse(case.case_file).value(case.uri, EX.policy))
    try:
        policies = parse_policies(document)
    except BadRequestData as exc:
        pytest.skip(f"outside the profile: {exc.detail}")
    (policy,) = [p for p in policies if p.uid == policy_uri]
    return policy


def _find(reports: tuple[RuleReport, ...], expected: Expected) -> RuleReport:
    found = [r for r in reports if r.rule.uid == expected.rule and r.kind.value == expected.kind]
    assert found, f"no report for {expected.kind} {expected.rule}"
    assert len(found) == 1
    return found[0]


_PREMISES = {"TargetReport": "target", "PartyReport": "party", "ActionReport": "action"}


@pytest.mark.parametrize("case", _cases())
def test_solidlab_case(case: Case) -> None:
    world = _world(case.sotw_file)
    request = _request(case.request_file, world)
    policy = _policy(case)
    decision = evaluate(policy, request)  # type: ignore[arg-type]
    for expected in _expected(case):
        report = _find(decision.rules, expected)
        assert report.active is expected.active, f"{expected.kind} {expected.rule}: {report.reason}"
        for premise, satisfied in expected.premises.items():
            state: MatchState = getattr(report, _PREMISES[premise])
            assert state is (MatchState.MATCHED if satisfied else MatchState.NOT_MATCHED), premise
        states = {c.uid: c.state for top in report.constraints for c in _walk(top)}
        for uid, satisfied in expected.constraints.items():
            assert states[uid] is (ConstraintState.SATISFIED if satisfied else ConstraintState.NOT_SATISFIED), uid
    # A decision follows from the activations: the suite's sets hold one rule each.
    (expected_rule, *_) = _expected(case)
    if expected_rule.kind == "permission":
        assert decision.permitted is expected_rule.active
    else:
        assert decision.permitted is False


def _walk(report: object) -> list[object]:
    members = getattr(report, "members", ())
    return [report, *(item for member in members for item in _walk(member))]
