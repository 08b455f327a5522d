"""Retention (issue 10, section 4): `qmas retention run` anonymises cases closed longer than
QMAS_RETENTION_YEARS (default 7): personal data replaced everywhere, the statistics kept, and
the history still verifies (the chain committed to salted digests of the personal data).

The cases here close on the frozen clock, Thursday 1 June 2023 10:00 HKT; retention runs
years later through `retention.run(now=...)` or, for the CLI, under time-machine.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, text

from flows.work import notify
from notifications.settings import NotificationSettings
from states.audit import verify
from states.catalogue import State
from states.chain import Key
from states.keys import make_key
from states.models import applications as app_t
from states.models import dependants as dep_t
from states.models import document_requests as docs_t
from states.models import outbox as out_t
from states.store import Store
from tests.core.clikit import Qmas
from tests.core.core_lifecycle import (
    FROZEN_AT,
    VALID,
    S,
    Step,
    T,
    fire,
    history_rows,
    new_case,
    path_to,
    snapshot,
)
from tests.factories import application, overseas_application
from workflows import create_case, retention
from workflows.clock import HK
from workflows.engine import default_store
from workflows.settings import WorkflowSettings

pytestmark = pytest.mark.usefixtures("frozen_clock")

KEY = make_key("retention-audit-key-" + "r" * 40, "test")
DAY = timedelta(days=1)
SEVEN_YEARS_ON = FROZEN_AT.replace(year=2030)  # 1 June 2030 10:00 HKT
NEW_EMAIL = "chan.tai.man@mail.example.org"
NEW_REP = {"name": "Lee & Partners", "email": "lee@partners.example"}
NOTE = "Checked against the 2023 intake file."
# Every personal value the closed cases held, at some time, in some table.
PERSONAL = [
    "CHAN Tai Man",
    "1990-04-12",
    "chan.taiman@example.com",
    NEW_EMAIL,
    "Wong & Co.",
    "cases@wongco.example",
    NEW_REP["name"],
    NEW_REP["email"],
    "LI Mei",
    "1991-02-03",
    "CHAN Siu Ming",
    "2018-09-30",
    "E7000000",  # the travel documents' common prefix (E70000001, E70000002)
    NOTE,
]
OPEN_CASE = ["Emily WATSON", "1985-11-23", "emily.watson@example.co.uk", "G80000001"]
STATISTICS = (
    "state",
    "version",
    "nationality",
    "mainland_resident",
    "language",
    "profile",
    "file_number",
    "lodged_on",
    "ruleset",
    "test",
    "score",
    "pass_mark",
    "passed",
    "categories",
    "quota_year",
    "allotted_at",
    "fee_due",
    "fee_paid",
    "payment_method",
    "evisa_number",
    "consent_letter",
    "outcome_reason",
    "state_since",
    "created_at",
)


def closed_case(store: Store, state: State, doc: str) -> int:
    """A Mainland resident's case with everything personal data can be in: an amendment of
    the email and the representative (before and after in the history and the outbox), a note,
    then closed in ``state``."""
    case_id = create_case(application(travel_document=doc), store=store)
    fire(store, case_id, VALID[T.submit])
    amend = {"applicant": {"email": NEW_EMAIL, "representative": NEW_REP}}
    fire(store, case_id, Step(T.amend, "supervisor", amend))
    fire(store, case_id, Step(T.note, "auditor", note=NOTE))
    for trigger in path_to(state)[1:]:
        fire(store, case_id, VALID[trigger])
    return case_id


def open_application() -> dict[str, Any]:
    """Someone else's application, sharing no personal value with the closed ones."""
    data = overseas_application(travel_document="G80000001", dependants=False)
    data["applicant"]["date_of_birth"] = "1985-11-23"
    return data


def plan_notifications(store: Store) -> int:
    """Plan the e-mails of every outbox event, as the notifier does (deliveries rows)."""
    with store.write() as tx:
        rows = tx.conn.execute(select(out_t).order_by(out_t.c.id)).mappings().all()
        events = [{**json.loads(r["payload"]), "event_id": r["id"]} for r in rows]
        notify(tx, events, FROZEN_AT, NotificationSettings())
        return int(tx.conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one())


