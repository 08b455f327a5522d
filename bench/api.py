#!/usr/bin/env python
"""Transitions over HTTP: the REST API under uvicorn against the in-process engine.

Setup (not timed): a fresh SQLite file holds N overseas draft cases (``workflows.create_case``)
and, for each of C clients, three accounts with a bearer token each (``issue_token``: no
argon2): a caseworker, a supervisor and a committee member, so that no four-eyes rule refuses
a step. A second file holds the same cases for the in-process run. Then, timed:

* HTTP: C threads, each with its own ``httpx.Client`` (keep-alive), move their share of the
  cases through the lifecycle, one ``POST /api/v1/cases/{id}/transitions`` per step with
  ``If-Match``, against ``qmas serve`` (uvicorn, access log on) on 127.0.0.1. Each request's
  latency is measured in the client, from send to parsed answer.
* in-process: the same C threads, the same cases, accounts and steps, through
  ``workflows.advance`` (what the API calls; no HTTP, no token, no JSON).

Both runs happen under a clock pinned to 1 June 2023 10:00 HKT that keeps ticking
(time-machine; in the server's process too): 2023 rules, HK$230 a person, no application fee.
Afterwards every case must be at evisa_issued with 6 history rows, and the chains verify.

    python bench/api.py                      # 600 cases × 6 transitions, 8 clients
    python bench/api.py --cases 2000 --clients 16 --json
    python bench/api.py --server thread      # uvicorn in a thread of this process
    python bench/api.py --profile            # cProfile of the server's threads (stderr)

Targets (issue 9): HTTP ≥ 300 transitions/s, p95 latency ≤ 50 ms, in-process/HTTP ≤ 3.
By default the server is a child process (as in production: it does not share this process's
GIL with the clients); ``--strict`` exits 1 when a check fails.
"""

# ruff: noqa: E402  (the repository root goes on sys.path before the project imports)

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx
import sqlalchemy
import time_machine
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from states.accounts import Accounts
from states.models import applications as app_t
from states.models import history as hist_t
from states.store import Store
from workflows import advance, create_case, samples
from workflows.clock import HK, iso
from workflows.logins import issue_token
from workflows.rules import fee_due_at

NOW = datetime(2023, 6, 1, 10, 0, tzinfo=HK)
TARGET_PER_SECOND = 300.0
TARGET_P95_MS = 50.0
TARGET_RATIO = 3.0  # in-process transitions/s over HTTP transitions/s, at most


@dataclass(frozen=True)
class Step:
    trigger: str
    role: str
    who: str  # which of a client's accounts acts: "caseworker", "supervisor", "committee"
    data: dict[str, Any] | None = None


def lifecycle() -> list[Step]:
    """An overseas case from draft to e-Visa (6 transitions). The caseworker submits (as the
    applicant), issues the file number, shortlists and records the fee; the committee
    allots the quota; the supervisor issues the e-Visa: no four-eyes rule is broken."""
    fee = fee_due_at(NOW, 3)  # the applicant and two dependants
    return [
        Step("submit", "applicant", "caseworker"),
        Step("issue_file_number", "caseworker", "caseworker"),
        Step("shortlist", "caseworker", "caseworker"),
        Step("allot_quota", "committee", "committee"),
        Step("pay_fee", "caseworker", "caseworker", {"amount": fee, "method": "fps"}),
        Step("issue_evisa", "supervisor", "supervisor"),
    ]


def application_file(i: int) -> dict[str, Any]:
    return {
        "applicant": {
            "name": f"Emily WATSON {i}",
            "date_of_birth": "1990-04-12",
            "nationality": "GB",
            "mainland_resident": False,
            "email": f"applicant{i}@example.com",
            "language": "en",
            "travel_document_number": f"B{i:09d}",
        },
        "dependants": [
            {"name": "LI Mei", "relation": "spouse", "date_of_birth": "1991-02-03"},
            {"name": "CHAN Siu Ming", "relation": "child", "date_of_birth": "2018-09-30"},
        ],
        "declaration_signed": True,
        "profile": samples.profile(),
    }


