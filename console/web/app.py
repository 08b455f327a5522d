"""The FastAPI application (`qmas serve`): the JSON API today, the staff console next.

Every error a client can cause becomes a status and ``{"detail", "reasons"}``, never a 500:
the engine's `QmasError` tree maps to 401/403/404/409/422/429, FastAPI's own validation to
422, a busy database to 503. The access log names method, path, status, time and account,
never a query string (a search may hold a travel document number) nor a body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from console.web.api import router
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
from workflows.engine import default_store

log = logging.getLogger("qmas.api")
MAX_BODY = 1_000_000  # bytes: an application file is a few kilobytes

_STATUS: list[tuple[type[QmasError], int]] = [
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
    return _problem(status, str(err), reasons, headers)


async def _validation_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, RequestValidationError)
    reasons = []
    for e in err.errors():
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        reasons.append(f"{where}: {e.get('msg', 'invalid')}")
    return _problem(422, "invalid input: " + "; ".join(reasons), reasons)


async def _http_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, StarletteHTTPException)
    return _problem(err.status_code, str(err.detail), headers=dict(err.headers or {}))


async def _database_busy(request: Request, err: Exception) -> Response:
    log.warning("database unavailable: %s", type(err).__name__)
    return _problem(
        503, "the database is busy or unavailable; try again", headers={"Retry-After": "1"}
    )


async def _unexpected(request: Request, err: Exception) -> Response:
    # The type alone: the message could quote a request's personal data.
    log.error("unexpected %s on %s %s", type(err).__name__, request.method, request.url.path)
    return _problem(500, "internal error; the request changed nothing it had not committed")


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
    )
    app.state.store = store or default_store()
    app.include_router(router)
    app.add_exception_handler(QmasError, _qmas_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_busy)
    app.add_exception_handler(Exception, _unexpected)

    @app.middleware("http")
    async def guard_and_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            response: Response = _problem(413, f"the body is larger than {MAX_BODY:,} bytes")
        else:
            response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        log.info(
            "%s %s %s %.1fms %s",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
            getattr(request.state, "username", "-"),
        )
        return response

    return app


def serve(host: str, port: int, *, log_level: str = "info") -> None:
    """Run the API under uvicorn (its own access log off: ours leaves out query strings)."""
    import uvicorn

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    uvicorn.run(create_app(), host=host, port=port, access_log=False, log_level=log_level)
