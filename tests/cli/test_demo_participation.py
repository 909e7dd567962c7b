"""The demo city's participation: one support short of a threshold, a budget open for voting, an open poll."""

from __future__ import annotations

from pathlib import Path

import pytest

from urbis.citizens.participation.budgets import BudgetPhase
from urbis.citizens.participation.proposals import ProposalState
from urbis.citizens.participation.service import ParticipationService
from urbis.citizens.participation.views import PUBLIC
from urbis.cli.demo import seed_demo
from urbis.cli.demo_participation import BOROUGH_BUDGET, NEIGHBOURS, PROJECTS, seed_participation
from urbis.core.clock import SystemClock
from urbis.core.db import Database, migrate
from urbis.core.settings import Settings


@pytest.fixture
def demo_settings(tmp_path: Path, db_url: str, tenant: str) -> Settings:
    migrate(db_url)
    return Settings(data_dir=tmp_path, database_url=db_url, default_tenant=tenant, environment="test")


def test_the_demo_citizen_s_support_sends_the_first_proposal_to_the_council(demo_settings: Settings) -> None:
    seed_demo(demo_settings)
    assert seed_participation(demo_settings) is True
    assert seed_participation(demo_settings) is False  # once per city
    tenant = demo_settings.default_tenant
    db = Database(demo_settings.effective_database_url)
    try:
        service = ParticipationService(db, demo_settings, clock=SystemClock())
        proposals, total = service.list_proposals(tenant, PUBLIC)
        assert total == 3
        first = next(p for p in proposals if p.proposal.title.startswith("Benches"))
        assert (first.proposal.supports, first.proposal.threshold) == (len(NEIGHBOURS), len(NEIGHBOURS) + 1)
        assert first.state is ProposalState.COLLECTING
        after = service.support(tenant, first.proposal.id, "citizen")
        assert after.state is ProposalState.QUALIFIED
        budgets, _ = service.list_budgets(tenant, PUBLIC)
        (budget,) = budgets
        assert budget.budget.phase is BudgetPhase.VOTING
        assert [h.amount for h in budget.budget.headings] == [BOROUGH_BUDGET] * 4
        full = service.get_budget(tenant, budget.budget.id, PUBLIC)
        assert len(full.projects) == 4 * len(PROJECTS)
        polls, _ = service.list_polls(tenant, PUBLIC)
        assert len(polls) == 1
    finally:
        db.dispose()
