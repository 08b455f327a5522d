"""The outbox: claim pending events in order, mark them done or failed, re-drive them.

Claims are safe with several workers at once: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and on
SQLite the writer lock taken by ``BEGIN IMMEDIATE``. An event claimed by a worker that then
died is claimable again after the lease; handlers are idempotent, so that is harmless.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select, update

from states.errors import NotFound
from states.models import outbox as ob
from states.store import Store, Tx


def claim_events(store: Store, *, now: str, stale_before: str, limit: int) -> list[dict[str, Any]]:
    """Claim up to ``limit`` events, oldest first; returns them as plain dicts."""
    with store.write() as tx:
        stmt = (
            select(ob.c.id, ob.c.case_id, ob.c.history_id, ob.c.topic, ob.c.trigger, ob.c.payload)
            .where(
                or_(
                    ob.c.status == "pending",
                    (ob.c.status == "processing") & (ob.c.claimed_at < stale_before),
                )
            )
            .order_by(ob.c.id)
            .limit(limit)
        )
        rows = tx.claim(
            stmt, ob.c.id, status="processing", claimed_at=now, attempts=ob.c.attempts + 1
        )
    return [{**json.loads(r["payload"]), "event_id": r["id"], "topic": r["topic"]} for r in rows]


def mark_done(tx: Tx, event_ids: Sequence[int], *, now: str) -> None:
    if event_ids:
        tx.conn.execute(
            update(ob)
            .where(ob.c.id.in_(list(event_ids)))
            .values(status="done", processed_at=now, last_error=None)
        )


def mark_failed(store: Store, event_id: int, error: str, *, now: str) -> None:
    with store.write() as tx:
        tx.conn.execute(
            update(ob)
            .where(ob.c.id == event_id)
            .values(status="failed", processed_at=now, last_error=error[:2000])
        )


def retry_event(store: Store, event_id: int) -> dict[str, Any]:
    with store.write() as tx:
        row = tx.conn.execute(select(ob).where(ob.c.id == event_id)).mappings().first()
        if row is None:
            raise NotFound(f"no outbox event {event_id}")
        if row["status"] in ("failed", "done"):
            tx.conn.execute(
                update(ob).where(ob.c.id == event_id).values(status="pending", claimed_at=None)
            )
        return {**dict(row), "status": "pending" if row["status"] != "processing" else "processing"}


def retry_failed(store: Store, *, since: str | None = None) -> int:
    """Re-drive every failed outbox event (created at ``since`` or later) at once."""
    stmt = update(ob).where(ob.c.status == "failed")
    if since is not None:
        stmt = stmt.where(ob.c.created_at >= since)
    with store.write() as tx:
        result = tx.conn.execute(stmt.values(status="pending", claimed_at=None))
        return int(result.rowcount or 0)


def listing(store: Store, statuses: Sequence[str], limit: int = 200) -> list[dict[str, Any]]:
    cols = [
        ob.c.id,
        ob.c.case_id,
        ob.c.trigger,
        ob.c.status,
        ob.c.attempts,
        ob.c.last_error,
        ob.c.created_at,
    ]
    stmt = select(*cols).where(ob.c.status.in_(list(statuses))).order_by(ob.c.id).limit(limit)
    with store.read() as tx:
        return [dict(r) for r in tx.conn.execute(stmt).mappings()]


def counts(store: Store) -> dict[str, int]:
    with store.read() as tx:
        rows = tx.conn.execute(select(ob.c.status, func.count()).group_by(ob.c.status)).all()
    return {str(s): int(n) for s, n in rows}
