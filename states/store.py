"""The store: transactions, case snapshots, committing a decided transition, queries.

Reads use SQLModel's tables through SQLAlchemy Core; the transition hot path is Core statements
built once (an ORM session per transition is 5-7x slower, see DESIGN.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, insert, inspect, text, update
from sqlalchemy.exc import DBAPIError

from states.catalogue import TERMINAL, State
from states.chain import Key, canonical_json, row_hash
from states.db import BEGIN_MODE, make_engine
from states.digest import (
    PERSONAL_CASE_FIELDS,
    case_digest,
    case_parts,
    outbox_digest,
    personal_digest,
    profile_digest,
)
from states.driver import Driver
from states.errors import Conflict, NotFound
from states.models import TABLES, SQLModel
from states.models import applications as app_t
from states.models import dependants as dep_t
from states.models import history as hist_t
from states.models import outbox as out_t

_LIVE_STATES = [s.value for s in State if s not in TERMINAL and s is not State.draft]


@dataclass(frozen=True, slots=True)
class Case:
    """A plain, typed copy of an application row: what the workflow decides on."""

    id: int
    state: str
    version: int
    workflow: str
    head_hash: str
    state_since: str
    created_at: str
    updated_at: str
    name: str
    date_of_birth: str
    nationality: str
    mainland_resident: bool
    email: str
    language: str
    travel_document_number: str
    representative_name: str | None
    representative_email: str | None
    declaration_signed: bool
    # The profile column as stored (JSON text on SQLite): decoded only when a rule reads it,
    # which is at submission; the other moves never pay for it.
    profile_json: Any
    file_number: str | None
    lodged_on: str | None
    submitted_at: str | None
    application_fee_due: int | None
    application_fee_paid: int | None
    application_fee_method: str | None
    ruleset: str | None
    test: str | None
    score: int | None
    pass_mark: int | None
    passed: bool | None
    categories: dict[str, Any] | None
    quota_year: int | None
    allotted_at: str | None
    fee_due: int | None
    fee_paid: int | None
    payment_method: str | None
    consent_letter: str | None
    evisa_number: str | None
    deadline: str | None
    outcome_reason: str | None
    privacy_salt: str | None
    anonymised_at: str | None
    personal_digest: str | None
    profile_digest: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Case:
        # .get: a database made by an earlier release lacks the newer columns until
        # `qmas init` adds them; the read works, the first write names the upgrade
        values: list[Any] = [row.get(column) for column in _CASE_COLUMNS]
        return cls(*values)

    @property
    def profile(self) -> dict[str, Any]:
        raw = self.profile_json
        value: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else raw
        return value

    @property
    def values(self) -> dict[str, Any]:
        """The row as a dict (read models)."""
        pairs = zip(_CASE_COLUMNS, _CASE_FIELDS, strict=True)
        out = {column: getattr(self, field) for column, field in pairs}
        out["profile"] = self.profile
        return out


_CASE_FIELDS = tuple(Case.__dataclass_fields__)
_CASE_COLUMNS = tuple("profile" if f == "profile_json" else f for f in _CASE_FIELDS)


@dataclass(frozen=True, slots=True)
class DependantRow:
    id: int
    position: int
    name: str
    relation: str
    date_of_birth: str
    file_number: str | None
    evisa_number: str | None


@dataclass(frozen=True, slots=True)
class DocumentRow:
    id: int
    round: int
    item: str
    due: str
    status: str
    waiver_reason: str | None
    requested_at: str
    resolved_at: str | None


_CASE_DECODED = frozenset({"categories"})
_DEPENDANT_FIELDS = tuple(DependantRow.__dataclass_fields__)
_DOCUMENT_FIELDS = tuple(DocumentRow.__dataclass_fields__)


@dataclass(frozen=True)
class QuotaClaim:
    year: int


@dataclass
class TransitionCommit:
    """Everything one transition writes, decided beforehand by the workflow."""

    case_id: int
    from_version: int
    prev_hash: str  # the case's chain head at from_version
    from_state: str
    to_state: str
    trigger: str
    actor: str
    role: str
    reason: str | None
    payload: dict[str, Any]
    at: str
    workflow: str
    ruleset: str | None
    note: str | None = None
    updates: dict[str, Any] = field(default_factory=dict)
    new_documents: list[dict[str, Any]] = field(default_factory=list)
    resolved_documents: list[dict[str, Any]] = field(default_factory=list)
    dependant_numbers: list[tuple[int, str]] = field(default_factory=list)  # file numbers
    dependant_evisa_numbers: list[tuple[int, str]] = field(default_factory=list)
    quota: QuotaClaim | None = None
    outbox: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # the case as loaded (at from_version): what the case digest starts from
    before: Case | None = None


@dataclass
class Committed:
    case_id: int
    version: int
    state: str
    history_id: int
    hash: str
    outbox_ids: list[int]


# The hot path's statements, run on the driver's cursor (states.driver). Column names are
# the table's, checked against the models when this module loads.
_SELECT_CASE = "SELECT * FROM applications WHERE id = :case_id"
_HISTORY_COLUMNS = (
    *("case_id", "seq", "from_state", "to_state", "trigger", "actor", "role", "reason"),
    *("note", "payload", "at", "workflow", "ruleset", "prev_hash", "hash"),
    *("case_digest", "outbox_digest", "key_id"),
)
_INSERT_HISTORY = (
    f"INSERT INTO history ({', '.join(_HISTORY_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _HISTORY_COLUMNS)})"
)
_OUTBOX_COLUMNS = ("case_id", "history_id", "topic", "trigger", "payload", "status", "attempts",
                   "created_at")  # fmt: skip
_INSERT_OUTBOX = (
    f"INSERT INTO outbox ({', '.join(_OUTBOX_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _OUTBOX_COLUMNS)})"
)
_DOC_COLUMNS = ("case_id", "round", "item", "due", "status", "requested_at")
_INSERT_DOC = (
    f"INSERT INTO document_requests ({', '.join(_DOC_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _DOC_COLUMNS)})"
)
_RESOLVE_DOC = (
    "UPDATE document_requests SET status = :b_status, waiver_reason = :b_reason, "
    "resolved_at = :b_at WHERE id = :b_id"
)
_NUMBER_DEPENDANT = "UPDATE dependants SET file_number = :b_number WHERE id = :b_id"
_EVISA_DEPENDANT = "UPDATE dependants SET evisa_number = :b_number WHERE id = :b_id"
# The counter row exists and is locked by then (Tx.quota_used with lock=True).
_CLAIM_QUOTA = "UPDATE quota_usage SET used = used + 1 WHERE year = :year"
_SELECT_DEPENDANTS = "SELECT * FROM dependants WHERE application_id = :case_id ORDER BY position"
_SELECT_DOCUMENTS = "SELECT * FROM document_requests WHERE case_id = :case_id ORDER BY id"
_LIVE_CASES = (
    "SELECT id FROM applications WHERE travel_document_number = :doc AND nationality = :nat "
    f"AND id <> :exclude AND state IN ({', '.join(repr(s) for s in _LIVE_STATES)})"
)
_QUOTA_USED = "SELECT used FROM quota_usage WHERE year = :year"
_QUOTA_ROW = "INSERT INTO quota_usage (year, used) VALUES (:year, 0) ON CONFLICT DO NOTHING"
_cas_cache: dict[tuple[str, ...], str] = {}


def _cas_statement(columns: tuple[str, ...]) -> str:
    sql = _cas_cache.get(columns)
    if sql is None:
        unknown = set(columns) - set(app_t.c.keys())
        assert not unknown, f"not columns of applications: {unknown}"
        sets = ", ".join(f"{c} = :{c}" for c in columns)
        sql = f"UPDATE applications SET {sets} WHERE id = :b_id AND version = :b_version"
        _cas_cache[columns] = sql
    return sql


assert set(_HISTORY_COLUMNS) == set(hist_t.c.keys()) - {"id"}
assert set(_OUTBOX_COLUMNS) <= set(out_t.c.keys())


class Tx:
    """One open database transaction with the engine's queries."""

    def __init__(
        self, conn: Connection | None, *, driver: Driver | None = None, key: Key | None = None
    ) -> None:
        if conn is None and driver is None:
            raise ValueError("a transaction needs a connection or a driver")
        self._conn = conn
        self._driver = driver
        self.key = key  # the audit key new history rows are signed with
        self.dialect = (
            conn.dialect.name
            if conn is not None
            else ("postgresql" if driver and driver.pg else "sqlite")
        )
        self.pg = self.dialect == "postgresql"

    @property
    def conn(self) -> Connection:
        """The SQLAlchemy connection (not on the transition path, which runs on the driver)."""
        if self._conn is None:
            raise RuntimeError("this transaction runs on the driver only (Store.transition)")
        return self._conn

    @property
    def driver(self) -> Driver:
        if self._driver is None:
            self._driver = Driver(self.conn)
        return self._driver

    # --- cases -------------------------------------------------------------------------
    def load_case(self, case_id: int, *, lock: bool = False) -> Case:
        """The case row as a snapshot; ``lock`` holds the row until commit (PostgreSQL).

        A writer must lock: under READ COMMITTED a guard's later reads (documents, quotas)
        would otherwise see a rival's commit that the snapshot does not, and refuse with
        reasons that contradict the state (SQLite writers are serial anyway).
        """
        sql = _SELECT_CASE + (" FOR UPDATE" if lock and self.dialect == "postgresql" else "")
        values = self.driver.one(sql, {"case_id": case_id}, decode=_CASE_DECODED)
        if values is None:
            raise NotFound(f"no case {case_id}")
        return Case.from_row(values)

    def create_case(
        self, values: Mapping[str, Any], dependants: Sequence[Mapping[str, Any]]
    ) -> int:
        result = self.conn.execute(insert(app_t).values(**values))
        case_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        for position, dep in enumerate(dependants, start=1):
            self.conn.execute(
                insert(dep_t).values(application_id=case_id, position=position, **dep)
            )
        return case_id

    def dependants(self, case_id: int) -> list[dict[str, Any]]:
        return self.driver.all(_SELECT_DEPENDANTS, {"case_id": case_id})

    def dependant_rows(self, case_id: int) -> tuple[DependantRow, ...]:
        return tuple(
            DependantRow(**{k: r[k] for k in _DEPENDANT_FIELDS}) for r in self.dependants(case_id)
        )

    def documents(self, case_id: int, status: str | None = None) -> list[dict[str, Any]]:
        rows = self.driver.all(_SELECT_DOCUMENTS, {"case_id": case_id})
        return [r for r in rows if status is None or r["status"] == status]

    def document_rows(self, case_id: int) -> tuple[DocumentRow, ...]:
        return tuple(
            DocumentRow(**{k: r[k] for k in _DOCUMENT_FIELDS}) for r in self.documents(case_id)
        )

    def quota_used(self, year: int, *, lock: bool = False) -> int:
        """Quotas allotted in ``year``; ``lock`` holds the year's counter until commit, so the
        quota guard's answer stays true until the allotment commits (PostgreSQL)."""
        db = self.driver
        if lock:
            db.execute(_QUOTA_ROW, {"year": year})
        sql = _QUOTA_USED + (" FOR UPDATE" if lock and self.pg else "")
        row = db.one(sql, {"year": year})
        return int(row["used"]) if row else 0

    def live_cases_for(
        self, travel_document_number: str, nationality: str, exclude: int
    ) -> list[int]:
        """Other applications of the same person (travel document and nationality) still live."""
        params = {"doc": travel_document_number, "nat": nationality, "exclude": exclude}
        return [int(r["id"]) for r in self.driver.all(_LIVE_CASES, params)]

    def actors(self, case_id: int, triggers: Iterable[str]) -> dict[str, frozenset[str]]:
        """Which accounts fired each of ``triggers`` on the case (from its history)."""
        wanted = sorted(triggers)
        if not wanted:
            return {}
        marks = ", ".join(f":t{i}" for i in range(len(wanted)))
        params: dict[str, Any] = {f"t{i}": t for i, t in enumerate(wanted)}
        params["case_id"] = case_id
        sql = (
            'SELECT "trigger", actor FROM history '
            f'WHERE case_id = :case_id AND "trigger" IN ({marks})'
        )
        rows = self.driver.all(sql, params)
        found: dict[str, set[str]] = {}
        for r in rows:
            found.setdefault(r["trigger"], set()).add(r["actor"])
        return {t: frozenset(a) for t, a in found.items()}

    def claim(self, stmt: Any, key: Any, **values: Any) -> list[dict[str, Any]]:
        """Select rows to work on and mark them claimed, safely with several workers at once.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so rivals take other rows; SQLite: the writer
        lock of ``BEGIN IMMEDIATE`` already makes the select-then-mark atomic.
        """
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = [dict(r) for r in self.conn.execute(stmt).mappings()]
        if rows:
            table = key.table
            self.conn.execute(
                update(table).where(key.in_([r[key.name] for r in rows])).values(**values)
            )
        return rows

    def lock_person(self, travel_document_number: str, nationality: str) -> None:
        """Serialise submissions of one person on PostgreSQL (SQLite writers are serial anyway)."""
        if self.pg:
            key = f"qmas-person:{nationality}:{travel_document_number}"
            self.driver.execute("SELECT pg_advisory_xact_lock(hashtext(:k))", {"k": key})

    # --- the transition ----------------------------------------------------------------
    def commit_transition(self, c: TransitionCommit) -> Committed:
        """Write one decided transition: the case's compare-and-set, its documents and
        dependants, the history row (committing to the case after the move and to the outbox
        events) and the outbox events. A `Conflict` leaves the caller to roll back."""
        if c.quota is not None:
            self._claim_quota(c)
        db = self.driver
        if c.new_documents:
            db.executemany(_INSERT_DOC, [{**d, "case_id": c.case_id} for d in c.new_documents])
        if c.resolved_documents:
            db.executemany(_RESOLVE_DOC, c.resolved_documents)
        if c.dependant_numbers:
            db.executemany(
                _NUMBER_DEPENDANT, [{"b_id": i, "b_number": n} for i, n in c.dependant_numbers]
            )
        if c.dependant_evisa_numbers:
            db.executemany(
                _EVISA_DEPENDANT,
                [{"b_id": i, "b_number": n} for i, n in c.dependant_evisa_numbers],
            )
        seq = c.from_version + 1
        sets = dict(c.updates)
        sets.update(state=c.to_state, version=seq, updated_at=c.at)
        if c.to_state != c.from_state:
            sets["state_since"] = c.at
        before = c.before or self.load_case(c.case_id)
        after = {**_case_dict(before), **sets}
        salt = before.privacy_salt
        deps = db.all(_SELECT_DEPENDANTS, {"case_id": c.case_id})
        # the digest columns, written where they are missing (cases made by an older release)
        # or the move changed what they digest
        if after["profile_digest"] is None:
            sets["profile_digest"] = after["profile_digest"] = profile_digest(after["profile"])
        if after["anonymised_at"] is None and (
            after["personal_digest"] is None or not _PERSONAL.isdisjoint(c.updates)
        ):
            sets["personal_digest"] = after["personal_digest"] = personal_digest(salt, after, deps)
        parts = case_parts(
            after,
            deps,
            db.all(_SELECT_DOCUMENTS, {"case_id": c.case_id}),
            trust_columns=True,
        )
        key = self.key
        row = {
            "case_id": c.case_id,
            "seq": seq,
            "from_state": c.from_state,
            "to_state": c.to_state,
            "trigger": c.trigger,
            "actor": c.actor,
            "role": c.role,
            "reason": c.reason,
            "note": c.note,
            "payload": canonical_json(c.payload),
            "at": c.at,
            "workflow": c.workflow,
            "ruleset": c.ruleset,
            "case_digest": case_digest(parts),
            "outbox_digest": outbox_digest(
                ((topic, c.trigger, body) for topic, body in c.outbox), salt
            ),
            "key_id": key.id if key else None,
        }
        prev = c.prev_hash
        digest = row_hash(prev, row, key.secret if key else None, salt)
        sets["head_hash"] = digest
        columns = tuple(sorted(sets))
        params = {**sets, "b_id": c.case_id, "b_version": c.from_version}
        if db.execute(_cas_statement(columns), params, adapt=True).rowcount != 1:
            raise Conflict(c.case_id, c.from_version, self._version_of(c.case_id))
        history_id = db.insert_returning_id(
            _INSERT_HISTORY, {**row, "prev_hash": prev, "hash": digest}
        )
        outbox_ids = []
        for topic, body in c.outbox:
            outbox_ids.append(
                db.insert_returning_id(
                    _INSERT_OUTBOX,
                    {
                        "case_id": c.case_id,
                        "history_id": history_id,
                        "topic": topic,
                        "trigger": c.trigger,
                        "payload": json.dumps({**body, "history_id": history_id}, sort_keys=True),
                        "status": "pending",
                        "attempts": 0,
                        "created_at": c.at,
                    },
                )
            )
        return Committed(c.case_id, seq, c.to_state, history_id, digest, outbox_ids)

    def _version_of(self, case_id: int) -> int | None:
        row = self.driver.one("SELECT version FROM applications WHERE id = :id", {"id": case_id})
        return None if row is None else int(row["version"])

    def _claim_quota(self, c: TransitionCommit) -> None:
        assert c.quota is not None
        if self.driver.execute(_CLAIM_QUOTA, {"year": c.quota.year}).rowcount != 1:
            # The decision loaded (and on PostgreSQL locked) the counter: it cannot be missing.
            raise Conflict(c.case_id, c.from_version, None)


