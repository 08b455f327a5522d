"""Finding and feeding cases: CASE as an id or a file number, the case list's filters and
deadlines, JSON Schema of the input contracts, and the example application files.

Every test runs on a frozen clock (a fixed date, never today's) against a fresh SQLite file.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import insert, update

from states.catalogue import State
from states.errors import InvalidInput, NotFound
from states.models import applications, dependants, document_requests
from states.store import Store
from tests.core.clikit import Qmas, Result
from tests.factories import ACTOR_FOR, add_staff, application, overseas_application, persons
from workflows.clock import HK
from workflows.engine import default_store
from workflows.views import list_cases, resolve_case

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = ["mainland-family.json", "overseas-with-representative.json", "achievement.json"]
# The frozen clock of conftest (1 June 2023, gpt-2023) and a fixed day under enhanced-2024.
ENHANCED_ERA = datetime(2026, 11, 20, 10, 0, tzinfo=HK)


def write(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def new_case(qmas: Qmas, path: str) -> int:
    code, out, err = qmas("case", "new", path)
    assert (code, err) == (0, ""), err
    return int(out)


def advance(qmas: Qmas, case: str | int, trigger: str, role: str, *extra: str) -> Result:
    """``case advance`` as the test account for ``role`` (`ACTOR_FOR`)."""
    actor = ACTOR_FOR[role]
    return qmas("case", "advance", str(case), trigger, "--actor", actor, "--role", role, *extra)


def moved(qmas: Qmas, case: str | int, trigger: str, role: str, *extra: str) -> None:
    code, _, err = advance(qmas, case, trigger, role, *extra)
    assert (code, err) == (0, ""), (trigger, err)


def one_error_line(result: Result, *, code: int, contains: str) -> str:
    got, _, err = result
    assert got == code, result
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert contains in lines[0], lines[0]
    return lines[0]


def show(qmas: Qmas, case: str) -> dict[str, Any]:
    code, out, err = qmas("case", "show", case, "--json")
    assert (code, err) == (0, ""), err
    view: dict[str, Any] = json.loads(out)
    return view


def numbered_family_case(qmas: Qmas, tmp_path: Path) -> int:
    """A second case with a file number and two dependants (QM2023-000002, -D1, -D2)."""
    new_case(qmas, write(tmp_path, overseas_application()))  # case 1 keeps no file number
    case_id = new_case(qmas, write(tmp_path, application()))
    moved(qmas, case_id, "submit", "applicant")
    moved(qmas, case_id, "issue_file_number", "caseworker")
    return case_id


# --- CASE: an id or a file number ----------------------------------------------------------
def test_case_is_found_by_id_principal_and_dependant_file_number(
    ready: Qmas, tmp_path: Path
) -> None:
    case_id = numbered_family_case(ready, tmp_path)
    assert case_id == 2
    by_id = show(ready, "2")
    assert by_id["file_number"] == "QM2023-000002"
    for ref in ("QM2023-000002", "QM2023-000002-D1", "QM2023-000002-D2", " qm2023-000002-d1 "):
        view = show(ready, ref)
        assert (view["id"], view["file_number"]) == (2, "QM2023-000002"), ref
    assert show(ready, "1")["id"] == 1


def test_resolve_case_directly(ready: Qmas, tmp_path: Path) -> None:
    numbered_family_case(ready, tmp_path)
    store = default_store()
    assert resolve_case(2, store=store) == 2
    assert resolve_case("1", store=store) == 1
    assert resolve_case("QM2023-000002", store=store) == 2
    assert resolve_case("Qm2023-000002-D2\n", store=store) == 2
    with pytest.raises(NotFound, match=r"no case with file number QM2023-000009$"):
        resolve_case("QM2023-000009", store=store)
    with pytest.raises(NotFound, match=r"no case with file number QM2023-000002-D3$"):
        resolve_case("QM2023-000002-D3", store=store)
    with pytest.raises(NotFound, match=r"no case 7$"):
        resolve_case(7, store=store)
    for bad in ("abc", "", "QM-1", "2023-000002", "QM2023-000002-X1", "1.5"):
        with pytest.raises(InvalidInput, match="not a case id or a file number"):
            resolve_case(bad, store=store)


def test_every_command_taking_case_accepts_a_file_number(ready: Qmas, tmp_path: Path) -> None:
    numbered_family_case(ready, tmp_path)
    ref = "QM2023-000002-D1"
    code, out, _ = ready("case", "history", ref, "--json")
    assert code == 0 and [e["trigger"] for e in json.loads(out)] == [
        "submit",
        "issue_file_number",
    ]
    code, out, _ = ready("case", "actions", ref, "--role", "caseworker", "--json")
    assert code == 0 and "shortlist" in {a["trigger"] for a in json.loads(out) if a["allowed"]}
    code, out, _ = ready("case", "checklist", "qm2023-000002", "--json")
    assert code == 0 and json.loads(out)
    code, out, _ = ready("workflow", "diagram", "--case", ref)
    assert code == 0 and "class file_number_issued current" in out
    code, out, err = advance(ready, "QM2023-000002", "shortlist", "caseworker")
    assert (code, err) == (0, "")
    assert out.strip() == "Case 2: file_number_issued → shortlisted (shortlist), version 3"
    assert show(ready, "2")["state"] == "shortlisted"


def test_unknown_or_malformed_case_is_one_line(ready: Qmas, tmp_path: Path) -> None:
    numbered_family_case(ready, tmp_path)
    one_error_line(
        ready("case", "show", "QM2023-000009"),
        code=4,
        contains="no case with file number QM2023-000009",
    )
    one_error_line(
        ready("case", "history", "QM2023-000002-D7"),
        code=4,
        contains="no case with file number QM2023-000002-D7",
    )
    one_error_line(
        advance(ready, "qm2023-000009", "withdraw", "applicant"),
        code=4,
        contains="no case with file number QM2023-000009",
    )
    one_error_line(ready("case", "show", "42"), code=4, contains="no case 42")
    line = one_error_line(ready("case", "show", "abc"), code=2, contains="Invalid value")
    assert "not a case id or a file number" in line
    one_error_line(ready("workflow", "diagram", "--case", "nope"), code=2, contains="'--case'")
    assert show(ready, "2")["version"] == 2  # nothing moved


# --- qmas cases ----------------------------------------------------------------------------
def test_cases_state_may_repeat(ready: Qmas, tmp_path: Path) -> None:
    draft = new_case(ready, write(tmp_path, overseas_application()))
    submitted = new_case(ready, write(tmp_path, application()))
    moved(ready, submitted, "submit", "applicant")
    shortlisted = new_case(ready, write(tmp_path, overseas_application(name="Ann LEE")))
    for trigger, role in [
        ("submit", "applicant"),
        ("issue_file_number", "caseworker"),
        ("shortlist", "caseworker"),
    ]:
        moved(ready, shortlisted, trigger, role)

    def ids(*states: str) -> list[int]:
        argv = [part for s in states for part in ("--state", s)]
        code, out, err = ready("cases", *argv, "--json")
        assert (code, err) == (0, ""), err
        return [r["id"] for r in json.loads(out)]

    assert ids("submitted", "shortlisted") == [submitted, shortlisted]
    assert ids("shortlisted", "draft") == [draft, shortlisted]
    assert ids("submitted") == [submitted]
    assert ids("refused", "lapsed") == []
    assert ids() == [draft, submitted, shortlisted]
    code, out, _ = ready("cases", "--state", "draft", "--state", "submitted")
    assert code == 0 and "2 case(s)" in out
    line = one_error_line(
        ready("cases", "--state", "submitted", "--state", "approved"),
        code=2,
        contains="unknown state 'approved'",
    )
    assert all(s.value in line for s in State)


CASES_KEYS = {"id", "file_number", "name", "state", "since", "next_due", "days_in_state"}
OLD_KEYS = {"version", "lodged_on", "state_since", "updated_at"}


def test_cases_json_next_due_and_days_in_state(
    ready: Qmas, frozen_clock: time_machine.Traveller, tmp_path: Path
) -> None:
    waiting = new_case(ready, write(tmp_path, application()))
    for trigger, role in [("submit", "applicant"), ("issue_file_number", "caseworker")]:
        moved(ready, waiting, trigger, role)
    moved(
        ready,
        waiting,
        "request_documents",
        "caseworker",
        "--data",
        '{"documents": ["police_certificate"], "due": "2023-06-29"}',
    )
    frozen_clock.shift(timedelta(days=3))  # 4 June 2023
    idle = new_case(ready, write(tmp_path, overseas_application()))
    frozen_clock.shift(timedelta(days=9))  # 13 June 2023

    code, out, err = ready("cases", "--json")
    assert (code, err) == (0, "")
    rows = {r["id"]: r for r in json.loads(out)}
    for r in rows.values():
        assert set(r) >= CASES_KEYS | OLD_KEYS
        assert r["since"] == r["state_since"]
    first, second = rows[waiting], rows[idle]
    assert (first["state"], first["file_number"]) == ("documents_requested", "QM2023-000001")
    assert (first["next_due"], first["days_in_state"]) == ("2023-06-29", 12)
    assert first["name"] == "CHAN Tai Man" and first["since"].startswith("2023-06-01T02:00")
    assert (second["state"], second["next_due"], second["days_in_state"]) == ("draft", None, 9)

    moved(
        ready,
        waiting,
        "receive_documents",
        "caseworker",
        "--data",
        '{"received": ["police_certificate"]}',
    )
    code, out, _ = ready("cases", "--state", "file_number_issued", "--json")
    (row,) = json.loads(out)
    assert (row["id"], row["next_due"], row["days_in_state"]) == (waiting, None, 0)

    code, out, _ = ready("cases")
    assert code == 0
    for header in ("next due", "days in state"):
        assert header in out


def test_next_due_is_the_earliest_open_deadline(ready: Qmas, tmp_path: Path) -> None:
    """The case's own deadline or a document still requested, whichever comes first."""
    for _ in range(4):
        new_case(ready, write(tmp_path, overseas_application()))
    store = default_store()
    docs = [  # (case, due, status)
        (1, "2023-07-10", "requested"),
        (1, "2023-06-05", "received"),  # resolved: not open
        (1, "2023-07-20", "requested"),
        (2, "2023-09-01", "requested"),
        (4, "2023-06-02", "waived"),
    ]
    with store.write() as tx:
        for case_id, due, status in docs:
            tx.conn.execute(
                insert(document_requests).values(
                    case_id=case_id,
                    round=1,
                    item="police_certificate",
                    due=due,
                    status=status,
                    requested_at="2023-06-01T02:00:00.000000Z",
                )
            )
        for case_id, deadline in [(1, "2023-08-01"), (2, "2023-08-15"), (3, "2023-12-01")]:
            tx.conn.execute(
                update(applications).where(applications.c.id == case_id).values(deadline=deadline)
            )
    rows = list_cases(store=store, today=date(2023, 6, 30))
    assert [(r["id"], r["next_due"]) for r in rows] == [
        (1, "2023-07-10"),
        (2, "2023-08-15"),
        (3, "2023-12-01"),
        (4, None),
    ]
    assert {r["days_in_state"] for r in rows} == {29}  # created 1 June 2023, HK dates


