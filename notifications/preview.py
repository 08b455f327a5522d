"""A transition preview as plain data: the decision, and the messages it would send.

`workflows.preview` decides without committing; this module adds what only notifications know
(who would be written to, with which template, in which language, under which subject) by
planning and rendering the messages exactly as the dispatcher would, and sending none.
"""

from __future__ import annotations

from typing import Any

from notifications import planner
from notifications.render import render_message
from notifications.settings import NotificationSettings
from states.catalogue import State
from states.store import Store
from workflows.engine import Previewed

# What a deadline set by a move is for, by the state the move leads to.
DEADLINE_WHAT = {
    State.documents_requested.value: "documents",
    State.quota_allotted.value: "fee_payment",
}


def preview_report(
    p: Previewed, *, store: Store, settings: NotificationSettings | None = None
) -> dict[str, Any]:
    """The preview contract: allowed, reasons, states, version, messages, documents, deadlines."""
    v = p.verdict
    fx = v.effects
    report: dict[str, Any] = {
        "case_id": p.case.id,
        "trigger": v.trigger.value,
        "allowed": v.allowed,
        "reasons": list(v.reasons),
        "from_state": v.from_state,
        "to_state": v.to_state,
        "version_after": p.case.version + 1 if v.allowed else p.case.version,
        "messages": [],
        "documents": [],
        "deadlines": [],
        "fee_due": p.case.fee_due,
    }
    if fx is None or p.body is None:
        return report
    after = {**p.case.values, **fx.updates, "state": v.to_state}
    report["fee_due"] = after["fee_due"]
    for d in fx.new_documents:
        report["documents"].append({"name": d["item"], "due": d["due"], "status": d["status"]})
    if fx.resolved_documents:
        by_id = {d.id: d for d in p.facts.documents}
        for r in fx.resolved_documents:
            doc = by_id[r["b_id"]]
            report["documents"].append({"name": doc.item, "due": doc.due, "status": r["b_status"]})
    if fx.updates.get("deadline"):
        what = DEADLINE_WHAT.get(v.to_state, "deadline")
        report["deadlines"].append({"what": what, "due": fx.updates["deadline"]})
    report["messages"] = _messages(p, after, fx.dependant_numbers, store, settings)
    return report


def _messages(
    p: Previewed,
    after: dict[str, Any],
    numbers: list[tuple[int, str]],
    store: Store,
    settings: NotificationSettings | None,
) -> list[dict[str, Any]]:
    settings = settings or NotificationSettings()
    assert p.body is not None
    with store.read() as tx:
        dependants = tx.dependants(p.case.id)
    numbered = dict(numbers)
    for d in dependants:
        d["file_number"] = numbered.get(d["id"], d["file_number"])
    event = {**p.body, "event_id": "preview"}
    out = []
    for _mid, kind, to, context in planner.for_event(event, after, dependants, settings):
        language = str(after["language"])
        rendered = render_message(kind, language, context)
        out.append({"to": to, "template": kind, "language": language, "subject": rendered.subject})
    return out
