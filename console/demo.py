"""`qmas demo`: a fresh database, realistic applicants, every case run to its end.

The demo replays 2023-2024 on a simulated clock (each step passes ``now=``), so the seed-era
rules apply (gpt-2023, HK$230 a person, no application fee) and the dated nationality rule of
25 October 2023 shows.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.rule import Rule

from console import output
from states.accounts import Accounts
from states.credentials import hash_password
from states.errors import QmasError
from states.store import Store
from workflows import advance, create_case, samples
from workflows.authz import acting_account
from workflows.clock import HK, iso
from workflows.engine import default_store
from workflows.views import case_view, history

PROFILE = samples.PROFILE
_profile = samples.profile


def _applicant(
    name: str,
    born: str,
    nat: str,
    mainland: bool,
    email: str,
    lang: str,
    doc: str,
    rep: dict[str, str] | None = None,
) -> dict[str, Any]:
    a: dict[str, Any] = {
        "name": name,
        "date_of_birth": born,
        "nationality": nat,
        "mainland_resident": mainland,
        "email": email,
        "language": lang,
        "travel_document_number": doc,
    }
    if rep:
        a["representative"] = rep
    return a


APPLICATIONS: dict[str, dict[str, Any]] = {
    "chan": {
        "applicant": _applicant(
            "CHAN Tai Man",
            "1990-04-12",
            "CN",
            True,
            "chan.taiman@example.com",
            "zh-HK",
            "E12345678",
            {"name": "Wong & Co.", "email": "cases@wongco.example"},
        ),
        "dependants": [
            {"name": "LI Mei", "relation": "spouse", "date_of_birth": "1991-02-03"},
            {"name": "CHAN Siu Ming", "relation": "child", "date_of_birth": "2018-09-30"},
        ],
        "declaration_signed": True,
        "profile": PROFILE,
    },
    "watson": {
        "applicant": _applicant(
            "Emily WATSON",
            "1986-11-02",
            "GB",
            False,
            "emily.watsn@example.co.uk",
            "en",
            "533012298",
        ),
        "declaration_signed": True,
        "profile": _profile(
            family={"spouse_degree": False, "children_under_18": 0},
            languages={"chinese": False, "english": True, "others": 1},
            talent_list=True,
        ),
    },
    "kumar": {
        "applicant": _applicant(
            "Rajesh KUMAR", "1979-06-21", "IN", False, "rajesh.kumar@example.in", "en", "Z4481920"
        ),
        "dependants": [
            {"name": "Priya KUMAR", "relation": "spouse", "date_of_birth": "1982-01-15"}
        ],
        "declaration_signed": True,
        "profile": _profile(
            degrees=[
                {
                    "level": "bachelor",
                    "renowned_institution": False,
                    "eligible_university": False,
                    "stem": True,
                }
            ],
            work={"multinational_years": 0},
            family={"children_under_18": 0},  # his spouse comes with him; no child
        ),
    },
    "martinez": {
        "applicant": _applicant(
            "Sofia MARTÍNEZ",
            "1994-08-09",
            "ES",
            False,
            "sofia.martinez@example.es",
            "en",
            "PAB123456",
        ),
        "declaration_signed": True,
        "profile": _profile(
            family={"spouse_degree": False, "children_under_18": 0},
            work={"graduate_years": 6, "senior_years": 2, "multinational_years": 3},
        ),
    },
    "nguyen": {
        "applicant": _applicant(
            "NGUYỄN Văn An", "1992-12-01", "VN", False, "an.nguyen@example.vn", "en", "C7712345"
        ),
        "declaration_signed": True,
        "profile": _profile(family={"spouse_degree": False, "children_under_18": 0}),
    },
}

# (case key, HK date and time, trigger, actor, role, extra)
# Not a trigger: the dispatcher's work at that moment of the story (see `_dispatch`).
DISPATCH = "(dispatcher)"

STEPS: list[tuple[str, str, str, str, str, dict[str, Any]]] = [
    ("chan", "2023-03-01 10:12", "submit", "officer.wong", "applicant", {}),
    ("watson", "2023-04-03 16:40", "submit", "officer.wong", "applicant", {}),
    ("kumar", "2023-04-11 09:05", "submit", "officer.wong", "applicant", {}),
    ("chan", "2023-04-12 09:30", "issue_file_number", "system", "system", {}),
    ("watson", "2023-05-08 09:30", "issue_file_number", "system", "system", {}),
    (
        "watson",
        "2023-05-09 14:20",
        "amend",  # the applicant rang: her email address was mistyped on the form
        "officer.lam",
        "caseworker",
        {
            "data": {"applicant": {"email": "emily.watson@example.co.uk"}},
            "note": "Applicant phoned 9 May; identity confirmed by date of birth and passport.",
        },
    ),
    ("kumar", "2023-05-15 09:30", "issue_file_number", "system", "system", {}),
    (
        "chan",
        "2023-05-02 11:00",
        "request_documents",
        "officer.lam",
        "caseworker",
        {"data": {"documents": ["employment_proof", "degree_verification"]}},
    ),
    ("martinez", "2023-05-20 21:14", "submit", "officer.wong", "applicant", {}),
    (
        "chan",
        "2023-05-15 10:05",
        "record_documents",  # a partial receipt: the verification report is still to come
        "officer.lam",
        "caseworker",
        {
            "data": {"received": ["employment_proof"]},
            "note": "Reference letters arrived by post; checked against the employer's website.",
        },
    ),
    (
        "chan",
        "2023-05-26 15:20",
        "receive_documents",
        "officer.lam",
        "caseworker",
        {"data": {"received": ["degree_verification"]}},
    ),
    (
        "nguyen",
        "2023-06-01 08:45",
        "submit",
        "officer.wong",
        "applicant",
        {},
    ),  # refused: VN excluded
    (
        "chan",
        "2023-06-01 10:00",
        "request_documents",
        "officer.lam",
        "caseworker",
        {"data": {"documents": ["financial_proof", "spouse_degree"], "due": "2023-06-30"}},
    ),
    ("martinez", "2023-06-05 09:30", "issue_file_number", "system", "system", {}),
    (
        "chan",
        "2023-06-20 14:02",
        "receive_documents",
        "officer.lam",
        "caseworker",
        {
            "data": {
                "received": ["financial_proof"],
                "waived": {"spouse_degree": "Degree verified by CHSI report already on file"},
            }
        },
    ),
    ("chan", "2023-07-03 10:00", "shortlist", "supervisor.ho", "supervisor", {}),
    ("watson", "2023-07-03 10:05", "shortlist", "supervisor.ho", "supervisor", {}),
    ("kumar", "2023-07-03 10:10", "shortlist", "supervisor.ho", "supervisor", {}),
    (
        "martinez",
        "2023-07-10 17:30",
        "withdraw",
        "officer.wong",
        "applicant",
        {"reason": "Accepted a post in Singapore"},
    ),
    ("chan", "2023-08-15 15:00", "allot_quota", "committee.cheung", "committee", {}),
    ("watson", "2023-08-15 15:00", "allot_quota", "committee.cheung", "committee", {}),
    (
        "kumar",
        "2023-08-15 15:00",
        "refuse",
        "committee.cheung",
        "committee",
        {
            "reason_code": "not_selected",
            "note": "Scored 110; the August exercise's cut-off was 120.",
        },
    ),
    (
        "kumar",
        "2023-10-02 11:00",
        "note",
        "auditor.yu",
        "auditor",
        {"note": "Sampled for the quarterly audit: refusal reason and score agree."},
    ),
    (
        "watson",
        "2023-08-21 20:11",
        "pay_fee",
        "officer.wong",
        "applicant",
        {"data": {"amount": 230, "method": "credit_card"}},  # HK$230: no dependant
    ),
    # Four-eyes: the officer who recorded Emily WATSON's payment may not also issue her e-Visa.
    ("watson", "2023-08-22 09:35", "issue_evisa", "officer.wong", "caseworker", {}),
    ("watson", "2023-08-22 09:40", "issue_evisa", "officer.lam", "caseworker", {}),
    (
        "chan",
        "2023-09-01 10:00",
        "record_mainland_consent",
        "officer.lam",
        "caseworker",
        {"data": {"consent_letter": "Shenzhen Talent Exchange Centre, ref. SZ-2023-08812"}},
    ),
    (
        "chan",
        "2023-09-05 12:30",
        "pay_fee",
        "officer.wong",
        "applicant",
        {"data": {"amount": 690, "method": "pps"}},  # HK$230 each: CHAN, his spouse and child
    ),
    ("chan", "2023-09-06 09:15", "issue_evisa", "officer.lam", "caseworker", {}),
    ("nguyen", "2023-11-01 09:00", "submit", "officer.wong", "applicant", {}),  # now eligible
    ("nguyen", "2023-12-04 09:30", "issue_file_number", "system", "system", {}),
    # The dispatcher handles the new file number: it asks NGUYEN for his checklist's documents.
    ("nguyen", "2023-12-04 09:31", DISPATCH, "system", "system", {}),
]


# The demo's staff: (username, full name, roles). Passwords are made up afresh each run.
STAFF: list[tuple[str, str, tuple[str, ...]]] = [
    ("officer.lam", "LAM Ka Yan", ("caseworker",)),
    ("officer.wong", "WONG Siu Ming", ("caseworker",)),
    ("supervisor.ho", "HO Wing Sze", ("supervisor",)),
    ("committee.cheung", "CHEUNG Man Kit", ("committee",)),
    ("auditor.yu", "YU Hoi Ying", ("auditor",)),
    ("admin.lee", "LEE Chi Wai", ("admin",)),
]


def _create_staff(store: Store) -> dict[str, str]:
    """The demo accounts, each with a fresh random password (printed once at the end)."""
    accounts = Accounts(store)
    at = iso(_at("2023-02-01 09:00"))
    accounts.ensure_system(at)
    passwords: dict[str, str] = {}
    for username, name, roles in STAFF:
        password = secrets.token_urlsafe(12)
        accounts.add(
            username,
            roles,
            full_name=name,
            email=f"{username}@qmas-demo.invalid",
            password_hash=hash_password(password),
            by="demo",
            at=at,
        )
        passwords[username] = password
    return passwords


def _show_staff(passwords: dict[str, str]) -> None:
    output.out.print(Rule("Demo accounts (passwords made for this run; shown only here)"))
    output.out.print(
        output.table(
            None,
            ["username", "name", "roles", "password"],
            [[u, n, ", ".join(r), passwords[u]] for u, n, r in STAFF],
        )
    )


@dataclass
class Outcome:
    moved: int = 0
    refused: int = 0


def _cases_in(store: Store) -> int:
    """Cases the database holds (0 when it has no tables yet)."""
    from sqlalchemy import func, inspect, select

    from states.models import applications

    with store.engine.connect() as conn:
        if not inspect(conn).has_table(applications.name):
            return 0
        return int(conn.execute(select(func.count()).select_from(applications)).scalar_one())


def _backup_sqlite(path: Path) -> Path:
    """A copy of the database by SQLite's backup API: committed transactions still in the
    WAL file included (moving the main file alone would lose them)."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    backup = path.with_name(f"{path.name}.backup-{stamp}")
    n = 1
    while backup.exists():
        n += 1
        backup = path.with_name(f"{path.name}.backup-{stamp}-{n}")
    source = sqlite3.connect(path)
    try:
        target = sqlite3.connect(backup)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    return backup


