"""Fixtures for the notifications tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notifications.smtp_server import SmtpRecorder


@pytest.fixture
def smtp_recorder() -> Iterator[SmtpRecorder]:
    """A real SMTP server on 127.0.0.1, in "ok" mode, stopped after the test."""
    with SmtpRecorder() as recorder:
        yield recorder
