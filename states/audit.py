"""Audit of the history chain: verify it, export and check a checkpoint kept elsewhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from states.chain import VerifyReport, verify_rows
from states.errors import InvalidInput
from states.models import applications as _app
from states.models import history as _hist
from states.store import Store


def verify(
    store: Store, checkpoint: dict[str, Any] | None = None, *, all_problems: bool = False
) -> VerifyReport:
    with store.read() as tx:
        rows = tx.conn.execution_options(yield_per=2000).execute(select(_hist).order_by(_hist.c.id))
        cases = tx.conn.execute(
            select(_app.c.id, _app.c.version, _app.c.head_hash, _app.c.state).order_by(_app.c.id)
        )
        return verify_rows(
            rows.mappings(), cases.mappings(), checkpoint=checkpoint, stop_at_first=not all_problems
        )


def make_checkpoint(store: Store) -> dict[str, Any]:
    """The chain head to keep outside the database: row count, last id, digest of all hashes."""
    report = verify(store)
    if not report.ok:
        raise InvalidInput(
            f"the chain does not verify, no checkpoint written: {report.problems[0]}"
        )
    return {"rows": report.rows, "last_id": report.last_id, "digest": report.root}


def read_checkpoint(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return {
            "rows": int(data["rows"]),
            "last_id": int(data["last_id"]),
            "digest": str(data["digest"]),
        }
    except FileNotFoundError:
        raise InvalidInput(f"no checkpoint file at {path}") from None
    except OSError as err:  # a folder, no permission
        raise InvalidInput(f"cannot read {path}: {err.strerror or err}") from None
    except (ValueError, KeyError, TypeError, RecursionError):
        raise InvalidInput(
            f"{path} is not a checkpoint written by 'qmas audit checkpoint'"
        ) from None
