"""history: attribute history series, instances and roll-ups

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "history_series",
        sa.Column("series_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=512), nullable=False),
        sa.Column("attr_iri", sa.String(length=512), nullable=False),
        sa.Column("dataset_id", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("series_id", name=op.f("pk_history_series")),
        sa.UniqueConstraint("tenant", "entity_id", "attr_iri", "dataset_id", name="uq_history_series_key"),
    )
    op.create_table(
        "history",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("observed_at", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "observed_at", name="pk_history"),
        postgresql_partition_by="RANGE (observed_at)",
    )
    if op.get_bind().dialect.name == "postgresql":
        # Device readings rewrite entity rows all day: room left in each page lets PostgreSQL
        # update them in place (HOT), without touching the indexes.
        op.execute("ALTER TABLE entities SET (fillfactor = 70)")
        # Month partitions are created on demand by the writer; the default one catches the rest.
        op.execute("CREATE TABLE history_pdefault PARTITION OF history DEFAULT")
    op.create_index("ix_history_recorded", "history", ["recorded_at"], postgresql_using="brin")
    op.create_table(
        "history_rollup",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("period_s", sa.Integer(), nullable=False),
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("sumsq", sa.Float(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "period_s", "bucket_start", name="pk_history_rollup"),
    )
    op.create_table(
        "history_watermark",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_history_watermark")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("history_watermark")
    op.drop_table("history_rollup")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE history CASCADE")
    else:
        op.drop_index("ix_history_recorded", table_name="history")
        op.drop_table("history")
    op.drop_table("history_series")
