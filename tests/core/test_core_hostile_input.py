"""Hostile input through `console.cli.main(argv)`: still one `error:` line and the right exit code.

Markup and control characters in stored text are printed literally; ids too large for any row,
JSON that Python's parser chokes on, a database locked by another process, an unsupported
database URL and a full disk each give one line on stderr, never a traceback, and a refused
command leaves the database exactly as it was.
"""

from __future__ import annotations

import errno
import json
import sqlite3
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from console.cli import main
from tests.conftest import FROZEN_AT
from tests.factories import ACTOR_FOR, add_staff, application, overseas_application
from workflows import advance
from workflows.clock import iso
from workflows.engine import default_store

Result = tuple[int, str, str]
HUGE_IDS = ["99999999999999999999", "9223372036854775808", "1" * 5000]


class Cli:
    """`qmas ARGS...` against one SQLite file; returns (exit code, stdout, stderr)."""

    def __init__(self, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.db = db
        self.url = f"sqlite:///{db}"
        self.capsys = capsys

    def __call__(self, *argv: str) -> Result:
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(list(argv))
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return int(exit_info.value.code or 0), out, err

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, read with a connection of its own."""
        con = sqlite3.connect(self.db)
        try:
            names = [
                r[0]
                for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not r[0].startswith("sqlite_")
            ]
            return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY 1').fetchall() for n in names}
        finally:
            con.close()

    def sql(self, statement: str, *params: Any) -> None:
        con = sqlite3.connect(self.db)
        try:
            with con:
                con.execute(statement, params)
        finally:
            con.close()

    def new_case(self, tmp_path: Path, data: dict[str, Any] | None = None) -> int:
        path = tmp_path / "app.json"
        path.write_text(json.dumps(data or application()), encoding="utf-8")
        code, out, err = self("case", "new", str(path))
        assert (code, err) == (0, ""), err
        return int(out)

    def advance(self, case_id: int, trigger: str, role: str, *extra: str) -> Result:
        """``case advance`` as the test account for ``role`` (`ACTOR_FOR`)."""
        actor = "--actor", ACTOR_FOR[role]
        return self("case", "advance", str(case_id), trigger, *actor, "--role", role, *extra)


@pytest.fixture
def qmas(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    frozen_clock: time_machine.Traveller,
) -> Iterator[Cli]:
    """An initialised database with the test staff, on the frozen clock."""
    cli = Cli(tmp_path / "hostile.db", capsys)
    monkeypatch.setenv("QMAS_DATABASE_URL", cli.url)
    default_store.cache_clear()
    assert cli("init")[0] == 0
    add_staff(default_store())
    yield cli
    monkeypatch.setenv("QMAS_DATABASE_URL", cli.url)  # a test may have broken it
    monkeypatch.delenv("QMAS_SQLITE_BUSY_TIMEOUT_MS", raising=False)
    default_store.cache_clear()


def one_error_line(result: Result, *, code: int, contains: str) -> str:
    got, _, err = result
    assert got == code, result
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert contains in lines[0], lines[0]
    return lines[0]


def flat(text: str) -> str:
    """Output without table borders and line breaks, to find a value a cell may wrap."""
    return "".join(c for c in text if not c.isspace() and c not in "│┃|")


# --- 1. markup and control characters are printed literally ---------------------------------
MARKUP_NAME = "[/]Ann [bold red]x[/]"
MARKUP_REP = "[/]Rep :smile:"


def test_markup_in_user_text_is_printed_literally(qmas: Cli, tmp_path: Path) -> None:
    data = application(name=MARKUP_NAME)
    data["applicant"]["representative"]["name"] = MARKUP_REP
    case_id = qmas.new_case(tmp_path, data)
    # --actor names an account: markup there is refused, shown literally, and writes nothing.
    before = qmas.snapshot()
    note = "--role", "caseworker", "--note", "[bold red]n[/]"
    refusal = one_error_line(
        qmas("case", "advance", str(case_id), "note", "--actor", "[/]", *note),
        code=3,
        contains="no account named '[/]'",
    )
    assert refusal.endswith("('qmas user list')") and qmas.snapshot() == before
    assert qmas("case", "advance", str(case_id), "note", "--actor", "officer.lam", *note)[0] == 0
    # An actor written before accounts (free text, as the engine still takes it) stays literal.
    advance(case_id, "note", "[/]", "caseworker", note="[/]m", store=default_store())
    assert qmas.advance(case_id, "withdraw", "applicant", "--reason", "[/]r [red]x[/]")[0] == 0

    code, out, err = qmas("case", "history", str(case_id))
    assert (code, err) == (0, "")
    for text in ("[/] (caseworker)", "[bold red]n[/]", "[/]m", "[/]r [red]x[/]"):
        assert flat(text) in flat(out), text

    code, out, err = qmas("case", "show", str(case_id))
    assert (code, err) == (0, "")
    assert f"Applicant  {MARKUP_NAME}, born" in out
    assert f"Represented by {MARKUP_REP} <" in out  # no emoji either
    assert "Reason     [/]r [red]x[/]" in out

    code, out, err = qmas("cases")
    assert (code, err) == (0, "")
    assert flat(MARKUP_NAME) in flat(out)


CONTROL = "A\x1b[31mB\x00C\x07D\x9bE\u202eF"


def test_control_characters_in_stored_data_are_shown_escaped(qmas: Cli, tmp_path: Path) -> None:
    case_id = qmas.new_case(tmp_path)
    assert qmas.advance(case_id, "submit", "applicant")[0] == 0
    # Written past the engine (an older release, a hand edit): the views must still be safe.
    qmas.sql(
        "UPDATE applications SET name = ?, representative_name = ? WHERE id = ?",
        CONTROL,
        CONTROL,
        case_id,
    )
    qmas.sql("UPDATE history SET actor = ? WHERE case_id = ?", CONTROL, case_id)
    for argv in (["case", "show", str(case_id)], ["cases"], ["case", "history", str(case_id)]):
        code, out, err = qmas(*argv)
        assert (code, err) == (0, ""), argv
        for raw in ("\x1b", "\x00", "\x07", "\x9b", "\u202e"):
            assert raw not in out, (argv, raw)
        assert flat("A\\x1b[31mB\\x00C\\x07D\\x9bE\\u202eF") in flat(out), argv

    code, out, _ = qmas("case", "show", str(case_id), "--json")  # JSON escapes them itself
    assert code == 0 and json.loads(out)["applicant"]["name"] == CONTROL


@pytest.mark.parametrize(
    "argv",
    [
        ["schema", "data", "\x1b[31mx"],
        ["case", "show", "\x1b[2J\x00"],
        ["cases", "--state", "\x9b"],
    ],
    ids=["schema-data", "case-ref", "state"],
)
def test_control_characters_in_error_lines_are_escaped(qmas: Cli, argv: list[str]) -> None:
    before = qmas.snapshot()
    line = one_error_line(qmas(*argv), code=2, contains="\\x")
    assert not any(c in line for c in "\x1b\x00\x9b")
    assert qmas.snapshot() == before


# --- 2. ids no row can have ------------------------------------------------------------------
NOTE_BY_CASEWORKER = ["--actor", "officer.lam", "--role", "caseworker", "--note", "n"]


@pytest.mark.parametrize("number", HUGE_IDS, ids=["20-digits", "2**63", "5000-digits"])
@pytest.mark.parametrize(
    "argv",
    [
        ["case", "show", "{n}"],
        ["case", "history", "{n}"],
        ["case", "actions", "{n}", "--role", "caseworker"],
        ["case", "checklist", "{n}"],
        ["case", "advance", "{n}", "note", *NOTE_BY_CASEWORKER],
        ["case", "preview", "{n}", "note", *NOTE_BY_CASEWORKER],
        ["workflow", "diagram", "--case", "{n}"],
    ],
    ids=["show", "history", "actions", "checklist", "advance", "preview", "diagram"],
)
def test_case_ids_beyond_any_row_are_not_found(
    qmas: Cli, tmp_path: Path, argv: list[str], number: str
) -> None:
    qmas.new_case(tmp_path)
    before = qmas.snapshot()
    line = one_error_line(qmas(*[a.replace("{n}", number) for a in argv]), code=4, contains="")
    assert f"no case {number[:40]}" in line
    assert qmas.snapshot() == before


@pytest.mark.parametrize("number", HUGE_IDS, ids=["20-digits", "2**63", "5000-digits"])
def test_outbox_retry_of_an_event_id_beyond_any_row_is_not_found(qmas: Cli, number: str) -> None:
    before = qmas.snapshot()
    one_error_line(qmas("outbox", "retry", number), code=4, contains="no outbox event")
    assert qmas.snapshot() == before


# --- 2. JSON that Python's parser accepts too readily or chokes on -----------------------------
BAD_JSON = {
    "deep": "[" * 100_000 + "]" * 100_000,
    "long-int": '{"amount": ' + "9" * 5000 + "}",
    "nan": '{"amount": NaN}',
    "infinity": '{"amount": Infinity}',
    "minus-infinity": '{"amount": -Infinity}',
    "overflowing-float": '{"amount": 1e999}',
    "lone-surrogate": '{"method": "\\ud800"}',
}


@pytest.mark.parametrize("text", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_bad_data_json_is_one_line(qmas: Cli, tmp_path: Path, text: str) -> None:
    case_id = qmas.new_case(tmp_path)
    before = qmas.snapshot()
    one_error_line(qmas.advance(case_id, "pay_fee", "applicant", "--data", text), code=2,
                   contains="--data")  # fmt: skip
    assert qmas.snapshot() == before


@pytest.mark.parametrize("text", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_bad_application_file_json_is_one_line(qmas: Cli, tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    before = qmas.snapshot()
    one_error_line(qmas("case", "new", str(path)), code=2, contains="invalid application")
    one_error_line(qmas("assess", str(path)), code=2, contains="invalid profile")
    assert qmas.snapshot() == before


# --- 2. a database locked by another process --------------------------------------------------
def test_write_lock_held_elsewhere_is_one_database_line(
    qmas: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = qmas.new_case(tmp_path)
    path = tmp_path / "app2.json"
    path.write_text(json.dumps(application()), encoding="utf-8")
    default_store().dispose()
    monkeypatch.setenv("QMAS_SQLITE_BUSY_TIMEOUT_MS", "100")
    default_store.cache_clear()
    before = qmas.snapshot()
    holder = sqlite3.connect(qmas.db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        for argv in (
            ["case", "new", str(path)],
            ["init"],
            ["case", "advance", str(case_id), "note", *NOTE_BY_CASEWORKER],
        ):
            one_error_line(qmas(*argv), code=8, contains="error: database: database is locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert qmas.snapshot() == before


def test_a_raw_driver_error_is_one_database_line(
    qmas: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DB-API error SQLAlchemy did not wrap (raised straight from the driver)."""

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("console.cli.list_cases", broken)
    one_error_line(qmas("cases"), code=8, contains="error: database: disk I/O error")


# --- 2. arguments that are not UTF-8 ----------------------------------------------------------
def test_argument_bytes_that_are_not_utf8_are_invalid_input(qmas: Cli, tmp_path: Path) -> None:
    case_id = qmas.new_case(tmp_path)
    before = qmas.snapshot()
    # What Python makes of `--note $'x\xff'`: the stray byte as a lone surrogate.
    result = qmas.advance(case_id, "note", "caseworker", "--note", "x\udcff")
    line = one_error_line(result, code=2, contains="is not valid UTF-8")
    assert "\\udcff" in line
    assert qmas.snapshot() == before


# --- 2. configuration -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "mysql://x@y/z",
        "nonsense",
        "",
        "sqlite+foo:///x.db",
        "postgresql+asyncpg://u@h/d",
        "postgresql://u:s3cret@h:port/d",
    ],
    ids=["mysql", "no-scheme", "empty", "unknown-sqlite-driver", "other-pg-driver", "bad-port"],
)
def test_unsupported_database_url_is_a_configuration_error(
    qmas: Cli, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("QMAS_DATABASE_URL", url)
    default_store.cache_clear()
    line = one_error_line(qmas("case", "show", "1"), code=7, contains="QMAS_DATABASE_URL must be")
    assert "s3cret" not in line


def test_malformed_database_setting_is_a_configuration_error(
    qmas: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QMAS_SQLITE_BUSY_TIMEOUT_MS", "soon")
    default_store.cache_clear()
    one_error_line(qmas("cases"), code=7, contains="QMAS_SQLITE_BUSY_TIMEOUT_MS")


# --- 2. output that cannot be written --------------------------------------------------------
class FullDisk:
    """A stdout like `> /dev/full`: every write fails with ENOSPC."""

    encoding = "utf-8"

    def write(self, _text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def isatty(self) -> bool:
        return False


def test_output_to_a_full_disk_is_one_line_and_keeps_what_was_committed(
    qmas: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = qmas.new_case(tmp_path)
    before = qmas.snapshot()
    monkeypatch.setattr(sys, "stdout", FullDisk())
    one_error_line(qmas("case", "history", str(case_id)), code=1, contains="cannot write output")
    one_error_line(qmas("case", "show", str(case_id), "--json"), code=1,
                   contains="No space left on device")  # fmt: skip
    assert qmas.snapshot() == before
    line = one_error_line(
        qmas.advance(case_id, "submit", "applicant"), code=1, contains="cannot write output"
    )
    assert "saved" in line
    monkeypatch.undo()
    monkeypatch.setenv("QMAS_DATABASE_URL", qmas.url)
    code, out, _ = qmas("case", "show", str(case_id), "--json")
    assert code == 0 and (json.loads(out)["state"], json.loads(out)["version"]) == ("submitted", 1)


# --- 2. --expect-version out of range is invalid input -----------------------------------------
@pytest.mark.parametrize("version", ["-1", "9223372036854775808"])
def test_expect_version_out_of_range_is_invalid_input(
    qmas: Cli, tmp_path: Path, version: str
) -> None:
    case_id = qmas.new_case(tmp_path)
    before = qmas.snapshot()
    one_error_line(qmas.advance(case_id, "submit", "applicant", "--expect-version", version),
                   code=2, contains="--expect-version")  # fmt: skip
    assert qmas.snapshot() == before


# --- 3. read models ------------------------------------------------------------------------
def test_as_of_since_is_the_last_change_of_state(
    qmas: Cli, tmp_path: Path, frozen_clock: time_machine.Traveller
) -> None:
    case_id = qmas.new_case(tmp_path)
    created = iso(FROZEN_AT)
    code, out, _ = qmas("case", "show", str(case_id), "--as-of", "2023-06-01", "--json")
    assert code == 0 and json.loads(out)["since"] == created
    frozen_clock.shift(timedelta(days=1))
    assert qmas.advance(case_id, "note", "caseworker", "--note", "rang")[0] == 0  # keeps draft
    code, out, _ = qmas("case", "show", str(case_id), "--as-of", "2023-06-02", "--json")
    assert code == 0 and json.loads(out)["since"] == created
    frozen_clock.shift(timedelta(days=1))
    assert qmas.advance(case_id, "submit", "applicant")[0] == 0
    submitted = iso(FROZEN_AT + timedelta(days=2))
    frozen_clock.shift(timedelta(days=3))
    assert qmas.advance(case_id, "note", "caseworker", "--note", "checked")[0] == 0
    data = ["--data", '{"applicant": {"language": "en"}}']
    assert qmas.advance(case_id, "amend", "caseworker", *data)[0] == 0
    code, out, _ = qmas("case", "show", str(case_id), "--as-of", "2023-06-30", "--json")
    past = json.loads(out)
    assert code == 0 and (past["state"], past["version"], past["since"]) == (
        "submitted",
        4,
        submitted,
    )
    code, out, _ = qmas("case", "show", str(case_id), "--as-of", "2023-06-30")
    assert code == 0 and out.rstrip().endswith(f"since {submitted}")


def test_as_of_beyond_the_calendar_is_invalid_input(qmas: Cli, tmp_path: Path) -> None:
    case_id = qmas.new_case(tmp_path)
    for moment in ("0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00"):
        one_error_line(qmas("case", "show", str(case_id), "--as-of", moment), code=2,
                       contains="outside the years")  # fmt: skip


def test_closed_cases_have_no_next_due(qmas: Cli, tmp_path: Path) -> None:
    open_id, closed_id = qmas.new_case(tmp_path), qmas.new_case(tmp_path)
    docs = ["--data", '{"documents": ["police_certificate"]}']
    for case_id in (open_id, closed_id):
        assert qmas.advance(case_id, "submit", "applicant")[0] == 0
        assert qmas.advance(case_id, "issue_file_number", "caseworker")[0] == 0
        assert qmas.advance(case_id, "request_documents", "caseworker", *docs)[0] == 0
    assert qmas.advance(closed_id, "withdraw", "applicant")[0] == 0
    code, out, _ = qmas("cases", "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert code == 0
    assert rows[open_id]["next_due"] is not None
    assert (rows[closed_id]["state"], rows[closed_id]["next_due"]) == ("withdrawn", None)


# --- 3. found by a second hostile session (issue 8 features) ----------------------------------
def new_overseas_case(qmas: Cli, tmp_path: Path) -> str:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(overseas_application()), encoding="utf-8")
    return qmas("case", "new", str(path))[1].strip()


@pytest.mark.parametrize(
    ("variable", "value", "contains"),
    [
        ("QMAS_ANNUAL_QUOTAS", "notjson", "annual_quotas"),
        ("QMAS_DOCUMENT_PERIOD_WORKING_DAYS", "abc", "QMAS_DOCUMENT_PERIOD_WORKING_DAYS"),
    ],
)
def test_a_workflow_setting_that_does_not_parse_is_a_configuration_error(
    qmas: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    contains: str,
) -> None:
    from workflows.engine import default_settings

    case = new_overseas_case(qmas, tmp_path)
    monkeypatch.setenv(variable, value)
    default_settings.cache_clear()
    try:
        argv = ["case", "preview", case, "note", "--actor", "auditor.yu", "--role", "auditor"]
        result = qmas(*argv, "--note", "x")
    finally:
        monkeypatch.delenv(variable)
        default_settings.cache_clear()
    one_error_line(result, code=7, contains=contains)


@pytest.mark.parametrize("command", ["remind", "escalate"])
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_day_outside_the_scheme_s_calendar_is_invalid_input(
    qmas: Cli, command: str, day: str
) -> None:
    one_error_line(qmas(command, "--today", day, "--simulate"), code=2, contains="is outside")


def test_a_due_date_more_than_a_year_away_is_refused_with_a_sentence(
    qmas: Cli, tmp_path: Path
) -> None:
    case = new_overseas_case(qmas, tmp_path)
    for trigger, role in (("submit", "applicant"), ("issue_file_number", "caseworker")):
        assert qmas.advance(int(case), trigger, role)[0] == 0
    data = json.dumps({"documents": ["photograph"], "due": "9999-12-31"})
    argv = ["case", "advance", case, "request_documents", "--actor", "officer.lam",
            "--role", "caseworker"]  # fmt: skip
    one_error_line(qmas(*argv, "--data", data), code=5, contains="more than a year away")
