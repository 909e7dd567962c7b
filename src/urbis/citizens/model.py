"""Problem reports and the categories they are filed under: the pure rules.

A *category* is an Open311 service definition: a code, a name, a department that handles it, the
kinds of city asset it may concern (street lights, parking bays) and the extra questions it asks,
each of one of Open311's six datatypes.  A *report* (an Open311 service request) is a resident's
"something is wrong here": a category, a place, a description, answers, photos.

A report's life follows FixMyStreet's states: ``submitted`` (waiting for triage), then
``investigating``, ``action-scheduled``, ``in-progress`` or ``internal-referral`` while open; it
closes as ``fixed``, ``no-further-action``, ``not-responsible``, ``duplicate`` or ``cancelled``.
Open311 sees only ``open``/``closed``; the detailed state is its ``extended_attributes``.

A report is public (listed, mirrored into the context) once it is confirmed (residents without an
account confirm their e-mail address) and its moderation state is public.  Who reported it is
never part of the report: that lives in the personal-data store.

Pure: no I/O and no clock; time is a parameter.
"""

from __future__ import annotations

import enum
import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from urbis.citizens.moderation import Moderation
from urbis.core.errors import BadRequestData, Conflict

#: Open311: "description ... at most 4,000 characters".
DESCRIPTION_LENGTH = 4000
#: Longest public note on a status change or comment.
NOTE_LENGTH = 2000
#: Most photos per report.
MAX_PHOTOS = 3
#: Longest category code, name, department.
CODE_LENGTH = 64
NAME_LENGTH = 150
DEPARTMENT_LENGTH = 150
ADDRESS_LENGTH = 300

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: Control characters other than tab and line breaks (a NUL cannot even be stored in PostgreSQL text).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TAG = re.compile(r"</?[A-Za-z!][^>]*>")  # what a browser would read as a tag


class Datatype(enum.StrEnum):
    """Open311's six attribute datatypes, each shown with the HTML control the spec names."""

    STRING = "string"  # <input>, one line
    NUMBER = "number"  # <input>
    DATETIME = "datetime"  # <input>, ISO 8601
    TEXT = "text"  # <textarea>
    SINGLEVALUELIST = "singlevaluelist"  # <select>
    MULTIVALUELIST = "multivaluelist"  # <select multiple>


@dataclass(frozen=True)
class Choice:
    """One value of a list attribute: ``key`` is sent, ``name`` is shown."""

    key: str
    name: str


@dataclass(frozen=True)
class Question:
    """An Open311 attribute of a category: something the reporter answers (or, not ``variable``, reads)."""

    code: str
    datatype: Datatype
    description: str
    required: bool = False
    variable: bool = True
    order: int = 1
    datatype_description: str = ""
    values: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Category:
    """An Open311 service: what can be reported, who handles it, and what it asks."""

    code: str
    name: str
    description: str
    group: str
    department: str
    keywords: tuple[str, ...] = ()
    #: NGSI-LD types of the assets a report may name (``Streetlight``, ``ParkingSpot``).
    object_types: tuple[str, ...] = ()
    questions: tuple[Question, ...] = ()
    active: bool = True
    position: int = 0

    @property
    def has_metadata(self) -> bool:
        """Open311's ``metadata``: whether a client must fetch the definition (it asks questions)."""
        return bool(self.questions)


class ReportStatus(enum.StrEnum):
    """What Open311 sees."""

    OPEN = "open"
    CLOSED = "closed"


class Stage(enum.StrEnum):
    """Where a report stands in detail (FixMyStreet's states, in Urbis's spelling)."""

    SUBMITTED = "submitted"
    INVESTIGATING = "investigating"
    ACTION_SCHEDULED = "action-scheduled"
    IN_PROGRESS = "in-progress"
    INTERNAL_REFERRAL = "internal-referral"
    FIXED = "fixed"
    NO_FURTHER_ACTION = "no-further-action"
    NOT_RESPONSIBLE = "not-responsible"
    DUPLICATE = "duplicate"
    CANCELLED = "cancelled"

    @property
    def status(self) -> ReportStatus:
        """Open or closed, as Open311 says it."""
        return ReportStatus.CLOSED if self in CLOSED_STAGES else ReportStatus.OPEN


CLOSED_STAGES = frozenset(
    {Stage.FIXED, Stage.NO_FURTHER_ACTION, Stage.NOT_RESPONSIBLE, Stage.DUPLICATE, Stage.CANCELLED}
)
OPEN_STAGES = frozenset(Stage) - CLOSED_STAGES


class Channel(enum.StrEnum):
    """How a report arrived."""

    APP = "app"
    OPEN311 = "open311"
    STAFF = "staff"


class UpdateKind(enum.StrEnum):
    """What an entry in a report's history is."""

    STATUS = "status"  # staff (or the system) changed the stage, with a public note
    COMMENT = "comment"  # a resident wrote something
    SYSTEM = "system"  # linked to a fault, merged, confirmed ...


