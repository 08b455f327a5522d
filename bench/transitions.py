#!/usr/bin/env python
"""Transition throughput: ``workflows.advance`` against raw DB-API running the same statements.

Setup (not timed): N valid draft cases, cloned from one case made by ``workflows.create_case``,
are written to two (three) identical databases. Timed, one case after another:

* engine: every case goes through its whole lifecycle with ``workflows.advance`` (one
  transaction per transition: load, decide, compare-and-set, history, outbox, commit);
* raw: plain ``sqlite3`` (WAL, synchronous=NORMAL, ``BEGIN IMMEDIATE``/``COMMIT``) or psycopg
  (one connection, one transaction per transition) executing the statements the engine
  executes, with the same parameters, hashing the history row the same way; afterwards the
  two databases must hold the same chain heads;
* raw core (context only): the case SELECT, the version-checked UPDATE and the two INSERTs,
  nothing else (the pattern behind the figures in DESIGN.md).

    python bench/transitions.py                         # 2,000 cases on a temp SQLite file
    python bench/transitions.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
    python bench/transitions.py --rss-check --rss-cases 1000,100000

On PostgreSQL every run works in fresh schemas ``bench_<random>*`` dropped at the end.
"""

# ruff: noqa: E402  (the repository root goes on sys.path before the project imports)

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import json
import os
import platform
import pstats
import random
import resource
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

# Run as a script, this folder heads sys.path, and this file would shadow the `transitions`
# package the engine imports: put the repository root there instead.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import func, insert, select, text

from states.catalogue import TERMINAL, State
from states.chain import canonical_json, row_hash
from states.digest import case_digest, case_parts, outbox_digest, personal_digest, profile_digest
from states.models import applications as app_t
from states.models import dependants as dep_t
from states.models import history as hist_t
from states.settings import DatabaseSettings, normalise_url
from states.store import Store
from workflows import advance, create_case, effects, samples
from workflows.calendar import add_working_days
from workflows.clock import HK, iso, today_hk
from workflows.effects import check_digit, evisa_serial
from workflows.four_eyes import EARLIER as FOUR_EYES_LATER
from workflows.four_eyes import WATCHED as FOUR_EYES_WATCHED
from workflows.rules import annual_quota, assess, fee_due_at
from workflows.rules.family import Dependant
from workflows.settings import WorkflowSettings
from workflows.spec import MOVES, Trigger

# Every transition happens at this moment (seed era: gpt-2023 rules, HK$230 visa fee per person,
# no application fee, no quota cap).
NOW = datetime(2023, 6, 1, 10, 0, tzinfo=HK)
# One account per role, as in real use: the four-eyes rules refuse one actor doing both steps.
ACTORS = {
    "applicant": "bench.counter",
    "system": "system",
    "caseworker": "bench.officer",
    "committee": "bench.committee",
}
TARGETS = {  # database -> (engine transitions/s at least, raw/engine ratio at most)
    "sqlite": (2000.0, 2.5),
    "postgresql": (600.0, 3.0),
}
RSS_TOLERANCE = 8 * 1024 * 1024  # growth allowed above the small run's before "not flat"
CONSENT = "Exit-entry Administration, Guangdong; ref. GD-2023-0001"
DOCUMENTS = ["police_certificate", "employment_proof"]
WAIVED = {"employment_proof": "self-employed; tax returns on file"}


@dataclass(frozen=True)
class Step:
    trigger: str
    role: str
    data: dict[str, Any] | None = None


def lifecycle(variant: str, fee: int) -> list[Step]:
    """The happy path of one case: 6 transitions overseas, 9 for a Mainland resident; ``fee``
    is the fee due for the whole family (`fee_due`)."""
    pay = Step("pay_fee", "applicant", {"amount": fee, "method": "fps"})
    if variant == "overseas":
        return [
            Step("submit", "applicant"),
            Step("issue_file_number", "system"),
            Step("shortlist", "caseworker"),
            Step("allot_quota", "committee"),
            pay,
            Step("issue_evisa", "caseworker"),
        ]
    return [
        Step("submit", "applicant"),
        Step("issue_file_number", "system"),
        Step("request_documents", "caseworker", {"documents": DOCUMENTS}),
        Step(
            "receive_documents",
            "caseworker",
            {"received": [d for d in DOCUMENTS if d not in WAIVED], "waived": WAIVED},
        ),
        Step("shortlist", "caseworker"),
        Step("allot_quota", "committee"),
        Step("record_mainland_consent", "caseworker", {"consent_letter": CONSENT}),
        pay,
        Step("issue_evisa", "caseworker"),
    ]


def application_file(variant: str) -> dict[str, Any]:
    """A complete, signed application that passes the 2023 General Points Test."""
    mainland = variant == "mainland"
    return {
        "applicant": {
            "name": "CHAN Tai Man" if mainland else "Emily WATSON",
            "date_of_birth": "1990-04-12",
            "nationality": "CN" if mainland else "GB",
            "mainland_resident": mainland,
            "email": "applicant@example.com",
            "language": "zh-HK" if mainland else "en",
            "travel_document_number": "T00000000",
        },
        "dependants": [
            {"name": "LI Mei", "relation": "spouse", "date_of_birth": "1991-02-03"},
            {"name": "CHAN Siu Ming", "relation": "child", "date_of_birth": "2018-09-30"},
        ],
        "declaration_signed": True,
        "profile": samples.profile(),
    }


def fee_due(variant: str) -> int:
    """The visa fee at NOW for the applicant and each dependant (what allot_quota sets)."""
    return fee_due_at(NOW, persons(variant))


def persons(variant: str) -> int:
    return 1 + len(application_file(variant)["dependants"])


