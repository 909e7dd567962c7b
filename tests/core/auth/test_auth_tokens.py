"""Signed access tokens and the actors they name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from urbis.core.auth.tokens import (
    ANONYMOUS,
    CLOCK_SKEW_SECONDS,
    Actor,
    actor_from_authorization,
    decode_token,
    issue_token,
    narrow_scope,
)
from urbis.core.errors import BadRequestData, Unauthenticated
from urbis.core.settings import Settings

SECRET = "test-secret-0123456789-abcdefghijklmnop"
NOW = datetime(2030, 5, 17, 12, 0, tzinfo=UTC)
ALICE = Actor(subject="alice", tenant="city", roles=frozenset({"operator", "viewer"}), kind="user")


@pytest.fixture
def settings() -> Settings:
    """Settings with a long key and a 10-minute token lifetime."""
    return Settings(secret_key=SECRET, token_ttl_seconds=600, environment="test")


def forge(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    """A token with arbitrary claims, as an attacker or a buggy issuer would make."""
    return jwt.encode(claims, key, algorithm=algorithm)


def valid_claims(**overrides: Any) -> dict[str, Any]:
    """The claims of a good token at NOW, with ``overrides``."""
    issued = int(NOW.timestamp())
    claims: dict[str, Any] = {
        "iss": "urbis",
        "sub": "alice",
        "tenant": "city",
        "roles": ["viewer"],
        "kind": "user",
        "iat": issued,
        "exp": issued + 600,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def test_round_trip(settings: Settings) -> None:
    token, expires_in = issue_token(ALICE, settings, now=NOW)
    assert expires_in == 600
    assert decode_token(token, settings, now=NOW) == ALICE


def test_claims(settings: Settings) -> None:
    token, _ = issue_token(ALICE, settings, now=NOW)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False})
    assert claims == {
        "iss": "urbis",
        "sub": "alice",
        "tenant": "city",
        "roles": ["operator", "viewer"],
        "kind": "user",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 600,
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_ttl_comes_from_settings() -> None:
    settings = Settings(secret_key=SECRET, token_ttl_seconds=120, environment="test")
    token, expires_in = issue_token(ALICE, settings, now=NOW)
    assert expires_in == 120
    decode_token(token, settings, now=NOW + timedelta(seconds=119))
    with pytest.raises(Unauthenticated, match="expired"):
        decode_token(token, settings, now=NOW + timedelta(seconds=120))


def test_expiry_with_a_fixed_clock(settings: Settings) -> None:
    token, _ = issue_token(ALICE, settings, now=NOW)
    assert decode_token(token, settings, now=NOW + timedelta(seconds=599)) == ALICE
    with pytest.raises(Unauthenticated, match="expired"):
        decode_token(token, settings, now=NOW + timedelta(seconds=600))
    with pytest.raises(Unauthenticated, match="expired"):
        decode_token(token, settings, now=NOW + timedelta(days=1))


def test_default_clock_is_the_real_one(settings: Settings) -> None:
    old, _ = issue_token(ALICE, settings, now=NOW - timedelta(days=3650))
    with pytest.raises(Unauthenticated, match="expired"):
        decode_token(old, settings)
    fresh, _ = issue_token(ALICE, settings)
    assert decode_token(fresh, settings) == ALICE


def test_token_from_the_future_is_refused(settings: Settings) -> None:
    token, _ = issue_token(ALICE, settings, now=NOW + timedelta(seconds=CLOCK_SKEW_SECONDS + 1))
    with pytest.raises(Unauthenticated, match="not yet valid"):
        decode_token(token, settings, now=NOW)
    # A little clock skew between servers is fine.
    skewed, _ = issue_token(ALICE, settings, now=NOW + timedelta(seconds=CLOCK_SKEW_SECONDS - 1))
    assert decode_token(skewed, settings, now=NOW) == ALICE


def test_naive_now_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        issue_token(ALICE, settings, now=datetime(2030, 1, 1))  # noqa: DTZ001 - the point of the test


def test_other_key_is_refused(settings: Settings) -> None:
    other = Settings(secret_key="another-secret-0123456789-abcdefghijk", environment="test")
    token, _ = issue_token(ALICE, other, now=NOW)
    with pytest.raises(Unauthenticated, match="invalid access token"):
        decode_token(token, settings, now=NOW)


def test_tampered_payload_is_refused(settings: Settings) -> None:
    token, _ = issue_token(ALICE, settings, now=NOW)
    header, _payload, signature = token.split(".")
    evil = jwt.encode(valid_claims(roles=["admin"]), "attacker-guess-0123456789-abcdefghijk", algorithm="HS256").split(
        "."
    )[1]
    with pytest.raises(Unauthenticated):
        decode_token(f"{header}.{evil}.{signature}", settings, now=NOW)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x", "ééé.x.y", "\x00"])
def test_garbage_is_unauthenticated(settings: Settings, garbage: str) -> None:
    with pytest.raises(Unauthenticated):
        decode_token(garbage, settings, now=NOW)


def test_unsigned_token_is_refused(settings: Settings) -> None:
    token = jwt.encode(valid_claims(), key=None, algorithm="none")
    with pytest.raises(Unauthenticated):
        decode_token(token, settings, now=NOW)


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "someone-else"},
        {"iss": None},
        {"sub": None},
        {"sub": ""},
        {"sub": 42},
        {"kind": None},
        {"kind": "anonymous"},
        {"kind": "root"},
        {"exp": None},
        {"exp": "tomorrow"},
        {"exp": True},
        {"iat": None},
        {"roles": "admin"},
        {"roles": [1, 2]},
        {"tenant": ["a", "b"]},
    ],
    ids=repr,
)
def test_bad_claims_are_refused(settings: Settings, overrides: dict[str, Any]) -> None:
    with pytest.raises(Unauthenticated):
        decode_token(forge(valid_claims(**overrides)), settings, now=NOW)


def test_forged_claims_with_the_right_key_are_accepted(settings: Settings) -> None:
    """The control for the test above: the forging helper itself makes valid tokens."""
    assert decode_token(forge(valid_claims()), settings, now=NOW).roles == {"viewer"}


def test_client_tokens(settings: Settings) -> None:
    client = Actor(subject="sensor-gw", tenant="city", roles=frozenset({"device"}), kind="client")
    token, _ = issue_token(client, settings, now=NOW)
    assert decode_token(token, settings, now=NOW) == client


def test_no_token_for_anonymous(settings: Settings) -> None:
    with pytest.raises(ValueError, match="anonymous"):
        issue_token(ANONYMOUS, settings)


def test_actor_helpers() -> None:
    assert ALICE.has_role("admin", "viewer")
    assert not ALICE.has_role("admin")
    assert not ALICE.has_role()
    assert ALICE.is_authenticated
    assert not ANONYMOUS.is_authenticated
    assert ANONYMOUS.roles == frozenset()
    assert ANONYMOUS.tenant is None
    assert ALICE.to_json() == {"subject": "alice", "tenant": "city", "roles": ["operator", "viewer"], "kind": "user"}


def test_actor_from_authorization(settings: Settings) -> None:
    token, _ = issue_token(ALICE, settings, now=NOW)
    assert actor_from_authorization(None, settings) is ANONYMOUS
    assert actor_from_authorization("  ", settings) is ANONYMOUS
    assert actor_from_authorization(f"Bearer {token}", settings, now=NOW) == ALICE
    assert actor_from_authorization(f"bearer   {token} ", settings, now=NOW) == ALICE


@pytest.mark.parametrize("header", ["Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer    ", "Token abc", "Bearer not-a-jwt"])
def test_bad_authorization_header_is_not_anonymous(settings: Settings, header: str) -> None:
    with pytest.raises(Unauthenticated):
        actor_from_authorization(header, settings, now=NOW)


def test_narrow_scope() -> None:
    assert narrow_scope(ALICE, None) is ALICE
    assert narrow_scope(ALICE, "  ") is ALICE
    assert narrow_scope(ALICE, "viewer").roles == {"viewer"}
    # Scopes the actor does not hold are dropped, never added.
    assert narrow_scope(ALICE, "viewer admin").roles == {"viewer"}
    with pytest.raises(BadRequestData):
        narrow_scope(ALICE, "admin")
