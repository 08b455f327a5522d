"""Database settings (prefix ``QMAS_``). The default is an SQLite file in the working folder."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QMAS_", extra="ignore")

    database_url: str = "sqlite:///./qmas.db"
    # SQLite waits this long for a writer's lock before giving up (milliseconds).
    sqlite_busy_timeout_ms: int = 30_000
    pool_size: int = 5


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and point them at psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
