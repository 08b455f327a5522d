"""Tampering with the database by raw SQL is caught, and the problem names the row or case
(issue 10, sections 2 and 4).

Each kind of tampering below is done behind the engine's back on a real SQLite file, then
`states.audit.verify` and `qmas audit verify` must both refuse the history, naming the first
bad history row or the case whose tables differ from what its last row committed to. What the
chain alone cannot see (a consistent truncation, a chain recomputed without a key) is caught
by a checkpoint kept outside the database, and named by the first row that differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from console.cli import main
from states.audit import make_checkpoint, rotate_key, verify
from states.chain import Key, row_hash
from states.digest import case_digest, case_parts, outbox_digest
from states.keys import make_key
from states.models import applications as app_t
from states.models import dependants as dep_t
from states.models import document_requests as docs_t
from states.models import history as hist_t
from states.store import Store
from tests.core.core_lifecycle import VALID, S, T, drive_to, fire
from workflows.clock import iso, now_utc
from workflows.engine import default_store

pytestmark = pytest.mark.usefixtures("frozen_clock")

KEY_1 = make_key("first-audit-key-" + "1" * 32, "test")
KEY_2 = make_key("second-audit-key-" + "2" * 32, "test")


# --- the database behind the engine's back ---------------------------------------------------
def sql(store: Store, statement: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def rows_of(store: Store, case_id: int) -> list[dict[str, Any]]:
    with store.read() as tx:
        result = tx.conn.execute(
            select(hist_t).where(hist_t.c.case_id == case_id).order_by(hist_t.c.id)
        )
        return [dict(r) for r in result.mappings()]


def outbox_of(store: Store, history_id: int) -> list[dict[str, Any]]:
    with store.read() as tx:
        result = tx.conn.execute(
            text("SELECT * FROM outbox WHERE history_id = :h ORDER BY id"), {"h": history_id}
        )
        return [dict(r) for r in result.mappings()]


def salt_of(store: Store, case_id: int) -> str | None:
    with store.read() as tx:
        stmt = select(app_t.c.privacy_salt).where(app_t.c.id == case_id)
        salt: str | None = tx.conn.execute(stmt).scalar_one()
        return salt


def digest_now(store: Store, case_id: int) -> str:
    """The case digest of the tables as they stand: what a forger can compute (it is unkeyed)."""
    with store.read() as tx:
        conn = tx.conn
        case = dict(conn.execute(select(app_t).where(app_t.c.id == case_id)).mappings().one())
        deps = conn.execute(
            select(dep_t).where(dep_t.c.application_id == case_id).order_by(dep_t.c.position)
        )
        docs = conn.execute(select(docs_t).where(docs_t.c.case_id == case_id).order_by(docs_t.c.id))
        parts = case_parts(
            case, [dict(d) for d in deps.mappings()], [dict(d) for d in docs.mappings()]
        )
    return case_digest(parts)


def insert_row(store: Store, row: dict[str, Any]) -> int:
    with store.engine.begin() as conn:
        key = conn.execute(hist_t.insert().values(**row)).inserted_primary_key
        assert key is not None
        return int(key[0])


def forge_after(prev: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A row continuing ``prev`` (same case), hashed as an unkeyed writer would."""
    row = {k: v for k, v in prev.items() if k != "id"}
    row.update(seq=prev["seq"] + 1, prev_hash=prev["hash"], **changes)
    row["hash"] = row_hash(row["prev_hash"], row)
    return row


def forge_appended_note(
    store: Store, case_id: int, secret: bytes | None, key_id: str | None
) -> int:
    """Append a note to a case the way a writer of the database who knows the code would:
    case version, case digest, outbox digest and head all consistent; signed with ``secret``."""
    last = rows_of(store, case_id)[-1]
    salt = salt_of(store, case_id)
    sql(store, "UPDATE applications SET version = version + 1 WHERE id = :c", c=case_id)
    row = {k: v for k, v in last.items() if k != "id"}
    row.update(
        seq=last["seq"] + 1,
        prev_hash=last["hash"],
        from_state=last["to_state"],
        trigger="note",
        actor="mallory",
        role="auditor",
        reason=None,
        note="All in order.",
        payload="{}",
        case_digest=digest_now(store, case_id),
        outbox_digest=outbox_digest([], salt),
        key_id=key_id,
    )
    row["hash"] = row_hash(row["prev_hash"], row, secret, salt)
    forged = insert_row(store, row)
    sql(store, "UPDATE applications SET head_hash = :h WHERE id = :c", h=row["hash"], c=case_id)
    return forged


