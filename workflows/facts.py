"""The facts a decision reads, loaded once under the case's row lock: `CaseFacts`.

Guards and effects never query: each declares the facts it needs (`Fact`), the store loads
the union for the move in one place (`load_facts`), and a guard that reads a fact nobody
loaded fails loudly instead of deciding on an empty list. Loading for a write takes the
locks that keep the answer true until the commit (PostgreSQL: the case row, the person's
advisory lock, the year's quota counter); loading for a preview takes none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from states.store import Case, DependantRow, DocumentRow, Tx
from workflows.four_eyes import WATCHED


class Fact(StrEnum):
    dependants = "dependants"  # the case's dependants
    documents = "documents"  # every document request of the case, all rounds
    quota = "quota"  # quotas allotted so far in the current calendar year
    live_cases = "live_cases"  # the same person's other live applications
    acts = "acts"  # which accounts did the steps the four-eyes rules watch


@dataclass(frozen=True)
class CaseFacts:
    case: Case
    loaded: frozenset[Fact]
    quota_year: int
    _dependants: tuple[DependantRow, ...] = field(default=(), repr=False)
    _documents: tuple[DocumentRow, ...] = field(default=(), repr=False)
    _quota_used: int = 0
    _other_live_cases: tuple[int, ...] = ()
    _acts: dict[str, frozenset[str]] = field(default_factory=dict)

    def _need(self, fact: Fact) -> None:
        if fact not in self.loaded:
            raise LookupError(f"fact '{fact}' was not loaded for this decision; declare it")

    @property
    def dependants(self) -> tuple[DependantRow, ...]:
        self._need(Fact.dependants)
        return self._dependants

    @property
    def documents(self) -> tuple[DocumentRow, ...]:
        self._need(Fact.documents)
        return self._documents

    @property
    def outstanding(self) -> tuple[DocumentRow, ...]:
        """Document requests still open (neither received nor waived)."""
        return tuple(d for d in self.documents if d.status == "requested")

    @property
    def quota_used(self) -> int:
        self._need(Fact.quota)
        return self._quota_used

    @property
    def other_live_cases(self) -> tuple[int, ...]:
        self._need(Fact.live_cases)
        return self._other_live_cases

    @property
    def acts(self) -> dict[str, frozenset[str]]:
        """Trigger -> the accounts that fired it on this case (watched triggers only)."""
        self._need(Fact.acts)
        return self._acts


def load_facts(
    tx: Tx, case_id: int, needs: Iterable[Fact], *, today: date, lock: bool
) -> CaseFacts:
    """Load the case and the facts ``needs`` names; ``lock`` for a decision that will commit."""
    wanted = frozenset(needs)
    case = tx.load_case(case_id, lock=lock)
    dependants: tuple[DependantRow, ...] = ()
    documents: tuple[DocumentRow, ...] = ()
    quota_used = 0
    others: tuple[int, ...] = ()
    acts: dict[str, frozenset[str]] = {}
    if Fact.dependants in wanted:
        dependants = tx.dependant_rows(case_id)
    if Fact.documents in wanted:
        documents = tx.document_rows(case_id)
    if Fact.quota in wanted:
        quota_used = tx.quota_used(today.year, lock=lock)
    if Fact.live_cases in wanted:
        if lock:  # two submissions of one person at once: the second waits, then sees the first
            tx.lock_person(case.travel_document_number, case.nationality)
        others = tuple(tx.live_cases_for(case.travel_document_number, case.nationality, case.id))
    if Fact.acts in wanted:
        acts = tx.actors(case_id, WATCHED)
    return CaseFacts(
        case=case,
        loaded=wanted,
        quota_year=today.year,
        _dependants=dependants,
        _documents=documents,
        _quota_used=quota_used,
        _other_live_cases=others,
        _acts=acts,
    )
