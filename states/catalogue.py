"""The state catalogue: every state a QMAS case can be in, with labels and terminality.

These names are a public contract (CLI, JSON, history rows): never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from states.labels import Bilingual


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
class StateInfo(Bilingual):
    state: State
    terminal: bool = False

    def label(self, language: str = "en") -> str:
        return self.text(language)


CATALOGUE: dict[State, StateInfo] = {
    info.state: info
    for info in (
        StateInfo(State.draft, en="Draft", zh_hk="草稿"),
        StateInfo(State.submitted, en="Submitted", zh_hk="已遞交"),
        StateInfo(State.file_number_issued, en="File number issued", zh_hk="已發出檔案編號"),
        StateInfo(State.documents_requested, en="Documents requested", zh_hk="要求補交文件"),
        StateInfo(State.shortlisted, en="Shortlisted", zh_hk="已入選"),
        StateInfo(State.quota_allotted, en="Quota allotted", zh_hk="已獲分配名額"),
        StateInfo(State.mainland_consent, en="Mainland consent recorded", zh_hk="已記錄內地同意書"),
        StateInfo(State.fee_paid, en="Fee paid", zh_hk="已繳費"),
        StateInfo(State.evisa_issued, en="e-Visa issued", zh_hk="已簽發電子簽證", terminal=True),
        StateInfo(State.refused, en="Refused", zh_hk="已拒絕", terminal=True),
        StateInfo(State.withdrawn, en="Withdrawn", zh_hk="已撤回", terminal=True),
        StateInfo(State.lapsed, en="Lapsed", zh_hk="已失效", terminal=True),
    )
}

TERMINAL: frozenset[State] = frozenset(s for s, i in CATALOGUE.items() if i.terminal)


def label(state: str, language: str = "en") -> str:
    return CATALOGUE[State(state)].label(language)
