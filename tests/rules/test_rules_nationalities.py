"""Excluded nationalities by date (docs/rules.md §5) and country names for messages."""

from __future__ import annotations

from datetime import date

import pytest

from workflows.rules import country_name, excluded_nationalities


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        pytest.param(date(2015, 1, 1), {"AF", "CU", "KP", "LA", "NP", "VN"}, id="2015"),
        pytest.param(date(2023, 10, 24), {"AF", "CU", "KP", "LA", "NP", "VN"}, id="24_oct_2023"),
        pytest.param(date(2023, 10, 25), {"AF", "CU", "KP"}, id="25_oct_2023_lifted"),
        pytest.param(date(2026, 1, 1), {"AF", "CU", "KP"}, id="2026"),
    ],
)
def test_excluded_nationalities(on: date, expected: set[str]) -> None:
    assert excluded_nationalities(on) == frozenset(expected)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("VN", "Vietnam"),
        ("vn", "Vietnam"),
        ("LA", "Laos"),
        ("NP", "Nepal"),
        ("AF", "Afghanistan"),
        ("CU", "Cuba"),
        ("KP", "North Korea"),
        ("ZZ", "ZZ"),
    ],
)
def test_country_name(code: str, name: str) -> None:
    assert country_name(code) == name
