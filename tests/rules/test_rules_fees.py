"""Fee schedules by the moment they are charged (docs/rules.md §3.1), every fee per person:
HK$190 until 24 Mar 2019, HK$230 from 25 Mar 2019, HK$1,300 and an HK$600 application fee from
26 Feb 2025 11:00 HKT."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from states.errors import InvalidInput
from workflows.clock import HK
from workflows.rules import application_fee_at, fee_due_at, fee_schedule_at, lodging_moment


@pytest.mark.parametrize(
    ("moment", "schedule", "application_fee", "visa_fee"),
    [
        pytest.param(datetime(2006, 6, 28, tzinfo=HK), "entry-permit-190", 0, 190, id="2006"),
        pytest.param(
            datetime(2019, 3, 24, 23, 59, 59, tzinfo=HK),
            "entry-permit-190",
            0,
            190,
            id="24_mar_2019_last_second",
        ),
        pytest.param(
            datetime(2019, 3, 25, tzinfo=HK), "entry-permit-230", 0, 230, id="25_mar_2019_00:00"
        ),
        pytest.param(
            datetime(2019, 3, 24, 15, 59, 59, tzinfo=UTC),
            "entry-permit-190",
            0,
            190,
            id="15:59:59_utc_is_23:59:59_hkt",
        ),
        pytest.param(datetime(2024, 1, 1, tzinfo=HK), "entry-permit-230", 0, 230, id="2024"),
        pytest.param(
            datetime(2025, 2, 26, 10, 59, tzinfo=HK), "entry-permit-230", 0, 230, id="10:59_hkt"
        ),
        pytest.param(
            datetime(2025, 2, 26, 10, 59, 59, tzinfo=HK),
            "entry-permit-230",
            0,
            230,
            id="10:59:59_hkt_one_second_before",
        ),
        pytest.param(
            datetime(2025, 2, 26, 11, 0, tzinfo=HK), "tiered-2025", 600, 1300, id="11:00_hkt"
        ),
        pytest.param(
            datetime(2025, 2, 26, 2, 59, 59, tzinfo=UTC),
            "entry-permit-230",
            0,
            230,
            id="02:59:59_utc_is_10:59:59_hkt",
        ),
        pytest.param(
            datetime(2025, 2, 26, 3, 0, tzinfo=UTC), "tiered-2025", 600, 1300, id="03:00_utc"
        ),
        pytest.param(datetime(2026, 1, 1, tzinfo=HK), "tiered-2025", 600, 1300, id="2026"),
    ],
)
def test_fee_schedule_at__moment(
    moment: datetime, schedule: str, application_fee: int, visa_fee: int
) -> None:
    found = fee_schedule_at(moment)
    assert (found.id, found.application_fee, found.visa_fee) == (
        schedule,
        application_fee,
        visa_fee,
    )
    assert fee_due_at(moment) == visa_fee


def test_fee_schedule__effective_is_aware() -> None:
    assert fee_schedule_at(datetime(2025, 3, 1, tzinfo=HK)).effective == datetime(
        2025, 2, 26, 3, 0, tzinfo=UTC
    )


def test_fee_schedule_at__naive_moment_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="no time zone"):
        fee_schedule_at(datetime(2025, 2, 26, 11, 0))


def test_fee_schedule_at__before_the_scheme_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="no fee schedule before"):
        fee_schedule_at(datetime(2006, 1, 1, tzinfo=HK))


@pytest.mark.parametrize("persons", [1, 2, 4])
@pytest.mark.parametrize(
    ("moment", "visa_fee", "application_fee"),
    [
        pytest.param(datetime(2019, 3, 24, 12, tzinfo=HK), 190, None, id="2019-03-24"),
        pytest.param(datetime(2019, 3, 25, 12, tzinfo=HK), 230, None, id="2019-03-25"),
        pytest.param(datetime(2025, 2, 26, 10, 59, tzinfo=HK), 230, None, id="2025-02-26-10:59"),
        pytest.param(datetime(2025, 2, 26, 11, 0, tzinfo=HK), 1300, 600, id="2025-02-26-11:00"),
    ],
)
def test_fees__are_per_person(
    moment: datetime, visa_fee: int, application_fee: int | None, persons: int
) -> None:
    assert fee_due_at(moment, persons) == visa_fee * persons
    expected = None if application_fee is None else application_fee * persons
    assert application_fee_at(moment, persons) == expected


def test_fees__need_at_least_one_person() -> None:
    with pytest.raises(ValueError, match="at least one person"):
        fee_due_at(datetime(2024, 1, 1, tzinfo=HK), 0)


@pytest.mark.parametrize(
    ("lodged_on", "now", "moment"),
    [
        pytest.param(
            date(2025, 2, 26),
            datetime(2025, 2, 26, 10, 59, tzinfo=HK),
            datetime(2025, 2, 26, 10, 59, tzinfo=HK),
            id="today:_the_submission's_moment",
        ),
        pytest.param(
            date(2025, 2, 26),
            datetime(2025, 2, 26, 3, 30, tzinfo=UTC),
            datetime(2025, 2, 26, 3, 30, tzinfo=UTC),
            id="today_in_hong_kong,_given_in_utc",
        ),
        pytest.param(
            date(2025, 2, 26),
            datetime(2025, 2, 27, 9, 0, tzinfo=HK),
            datetime(2025, 2, 26, 0, 0, tzinfo=HK),
            id="past:_00:00_hkt_that_day",
        ),
    ],
)
def test_lodging_moment(lodged_on: date, now: datetime, moment: datetime) -> None:
    assert lodging_moment(lodged_on, now) == moment
