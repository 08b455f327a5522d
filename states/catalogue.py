"""The state catalogue: every state a QMAS case can be in, with labels and terminality.

These names are a public contract (CLI, JSON, history rows): never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    draft = "draft"
    submitted = "submitted"
    file_number_issued = "file_number_issued"
    documents_requested = "documents_requested"
    shortlisted = "shortlisted"
    quota_allotted = "quota_allotted"
    mainland_consent = "mainland_consent"
    fee_paid = "fee_paid"
    evisa_issued = "evisa_issued"
    refused = "refused"
    withdrawn = "withdrawn"
    lapsed = "lapsed"


@dataclass(frozen=True)
class StateInfo:
    state: State
    en: str
    zh_hk: str
    terminal: bool

    def label(self, language: str = "en") -> str:
        return self.zh_hk if language == "zh-HK" else self.en


CATALOGUE: dict[State, StateInfo] = {
    info.state: info
    for info in (
        StateInfo(State.draft, "Draft", "草稿", False),
        StateInfo(State.submitted, "Submitted", "已遞交", False),
        StateInfo(State.file_number_issued, "File number issued", "已發出檔案編號", False),
        StateInfo(State.documents_requested, "Documents requested", "要求補交文件", False),
        StateInfo(State.shortlisted, "Shortlisted", "已入選", False),
        StateInfo(State.quota_allotted, "Quota allotted", "已獲分配名額", False),
        StateInfo(State.mainland_consent, "Mainland consent recorded", "已記錄內地同意書", False),
        StateInfo(State.fee_paid, "Fee paid", "已繳費", False),
        StateInfo(State.evisa_issued, "e-Visa issued", "已簽發電子簽證", True),
        StateInfo(State.refused, "Refused", "已拒絕", True),
        StateInfo(State.withdrawn, "Withdrawn", "已撤回", True),
        StateInfo(State.lapsed, "Lapsed", "已失效", True),
    )
}

TERMINAL: frozenset[State] = frozenset(s for s, i in CATALOGUE.items() if i.terminal)


def label(state: str, language: str = "en") -> str:
    return CATALOGUE[State(state)].label(language)
