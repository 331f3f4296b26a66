"""Operator password hashes: PBKDF2-SHA256 from hashlib, self-describing and salted.

Format: `pbkdf2_sha256$<iterations>$<salt base64>$<hash base64>`, so the work factor can be
raised later without breaking hashes already in a config file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

ALGORITHM = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
MIN_RECOMMENDED_ITERATIONS = 100_000
MAX_ITERATIONS = 20_000_000  # a typo must not make every login take minutes
SALT_BYTES = 16


@dataclass(frozen=True, slots=True)
class PasswordHash:
    iterations: int
    salt: bytes
    digest: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded.encode("ascii"), validate=True)


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS,
                  salt: bytes | None = None) -> str:
    """The encoded hash of `password` with a fresh random salt."""
    if not password:
        raise ValueError("the password is empty")
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be 1 to {MAX_ITERATIONS}, got {iterations}")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{ALGORITHM}${iterations}${_b64(salt)}${_b64(digest)}"


def parse_password_hash(encoded: str) -> PasswordHash:
    """Split an encoded hash; ValueError says what is wrong with it."""
    parts = encoded.strip().split("$")
    if len(parts) != 4 or parts[0] != ALGORITHM:
        raise ValueError(f"expected {ALGORITHM}$iterations$salt$hash "
                         "(the output of `tom hash-password`)")
    if not parts[1].isdigit() or not 1 <= int(parts[1]) <= MAX_ITERATIONS:
        raise ValueError(f"iterations {parts[1]!r} is not a number from 1 to {MAX_ITERATIONS}")
    try:
        salt, digest = _unb64(parts[2]), _unb64(parts[3])
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ValueError("salt or hash is not valid base64") from None
    if not salt or len(digest) != hashlib.sha256().digest_size:
        raise ValueError("salt is empty or the hash is not 32 bytes of SHA-256")
    return PasswordHash(int(parts[1]), salt, digest)


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches `encoded`; a malformed hash never matches."""
    try:
        parsed = parse_password_hash(encoded)
    except ValueError:
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8", "surrogatepass"),
                                    parsed.salt, parsed.iterations)
    return hmac.compare_digest(candidate, parsed.digest)
