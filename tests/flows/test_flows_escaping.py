"""What applicants type reaches the HTML part escaped and the plain-text part as typed."""

from __future__ import annotations

from datetime import datetime

import time_machine

from states.store import Store
from tests.factories import application, overseas_application
from tests.flows.flowkit import FILE_NUMBER, SUBMIT, deliver, dispatch_plain, mails, new_case
from tests.notifications.smtp_server import SmtpRecorder
from workflows.clock import HK

START = datetime(2023, 6, 1, 10, 0, tzinfo=HK)
SCRIPT = "<script>alert(1)</script>"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_escaping__script_in_a_name_is_inert_in_html_and_verbatim_in_text(
    store: Store, smtp: SmtpRecorder
) -> None:
    with time_machine.travel(START, tick=False):
        new_case(store, overseas_application(name=SCRIPT), SUBMIT, FILE_NUMBER)
        dispatch_plain(store)
        report = deliver(store, smtp.url)
    assert report.sent == 3  # submitted, file number issued, documents requested
    for m in mails(smtp.messages):
        assert SCRIPT_ESCAPED in m.html, m.kind
        assert "<script" not in m.html.lower()
        assert f"Dear {SCRIPT}," in m.text
        assert "&lt;" not in m.text


def test_escaping__representative_sees_the_client_name_escaped_in_html_only(
    store: Store, smtp: SmtpRecorder
) -> None:
    # The representative's own name, "Wong & Co.", is an ampersand to escape as well.
    with time_machine.travel(START, tick=False):
        new_case(store, application(name=SCRIPT, language="en"), SUBMIT)
        dispatch_plain(store)
        deliver(store, smtp.url)
    (rep,) = [m for m in mails(smtp.messages) if m.to == "cases@wongco.example"]
    assert SCRIPT_ESCAPED in rep.html and "<script" not in rep.html.lower()
    assert "Wong &amp; Co." in rep.html
    assert SCRIPT in rep.text and "Wong & Co." in rep.text
