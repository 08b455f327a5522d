"""`preview` is `advance` without the commit: the same answer, and nothing written.

A property test drives random reachable cases (corrections and notes included) and fires random
triggers, roles and inputs at them, first as a preview, then for real: the preview is allowed
exactly when the move succeeds, with the same destination and version, or refused with the same
reasons; and the preview leaves every table, and the SQLite file itself, byte for byte as it
was. Then `qmas case preview` on the command line: its JSON contract and its exit codes.

Every test runs on a frozen clock (1 June 2023), never today's date.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from notifications.preview import preview_report
from states.catalogue import State
from states.errors import InvalidInput, PermissionDenied, QmasError, TransitionNotAllowed
from states.store import Store
from tests.core.clikit import Qmas
from tests.core.core_lifecycle import (
    ALL_ROLES,
    CONTRACT,
    FEE_2023,
    FROZEN_AT,
    LAPSE_AT,
    ROLES,
    VALID,
    S,
    T,
    drive_to,
    outbox_rows,
    snapshot,
)
from tests.factories import ACTOR_FOR, application, overseas_application
from workflows import effects
from workflows.documents import label
from workflows.engine import advance, preview
from workflows.spec import Trigger

# --- preview and advance agree, and preview writes nothing ----------------------------------
# Moments to decide at: the day the cases are built, after the documents' due date, after every
# deadline (the visa fee is HK$230 a person at all three, and no application fee is due).
MOMENTS = [FROZEN_AT, FROZEN_AT + timedelta(days=45), LAPSE_AT]
# Inputs for each trigger: valid ones, ones a guard refuses, ones the parser rejects.
DATA: dict[Trigger, list[dict[str, Any] | None]] = {
    T.submit: [
        None,
        {"lodged_on": "2023-05-02"},
        {"lodged_on": "2999-01-01"},
        {"application_fee": {"amount": 600, "method": "fps"}},  # none is due in 2023
    ],
    T.request_documents: [
        {"documents": ["police_certificate", "financial_proof"]},
        {"documents": ["police_certificate"], "due": "2023-12-29"},
        {"documents": []},
        {"documents": ["Bad Name"]},
        {"documents": ["police_certificate"], "due": "2023-01-02"},
    ],
    T.receive_documents: [
        {"received": ["police_certificate"], "waived": {"financial_proof": "Bank letter on file"}},
        {"received": ["police_certificate", "financial_proof"]},
        {"received": ["financial_proof"]},
        {"received": ["photograph"]},
        {"waived": {"financial_proof": ""}},
        {},
    ],
    T.record_documents: [
        {"received": ["police_certificate"]},
        {"waived": {"financial_proof": "Bank letter on file"}},
        {"waived": {"financial_proof": "  "}},
        {"received": ["photograph"]},
        {},
    ],
    T.record_mainland_consent: [
        {"consent_letter": "Shenzhen Talent Exchange Centre, ref. SZ-2023-08812"},
        {"consent_letter": ""},
    ],
    T.pay_fee: [
        {"amount": FEE_2023, "method": "fps"},
        {"amount": 1, "method": "cash"},
        {"amount": FEE_2023},
        {},
    ],
    T.amend: [
        {"applicant": {"email": "chan.tm@mail.example.org"}},
        {"applicant": {"language": "en"}},
        {"applicant": {"representative": None}},
        {"applicant": {"representative": {"name": "Lee & Partners", "email": "hk@lee.example"}}},
        {"applicant": {}},
        {"applicant": {"email": "not-an-email"}},
    ],
}
MALFORMED: list[dict[str, Any] | None] = [None, {"unexpected": 1}]
REASON_CODES = ["not_selected", "other", "fee_not_paid", "no_such_code"]
NOTE = "Checked with the intake team."

# Corrections and notes a case may have had before the preview (each may be refused).
HISTORY_EXTRAS: list[tuple[Trigger, str, dict[str, Any] | None, str | None]] = [
    (T.note, "auditor", None, "Looked at the intake file."),
    (T.amend, "caseworker", {"applicant": {"language": "en"}}, None),
    (T.amend, "supervisor", {"applicant": {"representative": None}}, None),
    (T.record_documents, "caseworker", {"received": ["police_certificate"]}, None),
]


def sqlite_digest(db: Path) -> str:
    """The bytes of the SQLite database file and its write-ahead log."""
    digest = hashlib.sha256()
    for suffix in ("", "-wal"):
        path = Path(f"{db}{suffix}")
        digest.update(suffix.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"(absent)")
    return digest.hexdigest()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    """One SQLite file for every example (cases accumulate; each example builds its own)."""
    db = tmp_path_factory.mktemp("preview") / "qmas.db"
    store = Store(f"sqlite:///{db}")
    store.init()
    yield store, db
    store.dispose()


def attempt(call: Callable[[], Any]) -> tuple[Any, QmasError | None]:
    try:
        return call(), None
    except QmasError as err:
        return None, err


SOURCES = {t: sorted({s for (s, tt) in CONTRACT if tt is t}, key=list(State).index) for t in T}


@contextmanager
def seeded_draws(seed: int) -> Iterator[None]:
    """The e-Visa numbers' random part drawn from ``seed``, then the real source again."""
    real = effects.draw_bits
    effects.draw_bits = random.Random(seed).getrandbits
    try:
        yield
    finally:
        effects.draw_bits = real


