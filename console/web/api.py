"""The JSON API under ``/api/v1``: the same functions as the CLI, behind bearer tokens.

Status codes are a contract: 401 no or bad token; 403 the account lacks the role; 404
unknown case; 409 stale ``If-Match``; 422 refused by a guard or bad input, with
``{"detail", "reasons"}``; 429 locked after repeated failed logins.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from console.web.security import Caller, need, store_of
from states.accounts import Account
from states.audit import verify
from states.errors import InvalidInput, NotAuthorized, NotFound
from workflows.authz import CREATE_CASES, READ_CASES, REVEAL, VERIFY_AUDIT, may_act
from workflows.engine import advance, available_actions, create_case, preview
from workflows.logins import login
from workflows.names import Role
from workflows.views import MAX_ID, case_view, history, list_cases, resolve_case, reveal_case

router = APIRouter(prefix="/api/v1")

Reader = Annotated[Account, Depends(need(READ_CASES, "reading cases"))]
Creator = Annotated[Account, Depends(need(CREATE_CASES, "creating a case"))]
Auditor = Annotated[Account, Depends(need(VERIFY_AUDIT, "verifying the audit chain"))]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No token, or a bad, expired or revoked one"},
    403: {"description": "The account lacks the role"},
}
_CASE_ERRORS: dict[int | str, dict[str, Any]] = {**_ERRORS, 404: {"description": "No such case"}}


class Problem(BaseModel):
    detail: str
    reasons: list[str] = []


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str


class Move(BaseModel):
    """What to do to a case, as whom: the same as ``qmas case advance``'s options."""

    model_config = ConfigDict(extra="forbid")
    trigger: str = Field(max_length=64, examples=["shortlist"])
    role: str = Field(max_length=32, examples=["caseworker"])
    reason: str | None = Field(default=None, max_length=4000)
    reason_code: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=10000)
    data: dict[str, Any] | None = None


class Moved(BaseModel):
    case: int
    version: int
    state: str
    history_id: int


class Page(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


class Verified(BaseModel):
    ok: bool
    rows: int
    cases: int
    first_bad: int | None
    problem: str | None


_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginBody.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password"]},
                        "username": {"type": "string"},
                        "password": {"type": "string"},
                    },
                    "required": ["username", "password"],
                }
            },
        },
    }
}


@router.post(
    "/auth/token",
    response_model=TokenOut,
    tags=["auth"],
    openapi_extra=_LOGIN_BODY,
    responses={
        401: {"model": Problem, "description": "Wrong username or password"},
        422: {"model": Problem, "description": "Malformed body"},
        429: {"model": Problem, "description": "Locked after repeated failures"},
    },
)
async def token(request: Request) -> TokenOut:
    """Log in: a JSON ``{"username", "password"}`` or an OAuth2 password form → a token."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded" or kind == "multipart/form-data":
        form = await request.form()
        fields = {k: form.get(k) for k in ("username", "password")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise InvalidInput("the form needs the fields username and password")
        grant = form.get("grant_type")
        if grant is not None and grant != "password":
            raise InvalidInput("grant_type must be 'password'")
        body = LoginBody.model_validate(fields)
    else:
        raw = await request.body()
        try:
            body = LoginBody.model_validate_json(raw or b"null")
        except ValueError as err:
            raise InvalidInput(_pydantic_lines(err)) from None
    issued = await run_in_threadpool(login, body.username, body.password, store=store_of(request))
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at)


def _pydantic_lines(err: Exception) -> list[str]:
    from pydantic import ValidationError

    from workflows.validation import format_errors

    if isinstance(err, ValidationError):
        return format_errors(err)
    return [str(err)]


def _case(request: Request, ref: str) -> int:
    """The case a path names (id or file number); 404 for anything that names none."""
    try:
        return resolve_case(ref, store=store_of(request))
    except InvalidInput:
        shown = ref.encode("ascii", "backslashreplace").decode()[:60]
        raise NotFound(f"no case '{shown}' (give a case id or a file number)") from None


def _cursor(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_ID:
        raise InvalidInput("cursor: not a cursor from a previous page's next_cursor")
    return int(text)


@router.get("/cases", response_model=Page, tags=["cases"], responses=_ERRORS)
def cases(
    request: Request,
    account: Reader,
    state: Annotated[list[str] | None, Query(description="Repeat for several states.")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="File number, full travel document number, or name."),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page:
    """Cases, oldest first, a page at a time (pass ``next_cursor`` back as ``cursor``)."""
    rows = list_cases(
        state or None, store=store_of(request), limit=limit + 1, q=q, after=_cursor(cursor)
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=str(rows[-1]["id"]) if more else None)


@router.post(
    "/cases",
    status_code=201,
    tags=["cases"],
    responses={**_ERRORS, 422: {"model": Problem}},
)
def new_case(
    request: Request,
    response: Response,
    account: Creator,
    application: Annotated[
        dict[str, Any], Body(description="The application file ('qmas schema application').")
    ],
) -> dict[str, Any]:
    """Create a draft case from an application file; 201 with the case."""
    store = store_of(request)
    case_id = create_case(application, store=store)
    view = case_view(case_id, store=store)
    response.headers["Location"] = f"/api/v1/cases/{case_id}"
    response.headers["ETag"] = f'"{view["version"]}"'
    return view


@router.get("/cases/{ref}", tags=["cases"], responses=_CASE_ERRORS)
def show_case(
    request: Request,
    response: Response,
    ref: str,
    account: Reader,
    reveal: Annotated[
        bool, Query(description="Unmask personal data (caseworker, supervisor; recorded).")
    ] = False,
) -> dict[str, Any]:
    """The case (``qmas case show --json``); personal data masked unless ``reveal``."""
    store = store_of(request)
    case_id = _case(request, ref)
    if reveal:
        role = next((r for r in account.roles if r in REVEAL), None)
        if role is None:
            raise NotAuthorized(
                "only a caseworker or supervisor may reveal personal data; account "
                f"'{account.username}' holds: {', '.join(account.roles)}"
            )
        view = reveal_case(case_id, account.username, role, via="api", store=store)
    else:
        view = case_view(case_id, store=store)
    response.headers["ETag"] = f'"{view["version"]}"'
    return view


@router.get("/cases/{ref}/history", tags=["cases"], responses=_CASE_ERRORS)
def case_history(request: Request, ref: str, account: Reader) -> list[dict[str, Any]]:
    """The case's history, oldest first, with the hash chain (``qmas case history --json``)."""
    return history(_case(request, ref), store=store_of(request))


