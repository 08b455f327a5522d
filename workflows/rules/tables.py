"""The shapes of the scoring tables a `RuleSet` carries: bands, tiers, bonuses and caps.

Plain frozen data; the values for each era live in `rulesets.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Literal

from workflows.rules.profile import DegreeLevel

CATEGORIES = ("age", "education", "work", "talent_list", "language", "family")


class Scoring(StrEnum):
    POINTS = "points"  # item-by-item General Points Test (Versions B–E)
    CRITERIA = "criteria"  # enhanced GPT: count of yes/no criteria met (Version F)


@dataclass(frozen=True)
class AgeBand:
    lowest: int
    highest: int | None  # None: no upper bound
    points: int


@dataclass(frozen=True)
class EducationTier:
    """Met when the applicant holds at least `count` qualifications at `level` or above, for
    any one of `any_of` (a doctorate counts towards "two master's", a master's towards "two
    bachelor's"; a professional qualification counts only as itself)."""

    points: int
    any_of: tuple[tuple[DegreeLevel, int], ...]


@dataclass(frozen=True)
class WorkTier:
    points: int
    graduate_years: float
    senior_years: float


@dataclass(frozen=True)
class WorkBonus:
    field: Literal["international_years", "multinational_years"]
    min_years: float
    points: int


@dataclass(frozen=True)
class LanguageTable:
    both: int  # Chinese and English
    one_plus_other: int  # Chinese or English, plus at least one other language
    one: int  # Chinese or English


@dataclass(frozen=True)
class FamilyTable:
    spouse_degree: int
    hk_permanent_resident_family: int
    per_child: int
    children_cap: int


@dataclass(frozen=True)
class CategoryCaps:
    """The most each GPT category can contribute; their sum is the era's maximum."""

    age: int
    education: int
    work: int
    talent_list: int
    language: int
    family: int

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())


@dataclass(frozen=True)
class PointsTable:
    age: tuple[AgeBand, ...]
    education: tuple[EducationTier, ...]  # highest first; the first tier met scores
    renowned_bonus: int  # any bachelor's-or-above from a renowned institution
    work: tuple[WorkTier, ...]  # highest first; the first tier met scores
    work_bonuses: tuple[WorkBonus, ...]
    talent_list: int
    language: LanguageTable
    family: FamilyTable
    caps: CategoryCaps


@dataclass(frozen=True)
class CriteriaThresholds:
    """The numbers inside the twelve enhanced-GPT criteria (docs/rules.md §1.3)."""

    max_age: int = 50
    languages: int = 2
    graduate_years: float = 5
    multinational_years: float = 3
    specified_sector_years: float = 3
    international_years: float = 2
    income_hkd: int = 1_000_000
    business_profit_hkd: int = 5_000_000
