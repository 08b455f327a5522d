"""Personal data in output (Hong Kong PDPO): what is masked, and how.

Travel document numbers and dates of birth are masked in every view of a case; a caseworker
or supervisor may reveal them (`workflows.authz.REVEAL`), and each reveal is kept as an
access record (`qmas audit access CASE`). Names and emails stay visible: staff need them to
tell cases apart and to answer letters.
"""

from __future__ import annotations

PERSONAL_FIELDS = ("travel_document_number", "date_of_birth")


def mask_document(value: str) -> str:
    """A travel document number the way a counter clerk reads it back: E12****78.

    Five characters at most are shown (three first, two last), and of a number shorter than
    nine characters never more than half: E1234 is read back as ``E***4``, not as ``E1*34``,
    which is one character from the whole number."""
    n = len(value)
    shown = 5 if n >= 9 else n // 2 if n > 4 else 0
    tail = min(2, shown // 2)
    head = shown - tail
    return value[:head] + "*" * (n - shown) + (value[n - tail :] if tail else "")


def mask_date_of_birth(value: str) -> str:
    """The year alone (1985-**-**): enough to see an age band, not to identify a person."""
    return value[:4] + "-**-**" if len(value) >= 4 else "****-**-**"


def is_masked(value: str | None) -> bool:
    return value is not None and "*" in value
