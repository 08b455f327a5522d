"""`qmas dispatch`, `qmas remind` and `qmas escalate` as a person or cron runs them (issue #8 §3).

- a reminder planned by `qmas remind` is due at once: the next `qmas dispatch` sends it, even
  when it was planned before 09:00 (it used to wait, stamped 09:00 of its day, or of the later
  day `--today` named);
- over simulated days, every message planned reaches the SMTP server exactly once;
- `--today` later than today is refused unless `--simulate`, which writes nothing at all;
- with nothing to do, the commands answer at once and never enter a flow nor start Prefect.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import text

from console import ops
from console.cli import main
from flows.daily import plan_reminders
from states.models import TABLES
from states.store import Store
from tests.factories import application, overseas_application
from tests.flows.flowkit import (
    FILE_NUMBER,
    SUBMIT,
    dispatch_plain,
    ledger_rows,
    mails,
    new_case,
    parse_iso,
    per_message_id,
)
from tests.notifications.smtp_server import SmtpRecorder
from workflows.calendar import add_working_days
from workflows.clock import HK, iso, now_utc
from workflows.deadlines import Stage
from workflows.settings import WorkflowSettings

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2024, 1, 15, 9, 0, tzinfo=HK)  # a Monday
DUE = add_working_days(START.date(), 20)  # the automatic request's default due date
DAYS = WorkflowSettings().document_schedule().dates(DUE)

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def qmas(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """`qmas ARGS...` in-process; returns (exit code, stdout, stderr). Prefect's own INFO lines
    (flow run started, finished) are kept off the console, as the demo does: Prefect sets its
    loggers up when the flow's settings context is entered, so they are quietened inside it."""
    in_process = ops.prefect_in_process

    @contextmanager
    def quietly() -> Iterator[None]:
        with in_process():
            names = ("prefect", "prefect.flow_runs", "prefect.task_runs")
            loggers = [logging.getLogger(name) for name in names]
            levels = [logger.level for logger in loggers]
            for logger in loggers:
                logger.setLevel(logging.WARNING)
            try:
                yield
            finally:
                for logger, level in zip(loggers, levels, strict=True):
                    logger.setLevel(level)

    monkeypatch.setattr(ops, "prefect_in_process", quietly)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return int(exit_.value.code or 0), out, err

    return run


def ok_json(qmas: Run, *argv: str) -> dict[str, Any]:
    code, out, err = qmas(*argv, "--json")
    assert (code, err) == (0, ""), err
    return dict(json.loads(out))


def nine_am(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=HK)


