#!/usr/bin/env python
"""Outbox delivery: ``dispatch_events`` against raw ``smtplib`` and one flow run per event.

Setup (not timed): N overseas applicants without a representative (one event, one message
each) are created with ``workflows.create_case`` and submitted with ``workflows.advance``, so
the outbox holds exactly N pending events. An aiosmtpd server on 127.0.0.1 counts what it
accepts per Message-ID. Then, in one run:

* A, the engine: one ``dispatch_events()`` flow call (Prefect in-process against
  ``prefect_test_harness``, heartbeats off) claims the N events, plans the messages in the
  delivery ledger and sends them over one SMTP connection, recording every attempt. Timed: the
  flow call only; the API server's start and the process's first flow call (on an empty
  outbox) are reported separately.
* B, the limit: the same N messages, rendered and serialised beforehand (not timed), sent by
  plain ``smtplib`` over one connection with ``sendmail``.
* C, the naive design: a flow that claims ONE event, plans it and delivers its message, run
  once per event for ``--naive-events`` events (one more, first, as an untimed warm-up).

Targets: all N delivered, none twice, the ledger says sent for each; A within 30 s; A no more
than 3x B; C at least 50x A per event.

    python bench/dispatch.py                      # 10,000 events, 100 naive flow runs
    python bench/dispatch.py --events 2000 --json
    python bench/dispatch.py --profile            # cProfile of A on stderr

By default the SMTP server runs in a child process (as a real server would: it does not share
this process's GIL); ``--server thread`` runs it in a thread of this process instead.
"""

# ruff: noqa: E402  (the repository root goes on sys.path before the project imports)

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import re
import resource
import shutil
import smtplib
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

# Run as a script, this folder heads sys.path, and bench/transitions.py would shadow the
# `transitions` package the engine imports: put the repository root there instead.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

import aiosmtpd
import prefect
import sqlalchemy
from aiosmtpd.controller import Controller
from prefect import flow
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.testing.utilities import prefect_test_harness
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import func, select

from flows.dispatch import deliver_messages, dispatch_events, process_batch
from flows.settings import FlowSettings
from notifications.message import build_email, to_wire
from notifications.render import render_message
from notifications.settings import NotificationSettings
from states import outbox as events_q
from states.models import deliveries as dl
from states.models import delivery_attempts as at_t
from states.models import outbox as ob
from states.store import Store
from tests.factories import overseas_application
from workflows import advance, create_case
from workflows.clock import HK, iso, now_utc
from workflows.engine import default_settings, default_store

# Cases are created and submitted at this moment (seed era: gpt-2023 rules, HK$230 fee).
NOW = datetime(2023, 6, 1, 10, 0, tzinfo=HK)
ACTOR = "bench"
MAX_SECONDS = 30.0  # A must deliver every event within this
MAX_RATIO = 3.0  # A's time over B's time, at most
MIN_SPEEDUP = 50.0  # the naive design's cost per event over A's, at least
HARNESS_TIMEOUT = 120


# --- the SMTP server: aiosmtpd counting messages per Message-ID -----------------------------
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>@\s]+)@", re.IGNORECASE | re.MULTILINE)


@dataclass
class Tally:
    """What the server accepted since the last `take`."""

    per_id: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    without_id: int = 0
    bytes: int = 0
    connections: int = 0

    @property
    def distinct(self) -> int:
        return len(self.per_id)

    @property
    def duplicated(self) -> int:
        """Message-IDs received more than once."""
        return sum(1 for n in self.per_id.values() if n > 1)


