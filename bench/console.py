#!/usr/bin/env python
"""Page times of the staff console over HTTP, on a database of 100,000 cases.

Setup (not timed): a fresh SQLite file holding N cases (default 100,000) and about six history
rows each (~600,000), written in bulk. A handful of template cases are made and moved by the
engine itself (`workflows.create_case`, `workflows.advance`: every state a case commonly sits
in, overseas and Mainland), then cloned with raw ``sqlite3`` ``executemany``: each clone gets
its own id, travel document, file numbers (its dependants' too), e-Visa number, deadline
(spread over three months) and a history whose hash chain is recomputed for it
(`states.chain.row_hash`, so it verifies row by row; the case digests in it still describe the
template). Open cases are assigned round-robin to 50 caseworkers (``bench.officer01``…), and
each assignment is recorded in ``case_assignments``. The pages only read.

Timed: ``qmas serve`` (uvicorn) in a child process on 127.0.0.1, under a clock pinned to
1 June 2023 that keeps ticking; one ``httpx.Client`` logged in through the login form
(``bench.officer01``, a caseworker), sequential requests, each timed in the client from
sending to the whole body read (loopback: wall time per request ≈ the server's time). After
10 warm-up requests per page, R requests (default 200) of each of:

* the case page ``/cases/{file number}``, over R different cases picked at random;
* "my work" ``/work`` (the officer's ~430 cases, overdue first, and the queue counts);
* a queue page ``/queues/{state}``, the largest open queue.

    python bench/console.py                      # 100,000 cases, 200 requests a page
    python bench/console.py --cases 20000 --requests 100
    python bench/console.py --keep               # keep the SQLite file (path on stderr)

Prints a table and, last, one JSON line. Target: p95 ≤ 50 ms for each page (PASS/FAIL lines;
``--strict`` exits 1 when one fails). A ``Server-Timing`` header, when the server sends one,
is reported beside the client's time.
"""

# ruff: noqa: E402  (the repository root goes on sys.path before the project imports)

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx
import time_machine

from states.accounts import Accounts
from states.chain import row_hash
from states.credentials import hash_password
from states.store import Store
from workflows import advance, create_case, samples
from workflows.clock import HK
from workflows.rules import fee_due_at

NOW = datetime(2023, 6, 1, 10, 0, tzinfo=HK)
AT = "2023-01-01T00:00:00Z"
PASSWORD = "bench console password"
OFFICERS = 50
TARGET_P95_MS = 50.0
WARM_UP = 10
CONSENT = "Exit-entry Administration, Guangdong; ref. GD-2023-0001"
DOCUMENTS = ["police_certificate", "employment_proof"]

# --- the templates: (name, variant, steps, share of the cases) ----------------------------------
# A step is (trigger, role, data); "fee" in data is filled with the family's fee. The shares
# give about six history rows a case (the 100,000 cases and ~600,000 rows).
Step = tuple[str, str, dict[str, Any] | None]
_START: list[Step] = [("submit", "applicant", None), ("issue_file_number", "system", None)]
_DOCS: list[Step] = [("request_documents", "caseworker", {"documents": DOCUMENTS})]
_RECEIVED: list[Step] = [
    ("record_documents", "caseworker", {"received": ["police_certificate"]}),
    ("receive_documents", "caseworker", {"received": ["employment_proof"]}),
]
_PAY: list[Step] = [("pay_fee", "applicant", {"fee": True})]
TEMPLATES: list[tuple[str, str, list[Step], float]] = [
    ("file_number_issued", "overseas", _START, 0.05),
    ("documents_requested", "mainland", _START + _DOCS, 0.07),
    ("shortlisted", "overseas", [*_START, ("shortlist", "caseworker", None)], 0.10),
    (
        "quota_allotted",
        "overseas",
        [*_START, ("shortlist", "caseworker", None), ("allot_quota", "committee", None)],
        0.05,
    ),
    (
        "fee_paid",
        "overseas",
        [
            *_START,
            ("shortlist", "caseworker", None),
            ("allot_quota", "committee", None),
            *_PAY,
        ],
        0.05,
    ),
    (
        "evisa_issued",
        "overseas",
        [
            *_START,
            ("shortlist", "caseworker", None),
            ("allot_quota", "committee", None),
            *_PAY,
            ("issue_evisa", "supervisor", None),
        ],
        0.33,
    ),
    (
        "evisa_issued (Mainland, documents)",
        "mainland",
        [
            *_START,
            *_DOCS,
            *_RECEIVED,
            ("shortlist", "caseworker", None),
            ("allot_quota", "committee", None),
            ("record_mainland_consent", "caseworker", {"consent_letter": CONSENT}),
            *_PAY,
            ("issue_evisa", "supervisor", None),
        ],
        0.30,
    ),
    (
        "refused",
        "overseas",
        [
            *_START,
            ("shortlist", "caseworker", None),
            ("refuse", "committee", None),
        ],
        0.05,
    ),
]
ACTORS = {
    "applicant": "bench.counter",
    "system": "system",
    "caseworker": "bench.officer01",
    "supervisor": "bench.supervisor",
    "committee": "bench.committee",
}
ROLES = {
    "bench.counter": ("caseworker",),
    "bench.supervisor": ("supervisor",),
    "bench.committee": ("committee",),
    **{f"bench.officer{n:02d}": ("caseworker",) for n in range(1, OFFICERS + 1)},
}


