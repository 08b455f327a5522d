"""Guards: the rules a move must satisfy, each returning the sentences a caseworker reads.

A guard is a pure function of the decision's `Context` (facts, input, clock) and returns
``[]`` when it holds. Each declares the facts it reads (`needs`) so the store loads them once,
under the lock, before deciding. Guards marked ``on_input`` judge the trigger's ``--data``,
``--reason`` or ``--note``; "what can be done now" skips them and says what input the action
needs. The move table (`workflows.spec`) names which guards guard which move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from states.catalogue import State
from states.errors import InvalidInput
from workflows.clock import HK
from workflows.context import Context
from workflows.documents import NAME, label
from workflows.facts import Fact
from workflows.formats import hkd, long_date
from workflows.four_eyes import refusals
from workflows.inputs import (
    AmendInput,
    ConsentInput,
    DocumentsInput,
    FeePayment,
    PayFeeInput,
    RequestDocumentsInput,
    SubmitInput,
)
from workflows.names import Role
from workflows.reasons import OTHER
from workflows.rules.dates import age_on
from workflows.validation import quote


@dataclass(frozen=True)
class Guard:
    name: str
    check: Callable[[Context], list[str]]
    on_input: bool
    needs: frozenset[Fact]
    doc: str

    def __call__(self, ctx: Context) -> list[str]:
        return self.check(ctx)


def guard(
    *, on_input: bool = False, needs: Iterable[Fact] = ()
) -> Callable[[Callable[[Context], list[str]]], Guard]:
    def make(fn: Callable[[Context], list[str]]) -> Guard:
        return Guard(fn.__name__, fn, on_input, frozenset(needs), (fn.__doc__ or "").strip())

    return make


# --- submit --------------------------------------------------------------------------------
@guard()
def application_complete(ctx: Context) -> list[str]:
    """An application is lodged complete and signed (docs/rules.md §8.1)."""
    out = []
    if not ctx.case.declaration_signed:
        out.append("The declaration has not been signed.")
    if not ctx.case.profile:
        out.append("The points-test profile has not been filled in.")
    return out


@guard(on_input=True)
def lodging_date_valid(ctx: Context) -> list[str]:
    """The lodging date chooses the rules; it cannot be in the future."""
    if ctx.lodged_on > ctx.today:
        return [f"The lodging date {long_date(ctx.lodged_on)} is in the future."]
    from workflows.rules import RULESETS

    first = min(r.starts for r in RULESETS)
    if ctx.lodged_on < first:
        return [f"No rule set covers a lodging date before {long_date(first)}."]
    return []


# A lodging date further back than this is unusual (a paper file entered late, an import):
# the history must say why, so the note is required (issue 10 §1).
LATE_LODGING_DAYS = 30


@guard(on_input=True)
def late_lodging_explained(ctx: Context) -> list[str]:
    """A lodging date more than `LATE_LODGING_DAYS` before today (Hong Kong) needs a note
    saying why: the lodging date chooses the rules and the fees, so a back-dated one is
    explained in the history."""
    days = (ctx.today - ctx.lodged_on).days
    if days > LATE_LODGING_DAYS and not ctx.request.note:
        return [
            f"The lodging date {long_date(ctx.lodged_on)} is {days} days ago: a lodging date "
            f"more than {LATE_LODGING_DAYS} days back needs --note saying why (a paper file, "
            "an import)."
        ]
    return []


# Older than this on the lodging date is taken for a typing error in a date (a lodging date or
# a date of birth a century out); the minimum age is a prerequisite of each rule set.
MAX_APPLICANT_AGE = 100


@guard()
def applicant_age_plausible(ctx: Context) -> list[str]:
    """The applicant is born before the lodging date and no older than `MAX_APPLICANT_AGE` on
    it; under the minimum age (18) is the rule set's prerequisite, which `eligible` states."""
    born = date.fromisoformat(ctx.case.date_of_birth)
    on = long_date(ctx.lodged_on)
    if born > ctx.lodged_on:
        return [f"The lodging date {on} is before the applicant's date of birth; check both dates."]
    age = age_on(born, ctx.lodged_on)
    if age > MAX_APPLICANT_AGE:
        return [
            f"The applicant would be {age} on the lodging date {on}; an age over "
            f"{MAX_APPLICANT_AGE} is taken for a mistyped date: check the lodging date and "
            "the date of birth."
        ]
    return []


