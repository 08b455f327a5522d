"""The FastAPI application (`qmas serve`): the JSON API today, the staff console next.

Every error a client can cause becomes a status and ``{"detail", "reasons"}``, never a 500:
the engine's `QmasError` tree maps to 401/403/404/409/422/429, FastAPI's own validation (and
a body it cannot parse) to 422, a body over 1 MB to 413, a busy database to 503, a value the
database refuses (too long, a NUL) to 422, a unique number taken meanwhile to 409, input too
large for Python (a number, a date, nesting) to 422. The access log (`Guard`) names method,
path, status, time and account, never a query string (a search may hold a travel document
number) nor a body; an unexpected error is logged by its type and place, never its message.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.web import action_pages, audit_pages, enquiry, pages, work_pages
from console.web.api import router
from console.web.render import render_error
from console.web.session import ConsoleSettings, CsrfRefused, LoginRequired, login_redirect
from console.web.throttle import LoginGate
from states.accounts import Accounts
from states.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    QmasError,
    TooManyAttempts,
    TransitionNotAllowed,
)
from states.store import Store
from workflows.authz import AuthSettings
from workflows.engine import default_store

log = logging.getLogger("qmas.api")
MAX_BODY = 1_000_000  # bytes: an application file is a few kilobytes

_STATUS: list[tuple[type[QmasError], int]] = [
    (CsrfRefused, 403),
    (TooManyAttempts, 429),
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TransitionNotAllowed, 422),
    (InvalidInput, 422),
]


def _problem(
    status: int,
    detail: str,
    reasons: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    return JSONResponse(
        {"detail": detail, "reasons": reasons or []}, status_code=status, headers=headers or None
    )


async def _qmas_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, QmasError)
    status = next((code for kind, code in _STATUS if isinstance(err, kind)), 500)
    reasons: list[str] = []
    if isinstance(err, TransitionNotAllowed):
        reasons = err.reasons
    elif isinstance(err, InvalidInput):
        reasons = err.errors
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(err, TooManyAttempts):
        headers["Retry-After"] = str(err.retry_after)
    if status == 500:
        log.error("server error: %s", type(err).__name__)
    if _is_page(request):
        return render_error(request, status, str(err), reasons, headers=headers)
    return _problem(status, str(err), reasons, headers)


def _is_page(request: Request) -> bool:
    """A console page (HTML answers), not the JSON API."""
    return not request.url.path.startswith("/api/")


async def _login_required(request: Request, err: Exception) -> Response:
    assert isinstance(err, LoginRequired)
    return RedirectResponse(login_redirect(err.next_path), status_code=303)


async def _validation_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, RequestValidationError)
    reasons = []
    for e in err.errors():
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        reasons.append(f"{where}: {e.get('msg', 'invalid')}")
    if _is_page(request):
        return render_error(request, 422, "invalid input", reasons)
    return _problem(422, "invalid input: " + "; ".join(reasons), reasons)


async def _http_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, StarletteHTTPException)
    if err.status_code == 400:  # a body FastAPI could not parse (nested too deeply, a bad form)
        detail = f"invalid input: {err.detail}"
        if _is_page(request):
            return render_error(request, 422, detail)
        return _problem(422, detail, [str(err.detail)], headers=dict(err.headers or {}))
    if _is_page(request):
        return render_error(request, err.status_code, str(err.detail))
    return _problem(err.status_code, str(err.detail), headers=dict(err.headers or {}))


_OLDER_SCHEMA = "the database was made by an earlier release; run 'qmas init' to upgrade it"


async def _database_busy(request: Request, err: Exception) -> Response:
    log.warning("database unavailable: %s", type(err).__name__)
    if "no such table" in str(getattr(err, "orig", None) or err):  # SQLite: never initialised
        return _problem(503, "the database has no QMAS tables yet; run 'qmas init'")
    if "no such column" in str(getattr(err, "orig", None) or err):  # an older release's schema
        return _problem(503, _OLDER_SCHEMA)
    return _problem(
        503, "the database is busy or unavailable; try again", headers={"Retry-After": "1"}
    )


async def _database_error(request: Request, err: Exception) -> Response:
    """A database error that is not the database being busy: the client's value that the
    database refused (422), a unique value taken meanwhile (409: make the request again), or
    tables missing (503). Logged by type only: the message may quote the request's data."""
    raw = str(getattr(err, "orig", None) or err).lower()
    log.warning("database error: %s", type(err).__name__)
    if "value too long" in raw:  # PostgreSQL checks lengths that SQLite does not
        detail = "invalid input: a value is longer than the database allows"
        return _problem(422, detail, [detail.removeprefix("invalid input: ")])
    if "nul" in raw and ("0x00" in raw or "cannot contain" in raw):
        detail = "invalid input: a text holds a NUL character (\\u0000), which cannot be stored"
        return _problem(422, detail, [detail.removeprefix("invalid input: ")])
    if isinstance(err, IntegrityError):
        what = "the e-Visa number drawn" if "evisa_number" in raw else "a unique value"
        return _problem(
            409, f"{what} is already taken (a rare chance); nothing was written: try again"
        )
    if "column" in raw and "does not exist" in raw:  # PostgreSQL: an older release's schema
        return _problem(503, _OLDER_SCHEMA)
    if "no such table" in raw or ("relation" in raw and "does not exist" in raw):
        return _problem(503, "the database has no QMAS tables yet; run 'qmas init'")
    return _problem(503, "the database refused the request; nothing was written")


