"""The public status enquiry over HTTP (uvicorn, httpx): the stage in the applicant's language
with the documents still awaited, nothing personal, one page for every failed match, the
CSRF token and the limit of 10 tries a minute."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine

from console.web.i18n import MESSAGES
from states.catalogue import State
from tests.api.apikit import FEE_2023, Api, move, new_case, serve_store
from tests.factories import ACTOR_FOR, application
from workflows import advance, create_case
from workflows.formats import long_date
from workflows.views import case_view

DUE = "2023-06-30"
DOB = "1990-04-12"  # the applicant's (tests.factories.application)
SPOUSE_DOB = "1991-02-03"
PERSONAL = (
    "CHAN Tai Man",
    "chan.taiman@example.com",
    "Wong &amp; Co.",
    "cases@wongco.example",
    "LI Mei",
    DOB,
    SPOUSE_DOB,
)


@dataclass
class EnquiryWorld:
    api: Api
    case_id: int
    file_number: str
    spouse_number: str
    travel_document: str


@pytest.fixture
def enquiry_world(tmp_path: Path, frozen_clock: time_machine.Traveller) -> Iterator[EnquiryWorld]:
    with serve_store(tmp_path / "enquiry.db") as api:
        store = api.store
        case_id = create_case(application(), store=store)
        for trigger, role, data in [
            ("submit", "applicant", None),
            ("issue_file_number", "caseworker", None),
            (
                "request_documents",
                "caseworker",
                {"documents": ["photograph", "identity_document"], "due": DUE},
            ),
        ]:
            advance(case_id, trigger, ACTOR_FOR[role], role, data=data, store=store)
        view = case_view(case_id, store=store, reveal=True)
        yield EnquiryWorld(
            api,
            case_id,
            view["file_number"],
            view["dependants"][0]["file_number"],
            view["applicant"]["travel_document_number"],
        )


def browser(world: EnquiryWorld, **headers: str) -> tuple[httpx.Client, str]:
    """An anonymous client that has opened the enquiry page, and its form's CSRF token."""
    client = httpx.Client(base_url=world.api.url, timeout=30, headers=headers)
    world.api.clients.append(client)
    page = client.get("/enquiry")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return client, token[1]


def ask(client: httpx.Client, token: str, number: str, dob: str) -> httpx.Response:
    return client.post(
        "/enquiry", data={"file_number": number, "date_of_birth": dob, "csrf_token": token}
    )


def test_in_chinese__the_stage_next_steps_and_documents_due_and_nothing_personal(
    enquiry_world: EnquiryWorld,
) -> None:
    client, token = browser(enquiry_world, **{"Accept-Language": "zh-HK,zh;q=0.9,en;q=0.5"})
    answer = ask(client, token, enquiry_world.file_number, DOB)
    assert answer.status_code == 200
    page = answer.text
    assert '<html lang="zh-HK">' in page
    assert "要求補交文件" in page  # the state's label (states.catalogue)
    assert MESSAGES["enquiry.stage.documents_requested"]["zh-HK"] in page
    assert MESSAGES["enquiry.next.documents_requested"]["zh-HK"] in page
    assert "近照" in page and "身份證明或旅行證件" in page  # the documents' labels
    assert long_date(DUE, "zh-HK") == "2023年6月30日" and "2023年6月30日" in page
    assert "Documents requested" not in page
    for personal in (*PERSONAL, enquiry_world.travel_document):
        assert personal not in page, personal


