"""The participation service: proposals, comments, moderation, budgets, ballots, polls.

Every call names its tenant.  Residents' actions take their subject (one person, one support,
one ballot, one vote: enforced by primary keys, so a second attempt is a 409 whatever the race);
staff actions take theirs too and go to the audit trail in the same transaction.  Reads take a
:class:`~urbis.citizens.participation.views.Viewer` and give back that reader's projection.
Events are published on the bus after the change is committed.  Permission checks are the
caller's (``web/participation.py``); this layer trusts the subject it is given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

from urbis.citizens import moderation as flags
from urbis.citizens.moderation import FlagReason, Moderation, after_flag, flag_reasons_of
from urbis.citizens.participation import store
from urbis.citizens.participation.budgets import (
    Ballot,
    Budget,
    BudgetDraft,
    BudgetPhase,
    Project,
    ballot_fingerprint,
    check_ballot,
    check_editable,
    check_phase_change,
    check_project,
    heading_results,
    is_fingerprint,
)
from urbis.citizens.participation.model import (
    BudgetPhaseChanged,
    ProposalAnswered,
    ProposalStateChanged,
    format_money,
    is_id,
)
from urbis.citizens.participation.polls import (
    Poll,
    PollStatus,
    ResultsVisibility,
    check_close,
    check_poll,
    check_vote,
    tally,
)
from urbis.citizens.participation.proposals import (
    Answer,
    AnswerStatus,
    Comment,
    ModerationRecord,
    Proposal,
    ProposalDraft,
    ProposalOrder,
    ProposalState,
    check_answer,
    check_collecting,
    check_comment,
    check_commentable,
    check_withdraw,
    hidden_by_flags,
    moderated,
    new_proposal,
    state_after_supports,
    visible_to,
)
from urbis.citizens.participation.store import COMMENT_KIND, PROPOSAL_KIND, ProposalFilter
from urbis.citizens.participation.views import (
    BallotView,
    BudgetView,
    CommentView,
    PollView,
    ProposalView,
    QueueItem,
    ReceiptView,
    ResultsView,
    Viewer,
    proposal_view,
    shows_turnout,
    shows_votes,
)
from urbis.core import audit
from urbis.core.bus import EventBus
from urbis.core.clock import Clock
from urbis.core.db import Database
from urbis.core.errors import BadRequestData, Conflict, NotFound
from urbis.core.settings import Settings


def new_id() -> str:
    """A short random URL-safe id."""
    return uuid.uuid4().hex[:12]


def _flagger(subject: str) -> str:
    # The shared flags table names accounts "user:<subject>" (anonymous flaggers are hashed IPs).
    return f"user:{subject}"


class ParticipationService:
    """Proposals, participatory budgets and polls of every tenant."""

    def __init__(self, db: Database, settings: Settings, *, clock: Clock, bus: EventBus | None = None) -> None:
        """Store in ``db``; thresholds, deadlines and moderation from ``settings``; time from ``clock``."""
        self.db = db
        self.clock = clock
        self.bus = bus
        self.proposal_threshold = settings.participation_proposal_threshold
        self.proposal_days = settings.participation_proposal_days
        self.moderation_default = Moderation(settings.citizen_moderation_default)
        self.flags_to_hide = settings.citizen_flags_to_hide
        self.default_currency = settings.parking_currency
        # Keys the pseudonyms of residents who erased their data (stable, so one person still votes once).
        self._pseudonym_key = settings.secret_key.encode()

    # -- a resident's own data ------------------------------------------------------------

    def personal_data(self, tenant: str, person: str) -> dict[str, list[dict[str, Any]]]:
        """What the resident proposed, commented, supported and voted (for them to download)."""
        with self.db.read() as conn:
            return store.personal_rows(conn, tenant, person)

    def erase_personal_data(self, tenant: str, person: str) -> None:
        """Unlink the resident from what they did: supports, ballots and votes still count, under a pseudonym.

        The pseudonym is a keyed hash of the name, so it is the same each time: a person who erased
        their data and comes back under the same name still has voted once.
        """
        with self.db.write() as conn:
            store.pseudonymise(conn, tenant, person, self._pseudonym(tenant, person))

    def _pseudonym(self, tenant: str, person: str) -> str:
        digest = hmac.new(self._pseudonym_key, f"{tenant}:{person}".encode(), hashlib.sha256).hexdigest()
        return f"erased-{digest[:40]}"

    def _publish(self, events: Sequence[object]) -> None:
        if self.bus is None:
            return
        for event in events:
            self.bus.publish(event)

    # -- proposals -----------------------------------------------------------------------------

    def _visible_proposal(
        self, conn: Connection, tenant: str, proposal_id: str, viewer: Viewer, *, lock: bool = False
    ) -> Proposal:
        proposal = store.get_proposal(conn, tenant, proposal_id, lock=lock) if is_id(proposal_id) else None
        if proposal is None or not visible_to(
            proposal.moderation.state, proposal.author, viewer.subject, staff=viewer.staff
        ):
            raise NotFound(f"there is no proposal {proposal_id!r:.70}")
        return proposal

    def create_proposal(self, tenant: str, author: str, draft: ProposalDraft) -> ProposalView:
        """Make a proposal; threshold and deadline come from the settings of today."""
        now = self.clock.now()
        proposal = new_proposal(
            new_id(),
            author,
            draft,
            created_at=now,
            threshold=self.proposal_threshold,
            days=self.proposal_days,
            moderation=self.moderation_default,
        )
        with self.db.write() as conn:
            store.insert_proposal(conn, tenant, proposal)
        return proposal_view(proposal, Viewer(author), now)

    def get_proposal(self, tenant: str, proposal_id: str, viewer: Viewer) -> ProposalView:
        """One proposal as ``viewer`` sees it (404 when hidden from them)."""
        now = self.clock.now()
        with self.db.read() as conn:
            proposal = self._visible_proposal(conn, tenant, proposal_id, viewer)
            supported = bool(viewer.subject and store.supported_by(conn, tenant, viewer.subject, [proposal_id]))
        return proposal_view(proposal, viewer, now, supported=supported)

    def list_proposals(
        self,
        tenant: str,
        viewer: Viewer,
        *,
        state: ProposalState | None = None,
        district: str | None = None,
        order: ProposalOrder = ProposalOrder.NEWEST,
        mine: bool = False,
        moderation: Moderation | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[ProposalView], int]:
        """A page of the proposals ``viewer`` may see, with their total; ``moderation`` filters for staff only."""
        now = self.clock.now()
        wanted = ProposalFilter(
            state=state,
            district=district,
            order=order,
            viewer=viewer.subject,
            staff=viewer.staff,
            mine=mine,
            moderation=moderation if viewer.staff else None,
            limit=limit,
            offset=offset,
        )
        with self.db.read() as conn:
            found, total = store.list_proposals(conn, tenant, wanted, now)
            supported = (
                store.supported_by(conn, tenant, viewer.subject, [p.id for p in found]) if viewer.subject else set()
            )
        return [proposal_view(p, viewer, now, supported=p.id in supported) for p in found], total

    def support(self, tenant: str, proposal_id: str, supporter: str) -> ProposalView:
        """Support a collecting proposal (409 the second time); it qualifies the moment it reaches its threshold."""
        return self._change_support(tenant, proposal_id, supporter, give=True)

    def unsupport(self, tenant: str, proposal_id: str, supporter: str) -> ProposalView:
        """Take a support back while the proposal still collects (409 when there is none)."""
        return self._change_support(tenant, proposal_id, supporter, give=False)

    def _change_support(self, tenant: str, proposal_id: str, supporter: str, *, give: bool) -> ProposalView:
        now = self.clock.now()
        events: list[object] = []
        viewer = Viewer(supporter)
        with self.db.write() as conn:
            # The row lock makes concurrent supports of one proposal count one after the other.
            proposal = self._visible_proposal(conn, tenant, proposal_id, viewer, lock=True)
            check_collecting(proposal, now)
            if give and (
                store.acted_before(conn, tenant, self._pseudonym(tenant, supporter), proposal_id=proposal_id)
                or not store.add_support(conn, tenant, proposal_id, supporter, now)
            ):
                raise Conflict("you already support this proposal")
            if not give and not store.remove_support(conn, tenant, proposal_id, supporter):
                raise Conflict("you do not support this proposal")
            count = store.count_supports(conn, tenant, proposal_id)
            state = state_after_supports(proposal, count)
            decided_at = now if state is ProposalState.QUALIFIED else None
            store.save_supports(conn, tenant, proposal_id, count, state, decided_at)
            if state is not proposal.state:
                events.append(ProposalStateChanged(tenant, proposal_id, state.value))
            proposal = dataclasses.replace(proposal, supports=count, state=state, decided_at=decided_at)
        self._publish(events)
        return proposal_view(proposal, viewer, now, supported=give)

    def withdraw(self, tenant: str, proposal_id: str, by: str) -> ProposalView:
        """The author withdraws their proposal while it collects."""
        now = self.clock.now()
        viewer = Viewer(by)
        with self.db.write() as conn:
            proposal = self._visible_proposal(conn, tenant, proposal_id, viewer, lock=True)
            check_withdraw(proposal, by, now)
            store.set_proposal_state(
                conn, tenant, proposal_id, ProposalState.WITHDRAWN, now, was=ProposalState.COLLECTING
            )
            supported = bool(store.supported_by(conn, tenant, by, [proposal_id]))
        self._publish([ProposalStateChanged(tenant, proposal_id, ProposalState.WITHDRAWN.value)])
        withdrawn = dataclasses.replace(proposal, state=ProposalState.WITHDRAWN, decided_at=now)
        return proposal_view(withdrawn, viewer, now, supported=supported)

    def close_expired(self, now: datetime | None = None, *, tenant: str | None = None) -> int:
        """Store the expiry of proposals past their deadline below threshold (a periodic job); how many.

        Without ``tenant`` every tenant's proposals are closed.
        """
        moment = now or self.clock.now()
        with self.db.write() as conn:
            expired = store.expire_due(conn, moment, tenant)
        self._publish([ProposalStateChanged(t, pid, ProposalState.EXPIRED.value) for t, pid in expired])
        return len(expired)

    def answer(
        self, tenant: str, proposal_id: str, status: AnswerStatus, reason: object, cost: object, *, by: str
    ) -> ProposalView:
        """Publish staff's official answer (a reason always, a cost optionally); audited."""
        now = self.clock.now()
        staff = Viewer(by, staff=True)
        with self.db.write() as conn:
            proposal = self._visible_proposal(conn, tenant, proposal_id, staff, lock=True)
            text, amount = check_answer(proposal, status, reason, cost)
            answer = Answer(status, text, amount, now, by)
            store.save_answer(conn, tenant, proposal_id, answer)
            audit.record(
                conn,
                tenant,
                actor=by,
                action="proposal.answer",
                target=f"proposal:{proposal_id}",
                at=now,
                detail={"status": status.value, "reason": text, "cost": None if amount is None else str(amount)},
            )
        self._publish([ProposalAnswered(tenant, proposal_id, status.value)])
        return proposal_view(dataclasses.replace(proposal, answer=answer), staff, now)

    def flag_proposal(self, tenant: str, proposal_id: str, flagger: str, reason: FlagReason) -> None:
        """A resident flags a proposal (once counts once); enough different flaggers hide it."""
        now = self.clock.now()
        with self.db.write() as conn:
            proposal = self._visible_proposal(conn, tenant, proposal_id, Viewer(flagger), lock=True)
            count = flags.add_flag(conn, tenant, PROPOSAL_KIND, proposal_id, _flagger(flagger), reason, now)
            if after_flag(proposal.moderation.state, count, self.flags_to_hide) is not proposal.moderation.state:
                store.save_proposal_moderation(conn, tenant, proposal_id, hidden_by_flags(count, now))

    def moderate_proposal(
        self, tenant: str, proposal_id: str, state: Moderation, reason: object, *, by: str
    ) -> ProposalView:
        """Staff make a proposal public (its flags are forgotten) or hide it (a reason required); audited."""
        now = self.clock.now()
        staff = Viewer(by, staff=True)
        with self.db.write() as conn:
            proposal = self._visible_proposal(conn, tenant, proposal_id, staff, lock=True)
            record = moderated(state, reason, by=by, at=now)
            self._moderate(conn, tenant, PROPOSAL_KIND, proposal_id, record)
            store.save_proposal_moderation(conn, tenant, proposal_id, record)
        return proposal_view(dataclasses.replace(proposal, moderation=record), staff, now)

    def _moderate(self, conn: Connection, tenant: str, kind: str, item_id: str, record: ModerationRecord) -> None:
        if record.state is Moderation.PUBLIC:
            # Judged and found fine: earlier flags no longer count towards hiding it again.
            flags.clear_flags(conn, tenant, kind, item_id)
        audit.record(
            conn,
            tenant,
            actor=record.by or "",
            action=f"{kind}.moderate",
            target=f"{kind}:{item_id}",
            at=record.at or self.clock.now(),
            detail={"state": record.state.value, "reason": record.reason},
        )

    # -- comments ------------------------------------------------------------------------------

    def add_comment(self, tenant: str, proposal_id: str, author: str, body: object, show_name: object) -> CommentView:
        """A resident comments on a proposal they can see (not a withdrawn one)."""
        now = self.clock.now()
        text, shows = check_comment(body, show_name)
        viewer = Viewer(author)
        with self.db.write() as conn:
            proposal = self._visible_proposal(conn, tenant, proposal_id, viewer)
            check_commentable(proposal)
            comment = Comment(
                new_id(), proposal_id, author, shows, text, now, ModerationRecord(self.moderation_default)
            )
            store.insert_comment(conn, tenant, comment)
        return CommentView(comment, viewer)

    def list_comments(
        self, tenant: str, proposal_id: str, viewer: Viewer, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[CommentView], int]:
        """A page of a proposal's comments ``viewer`` may see, oldest first, with their total."""
        with self.db.read() as conn:
            self._visible_proposal(conn, tenant, proposal_id, viewer)
            found, total = store.list_comments(
                conn, tenant, proposal_id, viewer=viewer.subject, staff=viewer.staff, limit=limit, offset=offset
            )
        return [CommentView(comment, viewer) for comment in found], total

    def _visible_comment(self, conn: Connection, tenant: str, comment_id: str, viewer: Viewer) -> Comment:
        comment = store.get_comment(conn, tenant, comment_id) if is_id(comment_id) else None
        if comment is None or not visible_to(
            comment.moderation.state, comment.author, viewer.subject, staff=viewer.staff
        ):
            raise NotFound(f"there is no comment {comment_id!r:.70}")
        return comment

    def flag_comment(self, tenant: str, comment_id: str, flagger: str, reason: FlagReason) -> None:
        """A resident flags a comment; enough different flaggers hide it."""
        now = self.clock.now()
        with self.db.write() as conn:
            comment = self._visible_comment(conn, tenant, comment_id, Viewer(flagger))
            count = flags.add_flag(conn, tenant, COMMENT_KIND, comment_id, _flagger(flagger), reason, now)
            if after_flag(comment.moderation.state, count, self.flags_to_hide) is not comment.moderation.state:
                store.save_comment_moderation(conn, tenant, comment_id, hidden_by_flags(count, now))

    def moderate_comment(
        self, tenant: str, comment_id: str, state: Moderation, reason: object, *, by: str
    ) -> CommentView:
        """Staff make a comment public or hide it (a reason required); audited."""
        now = self.clock.now()
        staff = Viewer(by, staff=True)
        with self.db.write() as conn:
            comment = self._visible_comment(conn, tenant, comment_id, staff)
            record = moderated(state, reason, by=by, at=now)
            self._moderate(conn, tenant, COMMENT_KIND, comment_id, record)
            store.save_comment_moderation(conn, tenant, comment_id, record)
        return CommentView(dataclasses.replace(comment, moderation=record), staff)

    def moderation_queue(self, tenant: str, *, limit: int = 100, offset: int = 0) -> tuple[list[QueueItem], int]:
        """Unmoderated and hidden proposals and comments, newest first, with their flag reasons (staff)."""
        with self.db.read() as conn:
            items, total = store.moderation_queue(conn, tenant, limit=limit, offset=offset)
            keys = [(PROPOSAL_KIND if isinstance(i, Proposal) else COMMENT_KIND, i.id) for i in items]
            reasons = flag_reasons_of(conn, tenant, keys)
        return [QueueItem(item, reasons.get(key, {})) for item, key in zip(items, keys, strict=True)], total

    # -- budgets -------------------------------------------------------------------------------

    def _budget(
        self,
        conn: Connection,
        tenant: str,
        budget_id: str,
        viewer: Viewer,
        *,
        lock: Literal["share", "update"] | None = None,
    ) -> Budget:
        budget = store.get_budget(conn, tenant, budget_id, lock=lock) if is_id(budget_id) else None
        # A process in drafting is staff's work in progress.
        if budget is None or (budget.phase is BudgetPhase.DRAFTING and not viewer.staff):
            raise NotFound(f"there is no budget {budget_id!r:.70}")
        return budget

    def _budget_view(self, conn: Connection, tenant: str, budget: Budget, viewer: Viewer) -> BudgetView:
        projects = store.list_projects(conn, tenant, budget.id)
        turnout = store.ballots_per_heading(conn, tenant, budget.id) if shows_turnout(budget.phase) else None
        votes = store.votes_per_project(conn, tenant, budget.id) if shows_votes(budget.phase) else None
        voted = None
        if viewer.subject is not None:
            voted = store.ballot_of(conn, tenant, budget.id, viewer.subject) is not None
        return BudgetView(budget, projects, turnout, votes, voted)

    def create_budget(self, tenant: str, draft: BudgetDraft, *, by: str) -> BudgetView:
        """Staff open a budget process in drafting; audited."""
        now = self.clock.now()
        budget = Budget(
            new_id(), draft.title, draft.description, draft.currency, BudgetPhase.DRAFTING, draft.headings, now, now
        )
        with self.db.write() as conn:
            store.insert_budget(conn, tenant, budget)
            audit.record(
                conn,
                tenant,
                actor=by,
                action="budget.create",
                target=f"budget:{budget.id}",
                at=now,
                detail={"title": budget.title, "headings": [h.to_json() for h in budget.headings]},
            )
        return BudgetView(budget)

    def edit_budget(self, tenant: str, budget_id: str, draft: BudgetDraft, *, by: str) -> BudgetView:
        """Staff change a process's text and headings before voting; a heading with projects stays; audited."""
        now = self.clock.now()
        staff = Viewer(by, staff=True)
        with self.db.write() as conn:
            budget = self._budget(conn, tenant, budget_id, staff, lock="update")
            check_editable(budget.phase)
            amounts = {heading.id: heading.amount for heading in draft.headings}
            for project in store.list_projects(conn, tenant, budget_id):
                if project.heading_id not in amounts:
                    raise Conflict(f"district {project.heading_id!r} still has projects; move or keep them first")
                if project.cost > amounts[project.heading_id]:
                    raise BadRequestData(
                        f"project {project.id!r} costs {format_money(project.cost)}, more than the new budget of "
                        f"district {project.heading_id!r} ({format_money(amounts[project.heading_id])})"
                    )
            store.update_budget(conn, tenant, budget_id, draft, now)
            audit.record(
                conn,
                tenant,
                actor=by,
                action="budget.edit",
                target=f"budget:{budget_id}",
                at=now,
                detail={"title": draft.title, "headings": [h.to_json() for h in draft.headings]},
            )
            edited = dataclasses.replace(
                budget,
                title=draft.title,
                description=draft.description,
                currency=draft.currency,
                headings=draft.headings,
                updated_at=now,
            )
            return self._budget_view(conn, tenant, edited, staff)

    def get_budget(self, tenant: str, budget_id: str, viewer: Viewer) -> BudgetView:
        """A process with its headings, projects and the progress its phase shows."""
        with self.db.read() as conn:
            budget = self._budget(conn, tenant, budget_id, viewer)
            return self._budget_view(conn, tenant, budget, viewer)

    def list_budgets(
        self, tenant: str, viewer: Viewer, *, phase: BudgetPhase | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[BudgetView], int]:
        """A page of processes, newest first (drafts only for staff), with their total."""
        with self.db.read() as conn:
            found, total = store.list_budgets(
                conn, tenant, phase=phase, include_drafts=viewer.staff, limit=limit, offset=offset
            )
        return [BudgetView(budget) for budget in found], total

    def change_phase(self, tenant: str, budget_id: str, phase: BudgetPhase, *, by: str) -> BudgetView:
        """Staff move a process forward (voting needs projects); audited, then announced."""
        now = self.clock.now()
        staff = Viewer(by, staff=True)
        with self.db.write() as conn:
            budget = self._budget(conn, tenant, budget_id, staff, lock="update")
            projects = store.list_projects(conn, tenant, budget_id)
            check_phase_change(budget.phase, phase, projects=len(projects))
            if not store.set_phase(conn, tenant, budget_id, phase, now, was=budget.phase):
                raise Conflict("the budget changed meanwhile; try again")
            audit.record(
                conn,
                tenant,
                actor=by,
                action="budget.phase",
                target=f"budget:{budget_id}",
                at=now,
                detail={"from": budget.phase.value, "to": phase.value},
            )
            view = self._budget_view(conn, tenant, dataclasses.replace(budget, phase=phase, updated_at=now), staff)
        self._publish([BudgetPhaseChanged(tenant, budget_id, phase.value)])
        return view

    def add_project(
        self,
        tenant: str,
        budget_id: str,
        *,
        heading_id: object,
        title: object,
        description: object,
        cost: object,
        proposal_id: object = None,
        by: str,
    ) -> Project:
        """Staff add a project to a heading before voting (optionally born from a proposal); audited."""
        now = self.clock.now()
        with self.db.write() as conn:
            budget = self._budget(conn, tenant, budget_id, Viewer(by, staff=True), lock="update")
            check_editable(budget.phase)
            draft = check_project(
                budget, heading_id=heading_id, title=title, description=description, cost=cost, proposal_id=proposal_id
            )
            self._check_proposal_link(conn, tenant, draft.proposal_id)
            project_id = new_id()
            store.insert_project(conn, tenant, budget_id, project_id, draft, now)
            audit.record(
                conn,
                tenant,
                actor=by,
                action="budget.project.create",
                target=f"budget:{budget_id}/project:{project_id}",
                at=now,
                detail={"title": draft.title, "heading": draft.heading_id, "cost": str(draft.cost)},
            )
        return Project(
            project_id, budget_id, draft.heading_id, draft.title, draft.description, draft.cost, draft.proposal_id
        )

    def edit_project(
        self,
        tenant: str,
        budget_id: str,
        project_id: str,
        *,
        heading_id: object,
        title: object,
        description: object,
        cost: object,
        proposal_id: object = None,
        by: str,
    ) -> Project:
        """Staff change a project before voting; audited."""
        now = self.clock.now()
        with self.db.write() as conn:
            budget = self._budget(conn, tenant, budget_id, Viewer(by, staff=True), lock="update")
            if not is_id(project_id) or store.get_project(conn, tenant, budget_id, project_id) is None:
                raise NotFound(f"this budget has no project {project_id!r:.70}")
            check_editable(budget.phase)
            draft = check_project(
                budget, heading_id=heading_id, title=title, description=description, cost=cost, proposal_id=proposal_id
            )
            self._check_proposal_link(conn, tenant, draft.proposal_id)
            store.update_project(conn, tenant, project_id, draft)
            audit.record(
                conn,
                tenant,
                actor=by,
                action="budget.project.edit",
                target=f"budget:{budget_id}/project:{project_id}",
                at=now,
                detail={"title": draft.title, "heading": draft.heading_id, "cost": str(draft.cost)},
            )
        return Project(
            project_id, budget_id, draft.heading_id, draft.title, draft.description, draft.cost, draft.proposal_id
        )

    @staticmethod
    def _check_proposal_link(conn: Connection, tenant: str, proposal_id: str | None) -> None:
        if proposal_id is not None and not store.proposal_exists(conn, tenant, proposal_id):
            raise BadRequestData(f"there is no proposal {proposal_id!r:.70} to link")

    def cast_ballot(
        self, tenant: str, budget_id: str, voter: str, heading_id: str, project_ids: Sequence[str]
    ) -> BallotView:
        """A resident's one ballot in the process, while voting, checked against the heading's rules.

        Confirmed at once and final: a second ballot is a 409.  The view carries the receipt.
        """
        now = self.clock.now()
        viewer = Viewer(voter)
        with self.db.write() as conn:
            # A shared lock: ballots go in side by side, but not while staff close voting.
            budget = self._budget(conn, tenant, budget_id, viewer, lock="share")
            if budget.phase is not BudgetPhase.VOTING:
                raise Conflict(f"this budget is not voting (it is in '{budget.phase.value}')")
            if store.ballot_of(conn, tenant, budget_id, voter) is not None or store.acted_before(
                conn, tenant, self._pseudonym(tenant, voter), budget_id=budget_id
            ):
                raise Conflict("you already cast a ballot in this budget; a confirmed ballot is final")
            heading = budget.heading(heading_id)
            projects = store.list_projects(conn, tenant, budget_id)
            by_id = {project.id: project for project in projects}
            for project_id in project_ids:
                if project_id not in by_id:
                    raise BadRequestData(f"this budget has no project {project_id!r:.70}")
            check_ballot(heading, [by_id[project_id] for project_id in project_ids])
            ballot_id = new_id()
            ballot = Ballot(
                ballot_id,
                budget_id,
                heading.id,
                tuple(sorted(project_ids)),
                ballot_fingerprint(budget_id, heading.id, project_ids, ballot_id),
                now,
            )
            if not store.insert_ballot(conn, tenant, ballot, voter):
                raise Conflict("you already cast a ballot in this budget; a confirmed ballot is final")
        return BallotView(ballot, budget, projects)

    def my_ballot(self, tenant: str, budget_id: str, voter: str) -> BallotView:
        """The ballot this voter cast, with its receipt (404 when they cast none)."""
        with self.db.read() as conn:
            budget = self._budget(conn, tenant, budget_id, Viewer(voter))
            ballot = store.ballot_of(conn, tenant, budget_id, voter)
            if ballot is None:
                raise NotFound("you have not cast a ballot in this budget")
            return BallotView(ballot, budget, store.list_projects(conn, tenant, budget_id))

    def verify_receipt(self, tenant: str, budget_id: str, fingerprint: str) -> ReceiptView:
        """Whether a ballot with this receipt was counted: yes or no, nothing more."""
        if not is_fingerprint(fingerprint):
            raise BadRequestData("a receipt is 64 lower-case hexadecimal digits")
        with self.db.read() as conn:
            self._budget(conn, tenant, budget_id, Viewer())
            counted = store.fingerprint_counted(conn, tenant, budget_id, fingerprint)
        return ReceiptView(budget_id, fingerprint, counted)

    def results(self, tenant: str, budget_id: str, viewer: Viewer) -> ResultsView:
        """A finished process's results: per heading, projects ranked by votes, funded while money lasts."""
        with self.db.read() as conn:
            budget = self._budget(conn, tenant, budget_id, viewer)
            if budget.phase is not BudgetPhase.FINISHED:
                raise Conflict("results are published once voting has finished")
            projects = store.list_projects(conn, tenant, budget_id)
            votes = store.votes_per_project(conn, tenant, budget_id)
            turnout = store.ballots_per_heading(conn, tenant, budget_id)
        return ResultsView(budget, [heading_results(h, projects, votes, turnout.get(h.id, 0)) for h in budget.headings])

    # -- polls ---------------------------------------------------------------------------------

    def _poll(self, conn: Connection, tenant: str, poll_id: str) -> Poll:
        poll = store.get_poll(conn, tenant, poll_id) if is_id(poll_id) else None
        if poll is None:
            raise NotFound(f"there is no poll {poll_id!r:.70}")
        return poll

    def _poll_view(self, conn: Connection, tenant: str, poll: Poll, viewer: Viewer, now: datetime) -> PollView:
        counts, voters = store.poll_counts(conn, tenant, poll.id)
        mine = None if viewer.subject is None else store.choices_of(conn, tenant, poll.id, viewer.subject)
        results = tally(poll, counts, voters) if poll.results_visible(now, staff=viewer.staff) else None
        return PollView(
            poll, poll.status_at(now), viewer, voters, voted=mine is not None, my_choices=mine, results=results
        )

    def create_poll(
        self,
        tenant: str,
        question: object,
        options: object,
        *,
        max_choices: object,
        opens_at: datetime | None,
        closes_at: datetime,
        visibility: ResultsVisibility,
        by: str,
    ) -> PollView:
        """Staff make a poll (opening now unless told); audited."""
        now = self.clock.now()
        draft = check_poll(
            question,
            options,
            max_choices=max_choices,
            opens_at=opens_at or now,
            closes_at=closes_at,
            visibility=visibility,
            now=now,
        )
        poll = Poll(
            new_id(),
            draft.question,
            draft.options,
            draft.max_choices,
            draft.opens_at,
            draft.closes_at,
            draft.visibility,
            now,
            by,
        )
        staff = Viewer(by, staff=True)
        with self.db.write() as conn:
            store.insert_poll(conn, tenant, poll)
            audit.record(
                conn,
                tenant,
                actor=by,
                action="poll.create",
                target=f"poll:{poll.id}",
                at=now,
                detail={"question": poll.question, "options": list(poll.options), "closesAt": poll.closes_at},
            )
            return self._poll_view(conn, tenant, poll, staff, now)

    def get_poll(self, tenant: str, poll_id: str, viewer: Viewer) -> PollView:
        """One poll; its results when its visibility allows."""
        now = self.clock.now()
        with self.db.read() as conn:
            return self._poll_view(conn, tenant, self._poll(conn, tenant, poll_id), viewer, now)

    def list_polls(
        self, tenant: str, viewer: Viewer, *, status: PollStatus | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[PollView], int]:
        """A page of polls, latest opening first (without results), with their total."""
        now = self.clock.now()
        with self.db.read() as conn:
            found, total = store.list_polls(conn, tenant, status=status, now=now, limit=limit, offset=offset)
            ids = [poll.id for poll in found]
            voters = store.voters_per_poll(conn, tenant, ids)
            voted = store.voted_in(conn, tenant, viewer.subject, ids) if viewer.subject else set()
        return [
            PollView(poll, poll.status_at(now), viewer, voters.get(poll.id, 0), voted=poll.id in voted)
            for poll in found
        ], total

    def vote(self, tenant: str, poll_id: str, voter: str, choices: object) -> PollView:
        """A resident's one vote in an open poll (409 the second time)."""
        now = self.clock.now()
        viewer = Viewer(voter)
        with self.db.write() as conn:
            poll = self._poll(conn, tenant, poll_id)
            chosen = check_vote(poll, choices, now)
            if store.acted_before(
                conn, tenant, self._pseudonym(tenant, voter), poll_id=poll_id
            ) or not store.insert_vote(conn, tenant, poll_id, voter, chosen, now):
                raise Conflict("you already voted in this poll")
            return self._poll_view(conn, tenant, poll, viewer, now)

    def close_poll(self, tenant: str, poll_id: str, *, by: str) -> PollView:
        """Staff close a poll before its planned end; audited."""
        now = self.clock.now()
        staff = Viewer(by, staff=True)
        with self.db.write() as conn:
            poll = self._poll(conn, tenant, poll_id)
            check_close(poll, now)
            store.close_poll(conn, tenant, poll_id, now)
            audit.record(conn, tenant, actor=by, action="poll.close", target=f"poll:{poll_id}", at=now, detail={})
            return self._poll_view(conn, tenant, dataclasses.replace(poll, closed_at=now), staff, now)

    def poll_results(self, tenant: str, poll_id: str, viewer: Viewer) -> PollView:
        """A poll with its results; 409 while its results are kept until it closes."""
        now = self.clock.now()
        with self.db.read() as conn:
            poll = self._poll(conn, tenant, poll_id)
            if not poll.results_visible(now, staff=viewer.staff):
                raise Conflict("this poll's results are published when it closes")
            return self._poll_view(conn, tenant, poll, viewer, now)
