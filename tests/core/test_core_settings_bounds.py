"""Settings that parse but make no sense are refused when read (issue 10, §1): exit 7, one
line naming the variable, nothing written. A negative period or an unknown state once ran,
and did something nobody asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.clikit import Qmas
from tests.core.core_lifecycle import snapshot
from tests.factories import application
from workflows.engine import default_settings, default_store


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QMAS_PAYMENT_PERIOD_DAYS", "-5"),
        ("QMAS_PAYMENT_PERIOD_DAYS", "0"),
        ("QMAS_DOCUMENT_PERIOD_WORKING_DAYS", "100000"),
        ("QMAS_DOCUMENT_GRACE_WORKING_DAYS", "-1"),
        ("QMAS_FEE_FIRST_REMINDER_WORKING_DAYS", "9999"),
        ("QMAS_SERVICE_LEVELS", '{"nope": 3}'),
        ("QMAS_SERVICE_LEVELS", '{"submitted": 0}'),
        ("QMAS_ANNUAL_QUOTAS", '{"2023": -1}'),
        ("QMAS_ANNUAL_QUOTAS", '{"1999": 10}'),
        ("QMAS_FILE_NUMBER_PREFIX", "q1"),
        ("QMAS_EVISA_PREFIX", ""),
        ("QMAS_DISPATCH_BATCH_SIZE", "0"),
        ("QMAS_PREFECT_NUDGE", "maybe"),
        ("QMAS_SQLITE_BUSY_TIMEOUT_MS", "-1"),
        ("QMAS_LOGIN_MAX_FAILURES", "0"),
    ],
)
def test_a_setting_out_of_bounds_is_exit_7_naming_it_and_writes_nothing(
    ready: Qmas, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    app = tmp_path / "app.json"
    app.write_text(json.dumps(application()), encoding="utf-8")
    assert ready("case", "new", str(app))[1].strip() == "1"
    before = snapshot(default_store())
    monkeypatch.setenv(name, value)
    default_settings.cache_clear()
    default_store.cache_clear()
    try:
        if name.startswith(("QMAS_DISPATCH", "QMAS_PREFECT")):  # read by the flows' commands
            code, out, err = ready("dispatch")
        elif name.startswith("QMAS_LOGIN"):  # read by the API and the token commands
            code, out, err = ready("serve", "--port", "1")
        else:
            code, out, err = ready("case", "advance", "1", "note", "--actor", "officer.lam",
                                   "--role", "caseworker", "--note", "x")  # fmt: skip
    finally:
        default_settings.cache_clear()
        default_store.cache_clear()
    assert (code, out) == (7, ""), (code, out, err)
    assert err.startswith("error: ") and name in err and len(err.splitlines()) == 1, err
    monkeypatch.delenv(name)
    assert snapshot(default_store()) == before


def test_the_defaults_are_within_every_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.settings import FlowSettings
    from notifications.delivery import RetryPolicy
    from states.settings import DatabaseSettings
    from workflows.authz import AuthSettings
    from workflows.settings import WorkflowSettings

    for settings in (WorkflowSettings, FlowSettings, RetryPolicy, DatabaseSettings, AuthSettings):
        settings()  # raises if a default broke its own bound
