"""General Points Test tables (docs/rules.md §1.2, Versions B–E): every boundary of every
category."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.rules.factories import NOTHING, born, degree, make_profile
from workflows.rules import Assessment, assess, ruleset_by_id
from workflows.rules.rulesets import GPT_2023, POINTS_2023


def gpt(ruleset_id: str = "gpt-2023", *, age: int = 30, **changes: Any) -> Assessment:
    """Assess a profile that scores nothing except `changes`, on the rule set's first day."""
    rules = ruleset_by_id(ruleset_id)
    return assess(
        make_profile(NOTHING, **changes),
        date_of_birth=born(age, rules.starts),
        nationality="CN",
        on=rules.starts,
        ruleset=rules,
    )


def work(
    graduate: float, senior: float = 0, international: float = 0, multinational: float = 0
) -> dict[str, float]:
    return {
        "graduate_years": graduate,
        "senior_years": senior,
        "international_years": international,
        "multinational_years": multinational,
    }


@pytest.mark.parametrize(
    ("age", "points"),
    [
        pytest.param(17, 0, id="17_scores_0"),
        pytest.param(18, 30, id="18_scores_30"),
        pytest.param(39, 30, id="39_scores_30"),
        pytest.param(40, 20, id="40_scores_20"),
        pytest.param(44, 20, id="44_scores_20"),
        pytest.param(45, 15, id="45_scores_15"),
        pytest.param(50, 15, id="50_scores_15"),
        pytest.param(51, 0, id="51_scores_0"),
        pytest.param(80, 0, id="80_scores_0"),
    ],
)
@pytest.mark.parametrize("ruleset_id", ["gpt-2008", "gpt-2015", "gpt-2018", "gpt-2023"])
def test_gpt__age(ruleset_id: str, age: int, points: int) -> None:
    assert gpt(ruleset_id, age=age).categories["age"] == points


def test_gpt2023__age_45_scores_15() -> None:
    assert gpt(age=45).categories["age"] == 15


EDUCATION_2015_ON = [
    pytest.param([], 0, id="no_degree_scores_0"),
    pytest.param([degree("professional")], 10, id="professional_scores_10"),
    pytest.param([degree("bachelor")], 10, id="bachelor_scores_10"),
    pytest.param([degree("bachelor"), degree("bachelor")], 20, id="2_bachelors_score_20"),
    pytest.param([degree("bachelor"), degree("professional")], 10, id="bachelor_and_prof_10"),
    pytest.param([degree("master")], 20, id="1_master_scores_20"),
    pytest.param([degree("master"), degree("bachelor")], 20, id="master_and_bachelor_20"),
    pytest.param([degree("master"), degree("master")], 40, id="2_masters_score_40"),
    pytest.param([degree("doctorate")], 40, id="doctorate_scores_40"),
    pytest.param([degree("doctorate"), degree("doctorate")], 40, id="2_doctorates_still_40"),
    pytest.param([degree("bachelor", renowned=True)], 40, id="renowned_bachelor_10_plus_30"),
    pytest.param([degree("master", renowned=True)], 50, id="renowned_master_20_plus_30"),
    pytest.param([degree("doctorate", renowned=True)], 70, id="renowned_doctorate_is_max_70"),
    pytest.param(
        [degree("doctorate", renowned=True), degree("master", renowned=True)],
        70,
        id="renowned_bonus_counted_once",
    ),
    pytest.param([degree("professional", renowned=True)], 10, id="renowned_professional_no_bonus"),
]


@pytest.mark.parametrize(("degrees", "points"), EDUCATION_2015_ON)
@pytest.mark.parametrize("ruleset_id", ["gpt-2015", "gpt-2018", "gpt-2023"])
def test_gpt__education(ruleset_id: str, degrees: list[dict[str, Any]], points: int) -> None:
    assert gpt(ruleset_id, degrees=degrees).categories["education"] == points


@pytest.mark.parametrize(
    ("degrees", "points"),
    [
        pytest.param([], 0, id="no_degree_scores_0"),
        pytest.param([degree("professional")], 30, id="professional_scores_30"),
        pytest.param([degree("bachelor")], 30, id="bachelor_scores_30"),
        pytest.param([degree("bachelor"), degree("bachelor")], 35, id="2_bachelors_score_35"),
        pytest.param([degree("master")], 35, id="master_scores_35"),
        pytest.param([degree("master"), degree("master")], 40, id="2_masters_score_40"),
        pytest.param([degree("doctorate")], 40, id="doctorate_scores_40"),
        pytest.param([degree("doctorate"), degree("doctorate")], 45, id="2_doctorates_score_45"),
        pytest.param([degree("master", renowned=True)], 35, id="no_renowned_bonus_before_2015"),
    ],
)
def test_gpt2008__education(degrees: list[dict[str, Any]], points: int) -> None:
    assert gpt("gpt-2008", degrees=degrees).categories["education"] == points


