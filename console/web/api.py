"""The JSON API under ``/api/v1``: the same functions as the CLI, behind bearer tokens.

Status codes are a contract: 401 no or bad token; 403 the account lacks the role; 404
unknown case; 409 stale ``If-Match``; 422 refused by a guard or bad input, with
``{"detail", "reasons"}``; 429 locked after repeated failed logins.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from console.web.security import Caller, in_db, need, store_of
from console.web.throttle import LoginGate
from states.accounts import Account, Accounts
from states.audit import verify
from states.catalogue import State
from states.errors import InvalidInput, NotAuthenticated, NotAuthorized, NotFound
from states.store import Store
from workflows.authz import CREATE_CASES, READ_CASES, REVEAL, VERIFY_AUDIT, may_act
from workflows.clock import iso, now_utc
from workflows.engine import advance, available_actions, create_case, preview
from workflows.logins import login
from workflows.names import Role, Trigger
from workflows.views import (
    MAX_ID,
    case_view,
    history,
    holding_document,
    list_cases,
    resolve_case,
    reveal_case,
)

router = APIRouter(prefix="/api/v1")
log = logging.getLogger("qmas.api")

Reader = Annotated[Account, Depends(need(READ_CASES, "reading cases"))]
Creator = Annotated[Account, Depends(need(CREATE_CASES, "creating a case"))]
Auditor = Annotated[Account, Depends(need(VERIFY_AUDIT, "verifying the audit chain"))]


async def each_key_once(request: Request) -> None:
    """A JSON body whose object repeats a key is refused (422), as `qmas` refuses such a file:
    a parser keeps the last silently, so ``"declaration_signed": true, …, false`` would read
    one way to us and another to whoever read the top of it."""
    from console.cli import loads_json

    raw = await request.body()
    if (
        raw
        and b'"' in raw
        and request.headers.get("content-type", "").startswith("application/json")
    ):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return  # FastAPI's own parser answers that
        try:
            loads_json(text, "body")
        except InvalidInput as err:
            if any("appears twice" in line for line in err.errors):
                raise


class Problem(BaseModel):
    """Every error: one sentence, and the reasons when there are several (a guard's refusal,
    each invalid field)."""

    detail: str
    reasons: list[str] = []


Responses = dict[int | str, dict[str, Any]]
# Every error response is a Problem (FastAPI's default 422 schema is not what is sent).
_AUTH: Responses = {
    401: {"model": Problem, "description": "No token, or a bad, expired or revoked one"},
    403: {"model": Problem, "description": "The account lacks the role"},
}
_ERRORS: Responses = {**_AUTH, 422: {"model": Problem, "description": "Bad input"}}
_CASE_ERRORS: Responses = {**_ERRORS, 404: {"model": Problem, "description": "No such case"}}
_TOO_LARGE: Responses = {413: {"model": Problem, "description": "The body is over 1 MB"}}


def _case_links(ref: str) -> dict[str, Any]:
    """OpenAPI links from a response naming a case (``ref``: a runtime expression) to what
    can be asked of that case next."""
    targets = {
        "GetCase": "getCase",
        "GetHistory": "getHistory",
        "GetActions": "getActions",
        "PreviewMove": "previewMove",
        "MoveCase": "moveCase",
    }
    return {name: {"operationId": op, "parameters": {"ref": ref}} for name, op in targets.items()}


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str


class Move(BaseModel):
    """What to do to a case, as whom: the same as ``qmas case advance``'s options. ``role``
    is the role the caller acts in: one its account holds, or ``applicant`` for a caseworker
    recording the applicant's own act; never ``system``."""

    model_config = ConfigDict(extra="forbid")
    trigger: Trigger = Field(examples=["shortlist"])
    role: Role = Field(examples=["caseworker"])
    reason: str | None = Field(default=None, max_length=4000)
    reason_code: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=10000)
    data: dict[str, Any] | None = None

    def asked(self, account: Account) -> tuple[str, str, str]:
        """``(trigger, actor, role)``, as `advance` and `preview` take them."""
        return self.trigger.value, account.username, self.role.value

    def extras(self) -> dict[str, Any]:
        """The optional inputs, as `advance` and `preview` take them."""
        return {
            "reason": self.reason,
            "reason_code": self.reason_code,
            "note": self.note,
            "data": self.data,
        }


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
    operation_id="login",
    openapi_extra=_LOGIN_BODY,
    responses={
        401: {"model": Problem, "description": "Wrong username or password"},
        422: {"model": Problem, "description": "Malformed body"},
        429: {
            "model": Problem,
            "description": "Locked after repeated failures",
            "headers": {
                "Retry-After": {
                    "description": "Seconds until the lock ends",
                    "schema": {"type": "integer"},
                }
            },
        },
        **_TOO_LARGE,
    },
)
async def token(request: Request) -> TokenOut:
    """Log in: a JSON ``{"username", "password"}`` or an OAuth2 password form → a token."""
    gate: LoginGate = request.app.state.login_gate
    client = request.client.host if request.client else "-"
    gate.check(client)
    body = await _login_body(request)
    async with gate.slot():
        try:
            issued = await run_in_threadpool(
                login, body.username, body.password, store=store_of(request)
            )
        except NotAuthenticated:
            gate.failed(client)
            raise
    request.state.username = issued.username  # for the access log
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at)


