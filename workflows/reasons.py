"""The catalogue of reasons an applicant is told, in English and Traditional Chinese (a contract).

A refusal names a code (``refuse --reason-code C``); the applicant's letter gives the code's
text in the applicant's language. ``other`` carries the caseworker's own ``--reason`` text.
Reasons the system writes (a lapse) are codes too, so that a Chinese letter never carries an
English sentence. ``qmas reasons`` lists the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

from states.errors import InvalidInput
from states.labels import Bilingual


@dataclass(frozen=True)
class Reason(Bilingual):
    code: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "en": self.en, "zh-HK": self.zh_hk}


OTHER = "other"

REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason(
            "not_selected",
            en="The application was not selected in the selection exercise.",
            zh_hk="申請在甄選過程中未獲選。",
        ),
        Reason(
            "prerequisites_not_met",
            en="The applicant does not meet the scheme's basic prerequisites.",
            zh_hk="申請人未符合計劃的基本資格。",
        ),
        Reason(
            "points_below_pass_mark",
            en="The applicant's score is below the pass mark of the points test.",
            zh_hk="申請人的得分低於計分制度的及格分數。",
        ),
        Reason(
            "false_or_misleading_information",
            en="The application contains false or misleading information.",
            zh_hk="申請載有虛假或具誤導性的資料。",
        ),
        Reason(
            "documents_not_provided",
            en="The documents requested were not provided by the due date.",
            zh_hk="申請人未有在限期前提交所要求的文件。",
        ),
        Reason(
            "fee_not_paid",
            en="The visa fee was not paid by the payment deadline.",
            zh_hk="申請人未有在繳費限期前繳付簽證費用。",
        ),
        Reason(
            "no_longer_eligible",
            en="The applicant no longer meets the scheme's requirements.",
            zh_hk="申請人已不再符合計劃的要求。",
        ),
        Reason(
            "withdrawn_at_applicant_request",
            en="The application was withdrawn at the applicant's request.",
            zh_hk="申請應申請人要求撤回。",
        ),
        Reason(OTHER, en="Other reason (stated below).", zh_hk="其他原因（見下文）。"),
    )
}


# Which closing triggers each reason may explain (the rest would tell the applicant nonsense).
_REFUSALS = frozenset(
    {
        "not_selected",
        "prerequisites_not_met",
        "points_below_pass_mark",
        "false_or_misleading_information",
        "documents_not_provided",
        "fee_not_paid",
        "no_longer_eligible",
        OTHER,
    }
)
USED_BY: dict[str, frozenset[str]] = {
    "refuse": _REFUSALS,
    "withdraw": frozenset({"withdrawn_at_applicant_request", OTHER}),
    "lapse": frozenset({"documents_not_provided", "fee_not_paid", OTHER}),
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


def reason_for_trigger(code: str, trigger: str) -> Reason:
    """The reason ``code``, if it may explain ``trigger``; `InvalidInput` otherwise."""
    reason = reason_for(code)
    suited = USED_BY.get(trigger)
    if suited is None:
        raise InvalidInput(
            f"--reason-code applies to {', '.join(sorted(USED_BY))}, not to {trigger}",
            prefix="invalid reason",
        )
    if code not in suited:
        raise InvalidInput(
            f"'{code}' does not explain {trigger}; for {trigger} use one of: "
            f"{', '.join(sorted(suited))}",
            prefix="invalid reason",
        )
    return reason