async def _input_too_large(request: Request, err: Exception) -> Response:
    """Input past the parsers' reach: a number or date too large, nesting too deep, an
    integer over 4300 digits. 422, never a 500."""
    if isinstance(err, RecursionError):
        detail = "the input is nested too deeply"
    elif isinstance(err, OverflowError) or "out of range" in str(err):
        detail = "a number or date is too large"
    elif "integer string conversion" in str(err):
        detail = "a number is too long to read (more than 4300 digits)"
    else:  # any other ValueError is a bug: the guard logs it and answers 500
        raise err
    if _is_page(request):
        return render_error(request, 422, f"invalid input: {detail}")
    return _problem(422, f"invalid input: {detail}", [detail])


class BodyTooLarge(StarletteHTTPException):
    """A request body over `MAX_BODY` bytes, declared or counted while it streams in."""

    def __init__(self) -> None:
        super().__init__(413, f"the body is larger than {MAX_BODY:,} bytes")


# A path segment the access log may show: a route's own word, a case id, a file number.
# Anything else (a client that put a travel document number in the path) shows as "…".
_SHOWN_SEGMENT = re.compile(
    r"[a-z_.]{1,40}|v\d{1,2}"  # api, v1, cases, history, openapi.json…
    r"|\d{1,20}"  # a case id
    r"|[A-Za-z]{1,8}\d{4}-\d{1,12}(?:-[Dd]\d{1,4})?"  # a file number, a dependant's
)


def loggable_path(path: str) -> str:
    """``path`` with every segment that is not a route word, an id or a file number hidden."""
    parts = [p if p == "" or _SHOWN_SEGMENT.fullmatch(p) else "…" for p in path.split("/")]
    return "/".join(parts)[:200]


def _where(err: BaseException) -> str:
    """Where an exception was raised (file:line function, innermost first), without its
    message or any value: the message could quote a request's personal data."""
    frames = traceback.extract_tb(err.__traceback__)[-8:]
    return " < ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames)
    )


# Every answer: no script but the site's own files (and none inline), no framing, no referrer
# leaving the site. The console needs no script at all.
SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


