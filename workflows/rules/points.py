"""General Points Test scoring: one function per category, each reading a `PointsTable`.

Every category is always present in the result (0 when nothing scores) and capped at the
table's maximum for that category. The family category counts a `FamilyCount` (`family.py`):
the accompanying dependants of an application, or a bare profile's own numbers.
"""

from __future__ import annotations

from workflows.rules.family import FamilyCount
from workflows.rules.profile import Degree, DegreeLevel, Profile
from workflows.rules.tables import PointsTable

_RANK: dict[DegreeLevel, int] = {"bachelor": 1, "master": 2, "doctorate": 3}


def score_categories(
    profile: Profile, age: int, table: PointsTable, family: FamilyCount
) -> dict[str, int]:
    """Category name -> points, in the order of `tables.CATEGORIES`."""
    raw = {
        "age": age_points(age, table),
        "education": education_points(profile.degrees, table),
        "work": work_points(profile, table),
        "talent_list": table.talent_list if profile.talent_list else 0,
        "language": language_points(profile, table),
        "family": family_points(family, table),
    }
    caps = table.caps.as_dict()
    return {name: min(points, caps[name]) for name, points in raw.items()}


def age_points(age: int, table: PointsTable) -> int:
    for band in table.age:
        if band.lowest <= age and (band.highest is None or age <= band.highest):
            return band.points
    return 0  # under the youngest band: the age prerequisite fails anyway


def education_points(degrees: tuple[Degree, ...], table: PointsTable) -> int:
    base = 0
    for tier in table.education:
        if any(_holds(degrees, level, count) for level, count in tier.any_of):
            base = tier.points
            break
    renowned = any(d.renowned_institution and d.level in _RANK for d in degrees)
    return base + (table.renowned_bonus if renowned else 0)


def _holds(degrees: tuple[Degree, ...], level: DegreeLevel, count: int) -> bool:
    if level == "professional":
        held = sum(1 for d in degrees if d.level == "professional")
    else:
        held = sum(1 for d in degrees if d.level in _RANK and _RANK[d.level] >= _RANK[level])
    return held >= count


def work_points(profile: Profile, table: PointsTable) -> int:
    work = profile.work
    base = next(
        (
            tier.points
            for tier in table.work
            if work.graduate_years >= tier.graduate_years and work.senior_years >= tier.senior_years
        ),
        0,
    )
    bonus = sum(b.points for b in table.work_bonuses if getattr(work, b.field) >= b.min_years)
    return base + bonus


def language_points(profile: Profile, table: PointsTable) -> int:
    languages, rates = profile.languages, table.language
    if languages.chinese and languages.english:
        return rates.both
    if languages.chinese or languages.english:
        return rates.one_plus_other if languages.others >= 1 else rates.one
    return 0


def family_points(family: FamilyCount, table: PointsTable) -> int:
    rates = table.family
    children = min(family.children_under_18 * rates.per_child, rates.children_cap)
    return (
        (rates.spouse_degree if family.spouse_degree else 0)
        + (rates.hk_permanent_resident_family if family.hk_permanent_resident_family else 0)
        + children
    )
