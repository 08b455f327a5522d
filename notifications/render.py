"""Render an email template (subject, plain text, HTML) from a plain context dict.

Templates live in the `templates` package as `email/<lang>/<kind>.{subject,txt,html}.j2`. The
HTML part is autoescaped; subject and text are not (they are not HTML, and escaping would show
`&amp;` to the reader). A variable missing from the context is an error, never a blank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import jinja2
from jinja2 import pass_context
from jinja2.runtime import Context

from states.errors import ConfigurationError, InvalidInput
from workflows.formats import hkd, long_date

KINDS: tuple[str, ...] = (
    "submitted",
    "file_number_issued",
    "documents_requested",
    "documents_received",
    "shortlisted",
    "quota_allotted",
    "mainland_consent_recorded",
    "fee_paid",
    "evisa_issued",
    "refused",
    "withdrawn",
    "lapsed",
    "reminder_documents_first",
    "reminder_documents_due",
    "reminder_documents_final",
    "reminder_fee_first",
    "reminder_fee_due",
    "reminder_fee_final",
    "escalation",
)
LANGUAGES: tuple[str, ...] = ("en", "zh-HK")
# Context keys added after messages were first stored in the ledger: a message planned before
# they existed is rendered as if they were None, instead of being dead-lettered.
LATER_KEYS: dict[str, Any] = {"lapses_on": None, "status_url": None}
PARTS: tuple[str, ...] = ("subject", "txt", "html")


@dataclass(frozen=True)
class Rendered:
    """One message in one language, ready to be wrapped in an email."""

    kind: str
    language: str
    subject: str
    text: str
    html: str


def template_name(kind: str, language: str, part: str) -> str:
    """The loader name of one part, e.g. `email/zh-HK/refused.html.j2`."""
    return f"email/{language}/{kind}.{part}.j2"


@pass_context
def _longdate(ctx: Context, value: str | date | datetime) -> str:
    return long_date(value, str(ctx.get("language", "en")))


def required(value: Any, what: str) -> Any:
    """Template helper: a value this message cannot go without (e.g. the e-Visa number)."""
    if value is None or value == "":
        raise InvalidInput(f"{what} is required for this message", prefix="cannot render message")
    return value


@cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment for messages (built on first use, then shared)."""
    try:
        loader = jinja2.PackageLoader("templates", ".")
    except (ImportError, ValueError) as err:  # `templates` not importable, or not a folder
        raise ConfigurationError(f"email templates not found: {err}") from err
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates ship with the code; checking mtimes on every render buys nothing.
        auto_reload=False,
    )
    env.filters["hkd"] = hkd
    env.filters["longdate"] = _longdate
    env.globals["required"] = required
    return env


_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy_text(text: str) -> str:
    """Drop trailing spaces and runs of blank lines left by optional template sections."""
    lines = "\n".join(line.rstrip() for line in text.splitlines())
    return _BLANK_RUNS.sub("\n\n", lines).strip() + "\n"


def render_message(kind: str, language: str, context: dict[str, Any]) -> Rendered:
    """Render the three parts of `kind` in `language`.

    Raises `InvalidInput` for an unknown kind or language, and for a context that lacks a
    variable a template uses (the message names it).
    """
    problems = []
    if kind not in KINDS:
        problems.append(f"unknown message kind {kind!r}")
    if language not in LANGUAGES:
        problems.append(f"unknown language {language!r} (expected one of {', '.join(LANGUAGES)})")
    if problems:
        raise InvalidInput(problems, prefix="cannot render message")

    env = environment()
    variables = {**LATER_KEYS, **context, "language": language, "kind": kind}
    parts: dict[str, str] = {}
    for part in PARTS:
        name = template_name(kind, language, part)
        try:
            parts[part] = env.get_template(name).render(variables)
        except jinja2.UndefinedError as err:
            raise InvalidInput(f"{name}: {err}", prefix="cannot render message") from err
        except jinja2.TemplateNotFound as err:
            raise ConfigurationError(f"email template missing: {name}") from err
    return Rendered(
        kind=kind,
        language=language,
        subject=" ".join(parts["subject"].split()),
        text=_tidy_text(parts["txt"]),
        html=parts["html"].strip() + "\n",
    )
