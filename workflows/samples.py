"""The issue's example application and profile: one copy for the demo, tests and benchmarks.

`profile(**changes)` and `application(**changes)` return fresh copies; a dict value given for
a dict field is merged one level deep (``profile(work={"graduate_years": 4})``).
"""

from __future__ import annotations

import copy
from typing import Any

# A strong, ordinary applicant under the 2023 General Points Test (185 points of 245).
PROFILE: dict[str, Any] = {
    "test": "general",
    "prerequisites": {
        "sufficient_funds": True,
        "criminal_record": False,
        "adverse_immigration_record": False,
        "degree_or_exception": True,
    },
    "degrees": [
        {"level": "master", "renowned_institution": True, "eligible_university": True, "stem": True}
    ],
    "work": {
        "graduate_years": 12,
        "senior_years": 6,
        "international_years": 3,
        "multinational_years": 4,
        "specified_sector_years": 0,
    },
    "talent_list": False,
    "languages": {"chinese": True, "english": True, "others": 0},
    "family": {
        "spouse_degree": True,
        "children_under_18": 1,
        "hk_permanent_resident_family": False,
    },
    "income_hkd_last_year": 900000,
    "business_profit_hkd": 0,
    "owns_listed_company": False,
    "achievement": None,
}

APPLICATION: dict[str, Any] = {
    "applicant": {
        "name": "CHAN Tai Man",
        "date_of_birth": "1990-04-12",
        "nationality": "CN",
        "mainland_resident": True,
        "email": "chan.taiman@example.com",
        "language": "zh-HK",
        "travel_document_number": "E12345678",
        "representative": {"name": "Wong & Co.", "email": "cases@wongco.example"},
    },
    "dependants": [
        {"name": "LI Mei", "relation": "spouse", "date_of_birth": "1991-02-03"},
        {"name": "CHAN Siu Ming", "relation": "child", "date_of_birth": "2018-09-30"},
    ],
    "declaration_signed": True,
    "profile": PROFILE,
}


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def profile(**changes: Any) -> dict[str, Any]:
    return _merge(PROFILE, changes)


def application(**changes: Any) -> dict[str, Any]:
    return _merge(APPLICATION, changes)
