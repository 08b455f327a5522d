"""Random sequences of triggers, roles, inputs and expected versions on a few cases.

Whatever is thrown at the engine, the history stays consistent with the cases: the state is
where the last history row put it, the version counts the rows, the chain verifies, a closed
case stays closed, and every refusal is a `QmasError` that wrote nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from typing import Any

import time_machine
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import func, select

from states.audit import verify
from states.errors import QmasError
from states.models import applications, document_requests, history, outbox, quota_usage
from states.store import Store
from tests.core.core_lifecycle import (
    ALL_ROLES,
    FROZEN_AT,
    TERMINALS,
    VALID,
    new_case,
)
from workflows import advance
from workflows.clock import today_hk
from workflows.spec import Trigger

# Input that is wrong in a way a guard or the parser must catch.
INVALID: dict[Trigger, list[dict[str, Any]]] = {
    Trigger.submit: [{"lodged_on": "2999-01-01"}, {"lodged_on": "not a date"}],
    Trigger.request_documents: [{}, {"documents": ["Bad Name"]}, {"due": "2000-01-01"}],
    Trigger.receive_documents: [{}, {"received": ["photograph"]}, {"waived": {"x": ""}}],
    Trigger.record_mainland_consent: [{}, {"consent_letter": ""}],
    Trigger.pay_fee: [{"amount": 1, "method": "cash"}, {"amount": "lots"}, {}],
}
MALFORMED = [{"unexpected": 1}, {"amount": True}]
# The happy path's next trigger from each state (a Mainland case records consent first).
NEXT: dict[str, tuple[Trigger, ...]] = {
    "draft": (Trigger.submit,),
    "submitted": (Trigger.issue_file_number,),
    "file_number_issued": (Trigger.shortlist, Trigger.request_documents),
    "documents_requested": (Trigger.receive_documents, Trigger.lapse),
    "shortlisted": (Trigger.allot_quota,),
    "quota_allotted": (Trigger.pay_fee, Trigger.lapse),
    "mainland_consent": (Trigger.pay_fee, Trigger.lapse),
    "fee_paid": (Trigger.issue_evisa,),
}


class CaseEngine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="qmas-stateful-")
        self.clock = time_machine.travel(FROZEN_AT, tick=False)
        self.clock.start()
        self.store = Store(f"sqlite:///{self.folder}/qmas.db")
        self.store.init()
        self.cases: list[int] = []
        self.closed: dict[int, str] = {}  # case -> the terminal state it reached
        self.days_passed = 0
        self.moved = 0
        self.refused = 0

    @initialize(mainland=st.lists(st.booleans(), min_size=2, max_size=3))
    def open_cases(self, mainland: list[bool]) -> None:
        for m in mainland:
            self.cases.append(new_case(self.store, mainland=m))

    def teardown(self) -> None:
        self.store.dispose()
        self.clock.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _fingerprint(self, case_id: int) -> tuple[Any, ...]:
        """What a refusal must leave alone: row counts, the case row, its documents, quotas."""
        with self.store.read() as tx:
            counts = tuple(
                tx.conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (history, outbox, document_requests, applications)
            )
            case = tuple(
                tx.conn.execute(select(applications).where(applications.c.id == case_id)).one()
            )
            docs = tx.documents(case_id)
            quotas = tx.conn.execute(select(quota_usage)).all()
        return counts, case, tuple(map(str, docs)), tuple(map(tuple, quotas))

    def _row(self, case_id: int) -> tuple[str, int, int | None]:
        with self.store.read() as tx:
            case = tx.load_case(case_id)
            return case.state, case.version, case.values["fee_due"]

    @rule(
        pick=st.integers(min_value=0, max_value=4),
        trigger=st.sampled_from(list(Trigger)),
        role=st.one_of(st.none(), st.sampled_from(ALL_ROLES)),
        data_kind=st.sampled_from(["valid", "valid", "valid", "invalid", "malformed", "none"]),
        data_pick=st.integers(min_value=0, max_value=5),
        version_kind=st.sampled_from(["right", "right", "none", "stale", "ahead"]),
        reason=st.sampled_from([None, "", "Because the committee decided so."]),
    )
    def random_trigger(
        self,
        pick: int,
        trigger: Trigger,
        role: str | None,
        data_kind: str,
        data_pick: int,
        version_kind: str,
        reason: str | None,
    ) -> None:
        case_id = self.cases[pick % len(self.cases)]
        _, _, fee_due = self._row(case_id)
        valid = VALID[trigger]
        role = role or valid.role  # None: a role the trigger allows
        data: dict[str, Any] | None
        if data_kind == "valid":
            data = valid.data
            if trigger is Trigger.pay_fee:
                data = {"amount": fee_due if fee_due is not None else 230, "method": "pps"}
        elif data_kind == "invalid":
            options = INVALID.get(trigger, MALFORMED)
            data = options[data_pick % len(options)]
        elif data_kind == "malformed":
            data = MALFORMED[data_pick % len(MALFORMED)]
        else:
            data = None
        if trigger is Trigger.refuse and reason is None and data_kind == "valid":
            reason = valid.reason
        self.fire_checked(case_id, trigger, role, data, version_kind, reason)

    def fire_checked(
        self,
        case_id: int,
        trigger: Trigger,
        role: str,
        data: dict[str, Any] | None,
        version_kind: str,
        reason: str | None,
    ) -> None:
        state, version, _ = self._row(case_id)
        expected = {
            "right": version,
            "none": None,
            "stale": version - 1,
            "ahead": version + 1,
        }[version_kind]
        before = self._fingerprint(case_id)
        try:
            done = advance(
                case_id,
                trigger,
                VALID[trigger].actor,
                role,
                expected_version=expected,
                reason=reason,
                data=data,
                store=self.store,
            )
        except QmasError:
            # Any refusal (typed) writes nothing at all; other exceptions fail the test.
            assert self._fingerprint(case_id) == before
            self.refused += 1
            event("refused")
            return
        self.moved += 1
        event(f"reached {done.to_state}")
        assert case_id not in self.closed, "a closed case moved"
        assert (done.from_state, done.version) == (state, version + 1)
        assert version_kind in ("right", "none")
        if done.to_state in TERMINALS:
            self.closed[case_id] = done.to_state

    @rule(
        pick=st.integers(min_value=0, max_value=4),
        choice=st.integers(min_value=0, max_value=3),
        version_kind=st.sampled_from(["right", "none", "stale"]),
    )
    def progress(self, pick: int, choice: int, version_kind: str) -> None:
        """Fire the next step of the happy path, so random runs reach the later states."""
        case_id = self.cases[pick % len(self.cases)]
        with self.store.read() as tx:
            case = tx.load_case(case_id)
        options = NEXT.get(case.state)
        if options is None:
            return
        # Mostly the forward step; sometimes the side branch (documents; lapse once due).
        side = choice == 0
        if options[-1] is Trigger.lapse:
            deadline = case.values["deadline"]
            side = choice < 2 and deadline is not None and today_hk().isoformat() > deadline
        nxt = options[1] if side and len(options) > 1 else options[0]
        if (
            nxt is Trigger.pay_fee
            and case.state == "quota_allotted"
            and case.values["mainland_resident"]
        ):
            nxt = Trigger.record_mainland_consent
        data = VALID[nxt].data
        if nxt is Trigger.pay_fee:
            data = {"amount": case.values["fee_due"], "method": "credit_card"}
        self.fire_checked(case_id, nxt, VALID[nxt].role, data, version_kind, VALID[nxt].reason)

    @precondition(lambda self: self.days_passed < 270)
    @rule(days=st.integers(min_value=1, max_value=120))
    def time_passes(self, days: int) -> None:
        self.days_passed += days
        self.clock.stop()
        self.clock = time_machine.travel(FROZEN_AT + timedelta(days=self.days_passed), tick=False)
        self.clock.start()

    @precondition(lambda self: len(self.cases) < 5)
    @rule(mainland=st.booleans())
    def another_case(self, mainland: bool) -> None:
        self.cases.append(new_case(self.store, mainland=mainland))

    @invariant()
    def state_is_where_the_last_history_row_left_it(self) -> None:
        with self.store.read() as tx:
            for case_id in self.cases:
                case = tx.load_case(case_id)
                rows = tx.conn.execute(
                    select(history.c.seq, history.c.to_state)
                    .where(history.c.case_id == case_id)
                    .order_by(history.c.seq)
                ).all()
                last = rows[-1].to_state if rows else "draft"
                assert case.state == last
                assert case.version == len(rows)
                assert [r.seq for r in rows] == list(range(1, len(rows) + 1))

    @invariant()
    def terminal_states_are_never_left(self) -> None:
        for case_id, terminal in self.closed.items():
            assert self._row(case_id)[0] == terminal

    @invariant()
    def chain_verifies(self) -> None:
        report = verify(self.store)
        assert report.ok, report.problems
        with self.store.read() as tx:
            total = tx.conn.execute(select(func.sum(applications.c.version))).scalar()
        assert report.rows == (total or 0)


CaseEngine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestCoreCaseEngine = CaseEngine.TestCase
