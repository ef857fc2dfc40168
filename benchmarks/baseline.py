"""Today's versions of functions the pipeline has since replaced, kept only as the benchmarks'
baseline ("before" contenders), so their figures stay what the replaced code costs. Nothing under
``pipeline/`` or ``logistics/`` imports this module.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Staged silver/DLQ rows as JSON lines and their load (replaced by Parquet staging:
# pipeline/sinks/silver.py, logistics/warehouse/columnar.py). Moved verbatim; the DuckDB
# backend's ``load_json_files``, ``merge_rows`` and ``_merge`` methods became functions of the
# warehouse, and ``recount_windows`` (pipeline/windows/event_counts.py) calls this ``merge_rows``.
# ---------------------------------------------------------------------------------------------
import datetime as dt
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import orjson
from apache_beam.io.filesystems import FileSystems

from logistics.warehouse import TableDef, Warehouse, dlq_table, silver_tables
from logistics.warehouse.duckdb_backend import DuckDBWarehouse
from pipeline.ledger import Ledger, record
from pipeline.sinks.silver import _SILVER, WINDOWS, LoadResult, staged_windows
from pipeline.windows.event_counts import RECOUNT, _recount_sql, count_row, window_start


def row_line(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)


class StagedTables:
    """One writer's staged rows: ``<staging>/<table>/<name>.jsonl`` per table, opened on first row,
    and ``<staging>/_windows/<name>.json``: the windows its silver rows fall in."""

    def __init__(self, *, staging_dir: str, name: str, window_seconds: int) -> None:
        self._root, self._name, self._window_seconds = staging_dir.rstrip("/"), name, window_seconds
        self._files: dict[str, IO[bytes]] = {}
        self._windows: set[dt.datetime] = set()

    def add(self, table: str, row: dict[str, Any]) -> None:
        fh = self._files.get(table)
        if fh is None:
            # Deterministic name: a retried writer overwrites its own file.
            fh = self._files[table] = FileSystems.create(f"{self._root}/{table}/{self._name}.jsonl")
        fh.write(row_line(row))
        if table in _SILVER:
            self._windows.add(window_start(row["event_time"], window_seconds=self._window_seconds))

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()
        if self._windows:
            with FileSystems.create(f"{self._root}/{WINDOWS}/{self._name}.json") as fh:
                fh.write(orjson.dumps(sorted(self._windows), option=orjson.OPT_UTC_Z))
            self._windows.clear()


def staged_files(staging_dir: str, table: str) -> list[str]:
    """Non-empty staged files of ``table`` (a local folder or any Beam filesystem URI)."""
    matches = FileSystems.match([f"{staging_dir.rstrip('/')}/{table}/*.jsonl"])[0].metadata_list
    return sorted(m.path for m in matches if m.size_in_bytes > 0)


def load_json_files(warehouse: DuckDBWarehouse, table: TableDef, files: Sequence[Path | str]) -> tuple[int, int]:
    """Insert rows from newline-delimited JSON files, skipping rows whose key is already present
    (insert-if-absent) or replacing older ones (an upsert table, ``table.newer_by``).

    Returns ``(written, skipped)``: skipped rows were already in the table (a replay) or repeated
    a key within the files.
    """
    if not files:
        return 0, 0
    columns = table.duckdb_columns()
    source = f"read_json({[str(f) for f in files]!r}, format='newline_delimited', columns={columns!r})"
    return _merge(warehouse, table, source)


def _merge(self: DuckDBWarehouse, table: TableDef, source: str) -> tuple[int, int]:
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


def merge_rows(warehouse: DuckDBWarehouse, table: TableDef, rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """:meth:`load_json_files` for rows in memory (the streaming sinks' batches)."""
    if not rows:
        return 0, 0
    with tempfile.TemporaryDirectory(prefix="logistics-rows-") as scratch:
        path = Path(scratch) / f"{table.name}.jsonl"
        with path.open("wb") as fh:
            for row in rows:
                fh.write(orjson.dumps(row, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE))
        return load_json_files(warehouse, table, [path])


def recount_windows(warehouse: DuckDBWarehouse, starts: Iterable[dt.datetime], *, window_seconds: int) -> int:
    """Recount the given windows from silver and upsert their rows; returns the rows written."""
    from logistics.warehouse import event_counts_table

    windows = sorted(set(starts))
    if not windows:
        return 0
    rows = warehouse.query(
        _recount_sql(),
        {
            "first": windows[0],
            "last": windows[-1] + dt.timedelta(seconds=window_seconds),
            "window_micros": window_seconds * 1_000_000,
            "windows": windows,
        },
    )
    counted = [
        count_row(
            start=r["window_start"],
            window_seconds=window_seconds,
            event_type=r["event_type"],
            facility_id=r["facility_id"],
            event_count=int(r["event_count"]),
            pane_index=0,
            pane_timing=RECOUNT,
        )
        for r in rows
    ]
    return merge_rows(warehouse, event_counts_table(), counted)[0]


def load_staged(
    warehouse: Warehouse,
    staging_dir: str,
    *,
    window_seconds: int,
    counted: Ledger | None = None,
    input: str | None = None,
) -> LoadResult:
    """Load every staged table (the single writer step), then recount the windows it touched.

    ``counted``: the run's ledger so far (received, duplicates, alerts), completed with what the
    load wrote and recorded (:mod:`pipeline.ledger`) in the same transaction as the rows."""
    assert isinstance(warehouse, DuckDBWarehouse), "the baseline loads DuckDB only"
    warehouse.ensure_tables()
    result = LoadResult()
    with warehouse.transaction():  # a run's silver and DLQ rows, and its ledger, become visible together (DuckDB)
        for table in [*silver_tables().values(), dlq_table()]:
            written, skipped = load_json_files(warehouse, table, staged_files(staging_dir, table.name))
            result.inserted[table.name] = written
            result.already_present[table.name] = skipped
        if counted is not None:
            record(warehouse, result.completed(counted), input=input)
    result.windows_recounted = recount_windows(warehouse, staged_windows(staging_dir), window_seconds=window_seconds)
    return result
