"""The pure rules of reports and categories: answers per datatype, states, routing, merging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbis.citizens.categories import DEFAULT_CATEGORIES
from urbis.citizens.model import (
    Category,
    Choice,
    Datatype,
    Question,
    Report,
    ReportStatus,
    Route,
    Stage,
    answer_questions,
    check_category,
    check_position,
    merge,
    move,
    plain_text,
    route,
    tickets_closed,
)
from urbis.core.errors import BadRequestData, Conflict

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

EVERY_KIND = Category(
    code="test",
    name="Test",
    description="every datatype",
    group="g",
    department="Dept",
    questions=(
        Question("s", Datatype.STRING, "one line", required=True, order=1),
        Question("n", Datatype.NUMBER, "a number", order=2),
        Question("d", Datatype.DATETIME, "a time", order=3),
        Question("t", Datatype.TEXT, "text", order=4),
        Question("one", Datatype.SINGLEVALUELIST, "pick one", order=5, values=(Choice("a", "A"), Choice("b", "B"))),
        Question("many", Datatype.MULTIVALUELIST, "pick some", order=6, values=(Choice("x", "X"), Choice("y", "Y"))),
        Question("info", Datatype.TEXT, "read me", variable=False, order=7),
    ),
)


def report(**changes: object) -> Report:
    values: dict[str, object] = {
        "id": "r1",
        "tenant": "t",
        "service_code": "test",
        "service_name": "Test",
        "description": "broken",
        "stage": Stage.SUBMITTED,
        "requested_at": T0,
        "updated_at": T0,
    }
    values.update(changes)
    return Report(**values)  # type: ignore[arg-type]


def test_the_default_categories_are_valid_and_ask_every_datatype() -> None:
    for category in DEFAULT_CATEGORIES:
        check_category(category)
    asked = {q.datatype for c in DEFAULT_CATEGORIES for q in c.questions}
    assert asked == set(Datatype)
    assert len({c.code for c in DEFAULT_CATEGORIES}) == len(DEFAULT_CATEGORIES)


def test_answers_are_kept_in_their_datatype() -> None:
    answers = answer_questions(
        EVERY_KIND,
        {
            "s": ["  pole 17 "],
            "n": ["3"],
            "d": ["2026-11-24T18:30:00+01:00"],
            "t": ["line one\nline two"],
            "one": ["b"],
            "many": ["y", "x", "y"],
        },
    )
    assert answers == {
        "s": "pole 17",
        "n": 3,
        "d": "2026-11-24T18:30:00+01:00",
        "t": "line one\nline two",
        "one": "b",
        "many": ["y", "x"],
    }
    assert answer_questions(EVERY_KIND, {"s": ["x"], "n": ["2.5"]})["n"] == 2.5


def test_every_wrong_answer_is_named_at_once() -> None:
    with pytest.raises(BadRequestData) as caught:
        answer_questions(
            EVERY_KIND,
            {"n": ["three"], "d": ["yesterday"], "one": ["c"], "many": ["x", "z"], "nope": ["1"], "info": ["x"]},
        )
    detail = caught.value.detail
    for part in (
        "attribute[s] is required",
        "attribute[n]: 'three' is not a number",
        "attribute[d]: 'yesterday' is not an ISO 8601",
        "attribute[one]: 'c' is not one of a, b",
        "attribute[many]: 'z' is not one of x, y",
        "attribute[nope] is not a question",
        "attribute[info] is not a question",  # information only: nothing to answer
    ):
        assert part in detail


def test_a_string_answer_is_one_line_and_empty_answers_count_as_missing() -> None:
    with pytest.raises(BadRequestData, match=r"attribute\[s\]: is one line"):
        answer_questions(EVERY_KIND, {"s": ["a\nb"]})
    with pytest.raises(BadRequestData, match=r"attribute\[s\] is required"):
        answer_questions(EVERY_KIND, {"s": ["  "]})
    with pytest.raises(BadRequestData, match="takes one value"):
        answer_questions(EVERY_KIND, {"s": ["a", "b"]})


def test_a_category_that_clients_could_not_use_is_refused() -> None:
    broken = Category(
        code="x",
        name="X",
        description="",
        group="g",
        department="D",
        questions=(
            Question("a", Datatype.SINGLEVALUELIST, "no values", order=1),
            Question("a", Datatype.STRING, "twice", order=1, values=(Choice("k", "K"),)),
            Question("b", Datatype.TEXT, "info", variable=False, required=True, order=2),
        ),
    )
    with pytest.raises(BadRequestData) as caught:
        check_category(broken)
    detail = caught.value.detail
    assert "'a' is a list without values" in detail
    assert "'a' is used twice" in detail
    assert "unique in the category" in detail
    assert "cannot have values" in detail
    assert "cannot be required" in detail
    with pytest.raises(BadRequestData, match="invalid service code"):
        check_category(Category("bad code", "X", "", "g", "D"))


def test_descriptions_are_plain_text_of_bounded_length() -> None:
    assert plain_text("  a < b and c > d  ", 100, "description") == "a < b and c > d"
    with pytest.raises(BadRequestData, match="plain text"):
        plain_text("<b>bold</b>", 100, "description")
    assert plain_text("line\n\tindented", 100, "description") == "line\n\tindented"
    with pytest.raises(BadRequestData, match="control characters"):
        plain_text("nul\x00byte", 100, "description")
    with pytest.raises(BadRequestData, match="at most 10 characters"):
        plain_text("x" * 11, 10, "description")


def test_positions_are_wgs84() -> None:
    assert check_position(50.7, 7.1) == (50.7, 7.1)
    for lat, long in ((91, 0), (0, 181), (float("nan"), 0)):
        with pytest.raises(BadRequestData):
            check_position(lat, long)


def test_the_most_specific_route_wins() -> None:
    rules = [
        Route("1", "District office North", district="North"),
        Route("2", "Lighting contractor", service_code="streetlight"),
        Route("3", "Lighting North crew", service_code="streetlight", district="North"),
    ]
    assert route(rules, "streetlight", "North", "Street lighting") == "Lighting North crew"
    assert route(rules, "streetlight", "South", "Street lighting") == "Lighting contractor"
    assert route(rules, "pothole", "North", "Roads") == "District office North"
    assert route(rules, "pothole", None, "Roads") == "Roads"


def test_moving_a_report_sets_and_clears_its_closing_time() -> None:
    opened = move(report(), Stage.INVESTIGATING, "looking", T0 + timedelta(hours=1))
    assert opened.status is ReportStatus.OPEN
    assert opened.status_notes == "looking"
    assert opened.closed_at is None
    fixed = move(opened, Stage.FIXED, "new lamp", T0 + timedelta(hours=2))
    assert fixed.status is ReportStatus.CLOSED
    assert fixed.closed_at == T0 + timedelta(hours=2)
    still = move(fixed, Stage.NO_FURTHER_ACTION, "", T0 + timedelta(hours=3))
    assert still.closed_at == T0 + timedelta(hours=2)  # closed since then
    reopened = move(fixed, Stage.INVESTIGATING, "it is dark again", T0 + timedelta(days=1))
    assert reopened.status is ReportStatus.OPEN
    assert reopened.closed_at is None
    assert move(reopened, Stage.INVESTIGATING, "", T0 + timedelta(days=2)) is reopened


def test_duplicates_are_made_by_merging_only() -> None:
    with pytest.raises(BadRequestData, match="merging"):
        move(report(), Stage.DUPLICATE, "", T0)
    original = report(id="r0")
    duplicate = merge(report(), original, T0 + timedelta(minutes=5))
    assert duplicate.stage is Stage.DUPLICATE
    assert duplicate.parent_id == "r0"
    assert duplicate.status is ReportStatus.CLOSED
    assert "r0" in (duplicate.status_notes or "")
    with pytest.raises(Conflict):
        move(duplicate, Stage.INVESTIGATING, "", T0)
    with pytest.raises(BadRequestData, match="itself"):
        merge(original, original, T0)
    with pytest.raises(BadRequestData, match="is itself a duplicate"):
        merge(report(id="r2"), duplicate, T0)


def test_work_orders_decide_before_alarms() -> None:
    assert tickets_closed([True], [False])  # the crew's job is done even if the alarm was left open
    assert not tickets_closed([True, False], [True])
    assert tickets_closed([], [True, True])
    assert not tickets_closed([], [])