async def _login_body(request: Request) -> LoginBody:
    """The credentials, from JSON or an OAuth2 form. Error lines never quote what was sent:
    it holds a password."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        fields = {k: form.get(k) for k in ("username", "password")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise InvalidInput("the form needs the fields username and password")
        grant = form.get("grant_type")
        if grant is not None and grant != "password":
            raise InvalidInput("grant_type must be 'password'")
        source: Any = fields
    elif kind == "application/json" or kind.endswith("+json"):
        raw = await request.body()
        try:
            source = json.loads(raw or b"null")
        except (ValueError, RecursionError):
            raise InvalidInput("the body is not valid JSON") from None
    else:
        raise InvalidInput(
            "send the credentials as JSON (Content-Type: application/json) or as an OAuth2 "
            "password form (application/x-www-form-urlencoded)"
        )
    try:
        return LoginBody.model_validate(source)
    except ValidationError as err:
        raise InvalidInput(
            [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()]
        ) from None


def _pydantic_lines(err: Exception) -> list[str]:
    from pydantic import ValidationError

    from workflows.validation import format_errors

    if isinstance(err, ValidationError):
        return format_errors(err)
    return [str(err)]


def case_ref(store: Store, ref: str) -> int:
    """The case a path names (id or file number); 404 for anything that names none. The API's
    and the console's one reading of ``{ref}``.

    An id is taken as it is, without a query: whatever reads or moves the case next raises
    `NotFound` for an id that names none (one query fewer on every request)."""
    text = ref.strip()
    if text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        if len(digits) <= 19 and int(digits) <= MAX_ID:
            return int(digits)
    try:
        return resolve_case(ref, store=store)
    except InvalidInput:
        shown = ref.encode("ascii", "backslashreplace").decode()[:60]
        raise NotFound(f"no case '{shown}' (give a case id or a file number)") from None


def _case(request: Request, ref: str) -> int:
    return case_ref(store_of(request), ref)


def _cursor(text: str | None) -> int | None:
    """The id after which a page starts (a cursor past every id gives an empty page)."""
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise InvalidInput("cursor: not a cursor from a previous page's next_cursor")
    return min(int(text), MAX_ID)


@router.get(
    "/cases",
    response_model=Page,
    tags=["cases"],
    operation_id="listCases",
    responses={
        200: {"description": "A page", "links": _case_links("$response.body#/items/0/id")},
        **_ERRORS,
    },
)
async def cases(
    request: Request,
    account: Reader,
    state: Annotated[list[State] | None, Query(description="Repeat for several states.")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="File number, full travel document number, or name."),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(pattern="^[0-9]{0,19}$", description="A previous page's next_cursor."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page:
    """Cases, oldest first, a page at a time (pass ``next_cursor`` back as ``cursor``)."""
    states = [s.value for s in state] if state else None
    after, store = _cursor(cursor), store_of(request)
    # The full travel document number finds a case only for those who may reveal it: for
    # anyone else an exact-match search would unmask a masked number by trying its digits.
    by_document = any(r in REVEAL for r in account.roles)
    rows = await in_db(
        request,
        lambda: list_cases(
            states, store=store, limit=limit + 1, q=q, after=after, by_document=by_document
        ),
    )
    if by_document and q and rows:
        # A search that confirms a full travel document number reveals it: recorded as
        # such, before the answer, like a reveal (and refused, not served, if it cannot be).
        ids = [r["id"] for r in rows[:limit]]
        hits = await in_db(request, lambda: holding_document(ids, q, store=store))
        if hits:
            role = next(r for r in account.roles if r in REVEAL)
            at = iso(now_utc())
            records = [
                {
                    "case_id": case_id,
                    "account": account.username,
                    "role": role,
                    "action": "search",
                    "fields": ("travel_document_number",),
                    "via": "api",
                    "at": at,
                }
                for case_id in hits
            ]
            await in_db(request, lambda: Accounts(store).record_accesses(records), write=True)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=str(rows[-1]["id"]) if more else None)


@router.post(
    "/cases",
    dependencies=[Depends(each_key_once)],
    status_code=201,
    tags=["cases"],
    operation_id="createCase",
    responses={
        201: {"description": "The new case", "links": _case_links("$response.body#/id")},
        **_ERRORS,
        **_TOO_LARGE,
    },
)
async def new_case(
    request: Request,
    response: Response,
    account: Creator,
    application: Annotated[
        dict[str, Any], Body(description="The application file ('qmas schema application').")
    ],
) -> dict[str, Any]:
    """Create a draft case from an application file; 201 with the case."""
    store = store_of(request)

    def work() -> tuple[int, dict[str, Any]]:
        case_id = create_case(application, store=store)
        return case_id, case_view(case_id, store=store)

    case_id, view = await in_db(request, work, write=True)
    response.headers["Location"] = f"/api/v1/cases/{case_id}"
    response.headers["ETag"] = f'"{view["version"]}"'
    return view


@router.get(
    "/cases/{ref}",
    tags=["cases"],
    operation_id="getCase",
    responses={
        200: {"description": "The case", "links": _case_links("$response.body#/id")},
        **_CASE_ERRORS,
    },
)
async def show_case(
    request: Request,
    response: Response,
    ref: str,
    account: Reader,
    background: BackgroundTasks,
    reveal: Annotated[
        bool, Query(description="Unmask personal data (caseworker, supervisor; recorded).")
    ] = False,
) -> dict[str, Any]:
    """The case (``qmas case show --json``); personal data masked unless ``reveal``. Every
    read is kept as an access record (``qmas audit access CASE``)."""
    store = store_of(request)

    def work() -> dict[str, Any]:
        case_id = _case(request, ref)
        if not reveal:
            return case_view(case_id, store=store)
        role = next((r for r in account.roles if r in REVEAL), None)
        if role is None:
            raise NotAuthorized(
                "only a caseworker or supervisor may reveal personal data; account "
                f"'{account.username}' holds: {', '.join(account.roles)}"
            )
        return reveal_case(case_id, account.username, role, via="api", store=store)

    view = await in_db(request, work, write=reveal)
    if not reveal:  # a reveal is recorded before it is shown; a masked read, after
        background.add_task(record_read, request, view["id"], account, "case")
    response.headers["ETag"] = f'"{view["version"]}"'
    return view


def record_read(
    request: Request, case_id: int, account: Account, what: str, via: str = "api"
) -> None:
    """Keep who read a case (masked) for `qmas audit access`. Written after the answer, so
    that a read never waits for the write lock; a record that cannot be written yet (the
    database locked longer than its busy timeout) waits in this process and goes with the
    next one, its time unchanged."""
    role = next((r for r in account.roles if r in READ_CASES), account.roles[0])
    pending: list[dict[str, Any]] = request.app.state.unrecorded_reads
    record = {
        "case_id": case_id,
        "account": account.username,
        "role": role,
        "action": "read",
        "fields": (what,),
        "via": via,
        "at": iso(now_utc()),
    }
    with request.app.state.unrecorded_lock:  # background tasks run in several threads
        pending.append(record)
        try:
            Accounts(store_of(request)).record_accesses(pending)
        except Exception as err:  # kept for the next attempt; the answer is already sent
            log.warning("%d read(s) not recorded yet: %s", len(pending), type(err).__name__)
            return
        pending.clear()


@router.get(
    "/cases/{ref}/history", tags=["cases"], operation_id="getHistory", responses=_CASE_ERRORS
)
async def case_history(
    request: Request, ref: str, account: Reader, background: BackgroundTasks
) -> list[dict[str, Any]]:
    """The case's history, oldest first, with the hash chain (``qmas case history --json``);
    kept as an access record like a read of the case."""
    store = store_of(request)
    case_id = await in_db(request, lambda: _case(request, ref))
    rows = await in_db(request, lambda: history(case_id, store=store))
    background.add_task(record_read, request, case_id, account, "history")
    return rows


def acting_roles(account: Account) -> list[str]:
    roles = [r for r in account.roles if r in Role.__members__]
    if "caseworker" in roles:
        roles.append(Role.applicant.value)  # a caseworker records the applicant's own acts
    return roles


@router.get(
    "/cases/{ref}/actions", tags=["cases"], operation_id="getActions", responses=_CASE_ERRORS
)
async def case_actions(request: Request, ref: str, account: Reader) -> list[dict[str, Any]]:
    """What the caller can do now, for each of its roles, and why not where it cannot."""
    store = store_of(request)

    def work() -> list[dict[str, Any]]:
        case_id = _case(request, ref)
        out: list[dict[str, Any]] = []
        for role in acting_roles(account):
            for action in available_actions(case_id, role, actor=account.username, store=store):
                out.append({"role": role, **action.to_json()})
        return out

    return await in_db(request, work)


def _check_move(account: Account, move: Move) -> None:
    """The account must hold the role it acts in (or be a caseworker acting as applicant)."""
    may_act(account, account.username, move.role.value)


@router.post(
    "/cases/{ref}/preview",
    dependencies=[Depends(each_key_once)],
    tags=["transitions"],
    operation_id="previewMove",
    responses={**_CASE_ERRORS, **_TOO_LARGE},
)
async def preview_move(request: Request, ref: str, move: Move, account: Caller) -> dict[str, Any]:
    """What the transition would do (``qmas case preview --json``); writes nothing."""
    from notifications.preview import preview_report

    store = store_of(request)

    def work() -> dict[str, Any]:
        _check_move(account, move)  # before the case: a refusal tells nothing of which exist
        case_id = _case(request, ref)
        seen = preview(case_id, *move.asked(account), store=store, **move.extras())
        return preview_report(seen, store=store)

    return await in_db(request, work)


_VERSION = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


def _if_match(header: str | None) -> int | None:
    if header is None or header.strip() == "*":  # "*": any version (RFC 9110)
        return None
    match = _VERSION.match(header)
    if match is None:
        raise InvalidInput("If-Match: give the case's version, e.g. If-Match: 3")
    return int(match.group(1))


@router.post(
    "/cases/{ref}/transitions",
    dependencies=[Depends(each_key_once)],
    response_model=Moved,
    tags=["transitions"],
    operation_id="moveCase",
    responses={
        200: {"description": "The case moved", "links": _case_links("$response.body#/case")},
        **_CASE_ERRORS,
        409: {"model": Problem, "description": "If-Match is stale"},
        422: {"model": Problem, "description": "Refused by a guard, or bad input"},
        **_TOO_LARGE,
    },
)
async def transition(
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

    def work() -> Moved:
        _check_move(account, move)  # before the case: a refusal tells nothing of which exist
        case_id = _case(request, ref)
        done = advance(
            case_id,
            *move.asked(account),
            expected_version=_if_match(if_match),
            store=store,
            **move.extras(),
        )
        return Moved(
            case=done.case_id, version=done.version, state=done.to_state, history_id=done.history_id
        )

    moved = await in_db(request, work, write=True)
    response.headers["ETag"] = f'"{moved.version}"'
    return moved


@router.get(
    "/audit/verify",
    response_model=Verified,
    tags=["audit"],
    operation_id="verifyAudit",
    responses=_AUTH,
)
async def audit_verify(request: Request, response: Response, account: Auditor) -> Verified:
    """Recompute the whole hash chain, the case digests and the outbox (auditor, admin).

    The body keeps the issue's shape; header `X-QMAS-Audit-Key` names the key the chain was
    checked with (`none`: no key configured) and `X-QMAS-Audit-Warning` says what could not
    be checked."""
    # always in a worker thread: it reads every history row, seconds on a large database
    report = await run_in_threadpool(verify, store_of(request))
    first = report.problems[0] if report.problems else None
    key = store_of(request).key
    response.headers["X-QMAS-Audit-Key"] = key.id if key else "none"
    if report.warnings:
        response.headers["X-QMAS-Audit-Warning"] = report.warnings[0]
    return Verified(
        ok=report.ok,
        rows=report.rows,
        cases=report.cases,
        first_bad=first.row_id if first else None,
        problem=str(first) if first else None,
    )
