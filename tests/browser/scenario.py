"""Helpers of the browser scenarios: cases made and moved in-process (setup is not what these
tests test), and the few moves a person makes on the console's forms."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from states.catalogue import label
from states.store import Store
from tests.api.apikit import move, new_case
from tests.factories import ACTOR_FOR, overseas_application
from workflows import advance
from workflows.assignments import assign

__all__ = ["ACTOR_FOR", "advance", "label", "move", "new_case"]


def case_at(store: Store, upto: str, *, assignee: str | None = None, **changes: Any) -> int:
    """A new overseas case moved along the happy path up to ``upto`` (by `ACTOR_FOR`)."""
    case_id = new_case(store, overseas_application(**changes))
    move(store, case_id, upto, ACTOR_FOR)
    if assignee is not None:
        assign(case_id, assignee, "supervisor.ho", ("supervisor",), store=store)
    return case_id


def values(store: Store, case_id: int) -> dict[str, Any]:
    with store.read() as tx:
        return dict(tx.load_case(case_id).values)


def state(store: Store, case_id: int) -> str:
    return str(values(store, case_id)["state"])


def file_number(store: Store, case_id: int) -> str:
    number = values(store, case_id)["file_number"]
    assert number, f"case {case_id} has no file number yet"
    return str(number)


def triggers(store: Store, case_id: int) -> list[str]:
    from workflows.views import history

    return [str(row["trigger"]) for row in history(case_id, store=store)]


def set_field(page: Page, name: str, value: str | list[str]) -> None:
    """Give the form field ``name`` the value(s), whatever widget the page chose for it: a
    select (one or several options), checkboxes or radio buttons (by value), or a text box
    (several values comma-separated)."""
    fields = page.locator(f'form [name="{name}"]')
    if fields.count() == 0:
        raise AssertionError(f"no field named {name!r} on {page.url}")
    first = fields.first
    tag = first.evaluate("e => e.tagName.toLowerCase()")
    kind = (first.get_attribute("type") or "").lower()
    wanted = value if isinstance(value, list) else [value]
    if tag == "select":
        first.select_option(wanted)
    elif kind in ("checkbox", "radio"):
        for v in wanted:
            page.locator(f'form [name="{name}"][value="{v}"]').check()
    else:
        first.fill(", ".join(wanted))


def open_action(page: Page, ref: str, trigger: str) -> None:
    """From the case page, follow the link to ``trigger``'s form (or open it by its URL when
    the case page offers it as a button of a form)."""
    link = page.locator(f'a[href$="/cases/{ref}/actions/{trigger}"]')
    if link.count():
        with page.expect_navigation():
            link.first.click()
    else:
        page.goto(f"/cases/{ref}/actions/{trigger}")
    assert f"/actions/{trigger}" in page.url, page.url


def submit(page: Page, action_suffix: str) -> int:
    """Press the submit button of the form posting to a URL ending in ``action_suffix``;
    returns the status of the page that comes back."""
    form = page.locator(f'form[action$="{action_suffix}"]')
    assert form.count(), f"no form posting to …{action_suffix} on {page.url}"
    with page.expect_navigation() as nav:
        form.first.locator('[type="submit"]').first.click()
    response = nav.value
    return response.status if response is not None else 0


def preview_and_confirm(page: Page, ref: str, trigger: str) -> tuple[int, int]:
    """Post the action's form to its preview, then confirm on the preview page. Returns the
    statuses of the preview and of the page after confirming."""
    previewed = submit(page, f"/cases/{ref}/actions/{trigger}/preview")
    assert previewed == 200, f"preview of {trigger}: {previewed}\n{body(page)[:800]}"
    confirmed = submit(page, f"/cases/{ref}/actions/{trigger}")
    return previewed, confirmed


def body(page: Page) -> str:
    return page.locator("body").inner_text()
