"""Logging in and bearer tokens: password → token, token → account, with throttling.

- `login`: username and password give a token of ``QMAS_LOGIN_TOKEN_HOURS``. The
  ``QMAS_LOGIN_MAX_FAILURES``-th wrong password in a row locks the account for
  ``QMAS_LOGIN_LOCK_MINUTES`` (`TooManyAttempts`, HTTP 429), even for the right password.
  A wrong password, an unknown username and a disabled account get the same answer and
  cost the same argon2 check, so the answer does not tell which usernames exist; an unknown
  username is locked out after as many failures, for as long (`_Phantoms`), so the lock
  does not tell either. Failures are counted under the account's row lock, and a guess
  that was in flight when the lock fell is answered as locked, right or wrong: a burst of
  concurrent guesses gets no more tries than a sequence.
- `issue_token`: what ``qmas token create`` prints once.
- `authenticate`: a token → its active account, or `NotAuthenticated` saying why.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from states.accounts import SYSTEM, Account, Accounts
from states.credentials import new_token, token_digest, verify_password
from states.errors import (
    ConfigurationError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooManyAttempts,
)
from states.store import Store
from workflows.authz import USERNAME, AuthSettings
from workflows.clock import iso, now_utc, parse_iso

# last_used_at is written at most this often per token: a write per request would
# serialise every reader behind SQLite's one writer.
_TOUCH_EVERY = timedelta(seconds=60)
_WRONG = "wrong username or password"
_MAX_PASSWORD = 1024  # the longest password an account can have (workflows.authz)


@dataclass(frozen=True)
class Issued:
    token: str  # shown once, never stored
    token_id: int
    username: str
    expires_at: str


class _Phantoms:
    """Failed logins for usernames that name no account that may log in (unknown, or the
    flows' ``system``), counted and locked exactly like an account's, so that being locked
    out does not tell which usernames exist. Kept in this process's memory, for at most
    ``size`` names (the oldest are forgotten): nothing an attacker types is stored. A name
    is counted per database, as an account is."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str], tuple[int, datetime | None]] = OrderedDict()

    def locked_until(self, name: tuple[str, str], moment: datetime) -> datetime | None:
        with self._lock:
            _, until = self._seen.get(name, (0, None))
        return until if until is not None and moment < until else None

    def failed(self, name: tuple[str, str], moment: datetime, settings: AuthSettings) -> None:
        with self._lock:
            failures, until = self._seen.pop(name, (0, None))
            if until is not None and moment < until:  # in flight when the lock fell
                self._seen[name] = (failures, until)
                return
            failures += 1
            if failures >= settings.login_max_failures:
                failures, until = 0, moment + timedelta(minutes=settings.login_lock_minutes)
            self._seen[name] = (failures, until)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


_phantoms = _Phantoms()


def _locked(name: str, until: datetime, moment: datetime) -> TooManyAttempts:
    seconds = max(1, int((until - moment).total_seconds()))
    shown = iso(until)[:16].replace("T", " ")
    return TooManyAttempts(
        f"too many failed logins: account '{name}' is locked until {shown} UTC",
        retry_after=seconds,
    )


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
    # Text that cannot be a username is not looked up (a NUL, a lone surrogate, 10 kB)
    account = accounts.get(name) if USERNAME.fullmatch(name) else None
    if account is not None and account.username == SYSTEM:
        account = None  # the flows' account never logs in: answered as an unknown name
    if account is not None and account.locked_until:
        until = parse_iso(account.locked_until)
        if moment < until:
            raise _locked(account.username, until, moment)
    phantom_key = (store.engine.url.render_as_string(hide_password=True), name)
    if account is None:
        phantom = _phantoms.locked_until(phantom_key, moment)
        if phantom is not None:
            raise _locked(name, phantom, moment)
    # One argon2 check whatever the case (no account, no password, too long), so the
    # time taken does not tell either; a password longer than any account's never matches.
    stored = accounts.password_hash(account.username) if account is not None else None
    ok = verify_password(stored, password[:_MAX_PASSWORD]) and len(password) <= _MAX_PASSWORD
    if account is None:
        if USERNAME.fullmatch(name):
            _phantoms.failed(phantom_key, moment, settings)
        raise NotAuthenticated(_WRONG)
    if not ok or not account.active:
        lock = moment + timedelta(minutes=settings.login_lock_minutes)
        in_force = accounts.login_failed(
            account.username, at=iso(moment), limit=settings.login_max_failures,
            lock_until=iso(lock),
        )  # fmt: skip
        if in_force is not None:
            raise _locked(account.username, parse_iso(in_force), moment)
        raise NotAuthenticated(_WRONG)
    in_force = accounts.login_succeeded(account.username, at=iso(moment))
    if in_force is not None:  # guesses in flight with this one locked the account
        raise _locked(account.username, parse_iso(in_force), moment)
    expires = moment + timedelta(hours=settings.login_token_hours)
    token, digest = new_token()
    try:
        token_id = accounts.add_token(
            account.username, digest, kind="login", expires_at=iso(expires),
            by=account.username, at=iso(moment),
        )  # fmt: skip
    except InvalidInput:  # disabled since the password was checked
        raise NotAuthenticated(_WRONG) from None
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
        if days is None:  # the settings disagree with each other: the operator's to fix
            raise ConfigurationError(
                f"QMAS_TOKEN_DAYS ({life}) is longer than QMAS_TOKEN_MAX_DAYS "
                f"({settings.token_max_days})"
            )
        raise InvalidInput(
            f"--days: a token lives 1 to {settings.token_max_days} days (QMAS_TOKEN_MAX_DAYS)"
        )
    accounts = Accounts(store)
    account = accounts.get(username)
    if account is None:
        raise NotFound(f"no account named '{username}' ('qmas user list' shows the accounts)")
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


def authenticate(
    token: str, *, store: Store, now: datetime | None = None, touch: bool = True
) -> Account:
    """The active account a bearer token stands for; `NotAuthenticated` with the reason.

    ``touch`` records the token's last use (at most once a minute); the API passes False and
    calls `touch_token` after answering, so that a read never waits for the write lock."""
    moment = now or now_utc()
    account, stale = _check_token(token, store, moment)
    if touch and stale is not None:
        Accounts(store).token_used(stale, iso(moment))
    return account


def check_token(
    token: str, *, store: Store, now: datetime | None = None
) -> tuple[Account, int | None]:
    """`authenticate` without the write: the account, and the token's id when its last use
    should be recorded (`touch_token`), else None."""
    return _check_token(token, store, now or now_utc())


def touch_token(token_id: int, *, store: Store, now: datetime | None = None) -> None:
    Accounts(store).token_used(token_id, iso(now or now_utc()))


def _check_token(token: str, store: Store, moment: datetime) -> tuple[Account, int | None]:
    if not token or len(token) > 200:
        raise NotAuthenticated("invalid token")
    found = Accounts(store).by_token(token_digest(token))
    if found is None:
        raise NotAuthenticated("invalid token")
    row, account = found
    if row.revoked_at is not None:
        raise NotAuthenticated("token revoked")
    if parse_iso(row.expires_at) <= moment:
        raise NotAuthenticated("token expired")
    if not account.active:
        raise NotAuthenticated(f"account '{account.username}' is disabled")
    stale = row.last_used_at is None or moment - parse_iso(row.last_used_at) >= _TOUCH_EVERY
    return account, row.id if stale else None
