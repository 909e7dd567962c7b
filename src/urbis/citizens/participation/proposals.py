"""Residents' proposals: supports against a threshold and a deadline, official answers, moderation.

A proposal collects supports (one per person) until its deadline.  The moment the supports
reach its threshold it is ``qualified`` and goes to the council; a proposal still collecting
when its deadline passes is ``expired`` (decided lazily whenever it is read, and stored by a
periodic job).  Its author may withdraw it while it collects.  Threshold and deadline are fixed
when it is made, so changing the settings never moves the goalposts of a running proposal.

Staff answer proposals (evaluating, accepted or rejected, always with a reason; optionally a
cost) and moderate them like everything residents write.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from urbis.citizens.moderation import REASON_LENGTH, Moderation, check_reason, listed, parse_moderation
from urbis.citizens.participation.model import (
    BODY_LENGTH,
    COMMENT_LENGTH,
    TITLE_LENGTH,
    Point,
    check_district,
    check_text,
    parse_money,
    parse_name,
    share,
)
from urbis.core.errors import BadRequestData, Conflict, PolicyDenied

#: Longest reason of an official answer.
ANSWER_REASON_LENGTH = 2000
#: How a proposal's author appears when they keep their name private (the default).
A_RESIDENT = "a resident"


class ProposalState(enum.StrEnum):
    """Where a proposal stands on its way to the council."""

    COLLECTING = "collecting"
    QUALIFIED = "qualified"  # reached its threshold: goes to the council
    EXPIRED = "expired"  # the deadline passed below the threshold
    WITHDRAWN = "withdrawn"  # by its author


class AnswerStatus(enum.StrEnum):
    """The city's official answer to a proposal (Decidim's three)."""

    EVALUATING = "evaluating"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ProposalOrder(enum.StrEnum):
    """How lists of proposals are sorted."""

    SUPPORTS = "supports"  # most supported first
    NEWEST = "newest"


def parse_state(value: str) -> ProposalState:
    """A proposal state from its name; 400 naming the known ones otherwise."""
    return parse_name(ProposalState, value, "proposal state")


def parse_answer_status(value: str) -> AnswerStatus:
    """An answer status from its name; 400 naming the known ones otherwise."""
    return parse_name(AnswerStatus, value, "answer status")


def parse_order(value: str) -> ProposalOrder:
    """A sort order from its name; 400 naming the known ones otherwise."""
    return parse_name(ProposalOrder, value, "sort order")


def parse_staff_decision(value: str) -> Moderation:
    """What a moderator may set: ``public`` or ``hidden`` (``unmoderated`` is where items start, not a decision)."""
    state = parse_moderation(value)
    if state is Moderation.UNMODERATED:
        raise BadRequestData("a moderator makes an item 'public' or 'hidden'")
    return state


@dataclass(frozen=True)
class Answer:
    """An official answer, as published on the proposal (``answered_by`` is for staff only)."""

    status: AnswerStatus
    reason: str
    cost: Decimal | None
    answered_at: datetime
    answered_by: str


@dataclass(frozen=True)
class ModerationRecord:
    """Where an item stands with the moderators, and the last decision (``by`` is for staff only).

    ``by`` is None when nobody decided yet, or when flags hid the item automatically.
    """

    state: Moderation
    reason: str | None = None
    by: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class ProposalDraft:
    """What a resident writes, checked."""

    title: str
    body: str
    district: str | None = None
    point: Point | None = None
    show_name: bool = False


def check_draft(
    title: object, body: object, *, district: object = None, point: Point | None = None, show_name: object = False
) -> ProposalDraft:
    """A resident's proposal text checked: title 1-150 characters, body 1-4000, plain text."""
    if not isinstance(show_name, bool):
        raise BadRequestData("'showName' must be true or false")
    return ProposalDraft(
        title=check_text(title, "title", TITLE_LENGTH),
        body=check_text(body, "body", BODY_LENGTH),
        district=None if district is None else check_district(district),
        point=point,
        show_name=show_name,
    )


@dataclass(frozen=True)
class Progress:
    """How far a proposal is from its threshold (public)."""

    supports: int
    threshold: int
    deadline: datetime
    percent: float  # of the threshold, at most 100
    missing: int  # supports still needed


@dataclass(frozen=True)
class Proposal:
    """A resident's proposal as stored (``state`` as last written: see :meth:`state_at`)."""

    id: str
    author: str
    title: str
    body: str
    district: str | None
    point: Point | None
    show_name: bool
    created_at: datetime
    threshold: int
    deadline: datetime
    supports: int
    state: ProposalState
    decided_at: datetime | None  # when it qualified, expired or was withdrawn
    moderation: ModerationRecord
    answer: Answer | None = None

    def state_at(self, now: datetime) -> ProposalState:
        """The state at ``now``: one still collecting past its deadline has expired."""
        if self.state is ProposalState.COLLECTING and now >= self.deadline:
            return ProposalState.EXPIRED
        return self.state

    def decided_at_moment(self, now: datetime) -> datetime | None:
        """When the state was decided; an expiry not stored yet happened at the deadline."""
        if self.decided_at is None and self.state_at(now) is ProposalState.EXPIRED:
            return self.deadline
        return self.decided_at

    def progress(self) -> Progress:
        """Supports against the threshold."""
        return Progress(
            supports=self.supports,
            threshold=self.threshold,
            deadline=self.deadline,
            percent=min(100.0, share(self.supports, self.threshold)),
            missing=max(0, self.threshold - self.supports),
        )

    def author_label(self, *, staff: bool = False) -> str:
        """How the author appears: their username only when they chose to show it (or to staff)."""
        return self.author if self.show_name or staff else A_RESIDENT


