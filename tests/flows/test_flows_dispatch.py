"""The `dispatch_events` flow end to end: every transition of two cases, over a real SMTP server.

A Mainland case with an authorised representative (zh-HK) and an overseas case without one (en)
go through every transition, including a second round of document requests. One dispatch run
must deliver one message per transition per recipient, with the template of the trigger, in the
applicant's language; a second run, or re-driving every event, must send nothing more.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import time_machine

from flows.dispatch import dispatch_events
from notifications import ledger
from states import outbox
from states.store import Store
from tests.factories import application, overseas_application
from tests.flows.flowkit import (
    ALLOT,
    CJK,
    CONSENT,
    EVISA,
    FILE_NUMBER,
    SHORTLIST,
    SUBMIT,
    Mail,
    Step,
    fee_due,
    fire,
    ledger_rows,
    mails,
    pay_fee,
    receive_documents,
    request_documents,
)
from tests.notifications.smtp_server import SmtpRecorder
from workflows import create_case
from workflows.clock import HK

START = datetime(2023, 6, 1, 10, 0, tzinfo=HK)

# The template each trigger's notification uses, written from the specification.
TEMPLATE = {
    "submit": "submitted",
    "issue_file_number": "file_number_issued",
    "request_documents": "documents_requested",
    "receive_documents": "documents_received",
    "shortlist": "shortlisted",
    "allot_quota": "quota_allotted",
    "record_mainland_consent": "mainland_consent_recorded",
    "pay_fee": "fee_paid",
    "issue_evisa": "evisa_issued",
}
# A phrase of each template's subject, in each language.
SUBJECT = {
    "en": {
        "submitted": "application received",
        "file_number_issued": "file number QM2023-",
        "documents_requested": "further documents required",
        "documents_received": "documents received",
        "shortlisted": "shortlisted for selection",
        "quota_allotted": "quota allotted",
        "fee_paid": "payment received",
        "evisa_issued": "e-Visa issued",
    },
    "zh-HK": {
        "submitted": "已收到申請",
        "file_number_issued": "已編配檔案編號 QM2023-",
        "documents_requested": "請補交文件",
        "documents_received": "已收到補交文件",
        "shortlisted": "初步名單",
        "quota_allotted": "獲分配名額",
        "mainland_consent_recorded": "同意書",
        "fee_paid": "已收到簽證費用",
        "evisa_issued": "電子簽證已簽發",
    },
}
APPLICANT_ZH = "chan.taiman@example.com"
REPRESENTATIVE = "cases@wongco.example"
APPLICANT_EN = "emily.watson@example.co.uk"


def run_lifecycle(store: Store, traveller: time_machine.Traveller, mainland: bool) -> list[str]:
    """Create a case and move it through every transition; returns the triggers fired."""
    data = application() if mainland else overseas_application()
    case_id = create_case(data, store=store)
    steps: list[Step] = [
        SUBMIT,
        FILE_NUMBER,
        request_documents("police_certificate", "financial_proof"),
        receive_documents("police_certificate", "financial_proof"),
        request_documents("employment_proof"),  # the loop: a second round
        receive_documents("employment_proof"),
        SHORTLIST,
        ALLOT,
    ]
    if mainland:
        steps.append(CONSENT)
    fired = []
    for step in steps:
        traveller.shift(timedelta(days=1))
        fire(store, case_id, step)
        fired.append(step.trigger)
    for step in (pay_fee(fee_due(store, case_id)), EVISA):
        traveller.shift(timedelta(days=1))
        fire(store, case_id, step)
        fired.append(step.trigger)
    return fired


def test_dispatch__each_transition_mails_each_recipient_once_in_their_language(
    engine_store: Store, smtp: SmtpRecorder, prefect_flows: None
) -> None:
    with time_machine.travel(START, tick=True) as traveller:
        zh_triggers = run_lifecycle(engine_store, traveller, mainland=True)
        en_triggers = run_lifecycle(engine_store, traveller, mainland=False)
        assert zh_triggers.count("request_documents") == 2

        summary = dispatch_events()

    expected = Counter(
        [(APPLICANT_ZH, TEMPLATE[t]) for t in zh_triggers]
        + [(REPRESENTATIVE, TEMPLATE[t]) for t in zh_triggers]
        + [(APPLICANT_EN, TEMPLATE[t]) for t in en_triggers]
    )
    got = mails(smtp.messages)
    assert Counter((m.to, m.kind) for m in got) == expected
    assert summary["events_done"] == len(zh_triggers) + len(en_triggers)
    assert summary["events_failed"] == 0
    assert summary["sent"] == sum(expected.values()) == 2 * 11 + 10
    for m in got:
        assert m.rcpt_tos == (m.to,)
        _assert_language_and_template(m)

    # Message-IDs: unique, and the very ids the ledger holds (so a resend would reuse them).
    ids = [m.message_id for m in got]
    assert len(set(ids)) == len(ids)
    assert set(ids) == {r["message_id"] for r in ledger_rows(engine_store)}
    assert ledger.counts(engine_store) == {"sent": len(ids), "in_doubt": 0}

    # A second run finds nothing; re-driving every event plans the same ids, sends nothing.
    with time_machine.travel(START + timedelta(days=60), tick=True):
        again = dispatch_events()
        assert (again["events_done"], again["sent"]) == (0, 0)
        for event in outbox.listing(engine_store, ["done"]):
            outbox.retry_event(engine_store, int(event["id"]))
        redriven = dispatch_events()
    assert redriven["events_done"] == len(zh_triggers) + len(en_triggers)
    assert redriven["sent"] == 0
    assert len(smtp.messages) == len(ids)
    assert len(ledger_rows(engine_store)) == len(ids)


def _assert_language_and_template(m: Mail) -> None:
    language = "en" if m.to == APPLICANT_EN else "zh-HK"
    assert m.language == language
    assert SUBJECT[language][m.kind] in m.subject, (m.kind, m.subject)
    if language == "zh-HK":
        assert CJK.search(m.text) and CJK.search(m.html)
        assert "香港特別行政區政府入境事務處" in m.text
        assert "Dear" not in m.text
    else:
        assert not CJK.search(m.text + m.html + m.subject)
        assert "Dear Emily WATSON" in m.text
        assert "Immigration Department" in m.text
    if m.to == REPRESENTATIVE:
        # The representative is told whose case this is.
        assert "CHAN Tai Man" in m.text
