"""What pages and APIs show of participation: one projection per reader.

The public sees counts, never who supported or voted, and an author's username only when the
author chose to show it.  A signed-in resident also sees their own things (their hidden proposal,
whether they supported, their ballot and its receipt).  Staff see everything, with the staff-only
details (who answered, who moderated, the author's account) gathered under ``staff``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from urbis.citizens.participation.budgets import (
    Ballot,
    Budget,
    BudgetPhase,
    Heading,
    HeadingResult,
    Project,
)
from urbis.citizens.participation.model import money_text
from urbis.citizens.participation.polls import Poll, PollResults, PollStatus
from urbis.citizens.participation.proposals import Comment, ModerationRecord, Proposal, ProposalState
from urbis.citizens.participation.store import COMMENT_KIND, PROPOSAL_KIND


@dataclass(frozen=True)
class Viewer:
    """Who reads: nobody in particular (the public), a signed-in person, or staff."""

    subject: str | None = None
    staff: bool = False

    def owns(self, author: str) -> bool:
        """Whether the reader wrote the item."""
        return self.subject is not None and self.subject == author


#: The public: no account.
PUBLIC = Viewer()


def _moderation_json(record: ModerationRecord, viewer: Viewer) -> dict[str, Any]:
    shown: dict[str, Any] = {"state": record.state.value, "reason": record.reason}
    if viewer.staff:
        shown |= {"moderatedBy": record.by, "moderatedAt": record.at}
    return shown


# -- proposals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalView:
    """A proposal as one reader sees it."""

    proposal: Proposal
    state: ProposalState
    decided_at: datetime | None
    viewer: Viewer
    supported: bool = False

    def to_json(self) -> dict[str, Any]:
        """The proposal as the API shows it to this reader."""
        p = self.proposal
        progress = p.progress()
        shown: dict[str, Any] = {
            "id": p.id,
            "title": p.title,
            "body": p.body,
            "district": p.district,
            "location": None if p.point is None else {"lat": p.point.lat, "lon": p.point.lon},
            "author": p.author_label(),
            "state": self.state.value,
            "createdAt": p.created_at,
            "decidedAt": self.decided_at,
            "progress": {
                "supports": progress.supports,
                "threshold": progress.threshold,
                "deadline": progress.deadline,
                "percent": progress.percent,
                "missing": progress.missing,
            },
            "answer": None
            if p.answer is None
            else {
                "status": p.answer.status.value,
                "reason": p.answer.reason,
                "cost": None if p.answer.cost is None else money_text(p.answer.cost),
                "answeredAt": p.answer.answered_at,
            },
        }
        if self.viewer.subject is not None:
            shown |= {"mine": self.viewer.owns(p.author), "supportedByMe": self.supported}
        if self.viewer.staff or self.viewer.owns(p.author):
            shown["moderation"] = _moderation_json(p.moderation, self.viewer)
        if self.viewer.staff:
            shown["staff"] = {
                "author": p.author,
                "showName": p.show_name,
                "answeredBy": None if p.answer is None else p.answer.answered_by,
            }
        return shown


def proposal_view(proposal: Proposal, viewer: Viewer, now: datetime, *, supported: bool = False) -> ProposalView:
    """The view of ``proposal`` for ``viewer`` at ``now`` (an overdue proposal shows as expired)."""
    return ProposalView(proposal, proposal.state_at(now), proposal.decided_at_moment(now), viewer, supported)


@dataclass(frozen=True)
class CommentView:
    """A comment as one reader sees it."""

    comment: Comment
    viewer: Viewer

    def to_json(self) -> dict[str, Any]:
        """The comment as the API shows it to this reader."""
        c = self.comment
        shown: dict[str, Any] = {
            "id": c.id,
            "proposalId": c.proposal_id,
            "author": c.author_label(),
            "body": c.body,
            "createdAt": c.created_at,
        }
        if self.viewer.subject is not None:
            shown["mine"] = self.viewer.owns(c.author)
        if self.viewer.staff or self.viewer.owns(c.author):
            shown["moderation"] = _moderation_json(c.moderation, self.viewer)
        if self.viewer.staff:
            shown["staff"] = {"author": c.author, "showName": c.show_name}
        return shown


@dataclass(frozen=True)
class QueueItem:
    """An item waiting in the moderation queue (staff only), with how often each flag reason was given."""

    item: Proposal | Comment
    flags: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        """The item as the moderation queue shows it."""
        item = self.item
        shown: dict[str, Any] = {
            "kind": PROPOSAL_KIND if isinstance(item, Proposal) else COMMENT_KIND,
            "id": item.id,
            "createdAt": item.created_at,
            "author": item.author,
            "moderation": _moderation_json(item.moderation, Viewer(staff=True)),
            "flags": dict(self.flags),
            "flagCount": sum(self.flags.values()),
        }
        if isinstance(item, Proposal):
            shown |= {"title": item.title, "text": item.body}
        else:
            shown |= {"proposalId": item.proposal_id, "text": item.body}
        return shown


# -- budgets -----------------------------------------------------------------------------------


def project_json(project: Project, votes: int | None = None) -> dict[str, Any]:
    """A project as the APIs show it (``votes`` only once a process is finished)."""
    shown: dict[str, Any] = {
        "id": project.id,
        "heading": project.heading_id,
        "title": project.title,
        "description": project.description,
        "cost": money_text(project.cost),
        "proposalId": project.proposal_id,
    }
    if votes is not None:
        shown["votes"] = votes
    return shown


@dataclass(frozen=True)
class BudgetView:
    """A budget process with its headings and projects, and the progress the phase allows to show.

    Turnout (ballots per heading) is public from voting on; votes per project only once finished.
    """

    budget: Budget
    projects: Sequence[Project] = ()
    ballots: Mapping[str, int] | None = None  # per heading, when the phase shows turnout
    votes: Mapping[str, int] | None = None  # per project, once finished
    voted: bool | None = None  # whether the reader cast a ballot (signed-in readers)

    def to_json(self, *, with_projects: bool = True) -> dict[str, Any]:
        """The process as the API shows it (``with_projects`` False for lists)."""
        b = self.budget
        shown: dict[str, Any] = {
            "id": b.id,
            "title": b.title,
            "description": b.description,
            "currency": b.currency,
            "phase": b.phase.value,
            "createdAt": b.created_at,
            "updatedAt": b.updated_at,
        }
        if self.ballots is not None:
            shown["ballots"] = sum(self.ballots.values())
        if self.voted is not None:
            shown["votedByMe"] = self.voted
        headings = []
        for heading in b.headings:
            heading_json: dict[str, Any] = heading.to_json()
            if self.ballots is not None:
                heading_json["ballots"] = self.ballots.get(heading.id, 0)
            if with_projects:
                heading_json["projects"] = [
                    project_json(project, None if self.votes is None else self.votes.get(project.id, 0))
                    for project in self.projects
                    if project.heading_id == heading.id
                ]
            headings.append(heading_json)
        shown["headings"] = headings
        return shown


def shows_turnout(phase: BudgetPhase) -> bool:
    """Whether ballots per heading are public in ``phase``."""
    return phase in (BudgetPhase.VOTING, BudgetPhase.FINISHED)


def shows_votes(phase: BudgetPhase) -> bool:
    """Whether votes per project are public in ``phase`` (only after voting, not to sway it)."""
    return phase is BudgetPhase.FINISHED


@dataclass(frozen=True)
class BallotView:
    """A voter's own ballot and its receipt."""

    ballot: Ballot
    budget: Budget
    projects: Sequence[Project]

    def to_json(self) -> dict[str, Any]:
        """The ballot as its voter sees it."""
        wanted = set(self.ballot.project_ids)
        chosen = [p for p in self.projects if p.id in wanted]
        total = sum((p.cost for p in chosen), Decimal(0))
        return {
            "ballotId": self.ballot.id,
            "budgetId": self.ballot.budget_id,
            "heading": self.ballot.heading_id,
            "projects": [project_json(p, None) for p in chosen],
            "total": money_text(total),
            "currency": self.budget.currency,
            "castAt": self.ballot.cast_at,
            "fingerprint": self.ballot.fingerprint,
        }