class CountingHandler:
    """aiosmtpd hook: accept every message, count it under its Message-ID (cheap, in memory)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.messages = 0
        self.without_id = 0
        self.bytes = 0
        self.sessions: set[int] = set()
        self._alive: list[object] = []  # keeps id(session) unique while counted

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content
        end = data.find(b"\r\n\r\n")
        found = _MESSAGE_ID.search(data, 0, end if end >= 0 else len(data))
        with self.lock:
            self.messages += 1
            self.bytes += len(data)
            if id(session) not in self.sessions:
                self.sessions.add(id(session))
                self._alive.append(session)
            if found is None:
                self.without_id += 1
            else:
                self.counts[found.group(1).decode("ascii", "replace")] += 1
        return "250 OK"

    def take(self) -> Tally:
        """Everything counted so far; the counters start again from zero."""
        with self.lock:
            tally = Tally(
                dict(self.counts), self.messages, self.without_id, self.bytes, len(self.sessions)
            )
            self.counts.clear()
            self.messages = self.without_id = self.bytes = 0
            self.sessions.clear()
            self._alive.clear()
        return tally


def cpu_time() -> float:
    """CPU seconds of this process so far (user + system, every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class SmtpServer(Protocol):
    host: str
    port: int

    def take(self) -> Tally: ...
    def stop(self) -> None: ...


class ThreadServer:
    """The aiosmtpd Controller in a thread of this process (it shares the GIL with the client)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, free_port(host)
        self.handler = CountingHandler()
        self.controller = Controller(
            self.handler, hostname=self.host, port=self.port, ready_timeout=10
        )
        self.controller.start()

    def take(self) -> Tally:
        return self.handler.take()

    def stop(self) -> None:
        self.controller.stop()


def _serve(conn: Connection, host: str, port: int) -> None:
    """Child process: run the Controller, answer `take` and `stop` over the pipe."""
    handler = CountingHandler()
    controller = Controller(handler, hostname=host, port=port, ready_timeout=10)
    controller.start()
    conn.send("ready")
    try:
        while True:
            command = conn.recv()
            if command == "take":
                conn.send(handler.take())
            elif command == "stop":
                break
    finally:
        controller.stop()
        conn.close()


class ProcessServer:
    """The aiosmtpd Controller in a child process, like a real server on the same machine."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, free_port(host)
        ctx = multiprocessing.get_context("fork")  # started before any thread of ours
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve, args=(child, self.host, self.port), name="aiosmtpd", daemon=True
        )
        self.process.start()
        if not self.conn.poll(30) or self.conn.recv() != "ready":
            raise RuntimeError("the aiosmtpd server process did not start")

    def take(self) -> Tally:
        self.conn.send("take")
        tally: Tally = self.conn.recv()
        return tally

    def stop(self) -> None:
        with suppress(OSError):  # the child is gone already
            self.conn.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


# --- setup: N submitted cases, N pending outbox events ---------------------------------------
Tick = Callable[[int], None]


@contextmanager
def progress(enabled: bool, label: str, total: int) -> Iterator[Tick]:
    """A rich progress bar on stderr (when it is a terminal); yields the function to advance it."""
    if not enabled:
        yield lambda _n: None
        return
    bar = Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        tid = bar.add_task(label, total=total)
        yield lambda k: bar.advance(tid, k)


