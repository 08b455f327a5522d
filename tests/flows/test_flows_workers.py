"""Several workers on one database (an SQLite file, and PostgreSQL): no event is claimed twice
and no message is sent twice.

Workers are threads, each with its own database connection and SMTP connection, started
together by a barrier. Claims rely on ``BEGIN IMMEDIATE`` on SQLite and ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import time_machine
from sqlalchemy import select

from flows.work import handle_events
from notifications import ledger
from states import outbox
from states.models import history as history_t
from states.outbox import claim_events
from states.store import Store
from tests.factories import application, overseas_application
from tests.flows.flowkit import (
    FILE_NUMBER,
    SUBMIT,
    deliver,
    handle_batch,
    ledger_rows,
    new_case,
    per_message_id,
)
from tests.notifications.smtp_server import SmtpRecorder
from workflows.clock import HK, iso, now_utc

START = datetime(2023, 6, 1, 10, 0, tzinfo=HK)
WORKERS = 4


# Each case's file number makes the dispatcher ask for its documents (one more event, one more
# message per recipient): 16 applicants alone, 4 with a representative.
AUTO_EVENTS, AUTO_MESSAGES = 20, 16 + 4 * 2


def make_cases(store: Store) -> tuple[int, int]:
    """Cases whose transitions call for messages; returns (events, messages) of the moves."""
    with time_machine.travel(START, tick=True):
        for i in range(16):
            new_case(
                store, overseas_application(email=f"applicant{i}@example.org"), SUBMIT, FILE_NUMBER
            )
        for i in range(4):  # with a representative: two messages per event
            new_case(store, application(email=f"mainland{i}@example.cn"), SUBMIT, FILE_NUMBER)
    return 2 * 20, 2 * 16 + 4 * 2 * 2


def run_together(work: Callable[[int], Any], n: int = WORKERS) -> list[Any]:
    """Run ``work(i)`` in n threads started at once; re-raise the first error."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    if errors:
        raise errors[0]
    return results


def claim_and_handle(store: Store, all_holding: threading.Barrier) -> list[int]:
    """One dispatch worker: claim small batches until none is left; returns what it claimed.

    After its first claim each worker waits until every worker holds one, so the claims are
    known to have been outstanding at the same time.
    """
    mine: list[int] = []
    while True:
        moment = now_utc()
        events = claim_events(
            store, now=iso(moment), limit=3, stale_before=iso(moment - timedelta(seconds=300))
        )
        if not events:
            return mine
        if not mine:
            all_holding.wait(timeout=30)
        mine.extend(int(e["event_id"]) for e in events)
        handle_batch(store, events)


def test_workers__no_event_claimed_twice_and_no_message_sent_twice(
    any_store: Store, smtp: SmtpRecorder
) -> None:
    n_events, n_messages = make_cases(any_store)
    n_events, n_messages = n_events + AUTO_EVENTS, n_messages + AUTO_MESSAGES

    all_holding = threading.Barrier(WORKERS)
    claimed = run_together(lambda _: claim_and_handle(any_store, all_holding))
    every = [event_id for mine in claimed for event_id in mine]
    assert len(every) == len(set(every)) == n_events
    assert all(claimed)
    assert outbox.counts(any_store) == {"done": n_events}
    assert len(ledger_rows(any_store)) == n_messages
    # Racing workers asked each case for its documents once.
    with any_store.read() as tx:
        requested = tx.conn.execute(
            select(history_t.c.case_id).where(history_t.c.trigger == "request_documents")
        ).scalars()
        assert sorted(Counter(requested).values()) == [1] * AUTO_EVENTS

    all_sending = threading.Barrier(WORKERS)

    def sender(_: int) -> Any:
        sends = 0

        def hold_after_first_send(message_id: str) -> None:
            nonlocal sends
            sends += 1
            if sends == 1:
                all_sending.wait(timeout=30)  # every worker is mid-batch at this point

        return deliver(any_store, smtp.url, batch_size=4, after_send=hold_after_first_send)

    reports = run_together(sender)
    assert all(r.sent for r in reports)
    assert sum(r.sent for r in reports) == n_messages
    assert sum(r.dead + r.retrying for r in reports) == 0
    ids = {r["message_id"] for r in ledger_rows(any_store)}
    assert per_message_id(smtp.messages) == dict.fromkeys(ids, 1)
    assert ledger.counts(any_store) == {"sent": n_messages, "in_doubt": 0}


def test_workers__the_same_batch_handled_by_two_workers_at_once_plans_each_message_once(
    any_store: Store, smtp: SmtpRecorder
) -> None:
    # A claim taken over after its lease while the first worker is still busy does this.
    n_events, n_messages = make_cases(any_store)
    moment = now_utc()
    events = claim_events(any_store, now=iso(moment), limit=500, stale_before=iso(moment))
    assert len(events) == n_events

    results = run_together(lambda _: handle_events(any_store, "notify", events, now_utc()), n=2)
    for result in results:
        assert result.failed == {}
        assert sorted(result.done) == sorted(int(e["event_id"]) for e in events)
    assert len(ledger_rows(any_store)) == n_messages

    reports = run_together(lambda _: deliver(any_store, smtp.url, batch_size=4), n=2)
    assert sum(r.sent for r in reports) == n_messages
    assert len(smtp.messages) == n_messages
    assert set(per_message_id(smtp.messages).values()) == {1}
