"""Properties over random valid profiles: no score beyond its maximum, no category beyond its
cap, the score is the sum of its categories; eligible is exactly prerequisites, nationality and
the points test, and the reasons are empty exactly when eligible."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.rules.factories import born
from workflows.rules import RULESETS, Dependant, Profile, assess, excluded_nationalities
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


@st.composite
def dependants(draw: st.DrawFn, on: date) -> list[Dependant] | None:
    if draw(bools):
        return None  # a bare profile
    kids = draw(
        st.lists(
            st.tuples(st.integers(0, 25), st.integers(0, 364), bools),
            max_size=4,
        )
    )
    out = [Dependant("spouse", date(1980, 1, 1))] if draw(bools) else []
    for years, days, married in kids:
        out.append(Dependant("child", born(years, on) - timedelta(days=days), married))
    return out


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    profile=profiles(),
    age=st.integers(min_value=16, max_value=70),
    ruleset=st.sampled_from(RULESETS),
    nationality=st.sampled_from(["CN", "GB", "VN", "KP", "AF"]),
    funds=bools,
    criminal=bools,
)
def test_eligible_is_prerequisites_and_nationality_and_passed(
    data: st.DataObject,
    profile: Profile,
    age: int,
    ruleset: Any,
    nationality: str,
    funds: bool,
    criminal: bool,
) -> None:
    on = ruleset.starts
    prerequisites = profile.prerequisites.model_copy(
        update={"sufficient_funds": funds, "criminal_record": criminal}
    )
    profile = profile.model_copy(update={"prerequisites": prerequisites})
    result = assess(
        profile,
        date_of_birth=born(age, on),
        nationality=nationality,
        on=on,
        ruleset=ruleset,
        dependants=data.draw(dependants(on)),
    )
    languages = profile.languages.chinese or profile.languages.english
    prerequisites_met = (
        age >= 18 and funds and not criminal
        and (languages or not ruleset.language_is_prerequisite)
    )  # fmt: skip
    allowed = nationality not in excluded_nationalities(on)
    assert result.prerequisites_met is prerequisites_met
    assert result.nationality_allowed is allowed
    assert result.eligible is (prerequisites_met and allowed and result.passed)
    assert (result.reasons == []) is result.eligible
    body = result.to_json()
    assert (body["eligible"], body["passed"]) == (result.eligible, result.passed)
    if ruleset.scoring is Scoring.POINTS:
        assert 0 <= result.categories["family"] <= ruleset.points.caps.family


def test_born_helper_makes_exact_ages() -> None:
    assert born(36, date(2026, 4, 12)) == date(1990, 4, 12)
