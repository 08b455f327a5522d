"""Accounts from the command line, ``--actor`` checks, logins and tokens (issue 9, section 1).

`qmas user …` and `qmas token …` are run in-process (tests/core/clikit.py) against a fresh
SQLite file on the frozen clock (1 June 2023 10:00 HKT = 02:00 UTC); logins and tokens are
also driven at the function level (`workflows.logins`), with the moment passed in, on SQLite
and PostgreSQL where the database's locking matters.
"""

from __future__ import annotations

import hashlib
import io
import json
import pwd
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from argon2 import PasswordHasher
from sqlalchemy import select, update

from states import credentials
from states.accounts import Accounts
from states.credentials import hash_password, token_digest, verify_password
from states.errors import InvalidInput, NotAuthenticated, NotFound, TooManyAttempts
from states.models import accounts as accounts_t
from states.models import api_tokens
from states.store import Store
from tests.core.clikit import Qmas, Result
from tests.core.core_lifecycle import FROZEN_AT, snapshot
from tests.factories import add_staff, application
from workflows import logins
from workflows.authz import AuthSettings, check_password, check_username, parse_roles
from workflows.clock import iso
from workflows.engine import default_store
from workflows.logins import authenticate, issue_token, login

OPERATOR = "cli:ops.chan"  # who runs the CLI in these tests (the uid's name, see _operator)
AT = iso(FROZEN_AT)  # 2023-06-01T02:00:00.000000Z
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _operator(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """The operator is the name of the process's uid: every account event names this one
    (but in the test of that rule itself, which reads the real name)."""
    if "os_user" not in request.node.name:
        entry = pwd.struct_passwd(("ops.chan", "x", 1000, 1000, "", "/", "/bin/sh"))
        monkeypatch.setattr("pwd.getpwuid", lambda uid: entry)


@pytest.fixture(autouse=True)
def _no_phantoms() -> Iterator[None]:
    """Failed logins of unknown names are counted in memory: each test starts afresh."""
    logins._phantoms.clear()
    yield
    logins._phantoms.clear()


def stdin(monkeypatch: pytest.MonkeyPatch, text: str | bytes) -> None:
    if isinstance(text, bytes):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text), encoding="utf-8"))
    else:
        monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def refused(result: Result, *, code: int, contains: str) -> str:
    """Exit ``code``, nothing on stdout, one error line containing ``contains``."""
    got, out, err = result
    assert (got, out) == (code, ""), result
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert contains in lines[0], lines[0]
    return lines[0]


def ok(result: Result) -> str:
    code, out, err = result
    assert (code, err) == (0, ""), result
    return out


def events(username: str | None = None) -> list[tuple[str, str, str, str, str]]:
    return [
        (e["account"], e["event"], e["detail"], e["by"], e["at"])
        for e in Accounts(default_store()).events(username)
    ]


def created(qmas: Qmas, *argv: str) -> str:
    """`qmas token create ARGV`: the token, alone on stdout (the note is on stderr)."""
    code, out, err = qmas("token", "create", *argv)
    assert code == 0 and "shown only this once" in err, (code, out, err)
    return out.strip()


def user_list(qmas: Qmas) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok(qmas("user", "list", "--json")))
    return rows


def new_case(qmas: Qmas, tmp_path: Path) -> int:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(application()), encoding="utf-8")
    return int(ok(qmas("case", "new", str(path))))


# --- qmas user add ---------------------------------------------------------------------------
def test_user_add_with_repeated_roles_name_and_email(ready: Qmas) -> None:
    argv = ["officer.chan", "--role", "supervisor", "--role", "caseworker", "--role",
            "supervisor", "--name", "CHAN Siu Wai", "--email", "Siu.Wai@Immd.Example"]  # fmt: skip
    out = ok(ready("user", "add", *argv))
    assert out == "Account officer.chan created: caseworker, supervisor\n"
    (row,) = [r for r in user_list(ready) if r["username"] == "officer.chan"]
    assert row == {
        "username": "officer.chan",
        "full_name": "CHAN Siu Wai",
        "email": "Siu.Wai@immd.example",  # the domain normalised, the local part kept
        "roles": ["caseworker", "supervisor"],
        "active": True,
        "has_password": False,
        "created_at": AT,
        "last_login_at": None,
    }
    assert events("officer.chan") == [
        ("officer.chan", "created", "roles: caseworker,supervisor", OPERATOR, AT)
    ]


def test_a_username_of_64_characters_is_accepted(ready: Qmas) -> None:
    name = "a" + "b" * 62 + "c"
    assert ok(ready("user", "add", name, "--role", "auditor")).startswith(f"Account {name} ")


@pytest.mark.parametrize(
    "username",
    [
        "Officer.Lam",
        "officer lam",
        "officer\x1blam",
        "officer\x00lam",
        "officer\u202elam",
        "a" * 65,
        "system",
        "",
        ".lam",
        "lam-",
        "offi\u00e7er",
        "\ud800lam",
    ],
    ids=[
        "upper-case",
        "space",
        "escape",
        "nul",
        "bidi-override",
        "65-chars",
        "system",
        "empty",
        "leading-dot",
        "trailing-dash",
        "non-ascii",
        "lone-surrogate",
    ],
)
def test_user_add_refuses_a_bad_username_with_one_line(ready: Qmas, username: str) -> None:
    before = snapshot(default_store())
    line = refused(ready("user", "add", username, "--role", "caseworker"), code=2, contains="")
    assert "\x1b" not in line and "\x00" not in line and "\u202e" not in line
    assert snapshot(default_store()) == before


