"""A dispatcher that dies right after its automatic document request commits (run as a child).

    python -m tests.flows.killed_dispatcher DATABASE_URL NOW_ISO

It claims the pending events and handles them as the flow does (`flows.work.dispatch_pending`)
on a clock frozen at NOW; the moment the `request_documents` move is committed, `os._exit`
skips everything else, as a SIGKILL or a lost machine would: the move is in the history, but
the `issue_file_number` event that caused it is still claimed (`processing`), never marked done.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

import time_machine

from flows.work import dispatch_pending
from states.store import Store
from workflows.engine import Transitioned, on_committed

EXIT_CODE = 9


def die_after_the_request(done: Transitioned) -> None:
    if done.trigger == "request_documents":
        os._exit(EXIT_CODE)


def run(database_url: str, now: datetime) -> None:
    on_committed(die_after_the_request)
    with time_machine.travel(now, tick=False):
        store = Store(database_url)
        dispatch_pending(store, lambda: now)


if __name__ == "__main__":
    url, at = sys.argv[1:3]
    run(url, datetime.fromisoformat(at))
    sys.exit(0)  # only reached when no document was requested
