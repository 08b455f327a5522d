"""Eligibility at submit, through the Python API and the CLI (issue: dated rule sets).

A refused submit lists every failed rule at once and writes nothing; an accepted one stores
the rule set, score, pass mark and breakdown; the fee due follows the schedule in force on the
day of quota allotment.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine

from console.cli import main
from states.errors import TransitionNotAllowed
from states.store import Store
from tests.core.core_lifecycle import snapshot
from tests.factories import ACTOR_FOR, add_staff, overseas_application, profile
from workflows import advance, create_case
from workflows.clock import HK
from workflows.engine import default_store
from workflows.views import case_view

AT = datetime(2023, 6, 1, 10, 0, tzinfo=HK)


def _ineligible() -> dict[str, Any]:
    """Vietnamese (excluded before 25 Oct 2023), a criminal record, and a low score."""
    weak = profile(
        prerequisites={"criminal_record": True},
        degrees=[{"level": "bachelor", "renowned_institution": False,
                  "eligible_university": False, "stem": False}],
        work={"graduate_years": 2, "senior_years": 0, "international_years": 0,
              "multinational_years": 0},
        languages={"chinese": False, "english": True, "others": 0},
        family={"spouse_degree": False, "children_under_18": 0},
    )  # fmt: skip
    return overseas_application(nationality="VN", profile=weak)


def test_submit_refused__lists_every_failed_rule_at_once_and_writes_nothing(store: Store) -> None:
    with time_machine.travel(AT, tick=False):
        case_id = create_case(_ineligible(), store=store)
        before = snapshot(store)
        with pytest.raises(TransitionNotAllowed) as refused:
            advance(case_id, "submit", "Applicant", "applicant", store=store)
    reasons = " ".join(refused.value.reasons)
    assert "Vietnam" in reasons
    assert "criminal record" in reasons.lower()
    assert "below the pass mark of 80" in reasons
    assert len(refused.value.reasons) >= 3
    assert snapshot(store) == before


def test_submit_after_the_nationality_rule_changed__is_accepted(store: Store) -> None:
    """The same Vietnamese applicant, eligible on 25 Oct 2023 when the exclusion ended."""
    app = overseas_application(nationality="VN")
    with time_machine.travel(AT, tick=False):
        case_id = create_case(app, store=store)
        with pytest.raises(TransitionNotAllowed, match="Vietnam"):
            advance(case_id, "submit", "A", "applicant", store=store)
    with time_machine.travel(datetime(2023, 10, 25, 9, 0, tzinfo=HK), tick=False):
        advance(case_id, "submit", "A", "applicant", store=store)
    assert case_view(case_id, store=store)["state"] == "submitted"


def test_submit__stores_ruleset_score_pass_mark_and_breakdown(store: Store) -> None:
    with time_machine.travel(AT, tick=False):
        case_id = create_case(overseas_application(), store=store)
        advance(case_id, "submit", "A", "applicant", store=store, data={"lodged_on": "2022-12-30"},
                note="A paper file lodged at the counter.")  # fmt: skip
    view = case_view(case_id, store=store)
    assert (view["ruleset"], view["pass_mark"], view["passed"]) == ("gpt-2018", 80, True)
    assert view["lodged_on"] == "2022-12-30"
    assert set(view["categories"]) == {"age", "education", "work", "talent_list", "language",
                                       "family"}  # fmt: skip
    assert view["score"] == sum(view["categories"].values())


def test_a_second_live_application_of_the_same_person__is_refused(store: Store) -> None:
    app = overseas_application(travel_document="P1234567")
    with time_machine.travel(AT, tick=False):
        first = create_case(app, store=store)
        advance(first, "submit", "A", "applicant", store=store)
        second = create_case(app, store=store)
        with pytest.raises(TransitionNotAllowed, match="already has a live application"):
            advance(second, "submit", "A", "applicant", store=store)
        advance(first, "withdraw", "A", "applicant", store=store)
        advance(second, "submit", "A", "applicant", store=store)  # the first is no longer live
    # masked: of an eight-character number, half at most is shown (workflows.privacy)
    assert case_view(second, store=store)["applicant"]["travel_document_number"] == "P1****67"


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("p1234567", id="lower-case"),
        pytest.param("P 1234 567", id="spaces"),
        pytest.param("P-1234-567", id="dashes"),
        pytest.param("Ｐ１２３４５６７", id="full-width"),
        pytest.param("P1234567\u200b", id="zero-width-space"),
        pytest.param("P1234567\u3000", id="ideographic-space"),
    ],
)
def test_a_second_live_application__is_refused_however_the_number_is_typed(
    store: Store, typed: str
) -> None:
    """The rule compares numbers: one document typed two ways is still one person."""
    with time_machine.travel(AT, tick=False):
        first = create_case(overseas_application(travel_document="P1234567"), store=store)
        advance(first, "submit", "A", "applicant", store=store)
        second = create_case(overseas_application(travel_document=typed), store=store)
        with pytest.raises(TransitionNotAllowed, match="already has a live application"):
            advance(second, "submit", "A", "applicant", store=store)
    with store.read() as tx:
        assert tx.load_case(second).travel_document_number == "P1234567"


@pytest.mark.parametrize(
    "typed", ["Q12\n34571", "K1234567(8)", "P12", "É1234567", "P1234567\x1b[2J", "x" * 21]
)
def test_a_travel_document_number_that_is_not_letters_and_digits__is_refused(
    store: Store, typed: str
) -> None:
    from states.errors import InvalidInput

    with pytest.raises(InvalidInput, match="travel_document_number"):
        create_case(overseas_application(travel_document=typed), store=store)


@pytest.mark.parametrize(
    ("allotted_at", "fee"),
    [
        pytest.param(datetime(2025, 2, 26, 10, 59, tzinfo=HK), 230, id="26-feb-2025-10:59-HK$230"),
        pytest.param(datetime(2025, 2, 26, 11, 0, tzinfo=HK), 1300, id="26-feb-2025-11:00-HK$1300"),
    ],
)
def test_fee_due__is_the_schedule_in_force_when_the_quota_is_allotted(
    store: Store, allotted_at: datetime, fee: int
) -> None:
    with time_machine.travel(AT, tick=False):  # no dependant: the fee of one person
        case_id = create_case(overseas_application(dependants=False), store=store)
        for trigger, role in (("submit", "applicant"), ("issue_file_number", "system"),
                              ("shortlist", "supervisor")):  # fmt: skip
            advance(case_id, trigger, "A", role, store=store)
    with time_machine.travel(allotted_at, tick=False):
        advance(case_id, "allot_quota", "Committee", "committee", store=store)
        assert case_view(case_id, store=store)["fee_due"] == fee
        wrong = 230 if fee != 230 else 1300
        with pytest.raises(TransitionNotAllowed, match=f"the fee due, HK\\${fee:,}"):
            advance(case_id, "pay_fee", "A", "applicant", store=store,
                    data={"amount": wrong, "method": "fps"})  # fmt: skip
        advance(case_id, "pay_fee", "A", "applicant", store=store,
                data={"amount": fee, "method": "fps"})  # fmt: skip
    assert case_view(case_id, store=store)["state"] == "fee_paid"


@pytest.fixture
def cli_db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("QMAS_DATABASE_URL", sqlite_url)
    default_store.cache_clear()
    default_store().init()
    add_staff(default_store())
    yield default_store()
    default_store.cache_clear()


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def test_cli_submit_refused__one_line_with_all_reasons_and_nothing_written(
    cli_db: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(_ineligible()))
    with time_machine.travel(AT, tick=False):
        code, out, _ = _cli(capsys, "case", "new", str(path))
        case_id = out.strip()
        before = snapshot(cli_db)
        code, out, err = _cli(capsys, "case", "advance", case_id, "submit",
                              "--actor", ACTOR_FOR["applicant"], "--role", "applicant")  # fmt: skip
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "Vietnam" in err and "pass mark" in err and "criminal record" in err.lower()
    assert snapshot(cli_db) == before


def test_cli_assess__json_shape_and_enhanced_criteria(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(overseas_application()))
    code, out, _ = _cli(capsys, "assess", str(path), "--on", "2023-06-01", "--json")
    body = json.loads(out)
    assert code == 0
    assert set(body) >= {"ruleset", "test", "score", "pass_mark", "passed", "categories", "reasons"}
    assert (body["ruleset"], body["pass_mark"], body["passed"]) == ("gpt-2023", 80, True)
    code, out, _ = _cli(capsys, "assess", str(path), "--on", "2024-11-01", "--json")
    body = json.loads(out)
    assert (body["ruleset"], body["pass_mark"]) == ("enhanced-2024", 6)
    assert len(body["categories"]) == 12 and body["score"] == sum(body["categories"].values())


def test_case_show_as_of__gives_the_state_at_a_past_date_from_the_history(
    cli_db: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with time_machine.travel(datetime(2023, 3, 1, 9, 0, tzinfo=HK), tick=False):
        case_id = create_case(overseas_application(), store=cli_db)
        advance(case_id, "submit", "A", "applicant", store=cli_db)
    with time_machine.travel(datetime(2023, 4, 3, 9, 0, tzinfo=HK), tick=False):
        advance(case_id, "issue_file_number", "intake", "system", store=cli_db)
    asked = {"2023-03-15": ("submitted", 1), "2023-04-03": ("file_number_issued", 2)}
    for day, (state, version) in asked.items():
        code, out, _ = _cli(capsys, "case", "show", str(case_id), "--as-of", day, "--json")
        past = json.loads(out)
        assert code == 0 and (past["state"], past["version"]) == (state, version), day
    code, _, err = _cli(capsys, "case", "show", str(case_id), "--as-of", "2023-02-01")
    assert code == 2 and "did not exist yet" in err
    code, _, err = _cli(capsys, "case", "show", str(case_id), "--as-of", "yesterday")
    assert code == 2 and "is not a date" in err


def test_cli_assess_bare_profile__needs_birth_date_and_nationality_then_judges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile()))
    code, out, err = _cli(capsys, "assess", str(path), "--on", "2023-06-01")
    assert code == 2 and out == ""
    assert "--date-of-birth" in err and "--nationality" in err and "Traceback" not in err
    code, out, _ = _cli(capsys, "assess", str(path), "--on", "2023-06-01", "--json",
                        "--date-of-birth", "1990-04-12", "--nationality", "CN")  # fmt: skip
    body = json.loads(out)
    assert code == 0 and (body["score"], body["passed"]) == (185, True)


def test_invalid_application__every_problem_in_one_go_and_nothing_written(store: Store) -> None:
    """Applicant, profile and family problems are all reported together; "yes" is no boolean."""
    from states.errors import InvalidInput

    app = overseas_application()
    app["applicant"]["mainland_resident"] = "yes"
    app["applicant"]["email"] = "nope"
    app["profile"]["work"]["senior_years"] = 40
    app["dependants"] = [{"name": "Kid", "relation": "child", "date_of_birth": "2001-01-01"}]
    before = snapshot(store)
    with time_machine.travel(AT, tick=False), pytest.raises(InvalidInput) as bad:
        create_case(app, store=store)
    problems = "\n".join(bad.value.errors)
    assert "applicant.mainland_resident" in problems
    assert "applicant.email" in problems
    assert "profile.work.senior_years" in problems
    assert "Kid is 22; a child dependant must be under 18" in problems
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "name",
    ["Victim\nBcc: attacker@evil.example", "A\u2028B", "A\u2029B", "A\U000e0041B", "A\u202eB"],
)
@pytest.mark.parametrize("who", ["applicant", "representative", "dependant"])
def test_a_name_is_one_line_of_visible_text(store: Store, name: str, who: str) -> None:
    """A line feed in a name split the letter's greeting ("Dear Victim / Bcc: ...")."""
    from states.errors import InvalidInput
    from tests.factories import application

    data = application()
    if who == "applicant":
        data["applicant"]["name"] = name
    elif who == "representative":
        data["applicant"]["representative"]["name"] = name
    else:
        data["dependants"][0]["name"] = name
    with pytest.raises(InvalidInput, match="a name is one line of visible text"):
        create_case(data, store=store)
