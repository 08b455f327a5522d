"""Tampering with the history by raw SQL is caught, and the problem names the row or case.

A chain recomputed consistently (hashes and the case's head) is invisible to the chain itself;
only a checkpoint kept outside the database catches it, as it catches a truncated tail.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from console.cli import main
from states.audit import make_checkpoint, verify
from states.chain import row_hash
from states.models import applications
from states.models import history as hist_t
from states.store import Store
from tests.core.core_lifecycle import S, drive_to
from workflows.engine import default_store

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def cases(store: Store) -> list[int]:
    """Three cases with history: an e-Visa (9 rows), a withdrawal (2), a lapse (4)."""
    return [
        drive_to(store, S.evisa_issued),
        drive_to(store, S.withdrawn),
        drive_to(store, S.lapsed),
    ]


def rows_of(store: Store, case_id: int) -> list[dict[str, Any]]:
    with store.read() as tx:
        result = tx.conn.execute(
            select(hist_t).where(hist_t.c.case_id == case_id).order_by(hist_t.c.id)
        )
        return [dict(r) for r in result.mappings()]


def sql(store: Store, statement: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


@pytest.fixture
def cli_audit(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """Run `qmas audit verify` against the test's SQLite file; returns (exit code, out, err)."""
    monkeypatch.setenv("QMAS_DATABASE_URL", str(store.engine.url))
    default_store.cache_clear()

    def run(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(["audit", "verify", *extra])
        out, err = capsys.readouterr()
        return int(exit_info.value.code or 0), out, err

    yield run
    default_store().dispose()
    default_store.cache_clear()


def assert_caught(
    store: Store,
    cli: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    *,
    row_id: int | None,
    case_id: int,
    words: str,
) -> None:
    report = verify(store)
    assert not report.ok
    problem = report.problems[0]
    assert (problem.row_id, problem.case_id) == (row_id, case_id), str(problem)
    assert words in problem.message
    code, out, err = cli(capsys)
    assert code == 1
    where = f"history row {row_id}" if row_id is not None else "history"
    assert f"audit FAILED: {where} (case {case_id})" in err
    assert "Traceback" not in out + err


def test_untampered_history_verifies(
    store: Store, cases: list[int], cli_audit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    report = verify(store)
    assert report.ok and report.rows == 9 + 2 + 4 and report.cases == 3
    code, out, err = cli_audit(capsys)
    assert code == 0 and err == ""
    assert "audit ok: 15 history rows over 3 cases" in out


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "Someone Else"),
        ("reason", "Edited reason"),
        ("payload", '{"amount": 1, "method": "fps"}'),
        ("at", "2023-06-01T01:59:59.000000Z"),
        ("role", "committee"),
        ("to_state", "refused"),
    ],
)
def test_editing_a_field_of_a_middle_row_names_that_row(
    store: Store,
    cases: list[int],
    cli_audit: Any,
    capsys: pytest.CaptureFixture[str],
    column: str,
    value: str,
) -> None:
    victim = rows_of(store, cases[0])[4]
    assert victim[column] != value
    sql(store, f"UPDATE history SET {column} = :v WHERE id = :id", v=value, id=victim["id"])
    assert_caught(
        store, cli_audit, capsys, row_id=victim["id"], case_id=cases[0], words="was edited"
    )