# --- setup -----------------------------------------------------------------------------------
ROLES = ("caseworker", "supervisor", "committee")


def account(client: int, who: str) -> str:
    return f"bench.{who}{client:02d}"


def prepare(path: Path, cases: int, clients: int) -> tuple[list[int], dict[str, str]]:
    """A fresh database: the cases (ids 1..cases) and each client's accounts; returns the case
    ids and a bearer token per account."""
    store = Store(f"sqlite:///{path}")
    store.init()
    accounts = Accounts(store)
    tokens: dict[str, str] = {}
    for c in range(clients):
        for who in ROLES:
            name = account(c, who)
            accounts.add(name, [who], by="bench", at=iso(NOW))
            tokens[name] = issue_token(name, 30, by="bench", store=store, now=NOW).token
    ids = [create_case(application_file(i), store=store) for i in range(1, cases + 1)]
    store.dispose()
    return ids, tokens


# --- the server ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The server's process: `qmas serve` under the pinned clock (argv: port, NOW in ISO format).
_CHILD = """
import sys, time_machine
from datetime import datetime
with time_machine.travel(datetime.fromisoformat(sys.argv[2]), tick=True):
    from console.cli import main
    main(["serve", "--host", "127.0.0.1", "--port", sys.argv[1]])
"""


def process_cpu(pid: int | None = None) -> float:
    """CPU seconds (user + system) of this process, or of process ``pid`` (Linux /proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    base: str
    pid: int | None  # a child process, or None for a thread of this one


@contextmanager
def server_process(url: str, log: Path) -> Iterator[Server]:
    """``qmas serve`` in a child process (under the pinned clock), its log in ``log``."""
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
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base, lambda: child.poll() is None, log)
            yield Server(base, child.pid)
        finally:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


@contextmanager
def server_thread(url: str, profile: bool) -> Iterator[Server]:
    """uvicorn in a thread of this process (the clients share its GIL); with ``profile``,
    every thread the server runs code in is profiled and the stats go to stderr."""
    import logging

    import uvicorn

    from console.web.app import create_app

    logging.getLogger("qmas.api").setLevel(logging.WARNING)
    store = Store(url)
    port = free_port()
    config = uvicorn.Config(
        create_app(store),
        host="127.0.0.1",
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    profiler = Profiles() if profile else None
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    if profiler is not None:
        threading.setprofile(profiler.start_in_thread)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, thread.is_alive, None)
        yield Server(base, None)
    finally:
        server.should_exit = True
        thread.join(30)
        threading.setprofile(None)  # type: ignore[arg-type]
        store.dispose()
        if profiler is not None:
            profiler.report()


class Profiles:
    """One cProfile per thread started while profiling (the event loop, the worker threads)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def start_in_thread(self, frame: Any, event: str, arg: Any) -> None:
        sys.setprofile(None)
        if threading.current_thread().name.startswith("client"):
            return
        p = cProfile.Profile(time.thread_time)  # CPU time: waits for the GIL do not count
        with self.lock:
            self.profiles.append(p)
        p.enable()

    def report(self) -> None:
        for p in self.profiles:
            p.disable()
        stats = pstats.Stats(self.profiles[0], stream=sys.stderr)
        for p in self.profiles[1:]:
            stats.add(p)
        stats.sort_stats("tottime").print_stats(35)
        stats.sort_stats("cumulative").print_stats(50)


