"""The one authorization dependency of the web layer: a bearer token → the calling account.

Routes say which roles may call them (`need(...)`); the role a transition acts in is checked
by `workflows.authz.may_act`, the same function the CLI uses for ``--actor``. Database work
runs through `in_db` (where, and why, is in its docstring).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import BackgroundTasks, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from states.accounts import Account
from states.errors import NotAuthenticated, NotAuthorized
from states.store import Store
from workflows.logins import check_token, touch_token

bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token.")
T = TypeVar("T")
log = logging.getLogger("qmas.api")


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def in_db(request: Request, work: Callable[[], T], *, write: bool = False) -> T:
    """``work()``, which reads (or, with ``write``, writes) the database.

    SQLite: inline in the event loop. A statement is a library call of a few hundred
    microseconds and SQLite has one writer: a hop to a worker thread and back cost more than
    the call (measured: 592 against 404 transitions/s, bench/api.py), and threads would only
    queue on the file lock. The price: while another process holds the write lock (a batch
    of the flows, the CLI), a write here waits, and the loop with it, for that transaction to
    end (at most QMAS_SQLITE_BUSY_TIMEOUT_MS, then 503); reads never take the lock (WAL),
    and the token's last use is written after the answer (`current_account`).
    PostgreSQL: in worker threads (a network round trip must not stall the loop)."""
    del write  # the same path on SQLite; kept so that callers say what they do
    if store_of(request).dialect == "sqlite":
        return work()
    return await run_in_threadpool(work)


async def current_account(
    request: Request,
    background: BackgroundTasks,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Account:
    """The active account the request's bearer token stands for (401 otherwise).

    The token's last use is recorded after the answer is sent (at most once a minute per
    token), so that a read never waits for SQLite's write lock."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("no bearer token: log in at POST /api/v1/auth/token")
    token, store = credentials.credentials, store_of(request)
    account, stale = await in_db(request, lambda: check_token(token, store=store))
    if stale is not None:
        background.add_task(_touch, store, stale)
    request.state.username = account.username  # for the access log (never personal data)
    return account


def _touch(store: Store, token_id: int) -> None:
    """Best effort: a busy database only delays the last-use time to a later request."""
    try:
        touch_token(token_id, store=store)
    except Exception as err:  # a locked or unreachable database: nothing the caller awaits
        log.warning("token last-use not recorded: %s", type(err).__name__)


Caller = Annotated[Account, Depends(current_account)]


def need(roles: frozenset[str], what: str) -> Callable[[Account], Coroutine[Any, Any, Account]]:
    """A dependency: the caller must hold one of ``roles`` (403 with a sentence otherwise)."""

    async def check(account: Caller) -> Account:  # no I/O: no worker thread
        if not any(r in roles for r in account.roles):
            held = ", ".join(account.roles) or "no role"
            wanted = ", ".join(sorted(roles))
            raise NotAuthorized(
                f"{what} needs one of the roles {wanted}; account '{account.username}' "
                f"holds: {held}"
            )
        return account

    return check
