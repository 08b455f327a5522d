"""Small builders for rule tests: profile JSON with a few fields changed, and dates of birth."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from workflows import samples
from workflows.rules import Profile, validate_profile

# The example from the profile contract: a strong, ordinary applicant.
EXAMPLE: dict[str, Any] = samples.PROFILE

# Meets the prerequisites and scores nothing anywhere else (an applicant aged 51 or over).
NOTHING: dict[str, Any] = {
    **EXAMPLE,
    "degrees": [],
    "work": {
        "graduate_years": 0,
        "senior_years": 0,
        "international_years": 0,
        "multinational_years": 0,
        "specified_sector_years": 0,
    },
    "languages": {"chinese": True, "english": False, "others": 0},
    "family": {
        "spouse_degree": False,
        "children_under_18": 0,
        "hk_permanent_resident_family": False,
    },
    "income_hkd_last_year": 0,
}


def profile_data(base: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A copy of `base` (default EXAMPLE); a dict change is merged into the nested section."""
    data = copy.deepcopy(base if base is not None else EXAMPLE)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def make_profile(base: dict[str, Any] | None = None, **changes: Any) -> Profile:
    return validate_profile(profile_data(base, **changes))


def degree(
    level: str, *, renowned: bool = False, eligible: bool = False, stem: bool = False
) -> dict[str, Any]:
    return {
        "level": level,
        "renowned_institution": renowned,
        "eligible_university": eligible,
        "stem": stem,
    }


def born(age: int, on: date) -> date:
    """The date of birth that makes someone exactly `age` (a birthday) on `on`."""
    return on.replace(year=on.year - age)
