"""Access tokens: signed JWTs (HS256 with ``settings.secret_key``) and the :class:`Actor` they name.

A token carries ``sub`` (username or client id), ``tenant`` (the one tenant it
is valid for; ``"*"`` for platform admins), ``roles`` (in that tenant),
``kind`` (``"user"`` or ``"client"``), ``iat``, ``exp`` and ``iss`` (``"urbis"``).
Every failure to read a token becomes :class:`~urbis.core.errors.Unauthenticated`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from urbis.core.errors import BadRequestData, Unauthenticated
from urbis.core.settings import Settings

ISSUER = "urbis"
ALGORITHM = "HS256"
USER = "user"
CLIENT = "client"
ANONYMOUS_KIND = "anonymous"
#: Kinds of actor a token may name; anonymous callers never hold a token.
TOKEN_KINDS = frozenset({USER, CLIENT})
#: Tolerated clock skew between servers when checking ``iat``.
CLOCK_SKEW_SECONDS = 60
_REQUIRED_CLAIMS = ["iss", "sub", "kind", "iat", "exp"]


@dataclass(frozen=True)
class Actor:
    """Who is calling: a user, a machine client, or nobody (:data:`ANONYMOUS`)."""

    subject: str
    tenant: str | None
    roles: frozenset[str]
    kind: str

    def has_role(self, *roles: str) -> bool:
        """Whether the actor holds any of ``roles`` (in its token's tenant)."""
        return any(role in self.roles for role in roles)

    @property
    def is_authenticated(self) -> bool:
        """False only for :data:`ANONYMOUS`."""
        return self.kind != ANONYMOUS_KIND

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description (roles sorted, for stable output)."""
        return {"subject": self.subject, "tenant": self.tenant, "roles": sorted(self.roles), "kind": self.kind}


#: The caller who presented no token.
ANONYMOUS = Actor(subject="anonymous", tenant=None, roles=frozenset(), kind=ANONYMOUS_KIND)


def _utc_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def issue_token(actor: Actor, settings: Settings, *, now: datetime | None = None) -> tuple[str, int]:
    """A signed access token for ``actor`` and its lifetime in seconds.

    ``now`` (timezone-aware) replaces the clock, so tests need not sleep.
    """
    if actor.kind not in TOKEN_KINDS:
        raise ValueError(f"cannot issue a token for a {actor.kind!r} actor")
    issued_at = int(_utc_now(now).timestamp())
    ttl = settings.token_ttl_seconds
    claims = {
        "iss": ISSUER,
        "sub": actor.subject,
        "tenant": actor.tenant,
        "roles": sorted(actor.roles),
        "kind": actor.kind,
        "iat": issued_at,
        "exp": issued_at + ttl,
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM), ttl


def _int_claim(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    # bool is an int in Python, but "exp": true is no timestamp.
    if not isinstance(value, int) or isinstance(value, bool):
        raise Unauthenticated(f"invalid access token: claim {name!r} must be an integer")
    return value


def decode_token(token: str, settings: Settings, *, now: datetime | None = None) -> Actor:
    """The :class:`Actor` named by ``token``; :class:`Unauthenticated` if it is invalid or expired.

    ``now`` (timezone-aware) replaces the clock when checking expiry.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            # Time claims are checked below against ``now`` so that tests can fix the clock.
            options={"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"invalid access token: {exc}") from None
    timestamp = _utc_now(now).timestamp()
    if _int_claim(claims, "exp") <= timestamp:
        raise Unauthenticated("access token has expired")
    if _int_claim(claims, "iat") > timestamp + CLOCK_SKEW_SECONDS:
        raise Unauthenticated("access token is not yet valid")
    subject, tenant, roles, kind = claims["sub"], claims.get("tenant"), claims.get("roles", []), claims["kind"]
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("invalid access token: bad 'sub'")
    if tenant is not None and not isinstance(tenant, str):
        raise Unauthenticated("invalid access token: bad 'tenant'")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise Unauthenticated("invalid access token: bad 'roles'")
    if not isinstance(kind, str) or kind not in TOKEN_KINDS:
        raise Unauthenticated("invalid access token: bad 'kind'")
    return Actor(subject=subject, tenant=tenant, roles=frozenset(roles), kind=kind)


def actor_from_authorization(header: str | None, settings: Settings, *, now: datetime | None = None) -> Actor:
    """The caller named by an HTTP ``Authorization`` header value.

    No header gives :data:`ANONYMOUS`; a header that is not a valid ``Bearer``
    token raises :class:`Unauthenticated` (a bad token is never silently anonymous).
    """
    if header is None or not header.strip():
        return ANONYMOUS
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <access token>'")
    return decode_token(token.strip(), settings, now=now)


def narrow_scope(actor: Actor, scope: str | None) -> Actor:
    """``actor`` limited to the roles named in an OAuth2 ``scope`` (space-separated role names).

    No scope keeps every role.  Names the actor does not hold are dropped, as
    RFC 6749 §3.3 allows; :class:`BadRequestData` if none is left.
    """
    if scope is None or not scope.strip():
        return actor
    granted = actor.roles & frozenset(scope.split())
    if not granted:
        raise BadRequestData(f"none of the requested scopes is held; available: {' '.join(sorted(actor.roles))}")
    return Actor(subject=actor.subject, tenant=actor.tenant, roles=granted, kind=actor.kind)
