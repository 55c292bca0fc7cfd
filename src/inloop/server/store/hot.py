"""Hot statements: the few that run on every answer and every step, executed straight on
the driver's cursor.

SQLAlchemy's per-call execution machinery (execution context, parameter construction,
event dispatch, result set-up) costs about four times what SQLite takes to run a small
statement: on the answer-to-resume path it was most of the server's CPU. A
``HotStatement`` is a Core statement compiled once per dialect; each call applies
SQLAlchemy's own bind processors to the parameters, runs the SQL on the transaction's
DBAPI cursor, and applies SQLAlchemy's own result processors to the rows. So the SQL, the
types (UTC datetimes, JSON) and the transaction are SQLAlchemy's; only the per-call
overhead is gone.

Not for statements with expanding (``IN``) parameters: write one per shape instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Prepared:
    sql: str
    names: tuple[str, ...]  # bind names, in placeholder order for positional drivers
    keys: tuple[str, ...]  # the placeholders' names for named (pyformat) drivers
    defaults: Mapping[str, Any]  # values bound in the statement itself (literals)
    bind: Mapping[str, Callable[[Any], Any]]
    columns: tuple[str, ...]  # the result's column names (RETURNING or SELECT), if any
    results: tuple[Processor, ...]
    positional: bool


class HotStatement:
    """A Core statement executed on the DBAPI cursor with SQLAlchemy's type processing."""

    def __init__(
        self, statement: ClauseElement, *, column_keys: Sequence[str] | None = None
    ) -> None:
        """``column_keys``: for an INSERT or UPDATE without ``values()``, the columns its
        VALUES or SET clause takes (their parameters are named after them)."""
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._prepared: dict[str, _Prepared] = {}

    def _prepare(self, dialect: Dialect) -> _Prepared:
        compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
        assert isinstance(compiled, SQLCompiler)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise TypeError("a HotStatement cannot take expanding (IN) parameters")
        names = tuple(compiled.positiontup or ()) if dialect.positional else tuple(compiled.binds)
        escaped = compiled.escaped_bind_names
        columns = tuple(entry[0] for entry in compiled._result_columns)
        results = tuple(
            entry[3]._cached_result_processor(dialect, None) for entry in compiled._result_columns
        )
        return _Prepared(
            sql=compiled.string,
            names=names,
            keys=tuple(escaped.get(name, name) for name in names),
            defaults={name: compiled.binds[name].value for name in names},
            bind={k: v for k, v in compiled._bind_processors.items() if callable(v)},
            columns=columns,
            results=results,
            positional=bool(dialect.positional),
        )

    def _run(self, conn: Connection, params: Mapping[str, Any]) -> tuple[_Prepared, Any]:
        dialect = conn.dialect
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            prepared = self._prepared[dialect.name] = self._prepare(dialect)
        values = []
        for name in prepared.names:
            value = params[name] if name in params else prepared.defaults[name]
            process = prepared.bind.get(name)
            values.append(value if process is None else process(value))
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if prepared.positional:
            cursor.execute(prepared.sql, values)
        else:
            cursor.execute(prepared.sql, dict(zip(prepared.keys, values, strict=True)))
        return prepared, cursor

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row the statement returns, as column name -> value."""
        prepared, cursor = self._run(conn, params)
        try:
            return [_row(prepared, raw) for raw in cursor.fetchall()]
        finally:
            cursor.close()

    def first(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row, or None."""
        prepared, cursor = self._run(conn, params)
        try:
            raw = cursor.fetchone()
            return None if raw is None else _row(prepared, raw)
        finally:
            cursor.close()

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """How many rows the statement changed."""
        _, cursor = self._run(conn, params)
        try:
            count: int = cursor.rowcount
            return count
        finally:
            cursor.close()


def _row(prepared: _Prepared, raw: Any) -> dict[str, Any]:
    return {
        name: value if process is None else process(value)
        for name, process, value in zip(prepared.columns, prepared.results, raw, strict=True)
    }
