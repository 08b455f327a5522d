"""SQLModel table definitions: the whole schema of the engine's own database.

Timestamps are ISO-8601 UTC text (``2026-11-22T01:20:00.123456Z``) and dates ISO text
(``2026-11-22``): they sort correctly, read back identically on SQLite and PostgreSQL, and the
history chain hashes them verbatim.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import JSON, Column, Index, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Application(SQLModel, table=True):
    __tablename__ = "applications"
    __table_args__ = (Index("ix_applications_traveldoc", "travel_document_number", "nationality"),)

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(index=True, max_length=32)
    version: int = 0
    workflow: str = Field(max_length=32)
    head_hash: str = Field(default="", max_length=64)
    state_since: str = Field(max_length=32)
    created_at: str = Field(max_length=32)
    updated_at: str = Field(max_length=32)

    # applicant (personal data)
    name: str = Field(max_length=200)
    date_of_birth: str = Field(max_length=10)
    nationality: str = Field(max_length=2)
    mainland_resident: bool = False
    email: str = Field(max_length=320)
    language: str = Field(default="en", max_length=8)
    travel_document_number: str = Field(default="", max_length=40)
    representative_name: str | None = Field(default=None, max_length=200)
    representative_email: str | None = Field(default=None, max_length=320)
    declaration_signed: bool = False
    profile: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

    # set as the case moves
    file_number: str | None = Field(default=None, max_length=40, unique=True)
    lodged_on: str | None = Field(default=None, max_length=10)
    submitted_at: str | None = Field(default=None, max_length=32)
    # the application fee paid with the application (none before 26 Feb 2025 11:00 HKT)
    application_fee_due: int | None = None
    application_fee_paid: int | None = None
    application_fee_method: str | None = Field(default=None, max_length=16)
    ruleset: str | None = Field(default=None, max_length=32)
    test: str | None = Field(default=None, max_length=16)
    score: int | None = None
    pass_mark: int | None = None
    passed: bool | None = None
    categories: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    quota_year: int | None = None
    allotted_at: str | None = Field(default=None, max_length=32)
    fee_due: int | None = None
    fee_paid: int | None = None
    payment_method: str | None = Field(default=None, max_length=16)
    consent_letter: str | None = Field(default=None, max_length=400)
    evisa_number: str | None = Field(default=None, max_length=40, unique=True)
    deadline: str | None = Field(default=None, max_length=10)
    outcome_reason: str | None = Field(default=None, sa_column=Column(Text))

    # privacy (states/digest.py): the history commits to a digest of the personal data salted
    # with this per-case value, never to the data, so anonymising a case keeps its chain valid
    privacy_salt: str | None = Field(default=None, max_length=64)
    anonymised_at: str | None = Field(default=None, max_length=32)
    # the salted digest of the personal data (kept after anonymisation, when the salt is gone)
    # and the digest of the profile: what the case digest commits to (states/digest.py)
    personal_digest: str | None = Field(default=None, max_length=64)
    profile_digest: str | None = Field(default=None, max_length=64)
    # who works on the case now (a username): operational, outside the case digest; every
    # change is a row of case_assignments (workflows/assignments.py)
    assignee: str | None = Field(default=None, max_length=64, index=True)


class Dependant(SQLModel, table=True):
    __tablename__ = "dependants"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="applications.id", index=True)
    position: int
    name: str = Field(max_length=200)
    relation: str = Field(max_length=16)
    date_of_birth: str = Field(max_length=10)
    file_number: str | None = Field(default=None, max_length=40, unique=True)
    evisa_number: str | None = Field(default=None, max_length=40, unique=True)


class HistoryEntry(SQLModel, table=True):
    """One committed transition. Append-only; ``hash`` chains the rows of one case."""

    __tablename__ = "history"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_history_case_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(index=True)
    seq: int
    from_state: str = Field(max_length=32)
    to_state: str = Field(max_length=32)
    trigger: str = Field(max_length=32)
    actor: str = Field(max_length=200)
    role: str = Field(max_length=16)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    # An internal remark (``--note``): kept in history and hashed, never put in an email.
    note: str | None = Field(default=None, sa_column=Column(Text))
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    at: str = Field(max_length=32)
    workflow: str = Field(max_length=32)
    ruleset: str | None = Field(default=None, max_length=32)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # Rows written since case digests exist (hashed when present, so older rows still verify):
    # the case as it stands after the move, the outbox events it wrote, the audit key's id.
    case_digest: str | None = Field(default=None, max_length=128)
    outbox_digest: str | None = Field(default=None, max_length=64)
    key_id: str | None = Field(default=None, max_length=16)


class CaseAssignment(SQLModel, table=True):
    """Every claim, assignment and release of a case: who, to whom, when."""

    __tablename__ = "case_assignments"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(index=True)
    assignee: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=16)  # claim, assign, release
    by: str = Field(max_length=64)
    at: str = Field(max_length=32)


class AuditAnchor(SQLModel, table=True):
    """A signed checkpoint in the database: the history up to ``last_id`` as it stood when the
    audit key was introduced or rotated, signed (HMAC-SHA-256) with the new key."""

    __tablename__ = "audit_anchors"

    id: int | None = Field(default=None, primary_key=True)
    at: str = Field(max_length=32)
    actor: str = Field(max_length=200)
    last_id: int
    rows: int
    digest: str = Field(max_length=64)
    key_id: str = Field(max_length=16)
    previous_key_id: str | None = Field(default=None, max_length=16)
    signature: str = Field(max_length=64)
    # each anchored row's id and the first 8 bytes of the SHA-256 of what the digest covers of
    # it (states.chain.encode_index): names an edited row whose key is gone
    ids: str | None = Field(default=None, sa_column=Column(Text))
    hashes: str | None = Field(default=None, sa_column=Column(Text))


class OutboxEvent(SQLModel, table=True):
    """A side effect owed by a committed transition; the dispatcher turns it into work."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_id", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(index=True)
    history_id: int | None = None
    topic: str = Field(max_length=64)
    trigger: str = Field(max_length=32)
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: str = Field(max_length=32)
    claimed_at: str | None = Field(default=None, max_length=32)
    processed_at: str | None = Field(default=None, max_length=32)


