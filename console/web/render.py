"""Rendering the console's pages: one Jinja2 environment over ``templates/console``, autoescaped.

Every page gets ``t`` (the console's words in the page's language), ``lang``, ``csrf_token``
(for its forms), ``account`` (or None) and the catalogues' labels (``state_label``,
``document_label``, ``reason_label``). Text from the database is escaped by Jinja; nothing is
marked safe but the server-drawn SVG diagram, which escapes its own labels.
"""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from console.web.i18n import t
from console.web.session import LANGUAGES, csrf_token, language, remember_csrf
from states.catalogue import label as state_label
from workflows.documents import label as document_label

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("templates", "console"),
    autoescape=jinja2.select_autoescape(["html"], default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _hk_day(stamp: str) -> str:
    """A stored UTC time as the Hong Kong day it fell on (what `as_of` dates mean)."""
    from datetime import datetime

    from workflows.clock import HK

    try:
        return (
            datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(HK).date().isoformat()
        )
    except ValueError:
        return stamp[:10]


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    public: bool = False,
    account: Any = None,
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` for ``request`` (``public``: language from the browser)."""
    lang = language(request, public=public)
    other = LANGUAGES[1] if lang == LANGUAGES[0] else LANGUAGES[0]
    values = {
        "request": request,
        "lang": lang,
        "other_lang": other,
        "t": lambda key, **kw: t(key, lang, **kw),
        "csrf_token": csrf_token(request),
        "account": account,
        "path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "state_label": lambda s: state_label(s, lang),
        "document_label": lambda d: document_label(d, lang),
        "hk_day": _hk_day,
        "error": None,
        "error_key": None,
        "reasons": [],
        "notice": None,
        **context,
    }
    html = _env.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status)
    remember_csrf(request, response)
    return response


def render_error(
    request: Request,
    status: int,
    detail: str,
    reasons: list[str] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """An error as a page: one sentence and its reasons, never a traceback."""
    public = request.url.path.startswith(("/enquiry", "/login", "/lang"))
    account = getattr(request.state, "page_account", None)  # set when the page knew it
    shown = [r for r in reasons or [] if r.strip() and r not in detail]  # not said twice
    response = render(
        request, "error.html", status=status, public=public, account=account, error=detail,
        reasons=shown,
    )  # fmt: skip
    for name, value in (headers or {}).items():
        if name.lower() != "www-authenticate":
            response.headers[name] = value
    return response
