"""The work the flows do, as plain functions of a store and a clock (no Prefect here).

- `handle_events`: run the handlers registered for each event's trigger;
- `plan_reminders`: the reminders and lapses deadlines call for today;
- `plan_escalation`: cases past their service level, in one message to the supervisors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from notifications import ledger, planner
from notifications.settings import NotificationSettings
from states.catalogue import label as state_label
from states.errors import QmasError
from states.models import applications as app_t
from states.models import dependants as dep_t
from states.models import document_requests as doc_t
from states.store import Store, Tx
from workflows import advance
from workflows.clock import HK, iso, parse_iso, today_hk
from workflows.deadlines import Schedule, Stage
from workflows.formats import long_date
from workflows.settings import WorkflowSettings

log = logging.getLogger(__name__)

Event = dict[str, Any]
Handler = Callable[[Tx, list[Event], datetime, NotificationSettings], None]
HANDLERS: dict[str, list[tuple[str, Handler]]] = {}


def handles(*triggers: str) -> Callable[[Handler], Handler]:
    """Register a handler for events of these triggers (``*`` for every trigger)."""

    def register(fn: Handler) -> Handler:
        for t in triggers:
            HANDLERS.setdefault(t, []).append((fn.__name__, fn))
        return fn

    return register


def handlers_for(trigger: str) -> list[tuple[str, Handler]]:
    return HANDLERS.get(trigger, []) + HANDLERS.get("*", [])


def _cases(tx: Tx, case_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = tx.conn.execute(select(app_t).where(app_t.c.id.in_(list(case_ids)))).mappings()
    return {int(r["id"]): dict(r) for r in rows}


def _dependants(tx: Tx, case_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
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
    cases, deps = _cases(tx, ids), _dependants(tx, ids)
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


@dataclass
class HandledBatch:
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def handle_events(
    store: Store,
    handler_name: str,
    events: list[Event],
    now: datetime,
    settings: NotificationSettings | None = None,
) -> HandledBatch:
    """Run one handler over a batch in one transaction; on failure, event by event."""
    settings = settings or NotificationSettings()
    fn = dict(pair for e in events for pair in handlers_for(str(e["trigger"])))[handler_name]
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


# --- reminders and lapses ------------------------------------------------------------------
@dataclass
class ReminderReport:
    planned: int = 0
    lapsed: list[int] = field(default_factory=list)
    lapse_refused: dict[int, str] = field(default_factory=dict)
    skipped_non_working_day: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "lapsed": self.lapsed,
            "lapse_refused": self.lapse_refused,
            "skipped_non_working_day": self.skipped_non_working_day,
        }


# The catalogue code (workflows.reasons) of the reason a lapse gives the applicant.
LAPSE_REASONS = {"documents": "documents_not_provided", "fee": "fee_not_paid"}


def _hk_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=HK)


def plan_reminders(
    store: Store,
    today: date,
    *,
    now: datetime | None = None,
    settings: WorkflowSettings | None = None,
    notification_settings: NotificationSettings | None = None,
) -> ReminderReport:
    """Plan today's reminders (once each, via the ledger) and lapse cases past their grace."""
    from workflows.calendar import is_working_day

    settings = settings or WorkflowSettings()
    nsettings = notification_settings or NotificationSettings()
    moment = now or _hk_noon(today)
    report = ReminderReport()
    if not is_working_day(today):
        report.skipped_non_working_day = True
        return report
    watched = [
        ("documents_requested", "documents", settings.document_schedule()),
        ("quota_allotted", "fee", settings.fee_schedule()),
        ("mainland_consent", "fee", settings.fee_schedule()),
    ]
    to_lapse: list[tuple[int, str, str]] = []
    with store.write() as tx:
        for state, topic, schedule in watched:
            report.planned += _remind_state(
                tx, state, topic, schedule, today, moment, nsettings, to_lapse
            )
    for case_id, due, topic in to_lapse:
        # The applicant is told the catalogue's reason in their language; the detail of the
        # deadline and grace period is an internal note (history only, never in an email).
        what = "the documents requested" if topic == "documents" else "payment of the fee"
        try:
            advance(
                case_id,
                "lapse",
                "qmas-reminders",
                "system",
                store=store,
                now=moment,
                reason_code=LAPSE_REASONS[topic],
                note=(
                    f"No reply on {what} by {long_date(due)}; "
                    f"the grace period ended by {long_date(today)}."
                ),
            )
            report.lapsed.append(case_id)
        except QmasError as err:  # moved meanwhile: the next run looks again
            report.lapse_refused[case_id] = str(err)
    return report