def test_days_in_state_counts_hong_kong_dates(store: Store) -> None:
    """16:30 UTC on 31 May is already 1 June in Hong Kong: on 1 June the case has 0 days."""
    from workflows.engine import create_case

    with time_machine.travel(datetime.fromisoformat("2023-05-31T16:30:00+00:00"), tick=False):
        case_id = create_case(overseas_application(), store=store)
    (row,) = list_cases(store=store, today=date(2023, 6, 1))
    assert row["id"] == case_id and row["state_since"].startswith("2023-05-31T16:30")
    assert row["days_in_state"] == 0
    (row,) = list_cases("draft", store=store, today=date(2023, 6, 11))
    assert row["days_in_state"] == 10
    assert list_cases(["submitted", "refused"], store=store, today=date(2023, 6, 11)) == []


# --- qmas schema ---------------------------------------------------------------------------
def schema_of(qmas: Qmas, *argv: str) -> dict[str, Any]:
    jsonschema = pytest.importorskip("jsonschema")
    code, out, err = qmas("schema", *argv)
    assert (code, err) == (0, ""), err
    schema: dict[str, Any] = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    return schema


def test_schema_application_and_profile(qmas: Qmas) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    app_schema = schema_of(qmas, "application")
    assert set(app_schema["properties"]) == {
        "applicant",
        "dependants",
        "declaration_signed",
        "profile",
    }
    assert set(app_schema["required"]) >= {"applicant", "declaration_signed"}
    profile_schema = schema_of(qmas, "profile")
    assert set(profile_schema["properties"]) == {
        "test",
        "prerequisites",
        "degrees",
        "work",
        "talent_list",
        "languages",
        "family",
        "income_hkd_last_year",
        "business_profit_hkd",
        "owns_listed_company",
        "achievement",
    }
    # The schemas describe real files: the examples conform, a broken one does not.
    for name in EXAMPLE_FILES:
        data = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
        jsonschema.validate(data, app_schema)
        jsonschema.validate(data["profile"], profile_schema)
    bad = application()
    bad["applicant"]["language"] = "fr"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, app_schema)


