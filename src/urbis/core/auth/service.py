"""Accounts: users, their roles per tenant, organisations and OAuth2 clients.

:class:`AccountService` is the only code that touches the ``auth_*`` tables.
It checks credentials and returns :class:`~urbis.core.auth.tokens.Actor` values;
whether the *caller* may manage accounts is decided by the web layer with
:func:`urbis.core.auth.roles.can_manage_accounts` before it calls in here.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from urbis.core.auth import tables
from urbis.core.auth.passwords import Passwords, check_password_policy
from urbis.core.auth.roles import PLATFORM_ROLES, PLATFORM_TENANT, Role, parse_role, parse_roles
from urbis.core.auth.tokens import CLIENT, USER, Actor, issue_token
from urbis.core.db import Database
from urbis.core.errors import AlreadyExists, BadRequestData, NotFound, PolicyDenied, Unauthenticated
from urbis.core.settings import Settings

# Login names: ASCII so that look-alike names cannot impersonate each other; "@" and "." allow e-mail style names.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_KIND = re.compile(r"[a-z][a-z0-9-]*")

#: The same message for an unknown user and a wrong password, so neither can be probed.
BAD_LOGIN = "invalid username or password"
BAD_CLIENT = "invalid client credentials"

_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True)
class User:
    """A user as seen from outside: never the password hash."""

    username: str
    email: str | None
    full_name: str | None
    created_at: datetime
    #: tenant -> roles held there (only the asked-for tenant when listing a tenant)
    roles: Mapping[str, frozenset[Role]] = field(hash=False)
    #: tenant -> names of the organisations the user belongs to there
    organisations: Mapping[str, frozenset[str]] = field(hash=False)


@dataclass(frozen=True)
class Organisation:
    """A company, university, city department ... whose members are users of one tenant."""

    tenant: str
    name: str
    kind: str
    created_at: datetime


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or len(value) > tables.NAME_LENGTH or not _NAME.fullmatch(value):
        raise BadRequestData(
            f"invalid {what} {value!r}: use 1-{tables.NAME_LENGTH} ASCII letters, digits, '.', '_', '@' or '-'"
        )
    return value


def _check_tenant(tenant: str) -> str:
    if tenant == PLATFORM_TENANT:
        return tenant
    if not isinstance(tenant, str) or len(tenant) > tables.TENANT_LENGTH or not _TENANT.fullmatch(tenant):
        raise BadRequestData(
            f"invalid tenant {tenant!r}: use 1-{tables.TENANT_LENGTH} ASCII letters, digits, '.', '_' or '-'"
        )
    return tenant


def _check_roles_for_tenant(tenant: str, roles: Iterable[str]) -> frozenset[Role]:
    parsed = parse_roles(roles)
    if not parsed:
        raise BadRequestData("at least one role is required")
    if tenant == PLATFORM_TENANT and not parsed <= PLATFORM_ROLES:
        raise BadRequestData(f"only the admin role can be held in the platform tenant {PLATFORM_TENANT!r}")
    return parsed


def _check_email(email: str | None) -> str | None:
    if email is None:
        return None
    if len(email) > 320 or email.count("@") != 1 or any(c.isspace() for c in email) or email.startswith("@"):
        raise BadRequestData(f"invalid e-mail address {email!r}")
    return email


def _now() -> datetime:
    return datetime.now(UTC)


class AccountService:
    """Users, roles, organisations, OAuth2 clients, and the credentials checks behind tokens."""

    def __init__(self, database: Database, settings: Settings, *, passwords: Passwords | None = None):
        self.database = database
        self.settings = settings
        self.passwords = passwords or Passwords()

    # -- users ---------------------------------------------------------------------------------

    def create_user(
        self,
        username: str,
        password: str,
        *,
        tenant: str,
        roles: Iterable[str],
        email: str | None = None,
        full_name: str | None = None,
        organisation: str | None = None,
    ) -> User:
        """Create a user holding ``roles`` in ``tenant``, optionally as member of ``organisation`` there.

        Raises :class:`AlreadyExists` for a taken username, :class:`NotFound` for an
        unknown organisation and :class:`BadRequestData` for invalid values.
        """
        _check_name(username, "username")
        _check_tenant(tenant)
        parsed = _check_roles_for_tenant(tenant, roles)
        _check_email(email)
        check_password_policy(password)
        if full_name is not None and len(full_name) > 200:
            raise BadRequestData("full name must have at most 200 characters")
        password_hash = self.passwords.hash(password)
        with self.database.write() as connection:
            if organisation is not None:
                self._require_organisation(connection, tenant, organisation)
            try:
                connection.execute(
                    insert(tables.users).values(
                        username=username,
                        password_hash=password_hash,
                        email=email,
                        full_name=full_name,
                        created_at=_now(),
                    )
                )
            except IntegrityError:
                raise AlreadyExists(f"user {username!r} already exists") from None
            connection.execute(
                insert(tables.memberships),
                [{"tenant": tenant, "username": username, "role": role.value} for role in sorted(parsed)],
            )
            if organisation is not None:
                connection.execute(
                    insert(tables.organisation_members).values(
                        tenant=tenant, organisation=organisation, username=username
                    )
                )
        return self.get_user(username)

    def get_user(self, username: str, *, tenant: str | None = None) -> User:
        """The user ``username``; with ``tenant``, only what is visible in that tenant.

        Raises :class:`NotFound` if there is no such user (or it has no role in ``tenant``).
        """
        with self.database.read() as connection:
            row = connection.execute(select(tables.users).where(tables.users.c.username == username)).first()
            if row is None:
                raise NotFound(f"user {username!r} not found")
            role_query = select(tables.memberships.c.tenant, tables.memberships.c.role).where(
                tables.memberships.c.username == username
            )
            org_query = select(tables.organisation_members.c.tenant, tables.organisation_members.c.organisation).where(
                tables.organisation_members.c.username == username
            )
            if tenant is not None:
                role_query = role_query.where(tables.memberships.c.tenant == tenant)
                org_query = org_query.where(tables.organisation_members.c.tenant == tenant)
            roles = _group((r.tenant, Role(r.role)) for r in connection.execute(role_query))
            orgs = _group((o.tenant, o.organisation) for o in connection.execute(org_query))
        if tenant is not None and not roles:
            raise NotFound(f"user {username!r} not found in tenant {tenant!r}")
        return User(row.username, row.email, row.full_name, row.created_at, roles, orgs)

    def list_users(self, tenant: str) -> list[User]:
        """Every user holding a role in ``tenant``, by username, with only that tenant's roles."""
        m, om = tables.memberships, tables.organisation_members
        with self.database.read() as connection:
            rows = connection.execute(
                select(tables.users, m.c.role)
                .join(m, m.c.username == tables.users.c.username)
                .where(m.c.tenant == tenant)
                .order_by(tables.users.c.username, m.c.role)
            ).all()
            org_rows = connection.execute(select(om.c.username, om.c.organisation).where(om.c.tenant == tenant)).all()
        orgs: dict[str, set[str]] = defaultdict(set)
        for org_row in org_rows:
            orgs[org_row.username].add(org_row.organisation)
        roles: dict[str, set[Role]] = defaultdict(set)
        first: dict[str, Row[Any]] = {}
        for row in rows:
            roles[row.username].add(Role(row.role))
            first.setdefault(row.username, row)
        return [
            User(
                username,
                row.email,
                row.full_name,
                row.created_at,
                {tenant: frozenset(roles[username])},
                {tenant: frozenset(orgs[username])} if username in orgs else {},
            )
            for username, row in first.items()
        ]

    def set_password(self, username: str, password: str) -> None:
        """Replace the password of ``username``; :class:`NotFound` if there is no such user."""
        check_password_policy(password)
        password_hash = self.passwords.hash(password)
        with self.database.write() as connection:
            result = connection.execute(
                update(tables.users).where(tables.users.c.username == username).values(password_hash=password_hash)
            )
            if result.rowcount == 0:
                raise NotFound(f"user {username!r} not found")

    def delete_user(self, username: str) -> None:
        """Delete ``username`` with its roles and organisation memberships; :class:`NotFound` if absent."""
        with self.database.write() as connection:
            # Children first, explicitly, so the result does not depend on the backend enforcing cascades.
            connection.execute(delete(tables.memberships).where(tables.memberships.c.username == username))
            connection.execute(
                delete(tables.organisation_members).where(tables.organisation_members.c.username == username)
            )
            result = connection.execute(delete(tables.users).where(tables.users.c.username == username))
            if result.rowcount == 0:
                raise NotFound(f"user {username!r} not found")

    def grant_role(self, username: str, tenant: str, role: str) -> bool:
        """Give ``username`` ``role`` in ``tenant``; False if it already held it."""
        _check_tenant(tenant)
        parsed = _check_roles_for_tenant(tenant, [role])
        m = tables.memberships
        with self.database.write() as connection:
            self._require_user(connection, username)
            held = connection.execute(
                select(m.c.role).where(m.c.tenant == tenant, m.c.username == username, m.c.role.in_(parsed))
            ).first()
            if held is not None:
                return False
            connection.execute(insert(m).values(tenant=tenant, username=username, role=role))
        return True

    def revoke_role(self, username: str, tenant: str, role: str) -> bool:
        """Take ``role`` in ``tenant`` from ``username``; False if it did not hold it."""
        parsed = parse_role(role)
        m = tables.memberships
        with self.database.write() as connection:
            self._require_user(connection, username)
            result = connection.execute(
                delete(m).where(m.c.tenant == tenant, m.c.username == username, m.c.role == parsed.value)
            )
            return result.rowcount > 0

    # -- organisations -------------------------------------------------------------------------

    def create_organisation(self, name: str, *, tenant: str, kind: str) -> Organisation:
        """Create an organisation in ``tenant``; ``kind`` is a lower-case word such as ``company``."""
        _check_name(name, "organisation name")
        _check_tenant(tenant)
        if tenant == PLATFORM_TENANT:
            raise BadRequestData("organisations belong to a city tenant, not to the platform")
        if len(kind) > tables.ROLE_LENGTH or not _KIND.fullmatch(kind):
            raise BadRequestData(f"invalid organisation kind {kind!r}: use a lower-case word such as 'company'")
        organisation = Organisation(tenant=tenant, name=name, kind=kind, created_at=_now())
        with self.database.write() as connection:
            try:
                connection.execute(
                    insert(tables.organisations).values(
                        tenant=tenant, name=name, kind=kind, created_at=organisation.created_at
                    )
                )
            except IntegrityError:
                raise AlreadyExists(f"organisation {name!r} already exists in tenant {tenant!r}") from None
        return organisation

    def list_organisations(self, tenant: str) -> list[Organisation]:
        """The organisations of ``tenant``, by name."""
        o = tables.organisations
        with self.database.read() as connection:
            rows = connection.execute(select(o).where(o.c.tenant == tenant).order_by(o.c.name)).all()
        return [Organisation(row.tenant, row.name, row.kind, row.created_at) for row in rows]

    def add_member(self, organisation: str, username: str, *, tenant: str) -> bool:
        """Make ``username`` a member of ``organisation`` in ``tenant``; False if it already was."""
        om = tables.organisation_members
        with self.database.write() as connection:
            self._require_organisation(connection, tenant, organisation)
            self._require_user(connection, username)
            existing = connection.execute(
                select(om.c.username).where(
                    om.c.tenant == tenant, om.c.organisation == organisation, om.c.username == username
                )
            ).first()
            if existing is not None:
                return False
            connection.execute(insert(om).values(tenant=tenant, organisation=organisation, username=username))
        return True

    # -- clients ---------------------------------------------------------------------------------

    def create_client(
        self, client_id: str, *, tenant: str, roles: Iterable[str], organisation: str | None = None
    ) -> str:
        """Register an OAuth2 client and return its secret — the only time it is visible.

        Only an Argon2 hash of the secret is stored.
        """
        _check_name(client_id, "client id")
        _check_tenant(tenant)
        parsed = _check_roles_for_tenant(tenant, roles)
        secret = secrets.token_urlsafe(32)
        secret_hash = self.passwords.hash(secret)
        with self.database.write() as connection:
            if organisation is not None:
                self._require_organisation(connection, tenant, organisation)
            try:
                connection.execute(
                    insert(tables.clients).values(
                        client_id=client_id,
                        tenant=tenant,
                        secret_hash=secret_hash,
                        organisation=organisation,
                        created_at=_now(),
                    )
                )
            except IntegrityError:
                raise AlreadyExists(f"client {client_id!r} already exists") from None
            connection.execute(
                insert(tables.client_roles), [{"client_id": client_id, "role": role.value} for role in sorted(parsed)]
            )
        return secret

    # -- authentication --------------------------------------------------------------------------

    def authenticate_password(self, username: str, password: str, tenant: str | None = None) -> Actor:
        """The user :class:`Actor` for a username and password, scoped to one tenant.

        The tenant is ``tenant`` if the user has roles there (a platform admin
        counts as admin in every tenant); without ``tenant``, the user's only
        tenant.  Raises :class:`Unauthenticated` for bad credentials (one message
        for unknown user and wrong password), :class:`PolicyDenied` if the user
        has no role in the tenant, and :class:`BadRequestData` if the user has
        roles in several tenants and none was named.
        """
        with self.database.read() as connection:
            stored = connection.execute(
                select(tables.users.c.password_hash).where(tables.users.c.username == username)
            ).scalar_one_or_none()
            rows = connection.execute(
                select(tables.memberships.c.tenant, tables.memberships.c.role).where(
                    tables.memberships.c.username == username
                )
            ).all()
        # Verify even for unknown users (against a dummy hash) so timing does not reveal them.
        valid = self.passwords.verify(stored, password)
        if stored is None or not valid:
            raise Unauthenticated(BAD_LOGIN)
        if self.passwords.needs_rehash(stored):
            self._rehash(username, password)
        by_tenant = _group((row.tenant, Role(row.role)) for row in rows)
        token_tenant, roles = _resolve_tenant(f"user {username!r}", by_tenant, tenant)
        return Actor(subject=username, tenant=token_tenant, roles=frozenset(roles), kind=USER)

    def authenticate_client(self, client_id: str, secret: str, tenant: str | None = None) -> Actor:
        """The client :class:`Actor` for OAuth2 client credentials.

        ``tenant`` may repeat the client's own tenant, or name any tenant for a
        platform-admin client.  Raises :class:`Unauthenticated` for bad credentials
        and :class:`PolicyDenied` for a tenant the client has no role in.
        """
        with self.database.read() as connection:
            row = connection.execute(
                select(tables.clients.c.tenant, tables.clients.c.secret_hash).where(
                    tables.clients.c.client_id == client_id
                )
            ).first()
            roles = connection.execute(
                select(tables.client_roles.c.role).where(tables.client_roles.c.client_id == client_id)
            ).scalars()
            held = frozenset(Role(role) for role in roles)
        valid = self.passwords.verify(row.secret_hash if row is not None else None, secret)
        if row is None or not valid:
            raise Unauthenticated(BAD_CLIENT)
        token_tenant, token_roles = _resolve_tenant(f"client {client_id!r}", {row.tenant: held}, tenant)
        return Actor(subject=client_id, tenant=token_tenant, roles=frozenset(token_roles), kind=CLIENT)

    def issue_token(self, actor: Actor, *, now: datetime | None = None) -> tuple[str, int]:
        """A signed access token for ``actor`` and its lifetime in seconds."""
        return issue_token(actor, self.settings, now=now)

    # -- helpers ---------------------------------------------------------------------------------

    def _rehash(self, username: str, password: str) -> None:
        # The hashing parameters were raised since this hash was made: upgrade it while we know the password.
        new_hash = self.passwords.hash(password)
        with self.database.write() as connection:
            connection.execute(
                update(tables.users).where(tables.users.c.username == username).values(password_hash=new_hash)
            )

    @staticmethod
    def _require_user(connection: Connection, username: str) -> None:
        found = connection.execute(select(tables.users.c.username).where(tables.users.c.username == username)).first()
        if found is None:
            raise NotFound(f"user {username!r} not found")

    @staticmethod
    def _require_organisation(connection: Connection, tenant: str, name: str) -> None:
        o = tables.organisations
        found = connection.execute(select(o.c.name).where(o.c.tenant == tenant, o.c.name == name)).first()
        if found is None:
            raise NotFound(f"organisation {name!r} not found in tenant {tenant!r}")


def _group(pairs: Iterable[tuple[_K, _V]]) -> dict[_K, frozenset[_V]]:
    grouped: dict[_K, set[_V]] = defaultdict(set)
    for key, value in pairs:
        grouped[key].add(value)
    return {key: frozenset(values) for key, values in grouped.items()}


def _resolve_tenant(
    who: str, by_tenant: Mapping[str, frozenset[Role]], requested: str | None
) -> tuple[str, frozenset[Role]]:
    """Pick the tenant a token is for, and the roles it carries there."""
    platform_admin = Role.ADMIN in by_tenant.get(PLATFORM_TENANT, frozenset())
    if requested is not None:
        _check_tenant(requested)
        roles = set(by_tenant.get(requested, frozenset()))
        if platform_admin:
            roles.add(Role.ADMIN)
        if not roles:
            raise PolicyDenied(f"{who} has no role in tenant {requested!r}")
        return requested, frozenset(roles)
    if len(by_tenant) == 1:
        ((only, roles_there),) = by_tenant.items()
        return only, roles_there
    if not by_tenant:
        raise PolicyDenied(f"{who} has no role in any tenant")
    raise BadRequestData(f"{who} has roles in several tenants; name one with 'tenant'")
