"""initial schema: tenants, entities, accounts

Revision ID: 0001
Revises:
Create Date: 2026-11-24 08:06:04.116682
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""

    op.create_table(
        "auth_organisations",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "name", name=op.f("pk_auth_organisations")),
    )
    op.create_table(
        "auth_users",
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_auth_users")),
    )
    op.create_table(
        "entities",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("modified_at", sa.String(length=32), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "entity_id", name=op.f("pk_entities")),
    )
    op.create_table(
        "entity_geo",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=512), nullable=False),
        sa.Column("attr_iri", sa.String(length=512), nullable=False),
        sa.Column("type_iri", sa.String(length=512), nullable=False),
        sa.Column("min_x", sa.Float(), nullable=False),
        sa.Column("min_y", sa.Float(), nullable=False),
        sa.Column("max_x", sa.Float(), nullable=False),
        sa.Column("max_y", sa.Float(), nullable=False),
        sa.Column("large", sa.Boolean(), nullable=False),
    )
    with op.batch_alter_table("entity_geo", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entity_geo_box", ["tenant", "attr_iri", "large", "min_x", "min_y", "type_iri"], unique=False
        )
        batch_op.create_index("ix_entity_geo_entity", ["tenant", "entity_id"], unique=False)

    op.create_table(
        "entity_types",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("type_iri", sa.String(length=512), nullable=False),
        sa.Column("entity_id", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "type_iri", "entity_id", name=op.f("pk_entity_types")),
    )
    op.create_table(
        "jsonld_contexts",
        sa.Column("local_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("local_id", name=op.f("pk_jsonld_contexts")),
    )
    op.create_table(
        "tenants",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tenants")),
    )
    op.create_table(
        "auth_clients",
        sa.Column("client_id", sa.String(length=150), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("organisation", sa.String(length=150), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant", "organisation"],
            ["auth_organisations.tenant", "auth_organisations.name"],
            name=op.f("fk_auth_clients_tenant_auth_organisations"),
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_auth_clients")),
    )
    with op.batch_alter_table("auth_clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_clients_tenant"), ["tenant"], unique=False)

    op.create_table(
        "auth_memberships",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"],
            ["auth_users.username"],
            name=op.f("fk_auth_memberships_username_auth_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "username", "role", name=op.f("pk_auth_memberships")),
    )
    with op.batch_alter_table("auth_memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_memberships_username"), ["username"], unique=False)

    op.create_table(
        "auth_organisation_members",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("organisation", sa.String(length=150), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant", "organisation"],
            ["auth_organisations.tenant", "auth_organisations.name"],
            name=op.f("fk_auth_organisation_members_tenant_auth_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["username"],
            ["auth_users.username"],
            name=op.f("fk_auth_organisation_members_username_auth_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "organisation", "username", name=op.f("pk_auth_organisation_members")),
    )
    with op.batch_alter_table("auth_organisation_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_organisation_members_username"), ["username"], unique=False)

    op.create_table(
        "auth_client_roles",
        sa.Column("client_id", sa.String(length=150), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["auth_clients.client_id"],
            name=op.f("fk_auth_client_roles_client_id_auth_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", "role", name=op.f("pk_auth_client_roles")),
    )


def downgrade() -> None:
    """Revert this revision."""

    op.drop_table("auth_client_roles")
    with op.batch_alter_table("auth_organisation_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_organisation_members_username"))

    op.drop_table("auth_organisation_members")
    with op.batch_alter_table("auth_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_memberships_username"))

    op.drop_table("auth_memberships")
    with op.batch_alter_table("auth_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_clients_tenant"))

    op.drop_table("auth_clients")
    op.drop_table("tenants")
    op.drop_table("jsonld_contexts")
    op.drop_table("entity_types")
    with op.batch_alter_table("entity_geo", schema=None) as batch_op:
        batch_op.drop_index("ix_entity_geo_entity")
        batch_op.drop_index("ix_entity_geo_box")

    op.drop_table("entity_geo")
    op.drop_table("entities")
    op.drop_table("auth_users")
    op.drop_table("auth_organisations")
