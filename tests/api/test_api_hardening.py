"""What a hostile session found, each fixed and kept fixed (issue 9, second look).

- a masked travel document number could be unmasked by trying exact-match searches;
- an account with no role on cases could tell which cases exist (404 before 403);
- login: a flood of made-up usernames starved the server; the error of a malformed login
  body quoted the body (a password); a text/plain body was read as JSON;
- a read waited for SQLite's write lock (the token's last use was written first);
- a login setting that does not parse made every login a 500 instead of stopping the start.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine

from console.cli import main
from tests.api.apikit import (
    PASSWORD,
    Api,
    access_records,
    eventually,
    new_case,
    problem,
    serve_store,
)
from workflows.engine import default_store


@pytest.fixture
def case(api: Api) -> int:
    from tests.factories import overseas_application

    return new_case(api.store, overseas_application(travel_document="Z4839201"))


# --- search by travel document number: only for those who may reveal it -------------------
@pytest.mark.parametrize("typed", ["Z4839201", "z4839201", "Z 4839 201", "Z-4839201"])
@pytest.mark.parametrize("user", ["officer.lam", "supervisor.ho"])
def test_the_full_travel_document_number_finds_the_case_for_who_may_reveal_it(
    api: Api, case: int, user: str, typed: str
) -> None:
    found = api.as_(user).get("/cases", params={"q": typed})
    assert [c["id"] for c in found.json()["items"]] == [case]


@pytest.mark.parametrize("user", ["committee.cheung", "auditor.yu"])
def test_the_full_travel_document_number_finds_nothing_for_who_may_not(
    api: Api, case: int, user: str
) -> None:
    """Else 10,000 searches over the masked digits of Z4****01 would unmask it."""
    found = api.as_(user).get("/cases", params={"q": "Z4839201"})
    assert found.status_code == 200
    assert found.json()["items"] == []
    by_name = api.as_(user).get("/cases", params={"q": "watson"})
    assert [c["id"] for c in by_name.json()["items"]] == [case]


# --- refusals that tell nothing of which cases exist ----------------------------------------
@pytest.mark.parametrize("path", ["/cases/{}/transitions", "/cases/{}/preview"])
def test_an_account_that_may_not_act_gets_403_for_a_case_that_exists_or_not(
    api: Api, case: int, path: str
) -> None:
    body = {"trigger": "note", "role": "supervisor", "note": "x"}
    answers = {
        ref: api.as_(user).post(path.format(ref), json=body).status_code
        for ref in (case, 999_999, "QM2099-000001")
        for user in ("admin.lee", "officer.lam")
    }
    assert set(answers.values()) == {403}, answers


# --- login ------------------------------------------------------------------------------------
def test_a_malformed_login_never_quotes_the_password(api: Api) -> None:
    secret = "hunter2-very-secret"
    for body in (
        f'{{"username": "officer.lam", "password": "{secret}"',  # not valid JSON
        f'{{"username": 7, "password": "{secret}", "extra": "{secret}"}}',
        f'{{"username": "officer.lam", "password": "{secret * 100}"}}',  # too long
    ):
        response = api.anonymous().post(
            "/auth/token", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text
        problem(response)
        assert secret not in response.text


def test_a_login_body_that_is_neither_json_nor_a_form_is_422(api: Api) -> None:
    response = api.anonymous().post(
        "/auth/token",
        content='{"username": "officer.lam", "password": "x"}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 422
    assert "application/json" in problem(response)["detail"]


@pytest.fixture
def strict_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen_clock: time_machine.Traveller
) -> Iterator[Api]:
    monkeypatch.setenv("QMAS_LOGIN_CLIENT_FAILURES_PER_MINUTE", "4")
    with serve_store(tmp_path / "strict.db") as server:
        server.with_password("officer.lam")
        yield server


def test_failed_logins_from_one_address_are_capped_whatever_the_usernames(
    strict_api: Api, frozen_clock: time_machine.Traveller
) -> None:
    """The per-account lock cannot see a new name each time; the per-address cap does."""
    client = strict_api.anonymous()
    codes = [
        client.post("/auth/token", json={"username": f"ghost{n}", "password": "x"}).status_code
        for n in range(6)
    ]
    assert codes == [401, 401, 401, 401, 429, 429]
    capped = client.post("/auth/token", json={"username": "officer.lam", "password": PASSWORD})
    assert capped.status_code == 429
    assert int(capped.headers["Retry-After"]) >= 1
    assert "from this address" in problem(capped)["detail"]


# --- reads never wait for the write lock ------------------------------------------------------
def test_a_read_answers_while_another_process_holds_the_write_lock(
    api: Api, case: int, tmp_path: Path
) -> None:
    reader = api.as_("auditor.yu")
    other = sqlite3.connect(tmp_path / "api.db", isolation_level=None, timeout=1)
    try:
        other.execute("BEGIN IMMEDIATE")  # the flows' batch, say
        for _ in range(3):
            assert reader.get(f"/cases/{case}", timeout=5).status_code == 200
            assert reader.get("/cases", timeout=5).status_code == 200
    finally:
        other.execute("ROLLBACK")
        other.close()


# --- settings are checked when the server starts -------------------------------------------
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QMAS_LOGIN_MAX_FAILURES", "0"),
        ("QMAS_LOGIN_TOKEN_HOURS", "abc"),
        ("QMAS_LOGIN_LOCK_MINUTES", "-5"),
        ("QMAS_LOGIN_PARALLEL_CHECKS", "0"),
    ],
)
def test_serve_refuses_to_start_with_a_setting_that_does_not_parse(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
) -> None:
    monkeypatch.setenv("QMAS_DATABASE_URL", f"sqlite:///{tmp_path}/serve.db")
    monkeypatch.setenv(name, value)
    default_store.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            main(["serve", "--port", "1"])  # never bound: the settings are checked first
    finally:
        default_store.cache_clear()
    out, err = capsys.readouterr()
    assert exited.value.code == 7
    assert err.startswith("error: configuration: ") and name in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in out + err


# --- every read through the API is an access record ----------------------------------------
def test_reads_of_a_case_and_its_history_are_kept_as_access_records(api: Api, case: int) -> None:
    """Recorded after the answer (a read never waits for the write lock): poll briefly."""
    from states.accounts import Accounts

    assert api.as_("auditor.yu").get(f"/cases/{case}").status_code == 200
    assert api.as_("committee.cheung").get(f"/cases/{case}/history").status_code == 200
    assert api.as_("auditor.yu").get("/cases/999999").status_code == 404
    records = access_records(api.store, case, 2)
    seen = sorted((r["account"], r["role"], r["action"], r["fields"], r["via"]) for r in records)
    assert seen == [
        ("auditor.yu", "auditor", "read", ["case"], "api"),
        ("committee.cheung", "committee", "read", ["history"], "api"),
    ]
    assert Accounts(api.store).access_records(999999) == []


def test_a_search_that_confirms_a_travel_document_number_is_recorded_as_such(
    api: Api, case: int
) -> None:
    """Trying the masked digits of Z4****01 one by one would otherwise unmask it unseen."""
    from states.accounts import Accounts

    ho = api.as_("supervisor.ho")
    assert ho.get("/cases", params={"q": "Z4839299"}).json()["items"] == []  # a miss
    assert [c["id"] for c in ho.get("/cases", params={"q": "z4839201"}).json()["items"]] == [case]
    seen = [
        (r["account"], r["role"], r["action"], r["fields"])
        for r in Accounts(api.store).access_records(case)
    ]
    assert seen == [("supervisor.ho", "supervisor", "search", ["travel_document_number"])]


@pytest.mark.parametrize("q", ["MARTÍNEZ", "martínez", "Í", "nguyễn", "NGUYỄN", "văn"])
def test_a_name_is_found_whatever_the_case_of_its_accented_letters(api: Api, q: str) -> None:
    from tests.factories import overseas_application

    ids = [
        new_case(api.store, overseas_application(name=name))
        for name in ("Sofia MARTÍNEZ", "NGUYỄN Văn An", "Emily WATSON")
    ]
    found = [c["id"] for c in api.as_("auditor.yu").get("/cases", params={"q": q}).json()["items"]]
    expected = ids[:1] if q.casefold() in "sofia martínez" else ids[1:2]
    assert found == expected


def test_reads_recorded_late_when_the_database_was_locked_keep_their_time(
    api: Api, case: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read answered while another process held the write lock past the busy timeout is
    recorded with the next read, its time unchanged, not lost."""

    from states.accounts import Accounts

    reader = api.as_("auditor.yu")
    real = Accounts.record_accesses
    calls = {"n": 0}

    def locked_once(self: Accounts, records: list[dict[str, object]]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.OperationalError("database is locked")
        real(self, records)

    monkeypatch.setattr(Accounts, "record_accesses", locked_once)
    assert reader.get(f"/cases/{case}").status_code == 200
    eventually(lambda: calls["n"] >= 1, "the first attempt to record the read")
    assert Accounts(api.store).access_records(case) == []  # not yet
    assert reader.get(f"/cases/{case}/history").status_code == 200
    records = access_records(api.store, case, 2)
    assert [r["fields"] for r in records] == [["case"], ["history"]]
    assert records[0]["at"] <= records[1]["at"]