def recompute_chain(store: Store, case_id: int, *, actor: str) -> int:
    """Rewrite the actor of a case's second row and re-hash the chain from there (unkeyed), head
    included; returns the edited row's id."""
    rows = rows_of(store, case_id)
    salt = salt_of(store, case_id)
    rows[1]["actor"] = actor
    prev = rows[0]["hash"]
    with store.engine.begin() as conn:
        for row in rows[1:]:
            row["prev_hash"] = prev
            row["hash"] = row_hash(prev, row, None, salt)
            conn.execute(
                text("UPDATE history SET actor = :a, prev_hash = :p, hash = :h WHERE id = :id"),
                {"a": row["actor"], "p": prev, "h": row["hash"], "id": row["id"]},
            )
            prev = row["hash"]
        conn.execute(app_t.update().where(app_t.c.id == case_id).values(head_hash=prev))
    return int(rows[1]["id"])


# --- the scenarios ----------------------------------------------------------------------------
@dataclass
class World:
    """The cases to tamper with and the store in force (its key is the configured one).

    ``cases``: an e-Visa (9 rows), a withdrawal (2), a lapse (4); after a rotation also a
    withdrawal signed with the first key and one signed with the second."""

    store: Store
    cases: list[int]
    tmp_path: Path

    def rows(self, i: int) -> list[dict[str, Any]]:
        return rows_of(self.store, self.cases[i])

    def case_row(self, i: int) -> int:
        """The id of case ``i``'s last history row (what a case problem names)."""
        return int(self.rows(i)[-1]["id"])


@dataclass
class Caught:
    """What verification must report: the row and case it names, words of the message."""

    row_id: int | None
    case_id: int | None
    words: str
    about_case: bool = False
    checkpoint: dict[str, Any] | None = field(default=None, repr=False)


def named(c: Caught) -> str:
    """How the one line of `qmas audit verify` names the problem (the issue's wording)."""
    if c.about_case:
        return f"case {c.case_id}: {c.words} (its last history row is {c.row_id})"
    where = f"history row {c.row_id}" if c.row_id is not None else "history"
    case = f" (case {c.case_id})" if c.case_id is not None else ""
    return f"{where}{case}: "


def build(base: Store, setup: str) -> tuple[Store, list[int]]:
    """The world for a setup: "plain" (no key), "keyed" (KEY_1 from the start), or "rotated"
    (unkeyed rows, rotated to KEY_1, more rows, rotated to KEY_2, more rows)."""
    if setup == "keyed":
        store = Store(engine=base.engine, key=KEY_1)
    else:
        store = Store(engine=base.engine, key=None)
    cases = [
        drive_to(store, S.evisa_issued),
        drive_to(store, S.withdrawn),
        drive_to(store, S.lapsed),
    ]
    if setup == "rotated":
        rotate_key(store, KEY_1, actor="tests", at=iso(now_utc()))
        store = Store(engine=base.engine, key=KEY_1)
        cases.append(drive_to(store, S.withdrawn))
        rotate_key(store, KEY_2, actor="tests", at=iso(now_utc()))
        store = Store(engine=base.engine, key=KEY_2)
        cases.append(drive_to(store, S.withdrawn))
    assert verify(store).ok
    return store, cases


Tamper = Callable[[World], Caught]


@dataclass(frozen=True)
class Kind:
    id: str
    tamper: Tamper
    setup: str = "plain"
    xfail: str | None = None


def edit_row(column: str, value: Any, *, case: int = 0, index: int = 4) -> Tamper:
    def tamper(w: World) -> Caught:
        victim = w.rows(case)[index]
        assert victim[column] != value
        sql(w.store, f"UPDATE history SET {column} = :v WHERE id = :id", v=value, id=victim["id"])
        return Caught(victim["id"], w.cases[case], "its hash does not match its content")

    return tamper


def delete_middle_row(w: World) -> Caught:
    rows = w.rows(0)
    sql(w.store, "DELETE FROM history WHERE id = :id", id=rows[3]["id"])
    return Caught(rows[4]["id"], w.cases[0], "is step 5 but step 4 was expected")


