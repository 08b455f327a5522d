"""Corrections, notes and reason codes, as a caseworker meets them on the command line.

record_documents records some of the open documents (the rest stay open), amend corrects the
applicant's contact details (the history keeps before and after), note adds an internal note to
any case, closed ones included; each keeps the state. The auditor may only write notes. A
refusal may name a reason from the catalogue (``--reason-code``) instead of typing one.

Every test runs on a frozen clock (1 June 2023) against a fresh SQLite file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import time_machine

from states.errors import PermissionDenied
from states.store import Store
from tests.core.clikit import Qmas, Result
from tests.core.core_lifecycle import ROLES, VALID, Step, T, drive_to, fire, outbox_rows, snapshot
from tests.factories import ACTOR_FOR, application, overseas_application
from workflows.documents import label
from workflows.engine import default_store
from workflows.spec import MOVES, Trigger


def new_case(qmas: Qmas, tmp_path: Path, data: dict[str, Any]) -> int:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = qmas("case", "new", str(path))
    assert (code, err) == (0, ""), err
    return int(out)


def advance(qmas: Qmas, case: int, trigger: str, role: str, *extra: str) -> Result:
    """``case advance`` as the test account for ``role`` (`ACTOR_FOR`)."""
    actor = ACTOR_FOR[role]
    return qmas("case", "advance", str(case), trigger, "--actor", actor, "--role", role, *extra)


def moved(qmas: Qmas, case: int, trigger: str, role: str, *extra: str) -> None:
    code, _, err = advance(qmas, case, trigger, role, *extra)
    assert (code, err) == (0, ""), (trigger, err)


def refused(result: Result, *, code: int, contains: str) -> str:
    """One error line on stderr with the exit code; returns the line."""
    got, out, err = result
    assert (got, out) == (code, ""), result
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert contains in lines[0], lines[0]
    return lines[0]


def show(qmas: Qmas, case: int) -> dict[str, Any]:
    code, out, err = qmas("case", "show", str(case), "--json")
    assert (code, err) == (0, ""), err
    view: dict[str, Any] = json.loads(out)
    return view


def history(qmas: Qmas, case: int) -> list[dict[str, Any]]:
    code, out, err = qmas("case", "history", str(case), "--json")
    assert (code, err) == (0, ""), err
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def documents(qmas: Qmas, case: int) -> dict[str, tuple[str, str | None]]:
    return {d["name"]: (d["status"], d["waiver_reason"]) for d in show(qmas, case)["documents"]}


def with_documents_requested(qmas: Qmas, tmp_path: Path, *items: str) -> int:
    """An English-writing applicant's case, asked for ``items`` by 14 July 2023."""
    case_id = new_case(qmas, tmp_path, overseas_application())
    moved(qmas, case_id, "submit", "applicant")
    moved(qmas, case_id, "issue_file_number", "caseworker")
    data = json.dumps({"documents": list(items), "due": "2023-07-14"})
    moved(qmas, case_id, "request_documents", "caseworker", "--data", data)
    return case_id


def closed(qmas: Qmas, tmp_path: Path) -> int:
    case_id = new_case(qmas, tmp_path, application())
    moved(qmas, case_id, "submit", "applicant")
    moved(qmas, case_id, "withdraw", "applicant", "--reason", "Moved to Singapore")
    return case_id


