"""Accounts, roles, organisations and clients, stored on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import func, select

from urbis.core.auth import tables
from urbis.core.auth.passwords import Passwords
from urbis.core.auth.roles import PLATFORM_TENANT, Role
from urbis.core.auth.service import BAD_CLIENT, BAD_LOGIN, AccountService
from urbis.core.auth.tokens import Actor, decode_token
from urbis.core.db import Database
from urbis.core.errors import AlreadyExists, BadRequestData, NotFound, PolicyDenied, Unauthenticated
from urbis.core.settings import Settings

PASSWORD = "correct horse battery"


class CountingPasswords(Passwords):
    """Cheap Argon2 that records how often an unknown account was checked."""

    def __init__(self) -> None:
        super().__init__(PasswordHasher.from_parameters(profiles.CHEAPEST))
        self.dummy_checks = 0

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Count checks against the dummy hash, then verify as usual."""
        if password_hash is None:
            self.dummy_checks += 1
        return super().verify(password_hash, password)


@pytest.fixture
def settings() -> Settings:
    """Test settings with a proper key."""
    return Settings(secret_key="service-test-secret-0123456789-abcdef", environment="test")


@pytest.fixture
def accounts(database: Database, settings: Settings) -> AccountService:
    """The service on each backend, with cheap hashing."""
    return AccountService(database, settings, passwords=CountingPasswords())


