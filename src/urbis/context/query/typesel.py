"""The Entity Type Selection Language (ETSI GS CIM 009, clause 4.17).

``type=(Building;TouristDestination),OffStreetParking`` selects entities that
are both a Building and a TouristDestination, or that are an OffStreetParking.
``,`` and ``|`` are OR, ``;`` is AND and binds tighter, parentheses group.

The parsed expression offers two evaluations: :meth:`TypeExpr.compile` for
checking entities in memory, and :meth:`TypeExpr.to_dnf` (a disjunction of
conjunctions of expanded IRIs) for building a SQL condition: an entity matches
when, for some set S of the DNF, its types include all of S.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import product

from urbis.context.query.scanner import WHITESPACE, Scanner
from urbis.core.errors import InvalidRequest, TooComplexQuery, UrbisError

Expand = Callable[[str], str]
TypeMatcher = Callable[[Iterable[str]], bool]

#: Deepest parenthesis nesting accepted (guards against RecursionError).
MAX_DEPTH = 32
#: Largest DNF handed to the store; beyond it the selection is refused as too complex.
MAX_DNF_TERMS = 1024

_WS = WHITESPACE
_STOP = frozenset(",|;()") | frozenset(_WS)
# Characters that cannot appear in a type name (they break URLs or the query languages); control
# characters too: PostgreSQL refuses a NUL in a text parameter, which made ``type=T%00`` a 500.
_BAD_NAME = re.compile(r"[\"'<>=\[\]\\{}`^\x00-\x1f\x7f]")


class TypeExpr:
    """A parsed type selection: a name, an AND or an OR of sub-expressions."""

    def terms(self) -> set[str]:
        """Every type name (term, unexpanded) the selection mentions."""
        raise NotImplementedError

    def to_dnf(self, expand: Expand) -> list[frozenset[str]]:
        """The selection as a disjunction of conjunctions of expanded type IRIs.

        Redundant conjunctions (supersets of another one) are dropped.  Raises
        :class:`TooComplexQuery` when the expansion would exceed
        :data:`MAX_DNF_TERMS` conjunctions.
        """
        iris = {term: _expand(expand, term) for term in self.terms()}
        return _minimal(self._dnf(iris))

    def compile(self, expand: Expand) -> TypeMatcher:
        """A predicate over an entity's expanded types (evaluated on the tree: no DNF blow-up)."""
        iris = {term: _expand(expand, term) for term in self.terms()}
        if isinstance(self, TypeName) or (
            isinstance(self, TypeOr) and all(isinstance(item, TypeName) for item in self.items)
        ):
            # The common case, "type=A" or "type=A,B": one set intersection.
            wanted = frozenset(iris.values())
            return lambda types: not wanted.isdisjoint(types)
        test = self._tree(iris)
        return lambda types: test(types if isinstance(types, set | frozenset) else set(types))

    def _dnf(self, iris: dict[str, str]) -> list[frozenset[str]]:
        raise NotImplementedError

    def _tree(self, iris: dict[str, str]) -> Callable[[set[str] | frozenset[str]], bool]:
        raise NotImplementedError


@dataclass(frozen=True)
class TypeName(TypeExpr):
    """One type name (a term, a compact IRI or a full IRI)."""

    name: str

    def terms(self) -> set[str]:
        """The one name."""
        return {self.name}

    def _dnf(self, iris: dict[str, str]) -> list[frozenset[str]]:
        return [frozenset({iris[self.name]})]

    def _tree(self, iris: dict[str, str]) -> Callable[[set[str] | frozenset[str]], bool]:
        iri = iris[self.name]
        return lambda types: iri in types

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class TypeAnd(TypeExpr):
    """All of ``items`` (``;``)."""

    items: tuple[TypeExpr, ...]

    def terms(self) -> set[str]:
        """The names of all items."""
        return set().union(*(item.terms() for item in self.items))

    def _dnf(self, iris: dict[str, str]) -> list[frozenset[str]]:
        result: list[frozenset[str]] = [frozenset()]
        for item in self.items:
            other = item._dnf(iris)
            if len(result) * len(other) > 4 * MAX_DNF_TERMS:
                raise _too_complex()
            result = _minimal([left | right for left, right in product(result, other)])
        return result

    def _tree(self, iris: dict[str, str]) -> Callable[[set[str] | frozenset[str]], bool]:
        parts = tuple(item._tree(iris) for item in self.items)
        return lambda types: all(part(types) for part in parts)

    def __str__(self) -> str:
        return ";".join(f"({item})" if isinstance(item, TypeOr) else str(item) for item in self.items)