def test_schema_data_for_triggers(qmas: Qmas) -> None:
    pay_fee = schema_of(qmas, "data", "pay_fee")
    assert set(pay_fee["properties"]) == {"amount", "method"}
    assert pay_fee["additionalProperties"] is False
    docs = schema_of(qmas, "data", "request_documents")
    assert set(docs["properties"]) == {"documents", "due"}
    shortlist = schema_of(qmas, "data", "shortlist")
    assert shortlist.get("properties", {}) == {}
    line = one_error_line(
        qmas("schema", "data", "approve"), code=2, contains="unknown trigger 'approve'"
    )
    assert "pay_fee" in line and "submit" in line


# --- examples/ -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", EXAMPLE_FILES)
@pytest.mark.parametrize(
    ("moment", "ruleset"),
    [(datetime(2023, 6, 1, 10, 0, tzinfo=HK), "gpt-2023"), (ENHANCED_ERA, "enhanced-2024")],
    ids=["gpt-2023", "enhanced-2024"],
)
def test_example_files_are_accepted_and_submit(
    qmas: Qmas, name: str, moment: datetime, ruleset: str
) -> None:
    data = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    # From 26 February 2025 11:00 HKT: HK$600 for the applicant and each dependant.
    fee = 600 * persons(data) if ruleset == "enhanced-2024" else None
    paid = {"application_fee": {"amount": fee, "method": "fps"}} if fee else {}
    with time_machine.travel(moment, tick=False):
        assert qmas("init")[0] == 0
        add_staff(default_store())
        case_id = new_case(qmas, str(EXAMPLES / name))
        moved(qmas, case_id, "submit", "applicant", "--data", json.dumps(paid))
        view = show(qmas, str(case_id))
    expected = {"due": fee, "paid": fee, "method": "fps"} if fee else None
    assert view["application_fee"] == expected
    assert (view["state"], view["ruleset"], view["passed"]) == ("submitted", ruleset, True)
    assert view["lodged_on"] == moment.date().isoformat()
    assert view["test"] == data["profile"]["test"]
    assert view["applicant"]["name"] == data["applicant"]["name"]
    assert len(view["dependants"]) == len(data["dependants"])


