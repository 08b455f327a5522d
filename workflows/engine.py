"""`advance()`: one transition, one transaction; `preview()`: the same decision, no commit.

1. load the case's facts inside a write transaction (``BEGIN IMMEDIATE`` on SQLite; row and
   person locks on PostgreSQL): only the facts the move's guards and effect declare;
2. decide, purely (`workflows.machine.judge`): the move must exist from the state, the role
   may fire it, every guard holds (a refusal raises with all the reasons and writes nothing);
3. commit in the same transaction: compare-and-set of state and version, one history row
   on the hash chain, the outbox events;
4. after the commit, call the registered listeners (the Prefect nudge). The outbox is the
   source of truth, so a lost nudge loses nothing.

Also case creation and "what can be done now" (`available_actions`), read from the machine.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from states.digest import personal_digest, profile_digest
from states.errors import Conflict, InvalidInput, PermissionDenied, TransitionNotAllowed
from states.store import Committed, Store, TransitionCommit, Tx
from workflows.application import parse_application
from workflows.clock import iso, now_utc, today_hk
from workflows.context import Context, Request
from workflows.facts import CaseFacts, load_facts
from workflows.inputs import parse_input
from workflows.machine import Judgement, judge, parse_role, parse_trigger
from workflows.reasons import reason_for_trigger
from workflows.settings import WorkflowSettings
from workflows.spec import MOVES, TABLE, WORKFLOW_VERSION, Trigger
from workflows.validation import check_text

log = logging.getLogger(__name__)

TOPIC = "case.transitioned"
Listener = Callable[["Transitioned"], None]
_listeners: list[Listener] = []


@dataclass(frozen=True)
class Transitioned:
    case_id: int
    trigger: str
    from_state: str
    to_state: str
    version: int
    history_id: int
    hash: str
    outbox_ids: list[int]


def on_committed(listener: Listener) -> Listener:
    """Register a callable run after each committed transition (errors are logged, not raised)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def remove_listener(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


@lru_cache(maxsize=1)
def default_store() -> Store:
    return Store()


@lru_cache(maxsize=1)
def default_settings() -> WorkflowSettings:
    return WorkflowSettings()


def _check_actor(actor: str) -> str:
    name = check_text(actor, "the actor name", limit=200, multiline=False)
    if not name:
        raise InvalidInput("an actor name is required (--actor)")
    return name


def _text(value: str | None, what: str, limit: int) -> str | None:
    """Free text (a reason, a note): trimmed, no control characters, None when nothing visible."""
    return check_text(value, what, limit=limit, multiline=True)


def make_request(
    trigger: str,
    actor: str,
    role: str,
    *,
    reason: str | None = None,
    reason_code: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Request:
    """Parse and check what was asked; `InvalidInput` (bad input) before anything is read."""
    t = parse_trigger(trigger)
    r = parse_role(role)
    code = reason_code.strip() if reason_code and reason_code.strip() else None
    if code is not None:
        reason_for_trigger(code, t)  # an unknown or unsuited code is bad input
    return Request(
        trigger=t,
        role=r,
        actor=_check_actor(actor),
        data=parse_input(t, data),
        now=now or now_utc(),
        reason=_text(reason, "the reason", 4000),
        reason_code=code,
        note=_text(note, "the note", 10000),
    )


def _facts(tx: Tx, case_id: int, request: Request, *, lock: bool) -> CaseFacts:
    """What the requested move's guards and effect read: one loader for advance and preview."""
    needs = MOVES[request.trigger].needs
    return load_facts(tx, case_id, needs, today=today_hk(request.now), lock=lock)


def advance(
    case_id: int,
    trigger: str,
    actor: str,
    role: str,
    expected_version: int | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    *,
    reason_code: str | None = None,
    note: str | None = None,
    store: Store | None = None,
    settings: WorkflowSettings | None = None,
    now: datetime | None = None,
) -> Transitioned:
    """Move a case by ``trigger``; raise a `QmasError` (and write nothing) if it may not move."""
    store = store or default_store()
    settings = settings or default_settings()
    request = make_request(
        trigger, actor, role, reason=reason, reason_code=reason_code, note=note, data=data, now=now
    )
    t = request.trigger
    with store.transition() as tx:
        facts = _facts(tx, case_id, request, lock=True)
        case = facts.case
        if expected_version is not None and case.version != expected_version:
            raise Conflict(case_id, expected_version, case.version)
        verdict = judge(Context(facts, request, settings))
        if verdict.refused_by == "role":
            raise PermissionDenied(t, request.role, [r.value for r in MOVES[t].roles])
        if verdict.effects is None:
            raise TransitionNotAllowed(t, case.state, verdict.reasons)
        fx = verdict.effects
        at = iso(request.now)
        body = event_body(case.id, case.version + 1, verdict, request, fx.payload, at)
        committed: Committed = tx.commit_transition(
            TransitionCommit(
                case_id=case.id,
                from_version=case.version,
                prev_hash=case.head_hash,
                from_state=case.state,
                to_state=verdict.to_state,
                trigger=t.value,
                actor=request.actor,
                role=request.role.value,
                reason=request.reason,
                note=request.note,
                payload=fx.payload,
                at=at,
                workflow=case.workflow,
                ruleset=fx.updates.get("ruleset", case.ruleset),
                updates=fx.updates,
                new_documents=fx.new_documents,
                resolved_documents=fx.resolved_documents,
                dependant_numbers=fx.dependant_numbers,
                dependant_evisa_numbers=fx.dependant_evisa_numbers,
                quota=fx.quota,
                outbox=[(TOPIC, body)],
                before=case,
            )
        )
    result = Transitioned(
        case.id,
        t.value,
        case.state,
        verdict.to_state,
        committed.version,
        committed.history_id,
        committed.hash,
        committed.outbox_ids,
    )
    for listener in list(_listeners):
        try:
            listener(result)
        except Exception:  # the nudge is best effort: the outbox already holds the work
            log.warning("post-commit listener %r failed", listener, exc_info=True)
    return result


def event_body(
    case_id: int,
    version: int,
    verdict: Judgement,
    request: Request,
    payload: dict[str, Any],
    at: str,
) -> dict[str, Any]:
    """The outbox event of a transition: what the flows act on. Never the internal note."""
    return {
        "case_id": case_id,
        "version": version,
        "trigger": verdict.trigger.value,
        "from_state": verdict.from_state,
        "to_state": verdict.to_state,
        "actor": request.actor,
        "role": request.role.value,
        "reason": request.reason,
        "reason_code": request.reason_code,
        "payload": payload,
        "at": at,
    }


@dataclass(frozen=True)
class Previewed:
    """What `advance` would do, computed by the same decision, with nothing written."""

    case: Any  # states.store.Case, as loaded
    facts: CaseFacts
    request: Request
    verdict: Judgement
    body: dict[str, Any] | None  # the outbox event advance would write (None when refused)


def preview(
    case_id: int,
    trigger: str,
    actor: str,
    role: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    *,
    reason_code: str | None = None,
    note: str | None = None,
    store: Store | None = None,
    settings: WorkflowSettings | None = None,
    now: datetime | None = None,
) -> Previewed:
    """Run `advance`'s decision in a read-only transaction; refusals are answers, not errors."""
    store = store or default_store()
    settings = settings or default_settings()
    request = make_request(
        trigger, actor, role, reason=reason, reason_code=reason_code, note=note, data=data, now=now
    )
    with store.read() as tx:
        facts = _facts(tx, case_id, request, lock=False)
    verdict = judge(Context(facts, request, settings))
    body = None
    if verdict.effects is not None:
        body = event_body(
            case_id,
            facts.case.version + 1,
            verdict,
            request,
            verdict.effects.payload,
            iso(request.now),
        )
    return Previewed(facts.case, facts, request, verdict, body)


def create_case(data: Any, *, store: Store | None = None, now: datetime | None = None) -> int:
    """Validate an application file and store it as a draft; returns the new case id."""
    store = store or default_store()
    moment = now or now_utc()
    app = parse_application(data, today=today_hk(moment))
    a = app.applicant
    at = iso(moment)
    values = {
        "state": "draft",
        "version": 0,
        "workflow": WORKFLOW_VERSION,
        "head_hash": "",
        "state_since": at,
        "created_at": at,
        "updated_at": at,
        "name": a.name,
        "date_of_birth": a.date_of_birth.isoformat(),
        "nationality": a.nationality,
        "mainland_resident": a.mainland_resident,
        "email": a.email,
        "language": a.language,
        "travel_document_number": a.travel_document_number,
        "representative_name": a.representative.name if a.representative else None,
        "representative_email": a.representative.email if a.representative else None,
        "declaration_signed": app.declaration_signed,
        "profile": app.profile,
    }
    deps = [
        {"name": d.name, "relation": d.relation, "date_of_birth": d.date_of_birth.isoformat()}
        for d in app.dependants
    ]
    salt = secrets.token_hex(16)
    values["privacy_salt"] = salt
    values["profile_digest"] = profile_digest(app.profile)
    values["personal_digest"] = personal_digest(salt, values, deps)
    with store.write() as tx:
        return tx.create_case(values, deps)


@dataclass
class Action:
    trigger: str
    allowed: bool
    reasons: list[str]
    dest: str
    roles: list[str]
    needs: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "allowed": self.allowed,
            "reasons": self.reasons,
            "to_state": self.dest,
            "roles": self.roles,
            "needs": self.needs,
        }


INPUT_HINTS: dict[Trigger, str] = {
    Trigger.submit: (
        'optional --data \'{"lodged_on": "YYYY-MM-DD", '
        '"application_fee": {"amount": N, "method": "fps"}}\' '
        "(a lodged_on more than 30 days back also needs --note)"
    ),
    Trigger.request_documents: (
        '--data \'{"documents": ["police_certificate"], "due": "YYYY-MM-DD"}\''
    ),
    Trigger.receive_documents: '--data \'{"received": [...], "waived": {"name": "reason"}}\'',
    Trigger.record_documents: '--data \'{"received": [...], "waived": {"name": "reason"}}\'',
    Trigger.record_mainland_consent: '--data \'{"consent_letter": "issuer and reference"}\'',
    Trigger.pay_fee: '--data \'{"amount": N, "method": "fps"}\'',
    Trigger.refuse: "--reason-code CODE (qmas reasons) or --reason TEXT",
    Trigger.amend: '--data \'{"applicant": {"email": "...", "language": "zh-HK"}}\'',
    Trigger.note: "--note TEXT",
}

# Every fact any move may read: "what can be done now" judges every trigger at once.
_ALL_FACTS = frozenset(f for m in TABLE for f in m.needs)


def available_actions(
    case_id: int,
    role: str,
    *,
    actor: str | None = None,
    store: Store | None = None,
    settings: WorkflowSettings | None = None,
    now: datetime | None = None,
) -> list[Action]:
    """Every trigger with ``allowed`` and, when not allowed, the reasons (read-only).

    With ``actor`` (an account's username) the four-eyes rules are judged for that account;
    without, they are not (nobody is named who could break them)."""
    store = store or default_store()
    settings = settings or default_settings()
    r = parse_role(role)
    moment = now or now_utc()
    with store.read() as tx:
        facts = load_facts(tx, case_id, _ALL_FACTS, today=today_hk(moment), lock=False)
    out = []
    for move in TABLE:
        request = Request(move.trigger, r, actor or "", parse_input(move.trigger, {}), moment)
        verdict = judge(Context(facts, request, settings), include_input=False)
        out.append(
            Action(
                trigger=move.trigger.value,
                allowed=verdict.allowed,
                reasons=verdict.reasons,
                dest=verdict.to_state,
                roles=sorted(x.value for x in move.roles),
                needs=INPUT_HINTS.get(move.trigger),
            )
        )
    return out
