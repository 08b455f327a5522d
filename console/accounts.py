"""`qmas user …`, `qmas token …` and `qmas audit access`: accounts from the command line.

Whoever can run the CLI against the database is trusted as an operator (as with Django's
``manage.py``): these commands need no login. Each change is kept in ``account_events``
with the operating-system user who made it (``cli:<user>``).
"""

from __future__ import annotations

import os
import pwd
import sys
from typing import Annotated

import typer

from console import output
from states.accounts import SYSTEM, Accounts
from states.credentials import hash_password
from states.errors import InvalidInput
from workflows.application import check_email
from workflows.authz import AuthSettings, check_password, check_username, parse_roles
from workflows.clock import iso, now_utc
from workflows.engine import default_store
from workflows.validation import check_name, check_text

user_app = typer.Typer(help="Accounts: who may act, in which roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (bearer) for an account.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print plain JSON.")]
RolesOpt = Annotated[
    list[str],
    typer.Option("--role", help="caseworker, supervisor, committee, auditor or admin; repeat."),
]


def operator() -> str:
    """Who runs the CLI, as account events record it: the operating system's name for the
    process's user id (not $USER or $LOGNAME, which anyone can set), else the uid."""
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:  # no name for this uid (a bare container)
        name = f"uid{uid}"
    return f"cli:{name}"[:64]


def _accounts() -> Accounts:
    return Accounts(default_store())


def _email(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    try:  # the engine's one email check, as for applicants: ASCII addresses only
        address = check_email(text.strip())
    except ValueError as err:
        raise InvalidInput(f"--email: {err}") from None
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"  # domains are case-insensitive; keep one spelling


def _read_password() -> str:
    if sys.stdin is None or sys.stdin.closed:
        raise InvalidInput("--password-stdin: nothing on standard input")
    try:
        text = sys.stdin.read(4096)
    except UnicodeDecodeError:
        raise InvalidInput("--password-stdin: the password is not valid UTF-8 text") from None
    if not text:
        raise InvalidInput("--password-stdin: nothing on standard input")
    line = text[:-1] if text.endswith("\n") else text
    line = line[:-1] if line.endswith("\r") else line
    if "\n" in line or "\r" in line:  # a second line would be dropped without a word
        raise InvalidInput("--password-stdin: give the password on one line, alone")
    return check_password(line)


def _not_system(username: str) -> str:
    name = username.strip()
    if name == SYSTEM:
        raise InvalidInput("'system' is the flows' built-in account; it cannot be changed")
    return check_username(name)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name: lower case, e.g. officer.lam.")],
    role: RolesOpt,
    name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    email: Annotated[str | None, typer.Option(help="Work email address.")] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read a password (one line) from standard input."),
    ] = False,
) -> None:
    """Create an account. Without a password it can still use tokens ('qmas token create')."""
    username = check_username(username)
    roles = parse_roles(role)
    full_name = check_text(name, "the name", limit=200, multiline=False) or ""
    try:
        check_name(full_name)
    except ValueError as err:
        raise InvalidInput(f"--name: {err}") from None
    address = _email(email)
    digest = hash_password(_read_password()) if password_stdin else None
    account = _accounts().add(
        username,
        roles,
        full_name=full_name,
        email=address,
        password_hash=digest,
        by=operator(),
        at=iso(now_utc()),
    )
    output.say(f"Account {account.username} created: {', '.join(account.roles)}")


@user_app.command("list")
def user_list(as_json: JsonFlag = False) -> None:
    """Every account, with its roles and whether it is active."""
    accounts = _accounts().all()
    if as_json:
        output.print_json([a.to_json() for a in accounts])
        return
    rows = [
        [
            a.username,
            a.full_name,
            a.email or "",
            ", ".join(a.roles),
            "yes" if a.active else "no",
            (a.last_login_at or "")[:16].replace("T", " "),
        ]
        for a in accounts
    ]
    output.out.print(
        output.table(
            None, ["username", "name", "email", "roles", "active", "last login (UTC)"], rows
        )
    )


@user_app.command("disable")
def user_disable(username: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Disable an account: it can no longer log in, act, or use its tokens."""
    account = _accounts().set_active(_not_system(username), False, by=operator(), at=iso(now_utc()))
    output.say(f"Account {account.username} disabled")


@user_app.command("enable")
def user_enable(username: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Enable a disabled account again."""
    account = _accounts().set_active(_not_system(username), True, by=operator(), at=iso(now_utc()))
    output.say(f"Account {account.username} enabled")


@user_app.command("roles")
def user_roles(
    username: Annotated[str, typer.Argument(help="The account.")], role: RolesOpt
) -> None:
    """Replace an account's roles with those given."""
    account = _accounts().set_roles(
        _not_system(username), parse_roles(role), by=operator(), at=iso(now_utc())
    )
    output.say(f"Account {account.username}: {', '.join(account.roles)}")


@user_app.command("password")
def user_password(
    username: Annotated[str, typer.Argument(help="The account.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input.")
    ] = False,
) -> None:
    """Set an account's password (read from standard input); clears a login lock."""
    name = _not_system(username)
    if not password_stdin:
        raise InvalidInput("give the new password on standard input with --password-stdin")
    digest = hash_password(_read_password())
    account = _accounts().set_password(name, digest, by=operator(), at=iso(now_utc()))
    output.say(f"Password of {account.username} set")


@token_app.command("create")
def token_create(
    username: Annotated[str, typer.Argument(help="The account the token acts as.")],
    days: Annotated[
        int | None, typer.Option(help="Days the token is valid (default QMAS_TOKEN_DAYS, 30).")
    ] = None,
) -> None:
    """Issue a bearer token; it is printed once, on standard output, and never again."""
    from workflows.logins import issue_token

    issued = issue_token(
        username.strip(), days, by=operator(), store=default_store(), settings=AuthSettings()
    )
    sys.stdout.write(issued.token + "\n")
    output.say(
        f"token {issued.token_id} for {issued.username}, valid until {issued.expires_at} "
        "(shown only this once)",
        output.err,
    )


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id.", min=1)]) -> None:
    """Revoke a token at once (revoking it again changes nothing)."""
    token, owner = _accounts().revoke_token(token_id, by=operator(), at=iso(now_utc()))
    output.say(f"Token {token.id} of {owner} revoked")


@token_app.command("list")
def token_list(
    username: Annotated[str, typer.Argument(help="The account.")], as_json: JsonFlag = False
) -> None:
    """An account's tokens (never the tokens themselves: only their ids and dates)."""
    tokens = _accounts().tokens(username.strip())
    if as_json:
        output.print_json([t.to_json() for t in tokens])
        return
    rows = [
        [t.id, t.kind, t.created_at[:16], t.expires_at[:16], t.revoked_at or "", t.last_used_at]
        for t in tokens
    ]
    output.out.print(
        output.table(None, ["id", "kind", "created", "expires", "revoked", "last used"], rows)
    )
