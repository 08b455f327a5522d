"""The console's audit pages over HTTP (uvicorn, httpx): the history across cases and its
filters, CSV downloads that no spreadsheet runs, the chain's verification before and after a
row is edited behind the engine's back, a case as of a date, the access log, the assignments,
and the roles that may read them (auditor, admin)."""

from __future__ import annotations

import csv
import html
import io
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine

from console.web.audit_pages import ACCESS_COLUMNS, HISTORY_COLUMNS, csv_cell
from tests.api.apikit import PASSWORD, Api, serve_store
from tests.factories import ACTOR_FOR, application, overseas_application
from workflows import advance, create_case
from workflows.assignments import claim
from workflows.clock import HK
from workflows.views import case_view, history, reveal_case

FORMULA = '=HYPERLINK("http://evil.example","click")'
LATER = datetime(2023, 6, 10, 10, 0, tzinfo=HK)


@dataclass
class AuditWorld:
    api: Api
    db: Path
    first: int  # moved on 1 June to file_number_issued, shortlisted on 10 June
    second: int  # submitted on 10 June, with an auditor's note that looks like a formula

    def file_number(self, case_id: int) -> str:
        number = case_view(case_id, store=self.api.store)["file_number"]
        assert isinstance(number, str)
        return number


def _act(api: Api, case_id: int, trigger: str, role: str, note: str | None = None) -> None:
    advance(case_id, trigger, ACTOR_FOR[role], role, note=note, store=api.store)


@pytest.fixture
def audit_world(tmp_path: Path, frozen_clock: time_machine.Traveller) -> Iterator[AuditWorld]:
    with serve_store(tmp_path / "audit.db") as api:
        store = api.store
        first = create_case(overseas_application(), store=store)
        _act(api, first, "submit", "applicant")
        _act(api, first, "issue_file_number", "caseworker")
        frozen_clock.move_to(LATER)
        _act(api, first, "shortlist", "caseworker")
        second = create_case(application(), store=store)
        _act(api, second, "submit", "applicant")
        _act(api, second, "note", "auditor", note=FORMULA)
        for username in ("auditor.yu", "admin.lee", "officer.lam"):
            api.with_password(username)
        yield AuditWorld(api, tmp_path / "audit.db", first, second)


def login(api: Api, username: str) -> httpx.Client:
    """A client with a console session for ``username`` (the login form, as a browser)."""
    client = httpx.Client(base_url=api.url, timeout=30)
    api.clients.append(client)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, form.text
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token[1], "next": "/"},
    )
    assert answer.status_code == 303, answer.text
    return client


def history_rows(page: str) -> list[list[str]]:
    """The cells of each history row of the listing, as text."""
    rows = re.findall(r'<tr class="history-row">(.*?)</tr>', page, re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td>(.*?)</td>", r, re.S)
        ]
        for r in rows
    ]


def csv_rows(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.text)))


def all_history(world: AuditWorld) -> list[dict[str, Any]]:
    store = world.api.store
    return sorted(
        history(world.first, store=store) + history(world.second, store=store),
        key=lambda r: int(r["id"]),
    )


# --- the history across cases ----------------------------------------------------------------


def test_the_auditor_filters_history_by_actor__only_that_actors_rows(
    audit_world: AuditWorld,
) -> None:
    page = login(audit_world.api, "auditor.yu").get("/audit", params={"actor": "officer.lam"})
    assert page.status_code == 200, page.text
    rows = history_rows(page.text)
    expected = [r["id"] for r in all_history(audit_world) if r["actor"] == "officer.lam"]
    assert [int(r[0]) for r in rows] == expected and len(expected) == 2
    assert {r[7] for r in rows} == {"officer.lam"}


def test_the_auditor_filters_history_by_trigger__only_that_triggers_rows(
    audit_world: AuditWorld,
) -> None:
    client = login(audit_world.api, "auditor.yu")
    rows = history_rows(client.get("/audit", params={"trigger": "submit"}).text)
    assert len(rows) == 2 and {r[4] for r in rows} == {"submit"}
    rows = history_rows(client.get("/audit", params={"trigger": "shortlist"}).text)
    assert len(rows) == 1
    assert rows[0][2] == audit_world.file_number(audit_world.first)
    assert rows[0][6] == "Shortlisted"


