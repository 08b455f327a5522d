"""Four-eyes over HTTP, one test per rule: the account that did the earlier step is refused
the later one (422, the rule's sentence among the reasons, nothing written), its
``/actions`` shows the same sentence, and another account may do it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from states.models import history
from tests.api.apikit import FEE_2023, Api, move, new_case, problem

OTHERS = {  # who walks a case to the step before a rule's earlier step
    "applicant": "officer.wong",
    "caseworker": "officer.wong",
    "committee": "committee.cheung",
}
PAY = {"amount": FEE_2023, "method": "fps"}


@dataclass(frozen=True)
class Rule:
    before: str  # the case is moved up to this trigger first (by OTHERS)
    earlier: tuple[str, str, dict[str, Any] | None]  # trigger, role, data
    later: tuple[str, str, dict[str, Any]]  # trigger, role, extra body
    who: str  # the account that does both, and is refused the second
    roles: tuple[str, ...]  # the roles it holds
    sentence: str
    another: tuple[str, str]  # an account that may do the later step, and its role


RULES = [
    pytest.param(
        Rule(
            before="issue_file_number",
            earlier=("shortlist", "supervisor", None),
            later=("allot_quota", "committee", {}),
            who="dual.chan",
            roles=("committee", "supervisor"),
            sentence="Four-eyes rule: dual.chan shortlisted this case; another officer must "
            "allot its quota.",
            another=("committee.cheung", "committee"),
        ),
        id="shortlist-then-allot-quota",
    ),
    pytest.param(
        Rule(
            before="allot_quota",
            earlier=("pay_fee", "caseworker", PAY),
            later=("issue_evisa", "caseworker", {}),
            who="officer.lam",
            roles=("caseworker",),
            sentence="Four-eyes rule: officer.lam recorded the fee payment; another officer "
            "must issue the e-Visa.",
            another=("supervisor.ho", "supervisor"),
        ),
        id="pay-fee-then-issue-evisa",
    ),
    pytest.param(
        Rule(
            before="allot_quota",
            earlier=("pay_fee", "applicant", PAY),  # a counter payment the officer recorded
            later=("issue_evisa", "caseworker", {}),
            who="officer.lam",
            roles=("caseworker",),
            sentence="Four-eyes rule: officer.lam recorded the fee payment; another officer "
            "must issue the e-Visa.",
            another=("officer.wong", "caseworker"),
        ),
        id="pay-fee-as-applicant-then-issue-evisa",
    ),
    pytest.param(
        Rule(
            before="issue_file_number",
            earlier=("shortlist", "supervisor", None),
            later=("refuse", "supervisor", {"reason": "Not selected in this exercise."}),
            who="supervisor.ho",
            roles=("supervisor",),
            sentence="Four-eyes rule: supervisor.ho shortlisted this case; another officer "
            "must refuse it.",
            another=("committee.cheung", "committee"),
        ),
        id="shortlist-then-refuse",
    ),
]


def history_rows(api: Api, case_id: int) -> int:
    with api.store.read() as tx:
        stmt = select(func.count()).select_from(history).where(history.c.case_id == case_id)
        return int(tx.conn.execute(stmt).scalar_one())


@pytest.mark.parametrize("rule", RULES)
def test_the_account_that_did_the_earlier_step_may_not_do_the_later(api: Api, rule: Rule) -> None:
    if rule.who == "dual.chan":
        api.add_account("dual.chan", *rule.roles)
    case_id = new_case(api.store)
    move(api.store, case_id, rule.before, OTHERS)
    officer = api.as_(rule.who)

    trigger, role, data = rule.earlier
    done = officer.post(
        f"/cases/{case_id}/transitions", json={"trigger": trigger, "role": role, "data": data}
    )
    assert done.status_code == 200, done.text

    later, later_role, extra = rule.later
    body = {"trigger": later, "role": later_role, **extra}
    before = history_rows(api, case_id)
    refused = officer.post(f"/cases/{case_id}/transitions", json=body)
    assert refused.status_code == 422, refused.text
    assert rule.sentence in problem(refused)["reasons"]
    assert history_rows(api, case_id) == before

    seen = officer.post(f"/cases/{case_id}/preview", json=body).json()
    assert seen["allowed"] is False and rule.sentence in seen["reasons"]

    actions = officer.get(f"/cases/{case_id}/actions").json()
    mine = next(a for a in actions if a["trigger"] == later and a["role"] == later_role)
    assert mine["allowed"] is False
    assert rule.sentence in mine["reasons"]

    # another officer's /actions has no four-eyes sentence, and it may do the step
    account, its_role = rule.another
    theirs = api.as_(account).get(f"/cases/{case_id}/actions").json()
    action = next(a for a in theirs if a["trigger"] == later and a["role"] == its_role)
    assert action["allowed"] is True, action
    allowed = api.as_(account).post(
        f"/cases/{case_id}/transitions", json={**body, "role": its_role}
    )
    assert allowed.status_code == 200, allowed.text


def test_a_second_role_does_not_make_a_second_pair_of_eyes(api: Api) -> None:
    """The rule compares accounts, not roles: acting in another role changes nothing."""
    api.add_account("dual.chan", "supervisor", "committee")
    case_id = new_case(api.store)
    move(api.store, case_id, "issue_file_number", OTHERS)
    dual = api.as_("dual.chan")
    shortlisted = dual.post(
        f"/cases/{case_id}/transitions", json={"trigger": "shortlist", "role": "supervisor"}
    )
    assert shortlisted.status_code == 200
    for role in ("committee", "supervisor"):
        response = dual.post(
            f"/cases/{case_id}/transitions",
            json={"trigger": "refuse", "role": role, "reason": "Not selected."},
        )
        assert response.status_code == 422, response.text
        assert (
            "Four-eyes rule: dual.chan shortlisted this case; another officer must refuse it."
            in (problem(response)["reasons"])
        )
