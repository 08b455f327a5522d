"""Rendering: every kind in both languages, the facts each message must carry, escaping."""

from __future__ import annotations

import re
from itertools import product
from typing import Any

import pytest

from notifications.render import KINDS, LANGUAGES, Rendered, render_message
from states.errors import InvalidInput
from tests.notifications.factories import context, representative
from workflows.formats import hkd
from workflows.formats import long_date as format_longdate

CJK = re.compile(r"[\u4e00-\u9fff]")
CASE_KINDS = [k for k in KINDS if k != "escalation"]
# These two exist to announce a number; without it they must not be sent.
NEEDS_NUMBER = {"file_number_issued": "case.file_number", "evisa_issued": "case.evisa_number"}
MATRIX = list(product(KINDS, LANGUAGES))
IDS = [f"{kind}-{lang}" for kind, lang in MATRIX]


def render(kind: str, language: str = "en", ctx: dict[str, Any] | None = None) -> Rendered:
    return render_message(kind, language, ctx if ctx is not None else context(language))


def test_kinds__are_the_agreed_nineteen() -> None:
    assert len(KINDS) == len(set(KINDS)) == 19
    assert LANGUAGES == ("en", "zh-HK")


@pytest.mark.parametrize(("kind", "language"), MATRIX, ids=IDS)
def test_every_kind__renders_all_parts_in_both_languages(kind: str, language: str) -> None:
    r = render(kind, language)
    assert (r.kind, r.language) == (kind, language)
    assert r.subject and r.text.strip() and r.html.strip()
    assert "\n" not in r.subject and r.subject == r.subject.strip()
    assert r.html.lstrip().startswith("<!DOCTYPE html>")
    assert "<p" not in r.text  # the text part is not HTML
    for part in (r.subject, r.text, r.html):
        assert "None" not in part
        assert "{{" not in part and "{%" not in part


OPTIONAL_MATRIX = [(k, lang) for k, lang in MATRIX if k not in NEEDS_NUMBER]


@pytest.mark.parametrize(
    ("kind", "language"), OPTIONAL_MATRIX, ids=[f"{k}-{lang}" for k, lang in OPTIONAL_MATRIX]
)
def test_every_kind__renders_without_file_number_or_optional_values(
    kind: str, language: str
) -> None:
    ctx = context(
        language,
        case={"file_number": None, "lodged_on": None, "dependants": [], "mainland_resident": False},
        due=None,
        fee=None,
    )
    r = render(kind, language, ctx)
    for part in (r.subject, r.text, r.html):
        assert "None" not in part
        assert "QM2023-000042" not in part


@pytest.mark.parametrize(("kind", "field"), NEEDS_NUMBER.items())
@pytest.mark.parametrize("language", LANGUAGES)
def test_number_announcements__refuse_to_render_without_the_number(
    kind: str, field: str, language: str
) -> None:
    ctx = context(language, case={field.split(".")[1]: None})
    with pytest.raises(InvalidInput, match=field):
        render(kind, language, ctx)


@pytest.mark.parametrize(("kind", "language"), MATRIX, ids=IDS)
def test_every_kind__shows_the_file_number_when_known(kind: str, language: str) -> None:
    r = render(kind, language)
    wanted = "QM2023-000007" if kind == "escalation" else "QM2023-000042"
    assert wanted in r.text
    assert wanted in r.html
    if kind != "escalation":
        assert wanted in r.subject


@pytest.mark.parametrize("kind", KINDS)
def test_zh_hk__text_is_written_in_chinese(kind: str) -> None:
    r = render(kind, "zh-HK")
    assert len(CJK.findall(r.text)) > 20
    assert CJK.search(r.subject)
    assert 'lang="zh-HK"' in r.html


