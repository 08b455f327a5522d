"""`qmas audit`: verify the tamper-evident history, checkpoints, the access log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from console import output
from states.audit import make_checkpoint, read_checkpoint, verify
from states.errors import InvalidInput, QmasError
from workflows.engine import default_store
from workflows.views import case_view

audit_app = typer.Typer(help="Verify the tamper-evident history.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print plain JSON.")]
CaseArg = Annotated[
    str,
    typer.Argument(
        metavar="CASE",
        help="Case id, or a file number: the principal's (QM2023-000001) or a dependant's "
        "(QM2023-000001-D1).",
    ),
]


def _one_line(message: object) -> str:
    return output.literal(" ".join(str(message).split()))


def case_ref(text: str) -> int:
    from console.cli import case_ref as resolve

    return resolve(text)


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None, typer.Option(help="A checkpoint file from 'qmas audit checkpoint'.")
    ] = None,
) -> None:
    """Recompute the hash chain; exit 1 naming the first bad row."""
    cp = read_checkpoint(checkpoint) if checkpoint else None
    report = verify(default_store(), cp)
    if not report.ok:
        output.say(f"audit FAILED: {_one_line(report.problems[0])}", output.err)
        raise typer.Exit(1)
    extra = " and matches the checkpoint" if cp else ""
    output.out.print(
        f"audit ok: {report.rows} history rows over {report.cases} cases verify{extra}"
    )


@audit_app.command("access")
def audit_access(case: CaseArg, as_json: JsonFlag = False) -> None:
    """Who read the case through the API or revealed its personal data: what, when, how."""
    from states.accounts import Accounts

    case_id = case_ref(case)
    case_view(case_id)  # NotFound for an unknown case
    records = Accounts(default_store()).access_records(case_id)
    if as_json:
        output.print_json(records)
    elif not records:
        output.say(f"Nobody has read case {case_id} through the API or revealed its personal data.")
    else:
        output.out.print(
            output.table(
                f"Access to case {case_id}",
                ["at (UTC)", "account", "role", "action", "fields", "via"],
                [
                    [
                        r["at"][:19].replace("T", " "),
                        r["account"],
                        r["role"],
                        r["action"],
                        ", ".join(r["fields"]),
                        r["via"],
                    ]
                    for r in records
                ],
            )
        )


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[
        Path, typer.Option(help="Where to write the checkpoint (keep it elsewhere).")
    ] = Path("checkpoint.json"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing file at --out.")
    ] = False,
) -> None:
    """Export the chain head so truncation or a recomputed chain is caught later."""
    if out.exists() and not force:  # an older checkpoint is evidence: never lost by a typo
        raise InvalidInput(f"{out} exists; keep it, choose another --out, or add --force")
    cp = make_checkpoint(default_store())
    try:
        out.write_text(json.dumps(cp, indent=2) + "\n")
    except OSError as err:
        raise QmasError(f"cannot write the checkpoint to {out}: {err.strerror or err}") from None
    output.say(f"checkpoint of {cp['rows']} rows (last id {cp['last_id']}) written to {out}")