@guard(needs=[Fact.dependants])
def dependants_eligible(ctx: Context) -> list[str]:
    """Dependants are a spouse and unmarried children under 18 on the lodging date
    (docs/rules.md §6.2)."""
    out = []
    for d in ctx.dependants:
        if d.relation == "child":
            born = date.fromisoformat(d.date_of_birth)
            age = age_on(born, ctx.lodged_on) if born <= ctx.lodged_on else 0
            if age >= 18:
                out.append(
                    f"{d.name} is {age} on the lodging date; a child dependant must be under 18."
                )
    return out


@guard(needs=[Fact.dependants])  # family points count the accompanying dependants
def eligible(ctx: Context) -> list[str]:
    """Prerequisites, nationality and the points test of the rule set in force
    (docs/rules.md §2, §5, §1)."""
    if date.fromisoformat(ctx.case.date_of_birth) > ctx.lodged_on:
        return []  # no age to judge on: applicant_age_plausible says why
    assessment = ctx.assessment
    return list(assessment.reasons) if assessment is not None else []


def _moment(at: datetime) -> str:
    """ "26 February 2025 11:00 Hong Kong time" """
    local = at.astimezone(HK)
    return f"{long_date(local)} {local:%H:%M} Hong Kong time"


def _each(fee: int, persons: int) -> str:
    """ "HK$600 each for the applicant and 2 dependants" (every fee is per person)."""
    if persons == 1:
        return f"{hkd(fee)} for the applicant"
    others = persons - 1
    return f"{hkd(fee)} each for the applicant and {others} dependant{'s' if others > 1 else ''}"


def _paid_by(payment: FeePayment, what: str = "") -> list[str]:
    """A fee is paid by a method the Immigration Department accepts (docs/rules.md §3.5)."""
    if payment.method in PAYMENT_METHODS:
        return []
    given = f"'{payment.method}' is not accepted" if payment.method else "No payment method given"
    return [f"{given}{what}; pay by {', '.join(PAYMENT_METHODS)}."]


@guard(on_input=True, needs=[Fact.dependants])
def application_fee_matches(ctx: Context) -> list[str]:
    """From 26 Feb 2025 11:00 HKT the application fee, HK$600 for the applicant and each
    dependant, is paid with the application; before it none is due (docs/rules.md §3.3)."""
    from workflows.effects import application_fee_due, persons
    from workflows.rules.fees import first_application_fee, lodging_moment

    assert isinstance(ctx.data, SubmitInput)
    try:
        due = application_fee_due(ctx)
    except InvalidInput:  # no fee schedule that early: lodging_date_valid says why
        return []
    paid = ctx.data.application_fee
    since = _moment(first_application_fee().effective)
    if due is None:
        if paid is None:
            return []
        lodged = _moment(lodging_moment(ctx.lodged_on, ctx.now))
        return [
            f"No application fee is payable for an application lodged before {since} "
            f"(this one counts as lodged at {lodged}); leave out application_fee."
        ]
    each = _each(due // persons(ctx), persons(ctx))
    if paid is None or paid.amount is None:
        return [
            f"An application fee of {hkd(due)} ({each}) is payable with an application lodged "
            f'from {since}: --data \'{{"application_fee": {{"amount": {due}, '
            f'"method": "fps"}}}}\'.'
        ]
    out = []
    if paid.amount != due:
        out.append(
            f"The application fee paid, {hkd(paid.amount)}, does not match the fee due, "
            f"{hkd(due)} ({each})."
        )
    return out + _paid_by(paid, " for the application fee")


@guard(needs=[Fact.live_cases])
def one_live_application(ctx: Context) -> list[str]:
    """One application at a time (docs/rules.md §2.4): same travel document and nationality."""
    others = ctx.facts.other_live_cases
    if not others:
        return []
    if ctx.request.role is Role.applicant:
        # The applicant's own act (recorded by a caseworker, or one day made by the applicant):
        # the sentence may reach the applicant, who is told that there is another application,
        # not which case of the department's holds it.
        return ["The applicant already has a live application; only one may be pending."]
    ids = ", ".join(str(i) for i in others)
    return [f"The applicant already has a live application (case {ids}); only one may be pending."]


# A request's due date within a year: reminders count working days up to it and past it.
MAX_DUE_DAYS = 366


# --- documents -----------------------------------------------------------------------------
@guard(on_input=True)
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
            f"{quote(', '.join(bad))}."
        )
    if ctx.data.due is not None and ctx.data.due < ctx.today:
        out.append(f"The due date {long_date(ctx.data.due)} is already past.")
    elif ctx.data.due is not None and (ctx.data.due - ctx.today).days > MAX_DUE_DAYS:
        out.append(
            f"The due date {long_date(ctx.data.due)} is more than a year away; "
            "give a date within a year."
        )
    return out


