"""The status codes are a contract (issue 9 §3): 404 unknown case, 409 stale If-Match, 422
refused by a guard or bad input with ``{"detail", "reasons"}``, 413 a body over 1 MB, 503 a
busy database, and never a 500 for anything a client sends."""

from __future__ import annotations

import logging
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from fastapi import FastAPI
from sqlalchemy import func, select

from console.web.app import MAX_BODY, create_app
from states.models import applications, history
from states.store import Store
from tests.api.apikit import FEE_2023, Api, move, new_case, problem, running, serve_store
from tests.conftest import FROZEN_AT
from tests.factories import add_staff, overseas_application
from workflows.logins import issue_token

WONG = {"applicant": "officer.wong", "caseworker": "officer.wong", "committee": "committee.cheung"}
NOTE = {"trigger": "note", "role": "caseworker", "note": "Called the applicant."}


def rows(store: Store) -> tuple[int, int]:
    with store.read() as tx:
        cases = tx.conn.execute(select(func.count()).select_from(applications)).scalar_one()
        moves = tx.conn.execute(select(func.count()).select_from(history)).scalar_one()
    return int(cases), int(moves)


@pytest.fixture
def case(api: Api) -> int:
    """Case 1, overseas, file number QM2023-000001 (dependants -D1, -D2)."""
    case_id = new_case(api.store)
    move(api.store, case_id, "issue_file_number", WONG)
    return case_id


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server for the module's calls that must write nothing, with `case` made in it
    (each of those tests checks that nothing was written)."""
    folder = tmp_path_factory.mktemp("contract")
    with time_machine.travel(FROZEN_AT, tick=False), serve_store(folder / "api.db") as api:
        case_id = new_case(api.store)
        move(api.store, case_id, "issue_file_number", WONG)
        yield api


# --- the happy path, over HTTP ---------------------------------------------------------------
def test_a_case_goes_from_draft_to_evisa_over_http(api: Api) -> None:
    lam, ho, cheung = api.as_("officer.lam"), api.as_("supervisor.ho"), api.as_("committee.cheung")
    created = lam.post("/cases", json=overseas_application())
    assert created.status_code == 201, created.text
    case = created.json()
    assert created.headers["location"] == f"/api/v1/cases/{case['id']}"
    assert created.headers["etag"] == '"0"'
    assert (case["state"], case["version"]) == ("draft", 0)
    steps: list[tuple[httpx.Client, dict[str, Any]]] = [
        (lam, {"trigger": "submit", "role": "applicant"}),  # a paper submission, recorded
        (lam, {"trigger": "issue_file_number", "role": "caseworker"}),
        (ho, {"trigger": "shortlist", "role": "supervisor"}),
        (cheung, {"trigger": "allot_quota", "role": "committee"}),
        (
            lam,
            {
                "trigger": "pay_fee",
                "role": "caseworker",
                "data": {"amount": FEE_2023, "method": "fps"},
            },
        ),
        (ho, {"trigger": "issue_evisa", "role": "supervisor"}),
    ]
    for version, (client, body) in enumerate(steps):
        moved = client.post(
            f"/cases/{case['id']}/transitions", json=body, headers={"If-Match": f'"{version}"'}
        )
        assert moved.status_code == 200, (body, moved.text)
        out = moved.json()
        assert set(out) == {"case", "version", "state", "history_id"}
        assert out["version"] == version + 1
        assert moved.headers["etag"] == f'"{version + 1}"'
    shown = lam.get(f"/cases/{case['id']}")
    assert shown.json()["state"] == "evisa_issued"
    assert shown.headers["etag"] == f'"{len(steps)}"'
    moves = lam.get(f"/cases/{case['id']}/history").json()
    assert [(m["trigger"], m["actor"], m["role"]) for m in moves] == [
        ("submit", "officer.lam", "applicant"),
        ("issue_file_number", "officer.lam", "caseworker"),
        ("shortlist", "supervisor.ho", "supervisor"),
        ("allot_quota", "committee.cheung", "committee"),
        ("pay_fee", "officer.lam", "caseworker"),
        ("issue_evisa", "supervisor.ho", "supervisor"),
    ]
    verified = api.as_("auditor.yu").get("/audit/verify")
    assert verified.json() == {
        "ok": True,
        "rows": 6,
        "cases": 1,
        "first_bad": None,
        "problem": None,
    }


def test_a_preview_writes_nothing(served: Api) -> None:
    before = rows(served.store)
    seen = served.as_("supervisor.ho").post(
        "/cases/1/preview", json={"trigger": "shortlist", "role": "supervisor"}
    )
    assert seen.status_code == 200
    assert seen.json()["allowed"] is True and seen.json()["to_state"] == "shortlisted"
    assert rows(served.store) == before


# --- 404 -------------------------------------------------------------------------------------
UNKNOWN_REFS = [
    pytest.param("2", id="unknown-id"),
    pytest.param("0", id="id-0"),
    pytest.param("9" * 19, id="id-over-max"),
    pytest.param("9" * 400, id="id-400-digits"),
    pytest.param("QM2023-999999", id="unknown-file-number"),
    pytest.param("qm2023-000002", id="unknown-file-number-lower-case"),
    pytest.param("QM2023-000001-D9", id="unknown-dependant"),
    pytest.param("QM2023-" + "9" * 60, id="huge-file-number"),
    pytest.param("E00000001", id="travel-document-number"),
    pytest.param("garbage", id="garbage"),
    pytest.param("-1", id="negative"),
    pytest.param("1.0", id="decimal"),
    pytest.param("１", id="fullwidth-digit"),
    pytest.param("💥", id="emoji"),
    pytest.param("%00", id="nul"),
    pytest.param("a" * 3000, id="3000-chars"),
]
CASE_CALLS = [
    pytest.param("GET", "", None, id="show"),
    pytest.param("GET", "/history", None, id="history"),
    pytest.param("GET", "/actions", None, id="actions"),
    pytest.param("POST", "/preview", NOTE, id="preview"),
    pytest.param("POST", "/transitions", NOTE, id="transitions"),
]


@pytest.mark.parametrize(("method", "tail", "body"), CASE_CALLS)
@pytest.mark.parametrize("ref", UNKNOWN_REFS)
def test_an_unknown_case_is_404(
    served: Api, ref: str, method: str, tail: str, body: dict[str, Any] | None
) -> None:
    before = rows(served.store)
    response = served.as_("officer.lam").request(method, f"/cases/{ref}{tail}", json=body)
    assert response.status_code == 404, response.text
    assert problem(response)["detail"].startswith("no case")
    assert rows(served.store) == before


@pytest.mark.parametrize(
    "ref", ["1", "01", " 1", "QM2023-000001", "qm2023-000001", "QM2023-000001-D2"]
)
def test_a_case_is_found_by_id_or_file_number(served: Api, ref: str) -> None:
    response = served.as_("officer.lam").get(f"/cases/{ref}")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == 1


# --- 409 and If-Match ------------------------------------------------------------------------
def test_a_stale_if_match_is_409_and_writes_nothing(api: Api, case: int) -> None:
    lam = api.as_("officer.lam")
    version = lam.get(f"/cases/{case}").json()["version"]
    ok = lam.post(f"/cases/{case}/transitions", json=NOTE, headers={"If-Match": str(version)})
    assert ok.status_code == 200
    before = rows(api.store)
    stale = lam.post(f"/cases/{case}/transitions", json=NOTE, headers={"If-Match": str(version)})
    assert stale.status_code == 409, stale.text
    assert f"expected version {version}" in problem(stale)["detail"]
    assert rows(api.store) == before


@pytest.mark.parametrize("header", ['"3"', "3", 'W/"3"', "*"])
def test_if_match_takes_the_etag_forms(api: Api, case: int, header: str) -> None:
    lam = api.as_("officer.lam")
    lam.post(f"/cases/{case}/transitions", json=NOTE)  # version 3
    response = lam.post(f"/cases/{case}/transitions", json=NOTE, headers={"If-Match": header})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 4


@pytest.mark.parametrize("header", ["abc", "1, 2", "-1", "9" * 30, '"', "v3", ""])
def test_a_malformed_if_match_is_422(api: Api, case: int, header: str) -> None:
    before = rows(api.store)
    response = api.as_("officer.lam").post(
        f"/cases/{case}/transitions", json=NOTE, headers={"If-Match": header}
    )
    assert response.status_code == 422, response.text
    assert "If-Match" in problem(response)["detail"]
    assert rows(api.store) == before


# --- 422: refused by a guard -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"trigger": "submit", "role": "applicant"}, "Not possible while the case is"),
        (
            {"trigger": "pay_fee", "role": "caseworker", "data": {"amount": 1, "method": "fps"}},
            "Not possible while the case is",
        ),
        ({"trigger": "note", "role": "caseworker"}, "A note needs its text"),
    ],
    ids=["wrong-state", "wrong-state-with-data", "missing-note"],
)
def test_a_guard_refusal_is_422_with_its_reasons(
    served: Api, body: dict[str, Any], reason: str
) -> None:
    before = rows(served.store)
    response = served.as_("officer.lam").post("/cases/1/transitions", json=body)
    assert response.status_code == 422, response.text
    found = problem(response)
    assert found["reasons"], "a refusal names its reasons"
    assert any(reason in r for r in found["reasons"]), found
    assert rows(served.store) == before
    # the preview answers the same refusal as data, with the same reasons
    seen = served.as_("officer.lam").post("/cases/1/preview", json=body)
    assert seen.status_code == 200
    assert seen.json()["allowed"] is False and seen.json()["reasons"] == found["reasons"]


# --- 422: bad input --------------------------------------------------------------------------
BAD_MOVES = [
    pytest.param({"trigger": "fly_away", "role": "caseworker"}, "trigger", id="unknown-trigger"),
    pytest.param({**NOTE, "colour": "red"}, "colour", id="extra-field"),
    pytest.param({"role": "caseworker"}, "trigger", id="no-trigger"),
    pytest.param({"trigger": "note"}, "role", id="no-role"),
    pytest.param({**NOTE, "role": 7}, "role", id="role-not-text"),
    pytest.param({**NOTE, "data": [1, 2]}, "data", id="data-not-an-object"),
    pytest.param({**NOTE, "data": {"amount": 5}}, "data", id="data-a-note-does-not-take"),
    pytest.param({**NOTE, "note": "x" * 10_001}, "note", id="note-too-long"),
    pytest.param({**NOTE, "note": "a\x00b"}, "note", id="nul-in-note"),
    pytest.param(
        {
            "trigger": "request_documents",
            "role": "caseworker",
            "data": {"documents": ["a passport photo"]},
        },
        "a passport photo",
        id="unknown-document",
    ),
    pytest.param(
        {"trigger": "withdraw", "role": "applicant", "reason_code": "NO_SUCH_CODE"},
        "NO_SUCH_CODE",
        id="unknown-reason-code",
    ),
    pytest.param(
        {
            "trigger": "pay_fee",
            "role": "caseworker",
            "data": {"amount": "lots", "method": "cheque-by-pigeon"},
        },
        "amount",
        id="bad-payment",
    ),
]


@pytest.mark.parametrize("endpoint", ["transitions", "preview"])
@pytest.mark.parametrize(("body", "named"), BAD_MOVES)
def test_bad_input_is_422_naming_what_is_wrong(
    served: Api, body: dict[str, Any], named: str, endpoint: str
) -> None:
    before = rows(served.store)
    response = served.as_("officer.lam").post(f"/cases/1/{endpoint}", json=body)
    if endpoint == "preview" and response.status_code == 200:  # input judged by a guard:
        found = response.json()  # the preview answers it as a refusal
        assert found["allowed"] is False
    else:
        assert response.status_code == 422, response.text
        found = problem(response)
    assert any(named in r for r in found["reasons"]) or named in found.get("detail", ""), found
    assert rows(served.store) == before


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({}, "applicant"),
        ({**overseas_application(), "declaration_signed": "yes please"}, "declaration_signed"),
        ({**overseas_application(), "unexpected": 1}, "unexpected"),
        (overseas_application(dependants=False) | {"applicant": {"name": "X"}}, "applicant"),
    ],
    ids=["empty", "bad-declaration", "extra-field", "applicant-missing-fields"],
)
def test_a_bad_application_file_is_422(served: Api, data: dict[str, Any], named: str) -> None:
    before = rows(served.store)
    response = served.as_("officer.lam").post("/cases", json=data)
    assert response.status_code == 422, response.text
    found = problem(response)
    assert named in found["detail"] or any(named in r for r in found["reasons"]), found
    assert rows(served.store) == before


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=abc",
        "limit=" + "9" * 40,
        "state=nowhere",
        "state=",
        "state=draft&state=bogus",
        "cursor=abc",
        "cursor=-1",
        "cursor=" + "9" * 30,
        "q=" + "x" * 201,
    ],
)
def test_a_bad_list_query_is_422(served: Api, query: str) -> None:
    response = served.as_("officer.lam").get(f"/cases?{query}")
    assert response.status_code == 422, response.text
    assert problem(response)["reasons"]


# --- never a 500 -----------------------------------------------------------------------------
def _json(raw: bytes) -> dict[str, Any]:
    return {"content": raw, "headers": {"Content-Type": "application/json"}}


ODD_BODIES = [
    pytest.param({"content": b""}, id="empty-no-type"),
    pytest.param(_json(b""), id="empty-json"),
    pytest.param({"content": b"", "headers": {"Content-Type": "text/plain"}}, id="empty-text"),
    pytest.param(_json(b"{bad"), id="invalid-json"),
    pytest.param(_json(b"\xff\xfe\x00"), id="not-utf8"),
    pytest.param(_json(b"null"), id="null"),
    pytest.param(_json(b"[]"), id="array"),
    pytest.param(_json(b"42"), id="number"),
    pytest.param(_json(b'"text"'), id="string"),
    pytest.param(
        _json(b'{"trigger": "note", "role": "caseworker", "note": "\\ud800"}'), id="lone-surrogate"
    ),
    pytest.param(
        _json(b'{"trigger": "note", "role": "caseworker", "note": "x", "data": {"n": 1e999}}'),
        id="infinity",
    ),
    pytest.param(
        _json(b'{"trigger": "note", "role": "caseworker", "note": "x", "data": {"n": NaN}}'),
        id="nan",
    ),
    pytest.param(
        _json(
            b'{"trigger": "pay_fee", "role": "caseworker", "data": '
            b'{"amount": 1' + b"0" * 500 + b', "method": "fps"}}'
        ),
        id="500-digit-amount",
    ),
    pytest.param(_json(b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}"), id="nested-5000"),
    pytest.param(
        _json(b'{"trigger": "' + "申請".encode() * 40 + b'", "role": "caseworker"}'),
        id="unicode-trigger",
    ),
    pytest.param(
        _json(b'{"trigger": "note", "role": "caseworker", "note": "' + b"x" * 900_000 + b'"}'),
        id="900-kB-note",
    ),
    pytest.param({"content": b"<move/>", "headers": {"Content-Type": "application/xml"}}, id="xml"),
    pytest.param({"data": {"trigger": "note", "role": "caseworker"}}, id="form"),
    pytest.param({"files": {"trigger": b"note"}}, id="multipart"),
    pytest.param(
        {"content": b"--x\r\n\r\n", "headers": {"Content-Type": "multipart/form-data"}},
        id="multipart-without-boundary",
    ),
    pytest.param(
        {"content": b"{}", "headers": {"Content-Type": "application/json; charset=latin-9"}},
        id="odd-charset",
    ),
]
POSTS = ["/cases", "/cases/1/preview", "/cases/1/transitions", "/auth/token"]


@pytest.fixture
def watched(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO)
    yield caplog
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("kwargs", ODD_BODIES)
def test_odd_bodies_are_never_a_server_error(
    served: Api, path: str, kwargs: dict[str, Any], watched: pytest.LogCaptureFixture
) -> None:
    response = served.as_("officer.lam").post(path, **kwargs)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        problem(response)


ODD_QUERIES = [
    "/cases?q=%00",
    "/cases?q=%F0%9F%92%A5",
    "/cases?q=%25",
    "/cases?q=_",
    "/cases?q=%5C",
    "/cases?q='%20OR%201=1--",
    "/cases?limit=1.5",
    "/cases?cursor=",
    "/cases?reveal=maybe",
    "/cases?cursor=9223372036854775807",
    "/cases/1?reveal=maybe",
    "/cases/1?reveal=",
    "/cases/%2e%2e/history",
    "/cases/1/%00",
    "/cases//history",
    "/nowhere",
    "/cases/1/delete",
    "/audit/verify?x=" + "y" * 5000,
]


@pytest.mark.parametrize("path", ODD_QUERIES)
def test_odd_queries_and_paths_are_never_a_server_error(
    served: Api, path: str, watched: pytest.LogCaptureFixture
) -> None:
    response = served.as_("officer.lam").get(path)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        problem(response)


@pytest.mark.parametrize(
    "value",
    [
        b"Bearer",
        b"Bearer \xff\xfe",
        b"Basic b2ZmaWNlcjpwdw==",
        b"Bearer " + b"A" * 5000,
        b"Bearer a b c",
        b"Token qmas_x",
        b"Bearer qmas_\x7f",
        b"bearer",
    ],
    ids=[
        "no-token",
        "latin1-token",
        "basic",
        "5000-chars",
        "spaces",
        "other-scheme",
        "del",
        "lower-case-no-token",
    ],
)
def test_odd_authorization_headers_are_401(
    served: Api, value: bytes, watched: pytest.LogCaptureFixture
) -> None:
    response = httpx.get(served.url + "/api/v1/cases", headers=[(b"Authorization", value)])
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    problem(response)


def test_a_lower_case_bearer_scheme_is_accepted(served: Api) -> None:
    value = b"bearer " + served.token("officer.lam").encode()
    assert httpx.get(served.url + "/api/v1/cases", headers=[(b"Authorization", value)]).is_success


def test_malformed_http_is_refused_by_the_server_not_the_app(served: Api) -> None:
    raw = (
        b"POST /api/v1/cases HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: abc\r\n\r\n{}"
    )
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(raw)
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]


# --- 413 -------------------------------------------------------------------------------------
def test_a_body_over_1_mb_is_413_declared_or_streamed(served: Api) -> None:
    lam = served.as_("officer.lam")
    big = b'{"note": "' + b"x" * MAX_BODY + b'"}'
    declared = lam.post("/cases/1/transitions", **_json(big))
    assert declared.status_code == 413
    assert "larger than 1,000,000 bytes" in problem(declared)["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
        for _ in range(12):
            yield b" " * 100_000

    for path in ("/cases", "/cases/1/transitions", "/auth/token"):
        streamed = lam.post(path, content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413, (path, streamed.text)
        problem(streamed)


def test_a_streamed_body_under_1_mb_is_read(api: Api, case: int) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"trigger": "note", "role": "caseworker", '
        yield b'"note": "' + b"x" * 500_000 + b'"}'

    response = api.as_("officer.lam").post(
        f"/cases/{case}/transitions", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422  # read whole: the note is over 10,000 characters
    assert "note" in problem(response)["detail"]


# --- what a client cannot cause, handled all the same ----------------------------------------
@pytest.fixture
def boom_api(tmp_path: Path, frozen_clock: time_machine.Traveller) -> Iterator[Api]:
    """A server whose app has one extra route that fails with a message quoting personal
    data, as a bug might."""
    store = Store(f"sqlite:///{tmp_path}/boom.db")
    store.init()
    add_staff(store)
    app: FastAPI = create_app(store)

    def boom() -> None:
        raise ValueError("travel document E12345678 of chan.taiman@example.com")

    app.add_api_route("/api/v1/boom/{ref}", boom)
    with running(app) as url:
        api = Api(url, store)
        yield api
        api.close()
    store.dispose()


def test_an_unexpected_error_is_a_500_problem_logged_without_its_message(
    boom_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = boom_api.as_("officer.lam")
    response = client.get("/boom/E12345678")
    assert response.status_code == 500
    assert problem(response)["detail"].startswith("internal error")
    assert client.get("/cases").status_code == 200  # the same connection still serves
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(r.getMessage() for r in server)
    assert "unexpected ValueError on GET /api/v1/boom/… at" in logged  # type, route, place
    assert "test_api_contract.py" in logged and "boom" in logged
    assert "E12345678" not in logged and "chan.taiman" not in logged
    assert not any(r.exc_info for r in server)  # no traceback (it would print the message)


def test_a_busy_database_is_503_with_retry_after(
    tmp_path: Path, frozen_clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QMAS_SQLITE_BUSY_TIMEOUT_MS", "100")
    with serve_store(tmp_path / "busy.db") as api:
        case_id = new_case(api.store)
        token = issue_token("officer.lam", 1, by="tests", store=api.store).token
        client = api.client(token)
        assert client.get("/cases").status_code == 200  # the token is touched now, not later
        hog = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
        try:
            hog.execute("BEGIN EXCLUSIVE")
            response = client.post(
                f"/cases/{case_id}/transitions", json={"trigger": "submit", "role": "applicant"}
            )
            hog.execute("ROLLBACK")
        finally:
            hog.close()
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert "busy" in problem(response)["detail"]
        again = client.post(
            f"/cases/{case_id}/transitions", json={"trigger": "submit", "role": "applicant"}
        )
        assert again.status_code == 200, again.text


# --- the document says what is sent ----------------------------------------------------------
def test_the_openapi_document_describes_every_error_as_a_problem(served: Api) -> None:
    document = served.anonymous().get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert set(schemas["Problem"]["properties"]) == {"detail", "reasons"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Problem", (method, path, status)
    assert "HTTPValidationError" not in schemas  # FastAPI's 422 shape is never sent


def test_the_openapi_document_describes_the_application_file(served: Api) -> None:
    document = served.anonymous().get("/openapi.json").json()
    body = document["paths"]["/api/v1/cases"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ApplicationFile"
    }
    application = document["components"]["schemas"]["ApplicationFile"]
    assert {"applicant", "declaration_signed"} <= set(application["required"])
    applicant = application["properties"]["applicant"]["$ref"].rsplit("/", 1)[1]
    assert "travel_document_number" in document["components"]["schemas"][applicant]["properties"]


def test_the_openapi_document_links_a_case_to_what_can_be_asked_of_it(served: Api) -> None:
    paths = served.anonymous().get("/openapi.json").json()["paths"]
    created = paths["/api/v1/cases"]["post"]["responses"]["201"]["links"]
    assert created["MoveCase"] == {
        "operationId": "moveCase",
        "parameters": {"ref": "$response.body#/id"},
    }
    listed = paths["/api/v1/cases"]["get"]["responses"]["200"]["links"]
    assert listed["GetCase"]["parameters"] == {"ref": "$response.body#/items/0/id"}
    operation_ids = {op["operationId"] for ops in paths.values() for op in ops.values()}
    assert {link["operationId"] for link in created.values()} <= operation_ids
