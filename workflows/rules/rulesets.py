"""The dated rule sets of the points tests, as data (docs/rules.md §1.1 dates, §1.2 tables).

Each `RuleSet` covers the applications lodged between `starts` and `ends` (both inclusive,
Hong Kong dates). Scoring code in `points.py` and `enhanced.py` reads these tables and never
compares dates itself; a new era is a new entry in `RULESETS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from states.errors import InvalidInput
from workflows.formats import long_date
from workflows.rules.dates import hk_date
from workflows.rules.tables import (
    AgeBand,
    CategoryCaps,
    CriteriaThresholds,
    EducationTier,
    FamilyTable,
    LanguageTable,
    PointsTable,
    Scoring,
    WorkBonus,
    WorkTier,
)

__all__ = ["RULESETS", "RuleSet", "Scoring", "ruleset_by_id", "ruleset_for"]


@dataclass(frozen=True)
class RuleSet:
    id: str
    starts: date
    ends: date | None  # inclusive; None: still in force
    version: str  # the version letter, docs/rules.md §1.1
    scoring: Scoring
    pass_mark: int
    maximum: int
    points: PointsTable | None = None
    criteria: CriteriaThresholds | None = None
    test_kinds: tuple[str, ...] = ("general", "achievement")
    minimum_age: int = 18
    language_is_prerequisite: bool = True
    sources: tuple[str, ...] = ()
    confidence: str = ""

    def __post_init__(self) -> None:
        if self.scoring is Scoring.POINTS:
            if self.points is None or self.points.caps.total != self.maximum:
                raise ValueError(f"{self.id}: category caps must add up to {self.maximum}")
        elif self.criteria is None:
            raise ValueError(f"{self.id}: a criteria rule set needs its thresholds")
        if self.ends is not None and self.ends < self.starts:
            raise ValueError(f"{self.id}: ends before it starts")

    def covers(self, on: date) -> bool:
        return self.starts <= on and (self.ends is None or on <= self.ends)


# Shared by every GPT version since the 2008 relaxation (docs/rules.md §1.2, Versions B–E).
_AGE = (AgeBand(18, 39, 30), AgeBand(40, 44, 20), AgeBand(45, 50, 15), AgeBand(51, None, 0))
_LANGUAGE = LanguageTable(both=20, one_plus_other=15, one=10)
_FAMILY = FamilyTable(spouse_degree=5, hk_permanent_resident_family=5, per_child=5, children_cap=10)

# From 4 May 2015 (Version C): lower education/work tiers plus the renowned and international
# bonuses.
_EDUCATION_2015 = (
    EducationTier(40, (("doctorate", 1), ("master", 2))),
    EducationTier(20, (("master", 1), ("bachelor", 2))),
    EducationTier(10, (("bachelor", 1), ("professional", 1))),
)
_WORK_2015 = (
    WorkTier(40, graduate_years=10, senior_years=5),
    WorkTier(30, graduate_years=5, senior_years=2),
    WorkTier(15, graduate_years=5, senior_years=0),
    WorkTier(5, graduate_years=2, senior_years=0),
)
_INTERNATIONAL = WorkBonus("international_years", min_years=2, points=15)
_MULTINATIONAL = WorkBonus("multinational_years", min_years=3, points=20)

POINTS_2008 = PointsTable(
    age=_AGE,
    education=(
        EducationTier(45, (("doctorate", 2),)),
        EducationTier(40, (("doctorate", 1), ("master", 2))),
        EducationTier(35, (("master", 1), ("bachelor", 2))),
        EducationTier(30, (("bachelor", 1), ("professional", 1))),
    ),
    renowned_bonus=0,
    work=(
        WorkTier(50, graduate_years=10, senior_years=5),
        WorkTier(40, graduate_years=5, senior_years=2),
        WorkTier(30, graduate_years=5, senior_years=0),
        WorkTier(10, graduate_years=2, senior_years=0),
    ),
    work_bonuses=(),
    talent_list=0,
    language=_LANGUAGE,
    family=_FAMILY,
    caps=CategoryCaps(age=30, education=45, work=50, talent_list=0, language=20, family=20),
)
POINTS_2015 = PointsTable(
    age=_AGE,
    education=_EDUCATION_2015,
    renowned_bonus=30,
    work=_WORK_2015,
    work_bonuses=(_INTERNATIONAL,),
    talent_list=0,
    language=_LANGUAGE,
    family=_FAMILY,
    caps=CategoryCaps(age=30, education=70, work=55, talent_list=0, language=20, family=20),
)
POINTS_2018 = PointsTable(
    age=_AGE,
    education=_EDUCATION_2015,
    renowned_bonus=30,
    work=_WORK_2015,
    work_bonuses=(_INTERNATIONAL,),
    talent_list=30,
    language=_LANGUAGE,
    family=_FAMILY,
    caps=CategoryCaps(age=30, education=70, work=55, talent_list=30, language=20, family=20),
)
POINTS_2023 = PointsTable(
    age=_AGE,
    education=_EDUCATION_2015,
    renowned_bonus=30,
    work=_WORK_2015,
    work_bonuses=(_INTERNATIONAL, _MULTINATIONAL),
    talent_list=30,
    language=_LANGUAGE,
    family=_FAMILY,
    caps=CategoryCaps(age=30, education=70, work=75, talent_list=30, language=20, family=20),
)

GPT_2008 = RuleSet(
    id="gpt-2008",
    starts=date(2008, 1, 1),
    ends=date(2015, 5, 3),
    version="B",
    scoring=Scoring.POINTS,
    pass_mark=80,
    maximum=165,
    points=POINTS_2008,
    sources=("docs/rules.md §1.1 (~2008)", "docs/rules.md §1.2 Version B", "docs/rules.md §1.4"),
    confidence=(
        "medium: table from third-party copies of the ImmD table; the start day is UNCONFIRMED "
        "(news of 21 Jan 2008 says 'effective immediately'), 1 Jan 2008 is a convention"
    ),
)
GPT_2015 = RuleSet(
    id="gpt-2015",
    starts=date(2015, 5, 4),
    ends=date(2018, 8, 27),
    version="C",
    scoring=Scoring.POINTS,
    pass_mark=80,
    maximum=195,
    points=POINTS_2015,
    sources=("docs/rules.md §1.1 (4 May 2015)", "docs/rules.md §1.2 Version C"),
    confidence=(
        "medium: implemented from 4 May 2015 per an ImmD announcement quoted by a third party "
        "(companysec.com, 28 Apr 2015), consistent with the ImmD annual report's 'since May "
        "2015'; tables come from third-party copies"
    ),
)
GPT_2018 = RuleSet(
    id="gpt-2018",
    starts=date(2018, 8, 28),
    ends=date(2022, 12, 31),
    version="D",
    scoring=Scoring.POINTS,
    pass_mark=80,
    maximum=225,
    points=POINTS_2018,
    sources=("docs/rules.md §1.1 (28 Aug 2018 Talent List)", "docs/rules.md §1.2 Version D"),
    confidence="high for the start (ImmD Talent List page); tables from third-party copies",
)
GPT_2023 = RuleSet(
    id="gpt-2023",
    starts=date(2023, 1, 1),
    ends=date(2024, 10, 31),
    version="E",
    scoring=Scoring.POINTS,
    pass_mark=80,
    maximum=245,
    points=POINTS_2023,
    sources=("docs/rules.md §1.1 (early 2023, 1 Nov 2024)", "docs/rules.md §1.2 Version E"),
    confidence=(
        "medium: 1 Jan 2023 start per Xinhua ('introduced on Jan. 1, 2023'), otherwise "
        "UNCONFIRMED; the end (31 Oct 2024) is official"
    ),
)
ENHANCED_2024 = RuleSet(
    id="enhanced-2024",
    starts=date(2024, 11, 1),
    ends=None,
    version="F",
    scoring=Scoring.CRITERIA,
    pass_mark=6,
    maximum=12,
    criteria=CriteriaThresholds(),
    # docs/rules.md §2.3: after Nov 2024 the ImmD self-assessment page lists four prerequisites
    # (age, finance, character, education); language moved into the questionnaire. Whether it
    # was formally dropped as a prerequisite is UNCONFIRMED, hence a flag, not code.
    language_is_prerequisite=False,
    sources=("docs/rules.md §1.1 (1 Nov 2024)", "docs/rules.md §2.3", "docs/rules.md §1.3"),
    confidence=(
        "high for the date and the twelve criteria (government release); ABPT scoring after "
        "Nov 2024 is UNCONFIRMED (docs/rules.md §1.4): 12 or 0 here"
    ),
)

RULESETS: tuple[RuleSet, ...] = (GPT_2008, GPT_2015, GPT_2018, GPT_2023, ENHANCED_2024)


def ruleset_for(on: date) -> RuleSet:
    """The rule set in force on the lodging date `on` (a Hong Kong date, or an aware moment)."""
    day = hk_date(on)
    for ruleset in RULESETS:
        if ruleset.covers(day):
            return ruleset
    first = RULESETS[0]
    raise InvalidInput(
        [
            f"no rule set covers {long_date(day)}; the first, {first.id}, "
            f"starts on {long_date(first.starts)}"
        ],
        prefix="invalid lodging date",
    )


def ruleset_by_id(ruleset_id: str) -> RuleSet:
    for ruleset in RULESETS:
        if ruleset.id == ruleset_id:
            return ruleset
    known = ", ".join(r.id for r in RULESETS)
    raise InvalidInput(
        [f"unknown rule set {ruleset_id!r}; known: {known}"], prefix="invalid rule set"
    )


def _check_contiguous(rulesets: tuple[RuleSet, ...]) -> None:
    """Eras must follow each other day by day: a gap or overlap would misdate a case."""
    for earlier, later in pairwise(rulesets):
        if earlier.ends is None or earlier.ends + timedelta(days=1) != later.starts:
            raise ValueError(f"{earlier.id} and {later.id} are not contiguous")


_check_contiguous(RULESETS)
