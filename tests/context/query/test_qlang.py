"""Tests of the NGSI-LD query language (q) and the scope query (scopeQ)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urbis.context.query.qlang import (
    MAX_DEPTH,
    And,
    AttrPath,
    Comparison,
    Exists,
    NotExists,
    Or,
    Range,
    Value,
    ValueList,
    compile_q,
    compile_scope_q,
    parse_q,
    q_attribute_terms,
)
from urbis.core.errors import InvalidRequest

EX = "https://example.org/"


def expand(term: str) -> str:
    """The test @context: full IRIs stay, everything else lands under example.org."""
    return term if "://" in term else EX + term


# -- builders of internal entities -----------------------------------------------------------


def prop(value: Any, **members: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **members}


def rel(target: Any, **members: Any) -> dict[str, Any]:
    return {"type": "Relationship", "object": target, **members}


def lang(texts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "LanguageProperty", "languageMap": texts}


def vocab(iris: Any) -> dict[str, Any]:
    return {"type": "VocabProperty", "vocab": iris}


def with_subs(instance: dict[str, Any], **subs: dict[str, Any]) -> dict[str, Any]:
    instance["attrs"] = {expand(name): sub for name, sub in subs.items()}
    return instance


def make_entity(entity_id: str = "urn:ngsi-ld:Thing:1", **attrs: Any) -> dict[str, Any]:
    """An internal entity; an attribute given as a list is a multi-instance attribute."""
    return {
        "id": entity_id,
        "type": [EX + "Thing"],
        "attrs": {expand(name): (value if isinstance(value, list) else [value]) for name, value in attrs.items()},
    }


def matches(q: str, entity: dict[str, Any]) -> bool:
    return compile_q(parse_q(q), expand)(entity)


# -- the examples of the conformance suite (019_09) -----------------------------------------

PISA = make_entity(
    "urn:ngsi-ld:Building:pisa",
    name=prop("Pisa Tower"),
    almostFull=prop(False),
    airQualityLevel=prop(5),
    locatedIn=rel("urn:ngsi-ld:City:Pisa"),
)
PARIS = make_entity(
    "urn:ngsi-ld:Building:eiffel",
    name=prop("Eiffel Tower"),
    almostFull=prop(True),
    airQualityLevel=prop(7),
    locatedIn=rel("urn:ngsi-ld:City:Paris"),
)
ROME = make_entity("urn:ngsi-ld:Building:colosseum", airQualityLevel=prop(3), locatedIn=rel("urn:ngsi-ld:City:Rome"))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('name=="Pisa Tower";almostFull==false', ["pisa"]),
        ("airQualityLevel>=4;airQualityLevel<7", ["pisa"]),
        ("locatedIn==urn:ngsi-ld:City:Pisa|locatedIn==urn:ngsi-ld:City:Paris", ["pisa", "eiffel"]),
        ('locatedIn=="urn:ngsi-ld:City:Rome"', ["colosseum"]),
        ("locatedIn==urn:ngsi-ld:City:Rome,urn:ngsi-ld:City:Paris", ["eiffel", "colosseum"]),
    ],
)
def test_suite_examples(q: str, expected: list[str]) -> None:
    predicate = compile_q(parse_q(q), expand)
    found = [e["id"].rsplit(":", 1)[1] for e in (PISA, PARIS, ROME) if predicate(e)]
    assert found == expected


# -- the AST and precedence -------------------------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    node = parse_q("a==1;b==2|c==3")
    assert isinstance(node, Or)
    assert isinstance(node.items[0], And)
    assert str(node) == "a==1;b==2|c==3"
    # (1 and 2) or 3: c alone is enough; a alone is not.
    assert matches("a==1;b==2|c==3", make_entity(c=prop(3)))
    assert not matches("a==1;b==2|c==3", make_entity(a=prop(1)))


def test_parentheses_override_precedence() -> None:
    node = parse_q("a==1;(b==2|c==3)")
    assert isinstance(node, And)
    assert isinstance(node.items[1], Or)
    assert not matches("a==1;(b==2|c==3)", make_entity(c=prop(3)))
    assert matches("a==1;(b==2|c==3)", make_entity(a=prop(1), c=prop(3)))


def test_brief_example_with_groups() -> None:
    q = '(a>1|b=="x");c!=3'
    assert matches(q, make_entity(a=prop(2), c=prop(4)))
    assert matches(q, make_entity(b=prop("x"), c=prop(4)))
    assert not matches(q, make_entity(a=prop(2), c=prop(3)))
    assert not matches(q, make_entity(a=prop(2)))  # c must exist for !=
    assert not matches(q, make_entity(a=prop(1), b=prop("y"), c=prop(4)))


def test_nested_same_operator_is_flattened() -> None:
    assert parse_q("(a;b);c") == And((Exists(AttrPath("a")), Exists(AttrPath("b")), Exists(AttrPath("c"))))
    assert parse_q("((a))") == Exists(AttrPath("a"))


def test_ast_of_values() -> None:
    assert parse_q("a==1..5") == Comparison(AttrPath("a"), "==", Range(Value("number", 1), Value("number", 5)))
    assert parse_q('a=="x","y"') == Comparison(
        AttrPath("a"), "==", ValueList((Value("string", "x"), Value("string", "y")))
    )
    assert parse_q("!a") == NotExists(AttrPath("a"))
    assert parse_q("a.b.observedAt") == Exists(AttrPath("a", ("b",), "observedAt"))
    assert parse_q("a[k1][k2]") == Exists(AttrPath("a", (), None, ("k1", "k2")))


def test_whitespace_around_terms_is_tolerated() -> None:
    assert parse_q(" a == 1 ; ( b > 2 | c ) ") == parse_q("a==1;(b>2|c)")


@pytest.mark.parametrize(
    "q",
    [
        'name=="Pisa Tower";almostFull==false',
        '(a>1|b=="x");c!=3',
        "a==1..5|b==2018-01-01T00:00:00Z..2018-12-31T23:59:59Z",
        'a!="x","y",3;!b',
        'temperature.observedAt>=2020-01-01;address[city]=="Pisa"',
        "brandName!~=(?i)Mercedes",
        'x~="a|b";y~=^(c|d)$',
        'a=="with \\"quotes\\" and \\\\ backslash"',
    ],
)
def test_rendering_round_trips(q: str) -> None:
    node = parse_q(q)
    assert parse_q(str(node)) == node


# -- operators ----------------------------------------------------------------------------------

NUMBERS = make_entity(n=prop(5), f=prop(2.5), neg=prop(-3), big=prop(1.5e3))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("n==5", True),
        ("n==5.0", True),
        ("n==4", False),
        ("n!=4", True),
        ("n!=5", False),
        ("n>4", True),
        ("n>5", False),
        ("n>=5", True),
        ("n<6", True),
        ("n<5", False),
        ("n<=5", True),
        ("f>2.4;f<2.6", True),
        ("neg<-2", True),
        ("neg==-3", True),
        ("big==1500", True),
        ("big==1.5e3", True),
        ("big>1E2", True),
    ],
)
def test_numeric_operators(q: str, expected: bool) -> None:
    assert matches(q, NUMBERS) is expected


STRINGS = make_entity(s=prop("banana"), quoted=prop('say "hi"'))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('s=="banana"', True),
        ('s!="banana"', False),
        ('s!="apple"', True),
        ('s>"apple"', True),
        ('s<"cherry"', True),
        ('s>="banana"', True),
        ('s<="banan"', False),
        ('quoted=="say \\"hi\\""', True),
    ],
)
def test_string_operators(q: str, expected: bool) -> None:
    assert matches(q, STRINGS) is expected


def test_booleans() -> None:
    entity = make_entity(on=prop(True), off=prop(False))
    assert matches("on==true", entity)
    assert matches("off==false", entity)
    assert matches("on!=false", entity)
    assert not matches("on==false", entity)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("n==1..5", True),
        ("n==5..9", True),
        ("n==6..9", False),
        ("n!=6..9", True),
        ("n!=1..5", False),
        ("n==4.5..5.5", True),
        ('s=="apple".."cherry"', True),
        ('s=="c".."d"', False),
        ('s!="c".."d"', True),
    ],
)
def test_ranges_are_inclusive_and_not_equal_means_outside(q: str, expected: bool) -> None:
    assert matches(q, make_entity(n=prop(5), s=prop("banana"))) is expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('s=="apple","banana"', True),
        ('s=="apple","cherry"', False),
        ('s!="apple","cherry"', True),
        ('s!="apple","banana"', False),
        ("n==1,2,5", True),
        ("n==1,2,3", False),
        ("n!=1,2,3", True),
        ('n==1,"5"', False),  # "5" is a string, 5 a number
    ],
)
def test_value_lists(q: str, expected: bool) -> None:
    assert matches(q, make_entity(n=prop(5), s=prop("banana"))) is expected


# -- regular expressions ----------------------------------------------------------------------

CAR = make_entity(brandName=prop("Mercedes-Benz"), model=prop("C (W206)"), code=prop(42))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("brandName~=Merc", True),
        ("brandName~=^Benz", False),
        ("brandName~=(?i)mercedes", True),
        ("brandName!~=(?i)Mercedes", False),
        ("brandName!~=BMW", True),
        ("brandName~=^(BMW|Mercedes)-", True),  # | inside a group belongs to the regex
        ('brandName~="^(BMW|Audi)"', False),
        ('brandName~="Benz$"', True),
        ("model~=\\(W2\\d\\d\\)", True),  # escaped parentheses do not count
        ("model~=[(]W", True),  # nor does a parenthesis in a character class
        ("code~=42", False),  # a number is not text
        ("code!~=42", False),  # ... for the negation neither
        ("missing~=.", False),
        ("missing!~=.", False),
    ],
)
def test_regex(q: str, expected: bool) -> None:
    assert matches(q, CAR) is expected


def test_regex_ends_at_top_level_separator_or_closing_parenthesis() -> None:
    node = parse_q("(brandName~=^Merc(edes)?;code==42)|x")
    assert isinstance(node, Or)
    first = node.items[0]
    assert isinstance(first, And)
    comparison = first.items[0]
    assert isinstance(comparison, Comparison)
    assert str(comparison.value) == '"^Merc(edes)?"'
    assert matches("(brandName~=^Merc(edes)?;code==42)|x", CAR)
    assert matches("brandName~=Benz|code==1", CAR)


# -- dates and times --------------------------------------------------------------------------

TIMED = make_entity(
    dateObserved=prop("2018-12-24T12:00:00Z"),
    local=prop("2018-12-24T13:00:00+01:00"),
    naive=prop("2018-12-24T12:00:00"),
    day=prop("2018-12-24"),
    opening=prop("08:30:00"),
    garbage=prop("not a date"),
    typed=prop({"@type": "DateTime", "@value": "2018-12-24T12:00:00Z"}),
)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("dateObserved==2018-12-24T12:00:00Z", True),
        ("dateObserved==2018-12-24T12:00:00.000Z", True),
        ("dateObserved==2018-12-24T13:00:00+01:00", True),  # same instant
        ("local==2018-12-24T12:00:00Z", True),
        ("naive==2018-12-24T12:00:00Z", True),  # naive stored values are UTC
        ("dateObserved>2018-12-24T11:59:59Z", True),
        ("dateObserved<2018-12-24T11:59:59Z", False),
        ("dateObserved==2018-12-01T00:00:00Z..2018-12-31T23:59:59Z", True),
        ("dateObserved!=2019-01-01T00:00:00Z..2019-12-31T00:00:00Z", True),
        ("dateObserved==2018-12-24", True),  # a date compares with the date of a date-time
        ("dateObserved>2018-12-23", True),
        ("dateObserved>2018-12-24", False),
        ("day==2018-12-24", True),
        ("opening>08:00:00", True),
        ("opening<08:00:00Z", False),
        ("opening==08:30:00", True),
        ("garbage>2000-01-01T00:00:00Z", False),  # does not parse: no match, no error
        ("garbage!=2000-01-01T00:00:00Z", False),
        ('dateObserved=="2018-12-24T12:00:00Z"', True),  # a quoted value compares as text
        ("typed==2018-12-24T12:00:00Z", True),  # JSON-LD value objects compare by @value
    ],
)
def test_dates_and_times(q: str, expected: bool) -> None:
    assert matches(q, TIMED) is expected


# -- paths: sub-attributes, members, compound keys, languages --------------------------------

SENSOR = make_entity(
    temperature=with_subs(
        prop(21.5, unitCode="CEL", observedAt="2020-06-01T10:00:00.000000Z", createdAt="2020-06-01T10:00:01Z"),
        accuracy=with_subs(prop(0.5), method=prop("calibrated")),
        provider=rel("urn:ngsi-ld:Org:1"),
    ),
    address=prop({"city": "Pisa", "geo": {"lat": 43.72}, "tags": ["old", "leaning"], "floors": [{"n": 1}, {"n": 8}]}),
    name=lang({"en": "Leaning Tower", "fr": "Tour de Pise", "it": ["Torre", "Torre pendente"]}),
)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("temperature.accuracy>0.4", True),
        ("temperature.accuracy>0.6", False),
        ('temperature.accuracy.method=="calibrated"', True),
        ("temperature.provider==urn:ngsi-ld:Org:1", True),
        ("temperature.accuracy", True),
        ("temperature.precision", False),
        ("!temperature.precision", True),
        ('temperature.unitCode=="CEL"', True),
        ('temperature.unitCode!="FAH"', True),
        ("temperature.observedAt>=2020-06-01T00:00:00Z", True),
        ("temperature.observedAt==2020-06-01", True),
        ("temperature.createdAt<2020-06-01T10:00:00Z", False),
        ("temperature.modifiedAt", False),
        ("temperature.datasetId", False),
        ("temperature.observedAt", True),
        ('address[city]=="Pisa"', True),
        ("address[city]", True),
        ("address[zip]", False),
        ("!address[zip]", True),
        ("address[geo][lat]>43", True),
        ('address[tags]=="leaning"', True),
        ("address[floors][n]==8", True),  # a key over an array of objects
        ('name[fr]=="Tour de Pise"', True),
        ('name[en]=="Tour de Pise"', False),
        ('name=="Tour de Pise"', True),  # any language
        ('name=="Torre pendente"', True),
        ('name!="Tour de Pise"', False),
        ('name!="Big Ben"', True),
        ("name[de]", False),
        ("name[fr]", True),
        ('name[it]=="Torre"', True),
        ("name~=(?i)^leaning", True),
    ],
)
def test_paths(q: str, expected: bool) -> None:
    assert matches(q, SENSOR) is expected


def test_sub_attributes_are_expanded_but_keys_and_members_are_not() -> None:
    seen: list[str] = []

    def recording(term: str) -> str:
        seen.append(term)
        return expand(term)

    compile_q(parse_q('temperature.accuracy.observedAt>2020-01-01;address[city]=="x"'), recording)
    assert {"accuracy", "address", "temperature"} <= set(seen)
    assert "city" not in seen
    assert "observedAt" not in seen


def test_full_and_compact_iris_as_names() -> None:
    entity = make_entity(temperature=prop(20, observedAt="2020-06-01T10:00:00Z"))
    entity["attrs"]["https://schema.org/name"] = [prop("Pisa")]
    assert matches('https://schema.org/name=="Pisa"', entity)
    assert matches("https://example.org/temperature>19", entity)
    assert matches("https://example.org/temperature.observedAt>2020-01-01", entity)
    assert parse_q("ngsi-ld:foo.bar") == Exists(AttrPath("ngsi-ld:foo", ("bar",)))


# -- attribute kinds, instances and arrays ----------------------------------------------------


def test_multi_instance_attribute_matches_if_any_instance_matches() -> None:
    entity = make_entity(
        speed=[
            prop(50, datasetId="urn:ngsi-ld:Dataset:gps"),
            prop(80, datasetId="urn:ngsi-ld:Dataset:radar"),
        ]
    )
    assert matches("speed>70", entity)
    assert matches("speed<60", entity)
    assert not matches("speed>90", entity)
    assert matches("speed.datasetId==urn:ngsi-ld:Dataset:radar", entity)
    assert matches("speed!=50", entity)  # the radar instance is not 50


def test_arrays_match_any_element_and_not_equal_means_none() -> None:
    entity = make_entity(category=prop(["offStreet", "public"]), levels=prop([1, 2, 3]))
    assert matches('category=="public"', entity)
    assert matches('category=="private","public"', entity)
    assert not matches('category=="private"', entity)
    assert matches('category!="private"', entity)
    assert not matches('category!="public"', entity)
    assert matches("levels>2", entity)
    assert not matches("levels>3", entity)
    assert matches("levels==0..1", entity)
    assert matches('category~="^off"', entity)
    assert not matches('category!~="^off"', entity)


def test_relationships_lists_json_and_vocab() -> None:
    entity = make_entity(
        refDevice=rel(["urn:ngsi-ld:Device:1", "urn:ngsi-ld:Device:2"]),
        route={"type": "ListRelationship", "objectList": ["urn:ngsi-ld:Stop:a", "urn:ngsi-ld:Stop:b"]},
        readings={"type": "ListProperty", "valueList": [3, 5, 8]},
        config={"type": "JsonProperty", "json": {"mode": "eco", "limits": {"max": 10}}},
        category=vocab([EX + "OffStreet", "https://vocab.example/Public"]),
    )
    assert matches("refDevice==urn:ngsi-ld:Device:2", entity)
    assert matches('refDevice=="urn:ngsi-ld:Device:1"', entity)
    assert matches("route==urn:ngsi-ld:Stop:b", entity)
    assert matches("readings==5", entity)
    assert matches("readings>7", entity)
    assert matches('config[mode]=="eco"', entity)
    assert matches("config[limits][max]<=10", entity)
    # A VocabProperty stores IRIs: a term matches when it expands to one of them.
    assert matches('category=="OffStreet"', entity)
    assert matches("category==https://vocab.example/Public", entity)
    assert not matches('category=="Private"', entity)
    assert matches('category!="Private"', entity)
    # ... but an ordinary Property's text is never expanded.
    assert not matches('plain=="OffStreet"', make_entity(plain=prop(EX + "OffStreet")))


def test_different_kinds_never_match() -> None:
    entity = make_entity(n=prop(5), s=prop("5"), flag=prop(True), obj=prop({"a": 1}), nothing=prop(None))
    for q in ('n=="5"', 'n!="5"', "s==5", "s!=5", "s>4", "flag==1", "flag!=0", "flag>0", "n==true", "obj==1"):
        assert not matches(q, entity), q
    assert not matches('nothing=="x"', entity)
    assert not matches("n==2018-01-01T00:00:00Z", entity)


def test_missing_attribute_matches_neither_equal_nor_unequal() -> None:
    entity = make_entity(a=prop(1))
    assert not matches("b==1", entity)
    assert not matches("b!=1", entity)
    assert not matches("b", entity)
    assert matches("!b", entity)
    assert matches("a", entity)
    assert not matches("!a", entity)


def test_malformed_entities_do_not_break_evaluation() -> None:
    predicate = compile_q(parse_q("a==1|a.b|a[k]|!c"), expand)
    assert predicate({"id": "urn:x:1"}) is True
    assert predicate({"id": "urn:x:1", "attrs": {EX + "a": [{"type": "Property"}]}}) is True
    assert predicate({"id": "urn:x:1", "attrs": {EX + "a": [{"no": "type"}, "junk"]}, "c": 1}) is True


def test_q_attribute_terms() -> None:
    node = parse_q('(a>1|b.sub=="x");!c;d[key]==1;e.observedAt>2020-01-01')
    assert q_attribute_terms(node) == {"a", "b", "c", "d", "e"}


def test_expand_is_called_once_per_name_not_per_entity() -> None:
    calls: list[str] = []

    def counting(term: str) -> str:
        calls.append(term)
        return expand(term)

    predicate = compile_q(parse_q("a>1;b.c==2|a<0"), counting)
    count = len(calls)
    for value in range(100):
        predicate(make_entity(a=prop(value), b=with_subs(prop(1), c=prop(2))))
    assert len(calls) == count


# -- syntax errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a=5", "unknown operator '='"),
        ("a===5", "unknown operator"),
        ("a=>5", "unknown operator '='"),
        ("a<>5", "unknown operator '<>'"),
        ("a==", "missing value"),
        ("a==;b", "missing value"),
        ("(a==1", "missing ')'"),
        ("a==1)", "unbalanced ')'"),
        ("a==foo", "strings must be double-quoted"),
        ('a=="open', "unterminated string"),
        ('a=="x"y', "after a quoted string"),
        ("a>true", "not a boolean"),
        ("a>urn:x:y", "not a uri"),
        ("a>1,2", "list of values is only allowed"),
        ("a<1..2", "range is only allowed"),
        ("a>=2018-12-01..2018-12-31", "range is only allowed"),
        ('a==1.."x"', "one kind"),
        ("a==true..false", "range needs"),
        ("a==1..2,3", "cannot contain a range"),
        ("a==1...2", "invalid range"),
        ("a==2018-13-45T00:00:00Z", "invalid date-time"),
        ("a==2018-02-30", "invalid date"),
        ("a==25:00:00", "invalid time"),
        ("a==" + "9" * 5000, "invalid number"),
        ("a==1e999", "out of range"),
        ("a~=(", "invalid regular expression"),
        ("a~=", "missing regular expression"),
        ("!a==1", "only negates existence"),
        ("a;", "expected a query term"),
        (";a", "expected a query term"),
        ("a||b", "expected a query term"),
        ("()", "expected a query term"),
        ("a.", "sub-attribute name"),
        ("a..b", "sub-attribute name"),
        (".a", "attribute name"),
        ("a[", "missing ']'"),
        ("a[]", "expected a key"),
        ("a.observedAt[x]", "has no keys"),
        ("a.observedAt.b", "must end the path"),
        ("a[k].b", "unexpected '.'"),
        ("a b", "expected an operator"),
        ("a==(1)", "unexpected '('"),
        ('a"b', "expected an operator"),
    ],
)
def test_syntax_errors_name_the_problem(q: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_q(q)
    assert fragment in caught.value.detail
    if q.strip():
        assert "position" in caught.value.detail


def test_error_position_is_one_based() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_q("abc=5")
    assert "position 4" in caught.value.detail


def test_nesting_is_capped() -> None:
    deep = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert parse_q(deep) == Exists(AttrPath("a"))
    with pytest.raises(InvalidRequest, match="nested deeper"):
        parse_q("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(InvalidRequest):
        parse_q("(" * 100_000)


def test_non_string_input_is_rejected() -> None:
    with pytest.raises(InvalidRequest):
        parse_q(None)  # type: ignore[arg-type]


def test_long_flat_queries_do_not_recurse() -> None:
    q = ";".join(f"a{i}=={i}" for i in range(5000))
    node = parse_q(q)
    assert isinstance(node, And)
    assert len(node.items) == 5000


# -- property tests ---------------------------------------------------------------------------

RICH = make_entity(
    a=[prop(1, datasetId="urn:ngsi-ld:D:1"), prop("x")],
    b=with_subs(prop([1, "two", None, {"k": 3}]), c=prop(2.5, observedAt="2020-01-01T00:00:00Z")),
    n=lang({"en": "hello"}),
    r=rel("urn:ngsi-ld:T:1"),
    v=vocab(EX + "V"),
    j={"type": "JsonProperty", "json": {"k": [1, {"k": "deep"}]}},
)
GRAMMAR_CHARS = 'abn.[]()=!<>~;|",-:0123456789TZe\\ ?*^$'


def _parse_or_invalid(text: str) -> None:
    try:
        node = parse_q(text)
    except InvalidRequest:
        return
    predicate = compile_q(node, expand)
    assert predicate(RICH) in (True, False)
    assert parse_q(str(node)) == node


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_raises_invalid_request(text: str) -> None:
    _parse_or_invalid(text)


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=GRAMMAR_CHARS, max_size=40))
def test_grammar_like_text_parses_or_raises_invalid_request(text: str) -> None:
    _parse_or_invalid(text)


_names = st.sampled_from(["a", "b", "b.c", "n", "n[en]", "r", "v", "j[k]", "a.datasetId", "b.c.observedAt"])
_values = st.sampled_from(
    ["1", "2.5", '"x"', "true", "urn:ngsi-ld:T:1", "2020-01-01T00:00:00Z", "2020-01-01", "1..3", '"a","x"', "1,2"]
)
_terms = st.one_of(
    _names,
    _names.map(lambda n: "!" + n),
    st.tuples(_names, st.sampled_from(["==", "!="]), _values).map("".join),
    st.tuples(_names, st.sampled_from([">", ">=", "<", "<="]), st.sampled_from(["1", '"m"', "2020-01-01"])).map(
        "".join
    ),
    st.tuples(_names, st.sampled_from(["~=", "!~="]), st.sampled_from(["^x", "(?i)HEL", '"a|b"'])).map("".join),
)
_queries = st.recursive(
    _terms,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(";".join),
        st.lists(inner, min_size=2, max_size=3).map("|".join),
        inner.map(lambda q: f"({q})"),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(_queries)
def test_generated_valid_queries_parse_and_evaluate(q: str) -> None:
    node = parse_q(q)
    assert compile_q(node, expand)(RICH) in (True, False)
    assert parse_q(str(node)) == node


# -- scopeQ -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope_q", "scopes", "expected"),
    [
        ("/Madrid", ["/Madrid"], True),
        ("/Madrid", ["/Madrid/Centro"], False),
        ("/Madrid/#", ["/Madrid"], True),
        ("/Madrid/#", ["/Madrid/Centro/Sol"], True),
        ("/Madrid/#", ["/Madridejos"], False),
        ("/Madrid/+", ["/Madrid/Centro"], True),
        ("/Madrid/+", ["/Madrid"], False),
        ("/Madrid/+", ["/Madrid/Centro/Sol"], False),
        ("/+/Centro", ["/Madrid/Centro"], True),
        ("/#", ["/Anything/At/All"], True),
        ("/#", None, False),
        ("/#", [], False),
        ("/Madrid", None, False),
        ("/Madrid,/Paris", ["/Paris"], True),
        ("/Madrid|/Paris", ["/Paris"], True),
        ("/Madrid;/Paris", ["/Paris"], False),
        ("/Madrid;/Paris", ["/Paris", "/Madrid"], True),
        ("(/Madrid/#,/Paris);/Tag/Public", ["/Madrid/Centro", "/Tag/Public"], True),
        ("(/Madrid/#,/Paris);/Tag/Public", ["/Madrid/Centro"], False),
        ("/A;/B,/C", ["/C"], True),  # ; binds tighter
    ],
)
def test_scope_q(scope_q: str, scopes: list[str] | None, expected: bool) -> None:
    assert compile_scope_q(scope_q)(scopes) is expected


@pytest.mark.parametrize(
    "scope_q", ["", "Madrid", "/", "/Madrid/", "/Ma drid", "/#/x", "/a#", "(/a", "/a)", "/a,", "/a;;/b", "//a"]
)
def test_scope_q_syntax_errors(scope_q: str) -> None:
    with pytest.raises(InvalidRequest):
        compile_scope_q(scope_q)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="/#+(),;|aB1- ", max_size=30))
def test_scope_q_parses_or_raises_invalid_request(text: str) -> None:
    try:
        predicate = compile_scope_q(text)
    except InvalidRequest:
        return
    assert predicate(["/a/B", "/1"]) in (True, False)
