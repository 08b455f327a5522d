"""Workflow settings (prefix ``QMAS_``). Periods the scheme does not publish are configuration."""

from __future__ import annotations

import json
from typing import Any

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workflows.deadlines import Schedule


class WorkflowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QMAS_", extra="ignore")

    # Hong Kong working days an applicant gets to answer a document request when the
    # caseworker names no due date. No official period is published (docs/rules.md §9.2).
    document_period_working_days: int = 20
    # Calendar days to pay the fee after quota allotment; agents report six months
    # (docs/rules.md §3.5, UNCONFIRMED), so it is configuration.
    payment_period_days: int = 182
    # Overrides of the annual quota by calendar year, e.g. {"2019": 1000, "2023": null}.
    annual_quotas: dict[int, int | None] = {}
    # Reminders about a document request's due date, in Hong Kong working days: the first
    # this many days before, a final notice this many after, and lapse after the grace period.
    document_first_reminder_working_days: int = 5
    document_final_notice_working_days: int = 3
    document_grace_working_days: int = 10
    # The same for an unpaid fee after quota allotment (the payment deadline).
    fee_first_reminder_working_days: int = 10
    fee_final_notice_working_days: int = 5
    fee_grace_working_days: int = 10
    # Service levels: days a case may sit in a state before supervisors hear of it.
    # States not listed are watched by their own deadlines (documents, fee).
    service_levels: dict[str, int] = {
        "submitted": 30,
        "file_number_issued": 60,
        "shortlisted": 90,
        "fee_paid": 10,
    }
    # Prefix of file numbers and e-Visa numbers.
    file_number_prefix: str = "QM"
    evisa_prefix: str = "EV"

    @field_validator("annual_quotas", mode="before")
    @classmethod
    def _parse_quotas(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value or "{}")
        return {int(k): v for k, v in dict(value).items()}

    @field_validator("service_levels", mode="before")
    @classmethod
    def _parse_levels(cls, value: Any) -> Any:
        return json.loads(value or "{}") if isinstance(value, str) else value

    def document_schedule(self) -> Schedule:
        return Schedule(
            self.document_first_reminder_working_days,
            self.document_final_notice_working_days,
            self.document_grace_working_days,
        )

    def fee_schedule(self) -> Schedule:
        return Schedule(
            self.fee_first_reminder_working_days,
            self.fee_final_notice_working_days,
            self.fee_grace_working_days,
        )
