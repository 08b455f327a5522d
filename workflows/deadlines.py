"""Which reminder a deadline calls for today, counted in Hong Kong working days.

For a due date D (documents) or a payment deadline: a first reminder from ``first_before``
working days before D, a reminder on D, a final notice from ``final_after`` working days after
D, and after ``grace`` working days the case lapses. Only the current stage is acted on (a
missed stage is not back-filled), and nothing happens on weekends and public holidays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from workflows.calendar import add_working_days, is_working_day


class Stage(StrEnum):
    none = "none"
    first = "first"
    due = "due"
    final = "final"
    lapse = "lapse"


@dataclass(frozen=True)
class Schedule:
    first_before: int
    final_after: int
    grace: int

    def dates(self, due: date) -> dict[Stage, date]:
        return {
            Stage.first: add_working_days(due, -self.first_before),
            Stage.due: due,
            Stage.final: add_working_days(due, self.final_after),
            Stage.lapse: add_working_days(due, self.grace),
        }

    def stage(self, today: date, due: date) -> Stage:
        if not is_working_day(today):
            return Stage.none
        d = self.dates(due)
        if today >= d[Stage.lapse] and today > due:
            return Stage.lapse
        if today >= d[Stage.final] and today > due:
            return Stage.final
        if today >= due:
            return Stage.due
        if today >= d[Stage.first]:
            return Stage.first
        return Stage.none
