"""Printing for the CLI: JSON for scripts, rich tables for people."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from states.catalogue import label
from workflows.formats import hkd, long_date

out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left", show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    return t


def show_case(v: dict[str, Any]) -> None:
    a = v["applicant"]
    out.print(f"[bold]Case {v['id']}[/]  {v['file_number'] or '(no file number yet)'}")
    out.print(
        f"State      {v['state_label']} ({v['state']}), version {v['version']}, "
        f"since {v['state_since']}"
    )
    out.print(
        f"Applicant  {a['name']}, born {long_date(a['date_of_birth'])}, {a['nationality']}"
        f"{', Mainland resident' if a['mainland_resident'] else ''}"
    )
    out.print(
        f"Contact    {a['email']} ({a['language']}); travel document {a['travel_document_number']}"
    )
    if a["representative"]:
        rep = a["representative"]
        out.print(f"Represented by {rep['name']} <{rep['email']}>")
    for d in v["dependants"]:
        out.print(
            f"Dependant  {d['name']} ({d['relation']}, born {long_date(d['date_of_birth'])})"
            f"{'  ' + d['file_number'] if d['file_number'] else ''}"
        )
    if v["ruleset"]:
        verdict = "passed" if v["passed"] else "not passed"
        out.print(
            f"Lodged on  {long_date(v['lodged_on'])} under {v['ruleset']} ({v['test']} test): "
            f"{v['score']} points, pass mark {v['pass_mark']}, {verdict}"
        )
        if v["categories"]:
            cats = ", ".join(f"{k} {p}" for k, p in v["categories"].items())
            out.print(f"Breakdown  {cats}")
    if v["fee_due"] is not None:
        paid = f", paid {hkd(v['fee_paid'])} by {v['payment_method']}" if v["fee_paid"] else ""
        out.print(f"Fee due    {hkd(v['fee_due'])}{paid}")
    if v["consent_letter"]:
        out.print(f"Consent    {v['consent_letter']}")
    if v["evisa_number"]:
        out.print(f"e-Visa     {v['evisa_number']}")
    if v["deadline"]:
        out.print(f"Deadline   {long_date(v['deadline'])}")
    if v["outcome_reason"]:
        out.print(f"Reason     {v['outcome_reason']}")
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
        out.print(f"[red]✗[/] {move} would be refused (nothing was written):", highlight=False)
        for r in p["reasons"]:
            out.print(f"    {r}", markup=False, highlight=False)
        return
    out.print(
        f"[green]✓[/] {move} would be allowed; version {p['version_after']} "
        "(preview only: nothing was written).",
        highlight=False,
    )
    for m in p["messages"]:
        out.print(
            f"    email to {m['to']} ({m['language']}, {m['template']}): {m['subject']}",
            markup=False,
            highlight=False,
        )
    for d in p["documents"]:
        due = f" (due {long_date(d['due'])})" if d["due"] else ""
        out.print(f"    document {d['name']}: {d['status']}{due}", markup=False)
    for d in p["deadlines"]:
        out.print(f"    deadline for {d['what']}: {long_date(d['due'])}", markup=False)
    if p["fee_due"] is not None:
        out.print(f"    fee due: {hkd(p['fee_due'])}", markup=False)


def state_label(state: str) -> str:
    return label(state)
