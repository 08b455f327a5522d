"""Every (state, trigger) pair against the contract, and how refusals behave.

An allowed move goes to its destination with version + 1, one history row and one outbox row;
every other pair raises `TransitionNotAllowed`, and a refusal of any kind writes nothing.
"""

from __future__ import annotations

import json
from itertools import product

import pytest
import time_machine

from states.audit import verify
from states.catalogue import State
from states.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    QmasError,
    TransitionNotAllowed,
)
from states.models import document_requests, history, outbox
from states.store import Store
from tests.core.core_lifecycle import (
    ALL_ROLES,
    CONTRACT,
    FEE_2023,
    LAPSE_AT,
    ROLES,
    TERMINALS,
    VALID,
    S,
    Step,
    T,
    case_state,
    count,
    drive_to,
    fire,
    history_rows,
    outbox_rows,
    snapshot,
)
from workflows import advance, available_actions
from workflows.spec import MOVES, Trigger

pytestmark = pytest.mark.usefixtures("frozen_clock")

PAIRS = list(product(State, Trigger))


def pair_id(pair: tuple[State, Trigger]) -> str:
    return f"{pair[0].value}-{pair[1].value}"


def mainland_for(state: State, trigger: Trigger) -> bool:
    """Pay a quota-allotted fee as an overseas applicant; everything else as a Mainland one."""
    return not (state is S.quota_allotted and trigger is T.pay_fee)


def test_contract_table_matches_the_engine_spec() -> None:
    spec = {(s, m.trigger): m.dest_from(s) for m in MOVES.values() for s in m.sources}
    assert spec == CONTRACT
    assert {t: frozenset(r.value for r in m.roles) for t, m in MOVES.items()} == ROLES


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_pair_moves_to_contract_destination_or_is_refused_writing_nothing(
    store: Store, pair: tuple[State, Trigger]
) -> None:
    state, trigger = pair
    case_id = drive_to(store, state, mainland=mainland_for(state, trigger))
    _, version = case_state(store, case_id)
    before = snapshot(store)
    hist_before, out_before = len(history_rows(store, case_id)), len(outbox_rows(store, case_id))
    step = VALID[trigger]

    if pair in CONTRACT:
        done = fire(store, case_id, step, expected_version=version)
        dest = CONTRACT[pair].value
        assert (done.from_state, done.to_state, done.version) == (state.value, dest, version + 1)
        assert case_state(store, case_id) == (dest, version + 1)
        rows = history_rows(store, case_id)
        assert len(rows) == hist_before + 1 == version + 1
        last = rows[-1]
        assert (last["seq"], last["from_state"], last["to_state"], last["trigger"]) == (
            version + 1,
            state.value,
            dest,
            trigger.value,
        )
        assert (last["actor"], last["role"], last["reason"]) == (step.actor, step.role, step.reason)
        assert last["note"] == step.note
        events = outbox_rows(store, case_id)
        assert len(events) == out_before + 1
        assert events[-1]["history_id"] == last["id"] == done.history_id
        assert events[-1]["topic"] == "case.transitioned"
        body = json.loads(events[-1]["payload"])
        assert (body["from_state"], body["to_state"], body["trigger"]) == (
            state.value,
            dest,
            trigger.value,
        )
        assert verify(store).ok
    else:
        with pytest.raises(TransitionNotAllowed) as err:
            fire(store, case_id, step, expected_version=version)
        assert err.value.state == state.value
        assert err.value.reasons, "a refusal explains itself"
        if state in TERMINALS:
            assert "closed" in err.value.reasons[0]
        assert snapshot(store) == before


def test_every_terminal_state_has_no_way_out_only_notes() -> None:
    out_of_terminal = [p for p in CONTRACT if p[0] in TERMINALS]
    assert {t for _, t in out_of_terminal} == {T.note}
    assert all(CONTRACT[p] == p[0] for p in out_of_terminal)