# --- record_documents ------------------------------------------------------------------------
def test_record_documents_twice_then_receive_documents_with_nothing_left(
    ready: Qmas, tmp_path: Path
) -> None:
    case_id = with_documents_requested(ready, tmp_path, "police_certificate", "financial_proof")
    before = show(ready, case_id)

    moved(ready, case_id, "record_documents", "caseworker", "--data",
          '{"received": ["police_certificate"]}')  # fmt: skip
    view = show(ready, case_id)
    assert (view["state"], view["version"]) == ("documents_requested", 4)
    assert (view["state_since"], view["deadline"]) == (before["state_since"], before["deadline"])
    assert documents(ready, case_id) == {
        "police_certificate": ("received", None),
        "financial_proof": ("requested", None),
    }
    # What stays open is still asked for, by name and due date.
    code, out, err = ready(
        "case", "preview", str(case_id), "receive_documents", "--actor", "officer.lam",
        "--role", "caseworker", "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    (why,) = json.loads(out)["reasons"]
    assert why.startswith("Documents outstanding: ") and "(due 14 July 2023)" in why
    assert label("financial_proof") in why and label("police_certificate") not in why

    moved(ready, case_id, "record_documents", "caseworker", "--data",
          '{"waived": {"financial_proof": "Bank statement already on file"}}')  # fmt: skip
    view = show(ready, case_id)
    assert (view["state"], view["version"]) == ("documents_requested", 5)
    assert documents(ready, case_id) == {
        "police_certificate": ("received", None),
        "financial_proof": ("waived", "Bank statement already on file"),
    }
    refused(
        advance(
            ready,
            case_id,
            "record_documents",
            "caseworker",
            "--data",
            '{"received": ["police_certificate"]}',
        ),
        code=5,
        contains="No document is outstanding",
    )

    moved(ready, case_id, "receive_documents", "caseworker")
    view = show(ready, case_id)
    assert (view["state"], view["version"], view["deadline"]) == ("file_number_issued", 6, None)
    moved(ready, case_id, "shortlist", "supervisor")
    rows = history(ready, case_id)
    assert [r["trigger"] for r in rows[-4:]] == [
        "record_documents",
        "record_documents",
        "receive_documents",
        "shortlist",
    ]
    assert [(r["from_state"], r["to_state"]) for r in rows[-4:-2]] == [
        ("documents_requested", "documents_requested")
    ] * 2


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        (
            {"received": ["police_certificate"]},
            "Already recorded: police_certificate (outstanding: financial_proof).",
        ),
        (
            {"received": ["birth_certificate"]},
            "Not requested: birth_certificate (outstanding: financial_proof).",
        ),
        ({"waived": {"financial_proof": ""}}, "A waiver of financial_proof needs a reason."),
        ({"waived": {"financial_proof": "   "}}, "A waiver of financial_proof needs a reason."),
        ({}, "Name the documents received or waived"),
        (
            {"received": ["financial_proof"], "waived": {"financial_proof": "on file"}},
            "Named as both received and waived: financial_proof; name each once.",
        ),
    ],
    ids=[
        "already-recorded",
        "never-requested",
        "waiver-without-reason",
        "blank-reason",
        "none",
        "received-and-waived",
    ],
)
def test_record_documents_refusals_explain_themselves_and_write_nothing(
    ready: Qmas, tmp_path: Path, data: dict[str, Any], sentence: str
) -> None:
    case_id = with_documents_requested(ready, tmp_path, "police_certificate", "financial_proof")
    moved(ready, case_id, "record_documents", "caseworker", "--data",
          '{"received": ["police_certificate"]}')  # fmt: skip
    before = (show(ready, case_id), history(ready, case_id))
    refused(
        advance(ready, case_id, "record_documents", "caseworker", "--data", json.dumps(data)),
        code=5,
        contains=sentence,
    )
    assert (show(ready, case_id), history(ready, case_id)) == before


def test_record_documents_is_for_a_caseworker_while_documents_are_requested(
    ready: Qmas, tmp_path: Path
) -> None:
    case_id = with_documents_requested(ready, tmp_path, "police_certificate")
    data = '{"received": ["police_certificate"]}'
    refused(
        advance(ready, case_id, "record_documents", "supervisor", "--data", data),
        code=3,
        contains="allowed roles: caseworker",
    )
    moved(ready, case_id, "receive_documents", "caseworker", "--data", data)
    refused(
        advance(ready, case_id, "record_documents", "caseworker", "--data", data),
        code=5,
        contains="Documents requested",
    )


