"""Nationalities that may not apply under QMAS, by date (docs/rules.md §5), and country names.

Only periods with a dated source are data here. Albania and Cambodia were excluded at some
point before 2023, but the dates they were dropped are UNCONFIRMED, so they are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Exclusion:
    code: str  # ISO 3166-1 alpha-2
    until: date | None = None  # first day the nationality may apply again; None: still excluded


EXCLUSIONS: tuple[Exclusion, ...] = (
    Exclusion("AF"),
    Exclusion("CU"),
    Exclusion("KP"),
    # Lifted on 25 Oct 2023 (ImmD notice cited by industryhk.org; LegCo reply 20 Mar 2024).
    Exclusion("LA", until=date(2023, 10, 25)),
    Exclusion("NP", until=date(2023, 10, 25)),
    Exclusion("VN", until=date(2023, 10, 25)),
)

_NAMES = {
    "AF": "Afghanistan",
    "AL": "Albania",
    "AU": "Australia",
    "CA": "Canada",
    "CN": "China",
    "CU": "Cuba",
    "GB": "United Kingdom",
    "IN": "India",
    "KH": "Cambodia",
    "KP": "North Korea",
    "LA": "Laos",
    "NP": "Nepal",
    "US": "United States",
    "VN": "Vietnam",
}


def excluded_nationalities(on: date) -> frozenset[str]:
    """ISO alpha-2 codes of the nationalities excluded on the Hong Kong date `on`."""
    return frozenset(e.code for e in EXCLUSIONS if e.until is None or on < e.until)


def country_name(code: str) -> str:
    """A country's English short name for messages; unknown codes come back as given."""
    return _NAMES.get(code.upper(), code)