def delete_last_row(w: World) -> Caught:
    rows = w.rows(2)
    sql(w.store, "DELETE FROM history WHERE id = :id", id=rows[-1]["id"])
    # the chain is intact up to the new last row; the case row says more happened
    return Caught(rows[-2]["id"], w.cases[2], "rows are missing at the end")


def delete_case_history(w: World) -> Caught:
    sql(w.store, "DELETE FROM history WHERE case_id = :c", c=w.cases[1])
    return Caught(None, w.cases[1], "its history ends at step 0")


def insert_forged_row(w: World) -> Caught:
    """A row copied from the last one, re-hashed: it claims the outbox events of the row it
    copied, which it did not write."""
    last = w.rows(1)[-1]
    row = forge_after(last, from_state="withdrawn", to_state="evisa_issued", trigger="issue_evisa")
    return Caught(insert_row(w.store, row), w.cases[1], "outbox events differ")


def insert_forged_row_consistent(w: World) -> Caught:
    """The same with its outbox digest made right: the case row was not moved along."""
    last = w.rows(1)[-1]
    salt = salt_of(w.store, w.cases[1])
    row = forge_after(
        last,
        from_state="withdrawn",
        to_state="evisa_issued",
        trigger="issue_evisa",
        outbox_digest=outbox_digest([], salt),
    )
    row["hash"] = row_hash(row["prev_hash"], row, None, salt)
    forged = insert_row(w.store, row)
    return Caught(forged, w.cases[1], "the case is at version 2 but its history ends at step 3")


def insert_made_up_hash(w: World) -> Caught:
    row = forge_after(w.rows(2)[-1], actor="Mallory")
    row["hash"] = "0" * 64
    return Caught(insert_row(w.store, row), w.cases[2], "the row was edited")


def insert_wrong_prev_hash(w: World) -> Caught:
    row = forge_after(w.rows(2)[-1])
    row["prev_hash"] = "f" * 64
    row["hash"] = row_hash(row["prev_hash"], row)
    return Caught(insert_row(w.store, row), w.cases[2], "previous-hash does not match")


def swap_seq(w: World) -> Caught:
    a, b = w.rows(0)[2:4]
    # through a spare value: (case_id, seq) is unique
    sql(w.store, "UPDATE history SET seq = -1 WHERE id = :id", id=a["id"])
    sql(w.store, "UPDATE history SET seq = :s WHERE id = :id", s=a["seq"], id=b["id"])
    sql(w.store, "UPDATE history SET seq = :s WHERE id = :id", s=b["seq"], id=a["id"])
    return Caught(a["id"], w.cases[0], "is step 4 but step 3 was expected")


def swap_contents(w: World) -> Caught:
    a, b = w.rows(0)[5:7]
    columns = [c for c in a if c != "id"]
    sets = ", ".join(f'"{c}" = :{c}' for c in columns)
    sql(w.store, f"UPDATE history SET seq = -1 WHERE id = {a['id']}")
    sql(w.store, f"UPDATE history SET {sets} WHERE id = :id", **{**a, "id": b["id"]})
    sql(w.store, f"UPDATE history SET {sets} WHERE id = :id", **{**b, "id": a["id"]})
    return Caught(a["id"], w.cases[0], "is step 7 but step 6 was expected")


def swap_case_id(w: World) -> Caught:
    """The histories of two cases traded: each row now claims the other case."""
    two, three = w.cases[1], w.cases[2]
    first = w.rows(1)[0]
    sql(w.store, "UPDATE history SET case_id = -2 WHERE case_id = :c", c=two)
    sql(w.store, "UPDATE history SET case_id = :a WHERE case_id = :b", a=two, b=three)
    sql(w.store, "UPDATE history SET case_id = :a WHERE case_id = -2", a=three)
    return Caught(first["id"], three, "its hash does not match its content")


def swap_outbox_events(w: World) -> Caught:
    """Two rows' outbox events traded between them (history_id swapped)."""
    a, b = w.rows(0)[5:7]
    ea, eb = outbox_of(w.store, a["id"])[0], outbox_of(w.store, b["id"])[0]
    sql(w.store, "UPDATE outbox SET history_id = :h WHERE id = :id", h=b["id"], id=ea["id"])
    sql(w.store, "UPDATE outbox SET history_id = :h WHERE id = :id", h=a["id"], id=eb["id"])
    return Caught(a["id"], w.cases[0], "outbox events differ from what it wrote")


