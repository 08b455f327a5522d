"""Enhanced General Points Test from 1 Nov 2024 (docs/rules.md §1.3): twelve yes/no
criteria, at least 6 needed."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.rules.factories import NOTHING, born, degree, make_profile, profile_data
from workflows.rules import Assessment, assess, ruleset_by_id
from workflows.rules.enhanced import CRITERIA

ON = date(2025, 6, 2)
ENHANCED = ruleset_by_id("enhanced-2024")
# NOTHING at 51 meets no criterion: Chinese only, no degree, no work, no income.
NONE_MET: dict[str, Any] = profile_data(NOTHING)


def enhanced(*, age: int = 51, on: date = ON, **changes: Any) -> Assessment:
    return assess(
        make_profile(NONE_MET, **changes),
        date_of_birth=born(age, on),
        nationality="CN",
        on=on,
    )


def met(result: Assessment) -> set[str]:
    return {name for name, value in result.categories.items() if value}


def test_enhanced__profile_meeting_nothing_scores_0_of_12() -> None:
    result = enhanced()
    assert (result.ruleset, result.score, result.pass_mark, result.maximum) == (
        "enhanced-2024",
        0,
        6,
        12,
    )
    assert list(result.categories) == [c.name for c in CRITERIA]
    assert len(CRITERIA) == ENHANCED.maximum


def years(**values: float) -> dict[str, float]:
    return values


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"age": 50}, {"age_50_or_below"}, id="age_50_meets"),
        pytest.param({"age": 51}, set(), id="age_51_does_not"),
        pytest.param(
            {"degrees": [degree("master", eligible=True)]},
            {"eligible_masters_or_doctorate"},
            id="eligible_master_non_stem",
        ),
        pytest.param(
            {"degrees": [degree("doctorate", eligible=True, stem=True)]},
            {"eligible_masters_or_doctorate", "stem_masters_or_doctorate"},
            id="eligible_stem_doctorate_meets_both",
        ),
        pytest.param(
            {"degrees": [degree("master", eligible=False, stem=True)]},
            set(),
            id="stem_master_from_other_university_meets_neither",
        ),
        pytest.param(
            {"degrees": [degree("bachelor", eligible=True, stem=True)]},
            set(),
            id="eligible_stem_bachelor_meets_neither",
        ),
        pytest.param(
            {"degrees": [degree("master", eligible=True), degree("master", stem=True)]},
            {"eligible_masters_or_doctorate"},
            id="stem_must_be_the_same_eligible_degree",
        ),
        pytest.param(
            {"languages": {"chinese": True, "english": True, "others": 0}},
            {"two_languages", "good_english"},
            id="chinese_and_english_two_languages_and_english",
        ),
        pytest.param(
            {"languages": {"chinese": True, "english": False, "others": 1}},
            {"two_languages"},
            id="chinese_plus_other_two_languages",
        ),
        pytest.param(
            {"languages": {"chinese": False, "english": True, "others": 0}},
            {"good_english"},
            id="english_only_one_language",
        ),
        pytest.param({"work": years(graduate_years=4.9)}, set(), id="work_4.9_years_not"),
        pytest.param(
            {"work": years(graduate_years=5)}, {"graduate_work_5_years"}, id="work_5_years"
        ),
        pytest.param(
            {"work": years(graduate_years=5, multinational_years=2.9)},
            {"graduate_work_5_years"},
            id="multinational_2.9_not",
        ),
        pytest.param(
            {"work": years(graduate_years=3, multinational_years=3)},
            {"multinational_3_years"},
            id="multinational_3",
        ),
        pytest.param(
            {"work": years(graduate_years=3, specified_sector_years=2.9)},
            set(),
            id="specified_sector_2.9_not",
        ),
        pytest.param(
            {"work": years(graduate_years=3, specified_sector_years=3)},
            {"specified_sector_3_years"},
            id="specified_sector_3",
        ),
        pytest.param(
            {"work": years(graduate_years=2, international_years=1.9)},
            set(),
            id="international_1.9_not",
        ),
        pytest.param(
            {"work": years(graduate_years=2, international_years=2)},
            {"international_2_years"},
            id="international_2",
        ),
        pytest.param({"income_hkd_last_year": 999_999}, set(), id="income_999_999_not"),
        pytest.param({"income_hkd_last_year": 1_000_000}, {"income_1m"}, id="income_1m"),
        pytest.param({"business_profit_hkd": 4_999_999}, set(), id="profit_4_999_999_not"),
        pytest.param({"business_profit_hkd": 5_000_000}, {"business_profit_5m"}, id="profit_5m"),
        pytest.param({"owns_listed_company": True}, {"owns_listed_company"}, id="listed_company"),
    ],
)
def test_enhanced__criterion(changes: dict[str, Any], expected: set[str]) -> None:
    age = changes.pop("age", 51)
    assert met(enhanced(age=age, **changes)) == expected


def test_enhanced__age_50_until_the_day_before_the_51st_birthday() -> None:
    dob = date(1975, 4, 12)
    for on, meets in [(date(2026, 4, 11), True), (date(2026, 4, 12), False)]:
        result = assess(make_profile(NONE_MET), date_of_birth=dob, nationality="CN", on=on)
        assert result.categories["age_50_or_below"] == int(meets), on


SIX: dict[str, Any] = {
    "languages": {"chinese": True, "english": True, "others": 0},  # two_languages, good_english
    "work": years(graduate_years=5, multinational_years=3),  # graduate_work_5, multinational_3
    "income_hkd_last_year": 1_000_000,  # income_1m
}


@pytest.mark.parametrize(
    ("age", "score", "passed"),
    [pytest.param(51, 5, False, id="5_criteria_fail"), pytest.param(50, 6, True, id="6_pass")],
)
def test_enhanced__5_criteria_fail_6_pass(age: int, score: int, passed: bool) -> None:
    result = enhanced(age=age, **SIX)
    assert (result.score, result.passed) == (score, passed)
    expected = (
        []
        if passed
        else [
            "The applicant met 5 of the 12 criteria, below the pass mark of 6 "
            "under the enhanced General Points Test (enhanced-2024)."
        ]
    )
    assert result.reasons == expected


def test_enhanced__all_twelve_met() -> None:
    result = enhanced(
        age=35,
        degrees=[degree("doctorate", eligible=True, stem=True)],
        languages={"chinese": True, "english": True, "others": 1},
        work=years(
            graduate_years=10,
            senior_years=5,
            international_years=2,
            multinational_years=3,
            specified_sector_years=3,
        ),
        income_hkd_last_year=2_000_000,
        business_profit_hkd=5_000_000,
        owns_listed_company=True,
    )
    assert (result.score, result.passed) == (12, True)
    assert set(result.categories.values()) == {1}


@pytest.mark.parametrize(
    ("achievement", "score"),
    [
        pytest.param({"kind": "award", "description": "Olympic gold"}, 12, id="award_scores_12"),
        pytest.param(None, 0, id="none_scores_0"),
    ],
)
def test_enhanced__achievement_test_is_12_or_0(
    achievement: dict[str, str] | None, score: int
) -> None:
    result = enhanced(test="achievement", achievement=achievement)
    assert result.score == score
    assert result.categories == {"achievement": score}
