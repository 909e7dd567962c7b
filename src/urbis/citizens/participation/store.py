"""Tables and queries of participation: proposals, supports, comments, budgets, ballots, polls, votes.

Who supported or voted is stored (one person, one vote) but only ever read back to answer
"did *this* person already?" and to count; no query here lists supporters or voters.
Money is stored as decimal strings, so amounts come back exactly on every backend.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from urbis.citizens.moderation import Moderation
from urbis.citizens.participation.budgets import (
    Ballot,
    Budget,
    BudgetDraft,
    BudgetPhase,
    Heading,
    Project,
    ProjectDraft,
    parse_rule,
)
from urbis.citizens.participation.model import Point, money_text
from urbis.citizens.participation.polls import Poll, PollStatus, ResultsVisibility
from urbis.citizens.participation.proposals import (
    Answer,
    AnswerStatus,
    Comment,
    ModerationRecord,
    Proposal,
    ProposalOrder,
    ProposalState,
)
from urbis.core.auth.tables import UTCDateTime
from urbis.core.db import metadata

#: Longest subject (username or client id) stored for an author, supporter, voter or staff member.
SUBJECT_LENGTH = 256
#: ``kind`` of proposals and of their comments in the shared flags table.
PROPOSAL_KIND = "proposal"
COMMENT_KIND = "proposal-comment"

# -- tables ------------------------------------------------------------------------------------

proposals = Table(
    "participation_proposals",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("proposal_id", String(32), primary_key=True),
    Column("author", String(SUBJECT_LENGTH), nullable=False),
    Column("show_name", Boolean, nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("district", String(64), nullable=True),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # Fixed when the proposal is made: later changes of the settings never move a running proposal's goal.
    Column("threshold", Integer, nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("supports", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("moderation", String(16), nullable=False),
    Column("moderation_reason", Text, nullable=True),
    Column("moderated_by", String(SUBJECT_LENGTH), nullable=True),
    Column("moderated_at", UTCDateTime(), nullable=True),
    Column("answer_status", String(16), nullable=True),
    Column("answer_reason", Text, nullable=True),
    Column("answer_cost", String(32), nullable=True),
    Column("answered_at", UTCDateTime(), nullable=True),
    Column("answered_by", String(SUBJECT_LENGTH), nullable=True),
    Index("ix_participation_proposals_tenant_moderation_created", "tenant", "moderation", "created_at"),
    Index("ix_participation_proposals_tenant_moderation_supports", "tenant", "moderation", "supports"),
    Index("ix_participation_proposals_tenant_state_deadline", "tenant", "state", "deadline"),
    Index("ix_participation_proposals_tenant_author", "tenant", "author"),
)

supports = Table(
    "participation_supports",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("proposal_id", String(32), primary_key=True),
    Column("supporter", String(SUBJECT_LENGTH), primary_key=True),
    Column("supported_at", UTCDateTime(), nullable=False),
)

comments = Table(
    "participation_comments",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("comment_id", String(32), primary_key=True),
    Column("proposal_id", String(32), nullable=False),
    Column("author", String(SUBJECT_LENGTH), nullable=False),
    Column("show_name", Boolean, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("moderation", String(16), nullable=False),
    Column("moderation_reason", Text, nullable=True),
    Column("moderated_by", String(SUBJECT_LENGTH), nullable=True),
    Column("moderated_at", UTCDateTime(), nullable=True),
    Index("ix_participation_comments_tenant_proposal_created", "tenant", "proposal_id", "created_at"),
    Index("ix_participation_comments_tenant_moderation_created", "tenant", "moderation", "created_at"),
)

budgets = Table(
    "participation_budgets",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("budget_id", String(32), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("headings", Text, nullable=False),  # JSON list of Heading.to_json()
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_participation_budgets_tenant_created", "tenant", "created_at"),
)

projects = Table(
    "participation_projects",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("project_id", String(32), primary_key=True),
    Column("budget_id", String(32), nullable=False),
    Column("heading_id", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("cost", String(32), nullable=False),
    Column("proposal_id", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_participation_projects_tenant_budget", "tenant", "budget_id"),
)

ballots = Table(
    "participation_ballots",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("ballot_id", String(32), primary_key=True),
    Column("budget_id", String(32), nullable=False),
    Column("voter", String(SUBJECT_LENGTH), nullable=False),
    Column("heading_id", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("cast_at", UTCDateTime(), nullable=False),
    # One ballot per person and process: the second insert fails, whatever the race.
    Index("uq_participation_ballots_voter", "tenant", "budget_id", "voter", unique=True),
    Index("ix_participation_ballots_tenant_budget_fingerprint", "tenant", "budget_id", "fingerprint"),
    Index("ix_participation_ballots_tenant_budget_heading", "tenant", "budget_id", "heading_id"),
)

ballot_projects = Table(
    "participation_ballot_projects",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("ballot_id", String(32), primary_key=True),
    Column("project_id", String(32), primary_key=True),
    Column("budget_id", String(32), nullable=False),
    Index("ix_participation_ballot_projects_tenant_budget_project", "tenant", "budget_id", "project_id"),
)

polls = Table(
    "participation_polls",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("poll_id", String(32), primary_key=True),
    Column("question", Text, nullable=False),
    Column("options", Text, nullable=False),  # JSON list of texts
    Column("max_choices", Integer, nullable=False),
    Column("opens_at", UTCDateTime(), nullable=False),
    Column("closes_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("visibility", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(SUBJECT_LENGTH), nullable=False),
    Index("ix_participation_polls_tenant_opens", "tenant", "opens_at"),
)

poll_votes = Table(
    "participation_poll_votes",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("poll_id", String(32), primary_key=True),
    Column("voter", String(SUBJECT_LENGTH), primary_key=True),
    Column("voted_at", UTCDateTime(), nullable=False),
)

poll_choices = Table(
    "participation_poll_choices",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("poll_id", String(32), primary_key=True),
    Column("voter", String(SUBJECT_LENGTH), primary_key=True),
    Column("choice", Integer, primary_key=True),
)


def _inserted(conn: Connection, statement: Any) -> bool:
    """Run an insert in a savepoint; False when a key already exists (the transaction goes on)."""
    try:
        with conn.begin_nested():
            conn.execute(statement)
    except IntegrityError:
        return False
    return True


# -- proposals ---------------------------------------------------------------------------------


def _moderation(row: Any) -> ModerationRecord:
    return ModerationRecord(Moderation(row.moderation), row.moderation_reason, row.moderated_by, row.moderated_at)


def _proposal(row: Any) -> Proposal:
    answer = None
    if row.answer_status is not None:
        answer = Answer(
            AnswerStatus(row.answer_status),
            row.answer_reason,
            None if row.answer_cost is None else Decimal(row.answer_cost),
            row.answered_at,
            row.answered_by,
        )
    return Proposal(
        id=row.proposal_id,
        author=row.author,
        title=row.title,
        body=row.body,
        district=row.district,
        point=None if row.lat is None else Point(row.lat, row.lon),
        show_name=row.show_name,
        created_at=row.created_at,
        threshold=row.threshold,
        deadline=row.deadline,
        supports=row.supports,
        state=ProposalState(row.state),
        decided_at=row.decided_at,
        moderation=_moderation(row),
        answer=answer,
    )


def insert_proposal(conn: Connection, tenant: str, proposal: Proposal) -> None:
    """Store a new proposal."""
    conn.execute(
        insert(proposals).values(
            tenant=tenant,
            proposal_id=proposal.id,
            author=proposal.author,
            show_name=proposal.show_name,
            title=proposal.title,
            body=proposal.body,
            district=proposal.district,
            lat=None if proposal.point is None else proposal.point.lat,
            lon=None if proposal.point is None else proposal.point.lon,
            created_at=proposal.created_at,
            threshold=proposal.threshold,
            deadline=proposal.deadline,
            supports=proposal.supports,
            state=proposal.state.value,
            decided_at=proposal.decided_at,
            moderation=proposal.moderation.state.value,
        )
    )


def get_proposal(conn: Connection, tenant: str, proposal_id: str, *, lock: bool = False) -> Proposal | None:
    """One proposal; ``lock`` holds its row until the transaction ends (PostgreSQL; SQLite has one writer)."""
    query = select(proposals).where(proposals.c.tenant == tenant, proposals.c.proposal_id == proposal_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else _proposal(row)


def proposal_exists(conn: Connection, tenant: str, proposal_id: str) -> bool:
    """Whether the tenant has a proposal by that id."""
    query = select(proposals.c.proposal_id).where(proposals.c.tenant == tenant, proposals.c.proposal_id == proposal_id)
    return conn.execute(query).first() is not None


@dataclass(frozen=True)
class ProposalFilter:
    """Which proposals a list shows; ``None`` fields do not filter.

    ``viewer`` and ``staff`` decide visibility: the public sees listed proposals, an author also
    their own, staff everything (``moderation`` then narrows it).
    """

    state: ProposalState | None = None
    district: str | None = None
    order: ProposalOrder = ProposalOrder.NEWEST
    viewer: str | None = None
    staff: bool = False
    mine: bool = False
    moderation: Moderation | None = None
    limit: int = 100
    offset: int = 0


def _state_condition(state: ProposalState, now: datetime) -> ColumnElement[bool]:
    # A proposal still marked collecting past its deadline has expired (decided lazily on read).
    collecting = proposals.c.state == ProposalState.COLLECTING.value
    if state is ProposalState.COLLECTING:
        return and_(collecting, proposals.c.deadline > now)
    if state is ProposalState.EXPIRED:
        return or_(proposals.c.state == state.value, and_(collecting, proposals.c.deadline <= now))
    return proposals.c.state == state.value


def list_proposals(conn: Connection, tenant: str, wanted: ProposalFilter, now: datetime) -> tuple[list[Proposal], int]:
    """A page of the proposals ``wanted`` names, with their total count."""
    conditions: list[ColumnElement[bool]] = [proposals.c.tenant == tenant]
    if not wanted.staff:
        listed = proposals.c.moderation == Moderation.PUBLIC.value
        conditions.append(listed if wanted.viewer is None else or_(listed, proposals.c.author == wanted.viewer))
    elif wanted.moderation is not None:
        conditions.append(proposals.c.moderation == wanted.moderation.value)
    if wanted.mine:
        conditions.append(proposals.c.author == (wanted.viewer or ""))
    if wanted.state is not None:
        conditions.append(_state_condition(wanted.state, now))
    if wanted.district is not None:
        conditions.append(proposals.c.district == wanted.district)
    total = conn.execute(select(func.count()).select_from(proposals).where(*conditions)).scalar_one()
    if wanted.order is ProposalOrder.SUPPORTS:
        order = [proposals.c.supports.desc(), proposals.c.created_at.desc(), proposals.c.proposal_id]
    else:
        order = [proposals.c.created_at.desc(), proposals.c.proposal_id]
    rows = conn.execute(
        select(proposals).where(*conditions).order_by(*order).limit(wanted.limit).offset(wanted.offset)
    ).all()
    return [_proposal(row) for row in rows], int(total)


def add_support(conn: Connection, tenant: str, proposal_id: str, supporter: str, at: datetime) -> bool:
    """Record a support; False when this person already supports the proposal."""
    statement = insert(supports).values(tenant=tenant, proposal_id=proposal_id, supporter=supporter, supported_at=at)
    return _inserted(conn, statement)


def remove_support(conn: Connection, tenant: str, proposal_id: str, supporter: str) -> bool:
    """Take a support back; False when this person did not support the proposal."""
    result = conn.execute(
        delete(supports).where(
            supports.c.tenant == tenant, supports.c.proposal_id == proposal_id, supports.c.supporter == supporter
        )
    )
    return bool(result.rowcount)


def count_supports(conn: Connection, tenant: str, proposal_id: str) -> int:
    """How many people support a proposal (counted, so the stored figure can never drift)."""
    query = select(func.count()).where(supports.c.tenant == tenant, supports.c.proposal_id == proposal_id)
    return int(conn.execute(query).scalar_one())


def supported_by(conn: Connection, tenant: str, supporter: str, proposal_ids: Collection[str]) -> set[str]:
    """Which of ``proposal_ids`` this one person supports (for their own view)."""
    if not proposal_ids:
        return set()
    query = select(supports.c.proposal_id).where(
        supports.c.tenant == tenant, supports.c.supporter == supporter, supports.c.proposal_id.in_(proposal_ids)
    )
    return set(conn.execute(query).scalars())


def save_supports(
    conn: Connection, tenant: str, proposal_id: str, count: int, state: ProposalState, decided_at: datetime | None
) -> None:
    """Store a proposal's support count and the state it leads to."""
    conn.execute(
        update(proposals)
        .where(proposals.c.tenant == tenant, proposals.c.proposal_id == proposal_id)
        .values(supports=count, state=state.value, decided_at=decided_at)
    )