def _remind_state(
    tx: Tx,
    state: str,
    topic: str,
    schedule: Schedule,
    today: date,
    moment: datetime,
    nsettings: NotificationSettings,
    to_lapse: list[tuple[int, str, str]],
) -> int:
    rows = tx.conn.execute(
        select(app_t).where(app_t.c.state == state, app_t.c.deadline.is_not(None))
    ).mappings()
    cases = [dict(r) for r in rows]
    if not cases:
        return 0
    ids = [int(c["id"]) for c in cases]
    deps = _dependants(tx, ids)
    docs: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if topic == "documents":
        for d in tx.conn.execute(
            select(doc_t).where(doc_t.c.case_id.in_(ids), doc_t.c.status == "requested")
        ).mappings():
            docs[int(d["case_id"])].append(dict(d))
    messages = []
    for case in cases:
        due = date.fromisoformat(case["deadline"])
        stage = schedule.stage(today, due)
        if stage is Stage.none:
            continue
        if stage is Stage.lapse:
            to_lapse.append((int(case["id"]), due.isoformat(), topic))
            continue
        kind = f"reminder_{topic}_{stage.value}"
        for mid, k, to, ctx in planner.for_reminder(
            kind,
            due.isoformat(),
            case,
            deps[int(case["id"])],
            docs[int(case["id"])],
            nsettings,
            today.isoformat(),
        ):
            messages.append(
                ledger.PlannedMessage(
                    mid, k, str(case["language"]), to, ctx, case_id=int(case["id"])
                )
            )
    return ledger.plan(tx, messages, moment)


# --- escalation ----------------------------------------------------------------------------
def plan_escalation(
    store: Store,
    today: date,
    *,
    now: datetime | None = None,
    settings: WorkflowSettings | None = None,
    notification_settings: NotificationSettings | None = None,
) -> list[dict[str, Any]]:
    """Cases that sat in one state longer than its service level; one message lists them."""
    settings = settings or WorkflowSettings()
    nsettings = notification_settings or NotificationSettings()
    moment = now or _hk_noon(today)
    stale: list[dict[str, Any]] = []
    with store.write() as tx:
        for state, days in settings.service_levels.items():
            # Overdue once more than `days` Hong Kong calendar days have passed, whatever the
            # hour it entered the state: entered before the start of (today - days), HK time.
            cutoff = iso(datetime.combine(today - timedelta(days=days), time(0), tzinfo=HK))
            rows = tx.conn.execute(
                select(app_t.c.id, app_t.c.file_number, app_t.c.state, app_t.c.state_since)
                .where(app_t.c.state == state, app_t.c.state_since < cutoff)
                .order_by(app_t.c.state_since)
            ).mappings()
            for r in rows:
                since = today_hk(parse_iso(r["state_since"])).isoformat()  # stored in UTC
                stale.append(
                    {
                        "id": r["id"],
                        "file_number": r["file_number"],
                        "state": r["state"],
                        "state_label": state_label(r["state"]),
                        "since": since,
                        "days": (today - date.fromisoformat(since)).days,
                        "limit_days": days,
                    }
                )
        if stale:
            person = {
                "name": "QMAS supervisors",
                "email": nsettings.supervisors_email,
                "role": "supervisor",
            }
            told = planner.event_context("escalation", iso(moment), today.isoformat())
            context = planner.message_context(person, told, nsettings, "en", stale_cases=stale)
            mid = planner.message_id(f"x{today.isoformat()}", "escalation", person)
            ledger.plan(
                tx,
                [ledger.PlannedMessage(mid, "escalation", "en", person["email"], context)],
                moment,
            )
    return stale
