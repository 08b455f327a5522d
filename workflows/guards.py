"""Guards: the rules a transition must satisfy, each returning the sentences a caseworker reads.

A guard returns ``[]`` when it holds. Guards marked ``on_input`` judge the trigger's ``--data``
or ``--reason``; "what can be done now" skips them and says what input the action needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from states.catalogue import State
from workflows.application import age_on
from workflows.context import (
    ConsentInput,
    Context,
    PayFeeInput,
    ReceiveDocumentsInput,
    RequestDocumentsInput,
)
from workflows.documents import NAME, label
from workflows.spec import Trigger


@dataclass(frozen=True)
class Guard:
    name: str
    check: Callable[[Context], list[str]]
    on_input: bool
    doc: str


GUARDS: dict[Trigger, list[Guard]] = {t: [] for t in Trigger}


def guard(
    *triggers: Trigger, on_input: bool = False
) -> Callable[[Callable[[Context], list[str]]], Callable[[Context], list[str]]]:
    def register(fn: Callable[[Context], list[str]]) -> Callable[[Context], list[str]]:
        for t in triggers:
            GUARDS[t].append(Guard(fn.__name__, fn, on_input, (fn.__doc__ or "").strip()))
        return fn

    return register


def longdate(day: date | str) -> str:
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{d.day} {d.strftime('%B %Y')}"


def fee_label(amount: float) -> str:
    return f"HK${amount:,.0f}" if float(amount).is_integer() else f"HK${amount:,.2f}"


# --- submit --------------------------------------------------------------------------------
@guard(Trigger.submit)
def application_complete(ctx: Context) -> list[str]:
    """An application is lodged complete and signed (qmas.md §3.1)."""
    out = []
    if not ctx.case.declaration_signed:
        out.append("The declaration has not been signed.")
    if not ctx.case.profile:
        out.append("The points-test profile has not been filled in.")
    return out


@guard(Trigger.submit, on_input=True)
def lodging_date_valid(ctx: Context) -> list[str]:
    """The lodging date chooses the rules; it cannot be in the future."""
    if ctx.lodged_on > ctx.today:
        return [f"The lodging date {longdate(ctx.lodged_on)} is in the future."]
    from workflows.rules import RULESETS

    first = min(r.starts for r in RULESETS)
    if ctx.lodged_on < first:
        return [f"No rule set covers a lodging date before {longdate(first)}."]
    return []


@guard(Trigger.submit)
def dependants_eligible(ctx: Context) -> list[str]:
    """Dependants are a spouse and unmarried children under 18 on the lodging date (§3.10)."""
    out = []
    for d in ctx.dependants:
        if d["relation"] == "child":
            age = age_on(date.fromisoformat(d["date_of_birth"]), ctx.lodged_on)
            if age >= 18:
                out.append(
                    f"{d['name']} is {age} on the lodging date; a child dependant must be under 18."
                )
    return out


@guard(Trigger.submit)
def eligible(ctx: Context) -> list[str]:
    """Prerequisites, nationality and the points test of the rule set in force (§1, §2)."""
    assessment = ctx.assessment
    return list(assessment.reasons) if assessment is not None else []


@guard(Trigger.submit)
def one_live_application(ctx: Context) -> list[str]:
    """One application at a time (qmas.md §1.1): same travel document and nationality."""
    ctx.tx.lock_person(ctx.case.travel_document_number, ctx.case.nationality)
    others = ctx.tx.live_cases_for(
        ctx.case.travel_document_number, ctx.case.nationality, ctx.case.id
    )
    if others:
        ids = ", ".join(str(i) for i in others)
        return [
            f"The applicant already has a live application (case {ids}); only one may be pending."
        ]
    return []


# --- documents -----------------------------------------------------------------------------
@guard(Trigger.request_documents, on_input=True)
def documents_named(ctx: Context) -> list[str]:
    """A request names at least one document, by a due date not already past."""
    assert isinstance(ctx.data, RequestDocumentsInput)
    out = []
    if not ctx.data.documents:
        out.append(
            'Name at least one document, e.g. --data \'{"documents": ["police_certificate"]}\'.'
        )
    bad = [d for d in ctx.data.documents if not NAME.match(d)]
    if bad:
        out.append(
            "Document names must be lower-case identifiers like police_certificate: "
            f"{', '.join(bad)}."
        )
    if ctx.data.due is not None and ctx.data.due < ctx.today:
        out.append(f"The due date {longdate(ctx.data.due)} is already past.")
    return out


def _outstanding_text(ctx: Context) -> str:
    return ", ".join(f"{label(d['item'])} (due {longdate(d['due'])})" for d in ctx.outstanding)


@guard(Trigger.receive_documents, on_input=True)
def documents_accounted_for(ctx: Context) -> list[str]:
    """Every requested document is received, or waived with a reason."""
    assert isinstance(ctx.data, ReceiveDocumentsInput)
    wanted = {d["item"] for d in ctx.outstanding}
    named = set(ctx.data.received) | set(ctx.data.waived)
    out = []
    stray = sorted(named - wanted)
    if stray:
        out.append(f"Not requested: {', '.join(stray)} (outstanding: {', '.join(sorted(wanted))}).")
    missing = [d for d in ctx.outstanding if d["item"] not in named]
    if missing:
        items = ", ".join(f"{label(d['item'])} (due {longdate(d['due'])})" for d in missing)
        out.append(f"Documents outstanding: {items}.")
    for name, why in ctx.data.waived.items():
        if not why.strip():
            out.append(f"A waiver of {name} needs a reason.")
    return out


@guard(Trigger.shortlist)
def no_documents_outstanding(ctx: Context) -> list[str]:
    """A case is shortlisted only when no document request is outstanding."""
    return [f"Documents outstanding: {_outstanding_text(ctx)}."] if ctx.outstanding else []


# --- selection, consent, fee ---------------------------------------------------------------
@guard(Trigger.allot_quota)
def quota_left(ctx: Context) -> list[str]:
    """Where the rules cap the year's quota, an allotment needs quota left (qmas.md §3.5)."""
    from workflows.rules import annual_quota

    year = ctx.today.year
    cap = annual_quota(year, ctx.today, overrides=ctx.settings.annual_quotas)
    if cap is not None and ctx.tx.quota_used(year) >= cap:
        return [f"The {year} quota of {cap:,} has been used up."]
    return []


