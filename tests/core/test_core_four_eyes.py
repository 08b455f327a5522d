"""Four-eyes rules (separation of duties), issue 9 section 2: who did an earlier step of a case
may not do the later one, whatever role either was done in.

From the command line (`qmas case advance|actions|preview --actor`) with the test staff, and at
the engine level on SQLite and PostgreSQL, against a table of the rules written out here from
the issue, independently of `workflows.four_eyes.RULES`. Every test runs on the frozen clock.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import time_machine

from states.errors import TransitionNotAllowed
from states.store import Store
from tests.core.clikit import Qmas, Result
from tests.core.core_lifecycle import (
    ROLES,
    VALID,
    S,
    T,
    case_state,
    fire,
    history_rows,
    new_case,
    path_to,
    snapshot,
)
from tests.factories import application
from workflows import available_actions
from workflows.engine import default_store, preview
from workflows.four_eyes import RULES, FourEyes, refusals

# (earlier, later) -> (the state where the later step is tried, the words after the name),
# from the issue: "the account that shortlisted a case may not allot its quota; the account
# that recorded the fee payment may not issue the e-Visa; an account may not refuse a case it
# shortlisted."
EXPECTED: dict[tuple[T, T], tuple[S, str]] = {
    (T.shortlist, T.allot_quota): (
        S.shortlisted,
        "shortlisted this case; another officer must allot its quota",
    ),
    (T.pay_fee, T.issue_evisa): (
        S.fee_paid,
        "recorded the fee payment; another officer must issue the e-Visa",
    ),
    (T.shortlist, T.refuse): (
        S.shortlisted,
        "shortlisted this case; another officer must refuse it",
    ),
}


def sentence(account: str, earlier: T, later: T) -> str:
    return f"Four-eyes rule: {account} {EXPECTED[(earlier, later)][1]}."


# --- the table -------------------------------------------------------------------------------
def test_the_rules_table_is_the_issues() -> None:
    got = {(r.earlier, r.later): r.sentence("officer.lam") for r in RULES}
    assert got == {pair: sentence("officer.lam", *pair) for pair in EXPECTED}
    assert len(RULES) == len(EXPECTED)


def test_the_issues_example_sentence() -> None:
    (rule,) = [r for r in RULES if r.later is T.allot_quota]
    assert rule.sentence("officer.lam") == (
        "Four-eyes rule: officer.lam shortlisted this case; another officer must allot its quota."
    )


def test_refusals_compare_accounts_exactly() -> None:
    acts = {"shortlist": frozenset({"officer.lam"})}
    assert refusals(T.allot_quota, "officer.lam", acts) == [sentence("officer.lam", T.shortlist,
                                                                     T.allot_quota)]  # fmt: skip
    assert refusals(T.allot_quota, "officer.lam2", acts) == []
    assert refusals(T.allot_quota, "Officer.Lam", acts) == []
    assert refusals(T.issue_evisa, "officer.lam", acts) == []
    assert refusals(T.allot_quota, "", acts) == []


def test_a_second_rule_on_the_same_pair_would_be_one_more_sentence() -> None:
    """The guard reads the table: a rule added there is enforced with its own words."""
    extra = FourEyes(T.shortlist, T.allot_quota, "shortlisted this case", "check it twice")
    assert extra.sentence("u") == "Four-eyes rule: u shortlisted this case; another officer " \
        "must check it twice."  # fmt: skip


# --- engine level, SQLite and PostgreSQL -------------------------------------------------------
def drive(store: Store, state: S, actors: dict[T, str]) -> int:
    """A fresh Mainland case moved to ``state``; each step by its own account unless
    ``actors`` names who does it."""
    case_id = new_case(store)
    for n, trigger in enumerate(path_to(state)):
        step = dataclasses.replace(VALID[trigger], actor=actors.get(trigger, f"officer.step{n}"))
        if trigger is T.pay_fee:  # recorded by a caseworker at the counter
            step = dataclasses.replace(step, role="caseworker")
        fire(store, case_id, step)
    return case_id


def later_step(later: T, role: str, actor: str) -> Any:
    return dataclasses.replace(VALID[later], role=role, actor=actor)


RULE_IDS = [f"{r.earlier.value}-then-{r.later.value}" for r in RULES]


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_each_rule_refuses_the_same_account_in_every_role(
    any_store: Store, frozen_clock: time_machine.Traveller, rule: FourEyes
) -> None:
    state, _ = EXPECTED[(rule.earlier, rule.later)]
    case_id = drive(any_store, state, {rule.earlier: "officer.same"})
    words = sentence("officer.same", rule.earlier, rule.later)
    before = snapshot(any_store)
    for role in sorted(ROLES[rule.later] - {"system"}):
        with pytest.raises(TransitionNotAllowed) as refused:
            fire(any_store, case_id, later_step(rule.later, role, "officer.same"))
        assert refused.value.reasons == [words]
        assert str(refused.value) == f"cannot {rule.later.value} from {state.value}: {words}"
        seen = preview(case_id, rule.later, "officer.same", role, reason=VALID[rule.later].reason,
                       store=any_store)  # fmt: skip
        assert (seen.verdict.allowed, seen.verdict.reasons) == (False, [words])
        (action,) = [
            a
            for a in available_actions(case_id, role, actor="officer.same", store=any_store)
            if a.trigger == rule.later.value
        ]
        assert (action.allowed, action.reasons) == (False, [words])
    assert snapshot(any_store) == before, "a four-eyes refusal wrote something"

    fire(any_store, case_id, later_step(rule.later, VALID[rule.later].role, "officer.other"))
    assert case_state(any_store, case_id)[0] != state.value
    actors = [(r["trigger"], r["actor"]) for r in history_rows(any_store, case_id)]
    assert (rule.earlier.value, "officer.same") in actors
    assert actors[-1] == (rule.later.value, "officer.other")


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_a_rule_binds_one_case_not_the_officer(
    any_store: Store, frozen_clock: time_machine.Traveller, rule: FourEyes
) -> None:
    """officer.same did the earlier step on another case only: this one is theirs to do."""
    state, _ = EXPECTED[(rule.earlier, rule.later)]
    drive(any_store, state, {rule.earlier: "officer.same"})
    case_id = drive(any_store, state, {rule.earlier: "officer.else"})
    fire(any_store, case_id, later_step(rule.later, VALID[rule.later].role, "officer.same"))


def test_without_an_actor_actions_name_no_four_eyes_reason(
    any_store: Store, frozen_clock: time_machine.Traveller
) -> None:
    case_id = drive(any_store, S.shortlisted, {T.shortlist: "officer.same"})
    by_trigger = {a.trigger: a for a in available_actions(case_id, "committee", store=any_store)}
    assert by_trigger["allot_quota"].allowed
    assert not any("Four-eyes" in r for a in by_trigger.values() for r in a.reasons)


def test_one_officer_may_do_every_step_no_rule_names(
    any_store: Store, frozen_clock: time_machine.Traveller
) -> None:
    """Only the table's pairs are refused: one account doing all the other steps is fine."""
    others = {T.shortlist: "officer.shortlister", T.pay_fee: "officer.cashier"}
    solo = {t: "officer.solo" for t in path_to(S.evisa_issued) if t not in others}
    case_id = drive(any_store, S.evisa_issued, {**solo, **others})
    assert case_state(any_store, case_id)[0] == "evisa_issued"