# --- amend -----------------------------------------------------------------------------------
def test_amend_changes_email_language_and_representative_keeping_before_and_after(
    ready: Qmas, tmp_path: Path
) -> None:
    case_id = new_case(ready, tmp_path, application())  # zh-HK, represented by Wong & Co.
    moved(ready, case_id, "submit", "applicant")

    change = {"email": "chan.tm@mail.example.org", "language": "en"}
    moved(ready, case_id, "amend", "caseworker", "--data", json.dumps({"applicant": change}))
    view = show(ready, case_id)
    assert (view["state"], view["version"]) == ("submitted", 2)
    assert (view["applicant"]["email"], view["applicant"]["language"]) == (
        "chan.tm@mail.example.org",
        "en",
    )
    assert view["applicant"]["representative"] == {
        "name": "Wong & Co.",
        "email": "cases@wongco.example",
    }
    row = history(ready, case_id)[-1]
    assert (row["trigger"], row["from_state"], row["to_state"]) == (
        "amend",
        "submitted",
        "submitted",
    )
    assert (row["actor"], row["role"]) == ("officer.lam", "caseworker")
    assert row["payload"]["before"]["email"] == "chan.taiman@example.com"
    assert row["payload"]["after"]["email"] == "chan.tm@mail.example.org"
    assert (row["payload"]["before"]["language"], row["payload"]["after"]["language"]) == (
        "zh-HK",
        "en",
    )

    rep = {"representative": {"name": "Lee & Partners", "email": "hk@lee.example"}}
    moved(ready, case_id, "amend", "supervisor", "--data", json.dumps({"applicant": rep}))
    assert show(ready, case_id)["applicant"]["representative"] == rep["representative"]
    row = history(ready, case_id)[-1]
    assert row["payload"]["before"]["representative_email"] == "cases@wongco.example"
    assert row["payload"]["after"]["representative_email"] == "hk@lee.example"

    moved(
        ready, case_id, "amend", "caseworker", "--data", '{"applicant": {"representative": null}}'
    )
    view = show(ready, case_id)
    assert view["applicant"]["representative"] is None
    assert view["applicant"]["email"] == "chan.tm@mail.example.org"  # untouched
    row = history(ready, case_id)[-1]
    assert row["payload"]["before"]["representative_email"] == "hk@lee.example"
    assert row["payload"]["after"]["representative_email"] is None
    assert (view["state"], view["version"]) == ("submitted", 4)


def test_amended_details_are_used_for_the_next_letters(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path, application())
    moved(ready, case_id, "submit", "applicant")
    moved(ready, case_id, "issue_file_number", "caseworker")
    data = '{"applicant": {"email": "chan.tm@mail.example.org", "representative": null}}'
    moved(ready, case_id, "amend", "caseworker", "--data", data)
    code, out, err = ready(
        "case", "preview", str(case_id), "request_documents", "--actor", "officer.lam",
        "--role", "caseworker", "--data", '{"documents": ["police_certificate"]}', "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert [m["to"] for m in json.loads(out)["messages"]] == ["chan.tm@mail.example.org"]


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        ({"applicant": {"email": "chan.taiman@example.com"}}, "Nothing would change"),
        ({"applicant": {"language": "zh-HK"}}, "Nothing would change"),
        (
            {
                "applicant": {
                    "representative": {"name": "Wong & Co.", "email": "cases@wongco.example"}
                }
            },
            "Nothing would change",
        ),
        ({"applicant": {}}, "Name what to amend"),
        ({}, "Name what to amend"),
    ],
    ids=["same-email", "same-language", "same-representative", "empty-applicant", "no-applicant"],
)
def test_amend_with_no_change_is_refused_with_a_sentence(
    ready: Qmas, tmp_path: Path, data: dict[str, Any], sentence: str
) -> None:
    case_id = new_case(ready, tmp_path, application())
    before = (show(ready, case_id), history(ready, case_id))
    line = refused(
        advance(ready, case_id, "amend", "caseworker", "--data", json.dumps(data)),
        code=5,
        contains=sentence,
    )
    assert line.endswith(".")
    assert (show(ready, case_id), history(ready, case_id)) == before


