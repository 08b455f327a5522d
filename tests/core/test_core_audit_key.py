"""The audit key (issue 10, section 2): HMAC-SHA-256 over the history chain with a key kept
outside the database (QMAS_AUDIT_KEY or QMAS_AUDIT_KEY_FILE), and `qmas audit rotate-key`,
which introduces or replaces it behind a signed anchor.

In-process through `Store(key=...)`; through the CLI (tests/core/clikit.py) with the
environment variables. All on the frozen clock, 1 June 2023 10:00 HKT.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from states.audit import anchors, rotate_key, verify
from states.chain import Key, row_hash
from states.digest import case_digest, case_parts, outbox_digest
from states.errors import InvalidInput
from states.keys import MIN_KEY_LENGTH, key_id, make_key
from states.models import applications as app_t
from states.models import dependants as dep_t
from states.models import document_requests as docs_t
from states.models import history as hist_t
from states.store import Store
from tests.core.clikit import Qmas, Result
from tests.core.core_lifecycle import S, drive_to
from workflows.clock import iso, now_utc
from workflows.engine import default_store

pytestmark = pytest.mark.usefixtures("frozen_clock")

SECRET_1 = "audit-key-one-" + "a" * 40
SECRET_2 = "audit-key-two-" + "b" * 40
KEY_1 = make_key(SECRET_1, "test")
KEY_2 = make_key(SECRET_2, "test")


def rows(store: Store) -> list[dict[str, Any]]:
    with store.read() as tx:
        result = tx.conn.execute(
            select(hist_t, app_t.c.privacy_salt)
            .select_from(hist_t.join(app_t, app_t.c.id == hist_t.c.case_id))
            .order_by(hist_t.c.id)
        )
        return [dict(r) for r in result.mappings()]


def sql(store: Store, statement: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def digest_now(store: Store, case_id: int) -> str:
    """The case digest of the tables as they stand: a forger can compute it (it is unkeyed)."""
    with store.read() as tx:
        conn = tx.conn
        case = dict(conn.execute(select(app_t).where(app_t.c.id == case_id)).mappings().one())
        deps = conn.execute(select(dep_t).where(dep_t.c.application_id == case_id))
        docs = conn.execute(select(docs_t).where(docs_t.c.case_id == case_id))
        dependants = [dict(d) for d in deps.mappings()]
        parts = case_parts(case, dependants, [dict(d) for d in docs.mappings()])
    return case_digest(parts)


def keyed(store: Store, key: Key | None) -> Store:
    """The same database, written by a process configured with ``key``."""
    return Store(engine=store.engine, key=key)


def write_key(path: Path, secret: str) -> Path:
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


# --- in process -------------------------------------------------------------------------------
def test_rows_are_signed_with_the_key_of_the_store(store: Store) -> None:
    signer = keyed(store, KEY_1)
    drive_to(signer, S.withdrawn)
    written = rows(store)
    assert [r["key_id"] for r in written] == [KEY_1.id, KEY_1.id]
    for r in written:
        signed = row_hash(r["prev_hash"], r, KEY_1.secret, r["privacy_salt"])
        assert r["hash"] == signed != row_hash(r["prev_hash"], r, None, r["privacy_salt"])
    # the key itself is never stored, only its id
    with store.engine.connect() as conn:
        dump = "\n".join(str(tuple(r)) for r in conn.execute(text("SELECT * FROM history")))
    assert SECRET_1 not in dump and KEY_1.id in dump
    report = verify(signer)
    assert report.ok and report.keyed and report.warnings == []


def test_the_key_id_is_a_digest_of_the_key_and_reading_trims_the_line() -> None:
    assert make_key(f"  {SECRET_1}\n", "here") == KEY_1
    assert KEY_1.id == key_id(SECRET_1.encode()) and len(KEY_1.id) == 16
    assert SECRET_1 not in repr(KEY_1.id) and KEY_1.id != KEY_2.id


def test_verifying_with_another_key_names_the_first_row(store: Store) -> None:
    case_id = drive_to(keyed(store, KEY_1), S.withdrawn)
    first = rows(store)[0]["id"]
    report = verify(keyed(store, KEY_2))
    assert not report.ok
    problem = report.problems[0]
    assert (problem.row_id, problem.case_id) == (first, case_id)
    assert f"signed with key {KEY_1.id}, not the configured audit key {KEY_2.id}" in str(problem)


def test_without_a_key_unsigned_rows_verify_with_a_warning(store: Store) -> None:
    drive_to(keyed(store, None), S.withdrawn)
    report = verify(keyed(store, None))
    assert report.ok and not report.keyed
    assert report.warnings == [
        "no audit key is configured: the chain is plain SHA-256, which anyone who can write the "
        "database can recompute (set QMAS_AUDIT_KEY or QMAS_AUDIT_KEY_FILE)"
    ]


def test_without_a_key_signed_rows_are_checked_for_order_only(store: Store) -> None:
    drive_to(keyed(store, KEY_1), S.withdrawn)
    report = verify(keyed(store, None))
    assert report.ok and report.unchecked == 2
    [warning] = report.warnings
    assert warning.startswith("no audit key is configured: 2 rows signed with a key")
    assert "for order only" in warning and "QMAS_AUDIT_KEY or QMAS_AUDIT_KEY_FILE" in warning


@pytest.mark.parametrize("key", [None, KEY_1], ids=["no-key", "keyed"])
def test_a_consistent_forged_row_passes_only_without_a_key(store: Store, key: Key | None) -> None:
    """Why the key: anyone who can write the database can append a consistent unkeyed row."""
    writer = keyed(store, key)
    case_id = drive_to(writer, S.withdrawn)
    last = [r for r in rows(store) if r["case_id"] == case_id][-1]
    forged = {k: v for k, v in last.items() if k not in ("id", "privacy_salt")}
    forged.update(seq=last["seq"] + 1, prev_hash=last["hash"], actor="mallory", key_id=None)
    forged["outbox_digest"] = outbox_digest([], last["privacy_salt"])
    # the forger moves the case row along as the engine would: version, case digest, head
    sql(store, "UPDATE applications SET version = version + 1 WHERE id = :c", c=case_id)
    forged["case_digest"] = digest_now(store, case_id)
    forged["hash"] = row_hash(forged["prev_hash"], forged, None, last["privacy_salt"])
    with store.engine.begin() as conn:
        inserted = conn.execute(hist_t.insert().values(**forged)).inserted_primary_key
        assert inserted is not None
        new_id = inserted[0]
        conn.execute(app_t.update().where(app_t.c.id == case_id).values(head_hash=forged["hash"]))
    report = verify(writer)
    if key is None:
        assert report.ok, report.problems
        assert "plain SHA-256" in report.warnings[0]
    else:
        problem = report.problems[0]
        assert (problem.row_id, problem.case_id) == (new_id, case_id)
        assert "it is not signed with the audit key" in problem.message


def test_rotating_to_the_key_in_force_is_refused(store: Store) -> None:
    signer = keyed(store, KEY_1)
    drive_to(signer, S.withdrawn)
    with pytest.raises(InvalidInput, match="the new key is the key in force"):
        rotate_key(signer, KEY_1, actor="tests", at=iso(now_utc()))
    assert anchors(store) == []


def test_rotation_signs_an_anchor_and_old_rows_verify_under_the_new_key(store: Store) -> None:
    plain = keyed(store, None)
    drive_to(plain, S.withdrawn)
    first = rotate_key(plain, KEY_1, actor="ops.chan", at=iso(now_utc()))
    assert first["key_id"] == KEY_1.id and first["previous_key_id"] is None
    assert (first["rows"], first["last_id"], first["actor"]) == (2, 2, "ops.chan")
    one = keyed(store, KEY_1)
    drive_to(one, S.withdrawn)
    assert verify(one).ok
    second = rotate_key(one, KEY_2, actor="ops.chan", at=iso(now_utc()))
    assert (second["previous_key_id"], second["rows"], second["last_id"]) == (KEY_1.id, 4, 4)
    two = keyed(store, KEY_2)
    drive_to(two, S.withdrawn)
    report = verify(two)
    assert report.ok and report.rows == 6 and report.warnings == []
    assert [r["key_id"] for r in rows(store)] == [
        None,
        None,
        KEY_1.id,
        KEY_1.id,
        KEY_2.id,
        KEY_2.id,
    ]
    assert [a["key_id"] for a in anchors(store)] == [KEY_1.id, KEY_2.id]


def test_rows_written_with_the_old_key_after_a_rotation_are_refused(store: Store) -> None:
    one = keyed(store, KEY_1)
    drive_to(one, S.withdrawn)
    rotate_key(one, KEY_2, actor="tests", at=iso(now_utc()))
    late = drive_to(one, S.withdrawn)  # a process not restarted with the new key
    late_row = rows(store)[2]["id"]
    problem = verify(keyed(store, KEY_2)).problems[0]
    assert (problem.row_id, problem.case_id) == (late_row, late)
    assert f"signed with key {KEY_1.id}, not the configured audit key {KEY_2.id}" in problem.message
    assert "no anchor vouches for it" in problem.message


def test_a_tampered_history_is_not_anchored(store: Store) -> None:
    plain = keyed(store, None)
    case_id = drive_to(plain, S.withdrawn)
    victim = rows(store)[1]["id"]
    sql(store, "UPDATE history SET reason = 'edited' WHERE id = :id", id=victim)
    with pytest.raises(InvalidInput) as caught:
        rotate_key(plain, KEY_1, actor="tests", at=iso(now_utc()))
    assert "the history does not verify, so it is not anchored" in str(caught.value)
    assert f"history row {victim} (case {case_id})" in str(caught.value)
    assert anchors(store) == []


def test_a_history_without_an_anchor_does_not_verify_under_a_key(store: Store) -> None:
    case_id = drive_to(keyed(store, None), S.withdrawn)
    problem = verify(keyed(store, KEY_1)).problems[0]
    assert (problem.row_id, problem.case_id) == (1, case_id)
    assert "predates the audit key and no anchor vouches for it" in problem.message
    assert "qmas audit rotate-key" in problem.message


def test_rotate_key_on_postgresql(pg_store: Store) -> None:
    plain = keyed(pg_store, None)
    drive_to(plain, S.withdrawn)
    rotate_key(plain, KEY_1, actor="tests", at=iso(now_utc()))
    assert verify(keyed(pg_store, KEY_1)).ok


def test_signed_rows_verify_on_any_store(any_store: Store) -> None:
    signer = keyed(any_store, KEY_1)
    case_id = drive_to(signer, S.evisa_issued)
    assert verify(signer).ok
    assert {r["key_id"] for r in rows(any_store)} == {KEY_1.id}
    problem = verify(keyed(any_store, KEY_2)).problems[0]
    assert (problem.row_id, problem.case_id) == (rows(any_store)[0]["id"], case_id)


# --- through the command line ---------------------------------------------------------------
Configure = Callable[..., None]


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Configure:
    """Set (a value) or unset (None) QMAS_AUDIT_KEY and QMAS_AUDIT_KEY_FILE for the next
    commands, as a restart of the process with that environment would."""

    def set_env(*, key: str | None = None, key_file: Path | str | None = None) -> None:
        for name, value in (("QMAS_AUDIT_KEY", key), ("QMAS_AUDIT_KEY_FILE", key_file)):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, str(value))
        if default_store.cache_info().currsize:
            default_store().dispose()
        default_store.cache_clear()

    set_env()
    return set_env


def ok_line(result: Result) -> str:
    code, out, err = result
    assert (code, err) == (0, ""), result
    return out.strip()


def error_line(result: Result, *, code: int, contains: str) -> str:
    got, out, err = result
    assert (got, out) == (code, ""), result
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert contains in lines[0], lines[0]
    return lines[0]


def cli_cases(n: int = 1) -> list[int]:
    """Cases written by a process with the environment as it is now (the CLI's store)."""
    return [drive_to(default_store(), S.withdrawn) for _ in range(n)]


@pytest.mark.parametrize("how", ["QMAS_AUDIT_KEY", "QMAS_AUDIT_KEY_FILE"])
def test_the_cli_signs_and_verifies_with_the_configured_key(
    ready: Qmas, configure: Configure, tmp_path: Path, how: str
) -> None:
    qmas = ready
    if how == "QMAS_AUDIT_KEY":
        configure(key=SECRET_1)
    else:
        configure(key_file=write_key(tmp_path / "audit.key", SECRET_1))
    out = ok_line(qmas("case", "new", str(_application_file(tmp_path))))
    case_id = int(out)
    assert qmas("case", "advance", out, "withdraw", "--actor", "officer.lam",
                "--role", "caseworker", "--reason", "Moved away")[0] == 0  # fmt: skip
    assert {r["key_id"] for r in rows(default_store())} == {KEY_1.id}
    assert ok_line(qmas("audit", "verify")) == (
        f"audit ok: 1 history rows over 1 cases verify, signed with audit key {KEY_1.id}"
    )
    # another key: the first row is named; no key: a warning, and the order is still checked
    configure(key=SECRET_2)
    code, out, err = qmas("audit", "verify")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"audit FAILED: history row 1 (case {case_id}): it is signed with key {KEY_1.id}, not "
        f"the configured audit key {KEY_2.id}, and no anchor vouches for it"
    ]
    configure()
    code, out, err = qmas("audit", "verify")
    assert code == 0 and out.startswith("audit ok: 1 history rows")
    [warning] = err.splitlines()
    assert warning.startswith("warning: no audit key is configured: 1 row signed with a key")
    assert "for order only (set QMAS_AUDIT_KEY or QMAS_AUDIT_KEY_FILE)" in warning