def edit_case(column: str, value: Any, words: str, *, case: int = 0) -> Tamper:
    """One column of the case row edited: the case is named, with what differs."""

    def tamper(w: World) -> Caught:
        with w.store.engine.begin() as conn:
            cid = w.cases[case]
            old = conn.execute(select(app_t.c[column]).where(app_t.c.id == cid)).scalar_one()
            assert old != value, (column, old)
            conn.execute(app_t.update().where(app_t.c.id == cid).values({column: value}))
        return Caught(w.case_row(case), w.cases[case], f"{words} from its history", True)

    return tamper


def edit_state(w: World) -> Caught:
    sql(w.store, "UPDATE applications SET state = 'refused' WHERE id = :c", c=w.cases[0])
    return Caught(
        w.case_row(0),
        w.cases[0],
        "the case is in refused but its last row moved it to evisa_issued",
    )


def edit_head_hash(w: World) -> Caught:
    sql(w.store, "UPDATE applications SET head_hash = :h WHERE id = :c", h="a" * 64, c=w.cases[2])
    return Caught(w.case_row(2), w.cases[2], "chain head does not match its last history row")


def edit_profile(w: World) -> Caught:
    with w.store.engine.begin() as conn:
        cid = w.cases[0]
        profile = conn.execute(select(app_t.c.profile).where(app_t.c.id == cid)).scalar_one()
        profile = json.loads(profile) if isinstance(profile, str) else profile
        profile["income_hkd_last_year"] = 9_000_000
        conn.execute(app_t.update().where(app_t.c.id == cid).values(profile=profile))
    return Caught(w.case_row(0), w.cases[0], "profile differs from its history", True)


def edit_dependant(column: str, value: str, words: str) -> Tamper:
    def tamper(w: World) -> Caught:
        sql(
            w.store,
            f"UPDATE dependants SET {column} = :v WHERE application_id = :c AND position = 2",
            v=value,
            c=w.cases[0],
        )
        return Caught(w.case_row(0), w.cases[0], f"{words} from its history", True)

    return tamper


def edit_document_status(w: World) -> Caught:
    sql(
        w.store,
        "UPDATE document_requests SET status = 'received', waiver_reason = NULL "
        "WHERE case_id = :c AND status = 'waived'",
        c=w.cases[0],
    )
    return Caught(w.case_row(0), w.cases[0], "documents differs from its history", True)


def delete_document(w: World) -> Caught:
    sql(
        w.store,
        "DELETE FROM document_requests WHERE id = "
        "(SELECT max(id) FROM document_requests WHERE case_id = :c)",
        c=w.cases[2],
    )
    return Caught(w.case_row(2), w.cases[2], "documents differs from its history", True)


def insert_document(w: World) -> Caught:
    sql(
        w.store,
        "INSERT INTO document_requests (case_id, round, item, due, status, requested_at) "
        "VALUES (:c, 1, 'police_certificate', '2023-06-30', 'requested', '2023-06-01T02:00:00Z')",
        c=w.cases[1],
    )
    return Caught(w.case_row(1), w.cases[1], "documents differs from its history", True)


def move_document(w: World) -> Caught:
    """The e-Visa case's documents handed to the withdrawn case (ids across cases)."""
    sql(
        w.store,
        "UPDATE document_requests SET case_id = :b WHERE case_id = :a",
        a=w.cases[0],
        b=w.cases[1],
    )
    return Caught(w.case_row(0), w.cases[0], "documents differs from its history", True)


def edit_outbox_payload(w: World) -> Caught:
    paid = next(r for r in w.rows(0) if r["trigger"] == "pay_fee")
    event = outbox_of(w.store, paid["id"])[0]
    body = json.loads(event["payload"])
    body["payload"]["amount"] = 1
    sql(
        w.store, "UPDATE outbox SET payload = :p WHERE id = :id", p=json.dumps(body), id=event["id"]
    )
    return Caught(paid["id"], w.cases[0], "outbox events differ from what it wrote")


def delete_outbox_event(w: World) -> Caught:
    victim = w.rows(2)[1]
    sql(w.store, "DELETE FROM outbox WHERE history_id = :h", h=victim["id"])
    return Caught(victim["id"], w.cases[2], "an event was edited or removed")


Prepared = Callable[[World], Callable[[], tuple[int | None, int | None, str]]]


