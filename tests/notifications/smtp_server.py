"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it accepts, for tests.

    with SmtpRecorder() as smtp:
        channel = SmtpChannel(smtp.url)
        ...
        smtp.set_mode("550", recipient="nobody@example.com")   # refuse one mailbox
        smtp.set_mode("421")                                    # busy: try again later
        smtp.refuse_connections()                               # port closed
        smtp.accept_connections()                               # back on the same port

Modes: "ok"; "421" (answer 421 at RCPT, or at DATA with stage="data"); "550" (answer 550 at
RCPT for `recipient`, or for everyone when None; at DATA with stage="data").
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Literal, Self, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

Mode = Literal["ok", "421", "550"]
Stage = Literal["rcpt", "data"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    session: int  # a number per connection: equal numbers mean one reused connection

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, message_from_bytes(self.data, policy=policy.default))


@dataclass
class _Behaviour:
    mode: Mode = "ok"
    stage: Stage = "rcpt"
    recipient: str | None = None
    messages: list[Received] = field(default_factory=list)
    sessions: dict[int, int] = field(default_factory=dict)
    # Holding the session objects keeps their id() from being reused by a later connection.
    alive: list[object] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def session_number(self, session: object) -> int:
        with self.lock:
            if id(session) not in self.sessions:
                self.alive.append(session)
                self.sessions[id(session)] = len(self.sessions) + 1
            return self.sessions[id(session)]


class _Handler:
    """aiosmtpd hooks; each answers according to the recorder's current mode."""

    def __init__(self, behaviour: _Behaviour) -> None:
        self.b = behaviour

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        b = self.b
        if b.stage == "rcpt" and b.mode == "421":
            return "421 4.3.2 Service not available, try again later"
        if b.stage == "rcpt" and b.mode == "550" and b.recipient in (None, address):
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        b = self.b
        if b.stage == "data" and b.mode == "421":
            return "421 4.3.2 Service not available, try again later"
        if b.stage == "data" and b.mode == "550":
            return "550 5.7.1 Message content rejected"
        data = envelope.original_content or envelope.content
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(data),
            session=b.session_number(session),
        )
        with b.lock:
            b.messages.append(received)
        return "250 Message accepted for delivery"


class SmtpRecorder:
    """An aiosmtpd `Controller` on 127.0.0.1 with a switchable failure mode.

    `credentials=("user", "secret")` offers AUTH PLAIN/LOGIN without TLS (test only) and
    accepts exactly that pair.
    """

    def __init__(self, *, credentials: tuple[str, str] | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        self.credentials = credentials
        self._b = _Behaviour()
        self._controller: Controller | None = None

    # --- lifecycle ---

    def _make_controller(self) -> Controller:
        kwargs: dict[str, Any] = {}
        if self.credentials is not None:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        return Controller(
            _Handler(self._b), hostname=self.host, port=self.port, ready_timeout=5, **kwargs
        )

    def start(self) -> Self:
        if self._controller is None:
            self._controller = self._make_controller()
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def refuse_connections(self) -> None:
        """Stop listening: the next connection attempt is refused."""
        self.stop()

    def accept_connections(self) -> None:
        """Listen again on the same port."""
        self.start()

    # --- behaviour ---

    def set_mode(self, mode: Mode, *, recipient: str | None = None, stage: Stage = "rcpt") -> None:
        self._b.mode, self._b.recipient, self._b.stage = mode, recipient, stage

    @property
    def url(self) -> str:
        if self.credentials is None:
            return f"smtp://{self.host}:{self.port}"
        user, password = self.credentials
        return f"smtp://{user}:{password}@{self.host}:{self.port}"

    @property
    def messages(self) -> list[Received]:
        with self._b.lock:
            return list(self._b.messages)

    @property
    def connections(self) -> int:
        """How many connections sent at least one MAIL FROM that got to DATA."""
        return len({m.session for m in self.messages})

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.credentials is None:
            return AuthResult(success=False, handled=False)
        user, password = self.credentials
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)