def _application_file(tmp_path: Path) -> Path:
    import json

    from tests.factories import application

    path = tmp_path / "app.json"
    path.write_text(json.dumps(application()))
    return path


def test_without_a_key_audit_verify_says_so(ready: Qmas, configure: Configure) -> None:
    cli_cases(2)
    code, out, err = ready("audit", "verify")
    assert code == 0 and out.strip() == "audit ok: 4 history rows over 2 cases verify"
    assert err.splitlines() == [
        "warning: no audit key is configured: the chain is plain SHA-256, which anyone who can "
        "write the database can recompute (set QMAS_AUDIT_KEY or QMAS_AUDIT_KEY_FILE)"
    ]


@pytest.mark.parametrize(
    ("setting", "contains"),
    [
        pytest.param(
            {"key": "too-short"},
            f"QMAS_AUDIT_KEY: the audit key must be at least {MIN_KEY_LENGTH} characters (got 9)",
            id="too-short",
        ),
        pytest.param(
            {"key": " " * 8}, "QMAS_AUDIT_KEY: the audit key must be at least", id="blank"
        ),
        pytest.param(
            {"key": SECRET_1[:20] + "\x1b" + SECRET_1[20:]},
            "QMAS_AUDIT_KEY: the audit key must be one line",
            id="control-character",
        ),
        pytest.param(
            {"key": SECRET_1, "key_file": "KEYFILE"},
            "QMAS_AUDIT_KEY and QMAS_AUDIT_KEY_FILE are both set",
            id="both-set",
        ),
        pytest.param(
            {"key_file": "MISSING"}, "QMAS_AUDIT_KEY_FILE: no key file at", id="missing-file"
        ),
        pytest.param(
            {"key_file": "DIR"},
            "QMAS_AUDIT_KEY_FILE: {DIR} is not a regular file",
            id="a-directory",
        ),
        pytest.param(
            {"key_file": "DEVZERO"},
            "QMAS_AUDIT_KEY_FILE: /dev/zero is not a regular file",
            id="dev-zero",
        ),
        pytest.param(
            {"key_file": "FIFO"}, "QMAS_AUDIT_KEY_FILE: {FIFO} is not a regular file", id="fifo"
        ),
        pytest.param(
            {"key_file": "SHORTFILE"},
            "QMAS_AUDIT_KEY_FILE: the audit key must be at least",
            id="short-key-in-file",
        ),
        pytest.param(
            {"key_file": "TWOLINES"},
            "QMAS_AUDIT_KEY_FILE: the audit key must be one line",
            id="two-lines-in-file",
        ),
    ],
)
@pytest.mark.parametrize("command", [("audit", "verify"), ("cases",), ("retention", "run")])
def test_bad_key_settings_exit_7_naming_the_variable(
    qmas: Qmas,
    configure: Configure,
    tmp_path: Path,
    setting: dict[str, str],
    contains: str,
    command: tuple[str, ...],
) -> None:
    assert qmas("init")[0] == 0
    files = {
        "KEYFILE": write_key(tmp_path / "audit.key", SECRET_2),
        "MISSING": tmp_path / "no-such.key",
        "DIR": tmp_path,
        "SHORTFILE": write_key(tmp_path / "short.key", "abc"),
        "TWOLINES": write_key(tmp_path / "two.key", SECRET_1 + "\n" + SECRET_2),
        "DEVZERO": Path("/dev/zero"),  # never ends: must not be read
        "FIFO": tmp_path / "key.fifo",  # nobody writes to it: must not be opened
    }
    os.mkfifo(files["FIFO"])
    contains = contains.format(DIR=str(tmp_path)[:80], FIFO=str(files["FIFO"])[:80])
    env: dict[str, Any] = dict(setting)
    if "key_file" in env:
        env["key_file"] = files[env["key_file"]]
    configure(**env)
    line = error_line(qmas(*command), code=7, contains=contains)
    assert SECRET_1 not in line and SECRET_2 not in line  # a key is never echoed
    configure()