def with_checkpoint(prepare: Prepared) -> Tamper:
    """Prepare the history, take a checkpoint, then tamper so consistently that the chain
    alone still verifies: the checkpoint must name the first row that differs."""

    def run(w: World) -> Caught:
        tamper = prepare(w)
        checkpoint = make_checkpoint(w.store)
        row_id, case_id, words = tamper()
        assert verify(w.store).ok, "the chain alone cannot see this: only a checkpoint can"
        return Caught(row_id, case_id, words, checkpoint=checkpoint)

    return run


def remove_last_row(w: World, case: int) -> int:
    """Remove a case's last row, and the outbox events it wrote (which would otherwise be
    left written by no row), and put the case row back where its chain now ends."""
    last, before = w.rows(case)[-1], w.rows(case)[-2]
    sql(w.store, "DELETE FROM history WHERE id = :id", id=last["id"])
    sql(w.store, "DELETE FROM outbox WHERE history_id = :id", id=last["id"])
    sql(
        w.store,
        "UPDATE applications SET version = :v, head_hash = :h WHERE id = :c",
        v=before["seq"],
        h=before["hash"],
        c=w.cases[case],
    )
    return int(last["id"])


def truncate_tail(w: World) -> Callable[[], tuple[int | None, int | None, str]]:
    """The history's last row is a note (which changes nothing the case digest sees but the
    version); it is removed and the case row put back where the chain now ends."""
    fire(w.store, w.cases[2], VALID[T.note])
    return lambda: (remove_last_row(w, 2), None, "the history was truncated")


def delete_row_consistently(w: World) -> Callable[[], tuple[int | None, int | None, str]]:
    """The same with a case's last row that other cases' rows follow."""
    fire(w.store, w.cases[0], VALID[T.note])
    drive_to(w.store, S.withdrawn)
    return lambda: (remove_last_row(w, 0), None, "in the checkpoint and is gone: it was deleted")


def recompute_with_checkpoint(w: World) -> Callable[[], tuple[int | None, int | None, str]]:
    def tamper() -> tuple[int | None, int | None, str]:
        edited = recompute_chain(w.store, w.cases[0], actor="Officer who was never there")
        # the first row that differs, not the checkpoint's last row
        return edited, w.cases[0], "it was edited and the chain recomputed"

    return tamper


def recompute_keyed(w: World) -> Caught:
    """Without the key a recomputed chain does not need a checkpoint to be caught."""
    edited = recompute_chain(w.store, w.cases[0], actor="Officer who was never there")
    return Caught(edited, w.cases[0], "its hash does not match its content")


def forge_appended_unsigned(w: World) -> Caught:
    forged = forge_appended_note(w.store, w.cases[1], None, None)
    first = w.rows(0)[0]["id"]
    return Caught(
        forged, w.cases[1], f"it is not signed with the audit key, though row {first} before it is"
    )


def forge_appended_wrong_key(w: World) -> Caught:
    """It names the key in force, but is signed with a guess."""
    guess = b"guessed-" + b"x" * 32
    forged = forge_appended_note(w.store, w.cases[1], guess, KEY_1.id)
    return Caught(forged, w.cases[1], "its hash does not match its content")


def edit_anchor(w: World) -> Caught:
    sql(w.store, "UPDATE audit_anchors SET last_id = last_id - 2 WHERE key_id = :k", k=KEY_2.id)
    return Caught(None, None, "the anchor's signature is wrong: the anchor was edited or forged")


def delete_anchors(w: World) -> Caught:
    sql(w.store, "DELETE FROM audit_anchors")
    first = w.rows(0)[0]["id"]
    return Caught(first, w.cases[0], "it predates the audit key and no anchor vouches for it")


def delete_latest_anchor(w: World) -> Caught:
    """Going back to the first anchor: it was signed with a key no longer in force."""
    sql(w.store, "DELETE FROM audit_anchors WHERE key_id = :k", k=KEY_2.id)
    return Caught(None, None, f"the latest anchor was signed with key {KEY_1.id}")


def edit_pre_key_row(w: World) -> Caught:
    """A row written before any key, vouched for by the anchor, edited."""
    return edit_row("reason", "Edited after the rotation", case=1, index=1)(w)


