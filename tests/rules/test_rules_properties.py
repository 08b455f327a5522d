"""Properties over random valid profiles: no score beyond its maximum, no category beyond its
cap, the score is the sum of its categories."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.rules.factories import born
from workflows.rules import RULESETS, Profile, assess
from workflows.rules.rulesets import Scoring

bools = st.booleans()
fraction = st.floats(min_value=0, max_value=1)


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    graduate = draw(st.floats(min_value=0, max_value=45))
    degree = st.fixed_dictionaries(
        {
            "level": st.sampled_from(["doctorate", "master", "bachelor", "professional"]),
            "renowned_institution": bools,
            "eligible_university": bools,
            "stem": bools,
        }
    )
    data: dict[str, Any] = {
        "test": "general",
        "prerequisites": {
            "sufficient_funds": True,
            "criminal_record": False,
            "adverse_immigration_record": False,
            "good_chinese_or_english": True,
            "degree_or_exception": True,
        },
        "degrees": draw(st.lists(degree, max_size=4)),
        "work": {
            "graduate_years": graduate,
            **{
                name: graduate * draw(fraction)
                for name in (
                    "senior_years",
                    "international_years",
                    "multinational_years",
                    "specified_sector_years",
                )
            },
        },
        "talent_list": draw(bools),
        "languages": {
            "chinese": draw(bools),
            "english": draw(bools),
            "others": draw(st.integers(0, 5)),
        },
        "family": {
            "spouse_degree": draw(bools),
            "children_under_18": draw(st.integers(0, 8)),
            "hk_permanent_resident_family": draw(bools),
        },
        "income_hkd_last_year": draw(st.integers(0, 10_000_000)),
        "business_profit_hkd": draw(st.integers(0, 50_000_000)),
        "owns_listed_company": draw(bools),
        "achievement": None,
    }
    return Profile.model_validate(data)


@settings(max_examples=200, deadline=None)
@given(
    profile=profiles(),
    age=st.integers(min_value=18, max_value=90),
    ruleset=st.sampled_from(RULESETS),
)
def test_score_never_exceeds_maximum_nor_categories_their_caps(
    profile: Profile, age: int, ruleset: Any
) -> None:
    on = ruleset.starts
    result = assess(profile, date_of_birth=born(age, on), nationality="CN", on=on, ruleset=ruleset)
    assert 0 <= result.score <= result.maximum
    assert result.score == sum(result.categories.values())
    if ruleset.scoring is Scoring.POINTS:
        caps = ruleset.points.caps.as_dict()
        assert set(result.categories) == set(caps)
        assert all(0 <= result.categories[name] <= caps[name] for name in caps)
    else:
        assert set(result.categories.values()) <= {0, 1}
    assert result.passed is (result.score >= result.pass_mark)


def test_born_helper_makes_exact_ages() -> None:
    assert born(36, date(2026, 4, 12)) == date(1990, 4, 12)
