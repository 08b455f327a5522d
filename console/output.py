"""Printing for the CLI: JSON for scripts, rich tables for people."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from states.catalogue import label
from workflows.formats import hkd, long_date

# emoji=False: a name like ":smile:" is printed as typed, not turned into a picture.
out = Console(
    highlight=False, emoji=False, soft_wrap=False, width=None if sys.stdout.isatty() else 150
)
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)

# C0 (but newline and tab), DEL, C1, and the bidi embeddings, overrides and isolates: never
# written raw to a terminal (an ESC in a stored name could recolour or rewrite the screen).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def literal(value: Any) -> str:
    """``value`` as text with control characters shown escaped (``\\x1b``), never raw."""
    return _CONTROL.sub(_shown, "" if value is None else str(value))


def esc(value: Any) -> str:
    """User data to put inside a line that carries our own markup: printed as typed."""
    return escape(literal(value))


def cell(value: Any) -> Text:
    """A table cell printed literally (no markup, no emoji); None is empty."""
    return Text(literal(value))


def say(text: str, console: Console | None = None) -> None:
    """Print a line with no markup of ours, literally (it may hold user data)."""
    (console or out).print(literal(text), markup=False, highlight=False)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    """A table whose title, headers and cells are all printed literally (never as markup)."""
    t = Table(
        title=None if title is None else cell(title),
        title_justify="left",
        show_lines=False,
        header_style="bold",
    )
    for c in columns:
        t.add_column(cell(c), overflow="fold")  # a long word folds, never cut off
    for r in rows:
        t.add_row(*[cell(v) for v in r])
    return t


def _born(value: str) -> str:
    """A date of birth, or its year when masked ('qmas case show --reveal' shows it)."""
    return f"in {value[:4]}" if "*" in value else long_date(value)


def show_case(v: dict[str, Any]) -> None:
    a = v["applicant"]
    out.print(f"[bold]Case {v['id']}[/]  {esc(v['file_number'] or '(no file number yet)')}")
    say(
        f"State      {v['state_label']} ({v['state']}), version {v['version']}, "
        f"since {v['state_since']}"
    )
    say(
        f"Applicant  {a['name']}, born {_born(a['date_of_birth'])}, {a['nationality']}"
        f"{', Mainland resident' if a['mainland_resident'] else ''}"
    )
    if v.get("anonymised_at"):
        say(
            f"Anonymised {v['anonymised_at'][:10]} (retention): names, dates of birth, contact "
            "details and travel documents removed; the statistics and the history are kept"
        )
    else:
        say(
            f"Contact    {a['email']} ({a['language']}); "
            f"travel document {a['travel_document_number']}"
        )
    if a["representative"]:
        rep = a["representative"]
        say(f"Represented by {rep['name']} <{rep['email']}>")
    for d in v["dependants"]:
        say(
            f"Dependant  {d['name']} ({d['relation']}, born {_born(d['date_of_birth'])})"
            f"{'  ' + d['file_number'] if d['file_number'] else ''}"
            f"{'  e-Visa ' + d['evisa_number'] if d['evisa_number'] else ''}"
        )
    if v["ruleset"]:
        verdict = "passed" if v["passed"] else "not passed"
        say(
            f"Lodged on  {long_date(v['lodged_on'])} under {v['ruleset']} ({v['test']} test): "
            f"{v['score']} points, pass mark {v['pass_mark']}, {verdict}"
        )
        if v["categories"]:
            cats = ", ".join(f"{k} {p}" for k, p in v["categories"].items())
            say(f"Breakdown  {cats}")
    if v["application_fee"] is not None:
        fee = v["application_fee"]
        say(f"App. fee   {hkd(fee['due'])}, paid {hkd(fee['paid'])} by {fee['method']} on lodging")
    if v["fee_due"] is not None:
        paid = f", paid {hkd(v['fee_paid'])} by {v['payment_method']}" if v["fee_paid"] else ""
        say(f"Fee due    {hkd(v['fee_due'])}{paid}")
    if v["consent_letter"]:
        say(f"Consent    {v['consent_letter']}")
    if v["evisa_number"]:
        say(f"e-Visa     {v['evisa_number']}")
    if v["deadline"]:
        say(f"Deadline   {long_date(v['deadline'])}")
    if v["outcome_reason"]:
        say(f"Reason     {v['outcome_reason']}")
    if v["documents"]:
        out.print(
            table(
                "Documents",
                ["round", "document", "due", "status", "note"],
                [
                    [d["round"], d["label"], d["due"], d["status"], d["waiver_reason"]]
                    for d in v["documents"]
                ],
            )
        )
    if v["messages"]:
        out.print(
            table(
                "Messages",
                ["message", "to", "status", "sent"],
                [[m["kind"], m["recipient"], m["status"], m["sent_at"]] for m in v["messages"]],
            )
        )


def show_history(rows: list[dict[str, Any]]) -> None:
    out.print(
        table(
            None,
            ["#", "at (UTC)", "trigger", "from → to", "actor (role)", "reason", "note", "hash"],
            [
                [
                    r["seq"],
                    r["at"][:19].replace("T", " "),
                    r["trigger"],
                    f"{r['from_state']} → {r['to_state']}",
                    f"{r['actor']} ({r['role']})",
                    r["reason"],
                    r.get("note"),
                    r["hash"][:12],
                ]
                for r in rows
            ],
        )
    )


def show_preview(p: dict[str, Any]) -> None:
    """A preview for a person: the verdict first, then what would happen."""
    move = f"{p['trigger']}: {p['from_state']} → {p['to_state']}"
    if not p["allowed"]:
        out.print(f"[red]✗[/] {esc(move)} would be refused (nothing was written):")
        for r in p["reasons"]:
            say(f"    {r}")
        return
    out.print(
        f"[green]✓[/] {esc(move)} would be allowed; version {p['version_after']} "
        "(preview only: nothing was written)."
    )
    for m in p["messages"]:
        say(f"    email to {m['to']} ({m['language']}, {m['template']}): {m['subject']}")
    for d in p["documents"]:
        due = f" (due {long_date(d['due'])})" if d["due"] else ""
        say(f"    document {d['name']}: {d['status']}{due}")
    for d in p["deadlines"]:
        say(f"    deadline for {d['what']}: {long_date(d['due'])}")
    if p["fee_due"] is not None:
        say(f"    fee due: {hkd(p['fee_due'])}")


def state_label(state: str) -> str:
    return label(state)
