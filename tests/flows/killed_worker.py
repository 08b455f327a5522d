"""A delivery worker that dies right after its k-th send, before recording it (run as a child).

    python -m tests.flows.killed_worker DATABASE_URL SMTP_URL NOW_ISO K

`os._exit` skips every cleanup, as a SIGKILL or a lost machine would: the k-th message has
reached the server but the ledger still shows its attempt as started and unfinished.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

from notifications.delivery import RetryPolicy
from states.store import Store
from tests.flows.flowkit import deliver

EXIT_CODE = 9


def run(database_url: str, smtp_url: str, now: datetime, kill_after: int) -> None:
    sent = 0

    def die_after_kth_send(message_id: str) -> None:
        nonlocal sent
        sent += 1
        if sent == kill_after:
            os._exit(EXIT_CODE)

    deliver(
        Store(database_url),
        smtp_url,
        policy=RetryPolicy(),
        now=lambda: now,
        after_send=die_after_kth_send,
    )


if __name__ == "__main__":
    url, smtp, at, k = sys.argv[1:5]
    run(url, smtp, datetime.fromisoformat(at), int(k))
    sys.exit(0)  # only reached when there were fewer than k messages
