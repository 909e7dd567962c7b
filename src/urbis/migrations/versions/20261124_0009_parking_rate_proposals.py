"""parking: price proposals that an operator approves or rejects

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "parking_rate_proposals",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("proposal_id", sa.String(length=32), nullable=False),
        sa.Column("zone_id", sa.String(length=512), nullable=False),
        sa.Column("time_band", sa.String(length=64), nullable=False),
        sa.Column("current_price", sa.String(length=16), nullable=False),
        sa.Column("proposed_price", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=256), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "proposal_id", name=op.f("pk_parking_rate_proposals")),
    )
    op.create_index("ix_parking_rate_proposals_tenant_proposed", "parking_rate_proposals", ["tenant", "proposed_at"])
    op.create_index(
        "ix_parking_rate_proposals_tenant_state_proposed",
        "parking_rate_proposals",
        ["tenant", "state", "proposed_at"],
    )
    op.create_index(
        "uq_parking_rate_proposals_pending",
        "parking_rate_proposals",
        ["tenant", "zone_id", "time_band"],
        unique=True,
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("uq_parking_rate_proposals_pending", table_name="parking_rate_proposals")
    op.drop_index("ix_parking_rate_proposals_tenant_state_proposed", table_name="parking_rate_proposals")
    op.drop_index("ix_parking_rate_proposals_tenant_proposed", table_name="parking_rate_proposals")
    op.drop_table("parking_rate_proposals")
