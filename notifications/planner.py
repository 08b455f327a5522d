"""Turn a committed transition (an outbox event) or a deadline into the messages it calls for.

Who hears: the applicant, and the authorised representative where there is one (docs/rules.md §8.5:
results go to "the applicant or their authorised representative"), each in the applicant's
language. Each message's id is derived from (event or deadline, recipient, template), so
planning twice yields the same ids and the ledger keeps one row.

Every template context is built by `message_context` (events, reminders, escalation alike). The
reason shown is the catalogue's text in the applicant's language (`workflows.reasons`); the
internal note is never read from an event, so it cannot reach a message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from states.catalogue import label as state_label
from states.labels import Bilingual
from workflows.documents import label as document_label
from workflows.reasons import applicant_text

# Which template each trigger's notification uses.
TRIGGER_KINDS: dict[str, str] = {
    "submit": "submitted",
    "issue_file_number": "file_number_issued",
    "request_documents": "documents_requested",
    "receive_documents": "documents_received",
    "shortlist": "shortlisted",
    "allot_quota": "quota_allotted",
    "record_mainland_consent": "mainland_consent_recorded",
    "pay_fee": "fee_paid",
    "issue_evisa": "evisa_issued",
    "refuse": "refused",
    "withdraw": "withdrawn",
    "lapse": "lapsed",
}

METHOD_LABELS: dict[str, Bilingual] = {
    "credit_card": Bilingual(en="Credit card", zh_hk="信用卡"),
    "pps": Bilingual(en="PPS", zh_hk="繳費靈"),
    "fps": Bilingual(en="FPS (Faster Payment System)", zh_hk="轉數快"),
}

FEE_KINDS = {
    "quota_allotted",
    "mainland_consent_recorded",
    "reminder_fee_first",
    "reminder_fee_due",
    "reminder_fee_final",
}


def recipient_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:10]


def message_id(source: str, kind: str, recipient: Mapping[str, Any]) -> str:
    """The stable id of one message: source (event or deadline), template, recipient."""
    return f"{source}.{kind}.{recipient['role']}-{recipient_key(str(recipient['email']))}"


def recipients(case: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = [{"name": case["name"], "email": case["email"], "role": "applicant"}]
    if case.get("representative_email"):
        out.append(
            {
                "name": case["representative_name"] or case["representative_email"],
                "email": case["representative_email"],
                "role": "representative",
            }
        )
    return out


def payment(amount: int | None, language: str) -> dict[str, Any] | None:
    if amount is None:
        return None
    methods = [{"code": c, "label": label.text(language)} for c, label in METHOD_LABELS.items()]
    return {"amount": amount, "methods": methods}


def case_context(
    case: Mapping[str, Any], dependants: Sequence[Mapping[str, Any]], language: str
) -> dict[str, Any]:
    return {
        "id": case["id"],
        "file_number": case["file_number"],
        "state": case["state"],
        "state_label": state_label(case["state"], language),
        "applicant_name": case["name"],
        "mainland_resident": bool(case["mainland_resident"]),
        "lodged_on": case["lodged_on"],
        "fee_due": case["fee_due"],
        "evisa_number": case["evisa_number"],
        "dependants": [
            {"name": d["name"], "relation": d["relation"], "file_number": d["file_number"]}
            for d in dependants
        ],
    }


def event_context(
    trigger: str,
    at: str,
    day: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """What a template knows of the event: never the internal note, only what may be told."""
    return {
        "trigger": trigger,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "at": at,
        "date": day,
    }


def message_context(
    recipient: Mapping[str, Any],
    event: dict[str, Any],
    settings: Any,
    language: str,
    *,
    case: dict[str, Any] | None = None,
    documents: Sequence[Mapping[str, Any]] = (),
    due: str | None = None,
    lapses_on: str | None = None,
    fee: int | None = None,
    stale_cases: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The one shape of a template context: every message kind gets every key."""
    return {
        "case": case,
        "recipient": dict(recipient),
        "event": event,
        "documents": [dict(d) for d in documents],
        "due": due,
        "lapses_on": lapses_on,
        "fee": payment(fee, language),
        "office": office(settings, language),
        "status_url": settings.status_url,
        "stale_cases": [dict(c) for c in stale_cases],
    }


def office(settings: Any, language: str) -> dict[str, str]:
    return {"name": settings.office_name(language), "email": settings.mail_from_address}


def for_event(
    event: Mapping[str, Any],
    case: Mapping[str, Any],
    dependants: Sequence[Mapping[str, Any]],
    settings: Any,
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(message id, kind, recipient email, context) for each message an event calls for."""
    kind = TRIGGER_KINDS.get(str(event["trigger"]))
    if kind is None:
        return []
    language = str(case["language"])
    payload = event.get("payload") or {}
    docs = [
        {"item": d, "label": document_label(d, language), "due": payload.get("due")}
        for d in payload.get("documents", [])
    ]
    fee = payload.get("fee_due", case["fee_due"]) if kind in FEE_KINDS else None
    base_case = case_context(case, dependants, language)
    if payload.get("file_number"):
        base_case["file_number"] = payload["file_number"]
    if payload.get("evisa_number"):
        base_case["evisa_number"] = payload["evisa_number"]
    reason = applicant_text(event.get("reason_code"), event.get("reason"), language)
    told = event_context(
        str(event["trigger"]),
        str(event["at"]),
        _hk_date(str(event["at"])),
        from_state=event["from_state"],
        to_state=event["to_state"],
        reason=reason,
    )
    due = payload.get("due") or payload.get("payment_deadline")
    out = []
    for person in recipients(case):
        context = message_context(
            person, told, settings, language, case=base_case, documents=docs, due=due, fee=fee
        )
        out.append(
            (message_id(f"e{event['event_id']}", kind, person), kind, person["email"], context)
        )
    return out


def for_reminder(
    kind: str,
    due: str,
    case: Mapping[str, Any],
    dependants: Sequence[Mapping[str, Any]],
    documents: Sequence[Mapping[str, Any]],
    settings: Any,
    today: str,
    lapses_on: str | None = None,
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Messages for one reminder of one case about one deadline (documents or fee).

    A final notice is sent after the due date: it names `lapses_on`, the day the case lapses
    (the end of the grace period), never the due date that has passed.
    """
    language = str(case["language"])
    base_case = case_context(case, dependants, language)
    docs = [
        {"item": d["item"], "label": document_label(d["item"], language), "due": d["due"]}
        for d in documents
    ]
    fee = case["fee_due"] if kind in FEE_KINDS else None
    told = event_context("reminder", today, today, from_state=case["state"], to_state=case["state"])
    out = []
    for person in recipients(case):
        context = message_context(
            person,
            told,
            settings,
            language,
            case=base_case,
            documents=docs,
            due=due,
            lapses_on=lapses_on,
            fee=fee,
        )
        source = f"r{case['id']}.{due}"
        out.append((message_id(source, kind, person), kind, person["email"], context))
    return out


def _hk_date(at: str) -> str:
    from workflows.clock import parse_iso, today_hk

    return today_hk(parse_iso(at)).isoformat()
