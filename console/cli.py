"""The `qmas` command line. Every error is one line on stderr and a non-zero exit code."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from pydantic import ValidationError
from pydantic_settings.exceptions import SettingsError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from typer.exceptions import TyperException

from console import accounts, audit, ops, output
from states.errors import InvalidInput, QmasError
from workflows import advance, available_actions, create_case
from workflows.authz import acting_account
from workflows.engine import default_store
from workflows.machine import mermaid
from workflows.views import MAX_ID, case_view, history, list_cases, resolve_case, reveal_case

app = typer.Typer(
    name="qmas",
    help="Case engine for Hong Kong's Quality Migrant Admission Scheme.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
case_app = typer.Typer(help="Create, move and inspect one case.", no_args_is_help=True)
workflow_app = typer.Typer(help="The workflow definition.", no_args_is_help=True)
schema_app = typer.Typer(
    help="JSON Schema of the input files and --data, from the pydantic models.",
    no_args_is_help=True,
)
app.add_typer(case_app, name="case")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(audit.retention_app, name="retention")
app.add_typer(workflow_app, name="workflow")
app.add_typer(schema_app, name="schema")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print plain JSON.")]
CaseArg = Annotated[
    str,
    typer.Argument(
        metavar="CASE",
        help="Case id, or a file number: the principal's (QM2023-000001) or a dependant's "
        "(QM2023-000001-D1).",
    ),
]

app.command()(ops.dispatch)
app.command()(ops.remind)
app.command()(ops.escalate)
app.add_typer(ops.outbox_app, name="outbox")
app.add_typer(accounts.user_app, name="user")
app.add_typer(accounts.token_app, name="token")


class _NotFinite(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotFinite(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(f"{text[:40]} is too large a number")
    return value


class _DuplicateKey(ValueError):
    pass


def _one_of_each_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when a key repeats: `json` keeps the last silently, so
    ``"declaration_signed": true, …, "declaration_signed": false`` would read as unsigned
    to us and as signed to whoever looked at the top of the file."""
    from workflows.validation import quote

    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(f"the key '{quote(key, 40)}' appears twice")
        obj[key] = value
    return obj


def loads_json(text: str, where: str, *, prefix: str = "invalid input") -> Any:
    """Parse JSON a person gave us; anything unusable is one `InvalidInput` line.

    Besides syntax errors: a key given twice in one object, NaN and Infinity (which `json`
    accepts), numbers too large for a float, integers longer than Python converts (4300
    digits), nesting too deep to parse, and lone surrogates (\\ud800) that no database can
    store.
    """
    try:
        value = json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite,
            object_pairs_hook=_one_of_each_key,
        )
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except json.JSONDecodeError as err:
        raise InvalidInput(
            f"{where} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})",
            prefix=prefix,
        ) from None
    except (_NotFinite, _DuplicateKey) as err:
        raise InvalidInput(f"{where}: {err}", prefix=prefix) from None
    except RecursionError:
        raise InvalidInput(f"{where} is nested too deeply", prefix=prefix) from None
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{where} holds a lone surrogate (\\uD800-\\uDFFF)", prefix=prefix
        ) from None
    except ValueError:  # int() refuses more than 4300 digits
        raise InvalidInput(f"{where} holds a number too long to read", prefix=prefix) from None
    return value


def read_json_file(path: Path, what: str) -> Any:
    """A JSON file of at most 1 MiB, read no further (``/dev/zero`` or a FIFO never ends)."""
    from workflows.validation import MAX_INPUT_BYTES, size_problem

    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_INPUT_BYTES + 1)
            size = os.fstat(stream.fileno()).st_size
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}", prefix=what) from None
    except OSError as err:
        raise InvalidInput(f"cannot read {path}: {err.strerror or err}", prefix=what) from None
    problem = size_problem(max(size, len(raw)), str(path))
    if problem:
        raise InvalidInput(problem, prefix=what)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"cannot read {path}: {err}", prefix=what) from None
    return loads_json(text, str(path), prefix=what)


def case_ref(text: str, *, hint: str = "'case'") -> int:
    """The case id for CASE as typed (an id or a file number); a malformed one is a usage error."""
    try:
        return resolve_case(text)
    except InvalidInput as err:
        raise typer.BadParameter(err.errors[0], param_hint=hint) from None