@pytest.mark.parametrize("trigger", list(Trigger), ids=lambda t: t.value)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    mainland=st.booleans(),
    extras=st.lists(st.sampled_from(HISTORY_EXTRAS), max_size=2),
    data=st.data(),
)
def test_preview_and_advance_agree_and_preview_writes_nothing(
    shared: tuple[Store, Path],
    trigger: Trigger,
    mainland: bool,
    extras: list[tuple[Trigger, str, dict[str, Any] | None, str | None]],
    data: st.DataObject,
) -> None:
    store, db = shared
    # A case the trigger may start from, most of the time; any reachable case otherwise.
    target = data.draw(st.sampled_from(SOURCES[trigger] * 3 + list(State)), "state")
    with time_machine.travel(FROZEN_AT, tick=False):
        case_id = drive_to(store, target, mainland=mainland or target is S.mainland_consent)
        for extra_trigger, extra_role, extra, extra_note in extras:
            attempt(partial(advance, case_id, extra_trigger, ACTOR_FOR[extra_role], extra_role,
                            data=extra, note=extra_note, store=store))  # fmt: skip
        with store.read() as tx:
            case = tx.load_case(case_id)
        state, version = case.state, case.version

        # Who asks, with what: often what the trigger needs, often not.
        role = data.draw(st.sampled_from([VALID[trigger].role] * 3 + list(ALL_ROLES)), "role")
        actor = ACTOR_FOR[role]  # may be who did an earlier step: a four-eyes refusal
        given_data = data.draw(st.sampled_from(DATA.get(trigger, [None]) * 3 + MALFORMED), "data")
        reason = data.draw(st.sampled_from([None, "", "Not selected in this exercise."]), "reason")
        reason_code = data.draw(st.sampled_from([None] * 4 + REASON_CODES), "reason_code")
        notes = [NOTE, NOTE, "", None] if trigger is T.note else [None, None, NOTE, " "]
        note = data.draw(st.sampled_from(notes), "note")
        moment = data.draw(st.sampled_from(MOMENTS), "moment")
        asked = {
            "reason": reason,
            "data": given_data,
            "reason_code": reason_code,
            "note": note,
            "store": store,
            "now": moment,
        }

        rows_before, bytes_before = snapshot(store), sqlite_digest(db)
        # e-Visa numbers are random: preview and advance draw the same ones here
        with seeded_draws(case_id):
            seen, preview_error = attempt(lambda: preview(case_id, trigger, actor, role, **asked))
        report = preview_report(seen, store=store) if seen is not None else None
        assert snapshot(store) == rows_before, "preview wrote to a table"
        assert sqlite_digest(db) == bytes_before, "preview changed the SQLite file"

        with seeded_draws(case_id):
            done, error = attempt(lambda: advance(case_id, trigger, actor, role, **asked))

    event(f"{trigger}: {'allowed' if done is not None else type(error).__name__}")
    if preview_error is not None:
        # Bad input is bad input for both, with the same message, before anything is read.
        assert isinstance(preview_error, InvalidInput), preview_error
        assert type(error) is type(preview_error) and str(error) == str(preview_error)
        assert snapshot(store) == rows_before
        return
    assert report is not None
    assert report["from_state"] == state
    assert report["allowed"] is (done is not None), (report, error)
    if done is not None:
        assert (done.from_state, done.to_state, done.version) == (
            report["from_state"],
            report["to_state"],
            report["version_after"],
        )
        assert report["version_after"] == version + 1 and report["reasons"] == []
        # The event advance wrote is the one preview planned its messages from.
        written = json.loads(outbox_rows(store, case_id)[-1]["payload"])
        written.pop("history_id")
        assert written == json.loads(json.dumps(seen.body))
        return
    assert report["version_after"] == version
    assert snapshot(store) == rows_before, "a refused advance wrote something"
    assert report["reasons"], "a refusal explains itself"
    if isinstance(error, PermissionDenied):
        # The role decides; the preview says so first, naming the roles that may.
        assert role not in ROLES[trigger] and error.allowed == sorted(ROLES[trigger])
        first = report["reasons"][0]
        assert f"({role})" in first and all(r in first for r in error.allowed), first
    else:
        assert isinstance(error, TransitionNotAllowed), error
        assert report["reasons"] == error.reasons
        assert error.state == state


