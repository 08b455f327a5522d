"""The delivery ledger: every message once, every attempt recorded.

A message row is keyed by its stable id (derived from event, recipient and template), so
planning the same message twice is a no-op. Sending goes: claim (status ``sending``), record
the attempt's start, send, record its outcome. A worker that dies between the start and the
outcome leaves an attempt with no outcome: after the lease it is counted ``in_doubt`` and sent
again with the same Message-ID (at-least-once; the count says how many may be duplicates).
A message recorded as sent is never sent again.

Statuses: pending → sending → sent | failed (temporary, retried later) | dead (permanent, or
retries exhausted; a person re-drives it with ``qmas outbox retry``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from states.errors import NotFound
from states.models import deliveries as dl
from states.models import delivery_attempts as at_t
from states.store import Store, Tx
from workflows.clock import iso

OPEN = ("pending", "failed")


@dataclass(frozen=True)
class PlannedMessage:
    message_id: str
    kind: str
    language: str
    recipient: str
    context: dict[str, Any]
    case_id: int | None = None
    event_id: int | None = None


@dataclass(frozen=True)
class Claimed:
    message_id: str
    kind: str
    language: str
    recipient: str
    context: dict[str, Any]
    attempts: int
    in_doubt: int


def unplanned(tx: Tx, messages: Sequence[PlannedMessage]) -> list[PlannedMessage]:
    """The messages not in the ledger yet, once each (what `plan` would add)."""
    if not messages:
        return []
    existing = set(
        tx.conn.execute(
            select(dl.c.message_id).where(dl.c.message_id.in_([m.message_id for m in messages]))
        ).scalars()
    )
    return [m for m in {m.message_id: m for m in messages}.values() if m.message_id not in existing]


def plan(tx: Tx, messages: Sequence[PlannedMessage], now: datetime) -> int:
    """Record messages to send, due at once; ones already in the ledger are left alone.

    `now` is the real time of planning (never a simulated day): a message stamped later than
    the clock would wait, unsent, until then. Returns the number of new rows.
    """
    new = unplanned(tx, messages)
    if not new:
        return 0
    at = iso(now)
    rows = [
        {
            "message_id": m.message_id,
            "event_id": m.event_id,
            "case_id": m.case_id,
            "kind": m.kind,
            "template": m.kind,
            "language": m.language,
            "recipient": m.recipient,
            "subject": "",
            "context": json.dumps(m.context, ensure_ascii=False, sort_keys=True),
            "status": "pending",
            "attempts": 0,
            "in_doubt": 0,
            "created_at": at,
            "next_attempt_at": at,
        }
        for m in new
    ]
    tx.conn.execute(insert(dl), rows)
    return len(rows)


def _held_by_dead_worker(cutoff: str) -> Any:
    return (dl.c.status == "sending") & (dl.c.claimed_at < cutoff)


def recover_stale(store: Store, now: datetime, lease: timedelta) -> int:
    """Release messages whose worker vanished; count those that may have gone out already."""
    cutoff = iso(now - lease)
    doubtful = 0
    with store.write() as tx:
        stale = list(
            tx.conn.execute(select(dl.c.message_id).where(_held_by_dead_worker(cutoff))).scalars()
        )
        for mid in stale:
            unfinished = (
                tx.conn.execute(
                    select(at_t.c.id).where(at_t.c.message_id == mid, at_t.c.finished_at.is_(None))
                )
                .scalars()
                .all()
            )
            if unfinished:
                doubtful += 1
                tx.conn.execute(
                    update(at_t)
                    .where(at_t.c.id.in_(unfinished))
                    .values(
                        finished_at=iso(now),
                        outcome="in_doubt",
                        error="the worker stopped between sending and recording",
                    )
                )
            tx.conn.execute(
                update(dl)
                .where(dl.c.message_id == mid)
                .values(
                    status="pending",
                    claimed_at=None,
                    in_doubt=dl.c.in_doubt + (1 if unfinished else 0),
                    last_error="worker stopped mid-send; sending again with the same Message-ID"
                    if unfinished
                    else dl.c.last_error,
                )
            )
    return doubtful


def _due(at: str) -> Any:
    return dl.c.status.in_(OPEN) & (dl.c.next_attempt_at <= at)


def has_due(store: Store, now: datetime, lease: timedelta) -> bool:
    """Whether a delivery run would find work: a message due, or one a dead worker holds."""
    with store.read() as tx:
        stmt = select(dl.c.message_id).where(
            _due(iso(now)) | _held_by_dead_worker(iso(now - lease))
        )
        return tx.conn.execute(stmt.limit(1)).first() is not None


def claim(store: Store, now: datetime, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` messages due now (SKIP LOCKED on PostgreSQL, IMMEDIATE on SQLite)."""
    at = iso(now)
    with store.write() as tx:
        stmt = (
            select(
                dl.c.message_id,
                dl.c.kind,
                dl.c.language,
                dl.c.recipient,
                dl.c.context,
                dl.c.attempts,
                dl.c.in_doubt,
            )
            .where(_due(at))
            .order_by(dl.c.created_at, dl.c.message_id)
            .limit(limit)
        )
        rows = tx.claim(stmt, dl.c.message_id, status="sending", claimed_at=at)
    return [
        Claimed(
            r["message_id"],
            r["kind"],
            r["language"],
            r["recipient"],
            json.loads(r["context"]),
            r["attempts"],
            r["in_doubt"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: the message's new status, and when to try again if failed."""

    message_id: str
    attempt_id: int | None
    status: str  # sent | failed | dead
    error: str | None = None
    retry_at: datetime | None = None
    subject: str | None = None


# The per-message statements, on the driver's cursor (see states.driver): through SQLAlchemy
# they cost more than the commit itself (bench/dispatch.py).
_COUNT_ATTEMPT = "UPDATE deliveries SET attempts = attempts + 1 WHERE message_id = :mid"
_START_ATTEMPT = "INSERT INTO delivery_attempts (message_id, started_at) VALUES (:mid, :at)"
_FINISH_ATTEMPT = (
    "UPDATE delivery_attempts SET finished_at = :at, outcome = :outcome, error = :error "
    "WHERE id = :id"
)
_OUTCOMES = {"sent": "sent", "failed": "temporary", "dead": "permanent"}


def _start(tx: Tx, message_id: str, at: str) -> int:
    tx.driver.execute(_COUNT_ATTEMPT, {"mid": message_id})
    return tx.driver.insert_returning_id(_START_ATTEMPT, {"mid": message_id, "at": at})


def _finish(tx: Tx, o: Outcome, at: str) -> None:
    values: dict[str, Any] = {"status": o.status, "claimed_at": None, "last_error": o.error}
    if o.status == "sent":
        values["sent_at"] = at
    if o.retry_at is not None:
        values["next_attempt_at"] = iso(o.retry_at)
    if o.subject is not None:
        values["subject"] = o.subject
    sets = ", ".join(f"{k} = :{k}" for k in values)
    tx.driver.execute(
        f"UPDATE deliveries SET {sets} WHERE message_id = :mid", {**values, "mid": o.message_id}
    )
    if o.attempt_id is not None:
        tx.driver.execute(
            _FINISH_ATTEMPT,
            {"at": at, "outcome": _OUTCOMES[o.status], "error": o.error, "id": o.attempt_id},
        )


def settle(
    store: Store, now: datetime, *, finished: Outcome | None = None, start: str | None = None
) -> int | None:
    """Record one attempt's outcome and start the next in ONE transaction.

    Chaining them keeps a single commit per message while at most one message at a time is
    started but unrecorded: a crash leaves at most one message in doubt.
    """
    at = iso(now)
    with store.write() as tx:
        if finished is not None:
            _finish(tx, finished, at)
        return _start(tx, start, at) if start is not None else None


def release(store: Store, message_ids: Sequence[str]) -> None:
    """Hand claimed but unattempted messages back (e.g. the server went away mid-batch)."""
    if not message_ids:
        return
    with store.write() as tx:
        tx.conn.execute(
            update(dl)
            .where(dl.c.message_id.in_(list(message_ids)), dl.c.status == "sending")
            .values(status="pending", claimed_at=None)
        )


def retry(store: Store, message_id: str, now: datetime) -> dict[str, Any]:
    """Re-drive one failed or dead message now. A sent message is never re-sent."""
    with store.write() as tx:
        row = tx.conn.execute(select(dl).where(dl.c.message_id == message_id)).mappings().first()
        if row is None:
            raise NotFound(f"no message {message_id!r} in the ledger")
        if row["status"] in ("sent", "sending"):
            return dict(row)
        tx.conn.execute(
            update(dl)
            .where(dl.c.message_id == message_id)
            .values(status="pending", next_attempt_at=iso(now), claimed_at=None)
        )
        return {**dict(row), "status": "pending"}


def retry_dead(store: Store, now: datetime, *, since: str | None = None) -> int:
    """Re-drive every dead message (created at ``since`` or later, an ISO time) at once;
    returns how many. Sent messages are never touched."""
    stmt = update(dl).where(dl.c.status == "dead")
    if since is not None:
        stmt = stmt.where(dl.c.created_at >= since)
    with store.write() as tx:
        result = tx.conn.execute(
            stmt.values(status="pending", next_attempt_at=iso(now), claimed_at=None)
        )
        return int(result.rowcount or 0)


def listing(store: Store, statuses: Sequence[str], limit: int = 200) -> list[dict[str, Any]]:
    cols = [
        dl.c.message_id,
        dl.c.case_id,
        dl.c.kind,
        dl.c.recipient,
        dl.c.status,
        dl.c.attempts,
        dl.c.in_doubt,
        dl.c.last_error,
        dl.c.next_attempt_at,
        dl.c.created_at,
        dl.c.sent_at,
    ]
    stmt = select(*cols).where(dl.c.status.in_(list(statuses))).order_by(dl.c.created_at)
    with store.read() as tx:
        return [dict(r) for r in tx.conn.execute(stmt.limit(limit)).mappings()]


def counts(store: Store) -> dict[str, int]:
    with store.read() as tx:
        rows = tx.conn.execute(select(dl.c.status, func.count()).group_by(dl.c.status)).all()
        doubt = tx.conn.execute(select(func.coalesce(func.sum(dl.c.in_doubt), 0))).scalar()
    out = {str(s): int(n) for s, n in rows}
    out["in_doubt"] = int(doubt or 0)
    return out


def sent_ids(store: Store, message_ids: Sequence[str]) -> set[str]:
    with store.read() as tx:
        return set(
            tx.conn.execute(
                select(dl.c.message_id).where(
                    and_(dl.c.message_id.in_(list(message_ids)), dl.c.status == "sent")
                )
            ).scalars()
        )
