"""What residents of the demo city are discussing: proposals, a participatory budget in its vote, a poll.

Seeded once per data folder, in-process before the server starts (like the demo accounts), so a
visitor of ``make demo`` finds something to support and vote on at once: one proposal a single
support short of its threshold (the demo citizen's support sends it to the council), a budget
for Bonn's four boroughs open for voting, and an open poll.  The demo's threshold is small (the
city sets its own with ``URBIS_PARTICIPATION_PROPOSAL_THRESHOLD``; Madrid's was unreachable).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from urbis.citizens.participation.budgets import BudgetPhase, check_budget, parse_headings
from urbis.citizens.participation.polls import ResultsVisibility
from urbis.citizens.participation.proposals import check_draft
from urbis.citizens.participation.service import ParticipationService
from urbis.citizens.participation.views import PUBLIC
from urbis.core.auth.service import AccountService
from urbis.core.clock import SystemClock
from urbis.core.db import Database
from urbis.core.errors import AlreadyExists
from urbis.core.settings import Settings
from urbis.sim.geography import BOROUGHS, slug

#: Residents who took part before the visitor arrived (they never log in: random passwords).
NEIGHBOURS = ("anna", "ben", "clara", "deniz")
#: The demo's proposals: title, text, supports already given.  The first is one short of the threshold.
DEMO_THRESHOLD = len(NEIGHBOURS) + 1
PROPOSALS = (
    (
        "Benches and shade along the Rhine promenade",
        "Older residents cannot walk the promenade without a rest. Put a bench every 200 m and plant trees for shade.",
        len(NEIGHBOURS),
    ),
    (
        "Dim the street lights later on Friday and Saturday nights",
        "Many people walk home late at weekends. Keep full light until 1:00 on those nights.",
        2,
    ),
    ("A safe cycle lane on the Kennedy bridge", "Separate cyclists from cars on the bridge with a kerb.", 1),
)
#: Each borough's projects: title, cost (EUR).
PROJECTS = (
    ("New playground equipment", 90_000),
    ("Drinking-water fountain in the square", 45_000),
    ("Trees for the school street", 70_000),
    ("Bicycle racks at the tram stops", 30_000),
)
BOROUGH_BUDGET = 200_000


def seed_participation(settings: Settings) -> bool:
    """Give the demo city its proposals, budget and poll (once); True when seeded now."""
    db = Database(settings.effective_database_url)
    try:
        tenant = settings.default_tenant
        demo = settings.model_copy(update={"participation_proposal_threshold": DEMO_THRESHOLD})
        service = ParticipationService(db, demo, clock=SystemClock())
        if service.list_proposals(tenant, PUBLIC)[1] or service.list_budgets(tenant, PUBLIC)[1]:
            return False
        accounts = AccountService(db, settings)
        for name in NEIGHBOURS:
            try:
                accounts.create_user(name, secrets.token_urlsafe(18), tenant=tenant, roles=["citizen"])
            except AlreadyExists:
                accounts.grant_role(name, tenant, "citizen")
        for number, (title, body, supports) in enumerate(PROPOSALS):
            author = NEIGHBOURS[number % len(NEIGHBOURS)]
            proposal = service.create_proposal(tenant, author, check_draft(title, body))
            for supporter in NEIGHBOURS[:supports]:
                service.support(tenant, proposal.proposal.id, supporter)
        headings = parse_headings(
            [
                {
                    "id": slug(borough),
                    "name": borough,
                    "amount": str(BOROUGH_BUDGET),
                    "rule": {"kind": "minimum-percent", "minimumPercent": "50"},
                }
                for borough in BOROUGHS
            ]
        )
        draft = check_budget(
            "Citizens' budget 2027",
            "Choose what your borough spends €200,000 on. Pick projects worth at least half of it.",
            "EUR",
            [heading.to_json() for heading in headings],
        )
        budget = service.create_budget(tenant, draft, by="admin")
        for heading in headings:
            for title, cost in PROJECTS:
                service.add_project(
                    tenant,
                    budget.budget.id,
                    heading_id=heading.id,
                    title=f"{title} ({heading.name})",
                    description=f"{title} in {heading.name}.",
                    cost=str(cost),
                    by="admin",
                )
        service.change_phase(tenant, budget.budget.id, BudgetPhase.VOTING, by="admin")
        now = SystemClock().now()
        service.create_poll(
            tenant,
            "Should the Christmas market keep its lights on until midnight?",
            ["Yes", "No", "Only at weekends"],
            max_choices=1,
            opens_at=None,
            closes_at=now + timedelta(days=14),
            visibility=ResultsVisibility.LIVE,
            by="admin",
        )
        return True
    finally:
        db.dispose()
