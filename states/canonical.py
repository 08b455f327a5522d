"""The one JSON form that is hashed: sorted keys, no spaces, text kept as UTF-8."""

from __future__ import annotations

import json
from typing import Any

# What json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) builds on
# every call, built once (the chain hashes a dozen small objects per transition).
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical_json(value: Any) -> str:
    return _encode(value)