def requested_case(store: Store, qmas: Run) -> int:
    """A Mainland case (zh-HK, with a representative) asked for its documents by the flow."""
    with time_machine.travel(START, tick=True):
        case_id = new_case(store, application(), SUBMIT, FILE_NUMBER)
        assert ok_json(qmas, "dispatch")["documents_requested"] == [case_id]
    return case_id


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what "writes nothing" is checked against."""
    with store.read() as tx:
        return {
            t.name: [tuple(r) for r in tx.conn.execute(text(f"SELECT * FROM {t.name}"))]
            for t in TABLES
        }


# --- a reminder is due when planned -------------------------------------------------------


def test_remind__a_reminder_planned_before_nine_is_sent_by_the_next_dispatch(
    engine_store: Store, smtp: SmtpRecorder, prefect_flows: None, qmas: Run
) -> None:
    case_id = requested_case(engine_store, qmas)
    first = DAYS[Stage.first]
    with time_machine.travel(nine_am(first, hour=7), tick=True):  # cron set early, or by hand
        planned = plan_reminders(engine_store, first)  # what the remind flow's task does
        assert planned.planned == 2
        rows = [r for r in ledger_rows(engine_store) if r["kind"] == "reminder_documents_first"]
        assert all(parse_iso(r["next_attempt_at"]) <= now_utc() for r in rows)
        before = len(smtp.messages)
        sent = ok_json(qmas, "dispatch")
    assert sent["sent"] == 2
    new = mails(smtp.messages[before:])
    assert sorted(m.kind for m in new) == ["reminder_documents_first"] * 2
    assert {r["status"] for r in ledger_rows(engine_store, case_id=case_id)} == {"sent"}


def test_remind_then_dispatch_over_simulated_days__every_planned_message_goes_exactly_once(
    engine_store: Store, smtp: SmtpRecorder, prefect_flows: None, qmas: Run
) -> None:
    """Each working and non-working day from the request to past the lapse, as cron would:
    `qmas remind` at 09:00, `qmas dispatch` at 09:05 and 17:00. Days with nothing to do do not
    start a flow; every message the ledger ever held reaches the server once."""
    case_id = requested_case(engine_store, qmas)
    flows_started = 0
    day = START.date()
    while day <= DAYS[Stage.lapse] + timedelta(days=3):
        for hour, command in ((9, "remind"), (9, "dispatch"), (17, "dispatch")):
            with time_machine.travel(nine_am(day, hour) + timedelta(minutes=5), tick=True):
                flows_started += ok_json(qmas, command)["flow_started"]
        day += timedelta(days=1)

    rows = ledger_rows(engine_store)
    assert {r["status"] for r in rows} == {"sent"}
    assert per_message_id(smtp.messages) == {r["message_id"]: 1 for r in rows}
    kinds = sorted({m.kind for m in mails(smtp.messages)})
    assert kinds == [
        "documents_requested",
        "file_number_issued",
        "lapsed",
        "reminder_documents_due",
        "reminder_documents_final",
        "reminder_documents_first",
        "submitted",
    ]
    with engine_store.read() as tx:
        assert tx.load_case(case_id).state == "lapsed"
    # remind on the four stage days, dispatch after the lapse: about 30 days ran no flow.
    assert flows_started == 5


# --- --today and --simulate -----------------------------------------------------------------


@pytest.mark.parametrize("command", ["remind", "escalate"])
def test_today_later_than_today__is_refused_in_one_line_and_writes_nothing(
    engine_store: Store, qmas: Run, command: str
) -> None:
    with time_machine.travel(START, tick=True):
        new_case(engine_store, overseas_application(), SUBMIT)
        before = snapshot(engine_store)
        code, out, err = qmas(command, "--today", "2024-01-16")
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: ") and "2024-01-16 is after today (2024-01-15" in line
    assert "--simulate" in line
    assert snapshot(engine_store) == before


def test_remind_simulate__reports_the_reminders_and_lapses_of_a_later_day_and_writes_nothing(
    engine_store: Store, qmas: Run
) -> None:
    case_id = requested_case(engine_store, qmas)
    with time_machine.travel(START + timedelta(hours=2), tick=True):
        before = snapshot(engine_store)
        final = ok_json(qmas, "remind", "--today", DAYS[Stage.final].isoformat(), "--simulate")
        lapse = ok_json(qmas, "remind", "--today", DAYS[Stage.lapse].isoformat(), "--simulate")
        code, said, _ = qmas("remind", "--today", DAYS[Stage.final].isoformat(), "--simulate")
        assert snapshot(engine_store) == before

    assert final["simulated"] is True and final["lapsed"] == []
    assert sorted((m["kind"], m["recipient"]) for m in final["reminders"]) == [
        ("reminder_documents_final", "cases@wongco.example"),
        ("reminder_documents_final", "chan.taiman@example.com"),
    ]
    assert {m["lapses_on"] for m in final["reminders"]} == {DAYS[Stage.lapse].isoformat()}
    assert (lapse["reminders"], lapse["lapsed"]) == ([], [case_id])
    assert code == 0 and "simulated: nothing written" in said
    assert f"case {case_id}: reminder_documents_final to chan.taiman@example.com" in said


def test_escalate_simulate__lists_the_stale_cases_of_a_later_day_and_writes_nothing(
    engine_store: Store, qmas: Run
) -> None:
    with time_machine.travel(START, tick=True):
        case_id = new_case(engine_store, overseas_application(), SUBMIT)
        before = snapshot(engine_store)
        seen = ok_json(qmas, "escalate", "--today", "2024-02-20", "--simulate")
        code, said, _ = qmas("escalate", "--today", "2024-02-20", "--simulate")
        assert snapshot(engine_store) == before
    assert seen["simulated"] is True and seen["message_planned"] is True
    assert [(c["id"], c["days"], c["limit_days"]) for c in seen["stale_cases"]] == [
        (case_id, 36, 30)
    ]
    assert code == 0 and "1 case past its service level would be listed" in said


# --- nothing to do: no flow, no Prefect -----------------------------------------------------


@pytest.fixture
def no_flow(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make entering any flow, or starting Prefect, fail the test (and record the attempt)."""
    entered: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def entered_anyway(*args: Any, **kwargs: Any) -> Any:
            entered.append(name)
            raise AssertionError(f"{name} was entered with nothing to do")

        return entered_anyway

    monkeypatch.setattr("flows.dispatch.dispatch_events", refuse("dispatch_events"))
    monkeypatch.setattr("flows.reminders.send_reminders", refuse("send_reminders"))
    monkeypatch.setattr("flows.escalation.escalate_stale_cases", refuse("escalate_stale_cases"))
    monkeypatch.setattr(ops, "prefect_in_process", refuse("prefect_in_process"))
    yield entered
    assert entered == []


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["dispatch"], "dispatch: nothing to do (no outbox event pending, no message due)"),
        (["remind"], "reminders: nothing to do (no reminder or lapse due, no message due)"),
        (["remind", "--today", "2024-01-13"], "reminders: nothing to do (not a working day"),
        (["escalate"], "escalation: nothing to do (no case past its service level"),
    ],
    ids=["dispatch", "remind", "remind-saturday", "escalate"],
)
def test_nothing_to_do__answers_without_entering_a_flow(
    engine_store: Store, qmas: Run, no_flow: list[str], argv: list[str], said: str
) -> None:
    with time_machine.travel(START, tick=True):
        code, out, err = qmas(*argv)
        assert (code, err) == (0, "")
        assert said in out and "Prefect not started" in out
        summary = ok_json(qmas, *argv)
    assert summary["flow_started"] is False and summary["sent"] == 0


