"""What a browser must never see: a script injected through a case's data, an inline script or
style that the Content-Security-Policy would block, a form accepted without its CSRF token, and
an enquiry form that can be tried without end."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.conftest import Console
from tests.browser.scenario import body, case_at, file_number, set_field, submit, values

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"

# What a page of the console may not hold: any script written in the page, any inline style,
# any event handler attribute (CSP blocks them all; the console needs none).
_INLINE = """() => {
  const out = [];
  for (const s of document.querySelectorAll('script')) {
    if (!s.src) out.push('inline <script>: ' + s.textContent.slice(0, 80));
  }
  for (const e of document.querySelectorAll('*')) {
    for (const a of e.getAttributeNames()) {
      if (a.startsWith('on')) out.push('handler ' + a + ' on <' + e.tagName.toLowerCase() + '>');
      if (a === 'style') out.push('style attribute on <' + e.tagName.toLowerCase() + '>');
    }
    if (e.tagName === 'A' && (e.getAttribute('href') || '').trim().toLowerCase()
        .startsWith('javascript:')) out.push('javascript: link');
  }
  for (const s of document.querySelectorAll('style')) out.push('inline <style> element');
  return out;
}"""

EXPECTED_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
}


def _csp(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = " ".join(words[1:])
    return out


def _check_page(page: Page, path: str, *, status: int = 200) -> None:
    response = page.goto(path)
    assert response is not None, path
    assert response.status == status, f"{path}: {response.status}\n{body(page)[:600]}"
    headers = response.headers
    policy = _csp(headers.get("content-security-policy", ""))
    for directive, value in EXPECTED_CSP.items():
        assert policy.get(directive) == value, f"{path}: CSP {directive} is {policy.get(directive)}"
    assert headers.get("x-frame-options") == "DENY", path
    assert headers.get("x-content-type-options") == "nosniff", path
    found = page.evaluate(_INLINE)
    assert not found, f"{path}: {found}"
    # The style sheet is the site's own and loads under the policy.
    sheets = page.evaluate("() => Array.from(document.styleSheets).map(s => s.href)")
    assert any(str(h).endswith("/static/console.css") for h in sheets), f"{path}: {sheets}"


def test_every_page_has_the_policy_and_no_inline_script(console: Console) -> None:
    """Every page of the console, as the role that may see it: the CSP header is there, no
    inline script, style or handler is in it, and (the fixture's watch) no CSP violation is
    logged in the browser's console."""
    store = console.store
    case_id = case_at(store, "shortlist", assignee="officer.lam")
    ref = file_number(store, case_id)
    public = console.page()
    for path in ("/login", "/enquiry"):
        _check_page(public, path)
    _check_page(public, "/no-such-page", status=404)

    officer = console.as_("officer.lam")
    for path in (
        "/work",
        "/work?q=WATSON",
        "/queues/shortlisted",
        f"/cases/{ref}",
        f"/cases/{ref}/actions/withdraw",
    ):
        _check_page(officer, path)
    _check_page(officer, "/cases/QM2023-999999", status=404)
    _check_page(officer, "/audit", status=403)

    committee = console.as_("committee.cheung")
    _check_page(committee, "/committee")

    auditor = console.as_("auditor.yu")
    for path in ("/audit", "/audit/verify", "/audit/access", f"/audit/cases/{ref}"):
        _check_page(auditor, path)
    console.shot(auditor, "csp-audit")
    assert len(console.watch.documents) >= 14, console.watch.documents


def test_script_in_a_name_is_shown_as_text_and_never_runs(console: Console) -> None:
    store = console.store
    img = case_at(store, "issue_file_number", assignee="officer.lam", name=IMG)
    script = case_at(store, "shortlist", assignee="officer.lam", name=SCRIPT)
    assert values(store, img)["name"] == IMG
    page = console.as_("officer.lam")
    fired: list[str] = []
    page.on("dialog", lambda d: fired.append(d.message))
    for case_id, name in ((img, IMG), (script, SCRIPT)):
        page.goto(f"/cases/{file_number(store, case_id)}")
        assert name in body(page), f"the name is shown as text:\n{body(page)[:800]}"
        assert page.locator('img[src="x"]').count() == 0
        assert page.locator("script").count() == 0
    page.goto("/work")
    assert IMG in body(page) and SCRIPT in body(page), body(page)[:1500]
    console.shot(page, "xss-my-work")
    page.locator('form[role="search"] input[name="q"]').fill(SCRIPT)
    with page.expect_navigation():
        page.locator('form[role="search"] [type="submit"]').click()
    assert page.locator("script").count() == 0 and page.locator('img[src="x"]').count() == 0
    page.goto(f"/cases/{file_number(store, img)}")
    console.shot(page, "xss-case")
    # A reflected name in the committee's pool and the audit pages.
    committee = console.as_("committee.cheung")
    committee.goto("/committee")
    assert SCRIPT in body(committee)
    auditor = console.as_("auditor.yu")
    auditor.goto(f"/audit/cases/{file_number(store, script)}")
    # Escaping alone, without the policy's help: a browser that ignores the CSP runs nothing.
    bare = console.page(bypass_csp=True)
    console.login(bare, "officer.lam")
    bare.on("dialog", lambda d: fired.append(d.message))
    for case_id in (img, script):
        bare.goto(f"/cases/{file_number(store, case_id)}")
    bare.goto("/work")
    assert IMG in body(bare) and SCRIPT in body(bare)
    bare.wait_for_timeout(500)  # a dialog would open asynchronously (onerror)
    assert not fired, fired
    assert not console.watch.dialogs, console.watch.dialogs


def test_a_case_form_posted_without_its_csrf_token_is_refused(console: Console) -> None:
    store = console.store
    case_id = case_at(store, "issue_file_number", assignee="officer.lam")
    ref = file_number(store, case_id)
    page = console.as_("officer.lam")
    page.goto(f"/cases/{ref}/actions/withdraw")
    page.goto(f"/cases/{ref}/actions/shortlist")
    form = page.locator(f'form[action$="/cases/{ref}/actions/shortlist/preview"]')
    assert form.count(), body(page)[:800]
    submit(page, f"/cases/{ref}/actions/shortlist/preview")
    confirm = page.locator(f'form[action$="/cases/{ref}/actions/shortlist"]')
    assert confirm.count(), body(page)[:800]
    confirm.locator('input[name="csrf_token"]').evaluate("e => e.remove()")
    status = submit(page, f"/cases/{ref}/actions/shortlist")
    assert status == 403, body(page)[:800]
    assert values(store, case_id)["state"] == "file_number_issued", "nothing was done"
    console.shot(page, "csrf-action-refused")


def test_the_enquiry_refuses_the_eleventh_try_in_a_minute(console: Console) -> None:
    store = console.store
    case_id = case_at(store, "shortlist")
    ref = file_number(store, case_id)
    page = console.page()
    page.goto("/enquiry")
    statuses = []
    for _ in range(11):
        if not page.locator('form[action$="/enquiry"] [name="file_number"]').count():
            page.goto("/enquiry")
        set_field(page, "file_number", ref)
        set_field(page, "date_of_birth", "1901-01-01")  # wrong: "no such file"
        statuses.append(submit(page, "/enquiry"))
    assert statuses[:10] == [200] * 10, statuses
    assert statuses[10] == 429, statuses
    console.shot(page, "enquiry-429")
