"""What a hostile tester found in the console, each now answered as a page should be: the
committee's page is the committee's, HEAD answers like GET, a token from before login is not
a session's, malformed forms and oversized bodies get a page (not JSON), an error page keeps
its account's header, and the audit's links to a case as of a day use Hong Kong days."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import time_machine

from tests.api.apikit import Api, new_case, serve_store
from tests.console.test_console_work import LOGGED_IN, Forms, csrf, log_in


@pytest.fixture
def site(tmp_path: Path, frozen_clock: time_machine.Traveller) -> Iterator[Api]:
    with serve_store(tmp_path / "hardening.db") as server:
        for username in LOGGED_IN:
            server.with_password(username)
        yield server


def test_the_committee_page_is_the_committees(site: Api) -> None:
    officer = log_in(site, "officer.lam")
    refused = officer.get("/committee")
    assert refused.status_code == 403
    assert "needs the role committee" in refused.text
    assert "officer.lam" in refused.text  # the error page keeps the account's header
    assert log_in(site, "committee.cheung").get("/committee").status_code == 200


def test_head_answers_like_get_without_a_body(site: Api) -> None:
    officer = log_in(site, "officer.lam")
    got, head = officer.get("/work"), officer.head("/work")
    assert (got.status_code, head.status_code) == (200, 200)
    assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]
    assert httpx.head(f"{site.url}/enquiry").status_code == 200


def test_a_token_from_before_login_is_not_the_sessions(site: Api) -> None:
    client = httpx.Client(base_url=site.url, timeout=30)
    site.clients.append(client)
    before = Forms(client.get("/login").text).forms["/login"]["csrf_token"]
    officer = log_in(site, "officer.lam")
    case_id = new_case(site.store)
    officer.cookies.set("qmas_csrf", client.cookies.get("qmas_csrf") or "")
    stale = officer.post(f"/cases/{case_id}/claim", data={"csrf_token": before})
    assert stale.status_code == 403
    fresh = officer.post(
        f"/cases/{case_id}/claim", data={"csrf_token": csrf(officer, f"/cases/{case_id}")}
    )
    assert fresh.status_code == 303


def test_malformed_and_oversized_forms_get_a_page(site: Api) -> None:
    officer = log_in(site, "officer.lam")
    case_id = new_case(site.store)
    token = csrf(officer, f"/cases/{case_id}")
    many = "&".join([f"csrf_token={token}"] + ["a=1"] * 1200)
    answer = officer.post(
        f"/cases/{case_id}/actions/note/preview",
        content=many,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    big = officer.post("/enquiry", data={"csrf_token": token, "file_number": "x" * 1_100_000})
    assert big.status_code == 413 and big.headers["content-type"].startswith("text/html")
    deep = officer.get("/audit?after=9223372036854775808")  # an officer: 403 before parsing
    assert deep.headers["content-type"].startswith("text/html")
