"""What each trigger takes as ``--data``: one small pydantic model per trigger (a contract).

Malformed input (wrong types, unknown keys) is `InvalidInput` naming the fields allowed; input
that is well-formed but breaks a rule (no documents named, a wrong amount) is left to the
guards, which explain the refusal. `qmas schema data TRIGGER` prints these models as JSON Schema.

Bounds: a fee is a whole number of Hong Kong dollars from 0 to `MAX_FEE`; a text no longer than
the column that stores it (`column_length`); the input within 1 MiB and 20 levels of nesting; a
date written YYYY-MM-DD (`IsoDate`).
The due date of a document request (not past, within a year) is judged by the guard
`documents_named`, which knows today.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from states.errors import InvalidInput
from states.models import applications as _applications
from states.models import document_requests as _document_requests
from workflows.application import Representative, check_email
from workflows.names import Trigger
from workflows.validation import (
    IsoDate,
    column_length,
    control_characters,
    format_errors,
    json_bounds,
    quote,
    refused_paths,
)

# The most a fee paid at once can be, in Hong Kong dollars: today's largest, HK$1,300 for each
# of 21 persons, is HK$27,300; a million is a typing slip (or a test of the system).
MAX_FEE = 1_000_000
# A document's name, as the request row stores it (``police_certificate``).
DocumentName = Annotated[str, Field(max_length=column_length(_document_requests, "item"))]


class TriggerInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class NoInput(TriggerInput):
    """This trigger takes no --data."""


class FeePayment(TriggerInput):
    """A payment: the amount and how it was paid (the guards compare it with the fee due)."""

    amount: int | None = Field(
        default=None, ge=0, le=MAX_FEE, description="Whole Hong Kong dollars paid."
    )
    method: str | None = Field(
        default=None,
        max_length=column_length(_applications, "payment_method"),
        description="credit_card, pps or fps.",
    )

    @field_validator("amount", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("amount must be a number of Hong Kong dollars")
        return value


class PayFeeInput(FeePayment):
    """The visa fee after quota allotment: the fee due for the applicant and each dependant."""


class SubmitInput(TriggerInput):
    lodged_on: IsoDate | None = Field(
        default=None, description="The lodging date, which chooses the rule set (default: today)."
    )
    application_fee: FeePayment | None = Field(
        default=None,
        description="The application fee paid with the application: HK$600 for the applicant "
        "and each dependant when lodged from 26 February 2025 11:00 Hong Kong time; "
        "none before.",
    )


class RequestDocumentsInput(TriggerInput):
    documents: list[DocumentName] = Field(
        default=[],
        max_length=50,
        description="Document names, e.g. police_certificate (qmas checklist).",
    )
    due: IsoDate | None = Field(
        default=None, description="Due date (default: 20 Hong Kong working days from today)."
    )


class DocumentsInput(TriggerInput):
    received: list[DocumentName] = Field(
        default=[], max_length=50, description="Outstanding documents now received."
    )
    waived: dict[DocumentName, Annotated[str, Field(max_length=400)]] = Field(
        default={}, max_length=50, description="Outstanding documents waived, each with the reason."
    )


class ReceiveDocumentsInput(DocumentsInput):
    """Every outstanding document must be accounted for (received or waived)."""


class RecordDocumentsInput(DocumentsInput):
    """Some of the outstanding documents; the rest stay open."""


class ConsentInput(TriggerInput):
    consent_letter: str = Field(
        default="",
        max_length=column_length(_applications, "consent_letter"),
        description="Issuer and reference of the consent letter.",
    )


class ApplicantAmendment(TriggerInput):
    email: str | None = Field(default=None, description="The applicant's new email address.")
    language: Literal["en", "zh-HK"] | None = Field(
        default=None, description="The language of the applicant's letters."
    )
    representative: Representative | None = Field(
        default=None, description="The authorised representative, or null to remove one."
    )

    @field_validator("email", "language", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            raise ValueError(f"the {info.field_name} cannot be removed, only replaced")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else check_email(value)


class AmendInput(TriggerInput):
    applicant: ApplicantAmendment = Field(
        default_factory=ApplicantAmendment,
        description="Only the fields given change; the history row keeps before and after.",
    )


INPUTS: dict[Trigger, type[TriggerInput]] = {
    Trigger.submit: SubmitInput,
    Trigger.request_documents: RequestDocumentsInput,
    Trigger.receive_documents: ReceiveDocumentsInput,
    Trigger.record_documents: RecordDocumentsInput,
    Trigger.record_mainland_consent: ConsentInput,
    Trigger.pay_fee: PayFeeInput,
    Trigger.amend: AmendInput,
}


def model_for(trigger: Trigger) -> type[TriggerInput]:
    return INPUTS.get(trigger, NoInput)


def allowed_fields(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def parse_input(trigger: Trigger, data: Any) -> TriggerInput:
    """Parse ``--data`` for ``trigger``; `InvalidInput` with one line per problem."""
    model = model_for(trigger)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput([f"--data for {trigger} must be a JSON object"], prefix="invalid data")
    too_big = json_bounds(data, "the data") if data else []
    if too_big:  # read no further
        raise InvalidInput(too_big, prefix="invalid data")
    if model is NoInput:
        if data:
            raise InvalidInput(
                control_characters(data)
                or [f"{trigger} takes no --data (got {quote(', '.join(sorted(map(str, data))))})"],
                prefix="invalid data",
            )
        return _NO_INPUT
    if not data:  # the defaults: one shared instance per model (models are never mutated)
        empty = _EMPTY.get(model)
        if empty is None:
            empty = _EMPTY[model] = model.model_validate({})
        return empty
    parsed: TriggerInput | None = None
    invalid: list[str] = []
    refused: set[str] = set()
    try:
        parsed = model.model_validate(data)
    except ValidationError as err:
        invalid = format_errors(err, model=model)
        refused = refused_paths(err)  # a name's own sentence says it has a control character
    problems = control_characters(data, skip=refused) + invalid
    if problems or parsed is None:
        raise InvalidInput(problems, prefix="invalid data")
    return parsed


_NO_INPUT = NoInput()
_EMPTY: dict[type[TriggerInput], TriggerInput] = {}
