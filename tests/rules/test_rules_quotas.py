"""The annual quota (docs/rules.md §4): caps by calendar year, suspended from 28 Dec 2022."""

from __future__ import annotations

from datetime import date

import pytest

from states.errors import InvalidInput
from workflows.rules import annual_quota


@pytest.mark.parametrize(
    ("year", "on", "cap"),
    [
        pytest.param(2006, date(2006, 11, 7), 1000, id="2006_1000"),
        pytest.param(2019, date(2019, 6, 1), 1000, id="2019_1000"),
        pytest.param(2020, date(2020, 12, 1), 2000, id="2020_2000"),
        pytest.param(2021, date(2021, 6, 1), 4000, id="2021_4000"),
        pytest.param(2022, date(2022, 6, 1), 4000, id="2022_4000"),
        pytest.param(2022, date(2022, 12, 27), 4000, id="allotted_27_dec_2022_capped"),
        pytest.param(2022, date(2022, 12, 28), None, id="allotted_28_dec_2022_uncapped"),
        pytest.param(2023, date(2023, 6, 1), None, id="2023_uncapped"),
        pytest.param(2025, date(2025, 6, 1), None, id="2025_uncapped"),
    ],
)
def test_annual_quota(year: int, on: date, cap: int | None) -> None:
    assert annual_quota(year, on) == cap


@pytest.mark.parametrize(
    ("overrides", "year", "on", "cap"),
    [
        pytest.param({2022: 10}, 2022, date(2022, 6, 1), 10, id="lower_cap"),
        pytest.param({2021: None}, 2021, date(2021, 6, 1), None, id="lift_cap"),
        pytest.param({2025: 500}, 2025, date(2025, 6, 1), 500, id="reinstate_after_suspension"),
        pytest.param({2025: 500}, 2024, date(2024, 6, 1), None, id="other_years_untouched"),
    ],
)
def test_annual_quota__overrides_win(
    overrides: dict[int, int | None], year: int, on: date, cap: int | None
) -> None:
    assert annual_quota(year, on, overrides=overrides) == cap


def test_annual_quota__before_the_scheme_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="no QMAS quota before 2006"):
        annual_quota(2005, date(2005, 6, 1))
