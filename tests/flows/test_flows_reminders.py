"""Reminders, final notices and lapses, counted in Hong Kong working days, under a frozen clock.

Two deadlines straddle public holidays: documents due Thursday 15 February 2024, just after
Lunar New Year (10-13 February), and a visa fee due Tuesday 2 April 2024, just after Easter
(29 March - 1 April) and before Ching Ming (4 April). With the default schedules (documents:
first reminder 5 working days before, final notice 3 after, lapse after 10; fee: 10, 5, 10)
the dates below were counted by hand on the 2024 calendar.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from console.cli import main
from flows.daily import plan_reminders
from flows.dispatch import dispatch_events
from flows.reminders import send_reminders
from states.models import outbox as outbox_t
from states.store import Store
from tests.factories import application, overseas_application
from tests.flows.flowkit import (
    ALLOT,
    FILE_NUMBER,
    SHORTLIST,
    SUBMIT,
    Mail,
    deliver,
    dispatch_plain,
    fire,
    history,
    mails,
    new_case,
    request_documents,
)
from tests.notifications.smtp_server import SmtpRecorder
from workflows.calendar import is_working_day
from workflows.clock import HK
from workflows.formats import long_date
from workflows.reasons import REASONS

DOCS_DUE = date(2024, 2, 15)  # Thursday after Lunar New Year
DOCS = {
    date(2024, 2, 6): "reminder_documents_first",  # 5 working days before, skipping 12-13 Feb
    DOCS_DUE: "reminder_documents_due",
    date(2024, 2, 20): "reminder_documents_final",  # 3 working days after, over a weekend
    date(2024, 2, 29): "lapsed",  # 10 working days after
}
FEE_DUE = date(2024, 4, 2)  # Tuesday after Easter Monday: 182 days after 3 October 2023
FEE = {
    date(2024, 3, 15): "reminder_fee_first",  # 10 working days before, skipping Easter
    FEE_DUE: "reminder_fee_due",
    date(2024, 4, 10): "reminder_fee_final",  # 5 working days after, skipping Ching Ming
    date(2024, 4, 17): "lapsed",  # 10 working days after
}
HOLIDAYS_2024 = [
    date(2024, 2, 10),
    date(2024, 2, 12),
    date(2024, 2, 13),
    date(2024, 3, 29),
    date(2024, 3, 30),
    date(2024, 4, 1),
    date(2024, 4, 4),
]
APPLICANT = "chan.taiman@example.com"
REPRESENTATIVE = "cases@wongco.example"


def nine_am(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=HK)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.mark.parametrize("day", HOLIDAYS_2024, ids=str)
def test_calendar__general_holidays_of_2024_are_not_working_days(day: date) -> None:
    assert not is_working_day(day)


def documents_case(store: Store) -> int:
    """A Mainland applicant with a representative, asked for a police certificate."""
    with time_machine.travel(nine_am(date(2024, 1, 15)), tick=True) as clock:
        case_id = new_case(store, application(), SUBMIT, FILE_NUMBER)
        clock.shift(timedelta(days=7))
        fire(store, case_id, request_documents("police_certificate", due=DOCS_DUE.isoformat()))
    return case_id


def fee_case(store: Store) -> int:
    """An overseas applicant allotted a quota on 3 October 2023, fee not paid."""
    with time_machine.travel(nine_am(date(2023, 6, 1)), tick=True) as clock:
        case_id = new_case(store, overseas_application(), SUBMIT, FILE_NUMBER, SHORTLIST)
        clock.move_to(nine_am(date(2023, 10, 3)))
        fire(store, case_id, ALLOT)
    with store.read() as tx:
        assert tx.load_case(case_id).deadline == FEE_DUE.isoformat()
    return case_id


def assert_lapsed_by_system(store: Store, case_id: int, due: date) -> None:
    """Lapsed by the reminders flow: a catalogue code for the applicant, the detail in a note."""
    last = history(store, case_id)[-1]
    assert (last["trigger"], last["to_state"], last["role"]) == ("lapse", "lapsed", "system")
    assert last["actor"] == "qmas-reminders"
    assert last["reason"] is None
    assert long_date(due) in last["note"] and "grace period" in last["note"]
    with store.read() as tx:
        assert tx.load_case(case_id).state == "lapsed"
        (body,) = [
            json.loads(r.payload)
            for r in tx.conn.execute(select(outbox_t).where(outbox_t.c.history_id == last["id"]))
        ]
    assert body["reason_code"] == lapse_code(due)
    assert "note" not in body


def lapse_code(due: date) -> str:
    return "documents_not_provided" if due == DOCS_DUE else "fee_not_paid"


def assert_lapse_mails_give_the_catalogue_reason(
    store: Store, case_id: int, due: date, sent: list[Mail]
) -> None:
    """Each lapse email gives the catalogue's reason in its own language, never the note."""
    note = history(store, case_id)[-1]["note"]
    reason = REASONS[lapse_code(due)]
    lapsed = [m for m in sent if m.kind == "lapsed"]
    assert lapsed
    for m in lapsed:
        other = "en" if m.language == "zh-HK" else "zh-HK"
        for part in (m.subject, m.text, m.html):
            assert note not in part and "grace period" not in part
        assert reason.text(m.language) in m.text and reason.text(m.language) in m.html
        assert reason.text(other) not in m.text


# --- every calendar day, through the plain functions --------------------------------------


