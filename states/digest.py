"""What each history row commits to besides its own fields: the case after the move, the
outbox events the move wrote, and personal data only as a salted digest.

- **Case digest**: SHA-256 of the case as it stands after the move: its state, version, file
  number, fees, e-Visa numbers, score and rule set, profile, dependants and documents, and a
  salted digest of its personal data. `audit verify` recomputes it from the tables and compares
  it with the case's last history row, so an edit to the case tables is caught and named.
- **Outbox digest**: SHA-256 of the events the move put in the outbox (topic, trigger, body),
  so an edited or deleted notification is caught.
- **Personal data** (names, dates of birth, travel documents, email addresses, internal notes)
  enters the chain only as ``SHA-256(case salt + value)``. Retention replaces the data and
  erases the salt; the digests the chain committed to stay, so the anonymised history still
  verifies, and without the salt nobody can test a guessed value against them.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from states.canonical import canonical_json

# The applicant's personal data on the case row, and each dependant's.
PERSONAL_CASE_FIELDS = (
    "name",
    "date_of_birth",
    "email",
    "travel_document_number",
    "representative_name",
    "representative_email",
)
PERSONAL_DEPENDANT_FIELDS = ("name", "date_of_birth")
# Keys whose values are personal data wherever they appear in a history or outbox payload.
PERSONAL_KEYS = frozenset(PERSONAL_CASE_FIELDS)

# The case row's fields the case digest covers, in named groups (everything but personal data,
# the chain head, the salt and the updated_at stamp, which the history row's `at` carries). The
# stored digest is the whole case's SHA-256 followed by a 16-bit digest of each group, so that
# `audit verify` can name what was edited ("e-Visa number differs from its history").
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("state", "state", ("state", "version", "workflow", "state_since", "created_at",
                        "deadline", "outcome_reason", "anonymised_at")),
    ("file_number", "file number", ("file_number", "lodged_on", "submitted_at")),
    ("application_fee", "application fee",
     ("application_fee_due", "application_fee_paid", "application_fee_method")),
    ("fee_due", "fee due", ("fee_due",)),
    ("fee_paid", "fee paid", ("fee_paid", "payment_method")),
    ("evisa_number", "e-Visa number", ("evisa_number",)),
    ("score", "score", ("test", "score", "pass_mark", "passed", "categories")),
    ("ruleset", "rule set", ("ruleset",)),
    ("quota", "quota allotment", ("quota_year", "allotted_at")),
    ("profile", "profile", ()),
    ("applicant", "applicant's details",
     ("nationality", "mainland_resident", "language", "declaration_signed", "consent_letter")),
    ("personal", "personal data", ()),
    ("dependants", "dependants", ()),
    ("documents", "documents", ()),
)  # fmt: skip
CASE_FIELDS = tuple(f for _, _, fields in GROUPS for f in fields)
DEPENDANT_FIELDS = ("id", "position", "relation", "file_number", "evisa_number")
DOCUMENT_FIELDS = (
    "id",
    "round",
    "item",
    "due",
    "status",
    "waiver_reason",
    "requested_at",
    "resolved_at",
)
DIGEST_LENGTH = 64 + 1 + 4 * len(GROUPS)

_JSON_FIELDS = frozenset({"profile", "categories"})
_BOOL_FIELDS = frozenset({"mainland_resident", "declaration_signed", "passed"})
_REDACTED = "redacted:sha256:"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(name: str, value: Any) -> Any:
    """One column's value the same way whichever driver read it (JSON text, 0/1 booleans)."""
    if value is None:
        return None
    if name in _JSON_FIELDS and isinstance(value, str):
        return json.loads(value)
    if name in _BOOL_FIELDS:
        return bool(value)
    return value


def personal_digest(
    salt: str | None, case: Mapping[str, Any], dependants: Sequence[Mapping[str, Any]]
) -> str:
    """The salted digest of a case's personal data (the applicant's and each dependant's)."""
    data = {
        "applicant": {f: case[f] for f in PERSONAL_CASE_FIELDS},
        "dependants": [{f: d[f] for f in PERSONAL_DEPENDANT_FIELDS} for d in dependants],
    }
    return sha256((salt or "") + canonical_json(data))


