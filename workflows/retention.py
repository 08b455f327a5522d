"""Retention (PDPO data protection principle 2): anonymise cases closed longer than
``QMAS_RETENTION_YEARS`` (default 7).

A case's personal data (names, dates of birth but their year, email addresses, travel document
numbers, the representative) is replaced; what the statistics need (state, dates, nationality,
Mainland residence, profile, score, rule set, fees, quota, documents) is kept. In the history
and the outbox, personal values and internal notes are replaced by the salted digests the chain
already committed to, then the case's salt is erased: the history still verifies, and nobody
can test a guessed name or date against the digests. Each anonymisation is itself a history row
(trigger ``anonymise``, actor ``qmas-retention``, role ``system``), in one transaction per case.

Rows written before case digests existed hashed their payload verbatim: their personal data
cannot be replaced without breaking the chain, so they are kept and counted (``kept_rows``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from states.catalogue import TERMINAL
from states.chain import canonical_json
from states.digest import has_personal, personal_digest, redact, redact_value
from states.models import applications as app_t
from states.models import deliveries as deliveries_t
from states.models import delivery_attempts as attempts_t
from states.models import dependants as dep_t
from states.models import history as hist_t
from states.models import outbox as out_t
from states.store import Store, TransitionCommit
from workflows.clock import HK, iso, now_utc, today_hk
from workflows.settings import WorkflowSettings

ACTOR = "qmas-retention"
TRIGGER = "anonymise"
ANONYMISED = "(anonymised)"
CANCELLED = "cancelled"
_CLOSED = sorted(s.value for s in TERMINAL)


@dataclass
class Candidate:
    case_id: int
    file_number: str | None
    state: str
    closed_on: str


@dataclass
class RetentionReport:
    cutoff: str
    years: int
    candidates: list[Candidate] = field(default_factory=list)
    anonymised: list[int] = field(default_factory=list)
    kept_rows: int = 0  # history rows from before case digests, kept verbatim
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff,
            "years": self.years,
            "dry_run": self.dry_run,
            "cases": [c.__dict__ for c in self.candidates],
            "anonymised": self.anonymised,
            "kept_rows": self.kept_rows,
        }


def cutoff_for(today: date, years: int) -> date:
    """The day ``years`` calendar years before ``today`` (29 Feb becomes 28 Feb)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def candidates(store: Store, cutoff: date) -> list[Candidate]:
    """Closed cases not yet anonymised that closed before ``cutoff`` (Hong Kong date)."""
    # state_since is UTC; a case closed at 23:30 HKT on the cutoff's eve is in UTC that day
    bound = iso(datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=HK))
    stmt = (
        select(app_t.c.id, app_t.c.file_number, app_t.c.state, app_t.c.state_since)
        .where(app_t.c.state.in_(_CLOSED))
        .where(app_t.c.anonymised_at.is_(None))
        .where(app_t.c.state_since < bound)
        .order_by(app_t.c.id)
    )
    with store.read() as tx:
        return [
            Candidate(r.id, r.file_number, r.state, _hk_day(r.state_since))
            for r in tx.conn.execute(stmt)
        ]


