"""The points-test profile: the applicant's answers, validated once at the edge.

`validate_profile` turns the profile JSON (a contract shared with the console and the web
form) into a frozen `Profile`, or raises `InvalidInput` with one line per bad field. Every
figure has a realistic bound (years of work 0 to 80, money 0 to HK$1,000,000,000, counts 0 to
20), so that a typing slip is refused with a sentence rather than scored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from states.errors import InvalidInput
from workflows.validation import check_free_text, format_errors

TestKind = Literal["general", "achievement"]
DegreeLevel = Literal["doctorate", "master", "bachelor", "professional"]
AchievementKind = Literal["award", "peer_recognition"]

# Strict types: "yes" is not a bool, "5" is not a number, True is not a count.
MAX_YEARS = 80  # a working life
MAX_COUNT = 20  # other languages, children: more is a typing slip
MAX_HKD = 1_000_000_000  # a year's income or profit; more is a typing slip (or a test)
MAX_DEGREES = 10
MAX_DESCRIPTION = 1_000  # characters of an achievement's description
Years = Annotated[StrictFloat, Field(ge=0, le=MAX_YEARS, allow_inf_nan=False)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
Money = Annotated[StrictInt, Field(ge=0, le=MAX_HKD)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prerequisites(_Part):
    """The applicant's own statements on the prerequisites (docs/rules.md §2.1, §2.3).

    The language prerequisite is read from `Profile.languages` (Chinese or English), so it can
    never contradict the language points. `good_chinese_or_english` is the old flag: still
    accepted (true, false or null), so that stored profiles and older files keep validating,
    and it decides nothing; the assessment notes when it disagrees with `languages`."""

    sufficient_funds: StrictBool
    criminal_record: StrictBool
    adverse_immigration_record: StrictBool
    good_chinese_or_english: StrictBool | None = Field(
        default=None,
        description=(
            "Deprecated and ignored: the language prerequisite is read from 'languages' "
            "(Chinese or English)."
        ),
        json_schema_extra={"deprecated": True},
    )
    degree_or_exception: StrictBool


class Degree(_Part):
    level: DegreeLevel
    renowned_institution: StrictBool
    eligible_university: StrictBool
    stem: StrictBool


class Work(_Part):
    """Years of graduate/specialist-level work; every other figure is a part of that total."""

    graduate_years: Years
    senior_years: Years
    international_years: Years
    multinational_years: Years
    specified_sector_years: Years

    @field_validator(
        "senior_years",
        "international_years",
        "multinational_years",
        "specified_sector_years",
    )
    @classmethod
    def _within_graduate_years(cls, value: float, info: ValidationInfo) -> float:
        graduate = info.data.get("graduate_years")  # absent when graduate_years itself was bad
        if graduate is not None and value > graduate:
            raise ValueError(
                f"cannot exceed graduate_years ({_number(value)} > {_number(graduate)})"
            )
        return value


class Languages(_Part):
    chinese: StrictBool
    english: StrictBool
    others: Count


class Family(_Part):
    spouse_degree: StrictBool
    children_under_18: Count
    hk_permanent_resident_family: StrictBool


class Achievement(_Part):
    kind: AchievementKind
    description: Annotated[StrictStr, Field(min_length=1, max_length=MAX_DESCRIPTION)]

    _visible = field_validator("description")(check_free_text)


class Profile(_Part):
    """Everything the points tests look at. All keys required; `achievement` may be null."""

    test: TestKind
    prerequisites: Prerequisites
    degrees: Annotated[tuple[Degree, ...], Field(max_length=MAX_DEGREES)]
    work: Work
    talent_list: StrictBool
    languages: Languages
    family: Family
    income_hkd_last_year: Money
    business_profit_hkd: Money
    owns_listed_company: StrictBool
    achievement: Achievement | None


def validate_profile(data: dict[str, Any]) -> Profile:
    """Return the validated profile, or raise `InvalidInput` listing every bad field at once."""
    if not isinstance(data, dict):
        raise InvalidInput(
            [f"profile: expected a JSON object, got {type(data).__name__}"],
            prefix="invalid profile",
        )
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(format_errors(exc, root="profile"), prefix="invalid profile") from None


def _number(value: float) -> str:
    """6.0 -> '6', 4.9 -> '4.9': years read the way a caseworker wrote them."""
    return f"{value:g}"
