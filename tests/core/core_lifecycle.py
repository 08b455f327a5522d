"""Shared helpers for the core tests: the contract as data, valid inputs, and case builders.

The contract below is written out from the issue, independently of `workflows.spec`, so the
matrix tests check the engine against the specification rather than against itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import time_machine
from sqlalchemy import Table, func, select, text

from states.catalogue import State
from states.models import TABLES
from states.models import history as hist_t
from states.models import outbox as out_t
from states.store import Store
from tests.factories import ACTOR_FOR, application, overseas_application, persons
from workflows import advance, create_case
from workflows.clock import HK
from workflows.spec import Trigger

S, T = State, Trigger

FROZEN_AT = datetime(2023, 6, 1, 10, 0, tzinfo=HK)
# Past every deadline a case built at FROZEN_AT can have (documents: 20 working days;
# fee: 182 days after allotment), still under the 2023/2024 rules.
LAPSE_AT = datetime(2024, 3, 1, 10, 0, tzinfo=HK)
# The visa fee of 2023, HK$230, for each person: the applicant and the two dependants.
VISA_FEE_2023 = 230
FEE_2023 = VISA_FEE_2023 * persons(application())

TERMINALS = frozenset({S.evisa_issued, S.refused, S.withdrawn, S.lapsed})
OPEN = tuple(s for s in State if s not in TERMINALS)
OPEN_AFTER_DRAFT = tuple(s for s in OPEN if s is not S.draft)

# (source, trigger) -> destination, straight from the issue.
CONTRACT: dict[tuple[State, Trigger], State] = {
    (S.draft, T.submit): S.submitted,
    (S.submitted, T.issue_file_number): S.file_number_issued,
    (S.file_number_issued, T.request_documents): S.documents_requested,
    (S.documents_requested, T.receive_documents): S.file_number_issued,
    (S.file_number_issued, T.shortlist): S.shortlisted,
    (S.shortlisted, T.allot_quota): S.quota_allotted,
    (S.quota_allotted, T.record_mainland_consent): S.mainland_consent,
    (S.quota_allotted, T.pay_fee): S.fee_paid,
    (S.mainland_consent, T.pay_fee): S.fee_paid,
    (S.fee_paid, T.issue_evisa): S.evisa_issued,
    **{(s, T.refuse): S.refused for s in OPEN_AFTER_DRAFT},
    **{(s, T.withdraw): S.withdrawn for s in OPEN},
    **{(s, T.lapse): S.lapsed for s in (S.documents_requested, S.quota_allotted)},
    (S.mainland_consent, T.lapse): S.lapsed,
    # corrections and notes keep the state
    (S.documents_requested, T.record_documents): S.documents_requested,
    **{(s, T.amend): s for s in OPEN},
    **{(s, T.note): s for s in State},
}

ROLES: dict[Trigger, frozenset[str]] = {
    T.submit: frozenset({"applicant", "caseworker"}),
    T.issue_file_number: frozenset({"caseworker", "system"}),
    T.request_documents: frozenset({"caseworker", "system"}),
    T.receive_documents: frozenset({"caseworker"}),
    T.shortlist: frozenset({"caseworker", "supervisor"}),
    T.allot_quota: frozenset({"committee"}),
    T.record_mainland_consent: frozenset({"caseworker"}),
    T.pay_fee: frozenset({"applicant", "caseworker", "system"}),
    T.issue_evisa: frozenset({"caseworker", "supervisor"}),
    T.refuse: frozenset({"supervisor", "committee"}),
    T.withdraw: frozenset({"applicant", "caseworker"}),
    T.lapse: frozenset({"system", "supervisor"}),
    T.record_documents: frozenset({"caseworker"}),
    T.amend: frozenset({"caseworker", "supervisor"}),
    T.note: frozenset({"caseworker", "supervisor", "committee", "auditor"}),
}
ALL_ROLES = ("applicant", "caseworker", "supervisor", "committee", "auditor", "system")


@dataclass(frozen=True)
class Step:
    trigger: Trigger
    role: str
    data: dict[str, Any] | None = None
    reason: str | None = None
    actor: str = ""  # empty: ACTOR_FOR[role], the test account for the role
    note: str | None = None

    def __post_init__(self) -> None:
        if not self.actor:
            object.__setattr__(self, "actor", ACTOR_FOR[self.role])


# One valid way to fire each trigger (role allowed, input that satisfies every input guard).
VALID: dict[Trigger, Step] = {
    T.submit: Step(T.submit, "applicant"),
    T.issue_file_number: Step(T.issue_file_number, "system"),
    T.request_documents: Step(
        T.request_documents, "caseworker", {"documents": ["police_certificate", "financial_proof"]}
    ),
    T.receive_documents: Step(
        T.receive_documents,
        "caseworker",
        {"received": ["police_certificate"], "waived": {"financial_proof": "Bank letter on file"}},
    ),
    T.shortlist: Step(T.shortlist, "supervisor"),
    T.allot_quota: Step(T.allot_quota, "committee"),
    T.record_mainland_consent: Step(
        T.record_mainland_consent,
        "caseworker",
        {"consent_letter": "Shenzhen Talent Exchange Centre, ref. SZ-2023-08812"},
    ),
    T.pay_fee: Step(T.pay_fee, "applicant", {"amount": FEE_2023, "method": "fps"}),
    T.issue_evisa: Step(T.issue_evisa, "caseworker"),
    T.refuse: Step(T.refuse, "committee", reason="Not selected in this exercise."),
    T.withdraw: Step(T.withdraw, "applicant", reason="Moved to Singapore"),
    T.lapse: Step(T.lapse, "system", reason="No reply by the due date."),
    T.record_documents: Step(
        T.record_documents, "caseworker", {"received": ["police_certificate"]}
    ),
    T.amend: Step(T.amend, "supervisor", {"applicant": {"email": "chan.tai.man@mail.example.org"}}),
    T.note: Step(T.note, "auditor", note="Checked against the 2023 intake file."),
}

_TO_SHORTLIST = [T.submit, T.issue_file_number, T.request_documents, T.receive_documents]
_SHORTLISTED = [*_TO_SHORTLIST, T.shortlist]
_ALLOTTED = [*_SHORTLISTED, T.allot_quota]


def path_to(state: State, *, mainland: bool = True) -> list[Trigger]:
    """The triggers that take a fresh draft to ``state`` (for a Mainland resident or not)."""
    paid = (
        [*_ALLOTTED, T.record_mainland_consent, T.pay_fee]
        if mainland
        else [
            *_ALLOTTED,
            T.pay_fee,
        ]
    )
    paths: dict[State, list[Trigger]] = {
        S.draft: [],
        S.submitted: [T.submit],
        S.file_number_issued: [T.submit, T.issue_file_number],
        S.documents_requested: [T.submit, T.issue_file_number, T.request_documents],
        S.shortlisted: _SHORTLISTED,
        S.quota_allotted: _ALLOTTED,
        S.mainland_consent: [*_ALLOTTED, T.record_mainland_consent],
        S.fee_paid: paid,
        S.evisa_issued: [*paid, T.issue_evisa],
        S.refused: [T.submit, T.issue_file_number, T.refuse],
        S.withdrawn: [T.submit, T.withdraw],
        S.lapsed: [T.submit, T.issue_file_number, T.request_documents, T.lapse],
    }
    if state is S.mainland_consent and not mainland:
        raise ValueError("only a Mainland resident's case reaches mainland_consent")
    return paths[state]


def fire(store: Store, case_id: int, step: Step, **kwargs: Any) -> Any:
    """Advance with ``step``; a lapse travels past every deadline first."""
    call = {"reason": step.reason, "data": step.data, "note": step.note, "store": store, **kwargs}
    if step.trigger is T.lapse:
        with time_machine.travel(LAPSE_AT, tick=False):
            return advance(case_id, step.trigger, step.actor, step.role, **call)
    return advance(case_id, step.trigger, step.actor, step.role, **call)


def new_case(store: Store, *, mainland: bool = True) -> int:
    data = application() if mainland else overseas_application()
    return create_case(data, store=store)


def drive_to(store: Store, state: State, *, mainland: bool = True) -> int:
    """A real case, created and moved along the lifecycle to ``state``."""
    case_id = new_case(store, mainland=mainland)
    for trigger in path_to(state, mainland=mainland):
        fire(store, case_id, VALID[trigger])
    assert case_state(store, case_id) == (state.value, len(path_to(state, mainland=mainland)))
    return case_id


def case_state(store: Store, case_id: int) -> tuple[str, int]:
    with store.read() as tx:
        case = tx.load_case(case_id)
        return case.state, case.version


def count(store: Store, table: Table, case_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(table)
    if case_id is not None:
        stmt = stmt.where(table.c.case_id == case_id)
    with store.read() as tx:
        return int(tx.conn.execute(stmt).scalar_one())


def history_rows(store: Store, case_id: int) -> list[dict[str, Any]]:
    with store.read() as tx:
        rows = tx.conn.execute(
            select(hist_t).where(hist_t.c.case_id == case_id).order_by(hist_t.c.seq)
        )
        return [dict(r) for r in rows.mappings()]


def outbox_rows(store: Store, case_id: int) -> list[dict[str, Any]]:
    with store.read() as tx:
        rows = tx.conn.execute(select(out_t).where(out_t.c.case_id == case_id).order_by(out_t.c.id))
        return [dict(r) for r in rows.mappings()]


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, so "wrote nothing" can be checked exactly."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with store.read() as tx:
        for table in TABLES:
            key = list(table.primary_key.columns)
            rows = tx.conn.execute(select(table).order_by(*key))
            out[table.name] = [tuple(r) for r in rows]
    return out


def current_schema(store: Store) -> str | None:
    """The PostgreSQL schema a store works in (None on SQLite)."""
    if store.dialect != "postgresql":
        return None
    with store.engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())
