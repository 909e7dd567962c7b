"""The NGSI-LD Query Language (ETSI GS CIM 009, clause 4.9) and the scope query (clause 4.19).

``parse_q`` turns the (already URL-decoded) text of ``q`` into a small AST of
frozen dataclasses; ``compile_q`` turns that AST into a plain predicate over the
internal entity form (see :mod:`urbis.context.model`).  Every term is expanded
exactly once, at compile time, and every regular expression is compiled once,
at parse time, so evaluating one query over thousands of entities only walks
dicts.

Grammar accepted (``;`` binds tighter than ``|``)::

    query      := and ('|' and)*
    and        := term (';' term)*
    term       := '(' query ')' | '!' path | path | path op value
    path       := name ('.' name)* ('[' key ']')*        -- the last name may be a member
    op         := '==' | '!=' | '>' | '>=' | '<' | '<=' | '~=' | '!~='
    value      := literal | literal '..' literal | literal (',' literal)+   -- for == and !=
                | literal                                                  -- for > >= < <=
                | regex                                                    -- for ~= and !~=
    literal    := "quoted string" | number | true | false | date-time | date | time | URI

Semantics, decided where the specification leaves room:

- an attribute with several instances (datasetIds) matches if any instance does;
- a target value that is a JSON array matches ``==``, ``>``, ``~=``... if any
  element does; ``!=`` and ``!~=`` are the complement of ``==`` / ``~=`` over the
  elements of one instance (no element equal, at least one comparable element);
- values of different kinds never match (``5 == "5"`` and ``5 != "5"`` are both
  false), and a missing attribute matches neither ``==`` nor ``!=``;
- booleans are not numbers; ints and floats compare numerically;
- date-time literals compare with stored strings that parse as ISO 8601 (naive
  ones are taken as UTC); a date literal compares with the UTC date of the
  stored value; a time literal compares with stored time-only strings;
- a VocabProperty stores expanded IRIs: a string or URI literal matches if it
  equals the stored IRI or expands to it.

A regular expression (``~=``) is either a double-quoted string or the raw text
up to the next ``;``, ``|`` or unbalanced ``)``; parentheses, character classes
and backslash escapes inside it are respected, so ``(?i)Mercedes`` and
``(a|b)c`` work, but a top-level ``|`` ends the regex (quote it or group it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

from urbis.context.model import LANGUAGE_PROPERTY, VALUE_MEMBER, VOCAB_PROPERTY, Entity
from urbis.context.query.scanner import WHITESPACE, Scanner
from urbis.core.errors import InvalidRequest, UrbisError

Expand = Callable[[str], str]

#: Deepest parenthesis nesting accepted; deeper queries are rejected rather than risking RecursionError.
MAX_DEPTH = 32

#: Members of an attribute that a path may address instead of a sub-attribute (``temperature.observedAt``).
PATH_MEMBERS = frozenset({"observedAt", "createdAt", "modifiedAt", "unitCode", "datasetId"})

OPERATORS = ("==", "!=", ">", ">=", "<", "<=", "~=", "!~=")
# Longest first, so that "!~=" is not read as "!" and ">=" not as ">".
_OPERATORS_BY_LENGTH = ("!~=", "==", "!=", ">=", "<=", "~=", ">", "<")
_ORDERING = frozenset({">", ">=", "<", "<="})

_WS = WHITESPACE
# Characters that end a name segment; a full IRI may contain dots, so it has its own set.
_NAME_STOP = frozenset(".[]=!<>~;|()\"',") | frozenset(_WS)
_IRI_STOP = _NAME_STOP - {"."}
_IRI_START = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\"'<>{}|\\^`;()]+")

_NO: Any = object()  # "no comparable value here" (None is a legitimate JSON value)


# ---------------------------------------------------------------------------
# The AST
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AttrPath:
    """What a query term addresses: ``attr(.sub)*(.member)?([key])*``.

    ``attr`` and ``sub_attrs`` are terms (expanded at compile time); ``member``
    is one of :data:`PATH_MEMBERS`; ``keys`` index into a compound value or pick
    a language of a LanguageProperty and are never expanded.
    """

    attr: str
    sub_attrs: tuple[str, ...] = ()
    member: str | None = None
    keys: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = ".".join((self.attr, *self.sub_attrs))
        if self.member:
            text += "." + self.member
        return text + "".join(f"[{key}]" for key in self.keys)


@dataclass(frozen=True)
class Value:
    """One literal: ``kind`` is number, string, boolean, datetime, date, time or uri."""

    kind: str
    value: Any
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        if self.kind == "string":
            return '"' + str(self.value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        return self.text or _render_plain(self.value)


@dataclass(frozen=True)
class Range:
    """An inclusive range ``low..high`` of two literals of the same kind."""

    low: Value
    high: Value

    def __str__(self) -> str:
        return f"{self.low}..{self.high}"


@dataclass(frozen=True)
class ValueList:
    """A list of literals: ``==`` matches any of them, ``!=`` none of them."""

    items: tuple[Value, ...]

    def __str__(self) -> str:
        return ",".join(str(item) for item in self.items)


@dataclass(frozen=True)
class Pattern:
    """A regular expression for ``~=`` / ``!~=`` (compiled once, when parsed)."""

    source: str
    compiled: re.Pattern[str] = field(compare=False, repr=False)

    def __str__(self) -> str:
        return '"' + self.source.replace("\\", "\\\\").replace('"', '\\"') + '"'


QValue = Value | Range | ValueList | Pattern


@dataclass(frozen=True)
class Comparison:
    """``path op value``."""

    path: AttrPath
    op: str
    value: QValue

    def __str__(self) -> str:
        return f"{self.path}{self.op}{self.value}"


@dataclass(frozen=True)
class Exists:
    """``path``: the attribute (or sub-attribute, member, key) is present."""

    path: AttrPath

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class NotExists:
    """``!path``: the attribute (or sub-attribute, member, key) is absent."""

    path: AttrPath

    def __str__(self) -> str:
        return "!" + str(self.path)


@dataclass(frozen=True)
class And:
    """All of ``items`` (``;``)."""

    items: tuple[QNode, ...]

    def __str__(self) -> str:
        return ";".join(f"({item})" if isinstance(item, Or) else str(item) for item in self.items)


@dataclass(frozen=True)
class Or:
    """Any of ``items`` (``|``)."""

    items: tuple[QNode, ...]

    def __str__(self) -> str:
        return "|".join(str(item) for item in self.items)


QNode = And | Or | Comparison | Exists | NotExists


def _render_plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value.isoformat() if isinstance(value, date | time) else str(value)


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def parse_q(text: str) -> QNode:
    """Parse the text of an NGSI-LD ``q`` parameter (already URL-decoded).

    Raises :class:`InvalidRequest` naming the offending part and its 1-based
    position for any syntax error; nothing else escapes.
    """
    if not isinstance(text, str):
        raise InvalidRequest("q must be a string")
    if not text.strip():
        raise InvalidRequest("q is empty: expected at least one query term")
    try:
        return _QParser(text).parse()
    except UrbisError:
        raise
    except RecursionError as exc:
        raise InvalidRequest("q is nested too deeply") from exc
    except Exception as exc:  # even a parser bug must surface as a 400, not a 500
        raise InvalidRequest(f"q could not be parsed: {exc.__class__.__name__}") from exc


class _QParser(Scanner):
    language = "q"

    # -- logic ---------------------------------------------------------------

    def parse(self) -> QNode:
        node = self.parse_or()
        self.skip_ws()
        if self.pos < len(self.text):
            if self.peek() == ")":
                raise self.error("unbalanced ')'")
            raise self.error(f"unexpected {self.peek()!r}")
        return node

    def parse_or(self) -> QNode:
        items = [self.parse_and()]
        self.skip_ws()
        while self.peek() == "|":
            self.pos += 1
            items.append(self.parse_and())
            self.skip_ws()
        return _flatten(Or, items)

    def parse_and(self) -> QNode:
        items = [self.parse_term()]
        self.skip_ws()
        while self.peek() == ";":
            self.pos += 1
            items.append(self.parse_term())
            self.skip_ws()
        return _flatten(And, items)

    def parse_term(self) -> QNode:
        self.skip_ws()
        char = self.peek()
        if char == "(":
            start = self.pos
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"parentheses nested deeper than {MAX_DEPTH}")
            self.pos += 1
            node = self.parse_or()
            self.skip_ws()
            if self.peek() != ")":
                raise self.error("missing ')' for the '(' at position " + str(start + 1))
            self.pos += 1
            self.depth -= 1
            return node
        if char in ("", ";", "|", ")"):
            raise self.error("expected a query term" + (f", found {char!r}" if char else " at the end"))
        if char == "!" and not self.text.startswith(("!=", "!~="), self.pos):
            self.pos += 1
            path = self.parse_path()
            self.skip_ws()
            if self.at_operator():
                raise self.error("'!' only negates existence (use != or !~= to negate a comparison)")
            self.expect_term_end()
            return NotExists(path)
        path = self.parse_path()
        self.skip_ws()
        op_pos = self.pos
        op = self.read_operator()
        if op is None:
            self.expect_term_end()
            return Exists(path)
        self.skip_ws()
        value: QValue = self.parse_regex(op) if op in ("~=", "!~=") else self.parse_value(op, op_pos)
        return Comparison(path, op, value)

    def expect_term_end(self) -> None:
        self.skip_ws()
        char = self.peek()
        if char not in ("", ";", "|", ")"):
            if char == "=":
                raise self.error("unknown operator '=' (use ==)")
            raise self.error(f"expected an operator, ';', '|' or ')' but found {char!r}")

    def at_operator(self) -> bool:
        return any(self.text.startswith(op, self.pos) for op in _OPERATORS_BY_LENGTH)

    def read_operator(self) -> str | None:
        for op in _OPERATORS_BY_LENGTH:
            if self.text.startswith(op, self.pos):
                # "=>", "=<", "<>" and friends are typos of real operators: name them.
                after = self.text[self.pos + len(op) : self.pos + len(op) + 1]
                if op in ("==", "!=", ">=", "<=", "~=", "!~=") and after == "=":
                    raise self.error(f"unknown operator '{op}='")
                if op in (">", "<") and after in ("<", ">"):
                    raise self.error(f"unknown operator '{op}{after}'")
                self.pos += len(op)
                return op
        return None

    # -- paths ---------------------------------------------------------------

    def read_segment(self, what: str) -> str:
        start = self.pos
        stop = _IRI_STOP if _IRI_START.match(self.text, self.pos) else _NAME_STOP
        text = self.text
        while self.pos < len(text) and text[self.pos] not in stop:
            self.pos += 1
        if self.pos == start:
            found = self.peek()
            raise self.error(f"expected {what}" + (f", found {found!r}" if found else " at the end"))
        return text[start : self.pos]

    def parse_path(self) -> AttrPath:
        names = [self.read_segment("an attribute name")]
        member: str | None = None
        # A full IRI swallows its dots; a trailing ".observedAt" and the like is still a member.
        if "://" in names[0]:
            for candidate in PATH_MEMBERS:
                if names[0].endswith("." + candidate):
                    names[0] = names[0][: -len(candidate) - 1]
                    member = candidate
                    break
        while member is None and self.peek() == ".":
            self.pos += 1
            segment_pos = self.pos
            name = self.read_segment("a sub-attribute name after '.'")
            if name in PATH_MEMBERS:
                member = name
                if self.peek() == ".":
                    raise self.error(f"'{name}' is a member of the attribute and must end the path", segment_pos)
            else:
                names.append(name)
        keys: list[str] = []
        while self.peek() == "[":
            bracket = self.pos
            end = self.text.find("]", self.pos + 1)
            key = self.text[self.pos + 1 : end] if end != -1 else ""
            if end == -1:
                raise self.error("missing ']'", bracket)
            if not key or "[" in key:
                raise self.error("expected a key between '[' and ']'", bracket)
            if member is not None:
                raise self.error(f"the member '{member}' has no keys to select", bracket)
            keys.append(key)
            self.pos = end + 1
        if self.peek() == ".":
            raise self.error("unexpected '.' after a key or member")
        return AttrPath(names[0], tuple(names[1:]), member, tuple(keys))

    # -- values --------------------------------------------------------------

    def scan_quoted(self, start: int) -> tuple[str, int]:
        """The unescaped text of the string starting at ``start`` and the index after it."""
        out: list[str] = []
        i = start + 1
        text = self.text
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                nxt = text[i + 1]
                out.append(nxt if nxt in ('"', "\\") else char + nxt)
                i += 2
            elif char == '"':
                return "".join(out), i + 1
            else:
                out.append(char)
                i += 1
        raise self.error("unterminated string", start)

    def parse_value(self, op: str, op_pos: int) -> QValue:
        start = self.pos
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == '"':
                _, self.pos = self.scan_quoted(self.pos)
            elif char in ";|)":
                break
            elif char == "(":
                raise self.error("unexpected '(' in a value (quote strings that contain parentheses)")
            else:
                self.pos += 1
        raw = self.text[start : self.pos].rstrip(_WS)
        if not raw:
            raise self.error(f"missing value after '{op}'", start)
        items = list(self.split_outside_quotes(raw, start, ","))
        values = [self.parse_item(item, offset) for item, offset in items]
        if len(values) > 1:
            if op != "==" and op != "!=":
                raise self.error(f"a list of values is only allowed with == and !=, not '{op}'", op_pos)
            if any(isinstance(v, Range) for v in values):
                raise self.error("a list of values cannot contain a range", start)
            return ValueList(tuple(v for v in values if isinstance(v, Value)))
        value = values[0]
        if op in _ORDERING:
            if isinstance(value, Range):
                raise self.error(f"a range is only allowed with == and !=, not '{op}'", op_pos)
            if value.kind in ("boolean", "uri"):
                raise self.error(f"'{op}' needs a number, string, date-time, date or time, not a {value.kind}", start)
        return value

    def split_outside_quotes(self, raw: str, offset: int, sep: str) -> Iterator[tuple[str, int]]:
        begin = 0
        i = 0
        while i < len(raw):
            if raw[i] == '"':
                _, end = self.scan_quoted(offset + i)
                i = end - offset
                continue
            if raw.startswith(sep, i):
                yield raw[begin:i], offset + begin
                i += len(sep)
                begin = i
                continue
            i += 1
        yield raw[begin:], offset + begin

    def parse_item(self, item: str, offset: int) -> Value | Range:
        parts = list(self.split_outside_quotes(item, offset, ".."))
        if len(parts) == 2:
            low = self.try_literal(*parts[0])
            high = self.try_literal(*parts[1])
            if low is not None and high is not None:
                if low.kind != high.kind:
                    raise self.error(f"the ends of a range must be of one kind, not {low.kind} and {high.kind}", offset)
                if low.kind in ("boolean", "uri"):
                    raise self.error(
                        f"a range needs numbers, strings, date-times, dates or times, not {low.kind}s", offset
                    )
                return Range(low, high)
        whole = self.try_literal(item, offset)
        if whole is not None:
            return whole
        if len(parts) > 1:
            raise self.error(f"invalid range {item!r}", offset)
        return self.literal(item, offset)

    def try_literal(self, item: str, offset: int) -> Value | None:
        try:
            return self.literal(item, offset)
        except InvalidRequest:
            return None

    def literal(self, item: str, offset: int) -> Value:
        if not item:
            raise self.error("empty value", offset)
        if item[0] == '"':
            text, end = self.scan_quoted(offset)
            if end - offset != len(item):
                raise self.error("unexpected text after a quoted string", end)
            return Value("string", text, item)
        if item in ("true", "false"):
            return Value("boolean", item == "true", item)
        if _NUMBER.fullmatch(item):
            try:
                number: int | float = int(item) if item.lstrip("-").isdigit() else float(item)
            except ValueError as exc:  # e.g. more digits than int() accepts
                raise self.error(f"invalid number {item[:40]!r}", offset) from exc
            if isinstance(number, float) and number in (float("inf"), float("-inf")):
                raise self.error(f"number out of range {item[:40]!r}", offset)
            return Value("number", number, item)
        if _DATETIME.fullmatch(item):
            moment = _datetime_of(item)
            if moment is None:
                raise self.error(f"invalid date-time {item!r}", offset)
            return Value("datetime", moment, item)
        if _DATE.fullmatch(item):
            day = _date_of(item)
            if day is None:
                raise self.error(f"invalid date {item!r}", offset)
            return Value("date", day, item)
        if _TIME.fullmatch(item):
            clock = _time_of(item)
            if clock is None:
                raise self.error(f"invalid time {item!r}", offset)
            return Value("time", clock, item)
        if _URI.fullmatch(item):
            return Value("uri", item, item)
        raise self.error(f"invalid value {item[:60]!r} (strings must be double-quoted)", offset)

    def parse_regex(self, op: str) -> Pattern:
        start = self.pos
        text = self.text
        source: str | None = None
        if self.peek() == '"':
            quoted, end = self.scan_quoted(start)
            after = end
            while after < len(text) and text[after] in _WS:
                after += 1
            if after >= len(text) or text[after] in ";|)":
                source = quoted
                self.pos = end
        if source is None:
            depth = 0
            in_class = False
            i = start
            while i < len(text):
                char = text[i]
                if char == "\\":
                    i += 2
                    continue
                if in_class:
                    in_class = char != "]"
                elif char == "[":
                    in_class = True
                elif char == "(":
                    depth += 1
                elif char == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif char in ";|" and depth == 0:
                    break
                i += 1
            self.pos = min(i, len(text))
            source = text[start : self.pos]
        if not source:
            raise self.error(f"missing regular expression after '{op}'", start)
        try:
            compiled = re.compile(source)
        except Exception as exc:  # re.error, OverflowError, RecursionError alike
            raise self.error(f"invalid regular expression {source[:60]!r}: {exc}", start) from exc
        return Pattern(source, compiled)


def _flatten(kind: type[And] | type[Or], items: list[QNode]) -> QNode:
    if len(items) == 1:
        return items[0]
    flat: list[QNode] = []
    for item in items:
        # (a;b);c is a;b;c: flattening keeps evaluation shallow.
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))


# ---------------------------------------------------------------------------
# Reading stored values (cached: the same timestamps recur across entities)
# ---------------------------------------------------------------------------


def _datetime_of(text: Any) -> datetime | None:
    """An aware UTC datetime for an ISO 8601 date-time (or date) string, else None."""
    if not isinstance(text, str) or not 10 <= len(text) <= 40 or text[4:5] != "-":
        return None
    if len(text) > 10 and text[10] not in "Tt ":
        return None
    return _parse_datetime(text)


@lru_cache(maxsize=4096)
def _parse_datetime(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _date_of(text: Any) -> date | None:
    """The date of a date-only string, or the UTC date of a date-time string."""
    if isinstance(text, str) and len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    moment = _datetime_of(text)
    return moment.date() if moment is not None else None


def _time_of(text: Any) -> time | None:
    """A naive UTC time of day for a time-only string such as ``12:00:00Z``, else None."""
    if not isinstance(text, str) or not 5 <= len(text) <= 30 or text[2:3] != ":":
        return None
    return _parse_time(text)


@lru_cache(maxsize=1024)
def _parse_time(text: str) -> time | None:
    try:
        clock = time.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if clock.tzinfo is not None:
        # Times with offsets are compared in UTC; a fixed date makes the conversion possible.
        clock = datetime.combine(date(2000, 1, 3), clock).astimezone(UTC).time()
    return clock


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _coercer(kind: str) -> Callable[[Any], Any]:
    """Turns a stored scalar into something comparable with literals of ``kind``, or ``_NO``."""
    if kind == "number":
        return lambda v: v if _is_number(v) else _NO
    if kind in ("string", "uri"):
        return lambda v: v if isinstance(v, str) else _NO
    if kind == "boolean":
        return lambda v: v if isinstance(v, bool) else _NO
    if kind == "datetime":
        return lambda v: _or_no(_datetime_of(v))
    if kind == "date":
        return lambda v: _or_no(_date_of(v))
    return lambda v: _or_no(_time_of(v))


def _or_no(value: Any) -> Any:
    return _NO if value is None else value


# ---------------------------------------------------------------------------
# Compiling
# ---------------------------------------------------------------------------

Predicate = Callable[[Entity], bool]
# (target value, is the attribute a VocabProperty?) for every addressed instance
Targets = Callable[[Entity], Iterator[tuple[Any, bool]]]
ElementTest = Callable[[Any, bool], bool]


def compile_q(node: QNode, expand: Expand) -> Predicate:
    """A predicate over internal entities for a parsed query.

    ``expand`` turns a term into its IRI with the request's @context; it is
    called once per name here, never during evaluation.
    """
    if isinstance(node, And):
        parts = tuple(compile_q(item, expand) for item in node.items)
        return lambda entity: all(part(entity) for part in parts)
    if isinstance(node, Or):
        parts = tuple(compile_q(item, expand) for item in node.items)
        return lambda entity: any(part(entity) for part in parts)
    if isinstance(node, Exists):
        targets = _compile_targets(node.path, expand, existence=True)
        return lambda entity: next(targets(entity), None) is not None
    if isinstance(node, NotExists):
        targets = _compile_targets(node.path, expand, existence=True)
        return lambda entity: next(targets(entity), None) is None
    if isinstance(node, Comparison):
        return _compile_comparison(node, expand)
    raise InvalidRequest(f"not a query node: {type(node).__name__}")


def q_attribute_terms(node: QNode) -> set[str]:
    """The top-level attribute terms a query refers to (unexpanded)."""
    if isinstance(node, And | Or):
        terms: set[str] = set()
        for item in node.items:
            terms |= q_attribute_terms(item)
        return terms
    return {node.path.attr}


def _expand_term(expand: Expand, term: str) -> str:
    try:
        return expand(term)
    except UrbisError:
        raise
    except Exception as exc:  # an unexpandable name is the client's error, not a 500
        raise InvalidRequest(f"invalid q: cannot expand the name {term!r}") from exc


def _compile_targets(path: AttrPath, expand: Expand, *, existence: bool = False) -> Targets:
    top = _expand_term(expand, path.attr)
    subs = tuple(_expand_term(expand, name) for name in path.sub_attrs)
    member = path.member
    keys = path.keys
    # Plain existence of an attribute or sub-attribute needs no value at all.
    bare = existence and member is None and not keys

    def targets(entity: Entity) -> Iterator[tuple[Any, bool]]:
        attrs = entity.get("attrs")
        if not isinstance(attrs, dict):
            return
        nodes = _as_instances(attrs.get(top))
        for sub in subs:
            nodes = [found for node in nodes for found in _as_instances(_sub_attrs(node).get(sub))]
        for node in nodes:
            if bare:
                yield node, False
            elif member is not None:
                if member in node:
                    yield node[member], False
            else:
                value = _value_of(node, keys)
                if value is not _NO:
                    yield value, node.get("type") == VOCAB_PROPERTY

    return targets


def _as_instances(found: Any) -> list[dict[str, Any]]:
    if isinstance(found, dict):
        return [found]
    if isinstance(found, list):
        return [item for item in found if isinstance(item, dict)]
    return []


def _sub_attrs(node: dict[str, Any]) -> dict[str, Any]:
    subs = node.get("attrs")
    return subs if isinstance(subs, dict) else {}


def _value_of(node: dict[str, Any], keys: tuple[str, ...]) -> Any:
    kind = node.get("type")
    member = VALUE_MEMBER.get(kind, "value") if isinstance(kind, str) else "value"
    if member not in node:
        return _NO
    value = node[member]
    if kind == LANGUAGE_PROPERTY and isinstance(value, dict):
        if keys:
            value = value.get(keys[0], _NO)
            keys = keys[1:]
        else:
            # Without a language every text counts, like the elements of an array.
            value = [text for texts in value.values() for text in (texts if isinstance(texts, list) else [texts])]
    for key in keys:
        value = _index(_unwrap(value), key)
        if value is _NO:
            return _NO
    return _unwrap(value)


def _unwrap(value: Any) -> Any:
    # JSON-LD value objects ({"@type": "DateTime", "@value": "..."}) compare by their value.
    if isinstance(value, dict) and "@value" in value:
        return value["@value"]
    return value


def _index(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return value.get(key, _NO)
    if isinstance(value, list):
        # A key applied to an array of objects selects that key in each of them.
        found: list[Any] = []
        for item in value:
            if isinstance(item, dict) and key in item:
                picked = item[key]
                found.extend(picked if isinstance(picked, list) else (picked,))
        return found if found else _NO
    return _NO


def _elements(value: Any) -> list[Any] | tuple[Any]:
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return (value,)


def _compile_comparison(node: Comparison, expand: Expand) -> Predicate:
    targets = _compile_targets(node.path, expand)
    test = _compile_test(node.op, node.value, expand)

    def match(entity: Entity) -> bool:
        return any(test(value, vocab) for value, vocab in targets(entity))

    return match


def _compile_test(op: str, value: QValue, expand: Expand) -> ElementTest:
    """A test of one instance's target value (a scalar or an array) against the query value."""
    if isinstance(value, Pattern):
        search = value.compiled.search
        if op == "~=":
            return lambda target, _vocab: any(isinstance(e, str) and search(e) is not None for e in _elements(target))

        def not_matching(target: Any, _vocab: bool) -> bool:
            texts = [e for e in _elements(target) if isinstance(e, str)]
            return bool(texts) and not any(search(e) is not None for e in texts)

        return not_matching

    if op in _ORDERING:
        if not isinstance(value, Value):
            raise InvalidRequest(f"invalid q: '{op}' needs a single value")
        return _ordering_test(op, value)

    matchers = [_equality_matcher(item, expand) for item in _items(value)]
    if op == "==":
        return lambda target, vocab: any(m(e, vocab) is True for e in _elements(target) for m in matchers)

    def unequal(target: Any, vocab: bool) -> bool:
        comparable = False
        for element in _elements(target):
            for matcher in matchers:
                outcome = matcher(element, vocab)
                if outcome is True:
                    return False
                if outcome is False:
                    comparable = True
        return comparable

    return unequal