def test_the_auditor_filters_history_by_date_range__days_in_hong_kong(
    audit_world: AuditWorld,
) -> None:
    client = login(audit_world.api, "auditor.yu")
    everything = all_history(audit_world)
    june_1 = [r["id"] for r in everything if str(r["at"]) < "2023-06-02"]
    june_10 = [r["id"] for r in everything if str(r["at"]) >= "2023-06-10"]
    assert len(june_1) == 2 and len(june_10) == 3
    page = client.get("/audit", params={"to": "2023-06-01"})
    assert [int(r[0]) for r in history_rows(page.text)] == june_1
    page = client.get("/audit", params={"from": "2023-06-10", "to": "2023-06-10"})
    assert [int(r[0]) for r in history_rows(page.text)] == june_10
    page = client.get("/audit", params={"from": "2023-06-02", "to": "2023-06-09"})
    assert history_rows(page.text) == [] and "No rows match." in page.text
    page = client.get("/audit", params={"from": "2023-06-10", "actor": "officer.wong"})
    assert [r[4] for r in history_rows(page.text)] == ["submit"]


def test_a_filter_that_is_no_date_or_no_trigger_is_said_on_the_page(
    audit_world: AuditWorld,
) -> None:
    client = login(audit_world.api, "auditor.yu")
    page = client.get("/audit", params={"from": "1 June", "trigger": "fly_away"})
    assert page.status_code == 422
    assert "&#39;1 June&#39; is not a date (YYYY-MM-DD)" in page.text
    assert "There is no action &#39;fly_away&#39;" in page.text


def test_history_pages_by_id__100_a_page_then_the_rest(audit_world: AuditWorld) -> None:
    for n in range(101):
        _act(audit_world.api, audit_world.second, "note", "auditor", note=f"note {n}")
    client = login(audit_world.api, "auditor.yu")
    ids = [int(r["id"]) for r in all_history(audit_world)]
    first = client.get("/audit")
    assert [int(r[0]) for r in history_rows(first.text)] == ids[:100]
    link = re.search(r'href="\?([^"]+)" rel="next"', first.text)
    assert link is not None and html.unescape(link[1]) == f"after={ids[99]}"
    second = client.get("/audit?" + html.unescape(link[1]))
    assert [int(r[0]) for r in history_rows(second.text)] == ids[100:]
    assert 'rel="next"' not in second.text


# --- CSV ---------------------------------------------------------------------------------


