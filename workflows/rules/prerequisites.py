"""The prerequisites (docs/rules.md §2.1, §2.2): each one a named condition carrying the
sentence shown when it is unmet. Any unmet prerequisite means the application is refused at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from workflows.formats import long_date
from workflows.rules.profile import Profile
from workflows.rules.rulesets import RuleSet


@dataclass(frozen=True)
class Applicant:
    profile: Profile
    age: int
    on: date
    ruleset: RuleSet


@dataclass(frozen=True)
class Prerequisite:
    name: str
    applies: Callable[[RuleSet], bool]
    met: Callable[[Applicant], bool]
    unmet: Callable[[Applicant], str]


def _always(_: RuleSet) -> bool:
    return True


def chinese_or_english(profile: Profile) -> bool:
    """The language prerequisite, read from the languages the profile lists (the same answers
    the language points count), never from a separate flag that could contradict them."""
    return profile.languages.chinese or profile.languages.english


PREREQUISITES: tuple[Prerequisite, ...] = (
    Prerequisite(
        "age",
        _always,
        lambda a: a.age >= a.ruleset.minimum_age,
        lambda a: (
            f"The applicant is {a.age} on {long_date(a.on)}; applicants must be "
            f"{a.ruleset.minimum_age} or over when the application is lodged."
        ),
    ),
    Prerequisite(
        "sufficient_funds",
        _always,
        lambda a: a.profile.prerequisites.sufficient_funds,
        lambda a: (
            "The applicant has not shown the means to support and accommodate themselves and "
            "their dependants without public assistance."
        ),
    ),
    Prerequisite(
        "no_criminal_record",
        _always,
        lambda a: not a.profile.prerequisites.criminal_record,
        lambda a: (
            "The applicant has a criminal record, so the good character prerequisite is unmet."
        ),
    ),
    Prerequisite(
        "no_adverse_immigration_record",
        _always,
        lambda a: not a.profile.prerequisites.adverse_immigration_record,
        lambda a: (
            "The applicant has an adverse immigration record, so the good character "
            "prerequisite is unmet."
        ),
    ),
    Prerequisite(
        "good_chinese_or_english",
        lambda r: r.language_is_prerequisite,
        lambda a: chinese_or_english(a.profile),
        lambda a: (
            "The applicant's languages include neither Chinese nor English; good written and "
            "spoken Chinese (Putonghua or Cantonese) or English is a prerequisite."
        ),
    ),
    Prerequisite(
        "degree_or_exception",
        _always,
        lambda a: a.profile.prerequisites.degree_or_exception,
        lambda a: (
            "The applicant holds no first degree and has not shown the technical "
            "qualifications, professional abilities or achievements that may stand in for one."
        ),
    ),
)


def unmet_prerequisites(applicant: Applicant) -> list[str]:
    """One sentence per prerequisite the rule set asks for and the applicant does not meet."""
    return [
        p.unmet(applicant)
        for p in PREREQUISITES
        if p.applies(applicant.ruleset) and not p.met(applicant)
    ]