def _items(value: QValue) -> tuple[Value | Range, ...]:
    if isinstance(value, ValueList):
        return value.items
    if isinstance(value, Value | Range):
        return (value,)
    raise InvalidRequest("invalid q: a regular expression needs ~= or !~=")


# A matcher answers True (equal / in range), False (comparable but not equal) or None (not comparable).
Matcher = Callable[[Any, bool], bool | None]


def _equality_matcher(item: Value | Range, expand: Expand) -> Matcher:
    if isinstance(item, Range):
        coerce = _coercer(item.low.kind)
        low, high = item.low.value, item.high.value

        def in_range(element: Any, _vocab: bool) -> bool | None:
            got = coerce(element)
            return None if got is _NO else bool(low <= got <= high)

        return in_range
    coerce = _coercer(item.kind)
    wanted = item.value
    alias = wanted
    if item.kind in ("string", "uri"):
        try:
            alias = expand(wanted)
        except Exception:  # noqa: BLE001 - not expandable: the value can only match literally
            alias = wanted

    def equal(element: Any, vocab: bool) -> bool | None:
        got = coerce(element)
        if got is _NO:
            return None
        return bool(got == wanted or (vocab and got == alias))

    return equal


def _ordering_test(op: str, value: Value) -> ElementTest:
    coerce = _coercer(value.kind)
    bound = value.value
    compare: Callable[[Any, Any], bool] = {
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
    }[op]

    def test(target: Any, _vocab: bool) -> bool:
        for element in _elements(target):
            got = coerce(element)
            if got is not _NO and compare(got, bound):
                return True
        return False

    return test