WORK_2023 = [
    pytest.param(work(1.9), 0, id="1.9_years_scores_0"),
    pytest.param(work(2), 5, id="2_years_scores_5"),
    pytest.param(work(4.9, senior=4.9), 5, id="4.9_years_scores_5"),
    pytest.param(work(5), 15, id="5_years_scores_15"),
    pytest.param(work(5, senior=1.9), 15, id="5_years_senior_1.9_scores_15"),
    pytest.param(work(5, senior=2), 30, id="5_years_senior_2_scores_30"),
    pytest.param(work(9.9, senior=5), 30, id="9.9_years_senior_5_scores_30"),
    pytest.param(work(10, senior=4.9), 30, id="10_years_senior_4.9_scores_30"),
    pytest.param(work(10, senior=5), 40, id="10_years_senior_5_scores_40"),
    pytest.param(work(10, senior=5, international=1.9), 40, id="international_1.9_no_bonus"),
    pytest.param(work(10, senior=5, international=2), 55, id="international_2_adds_15"),
    pytest.param(work(10, senior=5, multinational=2.9), 40, id="multinational_2.9_no_bonus"),
    pytest.param(work(10, senior=5, multinational=3), 60, id="multinational_3_adds_20"),
    pytest.param(work(3, international=2, multinational=3), 40, id="bonuses_on_2_years_5_15_20"),
    pytest.param(work(10, senior=5, international=2, multinational=3), 75, id="max_75"),
]


@pytest.mark.parametrize(("years", "points"), WORK_2023)
def test_gpt2023__work(years: dict[str, float], points: int) -> None:
    assert gpt("gpt-2023", work=years).categories["work"] == points


@pytest.mark.parametrize(
    ("years", "points"),
    [
        pytest.param(work(10, senior=5, multinational=3), 40, id="no_multinational_bonus"),
        pytest.param(work(10, senior=5, international=2, multinational=3), 55, id="max_55"),
    ],
)
@pytest.mark.parametrize("ruleset_id", ["gpt-2015", "gpt-2018"])
def test_gpt_before_2023__work(ruleset_id: str, years: dict[str, float], points: int) -> None:
    assert gpt(ruleset_id, work=years).categories["work"] == points


@pytest.mark.parametrize(
    ("years", "points"),
    [
        pytest.param(work(1.9), 0, id="1.9_years_scores_0"),
        pytest.param(work(2), 10, id="2_years_scores_10"),
        pytest.param(work(5), 30, id="5_years_scores_30"),
        pytest.param(work(5, senior=2), 40, id="5_years_senior_2_scores_40"),
        pytest.param(work(10, senior=5, international=2), 50, id="no_international_bonus_max_50"),
    ],
)
def test_gpt2008__work(years: dict[str, float], points: int) -> None:
    assert gpt("gpt-2008", work=years).categories["work"] == points


@pytest.mark.parametrize(
    ("ruleset_id", "points"),
    [
        pytest.param("gpt-2008", 0, id="gpt2008_no_talent_list"),
        pytest.param("gpt-2015", 0, id="gpt2015_no_talent_list"),
        pytest.param("gpt-2018", 30, id="gpt2018_talent_list_30"),
        pytest.param("gpt-2023", 30, id="gpt2023_talent_list_30"),
    ],
)
def test_gpt__talent_list(ruleset_id: str, points: int) -> None:
    assert gpt(ruleset_id, talent_list=True).categories["talent_list"] == points
    assert gpt(ruleset_id, talent_list=False).categories["talent_list"] == 0


@pytest.mark.parametrize(
    ("chinese", "english", "others", "points"),
    [
        pytest.param(True, True, 0, 20, id="chinese_and_english_20"),
        pytest.param(True, True, 3, 20, id="chinese_english_and_others_still_20"),
        pytest.param(True, False, 1, 15, id="chinese_plus_other_15"),
        pytest.param(False, True, 1, 15, id="english_plus_other_15"),
        pytest.param(True, False, 0, 10, id="chinese_only_10"),
        pytest.param(False, True, 0, 10, id="english_only_10"),
        pytest.param(False, False, 2, 0, id="neither_chinese_nor_english_0"),
    ],
)
@pytest.mark.parametrize("ruleset_id", ["gpt-2008", "gpt-2023"])
def test_gpt__language(
    ruleset_id: str, chinese: bool, english: bool, others: int, points: int
) -> None:
    languages = {"chinese": chinese, "english": english, "others": others}
    assert gpt(ruleset_id, languages=languages).categories["language"] == points


