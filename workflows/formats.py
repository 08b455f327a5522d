"""How the engine writes dates and money for people: one formatter each, used everywhere.

Sentences a caseworker reads, letters an applicant reads and console output all go through
these, so "3 March 2026" and "HK$1,300" look the same wherever they appear.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from states.errors import InvalidInput

_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def as_date(value: str | date | datetime) -> date:
    """A date from a date, a datetime or ISO text (a full timestamp's date part counts)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as err:
        raise InvalidInput(f"not an ISO date: {value!r}", prefix="cannot format date") from err


def long_date(value: str | date | datetime, language: str = "en") -> str:
    """ "2026-03-03" -> "3 March 2026" (en) or "2026年3月3日" (zh-HK)."""
    d = as_date(value)
    if language == "zh-HK":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"


def hkd(amount: int | float | Decimal | str) -> str:
    """230 -> "HK$230", 1300 -> "HK$1,300", 1300.5 -> "HK$1,300.50"."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as err:
        raise InvalidInput(f"not an amount: {amount!r}", prefix="cannot format money") from err
    if value == value.to_integral_value():
        return f"HK${int(value):,}"
    return f"HK${value:,.2f}"