def application_file(variant: str, k: int) -> dict[str, Any]:
    mainland = variant == "mainland"
    return {
        "applicant": {
            "name": "CHAN Tai Man" if mainland else "Emily WATSON",
            "date_of_birth": "1990-04-12",
            "nationality": "CN" if mainland else "GB",
            "mainland_resident": mainland,
            "email": "applicant@example.com",
            "language": "zh-HK" if mainland else "en",
            "travel_document_number": f"T{k:08d}",
        },
        "dependants": [
            {"name": "LI Mei", "relation": "spouse", "date_of_birth": "1991-02-03"},
            {"name": "CHAN Siu Ming", "relation": "child", "date_of_birth": "2018-09-30"},
        ],
        "declaration_signed": True,
        "profile": samples.profile(),
    }


# --- setup -------------------------------------------------------------------------------------
def make_templates(url: str) -> list[int]:
    """One case per template, made and moved by the engine in the bench database; their ids."""
    store = Store(url)
    store.init()
    accounts = Accounts(store)
    accounts.ensure_system(AT)
    hashed = hash_password(PASSWORD)
    for username, roles in ROLES.items():
        accounts.add(username, roles, by="bench", at=AT)
        accounts.set_password(username, hashed, by="bench", at=AT)
    ids = []
    with time_machine.travel(NOW, tick=False):
        for k, (_, variant, steps, _) in enumerate(TEMPLATES):
            data = application_file(variant, k)
            case_id = create_case(data, store=store, now=NOW)
            for trigger, role, given in steps:
                payload = given
                if given and given.get("fee"):
                    payload = {
                        "amount": fee_due_at(NOW, 1 + len(data["dependants"])),
                        "method": "fps",
                    }
                reason_code = "not_selected" if trigger == "refuse" else None
                advance(
                    case_id, trigger, ACTORS[role], role, data=payload, store=store,
                    reason_code=reason_code,
                )  # fmt: skip
            ids.append(case_id)
    store.dispose()
    return ids


