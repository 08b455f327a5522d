"""The shared `transitions` machine and the decision procedure built on it.

One `Machine` per workflow version serves every case: each thread keeps one small model
object whose state is set before a trigger (attaching a model per case costs ~6 KB and
`add_model` slows as models accumulate; DESIGN.md). Order of checks: the move must exist
from the current state, then the role, then the guards (all reasons at once).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from transitions import Machine, MachineError

from states.catalogue import CATALOGUE, TERMINAL, State
from states.errors import InvalidInput, PermissionDenied, TransitionNotAllowed
from workflows.context import Context
from workflows.guards import GUARDS
from workflows.spec import MOVES, TABLE, WORKFLOW_VERSION, Role, Trigger


class _Token:
    """The minimal model `transitions` drives: it only carries a state."""

    state: str


def build_machine() -> Machine:
    return Machine(
        model=None,
        states=[s.value for s in State],
        transitions=[
            {
                "trigger": m.trigger.value,
                "source": [s.value for s in m.sources],
                "dest": m.dest.value,
            }
            for m in TABLE
        ],
        initial=State.draft.value,
        auto_transitions=False,
        send_event=False,
    )


MACHINES: dict[str, Machine] = {WORKFLOW_VERSION: build_machine()}
_local = threading.local()
_attach = threading.Lock()


def machine_for(version: str) -> Machine:
    try:
        return MACHINES[version]
    except KeyError:
        raise InvalidInput(f"unknown workflow version {version!r}") from None


def _token(version: str) -> _Token:
    tokens: dict[str, _Token] = _local.__dict__.setdefault("tokens", {})
    token = tokens.get(version)
    if token is None:
        token = _Token()
        with _attach:
            machine_for(version).add_model(token, initial=State.draft.value)
        tokens[version] = token
    return token


def fire(version: str, state: str, trigger: Trigger) -> str:
    """Ask the machine where ``trigger`` leads from ``state``; raise if it leads nowhere."""
    machine = machine_for(version)
    token = _token(version)
    machine.set_state(state, model=token)
    try:
        token.trigger(trigger.value)  # type: ignore[attr-defined]
    except MachineError:
        raise TransitionNotAllowed(trigger, state, [not_from_state(trigger, state)]) from None
    return token.state


def parse_trigger(name: str) -> Trigger:
    try:
        return Trigger(name)
    except ValueError:
        raise InvalidInput(
            f"unknown trigger '{name}'; one of: {', '.join(t.value for t in Trigger)}"
        ) from None


def parse_role(name: str) -> Role:
    try:
        return Role(name)
    except ValueError:
        raise InvalidInput(
            f"unknown role '{name}'; one of: {', '.join(r.value for r in Role)}"
        ) from None


def not_from_state(trigger: Trigger, state: str) -> str:
    info = CATALOGUE[State(state)]
    if info.state in TERMINAL:
        return f"The case is closed ({info.en}); nothing more can be done."
    sources = ", ".join(CATALOGUE[s].en for s in MOVES[trigger].sources)
    return f"Not possible while the case is '{info.en}'; {trigger} needs the case to be: {sources}."


def check_state(trigger: Trigger, state: str) -> list[str]:
    return [] if State(state) in MOVES[trigger].sources else [not_from_state(trigger, state)]


def check_role(trigger: Trigger, role: Role) -> None:
    allowed = MOVES[trigger].roles
    if role not in allowed:
        raise PermissionDenied(trigger, role, [r.value for r in allowed])


def check_guards(ctx: Context, *, include_input: bool = True) -> list[str]:
    reasons: list[str] = []
    for g in GUARDS[ctx.trigger]:
        if include_input or not g.on_input:
            reasons.extend(g.check(ctx))
    return reasons


INPUT_HINTS: dict[Trigger, str] = {
    Trigger.submit: 'optional --data \'{"lodged_on": "YYYY-MM-DD"}\'',
    Trigger.request_documents: (
        '--data \'{"documents": ["police_certificate"], "due": "YYYY-MM-DD"}\''
    ),
    Trigger.receive_documents: '--data \'{"received": [...], "waived": {"name": "reason"}}\'',
    Trigger.record_mainland_consent: '--data \'{"consent_letter": "issuer and reference"}\'',
    Trigger.pay_fee: '--data \'{"amount": N, "method": "fps"}\'',
    Trigger.refuse: "--reason TEXT",
}


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


def actions(ctx_for: Any, state: str, role: Role) -> list[Action]:
    """Every trigger, allowed or not, with the reasons; ``ctx_for(trigger)`` builds a context."""
    out = []
    for move in TABLE:
        reasons = check_state(move.trigger, state)
        if not reasons:
            if role not in move.roles:
                roles = ", ".join(sorted(r.value for r in move.roles))
                reasons.append(f"Your role ({role}) may not do this; allowed roles: {roles}.")
            reasons.extend(check_guards(ctx_for(move.trigger), include_input=False))
        out.append(
            Action(
                trigger=move.trigger.value,
                allowed=not reasons,
                reasons=reasons,
                dest=move.dest.value,
                roles=sorted(r.value for r in move.roles),
                needs=INPUT_HINTS.get(move.trigger),
            )
        )
    return out


def mermaid(version: str = WORKFLOW_VERSION, current: str | None = None) -> str:
    """The machine as a Mermaid state diagram, read from the `transitions` machine itself."""
    machine = machine_for(version)
    lines = ["stateDiagram-v2", f"    %% workflow {version}", "    [*] --> draft"]
    for name, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for t in transitions:
                lines.append(f"    {source} --> {t.dest}: {name}")
    for s in State:
        if s in TERMINAL:
            lines.append(f"    {s.value} --> [*]")
    if current:
        lines.append("    classDef current fill:#ffd54f,stroke:#e65100,stroke-width:3px")
        lines.append(f"    class {State(current).value} current")
    return "\n".join(lines)
