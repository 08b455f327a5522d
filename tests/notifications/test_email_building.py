"""Building the MIME email from a rendered message, and its wire form."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import cast

import pytest

from notifications.message import build_email, message_id_of, safe_message_id, to_wire
from notifications.render import Rendered, render_message
from states.errors import InvalidInput
from tests.notifications.factories import context

SENDER = "QMAS Case Engine <qmas-noreply@immd.example>"


def rendered(language: str = "en", kind: str = "documents_requested") -> Rendered:
    return render_message(kind, language, context(language))


def email(language: str = "en", /, **kwargs: object) -> EmailMessage:
    params: dict[str, object] = {
        "message_id": "evt-17.rcpt-chan.documents_requested",
        "sender": SENDER,
        "to": "CHAN Tai Man <chan@example.com>",
    }
    params.update(kwargs)
    return build_email(rendered(language), **params)  # type: ignore[arg-type]


def reparse(msg: EmailMessage) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(to_wire(msg), policy=policy.default))


def test_email__is_multipart_alternative_with_text_then_html() -> None:
    msg = email()
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert "Police certificate" in parts[0].get_content()
    assert "<ul>" in parts[1].get_content()


def test_email__carries_the_stable_message_id_and_headers() -> None:
    when = datetime(2023, 3, 1, 2, 0, tzinfo=UTC)
    msg = email(date=when, reply_to="caseworker@immd.example", headers={"X-QMAS-Case": "42"})
    assert msg["Message-ID"] == "<evt-17.rcpt-chan.documents_requested@qmas.invalid>"
    assert msg["Content-Language"] == "en"
    assert msg["Date"] == "Wed, 01 Mar 2023 02:00:00 +0000"
    assert msg["Reply-To"] == "caseworker@immd.example"
    assert msg["X-QMAS-Case"] == "42"
    assert msg["X-QMAS-Kind"] == "documents_requested"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert message_id_of(msg) == "evt-17.rcpt-chan.documents_requested"


def test_email__has_a_date_by_default() -> None:
    assert email()["Date"]


def test_same_message_id__gives_the_same_header() -> None:
    assert email()["Message-ID"] == email()["Message-ID"]


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("evt-17/rcpt 3#tpl", "evt-17-rcpt-3-tpl"),
        ("..a..b..", "a.b"),
        ("<x@y>", "-x-y-"),
        ("outbox:12:chan@example.com:refused", "outbox-12-chan-example.com-refused"),
    ],
)
def test_message_id__is_sanitised(raw: str, safe: str) -> None:
    assert safe_message_id(raw) == safe


def test_message_id__with_nothing_usable_is_invalid() -> None:
    with pytest.raises(InvalidInput):
        safe_message_id(" / ")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"to": "a@example.com\r\nBcc: everyone@example.com"},
        {"sender": "x@example.com\nBcc: y@example.com"},
        {"headers": {"X-Note": "one\r\nBcc: z@example.com"}},
        {"headers": {"Content-Type": "text/plain"}},
    ],
)
def test_header_injection__is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        email(**kwargs)


def test_to_wire__uses_crlf_only() -> None:
    data = to_wire(email("zh-HK"))
    assert b"\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_to_wire__is_seven_bit_so_no_8bitmime_is_needed() -> None:
    data = to_wire(email("zh-HK"))
    assert all(byte < 128 for byte in data)


@pytest.mark.parametrize("language", ["en", "zh-HK"])
def test_wire_form__round_trips_subject_and_both_parts(language: str) -> None:
    r = rendered(language)
    back = reparse(email(language))
    assert back["Subject"] == r.subject
    assert back["Content-Language"] == language
    text = back.get_body(("plain",))
    html = back.get_body(("html",))
    assert text is not None and html is not None
    # Parsed from the wire, 7bit/quoted-printable bodies keep their CRLF line ends.
    assert text.get_content().replace("\r\n", "\n") == r.text
    assert html.get_content().replace("\r\n", "\n") == r.html
