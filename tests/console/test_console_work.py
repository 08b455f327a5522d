"""The work pages over HTTP (uvicorn, httpx): my work, queues, search, the case page (masked,
revealed and recorded), claim and assign, messages; escaping, the language cookie, the login
redirect, CSRF and keyset pagination."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine
from markupsafe import escape
from sqlalchemy import update

from console.web import work_pages
from flows.work import dispatch_pending
from states.accounts import Accounts
from states.models import applications
from states.store import Store
from tests.api.apikit import PASSWORD, Api, access_records, move, new_case, serve_store
from tests.factories import overseas_application
from workflows import advance
from workflows.assignments import assign
from workflows.clock import now_utc
from workflows.views import case_view

ACTORS = {
    "applicant": "officer.wong",
    "caseworker": "officer.lam",
    "committee": "committee.cheung",
    "supervisor": "supervisor.ho",
}
LOGGED_IN = ("officer.lam", "officer.wong", "supervisor.ho", "committee.cheung", "admin.lee")
XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


@pytest.fixture
def site(tmp_path: Path, frozen_clock: time_machine.Traveller) -> Iterator[Api]:
    """A server over a fresh database; the staff who log in have the password PASSWORD."""
    with serve_store(tmp_path / "console.db") as server:
        for username in LOGGED_IN:
            server.with_password(username)
        yield server


class Forms(HTMLParser):
    """The hidden fields of every form of a page, by the form's action."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._current: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = a.get("action", "")
            self.forms.setdefault(self._current, {})
        elif tag == "input" and self._current is not None and a.get("type") == "hidden":
            self.forms[self._current][a["name"]] = a.get("value", "")


def log_in(site: Api, username: str, **kwargs: object) -> httpx.Client:
    client = httpx.Client(base_url=site.url, timeout=30, **kwargs)  # type: ignore[arg-type]
    site.clients.append(client)
    token = Forms(client.get("/login").text).forms["/login"]["csrf_token"]
    done = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert done.status_code == 303, done.text
    return client


def csrf(client: httpx.Client, page: str) -> str:
    forms = Forms(client.get(page).text).forms
    return next(f["csrf_token"] for f in forms.values() if "csrf_token" in f)


def numbered_case(store: Store, **changes: object) -> int:
    """A case with its file numbers issued (state file_number_issued)."""
    case_id = new_case(store, overseas_application(**changes))
    move(store, case_id, "issue_file_number", ACTORS)
    return case_id


def file_number(store: Store, case_id: int) -> str:
    number = case_view(case_id, store=store)["file_number"]
    assert number
    return str(number)


def hrefs(html: str, prefix: str) -> list[str]:
    return re.findall(rf'href="({re.escape(prefix)}[^"]*)"', html)


# --- pages -----------------------------------------------------------------------------------


def test_pages__my_work_queue_and_case_show_the_case(site: Api) -> None:
    case_id = numbered_case(site.store)
    number = file_number(site.store, case_id)
    assign(case_id, "officer.lam", "supervisor.ho", ("supervisor",), store=site.store)
    lam = log_in(site, "officer.lam")

    work = lam.get("/work")
    assert work.status_code == 200
    assert number in work.text and "Emily WATSON" in work.text
    assert "File number issued" in work.text and 'href="/queues/file_number_issued"' in work.text
    assert "Cases assigned to officer.lam" in work.text

    queue = lam.get("/queues/file_number_issued")
    assert queue.status_code == 200 and number in queue.text
    assert number not in lam.get("/queues/shortlisted").text
    assert lam.get("/queues/nonsense").status_code == 404

    page = lam.get(f"/cases/{number}")
    assert page.status_code == 200
    for text in (
        number,
        "officer.lam",
        "Days in state",
        "185 points",
        "Academic qualifications",
        "<svg",
    ):
        assert text in page.text
    assert "The history chain of this case verifies (2 rows)" in page.text
    assert "officer.wong" in page.text  # the applicant's act, recorded by a caseworker
    assert 'class="state current visited" data-state="file_number_issued"' in page.text
    assert "<script" not in page.text
    assert lam.get("/cases/999999").status_code == 404
    assert lam.get("/cases/QM1999-000001").status_code == 404


def test_pages__an_account_that_may_not_read_cases_is_refused(site: Api) -> None:
    case_id = numbered_case(site.store)
    admin = log_in(site, "admin.lee")
    assert admin.get("/work").status_code == 403
    assert admin.get(f"/cases/{case_id}").status_code == 403
    assert admin.get("/queues/submitted").status_code == 403