# --- qmas case preview ------------------------------------------------------------------------

PREVIEW_KEYS = {
    "allowed",
    "reasons",
    "from_state",
    "to_state",
    "version_after",
    "messages",
    "documents",
    "deadlines",
    "fee_due",
}
MESSAGE_KEYS = {"to", "template", "language", "subject"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def new_case(qmas: Qmas, tmp_path: Path, data: dict[str, Any]) -> int:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = qmas("case", "new", str(path))
    assert (code, err) == (0, ""), err
    return int(out)


def moved(qmas: Qmas, case: int | str, trigger: str, role: str, *extra: str) -> None:
    """``case advance`` as the test account for ``role`` (`ACTOR_FOR`)."""
    code, _, err = qmas(
        "case", "advance", str(case), trigger, "--actor", ACTOR_FOR[role], "--role", role, *extra
    )
    assert (code, err) == (0, ""), (trigger, err)


def numbered(qmas: Qmas, tmp_path: Path, data: dict[str, Any]) -> int:
    """A case with its file number issued (QM2023-<id>)."""
    case_id = new_case(qmas, tmp_path, data)
    moved(qmas, case_id, "submit", "applicant")
    moved(qmas, case_id, "issue_file_number", "caseworker")
    return case_id


def shortlisted(qmas: Qmas, tmp_path: Path, data: dict[str, Any]) -> int:
    case_id = numbered(qmas, tmp_path, data)
    moved(qmas, case_id, "shortlist", "supervisor")
    return case_id


def previewed(qmas: Qmas, case: int | str, trigger: str, role: str, *extra: str) -> dict[str, Any]:
    """`qmas case preview ... --json`: exit 0, nothing on stderr, the contract keys."""
    code, out, err = qmas(
        "case", "preview", str(case), trigger, "--actor", ACTOR_FOR[role], "--role", role,
        *extra, "--json",
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    report: dict[str, Any] = json.loads(out)
    assert set(report) >= PREVIEW_KEYS
    assert isinstance(report["allowed"], bool)
    assert all(isinstance(r, str) and r for r in report["reasons"])
    assert bool(report["reasons"]) is not report["allowed"]
    assert isinstance(report["version_after"], int)
    for m in report["messages"]:
        assert set(m) >= MESSAGE_KEYS and all(isinstance(m[k], str) and m[k] for k in MESSAGE_KEYS)
    for d in report["documents"]:
        assert set(d) >= {"name", "due", "status"}
    for d in report["deadlines"]:
        assert set(d) >= {"what", "due"}
    return report


def written(qmas: Qmas, case: int) -> tuple[Any, ...]:
    """What a user can see of a case: its view and its history."""
    views = []
    for command in ("show", "history"):
        code, out, err = qmas("case", command, str(case), "--json")
        assert (code, err) == (0, ""), err
        views.append(json.loads(out))
    return tuple(json.dumps(v, sort_keys=True) for v in views)


def test_preview_json_has_the_contract_and_exits_0_allowed_or_not(
    ready: Qmas, tmp_path: Path
) -> None:
    case_id = numbered(ready, tmp_path, application())
    before = written(ready, case_id)

    allowed = previewed(ready, case_id, "shortlist", "caseworker")
    assert allowed["allowed"] is True
    assert (allowed["from_state"], allowed["to_state"], allowed["version_after"]) == (
        "file_number_issued",
        "shortlisted",
        3,
    )
    assert {m["template"] for m in allowed["messages"]} == {"shortlisted"}

    by_role = previewed(ready, case_id, "shortlist", "applicant")
    assert by_role["allowed"] is False and by_role["version_after"] == 2
    assert (
        "applicant" in by_role["reasons"][0] and "caseworker, supervisor" in by_role["reasons"][0]
    )
    assert by_role["messages"] == [] and by_role["documents"] == [] and by_role["deadlines"] == []

    by_state = previewed(ready, case_id, "pay_fee", "applicant", "--data", '{"amount": 230}')
    assert by_state["allowed"] is False and by_state["from_state"] == "file_number_issued"
    assert by_state["reasons"]

    no_note = previewed(ready, case_id, "note", "auditor")
    assert no_note["allowed"] is False
    assert any("--note" in r for r in no_note["reasons"])

    assert written(ready, case_id) == before, "a preview changed the case"


def test_preview_without_json_is_a_readable_verdict(ready: Qmas, tmp_path: Path) -> None:
    case_id = numbered(ready, tmp_path, overseas_application())

    def text(trigger: str, role: str) -> str:
        code, out, err = ready("case", "preview", str(case_id), trigger,
                               "--actor", ACTOR_FOR[role], "--role", role)  # fmt: skip
        assert (code, err) == (0, ""), err
        return out

    allowed = text("shortlist", "supervisor")
    assert "would be allowed" in allowed and "shortlisted" in allowed
    refused = text("allot_quota", "committee")
    assert "would be refused" in refused and "Shortlisted" in refused


def test_preview_request_documents_lists_documents_due_date_and_both_letters(
    ready: Qmas, tmp_path: Path
) -> None:
    """A Mainland applicant writing in Chinese, with an authorised representative."""
    case_id = numbered(ready, tmp_path, application())
    before = written(ready, case_id)
    data = '{"documents": ["police_certificate", "financial_proof"], "due": "2023-07-14"}'
    report = previewed(ready, case_id, "request_documents", "caseworker", "--data", data)
    assert report["allowed"] is True
    assert (report["to_state"], report["version_after"]) == ("documents_requested", 3)
    assert report["documents"] == [
        {"name": "police_certificate", "due": "2023-07-14", "status": "requested"},
        {"name": "financial_proof", "due": "2023-07-14", "status": "requested"},
    ]
    assert report["deadlines"] == [{"what": "documents", "due": "2023-07-14"}]
    letters = {m["to"]: m for m in report["messages"]}
    assert set(letters) == {"chan.taiman@example.com", "cases@wongco.example"}
    for m in letters.values():
        assert (m["template"], m["language"]) == ("documents_requested", "zh-HK")
        assert CJK.search(m["subject"]), m["subject"]
    assert written(ready, case_id) == before, "a preview changed the case"


def test_preview_request_documents_default_due_is_20_hong_kong_working_days(
    ready: Qmas, tmp_path: Path
) -> None:
    """An applicant writing in English, with no representative: one letter, in English."""
    case_id = numbered(ready, tmp_path, overseas_application())
    data = '{"documents": ["police_certificate"]}'
    report = previewed(ready, case_id, "request_documents", "caseworker", "--data", data)
    # From Thursday 1 June 2023: 20 working days, Tuen Ng (22 June) not among them.
    assert report["documents"] == [
        {"name": "police_certificate", "due": "2023-06-30", "status": "requested"}
    ]
    assert report["deadlines"] == [{"what": "documents", "due": "2023-06-30"}]
    (letter,) = report["messages"]
    assert (letter["to"], letter["template"], letter["language"]) == (
        "emily.watson@example.co.uk",
        "documents_requested",
        "en",
    )
    assert not CJK.search(letter["subject"])

    # Once a representative is on file, the preview writes to both, still in English.
    rep = '{"applicant": {"representative": {"name": "Lee & Partners", "email": "hk@lee.example"}}}'
    moved(ready, case_id, "amend", "caseworker", "--data", rep)
    report = previewed(ready, case_id, "request_documents", "caseworker", "--data", data)
    assert {m["to"] for m in report["messages"]} == {"emily.watson@example.co.uk", "hk@lee.example"}
    assert {m["language"] for m in report["messages"]} == {"en"}
    assert report["version_after"] == 4


def test_preview_follows_an_amended_language(ready: Qmas, tmp_path: Path) -> None:
    case_id = numbered(ready, tmp_path, application())
    moved(ready, case_id, "amend", "supervisor", "--data", '{"applicant": {"language": "en"}}')
    report = previewed(
        ready, case_id, "request_documents", "caseworker", "--data", '{"documents": ["cv"]}'
    )
    assert len(report["messages"]) == 2
    assert {m["language"] for m in report["messages"]} == {"en"}
    assert not any(CJK.search(m["subject"]) for m in report["messages"])


def test_preview_allot_quota_shows_the_fee_and_the_payment_deadline(
    ready: Qmas, tmp_path: Path
) -> None:
    case_id = shortlisted(ready, tmp_path, overseas_application())
    before = written(ready, case_id)
    report = previewed(ready, case_id, "allot_quota", "committee")
    assert report["allowed"] is True and report["to_state"] == "quota_allotted"
    # HK$230 (until 26 February 2025) for the applicant and each of two dependants
    assert report["fee_due"] == 690
    assert report["deadlines"] == [{"what": "fee_payment", "due": "2023-11-30"}]  # 182 days
    assert [m["template"] for m in report["messages"]] == ["quota_allotted"]
    _, out, _ = ready("case", "show", str(case_id), "--json")
    assert json.loads(out)["fee_due"] is None, "a preview set the fee"
    assert written(ready, case_id) == before


def test_preview_by_file_number(ready: Qmas, tmp_path: Path) -> None:
    case_id = numbered(ready, tmp_path, application())
    principal = f"QM2023-{case_id:06d}"
    by_id = previewed(ready, case_id, "shortlist", "caseworker")
    assert previewed(ready, principal, "shortlist", "caseworker") == by_id
    assert previewed(ready, f"{principal}-D1", "shortlist", "caseworker") == by_id


def test_preview_shows_why_not_when_documents_are_outstanding(ready: Qmas, tmp_path: Path) -> None:
    case_id = numbered(ready, tmp_path, overseas_application())
    moved(ready, case_id, "request_documents", "caseworker", "--data",
          '{"documents": ["police_certificate"], "due": "2023-07-14"}')  # fmt: skip
    report = previewed(ready, case_id, "receive_documents", "caseworker")
    assert report["allowed"] is False
    assert any(label("police_certificate") in r and "14 July 2023" in r for r in report["reasons"])
    received = previewed(ready, case_id, "receive_documents", "caseworker", "--data",
                         '{"received": ["police_certificate"]}')  # fmt: skip
    assert received["allowed"] is True and received["to_state"] == "file_number_issued"
    assert received["documents"] == [
        {"name": "police_certificate", "due": "2023-07-14", "status": "received"}
    ]


@pytest.mark.parametrize(
    ("argv", "contains"),
    [
        (["request_documents", "--data", "{oops"], "--data is not valid JSON"),
        (["approve"], "unknown trigger 'approve'"),
        (["request_documents", "--data", '{"docs": ["cv"]}'], "allowed: documents, due"),
        (["amend", "--data", '{"applicant": {"phone": "1"}}'], "email, language, representative"),
        (["refuse", "--reason-code", "no_such_code"], "unknown reason code 'no_such_code'"),
        (["shortlist", "--reason-code", "not_selected"], "--reason-code"),
    ],
    ids=[
        "bad-json",
        "unknown-trigger",
        "unknown-field",
        "unknown-amend-field",
        "unknown-reason-code",
        "reason-code-not-closing",
    ],
)
def test_preview_bad_input_exits_2_with_one_line(
    ready: Qmas, tmp_path: Path, argv: list[str], contains: str
) -> None:
    case_id = numbered(ready, tmp_path, application())
    before = written(ready, case_id)
    trigger, *extra = argv
    code, out, err = ready(
        "case", "preview", str(case_id), trigger, "--actor", "supervisor.ho", "--role",
        "supervisor", *extra, "--json",
    )  # fmt: skip
    assert (code, out) == (2, ""), err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and contains in lines[0], err
    assert written(ready, case_id) == before
