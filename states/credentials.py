"""Passwords (argon2id) and bearer tokens (random, kept only as their SHA-256).

A password is short and guessable, so it is stretched with argon2id (``argon2-cffi``'s
defaults, RFC 9106's second recommendation). A token is 32 random bytes: nothing can guess
it, so a plain SHA-256 is enough to keep a copied table from yielding a usable token, and
it lets a request find its token with one indexed lookup instead of an argon2 check per row.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
TOKEN_PREFIX = "qmas_"
# A hash of a random password: checking an unknown username costs as much as a known one.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches; an account without a password never matches.

    Every answer costs one argon2 check, whatever the reason it is no: no password stored,
    a wrong one, or a password that is not text argon2 can take (a lone surrogate, which
    UTF-8 cannot encode: it is checked with the surrogate escaped, and never matches)."""
    try:
        password.encode("utf-8")
        usable = True
    except UnicodeEncodeError:
        password, usable = password.encode("utf-8", "surrogatepass").decode("latin-1"), False
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None and usable
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """A fresh bearer token and the digest to store: ``(token, sha256 hex)``."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