def test_editing_the_last_row_of_a_case_names_that_row(
    store: Store, cases: list[int], cli_audit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = rows_of(store, cases[1])[-1]
    sql(store, "UPDATE history SET reason = 'no reason' WHERE id = :id", id=victim["id"])
    assert_caught(
        store, cli_audit, capsys, row_id=victim["id"], case_id=cases[1], words="was edited"
    )


def test_deleting_a_middle_row_names_the_row_after_it(
    store: Store, cases: list[int], cli_audit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = rows_of(store, cases[0])
    sql(store, "DELETE FROM history WHERE id = :id", id=rows[3]["id"])
    assert_caught(store, cli_audit, capsys, row_id=rows[4]["id"], case_id=cases[0], words="missing")


def test_deleting_the_last_row_of_a_case_names_the_case(
    store: Store, cases: list[int], cli_audit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = rows_of(store, cases[2])
    sql(store, "DELETE FROM history WHERE id = :id", id=rows[-1]["id"])
    # The chain itself is intact up to the new last row; the case row says more happened.
    assert_caught(
        store,
        cli_audit,
        capsys,
        row_id=rows[-2]["id"],
        case_id=cases[2],
        words="rows are missing at the end",
    )


def test_deleting_every_row_of_a_case_names_the_case(
    store: Store, cases: list[int], cli_audit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sql(store, "DELETE FROM history WHERE case_id = :c", c=cases[1])
    assert_caught(
        store, cli_audit, capsys, row_id=None, case_id=cases[1], words="history ends at step 0"
    )


def _forge(prev: dict[str, Any], **changes: Any) -> dict[str, Any]:
    row = {k: v for k, v in prev.items() if k != "id"}
    row.update(seq=prev["seq"] + 1, prev_hash=prev["hash"], **changes)
    row["hash"] = row_hash(row["prev_hash"], row)
    return row


def _insert(store: Store, row: dict[str, Any]) -> int:
    with store.engine.begin() as conn:
        return int(conn.execute(hist_t.insert().values(**row)).inserted_primary_key[0])


def test_inserting_a_forged_row_with_a_valid_hash_names_the_case(
    store: Store, cases: list[int], cli_audit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    last = rows_of(store, cases[1])[-1]
    forged = _insert(
        store,
        _forge(last, from_state="withdrawn", to_state="evisa_issued", trigger="issue_evisa"),
    )
    assert_caught(
        store,
        cli_audit,
        capsys,
        row_id=forged,
        case_id=cases[1],
        words="history ends at step 3",
    )


def test_inserting_a_forged_row_with_a_made_up_hash_names_that_row(
    store: Store, cases: list[int], cli_audit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    last = rows_of(store, cases[2])[-1]
    row = _forge(last, actor="Mallory")
    row["hash"] = "0" * 64
    forged = _insert(store, row)
    assert_caught(store, cli_audit, capsys, row_id=forged, case_id=cases[2], words="was edited")


def test_inserting_a_row_with_a_wrong_previous_hash_names_that_row(
    store: Store, cases: list[int], cli_audit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    last = rows_of(store, cases[2])[-1]
    row = _forge(last)
    row["prev_hash"] = "f" * 64
    row["hash"] = row_hash(row["prev_hash"], row)
    forged = _insert(store, row)
    assert_caught(store, cli_audit, capsys, row_id=forged, case_id=cases[2], words="previous-hash")


def test_swapping_the_seq_of_two_rows_names_the_first_of_them(
    store: Store, cases: list[int], cli_audit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = rows_of(store, cases[0])[2:4]
    # Through a spare value: (case_id, seq) is unique.
    sql(store, "UPDATE history SET seq = -1 WHERE id = :id", id=a["id"])
    sql(store, "UPDATE history SET seq = :s WHERE id = :id", s=a["seq"], id=b["id"])
    sql(store, "UPDATE history SET seq = :s WHERE id = :id", s=b["seq"], id=a["id"])
    assert_caught(
        store, cli_audit, capsys, row_id=a["id"], case_id=cases[0], words="step 4 but step 3"
    )


def test_swapping_the_contents_of_two_rows_names_the_first_of_them(
    store: Store, cases: list[int], cli_audit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = rows_of(store, cases[0])[5:7]
    columns = [c for c in a if c != "id"]
    sets = ", ".join(f"{c} = :{c}" for c in columns)
    sql(store, f"UPDATE history SET seq = -1 WHERE id = {a['id']}")
    sql(store, f"UPDATE history SET {sets} WHERE id = :id", **{**a, "id": b["id"]})
    sql(store, f"UPDATE history SET {sets} WHERE id = :id", **{**b, "id": a["id"]})
    assert_caught(
        store, cli_audit, capsys, row_id=a["id"], case_id=cases[0], words="is step 7 but step 6"
    )


def _recompute_chain(store: Store, case_id: int, *, actor: str) -> None:
    """Rewrite one row's actor and re-hash the whole chain of its case, head included."""
    rows = rows_of(store, case_id)
    rows[1]["actor"] = actor
    prev = ""
    with store.engine.begin() as conn:
        for row in rows:
            row["prev_hash"] = prev
            row["hash"] = row_hash(prev, row)
            conn.execute(
                text("UPDATE history SET actor = :a, prev_hash = :p, hash = :h WHERE id = :id"),
                {"a": row["actor"], "p": prev, "h": row["hash"], "id": row["id"]},
            )
            prev = row["hash"]
        conn.execute(
            applications.update().where(applications.c.id == case_id).values(head_hash=prev)
        )


def test_a_fully_recomputed_chain_is_caught_only_by_a_checkpoint(
    store: Store,
    cases: list[int],
    cli_audit: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    checkpoint = make_checkpoint(store)
    saved = tmp_path / "checkpoint.json"
    saved.write_text(json.dumps(checkpoint))
    _recompute_chain(store, cases[0], actor="Officer who was never there")

    assert verify(store).ok, "a consistent forgery passes the chain alone"
    report = verify(store, checkpoint)
    assert not report.ok
    problem = report.problems[0]
    assert problem.row_id == checkpoint["last_id"]
    assert "differs from the checkpoint" in problem.message

    code, _, err = cli_audit(capsys)
    assert code == 0
    code, out, err = cli_audit(capsys, "--checkpoint", str(saved))
    assert code == 1
    assert f"audit FAILED: history row {checkpoint['last_id']}" in err
    assert "checkpoint" in err and "Traceback" not in out + err


def test_a_truncated_tail_made_consistent_is_caught_by_a_checkpoint(
    store: Store, cases: list[int], cli_audit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = make_checkpoint(store)
    rows = rows_of(store, cases[2])
    last, before = rows[-1], rows[-2]
    sql(store, "DELETE FROM history WHERE id = :id", id=last["id"])
    sql(
        store,
        "UPDATE applications SET version = :v, head_hash = :h, state = :s WHERE id = :id",
        v=before["seq"],
        h=before["hash"],
        s=before["to_state"],
        id=cases[2],
    )
    assert verify(store).ok
    report = verify(store, checkpoint)
    assert not report.ok
    assert report.problems[0].row_id == checkpoint["last_id"] == last["id"]
    assert "truncated" in report.problems[0].message


def test_checkpoint_still_verifies_after_new_history(store: Store, cases: list[int]) -> None:
    checkpoint = make_checkpoint(store)
    drive_to(store, S.fee_paid, mainland=False)
    assert verify(store, checkpoint).ok


def test_all_problems_lists_each_tampered_case(store: Store, cases: list[int]) -> None:
    first, second = rows_of(store, cases[0])[1], rows_of(store, cases[2])[0]
    for victim in (first, second):
        sql(store, "UPDATE history SET actor = 'x' WHERE id = :id", id=victim["id"])
    report = verify(store, all_problems=True)
    named = {(p.row_id, p.case_id) for p in report.problems}
    assert {(first["id"], cases[0]), (second["id"], cases[2])} <= named


@pytest.mark.parametrize("where", ["middle", "last"])
def test_tampering_is_caught_on_any_store(any_store: Store, where: str) -> None:
    case_id = drive_to(any_store, S.fee_paid, mainland=True)
    other = drive_to(any_store, S.refused)
    rows = rows_of(any_store, case_id)
    victim = rows[3] if where == "middle" else rows[-1]
    assert verify(any_store).ok
    sql(any_store, "UPDATE history SET payload = '{}' WHERE id = :id", id=victim["id"])
    problem = verify(any_store).problems[0]
    assert (problem.row_id, problem.case_id) == (victim["id"], case_id)
    sql(any_store, "DELETE FROM history WHERE case_id = :c", c=case_id)
    problems = verify(any_store, all_problems=True).problems
    assert [(p.row_id, p.case_id) for p in problems] == [(None, case_id)]
    assert other not in {p.case_id for p in problems}
