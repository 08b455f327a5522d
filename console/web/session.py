"""The console's sessions, CSRF tokens and language: what a browser carries between pages.

- A session is a login token (`workflows.logins.login`, the same as the API's) kept in the
  ``qmas_session`` cookie: HttpOnly (no script reads it), SameSite=Strict (no other site sends
  it), ``Secure`` when ``QMAS_COOKIE_SECURE=true`` (behind HTTPS). Logging out revokes it.
- Every form carries ``csrf_token``. With a session it is an HMAC of the session token under a
  key the server draws at start, so a page of another site cannot know it; the login and the
  enquiry forms, which have no session, use a random ``qmas_csrf`` cookie repeated in the form
  (double submit). A post without its token, or with another, is refused with 403.
- The language (``en`` or ``zh-HK``) is the ``qmas_lang`` cookie, set by the switch on every
  page; without it staff pages are in English and the public pages follow the browser's
  ``Accept-Language``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from pydantic_settings import BaseSettings, SettingsConfigDict

from console.web.security import in_db, store_of
from states.accounts import Account
from states.errors import NotAuthenticated, QmasError
from workflows.logins import check_token

SESSION_COOKIE = "qmas_session"
CSRF_COOKIE = "qmas_csrf"
LANG_COOKIE = "qmas_lang"
LANGUAGES = ("en", "zh-HK")
_KEY = secrets.token_bytes(32)  # per process: a restart asks open forms to be reloaded


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QMAS_", extra="ignore")

    # Mark the console's cookies Secure (sent over HTTPS only): set it behind TLS.
    cookie_secure: bool = False
    # Addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated, as
    # uvicorn's --forwarded-allow-ips); empty: the connecting address is the client.
    forwarded_allow_ips: str = ""


class CsrfRefused(QmasError):
    """A form posted without its CSRF token, or with another session's: 403."""

    exit_code = 3


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form (and back after it)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def cookie_options(request: Request) -> dict[str, Any]:
    secure: bool = request.app.state.console_settings.cookie_secure
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/"}


async def page_account(request: Request) -> Account | None:
    """The account of the request's session, or None (no cookie, expired, revoked, disabled)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    store = store_of(request)
    try:
        account, _ = await in_db(request, lambda: check_token(token, store=store))
    except NotAuthenticated:
        return None
    request.state.username = account.username  # for the access log
    request.state.page_account = account  # for an error page's header
    return account


async def staff_account(request: Request) -> Account:
    account = await page_account(request)
    if account is None:
        raise LoginRequired(local_path(str(request.url.path), request.url.query))
    return account


Staff = Annotated[Account, Depends(staff_account)]


def local_path(path: str, query: str = "") -> str:
    """A path on this site (for ``next=``): anything else becomes ``/work``."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/work"
    return path + (f"?{query}" if query else "")


def login_redirect(next_path: str) -> str:
    return f"/login?next={quote(local_path(next_path), safe='/')}"


def csrf_token(request: Request) -> str:
    """The token this request's forms must carry."""
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return hmac.new(_KEY, session.encode(), hashlib.sha256).hexdigest()
    anonymous = getattr(request.state, "csrf_cookie", None) or request.cookies.get(CSRF_COOKIE)
    if not anonymous or len(anonymous) != 43:
        anonymous = secrets.token_urlsafe(32)
        request.state.csrf_cookie = anonymous  # set on the answer by `remember_csrf`
    return hmac.new(_KEY, f"anon:{anonymous}".encode(), hashlib.sha256).hexdigest()


def remember_csrf(request: Request, response: Any) -> None:
    """Set the anonymous CSRF cookie a page's form was given (login, enquiry)."""
    fresh = getattr(request.state, "csrf_cookie", None)
    if fresh:
        response.set_cookie(CSRF_COOKIE, fresh, max_age=3600, **cookie_options(request))


def check_csrf(request: Request, sent: str | None) -> None:
    """Refuse the post unless ``sent`` is this session's (or this browser's) token."""
    session = request.cookies.get(SESSION_COOKIE)
    anonymous = request.cookies.get(CSRF_COOKIE)
    expected = []
    if session:  # a session's forms carry its own token only (not one from before login)
        expected.append(hmac.new(_KEY, session.encode(), hashlib.sha256).hexdigest())
    elif anonymous:
        expected.append(hmac.new(_KEY, f"anon:{anonymous}".encode(), hashlib.sha256).hexdigest())
    if not sent or not any(hmac.compare_digest(sent, e) for e in expected):
        raise CsrfRefused(
            "the form has expired or did not come from this site; reload the page and try again"
        )


def language(request: Request, *, public: bool = False) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    if public:
        accepted = request.headers.get("accept-language", "").lower()
        first = [p.split(";")[0].strip() for p in accepted.split(",") if p.strip()]
        for tag in first:
            if tag.startswith("zh"):
                return "zh-HK"
            if tag.startswith("en"):
                return "en"
    return "en"
