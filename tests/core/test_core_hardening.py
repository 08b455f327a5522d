"""Issue 10 §1: rules on the lodging date, e-Visa numbers nobody can guess, a refusal that names
another case only to staff, stored text printed literally, and no traceback for any failure.

Frozen clock (2023-06-01 10:00 HKT, `tests.conftest.FROZEN_AT`) or explicit ``now=``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import create_engine, select, text

from states.catalogue import State
from states.errors import TransitionNotAllowed
from states.models import dependants as dep_t
from states.store import Store
from tests.conftest import _PG_REASON, FROZEN_AT, PG_URL
from tests.core.clikit import Qmas
from tests.core.core_lifecycle import VALID, drive_to, fire, path_to
from tests.factories import ACTOR_FOR, overseas_application
from workflows import advance, create_case, effects
from workflows.clock import HK
from workflows.effects import EVISA_ALPHABET, check_digit
from workflows.engine import default_store, preview
from workflows.views import case_view, history

Result = tuple[int, str, str]
AT = FROZEN_AT  # 2023-06-01 10:00 HKT


def submit(store: Store, case_id: int, *, now: datetime = AT, **kwargs: Any) -> Any:
    return advance(case_id, "submit", ACTOR_FOR["applicant"], "applicant", store=store, now=now,
                   **kwargs)  # fmt: skip


def refusal(store: Store, case_id: int, **kwargs: Any) -> list[str]:
    with pytest.raises(TransitionNotAllowed) as err:
        submit(store, case_id, **kwargs)
    return list(err.value.reasons)


LATE = (
    "The lodging date 1 May 2023 is 31 days ago: a lodging date more than 30 days back needs "
    "--note saying why (a paper file, an import)."
)


# --- A. a lodging date far back needs a note; an age no applicant has is refused ---------------
@pytest.mark.parametrize(
    ("lodged_on", "note", "allowed"),
    [
        ("2023-05-02", None, True),  # 30 days back: no note needed
        ("2023-05-01", None, False),  # 31 days back
        ("2023-05-01", "Paper file found in the registry", True),
        ("2023-06-01", None, True),
    ],
    ids=["30-days", "31-days", "31-days-noted", "today"],
)
def test_submit__a_lodging_date_over_30_days_back_needs_a_note(
    store: Store, lodged_on: str, note: str | None, allowed: bool
) -> None:
    case_id = create_case(overseas_application(), store=store, now=AT)
    data = {"lodged_on": lodged_on}
    if not allowed:
        assert LATE in refusal(store, case_id, data=data, note=note)
        return
    done = submit(store, case_id, data=data, note=note)
    assert done.to_state == "submitted"
    assert history(case_id, store=store)[-1]["note"] == note


def test_late_lodging__counts_days_from_the_hong_kong_date(store: Store) -> None:
    """00:30 on 1 June in Hong Kong is still 31 May in UTC: the Hong Kong day counts."""
    case_id = create_case(overseas_application(), store=store, now=AT)
    early = datetime(2023, 6, 1, 0, 30, tzinfo=HK)
    assert LATE in refusal(store, case_id, data={"lodged_on": "2023-05-01"}, now=early)


def test_late_lodging__preview_shows_the_sentence_and_a_note_lifts_it(store: Store) -> None:
    case_id = create_case(overseas_application(), store=store, now=AT)
    kwargs: dict[str, Any] = {"store": store, "now": AT, "data": {"lodged_on": "2023-05-01"}}
    seen = preview(case_id, "submit", ACTOR_FOR["applicant"], "applicant", **kwargs)
    assert not seen.verdict.allowed and LATE in seen.verdict.reasons
    noted = preview(case_id, "submit", ACTOR_FOR["applicant"], "applicant", note="import",
                    **kwargs)  # fmt: skip
    assert noted.verdict.allowed, noted.verdict.reasons


def test_late_lodging__the_cli_refuses_without_note_and_keeps_the_note(
    ready: Qmas, tmp_path: Path
) -> None:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(overseas_application()), encoding="utf-8")
    case_id = ready("case", "new", str(path))[1].strip()
    argv = ["case", "advance", case_id, "submit", "--actor", "officer.wong", "--role", "applicant",
            "--data", '{"lodged_on": "2023-04-01"}']  # fmt: skip
    code, _, err = ready(*argv)
    assert code == 5 and "is 61 days ago" in err and "needs --note" in err
    assert ready(*argv, "--note", "Imported from the 2023 paper register")[0] == 0
    rows = json.loads(ready("case", "history", case_id, "--json")[1])
    assert rows[-1]["note"] == "Imported from the 2023 paper register"


@pytest.mark.parametrize(
    ("born", "lodged_on", "sentence"),
    [
        (
            "1920-01-01",
            "2023-05-20",
            "The applicant would be 103 on the lodging date 20 May 2023; an age over 100 is taken "
            "for a mistyped date: check the lodging date and the date of birth.",
        ),
        (
            "1990-04-12",
            "1989-01-01",
            "The lodging date 1 January 1989 is before the applicant's date of birth; check both "
            "dates.",
        ),
    ],
    ids=["over-100", "before-birth"],
)
def test_submit__an_age_no_applicant_has_on_the_lodging_date_is_refused(
    store: Store, born: str, lodged_on: str, sentence: str
) -> None:
    data = overseas_application()
    data["applicant"]["date_of_birth"] = born
    # A draft made when the applicant was 100 (the file's own check), lodged years later.
    case_id = create_case(data, store=store, now=datetime(2020, 6, 1, tzinfo=HK))
    reasons = refusal(store, case_id, data={"lodged_on": lodged_on}, note="paper file")
    assert sentence in reasons


def test_submit__exactly_100_on_the_lodging_date_is_no_typing_error(store: Store) -> None:
    data = overseas_application()
    data["applicant"]["date_of_birth"] = "1923-05-20"
    case_id = create_case(data, store=store, now=datetime(2020, 6, 1, tzinfo=HK))
    done = submit(store, case_id, data={"lodged_on": "2023-05-20"})
    assert done.to_state == "submitted"


def test_submit__a_lodging_date_in_the_future_is_refused(store: Store) -> None:
    case_id = create_case(overseas_application(), store=store, now=AT)
    reasons = refusal(store, case_id, data={"lodged_on": "2023-06-02"})
    assert "The lodging date 2 June 2023 is in the future." in reasons


# --- B. e-Visa numbers: a random part, a check character ---------------------------------------
EVISA = re.compile(rf"EV2023-([{EVISA_ALPHABET}]{{8}})-([0-9X])")
EVISA_DEP = re.compile(rf"EV2023-([{EVISA_ALPHABET}]{{8}})-D(\d+)-([0-9X])")


def evisa_numbers(store: Store, case_id: int) -> tuple[str, list[str]]:
    view = case_view(case_id, store=store)
    return view["evisa_number"], [d["evisa_number"] for d in view["dependants"]]


def test_evisa_numbers__random_part_unambiguous_alphabet_and_check_character(
    store: Store, frozen_clock: time_machine.Traveller
) -> None:
    first = drive_to(store, State.evisa_issued)
    second = drive_to(store, State.evisa_issued)
    serials = set()
    for case_id in (first, second):
        number, deps = evisa_numbers(store, case_id)
        match = EVISA.fullmatch(number)
        assert match, number
        assert check_digit(number[:-2]) == number[-1]
        assert f"{case_id:06d}" not in number  # nothing derived from the case id
        serials.add(match.group(1))
        assert len(deps) == 2
        for n, dep in enumerate(deps, start=1):
            m = EVISA_DEP.fullmatch(dep)
            assert m and m.group(1) == match.group(1) and m.group(2) == str(n), dep
            assert check_digit(dep[:-2]) == dep[-1]
    assert len(serials) == 2
    assert not set("01IO") & set(EVISA_ALPHABET) and len(EVISA_ALPHABET) == 32


def test_evisa_serial__draws_40_bits_into_8_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    def bits(k: int) -> int:
        asked.append(k)
        return (1 << 40) - 1

    monkeypatch.setattr(effects, "draw_bits", bits)
    assert effects.evisa_serial() == "Z" * 8 and asked == [40]
    monkeypatch.setattr(effects, "draw_bits", lambda k: 0)
    assert effects.evisa_serial() == "2" * 8


def test_evisa_number_drawn_twice__nothing_written_a_conflict_line_and_a_retry_works(
    qmas: Qmas, frozen_clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert qmas("init")[0] == 0
    from tests.factories import add_staff

    store = default_store()
    add_staff(store)
    monkeypatch.setattr(effects, "draw_bits", lambda k: 12345)  # every draw the same
    first = drive_to(store, State.evisa_issued)
    second = drive_to(store, State.fee_paid)
    argv = ["case", "advance", str(second), "issue_evisa", "--actor", "officer.lam",
            "--role", "caseworker"]  # fmt: skip
    code, _, err = qmas(*argv)
    assert code == 6, err
    assert err.strip() == (
        "error: conflict: the e-Visa number drawn is already taken (a rare chance); nothing was "
        "written: run the command again"
    )
    assert json.loads(qmas("case", "show", str(second), "--json")[1])["state"] == "fee_paid"
    monkeypatch.setattr(effects, "draw_bits", __import__("secrets").randbits)
    assert qmas(*argv)[0] == 0
    assert evisa_numbers(store, first)[0] != evisa_numbers(store, second)[0]
    with store.read() as tx:
        numbers = [r[0] for r in tx.conn.execute(select(dep_t.c.evisa_number))]
    assert len(numbers) == len(set(numbers)) == 4


# --- C. another live application is named only to staff ----------------------------------------
def test_one_live_application__the_applicant_is_not_told_the_other_case(
    store: Store, frozen_clock: time_machine.Traveller
) -> None:
    data = overseas_application(travel_document="K77665544")
    first = create_case(data, store=store)
    for trigger in path_to(State.file_number_issued, mainland=False):
        fire(store, first, VALID[trigger])
    file_number = case_view(first, store=store)["file_number"]
    second = create_case(overseas_application(travel_document="K77665544"), store=store)
    as_applicant = refusal(store, second)
    assert "The applicant already has a live application; only one may be pending." in (
        as_applicant
    )
    assert not any(str(first) in r or file_number in r for r in as_applicant), as_applicant
    with pytest.raises(TransitionNotAllowed) as err:
        advance(second, "submit", "officer.lam", "caseworker", store=store)
    assert (
        f"The applicant already has a live application (case {first}); only one may be pending."
        in err.value.reasons
    )


# --- D. stored text is printed literally, never as markup or terminal codes --------------------
MARKUP = ["[bold red]x[/]", "[/]", "[link=file:///etc/passwd]y[/link]"]
ANSI = "\x1b[31mred\x1b[0m"


def flat(text: str) -> str:
    """Output without table borders and line breaks, to find a value a cell may wrap."""
    return "".join(c for c in text if not c.isspace() and c not in "│┃|─━")


def sql(db: Path, statement: str, *params: Any) -> None:
    con = sqlite3.connect(db)
    try:
        with con:
            con.execute(statement, params)
    finally:
        con.close()


def test_markup_and_terminal_codes_in_stored_text_are_printed_literally(
    ready: Qmas, tmp_path: Path
) -> None:
    markup = " ".join(MARKUP)
    data = overseas_application(name=f"Ann {markup}")
    path = tmp_path / "app.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    case_id = ready("case", "new", str(path))[1].strip()
    who = ["--actor", "officer.lam", "--role", "caseworker"]
    assert ready("case", "advance", case_id, "note", *who, "--note", f"n {markup}")[0] == 0
    assert ready("case", "advance", case_id, "withdraw", *who, "--reason", f"r {markup}")[0] == 0
    assert ready("case", "show", case_id, "--reveal", *who)[0] == 0  # an access record
    assert ready("user", "add", "mark.up", "--role", "auditor", "--name", f"M {markup}")[0] == 0
    # Written past the engine, as by an older release that let ESC in: shown escaped.
    db = Path(str(default_store().engine.url.database))
    default_store().dispose()
    sql(db, "UPDATE applications SET name = ?, outcome_reason = ? WHERE id = ?",
        f"Ann {ANSI} {markup}", f"r {ANSI}", int(case_id))  # fmt: skip
    sql(db, "UPDATE history SET note = ?, reason = ? WHERE case_id = ? AND trigger = 'note'",
        f"n {ANSI} {markup}", f"r {ANSI}", int(case_id))  # fmt: skip
    sql(db, "UPDATE accounts SET full_name = ? WHERE username = 'mark.up'", f"M {ANSI} {markup}")
    sql(db, "UPDATE outbox SET last_error = ?", f"e {ANSI} {markup}")
    for argv in (
        ["cases"],
        ["case", "show", case_id],
        ["case", "history", case_id],
        ["case", "actions", case_id, "--role", "caseworker"],
        ["outbox", "--all"],
        ["audit", "access", case_id],
        ["user", "list"],
    ):
        code, out, err = ready(*argv)
        assert (code, err) == (0, ""), (argv, err)
        assert "\x1b" not in out and "\x9b" not in out, argv
        if argv[0] in ("cases", "user") or argv[1] in ("show", "history"):
            assert flat("\\x1b[31mred\\x1b[0m") in flat(out), (argv, out)
            for text_ in MARKUP:
                assert flat(text_) in flat(out), (argv, text_, out)


# --- E. no traceback: every failure is one line and a documented exit code ---------------------
def one_line(result: Result, code: int, contains: str) -> str:
    got, _, err = result
    assert got == code, result
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert contains in lines[0], lines[0]
    return lines[0]


def test_an_empty_sqlite_file_says_run_qmas_init(
    qmas: Qmas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    monkeypatch.setenv("QMAS_DATABASE_URL", f"sqlite:///{empty}")
    default_store.cache_clear()
    for argv in (["cases"], ["case", "show", "1"], ["outbox"], ["user", "list"]):
        one_line(qmas(*argv), 8, "the QMAS tables are missing; run 'qmas init' first")


@pytest.fixture
def pg_empty_schema(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """QMAS_DATABASE_URL naming a PostgreSQL schema with no tables (dropped afterwards)."""
    if _PG_REASON:
        pytest.skip(_PG_REASON)
    schema = f"qmas_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("QMAS_DATABASE_URL", url)
    default_store.cache_clear()
    yield url
    default_store().dispose()
    default_store.cache_clear()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def pg_failure(statement: str, **params: Any) -> Callable[..., Any]:
    """A stand-in for a view function that runs ``statement`` on PostgreSQL and fails there,
    as a real command would (the driver's own error, wrapped by SQLAlchemy)."""

    def run(*_args: Any, **_kwargs: Any) -> Any:
        with default_store().engine.connect() as conn:
            conn.execute(text("CREATE TEMP TABLE t (x varchar(5))"))
            conn.execute(text(statement), params)
        raise AssertionError("the statement should have failed")

    return run


def test_postgresql__no_tables_value_too_long_and_nul(
    qmas: Qmas, pg_empty_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_line(qmas("cases"), 8, "the QMAS tables are missing; run 'qmas init' first")
    monkeypatch.setattr("console.cli.list_cases", pg_failure("INSERT INTO t VALUES (:x)",
                                                              x="x" * 41))  # fmt: skip
    line = one_line(qmas("cases"), 2, "error: invalid input: a value is longer than the database")
    assert "character varying(5)" in line
    monkeypatch.setattr("console.cli.list_cases", pg_failure("SELECT :x", x="a\x00b"))
    one_line(qmas("cases"), 2, "error: invalid input: a text holds a NUL character (\\x00)")


@pytest.mark.parametrize(
    ("error", "contains"),
    [
        (OverflowError("date value out of range"), "a number or date is too large"),
        (RecursionError("maximum recursion depth exceeded"), "the input is nested too deeply"),
        (
            ValueError("Exceeds the limit (4300 digits) for integer string conversion"),
            "a number is too long to read (more than 4300 digits)",
        ),
    ],
    ids=["overflow", "recursion", "digit-limit"],
)
def test_input_too_large_for_python_is_one_line_exit_2(
    qmas: Qmas, monkeypatch: pytest.MonkeyPatch, error: Exception, contains: str
) -> None:
    assert qmas("init")[0] == 0

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr("console.cli.list_cases", broken)
    one_line(qmas("cases"), 2, f"error: invalid input: {contains}")