# ---------------------------------------------------------------------------
# scopeQ (clause 4.19)
# ---------------------------------------------------------------------------

_SCOPE_TERM = re.compile(r"/#|/(?:[A-Za-z0-9_\-]+|\+)(?:/(?:[A-Za-z0-9_\-]+|\+))*(?:/#)?")
ScopePredicate = Callable[[list[str] | None], bool]


def compile_scope_q(text: str) -> ScopePredicate:
    """A predicate over an entity's scopes for a ``scopeQ`` expression.

    Terms are paths like ``/Madrid/Centro``; ``+`` matches exactly one level,
    a final ``#`` the level itself and everything below it (``/#`` any scope).
    ``,`` and ``|`` are OR, ``;`` is AND (tighter), parentheses group.  An
    entity without a scope matches no term.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest("scopeQ is empty: expected a scope such as /City/District")
    parser = _ScopeParser(text)
    try:
        predicate = parser.parse()
    except UrbisError:
        raise
    except Exception as exc:  # a malformed parameter is a 400, never a 500
        raise InvalidRequest(f"scopeQ could not be parsed: {exc.__class__.__name__}") from exc

    def match(scopes: list[str] | None) -> bool:
        if not scopes:
            return False
        return predicate([scope.split("/")[1:] for scope in scopes if isinstance(scope, str)])

    return match


_SplitScopes = list[list[str]]


class _ScopeParser:
    def __init__(self, text: str):
        self.text = text.strip()
        self.pos = 0
        self.depth = 0

    def error(self, message: str) -> InvalidRequest:
        return InvalidRequest(f"invalid scopeQ at position {self.pos + 1}: {message} (in {self.text[:80]!r})")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse(self) -> Callable[[_SplitScopes], bool]:
        predicate = self.parse_or()
        if self.pos < len(self.text):
            raise self.error(f"unexpected {self.peek()!r}")
        return predicate

    def parse_or(self) -> Callable[[_SplitScopes], bool]:
        parts = [self.parse_and()]
        while self.peek() in (",", "|"):
            self.pos += 1
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda scopes: any(part(scopes) for part in parts)

    def parse_and(self) -> Callable[[_SplitScopes], bool]:
        parts = [self.parse_term()]
        while self.peek() == ";":
            self.pos += 1
            parts.append(self.parse_term())
        if len(parts) == 1:
            return parts[0]
        return lambda scopes: all(part(scopes) for part in parts)

    def parse_term(self) -> Callable[[_SplitScopes], bool]:
        if self.peek() == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"parentheses nested deeper than {MAX_DEPTH}")
            self.pos += 1
            inner = self.parse_or()
            if self.peek() != ")":
                raise self.error("missing ')'")
            self.pos += 1
            self.depth -= 1
            return inner
        found = _SCOPE_TERM.match(self.text, self.pos)
        if found is None or found.end() == self.pos:
            char = self.peek()
            raise self.error("expected a scope such as /City/District" + (f", found {char!r}" if char else ""))
        end = found.end()
        if end < len(self.text) and self.text[end] not in ",|;)":
            self.pos = end
            raise self.error(f"invalid character {self.text[end]!r} in a scope")
        self.pos = end
        return _scope_matcher(found.group(0).split("/")[1:])


def _scope_matcher(pattern: list[str]) -> Callable[[_SplitScopes], bool]:
    if pattern[-1] == "#":
        prefix = pattern[:-1]

        def descendant(scopes: _SplitScopes) -> bool:
            return any(len(s) >= len(prefix) and _segments_match(prefix, s[: len(prefix)]) for s in scopes)

        return descendant
    return lambda scopes: any(len(s) == len(pattern) and _segments_match(pattern, s) for s in scopes)


def _segments_match(pattern: list[str], segments: list[str]) -> bool:
    return all(want == "+" or want == got for want, got in zip(pattern, segments, strict=True))
