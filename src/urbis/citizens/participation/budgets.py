"""Participatory budgets: phases, headings (districts) with their money and ballot rules, results.

A budget process moves only forward through ``drafting`` → ``informing`` → ``voting`` →
``finished`` (staff move it).  Each heading is a district with its own amount and exactly one
ballot rule (Decidim's three): spend at least a share of the amount, choose at least N projects,
or choose between N and M projects; a ballot never costs more than the amount.  A resident casts
one ballot per process, in the heading of their choice; its receipt is a SHA-256 fingerprint of
the canonical ballot.  Once finished, each heading's projects are ranked by votes and funded
greedily while its money lasts: a project that no longer fits is skipped and the next one tried.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from urbis.citizens.participation.model import (
    BODY_LENGTH,
    TITLE_LENGTH,
    check_district,
    check_text,
    format_money,
    is_id,
    money_text,
    parse_money,
    parse_name,
)
from urbis.core.errors import BadRequestData, Conflict

#: Most headings (districts) one process has.
HEADINGS_MAXIMUM = 100
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class BudgetPhase(enum.StrEnum):
    """Where a budget process stands; it only ever moves forward."""

    DRAFTING = "drafting"  # staff prepare headings and projects
    INFORMING = "informing"  # the projects are public, voting has not started
    VOTING = "voting"
    FINISHED = "finished"  # results are public


PHASES = tuple(BudgetPhase)
#: Phases in which staff may still change headings and projects.
EDITABLE_PHASES = frozenset({BudgetPhase.DRAFTING, BudgetPhase.INFORMING})


class RuleKind(enum.StrEnum):
    """The kinds of ballot rule a heading has (exactly one)."""

    MINIMUM_PERCENT = "minimum-percent"  # spend at least this share of the heading's amount
    MINIMUM_PROJECTS = "minimum-projects"
    PROJECT_RANGE = "project-range"  # at least N and at most M projects


def parse_phase(value: str) -> BudgetPhase:
    """A budget phase from its name; 400 naming the known ones otherwise."""
    return parse_name(BudgetPhase, value, "budget phase")


def check_phase_change(current: BudgetPhase, wanted: BudgetPhase, *, projects: int) -> None:
    """A budget only moves forward (skipping phases is allowed); voting needs projects to vote for."""
    if PHASES.index(wanted) <= PHASES.index(current):
        raise Conflict(f"a budget only moves forward: it is in '{current.value}', so it cannot go to '{wanted.value}'")
    if wanted is BudgetPhase.VOTING and projects == 0:
        raise Conflict("a budget needs at least one project before voting starts")


def check_editable(phase: BudgetPhase) -> None:
    """Headings and projects change only before voting starts."""
    if phase not in EDITABLE_PHASES:
        raise Conflict(f"projects and districts cannot change once a budget is in '{phase.value}'")


def check_currency(value: object) -> str:
    """An ISO 4217 currency code (three capital letters)."""
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise BadRequestData("'currency' is an ISO 4217 code such as 'EUR'")
    return value


@dataclass(frozen=True)
class BallotRule:
    """A heading's ballot rule; which fields count depends on ``kind``."""

    kind: RuleKind
    minimum_percent: Decimal | None = None
    minimum_projects: int | None = None
    maximum_projects: int | None = None

    def to_json(self) -> dict[str, object]:
        """The rule as the APIs carry it (and as it is stored)."""
        if self.kind is RuleKind.MINIMUM_PERCENT:
            return {"kind": self.kind.value, "minimumPercent": str(self.minimum_percent)}
        if self.kind is RuleKind.MINIMUM_PROJECTS:
            return {"kind": self.kind.value, "minimumProjects": self.minimum_projects}
        return {
            "kind": self.kind.value,
            "minimumProjects": self.minimum_projects,
            "maximumProjects": self.maximum_projects,
        }


def _plain(number: Decimal) -> Decimal:
    # normalize() alone writes 50 as 5E+1.
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


def _count(document: Mapping[str, object], name: str) -> int:
    value = document.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise BadRequestData(f"'{name}' must be a whole number from 1 to 1000")
    return value


