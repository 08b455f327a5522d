"""The dispatcher's work, as plain functions of a store and a clock (no Prefect here).

Handlers are registered per trigger (``*`` for every trigger), of two kinds:

- planning handlers (`handles`) run inside one transaction per batch and only write rows of
  their own (the delivery ledger): `notify` plans each transition's messages;
- acting handlers (`acts_on`) fire moves of the workflow, each `advance` its own transaction,
  and report what they did: `request_documents` after a file number is issued
  (`flows.document_requests`).

`drain` is the dispatcher's loop (claim a batch, handle it, settle it, until none is left): the
`dispatch_events` flow runs it with a Prefect task per handler, `dispatch_pending` without
Prefect, for callers with a clock of their own (the demo, tests). `dispatch_has_work` is the
CLI's look before it starts Prefect. The daily work (reminders, lapses, escalation) is in
`flows.daily`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from flows import document_requests
from flows.settings import FlowSettings
from notifications import ledger, planner
from notifications.delivery import RetryPolicy
from notifications.settings import NotificationSettings
from states.models import applications as app_t
from states.models import dependants as dep_t
from states.models import outbox as ob_t
from states.outbox import claim_events, mark_done, mark_failed
from states.store import Store, Tx
from workflows.clock import iso

log = logging.getLogger(__name__)

Event = dict[str, Any]
Handler = Callable[[Tx, list[Event], datetime, NotificationSettings], None]
ActingHandler = Callable[[Store, list[Event], datetime, "Actor"], "HandledBatch"]
HANDLERS: dict[str, list[str]] = {}  # trigger: the names of its handlers, in order
PLANNING: dict[str, Handler] = {}
ACTING: dict[str, ActingHandler] = {}


@dataclass(frozen=True)
class Actor:
    """Who acts when an acting handler fires a move: the history's actor, the flow run's id."""

    actor: str = document_requests.FALLBACK_ACTOR
    flow_run_id: str | None = None


@dataclass
class HandledBatch:
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    # What an acting handler did, for the flow's summary (merged with `merge_reports`).
    report: dict[str, Any] = field(default_factory=dict)


def handles(*triggers: str) -> Callable[[Handler], Handler]:
    """Register a planning handler for events of these triggers (``*`` for every trigger)."""

    def register(fn: Handler) -> Handler:
        PLANNING[fn.__name__] = fn
        for t in triggers:
            HANDLERS.setdefault(t, []).append(fn.__name__)
        return fn

    return register


def acts_on(*triggers: str) -> Callable[[ActingHandler], ActingHandler]:
    """Register an acting handler: it fires moves itself, outside any batch transaction."""

    def register(fn: ActingHandler) -> ActingHandler:
        ACTING[fn.__name__] = fn
        for t in triggers:
            HANDLERS.setdefault(t, []).append(fn.__name__)
        return fn

    return register


def handlers_for(trigger: str) -> list[str]:
    """The names of the handlers an event of this trigger goes to."""
    return HANDLERS.get(trigger, []) + HANDLERS.get("*", [])


def by_handler(events: Sequence[Event]) -> dict[str, list[Event]]:
    """The events of a batch grouped by the handlers that take them."""
    out: dict[str, list[Event]] = {}
    for e in events:
        for name in handlers_for(str(e["trigger"])):
            out.setdefault(name, []).append(e)
    return out


def _cases(tx: Tx, case_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = tx.conn.execute(select(app_t).where(app_t.c.id.in_(list(case_ids)))).mappings()
    return {int(r["id"]): dict(r) for r in rows}


def dependants_by_case(tx: Tx, case_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {int(c): [] for c in case_ids}
    rows = tx.conn.execute(
        select(dep_t).where(dep_t.c.application_id.in_(list(case_ids))).order_by(dep_t.c.position)
    ).mappings()
    for r in rows:
        out[int(r["application_id"])].append(dict(r))
    return out


@handles("*")
def notify(tx: Tx, events: list[Event], now: datetime, settings: NotificationSettings) -> None:
    """Plan the applicant's (and representative's) notification of each transition."""
    ids = sorted({int(e["case_id"]) for e in events})
    cases, deps = _cases(tx, ids), dependants_by_case(tx, ids)
    messages = []
    for e in events:
        case = cases[int(e["case_id"])]
        for mid, kind, to, ctx in planner.for_event(e, case, deps[int(e["case_id"])], settings):
            messages.append(
                ledger.PlannedMessage(
                    mid,
                    kind,
                    str(case["language"]),
                    to,
                    ctx,
                    case_id=int(case["id"]),
                    event_id=int(e["event_id"]),
                )
            )
    ledger.plan(tx, messages, now)


@acts_on(document_requests.TRIGGER)
def request_documents(store: Store, events: list[Event], now: datetime, by: Actor) -> HandledBatch:
    """Ask a case that has just been given its file number for its checklist's documents."""
    report = document_requests.request_documents_automatically(
        store, events, now, actor=by.actor, flow_run_id=by.flow_run_id
    )
    return HandledBatch(
        done=[int(e["event_id"]) for e in events if int(e["event_id"]) not in report.failed],
        failed=report.failed,
        report=report.as_dict(),
    )


