"""dashboard: snapshots of the headline figures, for their trends

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "dashboard_snapshots",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "taken_at", name=op.f("pk_dashboard_snapshots")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("dashboard_snapshots")