def parse_rule(document: object) -> BallotRule:
    """A ballot rule from its JSON form, e.g. ``{"kind": "project-range", "minimumProjects": 2, "maximumProjects": 4}``."""
    if not isinstance(document, Mapping):
        raise BadRequestData("'rule' must be an object with a 'kind'")
    kind_name = document.get("kind")
    if not isinstance(kind_name, str):
        raise BadRequestData("'rule' needs a 'kind'")
    kind = parse_name(RuleKind, kind_name, "ballot rule")
    expected = {
        RuleKind.MINIMUM_PERCENT: {"kind", "minimumPercent"},
        RuleKind.MINIMUM_PROJECTS: {"kind", "minimumProjects"},
        RuleKind.PROJECT_RANGE: {"kind", "minimumProjects", "maximumProjects"},
    }[kind]
    extra = set(document) - expected
    if extra:
        raise BadRequestData(f"a '{kind.value}' rule has no {', '.join(sorted(repr(e) for e in extra))}")
    if kind is RuleKind.MINIMUM_PERCENT:
        raw = document.get("minimumPercent")
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise BadRequestData("'minimumPercent' must be a number above 0 and at most 100")
        try:
            percent = Decimal(str(raw))
        except InvalidOperation:
            percent = Decimal("NaN")
        if not percent.is_finite() or not 0 < percent <= 100 or percent != percent.quantize(Decimal("0.01")):
            raise BadRequestData("'minimumPercent' must be a number above 0 and at most 100, with at most 2 decimals")
        return BallotRule(kind, minimum_percent=_plain(percent))
    if kind is RuleKind.MINIMUM_PROJECTS:
        return BallotRule(kind, minimum_projects=_count(document, "minimumProjects"))
    low, high = _count(document, "minimumProjects"), _count(document, "maximumProjects")
    if high < low:
        raise BadRequestData("'maximumProjects' must be at least 'minimumProjects'")
    return BallotRule(kind, minimum_projects=low, maximum_projects=high)


@dataclass(frozen=True)
class Heading:
    """A district of a budget process: its money and its ballot rule."""

    id: str
    name: str
    amount: Decimal
    rule: BallotRule

    def to_json(self) -> dict[str, object]:
        """The heading as stored and shown (money as a decimal string)."""
        return {"id": self.id, "name": self.name, "amount": money_text(self.amount), "rule": self.rule.to_json()}


def parse_heading(document: object) -> Heading:
    """A heading from its JSON form ``{"id", "name", "amount", "rule"}``."""
    if not isinstance(document, Mapping):
        raise BadRequestData("each heading is an object with 'id', 'name', 'amount' and 'rule'")
    return Heading(
        id=check_district(document.get("id"), "id"),
        name=check_text(document.get("name"), "name", TITLE_LENGTH),
        amount=parse_money(document.get("amount"), "amount"),
        rule=parse_rule(document.get("rule")),
    )


def parse_headings(documents: object) -> tuple[Heading, ...]:
    """A process's headings: 1 to 100, their ids unique."""
    if not isinstance(documents, list) or not 1 <= len(documents) <= HEADINGS_MAXIMUM:
        raise BadRequestData(f"'headings' is a list of 1 to {HEADINGS_MAXIMUM} districts")
    headings = tuple(parse_heading(document) for document in documents)
    ids = [heading.id for heading in headings]
    if len(set(ids)) != len(ids):
        raise BadRequestData("each heading id appears once")
    return headings


@dataclass(frozen=True)
class Budget:
    """A participatory budget process."""

    id: str
    title: str
    description: str
    currency: str
    phase: BudgetPhase
    headings: tuple[Heading, ...]
    created_at: datetime
    updated_at: datetime

    def heading(self, heading_id: str) -> Heading:
        """The heading named ``heading_id``; 400 when the process has none by that id."""
        for heading in self.headings:
            if heading.id == heading_id:
                return heading
        raise BadRequestData(f"this budget has no district {heading_id!r:.70}")


@dataclass(frozen=True)
class BudgetDraft:
    """What staff write about a process, checked."""

    title: str
    description: str
    currency: str
    headings: tuple[Heading, ...]


def check_budget(title: object, description: object, currency: object, headings: object) -> BudgetDraft:
    """A process's title (1-150), description (up to 4000), currency and headings, checked."""
    return BudgetDraft(
        title=check_text(title, "title", TITLE_LENGTH),
        description=check_text(description, "description", BODY_LENGTH, required=False),
        currency=check_currency(currency),
        headings=parse_headings(headings),
    )


@dataclass(frozen=True)
class Project:
    """A project residents may choose in a heading (optionally born from a proposal)."""

    id: str
    budget_id: str
    heading_id: str
    title: str
    description: str
    cost: Decimal
    proposal_id: str | None = None


@dataclass(frozen=True)
class ProjectDraft:
    """What staff write about a project, checked against the process."""

    heading_id: str
    title: str
    description: str
    cost: Decimal
    proposal_id: str | None