def test_rotate_key_introduces_a_key_then_rotates_it(
    ready: Qmas, configure: Configure, tmp_path: Path
) -> None:
    cli_cases(2)  # 4 unsigned rows
    first = tmp_path / "keys" / "first.key"
    first.parent.mkdir()
    out = ok_line(ready("audit", "rotate-key", "--new-key-file", str(first), "--actor", "ops.chan"))
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o600  # made owner-only
    key_1 = make_key(first.read_text(), "first")
    assert out.startswith(f"anchored 4 history rows (last id 4) with audit key {key_1.id}.")
    assert f"QMAS_AUDIT_KEY_FILE={first}" in out and "(was" not in out
    assert [(a["actor"], a["key_id"], a["previous_key_id"]) for a in anchors(default_store())] == [
        ("ops.chan", key_1.id, None)
    ]

    configure(key_file=first)
    cli_cases(1)  # 2 rows signed with the first key
    assert ok_line(ready("audit", "verify")).endswith(f"signed with audit key {key_1.id}")

    second = tmp_path / "keys" / "second.key"
    out = ok_line(ready("audit", "rotate-key", "--new-key-file", str(second)))
    key_2 = make_key(second.read_text(), "second")
    assert out.startswith(
        f"anchored 6 history rows (last id 6) with audit key {key_2.id} (was {key_1.id})."
    )
    assert anchors(default_store())[-1]["actor"].startswith("cli:")  # the OS user by default

    configure(key_file=second)
    cli_cases(1)
    assert ok_line(ready("audit", "verify")) == (
        f"audit ok: 8 history rows over 4 cases verify, signed with audit key {key_2.id}"
    )

    # a process still holding the first key writes on: its rows are refused
    configure(key_file=first)
    late = cli_cases(1)[0]
    configure(key_file=second)
    code, out, err = ready("audit", "verify")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"audit FAILED: history row 9 (case {late}): it is signed with key {key_1.id}, not the "
        f"configured audit key {key_2.id}, and no anchor vouches for it"
    ]