def name(prefix: str = "u") -> str:
    """A fresh name: usernames and client ids are global, and the databases are shared by tests."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def make_user(accounts: AccountService, tenant: str, *roles: str, **overrides: str) -> str:
    """Create a user with ``roles`` (default viewer) in ``tenant`` and return its username."""
    username = overrides.pop("username", name())
    accounts.create_user(username, overrides.pop("password", PASSWORD), tenant=tenant, roles=roles or ["viewer"])
    return username


# -- users ---------------------------------------------------------------------------------------


def test_create_and_get_user(accounts: AccountService, tenant: str) -> None:
    before = datetime.now(UTC)
    username = name()
    created = accounts.create_user(
        username, PASSWORD, tenant=tenant, roles=["operator", "viewer"], email="a@example.org", full_name="Ann Ex"
    )
    assert created == accounts.get_user(username)
    assert created.username == username
    assert created.email == "a@example.org"
    assert created.full_name == "Ann Ex"
    assert created.roles == {tenant: {Role.OPERATOR, Role.VIEWER}}
    assert created.organisations == {}
    assert created.created_at.tzinfo is not None
    assert before - timedelta(seconds=5) <= created.created_at <= datetime.now(UTC) + timedelta(seconds=5)


def test_password_is_stored_hashed(accounts: AccountService, database: Database, tenant: str) -> None:
    username = make_user(accounts, tenant)
    with database.read() as connection:
        stored = connection.execute(
            select(tables.users.c.password_hash).where(tables.users.c.username == username)
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_duplicate_username(accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant)
    with pytest.raises(AlreadyExists):
        accounts.create_user(username, PASSWORD, tenant="elsewhere", roles=["viewer"])
    # The failed attempt left no role behind.
    with pytest.raises(NotFound):
        accounts.get_user(username, tenant="elsewhere")


@pytest.mark.parametrize(
    ("username", "password", "tenant", "roles", "email"),
    [
        ("", PASSWORD, "city", ["viewer"], None),
        ("has space", PASSWORD, "city", ["viewer"], None),
        ("-dash", PASSWORD, "city", ["viewer"], None),
        ("x" * 151, PASSWORD, "city", ["viewer"], None),
        ("ok", "short", "city", ["viewer"], None),
        ("ok", PASSWORD, "", ["viewer"], None),
        ("ok", PASSWORD, "a b", ["viewer"], None),
        ("ok", PASSWORD, "city", [], None),
        ("ok", PASSWORD, "city", ["root"], None),
        ("ok", PASSWORD, PLATFORM_TENANT, ["viewer"], None),
        ("ok", PASSWORD, "city", ["viewer"], "no-at-sign"),
        ("ok", PASSWORD, "city", ["viewer"], "two@at@signs"),
    ],
)
def test_create_user_rejects_bad_values(
    accounts: AccountService, username: str, password: str, tenant: str, roles: list[str], email: str | None
) -> None:
    with pytest.raises(BadRequestData):
        accounts.create_user(username, password, tenant=tenant, roles=roles, email=email)


def test_get_unknown_user(accounts: AccountService) -> None:
    with pytest.raises(NotFound):
        accounts.get_user(name())


def test_get_user_in_a_tenant_shows_only_that_tenant(accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant, "viewer")
    accounts.grant_role(username, "second", "operator")
    assert accounts.get_user(username, tenant=tenant).roles == {tenant: {Role.VIEWER}}
    assert accounts.get_user(username).roles == {tenant: {Role.VIEWER}, "second": {Role.OPERATOR}}
    with pytest.raises(NotFound):
        accounts.get_user(username, tenant="third")


def test_list_users_is_scoped_by_tenant(accounts: AccountService, tenant: str) -> None:
    first = make_user(accounts, tenant, "admin", "viewer", username=f"a{uuid.uuid4().hex[:8]}")
    second = make_user(accounts, tenant, "citizen", username=f"b{uuid.uuid4().hex[:8]}")
    accounts.grant_role(second, "elsewhere", "admin")
    make_user(accounts, f"{tenant}x", "viewer")
    listed = accounts.list_users(tenant)
    assert [user.username for user in listed] == [first, second]
    assert listed[0].roles == {tenant: {Role.ADMIN, Role.VIEWER}}
    # Roles in other tenants stay invisible to this tenant.
    assert listed[1].roles == {tenant: {Role.CITIZEN}}
    assert accounts.list_users(f"{tenant}-empty") == []


def test_set_password(accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant)
    accounts.set_password(username, "a new password")
    with pytest.raises(Unauthenticated):
        accounts.authenticate_password(username, PASSWORD)
    assert accounts.authenticate_password(username, "a new password").subject == username
    with pytest.raises(BadRequestData):
        accounts.set_password(username, "short")
    with pytest.raises(NotFound):
        accounts.set_password(name(), "a new password")


def test_delete_user_removes_roles_and_memberships(accounts: AccountService, database: Database, tenant: str) -> None:
    accounts.create_organisation("acme", tenant=tenant, kind="company")
    username = make_user(accounts, tenant, "viewer")
    accounts.add_member("acme", username, tenant=tenant)
    accounts.delete_user(username)
    with pytest.raises(NotFound):
        accounts.get_user(username)
    with database.read() as connection:
        for table in (tables.memberships, tables.organisation_members):
            count = connection.execute(
                select(func.count()).select_from(table).where(table.c.username == username)
            ).scalar_one()
            assert count == 0
    with pytest.raises(NotFound):
        accounts.delete_user(username)
    # The name is free again.
    make_user(accounts, tenant, username=username)


# -- roles ---------------------------------------------------------------------------------------


def test_grant_and_revoke(accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant, "viewer")
    assert accounts.grant_role(username, tenant, "operator") is True
    assert accounts.grant_role(username, tenant, "operator") is False
    assert accounts.get_user(username).roles == {tenant: {Role.VIEWER, Role.OPERATOR}}
    assert accounts.revoke_role(username, tenant, "viewer") is True
    assert accounts.revoke_role(username, tenant, "viewer") is False
    assert accounts.get_user(username).roles == {tenant: {Role.OPERATOR}}


def test_grant_and_revoke_check_their_input(accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant)
    with pytest.raises(NotFound):
        accounts.grant_role(name(), tenant, "viewer")
    with pytest.raises(NotFound):
        accounts.revoke_role(name(), tenant, "viewer")
    with pytest.raises(BadRequestData):
        accounts.grant_role(username, tenant, "root")
    with pytest.raises(BadRequestData):
        accounts.grant_role(username, PLATFORM_TENANT, "operator")
    with pytest.raises(BadRequestData):
        accounts.revoke_role(username, tenant, "root")


# -- password login ------------------------------------------------------------------------------


def test_authenticate_password(accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant, "operator", "viewer")
    actor = accounts.authenticate_password(username, PASSWORD)
    assert actor == Actor(subject=username, tenant=tenant, roles=frozenset({"operator", "viewer"}), kind="user")
    assert accounts.authenticate_password(username, PASSWORD, tenant) == actor


def test_wrong_password_and_unknown_user_look_the_same(accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant)
    with pytest.raises(Unauthenticated) as wrong_password:
        accounts.authenticate_password(username, PASSWORD + "!")
    with pytest.raises(Unauthenticated) as unknown_user:
        accounts.authenticate_password(name(), PASSWORD)
    assert wrong_password.value.detail == unknown_user.value.detail == BAD_LOGIN


def test_unknown_user_still_costs_a_hash_check(accounts: AccountService) -> None:
    passwords = accounts.passwords
    assert isinstance(passwords, CountingPasswords)
    with pytest.raises(Unauthenticated):
        accounts.authenticate_password(name(), PASSWORD)
    assert passwords.dummy_checks == 1


def test_tenant_choice(accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant, "viewer")
    accounts.grant_role(username, f"{tenant}b", "operator")
    # Several tenants: the caller must say which.
    with pytest.raises(BadRequestData, match="several tenants"):
        accounts.authenticate_password(username, PASSWORD)
    second = accounts.authenticate_password(username, PASSWORD, f"{tenant}b")
    assert (second.tenant, second.roles) == (f"{tenant}b", frozenset({"operator"}))
    with pytest.raises(PolicyDenied):
        accounts.authenticate_password(username, PASSWORD, f"{tenant}c")
    with pytest.raises(BadRequestData):
        accounts.authenticate_password(username, PASSWORD, "not a tenant")


def test_user_without_roles_gets_no_token(accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant, "viewer")
    accounts.revoke_role(username, tenant, "viewer")
    with pytest.raises(PolicyDenied):
        accounts.authenticate_password(username, PASSWORD)


def test_platform_admin(accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, PLATFORM_TENANT, "admin")
    platform = accounts.authenticate_password(username, PASSWORD)
    assert (platform.tenant, platform.roles) == (PLATFORM_TENANT, frozenset({"admin"}))
    # Admin in any city on request, even without a role there.
    city = accounts.authenticate_password(username, PASSWORD, tenant)
    assert (city.tenant, city.roles) == (tenant, frozenset({"admin"}))
    accounts.grant_role(username, tenant, "operator")
    city = accounts.authenticate_password(username, PASSWORD, tenant)
    assert city.roles == {"admin", "operator"}


def test_outdated_hash_is_upgraded_at_login(database: Database, settings: Settings, tenant: str) -> None:
    old = AccountService(database, settings, passwords=Passwords(PasswordHasher.from_parameters(profiles.CHEAPEST)))
    username = make_user(old, tenant)
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1, hash_len=16, salt_len=16))
    new = AccountService(database, settings, passwords=stronger)
    assert new.authenticate_password(username, PASSWORD).subject == username
    with database.read() as connection:
        stored = connection.execute(
            select(tables.users.c.password_hash).where(tables.users.c.username == username)
        ).scalar_one()
    assert not stronger.needs_rehash(stored)
    assert new.authenticate_password(username, PASSWORD).subject == username


def test_issue_token(accounts: AccountService, settings: Settings, tenant: str) -> None:
    username = make_user(accounts, tenant, "viewer")
    actor = accounts.authenticate_password(username, PASSWORD)
    now = datetime(2031, 1, 1, tzinfo=UTC)
    token, expires_in = accounts.issue_token(actor, now=now)
    assert expires_in == settings.token_ttl_seconds
    assert decode_token(token, settings, now=now) == actor


# -- organisations -------------------------------------------------------------------------------


def test_organisations(accounts: AccountService, tenant: str) -> None:
    uni = accounts.create_organisation("uni-west", tenant=tenant, kind="university")
    accounts.create_organisation("acme", tenant=tenant, kind="company")
    # Names are per tenant.
    accounts.create_organisation("acme", tenant=f"{tenant}b", kind="company")
    assert [org.name for org in accounts.list_organisations(tenant)] == ["acme", "uni-west"]
    assert accounts.list_organisations(tenant)[1] == uni
    with pytest.raises(AlreadyExists):
        accounts.create_organisation("acme", tenant=tenant, kind="company")
    for bad_kind in ("", "Company", "a company"):
        with pytest.raises(BadRequestData):
            accounts.create_organisation("other", tenant=tenant, kind=bad_kind)
    with pytest.raises(BadRequestData):
        accounts.create_organisation("other", tenant=PLATFORM_TENANT, kind="company")


def test_members(accounts: AccountService, tenant: str) -> None:
    accounts.create_organisation("acme", tenant=tenant, kind="company")
    username = make_user(accounts, tenant)
    assert accounts.add_member("acme", username, tenant=tenant) is True
    assert accounts.add_member("acme", username, tenant=tenant) is False
    assert accounts.get_user(username).organisations == {tenant: {"acme"}}
    assert accounts.list_users(tenant)[0].organisations == {tenant: {"acme"}}
    with pytest.raises(NotFound):
        accounts.add_member("acme", name(), tenant=tenant)
    with pytest.raises(NotFound):
        accounts.add_member("acme", username, tenant=f"{tenant}b")


def test_create_user_in_an_organisation(accounts: AccountService, tenant: str) -> None:
    accounts.create_organisation("city-hall", tenant=tenant, kind="city")
    username = name()
    user = accounts.create_user(username, PASSWORD, tenant=tenant, roles=["operator"], organisation="city-hall")
    assert user.organisations == {tenant: {"city-hall"}}
    with pytest.raises(NotFound):
        accounts.create_user(name(), PASSWORD, tenant=tenant, roles=["operator"], organisation="nowhere")


# -- clients -------------------------------------------------------------------------------------


def test_client_credentials(accounts: AccountService, database: Database, tenant: str) -> None:
    client_id = name("c")
    secret = accounts.create_client(client_id, tenant=tenant, roles=["device", "viewer"])
    assert len(secret) >= 40
    actor = accounts.authenticate_client(client_id, secret)
    assert actor == Actor(subject=client_id, tenant=tenant, roles=frozenset({"device", "viewer"}), kind="client")
    assert accounts.authenticate_client(client_id, secret, tenant) == actor
    with database.read() as connection:
        stored = connection.execute(
            select(tables.clients.c.secret_hash).where(tables.clients.c.client_id == client_id)
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert secret not in stored


def test_client_failures(accounts: AccountService, tenant: str) -> None:
    client_id = name("c")
    secret = accounts.create_client(client_id, tenant=tenant, roles=["device"])
    with pytest.raises(Unauthenticated) as wrong_secret:
        accounts.authenticate_client(client_id, secret + "x")
    with pytest.raises(Unauthenticated) as unknown:
        accounts.authenticate_client(name("c"), secret)
    assert wrong_secret.value.detail == unknown.value.detail == BAD_CLIENT
    with pytest.raises(PolicyDenied):
        accounts.authenticate_client(client_id, secret, f"{tenant}b")
    with pytest.raises(AlreadyExists):
        accounts.create_client(client_id, tenant=tenant, roles=["device"])
    with pytest.raises(BadRequestData):
        accounts.create_client(name("c"), tenant=tenant, roles=[])
    with pytest.raises(NotFound):
        accounts.create_client(name("c"), tenant=tenant, roles=["device"], organisation="nowhere")


def test_client_of_an_organisation(accounts: AccountService, database: Database, tenant: str) -> None:
    accounts.create_organisation("acme", tenant=tenant, kind="company")
    client_id = name("c")
    accounts.create_client(client_id, tenant=tenant, roles=["data-consumer"], organisation="acme")
    with database.read() as connection:
        organisation = connection.execute(
            select(tables.clients.c.organisation).where(tables.clients.c.client_id == client_id)
        ).scalar_one()
    assert organisation == "acme"


def test_secrets_differ(accounts: AccountService, tenant: str) -> None:
    assert accounts.create_client(name("c"), tenant=tenant, roles=["device"]) != accounts.create_client(
        name("c"), tenant=tenant, roles=["device"]
    )