# --- from the command line -------------------------------------------------------------------
def run(qmas: Qmas, case_id: int, trigger: str, actor: str, role: str, *extra: str) -> Result:
    return qmas("case", "advance", str(case_id), trigger, "--actor", actor, "--role", role, *extra)


def moved(qmas: Qmas, case_id: int, trigger: str, actor: str, role: str, *extra: str) -> None:
    code, _, err = run(qmas, case_id, trigger, actor, role, *extra)
    assert (code, err) == (0, ""), (trigger, actor, err)


def refused_line(result: Result, code: int) -> str:
    got, out, err = result
    assert (got, out) == (code, ""), result
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def cli_case(qmas: Qmas, tmp_path: Path, to: str, **who: str) -> int:
    """A Mainland case moved with the CLI as the test staff, up to (and including) ``to``;
    ``who`` names another account for a step (its role: who[step + '_role'])."""
    path = tmp_path / "app.json"
    path.write_text(json.dumps(application()), encoding="utf-8")
    code, out, err = qmas("case", "new", str(path))
    assert (code, err) == (0, "")
    case_id = int(out)
    steps: list[tuple[str, str, str, list[str]]] = [
        ("submit", "officer.wong", "applicant", []),
        ("issue_file_number", "officer.lam", "caseworker", []),
        ("request_documents", "officer.lam", "caseworker",
         ["--data", '{"documents": ["police_certificate"]}']),
        ("receive_documents", "officer.lam", "caseworker",
         ["--data", '{"received": ["police_certificate"]}']),
        ("shortlist", "supervisor.ho", "supervisor", []),
        ("allot_quota", "committee.cheung", "committee", []),
        ("record_mainland_consent", "officer.lam", "caseworker",
         ["--data", '{"consent_letter": "SZ ref 1"}']),
        ("pay_fee", "officer.wong", "applicant", ["--data", '{"amount": 690, "method": "pps"}']),
    ]  # fmt: skip
    for trigger, actor, role, extra in steps:
        moved(qmas, case_id, trigger, who.get(trigger, actor),
              who.get(f"{trigger}_role", role), *extra)  # fmt: skip
        if trigger == to:
            return case_id
    raise AssertionError(f"no step {to}")