# --- roles ---------------------------------------------------------------------------------
WRONG_ROLES = [
    (source, trigger, role)
    for (source, trigger) in CONTRACT
    if source in (S.draft, S.file_number_issued, S.quota_allotted, S.documents_requested)
    or trigger in (T.allot_quota, T.issue_evisa, T.pay_fee)
    for role in ALL_ROLES
    if role not in ROLES[trigger]
]


@pytest.mark.parametrize(
    ("source", "trigger", "role"),
    WRONG_ROLES,
    ids=[f"{s.value}-{t.value}-as-{r}" for s, t, r in WRONG_ROLES],
)
def test_wrong_role_is_denied_naming_allowed_roles_and_writes_nothing(
    store: Store, source: State, trigger: Trigger, role: str
) -> None:
    case_id = drive_to(store, source, mainland=mainland_for(source, trigger))
    _, version = case_state(store, case_id)
    before = snapshot(store)
    step = VALID[trigger]
    with pytest.raises(PermissionDenied) as err:
        fire(store, case_id, Step(trigger, role, step.data, step.reason), expected_version=version)
    assert err.value.allowed == sorted(ROLES[trigger])
    assert err.value.role == role
    for allowed in ROLES[trigger]:
        assert allowed in str(err.value)
    assert snapshot(store) == before


def test_unknown_role_and_trigger_are_invalid_input(store: Store) -> None:
    case_id = drive_to(store, S.draft)
    before = snapshot(store)
    with pytest.raises(InvalidInput, match="unknown role"):
        advance(case_id, "submit", "x", "janitor", store=store)
    with pytest.raises(InvalidInput, match="unknown trigger"):
        advance(case_id, "approve", "x", "applicant", store=store)
    with pytest.raises(InvalidInput, match="actor"):
        advance(case_id, "submit", "  ", "applicant", store=store)
    assert snapshot(store) == before


def test_unknown_case_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        advance(999, "submit", "x", "applicant", store=store)


# --- guards --------------------------------------------------------------------------------
def test_pay_fee_lists_wrong_amount_and_bad_method_at_once(store: Store) -> None:
    case_id = drive_to(store, S.mainland_consent)
    before = snapshot(store)
    with pytest.raises(TransitionNotAllowed) as err:
        advance(
            case_id,
            "pay_fee",
            "CHAN",
            "applicant",
            data={"amount": 100, "method": "cash"},
            store=store,
        )
    reasons = err.value.reasons
    assert len(reasons) == 2
    assert "HK$100" in reasons[0] and "HK$690" in reasons[0]  # HK$230 for each of 3 persons
    assert "'cash' is not accepted" in reasons[1]
    assert snapshot(store) == before


def test_pay_fee_before_consent_for_mainland_lists_every_reason(store: Store) -> None:
    case_id = drive_to(store, S.quota_allotted, mainland=True)
    before = snapshot(store)
    with pytest.raises(TransitionNotAllowed) as err:
        advance(case_id, "pay_fee", "CHAN", "applicant", data={"amount": 1}, store=store)
    text = " ".join(err.value.reasons)
    assert len(err.value.reasons) == 3
    assert "consent letter" in text and "HK$690" in text and "No payment method" in text
    assert snapshot(store) == before


@pytest.mark.parametrize("method", ["credit_card", "pps", "fps"])
def test_pay_fee_accepts_each_method_with_the_2023_fee(store: Store, method: str) -> None:
    case_id = drive_to(store, S.quota_allotted, mainland=False)
    done = advance(
        case_id,
        "pay_fee",
        "W",
        "system",
        data={"amount": FEE_2023, "method": method},
        store=store,
    )
    assert done.to_state == "fee_paid"


def test_consent_for_non_mainland_applicant_is_refused(store: Store) -> None:
    case_id = drive_to(store, S.quota_allotted, mainland=False)
    before = snapshot(store)
    with pytest.raises(TransitionNotAllowed) as err:
        fire(store, case_id, VALID[T.record_mainland_consent])
    assert "not a Mainland resident" in err.value.reasons[0]
    assert snapshot(store) == before


