"""Read models: a case, its history and the case list as plain JSON-able dicts."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy import case as sql_case

from states.accounts import Accounts
from states.catalogue import CATALOGUE, TERMINAL, State, label
from states.errors import InvalidInput, NotAuthorized, NotFound
from states.models import applications as _app
from states.models import deliveries as _deliveries
from states.models import dependants as _deps
from states.models import document_requests as _docs
from states.models import history as _hist
from states.store import Store
from workflows import documents as doc_catalogue
from workflows.application import normalise_travel_document
from workflows.authz import REVEAL, acting_account
from workflows.clock import HK, iso, parse_iso, today_hk
from workflows.engine import default_store
from workflows.privacy import PERSONAL_FIELDS, mask_date_of_birth, mask_document

# The largest id a row can have (a signed 64-bit integer in SQLite and PostgreSQL).
MAX_ID = 2**63 - 1

# A principal's file number (QM2023-000001) or a dependant's (QM2023-000001-D1).
_FILE_NUMBER = re.compile(r"^[A-Z]{1,8}\d{4}-\d+(-D\d+)?$")


def resolve_case(ref: str | int, *, store: Store | None = None) -> int:
    """The case id for a case id (``12``) or a file number (``QM2023-000012``).

    A dependant's file number (``QM2023-000012-D1``) finds the principal's case. The prefix is
    read case-insensitively and surrounding whitespace is ignored. `NotFound` for a ref that
    names no case, `InvalidInput` for text that is neither an id nor a file number.
    """
    store = store or default_store()
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise InvalidInput(f"'{ref}' is not a case id or a file number (e.g. QM2023-000001)")
    text = str(ref).strip().upper()
    if text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        if len(digits) > 19 or int(digits) > MAX_ID:  # no row id is that large
            shown = digits if len(digits) <= 40 else digits[:40] + "…"
            raise NotFound(f"no case {shown}")
        case_id = int(digits)
        with store.read() as tx:
            found = tx.conn.execute(select(_app.c.id).where(_app.c.id == case_id)).first()
        if found is None:
            raise NotFound(f"no case {case_id}")
        return case_id
    match = _FILE_NUMBER.match(text)
    if match is None:
        shown = str(ref).strip()[:60]
        raise InvalidInput(
            f"'{shown}' is not a case id or a file number (e.g. 12, QM2023-000012, "
            "QM2023-000012-D1)"
        )
    if match.group(1):  # a dependant's number: the case of the principal
        stmt = select(_deps.c.application_id).where(_deps.c.file_number == text)
    else:
        stmt = select(_app.c.id).where(_app.c.file_number == text)
    with store.read() as tx:
        row = tx.conn.execute(stmt).first()
    if row is None:
        raise NotFound(f"no case with file number {text}")
    return int(row[0])


def case_view(case_id: int, *, store: Store | None = None, reveal: bool = False) -> dict[str, Any]:
    """Everything about one case. Travel document numbers and dates of birth are masked
    unless ``reveal`` (the caller records who revealed them: `Accounts.record_access`)."""
    doc = (lambda x: x) if reveal else mask_document
    dob = (lambda x: x) if reveal else mask_date_of_birth
    store = store or default_store()
    with store.read() as tx:
        c = tx.load_case(case_id)
        deps = tx.dependants(case_id)
        docs = tx.documents(case_id)
        messages = (
            tx.conn.execute(
                select(
                    _deliveries.c.kind,
                    _deliveries.c.recipient,
                    _deliveries.c.status,
                    _deliveries.c.created_at,
                    _deliveries.c.sent_at,
                )
                .where(_deliveries.c.case_id == case_id)
                .order_by(_deliveries.c.created_at)
            )
            .mappings()
            .all()
        )
    v = c.values
    rep = (
        {"name": v["representative_name"], "email": v["representative_email"]}
        if v["representative_name"]
        else None
    )
    return {
        "id": c.id,
        "file_number": v["file_number"],
        "state": c.state,
        "state_label": label(c.state),
        "terminal": CATALOGUE[State(c.state)].terminal,
        "version": c.version,
        "workflow": c.workflow,
        "applicant": {
            "name": v["name"],
            "date_of_birth": dob(v["date_of_birth"]),
            "nationality": v["nationality"],
            "mainland_resident": bool(v["mainland_resident"]),
            "email": v["email"],
            "language": v["language"],
            "travel_document_number": doc(v["travel_document_number"]),
            "representative": rep,
        },
        "dependants": [
            {
                "name": d["name"],
                "relation": d["relation"],
                "date_of_birth": dob(d["date_of_birth"]),
                "file_number": d["file_number"],
                "evisa_number": d["evisa_number"],
            }
            for d in deps
        ],
        "declaration_signed": bool(v["declaration_signed"]),
        "documents": [
            {
                "name": d["item"],
                "label": doc_catalogue.label(d["item"]),
                "due": d["due"],
                "status": d["status"],
                "round": d["round"],
                "waiver_reason": d["waiver_reason"],
                "requested_at": d["requested_at"],
                "resolved_at": d["resolved_at"],
            }
            for d in docs
        ],
        "lodged_on": v["lodged_on"],
        "submitted_at": v["submitted_at"],
        # paid with the application from 26 Feb 2025 11:00 HKT; null where none was due
        "application_fee": (
            {
                "due": v["application_fee_due"],
                "paid": v["application_fee_paid"],
                "method": v["application_fee_method"],
            }
            if v["application_fee_due"] is not None
            else None
        ),
        "ruleset": v["ruleset"],
        "test": v["test"],
        "score": v["score"],
        "pass_mark": v["pass_mark"],
        "passed": None if v["passed"] is None else bool(v["passed"]),
        "categories": v["categories"],
        "quota_year": v["quota_year"],
        "fee_due": v["fee_due"],
        "fee_paid": v["fee_paid"],
        "payment_method": v["payment_method"],
        "consent_letter": v["consent_letter"],
        "evisa_number": v["evisa_number"],
        "deadline": v["deadline"],
        "outcome_reason": v["outcome_reason"],
        "state_since": v["state_since"],
        "created_at": v["created_at"],
        "updated_at": v["updated_at"],
        # set once retention anonymised the case: its personal data is gone, its history kept
        "anonymised_at": v["anonymised_at"],
        "messages": [dict(m) for m in messages],
    }


def history(case_id: int, *, store: Store | None = None) -> list[dict[str, Any]]:
    store = store or default_store()
    with store.read() as tx:
        tx.load_case(case_id)  # NotFound for an unknown case
        rows = tx.conn.execute(
            select(_hist).where(_hist.c.case_id == case_id).order_by(_hist.c.seq)
        ).mappings()
        return [
            {
                "id": r["id"],
                "seq": r["seq"],
                "from_state": r["from_state"],
                "to_state": r["to_state"],
                "trigger": r["trigger"],
                "actor": r["actor"],
                "role": r["role"],
                "reason": r["reason"],
                "note": r["note"],
                "payload": json.loads(r["payload"]),
                "at": r["at"],
                "workflow": r["workflow"],
                "ruleset": r["ruleset"],
                "prev_hash": r["prev_hash"],
                "hash": r["hash"],
            }
            for r in rows
        ]


def list_cases(
    state: str | Sequence[str] | None = None,
    *,
    store: Store | None = None,
    limit: int | None = None,
    today: date | None = None,
    q: str | None = None,
    after: int | None = None,
    by_document: bool = True,
) -> list[dict[str, Any]]:
    """The case list, oldest first: one query, whatever the number of cases.

    ``q`` keeps the cases whose file number (the principal's or a dependant's) or full
    travel document number equals it, or whose name contains it (case-insensitive);
    ``after`` keeps ids above it (keyset pagination: pass the last id of the page before);
    ``by_document=False`` leaves the travel document number out of ``q`` (for a caller who
    may not see it unmasked).

    ``state`` is one state or several (a case in any of them); ``next_due`` is the earliest
    open deadline (the case's own deadline or a document still requested) and
    ``days_in_state`` counts whole days from the Hong Kong date of ``state_since`` to ``today``
    (default: today in Hong Kong).
    """
    store = store or default_store()
    today = today or today_hk()
    docs_due = (
        select(_docs.c.case_id, func.min(_docs.c.due).label("docs_due"))
        .where(_docs.c.status == "requested")
        .group_by(_docs.c.case_id)
        .subquery()
    )
    stmt = (
        select(
            _app.c.id,
            _app.c.file_number,
            _app.c.name,
            _app.c.state,
            _app.c.version,
            _app.c.lodged_on,
            _app.c.state_since,
            _app.c.updated_at,
            _app.c.deadline,
            docs_due.c.docs_due,
        )
        .outerjoin(docs_due, docs_due.c.case_id == _app.c.id)
        .order_by(_app.c.id)
    )
    if state is not None:
        states = [state] if isinstance(state, str) else list(state)
        unknown = [s for s in states if s not in State.__members__]
        if unknown:
            shown = ", ".join(repr(s)[:40] for s in unknown)
            raise InvalidInput(f"unknown state {shown}; states: {', '.join(State)}")
        stmt = stmt.where(_app.c.state.in_(states))
    if q is not None and q.strip():
        stmt = stmt.where(_matches(q.strip(), by_document=by_document, dialect=store.dialect))
    if after is not None:
        stmt = stmt.where(_app.c.id > after)
    if limit is not None:
        stmt = stmt.limit(limit)
    with store.read() as tx:
        rows = [dict(r) for r in tx.conn.execute(stmt).mappings()]
    for r in rows:
        dues = [d[:10] for d in (r.pop("deadline"), r.pop("docs_due")) if d]
        r["since"] = r["state_since"]
        # A closed case has nothing due, even if it still holds a deadline or a request.
        r["next_due"] = min(dues) if dues and State(r["state"]) not in TERMINAL else None
        r["days_in_state"] = (today - today_hk(parse_iso(r["state_since"]))).days
    return rows


def holding_document(case_ids: Sequence[int], q: str, *, store: Store | None = None) -> list[int]:
    """Which of ``case_ids`` hold the travel document number ``q`` (as people type it): the
    cases a search by that number found by it, for the access records of such a search."""
    try:
        number = normalise_travel_document(q)
    except ValueError:
        return []
    if not case_ids:
        return []
    store = store or default_store()
    stmt = select(_app.c.id).where(
        _app.c.id.in_(list(case_ids)), _app.c.travel_document_number == number
    )
    with store.read() as tx:
        return [int(r[0]) for r in tx.conn.execute(stmt)]


def _matches(q: str, *, by_document: bool, dialect: str) -> Any:
    """File number (principal's or dependant's), the full travel document number, or a part
    of the name; LIKE's wildcards in ``q`` are taken literally."""
    upper = q.upper()
    folded = q.casefold() if dialect == "sqlite" else q.lower()
    pattern = "%" + folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    # Case-insensitive beyond ASCII: SQLite gets Python's casefold (states.db), PostgreSQL
    # its own lower(), which knows Unicode.
    name = func.qmas_fold(_app.c.name) if dialect == "sqlite" else func.lower(_app.c.name)
    dependant_of = select(_deps.c.application_id).where(_deps.c.file_number == upper)
    tests = [
        _app.c.file_number == upper,
        _app.c.id.in_(dependant_of),
        name.like(pattern, escape="\\"),
    ]
    if by_document:
        # typed as on the document or as people type it (spaces, dashes, lower case); text
        # that is no travel document number has nothing to compare
        with contextlib.suppress(ValueError):
            tests.append(_app.c.travel_document_number == normalise_travel_document(q))
    return or_(*tests)


def state_as_of(case_id: int, moment: datetime, *, store: Store | None = None) -> dict[str, Any]:
    """The case's state at a past moment, read from its history (what an auditor asks)."""
    store = store or default_store()
    with store.read() as tx:
        case = tx.load_case(case_id)
    at = iso(moment)
    if case.values["created_at"] > at:
        raise InvalidInput(f"case {case_id} did not exist yet on {at} (created {case.created_at})")
    rows = [r for r in history(case_id, store=store) if r["at"] <= at]
    last = rows[-1] if rows else None
    # A note or an amend keeps the state: the state dates from the last row that changed it.
    moves = [r for r in rows if r["from_state"] != r["to_state"]]
    return {
        "id": case_id,
        "as_of": at,
        "state": last["to_state"] if last else "draft",
        "state_label": label(last["to_state"] if last else "draft"),
        "version": last["seq"] if last else 0,
        "since": moves[-1]["at"] if moves else case.values["created_at"],
        "ruleset": last["ruleset"] if last else None,
        "last_transition": last,
    }


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` date typed by a person (a command-line option, a file's field)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{text}' is not a date (YYYY-MM-DD)") from None


def parse_moment(text: str) -> datetime:
    """``YYYY-MM-DD`` (the end of that day in Hong Kong) or an ISO date-time (HK if naive)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max, tzinfo=HK)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"'{text}' is not a date (YYYY-MM-DD) or an ISO date-time") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=HK)
    try:
        moment.astimezone(UTC)  # every stored time is UTC: the moment must have one
    except OverflowError:
        raise InvalidInput(f"'{text}' is outside the years 1-9999 in UTC") from None
    return moment


def reveal_case(
    case_id: int,
    actor: str | None,
    role: str | None,
    *,
    via: str,
    store: Store | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The case with personal data unmasked, for a caseworker or supervisor; the reveal is
    recorded (who, in which role, which fields, when, through what) before it is returned."""
    store = store or default_store()
    if not actor or role is None:
        raise InvalidInput("revealing personal data needs --actor USERNAME and --role ROLE")
    account = acting_account(actor, role, store=store)
    if role not in REVEAL:
        raise NotAuthorized(
            f"only a caseworker or supervisor may reveal personal data; not the role '{role}'"
        )
    view = case_view(case_id, store=store, reveal=True)
    Accounts(store).record_access(
        case_id,
        account=account.username,
        role=role,
        action="reveal",
        fields=PERSONAL_FIELDS,
        via=via,
        at=iso(now or datetime.now(UTC)),
    )
    return view


# --- audit pages (issue 11) ---
# The console's audit pages (console/web/audit_pages.py) and the public status enquiry
# (console/web/enquiry.py) read through these.

AUDIT_PAGE_SIZE = 100


def audit_history(
    *,
    actor: str | None = None,
    trigger: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    case_id: int | None = None,
    after: int | None = None,
    limit: int | None = AUDIT_PAGE_SIZE,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """History rows across cases, oldest first, with each case's file number: by ``actor``
    and ``trigger`` (exact), ``since``/``until`` (inclusive moments), ``case_id``; ``after``
    keeps ids above it (keyset pagination)."""
    store = store or default_store()
    stmt = (
        select(
            _hist.c.id,
            _hist.c.case_id,
            _app.c.file_number,
            _hist.c.seq,
            _hist.c.at,
            _hist.c.trigger,
            _hist.c.from_state,
            _hist.c.to_state,
            _hist.c.actor,
            _hist.c.role,
            _hist.c.reason,
            _hist.c.note,
        )
        .select_from(_hist.outerjoin(_app, _app.c.id == _hist.c.case_id))
        .order_by(_hist.c.id)
    )
    if actor:
        stmt = stmt.where(_hist.c.actor == actor)
    if trigger:
        stmt = stmt.where(_hist.c.trigger == trigger)
    if since is not None:
        stmt = stmt.where(_hist.c.at >= iso(since))
    if until is not None:
        stmt = stmt.where(_hist.c.at <= iso(until))
    if case_id is not None:
        stmt = stmt.where(_hist.c.case_id == case_id)
    if after is not None:
        stmt = stmt.where(_hist.c.id > after)
    if limit is not None:
        stmt = stmt.limit(limit)
    with store.read() as tx:
        return [dict(r) for r in tx.conn.execute(stmt).mappings()]


def audit_access(
    *,
    case_id: int | None = None,
    account: str | None = None,
    after: int | None = None,
    limit: int | None = AUDIT_PAGE_SIZE,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """The access records (who read or revealed which case, when, how) across cases, oldest
    first, with each case's file number; ``after`` keeps ids above it."""
    from states.models import access_records as _access

    store = store or default_store()
    stmt = (
        select(_access, _app.c.file_number)
        .select_from(_access.outerjoin(_app, _app.c.id == _access.c.case_id))
        .order_by(_access.c.id)
    )
    if case_id is not None:
        stmt = stmt.where(_access.c.case_id == case_id)
    if account:
        stmt = stmt.where(_access.c.account == account)
    if after is not None:
        stmt = stmt.where(_access.c.id > after)
    if limit is not None:
        stmt = stmt.limit(limit)
    with store.read() as tx:
        rows = [dict(r) for r in tx.conn.execute(stmt).mappings()]
    for r in rows:
        r["fields"] = [f for f in r["fields"].split(",") if f]
    return rows


def enquiry_status(
    file_number: str, date_of_birth: str, *, store: Store | None = None
) -> dict[str, Any] | None:
    """What the public status enquiry may show of a case: its state, since when, the payment
    deadline and the open document requests; None unless ``file_number`` (the principal's or
    a dependant's) exists and ``date_of_birth`` is that person's, exactly. Nothing personal.

    The date of birth is compared in constant time, and compared (with a stand-in) even when
    no file has the number, so that the time taken does not tell which of the two was wrong."""
    import hmac

    store = store or default_store()
    number = file_number.strip().upper()[:60]
    match = _FILE_NUMBER.match(number)
    found: Any = None
    with store.read() as tx:
        if match is not None:
            if match.group(1):
                stmt = select(_deps.c.application_id, _deps.c.date_of_birth).where(
                    _deps.c.file_number == number
                )
            else:
                stmt = select(_app.c.id, _app.c.date_of_birth).where(_app.c.file_number == number)
            found = tx.conn.execute(stmt).first()
        stored = str(found[1]) if found is not None else "0000-00-00"
        typed = date_of_birth.strip().encode("utf-8", "replace")
        same = hmac.compare_digest(stored.encode("utf-8", "replace"), typed)
        if found is None or not same:
            return None
        case_id = int(found[0])
        case = tx.conn.execute(
            select(
                _app.c.state,
                _app.c.state_since,
                _app.c.deadline,
                _app.c.fee_due,
                _app.c.anonymised_at,
            ).where(_app.c.id == case_id)
        ).first()
        documents = tx.conn.execute(
            select(_docs.c.item, _docs.c.due)
            .where(_docs.c.case_id == case_id, _docs.c.status == "requested")
            .order_by(_docs.c.due, _docs.c.id)
        ).all()
    if case is None or case.anonymised_at is not None:
        return None
    closed = State(case.state) in TERMINAL
    return {
        "file_number": number,
        "state": case.state,
        "since": case.state_since,
        "deadline": None if closed else case.deadline,
        "fee_due": case.fee_due,
        "documents": [] if closed else [{"item": d.item, "due": d.due} for d in documents],
    }


# --- the console's work lists (issue 11) ------------------------------------------------------
# Every list is one indexed query a page at a time: keyset pagination (never OFFSET), on the
# state index (a queue) or the assignee index (my work).

UNASSIGNED = "none"  # the assignee filter's value for "nobody"
_NO_DUE = "~"  # sorts after every date: cases with nothing due come last
_DUE_CURSOR = re.compile(r"^(\d{4}-\d{2}-\d{2}|~)\.(\d{1,19})$")


@dataclass(frozen=True)
class WorkFilters:
    """The filters of a work list; None: not filtered. ``assignee`` is a username or
    `UNASSIGNED`; ``due_before`` keeps cases whose next deadline is before that day."""

    state: str | None = None
    due_before: date | None = None
    assignee: str | None = None
    ruleset: str | None = None
    nationality: str | None = None


def _next_due() -> Any:
    """The earliest open deadline of a case as SQL (the case's own or a document still
    requested; none for a closed case), `_NO_DUE` when nothing is due: the sort key of my
    work. The documents' part is a subquery on their case index."""
    docs_due = (
        select(func.min(_docs.c.due))
        .where(_docs.c.case_id == _app.c.id, _docs.c.status == "requested")
        .scalar_subquery()
    )
    deadline = func.substr(_app.c.deadline, 1, 10)
    due = sql_case(
        (_app.c.state.in_([s.value for s in TERMINAL]), None),
        (_app.c.deadline.is_(None), docs_due),
        (docs_due.is_(None), deadline),
        (deadline < docs_due, deadline),
        else_=docs_due,
    )
    return func.coalesce(due, _NO_DUE)


def _filtered(stmt: Any, filters: WorkFilters, due: Any) -> Any:
    if filters.state is not None:
        if filters.state not in State.__members__:
            raise InvalidInput(f"unknown state '{filters.state[:40]}'; states: {', '.join(State)}")
        stmt = stmt.where(_app.c.state == filters.state)
    if filters.assignee == UNASSIGNED:
        stmt = stmt.where(_app.c.assignee.is_(None))
    elif filters.assignee is not None:
        stmt = stmt.where(_app.c.assignee == filters.assignee)
    if filters.ruleset is not None:
        stmt = stmt.where(_app.c.ruleset == filters.ruleset)
    if filters.nationality is not None:
        stmt = stmt.where(_app.c.nationality == filters.nationality.upper())
    if filters.due_before is not None:
        stmt = stmt.where(due < filters.due_before.isoformat())
    return stmt


def work_list(
    filters: WorkFilters,
    *,
    by_due: bool,
    after: str | None = None,
    limit: int = 50,
    open_only: bool = False,
    today: date | None = None,
    store: Store | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of cases and the cursor of the next page (None: the last page).

    ``by_due``: by next deadline, the earliest (overdue) first, then id (my work); otherwise
    by id, oldest first (a queue). ``after`` is a previous page's cursor; ``open_only`` leaves
    closed cases out unless ``filters.state`` names one."""
    store = store or default_store()
    today = today or today_hk()
    due = _next_due().label("due_key")
    stmt = select(
        _app.c.id,
        _app.c.file_number,
        _app.c.name,
        _app.c.state,
        _app.c.assignee,
        _app.c.ruleset,
        _app.c.nationality,
        _app.c.state_since,
        due,
    )
    stmt = _filtered(stmt, filters, due)
    if open_only and filters.state is None:
        stmt = stmt.where(_app.c.state.not_in([s.value for s in TERMINAL]))
    if by_due:
        if after:
            match = _DUE_CURSOR.match(after)
            if match is None:
                raise InvalidInput("after: not a cursor from a previous page")
            key, last = match.group(1), min(int(match.group(2)), MAX_ID)
            stmt = stmt.where(or_(due > key, and_(due == key, _app.c.id > last)))
        stmt = stmt.order_by(due, _app.c.id)
    else:
        if after:
            if not (after.isascii() and after.isdigit()) or len(after) > 19:
                raise InvalidInput("after: not a cursor from a previous page")
            stmt = stmt.where(_app.c.id > min(int(after), MAX_ID))
        stmt = stmt.order_by(_app.c.id)
    with store.read() as tx:
        rows = [dict(r) for r in tx.conn.execute(stmt.limit(limit + 1)).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    for r in rows:
        key = r.pop("due_key")
        r["next_due"] = None if key == _NO_DUE else key
        r["overdue"] = r["next_due"] is not None and r["next_due"] < today.isoformat()
        r["days_in_state"] = (today - today_hk(parse_iso(r["state_since"]))).days
    cursor = None
    if more and rows:
        last_row = rows[-1]
        cursor = (
            f"{last_row['next_due'] or _NO_DUE}.{last_row['id']}" if by_due else str(last_row["id"])
        )
    return rows, cursor


def queue_counts(*, store: Store | None = None) -> dict[str, int]:
    """How many cases are in each state (every state, in the catalogue's order): one
    GROUP BY over the state index."""
    store = store or default_store()
    stmt = select(_app.c.state, func.count()).group_by(_app.c.state)
    with store.read() as tx:
        found = {str(s): int(n) for s, n in tx.conn.execute(stmt)}
    return {s.value: found.get(s.value, 0) for s in State}


def case_assignee(case_id: int, *, store: Store | None = None) -> str | None:
    """Who works on the case now (a username), or None."""
    store = store or default_store()
    with store.read() as tx:
        row = tx.conn.execute(select(_app.c.assignee).where(_app.c.id == case_id)).first()
    if row is None:
        raise NotFound(f"no case {case_id}")
    return None if row[0] is None else str(row[0])


_MESSAGE_COLUMNS = (
    _deliveries.c.message_id,
    _deliveries.c.kind,
    _deliveries.c.language,
    _deliveries.c.recipient,
    _deliveries.c.subject,
    _deliveries.c.status,
    _deliveries.c.created_at,
    _deliveries.c.sent_at,
)


def case_messages(case_id: int, *, store: Store | None = None) -> list[dict[str, Any]]:
    """The messages of a case in the delivery ledger (with their ids), oldest first."""
    store = store or default_store()
    stmt = (
        select(*_MESSAGE_COLUMNS)
        .where(_deliveries.c.case_id == case_id)
        .order_by(_deliveries.c.created_at, _deliveries.c.message_id)
    )
    with store.read() as tx:
        return [dict(r) for r in tx.conn.execute(stmt).mappings()]


def case_message(case_id: int, message_id: str, *, store: Store | None = None) -> dict[str, Any]:
    """One message of the case as the ledger holds it, its context parsed (to render it)."""
    store = store or default_store()
    stmt = select(*_MESSAGE_COLUMNS, _deliveries.c.context).where(
        _deliveries.c.message_id == message_id, _deliveries.c.case_id == case_id
    )
    with store.read() as tx:
        row = tx.conn.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"case {case_id} has no message '{message_id[:80]}'")
    out = dict(row)
    out["context"] = json.loads(out["context"] or "{}")
    return out


def verify_case(case_id: int, *, store: Store | None = None) -> dict[str, Any]:
    """Whether one case's chain verifies (`states.audit.verify_case`)."""
    from states.audit import verify_case as verify_one

    return verify_one(store or default_store(), case_id)
