"""Settings for sending notifications, read from `QMAS_*` environment variables.

The defaults work on a fresh machine: with no `QMAS_SMTP_URL`, messages are written as `.eml`
files to `./mail` instead of being sent.
"""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from states.labels import Bilingual


class NotificationSettings(BaseSettings):
    """Where messages go and whom they are from."""

    model_config = SettingsConfigDict(env_prefix="QMAS_", extra="ignore")

    smtp_url: str | None = Field(
        default=None,
        description=(
            "QMAS_SMTP_URL: smtp://[user:pass@]host[:port][?starttls=1] or smtps://...; "
            "unset or empty means write messages to `mail_dir` instead."
        ),
    )
    mail_dir: Path = Field(
        default=Path("./mail"),
        description="QMAS_MAIL_DIR: folder for `.eml` files when no SMTP server is configured.",
    )
    mail_from: str = Field(
        default="QMAS Case Engine <qmas-noreply@immd.example>",
        description="QMAS_MAIL_FROM: the From header and the envelope sender of every message.",
    )
    supervisors_email: str = Field(
        default="qmas-supervisors@immd.example",
        description="QMAS_SUPERVISORS_EMAIL: where escalations (stale cases) are sent.",
    )
    smtp_timeout: float = Field(
        default=10.0,
        gt=0,
        description="QMAS_SMTP_TIMEOUT: seconds to wait for the SMTP server on each operation.",
    )
    office_name_en: str = Field(
        default="Immigration Department, Hong Kong Special Administrative Region",
        description="QMAS_OFFICE_NAME_EN: the sender's name as signed in English messages.",
    )
    office_name_zh: str = Field(
        default="香港特別行政區政府入境事務處",
        description="QMAS_OFFICE_NAME_ZH: the sender's name as signed in Chinese messages.",
    )
    public_url: str | None = Field(
        default=None,
        description=(
            "QMAS_PUBLIC_URL: the public site of the service (https://...). Unset: messages "
            "link to no page. Set: they link to the status enquiry page, {QMAS_PUBLIC_URL}/enquiry."
        ),
    )

    @field_validator("smtp_url", mode="before")
    @classmethod
    def _blank_means_unset(cls, value: object) -> object:
        # `QMAS_SMTP_URL=` (set but empty) is how a shell unsets a value for one command.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("smtp://", "smtps://")):
            raise ValueError("must start with smtp:// or smtps://")
        return value

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().rstrip("/") or None
        if isinstance(value, str) and (
            not value.startswith(("https://", "http://")) or any(c.isspace() for c in value)
        ):
            raise ValueError("must be an http:// or https:// address without spaces")
        return value

    @property
    def mail_from_address(self) -> str:
        """The bare address of `mail_from` (the envelope sender): ``a@b`` of ``Name <a@b>``."""
        return parseaddr(self.mail_from)[1] or self.mail_from.strip()

    @property
    def status_url(self) -> str | None:
        """The status enquiry page messages may link to; None while no public site is set."""
        return f"{self.public_url}/enquiry" if self.public_url else None

    def office_name(self, language: str) -> str:
        """The office name in the recipient's language ("en" or "zh-HK")."""
        return Bilingual(en=self.office_name_en, zh_hk=self.office_name_zh).text(language)
