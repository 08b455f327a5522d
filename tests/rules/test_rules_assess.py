"""`assess`: prerequisites, excluded nationalities, the achievement test, and every reason
returned at once (docs/rules.md §2, §5, §1.4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from states.errors import InvalidInput
from tests.rules.factories import EXAMPLE, born, make_profile, profile_data
from workflows.rules import assess, ruleset_by_id
from workflows.rules.dates import age_on
from workflows.rules.rulesets import ENHANCED_2024

ON = date(2024, 3, 1)  # gpt-2023
DOB = date(1985, 6, 1)


def reasons(data: dict[str, Any], *, on: date = ON, nationality: str = "CN") -> list[str]:
    return assess(data, date_of_birth=DOB, nationality=nationality, on=on).reasons


def test_assess__example_profile_is_eligible() -> None:
    result = assess(EXAMPLE, date_of_birth=DOB, nationality="CN", on=ON)
    assert result.ruleset == "gpt-2023"
    assert result.reasons == []
    assert result.passed and result.eligible


def test_assess__to_json_is_plain_data() -> None:
    result = assess(EXAMPLE, date_of_birth=DOB, nationality="CN", on=ON)
    assert result.to_json() == {
        "ruleset": "gpt-2023",
        "test": "general",
        "score": 185,
        "pass_mark": 80,
        "maximum": 245,
        "passed": True,
        "eligible": True,
        "categories": {
            "age": 30,
            "education": 50,
            "work": 75,
            "talent_list": 0,
            "language": 20,
            "family": 10,
        },
        "reasons": [],
        "notes": [
            "Family points are taken from the profile as stated (a bare profile, with no "
            "dependants): family.spouse_degree true, family.children_under_18 1."
        ],
    }


@pytest.mark.parametrize(
    ("dob", "on", "age"),
    [
        pytest.param(date(1990, 4, 12), date(2026, 4, 11), 35, id="day_before_birthday_35"),
        pytest.param(date(1990, 4, 12), date(2026, 4, 12), 36, id="on_birthday_36"),
        pytest.param(date(2000, 2, 29), date(2023, 2, 28), 22, id="leap_day_born_feb_28_22"),
        pytest.param(date(2000, 2, 29), date(2023, 3, 1), 23, id="leap_day_born_mar_1_23"),
        pytest.param(date(2000, 2, 29), date(2024, 2, 29), 24, id="leap_day_born_feb_29_24"),
    ],
)
def test_age__whole_years_birthday_counts(dob: date, on: date, age: int) -> None:
    assert age_on(dob, on) == age


@pytest.mark.parametrize(
    ("on", "refused"),
    [
        pytest.param(date(2026, 4, 11), True, id="17_day_before_18th_birthday_refused"),
        pytest.param(date(2026, 4, 12), False, id="18_on_birthday_accepted"),
    ],
)
def test_prerequisite__age_18(on: date, refused: bool) -> None:
    result = assess(EXAMPLE, date_of_birth=date(2008, 4, 12), nationality="CN", on=on)
    expected = (
        [
            "The applicant is 17 on 11 April 2026; applicants must be 18 or over when the "
            "application is lodged."
        ]
        if refused
        else []
    )
    assert result.reasons == expected


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        pytest.param("sufficient_funds", False, "support and accommodate", id="no_funds"),
        pytest.param("criminal_record", True, "criminal record", id="criminal_record"),
        pytest.param(
            "adverse_immigration_record", True, "adverse immigration record", id="adverse_record"
        ),
        pytest.param("degree_or_exception", False, "no first degree", id="no_degree"),
    ],
)
def test_prerequisite__unmet_is_a_reason(field: str, value: bool, fragment: str) -> None:
    result = reasons(profile_data(prerequisites={field: value}))
    assert len(result) == 1
    assert fragment in result[0]


NO_CHINESE_NOR_ENGLISH = {"chinese": False, "english": False, "others": 2}


def test_prerequisite__language_not_required_under_enhanced_2024() -> None:
    data = profile_data(languages=NO_CHINESE_NOR_ENGLISH)
    assert reasons(data, on=date(2025, 1, 2)) == []


def test_prerequisite__language_flag_is_data() -> None:
    data = profile_data(languages=NO_CHINESE_NOR_ENGLISH)
    strict = replace(ENHANCED_2024, language_is_prerequisite=True)
    result = assess(data, date_of_birth=DOB, nationality="CN", on=date(2025, 1, 2), ruleset=strict)
    assert len(result.reasons) == 1 and "Chinese" in result.reasons[0]


def test_prerequisite__every_unmet_one_is_listed() -> None:
    data = profile_data(
        prerequisites={
            "sufficient_funds": False,
            "criminal_record": True,
            "adverse_immigration_record": True,
            "degree_or_exception": False,
        },
        languages=NO_CHINESE_NOR_ENGLISH,
    )
    assert len(reasons(data)) == 5


@pytest.mark.parametrize(
    ("on", "nationality", "excluded"),
    [
        pytest.param(date(2023, 10, 24), "VN", True, id="vietnam_24_oct_2023_excluded"),
        pytest.param(date(2023, 10, 25), "VN", False, id="vietnam_25_oct_2023_allowed"),
        pytest.param(date(2023, 10, 24), "la", True, id="laos_lower_case_code_excluded"),
        pytest.param(date(2025, 1, 2), "KP", True, id="north_korea_always_excluded"),
    ],
)
def test_assess__excluded_nationality_is_a_reason(
    on: date, nationality: str, excluded: bool
) -> None:
    result = reasons(EXAMPLE, on=on, nationality=nationality)
    assert bool(result) is excluded


def test_assess__excluded_nationality_reason_names_the_country() -> None:
    assert reasons(EXAMPLE, on=date(2023, 10, 24), nationality="VN") == [
        "Nationals of Vietnam may not apply under QMAS on 24 October 2023."
    ]


def test_assess__returns_all_reasons_at_once() -> None:
    data = profile_data(
        prerequisites={"criminal_record": True},
        degrees=[],
        work={
            "graduate_years": 1,
            "senior_years": 0,
            "international_years": 0,
            "multinational_years": 0,
        },
    )
    result = assess(data, date_of_birth=born(52, ON), nationality="VN", on=date(2023, 10, 24))
    assert result.score == 30  # 0 + 0 + 0 + 0 + 20 language + 10 family
    assert result.reasons == [
        "The applicant has a criminal record, so the good character prerequisite is unmet.",
        "Nationals of Vietnam may not apply under QMAS on 24 October 2023.",
        "The applicant scored 30 points, below the pass mark of 80 "
        "under the General Points Test (gpt-2023).",
    ]
    assert not result.passed


@pytest.mark.parametrize(
    ("on", "score"),
    [
        pytest.param(date(2010, 1, 1), 165, id="gpt2008_165"),
        pytest.param(date(2016, 1, 1), 195, id="gpt2015_195"),
        pytest.param(date(2020, 1, 1), 225, id="gpt2018_225"),
        pytest.param(date(2024, 1, 1), 245, id="gpt2023_245"),
        pytest.param(date(2025, 1, 1), 12, id="enhanced2024_12"),
    ],
)
def test_achievement_test__scores_the_era_maximum(on: date, score: int) -> None:
    data = profile_data(
        test="achievement", achievement={"kind": "peer_recognition", "description": "Lifetime"}
    )
    result = assess(data, date_of_birth=DOB, nationality="CN", on=on)
    assert (result.score, result.maximum, result.passed, result.reasons) == (
        score,
        score,
        True,
        [],
    )


def test_achievement_test__without_achievement_scores_0_and_is_refused_at_once() -> None:
    result = assess(profile_data(test="achievement"), date_of_birth=DOB, nationality="CN", on=ON)
    assert (result.score, result.passed, result.categories) == (0, False, {"achievement": 0})
    assert result.reasons == [
        "No exceptional achievement (an award or recognition by peers) was shown, so the "
        "Achievement-based Points Test (gpt-2023) scores 0 and the application is refused at "
        "once."
    ]


def test_assess__explicit_ruleset_overrides_the_date() -> None:
    result = assess(
        EXAMPLE, date_of_birth=DOB, nationality="CN", on=ON, ruleset=ruleset_by_id("gpt-2018")
    )
    assert (result.ruleset, result.maximum) == ("gpt-2018", 225)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"nationality": "Vietnam"}, "ISO 3166-1 alpha-2", id="nationality_not_a_code"),
        pytest.param({"date_of_birth": date(2030, 1, 1)}, "is after", id="born_after_lodging"),
        pytest.param({"on": date(2007, 1, 1)}, "no rule set covers", id="before_first_ruleset"),
    ],
)
def test_assess__bad_arguments_are_invalid_input(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"date_of_birth": DOB, "nationality": "CN", "on": ON, **kwargs}
    with pytest.raises(InvalidInput, match=message):
        assess(EXAMPLE, **arguments)


def test_assess__invalid_profile_dict_raises_invalid_profile() -> None:
    with pytest.raises(InvalidInput, match="invalid profile"):
        assess(profile_data(talent_list="yes"), date_of_birth=DOB, nationality="CN", on=ON)


def test_assess__accepts_a_validated_profile() -> None:
    result = assess(make_profile(), date_of_birth=DOB, nationality="CN", on=ON)
    assert result.reasons == []


@pytest.mark.parametrize(
    ("on", "ruleset", "maximum"),
    [
        pytest.param(date(2015, 5, 3), "gpt-2008", 165, id="3_may_2015_gpt-2008"),
        pytest.param(date(2015, 5, 4), "gpt-2015", 195, id="4_may_2015_gpt-2015"),
    ],
)
def test_assess__the_2015_table_starts_on_4_may_2015(on: date, ruleset: str, maximum: int) -> None:
    result = assess(EXAMPLE, date_of_birth=DOB, nationality="CN", on=on)
    assert (result.ruleset, result.maximum) == (ruleset, maximum)


@pytest.mark.parametrize(
    ("changes", "nationality", "passed", "eligible"),
    [
        pytest.param({}, "CN", True, True, id="all_prerequisites_and_pass"),
        pytest.param({}, "KP", True, False, id="pass_but_excluded_nationality"),
        pytest.param(
            {"prerequisites": {"sufficient_funds": False}}, "CN", True, False,
            id="pass_but_prerequisite_failing",
        ),
        pytest.param({"degrees": [], "work": {"graduate_years": 0, "senior_years": 0,
                      "international_years": 0, "multinational_years": 0}},
                     "CN", False, False, id="fail"),
    ],
)  # fmt: skip
def test_assess__eligible_is_prerequisites_nationality_and_pass(
    changes: dict[str, Any], nationality: str, passed: bool, eligible: bool
) -> None:
    result = assess(profile_data(**changes), date_of_birth=DOB, nationality=nationality, on=ON)
    body = result.to_json()
    assert (body["passed"], body["eligible"]) == (passed, eligible)
    assert (result.passed, result.eligible) == (passed, eligible)
    assert bool(body["reasons"]) is not eligible
