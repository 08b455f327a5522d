"""The application file for ``case new``: validation with one message per problem.

The shape is a contract (see the issue): ``applicant``, optional ``dependants``,
``declaration_signed`` and ``profile``. An empty profile is a draft still being filled in;
a non-empty one must be a valid points-test profile.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from states.errors import InvalidInput
from workflows.countries import ISO_ALPHA2

EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def check_email(value: str) -> str:
    """The one email check of the engine (application files, amendments)."""
    if len(value) > 320 or not EMAIL.match(value):
        raise ValueError(f"'{value[:80]}' is not an email address")
    return value


_email = check_email


class Representative(_Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str

    _check_email = field_validator("email")(_email)


class Applicant(_Strict):
    name: str = Field(min_length=1, max_length=200)
    date_of_birth: date
    nationality: str
    mainland_resident: StrictBool
    email: str
    language: Literal["en", "zh-HK"]
    travel_document_number: str = Field(min_length=4, max_length=40)
    representative: Representative | None = None

    _check_email = field_validator("email")(_email)

    @field_validator("nationality")
    @classmethod
    def _iso(cls, value: str) -> str:
        if value not in ISO_ALPHA2:
            raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code (e.g. CN, GB)")
        return value


class DependantIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    relation: Literal["spouse", "child"]
    date_of_birth: date
    married: StrictBool = False


class ApplicationFile(_Strict):
    applicant: Applicant
    dependants: list[DependantIn] = []
    declaration_signed: StrictBool
    profile: dict[str, Any] = {}


_DEPENDANTS = TypeAdapter(list[DependantIn])


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "file"


def _model_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that holds the field at ``loc`` (following nested models)."""
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    return model


def format_errors(
    err: ValidationError, prefix: str = "", *, model: type[BaseModel] | None = None
) -> list[str]:
    """One line per problem, ``where: what``; an unknown field names the fields allowed."""
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        where = _where(loc)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
            holder = _model_at(model, loc[:-1])
            if holder is not None:
                msg += f"; allowed: {', '.join(holder.model_fields)}"
        lines.append(f"{prefix}{where}: {msg}")
    return lines


def dependant_problems(dependants: list[DependantIn], on: date) -> list[str]:
    """Family rules: one spouse at most; a child must be under 18 and unmarried on ``on``."""
    problems = []
    if sum(d.relation == "spouse" for d in dependants) > 1:
        problems.append("dependants: at most one spouse may be included")
    for i, d in enumerate(dependants):
        if d.date_of_birth > on:
            problems.append(f"dependants.{i}.date_of_birth: {d.date_of_birth} is in the future")
        if d.relation == "child":
            age = age_on(d.date_of_birth, on)
            if age >= 18:
                problems.append(
                    f"dependants.{i}: {d.name} is {age}; a child dependant must be under 18"
                )
            if d.married:
                problems.append(
                    f"dependants.{i}: {d.name} is married; a child dependant must be unmarried"
                )
    return problems


def parse_application(data: Any, *, today: date) -> ApplicationFile:
    """Validate an application file, raising `InvalidInput` with every problem at once."""
    if not isinstance(data, dict):
        raise InvalidInput(
            ["the application file must be a JSON object"], prefix="invalid application"
        )
    problems: list[str] = []
    app: ApplicationFile | None = None
    try:
        app = ApplicationFile.model_validate(data)
    except ValidationError as err:
        problems.extend(format_errors(err, model=ApplicationFile))
    profile = data.get("profile")
    if isinstance(profile, dict) and profile:
        from workflows.rules import validate_profile  # the points-test profile contract

        try:
            validate_profile(profile)
        except InvalidInput as err:
            problems.extend(err.errors)
    if app is not None:
        problems.extend(dependant_problems(app.dependants, today))
        if app.applicant.date_of_birth >= today:
            problems.append("applicant.date_of_birth: must be in the past")
    else:  # the family rules still apply when only another part of the file is wrong
        try:
            dependants = _DEPENDANTS.validate_python(data.get("dependants") or [])
        except ValidationError:
            dependants = []  # already reported above
        problems.extend(dependant_problems(dependants, today))
    if problems or app is None:
        raise InvalidInput(problems, prefix="invalid application")
    return app
