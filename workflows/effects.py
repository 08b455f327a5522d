"""Effects: what each allowed move writes besides the state (numbers, documents, fees).

Pure functions of the decision's `Context`: they return the column updates and rows to write
(`Effects`); the store commits them with the history row in one transaction. Each declares the
facts it reads, like a guard; the move table names each move's effect.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from states.store import QuotaClaim
from workflows.calendar import add_working_days
from workflows.clock import iso
from workflows.context import Context
from workflows.facts import Fact
from workflows.inputs import (
    AmendInput,
    ConsentInput,
    DocumentsInput,
    PayFeeInput,
    RequestDocumentsInput,
    SubmitInput,
)


@dataclass
class Effects:
    updates: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    new_documents: list[dict[str, Any]] = field(default_factory=list)
    resolved_documents: list[dict[str, Any]] = field(default_factory=list)
    dependant_numbers: list[tuple[int, str]] = field(default_factory=list)  # file numbers
    dependant_evisa_numbers: list[tuple[int, str]] = field(default_factory=list)
    quota: QuotaClaim | None = None


@dataclass(frozen=True)
class Effect:
    name: str
    apply: Callable[[Context], Effects]
    needs: frozenset[Fact]
    doc: str

    def __call__(self, ctx: Context) -> Effects:
        return self.apply(ctx)


def effect(*, needs: Iterable[Fact] = ()) -> Callable[[Callable[[Context], Effects]], Effect]:
    def make(fn: Callable[[Context], Effects]) -> Effect:
        return Effect(fn.__name__, fn, frozenset(needs), (fn.__doc__ or "").strip())

    return make


def check_digit(text: str) -> str:
    """A mod-11 check character, so a mistyped number is caught at the counter."""
    total = sum((i + 2) * (ord(c) % 11) for i, c in enumerate(reversed(text)))
    return "0123456789X"[total % 11]


def persons(ctx: Context) -> int:
    """Who pays each fee: the applicant and every accompanying dependant (docs/rules.md §3.1)."""
    return 1 + len(ctx.dependants)


def application_fee_due(ctx: Context) -> int | None:
    """The application fee payable with this submission, for every person (None: none is).

    The lodging moment chooses it (`workflows.rules.lodging_moment`): the submission's own
    moment when lodged today, the start of the lodging day otherwise.
    """
    from workflows.rules import application_fee_at, lodging_moment

    return application_fee_at(lodging_moment(ctx.lodged_on, ctx.now), persons(ctx))


@effect(needs=[Fact.dependants])
def lodge(ctx: Context) -> Effects:
    """Record the lodging date, the application fee paid with it, and the assessment under the
    rule set in force on it."""
    assert isinstance(ctx.data, SubmitInput)
    a = ctx.assessment
    updates: dict[str, Any] = {"lodged_on": ctx.lodged_on.isoformat(), "submitted_at": iso(ctx.now)}
    payload: dict[str, Any] = {"lodged_on": ctx.lodged_on.isoformat()}
    due = application_fee_due(ctx)
    paid = ctx.data.application_fee
    if due is not None and paid is not None:  # the guard has checked amount and method
        fee = {"due": due, "paid": int(paid.amount or 0), "method": paid.method}
        updates.update({f"application_fee_{k}": v for k, v in fee.items()})
        payload["application_fee"] = fee
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


@effect(needs=[Fact.dependants])
def number_files(ctx: Context) -> Effects:
    """File numbers: QM<year>-<id> for the applicant, -D<n> for each dependant."""
    year = (ctx.case.lodged_on or ctx.today.isoformat())[:4]
    number = f"{ctx.settings.file_number_prefix}{year}-{ctx.case.id:06d}"
    deps = [(d.id, f"{number}-D{d.position}") for d in ctx.dependants]
    payload = {"file_number": number, "dependants": [n for _, n in deps]}
    return Effects(updates={"file_number": number}, payload=payload, dependant_numbers=deps)


@effect(needs=[Fact.documents])
def open_document_requests(ctx: Context) -> Effects:
    """A new round of document requests with one due date, which becomes the deadline."""
    assert isinstance(ctx.data, RequestDocumentsInput)
    due = ctx.data.due or add_working_days(ctx.today, ctx.settings.document_period_working_days)
    items = list(dict.fromkeys(ctx.data.documents))  # once each, in the order given
    round_no = 1 + max((d.round for d in ctx.facts.documents), default=0)
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


def _resolve(ctx: Context, everything: bool) -> list[dict[str, Any]]:
    assert isinstance(ctx.data, DocumentsInput)
    at = iso(ctx.now)
    named = set(ctx.data.received) | set(ctx.data.waived)
    resolved = []
    for d in ctx.outstanding:
        if not everything and d.item not in named:
            continue
        waived = ctx.data.waived.get(d.item)
        status = "waived" if waived is not None and d.item not in ctx.data.received else "received"
        resolved.append({"b_id": d.id, "b_status": status, "b_reason": waived, "b_at": at})
    return resolved


def _receipt(ctx: Context) -> dict[str, Any]:
    assert isinstance(ctx.data, DocumentsInput)
    return {"received": list(ctx.data.received), "waived": dict(ctx.data.waived)}


@effect(needs=[Fact.documents])
def close_document_requests(ctx: Context) -> Effects:
    """Every outstanding document is received or waived; the deadline is lifted."""
    resolved = _resolve(ctx, everything=True)
    return Effects(updates={"deadline": None}, payload=_receipt(ctx), resolved_documents=resolved)


@effect(needs=[Fact.documents])
def record_some_documents(ctx: Context) -> Effects:
    """The documents named are received or waived; the others stay open, as does the deadline
    (lifted once nothing is outstanding)."""
    resolved = _resolve(ctx, everything=False)
    remaining = len(ctx.outstanding) - len(resolved)
    payload = {**_receipt(ctx), "outstanding": remaining}
    # Nothing left to wait for: no reminders, no lapse; receive_documents moves the case on.
    updates: dict[str, Any] = {} if remaining else {"deadline": None}
    return Effects(updates=updates, payload=payload, resolved_documents=resolved)


@effect(needs=[Fact.quota, Fact.dependants])
def allot(ctx: Context) -> Effects:
    """Count the quota against the year, set the fee due and the payment deadline.

    The fee due is the visa fee in force now, when the quota is allotted (the approval in
    principle), for the applicant and each accompanying dependant (docs/rules.md §3.2).
    """
    from workflows.rules import fee_due_at

    year = ctx.facts.quota_year
    fee = fee_due_at(ctx.now, persons(ctx))
    deadline = ctx.today + timedelta(days=ctx.settings.payment_period_days)
    updates = {
        "quota_year": year,
        "allotted_at": iso(ctx.now),
        "fee_due": fee,
        "deadline": deadline.isoformat(),
    }
    payload = {
        "quota_year": year,
        "fee_due": fee,
        "persons": persons(ctx),
        "payment_deadline": deadline.isoformat(),
    }
    return Effects(updates=updates, payload=payload, quota=QuotaClaim(year))


@effect()
def record_consent(ctx: Context) -> Effects:
    """Keep the consent letter's issuer and reference."""
    assert isinstance(ctx.data, ConsentInput)
    letter = ctx.data.consent_letter
    return Effects(updates={"consent_letter": letter}, payload={"consent_letter": letter})


