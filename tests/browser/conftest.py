"""Real-browser tests of the staff console and the public enquiry: Playwright driving Debian's
Chromium (``/usr/bin/chromium``, or the binary ``QMAS_CHROMIUM`` names), headless.

Playwright never downloads a browser of its own here: `.ci/run` installs the distribution's
``chromium`` package when it is missing. Without a Chromium (or without the ``playwright``
package) these tests skip, saying why; under CI (``CI`` set) they fail instead, so that a
green CI always means the browser ran.

Each test gets its own server (uvicorn on a free port of 127.0.0.1, `tests.api.apikit.running`)
over a fresh SQLite file with the test staff (`tests.factories.STAFF`, password
`tests.api.apikit.PASSWORD`), on the frozen clock (1 June 2023, 10:00 HKT: uvicorn serves from
a thread of this process, so time-machine reaches it). The browser is started once a module,
and every test opens its own contexts (cookies, language). Not once a session: while
Playwright's sync API runs it holds an event loop of its own in the main thread, and Prefect's
sync/async dispatch in later tests (tests/flows) would take that for async code and hand back
coroutines.

Every page a test opens is watched, and the test fails at teardown if any of them:
- opened a dialog (``alert``: an injected script ran),
- logged a Content-Security-Policy violation or raised a script error,
- was served (as a document) without a Content-Security-Policy header.

Screenshots go to ``tests/artifacts/`` (ignored by git); a failing test leaves one of each of
its open pages there too (``FAILED-<test>-<n>.png``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import time_machine

from console.web.app import create_app
from states.accounts import Accounts
from states.store import Store
from tests.api.apikit import PASSWORD, password_hash, running
from tests.factories import STAFF, add_staff

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page, Response

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Accounts beyond the shared test staff: a second committee member, and one who is both a
# caseworker and a committee member (so that four-eyes can stop them: they shortlisted).
EXTRA_STAFF: dict[str, tuple[str, ...]] = {
    "committee.ng": ("committee",),
    "committee.lau": ("caseworker", "committee"),
}
_CSP_WORDS = re.compile(r"content security policy|content-security-policy", re.IGNORECASE)


def find_chromium() -> tuple[str | None, str]:
    """The Chromium to drive and, when there is none, why."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None, "the playwright package is not installed (pip install -e '.[dev]')"
    explicit = os.environ.get("QMAS_CHROMIUM")
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit, ""
        return None, f"QMAS_CHROMIUM={explicit} is not an executable file"
    if os.access(DEFAULT_CHROMIUM, os.X_OK):
        return DEFAULT_CHROMIUM, ""
    found = shutil.which("chromium")
    if found:
        return found, ""
    return None, (
        f"no Chromium at {DEFAULT_CHROMIUM} (install Debian's package: apt-get install "
        "chromium, as .ci/run does) and QMAS_CHROMIUM is not set"
    )


def _no_browser(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path, reason = find_chromium()
    if path is None:
        _no_browser(reason)
    assert path is not None
    from playwright.sync_api import sync_playwright

    args = ["--disable-dev-shm-usage"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    with sync_playwright() as pw:
        try:
            launched = pw.chromium.launch(executable_path=path, headless=True, args=args)
        except Exception as err:  # a broken install: say so, like a missing one
            _no_browser(f"{path} did not start: {type(err).__name__}: {str(err)[:300]}")
            raise
        try:
            yield launched
        finally:
            launched.close()


# --- what every page is checked for -----------------------------------------------------------
@dataclass
class Watch:
    """What the pages of one test did that no page of the console may do."""

    dialogs: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    documents_without_csp: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.on("dialog", self._dialog)
        context.on("console", self._console)
        context.on("weberror", lambda e: self.script_errors.append(str(e.error)))
        context.on("response", self._response)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if _CSP_WORDS.search(message.text) or "Refused to" in message.text:
            self.csp_violations.append(f"{message.type}: {message.text}")

    def _response(self, response: Response) -> None:
        if response.request.resource_type != "document":
            return
        self.documents.append(f"{response.status} {response.url}")
        if not response.header_value("content-security-policy"):
            self.documents_without_csp.append(f"{response.status} {response.url}")

    def problems(self) -> list[str]:
        out = [f"a dialog opened ({d})" for d in self.dialogs]
        out += [f"CSP violation: {v}" for v in self.csp_violations]
        out += [f"script error: {e}" for e in self.script_errors]
        out += [f"no Content-Security-Policy on {d}" for d in self.documents_without_csp]
        return out


# --- the console under test --------------------------------------------------------------------
@dataclass
class Console:
    """A running console over ``store``, and the browser contexts a test opened on it."""

    url: str
    store: Store
    browser: Browser
    watch: Watch = field(default_factory=Watch)
    contexts: list[BrowserContext] = field(default_factory=list)

    def page(self, locale: str = "en-GB", **options: Any) -> Page:
        """A new page in a context of its own (its own cookies), in ``locale``."""
        context = self.browser.new_context(
            base_url=self.url, locale=locale, java_script_enabled=True, **options
        )
        context.set_default_timeout(10_000)
        context.set_default_navigation_timeout(20_000)
        self.watch.attach(context)
        self.contexts.append(context)
        return context.new_page()

    def login(self, page: Page, username: str, password: str = PASSWORD) -> None:
        """Log in through the form; on return the browser is on the page after it."""
        page.goto("/login")
        page.locator('input[name="username"]').fill(username)
        page.locator('input[name="password"]').fill(password)
        with page.expect_navigation():
            page.locator('form[action="/login"] [type="submit"]').click()
        assert "/login" not in page.url, f"{username} could not log in: {page_text(page)[:500]}"

    def as_(self, username: str, locale: str = "en-GB") -> Page:
        page = self.page(locale)
        self.login(page, username)
        return page

    def shot(self, page: Page, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):  # the browser may be gone already
                context.close()


def page_text(page: Page) -> str:
    return page.locator("body").inner_text()


def give_passwords(store: Store, usernames: list[str]) -> None:
    accounts = Accounts(store)
    for username in usernames:
        accounts.set_password(username, password_hash(), by="tests", at="2023-01-01T00:00:00Z")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def console(
    request: pytest.FixtureRequest,
    browser: Browser,
    tmp_path: Path,
    frozen_clock: time_machine.Traveller,
) -> Iterator[Console]:
    """A console server of its own for this test, and the browser to drive it."""
    store = Store(f"sqlite:///{tmp_path / 'console.db'}")
    store.init()
    add_staff(store)
    accounts = Accounts(store)
    for username, roles in EXTRA_STAFF.items():
        accounts.add(username, roles, by="tests", at="2023-01-01T00:00:00Z")
    give_passwords(store, [*STAFF, *EXTRA_STAFF])
    c: Console | None = None
    try:
        with running(create_app(store)) as url:
            c = Console(url, store, browser)
            yield c
            if request.node.stash.get(_FAILED, False):
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
                for n, context in enumerate(c.contexts):
                    for m, page in enumerate(context.pages):
                        with contextlib.suppress(Exception):
                            page.screenshot(
                                path=str(ARTIFACTS / f"FAILED-{name}-{n}-{m}.png"), full_page=True
                            )
            problems = c.watch.problems()
            assert not problems, "the pages did what no console page may:\n" + "\n".join(problems)
    finally:
        if c is not None:
            c.close()
        store.dispose()
