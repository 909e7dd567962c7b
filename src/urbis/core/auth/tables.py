"""Tables of accounts, roles, organisations and OAuth2 clients (SQLAlchemy Core).

Usernames and client ids are unique across the whole platform (one login
works for every city the user has roles in, and the token endpoint finds a
client without being told its tenant).  Everything that belongs to a city —
role memberships, organisations and their members — has the tenant in its key.
Every table is prefixed ``auth_`` so its names never clash with other modules'.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, ForeignKey, ForeignKeyConstraint, String, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from urbis.core.db import metadata

NAME_LENGTH = 150
TENANT_LENGTH = 64
ROLE_LENGTH = 32


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite has no time zones and gives naive values back; they are stored as UTC
    and read back as UTC, so callers never see a naive datetime.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC (naive on SQLite, which cannot keep the zone)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Hand back an aware UTC datetime whatever the backend returned."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


users = Table(
    "auth_users",
    metadata,
    Column("username", String(NAME_LENGTH), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("email", String(320)),
    Column("full_name", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
)

#: Which user holds which role in which tenant; tenant ``*`` is the platform.
memberships = Table(
    "auth_memberships",
    metadata,
    Column("tenant", String(TENANT_LENGTH), primary_key=True),
    Column(
        "username",
        String(NAME_LENGTH),
        ForeignKey(users.c.username, ondelete="CASCADE"),
        primary_key=True,
        index=True,  # login looks roles up by user across tenants
    ),
    Column("role", String(ROLE_LENGTH), primary_key=True),
)

organisations = Table(
    "auth_organisations",
    metadata,
    Column("tenant", String(TENANT_LENGTH), primary_key=True),
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("kind", String(ROLE_LENGTH), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

organisation_members = Table(
    "auth_organisation_members",
    metadata,
    Column("tenant", String(TENANT_LENGTH), primary_key=True),
    Column("organisation", String(NAME_LENGTH), primary_key=True),
    Column(
        "username",
        String(NAME_LENGTH),
        ForeignKey(users.c.username, ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    ForeignKeyConstraint(
        ["tenant", "organisation"],
        [organisations.c.tenant, organisations.c.name],
        ondelete="CASCADE",
    ),
)

#: OAuth2 clients for machine access (client credentials grant); one tenant each.
clients = Table(
    "auth_clients",
    metadata,
    Column("client_id", String(NAME_LENGTH), primary_key=True),
    Column("tenant", String(TENANT_LENGTH), nullable=False, index=True),
    Column("secret_hash", String(255), nullable=False),
    Column("organisation", String(NAME_LENGTH)),
    Column("created_at", UTCDateTime(), nullable=False),
    # A NULL organisation skips the check (MATCH SIMPLE), which is what "optional" means here.
    ForeignKeyConstraint(["tenant", "organisation"], [organisations.c.tenant, organisations.c.name]),
)

#: The roles of a client, all within the client's own tenant.
client_roles = Table(
    "auth_client_roles",
    metadata,
    Column(
        "client_id",
        String(NAME_LENGTH),
        ForeignKey(clients.c.client_id, ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("role", String(ROLE_LENGTH), primary_key=True),
)
