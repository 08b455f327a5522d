"""Family points count the ACCOMPANYING family (docs/rules.md §6.1 Family points, §6.2 Dependants).

An application (``dependants`` given, even empty) counts its dependants on the lodging date:
the spouse points need a spouse dependant whose degree ``family.spouse_degree`` states, the
child points count unmarried children under 18; the profile's ``children_under_18`` is ignored
and the notes say so. A bare profile (``dependants=None``) is taken at its word.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.rules.factories import NOTHING, born, make_profile
from workflows.rules import Assessment, Dependant, assess, ruleset_by_id

ON = date(2024, 3, 1)  # gpt-2023: family points 5 spouse, 5 HK PR family, 5 a child (max 10)
DOB = date(1985, 6, 1)


def spouse(name: str = "LI Mei") -> Dependant:
    return Dependant("spouse", date(1986, 2, 3), name=name)


def child(age: int = 6, *, married: bool = False, name: str = "Kid") -> Dependant:
    return Dependant("child", born(age, ON), married=married, name=name)


def family_of(
    dependants: list[Dependant] | None,
    *,
    spouse_degree: bool = True,
    children_under_18: int = 2,
    hk_permanent_resident_family: bool = False,
    on: date = ON,
) -> Assessment:
    """A profile scoring nothing but family; the profile claims a graduate spouse and 2 kids."""
    family: dict[str, Any] = {
        "spouse_degree": spouse_degree,
        "children_under_18": children_under_18,
        "hk_permanent_resident_family": hk_permanent_resident_family,
    }
    return assess(
        make_profile(NOTHING, family=family),
        date_of_birth=DOB,
        nationality="CN",
        on=on,
        dependants=dependants,
    )


@pytest.mark.parametrize(
    ("dependants", "spouse_degree", "points"),
    [
        pytest.param([], True, 0, id="no_dependants_0_whatever_the_profile_claims"),
        pytest.param([spouse()], True, 5, id="spouse_with_degree_5"),
        pytest.param([spouse()], False, 0, id="spouse_without_degree_0"),
        pytest.param([child()], True, 5, id="degree_but_no_spouse_dependant_child_only_5"),
        pytest.param([spouse(), child()], True, 10, id="spouse_with_degree_and_1_child_10"),
        pytest.param([spouse(), child(), child(12)], False, 10, id="no_degree_2_children_10"),
        pytest.param([spouse(), child(), child(3), child(9)], True, 15, id="3_children_cap_10"),
    ],
)
def test_family_points__count_the_accompanying_dependants(
    dependants: list[Dependant], spouse_degree: bool, points: int
) -> None:
    result = family_of(dependants, spouse_degree=spouse_degree)
    assert result.categories["family"] == points


@pytest.mark.parametrize(
    ("children", "points"),
    [
        pytest.param([], 0, id="0_children_0"),
        pytest.param([child()], 5, id="1_child_5"),
        pytest.param([child(), child(17)], 10, id="2_children_10"),
    ],
)
def test_family_points__0_1_2_accompanying_children_ignore_children_under_18(
    children: list[Dependant], points: int
) -> None:
    for claimed in (0, 2, 5):  # the profile's own number never matters for an application
        result = family_of(children, spouse_degree=False, children_under_18=claimed)
        assert result.categories["family"] == points, claimed


@pytest.mark.parametrize(
    ("kid", "points"),
    [
        pytest.param(Dependant("child", date(2006, 3, 2), name="Kid"), 5, id="17_day_before_18"),
        pytest.param(Dependant("child", date(2006, 3, 1), name="Kid"), 0, id="18_on_lodging_day"),
        pytest.param(Dependant("child", date(2000, 1, 1), name="Kid"), 0, id="24_not_a_child"),
        pytest.param(child(10, married=True), 0, id="married_child_is_not_a_dependant"),
        pytest.param(Dependant("child", date(2024, 3, 2), name="Kid"), 0, id="born_after_lodging"),
    ],
)
def test_family_points__only_unmarried_children_under_18_on_the_lodging_date(
    kid: Dependant, points: int
) -> None:
    result = family_of([kid], spouse_degree=False, children_under_18=1)
    assert result.categories["family"] == points


def test_family_points__a_child_who_is_18_is_named_in_the_notes() -> None:
    result = family_of([spouse(), Dependant("child", date(2006, 3, 1), name="CHAN Siu Ming")])
    assert result.notes == [
        "Family points count the accompanying dependants on 1 March 2024: a spouse with a "
        "degree; no unmarried child under 18. The profile's family.children_under_18 (2) is "
        "ignored.",
        "CHAN Siu Ming is 18 on 1 March 2024, so earns no family points (a child must be under "
        "18).",
    ]


def test_family_points__a_married_child_is_named_in_the_notes() -> None:
    result = family_of([child(16, married=True, name="Wed")], spouse_degree=False)
    assert result.categories["family"] == 0
    assert result.notes[1] == (
        "Wed is married, so earns no family points (a child must be unmarried)."
    )


def test_family_points__a_degree_without_a_spouse_dependant_is_explained() -> None:
    result = family_of([], spouse_degree=True, children_under_18=0)
    assert result.notes == [
        "Family points count the accompanying dependants on 1 March 2024: no spouse "
        "(family.spouse_degree counts only for an accompanying spouse); no unmarried child "
        "under 18. The profile's family.children_under_18 (0) is ignored."
    ]


def test_family_points__hk_permanent_resident_family_comes_from_the_profile() -> None:
    alone = family_of([], hk_permanent_resident_family=True)
    assert alone.categories["family"] == 5
    full = family_of([spouse(), child(), child(2)], hk_permanent_resident_family=True)
    assert full.categories["family"] == 20


def test_family_points__a_bare_profile_is_taken_at_its_word() -> None:
    result = family_of(None, spouse_degree=True, children_under_18=2)
    assert result.categories["family"] == 15
    assert result.notes == [
        "Family points are taken from the profile as stated (a bare profile, with no "
        "dependants): family.spouse_degree true, family.children_under_18 2."
    ]


def test_family_points__dependants_decide_the_pass_mark() -> None:
    """75 without family; the profile's claimed spouse degree would make it 80."""
    data = make_profile(
        NOTHING,
        degrees=[{"level": "master", "renowned_institution": False,
                  "eligible_university": False, "stem": False}],
        work={"graduate_years": 5, "senior_years": 2, "international_years": 0,
              "multinational_years": 0, "specified_sector_years": 0},
        family={"spouse_degree": True, "children_under_18": 0,
                "hk_permanent_resident_family": False},
    )  # fmt: skip
    judged = {
        label: assess(data, date_of_birth=born(45, ON), nationality="CN", on=ON, dependants=deps)
        for label, deps in (("bare", None), ("alone", []), ("with spouse", [spouse()]))
    }
    assert {k: (a.score, a.passed, a.eligible) for k, a in judged.items()} == {
        "bare": (80, True, True),
        "alone": (75, False, False),
        "with spouse": (80, True, True),
    }
    assert judged["alone"].reasons == [
        "The applicant scored 75 points, below the pass mark of 80 under the General Points "
        "Test (gpt-2023)."
    ]


@pytest.mark.parametrize("ruleset_id", ["gpt-2008", "gpt-2015", "gpt-2018", "gpt-2023"])
def test_family_points__every_gpt_era_counts_dependants(ruleset_id: str) -> None:
    rules = ruleset_by_id(ruleset_id)
    kid = Dependant("child", rules.starts.replace(year=rules.starts.year - 5))
    result = family_of([kid], on=rules.starts)
    assert (result.ruleset, result.categories["family"]) == (ruleset_id, 5)


@pytest.mark.parametrize("on", [date(2025, 1, 2)], ids=["enhanced-2024"])
def test_family_points__no_family_category_and_no_family_note_under_enhanced_gpt(
    on: date,
) -> None:
    result = family_of([spouse(), child()], on=on)
    assert "family" not in result.categories
    assert result.notes == []


def test_family_points__not_counted_by_the_achievement_test() -> None:
    data = make_profile(
        NOTHING, test="achievement", achievement={"kind": "award", "description": "Medal"}
    )
    result = assess(data, date_of_birth=DOB, nationality="CN", on=ON, dependants=[spouse()])
    assert (result.categories, result.notes) == ({"achievement": 245}, [])