def test_pages__without_a_session_redirect_to_the_login(site: Api) -> None:
    anonymous = httpx.Client(base_url=site.url, timeout=30)
    site.clients.append(anonymous)
    for path in ("/work?state=submitted", "/queues/submitted", "/cases/1", "/cases/1/messages/x"):
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        location = answer.headers["location"]
        assert location.startswith("/login?next="), location
        assert parse_qs(urlsplit(location).query)["next"] == [path]
    assert anonymous.post("/cases/1/claim", data={}).status_code in (303, 403)


def test_pages__a_post_without_its_csrf_token_is_refused(site: Api) -> None:
    case_id = numbered_case(site.store)
    lam = log_in(site, "officer.lam")
    for action in ("reveal", "claim", "assign"):
        answer = lam.post(f"/cases/{case_id}/{action}", data={"assignee": "officer.lam"})
        assert answer.status_code == 403, action
        wrong = lam.post(f"/cases/{case_id}/{action}", data={"csrf_token": "x" * 64})
        assert wrong.status_code == 403, action
    assert Accounts(site.store).access_records(case_id) == []
    assert case_view(case_id, store=site.store)["state"] == "file_number_issued"


def test_pages__chinese_labels_with_the_language_cookie(site: Api) -> None:
    case_id = numbered_case(site.store)
    assign(case_id, "officer.lam", "supervisor.ho", ("supervisor",), store=site.store)
    lam = log_in(site, "officer.lam")
    lam.cookies.set("qmas_lang", "zh-HK")
    work = lam.get("/work")
    assert "我的工作" in work.text and "已發出檔案編號" in work.text and "工作隊列" in work.text
    page = lam.get(f"/cases/{case_id}")
    assert "申請人" in page.text and "歷史紀錄" in page.text and "已發出檔案編號" in page.text
    assert "流程" in page.text
    queue = lam.get("/queues/file_number_issued")
    assert "隊列：已發出檔案編號" in queue.text


# --- personal data ---------------------------------------------------------------------------


def test_reveal__masked_by_default_reveal_shows_and_is_recorded_once(site: Api) -> None:
    case_id = numbered_case(site.store, travel_document="K98765432")
    lam = log_in(site, "officer.lam")
    page = lam.get(f"/cases/{case_id}")
    assert "K98765432" not in page.text and "K98****32" in page.text
    assert "1990-04-12" not in page.text and "1990-**-**" in page.text
    read = access_records(site.store, case_id, 1)
    assert [(r["action"], r["via"], r["account"]) for r in read] == [
        ("read", "console", "officer.lam")
    ]

    token = Forms(page.text).forms[f"/cases/{case_id}/reveal"]["csrf_token"]
    shown = lam.post(f"/cases/{case_id}/reveal", data={"csrf_token": token})
    assert shown.status_code == 200
    assert "K98765432" in shown.text and "1990-04-12" in shown.text
    assert "this reveal has been recorded" in shown.text
    reveals = [r for r in Accounts(site.store).access_records(case_id) if r["action"] == "reveal"]
    assert len(reveals) == 1
    assert reveals[0]["account"] == "officer.lam" and reveals[0]["role"] == "caseworker"
    assert reveals[0]["via"] == "console"
    assert reveals[0]["fields"] == ["travel_document_number", "date_of_birth"]


def test_reveal__a_committee_member_may_read_but_not_reveal(site: Api) -> None:
    case_id = numbered_case(site.store)
    cheung = log_in(site, "committee.cheung")
    page = cheung.get(f"/cases/{case_id}")
    assert page.status_code == 200 and f"/cases/{case_id}/reveal" not in page.text
    token = csrf(cheung, f"/cases/{case_id}")
    refused = cheung.post(f"/cases/{case_id}/reveal", data={"csrf_token": token})
    assert refused.status_code == 403
    records = access_records(site.store, case_id, 2)
    assert {r["action"] for r in records} == {"read"}


@pytest.mark.parametrize("payload", XSS)
def test_escaping__a_name_is_shown_escaped_on_every_page(site: Api, payload: str) -> None:
    case_id = numbered_case(site.store, name=f"CHAN {payload}")
    assign(case_id, "officer.lam", "supervisor.ho", ("supervisor",), store=site.store)
    lam = log_in(site, "officer.lam")
    pages = [
        lam.get("/work"),
        lam.get("/queues/file_number_issued"),
        lam.get(f"/cases/{case_id}"),
        lam.get("/work", params={"q": "CHAN"}),
    ]
    for page in pages:
        assert page.status_code == 200, page.url
        assert payload not in page.text, page.url
        assert str(escape(payload)) in page.text, page.url
        assert "<script>" not in page.text and "<img" not in page.text


# --- claim and assign ------------------------------------------------------------------------


