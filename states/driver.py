"""Hand-written SQL run on the DB-API cursor, inside the caller's SQLAlchemy transaction.

The transition hot path runs a handful of fixed statements; through SQLAlchemy each costs
60-120 µs of overhead against ~10 µs in the driver (bench/transitions.py), so they are written
once here with ``:name`` parameters and run on the raw cursor of the same connection (sqlite3
or psycopg 3), which keeps them in the same transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

JSON_COLUMNS = frozenset({"profile", "categories"})
BOOL_COLUMNS = frozenset({"mainland_resident", "declaration_signed", "passed"})


@lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    """``:name`` (sqlite3's named style) to ``%(name)s`` (psycopg's)."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql.replace("%", "%%"))


class Driver:
    """The raw cursor of one SQLAlchemy connection, with the two dialects' differences."""

    def __init__(self, conn: Connection) -> None:
        raw = conn.connection.driver_connection
        assert raw is not None
        self.__init_raw(raw, conn.dialect.name == "postgresql")

    @classmethod
    def of(cls, raw: Any, *, pg: bool) -> Driver:
        """A driver on a DB-API connection checked out of the pool without a SQLAlchemy
        `Connection` (the transition path: the wrapper costs more than the statements)."""
        self = cls.__new__(cls)
        self.__init_raw(raw, pg)
        return self

    def __init_raw(self, raw: Any, pg: bool) -> None:
        self.pg = pg
        self.raw = raw
        self.cursor: Any = raw.cursor()

    def sql(self, text: str) -> str:
        return _pyformat(text) if self.pg else text

    def param(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            if self.pg:
                from psycopg.types.json import Json

                return Json(value)
            return json.dumps(value)
        return value

    def execute(self, text: str, params: Mapping[str, Any], *, adapt: bool = False) -> Any:
        """Run one statement; ``adapt`` converts dict and list values to JSON first."""
        if adapt:
            params = {k: self.param(v) for k, v in params.items()}
        self.cursor.execute(self.sql(text), params)
        return self.cursor

    def all(self, text: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        cur = self.execute(text, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def executemany(self, text: str, rows: Iterable[Mapping[str, Any]]) -> None:
        self.cursor.executemany(self.sql(text), list(rows))

    def one(
        self, text: str, params: Mapping[str, Any], *, decode: frozenset[str] = JSON_COLUMNS
    ) -> dict[str, Any] | None:
        """One row as a dict; the JSON columns named in ``decode`` parsed, booleans as bool."""
        cur = self.execute(text, params)
        row = cur.fetchone()
        if row is None:
            return None
        names = [d[0] for d in cur.description]
        values = dict(zip(names, row, strict=True))
        for name in decode.intersection(values):
            if isinstance(values[name], str):
                values[name] = json.loads(values[name])
        for name in BOOL_COLUMNS.intersection(values):
            if values[name] is not None:
                values[name] = bool(values[name])
        return values

    def insert_returning_id(self, text: str, params: Mapping[str, Any]) -> int:
        row = self.execute(text + " RETURNING id", params).fetchone()
        return int(row[0])
