"""Text a person types reaches the history and the letters only when it is safe to show.

Actors, reasons, notes and every string in ``--data`` or an application file are refused when
they hold control characters (terminal escape codes, NUL); a note of invisible characters is no
note; an address's local part must be ASCII (no SMTPUTF8 on the mail servers); reason codes
must suit the move; limits hold. Each refusal is `InvalidInput` and writes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from states.errors import InvalidInput, TransitionNotAllowed
from states.store import Store
from tests.core.core_lifecycle import LAPSE_AT, S, T, drive_to, snapshot
from tests.factories import application
from workflows import advance, create_case
from workflows.views import case_view, history

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"actor": "\x1b[31mEVIL"}, "the actor name contains a control character (U+001B)"),
        ({"actor": "Officer\nLAM"}, "the actor name contains a control character (U+000A)"),
        ({"note": "\x1b]0;pwned\x07"}, "the note contains a control character (U+001B)"),
        ({"note": "x" * 10_001}, "the note is longer than 10,000 characters"),
        ({"reason": "nul\x00byte"}, "the reason contains a control character (U+0000)"),
    ],
    ids=["escape-in-actor", "newline-in-actor", "escape-in-note", "long-note", "nul-in-reason"],
)
def test_control_characters_and_overlong_text_are_invalid_input(
    store: Store, kwargs: dict[str, Any], message: str
) -> None:
    case_id = drive_to(store, S.submitted)
    before = snapshot(store)
    call = {"actor": "Officer LAM", **kwargs}
    with pytest.raises(InvalidInput) as err:
        advance(case_id, "note", role="caseworker", store=store, **call)
    assert message in str(err.value)
    assert snapshot(store) == before


def test_a_multiline_note_is_kept_as_written(store: Store) -> None:
    case_id = drive_to(store, S.submitted)
    advance(
        case_id, "note", "Officer LAM", "caseworker", note="Line one.\n\tLine two.", store=store
    )

    assert history(case_id, store=store)[-1]["note"] == "Line one.\n\tLine two."


@pytest.mark.parametrize("note", ["\u200b", " \u200b\u2060 ", "\u3000"])
def test_a_note_of_invisible_characters_is_no_note(store: Store, note: str) -> None:
    case_id = drive_to(store, S.submitted)
    with pytest.raises(TransitionNotAllowed) as err:
        advance(case_id, "note", "Officer LAM", "caseworker", note=note, store=store)
    assert err.value.reasons == ["A note needs its text (--note TEXT)."]


def test_control_characters_in_data_name_where_they_are(store: Store) -> None:
    case_id = drive_to(store, S.documents_requested)
    before = snapshot(store)
    data = {"waived": {"police_certificate": "on file\x1b[2J"}}
    with pytest.raises(InvalidInput) as err:
        advance(case_id, "record_documents", "Officer LAM", "caseworker", data=data, store=store)
    assert err.value.errors == ["waived.police_certificate: contains a control character (U+001B)"]
    assert snapshot(store) == before


def test_control_characters_in_an_application_file_are_refused(store: Store) -> None:
    data = application()
    data["applicant"]["name"] = "CHAN\x00Tai Man"
    with pytest.raises(InvalidInput) as err:
        create_case(data, store=store)
    # one line for the one problem: the name's own sentence
    assert err.value.errors == [
        "applicant.name: a name is one line of visible text; it contains U+0000"
    ]


# An internationalised domain is accepted in its xn-- form (tests/core/test_core_input_bounds.py).
@pytest.mark.parametrize("email", ["üser@example.com", "用户@example.com"])
def test_non_ascii_addresses_are_refused_on_amend_and_on_a_new_case(
    store: Store, email: str
) -> None:
    case_id = drive_to(store, S.submitted)
    before = snapshot(store)
    with pytest.raises(InvalidInput) as err:
        advance(case_id, "amend", "Officer LAM", "caseworker",
                data={"applicant": {"email": email}}, store=store)  # fmt: skip
    assert "has characters outside ASCII" in str(err.value)
    assert snapshot(store) == before
    data = application()
    data["applicant"]["representative"] = {"name": "Agent", "email": email}
    with pytest.raises(InvalidInput):
        create_case(data, store=store)


@pytest.mark.parametrize(
    ("trigger", "code"),
    [
        ("refuse", "withdrawn_at_applicant_request"),
        ("withdraw", "not_selected"),
        ("withdraw", "points_below_pass_mark"),
    ],
)
def test_a_reason_code_must_suit_the_move(store: Store, trigger: str, code: str) -> None:
    case_id = drive_to(store, S.submitted)
    role = "committee" if trigger == "refuse" else "applicant"
    with pytest.raises(InvalidInput) as err:
        advance(case_id, trigger, "Officer LAM", role, reason_code=code, store=store)
    assert f"'{code}' does not explain {trigger}" in str(err.value)


@pytest.mark.parametrize("amount", [float("inf"), float("-inf"), float("nan")])
def test_a_fee_amount_must_be_a_finite_number(store: Store, amount: float) -> None:
    case_id = drive_to(store, S.quota_allotted, mainland=False)
    with pytest.raises(InvalidInput) as err:
        advance(case_id, "pay_fee", "Applicant", "applicant",
                data={"amount": amount, "method": "fps"}, store=store)  # fmt: skip
    assert "amount: input should be a finite number" in str(err.value)


def test_long_waiver_reasons_and_long_document_lists_are_refused(store: Store) -> None:
    case_id = drive_to(store, S.documents_requested)
    with pytest.raises(InvalidInput, match="at most 400 characters"):
        advance(case_id, "record_documents", "Officer LAM", "caseworker",
                data={"waived": {"police_certificate": "x" * 401}}, store=store)  # fmt: skip
    other = drive_to(store, S.file_number_issued)
    names = [f"document_{i}" for i in range(51)]
    with pytest.raises(InvalidInput, match="at most 50 items"):
        advance(other, "request_documents", "Officer LAM", "caseworker",
                data={"documents": names}, store=store)  # fmt: skip


def test_recording_the_last_documents_lifts_the_deadline_so_the_case_cannot_lapse(
    store: Store,
) -> None:
    case_id = drive_to(store, S.documents_requested)
    assert case_view(case_id, store=store)["deadline"]
    advance(case_id, "record_documents", "Officer LAM", "caseworker",
            data={"received": ["police_certificate", "financial_proof"]}, store=store)  # fmt: skip
    view = case_view(case_id, store=store)
    assert (view["state"], view["deadline"]) == ("documents_requested", None)
    with time_machine.travel(LAPSE_AT, tick=False), pytest.raises(TransitionNotAllowed) as err:
        advance(case_id, T.lapse, "qmas-reminders", "system", store=store)
    assert err.value.reasons == ["No deadline is set on this case."]
    advance(case_id, "receive_documents", "Officer LAM", "caseworker", store=store)
    assert case_view(case_id, store=store)["state"] == "file_number_issued"
