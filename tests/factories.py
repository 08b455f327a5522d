"""Small builders for test data: application files and profiles (tests edit what they need)."""

from __future__ import annotations

import itertools
from typing import Any

from workflows import samples

_doc_numbers = itertools.count(1)

PROFILE = samples.PROFILE


def profile(**changes: Any) -> dict[str, Any]:
    return samples.profile(**changes)


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
        "profile": samples.profile(),
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


def persons(data: dict[str, Any]) -> int:
    """Who pays each fee of an application file (docs/rules.md §3.1): the applicant and every
    dependant."""
    return 1 + len(data.get("dependants", []))


# --- accounts ------------------------------------------------------------------------------
# The test staff, one account per role (two caseworkers, for the four-eyes pairs). No
# passwords: argon2 costs ~50 ms a hash; tests that log in add a password themselves.
STAFF: dict[str, tuple[str, ...]] = {
    "officer.lam": ("caseworker",),
    "officer.wong": ("caseworker",),
    "supervisor.ho": ("supervisor",),
    "committee.cheung": ("committee",),
    "auditor.yu": ("auditor",),
    "admin.lee": ("admin",),
}
# Who acts in each role when a test does not care: distinct accounts, so that no four-eyes
# rule refuses a walk through the lifecycle. ``applicant``: a caseworker recording the act.
ACTOR_FOR: dict[str, str] = {
    "applicant": "officer.wong",
    "caseworker": "officer.lam",
    "supervisor": "supervisor.ho",
    "committee": "committee.cheung",
    "auditor": "auditor.yu",
    "system": "system",
}


def add_staff(store: Any) -> None:
    """The `STAFF` accounts and the built-in ``system`` account, in ``store``."""
    from states.accounts import Accounts

    accounts = Accounts(store)
    accounts.ensure_system("2023-01-01T00:00:00Z")
    for username, roles in STAFF.items():
        if accounts.get(username) is None:
            accounts.add(username, roles, by="tests", at="2023-01-01T00:00:00Z")
