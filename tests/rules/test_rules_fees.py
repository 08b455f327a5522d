"""Fee schedules by the moment of payment (qmas.md §3.8): the switch at 26 Feb 2025 11:00 HKT."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from states.errors import InvalidInput
from workflows.clock import HK
from workflows.rules import fee_due_at, fee_schedule_at


@pytest.mark.parametrize(
    ("moment", "schedule", "application_fee", "visa_fee"),
    [
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
