"""The embedded warehouse: one DuckDB file standing in for BigQuery.

Locking rule: one read-write process at a time, and a writer excludes all readers.
So connections here are short-lived (open, work, close); the pipeline stages files
and one step loads them; the API reads a private snapshot copy, taken under a read-only attach.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

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
        self._in_transaction = False

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

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Another connection to this same database (DuckDB's cursor), for a second client in this
        process that must see what this one wrote, e.g. the quality gate's SQLAlchemy engine."""
        return self._con.cursor()

    def ensure_tables(self) -> None:
        """Create the contract-owned tables (silver, DLQ, bronze backup) if missing."""
        for table in managed_tables():
            schema = self.physical(table.dataset)
            self._con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            for statement in table.duckdb_ddl(schema):
                self._con.execute(statement)
            rows = self._con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = $s AND table_name = $t",
                {"s": schema, "t": table.name},
            ).fetchall()
            for column in table.added_columns({r[0] for r in rows}):
                kind = table.duckdb_columns()[column["name"]]
                self._con.execute(f'ALTER TABLE "{schema}"."{table.name}" ADD COLUMN "{column["name"]}" {kind}')
        for dataset in ("curated", "features"):
            self._con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.physical(dataset)}"')

    def load_json_files(self, table: TableDef, files: Sequence[Path | str]) -> tuple[int, int]:
        """Insert rows from newline-delimited JSON files, skipping rows whose key is already present
        (insert-if-absent) or replacing older ones (an upsert table, ``table.newer_by``).

        Returns ``(written, skipped)``: skipped rows were already in the table (a replay) or repeated
        a key within the files.
        """
        if not files:
            return 0, 0
        columns = table.duckdb_columns()
        source = f"read_json({[str(f) for f in files]!r}, format='newline_delimited', columns={columns!r})"
        return self._merge(table, source)

    def merge_rows(self, table: TableDef, rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
        """:meth:`load_json_files` for rows in memory (the streaming sinks' batches)."""
        if not rows:
            return 0, 0
        with tempfile.TemporaryDirectory(prefix="logistics-rows-") as scratch:
            path = Path(scratch) / f"{table.name}.jsonl"
            with path.open("wb") as fh:
                for row in rows:
                    fh.write(orjson.dumps(row, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE))
            return self.load_json_files(table, [path])

    def _merge(self, table: TableDef, source: str) -> tuple[int, int]:
        target = f'"{self.physical(table.dataset)}"."{table.name}"'
        key, window, same = table.key, table.key_window, table.same_event_within
        quoted = ", ".join(f'"{c}"' for c in table.columns)
        # Repeats within the load: one row per key (per key and event time for silver, where two
        # copies of an id far apart in event time are two events), the newest for an upsert table.
        per_key = f'"{key}", "{same.time_column}"' if same else f'"{key}"'
        newest = f' ORDER BY "{table.newer_by}" DESC' if table.newer_by else ""
        with self.transaction():
            self._con.execute(f"CREATE OR REPLACE TEMP TABLE _arriving AS SELECT {quoted} FROM {source}")
            self._con.execute(
                "CREATE OR REPLACE TEMP TABLE _incoming AS SELECT * FROM _arriving "
                f"QUALIFY row_number() OVER (PARTITION BY {per_key}{newest}) = 1"
            )
            span = f'min("{window.column}"), max("{window.column}")' if window else "NULL, NULL"
            # Every arriving row counts (repeats within the load are skipped rows too).
            summary = self._con.execute(f"SELECT count(*), {span} FROM _arriving").fetchone()
            staged, first, last = summary or (0, None, None)
            match = f't."{key}" = s."{key}"'
            params: dict[str, Any] | None = None
            if window and first is not None:  # only the row groups that can hold these keys are read
                match += f' AND t."{window.column}" BETWEEN $first AND $last'
                params = dict(zip(("first", "last"), window.around(first, last), strict=True))
            if same:
                at, ttl_hours = f'"{same.time_column}"', same.hours_sql(f's."{same.type_column}"')
                match += f" AND abs(epoch_us(t.{at}) - epoch_us(s.{at})) < {ttl_hours} * 3600000000"
            if table.newer_by:  # an upsert: older rows with these keys make way, then every absent key is inserted
                newer = f'"{table.newer_by}"'
                self._run(f"DELETE FROM {target} t USING _incoming s WHERE {match} AND t.{newer} <= s.{newer}", params)
            inserted = self._count(
                f"INSERT INTO {target} ({quoted}) SELECT {quoted} FROM _incoming s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {match})",
                params,
            )
            self._con.execute("DROP TABLE _incoming")
            self._con.execute("DROP TABLE _arriving")
        return inserted, int(staged) - inserted

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all (nested blocks join the outer one)."""
        if self._in_transaction:
            yield
            return
        self._con.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        else:
            self._con.execute("COMMIT")
        finally:
            self._in_transaction = False

    def _count(self, sql: str, params: Mapping[str, Any] | None) -> int:
        """Run an INSERT or DELETE; the rows it changed."""
        result = self._run(sql, params).fetchone()
        return int(result[0]) if result else 0

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