@pytest.mark.parametrize(
    ("family", "points"),
    [
        pytest.param({}, 0, id="none_0"),
        pytest.param({"spouse_degree": True}, 5, id="spouse_with_degree_5"),
        pytest.param({"hk_permanent_resident_family": True}, 5, id="hk_pr_family_5"),
        pytest.param({"children_under_18": 1}, 5, id="1_child_5"),
        pytest.param({"children_under_18": 2}, 10, id="2_children_10"),
        pytest.param({"children_under_18": 3}, 10, id="3_children_capped_at_10"),
        pytest.param(
            {"spouse_degree": True, "hk_permanent_resident_family": True, "children_under_18": 5},
            20,
            id="all_max_20",
        ),
    ],
)
def test_gpt2023__family(family: dict[str, Any], points: int) -> None:
    # A bare profile (no dependants given) is taken at its word; an application counts its
    # accompanying dependants instead (test_rules_family.py).
    assert gpt(family=family).categories["family"] == points


FULL = {
    "degrees": [degree("doctorate", renowned=True), degree("doctorate", renowned=True)],
    "work": work(10, senior=5, international=2, multinational=3),
    "talent_list": True,
    "languages": {"chinese": True, "english": True, "others": 1},
    "family": {"spouse_degree": True, "hk_permanent_resident_family": True, "children_under_18": 2},
}


@pytest.mark.parametrize(
    ("ruleset_id", "maximum"),
    [
        pytest.param("gpt-2008", 165, id="gpt2008_165"),
        pytest.param("gpt-2015", 195, id="gpt2015_195"),
        pytest.param("gpt-2018", 225, id="gpt2018_225"),
        pytest.param("gpt-2023", 245, id="gpt2023_245"),
    ],
)
def test_gpt__full_profile_reaches_the_maximum(ruleset_id: str, maximum: int) -> None:
    result = gpt(ruleset_id, age=30, **FULL)
    assert result.score == result.maximum == maximum
    assert result.categories == ruleset_by_id(ruleset_id).points.caps.as_dict()  # type: ignore[union-attr]


def test_gpt__categories_always_all_present_even_at_zero() -> None:
    result = gpt(age=60)
    assert result.categories == {
        "age": 0,
        "education": 0,
        "work": 0,
        "talent_list": 0,
        "language": 10,
        "family": 0,
    }


# 15 (aged 45) + 20 (master's) + 30 (5 years incl. 2 senior) + 10 (Chinese) = 75; +5 spouse = 80.
def just_below_or_at_pass_mark(spouse_degree: bool) -> Assessment:
    return gpt(
        age=45,
        degrees=[degree("master")],
        work=work(5, senior=2),
        family={"spouse_degree": spouse_degree},
    )


def test_gpt2023__score_80_passes() -> None:
    result = just_below_or_at_pass_mark(spouse_degree=True)
    assert (result.score, result.passed, result.reasons) == (80, True, [])


def test_gpt2023__score_75_fails_with_reason() -> None:
    result = just_below_or_at_pass_mark(spouse_degree=False)
    assert (result.score, result.passed) == (75, False)
    assert result.reasons == [
        "The applicant scored 75 points, below the pass mark of 80 "
        "under the General Points Test (gpt-2023)."
    ]


@pytest.mark.parametrize(
    ("spouse_points", "score", "passed"),
    [pytest.param(4, 79, False, id="79_fails"), pytest.param(5, 80, True, id="80_passes")],
)
def test_gpt__pass_mark_79_fails_80_passes(spouse_points: int, score: int, passed: bool) -> None:
    # Every real GPT entry is a multiple of 5, so 79 needs a rule set with a 4-point row.
    family = replace(POINTS_2023.family, spouse_degree=spouse_points)
    rules = replace(GPT_2023, points=replace(POINTS_2023, family=family))
    result = assess(
        make_profile(
            NOTHING,
            degrees=[degree("master")],  # 20
            work=work(5),  # 15
            family={"spouse_degree": True, "children_under_18": 2},  # 4 or 5, + 10
            languages={"chinese": True, "english": False, "others": 0},  # 10
        ),
        date_of_birth=born(40, GPT_2023.starts),  # 20
        nationality="CN",
        on=GPT_2023.starts,
        ruleset=rules,
    )
    assert (result.score, result.passed) == (score, passed)
    assert bool(result.reasons) is not passed
