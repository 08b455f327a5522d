"""Send what the ledger says is due, over one channel, with retries and dead letters.

Temporary failures (4xx replies, refused connection, time-out) are retried with exponential
backoff and jitter; permanent ones (5xx) are dead-lettered at once, as is a message still
failing after the last attempt. When the server itself is unavailable (no connection, 421) the
rest of the batch is handed back untouched instead of failing message after message.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from notifications import ledger
from notifications.channels import Channel, PermanentFailure, TemporaryFailure
from notifications.message import build_wire
from notifications.render import render_message
from notifications.settings import NotificationSettings
from states.errors import QmasError
from states.store import Store


class RetryPolicy(BaseSettings):
    """How hard to try (``QMAS_RETRY_*``)."""

    model_config = SettingsConfigDict(env_prefix="QMAS_RETRY_", extra="ignore")

    max_attempts: int = Field(default=6, ge=1, le=1000)
    base_seconds: float = Field(default=30.0, gt=0, le=86_400, allow_inf_nan=False)
    cap_seconds: float = Field(default=3600.0, gt=0, le=30 * 86_400, allow_inf_nan=False)
    # a claimed message untouched this long belongs to a dead worker
    lease_seconds: float = Field(default=300.0, gt=0, le=7 * 86_400, allow_inf_nan=False)

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> timedelta:
        """Equal jitter: half the exponential step, plus a random share of the other half."""
        step = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        return timedelta(seconds=step / 2 + rng() * step / 2)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    in_doubt: int = 0
    released: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.dead += other.dead
        self.in_doubt += other.in_doubt
        self.released += other.released
        self.errors.extend(other.errors[:20])

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "retrying": self.retrying,
            "dead": self.dead,
            "in_doubt": self.in_doubt,
            "released": self.released,
        }


# A hook for tests that simulate a worker dying between the send and the record.
AfterSend = Callable[[str], None]


def _server_down(err: TemporaryFailure) -> bool:
    return err.code is None or err.code == 421


def deliver_due(
    store: Store,
    channel: Channel,
    *,
    now: Callable[[], datetime],
    settings: NotificationSettings | None = None,
    policy: RetryPolicy | None = None,
    batch_size: int = 500,
    max_messages: int | None = None,
    after_send: AfterSend | None = None,
) -> DeliveryReport:
    """Deliver every message due now (up to ``max_messages``); returns what happened."""
    settings = settings or NotificationSettings()
    policy = policy or RetryPolicy()
    report = DeliveryReport()
    report.in_doubt = ledger.recover_stale(store, now(), timedelta(seconds=policy.lease_seconds))
    handled = 0
    with channel:
        while max_messages is None or handled < max_messages:
            size = batch_size if max_messages is None else min(batch_size, max_messages - handled)
            batch = ledger.claim(store, now(), size)
            if not batch:
                break
            handled += len(batch)
            if _send_batch(store, channel, batch, now, settings, policy, report, after_send):
                break  # the server is unavailable: try again on the next run
    return report


def _build(msg: ledger.Claimed, settings: NotificationSettings) -> tuple[bytes, str] | str:
    """The wire bytes and subject of one message, or why it cannot be built."""
    try:
        rendered = render_message(msg.kind, msg.language, msg.context)
        data = build_wire(rendered, message_id=msg.message_id, sender=settings.mail_from,
                          to=msg.recipient)  # fmt: skip
    except (QmasError, ValueError) as err:  # a template, context or address fault (such as a
        # non-ASCII address stored before addresses were checked) will not mend itself: this
        # message is dead-lettered, the others in the batch still go
        return f"could not render: {err}"
    return data, rendered.subject


def _send_batch(
    store: Store,
    channel: Channel,
    batch: list[ledger.Claimed],
    now: Callable[[], datetime],
    settings: NotificationSettings,
    policy: RetryPolicy,
    report: DeliveryReport,
    after_send: AfterSend | None,
) -> bool:
    """Send one claimed batch; True when the server went away and the rest was handed back.

    Each message costs one ledger transaction: its outcome is recorded together with the
    start of the next attempt (`ledger.settle`).
    """
    ready: list[tuple[ledger.Claimed, bytes, str]] = []
    for msg in batch:
        built = _build(msg, settings)
        if isinstance(built, str):
            ledger.settle(
                store, now(), finished=ledger.Outcome(msg.message_id, None, "dead", built)
            )
            report.dead += 1
        else:
            ready.append((msg, *built))
    if not ready:
        return False
    attempt = ledger.settle(store, now(), start=ready[0][0].message_id)
    for i, (msg, data, subject) in enumerate(ready):
        outcome, server_down = _send_one(channel, msg, data, subject, attempt, now, settings,
                                         policy, report, after_send)  # fmt: skip
        following = ready[i + 1][0].message_id if i + 1 < len(ready) and not server_down else None
        attempt = ledger.settle(store, now(), finished=outcome, start=following)
        if server_down:
            rest = [m.message_id for m, _, _ in ready[i + 1 :]]
            ledger.release(store, rest)
            report.released += len(rest)
            return True
    return False


def _send_one(
    channel: Channel,
    msg: ledger.Claimed,
    data: bytes,
    subject: str,
    attempt: int | None,
    now: Callable[[], datetime],
    settings: NotificationSettings,
    policy: RetryPolicy,
    report: DeliveryReport,
    after_send: AfterSend | None,
) -> tuple[ledger.Outcome, bool]:
    """Send one message; its outcome, and whether the server itself is unavailable."""
    tries = msg.attempts + 1
    try:
        channel.send_wire(data, message_id=msg.message_id, sender=settings.mail_from_address,
                          recipients=[msg.recipient])  # fmt: skip
    except PermanentFailure as err:
        report.dead += 1
        return ledger.Outcome(msg.message_id, attempt, "dead", str(err)), False
    except TemporaryFailure as err:
        if tries >= policy.max_attempts:
            report.dead += 1
            error = f"gave up after {tries} attempts: {err}"
            outcome = ledger.Outcome(msg.message_id, attempt, "dead", error)
        else:
            report.retrying += 1
            retry_at = now() + policy.delay(tries)
            outcome = ledger.Outcome(msg.message_id, attempt, "failed", str(err), retry_at)
        down = _server_down(err)
        if down:
            report.errors.append(str(err))
        return outcome, down
    if after_send is not None:
        after_send(msg.message_id)
    report.sent += 1
    return ledger.Outcome(msg.message_id, attempt, "sent", subject=subject), False