def handle_events(
    store: Store,
    handler_name: str,
    events: list[Event],
    now: datetime,
    settings: NotificationSettings | None = None,
    *,
    by: Actor | None = None,
) -> HandledBatch:
    """Run one handler over a batch: a planning handler in one transaction (on failure, event
    by event); an acting handler as it sees fit, reporting per event."""
    acting = ACTING.get(handler_name)
    if acting is not None:
        return acting(store, events, now, by or Actor())
    settings = settings or NotificationSettings()
    fn = PLANNING[handler_name]
    result = HandledBatch()
    try:
        with store.write() as tx:
            fn(tx, events, now, settings)
        result.done = [int(e["event_id"]) for e in events]
        return result
    except Exception:  # one bad event must not hold up the batch: retry one by one
        log.warning("handler %s failed on a batch; retrying event by event", handler_name)
    for e in events:
        try:
            with store.write() as tx:
                fn(tx, [e], now, settings)
            result.done.append(int(e["event_id"]))
        except Exception as err:
            result.failed[int(e["event_id"])] = f"{handler_name}: {type(err).__name__}: {err}"
    return result


def merge_reports(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Add one handler report to another: lists are joined, mappings updated, numbers added."""
    for key, value in more.items():
        if isinstance(value, list):
            into[key] = [*into.get(key, []), *value]
        elif isinstance(value, dict):
            into[key] = {**into.get(key, {}), **value}
        else:
            into[key] = into.get(key, 0) + value
    return into


def settle(
    store: Store, events: Sequence[Event], failed: dict[int, str], now: datetime
) -> tuple[int, int]:
    """Mark a handled batch's events done, or failed with the error; returns (done, failed)."""
    at = iso(now)
    with store.write() as tx:
        mark_done(
            tx, [int(e["event_id"]) for e in events if int(e["event_id"]) not in failed], now=at
        )
    for event_id, error in failed.items():
        mark_failed(store, event_id, error, now=at)
    return len(events) - len(failed), len(failed)


def empty_report() -> dict[str, Any]:
    """The acting handlers' report keys, for a run that handled none of their events."""
    return document_requests.RequestReport().as_dict()


@dataclass
class Dispatched:
    done: int = 0
    failed: int = 0
    batches: int = 0
    report: dict[str, Any] = field(default_factory=empty_report)

    def as_dict(self) -> dict[str, Any]:
        return {
            "events_done": self.done,
            "events_failed": self.failed,
            "batches": self.batches,
            **self.report,
        }


# Handles and settles one claimed batch, adding the acting handlers' reports to the mapping;
# returns (done, failed).
BatchRunner = Callable[[list[Event], dict[str, Any]], tuple[int, int]]


def drain(
    store: Store,
    now: Callable[[], datetime],
    run_batch: BatchRunner,
    settings: FlowSettings,
    batch_size: int | None = None,
) -> Dispatched:
    """Claim pending events in batches, oldest first, and run each, until none is left (or
    `dispatch_max_batches`). An event claimed longer ago than the lease is claimed again."""
    out = Dispatched()
    for _ in range(settings.dispatch_max_batches):
        moment = now()
        events = claim_events(
            store,
            now=iso(moment),
            limit=batch_size or settings.dispatch_batch_size,
            stale_before=iso(moment - timedelta(seconds=settings.dispatch_lease_seconds)),
        )
        if not events:
            break
        done, failed = run_batch(events, out.report)
        out.batches, out.done, out.failed = out.batches + 1, out.done + done, out.failed + failed
    return out


def dispatch_pending(
    store: Store,
    now: Callable[[], datetime],
    *,
    by: Actor | None = None,
    settings: FlowSettings | None = None,
) -> Dispatched:
    """The dispatcher's loop without Prefect (no delivery): `now` is the clock."""

    def run_batch(events: list[Event], report: dict[str, Any]) -> tuple[int, int]:
        failed: dict[int, str] = {}
        for name, evs in by_handler(events).items():
            handled = handle_events(store, name, evs, now(), by=by)
            failed.update(handled.failed)
            merge_reports(report, handled.report)
        return settle(store, events, failed, now())

    return drain(store, now, run_batch, settings or FlowSettings())


def dispatch_has_work(store: Store, now: datetime, settings: FlowSettings | None = None) -> bool:
    """Whether `dispatch_events` would find anything to do: an outbox event to claim (the rows
    `states.outbox.claim_events` selects) or a message to deliver. Two indexed queries."""
    settings = settings or FlowSettings()
    stale_before = iso(now - timedelta(seconds=settings.dispatch_lease_seconds))
    claimable = or_(
        ob_t.c.status == "pending",
        (ob_t.c.status == "processing") & (ob_t.c.claimed_at < stale_before),
    )
    with store.read() as tx:
        if tx.conn.execute(select(ob_t.c.id).where(claimable).limit(1)).first() is not None:
            return True
    return ledger.has_due(store, now, timedelta(seconds=RetryPolicy().lease_seconds))