class DocumentRequest(SQLModel, table=True):
    __tablename__ = "document_requests"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(index=True)
    round: int
    item: str = Field(max_length=64)
    due: str = Field(max_length=10)
    status: str = Field(default="requested", max_length=16)
    waiver_reason: str | None = Field(default=None, sa_column=Column(Text))
    requested_at: str = Field(max_length=32)
    resolved_at: str | None = Field(default=None, max_length=32)


class QuotaUsage(SQLModel, table=True):
    """Quotas allotted per calendar year (Hong Kong time), kept in step by `allot_quota`."""

    __tablename__ = "quota_usage"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    used: int = 0


class Delivery(SQLModel, table=True):
    """The delivery ledger: one row per message (stable id), whatever the number of attempts."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_next", "status", "next_attempt_at"),)

    message_id: str = Field(primary_key=True, max_length=200)
    event_id: int | None = Field(default=None, index=True)
    case_id: int | None = Field(default=None, index=True)
    kind: str = Field(max_length=64)
    template: str = Field(max_length=64)
    language: str = Field(max_length=8)
    recipient: str = Field(max_length=320)
    subject: str = Field(default="", sa_column=Column(Text, nullable=False))
    context: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    in_doubt: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: str = Field(max_length=32)
    next_attempt_at: str = Field(max_length=32)
    claimed_at: str | None = Field(default=None, max_length=32)
    sent_at: str | None = Field(default=None, max_length=32)


class DeliveryAttempt(SQLModel, table=True):
    """Every attempt to send a message: started before the send, finished after."""

    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(index=True, max_length=200)
    started_at: str = Field(max_length=32)
    finished_at: str | None = Field(default=None, max_length=32)
    outcome: str | None = Field(default=None, max_length=16)
    error: str | None = Field(default=None, sa_column=Column(Text))


class Account(SQLModel, table=True):
    """A person (or the flows' built-in ``system`` account) who acts on cases."""

    __tablename__ = "accounts"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)
    roles: str = Field(default="", max_length=200)  # sorted, comma-separated
    active: bool = True
    password_hash: str | None = Field(default=None, max_length=200)  # argon2id; None: no login
    created_at: str = Field(max_length=32)
    last_login_at: str | None = Field(default=None, max_length=32)
    # login throttling: consecutive failed passwords, and the lock they earned
    failed_logins: int = 0
    locked_until: str | None = Field(default=None, max_length=32)


class ApiToken(SQLModel, table=True):
    """A bearer token: only its SHA-256 is kept, so a copied table holds no usable token."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(default="cli", max_length=16)  # cli (qmas token create) or login
    created_at: str = Field(max_length=32)
    expires_at: str = Field(max_length=32)
    revoked_at: str | None = Field(default=None, max_length=32)
    last_used_at: str | None = Field(default=None, max_length=32)


class AccessRecord(SQLModel, table=True):
    """Who read or revealed a case's personal data, when, and how (PDPO accountability)."""

    __tablename__ = "access_records"
    __table_args__ = (Index("ix_access_records_case", "case_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int
    account: str = Field(max_length=64)
    role: str = Field(max_length=16)
    action: str = Field(max_length=16)  # reveal
    fields: str = Field(max_length=200)
    via: str = Field(max_length=16)  # cli, api or console
    at: str = Field(max_length=32)


class AccountEvent(SQLModel, table=True):
    """Every change to an account or its tokens: who did what to which account, when."""

    __tablename__ = "account_events"

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=64, index=True)
    event: str = Field(max_length=32)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    by: str = Field(max_length=64)
    at: str = Field(max_length=32)


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


# The Core tables, for statements on the hot path and for reads.
applications = _table(Application)
dependants = _table(Dependant)
history = _table(HistoryEntry)
outbox = _table(OutboxEvent)
document_requests = _table(DocumentRequest)
quota_usage = _table(QuotaUsage)
deliveries = _table(Delivery)
delivery_attempts = _table(DeliveryAttempt)
accounts = _table(Account)
api_tokens = _table(ApiToken)
access_records = _table(AccessRecord)
account_events = _table(AccountEvent)
audit_anchors = _table(AuditAnchor)
case_assignments = _table(CaseAssignment)

TABLES = [
    applications,
    dependants,
    history,
    outbox,
    document_requests,
    quota_usage,
    deliveries,
    delivery_attempts,
    accounts,
    api_tokens,
    access_records,
    account_events,
    audit_anchors,
    case_assignments,
]
