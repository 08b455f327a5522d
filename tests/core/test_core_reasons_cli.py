"""`qmas reasons`: the catalogue of reasons an applicant may be told, for scripts and people."""

from __future__ import annotations

import json
import re

import pytest

from console.cli import main
from workflows.reasons import REASONS

REQUIRED = {
    "not_selected",
    "prerequisites_not_met",
    "points_below_pass_mark",
    "false_or_misleading_information",
    "documents_not_provided",
    "other",
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def qmas(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_reasons_json__is_a_list_of_code_en_zh_hk(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = qmas(capsys, "reasons", "--json")
    assert (code, err) == (0, "")
    reasons = json.loads(out)
    assert isinstance(reasons, list)
    assert all(set(r) == {"code", "en", "zh-HK"} for r in reasons)
    assert all(isinstance(v, str) and v for r in reasons for v in r.values())
    codes = [r["code"] for r in reasons]
    assert len(codes) == len(set(codes))
    assert set(codes) >= REQUIRED
    for r in reasons:
        assert CJK.search(r["zh-HK"]) and not CJK.search(r["en"])
    assert reasons == [r.to_json() for r in REASONS.values()]


def test_reasons_table__names_every_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = qmas(capsys, "reasons")
    assert (code, err) == (0, "")
    assert all(c in out for c in REASONS)