def _hk_day(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(HK).date().isoformat()


def run(
    store: Store,
    *,
    settings: WorkflowSettings | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    operator: str = "",
    progress: Callable[[Iterator[Candidate], int], Iterator[Candidate]] | None = None,
) -> RetentionReport:
    settings = settings or WorkflowSettings()
    moment = now or now_utc()
    years = settings.retention_years
    cutoff = cutoff_for(today_hk(moment), years)
    report = RetentionReport(cutoff.isoformat(), years, dry_run=dry_run)
    report.candidates = candidates(store, cutoff)
    if dry_run:
        return report
    items: Iterator[Candidate] = iter(report.candidates)
    if progress is not None:
        items = progress(items, len(report.candidates))
    for c in items:
        kept = anonymise(store, c, years=years, at=iso(moment), operator=operator)
        if kept is not None:
            report.anonymised.append(c.case_id)
            report.kept_rows += kept
    return report


def _anonymise_deliveries(conn: Connection, case_id: int) -> None:
    """The case's messages lose their recipient and content; their ids, which end in an
    unsalted digest of the address (notifications.planner.recipient_key), are renamed, and
    their attempts with them."""
    found = conn.execute(
        select(deliveries_t.c.message_id)
        .where(deliveries_t.c.case_id == case_id)
        .order_by(deliveries_t.c.message_id)
    ).scalars()
    for n, old in enumerate(list(found), start=1):
        new = f"case-{case_id}.anonymised-{n}"
        conn.execute(
            update(deliveries_t)
            .where(deliveries_t.c.message_id == old)
            .values(message_id=new, recipient=ANONYMISED, context="{}")
        )
        # a message not sent yet (pending, failed, dead) has nobody to go to any more
        conn.execute(
            update(deliveries_t)
            .where(deliveries_t.c.message_id == new, deliveries_t.c.status != "sent")
            .values(status=CANCELLED, last_error="cancelled: the case was anonymised")
        )
        conn.execute(
            update(attempts_t).where(attempts_t.c.message_id == old).values(message_id=new)
        )


def _birth_year_only(value: str) -> str:
    return f"{value[:4]}-01-01" if len(value) >= 4 and value[:4].isdigit() else ""


def anonymise(store: Store, c: Candidate, *, years: int, at: str, operator: str) -> int | None:
    """Anonymise one case in one transaction; None when it changed meanwhile (skipped)."""
    with store.write() as tx:
        case = tx.load_case(c.case_id, lock=True)
        if case.anonymised_at is not None or case.state != c.state:
            return None
        conn = tx.conn
        salt = case.privacy_salt
        deps = tx.dependants(case.id)
        digest = personal_digest(salt, case.values, deps)
        kept = 0
        for row in conn.execute(
            select(hist_t.c.id, hist_t.c.payload, hist_t.c.note, hist_t.c.case_digest).where(
                hist_t.c.case_id == case.id
            )
        ):
            personal = has_personal(row.payload) or row.note is not None
            if row.case_digest is None:
                kept += 1 if personal else 0
                continue
            if not personal:
                continue
            payload = row.payload
            if has_personal(payload):
                payload = canonical_json(redact(salt, json.loads(payload)))
            conn.execute(
                update(hist_t)
                .where(hist_t.c.id == row.id)
                .values(payload=payload, note=redact_value(salt, row.note))
            )
        for event in conn.execute(
            select(out_t.c.id, out_t.c.payload).where(out_t.c.case_id == case.id)
        ):
            if has_personal(event.payload):
                body = redact(salt, json.loads(event.payload))
                conn.execute(
                    update(out_t)
                    .where(out_t.c.id == event.id)
                    .values(payload=json.dumps(body, sort_keys=True))
                )
        _anonymise_deliveries(conn, case.id)
        conn.execute(  # events not dispatched yet would plan messages to nobody
            update(out_t)
            .where(out_t.c.case_id == case.id, out_t.c.status != "done")
            .values(status=CANCELLED, last_error="cancelled: the case was anonymised")
        )
        for d in deps:
            conn.execute(
                update(dep_t)
                .where(dep_t.c.id == d["id"])
                .values(name=ANONYMISED, date_of_birth=_birth_year_only(d["date_of_birth"]))
            )
        updates = {
            "name": ANONYMISED,
            "date_of_birth": _birth_year_only(case.date_of_birth),
            "email": "",
            "travel_document_number": "",
            "representative_name": None,
            "representative_email": None,
            "anonymised_at": at,
            "personal_digest": digest,
            "privacy_salt": None,
        }
        told: dict[str, Any] = {"retention_years": years, "closed_on": c.closed_on}
        if operator:
            told["operator"] = operator
        tx.commit_transition(
            TransitionCommit(
                case_id=case.id,
                from_version=case.version,
                prev_hash=case.head_hash,
                from_state=case.state,
                to_state=case.state,
                trigger=TRIGGER,
                actor=ACTOR,
                role="system",
                reason=None,
                payload=told,
                at=at,
                workflow=case.workflow,
                ruleset=case.ruleset,
                updates=updates,
                before=case,
            )
        )
    return kept
