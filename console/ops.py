"""CLI commands that run the flows in-process and manage the outbox and delivery ledger.

`dispatch`, `remind` and `escalate` look at the database first (a few cheap queries, no
Prefect): with nothing to do they say so and return without starting Prefect, whose ephemeral
API takes 10-20 s to start in a fresh process. `remind` and `escalate` act for today or an
earlier day; `--simulate` shows what a day (a later one too) would do and writes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from console import output
from notifications import ledger
from notifications.delivery import DeliveryReport, RetryPolicy
from states import outbox as events
from states.errors import InvalidInput, NotFound
from states.store import Store
from workflows.clock import now_utc, today_hk
from workflows.engine import default_store
from workflows.formats import long_date
from workflows.views import MAX_ID, parse_day

if TYPE_CHECKING:
    from flows.daily import EscalationReport, ReminderReport

outbox_app = typer.Typer(
    help="Pending, failed and dead events and messages; re-drive one.",
    invoke_without_command=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print plain JSON.")]
Today = Annotated[
    str | None,
    typer.Option(help="The day to act for (default today, HK); a later day needs --simulate."),
]
Simulate = Annotated[
    bool,
    typer.Option(
        "--simulate",
        help="Only report what the day would do (messages, lapses): write nothing, run no flow.",
    ),
]


@contextmanager
def prefect_in_process() -> Iterator[None]:
    """Run flows against Prefect's ephemeral API, without the heartbeat thread (DESIGN.md)."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def run_flow(fn: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any]:
    with prefect_in_process():
        return fn(**params)


_FIRST_DAY = date(2006, 6, 28)  # applications opened (docs/rules.md §1.1)
_LAST_DAY = date(9000, 12, 31)


def _day(text: str | None, simulate: bool) -> date:
    """The day a daily flow acts for: today (HK) by default, never a later day for real."""
    real = today_hk()
    day = real if text is None else parse_day(text)
    if not _FIRST_DAY <= day <= _LAST_DAY:  # working-day arithmetic must stay within dates
        raise InvalidInput(
            f"--today {day.isoformat()} is outside {_FIRST_DAY.isoformat()} to "
            f"{_LAST_DAY.isoformat()}"
        )
    if day > real and not simulate:
        raise InvalidInput(
            f"--today {day.isoformat()} is after today ({real.isoformat()}, Hong Kong); "
            "add --simulate to see what that day would do without writing anything"
        )
    return day