def actions(qmas: Qmas, case_id: int, role: str, actor: str | None) -> dict[str, Any]:
    argv = ["case", "actions", str(case_id), "--role", role, "--json"]
    if actor is not None:
        argv += ["--actor", actor]
    code, out, err = qmas(*argv)
    assert (code, err) == (0, ""), err
    return {a["trigger"]: a for a in json.loads(out)}


def preview_json(qmas: Qmas, case_id: int, trigger: str, actor: str, role: str,
                 *extra: str) -> dict[str, Any]:  # fmt: skip
    code, out, err = qmas("case", "preview", str(case_id), trigger, "--actor", actor,
                          "--role", role, "--json", *extra)  # fmt: skip
    assert (code, err) == (0, ""), err
    report: dict[str, Any] = json.loads(out)
    return report


def test_cli_the_shortlister_may_not_allot_the_quota(ready: Qmas, tmp_path: Path) -> None:
    """An account holding both roles is still one pair of eyes."""
    code, _, err = ready("user", "add", "officer.dual", "--role", "supervisor",
                         "--role", "committee")  # fmt: skip
    assert (code, err) == (0, "")
    case_id = cli_case(ready, tmp_path, "shortlist", shortlist="officer.dual")
    words = ("Four-eyes rule: officer.dual shortlisted this case; another officer must allot "
             "its quota.")  # fmt: skip
    before = snapshot(default_store())
    line = refused_line(run(ready, case_id, "allot_quota", "officer.dual", "committee"), 5)
    assert line == f"error: cannot allot_quota from shortlisted: {words}"
    assert snapshot(default_store()) == before

    assert actions(ready, case_id, "committee", "officer.dual")["allot_quota"]["reasons"] == [words]
    assert actions(ready, case_id, "committee", "officer.dual")["allot_quota"]["allowed"] is False
    assert actions(ready, case_id, "committee", "committee.cheung")["allot_quota"]["allowed"]
    assert actions(ready, case_id, "committee", None)["allot_quota"]["allowed"]
    report = preview_json(ready, case_id, "allot_quota", "officer.dual", "committee")
    assert (report["allowed"], report["reasons"]) == (False, [words])
    assert snapshot(default_store()) == before

    moved(ready, case_id, "allot_quota", "committee.cheung", "committee")


def test_cli_actions_text_shows_the_four_eyes_reason(ready: Qmas, tmp_path: Path) -> None:
    case_id = cli_case(ready, tmp_path, "shortlist")
    code, out, err = ready("case", "actions", str(case_id), "--role", "supervisor",
                           "--actor", "supervisor.ho")  # fmt: skip
    assert (code, err) == (0, "")
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if "refuse" in line and "✗" in line)
    assert lines[at + 1].strip() == (
        "Four-eyes rule: supervisor.ho shortlisted this case; another officer must refuse it."
    )


