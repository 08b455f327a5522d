"""`qmas assess`: judge a profile without creating a case."""

from __future__ import annotations

from typing import Any

from console import output
from states.errors import InvalidInput
from workflows.clock import today_hk
from workflows.formats import long_date
from workflows.views import parse_day


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
    applicant = data.get("applicant") if "applicant" in data else None
    profile_data = data.get("profile", data) if applicant is not None else data
    if applicant is None:
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
    )
    body = result.to_json()
    if as_json:
        output.print_json(body)
        return
    verdict = "eligible" if not result.reasons else "not eligible"
    output.out.print(
        f"[bold]{result.ruleset}[/] ({result.test} test) on {long_date(when)}: "
        f"{result.score} / {result.maximum}, pass mark {result.pass_mark}: {verdict}"
    )
    output.out.print(
        output.table(None, ["category", "points"], [[k, v] for k, v in result.categories.items()])
    )
    for r in result.reasons:
        output.say(f"  ✗ {r}")