def _outstanding_text(ctx: Context, only: Iterable[str] | None = None) -> str:
    keep = None if only is None else set(only)
    return ", ".join(
        f"{label(d.item)} (due {long_date(d.due)})"
        for d in ctx.outstanding
        if keep is None or d.item in keep
    )


def _named_documents(ctx: Context) -> list[str]:
    """What a receipt of documents names must be outstanding, and every waiver needs a reason."""
    assert isinstance(ctx.data, DocumentsInput)
    wanted = {d.item for d in ctx.outstanding}
    named = set(ctx.data.received) | set(ctx.data.waived)
    out = []
    stray = named - wanted
    still = ", ".join(sorted(wanted)) or "none"
    done = sorted(stray & {d.item for d in ctx.facts.documents})
    if done:
        out.append(f"Already recorded: {', '.join(done)} (outstanding: {still}).")
    never = sorted(stray.difference(done))
    if never:
        out.append(f"Not requested: {', '.join(never)} (outstanding: {still}).")
    both = sorted(set(ctx.data.received) & set(ctx.data.waived))
    if both:
        out.append(f"Named as both received and waived: {', '.join(both)}; name each once.")
    for name, why in ctx.data.waived.items():
        if not why.strip() and name not in both:
            out.append(f"A waiver of {name} needs a reason.")
    return out


@guard(on_input=True, needs=[Fact.documents])
def documents_accounted_for(ctx: Context) -> list[str]:
    """Every requested document is received, or waived with a reason."""
    assert isinstance(ctx.data, DocumentsInput)
    out = _named_documents(ctx)
    named = set(ctx.data.received) | set(ctx.data.waived)
    missing = [d.item for d in ctx.outstanding if d.item not in named]
    if missing:
        out.append(f"Documents outstanding: {_outstanding_text(ctx, missing)}.")
    return out


@guard(on_input=True, needs=[Fact.documents])
def some_documents_named(ctx: Context) -> list[str]:
    """A partial receipt names at least one outstanding document; the rest stay open."""
    assert isinstance(ctx.data, DocumentsInput)
    out = _named_documents(ctx)
    if not ctx.data.received and not ctx.data.waived:
        out.append(
            "Name the documents received or waived, e.g. "
            '--data \'{"received": ["police_certificate"]}\'.'
        )
    return out


@guard(needs=[Fact.documents])
def documents_open(ctx: Context) -> list[str]:
    """Documents can be recorded only while some are outstanding."""
    return [] if ctx.outstanding else ["No document is outstanding on this case."]


@guard(needs=[Fact.documents])
def no_documents_outstanding(ctx: Context) -> list[str]:
    """A case is shortlisted only when no document request is outstanding."""
    return [f"Documents outstanding: {_outstanding_text(ctx)}."] if ctx.outstanding else []


# --- selection, consent, fee ---------------------------------------------------------------
@guard(needs=[Fact.quota])
def quota_left(ctx: Context) -> list[str]:
    """Where the rules cap the year's quota, an allotment needs quota left (docs/rules.md §4.1)."""
    from workflows.rules import annual_quota

    year = ctx.facts.quota_year
    cap = annual_quota(year, ctx.today, overrides=ctx.settings.annual_quotas)
    if cap is not None and ctx.facts.quota_used >= cap:
        return [f"The {year} quota of {cap:,} has been used up."]
    return []