def wait_until_up(base: str, alive: Callable[[], bool], log: Path | None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not alive():
            raise SystemExit(f"the API server ended: {log.read_text() if log else ''}")
        try:
            if httpx.get(base + "/api/v1/openapi.json", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit("the API server did not answer within 60 s")


# --- the runs --------------------------------------------------------------------------------
@dataclass
class Run:
    label: str
    transitions: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_clients: float | None = None  # CPU seconds of this process during the run
    cpu_server: float | None = None  # CPU seconds of the server's process (a child)

    @property
    def per_second(self) -> float:
        return self.transitions / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def to_json(self) -> dict[str, Any]:
        p50, p95, p99 = self.percentile(0.50), self.percentile(0.95), self.percentile(0.99)
        return {
            "label": self.label,
            "transitions": self.transitions,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
            "p50_ms": None if p50 is None else round(p50, 2),
            "p95_ms": None if p95 is None else round(p95, 2),
            "p99_ms": None if p99 is None else round(p99, 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else None,
            "cpu_ms_per_transition_clients": _per(self.cpu_clients, self.transitions),
            "cpu_ms_per_transition_server": _per(self.cpu_server, self.transitions),
            "errors": self.errors[:5],
            "error_count": len(self.errors),
        }


def _per(cpu: float | None, transitions: int) -> float | None:
    return None if cpu is None or not transitions else round(cpu * 1000 / transitions, 3)


def shares(ids: Sequence[int], clients: int) -> list[list[int]]:
    return [list(ids[c::clients]) for c in range(clients)]


def run_threads(label: str, work: list[Callable[[Run], None]]) -> Run:
    """Run each callable in its own thread, all released at once; time the whole."""
    run = Run(label)
    parts = [Run(label) for _ in work]
    ready = threading.Barrier(len(work) + 1)

    def body(fn: Callable[[Run], None], part: Run) -> None:
        ready.wait()
        try:
            fn(part)
        except Exception as err:  # reported, never hidden
            part.errors.append(f"{type(err).__name__}: {err}")

    threads = [
        threading.Thread(target=body, args=(fn, part), name=f"client-{i}")
        for i, (fn, part) in enumerate(zip(work, parts, strict=True))
    ]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    run.seconds = time.perf_counter() - started
    for part in parts:
        run.transitions += part.transitions
        run.latencies_ms += part.latencies_ms
        run.errors += part.errors
    return run


def run_http(base: str, ids: Sequence[int], clients: int, tokens: dict[str, str]) -> Run:
    steps = lifecycle()

    def client_work(c: int, cases: list[int]) -> Callable[[Run], None]:
        bearer = {who: {"Authorization": f"Bearer {tokens[account(c, who)]}"} for who in ROLES}

        def work(part: Run) -> None:
            with httpx.Client(base_url=base + "/api/v1", timeout=60) as http:
                for case_id in cases:
                    for version, s in enumerate(steps):
                        body: dict[str, Any] = {"trigger": s.trigger, "role": s.role}
                        if s.data is not None:
                            body["data"] = s.data
                        headers = {**bearer[s.who], "If-Match": str(version)}
                        t0 = time.perf_counter()
                        r = http.post(f"/cases/{case_id}/transitions", json=body, headers=headers)
                        answer = r.json()
                        part.latencies_ms.append((time.perf_counter() - t0) * 1000)
                        if r.status_code != 200 or answer["version"] != version + 1:
                            part.errors.append(f"case {case_id} {s.trigger}: {r.status_code}")
                            break
                        part.transitions += 1

        return work

    return run_threads(
        f"HTTP ({clients} clients)",
        [client_work(c, share) for c, share in enumerate(shares(ids, clients))],
    )


def run_engine(url: str, ids: Sequence[int], clients: int) -> Run:
    store = Store(url)
    steps = lifecycle()

    def client_work(c: int, cases: list[int]) -> Callable[[Run], None]:
        def work(part: Run) -> None:
            for case_id in cases:
                for version, s in enumerate(steps):
                    t0 = time.perf_counter()
                    advance(
                        case_id,
                        s.trigger,
                        account(c, s.who),
                        s.role,
                        version,
                        data=s.data,
                        store=store,
                    )
                    part.latencies_ms.append((time.perf_counter() - t0) * 1000)
                    part.transitions += 1

        return work

    try:
        return run_threads(
            f"in-process ({clients} threads)",
            [client_work(c, share) for c, share in enumerate(shares(ids, clients))],
        )
    finally:
        store.dispose()


def outcome(url: str, cases: int) -> dict[str, Any]:
    from states.audit import verify

    store = Store(url)
    try:
        with store.read() as tx:
            done = tx.conn.execute(
                select(func.count()).select_from(app_t).where(app_t.c.state == "evisa_issued")
            ).scalar_one()
            rows = tx.conn.execute(select(func.count()).select_from(hist_t)).scalar_one()
        report = verify(store)
        return {
            "cases": cases,
            "evisa_issued": int(done),
            "history_rows": int(rows),
            "chain": "ok" if report.ok else f"BROKEN: {report.problems[0]}",
        }
    finally:
        store.dispose()


# --- the bench -------------------------------------------------------------------------------
@dataclass
class Options:
    cases: int
    clients: int
    server: str
    profile: bool
    engine: bool
    keep: bool


def warm_up(base: str, tokens: dict[str, str], case_id: int) -> None:
    """One case through its lifecycle, untimed: imports, compiled statements, pools."""
    bearer = {who: {"Authorization": f"Bearer {tokens[account(0, who)]}"} for who in ROLES}
    with httpx.Client(base_url=base + "/api/v1", timeout=60) as http:
        for s in lifecycle():
            body = {"trigger": s.trigger, "role": s.role, "data": s.data}
            r = http.post(f"/cases/{case_id}/transitions", json=body, headers=bearer[s.who])
            if r.status_code != 200:
                raise SystemExit(f"warm-up {s.trigger}: {r.status_code} {r.text}")


def warm_up_engine(url: str, case_id: int) -> None:
    store = Store(url)
    try:
        for s in lifecycle():
            advance(case_id, s.trigger, account(0, s.who), s.role, data=s.data, store=store)
    finally:
        store.dispose()


def bench(o: Options) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="qmas-bench-api-"))
    runs: dict[str, Run] = {}
    outcomes: dict[str, dict[str, Any]] = {}
    try:
        with time_machine.travel(NOW, tick=True):
            setup = time.perf_counter()
            http_ids, tokens = prepare(folder / "http.db", o.cases + 1, o.clients)
            engine_ids, _ = prepare(folder / "engine.db", o.cases + 1, o.clients)
            setup_seconds = time.perf_counter() - setup
            http_url, engine_url = (f"sqlite:///{folder / n}" for n in ("http.db", "engine.db"))

            if o.server == "process":
                serving = server_process(http_url, folder / "server.log")
            else:
                serving = server_thread(http_url, o.profile)
            with serving as server:
                warm_up(server.base, tokens, http_ids[-1])
                before = (process_cpu(), process_cpu(server.pid) if server.pid else 0.0)
                runs["http"] = run_http(server.base, http_ids[:-1], o.clients, tokens)
                after = (process_cpu(), process_cpu(server.pid) if server.pid else 0.0)
                runs["http"].cpu_clients = after[0] - before[0]
                if server.pid is not None:
                    runs["http"].cpu_server = after[1] - before[1]
            outcomes["http"] = outcome(http_url, o.cases + 1)
            if o.engine:
                warm_up_engine(engine_url, engine_ids[-1])
                runs["engine"] = run_engine(engine_url, engine_ids[:-1], o.clients)
                outcomes["engine"] = outcome(engine_url, o.cases + 1)
        log = folder / "server.log"
        log_lines = len(log.read_text().splitlines()) if log.exists() else None
    finally:
        if o.keep:
            print(f"kept the bench files: {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return report(o, runs, outcomes, setup_seconds, log_lines)


def report(
    o: Options,
    runs: dict[str, Run],
    outcomes: dict[str, dict[str, Any]],
    setup_seconds: float,
    log_lines: int | None,
) -> dict[str, Any]:
    http, engine = runs["http"], runs.get("engine")
    p95 = http.percentile(0.95)
    ratio = engine.per_second / http.per_second if engine and http.per_second else None
    checks = [
        {
            "check": f"HTTP >= {TARGET_PER_SECOND:,.0f} transitions/s",
            "value": round(http.per_second, 1),
            "ok": http.per_second >= TARGET_PER_SECOND,
        },
        {
            "check": f"HTTP p95 latency <= {TARGET_P95_MS:g} ms",
            "value": None if p95 is None else round(p95, 1),
            "ok": p95 is not None and p95 <= TARGET_P95_MS,
        },
    ]
    if ratio is not None:
        checks.append(
            {
                "check": f"in-process/HTTP <= {TARGET_RATIO:g}",
                "value": round(ratio, 2),
                "ok": ratio <= TARGET_RATIO,
            }
        )
    steps = len(lifecycle())
    for name, out in outcomes.items():
        ok = (
            out["evisa_issued"] == out["cases"]
            and out["history_rows"] == steps * out["cases"]
            and out["chain"] == "ok"
            and not runs[name].errors
        )
        checks.append(
            {
                "check": f"{name}: {out['cases']:,} cases at evisa_issued, "
                f"{steps * out['cases']:,} history rows, chains verify, no error",
                "value": f"{out['evisa_issued']} / {out['history_rows']} / {out['chain']} / "
                f"{len(runs[name].errors)} errors",
                "ok": ok,
            }
        )
    return {
        "cases": o.cases,
        "clients": o.clients,
        "server": o.server,
        "transitions_per_case": steps,
        "runs": {name: run.to_json() for name, run in runs.items()},
        "ratio_engine_over_http": None if ratio is None else round(ratio, 2),
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
        "setup_seconds": round(setup_seconds, 2),
        "server_log_lines": log_lines,
        "machine": machine(),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def machine() -> dict[str, Any]:
    import fastapi
    import uvicorn

    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "httpx": httpx.__version__,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def print_report(r: dict[str, Any]) -> None:
    console = Console()
    table = Table(
        title=f"{r['cases']:,} cases × {r['transitions_per_case']} transitions, "
        f"{r['clients']} concurrent clients, SQLite, server: {r['server']}"
    )
    table.add_column("run")
    for col in ("transitions", "seconds", "per second", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(col, justify="right")
    for run in r["runs"].values():
        table.add_row(
            run["label"],
            f"{run['transitions']:,}",
            f"{run['seconds']:.2f}",
            f"{run['per_second']:,.0f}",
            *(
                f"{run[k]:.1f}" if run[k] is not None else "-"
                for k in ("p50_ms", "p95_ms", "p99_ms")
            ),
        )
    console.print(table)
    http = r["runs"]["http"]
    if http["cpu_ms_per_transition_server"] is not None:
        console.print(
            f"CPU per HTTP transition: server {http['cpu_ms_per_transition_server']:.2f} ms, "
            f"clients {http['cpu_ms_per_transition_clients']:.2f} ms",
            highlight=False,
        )
    if r["ratio_engine_over_http"] is not None:
        console.print(f"ratio in-process/HTTP: {r['ratio_engine_over_http']:.2f}×", highlight=False)
    for c in r["checks"]:
        console.print(
            f"{'PASS' if c['ok'] else 'FAIL'}  {c['check']}  ({c['value']})",
            highlight=False,
            markup=False,
        )
    m = r["machine"]
    console.print(
        f"machine: {m['nproc']} CPUs, Python {m['python']}, SQLite {m['sqlite']}, SQLAlchemy "
        f"{m['sqlalchemy']}, FastAPI {m['fastapi']}, uvicorn {m['uvicorn']}, httpx {m['httpx']}; "
        f"load average {m['loadavg']}; {m['platform']}; {r['date']}; setup "
        f"{r['setup_seconds']:.1f} s (not timed)",
        highlight=False,
        markup=False,
    )


# --- command line ----------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Transitions over HTTP (uvicorn) against the in-process engine."
    )
    p.add_argument("--cases", type=int, default=600, help="cases to move (default 600)")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument(
        "--server",
        choices=("process", "thread"),
        default="process",
        help="process: 'qmas serve' in a child process (default); thread: uvicorn in a thread "
        "of this process",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the server's threads (implies --server thread; stats on stderr)",
    )
    p.add_argument("--http-only", action="store_true", help="skip the in-process run")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--keep", action="store_true", help="keep the databases and the server log")
    p.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    args = p.parse_args(argv)
    if args.cases < 1 or args.clients < 1:
        p.error("--cases and --clients must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    opts = Options(
        cases=args.cases,
        clients=args.clients,
        server="thread" if args.profile else args.server,
        profile=args.profile,
        engine=not args.http_only,
        keep=args.keep,
    )
    r = bench(opts)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print_report(r)
    return 1 if args.strict and not r["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
