"""`build_wire` (the fast path used for delivery) says exactly what `build_email` says."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import cast

import pytest

from notifications.message import build_email, build_wire, to_wire
from notifications.render import KINDS, LANGUAGES, render_message
from tests.notifications.factories import context

WHEN = datetime(2023, 6, 1, 2, 0, tzinfo=UTC)
HEADERS = ("Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted", "X-QMAS-Kind",
           "Content-Language", "MIME-Version")  # fmt: skip


def _parse(data: bytes) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(data, policy=policy.default))


def _parts(msg: EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in msg.iter_parts()}  # type: ignore[attr-defined]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_build_wire__parses_to_the_same_headers_and_parts_as_build_email(
    kind: str, language: str
) -> None:
    ctx = context(language, case={"evisa_number": "EV2023-000042-7"})
    rendered = render_message(kind, language, ctx)
    args = {"message_id": "e7.submitted.applicant-abc", "sender": "QMAS <q@immd.example>",
            "to": "chan@example.com", "date": WHEN}  # fmt: skip
    fast = build_wire(rendered, **args)  # type: ignore[arg-type]
    slow = _parse(to_wire(build_email(rendered, **args)))  # type: ignore[arg-type]
    wire = _parse(fast)
    for name in HEADERS:
        # Folding whitespace is not content (the stdlib folds long ASCII subjects oddly).
        assert str(wire[name]).strip() == str(slow[name]).strip(), name
    assert wire.get_content_type() == "multipart/alternative"
    assert _parts(wire) == _parts(slow)
    assert all(len(line) <= 998 for line in fast.split(b"\r\n"))
    assert b"\n" not in fast.replace(b"\r\n", b"")


def test_build_wire__encodes_a_non_ascii_sender_name() -> None:
    rendered = render_message("submitted", "zh-HK", context("zh-HK"))
    data = build_wire(rendered, message_id="x1", sender="入境事務處 <q@immd.example>",
                      to="chan@example.com", date=WHEN)  # fmt: skip
    assert _parse(data)["From"].addresses[0].display_name == "入境事務處"
    assert data.isascii()