def test_history_csv__a_header_and_every_matching_row_formulas_neutralised(
    audit_world: AuditWorld,
) -> None:
    client = login(audit_world.api, "auditor.yu")
    answer = client.get("/audit", params={"format": "csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(
        r'attachment; filename="qmas-history-\d{4}-\d{2}-\d{2}\.csv"',
        answer.headers["content-disposition"],
    )
    rows = csv_rows(answer)
    assert tuple(rows[0]) == HISTORY_COLUMNS
    assert [int(r[0]) for r in rows[1:]] == [r["id"] for r in all_history(audit_world)]
    note = [r for r in rows[1:] if r[5] == "note"]
    assert len(note) == 1 and note[0][HISTORY_COLUMNS.index("note")] == "'" + FORMULA
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    filtered = csv_rows(client.get("/audit", params={"format": "csv", "trigger": "shortlist"}))
    assert len(filtered) == 2 and filtered[1][5] == "shortlist"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+44 20", "'+44 20"),
        ("-3", "'-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (None, ""),
        (7, "7"),
        (["name", "email"], "name email"),
    ],
)
def test_csv_cell__text_a_spreadsheet_would_run_gets_a_quote(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


# --- verification ------------------------------------------------------------------------


def test_verify_shows_ok_then_the_first_problem_after_a_row_is_edited(
    audit_world: AuditWorld,
) -> None:
    client = login(audit_world.api, "auditor.yu")
    page = client.get("/audit/verify")
    assert page.status_code == 200
    assert "Audit ok: 5 history rows over 2 cases verify." in page.text
    assert "no audit key is configured" in page.text  # the warning, said on the page
    first_id = all_history(audit_world)[0]["id"]
    with sqlite3.connect(audit_world.db) as raw:  # behind the engine's back
        raw.execute("UPDATE history SET actor = 'mallory' WHERE id = ?", (first_id,))
    page = client.get("/audit/verify")
    assert page.status_code == 200
    assert "Audit FAILED" in page.text and "Audit ok" not in page.text
    problem = re.search(r'<span class="problem">(.*?)</span>', page.text, re.S)
    assert problem is not None
    assert html.unescape(problem[1]).startswith(
        f"history row {first_id} (case {audit_world.first})"
    )


# --- a case as of a date -----------------------------------------------------------------


def test_a_case_as_of_a_date_shows_the_state_it_was_in_then(audit_world: AuditWorld) -> None:
    client = login(audit_world.api, "auditor.yu")
    number = audit_world.file_number(audit_world.first)
    before = client.get(f"/audit/cases/{number}", params={"as_of": "2023-06-05"})
    assert before.status_code == 200, before.text
    assert 'data-state="file_number_issued"' in before.text
    assert "As of 2023-06-05: File number issued" in before.text
    assert ">shortlist<" not in before.text  # its history up to then only
    after = client.get(f"/audit/cases/{audit_world.first}", params={"as_of": "2023-06-10"})
    assert 'data-state="shortlisted"' in after.text and ">shortlist<" in after.text
    # the read of the history is in the access log
    log = client.get("/audit/access", params={"case": str(audit_world.first)})
    assert log.text.count("<td>history</td>") == 2


def test_a_case_before_it_existed_or_a_bad_date_is_said_on_the_page(
    audit_world: AuditWorld,
) -> None:
    client = login(audit_world.api, "auditor.yu")
    early = client.get(f"/audit/cases/{audit_world.first}", params={"as_of": "2020-01-01"})
    assert early.status_code == 422 and "did not exist yet" in early.text
    bad = client.get(f"/audit/cases/{audit_world.first}", params={"as_of": "soon"})
    assert bad.status_code == 422 and "is not a date" in bad.text
    assert client.get("/audit/cases/QM2023-999999").status_code == 404


# --- the access log and the assignments ---------------------------------------------------


def test_the_access_log_across_cases_filters_by_case_and_account(audit_world: AuditWorld) -> None:
    store = audit_world.api.store
    reveal_case(audit_world.first, "officer.lam", "caseworker", via="cli", store=store)
    reveal_case(audit_world.second, "supervisor.ho", "supervisor", via="cli", store=store)
    client = login(audit_world.api, "admin.lee")
    everything = client.get("/audit/access")
    assert everything.status_code == 200
    assert "officer.lam" in everything.text and "supervisor.ho" in everything.text
    mine = client.get("/audit/access", params={"account": "officer.lam"})
    assert "officer.lam" in mine.text and "supervisor.ho" not in mine.text
    number = audit_world.file_number(audit_world.first)
    one = client.get("/audit/access", params={"case": number})
    assert "officer.lam" in one.text and "supervisor.ho" not in one.text
    download = client.get("/audit/access", params={"format": "csv", "account": "supervisor.ho"})
    rows = csv_rows(download)
    assert tuple(rows[0]) == ACCESS_COLUMNS and len(rows) == 2
    assert rows[1][2] == str(audit_world.second) and rows[1][6] == "reveal"


def test_the_assignments_record_lists_every_claim(audit_world: AuditWorld) -> None:
    claim(audit_world.first, "officer.lam", ("caseworker",), store=audit_world.api.store)
    client = login(audit_world.api, "auditor.yu")
    page = client.get("/audit/assignments")
    assert page.status_code == 200
    assert "<td>claim</td><td>officer.lam</td><td>officer.lam</td>" in page.text
    rows = csv_rows(client.get("/audit/assignments", params={"format": "csv"}))
    assert rows[0] == ["id", "at", "case_id", "action", "assignee", "by"]
    assert rows[1][2:] == [str(audit_world.first), "claim", "officer.lam", "officer.lam"]
    other = client.get("/audit/assignments", params={"case": str(audit_world.second)})
    assert "<td>claim</td>" not in other.text


# --- who may read them ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/audit",
        "/audit?format=csv",
        "/audit/verify",
        "/audit/cases/1?as_of=2023-06-05",
        "/audit/access",
        "/audit/access?format=csv",
        "/audit/assignments?format=csv",
    ],
)
def test_a_caseworker_gets_403_on_the_audit_pages(audit_world: AuditWorld, path: str) -> None:
    answer = login(audit_world.api, "officer.lam").get(path)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "the audit pages need one of the roles admin, auditor" in answer.text


def test_without_a_session_the_audit_pages_send_to_the_login(audit_world: AuditWorld) -> None:
    anonymous = httpx.Client(base_url=audit_world.api.url, timeout=30)
    audit_world.api.clients.append(anonymous)
    answer = anonymous.get("/audit", params={"actor": "officer.lam"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=/audit")


def test_the_audit_pages_speak_chinese_when_chosen(audit_world: AuditWorld) -> None:
    client = login(audit_world.api, "auditor.yu")
    client.get("/lang/zh-HK", params={"next": "/audit"})
    page = client.get("/audit/verify")
    assert "審計正常" in page.text
    listing = client.get("/audit", params={"trigger": "shortlist"})
    assert "已入選" in listing.text  # the state label from the catalogue
