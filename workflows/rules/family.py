"""Who the family points count (docs/rules.md §6.1 Family points; §6.2 Dependants).

The family points are for the ACCOMPANYING family: 5 for a spouse educated to degree level who
accompanies the applicant, 5 for each accompanying unmarried child under 18 (at most 10), and 5
for an immediate family member who is a Hong Kong permanent resident living in Hong Kong.

- An application (a case, or ``qmas assess`` given an application file, with or without
  dependants) counts its dependants on the lodging date. The spouse points need a ``spouse``
  dependant, whose degree the profile's ``family.spouse_degree`` states; the child points count
  the ``child`` dependants who are unmarried and under 18 that day. The profile's
  ``family.children_under_18`` is ignored, and the breakdown says so.
- A bare profile (no application around it) is taken at its word: ``spouse_degree`` and
  ``children_under_18`` as stated.
- ``hk_permanent_resident_family`` always comes from the profile: that relative lives in Hong
  Kong and accompanies no one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from workflows.formats import long_date
from workflows.rules.dates import age_on
from workflows.rules.profile import Profile

CHILD_AGE_LIMIT = 18  # a child dependant is under 18 on the lodging date (docs/rules.md §6.2)


@dataclass(frozen=True)
class Dependant:
    """An accompanying dependant as the rules see one (an application file's ``dependants``
    entry, or a case's dependant row)."""

    relation: str  # "spouse" or "child"
    date_of_birth: date
    married: bool = False
    name: str = ""


@dataclass(frozen=True)
class FamilyCount:
    """What the family points are counted from, with the sentences that say how."""

    spouse_degree: bool  # a spouse with a degree counts
    children_under_18: int  # children that count (before the cap)
    hk_permanent_resident_family: bool
    from_dependants: bool  # False: a bare profile's own numbers
    notes: tuple[str, ...] = ()


def count_family(profile: Profile, dependants: Sequence[Dependant] | None, on: date) -> FamilyCount:
    """The family that earns points for an application lodged on ``on``.

    ``dependants`` is None for a bare profile (its own numbers are used) and a sequence, empty
    or not, for an application (its accompanying dependants are counted)."""
    family = profile.family
    if dependants is None:
        return FamilyCount(
            spouse_degree=family.spouse_degree,
            children_under_18=family.children_under_18,
            hk_permanent_resident_family=family.hk_permanent_resident_family,
            from_dependants=False,
            notes=(
                "Family points are taken from the profile as stated (a bare profile, with no "
                f"dependants): family.spouse_degree {_flag(family.spouse_degree)}, "
                f"family.children_under_18 {family.children_under_18}.",
            ),
        )
    spouse = any(d.relation == "spouse" for d in dependants)
    counted = 0
    left_out: list[str] = []
    for d in dependants:
        if d.relation != "child":
            continue
        who = d.name or "A child dependant"
        if d.date_of_birth > on:
            left_out.append(f"{who} is born after {long_date(on)}, so earns no family points.")
        elif (age := age_on(d.date_of_birth, on)) >= CHILD_AGE_LIMIT:
            left_out.append(
                f"{who} is {age} on {long_date(on)}, so earns no family points (a child must "
                f"be under {CHILD_AGE_LIMIT})."
            )
        elif d.married:
            left_out.append(
                f"{who} is married, so earns no family points (a child must be unmarried)."
            )
        else:
            counted += 1
    spouse_counts = spouse and family.spouse_degree
    if spouse and family.spouse_degree:
        spouse_text = "a spouse with a degree"
    elif spouse:
        spouse_text = "a spouse without a degree (family.spouse_degree is false)"
    elif family.spouse_degree:
        spouse_text = "no spouse (family.spouse_degree counts only for an accompanying spouse)"
    else:
        spouse_text = "no spouse"
    children_text = {0: "no unmarried child", 1: "1 unmarried child"}.get(
        counted, f"{counted} unmarried children"
    )
    summary = (
        f"Family points count the accompanying dependants on {long_date(on)}: {spouse_text}; "
        f"{children_text} under {CHILD_AGE_LIMIT}. The profile's family.children_under_18 "
        f"({family.children_under_18}) is ignored."
    )
    return FamilyCount(
        spouse_degree=spouse_counts,
        children_under_18=counted,
        hk_permanent_resident_family=family.hk_permanent_resident_family,
        from_dependants=True,
        notes=(summary, *left_out),
    )


def _flag(value: bool) -> str:
    return "true" if value else "false"
