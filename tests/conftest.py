"""Shared fixtures: a real SQLite file per test, a PostgreSQL schema per test, a frozen clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import create_engine, text

from states.store import Store
from workflows.clock import HK

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

PG_URL = os.environ.get("QMAS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# A Thursday in the seed era (gpt-2023 rules, HK$230 fee); tests never read the real date.
FROZEN_AT = datetime(2023, 6, 1, 10, 0, tzinfo=HK)


def _pg_unavailable() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as err:  # any failure means: no server to test against
        return f"PostgreSQL not reachable at {PG_URL} ({type(err).__name__}); set QMAS_TEST_PG_URL"


_PG_REASON = _pg_unavailable()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's test harness, started once for the whole session (it takes 10-20 s)."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def frozen_clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(FROZEN_AT, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/qmas.db"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    s.init()
    yield s
    s.dispose()


def make_pg_store() -> tuple[Store, str]:
    """A Store on a fresh schema of the test database (caller drops it with drop_pg_schema)."""
    if _PG_REASON:
        pytest.skip(_PG_REASON)
    schema = f"qmas_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = create_engine(
        PG_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_size=10
    )
    s = Store(engine=engine)
    s.init()
    return s, schema


def drop_pg_schema(s: Store, schema: str) -> None:
    s.dispose()
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def pg_store() -> Iterator[Store]:
    s, schema = make_pg_store()
    yield s
    drop_pg_schema(s, schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Store]:
    """The same test on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        s = Store(sqlite_url)
        s.init()
        yield s
        s.dispose()
    else:
        s, schema = make_pg_store()
        yield s
        drop_pg_schema(s, schema)
