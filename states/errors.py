"""The engine's one exception tree. Callers catch `QmasError` at the edge (CLI, web, flows).

    QmasError
     ├── NotFound                 no such case / outbox message / file
     ├── InvalidInput             bad input; `.errors` holds one line per problem
     ├── PermissionDenied         the role may not fire this trigger; names the roles allowed
     │    └── NotAuthorized       the account may not act so (unknown, disabled, role not held)
     ├── TransitionNotAllowed     the move is not possible now; `.reasons` are sentences
     ├── NotAuthenticated         no or bad credentials (HTTP 401); TooManyAttempts: locked (429)
     ├── Conflict                 someone else moved the case first (stale version)
     └── ConfigurationError       a setting is missing or malformed

Every error renders as one line (`str(err)`), which is what the CLI prints.
"""

from __future__ import annotations

from collections.abc import Iterable


class QmasError(Exception):
    """Base of every error the engine raises on purpose."""

    exit_code = 1


class NotFound(QmasError):
    exit_code = 4


class InvalidInput(QmasError):
    exit_code = 2

    def __init__(self, errors: Iterable[str] | str, *, prefix: str = "invalid input") -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        self.prefix = prefix
        super().__init__(f"{prefix}: " + "; ".join(self.errors))


class PermissionDenied(QmasError):
    exit_code = 3

    def __init__(self, trigger: str, role: str, allowed: Iterable[str]) -> None:
        self.trigger = trigger
        self.role = role
        self.allowed = sorted(allowed)
        super().__init__(
            f"role '{role}' may not {trigger}; allowed roles: {', '.join(self.allowed)}"
        )


class NotAuthorized(PermissionDenied):
    """The account may not act as asked: one sentence says why (and nothing is written)."""

    def __init__(self, sentence: str) -> None:
        self.trigger = ""
        self.role = ""
        self.allowed = []
        QmasError.__init__(self, sentence)


class NotAuthenticated(QmasError):
    """No credentials, or credentials that do not name an active account (HTTP 401)."""

    exit_code = 3


class TooManyAttempts(NotAuthenticated):
    """Too many failed logins in a row: the account is locked for a while (HTTP 429)."""

    def __init__(self, sentence: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(sentence)


class TransitionNotAllowed(QmasError):
    exit_code = 5

    def __init__(self, trigger: str, state: str, reasons: Iterable[str]) -> None:
        self.trigger = trigger
        self.state = state
        self.reasons = list(reasons)
        super().__init__(f"cannot {trigger} from {state}: " + " ".join(self.reasons))


class Conflict(QmasError):
    exit_code = 6

    def __init__(self, case_id: int, expected: int | None, actual: int | None) -> None:
        self.case_id = case_id
        self.expected = expected
        self.actual = actual
        detail = f"expected version {expected}" if expected is not None else "version check"
        now = f", it is now at version {actual}" if actual is not None else ""
        super().__init__(
            f"case {case_id} was changed by someone else ({detail}{now}); reload it and try again"
        )


class ConfigurationError(QmasError):
    exit_code = 7
