"""Who may do what: the permission rules of Urbis, as data, in one place.

A role is held *in a tenant*.  :data:`GRANTS` maps every role to the
permissions it carries inside its tenant; the ``can_*`` functions answer
questions about an :class:`~urbis.core.auth.tokens.Actor` and never touch the
database, so routes (through ``web/deps.py``) and services ask the same rules.

A *platform admin* holds :attr:`Role.ADMIN` in the tenant :data:`PLATFORM_TENANT`
(``"*"``); such an actor counts as admin in every tenant.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from urbis.core.auth.tokens import Actor
from urbis.core.errors import BadRequestData, PolicyDenied, Unauthenticated

#: The pseudo-tenant of platform administrators.
PLATFORM_TENANT = "*"


class Role(enum.StrEnum):
    """The roles a user or client may hold in a tenant."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"
    CITIZEN = "citizen"
    DATA_CONSUMER = "data-consumer"
    DEVICE = "device"


class Permission(enum.StrEnum):
    """Things an actor may be allowed to do within a tenant."""

    READ_CONTEXT = "context:read"
    WRITE_CONTEXT = "context:write"
    MANAGE_ACCOUNTS = "accounts:manage"
    # Provision devices (their tokens are credentials), send them commands, read dead letters.
    MANAGE_DEVICES = "devices:manage"
    # See alarms and work orders (staff only: they name assignees).
    READ_OPERATIONS = "operations:read"
    # Acknowledge, assign and close alarms and work orders.
    MANAGE_OPERATIONS = "operations:manage"
    # Take part as a resident: follow, comment on reports, propose, support, vote (reporting needs no account).
    PARTICIPATE = "citizens:participate"
    # Handle what residents send: triage and route reports, moderate, answer proposals, run budgets and polls.
    MANAGE_CITIZENS = "citizens:manage"
    # Define, publish and withdraw the city's datasets and their policies (city officers).
    MANAGE_CATALOG = "marketplace:manage"


_READ = frozenset({Permission.READ_CONTEXT})
_READ_WRITE = frozenset({Permission.READ_CONTEXT, Permission.WRITE_CONTEXT})

#: The whole policy: the permissions each role carries within its own tenant.
GRANTS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.ADMIN: frozenset(Permission),
        Role.OPERATOR: _READ_WRITE
        | {
            Permission.MANAGE_DEVICES,
            Permission.READ_OPERATIONS,
            Permission.MANAGE_OPERATIONS,
            Permission.MANAGE_CITIZENS,
            Permission.MANAGE_CATALOG,
        },
        # Devices report measurements, which land in the context as attribute updates.
        Role.DEVICE: _READ_WRITE,
        Role.VIEWER: _READ | {Permission.READ_OPERATIONS},
        Role.CITIZEN: _READ | {Permission.PARTICIPATE},
        Role.DATA_CONSUMER: _READ,
    }
)

#: Roles allowed in the platform tenant: anything else there would be meaningless.
PLATFORM_ROLES = frozenset({Role.ADMIN})


def parse_role(value: str) -> Role:
    """The :class:`Role` named ``value``; :class:`BadRequestData` for an unknown name."""
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise BadRequestData(f"unknown role {value!r}; known roles: {known}") from None


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Every name in ``values`` as a :class:`Role`; :class:`BadRequestData` for an unknown one."""
    return frozenset(parse_role(value) for value in values)


_ROLE_NAMES = frozenset(role.value for role in Role)


def _known_roles(names: Iterable[str]) -> frozenset[Role]:
    # Tokens may carry role names a newer or older release does not know; ignore them.
    return frozenset(Role(name) for name in names if name in _ROLE_NAMES)


def effective_roles(actor: Actor, tenant: str) -> frozenset[Role]:
    """The roles ``actor`` holds in ``tenant``.

    A token is scoped to one tenant, so its roles count only there; a platform
    admin's token counts as admin everywhere.
    """
    roles: set[Role] = set()
    if actor.tenant == tenant:
        roles |= _known_roles(actor.roles)
    if actor.tenant == PLATFORM_TENANT and actor.has_role(Role.ADMIN):
        roles.add(Role.ADMIN)
    return frozenset(roles)


def permissions(actor: Actor, tenant: str) -> frozenset[Permission]:
    """Every permission ``actor`` has in ``tenant``."""
    granted: set[Permission] = set()
    for role in effective_roles(actor, tenant):
        granted |= GRANTS[role]
    return frozenset(granted)


def has_permission(actor: Actor, permission: Permission, tenant: str) -> bool:
    """Whether ``actor`` has ``permission`` in ``tenant``."""
    return permission in permissions(actor, tenant)


def can_read_context(actor: Actor, tenant: str, public: bool) -> bool:
    """Whether ``actor`` may read NGSI-LD entities of ``tenant``.

    ``public`` is true when the tenant is open to anyone (``ngsild_open`` or
    ``public_read_tenants`` in the settings); the caller decides that.
    """
    return public or has_permission(actor, Permission.READ_CONTEXT, tenant)


def can_write_context(actor: Actor, tenant: str) -> bool:
    """Whether ``actor`` may create, change or delete NGSI-LD entities of ``tenant``."""
    return has_permission(actor, Permission.WRITE_CONTEXT, tenant)


def can_manage_accounts(actor: Actor, tenant: str) -> bool:
    """Whether ``actor`` may create users and clients and grant roles in ``tenant``."""
    return has_permission(actor, Permission.MANAGE_ACCOUNTS, tenant)


def can_manage_devices(actor: Actor, tenant: str) -> bool:
    """Whether ``actor`` may provision devices, send them commands and read dead letters in ``tenant``."""
    return has_permission(actor, Permission.MANAGE_DEVICES, tenant)


def can_read_operations(actor: Actor, tenant: str) -> bool:
    """Whether ``actor`` may see the alarms and work orders of ``tenant``."""
    return has_permission(actor, Permission.READ_OPERATIONS, tenant)


def can_manage_operations(actor: Actor, tenant: str) -> bool:
    """Whether ``actor`` may acknowledge, assign and close alarms and work orders in ``tenant``."""
    return has_permission(actor, Permission.MANAGE_OPERATIONS, tenant)


def can_participate(actor: Actor, tenant: str) -> bool:
    """Whether ``actor`` may take part as a resident of ``tenant`` (comment, propose, support, vote)."""
    return has_permission(actor, Permission.PARTICIPATE, tenant)


def can_manage_citizens(actor: Actor, tenant: str) -> bool:
    """Whether ``actor`` may triage reports, moderate, answer proposals and run budgets and polls in ``tenant``."""
    return has_permission(actor, Permission.MANAGE_CITIZENS, tenant)


def can_manage_catalog(actor: Actor, tenant: str) -> bool:
    """Whether ``actor`` may define, publish and withdraw the datasets of ``tenant``'s marketplace."""
    return has_permission(actor, Permission.MANAGE_CATALOG, tenant)


def require(allowed: bool, actor: Actor, action: str) -> None:
    """Raise unless ``allowed``: :class:`Unauthenticated` for anonymous callers, else :class:`PolicyDenied`.

    The split matters to clients: 401 means "log in", 403 means "you may not".
    """
    if allowed:
        return
    if not actor.is_authenticated:
        raise Unauthenticated(f"a valid access token is required to {action}")
    raise PolicyDenied(f"{actor.kind} {actor.subject!r} may not {action}")
