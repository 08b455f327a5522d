"""Channels deliver a built email: to an SMTP server, or to a folder of `.eml` files.

    QmasError
     └── DeliveryError          could not deliver; `.code` is the SMTP reply code if any
          ├── TemporaryFailure  retry later (4xx, refused or dropped connection, timeout)
          └── PermanentFailure  do not retry (5xx: unknown mailbox, rejected content, ...)

A channel is a context manager around a batch: one connection serves every `send` in the
`with` block and is closed at its end. After a failure the channel stays usable; the next
`send` reconnects.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
import tempfile
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import parseaddr
from hashlib import sha256
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable
from urllib.parse import parse_qs, unquote, urlsplit

from notifications.message import message_id_of, safe_message_id, to_wire
from notifications.settings import NotificationSettings
from states.errors import ConfigurationError, InvalidInput, QmasError


class DeliveryError(QmasError):
    """A message was not delivered. `.code` is the SMTP reply code when there was one."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        self.code = code
        one_line = " ".join(message.split())
        super().__init__(f"{code} {one_line}" if code is not None else one_line)


class TemporaryFailure(DeliveryError):
    """Worth retrying later: the server is busy, down, or unreachable."""


class PermanentFailure(DeliveryError):
    """Retrying will not help: the server rejected the sender, a recipient or the content."""


