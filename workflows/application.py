"""The application file for ``case new``: validation with one message per problem.

The shape is a contract (see the issue): ``applicant``, optional ``dependants``,
``declaration_signed`` and ``profile``. An empty profile is a draft still being filled in;
a non-empty one must be a valid points-test profile.

Bounds (each refusal a sentence): the file within 1 MiB and 20 levels of nesting; every text no
longer than the column that stores it (`column_length`); at most `MAX_DEPENDANTS` dependants;
an applicant 18 to 100 years old on the lodging date (a case is lodged when it is created, so
"today"); no dependant born after it or more than 120 years before it; a date written YYYY-MM-DD.
A JSON object's key given twice is refused where the file is read (`console.cli.loads_json`).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from sqlalchemy import Table

from states.errors import InvalidInput
from states.models import applications as _applications
from states.models import dependants as _dependants
from workflows.countries import check_nationality
from workflows.formats import long_date
from workflows.rules import validate_profile  # the points-test profile contract
from workflows.rules.dates import age_on
from workflows.validation import (
    IsoDate,
    check_name,
    column_length,
    control_characters,
    format_errors,
    json_bounds,
    quote,
    refused_paths,
)

MAX_DEPENDANTS = 20
# The applicant's age on the lodging date: the scheme's minimum (docs/rules.md §2.1), and an
# upper bound past which the date of birth is a typing slip (1923 for 2023).
APPLICANT_AGES = (18, 100)
DEPENDANT_MAX_YEARS = 120  # a dependant older than this on the lodging date is a typing slip

EMAIL_LENGTH = column_length(_applications, "email")  # representative_email: the same


def _stored_in(table: Table, column: str, *, min_length: int = 1) -> Any:
    """A text field bounded by the column that stores it (`column_length`)."""
    return Field(min_length=min_length, max_length=column_length(table, column))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def check_email(value: str) -> str:
    """The one email check of the engine (application files, amendments, accounts): one
    mailbox in the syntax a mail server delivers to, checked by `email-validator` (no DNS).
    Refused: lists (``a@b.com, c@d.com``), headers (``a@b.com\\r\\nBcc: …``), display names
    (``Bob <a@b.com>``), quoted local parts, spaces, IP literals, special-use domains, and
    characters outside ASCII before the @ (mail here is sent without SMTPUTF8). An
    internationalised domain is kept in its ASCII (``xn--``) form; the domain is lower-cased and
    the local part kept as typed. Lengths: at most 64 characters before the @ (RFC 5321
    4.5.3.1.1), a domain label at most 63 (RFC 1035), the address at most 254 (RFC 5321 with
    errata 1690), the domain in its ASCII form included."""
    if len(value) > EMAIL_LENGTH:
        raise ValueError(f"an email address has at most {EMAIL_LENGTH} characters")
    local, at, _ = value.rpartition("@")
    if at and not local.isascii():
        raise ValueError(
            f"'{quote(value)}' has characters outside ASCII before the @; give an address "
            "in ASCII (mail is sent without SMTPUTF8)"
        )
    try:
        checked = validate_email(
            value,
            check_deliverability=False,  # no DNS: the engine never touches the network
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            # strict adds the local part's 64; the label's 63 and the total's 254 (counted on
            # the xn-- form too) email-validator checks always
            strict=True,
        )
    except EmailNotValidError as err:
        raise ValueError(
            f"'{quote(value)}' is not an email address: {quote(str(err), 120)}"
        ) from None
    return f"{checked.local_part}@{checked.ascii_domain}"  # ascii_domain is lower case


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
    name: str = _stored_in(_applications, "representative_name")
    email: str

    _check_email = field_validator("email")(_email)
    _check_name = field_validator("name")(check_name)


class Applicant(_Strict):
    name: str = _stored_in(_applications, "name")
    date_of_birth: IsoDate
    # stored as the two-letter code; the bound only keeps a refusal's quote short
    nationality: str = Field(max_length=60)
    mainland_resident: StrictBool
    email: str
    language: Literal["en", "zh-HK"]
    # as typed (spaces, dashes) within the column; stored normalised, 4 to 20 characters
    travel_document_number: str = _stored_in(_applications, "travel_document_number", min_length=4)
    representative: Representative | None = None

    _check_email = field_validator("email")(_email)
    _check_name = field_validator("name")(check_name)
    _check_nationality = field_validator("nationality")(check_nationality)
    _check_document = field_validator("travel_document_number")(normalise_travel_document)


class DependantIn(_Strict):
    name: str = _stored_in(_dependants, "name")
    relation: Literal["spouse", "child"]
    date_of_birth: IsoDate
    married: StrictBool = False

    _check_name = field_validator("name")(check_name)


Dependants = Annotated[list[DependantIn], Field(max_length=MAX_DEPENDANTS)]


class ApplicationFile(_Strict):
    applicant: Applicant
    dependants: Dependants = []
    declaration_signed: StrictBool
    profile: dict[str, Any] = {}


_DEPENDANTS: TypeAdapter[list[DependantIn]] = TypeAdapter(Dependants)


def applicant_problems(born: date, on: date) -> list[str]:
    """The applicant is 18 to 100 on the lodging date ``on``."""
    if born > on:
        return [f"applicant.date_of_birth: {born} is after the lodging date, {long_date(on)}"]
    age, (youngest, oldest) = age_on(born, on), APPLICANT_AGES
    if youngest <= age <= oldest:
        return []
    return [
        f"applicant.date_of_birth: the applicant is {age} on the lodging date, {long_date(on)}; "
        f"an applicant must be {youngest} to {oldest}"
    ]


def dependant_problems(dependants: list[DependantIn], on: date) -> list[str]:
    """Family rules on the lodging date ``on``: one spouse at most; nobody born after ``on`` or
    more than `DEPENDANT_MAX_YEARS` before it; a child under 18 and unmarried."""
    problems = []
    if sum(d.relation == "spouse" for d in dependants) > 1:
        problems.append("dependants: at most one spouse may be included")
    for i, d in enumerate(dependants):
        name = quote(d.name, 40)
        if d.date_of_birth > on:
            problems.append(
                f"dependants[{i}].date_of_birth: {d.date_of_birth} is after the lodging date, "
                f"{long_date(on)}"
            )
        elif (age := age_on(d.date_of_birth, on)) > DEPENDANT_MAX_YEARS:
            problems.append(
                f"dependants[{i}].date_of_birth: {name} is {age} on the lodging date, "
                f"{long_date(on)}; a dependant must be at most {DEPENDANT_MAX_YEARS}"
            )
        elif d.relation == "child" and age >= 18:
            problems.append(f"dependants[{i}]: {name} is {age}; a child dependant must be under 18")
        if d.relation == "child" and d.married:
            problems.append(
                f"dependants[{i}]: {name} is married; a child dependant must be unmarried"
            )
    return problems


def parse_application(data: Any, *, today: date) -> ApplicationFile:
    """Validate an application file, raising `InvalidInput` with every problem at once.

    ``today`` is the lodging date the dates of birth are judged on: a case is created as a
    draft to be lodged now (a submission lodged on another date is judged again then)."""
    if not isinstance(data, dict):
        raise InvalidInput(
            ["the application file must be a JSON object"], prefix="invalid application"
        )
    too_big = json_bounds(data, "the application file")
    if too_big:  # read no further: it is not an application a person wrote
        raise InvalidInput(too_big, prefix="invalid application")
    app: ApplicationFile | None = None
    refused: set[str] = set()
    invalid: list[str] = []
    try:
        app = ApplicationFile.model_validate(data)
    except ValidationError as err:
        invalid = format_errors(err, model=ApplicationFile)
        refused = refused_paths(err)  # a name's own sentence says it has a control character
    problems = control_characters(data, skip=refused) + invalid
    profile = data.get("profile")
    if isinstance(profile, dict) and profile:
        try:
            validate_profile(profile)
        except InvalidInput as err:
            # a description's control character is the sweep's very line: say it once
            said = set(problems)
            problems.extend(line for line in err.errors if line not in said)
    if app is not None:
        problems.extend(dependant_problems(app.dependants, today))
        problems.extend(applicant_problems(app.applicant.date_of_birth, today))
    else:  # the family rules still apply when only another part of the file is wrong
        try:
            family = _DEPENDANTS.validate_python(data.get("dependants") or [])
        except ValidationError:
            family = []  # already reported above
        problems.extend(dependant_problems(family, today))
    if problems or app is None:
        raise InvalidInput(problems, prefix="invalid application")
    return app