def _print_summary(title: str, summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        output.print_json({**summary, "flow_started": True})
    else:
        output.say(f"{title}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))


def _idle(title: str, summary: dict[str, Any], why: str, as_json: bool) -> None:
    """Nothing to do: say so, with the flow's summary of nothing, and start no flow."""
    if as_json:
        output.print_json({**summary, **DeliveryReport().as_dict(), "flow_started": False})
    else:
        output.say(f"{title}: nothing to do ({why}); Prefect not started")


def _delivery_due(store: Store) -> bool:
    return ledger.has_due(store, now_utc(), timedelta(seconds=RetryPolicy().lease_seconds))


def dispatch(
    batch_size: Annotated[int | None, typer.Option(help="Events per batch.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the dispatch_events flow once, in-process: handle pending events, send messages."""
    from flows.work import Dispatched, dispatch_has_work

    if not dispatch_has_work(default_store(), now_utc()):
        why = "no outbox event pending, no message due"
        _idle("dispatch", Dispatched().as_dict(), why, as_json)
        return
    from flows.dispatch import dispatch_events

    summary = run_flow(dispatch_events, batch_size=batch_size)
    skipped = summary["document_requests_skipped"]
    _print_summary(
        "dispatch",
        summary if as_json else {**summary, "document_requests_skipped": len(skipped)},
        as_json,
    )
    if not as_json:
        for case_id, why in sorted(skipped.items()):
            output.say(f"  case {case_id}: no automatic document request: {why}")


def remind(today: Today = None, simulate: Simulate = False, as_json: JsonFlag = False) -> None:
    """Run the send_reminders flow once, in-process: reminders, final notices, lapses."""
    from flows.daily import plan_reminders

    day = _day(today, simulate)
    store = default_store()
    report = plan_reminders(store, day, simulate=True)
    if simulate:
        _print_simulated_reminders(report, as_json)
        return
    if report.idle and not _delivery_due(store):
        why = "not a working day" if report.skipped_non_working_day else "no reminder or lapse due"
        summary = {"today": report.today, **report.as_dict()}
        _idle("reminders", summary, why + ", no message due", as_json)
        return
    from flows.reminders import send_reminders

    _print_summary("reminders", run_flow(send_reminders, today=day.isoformat()), as_json)


def escalate(today: Today = None, simulate: Simulate = False, as_json: JsonFlag = False) -> None:
    """Run the escalate_stale_cases flow once, in-process."""
    from flows.daily import plan_escalation

    day = _day(today, simulate)
    store = default_store()
    report = plan_escalation(store, day, simulate=True)
    if simulate:
        _print_simulated_escalation(report, as_json)
        return
    if report.idle and not _delivery_due(store):
        why = "today's list already planned" if report.stale else "no case past its service level"
        summary = {"today": report.today, "stale_cases": len(report.stale)}
        _idle("escalation", summary, why + ", no message due", as_json)
        return
    from flows.escalation import escalate_stale_cases

    _print_summary("escalation", run_flow(escalate_stale_cases, today=day.isoformat()), as_json)


def _print_simulated_reminders(report: ReminderReport, as_json: bool) -> None:
    if as_json:
        output.print_json(
            {
                "today": report.today,
                "simulated": True,
                "reminders": report.messages,
                "lapsed": report.lapsed,
                "lapse_refused": report.lapse_refused,
                "failed": report.failed,
                "skipped_non_working_day": report.skipped_non_working_day,
            }
        )
        return
    output.say(f"reminders for {report.today} (simulated: nothing written, no flow started)")
    if report.skipped_non_working_day:
        output.say("  not a working day in Hong Kong: nothing would be sent")
    for m in report.messages:
        if m["lapses_on"]:
            when = f"the case would lapse on {long_date(m['lapses_on'])}"
        else:
            when = f"due {long_date(m['due'])}"
        output.say(
            f"  case {m['case_id']}: {m['kind']} to {m['recipient']} ({m['language']}), {when}"
        )
    for case_id in report.lapsed:
        output.say(f"  case {case_id}: would lapse (grace period over)")
    for case_id, why in report.lapse_refused.items():
        output.say(f"  case {case_id}: would not lapse: {why}")
    for case_id, why in report.failed.items():
        output.say(f"  case {case_id}: skipped, its data broke the work: {why}")
    if (
        report.idle
        and not report.lapse_refused
        and not report.failed
        and not report.skipped_non_working_day
    ):
        output.say("  nothing would be sent and no case would lapse")


def _print_simulated_escalation(report: EscalationReport, as_json: bool) -> None:
    if as_json:
        output.print_json(
            {
                "today": report.today,
                "simulated": True,
                "stale_cases": report.stale,
                "message_planned": bool(report.planned),
                "failed": report.failed,
            }
        )
        return
    output.say(f"escalation for {report.today} (simulated: nothing written, no flow started)")
    for case_id, why in report.failed.items():
        output.say(f"  case {case_id}: skipped, its data broke the work: {why}")
    n = len(report.stale)
    if not n:
        output.say("  no case past its service level: no message")
        return
    told = "would be listed to the supervisors" if report.planned else "already listed today"
    cases = "1 case past its service level" if n == 1 else f"{n} cases past their service level"
    output.say(f"  {cases} {told}:")
    for c in report.stale:
        number = f" ({c['file_number']})" if c["file_number"] else ""
        output.say(
            f"  case {c['id']}{number}: {c['state_label']} since {long_date(c['since'])}, "
            f"{c['days']} days (limit {c['limit_days']})"
        )


@outbox_app.callback()
def outbox(
    ctx: typer.Context,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include done events, sent messages.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List outbox events and messages that are pending, failed or dead."""
    if ctx.invoked_subcommand is not None:
        return
    store = default_store()
    ev_states = ["pending", "processing", "failed"] + (["done"] if show_all else [])
    msg_states = ["pending", "sending", "failed", "dead"] + (["sent"] if show_all else [])
    evs = events.listing(store, ev_states)
    msgs = ledger.listing(store, msg_states)
    if as_json:
        output.print_json(
            {
                "events": evs,
                "messages": msgs,
                "event_counts": events.counts(store),
                "message_counts": ledger.counts(store),
            }
        )
        return
    output.say("Events: " + _counts(events.counts(store)))
    output.say("Messages: " + _counts(ledger.counts(store)))
    if evs:
        output.out.print(
            output.table(
                "Outbox events",
                ["id", "case", "trigger", "status", "tries", "error"],
                [
                    [
                        e["id"],
                        e["case_id"],
                        e["trigger"],
                        e["status"],
                        e["attempts"],
                        e["last_error"],
                    ]
                    for e in evs
                ],
            )
        )
    if msgs:
        output.out.print(
            output.table(
                "Messages",
                ["id", "case", "kind", "to", "status", "tries", "next try", "error"],
                [
                    [
                        m["message_id"],
                        m["case_id"],
                        m["kind"],
                        m["recipient"],
                        m["status"],
                        m["attempts"],
                        m["next_attempt_at"],
                        m["last_error"],
                    ]
                    for m in msgs
                ],
            )
        )


def _counts(c: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"


@outbox_app.command("retry")
def outbox_retry(
    item: Annotated[
        str | None, typer.Argument(help="A message id, or an event id (a number).")
    ] = None,
    dead: Annotated[
        bool,
        typer.Option(
            "--dead", help="Re-drive every dead message and failed event at once (no ITEM)."
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(help="With --dead: only those created on or after this date (HKT)."),
    ] = None,
) -> None:
    """Re-drive one failed or dead message (or outbox event) now, or with --dead all of them."""
    store = default_store()
    if dead:
        if item is not None:
            raise InvalidInput("give a message or event id, or --dead, not both")
        start = None
        if since is not None:
            from workflows.clock import HK, iso

            day = parse_day(since)
            start = iso(datetime.combine(day, time.min, tzinfo=HK))
        messages = ledger.retry_dead(store, now_utc(), since=start)
        failed = events.retry_failed(store, since=start)
        after = f" created since {long_date(parse_day(since))}" if since is not None else ""
        output.say(
            f"{messages} dead message(s) and {failed} failed event(s){after} are pending again"
        )
        return
    if since is not None:
        raise InvalidInput("--since goes with --dead")
    if item is None:
        raise InvalidInput("give a message id or an event id to re-drive, or --dead for all")
    if item.isascii() and item.isdigit():
        digits = item.lstrip("0") or "0"
        if len(digits) > 19 or int(digits) > MAX_ID:  # no row id is that large
            raise NotFound(f"no outbox event {digits[:40]}")
        row = events.retry_event(store, int(digits))
        output.say(f"event {item} ({row['trigger']} of case {row['case_id']}) is pending again")
        return
    row = ledger.retry(store, item, now_utc())
    if row["status"] in ("sent", "sending"):
        output.say(f"message {item} was already {row['status']}; it is not sent again")
    else:
        output.say(f"message {item} to {row['recipient']} is pending again")