def build(store: Store) -> dict[str, int]:
    """An e-Visa issued and a withdrawal (closed 1 June 2023), and a case still open."""
    cases = {
        "evisa": closed_case(store, S.evisa_issued, "E70000001"),
        "withdrawn": closed_case(store, S.withdrawn, "E70000002"),
        "open": create_case(open_application(), store=store),
    }
    fire(store, cases["open"], VALID[T.submit])
    assert plan_notifications(store) > 0
    return cases


def db_bytes(store: Store) -> bytes:
    """The SQLite file as on disk, once every connection is closed (the WAL checkpointed)."""
    store.dispose()
    path = Path(store.engine.url.database or "")
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def case_row(store: Store, case_id: int) -> dict[str, Any]:
    with store.read() as tx:
        return dict(tx.conn.execute(select(app_t).where(app_t.c.id == case_id)).mappings().one())


def table_rows(store: Store, table: Any, column: Any, case_id: int) -> list[dict[str, Any]]:
    with store.read() as tx:
        stmt = select(table).where(column == case_id).order_by(table.c.id)
        return [dict(r) for r in tx.conn.execute(stmt).mappings()]


@pytest.fixture(params=[None, KEY], ids=["unkeyed", "keyed"])
def keyed_store(request: pytest.FixtureRequest, store: Store) -> Store:
    return Store(engine=store.engine, key=request.param)


# --- who is anonymised, and when --------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "anonymised"),
    [
        pytest.param(SEVEN_YEARS_ON - DAY, False, id="7-years-less-a-day"),
        pytest.param(SEVEN_YEARS_ON, False, id="7-years-to-the-day"),
        pytest.param(SEVEN_YEARS_ON + DAY, True, id="7-years-and-a-day"),
    ],
)
def test_a_case_is_anonymised_once_closed_longer_than_seven_years(
    store: Store, now: datetime, anonymised: bool
) -> None:
    cases = build(store)
    report = retention.run(store, now=now)
    assert (report.years, report.dry_run) == (7, False)
    closed = [cases["evisa"], cases["withdrawn"]]
    assert report.anonymised == (closed if anonymised else [])
    for case_id in closed:
        assert (case_row(store, case_id)["anonymised_at"] is not None) is anonymised
    assert case_row(store, cases["open"])["anonymised_at"] is None


@pytest.mark.parametrize(
    ("closed_at", "anonymised"),
    [
        pytest.param(datetime(2023, 6, 1, 23, 30, tzinfo=HK), True, id="closed-23:30-HKT-1-June"),
        pytest.param(datetime(2023, 6, 2, 0, 30, tzinfo=HK), False, id="closed-00:30-HKT-2-June"),
    ],
)
def test_the_boundary_is_the_hong_kong_date_of_closing(
    store: Store, closed_at: datetime, anonymised: bool
) -> None:
    """On 2 June 2030 a case closed on 1 June 2023 (Hong Kong time) is past seven years, one
    closed on 2 June is not, whatever the UTC date of the moment."""
    case_id = new_case(store)
    with time_machine.travel(closed_at, tick=False):
        fire(store, case_id, VALID[T.withdraw])
    report = retention.run(store, now=datetime(2030, 6, 2, 9, 0, tzinfo=HK))
    assert report.cutoff == "2023-06-02"
    assert report.anonymised == ([case_id] if anonymised else [])
    if anonymised:
        assert report.candidates[0].closed_on == "2023-06-01"


def test_the_retention_period_comes_from_the_settings(store: Store) -> None:
    cases = build(store)
    one_year = WorkflowSettings(retention_years=1)
    assert (
        retention.run(store, settings=one_year, now=FROZEN_AT.replace(year=2024)).anonymised == []
    )
    report = retention.run(store, settings=one_year, now=FROZEN_AT.replace(year=2024) + DAY)
    assert (report.years, report.cutoff) == (1, "2023-06-02")
    assert report.anonymised == [cases["evisa"], cases["withdrawn"]]


