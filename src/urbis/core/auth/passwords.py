"""Password and client-secret hashing with Argon2id (argon2-cffi); no hand-written crypto."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from urbis.core.errors import BadRequestData

MIN_PASSWORD_LENGTH = 8
#: Argon2 handles long input fine; the cap only keeps request bodies sane.
MAX_PASSWORD_LENGTH = 1024


def check_password_policy(password: str) -> None:
    """Raise :class:`BadRequestData` unless ``password`` is an acceptable new password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequestData(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadRequestData(f"password must have at most {MAX_PASSWORD_LENGTH} characters")


class Passwords:
    """Hashes and verifies secrets with one :class:`argon2.PasswordHasher`.

    Pass a cheaper hasher in tests (``PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)``).
    """

    def __init__(self, hasher: PasswordHasher | None = None):
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        """An Argon2id hash of ``password`` (salted; differs on every call)."""
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``.

        ``None`` (an unknown account) costs the same time as a real check and
        returns False, so response times do not reveal which accounts exist.
        A corrupt stored hash also returns False rather than failing the request.
        """
        if password_hash is None:
            self._verify_quietly(self._dummy(), password)
            return False
        return self._verify_quietly(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether ``password_hash`` was made with other parameters than the current ones."""
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def _verify_quietly(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        # Made lazily: hashing costs real time, which import or construction should not pay.
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("urbis-dummy-password-for-even-timing")
        return self._dummy_hash
