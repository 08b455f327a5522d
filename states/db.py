"""Engines for SQLite (WAL, busy timeout, ``BEGIN IMMEDIATE`` writes) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import sqlite3
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from states.errors import ConfigurationError
from states.settings import URL_HELP, DatabaseSettings, normalise_url

# Execution option naming how an SQLite transaction begins. Writes take the lock up front
# (IMMEDIATE): a deferred read-then-write transaction fails at once with "database is locked"
# instead of waiting its turn. Reads begin DEFERRED so they never queue behind writers (WAL).
BEGIN_MODE = "qmas_begin"


def make_engine(url: str | None = None, settings: DatabaseSettings | None = None) -> Engine:
    """An engine for ``url`` (default: QMAS_DATABASE_URL); `ConfigurationError` if unusable."""
    if settings is None:
        try:
            settings = DatabaseSettings()
        except ValidationError as err:
            first = err.errors()[0]
            name = "QMAS_" + "_".join(str(p) for p in first["loc"]).upper()
            raise ConfigurationError(f"{name}: {first['msg']}") from None
    url = normalise_url(url or settings.database_url)
    try:
        if url.startswith("sqlite"):
            return _sqlite_engine(url, settings)
        # No pre-ping: it costs a round trip on every checkout, i.e. every transition. Recycle
        # connections instead so a server-side idle timeout never bites.
        return create_engine(url, pool_size=settings.pool_size, pool_recycle=1800)
    except Exception as err:  # ArgumentError, NoSuchModuleError, a bad port (ValueError), ...
        detail = str(err).replace(url, "the URL")  # the URL may hold a password
        raise ConfigurationError(f"{URL_HELP} ({type(err).__name__}: {detail})") from None


def _sqlite_engine(url: str, settings: DatabaseSettings) -> Engine:
    busy = settings.sqlite_busy_timeout_ms
    kwargs: dict[str, Any] = {"connect_args": {"timeout": busy / 1000, "check_same_thread": False}}
    if ":memory:" in url:
        kwargs["poolclass"] = NullPool
    # Every transaction ends itself (SQLAlchemy's Connection on close, Store.transition by
    # COMMIT or ROLLBACK), so the pool's rollback on each check-in would only repeat it.
    kwargs["pool_reset_on_return"] = None
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        # SQLite's lower() folds ASCII only: 'MARTÍNEZ' would never match 'martínez'.
        dbapi_conn.create_function("qmas_fold", 1, _fold, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(BEGIN_MODE, "IMMEDIATE")
        # Straight to the driver: a full SQLAlchemy execution costs more than the BEGIN. So
        # wrap its errors ("database is locked") the way SQLAlchemy wraps everything else.
        try:
            conn.connection.driver_connection.execute(f"BEGIN {mode}")
        except sqlite3.Error as err:
            raise DBAPIError.instance(f"BEGIN {mode}", None, err, sqlite3.Error) from err

    return engine


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def describe(engine: Engine) -> str:
    """The database URL without its password, for messages and logs."""
    return engine.url.render_as_string(hide_password=True)
