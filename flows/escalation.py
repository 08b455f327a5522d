"""The daily `escalate_stale_cases` flow: tell supervisors which cases are past service level."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.daily import plan_escalation
from flows.dispatch import deliver_messages
from workflows.clock import today_hk
from workflows.engine import default_store


@task(name="find-stale-cases", cache_policy=NO_CACHE)
def find_stale_cases(today: str) -> list[dict[str, Any]]:
    report = plan_escalation(default_store(), date.fromisoformat(today))
    if report.failed:  # listed in the run's log; the other cases were escalated
        get_run_logger().warning("cases skipped, their data broke the work: %s", report.failed)
    return report.stale


@flow(name="escalate_stale_cases")
def escalate_stale_cases(today: str | None = None, deliver: bool = True) -> dict[str, Any]:
    """List cases that sat in one state longer than its service level; mail the supervisors."""
    day = today or today_hk().isoformat()
    stale = find_stale_cases(day)
    delivery = deliver_messages() if deliver else {}
    summary = {"today": day, "stale_cases": len(stale), **delivery}
    get_run_logger().info("escalate_stale_cases: %s", summary)
    return summary