def test_cli_the_shortlister_may_not_refuse(ready: Qmas, tmp_path: Path) -> None:
    case_id = cli_case(ready, tmp_path, "shortlist")
    words = "Four-eyes rule: supervisor.ho shortlisted this case; another officer must refuse it."
    before = snapshot(default_store())
    line = refused_line(
        run(ready, case_id, "refuse", "supervisor.ho", "supervisor", "--reason", "Not selected."),
        5,
    )
    assert line == f"error: cannot refuse from shortlisted: {words}"
    assert snapshot(default_store()) == before
    report = preview_json(ready, case_id, "refuse", "supervisor.ho", "supervisor",
                          "--reason", "Not selected.")  # fmt: skip
    assert (report["allowed"], report["reasons"], report["messages"]) == (False, [words], [])
    moved(ready, case_id, "refuse", "committee.cheung", "committee", "--reason", "Not selected.")


def test_cli_a_caseworker_and_committee_member_may_not_refuse_what_they_shortlisted(
    ready: Qmas, tmp_path: Path
) -> None:
    code, _, err = ready("user", "add", "officer.dual", "--role", "caseworker",
                         "--role", "committee")  # fmt: skip
    assert (code, err) == (0, "")
    case_id = cli_case(ready, tmp_path, "shortlist", shortlist="officer.dual",
                       shortlist_role="caseworker")  # fmt: skip
    before = snapshot(default_store())
    line = refused_line(
        run(ready, case_id, "refuse", "officer.dual", "committee", "--reason", "Not selected."), 5
    )
    assert line.endswith(
        "Four-eyes rule: officer.dual shortlisted this case; another officer must refuse it."
    )
    line = refused_line(run(ready, case_id, "allot_quota", "officer.dual", "committee"), 5)
    assert "another officer must allot its quota." in line
    assert snapshot(default_store()) == before


@pytest.mark.parametrize("payer_role", ["caseworker", "applicant"])
def test_cli_who_recorded_the_fee_may_not_issue_the_evisa(
    ready: Qmas, tmp_path: Path, payer_role: str
) -> None:
    """Recorded as the applicant's own payment at the counter, or as the caseworker: the
    same officer's eyes either way."""
    case_id = cli_case(ready, tmp_path, "pay_fee", pay_fee="officer.lam",
                       pay_fee_role=payer_role)  # fmt: skip
    words = ("Four-eyes rule: officer.lam recorded the fee payment; another officer must issue "
             "the e-Visa.")  # fmt: skip
    before = snapshot(default_store())
    line = refused_line(run(ready, case_id, "issue_evisa", "officer.lam", "caseworker"), 5)
    assert line == f"error: cannot issue_evisa from fee_paid: {words}"
    assert snapshot(default_store()) == before
    acts = actions(ready, case_id, "caseworker", "officer.lam")
    assert (acts["issue_evisa"]["allowed"], acts["issue_evisa"]["reasons"]) == (False, [words])
    report = preview_json(ready, case_id, "issue_evisa", "officer.lam", "caseworker")
    assert (report["allowed"], report["reasons"]) == (False, [words])

    moved(ready, case_id, "issue_evisa", "officer.wong", "caseworker")
    code, out, _ = ready("case", "history", str(case_id), "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["trigger"], r["actor"], r["role"]) for r in rows[-2:]] == [
        ("pay_fee", "officer.lam", payer_role),
        ("issue_evisa", "officer.wong", "caseworker"),
    ]


def test_cli_a_supervisor_who_also_cashiers_may_not_issue(ready: Qmas, tmp_path: Path) -> None:
    code, _, err = ready("user", "add", "officer.dual", "--role", "caseworker",
                         "--role", "supervisor")  # fmt: skip
    assert (code, err) == (0, "")
    case_id = cli_case(ready, tmp_path, "pay_fee", pay_fee="officer.dual",
                       pay_fee_role="caseworker")  # fmt: skip
    line = refused_line(run(ready, case_id, "issue_evisa", "officer.dual", "supervisor"), 5)
    assert line.endswith("another officer must issue the e-Visa.")
    moved(ready, case_id, "issue_evisa", "supervisor.ho", "supervisor")
