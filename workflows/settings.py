"""Workflow settings (prefix ``QMAS_``). Periods the scheme does not publish are configuration."""

from __future__ import annotations

import json
from typing import Any

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkflowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QMAS_", extra="ignore")

    # Hong Kong working days an applicant gets to answer a document request when the
    # caseworker names no due date. No official period is published (qmas.md §4).
    document_period_working_days: int = 20
    # Calendar days to pay the fee after quota allotment; agents report six months (qmas.md
    # §3.8, UNCONFIRMED), so it is configuration.
    payment_period_days: int = 182
    # Overrides of the annual quota by calendar year, e.g. {"2019": 1000, "2023": null}.
    annual_quotas: dict[int, int | None] = {}
    # Prefix of file numbers and e-Visa numbers.
    file_number_prefix: str = "QM"
    evisa_prefix: str = "EV"

    @field_validator("annual_quotas", mode="before")
    @classmethod
    def _parse_quotas(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value or "{}")
        return {int(k): v for k, v in dict(value).items()}
