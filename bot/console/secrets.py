"""Passwords (argon2id) and random tokens (sessions, CSRF, API), kept only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id with the library's current recommended costs
# Verified against when the login is unknown, so a wrong login takes as long as a wrong
# password and the timing does not tell which logins exist.
_DUMMY = _HASHER.hash("not a password of anyone")
MIN_PASSWORD = 10
API_PREFIX = "ik_"


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password must have at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A generated password: 16 characters people can read out without confusion."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are 256 random bits: a plain SHA-256 is enough to keep them from being usable
    if the store leaks (no slow hash needed, unlike passwords)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
