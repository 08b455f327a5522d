"""The enhanced General Points Test from 1 Nov 2024: twelve yes/no criteria (docs/rules.md §1.3).

Each criterion is a named predicate with the sentence a caseworker reads; its numbers come from
the rule set's `CriteriaThresholds`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workflows.rules.profile import Profile
from workflows.rules.tables import CriteriaThresholds


@dataclass(frozen=True)
class Facts:
    """What a criterion may look at."""

    profile: Profile
    age: int
    limits: CriteriaThresholds


@dataclass(frozen=True)
class Criterion:
    name: str
    description: str
    met: Callable[[Facts], bool]


def _eligible_postgraduate(facts: Facts, *, stem: bool) -> bool:
    # Criterion 3 asks whether *that* master's/doctorate (the one from an eligible university)
    # is in STEM, so both tests apply to the same degree.
    return any(
        d.level in ("master", "doctorate") and d.eligible_university and (d.stem or not stem)
        for d in facts.profile.degrees
    )


def _languages(facts: Facts) -> int:
    spoken = facts.profile.languages
    return int(spoken.chinese) + int(spoken.english) + spoken.others


CRITERIA: tuple[Criterion, ...] = (
    Criterion("age_50_or_below", "aged 50 or below", lambda f: f.age <= f.limits.max_age),
    Criterion(
        "eligible_masters_or_doctorate",
        "a master's or doctoral degree from an eligible university",
        lambda f: _eligible_postgraduate(f, stem=False),
    ),
    Criterion(
        "stem_masters_or_doctorate",
        "that master's or doctoral degree is in a STEM subject",
        lambda f: _eligible_postgraduate(f, stem=True),
    ),
    Criterion(
        "two_languages",
        "good written and spoken ability in two languages",
        lambda f: _languages(f) >= f.limits.languages,
    ),
    Criterion(
        "good_english", "good written and spoken English", lambda f: f.profile.languages.english
    ),
    Criterion(
        "graduate_work_5_years",
        "at least 5 years of graduate or specialist-level work",
        lambda f: f.profile.work.graduate_years >= f.limits.graduate_years,
    ),
    Criterion(
        "multinational_3_years",
        "at least 3 years of such work at a multinational or renowned enterprise",
        lambda f: f.profile.work.multinational_years >= f.limits.multinational_years,
    ),
    Criterion(
        "specified_sector_3_years",
        "at least 3 years of such work in innovation and technology, finance or trade",
        lambda f: f.profile.work.specified_sector_years >= f.limits.specified_sector_years,
    ),
    Criterion(
        "international_2_years",
        "at least 2 years of international graduate or specialist-level work",
        lambda f: f.profile.work.international_years >= f.limits.international_years,
    ),
    Criterion(
        "income_1m",
        "income of at least HK$1 million in the year before applying",
        lambda f: f.profile.income_hkd_last_year >= f.limits.income_hkd,
    ),
    Criterion(
        "business_profit_5m",
        "owns a business whose profit in the preceding year was at least HK$5 million",
        lambda f: f.profile.business_profit_hkd >= f.limits.business_profit_hkd,
    ),
    Criterion(
        "owns_listed_company", "owns a listed company", lambda f: f.profile.owns_listed_company
    ),
)


def criteria_met(profile: Profile, age: int, limits: CriteriaThresholds) -> dict[str, int]:
    """Criterion name -> 1 (met) or 0, in the questionnaire's order."""
    facts = Facts(profile, age, limits)
    return {c.name: int(c.met(facts)) for c in CRITERIA}