def test_claim__a_caseworker_claims_an_unassigned_case_once(site: Api) -> None:
    case_id = numbered_case(site.store)
    lam, wong = log_in(site, "officer.lam"), log_in(site, "officer.wong")
    cheung = log_in(site, "committee.cheung")

    token = Forms(lam.get(f"/cases/{case_id}").text).forms[f"/cases/{case_id}/claim"]
    done = lam.post(f"/cases/{case_id}/claim", data=token)
    assert done.status_code == 303 and done.headers["location"] == f"/cases/{case_id}?done=claimed"
    assert "You have claimed this case." in lam.get(done.headers["location"]).text
    assert lam.post(f"/cases/{case_id}/claim", data=token).status_code == 303  # already theirs

    taken = wong.post(f"/cases/{case_id}/claim", data={"csrf_token": csrf(wong, "/work")})
    assert taken.status_code == 422 and "assigned to officer.lam" in taken.text
    refused = cheung.post(f"/cases/{case_id}/claim", data={"csrf_token": csrf(cheung, "/work")})
    assert refused.status_code == 403
    assert case_view(case_id, store=site.store)["id"] == case_id
    assert "officer.lam" in lam.get("/work").text


def test_assign__a_supervisor_assigns_and_releases_others_are_refused(site: Api) -> None:
    case_id = numbered_case(site.store)
    ho, lam = log_in(site, "supervisor.ho"), log_in(site, "officer.lam")
    page = ho.get(f"/cases/{case_id}")
    assert '<option value="officer.wong">officer.wong</option>' in page.text
    token = Forms(page.text).forms[f"/cases/{case_id}/assign"]["csrf_token"]

    done = ho.post(
        f"/cases/{case_id}/assign", data={"csrf_token": token, "assignee": "officer.wong"}
    )
    assert done.status_code == 303
    wong = log_in(site, "officer.wong")
    assert file_number(site.store, case_id) in wong.get("/work").text
    bad = ho.post(f"/cases/{case_id}/assign", data={"csrf_token": token, "assignee": "auditor.yu"})
    assert bad.status_code == 422 and "not an active caseworker" in bad.text
    released = ho.post(f"/cases/{case_id}/assign", data={"csrf_token": token, "assignee": ""})
    assert released.status_code == 303
    assert file_number(site.store, case_id) in ho.get("/work", params={"assignee": "none"}).text

    lam_token = csrf(lam, "/work")
    refused = lam.post(
        f"/cases/{case_id}/assign", data={"csrf_token": lam_token, "assignee": "officer.lam"}
    )
    assert refused.status_code == 403


def test_claim__a_closed_case_takes_no_assignee(site: Api) -> None:
    case_id = numbered_case(site.store)
    advance(case_id, "withdraw", "officer.lam", "caseworker", store=site.store)
    lam, ho = log_in(site, "officer.lam"), log_in(site, "supervisor.ho")
    page = lam.get(f"/cases/{case_id}")
    assert f"/cases/{case_id}/claim" not in page.text
    refused = lam.post(f"/cases/{case_id}/claim", data={"csrf_token": csrf(lam, "/work")})
    assert refused.status_code == 422 and "closed" in refused.text
    refused = ho.post(
        f"/cases/{case_id}/assign",
        data={"csrf_token": csrf(ho, "/work"), "assignee": "officer.lam"},
    )
    assert refused.status_code == 422


# --- search ----------------------------------------------------------------------------------


def test_search__an_exact_file_number_opens_the_case(site: Api) -> None:
    case_id = numbered_case(site.store)
    number = file_number(site.store, case_id)
    lam = log_in(site, "officer.lam")
    for typed in (number, number.lower(), f"  {number} ", f"{number}-D1"):
        answer = lam.get("/work", params={"q": typed})
        assert answer.status_code == 303, typed
        assert answer.headers["location"] == f"/cases/{case_id}"
    unknown = lam.get("/work", params={"q": "QM1999-000123"})
    assert unknown.status_code == 200 and "No cases." in unknown.text


def test_search__by_name_and_by_travel_document_recorded_as_a_search(site: Api) -> None:
    first = numbered_case(site.store, name="Ada LOVELACE", travel_document="P11223344")
    other = numbered_case(site.store, name="Grace HOPPER")
    lam = log_in(site, "officer.lam")
    found = lam.get("/work", params={"q": "lovelace"})
    assert found.status_code == 200
    assert file_number(site.store, first) in found.text
    assert file_number(site.store, other) not in found.text
    assert Accounts(site.store).access_records(first) == []

    by_number = lam.get("/work", params={"q": "p1122 3344"})
    assert file_number(site.store, first) in by_number.text
    records = Accounts(site.store).access_records(first)
    assert [(r["action"], r["via"], r["fields"]) for r in records] == [
        ("search", "console", ["travel_document_number"])
    ]
    cheung = log_in(site, "committee.cheung")  # may not reveal: the number finds nothing
    assert file_number(site.store, first) not in cheung.get("/work", params={"q": "P11223344"}).text