def test_request_documents_lists_every_problem(store: Store) -> None:
    case_id = drive_to(store, S.file_number_issued)
    before = snapshot(store)
    with pytest.raises(TransitionNotAllowed) as err:
        advance(
            case_id,
            "request_documents",
            "LAM",
            "caseworker",
            data={"documents": ["Police Cert"], "due": "2023-05-01"},
            store=store,
        )
    assert len(err.value.reasons) == 2
    assert "lower-case" in err.value.reasons[0] and "already past" in err.value.reasons[1]
    with pytest.raises(TransitionNotAllowed, match="at least one document"):
        advance(case_id, "request_documents", "LAM", "caseworker", data={}, store=store)
    assert snapshot(store) == before


def test_receive_documents_lists_stray_missing_and_unexplained_waivers(store: Store) -> None:
    case_id = drive_to(store, S.documents_requested)
    before = snapshot(store)
    with pytest.raises(TransitionNotAllowed) as err:
        advance(
            case_id,
            "receive_documents",
            "LAM",
            "caseworker",
            data={"received": ["photograph"], "waived": {"financial_proof": "  "}},
            store=store,
        )
    assert len(err.value.reasons) == 3
    text = " ".join(err.value.reasons)
    assert "Not requested: photograph" in text
    assert "Documents outstanding: Police certificate" in text
    assert "waiver of financial_proof needs a reason" in text
    assert snapshot(store) == before


def test_receive_documents_resolves_each_document(store: Store) -> None:
    case_id = drive_to(store, S.file_number_issued)
    fire(store, case_id, VALID[T.request_documents])
    assert count(store, document_requests, case_id) == 2
    fire(store, case_id, VALID[T.receive_documents])
    with store.read() as tx:
        statuses = {d["item"]: d["status"] for d in tx.documents(case_id)}
    assert statuses == {"police_certificate": "received", "financial_proof": "waived"}


def test_malformed_data_is_invalid_input_and_writes_nothing(store: Store) -> None:
    case_id = drive_to(store, S.mainland_consent)
    before = snapshot(store)
    with pytest.raises(InvalidInput):
        advance(case_id, "pay_fee", "C", "applicant", data={"amount": 230, "tip": 5}, store=store)
    with pytest.raises(InvalidInput):
        advance(case_id, "withdraw", "C", "applicant", data={"why": "x"}, store=store)
    with pytest.raises(InvalidInput):
        advance(case_id, "pay_fee", "C", "applicant", data={"amount": True}, store=store)
    assert snapshot(store) == before


@pytest.mark.parametrize("reason", [None, "", "   "], ids=["none", "empty", "blank"])
def test_refuse_without_reason_is_refused(store: Store, reason: str | None) -> None:
    case_id = drive_to(store, S.shortlisted)
    before = snapshot(store)
    with pytest.raises(TransitionNotAllowed) as err:
        advance(case_id, "refuse", "HO", "supervisor", reason=reason, store=store)
    assert err.value.reasons == ["A refusal needs a reason (--reason-code or --reason)."]
    assert snapshot(store) == before


@pytest.mark.parametrize("source", [S.documents_requested, S.quota_allotted, S.mainland_consent])
def test_lapse_before_the_deadline_is_refused(store: Store, source: State) -> None:
    case_id = drive_to(store, source)
    before = snapshot(store)
    with pytest.raises(TransitionNotAllowed, match="has not passed"):
        advance(case_id, "lapse", "qmas-reminders", "system", store=store)
    assert snapshot(store) == before


# --- versions ------------------------------------------------------------------------------
@pytest.mark.parametrize("offset", [-1, -2, 1], ids=["one-behind", "two-behind", "ahead"])
def test_stale_expected_version_is_conflict_and_writes_nothing(
    any_store: Store, offset: int
) -> None:
    case_id = drive_to(any_store, S.file_number_issued)
    _, version = case_state(any_store, case_id)
    before = snapshot(any_store)
    with pytest.raises(Conflict) as err:
        fire(any_store, case_id, VALID[T.shortlist], expected_version=version + offset)
    assert (err.value.expected, err.value.actual) == (version + offset, version)
    assert snapshot(any_store) == before
    assert fire(any_store, case_id, VALID[T.shortlist], expected_version=version).version == 3


