"""The `dispatch_events` flow: claim outbox events in batches, run their handlers, deliver.

One flow run handles many events (a flow run costs ~1 s, a task milliseconds; DESIGN.md): per
batch, one task per registered handler, then one delivery task sends what the ledger holds.
Events a handler creates (the automatic document request after a file number) are claimed by
the next batch of the same run, so their emails go out in this run too.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.utilities.annotations import quote

from flows.document_requests import flow_run_actor
from flows.settings import FlowSettings
from flows.work import Actor, by_handler, drain, handle_events, merge_reports, settle
from notifications.channels import channel_from_settings
from notifications.delivery import RetryPolicy, deliver_due
from notifications.settings import NotificationSettings
from workflows.clock import now_utc
from workflows.engine import default_store


@task(name="run-handler", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def run_handler(
    name: str, events: list[dict[str, Any]], actor: str, flow_run_id: str | None
) -> dict[str, Any]:
    """Run one handler over a batch of events; returns the ids done and failed, and a report.

    The caller passes ``quote(events)``: Prefect then skips walking 500 dicts for futures,
    which cost ~0.2 ms an event (bench/dispatch.py).
    """
    by = Actor(actor, flow_run_id)
    result = handle_events(default_store(), name, list(events), now_utc(), by=by)
    return {"done": result.done, "failed": result.failed, "report": result.report}


@task(name="deliver-messages", cache_policy=NO_CACHE)
def deliver_messages(max_messages: int | None = None) -> dict[str, int]:
    """Send every message due in the ledger over the configured channel."""
    settings = NotificationSettings()
    report = deliver_due(
        default_store(),
        channel_from_settings(settings),
        now=now_utc,
        settings=settings,
        policy=RetryPolicy(),
        max_messages=max_messages,
    )
    return report.as_dict()


def process_batch(
    events: list[dict[str, Any]], by: Actor | None = None, report: dict[str, Any] | None = None
) -> tuple[int, int]:
    """Run every handler over one claimed batch (a task each) and settle each event; returns
    (done, failed) and adds the acting handlers' reports to `report`."""
    by = by or Actor()
    failed: dict[int, str] = {}
    for name, evs in by_handler(events).items():
        outcome = run_handler(name, quote(evs), by.actor, by.flow_run_id)  # type: ignore[call-overload]
        failed.update({int(k): v for k, v in outcome["failed"].items()})
        if report is not None:
            merge_reports(report, outcome["report"])
    return settle(default_store(), events, failed, now_utc())


def _acting_as() -> Actor:
    """The flow run that acts, as the history will name it."""
    ctx = FlowRunContext.get()
    run = ctx.flow_run if ctx is not None else None
    if run is None:
        return Actor()
    return Actor(flow_run_actor(run.name, str(run.id)), str(run.id))


@flow(name="dispatch_events", log_prints=False)
def dispatch_events(batch_size: int | None = None, deliver: bool = True) -> dict[str, Any]:
    """Claim pending outbox events in order, run their handlers, then deliver the messages."""
    store = default_store()
    by = _acting_as()
    total = drain(
        store,
        now_utc,
        lambda events, report: process_batch(events, by, report),
        FlowSettings(),
        batch_size,
    )
    delivery = deliver_messages() if deliver else {}
    summary = {**total.as_dict(), **delivery}
    logger = get_run_logger()
    for case_id, why in sorted(summary["document_requests_skipped"].items()):
        logger.info("case %s: no automatic document request: %s", case_id, why)
    logger.info("dispatch_events: %s", summary)
    return summary