@runtime_checkable
class Channel(Protocol):
    """Delivers emails; `with channel:` brackets a batch sharing one connection."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def send(self, msg: EmailMessage, *, sender: str, recipients: list[str]) -> None: ...

    def send_wire(
        self, data: bytes, *, message_id: str | None, sender: str, recipients: list[str]
    ) -> None: ...


def _check_envelope(sender: str, recipients: list[str]) -> None:
    problems = [
        f"address {addr!r} contains a line break"
        for addr in (sender, *recipients)
        if "\r" in addr or "\n" in addr
    ]
    if not recipients:
        problems.append("no recipients")
    if problems:
        raise InvalidInput(problems, prefix="cannot send email")


# --- SMTP --------------------------------------------------------------------------------------


def _reply_text(resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return " ".join(text.split())


def _failure(code: int | None, message: str) -> DeliveryError:
    """4xx (and no code at all) is temporary; 5xx is permanent."""
    if code is not None and 500 <= code < 600:
        return PermanentFailure(message, code=code)
    return TemporaryFailure(message, code=code)


def _refused(refused: dict[str, tuple[int, bytes]]) -> DeliveryError:
    """Classify recipients the server refused: temporary only if every refusal is 4xx."""
    detail = "; ".join(
        f"{addr}: {code} {_reply_text(resp)}" for addr, (code, resp) in refused.items()
    )
    codes = [code for code, _ in refused.values()]
    if all(400 <= code < 500 for code in codes):
        return TemporaryFailure(f"recipient refused: {detail}", code=codes[0])
    permanent = next(code for code in codes if not 400 <= code < 500)
    return PermanentFailure(f"recipient refused: {detail}", code=permanent)


class SmtpChannel:
    """Send through one SMTP connection per batch, opened on the first `send`.

    `url` is `smtp://[user:pass@]host[:port][?starttls=1]` (port 25 by default) or
    `smtps://...` (TLS from the first byte, port 465 by default). Messages go as CRLF bytes
    through `sendmail()`, about three times faster than `send_message()`.
    """

    def __init__(self, url: str, timeout: float = 10, *, local_hostname: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(
                "QMAS_SMTP_URL must look like smtp://[user:pass@]host[:port][?starttls=1] "
                "or smtps://..."
            )
        try:
            port = parts.port
        except ValueError as err:
            raise ConfigurationError(f"QMAS_SMTP_URL has a bad port: {err}") from err
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        self.host: str = parts.hostname
        self.implicit_tls = parts.scheme == "smtps"
        self.port: int = port or (465 if self.implicit_tls else 25)
        self.starttls = query.get("starttls", "0") in ("1", "true", "yes", "on")
        self.username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else ""
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:  # never show the password
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}:***@" if self.username else ""
        return f"SmtpChannel('{scheme}://{user}{self.host}:{self.port}')"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._smtp is not None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, self.local_hostname, timeout=self.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, self.local_hostname, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, msg: EmailMessage, *, sender: str, recipients: list[str]) -> None:
        """Deliver `msg`; raise `TemporaryFailure` or `PermanentFailure` if it was not."""
        self.send_wire(to_wire(msg), message_id=message_id_of(msg), sender=sender,
                       recipients=recipients)  # fmt: skip

    def send_wire(
        self, data: bytes, *, message_id: str | None, sender: str, recipients: list[str]
    ) -> None:
        """Deliver a message already in wire form (CRLF bytes), as `send` does."""
        _check_envelope(sender, recipients)
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused = self._smtp.sendmail(sender, recipients, data)
        except smtplib.SMTPRecipientsRefused as err:
            self._drop()
            raise _refused(err.recipients) from err
        except smtplib.SMTPResponseException as err:
            # SMTPSenderRefused, SMTPDataError, SMTPAuthenticationError, SMTPHeloError, 421 ...
            self._drop()
            what = "login refused" if isinstance(err, smtplib.SMTPAuthenticationError) else ""
            raise _failure(err.smtp_code, f"{what} {_reply_text(err.smtp_error)}".strip()) from err
        except smtplib.SMTPServerDisconnected as err:
            self._drop()
            raise TemporaryFailure(f"SMTP server disconnected: {err}") from err
        except smtplib.SMTPNotSupportedError as err:
            self._drop()
            raise PermanentFailure(f"SMTP server does not support {err}") from err
        except TimeoutError as err:
            self._drop()
            raise TemporaryFailure(f"SMTP server {self.host}:{self.port} timed out") from err
        except OSError as err:  # refused, unreachable, reset, TLS errors, other SMTPException
            self._drop()
            raise TemporaryFailure(f"SMTP server {self.host}:{self.port}: {err}") from err
        if refused:
            # Accepted for some recipients, refused for others: report, but do not reconnect.
            raise _refused(refused)

    def _drop(self) -> None:
        """Forget the connection after a failure; the next send opens a fresh one."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(Exception):
                smtp.close()

    def close(self) -> None:
        """Say QUIT and close; harmless when not connected."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            with contextlib.suppress(Exception):
                smtp.close()


# --- Mail folder -------------------------------------------------------------------------------


class MailDirChannel:
    """Write each message to `<path>/<message id>.eml` instead of sending it.

    The write is atomic (a temporary file, then `os.replace`) and idempotent: a message whose
    id was already written is not written again. The envelope is recorded in `X-Envelope-From`
    and `X-Envelope-To` headers prepended to the file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"MailDirChannel({str(self.path)!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def file_for(self, msg: EmailMessage) -> Path:
        """Where `msg` is (or would be) written."""
        data = to_wire(msg)
        found = message_id_of(msg)
        # No Message-ID: name the file by its content, which is still idempotent.
        name = safe_message_id(found) if found else "sha256-" + sha256(data).hexdigest()
        return self.path / f"{name}.eml"

    def send(self, msg: EmailMessage, *, sender: str, recipients: list[str]) -> None:
        self.send_wire(to_wire(msg), message_id=message_id_of(msg), sender=sender,
                       recipients=recipients)  # fmt: skip

    def send_wire(
        self, data: bytes, *, message_id: str | None, sender: str, recipients: list[str]
    ) -> None:
        _check_envelope(sender, recipients)
        name = safe_message_id(message_id) if message_id else "sha256-" + sha256(data).hexdigest()
        target = self.path / f"{name}.eml"
        if target.exists():
            return
        envelope = _envelope_headers(sender, recipients)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".", suffix=".tmp")
            try:
                # No fsync: this folder is for development and tests, where speed matters more.
                with os.fdopen(fd, "wb") as fh:
                    fh.write(envelope + data)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as err:
            raise TemporaryFailure(f"cannot write {target}: {err}") from err


def envelope_address(value: str) -> str:
    """The bare address of an envelope sender or recipient: ``a@b`` of ``Name <a@b>``."""
    return parseaddr(value)[1] or value.strip()


def _envelope_headers(sender: str, recipients: Iterable[str]) -> bytes:
    # As in SMTP's MAIL FROM: the bare address in angle brackets, never a display name.
    lines = [
        f"X-Envelope-From: <{envelope_address(sender)}>",
        f"X-Envelope-To: {', '.join(envelope_address(r) for r in recipients)}",
    ]
    return "".join(f"{line}\r\n" for line in lines).encode("utf-8")


def channel_from_settings(settings: NotificationSettings) -> Channel:
    """SMTP when `QMAS_SMTP_URL` is set, otherwise the mail folder `QMAS_MAIL_DIR`."""
    if settings.smtp_url:
        return SmtpChannel(settings.smtp_url, timeout=settings.smtp_timeout)
    return MailDirChannel(settings.mail_dir)
