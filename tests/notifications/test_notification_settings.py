"""NotificationSettings reads QMAS_* variables and has safe defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from notifications.settings import NotificationSettings

VARS = (
    "QMAS_SMTP_URL",
    "QMAS_MAIL_DIR",
    "QMAS_MAIL_FROM",
    "QMAS_SUPERVISORS_EMAIL",
    "QMAS_SMTP_TIMEOUT",
    "QMAS_OFFICE_NAME_EN",
    "QMAS_OFFICE_NAME_ZH",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)


def test_settings__defaults_work_with_nothing_configured() -> None:
    s = NotificationSettings()
    assert s.smtp_url is None
    assert s.mail_dir == Path("./mail")
    assert s.mail_from == "QMAS Case Engine <qmas-noreply@immd.example>"
    assert s.supervisors_email == "qmas-supervisors@immd.example"
    assert s.smtp_timeout == 10.0
    assert "Immigration Department" in s.office_name_en
    assert "入境事務處" in s.office_name_zh


def test_settings__read_from_qmas_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QMAS_SMTP_URL", "smtp://mail.example:2525")
    monkeypatch.setenv("QMAS_MAIL_DIR", "/tmp/qmas-mail")
    monkeypatch.setenv("QMAS_SMTP_TIMEOUT", "2.5")
    s = NotificationSettings()
    assert s.smtp_url == "smtp://mail.example:2525"
    assert s.mail_dir == Path("/tmp/qmas-mail")
    assert s.smtp_timeout == 2.5


def test_settings__empty_smtp_url_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QMAS_SMTP_URL", "")
    assert NotificationSettings().smtp_url is None


@pytest.mark.parametrize("url", ["http://mail.example", "mail.example:25"])
def test_settings__smtp_url_needs_an_smtp_scheme(url: str) -> None:
    with pytest.raises(ValidationError):
        NotificationSettings(smtp_url=url)


def test_settings__office_name_follows_the_language() -> None:
    s = NotificationSettings()
    assert s.office_name("zh-HK") == s.office_name_zh
    assert s.office_name("en") == s.office_name_en
