"""citizens: reports, categories, photos, personal data, flags, outbox, follows and feed

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""

    op.create_table(
        "citizen_api_keys",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "key_id", name=op.f("pk_citizen_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_citizen_api_keys_key_hash")),
    )
    op.create_table(
        "citizen_categories",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("group_name", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=150), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("object_types", sa.Text(), nullable=False),
        sa.Column("questions", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "code", name=op.f("pk_citizen_categories")),
    )
    op.create_table(
        "citizen_flags",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("flagger", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "kind", "item_id", "flagger", name=op.f("pk_citizen_flags")),
    )
    with op.batch_alter_table("citizen_flags", schema=None) as batch_op:
        batch_op.create_index("ix_citizen_flags_item", ["tenant", "kind", "item_id"], unique=False)

    op.create_table(
        "citizen_outbox",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("mail_id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "mail_id", name=op.f("pk_citizen_outbox")),
    )
    with op.batch_alter_table("citizen_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_citizen_outbox_pending", ["sent_at", "next_attempt_at"], unique=False)

    op.create_table(
        "citizen_photos",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("photo_id", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "photo_id", name=op.f("pk_citizen_photos")),
    )
    with op.batch_alter_table("citizen_photos", schema=None) as batch_op:
        batch_op.create_index("ix_citizen_photos_report", ["tenant", "report_id"], unique=False)

    op.create_table(
        "citizen_report_contacts",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("report_id", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=150), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("device_id", sa.String(length=200), nullable=True),
        sa.Column("device_lat", sa.Float(), nullable=True),
        sa.Column("device_long", sa.Float(), nullable=True),
        sa.Column("confirm_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "report_id", name=op.f("pk_citizen_report_contacts")),
    )
    with op.batch_alter_table("citizen_report_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_citizen_report_contacts_account"), ["account"], unique=False)
        batch_op.create_index(batch_op.f("ix_citizen_report_contacts_email"), ["email"], unique=False)

    op.create_table(
        "citizen_report_links",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("report_id", sa.String(length=32), nullable=False),
        sa.Column("ticket_kind", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant", "report_id", "ticket_kind", "ticket_id", name=op.f("pk_citizen_report_links")
        ),
    )
    with op.batch_alter_table("citizen_report_links", schema=None) as batch_op:
        batch_op.create_index("ix_citizen_report_links_ticket", ["tenant", "ticket_id"], unique=False)

    op.create_table(
        "citizen_report_updates",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("update_id", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("moderation", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=150), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "update_id", name=op.f("pk_citizen_report_updates")),
    )
    with op.batch_alter_table("citizen_report_updates", schema=None) as batch_op:
        batch_op.create_index("ix_citizen_report_updates_at", ["tenant", "at"], unique=False)
        batch_op.create_index("ix_citizen_report_updates_report", ["tenant", "report_id", "at"], unique=False)

    op.create_table(
        "citizen_reports",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("report_id", sa.String(length=32), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("service_name", sa.String(length=150), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("status_notes", sa.Text(), nullable=True),
        sa.Column("department", sa.String(length=150), nullable=True),
        sa.Column("district", sa.String(length=200), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("long", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("address_id", sa.String(length=100), nullable=True),
        sa.Column("zipcode", sa.String(length=20), nullable=True),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("moderation", sa.String(length=16), nullable=False),
        sa.Column("object_type", sa.String(length=100), nullable=True),
        sa.Column("object_id", sa.String(length=512), nullable=True),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("public_name", sa.String(length=100), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "report_id", name=op.f("pk_citizen_reports")),
        sa.UniqueConstraint("token", name=op.f("uq_citizen_reports_token")),
    )
    with op.batch_alter_table("citizen_reports", schema=None) as batch_op:
        batch_op.create_index("ix_citizen_reports_object", ["tenant", "object_id"], unique=False)
        batch_op.create_index("ix_citizen_reports_requested", ["tenant", "requested_at"], unique=False)
        batch_op.create_index("ix_citizen_reports_status", ["tenant", "status", "service_code"], unique=False)
        batch_op.create_index("ix_citizen_reports_updated", ["tenant", "updated_at"], unique=False)

    op.create_table(
        "citizen_routes",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.String(length=32), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=True),
        sa.Column("district", sa.String(length=200), nullable=True),
        sa.Column("department", sa.String(length=150), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "route_id", name=op.f("pk_citizen_routes")),
    )

    op.create_table(
        "citizen_follows",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("follow_id", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=150), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("long", sa.Float(), nullable=True),
        sa.Column("radius_m", sa.Float(), nullable=True),
        sa.Column("by_mail", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "follow_id", name=op.f("pk_citizen_follows")),
    )
    with op.batch_alter_table("citizen_follows", schema=None) as batch_op:
        batch_op.create_index("ix_citizen_follows_account", ["tenant", "account"], unique=False)
        batch_op.create_index("ix_citizen_follows_target", ["tenant", "kind", "target"], unique=False)

    op.create_table(
        "citizen_feed",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=150), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "entry_id", name=op.f("pk_citizen_feed")),
    )
    with op.batch_alter_table("citizen_feed", schema=None) as batch_op:
        batch_op.create_index("ix_citizen_feed_account", ["tenant", "account", "at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("citizen_feed", schema=None) as batch_op:
        batch_op.drop_index("ix_citizen_feed_account")
    op.drop_table("citizen_feed")
    with op.batch_alter_table("citizen_follows", schema=None) as batch_op:
        batch_op.drop_index("ix_citizen_follows_target")
        batch_op.drop_index("ix_citizen_follows_account")
    op.drop_table("citizen_follows")

    op.drop_table("citizen_routes")
    with op.batch_alter_table("citizen_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_citizen_reports_updated")
        batch_op.drop_index("ix_citizen_reports_status")
        batch_op.drop_index("ix_citizen_reports_requested")
        batch_op.drop_index("ix_citizen_reports_object")

    op.drop_table("citizen_reports")
    with op.batch_alter_table("citizen_report_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_citizen_report_updates_report")
        batch_op.drop_index("ix_citizen_report_updates_at")

    op.drop_table("citizen_report_updates")
    with op.batch_alter_table("citizen_report_links", schema=None) as batch_op:
        batch_op.drop_index("ix_citizen_report_links_ticket")

    op.drop_table("citizen_report_links")
    with op.batch_alter_table("citizen_report_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citizen_report_contacts_email"))
        batch_op.drop_index(batch_op.f("ix_citizen_report_contacts_account"))

    op.drop_table("citizen_report_contacts")
    with op.batch_alter_table("citizen_photos", schema=None) as batch_op:
        batch_op.drop_index("ix_citizen_photos_report")

    op.drop_table("citizen_photos")
    with op.batch_alter_table("citizen_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_citizen_outbox_pending")

    op.drop_table("citizen_outbox")
    with op.batch_alter_table("citizen_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_citizen_flags_item")

    op.drop_table("citizen_flags")
    op.drop_table("citizen_categories")
    op.drop_table("citizen_api_keys")
