"""The action pages: what an account can do to a case, the form of one trigger, its preview,
its confirmation; and the committee's shortlisted pool.

Every decision is the engine's: `available_actions` lists the moves (with the reasons of those
that cannot be made), `preview` judges one without writing, `advance` commits it with the
version that was previewed, so that a case moved meanwhile is a `Conflict` and nothing is
written. The role a move is made in is checked by `workflows.authz.may_act`, as the API does.
The trigger's data is asked for as fields built from its input model (`workflows.inputs`),
never as JSON.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from starlette.datastructures import ImmutableMultiDict

from console.web.api import acting_roles, case_ref
from console.web.i18n import t
from console.web.render import render
from console.web.security import in_db, store_of
from console.web.session import Staff, check_csrf, language
from notifications.planner import METHOD_LABELS
from notifications.preview import preview_report
from states.accounts import Account
from states.catalogue import State
from states.catalogue import label as state_label
from states.errors import Conflict, InvalidInput, NotAuthorized, NotFound, TransitionNotAllowed
from states.models import applications as _app
from states.store import Store
from workflows.authz import READ_CASES, holds_any, may_act
from workflows.documents import CATALOGUE as DOCUMENTS
from workflows.documents import label as document_label
from workflows.engine import advance, available_actions, preview
from workflows.formats import hkd, long_date
from workflows.guards import PAYMENT_METHODS
from workflows.inputs import model_for
from workflows.reasons import REASONS, USED_BY
from workflows.spec import MOVES, Move, Trigger
from workflows.views import case_view

router = APIRouter(include_in_schema=False)

# Form fields that are not the trigger's data.
_COMMON = ("csrf_token", "expected_version", "role", "reason_code", "reason", "note")
# Optional parts of an input where null means "remove" (AmendInput: a representative).
_CLEARABLE = frozenset({"applicant.representative"})


# --- the trigger's data as form fields ------------------------------------------------------
@dataclass(frozen=True)
class Widget:
    """One field of a trigger's input: ``name`` is its path in the input model
    (``application_fee.amount``), also the form field's name and its label's key."""

    name: str
    kind: Literal["checkboxes", "waivers", "date", "number", "select", "text", "clear"]
    options: tuple[tuple[str, str], ...] = ()  # (value, label)


def widgets(trigger: Trigger, outstanding: list[str], lang: str) -> list[Widget]:
    """The fields of ``trigger``'s input model; ``outstanding``: the documents still
    requested (what can be received or waived)."""
    return list(_widgets(model_for(trigger), "", outstanding, lang))


def _widgets(
    model: type[BaseModel], prefix: str, outstanding: list[str], lang: str
) -> Iterator[Widget]:
    for name, info in model.model_fields.items():
        path = prefix + name
        kind = _bare(info.annotation)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            if path in _CLEARABLE:
                yield Widget(path + ".clear", "clear")
            yield from _widgets(kind, path + ".", outstanding, lang)
        elif get_origin(kind) is list:
            names = list(DOCUMENTS) if name == "documents" else outstanding
            yield Widget(path, "checkboxes", tuple((n, document_label(n, lang)) for n in names))
        elif get_origin(kind) is dict:
            yield Widget(path, "waivers", tuple((n, document_label(n, lang)) for n in outstanding))
        elif kind is date:
            yield Widget(path, "date")
        elif kind is int:
            yield Widget(path, "number")
        elif get_origin(kind) is Literal:
            codes = [str(a) for a in get_args(kind)]
            yield Widget(path, "select", tuple((c, t(f"lang.name.{c}", lang)) for c in codes))
        elif name == "method":
            methods = tuple((m, METHOD_LABELS[m].text(lang)) for m in PAYMENT_METHODS)
            yield Widget(path, "select", methods)
        else:
            yield Widget(path, "text")


def _bare(annotation: Any) -> Any:
    """``X`` from ``X | None`` and ``Annotated[X, ...]``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def form_data(trigger: Trigger, form: ImmutableMultiDict[str, Any]) -> dict[str, Any]:
    """The trigger's data from the form's fields; a field left empty takes the model's
    default. The values stay text: the input model parses them (and says what is wrong)."""
    data: dict[str, Any] = {}
    for w in widgets(trigger, [], "en"):
        if w.kind == "checkboxes":
            chosen = [v for v in form.getlist(w.name) if isinstance(v, str) and v]
            if chosen:
                _put(data, w.name, chosen)
        elif w.kind == "waivers":
            start = w.name + "."
            waived = {
                k.removeprefix(start): v.strip()
                for k, v in form.multi_items()
                if k.startswith(start) and isinstance(v, str) and v.strip()
            }
            if waived:
                _put(data, w.name, waived)
        elif w.kind == "clear":
            if form.get(w.name):
                _put(data, w.name.removesuffix(".clear"), None)
        else:
            value = form.get(w.name)
            if isinstance(value, str) and value.strip():
                _put(data, w.name, value.strip())
    return data


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        if part in data and data[part] is None:  # removed: its fields are not asked for
            return
        data = data.setdefault(part, {})
    data.setdefault(last, value)


