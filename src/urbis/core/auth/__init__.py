"""Accounts, access tokens and roles.

- :mod:`~urbis.core.auth.roles` — the :class:`Role` names and every permission rule, as data;
- :mod:`~urbis.core.auth.tokens` — signed JWT access tokens and the :class:`Actor` they name;
- :mod:`~urbis.core.auth.passwords` — Argon2 hashing of passwords and client secrets;
- :mod:`~urbis.core.auth.service` — :class:`AccountService`: users, organisations, clients, logins;
- :mod:`~urbis.core.auth.tables` — the ``auth_*`` tables.
"""

from __future__ import annotations

from urbis.core.auth.roles import PLATFORM_TENANT, Permission, Role
from urbis.core.auth.tokens import ANONYMOUS, Actor, actor_from_authorization, decode_token, issue_token

__all__ = [
    "ANONYMOUS",
    "PLATFORM_TENANT",
    "Actor",
    "Permission",
    "Role",
    "actor_from_authorization",
    "decode_token",
    "issue_token",
]
