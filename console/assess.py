"""`qmas assess`: judge a profile without creating a case.

Given an application file (it has an ``applicant``), the family points count its accompanying
``dependants`` (none when the key is absent), as a case would; given a bare profile (with
``--date-of-birth`` and ``--nationality``), its own family numbers. The text is written from
the same JSON body that ``--json`` prints, so the two cannot disagree.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from console import output
from states.errors import InvalidInput
from workflows.clock import today_hk
from workflows.formats import long_date
from workflows.views import parse_day

if TYPE_CHECKING:
    from workflows.rules import Dependant

NOT_ELIGIBLE = "not eligible: "


def run_assess(
    data: Any,
    on: str | None,
    as_json: bool,
    date_of_birth: str | None = None,
    nationality: str | None = None,
) -> None:
    from workflows.rules import assess, ruleset_for, validate_profile

    if not isinstance(data, dict):
        raise InvalidInput("the file must hold a JSON object", prefix="invalid profile")
    when = parse_day(on) if on else today_hk()
    dependants: list[Dependant] | None = None  # None: a bare profile
    if "applicant" in data:  # an application file
        applicant = data["applicant"]
        if not isinstance(applicant, dict):
            raise InvalidInput("applicant: expected a JSON object", prefix="invalid application")
        if not isinstance(data.get("profile"), dict):
            raise InvalidInput(
                "profile: an application file needs its points-test profile to be judged",
                prefix="invalid application",
            )
        profile_data = data["profile"]
        dependants = _dependants(data.get("dependants"))
    else:
        # A bare profile: age and nationality come from optional keys beside it.
        profile_data = {k: v for k, v in data.items() if k not in ("date_of_birth", "nationality")}
        applicant = data
    born = date_of_birth or applicant.get("date_of_birth")
    nationality = nationality or applicant.get("nationality")
    problems = []
    if not born:
        problems.append(
            "date_of_birth: needed to judge age (give an application file, or --date-of-birth)"
        )
    if not nationality:
        problems.append("nationality: needed to judge eligibility (or --nationality)")
    if problems:
        raise InvalidInput(problems, prefix="invalid profile")
    profile = validate_profile(profile_data)
    ruleset = ruleset_for(when)
    result = assess(
        profile,
        date_of_birth=parse_day(str(born)),
        nationality=str(nationality),
        on=when,
        ruleset=ruleset,
        dependants=dependants,
    )
    body = result.to_json()
    if as_json:
        output.print_json(body)
    else:
        print_text(body, when)


def print_text(body: dict[str, Any], when: date) -> None:
    """The assessment for people, from the JSON body alone: the points test (``passed`` /
    ``not passed``), the categories, the notes, then ``eligible`` or ``not eligible: …`` with
    every reason."""
    verdict = "passed" if body["passed"] else "not passed"
    output.out.print(
        f"[bold]{output.esc(body['ruleset'])}[/] ({output.esc(body['test'])} test) on "
        f"{long_date(when)}: {body['score']} / {body['maximum']}, pass mark "
        f"{body['pass_mark']}: points test {verdict}"
    )
    output.out.print(
        output.table(None, ["category", "points"], [[k, v] for k, v in body["categories"].items()])
    )
    for note in body["notes"]:
        _line(f"Note: {note}")
    if body["eligible"]:
        _line("eligible")
        return
    indent = " " * len(NOT_ELIGIBLE)
    for i, reason in enumerate(body["reasons"]):
        _line(f"{NOT_ELIGIBLE if i == 0 else indent}{reason}")


def _line(text: str) -> None:
    """One logical line, never broken by the console (the terminal wraps it if it must)."""
    output.out.print(output.literal(text), markup=False, highlight=False, soft_wrap=True)


def _dependants(raw: Any) -> list[Dependant]:
    """An application file's dependants, checked like ``case new`` checks their shape; their
    age and marriage decide whether they earn family points, not whether the file is read."""
    from pydantic import TypeAdapter, ValidationError

    from workflows.application import DependantIn
    from workflows.rules import Dependant
    from workflows.validation import format_errors

    try:
        parsed = TypeAdapter(list[DependantIn]).validate_python(raw if raw is not None else [])
    except ValidationError as err:
        raise InvalidInput(
            format_errors(err, root="dependants", model=DependantIn), prefix="invalid application"
        ) from None
    return [Dependant(d.relation, d.date_of_birth, d.married, d.name) for d in parsed]
