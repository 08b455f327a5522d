"""What a hostile tester found against the audit and retention, each now caught and named in
one line: an anchor made without the key over signed rows, a forged notification, a deleted
case, damaged anchors and values of the wrong kind, checkpoints and key files that never end
or do not add up, and messages left pending to an anonymised applicant."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from states.audit import read_checkpoint, rotate_key, verify
from states.errors import InvalidInput
from states.keys import make_key
from states.store import Store
from tests.core.clikit import Qmas
from tests.core.core_lifecycle import S, drive_to
from workflows import retention
from workflows.engine import default_store

pytestmark = pytest.mark.usefixtures("frozen_clock")

KEY_1 = make_key("attack-key-one-" + "a" * 40, "test")
KEY_2 = make_key("attack-key-two-" + "b" * 40, "test")
AT = "2023-06-01T02:00:00.000000Z"


def sql(store: Store, statement: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def first_problem(store: Store) -> str:
    report = verify(store)
    assert not report.ok
    return str(report.problems[0])


def test_rotating_without_the_key_over_signed_rows_is_refused(store: Store) -> None:
    """Whoever can write the database but lacks the key must not get an edited signed row
    vouched for by a key of their own."""
    drive_to(store, S.shortlisted)
    rotate_key(store, KEY_1, actor="ops", at=AT)  # the key introduced
    signer = Store(engine=store.engine, key=KEY_1)
    drive_to(signer, S.withdrawn)
    sql(store, "UPDATE history SET actor = 'mallory' WHERE id = (SELECT max(id) FROM history)")
    keyless = Store(engine=store.engine, key=None)
    with pytest.raises(InvalidInput, match="configure that key"):
        rotate_key(keyless, KEY_2, actor="mallory", at=AT)
    assert "its hash does not match its content" in first_problem(signer)


def test_a_forged_outbox_event_is_named(store: Store) -> None:
    case_id = drive_to(store, S.evisa_issued)
    body = {"case_id": case_id, "trigger": "refuse", "reason": "FORGED", "to_state": "refused"}
    sql(
        store,
        'INSERT INTO outbox (id, case_id, history_id, topic, "trigger", payload, status, '
        "attempts, created_at) VALUES (500, :c, NULL, 'case.transitioned', 'refuse', :p, "
        "'pending', 0, :at)",
        c=case_id,
        p=json.dumps(body),
        at=AT,
    )
    assert first_problem(store) == (
        f"history (case {case_id}): outbox event 500 was written by no history row of its "
        "case: it was forged or moved"
    )


def test_an_outbox_event_moved_to_another_case_is_named(store: Store) -> None:
    first, second = drive_to(store, S.submitted), drive_to(store, S.submitted)
    sql(store, "UPDATE outbox SET case_id = :to WHERE case_id = :c", to=second, c=first)
    assert "was written by no history row of its case" in first_problem(store)


def test_a_deleted_case_is_named_with_or_without_a_checkpoint(store: Store) -> None:
    drive_to(store, S.shortlisted)
    gone = drive_to(store, S.withdrawn)
    sql(store, "DELETE FROM dependants WHERE application_id = :c", c=gone)
    sql(store, "DELETE FROM applications WHERE id = :c", c=gone)
    problem = first_problem(store)
    assert f"(case {gone}): its case ({gone}) is not in the case table" in problem
    assert "the case was deleted" in problem


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        ("UPDATE audit_anchors SET hashes = NULL", "the anchor"),
        ("UPDATE audit_anchors SET ids = 'AAAA'", "the anchor"),
        ("UPDATE audit_anchors SET ids = 'not json'", "the anchor"),
        ("UPDATE audit_anchors SET last_id = 'abc'", "the anchor"),
        ("UPDATE audit_anchors SET actor = 'someone else'", "signature is wrong"),
        ("UPDATE history SET seq = 'x' WHERE id = 3", "history row 3"),
        ("UPDATE applications SET profile = 'not json' WHERE id = 1", "case 1"),
    ],
)
def test_damaged_values_are_named_never_an_internal_error(
    store: Store, qmas: Qmas, monkeypatch: pytest.MonkeyPatch, statement: str, words: str
) -> None:
    drive_to(store, S.shortlisted)
    drive_to(store, S.withdrawn)
    rotate_key(store, KEY_1, actor="ops", at=AT)
    sql(store, statement)
    monkeypatch.setenv("QMAS_DATABASE_URL", str(store.engine.url))
    monkeypatch.setenv("QMAS_AUDIT_KEY", KEY_1.secret.decode())
    default_store.cache_clear()
    code, out, err = qmas("audit", "verify")
    assert code == 1 and out == "", err
    assert err.startswith("audit FAILED: ") and words in err, err
    assert "internal error" not in err and "invalid input" not in err


def good_checkpoint(store: Store, tmp_path: Path) -> dict[str, Any]:
    from states.audit import make_checkpoint

    drive_to(store, S.shortlisted)
    cp = make_checkpoint(store)
    (tmp_path / "good.json").write_text(json.dumps(cp))
    return cp


@pytest.mark.parametrize(
    "change",
    [
        {"rows": "33"},
        {"rows": -1},
        {"rows": 10**30},
        {"rows": 33.5},
        {"rows": True},
        {"version": 9},
        {"ids": "!!!"},
        {"ids": None},
        {"last_id": 10**400},
        {"digest": "x" * 64},
    ],
    ids=repr,
)
def test_a_checkpoint_that_does_not_add_up_is_refused(
    store: Store, tmp_path: Path, change: dict[str, Any]
) -> None:
    cp = good_checkpoint(store, tmp_path)
    bad = {**cp, **change}
    if change.get("ids", "") is None:
        del bad["ids"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(InvalidInput) as err:
        read_checkpoint(path)
    assert str(err.value).endswith("is not a checkpoint written by 'qmas audit checkpoint'")
    assert len(str(err.value)) < 200  # a 401-digit number is not echoed


def test_a_checkpoint_whose_counts_disagree_with_its_index_is_refused(
    store: Store, tmp_path: Path
) -> None:
    cp = good_checkpoint(store, tmp_path)
    path = tmp_path / "short.json"
    path.write_text(json.dumps({**cp, "rows": cp["rows"] - 1, "last_id": cp["last_id"] - 1}))
    with pytest.raises(InvalidInput, match="is not a checkpoint"):
        read_checkpoint(path)


@pytest.mark.parametrize("where", ["/dev/zero", "FIFO", "DIR"])
def test_a_checkpoint_that_is_no_regular_file_is_never_read(tmp_path: Path, where: str) -> None:
    path = {"/dev/zero": Path("/dev/zero"), "FIFO": tmp_path / "cp.fifo", "DIR": tmp_path}[where]
    if where == "FIFO":
        os.mkfifo(path)
    with pytest.raises(InvalidInput, match="is not a checkpoint"):
        read_checkpoint(path)  # returns at once: a FIFO nobody writes to would block a reader


def test_retention_cancels_the_messages_an_anonymised_case_still_owed(store: Store) -> None:
    """Messages planned but not sent have nobody to go to after anonymisation: they are
    cancelled, not left to turn into dead letters that `outbox retry --dead` would re-drive."""
    from datetime import UTC, datetime

    case_id = drive_to(store, S.withdrawn)
    sql(
        store,
        "INSERT INTO deliveries (message_id, event_id, case_id, kind, template, language, "
        "recipient, subject, context, status, attempts, in_doubt, created_at, next_attempt_at) "
        "VALUES ('e1.withdrawn.applicant-0123456789', 1, :c, 'withdrawn', 'withdrawn', 'en', "
        "'a@example.com', 's', '{}', 'pending', 0, 0, :at, :at)",
        c=case_id,
        at=AT,
    )
    later = datetime(2031, 1, 1, tzinfo=UTC)
    report = retention.run(store, now=later)
    assert report.anonymised == [case_id]
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT message_id, status, recipient FROM deliveries WHERE case_id = :c"),
            {"c": case_id},
        ).all()
        events = (
            conn.execute(
                text("SELECT DISTINCT status FROM outbox WHERE case_id = :c"), {"c": case_id}
            )
            .scalars()
            .all()
        )
    assert [(r.status, r.recipient) for r in rows] == [("cancelled", "(anonymised)")]
    assert "0123456789" not in rows[0].message_id  # the address's unsalted hash is gone
    assert set(events) <= {"done", "cancelled"}
    assert verify(store).ok
