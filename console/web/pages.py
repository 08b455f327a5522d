"""The console's pages that every other page stands on: log in, log out, the language switch.

The staff pages live beside this module (`console/web/work_pages.py`, `action_pages.py`,
`audit_pages.py`) and the public status enquiry in `enquiry.py`; all render through
`console.web.render` and check CSRF with `console.web.session.check_csrf`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from console.web.render import render
from console.web.security import in_db, store_of
from console.web.session import (
    LANG_COOKIE,
    LANGUAGES,
    SESSION_COOKIE,
    check_csrf,
    cookie_options,
    local_path,
    page_account,
)
from states.accounts import Accounts
from states.credentials import token_digest
from states.errors import NotAuthenticated, TooManyAttempts
from states.store import Store
from workflows.clock import iso, now_utc
from workflows.logins import login

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/work", status_code=303)


@router.get("/login")
async def login_form(request: Request, next: str = "/work") -> Response:
    account = await page_account(request)
    if account is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return render(request, "login.html", next=local_path(next), username="")


@router.post("/login")
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/work",
) -> Response:
    check_csrf(request, csrf_token)
    store = store_of(request)
    gate = request.app.state.login_gate
    client = request.client.host if request.client else "unknown"
    gate.check(client)
    try:
        async with gate.slot():
            issued = await in_db(
                request, lambda: login(username, password, store=store), write=True
            )
    except TooManyAttempts as err:
        gate.failed(client)
        refused = render(
            request, "login.html", status=429, error=str(err), next=local_path(next),
            username=username[:64],
        )  # fmt: skip
        refused.headers["Retry-After"] = str(err.retry_after)
        return refused
    except NotAuthenticated:
        gate.failed(client)
        return render(
            request, "login.html", status=401, error_key="login.failed", next=local_path(next),
            username=username[:64],
        )  # fmt: skip
    response = RedirectResponse(local_path(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, issued.token, **cookie_options(request))
    return response


@router.post("/logout")
async def logout(
    request: Request, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    check_csrf(request, csrf_token)
    account = await page_account(request)
    token = request.cookies.get(SESSION_COOKIE)
    if account is not None and token:
        store = store_of(request)
        await in_db(request, lambda: _end_session(store, token, account.username), write=True)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _end_session(store: Store, token: str, username: str) -> None:
    accounts = Accounts(store)
    found = accounts.by_token(token_digest(token))
    if found is not None:
        accounts.revoke_token(found[0].id, by=username, at=iso(now_utc()))


@router.get("/lang/{code}")
async def switch_language(request: Request, code: str, next: str = "/work") -> Response:
    response = RedirectResponse(local_path(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, code, max_age=365 * 86400, **{**cookie_options(request), "httponly": False}
        )
    return response