def test_open_cases_are_never_anonymised(store: Store) -> None:
    case_id = new_case(store)
    fire(store, case_id, VALID[T.submit])
    assert retention.run(store, now=FROZEN_AT.replace(year=2060)).candidates == []


# --- what anonymising does ------------------------------------------------------------------
def test_personal_data_is_gone_from_every_table_and_the_file(store: Store) -> None:
    build(store)
    before = db_bytes(store)
    for value in PERSONAL + OPEN_CASE:
        assert value.encode() in before, value  # the test looks where the data was
    retention.run(store, now=SEVEN_YEARS_ON + DAY)
    after = db_bytes(store)
    left = [value for value in PERSONAL if value.encode() in after]
    assert left == []
    for value in OPEN_CASE:  # the open case keeps its data
        assert value.encode() in after, value


def test_the_anonymised_case_keeps_its_statistics(store: Store) -> None:
    cases = build(store)
    case_id = cases["evisa"]
    before = case_row(store, case_id)
    deps_before = table_rows(store, dep_t, dep_t.c.application_id, case_id)
    docs_before = table_rows(store, docs_t, docs_t.c.case_id, case_id)
    retention.run(store, now=SEVEN_YEARS_ON + DAY)
    after = case_row(store, case_id)
    kept = {c: before[c] for c in STATISTICS if c != "version"}
    assert {c: after[c] for c in kept} == kept
    assert after["version"] == before["version"] + 1
    assert before["evisa_number"] and before["fee_paid"] == 690 and before["score"] == 185
    assert after["name"] == "(anonymised)" and after["date_of_birth"] == "1990-01-01"
    assert (after["email"], after["travel_document_number"]) == ("", "")
    assert (after["representative_name"], after["representative_email"]) == (None, None)
    assert after["privacy_salt"] is None and after["personal_digest"]
    assert after["anonymised_at"] == "2030-06-02T02:00:00.000000Z"
    deps_after = table_rows(store, dep_t, dep_t.c.application_id, case_id)
    assert [d["name"] for d in deps_after] == ["(anonymised)", "(anonymised)"]
    assert [d["date_of_birth"] for d in deps_after] == ["1991-01-01", "2018-01-01"]
    for d in (deps_before, deps_after):
        for row in d:
            del row["name"], row["date_of_birth"]
    assert deps_after == deps_before  # relation, file and e-Visa numbers kept
    assert table_rows(store, docs_t, docs_t.c.case_id, case_id) == docs_before


def test_history_and_outbox_keep_their_shape_with_personal_values_digested(store: Store) -> None:
    cases = build(store)
    retention.run(store, now=SEVEN_YEARS_ON + DAY)
    rows = history_rows(store, cases["withdrawn"])
    amend = json.loads(next(r for r in rows if r["trigger"] == "amend")["payload"])
    assert set(amend) == {"before", "after"}
    assert set(amend["after"]) == {"email", "representative_name", "representative_email"}
    values = [*amend["before"].values(), *amend["after"].values()]
    assert all(v.startswith("redacted:sha256:") for v in values), values
    note = next(r for r in rows if r["trigger"] == "note")["note"]
    assert note.startswith("redacted:sha256:")
    for event in table_rows(store, out_t, out_t.c.case_id, cases["withdrawn"]):
        body = json.loads(event["payload"])
        assert body["case_id"] == cases["withdrawn"] and body["trigger"] == event["trigger"]
    with store.read() as tx:
        deliveries = tx.conn.execute(
            text("SELECT recipient, context FROM deliveries WHERE case_id = :c"),
            {"c": cases["withdrawn"]},
        ).all()
    assert deliveries and all(d == ("(anonymised)", "{}") for d in deliveries)


