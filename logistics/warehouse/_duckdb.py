"""The embedded warehouse: one DuckDB file standing in for BigQuery.

Locking rule: one read-write process at a time, and a writer excludes all readers.
So connections here are short-lived (open, work, close); the pipeline stages files
and one step loads them; the API reads a private snapshot copy, taken under a read-only attach.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from logistics.warehouse._schema import TableDef, managed_tables
from logistics.warehouse._sql import Renames, prepare

if TYPE_CHECKING:
    import pandas as pd

_LOCK_RETRY_SECONDS = 30.0


class DuckDBWarehouse:
    dialect = "duckdb"

    def __init__(self, connection: duckdb.DuckDBPyConnection, *, datasets: Mapping[str, str]) -> None:
        self._con = connection
        self._datasets = tuple(sorted(datasets.items()))
        self.statements_run = 0  # observable query count (DataLoader tests assert on it)

    def physical(self, dataset: str) -> str:
        return dict(self._datasets).get(dataset, dataset)

    def render(self, sql: str, *, renames: Renames = ()) -> str:
        return prepare(sql, dialect="duckdb", datasets=self._datasets, renames=renames)

    def query(
        self, sql: str, params: Mapping[str, Any] | None = None, *, renames: Renames = ()
    ) -> list[dict[str, Any]]:
        cursor = self._run(self.render(sql, renames=renames), params)
        if cursor.description is None:
            return []
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: Mapping[str, Any] | None = None, *, renames: Renames = ()) -> None:
        for statement in self.render(sql, renames=renames).split(";\n"):
            self._run(statement, _used(statement, params))

    def dataframe(self, sql: str, params: Mapping[str, Any] | None = None, *, renames: Renames = ()) -> pd.DataFrame:
        """One SELECT as a pandas DataFrame (columnar fetch: what the quality gate validates)."""
        rendered = self.render(sql, renames=renames)
        return self._run(rendered, _used(rendered, params)).df()

    def _run(self, sql: str, params: Mapping[str, Any] | None) -> duckdb.DuckDBPyConnection:
        self.statements_run += 1
        return self._con.execute(sql, dict(params) if params else None)

    def ensure_tables(self) -> None:
        """Create the contract-owned tables (silver, DLQ, bronze backup) if missing, and add the
        NULLABLE columns a newer generated schema has (as BigQuery takes them: at the end)."""
        existing: dict[tuple[str, str], set[str]] = {}
        for schema, table, column in self._con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns"
        ).fetchall():
            existing.setdefault((schema, table), set()).add(column)
        for table in managed_tables():
            schema = self.physical(table.dataset)
            self._con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            for statement in table.duckdb_ddl(schema):
                self._con.execute(statement)
            columns = existing.get((schema, table.name))
            for statement in table.duckdb_added_columns(schema, columns) if columns else ():
                self._con.execute(statement)
        for dataset in ("curated", "features"):
            self._con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.physical(dataset)}"')

    def load_json_files(self, table: TableDef, files: Sequence[Path | str], *, key: str) -> tuple[int, int]:
        """Insert rows from newline-delimited JSON files, skipping keys already present.

        Returns ``(inserted, skipped)``: skipped rows were already in the table (a replay).
        """
        if not files:
            return 0, 0
        target = f'"{self.physical(table.dataset)}"."{table.name}"'
        columns = table.duckdb_columns()
        source = f"read_json({[str(f) for f in files]!r}, format='newline_delimited', columns={columns!r})"
        window = table.key_window
        span = f'min(s."{window.column}"), max(s."{window.column}")' if window else "NULL, NULL"
        summary = self._con.execute(f"SELECT count(*), {span} FROM {source} s").fetchone()
        staged, first, last = summary or (0, None, None)
        before = self._con.execute(f"SELECT count(*) FROM {target}").fetchone()
        quoted = ", ".join(f'"{c}"' for c in columns)
        earlier = f't."{key}" = s."{key}"'
        params: dict[str, Any] | None = None
        if window and first is not None:  # only the row groups that can hold these keys are read
            earlier += f' AND t."{window.column}" BETWEEN $first AND $last'
            low, high = window.around(first, last)
            params = {"first": low, "last": high}
        self._con.execute(
            f"INSERT INTO {target} ({quoted}) SELECT {quoted} FROM {source} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {earlier}) "
            f'QUALIFY row_number() OVER (PARTITION BY s."{key}") = 1',
            params,
        )
        after = self._con.execute(f"SELECT count(*) FROM {target}").fetchone()
        inserted = (int(after[0]) if after else 0) - (int(before[0]) if before else 0)
        return inserted, int(staged) - inserted

    def close(self) -> None:
        self._con.close()


def _used(statement: str, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """DuckDB rejects unused named parameters: pass each statement only the ones it uses."""
    if not params:
        return None
    # whole names only: $carrier_id must not match inside $carrier_ids
    return {k: v for k, v in params.items() if re.search(rf"\${re.escape(k)}\b", statement)} or None


@contextmanager
def open_duckdb(path: Path, *, datasets: Mapping[str, str], read_only: bool) -> Iterator[DuckDBWarehouse]:
    """Open the file briefly; wait (bounded) while another process holds the write lock."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `logistics run-pipeline` (or `make demo`) first")
    deadline = time.monotonic() + _LOCK_RETRY_SECONDS
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    con.execute("SET TimeZone = 'UTC'")
    warehouse = DuckDBWarehouse(con, datasets=datasets)
    try:
        yield warehouse
    finally:
        warehouse.close()
