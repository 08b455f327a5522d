"""The history hash chain: how a row is hashed, how a chain is verified, checkpoints.

``hash = sha256(prev_hash + canonical JSON of the row)``, chained per case (``prev_hash`` of a
case's first row is empty). Rows are verified in global id order; each must continue its case's
chain (seq + 1, same prev hash) and the case row must end where its chain ends (version, head).
A checkpoint (row count, last id and a digest of every hash up to it) kept outside the database
also catches a truncated tail or a chain recomputed from scratch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

HASHED_FIELDS = (
    "case_id",
    "seq",
    "from_state",
    "to_state",
    "trigger",
    "actor",
    "role",
    "reason",
    "payload",
    "at",
    "workflow",
    "ruleset",
)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Hashed only when present, so that rows written before notes existed still verify.
OPTIONAL_HASHED_FIELDS = ("note",)


def row_hash(prev_hash: str, row: Mapping[Any, Any]) -> str:
    fields = {k: row[k] for k in HASHED_FIELDS}
    for k in OPTIONAL_HASHED_FIELDS:
        if row.get(k) is not None:
            fields[k] = row[k]
    body = canonical_json(fields)
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@dataclass
class Problem:
    row_id: int | None
    case_id: int | None
    message: str

    def __str__(self) -> str:
        where = f"history row {self.row_id}" if self.row_id is not None else "history"
        case = f" (case {self.case_id})" if self.case_id is not None else ""
        return f"{where}{case}: {self.message}"


@dataclass
class VerifyReport:
    rows: int = 0
    cases: int = 0
    problems: list[Problem] = field(default_factory=list)
    root: str = ""
    last_id: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_rows(
    rows: Iterable[Mapping[Any, Any]],
    cases: Iterable[Mapping[Any, Any]],
    *,
    checkpoint: Mapping[str, Any] | None = None,
    stop_at_first: bool = True,
) -> VerifyReport:
    """Check rows (in id order), then the case heads (id, version, head_hash, state)."""
    report = VerifyReport()
    heads: dict[int, tuple[int, str, str, int]] = {}  # case -> (seq, hash, to_state, row id)
    digest = hashlib.sha256()
    cp_last = int(checkpoint["last_id"]) if checkpoint else None
    cp_digest: str | None = None

    def bad(row_id: int | None, case_id: int, message: str) -> bool:
        report.problems.append(Problem(row_id, case_id, message))
        return stop_at_first

    for row in rows:
        rid, cid = int(row["id"]), int(row["case_id"])
        report.rows += 1
        report.last_id = rid
        seq, prev_seq_hash, _, _ = heads.get(cid, (0, "", "", 0))
        problem = _row_problem(row, seq, prev_seq_hash)
        if problem and bad(rid, cid, problem):
            return report
        heads[cid] = (int(row["seq"]), str(row["hash"]), str(row["to_state"]), rid)
        digest.update(str(row["hash"]).encode())
        if cp_last is not None and rid == cp_last:
            cp_digest = digest.hexdigest()

    report.root = digest.hexdigest()
    for case in cases:
        cid = int(case["id"])
        report.cases += 1
        seq, head, to_state, rid = heads.get(cid, (0, "", "", 0))
        problem = _case_problem(case, seq, head, to_state)
        if problem and bad(rid or None, cid, problem):
            return report

    if checkpoint is not None:
        if cp_last is not None and cp_last > report.last_id:
            report.problems.append(
                Problem(
                    cp_last, None, "the checkpoint's last row is gone: the history was truncated"
                )
            )
        elif cp_digest != checkpoint.get("digest"):
            report.problems.append(
                Problem(
                    cp_last,
                    None,
                    "the history up to the checkpoint differs from the checkpoint "
                    "(rows were removed, inserted or the chain was recomputed)",
                )
            )
    return report


def _row_problem(row: Mapping[Any, Any], seq: int, prev_hash: str) -> str | None:
    """What is wrong with one row given its case's chain so far (None when it fits)."""
    step = int(row["seq"])
    if step != seq + 1:
        what = "missing or out of order" if step > seq + 1 else "out of order or repeated"
        return f"is step {step} but step {seq + 1} was expected: a row is {what}"
    if row["prev_hash"] != prev_hash:
        return "its previous-hash does not match the case's preceding row"
    if row_hash(row["prev_hash"], row) != row["hash"]:
        return "its hash does not match its content: the row was edited"
    return None


def _case_problem(case: Mapping[Any, Any], seq: int, head: str, to_state: str) -> str | None:
    """Whether the case row ends where its chain ends (catches a removed last row)."""
    version = int(case["version"])
    if version != seq:
        tail = ": rows are missing at the end" if version > seq else ""
        return f"the case is at version {version} but its history ends at step {seq}{tail}"
    if case["head_hash"] != head:
        return "the case's chain head does not match its last history row"
    if seq and case["state"] != to_state:
        return f"the case is in {case['state']} but its last row moved it to {to_state}"
    return None