@dataclass(frozen=True)
class ReceiptView:
    """The public answer to "was this receipt counted?": nothing else about the ballot."""

    budget_id: str
    fingerprint: str
    counted: bool

    def to_json(self) -> dict[str, Any]:
        """The check as the API shows it."""
        return {"budgetId": self.budget_id, "fingerprint": self.fingerprint, "counted": self.counted}


def _heading_result_json(result: HeadingResult) -> dict[str, Any]:
    heading: Heading = result.heading
    return {
        "id": heading.id,
        "name": heading.name,
        "amount": money_text(heading.amount),
        "ballots": result.ballots,
        "spent": money_text(result.spent),
        "remaining": money_text(result.remaining),
        "projects": [
            {
                "rank": line.rank,
                "id": line.project.id,
                "title": line.project.title,
                "cost": money_text(line.project.cost),
                "votes": line.votes,
                "selected": line.selected,
                "proposalId": line.project.proposal_id,
            }
            for line in result.lines
        ],
    }


@dataclass(frozen=True)
class ResultsView:
    """A finished process's results, heading by heading."""

    budget: Budget
    headings: Sequence[HeadingResult] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """The results as the API shows them."""
        return {
            "budgetId": self.budget.id,
            "title": self.budget.title,
            "currency": self.budget.currency,
            "headings": [_heading_result_json(result) for result in self.headings],
        }


# -- polls -------------------------------------------------------------------------------------


def results_json(results: PollResults) -> dict[str, Any]:
    """A poll's results as the API shows them."""
    return {
        "voters": results.voters,
        "options": [
            {"index": o.index, "text": o.text, "votes": o.votes, "percent": o.percent} for o in results.options
        ],
    }


@dataclass(frozen=True)
class PollView:
    """A poll as one reader sees it: results only when its visibility allows."""

    poll: Poll
    status: PollStatus
    viewer: Viewer
    voters: int
    voted: bool = False  # whether the (signed-in) reader voted
    my_choices: tuple[int, ...] | None = None  # what they chose, in a poll's own page
    results: PollResults | None = None

    def to_json(self) -> dict[str, Any]:
        """The poll as the API shows it to this reader."""
        p = self.poll
        shown: dict[str, Any] = {
            "id": p.id,
            "question": p.question,
            "options": [{"index": i, "text": text} for i, text in enumerate(p.options)],
            "maxChoices": p.max_choices,
            "opensAt": p.opens_at,
            "closesAt": p.closes_at,
            "closedAt": p.closed_at,
            "status": self.status.value,
            "resultsVisibility": p.visibility.value,
            "voters": self.voters,
            "results": None if self.results is None else results_json(self.results),
        }
        if self.viewer.subject is not None:
            shown |= {"votedByMe": self.voted, "myChoices": self.my_choices}
        if self.viewer.staff:
            shown["staff"] = {"createdBy": p.created_by}
        return shown
