"""Audit of the history chain: verify it (rows, case digests, outbox, key, anchor), export and
check a checkpoint kept elsewhere, rotate the audit key behind a signed anchor."""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from states.chain import (
    Key,
    VerifyReport,
    anchor_line,
    anchor_signature,
    decode_index,
    encode_index,
    verify_rows,
)
from states.digest import case_parts
from states.errors import InvalidInput
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
        select(_hist, _app.c.privacy_salt)
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
    for c in _stream(conn, select(_app).order_by(_app.c.id)):
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
        case["digest_parts"] = case_parts(case, mine_deps, mine_docs)
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
    return verify_rows(
        _rows(conn),
        _cases(conn),
        checkpoint=checkpoint,
        stop_at_first=not all_problems,
        key=key,
        anchor=latest_anchor(conn),
        index=index,
    )


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


def read_checkpoint(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        checkpoint: dict[str, Any] = {
            "rows": int(data["rows"]),
            "last_id": int(data["last_id"]),
            "digest": str(data["digest"]),
        }
        if "ids" in data:  # version 2: with the row index
            checkpoint.update(ids=str(data["ids"]), hashes=str(data["hashes"]))
            decode_index(checkpoint)
        return checkpoint
    except FileNotFoundError:
        raise InvalidInput(f"no checkpoint file at {path}") from None
    except OSError as err:  # a folder, no permission
        raise InvalidInput(f"cannot read {path}: {err.strerror or err}") from None
    except (ValueError, KeyError, TypeError, RecursionError, AttributeError):
        raise InvalidInput(
            f"{path} is not a checkpoint written by 'qmas audit checkpoint'"
        ) from None


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
        anchor["signature"] = anchor_signature(anchor, new.secret)
        conn.execute(insert(_anchors).values(**anchor, **encode_index(ids, bytes(prefixes))))
    return anchor


def anchors(store: Store) -> list[dict[str, Any]]:
    with store.read() as tx:
        result = tx.conn.execute(select(_anchors).order_by(_anchors.c.id))
        return [dict(r) for r in result.mappings()]
