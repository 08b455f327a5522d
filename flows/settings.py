"""Settings of the flows (prefix ``QMAS_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class FlowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QMAS_", extra="ignore")

    # Events claimed per batch; one flow run handles up to dispatch_max_batches batches.
    dispatch_batch_size: int = Field(default=500, ge=1, le=100_000)
    dispatch_max_batches: int = Field(default=200, ge=1, le=1_000_000)
    # An event claimed longer ago than this by a worker that never finished is claimed again.
    dispatch_lease_seconds: int = Field(default=300, ge=1, le=7 * 86_400)
    # Emit the Prefect event `qmas.case.transitioned` after each commit. "auto": only when a
    # Prefect server is configured (PREFECT_API_URL), since the embedded default has none.
    prefect_nudge: Literal["auto", "on", "off", "true", "false", "1", "0"] = "auto"

    @field_validator("prefect_nudge", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    # When the dispatcher handles a case's `issue_file_number` event, ask for the documents of
    # the applicant's checklist as `system`, by the default due date (flows/document_requests).
    auto_document_request: bool = True