def test_examples_cover_the_three_kinds_of_applicant() -> None:
    family, represented, achievement = (
        json.loads((EXAMPLES / n).read_text(encoding="utf-8")) for n in EXAMPLE_FILES
    )
    assert family["applicant"]["mainland_resident"] is True
    assert sorted(d["relation"] for d in family["dependants"]) == ["child", "spouse"]
    assert represented["applicant"]["mainland_resident"] is False
    assert represented["applicant"]["representative"]["email"]
    assert achievement["profile"]["test"] == "achievement"
    assert achievement["profile"]["achievement"]["kind"] in ("award", "peer_recognition")
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    assert all(n in readme for n in EXAMPLE_FILES)


def test_resolve_and_list_on_sqlite_and_postgresql(
    any_store: Store, frozen_clock: time_machine.Traveller
) -> None:
    """The same lookups and the same one-query case list on both databases."""
    from workflows.engine import create_case

    first = create_case(application(), store=any_store)
    second = create_case(overseas_application(), store=any_store)
    with any_store.write() as tx:
        tx.conn.execute(
            update(applications)
            .where(applications.c.id == first)
            .values(file_number="QM2023-000777", state="documents_requested", deadline="2023-07-01")
        )
        tx.conn.execute(
            update(dependants)
            .where(dependants.c.application_id == first, dependants.c.position == 2)
            .values(file_number="QM2023-000777-D2")
        )
        for due, status in [("2023-06-20", "requested"), ("2023-06-10", "received")]:
            tx.conn.execute(
                insert(document_requests).values(
                    case_id=first,
                    round=1,
                    item="police_certificate",
                    due=due,
                    status=status,
                    requested_at="2023-06-01T02:00:00.000000Z",
                )
            )
    assert resolve_case("qm2023-000777", store=any_store) == first
    assert resolve_case("QM2023-000777-D2", store=any_store) == first
    assert resolve_case(str(second), store=any_store) == second
    with pytest.raises(NotFound, match=r"QM2023-000777-D1$"):
        resolve_case("QM2023-000777-D1", store=any_store)
    rows = list_cases(store=any_store, today=date(2023, 6, 8))
    assert [(r["id"], r["next_due"], r["days_in_state"]) for r in rows] == [
        (first, "2023-06-20", 7),
        (second, None, 7),
    ]
    both = list_cases(["documents_requested", "draft"], store=any_store)
    assert [r["id"] for r in both] == [first, second]
    assert [r["id"] for r in list_cases("draft", store=any_store)] == [second]