@pytest.mark.parametrize(
    ("roles", "contains"),
    [
        (["janitor"], "unknown role 'janitor'; the roles are: caseworker, supervisor"),
        (["caseworker", "system"], "no person may hold the role 'system'"),
        (["applicant"], "'applicant' is not an account role"),
        ([""], "unknown role ''"),
    ],
    ids=["unknown", "system", "applicant", "empty"],
)
def test_user_add_refuses_roles_that_are_not_account_roles(
    ready: Qmas, roles: list[str], contains: str
) -> None:
    before = snapshot(default_store())
    argv = [x for r in roles for x in ("--role", r)]
    refused(ready("user", "add", "officer.chan", *argv), code=2, contains=contains)
    assert snapshot(default_store()) == before


def test_user_add_needs_a_role(ready: Qmas) -> None:
    before = snapshot(default_store())
    refused(ready("user", "add", "officer.chan"), code=2, contains="--role")
    assert snapshot(default_store()) == before


def test_user_add_refuses_a_duplicate(ready: Qmas) -> None:
    before = snapshot(default_store())
    refused(
        ready("user", "add", "officer.lam", "--role", "auditor"),
        code=2,
        contains="an account named 'officer.lam' already exists",
    )
    assert snapshot(default_store()) == before


@pytest.mark.parametrize("email", ["not-an-email", "chan@", "chan@@example.com", "a b@x.org"])
def test_user_add_validates_the_email(ready: Qmas, email: str) -> None:
    before = snapshot(default_store())
    refused(
        ready("user", "add", "officer.chan", "--role", "caseworker", "--email", email),
        code=2,
        contains="--email:",
    )
    assert snapshot(default_store()) == before


def test_user_add_refuses_control_characters_in_the_name(ready: Qmas) -> None:
    refused(
        ready("user", "add", "officer.chan", "--role", "caseworker", "--name", "CHAN\x1b[2J"),
        code=2,
        contains="control character",
    )