# --- pagination ------------------------------------------------------------------------------


def _walk(client: httpx.Client, path: str, params: dict[str, str]) -> list[list[str]]:
    pages: list[list[str]] = []
    answer = client.get(path, params=params)
    while True:
        assert answer.status_code == 200
        pages.append([h for h in hrefs(answer.text, "/cases/") if "/" not in h[7:]])
        following = re.search(r'href="([^"]*)" rel="next"', answer.text)
        if following is None:
            return pages
        answer = client.get(following.group(1).replace("&amp;", "&"))


def test_pagination__every_case_once_in_deadline_order(
    site: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(work_pages, "PAGE", 4)
    deadlines = ["2023-05-20", None, "2023-06-10", "2023-06-10", None, "2023-05-01", "2023-07-01"]
    ids = []
    for i in range(15):
        case_id = numbered_case(site.store, name=f"Pat PAGE{i}")
        assign(case_id, "officer.lam", "supervisor.ho", ("supervisor",), store=site.store)
        with site.store.write() as tx:  # a deadline as the case's moves would have set it
            tx.conn.execute(
                update(applications)
                .where(applications.c.id == case_id)
                .values(deadline=deadlines[i % len(deadlines)])
            )
        ids.append(case_id)
    lam = log_in(site, "officer.lam")

    pages = _walk(lam, "/work", {})
    seen = [h for page in pages for h in page]
    expected = sorted(ids, key=lambda c: (deadlines[ids.index(c) % 7] or "~", c))
    assert seen == [f"/cases/{c}" for c in expected]
    assert len(pages) == 4 and all(len(p) == 4 for p in pages[:-1])
    overdue = lam.get("/work").text
    assert "overdue" in overdue  # 1 May and 20 May are past on 1 June

    queue_pages = _walk(lam, "/queues/file_number_issued", {})
    assert [h for page in queue_pages for h in page] == [f"/cases/{c}" for c in sorted(ids)]

    due = _walk(lam, "/work", {"due_before": "2023-06-01"})
    assert sorted(h for page in due for h in page) == sorted(
        f"/cases/{c}" for c in ids if (deadlines[ids.index(c) % 7] or "~") < "2023-06-01"
    )
    assert lam.get("/work", params={"after": "garbage"}).status_code == 422


def test_filters__state_ruleset_nationality_and_assignee(site: Api) -> None:
    gb = numbered_case(site.store)
    us = numbered_case(site.store, nationality="US", name="Sam SMITH")
    for case_id in (gb, us):
        assign(case_id, "officer.lam", "supervisor.ho", ("supervisor",), store=site.store)
    lam = log_in(site, "officer.lam")
    text = lam.get("/work", params={"nationality": "us"}).text
    assert file_number(site.store, us) in text and file_number(site.store, gb) not in text
    assert "Sam SMITH" not in lam.get("/work", params={"ruleset": "gpt-2018"}).text
    assert "Sam SMITH" in lam.get("/work", params={"ruleset": "gpt-2023"}).text
    assert "Sam SMITH" not in lam.get("/work", params={"state": "shortlisted"}).text
    assert "Sam SMITH" not in lam.get("/work", params={"assignee": "officer.wong"}).text
    assert lam.get("/work", params={"state": "bogus"}).status_code == 422
    assert lam.get("/work", params={"due_before": "June"}).status_code == 422


# --- messages --------------------------------------------------------------------------------


def test_messages__a_message_of_the_case_opens_rendered_and_escaped(site: Api) -> None:
    case_id = numbered_case(site.store, name='Eve "<b>bold</b>" ADAMS')
    dispatch_pending(site.store, now_utc)
    lam = log_in(site, "officer.lam")
    page = lam.get(f"/cases/{case_id}")
    links = hrefs(page.text, f"/cases/{case_id}/messages/")
    assert links, "the dispatcher planned no message"
    message = lam.get(links[0])
    assert message.status_code == 200
    assert "<b>bold</b>" not in message.text and "&lt;b&gt;bold&lt;/b&gt;" in message.text
    assert '<pre class="message-body">' in message.text
    assert lam.get(f"/cases/{case_id}/messages/no-such-message").status_code == 404
    other = numbered_case(site.store)
    assert lam.get(links[0].replace(f"/cases/{case_id}/", f"/cases/{other}/")).status_code == 404