@guard()
def mainland_resident(ctx: Context) -> list[str]:
    """Only Mainland residents need a consent letter (docs/rules.md §8.6)."""
    if not ctx.case.mainland_resident:
        return ["The applicant is not a Mainland resident; no consent letter is needed."]
    return []


@guard(on_input=True)
def consent_letter_given(ctx: Context) -> list[str]:
    """The consent letter is recorded by issuer and reference."""
    assert isinstance(ctx.data, ConsentInput)
    if not ctx.data.consent_letter:
        return ['Record the consent letter: --data \'{"consent_letter": "issuer and reference"}\'.']
    return []


@guard()
def consent_before_payment(ctx: Context) -> list[str]:
    """A Mainland resident pays only after the consent letter is recorded."""
    if ctx.case.state == State.quota_allotted and ctx.case.mainland_resident:
        return [
            "The applicant is a Mainland resident: record the consent letter before the fee "
            "is paid."
        ]
    return []


PAYMENT_METHODS = ("credit_card", "pps", "fps")


@guard(on_input=True)
def fee_matches(ctx: Context) -> list[str]:
    """The amount paid is the fee due, by an accepted method (docs/rules.md §3.2, §3.5)."""
    assert isinstance(ctx.data, PayFeeInput)
    due = ctx.case.fee_due
    out = []
    if ctx.data.amount is None:
        out.append(
            f"No amount given; the fee due is {hkd(due)}."
            if due is not None
            else "No amount given."
        )
    elif due is None:
        out.append("No fee is due on this case.")
    elif ctx.data.amount != due:
        out.append(f"The amount {hkd(ctx.data.amount)} does not match the fee due, {hkd(due)}.")
    return out + _paid_by(ctx.data)


# --- closing -------------------------------------------------------------------------------
@guard(on_input=True)
def reason_given(ctx: Context) -> list[str]:
    """A refusal always states its reason (docs/rules.md §8.3: refusal letters state reasons)."""
    code = ctx.request.reason_code
    if code is None and not ctx.reason:
        return ["A refusal needs a reason (--reason-code or --reason)."]
    if code == OTHER and not ctx.reason:
        return ["A refusal for another reason needs the text the applicant will read (--reason)."]
    return []


# --- corrections and notes -----------------------------------------------------------------
@guard(on_input=True)
def amendment_changes_something(ctx: Context) -> list[str]:
    """An amendment names at least one field and changes it."""
    assert isinstance(ctx.data, AmendInput)
    given = ctx.data.applicant.model_fields_set
    if not given:
        return [
            "Name what to amend, e.g. "
            '--data \'{"applicant": {"email": "new@example.com"}}\' '
            "(fields: email, language, representative)."
        ]
    from workflows.effects import amended_applicant

    before, after = amended_applicant(ctx)
    if before == after:
        return ["Nothing would change: the case already holds these details."]
    return []


@guard(on_input=True)
def note_given(ctx: Context) -> list[str]:
    """A note needs its text; it stays internal (history only, never in an email)."""
    return [] if ctx.request.note else ["A note needs its text (--note TEXT)."]


# --- separation of duties ----------------------------------------------------------------
@guard(needs=(Fact.acts,))
def four_eyes(ctx: Context) -> list[str]:
    """The account that did an earlier step may not do this one (workflows/four_eyes.py)."""
    if not ctx.request.actor:  # "what can be done now" asked without naming an account
        return []
    return refusals(ctx.trigger, ctx.request.actor, ctx.facts.acts)


@guard()
def deadline_passed(ctx: Context) -> list[str]:
    """A case lapses only once the applicant's deadline has passed."""
    if not ctx.case.deadline:
        return ["No deadline is set on this case."]
    if ctx.today <= date.fromisoformat(ctx.case.deadline):
        return [f"The applicant's deadline, {long_date(ctx.case.deadline)}, has not passed."]
    return []
