"""Hong Kong working days: weekends and public holidays (the ``holidays`` package) are skipped."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _hk_holidays(year: int) -> holidays.HolidayBase:
    # The package's default ("public") is only the statutory holidays of the Employment
    # Ordinance; government offices close on every general holiday (Cap. 149), which it files
    # as "optional" (Good Friday, the day after, Easter Monday, ...).
    return holidays.country_holidays("HK", years=year, categories=("public", "optional"))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _hk_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself is not counted)."""
    step = 1 if days >= 0 else -1
    current, left = start, abs(days)
    while left:
        current += timedelta(days=step)
        if is_working_day(current):
            left -= 1
    return current