class Author(enum.StrEnum):
    """Who wrote an update, as the public may know it."""

    STAFF = "staff"
    RESIDENT = "resident"
    SYSTEM = "system"


@dataclass(frozen=True)
class Report:
    """A resident's problem report (an Open311 service request), without who sent it."""

    id: str
    tenant: str
    service_code: str
    service_name: str
    description: str
    stage: Stage
    requested_at: datetime
    updated_at: datetime
    lat: float | None = None
    long: float | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    answers: Mapping[str, Any] = field(default_factory=dict, hash=False)
    status_notes: str | None = None
    department: str | None = None
    district: str | None = None
    closed_at: datetime | None = None
    expected_at: datetime | None = None
    confirmed: bool = True
    moderation: Moderation = Moderation.PUBLIC
    object_type: str | None = None
    object_id: str | None = None
    parent_id: str | None = None
    channel: Channel = Channel.APP
    #: The reporter's name, only when they chose to show it.
    public_name: str | None = None
    #: Hands out the id of a report that waits for its confirmation (Open311 ``tokens``).
    token: str | None = None
    photos: tuple[str, ...] = ()

    @property
    def status(self) -> ReportStatus:
        """Open or closed."""
        return self.stage.status

    @property
    def public(self) -> bool:
        """Whether anyone may see it: confirmed and not held back by moderation."""
        return self.confirmed and self.moderation is Moderation.PUBLIC


@dataclass(frozen=True)
class Update:
    """One entry in a report's public history (and, for staff, who wrote it)."""

    id: str
    report_id: str
    at: datetime
    kind: UpdateKind
    description: str
    author: Author
    stage: Stage | None = None
    moderation: Moderation = Moderation.PUBLIC
    #: The account that wrote it: staff see it, the public never does.
    by: str | None = None


@dataclass(frozen=True)
class Route:
    """A routing rule: reports of ``service_code`` (any, if None) in ``district`` (any, if None) go to ``department``."""

    id: str
    department: str
    service_code: str | None = None
    district: str | None = None

    @property
    def specificity(self) -> int:
        """Category and district beat category alone, which beats district alone."""
        return (2 if self.service_code is not None else 0) + (1 if self.district is not None else 0)


# -- categories ----------------------------------------------------------------------------


def check_code(value: str, what: str = "code") -> str:
    """A category or question code: ASCII letters, digits, '.', '_' and '-'."""
    if not isinstance(value, str) or len(value) > CODE_LENGTH or not _CODE.fullmatch(value):
        raise BadRequestData(
            f"invalid {what} {value!r:.80}: use 1-{CODE_LENGTH} ASCII letters, digits, '.', '_' or '-'"
        )
    return value


def check_category(category: Category) -> Category:
    """Refuse a category Open311 clients could not use: every problem is named at once."""
    problems: list[str] = []
    check_code(category.code, "service code")
    if not category.name.strip() or len(category.name) > NAME_LENGTH:
        problems.append(f"a category name is 1 to {NAME_LENGTH} characters")
    if not category.department.strip() or len(category.department) > DEPARTMENT_LENGTH:
        problems.append(f"a department is 1 to {DEPARTMENT_LENGTH} characters")
    codes: set[str] = set()
    orders: set[int] = set()
    for question in category.questions:
        check_code(question.code, "attribute code")
        if question.code in codes:
            problems.append(f"attribute code {question.code!r} is used twice")
        codes.add(question.code)
        if question.order < 1 or question.order in orders:
            problems.append(f"attribute {question.code!r}: 'order' must be a positive integer unique in the category")
        orders.add(question.order)
        is_list = question.datatype in (Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST)
        if is_list and not question.values:
            problems.append(f"attribute {question.code!r} is a list without values")
        if not is_list and question.values:
            problems.append(f"attribute {question.code!r} is a {question.datatype.value} and cannot have values")
        if len({choice.key for choice in question.values}) != len(question.values):
            problems.append(f"attribute {question.code!r} has a value key twice")
        if question.required and not question.variable:
            problems.append(f"attribute {question.code!r} is information only (variable=false) and cannot be required")
    if problems:
        raise BadRequestData("; ".join(problems))
    return category


