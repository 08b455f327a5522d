"""Racing writers: threads and processes fire conflicting transitions at the same cases.

Exactly one writer wins each version; every loser gets `Conflict` or `TransitionNotAllowed`
(never "database is locked", never another exception); nothing is lost: the version counts the
history rows and the chain verifies. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine

from states.audit import verify
from states.errors import QmasError
from states.store import Store
from tests.core.core_lifecycle import (
    FROZEN_AT,
    VALID,
    S,
    Step,
    T,
    case_state,
    current_schema,
    drive_to,
    history_rows,
    new_case,
    path_to,
)
from tests.factories import application
from workflows import advance, create_case

pytestmark = pytest.mark.usefixtures("frozen_clock")

LOSSES = {"Conflict", "TransitionNotAllowed"}
THREADS = 8
PROCESSES = 4
Outcome = tuple[str, str]  # ("won", to_state) or (error class name, message)

# Conflicting moves out of file_number_issued, one per racer (cycled).
RIVALS = [
    VALID[T.withdraw],
    VALID[T.refuse],
    VALID[T.shortlist],
    VALID[T.request_documents],
    Step(T.withdraw, "caseworker", reason="Asked by phone"),
    Step(T.refuse, "supervisor", reason="Documents forged"),
    Step(T.shortlist, "caseworker"),
    Step(T.issue_file_number, "system"),  # wrong state: always refused
]


def attempt(fn: Callable[[], Any]) -> Outcome:
    try:
        done = fn()
    except QmasError as err:
        return type(err).__name__, str(err)
    except Exception as err:  # a crash is a result to report, not to hide
        return "crash", f"{type(err).__name__}: {err}"
    return "won", done.to_state


def race_threads(n: int, job: Callable[[int], Any]) -> list[Any]:
    """Run ``job(i)`` on ``n`` threads released together; return what each returned."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        results[i] = job(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None for r in results), "a racer never finished (or crashed)"
    return results


def assert_one_winner(outcomes: list[Outcome]) -> Outcome:
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds["won"] == 1, outcomes
    for kind, message in outcomes:
        if kind != "won":
            assert kind in LOSSES, (kind, message)
            assert "locked" not in message
    return next(o for o in outcomes if o[0] == "won")


def assert_consistent(store: Store, *case_ids: int) -> None:
    for case_id in case_ids:
        state, version = case_state(store, case_id)
        rows = history_rows(store, case_id)
        assert version == len(rows)
        assert [r["seq"] for r in rows] == list(range(1, version + 1))
        assert state == (rows[-1]["to_state"] if rows else "draft")
    report = verify(store)
    assert report.ok, report.problems


def fire_step(store: Store, case_id: int, step: Step, expected: int | None) -> Any:
    return advance(
        case_id,
        step.trigger,
        step.actor,
        step.role,
        expected_version=expected,
        reason=step.reason,
        data=step.data,
        store=store,
    )


# --- threads -------------------------------------------------------------------------------
@pytest.mark.parametrize("expect", ["same-version", "no-version"])
def test_threads_racing_each_lifecycle_step_have_one_winner_per_version(
    any_store: Store, expect: str
) -> None:
    case_id = new_case(any_store)
    for version, trigger in enumerate(path_to(S.evisa_issued)):
        expected = version if expect == "same-version" else None
        outcomes = race_threads(
            THREADS,
            lambda _i, t=trigger, v=expected: attempt(
                lambda: fire_step(any_store, case_id, VALID[t], v)
            ),
        )
        assert_one_winner(outcomes)
        if expect == "same-version":
            assert {k for k, _ in outcomes} <= {"won", "Conflict"}, (trigger, outcomes)
        assert case_state(any_store, case_id)[1] == version + 1
    assert case_state(any_store, case_id) == ("evisa_issued", 9)
    assert_consistent(any_store, case_id)


def test_threads_racing_rival_moves_have_one_winner(any_store: Store) -> None:
    cases = [drive_to(any_store, S.file_number_issued) for _ in range(4)]
    for case_id in cases:
        outcomes = race_threads(
            THREADS,
            lambda i, c=case_id: attempt(
                lambda: fire_step(any_store, c, RIVALS[i % len(RIVALS)], 2)
            ),
        )
        assert_one_winner(outcomes)
        assert case_state(any_store, case_id)[1] == 3
    assert_consistent(any_store, *cases)


def test_threads_racing_withdrawals_on_many_cases(any_store: Store) -> None:
    cases = [drive_to(any_store, S.shortlisted, mainland=bool(i % 2)) for i in range(3)]
    cases += [new_case(any_store)]  # a draft can be withdrawn too

    def job(i: int) -> dict[int, Outcome]:
        # Half the threads go forwards, half backwards; half pass the version, half do not.
        order = cases if i % 2 else list(reversed(cases))
        expected = {c: case_state(any_store, c)[1] for c in cases} if i < THREADS // 2 else {}
        return {
            c: attempt(lambda c=c: fire_step(any_store, c, VALID[T.withdraw], expected.get(c)))
            for c in order
        }

    per_thread = race_threads(THREADS, job)
    for c in cases:
        assert_one_winner([outcomes[c] for outcomes in per_thread])
        assert case_state(any_store, c)[0] == "withdrawn"
    assert_consistent(any_store, *cases)