def test_refusals_write_nothing_on_any_store(any_store: Store) -> None:
    case_id = drive_to(any_store, S.mainland_consent)
    before = snapshot(any_store)
    hist = count(any_store, history)
    attempts = [
        lambda: fire(any_store, case_id, VALID[T.issue_evisa]),
        lambda: fire(any_store, case_id, Step(T.pay_fee, "committee", {"amount": 230})),
        lambda: advance(case_id, "pay_fee", "C", "applicant", data={"amount": 1}, store=any_store),
        lambda: fire(any_store, case_id, VALID[T.pay_fee], expected_version=0),
    ]
    for attempt in attempts:
        with pytest.raises(QmasError):
            attempt()
    assert snapshot(any_store) == before
    assert count(any_store, history) == hist
    assert count(any_store, outbox) == hist


# --- available actions ---------------------------------------------------------------------
def _guard_blocks(state: State, trigger: Trigger, mainland: bool) -> bool:
    """Non-input guards that hold back an otherwise allowed move of a case built at FROZEN_AT."""
    if trigger is T.lapse:
        return True  # no deadline has passed on the frozen clock
    if trigger is T.record_mainland_consent:
        return not mainland
    if trigger is T.pay_fee and state is S.quota_allotted:
        return mainland
    return False


AVAILABLE = [(s, True) for s in State] + [
    (s, False) for s in (S.quota_allotted, S.fee_paid, S.evisa_issued)
]


@pytest.mark.parametrize(
    ("state", "mainland"),
    AVAILABLE,
    ids=[f"{s.value}-{'mainland' if m else 'overseas'}" for s, m in AVAILABLE],
)
def test_available_actions_lists_every_trigger_with_allowed_and_reasons(
    store: Store, state: State, mainland: bool
) -> None:
    case_id = drive_to(store, state, mainland=mainland)
    before = snapshot(store)
    for role in ALL_ROLES:
        acts = available_actions(case_id, role, store=store)
        assert [a.trigger for a in acts] == [t.value for t in Trigger]
        for a in acts:
            t = Trigger(a.trigger)
            expected = (
                (state, t) in CONTRACT
                and role in ROLES[t]
                and not _guard_blocks(state, t, mainland)
            )
            assert a.allowed is expected, (role, a)
            assert bool(a.reasons) is not a.allowed, (role, a)
            assert a.roles == sorted(ROLES[t])
            if (state, t) in CONTRACT and role not in ROLES[t]:
                assert any("allowed roles" in r for r in a.reasons)
            payload = a.to_json()
            assert {"trigger", "allowed", "reasons"} <= set(payload)
    assert snapshot(store) == before


def test_available_actions_after_the_deadline_allow_lapse(
    store: Store, frozen_clock: time_machine.Coordinates
) -> None:
    case_id = drive_to(store, S.documents_requested)
    frozen_clock.move_to(LAPSE_AT)
    acts = {a.trigger: a for a in available_actions(case_id, "system", store=store)}
    assert acts["lapse"].allowed and acts["lapse"].reasons == []
    assert not acts["receive_documents"].allowed


def test_available_actions_explain_outstanding_documents_for_shortlist(store: Store) -> None:
    case_id = drive_to(store, S.documents_requested)
    acts = {a.trigger: a for a in available_actions(case_id, "caseworker", store=store)}
    assert not acts["shortlist"].allowed
    assert acts["receive_documents"].allowed


@pytest.mark.parametrize("state", [S.evisa_issued, S.refused, S.withdrawn, S.lapsed])
def test_terminal_cases_allow_nothing_but_a_note(store: Store, state: State) -> None:
    case_id = drive_to(store, state)
    for role in ALL_ROLES:
        allowed = [a.trigger for a in available_actions(case_id, role, store=store) if a.allowed]
        assert allowed == (["note"] if role in ROLES[T.note] else []), role
