"""The shared `transitions` machine and the one decision procedure built on it.

One `Machine` per workflow version serves every case: each thread keeps one small model
object whose state is set before a trigger (attaching a model per case costs ~6 KB and
`add_model` slows as models accumulate; DESIGN.md). The move table's guards are the
transitions' ``conditions``, so the machine itself answers "may this trigger fire"
(``may_<trigger>``). `transitions` stops at the first failed condition, but a refusal must give
every reason at once: each guard's condition therefore records its sentences and passes, and
a last condition, ``all_guards_hold``, gives the verdict.

`judge` is the decision: pure, given the facts, the request and the settings. Order of checks:
the move must exist from the current state, then the role, then the guards.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from states.catalogue import CATALOGUE, TERMINAL, State
from states.errors import InvalidInput
from workflows.context import Context
from workflows.effects import Effects
from workflows.guards import Guard
from workflows.spec import MOVES, TABLE, WORKFLOW_VERSION, Move, Role, Trigger


@dataclass
class Asking:
    """What the machine's conditions are called with: the context and the reasons so far."""

    ctx: Context
    include_input: bool = True
    reasons: list[str] = field(default_factory=list)


class _Condition:
    """One guard as a `transitions` condition: records the guard's sentences, always passes."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.__name__ = guard.name

    def __call__(self, asking: Asking) -> bool:
        if asking.include_input or not self.guard.on_input:
            asking.reasons.extend(self.guard.check(asking.ctx))
        return True


def all_guards_hold(asking: Asking) -> bool:
    return not asking.reasons


def _transitions_of(move: Move) -> list[dict[str, Any]]:
    conditions = [*(_Condition(g) for g in move.guards), all_guards_hold]
    if move.dest is not None:
        return [
            {
                "trigger": move.trigger.value,
                "source": [s.value for s in move.sources],
                "dest": move.dest.value,
                "conditions": conditions,
            }
        ]
    # A move that keeps the state: one reflexive transition per source state.
    return [
        {"trigger": move.trigger.value, "source": s.value, "dest": "=", "conditions": conditions}
        for s in move.sources
    ]


def build_machine() -> Machine:
    return Machine(
        model=None,
        states=[s.value for s in State],
        transitions=[t for m in TABLE for t in _transitions_of(m)],
        initial=State.draft.value,
        auto_transitions=False,
        send_event=False,
    )


class _Token:
    """The minimal model `transitions` drives: it only carries a state."""

    state: str


MACHINES: dict[str, Machine] = {WORKFLOW_VERSION: build_machine()}
_local = threading.local()
_attach = threading.Lock()


def machine_for(version: str) -> Machine:
    try:
        return MACHINES[version]
    except KeyError:
        raise InvalidInput(f"unknown workflow version {version!r}") from None


def _token(version: str, state: str) -> _Token:
    tokens: dict[str, _Token] = _local.__dict__.setdefault("tokens", {})
    token = tokens.get(version)
    machine = machine_for(version)
    if token is None:
        token = _Token()
        with _attach:
            machine.add_model(token, initial=state)
        tokens[version] = token
    else:
        token.state = state  # what machine.set_state does, without the State lookup
    return token


def parse_trigger(name: str) -> Trigger:
    try:
        return Trigger(name)
    except ValueError:
        raise InvalidInput(
            f"unknown trigger '{name}'; one of: {', '.join(t.value for t in Trigger)}"
        ) from None


def parse_role(name: str) -> Role:
    if name == "admin":  # an account role that acts on no case
        raise InvalidInput(
            "the role 'admin' manages accounts and verifies the audit chain; it makes no move "
            "on a case (act as caseworker, supervisor, committee or auditor)"
        )
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


def role_refusal(trigger: Trigger, role: Role) -> str | None:
    allowed = MOVES[trigger].roles
    if role in allowed:
        return None
    roles = ", ".join(sorted(r.value for r in allowed))
    return f"Your role ({role}) may not do this; allowed roles: {roles}."


@dataclass
class Judgement:
    """The answer to "may this trigger fire now, and what would it write?"."""

    trigger: Trigger
    from_state: str
    to_state: str
    refused_by: str | None  # None (allowed), "state", "role" or "guards"
    reasons: list[str]
    effects: Effects | None  # only when allowed

    @property
    def allowed(self) -> bool:
        return self.refused_by is None


def judge(ctx: Context, *, include_input: bool = True) -> Judgement:
    """Decide one trigger for one case: pure, from the context alone.

    ``include_input=False`` (for "what can be done now") skips the guards that judge input
    not given yet.
    """
    trigger, state = ctx.trigger, ctx.case.state
    move = MOVES[trigger]
    dest = move.dest.value if move.dest is not None else state
    if state not in move.source_names:
        return Judgement(trigger, state, dest, "state", [not_from_state(trigger, state)], None)
    by_role = role_refusal(trigger, ctx.request.role)
    asking = Asking(ctx, include_input)
    token = _token(ctx.case.workflow, state)
    if by_role is None and token.trigger(trigger.value, asking):  # type: ignore[attr-defined]
        return Judgement(trigger, state, token.state, None, [], move.effect(ctx))
    if by_role is not None:
        # The role decides the answer, alone: the guards' sentences speak of the case (an
        # age, a deadline), which a role that may not act has no need to read, and which
        # could be probed move by move to unmask what is masked (a date of birth).
        return Judgement(trigger, state, dest, "role", [by_role], None)
    return Judgement(trigger, state, dest, "guards", asking.reasons, None)


def mermaid(version: str = WORKFLOW_VERSION, current: str | None = None) -> str:
    """The machine as a Mermaid state diagram, read from the `transitions` machine itself.

    Moves that keep the state (corrections, notes) would loop on every state; they are
    listed once in a comment instead.
    """
    machine = machine_for(version)
    lines = ["stateDiagram-v2", f"    %% workflow {version}", "    [*] --> draft"]
    keeping: list[str] = []
    for name, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for t in transitions:
                if t.dest == source:
                    if name not in keeping:
                        keeping.append(name)
                    continue
                lines.append(f"    {source} --> {t.dest}: {name}")
    for s in State:
        if s in TERMINAL:
            lines.append(f"    {s.value} --> [*]")
    if keeping:
        lines.append(f"    %% keep the state: {', '.join(keeping)}")
    if current:
        lines.append("    classDef current fill:#ffd54f,stroke:#e65100,stroke-width:3px")
        lines.append(f"    class {State(current).value} current")
    return "\n".join(lines)
