"""The work of the daily flows, as plain functions of a store and a day (no Prefect here).

- `plan_reminders`: the reminders and final notices deadlines call for on a day, and the lapse
  of cases past their grace period;
- `plan_escalation`: cases past their service level, in one message to the supervisors.

`today` decides what is due; what is written is stamped with the real clock (`now`), so a
message planned for today is due at once, whatever the hour, and the next delivery sends it.
With ``simulate=True`` both report what they would do and write nothing (no ledger row, no
history, no outbox): `qmas remind --simulate`, and the CLI's check for work before it starts
Prefect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from flows.work import dependants_by_case
from notifications import ledger, planner
from notifications.settings import NotificationSettings
from states.catalogue import label as state_label
from states.errors import QmasError
from states.models import applications as app_t
from states.models import document_requests as doc_t
from states.store import Store, Tx
from workflows import advance
from workflows.calendar import is_working_day
from workflows.clock import HK, iso, now_utc, parse_iso, today_hk
from workflows.deadlines import Schedule, Stage
from workflows.engine import preview
from workflows.formats import long_date
from workflows.settings import WorkflowSettings

log = logging.getLogger(__name__)
ACTOR = "qmas-reminders"
# The catalogue code (workflows.reasons) of the reason a lapse gives the applicant.
LAPSE_REASONS = {"documents": "documents_not_provided", "fee": "fee_not_paid"}


@dataclass
class ReminderReport:
    today: str
    simulated: bool = False
    planned: int = 0
    lapsed: list[int] = field(default_factory=list)  # simulated: the cases that would lapse
    lapse_refused: dict[int, str] = field(default_factory=dict)
    # Cases whose own data broke the work (a deadline that is no date, say): recorded and
    # skipped, so that one bad case never stops the reminders of every other.
    failed: dict[int, str] = field(default_factory=dict)
    skipped_non_working_day: bool = False
    # Each new message (case_id, kind, recipient, language, due, lapses_on): for a simulation.
    messages: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "lapsed": self.lapsed,
            "lapse_refused": self.lapse_refused,
            "failed": self.failed,
            "skipped_non_working_day": self.skipped_non_working_day,
        }

    @property
    def idle(self) -> bool:
        """Nothing to plan and nothing to lapse."""
        return not self.planned and not self.lapsed


@dataclass(frozen=True)
class Watched:
    state: str
    topic: str  # "documents" or "fee"
    schedule: Schedule


def _watched(settings: WorkflowSettings) -> list[Watched]:
    return [
        Watched("documents_requested", "documents", settings.document_schedule()),
        Watched("quota_allotted", "fee", settings.fee_schedule()),
        Watched("mainland_consent", "fee", settings.fee_schedule()),
    ]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=HK)  # when the daily flow runs


def plan_reminders(
    store: Store,
    today: date,
    *,
    now: datetime | None = None,
    simulate: bool = False,
    settings: WorkflowSettings | None = None,
    notification_settings: NotificationSettings | None = None,
) -> ReminderReport:
    """Plan the day's reminders (once each, via the ledger) and lapse cases past their grace;
    with ``simulate``, report them (lapses judged on that day) and write nothing."""
    settings = settings or WorkflowSettings()
    nsettings = notification_settings or NotificationSettings()
    moment = now or now_utc()
    report = ReminderReport(today.isoformat(), simulated=simulate)
    if not is_working_day(today):
        report.skipped_non_working_day = True
        return report
    to_lapse: list[tuple[int, str, str]] = []
    with store.read() if simulate else store.write() as tx:
        messages: list[ledger.PlannedMessage] = []
        for watched in _watched(settings):
            messages += _remind_state(tx, watched, today, nsettings, to_lapse, report.failed)
        new = ledger.unplanned(tx, messages)
        if not simulate:
            ledger.plan(tx, new, moment)
    report.planned = len(new)
    report.messages = [
        {
            "case_id": m.case_id,
            "kind": m.kind,
            "recipient": m.recipient,
            "language": m.language,
            "due": m.context["due"],
            "lapses_on": m.context["lapses_on"],
        }
        for m in new
    ]
    for case_id, due, topic in to_lapse:
        _lapse(store, case_id, due, topic, today, moment, simulate, report)
    return report


def _lapse(
    store: Store,
    case_id: int,
    due: str,
    topic: str,
    today: date,
    moment: datetime,
    simulate: bool,
    report: ReminderReport,
) -> None:
    # The applicant is told the catalogue's reason in their language; the detail of the
    # deadline and grace period is an internal note (history only, never in an email).
    what = "the documents requested" if topic == "documents" else "payment of the fee"
    note = f"No reply on {what} by {long_date(due)}; the grace period ended by {long_date(today)}."
    if simulate:  # the same decision, judged on the day simulated, nothing written
        seen = preview(
            case_id,
            "lapse",
            ACTOR,
            "system",
            reason_code=LAPSE_REASONS[topic],
            note=note,
            store=store,
            now=_day_start(today),
        )
        if seen.verdict.allowed:
            report.lapsed.append(case_id)
        else:
            report.lapse_refused[case_id] = "; ".join(seen.verdict.reasons)
        return
    try:
        advance(
            case_id,
            "lapse",
            ACTOR,
            "system",
            reason_code=LAPSE_REASONS[topic],
            note=note,
            store=store,
            now=moment,
        )
        report.lapsed.append(case_id)
    except QmasError as err:  # moved meanwhile: the next run looks again
        report.lapse_refused[case_id] = str(err)
    except Exception as err:  # this case's own data: record it, go on with the others
        _skipped(report.failed, case_id, "lapse", err)


def _skipped(failed: dict[int, str], case_id: int, work: str, err: Exception) -> None:
    """Record that one case's own data broke ``work``; the flow goes on with the others."""
    failed[case_id] = f"{type(err).__name__}: {str(err)[:200]}"
    log.warning("case %s: %s skipped: %s", case_id, work, type(err).__name__)


