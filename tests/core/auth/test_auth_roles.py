"""The permission rules, table-driven over every role."""

from __future__ import annotations

import pytest

from urbis.core.auth.roles import (
    GRANTS,
    PLATFORM_TENANT,
    Permission,
    Role,
    can_manage_accounts,
    can_read_context,
    can_write_context,
    effective_roles,
    parse_role,
    parse_roles,
    require,
)
from urbis.core.auth.tokens import ANONYMOUS, Actor
from urbis.core.errors import BadRequestData, PolicyDenied, Unauthenticated

CITY = "city"
OTHER = "other"

#: role -> (may read context, may write context, may manage accounts), in its own tenant
EXPECTED = {
    Role.ADMIN: (True, True, True),
    Role.OPERATOR: (True, True, False),
    Role.DEVICE: (True, True, False),
    Role.VIEWER: (True, False, False),
    Role.CITIZEN: (True, False, False),
    Role.DATA_CONSUMER: (True, False, False),
}


def actor(*roles: str, tenant: str | None = CITY, kind: str = "user") -> Actor:
    """An actor holding ``roles`` in ``tenant``."""
    return Actor(subject="someone", tenant=tenant, roles=frozenset(roles), kind=kind)


def test_every_role_has_expectations_and_grants() -> None:
    assert set(EXPECTED) == set(Role)
    assert set(GRANTS) == set(Role)


def test_role_names() -> None:
    assert [role.value for role in Role] == ["admin", "operator", "viewer", "citizen", "data-consumer", "device"]


@pytest.mark.parametrize(("role", "expected"), EXPECTED.items(), ids=lambda value: str(value))
def test_role_in_own_tenant(role: Role, expected: tuple[bool, bool, bool]) -> None:
    subject = actor(role)
    got = (
        can_read_context(subject, CITY, public=False),
        can_write_context(subject, CITY),
        can_manage_accounts(subject, CITY),
    )
    assert got == expected


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_role_gives_nothing_in_another_tenant(role: Role) -> None:
    subject = actor(role)
    assert not can_read_context(subject, OTHER, public=False)
    assert not can_write_context(subject, OTHER)
    assert not can_manage_accounts(subject, OTHER)
    assert effective_roles(subject, OTHER) == frozenset()


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_role_held_only_on_platform_tenant(role: Role) -> None:
    """Only admin carries over from the platform tenant; other roles there mean nothing in a city."""
    subject = actor(role, tenant=PLATFORM_TENANT)
    is_admin = role is Role.ADMIN
    assert can_write_context(subject, CITY) is is_admin
    assert can_manage_accounts(subject, OTHER) is is_admin


def test_platform_admin_is_admin_everywhere() -> None:
    subject = actor(Role.ADMIN, tenant=PLATFORM_TENANT)
    for tenant in (CITY, OTHER, PLATFORM_TENANT):
        assert effective_roles(subject, tenant) == {Role.ADMIN}
        assert can_manage_accounts(subject, tenant)
        assert can_read_context(subject, tenant, public=False)


def test_anonymous_reads_only_public_tenants() -> None:
    assert can_read_context(ANONYMOUS, CITY, public=True)
    assert not can_read_context(ANONYMOUS, CITY, public=False)
    assert not can_write_context(ANONYMOUS, CITY)
    assert not can_manage_accounts(ANONYMOUS, CITY)


def test_public_tenant_still_needs_a_role_to_write() -> None:
    assert can_read_context(actor(tenant=OTHER), CITY, public=True)
    assert not can_write_context(actor(Role.VIEWER), CITY)


def test_unknown_role_names_in_a_token_are_ignored() -> None:
    subject = actor("superuser", Role.VIEWER)
    assert effective_roles(subject, CITY) == {Role.VIEWER}
    assert not can_write_context(subject, CITY)


def test_several_roles_add_up() -> None:
    subject = actor(Role.VIEWER, Role.DEVICE)
    assert can_write_context(subject, CITY)
    assert not can_manage_accounts(subject, CITY)


def test_admin_holds_every_permission() -> None:
    assert GRANTS[Role.ADMIN] == frozenset(Permission)


def test_require_passes_when_allowed() -> None:
    require(True, ANONYMOUS, "read")


def test_require_asks_anonymous_callers_to_log_in() -> None:
    with pytest.raises(Unauthenticated):
        require(False, ANONYMOUS, "write entities")


def test_require_forbids_known_callers() -> None:
    with pytest.raises(PolicyDenied, match="may not write entities"):
        require(False, actor(Role.VIEWER), "write entities")


def test_parse_role() -> None:
    assert parse_role("data-consumer") is Role.DATA_CONSUMER
    assert parse_roles(["admin", "viewer", "admin"]) == {Role.ADMIN, Role.VIEWER}
    with pytest.raises(BadRequestData, match="unknown role 'root'"):
        parse_role("root")