def test_an_anonymise_row_is_added_to_the_history(store: Store) -> None:
    cases = build(store)
    before = history_rows(store, cases["evisa"])
    retention.run(store, now=SEVEN_YEARS_ON + DAY, operator="cli:ops")
    rows = history_rows(store, cases["evisa"])
    assert len(rows) == len(before) + 1
    last = rows[-1]
    assert (last["trigger"], last["actor"], last["role"]) == (
        "anonymise",
        "qmas-retention",
        "system",
    )
    assert last["from_state"] == last["to_state"] == "evisa_issued"
    assert json.loads(last["payload"]) == {
        "retention_years": 7,
        "closed_on": "2023-06-01",
        "operator": "cli:ops",
    }
    assert last["at"] == "2030-06-02T02:00:00.000000Z"


def test_the_history_still_verifies_after_anonymising(keyed_store: Store) -> None:
    build(keyed_store)
    assert verify(keyed_store).ok
    report = retention.run(keyed_store, now=SEVEN_YEARS_ON + DAY)
    assert len(report.anonymised) == 2 and report.kept_rows == 0
    after = verify(keyed_store)
    assert after.ok, after.problems
    assert after.rows == 11 + 4 + 1 + 2  # the e-Visa, the withdrawal, the open case, 2 anonymise


def test_a_second_run_does_nothing(keyed_store: Store) -> None:
    build(keyed_store)
    retention.run(keyed_store, now=SEVEN_YEARS_ON + DAY)
    before = snapshot(keyed_store)
    again = retention.run(keyed_store, now=SEVEN_YEARS_ON + 10 * DAY)
    assert (again.candidates, again.anonymised) == ([], [])
    assert snapshot(keyed_store) == before


def test_a_dry_run_lists_and_changes_nothing(store: Store) -> None:
    cases = build(store)
    before = db_bytes(store)
    report = retention.run(store, now=SEVEN_YEARS_ON + DAY, dry_run=True)
    assert report.dry_run and report.anonymised == []
    assert [(c.case_id, c.state, c.closed_on) for c in report.candidates] == [
        (cases["evisa"], "evisa_issued", "2023-06-01"),
        (cases["withdrawn"], "withdrawn", "2023-06-01"),
    ]
    assert db_bytes(store) == before


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("personal_digest", "0" * 64),
        pytest.param("name", "CHAN Tai Man"),
        pytest.param("date_of_birth", "1990-04-12"),
    ],
)
def test_an_edit_to_an_anonymised_case_is_caught(store: Store, column: str, value: str) -> None:
    cases = build(store)
    retention.run(store, now=SEVEN_YEARS_ON + DAY)
    with store.engine.begin() as conn:
        conn.execute(app_t.update().where(app_t.c.id == cases["evisa"]).values({column: value}))
    problem = verify(store).problems[0]
    last = history_rows(store, cases["evisa"])[-1]["id"]
    assert str(problem) == (
        f"case {cases['evisa']}: personal data differs from its history "
        f"(its last history row is {last})"
    )


def test_no_unsalted_digest_of_an_email_address_survives(store: Store) -> None:
    """Nobody can test a guessed address against what is left (PDPO principle 2)."""
    build(store)
    retention.run(store, now=SEVEN_YEARS_ON + DAY)
    after = db_bytes(store)
    for email in ("chan.taiman@example.com", NEW_EMAIL, "cases@wongco.example", NEW_REP["email"]):
        guess = hashlib.sha256(email.encode()).hexdigest()[:10]
        assert guess.encode() not in after, email


def test_anonymising_works_on_any_store(any_store: Store) -> None:
    cases = build(any_store)
    report = retention.run(any_store, now=SEVEN_YEARS_ON + DAY)
    assert report.anonymised == [cases["evisa"], cases["withdrawn"]]
    assert verify(any_store).ok
    with any_store.read() as tx:
        names = tx.conn.execute(select(app_t.c.name).order_by(app_t.c.id)).scalars().all()
    assert names == ["(anonymised)", "(anonymised)", "Emily WATSON"]


# --- through the command line ---------------------------------------------------------------
def cli_build() -> dict[str, int]:
    return build(default_store())


