"""The daily `send_reminders` flow: deadline reminders, final notices and lapses."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.daily import plan_reminders
from flows.dispatch import deliver_messages
from workflows.clock import today_hk
from workflows.engine import default_store


@task(name="plan-reminders", cache_policy=NO_CACHE)
def plan_reminders_task(today: str) -> dict[str, Any]:
    return plan_reminders(default_store(), date.fromisoformat(today)).as_dict()


@flow(name="send_reminders")
def send_reminders(today: str | None = None, deliver: bool = True) -> dict[str, Any]:
    """Remind applicants of due dates (Hong Kong working days) and lapse cases past grace.

    The messages planned are due at once: this run delivers them (and any other message due),
    or, with ``deliver=False``, the next `dispatch_events` run does.
    """
    day = today or today_hk().isoformat()
    report = plan_reminders_task(day)
    delivery = deliver_messages() if deliver else {}
    summary = {"today": day, **report, **delivery}
    get_run_logger().info("send_reminders: %s", summary)
    return summary
