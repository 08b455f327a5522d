"""How a case moves: the QMAS machine, guards with reasons, dated rule sets, and `advance()`.

Imports `states` only (and `transitions`, `holidays`, `pydantic`).
"""

from states.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    QmasError,
    TransitionNotAllowed,
)
from workflows.engine import (
    Transitioned,
    advance,
    available_actions,
    create_case,
    on_committed,
    remove_listener,
)
from workflows.spec import WORKFLOW_VERSION, Role, Trigger

__all__ = [
    "WORKFLOW_VERSION",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "QmasError",
    "Role",
    "TransitionNotAllowed",
    "Transitioned",
    "Trigger",
    "advance",
    "available_actions",
    "create_case",
    "on_committed",
    "remove_listener",
]
