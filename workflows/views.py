"""Read models: a case, its history and the case list as plain JSON-able dicts."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select

from states.catalogue import CATALOGUE, State, label
from states.errors import InvalidInput
from states.models import applications as _app
from states.models import deliveries as _deliveries
from states.models import history as _hist
from states.store import Store
from workflows import documents as doc_catalogue
from workflows.clock import HK, iso
from workflows.engine import default_store


def mask(value: str) -> str:
    """Show a travel document number the way a counter clerk reads it back: E12****78."""
    if len(value) <= 4:
        return "*" * len(value)
    keep = 2 if len(value) < 8 else 3
    return value[:keep] + "*" * (len(value) - keep - 2) + value[-2:]


def case_view(case_id: int, *, store: Store | None = None) -> dict[str, Any]:
    store = store or default_store()
    with store.read() as tx:
        c = tx.load_case(case_id)
        deps = tx.dependants(case_id)
        docs = tx.documents(case_id)
        messages = (
            tx.conn.execute(
                select(
                    _deliveries.c.kind,
                    _deliveries.c.recipient,
                    _deliveries.c.status,
                    _deliveries.c.created_at,
                    _deliveries.c.sent_at,
                )
                .where(_deliveries.c.case_id == case_id)
                .order_by(_deliveries.c.created_at)
            )
            .mappings()
            .all()
        )
    v = c.values
    rep = (
        {"name": v["representative_name"], "email": v["representative_email"]}
        if v["representative_name"]
        else None
    )
    return {
        "id": c.id,
        "file_number": v["file_number"],
        "state": c.state,
        "state_label": label(c.state),
        "terminal": CATALOGUE[State(c.state)].terminal,
        "version": c.version,
        "workflow": c.workflow,
        "applicant": {
            "name": v["name"],
            "date_of_birth": v["date_of_birth"],
            "nationality": v["nationality"],
            "mainland_resident": bool(v["mainland_resident"]),
            "email": v["email"],
            "language": v["language"],
            "travel_document_number": mask(v["travel_document_number"]),
            "representative": rep,
        },
        "dependants": [
            {
                "name": d["name"],
                "relation": d["relation"],
                "date_of_birth": d["date_of_birth"],
                "file_number": d["file_number"],
            }
            for d in deps
        ],
        "declaration_signed": bool(v["declaration_signed"]),
        "documents": [
            {
                "name": d["item"],
                "label": doc_catalogue.label(d["item"]),
                "due": d["due"],
                "status": d["status"],
                "round": d["round"],
                "waiver_reason": d["waiver_reason"],
                "requested_at": d["requested_at"],
                "resolved_at": d["resolved_at"],
            }
            for d in docs
        ],
        "lodged_on": v["lodged_on"],
        "submitted_at": v["submitted_at"],
        "ruleset": v["ruleset"],
        "test": v["test"],
        "score": v["score"],
        "pass_mark": v["pass_mark"],
        "passed": None if v["passed"] is None else bool(v["passed"]),
        "categories": v["categories"],
        "quota_year": v["quota_year"],
        "fee_due": v["fee_due"],
        "fee_paid": v["fee_paid"],
        "payment_method": v["payment_method"],
        "consent_letter": v["consent_letter"],
        "evisa_number": v["evisa_number"],
        "deadline": v["deadline"],
        "outcome_reason": v["outcome_reason"],
        "state_since": v["state_since"],
        "created_at": v["created_at"],
        "updated_at": v["updated_at"],
        "messages": [dict(m) for m in messages],
    }


def history(case_id: int, *, store: Store | None = None) -> list[dict[str, Any]]:
    store = store or default_store()
    with store.read() as tx:
        tx.load_case(case_id)  # NotFound for an unknown case
        rows = tx.conn.execute(
            select(_hist).where(_hist.c.case_id == case_id).order_by(_hist.c.seq)
        ).mappings()
        return [
            {
                "id": r["id"],
                "seq": r["seq"],
                "from_state": r["from_state"],
                "to_state": r["to_state"],
                "trigger": r["trigger"],
                "actor": r["actor"],
                "role": r["role"],
                "reason": r["reason"],
                "payload": json.loads(r["payload"]),
                "at": r["at"],
                "workflow": r["workflow"],
                "ruleset": r["ruleset"],
                "prev_hash": r["prev_hash"],
                "hash": r["hash"],
            }
            for r in rows
        ]


def list_cases(
    state: str | None = None, *, store: Store | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    store = store or default_store()
    stmt = select(
        _app.c.id,
        _app.c.file_number,
        _app.c.name,
        _app.c.state,
        _app.c.version,
        _app.c.lodged_on,
        _app.c.state_since,
        _app.c.updated_at,
    ).order_by(_app.c.id)
    if state is not None:
        stmt = stmt.where(_app.c.state == State(state).value)
    if limit is not None:
        stmt = stmt.limit(limit)
    with store.read() as tx:
        return [dict(r) for r in tx.conn.execute(stmt).mappings()]


def state_as_of(case_id: int, moment: datetime, *, store: Store | None = None) -> dict[str, Any]:
    """The case's state at a past moment, read from its history (what an auditor asks)."""
    store = store or default_store()
    with store.read() as tx:
        case = tx.load_case(case_id)
    at = iso(moment)
    if case.values["created_at"] > at:
        raise InvalidInput(f"case {case_id} did not exist yet on {at} (created {case.created_at})")
    rows = [r for r in history(case_id, store=store) if r["at"] <= at]
    last = rows[-1] if rows else None
    return {
        "id": case_id,
        "as_of": at,
        "state": last["to_state"] if last else "draft",
        "state_label": label(last["to_state"] if last else "draft"),
        "version": last["seq"] if last else 0,
        "since": last["at"] if last else case.values["created_at"],
        "ruleset": last["ruleset"] if last else None,
        "last_transition": last,
    }


def parse_moment(text: str) -> datetime:
    """``YYYY-MM-DD`` (the end of that day in Hong Kong) or an ISO date-time (HK if naive)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max, tzinfo=HK)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"'{text}' is not a date (YYYY-MM-DD) or an ISO date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=HK)
