"""Template contexts with realistic values, in the shape the lead engineer's builder produces.

`context(**overrides)` returns a fresh dict; a dict override is merged one level deep, so
`context(case={"file_number": None})` changes only that key. `language="zh-HK"` gives labels
in Traditional Chinese, as the caller localises them.
"""

from __future__ import annotations

import copy
from typing import Any

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "state": "Documents requested",
        "police_certificate": "Police certificate (certificate of no criminal record)",
        "academic_certificates": "Academic certificates and transcripts",
        "credit_card": "Credit card",
        "pps": "PPS",
        "fps": "FPS (Faster Payment System)",
        "office": "Immigration Department, Hong Kong SAR",
        "submitted": "Submitted",
        "shortlisted": "Shortlisted",
    },
    "zh-HK": {
        "state": "要求補交文件",
        "police_certificate": "無犯罪紀錄證明書",
        "academic_certificates": "學歷證明及成績單",
        "credit_card": "信用卡",
        "pps": "繳費靈（PPS）",
        "fps": "轉數快（FPS）",
        "office": "香港特別行政區政府入境事務處",
        "submitted": "已遞交",
        "shortlisted": "已入選",
    },
}


def context(language: str = "en", **overrides: Any) -> dict[str, Any]:
    """A full template context for case 42 (CHAN Tai Man, Mainland resident, one dependant)."""
    t = _LABELS[language]
    ctx: dict[str, Any] = {
        "case": {
            "id": 42,
            "file_number": "QM2023-000042",
            "state": "documents_requested",
            "state_label": t["state"],
            "applicant_name": "CHAN Tai Man",
            "mainland_resident": True,
            "lodged_on": "2023-03-01",
            "fee_due": 230,
            "evisa_number": "EV2023-000042-7",
            "dependants": [
                {"name": "LI Mei", "relation": "spouse", "file_number": "QM2023-000042-D1"}
            ],
        },
        "recipient": {"name": "CHAN Tai Man", "email": "chan@example.com", "role": "applicant"},
        "event": {
            "trigger": "request_documents",
            "from_state": "file_number_issued",
            "to_state": "documents_requested",
            "reason": None,
            "at": "2023-03-01T02:00:00.000000Z",
            "date": "2023-03-01",
        },
        "documents": [
            {"item": "police_certificate", "label": t["police_certificate"], "due": "2023-03-29"},
            {
                "item": "academic_certificates",
                "label": t["academic_certificates"],
                "due": "2023-03-29",
            },
        ],
        "due": "2023-03-29",
        # Set in final notices only: the day the case lapses (the end of the grace period).
        "lapses_on": "2023-04-19",
        "fee": {
            "amount": 230,
            "methods": [
                {"code": "credit_card", "label": t["credit_card"]},
                {"code": "pps", "label": t["pps"]},
                {"code": "fps", "label": t["fps"]},
            ],
        },
        "office": {"name": t["office"], "email": "qmas-noreply@immd.example"},
        "status_url": None,
        "stale_cases": [
            {
                "id": 7,
                "file_number": "QM2023-000007",
                "state": "submitted",
                "state_label": t["submitted"],
                "since": "2023-01-02",
                "days": 45,
                "limit_days": 30,
            },
            {
                "id": 9,
                "file_number": None,
                "state": "shortlisted",
                "state_label": t["shortlisted"],
                "since": "2022-11-20",
                "days": 98,
                "limit_days": 90,
            },
        ],
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(ctx.get(key), dict):
            ctx[key] = {**ctx[key], **copy.deepcopy(value)}
        else:
            ctx[key] = copy.deepcopy(value)
    return ctx


def representative(language: str = "en", **overrides: Any) -> dict[str, Any]:
    """The same case, addressed to the authorised representative."""
    ctx = context(language, **overrides)
    ctx["recipient"] = {
        "name": "WONG Ka Yan",
        "email": "wong@lawfirm.example",
        "role": "representative",
    }
    return ctx