def test_cli_retention_run_with_one_year(ready: Qmas, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = cli_build()
    monkeypatch.setenv("QMAS_RETENTION_YEARS", "1")
    with time_machine.travel(FROZEN_AT.replace(year=2024), tick=False):
        code, out, err = ready("retention", "run")
    assert (code, err) == (0, "")
    assert out.startswith("anonymised 0 cases closed before 2023-06-01 (1 year")
    with time_machine.travel(FROZEN_AT.replace(year=2024) + DAY, tick=False):
        code, out, err = ready("retention", "run")
    assert (code, err) == (0, "")
    assert out.startswith("anonymised 2 cases closed before 2023-06-02 (1 year")
    assert case_row(default_store(), cases["open"])["anonymised_at"] is None
    code, out, _ = ready("audit", "verify")
    assert code == 0 and out.startswith("audit ok: 18 history rows over 3 cases verify")


def test_cli_dry_run_lists_and_changes_nothing(ready: Qmas) -> None:
    cases = cli_build()
    before = db_bytes(default_store())
    with time_machine.travel(SEVEN_YEARS_ON + DAY, tick=False):
        code, out, err = ready("retention", "run", "--dry-run")
    assert (code, err) == (0, "")
    first = out.splitlines()[0]
    assert first.startswith("2 cases closed before 2023-06-02 (7 years")
    assert first.endswith("would be anonymised (dry run: nothing changed)")
    for case_id in (cases["evisa"], cases["withdrawn"]):
        assert str(case_id) in out
    assert "evisa_issued" in out and "withdrawn" in out and "2023-06-01" in out
    assert db_bytes(default_store()) == before


def test_cli_json_shape(ready: Qmas) -> None:
    cases = cli_build()
    with time_machine.travel(SEVEN_YEARS_ON + DAY, tick=False):
        code, out, err = ready("retention", "run", "--dry-run", "--json")
        assert (code, err) == (0, "")
        dry = json.loads(out)
        code, out, err = ready("retention", "run", "--json")
        assert (code, err) == (0, "")
        done = json.loads(out)
    evisa = case_row(default_store(), cases["evisa"])["file_number"]
    listed = [
        {"case_id": cases["evisa"], "file_number": evisa, "state": "evisa_issued",
         "closed_on": "2023-06-01"},
        {"case_id": cases["withdrawn"], "file_number": None, "state": "withdrawn",
         "closed_on": "2023-06-01"},
    ]  # fmt: skip
    common = {"cutoff": "2023-06-02", "years": 7, "cases": listed, "kept_rows": 0}
    assert dry == {**common, "dry_run": True, "anonymised": []}
    assert done == {
        **common,
        "dry_run": False,
        "anonymised": [cases["evisa"], cases["withdrawn"]],
    }
    again = ready("retention", "run", "--json")
    assert json.loads(again[1])["cases"] == []


def test_cli_records_who_ran_it(ready: Qmas) -> None:
    cases = cli_build()
    with time_machine.travel(SEVEN_YEARS_ON + DAY, tick=False):
        assert ready("retention", "run")[0] == 0
    last = history_rows(default_store(), cases["withdrawn"])[-1]
    assert last["actor"] == "qmas-retention"
    assert json.loads(last["payload"])["operator"].startswith("cli:")


def test_cli_bad_retention_years_is_a_configuration_error(
    ready: Qmas, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QMAS_RETENTION_YEARS", "0")
    code, out, err = ready("retention", "run")
    assert (code, out) == (7, "")
    assert len(err.splitlines()) == 1 and "QMAS_RETENTION_YEARS" in err


def test_key_in_the_process_is_used_for_the_anonymise_row(store: Store) -> None:
    signer = Store(engine=store.engine, key=KEY)
    cases = build(signer)
    retention.run(signer, now=SEVEN_YEARS_ON + DAY)
    assert history_rows(store, cases["evisa"])[-1]["key_id"] == KEY.id
    report = verify(Store(engine=store.engine, key=Key("0" * 16, b"x" * 40)))
    assert not report.ok
