"""The language prerequisite (docs/rules.md §2.3) is read from ``languages``: neither Chinese nor
English means it is unmet. The old ``prerequisites.good_chinese_or_english`` flag is still
accepted (stored profiles carry it) but decides nothing; a note says when it disagrees."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.rules.factories import EXAMPLE, profile_data
from workflows.rules import assess, validate_profile

ON = date(2024, 3, 1)  # gpt-2023
DOB = date(1985, 6, 1)
UNMET = (
    "The applicant's languages include neither Chinese nor English; good written and spoken "
    "Chinese (Putonghua or Cantonese) or English is a prerequisite."
)


def judged(languages: dict[str, Any], flag: bool | None = None, on: date = ON) -> Any:
    prerequisites = dict(EXAMPLE["prerequisites"])
    if flag is not None:
        prerequisites["good_chinese_or_english"] = flag
    data = profile_data(languages=languages, prerequisites=prerequisites)
    return assess(data, date_of_birth=DOB, nationality="CN", on=on)


@pytest.mark.parametrize(
    ("chinese", "english", "met"),
    [
        pytest.param(True, True, True, id="both"),
        pytest.param(True, False, True, id="chinese_only"),
        pytest.param(False, True, True, id="english_only"),
        pytest.param(False, False, False, id="neither_even_with_other_languages"),
    ],
)
@pytest.mark.parametrize("on", [date(2010, 1, 1), ON], ids=["gpt-2008", "gpt-2023"])
def test_language_prerequisite__read_from_languages(
    chinese: bool, english: bool, met: bool, on: date
) -> None:
    result = judged({"chinese": chinese, "english": english, "others": 3}, on=on)
    assert (UNMET in result.reasons) is not met
    assert result.prerequisites_met is met
    assert result.eligible is met  # the example profile passes the test either way
    assert result.passed


@pytest.mark.parametrize(
    ("languages", "flag", "unmet", "note"),
    [
        pytest.param(
            {"chinese": False, "english": True, "others": 0},
            False,
            False,
            "The language prerequisite is met: it is read from languages, and the old "
            "prerequisites.good_chinese_or_english (false) is ignored.",
            id="flag_false_but_english_met",
        ),
        pytest.param(
            {"chinese": False, "english": False, "others": 1},
            True,
            True,
            "The language prerequisite is not met: it is read from languages, and the old "
            "prerequisites.good_chinese_or_english (true) is ignored.",
            id="flag_true_but_neither_unmet",
        ),
    ],
)
def test_language_prerequisite__the_old_flag_cannot_contradict_languages(
    languages: dict[str, Any], flag: bool, unmet: bool, note: str
) -> None:
    result = judged(languages, flag)
    assert (UNMET in result.reasons) is unmet
    assert note in result.notes


@pytest.mark.parametrize("flag", [True, None], ids=["agrees", "null"])
def test_language_prerequisite__an_agreeing_or_null_old_flag_adds_no_note(
    flag: bool | None,
) -> None:
    data = profile_data(prerequisites={"good_chinese_or_english": flag})
    result = assess(data, date_of_birth=DOB, nationality="CN", on=ON)
    assert result.eligible
    assert not any("good_chinese_or_english" in n for n in result.notes)


def test_profile__old_flag_still_validates_and_is_optional() -> None:
    old = profile_data(prerequisites={"good_chinese_or_english": True})
    assert validate_profile(old).prerequisites.good_chinese_or_english is True
    assert "good_chinese_or_english" not in EXAMPLE["prerequisites"]
    assert validate_profile(EXAMPLE).prerequisites.good_chinese_or_english is None


def test_language_prerequisite__not_asked_under_enhanced_2024_even_with_old_flag() -> None:
    result = judged({"chinese": False, "english": False, "others": 2}, False, date(2025, 1, 2))
    assert UNMET not in result.reasons
    assert result.notes == []
