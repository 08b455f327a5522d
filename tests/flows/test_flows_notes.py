"""End to end: an internal ``--note`` is kept in the case's history and never reaches an email.

Cases are moved through many triggers, each with a distinctive note (ASCII and Chinese); the
outbox is dispatched and the messages delivered into a mail folder; then every `.eml` file is
read back (raw bytes, and each part decoded) and must not hold any note, while the history
holds every one.
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from pathlib import Path
from typing import Any

import time_machine

from notifications.channels import MailDirChannel
from notifications.delivery import RetryPolicy, deliver_due
from notifications.settings import NotificationSettings
from states.store import Store
from tests.factories import ACTOR_FOR, application, overseas_application
from tests.flows.flowkit import dispatch_plain, history
from workflows import advance, create_case
from workflows.clock import HK, now_utc
from workflows.reasons import REASONS

Move = tuple[str, str, dict[str, Any]]  # trigger, role, keywords for advance()


def note(case: str, n: int) -> str:
    # Distinctive, and Chinese too, so that a note copied anywhere would be found.
    return f"QMAS-INTERNAL-{case}-{n:02d}: 內部備註 {case}{n} do not tell the applicant"


MAINLAND: list[Move] = [
    ("submit", "applicant", {}),
    ("issue_file_number", "system", {}),
    ("note", "caseworker", {}),
    (
        "request_documents",
        "caseworker",
        {"data": {"documents": ["police_certificate", "academic_certificates"]}},
    ),
    ("record_documents", "caseworker", {"data": {"received": ["police_certificate"]}}),
    ("receive_documents", "caseworker", {"data": {"received": ["academic_certificates"]}}),
    ("shortlist", "caseworker", {}),
    ("note", "supervisor", {}),
    ("refuse", "supervisor", {"reason_code": "not_selected"}),  # not who shortlisted: four eyes
]
OVERSEAS: list[Move] = [
    ("submit", "applicant", {}),
    ("issue_file_number", "caseworker", {}),
    (
        "amend",
        "caseworker",
        {"data": {"applicant": {"email": "emily.watson@example.org"}}},
    ),
    ("withdraw", "applicant", {"reason": "I have accepted a job offer elsewhere."}),
]


def run(store: Store, case_id: int, label: str, moves: list[Move]) -> list[str]:
    notes = []
    for n, (trigger, role, kwargs) in enumerate(moves):
        notes.append(note(label, n))
        advance(case_id, trigger, ACTOR_FOR[role], role, note=notes[-1], store=store, **kwargs)
    return notes


def read_mail(folder: Path) -> list[tuple[bytes, email.message.EmailMessage]]:
    out = []
    for path in sorted(folder.glob("*.eml")):
        raw = path.read_bytes()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        out.append((raw, msg))
    return out


def decoded(msg: email.message.EmailMessage) -> str:
    parts = [str(msg["Subject"])]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(str(part.get_content()))
    return "\n".join(parts)


def test_notes__are_in_the_history_and_in_no_email(store: Store, tmp_path: Path) -> None:
    with time_machine.travel(datetime(2024, 3, 4, 10, 0, tzinfo=HK), tick=True):
        mainland = create_case(application(), store=store)
        overseas = create_case(overseas_application(), store=store)
        notes = {
            mainland: run(store, mainland, "ZH", MAINLAND),
            overseas: run(store, overseas, "EN", OVERSEAS),
        }
        dispatch_plain(store)
        folder = tmp_path / "mail"
        settings = NotificationSettings(smtp_url=None, mail_dir=folder)
        report = deliver_due(
            store, MailDirChannel(folder), now=now_utc, settings=settings, policy=RetryPolicy()
        )
    assert report.as_dict()["sent"] > 0

    # Every note is in its case's history, on the row of its own move.
    for case_id, written in notes.items():
        rows = history(store, case_id)
        assert [r["note"] for r in rows] == written

    mail = read_mail(folder)
    kinds = {str(msg["X-QMAS-Kind"]) for _, msg in mail}
    assert {"submitted", "documents_requested", "documents_received", "refused"} <= kinds
    assert {"withdrawn", "shortlisted", "file_number_issued"} <= kinds
    every_note = [n for written in notes.values() for n in written]
    for raw, msg in mail:
        text = decoded(msg)
        assert b"QMAS-INTERNAL" not in raw
        assert "QMAS-INTERNAL" not in text and "內部備註" not in text
        assert not any(n in text for n in every_note)

    # What the applicant is told instead: the catalogue's reason, in their language.
    refused = [decoded(msg) for _, msg in mail if msg["X-QMAS-Kind"] == "refused"]
    assert refused and all(REASONS["not_selected"].zh_hk in t for t in refused)
    withdrawn = [decoded(msg) for _, msg in mail if msg["X-QMAS-Kind"] == "withdrawn"]
    assert withdrawn and all("accepted a job offer" in t for t in withdrawn)


def test_notes__a_note_alone_sends_nothing(store: Store, tmp_path: Path) -> None:
    with time_machine.travel(datetime(2024, 3, 4, 10, 0, tzinfo=HK), tick=True):
        case_id = create_case(overseas_application(), store=store)
        advance(case_id, "note", "officer.lam", "caseworker", note=note("X", 1), store=store)
        dispatch_plain(store)
        folder = tmp_path / "mail"
        report = deliver_due(
            store,
            MailDirChannel(folder),
            now=now_utc,
            settings=NotificationSettings(smtp_url=None, mail_dir=folder),
            policy=RetryPolicy(),
        )
    assert report.as_dict()["sent"] == 0
    assert not list(folder.glob("*.eml"))
    assert history(store, case_id)[-1]["note"] == note("X", 1)