def deadline_after(created_at: datetime, days: int) -> datetime:
    """The deadline of a proposal made at ``created_at`` that collects for ``days`` days."""
    if days < 1:
        raise ValueError("a proposal collects supports for at least one day")
    return created_at + timedelta(days=days)


def new_proposal(
    proposal_id: str,
    author: str,
    draft: ProposalDraft,
    *,
    created_at: datetime,
    threshold: int,
    days: int,
    moderation: Moderation,
) -> Proposal:
    """A proposal just made, collecting supports; threshold and deadline fixed now."""
    if threshold < 1:
        raise ValueError("a proposal's threshold is at least one support")
    return Proposal(
        id=proposal_id,
        author=author,
        title=draft.title,
        body=draft.body,
        district=draft.district,
        point=draft.point,
        show_name=draft.show_name,
        created_at=created_at,
        threshold=threshold,
        deadline=deadline_after(created_at, days),
        supports=0,
        state=ProposalState.COLLECTING,
        decided_at=None,
        moderation=ModerationRecord(moderation),
    )


def check_collecting(proposal: Proposal, now: datetime) -> None:
    """Supports may be given or taken back only while the proposal collects, before its deadline."""
    state = proposal.state_at(now)
    if state is ProposalState.QUALIFIED:
        raise Conflict("this proposal already reached its threshold; supports are closed")
    if state is ProposalState.EXPIRED:
        raise Conflict("this proposal's deadline has passed; supports are closed")
    if state is ProposalState.WITHDRAWN:
        raise Conflict("this proposal was withdrawn; supports are closed")


def state_after_supports(proposal: Proposal, supports: int) -> ProposalState:
    """The state once a proposal has ``supports``: qualified the moment the threshold is reached."""
    if proposal.state is ProposalState.COLLECTING and supports >= proposal.threshold:
        return ProposalState.QUALIFIED
    return proposal.state


def check_withdraw(proposal: Proposal, by: str, now: datetime) -> None:
    """Only the author withdraws, and only while the proposal still collects."""
    if by != proposal.author:
        raise PolicyDenied("only the author may withdraw a proposal")
    state = proposal.state_at(now)
    if state is not ProposalState.COLLECTING:
        raise Conflict(f"this proposal is {state.value}; only a collecting one can be withdrawn")


def check_answer(proposal: Proposal, status: AnswerStatus, reason: object, cost: object) -> tuple[str, Decimal | None]:
    """An official answer's reason (required) and cost (optional, at least 0); never on a withdrawn proposal."""
    if proposal.state is ProposalState.WITHDRAWN:
        raise Conflict("a withdrawn proposal is not answered")
    text = check_text(reason, "reason", ANSWER_REASON_LENGTH)
    amount = None if cost is None else parse_money(cost, "cost", positive=False)
    if amount is not None and status is AnswerStatus.REJECTED:
        raise BadRequestData("a rejected proposal has no cost")
    return text, amount


def moderated(state: Moderation, reason: object, *, by: str, at: datetime) -> ModerationRecord:
    """A moderator's decision; hiding needs a reason, making public accepts one."""
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        if state is Moderation.HIDDEN:
            raise BadRequestData("a reason is required to hide an item")
        return ModerationRecord(state, None, by, at)
    # check_text first: it refuses control characters, which check_reason lets through.
    return ModerationRecord(state, check_reason(check_text(reason, "reason", REASON_LENGTH)), by, at)


def hidden_by_flags(flags: int, at: datetime) -> ModerationRecord:
    """The record of an item hidden because ``flags`` people flagged it."""
    return ModerationRecord(Moderation.HIDDEN, f"hidden automatically after {flags} flags", None, at)


def visible_to(moderation: Moderation, author: str, viewer: str | None, *, staff: bool) -> bool:
    """Whether a reader sees an item: listed ones everyone, the others only their author and staff."""
    return staff or listed(moderation) or (viewer is not None and viewer == author)


@dataclass(frozen=True)
class Comment:
    """A resident's comment on a proposal."""

    id: str
    proposal_id: str
    author: str
    show_name: bool
    body: str
    created_at: datetime
    moderation: ModerationRecord

    def author_label(self, *, staff: bool = False) -> str:
        """How the author appears: their username only when they chose to show it (or to staff)."""
        return self.author if self.show_name or staff else A_RESIDENT


def check_comment(body: object, show_name: object = False) -> tuple[str, bool]:
    """A comment's text (1-1000 characters) and whether its author shows their name."""
    if not isinstance(show_name, bool):
        raise BadRequestData("'showName' must be true or false")
    return check_text(body, "body", COMMENT_LENGTH), show_name


def check_commentable(proposal: Proposal) -> None:
    """Comments go on proposals that are not withdrawn."""
    if proposal.state is ProposalState.WITHDRAWN:
        raise Conflict("a withdrawn proposal takes no comments")
