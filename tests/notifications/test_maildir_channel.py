"""MailDirChannel: one .eml file per message id, written atomically and idempotently."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest

from notifications.channels import (
    Channel,
    MailDirChannel,
    SmtpChannel,
    TemporaryFailure,
    channel_from_settings,
)
from notifications.message import build_email
from notifications.render import render_message
from notifications.settings import NotificationSettings
from tests.notifications.factories import context

SENDER = "qmas-noreply@immd.example"


def message(message_id: str, language: str = "en") -> EmailMessage:
    r = render_message("submitted", language, context(language))
    return build_email(r, message_id=message_id, sender=SENDER, to="chan@example.com")


def test_maildir__writes_one_parseable_eml_per_message(tmp_path: Path) -> None:
    folder = tmp_path / "mail" / "out"  # created on first send
    with MailDirChannel(folder) as channel:
        channel.send(message("evt-1.chan"), sender=SENDER, recipients=["chan@example.com"])
        channel.send(message("evt-2.chan", "zh-HK"), sender=SENDER, recipients=["chan@example.com"])
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["evt-1.chan.eml", "evt-2.chan.eml"]
    parsed = cast(
        EmailMessage,
        message_from_bytes((folder / "evt-2.chan.eml").read_bytes(), policy=policy.default),
    )
    assert parsed["Message-ID"] == "<evt-2.chan@qmas.invalid>"
    assert parsed["X-Envelope-To"] == "chan@example.com"
    assert parsed["Content-Language"] == "zh-HK"
    assert parsed.get_body(("html",)) is not None


def test_maildir__same_message_id_twice_leaves_one_file(tmp_path: Path) -> None:
    channel = MailDirChannel(tmp_path)
    first = message("evt-1.chan")
    channel.send(first, sender=SENDER, recipients=["chan@example.com"])
    before = (tmp_path / "evt-1.chan.eml").read_bytes()
    channel.send(message("evt-1.chan"), sender=SENDER, recipients=["chan@example.com"])
    assert [p.name for p in tmp_path.iterdir()] == ["evt-1.chan.eml"]
    assert (tmp_path / "evt-1.chan.eml").read_bytes() == before


def test_maildir__file_name_is_the_sanitised_id(tmp_path: Path) -> None:
    channel = MailDirChannel(tmp_path)
    msg = message("outbox/12 chan@example.com")
    channel.send(msg, sender=SENDER, recipients=["chan@example.com"])
    assert channel.file_for(msg).exists()
    assert [p.name for p in tmp_path.iterdir()] == ["outbox-12-chan-example.com.eml"]


def test_maildir__leaves_no_temporary_files(tmp_path: Path) -> None:
    channel = MailDirChannel(tmp_path)
    for n in range(3):
        channel.send(message(f"evt-{n}"), sender=SENDER, recipients=["chan@example.com"])
    assert all(p.suffix == ".eml" for p in tmp_path.iterdir())


def test_maildir__unwritable_folder_is_a_temporary_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(TemporaryFailure):
        MailDirChannel(blocker).send(message("evt-1"), sender=SENDER, recipients=["a@b.example"])


def test_maildir__is_a_channel(tmp_path: Path) -> None:
    assert isinstance(MailDirChannel(tmp_path), Channel)


def test_channel_from_settings__mail_folder_by_default(tmp_path: Path) -> None:
    channel = channel_from_settings(NotificationSettings(smtp_url=None, mail_dir=tmp_path))
    assert isinstance(channel, MailDirChannel) and channel.path == tmp_path


def test_channel_from_settings__smtp_when_url_is_set() -> None:
    settings = NotificationSettings(smtp_url="smtp://mail.example:2525", smtp_timeout=3)
    channel = channel_from_settings(settings)
    assert isinstance(channel, SmtpChannel)
    assert (channel.host, channel.port, channel.timeout) == ("mail.example", 2525, 3)
