"""The audit pages (auditor and admin, `workflows.authz.VERIFY_AUDIT`): the history across
cases, the chain's verification, a case as of a date, the access log and the assignments.

Every listing is also a CSV download (``?format=csv``): all the rows its filters match, read
in keyset pages so a large history streams; a text that begins with ``=``, ``+``, ``-``, ``@``
(or a tab or a carriage return) is prefixed with ``'`` so that a spreadsheet shows it
instead of running it as a formula. The history listing pages by history id, 100 a page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from console.web.i18n import t
from console.web.render import render
from console.web.security import in_db, store_of
from console.web.session import Staff, language
from states.accounts import Account, Accounts
from states.audit import verify
from states.errors import InvalidInput, NotAuthorized, NotFound
from states.store import Store
from workflows.assignments import assignments
from workflows.authz import VERIFY_AUDIT, holds_any
from workflows.clock import HK, iso, now_utc, today_hk
from workflows.names import Trigger
from workflows.views import (
    AUDIT_PAGE_SIZE,
    audit_access,
    audit_history,
    parse_moment,
    resolve_case,
    state_as_of,
)

router = APIRouter(include_in_schema=False)

_CSV_BATCH = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

HISTORY_COLUMNS = (
    "id", "at", "case_id", "file_number", "seq", "trigger", "from_state", "to_state", "actor",
    "role", "reason", "note",
)  # fmt: skip
ACCESS_COLUMNS = (
    "id",
    "at",
    "case_id",
    "file_number",
    "account",
    "role",
    "action",
    "fields",
    "via",
)
ASSIGNMENT_COLUMNS = ("id", "at", "case_id", "action", "assignee", "by")

Text = Annotated[str, Query(max_length=200)]


def _auditor(account: Account) -> Account:
    """Only the auditor and the admin read the audit pages (403 otherwise)."""
    if not holds_any(account, VERIFY_AUDIT):
        raise NotAuthorized(
            f"the audit pages need one of the roles {', '.join(sorted(VERIFY_AUDIT))}; "
            f"account '{account.username}' holds: {', '.join(account.roles) or 'no role'}"
        )
    return account


def csv_cell(value: Any) -> str:
    """A value as a CSV cell a spreadsheet will not run: formula-like text gets a ``'``."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_lines(columns: Sequence[str], rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The header, then one line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Sequence[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(columns)
    for row in rows:
        yield line([csv_cell(row.get(c)) for c in columns])