def test_nothing_to_do__after_the_work_is_done_the_next_runs_are_idle(
    engine_store: Store, smtp: SmtpRecorder, prefect_flows: None, qmas: Run
) -> None:
    with time_machine.travel(START, tick=True):
        new_case(engine_store, overseas_application(), SUBMIT)
        assert ok_json(qmas, "dispatch")["flow_started"] is True
        assert ok_json(qmas, "dispatch")["flow_started"] is False
    with time_machine.travel(START + timedelta(days=36), tick=True):  # past 30 days submitted
        assert ok_json(qmas, "escalate")["flow_started"] is True
        assert ok_json(qmas, "escalate")["flow_started"] is False  # today's list went out


def test_nothing_to_do__a_fresh_process_never_imports_prefect(tmp_path: Path) -> None:
    """As cron runs it: a new process, an empty database. Prefect is never imported, so its
    ephemeral API (10-20 s to start) cannot have been started."""
    script = (
        "import json, sys\n"
        "from console.cli import main\n"
        "codes = []\n"
        "for argv in (['init'], ['dispatch'], ['remind'], ['escalate']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exit_:\n"
        "        codes.append(exit_.code)\n"
        "print(json.dumps({'codes': codes, 'prefect': sorted(\n"
        "    m for m in sys.modules if m == 'prefect' or m.startswith('prefect.'))}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QMAS_", "PREFECT_API"))}
    env.update(
        QMAS_DATABASE_URL=f"sqlite:///{tmp_path}/cron.db",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result == {"codes": [0, 0, 0, 0], "prefect": []}
    assert "nothing to do" in done.stdout


def test_nothing_to_do__a_message_waiting_for_its_retry_is_not_work_yet(
    engine_store: Store, qmas: Run, no_flow: list[str]
) -> None:
    with time_machine.travel(START, tick=True):
        new_case(engine_store, overseas_application(), SUBMIT)
        dispatch_plain(engine_store)  # handled; its message failed once, retried in 5 minutes
        with engine_store.write() as tx:
            tx.conn.execute(
                text("UPDATE deliveries SET status = 'failed', next_attempt_at = :at"),
                {"at": iso(now_utc() + timedelta(minutes=5))},
            )
        assert ok_json(qmas, "dispatch")["flow_started"] is False
