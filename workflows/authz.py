"""Who may act: accounts, the roles they hold, and what each role may read or do.

Every act is done by an account. The CLI acts as the account named by ``--actor``; the API
authenticates it with a bearer token. An account acts in one role at a time, and must hold
it, with two exceptions:

- ``applicant``: a caseworker records the applicant's own act (a paper submission, a
  counter payment); history keeps the caseworker's username with the role ``applicant``;
- ``system``: the flows' built-in account; no person may take it, from the CLI or the API.

Which account did an earlier step is a fact of the case; the four-eyes rules
(`workflows.four_eyes`) are guards on it like any other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from states.accounts import SYSTEM, Account, Accounts
from states.errors import InvalidInput, NotAuthorized
from states.store import Store
from workflows.names import AccountRole, Role
from workflows.validation import check_text

USERNAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")

# What each role may read through the API and the CLI's reading commands.
READ_CASES = frozenset({"caseworker", "supervisor", "committee", "auditor"})
CREATE_CASES = frozenset({"caseworker", "supervisor"})
REVEAL = frozenset({"caseworker", "supervisor"})  # may see personal data unmasked, recorded
VERIFY_AUDIT = frozenset({"auditor", "admin"})


class AuthSettings(BaseSettings):
    """Identity settings (prefix ``QMAS_``)."""

    model_config = SettingsConfigDict(env_prefix="QMAS_", extra="ignore")

    # How long a token from POST /api/v1/auth/token lives (at most a year).
    login_token_hours: int = Field(default=8, ge=1, le=24 * 366)
    # Consecutive wrong passwords that lock an account, and for how long (at most a year).
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_lock_minutes: int = Field(default=15, ge=1, le=60 * 24 * 366)
    # Default and longest life of a token from 'qmas token create' (at most ten years: a
    # larger setting would overflow the date instead of being refused).
    token_days: int = Field(default=30, ge=1, le=3660)
    token_max_days: int = Field(default=366, ge=1, le=3660)
    # Shortest password accepted ('qmas user add --password-stdin').
    password_min_length: int = Field(default=12, ge=1, le=1024)
    # The API's login endpoint: password checks at once (argon2 is CPU-bound), and failed
    # logins a minute from one client address, whatever the usernames.
    login_parallel_checks: int = Field(default=2, ge=1, le=64)
    login_client_failures_per_minute: int = Field(default=30, ge=1, le=100_000)


def check_username(text: str) -> str:
    name = (text or "").strip()
    if not USERNAME.fullmatch(name):
        shown = name.encode("ascii", "backslashreplace").decode()[:70]
        raise InvalidInput(
            f"'{shown}' is not a username: 1 to 64 lower-case letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    if name == SYSTEM or name.startswith("qmas-"):
        raise InvalidInput(
            f"'{name}' is reserved: 'system' and names starting 'qmas-' are the flows' "
            "(their acts carry them in history); choose another username"
        )
    return name


def parse_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """Account roles, checked: at least one, each a known account role."""
    out: set[str] = set()
    for role in roles:
        name = role.strip()
        if name == "system":
            raise InvalidInput("no person may hold the role 'system': it is the flows' own")
        if name == "applicant":
            raise InvalidInput(
                "'applicant' is not an account role: a caseworker records an applicant's acts"
            )
        try:
            out.add(AccountRole(name).value)
        except ValueError:
            allowed = ", ".join(r.value for r in AccountRole)
            shown = name.encode("ascii", "backslashreplace").decode()[:40]
            raise InvalidInput(f"unknown role '{shown}'; the roles are: {allowed}") from None
    if not out:
        raise InvalidInput("an account needs at least one role (--role)")
    return tuple(sorted(out))


def check_password(password: str, settings: AuthSettings | None = None) -> str:
    settings = settings or AuthSettings()
    text = password.rstrip("\r\n")
    if len(text) < settings.password_min_length:
        raise InvalidInput(
            f"the password is shorter than {settings.password_min_length} characters"
        )
    if len(text) > 1024:
        raise InvalidInput("the password is longer than 1,024 characters")
    if "\x00" in text:
        raise InvalidInput("the password contains a NUL character")
    if not text.strip():
        raise InvalidInput("the password is only spaces")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8, read with surrogateescape
        raise InvalidInput("the password is not valid UTF-8 text") from None
    return text


def may_act(account: Account | None, username: str, role: str) -> None:
    """Raise `NotAuthorized` (one sentence) unless ``account`` may act in ``role``."""
    if role == Role.system:
        raise NotAuthorized(
            "the role 'system' belongs to the flows' built-in account; no person may take it"
        )
    if username == SYSTEM:
        raise NotAuthorized("'system' is the flows' built-in account; no person may act as it")
    if account is None:
        raise NotAuthorized(
            f"no account named '{_shown(username)}': --actor must name an account "
            "('qmas user list')"
        )
    if not account.active:
        raise NotAuthorized(f"account '{account.username}' is disabled")
    held = ", ".join(account.roles) or "no role"
    if role == Role.applicant:
        if AccountRole.caseworker not in account.roles:
            raise NotAuthorized(
                f"recording an applicant's own act needs the caseworker role; "
                f"account '{account.username}' holds: {held}"
            )
        return
    if role not in account.roles:
        raise NotAuthorized(
            f"account '{account.username}' does not hold the role '{role}' (it holds: {held})"
        )


def acting_account(username: str, role: str, *, store: Store) -> Account:
    """The account named by ``--actor``, checked to hold ``role`` (or to be a caseworker
    recording an applicant's act); `NotAuthorized` otherwise, before anything is written."""
    name = check_text(username, "the actor", limit=200, multiline=False)
    if not name:
        raise InvalidInput("an actor is required (--actor USERNAME)")
    if role == AccountRole.admin:
        raise InvalidInput(
            "the role 'admin' manages accounts and verifies the audit chain; it makes no move "
            "on a case (act as caseworker, supervisor, committee or auditor)"
        )
    try:
        Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role '{_shown(role)}'; roles: {allowed}") from None
    account = Accounts(store).get(name)
    may_act(account, name, role)
    assert account is not None
    return account


def holds_any(account: Account, roles: frozenset[str]) -> bool:
    return any(r in roles for r in account.roles)


def _shown(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode()[:70]