def edit_old_key_row(w: World) -> Caught:
    """A row signed with the first key (which the process no longer has) edited."""
    victim = w.rows(3)[0]  # the anchor's last row is the case's last row
    sql(w.store, "UPDATE history SET reason = 'Edited' WHERE id = :id", id=victim["id"])
    return Caught(victim["id"], w.cases[3], "this row differs from what the anchor of")


def edit_row_after_rotation(w: World) -> Caught:
    """A row signed with the key in force, after the latest anchor."""
    return edit_row("actor", "mallory", case=4, index=0)(w)


KINDS = [
    Kind("edit-middle-row-reason", edit_row("reason", "Edited reason")),
    Kind("edit-middle-row-actor", edit_row("actor", "Someone Else")),
    Kind("edit-middle-row-payload", edit_row("payload", '{"amount": 1, "method": "fps"}')),
    Kind("edit-middle-row-at", edit_row("at", "2023-06-01T01:59:59.000000Z")),
    Kind("edit-middle-row-role", edit_row("role", "committee")),
    Kind("edit-middle-row-to-state", edit_row("to_state", "refused")),
    Kind("edit-row-case-digest", edit_row("case_digest", "0" * 64 + ":" + "0" * 56)),
    Kind("edit-last-row-reason", edit_row("reason", "no reason", case=1, index=-1)),
    Kind("delete-middle-row", delete_middle_row),
    Kind("delete-last-row", delete_last_row),
    Kind("delete-case-history", delete_case_history),
    Kind("insert-forged-row", insert_forged_row),
    Kind("insert-forged-row-consistent", insert_forged_row_consistent),
    Kind("insert-row-made-up-hash", insert_made_up_hash),
    Kind("insert-row-wrong-prev-hash", insert_wrong_prev_hash),
    Kind("swap-seq", swap_seq),
    Kind("swap-contents", swap_contents),
    Kind("swap-case-id", swap_case_id),
    Kind("swap-outbox-events", swap_outbox_events),
    Kind("truncate-tail+checkpoint", with_checkpoint(truncate_tail)),
    Kind("delete-row-consistently+checkpoint", with_checkpoint(delete_row_consistently)),
    Kind("recompute-chain+checkpoint", with_checkpoint(recompute_with_checkpoint)),
    Kind("recompute-chain-keyed", recompute_keyed, "keyed"),
    Kind("forge-appended-row-keyed", forge_appended_unsigned, "keyed"),
    Kind("forge-appended-row-wrong-key", forge_appended_wrong_key, "keyed"),
    Kind("edit-middle-row-keyed", edit_row("reason", "Edited reason"), "keyed"),
    Kind("edit-state", edit_state),
    Kind("edit-state-since", edit_case("state_since", "2023-01-01T00:00:00Z", "state differs")),
    Kind("edit-head-hash", edit_head_hash),
    Kind("edit-file-number", edit_case("file_number", "QM2023-999999", "file number differs")),
    Kind("edit-fee-due", edit_case("fee_due", 1, "fee due differs")),
    Kind("edit-fee-paid", edit_case("fee_paid", 1, "fee paid differs")),
    Kind(
        "edit-evisa-number", edit_case("evisa_number", "EV2023-FORGED00-X", "e-Visa number differs")
    ),
    Kind(
        "edit-dependant-evisa-number",
        edit_dependant("evisa_number", "EV2023-FORGED00-D2-4", "dependants differs"),
    ),
    Kind("edit-score", edit_case("score", 999, "score differs")),
    Kind("edit-ruleset", edit_case("ruleset", "gpt-2024", "rule set differs")),
    Kind("edit-quota-year", edit_case("quota_year", 2022, "quota allotment differs")),
    Kind("edit-nationality", edit_case("nationality", "GB", "applicant's details differs")),
    Kind("edit-profile", edit_profile),
    Kind("edit-name (personal data)", edit_case("name", "MALLORY Eve", "personal data differs")),
    Kind(
        "edit-travel-document (personal data)",
        edit_case("travel_document_number", "X99999999", "personal data differs", case=2),
    ),
    Kind(
        "edit-dependant-name (personal data)",
        edit_dependant("name", "MALLORY Junior", "personal data differs"),
    ),
    Kind("edit-document-status", edit_document_status),
    Kind("delete-document", delete_document),
    Kind("insert-document", insert_document),
    Kind("move-documents-across-cases", move_document),
    Kind("edit-outbox-payload", edit_outbox_payload),
    Kind("delete-outbox-event", delete_outbox_event),
    Kind("edit-anchor", edit_anchor, "rotated"),
    Kind("delete-anchor after rotation", delete_anchors, "rotated"),
    Kind("delete-latest-anchor", delete_latest_anchor, "rotated"),
    Kind("edit-pre-key-row after rotation", edit_pre_key_row, "rotated"),
    Kind("edit-row-after-rotation", edit_row_after_rotation, "rotated"),
    Kind("edit-old-key-row after rotation", edit_old_key_row, "rotated"),
]


