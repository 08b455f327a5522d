"""Hong Kong calendar days for the rules: turning moments into HK dates, and ages.

Dates written for people go through `workflows.formats.long_date`."""

from __future__ import annotations

from datetime import date, datetime

from states.errors import InvalidInput
from workflows.clock import HK


def hk_date(on: date) -> date:
    """The Hong Kong calendar day of `on`; an aware datetime is converted, a naive one refused."""
    if isinstance(on, datetime):
        if on.tzinfo is None or on.utcoffset() is None:
            raise InvalidInput([f"on: {on.isoformat()} has no time zone"], prefix="invalid date")
        return on.astimezone(HK).date()
    return on


def age_on(date_of_birth: date, on: date) -> int:
    """Whole years completed on `on`: the birthday itself counts (born 1990-04-12 is 36 on
    2026-04-12). Someone born on 29 February turns a year older on 1 March in common years."""
    if date_of_birth > on:
        raise InvalidInput(
            [f"date_of_birth: {date_of_birth.isoformat()} is after {on.isoformat()}"],
            prefix="invalid assessment",
        )
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - int(before_birthday)
