"""Assess an application under the rule set of its lodging date: prerequisites, nationality
and the points test, with every failed rule returned as a sentence.

`passed` is the points test alone; `eligible` is every prerequisite met, a nationality that may
apply on that date, and the test passed. `reasons` holds one sentence per failure, so it is
empty exactly when the application is eligible. `notes` say how the score was read (whose
family was counted, an old flag that was ignored); they never decide anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from states.errors import InvalidInput
from workflows.countries import check_nationality
from workflows.formats import long_date
from workflows.rules.dates import age_on, hk_date
from workflows.rules.enhanced import criteria_met
from workflows.rules.family import Dependant, count_family
from workflows.rules.nationalities import country_name, excluded_nationalities
from workflows.rules.points import score_categories
from workflows.rules.prerequisites import Applicant, chinese_or_english, unmet_prerequisites
from workflows.rules.profile import Profile, validate_profile
from workflows.rules.rulesets import RuleSet, Scoring, ruleset_for

_TEST_NAMES = {"general": "General Points Test", "achievement": "Achievement-based Points Test"}


@dataclass(frozen=True)
class Assessment:
    ruleset: str
    test: str
    score: int
    pass_mark: int
    maximum: int
    passed: bool  # the points test alone
    categories: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # empty exactly when eligible
    prerequisites_met: bool = True
    nationality_allowed: bool = True
    notes: list[str] = field(default_factory=list)  # how the score was read; never a reason

    @property
    def eligible(self) -> bool:
        """Every prerequisite met, the nationality not excluded that day, the test passed."""
        return self.prerequisites_met and self.nationality_allowed and self.passed

    def to_json(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "test": self.test,
            "score": self.score,
            "pass_mark": self.pass_mark,
            "maximum": self.maximum,
            "passed": self.passed,
            "eligible": self.eligible,
            "categories": dict(self.categories),
            "reasons": list(self.reasons),
            "notes": list(self.notes),
        }


def assess(
    profile: Profile | dict[str, Any],
    *,
    date_of_birth: date,
    nationality: str,
    on: date,
    ruleset: RuleSet | None = None,
    dependants: Sequence[Dependant] | None = None,
) -> Assessment:
    """Judge an application lodged on `on` (Hong Kong date) under `ruleset` (default: the one
    in force that day). Collects every reason at once instead of stopping at the first.

    `dependants` are the application's accompanying dependants (a case's, or an application
    file's: an empty sequence when it has none); the family points count them and ignore the
    profile's `children_under_18`. None means a bare profile, whose family numbers are taken
    as stated (`family.py`)."""
    if not isinstance(profile, Profile):
        profile = validate_profile(profile)
    day = hk_date(on)
    rules = ruleset or ruleset_for(day)
    if profile.test not in rules.test_kinds:
        raise InvalidInput(
            [f"profile.test: {profile.test!r} is not offered under {rules.id}"],
            prefix="invalid profile",
        )
    code = _nationality_code(nationality)
    age = age_on(date_of_birth, day)

    unmet = unmet_prerequisites(Applicant(profile, age, day, rules))
    reasons = list(unmet)
    excluded = code in excluded_nationalities(day)
    if excluded:
        reasons.append(
            f"Nationals of {country_name(code)} may not apply under QMAS on {long_date(day)}."
        )
    notes = _language_flag_note(profile, rules)

    test_name = f"{_TEST_NAMES[profile.test]} ({rules.id})"
    if profile.test == "achievement":
        # All or nothing: the era's maximum, or zero and immediate refusal (docs/rules.md §1.4).
        score = rules.maximum if profile.achievement is not None else 0
        categories = {"achievement": score}
        if profile.achievement is None:
            reasons.append(
                f"No exceptional achievement (an award or recognition by peers) was shown, so "
                f"the {test_name} scores 0 and the application is refused at once."
            )
    else:
        if rules.scoring is Scoring.POINTS:
            assert rules.points is not None  # guaranteed by RuleSet.__post_init__
            family = count_family(profile, dependants, day)
            categories = score_categories(profile, age, rules.points, family)
            notes.extend(family.notes)
        else:
            assert rules.criteria is not None
            categories = criteria_met(profile, age, rules.criteria)
        score = sum(categories.values())
        if score < rules.pass_mark:
            reasons.append(_below_pass_mark(rules, score, test_name))

    return Assessment(
        ruleset=rules.id,
        test=profile.test,
        score=score,
        pass_mark=rules.pass_mark,
        maximum=rules.maximum,
        passed=score >= rules.pass_mark,
        categories=categories,
        reasons=reasons,
        prerequisites_met=not unmet,
        nationality_allowed=not excluded,
        notes=notes,
    )


def _language_flag_note(profile: Profile, rules: RuleSet) -> list[str]:
    """A note when an old profile's `good_chinese_or_english` says otherwise than `languages`."""
    flag = profile.prerequisites.good_chinese_or_english
    from_languages = chinese_or_english(profile)
    if not rules.language_is_prerequisite or flag is None or flag is from_languages:
        return []
    met = "met" if from_languages else "not met"
    return [
        f"The language prerequisite is {met}: it is read from languages, and the old "
        f"prerequisites.good_chinese_or_english ({str(flag).lower()}) is ignored."
    ]


def _below_pass_mark(rules: RuleSet, score: int, test_name: str) -> str:
    if rules.scoring is Scoring.CRITERIA:
        return (
            f"The applicant met {score} of the {rules.maximum} criteria, below the pass mark "
            f"of {rules.pass_mark} under the enhanced {test_name}."
        )
    return (
        f"The applicant scored {score} points, below the pass mark of {rules.pass_mark} "
        f"under the {test_name}."
    )


def _nationality_code(nationality: str) -> str:
    try:
        return check_nationality(nationality)
    except ValueError as err:
        raise InvalidInput([f"nationality: {err}"], prefix="invalid assessment") from None
