"""Fee schedules by the moment they are charged (docs/rules.md §3), every fee per person.

The visa (entry permit) fee is charged when the quota is allotted, for the principal and each
accompanying dependant; the application fee, from 26 Feb 2025 11:00 Hong Kong time, is paid
with the application, again per person. The 2025 switch is at an instant, so schedules are keyed
by aware datetimes, not dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from states.errors import InvalidInput
from workflows.clock import HK, today_hk


@dataclass(frozen=True)
class FeeSchedule:
    id: str
    effective: datetime  # aware
    application_fee: int  # HK$ per person, paid on submission (0: none)
    visa_fee: int  # HK$ per person, paid after quota allotment / approval
    label: str


FEE_SCHEDULES: tuple[FeeSchedule, ...] = (
    # The entry-permit fee before the 2019 revision. Its start is taken as the day applications
    # opened (28 Jun 2006), the earliest date the engine can meet; the amount before the
    # revision of 9 Feb 2015 is UNCONFIRMED (docs/rules.md §3.1) and taken to be the same.
    FeeSchedule(
        id="entry-permit-190",
        effective=datetime(2006, 6, 28, tzinfo=HK),
        application_fee=0,
        visa_fee=190,
        label="HK$190 entry permit fee per person",
    ),
    # ImmD press release of 16 Jan 2019: HK$190 -> HK$230 from 25 Mar 2019.
    FeeSchedule(
        id="entry-permit-230",
        effective=datetime(2019, 3, 25, tzinfo=HK),
        application_fee=0,
        visa_fee=230,
        label="HK$230 entry permit fee per person",
    ),
    # Government release of 26 Feb 2025. The HK$600 visa fee is for a limit of stay of 180
    # days or less; QMAS stays are years, so the HK$1,300 tier always applies.
    FeeSchedule(
        id="tiered-2025",
        effective=datetime(2025, 2, 26, 11, 0, tzinfo=HK),
        application_fee=600,
        visa_fee=1300,
        label="HK$600 application fee and HK$1,300 visa fee per person "
        "(limit of stay of 181 days or more)",
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


def _check_persons(persons: int) -> None:
    if persons < 1:
        raise ValueError(f"a fee is charged to at least one person, not {persons}")


def fee_due_at(moment: datetime, persons: int = 1) -> int:
    """What the visa payment after quota allotment must be: the visa fee in force at `moment`
    for each of ``persons`` (the principal and every accompanying dependant)."""
    _check_persons(persons)
    return fee_schedule_at(moment).visa_fee * persons


def application_fee_at(moment: datetime, persons: int = 1) -> int | None:
    """The application fee payable with an application lodged at `moment` by ``persons``
    (principal and dependants), or None where the schedule has no application fee."""
    _check_persons(persons)
    fee = fee_schedule_at(moment).application_fee
    return fee * persons if fee else None


def first_application_fee() -> FeeSchedule:
    """The first schedule with an application fee: the moment one became payable."""
    return next(s for s in FEE_SCHEDULES if s.application_fee)


def lodging_moment(lodged_on: date, now: datetime) -> datetime:
    """The moment an application counts as lodged, which chooses its application fee.

    A lodging date is a day, but the 2025 fee starts at 11:00. When the date given is today (or
    none is given) the moment of the submission itself counts; a date in the past means the
    start of that day in Hong Kong (00:00), so an application recorded as lodged on 26 Feb 2025
    after the day counts as lodged before the fee started.
    """
    if lodged_on == today_hk(now):
        return now
    return datetime.combine(lodged_on, time.min, tzinfo=HK)