@pytest.mark.parametrize(
    ("data", "contains"),
    [
        ({"applicant": {"phone": "+852 5555 0000"}}, "allowed: email, language, representative"),
        ({"applicant": {"email": "not-an-email"}}, "is not an email address"),
        ({"applicant": {"language": "fr"}}, "applicant.language"),
        ({"applicant": {"name": "CHAN Siu Ming"}}, "allowed: email, language, representative"),
        ({"applicant": {"email": None}}, "applicant.email: the email cannot be removed"),
        ({"applicant": {"language": None}}, "applicant.language: the language cannot be removed"),
    ],
    ids=[
        "unknown-field",
        "bad-email",
        "bad-language",
        "name-is-not-amendable",
        "null-email",
        "null-language",
    ],
)
def test_amend_with_bad_data_is_invalid_input(
    ready: Qmas, tmp_path: Path, data: dict[str, Any], contains: str
) -> None:
    case_id = new_case(ready, tmp_path, application())
    refused(
        advance(ready, case_id, "amend", "caseworker", "--data", json.dumps(data)),
        code=2,
        contains=contains,
    )
    assert show(ready, case_id)["version"] == 0


def test_amend_on_a_closed_case_is_refused(ready: Qmas, tmp_path: Path) -> None:
    case_id = closed(ready, tmp_path)
    before = (show(ready, case_id), history(ready, case_id))
    refused(
        advance(
            ready,
            case_id,
            "amend",
            "supervisor",
            "--data",
            '{"applicant": {"email": "new@mail.example.org"}}',
        ),
        code=5,
        contains="closed",
    )
    assert (show(ready, case_id), history(ready, case_id)) == before


def test_amend_is_for_caseworkers_and_supervisors(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path, application())
    data = '{"applicant": {"email": "new@mail.example.org"}}'
    for role in ("applicant", "committee", "auditor"):
        refused(
            advance(ready, case_id, "amend", role, "--data", data),
            code=3,
            contains="allowed roles: caseworker, supervisor",
        )
    # No person may take the role 'system' on the command line, for any move.
    refused(
        advance(ready, case_id, "amend", "system", "--data", data),
        code=3,
        contains="no person may take it",
    )
    assert show(ready, case_id)["version"] == 0


# --- note ------------------------------------------------------------------------------------
def test_note_requires_its_text(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path, application())
    for extra in ([], ["--note", ""], ["--note", "   "]):
        refused(
            advance(ready, case_id, "note", "caseworker", *extra),
            code=5,
            contains="A note needs its text (--note TEXT).",
        )
    assert show(ready, case_id)["version"] == 0


def test_note_on_a_closed_case_by_an_auditor_is_kept_in_history_only(
    ready: Qmas, tmp_path: Path
) -> None:
    case_id = closed(ready, tmp_path)
    text = "Withdrawal confirmed by phone; see call log 2023-118."
    moved(ready, case_id, "note", "auditor", "--note", text)
    view = show(ready, case_id)
    assert (view["state"], view["version"]) == ("withdrawn", 3)

    rows = history(ready, case_id)
    last = rows[-1]
    assert (last["trigger"], last["from_state"], last["to_state"]) == (
        "note",
        "withdrawn",
        "withdrawn",
    )
    assert (last["note"], last["role"], last["actor"]) == (text, "auditor", "auditor.yu")
    assert all(r["note"] is None for r in rows[:-1])
    code, out, _ = ready("audit", "verify")
    assert code == 0 and "audit ok" in out

    # The note is internal: it is in no outbox event, so in no email.
    events = outbox_rows(default_store(), case_id)
    assert len(events) == 3
    assert all(text not in e["payload"] for e in events)


def test_a_note_given_with_any_move_is_kept_in_its_history_row(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path, application())
    moved(ready, case_id, "submit", "applicant", "--note", "Lodged at the counter.")
    code, out, err = ready("case", "history", str(case_id), "--json")
    assert (code, err) == (0, "")
    (row,) = json.loads(out)
    assert (row["trigger"], row["note"]) == ("submit", "Lodged at the counter.")
    code, out, _ = ready("case", "history", str(case_id))
    assert code == 0 and "Lodged at the counter." in out
    assert all("Lodged at the counter." not in e["payload"] for e in outbox_rows(
        default_store(), case_id))  # fmt: skip


