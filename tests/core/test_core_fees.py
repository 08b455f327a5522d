"""Fees per person (issue 8 §1): the visa fee at allotment, the application fee at submission,
an e-Visa for every person, and `qmas fees`.

Each fee is paid by the applicant and by every accompanying dependant (docs/rules.md §3.1). Every
test runs on frozen clocks at the fee dates (24/25 March 2019; 26 February 2025 10:59/11:00
Hong Kong time) against a real SQLite file, for 0, 1 and 3 dependants.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import Column, MetaData, Table, create_engine, inspect, select

from notifications.preview import preview_report
from states.errors import TransitionNotAllowed
from states.models import TABLES
from states.models import dependants as dep_t
from states.store import Store
from tests.core.core_lifecycle import snapshot
from tests.factories import ACTOR_FOR, add_staff, overseas_application, persons
from workflows import advance, create_case
from workflows.clock import HK
from workflows.effects import EVISA_ALPHABET, check_digit
from workflows.engine import default_store, preview
from workflows.views import case_view, resolve_case

DEPENDANTS = [
    {"name": "WATSON James", "relation": "spouse", "date_of_birth": "1985-07-14"},
    {"name": "WATSON Lily", "relation": "child", "date_of_birth": "2015-03-02"},
    {"name": "WATSON Tom", "relation": "child", "date_of_birth": "2017-11-20"},
]
COUNTS = [pytest.param(n, id=f"{n}-dependants") for n in (0, 1, 3)]

BEFORE_2019 = datetime(2019, 3, 24, 23, 59, tzinfo=HK)  # HK$190 a person
FROM_2019 = datetime(2019, 3, 25, 0, 0, tzinfo=HK)  # HK$230 a person
BEFORE_2025 = datetime(2025, 2, 26, 10, 59, tzinfo=HK)  # HK$230, no application fee
FROM_2025 = datetime(2025, 2, 26, 11, 0, tzinfo=HK)  # HK$1,300 and HK$600 a person


def family(dependants: int) -> dict[str, Any]:
    """An overseas applicant (who passes the 2018, 2023 and enhanced tests) with dependants."""
    return overseas_application(dependants=False) | {"dependants": DEPENDANTS[:dependants]}


def app_fee(amount: int, method: str = "fps") -> dict[str, Any]:
    return {"application_fee": {"amount": amount, "method": method}}


def shortlisted(store: Store, dependants: int, at: datetime) -> int:
    """A case submitted, numbered and shortlisted at ``at`` (no application fee due then)."""
    with time_machine.travel(at, tick=False):
        case_id = create_case(family(dependants), store=store)
        for trigger, role in (("submit", "applicant"), ("issue_file_number", "system"),
                              ("shortlist", "supervisor")):  # fmt: skip
            advance(case_id, trigger, "Officer LAM", role, store=store)
    return case_id


# --- the visa fee: the schedule in force at allotment, times the persons --------------------
@pytest.mark.parametrize("dependants", COUNTS)
@pytest.mark.parametrize(
    ("submitted_at", "allotted_at", "per_person"),
    [
        pytest.param(datetime(2019, 3, 1, 10, tzinfo=HK), BEFORE_2019, 190, id="24-mar-2019"),
        pytest.param(datetime(2019, 3, 1, 10, tzinfo=HK), FROM_2019, 230, id="25-mar-2019"),
        pytest.param(datetime(2025, 2, 3, 10, tzinfo=HK), BEFORE_2025, 230, id="26-feb-10:59"),
        pytest.param(datetime(2025, 2, 3, 10, tzinfo=HK), FROM_2025, 1300, id="26-feb-11:00"),
    ],
)
def test_allot_quota__fee_due_is_the_visa_fee_then_for_the_applicant_and_each_dependant(
    store: Store, dependants: int, submitted_at: datetime, allotted_at: datetime, per_person: int
) -> None:
    case_id = shortlisted(store, dependants, submitted_at)
    due = per_person * persons(family(dependants))
    with time_machine.travel(allotted_at, tick=False):
        seen = preview(case_id, "allot_quota", "Committee", "committee", store=store)
        assert preview_report(seen, store=store)["fee_due"] == due
        done = advance(case_id, "allot_quota", "Committee", "committee", store=store)
        assert case_view(case_id, store=store)["fee_due"] == due
        before = snapshot(store)
        wrong = per_person if dependants else due + 1  # one person's fee is not enough
        with pytest.raises(TransitionNotAllowed) as refused:
            advance(case_id, "pay_fee", "A", "applicant", store=store,
                    data={"amount": wrong, "method": "fps"})  # fmt: skip
        assert f"the fee due, HK${due:,}" in refused.value.reasons[0]
        assert snapshot(store) == before
        advance(case_id, "pay_fee", "A", "applicant", store=store,
                data={"amount": due, "method": "pps"})  # fmt: skip
    view = case_view(case_id, store=store)
    assert (view["state"], view["fee_paid"], view["payment_method"]) == ("fee_paid", due, "pps")
    payload = json.loads(_history_payload(store, done.history_id))
    assert (payload["fee_due"], payload["persons"]) == (due, 1 + dependants)


def test_fee_due__is_kept_when_the_schedule_changes_before_payment(store: Store) -> None:
    case_id = shortlisted(store, 3, datetime(2025, 2, 3, 10, tzinfo=HK))
    with time_machine.travel(BEFORE_2025, tick=False):
        advance(case_id, "allot_quota", "Committee", "committee", store=store)
    with time_machine.travel(FROM_2025, tick=False):  # HK$1,300 now, but HK$230 was due
        advance(case_id, "pay_fee", "A", "applicant", store=store,
                data={"amount": 920, "method": "fps"})  # fmt: skip
    assert case_view(case_id, store=store)["fee_paid"] == 920


def _history_payload(store: Store, history_id: int) -> str:
    from states.models import history

    with store.read() as tx:
        return str(
            tx.conn.execute(select(history.c.payload).where(history.c.id == history_id)).scalar()
        )


# --- e-Visa numbers: one for every person -----------------------------------------------------
EVISA = re.compile(rf"^EV(\d{{4}})-([{EVISA_ALPHABET}]{{8}})(-D\d+)?-([0-9X])$")


def _checks(number: str) -> bool:
    base, check = number.rsplit("-", 1)
    return check_digit(base) == check


@pytest.mark.parametrize("dependants", COUNTS)
def test_issue_evisa__numbers_the_applicant_and_each_dependant(
    store: Store, dependants: int
) -> None:
    case_id = shortlisted(store, dependants, datetime(2025, 2, 3, 10, tzinfo=HK))
    with time_machine.travel(datetime(2025, 3, 3, 10, tzinfo=HK), tick=False):
        advance(case_id, "allot_quota", "Committee", "committee", store=store)
        due = case_view(case_id, store=store)["fee_due"]
        assert due == 1300 * (1 + dependants)
        advance(case_id, "pay_fee", "A", "applicant", store=store,
                data={"amount": due, "method": "credit_card"})  # fmt: skip
        advance(case_id, "issue_evisa", "Officer LAM", "caseworker", store=store)
    view = case_view(case_id, store=store)
    principal = view["evisa_number"]
    base = principal[:-2]  # EV2025-<random>: the random part is shared by the family
    assert principal == f"{base}-{check_digit(base)}" and f"{case_id:06d}" not in base
    numbers = [d["evisa_number"] for d in view["dependants"]]
    assert numbers == [
        f"{base}-D{n}-{check_digit(f'{base}-D{n}')}" for n in range(1, dependants + 1)
    ]
    assert len({principal, *numbers}) == 1 + dependants
    assert all(EVISA.match(n) and _checks(n) for n in [principal, *numbers])
    with store.read() as tx:  # stored on the dependants' rows
        stored = tx.conn.execute(
            select(dep_t.c.evisa_number).where(dep_t.c.application_id == case_id)
            .order_by(dep_t.c.position)
        ).scalars().all()  # fmt: skip
    assert list(stored) == numbers


# --- the application fee, paid with the application ------------------------------------------
@pytest.mark.parametrize("dependants", COUNTS)
def test_submit_from_26_feb_2025_11_00__requires_the_application_fee_for_every_person(
    store: Store, dependants: int
) -> None:
    due = 600 * persons(family(dependants))
    with time_machine.travel(FROM_2025, tick=False):
        case_id = create_case(family(dependants), store=store)
        before = snapshot(store)
        for data, says in [
            (None, f"An application fee of HK${due:,}"),
            ({"application_fee": {"method": "fps"}}, f"An application fee of HK${due:,}"),
            (app_fee(due - 600 if dependants else 230), f"does not match the fee due, HK${due:,}"),
            (app_fee(due, "cash"), "'cash' is not accepted for the application fee"),
            ({"application_fee": {"amount": due}}, "No payment method given"),
        ]:
            with pytest.raises(TransitionNotAllowed) as refused:
                advance(case_id, "submit", "A", "applicant", data=data, store=store)
            assert len(refused.value.reasons) == 1, refused.value.reasons
            assert says in refused.value.reasons[0]
            assert snapshot(store) == before, "a refused submission wrote something"
        advance(case_id, "submit", "A", "applicant", data=app_fee(due), store=store)
    view = case_view(case_id, store=store)
    assert view["state"] == "submitted"
    assert view["application_fee"] == {"due": due, "paid": due, "method": "fps"}


def test_submit_application_fee_sentence_names_each_persons_share(store: Store) -> None:
    with time_machine.travel(FROM_2025, tick=False):
        case_id = create_case(family(3), store=store)
        with pytest.raises(TransitionNotAllowed) as refused:
            advance(case_id, "submit", "A", "applicant", store=store)
    (reason,) = refused.value.reasons
    assert reason.startswith(
        "An application fee of HK$2,400 (HK$600 each for the applicant and 3 dependants) is "
        "payable with an application lodged from 26 February 2025 11:00 Hong Kong time"
    )
    assert '"application_fee": {"amount": 2400, "method": "fps"}' in reason


@pytest.mark.parametrize("dependants", COUNTS)
def test_submit_before_26_feb_2025_11_00__refuses_an_application_fee(
    store: Store, dependants: int
) -> None:
    with time_machine.travel(BEFORE_2025, tick=False):
        case_id = create_case(family(dependants), store=store)
        before = snapshot(store)
        with pytest.raises(TransitionNotAllowed) as refused:
            advance(case_id, "submit", "A", "applicant", data=app_fee(600), store=store)
        (reason,) = refused.value.reasons
        assert reason.startswith(
            "No application fee is payable for an application lodged before 26 February 2025 "
            "11:00 Hong Kong time (this one counts as lodged at 26 February 2025 10:59"
        )
        assert snapshot(store) == before
        advance(case_id, "submit", "A", "applicant", store=store)
    view = case_view(case_id, store=store)
    assert (view["state"], view["application_fee"]) == ("submitted", None)


@pytest.mark.parametrize(
    ("now", "lodged_on", "due"),
    [
        # lodged_on today: the moment of the submission counts
        (datetime(2025, 2, 26, 10, 30, tzinfo=HK), "2025-02-26", None),
        (datetime(2025, 2, 26, 11, 30, tzinfo=HK), "2025-02-26", 1200),
        # a past lodged_on: the start of that day (00:00 HKT)
        (datetime(2025, 2, 27, 9, 0, tzinfo=HK), "2025-02-26", None),
        (datetime(2025, 3, 3, 9, 0, tzinfo=HK), "2025-02-27", 1200),
    ],
    ids=["today-10:30", "today-11:30", "past-26-feb", "past-27-feb"],
)
def test_submit_lodged_on__chooses_the_application_fee(
    store: Store, now: datetime, lodged_on: str, due: int | None
) -> None:
    with time_machine.travel(now, tick=False):
        case_id = create_case(family(1), store=store)
        data: dict[str, Any] = {"lodged_on": lodged_on}
        wrong = data | (app_fee(1200) if due is None else {})
        with pytest.raises(TransitionNotAllowed, match="application fee"):
            advance(case_id, "submit", "A", "applicant", data=wrong, store=store)
        paid = data | (app_fee(due) if due else {})
        advance(case_id, "submit", "A", "applicant", data=paid, store=store)
    view = case_view(case_id, store=store)
    assert view["lodged_on"] == lodged_on
    assert view["application_fee"] == ({"due": due, "paid": due, "method": "fps"} if due else None)


# --- the command line: qmas fees, case show --json ------------------------------------------


@pytest.mark.parametrize(
    ("on", "shown", "visa_fee", "application_fee"),
    [
        ("2019-03-24", "2019-03-24", 190, None),
        ("2019-03-25", "2019-03-25", 230, None),
        ("2019-03-24T23:59:59", "2019-03-24T23:59:59+08:00", 190, None),
        ("2019-03-24T16:00:00Z", "2019-03-25T00:00:00+08:00", 230, None),
        # a date alone is 00:00 HKT of that day: before the 11:00 change
        ("2025-02-26", "2025-02-26", 230, None),
        ("2025-02-26T10:59", "2025-02-26T10:59:00+08:00", 230, None),
        ("2025-02-26T10:59:59+08:00", "2025-02-26T10:59:59+08:00", 230, None),
        ("2025-02-26T11:00", "2025-02-26T11:00:00+08:00", 1300, 600),
        ("2025-02-26T03:00:00Z", "2025-02-26T11:00:00+08:00", 1300, 600),
        ("2025-02-27", "2025-02-27", 1300, 600),
    ],
)
def test_qmas_fees_on__prints_the_fees_per_person(
    qmas: Any, on: str, shown: str, visa_fee: int, application_fee: int | None
) -> None:
    code, out, err = qmas("fees", "--on", on, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "on": shown,
        "visa_fee": visa_fee,
        "application_fee": application_fee,
        "per_person": True,
    }


def test_qmas_fees__text_and_default_now(qmas: Any) -> None:
    code, out, _ = qmas("fees", "--on", "2025-02-26T11:00")
    assert code == 0
    assert "HK$1,300" in out and "HK$600" in out and "tiered-2025" in out
    code, out, _ = qmas("fees", "--on", "2025-02-26")
    assert code == 0 and "HK$230" in out and "none" in out
    with time_machine.travel(BEFORE_2019, tick=False):
        code, out, _ = qmas("fees", "--json")
    assert code == 0
    assert json.loads(out) == {
        "on": "2019-03-24T23:59:00+08:00",
        "visa_fee": 190,
        "application_fee": None,
        "per_person": True,
    }


@pytest.mark.parametrize(
    ("on", "says"),
    [
        ("2006-01-01", "no fee schedule before"),
        ("2025-02-30", "is not a date"),
        ("soon", "is not a date"),
    ],
)
def test_qmas_fees__bad_moments_are_one_line(qmas: Any, on: str, says: str) -> None:
    code, out, err = qmas("fees", "--on", on)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and says in err


def test_case_show_json__application_fee_and_dependants_evisa_numbers(
    qmas: Any, tmp_path: Path
) -> None:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(family(3)), encoding="utf-8")
    with time_machine.travel(FROM_2025, tick=False):
        assert qmas("init")[0] == 0
        add_staff(default_store())
        code, out, _ = qmas("case", "new", str(path))
        case_id = int(out)
        steps: list[tuple[str, str, dict[str, Any] | None]] = [
            ("submit", "applicant", app_fee(2400, "pps")),
            ("issue_file_number", "caseworker", None),
            ("shortlist", "supervisor", None),
            ("allot_quota", "committee", None),
            ("pay_fee", "applicant", {"amount": 5200, "method": "fps"}),
            ("issue_evisa", "caseworker", None),
        ]
        for trigger, role, data in steps:
            extra = ["--data", json.dumps(data)] if data else []
            code, _, err = qmas("case", "advance", str(case_id), trigger,
                                "--actor", ACTOR_FOR[role], "--role", role, *extra)  # fmt: skip
            assert (code, err) == (0, ""), (trigger, err)
        code, out, _ = qmas("case", "show", str(case_id), "--json")
    view = json.loads(out)
    assert view["application_fee"] == {"due": 2400, "paid": 2400, "method": "pps"}
    assert (view["fee_due"], view["fee_paid"]) == (5200, 5200)
    base = view["evisa_number"][:-2]
    assert [d["evisa_number"][:-2] for d in view["dependants"]] == [
        f"{base}-D{n}" for n in (1, 2, 3)
    ]
    # every dependant's file number finds the principal's case
    for d in view["dependants"]:
        assert resolve_case(d["file_number"], store=default_store()) == case_id
        code, out, _ = qmas("case", "show", d["file_number"].lower(), "--json")
        assert code == 0 and json.loads(out)["id"] == case_id
    code, out, _ = qmas("case", "show", str(case_id))
    assert "App. fee   HK$2,400, paid HK$2,400 by pps" in out
    assert f"e-Visa {base}-D3-" in out


# --- an older database gets the new columns from `qmas init` ---------------------------------
NEW_COLUMNS = {
    "applications": {"application_fee_due", "application_fee_paid", "application_fee_method"},
    "dependants": {"evisa_number"},
}


def test_init__adds_the_fee_and_evisa_columns_to_an_older_database(sqlite_url: str) -> None:
    older = MetaData()
    for table in TABLES:  # the schema of the release before issue 8, without its constraints
        gone = NEW_COLUMNS.get(table.name, set())
        Table(table.name, older, *[
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in table.columns if c.name not in gone
        ])  # fmt: skip
    engine = create_engine(sqlite_url)
    older.create_all(engine)
    engine.dispose()

    store = Store(sqlite_url)
    store.init()
    store.init()  # safe to repeat
    found = inspect(store.engine)
    for name, columns in NEW_COLUMNS.items():
        assert columns <= {c["name"] for c in found.get_columns(name)}
    with time_machine.travel(FROM_2025, tick=False):
        case_id = create_case(family(1), store=store)
        advance(case_id, "submit", "A", "applicant", data=app_fee(1200), store=store)
    assert case_view(case_id, store=store)["application_fee"]["due"] == 1200
    store.dispose()
