"""participation: proposals, supports, comments, budgets, projects, ballots, polls and votes

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "participation_proposals",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("proposal_id", sa.String(length=32), nullable=False),
        sa.Column("author", sa.String(length=256), nullable=False),
        sa.Column("show_name", sa.Boolean(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("supports", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moderation", sa.String(length=16), nullable=False),
        sa.Column("moderation_reason", sa.Text(), nullable=True),
        sa.Column("moderated_by", sa.String(length=256), nullable=True),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_status", sa.String(length=16), nullable=True),
        sa.Column("answer_reason", sa.Text(), nullable=True),
        sa.Column("answer_cost", sa.String(length=32), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "proposal_id", name=op.f("pk_participation_proposals")),
    )
    op.create_index(
        "ix_participation_proposals_tenant_moderation_created",
        "participation_proposals",
        ["tenant", "moderation", "created_at"],
    )
    op.create_index(
        "ix_participation_proposals_tenant_moderation_supports",
        "participation_proposals",
        ["tenant", "moderation", "supports"],
    )
    op.create_index(
        "ix_participation_proposals_tenant_state_deadline", "participation_proposals", ["tenant", "state", "deadline"]
    )
    op.create_index("ix_participation_proposals_tenant_author", "participation_proposals", ["tenant", "author"])

    op.create_table(
        "participation_supports",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("proposal_id", sa.String(length=32), nullable=False),
        sa.Column("supporter", sa.String(length=256), nullable=False),
        sa.Column("supported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "proposal_id", "supporter", name=op.f("pk_participation_supports")),
    )

    op.create_table(
        "participation_comments",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("comment_id", sa.String(length=32), nullable=False),
        sa.Column("proposal_id", sa.String(length=32), nullable=False),
        sa.Column("author", sa.String(length=256), nullable=False),
        sa.Column("show_name", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moderation", sa.String(length=16), nullable=False),
        sa.Column("moderation_reason", sa.Text(), nullable=True),
        sa.Column("moderated_by", sa.String(length=256), nullable=True),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "comment_id", name=op.f("pk_participation_comments")),
    )
    op.create_index(
        "ix_participation_comments_tenant_proposal_created",
        "participation_comments",
        ["tenant", "proposal_id", "created_at"],
    )
    op.create_index(
        "ix_participation_comments_tenant_moderation_created",
        "participation_comments",
        ["tenant", "moderation", "created_at"],
    )

    op.create_table(
        "participation_budgets",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("budget_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("headings", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "budget_id", name=op.f("pk_participation_budgets")),
    )
    op.create_index("ix_participation_budgets_tenant_created", "participation_budgets", ["tenant", "created_at"])

    op.create_table(
        "participation_projects",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("budget_id", sa.String(length=32), nullable=False),
        sa.Column("heading_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("cost", sa.String(length=32), nullable=False),
        sa.Column("proposal_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "project_id", name=op.f("pk_participation_projects")),
    )
    op.create_index("ix_participation_projects_tenant_budget", "participation_projects", ["tenant", "budget_id"])

    op.create_table(
        "participation_ballots",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("ballot_id", sa.String(length=32), nullable=False),
        sa.Column("budget_id", sa.String(length=32), nullable=False),
        sa.Column("voter", sa.String(length=256), nullable=False),
        sa.Column("heading_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "ballot_id", name=op.f("pk_participation_ballots")),
    )
    op.create_index(
        "uq_participation_ballots_voter", "participation_ballots", ["tenant", "budget_id", "voter"], unique=True
    )
    op.create_index(
        "ix_participation_ballots_tenant_budget_fingerprint",
        "participation_ballots",
        ["tenant", "budget_id", "fingerprint"],
    )
    op.create_index(
        "ix_participation_ballots_tenant_budget_heading", "participation_ballots", ["tenant", "budget_id", "heading_id"]
    )

    op.create_table(
        "participation_ballot_projects",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("ballot_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("budget_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "ballot_id", "project_id", name=op.f("pk_participation_ballot_projects")),
    )
    op.create_index(
        "ix_participation_ballot_projects_tenant_budget_project",
        "participation_ballot_projects",
        ["tenant", "budget_id", "project_id"],
    )

    op.create_table(
        "participation_polls",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("poll_id", sa.String(length=32), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("max_choices", sa.Integer(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "poll_id", name=op.f("pk_participation_polls")),
    )
    op.create_index("ix_participation_polls_tenant_opens", "participation_polls", ["tenant", "opens_at"])

    op.create_table(
        "participation_poll_votes",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("poll_id", sa.String(length=32), nullable=False),
        sa.Column("voter", sa.String(length=256), nullable=False),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "poll_id", "voter", name=op.f("pk_participation_poll_votes")),
    )

    op.create_table(
        "participation_poll_choices",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("poll_id", sa.String(length=32), nullable=False),
        sa.Column("voter", sa.String(length=256), nullable=False),
        sa.Column("choice", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "poll_id", "voter", "choice", name=op.f("pk_participation_poll_choices")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("participation_poll_choices")
    op.drop_table("participation_poll_votes")
    op.drop_index("ix_participation_polls_tenant_opens", table_name="participation_polls")
    op.drop_table("participation_polls")
    op.drop_index("ix_participation_ballot_projects_tenant_budget_project", table_name="participation_ballot_projects")
    op.drop_table("participation_ballot_projects")
    op.drop_index("ix_participation_ballots_tenant_budget_heading", table_name="participation_ballots")
    op.drop_index("ix_participation_ballots_tenant_budget_fingerprint", table_name="participation_ballots")
    op.drop_index("uq_participation_ballots_voter", table_name="participation_ballots")
    op.drop_table("participation_ballots")
    op.drop_index("ix_participation_projects_tenant_budget", table_name="participation_projects")
    op.drop_table("participation_projects")
    op.drop_index("ix_participation_budgets_tenant_created", table_name="participation_budgets")
    op.drop_table("participation_budgets")
    op.drop_index("ix_participation_comments_tenant_moderation_created", table_name="participation_comments")
    op.drop_index("ix_participation_comments_tenant_proposal_created", table_name="participation_comments")
    op.drop_table("participation_comments")
    op.drop_table("participation_supports")
    op.drop_index("ix_participation_proposals_tenant_author", table_name="participation_proposals")
    op.drop_index("ix_participation_proposals_tenant_state_deadline", table_name="participation_proposals")
    op.drop_index("ix_participation_proposals_tenant_moderation_supports", table_name="participation_proposals")
    op.drop_index("ix_participation_proposals_tenant_moderation_created", table_name="participation_proposals")
    op.drop_table("participation_proposals")
