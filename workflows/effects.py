"""Effects: what each allowed transition writes besides the state (numbers, documents, fees).

Pure functions of the context: they return the column updates and rows to write; the store
commits them with the history row in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from states.store import QuotaClaim
from workflows.calendar import add_working_days
from workflows.clock import iso
from workflows.context import (
    ConsentInput,
    Context,
    PayFeeInput,
    ReceiveDocumentsInput,
    RequestDocumentsInput,
)
from workflows.spec import Trigger


@dataclass
class Effects:
    updates: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    new_documents: list[dict[str, Any]] = field(default_factory=list)
    resolved_documents: list[dict[str, Any]] = field(default_factory=list)
    dependant_numbers: list[tuple[int, str]] = field(default_factory=list)
    quota: QuotaClaim | None = None


EFFECTS: dict[Trigger, Callable[[Context], Effects]] = {}


def effect(
    trigger: Trigger,
) -> Callable[[Callable[[Context], Effects]], Callable[[Context], Effects]]:
    def register(fn: Callable[[Context], Effects]) -> Callable[[Context], Effects]:
        EFFECTS[trigger] = fn
        return fn

    return register


def check_digit(text: str) -> str:
    """A mod-11 check character, so a mistyped number is caught at the counter."""
    total = sum((i + 2) * (ord(c) % 11) for i, c in enumerate(reversed(text)))
    return "0123456789X"[total % 11]


@effect(Trigger.submit)
def _submit(ctx: Context) -> Effects:
    a = ctx.assessment
    updates: dict[str, Any] = {"lodged_on": ctx.lodged_on.isoformat(), "submitted_at": iso(ctx.now)}
    payload: dict[str, Any] = {"lodged_on": ctx.lodged_on.isoformat()}
    if a is not None:
        updates.update(
            ruleset=a.ruleset,
            test=a.test,
            score=a.score,
            pass_mark=a.pass_mark,
            passed=a.passed,
            categories=dict(a.categories),
        )
        payload.update(ruleset=a.ruleset, score=a.score, pass_mark=a.pass_mark)
    return Effects(updates=updates, payload=payload)


@effect(Trigger.issue_file_number)
def _file_number(ctx: Context) -> Effects:
    year = (ctx.case.lodged_on or ctx.today.isoformat())[:4]
    number = f"{ctx.settings.file_number_prefix}{year}-{ctx.case.id:06d}"
    deps = [(d["id"], f"{number}-D{d['position']}") for d in ctx.dependants]
    payload = {"file_number": number, "dependants": [n for _, n in deps]}
    return Effects(updates={"file_number": number}, payload=payload, dependant_numbers=deps)


@effect(Trigger.request_documents)
def _request_documents(ctx: Context) -> Effects:
    assert isinstance(ctx.data, RequestDocumentsInput)
    due = ctx.data.due or add_working_days(ctx.today, ctx.settings.document_period_working_days)
    items = list(dict.fromkeys(ctx.data.documents))  # once each, in the order given
    round_no = 1 + max((d["round"] for d in ctx.tx.documents(ctx.case.id)), default=0)
    rows = [
        {
            "round": round_no,
            "item": i,
            "due": due.isoformat(),
            "status": "requested",
            "requested_at": iso(ctx.now),
        }
        for i in items
    ]
    payload = {"documents": items, "due": due.isoformat(), "round": round_no}
    return Effects(updates={"deadline": due.isoformat()}, payload=payload, new_documents=rows)


@effect(Trigger.receive_documents)
def _receive_documents(ctx: Context) -> Effects:
    assert isinstance(ctx.data, ReceiveDocumentsInput)
    at = iso(ctx.now)
    resolved = []
    for d in ctx.outstanding:
        waived = ctx.data.waived.get(d["item"])
        status = (
            "waived" if waived is not None and d["item"] not in ctx.data.received else "received"
        )
        resolved.append({"b_id": d["id"], "b_status": status, "b_reason": waived, "b_at": at})
    payload = {"received": list(ctx.data.received), "waived": dict(ctx.data.waived)}
    return Effects(updates={"deadline": None}, payload=payload, resolved_documents=resolved)


@effect(Trigger.allot_quota)
def _allot_quota(ctx: Context) -> Effects:
    from workflows.rules import annual_quota, fee_due_at

    year = ctx.today.year
    cap = annual_quota(year, ctx.today, overrides=ctx.settings.annual_quotas)
    fee = fee_due_at(ctx.now)
    deadline = ctx.today + timedelta(days=ctx.settings.payment_period_days)
    updates = {
        "quota_year": year,
        "allotted_at": iso(ctx.now),
        "fee_due": fee,
        "deadline": deadline.isoformat(),
    }
    payload = {"quota_year": year, "fee_due": fee, "payment_deadline": deadline.isoformat()}
    return Effects(updates=updates, payload=payload, quota=QuotaClaim(year, cap))


@effect(Trigger.record_mainland_consent)
def _consent(ctx: Context) -> Effects:
    assert isinstance(ctx.data, ConsentInput)
    letter = ctx.data.consent_letter
    return Effects(updates={"consent_letter": letter}, payload={"consent_letter": letter})


@effect(Trigger.pay_fee)
def _pay_fee(ctx: Context) -> Effects:
    assert isinstance(ctx.data, PayFeeInput)
    amount = int(ctx.data.amount or 0)
    updates = {"fee_paid": amount, "payment_method": ctx.data.method, "deadline": None}
    return Effects(updates=updates, payload={"amount": amount, "method": ctx.data.method})


@effect(Trigger.issue_evisa)
def _evisa(ctx: Context) -> Effects:
    year = ctx.today.year
    base = f"{ctx.settings.evisa_prefix}{year}-{ctx.case.id:06d}"
    number = f"{base}-{check_digit(base)}"
    return Effects(updates={"evisa_number": number}, payload={"evisa_number": number})


def _closing(ctx: Context) -> Effects:
    return Effects(updates={"deadline": None, "outcome_reason": ctx.reason})


for _t in (Trigger.refuse, Trigger.withdraw, Trigger.lapse):
    EFFECTS[_t] = _closing


@effect(Trigger.shortlist)
def _nothing(ctx: Context) -> Effects:
    return Effects()