def test_rotate_key_reuses_an_existing_key_file(
    ready: Qmas, configure: Configure, tmp_path: Path
) -> None:
    cli_cases(1)
    path = write_key(tmp_path / "given.key", SECRET_1)
    before = path.read_bytes()
    out = ok_line(ready("audit", "rotate-key", "--new-key-file", str(path)))
    assert f"with audit key {KEY_1.id}." in out
    assert path.read_bytes() == before
    configure(key=SECRET_1)  # the same key given directly
    assert ok_line(ready("audit", "verify")).endswith(f"signed with audit key {KEY_1.id}")


def test_rotate_key_to_the_key_in_force_is_refused(
    ready: Qmas, configure: Configure, tmp_path: Path
) -> None:
    path = write_key(tmp_path / "audit.key", SECRET_1)
    configure(key_file=path)
    cli_cases(1)
    error_line(
        ready("audit", "rotate-key", "--new-key-file", str(path)),
        code=2,
        contains="the new key is the key in force",
    )
    assert anchors(default_store()) == []


def test_rotate_key_refuses_to_anchor_a_tampered_history(
    ready: Qmas, configure: Configure, tmp_path: Path
) -> None:
    case_id = cli_cases(1)[0]
    sql(default_store(), "UPDATE history SET actor = 'mallory' WHERE id = 1")
    line = error_line(
        ready("audit", "rotate-key", "--new-key-file", str(tmp_path / "new.key")),
        code=2,
        contains="the history does not verify, so it is not anchored",
    )
    assert f"history row 1 (case {case_id}): its hash does not match its content" in line
    assert anchors(default_store()) == []