@pytest.mark.parametrize(
    ("make_case", "expected", "due", "recipients"),
    [
        (documents_case, DOCS, DOCS_DUE, 2),
        (fee_case, FEE, FEE_DUE, 1),
    ],
    ids=["documents", "fee"],
)
def test_reminders__each_stage_once_on_its_working_day_then_lapse_by_system(
    store: Store,
    smtp: SmtpRecorder,
    make_case: Any,
    expected: dict[date, str],
    due: date,
    recipients: int,
) -> None:
    case_id = make_case(store)
    dispatch_plain(store)
    deliver(store, smtp.url)
    already = len(smtp.messages)

    sent_on: dict[date, list[str]] = defaultdict(list)
    skipped = []
    first, last = min(expected) - timedelta(days=10), max(expected) + timedelta(days=3)
    for day in days(first, last):
        with time_machine.travel(nine_am(day), tick=False):
            before = len(smtp.messages)
            for _ in range(2):  # running twice the same day changes nothing
                report = plan_reminders(store, day)
                if report.skipped_non_working_day:
                    skipped.append(day)
            dispatch_plain(store)
            deliver(store, smtp.url)
            sent_on[day] += [m.kind for m in mails(smtp.messages[before:])]

    assert {d: kinds for d, kinds in sent_on.items() if kinds} == {
        d: [kind] * recipients for d, kind in expected.items()
    }
    assert sorted(set(skipped)) == [d for d in days(first, last) if not is_working_day(d)]
    assert len(smtp.messages) == already + recipients * len(expected)
    assert_lapsed_by_system(store, case_id, due)
    assert_lapse_mails_give_the_catalogue_reason(store, case_id, due, mails(smtp.messages))


# --- through the Prefect flows, on the days that matter -------------------------------------

# (day, the reminder expected that day or None, skipped as a non-working day)
FLOW_DAYS = [
    (date(2024, 2, 5), None, False),
    (date(2024, 2, 6), "reminder_documents_first", False),
    (date(2024, 2, 6), None, False),  # the second run the same day
    (date(2024, 2, 10), None, True),  # Lunar New Year, a Saturday
    (date(2024, 2, 13), None, True),  # fourth day of Lunar New Year
    (date(2024, 2, 15), "reminder_documents_due", False),
    (date(2024, 2, 15), None, False),
    (date(2024, 2, 19), None, False),
    (date(2024, 2, 20), "reminder_documents_final", False),
    (date(2024, 2, 28), None, False),
]


def test_send_reminders_flow__documents_due_after_lunar_new_year(
    engine_store: Store,
    smtp: SmtpRecorder,
    prefect_flows: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case_id = documents_case(engine_store)
    with time_machine.travel(nine_am(date(2024, 1, 22)), tick=True):
        dispatch_events()
    assert {m.kind for m in mails(smtp.messages)} == {
        "submitted",
        "file_number_issued",
        "documents_requested",
    }

    for day, kind, skipped in FLOW_DAYS:
        before = len(smtp.messages)
        with time_machine.travel(nine_am(day), tick=True):
            summary = send_reminders()  # "today" from the frozen clock, in Hong Kong
        assert summary["today"] == day.isoformat()
        assert summary["skipped_non_working_day"] is skipped
        new = mails(smtp.messages[before:])
        assert sorted((m.to, m.kind) for m in new) == (
            sorted([(APPLICANT, kind), (REPRESENTATIVE, kind)]) if kind else []
        ), day
        for m in new:
            assert m.language == "zh-HK"
            if kind == "reminder_documents_final":  # after the due date: the day it lapses
                assert "2024年2月29日" in m.subject and "2024年2月29日" in m.text
                assert "2024年2月15日" not in m.subject + m.text + m.html
            else:
                assert "2024年2月15日" in m.subject

    before = len(smtp.messages)
    with time_machine.travel(nine_am(date(2024, 2, 29)), tick=True):
        summary = send_reminders()
        assert summary["lapsed"] == [case_id]
        assert len(smtp.messages) == before  # the lapse is an event: the dispatcher tells them
        assert dispatch_events()["sent"] == 2
        assert send_reminders()["lapsed"] == []
    assert sorted((m.to, m.kind) for m in mails(smtp.messages[before:])) == [
        (REPRESENTATIVE, "lapsed"),
        (APPLICANT, "lapsed"),
    ]
    assert_lapsed_by_system(engine_store, case_id, DOCS_DUE)
    lapse_mails = mails(smtp.messages[before:])
    assert_lapse_mails_give_the_catalogue_reason(engine_store, case_id, DOCS_DUE, lapse_mails)
    assert all(REASONS["documents_not_provided"].zh_hk in m.text for m in lapse_mails)

    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["case", "show", str(case_id), "--json"])
    assert exit_.value.code == 0
    shown = json.loads(capsys.readouterr().out)
    reminders = [
        (m["kind"], m["recipient"], m["status"])
        for m in shown["messages"]
        if m["kind"].startswith("reminder_")
    ]
    assert sorted(reminders) == sorted(
        (kind, to, "sent")
        for kind in (
            "reminder_documents_first",
            "reminder_documents_due",
            "reminder_documents_final",
        )
        for to in (APPLICANT, REPRESENTATIVE)
    )


def test_one_poisoned_case_never_stops_the_reminders_of_the_others(store: Store) -> None:
    """A deadline that is no date (written behind the engine's back) once stopped the flow for
    every case: now the case is recorded as failed and the others get their reminders."""
    from sqlalchemy import update

    from states.models import applications

    poisoned = documents_case(store)
    healthy = documents_case(store)
    with store.write() as tx:
        tx.conn.execute(
            update(applications).where(applications.c.id == poisoned).values(deadline="9999-99-99")
        )
    with time_machine.travel(nine_am(date(2024, 2, 6)), tick=False):
        report = plan_reminders(store, date(2024, 2, 6))
    assert list(report.failed) == [poisoned]
    assert "ValueError" in report.failed[poisoned]
    assert {m["case_id"] for m in report.messages} == {healthy}
    assert report.planned == len(report.messages) > 0
    assert report.as_dict()["failed"] == report.failed