def answer_questions(category: Category, submitted: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Check the answers to a category's questions; the answers as stored (numbers as numbers, lists as lists).

    ``submitted`` maps an attribute code to the values sent (Open311 repeats ``attribute[code][]``
    for a multi-value list).  Empty values count as not given; unknown codes are refused.  Every
    problem is reported at once, each naming its attribute.
    """
    by_code = {question.code: question for question in category.questions if question.variable}
    problems: list[str] = []
    answers: dict[str, Any] = {}
    for code in submitted:
        if code not in by_code:
            problems.append(f"attribute[{code}] is not a question of service {category.code!r}")
    for code, question in by_code.items():
        values = [value.strip() for value in submitted.get(code, ()) if value is not None and value.strip()]
        if not values:
            if question.required:
                problems.append(f"attribute[{code}] is required: {question.description}")
            continue
        try:
            answers[code] = _answer(question, values)
        except ValueError as error:
            problems.append(f"attribute[{code}]: {error}")
    if problems:
        raise BadRequestData("; ".join(problems))
    return answers


def _answer(question: Question, values: list[str]) -> Any:
    keys = {choice.key for choice in question.values}
    if question.datatype is Datatype.MULTIVALUELIST:
        unknown = [value for value in values if value not in keys]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not one of {', '.join(sorted(keys))}")
        return sorted(set(values), key=values.index)
    if len(values) > 1:
        raise ValueError("takes one value")
    value = values[0]
    if question.datatype is Datatype.SINGLEVALUELIST:
        if value not in keys:
            raise ValueError(f"{value!r} is not one of {', '.join(sorted(keys))}")
        return value
    if question.datatype is Datatype.NUMBER:
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{value!r:.40} is not a number") from None
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        return int(number) if number.is_integer() and "." not in value else number
    if question.datatype is Datatype.DATETIME:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r:.40} is not an ISO 8601 date and time") from None
        return moment.isoformat()
    if question.datatype is Datatype.STRING and ("\n" in value or "\r" in value):
        raise ValueError("is one line (no line breaks)")
    if len(value) > NOTE_LENGTH:
        raise ValueError(f"is at most {NOTE_LENGTH} characters")
    return value


# -- reports -------------------------------------------------------------------------------


def plain_text(value: str, limit: int, what: str) -> str:
    """Text as residents may send it: trimmed, no HTML (Open311: "may not contain markup")."""
    text = value.strip()
    if _CONTROL.search(text):
        raise BadRequestData(f"the {what} contains control characters")
    if _TAG.search(text):
        raise BadRequestData(f"the {what} must be plain text, without HTML tags")
    if len(text) > limit:
        raise BadRequestData(f"the {what} is at most {limit} characters (got {len(text)})")
    return text


def check_position(lat: float, long: float) -> tuple[float, float]:
    """A WGS84 position."""
    if not (math.isfinite(lat) and math.isfinite(long)) or not (-90 <= lat <= 90 and -180 <= long <= 180):
        raise BadRequestData(f"lat/long ({lat}, {long}) is not a WGS84 position (lat -90..90, long -180..180)")
    return lat, long


def route(rules: Iterable[Route], service_code: str, district: str | None, default: str) -> str:
    """The department a report goes to: the most specific matching rule, else the category's own."""
    best: Route | None = None
    for rule in rules:
        if rule.service_code not in (None, service_code):
            continue
        if rule.district is not None and rule.district != district:
            continue
        if best is None or rule.specificity > best.specificity:
            best = rule
    return best.department if best is not None else default


def move(report: Report, stage: Stage, note: str, at: datetime) -> Report:
    """Staff move a report to ``stage`` with a public note; reopening a closed report is allowed."""
    if stage is Stage.DUPLICATE:
        raise BadRequestData("mark a report as a duplicate by merging it into the original")
    if report.stage is Stage.DUPLICATE:
        raise Conflict(f"report {report.id} is a duplicate of {report.parent_id}; update the original instead")
    note = plain_text(note, NOTE_LENGTH, "note")
    if stage is report.stage and not note:
        return report
    closed_at = at if stage in CLOSED_STAGES else None
    if stage in CLOSED_STAGES and report.stage in CLOSED_STAGES:
        closed_at = report.closed_at
    return replace(report, stage=stage, status_notes=note or report.status_notes, updated_at=at, closed_at=closed_at)


def merge(duplicate: Report, original: Report, at: datetime) -> Report:
    """Close ``duplicate`` as a duplicate of ``original`` (residents follow the original from then on)."""
    if duplicate.id == original.id:
        raise BadRequestData("a report cannot be a duplicate of itself")
    if original.stage is Stage.DUPLICATE:
        raise BadRequestData(
            f"report {original.id} is itself a duplicate (of {original.parent_id}); merge into that one"
        )
    if duplicate.stage is Stage.DUPLICATE:
        raise Conflict(f"report {duplicate.id} is already a duplicate of {duplicate.parent_id}")
    note = f"Duplicate of report {original.id}; follow that report for updates."
    return replace(
        duplicate,
        stage=Stage.DUPLICATE,
        parent_id=original.id,
        status_notes=note,
        updated_at=at,
        closed_at=duplicate.closed_at or at,
    )


def tickets_closed(work_orders: Sequence[bool], alarms: Sequence[bool]) -> bool:
    """Whether the faults a report is linked to are dealt with (each flag: that ticket is closed).

    Work orders decide when there are any (an alarm closed by hand may still leave a crew's job
    open); otherwise the alarms do.  With no linked ticket nothing is decided.
    """
    if work_orders:
        return all(work_orders)
    if alarms:
        return all(alarms)
    return False


def median_hours(resolved: Iterable[tuple[datetime, datetime]]) -> float | None:
    """The median time from report to resolution, in hours (``None`` when nothing was resolved)."""
    hours = [(closed - requested).total_seconds() / 3600 for requested, closed in resolved]
    return statistics.median(hours) if hours else None
