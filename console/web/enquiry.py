"""The public status enquiry (no login): a file number and the date of birth of its holder
give the stage of the application in plain words, what happens next and the documents still
awaited, in the browser's language (or the one chosen with the switch).

It shows nothing personal: no name, no email, no travel document. A file number that does not
exist and a wrong date of birth get the same page, byte for byte, and take about the same time
(`workflows.views.enquiry_status`). More than `TRIES_PER_MINUTE` posts a minute from one client
address are answered 429: each guess costs the guesser a post.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from console.web.i18n import t
from console.web.render import render
from console.web.security import in_db, store_of
from console.web.session import check_csrf, language
from states.catalogue import State
from states.catalogue import label as state_label
from workflows.documents import label as document_label
from workflows.formats import hkd, long_date
from workflows.views import enquiry_status

router = APIRouter(include_in_schema=False)

TRIES_PER_MINUTE = 10
WINDOW = 60.0  # seconds
_PAYING = {State.quota_allotted, State.mainland_consent}


class EnquiryGate:
    """Posts a minute per client address, counted in this process (a restart forgets them,
    which gives a guesser a minute at most)."""

    def __init__(self, limit: int = TRIES_PER_MINUTE) -> None:
        self.limit = limit
        self._tries: dict[str, deque[float]] = {}

    def attempt(self, client: str) -> int | None:
        """Count a post from ``client``; the seconds to wait when it is one too many."""
        now = time.monotonic()
        times = self._tries.setdefault(client, deque())
        while times and now - times[0] >= WINDOW:
            times.popleft()
        times.append(now)
        if len(self._tries) > 10_000:  # forget the quietest addresses first
            for key in [k for k, v in self._tries.items() if len(v) <= 1][:5_000]:
                del self._tries[key]
        if len(times) > self.limit:
            return max(1, int(WINDOW - (now - times[-self.limit - 1])) + 1)
        return None


def _gate(request: Request) -> EnquiryGate:
    gate: EnquiryGate | None = getattr(request.app.state, "enquiry_gate", None)
    if gate is None:  # one per app, made on first use
        gate = EnquiryGate()
        request.app.state.enquiry_gate = gate
    return gate


def _shown(status: dict[str, Any], lang: str) -> dict[str, Any]:
    """The status as the page says it, in ``lang``."""
    state = status["state"]
    fee = None
    if State(state) in _PAYING and status["deadline"]:
        when = long_date(status["deadline"], lang)
        fee = (
            t("enquiry.fee", lang, amount=hkd(status["fee_due"]), date=when)
            if status["fee_due"] is not None
            else t("enquiry.pay_by", lang, date=when)
        )
    return {
        "file_number": status["file_number"],
        "state": state,
        "label": state_label(state, lang),
        "stage": t(f"enquiry.stage.{state}", lang),
        "next": t(f"enquiry.next.{state}", lang),
        "since": long_date(status["since"], lang),
        "fee": fee,
        "documents": [
            {"label": document_label(d["item"], lang), "due": long_date(d["due"], lang)}
            for d in status["documents"]
        ],
    }


@router.get("/enquiry")
async def enquiry_form(request: Request) -> Response:
    return render(request, "enquiry.html", public=True, result=None)


@router.post("/enquiry")
async def enquiry_submit(
    request: Request,
    file_number: Annotated[str, Form(max_length=60)] = "",
    date_of_birth: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    client = request.client.host if request.client else "unknown"
    wait = _gate(request).attempt(client)  # every post counts, whatever it holds
    if wait is not None:
        response = render(
            request, "enquiry.html", status=429, public=True, result=None,
            error_key="error.too_many",
        )  # fmt: skip
        response.headers["Retry-After"] = str(wait)
        return response
    check_csrf(request, csrf_token)
    store = store_of(request)
    status = await in_db(request, lambda: enquiry_status(file_number, date_of_birth, store=store))
    if status is None:  # no such file, or another date of birth: the same page
        return render(
            request, "enquiry.html", public=True, result=None, error_key="enquiry.not_found"
        )
    lang = language(request, public=True)
    return render(request, "enquiry.html", public=True, result=_shown(status, lang))
