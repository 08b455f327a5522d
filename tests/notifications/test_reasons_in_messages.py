"""What an applicant is told of a reason, and that an internal --note is never told at all.

The planner turns an outbox event body (as the engine writes it) into template contexts; the
reason shown is the catalogue's text in the applicant's language (workflows.reasons), and the
note, which the engine keeps in the history only, has no way into a context.
"""

from __future__ import annotations

import json
import re
from itertools import product
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications import planner
from notifications.render import LANGUAGES, render_message
from notifications.settings import NotificationSettings
from workflows.reasons import REASONS

CJK = re.compile(r"[\u4e00-\u9fff]")
NOTE = "INTERNAL-NOTE: applicant rang twice, sounded evasive; check with ICAC desk"
SETTINGS = NotificationSettings(smtp_url=None)

# The keys of every outbox event body the engine writes (issue #7), with the id the outbox adds.
BODY_KEYS = {
    "case_id",
    "version",
    "trigger",
    "from_state",
    "to_state",
    "actor",
    "role",
    "reason",
    "reason_code",
    "payload",
    "at",
    "history_id",
}
# One payload that satisfies every kind's template (documents, numbers, fee, deadline).
PAYLOAD: dict[str, Any] = {
    "documents": ["police_certificate"],
    "due": "2023-03-29",
    "file_number": "QM2023-000042",
    "evisa_number": "EV2023-000042-7",
    "fee_due": 230,
    "payment_deadline": "2023-04-28",
}
FROM_STATE = {"refuse": "shortlisted", "withdraw": "submitted", "lapse": "documents_requested"}


def case_row(language: str, **overrides: Any) -> dict[str, Any]:
    """An `applications` row as the notify handler reads it (the keys the planner uses)."""
    row: dict[str, Any] = {
        "id": 42,
        "name": "CHAN Tai Man",
        "email": "chan@example.com",
        "representative_name": "WONG Ka Yan",
        "representative_email": "wong@lawfirm.example",
        "language": language,
        "file_number": "QM2023-000042",
        "state": "refused",
        "mainland_resident": True,
        "lodged_on": "2023-03-01",
        "fee_due": 230,
        "evisa_number": "EV2023-000042-7",
    }
    return row | overrides


def event_body(trigger: str, **overrides: Any) -> dict[str, Any]:
    """An outbox event as the dispatcher hands it to the planner: the engine's body, plus ids."""
    body: dict[str, Any] = {
        "case_id": 42,
        "version": 5,
        "trigger": trigger,
        "from_state": FROM_STATE.get(trigger, "submitted"),
        "to_state": planner.TRIGGER_KINDS[trigger],
        "actor": "Officer LAM",
        "role": "supervisor",
        "reason": None,
        "reason_code": None,
        "payload": PAYLOAD,
        "at": "2023-06-01T02:00:00.000000Z",
        "history_id": 17,
    }
    assert set(body) == BODY_KEYS
    return body | {"event_id": 99, "topic": "case.transitioned"} | overrides


def messages(trigger: str, language: str, **event: Any) -> list[Any]:
    """Every message (applicant and representative) the event calls for, rendered."""
    planned = planner.for_event(event_body(trigger, **event), case_row(language), [], SETTINGS)
    assert planned, trigger
    return [render_message(kind, language, ctx) for _, kind, _, ctx in planned]


def shown(trigger: str, language: str, **event: Any) -> list[str]:
    return [part for r in messages(trigger, language, **event) for part in (r.text, r.html)]


# --- the catalogue's text, in the applicant's language -------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_refused__gives_the_catalogue_reason_in_the_applicants_language(language: str) -> None:
    reason = REASONS["not_selected"]
    other = "en" if language == "zh-HK" else "zh-HK"
    for part in shown("refuse", language, reason_code="not_selected"):
        assert reason.text(language) in part
        assert reason.text(other) not in part
    label = "拒絕理由" if language == "zh-HK" else "Reason:"
    assert all(label in part for part in shown("refuse", language, reason_code="not_selected"))


def test_refused__a_chinese_email_carries_no_english_reason() -> None:
    for part in shown("refuse", "zh-HK", reason_code="points_below_pass_mark"):
        assert REASONS["points_below_pass_mark"].zh_hk in part
        assert "pass mark" not in part