_PERSONAL = frozenset(PERSONAL_CASE_FIELDS)


def _case_dict(case: Case) -> dict[str, Any]:
    """A snapshot as column -> value (the profile left as stored: the digest decodes it)."""
    pairs = zip(_CASE_COLUMNS, _CASE_FIELDS, strict=True)
    return {column: getattr(case, name) for column, name in pairs}


def _rollback(raw: Any, pg: bool) -> None:
    try:
        if pg:
            raw.rollback()
        else:
            raw.execute("ROLLBACK")
    except Exception:  # a broken connection: the pool discards it on return
        pass


_FROM_SETTINGS: Any = object()


class Store:
    """Entry point to the engine's database.

    ``key`` is the audit key new history rows are signed with (states/keys.py); by default the
    one configured by QMAS_AUDIT_KEY or QMAS_AUDIT_KEY_FILE, if any."""

    def __init__(
        self, url: str | None = None, engine: Engine | None = None, key: Any = _FROM_SETTINGS
    ) -> None:
        if key is _FROM_SETTINGS:
            from states.keys import load_key

            key = load_key()
        self.key: Key | None = key
        self.engine = engine or make_engine(url)
        self.dialect = self.engine.dialect.name

    def init(self) -> None:
        """Create the tables, and add any new nullable column to tables made by an older
        release (additive changes only, such as ``history.note``; Alembic is to come)."""
        SQLModel.metadata.create_all(self.engine, tables=TABLES)
        with self.engine.begin() as conn:
            found = inspect(conn)
            for table in TABLES:
                have = {c["name"] for c in found.get_columns(table.name)}
                for column in table.columns:
                    if column.name not in have and column.nullable:
                        kind = column.type.compile(dialect=self.engine.dialect)
                        conn.execute(
                            text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
                        )
                for index in table.indexes:  # an index on a column just added
                    index.create(conn, checkfirst=True)
            # Cases made by a release without salts get one now: no history row has committed
            # to their personal data yet, so nothing that verifies today stops verifying.
            fresh = (
                "replace(gen_random_uuid()::text, '-', '')"
                if self.dialect == "postgresql"
                else "lower(hex(randomblob(16)))"
            )
            conn.execute(
                text(
                    f"UPDATE applications SET privacy_salt = {fresh} "
                    "WHERE privacy_salt IS NULL AND anonymised_at IS NULL"
                )
            )

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success."""
        with self.engine.connect() as conn, conn.begin():
            yield Tx(conn, key=self.key)

    @contextmanager
    def transition(self) -> Iterator[Tx]:
        """A write transaction on the pooled DB-API connection itself, for `advance`.

        The same transaction as `write` (``BEGIN IMMEDIATE`` on SQLite; psycopg opens one at
        the first statement), without SQLAlchemy's `Connection` around it: on the hot path
        that wrapper cost ~40 µs a transition, more than the statements (docs/benchmarks.md).
        Only driver-level statements run inside.
        """
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        pooled = self.engine.raw_connection()
        pg = self.dialect == "postgresql"
        try:
            raw: Any = pooled.driver_connection
            try:
                if not pg:
                    raw.execute("BEGIN IMMEDIATE")
                yield Tx(None, driver=Driver.of(raw, pg=pg), key=self.key)
                if pg:
                    raw.commit()
                else:
                    raw.execute("COMMIT")
            except BaseException as err:
                _rollback(raw, pg)
                if isinstance(err, dbapi_error):  # the same errors SQLAlchemy would raise
                    raise DBAPIError.instance(None, None, err, dbapi_error) from err
                raise
        finally:
            pooled.close()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with (
            self.engine.connect().execution_options(**{BEGIN_MODE: "DEFERRED"}) as conn,
            conn.begin(),
        ):
            yield Tx(conn, key=self.key)
