"""The `escalate_stale_cases` flow: one email a day to the supervisors, listing overdue cases.

A case may sit in `submitted` for 30 days (the default service level). A case submitted at
10:00 on 1 June 2023 is within it on 1 July and overdue on 2 July.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
import time_machine

from flows.daily import plan_escalation
from flows.escalation import escalate_stale_cases
from states.store import Store
from tests.factories import overseas_application
from tests.flows.conftest import SUPERVISORS
from tests.flows.flowkit import FILE_NUMBER, SUBMIT, fire, mails, new_case
from tests.notifications.smtp_server import SmtpRecorder
from workflows.clock import HK


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=HK)


@pytest.fixture
def cases(engine_store: Store) -> dict[str, int]:
    made = {}
    with time_machine.travel(at(date(2023, 6, 1), 10), tick=True) as clock:
        made["stale"] = new_case(engine_store, overseas_application(email="a@example.org"), SUBMIT)
        # Moved on: it left `submitted` the next day, and its new state's limit is 60 days.
        made["moved"] = new_case(engine_store, overseas_application(email="b@example.org"), SUBMIT)
        clock.move_to(at(date(2023, 6, 2)))
        fire(engine_store, made["moved"], FILE_NUMBER)
        clock.move_to(at(date(2023, 6, 20)))
        made["recent"] = new_case(engine_store, overseas_application(email="c@example.org"), SUBMIT)
    return made


def test_escalation__a_case_past_its_service_level_is_mailed_to_supervisors_once_a_day(
    cases: dict[str, int], smtp: SmtpRecorder, prefect_flows: None
) -> None:
    with time_machine.travel(at(date(2023, 7, 1)), tick=True):
        within = escalate_stale_cases()
    assert (within["today"], within["stale_cases"], within["sent"]) == ("2023-07-01", 0, 0)

    with time_machine.travel(at(date(2023, 7, 2)), tick=True):
        first = escalate_stale_cases()
        again = escalate_stale_cases()
    assert (first["stale_cases"], first["sent"]) == (1, 1)
    assert (again["stale_cases"], again["sent"]) == (1, 0)

    (mail,) = [m for m in mails(smtp.messages) if m.kind == "escalation"]
    assert mail.to == SUPERVISORS and mail.rcpt_tos == (SUPERVISORS,)
    assert mail.subject == "QMAS: 1 case overdue for action"
    assert f"Case {cases['stale']}" in mail.text
    assert "1 June 2023" in mail.text and "31 days (limit 30)" in mail.text
    for other in ("moved", "recent"):
        assert f"Case {cases[other]}" not in mail.text
    assert len(smtp.messages) == 1


# Submitted at these Hong Kong times on 1 June 2023: 07:30 is still 31 May in UTC.
SUBMITTED_AT = [(7, 30), (8, 0), (10, 0), (23, 30)]


@pytest.mark.parametrize(
    ("hour", "minute"), SUBMITTED_AT, ids=[f"{h:02}{m:02}" for h, m in SUBMITTED_AT]
)
def test_escalation__overdue_only_after_more_than_30_hong_kong_days_whatever_the_hour(
    store: Store, hour: int, minute: int
) -> None:
    with time_machine.travel(datetime(2023, 6, 1, hour, minute, tzinfo=HK), tick=False):
        case_id = new_case(store, overseas_application(), SUBMIT)
    with time_machine.travel(at(date(2023, 7, 1)), tick=False):
        assert plan_escalation(store, date(2023, 7, 1)).stale == []
    with time_machine.travel(at(date(2023, 7, 2)), tick=False):
        (stale,) = plan_escalation(store, date(2023, 7, 2)).stale
    assert (stale["id"], stale["state"], stale["since"]) == (case_id, "submitted", "2023-06-01")
    assert (stale["days"], stale["limit_days"]) == (31, 30)


def test_escalation__one_poisoned_case_is_recorded_and_the_others_still_listed(
    cases: dict[str, int], engine_store: Store
) -> None:
    """A state_since that is no time (written behind the engine's back) once stopped the
    escalation of every case."""
    from sqlalchemy import update

    from states.models import applications

    with time_machine.travel(at(date(2023, 6, 1), 11), tick=False):
        poisoned = new_case(engine_store, overseas_application(email="d@example.org"), SUBMIT)
    with engine_store.write() as tx:
        tx.conn.execute(
            update(applications)
            .where(applications.c.id == poisoned)
            .values(state_since="2023-01-01 not a time")
        )
    with time_machine.travel(at(date(2023, 7, 2)), tick=False):
        report = plan_escalation(engine_store, date(2023, 7, 2), simulate=True)
    assert list(report.failed) == [poisoned]
    assert [c["id"] for c in report.stale] == [cases["stale"]]