def test_threads_submitting_two_drafts_of_one_person_leave_one_live_application(
    any_store: Store,
) -> None:
    drafts = [
        create_case(application(travel_document="E55500011"), store=any_store) for _ in range(2)
    ]
    outcomes = race_threads(
        THREADS,
        lambda i: attempt(lambda: fire_step(any_store, drafts[i % 2], VALID[T.submit], None)),
    )
    assert_one_winner(outcomes)
    refusals = " ".join(message for kind, message in outcomes if kind != "won")
    assert "already has a live application" in refusals
    assert sorted(case_state(any_store, c)[0] for c in drafts) == ["draft", "submitted"]
    assert_consistent(any_store, *drafts)


def test_threads_each_driving_their_own_case_through_the_lifecycle_all_succeed(
    any_store: Store,
) -> None:
    cases = [new_case(any_store, mainland=bool(i % 2)) for i in range(THREADS)]

    def drive(i: int) -> Any:
        done = None
        for trigger in path_to(S.evisa_issued, mainland=bool(i % 2)):
            done = fire_step(any_store, cases[i], VALID[trigger], None)
        return done

    outcomes = race_threads(THREADS, lambda i: attempt(lambda: drive(i)))
    assert outcomes == [("won", "evisa_issued")] * THREADS
    for i, c in enumerate(cases):
        assert case_state(any_store, c) == (
            "evisa_issued",
            len(path_to(S.evisa_issued, mainland=bool(i % 2))),
        )
    assert_consistent(any_store, *cases)


# --- processes -----------------------------------------------------------------------------
Job = tuple[int, str, str, str, dict[str, Any] | None, str | None, int | None]


def race_child(
    url: str,
    schema: str | None,
    worker: int,
    jobs: list[Job],
    barrier: Any,
    results: Any,
) -> None:
    """One racing process: its own Store from the URL; each job starts with the others."""
    try:
        if schema is None:
            store = Store(url)
        else:
            store = Store(
                engine=create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
            )
    except Exception as err:
        results.put((worker, -1, "crash", f"{type(err).__name__}: {err}"))
        return
    try:
        for index, (case_id, trigger, actor, role, data, reason, expected) in enumerate(jobs):
            barrier.wait(timeout=60)
            kind, message = attempt(
                lambda c=case_id, t=trigger, a=actor, r=role, d=data, why=reason, v=expected: (
                    advance(
                        c,
                        t,
                        a,
                        r,
                        expected_version=v,
                        reason=why,
                        data=d,
                        store=store,
                        now=FROZEN_AT,
                    )
                )
            )
            results.put((worker, index, kind, message))
    finally:
        store.dispose()


def _job(case_id: int, step: Step, expected: int | None) -> Job:
    return (case_id, step.trigger.value, step.actor, step.role, step.data, step.reason, expected)


@pytest.mark.slow
def test_processes_racing_conflicting_moves_have_one_winner_each(any_store: Store) -> None:
    rivals = [drive_to(any_store, S.file_number_issued) for _ in range(3)]
    withdrawals = [drive_to(any_store, S.quota_allotted, mainland=False) for _ in range(2)]
    lifecycle = new_case(any_store)
    path = path_to(S.evisa_issued)

    def jobs_for(worker: int) -> list[Job]:
        jobs = [_job(c, RIVALS[worker], 2) for c in rivals]
        jobs += [_job(c, VALID[T.withdraw], None) for c in withdrawals]
        jobs += [_job(lifecycle, VALID[t], v) for v, t in enumerate(path)]
        return jobs

    url = any_store.engine.url.render_as_string(hide_password=False)
    schema = current_schema(any_store)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=race_child, args=(url, schema, w, jobs_for(w), barrier, results))
        for w in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    expected_count = PROCESSES * len(jobs_for(0))
    collected: list[tuple[int, int, str, str]] = []
    try:
        while len(collected) < expected_count:
            collected.append(results.get(timeout=120))
            assert collected[-1][2] != "crash", collected[-1]
    except queue.Empty:
        pytest.fail(f"only {len(collected)} of {expected_count} results arrived")
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    by_job: dict[int, list[Outcome]] = {}
    for _worker, index, kind, message in collected:
        by_job.setdefault(index, []).append((kind, message))
    assert len(by_job) == len(jobs_for(0))
    for outcomes in by_job.values():
        assert len(outcomes) == PROCESSES
        assert_one_winner(outcomes)
    for c in withdrawals:
        assert case_state(any_store, c)[0] == "withdrawn"
    assert case_state(any_store, lifecycle) == ("evisa_issued", len(path))
    assert_consistent(any_store, *rivals, *withdrawals, lifecycle)
