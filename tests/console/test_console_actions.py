"""The action pages over HTTP (uvicorn, httpx): form → preview → confirm, the engine's
refusals on the form (422), a stale confirm (409, nothing written), four-eyes on the
committee's pool, CSRF, escaping, and roles the account does not hold (403)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import time_machine
from sqlalchemy import func, select

from states.accounts import Accounts
from states.models import history
from states.store import Store
from tests.api.apikit import PASSWORD, Api, move, new_case, serve_store
from tests.factories import application
from workflows import advance
from workflows.views import case_view

WONG = {"applicant": "officer.wong", "caseworker": "officer.wong", "committee": "committee.cheung"}
LOGGED_IN = ("officer.lam", "officer.wong", "committee.cheung", "auditor.yu")
DUE = "2023-07-14"  # the frozen clock says 1 June 2023


@pytest.fixture
def console_site(tmp_path: Path, frozen_clock: time_machine.Traveller) -> Iterator[Api]:
    """A server over a fresh database; the staff who log in have the password PASSWORD."""
    with serve_store(tmp_path / "console.db") as server:
        for username in LOGGED_IN:
            server.with_password(username)
        yield server


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # hidden and filled fields


class Forms(HTMLParser):
    """Every form of a page with its action and the values its inputs carry."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get")))
        elif tag == "input" and self.forms and a.get("type") == "hidden":
            self.forms[-1].fields.append((a["name"], a.get("value", "")))

    def to(self, action: str, method: str = "post") -> Form:
        return next(f for f in self.forms if f.action == action and f.method == method)


def log_in(site: Api, username: str) -> httpx.Client:
    client = httpx.Client(base_url=site.url, timeout=30)
    site.clients.append(client)
    page = client.get("/login")
    token = Forms(page.text).to("/login").fields[0][1]
    done = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert done.status_code == 303, done.text
    return client