def set_proposal_state(
    conn: Connection, tenant: str, proposal_id: str, state: ProposalState, at: datetime, *, was: ProposalState
) -> bool:
    """Move a proposal from state ``was`` to ``state``; False when it was no longer in ``was``."""
    result = conn.execute(
        update(proposals)
        .where(proposals.c.tenant == tenant, proposals.c.proposal_id == proposal_id, proposals.c.state == was.value)
        .values(state=state.value, decided_at=at)
    )
    return bool(result.rowcount)


def expire_due(conn: Connection, now: datetime, tenant: str | None = None) -> list[tuple[str, str]]:
    """Store the expiry of every proposal collecting past its deadline; the (tenant, id) of each."""
    conditions = [proposals.c.state == ProposalState.COLLECTING.value, proposals.c.deadline <= now]
    if tenant is not None:
        conditions.append(proposals.c.tenant == tenant)
    # Locked, so no support or withdrawal slips in between finding them and expiring them.
    due = conn.execute(select(proposals.c.tenant, proposals.c.proposal_id).where(*conditions).with_for_update()).all()
    if due:
        # The expiry happened at the deadline, whenever the job notices it.
        conn.execute(
            update(proposals)
            .where(*conditions)
            .values(state=ProposalState.EXPIRED.value, decided_at=proposals.c.deadline)
        )
    return [(row.tenant, row.proposal_id) for row in due]


