"""`qmas assess`: an application file counts its accompanying dependants, a bare profile its own
family numbers; ``--json`` tells ``eligible`` (prerequisites, nationality and the test) from
``passed`` (the test alone), and the text says the same as the JSON.

Every run names its judging day (``--on``) or runs on a frozen clock; none reads today's date.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from console.assess import NOT_ELIGIBLE
from console.cli import main
from tests.factories import overseas_application, profile
from workflows.clock import HK

ON = "2023-06-01"  # gpt-2023; Vietnam still excluded (until 24 Oct 2023)

NOT_PASSING = {
    "degrees": [],
    "work": {"graduate_years": 1, "senior_years": 0, "international_years": 0,
             "multinational_years": 0, "specified_sector_years": 0},
}  # fmt: skip


def qmas(*argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(argv))
            code = 0
        except SystemExit as done:
            code = int(done.code or 0)
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue()


def assess_file(data: dict[str, Any], *options: str, on: str = ON) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return qmas("assess", str(path), "--on", on, *options)


def as_json(data: dict[str, Any], *options: str, on: str = ON) -> dict[str, Any]:
    code, out, err = assess_file(data, "--json", *options, on=on)
    assert (code, err) == (0, ""), err
    body: dict[str, Any] = json.loads(out)
    return body


def as_text(data: dict[str, Any], *options: str, on: str = ON) -> str:
    code, out, err = assess_file(data, *options, on=on)
    assert (code, err) == (0, ""), err
    return out


def application(**changes: Any) -> dict[str, Any]:
    """A British applicant; `dependants` and profile changes as given."""
    dependants = changes.pop("dependants", [])
    return overseas_application(dependants=False, profile=profile(**changes)) | {
        "dependants": dependants
    }


SPOUSE = {"name": "LI Mei", "relation": "spouse", "date_of_birth": "1991-02-03"}


def kid(born: str, name: str = "Kid", married: bool = False) -> dict[str, Any]:
    return {"name": name, "relation": "child", "date_of_birth": born, "married": married}


# --- family points ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dependants", "spouse_degree", "family"),
    [
        pytest.param([], True, 0, id="no_dependants_0"),
        pytest.param([SPOUSE], True, 5, id="spouse_with_degree_5"),
        pytest.param([SPOUSE], False, 0, id="spouse_without_degree_0"),
        pytest.param([kid("2015-01-01")], False, 5, id="1_child_5"),
        pytest.param([kid("2015-01-01"), kid("2010-07-07")], False, 10, id="2_children_10"),
        pytest.param([SPOUSE, kid("2005-06-01")], True, 5, id="child_18_on_lodging_day_0"),
        pytest.param([SPOUSE, kid("2005-06-02")], True, 10, id="child_17_day_before_18_5"),
        pytest.param([kid("2010-01-01", married=True)], False, 0, id="married_child_0"),
    ],
)
def test_assess_application_file__family_points_count_the_dependants(
    dependants: list[dict[str, Any]], spouse_degree: bool, family: int
) -> None:
    data = application(
        dependants=dependants,
        family={"spouse_degree": spouse_degree, "children_under_18": 2},
    )
    body = as_json(data)
    assert body["categories"]["family"] == family
    assert any("family.children_under_18 (2) is ignored" in n for n in body["notes"])


def test_assess_application_file_without_a_dependants_key__counts_no_family() -> None:
    data = application(family={"spouse_degree": True, "children_under_18": 2})
    del data["dependants"]
    assert as_json(data)["categories"]["family"] == 0


def test_assess_bare_profile__uses_the_profiles_own_family_numbers() -> None:
    bare = profile(family={"spouse_degree": True, "children_under_18": 2})
    body = as_json(bare, "--date-of-birth", "1990-04-12", "--nationality", "GB")
    assert body["categories"]["family"] == 15
    assert body["notes"] == [
        "Family points are taken from the profile as stated (a bare profile, with no "
        "dependants): family.spouse_degree true, family.children_under_18 2."
    ]


def test_assess_text__says_the_profiles_children_are_ignored_and_who_does_not_count() -> None:
    data = application(
        dependants=[SPOUSE, kid("2005-06-01", name="CHAN Siu Ming")],
        family={"spouse_degree": True, "children_under_18": 1},
    )
    out = as_text(data)
    assert (
        "Note: Family points count the accompanying dependants on 1 June 2023: a spouse with a "
        "degree; no unmarried child under 18. The profile's family.children_under_18 (1) is "
        "ignored." in out.splitlines()
    )
    assert "Note: CHAN Siu Ming is 18 on 1 June 2023, so earns no family points" in out


def test_assess_application_file__malformed_dependants_are_invalid_input() -> None:
    data = application(dependants=[{"name": "X", "relation": "cousin", "date_of_birth": "x"}])
    code, out, err = assess_file(data, "--json")
    assert code == 2 and out == ""
    assert "dependants[0].relation" in err and "dependants[0].date_of_birth" in err


def test_assess_application_file__without_a_profile_is_invalid_input() -> None:
    data = application()
    del data["profile"]
    code, out, err = assess_file(data)
    assert code == 2 and out == "" and "profile:" in err


# --- language prerequisite -------------------------------------------------------------------
def test_assess__neither_chinese_nor_english_is_not_eligible() -> None:
    data = application(languages={"chinese": False, "english": False, "others": 2})
    body = as_json(data)
    assert (body["passed"], body["eligible"]) == (True, False)
    assert body["reasons"] == [
        "The applicant's languages include neither Chinese nor English; good written and "
        "spoken Chinese (Putonghua or Cantonese) or English is a prerequisite."
    ]


# --- the 2015 table --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("on", "ruleset", "maximum"),
    [
        pytest.param("2015-05-03", "gpt-2008", 165, id="3_may_2015_gpt-2008"),
        pytest.param("2015-05-04", "gpt-2015", 195, id="4_may_2015_gpt-2015"),
    ],
)
def test_assess__the_2015_table_starts_on_4_may_2015(on: str, ruleset: str, maximum: int) -> None:
    body = as_json(application(), on=on)
    assert (body["ruleset"], body["maximum"]) == (ruleset, maximum)
    assert f"{ruleset} (general test)" in as_text(application(), on=on)


def test_assess__without_on_judges_today_in_hong_kong() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.json"
        path.write_text(json.dumps(application()), encoding="utf-8")
        with time_machine.travel(datetime(2015, 5, 3, 23, 59, tzinfo=HK), tick=False):
            before = json.loads(qmas("assess", str(path), "--json")[1])
        with time_machine.travel(datetime(2015, 5, 4, 0, 0, tzinfo=HK), tick=False):
            after = json.loads(qmas("assess", str(path), "--json")[1])
    assert (before["ruleset"], after["ruleset"]) == ("gpt-2008", "gpt-2015")


# --- eligible vs passed ----------------------------------------------------------------------
SCENARIOS = [
    pytest.param({}, {}, True, True, id="all_prerequisites_and_pass"),
    pytest.param({"nationality": "VN"}, {}, True, False, id="pass_but_excluded_nationality"),
    pytest.param({}, {"prerequisites": {"criminal_record": True}}, True, False,
                 id="pass_but_prerequisite_failing"),
    pytest.param({}, NOT_PASSING, False, False, id="fail"),
]  # fmt: skip


@pytest.mark.parametrize(("applicant", "changes", "passed", "eligible"), SCENARIOS)
def test_assess_json__eligible_vs_passed(
    applicant: dict[str, Any], changes: dict[str, Any], passed: bool, eligible: bool
) -> None:
    data = application(**changes)
    data["applicant"].update(applicant)
    body = as_json(data)
    assert (body["passed"], body["eligible"]) == (passed, eligible)
    assert bool(body["reasons"]) is not eligible
    text = as_text(data)
    assert_text_agrees(text, body)
    last_block = text.split("└")[-1]
    if eligible:
        assert "not eligible" not in text and "\neligible\n" in last_block
    else:
        assert f"\n{NOT_ELIGIBLE}{body['reasons'][0]}\n" in last_block


def test_assess_json__an_excluded_nationality_names_the_country() -> None:
    data = application()
    data["applicant"]["nationality"] = "VN"
    assert as_json(data)["reasons"] == [
        "Nationals of Vietnam may not apply under QMAS on 1 June 2023."
    ]
    assert as_json(data, on="2023-10-25")["eligible"] is True


# --- text and JSON agree ---------------------------------------------------------------------
HEADER = re.compile(
    r"^(?P<ruleset>\S+) \((?P<test>\w+) test\) on (?P<day>.+): (?P<score>\d+) / (?P<maximum>\d+), "
    r"pass mark (?P<pass_mark>\d+): points test (?P<verdict>passed|not passed)$"
)
ROW = re.compile(r"^│ (?P<name>\w+)\s+│ (?P<points>\d+)\s+│$")


def assert_text_agrees(text: str, body: dict[str, Any]) -> None:
    """Everything the text states, the JSON states the same way, and the other way round."""
    lines = text.splitlines()
    header = HEADER.match(lines[0])
    assert header, lines[0]
    assert header["ruleset"] == body["ruleset"] and header["test"] == body["test"]
    assert int(header["score"]) == body["score"]
    assert (int(header["maximum"]), int(header["pass_mark"])) == (body["maximum"],
                                                                  body["pass_mark"])  # fmt: skip
    assert (header["verdict"] == "passed") is body["passed"]
    rows = {m["name"]: int(m["points"]) for line in lines if (m := ROW.match(line))}
    assert rows == body["categories"]
    notes = [line.removeprefix("Note: ") for line in lines if line.startswith("Note: ")]
    assert notes == body["notes"]
    # The verdict closes the output: "eligible", or "not eligible: " and one reason a line.
    if body["eligible"]:
        assert lines[-1] == "eligible"
        assert not any("not eligible" in line for line in lines)
    else:
        indent = " " * len(NOT_ELIGIBLE)
        tail = lines[len(lines) - len(body["reasons"]) :]
        assert tail[0] == NOT_ELIGIBLE + body["reasons"][0]
        assert tail[1:] == [indent + r for r in body["reasons"][1:]]
        assert sum(line.startswith(NOT_ELIGIBLE) for line in lines) == 1
        assert "eligible" not in lines


bools = st.booleans()
mostly_true = st.sampled_from([True, True, True, True, False])


@st.composite
def application_files(draw: st.DrawFn) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "prerequisites": {  # mostly met, so that every verdict turns up
            "sufficient_funds": draw(mostly_true),
            "criminal_record": not draw(mostly_true),
            "adverse_immigration_record": not draw(mostly_true),
            "degree_or_exception": draw(mostly_true),
        },
        "languages": {"chinese": draw(bools), "english": draw(mostly_true),
                      "others": draw(st.integers(0, 2))},
        "family": {"spouse_degree": draw(bools), "children_under_18": draw(st.integers(0, 3)),
                   "hk_permanent_resident_family": draw(bools)},
        "talent_list": draw(bools),
    }  # fmt: skip
    if not draw(mostly_true):
        changes.update(NOT_PASSING)
    if not draw(mostly_true):
        changes["test"] = "achievement"
        changes["achievement"] = draw(
            st.sampled_from([None, {"kind": "award", "description": "A medal"}])
        )
    dependants = []
    if draw(bools):
        dependants.append(SPOUSE)
    for days in draw(st.lists(st.integers(0, 25 * 365), max_size=3)):
        born = date(2023, 6, 1) - timedelta(days=days)
        dependants.append(kid(born.isoformat(), married=draw(bools)))
    data = application(dependants=dependants, **changes)
    data["applicant"]["nationality"] = draw(st.sampled_from(["GB", "CN", "IN", "GB", "VN", "KP"]))
    data["applicant"]["date_of_birth"] = draw(
        st.sampled_from(["1990-04-12", "1984-02-29", "1970-01-01", "2005-06-01"])
    )
    return data


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=application_files(),
    on=st.sampled_from(["2015-05-03", "2015-05-04", "2020-01-01", ON, "2023-10-25"]),
    bare=bools,
)
def test_property__text_and_json_never_disagree(data: dict[str, Any], on: str, bare: bool) -> None:
    if bare:  # the same answers as a bare profile, judged with its own family numbers
        who = data["applicant"]
        options = ("--date-of-birth", who["date_of_birth"], "--nationality", who["nationality"])
        data = data["profile"]
    else:
        options = ()
    body = as_json(data, *options, on=on)
    event(f"passed={body['passed']} eligible={body['eligible']}")
    assert body["eligible"] is (body["passed"] and not body["reasons"])
    assert_text_agrees(as_text(data, *options, on=on), body)