def test_note_roles(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path, application())
    for version, role in enumerate(("caseworker", "supervisor", "committee", "auditor"), start=1):
        moved(ready, case_id, "note", role, "--note", f"Note by the {role}.")
        assert show(ready, case_id)["version"] == version
    refused(
        advance(ready, case_id, "note", "applicant", "--note", "Hello."),
        code=3,
        contains="allowed roles: auditor, caseworker, committee, supervisor",
    )
    # No person may take the role 'system' on the command line, for any move.
    refused(
        advance(ready, case_id, "note", "system", "--note", "Hello."),
        code=3,
        contains="no person may take it",
    )
    assert [r["note"] for r in history(ready, case_id)] == [
        "Note by the caseworker.",
        "Note by the supervisor.",
        "Note by the committee.",
        "Note by the auditor.",
    ]


# --- the auditor -----------------------------------------------------------------------------
NOT_NOTES = [t for t in Trigger if t is not T.note]


@pytest.mark.parametrize("trigger", NOT_NOTES, ids=lambda t: t.value)
def test_auditor_may_do_nothing_but_note(
    store: Store, frozen_clock: time_machine.Traveller, trigger: Trigger
) -> None:
    """From a state the trigger starts from, with valid input: the role alone refuses it."""
    source = MOVES[trigger].sources[0]
    case_id = drive_to(store, source, mainland=trigger is not T.pay_fee)
    before = snapshot(store)
    step = VALID[trigger]
    with pytest.raises(PermissionDenied) as err:
        fire(store, case_id, Step(trigger, "auditor", step.data, step.reason, note="Looked."))
    assert err.value.allowed == sorted(ROLES[trigger])
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("state_steps", "trigger", "extra"),
    [
        ([], "submit", []),
        ([], "withdraw", []),
        ([], "amend", ["--data", '{"applicant": {"language": "en"}}']),
        (["submit"], "issue_file_number", []),
        (["submit", "issue_file_number"], "shortlist", []),
        (["submit", "issue_file_number"], "refuse", ["--reason-code", "not_selected"]),
        (["submit", "issue_file_number"], "request_documents",
         ["--data", '{"documents": ["police_certificate"]}']),
    ],
    ids=["submit", "withdraw", "amend", "issue_file_number", "shortlist", "refuse",
         "request_documents"],
)  # fmt: skip
def test_auditor_is_denied_on_the_command_line_with_exit_3(
    ready: Qmas, tmp_path: Path, state_steps: list[str], trigger: str, extra: list[str]
) -> None:
    case_id = new_case(ready, tmp_path, application())
    roles = {"submit": "applicant", "issue_file_number": "caseworker"}
    for step in state_steps:
        moved(ready, case_id, step, roles[step])
    before = show(ready, case_id)
    line = refused(advance(ready, case_id, trigger, "auditor", *extra), code=3, contains="auditor")
    assert "allowed roles" in line
    assert show(ready, case_id) == before


def test_auditor_actions_offer_only_a_note(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path, application())
    moved(ready, case_id, "submit", "applicant")
    code, out, _ = ready("case", "actions", str(case_id), "--role", "auditor", "--json")
    assert code == 0
    assert [a["trigger"] for a in json.loads(out) if a["allowed"]] == ["note"]


# --- reason codes ----------------------------------------------------------------------------
def catalogue(qmas: Qmas) -> dict[str, str]:
    code, out, _ = qmas("reasons", "--json")
    assert code == 0
    return {r["code"]: r["en"] for r in json.loads(out)}


def submitted(qmas: Qmas, tmp_path: Path) -> int:
    case_id = new_case(qmas, tmp_path, application())
    moved(qmas, case_id, "submit", "applicant")
    return case_id


