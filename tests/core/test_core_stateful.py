"""Random sequences of triggers, roles, inputs and expected versions on a few cases.

Whatever is thrown at the engine, the history stays consistent with the cases: the state is
where the last history row put it, the version counts the rows, the chain verifies, a closed
case stays closed, and every refusal is a `QmasError` that wrote nothing.

The corrections and notes (record_documents, amend, note) keep the state: each adds one history
row and one version, and is allowed exactly when the issue says so. A note's text is kept in
its history row's ``note`` column and never reaches an outbox event (what the emails are built
from).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
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
from states.errors import PermissionDenied, QmasError, TransitionNotAllowed
from states.models import applications, document_requests, history, outbox, quota_usage
from states.store import Store
from tests.core.core_lifecycle import (
    ALL_ROLES,
    CONTRACT,
    FROZEN_AT,
    ROLES,
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
    Trigger.record_documents: [{}, {"received": ["photograph"]}, {"waived": {"x": " "}}],
    Trigger.amend: [
        {},
        {"applicant": {}},
        {"applicant": {"phone": "+852 5555 0000"}},
        {"applicant": {"email": "not-an-email"}},
        {"applicant": {"language": "fr"}},
    ],
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
# The moves that keep the state (corrections and notes), and where each may start.
KEEPING = frozenset({Trigger.record_documents, Trigger.amend, Trigger.note})
SOURCES: dict[Trigger, frozenset[str]] = {
    t: frozenset(s.value for (s, tt) in CONTRACT if tt is t) for t in Trigger
}
APPLICANT_COLUMNS = ("email", "language", "representative_name", "representative_email")
NEVER_REQUESTED = "photograph"  # no rule of this machine ever asks for it
WAIVER_REASONS = ["Original seen at the counter", "Bank letter already on file", "", "   "]
ABSENT = "(absent)"  # an amendment field left out of --data
SAME_EMAIL = "(the current email)"
EMAILS = [ABSENT, SAME_EMAIL, "chan.tm@mail.example.org", "e.watson@mail.example.co.uk"]
LANGUAGES = [ABSENT, "en", "zh-HK"]
REPRESENTATIVES: list[Any] = [
    ABSENT,
    None,
    {"name": "Wong & Co.", "email": "cases@wongco.example"},
    {"name": "Lee & Partners", "email": "hk@leepartners.example"},
]
NOTE_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=30
)


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere in a JSON value (keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def expected_refusal(state: str, trigger: Trigger, role: str) -> type[QmasError]:
    """The error a refused move raises: not from this state first, then the role, then rules."""
    if state not in SOURCES[trigger]:
        return TransitionNotAllowed
    if role not in ROLES[trigger]:
        return PermissionDenied
    return TransitionNotAllowed


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
        self.notes: list[tuple[int, int, str]] = []  # (case, history seq, the note as kept)
        self.notes_written = 0
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

    def _values(self, case_id: int) -> dict[str, Any]:
        with self.store.read() as tx:
            case = tx.load_case(case_id)
            return {**case.values, "state": case.state, "version": case.version}

    def _documents(self, case_id: int) -> list[dict[str, Any]]:
        with self.store.read() as tx:
            return tx.documents(case_id)

    def _last_history(self, case_id: int) -> dict[str, Any]:
        with self.store.read() as tx:
            row = tx.conn.execute(
                select(history)
                .where(history.c.case_id == case_id)
                .order_by(history.c.seq.desc())
                .limit(1)
            ).one()
        return dict(row._mapping)

    def _a_note(self) -> str:
        self.notes_written += 1
        return f"Internal note {self.notes_written}: checked with the intake team."

    @rule(
        pick=st.integers(min_value=0, max_value=4),
        trigger=st.sampled_from(list(Trigger)),
        role=st.one_of(st.none(), st.sampled_from(ALL_ROLES)),
        data_kind=st.sampled_from(["valid", "valid", "valid", "invalid", "malformed", "none"]),
        data_pick=st.integers(min_value=0, max_value=5),
        version_kind=st.sampled_from(["right", "right", "none", "stale", "ahead"]),
        reason=st.sampled_from([None, "", "Because the committee decided so."]),
        reason_code=st.sampled_from([None, None, None, "not_selected", "other", "no_such_code"]),
        note_kind=st.sampled_from([None, None, "blank", "text"]),
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
        reason_code: str | None,
        note_kind: str | None,
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
        note = {None: None, "blank": "  ", "text": self._a_note()}[note_kind]
        if trigger is Trigger.note and note is None and data_kind == "valid":
            note = self._a_note()
        self.fire_checked(
            case_id, trigger, role, data, version_kind, reason, reason_code=reason_code, note=note
        )

    def fire_checked(
        self,
        case_id: int,
        trigger: Trigger,
        role: str,
        data: dict[str, Any] | None,
        version_kind: str,
        reason: str | None,
        *,
        reason_code: str | None = None,
        note: str | None = None,
        allowed: bool | None = None,
    ) -> Any:
        """Advance; a refusal must write nothing. With ``allowed`` (the model's answer), the
        engine must agree, and a refusal must be the right error with its sentences."""
        before_case = self._values(case_id)
        state, version = before_case["state"], before_case["version"]
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
                reason_code=reason_code,
                note=note,
                data=data,
                store=self.store,
            )
        except QmasError as err:
            # Any refusal (typed) writes nothing at all; other exceptions fail the test.
            assert self._fingerprint(case_id) == before
            if allowed is not None:
                assert not allowed, f"{trigger} refused: {err}"
                assert isinstance(err, expected_refusal(state, trigger, role)), err
                if isinstance(err, TransitionNotAllowed):
                    assert err.reasons and all(r.endswith(".") for r in err.reasons), err
            self.refused += 1
            event(f"{trigger} refused" if trigger in KEEPING else "refused")
            return None
        assert allowed is not False, f"{trigger} was allowed"
        self.moved += 1
        event(f"{done.trigger}: reached {done.to_state}")
        assert case_id not in self.closed or trigger is Trigger.note, "a closed case moved"
        assert (done.from_state, done.version) == (state, version + 1)
        assert version_kind in ("right", "none")
        last = self._last_history(case_id)
        assert (last["seq"], last["trigger"], last["to_state"]) == (
            done.version,
            trigger.value,
            done.to_state,
        )
        kept = note.strip() if note and note.strip() else None
        assert last["note"] == kept
        if kept is not None:
            self.notes.append((case_id, done.version, kept))
        if trigger in KEEPING:
            # A correction or a note: the same state (since the same moment), one more row.
            after = self._values(case_id)
            assert done.to_state == state == after["state"]
            assert after["state_since"] == before_case["state_since"]
            open_now = [d for d in self._documents(case_id) if d["status"] == "requested"]
            if open_now or trigger is not Trigger.record_documents:
                assert after["deadline"] == before_case["deadline"]
            else:  # the last documents recorded: nothing to wait for, no lapse
                assert after["deadline"] is None
        if done.to_state in TERMINALS:
            self.closed.setdefault(case_id, done.to_state)
        return done

    @rule(
        pick=st.integers(min_value=0, max_value=4),
        choices=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=4),
        version_kind=st.sampled_from(["right", "right", "none", "stale"]),
    )
    def progress(self, pick: int, choices: list[int], version_kind: str) -> None:
        """Fire the next steps of the happy path, so random runs reach the later states."""
        case_id = self.cases[pick % len(self.cases)]
        for choice in choices:
            with self.store.read() as tx:
                case = tx.load_case(case_id)
            options = NEXT.get(case.state)
            if options is None:
                return
            # The forward step, or the side branch: documents half the time, lapse once due.
            side = choice < 2
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
            if nxt is Trigger.receive_documents:
                # Account for whatever is still open (record_documents may have done some).
                docs = self._documents(case_id)
                data = {"received": [d["item"] for d in docs if d["status"] == "requested"]}
            if nxt is Trigger.pay_fee:
                data = {"amount": case.values["fee_due"], "method": "credit_card"}
            step = VALID[nxt]
            done = self.fire_checked(case_id, nxt, step.role, data, version_kind, step.reason)
            if done is None or nxt is Trigger.request_documents:
                return  # leave the documents open a while, for record_documents

    def _ask_for_documents(self, case_id: int) -> None:
        """Take a case on the happy path as far as a document request, where it can."""
        for trigger in (Trigger.submit, Trigger.issue_file_number, Trigger.request_documents):
            state = self._row(case_id)[0]
            if state in SOURCES[trigger]:
                step = VALID[trigger]
                self.fire_checked(case_id, trigger, step.role, step.data, "right", None)

    # --- corrections and notes: the state stays --------------------------------------------
    @rule(
        pick=st.integers(min_value=0, max_value=4),
        prefer_open=st.booleans(),
        received=st.sets(st.integers(min_value=0, max_value=3), max_size=3),
        waived=st.dictionaries(
            st.integers(min_value=0, max_value=3), st.sampled_from(WAIVER_REASONS), max_size=2
        ),
        stray=st.sampled_from([None, None, "never_requested", "already_recorded"]),
        role=st.sampled_from(["caseworker", "caseworker", "caseworker", *ALL_ROLES]),
    )
    def record_documents(
        self,
        pick: int,
        prefer_open: bool,
        received: set[int],
        waived: dict[int, str],
        stray: str | None,
        role: str,
    ) -> None:
        """Some of the open documents received or waived; allowed exactly as the issue says."""
        case_id = self.cases[pick % len(self.cases)]
        if prefer_open:
            with_open = [
                c for c in self.cases if any(d["status"] == "requested" for d in self._documents(c))
            ]
            if with_open:
                case_id = with_open[pick % len(with_open)]
            else:
                self._ask_for_documents(case_id)
        state = self._row(case_id)[0]
        docs = self._documents(case_id)
        open_items = sorted({d["item"] for d in docs if d["status"] == "requested"})
        done_items = sorted({d["item"] for d in docs} - set(open_items))
        names = open_items or ["police_certificate"]
        got = sorted({names[i % len(names)] for i in received})
        waive = {names[i % len(names)]: why for i, why in waived.items()}
        waive = {k: v for k, v in waive.items() if k not in got}
        if stray == "never_requested":
            got.append(NEVER_REQUESTED)
        elif stray == "already_recorded" and done_items:
            got.append(done_items[0])
        named = set(got) | set(waive)
        allowed = (
            state == "documents_requested"
            and role in ROLES[Trigger.record_documents]
            and bool(open_items)
            and bool(named)
            and named <= set(open_items)
            and all(why.strip() for why in waive.values())
        )
        data = {"received": got, "waived": waive}
        done = self.fire_checked(
            case_id, Trigger.record_documents, role, data, "right", None, allowed=allowed
        )
        if done is None:
            return
        after = {d["id"]: d for d in self._documents(case_id)}
        for d in docs:
            now = after[d["id"]]
            if d["status"] != "requested":
                assert now == d, "a document already recorded changed"
            elif d["item"] in got:
                assert now["status"] == "received"
            elif d["item"] in waive:
                assert (now["status"], now["waiver_reason"]) == ("waived", waive[d["item"]].strip())
            else:
                assert now == d, "a document not named was touched"
        assert len(after) == len(docs), "recording documents requests none"

    @rule(
        pick=st.integers(min_value=0, max_value=4),
        email=st.sampled_from(EMAILS),
        language=st.sampled_from(LANGUAGES),
        representative=st.sampled_from(REPRESENTATIVES),
        role=st.sampled_from(["caseworker", "supervisor", "caseworker", "supervisor", *ALL_ROLES]),
    )
    def amend(self, pick: int, email: str, language: str, representative: Any, role: str) -> None:
        """Correct contact details on an open case; the history row keeps before and after."""
        case_id = self.cases[pick % len(self.cases)]
        case = self._values(case_id)
        change: dict[str, Any] = {}
        if email != ABSENT:
            change["email"] = case["email"] if email == SAME_EMAIL else email
        if language != ABSENT:
            change["language"] = language
        if representative != ABSENT:
            change["representative"] = representative
        before = {c: case[c] for c in APPLICANT_COLUMNS}
        after = dict(before)
        after.update({k: v for k, v in change.items() if k in ("email", "language")})
        if "representative" in change:
            rep = change["representative"]
            after["representative_name"] = rep["name"] if rep else None
            after["representative_email"] = rep["email"] if rep else None
        changed = [c for c in APPLICANT_COLUMNS if before[c] != after[c]]
        allowed = case["state"] not in TERMINALS and role in ROLES[Trigger.amend] and bool(changed)
        data = {"applicant": change}
        done = self.fire_checked(case_id, Trigger.amend, role, data, "right", None, allowed=allowed)
        if done is None:
            return
        now = self._values(case_id)
        assert {c: now[c] for c in APPLICANT_COLUMNS} == after
        payload = json.loads(self._last_history(case_id)["payload"])
        for c in changed:
            assert (payload["before"][c], payload["after"][c]) == (before[c], after[c])

    @rule(
        pick=st.integers(min_value=0, max_value=4),
        role=st.sampled_from([*sorted(ROLES[Trigger.note]), *ALL_ROLES]),
        kind=st.sampled_from(["text", "text", "text", "empty", "blank"]),
        text=NOTE_TEXT,
    )
    def note(self, pick: int, role: str, kind: str, text: str) -> None:
        """A note on any case, closed ones included, by the roles that may write one."""
        case_id = self.cases[pick % len(self.cases)]
        written = {"text": f"{self._a_note()} {text}", "empty": "", "blank": " \t "}[kind]
        allowed = role in ROLES[Trigger.note] and bool(written.strip())
        self.fire_checked(
            case_id, Trigger.note, role, None, "right", None, note=written, allowed=allowed
        )

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

    @invariant()
    def notes_stay_in_history_only(self) -> None:
        """Each note is in its history row's note column, and in no outbox event."""
        with self.store.read() as tx:
            noted = {
                (r.case_id, r.seq): r.note
                for r in tx.conn.execute(select(history.c.case_id, history.c.seq, history.c.note))
                if r.note is not None
            }
            events = [r.payload for r in tx.conn.execute(select(outbox.c.payload))]
        assert noted == {(c, seq): text for c, seq, text in self.notes}
        texts = [text for _, _, text in self.notes]
        for raw in events:
            told = list(strings_in(json.loads(raw)))
            for text in texts:
                assert text not in raw and not any(text in s for s in told), text


CaseEngine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestCoreCaseEngine = CaseEngine.TestCase