# --- what the pages share -----------------------------------------------------------------
def _move(trigger: str) -> Move:
    try:
        return MOVES[Trigger(trigger)]
    except ValueError:
        raise NotFound(f"no action '{trigger[:40]}'") from None


def _reader(account: Account) -> None:
    if not holds_any(account, READ_CASES):
        raise NotAuthorized(
            f"reading cases needs one of the roles {', '.join(sorted(READ_CASES))}; account "
            f"'{account.username}' holds: {', '.join(account.roles) or 'no role'}"
        )


def _roles_for(account: Account, move: Move) -> list[str]:
    """The roles the account may act in that may make ``move`` (403 when none)."""
    roles = [r for r in acting_roles(account) if r in move.roles]
    if not roles:
        raise NotAuthorized(
            f"{move.trigger} is for the roles {', '.join(sorted(r.value for r in move.roles))}; "
            f"account '{account.username}' holds: {', '.join(account.roles) or 'no role'}"
        )
    return roles


def _text(form: ImmutableMultiDict[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class Extras:
    """The optional inputs every move takes, as `advance` and `preview` take them."""

    reason_code: str | None
    reason: str | None
    note: str | None


def _extras(form: ImmutableMultiDict[str, Any]) -> Extras:
    return Extras(*(_text(form, k) or None for k in ("reason_code", "reason", "note")))


def _values(form: ImmutableMultiDict[str, Any]) -> dict[str, list[str]]:
    """What was typed, to show again (never the CSRF token nor the version)."""
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and key not in ("csrf_token", "expected_version"):
            out.setdefault(key, []).append(value)
    return out


def _path(ref: str) -> str:
    return quote(ref.strip(), safe="")


async def _form_page(
    request: Request,
    account: Account,
    ref: str,
    move: Move,
    values: dict[str, list[str]],
    *,
    status: int = 200,
    **shown: Any,
) -> Response:
    """The form of ``move`` on the case, with ``values`` filled in (and an error, if any)."""
    store, lang = store_of(request), language(request)
    roles = _roles_for(account, move)  # before the case: a refusal tells nothing of which exist
    view = await in_db(request, lambda: case_view(case_ref(store_of(request), ref), store=store))
    outstanding = [d["name"] for d in view["documents"] if d["status"] == "requested"]
    codes = USED_BY.get(move.trigger.value, frozenset())
    return render(
        request,
        "action_form.html",
        status=status,
        account=account,
        case=view,
        ref=_path(ref),
        trigger=move.trigger.value,
        roles=roles,
        widgets=widgets(move.trigger, outstanding, lang),
        reason_codes=[(c, r.text(lang)) for c, r in REASONS.items() if c in codes],
        value=lambda name: (values.get(name) or [""])[0],
        chosen=lambda name: values.get(name) or [],
        **shown,
    )


# --- pages ----------------------------------------------------------------------------------
@router.get("/cases/{ref}/actions")
async def actions_page(request: Request, ref: str, account: Staff) -> Response:
    """Every action of the engine, for each role the account may act in: those it can do
    now, and those it cannot with the reasons."""
    _reader(account)
    store = store_of(request)

    def work() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        case_id = case_ref(store_of(request), ref)
        view = case_view(case_id, store=store)
        groups = []
        for role in acting_roles(account):
            acts = available_actions(case_id, role, actor=account.username, store=store)
            groups.append(
                {
                    "role": role,
                    "allowed": [a for a in acts if a.allowed],
                    "blocked": [a for a in acts if not a.allowed and role in a.roles],
                    "other": [a for a in acts if role not in a.roles],
                }
            )
        return view, groups

    view, groups = await in_db(request, work)
    corrections = {m.trigger.value for m in MOVES.values() if m.dest is None}
    return render(
        request,
        "actions.html",
        account=account,
        case=view,
        ref=_path(ref),
        groups=groups,
        corrections=corrections,
    )


@router.get("/cases/{ref}/actions/{trigger}")
async def action_form(request: Request, ref: str, trigger: str, account: Staff) -> Response:
    """The form of one trigger (its query may carry the values of a form to change)."""
    move = _move(trigger)
    return await _form_page(request, account, ref, move, _values(request.query_params))


@router.post("/cases/{ref}/actions/{trigger}/preview")
async def action_preview(request: Request, ref: str, trigger: str, account: Staff) -> Response:
    """What the move would do, in the page's language; writes nothing. A refusal or bad
    input shows the form again with the reasons (422)."""
    form = await request.form()
    check_csrf(request, _text(form, "csrf_token"))
    move = _move(trigger)
    role = _text(form, "role")
    may_act(account, account.username, role)  # before the case, as the API does
    store, lang, values = store_of(request), language(request), _values(form)

    def work() -> tuple[int, dict[str, Any]]:
        case_id = case_ref(store_of(request), ref)
        data = form_data(move.trigger, form)
        given = _extras(form)
        seen = preview(
            case_id,
            trigger,
            account.username,
            role,
            data=data,
            store=store,
            reason=given.reason,
            reason_code=given.reason_code,
            note=given.note,
        )
        report = preview_report(seen, store=store)
        report["fee_before"] = seen.case.fee_due
        return seen.case.version, report

    try:
        version, report = await in_db(request, work)
    except InvalidInput as err:
        return await _form_page(
            request, account, ref, move, values, status=422, error=err.prefix, reasons=err.errors
        )
    if not report["allowed"]:
        return await _form_page(
            request, account, ref, move, values, status=422,
            error=t("actions.refused", lang), reasons=report["reasons"],
        )  # fmt: skip
    given = _extras(form)
    code = given.reason_code
    return render(
        request,
        "preview.html",
        account=account,
        ref=_path(ref),
        trigger=trigger,
        role=role,
        lines=describe(report, lang),
        emails=emails(report, lang),
        extras=given,
        reason_label=REASONS[code].text(lang) if code else None,
        hidden=[(k, v) for k, vs in values.items() for v in vs],
        expected_version=version,
    )


@router.post("/cases/{ref}/actions/{trigger}")
async def action_confirm(request: Request, ref: str, trigger: str, account: Staff) -> Response:
    """Make the move previewed, at the version previewed: 303 to the case with a notice, or
    the form with the reasons (422) or the conflict and the case's new state (409)."""
    form = await request.form()
    check_csrf(request, _text(form, "csrf_token"))
    move = _move(trigger)
    role = _text(form, "role")
    may_act(account, account.username, role)
    expected = _text(form, "expected_version").strip()
    if not (expected.isascii() and expected.isdigit() and len(expected) <= 18):
        raise InvalidInput("expected_version: the case's version from the preview page")
    store, values, given = store_of(request), _values(form), _extras(form)

    def work() -> str:
        case_id = case_ref(store_of(request), ref)
        done = advance(
            case_id,
            trigger,
            account.username,
            role,
            expected_version=int(expected),
            data=form_data(move.trigger, form),
            store=store,
            reason=given.reason,
            reason_code=given.reason_code,
            note=given.note,
        )
        return done.to_state

    try:
        await in_db(request, work, write=True)
    except Conflict as err:
        lang, moved = language(request), err.case_id
        view = await in_db(request, lambda: case_view(moved, store=store))
        sentence = t(
            "actions.conflict",
            lang,
            state=state_label(view["state"], lang),
            version=view["version"],
        )
        return await _form_page(request, account, ref, move, values, status=409, error=sentence)
    except TransitionNotAllowed as err:
        return await _form_page(
            request, account, ref, move, values, status=422,
            error=t("actions.refused", language(request)), reasons=err.reasons,
        )  # fmt: skip
    except InvalidInput as err:
        return await _form_page(
            request, account, ref, move, values, status=422, error=err.prefix, reasons=err.errors
        )
    return RedirectResponse(f"/cases/{_path(ref)}?done={move.trigger.value}", status_code=303)


def done_notice(request: Request, state: str) -> str | None:
    """The notice a case page shows after a move (``?done=TRIGGER``), or None."""
    done = request.query_params.get("done", "")
    if done not in Trigger.__members__:
        return None
    lang = language(request)
    trigger = t(f"trigger.{done}", lang)
    return t("actions.done", lang, trigger=trigger, state=state_label(state, lang))


# --- the preview in words -------------------------------------------------------------------
def describe(report: dict[str, Any], lang: str) -> list[str]:
    """What the move does besides sending email, one sentence each."""
    before, after = report["from_state"], report["to_state"]
    if before == after:
        lines = [t("preview.stay", lang, state=state_label(before, lang))]
    else:
        lines = [
            t(
                "preview.move",
                lang,
                from_state=state_label(before, lang),
                to_state=state_label(after, lang),
            )
        ]
    for d in report["deadlines"]:
        lines.append(t(f"preview.deadline.{d['what']}", lang, date=long_date(d["due"], lang)))
    for doc in report["documents"]:
        status = t(f"doc.status.{doc['status']}", lang)
        name = document_label(doc["name"], lang)
        if doc["due"] and doc["status"] == "requested":
            when = long_date(doc["due"], lang)
            lines.append(t("preview.document_due", lang, document=name, status=status, date=when))
        else:
            lines.append(t("preview.document", lang, document=name, status=status))
    fee = report["fee_due"]
    if fee is not None and fee != report.get("fee_before"):
        lines.append(t("preview.fee_due", lang, amount=hkd(fee)))
    return lines


def emails(report: dict[str, Any], lang: str) -> list[tuple[str, list[str]]]:
    """The emails the move would send, by the language they are written in: a heading
    ("This will send 2 emails in Chinese:") and one line per email (recipient, subject)."""
    by_language: dict[str, list[dict[str, Any]]] = {}
    for m in report["messages"]:
        by_language.setdefault(m["language"], []).append(m)
    out = []
    for written_in, messages in by_language.items():
        key = "preview.emails.one" if len(messages) == 1 else "preview.emails.many"
        heading = t(key, lang, count=len(messages), language=t(f"lang.name.{written_in}", lang))
        lines = [t("preview.email_line", lang, to=m["to"], subject=m["subject"]) for m in messages]
        out.append((heading, lines))
    return out


# --- the committee --------------------------------------------------------------------------
def shortlisted_pool(store: Store) -> list[dict[str, Any]]:
    """Every shortlisted case, highest score first (then the oldest case)."""
    stmt = (
        select(
            _app.c.id,
            _app.c.file_number,
            _app.c.name,
            _app.c.test,
            _app.c.score,
            _app.c.pass_mark,
            _app.c.state_since,
        )
        .where(_app.c.state == State.shortlisted.value)
        .order_by(_app.c.score.desc().nulls_last(), _app.c.id)
    )
    with store.read() as tx:
        return [dict(r) for r in tx.conn.execute(stmt).mappings()]


@router.get("/committee")
async def committee(request: Request, account: Staff) -> Response:
    """The shortlisted pool with scores; each case's "allot quota" goes through the same
    form, preview and confirmation (the engine enforces four-eyes). The committee's page."""
    if "committee" not in account.roles:
        raise NotAuthorized(
            f"the committee's page needs the role committee; account '{account.username}' "
            f"holds: {', '.join(account.roles) or 'no role'}"
        )
    store = store_of(request)
    rows = await in_db(request, lambda: shortlisted_pool(store))
    lang = language(request)
    for r in rows:
        r["since"] = long_date(r["state_since"], lang)
    return render(
        request,
        "committee.html",
        account=account,
        rows=rows,
        may_allot="committee" in account.roles,
    )
