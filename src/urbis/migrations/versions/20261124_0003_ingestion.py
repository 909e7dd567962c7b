"""ingestion: devices, dead-letter store, device commands

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "devices",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("device_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=512), nullable=True),
        sa.Column("entity_type", sa.String(length=512), nullable=True),
        sa.Column("mapping", sa.Text(), nullable=False),
        sa.Column("gateway_id", sa.String(length=128), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("mqtt_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "device_id", name=op.f("pk_devices")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index("ix_devices_type", ["tenant", "device_type"], unique=False)
        batch_op.create_index("ix_devices_gateway", ["tenant", "gateway_id"], unique=False)
        batch_op.create_index("ix_devices_entity", ["tenant", "entity_id"], unique=False)

    op.create_table(
        "device_deadletters",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("deadletter_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("transport", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("rejections", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "deadletter_id", name=op.f("pk_device_deadletters")),
    )
    with op.batch_alter_table("device_deadletters", schema=None) as batch_op:
        batch_op.create_index("ix_device_deadletters_time", ["tenant", "received_at"], unique=False)
        batch_op.create_index("ix_device_deadletters_device", ["tenant", "device_id", "received_at"], unique=False)
        batch_op.create_index("ix_device_deadletters_received", ["received_at"], unique=False)

    op.create_table(
        "device_commands",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("command", sa.String(length=64), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "command_id", name=op.f("pk_device_commands")),
    )
    with op.batch_alter_table("device_commands", schema=None) as batch_op:
        batch_op.create_index("ix_device_commands_device", ["tenant", "device_id", "created_at"], unique=False)
        batch_op.create_index("ix_device_commands_open", ["status", "created_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("device_commands")
    op.drop_table("device_deadletters")
    op.drop_table("devices")