def test_any_chinese_browser_gets_traditional_chinese(enquiry_world: EnquiryWorld) -> None:
    client, _ = browser(enquiry_world, **{"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "申請狀況查詢" in client.get("/enquiry").text


def test_in_english__by_default_with_the_dates_in_english(enquiry_world: EnquiryWorld) -> None:
    client, token = browser(enquiry_world)
    page = ask(client, token, enquiry_world.file_number.lower(), DOB).text
    assert "Documents requested" in page
    assert MESSAGES["enquiry.next.documents_requested"]["en"] in page
    assert "Recent photograph" in page and "30 June 2023" in page


def test_the_language_switch_overrides_the_browser(enquiry_world: EnquiryWorld) -> None:
    client, _ = browser(enquiry_world, **{"Accept-Language": "en-GB"})
    switched = client.get("/lang/zh-HK", params={"next": "/enquiry"})
    assert switched.status_code == 303 and switched.headers["location"] == "/enquiry"
    assert "申請狀況查詢" in client.get("/enquiry").text


def test_a_dependants_file_number_works_with_their_own_date_of_birth(
    enquiry_world: EnquiryWorld,
) -> None:
    client, token = browser(enquiry_world)
    found = ask(client, token, enquiry_world.spouse_number, SPOUSE_DOB)
    assert "Documents requested" in found.text
    assert f"File {enquiry_world.spouse_number}" in found.text
    assert "LI Mei" not in found.text and "CHAN Tai Man" not in found.text
    principals = ask(client, token, enquiry_world.spouse_number, DOB)  # not theirs
    assert "Documents requested" not in principals.text
    assert MESSAGES["enquiry.not_found"]["en"] in principals.text


def test_while_the_visa_fee_is_due__the_amount_and_the_last_day(
    enquiry_world: EnquiryWorld,
) -> None:
    store = enquiry_world.api.store
    allotted = new_case(store)
    move(store, allotted, "allot_quota", ACTOR_FOR)
    number = case_view(allotted, store=store)["file_number"]
    client, token = browser(enquiry_world, **{"Accept-Language": "zh-HK"})
    page = ask(client, token, number, DOB).text
    assert "已獲分配名額" in page
    assert re.search(rf"簽證費 HK\${FEE_2023}，須於2023年\d+月\d+日或之前繳付。", page), page
    assert "Emily WATSON" not in page


@pytest.mark.parametrize("accept", ["en", "zh-HK"])
def test_a_wrong_date_of_birth_and_an_unknown_file_get_the_same_page(
    enquiry_world: EnquiryWorld, accept: str
) -> None:
    client, token = browser(enquiry_world, **{"Accept-Language": accept})
    wrong_dob = ask(client, token, enquiry_world.file_number, "1990-04-13")
    unknown = ask(client, token, "QM2023-999999", DOB)
    not_a_number = ask(client, token, "CHAN Tai Man", DOB)
    dob_not_exact = ask(client, token, enquiry_world.file_number, "1990-4-12")
    for other in (unknown, not_a_number, dob_not_exact):
        assert other.status_code == wrong_dob.status_code == 200
        assert other.content == wrong_dob.content
    assert MESSAGES["enquiry.not_found"][accept] in wrong_dob.text


def test_the_eleventh_try_in_a_minute_gets_429(
    enquiry_world: EnquiryWorld, frozen_clock: time_machine.Traveller
) -> None:
    client, token = browser(enquiry_world)
    answers = [ask(client, token, "QM2023-999999", DOB).status_code for _ in range(10)]
    assert answers == [200] * 10
    refused = ask(client, token, enquiry_world.file_number, DOB)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Too many attempts" in refused.text
    assert "Documents requested" not in refused.text  # the right answer, held back
    # a post without its token still counts (and is still refused)
    assert client.post("/enquiry", data={"file_number": "x"}).status_code == 429


def test_a_post_without_its_csrf_token_is_403(enquiry_world: EnquiryWorld) -> None:
    client, token = browser(enquiry_world)
    data: dict[str, Any] = {"file_number": enquiry_world.file_number, "date_of_birth": DOB}
    refused = client.post("/enquiry", data=data)
    assert refused.status_code == 403
    assert "Documents requested" not in refused.text
    assert client.post("/enquiry", data={**data, "csrf_token": "0" * 64}).status_code == 403
    stranger = httpx.Client(base_url=enquiry_world.api.url, timeout=30)  # no qmas_csrf cookie
    enquiry_world.api.clients.append(stranger)
    assert stranger.post("/enquiry", data={**data, "csrf_token": token}).status_code == 403
    assert ask(client, token, enquiry_world.file_number, DOB).status_code == 200


def test_every_state_has_plain_words_and_next_steps_in_both_languages() -> None:
    for state in State:
        for kind in ("stage", "next"):
            words = MESSAGES[f"enquiry.{kind}.{state.value}"]
            assert words["en"].strip() and words["zh-HK"].strip(), (kind, state)


def test_every_audit_and_enquiry_word_has_english_and_chinese() -> None:
    from console.web.words import audit, enquiry

    for key, words in {**audit.MESSAGES, **enquiry.MESSAGES}.items():
        assert set(words) == {"en", "zh-HK"}, key
        assert all(text.strip() for text in words.values()), key
