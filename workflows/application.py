"""The application file for ``case new``: validation with one message per problem.

The shape is a contract (see the issue): ``applicant``, optional ``dependants``,
``declaration_signed`` and ``profile``. An empty profile is a draft still being filled in;
a non-empty one must be a valid points-test profile.
"""

from __future__ import annotations

import re
import unicodedata
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
from workflows.countries import check_nationality
from workflows.rules import validate_profile  # the points-test profile contract
from workflows.rules.dates import age_on
from workflows.validation import check_name, control_characters, format_errors

EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def check_email(value: str) -> str:
    """The one email check of the engine (application files, amendments)."""
    if len(value) > 320 or not EMAIL.match(value):
        raise ValueError(f"'{value[:80]}' is not an email address")
    if not value.isascii():  # mail servers here take ASCII addresses only (no SMTPUTF8)
        raise ValueError(
            f"'{value[:80]}' has characters outside ASCII; give the address in ASCII "
            "(an internationalised domain in its xn-- form)"
        )
    return value


_email = check_email

# A travel document number as issued: letters and digits. People type it with spaces, dashes,
# lower case or full-width characters; all of those are the same document, and the "one live
# application per person" rule compares numbers, so they are normalised before they are kept.
_DOCUMENT = re.compile(r"[A-Z0-9]{4,20}")
_DOCUMENT_SEPARATORS = re.compile(r"[ \-‐-―−/.]+")  # after NFKC: U+3000 is a space


def normalise_travel_document(value: str) -> str:
    """``e 1234-5678`` and ``Ｅ１２３４５６７８`` → ``E12345678``; `ValueError` if what is left
    is not 4 to 20 letters and digits."""
    text = unicodedata.normalize("NFKC", value)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")  # zero-width marks
    text = _DOCUMENT_SEPARATORS.sub("", text).upper()
    if not (text.isascii() and _DOCUMENT.fullmatch(text)):
        shown = value.encode("ascii", "backslashreplace").decode()[:60]
        raise ValueError(
            f"'{shown}' is not a travel document number: 4 to 20 letters (A-Z) and digits, "
            "as printed on the document"
        )
    return text


class Representative(_Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str

    _check_email = field_validator("email")(_email)
    _check_name = field_validator("name")(check_name)


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
    _check_name = field_validator("name")(check_name)
    _check_nationality = field_validator("nationality")(check_nationality)
    _check_document = field_validator("travel_document_number")(normalise_travel_document)


class DependantIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    relation: Literal["spouse", "child"]
    date_of_birth: date
    married: StrictBool = False

    _check_name = field_validator("name")(check_name)


class ApplicationFile(_Strict):
    applicant: Applicant
    dependants: list[DependantIn] = []
    declaration_signed: StrictBool
    profile: dict[str, Any] = {}


_DEPENDANTS = TypeAdapter(list[DependantIn])


def dependant_problems(dependants: list[DependantIn], on: date) -> list[str]:
    """Family rules: one spouse at most; a child must be under 18 and unmarried on ``on``."""
    problems = []
    if sum(d.relation == "spouse" for d in dependants) > 1:
        problems.append("dependants: at most one spouse may be included")
    for i, d in enumerate(dependants):
        if d.date_of_birth > on:
            problems.append(f"dependants[{i}].date_of_birth: {d.date_of_birth} is in the future")
        elif d.relation == "child" and (age := age_on(d.date_of_birth, on)) >= 18:
            problems.append(
                f"dependants[{i}]: {d.name} is {age}; a child dependant must be under 18"
            )
        if d.relation == "child" and d.married:
            problems.append(
                f"dependants[{i}]: {d.name} is married; a child dependant must be unmarried"
            )
    return problems


def parse_application(data: Any, *, today: date) -> ApplicationFile:
    """Validate an application file, raising `InvalidInput` with every problem at once."""
    if not isinstance(data, dict):
        raise InvalidInput(
            ["the application file must be a JSON object"], prefix="invalid application"
        )
    problems: list[str] = control_characters(data)
    app: ApplicationFile | None = None
    try:
        app = ApplicationFile.model_validate(data)
    except ValidationError as err:
        problems.extend(format_errors(err, model=ApplicationFile))
    profile = data.get("profile")
    if isinstance(profile, dict) and profile:
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