def test_rotate_key_refuses_a_bad_key_file(
    ready: Qmas, configure: Configure, tmp_path: Path
) -> None:
    cli_cases(1)
    short = write_key(tmp_path / "short.key", "abc")
    error_line(
        ready("audit", "rotate-key", "--new-key-file", str(short)),
        code=2,
        contains=f"{short}: the audit key must be at least {MIN_KEY_LENGTH} characters",
    )
    error_line(
        ready("audit", "rotate-key", "--new-key-file", str(tmp_path / "nowhere" / "k.key")),
        code=2,
        contains="cannot create the key file",
    )
    assert anchors(default_store()) == []


def test_after_a_rotation_verify_without_the_key_warns_it_cannot_check_the_anchor(
    ready: Qmas, configure: Configure, tmp_path: Path
) -> None:
    cli_cases(1)
    path = tmp_path / "audit.key"
    ok_line(ready("audit", "rotate-key", "--new-key-file", str(path)))
    key = make_key(path.read_text(), "k")
    code, out, err = ready("audit", "verify")
    assert code == 0 and out.startswith("audit ok: 2 history rows over 1 cases verify")
    [warning] = err.splitlines()
    assert warning.startswith("warning: no audit key is configured: ")
    assert f"the anchor of 2023-06-01 (key {key.id})" in warning


def test_an_empty_key_variable_counts_as_unset(qmas: Qmas, configure: Configure) -> None:
    """QMAS_AUDIT_KEY= (set but empty, as container files write it) is no key, not an error:
    verify says so, and a key file set beside it is the key."""
    assert qmas("init")[0] == 0
    configure(key="")
    code, out, err = qmas("audit", "verify")
    assert code == 0 and "audit ok" in out
    assert err.startswith("warning: no audit key is configured")
    configure()
