"""CLI commands that run the flows in-process and manage the outbox and delivery ledger."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from console import output
from notifications import ledger
from states import outbox as events
from states.errors import NotFound
from workflows.clock import now_utc
from workflows.engine import default_store
from workflows.views import MAX_ID, parse_day

outbox_app = typer.Typer(
    help="Pending, failed and dead events and messages; re-drive one.",
    invoke_without_command=True,
)


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


def _day(text: str | None) -> str | None:
    return None if text is None else parse_day(text).isoformat()


def _print_summary(title: str, summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        output.print_json(summary)
    else:
        output.say(f"{title}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))


def dispatch(
    batch_size: Annotated[int | None, typer.Option(help="Events per batch.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the dispatch_events flow once, in-process: handle pending events, send messages."""
    from flows.dispatch import dispatch_events

    _print_summary("dispatch", run_flow(dispatch_events, batch_size=batch_size), as_json)


def remind(
    today: Annotated[
        str | None, typer.Option(help="The day to act for (default today, HK).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the send_reminders flow once, in-process: reminders, final notices, lapses."""
    from flows.reminders import send_reminders

    _print_summary("reminders", run_flow(send_reminders, today=_day(today)), as_json)


def escalate(
    today: Annotated[
        str | None, typer.Option(help="The day to act for (default today, HK).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the escalate_stale_cases flow once, in-process."""
    from flows.escalation import escalate_stale_cases

    _print_summary("escalation", run_flow(escalate_stale_cases, today=_day(today)), as_json)


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
    output.out.print("Events: " + _counts(events.counts(store)))
    output.out.print("Messages: " + _counts(ledger.counts(store)))
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
    item: Annotated[str, typer.Argument(help="A message id, or an event id (a number).")],
) -> None:
    """Re-drive one failed or dead message (or outbox event) now."""
    store = default_store()
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
