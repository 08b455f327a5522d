"""The QMAS workflow as data: triggers, roles, and the move table with each move's rules.

These names are a public contract (CLI, JSON, history). Read the table and you see every
move: where from, where to, who may make it, which guards must hold and what it writes. Tests
enumerate it; the shared `transitions` machine is built from it (`workflows.machine`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from states.catalogue import TERMINAL, State
from workflows import effects as fx
from workflows import guards as g
from workflows.effects import Effect
from workflows.facts import Fact
from workflows.guards import Guard
from workflows.names import Role, Trigger

__all__ = ["MOVES", "TABLE", "WORKFLOW_VERSION", "Move", "Role", "Trigger"]

WORKFLOW_VERSION = "qmas-2023.1"


@dataclass(frozen=True)
class Move:
    trigger: Trigger
    sources: tuple[State, ...]
    dest: State | None  # None: the move keeps the state (a correction or a note)
    roles: frozenset[Role]
    summary: str
    guards: tuple[Guard, ...] = ()
    effect: Effect = fx.nothing

    def dest_from(self, state: State | str) -> State:
        return self.dest if self.dest is not None else State(state)

    @cached_property
    def source_names(self) -> frozenset[str]:
        return frozenset(s.value for s in self.sources)

    @cached_property
    def needs(self) -> frozenset[Fact]:
        """Every fact the move's guards and effect read: what the store loads to decide it."""
        out = set(self.effect.needs)
        for guard in self.guards:
            out |= guard.needs
        return frozenset(out)


def _roles(*names: str) -> frozenset[Role]:
    return frozenset(Role(n) for n in names)


S = State
_ALL = tuple(State)
_OPEN = tuple(s for s in State if s not in TERMINAL)
_OPEN_AFTER_DRAFT = tuple(s for s in _OPEN if s is not S.draft)
KEEP = None

TABLE: tuple[Move, ...] = (
    Move(Trigger.submit, (S.draft,), S.submitted,
         _roles("applicant", "caseworker"), "Lodge the application",
         (g.application_complete, g.lodging_date_valid, g.late_lodging_explained,
          g.applicant_age_plausible, g.dependants_eligible, g.eligible,
          g.one_live_application, g.application_fee_matches),
         fx.lodge),
    Move(Trigger.issue_file_number, (S.submitted,), S.file_number_issued,
         _roles("caseworker", "system"), "Issue file numbers to the applicant and dependants",
         (), fx.number_files),
    Move(Trigger.request_documents, (S.file_number_issued,), S.documents_requested,
         _roles("caseworker", "system"), "Ask the applicant for documents by a due date",
         (g.documents_named,), fx.open_document_requests),
    Move(Trigger.receive_documents, (S.documents_requested,), S.file_number_issued,
         _roles("caseworker"), "Record the requested documents as received or waived",
         (g.documents_accounted_for,), fx.close_document_requests),
    Move(Trigger.shortlist, (S.file_number_issued,), S.shortlisted,
         _roles("caseworker", "supervisor"), "Shortlist for the selection exercise",
         (g.no_documents_outstanding,)),
    Move(Trigger.allot_quota, (S.shortlisted,), S.quota_allotted,
         _roles("committee"), "Allot a quota",
         (g.four_eyes, g.quota_left), fx.allot),
    Move(Trigger.record_mainland_consent, (S.quota_allotted,), S.mainland_consent,
         _roles("caseworker"), "Record the Mainland consent letter",
         (g.mainland_resident, g.consent_letter_given), fx.record_consent),
    Move(Trigger.pay_fee, (S.quota_allotted, S.mainland_consent), S.fee_paid,
         _roles("applicant", "caseworker", "system"), "Record payment of the fee",
         (g.consent_before_payment, g.fee_matches), fx.record_payment),
    Move(Trigger.issue_evisa, (S.fee_paid,), S.evisa_issued,
         _roles("caseworker", "supervisor"), "Issue the e-Visa",
         (g.four_eyes,), fx.number_evisa),
    Move(Trigger.refuse, _OPEN_AFTER_DRAFT, S.refused,
         _roles("supervisor", "committee"), "Refuse the application, with a reason",
         (g.four_eyes, g.reason_given), fx.close),
    Move(Trigger.withdraw, _OPEN, S.withdrawn,
         _roles("applicant", "caseworker"), "Withdraw the application",
         (), fx.close),
    Move(Trigger.lapse, (S.documents_requested, S.quota_allotted, S.mainland_consent), S.lapsed,
         _roles("system", "supervisor"), "Close the case because its deadline has passed",
         (g.deadline_passed,), fx.close),
    # corrections and notes: the state stays, the history gets one row each
    Move(Trigger.record_documents, (S.documents_requested,), KEEP,
         _roles("caseworker"), "Record some requested documents as received or waived",
         (g.documents_open, g.some_documents_named), fx.record_some_documents),
    Move(Trigger.amend, _OPEN, KEEP,
         _roles("caseworker", "supervisor"), "Correct the applicant's contact details",
         (g.amendment_changes_something,), fx.amend_applicant),
    Move(Trigger.note, _ALL, KEEP,
         _roles("caseworker", "supervisor", "committee", "auditor"),
         "Add an internal note to the case's history",
         (g.note_given,)),
)  # fmt: skip

MOVES: dict[Trigger, Move] = {m.trigger: m for m in TABLE}
assert set(MOVES) == set(Trigger), "every trigger has exactly one move"
