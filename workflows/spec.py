"""The QMAS workflow as data: triggers, roles, and the transition table.

These names are a public contract (CLI, JSON, history). A reader can scan the table in one
screen; tests enumerate it. Guards live in `workflows.guards`, effects in `workflows.effects`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from states.catalogue import TERMINAL, State

WORKFLOW_VERSION = "qmas-2023.1"


class Trigger(StrEnum):
    submit = "submit"
    issue_file_number = "issue_file_number"
    request_documents = "request_documents"
    receive_documents = "receive_documents"
    shortlist = "shortlist"
    allot_quota = "allot_quota"
    record_mainland_consent = "record_mainland_consent"
    pay_fee = "pay_fee"
    issue_evisa = "issue_evisa"
    refuse = "refuse"
    withdraw = "withdraw"
    lapse = "lapse"


class Role(StrEnum):
    applicant = "applicant"
    caseworker = "caseworker"
    supervisor = "supervisor"
    committee = "committee"
    system = "system"


@dataclass(frozen=True)
class Move:
    trigger: Trigger
    sources: tuple[State, ...]
    dest: State
    roles: frozenset[Role]
    summary: str


def _roles(*names: str) -> frozenset[Role]:
    return frozenset(Role(n) for n in names)


S = State
_OPEN = tuple(s for s in State if s not in TERMINAL)
_OPEN_AFTER_DRAFT = tuple(s for s in _OPEN if s is not S.draft)

TABLE: tuple[Move, ...] = (
    Move(Trigger.submit, (S.draft,), S.submitted,
         _roles("applicant", "caseworker"), "Lodge the application"),
    Move(Trigger.issue_file_number, (S.submitted,), S.file_number_issued,
         _roles("caseworker", "system"), "Issue file numbers to the applicant and dependants"),
    Move(Trigger.request_documents, (S.file_number_issued,), S.documents_requested,
         _roles("caseworker"), "Ask the applicant for documents by a due date"),
    Move(Trigger.receive_documents, (S.documents_requested,), S.file_number_issued,
         _roles("caseworker"), "Record the requested documents as received or waived"),
    Move(Trigger.shortlist, (S.file_number_issued,), S.shortlisted,
         _roles("caseworker", "supervisor"), "Shortlist for the selection exercise"),
    Move(Trigger.allot_quota, (S.shortlisted,), S.quota_allotted,
         _roles("committee"), "Allot a quota"),
    Move(Trigger.record_mainland_consent, (S.quota_allotted,), S.mainland_consent,
         _roles("caseworker"), "Record the Mainland consent letter"),
    Move(Trigger.pay_fee, (S.quota_allotted, S.mainland_consent), S.fee_paid,
         _roles("applicant", "caseworker", "system"), "Record payment of the fee"),
    Move(Trigger.issue_evisa, (S.fee_paid,), S.evisa_issued,
         _roles("caseworker", "supervisor"), "Issue the e-Visa"),
    Move(Trigger.refuse, _OPEN_AFTER_DRAFT, S.refused,
         _roles("supervisor", "committee"), "Refuse the application, with a reason"),
    Move(Trigger.withdraw, _OPEN, S.withdrawn,
         _roles("applicant", "caseworker"), "Withdraw the application"),
    Move(Trigger.lapse, (S.documents_requested, S.quota_allotted, S.mainland_consent), S.lapsed,
         _roles("system", "supervisor"), "Close the case because its deadline has passed"),
)  # fmt: skip

MOVES: dict[Trigger, Move] = {m.trigger: m for m in TABLE}