def _remind_state(
    tx: Tx,
    watched: Watched,
    today: date,
    nsettings: NotificationSettings,
    to_lapse: list[tuple[int, str, str]],
    failed: dict[int, str],
) -> list[ledger.PlannedMessage]:
    rows = tx.conn.execute(
        select(app_t).where(app_t.c.state == watched.state, app_t.c.deadline.is_not(None))
    ).mappings()
    cases = [dict(r) for r in rows]
    if not cases:
        return []
    ids = [int(c["id"]) for c in cases]
    deps = dependants_by_case(tx, ids)
    docs: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if watched.topic == "documents":
        for d in tx.conn.execute(
            select(doc_t).where(doc_t.c.case_id.in_(ids), doc_t.c.status == "requested")
        ).mappings():
            docs[int(d["case_id"])].append(dict(d))
    messages: list[ledger.PlannedMessage] = []
    for case in cases:
        try:
            messages += _remind_case(case, watched, today, nsettings, to_lapse, deps, docs)
        except Exception as err:  # this case's own data: record it, go on with the others
            _skipped(failed, int(case["id"]), "reminder", err)
    return messages


def _remind_case(
    case: dict[str, Any],
    watched: Watched,
    today: date,
    nsettings: NotificationSettings,
    to_lapse: list[tuple[int, str, str]],
    deps: dict[int, list[dict[str, Any]]],
    docs: dict[int, list[dict[str, Any]]],
) -> list[ledger.PlannedMessage]:
    due = date.fromisoformat(case["deadline"])
    stage = watched.schedule.stage(today, due)
    if stage is Stage.none:
        return []
    if stage is Stage.lapse:
        to_lapse.append((int(case["id"]), due.isoformat(), watched.topic))
        return []
    # A final notice comes after the due date: it names the day the case will lapse.
    lapses_on = watched.schedule.dates(due)[Stage.lapse] if stage is Stage.final else None
    return [
        ledger.PlannedMessage(mid, kind, str(case["language"]), to, ctx, case_id=int(case["id"]))
        for mid, kind, to, ctx in planner.for_reminder(
            f"reminder_{watched.topic}_{stage.value}",
            due.isoformat(),
            case,
            deps[int(case["id"])],
            docs[int(case["id"])],
            nsettings,
            today.isoformat(),
            lapses_on=lapses_on.isoformat() if lapses_on else None,
        )
    ]


# --- escalation ----------------------------------------------------------------------------
@dataclass
class EscalationReport:
    today: str
    stale: list[dict[str, Any]] = field(default_factory=list)
    planned: int = 0  # the day's message to the supervisors, when new
    failed: dict[int, str] = field(default_factory=dict)  # cases whose data broke the work
    simulated: bool = False

    @property
    def idle(self) -> bool:
        return not self.planned


def plan_escalation(
    store: Store,
    today: date,
    *,
    now: datetime | None = None,
    simulate: bool = False,
    settings: WorkflowSettings | None = None,
    notification_settings: NotificationSettings | None = None,
) -> EscalationReport:
    """Cases that sat in one state longer than its service level; one message a day lists
    them. With ``simulate``, report them and whether the day's message is new; write nothing."""
    settings = settings or WorkflowSettings()
    nsettings = notification_settings or NotificationSettings()
    moment = now or now_utc()
    report = EscalationReport(today.isoformat(), simulated=simulate)
    with store.read() if simulate else store.write() as tx:
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
                try:
                    since = today_hk(parse_iso(r["state_since"])).isoformat()  # stored in UTC
                except Exception as err:  # this case's own data: record it, list the others
                    _skipped(report.failed, int(r["id"]), "escalation", err)
                    continue
                report.stale.append(
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
        if report.stale:
            person = {
                "name": "QMAS supervisors",
                "email": nsettings.supervisors_email,
                "role": "supervisor",
            }
            told = planner.event_context("escalation", iso(moment), today.isoformat())
            context = planner.message_context(
                person, told, nsettings, "en", stale_cases=report.stale
            )
            mid = planner.message_id(f"x{today.isoformat()}", "escalation", person)
            new = ledger.unplanned(
                tx, [ledger.PlannedMessage(mid, "escalation", "en", person["email"], context)]
            )
            report.planned = len(new)
            if not simulate:
                ledger.plan(tx, new, moment)
    return report
