"""After each commit, emit the Prefect event `qmas.case.transitioned` (best effort).

The deployment of `dispatch_events` is triggered by it; the schedule every minute catches
anything a lost nudge missed, because the outbox, not the event, is the source of truth.
"""

from __future__ import annotations

import os

from flows.settings import FlowSettings
from workflows.engine import Transitioned, on_committed

EVENT = "qmas.case.transitioned"


def nudge(done: Transitioned) -> None:
    from prefect.events import emit_event

    emit_event(
        event=EVENT,
        resource={
            "prefect.resource.id": f"qmas.case.{done.case_id}",
            "prefect.resource.name": f"QMAS case {done.case_id}",
        },
        payload={
            "case_id": done.case_id,
            "trigger": done.trigger,
            "to_state": done.to_state,
            "version": done.version,
            "outbox_ids": done.outbox_ids,
        },
    )


def install() -> bool:
    """Register the nudge when a Prefect server is configured (or QMAS_PREFECT_NUDGE=on)."""
    mode = FlowSettings().prefect_nudge.lower()
    wanted = mode in ("on", "true", "1") or (
        mode == "auto" and bool(os.environ.get("PREFECT_API_URL"))
    )
    if wanted:
        on_committed(nudge)
    return wanted