def post_fields(client: httpx.Client, path: str, fields: list[tuple[str, str]]) -> httpx.Response:
    """POST a form's fields as they are (repeated names kept, in order)."""
    return client.post(
        path,
        content=urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def csrf(client: httpx.Client, page: str) -> str:
    form = Forms(client.get(page).text).to("/logout")
    return dict(form.fields)["csrf_token"]


def numbered_case(store: Store) -> int:
    """A Chinese-speaking applicant with a representative, file number issued."""
    case_id = new_case(store, application())
    move(store, case_id, "issue_file_number", WONG)
    return case_id


def rows(store: Store, case_id: int) -> int:
    with store.read() as tx:
        return int(
            tx.conn.execute(
                select(func.count()).select_from(history).where(history.c.case_id == case_id)
            ).scalar_one()
        )


REQUEST = {
    "role": "caseworker",
    "documents": ["police_certificate", "photograph"],
    "due": DUE,
    "reason": "We need these to assess the application.",
    "note": "Asked by phone first.",
}


def test_request_documents__form_preview_confirm_moves_the_case(console_site: Api) -> None:
    store, case_id = console_site.store, numbered_case(console_site.store)
    lam = log_in(console_site, "officer.lam")
    base = f"/cases/{case_id}/actions"

    listing = lam.get(base)
    assert listing.status_code == 200
    assert f'href="{base}/request_documents?role=caseworker"' in listing.text
    assert "Allot quota" in listing.text  # another role's move, shown apart

    form = lam.get(f"{base}/request_documents?role=caseworker")
    assert form.status_code == 200
    assert 'type="checkbox" name="documents" value="police_certificate"' in form.text
    assert 'type="date" name="due"' in form.text
    token = dict(Forms(form.text).to(f"{base}/request_documents/preview").fields)["csrf_token"]

    seen = lam.post(f"{base}/request_documents/preview", data={**REQUEST, "csrf_token": token})
    assert seen.status_code == 200, seen.text
    assert "This will send 2 emails in Chinese:" in seen.text
    assert "Set the due date for documents to 14 July 2023." in seen.text
    assert "Police certificate (certificate of no criminal record): requested" in seen.text
    assert rows(store, case_id) == 2  # a preview writes nothing

    lam.cookies.set("qmas_lang", "zh-HK")
    chinese = lam.post(f"{base}/request_documents/preview", data={**REQUEST, "csrf_token": token})
    assert "將以中文發出 2 封電郵：" in chinese.text
    assert "把補交文件限期定為2023年7月14日。" in chinese.text
    lam.cookies.set("qmas_lang", "en")

    confirm = Forms(seen.text).to(f"{base}/request_documents")
    assert ("expected_version", "2") in confirm.fields
    done = post_fields(lam, f"{base}/request_documents", confirm.fields)
    assert done.status_code == 303
    assert done.headers["location"] == f"/cases/{case_id}?done=request_documents"

    view = case_view(case_id, store=store)
    assert view["state"] == "documents_requested"
    assert {d["name"] for d in view["documents"]} == {"police_certificate", "photograph"}
    with store.read() as tx:
        last = tx.conn.execute(
            select(history).where(history.c.case_id == case_id).order_by(history.c.seq.desc())
        ).first()
    assert last is not None
    assert (last.trigger, last.actor, last.role) == (
        "request_documents",
        "officer.lam",
        "caseworker",
    )
    assert last.reason == REQUEST["reason"] and last.note == REQUEST["note"]

    # the corrections are reachable now: partial receipt, amend, note
    after = lam.get(base).text
    for correction in ("record_documents", "amend", "note"):
        assert f'href="{base}/{correction}?role=caseworker"' in after
    partial = lam.get(f"{base}/record_documents").text
    assert 'name="received" value="police_certificate"' in partial
    assert 'name="waived.photograph"' in partial


def test_record_documents__partial_receipt_keeps_the_rest_open(console_site: Api) -> None:
    store, case_id = console_site.store, numbered_case(console_site.store)
    advance(case_id, "request_documents", "officer.wong", "caseworker", store=store,
            data={"documents": ["police_certificate", "photograph"]})  # fmt: skip
    lam = log_in(console_site, "officer.lam")
    base = f"/cases/{case_id}/actions/record_documents"
    token = csrf(lam, base)
    body = {"role": "caseworker", "received": "police_certificate", "csrf_token": token}
    seen = lam.post(f"{base}/preview", data=body)
    assert seen.status_code == 200, seen.text
    assert "The case stays Documents requested" in seen.text
    done = post_fields(lam, base, Forms(seen.text).to(base).fields)
    assert done.status_code == 303
    status = {d["name"]: d["status"] for d in case_view(case_id, store=store)["documents"]}
    assert status == {"police_certificate": "received", "photograph": "requested"}


def test_refusal__shows_the_reasons_on_the_form(console_site: Api) -> None:
    store, case_id = console_site.store, numbered_case(console_site.store)
    lam = log_in(console_site, "officer.lam")
    base = f"/cases/{case_id}/actions/request_documents"
    token = csrf(lam, base)
    refused = lam.post(
        f"{base}/preview", data={"role": "caseworker", "due": "2023-05-01", "csrf_token": token}
    )
    assert refused.status_code == 422
    assert "This cannot be done now:" in refused.text
    assert "Name at least one document" in refused.text
    assert "The due date 1 May 2023 is already past." in refused.text
    assert 'value="2023-05-01"' in refused.text  # the form keeps what was typed
    assert "Traceback" not in refused.text
    bad = lam.post(
        f"{base}/preview", data={"role": "caseworker", "due": "soon", "csrf_token": token}
    )
    assert bad.status_code == 422 and "due" in bad.text
    assert rows(store, case_id) == 2


def test_stale_confirm__shows_the_conflict_and_writes_nothing(console_site: Api) -> None:
    store, case_id = console_site.store, numbered_case(console_site.store)
    lam = log_in(console_site, "officer.lam")
    base = f"/cases/{case_id}/actions/request_documents"
    seen = lam.post(f"{base}/preview", data={**REQUEST, "csrf_token": csrf(lam, base)})
    assert seen.status_code == 200
    advance(case_id, "shortlist", "officer.wong", "caseworker", store=store)  # meanwhile
    before = rows(store, case_id)

    stale = post_fields(lam, base, Forms(seen.text).to(base).fields)
    assert stale.status_code == 409
    assert "Someone else moved this case: it is now Shortlisted (version 3)." in stale.text
    assert rows(store, case_id) == before
    assert case_view(case_id, store=store)["state"] == "shortlisted"


def test_committee__four_eyes_blocks_who_shortlisted_and_another_allots(
    console_site: Api,
) -> None:
    store, case_id = console_site.store, numbered_case(console_site.store)
    at = "2023-01-01T00:00:00Z"
    Accounts(store).add("dual.chan", ("committee", "supervisor"), by="tests", at=at)
    console_site.with_password("dual.chan")
    advance(case_id, "shortlist", "dual.chan", "supervisor", store=store)
    file_number = case_view(case_id, store=store)["file_number"]
    base = f"/cases/{file_number}/actions/allot_quota"

    chan = log_in(console_site, "dual.chan")
    pool = chan.get("/committee")
    assert pool.status_code == 200
    assert file_number in pool.text and "CHAN Tai Man" in pool.text
    score = case_view(case_id, store=store)["score"]
    assert f"<td>{score}</td>" in pool.text
    assert Forms(pool.text).to(base, "get").fields == [("role", "committee")]

    token = csrf(chan, f"{base}?role=committee")
    blocked = chan.post(f"{base}/preview", data={"role": "committee", "csrf_token": token})
    assert blocked.status_code == 422
    assert (
        "Four-eyes rule: dual.chan shortlisted this case; another officer must allot its quota."
        in blocked.text
    )

    cheung = log_in(console_site, "committee.cheung")
    token = csrf(cheung, "/committee")
    seen = cheung.post(f"{base}/preview", data={"role": "committee", "csrf_token": token})
    assert seen.status_code == 200, seen.text
    assert "from Shortlisted to Quota allotted" in seen.text
    done = post_fields(cheung, base, Forms(seen.text).to(base).fields)
    assert done.status_code == 303
    assert case_view(case_id, store=store)["state"] == "quota_allotted"
    assert file_number not in cheung.get("/committee").text


def test_post_without_csrf_token__is_403_and_writes_nothing(console_site: Api) -> None:
    store, case_id = console_site.store, numbered_case(console_site.store)
    lam = log_in(console_site, "officer.lam")
    base = f"/cases/{case_id}/actions/request_documents"
    for path in (f"{base}/preview", base):
        refused = lam.post(path, data={**REQUEST, "expected_version": "2"})
        assert refused.status_code == 403
        forged = lam.post(path, data={**REQUEST, "expected_version": "2", "csrf_token": "x" * 64})
        assert forged.status_code == 403
    assert rows(store, case_id) == 2


def test_preview__escapes_what_was_typed(console_site: Api) -> None:
    _, case_id = console_site.store, numbered_case(console_site.store)
    lam = log_in(console_site, "officer.lam")
    base = f"/cases/{case_id}/actions/note"
    script = "<script>alert(1)</script>"
    attribute = '"><img src=x onerror=alert(2)>'
    seen = lam.post(
        f"{base}/preview",
        data={
            "role": "caseworker",
            "reason": script,
            "note": attribute,
            "csrf_token": csrf(lam, base),
        },
    )
    assert seen.status_code == 200, seen.text
    assert script not in seen.text and attribute not in seen.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in seen.text
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in seen.text
    assert ("note", attribute) in Forms(seen.text).to(base).fields  # carried intact


def test_role_the_account_lacks__is_403(console_site: Api) -> None:
    store, case_id = console_site.store, numbered_case(console_site.store)
    advance(case_id, "shortlist", "officer.wong", "caseworker", store=store)
    lam = log_in(console_site, "officer.lam")
    base = f"/cases/{case_id}/actions/allot_quota"
    assert lam.get(base).status_code == 403  # no role of officer.lam may allot
    token = csrf(lam, f"/cases/{case_id}/actions")
    for role in ("committee", "supervisor", "system"):
        refused = lam.post(f"{base}/preview", data={"role": role, "csrf_token": token})
        assert refused.status_code == 403, role
        refused = lam.post(base, data={"role": role, "csrf_token": token, "expected_version": "3"})
        assert refused.status_code == 403, role
    assert case_view(case_id, store=store)["state"] == "shortlisted"
    auditor = log_in(console_site, "auditor.yu")
    assert auditor.get(f"/cases/{case_id}/actions/shortlist").status_code == 403
    assert re.search(r"auditor", auditor.get(f"/cases/{case_id}/actions").text)


FORM_OF = {  # an account that may make each move (system-only moves are the supervisor's)
    "caseworker": "officer.lam",
    "applicant": "officer.lam",
    "supervisor": "supervisor.ho",
    "committee": "committee.cheung",
    "auditor": "auditor.yu",
}


@pytest.mark.parametrize("lang", ["en", "zh-HK"])
def test_every_trigger__has_a_form_with_its_words(console_site: Api, lang: str) -> None:
    from workflows.spec import TABLE

    case_id = numbered_case(console_site.store)
    console_site.with_password("supervisor.ho")
    clients: dict[str, httpx.Client] = {}
    for m in TABLE:
        role = sorted(r.value for r in m.roles if r.value != "system")[0]
        username = FORM_OF[role]
        if username not in clients:
            clients[username] = log_in(console_site, username)
            clients[username].cookies.set("qmas_lang", lang)
        page = clients[username].get(f"/cases/{case_id}/actions/{m.trigger.value}")
        assert page.status_code == 200, (m.trigger, page.text)
        missing = re.findall(r"\b(?:trigger|field|role|form|actions)\.[a-z_.]+\b", page.text)
        assert not missing, (m.trigger, missing)  # a key shown as itself: a word is missing


def test_amend__contact_fields_change_the_email(console_site: Api) -> None:
    store, case_id = console_site.store, numbered_case(console_site.store)
    lam = log_in(console_site, "officer.lam")
    base = f"/cases/{case_id}/actions/amend"
    form = lam.get(base).text
    for name in ("applicant.email", "applicant.language", "applicant.representative.clear"):
        assert f'name="{name}"' in form
    body = {
        "role": "caseworker",
        "applicant.email": "new.chan@example.com",
        "applicant.representative.clear": "1",
        "csrf_token": csrf(lam, base),
    }
    seen = lam.post(f"{base}/preview", data=body)
    assert seen.status_code == 200, seen.text
    done = post_fields(lam, base, Forms(seen.text).to(base).fields)
    assert done.status_code == 303
    applicant = case_view(case_id, store=store)["applicant"]
    assert applicant["email"] == "new.chan@example.com"
    assert applicant["representative"] is None
