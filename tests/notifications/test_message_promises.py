"""What emails say and how they are addressed (issue #8 §3).

- no email promises what the engine does not do: no upload through an online service, no link
  in another notice, no download page, in any kind, either language, to either recipient;
  with `QMAS_PUBLIC_URL` set, the footer links to the status enquiry page instead;
- a final notice never quotes the due date that has passed: it names the day the case lapses;
- escalations agree in number ("1 case has … needs", "3 cases have … need");
- the envelope sender is the bare address: `X-Envelope-From: <qmas-noreply@immd.example>`.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from itertools import product
from pathlib import Path
from typing import Any

import pytest

from notifications.channels import MailDirChannel, SmtpChannel
from notifications.delivery import RetryPolicy, deliver_due
from notifications.ledger import PlannedMessage, plan
from notifications.render import KINDS, LANGUAGES, Rendered, render_message
from notifications.settings import NotificationSettings
from states.store import Store
from tests.notifications.factories import context, representative
from tests.notifications.smtp_server import SmtpRecorder
from workflows.clock import now_utc
from workflows.formats import long_date

# Phrases of promises the engine cannot keep (it has no upload service, sends no other notice
# with a link, offers no download): English and Traditional Chinese.
FORBIDDEN = {
    "en": re.compile(
        r"upload|online service|link|download|GovHK|Mobile App|result notification", re.I
    ),
    "zh-HK": re.compile(r"上載|網上服務|連結|下載|一站通|應用程式|結果通知書"),
}
STATUS_URL = "https://qmas.example.gov.hk/enquiry"
MATRIX = list(product(KINDS, LANGUAGES, ["applicant", "representative"]))


def rendered(kind: str, language: str, who: str, **overrides: Any) -> Rendered:
    build = representative if who == "representative" else context
    return render_message(kind, language, build(language, **overrides))


@pytest.mark.parametrize(("kind", "language", "who"), MATRIX, ids=["-".join(m) for m in MATRIX])
def test_no_email_promises_an_upload_a_link_or_a_download(
    kind: str, language: str, who: str
) -> None:
    for status_url in (None, STATUS_URL):
        r = rendered(kind, language, who, status_url=status_url)
        for part in (r.subject, r.text, r.html):
            found = FORBIDDEN[language].findall(part)
            assert not found, (status_url, found)
        if status_url is None:
            assert "http" not in r.text and "href" not in r.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_with_a_public_url__case_messages_link_to_the_status_page(language: str) -> None:
    for kind in [k for k in KINDS if k != "escalation"]:
        r = rendered(kind, language, "applicant", status_url=STATUS_URL)
        assert STATUS_URL in r.text, kind
        assert f'<a href="{STATUS_URL}">' in r.html, kind


def test_public_url__is_read_from_the_environment_and_names_the_status_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert NotificationSettings().status_url is None
    monkeypatch.setenv("QMAS_PUBLIC_URL", "https://qmas.example.gov.hk/")
    assert NotificationSettings().status_url == STATUS_URL
    monkeypatch.setenv("QMAS_PUBLIC_URL", "qmas.example.gov.hk")
    with pytest.raises(ValueError, match="http"):
        NotificationSettings()


@pytest.mark.parametrize(
    ("kind", "language"),
    list(product(["reminder_documents_final", "reminder_fee_final"], LANGUAGES)),
)
def test_final_notice__names_the_lapse_day_never_the_passed_due_date(
    kind: str, language: str
) -> None:
    for who in ("applicant", "representative"):
        r = rendered(kind, language, who, due="2023-03-29", lapses_on="2023-04-19")
        for part in (r.subject, r.text, r.html):
            assert long_date("2023-03-29", language) not in part
            assert long_date("2023-04-19", language) in part
        # A message planned before the lapse day was known: still no passed date.
        old = rendered(kind, language, who, due="2023-03-29", lapses_on=None)
        assert long_date("2023-03-29", language) not in old.subject + old.text + old.html


def test_a_context_planned_before_the_new_keys_still_renders() -> None:
    ctx = context("en")
    del ctx["lapses_on"], ctx["status_url"]
    r = render_message("reminder_documents_final", "en", ctx)
    assert "FINAL REMINDER" in r.text


@pytest.mark.parametrize(
    ("n", "subject", "agreement"),
    [
        (1, "QMAS: 1 case overdue for action", "1 case has stayed"),
        (3, "QMAS: 3 cases overdue for action", "3 cases have stayed"),
    ],
)
def test_escalation__agrees_in_number(n: int, subject: str, agreement: str) -> None:
    stale = [dict(context()["stale_cases"][0], id=i) for i in range(n)]
    r = render_message("escalation", "en", context(stale_cases=stale))
    assert r.subject == subject
    verb = "needs attention" if n == 1 else "need attention"
    review = "review it" if n == 1 else "review them"
    for part in (r.text, " ".join(r.html.split())):
        flat = " ".join(part.split())
        assert agreement in flat and verb in flat and review in flat
        other = "1 cases" if n == 1 else "3 case has"
        assert other not in flat


@pytest.mark.parametrize("n", [1, 3])
def test_escalation__in_chinese_counts_with_the_measure_word(n: int) -> None:
    stale = [dict(context()["stale_cases"][0], id=i) for i in range(n)]
    r = render_message("escalation", "zh-HK", context("zh-HK", stale_cases=stale))
    assert f"{n}宗個案" in r.subject and f"{n}宗個案" in r.text


# --- the envelope ---------------------------------------------------------------------------


def planned_message(store: Store) -> str:
    with store.write() as tx:
        plan(
            tx,
            [
                PlannedMessage(
                    "e1.submitted.applicant-1", "submitted", "en", "chan@example.com", context()
                )
            ],
            now_utc(),
        )
    return "e1.submitted.applicant-1"


def test_envelope__the_mail_folder_records_the_bare_sender_address(
    store: Store, tmp_path: Path
) -> None:
    settings = NotificationSettings(mail_dir=tmp_path)  # QMAS_MAIL_FROM: name and address
    assert settings.mail_from == "QMAS Case Engine <qmas-noreply@immd.example>"
    mid = planned_message(store)
    report = deliver_due(
        store, MailDirChannel(tmp_path), now=now_utc, settings=settings, policy=RetryPolicy()
    )
    assert report.sent == 1
    raw = (tmp_path / f"{mid}.eml").read_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")
    assert head[0] == "X-Envelope-From: <qmas-noreply@immd.example>"
    assert head[1] == "X-Envelope-To: chan@example.com"
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["From"] == "QMAS Case Engine <qmas-noreply@immd.example>"


def test_envelope__a_display_name_given_to_the_channel_is_dropped(tmp_path: Path) -> None:
    channel = MailDirChannel(tmp_path)
    channel.send_wire(
        b"Subject: x\r\n\r\nbody\r\n",
        message_id="m1",
        sender="QMAS Case Engine <qmas-noreply@immd.example>",
        recipients=["Chan Tai Man <chan@example.com>"],
    )
    lines = (tmp_path / "m1.eml").read_bytes().decode("ascii").split("\r\n")
    assert lines[:2] == [
        "X-Envelope-From: <qmas-noreply@immd.example>",
        "X-Envelope-To: chan@example.com",
    ]


def test_envelope__smtp_mail_from_is_the_bare_address(store: Store) -> None:
    with SmtpRecorder() as smtp:
        planned_message(store)
        settings = NotificationSettings(smtp_url=smtp.url)
        channel = SmtpChannel(smtp.url, timeout=5)
        deliver_due(store, channel, now=now_utc, settings=settings, policy=RetryPolicy())
        (got,) = smtp.messages
    assert got.mail_from == "qmas-noreply@immd.example"
    assert got.message["From"] == "QMAS Case Engine <qmas-noreply@immd.example>"