def save_answer(conn: Connection, tenant: str, proposal_id: str, answer: Answer) -> None:
    """Publish an official answer on a proposal (replacing an earlier one)."""
    conn.execute(
        update(proposals)
        .where(proposals.c.tenant == tenant, proposals.c.proposal_id == proposal_id)
        .values(
            answer_status=answer.status.value,
            answer_reason=answer.reason,
            answer_cost=None if answer.cost is None else money_text(answer.cost),
            answered_at=answer.answered_at,
            answered_by=answer.answered_by,
        )
    )


def _moderation_values(record: ModerationRecord) -> dict[str, Any]:
    return {
        "moderation": record.state.value,
        "moderation_reason": record.reason,
        "moderated_by": record.by,
        "moderated_at": record.at,
    }


def save_proposal_moderation(conn: Connection, tenant: str, proposal_id: str, record: ModerationRecord) -> None:
    """Store a moderation decision on a proposal."""
    conn.execute(
        update(proposals)
        .where(proposals.c.tenant == tenant, proposals.c.proposal_id == proposal_id)
        .values(**_moderation_values(record))
    )


# -- comments ----------------------------------------------------------------------------------


def _comment(row: Any) -> Comment:
    return Comment(
        id=row.comment_id,
        proposal_id=row.proposal_id,
        author=row.author,
        show_name=row.show_name,
        body=row.body,
        created_at=row.created_at,
        moderation=_moderation(row),
    )


