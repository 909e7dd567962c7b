"""subscriptions: NGSI-LD subscriptions and their delivery status

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "subscriptions",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=512), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("modified_at", sa.String(length=32), nullable=False),
        sa.Column("times_sent", sa.BigInteger(), nullable=False),
        sa.Column("times_failed", sa.BigInteger(), nullable=False),
        sa.Column("last_notification", sa.String(length=32), nullable=True),
        sa.Column("last_success", sa.String(length=32), nullable=True),
        sa.Column("last_failure", sa.String(length=32), nullable=True),
        sa.Column("next_run_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "subscription_id", name=op.f("pk_subscriptions")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("subscriptions")
