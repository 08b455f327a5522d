"""What one decision looks at: the facts, who asks for what, with which input, and when.

A `Context` holds no connection and reads no clock: guards and effects are pure functions of
it, so "what can be done now", ``preview`` and ``advance`` give the same answer for the same
facts and moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from states.errors import InvalidInput
from states.store import Case, DependantRow, DocumentRow
from workflows.clock import today_hk
from workflows.facts import CaseFacts
from workflows.inputs import SubmitInput, TriggerInput
from workflows.names import Role, Trigger
from workflows.settings import WorkflowSettings

if TYPE_CHECKING:
    from workflows.rules import Assessment


@dataclass(frozen=True)
class Request:
    """Who asks for which trigger, with what input, at what moment (parsed and checked)."""

    trigger: Trigger
    role: Role
    actor: str
    data: TriggerInput
    now: datetime
    reason: str | None = None
    reason_code: str | None = None
    note: str | None = None


class Context:
    """One decision's inputs; derived values (today, lodging date, assessment) computed once."""

    def __init__(self, facts: CaseFacts, request: Request, settings: WorkflowSettings) -> None:
        self.facts = facts
        self.request = request
        self.settings = settings

    # the fields guards read most, by their short names
    @property
    def case(self) -> Case:
        return self.facts.case

    @property
    def trigger(self) -> Trigger:
        return self.request.trigger

    @property
    def data(self) -> TriggerInput:
        return self.request.data

    @property
    def reason(self) -> str | None:
        return self.request.reason

    @property
    def now(self) -> datetime:
        return self.request.now

    @property
    def outstanding(self) -> tuple[DocumentRow, ...]:
        return self.facts.outstanding

    @property
    def dependants(self) -> tuple[DependantRow, ...]:
        return self.facts.dependants

    @cached_property
    def today(self) -> date:
        return today_hk(self.request.now)

    @cached_property
    def lodged_on(self) -> date:
        data = self.request.data
        if isinstance(data, SubmitInput) and data.lodged_on is not None:
            return data.lodged_on
        return self.today

    @cached_property
    def assessment(self) -> Assessment | None:
        """The points-test judgement on the lodging date (None while the profile is empty).

        The family points count the case's accompanying dependants (so the move must load
        `Fact.dependants`), never the profile's own `children_under_18`."""
        from workflows.rules import Dependant, assess, ruleset_for

        if not self.case.profile:
            return None
        try:
            ruleset = ruleset_for(self.lodged_on)
        except InvalidInput:
            return None
        dependants = [
            # A case holds no married child: the application file refuses one (docs/rules.md §6.2).
            Dependant(d.relation, date.fromisoformat(d.date_of_birth), name=d.name)
            for d in self.facts.dependants
        ]
        return assess(
            self.case.profile,
            date_of_birth=date.fromisoformat(self.case.date_of_birth),
            nationality=self.case.nationality,
            on=self.lodged_on,
            ruleset=ruleset,
            dependants=dependants,
        )
