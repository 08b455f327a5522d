"""Personal data over HTTP: travel document numbers and dates of birth masked by default;
``?reveal=true`` for caseworkers and supervisors only, each reveal an access record (`qmas
audit access`); and none of a travel document number, date of birth or email in the server's
log, whatever the requests held."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from console.cli import main
from states.accounts import Accounts
from tests.api.apikit import FEE_2023, Api, access_records, move, new_case, problem
from tests.factories import overseas_application
from workflows.engine import default_store

DOCUMENT = "X98765432"
BIRTH = "1986-11-23"
EMAIL = "watson.private@example.net"
WONG = {"applicant": "officer.wong", "caseworker": "officer.wong", "committee": "committee.cheung"}


@pytest.fixture
def case(api: Api) -> int:
    data = overseas_application(travel_document=DOCUMENT, email=EMAIL)
    data["applicant"]["date_of_birth"] = BIRTH
    case_id = new_case(api.store, data)
    move(api.store, case_id, "issue_file_number", WONG)
    return case_id


def audit_access_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case_id: int, capsys):  # type: ignore[no-untyped-def]
    """``qmas audit access CASE --json`` against the server's database file."""
    monkeypatch.setenv("QMAS_DATABASE_URL", f"sqlite:///{tmp_path}/api.db")
    default_store.cache_clear()
    capsys.readouterr()
    try:
        with pytest.raises(SystemExit) as done:
            main(["audit", "access", str(case_id), "--json"])
    finally:
        default_store().dispose()
        default_store.cache_clear()
    out, err = capsys.readouterr()
    assert done.value.code in (0, None), err
    return json.loads(out)


@pytest.mark.parametrize(
    "username", ["officer.lam", "supervisor.ho", "committee.cheung", "auditor.yu"]
)
def test_a_case_is_masked_by_default_for_every_reader(api: Api, case: int, username: str) -> None:
    response = api.as_(username).get(f"/cases/{case}")
    assert response.status_code == 200
    text = response.text
    shown = response.json()
    assert shown["applicant"]["travel_document_number"] == "X98****32"
    assert shown["applicant"]["date_of_birth"] == "1986-**-**"
    assert all(d["date_of_birth"].endswith("-**-**") for d in shown["dependants"])
    assert DOCUMENT not in text and BIRTH not in text
    assert "1991-02-03" not in text  # a dependant's date of birth
    assert shown["applicant"]["email"] == EMAIL  # staff need it to answer letters
    # the read is recorded just after its answer, as a read: nothing was revealed
    records = access_records(api.store, case, 1)
    assert [(r["account"], r["action"]) for r in records] == [(username, "read")]


@pytest.mark.parametrize(
    ("username", "role"), [("officer.lam", "caseworker"), ("supervisor.ho", "supervisor")]
)
def test_reveal_shows_personal_data_and_is_recorded(
    api: Api,
    case: int,
    username: str,
    role: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    response = api.as_(username).get(f"/cases/{case}", params={"reveal": "true"})
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["applicant"]["travel_document_number"] == DOCUMENT
    assert shown["applicant"]["date_of_birth"] == BIRTH
    assert [d["date_of_birth"] for d in shown["dependants"]] == ["1991-02-03", "2018-09-30"]

    records = audit_access_json(tmp_path, monkeypatch, case, capsys)
    assert len(records) == 1
    record = records[0]
    assert (record["account"], record["role"], record["action"], record["via"]) == (
        username,
        role,
        "reveal",
        "api",
    )
    assert set(record["fields"]) == {"travel_document_number", "date_of_birth"}
    assert record["at"] == "2023-06-01T02:00:00.000000Z"
    assert Accounts(api.store).access_records(case) == records


def test_each_reveal_is_one_record_and_reveal_false_a_read(api: Api, case: int) -> None:
    lam = api.as_("officer.lam")
    assert lam.get(f"/cases/{case}", params={"reveal": "false"}).status_code == 200
    access_records(api.store, case, 1)  # a masked read is recorded just after its answer
    assert lam.get("/cases/QM2023-000001", params={"reveal": "true"}).status_code == 200
    assert api.as_("supervisor.ho").get(f"/cases/{case}?reveal=1").status_code == 200
    seen = [(r["account"], r["action"]) for r in Accounts(api.store).access_records(case)]
    assert seen == [("officer.lam", "read"), ("officer.lam", "reveal"), ("supervisor.ho", "reveal")]


@pytest.mark.parametrize("username", ["committee.cheung", "auditor.yu", "admin.lee"])
def test_reveal_by_any_other_role_is_403_and_not_recorded(
    api: Api, case: int, username: str
) -> None:
    response = api.as_(username).get(f"/cases/{case}", params={"reveal": "true"})
    assert response.status_code == 403, response.text
    assert DOCUMENT not in response.text and BIRTH not in response.text
    problem(response)
    assert Accounts(api.store).access_records(case) == []


def test_reveal_of_an_unknown_case_is_404_and_not_recorded(api: Api, case: int) -> None:
    response = api.as_("officer.lam").get("/cases/99", params={"reveal": "true"})
    assert response.status_code == 404
    assert Accounts(api.store).access_records(99) == []


def test_no_personal_data_reaches_the_servers_log(
    api: Api, case: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    lam, ho = api.as_("officer.lam"), api.as_("supervisor.ho")
    for q in (DOCUMENT, BIRTH, EMAIL, DOCUMENT.lower()):
        assert lam.get("/cases", params={"q": q}).status_code == 200
    assert lam.get(f"/cases/{case}", params={"reveal": "true"}).status_code == 200
    assert lam.get(f"/cases/{DOCUMENT}").status_code == 404  # a document number as a ref
    assert lam.get(f"/cases/{EMAIL}/history").status_code == 404
    assert lam.get(f"/cases/{BIRTH}/actions").status_code == 404
    other = overseas_application(travel_document="Y11223344", email="y.private@example.org")
    other["applicant"]["date_of_birth"] = "1979-01-31"
    created = lam.post("/cases", json=other)
    assert created.status_code == 201
    bad = {**other, "applicant": {**other["applicant"], "date_of_birth": "1979-02-31"}}
    assert lam.post("/cases", json=bad).status_code == 422
    amend = {
        "trigger": "amend",
        "role": "caseworker",
        "data": {"applicant": {"email": "new.private@example.org"}},
    }
    assert lam.post(f"/cases/{case}/transitions", json=amend).status_code == 200
    assert ho.post(f"/cases/{case}/preview", json={**amend, "role": "supervisor"}).is_success
    login = {"username": EMAIL, "password": DOCUMENT}
    assert api.anonymous().post("/auth/token", json=login).status_code == 401
    pay = {
        "trigger": "pay_fee",
        "role": "caseworker",
        "data": {"amount": FEE_2023, "method": "fps"},
    }
    assert lam.post(f"/cases/{case}/transitions", json=pay).status_code == 422

    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any(r.name == "qmas.api" for r in server), "the access log is on"
    logged = "\n".join(r.getMessage() for r in server)
    for secret in (
        DOCUMENT,
        DOCUMENT.lower(),
        BIRTH,
        EMAIL,
        "Y11223344",
        "1979-01-31",
        "1979-02-31",
        "y.private@example.org",
        "new.private@example.org",
    ):
        assert secret not in logged, secret
    assert "GET /api/v1/cases/… 404" in logged  # the path is logged, the document is not