class Guard:
    """The outermost layer of the app (plain ASGI, no task per request):

    - a body over `MAX_BODY` bytes is 413, whether its Content-Length says so or it streams
      in without one (chunked);
    - every response gets ``Cache-Control: no-store`` and ``X-Content-Type-Options``;
    - one access-log line per request: method, path (`loggable_path`), status, time and
      account, never a query string (a search may hold a travel document number) nor a body;
    - an exception nothing else handled becomes a 500 problem here, logged by type and place
      only, and goes no further: the server's own log would print its message.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        status = 0
        received = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers.setdefault("Cache-Control", "no-store")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY:
                    raise BodyTooLarge()
            return message

        length = _content_length(scope)
        page = not scope["path"].startswith("/api/")
        if scope["method"] == "HEAD" and page:  # a page's headers: its GET without the body
            scope = {**scope, "method": "GET"}
            inner_send = send_with_headers

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.body":
                    message = {**message, "body": b""}
                await inner_send(message)

        try:
            if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
                too_large = _problem(413, f"the body is larger than {MAX_BODY:,} bytes")
                if page:
                    too_large = _plain_page(413, f"The form is larger than {MAX_BODY:,} bytes.")
                await too_large(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive_limited, send_with_headers)
        except Exception as err:
            log.error(
                "unexpected %s on %s %s at %s",
                type(err).__name__,
                scope["method"],
                loggable_path(scope["path"]),
                _where(err),
            )
            if status == 0:  # nothing sent yet: the client gets a problem, not a reset
                failed = _problem(
                    500, "internal error; the request changed nothing it had not committed"
                )
                await failed(scope, receive, send_with_headers)
        finally:
            log.info(
                "%s %s %s %.1fms %s",
                scope["method"],
                loggable_path(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
                state.get("username", "-"),
            )


def _plain_page(status: int, sentence: str) -> Any:
    """An error page written before the app runs (no session, no template: one sentence)."""
    from html import escape

    from fastapi.responses import HTMLResponse

    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>QMAS</title>'
        '<link rel="stylesheet" href="/static/console.css"></head><body><main>'
        f'<div class="error" role="alert"><p>{escape(sentence)}</p></div></main></body></html>'
    )
    return HTMLResponse(body, status_code=status)


def _content_length(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return str(value.decode("latin-1").strip())
    return None


def _document_the_application_file(app: FastAPI) -> None:
    """POST /cases takes an application file (`workflows.application.ApplicationFile`): its
    JSON schema goes into the document's components, for clients and schema-driven tests."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        from workflows.application import ApplicationFile

        document = generate()  # cached by FastAPI in app.openapi_schema: completed here
        schema = ApplicationFile.model_json_schema(ref_template="#/components/schemas/{model}")
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in {**schema.pop("$defs", {}), "ApplicationFile": schema}.items():
            if components.setdefault(name, definition) != definition:
                raise RuntimeError(f"two OpenAPI components named {name}")
        body = document["paths"]["/api/v1/cases"]["post"]["requestBody"]
        body["description"] = "The application file ('qmas schema application')."
        body["content"]["application/json"]["schema"] = {
            "$ref": "#/components/schemas/ApplicationFile"
        }
        return document

    app.openapi = openapi  # type: ignore[method-assign]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    pending = app.state.unrecorded_reads
    if pending:  # a last try at the reads whose access records waited for the database
        try:
            Accounts(app.state.store).record_accesses(pending)
            pending.clear()
        except Exception as err:
            log.error("%d read(s) never recorded: %s", len(pending), type(err).__name__)


def create_app(store: Store | None = None) -> FastAPI:
    """The application over ``store`` (default: the one ``QMAS_DATABASE_URL`` names)."""
    app = FastAPI(
        title="QMAS case engine",
        version="1",
        description=(
            "Cases of Hong Kong's Quality Migrant Admission Scheme. Log in at "
            "POST /api/v1/auth/token and send the token as 'Authorization: Bearer …'."
        ),
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=_lifespan,
        # FastAPI's own OpenTelemetry logs would record validation failures and exception
        # messages, which can quote personal data; traces and metrics stay as configured.
        telemetry={"logs": False},
    )
    app.state.store = store or default_store()
    settings = AuthSettings()  # a bad QMAS_LOGIN_* setting stops the start, not each login
    app.state.login_gate = LoginGate(
        settings.login_parallel_checks, settings.login_client_failures_per_minute
    )
    app.state.unrecorded_reads = []  # reads whose access record waits for the database
    app.state.unrecorded_lock = threading.Lock()
    app.state.console_settings = ConsoleSettings()
    app.include_router(router)
    for module in (pages, work_pages, action_pages, audit_pages, enquiry):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(packages=[("templates", "console/static")]), name="static")
    _document_the_application_file(app)
    app.add_exception_handler(QmasError, _qmas_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_busy)
    app.add_exception_handler(DBAPIError, _database_error)  # the rest of the driver's errors
    for kind in (OverflowError, RecursionError, ValueError):
        app.add_exception_handler(kind, _input_too_large)
    app.add_middleware(Guard)
    return app


def serve(host: str, port: int, *, log_level: str = "info") -> None:
    """Run the API under uvicorn (its own access log off: ours leaves out query strings)."""
    import uvicorn

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    trusted = ConsoleSettings().forwarded_allow_ips
    uvicorn.run(
        create_app(),
        host=host,
        port=port,
        access_log=False,
        log_level=log_level,
        # X-Forwarded-For decides who a client is for the login and enquiry limits: believed
        # only from the reverse proxies named in QMAS_FORWARDED_ALLOW_IPS (none by default)
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )
