"""Delivery over a real SMTP server that fails: outages, dead letters, retries and backoff.

These are about the ledger's semantics, so they call `deliver_due` directly under a frozen
clock (a flow run would add nothing but time); the outage is also run once through the
`dispatch_events` flow, whose retry policy comes from `QMAS_RETRY_*`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import text

from console.cli import main
from flows.dispatch import dispatch_events
from notifications.delivery import RetryPolicy
from states.store import Store
from tests.factories import overseas_application
from tests.flows.flowkit import (
    FILE_NUMBER,
    SUBMIT,
    attempts,
    deliver,
    dispatch_plain,
    ledger_row,
    ledger_rows,
    new_case,
    parse_iso,
    per_message_id,
)
from tests.notifications.smtp_server import SmtpRecorder
from workflows.clock import HK, now_utc

START = datetime(2023, 6, 1, 10, 0, tzinfo=HK)
POLICY = RetryPolicy(max_attempts=5, base_seconds=10, cap_seconds=60, lease_seconds=60)


def plan_messages(store: Store, emails: list[str]) -> list[str]:
    """One overseas case per address, submitted and numbered, which makes the dispatcher ask
    for its documents: three messages each, planned."""
    for email in emails:
        new_case(store, overseas_application(email=email), SUBMIT, FILE_NUMBER)
    dispatch_plain(store)
    ids = [r["message_id"] for r in ledger_rows(store)]
    assert len(ids) == 3 * len(emails)
    return ids


def statuses(store: Store) -> dict[str, str]:
    return {r["message_id"]: r["status"] for r in ledger_rows(store)}


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--json"])
    assert exit_.value.code == 0
    return dict(json.loads(capsys.readouterr().out))


def cli_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    assert exit_.value.code == 0
    return " ".join(capsys.readouterr().out.split())


# --- outage --------------------------------------------------------------------------------


def test_outage__messages_wait_while_the_server_is_down_then_each_goes_exactly_once(
    store: Store, smtp: SmtpRecorder
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        ids = plan_messages(store, [f"applicant{i}@example.org" for i in range(3)])

        smtp.refuse_connections()
        down = deliver(store, smtp.url, policy=POLICY)
        # The first message fails; the rest of the batch is handed back untouched.
        assert (down.sent, down.retrying, down.dead, down.released) == (0, 1, 0, len(ids) - 1)
        assert sorted(statuses(store).values()) == ["failed"] + ["pending"] * (len(ids) - 1)

        smtp.accept_connections()
        smtp.set_mode("421")  # listening, but too busy
        busy = deliver(store, smtp.url, policy=POLICY)
        assert (busy.sent, busy.retrying, busy.released) == (0, 1, len(ids) - 2)
        failed = [r for r in ledger_rows(store) if r["status"] == "failed"]
        assert len(failed) == 2
        for row in failed:  # each waits out its backoff, and the error is kept
            assert parse_iso(row["next_attempt_at"]) > now_utc()
            assert row["last_error"]
        assert smtp.messages == []

        clock.shift(timedelta(seconds=POLICY.cap_seconds + 1))
        smtp.set_mode("ok")
        up = deliver(store, smtp.url, policy=POLICY)
        assert (up.sent, up.retrying, up.dead) == (len(ids), 0, 0)
        assert deliver(store, smtp.url, policy=POLICY).sent == 0

    assert per_message_id(smtp.messages) == dict.fromkeys(ids, 1)
    assert set(statuses(store).values()) == {"sent"}
    assert [a["outcome"] for a in attempts(store, failed[0]["message_id"])] == [
        "temporary",
        "sent",
    ]


def test_outage__dispatch_flow_retries_after_the_backoff_from_settings(
    engine_store: Store,
    smtp: SmtpRecorder,
    prefect_flows: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QMAS_RETRY_BASE_SECONDS", "2")
    monkeypatch.setenv("QMAS_RETRY_CAP_SECONDS", "4")
    with time_machine.travel(START, tick=True) as clock:
        new_case(engine_store, overseas_application(), SUBMIT, FILE_NUMBER)
        smtp.refuse_connections()
        down = dispatch_events()  # submitted, file number issued, documents requested
        assert (down["events_done"], down["sent"], down["retrying"], down["released"]) == (
            3,
            0,
            1,
            2,
        )
        smtp.accept_connections()
        clock.shift(timedelta(seconds=5))
        up = dispatch_events()
        assert (up["events_done"], up["sent"]) == (0, 3)
    ids = [r["message_id"] for r in ledger_rows(engine_store)]
    assert per_message_id(smtp.messages) == dict.fromkeys(ids, 1)


# --- dead letters --------------------------------------------------------------------------


def test_dead_letter__550_mailbox_is_dead_at_once_and_the_rest_of_the_batch_goes(
    engine_store: Store, smtp: SmtpRecorder, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = "no.such.mailbox@example.org"
    with time_machine.travel(START, tick=False) as clock:
        plan_messages(engine_store, ["first@example.org", bad, "last@example.org"])
        smtp.set_mode("550", recipient=bad)
        report = deliver(engine_store, smtp.url, policy=POLICY)
        assert (report.sent, report.dead, report.retrying) == (6, 3, 0)
        dead = [r for r in ledger_rows(engine_store) if r["status"] == "dead"]
        assert {r["recipient"] for r in dead} == {bad}
        assert all("550" in r["last_error"] for r in dead)
        assert all(r["attempts"] == 1 for r in dead)

        # Not retried, however long one waits.
        clock.shift(timedelta(days=30))
        assert deliver(engine_store, smtp.url, policy=POLICY).sent == 0
        assert all(ledger_row(engine_store, r["message_id"])["attempts"] == 1 for r in dead)

        listed = cli_json(capsys, "outbox")
        assert listed["message_counts"]["dead"] == 3
        assert {m["message_id"] for m in listed["messages"] if m["status"] == "dead"} == {
            r["message_id"] for r in dead
        }

        # A person fixes the address on the server side and re-drives one message.
        smtp.set_mode("ok")
        redriven = dead[0]["message_id"]
        said = cli_text(capsys, "outbox", "retry", redriven)
        assert "pending again" in said
        assert ledger_row(engine_store, redriven)["status"] == "pending"
        assert deliver(engine_store, smtp.url, policy=POLICY).sent == 1
        assert ledger_row(engine_store, redriven)["status"] == "sent"
        assert ledger_row(engine_store, dead[1]["message_id"])["status"] == "dead"

        # Re-driving a message already sent does not send it again.
        said = cli_text(capsys, "outbox", "retry", redriven)
        assert "already sent" in said
        assert ledger_row(engine_store, redriven)["status"] == "sent"
        assert deliver(engine_store, smtp.url, policy=POLICY).sent == 0

    counts = per_message_id(smtp.messages)
    assert counts[redriven] == 1
    assert dead[1]["message_id"] not in counts
    assert sum(counts.values()) == 7  # three cases' three messages, two still dead


def test_dead_letters__all_re_driven_at_once_each_sent_exactly_once(
    engine_store: Store, smtp: SmtpRecorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """`qmas outbox retry --dead [--since DATE]`: after an outage of one mailbox is fixed,
    every dead letter goes again, once; --since leaves older ones alone."""
    bad = "no.such.mailbox@example.org"
    with time_machine.travel(START, tick=False) as clock:
        plan_messages(engine_store, [bad])
        clock.shift(timedelta(days=3))
        for email in (bad, "ok@example.org"):
            new_case(engine_store, overseas_application(email=email), SUBMIT, FILE_NUMBER)
        dispatch_plain(engine_store)
        smtp.set_mode("550", recipient=bad)
        report = deliver(engine_store, smtp.url, policy=POLICY)
        assert (report.dead, report.sent) == (6, 3)
        smtp.set_mode("ok")

        since = (START + timedelta(days=1)).astimezone(HK).date().isoformat()
        said = cli_text(capsys, "outbox", "retry", "--dead", "--since", since)
        assert said.startswith("3 dead message(s) and 0 failed event(s) created since"), said
        assert deliver(engine_store, smtp.url, policy=POLICY).sent == 3
        assert cli_text(capsys, "outbox", "retry", "--dead").startswith("3 dead message(s)")
        assert deliver(engine_store, smtp.url, policy=POLICY).sent == 3
        assert cli_text(capsys, "outbox", "retry", "--dead").startswith("0 dead message(s)")
        assert deliver(engine_store, smtp.url, policy=POLICY).sent == 0
    counts = per_message_id(smtp.messages)
    assert len(counts) == 9 and set(counts.values()) == {1}
    assert not [r for r in ledger_rows(engine_store) if r["status"] != "sent"]


# --- retries and backoff ---------------------------------------------------------------------


def test_retries__exhausted_after_max_attempts_is_dead_with_the_last_error(
    store: Store, smtp: SmtpRecorder
) -> None:
    policy = RetryPolicy(max_attempts=4, base_seconds=10, cap_seconds=25)
    with time_machine.travel(START, tick=False) as clock:
        new_case(store, overseas_application(), SUBMIT)
        dispatch_plain(store)
        (message_id,) = [r["message_id"] for r in ledger_rows(store)]
        smtp.set_mode("421")
        waits = []
        for attempt in range(1, policy.max_attempts + 1):
            report = deliver(store, smtp.url, policy=policy)
            row = ledger_row(store, message_id)
            assert row["attempts"] == attempt
            if attempt < policy.max_attempts:
                assert (report.retrying, row["status"]) == (1, "failed")
                retry_at = parse_iso(row["next_attempt_at"])
                waits.append((retry_at - now_utc()).total_seconds())
                # Not before its time ...
                clock.move_to(retry_at - timedelta(seconds=1))
                assert deliver(store, smtp.url, policy=policy).retrying == 0
                # ... and then it goes again.
                clock.move_to(retry_at)
            else:
                assert (report.dead, row["status"]) == (1, "dead")
        assert row["last_error"].startswith("gave up after 4 attempts: 421")
        clock.shift(timedelta(days=1))
        assert deliver(store, smtp.url, policy=policy).retrying == 0

    # Equal jitter: each wait lies in [step/2, step], the step doubling up to the cap.
    for attempt, wait in enumerate(waits, start=1):
        step = min(policy.cap_seconds, policy.base_seconds * 2 ** (attempt - 1))
        assert step / 2 <= wait <= step, (attempt, wait)
    outcomes = [a["outcome"] for a in attempts(store, message_id)]
    assert len(outcomes) == policy.max_attempts
    assert outcomes[:-1] == ["temporary"] * (policy.max_attempts - 1)
    assert "421" in str(attempts(store, message_id)[-1]["error"])
    assert smtp.messages == []


STEPS_30S = [(1, 30), (2, 60), (3, 120), (4, 240), (7, 1920), (8, 3600), (9, 3600), (20, 3600)]


@pytest.mark.parametrize(("attempt", "step"), STEPS_30S, ids=[f"attempt_{a}" for a, _ in STEPS_30S])
def test_backoff__delay_doubles_up_to_the_cap_with_jitter_between_half_and_whole_step(
    attempt: int, step: int
) -> None:
    policy = RetryPolicy(base_seconds=30, cap_seconds=3600)
    assert policy.delay(attempt, rng=lambda: 0.0) == timedelta(seconds=step / 2)
    assert policy.delay(attempt, rng=lambda: 0.999999) <= timedelta(seconds=step)
    assert policy.delay(attempt, rng=lambda: 0.999999) > timedelta(seconds=step * 0.99)
    for _ in range(50):  # the real random source stays within the band too
        assert timedelta(seconds=step / 2) <= policy.delay(attempt) <= timedelta(seconds=step)


def test_a_message_that_cannot_be_built_is_dead_lettered_and_the_rest_still_go(
    store: Store, smtp: SmtpRecorder
) -> None:
    """An address stored before addresses were checked (non-ASCII: no SMTPUTF8 here) fails
    alone: its messages go to dead letters with the reason, the other case's are sent."""
    with time_machine.travel(START, tick=False):
        ids = plan_messages(store, ["applicant@example.org", "second@example.org"])
        with store.write() as tx:  # as an older release could have stored it
            tx.conn.execute(
                text("UPDATE deliveries SET recipient = :r WHERE recipient = :old"),
                {"r": "üser@例え.jp", "old": "second@example.org"},
            )
        report = deliver(store, smtp.url, policy=POLICY)
    assert (report.sent, report.dead) == (3, 3)
    dead = ledger_rows(store, status="dead")
    assert {r["recipient"] for r in dead} == {"üser@例え.jp"}
    assert all("could not render" in r["last_error"] for r in dead)
    assert len(smtp.messages) == 3
    assert set(statuses(store).values()) == {"sent", "dead"}
    assert ids
