"""Logging in and out through the browser; the CSRF tokens of the forms."""

from __future__ import annotations

from tests.browser.conftest import Console, page_text


def test_login_sets_a_strict_http_only_session_and_logout_ends_it(console: Console) -> None:
    page = console.page()
    page.goto("/work")
    assert "/login" in page.url, "a page without a session sends the browser to the login form"
    console.shot(page, "login-form")
    console.login(page, "officer.lam")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["qmas_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict", session
    assert "officer.lam" in page_text(page)
    with page.expect_navigation():
        page.locator('form[action="/logout"] [type="submit"]').click()
    assert "/login" in page.url
    page.goto("/work")
    assert "/login" in page.url, "after logging out the old session opens nothing"


def test_a_wrong_password_is_refused_on_the_form(console: Console) -> None:
    page = console.page()
    page.goto("/login")
    page.locator('input[name="username"]').fill("officer.lam")
    page.locator('input[name="password"]').fill("not the password")
    with page.expect_navigation() as nav:
        page.locator('form[action="/login"] [type="submit"]').click()
    assert nav.value is not None and nav.value.status == 401
    assert page.locator('[role="alert"]').count() == 1
    assert page.locator('input[name="username"]').input_value() == "officer.lam"
    assert not [c for c in page.context.cookies() if c["name"] == "qmas_session"]
    console.shot(page, "login-refused")


def test_a_login_form_posted_without_its_csrf_token_is_refused(console: Console) -> None:
    page = console.page()
    page.goto("/login")
    page.locator('input[name="username"]').fill("officer.lam")
    page.locator('input[name="password"]').fill("correct horse battery staple")
    page.locator('input[name="csrf_token"]').evaluate("e => e.remove()")
    with page.expect_navigation() as nav:
        page.locator('form[action="/login"] [type="submit"]').click()
    assert nav.value is not None and nav.value.status == 403
    assert not [c for c in page.context.cookies() if c["name"] == "qmas_session"]
    console.shot(page, "csrf-login-refused")


def test_a_form_posted_with_another_browsers_token_is_refused(console: Console) -> None:
    """A page of another site cannot know the token: one taken from another browser (another
    session) does not open this one's forms."""
    other = console.as_("officer.wong")
    stolen = other.locator('form[action="/logout"] input[name="csrf_token"]').input_value()
    page = console.as_("officer.lam")
    page.locator('form[action="/logout"] input[name="csrf_token"]').evaluate(
        "(e, v) => { e.value = v }", stolen
    )
    with page.expect_navigation() as nav:
        page.locator('form[action="/logout"] [type="submit"]').click()
    assert nav.value is not None and nav.value.status == 403
    page.goto("/work")
    assert "/login" not in page.url, "the refused logout left the session as it was"
    console.shot(page, "csrf-logout-refused")
