"""Workflow settings (prefix ``QMAS_``). Periods the scheme does not publish are configuration."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workflows.deadlines import Schedule


class WorkflowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QMAS_", extra="ignore")

    # Hong Kong working days an applicant gets to answer a document request when the
    # caseworker names no due date. No official period is published (docs/rules.md §9.2).
    document_period_working_days: int = Field(default=20, ge=1, le=250)
    # Calendar days to pay the fee after quota allotment; agents report six months
    # (docs/rules.md §3.5, UNCONFIRMED), so it is configuration.
    payment_period_days: int = Field(default=182, ge=1, le=3660)
    # Overrides of the annual quota by calendar year, e.g. {"2019": 1000, "2023": null}.
    annual_quotas: dict[int, int | None] = {}
    # Reminders about a document request's due date, in Hong Kong working days: the first
    # this many days before, a final notice this many after, and lapse after the grace period.
    document_first_reminder_working_days: int = Field(default=5, ge=0, le=250)
    document_final_notice_working_days: int = Field(default=3, ge=0, le=250)
    document_grace_working_days: int = Field(default=10, ge=0, le=250)
    # The same for an unpaid fee after quota allotment (the payment deadline).
    fee_first_reminder_working_days: int = Field(default=10, ge=0, le=250)
    fee_final_notice_working_days: int = Field(default=5, ge=0, le=250)
    fee_grace_working_days: int = Field(default=10, ge=0, le=250)
    # Service levels: days a case may sit in a state before supervisors hear of it.
    # States not listed are watched by their own deadlines (documents, fee).
    service_levels: dict[str, int] = {
        "submitted": 30,
        "file_number_issued": 60,
        "shortlisted": 90,
        "fee_paid": 10,
    }
    # Closed cases are anonymised this many years after they closed (`qmas retention run`).
    retention_years: int = Field(default=7, ge=1, le=100)
    # Prefix of file numbers and e-Visa numbers.
    file_number_prefix: str = Field(default="QM", pattern="^[A-Z]{1,8}$")
    evisa_prefix: str = Field(default="EV", pattern="^[A-Z]{1,8}$")

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

    @field_validator("annual_quotas")
    @classmethod
    def _check_quotas(cls, value: dict[int, int | None]) -> dict[int, int | None]:
        for year, quota in value.items():
            if not 2006 <= year <= 9999:
                raise ValueError(f"{year} is not a year of the scheme (2006 to 9999)")
            if quota is not None and not 0 <= quota <= 1_000_000:
                raise ValueError(f"the quota of {year} must be 0 to 1,000,000 or null")
        return value

    @field_validator("service_levels")
    @classmethod
    def _check_levels(cls, value: dict[str, int]) -> dict[str, int]:
        from states.catalogue import State

        for state, days in value.items():
            if state not in State.__members__:
                raise ValueError(f"'{state[:40]}' is not a state; states: {', '.join(State)}")
            if not 1 <= days <= 3660:
                raise ValueError(f"the service level of {state} must be 1 to 3,660 days")
        return value

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
