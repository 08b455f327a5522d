"""Rule-set selection by lodging date (docs/rules.md §1.1) and the integrity of the rule-set
data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest

from states.errors import InvalidInput
from workflows.clock import HK
from workflows.rules import RULESETS, ruleset_by_id, ruleset_for
from workflows.rules.rulesets import GPT_2023, Scoring

DAY = timedelta(days=1)

SELECTION = [
    pytest.param(date(2008, 1, 1), "gpt-2008", id="2008-01-01_gpt-2008"),
    pytest.param(date(2008, 1, 2), "gpt-2008", id="2008-01-02_gpt-2008"),
    pytest.param(date(2015, 4, 30), "gpt-2008", id="2015-04-30_gpt-2008"),
    pytest.param(date(2015, 5, 1), "gpt-2008", id="2015-05-01_gpt-2008"),
    # gpt-2015 starts on 4 May 2015 (docs/rules.md §1.1)
    pytest.param(date(2015, 5, 3), "gpt-2008", id="2015-05-03_gpt-2008"),
    pytest.param(date(2015, 5, 4), "gpt-2015", id="2015-05-04_gpt-2015"),
    pytest.param(date(2015, 5, 5), "gpt-2015", id="2015-05-05_gpt-2015"),
    pytest.param(date(2018, 8, 27), "gpt-2015", id="2018-08-27_gpt-2015"),
    pytest.param(date(2018, 8, 28), "gpt-2018", id="2018-08-28_gpt-2018"),
    pytest.param(date(2018, 8, 29), "gpt-2018", id="2018-08-29_gpt-2018"),
    pytest.param(date(2022, 12, 31), "gpt-2018", id="2022-12-31_gpt-2018"),
    pytest.param(date(2023, 1, 1), "gpt-2023", id="2023-01-01_gpt-2023"),
    pytest.param(date(2023, 1, 2), "gpt-2023", id="2023-01-02_gpt-2023"),
    pytest.param(date(2024, 10, 31), "gpt-2023", id="2024-10-31_gpt-2023"),
    pytest.param(date(2024, 11, 1), "enhanced-2024", id="2024-11-01_enhanced-2024"),
    pytest.param(date(2024, 11, 2), "enhanced-2024", id="2024-11-02_enhanced-2024"),
    pytest.param(date(2030, 1, 1), "enhanced-2024", id="2030-01-01_enhanced-2024"),
]


@pytest.mark.parametrize(("on", "expected"), SELECTION)
def test_ruleset_for__lodging_date(on: date, expected: str) -> None:
    assert ruleset_for(on).id == expected


def test_ruleset_for__before_the_first_rule_set_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="gpt-2008, starts on 1 January 2008"):
        ruleset_for(date(2007, 12, 31))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(datetime(2024, 10, 31, 15, 59, 59, tzinfo=UTC), "gpt-2023", id="hk_23:59:59"),
        pytest.param(datetime(2024, 10, 31, 16, 0, tzinfo=UTC), "enhanced-2024", id="hk_00:00"),
        pytest.param(datetime(2024, 11, 1, 0, 0, tzinfo=HK), "enhanced-2024", id="hk_aware"),
    ],
)
def test_ruleset_for__an_aware_moment_counts_by_its_hong_kong_date(
    moment: datetime, expected: str
) -> None:
    assert ruleset_for(moment).id == expected


def test_ruleset_for__a_naive_moment_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="no time zone"):
        ruleset_for(datetime(2024, 11, 1, 9, 0))


@pytest.mark.parametrize("ruleset", RULESETS, ids=lambda r: r.id)
def test_ruleset_by_id__finds_each(ruleset: object) -> None:
    assert ruleset_by_id(ruleset.id) is ruleset  # type: ignore[attr-defined]


def test_ruleset_by_id__unknown_lists_the_known_ids() -> None:
    with pytest.raises(InvalidInput) as caught:
        ruleset_by_id("gpt-1999")
    assert caught.value.errors == [
        "unknown rule set 'gpt-1999'; known: gpt-2008, gpt-2015, gpt-2018, gpt-2023, enhanced-2024"
    ]


def test_rulesets__follow_each_other_without_gap_or_overlap() -> None:
    for earlier, later in pairwise(RULESETS):
        assert earlier.ends is not None
        assert earlier.ends + DAY == later.starts
    assert RULESETS[-1].ends is None


@pytest.mark.parametrize(
    ("ruleset_id", "version", "maximum", "pass_mark"),
    [
        ("gpt-2008", "B", 165, 80),
        ("gpt-2015", "C", 195, 80),
        ("gpt-2018", "D", 225, 80),
        ("gpt-2023", "E", 245, 80),
        ("enhanced-2024", "F", 12, 6),
    ],
)
def test_rulesets__version_maximum_and_pass_mark(
    ruleset_id: str, version: str, maximum: int, pass_mark: int
) -> None:
    rules = ruleset_by_id(ruleset_id)
    assert (rules.version, rules.maximum, rules.pass_mark) == (version, maximum, pass_mark)
    if rules.scoring is Scoring.POINTS:
        assert rules.points is not None
        assert rules.points.caps.total == maximum


def test_gpt2023__category_maxima() -> None:
    assert GPT_2023.points is not None
    assert GPT_2023.points.caps.as_dict() == {
        "age": 30,
        "education": 70,
        "work": 75,
        "talent_list": 30,
        "language": 20,
        "family": 20,
    }


@pytest.mark.parametrize(
    ("ruleset_id", "language_is_prerequisite"),
    [
        ("gpt-2008", True),
        ("gpt-2015", True),
        ("gpt-2018", True),
        ("gpt-2023", True),
        ("enhanced-2024", False),  # UNCONFIRMED, docs/rules.md §2.3: kept as data
    ],
)
def test_rulesets__language_prerequisite_flag(
    ruleset_id: str, language_is_prerequisite: bool
) -> None:
    assert ruleset_by_id(ruleset_id).language_is_prerequisite is language_is_prerequisite


def test_ruleset__caps_that_do_not_add_up_to_the_maximum_are_refused() -> None:
    with pytest.raises(ValueError, match="add up to 250"):
        replace(GPT_2023, maximum=250)


def test_rulesets__every_one_names_its_sources() -> None:
    for rules in RULESETS:
        assert rules.sources and rules.confidence, rules.id
