"""Automatic document requests: a case that has just been given its file number is asked, as
`system`, for the documents its checklist names, by the default due date.

The dispatcher runs `request_documents_automatically` on `issue_file_number` events. It fires
the move itself (`workflows.advance`: one transaction per case), so it is not a planning
handler inside the dispatcher's transaction. Exactly once, whatever the redeliveries: a case
that has moved on, or already has a document request of any round, gets nothing, and the report
says why; two dispatchers racing on one event are settled by the move itself (the second finds
the case in `documents_requested` and is refused).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flows.settings import FlowSettings
from states.errors import QmasError
from states.store import Store
from workflows import advance
from workflows.documents import checklist

log = logging.getLogger(__name__)

TRIGGER = "issue_file_number"
# The actor when no Prefect flow run is acting (a plain call: tests, the demo's clock).
FALLBACK_ACTOR = "qmas-dispatch"


@dataclass
class RequestReport:
    """What the automatic request did with each event's case."""

    requested: list[int] = field(default_factory=list)  # case ids
    skipped: dict[int, str] = field(default_factory=dict)  # case id: why nothing was asked
    failed: dict[int, str] = field(default_factory=dict)  # event id: error (the event is retried)

    def as_dict(self) -> dict[str, Any]:
        return {"documents_requested": self.requested, "document_requests_skipped": self.skipped}


def flow_run_actor(name: str | None, run_id: str | None) -> str:
    """The history's actor for a move a flow run made: ``prefect-flow-run:<name>``."""
    if name:
        return f"prefect-flow-run:{name}"
    return f"prefect-flow-run:{run_id}" if run_id else FALLBACK_ACTOR


def _checklist_or_reason(store: Store, case_id: int) -> list[str] | str:
    """The documents to ask this case for, or why it gets no automatic request."""
    with store.read() as tx:
        case = tx.load_case(case_id)
        requested = tx.documents(case_id)
        dependants = tx.dependants(case_id)
    if case.state != "file_number_issued":
        return f"moved on to {case.state}"
    if requested:
        return "already has a document request"
    # As `qmas case checklist` computes it: from the profile, the dependants and Mainland
    # residence (the police certificate and consent letter come after quota allotment).
    return checklist(
        case.profile, mainland_resident=case.mainland_resident, dependants=list(dependants)
    )


def request_documents_automatically(
    store: Store,
    events: Sequence[dict[str, Any]],
    now: datetime,
    *,
    actor: str = FALLBACK_ACTOR,
    flow_run_id: str | None = None,
    settings: FlowSettings | None = None,
) -> RequestReport:
    """Request the checklist's documents for each event's case that still needs them.

    `actor` names who acted in the history (`flow_run_actor`); the note adds the flow run's id.
    """
    settings = settings or FlowSettings()
    report = RequestReport()
    by = f" by flow run {flow_run_id}" if flow_run_id else ""
    for event in events:
        case_id = int(event["case_id"])
        if not settings.auto_document_request:
            report.skipped[case_id] = "automatic requests are off (QMAS_AUTO_DOCUMENT_REQUEST)"
            continue
        try:
            items = _checklist_or_reason(store, case_id)
            if isinstance(items, list):
                advance(
                    case_id,
                    "request_documents",
                    actor,
                    "system",
                    data={"documents": items},
                    note=(
                        f"Requested automatically{by} from the applicant's checklist when the "
                        f"file number was issued (outbox event {event['event_id']})."
                    ),
                    store=store,
                    now=now,
                )
                report.requested.append(case_id)
                log.info("case %s: documents requested automatically: %s", case_id, items)
                continue
            why = items
        except QmasError as err:  # refused (moved meanwhile, a rival dispatcher): nothing to do
            why = f"not requested: {err}"
        except Exception as err:  # the database, say: the event fails and is re-driven
            report.failed[int(event["event_id"])] = f"{type(err).__name__}: {err}"
            continue
        report.skipped[case_id] = why
        log.info("case %s: no automatic document request: %s", case_id, why)
    return report
