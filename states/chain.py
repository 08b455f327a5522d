"""The history hash chain: how a row is hashed, how a chain is verified, checkpoints, anchors.

``hash = H(prev_hash + canonical JSON of the row)``, chained per case (``prev_hash`` of a
case's first row is empty), where ``H`` is HMAC-SHA-256 with the audit key when one is
configured (``key_id`` names it) and plain SHA-256 otherwise. Rows written since case digests
exist (``case_digest`` set) also commit to the case after the move and to the outbox events
they wrote, and to personal data only through salted digests (states/digest.py).

Rows are verified in global id order; each must continue its case's chain (seq + 1, same prev
hash) and the case row must end where its chain ends (version, head, digest). A checkpoint
kept outside the database (a row index and a digest of every hash) catches a truncated tail
or a chain recomputed from scratch and names the first row that differs. An anchor (a signed
checkpoint kept in the database when the key is introduced or rotated) vouches for the rows
written under earlier keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from states.canonical import canonical_json
from states.digest import has_personal, redact, redact_value

__all__ = ["VerifyReport", "canonical_json", "hashed_fields", "row_hash", "verify_rows"]

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
# Hashed only when present, so that rows written before each existed still verify.
OPTIONAL_HASHED_FIELDS = ("note", "case_digest", "outbox_digest", "key_id")


def hashed_fields(row: Mapping[Any, Any], salt: str | None = None) -> dict[str, Any]:
    """What a row's hash covers. In rows with a case digest, personal data in the payload and
    the note enter as salted digests (``salt`` is the case's), so anonymising keeps the hash."""
    fields = {k: row[k] for k in HASHED_FIELDS}
    for k in OPTIONAL_HASHED_FIELDS:
        if row.get(k) is not None:
            fields[k] = row[k]
    if row.get("case_digest") is not None:
        payload = str(row["payload"])
        if has_personal(payload):
            fields["payload"] = canonical_json(redact(salt, json.loads(payload)))
        if row.get("note") is not None:
            fields["note"] = redact_value(salt, row["note"])
    return fields


def row_hash(
    prev_hash: str, row: Mapping[Any, Any], key: bytes | None = None, salt: str | None = None
) -> str:
    body = (prev_hash + canonical_json(hashed_fields(row, salt))).encode("utf-8")
    if key is not None:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


def anchor_line(row: Mapping[Any, Any], salt: str | None) -> bytes:
    """A row as an anchor's digest covers it: its hashed content and its hash."""
    return (canonical_json(hashed_fields(row, salt)) + str(row["hash"]) + "\n").encode("utf-8")


def anchor_signature(anchor: Mapping[str, Any], key: bytes) -> str:
    """What the new key signs: every field of the anchor, its row index included."""
    signed = {k: anchor[k] for k in ("at", "actor", "last_id", "rows", "digest", "key_id")}
    signed["previous_key_id"] = anchor.get("previous_key_id")
    index = f"{anchor.get('ids') or ''}|{anchor.get('hashes') or ''}"
    signed["index"] = hashlib.sha256(index.encode()).hexdigest()
    return hmac.new(key, canonical_json(signed).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Key:
    """The audit key in force: its id (what rows record) and its secret."""

    id: str
    secret: bytes


@dataclass
class Problem:
    row_id: int | None
    case_id: int | None
    message: str
    about_case: bool = False  # the case tables differ from the history (row_id: its last row)

    def __str__(self) -> str:
        if self.about_case:
            return f"case {self.case_id}: {self.message} (its last history row is {self.row_id})"
        where = f"history row {self.row_id}" if self.row_id is not None else "history"
        case = f" (case {self.case_id})" if self.case_id is not None else ""
        return f"{where}{case}: {self.message}"


@dataclass
class VerifyReport:
    rows: int = 0
    cases: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    root: str = ""
    last_id: int = 0
    keyed: bool = False
    unchecked: int = 0  # rows signed with a key this run does not have
    signed_rows: bool = False  # some row is signed with a key
    anchor: dict[str, Any] | None = None
    index_ids: array[int] = field(default_factory=lambda: array("q"))
    index_hashes: bytearray = field(default_factory=bytearray)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Index:
    """A row index (ids and 8-byte prefixes) walked beside the rows: a checkpoint's (prefixes
    of the row hashes) or an anchor's (prefixes of the SHA-256 of each row's anchor line)."""

    def __init__(self, source: Mapping[str, Any], what: str) -> None:
        self.ids, self.prefixes = decode_index(source)
        self.what = what
        self.pos = 0

    def problem(self, rid: int, prefix: bytes, change: str) -> tuple[int, str] | None:
        """Whether row ``rid`` (``prefix``) is where the index says it was."""
        if self.pos >= len(self.ids):
            return None
        want = self.ids[self.pos]
        if rid > want:
            return want, f"this row was in {self.what} and is gone: it was deleted"
        if rid < want:
            return rid, f"this row was not in {self.what}: it was inserted"
        self.pos += 1
        if prefix != self.prefixes[self.pos - 1]:
            return rid, f"this row differs from {self.what}: {change}"
        return None

    def missing(self) -> int | None:
        return self.ids[self.pos] if self.pos < len(self.ids) else None


def encode_index(ids: array[int], prefixes: bytes) -> dict[str, str]:
    deltas = array("q", (b - a for a, b in zip([0, *ids], ids, strict=False)))
    return {
        "ids": base64.b64encode(zlib.compress(deltas.tobytes(), 9)).decode(),
        "hashes": base64.b64encode(prefixes).decode(),
    }


def decode_index(checkpoint: Mapping[str, Any]) -> tuple[list[int], list[bytes]]:
    deltas = array("q")
    deltas.frombytes(zlib.decompress(base64.b64decode(checkpoint["ids"])))
    ids, at = [], 0
    for d in deltas:
        at += d
        ids.append(at)
    raw = base64.b64decode(checkpoint["hashes"])
    if len(raw) != 8 * len(ids):
        raise ValueError("the checkpoint's index is damaged")
    return ids, [raw[i : i + 8] for i in range(0, len(raw), 8)]


def verify_rows(
    rows: Iterable[Mapping[Any, Any]],
    cases: Iterable[Mapping[Any, Any]],
    *,
    checkpoint: Mapping[str, Any] | None = None,
    stop_at_first: bool = True,
    key: Key | None = None,
    anchor: Mapping[str, Any] | None = None,
    index: bool = False,
) -> VerifyReport:
    """Check rows (in id order), then the case heads.

    A row may carry ``privacy_salt`` (its case's), ``case_row`` (its case's id as the case
    table has it: None when the case is gone) and ``outbox`` (the events it wrote, as (topic,
    trigger, body) in id order); a case may carry ``digest_parts`` (states.digest) to compare
    with its last row's case digest, or ``digest_error`` when its tables cannot be read.
    ``index`` keeps each row's id and hash prefix for a checkpoint. A value of the wrong kind
    anywhere (text where a number belongs, an index that does not decode) is a problem named
    where it is, never an exception."""
    from states.digest import case_digest, outbox_digest

    report = VerifyReport(keyed=key is not None, anchor=dict(anchor) if anchor else None)
    # case -> (seq, hash, to_state, row id, case digest)
    heads: dict[int, tuple[int, str, str, int, str | None]] = {}
    digest = hashlib.sha256()
    cp_last = int(checkpoint["last_id"]) if checkpoint else None
    cp_digest: str | None = None
    cp_index = _Index(checkpoint, "the checkpoint") if checkpoint and "ids" in checkpoint else None
    anchor_digest = hashlib.sha256()
    anchor_rows = 0
    keyed_seen: int | None = None  # the first row signed with a key

    def bad(
        row_id: int | None, case_id: int | None, message: str, about_case: bool = False
    ) -> bool:
        report.problems.append(Problem(row_id, case_id, message, about_case))
        return stop_at_first

    anchor_last = 0
    anchor_index: _Index | None = None
    if anchor is not None:
        try:
            anchor_last = int(anchor["last_id"])
            int(anchor["rows"])
            if anchor.get("ids") or anchor.get("hashes"):
                anchor_index = _Index(anchor, f"what the anchor of {str(anchor['at'])[:10]} signed")
            problem = _anchor_problem(anchor, key, report)
        except (ValueError, TypeError, KeyError, binascii.Error, zlib.error):
            problem = "the anchor was edited: one of its fields cannot be read"
            anchor_last = 0
        if problem and bad(None, None, problem):
            return report

    for row in rows:
        try:
            rid, cid = int(row["id"]), int(row["case_id"])
        except (ValueError, TypeError):
            if bad(None, None, "a history row's id or case cannot be read: the row was edited"):
                return report
            continue
        report.rows += 1
        report.last_id = rid
        try:
            salt = row.get("privacy_salt")
            row_digest = str(row["hash"])
            if cp_index is not None and rid <= (cp_last or 0):
                found = cp_index.problem(
                    rid, bytes.fromhex(row_digest[:16]), "it was edited and the chain recomputed"
                )
                if found and bad(found[0], cid if found[0] == rid else None, found[1]):
                    return report
            seq, prev_seq_hash = heads.get(cid, (0, "", "", 0, None))[:2]
            problem = None
            if "case_row" in row and row["case_row"] is None:
                problem = f"its case ({cid}) is not in the case table: the case was deleted"
            if problem is None:
                problem = _link_problem(row, seq, prev_seq_hash)
            if problem is None:
                problem = _content_problem(row, salt, key, rid <= anchor_last, keyed_seen, report)
            if problem is None and row.get("outbox_digest") is not None:
                events = row.get("outbox", [])
                if outbox_digest(events, salt) != row["outbox_digest"]:
                    problem = (
                        "its outbox events differ from what it wrote: an event was edited or "
                        "removed"
                    )
            line = anchor_line(row, salt) if rid <= anchor_last else b""
            found = None
            if anchor_index is not None and rid <= anchor_last:
                # rows signed with a key no longer in force: the anchor names the one edited
                found = anchor_index.problem(
                    rid, hashlib.sha256(line).digest()[:8], "it was edited"
                )
            new_seq = int(row["seq"])
            bytes.fromhex(row_digest[:16])
        except (ValueError, TypeError, KeyError, binascii.Error, zlib.error):
            problem, found = (
                "one of its fields holds a value of the wrong kind: it was edited",
                None,
            )
            new_seq, line = -1, b""
        if problem and bad(rid, cid, problem):
            return report
        if found and not problem and bad(found[0], cid if found[0] == rid else None, found[1]):
            return report
        if new_seq < 0:
            continue
        if row.get("key_id") is not None and keyed_seen is None:
            keyed_seen = rid
        heads[cid] = (new_seq, row_digest, str(row["to_state"]), rid, row.get("case_digest"))
        digest.update(row_digest.encode())
        if index:
            report.index_ids.append(rid)
            report.index_hashes += bytes.fromhex(row_digest[:16])
        if rid <= anchor_last:
            anchor_digest.update(line)
            anchor_rows += 1
        if cp_last is not None and rid == cp_last:
            cp_digest = digest.hexdigest()

    report.root = digest.hexdigest()
    report.signed_rows = keyed_seen is not None
    anchor_differs = anchor is not None and (
        anchor_rows != _int_or(anchor.get("rows"), -1)
        or anchor_digest.hexdigest() != anchor.get("digest")
    )
    if anchor_differs and bad(
        anchor_last,
        None,
        "the history up to the anchor differs from what the anchor signed "
        "(rows were edited, removed or inserted)",
    ):
        return report

    seen: set[int] = set()
    for case in cases:
        cid = int(case["id"])
        seen.add(cid)
        report.cases += 1
        seq, head, to_state, rid, last_digest = heads.get(cid, (0, "", "", 0, None))
        try:
            problem = _case_problem(case, seq, head, to_state)
        except (ValueError, TypeError):
            problem = "its version or state cannot be read: the case table was edited"
        if problem and bad(rid or None, cid, problem):
            return report
        if problem is None and case.get("digest_error") and last_digest is not None:
            if bad(rid, cid, str(case["digest_error"]), about_case=True):
                return report
            continue
        parts = case.get("digest_parts")
        if problem is None and parts is not None and last_digest is not None:
            problem = _digest_problem(last_digest, case_digest(parts))
            if problem and bad(rid, cid, problem, about_case=True):
                return report
    for cid in sorted(set(heads) - seen):
        rid = heads[cid][3]
        if bad(rid, cid, "its history is there but the case is not: the case was deleted",
               about_case=True):  # fmt: skip
            return report

    if checkpoint is not None:
        missing = cp_index.missing() if cp_index else None
        if cp_last is not None and cp_last > report.last_id:
            report.problems.append(
                Problem(
                    missing if missing is not None else cp_last,
                    None,
                    "this row was in the checkpoint and is gone: the history was truncated",
                )
            )
        elif missing is not None:
            report.problems.append(
                Problem(missing, None, "this row was in the checkpoint and is gone: it was deleted")
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
    if key is None and (keyed_seen is not None or anchor is not None):
        signed = f"{report.unchecked} row{'' if report.unchecked == 1 else 's'} signed with a key"
        if anchor is not None:
            signed = f"the anchor of {str(anchor['at'])[:10]} (key {anchor['key_id']}) and {signed}"
        report.warnings.append(
            f"no audit key is configured: {signed} could be checked for order only "
            "(set QMAS_AUDIT_KEY or QMAS_AUDIT_KEY_FILE)"
        )
    elif key is None:
        report.warnings.append(
            "no audit key is configured: the chain is plain SHA-256, which anyone who can write "
            "the database can recompute (set QMAS_AUDIT_KEY or QMAS_AUDIT_KEY_FILE)"
        )
    return report


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (ValueError, TypeError):
        return default


def _anchor_problem(anchor: Mapping[str, Any], key: Key | None, report: VerifyReport) -> str | None:
    if key is None:
        return None  # said in the warning at the end
    if key.id != anchor["key_id"]:
        return (
            f"the latest anchor was signed with key {anchor['key_id']}, but the configured "
            f"audit key is {key.id}: configure the key in force"
        )
    if not hmac.compare_digest(anchor_signature(anchor, key.secret), str(anchor["signature"])):
        return "the anchor's signature is wrong: the anchor was edited or forged"
    return None


def _digest_problem(stored: str, computed: str) -> str | None:
    """Name what differs between the case tables and its last history row's case digest."""
    from states.digest import differing_groups

    if stored == computed:
        return None
    groups = differing_groups(stored, computed)
    if not groups:
        return "the case's tables differ from what its last history row committed to"
    if len(groups) == 1:
        return f"{groups[0]} differs from its history"
    return f"{', '.join(groups[:-1])} and {groups[-1]} differ from its history"


def _link_problem(row: Mapping[Any, Any], seq: int, prev_hash: str) -> str | None:
    """Whether the row continues its case's chain (None when it does)."""
    step = int(row["seq"])
    if step != seq + 1:
        what = "missing or out of order" if step > seq + 1 else "out of order or repeated"
        return f"is step {step} but step {seq + 1} was expected: a row is {what}"
    if row["prev_hash"] != prev_hash:
        return "its previous-hash does not match the case's preceding row"
    return None


def _content_problem(
    row: Mapping[Any, Any],
    salt: str | None,
    key: Key | None,
    anchored: bool,
    keyed_seen: int | None,
    report: VerifyReport,
) -> str | None:
    """Whether the row's hash matches its content under the key it names."""
    row_key = row.get("key_id")
    edited = "its hash does not match its content: the row was edited"
    if row_key is None:
        if keyed_seen is not None and not anchored:
            return (
                f"it is not signed with the audit key, though row {keyed_seen} before it is: "
                "it was forged or written by a process without the key"
            )
        if key is not None and not anchored:
            return (
                "it predates the audit key and no anchor vouches for it: run "
                "'qmas audit rotate-key' to anchor the history written before the key"
            )
        return edited if row_hash(row["prev_hash"], row, None, salt) != row["hash"] else None
    if key is not None and row_key == key.id:
        return edited if row_hash(row["prev_hash"], row, key.secret, salt) != row["hash"] else None
    if anchored:
        return None  # signed with an earlier key: the anchor vouches for it
    if key is None:
        report.unchecked += 1
        return None
    return (
        f"it is signed with key {row_key}, not the configured audit key {key.id}, and no "
        "anchor vouches for it"
    )


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
