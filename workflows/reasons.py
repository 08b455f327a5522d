"""The catalogue of reasons an applicant is told, in English and Traditional Chinese (a contract).

A refusal names a code (``refuse --reason-code C``); the applicant's letter gives the code's
text in the applicant's language. ``other`` carries the caseworker's own ``--reason`` text.
Reasons the system writes (a lapse) are codes too, so that a Chinese letter never carries an
English sentence. ``qmas reasons`` lists the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

from states.errors import InvalidInput


@dataclass(frozen=True)
class Reason:
    code: str
    en: str
    zh_hk: str

    def text(self, language: str = "en") -> str:
        return self.zh_hk if language == "zh-HK" else self.en

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "en": self.en, "zh-HK": self.zh_hk}


OTHER = "other"

REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason(
            "not_selected",
            "The application was not selected in the selection exercise.",
            "申請在甄選過程中未獲選。",
        ),
        Reason(
            "prerequisites_not_met",
            "The applicant does not meet the scheme's basic prerequisites.",
            "申請人未符合計劃的基本資格。",
        ),
        Reason(
            "points_below_pass_mark",
            "The applicant's score is below the pass mark of the points test.",
            "申請人的得分低於計分制度的及格分數。",
        ),
        Reason(
            "false_or_misleading_information",
            "The application contains false or misleading information.",
            "申請載有虛假或具誤導性的資料。",
        ),
        Reason(
            "documents_not_provided",
            "The documents requested were not provided by the due date.",
            "申請人未有在限期前提交所要求的文件。",
        ),
        Reason(
            "fee_not_paid",
            "The visa fee was not paid by the payment deadline.",
            "申請人未有在繳費限期前繳付簽證費用。",
        ),
        Reason(
            "no_longer_eligible",
            "The applicant no longer meets the scheme's requirements.",
            "申請人已不再符合計劃的要求。",
        ),
        Reason(
            "withdrawn_at_applicant_request",
            "The application was withdrawn at the applicant's request.",
            "申請應申請人要求撤回。",
        ),
        Reason(OTHER, "Other reason (stated below).", "其他原因（見下文）。"),
    )
}


def reason_for(code: str) -> Reason:
    try:
        return REASONS[code]
    except KeyError:
        raise InvalidInput(
            f"unknown reason code '{code}'; one of: {', '.join(REASONS)}",
            prefix="invalid reason",
        ) from None


def applicant_text(code: str | None, reason: str | None, language: str) -> str | None:
    """What the applicant reads: the code's text in their language, then any text given."""
    if code is None or code not in REASONS:
        return reason
    if code == OTHER:
        return reason or REASONS[OTHER].text(language)
    base = REASONS[code].text(language)
    return f"{base} {reason}" if reason else base
