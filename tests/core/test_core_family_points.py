"""At submit the family points count the case's accompanying dependants (docs/rules.md §6.1):
the spouse-degree points need a spouse dependant, the child points count the children under 18
on the lodging date, and the profile's ``children_under_18`` is ignored. Frozen clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import time_machine

from states.errors import TransitionNotAllowed
from states.store import Store
from tests.factories import overseas_application, profile
from workflows import advance, create_case
from workflows.clock import HK
from workflows.engine import preview
from workflows.views import case_view

AT = datetime(2023, 6, 1, 10, 0, tzinfo=HK)  # gpt-2023
SPOUSE = {"name": "LI Mei", "relation": "spouse", "date_of_birth": "1991-02-03"}


def child(born: str, name: str = "Kid") -> dict[str, Any]:
    return {"name": name, "relation": "child", "date_of_birth": born}


# 15 (aged 45) + 20 (master's) + 30 (5 years incl. 2 senior) + 10 (Chinese) = 75 without family.
BORDERLINE = profile(
    degrees=[{"level": "master", "renowned_institution": False, "eligible_university": False,
              "stem": False}],
    work={"graduate_years": 5, "senior_years": 2, "international_years": 0,
          "multinational_years": 0, "specified_sector_years": 0},
    languages={"chinese": True, "english": False, "others": 0},
    family={"spouse_degree": True, "children_under_18": 2, "hk_permanent_resident_family": False},
)  # fmt: skip


def borderline(dependants: list[dict[str, Any]]) -> dict[str, Any]:
    """An applicant aged 45 with the borderline profile and these dependants."""
    app = overseas_application(profile=BORDERLINE) | {"dependants": dependants}
    app["applicant"]["date_of_birth"] = "1978-01-01"
    return app


def submitted(store: Store, dependants: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    app = overseas_application(profile=profile(**changes)) | {"dependants": dependants}
    with time_machine.travel(AT, tick=False):
        case_id = create_case(app, store=store)
        advance(case_id, "submit", "A", "applicant", store=store)
    return case_view(case_id, store=store)


@pytest.mark.parametrize(
    ("dependants", "spouse_degree", "family"),
    [
        pytest.param([], True, 0, id="no_dependants_0"),
        pytest.param([SPOUSE], True, 5, id="spouse_with_degree_5"),
        pytest.param([SPOUSE], False, 0, id="spouse_without_degree_0"),
        pytest.param([child("2015-01-01")], True, 5, id="degree_no_spouse_1_child_5"),
        pytest.param([SPOUSE, child("2015-01-01"), child("2010-07-07")], True, 15,
                     id="spouse_and_2_children_15"),
    ],
)  # fmt: skip
def test_submit__family_points_count_the_cases_dependants(
    store: Store, dependants: list[dict[str, Any]], spouse_degree: bool, family: int
) -> None:
    view = submitted(
        store, dependants, family={"spouse_degree": spouse_degree, "children_under_18": 2}
    )
    assert view["state"] == "submitted"
    assert view["categories"]["family"] == family
    assert view["score"] == sum(view["categories"].values())


def test_submit__refused_when_only_the_profiles_claimed_family_reached_the_pass_mark(
    store: Store,
) -> None:
    """The profile claims a graduate spouse and two children; no one accompanies: 75 < 80."""
    app = borderline([])
    with time_machine.travel(AT, tick=False):
        case_id = create_case(app, store=store)
        seen = preview(case_id, "submit", "A", "applicant", store=store)
        with pytest.raises(TransitionNotAllowed) as refused:
            advance(case_id, "submit", "A", "applicant", store=store)
    assert refused.value.reasons == [
        "The applicant scored 75 points, below the pass mark of 80 under the General Points "
        "Test (gpt-2023)."
    ]
    assert not seen.verdict.allowed and list(seen.verdict.reasons) == refused.value.reasons


def test_submit__accepted_when_the_graduate_spouse_accompanies(store: Store) -> None:
    app = borderline([SPOUSE])
    with time_machine.travel(AT, tick=False):
        case_id = create_case(app, store=store)
        advance(case_id, "submit", "A", "applicant", store=store)
    view = case_view(case_id, store=store)
    assert (view["state"], view["score"], view["categories"]["family"]) == ("submitted", 80, 5)


def test_submit__a_child_counts_while_under_18_on_the_lodging_day(store: Store) -> None:
    """Created on 1 May 2023; the child turns 18 on 2 June 2023."""
    family = [SPOUSE, child("2005-06-02", "Almost")]
    with time_machine.travel(datetime(2023, 5, 1, 10, 0, tzinfo=HK), tick=False):
        late = create_case(borderline(family), store=store)
        in_time = create_case(borderline(family), store=store)  # another travel document
    with time_machine.travel(datetime(2023, 6, 1, 10, 0, tzinfo=HK), tick=False):
        advance(in_time, "submit", "A", "applicant", store=store)
    assert case_view(in_time, store=store)["categories"]["family"] == 10  # spouse and child
    turned_18 = datetime(2023, 6, 2, 10, 0, tzinfo=HK)
    with time_machine.travel(turned_18, tick=False), pytest.raises(TransitionNotAllowed) as refused:
        advance(late, "submit", "A", "applicant", store=store)
    assert refused.value.reasons == [
        "Almost is 18 on the lodging date; a child dependant must be under 18."
    ]
