"""The staff console's work pages: my work, the queues, search, the case page (masked, or
revealed and recorded), claim and assign, and the messages a case was sent.

Role checks are the API's (`workflows.authz`): reading needs `READ_CASES`, revealing
`REVEAL`, claiming and assigning are `workflows.assignments`' own refusals. Reads are kept as
access records as the API keeps them: a masked view after the answer (in the background), a
reveal and a search by travel document number before it. Lists are keyset-paginated
(`workflows.views.work_list`), 50 a page.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from console.web.api import case_ref, record_read
from console.web.diagram import lifecycle_svg, path_of
from console.web.i18n import t
from console.web.render import render
from console.web.security import in_db, store_of
from console.web.session import Staff, check_csrf, language
from console.web.words.work import MESSAGES as WORDS
from notifications.render import render_message
from states.accounts import Account, Accounts
from states.catalogue import TERMINAL, State
from states.errors import InvalidInput, NotAuthorized, NotFound, QmasError
from states.store import Store
from workflows.assignments import assign, claim
from workflows.authz import READ_CASES, REVEAL, holds_any
from workflows.clock import iso, now_utc, parse_iso, today_hk
from workflows.views import (
    MAX_ID,
    UNASSIGNED,
    WorkFilters,
    case_assignee,
    case_message,
    case_messages,
    case_view,
    history,
    holding_document,
    list_cases,
    queue_counts,
    resolve_case,
    reveal_case,
    verify_case,
    work_list,
)

router = APIRouter(include_in_schema=False)
log = logging.getLogger("qmas.api")
PAGE = 50
VIA = "console"  # how an access record says the data was seen
Text = Annotated[str, Query(max_length=200)]


def _must_read(account: Account) -> None:
    if not holds_any(account, READ_CASES):
        raise NotAuthorized(
            f"reading cases needs one of the roles {', '.join(sorted(READ_CASES))}; account "
            f"'{account.username}' holds: {', '.join(account.roles) or 'no role'}"
        )


def _filters(
    state: str, due_before: str, assignee: str, ruleset: str, nationality: str
) -> WorkFilters:
    """The filter form's fields (an empty field: no filter), checked."""
    day = None
    if due_before.strip():
        try:
            day = date.fromisoformat(due_before.strip())
        except ValueError:
            raise InvalidInput(f"'{due_before[:20]}' is not a date (YYYY-MM-DD)") from None
    if state.strip() and state.strip() not in State.__members__:
        raise InvalidInput(f"unknown state '{state[:40]}'")
    return WorkFilters(
        state=state.strip() or None,
        due_before=day,
        assignee=assignee.strip().lower() or None,
        ruleset=ruleset.strip() or None,
        nationality=nationality.strip().upper() or None,
    )


def _page_url(path: str, params: dict[str, str], after: str) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"{path}?{urlencode({**kept, 'after': after})}"


# --- my work, queues, search ----------------------------------------------------------------


# The queues' counts are one GROUP BY over every case (7-8 ms at 100,000 cases, most of what
# "my work" costs beyond its own list: docs/benchmarks.md): kept for a few seconds per store.
COUNTS_SECONDS = 5.0
_counted: dict[str, tuple[float, dict[str, int]]] = {}


def _counts(store: Store) -> dict[str, int]:
    now = time.monotonic()
    where = store.engine.url.render_as_string(hide_password=True)
    kept = _counted.get(where)
    if kept is not None and now - kept[0] < COUNTS_SECONDS:
        return kept[1]
    counts = queue_counts(store=store)
    _counted[where] = (now, counts)
    return counts


@router.get("/work")
async def my_work(
    request: Request,
    account: Staff,
    q: Text = "",
    state: Text = "",
    due_before: Text = "",
    assignee: Text = "",
    ruleset: Text = "",
    nationality: Text = "",
    after: Text = "",
) -> Response:
    """Cases assigned to me (or to ``assignee``), the next deadline first, and the queues;
    with ``q``, a search instead."""
    _must_read(account)
    if q.strip():
        return await _search(request, account, q.strip(), state, after)
    store = store_of(request)
    filters = _filters(state, due_before, assignee or account.username, ruleset, nationality)

    def work() -> tuple[list[dict[str, Any]], str | None, dict[str, int]]:
        rows, cursor = work_list(
            filters, by_due=True, after=after or None, limit=PAGE, open_only=True, store=store
        )
        return rows, cursor, _counts(store)

    rows, cursor, counts = await in_db(request, work)
    params = {
        "state": state,
        "due_before": due_before,
        "assignee": assignee,
        "ruleset": ruleset,
        "nationality": nationality,
    }
    who = filters.assignee or account.username
    return render(
        request,
        "work.html",
        account=account,
        rows=rows,
        counts=counts,
        who=who,
        unassigned=who == UNASSIGNED,
        filters=params,
        next_url=_page_url("/work", params, cursor) if cursor else None,
        first_url="/work?" + urlencode({k: v for k, v in params.items() if v}) if after else None,
        states=[s.value for s in State],
    )


