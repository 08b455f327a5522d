"""The one authorization dependency of the web layer: a bearer token → the calling account.

Routes say which roles may call them (`need(...)`); the role a transition acts in is checked
by `workflows.authz.may_act`, the same function the CLI uses for ``--actor``.

Database work runs through `in_db`: on SQLite, inline in the event loop (SQLite is a library
call, a few hundred microseconds, and its writers are serial anyway: a hop to a worker thread
and back costs more than the call, and threads only queue on the file lock); on PostgreSQL,
in a worker thread (a round trip over the network must not stall the loop).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from states.accounts import Account
from states.errors import NotAuthenticated, NotAuthorized
from states.store import Store
from workflows.logins import authenticate

bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token.")
T = TypeVar("T")


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def in_db(request: Request, work: Callable[[], T]) -> T:
    """``work()``, which reads or writes the database: inline on SQLite, in a worker thread
    on any other database (see the module's docstring)."""
    if store_of(request).dialect == "sqlite":
        return work()
    return await run_in_threadpool(work)


async def current_account(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Account:
    """The active account the request's bearer token stands for (401 otherwise)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("no bearer token: log in at POST /api/v1/auth/token")
    token, store = credentials.credentials, store_of(request)
    account = await in_db(request, lambda: authenticate(token, store=store))
    request.state.username = account.username  # for the access log (never personal data)
    return account


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
