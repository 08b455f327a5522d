"""Helpers for the flow tests: drive cases, run the dispatch work without Prefect, read mail.

The plain dispatch below is `flows.work.dispatch_pending`, the steps `dispatch_events` runs as
tasks (claim, run every handler, settle each event), so that tests about ledger and claim
semantics need no flow run; tests about the flows themselves call the Prefect flows in the
harness.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select

from flows.settings import FlowSettings
from flows.work import Actor, by_handler, dispatch_pending, handle_events, settle
from notifications.channels import SmtpChannel
from notifications.delivery import DeliveryReport, RetryPolicy, deliver_due
from notifications.message import message_id_of
from notifications.settings import NotificationSettings
from states.models import deliveries as dl_t
from states.models import delivery_attempts as at_t
from states.models import history as hist_t
from states.store import Store
from tests.factories import ACTOR_FOR
from tests.notifications.smtp_server import Received
from workflows import advance, create_case
from workflows.clock import now_utc

CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Step:
    trigger: str
    role: str
    data: dict[str, Any] | None = None
    reason: str | None = None
    actor: str = ""  # empty: ACTOR_FOR[role], the test account for the role

    def __post_init__(self) -> None:
        if not self.actor:
            object.__setattr__(self, "actor", ACTOR_FOR[self.role])


SUBMIT = Step("submit", "applicant")
FILE_NUMBER = Step("issue_file_number", "system")
SHORTLIST = Step("shortlist", "supervisor")
ALLOT = Step("allot_quota", "committee")
CONSENT = Step(
    "record_mainland_consent",
    "caseworker",
    {"consent_letter": "Shenzhen Talent Exchange Centre, ref. SZ-2023-08812"},
)
EVISA = Step("issue_evisa", "caseworker")


def request_documents(*items: str, due: str | None = None) -> Step:
    data: dict[str, Any] = {"documents": list(items)}
    if due is not None:
        data["due"] = due
    return Step("request_documents", "caseworker", data)


def receive_documents(*items: str) -> Step:
    return Step("receive_documents", "caseworker", {"received": list(items)})


def pay_fee(amount: int) -> Step:
    return Step("pay_fee", "applicant", {"amount": amount, "method": "fps"})


def fire(store: Store, case_id: int, step: Step) -> None:
    advance(
        case_id,
        step.trigger,
        step.actor,
        step.role,
        reason=step.reason,
        data=step.data,
        store=store,
    )


def new_case(store: Store, data: dict[str, Any], *steps: Step) -> int:
    case_id = create_case(data, store=store)
    for step in steps:
        fire(store, case_id, step)
    return case_id


def fee_due(store: Store, case_id: int) -> int:
    with store.read() as tx:
        return int(tx.load_case(case_id).fee_due)


# --- dispatch and delivery without Prefect ----------------------------------------------------


def dispatch_plain(store: Store, *, lease_seconds: int = 300, by: Actor | None = None) -> int:
    """Claim and handle pending events until none is left, as the flow does but without
    Prefect (`flows.work.dispatch_pending`); returns the number of events handled."""
    settings = FlowSettings(dispatch_lease_seconds=lease_seconds)
    handled = dispatch_pending(store, now_utc, by=by, settings=settings)
    return handled.done + handled.failed


def handle_batch(store: Store, events: list[dict[str, Any]], by: Actor | None = None) -> None:
    """What `process_batch` does with one claimed batch, the handlers called directly."""
    failed: dict[int, str] = {}
    for name, evs in by_handler(events).items():
        failed.update(handle_events(store, name, evs, now_utc(), by=by).failed)
    settle(store, events, failed, now_utc())


def deliver(
    store: Store,
    smtp_url: str,
    *,
    policy: RetryPolicy | None = None,
    now: Callable[[], datetime] = now_utc,
    after_send: Callable[[str], None] | None = None,
    batch_size: int = 500,
) -> DeliveryReport:
    settings = NotificationSettings(smtp_url=smtp_url)
    return deliver_due(
        store,
        SmtpChannel(smtp_url, timeout=5),
        now=now,
        settings=settings,
        policy=policy or RetryPolicy(),
        after_send=after_send,
        batch_size=batch_size,
    )


# --- reading the ledger -------------------------------------------------------------------------


def ledger_rows(store: Store, **where: Any) -> list[dict[str, Any]]:
    stmt = select(dl_t).order_by(dl_t.c.created_at, dl_t.c.message_id)
    for column, value in where.items():
        stmt = stmt.where(dl_t.c[column] == value)
    with store.read() as tx:
        return [dict(r) for r in tx.conn.execute(stmt).mappings()]


def ledger_row(store: Store, message_id: str) -> dict[str, Any]:
    (row,) = ledger_rows(store, message_id=message_id)
    return row


def attempts(store: Store, message_id: str) -> list[dict[str, Any]]:
    stmt = select(at_t).where(at_t.c.message_id == message_id).order_by(at_t.c.id)
    with store.read() as tx:
        return [dict(r) for r in tx.conn.execute(stmt).mappings()]


def history(store: Store, case_id: int) -> list[dict[str, Any]]:
    stmt = select(hist_t).where(hist_t.c.case_id == case_id).order_by(hist_t.c.seq)
    with store.read() as tx:
        return [dict(r) for r in tx.conn.execute(stmt).mappings()]


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# --- reading what the SMTP server received ----------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """One received email, taken apart for assertions."""

    message_id: str
    kind: str
    to: str
    rcpt_tos: tuple[str, ...]
    language: str
    subject: str
    text: str
    html: str


def _part(msg: EmailMessage, subtype: str) -> str:
    body = msg.get_body(preferencelist=(subtype,))
    assert body is not None, f"no text/{subtype} part"
    return str(body.get_content())


def mails(received: Iterable[Received]) -> list[Mail]:
    out = []
    for r in received:
        msg = r.message
        out.append(
            Mail(
                message_id=str(message_id_of(msg)),
                kind=str(msg["X-QMAS-Kind"]),
                to=str(msg["To"]),
                rcpt_tos=tuple(r.rcpt_tos),
                language=str(msg["Content-Language"]),
                subject=str(msg["Subject"]),
                text=_part(msg, "plain"),
                html=_part(msg, "html"),
            )
        )
    return out


def per_message_id(received: Iterable[Received]) -> Counter[str]:
    return Counter(m.message_id for m in mails(received))