def check_project(
    budget: Budget, *, heading_id: object, title: object, description: object, cost: object, proposal_id: object
) -> ProjectDraft:
    """A project checked: a heading of the process, a cost above 0 that the heading can pay."""
    if not isinstance(heading_id, str):
        raise BadRequestData("'heading' must name a district of the budget")
    heading = budget.heading(heading_id)
    amount = parse_money(cost, "cost")
    if amount > heading.amount:
        raise BadRequestData(
            f"the project costs {format_money(amount)} but this district's budget is {format_money(heading.amount)}"
        )
    if proposal_id is not None and not is_id(proposal_id):
        raise BadRequestData("'proposalId' must be a proposal id")
    return ProjectDraft(
        heading_id=heading.id,
        title=check_text(title, "title", TITLE_LENGTH),
        description=check_text(description, "description", BODY_LENGTH, required=False),
        cost=amount,
        proposal_id=proposal_id,
    )


def _projects(count: int) -> str:
    return f"{count} project" if count == 1 else f"{count} projects"


def check_ballot(heading: Heading, chosen: Sequence[Project]) -> Decimal:
    """Refuse a ballot that breaks the heading's rules, naming the rule; its total cost otherwise."""
    if not chosen:
        raise BadRequestData("choose at least one project")
    ids = [project.id for project in chosen]
    if len(set(ids)) != len(ids):
        raise BadRequestData("each project is chosen at most once")
    for project in chosen:
        if project.heading_id != heading.id:
            raise BadRequestData(f"project {project.id!r} belongs to another district than {heading.id!r}")
    total = sum((project.cost for project in chosen), Decimal(0))
    if total > heading.amount:
        raise BadRequestData(
            f"the projects cost {format_money(total)} but this district's budget is {format_money(heading.amount)}"
        )
    rule = heading.rule
    count = len(chosen)
    if rule.kind is RuleKind.MINIMUM_PERCENT:
        assert rule.minimum_percent is not None
        minimum = heading.amount * rule.minimum_percent / 100
        if total < minimum:
            raise BadRequestData(
                f"the projects cost {format_money(total)} but at least {rule.minimum_percent}% of this "
                f"district's budget ({format_money(minimum)}) must be spent"
            )
    elif rule.kind is RuleKind.MINIMUM_PROJECTS:
        assert rule.minimum_projects is not None
        if count < rule.minimum_projects:
            raise BadRequestData(f"choose at least {_projects(rule.minimum_projects)}; {count} chosen")
    else:
        assert rule.minimum_projects is not None and rule.maximum_projects is not None
        if not rule.minimum_projects <= count <= rule.maximum_projects:
            raise BadRequestData(
                f"choose between {rule.minimum_projects} and {_projects(rule.maximum_projects)}; {count} chosen"
            )
    return total


@dataclass(frozen=True)
class Ballot:
    """A resident's confirmed ballot: final once cast; ``fingerprint`` is its receipt."""

    id: str
    budget_id: str
    heading_id: str
    project_ids: tuple[str, ...]
    fingerprint: str
    cast_at: datetime


def ballot_fingerprint(budget_id: str, heading_id: str, project_ids: Sequence[str], ballot_id: str) -> str:
    """The SHA-256 receipt of a ballot: hex digest of its canonical JSON (keys and projects sorted)."""
    canonical = json.dumps(
        {"ballot": ballot_id, "budget": budget_id, "heading": heading_id, "projects": sorted(project_ids)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_fingerprint(value: str) -> bool:
    """Whether ``value`` looks like a receipt (64 lower-case hex digits)."""
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class ResultLine:
    """A project's place in its heading's results."""

    rank: int
    project: Project
    votes: int
    selected: bool


@dataclass(frozen=True)
class HeadingResult:
    """A heading's results: projects ranked by votes, the funded ones selected."""

    heading: Heading
    ballots: int
    lines: tuple[ResultLine, ...]

    @property
    def spent(self) -> Decimal:
        """What the selected projects cost."""
        return sum((line.project.cost for line in self.lines if line.selected), Decimal(0))

    @property
    def remaining(self) -> Decimal:
        """The heading's money left after the selected projects."""
        return self.heading.amount - self.spent


def heading_results(
    heading: Heading, projects: Sequence[Project], votes: Mapping[str, int], ballots: int
) -> HeadingResult:
    """Rank a heading's projects by votes and fund them greedily while its money lasts.

    Ties go to the cheaper project (more money left for the next ones), then by title and id so the
    order is stable.  A project nobody voted for is never funded.
    """
    mine = [project for project in projects if project.heading_id == heading.id]
    ranked = sorted(mine, key=lambda p: (-votes.get(p.id, 0), p.cost, p.title, p.id))
    remaining = heading.amount
    lines: list[ResultLine] = []
    for rank, project in enumerate(ranked, start=1):
        count = votes.get(project.id, 0)
        selected = count > 0 and project.cost <= remaining
        if selected:
            remaining -= project.cost
        lines.append(ResultLine(rank, project, count, selected))
    return HeadingResult(heading, ballots, tuple(lines))
