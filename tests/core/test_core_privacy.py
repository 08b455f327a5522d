"""Personal data on the command line (issue 9, section 4): travel document numbers and dates
of birth are masked unless a caseworker or supervisor reveals them, and each reveal is kept as
an access record (`qmas audit access CASE`).

Run in-process (tests/core/clikit.py) on the frozen clock, 1 June 2023 10:00 HKT.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.core.clikit import Qmas, Result
from tests.core.core_lifecycle import FROZEN_AT, snapshot
from tests.factories import application
from workflows.clock import iso
from workflows.engine import default_store
from workflows.privacy import is_masked, mask_date_of_birth, mask_document

DOC = "E12345678"
# (as stored, as the text view writes it): the applicant's and the two dependants' births
BIRTHS = [
    ("1990-04-12", "12 April 1990"),
    ("1991-02-03", "3 February 1991"),
    ("2018-09-30", "30 September 2018"),
]
AT = iso(FROZEN_AT)  # 2023-06-01T02:00:00.000000Z, when every access here is recorded


def ok(result: Result) -> str:
    code, out, err = result
    assert (code, err) == (0, ""), result
    return out


def refused(result: Result, *, code: int, contains: str) -> str:
    got, out, err = result
    assert (got, out) == (code, ""), result
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert contains in lines[0], lines[0]
    return lines[0]


def new_case(qmas: Qmas, tmp_path: Path, travel_document: str = DOC) -> int:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(application(travel_document=travel_document)), encoding="utf-8")
    return int(ok(qmas("case", "new", str(path))))


def show_json(qmas: Qmas, case_id: int, *extra: str) -> dict[str, Any]:
    view: dict[str, Any] = json.loads(ok(qmas("case", "show", str(case_id), "--json", *extra)))
    return view


def access(qmas: Qmas, case_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok(qmas("audit", "access", str(case_id), "--json")))
    return rows


def no_personal_data(text: str) -> None:
    assert DOC not in text
    for stored, written in BIRTHS:
        assert stored not in text and written not in text


# --- masked by default -----------------------------------------------------------------------
def test_show_json_masks_the_document_and_every_date_of_birth(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    view = show_json(ready, case_id)
    assert view["applicant"]["travel_document_number"] == "E12****78"
    assert view["applicant"]["date_of_birth"] == "1990-**-**"
    assert [d["date_of_birth"] for d in view["dependants"]] == ["1991-**-**", "2018-**-**"]
    # what stays visible: names and email (staff need them)
    assert view["applicant"]["name"] == "CHAN Tai Man"
    assert view["applicant"]["email"] == "chan.taiman@example.com"
    no_personal_data(json.dumps(view))
    assert access(ready, case_id) == []  # reading masked data is not a reveal


def test_show_text_never_prints_the_full_document_or_dates_of_birth(
    ready: Qmas, tmp_path: Path
) -> None:
    case_id = new_case(ready, tmp_path)
    out = ok(ready("case", "show", str(case_id)))
    assert "travel document E12****78" in out
    assert "born in 1990" in out and "born in 1991" in out and "born in 2018" in out
    no_personal_data(out)


def test_no_other_command_prints_them_either(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    ok(ready("case", "advance", str(case_id), "submit", "--actor", "officer.wong",
             "--role", "applicant"))  # fmt: skip
    outputs = [
        ok(ready("case", "show", str(case_id), "--as-of", "2023-06-01", "--json")),
        ok(ready("case", "history", str(case_id), "--json")),
        ok(ready("case", "history", str(case_id))),
        ok(ready("cases", "--json")),
        ok(ready("cases")),
        ok(ready("case", "actions", str(case_id), "--role", "caseworker", "--json")),
        ok(ready("case", "checklist", str(case_id), "--json")),
        ok(ready("case", "preview", str(case_id), "issue_file_number", "--actor", "officer.lam",
                 "--role", "caseworker", "--json")),
        ok(ready("case", "preview", str(case_id), "issue_file_number", "--actor", "officer.lam",
                 "--role", "caseworker")),
    ]  # fmt: skip
    for text in outputs:
        no_personal_data(text)


# --- revealing -------------------------------------------------------------------------------
@pytest.mark.parametrize(("actor", "role"), [("officer.lam", "caseworker"),
                                             ("supervisor.ho", "supervisor")])  # fmt: skip
def test_reveal_shows_them_and_writes_one_access_record(
    ready: Qmas, tmp_path: Path, actor: str, role: str
) -> None:
    case_id = new_case(ready, tmp_path)
    view = show_json(ready, case_id, "--reveal", "--actor", actor, "--role", role)
    assert view["applicant"]["travel_document_number"] == DOC
    assert view["applicant"]["date_of_birth"] == "1990-04-12"
    assert [d["date_of_birth"] for d in view["dependants"]] == ["1991-02-03", "2018-09-30"]
    assert access(ready, case_id) == [
        {
            "id": 1,
            "at": AT,
            "account": actor,
            "role": role,
            "action": "reveal",
            "fields": ["travel_document_number", "date_of_birth"],
            "via": "cli",
        }
    ]
    masked = show_json(ready, case_id)  # the next plain read is masked again
    assert masked["applicant"]["travel_document_number"] == "E12****78"
    assert len(access(ready, case_id)) == 1


def test_reveal_in_text_prints_them_and_is_recorded_too(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    out = ok(ready("case", "show", str(case_id), "--reveal", "--actor", "officer.lam",
                   "--role", "caseworker"))  # fmt: skip
    assert f"travel document {DOC}" in out
    for _, written in BIRTHS:
        assert written in out
    ok(ready("case", "show", str(case_id), "--reveal", "--actor", "supervisor.ho",
             "--role", "supervisor", "--json"))  # fmt: skip
    rows = access(ready, case_id)
    assert [(r["id"], r["account"], r["role"]) for r in rows] == [
        (1, "officer.lam", "caseworker"),
        (2, "supervisor.ho", "supervisor"),
    ]


def test_access_records_belong_to_their_case(ready: Qmas, tmp_path: Path) -> None:
    first = new_case(ready, tmp_path)
    second = new_case(ready, tmp_path, travel_document="K98765432")
    ok(ready("case", "show", str(second), "--reveal", "--actor", "officer.lam",
             "--role", "caseworker", "--json"))  # fmt: skip
    assert access(ready, first) == []
    assert [r["account"] for r in access(ready, second)] == ["officer.lam"]
    # a file number names the case as well as its id
    for trigger, actor, role in [
        ("submit", "officer.wong", "applicant"),
        ("issue_file_number", "officer.lam", "caseworker"),
    ]:
        ok(ready("case", "advance", str(second), trigger, "--actor", actor, "--role", role))
    file_number = show_json(ready, second)["file_number"]
    assert file_number
    assert access_by_ref(ready, file_number) == access(ready, second)
    assert access_by_ref(ready, f"{file_number}-D1") == access(ready, second)


def access_by_ref(qmas: Qmas, ref: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok(qmas("audit", "access", ref, "--json")))
    return rows


def test_audit_access_text(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    out = ok(ready("audit", "access", str(case_id)))
    assert out.strip() == (
        f"Nobody has read case {case_id} through the API or revealed its personal data."
    )
    ok(ready("case", "show", str(case_id), "--reveal", "--actor", "officer.lam",
             "--role", "caseworker", "--json"))  # fmt: skip
    out = ok(ready("audit", "access", str(case_id)))
    for word in ("2023-06-01 02:00:00", "officer.lam", "caseworker", "reveal", "cli",
                 "travel_document_number, date_of_birth"):  # fmt: skip
        assert word in out
    no_personal_data(out)


REVEAL_REFUSALS = [
    ("committee.cheung", "committee",
     "only a caseworker or supervisor may reveal personal data; not the role 'committee'"),
    ("auditor.yu", "auditor",
     "only a caseworker or supervisor may reveal personal data; not the role 'auditor'"),
    ("officer.wong", "applicant",
     "only a caseworker or supervisor may reveal personal data; not the role 'applicant'"),
    ("officer.lam", "supervisor", "account 'officer.lam' does not hold the role 'supervisor'"),
    ("officer.nobody", "caseworker", "no account named 'officer.nobody'"),
    ("officer.lam", "system", "the role 'system' belongs to the flows' built-in account"),
    ("system", "caseworker", "'system' is the flows' built-in account"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("actor", "role", "contains"),
    REVEAL_REFUSALS,
    ids=["committee", "auditor", "applicant", "role-not-held", "unknown", "role-system",
         "actor-system"],
)  # fmt: skip
def test_reveal_by_anyone_else_is_refused_and_not_recorded(
    ready: Qmas, tmp_path: Path, actor: str, role: str, contains: str
) -> None:
    case_id = new_case(ready, tmp_path)
    before = snapshot(default_store())
    refused(
        ready("case", "show", str(case_id), "--json", "--reveal", "--actor", actor,
              "--role", role),
        code=3, contains=contains,
    )  # fmt: skip
    assert snapshot(default_store()) == before
    assert access(ready, case_id) == []


def test_reveal_by_a_disabled_caseworker_is_refused(ready: Qmas, tmp_path: Path) -> None:
    case_id = new_case(ready, tmp_path)
    ok(ready("user", "disable", "officer.lam"))
    before = snapshot(default_store())
    refused(
        ready("case", "show", str(case_id), "--reveal", "--actor", "officer.lam",
              "--role", "caseworker"),
        code=3, contains="account 'officer.lam' is disabled",
    )  # fmt: skip
    assert snapshot(default_store()) == before


@pytest.mark.parametrize(
    ("argv", "code", "contains"),
    [
        (["--reveal"], 2, "revealing personal data needs --actor USERNAME and --role ROLE"),
        (["--reveal", "--actor", "officer.lam"], 2, "needs --actor USERNAME and --role ROLE"),
        (["--reveal", "--role", "caseworker"], 2, "needs --actor USERNAME and --role ROLE"),
        (["--actor", "officer.lam", "--role", "caseworker"], 2,
         "--actor and --role go with --reveal"),
        (["--actor", "officer.lam"], 2, "--actor and --role go with --reveal"),
        (["--role", "caseworker"], 2, "--actor and --role go with --reveal"),
        (["--reveal", "--actor", "officer.lam", "--role", "caseworker", "--as-of", "2023-06-01"],
         2, "--reveal shows the case as it is now; drop --as-of"),
    ],
    ids=["reveal-alone", "no-role", "no-actor", "actor-without-reveal", "actor-alone",
         "role-alone", "with-as-of"],
)  # fmt: skip
def test_reveal_options_that_do_not_go_together_are_a_clear_error(
    ready: Qmas, tmp_path: Path, argv: list[str], code: int, contains: str
) -> None:
    case_id = new_case(ready, tmp_path)
    before = snapshot(default_store())
    refused(ready("case", "show", str(case_id), "--json", *argv), code=code, contains=contains)
    assert snapshot(default_store()) == before


def test_reveal_of_an_unknown_case_records_nothing(ready: Qmas, tmp_path: Path) -> None:
    new_case(ready, tmp_path)
    before = snapshot(default_store())
    refused(
        ready("case", "show", "99", "--reveal", "--actor", "officer.lam", "--role", "caseworker"),
        code=4, contains="no case 99",
    )  # fmt: skip
    assert snapshot(default_store()) == before


@pytest.mark.parametrize(
    ("ref", "code", "contains"),
    [("99", 4, "no case 99"), ("QM2023-999999", 4, "no case with file number QM2023-999999"),
     ("99999999999999999999999", 4, "no case"), ("not-a-case", 2, "not a case id")],
    ids=["unknown-id", "unknown-file-number", "huge-id", "malformed"],
)  # fmt: skip
def test_audit_access_of_no_such_case(ready: Qmas, ref: str, code: int, contains: str) -> None:
    refused(ready("audit", "access", ref, "--json"), code=code, contains=contains)


# --- the masks -------------------------------------------------------------------------------
def test_the_documented_masks() -> None:
    assert mask_document("E12345678") == "E12****78"
    assert mask_date_of_birth("1985-07-19") == "1985-**-**"
    assert is_masked("E12****78") and not is_masked("E12345678") and not is_masked(None)


@pytest.mark.parametrize("length", range(1, 41))
def test_a_document_number_of_any_length_stays_mostly_hidden(length: int) -> None:
    value = "".join("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"[i % 34] for i in range(length))
    masked = mask_document(value)
    assert len(masked) == length
    shown = [c for c in masked if c != "*"]
    assert len(shown) <= 5
    assert len(shown) <= length // 2 or length >= 9
    if length <= 4:
        assert masked == "*" * length
    # the stars are one run; around it, the number's own first and last characters
    first, last = masked.index("*"), masked.rindex("*")
    assert masked[first : last + 1] == "*" * (last + 1 - first)
    assert value.startswith(masked[:first]) and value.endswith(masked[last + 1 :])


# --- no probing through the reasons of a move the role may not make --------------------------
@pytest.mark.parametrize("role", ["auditor", "committee"])
def test_a_role_that_may_not_make_a_move_reads_only_that_not_the_case_s_particulars(
    ready: Qmas, tmp_path: Path, role: str
) -> None:
    """A preview of `submit` by an auditor once answered with the guards' sentences too ("The
    applicant is 17 on 14 March 2028"): varying lodged_on bisected a masked date of birth."""
    case_id = new_case(ready, tmp_path)
    user = {"auditor": "auditor.yu", "committee": "committee.cheung"}[role]
    for lodged_on in ("2023-06-01", "2090-01-01"):
        data = json.dumps({"lodged_on": lodged_on})
        out = ok(
            ready("case", "preview", str(case_id), "submit", "--actor", user, "--role", role,
                  "--data", data, "--json")
        )  # fmt: skip
        report = json.loads(out)
        assert report["allowed"] is False
        assert report["reasons"] == [
            f"Your role ({role}) may not do this; allowed roles: applicant, caseworker."
        ], report["reasons"]
    actions = json.loads(ok(ready("case", "actions", str(case_id), "--role", role, "--json")))
    for action in actions:
        if role not in action["roles"]:
            assert len(action["reasons"]) == 1, action
