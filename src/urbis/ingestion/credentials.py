"""Device credentials: random tokens, their SHA-256 digest, and Mosquitto-compatible password hashes.

A device token is 32 random bytes (``secrets.token_urlsafe(32)``), shown once.
Urbis keeps two one-way forms of it:

* its SHA-256 hex digest, which HTTP ingestion compares on every request.  The
  token has 256 bits of entropy, so a fast hash cannot be brute-forced and the
  check stays a cheap lookup (a slow password hash would cost milliseconds per
  message);
* a PBKDF2-SHA512 hash in the format ``mosquitto_passwd`` writes
  (``$7$<iterations>$<salt b64>$<hash b64>``), so ``urbis devices mqtt-config``
  can write a Mosquitto password file without ever knowing plaintext tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

#: Iterations of PBKDF2 in Mosquitto hashes: what ``mosquitto_passwd`` uses.  Enough for random
#: tokens (their entropy, not the iteration count, is what makes guessing hopeless), and cheap for
#: the broker, which hashes on every connection.
MOSQUITTO_ITERATIONS = 101
MOSQUITTO_SALT_BYTES = 12  # also as mosquitto_passwd
_MOSQUITTO_HASH_BYTES = 64  # SHA-512 output


def new_token() -> str:
    """A new random device token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest of ``token``, as stored and compared."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def digest_matches(token: str, digest: str) -> bool:
    """Whether ``token`` hashes to ``digest`` (constant-time comparison)."""
    return hmac.compare_digest(token_digest(token), digest)


def mosquitto_hash(password: str, *, salt: bytes | None = None, iterations: int = MOSQUITTO_ITERATIONS) -> str:
    """``password`` hashed as Mosquitto 2 password files store it (PBKDF2-SHA512, ``$7$`` format)."""
    salt = secrets.token_bytes(MOSQUITTO_SALT_BYTES) if salt is None else salt
    derived = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, _MOSQUITTO_HASH_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(derived).decode()}"


def mosquitto_hash_matches(password: str, stored: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (as the broker checks it)."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except (ValueError, binascii.Error):
        return False
    derived = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(parts[2]), len(expected))
    return hmac.compare_digest(derived, expected)