@pytest.mark.parametrize("language", LANGUAGES)
def test_refused__other_gives_the_caseworkers_own_text(language: str) -> None:
    text = "The employment contract submitted could not be verified."
    for part in shown("refuse", language, reason_code="other", reason=text):
        assert text in part
        assert REASONS["other"].text(language) not in part


@pytest.mark.parametrize("language", LANGUAGES)
def test_refused__a_code_with_extra_text_gives_both(language: str) -> None:
    extra = "Quota for 2023 exhausted."
    for part in shown("refuse", language, reason_code="not_selected", reason=extra):
        assert REASONS["not_selected"].text(language) in part and extra in part


@pytest.mark.parametrize("language", LANGUAGES)
def test_refused__a_history_without_a_code_shows_the_reason_text_as_written(
    language: str,
) -> None:
    text = "Prerequisites not met: no good education background was shown."
    assert all(text in part for part in shown("refuse", language, reason=text))


@pytest.mark.parametrize(
    ("code", "from_state"),
    [("documents_not_provided", "documents_requested"), ("fee_not_paid", "quota_allotted")],
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_lapsed__by_the_system_gives_the_catalogue_reason(
    language: str, code: str, from_state: str
) -> None:
    parts = shown("lapse", language, reason_code=code, from_state=from_state, role="system")
    for part in parts:
        assert REASONS[code].text(language) in part
        assert ("原因：" if language == "zh-HK" else "Reason:") in part
    if language == "zh-HK":
        assert not any(REASONS[code].en in part for part in parts)


# --- the internal note ---------------------------------------------------------------------
EVENT_TRIGGERS = sorted(planner.TRIGGER_KINDS)


@pytest.mark.parametrize(
    ("trigger", "language"),
    list(product(EVENT_TRIGGERS, LANGUAGES)),
    ids=[f"{t}-{lang}" for t, lang in product(EVENT_TRIGGERS, LANGUAGES)],
)
def test_note__is_in_no_rendered_message_of_any_kind(trigger: str, language: str) -> None:
    """Every kind an event can send, both languages, subject, text and HTML: even an event body
    that (wrongly) carried the note would not pass it on."""
    code = {"refuse": "other", "lapse": "documents_not_provided"}.get(trigger)
    event = {"note": NOTE, "reason_code": code, "reason": "Stated reason."}
    for r in messages(trigger, language, **event):
        for part in (r.subject, r.text, r.html):
            assert NOTE not in part
            assert "INTERNAL-NOTE" not in part


@given(note=st.text(min_size=12).filter(lambda s: s.strip() and s not in json.dumps(PAYLOAD)))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_note__never_enters_a_template_context(note: str) -> None:
    """The planner builds contexts from named fields only: a note changes nothing in them."""
    for trigger, language in product(EVENT_TRIGGERS, LANGUAGES):
        without = event_body(trigger, reason="Stated reason.")
        event = {**without, "note": note}
        planned = planner.for_event(event, case_row(language), [], SETTINGS)
        assert planned == planner.for_event(without, case_row(language), [], SETTINGS)
        for _, _, _, ctx in planned:
            assert "note" not in ctx and "note" not in ctx["event"]


def test_contexts__have_one_shape_for_events_reminders_and_escalation() -> None:
    """Every context is built by `planner.message_context`: the same keys whatever the source."""
    (_, _, _, from_event), *_ = planner.for_event(
        event_body("refuse"), case_row("en"), [], SETTINGS
    )
    (_, _, _, reminder), *_ = planner.for_reminder(
        "reminder_fee_due", "2023-04-28", case_row("en"), [], [], SETTINGS, "2023-04-28"
    )
    told = planner.event_context("escalation", "2023-06-01T01:00:00Z", "2023-06-01")
    person = {"name": "QMAS supervisors", "email": "s@immd.example", "role": "supervisor"}
    escalation = planner.message_context(person, told, SETTINGS, "en", stale_cases=[])
    keys = set(escalation)
    assert set(from_event) == set(reminder) == keys
    assert set(from_event["event"]) == set(reminder["event"]) == set(escalation["event"])
    assert "note" not in keys and "note" not in escalation["event"]


def test_zh_hk_office_and_reason__are_chinese() -> None:
    (_, _, _, ctx), *_ = planner.for_event(
        event_body("refuse", reason_code="false_or_misleading_information"),
        case_row("zh-HK"),
        [],
        SETTINGS,
    )
    assert CJK.search(ctx["office"]["name"])
    assert ctx["event"]["reason"] == REASONS["false_or_misleading_information"].zh_hk