def submit_cases(store: Store, n: int, tick: Tick) -> list[int]:
    """Create and submit ``n`` overseas applications (no representative): n outbox events."""
    settings = default_settings()
    ids = []
    every = max(1, n // 100)
    for i in range(1, n + 1):
        case_id = create_case(overseas_application(dependants=False), store=store, now=NOW)
        advance(case_id, "submit", ACTOR, "applicant", 0, store=store, settings=settings, now=NOW)
        ids.append(case_id)
        if i % every == 0 or i == n:
            tick(every if i % every == 0 else i % every)
    return ids


def pending_events(store: Store) -> int:
    with store.read() as tx:
        return int(
            tx.conn.execute(
                select(func.count()).select_from(ob).where(ob.c.status == "pending")
            ).scalar_one()
        )


# --- C: the naive design, one flow run per event ---------------------------------------------
@flow(name="dispatch_one_event", log_prints=False)
def dispatch_one_event() -> dict[str, Any]:
    """Claim ONE outbox event, plan its messages, deliver one message: a flow run per event."""
    store = default_store()
    moment = now_utc()
    lease = timedelta(seconds=FlowSettings().dispatch_lease_seconds)
    claimed = events_q.claim_events(
        store, now=iso(moment), limit=1, stale_before=iso(moment - lease)
    )
    if not claimed:
        return {"events_done": 0, "events_failed": 0}
    done, failed = process_batch(claimed)
    delivery = deliver_messages(max_messages=1)
    return {"events_done": done, "events_failed": failed, **delivery}


# --- B: the limit, raw smtplib over one connection -------------------------------------------
@dataclass(frozen=True)
class Wire:
    message_id: str
    recipient: str
    data: bytes


def prerender(
    store: Store, message_ids: Sequence[str], settings: NotificationSettings
) -> list[Wire]:
    """The messages A sent, rebuilt from the ledger exactly as delivery builds them."""
    wanted = set(message_ids)
    with store.read() as tx:
        rows = tx.conn.execute(
            select(dl.c.message_id, dl.c.kind, dl.c.language, dl.c.recipient, dl.c.context)
            .where(dl.c.status == "sent")
            .order_by(dl.c.created_at, dl.c.message_id)
        ).all()
    out = []
    for mid, kind, language, recipient, context in rows:
        if mid not in wanted:
            continue
        rendered = render_message(kind, language, json.loads(context))
        msg = build_email(rendered, message_id=mid, sender=settings.mail_from, to=recipient)
        out.append(Wire(mid, recipient, to_wire(msg)))
    return out


def raw_send(host: str, port: int, sender: str, wires: Sequence[Wire]) -> float:
    """Send every message over one SMTP connection; returns the seconds taken (connect too)."""
    started = time.perf_counter()
    smtp = smtplib.SMTP(host, port, timeout=30)
    try:
        smtp.ehlo()
        for w in wires:
            smtp.sendmail(sender, [w.recipient], w.data)
    finally:
        smtp.quit()
    return time.perf_counter() - started


# --- checks ----------------------------------------------------------------------------------
@dataclass
class LedgerState:
    sent: int
    other: dict[str, int]
    attempts_sent: int
    attempts_other: int
    events_done: int
    events_other: int


def ledger_state(store: Store, message_ids: Sequence[str]) -> LedgerState:
    ids = list(message_ids)
    with store.read() as tx:
        statuses: Counter[str] = Counter()
        attempts: Counter[str] = Counter()
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 900]
            for status, n in tx.conn.execute(
                select(dl.c.status, func.count())
                .where(dl.c.message_id.in_(chunk))
                .group_by(dl.c.status)
            ):
                statuses[str(status)] += int(n)
            for outcome, n in tx.conn.execute(
                select(at_t.c.outcome, func.count())
                .where(at_t.c.message_id.in_(chunk))
                .group_by(at_t.c.outcome)
            ):
                attempts[str(outcome)] += int(n)
        ev = {str(s): int(n) for s, n in events_q.counts(store).items()}
    return LedgerState(
        sent=statuses.pop("sent", 0),
        other=dict(statuses),
        attempts_sent=attempts.pop("sent", 0),
        attempts_other=sum(attempts.values()),
        events_done=ev.pop("done", 0),
        events_other=sum(ev.values()),
    )


def message_ids_of_cases(store: Store, case_ids: Sequence[int]) -> list[str]:
    ids = list(case_ids)
    out: list[str] = []
    with store.read() as tx:
        for start in range(0, len(ids), 900):
            out += [
                str(m)
                for m in tx.conn.execute(
                    select(dl.c.message_id).where(dl.c.case_id.in_(ids[start : start + 900]))
                ).scalars()
            ]
    return out


def delivery_checks(
    label: str, expected: int, tally: Tally, ids: Sequence[str], state: LedgerState
) -> list[dict[str, Any]]:
    """All delivered, none twice, exactly the ledger's messages, the ledger says sent."""
    received = set(tally.per_id)
    return [
        {
            "check": f"{label}: {expected:,} messages planned in the ledger (one per event)",
            "value": len(ids),
            "ok": len(ids) == expected,
        },
        {
            "check": f"{label}: every message delivered (distinct Message-IDs at the server)",
            "value": tally.distinct,
            "ok": tally.distinct == expected and received == set(ids),
        },
        {
            "check": f"{label}: none delivered twice (messages received = distinct ids)",
            "value": f"{tally.messages:,} received, {tally.duplicated} ids twice or more, "
            f"{tally.without_id} without id",
            "ok": tally.messages == expected and tally.duplicated == 0 and tally.without_id == 0,
        },
        {
            "check": f"{label}: ledger rows sent = {expected:,}, one attempt each, nothing else",
            "value": f"sent {state.sent:,}, other {state.other}, attempts sent "
            f"{state.attempts_sent:,}, other attempts {state.attempts_other}",
            "ok": state.sent == expected
            and not state.other
            and state.attempts_sent == expected
            and state.attempts_other == 0,
        },
    ]


