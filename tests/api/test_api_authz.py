"""The authorization matrix over HTTP: every endpoint × every caller × own/other case.

The expected policy is written out below from issue 9, independently of `workflows.authz`:
a forbidden combination must get 401 (not authenticated) or 403 (authenticated, lacking the
role) and write nothing; an allowed one must get its success status. "Own" is a case the
calling account has acted on, "other" one it has not: the policy does not depend on it, and
the matrix checks that it does not.

The server and its cases live for the whole module (one SQLite file, frozen clock): the
allowed calls only add notes and new draft cases, which no other combination depends on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import func, select

from states.accounts import Accounts
from states.models import access_records, applications, history
from tests.api.apikit import Api, move, new_case, problem, serve_store
from tests.conftest import FROZEN_AT
from tests.factories import overseas_application
from workflows import advance
from workflows.clock import iso
from workflows.logins import issue_token

# --- the policy, from the issue --------------------------------------------------------------
READERS = frozenset({"caseworker", "supervisor", "committee", "auditor"})
ACTORS = frozenset({"caseworker", "supervisor", "committee", "auditor"})  # may add a note
ALLOWED: dict[str, frozenset[str]] = {
    "list-cases": READERS,
    "create-case": frozenset({"caseworker", "supervisor"}),
    "show-case": READERS,
    "reveal": frozenset({"caseworker", "supervisor"}),
    "history": READERS,
    "actions": READERS,
    "preview": ACTORS,  # acting in a role the account holds (the body's role)
    "transition": ACTORS,
    "verify-audit": frozenset({"auditor", "admin"}),
}
SUCCESS = {"create-case": 201}  # every other allowed call: 200
ON_A_CASE = ("show-case", "reveal", "history", "actions", "preview", "transition")
ROLES = ("caseworker", "supervisor", "committee", "auditor", "admin")
# Callers that are nobody: every endpoint answers them 401.
NOBODY = ("no-token", "bad-token", "expired-token", "revoked-token", "disabled-account")
CALLERS = ROLES + NOBODY

ACCOUNT = {  # the account of each role (tests.factories.STAFF)
    "caseworker": "officer.lam",
    "supervisor": "supervisor.ho",
    "committee": "committee.cheung",
    "auditor": "auditor.yu",
    "admin": "admin.lee",
}
# The role a caller names in a preview or transition body. An admin holds no role a case can
# be acted in: any it names is one it does not hold (test_api_body_role covers every pair).
BODY_ROLE = {**{r: r for r in ROLES}, "admin": "caseworker"}


def expected(endpoint: str, caller: str) -> int:
    if caller in NOBODY:
        return 401
    if caller in ALLOWED[endpoint]:
        return SUCCESS.get(endpoint, 200)
    return 403


# --- the world: one server, an "own" and an "other" case -------------------------------------
@dataclass
class World:
    api: Api
    own: int  # acted on by every role's account (not admin: it cannot act on a case)
    other: int  # acted on by none of them
    tokens: dict[str, str | None]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("authz")
    with time_machine.travel(FROZEN_AT, tick=False), serve_store(folder / "api.db") as api:
        store = api.store
        accounts = Accounts(store)
        for username, role in (
            ("supervisor.tam", "supervisor"),
            ("committee.chan", "committee"),
            ("officer.chow", "caseworker"),
        ):
            api.add_account(username, role)

        own = new_case(store)
        mine = {
            "applicant": "officer.lam",
            "caseworker": "officer.lam",
            "committee": "committee.cheung",
        }
        move(store, own, "allot_quota", mine)
        for role in ("supervisor", "auditor"):
            advance(own, "note", ACCOUNT[role], role, note="Seen.", store=store)

        other = new_case(store)
        theirs = {
            "applicant": "officer.wong",
            "caseworker": "officer.wong",
            "committee": "committee.chan",
        }
        move(store, other, "allot_quota", theirs)
        advance(other, "note", "supervisor.tam", "supervisor", note="Seen.", store=store)

        tokens: dict[str, str | None] = {r: api.token(ACCOUNT[r]) for r in ROLES}
        tokens["no-token"] = None
        tokens["bad-token"] = "qmas_" + "A" * 43  # the shape of a token, not one
        tokens["expired-token"] = issue_token(
            "officer.lam", 1, by="tests", store=store, now=FROZEN_AT - timedelta(days=2)
        ).token
        revoked = issue_token("supervisor.ho", 30, by="tests", store=store)
        accounts.revoke_token(revoked.token_id, by="tests", at=iso(FROZEN_AT))
        tokens["revoked-token"] = revoked.token
        tokens["disabled-account"] = api.token("officer.chow")
        accounts.set_active("officer.chow", False, by="tests", at=iso(FROZEN_AT))
        yield World(api, own, other, tokens)


def acted_on(world: World, case_id: int) -> set[str]:
    with world.api.store.read() as tx:
        rows = tx.conn.execute(select(history.c.actor).where(history.c.case_id == case_id))
        return {r[0] for r in rows}


def test_own_and_other_are_what_the_matrix_says(world: World) -> None:
    callers = {ACCOUNT[r] for r in ROLES if r != "admin"}
    assert callers <= acted_on(world, world.own)
    assert not callers & acted_on(world, world.other)
    assert "admin.lee" not in acted_on(world, world.own) | acted_on(world, world.other)


# --- the requests ----------------------------------------------------------------------------
def call(client: httpx.Client, endpoint: str, case_id: int | None, role: str) -> httpx.Response:
    move_body: dict[str, Any] = {"trigger": "note", "role": role, "note": "Checked."}
    match endpoint:
        case "list-cases":
            return client.get("/cases")
        case "create-case":
            return client.post("/cases", json=overseas_application())
        case "show-case":
            return client.get(f"/cases/{case_id}")
        case "reveal":
            return client.get(f"/cases/{case_id}", params={"reveal": "true"})
        case "history":
            return client.get(f"/cases/{case_id}/history")
        case "actions":
            return client.get(f"/cases/{case_id}/actions")
        case "preview":
            return client.post(f"/cases/{case_id}/preview", json=move_body)
        case "transition":
            return client.post(f"/cases/{case_id}/transitions", json=move_body)
        case "verify-audit":
            return client.get("/audit/verify")
    raise AssertionError(endpoint)


def footprint(world: World) -> tuple[int, int, int]:
    """Cases, history rows, access records: what a refused call must leave as it was."""
    with world.api.store.read() as tx:
        return tuple(  # type: ignore[return-value]
            int(tx.conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (applications, history, access_records)
        )


def check(world: World, endpoint: str, caller: str, which: str | None) -> None:
    case_id = None if which is None else getattr(world, which)
    client = world.api.client(world.tokens[caller])
    before = footprint(world)
    response = call(client, endpoint, case_id, BODY_ROLE.get(caller, "caseworker"))
    want = expected(endpoint, caller)
    assert response.status_code == want, (endpoint, caller, which, response.text)
    if want in (401, 403):
        problem(response)
        assert footprint(world) == before, "a refused call wrote something"
        if want == 401:
            assert response.headers["www-authenticate"] == "Bearer"
    elif endpoint == "transition":
        assert response.json()["state"] == "quota_allotted"
    elif endpoint == "reveal":
        assert footprint(world)[2] == before[2] + 1  # one access record


MATRIX_ON_CASES = [
    pytest.param(e, c, w, id=f"{e}-{c}-{w}")
    for e in ON_A_CASE
    for c in CALLERS
    for w in ("own", "other")
    if not (c == "admin" and w == "own")  # an admin acts on no case: it has no "own"
]
MATRIX_ELSEWHERE = [
    pytest.param(e, c, id=f"{e}-{c}") for e in ALLOWED if e not in ON_A_CASE for c in CALLERS
]


@pytest.mark.parametrize(("endpoint", "caller", "which"), MATRIX_ON_CASES)
def test_case_endpoints(world: World, endpoint: str, caller: str, which: str) -> None:
    check(world, endpoint, caller, which)


@pytest.mark.parametrize(("endpoint", "caller"), MATRIX_ELSEWHERE)
def test_other_endpoints(world: World, endpoint: str, caller: str) -> None:
    check(world, endpoint, caller, None)


def test_the_matrix_covers_every_endpoint_of_the_schema(world: World) -> None:
    """A new endpoint without a row here fails this test."""
    schema = world.api.anonymous().get("/openapi.json").json()
    covered = {
        ("get", "/api/v1/cases"),
        ("post", "/api/v1/cases"),
        ("get", "/api/v1/cases/{ref}"),
        ("get", "/api/v1/cases/{ref}/history"),
        ("get", "/api/v1/cases/{ref}/actions"),
        ("post", "/api/v1/cases/{ref}/preview"),
        ("post", "/api/v1/cases/{ref}/transitions"),
        ("get", "/api/v1/audit/verify"),
        ("post", "/api/v1/auth/token"),  # open to all: tests/api/test_api_auth.py
    }
    found = {(m, p) for p, ops in schema["paths"].items() for m in ops}
    assert found == covered


def test_forbidden_share_of_the_matrix_is_all_refused(world: World) -> None:
    """The summary the issue asks for: 100% of the forbidden combinations refused."""
    forbidden = [
        p.values
        for p in MATRIX_ON_CASES + MATRIX_ELSEWHERE
        if expected(p.values[0], p.values[1]) in (401, 403)  # type: ignore[arg-type]
    ]
    refused = 0
    for values in forbidden:
        endpoint, caller = values[0], values[1]
        which = values[2] if len(values) > 2 else None
        case_id = None if which is None else getattr(world, str(which))
        client = world.api.client(world.tokens[str(caller)])
        response = call(client, str(endpoint), case_id, BODY_ROLE.get(str(caller), "caseworker"))
        refused += response.status_code in (401, 403)
    # on a case: 5 nobodies × 6 endpoints × 2 cases, the admin on 6 endpoints, committee and
    # auditor revealing own/other (70); elsewhere: 5 nobodies × 3, the admin listing, three
    # roles creating, three verifying the audit chain (22)
    assert len(forbidden) == 92
    assert refused == len(forbidden)


# --- the role named in a preview or transition body ------------------------------------------
BODY_ROLES = ("applicant", "caseworker", "supervisor", "committee", "auditor", "system")
NOTE_ROLES = frozenset({"caseworker", "supervisor", "committee", "auditor"})


def may_name(account_role: str, body_role: str) -> bool:
    """From the issue: the account must hold the role it acts in; ``applicant`` is taken by a
    caseworker recording the applicant's act; ``system`` by nobody."""
    if body_role == "system":
        return False
    if body_role == "applicant":
        return account_role == "caseworker"
    return body_role == account_role


