"""Audit of the history chain: verify it (rows, case digests, outbox, key, anchor), export and
check a checkpoint kept elsewhere, rotate the audit key behind a signed anchor."""

from __future__ import annotations

import binascii
import hashlib
import itertools
import json
import zlib
from array import array
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Connection, Text, func, insert, select, text, type_coerce

from states.chain import (
    Key,
    Problem,
    VerifyReport,
    anchor_line,
    anchor_signature,
    decode_index,
    encode_index,
    verify_rows,
)
from states.digest import case_parts
from states.errors import InvalidInput, NotFound
from states.models import applications as _app
from states.models import audit_anchors as _anchors
from states.models import dependants as _dep
from states.models import document_requests as _docs
from states.models import history as _hist
from states.models import outbox as _out
from states.store import Store

_BATCH = 2000


def _stream(conn: Connection, stmt: Any) -> Iterator[Mapping[str, Any]]:
    """Rows in batches (a server-side cursor on PostgreSQL). The option is the statement's:
    set on the connection it would turn the anchor's INSERT into a cursor too."""
    result = conn.execute(stmt, execution_options={"yield_per": _BATCH})
    rows: Iterator[Any] = iter(result.mappings())
    yield from rows


def _rows(conn: Connection) -> Iterator[dict[str, Any]]:
    """History rows in id order, each with its case's salt and the outbox events it wrote."""
    rows = _stream(
        conn,
        select(_hist, _app.c.privacy_salt, _app.c.id.label("case_row"))
        .select_from(_hist.outerjoin(_app, _app.c.id == _hist.c.case_id))
        .order_by(_hist.c.id),
    )
    events = _stream(
        conn,
        select(_out.c.history_id, _out.c.topic, _out.c.trigger, _out.c.payload)
        .where(_out.c.history_id.is_not(None))
        .order_by(_out.c.history_id, _out.c.id),
    )
    pending = next(events, None)
    for r in rows:
        row = dict(r)
        rid = row["id"]
        written: list[tuple[str, str, dict[str, Any]]] = []
        while pending is not None and pending["history_id"] <= rid:
            if pending["history_id"] == rid:
                written.append((pending["topic"], pending["trigger"], _body(pending["payload"])))
            pending = next(events, None)
        row["outbox"] = written
        yield row


def _body(payload: str) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError):
        return {"unreadable": payload}
    return value if isinstance(value, dict) else {"unreadable": payload}


def _cases(conn: Connection) -> Iterator[dict[str, Any]]:
    """Each case (id order) with the parts its digest covers, read from the tables."""
    deps = _stream(conn, select(_dep).order_by(_dep.c.application_id, _dep.c.position))
    docs = _stream(conn, select(_docs).order_by(_docs.c.case_id, _docs.c.id))
    next_dep, next_doc = next(deps, None), next(docs, None)
    # JSON columns as stored text: one that does not parse is this case's problem (named by
    # verify), not an exception that would stop the audit
    columns = [
        type_coerce(c, Text).label(c.name) if isinstance(c.type, JSON) else c for c in _app.c
    ]
    for c in _stream(conn, select(*columns).order_by(_app.c.id)):
        case = dict(c)
        cid = case["id"]
        mine_deps, mine_docs = [], []
        while next_dep is not None and next_dep["application_id"] <= cid:
            if next_dep["application_id"] == cid:
                mine_deps.append(dict(next_dep))
            next_dep = next(deps, None)
        while next_doc is not None and next_doc["case_id"] <= cid:
            if next_doc["case_id"] == cid:
                mine_docs.append(dict(next_doc))
            next_doc = next(docs, None)
        try:
            case["digest_parts"] = case_parts(case, mine_deps, mine_docs)
        except (ValueError, TypeError, KeyError, RecursionError):
            case["digest_error"] = (
                "its tables hold a value that cannot be read (the profile, a date, a number): "
                "they were edited"
            )
        yield case


