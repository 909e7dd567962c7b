"""lighting: control programs, calendars, group calendars, overrides and the last command per lamp

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _documents(name: str, key: str) -> None:
    op.create_table(
        name,
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column(key, sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("tenant", key, name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    """Apply this revision."""
    _documents("lighting_programs", "program_id")
    _documents("lighting_calendars", "calendar_id")
    op.create_table(
        "lighting_group_calendars",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=512), nullable=False),
        sa.Column("calendar_id", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "group_id", name=op.f("pk_lighting_group_calendars")),
    )
    op.create_table(
        "lighting_overrides",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("override_id", sa.String(length=32), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "override_id", name=op.f("pk_lighting_overrides")),
    )
    op.create_index("ix_lighting_overrides_tenant_expires", "lighting_overrides", ["tenant", "expires_at"])
    op.create_table(
        "lighting_commands",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("lamp_id", sa.String(length=512), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("command_id", sa.String(length=32), nullable=True),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("commanded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feedback", sa.String(length=16), nullable=False),
        sa.Column("feedback_detail", sa.Text(), nullable=False),
        sa.Column("mismatch_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "lamp_id", name=op.f("pk_lighting_commands")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("lighting_commands")
    op.drop_index("ix_lighting_overrides_tenant_expires", table_name="lighting_overrides")
    op.drop_table("lighting_overrides")
    op.drop_table("lighting_group_calendars")
    op.drop_table("lighting_calendars")
    op.drop_table("lighting_programs")
