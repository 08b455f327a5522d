"""Small builders for test data: application files and profiles (tests edit what they need)."""

from __future__ import annotations

import copy
import itertools
from typing import Any

_doc_numbers = itertools.count(1)

PROFILE: dict[str, Any] = {
    "test": "general",
    "prerequisites": {
        "sufficient_funds": True,
        "criminal_record": False,
        "adverse_immigration_record": False,
        "good_chinese_or_english": True,
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


def profile(**changes: Any) -> dict[str, Any]:
    p = copy.deepcopy(PROFILE)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(p.get(key), dict):
            p[key].update(value)
        else:
            p[key] = value
    return p


def application(
    *,
    mainland: bool = True,
    nationality: str = "CN",
    language: str = "zh-HK",
    representative: bool = True,
    dependants: bool = True,
    travel_document: str | None = None,
    name: str = "CHAN Tai Man",
    email: str = "chan.taiman@example.com",
    **changes: Any,
) -> dict[str, Any]:
    """The issue's example application, with a unique travel document unless one is given."""
    applicant: dict[str, Any] = {
        "name": name,
        "date_of_birth": "1990-04-12",
        "nationality": nationality,
        "mainland_resident": mainland,
        "email": email,
        "language": language,
        "travel_document_number": travel_document or f"E{next(_doc_numbers):08d}",
    }
    if representative:
        applicant["representative"] = {"name": "Wong & Co.", "email": "cases@wongco.example"}
    data: dict[str, Any] = {
        "applicant": applicant,
        "dependants": [
            {"name": "LI Mei", "relation": "spouse", "date_of_birth": "1991-02-03"},
            {"name": "CHAN Siu Ming", "relation": "child", "date_of_birth": "2018-09-30"},
        ]
        if dependants
        else [],
        "declaration_signed": True,
        "profile": profile(),
    }
    data.update(changes)
    return data


def overseas_application(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "mainland": False,
        "nationality": "GB",
        "language": "en",
        "representative": False,
        "name": "Emily WATSON",
        "email": "emily.watson@example.co.uk",
    }
    base.update(changes)
    return application(**base)
