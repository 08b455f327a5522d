"""Settings of the flows (prefix ``QMAS_``)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class FlowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QMAS_", extra="ignore")

    # Events claimed per batch; one flow run handles up to dispatch_max_batches batches.
    dispatch_batch_size: int = 500
    dispatch_max_batches: int = 200
    # An event claimed longer ago than this by a worker that never finished is claimed again.
    dispatch_lease_seconds: int = 300
    # Emit the Prefect event `qmas.case.transitioned` after each commit. "auto": only when a
    # Prefect server is configured (PREFECT_API_URL), since the embedded default has none.
    prefect_nudge: str = "auto"
    # When the dispatcher handles a case's `issue_file_number` event, ask for the documents of
    # the applicant's checklist as `system`, by the default due date (flows/document_requests).
    auto_document_request: bool = True
