"""`qmas init` on a database made before history rows had notes: the column is added, the old
chain still verifies (a note is hashed only when present), and new rows carry notes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, text

from console.cli import main
from states.audit import verify
from states.chain import row_hash
from states.store import Store
from tests.core.core_lifecycle import S, drive_to
from tests.factories import add_staff
from workflows import advance
from workflows.engine import default_store
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


NEW_COLUMNS = {
    "history": ("case_digest", "outbox_digest", "key_id"),
    "applications": ("privacy_salt", "anonymised_at", "personal_digest", "profile_digest"),
}


def make_previous_release(store: Store) -> None:
    """The schema and chain of the release before case digests: the new columns and the anchor
    table dropped, every row hashed as that release hashed it (plain SHA-256 of its fields)."""
    with store.engine.begin() as conn:
        for table, columns in NEW_COLUMNS.items():
            for column in columns:
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(text("DROP TABLE audit_anchors"))
        heads: dict[int, str] = {}
        rows = conn.execute(text("SELECT * FROM history ORDER BY id")).mappings().all()
        for row in rows:
            prev = heads.get(row["case_id"], "")
            digest = row_hash(prev, dict(row))
            conn.execute(
                text("UPDATE history SET prev_hash = :p, hash = :h WHERE id = :id"),
                {"p": prev, "h": digest, "id": row["id"]},
            )
            heads[row["case_id"]] = digest
        for case_id, head in heads.items():
            conn.execute(
                text("UPDATE applications SET head_hash = :h WHERE id = :id"),
                {"h": head, "id": case_id},
            )


def test_a_database_of_the_previous_release_is_upgraded_by_init(
    any_store: Store, qmas_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = drive_to(any_store, S.evisa_issued)
    live = drive_to(any_store, S.shortlisted)
    make_previous_release(any_store)

    # Reads work before the upgrade; a write or an audit says what to do, in one line.
    code, _, err = main_exit(["case", "show", str(live)], capsys)
    assert code == 0, err
    code, _, err = main_exit(["audit", "verify"], capsys)
    assert code == 8 and err.strip().endswith("run 'qmas init' to upgrade it")
    code, _, err = main_exit(
        ["case", "advance", str(live), "note", "--actor", "auditor.yu", "--role", "auditor",
         "--note", "Sampled."],
        capsys,
    )  # fmt: skip
    assert code == 8
    assert err.strip() == (
        "error: database: the database was made by an earlier release; "
        "run 'qmas init' to upgrade it"
    )

    assert main_exit(["init"], capsys)[0] == 0
    with any_store.engine.connect() as conn:
        salts = conn.execute(text("SELECT privacy_salt FROM applications")).scalars().all()
    assert len(salts) == 2 and all(s and len(s) == 32 for s in salts) and salts[0] != salts[1]
    assert verify(any_store).ok

    # New rows commit to the case; the old ones keep verifying as they were written.
    advance(live, "note", "Auditor YU", "auditor", note="Sampled.", store=any_store)
    assert verify(any_store).ok
    with any_store.engine.begin() as conn:
        conn.execute(text("UPDATE applications SET score = score + 1 WHERE id = :id"), {"id": live})
    report = verify(any_store)
    assert not report.ok and str(report.problems[0]).startswith(f"case {live}: score differs")
    with any_store.engine.begin() as conn:  # an old case's last row predates digests
        conn.execute(text("UPDATE applications SET score = score - 1 WHERE id = :id"), {"id": live})
    assert verify(any_store).ok
    assert closed


def main_exit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


@pytest.fixture
def qmas_env(any_store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI pointed at the test's database (and its account for the auditor)."""
    url = any_store.engine.url
    if any_store.dialect == "postgresql":  # the test's own schema, as its engine connects
        with any_store.engine.connect() as conn:
            schema = conn.execute(text("SHOW search_path")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    monkeypatch.setenv("QMAS_DATABASE_URL", url.render_as_string(False))
    default_store.cache_clear()
    add_staff(any_store)
    yield
    default_store().dispose()
    default_store.cache_clear()
