"""Fixtures for the flow tests: Prefect's test harness (once per session), the engine pointed at
a test SQLite file and a real SMTP server on 127.0.0.1, and heartbeats off for speed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from states.store import Store
from tests.notifications.smtp_server import SmtpRecorder
from workflows.engine import default_settings, default_store

SUPERVISORS = "qmas-supervisors@immd.example"


@pytest.fixture
def prefect_flows(prefect_harness: None) -> Iterator[None]:
    """Real flow runs, without the heartbeat thread (about 1 s saved per run; DESIGN.md)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@pytest.fixture
def smtp() -> Iterator[SmtpRecorder]:
    """A real SMTP server on 127.0.0.1, in "ok" mode, stopped after the test."""
    with SmtpRecorder() as recorder:
        yield recorder


@pytest.fixture
def engine_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: SmtpRecorder
) -> Iterator[Store]:
    """Point `default_store()` and the settings the flows read at a test SQLite file and the
    test SMTP server; the cached store is dropped before and after."""
    monkeypatch.setenv("QMAS_DATABASE_URL", f"sqlite:///{tmp_path}/engine.db")
    monkeypatch.setenv("QMAS_SMTP_URL", smtp.url)
    monkeypatch.setenv("QMAS_SMTP_TIMEOUT", "5")
    monkeypatch.setenv("QMAS_MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("QMAS_SUPERVISORS_EMAIL", SUPERVISORS)
    monkeypatch.setenv("QMAS_PREFECT_NUDGE", "off")
    default_store.cache_clear()
    default_settings.cache_clear()
    store = default_store()
    store.init()
    yield store
    store.dispose()
    default_store.cache_clear()
    default_settings.cache_clear()
