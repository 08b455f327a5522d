"""The profile contract: exactly the documented keys, strict types, possible values, and one
error line per bad field, all reported at once."""

from __future__ import annotations

from typing import Any

import pytest

from states.errors import InvalidInput
from tests.rules.factories import EXAMPLE, profile_data
from workflows.rules import Profile, validate_profile


def errors_for(data: Any) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        validate_profile(data)
    assert caught.value.prefix == "invalid profile"
    return caught.value.errors


def test_profile__example_is_valid() -> None:
    profile = validate_profile(EXAMPLE)
    assert isinstance(profile, Profile)
    assert profile.work.graduate_years == 12
    assert profile.degrees[0].level == "master"


def test_profile__fractional_years_and_null_achievement_accepted() -> None:
    profile = validate_profile(
        profile_data(test="achievement", work={"graduate_years": 4.9, "senior_years": 4.9})
    )
    assert profile.work.senior_years == 4.9
    assert profile.achievement is None


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        pytest.param({"nickname": "Al"}, "profile.nickname: unknown field", id="unknown_top"),
        pytest.param(
            {"family": {"pets": 2}}, "profile.family.pets: unknown field", id="unknown_nested"
        ),
    ],
)
def test_profile__unknown_field_is_rejected(changes: dict[str, Any], error: str) -> None:
    assert errors_for(profile_data(**changes)) == [error]


def test_profile__missing_field_is_rejected() -> None:
    data = profile_data()
    del data["talent_list"]
    assert errors_for(data) == ["profile.talent_list: required field is missing"]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        pytest.param(
            {"talent_list": "yes"},
            "profile.talent_list: input should be a valid boolean (got 'yes')",
            id="yes_is_not_a_bool",
        ),
        pytest.param(
            {"prerequisites": {"criminal_record": 0}},
            "profile.prerequisites.criminal_record: input should be a valid boolean (got 0)",
            id="0_is_not_a_bool",
        ),
        pytest.param(
            {"family": {"children_under_18": "2"}},
            "profile.family.children_under_18: input should be a valid integer (got '2')",
            id="string_is_not_a_count",
        ),
        pytest.param(
            {"family": {"children_under_18": True}},
            "profile.family.children_under_18: input should be a valid integer (got True)",
            id="bool_is_not_a_count",
        ),
        pytest.param(
            {"work": {"graduate_years": "12"}},
            "profile.work.graduate_years: input should be a valid number (got '12')",
            id="string_is_not_years",
        ),
        pytest.param(
            {"income_hkd_last_year": 1.5},
            "profile.income_hkd_last_year: input should be a valid integer (got 1.5)",
            id="money_is_whole_dollars",
        ),
        pytest.param(
            {"test": "points"},
            "profile.test: input should be 'general' or 'achievement' (got 'points')",
            id="unknown_test",
        ),
        pytest.param(
            {"degrees": [{**EXAMPLE["degrees"][0], "level": "phd"}]},
            "profile.degrees[0].level: input should be 'doctorate', 'master', 'bachelor' or "
            "'professional' (got 'phd')",
            id="unknown_degree_level",
        ),
        pytest.param(
            {"achievement": {"kind": "medal", "description": "x"}},
            "profile.achievement.kind: input should be 'award' or 'peer_recognition' (got 'medal')",
            id="unknown_achievement_kind",
        ),
    ],
)
def test_profile__wrong_type_is_rejected(changes: dict[str, Any], error: str) -> None:
    assert errors_for(profile_data(**changes)) == [error]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param({"work": {"graduate_years": -1}}, "work.graduate_years", id="graduate"),
        pytest.param({"work": {"senior_years": -0.5}}, "work.senior_years", id="senior"),
        pytest.param({"languages": {"others": -1}}, "languages.others", id="other_languages"),
        pytest.param({"family": {"children_under_18": -1}}, "family.children_under_18", id="kids"),
        pytest.param({"income_hkd_last_year": -5}, "income_hkd_last_year", id="income"),
        pytest.param({"business_profit_hkd": -5}, "business_profit_hkd", id="profit"),
    ],
)
def test_profile__negative_values_are_rejected(changes: dict[str, Any], path: str) -> None:
    [error] = errors_for(profile_data(**changes))
    assert error.startswith(f"profile.{path}: input should be greater than or equal to 0")


def test_profile__not_a_number_years_rejected() -> None:
    [error] = errors_for(profile_data(work={"graduate_years": float("nan")}))
    assert error.startswith("profile.work.graduate_years: input should be a finite number")


PART_YEARS = (
    "senior_years",
    "international_years",
    "multinational_years",
    "specified_sector_years",
)


@pytest.mark.parametrize("field", PART_YEARS)
def test_profile__part_years_cannot_exceed_graduate_years(field: str) -> None:
    work = dict.fromkeys(PART_YEARS, 0) | {"graduate_years": 5, field: 6}
    data = profile_data(work=work)
    assert errors_for(data) == [f"profile.work.{field}: cannot exceed graduate_years (6 > 5)"]


def test_profile__part_years_equal_to_graduate_years_accepted() -> None:
    validate_profile(profile_data(work={"graduate_years": 5, "senior_years": 5}))


def test_profile__several_errors_reported_at_once() -> None:
    data = profile_data(
        nickname="Al",
        talent_list="yes",
        work={"graduate_years": 5, "senior_years": 6, "international_years": -1},
        family={"children_under_18": -2},
    )
    errors = errors_for(data)
    assert sorted(errors) == sorted(
        [
            "profile.nickname: unknown field",
            "profile.talent_list: input should be a valid boolean (got 'yes')",
            "profile.work.senior_years: cannot exceed graduate_years (6 > 5)",
            "profile.work.international_years: input should be greater than or equal to 0 (got -1)",
            "profile.family.children_under_18: input should be greater than or equal to 0 (got -2)",
        ]
    )
    with pytest.raises(InvalidInput, match=r"^invalid profile: profile\."):
        validate_profile(data)


def test_profile__must_be_an_object() -> None:
    assert errors_for(["not", "a", "dict"]) == ["profile: expected a JSON object, got list"]


def test_profile__is_immutable() -> None:
    profile = validate_profile(EXAMPLE)
    with pytest.raises(ValueError):
        profile.__setattr__("talent_list", True)


def test_profile__round_trips_through_json() -> None:
    profile = validate_profile(EXAMPLE)
    assert validate_profile(profile.model_dump(mode="json")) == profile
