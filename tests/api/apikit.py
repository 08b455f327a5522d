"""The REST API under a real uvicorn server on 127.0.0.1, driven with httpx over HTTP.

Shared by the API tests (fixtures registered by tests/api/conftest.py).

`running(app)` serves an app in a background thread on a free port and stops it afterwards;
`Api` is one such server over a fresh SQLite file with the test staff
(`tests.factories.STAFF`), handing out bearer tokens (``issue_token``: no argon2) and
clients. The `api` fixture is one server per test on the frozen clock; a module may build a
longer-lived one with `serve_world` (see test_api_authz.py).

Passwords cost an argon2 hash (~50 ms) to set and a check to log in: the one hash of
`PASSWORD` is computed once and stored only in the accounts a test logs in as.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
import uvicorn
from fastapi import FastAPI

from console.web.app import create_app
from states.accounts import Accounts
from states.credentials import hash_password
from states.store import Store
from tests.factories import add_staff
from workflows import advance, create_case
from workflows.logins import issue_token

PASSWORD = "correct horse battery staple"
V1 = "/api/v1"
# The visa fee of 2023 (HK$230) for the applicant and the two dependants of the test files.
FEE_2023 = 690


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


@contextlib.contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port) until the block ends; yields the
    base URL once the server answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,  # leave the test process's logging alone (caplog sees qmas.api)
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            if not thread.is_alive():
                raise RuntimeError("the uvicorn thread ended before it served")
            if server.started:
                try:
                    if httpx.get(url + V1 + "/openapi.json", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not answer on {url} within 15 s")
            time.sleep(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive(), "the uvicorn thread did not stop"


@dataclass
class Api:
    """A running server over ``store``, and what tests need to talk to it."""

    url: str
    store: Store
    tokens: dict[str, str] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)
    acting: dict[str, httpx.Client] = field(default_factory=dict)

    def token(self, username: str) -> str:
        """A bearer token for ``username`` (issued once, 30 days)."""
        if username not in self.tokens:
            self.tokens[username] = issue_token(username, 30, by="tests", store=self.store).token
        return self.tokens[username]

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        c = httpx.Client(base_url=self.url + V1, headers=headers, timeout=30, **kwargs)
        self.clients.append(c)
        return c

    def as_(self, username: str) -> httpx.Client:
        """The client acting as ``username`` (bearer token; one per account, kept open)."""
        if username not in self.acting:
            self.acting[username] = self.client(self.token(username))
        return self.acting[username]

    def anonymous(self) -> httpx.Client:
        return self.client()

    def with_password(self, username: str) -> None:
        """Give ``username`` the password `PASSWORD` (the one hash, computed once)."""
        Accounts(self.store).set_password(username, password_hash(), by="tests", at=_at())

    def add_account(self, username: str, *roles: str) -> None:
        Accounts(self.store).add(username, roles, by="tests", at=_at())

    def close(self) -> None:
        for c in self.clients:
            c.close()


def _at() -> str:
    from workflows.clock import iso, now_utc

    return iso(now_utc())


@contextlib.contextmanager
def serve_store(path: Path) -> Iterator[Api]:
    """A fresh SQLite file at ``path`` with the test staff, served; yields the `Api`."""
    store = Store(f"sqlite:///{path}")
    store.init()
    add_staff(store)
    api: Api | None = None
    try:
        with running(create_app(store)) as url:
            api = Api(url, store)
            yield api
    finally:
        if api is not None:
            api.close()
        store.dispose()


@pytest.fixture
def api(tmp_path: Path, frozen_clock: time_machine.Traveller) -> Iterator[Api]:
    """One server per test over a fresh SQLite file, on the frozen clock (2023-06-01 HKT)."""
    with serve_store(tmp_path / "api.db") as server:
        yield server


# --- cases, made and moved in-process (setup is not what these tests test) -----------------
OVERSEAS_PATH: list[tuple[str, str, dict[str, Any] | None]] = [
    ("submit", "applicant", None),
    ("issue_file_number", "caseworker", None),
    ("shortlist", "caseworker", None),
    ("allot_quota", "committee", None),
    ("pay_fee", "caseworker", {"amount": FEE_2023, "method": "fps"}),
    ("issue_evisa", "supervisor", None),
]


def new_case(store: Store, data: dict[str, Any] | None = None) -> int:
    from tests.factories import overseas_application

    return create_case(data or overseas_application(), store=store)


def move(store: Store, case_id: int, upto: str, actors: dict[str, str]) -> None:
    """Move a case made by `new_case` (and moved only by this function) along
    `OVERSEAS_PATH` up to and including ``upto``; ``actors`` maps a role to the username
    acting in it."""
    triggers = [t for t, _, _ in OVERSEAS_PATH]
    with store.read() as tx:
        done = tx.load_case(case_id).version
    for trigger, role, data in OVERSEAS_PATH[done : triggers.index(upto) + 1]:
        advance(case_id, trigger, actors[role], role, data=data, store=store)


def eventually(check: Any, what: str, timeout: float = 5.0) -> None:
    """Wait until ``check()`` is true: for what the server does just after answering (the
    access record of a read, written by a background task). Fails naming ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.02)


def access_records(store: Store, case_id: int, count: int) -> list[dict[str, Any]]:
    """The case's access records, once there are ``count`` of them (reads are recorded just
    after their answer)."""
    accounts = Accounts(store)
    eventually(lambda: len(accounts.access_records(case_id)) >= count, f"{count} record(s)")
    return accounts.access_records(case_id)


def problem(response: httpx.Response) -> dict[str, Any]:
    """The error body every 4xx has: ``{"detail": str, "reasons": [str, ...]}``."""
    body = response.json()
    assert set(body) == {"detail", "reasons"}, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert isinstance(body["reasons"], list), body
    assert all(isinstance(r, str) for r in body["reasons"]), body
    return body
