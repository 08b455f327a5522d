"""Fee schedules by the moment of payment (qmas.md §3.8).

The switch is at an instant, 26 Feb 2025 11:00 Hong Kong time, so schedules are keyed by aware
datetimes, not dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from states.errors import InvalidInput
from workflows.clock import HK


@dataclass(frozen=True)
class FeeSchedule:
    id: str
    effective: datetime  # aware
    application_fee: int  # HK$, paid on submission
    visa_fee: int  # HK$, paid after quota allotment / approval
    label: str


FEE_SCHEDULES: tuple[FeeSchedule, ...] = (
    # The historic flat entry-permit fee; no application fee. Its start is taken as the day
    # applications opened (28 Jun 2006), the earliest date the engine can meet.
    FeeSchedule(
        id="entry-permit-230",
        effective=datetime(2006, 6, 28, tzinfo=HK),
        application_fee=0,
        visa_fee=230,
        label="HK$230 entry permit fee",
    ),
    # Government release of 26 Feb 2025. The HK$600 visa fee is for a limit of stay of 180
    # days or less; QMAS stays are years, so the HK$1,300 tier always applies.
    FeeSchedule(
        id="tiered-2025",
        effective=datetime(2025, 2, 26, 11, 0, tzinfo=HK),
        application_fee=600,
        visa_fee=1300,
        label="HK$600 application fee; HK$1,300 visa fee (limit of stay of 181 days or more)",
    ),
)


def fee_schedule_at(moment: datetime) -> FeeSchedule:
    """The schedule in force at an aware `moment`."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            [f"moment: {moment.isoformat()} has no time zone"], prefix="invalid fee moment"
        )
    in_force = [s for s in FEE_SCHEDULES if s.effective <= moment]
    if not in_force:
        first = FEE_SCHEDULES[0]
        raise InvalidInput(
            [f"no fee schedule before {first.effective.isoformat()} ({first.id})"],
            prefix="invalid fee moment",
        )
    return in_force[-1]


def fee_due_at(moment: datetime) -> int:
    """What the visa payment after quota allotment must be: the visa fee in force at `moment`."""
    return fee_schedule_at(moment).visa_fee