def test_refuse_with_reason_code_other_needs_the_text(ready: Qmas, tmp_path: Path) -> None:
    case_id = submitted(ready, tmp_path)
    line = refused(
        advance(ready, case_id, "refuse", "supervisor", "--reason-code", "other"),
        code=5,
        contains="--reason",
    )
    assert "another reason" in line
    assert show(ready, case_id)["state"] == "submitted"
    moved(ready, case_id, "refuse", "supervisor", "--reason-code", "other",
          "--reason", "Forged degree certificate.")  # fmt: skip
    view = show(ready, case_id)
    assert (view["state"], view["outcome_reason"]) == ("refused", "Forged degree certificate.")


def test_refuse_with_a_catalogue_reason_needs_no_text(ready: Qmas, tmp_path: Path) -> None:
    case_id = submitted(ready, tmp_path)
    moved(ready, case_id, "refuse", "committee", "--reason-code", "not_selected")
    view = show(ready, case_id)
    assert view["state"] == "refused"
    assert view["outcome_reason"] == catalogue(ready)["not_selected"]
    assert view["outcome_reason"] == "The application was not selected in the selection exercise."
    event = json.loads(outbox_rows(default_store(), case_id)[-1]["payload"])
    assert event["reason_code"] == "not_selected"


def test_refuse_with_a_catalogue_reason_and_text_keeps_what_the_letter_says(
    ready: Qmas, tmp_path: Path
) -> None:
    case_id = submitted(ready, tmp_path)
    moved(ready, case_id, "refuse", "committee", "--reason-code", "not_selected",
          "--reason", "Other applicants scored higher.")  # fmt: skip
    assert show(ready, case_id)["outcome_reason"] == (
        f"{catalogue(ready)['not_selected']} Other applicants scored higher."
    )
    assert history(ready, case_id)[-1]["reason"] == "Other applicants scored higher."


def test_refuse_with_a_bare_reason_still_works(ready: Qmas, tmp_path: Path) -> None:
    case_id = submitted(ready, tmp_path)
    moved(ready, case_id, "refuse", "supervisor", "--reason", "Forged degree certificate.")
    view = show(ready, case_id)
    assert (view["state"], view["outcome_reason"]) == ("refused", "Forged degree certificate.")
    assert history(ready, case_id)[-1]["reason"] == "Forged degree certificate."


def test_refuse_with_no_reason_at_all_is_refused(ready: Qmas, tmp_path: Path) -> None:
    case_id = submitted(ready, tmp_path)
    refused(
        advance(ready, case_id, "refuse", "supervisor"),
        code=5,
        contains="A refusal needs a reason (--reason-code or --reason).",
    )


@pytest.mark.parametrize(
    ("trigger", "role"),
    [("issue_file_number", "caseworker"), ("note", "caseworker"), ("amend", "caseworker")],
)
def test_reason_code_on_a_move_that_does_not_close_is_invalid_input(
    ready: Qmas, tmp_path: Path, trigger: str, role: str
) -> None:
    case_id = submitted(ready, tmp_path)
    extra = {"note": ["--note", "x"], "amend": ["--data", '{"applicant": {"language": "en"}}']}
    line = refused(
        advance(
            ready, case_id, trigger, role, "--reason-code", "not_selected", *extra.get(trigger, [])
        ),
        code=2,
        contains="--reason-code",
    )
    assert "refuse" in line
    assert show(ready, case_id)["version"] == 1


def test_unknown_reason_code_is_invalid_input(ready: Qmas, tmp_path: Path) -> None:
    case_id = submitted(ready, tmp_path)
    refused(
        advance(ready, case_id, "refuse", "supervisor", "--reason-code", "bad_luck"),
        code=2,
        contains="unknown reason code 'bad_luck'",
    )
    assert show(ready, case_id)["version"] == 1


def test_withdraw_with_a_reason_code(ready: Qmas, tmp_path: Path) -> None:
    case_id = submitted(ready, tmp_path)
    moved(ready, case_id, "withdraw", "applicant", "--reason-code",
          "withdrawn_at_applicant_request")  # fmt: skip
    view = show(ready, case_id)
    assert view["state"] == "withdrawn"
    assert view["outcome_reason"] == catalogue(ready)["withdrawn_at_applicant_request"]