def _fresh_store(allow_reset: bool, fresh: bool = False) -> Store:
    """An empty database for the demo. It never deletes data: a database that holds cases is
    refused unless ``fresh``, and an SQLite file is first copied aside (backup API)."""
    store = default_store()
    url = store.engine.url
    where = url.render_as_string(hide_password=True)
    sqlite = url.get_backend_name() == "sqlite"
    path = Path(url.database or "qmas.db") if sqlite else None
    held = _cases_in(store) if path is None or path.exists() else 0
    if held and not fresh:
        raise QmasError(
            f"{where} holds {held} case(s); the demo starts over only with --fresh"
            + (" (the file is backed up first)" if sqlite else " (back it up with pg_dump first)")
        )
    if path is not None:
        store.dispose()
        if path.exists():
            backup = _backup_sqlite(path)
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            output.out.print(
                f"[dim]Previous {output.esc(path)} backed up to {output.esc(backup)}[/]"
            )
    elif not allow_reset:
        raise QmasError(f"the demo resets the database {where}; pass --yes to allow it")
    else:
        from states.models import TABLES, SQLModel

        SQLModel.metadata.drop_all(store.engine, tables=TABLES)
    store.init()
    return store


def _reminders_and_dispatch(store: Store, lapsing_case: int) -> None:
    """Run the reminder flow on the days the lapsing case's deadline calls for, then dispatch."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from console.ops import prefect_in_process

    with prefect_in_process():
        _quietly_run_flows(store, lapsing_case)


def _quietly_run_flows(store: Store, lapsing_case: int) -> None:
    # Prefect configures its loggers when it enters a settings context: quieten them after.
    quiet = {
        name: logging.getLogger(name)
        for name in ("prefect", "prefect.flow_runs", "prefect.task_runs")
    }
    levels = {name: logger.level for name, logger in quiet.items()}
    for logger in quiet.values():
        logger.setLevel(logging.WARNING)
    try:
        _run_flows(store, lapsing_case)
    finally:
        for name, logger in quiet.items():
            logger.setLevel(levels[name])


def _run_flows(store: Store, lapsing_case: int) -> None:
    from flows.dispatch import dispatch_events
    from flows.reminders import send_reminders
    from notifications.settings import NotificationSettings
    from workflows.engine import default_settings

    deadline = case_view(lapsing_case, store=store)["deadline"]
    output.out.print(Rule("Prefect flows, in-process"))
    # No deadline when QMAS_AUTO_DOCUMENT_REQUEST=false kept the documents from being asked for.
    schedule = default_settings().document_schedule()
    days = schedule.dates(date.fromisoformat(deadline)) if deadline else {}
    for day in days.values():  # first reminder, due date, final notice, lapse
        summary = send_reminders(today=day.isoformat(), deliver=False)
        lapsed = f", lapsed case(s) {summary['lapsed']}" if summary["lapsed"] else ""
        output.say(f"send_reminders({day}): {summary['planned']} reminder(s) planned{lapsed}")
    summary = dispatch_events()
    folder = NotificationSettings().mail_dir
    output.say(
        f"dispatch_events: {summary['events_done']} events handled, {summary['sent']} messages "
        f"delivered ({summary['dead']} dead); messages written to {folder}/ (or sent by SMTP "
        "when QMAS_SMTP_URL is set)"
    )


def _dispatch(store: Store, when: str) -> int:
    """What the dispatch_events flow does with pending events (`flows.work.dispatch_pending`),
    on the demo's clock: a case just given its file number is asked for the documents of its
    checklist, by `system`. Returns the number of moves it made."""
    from flows.work import dispatch_pending
    from workflows.formats import long_date

    done = dispatch_pending(store, lambda: _at(when))
    for case_id in done.report["documents_requested"]:
        v = case_view(case_id, store=store)
        output.say(
            f"{when}  case {case_id:<3} {'request_documents':<24} file_number_issued → "
            f"{v['state']} (automatic, by the dispatcher: {len(v['documents'])} documents from "
            f"the checklist, due {long_date(v['deadline'])})"
        )
    return len(done.report["documents_requested"])


def run_demo(allow_reset: bool = False, flows: bool = True, fresh: bool = False) -> dict[str, int]:
    store = _fresh_store(allow_reset, fresh)
    url = store.engine.url.render_as_string(hide_password=True)
    output.out.print(Rule("QMAS case engine demo"))
    output.say(f"Database: {url}")
    passwords = _create_staff(store)
    ids: dict[str, int] = {}
    for key, app in APPLICATIONS.items():
        ids[key] = create_case(app, store=store, now=_at("2023-02-20 09:00"))
    outcome = Outcome()
    for key, when, trigger, actor, role, extra in STEPS:
        if trigger == DISPATCH:
            outcome.moved += _dispatch(store, when)
            continue
        try:
            if role != "system":  # the flows' own account acts unchecked; people are checked
                acting_account(actor, role, store=store)
            done = advance(
                ids[key],
                trigger,
                actor,
                role,
                reason=extra.get("reason"),
                reason_code=extra.get("reason_code"),
                note=extra.get("note"),
                data=extra.get("data"),
                store=store,
                now=_at(when),
            )
            outcome.moved += 1
            output.say(
                f"{when}  case {done.case_id:<3} {trigger:<24} {done.from_state} → {done.to_state}"
            )
        except QmasError as err:
            outcome.refused += 1
            output.out.print(
                f"{when}  case {ids[key]:<3} {trigger:<24} [red]refused[/]: {output.esc(err)}"
            )
    if flows:
        _reminders_and_dispatch(store, ids["nguyen"])
    _summary(store, ids)
    output.out.print(Rule(f"History of case {ids['chan']} (CHAN Tai Man)"))
    output.show_history(history(ids["chan"], store=store))
    _show_staff(passwords)
    # Name the command as it was typed (`make demo` runs .venv/bin/qmas).
    q = os.path.relpath(sys.argv[0]) if os.path.basename(sys.argv[0]) == "qmas" else "qmas"
    output.say(
        f"\n{sum(case_view(i, store=store)['version'] for i in ids.values())} transitions "
        f"committed (the reminder flow's included), {outcome.refused} refused with reasons. "
        f"Try: {q} cases, {q} case show 1, {q} case actions 1 --role caseworker, "
        f"{q} case history QM2023-000003 (notes stay internal), "
        f"{q} case preview QM2023-000005 note --actor auditor.yu --role auditor --note checked, "
        f"{q} case show 1 --reveal --actor officer.lam --role caseworker, "
        f"{q} audit access 1, {q} serve (the web console at http://127.0.0.1:8000/ and the "
        "API; log in as an account above), "
        f"{q} outbox, {q} audit verify"
    )
    return ids


def _summary(store: Store, ids: dict[str, int]) -> None:
    rows = []
    for cid in ids.values():
        v = case_view(cid, store=store)
        score = f"{v['score']}/{v['pass_mark']} ({v['ruleset']})" if v["ruleset"] else ""
        rows.append(
            [
                cid,
                v["file_number"],
                v["applicant"]["name"],
                v["applicant"]["nationality"],
                v["state_label"],
                v["version"],
                score,
                v["evisa_number"] or v["outcome_reason"],
            ]
        )
    output.out.print(Rule("Summary"))
    output.out.print(
        output.table(
            None,
            [
                "case",
                "file number",
                "applicant",
                "nat.",
                "state",
                "steps",
                "score",
                "e-Visa / reason",
            ],
            rows,
        )
    )


def _at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=HK)
