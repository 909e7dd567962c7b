"""ODRL policies from and to JSON-LD.

:func:`parse_policy` reads a policy in any JSON-LD form — compact with the ODRL context
(``"@context": "http://www.w3.org/ns/odrl.jsonld"``), compact with prefixes (``odrl:permission``, as
the Dataspace Protocol writes it), expanded, or flattened (as rdflib writes a Turtle graph) — with
PyLD, the reference JSON-LD processor.  It never touches the network: the ODRL context is bundled
(:data:`ODRL_CONTEXT`) and any other remote context must be handed in through ``contexts``.

Terms the parser does not know are refused with a :class:`~urbis.core.errors.BadRequestData` naming
all of them: properties JSON-LD would drop silently (a misspelt ``permision``), actions, operators,
left operands and types outside ODRL 2.2 and the Urbis profile, ODRL properties in the wrong place
(a ``duty`` on a prohibition).  Properties from other vocabularies are ignored, except
``dct:title``, ``dct:description``, ``dct:license`` and ``vcard:fn``, which the model keeps.  A party's
name (like any property of a node with an IRI) belongs to the node: every rule naming that party
gets it.

:func:`policy_to_jsonld` writes a policy back as compact JSON-LD with the ODRL context and the
``urbis:`` prefix; ``parse_policy(policy_to_jsonld(p)) == p``.

About the bundled context: its terms are those of the W3C ODRL 2.2 context document, transcribed
from the ODRL vocabulary, with two of that document's slips mended (``neq`` there maps to
``odrl:neg`` and ``industry`` to ``odrl:industry:``; the parser accepts those IRIs as ``neq`` and
``industry`` when another processor produced them) and a few deprecated actions added
(``commercialize``, ``write``) plus ``synchronize``.  The writer uses bare terms only where the W3C
document defines them correctly and ``odrl:``-prefixed names otherwise, so what it writes means the
same under either document.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

from pyld import jsonld
from pyld.context_resolver import ContextResolver

from urbis.core.errors import BadRequestData, UrbisError
from urbis.marketplace.policies.model import (
    CC,
    ODRL,
    URBIS_ODRL,
    XSD,
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
    PolicyType,
    Prohibition,
    RightOperand,
    Rule,
    Scalar,
    compact_term,
)
from urbis.marketplace.policies.profile import DPV, format_duration, normalise_policy, parse_date_time, parse_duration

__all__ = [
    "ODRL_CONTEXT",
    "ODRL_CONTEXT_URL",
    "parse_policies",
    "parse_policy",
    "policy_to_jsonld",
]

ODRL_CONTEXT_URL: Final = "http://www.w3.org/ns/odrl.jsonld"
_ODRL_CONTEXT_URLS: Final = frozenset({ODRL_CONTEXT_URL, "https://www.w3.org/ns/odrl.jsonld"})

DCT: Final = "http://purl.org/dc/terms/"
RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
VCARD: Final = "http://www.w3.org/2006/vcard/ns#"
FOAF: Final = "http://xmlns.com/foaf/0.1/"
SCHEMA: Final = "http://schema.org/"

_ID_TERMS: Final = [
    "profile",
    "inheritFrom",
    "relation",
    "hasPolicy",
    "target",
    "output",
    "partOf",
    "source",
    "assignee",
    "assigner",
    "assigneeOf",
    "assignerOf",
    "attributedParty",
    "attributingParty",
    "compensatedParty",
    "compensatingParty",
    "consentingParty",
    "consentedParty",
    "informedParty",
    "informingParty",
    "trackingParty",
    "trackedParty",
    "contractingParty",
    "contractedParty",
    "includedIn",
    "implies",
    "permission",
    "prohibition",
    "obligation",
    "duty",
    "consequence",
    "remedy",
    "constraint",
    "refinement",
    "or",
    "xone",
    "and",
    "andSequence",
]
_VOCAB_TERMS: Final = ("conflict", "function", "action", "operator", "leftOperand")
_PLAIN_TERMS: Final = [
    "Policy",
    "Rule",
    "ConflictTerm",
    "perm",
    "prohibit",
    "invalid",
    "Agreement",
    "Assertion",
    "Offer",
    "Privacy",
    "Request",
    "Set",
    "Ticket",
    "Asset",
    "AssetCollection",
    "Party",
    "PartyCollection",
    "PartyScope",
    "Action",
    "Permission",
    "Prohibition",
    "Duty",
    "Constraint",
    "LogicalConstraint",
    "Operator",
    "RightOperand",
    "LeftOperand",
    "rightOperand",
    "unit",
    "status",
    "policyUsage",
]

#: The ODRL 2.2 JSON-LD context (see the module docstring for how it relates to the W3C document).
ODRL_CONTEXT: Final[dict[str, Any]] = {
    "@context": {
        "odrl": ODRL,
        "rdf": RDF,
        "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
        "owl": "http://www.w3.org/2002/07/owl#",
        "skos": "http://www.w3.org/2004/02/skos/core#",
        "dct": DCT,
        "xsd": XSD,
        "vcard": VCARD,
        "foaf": FOAF,
        "schema": SCHEMA,
        "cc": CC,
        "uid": "@id",
        "type": "@type",
        **{term: {"@type": "@id", "@id": f"odrl:{term}"} for term in _ID_TERMS},
        **{term: {"@type": "@vocab", "@id": f"odrl:{term}"} for term in _VOCAB_TERMS},
        **{term: f"odrl:{term}" for term in _PLAIN_TERMS},
        "rightOperandReference": {"@type": "xsd:anyURI", "@id": "odrl:rightOperandReference"},
        "dataType": {"@type": "@id", "@id": "odrl:dataType"},
        **{member.term: member.value for member in ActionType if member.value.startswith(ODRL)},
        **{member.term: member.value for member in LeftOperand if member.value.startswith(ODRL)},
        **{member.term: member.value for member in Operator},
    }
}

# Terms the W3C context document does not define, or defines wrongly: the writer prefixes them.
_NOT_IN_W3C_CONTEXT: Final = frozenset(
    {"neq", "industry", "synchronize", "write", "commercialize", "xone", "device", "system"}
)
# IRIs other processors produce from the W3C document's slips.
_ALIASES: Final = {ODRL + "neg": Operator.NEQ.value, ODRL + "industry:": LeftOperand.INDUSTRY.value}

_POLICY_TYPES: Final = {member.value: member for member in PolicyType}
_UNSUPPORTED_POLICY_TYPES: Final = {ODRL + name for name in ("Assertion", "Privacy", "Ticket", "Invitation")}
_LOGICAL: Final = {member.value: member for member in LogicalOperator}
_FUNCTIONS: Final = {member.value: member for member in PartyFunction}
_KINDS: Final = {"permission": ODRL + "Permission", "prohibition": ODRL + "Prohibition", "duty": ODRL + "Duty"}

_COMMON: Final = {ODRL + "uid"}
_RULE_PROPERTIES: Final = (
    _COMMON
    | {ODRL + p for p in ("action", "target", "assigner", "assignee", "constraint", "output", "relation")}
    | set(_FUNCTIONS)
)
_NESTED: Final = {"permission": ODRL + "duty", "prohibition": ODRL + "remedy", "duty": ODRL + "consequence"}
_POLICY_PROPERTIES: Final = _COMMON | {
    ODRL + p
    for p in (
        "permission",
        "prohibition",
        "obligation",
        "conflict",
        "profile",
        "inheritFrom",
        "target",
        "assigner",
        "assignee",
        "action",
        "constraint",
    )
}
_CONSTRAINT_PROPERTIES: Final = (
    _COMMON
    | {ODRL + p for p in ("leftOperand", "operator", "rightOperand", "unit", "dataType", "datatype", "status")}
    | {ODRL + "rightOperandReference"}  # known, and refused with its own message
    | set(_LOGICAL)
)
_PARTY_PROPERTIES: Final = _COMMON | {
    ODRL + p for p in ("source", "refinement", "partOf", "assigneeOf", "assignerOf", "hasPolicy", "constraint")
}
_ACTION_PROPERTIES: Final = _COMMON | {ODRL + p for p in ("refinement", "includedIn", "implies")}
_MAX_DEPTH: Final = 24

_NodeMap = dict[str, dict[str, Any]]


class _Problems:
    """Collects everything wrong with a document, so that one error names all of it."""

    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.other: list[str] = []

    def unknown_term(self, iri: str) -> None:
        name = compact_term(iri)
        if name not in self.unknown:
            self.unknown.append(name)

    def add(self, problem: str) -> None:
        if problem not in self.other:
            self.other.append(problem)

    def raise_if_any(self) -> None:
        parts = []
        if self.unknown:
            parts.append("unknown ODRL terms: " + ", ".join(self.unknown))
            if any(term.startswith("urbis:") for term in self.unknown):
                parts.append(f'the city profile\'s terms need the prefix "urbis": "{URBIS_ODRL}" in the @context')
        parts.extend(self.other)
        if parts:
            raise BadRequestData("; ".join(parts), extra={"unknownTerms": list(self.unknown)} if self.unknown else None)


def _urbis_cause(exc: BaseException) -> UrbisError | None:
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        if isinstance(current, UrbisError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _flatten(document: object, contexts: Mapping[str, Any], problems: _Problems) -> list[dict[str, Any]]:
    """Expand (noting every dropped property) and flatten the document, offline."""

    def loader(url: str, options: dict[str, Any]) -> dict[str, Any]:
        if url in _ODRL_CONTEXT_URLS:
            found: Any = ODRL_CONTEXT
        elif url in contexts:
            found = contexts[url]
            if isinstance(found, Mapping) and "@context" not in found:
                found = {"@context": dict(found)}
        else:
            raise BadRequestData(f"unknown remote @context {url}: policies may use the ODRL context or inline ones")
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": found}

    def dropped(term: str | None) -> None:
        problems.unknown_term(term or "(a property without a name)")

    # No base IRI: a relative name (an undefined term such as "reed") stays as written, so errors name it.
    options = {"base": None, "documentLoader": loader, "contextResolver": ContextResolver({}, loader)}
    try:
        expanded = jsonld.expand(document, options, on_property_dropped=dropped)
        flat = jsonld.flatten(expanded, None, options)
    except Exception as exc:  # noqa: BLE001 - PyLD raises many kinds; each is a bad document
        cause = _urbis_cause(exc)
        if cause is not None:
            raise cause from None
        raise BadRequestData(f"not a valid JSON-LD document: {exc}") from None
    return [node for node in flat if isinstance(node, dict) and "@id" in node]


def _is_odrl_like(iri: str) -> bool:
    return iri.startswith((ODRL, URBIS_ODRL))


class _Reader:
    """Turns the flattened node map into model objects, noting problems on the way."""

    def __init__(self, nodes: _NodeMap, problems: _Problems):
        self.nodes = nodes
        self.problems = problems

    # --- plumbing ------------------------------------------------------------------------------

    def node(self, ref: Mapping[str, Any]) -> dict[str, Any]:
        identifier = ref.get("@id")
        if identifier is None:
            return dict(ref)
        return self.nodes.get(identifier, {"@id": identifier})

    @staticmethod
    def uid(node: Mapping[str, Any]) -> str | None:
        identifier = node.get("@id")
        return None if identifier is None or str(identifier).startswith("_:") else str(identifier)

    @staticmethod
    def values(node: Mapping[str, Any], prop: str) -> list[Any]:
        found = node.get(prop, [])
        items = found if isinstance(found, list) else [found]
        result: list[Any] = []
        for item in items:
            if isinstance(item, dict) and "@list" in item:
                result.extend(item["@list"])
            else:
                result.append(item)
        return result

    def ids(self, node: Mapping[str, Any], prop: str) -> list[str]:
        found: list[str] = []
        for value in self.values(node, prop):
            if isinstance(value, dict) and "@id" in value:
                identifier = str(value["@id"])
                found.append(_ALIASES.get(identifier, identifier))
            elif isinstance(value, dict) and isinstance(value.get("@value"), str):
                found.append(value["@value"])
        return found

    def text(self, node: Mapping[str, Any], *props: str) -> str | None:
        for prop in props:
            for value in self.values(node, prop):
                if isinstance(value, dict) and "@value" in value:
                    return str(value["@value"])
        return None

    def types(self, node: Mapping[str, Any]) -> list[str]:
        return [str(t) for t in node.get("@type", [])]

    def check_properties(self, node: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
        allowed_set = set(allowed)
        for prop in node:
            if prop.startswith("@") or prop in allowed_set:
                continue
            if _is_odrl_like(prop):
                known = prop in _KNOWN_PROPERTIES
                if known:
                    self.problems.add(f"{compact_term(prop)} is not allowed on {what}")
                else:
                    self.problems.unknown_term(prop)

    def check_types(self, node: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
        allowed_set = set(allowed)
        for type_iri in self.types(node):
            if type_iri in allowed_set:
                continue
            if ":" not in type_iri or _is_odrl_like(type_iri):
                if type_iri in _KNOWN_TYPES:
                    self.problems.add(f"{what} is typed {compact_term(type_iri)}")
                else:
                    self.problems.unknown_term(type_iri)

    # --- values --------------------------------------------------------------------------------

    def literal(self, value: Any) -> Scalar | None:
        if isinstance(value, dict) and "@id" in value:
            return Iri(str(value["@id"]))
        if not isinstance(value, dict) or "@value" not in value:
            self.problems.add(f"{value!r} is not a value")
            return None
        raw = value["@value"]
        datatype = value.get("@type")
        try:
            return _typed(raw, datatype)
        except (BadRequestData, ValueError, InvalidOperation) as exc:
            detail = exc.detail if isinstance(exc, BadRequestData) else str(exc)
            self.problems.add(f"right operand {raw!r}: {detail}")
            return None

    def constraint(self, ref: Mapping[str, Any], depth: int) -> ConstraintLike | None:
        if depth > _MAX_DEPTH:
            self.problems.add("constraints nest too deeply (or refer to themselves)")
            return None
        node = self.node(ref)
        self.check_properties(node, _CONSTRAINT_PROPERTIES, "a constraint")
        self.check_types(node, (ODRL + "Constraint", ODRL + "LogicalConstraint"), "a constraint")
        operators = [iri for iri in _LOGICAL if iri in node]
        if len(operators) > 1:
            self.problems.add("a logical constraint has exactly one of or, xone, and, andSequence")
            return None
        if operators:
            members = [self.constraint(member, depth + 1) for member in self.values(node, operators[0])]
            if not members:
                self.problems.add(f"a logical constraint ({compact_term(operators[0])}) needs at least one constraint")
                return None
            if any(member is None for member in members):
                return None
            return LogicalConstraint(
                _LOGICAL[operators[0]], tuple(m for m in members if m is not None), uid=self.uid(node)
            )
        return self.atomic(node)

    def atomic(self, node: Mapping[str, Any]) -> Constraint | None:
        if ODRL + "rightOperandReference" in node:
            self.problems.add("rightOperandReference is not supported: give the value as rightOperand")
            return None
        lefts, operators = self.ids(node, ODRL + "leftOperand"), self.ids(node, ODRL + "operator")
        rights = self.values(node, ODRL + "rightOperand")
        if len(lefts) != 1 or len(operators) != 1 or not rights:
            self.problems.add("a constraint needs one leftOperand, one operator and a rightOperand")
            return None
        left = _member(LeftOperand, lefts[0], self.problems)
        operator = _member(Operator, operators[0], self.problems)
        values = [self.literal(value) for value in rights]
        if left is None or operator is None or any(value is None for value in values):
            return None
        # A lone value in a tuple is unwrapped by Constraint for the operators that take one value.
        right: RightOperand = tuple(v for v in values if v is not None)
        units = self.ids(node, ODRL + "unit")
        try:
            return Constraint(left, operator, right, uid=self.uid(node), unit=units[0] if units else None)
        except BadRequestData as exc:
            self.problems.add(exc.detail)
            return None

    def constraints(self, node: Mapping[str, Any], prop: str) -> tuple[ConstraintLike, ...]:
        found = [self.constraint(ref, 0) for ref in self.values(node, prop)]
        return tuple(c for c in found if c is not None)

    def party(self, ref: Mapping[str, Any]) -> Party:
        node = self.node(ref)
        self.check_properties(node, _PARTY_PROPERTIES, "a party")
        sources = self.ids(node, ODRL + "source")
        return Party(
            uid=self.uid(node),
            collection=ODRL + "PartyCollection" in self.types(node),
            source=sources[0] if sources else None,
            refinements=self.constraints(node, ODRL + "refinement"),
            name=self.text(node, VCARD + "fn", FOAF + "name", SCHEMA + "name"),
        )

    def asset(self, ref: Mapping[str, Any]) -> Asset:
        node = self.node(ref)
        self.check_properties(node, _PARTY_PROPERTIES, "an asset")
        sources = self.ids(node, ODRL + "source")
        return Asset(
            uid=self.uid(node),
            collection=ODRL + "AssetCollection" in self.types(node),
            source=sources[0] if sources else None,
            refinements=self.constraints(node, ODRL + "refinement"),
        )

    def action(self, ref: Mapping[str, Any]) -> Action | None:
        identifier = ref.get("@id")
        if isinstance(identifier, str) and identifier in _ACTIONS:
            return Action(_ACTIONS[identifier])
        node = self.node(ref)
        inner = self.ids(node, RDF + "value")
        if not inner:
            self.problems.unknown_term(str(identifier))
            return None
        self.check_properties(node, _ACTION_PROPERTIES, "an action")
        action_type = _member(ActionType, inner[0], self.problems)
        if action_type is None:
            return None
        return Action(action_type, self.constraints(node, ODRL + "refinement"))

    # --- rules and policies --------------------------------------------------------------------

    def rules(self, ref: Mapping[str, Any], kind: str, defaults: Mapping[str, list[Any]], depth: int) -> list[Rule]:
        if depth > _MAX_DEPTH:
            self.problems.add("duties nest too deeply (or refer to themselves)")
            return []
        node = self.node(ref)
        self.check_properties(node, _RULE_PROPERTIES | {_NESTED[kind]}, f"a {kind}")
        self.check_types(node, (_KINDS[kind], ODRL + "Rule"), f"a {kind}")

        def choose(prop: str) -> list[Any]:
            return self.values(node, prop) or list(defaults.get(prop, [])) or [None]

        actions = [None if a is None else self.action(a) for a in choose(ODRL + "action")]
        targets = [None if t is None else self.asset(t) for t in choose(ODRL + "target")]
        assignees = [None if p is None else self.party(p) for p in choose(ODRL + "assignee")]
        assigners = [
            self.party(p) for p in (self.values(node, ODRL + "assigner") or defaults.get(ODRL + "assigner", []))
        ]
        if len(assigners) > 1:
            self.problems.add(f"a {kind} has one assigner")
        constraints = (*self.constraints(node, ODRL + "constraint"), *defaults.get(ODRL + "constraint", ()))
        functions = tuple(
            (_FUNCTIONS[prop], self.party(party)) for prop in _FUNCTIONS for party in self.values(node, prop)
        )
        nested = [
            rule for child in self.values(node, _NESTED[kind]) for rule in self.rules(child, "duty", {}, depth + 1)
        ]
        common: dict[str, Any] = {
            "uid": self.uid(node),
            "assigner": assigners[0] if assigners else None,
            "constraints": constraints,
            "functions": functions,
            "description": self.text(node, DCT + "description"),
        }
        built: list[Rule] = []
        # One atomic rule per action × target × assignee (ODRL 2.2 §2.7.1).
        for action, target, assignee in itertools.product(actions, targets, assignees):
            if action is None and self.values(node, ODRL + "action"):
                continue  # an unknown action, already noted
            fields = {**common, "action": action, "target": target, "assignee": assignee}
            if kind == "permission":
                built.append(Permission(duties=tuple(r for r in nested if isinstance(r, Duty)), **fields))
            elif kind == "prohibition":
                built.append(Prohibition(remedies=tuple(r for r in nested if isinstance(r, Duty)), **fields))
            else:
                built.append(Duty(consequences=tuple(r for r in nested if isinstance(r, Duty)), **fields))
        return built

    def policy(self, node: Mapping[str, Any], policy_type: PolicyType) -> Policy:
        self.check_properties(node, _POLICY_PROPERTIES, f"a {policy_type.term} policy")
        self.check_types(node, (*_POLICY_TYPES, ODRL + "Policy"), "a policy")
        uid = self.uid(node)
        if uid is None:
            self.problems.add("a policy needs a uid (an IRI)")
            uid = ""
        defaults: dict[str, Any] = {
            prop: self.values(node, prop)
            for prop in (ODRL + "action", ODRL + "target", ODRL + "assignee", ODRL + "assigner")
        }
        defaults[ODRL + "constraint"] = self.constraints(node, ODRL + "constraint")
        conflicts = self.ids(node, ODRL + "conflict")
        conflict = _member(ConflictStrategy, conflicts[0], self.problems) if conflicts else None
        rules: dict[str, list[Rule]] = {}
        for kind, prop in (("permission", "permission"), ("prohibition", "prohibition"), ("duty", "obligation")):
            rules[kind] = [
                rule for ref in self.values(node, ODRL + prop) for rule in self.rules(ref, kind, defaults, 0)
            ]
        licences = self.ids(node, DCT + "license")
        return Policy(
            uid=uid,
            type=policy_type,
            permissions=tuple(r for r in rules["permission"] if isinstance(r, Permission)),
            prohibitions=tuple(r for r in rules["prohibition"] if isinstance(r, Prohibition)),
            obligations=tuple(r for r in rules["duty"] if isinstance(r, Duty)),
            conflict=conflict,
            profiles=tuple(self.ids(node, ODRL + "profile")),
            inherit_from=tuple(self.ids(node, ODRL + "inheritFrom")),
            licence=licences[0] if licences else None,
            title=self.text(node, DCT + "title"),
            description=self.text(node, DCT + "description"),
        )


_ACTIONS: Final = {member.value: member for member in ActionType}
_KNOWN_TYPES: Final = {
    *_POLICY_TYPES,
    *_UNSUPPORTED_POLICY_TYPES,
    *_KINDS.values(),
    *(ODRL + t for t in ("Policy", "Rule", "Constraint", "LogicalConstraint", "Party", "PartyCollection")),
    *(ODRL + t for t in ("Asset", "AssetCollection", "Action", "LeftOperand", "Operator", "RightOperand")),
}
_KNOWN_PROPERTIES: Final = (
    _POLICY_PROPERTIES
    | _RULE_PROPERTIES
    | set(_NESTED.values())
    | _CONSTRAINT_PROPERTIES
    | _PARTY_PROPERTIES
    | _ACTION_PROPERTIES
    | {ODRL + "refinement", ODRL + "rightOperandReference", ODRL + "failure"}
)


_E = TypeVar("_E", LeftOperand, Operator, ActionType, ConflictStrategy)


def _member(enum: type[_E], iri: str, problems: _Problems) -> _E | None:
    iri = _ALIASES.get(iri, iri)
    try:
        return enum(iri)
    except ValueError:
        problems.unknown_term(iri)
        return None


_INTEGER_TYPES: Final = {
    XSD + t
    for t in (
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "unsignedInt",
        "unsignedLong",
        "unsignedShort",
        "unsignedByte",
    )
}
_DURATION_TYPES: Final = {XSD + t for t in ("duration", "dayTimeDuration", "yearMonthDuration")}


def _typed(raw: Any, datatype: str | None) -> Scalar:
    """An expanded JSON-LD literal as a Python value, by its datatype."""
    if datatype is None or datatype == XSD + "string":
        if isinstance(raw, bool | int | float | str):
            return raw
        raise ValueError(f"{raw!r} is not a literal")
    if datatype in (XSD + "dateTime", XSD + "dateTimeStamp"):
        moment = parse_date_time(str(raw))
        if not isinstance(moment, datetime):
            raise ValueError("an xsd:dateTime needs a time")
        return moment
    if datatype == XSD + "date":
        return date.fromisoformat(str(raw))
    if datatype in _DURATION_TYPES:
        return parse_duration(str(raw))
    if datatype in _INTEGER_TYPES:
        return int(str(raw))
    if datatype == XSD + "decimal":
        return Decimal(str(raw))
    if datatype in (XSD + "double", XSD + "float"):
        return float(raw)
    if datatype == XSD + "boolean":
        if isinstance(raw, bool):
            return raw
        if str(raw) in ("true", "1", "false", "0"):
            return str(raw) in ("true", "1")
        raise ValueError(f"{raw!r} is not an xsd:boolean")
    if datatype == XSD + "anyURI":
        return Iri(str(raw))
    return str(raw)


def _policy_nodes(nodes: _NodeMap, problems: _Problems) -> list[tuple[dict[str, Any], PolicyType]]:
    found: list[tuple[dict[str, Any], PolicyType]] = []
    for node in nodes.values():
        types = [str(t) for t in node.get("@type", [])]
        for type_iri in types:
            if type_iri in _UNSUPPORTED_POLICY_TYPES:
                problems.add(
                    f"{compact_term(type_iri)} policies are not supported (Set, Offer, Agreement, Request are)"
                )
        policy_types = [_POLICY_TYPES[t] for t in types if t in _POLICY_TYPES]
        if len(policy_types) > 1:
            problems.add(f"policy {node['@id']} has more than one policy type")
        if policy_types:
            found.append((node, policy_types[0]))
        elif ODRL + "Policy" in types:
            found.append((node, PolicyType.SET))
    if found:
        return found
    for node in nodes.values():
        for type_iri in (str(t) for t in node.get("@type", [])):
            if type_iri not in _KNOWN_TYPES and (":" not in type_iri or _is_odrl_like(type_iri)):
                problems.unknown_term(type_iri)  # a misspelt policy type, most likely
    # An untyped node with rules that nothing refers to is a Set (the default policy subclass).
    referenced = {
        value["@id"]
        for node in nodes.values()
        for prop, values in node.items()
        if not prop.startswith("@")
        for value in (values if isinstance(values, list) else [values])
        if isinstance(value, dict) and "@id" in value
    }
    rule_props = (ODRL + "permission", ODRL + "prohibition", ODRL + "obligation")
    return [
        (node, PolicyType.SET)
        for node in nodes.values()
        if node["@id"] not in referenced and not node.get("@type") and any(prop in node for prop in rule_props)
    ]


def parse_policies(document: object, *, contexts: Mapping[str, Any] | None = None) -> tuple[Policy, ...]:
    """Every ODRL policy in a JSON-LD document, typed and checked; BadRequestData naming what is wrong.

    ``contexts`` maps remote ``@context`` URLs (other than the ODRL one, which is bundled) to their
    documents; nothing is ever fetched.
    """
    if not isinstance(document, dict | list):
        raise BadRequestData("an ODRL policy is a JSON-LD object")
    problems = _Problems()
    flat = _flatten(document, contexts or {}, problems)
    nodes: _NodeMap = {str(node["@id"]): node for node in flat}
    reader = _Reader(nodes, problems)
    found = _policy_nodes(nodes, problems)
    if not found:
        problems.add("the document holds no ODRL policy (a Set, Offer, Agreement or Request)")
    policies = [reader.policy(node, policy_type) for node, policy_type in found]
    problems.raise_if_any()
    return tuple(normalise_policy(policy) for policy in policies)


def parse_policy(document: object, *, contexts: Mapping[str, Any] | None = None) -> Policy:
    """The one ODRL policy in a JSON-LD document (see :func:`parse_policies`)."""
    policies = parse_policies(document, contexts=contexts)
    if len(policies) != 1:
        raise BadRequestData(f"expected one ODRL policy, found {len(policies)}: " + ", ".join(p.uid for p in policies))
    return policies[0]


# --- writing -----------------------------------------------------------------------------------


def _vocab(iri: str) -> str:
    """An IRI in a vocabulary position (action, operator, leftOperand, conflict, @type)."""
    if iri.startswith(ODRL):
        term = iri[len(ODRL) :]
        return f"odrl:{term}" if term in _NOT_IN_W3C_CONTEXT else term
    if iri.startswith(URBIS_ODRL):
        return "urbis:" + iri[len(URBIS_ODRL) :]
    if iri.startswith(CC):
        return "cc:" + iri[len(CC) :]
    return iri


def _value(value: Scalar) -> Any:
    if isinstance(value, Iri):
        return {"@id": value.value}
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return {"@value": str(value), "@type": "xsd:decimal"}
    if isinstance(value, datetime):
        return {"@value": value.isoformat().replace("+00:00", "Z"), "@type": "xsd:dateTime"}
    if isinstance(value, date):
        return {"@value": value.isoformat(), "@type": "xsd:date"}
    if isinstance(value, timedelta):
        return {"@value": format_duration(value), "@type": "xsd:duration"}
    raise TypeError(f"cannot write {value!r} as a right operand")


def _with_uid(uid: str | None, body: dict[str, Any]) -> dict[str, Any]:
    return {"uid": uid, **body} if uid else body


def _constraint(constraint: ConstraintLike) -> dict[str, Any]:
    if isinstance(constraint, LogicalConstraint):
        members = [_constraint(member) for member in constraint.constraints]
        # andSequence keeps its order only as a JSON-LD list.
        value: Any = {"@list": members} if constraint.operator is LogicalOperator.AND_SEQUENCE else members
        return _with_uid(constraint.uid, {"@type": "LogicalConstraint", _vocab(constraint.operator.value): value})
    right = constraint.right_operand
    body: dict[str, Any] = {
        "leftOperand": _vocab(constraint.left_operand.value),
        "operator": _vocab(constraint.operator.value),
        "rightOperand": [_value(v) for v in right] if isinstance(right, tuple) else _value(right),
    }
    if constraint.unit:
        body["unit"] = {"@id": constraint.unit}
    return _with_uid(constraint.uid, body)


def _party(party: Party | Asset) -> Any:
    name = party.name if isinstance(party, Party) else None
    if not party.collection and party.source is None and not party.refinements and name is None and party.uid:
        return party.uid
    body: dict[str, Any] = {}
    if party.collection:
        body["@type"] = "PartyCollection" if isinstance(party, Party) else "AssetCollection"
    if party.source:
        body["source"] = party.source
    if party.refinements:
        body["refinement"] = [_constraint(c) for c in party.refinements]
    if name is not None:
        body["vcard:fn"] = name
    return _with_uid(party.uid, body)


def _action(action: Action) -> Any:
    if not action.refinements:
        return _vocab(action.type.value)
    return {"rdf:value": {"@id": action.type.value}, "refinement": [_constraint(c) for c in action.refinements]}


def _rule_body(rules: list[Rule]) -> dict[str, Any]:
    """One rule object; several atomic rules that came from one rule go back into it."""
    first = rules[0]
    body: dict[str, Any] = {}
    actions = list(dict.fromkeys(r.action for r in rules if r.action is not None))
    targets = list(dict.fromkeys(r.target for r in rules if r.target is not None))
    assignees = list(dict.fromkeys(r.assignee for r in rules if r.assignee is not None))
    if actions:
        body["action"] = [_action(a) for a in actions] if len(actions) > 1 else _action(actions[0])
    if targets:
        body["target"] = [_party(t) for t in targets] if len(targets) > 1 else _party(targets[0])
    if first.assigner is not None:
        body["assigner"] = _party(first.assigner)
    if assignees:
        body["assignee"] = [_party(p) for p in assignees] if len(assignees) > 1 else _party(assignees[0])
    if first.constraints:
        body["constraint"] = [_constraint(c) for c in first.constraints]
    for function, party in first.functions:
        body.setdefault(function.term, []).append(_party(party))
    if first.description is not None:
        body["dct:description"] = first.description
    nested: tuple[Duty, ...] = ()
    if isinstance(first, Permission):
        nested, key = first.duties, "duty"
    elif isinstance(first, Prohibition):
        nested, key = first.remedies, "remedy"
    elif isinstance(first, Duty):
        nested, key = first.consequences, "consequence"
    if nested:
        body[key] = _rules(nested)
    return _with_uid(first.uid, body)


def _regroupable(group: list[Rule]) -> bool:
    """True when the atomic rules are exactly the action × target × assignee product of one rule."""
    shapes = {replace(rule, action=None, target=None, assignee=None) for rule in group}
    if len(shapes) != 1:
        return False
    actions = list(dict.fromkeys(r.action for r in group))
    targets = list(dict.fromkeys(r.target for r in group))
    assignees = list(dict.fromkeys(r.assignee for r in group))
    product = [(a, t, p) for a in actions for t in targets for p in assignees]
    return product == [(r.action, r.target, r.assignee) for r in group]


def _rules(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    written: list[dict[str, Any]] = []
    pending = list(rules)
    while pending:
        first = pending[0]
        group = [first]
        if first.uid is not None:
            group = [rule for rule in pending if rule.uid == first.uid]
            if not _regroupable(group):
                group = [first]
        written.append(_rule_body(group))
        for rule in group:
            pending.remove(rule)
    return written


def policy_to_jsonld(policy: Policy) -> dict[str, Any]:
    """The policy as compact JSON-LD with the ODRL context (and the ``urbis:``/``dpv:`` prefixes)."""
    document: dict[str, Any] = {
        "@context": [ODRL_CONTEXT_URL, {"urbis": URBIS_ODRL, "dpv": DPV}],
        "@type": _vocab(policy.type.value),
        "uid": policy.uid,
    }
    if policy.profiles:
        document["profile"] = list(policy.profiles)
    if policy.conflict is not None:
        document["conflict"] = _vocab(policy.conflict.value)
    if policy.inherit_from:
        document["inheritFrom"] = list(policy.inherit_from)
    if policy.licence:
        document["dct:license"] = {"@id": policy.licence}
    if policy.title is not None:
        document["dct:title"] = policy.title
    if policy.description is not None:
        document["dct:description"] = policy.description
    for key, rules in (
        ("permission", policy.permissions),
        ("prohibition", policy.prohibitions),
        ("obligation", policy.obligations),
    ):
        if rules:
            document[key] = _rules(rules)
    return document