def _param(kind: Kind) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=kind.xfail)] if kind.xfail else []
    return pytest.param(kind, id=kind.id, marks=marks)


@pytest.fixture
def cli_audit(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """`qmas audit verify ARGS` against the test's SQLite file with ``key`` configured (through
    QMAS_AUDIT_KEY); returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("QMAS_DATABASE_URL", str(store.engine.url))
    monkeypatch.delenv("QMAS_AUDIT_KEY_FILE", raising=False)

    def run(*extra: str, key: Key | None = None) -> tuple[int, str, str]:
        if key is None:
            monkeypatch.delenv("QMAS_AUDIT_KEY", raising=False)
        else:
            monkeypatch.setenv("QMAS_AUDIT_KEY", key.secret.decode())
        default_store.cache_clear()
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(["audit", "verify", *extra])
        out, err = capsys.readouterr()
        default_store().dispose()
        default_store.cache_clear()
        assert "Traceback" not in out + err
        return int(exit_info.value.code or 0), out, err

    yield run
    default_store.cache_clear()


def assert_reported(report: Any, caught: Caught) -> Any:
    assert not report.ok, f"not caught: {caught}"
    problem = report.problems[0]
    assert (problem.row_id, problem.case_id) == (caught.row_id, caught.case_id), str(problem)
    assert problem.about_case == caught.about_case, str(problem)
    assert caught.words in problem.message, str(problem)
    assert str(problem).startswith(named(caught)), str(problem)
    return problem


@pytest.mark.parametrize("kind", [_param(k) for k in KINDS])
def test_tampering_is_caught_and_named(
    store: Store, cli_audit: Any, tmp_path: Path, kind: Kind
) -> None:
    keyed, cases = build(store, kind.setup)
    caught = kind.tamper(World(keyed, cases, tmp_path))

    report = verify(keyed, caught.checkpoint)
    problem = assert_reported(report, caught)

    extra: list[str] = []
    if caught.checkpoint is not None:
        saved = tmp_path / "checkpoint.json"
        saved.write_text(json.dumps(caught.checkpoint))
        extra = ["--checkpoint", str(saved)]
    code, out, err = cli_audit(*extra, key=keyed.key)
    assert (code, out) == (1, "")
    failed = [line for line in err.splitlines() if line.startswith("audit FAILED: ")]
    assert failed == [f"audit FAILED: {' '.join(str(problem).split())}"], err
    assert named(caught) in failed[0] and caught.words in failed[0]
    others = [line for line in err.splitlines() if line not in failed]
    assert all(line.startswith("warning: ") for line in others), err


def test_there_are_at_least_23_kinds_of_tampering() -> None:
    assert len({k.id for k in KINDS}) == len(KINDS) >= 23


# --- what still verifies ----------------------------------------------------------------------
@pytest.fixture
def cases(store: Store) -> list[int]:
    return build(store, "plain")[1]


def test_untampered_history_verifies(store: Store, cases: list[int], cli_audit: Any) -> None:
    report = verify(store)
    assert report.ok and report.rows == 9 + 2 + 4 and report.cases == 3
    code, out, err = cli_audit()
    assert code == 0
    assert "audit ok: 15 history rows over 3 cases verify" in out
    # without a key the chain is only as strong as the database's permissions: said so
    assert err.startswith("warning: no audit key is configured")


def test_processing_the_outbox_does_not_disturb_verification(
    store: Store, cases: list[int]
) -> None:
    """The outbox digest covers what a move wrote, not how far delivering it has gone."""
    sql(
        store,
        "UPDATE outbox SET status = 'done', attempts = 2, last_error = 'SMTP 451', "
        "processed_at = '2023-06-01T03:00:00Z', claimed_at = '2023-06-01T02:59:00Z'",
    )
    assert verify(store).ok


def test_updated_at_alone_is_not_part_of_the_case_digest(store: Store, cases: list[int]) -> None:
    """The history row's `at` carries the time; the stamp on the case row is bookkeeping."""
    sql(store, "UPDATE applications SET updated_at = '2030-01-01T00:00:00Z'")
    assert verify(store).ok


def test_checkpoint_still_verifies_after_new_history(
    store: Store, cases: list[int], cli_audit: Any, tmp_path: Path
) -> None:
    checkpoint = make_checkpoint(store)
    drive_to(store, S.fee_paid, mainland=False)
    assert verify(store, checkpoint).ok
    saved = tmp_path / "checkpoint.json"
    saved.write_text(json.dumps(checkpoint))
    code, out, _ = cli_audit("--checkpoint", str(saved))
    assert code == 0 and "and matches the checkpoint" in out


def test_an_edit_with_a_checkpoint_names_the_edited_row_not_the_checkpoint(
    store: Store, cases: list[int]
) -> None:
    checkpoint = make_checkpoint(store)
    victim = rows_of(store, cases[0])[2]
    sql(store, "UPDATE history SET actor = 'x' WHERE id = :id", id=victim["id"])
    problem = verify(store, checkpoint).problems[0]
    assert (problem.row_id, problem.case_id) == (victim["id"], cases[0])
    assert problem.row_id != checkpoint["last_id"]


def test_all_problems_lists_each_tampered_case(
    store: Store, cases: list[int], cli_audit: Any
) -> None:
    first, second = rows_of(store, cases[0])[1], rows_of(store, cases[2])[0]
    for victim in (first, second):
        sql(store, "UPDATE history SET actor = 'x' WHERE id = :id", id=victim["id"])
    sql(store, "UPDATE applications SET evisa_number = 'EV-X' WHERE id = :c", c=cases[0])
    report = verify(store, all_problems=True)
    named_ = {(p.row_id, p.case_id) for p in report.problems}
    assert {(first["id"], cases[0]), (second["id"], cases[2])} <= named_
    code, _, err = cli_audit("--all")
    failed = [line for line in err.splitlines() if line.startswith("audit FAILED: ")]
    assert code == 1 and len(failed) == len(report.problems) >= 2
    assert f"history row {first['id']} (case {cases[0]})" in failed[0]


# --- PostgreSQL ------------------------------------------------------------------------------
PG_KINDS = [
    k
    for k in KINDS
    if k.id
    in {
        "edit-middle-row-reason",
        "delete-middle-row",
        "insert-forged-row",
        "swap-seq",
        "recompute-chain+checkpoint",
        "forge-appended-row-keyed",
        "edit-evisa-number",
        "edit-profile",
        "edit-name (personal data)",
        "edit-document-status",
        "edit-outbox-payload",
    }
]


@pytest.mark.parametrize("kind", [_param(k) for k in PG_KINDS])
def test_tampering_is_caught_on_any_store(any_store: Store, tmp_path: Path, kind: Kind) -> None:
    keyed, cases = build(any_store, kind.setup)
    caught = kind.tamper(World(keyed, cases, tmp_path))
    assert_reported(verify(keyed, caught.checkpoint), caught)


@pytest.mark.parametrize(
    "kind", [k for k in KINDS if k.setup == "rotated" and not k.xfail], ids=lambda k: k.id
)
def test_tampering_after_a_rotation_is_caught_on_postgresql(
    pg_store: Store, tmp_path: Path, kind: Kind
) -> None:
    keyed, cases = build(pg_store, kind.setup)
    caught = kind.tamper(World(keyed, cases, tmp_path))
    assert_reported(verify(keyed, caught.checkpoint), caught)


def test_deleting_a_case_history_on_any_store_names_only_that_case(any_store: Store) -> None:
    case_id = drive_to(any_store, S.fee_paid, mainland=True)
    other = drive_to(any_store, S.refused)
    sql(any_store, "DELETE FROM history WHERE case_id = :c", c=case_id)
    problems = verify(any_store, all_problems=True).problems
    # the case row, and each outbox event its deleted rows wrote, are named; nothing else
    assert problems[0].row_id is None and problems[0].case_id == case_id
    assert {p.case_id for p in problems} == {case_id}
    assert all("written by no history row" in p.message for p in problems[1:])
    assert other not in {p.case_id for p in problems}
    with any_store.read() as tx:
        assert tx.conn.execute(select(func.count()).select_from(hist_t)).scalar_one() > 0