def _rows(db: sqlite3.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    cur = db.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _insert(db: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    db.executemany(sql, [tuple(r[c] for c in cols) for r in rows])


@dataclass
class Seeded:
    cases: int = 0
    history: int = 0
    dependants: int = 0
    documents: int = 0
    assigned: int = 0
    by_state: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def seed(path: Path, n: int, chunk: int = 5000) -> Seeded:
    """Clone the template cases into cases 1..n (the templates themselves are removed)."""
    started = time.perf_counter()
    template_ids = make_templates(f"sqlite:///{path}")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    t_cases, t_deps, t_hist, t_docs = [], [], [], []
    for tid in template_ids:
        t_cases.append(_rows(db, "SELECT * FROM applications WHERE id = ?", tid)[0])
        t_deps.append(_rows(db, "SELECT * FROM dependants WHERE application_id = ?", tid))
        t_hist.append(_rows(db, "SELECT * FROM history WHERE case_id = ? ORDER BY seq", tid))
        t_docs.append(_rows(db, "SELECT * FROM document_requests WHERE case_id = ?", tid))
    db.execute("BEGIN")
    for table in (
        "history",
        "dependants",
        "document_requests",
        "outbox",
        "delivery_attempts",
        "deliveries",
    ):
        db.execute(f"DELETE FROM {table}")
    db.execute("DELETE FROM case_assignments")
    db.execute("DELETE FROM applications")
    db.execute("COMMIT")

    rng = random.Random(11)
    weights = [share for *_, share in TEMPLATES]
    out = Seeded()
    hist_id = dep_id = doc_id = assign_id = 0
    officer = 0
    for start in range(1, n + 1, chunk):
        cases, deps, hist, docs, assigns = [], [], [], [], []
        for i in range(start, min(n, start + chunk - 1) + 1):
            k = rng.choices(range(len(TEMPLATES)), weights)[0]
            case = dict(t_cases[k])
            number = f"QM2023-{i:06d}"
            shift = timedelta(days=(i * 7919) % 90 - 30)
            case.update(
                id=i,
                file_number=number,
                travel_document_number=f"B{i:09d}",
                personal_digest=None,
                assignee=None,
            )
            if case["evisa_number"]:
                case["evisa_number"] = f"EV{i:010d}"
            if case["deadline"]:
                case["deadline"] = (date.fromisoformat(case["deadline"]) + shift).isoformat()
            open_case = case["state"] not in ("evisa_issued", "refused", "withdrawn", "lapsed")
            if open_case and i % 3:  # two open cases in three are someone's
                officer = officer % OFFICERS + 1
                case["assignee"] = f"bench.officer{officer:02d}"
                assign_id += 1
                assigns.append(
                    {"id": assign_id, "case_id": i, "assignee": case["assignee"],
                     "action": "assign", "by": "bench.supervisor", "at": case["updated_at"]}
                )  # fmt: skip
            prev = ""
            for row in t_hist[k]:
                hist_id += 1
                r = {**row, "id": hist_id, "case_id": i, "prev_hash": prev}
                r["hash"] = prev = row_hash(prev, r, salt=case.get("privacy_salt"))
                hist.append(r)
            case["head_hash"] = prev
            for p, d in enumerate(t_deps[k], start=1):
                dep_id += 1
                deps.append(
                    {**d, "id": dep_id, "application_id": i,
                     "file_number": f"{number}-D{p}" if d["file_number"] else None,
                     "evisa_number": f"EV{i:010d}{p}" if d["evisa_number"] else None}
                )  # fmt: skip
            for d in t_docs[k]:
                doc_id += 1
                docs.append({**d, "id": doc_id, "case_id": i})
            cases.append(case)
            out.by_state[case["state"]] += 1
        db.execute("BEGIN")
        _insert(db, "applications", cases)
        _insert(db, "dependants", deps)
        _insert(db, "history", hist)
        _insert(db, "document_requests", docs)
        _insert(db, "case_assignments", assigns)
        db.execute("COMMIT")
        out.cases += len(cases)
        out.history += len(hist)
        out.dependants += len(deps)
        out.documents += len(docs)
        out.assigned += len(assigns)
        print(f"seeded {out.cases:,} cases, {out.history:,} history rows", file=sys.stderr)
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    out.seconds = time.perf_counter() - started
    return out


# --- the server --------------------------------------------------------------------------------
_CHILD = """
import sys, time_machine
from datetime import datetime
with time_machine.travel(datetime.fromisoformat(sys.argv[2]), tick=True):
    from console.cli import main
    main(["serve", "--host", "127.0.0.1", "--port", sys.argv[1]])
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(url: str, log: Path) -> Iterator[str]:
    """``qmas serve`` in a child process under the pinned clock; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "QMAS_DATABASE_URL": url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PYTHONPATH": str(ROOT),
    }
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(port), NOW.isoformat()],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if child.poll() is not None:
                    raise SystemExit(f"the server ended:\n{log.read_text()}")
                try:
                    if httpx.get(base + "/login", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not answer within 60 s")
                time.sleep(0.05)
            yield base
        finally:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def log_in(client: httpx.Client, username: str) -> None:
    form = client.get("/login")
    found = _CSRF.search(form.text)
    if found is None:
        raise SystemExit("no csrf_token on the login form")
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": found.group(1),
              "next": "/work"},
    )  # fmt: skip
    if answer.status_code != 303 or "qmas_session" not in client.cookies:
        raise SystemExit(f"login failed: {answer.status_code} {answer.text[:300]}")


# --- measuring ---------------------------------------------------------------------------------
_DUR = re.compile(r"dur=([0-9.]+)")


@dataclass
class Page:
    name: str
    path: str
    times_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)  # from Server-Timing, if sent
    bytes: int = 0

    def pct(self, values: list[float], q: float) -> float | None:
        if not values:
            return None
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    def to_json(self) -> dict[str, Any]:
        t = self.times_ms
        return {
            "page": self.name,
            "path": self.path,
            "requests": len(t),
            "p50_ms": _r(self.pct(t, 50)),
            "p95_ms": _r(self.pct(t, 95)),
            "p99_ms": _r(self.pct(t, 99)),
            "max_ms": _r(max(t) if t else None),
            "mean_ms": _r(statistics.fmean(t) if t else None),
            "server_timing_p50_ms": _r(self.pct(self.server_ms, 50)),
            "server_timing_p95_ms": _r(self.pct(self.server_ms, 95)),
            "bytes_mean": round(self.bytes / len(t)) if t else 0,
            "ok": bool(t) and (self.pct(t, 95) or 0) <= TARGET_P95_MS,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def measure(client: httpx.Client, page: Page, paths: Sequence[str]) -> None:
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)
        body = answer.content
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code}\n{answer.text[:500]}")
        page.times_ms.append(elapsed)
        page.bytes += len(body)
        timing = answer.headers.get("server-timing")
        if timing:
            page.server_ms.append(sum(float(x) for x in _DUR.findall(timing)))