def latest_anchor(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(select(_anchors).order_by(_anchors.c.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def verify_in(
    conn: Connection,
    key: Key | None,
    checkpoint: dict[str, Any] | None = None,
    *,
    all_problems: bool = False,
    index: bool = False,
) -> VerifyReport:
    report = verify_rows(
        _rows(conn),
        _cases(conn),
        checkpoint=checkpoint,
        stop_at_first=not all_problems,
        key=key,
        anchor=latest_anchor(conn),
        index=index,
    )
    if report.ok or all_problems:
        for event_id, case_id in _orphan_events(conn, limit=None if all_problems else 1):
            report.problems.append(
                Problem(
                    None,
                    case_id,
                    f"outbox event {event_id} was written by no history row of its case: it "
                    "was forged or moved",
                )
            )
    return report


def _orphan_events(conn: Connection, *, limit: int | None) -> list[tuple[int, int]]:
    """Outbox events no transition of their case wrote (every real one has its history row)."""
    stmt = (
        select(_out.c.id, _out.c.case_id)
        .select_from(_out.outerjoin(_hist, _hist.c.id == _out.c.history_id))
        .where((_hist.c.id.is_(None)) | (_hist.c.case_id != _out.c.case_id))
        .order_by(_out.c.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(int(r.id), int(r.case_id)) for r in conn.execute(stmt)]


def verify(
    store: Store,
    checkpoint: dict[str, Any] | None = None,
    *,
    all_problems: bool = False,
    index: bool = False,
) -> VerifyReport:
    with store.read() as tx:
        return verify_in(tx.conn, store.key, checkpoint, all_problems=all_problems, index=index)


def make_checkpoint(store: Store) -> dict[str, Any]:
    """The chain to keep outside the database: row count, last id, digest of all hashes, and an
    index (each row's id and the first 8 bytes of its hash) to name the first row that differs."""
    report = verify(store, index=True)
    if not report.ok:
        raise InvalidInput(
            f"the chain does not verify, no checkpoint written: {report.problems[0]}"
        )
    return {
        "version": 2,
        "rows": report.rows,
        "last_id": report.last_id,
        "digest": report.root,
        **encode_index(report.index_ids, bytes(report.index_hashes)),
    }


MAX_CHECKPOINT_BYTES = 1 << 30  # 1 GiB: 10 million rows take about 110 MB


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint file, checked to the last field: one line naming the file otherwise."""
    not_ours = InvalidInput(
        f"{str(path)[:80]} is not a checkpoint written by 'qmas audit checkpoint'"
    )
    try:
        if not path.is_file():
            if not path.exists():
                raise InvalidInput(f"no checkpoint file at {str(path)[:80]}")
            raise not_ours  # a folder, a device, a FIFO: never read
        if path.stat().st_size > MAX_CHECKPOINT_BYTES:
            raise not_ours
        with path.open("rb") as stream:
            raw = stream.read(MAX_CHECKPOINT_BYTES + 1)
        data = json.loads(raw)
    except OSError as err:  # no permission, a symlink loop
        raise InvalidInput(f"cannot read {str(path)[:80]}: {err.strerror or err}") from None
    except (ValueError, RecursionError):
        raise not_ours from None
    checkpoint = _checked_checkpoint(data)
    if checkpoint is None:
        raise not_ours
    return checkpoint


def _count(value: Any) -> int | None:
    """A row count or id as the checkpoint writes it: a plain integer, 0 to 2**63 - 1."""
    if type(value) is not int or not 0 <= value < 1 << 63:
        return None
    return value


def _checked_checkpoint(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    rows, last_id, digest = (
        _count(data.get("rows")),
        _count(data.get("last_id")),
        data.get("digest"),
    )
    if rows is None or last_id is None or not isinstance(digest, str):
        return None
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return None
    checkpoint: dict[str, Any] = {"rows": rows, "last_id": last_id, "digest": digest}
    version = data.get("version", 1)
    if version == 1 and "ids" not in data and "hashes" not in data:
        return checkpoint  # written before the row index
    if (
        version != 2
        or not isinstance(data.get("ids"), str)
        or not isinstance(data.get("hashes"), str)
    ):
        return None
    checkpoint.update(ids=data["ids"], hashes=data["hashes"])
    try:
        ids, _ = decode_index(checkpoint)
    except (ValueError, binascii.Error, zlib.error):
        return None
    increasing = all(a < b for a, b in itertools.pairwise(ids))
    if len(ids) != rows or (ids[-1] if ids else 0) != last_id or not increasing:
        return None
    return checkpoint


def rotate_key(store: Store, new: Key, *, actor: str, at: str) -> dict[str, Any]:
    """Verify the whole history with the key in force, then anchor it with ``new``: a signed
    checkpoint in the database that vouches for every row so far, whatever key signed it.

    Writers wait (the write lock, or a table lock on PostgreSQL) so no row slips in between."""
    if store.key is not None and new.id == store.key.id:
        raise InvalidInput("the new key is the key in force: rotate to a different key")
    with store.write() as tx:
        conn = tx.conn
        if tx.pg:
            conn.execute(text("LOCK TABLE history IN SHARE ROW EXCLUSIVE MODE"))
        report = verify_in(conn, store.key)
        if store.key is None and (report.signed_rows or report.anchor is not None):
            raise InvalidInput(
                "the history has rows signed with an audit key (or an anchor): configure that "
                "key (QMAS_AUDIT_KEY_FILE) to rotate; without it they cannot be verified, and "
                "an anchor would vouch for whatever they now hold"
            )
        if not report.ok:
            raise InvalidInput(
                "the history does not verify, so it is not anchored (an anchor would vouch "
                f"for a tampered history): {report.problems[0]}"
            )
        digest = hashlib.sha256()
        rows = 0
        ids: array[int] = array("q")
        prefixes = bytearray()
        for row in _rows(conn):
            line = anchor_line(row, row.get("privacy_salt"))
            digest.update(line)
            ids.append(int(row["id"]))
            prefixes += hashlib.sha256(line).digest()[:8]
            rows += 1
        last_id = conn.execute(select(func.coalesce(func.max(_hist.c.id), 0))).scalar_one()
        anchor: dict[str, Any] = {
            "at": at,
            "actor": actor,
            "last_id": int(last_id),
            "rows": rows,
            "digest": digest.hexdigest(),
            "key_id": new.id,
            "previous_key_id": store.key.id if store.key else None,
        }
        anchor.update(encode_index(ids, bytes(prefixes)))
        anchor["signature"] = anchor_signature(anchor, new.secret)
        conn.execute(insert(_anchors).values(**anchor))
    return anchor


def anchors(store: Store) -> list[dict[str, Any]]:
    with store.read() as tx:
        result = tx.conn.execute(select(_anchors).order_by(_anchors.c.id))
        return [dict(r) for r in result.mappings()]


def verify_case(store: Store, case_id: int) -> dict[str, Any]:
    """Whether one case's chain verifies: each row's link and hash (under the audit key),
    the outbox events each row wrote, and the case row against its last history row.

    Rows the latest anchor signed are vouched for by it; the anchor itself covers every
    case at once and is checked by the whole-chain audit (`states.audit.verify`)."""
    with store.read() as tx:
        conn = tx.conn
        case_row = conn.execute(select(_app).where(_app.c.id == case_id)).mappings().first()
        if case_row is None:
            raise NotFound(f"no case {case_id}")
        salt = case_row["privacy_salt"]
        rows = [
            {**r, "privacy_salt": salt, "outbox": []}
            for r in conn.execute(
                select(_hist).where(_hist.c.case_id == case_id).order_by(_hist.c.id)
            ).mappings()
        ]
        by_id = {r["id"]: r for r in rows}
        for e in conn.execute(
            select(_out.c.history_id, _out.c.topic, _out.c.trigger, _out.c.payload)
            .where(_out.c.case_id == case_id, _out.c.history_id.is_not(None))
            .order_by(_out.c.history_id, _out.c.id)
        ).mappings():
            if e["history_id"] in by_id:
                by_id[e["history_id"]]["outbox"].append(
                    (e["topic"], e["trigger"], _body(e["payload"]))
                )
        deps = [
            dict(d)
            for d in conn.execute(
                select(_dep).where(_dep.c.application_id == case_id).order_by(_dep.c.position)
            ).mappings()
        ]
        docs = [
            dict(d)
            for d in conn.execute(
                select(_docs).where(_docs.c.case_id == case_id).order_by(_docs.c.id)
            ).mappings()
        ]
        anchor = latest_anchor(conn)
    case_dict = dict(case_row)
    case_dict["digest_parts"] = case_parts(case_dict, deps, docs)
    report = verify_rows(rows, [case_dict], stop_at_first=False, key=store.key)
    anchored = int(anchor["last_id"]) if anchor else 0
    problems = [
        str(p)
        for p in report.problems
        if not (p.row_id is not None and p.row_id <= anchored and _vouched(p.message))
    ]
    return {"ok": not problems, "problems": problems, "rows": report.rows}


def _vouched(message: str) -> bool:
    """A per-case check's refusal that only the anchor (not read here) can lift."""
    return "no anchor vouches" in message or "not signed with the audit key, though" in message
