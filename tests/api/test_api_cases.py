"""GET /api/v1/cases: keyset pagination (every case once, in id order, however the pages are
cut, even while cases are added), the repeatable ``state`` filter, and ``q`` by file number,
dependant's file number, full travel document number and part of a name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import time_machine

from tests.api.apikit import Api, move, new_case, serve_store
from tests.conftest import FROZEN_AT
from tests.factories import overseas_application

WONG = {"applicant": "officer.wong", "caseworker": "officer.wong", "committee": "committee.cheung"}
NAMES = ["Emily WATSON", "Oliver SMITH", "Amelia JONES", "Noah TAYLOR", "Isla BROWN"]
# case i (1-based) ends in STATES[i % 4]
STATES = ["draft", "submitted", "file_number_issued", "quota_allotted"]
UP_TO = {
    "submitted": "submit",
    "file_number_issued": "issue_file_number",
    "quota_allotted": "allot_quota",
}
N = 23


@dataclass
class Listing:
    api: Api
    ids: list[int]
    state_of: dict[int, str]
    document_of: dict[int, str]
    name_of: dict[int, str]


@pytest.fixture(scope="module")
def listing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listing]:
    folder = tmp_path_factory.mktemp("cases")
    with time_machine.travel(FROZEN_AT, tick=False), serve_store(folder / "api.db") as api:
        ids, state_of, document_of, name_of = [], {}, {}, {}
        for i in range(1, N + 1):
            name = f"{NAMES[i % len(NAMES)]} {i:02d}"
            document = f"K{i:08d}"
            case_id = new_case(api.store, overseas_application(name=name, travel_document=document))
            state = STATES[i % len(STATES)]
            if state != "draft":
                move(api.store, case_id, UP_TO[state], WONG)
            ids.append(case_id)
            state_of[case_id], document_of[case_id], name_of[case_id] = state, document, name
        yield Listing(api, ids, state_of, document_of, name_of)


def walk(client: httpx.Client, **params: Any) -> tuple[list[int], list[dict[str, Any]]]:
    """Every page from the first to the one without a next_cursor: (ids in order, pages)."""
    seen: list[int] = []
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/cases", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        pages.append(page)
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages
        assert len(pages) <= 2 * N, "the walk does not end"


@pytest.mark.parametrize("limit", [1, 2, 5, 7, 22, 23, 24, 200])
def test_walking_the_pages_gives_every_case_once_in_order(listing: Listing, limit: int) -> None:
    ids, pages = walk(listing.api.as_("committee.cheung"), limit=limit)
    assert ids == listing.ids  # no duplicate, no omission, oldest first
    assert all(len(p["items"]) <= limit for p in pages)
    assert all(len(p["items"]) == limit for p in pages[:-1])
    assert len(pages) == max(1, -(-N // limit))  # a full last page says there is no more
    assert pages[-1]["next_cursor"] is None


def test_the_default_page_is_50(listing: Listing) -> None:
    page = listing.api.as_("officer.lam").get("/cases").json()
    assert [i["id"] for i in page["items"]] == listing.ids and page["next_cursor"] is None


def test_a_list_item_holds_no_travel_document_nor_date_of_birth(listing: Listing) -> None:
    item = listing.api.as_("officer.lam").get("/cases", params={"limit": 1}).json()["items"][0]
    assert {"id", "file_number", "name", "state", "version"} <= set(item)
    assert not {"travel_document_number", "date_of_birth", "email"} & set(item)


def test_cases_added_during_a_walk_are_not_lost_nor_repeated(
    tmp_path_factory, frozen_clock
) -> None:  # type: ignore[no-untyped-def]
    with serve_store(tmp_path_factory.mktemp("walk") / "api.db") as api:
        for _ in range(10):
            new_case(api.store)
        client = api.as_("officer.lam")
        seen: list[int] = []
        cursor = None
        added: list[int] = []
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = client.get("/cases", params=params).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if len(added) < 4:  # another officer creates a case between two pages
                created = api.as_("supervisor.ho").post("/cases", json=overseas_application())
                added.append(created.json()["id"])
            if cursor is None:
                break
        assert len(seen) == len(set(seen))
        assert sorted(seen) == seen
        assert set(range(1, 11)) | set(added) == set(seen)


@pytest.mark.parametrize(
    "states",
    [
        ["draft"],
        ["submitted", "file_number_issued"],
        ["quota_allotted", "draft", "submitted"],
        ["evisa_issued"],
    ],
    ids=lambda s: "+".join(s),
)
@pytest.mark.parametrize("limit", [2, 50])
def test_the_state_filter_repeats_and_pages(
    listing: Listing, states: list[str], limit: int
) -> None:
    ids, pages = walk(listing.api.as_("auditor.yu"), state=states, limit=limit)
    assert ids == [i for i in listing.ids if listing.state_of[i] in states]
    assert all(item["state"] in states for p in pages for item in p["items"])


def test_q_finds_a_case_by_file_number_in_any_case(listing: Listing) -> None:
    client = listing.api.as_("officer.lam")
    target = next(i for i in listing.ids if listing.state_of[i] == "file_number_issued")
    number = client.get(f"/cases/{target}").json()["file_number"]
    for q in (number, number.lower(), f"  {number} "):
        found = client.get("/cases", params={"q": q}).json()["items"]
        assert [c["id"] for c in found] == [target], q


def test_q_finds_the_principal_by_a_dependants_file_number(listing: Listing) -> None:
    client = listing.api.as_("officer.lam")
    target = next(i for i in listing.ids if listing.state_of[i] == "quota_allotted")
    shown = client.get(f"/cases/{target}").json()
    dependant = shown["dependants"][1]["file_number"]
    assert dependant.endswith("-D2")
    found = client.get("/cases", params={"q": dependant}).json()["items"]
    assert [c["id"] for c in found] == [target]


def test_q_finds_a_case_by_its_full_travel_document_number_only(listing: Listing) -> None:
    client = listing.api.as_("officer.lam")
    target = listing.ids[6]
    document = listing.document_of[target]
    found = client.get("/cases", params={"q": document}).json()["items"]
    assert [c["id"] for c in found] == [target]
    for part in (document[:-1], document[1:], document[2:6]):  # no partial matches
        assert client.get("/cases", params={"q": part}).json()["items"] == [], part


def test_q_finds_cases_by_part_of_a_name_in_any_case(listing: Listing) -> None:
    client = listing.api.as_("officer.lam")
    expected = [i for i in listing.ids if "watson" in listing.name_of[i].lower()]
    assert len(expected) >= 4
    for q in ("WATSON", "watson", "atso", "Emily W"):
        ids, _ = walk(client, q=q, limit=2)
        assert ids == expected, q
    ids, _ = walk(client, q="watson", state=["submitted"])
    assert ids == [i for i in expected if listing.state_of[i] == "submitted"]


@pytest.mark.parametrize("q", ["%", "_", "\\", "%%", "'", "nobody at all", "K0000000"])
def test_q_takes_wildcards_literally(listing: Listing, q: str) -> None:
    found = listing.api.as_("officer.lam").get("/cases", params={"q": q})
    assert found.status_code == 200
    assert found.json()["items"] == []


@pytest.mark.parametrize("cursor", [str(2**63 - 1), "9" * 19])
def test_a_cursor_past_every_case_gives_an_empty_last_page(listing: Listing, cursor: str) -> None:
    page = listing.api.as_("officer.lam").get("/cases", params={"cursor": cursor}).json()
    assert page == {"items": [], "next_cursor": None}
