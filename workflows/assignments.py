"""Who works on a case: claims and assignments, each recorded.

A caseworker claims an unassigned case (or one already theirs); a supervisor assigns a case to
any active caseworker, or releases it. The assignee is operational, not part of the case's
decision: it lives in ``applications.assignee`` outside the case digest, and every change is a
row of ``case_assignments`` (case, assignee, what, by whom, when), which the audit pages list.
Closed cases keep their last assignee and take no new one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from states.accounts import Accounts
from states.catalogue import TERMINAL, State
from states.errors import InvalidInput, NotAuthorized, NotFound
from states.models import applications as app_t
from states.models import case_assignments as assign_t
from states.store import Store
from workflows.clock import iso, now_utc

CLAIM, ASSIGN, RELEASE = "claim", "assign", "release"


def _case(tx: Any, case_id: int) -> Any:
    row = tx.conn.execute(
        select(app_t.c.id, app_t.c.state, app_t.c.assignee).where(app_t.c.id == case_id)
    ).first()
    if row is None:
        raise NotFound(f"no case {case_id}")
    if State(row.state) in TERMINAL:
        raise InvalidInput(f"case {case_id} is closed ({row.state}); it takes no assignee")
    return row


def _record(tx: Any, case_id: int, assignee: str | None, what: str, by: str, at: str) -> None:
    tx.conn.execute(update(app_t).where(app_t.c.id == case_id).values(assignee=assignee))
    tx.conn.execute(
        insert(assign_t).values(case_id=case_id, assignee=assignee, action=what, by=by, at=at)
    )


def claim(
    case_id: int, username: str, roles: tuple[str, ...], *, store: Store,
    now: datetime | None = None,
) -> None:  # fmt: skip
    """A caseworker takes an unassigned case."""
    if "caseworker" not in roles:
        raise NotAuthorized("claiming a case needs the role caseworker")
    with store.write() as tx:
        row = _case(tx, case_id)
        if row.assignee == username:
            return
        if row.assignee is not None:
            raise InvalidInput(
                f"case {case_id} is assigned to {row.assignee}; a supervisor may reassign it"
            )
        _record(tx, case_id, username, CLAIM, username, iso(now or now_utc()))


def assign(
    case_id: int, assignee: str | None, by: str, roles: tuple[str, ...], *, store: Store,
    now: datetime | None = None,
) -> None:  # fmt: skip
    """A supervisor assigns the case to an active caseworker (None: releases it)."""
    if "supervisor" not in roles:
        raise NotAuthorized("assigning a case needs the role supervisor")
    if assignee is not None:
        account = Accounts(store).get(assignee)
        if account is None or not account.active or "caseworker" not in account.roles:
            raise InvalidInput(f"'{assignee[:64]}' is not an active caseworker")
    with store.write() as tx:
        row = _case(tx, case_id)
        if row.assignee == assignee:
            return
        what = RELEASE if assignee is None else ASSIGN
        _record(tx, case_id, assignee, what, by, iso(now or now_utc()))


def assignments(case_id: int | None = None, *, store: Store) -> list[dict[str, Any]]:
    """Every claim, assignment and release (of one case, or all), oldest first."""
    stmt = select(assign_t).order_by(assign_t.c.id)
    if case_id is not None:
        stmt = stmt.where(assign_t.c.case_id == case_id)
    with store.read() as tx:
        return [dict(r) for r in tx.conn.execute(stmt).mappings()]
