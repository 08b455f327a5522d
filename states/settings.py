"""Database settings (prefix ``QMAS_``). The default is an SQLite file in the working folder."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from states.errors import ConfigurationError


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QMAS_", extra="ignore")

    database_url: str = "sqlite:///./qmas.db"
    # SQLite waits this long for a writer's lock before giving up (milliseconds).
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0, le=600_000)  # at most 10 minutes
    pool_size: int = Field(default=5, ge=1, le=1000)


# The database URLs QMAS runs on (after `normalise_url`): SQLite files and psycopg 3.
SUPPORTED_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")
URL_HELP = "QMAS_DATABASE_URL must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and point them at psycopg 3.

    Any other kind of URL (``mysql://``, a bare path, an empty string) is a
    `ConfigurationError` naming the forms that work; the password is never repeated.
    """
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in SUPPORTED_SCHEMES:
        shown = f" (got {scheme[:40]!r})" if sep else ""
        raise ConfigurationError(f"{URL_HELP}{shown}")
    return url
