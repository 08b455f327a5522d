"""A worker killed between sending a message and recording it (at-least-once, counted).

The child process sends through the real SMTP server and dies (`os._exit`) right after its
k-th send. After the lease, the next run finds that message's attempt unfinished: it counts
it in doubt and sends it again with the same Message-ID. Messages recorded as sent before the
kill are never sent again; messages claimed but not yet tried go once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import time_machine

from notifications import ledger
from notifications.delivery import RetryPolicy
from states.store import Store
from tests.factories import overseas_application
from tests.flows import killed_worker
from tests.flows.flowkit import (
    FILE_NUMBER,
    SUBMIT,
    attempts,
    deliver,
    dispatch_plain,
    ledger_row,
    ledger_rows,
    mails,
    new_case,
    per_message_id,
)
from tests.notifications.smtp_server import SmtpRecorder
from workflows.clock import HK

START = datetime(2023, 6, 1, 10, 0, tzinfo=HK)
ROOT = Path(__file__).resolve().parents[2]
KILL_AFTER = 3


def run_killed_worker(url: str, smtp_url: str, now: datetime, kill_after: int) -> int:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.flows.killed_worker",
            url,
            smtp_url,
            now.isoformat(),
            str(kill_after),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == killed_worker.EXIT_CODE, done.stderr
    return done.returncode


def test_killed_worker__unrecorded_send_is_in_doubt_and_resent_with_the_same_message_id(
    sqlite_url: str, store: Store, smtp: SmtpRecorder
) -> None:
    policy = RetryPolicy(lease_seconds=60)
    with time_machine.travel(START, tick=False) as clock:
        for i in range(3):
            new_case(
                store, overseas_application(email=f"applicant{i}@example.org"), SUBMIT, FILE_NUMBER
            )
        dispatch_plain(store)
        ids = [r["message_id"] for r in ledger_rows(store)]
        assert len(ids) == 9  # submitted, file number issued, documents requested (automatic)

        run_killed_worker(sqlite_url, smtp.url, START, KILL_AFTER)

        before = [m.message_id for m in mails(smtp.messages)]
        assert len(before) == KILL_AFTER
        recorded, unrecorded = before[:-1], before[-1]
        assert ledger.sent_ids(store, ids) == set(recorded)
        assert ledger_row(store, unrecorded)["status"] == "sending"
        assert attempts(store, unrecorded)[-1]["finished_at"] is None
        untried = [i for i in ids if i not in before]

        # Within the lease the claim still belongs to the (dead) worker: nothing is touched.
        clock.shift(timedelta(seconds=policy.lease_seconds - 1))
        early = deliver(store, smtp.url, policy=policy)
        assert (early.sent, early.in_doubt) == (0, 0)
        assert len(smtp.messages) == KILL_AFTER

        clock.shift(timedelta(seconds=2))
        report = deliver(store, smtp.url, policy=policy)

    assert report.in_doubt == 1
    assert report.sent == 1 + len(untried)
    assert ledger.counts(store) == {"sent": len(ids), "in_doubt": 1}
    assert ledger_row(store, unrecorded)["in_doubt"] == 1
    assert [a["outcome"] for a in attempts(store, unrecorded)] == ["in_doubt", "sent"]
    assert per_message_id(smtp.messages) == {
        **dict.fromkeys(recorded, 1),
        unrecorded: 2,
        **dict.fromkeys(untried, 1),
    }
    # The resend is the same message: same Message-ID, same recipient, same template.
    first, again = [m for m in mails(smtp.messages) if m.message_id == unrecorded]
    assert (first.to, first.kind, first.subject) == (again.to, again.kind, again.subject)
