"""Tests of the Entity Type Selection Language (the ``type`` parameter)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urbis.context.query.typesel import (
    MAX_DEPTH,
    MAX_DNF_TERMS,
    TypeAnd,
    TypeName,
    TypeOr,
    parse_type_selection,
)
from urbis.core.errors import InvalidRequest, TooComplexQuery

EX = "https://example.org/"


def expand(term: str) -> str:
    """The test @context: full IRIs stay, everything else lands under example.org."""
    return term if "://" in term else EX + term


def iris(*names: str) -> frozenset[str]:
    return frozenset(EX + name for name in names)


def types_of(*names: str) -> list[str]:
    """An entity's expanded type list, as stored."""
    return [EX + name for name in names]


def test_suite_example() -> None:
    expr = parse_type_selection("(Building;TouristDestination),OffStreetParking")
    assert expr == TypeOr(
        (TypeAnd((TypeName("Building"), TypeName("TouristDestination"))), TypeName("OffStreetParking"))
    )
    assert expr.terms() == {"Building", "TouristDestination", "OffStreetParking"}
    assert expr.to_dnf(expand) == [iris("Building", "TouristDestination"), iris("OffStreetParking")]
    match = expr.compile(expand)
    assert match(types_of("Building", "TouristDestination"))
    assert match(types_of("TouristDestination", "Building", "Museum"))
    assert match(types_of("OffStreetParking"))
    assert not match(types_of("Building"))
    assert not match(types_of("TouristDestination"))
    assert not match([])


def test_single_type_and_plain_lists() -> None:
    assert parse_type_selection("Building") == TypeName("Building")
    either = parse_type_selection("Building,Parking")
    assert either == parse_type_selection("Building|Parking")
    assert either.to_dnf(expand) == [iris("Building"), iris("Parking")]
    match = either.compile(expand)
    assert match(types_of("Parking"))
    assert match({EX + "Building"})
    assert not match(types_of("Museum"))


def test_and_binds_tighter_than_or() -> None:
    expr = parse_type_selection("A;B,C")
    assert expr == TypeOr((TypeAnd((TypeName("A"), TypeName("B"))), TypeName("C")))
    grouped = parse_type_selection("A;(B,C)")
    assert grouped.to_dnf(expand) == [iris("A", "B"), iris("A", "C")]
    match = grouped.compile(expand)
    assert match(types_of("A", "C"))
    assert not match(types_of("C"))
    assert not match(types_of("A"))


def test_dnf_of_products_and_absorption() -> None:
    expr = parse_type_selection("(A,B);(C,D)")
    assert set(expr.to_dnf(expand)) == {iris("A", "C"), iris("A", "D"), iris("B", "C"), iris("B", "D")}
    # A or (A and B) is A; duplicates collapse.
    assert parse_type_selection("A,(A;B),A").to_dnf(expand) == [iris("A")]
    assert parse_type_selection("A;A").to_dnf(expand) == [iris("A")]


def test_dnf_and_compile_agree() -> None:
    expr = parse_type_selection("((A;B),C);(D,(E;F))")
    dnf = expr.to_dnf(expand)
    match = expr.compile(expand)
    universe = ["A", "B", "C", "D", "E", "F"]
    for mask in range(1 << len(universe)):
        types = {EX + name for i, name in enumerate(universe) if mask >> i & 1}
        assert match(types) == any(conj <= types for conj in dnf), types


def test_whitespace_iris_and_compact_iris() -> None:
    expr = parse_type_selection(" https://schema.org/Place ; ngsi-ld:Thing , Building ")
    assert expr.terms() == {"https://schema.org/Place", "ngsi-ld:Thing", "Building"}
    match = expr.compile(expand)
    assert match(["https://schema.org/Place", EX + "ngsi-ld:Thing"])
    assert str(parse_type_selection("(A;B),C")) == "A;B,C"
    assert str(parse_type_selection("A;(B,C)")) == "A;(B,C)"


def test_expand_runs_once_per_term() -> None:
    calls: list[str] = []

    def counting(term: str) -> str:
        calls.append(term)
        return expand(term)

    match = parse_type_selection("(A;B),C,(A;C)").compile(counting)
    assert sorted(calls) == ["A", "B", "C"]
    for _ in range(50):
        match(types_of("A", "B"))
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("A,", "expected a type name"),
        (",A", "expected a type name"),
        ("A;;B", "expected a type name"),
        ("(A", "missing ')'"),
        ("A)", "unbalanced ')'"),
        ("()", "expected a type name"),
        ("A B", "unexpected 'B'"),
        ('A"', "invalid type name"),
        ("A=B", "invalid type name"),
        ("A[0]", "invalid type name"),
        ("x" * 600, "invalid type name"),
    ],
)
def test_syntax_errors(text: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_type_selection(text)
    assert fragment in caught.value.detail


def test_nesting_is_capped() -> None:
    assert parse_type_selection("(" * MAX_DEPTH + "A" + ")" * MAX_DEPTH) == TypeName("A")
    with pytest.raises(InvalidRequest, match="nested deeper"):
        parse_type_selection("(" * (MAX_DEPTH + 1) + "A" + ")" * (MAX_DEPTH + 1))


def test_dnf_explosion_is_refused_but_compile_still_works() -> None:
    # (A0,B0);(A1,B1);... has 2**n conjunctions.
    text = ";".join(f"(A{i},B{i})" for i in range(12))
    expr = parse_type_selection(text)
    assert MAX_DNF_TERMS < 2**12
    with pytest.raises(TooComplexQuery):
        expr.to_dnf(expand)
    match = expr.compile(expand)
    assert match(types_of(*(f"A{i}" for i in range(12))))
    assert not match(types_of(*(f"A{i}" for i in range(11))))


def test_long_type_lists_are_fine() -> None:
    expr = parse_type_selection(",".join(f"T{i}" for i in range(500)))
    assert len(expr.to_dnf(expand)) == 500
    assert expr.compile(expand)(types_of("T499"))


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet='AB(),;| "=x', max_size=30))
def test_grammar_like_text_parses_or_raises_invalid_request(text: str) -> None:
    try:
        expr = parse_type_selection(text)
    except InvalidRequest:
        return
    assert expr.compile(expand)(types_of("A")) in (True, False)
    assert parse_type_selection(str(expr)) == expr


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_invalid_request(text: str) -> None:
    with contextlib.suppress(InvalidRequest):
        parse_type_selection(text)