@router.get("/queues/{state}")
async def queue(
    request: Request,
    state: str,
    account: Staff,
    due_before: Text = "",
    assignee: Text = "",
    ruleset: Text = "",
    nationality: Text = "",
    after: Text = "",
) -> Response:
    """The cases in one state, oldest first, a page at a time."""
    _must_read(account)
    if state not in State.__members__:
        raise NotFound(f"no state '{state[:40]}'")
    store = store_of(request)
    filters = _filters(state, due_before, assignee, ruleset, nationality)
    rows, cursor = await in_db(
        request,
        lambda: work_list(filters, by_due=False, after=after or None, limit=PAGE, store=store),
    )
    params = {
        "due_before": due_before,
        "assignee": assignee,
        "ruleset": ruleset,
        "nationality": nationality,
    }
    return render(
        request,
        "queue.html",
        account=account,
        state=state,
        rows=rows,
        filters=params,
        next_url=_page_url(f"/queues/{state}", params, cursor) if cursor else None,
        first_url=f"/queues/{state}?" + urlencode({k: v for k, v in params.items() if v})
        if after
        else None,
    )


async def _search(request: Request, account: Account, q: str, state: str, after: str) -> Response:
    """An exact file number (the principal's or a dependant's) opens the case; anything
    else lists the cases whose name holds it, or whose full travel document number it is
    (only for those who may reveal it, and recorded as a search, as the API does)."""
    store = store_of(request)
    if not q.isdigit():  # a bare number is no file number: searched as text
        try:
            case_id = await in_db(request, lambda: resolve_case(q, store=store))
        except (InvalidInput, NotFound):
            pass
        else:
            return RedirectResponse(f"/cases/{case_id}", status_code=303)
    if after and not (after.isascii() and after.isdigit() and len(after) <= 19):
        raise InvalidInput("after: not a cursor from a previous page")
    states = [state] if state and state in State.__members__ else None
    by_document = holds_any(account, REVEAL)
    rows = await in_db(
        request,
        lambda: list_cases(
            states,
            store=store,
            limit=PAGE + 1,
            q=q,
            after=min(int(after), MAX_ID) if after else None,
            by_document=by_document,
        ),
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    if by_document and rows:
        await _record_search(request, account, [r["id"] for r in rows], q)
    today = today_hk().isoformat()
    for r in rows:
        r.setdefault("assignee", None)
        r["overdue"] = r["next_due"] is not None and r["next_due"] < today
    params = {"q": q, "state": state}
    return render(
        request,
        "work.html",
        account=account,
        search=q,
        rows=rows,
        counts=None,
        who=account.username,
        unassigned=False,
        filters={},
        next_url=_page_url("/work", params, str(rows[-1]["id"])) if more else None,
        first_url="/work?" + urlencode({"q": q}) if after else None,
        states=[s.value for s in State],
    )


async def _record_search(request: Request, account: Account, ids: list[int], q: str) -> None:
    """A search that confirmed a full travel document number reveals it: recorded before the
    answer, like a reveal (the API's rule, `console.web.api.cases`)."""
    store = store_of(request)
    hits = await in_db(request, lambda: holding_document(ids, q, store=store))
    if not hits:
        return
    role = next(r for r in account.roles if r in REVEAL)
    at = iso(now_utc())
    records = [
        {
            "case_id": case_id,
            "account": account.username,
            "role": role,
            "action": "search",
            "fields": ("travel_document_number",),
            "via": VIA,
            "at": at,
        }
        for case_id in hits
    ]
    await in_db(request, lambda: Accounts(store).record_accesses(records), write=True)


# --- the case page ---------------------------------------------------------------------------


def _case_page(
    store: Store, case_id: int, account: Account, *, revealed: dict[str, Any] | None
) -> dict[str, Any]:
    """Everything the case page shows, read in one go (the reveal, if any, already made)."""
    view = revealed if revealed is not None else case_view(case_id, store=store)
    rows = history(case_id, store=store)
    chain = verify_case(case_id, store=store)
    assignee = case_assignee(case_id, store=store)
    messages = case_messages(case_id, store=store)
    caseworkers: list[str] = []
    if "supervisor" in account.roles:
        caseworkers = [
            a.username
            for a in Accounts(store).all()
            if a.active and "caseworker" in a.roles and a.username != "system"
        ]
    return {
        "case": view,
        "history": rows,
        "chain": chain,
        "assignee": assignee,
        "messages": messages,
        "caseworkers": caseworkers,
    }


def _render_case(
    request: Request,
    account: Account,
    page: dict[str, Any],
    *,
    revealed: bool,
    notice: str | None = None,
) -> Response:
    lang = language(request)
    view = page["case"]
    closed = State(view["state"]) in TERMINAL
    since = view["state_since"]
    days = (today_hk() - today_hk(parse_iso(since))).days if since else None
    categories = view["categories"] or {}
    breakdown = [
        (f"score.{name}" if f"score.{name}" in WORDS else None, name, points)
        for name, points in categories.items()
    ]
    svg = lifecycle_svg(
        view["state"], path_of(page["history"]), lang=lang, title=t("case.lifecycle", lang)
    )
    return render(
        request,
        "case.html",
        account=account,
        notice=notice,
        revealed=revealed,
        closed=closed,
        days_in_state=days,
        breakdown=breakdown,
        diagram=svg,
        may_reveal=holds_any(account, REVEAL),
        may_claim="caseworker" in account.roles and not closed and page["assignee"] is None,
        may_assign="supervisor" in account.roles and not closed,
        **page,
    )


_NOTICES = {"claimed": "case.claimed", "assigned": "case.assigned"}


@router.get("/cases/{ref}")
async def case_page(
    request: Request,
    ref: str,
    account: Staff,
    background: BackgroundTasks,
    done: Text = "",
) -> Response:
    """The case, personal data masked; the read is recorded after the answer (as the API)."""
    _must_read(account)
    store = store_of(request)

    def work() -> dict[str, Any]:
        case_id = case_ref(store, ref)
        return _case_page(store, case_id, account, revealed=None)

    page = await in_db(request, work)
    background.add_task(record_read, request, page["case"]["id"], account, "case", VIA)
    notice_key = _NOTICES.get(done)
    if notice_key:
        notice: str | None = t(notice_key, language(request))
    else:  # after a move made on the action pages (?done=TRIGGER)
        from console.web.action_pages import done_notice

        notice = done_notice(request, page["case"]["state"])
    return _render_case(request, account, page, revealed=False, notice=notice)


@router.post("/cases/{ref}/reveal")
async def reveal_page(
    request: Request,
    ref: str,
    account: Staff,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The case with personal data unmasked (caseworker, supervisor); the reveal is recorded
    before the page is made, as the API records it (`workflows.views.reveal_case`)."""
    check_csrf(request, csrf_token)
    _must_read(account)
    role = next((r for r in account.roles if r in REVEAL), None)
    if role is None:
        raise NotAuthorized(
            "only a caseworker or supervisor may reveal personal data; account "
            f"'{account.username}' holds: {', '.join(account.roles)}"
        )
    store = store_of(request)

    def work() -> dict[str, Any]:
        case_id = case_ref(store, ref)
        view = reveal_case(case_id, account.username, role, via=VIA, store=store)
        return _case_page(store, case_id, account, revealed=view)

    page = await in_db(request, work, write=True)
    notice = t("case.revealed", language(request))
    return _render_case(request, account, page, revealed=True, notice=notice)


@router.post("/cases/{ref}/claim")
async def claim_case(
    request: Request,
    ref: str,
    account: Staff,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A caseworker takes an unassigned case (or one already theirs)."""
    check_csrf(request, csrf_token)
    store = store_of(request)

    def work() -> int:
        case_id = case_ref(store, ref)
        claim(case_id, account.username, account.roles, store=store)
        return case_id

    case_id = await in_db(request, work, write=True)
    return RedirectResponse(f"/cases/{case_id}?done=claimed", status_code=303)


@router.post("/cases/{ref}/assign")
async def assign_case(
    request: Request,
    ref: str,
    account: Staff,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    assignee: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A supervisor assigns the case to an active caseworker (an empty field releases it)."""
    check_csrf(request, csrf_token)
    store = store_of(request)
    name = assignee.strip() or None

    def work() -> int:
        case_id = case_ref(store, ref)
        assign(case_id, name, account.username, account.roles, store=store)
        return case_id

    case_id = await in_db(request, work, write=True)
    return RedirectResponse(f"/cases/{case_id}?done=assigned", status_code=303)


@router.get("/cases/{ref}/messages/{message_id}")
async def message_page(
    request: Request,
    ref: str,
    message_id: str,
    account: Staff,
    background: BackgroundTasks,
) -> Response:
    """One message the case was sent, rendered from the delivery ledger as the dispatcher
    renders it (subject and text, escaped by the page)."""
    _must_read(account)
    store = store_of(request)

    def work() -> tuple[int, dict[str, Any]]:
        case_id = case_ref(store, ref)
        return case_id, case_message(case_id, message_id[:200], store=store)

    case_id, message = await in_db(request, work)
    text, problem = None, None
    try:
        rendered = render_message(message["kind"], message["language"], message["context"])
        text = rendered.text
        subject = message["subject"] or rendered.subject
    except QmasError as err:
        problem, subject = str(err), message["subject"]
    background.add_task(record_read, request, case_id, account, "message", VIA)
    return render(
        request,
        "message.html",
        account=account,
        case_id=case_id,
        message=message,
        subject=subject,
        body=text,
        problem=problem,
    )
