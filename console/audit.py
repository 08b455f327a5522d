"""`qmas audit`: verify the tamper-evident history, checkpoints, the access log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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
    all_problems: Annotated[
        bool, typer.Option("--all", help="List every problem, not only the first.")
    ] = False,
) -> None:
    """Recompute the hash chain, the case digests and the outbox; exit 1 naming the first bad
    row or case."""
    cp = read_checkpoint(checkpoint) if checkpoint else None
    store = default_store()
    report = verify(store, cp, all_problems=all_problems)
    for warning in report.warnings:
        output.say(f"warning: {_one_line(warning)}", output.err)
    if not report.ok:
        for problem in report.problems if all_problems else report.problems[:1]:
            output.say(f"audit FAILED: {_one_line(problem)}", output.err)
        raise typer.Exit(1)
    extra = " and matches the checkpoint" if cp else ""
    keyed = f", signed with audit key {store.key.id}" if store.key else ""
    output.out.print(
        f"audit ok: {report.rows} history rows over {report.cases} cases verify{extra}{keyed}",
        markup=False,
    )


@audit_app.command("rotate-key")
def audit_rotate_key(
    new_key_file: Annotated[
        Path,
        typer.Option(
            "--new-key-file",
            help="Where the new key is (made there, owner-only, if the file does not exist).",
        ),
    ],
    actor: Annotated[str | None, typer.Option(help="Who rotates (recorded in the anchor).")] = None,
) -> None:
    """Introduce or rotate the audit key: verify the history with the key in force, then sign
    an anchor for all of it with the new key. Stop every writer first; restart them with
    QMAS_AUDIT_KEY_FILE set to the new file."""
    from console.accounts import operator as operator_name
    from states.audit import rotate_key
    from states.keys import new_key_file as make_key_file
    from workflows.clock import iso, now_utc

    key = make_key_file(new_key_file)
    store = default_store()
    anchor = rotate_key(store, key, actor=actor or operator_name(), at=iso(now_utc()))
    before = f" (was {anchor['previous_key_id']})" if anchor["previous_key_id"] else ""
    output.say(
        f"anchored {anchor['rows']} history rows (last id {anchor['last_id']}) with audit key "
        f"{key.id}{before}. Restart every process with QMAS_AUDIT_KEY_FILE={new_key_file} "
        "(and QMAS_AUDIT_KEY unset); keep the old key only as long as your policy says."
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


retention_app = typer.Typer(
    help="Anonymise closed cases after the retention period (PDPO).", no_args_is_help=True
)


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the cases; change nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Anonymise cases closed more than QMAS_RETENTION_YEARS (default 7) ago: personal data
    replaced, statistics kept, the history still verifies."""
    from rich.progress import track

    from console.accounts import operator as operator_name
    from workflows import retention
    from workflows.settings import WorkflowSettings

    settings = WorkflowSettings()
    quiet = as_json or not output.err.is_terminal

    def progress(items: Any, total: int) -> Any:
        if quiet or total < 2:
            return items
        return track(items, total=total, description="anonymising", console=output.err)

    report = retention.run(
        default_store(),
        settings=settings,
        dry_run=dry_run,
        operator=operator_name(),
        progress=progress,
    )
    if as_json:
        output.print_json(report.to_json())
        return
    n = len(report.candidates)
    if dry_run:
        output.say(
            f"{n} case{'s' if n != 1 else ''} closed before {report.cutoff} "
            f"({_years(report.years)} ago) would be anonymised (dry run: nothing changed)"
        )
        if n:
            output.out.print(
                output.table(
                    "Cases to anonymise",
                    ["case", "file number", "state", "closed on"],
                    [
                        [c.case_id, c.file_number or "", c.state, c.closed_on]
                        for c in report.candidates
                    ],
                )
            )
        return
    done = len(report.anonymised)
    kept = (
        f"; {report.kept_rows} history rows written before case digests keep their text"
        if report.kept_rows
        else ""
    )
    output.say(
        f"anonymised {done} case{'s' if done != 1 else ''} closed before {report.cutoff} "
        f"({_years(report.years)} ago){kept}"
    )


def _years(n: int) -> str:
    return f"{n} year{'' if n == 1 else 's'}"
