"""The audit key: HMAC-SHA-256 over the history chain, kept outside the database.

Set ``QMAS_AUDIT_KEY`` (the key itself, at least 32 characters) or ``QMAS_AUDIT_KEY_FILE`` (a
file holding it, readable only by the service's user), not both. Whoever can write the
database but cannot read the key cannot append a row that verifies, nor recompute a chain.
The key's id (the first 16 hex digits of a SHA-256 of the key) is recorded in each row, so
that `audit verify` knows which key signed what; the key itself is never stored.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from states.chain import Key
from states.errors import ConfigurationError, InvalidInput

MIN_KEY_LENGTH = 32
MAX_KEY_LENGTH = 4096


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QMAS_", extra="ignore")

    audit_key: SecretStr | None = Field(default=None)
    audit_key_file: Path | None = None


def key_id(secret: bytes) -> str:
    return hashlib.sha256(b"qmas-audit-key:" + secret).hexdigest()[:16]


def make_key(text: str, where: str) -> Key:
    value = text.strip()
    if len(value) < MIN_KEY_LENGTH:
        raise ConfigurationError(
            f"{where}: the audit key must be at least {MIN_KEY_LENGTH} characters "
            f"(got {len(value)}); make one with: python -c 'import secrets; "
            "print(secrets.token_hex(32))'"
        )
    if len(value) > MAX_KEY_LENGTH or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ConfigurationError(
            f"{where}: the audit key must be one line of at most {MAX_KEY_LENGTH} characters"
        )
    secret = value.encode("utf-8")
    return Key(key_id(secret), secret)


def read_key_file(path: Path, where: str) -> Key:
    shown = str(path)[:80]
    try:
        if not path.exists():
            raise ConfigurationError(f"{where}: no key file at {shown}")
        if not path.is_file():  # a folder, a device such as /dev/zero, a FIFO: never read
            raise ConfigurationError(f"{where}: {shown} is not a regular file")
        with path.open("rb") as stream:
            raw = stream.read(MAX_KEY_LENGTH + 3)
    except OSError as err:
        raise ConfigurationError(f"{where}: cannot read {shown}: {err.strerror or err}") from None
    if len(raw) > MAX_KEY_LENGTH + 2:
        raise ConfigurationError(f"{where}: {path} is not a key file (too large)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigurationError(f"{where}: {path} is not a key file (not UTF-8 text)") from None
    return make_key(text, where)


def load_key(settings: AuditSettings | None = None) -> Key | None:
    """The configured audit key, or None; a `ConfigurationError` for a bad one."""
    s = settings or AuditSettings()
    if s.audit_key is not None and not s.audit_key.get_secret_value():
        s = s.model_copy(update={"audit_key": None})  # set but empty: not set
    if s.audit_key_file is not None and str(s.audit_key_file) in ("", "."):
        s = s.model_copy(update={"audit_key_file": None})
    if s.audit_key is not None and s.audit_key_file is not None:
        raise ConfigurationError(
            "QMAS_AUDIT_KEY and QMAS_AUDIT_KEY_FILE are both set: set one of them"
        )
    if s.audit_key is not None:
        return make_key(s.audit_key.get_secret_value(), "QMAS_AUDIT_KEY")
    if s.audit_key_file is not None:
        return read_key_file(s.audit_key_file, "QMAS_AUDIT_KEY_FILE")
    return None


def new_key_file(path: Path) -> Key:
    """Read the key at ``path``, or make a new random one there (owner-only permissions)."""
    if path.exists():
        try:
            return read_key_file(path, str(path))
        except ConfigurationError as err:
            raise InvalidInput(str(err)) from None
    secret = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as err:
        raise InvalidInput(f"cannot create the key file {path}: {err.strerror or err}") from None
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return make_key(secret, str(path))
