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

from pydantic_settings import BaseSettings, SettingsConfigDict

from notifications import ledger
from notifications.channels import Channel, PermanentFailure, TemporaryFailure
from notifications.message import build_email
from notifications.render import render_message
from notifications.settings import NotificationSettings
from states.errors import QmasError
from states.store import Store


class RetryPolicy(BaseSettings):
    """How hard to try (``QMAS_RETRY_*``)."""

    model_config = SettingsConfigDict(env_prefix="QMAS_RETRY_", extra="ignore")

    max_attempts: int = 6
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0
    lease_seconds: float = 300.0  # a claimed message untouched this long belongs to a dead worker

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
    """Send one claimed batch; True when the server went away and the rest was handed back."""
    for i, msg in enumerate(batch):
        try:
            rendered = render_message(msg.kind, msg.language, msg.context)
            email = build_email(
                rendered, message_id=msg.message_id, sender=settings.mail_from, to=msg.recipient
            )
        except QmasError as err:  # a template or context fault will not mend itself
            ledger.finish_attempt(
                store, msg.message_id, None, now(), status="dead", error=f"could not render: {err}"
            )
            report.dead += 1
            continue
        attempt = ledger.start_attempt(store, msg.message_id, now())
        tries = msg.attempts + 1
        try:
            channel.send(email, sender=settings.mail_from, recipients=[msg.recipient])
        except PermanentFailure as err:
            ledger.finish_attempt(
                store, msg.message_id, attempt, now(), status="dead", error=str(err)
            )
            report.dead += 1
            continue
        except TemporaryFailure as err:
            if tries >= policy.max_attempts:
                ledger.finish_attempt(
                    store,
                    msg.message_id,
                    attempt,
                    now(),
                    status="dead",
                    error=f"gave up after {tries} attempts: {err}",
                )
                report.dead += 1
            else:
                retry_at = now() + policy.delay(tries)
                ledger.finish_attempt(
                    store,
                    msg.message_id,
                    attempt,
                    now(),
                    status="failed",
                    error=str(err),
                    retry_at=retry_at,
                )
                report.retrying += 1
            if _server_down(err):
                rest = [m.message_id for m in batch[i + 1 :]]
                ledger.release(store, rest)
                report.released += len(rest)
                report.errors.append(str(err))
                return True
            continue
        if after_send is not None:
            after_send(msg.message_id)
        ledger.finish_attempt(
            store, msg.message_id, attempt, now(), status="sent", subject=rendered.subject
        )
        report.sent += 1
    return False