def csv_download(name: str, columns: Sequence[str], rows: Iterator[dict[str, Any]]) -> Response:
    stamp = today_hk().isoformat()
    return StreamingResponse(
        csv_lines(columns, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="qmas-{name}-{stamp}.csv"'},
    )


def _all_pages(read: Callable[[int | None], list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """Every row ``read(after)`` gives, page after page (keyset by id)."""
    after: int | None = None
    while True:
        rows = read(after)
        yield from rows
        if len(rows) < _CSV_BATCH:
            return
        after = int(rows[-1]["id"])


class _Filters:
    """The filters of a listing as typed, checked; `problems` holds the sentences."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.problems: list[str] = []

    def day(self, text: str, *, end: bool) -> datetime | None:
        if not text:
            return None
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            self.problems.append(t("audit.bad_date", self.lang, text=text[:40]))
            return None
        return parse_moment(day.isoformat()) if end else datetime.combine(day, time.min, HK)

    def trigger(self, text: str) -> str | None:
        if text and text not in Trigger.__members__:
            self.problems.append(t("audit.bad_trigger", self.lang, text=text[:40]))
            return None
        return text or None

    def after(self, text: str) -> int | None:
        if not text:
            return None
        if not (text.isascii() and text.isdigit() and len(text) <= 19):
            self.problems.append(t("audit.bad_after", self.lang))
            return None
        return int(text)

    def case(self, text: str, store: Store) -> int | None:
        if not text.strip():
            return None
        try:
            return resolve_case(text, store=store)
        except (InvalidInput, NotFound) as err:  # said on the page, beside the filters
            self.problems.append(str(err))
            return None


def _query(**values: str | int | None) -> str:
    kept = {k: v for k, v in values.items() if v not in (None, "")}
    return urlencode(kept)


async def _listing(
    request: Request,
    account: Account,
    checked: _Filters,
    read_page: Callable[..., list[dict[str, Any]]],
    filters: dict[str, Any],
    shown: dict[str, Any],
    start: int | None,
    format: str,
    *,
    name: str,
    columns: tuple[str, ...],
    template: str,
    **extra: Any,
) -> Response:
    """An audit listing: a page of `AUDIT_PAGE_SIZE` rows after ``start`` (keyset), or every
    row as CSV; the filters' problems are said on the page (422)."""
    store = store_of(request)
    if format == "csv" and not checked.problems:

        def read(after_id: int | None) -> list[dict[str, Any]]:
            return read_page(**filters, after=after_id, limit=_CSV_BATCH, store=store)

        return csv_download(name, columns, _all_pages(read))
    rows: list[dict[str, Any]] = []
    if not checked.problems:
        rows = await in_db(
            request,
            lambda: read_page(**filters, after=start, limit=AUDIT_PAGE_SIZE + 1, store=store),
        )
    more = len(rows) > AUDIT_PAGE_SIZE
    rows = rows[:AUDIT_PAGE_SIZE]
    return render(
        request,
        template,
        status=422 if checked.problems else 200,
        account=account,
        error="; ".join(checked.problems) or None,
        rows=rows,
        filters=shown,
        csv_query=_query(**shown, format="csv"),
        next_query=_query(**shown, after=rows[-1]["id"]) if more and rows else None,
        first_query=_query(**shown) if start is not None else None,
        page_size=AUDIT_PAGE_SIZE,
        **extra,
    )


@router.get("/audit")
async def history_page(
    request: Request,
    account: Staff,
    actor: Text = "",
    trigger: Text = "",
    since: Annotated[str, Query(alias="from", max_length=40)] = "",
    until: Annotated[str, Query(alias="to", max_length=40)] = "",
    case: Text = "",
    after: Annotated[str, Query(max_length=40)] = "",
    format: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    _auditor(account)
    store = store_of(request)
    checked = _Filters(language(request))
    filters: dict[str, Any] = {
        "actor": actor.strip() or None,
        "trigger": checked.trigger(trigger.strip()),
        "since": checked.day(since, end=False),
        "until": checked.day(until, end=True),
        "case_id": await in_db(request, lambda: checked.case(case, store)),
    }
    start = checked.after(after)
    shown = {"actor": actor, "trigger": trigger, "from": since, "to": until, "case": case}
    return await _listing(
        request, account, checked, audit_history, filters, shown, start, format,
        name="history", columns=HISTORY_COLUMNS, template="audit.html",
        triggers=[tr.value for tr in Trigger],
    )  # fmt: skip


@router.get("/audit/verify")
async def verify_page(request: Request, account: Staff) -> Response:
    _auditor(account)
    store = store_of(request)
    # always in a worker thread (as the API does): it reads every history row
    report = await run_in_threadpool(verify, store)
    return render(
        request,
        "audit_verify.html",
        account=account,
        report=report,
        first_problem=str(report.problems[0]) if report.problems else None,
        key=store.key.id if store.key else None,
    )


@router.get("/audit/cases")
async def case_pick_page(
    request: Request, account: Staff, case: Text = "", as_of: Text = ""
) -> Response:
    """The form that asks for a case and a date (it sends to /audit/cases/{ref})."""
    _auditor(account)
    if case.strip():
        target = f"/audit/cases/{_ref_segment(case)}"
        return RedirectResponse(target + (f"?{_query(as_of=as_of)}" if as_of else ""), 303)
    return render(request, "audit_case.html", account=account, case=None, past=None, rows=[])


def _ref_segment(text: str) -> str:
    return quote(text.strip()[:60], safe="")


@router.get("/audit/cases/{ref}")
async def case_as_of_page(request: Request, account: Staff, ref: str, as_of: Text = "") -> Response:
    _auditor(account)
    store = store_of(request)
    case_id = await in_db(request, lambda: resolve_case(ref, store=store))
    lang = language(request)
    day = as_of.strip() or today_hk().isoformat()
    checked = _Filters(lang)
    moment = checked.day(day, end=True)
    past: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = []
    error: str | None = None
    if moment is not None:
        try:
            past = await in_db(request, lambda: state_as_of(case_id, moment, store=store))
            rows = await in_db(
                request,
                lambda: audit_history(case_id=case_id, until=moment, limit=None, store=store),
            )
        except InvalidInput as err:
            error = str(err)
        else:
            await in_db(request, lambda: _record_history_read(store, case_id, account), write=True)
    else:
        error = "; ".join(checked.problems)
    return render(
        request,
        "audit_case.html",
        status=422 if error else 200,
        account=account,
        error=error,
        case={"id": case_id, "ref": ref, "as_of": day},
        past=past,
        rows=rows,
    )


def _record_history_read(store: Store, case_id: int, account: Account) -> None:
    """A case's history read through the console is an access record, as through the API."""
    role = next(r for r in account.roles if r in VERIFY_AUDIT)
    Accounts(store).record_access(
        case_id,
        account=account.username,
        role=role,
        action="read",
        fields=("history",),
        via="console",
        at=iso(now_utc()),
    )


@router.get("/audit/access")
async def access_page(
    request: Request,
    account: Staff,
    case: Text = "",
    who: Annotated[str, Query(alias="account", max_length=200)] = "",
    after: Annotated[str, Query(max_length=40)] = "",
    format: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    _auditor(account)
    store = store_of(request)
    checked = _Filters(language(request))
    case_id = await in_db(request, lambda: checked.case(case, store))
    start = checked.after(after)
    filters: dict[str, Any] = {"case_id": case_id, "account": who.strip() or None}
    shown = {"case": case, "account": who}
    return await _listing(
        request, account, checked, audit_access, filters, shown, start, format,
        name="access", columns=ACCESS_COLUMNS, template="audit_access.html",
    )  # fmt: skip


@router.get("/audit/assignments")
async def assignments_page(
    request: Request,
    account: Staff,
    case: Text = "",
    format: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    _auditor(account)
    store = store_of(request)
    checked = _Filters(language(request))
    case_id = await in_db(request, lambda: checked.case(case, store))
    rows: list[dict[str, Any]] = []
    if not checked.problems:
        rows = await in_db(request, lambda: assignments(case_id, store=store))
    if format == "csv" and not checked.problems:
        return csv_download("assignments", ASSIGNMENT_COLUMNS, iter(rows))
    return render(
        request,
        "audit_assignments.html",
        status=422 if checked.problems else 200,
        account=account,
        error="; ".join(checked.problems) or None,
        rows=rows,
        filters={"case": case},
        csv_query=_query(case=case, format="csv"),
    )