@pytest.mark.parametrize("kind", KINDS)
def test_en__has_no_chinese_of_its_own(kind: str) -> None:
    assert not CJK.search(render(kind, "en").text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_documents_requested__lists_each_label_and_the_due_date(language: str) -> None:
    ctx = context(language)
    r = render("documents_requested", language, ctx)
    due = format_longdate("2023-03-29", language)
    for doc in ctx["documents"]:
        assert doc["label"] in r.text
        assert doc["label"] in r.html
    assert due in r.text and due in r.html and due in r.subject


@pytest.mark.parametrize("kind", [k for k in KINDS if k.startswith("reminder_documents")])
@pytest.mark.parametrize("language", LANGUAGES)
def test_document_reminders__list_the_outstanding_documents(kind: str, language: str) -> None:
    ctx = context(language)
    r = render(kind, language, ctx)
    assert all(doc["label"] in r.text for doc in ctx["documents"])
    # Before and on the due date they name it; the final notice, after it, names the lapse day.
    shown = ctx["lapses_on"] if kind == "reminder_documents_final" else ctx["due"]
    assert format_longdate(shown, language) in r.text


@pytest.mark.parametrize("mainland", [True, False], ids=["mainland", "not-mainland"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_quota_allotted__shows_hk230_and_the_three_payment_methods(
    language: str, mainland: bool
) -> None:
    ctx = context(language, case={"mainland_resident": mainland})
    r = render("quota_allotted", language, ctx)
    for part in (r.text, r.html):
        assert "HK$230" in part
        for method in ctx["fee"]["methods"]:
            assert method["label"] in part


@pytest.mark.parametrize(("language", "phrase"), [("en", "letter of consent"), ("zh-HK", "同意書")])
def test_quota_allotted__asks_mainland_residents_for_the_consent_letter(
    language: str, phrase: str
) -> None:
    mainland = render("quota_allotted", language, context(language))
    elsewhere = render(
        "quota_allotted", language, context(language, case={"mainland_resident": False})
    )
    assert phrase in mainland.text and phrase in mainland.html
    assert phrase not in elsewhere.text


@pytest.mark.parametrize(
    "kind",
    ["mainland_consent_recorded", "reminder_fee_first", "reminder_fee_due", "reminder_fee_final"],
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_fee_messages__show_the_amount_and_methods(kind: str, language: str) -> None:
    ctx = context(language, fee={"amount": 1300})
    r = render(kind, language, ctx)
    assert "HK$1,300" in r.text and "HK$1,300" in r.html
    assert all(m["label"] in r.text for m in ctx["fee"]["methods"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_refused__states_the_reason(language: str) -> None:
    reason = "Prerequisites not met: no good education background was shown."
    r = render("refused", language, context(language, event={"reason": reason}))
    assert reason in r.text and reason in r.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_evisa_issued__gives_the_number_and_how_to_use_the_evisa(language: str) -> None:
    r = render("evisa_issued", language)
    assert "EV2023-000042-7" in r.text and "EV2023-000042-7" in r.html
    assert "A4" in r.text and "A4" in r.html


@pytest.mark.parametrize(("kind", "language"), list(product(CASE_KINDS, LANGUAGES)))
def test_representative__is_told_the_message_concerns_their_client(
    kind: str, language: str
) -> None:
    r = render(kind, language, representative(language))
    marker = "your client" if language == "en" else "委託人"
    assert r.text.startswith(("Dear WONG Ka Yan", "WONG Ka Yan"))
    assert marker in r.text and marker in r.html
    assert "CHAN Tai Man" in r.text and "CHAN Tai Man" in r.subject


@pytest.mark.parametrize("language", LANGUAGES)
def test_applicant__is_not_addressed_as_a_representative(language: str) -> None:
    r = render("quota_allotted", language)
    assert "your client" not in r.text and "委託人" not in r.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_escalation__lists_each_stale_case(language: str) -> None:
    ctx = context(language)
    r = render("escalation", language, ctx)
    assert "2" in r.subject
    for case in ctx["stale_cases"]:
        assert case["state_label"] in r.text and case["state_label"] in r.html
        assert str(case["days"]) in r.text
    assert r.html.count("<tr>") == len(ctx["stale_cases"])


def test_html__escapes_the_applicant_name_and_text_keeps_it_verbatim() -> None:
    evil = "<script>alert(1)</script>"
    ctx = representative("en", case={"applicant_name": evil})
    r = render("quota_allotted", "en", ctx)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.html
    assert evil not in r.html
    assert evil in r.text
    assert evil in r.subject


@pytest.mark.parametrize("language", LANGUAGES)
def test_html__escapes_every_caller_supplied_string(language: str) -> None:
    evil = '<img src=x onerror="alert(1)">'
    ctx = context(
        language,
        recipient={"name": evil},
        event={"reason": evil},
        documents=[{"item": "x", "label": evil, "due": "2023-03-29"}],
    )
    for kind in ("documents_requested", "refused"):
        r = render(kind, language, ctx)
        assert evil not in r.html
        assert "&lt;img" in r.html


def test_missing_context_key__raises_instead_of_rendering_blank() -> None:
    ctx = context()
    del ctx["case"]["applicant_name"]
    with pytest.raises(InvalidInput, match="applicant_name"):
        render("submitted", "en", representative("en") | {"case": ctx["case"]})


def test_missing_top_level_key__raises() -> None:
    ctx = context()
    del ctx["office"]
    with pytest.raises(InvalidInput, match="office"):
        render("submitted", "en", ctx)


def test_unknown_kind_or_language__is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="unknown message kind"):
        render_message("congratulations", "en", context())
    with pytest.raises(InvalidInput, match="unknown language"):
        render_message("submitted", "fr", context())


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (0, "HK$0"),
        (230, "HK$230"),
        (600, "HK$600"),
        (1300, "HK$1,300"),
        (1234567, "HK$1,234,567"),
        (1300.5, "HK$1,300.50"),
        ("230", "HK$230"),
    ],
)
def test_hkd__formats_with_thousands_separators(amount: Any, shown: str) -> None:
    assert hkd(amount) == shown


@pytest.mark.parametrize(
    ("value", "language", "shown"),
    [
        ("2026-03-03", "en", "3 March 2026"),
        ("2026-03-03", "zh-HK", "2026年3月3日"),
        ("2023-12-31T23:59:59Z", "en", "31 December 2023"),
        ("2024-02-29", "zh-HK", "2024年2月29日"),
    ],
)
def test_longdate__is_spelled_out_per_language(value: str, language: str, shown: str) -> None:
    assert format_longdate(value, language) == shown


def test_longdate__rejects_a_non_date() -> None:
    with pytest.raises(InvalidInput):
        format_longdate("soon", "en")


def test_rendering__is_deterministic() -> None:
    assert render("quota_allotted", "zh-HK") == render("quota_allotted", "zh-HK")
