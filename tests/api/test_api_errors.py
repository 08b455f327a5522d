"""The API answers every database and input failure with a JSON problem, never a 500 traceback.

The failures are the drivers' own (PostgreSQL where the error is PostgreSQL's), raised where
the view function would run, in the process that serves the API (a uvicorn thread).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import create_engine, text

from console.web.app import create_app
from states.store import Store
from tests.api.apikit import V1, Api, running
from tests.conftest import _PG_REASON, PG_URL


@pytest.fixture
def client(api: Api) -> httpx.Client:
    return api.as_("officer.lam")


def failing(error: BaseException | Callable[[], Any]) -> Callable[..., Any]:
    def run(*_args: Any, **_kwargs: Any) -> Any:
        if isinstance(error, BaseException):
            raise error
        return error()

    return run


def problem(response: Any, status: int, contains: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "reasons"}, body
    assert contains in body["detail"], body
    assert "Traceback" not in response.text


def pg_statement(statement: str, **params: Any) -> Callable[[], Any]:
    def run() -> Any:
        engine = create_engine(PG_URL)
        try:
            with engine.connect() as conn:
                conn.execute(text("CREATE TEMP TABLE t (x varchar(5))"))
                conn.execute(text(statement), params)
        finally:
            engine.dispose()

    return run


@pytest.mark.parametrize(
    ("statement", "params", "status", "contains"),
    [
        ("INSERT INTO t VALUES (:x)", {"x": "x" * 41}, 422, "longer than the database allows"),
        ("SELECT :x", {"x": "a\x00b"}, 422, "NUL character"),
        ("SELECT * FROM no_such_qmas_table", {}, 503, "run 'qmas init'"),
    ],
    ids=["value-too-long", "nul", "no-tables"],
)
def test_postgresql_errors_are_json_problems(
    client: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
    statement: str,
    params: dict[str, Any],
    status: int,
    contains: str,
) -> None:
    if _PG_REASON:
        pytest.skip(_PG_REASON)
    monkeypatch.setattr("console.web.api.list_cases", failing(pg_statement(statement, **params)))
    problem(client.get("/cases"), status, contains)


def test_an_sqlite_file_without_tables_is_a_503_naming_qmas_init(
    tmp_path: Path, frozen_clock: time_machine.Traveller
) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    store = Store(f"sqlite:///{empty}")
    try:
        with running(create_app(store)) as url:
            login = {"username": "officer.lam", "password": "b" * 12}
            response = httpx.post(url + V1 + "/auth/token", json=login, timeout=30)
            problem(response, 503, "run 'qmas init'")
    finally:
        store.dispose()


def test_a_unique_evisa_number_taken_meanwhile_is_409(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import IntegrityError

    orig = sqlite3.IntegrityError("UNIQUE constraint failed: applications.evisa_number")
    error = IntegrityError("UPDATE applications ...", {}, orig)
    monkeypatch.setattr("console.web.api.list_cases", failing(error))
    problem(client.get("/cases"), 409, "the e-Visa number drawn is already taken")


@pytest.mark.parametrize(
    ("error", "contains"),
    [
        (OverflowError("date value out of range"), "a number or date is too large"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
        (ValueError("Exceeds the limit (4300 digits) for integer string conversion"), "4300"),
    ],
    ids=["overflow", "recursion", "digit-limit"],
)
def test_input_too_large_for_python_is_422(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch, error: Exception, contains: str
) -> None:
    monkeypatch.setattr("console.web.api.list_cases", failing(error))
    problem(client.get("/cases"), 422, contains)


def test_a_database_locked_is_503_with_retry_after(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    error = OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
    monkeypatch.setattr("console.web.api.list_cases", failing(error))
    response = client.get("/cases")
    problem(response, 503, "busy")
    assert response.headers["Retry-After"] == "1"


def test_a_body_that_repeats_a_key_is_refused_like_the_cli_refuses_a_file(
    client: httpx.Client, api: Api
) -> None:
    """`{"declaration_signed": true, …, "declaration_signed": false}`: a parser keeps the last
    value silently; the API refuses the body (422) and writes nothing, as `qmas case new` does."""
    from tests.factories import application

    body = json.dumps(application())[:-1] + ', "declaration_signed": false}'
    response = client.post("/cases", content=body, headers={"content-type": "application/json"})
    problem(response, 422, "the key 'declaration_signed' appears twice")
    assert client.get("/cases").json()["items"] == []
