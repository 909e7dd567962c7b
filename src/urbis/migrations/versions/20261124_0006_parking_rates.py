"""parking: prices per zone and time band, the log of their changes, and parking sessions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "parking_rates",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("zone_id", sa.String(length=512), nullable=False),
        sa.Column("time_band", sa.String(length=64), nullable=False),
        sa.Column("price", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("last_change_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "zone_id", "time_band", name=op.f("pk_parking_rates")),
    )
    op.create_table(
        "parking_rate_log",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("change_id", sa.String(length=32), nullable=False),
        sa.Column("zone_id", sa.String(length=512), nullable=False),
        sa.Column("time_band", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "change_id", name=op.f("pk_parking_rate_log")),
    )
    op.create_index("ix_parking_rate_log_tenant_decided", "parking_rate_log", ["tenant", "decided_at"])
    op.create_index("ix_parking_rate_log_tenant_zone", "parking_rate_log", ["tenant", "zone_id"])
    op.create_table(
        "parking_sessions",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("zone_id", sa.String(length=512), nullable=False),
        sa.Column("bay_id", sa.String(length=512), nullable=True),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rights", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "session_id", name=op.f("pk_parking_sessions")),
    )
    op.create_index("ix_parking_sessions_tenant_ended", "parking_sessions", ["tenant", "ended_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("parking_sessions")
    op.drop_table("parking_rate_log")
    op.drop_table("parking_rates")
