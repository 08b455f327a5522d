"""`advance()`: one transition, one transaction. Also case creation and "what can be done now".

1. load the case snapshot inside a write transaction (``BEGIN IMMEDIATE`` on SQLite);
2. decide: the move must exist from the state, the role may fire it, every guard holds
   (a refusal raises with all the reasons and writes nothing);
3. commit in the same transaction: compare-and-set of state and version, one history row
   on the hash chain, the outbox events;
4. after the commit, call the registered listeners (the Prefect nudge). The outbox is the
   source of truth, so a lost nudge loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from states.errors import Conflict, InvalidInput, TransitionNotAllowed
from states.store import Committed, Store, TransitionCommit, Tx
from workflows.application import parse_application
from workflows.clock import iso, now_utc, today_hk
from workflows.context import Context, parse_input
from workflows.effects import EFFECTS
from workflows.machine import (
    Action,
    actions,
    check_guards,
    check_role,
    check_state,
    fire,
    parse_role,
    parse_trigger,
)
from workflows.settings import WorkflowSettings
from workflows.spec import WORKFLOW_VERSION, Role, Trigger

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
    actor = (actor or "").strip()
    if not actor:
        raise InvalidInput("an actor name is required (--actor)")
    if len(actor) > 200:
        raise InvalidInput("the actor name is longer than 200 characters")
    return actor


def advance(
    case_id: int,
    trigger: str,
    actor: str,
    role: str,
    expected_version: int | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    *,
    store: Store | None = None,
    settings: WorkflowSettings | None = None,
    now: datetime | None = None,
) -> Transitioned:
    """Move a case by ``trigger``; raise a `QmasError` (and write nothing) if it may not move."""
    store = store or default_store()
    settings = settings or default_settings()
    t = parse_trigger(trigger)
    r = parse_role(role)
    actor = _check_actor(actor)
    reason = reason.strip() if reason and reason.strip() else None
    parsed = parse_input(t, data)
    moment = now or now_utc()
    with store.write() as tx:
        case = tx.load_case(case_id, lock=True)
        if expected_version is not None and case.version != expected_version:
            raise Conflict(case_id, expected_version, case.version)
        not_here = check_state(t, case.state)
        if not_here:
            raise TransitionNotAllowed(t, case.state, not_here)
        check_role(t, r)
        ctx = Context(
            case=case,
            tx=tx,
            trigger=t,
            role=r,
            actor=actor,
            reason=reason,
            data=parsed,
            now=moment,
            settings=settings,
        )
        reasons = check_guards(ctx)
        if reasons:
            raise TransitionNotAllowed(t, case.state, reasons)
        dest = fire(case.workflow, case.state, t)
        fx = EFFECTS[t](ctx)
        at = iso(moment)
        payload = {**fx.payload}
        body = {
            "case_id": case.id,
            "version": case.version + 1,
            "trigger": t.value,
            "from_state": case.state,
            "to_state": dest,
            "actor": actor,
            "role": r.value,
            "reason": reason,
            "payload": payload,
            "at": at,
        }
        committed: Committed = tx.commit_transition(
            TransitionCommit(
                case_id=case.id,
                from_version=case.version,
                prev_hash=case.head_hash,
                from_state=case.state,
                to_state=dest,
                trigger=t.value,
                actor=actor,
                role=r.value,
                reason=reason,
                payload=payload,
                at=at,
                workflow=case.workflow,
                ruleset=fx.updates.get("ruleset", case.ruleset),
                updates=fx.updates,
                new_documents=fx.new_documents,
                resolved_documents=fx.resolved_documents,
                dependant_numbers=fx.dependant_numbers,
                quota=fx.quota,
                outbox=[(TOPIC, body)],
            )
        )
    result = Transitioned(
        case.id,
        t.value,
        case.state,
        dest,
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
    with store.write() as tx:
        return tx.create_case(values, deps)


def available_actions(
    case_id: int,
    role: str,
    *,
    store: Store | None = None,
    settings: WorkflowSettings | None = None,
    now: datetime | None = None,
) -> list[Action]:
    """Every trigger with ``allowed`` and, when not allowed, the reasons (read-only)."""
    store = store or default_store()
    settings = settings or default_settings()
    r = parse_role(role)
    moment = now or now_utc()
    with store.read() as tx:
        case = tx.load_case(case_id)

        def ctx_for(t: Trigger) -> Context:
            return _read_only_context(case, tx, t, r, moment, settings)

        return actions(ctx_for, case.state, r)


def _read_only_context(
    case: Any, tx: Tx, t: Trigger, r: Role, moment: datetime, settings: WorkflowSettings
) -> Context:
    return Context(
        case=case,
        tx=_ReadOnlyTx(tx),
        trigger=t,
        role=r,
        actor="",
        reason=None,
        data=parse_input(t, {}),
        now=moment,
        settings=settings,
    )


class _ReadOnlyTx(Tx):
    """A transaction for "what can be done now": lookups only, no locks taken."""

    def __init__(self, tx: Tx) -> None:
        super().__init__(tx.conn)

    def lock_person(self, travel_document_number: str, nationality: str) -> None:
        return None
