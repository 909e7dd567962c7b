"""Argon2 hashing of passwords and secrets."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, profiles

from urbis.core.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, Passwords, check_password_policy
from urbis.core.errors import BadRequestData


@pytest.fixture
def passwords() -> Passwords:
    """Cheap Argon2 parameters: the tests check behaviour, not cost."""
    return Passwords(PasswordHasher.from_parameters(profiles.CHEAPEST))


def test_hash_is_argon2id_salted_and_not_the_password(passwords: Passwords) -> None:
    first, second = passwords.hash("correct horse"), passwords.hash("correct horse")
    assert first.startswith("$argon2id$")
    assert "correct horse" not in first
    assert first != second


def test_verify(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse")
    assert passwords.verify(stored, "correct horse")
    assert not passwords.verify(stored, "correct horse!")
    assert not passwords.verify(stored, "")


def test_unknown_account_verifies_against_a_dummy(passwords: Passwords) -> None:
    assert not passwords.verify(None, "anything")
    # The dummy hash was really computed (and is kept for the next call).
    assert passwords._dummy_hash is not None
    assert passwords._dummy_hash.startswith("$argon2id$")


def test_corrupt_hash_is_a_mismatch_not_a_crash(passwords: Passwords) -> None:
    assert not passwords.verify("not-a-hash", "anything")
    assert not passwords.verify("$argon2id$v=19$m=8,t=1,p=1$broken", "anything")


def test_needs_rehash_when_parameters_change(passwords: Passwords) -> None:
    cheap = passwords.hash("correct horse")
    assert not passwords.needs_rehash(cheap)
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert stronger.needs_rehash(cheap)
    assert stronger.verify(cheap, "correct horse")
    assert passwords.needs_rehash("garbage")


def test_password_policy() -> None:
    check_password_policy("x" * MIN_PASSWORD_LENGTH)
    check_password_policy("x" * MAX_PASSWORD_LENGTH)
    with pytest.raises(BadRequestData, match="at least"):
        check_password_policy("x" * (MIN_PASSWORD_LENGTH - 1))
    with pytest.raises(BadRequestData, match="at most"):
        check_password_policy("x" * (MAX_PASSWORD_LENGTH + 1))