@dataclass
class Options:
    cases: int
    requests: int
    keep: bool
    seed: int


def bench(o: Options) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="qmas-bench-console-"))
    path = folder / "console.db"
    try:
        seeded = seed(path, o.cases)
        largest = max(
            (s for s in seeded.by_state if s not in ("evisa_issued", "refused")),
            key=lambda s: seeded.by_state[s],
        )
        rng = random.Random(o.seed)
        refs = [f"/cases/QM2023-{rng.randint(1, o.cases):06d}" for _ in range(o.requests)]
        pages = [
            Page("case page", "/cases/{file number}"),
            Page("my work", "/work"),
            Page("queue", f"/queues/{largest}"),
        ]
        plans = [refs, ["/work"] * o.requests, [f"/queues/{largest}"] * o.requests]
        load_before = os.getloadavg()
        with (
            server(f"sqlite:///{path}", folder / "server.log") as base,
            httpx.Client(base_url=base, timeout=60) as client,
        ):
            log_in(client, "bench.officer01")
            for page, plan in zip(pages, plans, strict=True):
                warm = Page(page.name, page.path)
                measure(client, warm, plan[:WARM_UP])
                measure(client, page, plan)
        load_after = os.getloadavg()
        results = [p.to_json() for p in pages]
        return {
            "bench": "console",
            "cases": seeded.cases,
            "history_rows": seeded.history,
            "dependants": seeded.dependants,
            "document_requests": seeded.documents,
            "assigned": seeded.assigned,
            "officer_cases": seeded.assigned // OFFICERS,
            "by_state": dict(seeded.by_state.most_common()),
            "setup_seconds": round(seeded.seconds, 1),
            "database_bytes": path.stat().st_size,
            "requests_per_page": o.requests,
            "pages": results,
            "target_p95_ms": TARGET_P95_MS,
            "ok": all(r["ok"] for r in results),
            "machine": {
                "nproc": os.cpu_count(),
                "python": platform.python_version(),
                "sqlite": sqlite3.sqlite_version,
                "platform": platform.platform(),
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in load_after],
            },
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
    finally:
        if o.keep:
            print(f"kept the bench database: {path}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def print_report(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"Console pages over HTTP: {r['cases']:,} cases, {r['history_rows']:,} history "
        f"rows, {r['requests_per_page']} requests a page (client time, ms)"
    )
    for col in ("page", "path", "p50", "p95", "p99", "max", "mean", "Server-Timing p95", "KiB"):
        table.add_column(col, justify="left" if col in ("page", "path") else "right")
    for p in r["pages"]:
        st = p["server_timing_p95_ms"]
        table.add_row(
            p["page"], p["path"], f"{p['p50_ms']:.1f}", f"{p['p95_ms']:.1f}",
            f"{p['p99_ms']:.1f}", f"{p['max_ms']:.1f}", f"{p['mean_ms']:.1f}",
            "-" if st is None else f"{st:.1f}", f"{p['bytes_mean'] / 1024:.1f}",
        )  # fmt: skip
    console.print(table)
    for p in r["pages"]:
        verdict = "PASS" if p["ok"] else "FAIL"
        console.print(
            f"{verdict}  {p['page']}: p95 {p['p95_ms']:.1f} ms <= {r['target_p95_ms']:.0f} ms",
            highlight=False,
            markup=False,
        )
    m = r["machine"]
    console.print(
        f"machine: {m['nproc']} CPUs, Python {m['python']}, SQLite {m['sqlite']}; load average "
        f"{m['loadavg_before']} → {m['loadavg_after']}; {m['platform']}; {r['date']}; setup "
        f"{r['setup_seconds']:.0f} s (not timed), database {r['database_bytes'] / 2**20:.0f} MiB; "
        f"my work of bench.officer01: ~{r['officer_cases']:,} cases",
        highlight=False,
        markup=False,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Console page times over HTTP on a large database.")
    p.add_argument("--cases", type=int, default=100_000, help="cases to seed (default 100000)")
    p.add_argument("--requests", type=int, default=200, help="timed requests a page (default 200)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the case pages picked")
    p.add_argument("--keep", action="store_true", help="keep the SQLite file")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)
    if args.cases < len(TEMPLATES) or args.requests < 1:
        p.error(f"--cases must be at least {len(TEMPLATES)} and --requests at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    r = bench(Options(args.cases, args.requests, args.keep, args.seed))
    print_report(r)
    print(json.dumps(r, separators=(",", ":")))
    return 1 if args.strict and not r["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
