"""operations: alarms and maintenance work orders

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _ticket_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("solution", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assignee", sa.String(length=128), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "alarms",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("alarm_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        *_ticket_columns(),
        sa.PrimaryKeyConstraint("tenant", "alarm_id", name=op.f("pk_alarms")),
    )
    op.create_index("ix_alarms_tenant_state_opened", "alarms", ["tenant", "state", "opened_at"])
    op.create_index("ix_alarms_tenant_source", "alarms", ["tenant", "source"])
    op.create_index(
        "uq_alarms_active_condition",
        "alarms",
        ["tenant", "solution", "kind", "source"],
        unique=True,
        sqlite_where=sa.text("state <> 'closed'"),
        postgresql_where=sa.text("state <> 'closed'"),
    )
    op.create_table(
        "work_orders",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("alarm_id", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        *_ticket_columns(),
        sa.PrimaryKeyConstraint("tenant", "order_id", name=op.f("pk_work_orders")),
    )
    op.create_index("ix_work_orders_tenant_state_opened", "work_orders", ["tenant", "state", "opened_at"])
    op.create_index("ix_work_orders_tenant_alarm", "work_orders", ["tenant", "alarm_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("work_orders")
    op.drop_table("alarms")