@dataclass(frozen=True)
class TypeOr(TypeExpr):
    """Any of ``items`` (``,`` or ``|``)."""

    items: tuple[TypeExpr, ...]

    def terms(self) -> set[str]:
        """The names of all items."""
        return set().union(*(item.terms() for item in self.items))

    def _dnf(self, iris: dict[str, str]) -> list[frozenset[str]]:
        return _minimal([conj for item in self.items for conj in item._dnf(iris)])

    def _tree(self, iris: dict[str, str]) -> Callable[[set[str] | frozenset[str]], bool]:
        parts = tuple(item._tree(iris) for item in self.items)
        return lambda types: any(part(types) for part in parts)

    def __str__(self) -> str:
        return ",".join(str(item) for item in self.items)


def _minimal(conjunctions: list[frozenset[str]]) -> list[frozenset[str]]:
    """Drop duplicates and supersets (A or (A and B) is A), keeping first-seen order."""
    unique = list(dict.fromkeys(conjunctions))
    # Checked before the quadratic absorption step, which must stay cheap.
    if len(unique) > MAX_DNF_TERMS:
        raise _too_complex()
    return [conj for conj in unique if not any(other < conj for other in unique)]


def _too_complex() -> TooComplexQuery:
    return TooComplexQuery(
        f"the type selection expands to more than {MAX_DNF_TERMS} combinations of types; simplify it"
    )


def _expand(expand: Expand, term: str) -> str:
    try:
        return expand(term)
    except UrbisError:
        raise
    except Exception as exc:  # an unexpandable name is the client's error, not a 500
        raise InvalidRequest(f"invalid type selection: cannot expand the type name {term!r}") from exc


def parse_type_selection(text: str) -> TypeExpr:
    """Parse an Entity Type Selection (the ``type`` parameter).

    Raises :class:`InvalidRequest` naming the offending part and its 1-based
    position for any syntax error.
    """
    if not isinstance(text, str):
        raise InvalidRequest("the type selection must be a string")
    if not text.strip():
        raise InvalidRequest("the type selection is empty: expected a type name")
    try:
        return _Parser(text).parse()
    except UrbisError:
        raise
    except RecursionError as exc:
        raise InvalidRequest("the type selection is nested too deeply") from exc
    except Exception as exc:  # a malformed parameter is a 400, never a 500
        raise InvalidRequest(f"the type selection could not be parsed: {exc.__class__.__name__}") from exc


class _Parser(Scanner):
    language = "type selection"

    def parse(self) -> TypeExpr:
        expr = self.parse_or()
        self.skip_ws()
        if self.pos < len(self.text):
            raise self.error("unbalanced ')'" if self.peek() == ")" else f"unexpected {self.peek()!r}")
        return expr

    def parse_or(self) -> TypeExpr:
        items = [self.parse_and()]
        self.skip_ws()
        while self.peek() in (",", "|"):
            self.pos += 1
            items.append(self.parse_and())
            self.skip_ws()
        return items[0] if len(items) == 1 else TypeOr(_flatten(TypeOr, items))

    def parse_and(self) -> TypeExpr:
        items = [self.parse_atom()]
        self.skip_ws()
        while self.peek() == ";":
            self.pos += 1
            items.append(self.parse_atom())
            self.skip_ws()
        return items[0] if len(items) == 1 else TypeAnd(_flatten(TypeAnd, items))

    def parse_atom(self) -> TypeExpr:
        self.skip_ws()
        if self.peek() == "(":
            start = self.pos
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"parentheses nested deeper than {MAX_DEPTH}")
            self.pos += 1
            inner = self.parse_or()
            self.skip_ws()
            if self.peek() != ")":
                raise self.error(f"missing ')' for the '(' at position {start + 1}")
            self.pos += 1
            self.depth -= 1
            return inner
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _STOP:
            self.pos += 1
        name = self.text[start : self.pos]
        if not name:
            found = self.peek()
            raise self.error("expected a type name" + (f", found {found!r}" if found else " at the end"))
        bad = _BAD_NAME.search(name)
        if bad is not None or len(name) > 512:
            raise self.error(f"invalid type name {name[:60]!r}", start + (bad.start() if bad else 0))
        return TypeName(name)


def _flatten(kind: type[TypeAnd] | type[TypeOr], items: list[TypeExpr]) -> tuple[TypeExpr, ...]:
    flat: list[TypeExpr] = []
    for item in items:
        # (A;B);C is A;B;C: same meaning, shallower tree.
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return tuple(flat)
