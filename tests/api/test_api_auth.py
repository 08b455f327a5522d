"""Logging in and bearer tokens over HTTP: JSON and OAuth2 form logins, wrong passwords,
throttling (the 5th failure in a row locks the account; 429 with Retry-After until the lock
ends), token expiry, revocation (API and CLI) and disabled accounts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from sqlalchemy import update

from console.cli import main
from states.accounts import Accounts
from states.models import accounts as accounts_table
from tests.api.apikit import PASSWORD, Api, problem
from workflows.clock import iso, now_utc, parse_iso
from workflows.engine import default_store
from workflows.logins import issue_token

USER = "officer.lam"


def login_json(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/auth/token", json={"username": username, "password": password})


def login_form(client: httpx.Client, username: str, password: str) -> httpx.Response:
    form = {"grant_type": "password", "username": username, "password": password}
    return client.post("/auth/token", data=form)


def token_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_at"}
    assert body["token_type"] == "bearer"
    assert body["access_token"].startswith("qmas_") and len(body["access_token"]) > 30
    return str(body["access_token"])


def cases_status(api: Api, token: str) -> int:
    return api.client(token).get("/cases").status_code


def refused_401(response: httpx.Response, contains: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert contains in problem(response)["detail"]


# --- logging in ------------------------------------------------------------------------------
@pytest.mark.parametrize("login", [login_json, login_form], ids=["json", "oauth2-form"])
def test_login_gives_a_bearer_token_valid_for_8_hours(api: Api, login) -> None:  # type: ignore[no-untyped-def]
    api.with_password(USER)
    response = login(api.anonymous(), USER, PASSWORD)
    token = token_of(response)
    expires = parse_iso(response.json()["expires_at"])
    assert expires - now_utc() == timedelta(hours=8)
    assert cases_status(api, token) == 200
    assert Accounts(api.store).get(USER).last_login_at == iso(now_utc())  # type: ignore[union-attr]


def test_a_form_login_needs_grant_type_password_if_it_names_one(api: Api) -> None:
    api.with_password(USER)
    form = {"grant_type": "client_credentials", "username": USER, "password": PASSWORD}
    response = api.anonymous().post("/auth/token", data=form)
    assert response.status_code == 422
    assert "grant_type" in problem(response)["detail"]
    # without grant_type the form is still a password login
    form = {"username": USER, "password": PASSWORD}
    token_of(api.anonymous().post("/auth/token", data=form))


@pytest.mark.parametrize(
    ("username", "password"),
    [(USER, "not the password"), (USER, ""), ("nobody.here", PASSWORD), ("system", PASSWORD)],
    ids=["wrong-password", "empty-password", "unknown-user", "system-account"],
)
@pytest.mark.parametrize("login", [login_json, login_form], ids=["json", "oauth2-form"])
def test_a_wrong_login_is_401_and_does_not_say_which_part_was_wrong(
    api: Api,
    login,  # type: ignore[no-untyped-def]
    username: str,
    password: str,
) -> None:
    api.with_password(USER)
    response = login(api.anonymous(), username, password)
    refused_401(response, "wrong username or password")
    assert problem(response)["detail"] == "wrong username or password"


def test_an_account_without_a_password_cannot_log_in(api: Api) -> None:
    refused_401(login_json(api.anonymous(), "officer.wong", PASSWORD), "wrong username")


@pytest.mark.parametrize(
    "body",
    [
        {"username": USER},
        {"password": PASSWORD},
        {"username": USER, "password": PASSWORD, "extra": 1},
        {"username": ["a"], "password": PASSWORD},
        {"username": "x" * 201, "password": PASSWORD},
        [],
        None,
    ],
    ids=[
        "no-password",
        "no-username",
        "extra-field",
        "list-username",
        "long-username",
        "array",
        "null",
    ],
)
def test_a_malformed_login_body_is_422(api: Api, body: object) -> None:
    response = api.anonymous().post("/auth/token", json=body)
    assert response.status_code == 422, response.text
    assert problem(response)["reasons"]


# --- throttling ------------------------------------------------------------------------------
def test_the_fifth_failure_in_a_row_locks_the_account_for_15_minutes(
    api: Api, frozen_clock: time_machine.Traveller
) -> None:
    api.with_password(USER)
    client = api.anonymous()
    for _ in range(5):  # the 5th is still a plain "wrong password", and it locks
        refused_401(login_json(client, USER, "guess"), "wrong username or password")
    locked = login_json(client, USER, PASSWORD)  # the right password: still locked
    assert locked.status_code == 429, locked.text
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert "locked" in problem(locked)["detail"]
    assert login_form(client, USER, PASSWORD).status_code == 429  # the form too

    frozen_clock.shift(timedelta(minutes=14, seconds=59))
    still = login_json(client, USER, PASSWORD)
    assert still.status_code == 429 and int(still.headers["retry-after"]) == 1

    frozen_clock.shift(timedelta(seconds=1))  # the lock has ended
    token = token_of(login_json(client, USER, PASSWORD))
    assert cases_status(api, token) == 200
    assert any(e["event"] == "locked" for e in Accounts(api.store).events(USER))


def test_a_successful_login_resets_the_count_of_failures(api: Api) -> None:
    api.with_password(USER)
    client = api.anonymous()
    for _ in range(4):
        assert login_json(client, USER, "guess").status_code == 401
    token_of(login_json(client, USER, PASSWORD))
    for _ in range(4):
        assert login_json(client, USER, "guess").status_code == 401
    token_of(login_json(client, USER, PASSWORD))  # 8 failures, never 5 in a row


def test_failures_for_one_account_do_not_lock_another(api: Api) -> None:
    api.with_password(USER)
    api.with_password("officer.wong")
    client = api.anonymous()
    for _ in range(5):
        login_json(client, USER, "guess")
    assert login_json(client, USER, PASSWORD).status_code == 429
    token_of(login_json(client, "officer.wong", PASSWORD))


def test_a_token_from_before_the_lock_still_works(api: Api) -> None:
    """The lock throttles password guessing; it does not log out a session (revoke does)."""
    api.with_password(USER)
    client = api.anonymous()
    token = token_of(login_json(client, USER, PASSWORD))
    for _ in range(5):
        login_json(client, USER, "guess")
    assert login_json(client, USER, PASSWORD).status_code == 429
    assert cases_status(api, token) == 200


# --- expiry, revocation, disabled accounts ---------------------------------------------------
def test_a_login_token_expires_after_8_hours(
    api: Api, frozen_clock: time_machine.Traveller
) -> None:
    api.with_password(USER)
    response = login_json(api.anonymous(), USER, PASSWORD)
    token = token_of(response)
    expires = parse_iso(response.json()["expires_at"])
    frozen_clock.move_to(expires - timedelta(seconds=1))
    assert cases_status(api, token) == 200
    frozen_clock.move_to(expires)
    refused_401(api.client(token).get("/cases"), "token expired")


def test_an_issued_token_expires_after_its_days(
    api: Api, frozen_clock: time_machine.Traveller
) -> None:
    issued = issue_token(USER, 3, by="tests", store=api.store)
    assert cases_status(api, issued.token) == 200
    frozen_clock.move_to(parse_iso(issued.expires_at) - timedelta(minutes=1))
    assert cases_status(api, issued.token) == 200
    frozen_clock.move_to(parse_iso(issued.expires_at) + timedelta(minutes=1))
    refused_401(api.client(issued.token).get("/cases/1"), "token expired")


def test_a_revoked_token_is_refused_at_once(api: Api) -> None:
    issued = issue_token(USER, 30, by="tests", store=api.store)
    other = issue_token(USER, 30, by="tests", store=api.store)
    client = api.client(issued.token)
    assert client.get("/cases").status_code == 200
    Accounts(api.store).revoke_token(issued.token_id, by="tests", at=iso(now_utc()))
    refused_401(client.get("/cases"), "token revoked")
    refused_401(client.post("/cases/1/transitions", json={}), "token revoked")
    assert cases_status(api, other.token) == 200  # only that token


def test_qmas_token_revoke_refuses_the_token_over_http(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    issued = issue_token(USER, 30, by="tests", store=api.store)
    assert cases_status(api, issued.token) == 200
    monkeypatch.setenv("QMAS_DATABASE_URL", f"sqlite:///{tmp_path}/api.db")  # the server's file
    default_store.cache_clear()
    try:
        with pytest.raises(SystemExit) as done:
            main(["token", "revoke", str(issued.token_id)])
        assert done.value.code in (0, None), capsys.readouterr()
    finally:
        default_store().dispose()
        default_store.cache_clear()
    refused_401(api.client(issued.token).get("/cases"), "token revoked")


def test_a_disabled_account_is_refused_with_its_tokens_and_its_password(api: Api) -> None:
    """Disabling revokes the account's tokens: enabling it again does not revive them."""
    api.with_password(USER)
    token = token_of(login_json(api.anonymous(), USER, PASSWORD))
    issued = api.token(USER)
    Accounts(api.store).set_active(USER, False, by="tests", at=iso(now_utc()))
    for old in (token, issued):
        response = api.client(old).get("/cases")
        assert response.status_code == 401, response.text
        assert problem(response)["detail"] in ("token revoked", f"account '{USER}' is disabled")
    refused_401(login_json(api.anonymous(), USER, PASSWORD), "wrong username or password")

    Accounts(api.store).set_active(USER, True, by="tests", at=iso(now_utc()))
    assert cases_status(api, token) == 401 and cases_status(api, issued) == 401
    assert cases_status(api, token_of(login_json(api.anonymous(), USER, PASSWORD))) == 200


def test_a_token_of_an_account_disabled_behind_its_back_is_refused(api: Api) -> None:
    """Even a token row left unrevoked is refused while its account is disabled."""
    issued = api.token(USER)
    with api.store.write() as tx:  # the account row alone, as another tool might leave it
        tx.conn.execute(
            update(accounts_table).where(accounts_table.c.username == USER).values(active=False)
        )
    refused_401(api.client(issued).get("/cases"), f"account '{USER}' is disabled")


def test_a_role_taken_away_is_refused_on_the_next_request(api: Api) -> None:
    """Roles are read per request, not baked into the token."""
    client = api.as_(USER)
    assert client.get("/cases").status_code == 200
    Accounts(api.store).set_roles(USER, ["admin"], by="tests", at=iso(now_utc()))
    response = client.get("/cases")
    assert response.status_code == 403
    assert "admin" in problem(response)["detail"]