@effect()
def record_payment(ctx: Context) -> Effects:
    """Record the amount and method; the payment deadline is lifted."""
    assert isinstance(ctx.data, PayFeeInput)
    amount = int(ctx.data.amount or 0)
    updates = {"fee_paid": amount, "payment_method": ctx.data.method, "deadline": None}
    return Effects(updates=updates, payload={"amount": amount, "method": ctx.data.method})


def _checked(base: str) -> str:
    return f"{base}-{check_digit(base)}"


# 32 characters (5 bits each) that cannot be misread for one another: no 0/O, no 1/I.
EVISA_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
EVISA_RANDOM_CHARS = 8  # 40 bits

# Where the random part comes from: the operating system's generator. The benchmark puts a
# seeded one here so that its two runs draw the same numbers (bench/transitions.py).
draw_bits: Callable[[int], int] = secrets.randbits


def evisa_serial() -> str:
    """The random part of an e-Visa number: `EVISA_RANDOM_CHARS` characters of
    `EVISA_ALPHABET` from one draw of `draw_bits`."""
    value = draw_bits(5 * EVISA_RANDOM_CHARS)
    return "".join(
        EVISA_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(EVISA_RANDOM_CHARS))
    )


@effect(needs=[Fact.dependants])
def number_evisa(ctx: Context) -> Effects:
    """e-Visa numbers with a check character: EV<year>-<random>-<check> for the applicant,
    EV<year>-<random>-D<n>-<check> for each dependant (every person gets an e-Visa).

    The random part (`evisa_serial`, 40 bits) keeps a number from being guessed from the case
    id or from another e-Visa; so, unlike the rest of a decision, it differs between a preview
    and the move. The columns are UNIQUE: a number drawn twice (the year is part of it: 10,000
    e-Visas in a year give about one chance in 20,000 of any repeat) fails the commit, nothing
    is written, and the move can simply be made again (the CLI and the API say so)."""
    base = f"{ctx.settings.evisa_prefix}{ctx.today.year}-{evisa_serial()}"
    number = _checked(base)
    deps = [(d.id, _checked(f"{base}-D{d.position}")) for d in ctx.dependants]
    payload = {"evisa_number": number, "dependants": [n for _, n in deps]}
    return Effects(updates={"evisa_number": number}, payload=payload, dependant_evisa_numbers=deps)


@effect()
def close(ctx: Context) -> Effects:
    """Close the case: no deadline any more; the reason told to the applicant is kept."""
    from workflows.reasons import applicant_text

    code = ctx.request.reason_code
    told = applicant_text(code, ctx.reason, "en")  # what the applicant's letter says, in English
    payload = {"reason_code": code} if code is not None else {}
    return Effects(updates={"deadline": None, "outcome_reason": told}, payload=payload)


_APPLICANT_COLUMNS = ("email", "language", "representative_name", "representative_email")


def amended_applicant(ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """The applicant's amendable details before and after an amendment."""
    assert isinstance(ctx.data, AmendInput)
    case = ctx.case
    before: dict[str, Any] = {c: getattr(case, c) for c in _APPLICANT_COLUMNS}
    after = dict(before)
    change = ctx.data.applicant
    given = change.model_fields_set
    if "email" in given and change.email is not None:
        after["email"] = change.email
    if "language" in given and change.language is not None:
        after["language"] = change.language
    if "representative" in given:
        rep = change.representative
        after["representative_name"] = rep.name if rep else None
        after["representative_email"] = rep.email if rep else None
    return before, after


@effect()
def amend_applicant(ctx: Context) -> Effects:
    """Correct the applicant's contact details; the history row keeps before and after."""
    before, after = amended_applicant(ctx)
    changed = [c for c in _APPLICANT_COLUMNS if before[c] != after[c]]
    payload = {
        "before": {c: before[c] for c in changed},
        "after": {c: after[c] for c in changed},
    }
    return Effects(updates={c: after[c] for c in changed}, payload=payload)


@effect()
def nothing(ctx: Context) -> Effects:
    """The move writes nothing but its history row."""
    return Effects()