def insert_comment(conn: Connection, tenant: str, comment: Comment) -> None:
    """Store a new comment."""
    conn.execute(
        insert(comments).values(
            tenant=tenant,
            comment_id=comment.id,
            proposal_id=comment.proposal_id,
            author=comment.author,
            show_name=comment.show_name,
            body=comment.body,
            created_at=comment.created_at,
            **_moderation_values(comment.moderation),
        )
    )


def get_comment(conn: Connection, tenant: str, comment_id: str) -> Comment | None:
    """One comment."""
    row = conn.execute(select(comments).where(comments.c.tenant == tenant, comments.c.comment_id == comment_id)).first()
    return None if row is None else _comment(row)


def list_comments(
    conn: Connection,
    tenant: str,
    proposal_id: str,
    *,
    viewer: str | None,
    staff: bool,
    limit: int,
    offset: int,
) -> tuple[list[Comment], int]:
    """A page of a proposal's comments the reader may see, oldest first, with their total count."""
    conditions: list[ColumnElement[bool]] = [comments.c.tenant == tenant, comments.c.proposal_id == proposal_id]
    if not staff:
        listed = comments.c.moderation == Moderation.PUBLIC.value
        conditions.append(listed if viewer is None else or_(listed, comments.c.author == viewer))
    total = conn.execute(select(func.count()).select_from(comments).where(*conditions)).scalar_one()
    rows = conn.execute(
        select(comments)
        .where(*conditions)
        .order_by(comments.c.created_at, comments.c.comment_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [_comment(row) for row in rows], int(total)


def save_comment_moderation(conn: Connection, tenant: str, comment_id: str, record: ModerationRecord) -> None:
    """Store a moderation decision on a comment."""
    conn.execute(
        update(comments)
        .where(comments.c.tenant == tenant, comments.c.comment_id == comment_id)
        .values(**_moderation_values(record))
    )


# -- the moderation queue ----------------------------------------------------------------------

_AWAITING = (Moderation.UNMODERATED.value, Moderation.HIDDEN.value)


def moderation_queue(conn: Connection, tenant: str, *, limit: int, offset: int) -> tuple[list[Proposal | Comment], int]:
    """Unmoderated and hidden proposals and comments, newest first, with their total count."""
    wanted = limit + offset
    found_proposals = conn.execute(
        select(proposals)
        .where(proposals.c.tenant == tenant, proposals.c.moderation.in_(_AWAITING))
        .order_by(proposals.c.created_at.desc(), proposals.c.proposal_id)
        .limit(wanted)
    ).all()
    found_comments = conn.execute(
        select(comments)
        .where(comments.c.tenant == tenant, comments.c.moderation.in_(_AWAITING))
        .order_by(comments.c.created_at.desc(), comments.c.comment_id)
        .limit(wanted)
    ).all()
    items: list[Proposal | Comment] = [_proposal(row) for row in found_proposals]
    items += [_comment(row) for row in found_comments]
    items.sort(key=lambda item: (item.created_at, item.id), reverse=True)
    total = 0
    for table in (proposals, comments):
        query = (
            select(func.count()).select_from(table).where(table.c.tenant == tenant, table.c.moderation.in_(_AWAITING))
        )
        total += int(conn.execute(query).scalar_one())
    return items[offset : offset + limit], total


# -- budgets -----------------------------------------------------------------------------------


def _heading(document: dict[str, Any]) -> Heading:
    return Heading(document["id"], document["name"], Decimal(document["amount"]), parse_rule(document["rule"]))


def _budget(row: Any) -> Budget:
    return Budget(
        id=row.budget_id,
        title=row.title,
        description=row.description,
        currency=row.currency,
        phase=BudgetPhase(row.phase),
        headings=tuple(_heading(document) for document in orjson.loads(row.headings)),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _headings_json(headings: Sequence[Heading]) -> str:
    return orjson.dumps([heading.to_json() for heading in headings]).decode()


def insert_budget(conn: Connection, tenant: str, budget: Budget) -> None:
    """Store a new budget process."""
    conn.execute(
        insert(budgets).values(
            tenant=tenant,
            budget_id=budget.id,
            title=budget.title,
            description=budget.description,
            currency=budget.currency,
            phase=budget.phase.value,
            headings=_headings_json(budget.headings),
            created_at=budget.created_at,
            updated_at=budget.updated_at,
        )
    )


def get_budget(
    conn: Connection, tenant: str, budget_id: str, *, lock: Literal["share", "update"] | None = None
) -> Budget | None:
    """One budget process, its row locked until the transaction ends when asked (PostgreSQL).

    Ballots take a ``share`` lock (they may be cast side by side), phase changes an ``update`` lock,
    so no ballot is counted after voting closed.
    """
    query = select(budgets).where(budgets.c.tenant == tenant, budgets.c.budget_id == budget_id)
    if lock is not None:
        query = query.with_for_update(read=lock == "share")
    row = conn.execute(query).first()
    return None if row is None else _budget(row)


def list_budgets(
    conn: Connection, tenant: str, *, phase: BudgetPhase | None, include_drafts: bool, limit: int, offset: int
) -> tuple[list[Budget], int]:
    """A page of budget processes, newest first, with their total count (drafts only if asked)."""
    conditions: list[ColumnElement[bool]] = [budgets.c.tenant == tenant]
    if not include_drafts:
        conditions.append(budgets.c.phase != BudgetPhase.DRAFTING.value)
    if phase is not None:
        conditions.append(budgets.c.phase == phase.value)
    total = conn.execute(select(func.count()).select_from(budgets).where(*conditions)).scalar_one()
    rows = conn.execute(
        select(budgets)
        .where(*conditions)
        .order_by(budgets.c.created_at.desc(), budgets.c.budget_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [_budget(row) for row in rows], int(total)


def update_budget(conn: Connection, tenant: str, budget_id: str, draft: BudgetDraft, at: datetime) -> None:
    """Store new text, currency and headings of a process."""
    conn.execute(
        update(budgets)
        .where(budgets.c.tenant == tenant, budgets.c.budget_id == budget_id)
        .values(
            title=draft.title,
            description=draft.description,
            currency=draft.currency,
            headings=_headings_json(draft.headings),
            updated_at=at,
        )
    )


def set_phase(
    conn: Connection, tenant: str, budget_id: str, phase: BudgetPhase, at: datetime, *, was: BudgetPhase
) -> bool:
    """Move a process from phase ``was`` to ``phase``; False when it was no longer in ``was``."""
    result = conn.execute(
        update(budgets)
        .where(budgets.c.tenant == tenant, budgets.c.budget_id == budget_id, budgets.c.phase == was.value)
        .values(phase=phase.value, updated_at=at)
    )
    return bool(result.rowcount)


def _project(row: Any) -> Project:
    return Project(
        id=row.project_id,
        budget_id=row.budget_id,
        heading_id=row.heading_id,
        title=row.title,
        description=row.description,
        cost=Decimal(row.cost),
        proposal_id=row.proposal_id,
    )


def _project_values(draft: ProjectDraft) -> dict[str, Any]:
    return {
        "heading_id": draft.heading_id,
        "title": draft.title,
        "description": draft.description,
        "cost": money_text(draft.cost),
        "proposal_id": draft.proposal_id,
    }


def insert_project(
    conn: Connection, tenant: str, budget_id: str, project_id: str, draft: ProjectDraft, at: datetime
) -> None:
    """Store a new project of a process."""
    conn.execute(
        insert(projects).values(
            tenant=tenant, project_id=project_id, budget_id=budget_id, created_at=at, **_project_values(draft)
        )
    )


def update_project(conn: Connection, tenant: str, project_id: str, draft: ProjectDraft) -> None:
    """Store a project's new text, heading, cost and proposal."""
    conn.execute(
        update(projects)
        .where(projects.c.tenant == tenant, projects.c.project_id == project_id)
        .values(**_project_values(draft))
    )


def get_project(conn: Connection, tenant: str, budget_id: str, project_id: str) -> Project | None:
    """One project of a process."""
    row = conn.execute(
        select(projects).where(
            projects.c.tenant == tenant, projects.c.budget_id == budget_id, projects.c.project_id == project_id
        )
    ).first()
    return None if row is None else _project(row)


def list_projects(conn: Connection, tenant: str, budget_id: str) -> list[Project]:
    """Every project of a process, in the order they were added."""
    rows = conn.execute(
        select(projects)
        .where(projects.c.tenant == tenant, projects.c.budget_id == budget_id)
        .order_by(projects.c.created_at, projects.c.project_id)
    ).all()
    return [_project(row) for row in rows]


def insert_ballot(conn: Connection, tenant: str, ballot: Ballot, voter: str) -> bool:
    """Store a confirmed ballot and its projects; False when this person already cast one in the process."""
    stored = _inserted(
        conn,
        insert(ballots).values(
            tenant=tenant,
            ballot_id=ballot.id,
            budget_id=ballot.budget_id,
            voter=voter,
            heading_id=ballot.heading_id,
            fingerprint=ballot.fingerprint,
            cast_at=ballot.cast_at,
        ),
    )
    if stored:
        conn.execute(
            insert(ballot_projects),
            [
                {"tenant": tenant, "ballot_id": ballot.id, "project_id": project_id, "budget_id": ballot.budget_id}
                for project_id in ballot.project_ids
            ],
        )
    return stored


def ballot_of(conn: Connection, tenant: str, budget_id: str, voter: str) -> Ballot | None:
    """The ballot this one person cast in a process, if any."""
    row = conn.execute(
        select(ballots).where(ballots.c.tenant == tenant, ballots.c.budget_id == budget_id, ballots.c.voter == voter)
    ).first()
    if row is None:
        return None
    chosen = conn.execute(
        select(ballot_projects.c.project_id)
        .where(ballot_projects.c.tenant == tenant, ballot_projects.c.ballot_id == row.ballot_id)
        .order_by(ballot_projects.c.project_id)
    ).scalars()
    return Ballot(row.ballot_id, row.budget_id, row.heading_id, tuple(chosen), row.fingerprint, row.cast_at)


def fingerprint_counted(conn: Connection, tenant: str, budget_id: str, fingerprint: str) -> bool:
    """Whether a ballot with this receipt was counted in the process."""
    query = select(ballots.c.ballot_id).where(
        ballots.c.tenant == tenant, ballots.c.budget_id == budget_id, ballots.c.fingerprint == fingerprint
    )
    return conn.execute(query).first() is not None


def ballots_per_heading(conn: Connection, tenant: str, budget_id: str) -> dict[str, int]:
    """How many ballots were cast in each heading of a process (turnout)."""
    query = (
        select(ballots.c.heading_id, func.count())
        .where(ballots.c.tenant == tenant, ballots.c.budget_id == budget_id)
        .group_by(ballots.c.heading_id)
    )
    return {heading_id: int(count) for heading_id, count in conn.execute(query).all()}


def votes_per_project(conn: Connection, tenant: str, budget_id: str) -> dict[str, int]:
    """How many ballots chose each project of a process."""
    query = (
        select(ballot_projects.c.project_id, func.count())
        .where(ballot_projects.c.tenant == tenant, ballot_projects.c.budget_id == budget_id)
        .group_by(ballot_projects.c.project_id)
    )
    return {project_id: int(count) for project_id, count in conn.execute(query).all()}


# -- polls -------------------------------------------------------------------------------------


def _poll(row: Any) -> Poll:
    return Poll(
        id=row.poll_id,
        question=row.question,
        options=tuple(orjson.loads(row.options)),
        max_choices=row.max_choices,
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        visibility=ResultsVisibility(row.visibility),
        created_at=row.created_at,
        created_by=row.created_by,
        closed_at=row.closed_at,
    )


def insert_poll(conn: Connection, tenant: str, poll: Poll) -> None:
    """Store a new poll."""
    conn.execute(
        insert(polls).values(
            tenant=tenant,
            poll_id=poll.id,
            question=poll.question,
            options=orjson.dumps(list(poll.options)).decode(),
            max_choices=poll.max_choices,
            opens_at=poll.opens_at,
            closes_at=poll.closes_at,
            closed_at=poll.closed_at,
            visibility=poll.visibility.value,
            created_at=poll.created_at,
            created_by=poll.created_by,
        )
    )


def get_poll(conn: Connection, tenant: str, poll_id: str) -> Poll | None:
    """One poll."""
    row = conn.execute(select(polls).where(polls.c.tenant == tenant, polls.c.poll_id == poll_id)).first()
    return None if row is None else _poll(row)


def _status_condition(status: PollStatus, now: datetime) -> ColumnElement[bool]:
    ended = or_(polls.c.closes_at <= now, and_(polls.c.closed_at.is_not(None), polls.c.closed_at <= now))
    if status is PollStatus.CLOSED:
        return ended
    if status is PollStatus.UPCOMING:
        return and_(polls.c.opens_at > now, ~ended)
    return and_(polls.c.opens_at <= now, ~ended)


def list_polls(
    conn: Connection, tenant: str, *, status: PollStatus | None, now: datetime, limit: int, offset: int
) -> tuple[list[Poll], int]:
    """A page of polls, latest opening first, with their total count."""
    conditions: list[ColumnElement[bool]] = [polls.c.tenant == tenant]
    if status is not None:
        conditions.append(_status_condition(status, now))
    total = conn.execute(select(func.count()).select_from(polls).where(*conditions)).scalar_one()
    rows = conn.execute(
        select(polls).where(*conditions).order_by(polls.c.opens_at.desc(), polls.c.poll_id).limit(limit).offset(offset)
    ).all()
    return [_poll(row) for row in rows], int(total)


def close_poll(conn: Connection, tenant: str, poll_id: str, at: datetime) -> None:
    """Close a poll early."""
    conn.execute(update(polls).where(polls.c.tenant == tenant, polls.c.poll_id == poll_id).values(closed_at=at))


def insert_vote(conn: Connection, tenant: str, poll_id: str, voter: str, choices: Sequence[int], at: datetime) -> bool:
    """Store a vote; False when this person already voted in the poll."""
    stored = _inserted(conn, insert(poll_votes).values(tenant=tenant, poll_id=poll_id, voter=voter, voted_at=at))
    if stored:
        conn.execute(
            insert(poll_choices),
            [{"tenant": tenant, "poll_id": poll_id, "voter": voter, "choice": choice} for choice in choices],
        )
    return stored


def choices_of(conn: Connection, tenant: str, poll_id: str, voter: str) -> tuple[int, ...] | None:
    """What this one person chose in a poll; None when they did not vote."""
    voted = conn.execute(
        select(poll_votes.c.voter).where(
            poll_votes.c.tenant == tenant, poll_votes.c.poll_id == poll_id, poll_votes.c.voter == voter
        )
    ).first()
    if voted is None:
        return None
    rows = conn.execute(
        select(poll_choices.c.choice)
        .where(poll_choices.c.tenant == tenant, poll_choices.c.poll_id == poll_id, poll_choices.c.voter == voter)
        .order_by(poll_choices.c.choice)
    ).scalars()
    return tuple(rows)


def voted_in(conn: Connection, tenant: str, voter: str, poll_ids: Collection[str]) -> set[str]:
    """Which of ``poll_ids`` this one person voted in."""
    if not poll_ids:
        return set()
    query = select(poll_votes.c.poll_id).where(
        poll_votes.c.tenant == tenant, poll_votes.c.voter == voter, poll_votes.c.poll_id.in_(poll_ids)
    )
    return set(conn.execute(query).scalars())


def voters_per_poll(conn: Connection, tenant: str, poll_ids: Collection[str]) -> dict[str, int]:
    """How many people voted in each of ``poll_ids``."""
    if not poll_ids:
        return {}
    query = (
        select(poll_votes.c.poll_id, func.count())
        .where(poll_votes.c.tenant == tenant, poll_votes.c.poll_id.in_(poll_ids))
        .group_by(poll_votes.c.poll_id)
    )
    return {poll_id: int(count) for poll_id, count in conn.execute(query).all()}


def poll_counts(conn: Connection, tenant: str, poll_id: str) -> tuple[dict[int, int], int]:
    """Votes per option number, and the number of voters."""
    query = (
        select(poll_choices.c.choice, func.count())
        .where(poll_choices.c.tenant == tenant, poll_choices.c.poll_id == poll_id)
        .group_by(poll_choices.c.choice)
    )
    counts = {int(choice): int(count) for choice, count in conn.execute(query).all()}
    voters = conn.execute(
        select(func.count()).where(poll_votes.c.tenant == tenant, poll_votes.c.poll_id == poll_id)
    ).scalar_one()
    return counts, int(voters)


# -- a person's own data ---------------------------------------------------------------------


def personal_rows(conn: Connection, tenant: str, person: str) -> dict[str, list[dict[str, Any]]]:
    """Everything the participation tables link to ``person``: what they wrote, supported and voted."""
    p, c, s, b, v = proposals.c, comments.c, supports.c, ballots.c, poll_votes.c
    return {
        "proposals": [
            {"id": row.proposal_id, "title": row.title, "createdAt": row.created_at, "showName": row.show_name}
            for row in conn.execute(
                select(p.proposal_id, p.title, p.created_at, p.show_name).where(p.tenant == tenant, p.author == person)
            )
        ],
        "comments": [
            {"id": row.comment_id, "proposal": row.proposal_id, "text": row.body, "createdAt": row.created_at}
            for row in conn.execute(
                select(c.comment_id, c.proposal_id, c.body, c.created_at).where(c.tenant == tenant, c.author == person)
            )
        ],
        "supports": [
            {"proposal": row.proposal_id, "at": row.supported_at}
            for row in conn.execute(
                select(s.proposal_id, s.supported_at).where(s.tenant == tenant, s.supporter == person)
            )
        ],
        "ballots": [
            {"budget": row.budget_id, "ballot": row.ballot_id, "receipt": row.fingerprint, "at": row.cast_at}
            for row in conn.execute(
                select(b.budget_id, b.ballot_id, b.fingerprint, b.cast_at).where(b.tenant == tenant, b.voter == person)
            )
        ],
        "pollVotes": [
            {"poll": row.poll_id, "at": row.voted_at}
            for row in conn.execute(select(v.poll_id, v.voted_at).where(v.tenant == tenant, v.voter == person))
        ],
    }


def pseudonymise(conn: Connection, tenant: str, person: str, pseudonym: str) -> None:
    """Replace ``person`` by ``pseudonym`` everywhere: what they did still counts, but no longer names them."""
    conn.execute(
        update(proposals)
        .where(proposals.c.tenant == tenant, proposals.c.author == person)
        .values(author=pseudonym, show_name=False)
    )
    conn.execute(
        update(comments)
        .where(comments.c.tenant == tenant, comments.c.author == person)
        .values(author=pseudonym, show_name=False)
    )
    for table, column in (
        (supports, supports.c.supporter),
        (ballots, ballots.c.voter),
        (poll_votes, poll_votes.c.voter),
        (poll_choices, poll_choices.c.voter),
    ):
        conn.execute(update(table).where(table.c.tenant == tenant, column == person).values({column.name: pseudonym}))


def acted_before(
    conn: Connection,
    tenant: str,
    pseudonym: str,
    *,
    proposal_id: str | None = None,
    budget_id: str | None = None,
    poll_id: str | None = None,
) -> bool:
    """Whether the person behind ``pseudonym`` (who erased their data) already supported, cast or voted there."""
    if proposal_id is not None:
        query: Any = select(supports.c.proposal_id).where(
            supports.c.tenant == tenant, supports.c.proposal_id == proposal_id, supports.c.supporter == pseudonym
        )
    elif budget_id is not None:
        query = select(ballots.c.ballot_id).where(
            ballots.c.tenant == tenant, ballots.c.budget_id == budget_id, ballots.c.voter == pseudonym
        )
    elif poll_id is not None:
        query = select(poll_votes.c.poll_id).where(
            poll_votes.c.tenant == tenant, poll_votes.c.poll_id == poll_id, poll_votes.c.voter == pseudonym
        )
    else:
        return False
    return conn.execute(query.limit(1)).first() is not None
