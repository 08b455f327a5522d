"""The `qmas` CLI through `console.cli.main(argv)`: output contracts, one-line errors, exit codes.

Every failure is one line on stderr and a non-zero exit; no traceback ever reaches the user.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from states.audit import verify
from states.catalogue import TERMINAL
from states.models import applications
from tests.core.clikit import Qmas, Result
from tests.factories import ACTOR_FOR, application, overseas_application
from workflows.clock import HK
from workflows.engine import default_store
from workflows.spec import Trigger
from workflows.views import list_cases


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def case_count() -> int:
    with default_store().read() as tx:
        return int(tx.conn.execute(select(func.count()).select_from(applications)).scalar_one())


def new_case(qmas: Qmas, tmp_path: Path, data: dict[str, Any] | None = None) -> int:
    code, out, err = qmas("case", "new", write(tmp_path, "app.json", data or application()))
    assert (code, err) == (0, "")
    return int(out)


def one_error_line(result: Result, *, code: int, contains: str) -> str:
    got, _, err = result
    assert got == code, result
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert contains in lines[0]
    return lines[0]


def advance(qmas: Qmas, case_id: int, trigger: str, role: str, *extra: str) -> Result:
    """``case advance`` as the test account for ``role`` (`ACTOR_FOR`; an unknown role is
    tried by officer.lam, so that the role itself is what gets refused)."""
    actor = ACTOR_FOR.get(role, "officer.lam")
    return qmas("case", "advance", str(case_id), trigger, "--actor", actor, "--role", role,
                *extra)  # fmt: skip


def drive_to_evisa(qmas: Qmas, case_id: int) -> None:
    steps: list[tuple[str, str, list[str]]] = [
        ("submit", "applicant", []),
        ("issue_file_number", "caseworker", []),
        ("request_documents", "caseworker", ["--data", '{"documents": ["police_certificate"]}']),
        ("receive_documents", "caseworker", ["--data", '{"received": ["police_certificate"]}']),
        ("shortlist", "supervisor", []),
        ("allot_quota", "committee", []),
        ("record_mainland_consent", "caseworker", ["--data", '{"consent_letter": "SZ ref 1"}']),
        # HK$230 for the applicant and each of the two dependants
        ("pay_fee", "applicant", ["--data", '{"amount": 690, "method": "pps"}']),
        ("issue_evisa", "caseworker", []),
    ]
    for version, (trigger, role, extra) in enumerate(steps):
        code, _, err = advance(qmas, case_id, trigger, role, "--expect-version", str(version),
                               *extra)  # fmt: skip
        assert (code, err) == (0, ""), (trigger, err)


# --- init and case new ---------------------------------------------------------------------
def test_init_creates_the_tables_and_is_safe_to_repeat(qmas: Qmas) -> None:
    for _ in range(2):
        code, out, err = qmas("init")
        assert (code, err) == (0, "")
        assert "Database ready" in out and "cli.db" in out


def test_commands_before_init_say_to_run_init(qmas: Qmas) -> None:
    one_error_line(qmas("cases"), code=8, contains="run 'qmas init' first")


def test_case_new_prints_the_id_alone(ready: Qmas, tmp_path: Path) -> None:
    for expected in (1, 2):
        code, out, err = ready("case", "new", write(tmp_path, "a.json", overseas_application()))
        assert (code, out, err) == (0, f"{expected}\n", "")


def test_invalid_application_prints_one_line_per_problem_and_writes_nothing(
    ready: Qmas, tmp_path: Path
) -> None:
    data = application()
    data["applicant"]["email"] = "not-an-email"
    data["applicant"]["nationality"] = "XX"
    data["applicant"]["language"] = "fr"
    data["surprise"] = True
    code, out, err = ready("case", "new", write(tmp_path, "bad.json", data))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 4, err
    assert all(line.startswith("error: invalid application: ") for line in lines)
    text = "\n".join(lines)
    for where in ("applicant.email", "applicant.nationality", "applicant.language", "surprise"):
        assert where in text
    assert case_count() == 0


def test_child_too_old_is_one_line(ready: Qmas, tmp_path: Path) -> None:
    data = application()
    data["dependants"][1]["date_of_birth"] = "2001-01-01"
    one_error_line(
        ready("case", "new", write(tmp_path, "old.json", data)),
        code=2,
        contains="must be under 18",
    )
    assert case_count() == 0


@pytest.mark.parametrize(
    ("content", "contains"),
    [
        (None, "no such file"),
        ("{not json", "is not valid JSON (line 1"),
        ("[1, 2]", "must be a JSON object"),
        ("", "is not valid JSON"),
    ],
    ids=["missing", "bad-json", "not-object", "empty"],
)
def test_unreadable_application_file_is_one_line(
    ready: Qmas, tmp_path: Path, content: str | None, contains: str
) -> None:
    path = str(tmp_path / "missing.json") if content is None else write(tmp_path, "x", content)
    one_error_line(ready("case", "new", path), code=2, contains=contains)
    assert case_count() == 0


# --- case advance --------------------------------------------------------------------------
def test_case_advance_happy_path_prints_the_move(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    code, out, err = advance(ready, case_id, "submit", "applicant")
    assert (code, err) == (0, "")
    assert out.strip() == f"Case {case_id}: draft → submitted (submit), version 1"
    drive_rest = advance(ready, case_id, "issue_file_number", "caseworker", "--expect-version", "1")
    assert drive_rest[0] == 0 and "version 2" in drive_rest[1]


@pytest.mark.parametrize(
    ("argv", "code", "contains"),
    [
        (["shortlist", "caseworker"], 5, "cannot shortlist from draft"),
        (["submit", "committee"], 3, "allowed roles: applicant, caseworker"),
        (["approve", "caseworker"], 2, "unknown trigger 'approve'"),
        (["submit", "janitor"], 2, "unknown role 'janitor'"),
        (["withdraw", "applicant", "--data", "{oops"], 2, "--data is not valid JSON"),
        (["withdraw", "applicant", "--data", "[1]"], 2, "--data must be a JSON object"),
        (["withdraw", "applicant", "--data", '{"x": 1}'], 2, "withdraw takes no --data"),
        (["submit", "applicant", "--expect-version", "3"], 6, "expected version 3"),
    ],
    ids=[
        "wrong-state",
        "wrong-role",
        "unknown-trigger",
        "unknown-role",
        "bad-json-data",
        "data-not-object",
        "unexpected-data",
        "stale-version",
    ],
)
def test_case_advance_refusals_are_one_line(
    ready: Qmas, tmp_path: Path, argv: list[str], code: int, contains: str
) -> None:
    case_id = new_case(ready, tmp_path)
    one_error_line(advance(ready, case_id, *argv), code=code, contains=contains)
    _, out, _ = ready("case", "show", str(case_id), "--json")
    assert (json.loads(out)["state"], json.loads(out)["version"]) == ("draft", 0)


def test_refuse_without_reason_and_wrong_fee_are_one_line(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    assert advance(ready, case_id, "submit", "applicant")[0] == 0
    line = one_error_line(
        advance(ready, case_id, "refuse", "supervisor"), code=5, contains="needs a reason"
    )
    assert "--reason" in line
    code, out, _ = advance(ready, case_id, "refuse", "supervisor", "--reason", "Forged degree")
    assert code == 0 and "refused" in out
    one_error_line(advance(ready, case_id, "withdraw", "applicant"), code=5, contains="closed")


def test_stale_expect_version_is_conflict(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    assert advance(ready, case_id, "submit", "applicant", "--expect-version", "0")[0] == 0
    line = one_error_line(
        advance(ready, case_id, "withdraw", "applicant", "--expect-version", "0"),
        code=6,
        contains="changed by someone else",
    )
    assert "it is now at version 1" in line


def test_pay_fee_refusal_lists_all_reasons_on_one_line(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path, overseas_application())
    for trigger, role in [
        ("submit", "applicant"),
        ("issue_file_number", "caseworker"),
        ("shortlist", "caseworker"),
        ("allot_quota", "committee"),
    ]:
        assert advance(ready, case_id, trigger, role)[0] == 0
    line = one_error_line(
        advance(ready, case_id, "pay_fee", "applicant", "--data", '{"amount": 1, "method": "x"}'),
        code=5,
        contains="the fee due, HK$690",  # HK$230 for each of three persons
    )
    assert "'x' is not accepted" in line


@pytest.mark.parametrize(
    ("argv", "contains"),
    [
        (["case", "advance", "1", "submit", "--role", "applicant"], "Missing option '--actor'"),
        (["case", "show", "abc"], "Invalid value for 'case'"),
        (["case", "frobnicate"], "No such command 'frobnicate'"),
        (["cases", "--colour", "red"], "No such option: --colour"),
    ],
    ids=["missing-option", "not-an-integer", "unknown-command", "unknown-option"],
)
def test_usage_errors_are_one_line(ready: Qmas, argv: list[str], contains: str) -> None:
    line = one_error_line(ready(*argv), code=2, contains=contains)
    assert line.endswith("(try --help)")


@pytest.mark.parametrize("argv", [[], ["case"]], ids=["qmas", "qmas-case"])
def test_no_arguments_shows_the_help(qmas: Qmas, argv: list[str]) -> None:
    code, out, err = qmas(*argv)
    assert code == 2
    assert "Usage" in out + err and "error:" not in err


def test_unknown_case_is_one_line(ready: Qmas) -> None:
    one_error_line(ready("case", "show", "42"), code=4, contains="no case 42")
    one_error_line(advance(ready, 42, "submit", "applicant"), code=4, contains="no case 42")


# --- show, history, actions, cases ---------------------------------------------------------
CASE_KEYS = {
    "id",
    "file_number",
    "state",
    "version",
    "applicant",
    "dependants",
    "documents",
    "lodged_on",
    "fee_due",
    "application_fee",
    "evisa_number",
    "ruleset",
    "score",
    "pass_mark",
    "passed",
    "categories",
}


def test_case_show_json_has_the_contract_keys(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    code, out, _ = ready("case", "show", str(case_id), "--json")
    draft = json.loads(out)
    assert code == 0 and set(draft) >= CASE_KEYS
    assert (draft["state"], draft["version"], draft["evisa_number"]) == ("draft", 0, None)
    assert draft["lodged_on"] is None and draft["ruleset"] is None

    drive_to_evisa(ready, case_id)
    code, out, _ = ready("case", "show", str(case_id), "--json")
    view = json.loads(out)
    assert code == 0 and set(view) >= CASE_KEYS
    assert (view["state"], view["version"]) == ("evisa_issued", 9)
    assert view["file_number"] == f"QM2023-{case_id:06d}"
    evisa = view["evisa_number"][:-2]  # EV2023-<8 random characters>, then the check
    assert evisa.startswith("EV2023-") and len(evisa) == 15 and f"{case_id:06d}" not in evisa
    assert view["lodged_on"] == "2023-06-01" and view["fee_due"] == 690
    assert view["application_fee"] is None  # none before 26 February 2025 11:00 HKT
    assert view["ruleset"] == "gpt-2023" and view["passed"] is True
    assert view["score"] >= view["pass_mark"] and isinstance(view["categories"], dict)
    assert {"name", "date_of_birth", "nationality", "email"} <= set(view["applicant"])
    assert [d["file_number"] for d in view["dependants"]] == [
        f"QM2023-{case_id:06d}-D1",
        f"QM2023-{case_id:06d}-D2",
    ]
    assert [d["evisa_number"][:-2] for d in view["dependants"]] == [
        f"{evisa}-D1",
        f"{evisa}-D2",
    ]
    (doc,) = view["documents"]
    assert {"name", "due", "status"} <= set(doc)
    assert (doc["name"], doc["status"]) == ("police_certificate", "received")

    code, out, _ = ready("case", "show", str(case_id))
    assert code == 0 and "e-Visa" in out


HISTORY_KEYS = {"from_state", "to_state", "trigger", "actor", "role", "reason", "at", "hash"}


def test_case_history_json_entries_carry_the_contract_keys(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    code, out, _ = ready("case", "history", str(case_id), "--json")
    assert (code, json.loads(out)) == (0, [])
    drive_to_evisa(ready, case_id)
    code, out, _ = ready("case", "history", str(case_id), "--json")
    entries = json.loads(out)
    assert code == 0 and len(entries) == 9
    for entry in entries:
        assert set(entry) >= HISTORY_KEYS
        assert len(entry["hash"]) == 64
        assert entry["at"] == "2023-06-01T02:00:00.000000Z"
    assert [e["trigger"] for e in entries[:2]] == ["submit", "issue_file_number"]
    assert entries[0]["from_state"] == "draft" and entries[-1]["to_state"] == "evisa_issued"
    assert entries[-1]["actor"] == "officer.lam" and entries[-1]["role"] == "caseworker"
    code, out, _ = ready("case", "history", str(case_id))
    assert code == 0 and "issue_evisa" in out


def test_case_actions_json_lists_every_trigger(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    code, out, _ = ready("case", "actions", str(case_id), "--role", "applicant", "--json")
    acts = json.loads(out)
    assert code == 0 and len(acts) == len(Trigger)
    for a in acts:
        assert {"trigger", "allowed", "reasons"} <= set(a)
        assert bool(a["reasons"]) is not a["allowed"]
    allowed = {a["trigger"] for a in acts if a["allowed"]}
    assert allowed == {"submit", "withdraw"}
    code, out, _ = ready("case", "actions", str(case_id), "--role", "caseworker")
    assert code == 0 and "submit" in out
    one_error_line(
        ready("case", "actions", str(case_id), "--role", "boss"), code=2, contains="unknown role"
    )


def test_cases_filtered_by_state(ready: Qmas, tmp_path: Path) -> None:
    first = new_case(ready, tmp_path)
    second = new_case(ready, tmp_path, overseas_application())
    assert advance(ready, second, "submit", "applicant")[0] == 0
    code, out, _ = ready("cases", "--state", "submitted", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == [second]
    assert rows[0]["state"] == "submitted"
    code, out, _ = ready("cases", "--state", "draft", "--json")
    assert [r["id"] for r in json.loads(out)] == [first]
    code, out, _ = ready("cases", "--json")
    assert [r["id"] for r in json.loads(out)] == [first, second]
    code, out, _ = ready("cases")
    assert code == 0 and "2 case(s)" in out


def test_cases_with_unknown_state_is_an_error(ready: Qmas) -> None:
    one_error_line(ready("cases", "--state", "approved"), code=2, contains="unknown state")


# --- workflow diagram and audit -------------------------------------------------------------
def test_workflow_diagram_prints_mermaid(ready: Qmas, tmp_path: Path) -> None:
    code, out, _ = ready("workflow", "diagram")
    assert code == 0 and out.startswith("stateDiagram-v2")
    assert "draft --> submitted: submit" in out
    assert "fee_paid --> evisa_issued: issue_evisa" in out
    assert "classDef current" not in out

    case_id = new_case(ready, tmp_path)
    assert advance(ready, case_id, "submit", "applicant")[0] == 0
    code, out, _ = ready("workflow", "diagram", "--case", str(case_id))
    assert code == 0 and out.startswith("stateDiagram-v2")
    assert "class submitted current" in out


def test_audit_checkpoint_never_overwrites_without_force(ready: Qmas, tmp_path: Path) -> None:
    """An older checkpoint is evidence: a second checkpoint to the same file is refused."""
    case_id = new_case(ready, tmp_path)
    cp = tmp_path / "cp.json"
    assert ready("audit", "checkpoint", "--out", str(cp))[0] == 0
    first = cp.read_bytes()
    ready("case", "advance", str(case_id), "submit", "--actor", "officer.wong", "--role",
          "applicant")  # fmt: skip
    one_error_line(ready("audit", "checkpoint", "--out", str(cp)), code=2, contains="add --force")
    assert cp.read_bytes() == first
    code, out, _ = ready("audit", "checkpoint", "--out", str(cp), "--force")
    assert code == 0 and "checkpoint of 1 rows" in out
    assert cp.read_bytes() != first


def test_audit_checkpoint_and_verify(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    drive_to_evisa(ready, case_id)
    cp = tmp_path / "cp.json"
    code, out, _ = ready("audit", "checkpoint", "--out", str(cp))
    assert code == 0 and "checkpoint of 9 rows" in out
    code, out, _ = ready("audit", "verify", "--checkpoint", str(cp))
    assert code == 0 and "matches the checkpoint" in out
    one_error_line(
        ready("audit", "verify", "--checkpoint", str(tmp_path / "nope.json")),
        code=2,
        contains="no checkpoint file",
    )


# --- demo ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_demo_leaves_every_case_terminal_with_a_verifying_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qmas: Qmas, prefect_harness: None
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QMAS_DATABASE_URL", "sqlite:///./demo.db")
    monkeypatch.setenv("QMAS_MAIL_DIR", str(tmp_path / "mail"))
    default_store.cache_clear()
    # The demo dates each step itself (2023 to early 2024); its Prefect flows need a clock that
    # moves, so it ticks, from a fixed date after the demo's timeline (never today's).
    with time_machine.travel(datetime(2024, 6, 3, 10, 0, tzinfo=HK), tick=True):
        code, out, err = qmas("demo")
    assert (code, err) == (0, "")
    assert "transitions committed" in out
    assert (tmp_path / "demo.db").exists()
    rows = list_cases()
    assert len(rows) == 5
    assert {r["state"] for r in rows} <= {s.value for s in TERMINAL}
    report = verify(default_store())
    assert report.ok and report.rows == sum(r["version"] for r in rows)
    code, out, _ = qmas("audit", "verify")
    assert code == 0 and "audit ok" in out
    # The flows ran: every transition's notice, the reminders, in the mail folder.
    mail = sorted(p.name for p in (tmp_path / "mail").glob("*.eml"))
    assert len(mail) >= report.rows
    assert any(".reminder_documents_final." in name for name in mail)


def test_demo_never_deletes_data_refuses_then_backs_up_wal_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qmas: Qmas
) -> None:
    """An earlier demo moved the main file aside and deleted the WAL, losing the committed
    transitions still in it. Now a database that holds cases is refused without --fresh, and
    with it the file is copied by SQLite's backup API, WAL included, before starting over."""
    import sqlite3

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QMAS_DATABASE_URL", "sqlite:///./demo.db")
    monkeypatch.setenv("QMAS_MAIL_DIR", str(tmp_path / "mail"))
    default_store.cache_clear()
    with time_machine.travel(datetime(2024, 6, 3, 10, 0, tzinfo=HK), tick=True):
        assert qmas("init")[0] == 0
        case_file = tmp_path / "app.json"
        case_file.write_text(json.dumps(application()), encoding="utf-8")
        assert qmas("case", "new", str(case_file))[0] == 0
        # committed, but still in the WAL: a writer that never checkpoints, kept open
        holder = sqlite3.connect(tmp_path / "demo.db", isolation_level=None)
        holder.execute("PRAGMA wal_autocheckpoint=0")
        holder.execute("UPDATE applications SET name = 'ONLY IN THE WAL' WHERE id = 1")
        assert (tmp_path / "demo.db-wal").stat().st_size > 0
        code, out, err = qmas("demo", "--no-flows")
        assert (code, out) == (1, "")
        assert "holds 1 case(s)" in err and "--fresh" in err
        code, out, err = qmas("demo", "--no-flows", "--fresh")
        holder.close()
    assert (code, err) == (0, ""), err
    (backup,) = tmp_path.glob("demo.db.backup-*")
    copy = sqlite3.connect(backup)
    try:
        assert copy.execute("SELECT name FROM applications").fetchall() == [("ONLY IN THE WAL",)]
    finally:
        copy.close()
    assert len(list_cases()) == 5  # the demo's own cases, on a fresh file