# --- profiling -------------------------------------------------------------------------------
def profile_text(profiler: cProfile.Profile, limit: int) -> str:
    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit + 15)
    return buf.getvalue()


# --- the run ---------------------------------------------------------------------------------
@dataclass
class Options:
    events: int
    naive_events: int
    server: str
    profile: bool
    progress: bool
    keep: bool


@contextmanager
def prefect_in_process() -> Iterator[float]:
    """The test harness (a temporary API server in a subprocess), heartbeats off.

    Yields the seconds the server took to start.
    """
    started = time.perf_counter()
    with (
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        prefect_test_harness(server_startup_timeout=HARNESS_TIMEOUT),
    ):
        yield time.perf_counter() - started


def bench(o: Options) -> dict[str, Any]:
    # The SMTP server first, before this process starts any thread (it may fork).
    server: SmtpServer = ProcessServer() if o.server == "process" else ThreadServer()
    folder = Path(tempfile.mkdtemp(prefix="qmas-bench-dispatch-"))
    os.environ["QMAS_DATABASE_URL"] = f"sqlite:///{folder / 'qmas.db'}"
    os.environ["QMAS_SMTP_URL"] = f"smtp://{server.host}:{server.port}"
    os.environ["QMAS_MAIL_DIR"] = str(folder / "mail")
    default_store.cache_clear()
    default_settings.cache_clear()
    settings = NotificationSettings()
    store = default_store()
    store.init()
    r: dict[str, Any] = {"events": o.events, "naive_events": o.naive_events, "server": o.server}
    checks: list[dict[str, Any]] = []
    try:
        with prefect_in_process() as harness_seconds:
            r["prefect_server_start_seconds"] = round(harness_seconds, 2)
            # The process's first flow call (client, flow registration) on an empty outbox.
            started = time.perf_counter()
            dispatch_events()
            r["first_flow_call_seconds"] = round(time.perf_counter() - started, 3)
            server.take()

            # Setup: N submitted cases.
            log(f"setup: creating and submitting {o.events:,} cases…")
            started = time.perf_counter()
            with progress(o.progress, "setup: create + submit", o.events) as tick:
                case_ids = submit_cases(store, o.events, tick)
            r["setup_seconds"] = round(time.perf_counter() - started, 2)
            checks.append(
                {
                    "check": f"setup: {o.events:,} pending outbox events",
                    "value": pending_events(store),
                    "ok": pending_events(store) == o.events,
                }
            )

            # A: the engine.
            log(f"A: dispatch_events() over {o.events:,} events…")
            profiler = cProfile.Profile() if o.profile else None
            cpu, started = cpu_time(), time.perf_counter()
            with profiler or nullcontext():
                summary = dispatch_events()
            a_seconds = time.perf_counter() - started
            a_cpu = cpu_time() - cpu
            a_tally = server.take()
            a_ids = message_ids_of_cases(store, case_ids)
            a_state = ledger_state(store, a_ids)
            r["A"] = {
                "seconds": round(a_seconds, 3),
                "per_second": round(o.events / a_seconds, 1),
                "ms_per_event": round(1000 * a_seconds / o.events, 3),
                "cpu_seconds": round(a_cpu, 3),
                "summary": summary,
                "server_connections": a_tally.connections,
                "server_bytes": a_tally.bytes,
            }
            checks += delivery_checks("A", o.events, a_tally, a_ids, a_state)
            checks.append(
                {
                    "check": f"A: {o.events:,} outbox events done",
                    "value": f"done {a_state.events_done:,}, other {a_state.events_other}",
                    "ok": a_state.events_done == o.events and a_state.events_other == 0,
                }
            )
            if profiler is not None:
                text = profile_text(profiler, 30)
                print(text, file=sys.stderr)
                r["A"]["profile_top"] = top_functions(profiler, 15)

            # B: the limit.
            log(f"B: pre-rendering {o.events:,} messages (not timed), then raw smtplib…")
            wires = prerender(store, a_ids, settings)
            cpu = cpu_time()
            b_seconds = raw_send(server.host, server.port, settings.mail_from, wires)
            b_cpu = cpu_time() - cpu
            b_tally = server.take()
            r["B"] = {
                "seconds": round(b_seconds, 3),
                "per_second": round(len(wires) / b_seconds, 1),
                "ms_per_message": round(1000 * b_seconds / max(1, len(wires)), 3),
                "cpu_seconds": round(b_cpu, 3),
                "server_connections": b_tally.connections,
                "server_bytes": b_tally.bytes,
            }
            b_ok = (
                b_tally.messages == o.events
                and set(b_tally.per_id) == set(a_ids)
                and b_tally.duplicated == 0
            )
            checks.append(
                {
                    "check": "B: the same messages (ids), each once",
                    "value": f"{b_tally.messages:,} received, {b_tally.distinct:,} distinct",
                    "ok": b_ok,
                }
            )

            # C: the naive design, one flow run per event (plus one untimed warm-up).
            n_c = o.naive_events
            log(f"C: {n_c} more cases (not timed), then one flow run per event…")
            c_cases = submit_cases(store, n_c + 1, lambda _n: None)
            dispatch_one_event()  # warm-up: the first run of a new flow registers it
            server.take()
            times = []
            cpu = cpu_time()
            with progress(o.progress, "C: one flow run per event", n_c) as tick:
                for _ in range(n_c):
                    started = time.perf_counter()
                    dispatch_one_event()
                    times.append(time.perf_counter() - started)
                    tick(1)
            c_cpu = cpu_time() - cpu
            c_tally = server.take()
            c_ids = message_ids_of_cases(store, c_cases)
            c_state = ledger_state(store, c_ids)
            c_total = sum(times)
            r["C"] = {
                "flow_runs": n_c,
                "seconds": round(c_total, 3),
                "cpu_seconds": round(c_cpu, 3),
                "ms_per_event": round(1000 * c_total / max(1, n_c), 1),
                "ms_median": round(1000 * statistics.median(times), 1) if times else None,
                "ms_min": round(1000 * min(times), 1) if times else None,
                "ms_max": round(1000 * max(times), 1) if times else None,
            }
            c_ok = (
                c_tally.messages == n_c
                and c_tally.duplicated == 0
                and set(c_tally.per_id) <= set(c_ids)
                and c_state.sent == n_c + 1
                and c_state.events_done == o.events + n_c + 1
                and c_state.events_other == 0
            )
            checks.append(
                {
                    "check": f"C: {n_c} timed events each delivered once, ledger sent",
                    "value": f"{c_tally.messages} received, {c_tally.distinct} distinct, "
                    f"ledger sent {c_state.sent} (incl. warm-up)",
                    "ok": c_ok,
                }
            )
    finally:
        server.stop()
        store.dispose()
        default_store.cache_clear()
        if o.keep:
            print(f"kept the bench database: {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)

    ratio = a_seconds / b_seconds if b_seconds else float("inf")
    a_per_event = a_seconds / o.events
    speedup = (c_total / max(1, n_c)) / a_per_event if a_per_event else float("inf")
    r["ratio_A_over_B"] = round(ratio, 2)
    r["speedup_naive_over_A_per_event"] = round(speedup, 1)
    checks += [
        {
            "check": f"A delivers {o.events:,} events in at most {MAX_SECONDS:g} s",
            "value": round(a_seconds, 2),
            "ok": a_seconds <= MAX_SECONDS and a_tally.distinct == o.events,
        },
        {
            "check": f"A within {MAX_RATIO:g}x of raw smtplib (A/B <= {MAX_RATIO:g})",
            "value": round(ratio, 2),
            "ok": ratio <= MAX_RATIO,
        },
        {
            "check": f"A at least {MIN_SPEEDUP:g}x faster per event than a flow run per event",
            "value": round(speedup, 1),
            "ok": speedup >= MIN_SPEEDUP,
        },
    ]
    r["checks"] = checks
    r["ok"] = all(c["ok"] for c in checks)
    r["machine"] = machine()
    r["date"] = datetime.now().astimezone().isoformat(timespec="seconds")
    return r


def top_functions(profiler: cProfile.Profile, limit: int) -> list[dict[str, Any]]:
    """The functions with the most time of their own: (where, calls, own s, cumulative s)."""
    stats = pstats.Stats(profiler)
    rows = []
    for (path, line, name), (_cc, calls, own, cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{Path(path).name}:{line}({name})",
                "calls": calls,
                "own_s": round(own, 3),
                "cumulative_s": round(cum, 3),
            }
        )
    rows.sort(key=lambda x: x["own_s"], reverse=True)
    return rows[:limit]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "prefect": prefect.__version__,
        "aiosmtpd": aiosmtpd.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def print_report(r: dict[str, Any]) -> None:
    console = Console()
    a, b, c = r["A"], r["B"], r["C"]
    table = Table(title=f"{r['events']:,} outbox events → aiosmtpd ({r['server']}) on 127.0.0.1")
    for col in ("run", "messages", "seconds", "msgs/s", "ms each", "CPU s"):
        table.add_column(col, justify="right" if col != "run" else "left")
    n = r["events"]
    table.add_row(
        "A  dispatch_events (one flow run)",
        f"{n:,}",
        f"{a['seconds']:.2f}",
        f"{a['per_second']:,.0f}",
        f"{a['ms_per_event']:.3f}",
        f"{a['cpu_seconds']:.2f}",
    )
    table.add_row(
        "B  raw smtplib, pre-rendered",
        f"{n:,}",
        f"{b['seconds']:.2f}",
        f"{b['per_second']:,.0f}",
        f"{b['ms_per_message']:.3f}",
        f"{b['cpu_seconds']:.2f}",
    )
    table.add_row(
        "C  one flow run per event",
        f"{c['flow_runs']:,}",
        f"{c['seconds']:.2f}",
        f"{c['flow_runs'] / c['seconds']:,.1f}" if c["seconds"] else "-",
        f"{c['ms_per_event']:.1f}",
        f"{c['cpu_seconds']:.2f}",
    )
    console.print(table)
    console.print(
        f"ratio A/B: {r['ratio_A_over_B']:.2f}× (target ≤ {MAX_RATIO:g});  "
        f"naive per event {c['ms_per_event']:.1f} ms (median {c['ms_median']} ms) vs A "
        f"{a['ms_per_event']:.3f} ms: {r['speedup_naive_over_A_per_event']:,.1f}× "
        f"(target ≥ {MIN_SPEEDUP:g})",
        highlight=False,
    )
    console.print(
        f"not timed: Prefect API server start {r['prefect_server_start_seconds']:.1f} s; first "
        f"flow call in the process {r['first_flow_call_seconds']:.2f} s; setup "
        f"{r['setup_seconds']:.1f} s",
        highlight=False,
    )
    for chk in r["checks"]:
        console.print(
            f"{'PASS' if chk['ok'] else 'FAIL'}  {chk['check']}  ({chk['value']})",
            highlight=False,
            markup=False,
        )
    m = r["machine"]
    console.print(
        f"machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, Prefect {m['prefect']}, "
        f"aiosmtpd {m['aiosmtpd']}, SQLite {m['sqlite']}, SQLAlchemy {m['sqlalchemy']}; "
        f"load average {m['loadavg']}; {m['platform']}; {r['date']}",
        highlight=False,
        markup=False,
    )


# --- command line ----------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Outbox delivery: dispatch_events vs raw smtplib vs a flow run per event.",
    )
    p.add_argument("--events", type=int, default=10_000, help="outbox events (default 10000)")
    p.add_argument(
        "--naive-events",
        type=int,
        default=100,
        help="events for the one-flow-run-per-event reference (default 100)",
    )
    p.add_argument(
        "--server",
        choices=("process", "thread"),
        default="process",
        help="run aiosmtpd in a child process (default) or in a thread of this process",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--profile", action="store_true", help="cProfile run A (stats on stderr)")
    p.add_argument("--keep", action="store_true", help="keep the bench database")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    args = p.parse_args(argv)
    if args.events < 1 or args.naive_events < 1:
        p.error("--events and --naive-events must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    opts = Options(
        events=args.events,
        naive_events=args.naive_events,
        server=args.server,
        profile=args.profile,
        progress=not args.no_progress and sys.stderr.isatty(),
        keep=args.keep,
    )
    r = bench(opts)
    if args.json:
        print(json.dumps(r, indent=2, ensure_ascii=False))
    else:
        print_report(r)
    return 1 if args.strict and not r["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