@pytest.mark.parametrize("endpoint", ["preview", "transitions"])
@pytest.mark.parametrize("body_role", BODY_ROLES)
@pytest.mark.parametrize("account_role", ROLES)
def test_body_role(world: World, account_role: str, body_role: str, endpoint: str) -> None:
    client = world.api.client(world.tokens[account_role])
    before = footprint(world)
    body = {"trigger": "note", "role": body_role, "note": "Checked."}
    response = client.post(f"/cases/{world.other}/{endpoint}", json=body)
    if not may_name(account_role, body_role):
        assert response.status_code == 403, response.text
        detail = problem(response)["detail"]
        assert body_role in detail or "caseworker" in detail
        assert footprint(world) == before
    elif endpoint == "preview":
        assert response.status_code == 200, response.text
        assert response.json()["allowed"] is (body_role in NOTE_ROLES)
    elif body_role in NOTE_ROLES:
        assert response.status_code == 200, response.text
    else:  # a caseworker may act as applicant, but an applicant may not add a note: the
        # trigger's own role table refuses it (403 too, naming the roles that may)
        assert response.status_code == 403, response.text
        assert problem(response)["detail"] == (
            "role 'applicant' may not note; allowed roles: auditor, caseworker, committee, "
            "supervisor"
        )
        assert footprint(world) == before


def test_a_role_that_is_no_role_is_bad_input(world: World) -> None:
    client = world.api.client(world.tokens["admin"])
    for role in ("admin", "root", ""):
        body = {"trigger": "note", "role": role, "note": "Checked."}
        response = client.post(f"/cases/{world.other}/transitions", json=body)
        assert response.status_code == 422, response.text
        assert "role" in problem(response)["detail"]