def profile_digest(profile: Any) -> str:
    return sha256(canonical_json(_plain("profile", profile)))


def case_parts(
    case: Mapping[str, Any],
    dependants: Sequence[Mapping[str, Any]],
    documents: Sequence[Mapping[str, Any]],
    *,
    trust_columns: bool = False,
) -> dict[str, Any]:
    """The case as the digest sees it, group by group.

    The profile and the personal data enter as digests kept in their own columns
    (``profile_digest``, ``personal_digest``), set when they are written. A transition trusts
    the columns (``trust_columns``: no need to re-encode the profile on every move); `audit
    verify` recomputes both from the data, and a column that no longer matches its data counts
    as a difference. An anonymised case's personal digest cannot be recomputed (its salt is
    gone): its column is what the chain committed to.
    """
    parts: dict[str, Any] = {
        name: {f: _plain(f, case[f]) for f in fields} for name, _, fields in GROUPS if fields
    }
    profile_column = case["profile_digest"]
    if trust_columns and profile_column is not None:
        parts["profile"] = profile_column
    else:
        parts["profile"] = _checked(profile_column, profile_digest(case["profile"]))
    personal_column = case["personal_digest"]
    if case["anonymised_at"] is not None:
        # what the data was (salted, the salt gone) and what stands in its place now
        parts["personal"] = {
            "salted": personal_column,
            "now": personal_digest(None, case, dependants),
        }
    elif trust_columns and personal_column is not None:
        parts["personal"] = personal_column
    else:
        computed = personal_digest(case["privacy_salt"], case, dependants)
        parts["personal"] = _checked(personal_column, computed)
    parts["dependants"] = [{f: d[f] for f in DEPENDANT_FIELDS} for d in dependants]
    parts["documents"] = [{f: d[f] for f in DOCUMENT_FIELDS} for d in documents]
    return parts


def _checked(column: str | None, computed: str) -> str:
    """The computed digest, or a value that cannot match when the column says otherwise."""
    return computed if column is None or column == computed else f"column:{column}"


def case_digest(parts: Mapping[str, Any]) -> str:
    """The SHA-256 of the groups' canonical JSON (one per line), ``:``, then a 16-bit CRC of
    each group, which names a differing group (the SHA-256 is what protects the case)."""
    encoded = [canonical_json(parts[name]).encode("utf-8") for name, _, _ in GROUPS]
    whole = hashlib.sha256(b"\n".join(encoded)).hexdigest()
    return whole + ":" + "".join(f"{zlib.crc32(e) & 0xFFFF:04x}" for e in encoded)


def differing_groups(stored: str, computed: str) -> list[str]:
    """The groups (in words) whose digests differ between two case digests."""
    a, _, a_groups = stored.partition(":")
    b, _, b_groups = computed.partition(":")
    if a == b:
        return []
    return [
        words
        for i, (_, words, _) in enumerate(GROUPS)
        if a_groups[4 * i : 4 * i + 4] != b_groups[4 * i : 4 * i + 4]
    ]


def redact_value(salt: str | None, value: Any) -> Any:
    """A personal value as the chain sees it: its salted digest (idempotent)."""
    if value is None or (isinstance(value, str) and value.startswith(_REDACTED)):
        return value
    return _REDACTED + sha256((salt or "") + canonical_json(value))


def redact(salt: str | None, value: Any) -> Any:
    """A payload with every personal value (by key, at any depth) replaced by its digest."""
    if isinstance(value, dict):
        return {
            k: redact_value(salt, v) if k in PERSONAL_KEYS else redact(salt, v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(salt, v) for v in value]
    return value


def outbox_digest(events: Iterable[tuple[str, str, Mapping[str, Any]]], salt: str | None) -> str:
    """The events a move wrote: (topic, trigger, body without its history id), in order."""
    items = [
        {
            "topic": topic,
            "trigger": trigger,
            "body": redact(salt, {k: v for k, v in body.items() if k != "history_id"}),
        }
        for topic, trigger, body in events
    ]
    return sha256(canonical_json(items))


def has_personal(payload_text: str) -> bool:
    """Whether a stored payload may hold personal data (a cheap test before parsing it)."""
    return any(f'"{k}"' in payload_text for k in PERSONAL_KEYS)
