"""The dispatcher asks a case for its documents when the file number is issued (issue #8 §4).

`request_documents` as `system`, with the case's checklist (as `qmas case checklist` computes
it) and the default due date (20 Hong Kong working days), named in the history after the flow
run that acted; once per case, whatever the redeliveries, kills and races: a case that has moved
on, or already has a request, gets nothing, and the run's summary and log say why.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from console.cli import main
from flows.dispatch import dispatch_events
from flows.settings import FlowSettings
from flows.work import dispatch_pending
from states import outbox
from states.models import outbox as outbox_t
from states.store import Store
from tests.factories import application, overseas_application
from tests.flows import killed_dispatcher
from tests.flows.flowkit import (
    CJK,
    FILE_NUMBER,
    SHORTLIST,
    SUBMIT,
    fire,
    history,
    mails,
    new_case,
    receive_documents,
    request_documents,
)
from tests.notifications.smtp_server import SmtpRecorder
from workflows.calendar import add_working_days
from workflows.clock import HK, now_utc
from workflows.deadlines import Stage
from workflows.documents import label
from workflows.formats import long_date
from workflows.settings import WorkflowSettings

START = datetime(2024, 1, 15, 9, 0, tzinfo=HK)  # a Monday
DUE = add_working_days(START.date(), 20)  # the default period of a document request
APPLICANT = "chan.taiman@example.com"
REPRESENTATIVE = "cases@wongco.example"
ROOT = Path(__file__).resolve().parents[2]


def nine_am(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=HK)


def cli_checklist(capsys: pytest.CaptureFixture[str], case_id: int) -> list[str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["case", "checklist", str(case_id), "--json"])
    assert exit_.value.code == 0
    return [row["name"] for row in json.loads(capsys.readouterr().out)]


def requests_in_history(store: Store, case_id: int) -> list[dict[str, Any]]:
    return [h for h in history(store, case_id) if h["trigger"] == "request_documents"]


def flow_run_name(flow_run_id: str) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return str(client.read_flow_run(flow_run_id).name)


def kinds_to(sent: list[Any]) -> Counter[tuple[str, str]]:
    return Counter((m.kind, m.to) for m in sent)


def main_ok(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    out, err = capsys.readouterr()
    assert (exit_.value.code, err) == (0, ""), err
    return out


# --- the whole life of a request, with the flow running between the steps ---------------


def test_lifecycle__file_number_then_automatic_request_its_email_and_its_reminders(
    engine_store: Store,
    smtp: SmtpRecorder,
    prefect_flows: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with time_machine.travel(START, tick=True):
        case_id = new_case(engine_store, application(), SUBMIT, FILE_NUMBER)
        checklist = cli_checklist(capsys, case_id)
        state = dispatch_events(return_state=True)
        summary = state.result()
    flow_run_id = str(state.state_details.flow_run_id)

    assert summary["documents_requested"] == [case_id]
    assert summary["document_requests_skipped"] == {}
    (asked,) = requests_in_history(engine_store, case_id)
    assert (asked["role"], asked["from_state"], asked["to_state"]) == (
        "system",
        "file_number_issued",
        "documents_requested",
    )
    assert asked["actor"] == f"prefect-flow-run:{flow_run_name(flow_run_id)}"
    assert flow_run_id in asked["note"]
    assert json.loads(asked["payload"])["documents"] == checklist
    with engine_store.read() as tx:
        case = tx.load_case(case_id)
        documents = tx.documents(case_id)
    assert case.state == "documents_requested" and case.deadline == DUE.isoformat()
    assert [(d["item"], d["due"]) for d in documents] == [(i, DUE.isoformat()) for i in checklist]

    # One run: the file number's email, then the request's, to the applicant and representative.
    sent = mails(smtp.messages)
    assert kinds_to(sent) == Counter(
        (kind, to)
        for kind in ("submitted", "file_number_issued", "documents_requested")
        for to in (APPLICANT, REPRESENTATIVE)
    )
    (letter, *_) = [m for m in sent if m.kind == "documents_requested"]
    assert letter.language == "zh-HK" and CJK.search(letter.text)
    assert long_date(DUE, "zh-HK") in letter.subject
    assert all(label(item, "zh-HK") in letter.text for item in checklist)
    assert asked["note"] not in letter.text + letter.html  # the note stays internal

    # Redelivered: the file number's event comes round again; nothing is asked twice.
    (number_event,) = [
        e for e in outbox.listing(engine_store, ["done"]) if e["trigger"] == "issue_file_number"
    ]
    outbox.retry_event(engine_store, int(number_event["id"]))
    with time_machine.travel(START + timedelta(hours=1), tick=True), caplog.at_level(logging.INFO):
        again = dispatch_events()
    assert again["documents_requested"] == []
    assert again["document_requests_skipped"] == {case_id: "moved on to documents_requested"}
    assert f"case {case_id}: no automatic document request: moved on" in caplog.text
    assert (again["events_done"], again["sent"]) == (1, 0)
    assert len(requests_in_history(engine_store, case_id)) == 1

    # Its reminders, on the days the default due date calls for, each once per recipient.
    days = WorkflowSettings().document_schedule().dates(DUE)
    for stage in (Stage.first, Stage.due, Stage.final):
        before = len(smtp.messages)
        with time_machine.travel(nine_am(days[stage]), tick=True):
            main_ok(capsys, "remind")
            main_ok(capsys, "remind")  # twice the same day: nothing more
        new = mails(smtp.messages[before:])
        kind = f"reminder_documents_{stage.value}"
        assert kinds_to(new) == Counter({(kind, APPLICANT): 1, (kind, REPRESENTATIVE): 1})
        if stage is Stage.final:
            for m in new:
                assert long_date(days[Stage.lapse], "zh-HK") in m.subject + m.text
                assert long_date(DUE, "zh-HK") not in m.subject + m.text + m.html

    # Received in time: back in file_number_issued, and a redelivery still asks for nothing.
    with time_machine.travel(nine_am(days[Stage.final]) + timedelta(hours=2), tick=True):
        fire(engine_store, case_id, receive_documents(*checklist))
        outbox.retry_event(engine_store, int(number_event["id"]))
        last = dispatch_events()
    assert last["document_requests_skipped"] == {case_id: "already has a document request"}
    assert [m.kind for m in mails(smtp.messages)][-2:] == ["documents_received"] * 2
    assert len(requests_in_history(engine_store, case_id)) == 1


# --- who gets nothing, and why --------------------------------------------------------------


def test_only_a_case_still_at_its_new_file_number_without_a_request_is_asked(
    store: Store, frozen_clock: time_machine.Traveller
) -> None:
    fresh = new_case(store, overseas_application(email="fresh@example.org"), SUBMIT, FILE_NUMBER)
    moved = new_case(
        store, overseas_application(email="moved@example.org"), SUBMIT, FILE_NUMBER, SHORTLIST
    )
    asked_back = new_case(
        store,
        overseas_application(email="back@example.org"),
        SUBMIT,
        FILE_NUMBER,
        request_documents("police_certificate"),
        receive_documents("police_certificate"),
    )

    done = dispatch_pending(store, now_utc)

    assert done.report["documents_requested"] == [fresh]
    assert done.report["document_requests_skipped"] == {
        moved: "moved on to shortlisted",
        asked_back: "already has a document request",
    }
    assert done.failed == 0
    (asked,) = requests_in_history(store, fresh)
    # No flow run in a plain call: the fallback actor names the dispatcher.
    assert (asked["actor"], asked["role"]) == ("qmas-dispatch", "system")
    assert requests_in_history(store, moved) == []
    assert len(requests_in_history(store, asked_back)) == 1  # the caseworker's own
    # Handled again: nothing more for anyone.
    assert dispatch_pending(store, now_utc).report["documents_requested"] == []


def test_auto_document_request_false__asks_for_nothing_and_says_so(
    store: Store, frozen_clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QMAS_AUTO_DOCUMENT_REQUEST", "false")
    assert FlowSettings().auto_document_request is False
    case_id = new_case(store, overseas_application(), SUBMIT, FILE_NUMBER)

    done = dispatch_pending(store, now_utc)

    assert done.report["documents_requested"] == []
    (why,) = done.report["document_requests_skipped"].values()
    assert "QMAS_AUTO_DOCUMENT_REQUEST" in why
    with store.read() as tx:
        assert tx.load_case(case_id).state == "file_number_issued"
        assert tx.documents(case_id) == []


# --- killed after the request, before the event was settled ---------------------------------


def test_killed_dispatcher__the_rerun_flow_requests_nothing_more_and_mails_once(
    engine_store: Store, smtp: SmtpRecorder, prefect_flows: None
) -> None:
    with time_machine.travel(START, tick=False):
        case_id = new_case(engine_store, overseas_application(), SUBMIT, FILE_NUMBER)
    url = engine_store.engine.url.render_as_string(hide_password=False)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.run(
        [sys.executable, "-m", "tests.flows.killed_dispatcher", url, START.isoformat()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == killed_dispatcher.EXIT_CODE, child.stderr

    # The request is committed; the event that caused it was never settled.
    assert len(requests_in_history(engine_store, case_id)) == 1
    with engine_store.read() as tx:
        events = {
            r.trigger: r.status
            for r in tx.conn.execute(select(outbox_t.c.trigger, outbox_t.c.status))
        }
    assert events == {
        "submit": "processing",
        "issue_file_number": "processing",
        "request_documents": "pending",
    }
    assert smtp.messages == []

    lease = FlowSettings().dispatch_lease_seconds
    with time_machine.travel(START + timedelta(seconds=lease + 1), tick=True):
        rerun = dispatch_events()
    assert rerun["documents_requested"] == []
    assert rerun["document_requests_skipped"] == {case_id: "moved on to documents_requested"}
    assert (rerun["events_done"], rerun["events_failed"]) == (3, 0)
    assert len(requests_in_history(engine_store, case_id)) == 1
    assert Counter(m.kind for m in mails(smtp.messages)) == {
        "submitted": 1,
        "file_number_issued": 1,
        "documents_requested": 1,
    }
