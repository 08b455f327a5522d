"""The one authorization dependency of the web layer: a bearer token → the calling account.

Routes say which roles may call them (`need(...)`); the role a transition acts in is checked
by `workflows.authz.may_act`, the same function the CLI uses for ``--actor``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from states.accounts import Account
from states.errors import NotAuthenticated, NotAuthorized
from states.store import Store
from workflows.logins import authenticate

bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token.")


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def current_account(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Account:
    """The active account the request's bearer token stands for (401 otherwise)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("no bearer token: log in at POST /api/v1/auth/token")
    account = authenticate(credentials.credentials, store=store_of(request))
    request.state.username = account.username  # for the access log (never personal data)
    return account


Caller = Annotated[Account, Depends(current_account)]


def need(roles: frozenset[str], what: str) -> Callable[[Account], Account]:
    """A dependency: the caller must hold one of ``roles`` (403 with a sentence otherwise)."""

    def check(account: Caller) -> Account:
        if not any(r in roles for r in account.roles):
            held = ", ".join(account.roles) or "no role"
            wanted = ", ".join(sorted(roles))
            raise NotAuthorized(
                f"{what} needs one of the roles {wanted}; account '{account.username}' "
                f"holds: {held}"
            )
        return account

    return check
