"""A day on the console, in a real browser: a caseworker's morning, a supervisor's refusal,
the committee's allotment under the four-eyes rule, an auditor's checks, and an applicant's
enquiry in Chinese. Each scenario leaves a screenshot in tests/artifacts/."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from playwright.sync_api import Page
from sqlalchemy import text

from console.web.i18n import t
from states.catalogue import label
from tests.browser.conftest import Console
from tests.browser.scenario import (
    advance,
    body,
    case_at,
    file_number,
    open_action,
    preview_and_confirm,
    set_field,
    state,
    submit,
    triggers,
    values,
)

DOCUMENTS = ["police_certificate", "employment_proof"]


def test_a_caseworkers_morning(console: Console) -> None:
    """Log in, find a case by its file number in the search box, request two documents
    (checking the preview first), record one as received, then the other, and shortlist."""
    store = console.store
    case_id = case_at(store, "issue_file_number", assignee="officer.lam")
    case_at(store, "issue_file_number")  # another case, not this officer's
    ref = file_number(store, case_id)

    page = console.as_("officer.lam")
    assert page.url.endswith("/work"), page.url
    assert ref in body(page), "my work lists the case assigned to me"
    console.shot(page, "caseworker-1-my-work")

    page.locator('form[role="search"] input[name="q"]').fill(ref)
    with page.expect_navigation():
        page.locator('form[role="search"] [type="submit"]').click()
    assert f"/cases/{ref}" in page.url or f"/cases/{case_id}" in page.url, page.url
    assert ref in body(page)
    assert label("file_number_issued", "en") in body(page)
    console.shot(page, "caseworker-2-case")
    case_ref = page.url.rstrip("/").rsplit("/cases/", 1)[1].split("?")[0]

    open_action(page, case_ref, "request_documents")
    set_field(page, "documents", DOCUMENTS)
    previewed = submit(page, f"/cases/{case_ref}/actions/request_documents/preview")
    assert previewed == 200, body(page)[:800]
    assert label("documents_requested", "en") in body(page), "the preview names the next state"
    assert state(store, case_id) == "file_number_issued", "a preview changes nothing"
    console.shot(page, "caseworker-3-preview")
    assert submit(page, f"/cases/{case_ref}/actions/request_documents") == 200
    assert state(store, case_id) == "documents_requested"
    assert label("documents_requested", "en") in body(page)

    open_action(page, case_ref, "record_documents")
    set_field(page, "received", ["police_certificate"])
    assert preview_and_confirm(page, case_ref, "record_documents")[1] == 200
    assert state(store, case_id) == "documents_requested", "a partial receipt keeps the state"
    console.shot(page, "caseworker-4-partial-receipt")

    open_action(page, case_ref, "receive_documents")
    set_field(page, "received", ["employment_proof"])
    assert preview_and_confirm(page, case_ref, "receive_documents")[1] == 200
    assert state(store, case_id) == "file_number_issued"

    open_action(page, case_ref, "shortlist")
    assert preview_and_confirm(page, case_ref, "shortlist")[1] == 200
    assert state(store, case_id) == "shortlisted"
    assert label("shortlisted", "en") in body(page)
    assert triggers(store, case_id)[-4:] == [
        "request_documents",
        "record_documents",
        "receive_documents",
        "shortlist",
    ]
    console.shot(page, "caseworker-5-shortlisted")


def test_a_preview_overtaken_by_someone_else_is_not_confirmed(console: Console) -> None:
    """The preview carries the version it showed; if the case moved meanwhile, confirming
    writes nothing and the page says so, with the state the case is in now."""
    store = console.store
    case_id = case_at(store, "issue_file_number", assignee="officer.lam")
    ref = file_number(store, case_id)
    page = console.as_("officer.lam")
    page.goto(f"/cases/{ref}/actions/shortlist")
    assert submit(page, f"/cases/{ref}/actions/shortlist/preview") == 200
    advance(case_id, "withdraw", "officer.wong", "caseworker", store=store)  # someone else
    status = submit(page, f"/cases/{ref}/actions/shortlist")
    assert status == 409, body(page)[:800]
    assert label("withdrawn", "en") in body(page), body(page)[:800]
    assert triggers(store, case_id)[-1] == "withdraw", "the stale confirmation wrote nothing"
    console.shot(page, "caseworker-conflict")


def test_a_supervisor_refuses_with_a_reason_code(console: Console) -> None:
    store = console.store
    case_id = case_at(store, "shortlist")  # shortlisted by officer.lam: another pair of eyes
    ref = file_number(store, case_id)
    page = console.as_("supervisor.ho")
    page.goto(f"/cases/{ref}")
    assert page.url.endswith(f"/cases/{ref}")
    open_action(page, ref, "refuse")
    set_field(page, "reason_code", "points_below_pass_mark")
    previewed = submit(page, f"/cases/{ref}/actions/refuse/preview")
    assert previewed == 200, body(page)[:800]
    assert label("refused", "en") in body(page)
    console.shot(page, "supervisor-1-refusal-preview")
    assert submit(page, f"/cases/{ref}/actions/refuse") == 200
    assert state(store, case_id) == "refused"
    assert label("refused", "en") in body(page)
    console.shot(page, "supervisor-2-refused")
    from workflows.views import history

    last = history(case_id, store=store)[-1]
    assert last["trigger"] == "refuse" and last["actor"] == "supervisor.ho", last
    assert "points_below_pass_mark" in str(last), last


def _allot_from_committee_page(page: Page, ref: str) -> int:
    """On /committee, press the allot button of the case's row (and confirm if the console
    asks); returns the status of the last page."""
    page.goto("/committee")
    row = page.locator("tr, li, article, section").filter(has_text=ref).last
    assert row.count(), f"{ref} is not in the committee's pool:\n{body(page)[:800]}"
    button = row.locator('[type="submit"], a[href*="allot_quota"]')
    if button.count() == 0:
        return 0  # no button for this member: the page shows why instead
    with page.expect_navigation() as nav:
        button.first.click()
    status = nav.value.status if nav.value is not None else 0
    for step in ("/actions/allot_quota/preview", "/actions/allot_quota"):  # form, preview
        if status == 200 and page.locator(f'form[action$="{step}"]').count():
            status = submit(page, step)
    return status


def test_committee_four_eyes_then_another_member_allots(console: Console) -> None:
    store = console.store
    case_id = case_at(store, "issue_file_number")
    # committee.lau is also a caseworker, and shortlisted this case: four-eyes stops them.
    advance(case_id, "shortlist", "committee.lau", "caseworker", store=store)
    ref = file_number(store, case_id)

    blocked = console.as_("committee.lau")
    status = _allot_from_committee_page(blocked, ref)
    assert state(store, case_id) == "shortlisted", "four-eyes: the shortlister cannot allot"
    assert status in (0, 403, 409, 422), status
    assert "four-eyes" in body(blocked).lower() or "four eyes" in body(blocked).lower(), body(
        blocked
    )[:1000]
    console.shot(blocked, "committee-1-four-eyes")

    other = console.as_("committee.cheung")
    status = _allot_from_committee_page(other, ref)
    assert state(store, case_id) == "quota_allotted", body(other)[:1000]
    assert status == 200
    assert triggers(store, case_id)[-1] == "allot_quota"
    console.shot(other, "committee-2-allotted")


def test_an_auditor_filters_the_history_verifies_the_chain_and_exports_csv(
    console: Console,
) -> None:
    store = console.store
    shortlisted = [case_at(store, "shortlist") for _ in range(2)]
    case_at(store, "issue_file_number")
    page = console.as_("auditor.yu")
    page.goto("/audit")
    assert page.url.endswith("/audit"), page.url
    set_field(page, "actor", "officer.lam")
    set_field(page, "trigger", "shortlist")
    with page.expect_navigation():
        page.locator('main form [type="submit"]').first.click()
    assert "actor=officer.lam" in page.url and "trigger=shortlist" in page.url, page.url
    rows = page.locator("main table tbody tr")
    assert rows.count() == len(shortlisted), body(page)[:1500]
    for i in range(rows.count()):
        row_text = rows.nth(i).inner_text()
        assert "officer.lam" in row_text and "shortlist" in row_text.lower(), row_text
    console.shot(page, "auditor-1-filtered")

    csv_link = page.locator('a[href*="format=csv"]').first
    href = csv_link.get_attribute("href") or ""
    assert "actor=officer.lam" in href and "trigger=shortlist" in href, href
    with page.expect_download() as download:
        csv_link.click()
    path = download.value.path()
    exported = Path(path).read_text(encoding="utf-8-sig")
    table = list(csv.DictReader(io.StringIO(exported)))
    assert len(table) == len(shortlisted), exported[:1000]
    assert all("officer.lam" in ",".join(r.values()) for r in table), exported[:1000]

    page.goto("/audit")
    with page.expect_navigation():
        page.locator('a[href="/audit/verify"]').first.click()
    assert page.url.endswith("/audit/verify"), page.url
    with store.read() as tx:
        count = tx.conn.execute(text("SELECT count(*) FROM history")).scalar_one()
    expected = t("audit.verify.ok", "en", rows=count, cases=3)
    assert page.locator(".verify-ok").inner_text() == expected, body(page)[:1000]
    assert page.locator(".verify-failed").count() == 0
    console.shot(page, "auditor-2-verified")

    # Someone edits a row behind the engine's back: the same page now says so.
    with store.write() as tx:
        tx.conn.execute(text("UPDATE history SET actor = 'mallory' WHERE trigger = 'shortlist'"))
    page.reload()
    assert page.locator(".verify-failed").count() == 1, body(page)[:1000]
    assert page.locator(".verify-ok").count() == 0
    console.shot(page, "auditor-3-tampered")


def test_an_applicant_enquires_in_chinese(console: Console) -> None:
    store = console.store
    case_id = case_at(store, "shortlist")
    ref = file_number(store, case_id)
    dob = str(values(store, case_id)["date_of_birth"])
    page = console.page(locale="zh-HK")
    page.goto("/enquiry")
    assert page.locator("html").get_attribute("lang") == "zh-HK"
    # A wrong date of birth and a file that does not exist get the same page.
    answers = []
    for number, born in ((ref, "1901-01-01"), ("QM2023-999999", dob)):
        set_field(page, "file_number", number)
        set_field(page, "date_of_birth", born)
        assert submit(page, "/enquiry") == 200
        answers.append(page.locator("main").inner_text().replace("QM2023-999999", ref))
    assert answers[0] == answers[1], answers
    assert label("shortlisted", "zh-HK") not in answers[0]
    set_field(page, "file_number", ref)
    set_field(page, "date_of_birth", dob)
    status = submit(page, "/enquiry")
    assert status == 200, body(page)[:800]
    shown = body(page)
    assert label("shortlisted", "zh-HK") in shown, shown[:1000]
    assert "Emily" not in shown and "WATSON" not in shown, "the enquiry shows nothing personal"
    console.shot(page, "enquiry-zh-HK")