@guard(Trigger.record_mainland_consent)
def mainland_resident(ctx: Context) -> list[str]:
    """Only Mainland residents need a consent letter (qmas.md §3.7)."""
    if not ctx.case.mainland_resident:
        return ["The applicant is not a Mainland resident; no consent letter is needed."]
    return []


@guard(Trigger.record_mainland_consent, on_input=True)
def consent_letter_given(ctx: Context) -> list[str]:
    """The consent letter is recorded by issuer and reference."""
    assert isinstance(ctx.data, ConsentInput)
    if not ctx.data.consent_letter:
        return ['Record the consent letter: --data \'{"consent_letter": "issuer and reference"}\'.']
    return []


@guard(Trigger.pay_fee)
def consent_before_payment(ctx: Context) -> list[str]:
    """A Mainland resident pays only after the consent letter is recorded."""
    if ctx.case.state == State.quota_allotted and ctx.case.mainland_resident:
        return [
            "The applicant is a Mainland resident: record the consent letter before the fee "
            "is paid."
        ]
    return []


PAYMENT_METHODS = ("credit_card", "pps", "fps")


@guard(Trigger.pay_fee, on_input=True)
def fee_matches(ctx: Context) -> list[str]:
    """The amount paid is the fee due, by an accepted method (qmas.md §3.8)."""
    assert isinstance(ctx.data, PayFeeInput)
    due = ctx.case.fee_due
    out = []
    if ctx.data.amount is None:
        out.append(
            f"No amount given; the fee due is {fee_label(due)}."
            if due is not None
            else "No amount given."
        )
    elif due is None:
        out.append("No fee is due on this case.")
    elif ctx.data.amount != due:
        out.append(
            f"The amount {fee_label(ctx.data.amount)} does not match the fee due, {fee_label(due)}."
        )
    if ctx.data.method not in PAYMENT_METHODS:
        given = (
            f"'{ctx.data.method}' is not accepted" if ctx.data.method else "No payment method given"
        )
        out.append(f"{given}; pay by {', '.join(PAYMENT_METHODS)}.")
    return out


# --- closing -------------------------------------------------------------------------------
@guard(Trigger.refuse, on_input=True)
def reason_given(ctx: Context) -> list[str]:
    """A refusal always states its reason (qmas.md §3.4: refusal letters state reasons)."""
    return [] if ctx.reason and ctx.reason.strip() else ["A refusal needs a reason (--reason)."]


@guard(Trigger.lapse)
def deadline_passed(ctx: Context) -> list[str]:
    """A case lapses only once the applicant's deadline has passed."""
    if not ctx.case.deadline:
        return ["No deadline is set on this case."]
    if ctx.today <= date.fromisoformat(ctx.case.deadline):
        return [f"The applicant's deadline, {longdate(ctx.case.deadline)}, has not passed."]
    return []