def test_password_stdin_stores_an_argon2_hash_never_the_password(
    ready: Qmas, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin(monkeypatch, PASSWORD + "\n")
    ok(ready("user", "add", "officer.chan", "--role", "caseworker", "--password-stdin"))
    stored = Accounts(default_store()).password_hash("officer.chan")
    assert stored is not None and stored.startswith("$argon2id$")
    assert verify_password(stored, PASSWORD) and not verify_password(stored, PASSWORD + "\n")
    assert PASSWORD not in repr(snapshot(default_store()))
    (row,) = [r for r in user_list(ready) if r["username"] == "officer.chan"]
    assert row["has_password"] is True and "password_hash" not in row


@pytest.mark.parametrize(
    ("given", "contains"),
    [
        ("short pw\n", "the password is shorter than 12 characters"),
        ("", "nothing on standard input"),
        ("\n", "the password is shorter than 12 characters"),
        ("x" * 1025 + "\n", "longer than 1,024 characters"),
        ("a password with \x00 a nul\n", "NUL character"),
        (b"a password \xff\xfe not utf-8\n", "not valid UTF-8"),
        ("a password \udcff surrogate\n", "not valid UTF-8"),
    ],
    ids=["too-short", "nothing", "empty-line", "too-long", "nul", "bad-bytes", "surrogate"],
)
def test_password_stdin_refuses_an_unusable_password(
    ready: Qmas, monkeypatch: pytest.MonkeyPatch, given: str | bytes, contains: str
) -> None:
    before = snapshot(default_store())
    stdin(monkeypatch, given)
    refused(
        ready("user", "add", "officer.chan", "--role", "caseworker", "--password-stdin"),
        code=2,
        contains=contains,
    )
    assert snapshot(default_store()) == before


def test_password_min_length_follows_the_setting(
    ready: Qmas, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QMAS_PASSWORD_MIN_LENGTH", "20")
    stdin(monkeypatch, "sixteen chars ok\n")
    refused(
        ready("user", "add", "officer.chan", "--role", "caseworker", "--password-stdin"),
        code=2,
        contains="shorter than 20 characters",
    )


# --- qmas user list --------------------------------------------------------------------------
def test_user_list_json_shape_sorted_by_username(ready: Qmas) -> None:
    rows = user_list(ready)
    assert [r["username"] for r in rows] == sorted(r["username"] for r in rows)
    assert {r["username"] for r in rows} >= {"system", "officer.lam", "committee.cheung"}
    keys = {"username", "full_name", "email", "roles", "active", "has_password"}
    for r in rows:
        assert set(r) == keys | {"created_at", "last_login_at"}
    (system,) = [r for r in rows if r["username"] == "system"]
    assert (system["roles"], system["has_password"]) == (["system"], False)


def test_user_list_text_is_a_table(ready: Qmas) -> None:
    out = ok(ready("user", "list"))
    for word in ("username", "roles", "active", "officer.lam", "caseworker", "admin.lee"):
        assert word in out


# --- disable, enable, roles, password --------------------------------------------------------
def test_disable_enable_roles_password_each_leave_an_event(
    ready: Qmas, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ok(ready("user", "disable", "officer.lam")) == "Account officer.lam disabled\n"
    assert [r["active"] for r in user_list(ready) if r["username"] == "officer.lam"] == [False]
    assert ok(ready("user", "enable", "officer.lam")) == "Account officer.lam enabled\n"
    out = ok(ready("user", "roles", "officer.lam", "--role", "supervisor", "--role", "auditor"))
    assert out == "Account officer.lam: auditor, supervisor\n"
    stdin(monkeypatch, PASSWORD + "\n")
    assert ok(ready("user", "password", "officer.lam", "--password-stdin")) == (
        "Password of officer.lam set\n"
    )
    assert verify_password(Accounts(default_store()).password_hash("officer.lam"), PASSWORD)
    assert events("officer.lam")[1:] == [
        ("officer.lam", "disabled", "", OPERATOR, AT),
        ("officer.lam", "enabled", "", OPERATOR, AT),
        ("officer.lam", "roles", "roles: auditor,supervisor", OPERATOR, AT),
        ("officer.lam", "password", "", OPERATOR, AT),
    ]
    # the password is never in an event
    assert PASSWORD not in repr(events())


@pytest.mark.parametrize(
    "argv",
    [
        ["disable", "system"],
        ["enable", "system"],
        ["roles", "system", "--role", "admin"],
        ["password", "system", "--password-stdin"],
    ],
    ids=["disable", "enable", "roles", "password"],
)
def test_the_system_account_cannot_be_changed(
    ready: Qmas, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    stdin(monkeypatch, PASSWORD + "\n")
    before = snapshot(default_store())
    refused(ready("user", *argv), code=2, contains="'system' is the flows' built-in account")
    assert snapshot(default_store()) == before


@pytest.mark.parametrize(
    "argv",
    [["disable", "officer.nobody"], ["enable", "officer.nobody"],
     ["roles", "officer.nobody", "--role", "admin"]],
    ids=["disable", "enable", "roles"],
)  # fmt: skip
def test_changing_an_unknown_account_is_not_found(ready: Qmas, argv: list[str]) -> None:
    before = snapshot(default_store())
    refused(ready("user", *argv), code=4, contains="no account named 'officer.nobody'")
    assert snapshot(default_store()) == before


def test_user_roles_refuses_bad_roles_and_keeps_the_old_ones(ready: Qmas) -> None:
    before = snapshot(default_store())
    refused(ready("user", "roles", "officer.lam", "--role", "system"), code=2, contains="system")
    refused(ready("user", "roles", "officer.lam", "--role", "applicant"), code=2, contains="")
    assert snapshot(default_store()) == before


def test_user_password_needs_password_stdin(ready: Qmas) -> None:
    refused(ready("user", "password", "officer.lam"), code=2, contains="--password-stdin")


# --- qmas token create / revoke / list -------------------------------------------------------
def test_token_create_prints_the_token_once_and_stores_only_its_sha256(ready: Qmas) -> None:
    code, out, err = ready("token", "create", "officer.lam")
    assert code == 0
    token = out.strip()
    assert out == token + "\n" and token.startswith("qmas_") and len(token) >= 40
    assert "token 1 for officer.lam, valid until 2023-07-01T02:00:00.000000Z" in err
    assert token not in err
    with default_store().read() as tx:
        (row,) = tx.conn.execute(select(api_tokens)).mappings().all()
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert (row["kind"], row["expires_at"], row["revoked_at"]) == (
        "cli",
        "2023-07-01T02:00:00.000000Z",
        None,
    )
    assert token not in repr(snapshot(default_store()))
    assert events("officer.lam")[-1] == (
        "officer.lam",
        "token",
        "token 1 until 2023-07-01T02:00:00.000000Z",
        OPERATOR,
        AT,
    )
    assert authenticate(token, store=default_store()).username == "officer.lam"
    # never shown again
    listed = ok(ready("token", "list", "officer.lam", "--json"))
    assert token not in listed and row["token_hash"] not in listed


@pytest.mark.parametrize(("days", "until"), [("1", "2023-06-02"), ("366", "2024-06-01")])
def test_token_days_bounds_are_accepted(ready: Qmas, days: str, until: str) -> None:
    code, _, err = ready("token", "create", "officer.lam", "--days", days)
    assert code == 0 and f"valid until {until}T02:00:00" in err


@pytest.mark.parametrize(
    ("days", "code", "contains"),
    [
        ("0", 2, "--days: a token lives 1 to 366 days"),
        ("-1", 2, "--days: a token lives 1 to 366 days"),
        ("367", 2, "--days: a token lives 1 to 366 days"),
        ("99999999999999999999999", 2, "--days: a token lives 1 to 366 days"),
        ("ten", 2, "--days"),
    ],
    ids=["zero", "negative", "367", "huge", "not-a-number"],
)
def test_token_days_out_of_bounds_is_refused(
    ready: Qmas, days: str, code: int, contains: str
) -> None:
    before = snapshot(default_store())
    refused(ready("token", "create", "officer.lam", "--days", days), code=code, contains=contains)
    assert snapshot(default_store()) == before


def test_token_max_days_follows_the_setting(ready: Qmas, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QMAS_TOKEN_MAX_DAYS", "7")
    refused(  # the two settings disagree: the operator's to fix, not the caller's input
        ready("token", "create", "officer.lam"),
        code=7,
        contains="QMAS_TOKEN_DAYS (30) is longer than QMAS_TOKEN_MAX_DAYS (7)",
    )
    refused(
        ready("token", "create", "officer.lam", "--days", "8"),
        code=2,
        contains="--days: a token lives 1 to 7 days",
    )
    assert ready("token", "create", "officer.lam", "--days", "7")[0] == 0


def test_an_absurd_token_setting_is_a_configuration_error(
    ready: Qmas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A life of 10^12 days would overflow the date; the setting is refused instead."""
    monkeypatch.setenv("QMAS_TOKEN_MAX_DAYS", "1000000000000")
    monkeypatch.setenv("QMAS_TOKEN_DAYS", "1000000000000")
    refused(ready("token", "create", "officer.lam"), code=7, contains="QMAS_TOKEN")


@pytest.mark.parametrize(
    ("username", "code", "contains"),
    [
        ("system", 2, "the 'system' account acts only inside the flows"),
        ("officer.nobody", 4, "no account named 'officer.nobody'"),
        ("officer\x00lam", 4, "no account named"),
    ],
    ids=["system", "unknown", "nul"],
)
def test_token_create_is_refused_for_system_and_unknown(
    ready: Qmas, username: str, code: int, contains: str
) -> None:
    before = snapshot(default_store())
    refused(ready("token", "create", username), code=code, contains=contains)
    assert snapshot(default_store()) == before


def test_token_create_is_refused_for_a_disabled_account(ready: Qmas) -> None:
    ok(ready("user", "disable", "officer.lam"))
    before = snapshot(default_store())
    refused(ready("token", "create", "officer.lam"), code=2, contains="disabled")
    assert snapshot(default_store()) == before


def test_a_token_cannot_be_added_to_an_account_disabled_meanwhile(store: Store) -> None:
    """issue_token checks the account, then the insert checks again under the row lock."""
    add_staff(store)
    accounts = Accounts(store)
    accounts.set_active("officer.lam", False, by="tests", at=AT)
    with pytest.raises(InvalidInput, match="disabled"):
        accounts.add_token("officer.lam", "0" * 64, kind="cli", expires_at=AT, by="t", at=AT)
    with pytest.raises(InvalidInput, match="system"):
        accounts.add_token("system", "1" * 64, kind="cli", expires_at=AT, by="t", at=AT)
    with store.read() as tx:
        assert tx.conn.execute(select(api_tokens)).all() == []


def test_token_revoke_then_the_token_is_refused(ready: Qmas) -> None:
    token = created(ready, "officer.lam")
    assert ok(ready("token", "revoke", "1")) == "Token 1 of officer.lam revoked\n"
    with pytest.raises(NotAuthenticated, match="token revoked"):
        authenticate(token, store=default_store())
    count = len(events())
    assert ok(ready("token", "revoke", "1")) == "Token 1 of officer.lam revoked\n"
    assert len(events()) == count  # revoking again changes nothing
    assert events("officer.lam")[-1] == ("officer.lam", "revoked", "token 1", OPERATOR, AT)
    (listed,) = json.loads(ok(ready("token", "list", "officer.lam", "--json")))
    assert listed["revoked_at"] == AT


@pytest.mark.parametrize(
    ("token_id", "code", "contains"),
    [
        ("7", 4, "no token 7"),
        ("9223372036854775807", 4, "no token 9223372036854775807"),
        ("9223372036854775808", 4, "no token 9223372036854775808"),
        ("99999999999999999999999", 4, "no token 99999999999999999999999"),
        ("0", 2, "'token_id': Input should be greater than or equal to 1"),
        ("-3", 2, "No such option: -3"),
        ("one", 2, "'token_id': Input should be a valid integer"),
    ],
    ids=["unknown", "max-int64", "past-int64", "huge", "zero", "negative", "not-a-number"],
)
def test_token_revoke_of_no_such_token(
    ready: Qmas, token_id: str, code: int, contains: str
) -> None:
    created(ready, "officer.lam")
    before = snapshot(default_store())
    refused(ready("token", "revoke", token_id), code=code, contains=contains)
    assert snapshot(default_store()) == before


def test_token_list_shows_ids_and_dates_never_the_tokens(ready: Qmas) -> None:
    first = created(ready, "officer.lam")
    created(ready, "officer.lam", "--days", "2")
    ok(ready("token", "revoke", "1"))
    rows = json.loads(ok(ready("token", "list", "officer.lam", "--json")))
    assert rows == [
        {
            "id": 1,
            "kind": "cli",
            "created_at": AT,
            "expires_at": "2023-07-01T02:00:00.000000Z",
            "revoked_at": AT,
            "last_used_at": None,
        },
        {
            "id": 2,
            "kind": "cli",
            "created_at": AT,
            "expires_at": "2023-06-03T02:00:00.000000Z",
            "revoked_at": None,
            "last_used_at": None,
        },
    ]
    text = ok(ready("token", "list", "officer.lam"))
    assert "2023-06-03" in text and first not in text and "qmas_" not in text
    assert json.loads(ok(ready("token", "list", "officer.wong", "--json"))) == []
    refused(ready("token", "list", "officer.nobody"), code=4, contains="no account named")


# --- --actor on case advance / preview / actions ---------------------------------------------
ACTOR_REFUSALS = [
    ("officer.nobody", "caseworker",
     "no account named 'officer.nobody': --actor must name an account ('qmas user list')"),
    ("officer.wong", "caseworker", "account 'officer.wong' is disabled"),
    ("committee.cheung", "caseworker",
     "account 'committee.cheung' does not hold the role 'caseworker' (it holds: committee)"),
    ("supervisor.ho", "applicant",
     "recording an applicant's own act needs the caseworker role; account 'supervisor.ho' "
     "holds: supervisor"),
    ("officer.lam", "system",
     "the role 'system' belongs to the flows' built-in account; no person may take it"),
    ("system", "caseworker", "'system' is the flows' built-in account; no person may act as it"),
    ("system", "system",
     "the role 'system' belongs to the flows' built-in account; no person may take it"),
]  # fmt: skip
ACTOR_IDS = ["unknown", "disabled", "role-not-held", "applicant-not-caseworker",
             "role-system", "actor-system", "both-system"]  # fmt: skip


def actor_argv(command: str, case_id: int, actor: str, role: str) -> list[str]:
    if command == "actions":
        return ["case", "actions", str(case_id), "--actor", actor, "--role", role]
    return ["case", command, str(case_id), "submit", "--actor", actor, "--role", role]


@pytest.mark.parametrize("command", ["advance", "preview", "actions"])
@pytest.mark.parametrize(("actor", "role", "sentence"), ACTOR_REFUSALS, ids=ACTOR_IDS)
def test_actor_must_be_an_active_account_holding_the_role(
    ready: Qmas, tmp_path: Path, command: str, actor: str, role: str, sentence: str
) -> None:
    case_id = new_case(ready, tmp_path)
    ok(ready("user", "disable", "officer.wong"))
    before = snapshot(default_store())
    line = refused(ready(*actor_argv(command, case_id, actor, role)), code=3, contains=sentence)
    assert line == f"error: {sentence}"
    assert snapshot(default_store()) == before


def test_actor_text_is_checked_before_any_lookup(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    before = snapshot(default_store())
    refused(
        ready("case", "advance", str(case_id), "submit", "--actor", "officer\x1b.lam",
              "--role", "caseworker"),
        code=2, contains="control character",
    )  # fmt: skip
    refused(
        ready("case", "advance", str(case_id), "submit", "--actor", " ", "--role", "caseworker"),
        code=2,
        contains="an actor is required",
    )
    refused(
        ready(
            "case", "advance", str(case_id), "submit", "--actor", "x" * 65, "--role", "applicant"
        ),
        code=3,
        contains="no account named",
    )
    assert snapshot(default_store()) == before


def test_a_caseworker_records_the_applicants_own_act(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    ok(ready("case", "advance", str(case_id), "submit", "--actor", " officer.wong ",
             "--role", "applicant"))  # fmt: skip
    (row,) = json.loads(ok(ready("case", "history", str(case_id), "--json")))
    assert (row["trigger"], row["actor"], row["role"]) == ("submit", "officer.wong", "applicant")


def test_an_account_acts_in_every_role_it_holds(ready: Qmas, tmp_path: Path) -> None:
    ok(ready("user", "add", "officer.ng", "--role", "caseworker", "--role", "auditor"))
    case_id = new_case(ready, tmp_path)
    ok(ready("case", "advance", str(case_id), "submit", "--actor", "officer.ng",
             "--role", "caseworker"))  # fmt: skip
    ok(ready("case", "advance", str(case_id), "note", "--actor", "officer.ng",
             "--role", "auditor", "--note", "Checked."))  # fmt: skip
    rows = json.loads(ok(ready("case", "history", str(case_id), "--json")))
    assert [(r["actor"], r["role"]) for r in rows] == [
        ("officer.ng", "caseworker"),
        ("officer.ng", "auditor"),
    ]


def test_roles_taken_away_take_effect_at_once(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    ok(ready("user", "roles", "officer.lam", "--role", "auditor"))
    before = snapshot(default_store())
    refused(
        ready("case", "advance", str(case_id), "submit", "--actor", "officer.lam",
              "--role", "caseworker"),
        code=3, contains="does not hold the role 'caseworker'",
    )  # fmt: skip
    assert snapshot(default_store()) == before


# --- every account change is an event ------------------------------------------------------
def test_every_account_change_names_the_operator(
    ready: Qmas, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin(monkeypatch, PASSWORD + "\n")
    ok(ready("user", "add", "officer.chan", "--role", "caseworker", "--password-stdin"))
    ok(ready("user", "roles", "officer.chan", "--role", "supervisor"))
    created(ready, "officer.chan")
    ok(ready("token", "revoke", "1"))
    ok(ready("user", "disable", "officer.chan"))
    ok(ready("user", "enable", "officer.chan"))
    got = [(e[1], e[3]) for e in events("officer.chan")]
    assert got == [
        ("created", OPERATOR),
        ("roles", OPERATOR),
        ("token", OPERATOR),
        ("revoked", OPERATOR),
        ("disabled", OPERATOR),
        ("enabled", OPERATOR),
    ]


def test_the_operator_is_named_even_without_a_user_name(
    ready: Qmas, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    def nobody(uid: int) -> object:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr("pwd.getpwuid", nobody)
    ok(ready("user", "add", "officer.chan", "--role", "caseworker"))
    assert events("officer.chan")[0][3] == f"cli:uid{os.getuid()}"


# --- the checks as functions -----------------------------------------------------------------
def test_check_username_and_parse_roles() -> None:
    assert check_username("  officer.lam ") == "officer.lam"
    assert parse_roles([" supervisor", "caseworker", "supervisor"]) == ("caseworker", "supervisor")
    for bad in ("SYSTEM", "system", "a" * 65, "-a", "a\nb"):
        with pytest.raises(InvalidInput):
            check_username(bad)
    with pytest.raises(InvalidInput, match="at least one role"):
        parse_roles([])


def test_check_password_strips_only_the_line_end() -> None:
    assert check_password("  twelve chars  \r\n") == "  twelve chars  "
    with pytest.raises(InvalidInput, match="UTF-8"):
        check_password("twelve chars \ud800")


# --- logins, throttling (function level, SQLite and PostgreSQL) -----------------------------
@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its lowest cost: these tests count logins, not the hash's strength (the
    CLI tests above store and check real-cost hashes)."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(credentials, "_hasher", hasher)
    monkeypatch.setattr(credentials, "_DUMMY", hasher.hash("not anyone's password"))


@pytest.fixture
def staff(any_store: Store, cheap_argon2: None) -> Store:
    """The test staff, with officer.lam's password set."""
    add_staff(any_store)
    Accounts(any_store).set_password(
        "officer.lam", hash_password(PASSWORD), by="tests", at="2023-01-01T00:00:00Z"
    )
    return any_store


def account_row(store: Store, username: str) -> dict[str, Any]:
    with store.read() as tx:
        row = tx.conn.execute(select(accounts_t).where(accounts_t.c.username == username))
        return dict(row.mappings().one())


def token_rows(store: Store) -> list[dict[str, Any]]:
    with store.read() as tx:
        return [dict(r) for r in tx.conn.execute(select(api_tokens)).mappings()]


def test_login_gives_a_token_of_login_token_hours(
    staff: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QMAS_LOGIN_TOKEN_HOURS", "2")
    issued = login("officer.lam", PASSWORD, store=staff, now=FROZEN_AT)
    assert (issued.username, issued.expires_at) == ("officer.lam", "2023-06-01T04:00:00.000000Z")
    assert issued.token.startswith("qmas_")
    (row,) = token_rows(staff)
    assert (row["kind"], row["token_hash"]) == ("login", token_digest(issued.token))
    assert account_row(staff, "officer.lam")["last_login_at"] == AT
    assert authenticate(issued.token, store=staff, now=FROZEN_AT).username == "officer.lam"
    later = FROZEN_AT + timedelta(hours=2)
    with pytest.raises(NotAuthenticated, match="token expired"):
        authenticate(issued.token, store=staff, now=later)


def test_unknown_username_and_wrong_password_get_the_same_answer(staff: Store) -> None:
    answers = []
    for username, password in [
        ("officer.lam", "wrong password!"),
        ("officer.nobody", PASSWORD),
        ("officer.wong", PASSWORD),  # exists, has no password
        ("system", PASSWORD),  # the flows' account never logs in
        ("", PASSWORD),
        ("officer\x00lam", PASSWORD),
        ("\ud800", PASSWORD),
        ("x" * 10_000, PASSWORD),
        ("officer.lam", "\ud800 lone surrogate"),
        ("officer.lam", ""),
    ]:
        with pytest.raises(NotAuthenticated) as refused_login:
            login(username, password, store=staff, now=FROZEN_AT)
        assert type(refused_login.value) is NotAuthenticated
        answers.append(str(refused_login.value))
    assert set(answers) == {"wrong username or password"}
    assert token_rows(staff) == []


def test_a_password_longer_than_any_never_matches_its_prefix(staff: Store) -> None:
    """Passwords are at most 1,024 characters; a longer one is not cut to match."""
    long_password = "p" * 1024
    Accounts(staff).set_password("officer.wong", hash_password(long_password), by="t", at=AT)
    with pytest.raises(NotAuthenticated):
        login("officer.wong", long_password + "suffix", store=staff, now=FROZEN_AT)
    assert login("officer.wong", long_password, store=staff, now=FROZEN_AT).username == (
        "officer.wong"
    )


def test_the_fifth_wrong_password_locks_even_the_right_one(
    staff: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QMAS_LOGIN_LOCK_MINUTES", "7")
    moment = FROZEN_AT
    for n in range(1, 5):
        with pytest.raises(NotAuthenticated, match="wrong username or password"):
            login("officer.lam", f"guess {n}", store=staff, now=moment)
        assert account_row(staff, "officer.lam")["failed_logins"] == n
        moment += timedelta(seconds=1)
    with pytest.raises(NotAuthenticated, match="wrong username or password") as fifth:
        login("officer.lam", "guess 5", store=staff, now=moment)
    assert type(fifth.value) is NotAuthenticated
    row = account_row(staff, "officer.lam")
    assert row["locked_until"] == iso(moment + timedelta(minutes=7))
    assert Accounts(staff).events("officer.lam")[-1]["event"] == "locked"

    with pytest.raises(TooManyAttempts) as locked:
        login("officer.lam", PASSWORD, store=staff, now=moment + timedelta(minutes=6, seconds=59))
    assert locked.value.retry_after == 1
    assert str(locked.value) == (
        "too many failed logins: account 'officer.lam' is locked until 2023-06-01 02:07 UTC"
    )
    assert token_rows(staff) == []

    issued = login("officer.lam", PASSWORD, store=staff, now=moment + timedelta(minutes=7))
    assert issued.username == "officer.lam"
    row = account_row(staff, "officer.lam")
    assert (row["failed_logins"], row["locked_until"]) == (0, None)


def test_the_lock_lifts_on_the_clock(staff: Store, frozen_clock: time_machine.Traveller) -> None:
    """The same with the engine's own clock (no moment passed): 15 minutes by default."""
    for n in range(5):
        with pytest.raises(NotAuthenticated):
            login("officer.lam", f"guess {n}", store=staff)
    frozen_clock.shift(timedelta(minutes=14, seconds=59))
    with pytest.raises(TooManyAttempts) as locked:
        login("officer.lam", PASSWORD, store=staff)
    assert locked.value.retry_after == 1
    frozen_clock.shift(timedelta(seconds=1))
    assert login("officer.lam", PASSWORD, store=staff).expires_at == ("2023-06-01T10:15:00.000000Z")


def test_a_success_resets_the_count(staff: Store) -> None:
    for n in range(4):
        with pytest.raises(NotAuthenticated):
            login("officer.lam", f"guess {n}", store=staff, now=FROZEN_AT)
    login("officer.lam", PASSWORD, store=staff, now=FROZEN_AT)
    for n in range(4):
        with pytest.raises(NotAuthenticated):
            login("officer.lam", f"guess {n}", store=staff, now=FROZEN_AT)
    assert login("officer.lam", PASSWORD, store=staff, now=FROZEN_AT).username == "officer.lam"


def test_a_disabled_account_cannot_log_in_and_its_tokens_stay_dead(staff: Store) -> None:
    """Disabling revokes every token: enabling the account again (after a leak, say) brings
    none of them back; the account logs in afresh."""
    issued = login("officer.lam", PASSWORD, store=staff, now=FROZEN_AT)
    made = issue_token("officer.lam", 5, by="tests", store=staff, now=FROZEN_AT)
    Accounts(staff).set_active("officer.lam", False, by="tests", at=AT)
    with pytest.raises(NotAuthenticated, match="wrong username or password"):
        login("officer.lam", PASSWORD, store=staff, now=FROZEN_AT)
    for token in (issued.token, made.token):
        with pytest.raises(NotAuthenticated, match="token revoked"):
            authenticate(token, store=staff, now=FROZEN_AT)
    Accounts(staff).set_active("officer.lam", True, by="tests", at=AT)
    for token in (issued.token, made.token):
        with pytest.raises(NotAuthenticated, match="token revoked"):
            authenticate(token, store=staff, now=FROZEN_AT)
    fresh = login("officer.lam", PASSWORD, store=staff, now=FROZEN_AT)
    assert authenticate(fresh.token, store=staff, now=FROZEN_AT).username == "officer.lam"
    events = [e for e in Accounts(staff).events("officer.lam") if e["event"] == "disabled"]
    assert events[-1]["detail"] == "2 token(s) revoked"


def test_an_unknown_username_is_locked_out_like_an_account(staff: Store) -> None:
    """Being locked out does not tell which usernames exist: an unknown one is answered the
    same way, after the same number of failures, for the same time."""
    answers: dict[str, list[str]] = {}
    for username in ("officer.lam", "officer.nobody"):
        for n in range(5):
            with pytest.raises(NotAuthenticated) as refusal:
                login(username, f"guess {n}", store=staff, now=FROZEN_AT)
            answers.setdefault(username, []).append(type(refusal.value).__name__)
        with pytest.raises(TooManyAttempts) as locked:
            login(username, PASSWORD, store=staff, now=FROZEN_AT + timedelta(minutes=1))
        answers[username].append(str(locked.value).replace(username, "U"))
        assert locked.value.retry_after == 14 * 60
    assert answers["officer.lam"] == answers["officer.nobody"]
    # after the lock, an unknown name is just wrong again
    with pytest.raises(NotAuthenticated) as after:
        login("officer.nobody", PASSWORD, store=staff, now=FROZEN_AT + timedelta(minutes=15))
    assert type(after.value) is NotAuthenticated


def test_a_guess_in_flight_when_the_lock_falls_is_answered_as_locked(
    staff: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent guesses passed the lock check before the fifth failure locked the account:
    when they finish, the right one must not log in (nor tell that it was right)."""
    until = iso(FROZEN_AT + timedelta(minutes=15))
    real_verify = logins.verify_password

    def verify_while_others_lock(stored: str | None, password: str) -> bool:
        with staff.write() as tx:
            tx.conn.execute(
                update(accounts_t)
                .where(accounts_t.c.username == "officer.lam")
                .values(locked_until=until)
            )
        return real_verify(stored, password)

    monkeypatch.setattr(logins, "verify_password", verify_while_others_lock)
    for password in (PASSWORD, "a wrong guess"):
        with pytest.raises(TooManyAttempts, match="locked until 2023-06-01 02:15 UTC"):
            login("officer.lam", password, store=staff, now=FROZEN_AT)
        row = account_row(staff, "officer.lam")
        assert (row["failed_logins"], row["last_login_at"]) == (0, None)
        with staff.write() as tx:  # unlock for the next attempt to start
            tx.conn.execute(update(accounts_t).values(locked_until=None))
    assert token_rows(staff) == []


def test_an_account_disabled_while_its_password_is_checked_gets_no_token(
    staff: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_verify = logins.verify_password

    def verify_while_disabled(stored: str | None, password: str) -> bool:
        Accounts(staff).set_active("officer.lam", False, by="tests", at=AT)
        return real_verify(stored, password)

    monkeypatch.setattr(logins, "verify_password", verify_while_disabled)
    with pytest.raises(NotAuthenticated, match="wrong username or password"):
        login("officer.lam", PASSWORD, store=staff, now=FROZEN_AT)
    assert token_rows(staff) == []


def test_concurrent_failures_each_count(staff: Store) -> None:
    """Twelve wrong passwords at once: each is counted (no lost update on PostgreSQL)."""
    settings = AuthSettings(login_max_failures=1000)
    errors: list[BaseException] = []

    def guess(n: int) -> None:
        try:
            login("officer.lam", f"guess {n}", store=staff, settings=settings, now=FROZEN_AT)
        except NotAuthenticated:
            pass
        except BaseException as err:  # anything else fails the test below
            errors.append(err)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert account_row(staff, "officer.lam")["failed_logins"] == 12


def test_system_cannot_log_in_or_have_a_token(staff: Store) -> None:
    with pytest.raises(NotAuthenticated, match="wrong username or password"):
        login("system", "", store=staff, now=FROZEN_AT)
    with pytest.raises(InvalidInput, match="'system' account acts only inside the flows"):
        issue_token("system", by="tests", store=staff, now=FROZEN_AT)


# --- tokens (function level) -----------------------------------------------------------------
def test_a_token_works_until_it_expires(staff: Store) -> None:
    issued = issue_token("officer.wong", 3, by="tests", store=staff, now=FROZEN_AT)
    assert issued.expires_at == "2023-06-04T02:00:00.000000Z"
    assert authenticate(issued.token, store=staff, now=FROZEN_AT).username == "officer.wong"
    (row,) = token_rows(staff)
    assert row["last_used_at"] == AT
    just_before = FROZEN_AT + timedelta(days=3) - timedelta(microseconds=1)
    assert authenticate(issued.token, store=staff, now=just_before).username == "officer.wong"
    with pytest.raises(NotAuthenticated, match="token expired"):
        authenticate(issued.token, store=staff, now=FROZEN_AT + timedelta(days=3))


def test_last_used_is_written_at_most_once_a_minute(staff: Store) -> None:
    issued = issue_token("officer.wong", by="tests", store=staff, now=FROZEN_AT)
    authenticate(issued.token, store=staff, now=FROZEN_AT)
    authenticate(issued.token, store=staff, now=FROZEN_AT + timedelta(seconds=59))
    assert token_rows(staff)[0]["last_used_at"] == AT
    authenticate(issued.token, store=staff, now=FROZEN_AT + timedelta(seconds=60))
    assert token_rows(staff)[0]["last_used_at"] == iso(FROZEN_AT + timedelta(seconds=60))


def test_a_revoked_token_is_refused(staff: Store) -> None:
    issued = issue_token("officer.wong", by="tests", store=staff, now=FROZEN_AT)
    Accounts(staff).revoke_token(issued.token_id, by="tests", at=AT)
    with pytest.raises(NotAuthenticated, match="token revoked"):
        authenticate(issued.token, store=staff, now=FROZEN_AT)


@pytest.mark.parametrize(
    "token",
    ["", "qmas_nothing", "x" * 201, "qmas_\ud800", "qmas_\x00", "Bearer qmas_x"],
    ids=["empty", "unknown", "too-long", "surrogate", "nul", "with-scheme"],
)
def test_a_bad_token_is_invalid(staff: Store, token: str) -> None:
    issue_token("officer.wong", by="tests", store=staff, now=FROZEN_AT)
    with pytest.raises(NotAuthenticated, match="invalid token"):
        authenticate(token, store=staff, now=FROZEN_AT)


def test_a_token_differing_in_one_character_is_invalid(staff: Store) -> None:
    issued = issue_token("officer.wong", by="tests", store=staff, now=FROZEN_AT)
    last = issued.token[-1]
    other = issued.token[:-1] + ("A" if last != "A" else "B")
    with pytest.raises(NotAuthenticated, match="invalid token"):
        authenticate(other, store=staff, now=FROZEN_AT)


def test_revoking_a_token_id_beyond_any_row_is_not_found(staff: Store) -> None:
    for token_id in (0, -1, 2**63, 10**30):
        with pytest.raises(NotFound, match="no token"):
            Accounts(staff).revoke_token(token_id, by="tests", at=AT)


def test_two_adds_of_one_username_at_once_make_one_account(staff: Store) -> None:
    """The rival that loses the race is told the name is taken, never a database error."""
    results: list[str] = []
    barrier = threading.Barrier(6)

    def add() -> None:
        barrier.wait()
        try:
            Accounts(staff).add("officer.race", ["caseworker"], by="tests", at=AT)
            results.append("created")
        except InvalidInput as err:
            results.append(str(err))

    threads = [threading.Thread(target=add) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (
        sorted(results)
        == ["created"] + ["invalid input: an account named 'officer.race' already exists"] * 5
    )
    assert [e["event"] for e in Accounts(staff).events("officer.race")] == ["created"]


def test_ensure_system_twice_at_once_is_harmless(any_store: Store) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def init() -> None:
        barrier.wait()
        try:
            Accounts(any_store).ensure_system(AT)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=init) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [a.username for a in Accounts(any_store).all()] == ["system"]


def test_lookups_of_names_no_database_can_hold_answer_none(any_store: Store) -> None:
    accounts = Accounts(any_store)
    for name in ("officer\x00lam", "\ud800", "x" * 65, ""):
        assert accounts.get(name) is None
        with pytest.raises(NotFound):
            accounts.tokens(name)


def test_password_stdin_takes_one_line_alone(ready: Qmas, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second line would be dropped without a word: the password set would not be the one
    typed."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("abcdefghijkl\nsecondline\n"))
    refused(
        ready("user", "password", "officer.lam", "--password-stdin"),
        code=2,
        contains="give the password on one line, alone",
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("abcdefghijklmn\r\n"))
    assert ready("user", "password", "officer.lam", "--password-stdin")[0] == 0


@pytest.mark.parametrize("name", ["qmas-reminders", "qmas-dispatch", "qmas-anything", "system"])
def test_the_flows_names_are_reserved(ready: Qmas, name: str) -> None:
    """A person named like a flow would make a human act look like a flow's in history."""
    refused(ready("user", "add", name, "--role", "supervisor"), code=2, contains="reserved")


def test_account_events_name_the_os_user_by_uid_not_by_environment(
    ready: Qmas, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import pwd

    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    assert ready("user", "disable", "officer.lam")[0] == 0
    (event,) = [
        e for e in Accounts(default_store()).events("officer.lam") if e["event"] == "disabled"
    ]
    assert event["by"] == f"cli:{pwd.getpwuid(os.getuid()).pw_name}"


def test_a_new_password_ends_the_sessions_of_the_old_one_but_not_issued_tokens(
    staff: Store,
) -> None:
    session = login("officer.lam", PASSWORD, store=staff, now=FROZEN_AT)
    issued = issue_token("officer.lam", 5, by="tests", store=staff, now=FROZEN_AT)
    Accounts(staff).set_password(
        "officer.lam", hash_password("a brand new passphrase"), by="tests", at=AT
    )
    with pytest.raises(NotAuthenticated, match="token revoked"):
        authenticate(session.token, store=staff, now=FROZEN_AT)
    assert authenticate(issued.token, store=staff, now=FROZEN_AT).username == "officer.lam"
    (event,) = [e for e in Accounts(staff).events("officer.lam") if e["event"] == "password"][-1:]
    assert event["detail"] == "1 login session(s) ended"