def _acting_roles(account: Account) -> list[str]:
    roles = [r for r in account.roles if r in Role.__members__]
    if "caseworker" in roles:
        roles.append(Role.applicant.value)  # a caseworker records the applicant's own acts
    return roles


@router.get("/cases/{ref}/actions", tags=["cases"], responses=_CASE_ERRORS)
def case_actions(request: Request, ref: str, account: Reader) -> list[dict[str, Any]]:
    """What the caller can do now, for each of its roles, and why not where it cannot."""
    store = store_of(request)
    case_id = _case(request, ref)
    out: list[dict[str, Any]] = []
    for role in _acting_roles(account):
        for action in available_actions(case_id, role, actor=account.username, store=store):
            out.append({"role": role, **action.to_json()})
    return out


def _check_move(account: Account, move: Move) -> None:
    """The account must hold the role it acts in (or be a caseworker acting as applicant)."""
    try:
        Role(move.role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(f"role: unknown role; roles: {allowed}") from None
    may_act(account, account.username, move.role)


@router.post(
    "/cases/{ref}/preview",
    tags=["transitions"],
    responses={**_CASE_ERRORS, 422: {"model": Problem}},
)
def preview_move(request: Request, ref: str, move: Move, account: Caller) -> dict[str, Any]:
    """What the transition would do (``qmas case preview --json``); writes nothing."""
    from notifications.preview import preview_report

    store = store_of(request)
    case_id = _case(request, ref)
    _check_move(account, move)
    seen = preview(
        case_id,
        move.trigger,
        account.username,
        move.role,
        reason=move.reason,
        reason_code=move.reason_code,
        note=move.note,
        data=move.data,
        store=store,
    )
    return preview_report(seen, store=store)


_VERSION = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


def _if_match(header: str | None) -> int | None:
    if header is None or header.strip() == "":
        return None
    match = _VERSION.match(header)
    if match is None:
        raise InvalidInput("If-Match: give the case's version, e.g. If-Match: 3")
    return int(match.group(1))


@router.post(
    "/cases/{ref}/transitions",
    response_model=Moved,
    tags=["transitions"],
    responses={
        **_CASE_ERRORS,
        409: {"model": Problem, "description": "If-Match is stale"},
        422: {"model": Problem, "description": "Refused by a guard, or bad input"},
    },
)
def transition(
    request: Request,
    response: Response,
    ref: str,
    move: Move,
    account: Caller,
    if_match: Annotated[
        str | None, Header(description="The version the caller saw; 409 if it moved since.")
    ] = None,
) -> Moved:
    """Move the case by one trigger as the caller, in ``role``."""
    store = store_of(request)
    case_id = _case(request, ref)
    _check_move(account, move)
    done = advance(
        case_id,
        move.trigger,
        account.username,
        move.role,
        expected_version=_if_match(if_match),
        reason=move.reason,
        reason_code=move.reason_code,
        note=move.note,
        data=move.data,
        store=store,
    )
    response.headers["ETag"] = f'"{done.version}"'
    return Moved(
        case=done.case_id, version=done.version, state=done.to_state, history_id=done.history_id
    )


@router.get("/audit/verify", response_model=Verified, tags=["audit"], responses=_ERRORS)
def audit_verify(request: Request, account: Auditor) -> Verified:
    """Recompute the whole hash chain (auditor, admin)."""
    report = verify(store_of(request))
    first = report.problems[0] if report.problems else None
    return Verified(
        ok=report.ok,
        rows=report.rows,
        cases=report.cases,
        first_bad=first.row_id if first else None,
        problem=str(first) if first else None,
    )