# --- memory ----------------------------------------------------------------------------------
def rss_now() -> int:
    """Resident set size now, in bytes (/proc/self/statm; peak RSS where there is no /proc)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return rss_peak()


def rss_peak() -> int:
    """Peak resident set size of this process so far, in bytes (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def cpu_time() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mib(n: float) -> str:
    return f"{n / 1048576:.1f} MiB"


# --- databases -------------------------------------------------------------------------------
@dataclass
class Target:
    """Where the bench writes: fresh SQLite files in a temp folder, or fresh PostgreSQL schemas."""

    dialect: str  # "sqlite" or "postgresql"
    base_url: str
    folder: Path | None = None
    prefix: str = ""  # PostgreSQL: the bench's schemas are <prefix>_<name>
    schemas: list[str] = field(default_factory=list)  # the ones created, dropped at the end
    keep: bool = False
    async_commit: bool = False  # diagnostic: synchronous_commit=off on every bench session

    def url(self, name: str) -> str:
        if self.dialect == "sqlite":
            assert self.folder is not None
            return f"sqlite:///{self.folder / (name + '.db')}"
        sep = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{sep}options={quote(self.pg_options(name))}"

    def pg_options(self, name: str) -> str:
        options = f"-csearch_path={self.prefix}_{name}"
        return options + " -csynchronous_commit=off" if self.async_commit else options

    def prepare(self, name: str) -> str:
        """A fresh, empty database (a file or a schema) called ``name``; returns its URL."""
        if self.dialect == "postgresql":
            schema = f"{self.prefix}_{name}"
            with _admin(self.base_url) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            self.schemas.append(schema)
        return self.url(name)

    def raw_connect(self, name: str) -> RawDB:
        if self.dialect == "sqlite":
            assert self.folder is not None
            return RawSqlite(
                self.folder / (name + ".db"), DatabaseSettings().sqlite_busy_timeout_ms
            )
        return RawPsycopg(self.base_url, self.pg_options(name))

    def cleanup(self) -> None:
        if self.keep:
            where = self.folder if self.dialect == "sqlite" else ", ".join(self.schemas)
            print(f"kept the bench databases: {where}", file=sys.stderr)
            return
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        if self.schemas:
            with _admin(self.base_url) as conn:
                for schema in self.schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def make_target(url: str | None, keep: bool, async_commit: bool = False) -> Target:
    url = normalise_url(url) if url else None
    if url and url.startswith("postgresql"):
        prefix = f"bench_{secrets.token_hex(4)}"
        return Target("postgresql", url, prefix=prefix, keep=keep, async_commit=async_commit)
    if url and url.startswith("sqlite"):
        raise SystemExit(
            "--database-url takes a PostgreSQL URL; SQLite runs use fresh files in a temp folder"
        )
    return Target("sqlite", "", folder=Path(tempfile.mkdtemp(prefix="qmas-bench-")), keep=keep)


@contextmanager
def _admin(url: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        yield conn


def _conninfo(url: str) -> str:
    """A libpq URL from an SQLAlchemy one (drops the ``+psycopg`` driver suffix)."""
    u = sqlalchemy.make_url(url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


# --- setup: N valid draft cases ---------------------------------------------------------------
@dataclass
class Template:
    case: dict[str, Any]
    dependants: list[dict[str, Any]]


def make_template(store: Store, variant: str) -> Template:
    """One case made by ``workflows.create_case`` (validated like any application file)."""
    case_id = create_case(application_file(variant), store=store, now=NOW)
    with store.read() as tx:
        case = tx.load_case(case_id).values
        deps = tx.dependants(case_id)
    with store.write() as tx:  # the clones take its place, with predictable ids
        tx.conn.execute(dep_t.delete())
        tx.conn.execute(app_t.delete())
    return Template(dict(case), [dict(d) for d in deps])


def seed(store: Store, template: Template, n: int, chunk: int = 2000) -> None:
    """Cases 1..n, copies of the template with their own travel document, in chunks."""
    k = len(template.dependants)
    for start in range(1, n + 1, chunk):
        ids = range(start, min(n, start + chunk - 1) + 1)
        cases = [
            {
                **template.case,
                "id": i,
                "travel_document_number": f"B{i:09d}",
                "personal_digest": None,
            }
            for i in ids
        ]
        deps = [
            {**d, "id": (i - 1) * k + p, "application_id": i}
            for i in ids
            for p, d in enumerate(template.dependants, start=1)
        ]
        with store.write() as tx:
            tx.conn.execute(insert(app_t), cases)
            if deps:
                tx.conn.execute(insert(dep_t), deps)
    if store.dialect == "postgresql":
        with store.write() as tx:
            for table in ("applications", "dependants"):
                tx.conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"),
                    {"n": max(1, n * (k if table == "dependants" else 1))},
                )


def prepared_store(
    target: Target, name: str, template: Template | None, n: int, variant: str
) -> tuple[Store, Template]:
    store = Store(target.prepare(name))
    store.init()
    template = template or make_template(store, variant)
    seed(store, template, n)
    return store, template


# --- results ---------------------------------------------------------------------------------
@dataclass
class Run:
    label: str
    transitions: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process only (user + system): not the PostgreSQL server
    rss_before: int = 0
    rss_after: int = 0
    peak_before: int = 0
    peak_after: int = 0
    rss_samples: list[tuple[int, int]] = field(default_factory=list)  # (cases done, RSS)

    @property
    def per_second(self) -> float:
        return self.transitions / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "transitions": self.transitions,
            "seconds": round(self.seconds, 4),
            "cpu_seconds": round(self.cpu_seconds, 4),
            "per_second": round(self.per_second, 1),
            "us_per_transition": round(1e6 / self.per_second, 1) if self.per_second else None,
            "rss_before": self.rss_before,
            "rss_after": self.rss_after,
            "rss_growth": self.rss_after - self.rss_before,
            "peak_before": self.peak_before,
            "peak_after": self.peak_after,
            "peak_growth": self.peak_after - self.peak_before,
            "rss_samples": self.rss_samples,
        }


Tick = Callable[[int], None]


def timed(label: str, n: int, per_case: int, tick: Tick, body: Callable[[int], None]) -> Run:
    """Run ``body(case_id)`` for cases 1..n, timing the loop and sampling RSS ~20 times."""
    run = Run(label)
    every = max(1, n // 20)
    gc.collect()
    run.rss_before, run.peak_before = rss_now(), rss_peak()
    run.rss_samples.append((0, run.rss_before))
    cpu, started = cpu_time(), time.perf_counter()
    for case_id in range(1, n + 1):
        body(case_id)
        if case_id % every == 0:
            run.rss_samples.append((case_id, rss_now()))
            tick(every)
    run.seconds = time.perf_counter() - started
    run.cpu_seconds = cpu_time() - cpu
    run.transitions = n * per_case
    run.rss_after, run.peak_after = rss_now(), rss_peak()
    return run


# --- the engine ------------------------------------------------------------------------------
def run_engine(store: Store, n: int, steps: Sequence[Step], tick: Tick, profile: bool) -> Run:
    settings = WorkflowSettings()

    def lifecycle_of(case_id: int) -> None:
        version = 0
        for s in steps:
            version = advance(
                case_id,
                s.trigger,
                ACTORS[s.role],
                s.role,
                version,
                data=s.data,
                store=store,
                settings=settings,
                now=NOW,
            ).version

    lifecycle_of(n + 1)  # warm-up, not timed: lazy imports, compiled statements, pool
    profiler = cProfile.Profile() if profile else None
    with profiler or nullcontext():
        run = timed("engine (workflows.advance)", n, len(steps), tick, lifecycle_of)
    if profiler is not None:
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
    return run


# --- the raw baseline ------------------------------------------------------------------------
class RawDB(Protocol):
    dialect: str

    def begin(self) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def one(self, sql: str, params: Sequence[Any]) -> Any: ...
    def all(self, sql: str, params: Sequence[Any]) -> list[Any]: ...
    def run(self, sql: str, params: Sequence[Any]) -> int: ...
    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def insert(self, sql: str, params: Sequence[Any]) -> int: ...
    def json(self, value: Any) -> Any: ...
    def close(self) -> None: ...


class RawSqlite:
    """``sqlite3`` set up like the engine's SQLite engine; the caller issues BEGIN/COMMIT."""

    dialect = "sqlite"

    def __init__(self, path: Path, busy_ms: int) -> None:
        self.db = sqlite3.connect(
            path, timeout=busy_ms / 1000, isolation_level=None, check_same_thread=False
        )
        self.db.row_factory = sqlite3.Row
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            f"busy_timeout={busy_ms}",
            "foreign_keys=ON",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        self.cur = self.db.cursor()

    def begin(self) -> None:
        self.cur.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.cur.execute("COMMIT")

    def rollback(self) -> None:
        self.cur.execute("ROLLBACK")

    def one(self, sql: str, params: Sequence[Any]) -> Any:
        return self.cur.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return self.cur.execute(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[Any]) -> int:
        return self.cur.execute(sql, params).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cur.executemany(sql, rows)

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        return int(self.cur.execute(sql, params).lastrowid or 0)

    def json(self, value: Any) -> Any:
        return None if value is None else json.dumps(value)

    def close(self) -> None:
        self.db.close()


class RawPsycopg:
    """One psycopg connection, autocommit off: a transaction per transition."""

    dialect = "postgresql"

    def __init__(self, url: str, options: str) -> None:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg.types.json import Json

        self.conn = psycopg.connect(
            _conninfo(url),
            options=options,
            autocommit=False,
            row_factory=dict_row,
        )
        self.cur = self.conn.cursor()
        self._json = Json
        self._sql: dict[str, str] = {}
        self._returning: dict[str, str] = {}

    def _q(self, sql: str) -> str:
        q = self._sql.get(sql)
        if q is None:
            q = self._sql[sql] = sql.replace("?", "%s")
        return q

    def begin(self) -> None:  # psycopg opens the transaction at the first statement
        return None

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def one(self, sql: str, params: Sequence[Any]) -> Any:
        return self.cur.execute(self._q(sql), params).fetchone()

    def all(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return self.cur.execute(self._q(sql), params).fetchall()

    def run(self, sql: str, params: Sequence[Any]) -> int:
        return self.cur.execute(self._q(sql), params).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cur.executemany(self._q(sql), rows)

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        q = self._returning.get(sql)
        if q is None:
            q = self._returning[sql] = sql.replace("?", "%s") + " RETURNING id"
        row = self.cur.execute(q, params).fetchone()
        assert row is not None
        return int(row["id"])

    def json(self, value: Any) -> Any:
        return None if value is None else self._json(value)

    def close(self) -> None:
        self.conn.close()


LIVE_STATES = [s.value for s in State if s not in TERMINAL and s is not State.draft]
SQL_CASE = "SELECT * FROM applications WHERE id = ?"
SQL_LOCK_CASE = SQL_CASE + " FOR UPDATE"  # PostgreSQL: the engine locks the row it decides on
SQL_DEPENDANTS = "SELECT * FROM dependants WHERE application_id = ? ORDER BY position"
SQL_LIVE = (
    "SELECT id FROM applications WHERE travel_document_number = ? AND nationality = ? "
    f"AND id != ? AND state IN ({', '.join('?' for _ in LIVE_STATES)})"
)
SQL_LOCK = "SELECT pg_advisory_xact_lock(hashtext(?))"
WATCHED = sorted(FOUR_EYES_WATCHED)
SQL_ACTS = (  # the four-eyes fact: who did the watched steps
    'SELECT "trigger", actor FROM history WHERE case_id = ? '
    f'AND "trigger" IN ({", ".join("?" for _ in WATCHED)})'
)
SQL_DOCS = "SELECT * FROM document_requests WHERE case_id = ? ORDER BY id"
SQL_QUOTA_USED = "SELECT used FROM quota_usage WHERE year = ?"
SQL_QUOTA_ROW = "INSERT INTO quota_usage (year, used) VALUES (?, 0) ON CONFLICT DO NOTHING"
SQL_QUOTA_CLAIM = "UPDATE quota_usage SET used = used + 1 WHERE year = ?"
HISTORY_ORDER = ("case_id", "seq", "from_state", "to_state", "trigger", "actor", "role",
                 "reason", "note", "payload", "at", "workflow", "ruleset")  # fmt: skip
HISTORY_TAIL = ("case_digest", "outbox_digest", "key_id")
SQL_HISTORY = (
    'INSERT INTO history (case_id, seq, from_state, to_state, "trigger", actor, role, reason, '
    "note, payload, at, workflow, ruleset, prev_hash, hash, case_digest, outbox_digest, key_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SQL_OUTBOX = (
    'INSERT INTO outbox (case_id, history_id, topic, "trigger", payload, status, attempts, '
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
SQL_NEW_DOC = (
    'INSERT INTO document_requests (case_id, "round", item, due, status, requested_at) '
    "VALUES (?, ?, ?, ?, ?, ?)"
)
SQL_RESOLVE_DOC = (
    "UPDATE document_requests SET status = ?, waiver_reason = ?, resolved_at = ? WHERE id = ?"
)
SQL_NUMBER_DEP = "UPDATE dependants SET file_number = ? WHERE id = ?"
SQL_EVISA_DEP = "UPDATE dependants SET evisa_number = ? WHERE id = ?"
JSON_COLUMNS = {"categories"}
_cas_sql: dict[tuple[str, ...], str] = {}


def cas_sql(columns: tuple[str, ...]) -> str:
    sql = _cas_sql.get(columns)
    if sql is None:
        sets = ", ".join(f"{c} = ?" for c in columns)
        sql = _cas_sql[columns] = f"UPDATE applications SET {sets} WHERE id = ? AND version = ?"
    return sql


@dataclass
class RawFx:
    updates: dict[str, Any]
    payload: dict[str, Any]
    new_documents: list[tuple[Any, ...]] = field(default_factory=list)
    resolved: list[tuple[Any, ...]] = field(default_factory=list)
    numbers: list[tuple[str, int]] = field(default_factory=list)  # dependants' file numbers
    evisa_numbers: list[tuple[str, int]] = field(default_factory=list)
    quota: bool = False


@dataclass
class RawPlan:
    """What the raw baseline needs that the engine computes from rules: worked out once."""

    full: bool  # False: the core statements only (no guard reads, no extra writes)
    at: str
    today: date
    assessment: dict[str, Any]
    fee: int  # fee_due: the visa fee for every person
    persons: int
    quota_cap: int | None
    payment_deadline: str
    documents_due: str
    file_prefix: str
    evisa_prefix: str
    dependants: int
    dests: dict[str, str]


def raw_plan(full: bool, variant: str) -> RawPlan:
    settings = WorkflowSettings()
    today = today_hk(NOW)
    app = application_file(variant)
    a = assess(
        app["profile"],
        date_of_birth=date.fromisoformat(app["applicant"]["date_of_birth"]),
        nationality=app["applicant"]["nationality"],
        on=today,
        dependants=[
            Dependant(d["relation"], date.fromisoformat(d["date_of_birth"]))
            for d in app["dependants"]
        ],
    )
    return RawPlan(
        full=full,
        at=iso(NOW),
        today=today,
        assessment={
            "ruleset": a.ruleset,
            "test": a.test,
            "score": a.score,
            "pass_mark": a.pass_mark,
            "passed": a.passed,
            "categories": dict(a.categories),
        },
        fee=fee_due(variant),
        persons=persons(variant),
        quota_cap=annual_quota(today.year, today, overrides=settings.annual_quotas),
        payment_deadline=(today + timedelta(days=settings.payment_period_days)).isoformat(),
        documents_due=add_working_days(today, settings.document_period_working_days).isoformat(),
        file_prefix=settings.file_number_prefix,
        evisa_prefix=settings.evisa_prefix,
        dependants=len(application_file(variant)["dependants"]),
        dests={t.value: MOVES[t].dest.value for t in Trigger if MOVES[t].dest is not None},
    )


def _fx_submit(db: RawDB, row: Any, step: Step, p: RawPlan) -> RawFx:
    if p.full:  # the guards' reads: dependants, the person lock, other live cases
        db.all(SQL_DEPENDANTS, (row["id"],))
        if db.dialect == "postgresql":
            key = f"qmas-person:{row['nationality']}:{row['travel_document_number']}"
            db.one(SQL_LOCK, (key,))
        db.all(
            SQL_LIVE, (row["travel_document_number"], row["nationality"], row["id"], *LIVE_STATES)
        )
    a = p.assessment
    lodged = p.today.isoformat()
    updates = {"lodged_on": lodged, "submitted_at": p.at, **a}
    payload = {
        "lodged_on": lodged,
        "ruleset": a["ruleset"],
        "score": a["score"],
        "pass_mark": a["pass_mark"],
    }
    return RawFx(updates, payload)


def _fx_file_number(db: RawDB, row: Any, step: Step, p: RawPlan) -> RawFx:
    number = f"{p.file_prefix}{(row['lodged_on'] or p.today.isoformat())[:4]}-{row['id']:06d}"
    if p.full:
        deps = [(d["id"], d["position"]) for d in db.all(SQL_DEPENDANTS, (row["id"],))]
    else:
        deps = [(0, i) for i in range(1, p.dependants + 1)]
    numbers = [(f"{number}-D{pos}", i) for i, pos in deps]
    payload = {"file_number": number, "dependants": [n for n, _ in numbers]}
    return RawFx({"file_number": number}, payload, numbers=numbers if p.full else [])


def _fx_request_documents(db: RawDB, row: Any, step: Step, p: RawPlan) -> RawFx:
    items = list(dict.fromkeys((step.data or {})["documents"]))
    round_no = 1
    if p.full:
        round_no += max((d["round"] for d in db.all(SQL_DOCS, (row["id"],))), default=0)
    rows = [(row["id"], round_no, i, p.documents_due, "requested", p.at) for i in items]
    payload = {"documents": items, "due": p.documents_due, "round": round_no}
    return RawFx({"deadline": p.documents_due}, payload, new_documents=rows if p.full else [])


def _fx_receive_documents(db: RawDB, row: Any, step: Step, p: RawPlan) -> RawFx:
    data = step.data or {}
    received, waived = data.get("received", []), data.get("waived", {})
    resolved = []
    if p.full:
        for d in [d for d in db.all(SQL_DOCS, (row["id"],)) if d["status"] == "requested"]:
            why = waived.get(d["item"])
            status = "waived" if why is not None and d["item"] not in received else "received"
            resolved.append((status, why, p.at, d["id"]))
    payload = {"received": list(received), "waived": dict(waived)}
    return RawFx({"deadline": None}, payload, resolved=resolved)


def _fx_shortlist(db: RawDB, row: Any, step: Step, p: RawPlan) -> RawFx:
    if p.full:  # guard: no document request outstanding
        db.all(SQL_DOCS, (row["id"],))
    return RawFx({}, {})


def _fx_allot_quota(db: RawDB, row: Any, step: Step, p: RawPlan) -> RawFx:
    if p.full:  # the effect's read (dependants: the fee is per person) and the quota guard's
        db.all(SQL_DEPENDANTS, (row["id"],))
        db.run(SQL_QUOTA_ROW, (p.today.year,))
        lock = " FOR UPDATE" if db.dialect == "postgresql" else ""
        db.one(SQL_QUOTA_USED + lock, (p.today.year,))
    updates = {
        "quota_year": p.today.year,
        "allotted_at": p.at,
        "fee_due": p.fee,
        "deadline": p.payment_deadline,
    }
    payload = {
        "quota_year": p.today.year,
        "fee_due": p.fee,
        "persons": p.persons,
        "payment_deadline": p.payment_deadline,
    }
    return RawFx(updates, payload, quota=p.full)


def _fx_consent(db: RawDB, row: Any, step: Step, p: RawPlan) -> RawFx:
    letter = (step.data or {})["consent_letter"]
    return RawFx({"consent_letter": letter}, {"consent_letter": letter})


def _fx_pay_fee(db: RawDB, row: Any, step: Step, p: RawPlan) -> RawFx:
    data = step.data or {}
    amount, method = int(data["amount"]), data["method"]
    updates = {"fee_paid": amount, "payment_method": method, "deadline": None}
    return RawFx(updates, {"amount": amount, "method": method})


def _fx_evisa(db: RawDB, row: Any, step: Step, p: RawPlan) -> RawFx:
    base = f"{p.evisa_prefix}{p.today.year}-{evisa_serial()}"  # the engine's random part
    number = f"{base}-{check_digit(base)}"
    if p.full:
        deps = [(d["id"], d["position"]) for d in db.all(SQL_DEPENDANTS, (row["id"],))]
    else:
        deps = [(0, i) for i in range(1, p.dependants + 1)]
    numbers = [(f"{base}-D{pos}-{check_digit(f'{base}-D{pos}')}", i) for i, pos in deps]
    payload = {"evisa_number": number, "dependants": [n for n, _ in numbers]}
    return RawFx({"evisa_number": number}, payload, evisa_numbers=numbers if p.full else [])


RAW_EFFECTS: dict[str, Callable[[RawDB, Any, Step, RawPlan], RawFx]] = {
    "submit": _fx_submit,
    "issue_file_number": _fx_file_number,
    "request_documents": _fx_request_documents,
    "receive_documents": _fx_receive_documents,
    "shortlist": _fx_shortlist,
    "allot_quota": _fx_allot_quota,
    "record_mainland_consent": _fx_consent,
    "pay_fee": _fx_pay_fee,
    "issue_evisa": _fx_evisa,
}


def raw_transition(db: RawDB, case_id: int, step: Step, p: RawPlan) -> int:
    """One transition as plain statements in one transaction; returns the new version."""
    db.begin()
    try:
        row = db.one(SQL_LOCK_CASE if db.dialect == "postgresql" else SQL_CASE, (case_id,))
        version, from_state = row["version"], row["state"]
        to_state = p.dests[step.trigger]
        if p.full and step.trigger in FOUR_EYES_LATER:
            db.all(SQL_ACTS, (case_id, *WATCHED))
        fx = RAW_EFFECTS[step.trigger](db, row, step, p)
        if fx.quota and db.run(SQL_QUOTA_CLAIM, (p.today.year,)) != 1:
            raise RuntimeError("quota counter missing")
        if fx.new_documents:
            db.many(SQL_NEW_DOC, fx.new_documents)
        if fx.resolved:
            db.many(SQL_RESOLVE_DOC, fx.resolved)
        if fx.numbers:
            db.many(SQL_NUMBER_DEP, fx.numbers)
        if fx.evisa_numbers:
            db.many(SQL_EVISA_DEP, fx.evisa_numbers)
        seq = version + 1
        sets = dict(fx.updates)
        sets.update(state=to_state, version=seq, updated_at=p.at)
        if to_state != from_state:
            sets["state_since"] = p.at
        # the case digest, as Tx.commit_transition makes it (the same reads and encodings)
        after = {**row, **sets}
        deps = db.all(SQL_DEPENDANTS, (case_id,))
        if after["profile_digest"] is None:
            sets["profile_digest"] = after["profile_digest"] = profile_digest(after["profile"])
        if after["personal_digest"] is None:
            sets["personal_digest"] = after["personal_digest"] = personal_digest(
                row["privacy_salt"], after, deps
            )
        parts = case_parts(after, deps, db.all(SQL_DOCS, (case_id,)), trust_columns=True)
        body = {
            "case_id": case_id,
            "version": seq,
            "trigger": step.trigger,
            "from_state": from_state,
            "to_state": to_state,
            "actor": ACTORS[step.role],
            "role": step.role,
            "reason": None,
            "reason_code": None,
            "payload": fx.payload,
            "at": p.at,
        }
        hrow = {
            "case_id": case_id,
            "seq": seq,
            "from_state": from_state,
            "to_state": to_state,
            "trigger": step.trigger,
            "actor": ACTORS[step.role],
            "role": step.role,
            "reason": None,
            "note": None,
            "payload": canonical_json(fx.payload),
            "at": p.at,
            "workflow": row["workflow"],
            "ruleset": fx.updates.get("ruleset", row["ruleset"]),
            "case_digest": case_digest(parts),
            "outbox_digest": outbox_digest(
                [("case.transitioned", step.trigger, body)], row["privacy_salt"]
            ),
            "key_id": None,
        }
        prev = row["head_hash"]
        digest = row_hash(prev, hrow, None, row["privacy_salt"])
        sets["head_hash"] = digest
        columns = tuple(sorted(sets))
        values = [db.json(sets[c]) if c in JSON_COLUMNS else sets[c] for c in columns]
        if db.run(cas_sql(columns), (*values, case_id, version)) != 1:
            raise RuntimeError(f"conflict on case {case_id}")
        history_id = db.insert(
            SQL_HISTORY,
            (*[hrow[c] for c in HISTORY_ORDER], prev, digest, *[hrow[c] for c in HISTORY_TAIL]),
        )
        body["history_id"] = history_id
        db.insert(
            SQL_OUTBOX,
            (
                case_id,
                history_id,
                "case.transitioned",
                step.trigger,
                json.dumps(body, sort_keys=True),
                "pending",
                0,
                p.at,
            ),
        )
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return seq


def run_raw(db: RawDB, n: int, steps: Sequence[Step], plan: RawPlan, tick: Tick, label: str) -> Run:
    def lifecycle_of(case_id: int) -> None:
        for s in steps:
            raw_transition(db, case_id, s, plan)

    lifecycle_of(n + 1)  # warm-up, like the engine's
    try:
        return timed(label, n, len(steps), tick, lifecycle_of)
    finally:
        db.close()


# --- checks after the runs (not timed) -------------------------------------------------------
@dataclass
class Outcome:
    cases: int
    history_rows: int
    in_final_state: int
    heads_digest: str
    dependants_digest: str  # every dependant's file and e-Visa numbers


def outcome(store: Store, final_state: str) -> Outcome:
    digest = hashlib.sha256()
    with store.read() as tx:
        rows = tx.conn.execute(select(app_t.c.id, app_t.c.head_hash).order_by(app_t.c.id))
        cases = 0
        for case_id, head in rows:
            digest.update(f"{case_id}:{head};".encode())
            cases += 1
        history = tx.conn.execute(select(func.count()).select_from(hist_t)).scalar_one()
        final = tx.conn.execute(
            select(func.count()).select_from(app_t).where(app_t.c.state == final_state)
        ).scalar_one()
        numbers = hashlib.sha256()
        deps = select(dep_t.c.id, dep_t.c.file_number, dep_t.c.evisa_number).order_by(dep_t.c.id)
        for dep_id, file_number, evisa_number in tx.conn.execute(deps):
            numbers.update(f"{dep_id}:{file_number}:{evisa_number};".encode())
    return Outcome(cases, int(history), int(final), digest.hexdigest(), numbers.hexdigest())


def verify_chain(store: Store) -> str:
    from states.audit import verify

    report = verify(store)
    return "ok" if report.ok else f"BROKEN: {report.problems[0]}"


# --- the run ---------------------------------------------------------------------------------
@dataclass
class Options:
    cases: int
    url: str | None
    engine: bool
    raw: bool
    core: bool
    variant: str
    json: bool
    verify: bool
    profile: bool
    keep: bool
    progress: bool
    async_commit: bool


def progress_bar(
    enabled: bool, total: int
) -> tuple[AbstractContextManager[Any], Callable[[str], Tick]]:
    if not enabled:
        return nullcontext(), lambda _label: lambda _n: None
    bar = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("cases"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )

    def task(label: str) -> Tick:
        tid = bar.add_task(label, total=total)
        return lambda k: bar.advance(tid, k)

    return bar, task


def same_evisa_draws() -> None:
    """e-Visa numbers carry a random part (`workflows.effects.evisa_serial`): each run draws it
    from the same seeded generator, in the same order of cases, so that the engine's numbers
    and hash chains can be compared with the raw path's. Drawing costs the same either way."""
    effects.draw_bits = random.Random(20231).getrandbits


def bench(o: Options) -> dict[str, Any]:
    target = make_target(o.url, o.keep, o.async_commit)
    steps = lifecycle(o.variant, fee_due(o.variant))
    final = steps[-1].trigger
    final_state = "evisa_issued" if final == "issue_evisa" else final
    n_db = o.cases + 1  # one more case for the untimed warm-up
    stores: dict[str, Store] = {}
    runs: dict[str, Run] = {}
    outcomes: dict[str, Outcome] = {}
    chain = None
    try:
        template: Template | None = None
        setup_started = time.perf_counter()
        for name, wanted in (("engine", o.engine), ("raw", o.raw), ("core", o.core)):
            if wanted:
                stores[name], template = prepared_store(target, name, template, n_db, o.variant)
        setup_seconds = time.perf_counter() - setup_started
        bar, task = progress_bar(o.progress, o.cases)
        with bar:
            if o.engine:
                same_evisa_draws()
                runs["engine"] = run_engine(
                    stores["engine"], o.cases, steps, task("engine"), o.profile
                )
            label = "raw sqlite3" if target.dialect == "sqlite" else "raw psycopg"
            if o.raw:
                same_evisa_draws()
                runs["raw"] = run_raw(
                    target.raw_connect("raw"),
                    o.cases,
                    steps,
                    raw_plan(True, o.variant),
                    task(label),
                    label,
                )
            if o.core:
                same_evisa_draws()
                runs["core"] = run_raw(
                    target.raw_connect("core"),
                    o.cases,
                    steps,
                    raw_plan(False, o.variant),
                    task(f"{label} (core)"),
                    f"{label}, core statements only",
                )
        for name in ("engine", "raw"):
            if name in stores:
                outcomes[name] = outcome(stores[name], final_state)
        if o.verify and "engine" in stores:
            chain = verify_chain(stores["engine"])
    finally:
        for store in stores.values():
            store.dispose()
        target.cleanup()

    return report(o, target, steps, runs, outcomes, chain, setup_seconds, n_db)


def report(
    o: Options,
    target: Target,
    steps: Sequence[Step],
    runs: dict[str, Run],
    outcomes: dict[str, Outcome],
    chain: str | None,
    setup_seconds: float,
    n_db: int,
) -> dict[str, Any]:
    floor, max_ratio = TARGETS[target.dialect]
    checks: list[dict[str, Any]] = []
    engine, raw = runs.get("engine"), runs.get("raw")
    ratio = raw.per_second / engine.per_second if engine and raw and engine.per_second else None
    if engine:
        checks.append(
            {
                "check": f"engine >= {floor:,.0f} transitions/s",
                "value": round(engine.per_second, 1),
                "ok": engine.per_second >= floor,
            }
        )
    if ratio is not None:
        checks.append(
            {
                "check": f"raw/engine <= {max_ratio:g}",
                "value": round(ratio, 2),
                "ok": ratio <= max_ratio,
            }
        )
    expected_rows = len(steps) * n_db
    for name, out in outcomes.items():
        ok = out.history_rows == expected_rows and out.in_final_state == out.cases == n_db
        checks.append(
            {
                "check": f"{name}: {n_db:,} cases ended {steps[-1].trigger}, "
                f"{expected_rows:,} history rows",
                "value": out.history_rows,
                "ok": ok,
            }
        )
    if "engine" in outcomes and "raw" in outcomes:
        same = outcomes["engine"].heads_digest == outcomes["raw"].heads_digest
        checks.append(
            {"check": "raw wrote the same hash chains as the engine", "value": same, "ok": same}
        )
        same = outcomes["engine"].dependants_digest == outcomes["raw"].dependants_digest
        checks.append(
            {
                "check": "raw wrote the same dependants' numbers as the engine",
                "value": same,
                "ok": same,
            }
        )
    if chain is not None:
        checks.append(
            {"check": "engine history chain verifies", "value": chain, "ok": chain == "ok"}
        )
    return {
        "database": target.dialect,
        "url": _redacted(target.base_url) if target.dialect == "postgresql" else "temp file",
        "synchronous_commit": "off (diagnostic)" if target.async_commit else "default",
        "cases": o.cases,
        "variant": o.variant,
        "transitions_per_case": len(steps),
        "lifecycle": [s.trigger for s in steps],
        "setup_seconds": round(setup_seconds, 2),
        "runs": {name: run.to_json() for name, run in runs.items()},
        "ratio_raw_over_engine": None if ratio is None else round(ratio, 2),
        # CPU seconds of this process per transition, engine over raw: steadier than wall time
        # on a loaded machine (on PostgreSQL it leaves out the server's share).
        "cpu_ratio_engine_over_raw": (
            round(engine.cpu_seconds / raw.cpu_seconds, 2)
            if engine and raw and raw.cpu_seconds
            else None
        ),
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
        "machine": machine(target),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def _redacted(url: str) -> str:
    return sqlalchemy.make_url(url).render_as_string(hide_password=True)


def machine(target: Target) -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    if target.dialect == "postgresql":
        import psycopg

        info["psycopg"] = psycopg.__version__
        with _admin(target.base_url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgresql"] = row[0] if row else "?"
    return info


def print_report(r: dict[str, Any]) -> None:
    console = Console()
    title = (
        f"{r['cases']:,} cases × {r['transitions_per_case']} transitions "
        f"({r['variant']}) on {r['database']}"
    )
    if r["synchronous_commit"] != "default":
        title += f", synchronous_commit {r['synchronous_commit']}"
    table = Table(title=title)
    table.add_column("run")
    for col in ("transitions", "seconds", "per second", "µs each", "CPU s", "RSS growth", "peak"):
        table.add_column(col, justify="right")
    for run in r["runs"].values():
        table.add_row(
            run["label"],
            f"{run['transitions']:,}",
            f"{run['seconds']:.2f}",
            f"{run['per_second']:,.0f}",
            f"{run['us_per_transition']:,.0f}",
            f"{run['cpu_seconds']:.2f}",
            mib(run["rss_growth"]),
            mib(run["peak_after"]),
        )
    console.print(table)
    if r["ratio_raw_over_engine"] is not None:
        console.print(
            f"ratio raw/engine: {r['ratio_raw_over_engine']:.2f}× (wall); CPU time of this "
            f"process, engine/raw: {r['cpu_ratio_engine_over_raw']:.2f}×"
        )
    for c in r["checks"]:
        console.print(
            f"{'PASS' if c['ok'] else 'FAIL'}  {c['check']}  ({c['value']})",
            highlight=False,
            markup=False,
        )
    m = r["machine"]
    extra = f", PostgreSQL {m['postgresql']}, psycopg {m['psycopg']}" if "postgresql" in m else ""
    console.print(
        f"machine: {m['nproc']} CPUs, Python {m['python']}, SQLite {m['sqlite']}, "
        f"SQLAlchemy {m['sqlalchemy']}{extra}; load average {m['loadavg']}; {m['platform']}; "
        f"{r['date']}; "
        f"setup {r['setup_seconds']:.1f} s (not timed)",
        highlight=False,
        markup=False,
    )


# --- RSS check: two processes, a small and a large N -----------------------------------------
def rss_check(sizes: Sequence[int], url: str | None, variant: str, as_json: bool) -> dict[str, Any]:
    results = []
    for n in sizes:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--cases",
            str(n),
            "--engine-only",
            "--json",
            "--no-verify",
            "--variant",
            variant,
        ]
        if url:
            cmd += ["--database-url", url]
        print(f"rss-check: {n:,} cases in a fresh process…", file=sys.stderr)
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
        r = json.loads(done.stdout)
        e = r["runs"]["engine"]
        results.append(
            {
                "cases": n,
                "per_second": e["per_second"],
                "rss_before": e["rss_before"],
                "rss_after": e["rss_after"],
                "rss_growth": e["rss_growth"],
                "peak_before": e["peak_before"],
                "peak_after": e["peak_after"],
                "peak_growth": e["peak_growth"],
                "rss_samples": e["rss_samples"],
            }
        )
    small, large = results[0], results[-1]
    ok = large["rss_growth"] <= max(small["rss_growth"], 0) + RSS_TOLERANCE
    out = {
        "database": "postgresql" if url and "postgres" in url else "sqlite",
        "runs": results,
        "check": f"RSS growth during the timed phase at {large['cases']:,} cases <= "
        f"growth at {small['cases']:,} + {mib(RSS_TOLERANCE)}",
        "ok": ok,
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    if not as_json:
        console = Console()
        table = Table(title="RSS during the timed phase (engine only, one process per N)")
        for col in (
            "cases",
            "per second",
            "RSS before",
            "RSS after",
            "growth",
            "peak before",
            "peak after",
            "peak growth",
        ):
            table.add_column(col, justify="right")
        for x in results:
            table.add_row(
                f"{x['cases']:,}",
                f"{x['per_second']:,.0f}",
                mib(x["rss_before"]),
                mib(x["rss_after"]),
                mib(x["rss_growth"]),
                mib(x["peak_before"]),
                mib(x["peak_after"]),
                mib(x["peak_growth"]),
            )
        console.print(table)
        console.print(f"{'PASS' if ok else 'FAIL'}  {out['check']}", highlight=False, markup=False)
    return out


# --- command line ----------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Committed transitions per second: workflows.advance vs raw DB-API.",
    )
    p.add_argument("--cases", type=int, default=2000, help="cases to advance (default 2000)")
    p.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL (default: $QMAS_DATABASE_URL if it is PostgreSQL, else SQLite "
        "files in a temp folder); the bench works in fresh schemas bench_<random>_*",
    )
    only = p.add_mutually_exclusive_group()
    only.add_argument("--raw-only", action="store_true", help="only the raw baselines")
    only.add_argument("--engine-only", action="store_true", help="only workflows.advance")
    p.add_argument("--no-core", action="store_true", help="skip the core-statements raw run")
    p.add_argument(
        "--variant",
        choices=("overseas", "mainland"),
        default="overseas",
        help="overseas: 6 transitions a case; mainland: 9 (documents, consent letter)",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--no-verify", action="store_true", help="skip `qmas audit verify` afterwards")
    p.add_argument("--profile", action="store_true", help="cProfile the engine run (stderr)")
    p.add_argument("--keep", action="store_true", help="keep the bench databases")
    p.add_argument(
        "--pg-async-commit",
        action="store_true",
        help="diagnostic, not durable: synchronous_commit=off for the engine and raw sessions, "
        "to see the client-side cost when the server's fsync dominates",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    p.add_argument(
        "--rss-check",
        action="store_true",
        help="run the engine with a small and a large N in two fresh processes and compare "
        "the RSS growth of their timed phases",
    )
    p.add_argument(
        "--rss-cases",
        default="1000,100000",
        help="the N of --rss-check, comma-separated (default 1000,100000)",
    )
    args = p.parse_args(argv)
    if args.cases < 1:
        p.error("--cases must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.database_url
    env_url = os.environ.get("QMAS_DATABASE_URL", "")
    if url is None and env_url.startswith(("postgres://", "postgresql")):
        url = env_url
    if args.rss_check:
        sizes = [int(x) for x in args.rss_cases.split(",") if x.strip()]
        r = rss_check(sizes, url, args.variant, args.json)
    else:
        opts = Options(
            cases=args.cases,
            url=url,
            engine=not args.raw_only,
            raw=not args.engine_only,
            core=not args.engine_only and not args.no_core,
            variant=args.variant,
            json=args.json,
            verify=not args.no_verify,
            profile=args.profile,
            keep=args.keep,
            async_commit=args.pg_async_commit,
            progress=not args.no_progress and sys.stderr.isatty(),
        )
        r = bench(opts)
        if not args.json:
            print_report(r)
    if args.json:
        print(json.dumps(r, indent=2))
    return 1 if args.strict and not r["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
