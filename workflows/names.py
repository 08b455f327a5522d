"""The workflow's vocabulary: triggers and roles (a public contract: CLI, JSON, history)."""

from __future__ import annotations

from enum import StrEnum


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
    # corrections and notes: they keep the state (self-loops), one history row each
    record_documents = "record_documents"
    amend = "amend"
    note = "note"


class Role(StrEnum):
    applicant = "applicant"
    caseworker = "caseworker"
    supervisor = "supervisor"
    committee = "committee"
    auditor = "auditor"
    system = "system"


class AccountRole(StrEnum):
    """The roles an account can hold. ``applicant`` and ``system`` are not among them: a
    caseworker records an applicant's own act, and ``system`` is the flows' own account."""

    caseworker = "caseworker"
    supervisor = "supervisor"
    committee = "committee"
    auditor = "auditor"
    admin = "admin"
