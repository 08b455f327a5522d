"""Logging in and bearer tokens: password → token, token → account, with throttling.

- `login`: username and password give a token of ``QMAS_LOGIN_TOKEN_HOURS``. The
  ``QMAS_LOGIN_MAX_FAILURES``-th wrong password in a row locks the account for
  ``QMAS_LOGIN_LOCK_MINUTES`` (`TooManyAttempts`, HTTP 429), even for the right password.
  A wrong password, an unknown username and a disabled account get the same answer and
  cost the same argon2 check, so the answer does not tell which usernames exist.
- `issue_token`: what ``qmas token create`` prints once.
- `authenticate`: a token → its active account, or `NotAuthenticated` saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from states.accounts import SYSTEM, Account, Accounts
from states.credentials import new_token, token_digest, verify_password
from states.errors import InvalidInput, NotAuthenticated, TooManyAttempts
from states.store import Store
from workflows.authz import AuthSettings
from workflows.clock import iso, now_utc, parse_iso

# last_used_at is written at most this often per token: a write per request would
# serialise every reader behind SQLite's one writer.
_TOUCH_EVERY = timedelta(seconds=60)
_WRONG = "wrong username or password"


@dataclass(frozen=True)
class Issued:
    token: str  # shown once, never stored
    token_id: int
    username: str
    expires_at: str


def login(
    username: str,
    password: str,
    *,
    store: Store,
    settings: AuthSettings | None = None,
    now: datetime | None = None,
) -> Issued:
    settings = settings or AuthSettings()
    moment = now or now_utc()
    accounts = Accounts(store)
    name = username.strip()
    account = accounts.get(name) if 0 < len(name) <= 64 else None
    if account is not None and account.locked_until:
        until = parse_iso(account.locked_until)
        if moment < until:
            seconds = max(1, int((until - moment).total_seconds()))
            raise TooManyAttempts(
                f"too many failed logins: account '{account.username}' is locked until "
                f"{account.locked_until[:16].replace('T', ' ')} UTC",
                retry_after=seconds,
            )
    stored = accounts.password_hash(name) if account is not None else None
    ok = verify_password(stored, password[:1024])
    if not ok or account is None or not account.active or account.username == SYSTEM:
        if account is not None and account.username != SYSTEM:
            lock = moment + timedelta(minutes=settings.login_lock_minutes)
            accounts.login_failed(
                account.username, at=iso(moment), limit=settings.login_max_failures,
                lock_until=iso(lock),
            )  # fmt: skip
        raise NotAuthenticated(_WRONG)
    accounts.login_succeeded(account.username, at=iso(moment))
    expires = moment + timedelta(hours=settings.login_token_hours)
    token, digest = new_token()
    token_id = accounts.add_token(
        account.username, digest, kind="login", expires_at=iso(expires),
        by=account.username, at=iso(moment),
    )  # fmt: skip
    return Issued(token, token_id, account.username, iso(expires))


def issue_token(
    username: str,
    days: int | None = None,
    *,
    by: str,
    store: Store,
    settings: AuthSettings | None = None,
    now: datetime | None = None,
) -> Issued:
    """A token for ``username`` valid ``days`` days (default ``QMAS_TOKEN_DAYS``)."""
    settings = settings or AuthSettings()
    moment = now or now_utc()
    life = settings.token_days if days is None else days
    if not 1 <= life <= settings.token_max_days:
        raise InvalidInput(f"--days must be between 1 and {settings.token_max_days}")
    accounts = Accounts(store)
    account = accounts.get(username)
    if account is None:
        raise InvalidInput(f"no account named '{username}' ('qmas user list' shows the accounts)")
    if account.username == SYSTEM:
        raise InvalidInput("the 'system' account acts only inside the flows; it has no tokens")
    if not account.active:
        raise InvalidInput(f"account '{username}' is disabled; enable it before issuing a token")
    expires = moment + timedelta(days=life)
    token, digest = new_token()
    token_id = accounts.add_token(
        username, digest, kind="cli", expires_at=iso(expires), by=by, at=iso(moment)
    )
    return Issued(token, token_id, username, iso(expires))


def authenticate(token: str, *, store: Store, now: datetime | None = None) -> Account:
    """The active account a bearer token stands for; `NotAuthenticated` with the reason."""
    moment = now or now_utc()
    if not token or len(token) > 200:
        raise NotAuthenticated("invalid token")
    accounts = Accounts(store)
    found = accounts.by_token(token_digest(token))
    if found is None:
        raise NotAuthenticated("invalid token")
    row, account = found
    if row.revoked_at is not None:
        raise NotAuthenticated("token revoked")
    if parse_iso(row.expires_at) <= moment:
        raise NotAuthenticated("token expired")
    if not account.active:
        raise NotAuthenticated(f"account '{account.username}' is disabled")
    if row.last_used_at is None or moment - parse_iso(row.last_used_at) >= _TOUCH_EVERY:
        accounts.token_used(row.id, iso(moment))
    return account
