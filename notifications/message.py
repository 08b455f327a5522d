"""Wrap a rendered message in a MIME email; serialise it for the wire.

Generating the email (here) and sending it (`channels`) are separate, so a message can be
built, stored and inspected without a server.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from notifications.render import Rendered
from states.errors import InvalidInput

MESSAGE_ID_DOMAIN = "qmas.invalid"

# Headers that define the MIME structure; a caller may not override them.
_RESERVED = frozenset({"content-type", "content-transfer-encoding", "mime-version"})
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._+=-]+")


def safe_message_id(message_id: str) -> str:
    """The caller's stable id, reduced to characters safe in a Message-ID and a file name.

    Runs of other characters become "-"; dots may not lead, trail or repeat (RFC 5322
    dot-atom). The same input always gives the same output.
    """
    cleaned = _UNSAFE_ID_CHARS.sub("-", message_id.strip())
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip(".")
    if not cleaned.strip("-"):
        raise InvalidInput(f"message id {message_id!r} has no usable characters")
    return cleaned


def _has_line_break(value: str) -> bool:
    return "\r" in value or "\n" in value


def _transfer_encoding(body: str) -> str:
    """7bit when it can be; quoted-printable for mostly-ASCII text; base64 for Chinese.

    Never 8bit: `sendmail()` does not declare BODY=8BITMIME, so 8-bit bodies are not safe.
    """
    if body.isascii():
        fits = all(len(line) <= 78 for line in body.splitlines())
        return "7bit" if fits else "quoted-printable"
    non_ascii = sum(1 for ch in body if not ch.isascii())
    return "quoted-printable" if non_ascii * 10 < len(body) else "base64"


def build_email(
    rendered: Rendered,
    *,
    message_id: str,
    sender: str,
    to: str,
    reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative email (plain text first, then HTML), UTF-8.

    `message_id` is the stable id the caller derives from (event, recipient, template); it
    becomes `Message-ID: <{id}@qmas.invalid>` so a resend of the same message carries the same
    id. `date` defaults to now (UTC). `headers` adds extra headers (for example
    `X-QMAS-Case`); they may not contain line breaks nor replace the MIME structure headers.
    """
    problems = [
        f"{name} contains a line break"
        for name, value in (("sender", sender), ("to", to), ("reply_to", reply_to or ""))
        if _has_line_break(value)
    ]
    for name, value in (headers or {}).items():
        if _has_line_break(name) or _has_line_break(value) or ":" in name:
            problems.append(f"header {name!r} is malformed")
        elif name.lower() in _RESERVED:
            problems.append(f"header {name!r} may not be set by the caller")
    if _has_line_break(rendered.subject):
        problems.append("subject contains a line break")
    if problems:
        raise InvalidInput(problems, prefix="cannot build email")

    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = to
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = f"<{safe_message_id(message_id)}@{MESSAGE_ID_DOMAIN}>"
    # RFC 3834: tells auto-responders (out-of-office) not to answer.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-QMAS-Kind"] = rendered.kind
    for name, value in (headers or {}).items():
        if name in msg:
            msg.replace_header(name, value)
        else:
            msg[name] = value

    msg.set_content(
        rendered.text, subtype="plain", charset="utf-8", cte=_transfer_encoding(rendered.text)
    )
    msg.add_alternative(
        rendered.html, subtype="html", charset="utf-8", cte=_transfer_encoding(rendered.html)
    )
    # After the bodies: set_content() clears every Content-* header already present.
    msg["Content-Language"] = rendered.language
    return msg


def message_id_of(msg: EmailMessage) -> str | None:
    """The id part of `Message-ID: <id@domain>`, or None when the header is absent."""
    raw = msg.get("Message-ID")
    if raw is None:
        return None
    return str(raw).strip().strip("<>").rsplit("@", 1)[0] or None


def to_wire(msg: EmailMessage) -> bytes:
    """The bytes an SMTP server expects: CRLF line endings (sent as-is by `sendmail`)."""
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
