"""SmtpChannel against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from notifications.channels import (
    Channel,
    DeliveryError,
    PermanentFailure,
    SmtpChannel,
    TemporaryFailure,
)
from notifications.message import build_email
from notifications.render import render_message
from states.errors import ConfigurationError, InvalidInput, QmasError
from tests.notifications.factories import context
from tests.notifications.smtp_server import SmtpRecorder, free_port

SENDER = "qmas-noreply@immd.example"
TO = "chan@example.com"


def message(n: int = 1, language: str = "en") -> EmailMessage:
    r = render_message("quota_allotted", language, context(language))
    return build_email(r, message_id=f"evt-{n}.chan.quota_allotted", sender=SENDER, to=TO)


def send(channel: SmtpChannel, n: int = 1, recipients: list[str] | None = None) -> None:
    channel.send(message(n), sender=SENDER, recipients=recipients or [TO])


def test_smtp__delivers_the_message_with_its_id_and_both_parts(
    smtp_recorder: SmtpRecorder,
) -> None:
    with SmtpChannel(smtp_recorder.url, timeout=5) as channel:
        send(channel)
    [got] = smtp_recorder.messages
    assert got.mail_from == SENDER and got.rcpt_tos == [TO]
    msg = got.message
    assert msg["Message-ID"] == "<evt-1.chan.quota_allotted@qmas.invalid>"
    assert msg.get_body(("plain",)) is not None
    html = msg.get_body(("html",))
    assert html is not None and "HK$230" in html.get_content()


def test_smtp__delivers_chinese_intact(smtp_recorder: SmtpRecorder) -> None:
    r = render_message("quota_allotted", "zh-HK", context("zh-HK"))
    msg = build_email(r, message_id="evt-1.zh", sender=SENDER, to=TO)
    with SmtpChannel(smtp_recorder.url) as channel:
        channel.send(msg, sender=SENDER, recipients=[TO])
    got = smtp_recorder.messages[0].message
    assert got["Subject"] == r.subject
    body = got.get_body(("plain",))
    assert body is not None and body.get_content() == r.text


def test_smtp__one_connection_serves_a_batch(smtp_recorder: SmtpRecorder) -> None:
    with SmtpChannel(smtp_recorder.url) as channel:
        for n in range(5):
            send(channel, n)
        assert channel.connected
    assert not channel.connected
    assert len(smtp_recorder.messages) == 5
    assert smtp_recorder.connections == 1


def test_smtp__is_a_channel() -> None:
    assert isinstance(SmtpChannel("smtp://127.0.0.1:2525"), Channel)


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_smtp__421_is_a_temporary_failure(smtp_recorder: SmtpRecorder, stage: str) -> None:
    smtp_recorder.set_mode("421", stage=stage)  # type: ignore[arg-type]
    with SmtpChannel(smtp_recorder.url) as channel, pytest.raises(TemporaryFailure) as err:
        send(channel)
    assert err.value.code == 421
    assert "\n" not in str(err.value)
    assert smtp_recorder.messages == []


def test_smtp__550_for_the_recipient_is_a_permanent_failure(
    smtp_recorder: SmtpRecorder,
) -> None:
    smtp_recorder.set_mode("550", recipient=TO)
    with SmtpChannel(smtp_recorder.url) as channel, pytest.raises(PermanentFailure) as err:
        send(channel)
    assert err.value.code == 550
    assert TO in str(err.value)


def test_smtp__550_for_the_content_is_a_permanent_failure(smtp_recorder: SmtpRecorder) -> None:
    smtp_recorder.set_mode("550", stage="data")
    with SmtpChannel(smtp_recorder.url) as channel, pytest.raises(PermanentFailure) as err:
        send(channel)
    assert err.value.code == 550


def test_smtp__one_refused_recipient_of_two_is_permanent_and_the_other_gets_it(
    smtp_recorder: SmtpRecorder,
) -> None:
    smtp_recorder.set_mode("550", recipient="gone@example.com")
    with SmtpChannel(smtp_recorder.url) as channel, pytest.raises(PermanentFailure):
        send(channel, recipients=[TO, "gone@example.com"])
    [got] = smtp_recorder.messages
    assert got.rcpt_tos == [TO]


def test_smtp__connection_refused_is_a_temporary_failure() -> None:
    channel = SmtpChannel(f"smtp://127.0.0.1:{free_port()}", timeout=2)
    with channel, pytest.raises(TemporaryFailure) as err:
        send(channel)
    assert err.value.code is None
    assert not channel.connected


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections (kernel backlog) but never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield int(sock.getsockname()[1])


def test_smtp__a_server_that_never_answers_times_out_as_temporary(silent_server: int) -> None:
    channel = SmtpChannel(f"smtp://127.0.0.1:{silent_server}", timeout=0.3)
    with channel, pytest.raises(TemporaryFailure, match="timed out"):
        send(channel)


def test_smtp__recovers_after_a_temporary_failure(smtp_recorder: SmtpRecorder) -> None:
    with SmtpChannel(smtp_recorder.url) as channel:
        smtp_recorder.set_mode("421")
        with pytest.raises(TemporaryFailure):
            send(channel, 1)
        smtp_recorder.set_mode("ok")
        send(channel, 2)
    assert [m.message["Message-ID"] for m in smtp_recorder.messages] == [
        "<evt-2.chan.quota_allotted@qmas.invalid>"
    ]


def test_smtp__recovers_after_a_permanent_failure(smtp_recorder: SmtpRecorder) -> None:
    smtp_recorder.set_mode("550", recipient="gone@example.com")
    with SmtpChannel(smtp_recorder.url) as channel:
        with pytest.raises(PermanentFailure):
            send(channel, 1, recipients=["gone@example.com"])
        send(channel, 2)
    assert len(smtp_recorder.messages) == 1


def test_smtp__reconnects_when_the_server_comes_back(smtp_recorder: SmtpRecorder) -> None:
    with SmtpChannel(smtp_recorder.url, timeout=2) as channel:
        send(channel, 1)
        smtp_recorder.refuse_connections()
        with pytest.raises(TemporaryFailure):
            send(channel, 2)  # the old connection is dead and a new one is refused
        smtp_recorder.accept_connections()
        send(channel, 3)
    ids = [m.message["Message-ID"] for m in smtp_recorder.messages]
    assert ids == [
        "<evt-1.chan.quota_allotted@qmas.invalid>",
        "<evt-3.chan.quota_allotted@qmas.invalid>",
    ]


def test_smtp__logs_in_when_the_url_has_credentials() -> None:
    with SmtpRecorder(credentials=("qmas", "s3cret")) as server:
        with SmtpChannel(server.url) as channel:
            send(channel)
        assert len(server.messages) == 1


def test_smtp__a_wrong_password_is_a_permanent_failure() -> None:
    with SmtpRecorder(credentials=("qmas", "s3cret")) as server:
        url = server.url.replace("s3cret", "wrong")
        with SmtpChannel(url) as channel, pytest.raises(PermanentFailure) as err:
            send(channel)
        assert err.value.code == 535
        assert server.messages == []


def test_delivery_errors__are_qmas_errors() -> None:
    assert issubclass(TemporaryFailure, DeliveryError)
    assert issubclass(PermanentFailure, DeliveryError)
    assert issubclass(DeliveryError, QmasError)


@pytest.mark.parametrize(
    "url", ["http://mail.example", "smtp://", "smtp://host:notaport", "mail.example:25"]
)
def test_smtp_url__malformed_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        SmtpChannel(url)


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "starttls", "user"),
    [
        ("smtp://mail.example", "mail.example", 25, False, False, None),
        ("smtp://mail.example:587?starttls=1", "mail.example", 587, False, True, None),
        ("smtps://u%40x:p%3Aw@mail.example", "mail.example", 465, True, False, "u@x"),
    ],
)
def test_smtp_url__is_parsed(
    url: str, host: str, port: int, tls: bool, starttls: bool, user: str | None
) -> None:
    ch = SmtpChannel(url)
    assert (ch.host, ch.port, ch.implicit_tls, ch.starttls, ch.username) == (
        host,
        port,
        tls,
        starttls,
        user,
    )


def test_smtp__repr_hides_the_password() -> None:
    assert "hunter2" not in repr(SmtpChannel("smtp://me:hunter2@mail.example"))


def test_smtp__refuses_an_empty_recipient_list(smtp_recorder: SmtpRecorder) -> None:
    with SmtpChannel(smtp_recorder.url) as channel, pytest.raises(InvalidInput):
        channel.send(message(), sender=SENDER, recipients=[])
