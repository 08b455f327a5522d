"""`qmas init` on a database made before history rows had notes: the column is added, the old
chain still verifies (a note is hashed only when present), and new rows carry notes."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from states.audit import verify
from states.store import Store
from tests.core.core_lifecycle import S, drive_to
from workflows import advance
from workflows.views import history

pytestmark = pytest.mark.usefixtures("frozen_clock")


def test_init_adds_the_note_column_and_old_chains_still_verify(any_store: Store) -> None:
    case_id = drive_to(any_store, S.shortlisted)
    with any_store.engine.begin() as conn:  # the schema of the release before notes
        conn.execute(text("ALTER TABLE history DROP COLUMN note"))
    assert "note" not in {c["name"] for c in inspect(any_store.engine).get_columns("history")}

    any_store.init()
    any_store.init()  # safe to repeat

    assert "note" in {c["name"] for c in inspect(any_store.engine).get_columns("history")}
    assert verify(any_store).ok
    advance(case_id, "note", "Auditor YU", "auditor", note="Sampled.", store=any_store)
    assert history(case_id, store=any_store)[-1]["note"] == "Sampled."
    assert verify(any_store).ok
