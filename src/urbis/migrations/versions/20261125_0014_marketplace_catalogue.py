"""marketplace catalogue

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""

    op.create_table(
        "marketplace_datasets",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("dataset_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("view", sa.Text(), nullable=False),
        sa.Column("licence", sa.String(length=32), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("themes", sa.Text(), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("spatial", sa.String(length=200), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("formats", sa.Text(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("issued", sa.DateTime(timezone=True), nullable=True),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "dataset_id", name=op.f("pk_marketplace_datasets")),
    )
    with op.batch_alter_table("marketplace_datasets", schema=None) as batch_op:
        batch_op.create_index("ix_marketplace_datasets_published", ["tenant", "published"], unique=False)


def downgrade() -> None:
    """Revert this revision."""

    with op.batch_alter_table("marketplace_datasets", schema=None) as batch_op:
        batch_op.drop_index("ix_marketplace_datasets_published")

    op.drop_table("marketplace_datasets")