def parse_data(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = loads_json(text, "--data")
    if not isinstance(value, dict):
        raise InvalidInput("--data must be a JSON object, e.g. '{\"amount\": 230}'")
    return value


@app.command()
def init() -> None:
    """Create the database tables (safe to run again)."""
    from states.accounts import Accounts
    from workflows.clock import iso, now_utc

    store = default_store()
    store.init()
    Accounts(store).ensure_system(iso(now_utc()))
    output.say(f"Database ready: {store.engine.url.render_as_string(hide_password=True)}")


@case_app.command("new")
def case_new(file: Annotated[Path, typer.Argument(help="Application file (JSON).")]) -> None:
    """Create a draft case from an application file; prints the new case id alone."""
    data = read_json_file(file, "invalid application")
    sys.stdout.write(f"{create_case(data)}\n")


RoleOpt = Annotated[
    str, typer.Option(help="applicant, caseworker, supervisor, committee, auditor, system")
]
ReasonOpt = Annotated[
    str | None, typer.Option(help="What the applicant is told (a refusal needs a reason).")
]
ReasonCodeOpt = Annotated[
    str | None,
    typer.Option("--reason-code", help="A reason from 'qmas reasons' (refuse, withdraw, lapse)."),
]
NoteOpt = Annotated[
    str | None, typer.Option(help="An internal note: kept in history, never emailed.")
]
DataOpt = Annotated[
    str | None, typer.Option(help="Input for the trigger, as JSON ('qmas schema data TRIGGER').")
]


@case_app.command("advance")
def case_advance(
    case: CaseArg,
    trigger: Annotated[str, typer.Argument(help="What to do, e.g. submit, shortlist.")],
    actor: Annotated[str, typer.Option(help="Who acts: an account's username.")],
    role: RoleOpt,
    reason: ReasonOpt = None,
    reason_code: ReasonCodeOpt = None,
    note: NoteOpt = None,
    expect_version: Annotated[
        int | None,
        typer.Option(
            "--expect-version", min=0, max=MAX_ID, help="Refuse if the case moved meanwhile."
        ),
    ] = None,
    data: DataOpt = None,
) -> None:
    """Move a case by one trigger, as the account --actor acting in --role."""
    case_id = case_ref(case)
    account = acting_account(actor, role, store=default_store())
    done = advance(
        case_id,
        trigger,
        account.username,
        role,
        expected_version=expect_version,
        reason=reason,
        reason_code=reason_code,
        note=note,
        data=parse_data(data),
    )
    output.say(
        f"Case {done.case_id}: {done.from_state} → {done.to_state} ({done.trigger}), "
        f"version {done.version}"
    )


@case_app.command("preview")
def case_preview(
    case: CaseArg,
    trigger: Annotated[str, typer.Argument(help="What to try, e.g. shortlist.")],
    actor: Annotated[str, typer.Option(help="Who would act: an account's username.")],
    role: RoleOpt,
    reason: ReasonOpt = None,
    reason_code: ReasonCodeOpt = None,
    note: NoteOpt = None,
    data: DataOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """What advance would do: allowed or why not, messages, documents, deadlines. Writes nothing."""
    from notifications.preview import preview_report
    from workflows.engine import preview

    store = default_store()
    case_id = case_ref(case)
    account = acting_account(actor, role, store=store)
    seen = preview(
        case_id,
        trigger,
        account.username,
        role,
        reason=reason,
        reason_code=reason_code,
        note=note,
        data=parse_data(data),
        store=store,
    )
    report = preview_report(seen, store=store)
    if as_json:
        output.print_json(report)
    else:
        output.show_preview(report)


@case_app.command("show")
def case_show(
    case: CaseArg,
    as_json: JsonFlag = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The state at a past date (YYYY-MM-DD, end of day HKT)."),
    ] = None,
    reveal: Annotated[
        bool,
        typer.Option(
            "--reveal",
            help="Show travel document numbers and dates of birth (caseworker or supervisor; "
            "recorded, see 'qmas audit access').",
        ),
    ] = False,
    actor: Annotated[str | None, typer.Option(help="With --reveal: the account revealing.")] = None,
    role: Annotated[
        str | None, typer.Option(help="With --reveal: caseworker or supervisor.")
    ] = None,
) -> None:
    """Everything about one case (or, with --as-of, its state at a past moment).

    Travel document numbers and dates of birth are masked unless --reveal is given."""
    case_id = case_ref(case)
    if reveal:
        if as_of is not None:
            raise InvalidInput("--reveal shows the case as it is now; drop --as-of")
        view = reveal_case(case_id, actor, role, via="cli")
        if as_json:
            output.print_json(view)
        else:
            output.show_case(view)
        return
    if actor is not None or role is not None:
        raise InvalidInput("--actor and --role go with --reveal")
    if as_of is not None:
        from workflows.views import parse_moment, state_as_of

        past = state_as_of(case_id, parse_moment(as_of))
        if as_json:
            output.print_json(past)
        else:
            output.say(
                f"Case {case_id} as of {past['as_of']}: {past['state_label']} ({past['state']}), "
                f"version {past['version']}, since {past['since']}"
            )
        return
    view = case_view(case_id)
    if as_json:
        output.print_json(view)
    else:
        output.show_case(view)


@case_app.command("history")
def case_history(case: CaseArg, as_json: JsonFlag = False) -> None:
    """The case's state history, oldest first, with the hash chain."""
    case_id = case_ref(case)
    rows = history(case_id)
    if as_json:
        output.print_json(rows)
    elif not rows:
        output.say(f"Case {case_id} has no history yet (still a draft).")
    else:
        output.show_history(rows)


@case_app.command("actions")
def case_actions(
    case: CaseArg,
    role: Annotated[str, typer.Option(help="The role asking.")],
    actor: Annotated[
        str | None,
        typer.Option(help="The account asking: its four-eyes refusals are shown too."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """What can be done now, and for each action not allowed, why."""
    case_id = case_ref(case)
    name = None
    if actor is not None:
        name = acting_account(actor, role, store=default_store()).username
    acts = available_actions(case_id, role, actor=name)
    if as_json:
        output.print_json([a.to_json() for a in acts])
        return
    for a in acts:
        mark = "[green]✓[/]" if a.allowed else "[red]✗[/]"
        output.out.print(f"{mark} [bold]{output.esc(a.trigger)}[/] → {output.esc(a.dest)}")
        for r in a.reasons:
            output.say(f"    {r}")
        if a.allowed and a.needs:
            output.say(f"    needs {a.needs}")


@case_app.command("checklist")
def case_checklist(case: CaseArg, as_json: JsonFlag = False) -> None:
    """The documents this applicant should provide, from the profile (docs/rules.md §9.1)."""
    from workflows.documents import checklist, label

    case_id = case_ref(case)
    view = case_view(case_id)
    from workflows.engine import default_store as _store

    with _store().read() as tx:
        profile = tx.load_case(case_id).profile
    after = view["state"] in ("quota_allotted", "mainland_consent", "fee_paid")
    items = checklist(
        profile,
        mainland_resident=view["applicant"]["mainland_resident"],
        dependants=view["dependants"],
        after_quota=after,
    )
    rows = [{"name": i, "label": label(i, view["applicant"]["language"])} for i in items]
    if as_json:
        output.print_json(rows)
        return
    for r in rows:
        output.say(f"- {r['name']:<32} {r['label']}")


@app.command("cases")
def cases(
    state: Annotated[
        list[str] | None,
        typer.Option(help="Only cases in this state; repeat for cases in any of several."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List cases, with the next deadline and the days spent in the current state."""
    from states.catalogue import State

    for name in state or []:
        if name not in State.__members__:
            raise InvalidInput(f"unknown state '{name}'; one of: {', '.join(State.__members__)}")
    rows = list_cases(state or None)
    if as_json:
        output.print_json(rows)
        return
    output.out.print(
        output.table(
            f"{len(rows)} case(s)",
            [
                "id",
                "file number",
                "applicant",
                "state",
                "since",
                "days in state",
                "next due",
                "version",
            ],
            [
                [
                    r["id"],
                    r["file_number"],
                    r["name"],
                    r["state"],
                    r["since"][:10],
                    r["days_in_state"],
                    r["next_due"],
                    r["version"],
                ]
                for r in rows
            ],
        )
    )


@workflow_app.command("diagram")
def workflow_diagram(
    case: Annotated[
        str | None,
        typer.Option(
            "--case", metavar="CASE", help="Highlight this case's state (id or file number)."
        ),
    ] = None,
) -> None:
    """The machine as Mermaid text."""
    if case is None:
        sys.stdout.write(mermaid() + "\n")
    else:
        view = case_view(case_ref(case, hint="'--case'"))
        sys.stdout.write(mermaid(view["workflow"], current=view["state"]) + "\n")


def _print_schema(schema: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(schema, ensure_ascii=False, indent=2) + "\n")


@schema_app.command("application")
def schema_application() -> None:
    """The application file that 'qmas case new' takes."""
    from workflows.application import ApplicationFile

    _print_schema(ApplicationFile.model_json_schema())


@schema_app.command("profile")
def schema_profile() -> None:
    """The points-test profile (the application file's "profile"; 'qmas assess' takes it)."""
    from workflows.rules.profile import Profile

    _print_schema(Profile.model_json_schema())


@schema_app.command("data")
def schema_data(
    trigger: Annotated[str, typer.Argument(help="A trigger, e.g. pay_fee, request_documents.")],
) -> None:
    """What 'qmas case advance CASE TRIGGER --data JSON' takes for this trigger."""
    from workflows.inputs import model_for
    from workflows.names import Trigger

    try:
        known = Trigger(trigger.strip())
    except ValueError:
        names = ", ".join(t.value for t in Trigger)
        raise InvalidInput(f"unknown trigger '{trigger}'; one of: {names}") from None
    _print_schema(model_for(known).model_json_schema())


@app.command()
def assess(
    file: Annotated[Path, typer.Argument(help="A profile, or an application file with one.")],
    on: Annotated[str | None, typer.Option(help="Judging date YYYY-MM-DD (default today).")] = None,
    as_json: JsonFlag = False,
    date_of_birth: Annotated[
        str | None, typer.Option(help="For a bare profile: the applicant's date of birth.")
    ] = None,
    nationality: Annotated[
        str | None, typer.Option(help="For a bare profile: ISO 3166-1 alpha-2 code.")
    ] = None,
) -> None:
    """Judge a points-test profile without creating a case."""
    from console.assess import run_assess

    run_assess(read_json_file(file, "invalid profile"), on, as_json, date_of_birth, nationality)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Serve the REST API (/api/v1; OpenAPI at /api/v1/openapi.json) until interrupted."""
    import socket

    from console.web.app import serve as run
    from workflows.authz import AuthSettings
    from workflows.engine import default_settings

    AuthSettings()  # a setting that does not parse: one line and exit 7 now, not a 500 later
    default_settings()

    # uvicorn reports a bad address in several log lines and exits 3 (our "permission
    # denied"): try the address first, so that the answer is one line and exit 1.
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except (OSError, UnicodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise QmasError(f"cannot listen on {host}:{port}: {reason}") from None
    default_store().init()  # a fresh database works at once, as with 'qmas demo'
    run(host, port)


@app.command()
def reasons(as_json: JsonFlag = False) -> None:
    """The reasons an applicant may be told (codes for --reason-code), in English and Chinese."""
    from workflows.reasons import REASONS

    if as_json:
        output.print_json([r.to_json() for r in REASONS.values()])
        return
    output.out.print(
        output.table(
            "Reasons", ["code", "en", "zh-HK"], [[r.code, r.en, r.zh_hk] for r in REASONS.values()]
        )
    )


@app.command()
def fees(
    on: Annotated[
        str | None,
        typer.Option(
            help="YYYY-MM-DD (the start of that day in Hong Kong, as a past lodging date "
            "counts) or an ISO date-time (Hong Kong time if naive); default now."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The fees per person in force at a moment: the visa fee and the application fee."""
    from datetime import datetime, time

    from workflows.clock import HK, now_utc
    from workflows.formats import hkd, long_date
    from workflows.rules import application_fee_at, fee_due_at, fee_schedule_at
    from workflows.views import parse_day, parse_moment

    text = (on or "").strip()
    if not text:
        moment = now_utc().astimezone(HK)
        shown = moment.isoformat()
    elif len(text) == 10:
        day = parse_day(text)
        moment, shown = datetime.combine(day, time.min, tzinfo=HK), day.isoformat()
    else:
        moment = parse_moment(text).astimezone(HK)
        shown = moment.isoformat()
    visa, application = fee_due_at(moment), application_fee_at(moment)
    if as_json:
        output.print_json(
            {"on": shown, "visa_fee": visa, "application_fee": application, "per_person": True}
        )
        return
    output.say(
        f"Fees per person at {long_date(moment)} {moment:%H:%M} Hong Kong time "
        f"({fee_schedule_at(moment).id}):"
    )
    paid_with = f"{hkd(application)}, with the application" if application else "none"
    output.say(f"  visa fee         {hkd(visa)}, after quota allotment")
    output.say(f"  application fee  {paid_with}")
    output.say("Each is paid for the applicant and for every accompanying dependant.")


@app.command()
def demo(
    yes: Annotated[
        bool, typer.Option("--yes", help="Allow resetting a PostgreSQL database.")
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Start over on a database that holds cases (an SQLite file is backed up "
            "first, WAL included).",
        ),
    ] = False,
    flows: Annotated[
        bool,
        typer.Option(
            "--flows/--no-flows", help="Run reminders and dispatch (Prefect, in-process)."
        ),
    ] = True,
) -> None:
    """Build a fresh database with realistic applicants and run them to their ends."""
    from console.demo import run_demo

    run_demo(allow_reset=yes, flows=flows, fresh=fresh)


def _one_line(message: object) -> str:
    """One line, control characters shown escaped (an ESC typed by someone is never echoed)."""
    return output.literal(" ".join(str(message).split()))


def main(argv: list[str] | None = None) -> None:
    """Entry point: turn every failure into one line on stderr and an exit code."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        from flows.nudge import install

        install()
        _check_utf8(sys.argv[1:] if argv is None else argv)
        code = app(args=argv, standalone_mode=False)
    # typer >= 0.29 raises its own vendored copy of click's exceptions: catch both kinds.
    except (click.exceptions.Abort, typer.Abort):
        output.err.print("aborted")
        code = 130
    except (click.exceptions.ClickException, TyperException) as err:
        if type(err).__name__ == "NoArgsIsHelpError":  # `qmas`, `qmas case`: the help text
            err.show()  # type: ignore[union-attr]
        else:
            output.err.print(f"error: {_one_line(err.format_message())} (try --help)", markup=False)
        code = err.exit_code
    except InvalidInput as err:
        for line in err.errors:
            output.err.print(f"error: {err.prefix}: {_one_line(line)}", markup=False)
        code = err.exit_code
    except QmasError as err:
        output.err.print(f"error: {_one_line(str(err))}", markup=False)
        code = err.exit_code
    except (SettingsError, ValidationError) as err:  # a QMAS_* variable that does not parse
        if isinstance(err, ValidationError) and err.errors():
            e = err.errors()[0]
            where = ".".join(str(p) for p in e["loc"])
            first = f"{err.title}: QMAS_{where.upper()}: {e['msg']}"
        else:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
        output.err.print(f"error: configuration: {_one_line(first)}", markup=False)
        code = 7
    except _database_errors() as err:
        kind, text, code = _describe_db_error(err)
        output.err.print(f"error: {kind}: {text}", markup=False)
    except (OverflowError, RecursionError, ValueError) as err:
        # Input that slipped past the parsers (a date or number too large for Python's types,
        # a structure nested too deeply, an integer over 4300 digits): one line, exit 2.
        output.err.print(f"error: invalid input: {_too_large(err)}", markup=False)
        code = 2
    except OSError as err:
        if err.filename is not None:  # a file the command itself opened
            output.err.print(
                f"error: {_one_line(err.filename)}: {_one_line(err.strerror or err)}", markup=False
            )
        else:  # writing the output failed (a full disk): what the command did stays done
            _stdout_to_devnull()
            output.err.print(
                f"error: cannot write output: {_one_line(err.strerror or err)} "
                "(anything the command changed is saved)",
                markup=False,
            )
        code = 1
    except KeyboardInterrupt:
        code = 130
    except Exception as err:  # a bug: still one line, and the traceback only when asked for
        if os.environ.get("QMAS_DEBUG"):
            raise
        output.err.print(
            f"error: internal error ({type(err).__name__}); nothing was written that was not "
            "committed. Please report it with the command you ran (QMAS_DEBUG=1 shows the "
            "traceback)",
            markup=False,
        )
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


def _check_utf8(args: list[str]) -> None:
    """Bytes that are not UTF-8 arrive as lone surrogates, which nothing can store or hash."""
    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "backslashreplace").decode("utf-8")[:60]
            raise InvalidInput(f"argument '{shown}' is not valid UTF-8 text") from None


def _database_errors() -> tuple[type[Exception], ...]:
    """SQLAlchemy's errors and the drivers' own: raised where SQLAlchemy does not wrap them
    (e.g. at BEGIN)."""
    errors: list[type[Exception]] = [SQLAlchemyError, sqlite3.Error]
    psycopg = sys.modules.get("psycopg")  # loaded only when a PostgreSQL URL is in use
    if psycopg is not None:
        errors.append(psycopg.Error)
    return tuple(errors)


def _stdout_to_devnull() -> None:
    """After a failed write, drop what is still buffered so exiting does not fail again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no real file descriptor (captured)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    except OSError:
        pass
    finally:
        os.close(devnull)


def _too_large(err: Exception) -> str:
    if isinstance(err, RecursionError):
        return "the input is nested too deeply"
    text = str(err)
    if isinstance(err, OverflowError) or "out of range" in text:
        return f"a number or date is too large ({_one_line(text)[:120]})"
    if "integer string conversion" in text:
        return "a number is too long to read (more than 4300 digits)"
    return _one_line(text)[:300]


# A table this release added: missing, it means an older release's schema (a table missing
# from an empty file is reported as tables missing: `qmas init` is the answer to both).
_LATER_TABLES = ("audit_anchors",)


def _describe_db_error(err: Exception) -> tuple[str, str, int]:
    """A database error as (kind, one line, exit code): what the user can do about it."""
    raw = str(getattr(err, "orig", None) or err).strip()
    text = _one_line(raw.splitlines()[0] if raw else type(err).__name__)
    lowered = text.lower()
    missing_column = "no such column" in lowered or (
        "does not exist" in lowered and "column" in lowered
    )
    missing_table = not missing_column and (
        "no such table" in lowered or ("does not exist" in lowered and "relation" in lowered)
    )
    if missing_table and not any(t in lowered for t in _LATER_TABLES):
        return "database", "the QMAS tables are missing; run 'qmas init' first", 8
    if (
        missing_table
        or "no such column" in lowered
        or ("does not exist" in lowered and "column" in lowered)
    ):
        return (
            "database",
            "the database was made by an earlier release; run 'qmas init' to upgrade it",
            8,
        )
    if "database is locked" in lowered or "database is busy" in lowered:
        return (
            "database",
            "database is locked by another writer (waited QMAS_SQLITE_BUSY_TIMEOUT_MS); "
            "nothing was written: try again",
            8,
        )
    if "value too long" in lowered:  # PostgreSQL checks lengths that SQLite does not
        return "invalid input", f"a value is longer than the database allows ({text[:120]})", 2
    if "nul" in lowered and ("0x00" in lowered or "cannot contain" in lowered):
        return "invalid input", "a text holds a NUL character (\\x00), which cannot be stored", 2
    if isinstance(err, IntegrityError) or _is_integrity(err):
        if "evisa_number" in lowered:
            return (
                "conflict",
                "the e-Visa number drawn is already taken (a rare chance); nothing was written: "
                "run the command again",
                6,
            )
        return "conflict", f"{text[:200]}; nothing was written: try again", 6
    return "database", text[:300], 8


def _is_integrity(err: Exception) -> bool:
    """The drivers' own integrity errors (a UNIQUE value taken), outside SQLAlchemy's wrapping."""
    if isinstance(err, sqlite3.IntegrityError):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(err, psycopg.IntegrityError)


if __name__ == "__main__":
    main()
