"""The annual QMAS quota (docs/rules.md §4): the cap on allotments in a calendar year.

From 28 Dec 2022 the quota was suspended (and the enhanced GPT from 1 Nov 2024 has none), so
allotments made on or after that day are uncapped. Whether a quota survives for the ABPT is
UNCONFIRMED, which is why callers may pass `overrides`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from states.errors import InvalidInput


@dataclass(frozen=True)
class QuotaPeriod:
    first_year: int
    last_year: int | None  # None: open-ended
    cap: int


QUOTAS: tuple[QuotaPeriod, ...] = (
    QuotaPeriod(2006, 2019, 1000),  # Feb 2006 announcement
    QuotaPeriod(2020, 2020, 2000),  # raised 26 Nov 2020
    QuotaPeriod(2021, None, 4000),  # 2021 Policy Address; applied to 2021 and 2022
)
SUSPENDED_FROM = date(2022, 12, 28)  # 2022 Policy Address: suspended for allotments from here


def annual_quota(
    year: int, on: date, overrides: Mapping[int, int | None] | None = None
) -> int | None:
    """The cap for allotments in calendar `year` made on `on`; None means no cap.

    `overrides` (year -> cap or None) wins over the table, for an operator who knows better.
    """
    if overrides is not None and year in overrides:
        return overrides[year]
    if on >= SUSPENDED_FROM:
        return None
    for period in QUOTAS:
        if period.first_year <= year and (period.last_year is None or year <= period.last_year):
            return period.cap
    raise InvalidInput(
        [f"year: no QMAS quota before {QUOTAS[0].first_year} (got {year})"],
        prefix="invalid quota year",
    )
