"""What a decision looks at: the case snapshot, the actor, the trigger's input, the clock.

Trigger inputs (``--data``) are parsed into small models. Malformed input (wrong types,
unknown keys) is `InvalidInput`; input that is well-formed but does not satisfy a rule (no
documents named, a wrong amount) is left to the guards, which explain the refusal.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from states.errors import InvalidInput
from states.store import CaseSnapshot, Tx
from workflows.application import format_errors
from workflows.clock import today_hk
from workflows.settings import WorkflowSettings
from workflows.spec import Role, Trigger

if TYPE_CHECKING:
    from workflows.rules import Assessment


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoInput(_Input):
    pass


class SubmitInput(_Input):
    lodged_on: date | None = None


class RequestDocumentsInput(_Input):
    documents: list[str] = []
    due: date | None = None


class ReceiveDocumentsInput(_Input):
    received: list[str] = []
    waived: dict[str, str] = {}


class ConsentInput(_Input):
    consent_letter: str = ""


class PayFeeInput(_Input):
    amount: float | None = None
    method: str | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("amount must be a number of Hong Kong dollars")
        return value


INPUTS: dict[Trigger, type[_Input]] = {
    Trigger.submit: SubmitInput,
    Trigger.request_documents: RequestDocumentsInput,
    Trigger.receive_documents: ReceiveDocumentsInput,
    Trigger.record_mainland_consent: ConsentInput,
    Trigger.pay_fee: PayFeeInput,
}


def parse_input(trigger: Trigger, data: Any) -> _Input:
    model = INPUTS.get(trigger, NoInput)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput([f"--data for {trigger} must be a JSON object"], prefix="invalid data")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        lines = format_errors(err)
        if model is NoInput:
            lines = [f"{trigger} takes no --data (got {', '.join(sorted(data))})"]
        raise InvalidInput(lines, prefix="invalid data") from None


class Context:
    """One decision's inputs, with the lookups guards need loaded lazily and once."""

    def __init__(
        self,
        *,
        case: CaseSnapshot,
        tx: Tx,
        trigger: Trigger,
        role: Role,
        actor: str,
        reason: str | None,
        data: _Input,
        now: datetime,
        settings: WorkflowSettings,
    ) -> None:
        self.case = case
        self.tx = tx
        self.trigger = trigger
        self.role = role
        self.actor = actor
        self.reason = reason
        self.data = data
        self.now = now
        self.settings = settings

    @cached_property
    def today(self) -> date:
        return today_hk(self.now)

    @cached_property
    def outstanding(self) -> list[dict[str, Any]]:
        return self.tx.documents(self.case.id, status="requested")

    @cached_property
    def dependants(self) -> list[dict[str, Any]]:
        return self.tx.dependants(self.case.id)

    @cached_property
    def lodged_on(self) -> date:
        if isinstance(self.data, SubmitInput) and self.data.lodged_on is not None:
            return self.data.lodged_on
        return self.today

    @cached_property
    def assessment(self) -> Assessment | None:
        """The points-test judgement on the lodging date (None while the profile is empty)."""
        from workflows.rules import assess, ruleset_for

        if not self.case.profile:
            return None
        try:
            ruleset = ruleset_for(self.lodged_on)
        except InvalidInput:
            return None
        return assess(
            self.case.profile,
            date_of_birth=date.fromisoformat(self.case.date_of_birth),
            nationality=self.case.nationality,
            on=self.lodged_on,
            ruleset=ruleset,
        )
